"""Fault switches for tests: broken answers, hangs, latency, odd update delivery."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class MethodFault:
    """Applies to calls of ``method`` (case-insensitive; ``None``: every method).

    * ``status``: answer ``{"ok": false, "error_code": status, "description": ...}``
      instead of running the method (e.g. 500, 502);
    * ``hang``: wait this many seconds first (a client with a shorter timeout
      sees a timeout); without ``status`` the call then runs normally, so the
      caller cannot know whether it took effect - exactly like a real timeout;
    * ``latency``: extra delay before every matching call (never used up);
    * ``times``: how many calls it applies to (``None``: until cleared).
    """

    method: str | None = None
    status: int | None = None
    description: str | None = None
    hang: float = 0.0
    latency: float = 0.0
    times: int | None = 1
    hits: int = 0

    def matches(self, method: str) -> bool:
        return self.method is None or self.method.lower() == method.lower()

    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Faults:
    methods: list[MethodFault] = field(default_factory=list)
    #: deliver the next N webhook updates twice (the copy right after the original).
    duplicate_deliveries: int = 0
    #: webhook: deliver the chats' queues newest first (out of order across chats).
    reorder_across_chats: bool = False
    #: webhook: wait this long before each POST.
    webhook_latency: float = 0.0

    def clear(self) -> None:
        self.methods.clear()
        self.duplicate_deliveries = 0
        self.reorder_across_chats = False
        self.webhook_latency = 0.0

    def take(self, method: str) -> tuple[float, MethodFault | None]:
        """Latency to apply and the fault (with status and/or hang) for one call."""
        latency = 0.0
        chosen: MethodFault | None = None
        for fault in list(self.methods):
            if not fault.matches(method) or fault.exhausted():
                continue
            if fault.status is None and fault.hang == 0.0:
                latency += fault.latency
                fault.hits += 1
                continue
            if chosen is None:
                chosen = fault
                fault.hits += 1
        self.methods = [f for f in self.methods if not f.exhausted()]
        return latency, chosen

    def to_json(self) -> dict[str, Any]:
        return {
            "methods": [f.to_json() for f in self.methods],
            "duplicate_deliveries": self.duplicate_deliveries,
            "reorder_across_chats": self.reorder_across_chats,
            "webhook_latency": self.webhook_latency,
        }

    def update(self, data: dict[str, Any]) -> None:
        """Apply a control-API fault request (see ``EmulatorClient.set_fault``)."""
        if any(data.get(k) is not None for k in ("status", "hang", "latency")):
            self.methods.append(
                MethodFault(
                    method=data.get("method"),
                    status=data.get("status"),
                    description=data.get("description"),
                    hang=float(data.get("hang") or 0.0),
                    latency=float(data.get("latency") or 0.0),
                    times=data.get("times", None if data.get("latency") else 1),
                )
            )
        if data.get("duplicate_deliveries") is not None:
            self.duplicate_deliveries = int(data["duplicate_deliveries"])
        if data.get("reorder_across_chats") is not None:
            self.reorder_across_chats = bool(data["reorder_across_chats"])
        if data.get("webhook_latency") is not None:
            self.webhook_latency = float(data["webhook_latency"])
