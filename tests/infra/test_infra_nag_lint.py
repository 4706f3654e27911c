"""cdk-nag (AWS Solutions) on every stage, acknowledgments with reasons, cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from infra.nag import acknowledge
from infra.stack import add_checks
from tests.infra.infra_synth import Synth

# Every finding the stack accepts, and nothing else (reasons live next to the constructs).
ACCEPTED = {
    "AwsSolutions-IAM5[Resource::*]",  # X-Ray actions have no resource-level permissions
    "AwsSolutions-L1",  # runtime pinned to python3.12 with the cp312 bundle
    "AwsSolutions-SMG4",  # secrets Secrets Manager cannot rotate (Telegram's token, webhook)
}
# A stage with widget projects (infra/widget.py) also accepts these.
WIDGET_ACCEPTED = {
    "AwsSolutions-APIG1",  # WebSocket access logs need the account-wide CloudWatch role
    "AwsSolutions-APIG4",  # anonymous visitors: $connect checks the widget key and Origin
    "AwsSolutions-IAM5[Resource::<this API's stage>/*/@connections/*]",  # ManageConnections
}
_CONNECTIONS = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:"


def test_no_findings_in_any_stage(assembly_dir: Path, stages: dict[str, Synth]) -> None:
    # The session synthesis ran the AwsSolutions plugin on all three stacks; it fails
    # synthesis on errors, and any warning would show up as a plugin report.
    report = json.loads((assembly_dir / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    assert set(stages) == {"dev", "prod", "local"}


def acknowledgments(synth: Synth) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in synth.body["Resources"].values():
        found.extend(resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []))
    return found


@pytest.mark.parametrize("stage", ["dev", "prod", "local"])
def test_every_acknowledgment_has_a_reason(stages: dict[str, Synth], stage: str) -> None:
    found = acknowledgments(stages[stage])
    assert found
    ids = {
        "AwsSolutions-IAM5[Resource::<this API's stage>/*/@connections/*]"
        if item["id"].startswith(_CONNECTIONS) and item["id"].endswith("/*/@connections/*]")
        else item["id"]
        for item in found
    }
    assert ids == ACCEPTED | (WIDGET_ACCEPTED if stages[stage].config.projects else set())
    for item in found:
        assert len(item["reason"]) >= 80, item


def test_an_unacknowledged_finding_stops_synth(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Careless")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    add_checks(app)
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::\*\]"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = report["pluginReports"][0]["violations"]
    assert [v["ruleName"] for v in violations] == ["AwsSolutions-IAM5[Resource::*]"]


def test_acknowledge_insists_on_a_reason() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    with pytest.raises(ValueError, match="write down why"):
        acknowledge(stack, "AwsSolutions-L1", "because")
    with pytest.raises(ValueError, match="not an AwsSolutions rule"):
        acknowledge(stack, "L1", "a long enough reason that is still refused")


def test_cfn_lint_is_clean_on_dev_and_prod(dev: Synth, prod: Synth) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", str(dev.path), str(prod.path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
