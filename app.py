#!/usr/bin/env python3
"""CDK app: one Topicdesk stack for the stage chosen with `-c stage=NAME` (see cdk.json)."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from infra.config import ConfigError, load_stage_config
from infra.stack import build_app


def main() -> int:
    app = cdk.App()
    try:
        config = load_stage_config(app.node.try_get_context)
    except ConfigError as error:
        print(f"topicdesk: {error}", file=sys.stderr)
        return 1
    build_app(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
