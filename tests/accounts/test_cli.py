"""``csmatch user add`` and ``csmatch user token``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from accounts.models import ApiToken, Role, User
from accounts.services import authenticate, user_for_token
from csmatch import migrate
from csmatch.cli import main
from csmatch.db import make_engine
from tests.factories import make_provider


@pytest.fixture
def cli_db(tmp_path) -> str:
    """A migrated SQLite file with one provider, PRV-CLI."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        make_provider(session, id="PRV-CLI")
        session.commit()
    engine.dispose()
    return url


def _session(url: str) -> Session:
    return Session(make_engine(url))


def test_user_add_with_password(runner: CliRunner, cli_db: str) -> None:
    result = runner.invoke(main, ["--database-url", cli_db, "user", "add", "Intake@Example.org", "--role", "provider",
                                  "--provider", "PRV-CLI", "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    assert "Created provider intake@example.org for provider PRV-CLI." in result.output
    with _session(cli_db) as session:
        user = session.scalars(sa.select(User)).one()
        assert (user.role, user.provider_id) == (Role.PROVIDER, "PRV-CLI")
        assert authenticate(session, "intake@example.org", "a long enough password") is not None


def test_user_add_without_password_prints_a_random_one(runner: CliRunner, cli_db: str) -> None:
    result = runner.invoke(main, ["--database-url", cli_db, "user", "add", "lead@example.org", "--role",
                                  "coordinator"])
    assert result.exit_code == 0, result.output
    password = result.output.split("Password (shown once): ")[1].strip()
    with _session(cli_db) as session:
        assert authenticate(session, "lead@example.org", password) is not None


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "provider"], "a provider user needs --provider"),
    (["--role", "admin", "--provider", "PRV-CLI"], "only provider users belong to a provider"),
    (["--role", "admin", "--password", "short"], "password must have at least 12 characters"),
    (["--role", "boss"], "'boss' is not one of"),
])
def test_user_add_refuses(runner: CliRunner, cli_db: str, args: list[str], message: str) -> None:
    result = runner.invoke(main, ["--database-url", cli_db, "user", "add", "x@example.org", *args])
    assert result.exit_code == 2 and message in result.output
    with _session(cli_db) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_user_token_prints_a_working_token_once(runner: CliRunner, cli_db: str) -> None:
    runner.invoke(main, ["--database-url", cli_db, "user", "add", "ops@example.org", "--role", "admin"])
    result = runner.invoke(main, ["--database-url", cli_db, "user", "token", "OPS@example.org", "--name", "export"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip()
    with _session(cli_db) as session:
        user = user_for_token(session, plain)
        assert user is not None and user.email == "ops@example.org"
        assert session.scalars(sa.select(ApiToken)).one().name == "export"


def test_user_token_for_unknown_user(runner: CliRunner, cli_db: str) -> None:
    result = runner.invoke(main, ["--database-url", cli_db, "user", "token", "ghost@example.org"])
    assert result.exit_code == 2 and "no user with e-mail 'ghost@example.org'" in result.output
