"""Bulk actions (``outreach.batches``): start one, poll it to the end, confirm or cancel it.

Outreach runs a bulk action as a ``batch`` (facts §8, "Bulk (batches) endpoints"):
``POST /batches/actions/<name>?actionParams[filter][...]`` (new filter syntax) with the inputs
in ``data.attributes`` answers the batch; ``GET /batches/{id}`` shows its progress; unless
``actionParams[skipConfirmation]=true``, ``POST /batches/{id}/actions/confirm`` with the batch's
``confirmCount`` lets it run. **Without a filter the action hits every record**, so
:meth:`BatchRepository.start` refuses to send one unless ``all_records=True``. OAuth apps need
the ``batches.read``, ``batches.write`` and the target's ``.write`` scopes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from .. import _filters
from .._exceptions import QueryError
from .._http import Request
from .._jsonapi import dumps
from .._relationships import ToOne
from .._schema import ResourceSpec
from .._types import Ref
from .._wire import format_datetime, snake_to_camel
from ..models._base import Resource
from ._base import Repository, _all_specs

if TYPE_CHECKING:
    from ..models import Batch

__all__ = [
    "FINAL_STATES",
    "BatchRepository",
    "ProgressCallback",
    "batch_awaits_confirmation",
    "batch_is_final",
]

#: state names that mean a batch has stopped; Outreach does not document its names, so a batch
#: with ``finishedAt`` or ``canceledAt`` set counts as final whatever its state says
FINAL_STATES = frozenset(
    {"finished", "complete", "completed", "done", "canceled", "cancelled", "failed", "error"}
)
#: the record type a bulk action works on, by the action name's prefix (``accountAddTags`` is
#: singular in the API); custom-object actions name their object in ``object_name``
_TARGETS = (("prospects", "prospect"), ("accounts", "account"), ("account", "account"))

ProgressCallback: TypeAlias = Callable[["Batch"], Awaitable[None] | None]


def batch_is_final(batch: Batch) -> bool:
    """Whether the batch has stopped: finished, canceled or failed."""
    if batch.finished_at or batch.canceled_at:
        return True
    return isinstance(batch.state, str) and batch.state.lower() in FINAL_STATES


def batch_awaits_confirmation(batch: Batch) -> bool:
    """Whether the batch waits for :meth:`BatchRepository.confirm` (with its ``confirm_count``)
    before it runs: it asks for a confirmed count and has none yet."""
    return (
        not batch_is_final(batch)
        and batch.confirmed_count_required is True
        and not batch.confirmed_at
    )


class BatchRepository(Repository["Batch"]):
    """``outreach.batches``: bulk actions, as batches to start, wait for, confirm and cancel.

    .. code-block:: python

        batch = await outreach.batches.start(
            "prospectsAddTags", filter={"id": [1, 2, 3]}, attributes={"tags": ["vip"]})
        batch = await outreach.batches.wait(batch.id)   # returns when it needs confirmation
        if batch_awaits_confirmation(batch):
            await outreach.batches.confirm(batch.id, batch.confirm_count)
            batch = await outreach.batches.wait(batch.id, on_progress=show)
    """

    async def start(
        self,
        action_name: str,
        *,
        filter: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        skip_confirmation: bool = False,
        all_records: bool = False,
        **params: Any,
    ) -> Batch:
        """Start a bulk action (``prospectsAddTags``, ``accounts_bulk_modify``, ...).

        ``filter`` selects the records as ``list(filter=...)`` would, checked against the
        target's attributes before any request; it is required unless ``all_records=True``.
        ``attributes`` are the action's inputs (keys in snake_case or camelCase: ``tags``,
        ``sequence_id``, ``field_name``/``field_value``, ``ids``). Other keywords become
        ``actionParams`` (``object_name`` for custom objects). Returns the new batch.
        """
        action = self._action_spec(action_name, collection=True)
        if skip_confirmation not in (True, False):
            raise QueryError("skip_confirmation must be True or False")
        query = self._filter_params(action.name, filter, all_records)
        query.append(("actionParams[skipConfirmation]", "true" if skip_confirmation else "false"))
        query += self._action_params(action, params)
        body = None
        if attributes is not None:
            inputs = {snake_to_camel(str(k)): _wire(v) for k, v in attributes.items()}
            body = dumps({"data": {"attributes": inputs}})
        url = (self.url / "actions" / action.name).with_query(query)
        request = Request("POST", url, body, idempotent=False, operation=f"batches.{action.name}")
        return self._one(await self._send_document(request))

    async def wait(
        self,
        batch_id: int,
        *,
        poll_interval: float = 2.0,
        on_progress: ProgressCallback | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> Batch:
        """Poll ``GET /batches/{id}`` until the batch is final, or waits for a confirmation that
        only the caller can give (see :func:`batch_awaits_confirmation`); returns it.

        ``on_progress`` (sync or async) sees the batch after every poll (``pending``,
        ``failures``, ``total``). ``sleep`` is injectable; wrap the call in
        ``asyncio.timeout(...)`` to bound the wait.
        """
        if isinstance(poll_interval, bool) or not poll_interval >= 0:
            raise QueryError(f"poll_interval must be a number of seconds >= 0, not {poll_interval}")
        while True:
            batch = await self.get(batch_id)
            if on_progress is not None:
                shown = on_progress(batch)
                if inspect.isawaitable(shown):
                    await shown
            if batch_is_final(batch) or batch_awaits_confirmation(batch):
                return batch
            await sleep(poll_interval)

    async def confirm(self, batch_id: int, confirmed_count: int) -> Batch:
        """Let a batch that awaits confirmation run; ``confirmed_count`` is its
        ``confirm_count`` (Outreach refuses another number with 422)."""
        if isinstance(confirmed_count, bool) or not isinstance(confirmed_count, int):
            raise QueryError(f"confirmed_count must be an integer, not {confirmed_count!r}")
        return await self.action(batch_id, "confirm", confirmed_count=confirmed_count)

    async def cancel(self, batch_id: int) -> Batch:
        """Stop a batch that has not finished (422 for one that has)."""
        return await self.action(batch_id, "cancel")

    # -- the filter ------------------------------------------------------------------------------

    def _filter_params(
        self, name: str, filter: Mapping[str, Any] | None, all_records: bool
    ) -> list[tuple[str, str]]:
        """``actionParams[filter][...]`` in the new filter syntax (DOC-BULK), or a refusal."""
        target = _target_spec(name)
        if filter and target is not None:
            clauses = [
                clause
                for key, value in filter.items()
                for clause in _filters.filter_clauses(target, key, value, _all_specs())
            ]
            _filters.check_unique_paths(clauses)
            params = [p for clause in clauses for p in _filters.new_syntax_params(clause)]
        else:
            params = _plain_filter_params(filter or {})
        if not params and not all_records:
            what = f"every {target.type}" if target is not None else "every record"
            raise QueryError(
                f"{name} without a filter runs on {what} in the organisation: pass filter=... "
                "to choose the records, or all_records=True if that is what you want"
            )
        return [("actionParams[" + key.replace("[", "][", 1), value) for key, value in params]


def _target_spec(name: str) -> ResourceSpec | None:
    for prefix, type_ in _TARGETS:
        if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1].isupper():
            return _all_specs()[type_]
    return None


def _plain_filter_params(filter: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A custom object's filter, unchecked: ``filter[key]=v`` or ``filter[key][]=v`` each."""
    params: list[tuple[str, str]] = []
    for key, value in filter.items():
        if isinstance(value, list | tuple | set | frozenset):
            params += [(f"filter[{key}][]", str(_wire(v))) for v in value]
        else:
            params.append((f"filter[{key}]", str(_wire(value))))
    return params


def _wire(value: Any) -> Any:
    """An action input as JSON: records and references by id, datetimes in the API's form."""
    if isinstance(value, Resource | Ref | ToOne):
        return value.id
    if isinstance(value, dt.datetime | dt.date):
        return format_datetime(value)
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_wire(v) for v in value]
    return value
