"""The notification service's HTTP API (called by the gateway only)."""

from .deliveries import DeliveryController
from .mailbox import MailboxController

__all__ = ["DeliveryController", "MailboxController"]
