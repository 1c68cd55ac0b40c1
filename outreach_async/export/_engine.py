"""``export_resource``: stream a collection to JSON Lines or CSV, exactly once, resumable.

The flow: plan spans of cursor values (one, or ``partitions`` of them), stream each span
through the one client (so one rate limiter and one connection budget) in ascending cursor
order, encode each page, and hand it to a single writer task through a bounded queue. The
writer appends to the output and, at most every ``commit_interval`` seconds and at the end,
``fsync``\\s the output and *then* saves the checkpoint (span states plus the output's byte
offset). A re-run first cuts the output back to that offset, so whatever was written after the
last checkpoint (a torn line after ``kill -9`` included) is dropped and written again once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from outreach_async import OutreachClient, QueryError, Resource

from ._checkpoint import CheckpointStore, MemoryCheckpointStore, checkpoint_key
from ._job import END, ExportJob, ProgressCallback
from ._output import FileOutput, Output, StreamOutput
from ._plan import Share, Span, parse_share
from ._records import Format
from ._resources import (
    Cursor,
    choose_cursor,
    cursor_bound,
    resolve_fields,
    resolve_resource,
)
from ._runs import Coordinator, FleetRun, LocalRun, RunStart

if TYPE_CHECKING:
    from outreach_async._schema import ResourceSpec

__all__ = ["ExportResult", "ProgressCallback", "export_resource"]

Sink = str | os.PathLike[str] | BinaryIO | Output


@attrs.frozen
class ExportResult:
    """What an export did."""

    #: the resource's path (``prospects``)
    resource: str
    #: records written by this run
    records: int
    #: the output's path (absolute) or ``"-"``
    output: str
    #: bytes in the output after the run
    offset: int
    #: spans (partitions) this process streamed
    spans: int
    #: whether this run continued one that an earlier process started
    resumed: bool
    #: where the next run of this sync starts: an aware datetime (``updatedAt``), an id for
    #: resources read in id order, None before the first record or in a fleet
    watermark: dt.datetime | int | None
    #: the server's count of the records this run expected, when it was asked
    total: int | None
    #: wall-clock seconds
    elapsed: float
    #: records that came below their span's watermark (the server did not sort as asked)
    out_of_order: int = 0
    #: records every run of this sync has written (with a checkpoint store)
    exported: int = 0
    #: fleet: this share is done and waits for the other shares of its run
    waiting: bool = False
    #: one-off exports: older versions of records changed during the run, dropped from the file
    superseded: int = 0


def _output_name(sink: Sink) -> str:
    if isinstance(sink, Output):
        return sink.name
    if isinstance(sink, str | os.PathLike):
        return os.path.abspath(os.fspath(sink))
    return "-"


def _watermark(job: ExportJob) -> dt.datetime | int | None:
    if job.base is None or job.base.watermark is None:
        return None
    return job.cursor.filter_value(job.base.watermark)


def _open_output(sink: Sink, start: RunStart, *, one_off: bool, restart: bool) -> Output:
    if isinstance(sink, Output):
        output = sink
    elif isinstance(sink, str | os.PathLike):
        output = FileOutput(sink)
    else:
        output = StreamOutput(sink)
    if isinstance(output, FileOutput) and one_off:
        output.open_one_off()  # FILE.partial, swapped in when complete
    elif isinstance(output, FileOutput):
        output.open(resume_at=start.resume_at, overwrite=restart)
    return output


async def export_resource(
    client: OutreachClient,
    resource: str | type[Resource],
    sink: Sink,
    *,
    format: Format = "jsonl",
    filter: Mapping[str, object] | None = None,
    since: object = None,
    until: object = None,
    fields: Sequence[str] | None = None,
    page_size: int = 1000,
    checkpoint: CheckpointStore | None = None,
    partitions: int = 1,
    partition: Share | str | None = None,
    progress: ProgressCallback | None = None,
    count: bool | None = None,
    dedupe: bool = False,
    commit_interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    restart: bool = False,
) -> ExportResult:
    """Export one resource type to JSON Lines (``format="jsonl"``) or CSV.

    - ``resource``: a path (``"prospects"``, ``"sequence_states"``, ``"sequenceStates"``), a type
      name or a model class. ``sink``: a file path, or a binary stream such as
      ``sys.stdout.buffer``.
    - ``filter`` takes what ``list(filter=...)`` takes; ``since``/``until`` bound the records'
      ``updatedAt`` (inclusive; a datetime, a date or ISO text); ``fields`` limits the fields
      written (and fetched).
    - ``checkpoint``: a store (SQLite, Redis) that makes the export a resumable, incremental
      sync: a file sink is appended to, and a re-run after any interruption continues where
      the last checkpoint left off, each record written exactly once. A later run writes what
      changed since (new versions of changed records included). A file that already holds
      records the store knows nothing of raises :class:`~outreach_async.UntrackedOutputError`
      (nothing is written); ``restart=True`` discards the store's checkpoint of this export
      and the file's contents, and starts over. Without a store a file sink is written beside
      the target (``FILE.partial``) and replaces it only when complete.
    - ``partitions``: split the cursor range into this many spans streamed concurrently.
      ``partition="i/N"``: run only share ``i`` of ``N`` (fleets; give them a shared store).
    - A record changed during the run is read again, as its new version. A one-off file (no
      ``checkpoint``) is compacted at the end to the newest line of each id
      (``ExportResult.superseded`` counts the lines dropped); ``dedupe`` writes each id at
      most once as it is first read, for streams, which cannot be compacted.
    - ``progress(records, total)`` is called as records are written; ``count`` asks the
      server for the total (default: when ``progress`` is given).

    Raises :class:`QueryError` for a bad resource, filter, field or bound before any request,
    and the client's errors (``APIError``, ``TransportError``) as they come.
    """
    started = clock()
    model = resolve_resource(resource) if isinstance(resource, str) else resource
    spec = model.__resource_spec__
    cursor = choose_cursor(spec)
    share = parse_share(partition) if isinstance(partition, str) else partition
    if partitions < 1:
        raise QueryError(f"partitions must be at least 1, got {partitions}")
    if restart and share is not None:
        raise QueryError("restart starts a local sync over; a fleet's shared plan cannot be")
    if page_size < 1 or page_size > 1000:
        raise QueryError(f"page_size must be between 1 and 1000, got {page_size}")
    _check_filter(spec, cursor, filter or {})
    job = ExportJob(
        client,
        model,
        fmt=format,
        filter=filter or {},
        since=cursor_bound(since, cursor, "since"),
        until=cursor_bound(until, cursor, "until"),
        fields=resolve_fields(spec, fields),
        page_size=page_size,
        partitions=partitions * (share.total if share else 1),
        dedupe=dedupe,
        commit_interval=commit_interval,
        clock=clock,
    )
    if job.since is not None and job.until is not None and job.until < job.since:
        raise QueryError(f"until ({until}) is before since ({since})")
    job.listing(job.since, job.until)  # validates the whole query before any request
    if checkpoint is None and isinstance(sink, Output):
        checkpoint = sink.checkpoints  # a database sink keeps them with its rows
    store = checkpoint if checkpoint is not None else MemoryCheckpointStore()
    identity = job.identity()
    run: Coordinator
    if share is None:
        key = checkpoint_key(spec.type, identity)
        run = LocalRun(store, key, identity, cursor, restart=restart)
    else:
        key = checkpoint_key(spec.type, {**identity, "shares": share.total})
        run = FleetRun(store, key, identity, cursor, share)
    output_name = _output_name(sink)
    start = await run.begin(output_name, job.plan)
    output = _open_output(sink, start, one_off=checkpoint is None, restart=restart)
    try:
        exported = await _run(job, run, start, output, partitions, progress, count)
    finally:
        await job.settle()
        output.close()
    # A one-off file was compacted just before it was swapped in (see _output.finish_one_off).
    compacted = output.compacted if isinstance(output, FileOutput) else None
    superseded = compacted.dropped if compacted is not None else 0
    return ExportResult(
        resource=spec.path,
        records=job.written - superseded,
        output=output.name,
        offset=output.offset if compacted is None else compacted.size,
        spans=len(start.spans),
        resumed=start.resumed,
        watermark=_watermark(job),
        total=job.total,
        elapsed=clock() - started,
        out_of_order=sum(s.out_of_order for s in start.spans.values()),
        exported=exported - superseded,
        waiting=start.waiting or _catching_up(job, start),
        superseded=superseded,
    )


def _catching_up(job: ExportJob, start: RunStart) -> bool:
    """Whether this fleet member's last span still waits for its catch-up pass."""
    return job.catch_up is not None and not start.spans[job.catch_up].done


