"""Imports every message module so that ``REGISTRY`` knows all subjects."""

from . import billing_v1, contractor_v1, enrollment_v1, gateway_v1, notification_v1, policy_v1  # noqa: F401
from .base import REGISTRY

__all__ = ["REGISTRY", "all_messages"]


def all_messages() -> dict[str, type]:
    return dict(sorted(REGISTRY.items()))
