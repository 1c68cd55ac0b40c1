"""One export's work: planning spans, streaming them page by page, and the single writer.

:func:`~outreach_async.export.export_resource` sets an :class:`ExportJob` up and runs its
streams and its writer; the job holds everything they share (the query, the encoder, the
span states last written, the counters).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import attrs
import orjson

from outreach_async import OutreachClient, OutreachError, Paginator, Range, Resource
from outreach_async._jsonapi import SIMDJSON_OBJECT, SIMDJSON_OBJECT_OR_NONE
from outreach_async._relationships import as_id

from ._checkpoint import Document
from ._output import Output
from ._plan import Base, Density, Span, Verdict, plan_spans, run_start, split_edges
from ._progress import PartitionProgress
from ._records import Format, RecordEncoder
from ._resources import Cursor, CursorValue, choose_cursor
from ._runs import Coordinator

__all__ = ["END", "ExportJob", "ProgressCallback"]

#: called with (records written by this run, total expected or None) as the export goes
ProgressCallback = Callable[[int, "int | None"], None]

#: what the streams put in the queue once they are all done
END = object()

#: one record of a decoded page: its cursor position, its id and its line, or its flat record
#: for an output that :attr:`~Output.takes_records`
Line = tuple[CursorValue | None, int | None, Any]
_MOST_DENSITY_BINS = 16


@attrs.define
class _Batch:
    index: int
    #: the records' lines, joined, or their flat records (see :attr:`ExportJob.flat_records`)
    data: bytes | list[dict[str, Any]]
    #: the records' ids, in order
    ids: list[int | None]
    snapshot: Document

    def write_to(self, output: Output) -> None:
        if isinstance(self.data, bytes):
            output.write_lines(self.data, self.ids)
        else:
            output.write_records(self.data, self.ids)


class ExportJob:
    """The state of one export call (see :func:`export_resource`)."""

    def __init__(
        self,
        client: OutreachClient,
        model: type[Resource],
        *,
        fmt: Format,
        filter: Mapping[str, object],
        since: CursorValue | None,
        until: CursorValue | None,
        fields: tuple[str, ...] | None,
        page_size: int,
        partitions: int,
        dedupe: bool,
        commit_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.spec = model.__resource_spec__
        self.repository = client.repository(model)
        #: widths of the cursor range that planning counts records in: one round trip's worth
        #: (at most 16 requests of the hour's budget)
        self.density_bins = min(max(2, client.transport.max_concurrency), _MOST_DENSITY_BINS)
        self.cursor: Cursor = choose_cursor(self.spec)
        self.filter = dict(filter)
        self.since, self.until = since, until
        self.fields = fields
        self.page_size = page_size
        self.partitions = partitions
        self.encoder = RecordEncoder(self.spec, fields, fmt)
        self.dedupe: set[int] | None = set() if dedupe else None
        self.commit_interval = commit_interval
        self.clock = clock
        self.snapshots: dict[int, Document] = {}
        self.written = 0
        #: records written by this run per span (partition) index, and the server's counts
        self.span_written: dict[int, int] = {}
        self.span_totals: dict[int, int] = {}
        self.total: int | None = None
        self.progress: ProgressCallback | None = None
        self.base: Base | None = None
        self.syncing: asyncio.Future[None] | None = None
        #: the last span, while its first pass runs beside other spans (see :meth:`work`)
        self.catch_up: int | None = None
        #: whether the streams make flat records, not lines: the output takes records (a
        #: database sink, see :attr:`Output.takes_records`)
        self.flat_records = False

    # -------------------------------------------------------------- queries

    def request_fields(self) -> dict[str, list[str]] | None:
        if self.fields is None:
            return None
        wanted = list(self.fields)
        if self.cursor.is_time and self.cursor.wire not in wanted:
            wanted.append(self.cursor.wire)  # needed to follow the watermark; not written
        return {self.spec.type: wanted}

    def listing(
        self,
        lo: CursorValue | None,
        hi: CursorValue | None,
        *,
        descending: bool = False,
        page_size: int | None = None,
        probe: bool = False,
    ) -> Paginator[Any]:
        """The records between two cursor positions in cursor order; a ``probe`` fetches only
        the cursor field."""
        filter = dict(self.filter)
        if lo is not None or hi is not None:
            to_filter = self.cursor.filter_value
            filter[self.cursor.name] = Range(
                None if lo is None else to_filter(lo), None if hi is None else to_filter(hi)
            )
        fields = self.request_fields()
        if probe and self.cursor.is_time:
            fields = {self.spec.type: [self.cursor.wire]}
        return self.repository.list(
            filter=filter,
            sort=("-" if descending else "") + self.cursor.wire,
            fields=fields,
            page_size=page_size or self.page_size,
        )

    def identity(self) -> Document:
        """What makes two exports the same sync: the resource, its filter, the fields."""
        url = self.repository.list(filter=self.filter).url
        return {
            "resource": self.spec.type,
            "query": {
                "filter": sorted(url.query.items()),
                "fields": None if self.fields is None else sorted(self.fields),
            },
        }

    # -------------------------------------------------------------- planning

    async def plan(self, base: Base) -> list[Span]:
        first = last = None
        density: Density | None = None
        if self.partitions > 1:
            start, seen = run_start(base, self.since)
            first, last = await asyncio.gather(self._lowest(start, seen), self._highest(start))
            if first is not None and last is not None:
                density = await self._density(split_edges(first, last, self.density_bins))
        return plan_spans(
            base=base,
            since=self.since,
            until=self.until,
            first=first,
            last=last,
            count=self.partitions if first is not None else 1,
            density=density,
        )

    async def _density(self, bins: Sequence[int]) -> Density | None:
        """The server's count of the records in each bin, all asked at once (one round trip),
        so that spans share the records evenly however they cluster in time; None when the
        server does not count (the spans then split the range in equal widths)."""
        if len(bins) < 3:
            return None
        # Each width [lo, hi) as lo..hi-1 (cursor values are whole numbers), so a record on an
        # edge counts once; the last one up to the highest value, inclusive.
        ranges = [(lo, hi - 1) for lo, hi in itertools.pairwise(bins[:-1])]
        ranges.append((bins[-2], bins[-1]))
        counting = (self.listing(lo, hi, probe=True).count() for lo, hi in ranges)
        try:
            return Density(tuple(bins), tuple(await asyncio.gather(*counting)))
        except OutreachError:
            return None

    async def _lowest(self, start: CursorValue | None, seen: frozenset[int]) -> CursorValue | None:
        """The lowest cursor value still to export: one small request. Records at ``start``
        that were written already do not count (they would stretch the first span)."""
        size = min(1000, len(seen) + 1)
        listing = self.listing(start, self.until, page_size=size, probe=True)
        for model in await listing.collect(limit=size):
            value = self.cursor.value_of(model)
            if value != start or model.id not in seen:
                return value
        return None

    async def _highest(self, start: CursorValue | None) -> CursorValue | None:
        """The highest cursor value present: one request for one record."""
        listing = self.listing(start, self.until, descending=True, page_size=1, probe=True)
        found = await listing.first()
        return None if found is None else self.cursor.value_of(found)

    async def count_total(self, spans: Sequence[tuple[int, Span]]) -> None:
        """The server's count of the records the open spans will read (for the ETA), in all
        and per partition."""

        spans = list(spans)  # the workers take spans off the caller's list as they go

        async def one(span: Span) -> int:
            return await self.listing(span.resume_from, span.hi, probe=True).count()

        try:
            counts = await asyncio.gather(*(one(s) for _, s in spans))
        except Exception:  # the ETA is a nicety: a server without counts loses only that
            return
        self.span_totals = {index: n for (index, _), n in zip(spans, counts, strict=True)}
        self.total = sum(counts)
        self.report()

    # -------------------------------------------------------------- streaming

    async def stream(
        self, index: int, span: Span, queue: asyncio.Queue[Any], *, final: bool = True
    ) -> None:
        """Read one span in ascending cursor order and queue its pages, encoded; a pass that
        is not ``final`` leaves the span open (its watermark saved) for another pass."""
        # the resource objects as the API sent them: the records are flattened from those,
        # with no model built; JSON Lines of every field from simdjson's proxies (no Python
        # object per value, RecordFlattener.wire_line), else with RecordFlattener.from_wire
        url = self.listing(span.resume_from, span.hi).url
        if self.reads_raw_pages:
            pages = self.repository.list_raw_pages(url, self.decode_raw_page).pages()
        else:
            pages = self.repository.list_wire_pages(url, self.decode_page).pages()
        try:
            async for page in pages:
                # Let the paginator's prefetch send its request before this page's CPU work:
                # awaiting a queue with room never suspends, so without this the next request
                # would leave only once this page is done (no overlap with the server's work).
                await asyncio.sleep(0)
                data, ids, stop = self.encode_page(span, page.items)
                await queue.put(_Batch(index, data, ids, span.snapshot()))
                if stop:
                    break
        finally:
            await _close(pages)  # cancels the paginator's prefetch when we stop early
        span.done = final
        await queue.put(_Batch(index, b"", [], span.snapshot()))

    def decode_page(self, resources: Sequence[Mapping[str, Any]]) -> list[Line]:
        """Each record of a page as its cursor position, id and line (or flat record, see
        :attr:`flat_records`), in page order. Pure (no span is touched): it runs while the
        paginator decodes the page, so the parsed resource objects are gone before the page is
        handed over (see ``list_wire_pages``)."""
        position = self.cursor.wire_value_of
        lines: list[Any]
        if self.flat_records:
            lines = list(map(self.encoder.flattener.from_wire, resources))
        else:
            lines = self.encoder.wire_lines(resources)
        out: list[Line] = []
        for resource, line in zip(resources, lines, strict=True):
            id_ = resource.get("id")
            out.append((position(resource), id_ if id_.__class__ is int else as_id(id_), line))
        return out

    @property
    def reads_raw_pages(self) -> bool:
        """Whether the streams read pages with simdjson (:meth:`decode_raw_page`): JSON Lines
        or flat records of every field; CSV and ``fields`` take :meth:`decode_page`'s path."""
        if self.encoder.fields is not None:
            return False
        return self.flat_records or self.encoder.format == "jsonl"

    def decode_raw_page(self, resources: Any) -> list[Line]:
        """As :meth:`decode_page`, the page read by simdjson (see ``list_raw_pages``): a
        ``simdjson.Array`` of resource object proxies, or the list of resource dicts when
        simdjson did not read the page. A record :meth:`RecordFlattener.wire_line` cannot write
        exactly takes :meth:`decode_page`'s path, as a dict. No proxy outlives the call."""
        if resources.__class__ is list:
            return self.decode_page(resources)
        if self.flat_records:
            return self._decode_raw_records(resources)
        position, line_of = self.cursor.wire_value_of, self.encoder.flattener.wire_line
        out: list[Line] = []
        for resource in resources:  # per record: locals
            line = line_of(resource)
            if line is None:
                out += self.decode_page([resource.as_dict()])
            else:  # wire_line wrote an integer id
                out.append((position(resource), resource.get("id"), line))
        return out

    def _decode_raw_records(self, resources: Any) -> list[Line]:
        """:meth:`decode_raw_page` for an output that takes flat records: the record
        :meth:`RecordFlattener.from_wire` makes, from the attributes and relationships as
        simdjson minifies them, read by orjson (no Python object per proxy value)."""
        position, flat, loads = self.cursor.wire_value_of, self.encoder.flattener.from_wire, _loads
        out: list[Line] = []
        for resource in resources:  # per record: locals
            attributes = resource.get("attributes")
            relationships = resource.get("relationships")
            if (
                attributes.__class__ is SIMDJSON_OBJECT
                and relationships.__class__ in SIMDJSON_OBJECT_OR_NONE
            ):
                # from_wire's record as a mapping: the attributes, then type, id and the
                # relationships' ids over them (a 248-key record is not copied)
                record = loads(attributes)
                rest = {"id": resource.get("id")}
                if relationships is not None:
                    rest["relationships"] = loads(relationships)
                record.update(flat(rest))
            else:
                record = flat(loads(resource))
            out.append((position(resource), record["id"], record))
        return out

    def encode_page(
        self, span: Span, records: Sequence[Line]
    ) -> tuple[bytes | list[dict[str, Any]], list[int | None], bool]:
        """One page's writing (see :meth:`decode_page`): the lines (joined) or flat records to
        write, advancing the span, their ids, and whether the span's stream is over."""
        judge, write = span.judge, Verdict.WRITE
        keep: list[Any] = []
        ids: list[int | None] = []
        stop = False
        for position, id_, line in records:  # per record: locals
            verdict = judge(position, id_)
            if verdict is write:
                if self.dedupe is None or self._first_time(id_):
                    keep.append(line)
                    ids.append(id_)
            elif verdict is Verdict.STOP:
                stop = True
                break
        span.written += len(keep)
        return (keep if self.flat_records else b"".join(keep)), ids, stop

    def _first_time(self, id_: int | None) -> bool:
        if self.dedupe is None or id_ is None:
            return True
        if id_ in self.dedupe:
            return False
        self.dedupe.add(id_)
        return True

    async def work(self, pending: list[tuple[int, Span]], queue: asyncio.Queue[Any]) -> None:
        """One worker: streams spans from ``pending`` until none is left.

        The first pass over the :attr:`catch_up` span is not final: a record changed while the
        other spans run moves past every span's end, to the top of the last one, possibly
        after its stream has passed there. A pass that starts once the others are done reads
        it (see ``_engine``)."""
        while pending:
            index, span = pending.pop(0)
            await self.stream(index, span, queue, final=index != self.catch_up)

    # -------------------------------------------------------------- writing

    async def write(
        self, queue: asyncio.Queue[Any], output: Output, run: Coordinator, exported: int
    ) -> int:
        """The single writer: append batches, and checkpoint after fsync. Returns the records
        written over every run."""
        last_commit = self.clock()
        while True:
            items = [await queue.get()]
            while not queue.empty():
                items.append(queue.get_nowait())
            finished = False
            for item in items:
                if item is END:
                    finished = True
                    continue
                count = len(item.ids)
                if count:
                    item.write_to(output)
                self.snapshots[item.index] = item.snapshot
                self.written += count
                self.span_written[item.index] = self.span_written.get(item.index, 0) + count
            self.report()
            if finished or self.clock() - last_commit >= self.commit_interval:
                await self.commit(output, run, exported + self.written)
                last_commit = self.clock()
            if finished:
                await self._in_thread(output.finish)  # a one-off file is swapped in
                return exported + self.written

    async def commit(self, output: Output, run: Coordinator, exported: int) -> None:
        """fsync the output, *then* record its offset with the span states."""
        await self._in_thread(output.sync)
        base = await run.commit(self.snapshots, output.name, output.offset, exported)
        if base is not None:
            self.base = base

    async def _in_thread(self, work: Callable[[], None]) -> None:
        """Run blocking file work (fsync, the one-off swap) in a thread. Shielded and
        remembered: if the export is cancelled meanwhile, the thread still runs and the file
        must not be closed under it (see :meth:`settle`)."""
        self.syncing = asyncio.get_running_loop().run_in_executor(None, work)
        await asyncio.shield(self.syncing)

    async def settle(self) -> None:
        """Wait for an fsync still running in its thread (after a cancellation or an error)."""
        if self.syncing is not None and not self.syncing.done():
            await asyncio.wait([self.syncing])

    def report(self) -> None:
        """Tell the progress callback where the export stands (and each partition, when it
        asks and there are several)."""
        if self.progress is None:
            return
        self.progress(self.written, self.total)
        if len(self.span_written) > 1 and isinstance(self.progress, PartitionProgress):
            for index, written in sorted(self.span_written.items()):
                self.progress.partition(index, written, self.span_totals.get(index))


def _loads(resource: Any) -> Any:
    """A ``simdjson.Object`` proxy as Python objects: its minified text read by orjson, or by
    simdjson where orjson refuses (an integer past 64 bits)."""
    try:
        return orjson.loads(resource.mini)
    except orjson.JSONDecodeError:
        return resource.as_dict()


async def _close(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
