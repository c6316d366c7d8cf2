"""The one settings class. Every field is documented (a test fails when one is not).

Values come from keyword arguments, then ``CAREKEY_*`` environment variables, then defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREKEY_", extra="forbid")

    data_dir: Path = Field(Path("var"), description="Folder holding the SQLite database and the key file.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default is SQLite at <data_dir>/carekey.db. "
        "Use postgresql+psycopg://... for PostgreSQL.",
    )
    key_file: Path | None = Field(
        None, description="Program key file (mode 0600, never in the database); default <data_dir>/carekey.keys."
    )
    log_key_file: Path | None = Field(
        None,
        description="Ed25519 key signing the transparency log's tree heads (mode 0600, never in the database); "
        "default <data_dir>/carekey.log.key, created by init or on first start.",
    )
    heads_file: Path | None = Field(
        None,
        description="Append-only file outside the database receiving every signed tree head (mode 0600); "
        "`carekey log verify` checks the database against it and the server never signs a tree smaller than, or "
        "inconsistent with, its largest head. Default <data_dir>/carekey.heads, created by init.",
    )
    tree_head_seconds: int = Field(
        60,
        ge=0,
        description="After a write request the API signs a new tree head when the log has grown and the "
        "latest head is older than this (0: after every write). Heads are also signed on demand.",
    )
    log_merge_delay_seconds: int = Field(
        300,
        ge=1,
        le=86_400,
        description="Maximum merge delay of the transparency log (as in Certificate "
        "Transparency): every access is committed to the log before it returns, with an entry promise signed by the "
        "log key; the entry is in a signed tree head within this many seconds, or `carekey log verify` reports it.",
    )
    log_integrate_seconds: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="How often the server's background integrator hashes committed log entries "
        "into the Merkle tree and signs a tree head (when any are waiting). Proof views, `log verify` and the "
        "transparency endpoints also integrate on demand. Must be well below log_merge_delay_seconds.",
    )
    token_minutes: int = Field(480, ge=1, description="Lifetime of a staff bearer token, in minutes.")
    patient_token_minutes: int = Field(30, ge=1, description="Lifetime of a patient portal token, in minutes.")
    login_attempts_per_minute: int = Field(
        10, ge=1, description="Failed logins allowed per account and per client address each minute."
    )
    login_failures_before_lock: int = Field(
        20,
        ge=1,
        description="Failed logins of one account or card, since its last success and at any pace, that lock it "
        "(with the same back-off).",
    )
    login_lockout_max_minutes: int = Field(
        60,
        ge=1,
        description="Back-off cap: each time an account, card or address exhausts its failed logins for "
        "the minute it is locked for twice as long as the previous time (1, 2, 4... minutes), at most this long; "
        "a successful login resets it.",
    )
    login_limit_keys: int = Field(
        100_000,
        ge=100,
        description="Most login-limiter entries kept in the database (least recently used beyond "
        "this are dropped; expired ones are dropped first).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "header names the client; from anyone else the header is ignored (default: none, trust no header).",
    )
    max_json_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request body accepted by JSON and form routes, in bytes "
        "(larger: 413 problem document, the body is not read).",
    )
    max_image_pixels: int = Field(
        16_000_000,
        ge=10_000,
        le=64_000_000,
        description="Largest biometric image accepted, in pixels (width x "
        "height, at most 64,000,000), checked from the image header before decoding, for both modalities and every "
        "format (8- or 16-bit); larger: 422 problem, logged and counted against the identification rate limit.",
    )
    serve_workers: int = Field(
        1,
        ge=1,
        description="Server worker processes sharing this machine's CPUs (set by `carekey serve --workers`): each "
        "process runs at most CPUs / workers argon2 hashes at once, so the sign-ins of all workers together never "
        "queue more hashes than the machine has cores.",
    )
    argon2_time_cost: int = Field(3, ge=1, description="argon2id iterations for staff passwords and patient PINs.")
    argon2_memory_kib: int = Field(
        65536, ge=32, description="argon2id memory in KiB (default 64 MiB, RFC 9106's second recommended option)."
    )
    identifications_per_hour: int = Field(
        60, ge=1, description="1:N identifications (biometric or name lookup) allowed per user per hour."
    )
    identifications_per_site_per_day: int = Field(
        400,
        ge=1,
        description="1:N identifications and lookups (every attempt, empty or refused) allowed per site "
        "per day, whatever the number of accounts: bounds what a set of insider accounts can enumerate.",
    )
    presence_pin_failures_per_hour: int = Field(
        5, ge=1, description="Wrong PINs typed as proof of presence allowed per person per hour."
    )
    max_candidates: int = Field(5, ge=1, le=5, description="Most candidates a lookup may return (never more than 5).")
    lookup_min_score: float = Field(
        80.0,
        ge=0,
        le=100,
        description="Least fuzzy name score (rapidfuzz token-sort ratio, 0-100, minus 5 per "
        "year of birth-year difference) for a name lookup candidate.",
    )
    key_store: Path | None = Field(
        None,
        description="Per-person shred secrets (SQLite file, mode 0600, kept apart from the database so that "
        "erasure defeats database copies); default <data_dir>/carekey.keystore.",
    )
    retention_years: int = Field(10, ge=1, description="Records not seen for this many years are deleted.")
    privacy_budget_epsilon: float = Field(
        2.0,
        gt=0,
        le=100,
        description="Differential-privacy budget (epsilon) of one program for one reporting "
        "period (a month, a quarter or a year each have their own): the releases of the period add up to at most "
        "this. A person screened once is in one month, one quarter and one year, so their exam is protected at "
        "three times this value at worst.",
    )
    stats_max_release_epsilon: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Largest epsilon one release may spend (the cap). A release asks for an "
        "epsilon between 0.01 and this value; anything else (negative, tiny, huge, not a number) is refused with "
        "422 and costs nothing.",
    )
    stats_min_cell: int = Field(
        10,
        ge=0,
        description="A released group with fewer people than this (or whose interval reaches 0) is not "
        "shown alone: it is merged with the other small groups of its district, or left out (its people stay "
        "in the district and program totals).",
    )
    dhis2_url: str | None = Field(
        None,
        description="Base URL of the DHIS2 instance that `carekey stats push` posts to "
        "(<url>/api/dataValueSets), e.g. https://dhis2.example.org; unset: pushing is refused.",
    )
    dhis2_username: str | None = Field(None, description="DHIS2 user for HTTP basic auth (with dhis2_password).")
    dhis2_password: SecretStr | None = Field(
        None,
        description="Password of dhis2_username (set it in the "
        "environment, CAREKEY_DHIS2_PASSWORD, never on a command line).",
    )
    dhis2_token: SecretStr | None = Field(
        None,
        description="DHIS2 personal access token (Authorization: ApiToken); "
        "used instead of basic auth when set (CAREKEY_DHIS2_TOKEN).",
    )
    dhis2_timeout_seconds: float = Field(30.0, gt=0, le=600, description="How long a push waits for DHIS2.")
    dhis2_mapping_file: Path | None = Field(
        None,
        description="JSON file mapping carekey's figures to DHIS2 data elements, org units and category "
        "option combos (`carekey stats mapping init` writes one); default <data_dir>/dhis2-mapping.json.",
    )
    fingerprint_min_nfiq2: int = Field(
        5,
        ge=0,
        le=100,
        description="Fingerprint captures whose NIST NFIQ 2 score (0-100) is below this are refused "
        "with a request to recapture; 0 turns the quality gate off.",
    )

    fhir_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="FHIR R4 base URL of the EMR each screening site pushes closed visits to "
        "(site id -> URL), for people who granted ehr_sharing; also CAREKEY_FHIR_ENDPOINT_<SITE> (site id upper-cased, "
        "'-' as '_'), which wins. A site without one pushes nothing.",
    )
    fhir_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one FHIR push (connect and answer).")
    fhir_max_attempts: int = Field(
        8,
        ge=1,
        description="Attempts of one FHIR push (network errors, 408, 429 and 5xx are retried with "
        "exponential backoff) before it is marked failed; other 4xx answers fail at once.",
    )
    fhir_retry_seconds: int = Field(60, ge=0, description="First FHIR retry delay in seconds; doubles per attempt.")

    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Secure flag on the web UI's cookies: auto (set when the request came over https, "
        "e.g. behind a TLS proxy with uvicorn --proxy-headers), always, or never.",
    )
    upload_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Largest biometric image upload accepted (web UI and API), in bytes (larger: 413).",
    )

    matcher_url: str | None = Field(
        None,
        description="The biometric matcher service (`carekey matcher serve`) this registry calls: "
        "http://127.0.0.1:8100, https://..., or unix:/path/to/socket. Unset: the URL `carekey matcher init` wrote to "
        "<data_dir>/matcher.url, else the matcher runs embedded in this process (the default, `make run`).",
    )
    matcher_credential_file: Path | None = Field(
        None,
        description="Shared secret signing every request to the matcher service (mode 0600, written by "
        "`carekey matcher init`); default <data_dir>/matcher.credential.",
    )
    matcher_timeout_seconds: float = Field(
        30.0, gt=0, description="Timeout of one request to the matcher service (extraction and 1:N search)."
    )

    node_lease_days: int = Field(
        14,
        ge=1,
        le=365,
        description="On a site node (`carekey node init`): after this many days without a complete sync the "
        "node's policy refuses every person-level read until it syncs (enrollment and exams of people enrolled in "
        "the visit keep working). Taken at each `carekey node sync`.",
    )
    node_sync_timeout_seconds: float = Field(
        60.0, gt=0, description="On a site node: timeout of one sync request to the central registry."
    )
    node_sync_interval_seconds: int = Field(
        900,
        ge=0,
        description="On a site node served by `carekey serve` with its passphrase (`CAREKEY_NODE_PASSPHRASE`): "
        "try a sync this often while the central registry answers (0: never; the *Sync now* button and "
        "`carekey node sync` still work).",
    )

    def resolved_matcher_url(self) -> str | None:
        if self.matcher_url:
            return self.matcher_url
        saved = self.data_dir / "matcher.url"
        return saved.read_text().strip() or None if saved.exists() else None

    def resolved_matcher_credential_file(self) -> Path:
        return self.matcher_credential_file or self.data_dir / "matcher.credential"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'carekey.db').resolve()}"

    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "carekey.keys"

    def resolved_log_key_file(self) -> Path:
        return self.log_key_file or self.data_dir / "carekey.log.key"

    def fhir_endpoint(self, site_id: str) -> str | None:
        """The FHIR base URL of ``site_id``'s EMR: CAREKEY_FHIR_ENDPOINT_<SITE>, else ``fhir_endpoints``."""
        env = os.environ.get("CAREKEY_FHIR_ENDPOINT_" + site_id.upper().replace("-", "_"), "").strip()
        return env or self.fhir_endpoints.get(site_id) or None

    def resolved_dhis2_mapping_file(self) -> Path:
        return self.dhis2_mapping_file or self.data_dir / "dhis2-mapping.json"

    def resolved_heads_file(self) -> Path:
        return self.heads_file or self.data_dir / "carekey.heads"

    def resolved_key_store(self) -> Path:
        return self.key_store or self.data_dir / "carekey.keystore"
