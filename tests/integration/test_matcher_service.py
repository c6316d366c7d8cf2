"""The matcher as its own service (issue 15): the registry's folder holds no biometric secret, every request to
the matcher carries a log receipt it checks (and counts refusals of), a matcher that is down is a 503 with nothing
written while name / card lookups go on, and enroll + identify on fixture images through a matcher served by
uvicorn (a thread, on a Unix socket) give the same answers as the embedded matcher."""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.audit import leaf
from carekey.audit.promise import PromiseSigner
from carekey.audit.receipt import Receipt, scope_tag
from carekey.audit.sth import LogSigner
from carekey.bootstrap import matcher as matcher_setup
from carekey.crypto import channel
from carekey.crypto.keys import load_key_file, load_matcher_key_file
from carekey.domain.access import AccessEvent
from carekey.errors import MatcherUnavailable
from carekey.interfaces.api.app import create_app
from carekey.interfaces.matcher.app import create_matcher_app
from carekey.services.matcher_remote import RemoteMatcher
from tests.conftest import PASSWORD, Clock, make_world
from tests.integration.helpers import enroll

BIO = "biometric_identification"
FINGERS = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"


def finger(name: str) -> bytes:
    return (FINGERS / f"{name}.tif").read_bytes()


@pytest.fixture
def sqlite_settings(settings):
    if not settings.resolved_database_url().startswith("sqlite"):
        pytest.skip("receipt and start-up checks do not depend on the database backend: run on SQLite only")
    return settings


class Served:
    """A matcher folder served by uvicorn in a thread, on a Unix socket."""

    def __init__(self, matcher_dir: Path, socket: Path) -> None:
        self.built = matcher_setup.build_matcher(matcher_dir)
        app = create_matcher_app(self.built.node, self.built.credential, on_startup=self.built.node.engine.build)
        self.server = uvicorn.Server(uvicorn.Config(app, uds=str(socket), log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the matcher server did not start")
            time.sleep(0.05)
        self.client = httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://matcher")

    def health(self) -> dict:
        return self.client.get("/health").json()

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.built.close()


@pytest.fixture
def pair(settings, tmp_path):
    """An initialized registry whose biometric secret moved to a matcher folder, the matcher served, the
    registry built against it (a RemoteMatcher), and the conftest world (SQLite and PostgreSQL)."""
    bootstrap.initialize(settings)
    socket = tmp_path / "matcher.sock"
    report = matcher_setup.initialize_matcher(settings, tmp_path / "matcher", f"unix:{socket}")
    assert report["biometric_key_version"] == 1
    served = Served(tmp_path / "matcher", socket)
    app = bootstrap.build(settings)
    app.services.deps.clock = Clock()
    world = make_world(app.services)
    yield app, world, served, tmp_path / "matcher"
    app.close()
    served.stop()


def test_the_registry_folder_holds_no_biometric_secret(pair, settings):
    app, _, _, matcher_dir = pair
    mkeys = load_matcher_key_file(matcher_dir / "matcher.keys")
    assert stat.S_IMODE((matcher_dir / "matcher.keys").stat().st_mode) == 0o600
    secret = mkeys.biometric_secret
    forms = [secret, secret.hex().encode(), base64.b64encode(secret), base64.b64encode(secret)[:40]]
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    if settings.resolved_database_url().startswith("sqlite:///"):
        database = Path(settings.resolved_database_url().removeprefix("sqlite:///"))
        files += [p for p in database.parent.glob(database.name + "*") if p.is_file()]  # the database, -wal, -shm
        assert database in files
    assert settings.resolved_key_file() in files
    for path in files:
        content = path.read_bytes()
        assert not any(form in content for form in forms), f"{path.name} holds the biometric secret"
    keys = load_key_file(settings.resolved_key_file())
    assert keys.biometric_secret is None and keys.biometric_remote and keys.biometric_version == 1
    assert "biometric_secret" not in json.loads(settings.resolved_key_file().read_text())
    assert isinstance(app.services.biometrics.matcher, RemoteMatcher)
    # reopening the registry does not put a secret back (ensure_biometric_secret leaves a remote key file alone)
    bootstrap.build(settings).close()
    assert load_key_file(settings.resolved_key_file()).biometric_secret is None


def test_enroll_and_identify_through_the_matcher_service(pair):
    app, world, served, _ = pair
    s = app.services
    visit, ama = enroll(s, world.registrar)
    visit2, kofi = enroll(s, world.registrar, given_name="Kofi", card_number="NK2002", birth_year=1970)
    right_index = finger("db1_101_1")
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "right_index", right_index)
    s.biometrics.enroll(
        world.registrar, visit2.id, BIO, kofi.person.id, "fingerprint", "right_index", finger("db1_102_1")
    )
    with app.database.uow() as uow:
        stored = uow.biometrics.for_person(ama.person.id)
    assert [t.key_version for t in stored] == [1] and stored[0].template.startswith(b"CKPT")

    nxt = s.visits.open(world.registrar, "north")
    hits = s.biometrics.identify(world.registrar, nxt.id, BIO, "fingerprint", finger("db1_101_2"), person_agreed=True)
    assert [c.person_id for c in hits] == [ama.person.id]
    other = s.visits.open(world.registrar, "north")
    assert (
        s.biometrics.identify(world.registrar, other.id, BIO, "fingerprint", finger("db1_103_1"), person_agreed=True)
        == []
    )

    health = served.health()
    assert health["templates"] == 2 and health["key_version"] == 1
    receipts = health["receipts"]
    assert receipts["accepted"] == {"enroll": 2, "duplicate_search": 2, "identify": 2}
    assert receipts["refused_total"] == 0 and receipts["spent"] == 6
    assert receipts["verify_ms_median"] is not None


def test_the_registry_logs_the_scope_its_receipts_name(pair):
    app, world, _, _ = pair
    s = app.services
    visit, ama = enroll(s, world.registrar)
    right_index = finger("db1_101_1")
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "right_index", right_index)
    s.transparency.integrate()
    with app.database.uow() as uow:
        entries = [e.event for e in uow.access_log.entries(0, uow.access_log.size())]
    [grant] = [e for e in entries if e.action == "enroll_biometric" and e.outcome == "granted"]
    assert grant.reason.endswith(scope_tag("demo", "fingerprint"))


