"""Hostile input against the real contractor service on PostgreSQL: a 4xx with error_code and
message, never a 500, and nothing stored (PostgreSQL refuses NUL in text; the kit's input guard
stops it before a handler runs, and the error handlers map what still reaches the database)."""

from __future__ import annotations

from typing import Any

import pytest
from contractor_testkit import ADDRESS, csv_bytes, csv_row, upload
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


def _refused(r: Any, status: int = 400) -> bool:
    body = r.json()
    return bool(r.status_code == status and body["error_code"] and body["message"])


async def test_nul_and_control_characters_are_a_400_and_change_nothing(svc: RunningService) -> None:
    c = svc.client
    person = {"first_name": "Ada\u0000", "last_name": "Lovelace", "email": "ada@example.com", "address": ADDRESS}
    r = await c.post("/v1/contractors", json=person)
    assert _refused(r) and r.json()["error_code"] == "invalid_input", r.text
    assert "NUL" in r.json()["message"]
    # the same NUL as a raw byte, and a body that is not UTF-8
    raw = b'{"first_name": "Ada\x00", "last_name": "L", "email": "a@example.com"}'
    assert _refused(await c.post("/v1/contractors", content=raw, headers={"content-type": "application/json"}))
    latin1 = '{"first_name": "Zoë", "last_name": "L", "email": "z@example.com"}'.encode("latin-1")
    assert _refused(await c.post("/v1/contractors", content=latin1, headers={"content-type": "application/json"}))

    assert _refused(await c.get("/v1/contractors", params={"email": "\x00"}))
    assert _refused(await c.get("/v1/contractors?email=%00"))
    assert _refused(await c.get("/v1/contractors?email=%ff%fe"))
    assert _refused(await c.get("/v1/contractors/cn_%17"))
    assert _refused(await c.get("/v1/contractors/cn_%00"))
    deep = b'{"first_name": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert _refused(await c.post("/v1/contractors", content=deep, headers={"content-type": "application/json"}))

    assert (await c.get("/v1/contractors")).json()["data"] == []


async def test_a_csv_upload_with_nul_bytes_is_refused_clearly(svc: RunningService) -> None:
    content = csv_bytes([csv_row(1), csv_row(2, **{"First Name": "Gr\x00ace"})])
    r = await upload(svc, content)
    assert _refused(r), r.text
    assert "NUL" in r.json()["message"] and "line 3" in r.json()["message"]
    # a NUL in the multipart text fields or the file name is refused before the import starts
    r = await svc.client.post(
        "/v1/imports",
        files={"file": ("people.csv", csv_bytes([csv_row(1)]), "text/csv")},
        data={"all_or_nothing": "false", "uploaded_by": "ops\x00@example.com"},
    )
    assert _refused(r) and "uploaded_by" in r.json()["message"], r.text
    # (httpx escapes a NUL in a file name; a hand-made request need not)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="peo\x00ple.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + csv_bytes([csv_row(1)]) + b"\r\n--XyZ--\r\n"
    )
    r = await svc.client.post("/v1/imports", content=body, headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert _refused(r) and "'file'" in r.json()["message"], r.text
    assert (await svc.client.get("/v1/imports")).json()["data"] == []
