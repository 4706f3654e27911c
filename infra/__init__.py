"""Topicdesk's CDK constructs: one per concern (see docs/architecture.md).

infra/ imports the product's contract (``topicdesk.contract``: env names, table layouts,
output names); ``topicdesk`` is installed in the virtualenv (``pip install -e .``, the
Makefile's venv step), and `cdk synth` runs app.py with that virtualenv's python (cdk.json).
"""
