"""The checked-in schemas and golden examples stay in step with the message types."""

from __future__ import annotations

import json

import msgspec
import pytest
from ten99_contracts import STREAMS, Envelope, decode_envelope, encode_envelope, stream_for_subject
from ten99_contracts.examples import EXAMPLES
from ten99_contracts.generate import ROOT, render
from ten99_contracts.registry import all_messages


def test_checked_in_files_match_the_code() -> None:
    stale = [str(p.relative_to(ROOT)) for p, text in render().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `make contracts`: stale or missing {stale}"
    on_disk = {p for folder in ("schemas", "examples") for p in (ROOT / folder).glob("*.json")}
    assert on_disk == set(render()), "files on disk without a message"


def test_every_message_has_one_example() -> None:
    subjects = [e.SUBJECT for e in EXAMPLES]
    assert sorted(subjects) == sorted(all_messages()), "each message needs exactly one golden example"


@pytest.mark.parametrize("subject", sorted(all_messages()))
def test_golden_example_round_trips_through_an_envelope(subject: str) -> None:
    cls = all_messages()[subject]
    data = msgspec.json.decode((ROOT / "examples" / f"{subject}.json").read_bytes(), type=cls)
    raw = json.dumps(
        {
            "id": "0b6c4f3e-1f0e-4a0e-9f6e-0d7d6d1c2b3a",
            "subject": subject,
            "occurred_at": "2026-11-02T15:04:05Z",
            "tenant_id": "co_1",
            "aggregate_id": "x_1",
            "data": json.loads(msgspec.json.encode(data)),
            "a_field_from_the_future": True,
        }
    ).encode()
    env = decode_envelope(raw, subject)
    assert env.data == data
    assert decode_envelope(encode_envelope(env), subject) == env


@pytest.mark.parametrize("subject", sorted(all_messages()))
def test_subjects_follow_the_naming_rule_and_have_a_stream(subject: str) -> None:
    ctx, event, version = subject.split(".")[1:]
    assert version.startswith("v") and version[1:].isdigit()
    assert event.islower()
    assert stream_for_subject(subject) is STREAMS[ctx]


def test_unknown_fields_are_tolerated_and_missing_ones_rejected() -> None:
    subject = "ten99.gateway.company_created.v1"
    ok = (
        b'{"id":"1","subject":"s","occurred_at":"2026-01-01T00:00:00Z","tenant_id":"t","aggregate_id":"a",'
        b'"data":{"company_id":"c","name":"n","owner_email":"o","new":1}}'
    )
    assert decode_envelope(ok, subject).data.name == "n"
    with pytest.raises(msgspec.ValidationError):
        decode_envelope(ok.replace(b'"name":"n",', b""), subject)


def test_envelope_is_generic() -> None:
    assert Envelope.__parameters__  # type: ignore[attr-defined]
