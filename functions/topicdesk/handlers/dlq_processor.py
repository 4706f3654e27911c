"""DLQ processor Lambda: archive each dead update, tell its writer, alert on-call, count it."""

from __future__ import annotations

from topicdesk.adapters.powertools import lambda_entry
from topicdesk.composition.dead_letters import dead_letter_runtime
from topicdesk.runtime.dead_letters import DeadLetterRuntime

runtime, handler = lambda_entry(dead_letter_runtime, DeadLetterRuntime.handle)
