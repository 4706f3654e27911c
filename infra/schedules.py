"""The inbox's schedules (issue 15): one small function, on two EventBridge rules.

- every minute, ``{"job": "sweep"}``: the nudge sweep reads each operators' group's inbox
  records (one query per group) and queues a nudge job for each wait past the SLA;
- weekly (Monday 08:00 UTC), ``{"job": "digest"}``: one stats digest job per group.

The function only reads the data table and sends to the updates queue: the consumer posts
what it queues, through the shared limiter and its steps, like every send. Why a sweep and
not one EventBridge Scheduler schedule per wait: README, "The inbox at a glance".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct
from topicdesk.contract import Env

from infra.config import StageConfig
from infra.definitions import INBOX_SCHEDULE
from infra.functions import PipelineProps, TopicdeskFunction, env_list

SWEEP_EVERY = cdk.Duration.minutes(1)


def inbox_clock_env(config: StageConfig) -> dict[str, str]:
    """Business hours, the SLA and the away message, for the consumer and the sweep."""
    return {
        Env.BUSINESS_HOURS: config.business_hours,
        Env.SLA_MINUTES: str(config.sla_minutes),
        Env.AWAY_MESSAGE: config.away_message,
    }


class InboxSchedules(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PipelineProps) -> None:
        super().__init__(scope, construct_id)
        config, storage, updates_queue = props.config, props.storage, props.updates_queue
        environment = {
            Env.DATA_TABLE: storage.data_table.table_name,
            Env.UPDATES_QUEUE_URL: updates_queue.queue_url,
            Env.OPERATOR_CHAT_IDS: env_list(config.operator_chat_ids),
            **inbox_clock_env(config),
        }
        # One sweep at a time is all it ever needs; a second one would queue nothing new.
        self.function = TopicdeskFunction(
            self, props, INBOX_SCHEDULE, environment, reserved_concurrent_executions=1
        )
        # Query the groups' inbox partitions (no writes: the consumer notes what it posts).
        storage.data_table.grant_read_data(self.function.function)
        # SendMessage: the nudge and digest jobs onto the updates queue.
        updates_queue.grant_send_messages(self.function.function)
        # A missed sweep is not retried: the next one comes a minute later.
        self.sweep = self._rule("Sweep", events.Schedule.rate(SWEEP_EVERY), "sweep", 0, 60)
        monday = events.Schedule.cron(week_day="MON", hour="8", minute="0")
        self.digest = self._rule("Digest", monday, "digest", 2, 7200)

    def _rule(
        self, name: str, schedule: events.Schedule, job: str, retries: int, max_age: int
    ) -> events.Rule:
        """An EventBridge rule invoking the function with ``{"job": job}``."""
        target = targets.LambdaFunction(
            self.function.function,
            event=events.RuleTargetInput.from_object({"job": job}),
            retry_attempts=retries,
            max_event_age=cdk.Duration.seconds(max_age),
        )
        return events.Rule(
            self, name, description=f"The inbox's {job}", schedule=schedule, targets=[target]
        )
