"""The output file: cut back to the checkpoint's offset, refuse a short or unknown file, swap a
one-off export in only when complete."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from outreach_async import UntrackedOutputError
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


def test_an_output_its_checkpoint_does_not_know_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"kept\n")
    with pytest.raises(UntrackedOutputError, match=r"out\.jsonl already holds 5 bytes") as caught:
        FileOutput(path).open(resume_at=None)
    assert (caught.value.output, caught.value.size) == (str(path), 5)
    assert path.read_bytes() == b"kept\n"


def test_an_empty_or_absent_output_of_a_sync_is_written(tmp_path: Path) -> None:
    for path in (tmp_path / "new.jsonl", tmp_path / "empty.jsonl"):
        if path.name == "empty.jsonl":
            path.write_bytes(b"")
        output = FileOutput(path)
        assert output.open(resume_at=None) == 0
        output.write(b"more\n")
        output.close()
        assert path.read_bytes() == b"more\n"


def test_a_restart_empties_the_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"old\n")
    output = FileOutput(path)
    assert output.open(resume_at=None, overwrite=True) == 0
    output.close()
    assert path.read_bytes() == b""


def test_a_one_off_export_replaces_the_file_only_when_finished(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"old\n")
    path.chmod(0o600)
    output = FileOutput(path)
    assert output.open_one_off() == 0
    output.write(b"new\n")
    output.sync()
    assert path.read_bytes() == b"old\n"  # untouched while the export runs
    assert (tmp_path / "out.jsonl.partial").read_bytes() == b"new\n"
    output.finish()
    output.close()
    assert path.read_bytes() == b"new\n"
    assert path.stat().st_mode & 0o777 == 0o600  # the permissions of the file it replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def _line(id_: int, version: int) -> bytes:
    return b'{"type":"prospect","id":%d,"v":%d}\n' % (id_, version)


@pytest.mark.parametrize(
    ("batches", "compacted", "kept"),
    [
        ([[1, 2], [3]], False, 3),  # no id twice: swapped in as written, not read again
        ([[1, 2], [2, 3]], True, 3),  # 2 came again (a changed record): the older line goes
        ([[1, 1]], True, 1),  # twice in one batch
        (None, True, 2),  # plain write(): the output cannot know the ids, so it compacts
    ],
)
def test_a_one_off_file_tracks_its_ids_and_is_compacted_only_when_one_may_repeat(
    tmp_path: Path, batches: list[list[int]] | None, compacted: bool, kept: int
) -> None:
    output = FileOutput(tmp_path / "out.jsonl")
    output.open_one_off()
    if batches is None:
        output.write(_line(1, 0) + _line(2, 0))
    for version, ids in enumerate(batches or []):
        output.write_lines(b"".join(_line(i, version) for i in ids), ids)
    output.finish()
    output.close()
    assert (output.compacted is not None) == compacted
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert len(lines) == kept
    if batches == [[1, 2], [2, 3]]:
        assert _line(2, 1).strip() in lines  # the newest version of 2 stays


def test_an_unfinished_one_off_export_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"old\n")
    output = FileOutput(path)
    output.open_one_off()
    output.write(b"half")
    output.close()  # an error or Ctrl-C: no finish()
    assert path.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_one_off_export_through_a_symlink_replaces_the_file_it_names(tmp_path: Path) -> None:
    path, link = tmp_path / "out.jsonl", tmp_path / "latest.jsonl"
    path.write_bytes(b"old\n")
    link.symlink_to(path)
    output = FileOutput(link)
    output.open_one_off()
    output.write(b"new\n")
    output.finish()
    output.close()
    assert link.is_symlink()
    assert path.read_bytes() == b"new\n"


def test_a_partial_file_left_by_kill_9_is_started_over(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").write_bytes(b"torn by kill -9")
    output = FileOutput(path)
    output.open_one_off()
    output.write(b"new\n")
    output.finish()
    output.close()
    assert path.read_bytes() == b"new\n"
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_a_one_off_export_refuses_a_file_an_incremental_export_is_writing(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    appending = FileOutput(path)
    appending.open(resume_at=None)
    with pytest.raises(OutputLockedError, match="another export is writing"):
        FileOutput(path).open_one_off()
    appending.close()
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_a_device_that_cannot_take_the_bytes_is_named() -> None:
    output = FileOutput("/dev/full")
    output.open_one_off()  # not a regular file: written directly, nothing beside it
    with pytest.raises(OSError, match="/dev/full") as caught:
        output.write(b"x" * 65536)
    output.close()
    assert caught.value.filename == "/dev/full"


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
    assert second.open(resume_at=5) == 5  # free again once the first one closed
    second.close()
