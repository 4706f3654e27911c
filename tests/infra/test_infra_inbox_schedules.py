"""The inbox's schedules (issue 15): the nudge sweep every minute and the weekly digest, one
small function with a least-privilege role; business hours, the SLA and the away message
from cdk.json, checked at synth, through the environment and back through the settings."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from topicdesk.settings import ConsumerSettings, InboxScheduleSettings

from infra.config import ConfigError, load_stage_config
from tests.infra.infra_synth import ROOT, Synth
from tests.infra.test_infra_least_privilege import SQS_SEND, own_grants

SCHEDULE = "inbox-schedule"
TABLE_READ = {
    "dynamodb:BatchGetItem",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
}


def load(stage: str = "dev", **changes: Any) -> Any:
    ctx: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    ctx["topicdesk"]["stages"][stage].update(changes)
    ctx["stage"] = stage
    return load_stage_config(ctx.get)


def env_of(real: Synth, function: str) -> dict[str, str]:
    variables = real.function(function)[1]["Properties"]["Environment"]["Variables"]
    # Names CloudFormation fills in at deploy time stand in as plain text here.
    return {name: v if isinstance(v, str) else "resolved" for name, v in variables.items()}


def rules_of(real: Synth) -> dict[str, dict[str, Any]]:
    """Each rule targeting the schedule function, by its schedule expression."""
    function_id = real.function(SCHEDULE)[0]
    found: dict[str, dict[str, Any]] = {}
    for rule in real.resources("AWS::Events::Rule").values():
        props = rule["Properties"]
        [target] = props["Targets"]
        if target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}:
            found[props["ScheduleExpression"]] = target
    return found


def test_a_sweep_every_minute_and_a_weekly_digest(real: Synth) -> None:
    rules = rules_of(real)
    assert set(rules) == {"rate(1 minute)", "cron(0 8 ? * MON *)"}
    sweep, digest = rules["rate(1 minute)"], rules["cron(0 8 ? * MON *)"]
    assert json.loads(sweep["Input"]) == {"job": "sweep"}
    assert json.loads(digest["Input"]) == {"job": "digest"}
    # A missed sweep is not retried (the next one comes a minute later).
    assert sweep["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
    _, function = real.function(SCHEDULE)
    assert function["Properties"]["Timeout"] < 60
    assert function["Properties"]["ReservedConcurrentExecutions"] == 1


def test_only_eventbridge_may_invoke_it_from_its_rules(real: Synth) -> None:
    function_id = real.function(SCHEDULE)[0]
    permissions = [
        p["Properties"]
        for p in real.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert len(permissions) == 2
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}
    rule_ids = {p["SourceArn"]["Fn::GetAtt"][0] for p in permissions}
    assert all(real.body["Resources"][r]["Type"] == "AWS::Events::Rule" for r in rule_ids)


def test_its_role_reads_the_data_table_and_sends_to_the_updates_queue_only(real: Synth) -> None:
    assert own_grants(real, SCHEDULE) == {
        real.table("data")[0]: TABLE_READ,
        real.queue("updates")[0]: SQS_SEND,
    }


def test_its_environment_reads_back_as_its_settings(real: Synth) -> None:
    settings = InboxScheduleSettings.from_env(env_of(real, SCHEDULE))
    assert settings.operator_chat_ids == real.config.operator_chat_ids
    assert settings.times.sla_minutes == 15
    consumer = ConsumerSettings.from_env(env_of(real, "consumer")).inbox_times
    assert consumer == settings.times
    if real.stage == "prod":  # Berlin office hours and holidays (cdk.json)
        assert consumer.hours.zone == "Europe/Berlin" and not consumer.hours.always
        assert consumer.away_message.startswith("Thanks for writing")
    else:
        assert consumer.hours.always and consumer.away_message == ""


def test_a_stage_without_the_inbox_has_no_schedules(local: Synth) -> None:
    names = [
        r["Properties"]["FunctionName"] for r in local.resources("AWS::Lambda::Function").values()
    ]
    assert local.config.name(SCHEDULE) not in names
    assert local.resources("AWS::Events::Rule") == {}


@pytest.mark.parametrize(
    "changes",
    [
        {"businessHours": {"timeZone": "Nowhere/Else", "weekly": {"mon": ["09:00-17:00"]}}},
        {"businessHours": {"weekly": {"mon": ["17:00-09:00"]}}},
        {"businessHours": ["09:00-17:00"]},
        {"slaMinutes": 0},
        {"slaMinutes": "soon"},
        {"awayMessage": "x" * 4097},
    ],
)
def test_nonsense_hours_sla_or_away_text_stop_synth(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"businessHours|slaMinutes|awayMessage"):
        load(**changes)


def test_the_hours_travel_as_checked_json() -> None:
    config = load(businessHours={"weekly": {"sat": ["10:00-12:00"]}, "timeZone": "Asia/Tokyo"})
    assert json.loads(config.business_hours)["timeZone"] == "Asia/Tokyo"
    assert load().business_hours == ""
