"""Topicdesk's CDK constructs: one per concern (see docs/architecture.md).

infra/ imports the product's contract (``topicdesk.contract``: env names, table layouts,
output names). `cdk synth` runs app.py with only the repository root on the path, so
``functions/`` is added when ``topicdesk`` is not importable yet (until functions/ is
installed the ordinary way, issue 12 item 5).
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("topicdesk") is None:  # pragma: no cover - depends on the caller
    sys.path.append(str(Path(__file__).resolve().parent.parent / "functions"))
