"""One JetStream stream per producing context (ARCHITECTURE.md §3)."""

from __future__ import annotations

import msgspec

__all__ = ["CONTEXTS", "STREAMS", "StreamSpec", "stream_for_subject"]

CONTEXTS = ("gateway", "contractor", "enrollment", "policy", "billing", "notification")


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    subjects: list[str]
    #: seconds a message id is remembered for de-duplication of republished outbox rows
    duplicate_window_s: float = 120.0
    #: how long messages are kept; consumers are durable, so this bounds recovery time
    max_age_s: float = 14 * 24 * 3600.0


STREAMS: dict[str, StreamSpec] = {ctx: StreamSpec(name=f"TEN99_{ctx.upper()}", subjects=[f"ten99.{ctx}.>"]) for ctx in CONTEXTS}


def stream_for_subject(subject: str) -> StreamSpec:
    parts = subject.split(".")
    if len(parts) < 4 or parts[0] != "ten99" or parts[1] not in STREAMS:
        raise ValueError(f"subject {subject!r} is not a ten99.<context>.<event>.v<N> subject")
    return STREAMS[parts[1]]
