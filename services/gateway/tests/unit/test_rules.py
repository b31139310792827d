"""The gateway's rules without servers: accounts, lockout, sessions, keys, fee conversion, API auth
headers, idempotency fingerprints, and reading the services' answers."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from gateway.adapters.passwords import Passwords
from gateway.api.public_api import _rewrite_list_url, api_key_of
from gateway.application.idempotency import request_fingerprint
from gateway.domain.accounts import (
    AccountError,
    decide_login_failure,
    hash_secret,
    is_locked,
    new_api_key,
    normalize_email,
    session_is_live,
    validate_password,
)
from gateway.web.common import _date, _money, safe_next
from gateway.web.settings_page import _bps, _pct
from gateway.web.shapes import items, pick
from ten99kit.clock import epoch

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_emails_are_normalised_and_checked() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("", "ada", "ada@", "a b@c.d", "x" * 400 + "@a.b"):
        with pytest.raises(AccountError):
            normalize_email(bad)


def test_passwords_need_ten_characters() -> None:
    with pytest.raises(AccountError):
        validate_password("short")
    assert validate_password("long enough!") == "long enough!"


async def test_passwords_are_hashed_with_argon2_and_verified() -> None:
    passwords = Passwords()
    hashed = await passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert await passwords.verify(hashed, "correct horse battery")
    assert not await passwords.verify(hashed, "wrong")
    assert not await passwords.verify(None, "anything")  # unknown user: still takes a verify
    assert not await passwords.verify("not a hash", "x")


def test_lockout_after_the_last_allowed_failure() -> None:
    lockout = timedelta(minutes=15)
    d = decide_login_failure(0, NOW, max_failures=5, lockout=lockout)
    assert d.failed_logins == 1 and d.locked_until is None
    d = decide_login_failure(4, NOW, max_failures=5, lockout=lockout)
    assert d.failed_logins == 0 and d.locked_until == NOW + lockout
    assert is_locked(d.locked_until, NOW + timedelta(minutes=14))
    assert not is_locked(d.locked_until, NOW + timedelta(minutes=15))
    assert not is_locked(None, NOW)


def test_sessions_end_when_idle_or_at_their_expiry() -> None:
    idle = timedelta(hours=8)
    assert session_is_live(last_seen_at=NOW, expires_at=NOW + timedelta(days=7), now=NOW + timedelta(hours=7), idle_timeout=idle)
    assert not session_is_live(
        last_seen_at=NOW, expires_at=NOW + timedelta(days=7), now=NOW + timedelta(hours=8), idle_timeout=idle
    )
    assert not session_is_live(
        last_seen_at=NOW, expires_at=NOW + timedelta(hours=1), now=NOW + timedelta(hours=1), idle_timeout=idle
    )


def test_api_keys_are_random_prefixed_and_displayed_partially() -> None:
    key, display = new_api_key("t9sk_test_")
    other, _ = new_api_key("t9sk_test_")
    assert key.startswith("t9sk_test_") and key != other and len(key) >= 10 + 43
    assert key[10:].isalnum()
    assert display.startswith("t9sk_test_" + key[10:14]) and display.endswith(key[-4:]) and key not in display
    assert hash_secret(key) != key and len(hash_secret(key)) == 64


def test_api_key_from_bearer_or_basic() -> None:
    def req(value: str) -> SimpleNamespace:
        return SimpleNamespace(headers={"authorization": value} if value else {})

    assert api_key_of(req("Bearer t9sk_test_abc")) == "t9sk_test_abc"  # type: ignore[arg-type]
    basic = base64.b64encode(b"t9sk_test_abc:").decode()
    assert api_key_of(req(f"Basic {basic}")) == "t9sk_test_abc"  # type: ignore[arg-type]
    assert api_key_of(req("Basic ###")) is None  # type: ignore[arg-type]
    assert api_key_of(req("")) is None  # type: ignore[arg-type]
    assert api_key_of(req("Token x")) is None  # type: ignore[arg-type]


def test_fee_percentages_become_basis_points_and_back() -> None:
    assert _bps("2.5") == 250 and _bps("2.5 %") == 250 and _bps("0") == 0 and _bps("100") == 10000 and _bps("") == 0
    for bad in ("abc", "-1", "101", "1.234"):
        with pytest.raises(ValueError):
            _bps(bad)
    assert _pct(250) == "2.5" and _pct(175) == "1.75" and _pct(0) == "0" and _pct(None) == ""


def test_idempotency_fingerprints_tell_requests_apart() -> None:
    a = request_fingerprint("POST", "entities", "", b'{"name":"A"}')
    assert a == request_fingerprint("post", "entities", "", b'{"name":"A"}')
    assert a != request_fingerprint("POST", "entities", "", b'{"name":"B"}')
    assert a != request_fingerprint("POST", "jobs", "", b'{"name":"A"}')
    assert request_fingerprint("POST", "ab", "", b"c") != request_fingerprint("POST", "a", "", b"bc")


def test_list_urls_point_at_the_public_api() -> None:
    body = b'{"object":"list","data":[],"has_more":false,"url":"/v1/jobs"}'
    assert b'"url":"/api/v1/jobs"' in _rewrite_list_url(body, "application/json")
    assert _rewrite_list_url(b'{"id":"jb_1","url":"/v1/x"}', "application/json") == b'{"id":"jb_1","url":"/v1/x"}'
    assert _rewrite_list_url(b"%PDF", "application/pdf") == b"%PDF"


def test_reading_service_answers() -> None:
    assert items({"object": "list", "data": [{"id": 1}]}) == [{"id": 1}]
    assert items({"rows": [{"id": 2}], "summary": {}}, "rows") == [{"id": 2}]
    assert items([{"id": 3}, "junk"]) == [{"id": 3}]
    assert items(None) == []
    assert pick({"job": {"entity": {"name": "Nike"}}}, "entity_name", "job.entity.name") == "Nike"
    assert pick({"a": ""}, "a", default="-") == "-"
    assert epoch(date(2030, 3, 1)) == 1898553600


def test_formatting_and_safe_redirects() -> None:
    assert _money(123456) == "$1,234.56" and _money(-5) == "-$0.05" and _money(None) == "—"
    assert _date(1893456000) == "2030-01-01" and _date("2030-01-02T10:00:00Z") == "2030-01-02" and _date(None) == "—"
    assert safe_next("/contractors/cn_1?x=1") == "/contractors/cn_1?x=1"
    for bad in ("https://evil.test", "//evil.test", "/\\evil", "", None):
        assert safe_next(bad) == "/contractors"


def test_query_parameters_in_either_form() -> None:
    from gateway.api.public_api import query_pairs

    assert query_pairs("limit=5&email=a%40b.c") == [("limit", "5"), ("email", "a@b.c")]
    # 1099Policy's Python SDK puts a JSON object in the query string
    assert query_pairs("%7B%22email%22:%20%22a@b.c%22,%20%22limit%22:%205%7D") == [("email", "a@b.c"), ("limit", "5")]
    assert query_pairs('{"expand": ["a", "b"], "active": true, "skip": null}') == [
        ("expand", "a"),
        ("expand", "b"),
        ("active", "true"),
    ]
    assert query_pairs("") == []
