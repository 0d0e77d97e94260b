"""Reference data kept as files and synchronised into the database (idempotent)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from csmatch.catalog import load_service_catalog
from csmatch.models import Service, ServiceCode


def sync_services(session: Session) -> int:
    """Insert or update the service catalogue from ``csmatch/data``; returns rows changed.

    Running it twice changes nothing the second time.
    """
    changed = 0
    for definition in load_service_catalog().values():
        service = session.get(Service, definition.key)
        values = {
            "name": definition.name,
            "offered_from": definition.offered_from,
            "offered_until": definition.offered_until,
            "capacity_unit": definition.capacity_unit,
            "care_setting": definition.care_setting,
            "site_based": definition.site_based,
            "limits": definition.limits,
            "policy_ref": definition.policy_ref,
        }
        if service is None:
            service = Service(key=definition.key, **values)
            session.add(service)
            changed += 1
        elif any(getattr(service, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(service, k, v)
            changed += 1
        existing = {(c.code, c.modifier) for c in service.codes}
        for code in definition.codes:
            if (code.code, code.modifier) not in existing:
                service.codes.append(ServiceCode(code=code.code, modifier=code.modifier, unit=code.unit,
                                                 description=code.description))
                changed += 1
    session.flush()
    return changed
