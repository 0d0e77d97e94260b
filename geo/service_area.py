"""Is a member inside a provider's service area, and is a site within the travel standard?

Points are ``(latitude, longitude)``; in csmatch the member's point is the centroid of the member's
ZIP (:func:`geo.zips.lookup_zip`), so distances are ZIP-centroid to site, straight line.

Both checks are inclusive: a member exactly at the radius or exactly at the standard's miles is
inside.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from geo.distance import Point, miles_between
from geo.standards import travel_standard
from geo.zips import canonical_county

__all__ = ["in_service_area", "within_travel_standard"]


def in_service_area(
    member_county: str,
    member_point: Point | None,
    *,
    counties_served: Iterable[str],
    site_point: Point | None = None,
    radius_miles: float | None = None,
) -> bool:
    """Return whether a member lives inside a provider's service area (DOMAIN.md, hard rule 2).

    The member's county must be one of ``counties_served``; and where the provider limits
    site-based care to a radius around its site (``radius_miles`` given), the member's point must
    also be within that many miles of ``site_point`` (geodesic, inclusive). County names are
    compared case-insensitively, with or without " County".

    Raises
    ------
    UnknownCountyError
        If ``member_county`` or a served county is not a California county.
    ValueError
        If ``radius_miles`` is given without ``site_point`` or ``member_point``, or is negative.

    Examples
    --------
    >>> eureka, arcata = (40.7938, -124.1573), (40.8665, -124.0828)  # about 6.4 miles apart
    >>> in_service_area("Humboldt", eureka, counties_served=["Humboldt", "Del Norte"])
    True
    >>> in_service_area("Humboldt", eureka, counties_served=["Humboldt"], site_point=arcata, radius_miles=5)
    False
    >>> in_service_area("Humboldt", eureka, counties_served=["Humboldt"], site_point=arcata, radius_miles=10)
    True
    >>> in_service_area("Trinity", eureka, counties_served=["Humboldt"])
    False
    """
    served = {canonical_county(c) for c in counties_served}
    if canonical_county(member_county) not in served:
        return False
    if radius_miles is None:
        return True
    if not (math.isfinite(radius_miles) and radius_miles >= 0):
        raise ValueError(f"radius_miles {radius_miles!r} must be a finite number >= 0")
    if site_point is None:
        raise ValueError(f"radius_miles={radius_miles!r} needs the provider's site_point")
    if member_point is None:
        raise ValueError(f"radius_miles={radius_miles!r} needs the member's point; none given")
    return miles_between(member_point, site_point) <= radius_miles


def within_travel_standard(
    member_county: str,
    member_point: Point,
    site_point: Point,
    *,
    travel_minutes: float | None = None,
) -> bool:
    """Return whether a site meets the travel standard of the member's county.

    A standard reads "N miles or M minutes"; a site within either is compliant (data-exchange.md
    §7, A). csmatch has no routing, so distance is the straight-line geodesic from the member's
    point, which is never longer than the road: a site can pass here and still be farther by road.
    Give ``travel_minutes`` (from a routing source) to use the minutes arm as well.

    Raises
    ------
    UnknownCountyError, MissingCountyTierError
        If the member's county has no tier (see :func:`geo.standards.county_tier`).

    Examples
    --------
    >>> eureka, redding = (40.7938, -124.1573), (40.5605, -122.4116)
    >>> within_travel_standard("Humboldt", eureka, redding)  # rural: 60 mi; about 93 mi apart
    False
    >>> within_travel_standard("Humboldt", eureka, redding, travel_minutes=90)
    True
    """
    standard = travel_standard(member_county)
    if travel_minutes is not None and travel_minutes <= standard.minutes:
        return True
    return miles_between(member_point, site_point) <= standard.miles
