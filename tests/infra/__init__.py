"""The synthesised stacks (aws_cdk.assertions, cdk-nag, cfn-lint), bundling, the local
stage deployed to moto."""
