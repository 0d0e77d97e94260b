"""Oversight and equity reports that compliance owes under MCAP7003 (VI.B.4, VI.C.3, VI.I.1).

* :mod:`reports.equity`: outcomes by member group, county, service and provider, with the
  four-fifths flag (:mod:`reports.fourfifths`). The only package that reads
  :class:`~referrals.models.MemberDemographics`: the matcher never does.
* :mod:`reports.oversight`: utilization, referral and timeliness reports.
* :mod:`reports.cli`: ``csmatch report equity|utilization|referrals|timeliness`` writing tidy CSVs.

Services take a Session, never write, and return DataFrames and plain dataclasses for the
dashboard to render; the CSV columns are documented in ``docs/reports.md``.
"""