async def _run(
    job: ExportJob,
    run: Coordinator,
    start: RunStart,
    output: Output,
    workers: int,
    progress: ProgressCallback | None,
    count: bool | None,
) -> int:
    job.snapshots = {i: s.snapshot() for i, s in start.spans.items()}
    job.flat_records = output.takes_records
    if output.offset == 0 and not output.takes_records:
        output.write_lines(job.encoder.header(), ())
    # The first checkpoint names this output and its offset before any record is written.
    await job.commit(output, run, start.exported)
    pending = [(i, s) for i, s in sorted(start.spans.items()) if not s.done]
    if not pending:
        return start.exported
    job.catch_up = await _catch_up_span(run, start, pending)
    job.progress = progress
    job.report()  # starts the progress clock: planning and connecting are not the export
    wanted = count or (count is None and progress is not None)
    counter = _start_counting(job, list(pending)) if wanted else None
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2 * workers + 2)
    try:
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(job.write(queue, output, run, start.exported))
            streams = [
                group.create_task(job.work(pending, queue))
                for _ in range(min(workers, len(pending)))
            ]
            group.create_task(_close_when_done(job, run, start, streams, queue))
    except BaseExceptionGroup as group_error:
        raise _first_cause(group_error) from None
    finally:
        if counter is not None:
            counter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await counter
    return writer.result()


