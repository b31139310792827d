"""The public API's cached contractor retrieve (`gateway.application.answers`): a second retrieve is
answered without the contractor service; the answer goes when the contractor service announces a
change on the bus, at once when the change is made through this gateway, and never reaches another
company; nothing is kept or served while the gateway does not follow the bus."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from gateway.application.answers import ANSWER_LOOKUPS, AnswerCache, Kept
from gateway.application.api_keys import create_api_key
from gateway_fakes import CN_1, CN_2, FakeServices, make_company
from litestar import Response
from ten99_contracts import Envelope, encode_envelope
from ten99_contracts.contractor_v1 import ContractorUpdatedV1
from ten99_testing import wait_until

pytestmark = pytest.mark.integration

PATH = f"/api/v1/contractors/{CN_1}"
UPSTREAM = f"/v1/contractors/{CN_1}"


async def bearer(gateway: Any, name: str) -> tuple[str, dict[str, str]]:
    company = await make_company(gateway, name, f"{name.lower()}@cache.test")
    key = await create_api_key(gateway.db, company_id=company, name="k", created_by=None, prefix="t9sk_test_")
    return company, {"Authorization": f"Bearer {key.key}"}


def answers_of(gateway: Any) -> AnswerCache:
    cache: AnswerCache = gateway.runtime.gateway.answers
    return cache


async def live(gateway: Any) -> AnswerCache:
    cache = answers_of(gateway)
    await wait_until(cache.live, what="the gateway following the contractor service's changes")
    return cache


async def announce_update(gateway: Any, tenant: str, contractor_id: str) -> None:
    """What the contractor service publishes after any change of a contractor."""
    data = ContractorUpdatedV1(contractor_id=contractor_id, first_name="Ada", last_name="King", email="ada@example.com")
    envelope = Envelope(
        id=uuid.uuid4().hex,
        subject=ContractorUpdatedV1.SUBJECT,
        occurred_at=datetime.now(UTC),
        tenant_id=tenant,
        aggregate_id=contractor_id,
        data=data,
    )
    await gateway.runtime.bus.js.publish(ContractorUpdatedV1.SUBJECT, encode_envelope(envelope))


async def test_a_retrieve_is_kept_until_the_contractor_service_announces_a_change(
    gateway: Any, fake_services: FakeServices
) -> None:
    company, headers = await bearer(gateway, "Kept")
    cache = await live(gateway)
    first = await gateway.client.get(PATH, headers=headers)
    assert first.status_code == 200 and first.json()["tenant_seen"] == company
    again = await gateway.client.get(PATH, headers=headers)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == 1

    fake_services.on("contractor", "GET", UPSTREAM, lambda s: {"id": CN_1, "object": "contractor", "last_name": "King"})
    await announce_update(gateway, "co_someone_else", CN_1)  # another company's contractor of that id: kept
    await announce_update(gateway, company, CN_1)
    await wait_until(lambda: len(cache) == 0, what="the answer dropped on the announcement")
    changed = await gateway.client.get(PATH, headers=headers)
    assert changed.json()["last_name"] == "King"
    assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == 2


async def test_a_change_through_the_api_drops_the_answer_before_it_is_answered(gateway: Any, fake_services: FakeServices) -> None:
    _, headers = await bearer(gateway, "Writer")
    await live(gateway)
    for method in ("PUT", "DELETE"):
        fake_services.on("contractor", method, UPSTREAM, lambda s: {"id": CN_1, "object": "contractor"})
    for method in ("PUT", "DELETE"):
        assert (await gateway.client.get(PATH, headers=headers)).status_code == 200
        before = len(fake_services.calls("contractor", "GET", UPSTREAM))
        changed = await gateway.client.request(
            method, PATH, headers=headers, json={"last_name": "King"} if method == "PUT" else None
        )
        assert changed.status_code == 200, changed.text
        # read after write, with no message from the bus: the service is asked again
        assert (await gateway.client.get(PATH, headers=headers)).status_code == 200
        assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == before + 1


async def test_another_company_never_gets_a_kept_answer(gateway: Any, fake_services: FakeServices) -> None:
    company_a, headers_a = await bearer(gateway, "Alpha")
    company_b, headers_b = await bearer(gateway, "Beta")
    await live(gateway)
    assert (await gateway.client.get(PATH, headers=headers_a)).json()["tenant_seen"] == company_a
    fake_services.on(
        "contractor",
        "GET",
        UPSTREAM,
        lambda s: Response({"error_code": "invalid_contractor_id", "message": "No such contractor"}, status_code=404),
    )
    refused = await gateway.client.get(PATH, headers=headers_b)
    assert refused.status_code == 404 and refused.json()["error_code"] == "invalid_contractor_id"
    assert [c.headers["x-tenant-id"] for c in fake_services.calls("contractor", "GET", UPSTREAM)] == [company_a, company_b]
    # a refusal is never kept: B is asked about again, A still gets its own answer from the cache
    assert (await gateway.client.get(PATH, headers=headers_b)).status_code == 404
    assert (await gateway.client.get(PATH, headers=headers_a)).json()["tenant_seen"] == company_a
    assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == 3


async def test_nothing_is_kept_while_the_gateway_does_not_follow_the_bus(gateway: Any, fake_services: FakeServices) -> None:
    _, headers = await bearer(gateway, "Unfollowed")
    cache = await live(gateway)
    assert (await gateway.client.get(PATH, headers=headers)).status_code == 200
    cache.bind(lambda: False)  # as while NATS is away or the subscriptions are being made
    for _ in range(2):
        assert (await gateway.client.get(PATH, headers=headers)).status_code == 200
    assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == 3


async def test_a_large_answer_is_gzipped_once_for_clients_that_accept_gzip(gateway: Any, fake_services: FakeServices) -> None:
    """The retrieve skips the compression middleware (no gzip set-up per request for its small
    answers); one over the middleware's 2 KB minimum (a large custom_metadata) is gzipped all the
    same, asked for or kept."""
    _, headers = await bearer(gateway, "Large")
    cache = await live(gateway)
    metadata = {f"field_{i}": f"value {i} " * 8 for i in range(40)}
    fake_services.on("contractor", "GET", UPSTREAM, lambda s: {"id": CN_1, "object": "contractor", "custom_metadata": metadata})
    gzip_ok = {**headers, "Accept-Encoding": "gzip, deflate"}
    asked = await gateway.client.get(PATH, headers=gzip_ok)
    kept = await gateway.client.get(PATH, headers=gzip_ok)
    plain = await gateway.client.get(PATH, headers={**headers, "Accept-Encoding": "identity"})
    assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == 1 and len(cache) == 1
    for answer in (asked, kept):
        assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip", answer.headers
        assert answer.headers["vary"] == "Accept-Encoding" and answer.json()["custom_metadata"] == metadata
        assert int(answer.headers["content-length"]) < len(plain.content) / 4
    assert "content-encoding" not in plain.headers and plain.json()["custom_metadata"] == metadata
    assert len(plain.content) > 2048
    small = await gateway.client.get(f"/api/v1/contractors/{CN_2}", headers=gzip_ok)
    assert small.status_code == 200 and "content-encoding" not in small.headers


def counted(outcome: str) -> float:
    value: float = ANSWER_LOOKUPS.labels(outcome=outcome)._value.get()
    return value


async def test_misses_at_the_same_time_ask_the_service_once(gateway: Any, fake_services: FakeServices) -> None:
    """When a much-read answer is not kept (expired, dropped), the requests missing it together
    wait for one call to the contractor service."""
    _, headers = await bearer(gateway, "Herd")
    await live(gateway)
    release = asyncio.Event()

    async def slow() -> dict[str, str]:
        await release.wait()
        return {"id": CN_1, "object": "contractor", "last_name": "Herd"}

    fake_services.on("contractor", "GET", UPSTREAM, lambda s: slow())
    misses, shared = counted("miss"), counted("shared")
    gets = [asyncio.create_task(gateway.client.get(PATH, headers=headers)) for _ in range(5)]
    try:
        await wait_until(lambda: counted("shared") - shared == 4, timeout=10, what="four misses waiting for the first one's call")
    finally:
        release.set()  # else the waiting requests outlive a failed test
        answers = await asyncio.gather(*gets)
    assert [a.status_code for a in answers] == [200] * 5 and {a.json()["last_name"] for a in answers} == {"Herd"}
    assert len(fake_services.calls("contractor", "GET", UPSTREAM)) == 1 and counted("miss") - misses == 1


# ------------------------------------------------------------------ the cache's own rules


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cache_of(size: int = 3) -> tuple[AnswerCache, FakeTime]:
    clock = FakeTime()
    cache = AnswerCache(max_age_s=5, size=size, now=clock)
    cache.bind(lambda: True)
    return cache, clock


def test_an_answer_is_served_for_at_most_its_maximum_age() -> None:
    cache, clock = cache_of()
    cache.put("t1", "cn_1", Kept("application/json", b"{}"), cache.ticket())
    clock.now += 4.9
    assert cache.get("t1", "cn_1") == Kept("application/json", b"{}")
    clock.now += 0.1
    assert cache.get("t1", "cn_1") is None


def test_a_lookup_that_began_before_a_drop_or_a_clear_keeps_nothing() -> None:
    cache, _ = cache_of()
    kept = Kept("application/json", b"{}")
    began = cache.ticket()
    cache.drop("t1", "cn_1")  # the change's message arrives while the service is being asked
    cache.put("t1", "cn_1", kept, began)
    assert cache.get("t1", "cn_1") is None
    cache.put("t1", "cn_2", kept, began)  # another contractor's lookup is not affected
    assert cache.get("t1", "cn_2") == kept
    began = cache.ticket()
    cache.clear()
    cache.put("t1", "cn_3", kept, began)
    assert cache.get("t1", "cn_3") is None and len(cache) == 0
    cache.put("t1", "cn_3", kept, cache.ticket())
    assert cache.get("t1", "cn_3") == kept


def test_a_lookup_older_than_the_drops_remembered_keeps_nothing() -> None:
    cache, _ = cache_of(size=2)
    kept = Kept("application/json", b"{}")
    began = cache.ticket()
    for i in range(3):  # three drops of other contractors: the first is no longer remembered
        cache.drop("t1", f"cn_other{i}")
    cache.put("t1", "cn_1", kept, began)
    assert cache.get("t1", "cn_1") is None
    cache.put("t1", "cn_1", kept, cache.ticket())
    assert cache.get("t1", "cn_1") == kept


def test_the_cache_is_bounded_and_understands_only_messages_naming_a_contractor() -> None:
    cache, _ = cache_of(size=2)
    kept = Kept("application/json", b"{}")
    for i in range(3):
        cache.put("t1", f"cn_{i}", kept, cache.ticket())
    assert len(cache) == 2 and cache.get("t1", "cn_0") is None
    with pytest.raises(ValueError):
        cache.heard(ContractorUpdatedV1.SUBJECT, b'{"tenant_id": "t1", "data": {}}')
    cache.heard(ContractorUpdatedV1.SUBJECT, b'{"tenant_id": "t1", "data": {"contractor_id": "cn_1"}, "id": "x"}')
    assert cache.get("t1", "cn_1") is None and cache.get("t1", "cn_2") == kept


def test_a_cache_never_bound_to_a_follower_is_off() -> None:
    """``GATEWAY_API_CACHE__ENABLED=false``: nothing kept, nothing served, no lookup counted as
    "not live" (which would look like a gateway that lost NATS)."""
    from gateway.application.answers import ANSWER_LOOKUPS

    cache = AnswerCache(max_age_s=5, size=3)
    not_live = ANSWER_LOOKUPS.labels(outcome="not_live")._value.get()
    cache.put("t1", "cn_1", Kept("application/json", b"{}"), cache.ticket())
    assert cache.get("t1", "cn_1") is None and len(cache) == 0
    assert ANSWER_LOOKUPS.labels(outcome="not_live")._value.get() == not_live


async def answered(value: str) -> str:
    return value


async def test_a_shared_call_is_joined_only_while_no_drop_came_after_it_began() -> None:
    cache, _ = cache_of()
    asked: list[asyncio.Future[str]] = []

    def ask() -> asyncio.Future[str]:
        asked.append(asyncio.get_running_loop().create_future())
        return asked[-1]

    first = asyncio.ensure_future(cache.shared("t1", "cn_1", ask))
    second = asyncio.ensure_future(cache.shared("t1", "cn_1", ask))
    other = asyncio.ensure_future(cache.shared("t2", "cn_1", ask))  # another company's: its own call
    await wait_until(lambda: len(asked) == 2, what="two calls")
    cache.drop("t1", "cn_1")  # a change: the call under way may predate it
    third = asyncio.ensure_future(cache.shared("t1", "cn_1", ask))
    await wait_until(lambda: len(asked) == 3, what="a third call, after the drop")
    asked[0].set_result("before")
    asked[1].set_result("t2's")
    asked[2].set_result("after")
    assert await asyncio.gather(first, second, other, third) == ["before", "before", "t2's", "after"]
    assert await cache.shared("t1", "cn_1", lambda: answered("anew")) == "anew"  # nothing under way now


async def test_a_shared_call_outlives_the_request_that_began_it_and_fails_for_all() -> None:
    cache, _ = cache_of()
    gate = asyncio.Event()

    async def ask() -> str:
        await gate.wait()
        raise RuntimeError("the service went away")

    shared = counted("shared")
    first = asyncio.ensure_future(cache.shared("t1", "cn_1", ask))
    second = asyncio.ensure_future(cache.shared("t1", "cn_1", ask))
    await wait_until(lambda: counted("shared") - shared == 1, what="the second miss joining the first one's call")
    first.cancel()  # the client that began it disconnected
    gate.set()
    with pytest.raises(RuntimeError, match="went away"):
        await second
    assert first.cancelled()
    assert await cache.shared("t1", "cn_1", lambda: answered("retried")) == "retried"


async def test_while_not_live_every_miss_asks_for_itself() -> None:
    cache, _ = cache_of()
    cache.bind(lambda: False)
    calls: list[int] = []

    async def ask() -> int:
        calls.append(1)
        return len(calls)

    assert sorted(await asyncio.gather(*(cache.shared("t1", "cn_1", ask) for _ in range(3)))) == [1, 2, 3]
