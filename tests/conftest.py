"""Shared test fixtures."""
# --- database: the `db` fixture (storage/) --------------------------------------------------------
# Every test that takes `db` runs on SQLite (a fresh file) and on PostgreSQL (a fresh schema) when
# FRONTDOOR_TEST_POSTGRES_URL is set, e.g. by: eval "$(.ci/start-postgres)".
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

POSTGRES_URL_VARIABLE = "FRONTDOOR_TEST_POSTGRES_URL"
ONE_ADDRESS_LIMIT = "100000"  # messages a minute from one address, for servers every test reaches from one address


@pytest.fixture(scope="session")
def _postgres_admin():
    """An autocommit engine on the test PostgreSQL, for creating and dropping per-test schemas."""
    from sqlalchemy import create_engine

    from storage.database import normalise_url

    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        how = f'{POSTGRES_URL_VARIABLE} is not set (start a server with: eval "$(.ci/start-postgres)")'
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {how}: the PostgreSQL tests must run in CI", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {how}")
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    """A migrated, empty `storage.Database` of its own for each test."""
    from storage import Database

    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'frontdoor.db'}")
        database.migrate()
        yield database
        database.dispose()
        return
    admin = request.getfixturevalue("_postgres_admin")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    database = Database(url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


# --- models: provisioned once per test session, from the installed registry packages -------------
@dataclass
class Provisioned:
    model_dir: Path
    embedder_dir: Path
    vosk_dir: Path
    progress: list[tuple[int, str]]


class RecordingBar:
    def __init__(self, log: list[tuple[int, str]], total: int, desc: str) -> None:
        log.append((total, desc))

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory) -> Provisioned:
    """Both models provisioned once, from the installed registry packages, with downloads off."""
    from models.provision import ModelStore

    model_dir = tmp_path_factory.mktemp("models")
    progress: list[tuple[int, str]] = []
    store = ModelStore(model_dir, allow_download=False)

    def factory(total: int, desc: str) -> RecordingBar:
        return RecordingBar(progress, total, desc)

    return Provisioned(model_dir, store.embedder_dir(progress=factory), store.vosk_dir(progress=factory), progress)


@pytest.fixture(scope="session")
def embedder(provisioned):
    """The real multilingual-e5-small, loaded once per test session."""
    from models.embedder import Embedder

    return Embedder.load(provisioned.embedder_dir)


# --- the seed knowledge's embeddings and calibration: computed once, found by every served process -------------
@dataclass(frozen=True)
class SeedCaches:
    """What every worker over the shipped seed knowledge computes as it starts (the phrasings' e5 vectors and the
    fitted retrieval calibration), computed once per test run by the product's own code (knowledge_base/).

    `warm(db)` leaves them in a database as a first worker would have: a served process started on it still runs
    its whole start-up (migrate, seed, build the index) and finds them in the embedding cache and the fitted
    calibrations, as a second worker or a restarted one does in production."""
    model_id: str
    vectors: dict  # text hash → vector, as knowledge_base.store.EmbeddingCache keeps them
    calibration_key: str
    calibration: bytes  # Calibration.to_bytes()

    def warm(self, db) -> None:
        from knowledge_base.retrieval.confidence import Calibration
        from knowledge_base.store import CalibrationStore, EmbeddingCache

        EmbeddingCache(db).put_many(self.model_id, self.vectors)
        CalibrationStore(db).put(self.calibration_key, Calibration.from_bytes(self.calibration))

    def warm_url(self, url: str) -> None:
        """`warm` the database at `url` (migrated first, as a worker would)."""
        from storage import Database

        db = Database(url)
        try:
            db.migrate()
            self.warm(db)
        finally:
            db.dispose()

    def save(self, path: Path) -> None:
        import numpy as np

        hashes = sorted(self.vectors)
        np.savez(path, model_id=np.array(self.model_id), hashes=np.array(hashes), key=np.array(self.calibration_key),
                 vectors=np.vstack([self.vectors[h] for h in hashes]), calibration=np.frombuffer(self.calibration, np.uint8))

    @classmethod
    def load(cls, path: Path) -> "SeedCaches":
        import numpy as np

        with np.load(path, allow_pickle=False) as saved:
            vectors = dict(zip(saved["hashes"].tolist(), saved["vectors"]))
            return cls(str(saved["model_id"]), vectors, str(saved["key"]), saved["calibration"].tobytes())


