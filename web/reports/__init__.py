"""Timeliness, network-gap, equity, utilization and referral reports."""

from web.reports import oversight as oversight  # registers its views on the ``reports`` blueprint
