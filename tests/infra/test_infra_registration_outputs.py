"""Webhook registration (real stages only), the local stage's synthesizer, stack outputs."""

from __future__ import annotations

from topicdesk.contract import ALLOWED_UPDATES, Env, Output
from topicdesk.handlers.webhook_registration import Property

from tests.infra.infra_synth import Synth

OUTPUTS = {
    Output.WEBHOOK_URL,
    Output.UPDATES_QUEUE_URL,
    Output.DEAD_LETTER_QUEUE_URL,
    Output.PARKING_QUEUE_URL,
    Output.DATA_TABLE_NAME,
    Output.LIMITS_TABLE_NAME,
    Output.IDEMPOTENCY_TABLE_NAME,
    Output.BOT_TOKEN_SECRET_NAME,
    Output.WEBHOOK_SECRET_NAME,
    Output.ALARM_TOPIC_ARN,
    Output.DASHBOARD_NAME,
    Output.WEBHOOK_FUNCTION_NAME,
    Output.CONSUMER_FUNCTION_NAME,
    Output.DLQ_PROCESSOR_FUNCTION_NAME,
}


def test_webhook_registration_custom_resource(real: Synth) -> None:
    function_id, function = real.function("webhook-registration")
    webhook_id, _ = real.function("webhook")
    url_id, _ = real.find("AWS::Lambda::Url", lambda r: True)
    resource_id, resource = real.find("Custom::TelegramWebhook", lambda r: True)
    p = resource["Properties"]
    assert p["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert p[Property.WEBHOOK_URL] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert p[Property.ALLOWED_UPDATES] == list(ALLOWED_UPDATES)
    assert p[Property.MAX_CONNECTIONS] == str(real.config.webhook_max_connections)
    # Never above the webhook's reserved concurrency (synth refuses that).
    assert real.config.webhook_max_connections == {"dev": 5, "prod": 50}[real.stage]
    # A new URL, a replaced secret or a bumped revision makes CloudFormation call it again.
    assert p[Property.WEBHOOK_SECRET_ARN] == {"Ref": real.secret("webhook-secret")[0]}
    assert p[Property.BOT_TOKEN_SECRET_ARN] == {"Ref": real.secret("bot-token")[0]}
    assert p[Property.REVISION] == "1"
    env = function["Properties"]["Environment"]["Variables"]
    assert env[Env.BOT_TOKEN_SECRET_NAME] == f"topicdesk/{real.stage}/bot-token"
    assert env[Env.WEBHOOK_SECRET_NAME] == f"topicdesk/{real.stage}/webhook-secret"
    assert env[Env.TELEGRAM_API_URL] == real.config.telegram_api_url
    assert webhook_id != function_id
    assert real.body["Outputs"][Output.WEBHOOK_REGISTRATION_STATUS]["Value"] == {
        "Fn::GetAtt": [resource_id, "Status"]
    }


def test_outputs_have_stable_names(real: Synth) -> None:
    outputs = real.body["Outputs"]
    assert set(outputs) == OUTPUTS | {Output.WEBHOOK_REGISTRATION_STATUS}
    assert outputs[Output.BOT_TOKEN_SECRET_NAME]["Value"] == f"topicdesk/{real.stage}/bot-token"
    assert outputs[Output.UPDATES_QUEUE_URL]["Value"] == {"Ref": real.queue("updates")[0]}
    assert outputs[Output.DATA_TABLE_NAME]["Value"] == {"Ref": real.table("data")[0]}
    assert outputs[Output.CONSUMER_FUNCTION_NAME]["Value"] == {"Ref": real.function("consumer")[0]}


def test_local_stage_skips_registration(local: Synth) -> None:
    assert not local.resources("Custom::TelegramWebhook")
    names = {
        r["Properties"]["FunctionName"] for r in local.resources("AWS::Lambda::Function").values()
    }
    assert names == {
        "topicdesk-local-webhook",
        "topicdesk-local-consumer",
        "topicdesk-local-dlq-processor",
        "topicdesk-local-widget",  # cdk.json gives the local stage a demo widget project
    }
    widget = {
        Output.WIDGET_URL,
        Output.WIDGET_API_ID,
        Output.WIDGET_FUNCTION_NAME,
        Output.WIDGET_TOKEN_SECRET_NAME,
    }
    assert set(local.body["Outputs"]) == OUTPUTS | widget


def test_local_stage_needs_no_bootstrap(local: Synth, dev: Synth) -> None:
    # CliCredentialsStackSynthesizer: a fixed assets bucket, no bootstrap version check.
    assert "BootstrapVersion" not in local.body.get("Parameters", {})
    assert "CheckBootstrapVersion" not in local.body.get("Rules", {})
    for function in local.resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Code"]["S3Bucket"] == "topicdesk-local-cdk-assets"
    # The real stages use the default (bootstrapped) synthesizer.
    assert "BootstrapVersion" in dev.body["Parameters"]
