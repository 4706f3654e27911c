"""Topicdesk's tests: one package per layer (see README "Tests"), shared helpers in
``tests.support``. Imported as ``tests.<layer>.<module>``; nothing edits ``sys.path``."""
