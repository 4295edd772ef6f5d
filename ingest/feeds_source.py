"""What a feeds file said before validation: entries with the lines they came from, and problems.

The YAML and OPML readers produce these; `ingest.feeds` validates them, so both formats report
every problem the same way, as `FILE:LINE: message`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None  # None: about the file as a whole (e.g. it cannot be read)
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class Entry:
    """One feed (or the `defaults:`) as written: raw values, and the line of each key."""

    label: str  # how messages name it: "feeds[3]", "outline", "defaults"
    line: int
    fields: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: object) -> int:
        return self.lines.get(str(key), self.line)


@dataclass
class Source:
    defaults: Entry | None = None
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
