"""Repositories: one generic async repository per resource type, plus the few with actions."""

from .._exceptions import MissingResourcesError, UnsupportedOperationError
from ._base import Repository
from ._context import ClientCore, ResponseContext
from .batches import BatchRepository
from .compliance import ComplianceRequestRepository
from .sequences import SequenceRepository, SequenceStateRepository, SequenceTemplateRepository
from .tasks import TaskRepository

#: repository classes with named helpers, by resource type; every other type gets Repository
SPECIAL_REPOSITORIES: dict[str, type[Repository]] = {  # type: ignore[type-arg]
    "batch": BatchRepository,
    "complianceRequest": ComplianceRequestRepository,
    "sequence": SequenceRepository,
    "sequenceState": SequenceStateRepository,
    "sequenceTemplate": SequenceTemplateRepository,
    "task": TaskRepository,
}

__all__ = [
    "SPECIAL_REPOSITORIES",
    "BatchRepository",
    "ClientCore",
    "ComplianceRequestRepository",
    "MissingResourcesError",
    "Repository",
    "ResponseContext",
    "SequenceRepository",
    "SequenceStateRepository",
    "SequenceTemplateRepository",
    "TaskRepository",
    "UnsupportedOperationError",
]
