"""Docker-free bundling: the asset hash, the pip cache, what goes into the asset."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra import bundling
from tests.infra.infra_synth import Synth


def make_sources(root: Path) -> Path:
    functions = root / "functions"
    (functions / "topicdesk" / "handlers").mkdir(parents=True)
    (functions / "topicdesk" / "__init__.py").write_text("")
    (functions / "topicdesk" / "handlers" / "webhook.py").write_text("def handler(e, c): ...\n")
    cache = functions / "topicdesk" / "__pycache__"
    cache.mkdir()
    (cache / "x.cpython-312.pyc").write_bytes(b"\0")
    (functions / "topicdesk" / "stale.pyc").write_bytes(b"\0")
    return functions


def test_asset_hash_covers_sources_and_requirements(tmp_path: Path) -> None:
    functions = make_sources(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("python-telegram-bot==22.8\n")
    first = bundling.asset_hash(functions, requirements)
    assert bundling.asset_hash(functions, requirements) == first

    (functions / "topicdesk" / "__pycache__" / "y.pyc").write_bytes(b"changed")
    assert bundling.asset_hash(functions, requirements) == first  # caches do not count

    (functions / "topicdesk" / "handlers" / "webhook.py").write_text("def handler(e, c): 1\n")
    second = bundling.asset_hash(functions, requirements)
    assert second != first

    requirements.write_text("python-telegram-bot==22.7\n")
    assert bundling.asset_hash(functions, requirements) != second


def test_source_files_skip_caches(tmp_path: Path) -> None:
    functions = make_sources(tmp_path)
    names = [p.relative_to(functions).as_posix() for p in bundling.source_files(functions)]
    assert names == ["topicdesk/__init__.py", "topicdesk/handlers/webhook.py"]


def asset_key(monkeypatch: Any, custom_hash: str) -> str:
    """The S3 key CDK gives the code asset when our hash function returns `custom_hash`."""
    monkeypatch.setattr(bundling, "asset_hash", lambda *args: custom_hash)
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Asset")
    lambda_.Function(
        stack,
        "Function",
        runtime=bundling.RUNTIME,
        handler="topicdesk.handlers.webhook.handler",
        code=bundling.lambda_code(),
    )
    code = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    [function] = code.values()
    key: str = function["Properties"]["Code"]["S3Key"]
    return key


def test_the_asset_follows_the_custom_hash(monkeypatch: Any) -> None:
    first = asset_key(monkeypatch, "a" * 64)
    assert asset_key(monkeypatch, "a" * 64) == first
    assert asset_key(monkeypatch, "b" * 64) != first


def test_every_stage_uses_the_same_asset(dev: Synth, prod: Synth) -> None:
    keys = {
        function["Properties"]["Code"]["S3Key"]
        for synth in (dev, prod)
        for function in synth.resources("AWS::Lambda::Function").values()
    }
    assert len(keys) == 1


def test_pip_targets_the_lambda_platform_once(tmp_path: Path, monkeypatch: Any) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to install\n")
    cache = tmp_path / "cache"
    commands: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(command: list[str], **kwargs: Any) -> Any:
        commands.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(bundling.subprocess, "run", recording_run)
    target = bundling.install_dependencies(requirements, cache)
    assert target == cache / bundling.dependencies_key(requirements)
    assert (target / ".complete").exists()
    [command] = commands
    text = " ".join(command)
    for flag in (
        "--platform manylinux2014_aarch64",
        "--implementation cp",
        "--python-version 3.12",
        "--only-binary=:all:",
        f"--target {target.parent}/",
    ):
        assert flag in text, flag

    def no_pip(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cached install must be reused")

    monkeypatch.setattr(bundling.subprocess, "run", no_pip)
    assert bundling.install_dependencies(requirements, cache) == target


def test_pip_failure_is_a_bundling_error(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--definitely-not-a-pip-option\n")
    with pytest.raises(bundling.BundlingError, match="pip could not install"):
        bundling.install_dependencies(requirements, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())  # nothing half-written is kept


def test_local_bundling_copies_dependencies_and_sources(tmp_path: Path) -> None:
    functions = make_sources(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing\n")
    cache = tmp_path / "cache"
    deps = cache / bundling.dependencies_key(requirements)
    (deps / "telegram").mkdir(parents=True)
    (deps / "telegram" / "__init__.py").write_text("")
    (deps / ".complete").write_text("")
    output = tmp_path / "asset"
    output.mkdir()
    bundler = bundling.PipLocalBundling(functions, requirements, cache)
    assert bundler.try_bundle(str(output), image=cdk.DockerImage.from_registry("unused"))
    files = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    assert files == [
        "telegram/__init__.py",
        "topicdesk/__init__.py",
        "topicdesk/handlers/webhook.py",
    ]


def test_runtime_provided_sdk_is_not_bundled(tmp_path: Path) -> None:
    for name in ("boto3", "botocore", "botocore-1.40.0.dist-info", "s3transfer", "telegram"):
        (tmp_path / name).mkdir()
    bundling._remove_runtime_provided(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["telegram"]