# ---- refusals: the matcher's app with a fake engine, receipts signed with the registry's log key -----------------


class FakeEngine:
    key_version = 1

    def __init__(self) -> None:
        self.calls: list[str] = []

    def extract(self, modality, image):
        self.calls.append("extract")
        return b"T:" + image

    def probe(self, modality, image):
        self.calls.append("probe")
        return b"P:" + image

    def search(self, program_id, modality, probe, position=None, among=None):
        self.calls.append("search")
        return [("T-1", 0.9)]

    def follow(self, feed):
        pass

    def build(self, progress=None):
        return 0


@pytest.fixture
def guarded(sqlite_settings, tmp_path):
    """The matcher app over a FakeEngine, trusting the registry's log key; and a receipt maker signing with it."""
    bootstrap.initialize(sqlite_settings)
    matcher_setup.initialize_matcher(sqlite_settings, tmp_path / "matcher", "http://127.0.0.1:1")
    built = matcher_setup.build_matcher(tmp_path / "matcher")
    engine = FakeEngine()
    built.node.engine = engine
    signer = LogSigner.load(sqlite_settings.resolved_log_key_file())
    client = TestClient(create_matcher_app(built.node, built.credential))
    yield client, built, engine, signer
    built.close()


_ids = iter(range(1, 10_000))


def receipt(
    signer,
    action="identify_biometric",
    program="demo",
    modality="fingerprint",
    outcome="granted",
    age_s=0.0,
):
    at = datetime.fromtimestamp(time.time() - age_s, UTC)
    event = AccessEvent(at, "u-1", "registrar", "north", BIO, action, outcome, "ok" + scope_tag(program, modality))
    salt = leaf.new_salt()
    promise = PromiseSigner(signer, 300_000).promise(
        next(_ids), leaf.leaf_input(event.leaf_event(), salt), int(at.timestamp() * 1000)
    )
    return Receipt(event.leaf_event(), salt, promise).to_dict()


def post(client, credential, path, doc):
    body = json.dumps(doc).encode()
    headers = {"Authorization": channel.sign(credential, "POST", path, body), "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


def identify_doc(rcpt, program="demo", modality="fingerprint"):
    image = base64.b64encode(b"image").decode()
    return {"receipt": rcpt, "program_id": program, "modality": modality, "images": {"": image}, "top": 5}


def test_a_valid_receipt_is_accepted_once(guarded):
    client, built, engine, signer = guarded
    rcpt = receipt(signer)
    r = post(client, built.credential, "/v1/identify", identify_doc(rcpt))
    assert r.status_code == 200, r.text
    assert r.json() == {"found": {"": [["T-1", 0.9]]}} and engine.calls == ["probe", "search"]
    r = post(client, built.credential, "/v1/identify", identify_doc(rcpt))
    assert r.status_code == 403 and r.json()["reason"] == "reused"
    assert engine.calls == ["probe", "search"]  # the engine never saw the replay
    assert client.get("/health").json()["receipts"]["refused"] == {"reused": 1}


def test_enroll_receipt_serves_each_step_once(guarded):
    client, built, engine, signer = guarded
    rcpt = receipt(signer, action="enroll_biometric")
    image = base64.b64encode(b"img").decode()
    doc = {"receipt": rcpt, "program_id": "demo", "modality": "fingerprint", "image": image, "with_probe": True}
    r = post(client, built.credential, "/v1/enroll", doc)
    assert r.status_code == 200 and base64.b64decode(r.json()["template"]) == b"T:img"
    probe = r.json()["probe"]
    dup = {"receipt": rcpt, "program_id": "demo", "modality": "fingerprint", "probe": probe}
    assert post(client, built.credential, "/v1/duplicate-search", dup).status_code == 200
    assert post(client, built.credential, "/v1/duplicate-search", dup).json()["reason"] == "reused"
    assert post(client, built.credential, "/v1/enroll", doc).json()["reason"] == "reused"
    # an enrollment's receipt is no identification
    assert post(client, built.credential, "/v1/identify", identify_doc(rcpt)).json()["reason"] == "wrong_action"


def tampered_event(rcpt):
    bad = json.loads(json.dumps(rcpt))
    bad["event"]["actor_id"] = "someone-else"
    return bad


def flipped_signature(rcpt):
    bad = json.loads(json.dumps(rcpt))
    sig = bytearray(base64.b64decode(bad["promise"]["signature"]))
    sig[0] ^= 1
    bad["promise"]["signature"] = base64.b64encode(bytes(sig)).decode()
    return bad


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda signer: None, "missing"),
        (lambda signer: {"event": {}}, "malformed"),
        (lambda signer: receipt(signer, action="enroll_biometric"), "wrong_action"),
        (lambda signer: receipt(signer, action="lookup"), "wrong_action"),
        (lambda signer: receipt(signer, program="other-program"), "wrong_scope"),
        (lambda signer: receipt(signer, modality="iris"), "wrong_scope"),
        (lambda signer: receipt(signer, outcome="denied"), "not_granted"),
        (lambda signer: receipt(signer, age_s=120), "stale"),
        (lambda signer: receipt(signer, age_s=-3600), "stale"),
        (lambda signer: receipt(LogSigner.generate()), "unknown_key"),
        (lambda signer: flipped_signature(receipt(signer)), "bad_signature"),
        (lambda signer: tampered_event(receipt(signer)), "leaf_mismatch"),
    ],
    ids=[
        "missing",
        "malformed",
        "other-action",
        "not-biometric",
        "other-program",
        "other-modality",
        "denied",
        "stale",
        "future",
        "forged-key",
        "forged-signature",
        "rewritten-event",
    ],
)
def test_refused_receipts_are_counted_and_the_engine_never_runs(guarded, make, reason):
    client, built, engine, signer = guarded
    r = post(client, built.credential, "/v1/identify", identify_doc(make(signer)))
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["type"] == "urn:carekey:problem:receipt-refused" and body["reason"] == reason
    assert engine.calls == []
    health = client.get("/health").json()["receipts"]
    assert health["refused"] == {reason: 1} and health["refused_total"] == 1 and health["spent"] == 0


