"""What an email is, which kinds exist, and the retry rules. No I/O."""

from .emails import (
    TEMPLATES,
    Attachment,
    DeliveryStatus,
    OutgoingEmail,
    RetryPolicy,
    clean_addresses,
    one_line,
)

__all__ = ["TEMPLATES", "Attachment", "DeliveryStatus", "OutgoingEmail", "RetryPolicy", "clean_addresses", "one_line"]
