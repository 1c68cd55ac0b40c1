"""The partition benchmark's count of round trips that came one after another."""

from __future__ import annotations

from benchmarks.bench_export import round_trips_in_a_row


def test_requests_sent_together_count_once_and_a_chain_counts_each_link() -> None:
    # two probes one after the other, three counts together, two chains of two pages, a pass
    probes = [(0.0, 1.0), (1.0, 2.0)]
    counts = [(2.0, 3.0), (2.1, 3.1), (2.2, 3.2)]
    chains = [(3.2, 4.2), (4.2, 5.2), (3.3, 4.4), (4.5, 5.4)]
    catch_up = [(5.4, 6.4)]
    assert round_trips_in_a_row(probes + counts + chains + catch_up) == 6
    assert round_trips_in_a_row(counts) == 1
    assert round_trips_in_a_row([]) == 0


def test_a_request_sent_before_an_answer_does_not_wait_for_it() -> None:
    # the second leaves a moment before the first is answered: they overlap
    assert round_trips_in_a_row([(0.0, 1.0), (0.99, 2.0)]) == 1
    assert round_trips_in_a_row([(0.0, 1.0), (1.0, 2.0)]) == 2
