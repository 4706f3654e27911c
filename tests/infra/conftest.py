"""Infra tests: every stage synthesised once per session, in one app, without bundling.

The stacks are built exactly as app.py builds them (TopicdeskStack + the cdk-nag
checks); `aws:cdk:bundling-stacks = []` makes CDK skip the pip bundling, so these
tests never touch the network. cdk-nag runs as a validation plugin during this
synthesis: an unacknowledged finding fails the fixture, and with it every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

from infra.stack import TopicdeskStack, add_checks
from tests.infra.infra_synth import STAGES, Synth, cdk_context, stage_config


def _synthesize(outdir: Path) -> tuple[dict[str, Synth], Path]:
    app = cdk.App(
        context={**cdk_context(), "aws:cdk:bundling-stacks": []},
        outdir=str(outdir),
    )
    stacks = {stage: TopicdeskStack(app, config=stage_config(stage)) for stage in STAGES}
    add_checks(app)
    assembly = app.synth()
    synths: dict[str, Synth] = {}
    for stage, stack in stacks.items():
        artifact = assembly.get_stack_by_name(stack.stack_name)
        body: dict[str, Any] = artifact.template
        synths[stage] = Synth(
            config=stack.config,
            body=body,
            path=Path(artifact.template_full_path),
        )
    return synths, outdir


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Synth], Path]:
    return _synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def stages(synthesized: tuple[dict[str, Synth], Path]) -> dict[str, Synth]:
    return synthesized[0]


@pytest.fixture(scope="session")
def assembly_dir(synthesized: tuple[dict[str, Synth], Path]) -> Path:
    return synthesized[1]


@pytest.fixture(scope="session")
def dev(stages: dict[str, Synth]) -> Synth:
    return stages["dev"]


@pytest.fixture(scope="session")
def prod(stages: dict[str, Synth]) -> Synth:
    return stages["prod"]


@pytest.fixture(scope="session")
def local(stages: dict[str, Synth]) -> Synth:
    return stages["local"]


@pytest.fixture(params=["dev", "prod"])
def real(request: pytest.FixtureRequest, stages: dict[str, Synth]) -> Iterator[Synth]:
    """The deployable stages (AWS accounts): each test runs for dev and for prod."""
    yield stages[request.param]
