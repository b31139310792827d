"""ten99's message contracts: envelope, subjects, stream specs and message types. No I/O."""

from . import billing_v1, contractor_v1, enrollment_v1, gateway_v1, notification_v1, policy_v1
from .base import (
    ACTOR_OPERATOR,
    ACTOR_SYSTEM,
    REGISTRY,
    Envelope,
    Message,
    actor_of,
    decode_envelope,
    encode_envelope,
    message_type,
    valid_actor,
)
from .common import (
    Address,
    AssignmentQuote,
    AssignmentRefusal,
    ContractorSnapshot,
    CoverageTerms,
    EntitySnapshot,
    JobSnapshot,
    QuotedCoverage,
)
from .streams import STREAMS, StreamSpec, stream_for_subject

__all__ = [
    "ACTOR_OPERATOR",
    "ACTOR_SYSTEM",
    "REGISTRY",
    "STREAMS",
    "Address",
    "AssignmentQuote",
    "AssignmentRefusal",
    "ContractorSnapshot",
    "CoverageTerms",
    "EntitySnapshot",
    "Envelope",
    "JobSnapshot",
    "Message",
    "QuotedCoverage",
    "StreamSpec",
    "actor_of",
    "billing_v1",
    "contractor_v1",
    "decode_envelope",
    "encode_envelope",
    "enrollment_v1",
    "gateway_v1",
    "message_type",
    "notification_v1",
    "policy_v1",
    "stream_for_subject",
    "valid_actor",
]
