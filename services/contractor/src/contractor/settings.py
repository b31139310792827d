"""Settings of the contractor service (env prefix ``CONTRACTOR_``, nested groups with ``__``).

Besides the kit's groups (``CONTRACTOR_DB__URL``, ``CONTRACTOR_NATS__URL``, ``CONTRACTOR_HTTP__PORT``,
``CONTRACTOR_INTERNAL_TOKEN``, ...):

``CONTRACTOR_TAX_ID_KEYS``
    JSON list of secrets (``'["new-secret", "old-secret"]'``) from which the Fernet keys that encrypt
    contractors' tax ids are derived. The first encrypts; all decrypt, so rotate by prepending a new
    secret and keeping the old one until every row was rewritten.
``CONTRACTOR_INTEGRATION_SECRET_KEYS``
    The same for the per-company webhook signing secrets of the integrations (stored encrypted).
``CONTRACTOR_IMPORTS__MAX_FILE_BYTES`` (32 MiB less 64 KiB, the kit's upload limit), ``CONTRACTOR_IMPORTS__MAX_ROWS`` (100,000)
    Upload limits; a bigger file is refused at upload with 413 ``invalid_file_size``.
``CONTRACTOR_IMPORTS__CHUNK_ROWS`` (1,000)
    Rows applied per transaction; progress is committed with each chunk, so a crash resumes there.
``CONTRACTOR_IMPORTS__POLL_INTERVAL_S`` (1.0)
    How often an import worker looks for pending imports besides being woken in-process.
``CONTRACTOR_IMPORTS__LEASE_S`` (60)
    A running import whose worker has not committed a chunk for this long is taken over by another
    worker (its process died).
``CONTRACTOR_IMPORTS__MAX_ATTEMPTS`` (3)
    Takeovers before an import that keeps crashing its worker is marked failed.
``CONTRACTOR_INTEGRATIONS__SIGNATURE_TOLERANCE_S`` (300)
    How old (or how far in the future) a webhook signature's timestamp may be.

The default secrets are for development only and say so: outside development
(``CONTRACTOR_DEVELOPMENT`` unset) the service refuses to start with them (``development_secrets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr
from ten99kit.inputs import MAX_UPLOAD_BYTES
from ten99kit.settings import ServiceSettings, service_settings_config

__all__ = ["DEV_INTEGRATION_SECRET_KEY", "DEV_TAX_ID_KEY", "ContractorSettings", "ImportSettings", "IntegrationSettings"]

#: DEVELOPMENT ONLY: never use this default outside a laptop; set CONTRACTOR_TAX_ID_KEYS.
DEV_TAX_ID_KEY = "ten99-development-only-tax-id-key-do-not-use-in-production"
#: DEVELOPMENT ONLY: set CONTRACTOR_INTEGRATION_SECRET_KEYS in production.
DEV_INTEGRATION_SECRET_KEY = "ten99-development-only-integration-secret-key"  # noqa: S105


class ImportSettings(BaseModel):
    #: at most the kit's upload limit: a bigger body is refused (413) before it reaches the import
    max_file_bytes: int = Field(default=MAX_UPLOAD_BYTES, le=MAX_UPLOAD_BYTES)
    #: rows per file; a longer file is refused at upload
    max_rows: int = 100_000
    #: rows applied per transaction; progress commits with each chunk, so a crash resumes there
    chunk_rows: int = 1_000
    #: how often an import worker looks for pending imports besides being woken in-process
    poll_interval_s: float = 1.0
    #: a running import whose worker committed no chunk for this long is taken over by another
    #: worker (its process died)
    lease_s: float = 60.0
    #: takeovers before an import that keeps crashing its worker is marked failed
    max_attempts: int = 3


class IntegrationSettings(BaseModel):
    #: how old (or how far in the future) an integration webhook signature's timestamp may be
    signature_tolerance_s: int = 300


class ContractorSettings(ServiceSettings):
    model_config = service_settings_config("CONTRACTOR_")

    service_name: ClassVar[str] = "contractor"
    default_port: ClassVar[int] = 8001
    development_secrets: ClassVar[Mapping[str, str]] = {
        "tax_id_keys": DEV_TAX_ID_KEY,
        "integration_secret_keys": DEV_INTEGRATION_SECRET_KEY,
    }

    #: secrets from which the Fernet keys encrypting contractors' tax ids are derived (JSON
    #: list): the first encrypts, all decrypt; rotate by prepending a new one
    tax_id_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(DEV_TAX_ID_KEY)])
    #: the same for the integrations' per-company webhook signing secrets (stored encrypted)
    integration_secret_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(DEV_INTEGRATION_SECRET_KEY)])
    imports: ImportSettings = Field(default_factory=ImportSettings)
    integrations: IntegrationSettings = Field(default_factory=IntegrationSettings)
