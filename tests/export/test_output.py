"""The output file: cut back to the checkpoint's offset, append, overwrite, refuse a short file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from outreach_async.export import FileOutput, OutputLockedError, OutputMismatchError, StreamOutput


def test_resuming_cuts_off_everything_after_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id":1}\n{"id":2}\n{"id":3,"na')  # a line torn by kill -9
    output = FileOutput(path)
    assert output.open(resume_at=9) == 9
    output.write(b'{"id":2}\n')
    output.sync()
    output.close()
    assert path.read_bytes() == b'{"id":1}\n{"id":2}\n'
    assert output.offset == 18


def test_a_file_shorter_than_its_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"abc")
    with pytest.raises(OutputMismatchError, match="3 bytes but its checkpoint recorded 10"):
        FileOutput(path).open(resume_at=10)
    assert path.read_bytes() == b"abc"


def test_a_new_output_of_a_sync_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"kept\n")
    output = FileOutput(path)
    assert output.open(resume_at=None) == 5
    output.write(b"more\n")
    output.close()
    assert path.read_bytes() == b"kept\nmore\n"


def test_a_one_off_export_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"old\n")
    output = FileOutput(path)
    assert output.open(resume_at=None, overwrite=True) == 0
    output.close()
    assert path.read_bytes() == b""


def test_a_stream_output_counts_and_flushes() -> None:
    stream = io.BytesIO()
    output = StreamOutput(stream)
    output.write(b"abc")
    output.sync()
    assert (output.offset, stream.getvalue(), output.resumable) == (3, b"abc", False)


def test_a_second_writer_of_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    first = FileOutput(path)
    first.open(resume_at=None)
    with pytest.raises(OutputLockedError, match="another export is writing"):
        FileOutput(path).open(resume_at=None, overwrite=True)
    first.write(b"kept\n")
    first.close()
    assert path.read_bytes() == b"kept\n"  # the refused overwrite truncated nothing
    second = FileOutput(path)
    assert second.open(resume_at=None) == 5  # free again once the first one closed
    second.close()
