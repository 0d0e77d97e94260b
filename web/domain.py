"""Call sites into the placement services (propose, accept, override, decline, re-solve).

``placement.services`` is written by the lead; until it lands each call raises
:class:`ServiceUnavailable` and the pages and the API say so (503). Keeping every call here means
the web layer has one place to adapt when it does land, and no parallel implementation.
"""

from __future__ import annotations

import datetime as dt
import importlib
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session


class ServiceUnavailable(RuntimeError):
    """The domain service this action needs is not installed yet."""


def _placement() -> ModuleType:
    try:
        return importlib.import_module("placement.services")
    except ModuleNotFoundError as exc:
        if exc.name != "placement.services":
            raise
        raise ServiceUnavailable("placement.services is not available yet") from None


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    function = getattr(_placement(), name, None)
    if function is None:
        raise ServiceUnavailable(f"placement.services.{name} is not available yet")
    return function(*args, **kwargs)


# TODO(lead): align these five signatures with placement.services once it lands.
def propose(session: Session, *, actor: str, as_of: dt.date) -> Any:
    """Run the matcher over the open referrals and store a proposal; return its SolverRun."""
    return _call("propose", session, actor=actor, as_of=as_of)


def accept_proposal(session: Session, run_id: int, *, actor: str, as_of: dt.date) -> Any:
    """Send every still-proposed assignment of the run to its provider."""
    return _call("accept", session, run_id, actor=actor, as_of=as_of)


def override(session: Session, assignment_id: int, *, contract_id: str, site_id: str | None, reason: str,
             actor: str, as_of: dt.date) -> Any:
    """Replace one proposed assignment with the lead's choice, keeping the written reason."""
    return _call("override", session, assignment_id, contract_id=contract_id, site_id=site_id, reason=reason,
                 actor=actor, as_of=as_of)


def provider_accept(session: Session, assignment_id: int, *, actor: str, as_of: dt.date) -> Any:
    """The provider accepts a referral sent to it."""
    return _call("provider_accept", session, assignment_id, actor=actor, as_of=as_of)


def decline(session: Session, assignment_id: int, *, reason: str, note: str, actor: str, as_of: dt.date) -> Any:
    """The provider declines (at capacity, or another reason); the referral is re-solved."""
    return _call("decline", session, assignment_id, reason=reason, note=note, actor=actor, as_of=as_of)


def resolve_after_capacity_report(session: Session, recorded: Any, *, actor: str, as_of: dt.date) -> Any:
    """Re-solve the referrals a FULL or shrinking capacity report displaced; return the SolverRun."""
    return _call("resolve_after_capacity_report", session, recorded, actor=actor, as_of=as_of)


def refusals() -> tuple[type[Exception], ...]:
    """Errors by which a domain service refuses an action (shown to the user, nothing saved).

    TODO(lead): add placement.services' own error classes here once it lands.
    """
    from capacity.ledger import CapacityExceeded, UnknownContract
    from capacity.services import CapacityReportError
    from referrals.lifecycle import LifecycleError

    return (CapacityExceeded, UnknownContract, CapacityReportError, LifecycleError)