def _compute_seed_caches(embedder, folder: Path, kb_file: Path | None = None) -> SeedCaches:
    """The caches a worker over the seed knowledge (or over the entries of `kb_file`) leaves behind."""
    from sqlalchemy import select

    from knowledge_base.io import read_entries

    from knowledge_base.retrieval.calibration_cache import calibration_key
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore
    from storage import Database
    from storage.tables import CachedEmbedding

    db = Database(f"sqlite:///{folder / 'frontdoor.db'}")
    try:
        db.migrate()
        knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db), calibrations=CalibrationStore(db))
        if kb_file is None:
            knowledge.load_seed_if_empty()
        else:  # as `frontdoor kb import` does
            knowledge.store.import_entries(read_entries(kb_file), by="import", source=str(kb_file))
        knowledge.index.refresh(force=True)
        index = knowledge.index.current
        with db.session() as session:
            hashes = session.scalars(select(CachedEmbedding.text_hash)).all()
        vectors = EmbeddingCache(db).get_many(embedder.model_id, hashes)
        return SeedCaches(embedder.model_id, vectors, calibration_key(index), index.calibration.to_bytes())
    finally:
        db.dispose()


def _seed_caches_once(name: str, embedder, tmp_path_factory, kb_file: Path | None = None) -> SeedCaches:
    """The seed knowledge's caches under `embedder`, computed once per run (under pytest-xdist, by the first
    worker to ask, and read from a file by the others)."""
    from filelock import FileLock

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _compute_seed_caches(embedder, tmp_path_factory.mktemp(name), kb_file)
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, shared by its xdist workers
    with FileLock(str(shared / f"{name}.lock")):
        path = shared / f"{name}.npz"
        if path.exists():
            return SeedCaches.load(path)
        caches = _compute_seed_caches(embedder, tmp_path_factory.mktemp(name), kb_file)
        caches.save(path)
        return caches


@pytest.fixture(scope="session")
def seed_caches(embedder, tmp_path_factory) -> SeedCaches:
    """The seed knowledge's vectors and calibration under the real e5."""
    return _seed_caches_once("seed-caches", embedder, tmp_path_factory)


@pytest.fixture(scope="session")
def hashing_seed_caches(tmp_path_factory) -> SeedCaches:
    """The seed knowledge's vectors and calibration under the small embedder of tests/fakes.py."""
    from fakes import HashingEmbedder

    return _seed_caches_once("hashing-seed-caches", HashingEmbedder(), tmp_path_factory)




# --- the web service, started for real ------------------------------------------------------------
TEST_PASSWORD = "test-password-2026"  # every test account's (made with `frontdoor accounts create`)
ROLES = ("editor", "reviewer", "seat", "admin")  # one account per role, named after it
WECHAT_TOKEN = "wechat-push-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SUBSCRIBE_TEMPLATE = "tmpl-ticket-state"  # the in-process app's subscription-message template (订阅消息)


@pytest.fixture(scope="session")
def fake_wechat():
    """WeChat's server API (token, customer-service send), faked on a local port: the service replies through it."""
    from wechat_fake import FakeWeChat

    with FakeWeChat() as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_sms():
    """Alibaba Cloud SMS's SendSms, faked on a local port (tests/sms_fake.py): the in-process app texts through it."""
    from sms_fake import FakeSmsGateway

    with FakeSmsGateway() as fake:
        yield fake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    base: str
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)  # role → an API token of the account named after the role
    password: str = TEST_PASSWORD
    wechat_token: str = WECHAT_TOKEN
    wechat_aes_key: str = WECHAT_AES_KEY

    def __str__(self) -> str:
        return self.base

    @property
    def seat_token(self) -> str:
        """The API token of the seat account `seat` (the seats' API and the dialplan's call lookup)."""
        return self.tokens["seat"]

    def headers(self, role: str = "seat") -> dict[str, str]:
        """`Authorization: Bearer …` for the account whose role (and name) is `role`."""
        return {"authorization": f"Bearer {self.tokens[role]}"}


