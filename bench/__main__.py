"""``python -m bench``: see ``bench.webhook_bench``."""

from bench.webhook_bench import main

raise SystemExit(main())
