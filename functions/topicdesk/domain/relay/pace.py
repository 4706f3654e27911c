"""The person's pace: a bucket of ``burst`` effects refilled one per ``interval`` (GCRA, like the
shared limiter's keys), kept in the person's session (``Session.pace_tat``) and checked in
memory, with no limiter write of its own.

Why that is sound: everything of a person that spends the pace (private messages, edits,
``/start``, the question's button, block/unblock) is in their FIFO message group
(``topicdesk.domain.routing.group_key``: a private chat's id is the user's), and a group has
one record in flight at a time: the session read at a record's start holds the pace the last
record left, and no other instance writes it meanwhile. The record that admits a message
writes the new TAT with the count it writes after the copy (``increment(..., pace=)``): a
message on an existing topic costs no pace write. An effect no count follows (an edit, a
greeting, a block note, a run of held messages) writes it alone on the session (``update``),
one write as the limiter's key cost. Over the pace nothing is written: a held record (hold
policy) comes back having spent nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from topicdesk.domain.errors import RateLimited
from topicdesk.domain.model import Session
from topicdesk.domain.relay.context import RelayContext
from topicdesk.domain.steps import Steps

PACE_STEP = "pace"
"""The TAT the record's admission leaves (kept with its ``admitted`` step): a retry writes it
with the count instead of spending the pace again."""


def over_pace(wait: float, user_id: int) -> RateLimited:
    """The person is over their pace (hold policy): the record comes back in ``wait`` s."""
    return RateLimited(wait, key=f"pace#{user_id}")


def newer(kept: float | None, stored: float | None) -> float | None:
    """The TAT to write with the count: the one this record's admission kept, unless the
    session already holds a later one (a dead letter replayed after the person's later
    messages moved it on must not set it back)."""
    if kept is None or stored is None:
        return kept
    return max(kept, stored)


class GreetingGate(Protocol):
    """One greeting per person per day (``/start`` again and again greets once). Kept outside
    the session, in the limits table (``greet#<user>``): a person's first ``/start`` comes
    before their session."""

    def admit(self, user_id: int, now: float) -> float:
        """0.0: due (and now spent); else the seconds until it would be (nothing spent)."""
        ...


@dataclass(frozen=True)
class Pace:
    burst: int
    interval: float
    """Seconds per unit: the bucket refills one unit per interval."""

    def spend(self, tat: float | None, now: float) -> tuple[float, float | None]:
        """One unit at ``now`` from the stored TAT (None: never spent): ``(0.0, new TAT)`` when
        admitted, else ``(seconds until it would be, tat)`` with nothing spent."""
        start = max(tat or 0.0, now)
        wait = start - (max(1, self.burst) - 1) * self.interval - now
        if wait > 0:
            return max(wait, 0.001), tat
        return 0.0, start + self.interval


async def spend_alone(
    ctx: RelayContext, pace: Pace | None, session: Session | None, steps: Steps, step: str
) -> tuple[float, Session | None]:
    """One unit for an effect no count write follows, once per record (``step``): written on
    the session before the effect, then recorded (a failed write spends nothing and is tried
    again). ``(0.0, the session as now stored)`` to go on; ``(wait, session)`` over the pace,
    nothing spent. Without a session there is nothing to pace: nothing of the person's reaches
    the operators' group before their session exists (a message's link lives no longer)."""
    if pace is None or session is None or steps.done(step):
        return 0.0, session
    wait, tat = pace.spend(session.pace_tat, ctx.clock.now())
    if wait > 0:
        return wait, session
    ctx.sessions.update(session.user_id, pace_tat=tat)
    await steps.mark(step, tat, durable=False)
    return 0.0, session.with_changes(pace_tat=tat)
