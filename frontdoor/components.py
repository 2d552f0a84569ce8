"""The composition root: the one place that builds the long-lived parts from settings, for the web app
(`web_app`, one `Worker` per process) and for the command line."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from frontdoor.logs import install_redaction
from frontdoor.settings import Settings
from models.asr import SpeechRecogniser
from models.embedder import Embedder
from models.provision import ModelStore
from storage.database import Database
from voice.listener import Listening

if TYPE_CHECKING:
    from fastapi import FastAPI

    from accounts.store import AccountStore
    from api.metrics import Metrics
    from api.ratelimit import Guard
    from api.services import Services
    from api.wechat.channel import WeChatChannel
    from assistant.engine import Engine
    from desk.assignment import Assigner
    from desk.flows import Deliveries
    from desk.supervision import Supervision
    from desk.tickets import TicketDesk
    from desk.watch import QueueWatch
    from reports.service import Reports
    from voice.services import VoiceServices

E5_NAME = "multilingual-e5-small"


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    if migrate:
        db.migrate()
    return db


def account_store(settings: Settings, db: Database) -> "AccountStore":
    """Accounts and sign-in, with the configured session lifetimes and lockout."""
    from accounts.store import AccountStore

    return AccountStore(db, session_hours=settings.session_hours, token_days=settings.api_token_days,
                        max_failed_logins=settings.max_failed_logins, lockout_minutes=settings.lockout_minutes,
                        max_failed_logins_per_address=settings.max_failed_logins_per_address)


def model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.resolved_model_dir, allow_download=settings.allow_download)


def load_embedder(settings: Settings, progress_factory: Callable | None = None) -> Embedder:
    """The configured sentence embedder: the provisioned multilingual-e5-small by default, or any
    sentence-transformers folder (or hub name, when online) named by FRONTDOOR_EMBEDDER."""
    if settings.embedder == E5_NAME:
        path = model_store(settings).embedder_dir(settings.embedder_path, progress=progress_factory)
        prefix = "query: " if settings.embedder_query_prefix is None else settings.embedder_query_prefix
        return Embedder.load(path, query_prefix=prefix, passage_prefix="passage: ")
    is_e5 = "e5" in settings.embedder.lower()
    prefix = settings.embedder_query_prefix if settings.embedder_query_prefix is not None else ("query: " if is_e5 else "")
    return Embedder.load(settings.embedder, query_prefix=prefix, passage_prefix="passage: " if is_e5 else "")


def load_speech(settings: Settings, progress_factory: Callable | None = None) -> SpeechRecogniser:
    """The Mandarin recogniser (vosk-model-small-cn-0.22), provisioned like the other models."""
    folder = model_store(settings).vosk_dir(settings.vosk_model_path, progress=progress_factory)
    return SpeechRecogniser.load(folder, max_alternatives=settings.asr_alternatives, bias_weight=settings.asr_bias_weight)


def listening(settings: Settings) -> Listening:
    return Listening(vad_aggressiveness=settings.vad_aggressiveness, endpoint_ms=settings.endpoint_ms,
                     max_utterance_seconds=settings.max_utterance_seconds)


def build_voice(settings: Settings, db: Database, knowledge, engine: "Engine") -> "VoiceServices":
    """What the phone line's adapters share in one worker: the recogniser, its threads, the vocabulary bias."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from voice.records import CallRecords
    from voice.services import KnowledgeVocabulary, VoiceServices
    from voice.vocabulary import Segmenter

    recogniser = load_speech(settings)
    cores = settings.asr_workers or os.cpu_count() or 1
    executor = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="voice")
    vocabulary = KnowledgeVocabulary(knowledge, Segmenter(), executor, engine.rules.terms) if settings.asr_bias_weight > 0 else None
    if vocabulary is not None:
        vocabulary.current()  # starts building the bias in the background; calls until then go without it
    return VoiceServices(recogniser, engine, executor, listening(settings), vocabulary, CallRecords(db),
                         no_input_seconds=settings.no_input_seconds, reprompts=settings.ivr_reprompts,
                         idle_seconds=settings.voice_idle_seconds, start_seconds=settings.voice_start_seconds,
                         max_calls=settings.voice_max_calls or 10 * cores)


