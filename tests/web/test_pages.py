"""Every page answers for the roles that use it, and shows what its users need."""

from __future__ import annotations

import pytest

from tests.web.conftest import World

PLAN_PAGES = [
    "/queue/", "/queue/?overdue=1", "/queue/?status=SENT&county=Humboldt&service=HOUSING_NAV", "/queue/?page=2",
    "/capacity/", "/capacity/changes", "/capacity/changes?county=Humboldt", "/providers/",
    "/providers/?q=Alder&county=Humboldt&service=HOUSING_NAV",
    "/reports/timeliness", "/reports/timeliness?by=county", "/reports/timeliness?by=service",
    "/reports/timeliness?by=provider", "/reports/gaps", "/reports/gaps?county=Humboldt&reason=ALL_IN_AREA_FULL",
    "/runs/", "/runs/?trigger=MANUAL",
]


@pytest.mark.parametrize("path", PLAN_PAGES)
def test_plan_pages_render(client, auth, world: World, path: str) -> None:
    auth.as_role("coordinator")
    response = client.get(path)
    assert response.status_code == 200, response.text[:500]
    assert "<h1>" in response.text


def test_pages_with_ids_render(client, auth, world: World) -> None:
    auth.as_role("coordinator")
    for path in (f"/queue/referrals/{world.sent_a.id}", f"/queue/proposals/{world.run.id}", f"/runs/{world.run.id}",
                 f"/providers/{world.provider_a.id}", f"/capacity/changes?provider={world.provider_a.id}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:800])


def test_portal_pages_render(client, auth, world: World) -> None:
    auth.as_role("provider", provider_id=world.provider_a.id)
    for path in ("/portal/", "/portal/capacity", f"/portal/referrals/{world.sent_a.id}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:800])


def test_assignment_reasons_show_the_placement_sentences_first(client, auth, db_session, world: World) -> None:
    world.assignment_a.reasons = {"explanation": ["Closest provider with room <2 mi>."], "cost": 12}
    db_session.flush()
    auth.as_role("coordinator")
    html = client.get(f"/queue/proposals/{world.run.id}").text
    assert "<li>Closest provider with room &lt;2 mi&gt;.</li>" in html
    assert "<summary>details</summary>" in html
