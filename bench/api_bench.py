"""Benchmark of the public API ``/api/v1`` through the gateway, every service a real process on
PostgreSQL and NATS (issue 13):

1. ``GET /api/v1/contractors/{id}`` with a real API key at a steady 200/s (open loop) for 20 s:
   p50/p95/p99, errors, achieved rate (target p99 < 50 ms);
2. its maximum throughput (closed loop, ``CLIENTS`` concurrent clients, 10 s) against a bare
   Litestar endpoint returning a small JSON body under uvicorn (one process, as the gateway),
   started in the same run (target ratio >= 0.3);
3. ``POST /api/v1/contractors`` at 100/s for 15 s, unique emails (target p99 < 100 ms);
4. webhook delivery: an endpoint subscribed to ``contractor.created`` pointing at a receiver in
   this process; contractors created at 50/s for 15 s; latency = arrival at the receiver - the
   create request's send time (target p99 < 1 s).

Latencies of the open-loop phases are from each request's scheduled send time (so a late load
generator counts against the result, as a late server would); ``actual_send`` variants are from
the moment the request was handed to httpx.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ten99_testing.ports import free_port  # noqa: E402
from workflow_bench import percentile, quiet, system_and_company  # noqa: E402

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


def summary(latencies_ms: list[float]) -> dict[str, float]:
    if not latencies_ms:
        return {"p50": -1, "p95": -1, "p99": -1, "max": -1}
    return {
        "p50": round(statistics.median(latencies_ms), 1),
        "p95": round(percentile(latencies_ms, 95), 1),
        "p99": round(percentile(latencies_ms, 99), 1),
        "max": round(max(latencies_ms), 1),
    }


async def open_loop(
    client: httpx.AsyncClient,
    rate: float,
    seconds: float,
    request: Callable[[int], Awaitable[httpx.Response]],
    on_sent: Callable[[int, float], None] | None = None,
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
            r = await request(i)
            ok = r.status_code == 200
            key = str(r.status_code)
        except httpx.HTTPError as e:
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
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    count = 0
    errors = 0
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as client:
        await client.get(url)  # warm
        stop = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal count, errors
            while time.monotonic() < stop:
                t = time.monotonic()
                try:
                    r = await client.get(url)
                    ok = r.status_code == 200
                except httpx.HTTPError:
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


class Receiver:
    """A webhook receiver: an HTTP server in a thread of this process, noting each delivery's
    arrival (monotonic) by the contractor id in ``data.object.id``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, float] = {}
        self.deliveries = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    event = json.loads(body)
                    cid = event["data"]["object"]["id"]
                except (ValueError, KeyError, TypeError):
                    return
                with receiver.lock:
                    receiver.deliveries += 1
                    receiver.arrivals.setdefault(cid, at)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_bare_litestar(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    (workdir / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"],
        cwd=workdir, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/contractors/warm").status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("bare litestar did not start")
        time.sleep(0.1)


def new_contractor(tag: str, i: int) -> dict[str, Any]:
    return {
        "first_name": f"Bench{i}",
        "last_name": "Api",
        "email": f"{tag}-{i}@bench.test",
        "address": {"line1": f"{i} Main St", "locality": "Oakland", "region": "CA", "postalcode": "94607"},
    }


async def webhook_phase(client: httpx.AsyncClient, rate: float, seconds: float) -> dict[str, Any]:
    with Receiver() as receiver:
        r = await client.post(
            "/api/v1/webhook_endpoints",
            json={"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["contractor.created"]},
        )
        assert r.status_code == 200, r.text
        sent: dict[int, float] = {}
        ids: dict[int, str] = {}
        tag = uuid.uuid4().hex[:8]

        async def create(i: int) -> httpx.Response:
            resp = await client.post("/api/v1/contractors", json=new_contractor(f"wh{tag}", i))
            if resp.status_code == 200:
                ids[i] = resp.json()["id"]
            return resp

        load = await open_loop(client, rate, seconds, create, on_sent=lambda i, t: sent.__setitem__(i, t))
        t_end = time.monotonic()
        while time.monotonic() - t_end < 60:
            with receiver.lock:
                if all(cid in receiver.arrivals for cid in ids.values()):
                    break
            await asyncio.sleep(0.1)
        with receiver.lock:
            arrivals = dict(receiver.arrivals)
            deliveries = receiver.deliveries
        latencies = [(arrivals[cid] - sent[i]) * 1000 for i, cid in ids.items() if cid in arrivals]
        return {
            "created": len(ids),
            "create_errors": load["errors"],
            "create_rate_per_s": load["achieved_rate_per_s"],
            "arrived": len(latencies),
            "deliveries_received": deliveries,
            "delivery_latency_ms": summary(latencies),
        }


async def main() -> dict[str, Any]:
    load_at_start = os.getloadavg()
    async with system_and_company() as (system, _smtp, company, _own):
        headers = {"Authorization": f"Bearer {company.api_key}"}
        limits = httpx.Limits(max_connections=64, keepalive_expiry=5.0)
        async with httpx.AsyncClient(base_url=system.gateway_url, headers=headers, timeout=30, limits=limits) as client:
            r = await client.post("/api/v1/contractors", json=new_contractor("first", 0))
            assert r.status_code == 200, r.text
            cid = r.json()["id"]
            path = f"/api/v1/contractors/{cid}"
            assert (await client.get(path)).status_code == 200
            for _ in range(200):  # warm the gateway's key cache and connections
                await client.get(path)
            print("bench: GET at 200/s", file=sys.stderr, flush=True)
            get_steady = await open_loop(client, 200.0, 20.0, lambda _i: client.get(path))

        print("bench: closed loop, gateway and bare litestar", file=sys.stderr, flush=True)
        gateway_max = await closed_loop(f"{system.gateway_url}{path}", headers, 10.0)
        with tempfile.TemporaryDirectory(prefix="ten99-bare-") as tmp:
            proc, bare_url = start_bare_litestar(Path(tmp))
            try:
                bare_max = await closed_loop(f"{bare_url}/contractors/{cid}", {}, 10.0)
            finally:
                proc.terminate()
                proc.wait(10)

        async with httpx.AsyncClient(base_url=system.gateway_url, headers=headers, timeout=30, limits=limits) as client:
            tag = uuid.uuid4().hex[:8]
            print("bench: POST at 100/s", file=sys.stderr, flush=True)
            post_steady = await open_loop(
                client, 100.0, 15.0, lambda i: client.post("/api/v1/contractors", json=new_contractor(f"p{tag}", i))
            )
            caught_up_s = await quiet(system.nats_url)
            print("bench: webhook deliveries, creates at 50/s", file=sys.stderr, flush=True)
            webhooks = await webhook_phase(client, 50.0, 15.0)
        return {
            "get_contractor_200_per_s": get_steady,
            "max_throughput": {
                "gateway_get_contractor": gateway_max,
                "bare_litestar": bare_max,
                "ratio": round(gateway_max["rps"] / bare_max["rps"], 3) if bare_max["rps"] else -1,
            },
            "post_contractor_100_per_s": post_steady,
            "services_caught_up_after_posts_s": caught_up_s,
            "webhook_contractor_created_50_per_s": webhooks,
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
        }


if __name__ == "__main__":
    import uvloop

    print(json.dumps(uvloop.run(main()), indent=2))