def _frontdoor(env: dict, *args: str, stdin: str | None = None) -> str:
    """`python -m frontdoor ARGS` (the data folder and database as in `env`); its standard output."""
    done = subprocess.run([sys.executable, "-m", "frontdoor", *args], env=env, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"frontdoor {' '.join(args)} failed: {done.stderr[-2000:]}", pytrace=False)
    return done.stdout


def _create_accounts(data_dir: Path) -> dict[str, str]:
    """One account per role in ROLES in the database a served process on `data_dir` uses, by the same store and calls as `frontdoor accounts create/token` (the command line itself is
    tested in tests/test_console_page.py); role → API token."""
    from frontdoor.settings import Settings

    settings = Settings(_env_file=None, data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'frontdoor.db'}")
    return _create_accounts_in_process(settings, ROLES)


def _serve(env: dict, data_dir: Path, port: int, args: tuple[str, ...] = ()):
    """`python -m frontdoor serve [ARGS]` in its own process, once /healthz answers; the process to stop."""
    # Every test client speaks from 127.0.0.1: the per-address limit is for a city's citizens, not for a test run.
    env = {"FRONTDOOR_MESSAGES_PER_ADDRESS_MINUTE": ONE_ADDRESS_LIMIT, **env, "FRONTDOOR_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    log = open(data_dir / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--port", str(port), *args], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the server did not become healthy in 300 s")
    return process, log


def _stop(process, log) -> None:
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="session")
def server(provisioned, fake_wechat, seed_caches, tmp_path_factory):
    """One real service (uvicorn in its own process) on an empty data folder, shared by the API tests."""
    data_dir = tmp_path_factory.mktemp("service")
    port = _free_port()
    env = {**os.environ, "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir),
           "FRONTDOOR_ALLOW_DOWNLOAD": "false", "FRONTDOOR_MAX_BODY_BYTES": "20000",
           "FRONTDOOR_WECHAT_TOKEN": WECHAT_TOKEN,
           "FRONTDOOR_WECHAT_ENCODING_AES_KEY": WECHAT_AES_KEY, "FRONTDOOR_WECHAT_APPID": fake_wechat.appid,
           "FRONTDOOR_WECHAT_SECRET": fake_wechat.secret, "FRONTDOOR_WECHAT_API_BASE": fake_wechat.base_url,
           "FRONTDOOR_WECHAT_REGION": "江苏省/南京市"}
    tokens = _create_accounts(data_dir)
    seed_caches.warm_url(f"sqlite:///{data_dir / 'frontdoor.db'}")
    process, log = _serve(env, data_dir, port)
    yield Server(f"http://127.0.0.1:{port}", data_dir, tokens)
    _stop(process, log)


# --- the phone line: a service whose knowledge base answers the recorded questions -----------------
SPOKEN = Path(__file__).resolve().parents[2] / "shared" / "eval" / "spoken" / "covid-faq"
SPOKEN_KB = SPOKEN.parents[1] / "retrieval" / "covid-faq.kb.jsonl"


@dataclass(frozen=True)
class VoiceServer(Server):
    audiosocket_port: int = 0

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")


@pytest.fixture(scope="session")
def voice_server(provisioned, embedder, tmp_path_factory):
    """A real service whose knowledge base is a public COVID FAQ (the recorded questions in
    ../shared/eval/spoken/covid-faq ask it), with short voice timeouts so that tests of silence are quick."""
    if not SPOKEN.is_dir():
        pytest.skip(f"the recorded questions are missing: {SPOKEN}")
    if shutil.which("espeak-ng") is None:  # AudioSocket speaks its prompts with it
        how = "espeak-ng is not installed: apt-get install espeak-ng"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {how}", pytrace=False)
        pytest.skip(how)
    data_dir = tmp_path_factory.mktemp("voice-service")
    audiosocket_port, port = _free_port(), _free_port()
    env = {**os.environ, "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir), "FRONTDOOR_ALLOW_DOWNLOAD": "false",
           "FRONTDOOR_SEED_ON_START": "false", "FRONTDOOR_DATA_DIR": str(data_dir),
           "FRONTDOOR_VOICE_IDLE_SECONDS": "3", "FRONTDOOR_VOICE_START_SECONDS": "2", "FRONTDOOR_NO_INPUT_SECONDS": "2", "FRONTDOOR_VOICE_MAX_CALLS": "3",
           "FRONTDOOR_AUDIOSOCKET_PORT": str(audiosocket_port)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "frontdoor", "kb", "import", str(SPOKEN_KB)], env=env, check=True,
                   capture_output=True)
    tokens = _create_accounts(data_dir)
    # The FAQ's vectors and calibration, computed once per run: under pytest-xdist two workers may start this service.
    _seed_caches_once("voice-caches", embedder, tmp_path_factory, SPOKEN_KB).warm_url(f"sqlite:///{data_dir / 'frontdoor.db'}")
    process, log = _serve(env, data_dir, port)
    yield VoiceServer(f"http://127.0.0.1:{port}", data_dir, tokens, audiosocket_port=audiosocket_port)
    _stop(process, log)