def build_engine(settings: Settings, db: Database, knowledge, embedder: Embedder | None = None) -> "Engine":
    """The conversation engine over a knowledge base, with the configured rules and per-channel precision.
    With an embedder, handoff tickets are filed by the trained classifier or the code table."""
    from assistant.conversations import ConversationStore
    from assistant.engine import Engine
    from assistant.policy import Policy
    from assistant.rules import load_rules
    from assistant.turn import Channel
    from desk.classification import CodeTable, TicketClassifier, classify_by_top_entry, load_classifier
    from desk.tickets import TicketDesk

    classify = classify_by_top_entry
    if embedder is not None:
        classify = TicketClassifier(CodeTable(db).all(), embedder,
                                    load_classifier(settings.resolved_classifier_dir, embedder.model_id))

    policy = Policy(precision={Channel.CHAT: settings.chat_precision, Channel.WECHAT: settings.chat_precision,
                               Channel.VOICE: settings.voice_precision})
    return Engine(knowledge, ConversationStore(db, idle_minutes=settings.conversation_idle_minutes,
                                                gap_confidence=settings.gap_confidence), TicketDesk(db),
                  load_rules(settings.rules_dir), policy, classify)


def engine_factory(settings: Settings) -> Callable[[Database, object], "Engine"]:
    """build_engine with these settings, for the evaluations (which build their own throw-away knowledge base)."""
    return lambda db, knowledge: build_engine(settings, db, knowledge)


def hotline_terms(settings: Settings) -> tuple[str, ...]:
    """The hotline's own words (assistant/rules/terms.yaml, or the configured rules folder's) for the recognition bias."""
    from assistant.rules import load_rules

    return load_rules(settings.rules_dir).terms


def load_seed_code_table(db: Database) -> int | None:
    """A fresh install files tickets under the shipped sample code table until a province's is imported."""
    from desk.categories import read_code_table
    from desk.classification import CodeTable
    from knowledge_base.seed import category_table

    table = CodeTable(db)
    if table.all():
        return None
    return table.replace(read_code_table(category_table()), by="seed", source="seed")


def wechat_channel(settings: Settings, db: Database, engine: "Engine", http: httpx.AsyncClient) -> "WeChatChannel | None":
    """The WeChat channel when its token is configured (sending replies also needs the app id and secret)."""
    from api.wechat import CustomerServiceClient, WeChatCrypto
    from api.wechat.channel import WeChatChannel
    from api.wechat.ledger import WeChatLedger

    if not settings.wechat_token:
        return None
    crypto = None
    if settings.wechat_encoding_aes_key:
        crypto = WeChatCrypto(settings.wechat_encoding_aes_key, settings.wechat_appid or "")
    client = CustomerServiceClient(settings.wechat_api_base, settings.wechat_appid or "", settings.wechat_secret or "", http)
    ledger = WeChatLedger(db, nonce_window=timedelta(seconds=2 * settings.wechat_max_push_age_seconds))
    return WeChatChannel(settings.wechat_token, engine, ledger, client, crypto, region=settings.wechat_region,
                         max_age_seconds=settings.wechat_max_push_age_seconds)


def reply_deliveries(settings: Settings, wechat: "WeChatChannel | None", http: httpx.AsyncClient) -> "Deliveries":
    """The ways a seat's reply is carried on to the citizen (desk/flows.py), each when it is configured: WeChat
    (customer-service message, else the subscription message), and an SMS to a phone or chat citizen's mobile."""
    from api.sms import AliyunSms, SmsReplyDelivery, SmsWording
    from api.wechat import TicketSubscription
    from api.wechat.delivery import WeChatReplyDelivery
    from assistant.turn import Channel
    from desk.flows import Deliveries

    deliveries: list = []
    if wechat is not None:
        template = settings.wechat_subscribe_template_id
        deliveries.append(WeChatReplyDelivery(wechat, TicketSubscription.load(template) if template else None))
    if settings.sms_access_key_id and settings.sms_access_key_secret and settings.sms_sign_name and settings.sms_template_code:
        gateway = AliyunSms(settings.sms_gateway_url, settings.sms_access_key_id, settings.sms_access_key_secret,
                            settings.sms_sign_name, http)
        wording = SmsWording.load()
        deliveries += [SmsReplyDelivery(gateway, settings.sms_template_code, wording, channel)
                       for channel in (Channel.VOICE.value, Channel.CHAT.value)]
    return Deliveries.load(*deliveries)


def guard(settings: Settings, db: Database) -> "Guard":
    """The rate limits and caller blocks on the citizens' channels."""
    from api.ratelimit import Guard
    from desk.blocks import CallerBlocks

    return Guard(CallerBlocks(db), per_address=settings.messages_per_address_minute,
                 per_caller=settings.messages_per_caller_minute, block_factor=settings.block_factor,
                 block_minutes=settings.block_minutes)


