"""A company's webhook endpoints: create (the signing secret shown once), change, disable or
enable, delete, rotate the secret, and resend a delivery. The secret is stored encrypted
(`ten99kit.crypto.FieldCipher`) and never shown again after the answer that made it. Each change
publishes `WebhookEndpointChangedV1` in its transaction, for the audit ledger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET, UnsetType
from ten99_contracts.notification_v1 import WebhookEndpointChangedV1
from ten99kit import Database, InvalidInput, NotFound, UnitOfWork, new_id
from ten99kit.crypto import FieldCipher

from ..adapters.webhook_store import (
    delete_endpoint,
    fail_pending_deliveries,
    get_endpoint,
    insert_endpoint,
    requeue_delivery,
    update_endpoint,
)
from ..domain.webhooks import SECRET_ROTATION_OVERLAP, EndpointStatus, check_event_types, check_url, new_signing_secret

__all__ = ["EndpointChange", "EndpointRules", "Endpoints", "announce_endpoint", "unknown_endpoint"]


def unknown_endpoint(endpoint_id: str) -> NotFound:
    return NotFound(f"No such webhook endpoint: {endpoint_id}", error_code="invalid_webhook_endpoint_id")


#: what a change is about: a PUT that changes none of these publishes nothing
_ANNOUNCED = ("url", "events", "description", "status")


def announce_endpoint(uow: UnitOfWork, endpoint: Mapping[str, Any], change: str) -> None:
    """Publish the endpoint as it is after ``change`` (as it was, for deleted), never its secret."""
    message = WebhookEndpointChangedV1(
        endpoint_id=endpoint["id"],
        change=change,
        url=endpoint["url"],
        events=list(endpoint["events"]),
        description=endpoint["description"],
        enabled=endpoint["status"] == EndpointStatus.ENABLED,
        disabled_reason=endpoint["disabled_reason"],
    )
    uow.emit(message, tenant_id=endpoint["tenant_id"], aggregate_id=endpoint["id"])


def _change_of(before: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    """enabled or disabled when the status changed (with the rest of the PUT, if any), updated
    when only other fields did, None when the PUT changed nothing."""
    if before["status"] != after["status"]:
        return "enabled" if after["status"] == EndpointStatus.ENABLED else "disabled"
    return "updated" if any(before[name] != after[name] for name in _ANNOUNCED) else None


@dataclass(frozen=True)
class EndpointRules:
    allow_http: bool
    max_url_length: int


@dataclass(frozen=True)
class EndpointChange:
    """A PUT: only the fields given change."""

    url: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    events: list[str] | str | UnsetType | None = UNSET
    status: str | UnsetType = UNSET


def _events(value: list[str] | str | None) -> list[str]:
    if isinstance(value, str):
        return check_event_types([value])
    return check_event_types(value)


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > 500:
        raise InvalidInput({"description": "must be at most 500 characters"})
    return value or None


class Endpoints:
    def __init__(self, db: Database, cipher: FieldCipher, rules: EndpointRules, wake_deliverer: Callable[[], None]) -> None:
        self.db = db
        self.cipher = cipher
        self.rules = rules
        self.wake_deliverer = wake_deliverer

    def _url(self, url: str) -> str:
        return check_url(url, allow_http=self.rules.allow_http, max_length=self.rules.max_url_length)

    async def create(
        self, tenant_id: str, *, url: str, description: str | None, events: list[str] | str | None
    ) -> tuple[Mapping[str, Any], str]:
        """The new endpoint (enabled) and its secret, the only time it is shown."""
        secret = new_signing_secret()
        now = self.db.clock.now()
        row = {
            "id": new_id("whe"),
            "tenant_id": tenant_id,
            "url": self._url(url),
            "description": _description(description),
            "events": _events(events),
            "status": EndpointStatus.ENABLED.value,
            "secret_encrypted": self.cipher.encrypt(secret),
            "failing_since": None,
            "disabled_reason": None,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.uow() as uow:
            await insert_endpoint(uow.session, row)
            announce_endpoint(uow, row, "created")
            await uow.commit()
        return row, secret

    async def get(self, tenant_id: str, endpoint_id: str) -> Mapping[str, Any]:
        async with self.db.reads() as session:
            row = await get_endpoint(session, tenant_id, endpoint_id)
        if row is None:
            raise unknown_endpoint(endpoint_id)
        return row

    def _changes(self, change: EndpointChange) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if not isinstance(change.url, UnsetType):
            values["url"] = self._url(change.url)
        if not isinstance(change.description, UnsetType):
            values["description"] = _description(change.description)
        if not isinstance(change.events, UnsetType):
            values["events"] = _events(change.events)
        if not isinstance(change.status, UnsetType):
            if change.status not in (EndpointStatus.ENABLED, EndpointStatus.DISABLED):
                raise InvalidInput({"status": "must be enabled or disabled"})
            values["status"] = change.status
        return values

    async def update(self, tenant_id: str, endpoint_id: str, change: EndpointChange) -> Mapping[str, Any]:
        """Disabling gives up the endpoint's waiting deliveries; enabling starts it afresh (its
        failures forgotten). Deliveries are made only for events recorded while it is enabled."""
        values = self._changes(change)
        async with self.db.uow() as uow:
            row = await get_endpoint(uow.session, tenant_id, endpoint_id, lock=True)
            if row is None:
                raise unknown_endpoint(endpoint_id)
            now = uow.clock.now()
            status = values.get("status")
            if status == EndpointStatus.DISABLED and row["status"] == EndpointStatus.ENABLED:
                values["disabled_reason"] = "disabled by the company"
                await fail_pending_deliveries(uow.session, endpoint_id, now, "endpoint disabled")
            elif status == EndpointStatus.ENABLED and row["status"] == EndpointStatus.DISABLED:
                values |= {"disabled_reason": None, "failing_since": None}
            await update_endpoint(uow.session, endpoint_id, values | {"updated_at": now})
            after = await get_endpoint(uow.session, tenant_id, endpoint_id)
            assert after is not None  # locked above
            what = _change_of(row, after)
            if what is not None:
                announce_endpoint(uow, after, what)
            await uow.commit()
        return await self.get(tenant_id, endpoint_id)

    async def delete(self, tenant_id: str, endpoint_id: str) -> None:
        """The endpoint goes, with its deliveries and their attempts."""
        async with self.db.uow() as uow:
            row = await get_endpoint(uow.session, tenant_id, endpoint_id, lock=True)
            if row is None:
                raise unknown_endpoint(endpoint_id)
            await delete_endpoint(uow.session, endpoint_id)
            announce_endpoint(uow, row, "deleted")
            await uow.commit()

    async def rotate_secret(self, tenant_id: str, endpoint_id: str) -> tuple[Mapping[str, Any], str]:
        """A new secret, shown this once. For `SECRET_ROTATION_OVERLAP` deliveries are signed with
        both (the receiver switches over at its pace); rotating again within it retires the oldest."""
        secret = new_signing_secret()
        async with self.db.uow() as uow:
            row = await get_endpoint(uow.session, tenant_id, endpoint_id, lock=True)
            if row is None:
                raise unknown_endpoint(endpoint_id)
            now = uow.clock.now()
            values = {
                "secret_encrypted": self.cipher.encrypt(secret),
                "previous_secret_encrypted": row["secret_encrypted"],
                "previous_secret_until": now + SECRET_ROTATION_OVERLAP,
                "updated_at": now,
            }
            await update_endpoint(uow.session, endpoint_id, values)
            announce_endpoint(uow, row, "secret_rotated")
            await uow.commit()
        return await self.get(tenant_id, endpoint_id), secret

    async def resend(self, tenant_id: str, delivery_id: str) -> Mapping[str, Any]:
        """Start a delivery over: an attempt now, retried as a new one if it fails. Refused while
        its endpoint is disabled."""
        async with self.db.uow() as uow:
            delivery = await requeue_delivery(uow.session, tenant_id, delivery_id, uow.clock.now())
            if delivery is None:
                raise NotFound(f"No such webhook delivery: {delivery_id}")
            endpoint = await get_endpoint(uow.session, tenant_id, delivery["endpoint_id"])
            if endpoint is None or endpoint["status"] != EndpointStatus.ENABLED:
                raise InvalidInput(f"The webhook endpoint of {delivery_id} is disabled: enable it first")
            await uow.commit()
        self.wake_deliverer()
        return delivery
