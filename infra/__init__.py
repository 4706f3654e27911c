"""Topicdesk's CDK constructs: one per concern (see docs/architecture.md)."""