def build_services(settings: Settings, http: httpx.AsyncClient, *, embedder: Embedder | None = None) -> "Services":
    """Every service one worker's request handlers use, built from settings (blocking: loads the models,
    migrates the database, builds the index). `embedder` replaces the configured one (tests use a small one)."""
    from api.services import Services
    from assistant.tryout import Tryout
    from knowledge_base.changes import ChangeDesk
    from knowledge_base.gaps import GapQueue
    from knowledge_base.labels import LabelStore
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore
    from storage.audit import AuditLog
    from voice.records import CallRecords

    db = open_database(settings)
    embedder = embedder or load_embedder(settings)
    knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db), calibrations=CalibrationStore(db),
                              labelled=LabelStore(db).labelled_for_calibration)
    if settings.seed_on_start:
        knowledge.load_seed_if_empty()
        load_seed_code_table(db)
    knowledge.index.refresh(force=True)
    engine = build_engine(settings, db, knowledge, embedder)
    load_slot_parsers()  # not on a citizen's first complaint
    voice = build_voice(settings, db, knowledge, engine) if settings.voice else None
    wechat = wechat_channel(settings, db, engine, http)
    return Services(db=db, knowledge=knowledge, engine=engine, desk=engine.desk, accounts=account_store(settings, db),
                    audit=AuditLog(db), changes=ChangeDesk(db, knowledge.store), gaps=GapQueue(db, embedder),
                    labels=LabelStore(db), deliveries=reply_deliveries(settings, wechat, http), guard=guard(settings, db),
                    calls=CallRecords(db), wechat=wechat, voice=voice, tryout=Tryout(engine, embedder),
                    cookie_secure=settings.cookie_secure, **desk_services(settings, db, engine.desk))


def desk_services(settings: Settings, db: Database, desk: "TicketDesk") -> dict:
    """The desk beyond the tickets: 多援一 teams and activations, the department directory, the 督办 job."""
    from desk.departments import DepartmentDirectory
    from desk.supervision import Supervision
    from desk.support import SupportDesk

    from datetime import timedelta

    support = SupportDesk(db, default_capacity=settings.desk_seat_capacity,
                          presence_lapse=timedelta(seconds=settings.desk_presence_lapse_seconds))
    return dict(support=support, departments=DepartmentDirectory(db),
                supervision=Supervision(db, desk.deadlines))


async def assign_periodically(assigner: "Assigner", watch: "QueueWatch", seconds: float) -> None:
    """Gives waiting tickets to online seats (desk/assignment.py) whenever a ticket moves, and every `seconds`."""
    seen = watch.version
    while True:
        seen = await watch.wait(seen, seconds)
        try:
            await asyncio.to_thread(assigner.run)
        except Exception:  # a database hiccup must not end the loop
            logging.getLogger(__name__).exception("assigning waiting tickets failed; trying again in %s s", seconds)
            await asyncio.sleep(seconds)


async def supervise_periodically(supervision: "Supervision", seconds: float) -> None:
    """Runs the 督办 job every `seconds` on this worker (every worker may: a ticket is escalated once)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(supervision.run)
        except Exception:  # a database hiccup must not end the timer
            logging.getLogger(__name__).exception("the supervision job failed; it runs again in %s s", seconds)


def build_reports(settings: Settings, services: "Services") -> "Reports":
    """The manager's view (reports/): the daily report, its schedule, the surge alarm and its webhook."""
    from datetime import time

    from reports.alerts import SurgeAlarm
    from reports.daily import DailyReport, StaffingAssumptions
    from reports.service import Reports

    assumptions = StaffingAssumptions(handling_seconds=settings.staffing_handling_seconds,
                                      answer_seconds=settings.staffing_answer_seconds,
                                      service_level=settings.staffing_service_level,
                                      patience_seconds=settings.staffing_patience_seconds)
    alarm = SurgeAlarm(services.db, webhook_url=settings.surge_webhook_url, cluster=services.gaps.cluster_pending)
    hour, minute = (int(part) for part in settings.report_time.split(":"))
    presence = services.support.presence_board if services.support is not None else None
    return Reports(services.db, DailyReport(services.db, assumptions), alarm, report_time=time(hour, minute),
                   font_file=settings.report_font, presence=presence)


async def report_periodically(reports: "Reports", seconds: float) -> None:
    """The surge alarm's check and the daily report's schedule, every `seconds` on this worker (each alert and each
    day's report is made once, by whichever worker gets there first)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(reports.tick)
        except Exception:  # a database hiccup must not end the timer
            logging.getLogger(__name__).exception("the reports' schedule failed; it runs again in %s s", seconds)


def load_slot_parsers() -> None:
    """The Chinese parsers that read a 诉求's place and time (JioNLP, a second to load) loaded now."""
    from assistant.slots import load_parsers

    load_parsers()