# --- the pages: Debian's Chromium under Playwright (Playwright's own browser download is not used) ---------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000  # a busy machine (several workers, other tests) can take a while over the first search


def _browser_missing(what: str) -> None:
    """Fail under CI (the browser tests must run there); skip with the same advice elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {what}: the browser tests must run in CI", pytrace=False)
    pytest.skip(f"browser tests skipped: {what}")


@pytest.fixture(scope="module")
def chromium():
    """The browser, launched once per test module.

    Module-scoped: Playwright's sync API runs an event loop on the main thread while it is open, and
    later tests that run their own (asyncio.run) must not find one."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _browser_missing(f"Chromium is not installed at {CHROMIUM}; install it with: "
                "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _browser_missing("the playwright package is not installed; install the test extras with: .venv/bin/pip install -e '.[test]'")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# --- the quick subset: `make quick` runs what needs neither the real models, a real server nor a browser ---
SLOW_FIXTURES = {"provisioned", "embedder", "seed_caches", "server", "voice_server", "chromium"}


def pytest_collection_modifyitems(items):
    """Mark `slow` every test that needs the real models, a served process or the browser (directly or
    through another fixture), so that `pytest -m "not slow"` is a quick loop while iterating."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# Test files that share a costly served process run in the same test process under `make test` (pytest-xdist,
# --dist loadfile): the phone line's service (a knowledge base of its own, both models) starts once, not once
# per file. (pytest-xdist's own xdist_group marks are not read under pytest 9.2.)
SHARED_PROCESS = {"tests/test_voice_ivr.py": "phone-line", "tests/test_voice_audiosocket.py": "phone-line"}


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the files of SHARED_PROCESS sent to one test process together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedProcessScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return SHARED_PROCESS.get(file, file)

    return SharedProcessScheduling(config, log)


# --- the web service, in this process: the app with a small embedder, no voice, no subprocess -------------
@dataclass(frozen=True)
class InProcess:
    """The web app run in-process (`frontdoor.components.web_app` under Starlette's TestClient), shared by the
    API tests for which the real process and the real model are not the point. Like `Server`: one account per
    role (named after it, password TEST_PASSWORD) with an API token each.

    `client` keeps no cookies between requests (so that a sign-in never leaks into the next, anonymous,
    request: send a session as a `cookie` header), returns server errors as 500 responses as a real server
    would, and takes paths relative to the app ("/v1/auth/me")."""
    client: "object"  # fastapi.testclient.TestClient
    settings: "object"  # frontdoor.settings.Settings
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)
    password: str = TEST_PASSWORD
    wechat_token: str = WECHAT_TOKEN
    wechat_aes_key: str = WECHAT_AES_KEY

    @property
    def app(self):
        return self.client.app

    @property
    def services(self):
        """The running worker's services (api/services.py), e.g. to look at the database directly."""
        return self.client.app.state.services

    @property
    def seat_token(self) -> str:
        return self.tokens["seat"]

    def headers(self, role: str = "seat") -> dict[str, str]:
        """`Authorization: Bearer …` for the account whose role (and name) is `role`."""
        return {"authorization": f"Bearer {self.tokens[role]}"}

    def signed_in(self, role: str) -> "SignedIn":
        """`client` acting as the account whose role (and name) is `role`: what an httpx client made with
        `base_url=server.base, headers=server.headers(role)` is to the real server."""
        return SignedIn(self.client, self.headers(role))


@dataclass(frozen=True)
class SignedIn:
    """A client that sends an account's `Authorization` header with every request (besides any given)."""
    client: "object"  # fastapi.testclient.TestClient
    headers: dict[str, str]

    def request(self, method: str, url: str, **kwargs):
        return self.client.request(method, url, headers=self.headers | (kwargs.pop("headers", None) or {}), **kwargs)

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs):
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs):
        return self.request("DELETE", url, **kwargs)


