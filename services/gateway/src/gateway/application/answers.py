"""Public API answers kept in the gateway process (`AnswerCache`), dropped when their resource
changes: the cached retrieve of ``GET /api/v1/contractors/{id}``.

A retrieve answered from here costs the gateway's own work only: no call to the owning service and
no database read (a proxied retrieve cost about 3.5 CPU ms across the gateway, the service and
PostgreSQL; bench/README.md, "Public API").

What is kept, and for how long:
- a 200 answer of a cached operation, under (company, resource id): another company's key never
  finds it, and the service's own answer (its 404 for another company's id) is asked for every miss;
- at most `ApiCacheSettings.max_age_s` (5 s), at most `ApiCacheSettings.size` answers.

When an answer is dropped (what makes it correct):
- a change made through this process (the public API's update or delete of the resource) drops it
  before the change is answered: a client reads its own writes from the replica it wrote through;
- any other change (another replica, the dashboard, a CSV import, an integration sync, the
  contractor's portal) is announced on the bus by the owning service (`INVALIDATED_BY`), and every
  gateway process follows those subjects (`ten99kit.follow.Follower`): the answer is dropped when
  the message arrives, milliseconds after the change's commit;
- nothing is kept or answered while the follower is not live (NATS away, subscriptions being
  made), and everything is dropped when it may have missed a message (`clear`);
- a lookup that began before a drop does not keep its (possibly older) answer (`ticket`).
So an answer older than its resource is served only between a change's commit and its message's
arrival (the outbox relay publishes at commit; milliseconds), and never for longer than the
maximum age (a relay that is down or slow).

Misses of one answer at the same time ask the service once (`shared`): when a much-read answer
expires, the requests that miss it wait for the first one's call instead of each making their own.
A request joins only a call that began after the answer's last drop, so what it gets is as fresh as
a kept answer would be.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from prometheus_client import Counter
from ten99_contracts.contractor_v1 import ContractorDeletedV1, ContractorUpdatedV1
from ten99kit.http import COMPRESSION_MINIMUM, gzipped

from .expiring import Expiring

__all__ = ["ANSWER_LOOKUPS", "INVALIDATED_BY", "AnswerCache", "Kept"]

ANSWER_LOOKUPS = Counter(
    "ten99_api_cache_lookups_total", "Public API retrieves looked up in the gateway's cache, by outcome", ["outcome"]
)
_HIT, _MISS, _SHARED, _NOT_LIVE = (ANSWER_LOOKUPS.labels(outcome=o) for o in ("hit", "miss", "shared", "not_live"))

T = TypeVar("T")

#: the messages that change a cached resource: subject -> the data field naming it
INVALIDATED_BY: dict[str, str] = {
    ContractorUpdatedV1.SUBJECT: "contractor_id",
    ContractorDeletedV1.SUBJECT: "contractor_id",
}


@dataclass(frozen=True)
class Kept:
    content_type: str
    body: bytes
    #: the body gzipped once when it is kept, if it is large enough to be sent so
    packed: bytes | None = None

    @classmethod
    def of(cls, content_type: str, body: bytes) -> Kept:
        return cls(content_type, body, gzipped(body) if len(body) >= COMPRESSION_MINIMUM else None)


class _Named(msgspec.Struct):
    """What a change message must say: the company and the resource (the rest is not read)."""

    tenant_id: str
    data: dict[str, object]


_named = msgspec.json.Decoder(_Named)


class AnswerCache:
    """(company, resource id) -> the service's 200 answer."""

    def __init__(self, max_age_s: float, size: int, *, now: Callable[[], float] = time.monotonic) -> None:
        self._answers: Expiring[tuple[str, str], Kept] = Expiring(max_age_s, size, now)
        #: whether answers may be kept and served (the follower is live); set by `bind`
        self.live: Callable[[], bool] = lambda: False
        #: bound to a follower (else the cache is off: nothing kept, nothing counted)
        self.enabled = False
        #: bumped by every drop; a lookup's `ticket` is the value when it began
        self._seq = 0
        #: the most recent drops: key -> `_seq` of its last drop (at most `size`)
        self._dropped: OrderedDict[tuple[str, str], int] = OrderedDict()
        #: lookups that began before this are not kept (a `clear`, or a drop no longer remembered)
        self._floor = 0
        #: the calls to the service under way for a miss, which other misses of the key join
        self._asking: dict[tuple[str, str], asyncio.Future[Any]] = {}

    def bind(self, live: Callable[[], bool]) -> None:
        self.live = live
        self.enabled = True

    def get(self, tenant_id: str, resource_id: str) -> Kept | None:
        if not self.live():
            if self.enabled:
                _NOT_LIVE.inc()
            return None
        kept = self._answers.get((tenant_id, resource_id))
        if kept is not None:
            _HIT.inc()
        return kept

    async def shared(self, tenant_id: str, resource_id: str, ask: Callable[[], Awaitable[T]]) -> T:
        """After a `get` that found nothing: ``ask()`` the service, or join the call another miss of
        the same answer has under way. The call runs to its end even if the request that began it
        goes away (the others wait for it). Not live (or off): every request asks for itself."""
        if not self.live():
            return await ask()
        key = (tenant_id, resource_id)
        call = self._asking.get(key)
        if call is None:
            _MISS.inc()
            call = self._asking[key] = asyncio.ensure_future(ask())
            call.add_done_callback(lambda done: self._asked(key, done))
        else:
            _SHARED.inc()
        result: T = await asyncio.shield(call)
        return result

    def _asked(self, key: tuple[str, str], call: asyncio.Future[Any]) -> None:
        if self._asking.get(key) is call:
            del self._asking[key]
        if not call.cancelled():
            call.exception()  # retrieved: whoever waited has it; nobody may be left to

    def ticket(self) -> int:
        """Taken before asking the service; `put` keeps the answer only if nothing was dropped since."""
        return self._seq

    def put(self, tenant_id: str, resource_id: str, kept: Kept, ticket: int) -> None:
        key = (tenant_id, resource_id)
        if not self.live() or ticket < self._floor or self._dropped.get(key, -1) > ticket:
            return
        self._answers.put(key, kept)

    def drop(self, tenant_id: str, resource_id: str) -> None:
        """The resource changed (or may have): its answer goes, and so does any lookup under way."""
        self._seq += 1
        key = (tenant_id, resource_id)
        self._answers.pop(key)
        self._asking.pop(key, None)  # a call under way may predate the change: nobody joins it now
        self._dropped[key] = self._seq
        self._dropped.move_to_end(key)
        while len(self._dropped) > self._answers.size:
            _, seq = self._dropped.popitem(last=False)
            self._floor = max(self._floor, seq)

    def clear(self) -> None:
        """A message may have been missed: nothing kept is trusted, no lookup under way is kept."""
        self._seq += 1
        self._floor = self._seq
        self._answers.clear()
        self._dropped.clear()
        self._asking.clear()

    def heard(self, subject: str, raw: bytes) -> None:
        """A change message from the bus (`ten99kit.follow.Follower`): drop what it names."""
        field = INVALIDATED_BY[subject]
        named = _named.decode(raw)
        resource_id = named.data.get(field)
        if not isinstance(resource_id, str):
            raise ValueError(f"{subject} without {field}")
        self.drop(named.tenant_id, resource_id)

    def __len__(self) -> int:
        return len(self._answers)
