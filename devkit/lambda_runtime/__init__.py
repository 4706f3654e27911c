"""A local stand-in for AWS Lambda: Function URL events, SQS event source mappings, contexts.

It calls the very handlers that Lambda calls, with the event shapes Lambda sends, and applies
the answers the way Lambda does (partial batch responses, whole-batch failure on an exception).
"""

from devkit.lambda_runtime.context import FakeLambdaContext
from devkit.lambda_runtime.events import function_url_event, sqs_record
from devkit.lambda_runtime.sqs_source import BatchOutcome, SqsEventSource

__all__ = [
    "BatchOutcome",
    "FakeLambdaContext",
    "SqsEventSource",
    "function_url_event",
    "sqs_record",
]
