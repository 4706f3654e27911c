"""`cdk deploy` leaves Telegram's webhook pointing at the stage's Function URL.

A Lambda-backed custom resource (handler: topicdesk.handlers.webhook_registration).
Its properties hold everything that should trigger a new setWebhook: the URL, the
secrets' ARNs (a replaced secret has a new ARN), allowed_updates, max_connections
and a revision the operator bumps after filling in the bot token.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct
from topicdesk.contract import ALLOWED_UPDATES, Env
from topicdesk.handlers.webhook_registration import Property

from infra.definitions import WEBHOOK_REGISTRATION
from infra.functions import FunctionProps, TopicdeskFunction


class WebhookRegistration(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, props: FunctionProps, *, webhook_url: str
    ) -> None:
        super().__init__(scope, construct_id)
        config, secrets = props.config, props.secrets
        environment = {
            Env.BOT_TOKEN_SECRET_NAME: secrets.bot_token_name,
            Env.WEBHOOK_SECRET_NAME: secrets.webhook_secret_name,
            Env.TELEGRAM_API_URL: config.telegram_api_url,
        }
        self.handler = TopicdeskFunction(self, props, WEBHOOK_REGISTRATION, environment)
        secrets.bot_token.grant_read(self.handler.function)
        secrets.webhook_secret.grant_read(self.handler.function)
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.handler.function.function_arn,
            resource_type="Custom::TelegramWebhook",
            # A handler that never answers must not keep the stack waiting CloudFormation's
            # default hour: the handler answers within its own timeout, this is the backstop.
            service_timeout=cdk.Duration.minutes(5),
            properties={
                Property.WEBHOOK_URL: webhook_url,
                Property.ALLOWED_UPDATES: list(ALLOWED_UPDATES),
                Property.MAX_CONNECTIONS: str(config.webhook_max_connections),
                Property.TELEGRAM_API_URL: config.telegram_api_url,
                Property.WEBHOOK_SECRET_ARN: secrets.webhook_secret.secret_arn,
                Property.BOT_TOKEN_SECRET_ARN: secrets.bot_token.secret_arn,
                Property.REVISION: config.webhook_registration_revision,
            },
        )
        # What happened, e.g. "REGISTERED: https://..." or "NOT REGISTERED: fill in the token".
        self.status = self.resource.get_att_string("Status")
