"""The inbox's scheduled jobs as records of the updates queue: ``{"<field>": [numbers]}``,
in a queue group of their own per operators' group (holding back no conversation), with a
deduplication id made of their values (the same job queued twice within SQS's five-minute
window is taken once)."""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass, fields
from typing import ClassVar, Self


@dataclass(frozen=True)
class QueuedJob:
    FIELD: ClassVar[str]
    GROUP: ClassVar[str]
    INTS: ClassVar[int]
    """How many leading values are ids (ints); the rest are timestamps."""

    def __init_subclass__(cls, *, field: str, group: str, ints: int) -> None:
        cls.FIELD, cls.GROUP, cls.INTS = field, group, ints

    def body(self) -> str:
        return json.dumps({self.FIELD: list(astuple(self))})

    @property
    def group(self) -> str:
        return f"{self.GROUP}#{astuple(self)[0]}"

    @property
    def dedup_id(self) -> str:
        values = (str(v) if isinstance(v, int) else f"{v:.3f}" for v in astuple(self))
        return "-".join([self.GROUP, *values])

    @classmethod
    def parse(cls, body: str) -> Self | None:
        """The job of a queue record's body; None for any other body."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        values = data.get(cls.FIELD) if isinstance(data, dict) else None
        if not isinstance(values, list) or len(values) != len(fields(cls)):
            return None
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            return None
        if not all(isinstance(v, int) for v in values[: cls.INTS]):
            return None
        return cls(*values[: cls.INTS], *(float(v) for v in values[cls.INTS :]))
