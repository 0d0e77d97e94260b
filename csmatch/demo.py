"""``csmatch demo``: the whole product on one machine, offline.

Creates (or upgrades) the embedded database, loads the committed demo roster (a rerun changes
nothing), runs the matcher once, creates one user per role and prints their sign-ins, then serves
the dashboard on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import sqlalchemy as sa

from csmatch import migrate
from csmatch.cli import CliContext, pass_context

DEMO_PASSWORD = "demo-password-2026"
# (email, role, provider index in the roster or None)
DEMO_USERS = [
    ("lead@demo.csmatch.org", "coordinator", None),
    ("relations@demo.csmatch.org", "provider_relations", None),
    ("compliance@demo.csmatch.org", "compliance", None),
    ("admin@demo.csmatch.org", "admin", None),
    ("intake@demo.csmatch.org", "provider", 0),
]


def demo_today() -> dt.date:
    """The demo roster is dated around 2026-11-20; clocks run on the real date."""
    return dt.date.today()


def create_demo_users(obj: CliContext) -> list[tuple[str, str, str | None]]:
    from accounts.services import create_user, get_user_by_email
    from placement.models import Assignment
    from providers.models import Provider

    created: list[tuple[str, str, str | None]] = []
    with obj.session() as session:
        # The provider user works for the organisation with the most proposals, so the portal has work.
        busiest = session.scalar(
            sa.select(Assignment.provider_id).group_by(Assignment.provider_id)
            .order_by(sa.func.count().desc(), Assignment.provider_id).limit(1)
        ) or session.scalar(sa.select(Provider.id).order_by(Provider.id).limit(1))
        for email, role, provider_index in DEMO_USERS:
            provider_id = busiest if provider_index is not None else None
            if get_user_by_email(session, email) is None:
                create_user(session, email, role, password=DEMO_PASSWORD, provider_id=provider_id)
            created.append((email, role, provider_id))
    return created


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set everything up, then exit instead of serving.")
@click.option("--roster", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Roster directory to load (default: the committed demo set, fixtures/demo).")
@pass_context
def demo_command(obj: CliContext, host: str, port: int, no_serve: bool, roster: Path | None) -> None:
    """Load the demo data into the database, solve once, and serve the dashboard."""
    from csmatch.seed import sync_services
    from exchange.roster import load_roster
    from fixtures import DEMO_DIR
    from placement.models import RunTrigger, SolverRun
    from placement.services import run_solver

    migrate.upgrade(engine=obj.engine)
    with obj.session() as session:
        sync_services(session)
    with obj.session() as session:
        summary = load_roster(session, roster or DEMO_DIR)
    click.echo(f"Roster: {summary}")
    with obj.session() as session:
        already = session.scalar(sa.select(sa.func.count()).select_from(SolverRun))
        if not already:
            outcome = run_solver(session, on_date=demo_today(), actor="demo", trigger=RunTrigger.DEMO)
            click.echo(f"Matcher run {outcome.run_id}: {outcome.solution.placed} placed, "
                       f"{len(outcome.solution.unplaced)} unplaced ({outcome.solution.status}, "
                       f"{outcome.solution.runtime:.2f} s)")
        else:
            click.echo(f"Matcher already ran ({already} runs); use the dashboard to propose again.")
    users = create_demo_users(obj)
    click.echo(f"\nSign in with password {DEMO_PASSWORD!r} as:")
    for email, role, provider_id in users:
        click.echo(f"  {email:32s} {role}{f' ({provider_id})' if provider_id else ''}")
    if no_serve:
        return
    from web import create_app, freeze_startup_objects
    from web.cache import start_report_warmer

    app = create_app({"DATABASE_URL": obj.url, "SESSION_COOKIE_SECURE": False})
    freeze_startup_objects()
    start_report_warmer(app)
    click.echo(f"\nDashboard: http://{host}:{port}/  (Ctrl-C to stop)")
    app.run(host=host, port=port, debug=False, use_reloader=False)


commands = [demo_command]
