"""Unit tests of the kit's pure parts: ids, clock, crypto, settings, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ten99kit.clock import SettableClock
from ten99kit.crypto import BadLink, FieldCipher, LinkSigner, derive_key, mask_tax_id
from ten99kit.ids import is_id, new_id, new_ulid_id
from ten99kit.settings import DEFAULT_NATS_URL


def test_ids_are_prefixed_unique_and_long_enough() -> None:
    ids = {new_id("cn") for _ in range(10_000)}
    assert len(ids) == 10_000
    sample = next(iter(ids))
    assert sample.startswith("cn_") and len(sample) == 25 and is_id(sample, "cn") and not is_id(sample, "jb")
    with pytest.raises(ValueError):
        new_id("zz")


def test_ulid_ids_sort_by_time() -> None:
    a = new_ulid_id("ias")
    assert a.startswith("ias_") and len(a) == 30


def test_settable_clock_moves_and_freezes() -> None:
    clock = SettableClock()
    start = clock.now()
    clock.advance(timedelta(days=3))
    assert clock.now() - start >= timedelta(days=3)
    frozen = datetime(2027, 1, 1, tzinfo=UTC)
    clock.freeze(frozen)
    assert clock.now() == frozen and clock.today().isoformat() == "2027-01-01"
    with pytest.raises(ValueError):
        clock.set(datetime(2027, 1, 1))  # naive
    clock.reset()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5


def test_field_cipher_round_trips_and_rotates() -> None:
    old, new = derive_key("s1", "tax"), derive_key("s2", "tax")
    token = FieldCipher([old]).encrypt("12-3456789")
    assert "3456789" not in token
    assert FieldCipher([new, old]).decrypt(token) == "12-3456789"
    with pytest.raises(ValueError):
        FieldCipher([new]).decrypt(token)


def test_tax_id_mask_shows_last_four_only() -> None:
    assert mask_tax_id("12-3456789") == "***-**-6789"
    assert mask_tax_id("123-45-6789") == "***-**-6789"
    assert mask_tax_id("12") == "****"
    assert mask_tax_id(None) is None


def test_signed_links_expire_and_reject_tampering() -> None:
    signer = LinkSigner("secret", "coi")
    token = signer.sign({"id": "coi_1"})
    assert signer.verify(token, 60) == {"id": "coi_1"}
    with pytest.raises(BadLink) as e:
        signer.verify(token[:-2] + "xx", 60)
    assert e.value.reason == "invalid"
    with pytest.raises(BadLink):
        LinkSigner("other", "coi").verify(token, 60)


def test_settings_nest_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    from demo import DemoSettings

    monkeypatch.setenv("DEMO_DB__URL", "postgresql+asyncpg://x@h/db")
    monkeypatch.setenv("DEMO_NATS__MAX_DELIVER", "9")
    s = DemoSettings()
    assert s.db.url == "postgresql+asyncpg://x@h/db"
    assert s.nats.max_deliver == 9
    assert s.nats.url == DEFAULT_NATS_URL
    assert s.http.port == 8099


def test_default_database_is_a_sqlite_file_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from demo import DemoSettings

    s = DemoSettings(data_dir="/tmp/x")
    assert s.db.url == "sqlite+aiosqlite:////tmp/x/demo.db"


def test_logs_never_carry_an_opt_in_token_or_a_secret_field(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    import structlog
    from ten99kit.logging import configure_logging, get_logger
    from ten99kit.settings import LogSettings

    saved, handlers = structlog.get_config(), logging.root.handlers[:]
    try:
        configure_logging(LogSettings(level="INFO"), "unit")  # binds the captured stderr: restored below
        token = "Zm9vYmFyYmF6cXV4cXV1eA-secret"
        get_logger("unit").info(
            "http.request", path=f"/opt-in/{token}", note=f"GET http://x/v1/opt-in/{token}?a=1 failed", api_key="sk_live"
        )
        out = capsys.readouterr().err
    finally:
        structlog.configure(**saved)
        logging.root.handlers[:] = handlers
    assert token not in out and "sk_live" not in out
    assert '"/opt-in/<token>"' in out and "/v1/opt-in/<token>?a=1" in out
