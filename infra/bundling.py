"""The one Lambda code asset: `functions/` plus `requirements.txt`, built without Docker.

Dependencies are installed with pip for the Lambda platform (linux/arm64,
CPython 3.12, binary wheels only) into `.cache/lambda-deps/<key>/`, where the
key hashes requirements.txt and the target platform, so a second synth (or a
fresh clone of cdk.out) never reinstalls. The asset hash is computed by us from
the sources and the requirements, so CDK can skip bundling entirely when
`cdk.out/asset.<hash>/` already exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
REQUIREMENTS = ROOT / "requirements.txt"
CACHE_DIR = ROOT / ".cache" / "lambda-deps"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = RUNTIME.name.removeprefix("python")  # "3.12"
PIP_PLATFORM = "manylinux2014_aarch64"
PIP_IMPLEMENTATION = "cp"

# The Lambda runtime ships boto3/botocore/s3transfer and what botocore needs (urllib3,
# python-dateutil, six, jmespath); a transitive copy in the bundle (aws-xray-sdk pulls
# botocore) would shadow the runtime's matching set with versions botocore was not built with.
RUNTIME_PROVIDED = (
    "boto3",
    "botocore",
    "s3transfer",
    "urllib3",
    "dateutil",
    "python_dateutil",
    "six",
    "jmespath",
)

# Bump when the way the bundle is built changes, so old cache entries are not reused.
RECIPE = "2"

_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


class BundlingError(RuntimeError):
    """pip could not build the dependencies for the Lambda platform."""


def source_files(directory: Path = FUNCTIONS_DIR) -> list[Path]:
    """Files that go into the asset, sorted, without caches and byte code."""
    found: list[Path] = []
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        found.extend(
            Path(current) / name for name in sorted(files) if not name.endswith(_SKIP_SUFFIXES)
        )
    return found


def dependencies_key(requirements: Path = REQUIREMENTS) -> str:
    digest = hashlib.sha256()
    for part in (RECIPE, PIP_PLATFORM, PIP_IMPLEMENTATION, PYTHON_VERSION):
        digest.update(part.encode() + b"\0")
    digest.update(requirements.read_bytes())
    return digest.hexdigest()[:32]


def asset_hash(directory: Path = FUNCTIONS_DIR, requirements: Path = REQUIREMENTS) -> str:
    """Covers every source file (path and bytes) and the dependency set."""
    digest = hashlib.sha256(dependencies_key(requirements).encode())
    for path in source_files(directory):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def install_dependencies(requirements: Path = REQUIREMENTS, cache_dir: Path = CACHE_DIR) -> Path:
    """pip-install requirements for the Lambda platform once; return the cached directory."""
    target = cache_dir / dependencies_key(requirements)
    if (target / ".complete").exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        PIP_PLATFORM,
        "--implementation",
        PIP_IMPLEMENTATION,
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(staging),
        "-r",
        str(requirements),
    ]
    print(
        f"bundling: pip install for {PIP_PLATFORM} cp{PYTHON_VERSION} -> {target}", file=sys.stderr
    )
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BundlingError(
            f"pip could not install {requirements.name} for {PIP_PLATFORM}: "
            + (detail[-1] if detail else f"exit code {result.returncode}")
        )
    _remove_runtime_provided(staging)
    (staging / ".complete").write_text(dependencies_key(requirements) + "\n")
    try:
        staging.rename(target)
    except OSError:
        # Another synth (e.g. a parallel test worker) finished first: use its copy.
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / ".complete").exists():
            raise
    return target


def _remove_runtime_provided(directory: Path) -> None:
    for entry in list(directory.iterdir()):
        name = entry.name.lower()
        for package in RUNTIME_PROVIDED:
            if name in (package, f"{package}.py") or (
                name.startswith(f"{package}-") and name.endswith(".dist-info")
            ):
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                break
    bin_dir = directory / "bin"
    if bin_dir.is_dir():
        shutil.rmtree(bin_dir)


def copy_sources(output_dir: Path, directory: Path = FUNCTIONS_DIR) -> None:
    for path in source_files(directory):
        destination = output_dir / path.relative_to(directory)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """CDK local bundling: cached pip install + a copy of `functions/`.

    Never falls back to Docker: it either bundles or raises BundlingError.
    """

    def __init__(
        self,
        functions_dir: Path = FUNCTIONS_DIR,
        requirements: Path = REQUIREMENTS,
        cache_dir: Path = CACHE_DIR,
    ) -> None:
        self._functions_dir = functions_dir
        self._requirements = requirements
        self._cache_dir = cache_dir

    def try_bundle(
        self,
        output_dir: str,
        *,
        image: cdk.DockerImage,
        bundling_file_access: cdk.BundlingFileAccess | None = None,
        command: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        local: cdk.ILocalBundling | None = None,
        network: str | None = None,
        output_type: cdk.BundlingOutput | None = None,
        platform: str | None = None,
        security_opt: str | None = None,
        user: str | None = None,
        volumes: Sequence[cdk.DockerVolume | dict[str, Any]] | None = None,
        volumes_from: Sequence[str] | None = None,
        working_directory: str | None = None,
    ) -> bool:
        output = Path(output_dir)
        dependencies = install_dependencies(self._requirements, self._cache_dir)
        shutil.copytree(
            dependencies,
            output,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".complete"),
        )
        copy_sources(output, self._functions_dir)
        return True


def lambda_code() -> lambda_.Code:
    """One asset for every function; bundling is skipped when the context says so."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_hash(),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds or raises.
            image=RUNTIME.bundling_image,
            command=["false"],
            local=PipLocalBundling(),
        ),
    )
