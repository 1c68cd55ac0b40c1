"""Where export lines go: a file that can be cut back to a checkpoint, or a stream.

The exactly-once protocol needs three things from a file, all here: its byte offset after the
last durable write, ``fsync`` before a checkpoint records that offset, and, on start, cutting
the file back to the checkpoint's offset, which drops a partial write torn by ``kill -9``.

A one-off export (no checkpoint) never touches the user's file until it is complete: it writes
``FILE.partial`` beside it and :func:`finish_one_off` swaps it in (``fsync``, ``os.replace``,
``fsync`` of the directory). A failure or an interruption removes the partial file; after
``kill -9`` it stays, clearly named, and the next one-off export of FILE starts it over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from outreach_async import OutputLockedError, OutputMismatchError, UntrackedOutputError

from ._checkpoint import CheckpointStore
from ._compact import CompactResult, IdBits, compact

__all__ = [
    "PARTIAL_SUFFIX",
    "FileOutput",
    "Output",
    "OutputLockedError",
    "OutputMismatchError",
    "StreamOutput",
    "finish_one_off",
    "partial_path",
]

#: what a one-off export's file is called while it is written (beside its target)
PARTIAL_SUFFIX = ".partial"
#: a one-off export's written ids, one bit each (1 MB): ids this far apart share a bit, and a
#: shared bit only means the file is compacted, as it would be without the bits
_WRITTEN_ID_BITS = 1 << 23


class Output:
    """What the writer needs: append records, make them durable, know the offset.

    The export hands an output each batch of records either as encoded lines
    (:meth:`write_lines`, the default) or, when :attr:`takes_records` says so, as flat records
    (:meth:`write_records`): a database sink turns those into rows, with no line encoded for it
    to parse again."""

    #: the path recorded in checkpoints (``"-"`` for a stream)
    name: str = "-"
    #: whether the bytes written can be cut back to a checkpoint (files only)
    resumable: bool = False
    #: an output that keeps the export's checkpoints itself, written together with the data
    #: (a database sink): ``export_resource`` uses them when it is given no other store
    checkpoints: CheckpointStore | None = None
    #: whether the export hands this output flat records (:meth:`write_records`) rather than
    #: their encoded lines (:meth:`write_lines`)
    takes_records: bool = False

    @property
    def offset(self) -> int:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def write_lines(self, data: bytes, ids: Sequence[int | None]) -> None:
        """Append the lines of a batch of records whose ids are ``ids`` (in order; None for a
        record without an integer id). An output that keeps track of them overrides this."""
        self.write(data)

    def write_records(self, records: list[dict[str, Any]], ids: Sequence[int | None]) -> None:
        """Append a batch of flat records (:meth:`RecordFlattener.from_wire`'s, the JSON Lines
        format's objects), for an output that :attr:`takes_records`."""
        raise NotImplementedError(f"{type(self).__name__} takes encoded lines")

    def sync(self) -> None:
        """Make everything written so far durable (blocking: call it in a thread)."""
        raise NotImplementedError

    def finish(self) -> None:
        """The export is complete (blocking: call it in a thread). A one-off file is swapped
        in here; other outputs have nothing left to do."""

    def close(self) -> None:
        raise NotImplementedError


def partial_path(target: str) -> str:
    """Where a one-off export of ``target`` writes until it is complete: beside it, so that
    ``os.replace`` stays on one file system (and so atomic)."""
    return target + PARTIAL_SUFFIX


def finish_one_off(
    temp_path: str, target_path: str, *, compact_first: bool = True
) -> CompactResult | None:
    """Swap a complete one-off export in: ``target_path`` then holds either its old bytes or
    all of ``temp_path``'s, never a mix, whatever happens (``kill -9``, a power cut).

    The file is first compacted to one line per id (see :mod:`._compact`) while no one can
    see it (unless not ``compact_first``: the writer knows no id was written twice), then made
    durable, renamed over the target, and the directory entry made durable.
    """
    # the format from the file's first byte
    compacted = compact(temp_path) if compact_first else None
    fd = os.open(temp_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp_path, target_path)
    _sync_directory(os.path.dirname(target_path))
    return compacted


def _sync_directory(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_regular_or_absent(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True


class FileOutput(Output):
    """An output file opened for the exactly-once protocol (see :meth:`open`), or for a one-off
    export that replaces it when complete (see :meth:`open_one_off`).

    Errors of the file system are raised as :class:`OSError` naming the path.
    """

    resumable = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.name = os.path.abspath(os.fspath(path))
        self._fd: int | None = None
        self._offset = 0
        #: the one-off export's partial file, until it is swapped in or removed
        self._partial: str | None = None
        #: the target's own descriptor while a one-off export holds its lock
        self._target_fd: int | None = None
        #: what compaction did to a finished one-off export (None otherwise)
        self.compacted: CompactResult | None = None
        #: a one-off export's ids as they are written (see :meth:`write_lines`), and whether
        #: one may have come twice: when none did, :meth:`finish` does not read the file again
        #: to compact it
        self._written_ids: IdBits | None = None
        self._may_repeat = False

    def __repr__(self) -> str:
        return f"<FileOutput {self.name} at {self._offset}>"

    @property
    def offset(self) -> int:
        return self._offset

    def open(self, *, resume_at: int | None, overwrite: bool = False) -> int:
        """Open the file of an incremental export and return the offset writing starts at.

        - ``overwrite``: start empty, in place (the sync starts over: ``restart``).
        - ``resume_at``: the checkpoint's offset in this very file; everything after it was
          written but never checkpointed, so it is cut off (and written again by the resumed
          run). A file shorter than that raises :class:`OutputMismatchError`.
        - otherwise the checkpoint does not know this file: it must be empty or absent, else
          :class:`~outreach_async.UntrackedOutputError` (appending would repeat its records).
        """
        with _naming(self.name):
            fd = os.open(self.name, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                _lock(fd, self.name)
                size = self._start(fd, resume_at, overwrite)
                os.lseek(fd, size, os.SEEK_SET)
            except BaseException:
                os.close(fd)
                raise
        self._fd, self._offset = fd, size
        return size

    def _start(self, fd: int, resume_at: int | None, overwrite: bool) -> int:
        if overwrite:
            os.ftruncate(fd, 0)
            return 0
        size = os.fstat(fd).st_size
        if resume_at is None:
            if size and _is_regular_or_absent(self.name):
                raise UntrackedOutputError(self.name, size)
            return size
        if size < resume_at:
            raise OutputMismatchError(
                f"{self.name} has {size} bytes but its checkpoint recorded {resume_at}: "
                "it was truncated or replaced; restore it, or start over (--restart)"
            )
        if size > resume_at:
            os.ftruncate(fd, resume_at)
            os.fsync(fd)
        return resume_at

    def open_one_off(self) -> int:
        """Open ``FILE.partial`` for a one-off export (the target stays as it is until
        :meth:`finish`). A device or a pipe (``/dev/stdout``) is written directly."""
        if not _is_regular_or_absent(self.name):
            return self.open(resume_at=None)
        # A symbolic link keeps pointing where it did: the file it names is replaced.
        self.name = os.path.realpath(self.name)
        self._target_fd = _lock_existing(self.name)
        partial = partial_path(self.name)
        try:
            with _naming(partial):
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    _lock(fd, self.name)
                    os.ftruncate(fd, 0)  # a partial file left by kill -9 is started over
                    _copy_mode(self._target_fd, fd)
                except BaseException:
                    os.close(fd)
                    raise
        except BaseException:
            self._release_target()
            raise
        self._fd, self._offset, self._partial = fd, 0, partial
        self._written_ids, self._may_repeat = IdBits(_WRITTEN_ID_BITS), False
        return 0

    def write(self, data: bytes) -> None:
        """Append ``data``; bytes written here, not by :meth:`write_lines`, may repeat an id (a
        one-off export is then compacted)."""
        if data:
            self._may_repeat = True
        self._append(data)

    def write_lines(self, data: bytes, ids: Sequence[int | None]) -> None:
        """Append a batch's lines, noting its ids: a one-off export whose ids never repeat is
        not compacted (compaction passes over lines without an integer id, so may this)."""
        self._append(data)
        seen = self._written_ids
        if seen is not None and not self._may_repeat:
            for id_ in ids:  # per record: locals
                if id_.__class__ is int and seen.add(id_):
                    self._may_repeat = True
                    break

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("FileOutput.write before open")
        view = memoryview(data)
        with _naming(self.name):
            while view:
                done = os.write(self._fd, view)
                view = view[done:]
        self._offset += len(data)

    def sync(self) -> None:
        if self._fd is not None:
            with _naming(self.name):
                _fsync(self._fd)

    def finish(self) -> None:
        """Swap a one-off export's partial file in (see :func:`finish_one_off`)."""
        if self._partial is None:
            return
        with _naming(self.name):
            self.compacted = finish_one_off(
                self._partial, self.name, compact_first=self._may_repeat
            )
        self._partial = None
        if self.compacted is not None:
            self._offset = self.compacted.size

    @property
    def one_off(self) -> bool:
        """Whether this is a one-off export's partial file, not swapped in yet."""
        return self._partial is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._partial is not None:  # not finished: the target keeps its old bytes
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._partial)
            self._partial = None
        self._release_target()

    def _release_target(self) -> None:
        if self._target_fd is not None:
            os.close(self._target_fd)
            self._target_fd = None


def _fsync(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        # A character device or a pipe (/dev/stdout, /dev/null) cannot be fsynced; its bytes
        # went out with write() already.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


def _copy_mode(source_fd: int | None, fd: int) -> None:
    """The new file gets the permissions of the one it replaces."""
    if source_fd is not None:
        os.fchmod(fd, stat.S_IMODE(os.fstat(source_fd).st_mode))


def _lock_existing(path: str) -> int | None:
    """Lock the target of a one-off export, when it exists, so that an incremental export
    appending to it is not swapped out from under it (and vice versa)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None
    try:
        _lock(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _naming(path: str) -> Iterator[None]:
    """Re-raise a file system error with the path in it (``/dev/full``: errno 28 alone does not
    say which file)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or isinstance(exc, BlockingIOError):
            raise
        raise OSError(exc.errno, exc.strerror, path) from exc


def _lock(fd: int, name: str) -> None:
    """Hold an exclusive lock on the file while this process writes it (released by the
    kernel when the process ends, ``kill -9`` included): two exports appending to one file
    would interleave their records and their checkpoints."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputLockedError(f"another export is writing {name} right now") from None


class StreamOutput(Output):
    """A binary stream such as ``sys.stdout.buffer``: flushed at each checkpoint; a re-run after
    a crash may repeat the records since the last one (at-least-once)."""

    def __init__(self, stream: BinaryIO, name: str = "-") -> None:
        self._stream = stream
        self.name = name
        self._offset = 0

    @property
    def offset(self) -> int:
        return self._offset

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self._offset += len(data)

    def sync(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()
