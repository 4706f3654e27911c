"""``make bench-limits``: Telegram's flood limits under load (issue 6).

Three loads against the Bot API emulator with its limits on, with K = 1, 4, 16 consumer
processes sharing moto-backed DynamoDB: (a) a broadcast to many private chats, (b) many people
writing at once into one operators' group, (c) one chatty person. Each is run with Topicdesk's
shared GCRA limiter and with python-telegram-bot's ``AIORateLimiter`` in the same consumers.
See ``bench.limits.run`` and docs/benchmarks.md.
"""
