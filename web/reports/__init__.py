"""Timeliness and network-gap reports."""
