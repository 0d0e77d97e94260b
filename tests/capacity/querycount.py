"""Count the SQL statements a block of code runs: the dashboard reads must stay one query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


@contextmanager
def count_statements(session: Session) -> Iterator[list[str]]:
    """Collect the SQL statements the session's connection runs inside the block (flush first)."""
    statements: list[str] = []
    connection = session.connection()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(connection, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(connection, "before_cursor_execute", before)
