"""Topicdesk: a Telegram support inbox on AWS serverless.

Layers:
- ``domain``: relay rules, routing, rate-limit maths. Imports neither boto3 nor telegram.
- ``adapters``: DynamoDB, SQS, Secrets Manager and Telegram behind the domain's ports.
- ``handlers``: thin Lambda entry points (decorators, parse, one call into the domain).
"""
