"""Uploaded certificates of insurance (``/api/v1/files/certificates``) through the official SDK's
machinery: create (a multipart upload), list and retrieve, the review's outcome, and another
company seeing none of it (docs/uploaded-certificates.md).

The SDK installed (1.1.12) has no ``files.certificates`` resource yet, so `Certificates` is
declared here the way the SDK declares its resources (its abstract classes and its requestor's
multipart path). Two faults of that SDK version's multipart path are worked around, not
changed: ``ten99policy.six`` must be imported for the form writer, and the requestor JSON-encodes
the parameters for its debug log before it writes the form, so the file is passed as a `str`
(its name) that also reads as the PDF's bytes.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import ten99policy
import ten99policy.six  # the multipart writer looks it up as an attribute
from ten99_testing import wait_until_sync
from ten99policy import api_requestor, error, util
from ten99policy.api_resources.abstract import CreateableAPIResource, ListableAPIResource

from ..documents import own_certificate_pdf
from .conftest import SdkStack, as_company
from .test_resources import _contractor, _job, _midnight

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


class Certificates(CreateableAPIResource, ListableAPIResource):
    """1099Policy's ``/api/v1/files/certificates``, as the SDK names resources (``files.certificates``)."""

    OBJECT_NAME = "files.certificates"

    @classmethod
    def create(cls, api_key: Any = None, idempotency_key: Any = None, **params: Any) -> Any:  # type: ignore[override]
        requestor = api_requestor.APIRequestor(api_key)
        headers = {**(util.populate_headers(idempotency_key) or {}), "Content-Type": "multipart/form-data"}
        response, key = requestor.request("post", cls.class_url(), params, headers)
        return util.convert_to_ten99policy_object(response, key, None, None)


class PdfFile(str):
    """A file for the SDK's form writer: its name as a string (so that the requestor's log can
    JSON-encode it), its bytes through ``read``."""

    def __new__(cls, name: str, content: bytes) -> PdfFile:
        made = super().__new__(cls, name)
        made._content = io.BytesIO(content)  # type: ignore[attr-defined]
        return made

    @property
    def name(self) -> str:
        return str.__str__(self)

    def read(self, size: int = -1) -> bytes:
        return self._content.read(size)  # type: ignore[attr-defined,no-any-return]

    def rewind(self) -> None:
        self._content.seek(0)  # type: ignore[attr-defined]


def _upload(**params: Any) -> Any:
    """Create, once policy has heard of the assignment (it travels on the bus a moment after its create)."""
    made: list[Any] = []

    def accepted() -> bool:
        pdf = params.get("certificate")
        if isinstance(pdf, PdfFile):
            pdf.rewind()  # a refused attempt read the file: the next one sends it whole again
        try:
            made.append(Certificates.create(**params))
        except (error.InvalidAssignmentIdError, error.NoInsuranceRequirementFoundError):
            return False
        return True

    wait_until_sync(accepted, timeout=60, what="the assignment reaches policy")
    return made[-1]


def test_files_certificates_create_list_retrieve_and_another_company_sees_none(sdk: SdkStack) -> None:
    entity = ten99policy.Entities.create(name="Own insurance venue")
    job = _job(entity.id, "Own insurance rigger")
    person = _contractor("own-insurance@sdk-a.test")
    begin = _midnight(5)
    work = ten99policy.Assignments.create(contractor=person.id, job=job.id, effective_date=begin, end_date=begin + 86400 * 4)

    content = own_certificate_pdf("Grace Hopper", "Own insurance venue")
    made = _upload(certificate=PdfFile("/tmp/own_coi.pdf", content), contractor=person.id, assignment=work.id)
    assert made.id.startswith("ci_") and made.contractor == person.id and made.filename == "own_coi.pdf"
    assert made.status == "approved", made.review_results
    assert made.review_results.summary.failed == 0

    assert Certificates.retrieve(made.id).status == "approved"
    assert made.id in [c.id for c in Certificates.list(contractor=person.id).data]

    with as_company(sdk.b):
        assert made.id not in [c.id for c in Certificates.list(limit=100).data]
        with pytest.raises(error.Ten99PolicyError):
            Certificates.retrieve(made.id)
        with pytest.raises(error.Ten99PolicyError):  # B cannot upload against A's contractor
            Certificates.create(certificate=PdfFile("coi.pdf", content), contractor=person.id)


def test_files_certificates_refuse_a_file_that_is_not_a_pdf(sdk: SdkStack) -> None:
    person = _contractor("not-a-pdf@sdk-a.test")
    with pytest.raises(error.InvalidFileTypeError) as refused:
        Certificates.create(certificate=PdfFile("coi.pdf", b"GIF89a, not a certificate"), contractor=person.id)
    assert refused.value.http_status == 400 and "PDF" in str(refused.value)
