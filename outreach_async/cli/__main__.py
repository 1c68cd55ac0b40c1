"""``python -m outreach_async.cli``: the same as the ``outreach-async`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
