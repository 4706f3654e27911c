"""``python -m devkit.moto``: moto's server with devkit's patches (see devkit.moto.server)."""

import sys

from devkit.moto.server import main

sys.exit(main())
