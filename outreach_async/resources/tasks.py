"""Tasks: the task actions as named helpers (facts section 8)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ._base import Repository

if TYPE_CHECKING:
    from ..models import Task

__all__ = ["TaskRepository"]


def _given(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class TaskRepository(Repository["Task"]):
    """``outreach.tasks``."""

    async def mark_complete(
        self, id: int, *, completion_note: str | None = None, completion_action: str | None = None
    ) -> Task:
        """Complete the task; ``completion_action`` ``finish_no_reply``/``finish_replied``
        finishes its sequence state, anything else advances it."""
        return await self.action(
            id,
            "markComplete",
            **_given(completion_note=completion_note, completion_action=completion_action),
        )

    async def snooze(
        self, id: int, *, due_at: dt.datetime | None = None, mark_as_urgent: bool | None = None
    ) -> Task:
        """Push the due date (by default to one day after max(now, dueAt))."""
        return await self.action(
            id, "snooze", **_given(due_at=due_at, mark_as_urgent=mark_as_urgent)
        )

    async def reschedule(self, id: int, *, due_at: dt.datetime) -> Task:
        """Move the task to a new due date."""
        return await self.action(id, "reschedule", due_at=due_at)

    async def advance(self, id: int) -> Task:
        """Advance the task's sequence state to its next step."""
        return await self.action(id, "advance")

    async def deliver(self, id: int) -> Task:
        """Deliver a task's mailing."""
        return await self.action(id, "deliver")

    async def log_meet_in_person(
        self,
        id: int,
        *,
        task_disposition_id: int,
        task_purpose_id: int | None = None,
        completion_note: str | None = None,
    ) -> Task:
        """Log an in-person meeting for the task."""
        return await self.action(
            id,
            "logMeetInPerson",
            task_disposition_id=task_disposition_id,
            **_given(task_purpose_id=task_purpose_id, completion_note=completion_note),
        )

    async def reassign_owner(self, id: int, *, owner_id: int) -> Task:
        """Give the task to another user."""
        return await self.action(id, "reassignOwner", owner_id=owner_id)

    async def update_note(self, id: int, *, note: str) -> Task:
        """Replace the task's note."""
        return await self.action(id, "updateNote", note=note)

    async def update_opportunity_association(
        self, id: int, *, opportunity_association: str
    ) -> Task:
        """Change which opportunity the task is associated with."""
        return await self.action(
            id, "updateOpportunityAssociation", opportunity_association=opportunity_association
        )
