"""This interpreter as a child process: how the stage's tests, the benchmarks and the tools run
a module, a script or a line of the repository in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_python(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python *args`` with this interpreter in ``cwd``; its output captured as text."""
    command = [sys.executable, *args]
    return subprocess.run(  # noqa: S603 - this interpreter, the repository's own code
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=check
    )
