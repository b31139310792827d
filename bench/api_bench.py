"""Benchmark of the public API ``/api/v1`` through the gateway, every service a real process on
PostgreSQL and NATS (issue 13):

1. ``GET /api/v1/contractors/{id}`` with a real API key at a steady 200/s (open loop) for 20 s:
   p50/p95/p99, errors, achieved rate (target p99 < 50 ms);
2. its maximum throughput (closed loop, ``CLIENTS`` concurrent clients, 10 s) against a bare
   Litestar endpoint returning a small JSON body under uvicorn (one process, as the gateway),
   started in the same run (target ratio >= 0.3); the gateway's cached-answer lookups during it
   (hits: answered without the contractor service; docs/public-api.md, "Cached retrieves");
3. ``POST /api/v1/contractors`` at 100/s for 15 s, unique emails (target p99 < 100 ms);
4. webhook delivery: an endpoint subscribed to ``contractor.created`` pointing at a receiver in
   this process; contractors created at 50/s for 15 s; latency = arrival at the receiver - the
   create request's send time (target p99 < 1 s).

Latencies of the open-loop phases are from each request's scheduled send time (so a late load
generator counts against the result, as a late server would); ``actual_send`` variants are from
the moment the request was handed to the client.

The load generator is an aiohttp client (one session, a connection per request in flight): on the
same two cores as the stack, httpx's client spent more CPU per request than the gateway under test
(its pool scans every connection per request). The webhook receiver is an aiohttp server in a
process of its own (a thread of this process would wait for the load generator's GIL); it notes
each arrival on ``time.monotonic()``, the same clock as this process's send times on Linux.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ten99_testing.ports import free_port  # noqa: E402
from workflow_bench import cpu_ms_per, cpu_snapshot, percentile, quiet, system_and_company  # noqa: E402

#: closed-loop clients of the throughput phase
CLIENTS = 32

BARE_APP = """
from litestar import Litestar, get


@get("/contractors/{contractor_id:str}", sync_to_thread=False)
def contractor(contractor_id: str) -> dict:
    return {"id": contractor_id, "object": "contractor", "created": 1765000000, "first_name": "Ada",
            "middle_name": None, "last_name": "Lovelace", "email": "ada@bench.test", "phone": None,
            "address": None, "company_name": None, "tax_identification": None, "custom_metadata": {},
            "withhold_premium": None}


app = Litestar([contractor])
"""

#: the webhook receiver (its own process): POST /hook notes the arrival by ``data.object.id``;
#: GET /arrivals answers {"deliveries": n, "arrivals": {id: monotonic seconds}}
RECEIVER_APP = """
import json, sys, time
from aiohttp import web

arrivals, count = {}, [0]


async def hook(request):
    at = time.monotonic()
    body = await request.read()
    count[0] += 1
    try:
        arrivals.setdefault(json.loads(body)["data"]["object"]["id"], at)
    except (ValueError, KeyError, TypeError):
        pass
    return web.Response(status=200)


async def report(request):
    return web.json_response({"deliveries": count[0], "arrivals": arrivals})


app = web.Application()
app.add_routes([web.post("/hook", hook), web.get("/arrivals", report)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

#: (status, body) of one request; an exception is an error named by its type
Request = Callable[[int], Awaitable[tuple[int, bytes]]]


def summary(latencies_ms: list[float]) -> dict[str, float]:
    if not latencies_ms:
        return {"p50": -1, "p95": -1, "p99": -1, "max": -1}
    return {
        "p50": round(statistics.median(latencies_ms), 1),
        "p95": round(percentile(latencies_ms, 95), 1),
        "p99": round(percentile(latencies_ms, 99), 1),
        "max": round(max(latencies_ms), 1),
    }


def session(base_url: str = "", headers: dict[str, str] | None = None, connections: int = 0) -> aiohttp.ClientSession:
    """The load generator's client (``connections`` 0: as many as requests in flight)."""
    return aiohttp.ClientSession(
        base_url=base_url or None,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=60),
        # idle connections dropped before uvicorn drops them (its keep-alive is 5 s), or a request can
        # go out on a connection the server is closing
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=3),
    )


