"""The webhook: a Lambda behind a Function URL that validates and enqueues."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from topicdesk.contract import Env

from infra.definitions import WEBHOOK
from infra.functions import PipelineProps, TopicdeskFunction, env_list


class Ingress(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PipelineProps) -> None:
        super().__init__(scope, construct_id)
        config, secrets, updates_queue = props.config, props.secrets, props.updates_queue
        environment = {
            Env.UPDATES_QUEUE_URL: updates_queue.queue_url,
            Env.WEBHOOK_SECRET_NAME: secrets.webhook_secret_name,
            # Updates from any other group or channel are answered, never queued.
            Env.OPERATOR_CHAT_IDS: env_list(config.operator_chat_ids),
        }
        # Reserved concurrency bounds what a flood of requests can cost and how hard it can
        # hit SQS.
        self.webhook = TopicdeskFunction(
            self,
            props,
            WEBHOOK,
            environment,
            reserved_concurrent_executions=config.webhook_reserved_concurrency,
        )
        updates_queue.grant_send_messages(self.webhook.function)
        secrets.webhook_secret.grant_read(self.webhook.function)
        # Telegram cannot sign requests with SigV4: the URL is public and the
        # X-Telegram-Bot-Api-Secret-Token header (checked in the handler) is the guard.
        self.url = self.webhook.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )
