"""The `local` stage on moto: start moto's server, `cdk deploy` the stage to it, read outputs.

    python -m local.moto_stage            # start moto, deploy, print outputs, stop moto
    python -m local.moto_stage serve --port 5000   # only the (extended) moto server

What it takes to run the ordinary `cdk deploy` against moto:

* The CDK CLI (AWS SDK for JavaScript v3) honours `AWS_ENDPOINT_URL`, so every
  call (STS, S3, CloudFormation) goes to moto. Dummy credentials, us-east-1.
* No bootstrap: the `local` stage uses `CliCredentialsStackSynthesizer` with a
  fixed assets bucket (cdk.json `assetsBucket`), which this module creates before
  deploying. The CLI uploads the Lambda code asset and the template there, so
  moto's Lambda finds the code (create-function needs it; nothing is invoked).
* The CLI hands CloudFormation an https template URL built from the S3 endpoint;
  moto can only parse a path-style URL on `localhost` or `*.amazonaws.com`, so
  `AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION` (a CLI switch meant for this) is set to
  `http://localhost:<port>`; the string is parsed by moto, never connected to.
* `--method=direct` (CreateStack/UpdateStack instead of change sets).
* moto's CloudFormation does not implement every resource type the stack uses.
  `serve` therefore starts moto with a few extra models, implemented on moto's own
  backends, so the resources exist and can be read back: secrets, alarms, the
  Function URL, SNS subscriptions, queue and topic policies.
* moto's SQS would run an event source mapping's function (in Docker) on every
  SendMessage, receiving the messages as it does; here the local runtime drives
  the mappings, so `serve` keeps moto's queues from doing that. The mappings
  still exist and can be listed. `serve` also applies local/moto_fixes.py (FIFO
  redelivery order as in real SQS).

The server runs as a subprocess bound to 127.0.0.1 on a free port and is
stopped by its pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_OUTPUT_DIR = ROOT / ".local" / "cdk.out"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class MotoStageError(RuntimeError):
    """moto did not start, or the deploy failed; the message says which and why."""


# ----------------------------------------------------------------------------- server


@dataclass
class MotoServer:
    """A moto server subprocess; stop it with `stop()` (or use it as a context manager)."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_moto(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    ready_timeout: float = 30.0,
) -> MotoServer:
    """Start the extended moto server (`serve`) and wait until it answers."""
    port = port or free_port(host)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), _pythonpath()]))}
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "local.moto_stage",
                "serve",
                "--host",
                host,
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log_path and not isinstance(log, int):
            log.close()
    server = MotoServer(host=host, port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MotoStageError(
                f"moto server exited with code {process.returncode} before it was ready"
                + (f" (log: {log_path})" if log_path else "")
            )
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    server.stop()
    raise MotoStageError(f"moto server on {server.endpoint} not ready after {ready_timeout:.0f} s")


def _pythonpath() -> str:
    return os.environ.get("PYTHONPATH", "")


# ----------------------------------------------------------------------------- deploy


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment for the CDK CLI (and any AWS SDK) to talk to moto only."""
    port = endpoint.rsplit(":", 1)[-1]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and not key.startswith("CDK_DEFAULT_")
    }
    env.update(DUMMY_CREDENTIALS)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"http://localhost:{port}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "CDK_DISABLE_VERSION_CHECK": "true",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": os.environ.get(
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"
            ),
        }
    )
    return env


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for the emulated account."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass(frozen=True)
class LocalStage:
    stack_name: str
    assets_bucket: str


def local_stage() -> LocalStage:
    """The local stage's stack name and assets bucket, from cdk.json."""
    from infra.config import load_stage_config

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    merged = {**context, "stage": STAGE}
    config = load_stage_config(merged.get)
    if not config.assets_bucket:
        raise MotoStageError(
            "cdk.json: the local stage needs 'assetsBucket' (no bootstrap on moto)"
        )
    return LocalStage(stack_name=config.stack_name, assets_bucket=config.assets_bucket)


def cdk_command() -> list[str]:
    local_bin = ROOT / "node_modules" / ".bin" / "cdk"
    if local_bin.exists():
        return [str(local_bin)]
    npx = shutil.which("npx")
    if npx is None:
        raise MotoStageError("the CDK CLI is missing: run `npm ci` (or `make setup`)")
    return [npx, "--no-install", "cdk"]


def deploy_local_stage(
    endpoint: str,
    *,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    context: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    log_path: Path | None = None,
) -> dict[str, str]:
    """`cdk deploy -c stage=local` to the moto server at `endpoint`; return the stack outputs."""
    stage = local_stage()
    s3 = client("s3", endpoint)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=stage.assets_bucket)
    command = [
        *cdk_command(),
        "deploy",
        stage.stack_name,
        "-c",
        f"stage={STAGE}",
        *[arg for key, value in (context or {}).items() for arg in ("-c", f"{key}={value}")],
        "--require-approval",
        "never",
        "--method=direct",
        "--no-notices",
        "--no-version-reporting",
        "--ci",
        "--progress",
        "events",
        "--output",
        str(output_dir),
    ]
    try:
        result = subprocess.run(  # noqa: S603 - the pinned CDK CLI
            command,
            cwd=ROOT,
            env=aws_env(endpoint),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MotoStageError(f"cdk deploy to moto did not finish in {timeout:.0f} s") from None
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise MotoStageError(f"cdk deploy -c stage={STAGE} failed:\n{tail}")
    return stack_outputs(endpoint, stage.stack_name)


def stack_outputs(endpoint: str, stack_name: str) -> dict[str, str]:
    stacks = client("cloudformation", endpoint).describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


@contextlib.contextmanager
def deployed_local_stage(
    *, output_dir: Path = DEFAULT_OUTPUT_DIR, log_dir: Path | None = None
) -> Iterator[tuple[MotoServer, dict[str, str]]]:
    """Start moto, deploy the local stage, yield (server, outputs); stop moto afterwards."""
    server = start_moto(log_path=log_dir / "moto.log" if log_dir else None)
    try:
        outputs = deploy_local_stage(
            server.endpoint,
            output_dir=output_dir,
            log_path=log_dir / "cdk-deploy.log" if log_dir else None,
        )
        yield server, outputs
    finally:
        server.stop()


# ----------------------------------------------------------------------------- moto extras


def serve(host: str, port: int) -> None:
    """Run moto's server in this process, with the extra CloudFormation models."""
    install_moto_extras()
    # Real SQS's FIFO redelivery order (see local/moto_fixes.py), also for the server.
    from local.moto_fixes import fix_fifo_redelivery_order

    fix_fifo_redelivery_order()
    from moto.server import main as moto_main

    moto_main(["--host", host, "--port", str(port)])


def install_moto_extras() -> None:
    """Teach moto's CloudFormation the resource types it lacks; keep SQS from running Lambdas.

    Must run before moto parses its first template: moto caches the list of
    CloudFormationModel subclasses on first use.
    """
    from moto.awslambda.models import lambda_backends
    from moto.cloudformation import parsing
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.sns.models import sns_backends
    from moto.sqs import models as sqs_models

    class _Extra:
        # Mixed into direct subclasses of CloudFormationModel (moto lists only those).
        TYPE = ""
        NAME_PROPERTY = ""

        def __init__(self, physical_id: str, attributes: Mapping[str, str]) -> None:
            self._physical_id = physical_id
            self._attributes = dict(attributes)

        @property
        def physical_resource_id(self) -> str:
            return self._physical_id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> str:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name not in self._attributes:
                raise UnformattedGetAttTemplateException()
            return self._attributes[attribute_name]

        def is_created(self) -> bool:
            return True

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: _Extra,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> Any:
            original_resource.delete(account_id, region_name)
            model: Any = cls  # a concrete model class below
            return model.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

        def delete(self, account_id: str, region_name: str) -> None:
            return None

    class SecretModel(_Extra, CloudFormationModel):
        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> SecretModel:
            properties = cloudformation_json.get("Properties", {})
            backend = secretsmanager_backends[account_id][region_name]
            value = properties.get("SecretString")
            generate = properties.get("GenerateSecretString")
            if value is None and generate is not None:
                value = backend.get_random_password(
                    password_length=int(generate.get("PasswordLength", 32)),
                    exclude_characters=generate.get("ExcludeCharacters", ""),
                    exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                    exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                    exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                    exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                    include_space=bool(generate.get("IncludeSpace", False)),
                    require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
                )
                value = json.loads(value)["RandomPassword"] if value.startswith("{") else value
            created = json.loads(
                backend.create_secret(
                    name=resource_name,
                    secret_string=value,
                    secret_binary=None,
                    description=properties.get("Description"),
                    tags=properties.get("Tags", []),
                    kms_key_id=properties.get("KmsKeyId"),
                    client_request_token=None,
                    replica_regions=[],
                    force_overwrite=False,
                )
            )
            return cls(created["ARN"], {"Id": created["ARN"]})

        def delete(self, account_id: str, region_name: str) -> None:
            secretsmanager_backends[account_id][region_name].delete_secret(
                secret_id=self._physical_id,
                recovery_window_in_days=None,
                force_delete_without_recovery=True,
            )

    class AlarmModel(_Extra, CloudFormationModel):
        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> AlarmModel:
            p = cloudformation_json.get("Properties", {})
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=resource_name,
                namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"),
                comparison_operator=p.get("ComparisonOperator"),
                evaluation_periods=int(p.get("EvaluationPeriods", 1)),
                period=int(p["Period"]),
                threshold=float(p["Threshold"]),
                statistic=p.get("Statistic"),
                extended_statistic=p.get("ExtendedStatistic"),
                description=p.get("AlarmDescription"),
                dimensions=p.get("Dimensions", []),
                alarm_actions=p.get("AlarmActions", []),
                ok_actions=p.get("OKActions", []),
                insufficient_data_actions=p.get("InsufficientDataActions", []),
                datapoints_to_alarm=(
                    int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None
                ),
                unit=p.get("Unit"),
                actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
                treat_missing_data=p.get("TreatMissingData"),
            )
            return cls(resource_name, {"Arn": alarm.alarm_arn})

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self._physical_id])

    class FunctionUrlModel(_Extra, CloudFormationModel):
        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::Url"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> FunctionUrlModel:
            p = cloudformation_json.get("Properties", {})
            target = p["TargetFunctionArn"]
            config = {"AuthType": p.get("AuthType", "NONE"), "InvokeMode": p.get("InvokeMode")}
            if "Cors" in p:
                config["Cors"] = p["Cors"]
            backend = lambda_backends[account_id][region_name]
            url = backend.create_function_url_config(target, config).to_dict()
            function_arn = backend.get_function(target).function_arn
            return cls(
                function_arn, {"FunctionUrl": url["FunctionUrl"], "FunctionArn": function_arn}
            )

        def delete(self, account_id: str, region_name: str) -> None:
            with contextlib.suppress(Exception):
                lambda_backends[account_id][region_name].delete_function_url_config(
                    self._physical_id
                )

    class SubscriptionModel(_Extra, CloudFormationModel):
        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::Subscription"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> SubscriptionModel:
            p = cloudformation_json.get("Properties", {})
            subscription = sns_backends[account_id][region_name].subscribe(
                p["TopicArn"], p["Endpoint"], p["Protocol"]
            )
            return cls(subscription.arn, {"Arn": subscription.arn})

        def delete(self, account_id: str, region_name: str) -> None:
            sns_backends[account_id][region_name].unsubscribe(self._physical_id)

    class QueuePolicyModel(_Extra, CloudFormationModel):
        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SQS::QueuePolicy"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> QueuePolicyModel:
            p = cloudformation_json.get("Properties", {})
            backend = sqs_models.sqs_backends[account_id][region_name]
            policy = json.dumps(p["PolicyDocument"])
            for queue_url in p.get("Queues", []):
                backend.set_queue_attributes(
                    queue_url.rstrip("/").rsplit("/", 1)[-1], {"Policy": policy}
                )
            return cls(resource_name, {"Id": resource_name})

    class TopicPolicyModel(_Extra, CloudFormationModel):
        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::TopicPolicy"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> TopicPolicyModel:
            p = cloudformation_json.get("Properties", {})
            backend = sns_backends[account_id][region_name]
            for topic_arn in p.get("Topics", []):
                backend.set_topic_attribute(topic_arn, "Policy", json.dumps(p["PolicyDocument"]))
            return cls(resource_name, {"Id": resource_name})

    # moto's AWS::DynamoDB::Table ignores TTL and point-in-time recovery: apply them.
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    table_class: Any = Table
    create_table = table_class.create_from_cloudformation_json.__func__

    def create_table_with_ttl(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        table = create_table(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        properties = cloudformation_json.get("Properties", {})
        backend = dynamodb_backends[account_id][region_name]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            enabled = str(ttl.get("Enabled", False)).lower() == "true"
            backend.update_time_to_live(
                table.name, {"AttributeName": ttl["AttributeName"], "Enabled": enabled}
            )
        pitr = properties.get("PointInTimeRecoverySpecification")
        if pitr:
            enabled = str(pitr.get("PointInTimeRecoveryEnabled", False)).lower() == "true"
            backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": enabled})
        return table

    table_class.create_from_cloudformation_json = classmethod(create_table_with_ttl)

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()

    # The local runtime drives the event source mappings; moto must not receive the
    # messages (and try to run the function in Docker) on every SendMessage.
    class _NotDrivenByMoto(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            return None

    queue_class: Any = sqs_models.Queue
    original_init = queue_class.__init__

    def queue_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.lambda_event_source_mappings = _NotDrivenByMoto()

    queue_class.__init__ = queue_init


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_stage", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve_parser = commands.add_parser("serve", help="run the extended moto server")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=5000)
    deploy_parser = commands.add_parser("deploy", help="start moto, deploy, print outputs, stop")
    deploy_parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR)
    args = parser.parse_args(argv)

    if args.command == "serve":
        # Through the importable module, not __main__: moto files model classes
        # under the second component of their module name.
        from local.moto_stage import serve as serve_imported

        serve_imported(args.host, args.port)
        return 0
    output_dir = getattr(args, "output", DEFAULT_OUTPUT_DIR)
    log_dir = ROOT / ".local"
    log_dir.mkdir(exist_ok=True)
    started = time.monotonic()
    try:
        with deployed_local_stage(output_dir=output_dir, log_dir=log_dir) as (server, outputs):
            print(f"moto on {server.endpoint} (pid {server.pid}); stack outputs:")
            width = max(map(len, outputs), default=0)
            for key in sorted(outputs):
                print(f"  {key:<{width}}  {outputs[key]}")
    except MotoStageError as error:
        print(f"local stage: {error}", file=sys.stderr)
        return 1
    print(f"deployed and stopped moto in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
