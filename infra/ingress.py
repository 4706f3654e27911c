"""The webhook: a Lambda behind a Function URL that validates and enqueues."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from topicdesk.contract import Env

from infra.functions import FunctionProps, TopicdeskFunction
from infra.secrets import Secrets


class Ingress(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        props: FunctionProps,
        *,
        updates_queue: sqs.IQueue,
        secrets: Secrets,
    ) -> None:
        super().__init__(scope, construct_id)
        config = props.config
        self.webhook = TopicdeskFunction(
            self,
            "Webhook",
            props,
            function="webhook",
            description="Checks Telegram's POST and enqueues the update",
            memory_size=256,
            timeout=cdk.Duration.seconds(10),
            # Bounds what a flood of requests can cost and how hard it can hit SQS.
            reserved_concurrent_executions=config.webhook_reserved_concurrency,
            environment={
                Env.UPDATES_QUEUE_URL: updates_queue.queue_url,
                Env.WEBHOOK_SECRET_NAME: secrets.webhook_secret_name,
                # Updates from any other group or channel are answered, never queued.
                Env.OPERATOR_CHAT_IDS: ",".join(str(chat) for chat in config.operator_chat_ids),
            },
        )
        updates_queue.grant_send_messages(self.webhook.function)
        secrets.webhook_secret.grant_read(self.webhook.function)
        # Telegram cannot sign requests with SigV4: the URL is public and the
        # X-Telegram-Bot-Api-Secret-Token header (checked in the handler) is the guard.
        self.url = self.webhook.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )
