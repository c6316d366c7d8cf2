"""The schema (SQLAlchemy Core). Alembic migrations in ``storage/migrations`` must produce exactly this
(a test compares them). Personal data appears only as ciphertext or keyed blind indexes."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
TS = DateTime(timezone=True)
ID = String(40)
HEX = String(64)

programs = Table(
    "programs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("notice_versions", Text, nullable=False),  # JSON list
    Column("languages", Text, nullable=False),  # JSON list
    Column("created_at", TS, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", ID, primary_key=True),
    Column("program_id", ID, ForeignKey("programs.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("district", String(200), nullable=False, default=""),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", TS, nullable=False),
    # migration 0004: a second person approves every new or changed account before it reaches any data
    Column("changed_by", ID, nullable=True),
    Column("approved_by", ID, nullable=True),
    Column("language", String(8), nullable=True),  # 0005_day: UI language (None: the browser's)
)

user_sites = Table(
    "user_sites",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ID, ForeignKey("sites.id"), primary_key=True),
)

people = Table(
    "people",
    metadata,
    Column("id", String(12), primary_key=True),  # pseudonymous program id CK-XXXX-XXXX
    Column("program_id", ID, ForeignKey("programs.id"), nullable=False),
    Column("card_bidx", HEX, nullable=False),
    Column("name_bidx", HEX, nullable=False, index=True),
    Column("birth_year_bidx", HEX, nullable=False, index=True),
    Column("village_bidx", HEX, nullable=False),
    Column("key_ref", String(40), nullable=False),  # names the shred secret in the key store
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("enrolled_site", ID, ForeignKey("sites.id"), nullable=False),
    Column("enrolled_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False, index=True),
    Column("pin_hash", String(200), nullable=True),  # argon2id of the patient PIN
    UniqueConstraint("program_id", "card_bidx", name="uq_people_program_card"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", HEX, primary_key=True),  # SHA-256 of the bearer token; the token itself is never stored
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False, index=True),
)

visits = Table(
    "visits",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("opened_by", ID, ForeignKey("users.id"), nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("closed_by", ID, ForeignKey("users.id"), nullable=True),
    Column("closed_at", TS, nullable=True),
)

exams = Table(
    "exams",
    metadata,
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("visit_id", ID, ForeignKey("visits.id"), nullable=False),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("recorded_by", ID, ForeignKey("users.id"), nullable=False),
    Column("recorded_at", TS, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

referrals = Table(
    "referrals",
    metadata,  # where and why are sealed; open/closed, site and dates are in the clear (follow-up list)
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("visit_id", ID, ForeignKey("visits.id"), nullable=False),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("recorded_by", ID, ForeignKey("users.id"), nullable=False),
    Column("recorded_at", TS, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("closed_at", TS, nullable=True),
    Column("closed_by", ID, ForeignKey("users.id"), nullable=True),
    Column("closed_as", String(20), nullable=True),
)
Index("ix_referrals_open", referrals.c.site_id, referrals.c.closed_at)

consents = Table(
    "consents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, ... per person: the order of decisions
    Column("purpose", String(40), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("notice_version", String(40), nullable=False),
    Column("language", String(20), nullable=False),
    Column("grantor_kind", String(20), nullable=False),
    Column("grantor_ciphertext", LargeBinary, nullable=False),  # guardian name/relation, under the person's key
    Column("at", TS, nullable=False),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=True),  # None: the person decided in the patient portal
    Column("user_id", ID, ForeignKey("users.id"), nullable=True),  # None: the person decided in the patient portal
    UniqueConstraint("person_id", "version", name="uq_consents_person_version"),
)

access_log = Table(
    "access_log",
    metadata,
    # migration 0005: the entry id is generated by the database (no lock to append); ``seq`` (the leaf index,
    # contiguous from 0) is assigned by the integrator when it hashes the entry into the tree (NULL until then)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=True, unique=True),
    Column("at", TS, nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM, for the public refusal counts
    Column("actor_id", ID, nullable=False),
    Column("role", String(20), nullable=False),
    Column("site_id", ID, nullable=True),
    Column("purpose", String(40), nullable=False),
    Column("action", String(40), nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("person_id", String(12), nullable=True, index=True),  # no FK: the log outlives erasure
    Column("salt", LargeBinary, nullable=True),  # leaf commitment salt; deletable side data
    Column("leaf_input", LargeBinary, nullable=False),  # carekey.audit.leaf; never changes
    # the signed entry promise (carekey.audit.promise); NULL only for entries logged before migration 0005
    Column("promised_ms", BigInteger, nullable=True),
    Column("promise_delay_ms", BigInteger, nullable=True),
    Column("promise_sig", LargeBinary, nullable=True),
    Column("promise_key", HEX, nullable=True),
)
Index("ix_access_log_refusals", access_log.c.outcome, access_log.c.purpose, access_log.c.month)
Index("ix_access_log_actor_at", access_log.c.actor_id, access_log.c.at)
Index("ix_access_log_site_at", access_log.c.site_id, access_log.c.at)  # migration 0004: per-site limits

biometric_templates = Table(
    "biometric_templates",
    metadata,
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("modality", String(20), nullable=False),
    Column("position", String(40), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("template", LargeBinary, nullable=False),  # protected (keyed, irreversible) template bytes
    Column("created_at", TS, nullable=False),
)
Index("ix_biometric_templates_modality", biometric_templates.c.modality)

# -- migration 0005_gallery: the template change feed the matcher's in-memory gallery follows -----------------
template_feed = Table(
    "template_feed",
    metadata,  # one row per template added or deleted, in commit order (carekey.storage.sql.feed)
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the feed position; rows are never updated
    Column("template_id", ID, nullable=False),  # no foreign key: the row outlives the template it reports gone
    Column("modality", String(20), nullable=False),
    Column("op", String(8), nullable=False),  # add, remove (informational: a reader looks the template up)
    sqlite_autoincrement=True,  # seq is never reused, even after the newest rows are deleted
)

# -- migration 0002: the persistent Merkle tree, its signed heads, the privacy budget ledger -----------------

log_nodes = Table(
    "log_nodes",
    metadata,  # perfect nodes of the Merkle tree over access_log.leaf_input (carekey.audit.merkle)
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

tree_heads = Table(
    "tree_heads",
    metadata,  # signed tree heads, as published (the signing key is never in the database)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_size", Integer, nullable=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("key_id", String(64), nullable=False),
)
Index("ix_tree_heads_size", tree_heads.c.tree_size)

privacy_spends = Table(
    "privacy_spends",
    metadata,  # the privacy budget ledger (carekey.stats.budget): one row per release
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("program_id", ID, nullable=False, index=True),
    Column("epsilon", Float, nullable=False),
    Column("label", Text, nullable=False),
    Column("at", TS, nullable=False),
)

# -- migration 0003: enrollment images kept at the person's request (biometric_image_retention) -------------

biometric_images = Table(
    "biometric_images",
    metadata,  # sealed under the person's data key (AES-256-GCM): never in the clear
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("template_id", ID, ForeignKey("biometric_templates.id", ondelete="SET NULL"), nullable=True),
    Column("modality", String(20), nullable=False),
    Column("position", String(40), nullable=False),
    Column("key_version", Integer, nullable=False),  # key version of the template last extracted from it
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", TS, nullable=False),
    # migration 0004_atrest: the person's image key (a key-store secret, apart from their data key) sealing this
    # image; destroyed when a biometric consent is revoked. NULL: an image sealed under the data key (before 0004)
    Column("key_ref", String(40), nullable=True),
)
Index("ix_biometric_images_key_version", biometric_images.c.key_version)

# -- migration 0004: the people a visit may reach (offered by its own lookups or enrolled in it) ---------------

visit_offers = Table(
    "visit_offers",
    metadata,
    Column("visit_id", ID, ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("method", String(20), nullable=False),  # card, name, biometric, enrolled
)

# -- migration 0004_fhir: the FHIR push queue (one row per closed visit of a person who granted ehr_sharing) -----

fhir_pushes = Table(
    "fhir_pushes",
    metadata,  # no personal data: the Bundle is built from the record at send time, after the policy
    Column("id", ID, primary_key=True),
    Column("visit_id", ID, ForeignKey("visits.id"), nullable=False, unique=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("status", String(10), nullable=False),  # pending, sent, failed, cancelled
    Column("attempts", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("next_attempt_at", TS, nullable=True),
    Column("last_attempt_at", TS, nullable=True),
    Column("last_status", Integer, nullable=True),  # HTTP status of the last answer (None: no answer)
    Column("last_error", String(200), nullable=False),  # a short reason; never the server's body
    Column("location", String(500), nullable=True),  # Location header of the accepted push
)
Index("ix_fhir_pushes_due", fhir_pushes.c.status, fhir_pushes.c.next_attempt_at)

# -- migration 0004_stats: reporting periods on the budget ledger; the released (noisy) figures ------------

privacy_spends.append_column(Column("period", String(8), nullable=True))  # DHIS2 period id; NULL before 0004
Index("ix_privacy_spends_program_period", privacy_spends.c.program_id, privacy_spends.c.period)

stats_releases = Table(
    "stats_releases",
    metadata,  # what a release published (noisy aggregates only, never a row), and its DHIS2 push
    Column("id", ID, primary_key=True),
    Column("program_id", ID, nullable=False),
    Column("period", String(8), nullable=False),
    Column("statistic", String(40), nullable=False),
    Column("epsilon", Float, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("created_by", ID, nullable=False),  # the manager's user id
    Column("body", Text, nullable=False),  # JSON: HierarchicalRelease.to_dict()
    Column("sent_at", TS, nullable=True),  # when DHIS2 accepted it (None: never pushed, or every push failed)
    Column("sent_summary", Text, nullable=True),  # DHIS2's import summary (JSON) of the accepted push
)
Index("ix_stats_releases_program_period", stats_releases.c.program_id, stats_releases.c.period)

# -- migration 0004_atrest: key-check values, the erasure (shred) queue, per-person image keys -------------------

key_checks = Table(
    "key_checks",
    metadata,  # one check value per key file (carekey.storage.keychecks): never the key itself
    Column("name", String(40), primary_key=True),  # program_keys | key_store | log_key
    Column("value", String(128), nullable=False),
    Column("created_at", TS, nullable=False),
)

pending_shreds = Table(
    "pending_shreds",
    metadata,  # key-store secrets to destroy once the deletion that named them has committed
    Column("key_ref", String(40), primary_key=True),  # names a secret in the key store; never a person id
    Column("marked_at", TS, nullable=False),
)

log_key_rotations = Table(
    "log_key_rotations",
    metadata,  # `carekey log rotate-key`: each key vouches for the other (carekey.audit.sth)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("old_public_key", LargeBinary, nullable=False),
    Column("new_public_key", LargeBinary, nullable=False),
    Column("old_signature", LargeBinary, nullable=False),
    Column("new_signature", LargeBinary, nullable=False),
)

# -- migration 0004_log: the login limiter, shared by every process (API workers, CLI) ------------------------

login_limits = Table(
    "login_limits",
    metadata,  # one row per limiter key: keyed HMAC of the normalized account/card/address key
    Column("key", HEX, primary_key=True),
    Column("window_start", TS, nullable=False),  # the current one-minute window of attempts
    Column("attempts", Integer, nullable=False),  # attempts counted in it (counted before the password is checked)
    Column("strikes", Integer, nullable=False),  # lockouts so far (back-off doubles with each; reset on success)
    Column("failures", Integer, nullable=False, server_default="0"),  # attempts since the last success (any window)
    Column("locked_until", TS, nullable=True),
    Column("last_seen", TS, nullable=False),  # least recently used keys are dropped first
)
Index("ix_login_limits_last_seen", login_limits.c.last_seen)

# -- migration 0007_node: offline site nodes and sync (docs/sync.md) -----------------------------------------------

sync_nodes = Table(
    "sync_nodes",
    metadata,  # central: the site nodes registered with this registry (public keys only)
    Column("id", ID, primary_key=True),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("public_key", HEX, nullable=False),  # Ed25519, signs every sync request
    Column("log_public_key", HEX, nullable=False),  # Ed25519, signs the node log's tree heads
    Column("code_hash", HEX, nullable=False),  # SHA-256 of the one-time code shown on the laptop
    Column("status", String(12), nullable=False),  # pending, approved (one admin), active (confirmed), revoked
    Column("registered_at", TS, nullable=False),
    Column("approved_by", ID, nullable=True),
    Column("confirmed_by", ID, nullable=True),
    Column("revoked_at", TS, nullable=True),
    Column("flag", Text, nullable=True),  # why the node was flagged (replayed batch, rewritten log...), None: clean
    Column("last_seq", Integer, nullable=False, server_default="0"),  # last applied push batch
    Column("last_hash", HEX, nullable=False, server_default=""),
    Column("cursor", Integer, nullable=False, server_default="0"),  # the feed position the node acknowledged
    Column("log_size", Integer, nullable=False, server_default="0"),  # the node log's last accepted head
    Column("log_root", LargeBinary, nullable=True),
    Column("log_head", Text, nullable=True),  # that head, as the node signed it (JSON)
    Column("last_sync_at", TS, nullable=True),
)

sync_batches = Table(
    "sync_batches",
    metadata,  # central: every applied push batch (node, seq, hash): a retry is acknowledged, never re-applied
    Column("node_id", ID, ForeignKey("sync_nodes.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("hash", HEX, nullable=False),
    Column("applied_at", TS, nullable=False),
    Column("answer", Text, nullable=False),  # the acknowledgement sent (sent again on a retry)
)

sync_nonces = Table(
    "sync_nonces",
    metadata,  # central: request nonces seen within the clock window (a replayed request is refused)
    Column("node_id", ID, primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("at", TS, nullable=False, index=True),
)

sync_feed = Table(
    "sync_feed",
    metadata,  # both sides: people whose record changed (written with the change), in commit order
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(12), nullable=False, index=True),  # no FK: an erasure outlives the person
    Column("kind", String(8), nullable=False),  # upsert, erase
    Column("origin", ID, nullable=True),  # None: made here; else the node (or "central") the change came from
    Column("at", TS, nullable=False),
    sqlite_autoincrement=True,
)

sync_holdings = Table(
    "sync_holdings",
    metadata,  # central: which node holds which person (sent to it or pushed by it): where erasures must go
    Column("node_id", ID, ForeignKey("sync_nodes.id"), primary_key=True),
    Column("person_id", String(12), primary_key=True),
)

sync_node_log = Table(
    "sync_node_log",
    metadata,  # central: each node's log leaves (salted commitments, no personal data), checked at every push
    Column("node_id", ID, ForeignKey("sync_nodes.id"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("leaf_input", LargeBinary, nullable=False),
)

node_state = Table(
    "node_state",
    metadata,  # node: one row (id "node") with its sync progress; absent on a central registry
    Column("id", String(8), primary_key=True),
    Column("node_id", ID, nullable=False),
    Column("seq", Integer, nullable=False),  # last batch built
    Column("acked_seq", Integer, nullable=False),  # last batch the central registry acknowledged
    Column("acked_hash", HEX, nullable=False),
    Column("feed_pushed", Integer, nullable=False),  # local feed position already put in a batch
    Column("log_pushed", Integer, nullable=False),  # node log size already put in a batch
    Column("cursor", Integer, nullable=False),  # central feed position applied here
    Column("last_sync_at", TS, nullable=True),  # the last complete sync (push and pull): the lease starts there
    Column("lease_days", Integer, nullable=False),  # CAREKEY_NODE_LEASE_DAYS at the last sync (or at init)
    Column("capture_key", Text, nullable=True),  # hex: the central matcher's HPKE capture public key (from a pull)
    Column("created_at", TS, nullable=False),
)

node_outbox = Table(
    "node_outbox",
    metadata,  # node: batches built and not yet acknowledged (resent oldest first, byte for byte)
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("hash", HEX, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("acked_at", TS, nullable=True),
)

node_captures = Table(
    "node_captures",
    metadata,  # node: biometric captures made offline, sealed to the central capture key (HPKE), until pushed
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("visit_id", ID, nullable=False),
    Column("modality", String(20), nullable=False),
    Column("position", String(40), nullable=False),
    Column("captured_by", ID, nullable=False),
    Column("captured_at", TS, nullable=False),
    Column("sealed", LargeBinary, nullable=False),  # never the image in the clear
)

sync_captures = Table(
    "sync_captures",
    metadata,  # central: offline captures received from nodes, still sealed, waiting for central enrollment
    Column("id", ID, primary_key=True),
    Column("node_id", ID, ForeignKey("sync_nodes.id"), nullable=False),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("visit_id", ID, nullable=False),
    Column("modality", String(20), nullable=False),
    Column("position", String(40), nullable=False),
    Column("captured_by", ID, nullable=False),
    Column("captured_at", TS, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("received_at", TS, nullable=False),
)

# -- migration 0008_node: tasks that go back to a node (docs/sync.md, offline captures) ----------------------------

sync_tasks = Table(
    "sync_tasks",
    metadata,  # both sides: a task for the person's next visit (a possible duplicate found by the central enrollment
    # of an offline capture, a capture to make again); it travels in the person's snapshot, codes only, no names
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("capture_id", ID, nullable=True),  # the offline capture it is about (kept sealed centrally until resolved)
    Column("kind", String(20), nullable=False),  # "duplicate" or "recapture"
    Column("detail", Text, nullable=False),  # JSON: modality, position, captured_at, candidates [{person_id, score}]
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS, nullable=True),
    Column("resolution", String(40), nullable=True),  # "twins", "false_match", "same_person", "recaptured"
    Column("resolved_by", ID, nullable=True),
)

person_edits = Table(
    "person_edits",
    metadata,  # both sides: demographic edits, append-only, merged per field at sync (docs/sync.md, merge rules)
    Column("id", ID, primary_key=True),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("field", String(20), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),  # the new value, sealed under the person's data key
    Column("prev", Text, nullable=True),  # the edits of the field it replaced, comma-separated (None: enrollment's)
    Column("at", TS, nullable=False),
    Column("site_id", ID, nullable=True),
    Column("user_id", ID, nullable=True),
    Column("made_on", ID, nullable=False),  # "central" or the node id: where it was made (a conflict keeps central's)
)

node_disclosures = Table(
    "node_disclosures",
    metadata,  # central: the entries of a node's log that name a person (the event and its salt, sealed under the
    # person's key), pushed so that the person's portal lists accesses made on nodes with their proofs
    Column("node_id", ID, ForeignKey("sync_nodes.id"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("person_id", String(12), ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sealed", LargeBinary, nullable=False),
)
