"""The rules of DOMAIN.md as vectorised functions over candidate (referral, site) pairs.

Hard rules (:data:`HARD_RULES`, in funnel order) each return a mask of the pairs they allow; the
first rule a referral's best pair fails names its unplaced reason, and the first rule a preferred
provider fails names why the member did not get it. Soft terms (:data:`SOFT_TERMS`, in tier order)
each return one integer term per pair; :mod:`matcher.weights` turns them into a cost.

Tables hold MatchData as sorted code arrays, so the same data in any order builds the same problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
from matcher.distance import haversine_pairs
from matcher.reasons import PreferenceMissReason, UnplacedReason
from matcher.weights import MAX_TRAVEL_TERM, TIERS, UNRANKED

__all__ = [
    "HARD_RULES",
    "SOFT_TERMS",
    "HardRule",
    "Pairs",
    "Tables",
    "candidate_pairs",
    "continuity",
    "exclusions",
    "fit",
    "preference",
    "required_language",
    "service_area",
    "stability",
    "travel",
    "travel_standard",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
MaskArray = npt.NDArray[np.uint64]

#: Miles per degree of latitude (a lower bound is all the radius prefilter needs).
_MILES_PER_DEGREE = 68.7


def _codes(values: Sequence[str], vocabulary: dict[str, int]) -> IntArray:
    return np.fromiter((vocabulary[v] for v in values), dtype=np.int64, count=len(values))


def _vocabulary(*groups: Iterable[str]) -> dict[str, int]:
    words: set[str] = set()
    for group in groups:
        words.update(group)
    return {w: i for i, w in enumerate(sorted(words))}


def _masks(sets: Sequence[Sequence[str] | frozenset[str]], vocabulary: dict[str, int]) -> MaskArray:
    """Bit sets over the vocabulary, 64 words to a column, so set overlap is one AND."""
    columns = max(1, -(-len(vocabulary) // 64))
    masks = np.zeros((len(sets), columns), dtype=np.uint64)
    for row, words in enumerate(sets):
        for word in words:
            code = vocabulary[word]
            masks[row, code // 64] |= np.uint64(1 << (code % 64))
    return masks


def _keys(pairs: Sequence[tuple[int, int]], width: int) -> IntArray:
    keys = np.fromiter((r * width + p for r, p in pairs), dtype=np.int64, count=len(pairs))
    keys.sort()
    return keys


def _provider_in(t: Tables, p: Pairs, sorted_keys: IntArray) -> BoolArray:
    """Whether each pair's (referral, provider) is in ``sorted_keys``, looked up only for the
    referrals that have a key at all (a few in a hundred: exclusions, prior providers)."""
    found = np.zeros(len(p), dtype=bool)
    if sorted_keys.size == 0 or len(p) == 0:
        return found
    has = np.zeros(len(t.referrals), dtype=bool)
    has[sorted_keys // t.n_providers] = True
    rows = np.flatnonzero(has[p.referral])
    found[rows] = _member(sorted_keys, p.provider_keys(t, rows))
    return found


def _member(sorted_keys: IntArray, query: IntArray) -> BoolArray:
    """``query in sorted_keys``, element-wise, by binary search."""
    if sorted_keys.size == 0:
        return np.zeros(query.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.size - 1)
    return np.asarray(sorted_keys[pos] == query)


@dataclass(frozen=True, eq=False)
class Tables:
    """MatchData as sorted arrays of integer codes (referrals, sites, contracts by id)."""

    referrals: tuple[ReferralDemand, ...]
    sites: tuple[ServiceSite, ...]
    contracts: tuple[ContractPool, ...]
    providers: tuple[str, ...]
    services: dict[str, int]
    counties: dict[str, int]
    ref_service: IntArray
    ref_county: IntArray
    ref_lat: FloatArray
    ref_lon: FloatArray
    ref_required: IntArray
    ref_spoken: MaskArray
    ref_has_spoken: BoolArray
    ref_culture: MaskArray
    ref_has_culture: BoolArray
    ref_max_travel: FloatArray
    ref_current: IntArray
    ref_accepted: BoolArray
    ref_has_preferences: BoolArray
    ref_has_prior: BoolArray
    site_service: IntArray
    site_provider: IntArray
    site_lat: FloatArray
    site_lon: FloatArray
    site_based: BoolArray
    site_radius: FloatArray
    site_counties: BoolArray
    site_language: BoolArray
    site_spoken: MaskArray
    site_culture: MaskArray
    site_contract: IntArray
    excluded_keys: IntArray
    prior_keys: IntArray
    preference_keys: IntArray
    preference_ranks: IntArray
    provider_service_keys: IntArray

    @classmethod
    def from_data(cls, data: MatchData) -> Tables:
        refs = tuple(sorted(data.referrals, key=lambda r: r.referral_id))
        sites = tuple(sorted(data.sites, key=lambda s: s.site_id))
        contracts = tuple(sorted(data.contracts, key=lambda c: c.contract_id))
        providers = _vocabulary(
            (s.provider_id for s in sites),
            *(r.preferred_providers for r in refs),
            *(r.excluded_providers for r in refs),
            *(r.prior_providers for r in refs),
        )
        services = _vocabulary((r.service for r in refs), (s.service for s in sites))
        counties = _vocabulary((r.county for r in refs), *(s.counties for s in sites))
        languages = _vocabulary(
            (r.required_language for r in refs if r.required_language is not None),
            *(r.languages for r in refs),
            *(s.languages for s in sites),
        )
        cultures = _vocabulary(*(r.cultural_preferences for r in refs), *(s.cultural_competencies for s in sites))
        site_index = {s.site_id: i for i, s in enumerate(sites)}
        contract_index = {c.contract_id: i for i, c in enumerate(contracts)}
        n_prov = max(len(providers), 1)
        # "beyond the required language": the member's other spoken languages
        spoken = [tuple(x for x in r.languages if x != r.required_language) for r in refs]
        site_language = np.zeros((len(sites), max(len(languages), 1)), dtype=bool)
        for i, s in enumerate(sites):
            site_language[i, [languages[x] for x in s.languages]] = True
        site_counties = np.zeros((len(sites), max(len(counties), 1)), dtype=bool)
        for i, s in enumerate(sites):
            site_counties[i, [counties[x] for x in s.counties]] = True
        prefs = [(i, providers[p], rank) for i, r in enumerate(refs) for rank, p in enumerate(r.preferred_providers)]
        pref_keys = np.array([i * n_prov + p for i, p, _ in prefs], dtype=np.int64)
        pref_ranks = np.array([rank for _, _, rank in prefs], dtype=np.int64)
        order = np.argsort(pref_keys, kind="stable")
        return cls(
            referrals=refs,
            sites=sites,
            contracts=contracts,
            providers=tuple(providers),
            services=services,
            counties=counties,
            ref_service=_codes([r.service for r in refs], services),
            ref_county=_codes([r.county for r in refs], counties),
            ref_lat=np.array([r.latitude for r in refs], dtype=np.float64),
            ref_lon=np.array([r.longitude for r in refs], dtype=np.float64),
            ref_required=np.array(
                [-1 if r.required_language is None else languages[r.required_language] for r in refs],
                dtype=np.int64,
            ),
            ref_spoken=_masks(spoken, languages),
            ref_has_spoken=np.array([bool(x) for x in spoken], dtype=bool),
            ref_culture=_masks([r.cultural_preferences for r in refs], cultures),
            ref_has_culture=np.array([bool(r.cultural_preferences) for r in refs], dtype=bool),
            ref_max_travel=np.array(
                [np.nan if r.max_travel_miles is None else r.max_travel_miles for r in refs], dtype=np.float64
            ),
            ref_current=np.array(
                [-1 if r.current_site is None else site_index[r.current_site] for r in refs], dtype=np.int64
            ),
            ref_accepted=np.array([r.accepted for r in refs], dtype=bool),
            ref_has_preferences=np.array([bool(r.preferred_providers) for r in refs], dtype=bool),
            ref_has_prior=np.array([bool(r.prior_providers) for r in refs], dtype=bool),
            site_service=_codes([s.service for s in sites], services),
            site_provider=_codes([s.provider_id for s in sites], providers),
            site_lat=np.array([s.latitude for s in sites], dtype=np.float64),
            site_lon=np.array([s.longitude for s in sites], dtype=np.float64),
            site_based=np.array([s.site_based for s in sites], dtype=bool),
            site_radius=np.array(
                [np.nan if s.service_radius_miles is None else s.service_radius_miles for s in sites],
                dtype=np.float64,
            ),
            site_counties=site_counties,
            site_language=site_language,
            site_spoken=_masks([s.languages for s in sites], languages),
            site_culture=_masks([s.cultural_competencies for s in sites], cultures),
            site_contract=np.array([contract_index[s.contract_id] for s in sites], dtype=np.int64),
            excluded_keys=_keys([(i, providers[p]) for i, r in enumerate(refs) for p in r.excluded_providers], n_prov),
            prior_keys=_keys([(i, providers[p]) for i, r in enumerate(refs) for p in r.prior_providers], n_prov),
            preference_keys=pref_keys[order],
            preference_ranks=pref_ranks[order],
            provider_service_keys=np.unique(
                np.array([providers[s.provider_id] * max(len(services), 1) + services[s.service] for s in sites],
                         dtype=np.int64)
            ),
        )

    @property
    def n_providers(self) -> int:
        return max(len(self.providers), 1)


@dataclass(frozen=True, eq=False)
class Pairs:
    """Candidate (referral, site) pairs with their straight-line distance."""

    referral: IntArray
    site: IntArray
    miles: FloatArray

    def __len__(self) -> int:
        return len(self.referral)

    def take(self, index: IntArray | BoolArray) -> Pairs:
        return Pairs(self.referral[index], self.site[index], self.miles[index])

    def provider_keys(self, t: Tables, rows: IntArray | None = None) -> IntArray:
        """``referral * n_providers + provider`` per pair (or per pair of ``rows`` only), to look up
        per-member provider lists."""
        referral, site = (self.referral, self.site) if rows is None else (self.referral[rows], self.site[rows])
        return referral * t.n_providers + t.site_provider[site]


# -- Hard rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HardRule:
    """One hard rule: the pairs it allows, its policy section, and what failing it is called."""

    name: str
    policy: str
    miss: PreferenceMissReason
    unplaced: UnplacedReason
    allows: Callable[[Tables, Pairs], BoolArray]


HARD_RULES: list[HardRule] = []


def hard_rule(
    policy: str, *, miss: PreferenceMissReason, unplaced: UnplacedReason
) -> Callable[[Callable[[Tables, Pairs], BoolArray]], Callable[[Tables, Pairs], BoolArray]]:
    """Register a pair rule in funnel order, with the policy section it enforces."""

    def register(allows: Callable[[Tables, Pairs], BoolArray]) -> Callable[[Tables, Pairs], BoolArray]:
        HARD_RULES.append(HardRule(allows.__name__, policy, miss, unplaced, allows))
        return allows

    return register


def candidate_pairs(t: Tables, referrals: IntArray) -> Pairs:
    """Service match (7003 VI.A, VI.F): pairs only with sites contracted for the referral's service.

    Pairs come grouped by referral, each referral's sites in ascending order.

    Grouped by (service, county): each group gets the sites serving that county, plus the
    site-based sites whose radius could reach the group's bounding box. Everything else is out of
    area for certain, so it is never materialised.
    """
    if referrals.size == 0 or len(t.sites) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty, np.zeros(0, dtype=np.float64))
    n_counties = t.site_counties.shape[1]
    group = t.ref_service[referrals] * n_counties + t.ref_county[referrals]
    order = np.argsort(group, kind="stable")
    members = referrals[order]
    groups, starts = np.unique(group[order], return_index=True)
    ends = np.append(starts[1:], members.size)
    has_radius = t.site_based & ~np.isnan(t.site_radius)
    # First the sites of each group, then the pairs written straight into preallocated columns,
    # group by group (a statewide plan has tens of millions of pairs: no lists to concatenate,
    # and the distance temporaries are per group).
    chosen: list[tuple[IntArray, IntArray]] = []
    for g, lo, hi in zip(groups.tolist(), starts.tolist(), ends.tolist(), strict=True):
        service, county = divmod(g, n_counties)
        of_service = t.site_service == service
        sites = np.flatnonzero(of_service & t.site_counties[:, county])
        reach = np.flatnonzero(of_service & has_radius & ~t.site_counties[:, county])
        rows = members[lo:hi]
        if reach.size:
            lat, lon = t.ref_lat[rows], t.ref_lon[rows]
            dlat = np.maximum(0.0, np.maximum(lat.min() - t.site_lat[reach], t.site_lat[reach] - lat.max()))
            coslat = np.cos(np.radians(np.maximum(np.abs(lat).max(), np.abs(t.site_lat[reach]))))
            dlon = np.maximum(0.0, np.maximum(lon.min() - t.site_lon[reach], t.site_lon[reach] - lon.max()))
            lower_bound = np.maximum(dlat, dlon * coslat) * _MILES_PER_DEGREE
            sites = np.sort(np.concatenate([sites, reach[lower_bound <= t.site_radius[reach]]]))
        if sites.size:
            chosen.append((rows, sites))
    total = sum(rows.size * sites.size for rows, sites in chosen)
    r = np.empty(total, dtype=np.int64)
    s = np.empty(total, dtype=np.int64)
    miles = np.empty(total, dtype=np.float64)
    at = 0
    for rows, sites in chosen:
        end = at + rows.size * sites.size
        r[at:end] = np.repeat(rows, sites.size)
        s[at:end] = np.tile(sites, rows.size)
        miles[at:end] = haversine_pairs(t.ref_lat, t.ref_lon, r[at:end], t.site_lat, t.site_lon, s[at:end])
        at = end
    return Pairs(r, s, miles)


@hard_rule("7003 VI.E.5; DOMAIN.md service area", miss=PreferenceMissReason.OUT_OF_AREA,
           unplaced=UnplacedReason.NO_PROVIDER_IN_AREA)
def service_area(t: Tables, p: Pairs) -> BoolArray:
    """The member lives in a county the site serves, or within the radius of site-based care."""
    in_county = t.site_counties[p.site, t.ref_county[p.referral]]
    radius = t.site_radius[p.site]
    in_radius = t.site_based[p.site] & ~np.isnan(radius) & (p.miles <= radius)
    return np.asarray(in_county | in_radius)


@hard_rule("DOMAIN.md soft 5: county-density travel standard", miss=PreferenceMissReason.TRAVEL,
           unplaced=UnplacedReason.BEYOND_TRAVEL_STANDARD)
def travel_standard(t: Tables, p: Pairs) -> BoolArray:
    """Site-based care lies within the member's county-density travel standard."""
    limit = t.ref_max_travel[p.referral]
    return np.asarray(~t.site_based[p.site] | np.isnan(limit) | (p.miles <= limit))


