"""``make bench``: Topicdesk's webhook and consumer measured against a naive inline webhook.

Run ``python -m bench`` (``make bench``); see ``bench.webhook_bench``.
Kept free of imports so that importing ``bench.naive_webhook`` measures that module alone.
"""
