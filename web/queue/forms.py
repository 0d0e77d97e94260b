"""Reading the queue's filters from a query string (shared by the pages and the API)."""

from __future__ import annotations

from collections.abc import Mapping

from referrals.models import ReferralStatus
from web.common import ArgError, choice_arg
from web.queue.services import QueueFilters

TRUE = ("1", "true", "yes", "on")


def parse_filters(args: Mapping[str, str], provider_id: str | None = None) -> QueueFilters:
    """Return the filters in ``args``; ``provider_id`` (a provider user's organisation) is forced.

    :raise ArgError: for an unknown status or a malformed ``overdue`` flag.
    """
    status = choice_arg(args, "status", [s.value for s in ReferralStatus])
    overdue = (args.get("overdue") or "").lower()
    if overdue and overdue not in TRUE + ("0", "false", "no", "off"):
        raise ArgError("overdue", f"must be true or false, not {args.get('overdue')!r}")
    return QueueFilters(
        county=args.get("county") or None,
        service=args.get("service") or None,
        status=ReferralStatus(status) if status else None,
        overdue=overdue in TRUE,
        provider_id=provider_id,
    )
