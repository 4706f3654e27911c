"""The composition root: the one place that builds boto3 clients, the Bot and the adapters,
and wires them into each function's runtime. Handlers call one function here (once per
container); runtimes and domain services get their ports passed in.

Settings are read and checked first (``topicdesk.settings``): a missing variable stops the
cold start with one clear error. One module per function, so that the webhook's cold start
loads no Telegram library (``webhook``), while ``consumer`` and ``dead_letters`` do.
"""
