"""The notification service's HTTP API (called by the gateway only)."""

from .deliveries import DeliveryController
from .events import EventController
from .ledger import LedgerController
from .mailbox import MailboxController
from .webhooks import WebhookDeliveryController, WebhookEndpointController

__all__ = [
    "DeliveryController",
    "EventController",
    "LedgerController",
    "MailboxController",
    "WebhookDeliveryController",
    "WebhookEndpointController",
]
