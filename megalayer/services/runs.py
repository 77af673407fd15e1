"""What an automation run did or would do (its dry run): the items and the failures, for the command, the
worker's log and the apps whose steps join the run through ``services.hooks.automation_steps``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Planned:
    service: str
    kind: str
    detail: str
    due: dt.datetime
    why: str


@dataclass
class RunResult:
    at: dt.datetime
    dry_run: bool
    items: list[Planned] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(item.kind for item in self.items))
