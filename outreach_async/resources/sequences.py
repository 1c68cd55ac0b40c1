"""Sequences, sequence states and sequence templates: their state actions as named helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import Repository

if TYPE_CHECKING:
    from ..models import Sequence, SequenceState, SequenceTemplate

__all__ = ["SequenceRepository", "SequenceStateRepository", "SequenceTemplateRepository"]


class SequenceStateRepository(Repository["SequenceState"]):
    """``outreach.sequence_states``: a prospect's enrollment in a sequence."""

    async def finish(self, id: int) -> SequenceState:
        """Finish an active sequence state (422 when its state forbids it)."""
        return await self.action(id, "finish")

    async def pause(self, id: int) -> SequenceState:
        """Pause an active sequence state."""
        return await self.action(id, "pause")

    async def resume(self, id: int) -> SequenceState:
        """Resume a paused sequence state."""
        return await self.action(id, "resume")


class SequenceRepository(Repository["Sequence"]):
    """``outreach.sequences``."""

    async def activate(self, id: int) -> Sequence:
        """Enable the sequence."""
        return await self.action(id, "activate")

    async def deactivate(self, id: int) -> Sequence:
        """Disable the sequence."""
        return await self.action(id, "deactivate")


class SequenceTemplateRepository(Repository["SequenceTemplate"]):
    """``outreach.sequence_templates``."""

    async def activate(self, id: int) -> SequenceTemplate:
        return await self.action(id, "activate")

    async def deactivate(self, id: int) -> SequenceTemplate:
        return await self.action(id, "deactivate")
