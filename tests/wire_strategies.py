"""Hypothesis strategies for JSON:API relationship objects as the API sends them, shared by the
property tests of the export's wire paths (``tests/unit/test_flat_records.py``,
``tests/unit/test_wire_lines.py``)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def relationship_objects(
    ids: st.SearchStrategy[Any], *, meta_only: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """Every form a relationship object takes: links only, to-one (null or a linkage), to-many
    (with or without ``meta``), and with ``meta_only`` a meta-only one (facts section 6)."""
    linkage = st.fixed_dictionaries({"type": st.just("account"), "id": ids})
    forms: st.SearchStrategy[dict[str, Any]] = (
        st.fixed_dictionaries({"links": st.just({"related": "https://api.outreach.io/x"})})
        | st.fixed_dictionaries({"data": st.none() | linkage})
        | st.fixed_dictionaries(
            {"data": st.lists(linkage, max_size=3)}, optional={"meta": st.just({})}
        )
    )
    if meta_only:
        forms = forms | st.fixed_dictionaries({"meta": st.just({"count": 2})})
    return forms
