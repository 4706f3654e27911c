"""Alarms, their SNS topic, and the dashboard (dev and prod)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.monitoring import (
    DEAD_LETTERS,
    PROCESSING_LATENCY,
    TELEGRAM_ERRORS,
    UPDATES_DEAD_LETTERED,
    UPDATES_DEFERRED,
    UPDATES_FAILED,
    UPDATES_PROCESSED,
)
from tests.infra.infra_synth import Synth

ROOT = Path(__file__).resolve().parents[2]
APP_FUNCTIONS = ("webhook", "consumer", "dlq-processor", "inbox-schedule")


def alarms(real: Synth) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in real.resources("AWS::CloudWatch::Alarm").values()
    }


def test_alarm_topic_mails_the_stage_address(real: Synth) -> None:
    topic_id, topic = real.by_property(
        "AWS::SNS::Topic", "TopicName", f"topicdesk-{real.stage}-alarms"
    )
    real.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": real.config.alarm_email, "TopicArn": {"Ref": topic_id}},
    )
    assert real.config.alarm_email.endswith("@example.com")
    _, policy = real.find("AWS::SNS::TopicPolicy", lambda r: True)
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allow] == [{"Service": "cloudwatch.amazonaws.com"}]
    assert allow[0]["Action"] == "sns:Publish"
    assert "aws:SourceAccount" in allow[0]["Condition"]["StringEquals"]
    assert topic["Properties"]["TopicName"].startswith(real.config.prefix)


def test_every_alarm_notifies_the_topic(real: Synth) -> None:
    topic_id, _ = real.by_property("AWS::SNS::Topic", "TopicName", f"topicdesk-{real.stage}-alarms")
    found = alarms(real)
    assert len(found) == 5 + 2 * len(APP_FUNCTIONS)
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_dlq_depth_alarm(real: Synth) -> None:
    alarm = alarms(real)[f"topicdesk-{real.stage}-dlq-depth"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [real.queue("dead-letters")[0], "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0


def test_dead_letters_alarm_matches_powertools_dimensions(real: Synth) -> None:
    # Powertools v3 Metrics publishes EMF with exactly one default dimension:
    # "service" = POWERTOOLS_SERVICE_NAME (checked against the library below).
    alarm = alarms(real)[f"topicdesk-{real.stage}-dead-letters"]
    assert alarm["Namespace"] == f"Topicdesk/{real.stage}"
    assert alarm["MetricName"] == DEAD_LETTERS == "DeadLetters"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "topicdesk-dlq-processor"}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)
    _, processor = real.function("dlq-processor")
    env = processor["Properties"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "topicdesk-dlq-processor"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == alarm["Namespace"]


def test_powertools_emits_the_dimension_the_alarm_watches(monkeypatch: Any) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "topicdesk-dlq-processor")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Topicdesk/dev")
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    provider = AmazonCloudWatchEMFProvider()
    provider.add_metric(name=DEAD_LETTERS, unit=MetricUnit.Count, value=1)
    emf = provider.serialize_metric_set()
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Topicdesk/dev"
    assert directive["Dimensions"] == [["service"]]
    assert emf["service"] == "topicdesk-dlq-processor"


def test_oldest_update_age_alarm(real: Synth) -> None:
    alarm = alarms(real)[f"topicdesk-{real.stage}-oldest-update-age"]
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": [real.queue("updates")[0], "QueueName"]
    }
    assert alarm["Threshold"] == real.config.oldest_message_alarm_seconds == 900


def test_errors_and_throttles_alarm_for_each_function(real: Synth) -> None:
    found = alarms(real)
    for function in APP_FUNCTIONS:
        function_id, _ = real.function(function)
        for metric in ("Errors", "Throttles"):
            alarm = found[f"topicdesk-{real.stage}-{function}-{metric.lower()}"]
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
            assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)


def dashboard(real: Synth) -> dict[str, Any]:
    _, board = real.by_property("AWS::CloudWatch::Dashboard", "DashboardName", real.config.prefix)
    parts = board["Properties"]["DashboardBody"]["Fn::Join"][1]
    body: dict[str, Any] = json.loads(
        "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    )
    return body


def dashboard_metrics(real: Synth) -> list[list[Any]]:
    return [
        metric
        for widget in dashboard(real)["widgets"]
        for metric in widget["properties"].get("metrics", [])
    ]


def test_dashboard_shows_queue_depth_age_and_outcomes(real: Synth) -> None:
    metrics = dashboard_metrics(real)
    names = {(m[0], m[1]) for m in metrics}
    for name in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        assert ("AWS/SQS", name) in names
    namespace = f"Topicdesk/{real.stage}"
    for name in (UPDATES_PROCESSED, UPDATES_FAILED, UPDATES_DEFERRED, UPDATES_DEAD_LETTERED):
        shown = [m[:4] for m in metrics if m[1] == name]
        assert shown == [[namespace, name, "service", "topicdesk-consumer"]]


def test_dashboard_telegram_errors_per_code_and_p95_latency(real: Synth) -> None:
    metrics = dashboard_metrics(real)
    assert TELEGRAM_ERRORS == (
        "TelegramError429",
        "TelegramError403",
        "TelegramError400",
        "TelegramError5xx",
    )
    for name in TELEGRAM_ERRORS:
        services = {m[3] for m in metrics if m[1] == name}
        assert services == {"topicdesk-consumer", "topicdesk-dlq-processor"}
    latency = [m for m in metrics if m[1] == PROCESSING_LATENCY]
    assert len(latency) == 1
    namespace = f"Topicdesk/{real.stage}"
    assert latency[0][:4] == [namespace, "ProcessingLatency", "service", "topicdesk-consumer"]
    assert latency[0][4]["stat"] == "p95"


def test_metric_names_are_written_into_the_contract() -> None:
    contract = (ROOT / "docs" / "architecture.md").read_text()
    section = contract.split("## Metrics", 1)[1]
    for name in (
        DEAD_LETTERS,
        UPDATES_PROCESSED,
        UPDATES_FAILED,
        UPDATES_DEFERRED,
        UPDATES_DEAD_LETTERED,
        PROCESSING_LATENCY,
        *TELEGRAM_ERRORS,
    ):
        assert re.search(rf"`{name}`", section), name


def test_parked_dead_letters_are_alarmed(real: Synth) -> None:
    parking_id, _ = real.queue("parked")
    alarm = alarms(real)[f"topicdesk-{real.stage}-parked-dead-letters"]
    assert alarm["Threshold"] == 0
    assert {"Name": "QueueName", "Value": {"Fn::GetAtt": [parking_id, "QueueName"]}} in alarm[
        "Dimensions"
    ]
    assert "dlq unpark" in alarm["AlarmDescription"]


def test_bursts_of_refused_webhook_requests_are_alarmed(real: Synth) -> None:
    alarm = alarms(real)[f"topicdesk-{real.stage}-rejected-webhook-requests"]
    assert alarm["MetricName"] == "UpdatesRejected" and alarm["Statistic"] == "Sum"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "topicdesk-webhook"}]
    assert alarm["Threshold"] == 100
