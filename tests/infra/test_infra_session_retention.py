"""Sessions expire after the stage's inactivity period: a cdk.json setting (validated), passed
to the consumer, on the data table whose TTL attribute the session store writes."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from topicdesk.contract import DATA_TABLE, Env
from topicdesk.settings import ConsumerSettings

from infra.config import ConfigError
from tests.infra.infra_synth import Synth, stage_config


def test_sessions_are_kept_365_days_unless_the_stage_says_otherwise() -> None:
    assert stage_config("dev").session_retention_days == 365
    assert stage_config("dev", sessionRetentionDays="30").session_retention_days == 30
    assert stage_config("prod", sessionRetentionDays=3650).session_retention_days == 3650


@pytest.mark.parametrize("bad", [0, -1, 3651, "a year", True])
def test_a_retention_out_of_range_stops_synth_with_one_line(bad: object) -> None:
    with pytest.raises(ConfigError, match="'sessionRetentionDays' must be"):
        stage_config("dev", sessionRetentionDays=bad)


def test_the_consumer_gets_the_retention_and_the_data_table_expires_items(real: Synth) -> None:
    real.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": real.config.name("consumer"),
            "Environment": {
                "Variables": Match.object_like(
                    {Env.SESSION_RETENTION_DAYS: str(real.config.session_retention_days)}
                )
            },
        },
    )
    real.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": real.config.name("data"),
            "TimeToLiveSpecification": {
                "AttributeName": DATA_TABLE.ttl_attribute,
                "Enabled": True,
            },
        },
    )
    env = {
        Env.SESSION_RETENTION_DAYS: str(real.config.session_retention_days),
        **{name: "x" for name in (Env.UPDATES_QUEUE_URL, Env.DEAD_LETTER_QUEUE_URL)},
        **{name: "x" for name in (Env.DATA_TABLE, Env.IDEMPOTENCY_TABLE, Env.LIMITS_TABLE)},
        Env.BOT_TOKEN_SECRET_NAME: "x",
        Env.OPERATOR_CHAT_IDS: "-1001000000001",
    }
    assert ConsumerSettings.from_env(env).session_retention_days == 365