async def call(client: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    async with client.request(method, path, json=body) as r:
        return r.status, await r.read()


async def open_loop(
    rate: float, seconds: float, request: Request, on_sent: Callable[[int, float], None] | None = None
) -> dict[str, Any]:
    """``rate`` requests per second for ``seconds``, each started at its scheduled time whether or
    not the previous ones have been answered."""
    n = round(rate * seconds)
    from_schedule: list[float] = []
    from_send: list[float] = []
    errors: dict[str, int] = {}
    done_at: list[float] = []

    async def one(i: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        sent = time.monotonic()
        if on_sent is not None:
            on_sent(i, sent)
        try:
            status, _ = await request(i)
            ok, key = status == 200, str(status)
        except (aiohttp.ClientError, TimeoutError) as e:
            ok, key = False, type(e).__name__
        end = time.monotonic()
        done_at.append(end)
        if ok:
            from_schedule.append((end - at) * 1000)
            from_send.append((end - sent) * 1000)
        else:
            errors[key] = errors.get(key, 0) + 1

    t0 = time.monotonic() + 0.2
    await asyncio.gather(*(one(i, t0 + i / rate) for i in range(n)))
    window = max(done_at) - t0
    return {
        "requests": n,
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(n / window, 1),
        "ok": len(from_schedule),
        "errors": errors,
        "latency_ms": summary(from_schedule),
        "latency_from_actual_send_ms": summary(from_send),
    }


async def closed_loop(url: str, headers: dict[str, str], seconds: float, clients: int = CLIENTS) -> dict[str, Any]:
    count = 0
    errors = 0
    latencies: list[float] = []
    async with session(headers=headers, connections=clients) as client:
        await call(client, "GET", url)  # warm
        stop = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal count, errors
            while time.monotonic() < stop:
                t = time.monotonic()
                try:
                    ok = (await call(client, "GET", url))[0] == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    count += 1
                    latencies.append((time.monotonic() - t) * 1000)
                else:
                    errors += 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - t0
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": count,
        "errors": errors,
        "rps": round(count / elapsed, 1),
        "latency_ms": summary(latencies),
    }


def start_process(workdir: Path, name: str, source: str, args: list[str], ready_url: str) -> subprocess.Popen[bytes]:
    """``source`` run as ``workdir/name`` in a process of its own, once ``ready_url`` answers."""
    (workdir / name).write_text(source)
    proc = subprocess.Popen([sys.executable, *args], cwd=workdir, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(ready_url).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"{name} did not start")
        time.sleep(0.1)


def start_bare_litestar(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = ["-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return start_process(workdir, "bare_app.py", BARE_APP, args, f"{url}/contractors/warm"), url


def new_contractor(tag: str, i: int) -> dict[str, Any]:
    return {
        "first_name": f"Bench{i}",
        "last_name": "Api",
        "email": f"{tag}-{i}@bench.test",
        "address": {"line1": f"{i} Main St", "locality": "Oakland", "region": "CA", "postalcode": "94607"},
    }


async def webhook_phase(client: aiohttp.ClientSession, rate: float, seconds: float, workdir: Path) -> dict[str, Any]:
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    receiver = start_process(workdir, "receiver.py", RECEIVER_APP, ["receiver.py", str(port)], f"{receiver_url}/arrivals")
    try:
        status, body = await call(
            client, "POST", "/api/v1/webhook_endpoints", {"url": f"{receiver_url}/hook", "events": ["contractor.created"]}
        )
        assert status == 200, body
        sent: dict[int, float] = {}
        ids: dict[int, str] = {}
        tag = uuid.uuid4().hex[:8]

        async def create(i: int) -> tuple[int, bytes]:
            status, body = await call(client, "POST", "/api/v1/contractors", new_contractor(f"wh{tag}", i))
            if status == 200:
                ids[i] = json.loads(body)["id"]
            return status, body

        load = await open_loop(rate, seconds, create, on_sent=lambda i, t: sent.__setitem__(i, t))
        t_end = time.monotonic()
        async with session() as probe:
            while True:
                _, raw = await call(probe, "GET", f"{receiver_url}/arrivals")
                report = json.loads(raw)
                if all(cid in report["arrivals"] for cid in ids.values()) or time.monotonic() - t_end > 60:
                    break
                await asyncio.sleep(0.2)
    finally:
        receiver.kill()  # its open keep-alive connections would hold a graceful stop for a minute
        receiver.wait(10)
    arrivals = report["arrivals"]
    latencies = [(arrivals[cid] - sent[i]) * 1000 for i, cid in ids.items() if cid in arrivals]
    return {
        "created": len(ids),
        "create_errors": load["errors"],
        "create_rate_per_s": load["achieved_rate_per_s"],
        "create_latency_ms": load["latency_ms"],
        "arrived": len(latencies),
        "deliveries_received": report["deliveries"],
        "delivery_latency_ms": summary(latencies),
    }


def cpu_ms_per_request(system: Any, before: dict[str, float], n: int) -> dict[str, float]:
    """CPU milliseconds per request of each service process and of this benchmark process (PostgreSQL
    and NATS are left out: on a shared machine their processes serve other work too). Unlike the
    latencies, this hardly depends on what else the machine is doing."""
    per = cpu_ms_per(before, cpu_snapshot(system), n)
    return {k: v for k, v in per.items() if k not in ("postgresql", "nats", "total")}


def cache_lookups(system: Any) -> dict[str, int]:
    """The gateway's cached-answer lookups so far, by outcome (``ten99_api_cache_lookups_total``)."""
    with system.ops_client("gateway") as ops:
        text = ops.get("/metrics").text
    found = re.findall(r'^ten99_api_cache_lookups_total\{outcome="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return {outcome: int(float(value)) for outcome, value in found}


def note(result: dict[str, Any]) -> None:
    """A phase's result on stderr as soon as it is known."""
    print(json.dumps(result), file=sys.stderr, flush=True)


async def get_phases(system: Any, headers: dict[str, str], workdir: Path) -> dict[str, Any]:
    gateway_url = system.gateway_url
    async with session(gateway_url, headers) as client:
        status, body = await call(client, "POST", "/api/v1/contractors", new_contractor("first", 0))
        assert status == 200, body
        path = f"/api/v1/contractors/{json.loads(body)['id']}"
        for _ in range(200):  # warm the gateway's key cache and connections
            assert (await call(client, "GET", path))[0] == 200
        print("bench: GET at 200/s", file=sys.stderr, flush=True)
        before = cpu_snapshot(system)
        get_steady = await open_loop(200.0, 20.0, lambda _i: call(client, "GET", path))
        get_steady["cpu_ms_per_request"] = cpu_ms_per_request(system, before, get_steady["requests"])
        note(get_steady)

    print("bench: closed loop, gateway and bare litestar", file=sys.stderr, flush=True)
    lookups = cache_lookups(system)
    gateway_max = await closed_loop(f"{gateway_url}{path}", headers, 10.0)
    gateway_max["cache_lookups"] = {k: v - lookups.get(k, 0) for k, v in cache_lookups(system).items()}
    proc, bare_url = start_bare_litestar(workdir)
    try:
        bare_max = await closed_loop(f"{bare_url}/contractors/{path.rsplit('/', 1)[-1]}", {}, 10.0)
    finally:
        proc.terminate()
        proc.wait(10)
    max_throughput = {
        "gateway_get_contractor": gateway_max,
        "bare_litestar": bare_max,
        "ratio": round(gateway_max["rps"] / bare_max["rps"], 3) if bare_max["rps"] else -1,
    }
    note(max_throughput)
    return {"get_contractor_200_per_s": get_steady, "max_throughput": max_throughput}


async def main() -> dict[str, Any]:
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ten99-api-bench-") as tmp:
        async with system_and_company() as (system, _smtp, company, _own):
            headers = {"Authorization": f"Bearer {company.api_key}"}
            gets = await get_phases(system, headers, Path(tmp))
            async with session(system.gateway_url, headers) as client:
                tag = uuid.uuid4().hex[:8]
                print("bench: POST at 100/s", file=sys.stderr, flush=True)
                before = cpu_snapshot(system)
                post_steady = await open_loop(
                    100.0, 15.0, lambda i: call(client, "POST", "/api/v1/contractors", new_contractor(f"p{tag}", i))
                )
                caught_up_s = await quiet(system.nats_url)
                # the create and everything it sets off in the other services (events, public event, ...)
                post_steady["cpu_ms_per_request_until_caught_up"] = cpu_ms_per_request(system, before, post_steady["requests"])
                note(post_steady)
                print("bench: webhook deliveries, creates at 50/s", file=sys.stderr, flush=True)
                webhooks = await webhook_phase(client, 50.0, 15.0, Path(tmp))
    return {
        **gets,
        "post_contractor_100_per_s": post_steady,
        "services_caught_up_after_posts_s": caught_up_s,
        "webhook_contractor_created_50_per_s": webhooks,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
    }


if __name__ == "__main__":
    import uvloop

    print(json.dumps(uvloop.run(main()), indent=2))
