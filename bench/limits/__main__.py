"""``python -m bench.limits``: see ``bench.limits.run``.

Guarded: the consumers are spawned processes, and spawning imports this module again (as
``__mp_main__``); they must not start a benchmark of their own.
"""

if __name__ == "__main__":
    from bench.limits.run import entry

    raise SystemExit(entry())
