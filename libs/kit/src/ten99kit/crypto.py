"""Secrets at rest and in links: field encryption (Fernet, key rotation with MultiFernet) for
values such as tax ids, masking for display, and signed, expiring tokens for links in emails."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = ["BadLink", "FieldCipher", "LinkSigner", "derive_key", "mask_tax_id", "sha256_hex"]


def derive_key(secret: str, purpose: str) -> bytes:
    """A Fernet key derived from a configured secret, one per purpose."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"{purpose}:{secret}".encode()).digest())


class FieldCipher:
    """Encrypts a column value. The first key encrypts; all keys decrypt (rotate by prepending)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._f = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, value: str) -> str:
        return self._f.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._f.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: wrong key or corrupted value") from None


def mask_tax_id(value: str | None) -> str | None:
    """``12-3456789`` -> ``***-**-6789``: only the last four digits are ever shown."""
    if not value:
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "****"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class BadLink(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "expired" | "invalid"


class LinkSigner:
    """Signed, expiring tokens for links (certificate downloads, ...)."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._s = URLSafeTimedSerializer(secret, salt=purpose)

    def sign(self, payload: Any) -> str:
        return self._s.dumps(payload)

    def verify(self, token: str, max_age_s: int) -> Any:
        try:
            return self._s.loads(token, max_age=max_age_s)
        except SignatureExpired:
            raise BadLink("expired") from None
        except BadSignature:
            raise BadLink("invalid") from None
