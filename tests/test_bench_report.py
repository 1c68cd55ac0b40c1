"""The README's benchmark tables are what ``python -m benchmarks.report`` makes of the committed
results files: a hand edit, or results committed without regenerating the README, fails here."""

from __future__ import annotations

import copy

import pytest

from benchmarks import report

README = report.README.read_text()


def generated() -> dict[str, str]:
    return report.blocks(*report.read_results())


def test_the_readme_tables_are_generated_from_the_committed_results() -> None:
    blocks = generated()
    assert set(blocks) == {"main", "peers"}, "both results files are committed"
    assert report.apply(README, blocks) == README, (
        "README.md's benchmark tables differ from the results files: run "
        "`python -m benchmarks.report` (never edit the tables by hand)"
    )


def test_a_hand_edited_figure_is_caught() -> None:
    blocks = generated()
    begin = report.BEGIN.format(name="main")
    start = README.index(begin) + len(begin)
    edited = README[:start] + "\n| a flattering row | 100x | | yes |" + README[start:]
    assert report.apply(edited, blocks) != edited


def test_every_target_not_met_is_listed_under_the_table() -> None:
    results, _peers = report.read_results()
    assert results is not None
    text = report.main_block(results)
    missed = text.count("| **no** |")
    if missed:
        listed = text.split("Not met:\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert len(listed) == missed
        assert all(line.startswith("- ") for line in listed)
    else:
        assert "Every target above is met." in text


def test_a_row_whose_target_fails_says_so() -> None:
    results, _peers = report.read_results()
    assert results is not None
    worse = copy.deepcopy(results)
    stream = worse["suites"]["client"]["figures"]["stream_prospects"]
    stream["latency"]["vs_ideal"]["of_medians"] = 2.0
    text = report.main_block(worse)
    assert "- latency hidden: 2.00x the ideal (target <= 1.15x)" in text.split("Not met:")[1]


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(report.MarkerError, match="bench:begin main"):
        report.apply("# no tables here\n", {"main": "| a | b |"})