@hard_rule("7003 VI.B.4, DOMAIN.md: required language", miss=PreferenceMissReason.LANGUAGE,
           unplaced=UnplacedReason.REQUIRED_LANGUAGE_UNAVAILABLE)
def required_language(t: Tables, p: Pairs) -> BoolArray:
    """A language the member requires (interpreter-level need) is spoken by the site's staff."""
    required = t.ref_required[p.referral]
    spoken = t.site_language[p.site, np.maximum(required, 0)]
    return np.asarray((required < 0) | spoken)


@hard_rule("7003 VI.C.3.c: re-referred, not sent back", miss=PreferenceMissReason.EXCLUDED,
           unplaced=UnplacedReason.ALL_IN_AREA_EXCLUDED)
def exclusions(t: Tables, p: Pairs) -> BoolArray:
    """A provider that declined the member, or that the member refused, is not used again."""
    return ~_provider_in(t, p, t.excluded_keys)


# -- Soft terms (tier order) ---------------------------------------------------------------------


def preference(t: Tables, p: Pairs) -> IntArray:
    """Tier 2 (7003 VI.E.5.a): rank of the provider in the member's list; UNRANKED if absent."""
    ranked = np.flatnonzero(t.ref_has_preferences[p.referral])  # only members who ranked someone
    out = np.zeros(len(p), dtype=np.int64)
    out[ranked] = UNRANKED
    if t.preference_keys.size and ranked.size:
        keys = p.provider_keys(t, ranked)
        pos = np.minimum(np.searchsorted(t.preference_keys, keys), t.preference_keys.size - 1)
        found = t.preference_keys[pos] == keys
        out[ranked[found]] = np.minimum(t.preference_ranks[pos[found]], UNRANKED - 1)
    return out


