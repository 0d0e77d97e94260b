"""The one error shape of every csmatch import: file, line, field and message.

An import collects every problem before it rejects the files (pandera's lazy validation), so the
sender fixes them all in one pass instead of one per attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RosterError", "RosterImportError"]


@dataclass(frozen=True, slots=True, order=True)
class RosterError:
    """One problem in one field of one row.

    ``line`` is the CSV line number counting the header as line 1, so the first data row is line 2
    (a quoted value spanning several lines counts as one). Problems with a whole file use line 0,
    problems with its header line 1.
    """

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RosterImportError(ValueError):
    """The roster was rejected and nothing was written; ``errors`` lists every problem found."""

    def __init__(self, errors: Iterable[RosterError]) -> None:
        self.errors: list[RosterError] = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))
