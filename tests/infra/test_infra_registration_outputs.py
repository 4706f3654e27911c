"""Webhook registration (real stages only), the local stage's synthesizer, stack outputs."""

from __future__ import annotations

from infra_synth import Synth

OUTPUTS = {
    "WebhookUrl",
    "UpdatesQueueUrl",
    "DeadLetterQueueUrl",
    "DataTableName",
    "LimitsTableName",
    "IdempotencyTableName",
    "BotTokenSecretName",
    "WebhookSecretName",
    "AlarmTopicArn",
    "DashboardName",
    "WebhookFunctionName",
    "ConsumerFunctionName",
    "DlqProcessorFunctionName",
}


def test_webhook_registration_custom_resource(real: Synth) -> None:
    function_id, function = real.function("webhook-registration")
    webhook_id, _ = real.function("webhook")
    url_id, _ = real.find("AWS::Lambda::Url", lambda r: True)
    resource_id, resource = real.find("Custom::TelegramWebhook", lambda r: True)
    p = resource["Properties"]
    assert p["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert p["WebhookUrl"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert p["AllowedUpdates"] == [
        "message",
        "edited_message",
        "my_chat_member",
        "message_reaction",
        "callback_query",
    ]
    assert p["MaxConnections"] == str(real.config.webhook_max_connections)
    assert real.config.webhook_max_connections == {"dev": 40, "prod": 100}[real.stage]
    # A new URL, a replaced secret or a bumped revision makes CloudFormation call it again.
    assert p["WebhookSecretArn"] == {"Ref": real.secret("webhook-secret")[0]}
    assert p["BotTokenSecretArn"] == {"Ref": real.secret("bot-token")[0]}
    assert p["Revision"] == "1"
    env = function["Properties"]["Environment"]["Variables"]
    assert env["BOT_TOKEN_SECRET_NAME"] == f"topicdesk/{real.stage}/bot-token"
    assert env["WEBHOOK_SECRET_NAME"] == f"topicdesk/{real.stage}/webhook-secret"
    assert env["TELEGRAM_API_URL"] == real.config.telegram_api_url
    assert webhook_id != function_id
    assert real.body["Outputs"]["WebhookRegistrationStatus"]["Value"] == {
        "Fn::GetAtt": [resource_id, "Status"]
    }


def test_outputs_have_stable_names(real: Synth) -> None:
    outputs = real.body["Outputs"]
    assert set(outputs) == OUTPUTS | {"WebhookRegistrationStatus"}
    assert outputs["BotTokenSecretName"]["Value"] == f"topicdesk/{real.stage}/bot-token"
    assert outputs["UpdatesQueueUrl"]["Value"] == {"Ref": real.queue("updates")[0]}
    assert outputs["DataTableName"]["Value"] == {"Ref": real.table("data")[0]}
    assert outputs["ConsumerFunctionName"]["Value"] == {"Ref": real.function("consumer")[0]}


def test_local_stage_skips_registration(local: Synth) -> None:
    assert not local.resources("Custom::TelegramWebhook")
    names = {
        r["Properties"]["FunctionName"] for r in local.resources("AWS::Lambda::Function").values()
    }
    assert names == {
        "topicdesk-local-webhook",
        "topicdesk-local-consumer",
        "topicdesk-local-dlq-processor",
    }
    assert set(local.body["Outputs"]) == OUTPUTS


def test_local_stage_needs_no_bootstrap(local: Synth, dev: Synth) -> None:
    # CliCredentialsStackSynthesizer: a fixed assets bucket, no bootstrap version check.
    assert "BootstrapVersion" not in local.body.get("Parameters", {})
    assert "CheckBootstrapVersion" not in local.body.get("Rules", {})
    for function in local.resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Code"]["S3Bucket"] == "topicdesk-local-cdk-assets"
    # The real stages use the default (bootstrapped) synthesizer.
    assert "BootstrapVersion" in dev.body["Parameters"]
