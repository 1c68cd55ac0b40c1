"""Compliance requests: their own shape (snake_case attributes, an answer that is not a
resource, listing by batch), per the source document's "Create Compliance Requests"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import ResponseFormatError
from .._http import Request
from .._jsonapi import build_resource_document, dumps, parse_document
from .._pagination import Paginator
from ._base import Repository

if TYPE_CHECKING:
    from ..models import ComplianceRequest

__all__ = ["ComplianceRequestRepository"]


class ComplianceRequestRepository(Repository["ComplianceRequest"]):
    """``outreach.compliance_requests`` (CCPA/GDPR deletion requests)."""

    async def submit(
        self,
        *,
        requester_email: str,
        request_object_email: str,
        request_type: str = "Delete",
        object_type: str = "Prospect",
    ) -> str:
        """Submit a request; returns its ``batch_compliance_request_id`` (processing is async)."""
        self._require("create")
        document = build_resource_document(
            self.spec.type,
            attributes={
                "requester_email": requester_email,
                "request_type": request_type,
                "object_type": object_type,
                "request_object_email": request_object_email,
            },
        )
        request = Request(
            "POST",
            self.url,
            dumps(document),
            idempotent=False,
            operation="complianceRequests.create",
        )
        answer = parse_document((await self._core.send(request)).body)
        batch_id = (
            answer.data.get("batch_compliance_request_id")
            if isinstance(answer.data, dict)
            else None
        )
        if not isinstance(batch_id, str):
            raise ResponseFormatError(
                "the answer to a compliance request had no batch_compliance_request_id"
            )
        return batch_id

    def for_batch(self, batch_id: str) -> Paginator[ComplianceRequest]:
        """The requests (with their states) of one submitted batch."""
        return self.list(filter={"batchComplianceRequest": batch_id})