def test_requests_without_the_channel_credential_are_refused(guarded):
    client, built, engine, signer = guarded
    doc = identify_doc(receipt(signer))
    assert client.post("/v1/identify", json=doc).status_code == 401
    assert post(client, b"\x00" * 32, "/v1/identify", doc).status_code == 401
    assert engine.calls == []
    assert post(client, built.credential, "/v1/identify", doc).status_code == 200  # the receipt was not spent


# ---- the matcher down ---------------------------------------------------------------------------------------------


@pytest.fixture
def down(settings, tmp_path):
    """A registry configured for a matcher service that is not running."""
    bootstrap.initialize(settings)
    matcher_setup.initialize_matcher(settings, tmp_path / "matcher", f"unix:{tmp_path / 'nobody.sock'}")
    built = bootstrap.build(settings)
    built.services.deps.clock = Clock()
    world = make_world(built.services)
    yield built, world
    built.close()


def test_matcher_down_is_a_503_with_nothing_written_and_lookups_work(down, settings):
    built, world = down
    s = built.services
    visit, ama = enroll(s, world.registrar)
    with pytest.raises(MatcherUnavailable, match="cannot be reached"):
        s.biometrics.enroll(world.registrar, visit.id, BIO, ama.person.id, "fingerprint", "right_index", b"x" * 64)
    with built.database.uow() as uow:
        assert uow.biometrics.for_person(ama.person.id) == []
    with TestClient(create_app(settings, built=built)) as client:
        token = client.post("/auth/token", json={"username": "registrar", "password": PASSWORD}).json()
        reg = {"Authorization": f"Bearer {token['access_token']}"}
        r = client.post(
            f"/visits/{visit.id}/people/{ama.person.id}/biometrics",
            headers=reg | {"X-Carekey-Purpose": BIO},
            data={"modality": "fingerprint", "position": "right_index"},
            files={"image": ("f.tif", finger("db1_101_1"), "image/tiff")},
        )
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"] == "urn:carekey:problem:matcher-unavailable" and "Retry-After" in r.headers
        nxt = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
        r = client.post(
            f"/visits/{nxt}/identify",
            headers=reg | {"X-Carekey-Purpose": BIO},
            data={"modality": "fingerprint", "person_agreed": "true"},
            files={"image": ("f.tif", finger("db1_101_2"), "image/tiff")},
        )
        assert r.status_code == 503, r.text
        with built.database.uow() as uow:
            assert uow.biometrics.for_person(ama.person.id) == []
            assert uow.visits.offers(nxt) == {}  # no candidate offered to the visit
        # the card lookup needs no matcher
        other = s.visits.open(world.registrar, "north")
        found = s.lookup.by_card(world.registrar, other.id, "care_record", "NK1001")
        assert [c.person_id for c in found] == [ama.person.id]


def test_a_registry_whose_secret_moved_refuses_to_start_without_a_matcher_url(sqlite_settings, tmp_path):
    bootstrap.initialize(sqlite_settings)
    matcher_setup.initialize_matcher(sqlite_settings, tmp_path / "matcher", "http://127.0.0.1:8100")
    (sqlite_settings.data_dir / "matcher.url").unlink()
    with pytest.raises(Exception, match="no matcher URL is configured"):
        bootstrap.build(sqlite_settings)
