"""cdk-nag acknowledgments: every accepted finding carries its reason, next to its construct.

cdk-nag 3 uses CDK's `Validations.of(construct).acknowledge(...)` (v2's NagSuppressions
is gone); one call per rule id, granular findings as `RuleId[Finding]`.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one AwsSolutions finding on `construct` and everything below it."""
    if not rule.startswith("AwsSolutions-"):
        raise ValueError(f"not an AwsSolutions rule id: {rule}")
    if len(reason.strip()) < 20:
        raise ValueError(f"{rule}: write down why the finding is accepted")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
