"""`cdk deploy` leaves Telegram's webhook pointing at the stage's Function URL.

A Lambda-backed custom resource (handler: topicdesk.handlers.webhook_registration).
Its properties hold everything that should trigger a new setWebhook: the URL, the
secrets' ARNs (a replaced secret has a new ARN), allowed_updates, max_connections
and a revision the operator bumps after filling in the bot token.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StageConfig
from infra.functions import TopicdeskFunction
from infra.secrets import Secrets

ALLOWED_UPDATES = (
    "message",
    "edited_message",
    "my_chat_member",
    "message_reaction",
    "callback_query",
)


class WebhookRegistration(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        code: lambda_.Code,
        secrets: Secrets,
        webhook_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = TopicdeskFunction(
            self,
            "Handler",
            config=config,
            code=code,
            function="webhook-registration",
            description="Custom resource: setWebhook on deploy, deleteWebhook on delete",
            memory_size=128,
            # Telegram calls with retries, then the answer to CloudFormation (the handler
            # keeps 25 s of this for the answer).
            timeout=cdk.Duration.seconds(90),
            environment={
                "BOT_TOKEN_SECRET_NAME": secrets.bot_token_name,
                "WEBHOOK_SECRET_NAME": secrets.webhook_secret_name,
                "TELEGRAM_API_URL": config.telegram_api_url,
            },
        )
        secrets.bot_token.grant_read(self.handler.function)
        secrets.webhook_secret.grant_read(self.handler.function)
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.handler.function.function_arn,
            resource_type="Custom::TelegramWebhook",
            properties={
                "WebhookUrl": webhook_url,
                "AllowedUpdates": list(ALLOWED_UPDATES),
                "MaxConnections": str(config.webhook_max_connections),
                "TelegramApiUrl": config.telegram_api_url,
                "WebhookSecretArn": secrets.webhook_secret.secret_arn,
                "BotTokenSecretArn": secrets.bot_token.secret_arn,
                "Revision": config.webhook_registration_revision,
            },
        )
        # What happened, e.g. "REGISTERED: https://..." or "NOT REGISTERED: fill in the token".
        self.status = self.resource.get_att_string("Status")
