"""What JetStream says about billing's own consumers: have they applied everything published to
them so far? The invoice issuer asks before it issues a quiet PO group (see `application.issuing`)."""

from __future__ import annotations

import asyncio

from ten99_contracts import stream_for_subject
from ten99kit import Bus, InboxConsumer, Subscription

__all__ = ["inputs_applied"]


async def inputs_applied(bus: Bus, consumer: InboxConsumer) -> bool:
    """True when no subscription of ``consumer`` has a message waiting for delivery or delivered
    and not yet acknowledged (acks follow commits: an acknowledged message is applied). A consumer
    JetStream does not know yet (the worker is starting) counts as not caught up."""

    async def caught_up(sub: Subscription) -> bool:
        try:
            info = await bus.js.consumer_info(stream_for_subject(sub.subject).name, consumer.durable(sub))
        except Exception:
            return False
        return not info.num_pending and not info.num_ack_pending

    answers = await asyncio.gather(*(caught_up(s) for s in consumer.subscriptions))
    return all(answers)
