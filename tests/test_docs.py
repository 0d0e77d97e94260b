"""The documentation names what the code offers (datasette's test_docs habit)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import pytest

from csmatch.cli import main
from matcher.reasons import UnplacedReason

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix}{name} "))
    return names


@pytest.mark.parametrize("command", _commands(main))
def test_every_cli_command_is_in_the_readme(command: str) -> None:
    top, _, sub = command.partition(" ")
    row = " ".join(line for line in README.splitlines() if line.startswith(f"| `csmatch {top}"))
    assert row, f"README's command table has no row for csmatch {top}"
    if sub:
        assert re.search(rf"\b{re.escape(sub)}\b", row), f"README's row for csmatch {top} does not name {sub!r}"


@pytest.mark.parametrize("script", ["scripts/demo", "scripts/test", ".ci/run"])
def test_the_readme_commands_exist_and_are_executable(script: str) -> None:
    path = ROOT / script
    assert path.is_file() and os.access(path, os.X_OK)
    if script.startswith("scripts/"):
        assert script in README


@pytest.mark.parametrize("reason", list(UnplacedReason))
def test_every_unplaced_reason_is_documented(reason: UnplacedReason) -> None:
    assert reason.value in (ROOT / "docs" / "problem-format.md").read_text(encoding="utf-8")
    assert reason.description
