"""Where export lines go: a file that can be cut back to a checkpoint, or a stream.

The exactly-once protocol needs three things from a file, all here: its byte offset after the
last durable write, ``fsync`` before a checkpoint records that offset, and, on start, cutting
the file back to the checkpoint's offset, which drops a partial write torn by ``kill -9``.
"""

from __future__ import annotations

import fcntl
import os
from typing import BinaryIO

from outreach_async import OutputLockedError, OutputMismatchError

__all__ = ["FileOutput", "Output", "OutputLockedError", "OutputMismatchError", "StreamOutput"]


class Output:
    """What the writer needs: append bytes, make them durable, know the offset."""

    #: the path recorded in checkpoints (``"-"`` for a stream)
    name: str = "-"
    #: whether the bytes written can be cut back to a checkpoint (files only)
    resumable: bool = False

    @property
    def offset(self) -> int:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        """Make everything written so far durable (blocking: call it in a thread)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class FileOutput(Output):
    """An output file opened for the exactly-once protocol (see :meth:`open`)."""

    resumable = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.name = os.path.abspath(os.fspath(path))
        self._fd: int | None = None
        self._offset = 0

    def __repr__(self) -> str:
        return f"<FileOutput {self.name} at {self._offset}>"

    @property
    def offset(self) -> int:
        return self._offset

    def open(self, *, resume_at: int | None, overwrite: bool = False) -> int:
        """Open the file and return the offset writing starts at.

        - ``overwrite``: start empty (a one-off export without a checkpoint).
        - ``resume_at``: the checkpoint's offset in this very file; everything after it was
          written but never checkpointed, so it is cut off (and written again by the resumed
          run). A file shorter than that raises :class:`OutputMismatchError`.
        - otherwise: append after whatever the file holds (a new output for an existing sync).
        """
        fd = os.open(self.name, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            _lock(fd, self.name)
            if overwrite:
                os.ftruncate(fd, 0)
            size = os.fstat(fd).st_size
            if resume_at is not None and not overwrite:
                if size < resume_at:
                    raise OutputMismatchError(
                        f"{self.name} has {size} bytes but its checkpoint recorded {resume_at}: "
                        "it was truncated or replaced; restore it, or start a new sync with "
                        "another --state"
                    )
                if size > resume_at:
                    os.ftruncate(fd, resume_at)
                    os.fsync(fd)
                size = resume_at
            os.lseek(fd, size, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._offset = fd, size
        return size

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("FileOutput.write before open")
        view = memoryview(data)
        while view:
            done = os.write(self._fd, view)
            view = view[done:]
        self._offset += len(data)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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