def _start_counting(job: ExportJob, spans: list[tuple[int, Span]]) -> asyncio.Task[None]:
    """Ask the server for the total in the background: the export does not wait for it."""
    return asyncio.create_task(job.count_total(spans))


async def _catch_up_span(
    run: Coordinator, start: RunStart, pending: list[tuple[int, Span]]
) -> int | None:
    """The last span, when it is read beside other spans and so needs a catch-up pass.

    A record changed during the run moves past every span's end, to the top of the last one.
    If the last span's stream has already passed there while a lower span had not reached the
    record's old place, no stream reads it. A pass over the last span that starts once every
    other span is done reads whatever moved before it started, and what moves while it runs
    lands ahead of it."""
    last = start.last_span if start.last_span is not None else max(start.spans)
    if last not in dict(pending):
        return None
    if len(pending) > 1 or not await run.others_done(last):
        return last
    return None


async def _close_when_done(
    job: ExportJob,
    run: Coordinator,
    start: RunStart,
    streams: list[asyncio.Task[None]],
    queue: asyncio.Queue[Any],
) -> None:
    await asyncio.gather(*streams)
    last = job.catch_up
    if last is not None and await run.others_done(last):
        await job.stream(last, start.spans[last], queue)  # the final pass
    await queue.put(END)


def _first_cause(error: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a task group (not the cancellations it caused)."""
    for exc in error.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_cause(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return error


def _check_filter(spec: ResourceSpec, cursor: Cursor, filter: Mapping[str, object]) -> None:
    for key in filter:
        found = spec.attribute(key) if isinstance(key, str) else None
        wire = found.wire if found is not None else key
        if wire == cursor.wire:
            raise QueryError(
                f"the export reads {spec.path} in {cursor.wire} order and filters by it itself: "
                f"use since/until (--since/--until) instead of a filter on {key!r}"
            )
