"""Links to certificates on the gateway's public pages: signed, long-lived download links (the link
in the certificate email lets the contractor download the PDF without an account,
``ten99kit.crypto.LinkSigner``) and the verification URL printed on each certificate."""

from __future__ import annotations

from ten99kit.crypto import BadLink, LinkSigner

__all__ = ["BadLink", "CertificateLinks"]


class CertificateLinks:
    def __init__(self, secret: str, public_base_url: str, max_age_s: int) -> None:
        self._signer = LinkSigner(secret, "ten99.policy.certificate-download")
        self._base = public_base_url.rstrip("/")
        self.max_age_s = max_age_s

    def token(self, tenant_id: str, certificate_id: str) -> str:
        return self._signer.sign({"t": tenant_id, "c": certificate_id})

    def url(self, tenant_id: str, certificate_id: str) -> str:
        """``<POLICY_PUBLIC_BASE_URL>/certificates/<id>.pdf?token=<signed>`` (served by the gateway)."""
        return f"{self._base}/certificates/{certificate_id}.pdf?token={self.token(tenant_id, certificate_id)}"

    def upload_url(self, tenant_id: str, upload_id: str) -> str:
        """``<POLICY_PUBLIC_BASE_URL>/certificates/<id>.pdf?token=<signed>``: an uploaded certificate,
        behind the same signed links (its id's prefix, ``ci_``, tells the gateway it is an upload)."""
        return f"{self._base}/certificates/{upload_id}.pdf?token={self.token(tenant_id, upload_id)}"

    def verification_url(self, verification_id: str) -> str:
        """``<POLICY_PUBLIC_BASE_URL>/verify/<verification id>``: the certificate's live status page
        (served by the gateway; the id is the key, so it needs no signature and never expires)."""
        return f"{self._base}/verify/{verification_id}"

    def verify(self, token: str, certificate_id: str) -> str:
        """The tenant the link was made for; `BadLink` if the token is forged, altered, made for
        another certificate, or older than ``max_age_s``."""
        payload = self._signer.verify(token, self.max_age_s)
        if not isinstance(payload, dict) or payload.get("c") != certificate_id or not isinstance(payload.get("t"), str):
            raise BadLink("invalid")
        return str(payload["t"])
