"""Settings of the policy service (env prefix ``POLICY_``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr
from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["DEV_LINK_SECRET", "PolicySettings"]

#: DEVELOPMENT ONLY. Production sets POLICY_LINK_SECRET; with this value anyone who reads the
#: source can forge certificate download links. Outside development the service refuses to start with it.
DEV_LINK_SECRET = "dev-only-insecure-policy-link-secret"  # noqa: S105


class PolicySettings(ServiceSettings):
    model_config = service_settings_config("POLICY_")

    service_name: ClassVar[str] = "policy"
    default_port: ClassVar[int] = 8003
    development_secrets: ClassVar[Mapping[str, str]] = {"link_secret": DEV_LINK_SECRET}

    #: public base URL of the gateway; certificate links are ``<base>/certificates/<id>.pdf?token=...``
    public_base_url: str = "http://127.0.0.1:8000"
    #: signs the certificate download links (POLICY_LINK_SECRET)
    link_secret: SecretStr = SecretStr(DEV_LINK_SECRET)
    #: how long a download link stays valid (POLICY_LINK_MAX_AGE_S), one year by default
    link_max_age_s: int = 365 * 24 * 3600
    #: a certificate waits this long for the company's name (CompanyCreatedV1) before it is issued
    #: without it (POLICY_COMPANY_WAIT_S)
    company_wait_s: int = 600
    #: the carrier named on certificates (POLICY_INSURER_NAME)
    insurer_name: str = "ten99 Program Carrier (A+ rated)"
    #: who issues certificates, printed as the producer (POLICY_PRODUCER_NAME)
    producer_name: str = "ten99 Insurance Services"
    #: the largest certificate a contractor may upload, in bytes (POLICY_UPLOAD_MAX_BYTES), 5 MiB
    upload_max_bytes: int = 5 * 1024 * 1024
