"""The inbox's scheduled Lambda (EventBridge rules): the nudge sweep, the weekly digest."""

from __future__ import annotations

from topicdesk.adapters.powertools import lambda_entry
from topicdesk.composition.inbox_schedule import schedule_runtime
from topicdesk.runtime.inbox_schedule import InboxScheduleRuntime

runtime, handler = lambda_entry(schedule_runtime, InboxScheduleRuntime.handle)