class Worker:
    """One worker process's long-lived parts: built when its app starts, released when it stops. Besides the
    services, it runs the publish follower (knowledge_base/follower.py) and, when configured, the Asterisk
    AudioSocket listener (api/voice/audiosocket.py)."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, metrics: "Metrics | None" = None) -> None:
        self._settings = settings
        self._embedder = embedder
        self._metrics = metrics
        self._stack = contextlib.AsyncExitStack()

    async def start(self) -> "Services":
        from desk.watch import QueueWatch
        from knowledge_base.follower import PublishFollower

        install_redaction()  # uvicorn has configured its loggers by now
        settings = self._settings
        http = await self._stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
        services = await asyncio.to_thread(build_services, settings, http, embedder=self._embedder)
        self._stack.callback(services.db.dispose)
        if services.voice is not None:
            self._stack.callback(services.voice.close)
            if settings.audiosocket_port:
                await self._start_audiosocket(services.voice)
        # Publishes reach this worker within seconds; the follower also applies due scheduled publishes.
        services.follower = PublishFollower(services.knowledge, services.db, poll_seconds=settings.kb_poll_seconds,
                                            publish_due=services.changes.publish_due)
        following = asyncio.create_task(services.follower.run())

        async def stop_following() -> None:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following

        self._stack.push_async_callback(stop_following)
        # The desk: the live queue's watch, and the 督办 job on every worker (a ticket is escalated once).
        services.desk_watch = QueueWatch(services.db, poll_seconds=settings.desk_watch_seconds,
                                         listen=None if settings.desk_watch_listen else False)
        self._keep_running(services.desk_watch.run())
        if settings.desk_assign_seconds and services.support is not None:
            from desk.assignment import Assigner

            assigner = Assigner(services.db, services.support)
            self._keep_running(assign_periodically(assigner, services.desk_watch, settings.desk_assign_seconds))
        if settings.desk_supervise_seconds and services.supervision is not None:
            self._keep_running(supervise_periodically(services.supervision, settings.desk_supervise_seconds))
        # The manager's view: the surge alarm's check and the nightly report (each made once across workers).
        services.reports = build_reports(settings, services)
        self._keep_running(report_periodically(services.reports, settings.report_tick_seconds))
        if self._metrics is not None:
            measure(services, self._metrics)
        return services

    def _keep_running(self, coroutine) -> None:
        """Runs `coroutine` on the event loop until the worker stops."""
        task = asyncio.create_task(coroutine)

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        self._stack.push_async_callback(stop)

    async def _start_audiosocket(self, voice: "VoiceServices") -> None:
        from api.voice.audiosocket import AudioSocketServer
        from voice.synthesis import load_synthesiser

        synthesiser = await asyncio.to_thread(load_synthesiser, self._settings.synthesiser)
        server = AudioSocketServer(voice, synthesiser, self._settings.audiosocket_host, self._settings.audiosocket_port)
        await server.start()
        self._stack.push_async_callback(server.stop)

    async def stop(self) -> None:
        await self._stack.aclose()


def measure(services: "Services", metrics: "Metrics") -> None:
    """Wires a worker's metrics to what they count: the engine's turns, the recogniser's utterances, and the
    state read when Prometheus scrapes (the knowledge revision, calls in progress, the seats' queue, the wall's
    figures)."""
    services.engine.on_turn = lambda turn, decision, seconds: metrics.observe_turn(
        turn.channel.value, decision.kind.value, seconds, decision.reason)
    voice = services.voice
    if voice is not None:
        voice.recogniser.on_recognised = metrics.observe_recognition
    index = services.knowledge.index
    metrics.watch(knowledge_revision=lambda: index.latest.revision if index.latest is not None else -1,
                  queue_depth=services.desk.waiting_by_urgency,
                  voice_calls=(lambda: voice.active_calls) if voice is not None else None,
                  wall=services.reports.wall.gauges if services.reports is not None else None)


def web_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> "FastAPI":
    """The web app of one worker (uvicorn's factory: `frontdoor.components:web_app`)."""
    from prometheus_client import CollectorRegistry

    from api.app import HttpLimits, Operations, create_app
    from api.metrics import Metrics

    settings = settings or Settings()
    # httpx logs every request URL at INFO, and WeChat's URLs carry the app secret and access token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    metrics = Metrics(CollectorRegistry())  # this app's own: each worker process counts for itself
    return create_app(Worker(settings, embedder=embedder, metrics=metrics),
                      HttpLimits(max_body_bytes=settings.max_body_bytes, max_import_bytes=settings.max_import_bytes,
                                 max_json_depth=settings.max_json_depth),
                      Operations(metrics, metrics_public=settings.metrics_public, voice_required=settings.voice))
