"""Opt-in link tokens.

A token is ``base64url(HMAC-SHA256(secret, invitation_id + ":" + nonce))`` without padding
(43 characters, 256 bits), where ``nonce`` is 128 random bits drawn per invitation. The database
keeps the nonce and ``sha256(token)`` only, never the token:

- a link arriving at the opt-in page is found by the hash of what it carries (no secret needed);
- the company's profile page can still show the link, because the service recomputes it from
  the nonce and the secret (nobody holding only a database copy can);
- reading the database alone never yields a working link (the secret is in settings), and
  guessing one means guessing 128 random bits behind an HMAC.

Rotating the secret leaves existing links working (they are found by their hash) but the profile
page can no longer show them: `recompute_token` then returns None and the company reissues.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["NONCE_BITS", "IssuedToken", "hash_token", "issue_token", "looks_like_token", "recompute_token"]

NONCE_BITS = 128
_TOKEN_LENGTH = 43  # 32 bytes in unpadded base64url
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class IssuedToken:
    token: str  # give out, never store
    nonce: str  # store
    token_hash: str  # store; the lookup key


def _mac(secret: str, invitation_id: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"{invitation_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(secret: str, invitation_id: str) -> IssuedToken:
    if not secret:
        raise ValueError("the token secret must not be empty")
    nonce = secrets.token_hex(NONCE_BITS // 8)
    token = _mac(secret, invitation_id, nonce)
    return IssuedToken(token=token, nonce=nonce, token_hash=hash_token(token))


def recompute_token(secret: str, invitation_id: str, nonce: str, token_hash: str) -> str | None:
    """The invitation's token again, or None if the secret changed since it was issued."""
    token = _mac(secret, invitation_id, nonce)
    return token if hmac.compare_digest(hash_token(token), token_hash) else None


def looks_like_token(value: str) -> bool:
    """Cheap shape check before a lookup (links pasted with junk, scanners probing paths)."""
    return len(value) == _TOKEN_LENGTH and all(ch in _ALPHABET for ch in value)
