"""Alembic wrapped for ``csmatch db ...``: the script location ships inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from csmatch.db import database_url, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None, engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url(url)).replace("%", "%%"))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def _run(command_name: str, url: str | None, revision: str, engine: Engine | None) -> None:
    """Run an Alembic command, on one of ``engine``'s connections when given (tests, the CLI)."""
    cfg = alembic_config(url)
    run = getattr(command, command_name)
    if engine is None:
        run(cfg, revision)
        return
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        run(cfg, revision)


def upgrade(url: str | None = None, revision: str = "head", engine: Engine | None = None) -> None:
    """Bring the database schema to ``revision``."""
    _run("upgrade", url, revision, engine)


def downgrade(url: str | None = None, revision: str = "base", engine: Engine | None = None) -> None:
    """Take the database schema back to ``revision`` (``base``: nothing)."""
    _run("downgrade", url, revision, engine)


def check(url: str | None = None) -> None:
    """Fail when the models and the migrations disagree (alembic check), as CI runs it."""
    command.check(alembic_config(url))


def revision(message: str, url: str | None = None) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)
