"""What the delivery log keeps of an email once it is finished (sent, or given up): links that work
for whoever holds them are redacted in the stored bodies. The recipient's mailbox has the email;
the log needs only to show what was sent, and a copy of the database must not open a contractor's
opt-in form. Until then (queued, retrying) the body stays whole, so that an attempt sends it as
accepted.

The links are found by their shape: enrollment's opt-in links are ``<base>/opt-in/<token>``
(``enrollment.application.links``; the gateway serves that path), portal sign-in links are
``<base>/portal/sign-in/<token>`` (``enrollment.application.portal``), and their message field is a
contract's ``SECRET_FIELDS``. The redacted form is the kit's (`ten99kit.redaction`), the same as
in enrollment's outbox: ``<base>/opt-in/[redacted]…<last 4>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ten99kit.redaction import redact_secret

from ..adapters.deliveries import ClaimedDelivery

__all__ = ["redact_links", "redacted_bodies"]

#: a path segment that is a bearer token, after the path that announces it
_SECRET_LINK = re.compile(r"(/opt-in/|/portal/sign-in/)([A-Za-z0-9_\-]+)")


def redact_links(body: str) -> str:
    return _SECRET_LINK.sub(lambda m: m.group(1) + redact_secret(m.group(2)), body)


def redacted_bodies(finished: Iterable[ClaimedDelivery]) -> dict[int, tuple[str, str]]:
    """(text, html) to keep instead of the bodies of these deliveries, by seq: only those that
    carried a link."""
    out: dict[int, tuple[str, str]] = {}
    for d in finished:
        text, html = redact_links(d.text), redact_links(d.html)
        if text != d.text or html != d.html:
            out[d.seq] = (text, html)
    return out
