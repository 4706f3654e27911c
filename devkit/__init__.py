"""The proving ground: what stands in for Telegram and AWS on a developer's machine.

``telegram_emulator`` (the Bot API), ``lambda_runtime`` (plays Lambda: Function URLs and SQS
event sources over local processes) and ``moto`` (moto with every patch the stage, the tests
and the benchmarks need; ``moto.sqs.empty_queue``); ``processes.run_python`` runs this
interpreter on the repository's code. Imports no product code (``topicdesk``, ``infra``,
``local``): a test walks it (tests/tooling/test_devkit.py).
"""