def continuity(t: Tables, p: Pairs) -> IntArray:
    """Tier 3 (7003 VI.G.3.c): 1 when a member with a current or previous provider gets another."""
    return (t.ref_has_prior[p.referral] & ~_provider_in(t, p, t.prior_keys)).astype(np.int64)


def fit(t: Tables, p: Pairs) -> IntArray:
    """Tier 4 (7003 VI.E.4): +1 no spoken language shared, +1 no cultural preference met."""
    language = t.ref_has_spoken[p.referral] & ~np.any(t.ref_spoken[p.referral] & t.site_spoken[p.site], axis=1)
    culture = t.ref_has_culture[p.referral] & ~np.any(t.ref_culture[p.referral] & t.site_culture[p.site], axis=1)
    return language.astype(np.int64) + culture.astype(np.int64)


def travel(t: Tables, p: Pairs) -> IntArray:
    """Tier 5: whole miles to site-based care (capped); care at home travels nowhere."""
    miles = np.minimum(np.rint(p.miles), MAX_TRAVEL_TERM).astype(np.int64)
    return np.where(t.site_based[p.site], miles, 0)


def stability(t: Tables, p: Pairs) -> IntArray:
    """Tier 6: 1 when the arc would move a referral away from the site it is proposed to now."""
    current = t.ref_current[p.referral]
    return ((current >= 0) & (current != p.site)).astype(np.int64)


#: Soft term functions in :data:`matcher.weights.TIERS` order.
SOFT_TERMS: dict[str, Callable[[Tables, Pairs], IntArray]] = {
    "preference": preference,
    "continuity": continuity,
    "fit": fit,
    "travel": travel,
    "stability": stability,
}
assert tuple(SOFT_TERMS) == TIERS
