"""The step record: every externally visible step of handling one update, kept when done.

An update's handling is a short script of steps (topic created, card posted, message copied,
person told, note posted, receipt, state change, flood allowance spent). Any step may meet a
429, a deferral, a 5xx, a timeout or a crash, and the record comes back later. Without a
record of what was already done, the retry either redoes steps (the person told 30 times
that their conversation was closed) or, worse, skips ones guarded by a flag set too early (a
broadcast's progress note claimed, then refused with 429, never posted).

So each step runs through ``Steps.once(name, action)``: if ``name`` is recorded, its stored
result is returned and the action is not run; otherwise the action runs and its result is
recorded right after (briefly retried: the action cannot be undone, so failing the record now
would only redo it). A retried record therefore resumes after its last completed step: it
never redoes one and never skips one. The only window left is between an action's effect and
its record (a crash, or Telegram acting on a call whose answer never came): that step is
done again, the in-doubt duplicate the Bot API cannot rule out (it has no idempotency keys).

Steps that are not visible outside (the per-person flood allowance) are recorded with
``durable=False``: kept in memory and written together with the next visible step, or when
the record fails, so they cost no write of their own on the common path.

A Telegram update's record is ``deferred``: a visible step's record is written before the
next visible step starts, or by ``finish`` together with the ``FINISHED`` marker, or when the
attempt fails, so an update costs one write per visible step and nothing more (the marker
rides on the last step's write). Between the last step and ``finish`` only bookkeeping runs
(the message map, counters: no visible effect), so the in-doubt window of that step grows by
a few writes, and a later copy of the update (past SQS's 5-minute dedup) finds the marker and
is dropped whole: the step record is the update's idempotency record (docs/architecture.md).
Where the work's own bookkeeping marks it done for any later copy (a relayed message's count
sets the session's mark), ``finished_elsewhere`` spares even that write while the record was
never written.

Results must be plain values (None, bool, int, str, or lists of them): they are stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.ports import StepLog

T = TypeVar("T")
RECORD_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
FINISHED = "~finished"
"""The marker ``finish`` writes: every step of the unit is done (no step is named so)."""
REPLAYED = "~replayed"
"""Written by a dead letter's replay (``ops dlq replay``) before it queues the update again:
the replay then finds a record and resumes from it, never stopping at a session's mark that
later messages moved past the dead one (``finished_elsewhere``)."""


def update_key(update_id: int) -> str:
    """The step record's key of a Telegram update."""
    return f"update#{update_id}"


logger = logging.getLogger(__name__)


class Steps:
    """The steps of one unit of work (an update, a queue job, a dead letter)."""

    def __init__(
        self,
        log: StepLog | None = None,
        key: str | None = None,
        done: Mapping[str, Any] | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        deferred: bool = False,
    ) -> None:
        self._log = log
        self._deferred = deferred
        self._pending: set[str] = set()
        """Visible steps recorded only in memory (deferred records)."""
        self._done_elsewhere = False
        self._finished_elsewhere = False
        self._stored = bool(done)
        """The record exists in the log (loaded, or written by this attempt)."""
        self._key = key
        self._done: dict[str, Any] = dict(done or {})
        self._unsaved: dict[str, Any] = {}
        self._sleep = sleep

    @classmethod
    def load(cls, log: StepLog, key: str, **kwargs: Any) -> Steps:
        """The steps already recorded for ``key`` (none for a first attempt)."""
        return cls(log, key, log.load(key), **kwargs)

    def done(self, name: str) -> bool:
        return name in self._done

    def result(self, name: str, default: Any = None) -> Any:
        return self._done.get(name, default)

    @property
    def replay(self) -> bool:
        """A dead letter's replay, before any step: only ``REPLAYED`` is recorded."""
        return self._done.keys() == {REPLAYED}

    @property
    def recorded(self) -> dict[str, Any]:
        """What is done so far (a copy)."""
        return dict(self._done)

    async def once(
        self, name: str, action: Callable[[], Awaitable[T]], *, durable: bool = True
    ) -> T:
        """Run ``action`` unless step ``name`` is done; either way, its result."""
        if name in self._done:
            return self._done[name]  # type: ignore[no-any-return]
        await self.settle()
        value = await action()
        await self.mark(name, value, durable=durable)
        return value

    def once_sync(self, name: str, action: Callable[[], T]) -> T:
        """A step that is not visible outside and not awaited (kept with the next write)."""
        if name in self._done:
            return self._done[name]  # type: ignore[no-any-return]
        value = action()
        self._done[name] = value
        self._unsaved[name] = value
        return value

    async def mark(self, name: str, value: Any = True, *, durable: bool = True) -> None:
        """Record step ``name`` as done with ``value``."""
        self._done[name] = value
        self._unsaved[name] = value
        if durable and self._deferred:
            self._pending.add(name)
        elif durable:
            await self._save()

    def done_elsewhere(self) -> None:
        """An earlier unit did this one's work (a follower copied with its run's head): a
        later copy of it finds that out the same way, so ``finish`` need not write a marker."""
        self._done_elsewhere = True

    def finished_elsewhere(self) -> None:
        """From here on a later copy of this unit finds it handled in a mark kept elsewhere
        (the session's newest message relayed or answered), as it would find ``FINISHED``,
        provided it finds no step record (one makes it resume instead of asking): so while
        the record was never written, ``finish`` writes nothing. What runs after this call
        is bookkeeping, or a visible step whose failure writes the record before raising."""
        self._finished_elsewhere = True

    def kept(self, name: str) -> None:
        """Step ``name``'s effect is now kept durably elsewhere too (the session says the
        topic exists, the card is posted): a retry cannot redo it, so a deferred record need
        not be written for it before the next step (it goes with the next write anyway)."""
        self._pending.discard(name)

    async def settle(self) -> None:
        """Before a visible action outside ``once``: the step before it is recorded first."""
        if self._pending:
            await self._save()

    @property
    def finished(self) -> bool:
        """``finish`` ran for this unit in an earlier attempt: there is nothing left to do."""
        return FINISHED in self._done

    async def finish(self) -> None:
        """The unit is done: write the marker with whatever is recorded only in memory (one
        write: the last visible step's, on the common path)."""
        if self._done_elsewhere and not self._unsaved:
            return
        if self._finished_elsewhere and not self._stored:
            return
        self._done[FINISHED] = True
        self._unsaved[FINISHED] = True
        await self._save()

    async def flush(self) -> None:
        """Write what is recorded only in memory (the record is about to fail)."""
        if self._unsaved:
            await self._save()

    async def _save(self) -> None:
        self._pending.clear()
        if self._log is None or self._key is None:
            self._unsaved.clear()
            return
        last: StorageUnavailable | None = None
        for delay in (*RECORD_RETRY_DELAYS, None):
            try:
                self._log.save(self._key, dict(self._unsaved))
                self._stored = True
            except StorageUnavailable as error:
                last = error
                if delay is not None:
                    await self._sleep(delay)
                continue
            self._unsaved.clear()
            return
        # The step happened; a retry of the record will do it again (in doubt, not lost).
        logger.warning("step record not saved (%s): a retry may repeat %s", last, self._key)
