"""A service's durable JetStream consumers: how far behind they are, and a reset after a restore.

    python scripts/ops_jetstream.py consumers <service>         one JSON line per consumer
    python scripts/ops_jetstream.py reset-consumers <service>   delete them (see below)
    kubectl -n ten99 exec -i deploy/contractor-worker -- python - consumers contractor < scripts/ops_jetstream.py

The NATS URL is the one the service reads (``<SERVICE>_NATS__URL``), so inside a service's pod the
command needs nothing else.

``reset-consumers`` is for a service whose database was restored from a backup: JetStream still
remembers what the service acknowledged after the backup was taken, so those messages would never
come again. Deleting the service's durable consumers (named ``<service>__<subject>``, or
``<service>__<name>__<subject>`` for a named reaction) makes its workers create them afresh, from
the start of each stream (deliver policy "all"); the service's inbox, restored with its database,
drops every message it had applied before the backup and applies the ones after it. Stop the
service's workers first (a running worker recreates a deleted consumer at once, which is harmless
but makes the listing confusing), then start them.

Uses nats-py only (the service image has it); no nats CLI needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import nats
from nats.js.api import ConsumerInfo


def _nats_url(service: str) -> str:
    name = f"{service.upper()}_NATS__URL"
    url = os.environ.get(name)
    if not url:
        raise SystemExit(f"{name} is not set")
    return url


def _describe(info: ConsumerInfo) -> dict[str, object]:
    config = info.config
    return {
        "stream": info.stream_name,
        "consumer": info.name,
        "subject": config.filter_subject,
        "pending": info.num_pending,
        "ack_pending": info.num_ack_pending,
        "redelivered": info.num_redelivered,
        "waiting": info.num_waiting,
        "delivered_stream_seq": info.delivered.stream_seq if info.delivered else None,
        "ack_floor_stream_seq": info.ack_floor.stream_seq if info.ack_floor else None,
    }


async def _service_consumers(js: nats.js.JetStreamContext, service: str) -> list[ConsumerInfo]:
    found: list[ConsumerInfo] = []
    for stream in await js.streams_info():
        for info in await js.consumers_info(stream.config.name or ""):
            if (info.name or "").startswith(f"{service}__"):
                found.append(info)
    return sorted(found, key=lambda i: (i.stream_name, i.name or ""))


async def run(action: str, service: str) -> int:
    nc = await nats.connect(_nats_url(service), connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        for info in await _service_consumers(js, service):
            if action == "reset-consumers":
                await js.delete_consumer(info.stream_name, info.name or "")
                print(json.dumps({"deleted": info.name, "stream": info.stream_name}), flush=True)
            else:
                print(json.dumps(_describe(info)), flush=True)
    finally:
        await nc.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("action", choices=["consumers", "reset-consumers"])
    parser.add_argument("service", choices=["contractor", "enrollment", "policy", "billing", "notification", "gateway"])
    args = parser.parse_args(argv)
    return asyncio.run(run(args.action, args.service))


if __name__ == "__main__":
    sys.exit(main())
