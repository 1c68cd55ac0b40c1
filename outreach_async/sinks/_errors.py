"""The errors of database sinks (part of the one tree under :class:`OutreachError`)."""

from __future__ import annotations

from outreach_async import OutreachError

__all__ = ["SinkConnectError", "SinkError", "SinkLayoutError", "SinkPermissionError"]


class SinkError(OutreachError):
    """A database sink cannot be used; nothing was written."""


class SinkConnectError(SinkError):
    """The database cannot be reached or refuses the login (the CLI exits 3)."""


class SinkPermissionError(SinkError):
    """The role may not create or write the tables, or the database is read-only (exit 3)."""


class SinkLayoutError(SinkError):
    """A table exists with columns typed otherwise than the layout (the CLI exits 2)."""
