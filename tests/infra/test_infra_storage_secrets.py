"""DynamoDB tables and Secrets Manager secrets (dev and prod differ in protection)."""

from __future__ import annotations

import re

from topicdesk.contract import DATA_TABLE, IDEMPOTENCY_TABLE, LIMITS_TABLE, TableLayout

from infra.secrets import BOT_TOKEN_PLACEHOLDER
from tests.infra.infra_synth import Synth

# suffix: the table's layout in the contract (docs/architecture.md)
TABLES = {"data": DATA_TABLE, "limits": LIMITS_TABLE, "idempotency": IDEMPOTENCY_TABLE}


def key_schema(layout: TableLayout) -> list[tuple[str, str]]:
    """The contract's keys as (AttributeName, KeyType): the partition key first."""
    return list(zip(layout.keys, ("HASH", "RANGE"), strict=False))


def test_tables_match_the_contract(real: Synth) -> None:
    assert len(real.resources("AWS::DynamoDB::Table")) == len(TABLES)
    for suffix, layout in TABLES.items():
        keys, ttl = key_schema(layout), layout.ttl_attribute
        _, table = real.table(suffix)
        p = table["Properties"]
        assert [(k["AttributeName"], k["KeyType"]) for k in p["KeySchema"]] == keys
        assert {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]} == {
            name: "S" for name, _ in keys
        }
        assert p["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert p["SSESpecification"] == {"SSEEnabled": True}  # AWS-managed key


def test_prod_tables_are_protected(prod: Synth) -> None:
    for suffix in TABLES:
        _, table = prod.table(suffix)
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_dev_tables_are_disposable(dev: Synth) -> None:
    for suffix in TABLES:
        _, table = dev.table(suffix)
        assert table["Properties"]["DeletionProtectionEnabled"] is False
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Delete"


def test_bot_token_secret_starts_as_a_placeholder(real: Synth) -> None:
    _, secret = real.secret("bot-token")
    p = secret["Properties"]
    assert p["Name"] == f"topicdesk/{real.stage}/bot-token"
    assert p["SecretString"] == BOT_TOKEN_PLACEHOLDER
    assert "GenerateSecretString" not in p
    # The webhook registration treats anything not shaped like a token as "not filled in".
    assert not re.match(r"^\d{5,}:[A-Za-z0-9_-]{30,}$", BOT_TOKEN_PLACEHOLDER)


def test_webhook_secret_is_generated_in_telegrams_alphabet(real: Synth) -> None:
    _, secret = real.secret("webhook-secret")
    p = secret["Properties"]
    assert p["Name"] == f"topicdesk/{real.stage}/webhook-secret"
    assert "SecretString" not in p
    generate = p["GenerateSecretString"]
    # Letters and digits only: inside Telegram's A-Za-z0-9_- and 1..256 characters.
    assert generate["PasswordLength"] == 64
    assert generate["ExcludePunctuation"] is True
    assert generate["IncludeSpace"] is False
    assert "SecretStringTemplate" not in generate  # a plain string, not JSON


def test_secret_removal_follows_the_stage(dev: Synth, prod: Synth) -> None:
    for suffix in ("bot-token", "webhook-secret"):
        assert dev.secret(suffix)[1]["DeletionPolicy"] == "Delete"
        assert prod.secret(suffix)[1]["DeletionPolicy"] == "Retain"