def _create_accounts_in_process(settings, roles: tuple[str, ...] | None = None) -> dict[str, str]:
    """One account per role (default: every role; tests/test_access.py signs in as each), as `frontdoor accounts
    create/token` make them (same store, same calls); role → API token."""
    from accounts.roles import Role
    from frontdoor.components import account_store, open_database

    db = open_database(settings)
    try:
        accounts = account_store(settings, db)
        tokens = {}
        for role in roles or [r.value for r in Role]:
            accounts.create(role, TEST_PASSWORD, role, region="", display_name=f"测试{role}", by="cli")
            tokens[role], _ = accounts.open_session(role, "token", None, by="cli")
        return tokens
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def inprocess(fake_wechat, fake_sms, hashing_seed_caches, tmp_path_factory) -> InProcess:
    """The service's web app in this process on an empty data folder (seeded on start), with the small
    deterministic embedder of tests/fakes.py and no phone line: starts in seconds, not a minute."""
    from fastapi.testclient import TestClient

    from fakes import HashingEmbedder
    from frontdoor.components import web_app
    from frontdoor.settings import Settings

    data_dir = tmp_path_factory.mktemp("inprocess")
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'frontdoor.db'}",
                        model_dir=data_dir / "models", allow_download=False, voice=False, seed_on_start=True,
                        messages_per_address_minute=int(ONE_ADDRESS_LIMIT),
                        report_tick_seconds=3600,  # the surge alarm would cluster the gap queue behind the tests' backs
                        audiosocket_port=None, rules_dir=None, classifier_dir=None, max_body_bytes=20000,
                        wechat_token=WECHAT_TOKEN, wechat_encoding_aes_key=WECHAT_AES_KEY, wechat_appid=fake_wechat.appid,
                        wechat_secret=fake_wechat.secret, wechat_api_base=fake_wechat.base_url, wechat_region="江苏省/南京市",
                        wechat_subscribe_template_id=SUBSCRIBE_TEMPLATE, sms_gateway_url=fake_sms.base_url,
                        sms_access_key_id=fake_sms.access_key_id, sms_access_key_secret=fake_sms.secret,
                        sms_sign_name=fake_sms.sign_name, sms_template_code=next(iter(fake_sms.templates)))
    tokens = _create_accounts_in_process(settings)
    hashing_seed_caches.warm_url(settings.resolved_database_url)  # the seed's calibration, fitted once per run
    client = TestClient(web_app(settings, embedder=HashingEmbedder()), raise_server_exceptions=False)
    client.event_hooks = {"request": [], "response": [lambda response: client.cookies.clear()]}
    with client:
        yield InProcess(client, settings, data_dir, tokens)


# --- the engine over the seed knowledge, with the small embedder (tests where retrieval is not the point) -------
@pytest.fixture
def hashing_engine(db, hashing_seed_caches):
    """The conversation engine as shipped (rules, policy) over the seed knowledge base, on the `db` of the test,
    with the deterministic embedder of tests/fakes.py instead of e5. The seed's calibration under it is fitted
    once per run and found in `db` (as a second worker finds it), not fitted again for every test."""
    from assistant.conversations import ConversationStore
    from assistant.engine import Engine
    from assistant.rules import load_rules
    from desk.tickets import TicketDesk
    from fakes import HashingEmbedder
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore

    hashing_seed_caches.warm(db)
    knowledge = KnowledgeBase(KnowledgeStore(db), HashingEmbedder(), EmbeddingCache(db), calibrations=CalibrationStore(db))
    knowledge.load_seed_if_empty()
    knowledge.index.refresh(force=True)
    return Engine(knowledge, ConversationStore(db), TicketDesk(db), load_rules())
