"""The `local` stage on moto: start moto's server, `cdk deploy` the stage to it, read outputs.

    python -m local.moto_stage            # start moto, deploy, print outputs, stop moto

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
* moto itself, with the resource types its CloudFormation lacks, its queues kept
  from running mapped functions (the local runtime drives the mappings) and real
  SQS's FIFO order: devkit.moto (`start_server`, a subprocess bound to 127.0.0.1
  on a free port, stopped by its pid).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from devkit.moto import (
    DUMMY_CREDENTIALS,
    REGION,
    MotoServer,
    MotoServerError,
    client,
    start_server,
)

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
DEFAULT_OUTPUT_DIR = ROOT / ".local" / "cdk.out"


class MotoStageError(RuntimeError):
    """moto did not start, or the deploy failed; the message says which and why."""


def start_moto(*, log_path: Path | None = None) -> MotoServer:
    """devkit's moto server (every patch applied), or a MotoStageError saying why not."""
    try:
        return start_server(log_path=log_path)
    except MotoServerError as error:
        raise MotoStageError(str(error)) from None


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


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_stage", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR)
    args = parser.parse_args(argv)

    output_dir = args.output
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
