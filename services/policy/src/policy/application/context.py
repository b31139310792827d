"""What the use cases need from the outside world, handed in by `bootstrap` (the only place
that knows the concrete adapters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from ..domain.certificate import CertificateDocument

__all__ = ["Links", "PolicyContext"]


class Links(Protocol):
    def url(self, tenant_id: str, certificate_id: str) -> str: ...

    def verification_url(self, verification_id: str) -> str: ...


@dataclass(frozen=True)
class PolicyContext:
    links: Links
    render: Callable[[CertificateDocument], bytes]
    producer_name: str
    insurer_name: str
    #: how long a certificate waits for the company's name before it is issued without it
    company_wait: timedelta
    #: start loading the PDF renderer in the background (certificates will follow; its import is
    #: not their wait); a no-op where nothing needs warming
    warm_up: Callable[[], None] = lambda: None
