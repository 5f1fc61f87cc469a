"""``python -m listener``: the listener service (same flags as ``lakehouse listen``)."""

import sys

from listener.cli import main

sys.exit(main())
