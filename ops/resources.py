"""Where a stage's resources are: the CloudFormation stack's outputs (one stack per stage)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from topicdesk.contract import DEFAULT_TELEGRAM_API_URL, Env, Output

ROOT = Path(__file__).resolve().parent.parent


def local_stage_file() -> Path:
    """Where `make local` describes the running stage (TOPICDESK_LOCAL_DIR moves it)."""
    return Path(os.environ.get("TOPICDESK_LOCAL_DIR") or ROOT / ".local") / "stage.json"


class OpsError(RuntimeError):
    """A problem the operator can act on; printed as one line, exit code 2."""


@dataclass(frozen=True)
class StageResources:
    stage: str
    outputs: dict[str, str]
    endpoint_url: str | None
    """Set for `local`: moto's endpoint. None: the account in your AWS credentials."""
    telegram_api_url: str

    def output(self, name: str) -> str:
        if name not in self.outputs:
            raise OpsError(f"stack output {name} missing; is stage {self.stage!r} deployed?")
        return self.outputs[name]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url)

    def resource(self, service: str) -> Any:
        return boto3.resource(service, endpoint_url=self.endpoint_url)


def _local_stage() -> dict[str, Any]:
    path = local_stage_file()
    if not path.exists():
        raise OpsError(f"the local stage is not running (no {path}); run `make local`")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def resolve(stage: str) -> StageResources:
    """Read the stage's stack outputs (local: from the running moto, via .local/stage.json)."""
    endpoint = None
    telegram = os.environ.get(Env.TELEGRAM_API_URL, DEFAULT_TELEGRAM_API_URL)
    if stage == "local":
        local = _local_stage()
        endpoint = str(local["aws_endpoint_url"])
        telegram = str(local["telegram_api_url"])
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", str(local.get("region", "us-east-1")))
    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint)
    stack = f"topicdesk-{stage}"
    try:
        answer = cloudformation.describe_stacks(StackName=stack)
    except ClientError as error:
        raise OpsError(f"stack {stack} not found: {error.response['Error']['Message']}") from None
    except BotoCoreError as error:
        raise OpsError(f"cannot reach CloudFormation: {error}") from None
    outputs = {
        item["OutputKey"]: item["OutputValue"] for item in answer["Stacks"][0].get("Outputs", [])
    }
    if endpoint is None and Output.CONSUMER_FUNCTION_NAME in outputs:
        # The Bot API the stage itself talks to (a self-hosted server, say).
        config = boto3.client("lambda").get_function_configuration(
            FunctionName=outputs[Output.CONSUMER_FUNCTION_NAME]
        )
        telegram = (
            config.get("Environment", {}).get("Variables", {}).get(Env.TELEGRAM_API_URL, telegram)
        )
    return StageResources(stage, outputs, endpoint, telegram)
