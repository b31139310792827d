"""The ledger's rules without a database: masking, the diff, the canonical hash."""

from __future__ import annotations

from notification.domain.ledger import GENESIS, LedgerEntry, diff, entry_hash, masked_fields


def test_tax_ids_secrets_links_and_documents_are_masked_or_left_out() -> None:
    fields = masked_fields(
        {
            "tax_identification": "123-45-6789",
            "contractor": {"tax_id": "12-3456789", "name": "Ada"},
            "password_hash": "argon2...",
            "api_key": "t9sk_test_abc",
            "opt_in_url": "https://x.test/opt-in/abcdefghijklmnopqrstuvwxyz",
            "pdf": "JVBERi0=",
            "lines": [{"a": 1}],
            "custom_metadata": {"k": "v"},
        }
    )
    assert fields["tax_identification"] == "***-**-6789" and fields["contractor.tax_id"] == "***-**-6789"
    assert fields["contractor.name"] == "Ada" and fields["custom_metadata"] == {"k": "v"}
    assert fields["password_hash"] == "[redacted]" and fields["api_key"] == "[redacted]"
    assert fields["opt_in_url"] == "https://x.test/opt-in/[redacted]…wxyz"
    assert "pdf" not in fields and "lines" not in fields


def test_the_diff_keeps_only_what_changed() -> None:
    assert diff({}, {"a": 1}) == ({}, {"a": 1})
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ({"b": 2}, {"b": 3, "c": 4})


def test_the_hash_covers_every_field_and_the_previous_hash() -> None:
    entry = LedgerEntry(
        tenant_id="co_1", seq=1, occurred_at="2026-12-07T00:00:00.000000Z", actor="system", entity_kind="invoice",
        entity_id="in_1", contractor_id=None, action="issued", subject="s", before={}, after={"b": 1, "a": 2},
        correlation_id=None, envelope_id="e1", prev_hash=GENESIS,
    )  # fmt: skip
    same = LedgerEntry(**{**{f: getattr(entry, f) for f in entry.__struct_fields__}, "after": {"a": 2, "b": 1}})
    assert entry_hash(entry) == entry_hash(same)  # key order does not matter
    for change in ({"seq": 2}, {"actor": "operator"}, {"after": {"a": 3, "b": 1}}, {"prev_hash": "1" * 64}):
        other = LedgerEntry(**{**{f: getattr(entry, f) for f in entry.__struct_fields__}, **change})
        assert entry_hash(other) != entry_hash(entry), change
