"""Solver runs: what triggered each, what changed, its figures."""
