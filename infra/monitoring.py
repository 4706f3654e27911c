"""Alarms (to an SNS topic with the stage's e-mail) and the stage's dashboard.

Application metrics are published by Powertools Metrics (EMF) in the namespace
`Topicdesk/<stage>` with exactly one dimension, `service` = POWERTOOLS_SERVICE_NAME
(Powertools adds it by default). The names are listed in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.functions import TopicdeskFunction

# Metric names the functions emit (docs/architecture.md, "Metrics").
DEAD_LETTERS = "DeadLetters"
REJECTED_BURST = 100
"""Refused webhook requests in 5 minutes past which someone looks (Telegram itself never sends
a refused request twice in a row: a burst is a probe or a stale secret)."""
UPDATES_PROCESSED = "UpdatesProcessed"
UPDATES_FAILED = "UpdatesFailed"
UPDATES_DEFERRED = "UpdatesDeferred"
UPDATES_DEAD_LETTERED = "UpdatesDeadLettered"
PROCESSING_LATENCY = "ProcessingLatency"
TELEGRAM_ERROR_CODES = ("429", "403", "400", "5xx")
TELEGRAM_ERRORS = tuple(f"TelegramError{code}" for code in TELEGRAM_ERROR_CODES)

ONE_MINUTE = cdk.Duration.minutes(1)
FIVE_MINUTES = cdk.Duration.minutes(5)


def _waiting(queue: sqs.IQueue) -> cloudwatch.IMetric:
    """The most messages ``queue`` held visible in a minute."""
    return queue.metric_approximate_number_of_messages_visible(
        period=ONE_MINUTE, statistic=cloudwatch.Stats.MAXIMUM
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        updates_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        parking_queue: sqs.IQueue,
        functions: Sequence[TopicdeskFunction],
        consumer: TopicdeskFunction,
        dlq_processor: TopicdeskFunction,
        webhook: TopicdeskFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=config.name("alarms"),
            display_name=f"Topicdesk {config.stage} alarms",
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        # The TLS-only topic policy replaces SNS's default one, so CloudWatch needs
        # an explicit allow, limited to this stage's alarms in this account.
        stack = cdk.Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStagesAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{config.prefix}-*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        self._action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        self._alarm(
            "DeadLetterQueueDepth",
            "dlq-depth",
            _waiting(dead_letter_queue),
            description="Updates are waiting in the dead-letter queue: review and replay them",
        )
        self._alarm(
            "ParkedDeadLetters",
            "parked-dead-letters",
            _waiting(parking_queue),
            description=(
                "The DLQ processor failed on dead updates 10 times: they are parked; fix the "
                "processor, then move them back: make ops ARGS='dlq unpark'"
            ),
        )
        self._alarm(
            "RejectedWebhookRequests",
            "rejected-webhook-requests",
            self.app_metric(webhook, "UpdatesRejected", statistic=cloudwatch.Stats.SUM),
            threshold=REJECTED_BURST,
            description=(
                f"More than {REJECTED_BURST} requests to the webhook were refused in 5 minutes "
                "(wrong secret, bad body): a probe, or Telegram sending with an old secret "
                "(make ops ARGS='webhook set'); the webhook's log lines say why"
            ),
        )
        dead_letters = self.app_metric(dlq_processor, DEAD_LETTERS, statistic=cloudwatch.Stats.SUM)
        self._alarm(
            "DeadLetters",
            "dead-letters",
            dead_letters,
            description="The DLQ processor archived dead updates (DeadLetters metric)",
        )
        self._alarm(
            "OldestUpdateAge",
            "oldest-update-age",
            updates_queue.metric_approximate_age_of_oldest_message(
                period=ONE_MINUTE, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=config.oldest_message_alarm_seconds,
            description=(
                f"An update has waited more than {config.oldest_message_alarm_seconds} s "
                "in the updates queue: the consumer is stuck or throttled"
            ),
        )
        for function in functions:
            short = function.function_name.removeprefix(f"{config.prefix}-")
            construct_prefix = "".join(part.title() for part in short.split("-"))
            self._alarm(
                f"{construct_prefix}Errors",
                f"{short}-errors",
                function.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                description=f"{function.function_name} raised errors",
            )
            self._alarm(
                f"{construct_prefix}Throttles",
                f"{short}-throttles",
                function.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                description=f"{function.function_name} was throttled",
            )

        self.dashboard = self._dashboard(
            updates_queue, dead_letter_queue, functions, consumer, dlq_processor, dead_letters
        )

    def app_metric(
        self,
        function: TopicdeskFunction,
        name: str,
        *,
        statistic: str,
        period: cdk.Duration = FIVE_MINUTES,
        label: str | None = None,
        unit: cloudwatch.Unit | None = None,
    ) -> cloudwatch.Metric:
        """A Powertools metric: namespace Topicdesk/<stage>, dimension service=<service>."""
        return cloudwatch.Metric(
            namespace=self._config.metrics_namespace,
            metric_name=name,
            dimensions_map={"service": function.service_name},
            statistic=statistic,
            period=period,
            label=label,
            unit=unit,
        )

    def _alarm(
        self,
        construct_id: str,
        suffix: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float = 0,
        description: str,
    ) -> cloudwatch.Alarm:
        """An alarm to the stage's topic when ``metric`` goes above ``threshold`` (by default:
        any at all) in one period."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=self._config.name(suffix),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(
        self,
        updates_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        functions: Sequence[TopicdeskFunction],
        consumer: TopicdeskFunction,
        dlq_processor: TopicdeskFunction,
        dead_letters: cloudwatch.Metric,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=self._config.prefix,
            default_interval=cdk.Duration.hours(3),
        )
        maximum = cloudwatch.Stats.MAXIMUM
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Updates queue depth",
                left=[
                    updates_queue.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE, statistic=maximum, label="visible"
                    ),
                    updates_queue.metric_approximate_number_of_messages_not_visible(
                        period=ONE_MINUTE, statistic=maximum, label="in flight"
                    ),
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=ONE_MINUTE, statistic=maximum, label="dead letters (DLQ)"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Age of the oldest update (s)",
                left=[
                    updates_queue.metric_approximate_age_of_oldest_message(
                        period=ONE_MINUTE, statistic=maximum, label="updates queue"
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=self._config.oldest_message_alarm_seconds, label="alarm"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Updates processed / failed / deferred",
                left=[
                    self.app_metric(
                        consumer, UPDATES_PROCESSED, statistic="Sum", label="processed"
                    ),
                    self.app_metric(consumer, UPDATES_FAILED, statistic="Sum", label="failed"),
                    self.app_metric(
                        consumer, UPDATES_DEFERRED, statistic="Sum", label="deferred (rate limit)"
                    ),
                    self.app_metric(
                        consumer,
                        UPDATES_DEAD_LETTERED,
                        statistic="Sum",
                        label="moved to the DLQ by the consumer",
                    ),
                    dead_letters.with_(label="dead letters archived"),
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Telegram errors by code",
                left=[
                    self.app_metric(
                        function, name, statistic="Sum", label=f"{code} ({function.service_name})"
                    )
                    for function in (consumer, dlq_processor)
                    for name, code in zip(TELEGRAM_ERRORS, TELEGRAM_ERROR_CODES, strict=True)
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Processing latency p95 (ms)",
                left=[
                    self.app_metric(
                        consumer,
                        PROCESSING_LATENCY,
                        statistic="p95",
                        label="p95",
                        unit=cloudwatch.Unit.MILLISECONDS,
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors and throttles",
                left=[
                    metric
                    for function in functions
                    for metric in (
                        function.function.metric_errors(
                            period=FIVE_MINUTES,
                            statistic="Sum",
                            label=f"{function.function_name} errors",
                        ),
                        function.function.metric_throttles(
                            period=FIVE_MINUTES,
                            statistic="Sum",
                            label=f"{function.function_name} throttles",
                        ),
                    )
                ],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)
        )
        return dashboard
