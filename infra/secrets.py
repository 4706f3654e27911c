"""The bot token (filled in by the operator) and the webhook secret (generated)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig
from infra.functions import removal_policy
from infra.nag import acknowledge

# What the bot token secret holds until the operator puts the real token in. The
# webhook registration recognises anything that is not shaped like a token.
# (A placeholder text, not a credential.)
BOT_TOKEN_PLACEHOLDER = "REPLACE-ME: put-secret-value with the token"  # noqa: S105

# Telegram allows A-Za-z0-9_- (1-256 chars) in secret_token; letters and digits fit.
WEBHOOK_SECRET_LENGTH = 64


def generated_secret(
    scope: Construct, construct_id: str, config: StageConfig, name: str, what: str, length: int
) -> secretsmanager.Secret:
    """A secret Secrets Manager generates: ``length`` letters and digits."""
    return secretsmanager.Secret(
        scope,
        construct_id,
        secret_name=name,
        description=f"Topicdesk {config.stage}: {what}",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=length, exclude_punctuation=True, include_space=False
        ),
        removal_policy=removal_policy(config),
    )


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.bot_token_name = config.secret_name("bot-token")
        self.webhook_secret_name = config.secret_name("webhook-secret")
        self.bot_token = secretsmanager.Secret(
            self,
            "BotToken",
            secret_name=self.bot_token_name,
            description=f"Topicdesk {config.stage}: Telegram bot token from @BotFather",
            # A placeholder, not a secret: the operator replaces it after the first deploy.
            secret_string_value=cdk.SecretValue.unsafe_plain_text(BOT_TOKEN_PLACEHOLDER),
            removal_policy=removal_policy(config),
        )
        self.webhook_secret = generated_secret(
            self,
            "WebhookSecret",
            config,
            self.webhook_secret_name,
            "X-Telegram-Bot-Api-Secret-Token for the webhook",
            WEBHOOK_SECRET_LENGTH,
        )
        acknowledge(
            self.bot_token,
            "AwsSolutions-SMG4",
            "The bot token is issued by Telegram's @BotFather; Secrets Manager cannot rotate "
            "it. Rotation is manual: /revoke in BotFather, then put-secret-value.",
        )
        acknowledge(
            self.webhook_secret,
            "AwsSolutions-SMG4",
            "Rotating the webhook secret needs setWebhook with the new value at the same "
            "moment; the webhook registration does that on deploy when the secret is replaced "
            "(its ARN is a property of the custom resource). No rotation Lambda on purpose.",
        )
