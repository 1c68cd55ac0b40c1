"""Bulk export and incremental sync: any resource to JSON Lines or CSV, exactly once.

```python
from outreach_async import OutreachClient
from outreach_async.export import SQLiteCheckpointStore, export_resource

async with OutreachClient(token) as outreach:
    store = SQLiteCheckpointStore("sync.db")
    result = await export_resource(outreach, "prospects", "prospects.jsonl", checkpoint=store)
```

- **Records.** One JSON object per line: ``type``, ``id``, the attributes by their API
  (camelCase) names, each relationship as the target id or a list of ids; timestamps in the
  API's millisecond UTC form. CSV has a fixed header from the resource's spec. See
  :mod:`outreach_async.export._records` for the exact, stable shape.
- **Order and resume.** Records are read in ascending ``updatedAt`` (the resource's
  watermark; ``id`` for the few resources the API cannot filter by time), filtered
  ``updatedAt >= watermark``. The API's lower bound is inclusive, so the checkpoint keeps the
  ids already written at the watermark and skips them on resume.
- **Exactly once.** Records are appended, the file is ``fsync``\\ed, and only then does the
  checkpoint move (recording the file's byte offset). A re-run cuts the file back to that
  offset and resumes: ``kill -9`` at any moment, then a re-run, leaves each record in the file
  exactly once. A record changed *during* a run is read again later as its new version (it
  has a newer ``updatedAt``); a one-off file is compacted to each id's newest line at the end.
  A file that holds records its checkpoint does not know is refused
  (:class:`~outreach_async.UntrackedOutputError`); ``restart=True`` starts the sync over.
- **One-off exports** (no checkpoint store) write ``FILE.partial`` beside the target and swap it
  in only when complete (:func:`~outreach_async.export._output.finish_one_off`): the previous
  file survives any failure, interruption or ``kill -9``.
- **Partitions.** ``partitions=N`` splits the range into N spans streamed concurrently through
  the one client (one rate limiter); ``partition="i/N"`` runs one share for fleets, with a
  shared :class:`RedisCheckpointStore` (and the Redis rate limiter).
"""

from ._checkpoint import (
    CheckpointError,
    CheckpointStore,
    MemoryCheckpointStore,
    SQLiteCheckpointStore,
    canonical_json,
    checkpoint_key,
    decode_checkpoint,
)
from ._engine import ExportResult, ProgressCallback, export_resource
from ._output import FileOutput, Output, OutputLockedError, OutputMismatchError, StreamOutput
from ._plan import Share, parse_share
from ._progress import PartitionProgress, ProgressBar
from ._records import Format, RecordEncoder, csv_columns, format_time
from ._redis_store import RedisCheckpointStore
from ._resources import UnknownResourceError, resolve_resource

__all__ = [
    "CheckpointError",
    "CheckpointStore",
    "ExportResult",
    "FileOutput",
    "Format",
    "MemoryCheckpointStore",
    "Output",
    "PartitionProgress",
    "OutputLockedError",
    "OutputMismatchError",
    "ProgressBar",
    "ProgressCallback",
    "RecordEncoder",
    "RedisCheckpointStore",
    "SQLiteCheckpointStore",
    "Share",
    "StreamOutput",
    "UnknownResourceError",
    "canonical_json",
    "checkpoint_key",
    "csv_columns",
    "decode_checkpoint",
    "export_resource",
    "format_time",
    "parse_share",
    "resolve_resource",
]
