"""``python -m outreach_async.sandbox [--port 8787] [--seed 10000] ...``: serve a sandbox."""

from .cli import serve_command

raise SystemExit(serve_command())
