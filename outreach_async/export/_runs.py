"""Runs of an export and their checkpoints: one process (local) or a share of a fleet.

A *run* is one planned set of spans read to the end. Its checkpoint records, in one atomic
save, the state of every span together with the output file's name and byte offset, so the
spans and the file always agree (see :mod:`._output`). A finished run leaves a *base*: the
watermark the next run of the same sync starts from.

Local (``--partitions N``): one document per (resource, query) holds the base, the output and
the unfinished run's spans.

Fleet (``--partition i/N``): the plan of the run is shared (the first member to start writes
it; everyone else reads it), each member checkpoints its own share of the spans, and when every
share of generation *g* is done, the first member to start again plans generation *g+1* from
the last span's watermark, a compare-and-set so that two members cannot both do it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs

from ._checkpoint import CheckpointError, CheckpointStore, Document
from ._plan import Base, Share, Span, base_after
from ._resources import Cursor

__all__ = ["Coordinator", "FleetRun", "LocalRun", "RunStart"]

VERSION = 1
#: plans a run from a base (makes the discovery requests when there are several spans)
Planner = Callable[[Base], Awaitable[list[Span]]]


@attrs.define
class RunStart:
    """What a process runs, and where its output resumes."""

    #: this process's spans by their index in the run's plan (done ones included)
    spans: dict[int, Span]
    #: the checkpointed offset when the checkpoint's output is this output, else None
    resume_at: int | None
    #: whether this continues a run that an earlier process started
    resumed: bool
    exported: int = 0
    #: fleet only: this share is done and the run waits for the other shares
    waiting: bool = False
    #: the index of the run's last span (open above), when this process may not hold it
    last_span: int | None = None


class Coordinator(Protocol):
    """Loads and saves the checkpoints of one export."""

    async def begin(self, output: str, plan: Planner) -> RunStart: ...

    async def commit(
        self, spans: Mapping[int, Document], output: str, offset: int, exported: int
    ) -> Base | None:
        """Save progress; when every span is done, finish the run and return its base."""

    async def others_done(self, index: int) -> bool:
        """Whether every span of the run held by other processes, except ``index``, is done."""


def _base_document(base: Base, cursor: Cursor) -> Document:
    return {
        "watermark": base.watermark,
        "seen": sorted(base.seen),
        "at": cursor.display(base.watermark),  # for people reading the store; never read back
    }


def _malformed(what: str) -> CheckpointError:
    return CheckpointError(f"a checkpoint holds {what}", malformed=True)


def _base_from(data: Any) -> Base:
    if data is None:
        return Base()
    if not isinstance(data, dict):
        raise _malformed(f"a malformed base: {data!r}")
    watermark = data.get("watermark")
    if watermark is not None and not isinstance(watermark, int):
        raise _malformed(f"a malformed watermark: {watermark!r}")
    seen = data.get("seen") or []
    if not isinstance(seen, list) or not all(isinstance(i, int) for i in seen):
        raise _malformed(f"malformed ids at the watermark: {seen!r}")
    return Base(watermark, frozenset(seen))


def _spans_from(data: Mapping[str, Any]) -> dict[int, Span]:
    try:
        return {int(k): Span.from_snapshot(v) for k, v in data.items()}
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise _malformed(f"malformed spans: {exc}") from exc


def _check_output_fields(document: Document) -> None:
    """The fields that tie a checkpoint to its output file must have their types: a document
    of another shape must not let an export append to a file it knows nothing about."""
    output, offset, exported = (document.get(k) for k in ("output", "offset", "exported"))
    if output is not None and not isinstance(output, str):
        raise _malformed(f"a malformed output name: {output!r}")
    if output is not None and not (isinstance(offset, int) and offset >= 0):
        raise _malformed(f"a malformed output offset: {offset!r}")
    if exported is not None and not (isinstance(exported, int) and exported >= 0):
        raise _malformed(f"a malformed record count: {exported!r}")


def _final_base(spans: Mapping[int, Document]) -> Base:
    return base_after([Span.from_snapshot(dict(spans[max(spans)]))])


class _Run:
    def __init__(self, store: CheckpointStore, key: str, identity: Document, cursor: Cursor):
        self.store = store
        self.key = key
        self.identity = identity
        self.cursor = cursor

    def _check(self, document: Document | None) -> Document | None:
        if document is None:
            return None
        if document.get("version") != VERSION:
            raise CheckpointError(
                f"checkpoint {self.key} has version {document.get('version')!r}; "
                f"this outreach-async writes version {VERSION}",
                malformed=True,
            )
        if document.get("cursor") not in (None, self.cursor.wire):
            raise CheckpointError(f"checkpoint {self.key} follows another field", malformed=True)
        _check_output_fields(document)
        return document


class LocalRun(_Run):
    """All spans in this process; one checkpoint document."""

    def __init__(
        self,
        store: CheckpointStore,
        key: str,
        identity: Document,
        cursor: Cursor,
        *,
        restart: bool = False,
    ):
        super().__init__(store, key, identity, cursor)
        self._base = Base()
        #: ignore what the store holds (even unreadable): the first commit replaces it
        self.restart = restart

    async def begin(self, output: str, plan: Planner) -> RunStart:
        stored = None if self.restart else await self.store.load(self.key)
        document = self._check(stored) or {}
        self._base = _base_from(document.get("base"))
        resume_at = document.get("offset") if document.get("output") == output else None
        unfinished = document.get("spans")
        if unfinished is not None and not isinstance(unfinished, dict):
            raise _malformed(f"malformed spans: {unfinished!r}")
        if unfinished:
            spans, resumed = _spans_from(unfinished), True
        else:
            spans, resumed = dict(enumerate(await plan(self._base))), False
        exported = int(document.get("exported") or 0)
        return RunStart(spans, resume_at if isinstance(resume_at, int) else None, resumed, exported)

    async def commit(
        self, spans: Mapping[int, Document], output: str, offset: int, exported: int
    ) -> Base | None:
        finished = all(s.get("done") for s in spans.values())
        if finished:
            self._base = _final_base(spans)
        document = {
            "version": VERSION,
            **self.identity,
            "cursor": self.cursor.wire,
            "output": output,
            "offset": offset,
            "exported": exported,
            "base": _base_document(self._base, self.cursor),
            "spans": None if finished else {str(k): v for k, v in spans.items()},
        }
        await self.store.save(self.key, document)
        return self._base if finished else None

    async def others_done(self, index: int) -> bool:
        return True  # every span is in this process


class FleetRun(_Run):
    """One share (``i/N``) of a run whose plan all members share."""

    def __init__(
        self, store: CheckpointStore, key: str, identity: Document, cursor: Cursor, share: Share
    ):
        super().__init__(store, key, identity, cursor)
        self.share = share
        self.plan_key = f"{key}:plan"
        self.generation = 0

    def member_key(self, index: int) -> str:
        return f"{self.key}:share{index}of{self.share.total}"

    def _plan_document(self, generation: int, spans: list[Span]) -> Document:
        return {
            "version": VERSION,
            **self.identity,
            "cursor": self.cursor.wire,
            "generation": generation,
            "spans": [s.snapshot() for s in spans],
        }

    async def begin(self, output: str, plan: Planner) -> RunStart:
        current = self._check(await self.store.load(self.plan_key))
        if current is None:
            proposal = self._plan_document(1, await plan(Base()))
            current = await self.store.create(self.plan_key, proposal)
        mine = self._check(await self.store.load(self.member_key(self.share.index))) or {}
        resume_at = mine.get("offset") if mine.get("output") == output else None
        resume = resume_at if isinstance(resume_at, int) else None
        exported = int(mine.get("exported") or 0)
        if mine.get("generation") == current.get("generation"):
            spans = _spans_from(mine.get("spans") or {})
            last = len(current["spans"]) - 1
            if not all(s.done for s in spans.values()):
                self.generation = int(current["generation"])
                return RunStart(spans, resume, True, exported, last_span=last)
            advanced = await self._advance(current, plan)
            if advanced is None:
                self.generation = int(current["generation"])
                return RunStart(spans, resume, False, exported, waiting=True, last_span=last)
            current = advanced
        self.generation = int(current["generation"])
        everything = [Span.from_snapshot(s) for s in current["spans"]]
        spans = {i: everything[i] for i in self.share.picks(range(len(everything)))}
        return RunStart(spans, resume, False, exported, last_span=len(everything) - 1)

    async def others_done(self, index: int) -> bool:
        plan = self._check(await self.store.load(self.plan_key)) or {}
        others = [i for i in range(len(plan.get("spans") or ())) if i != index]
        for member in range(self.share.total):
            if member == self.share.index:
                continue  # this process's own spans: the engine knows them
            held = Share(member, self.share.total).picks(others)
            if not held:
                continue
            document = await self.store.load(self.member_key(member)) or {}
            spans = document.get("spans") or {}
            if document.get("generation") != self.generation or not all(
                (spans.get(str(i)) or {}).get("done") for i in held
            ):
                return False
        return True

    async def _advance(self, current: Document, plan: Planner) -> Document | None:
        """The next generation's plan once every share of this one is done, else None."""
        generation = current.get("generation")
        shares = [await self.store.load(self.member_key(i)) for i in range(self.share.total)]
        snapshots: dict[int, Document] = {}
        for member in shares:
            if member is None or member.get("generation") != generation:
                return None
            snapshots.update({int(k): v for k, v in (member.get("spans") or {}).items()})
        if len(snapshots) < len(current["spans"]) or not all(
            s.get("done") for s in snapshots.values()
        ):
            return None
        proposal = self._plan_document(
            int(current["generation"]) + 1, await plan(_final_base(snapshots))
        )
        if await self.store.replace(self.plan_key, current, proposal):
            return proposal
        return self._check(await self.store.load(self.plan_key))  # another member won

    async def commit(
        self, spans: Mapping[int, Document], output: str, offset: int, exported: int
    ) -> Base | None:
        document = {
            "version": VERSION,
            **self.identity,
            "cursor": self.cursor.wire,
            "generation": self.generation,
            "share": str(self.share),
            "output": output,
            "offset": offset,
            "exported": exported,
            "spans": {str(k): v for k, v in spans.items()},
        }
        await self.store.save(self.member_key(self.share.index), document)
        return None
