"""Building the long-lived parts from settings: one place, used by the web app and by the command line."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from voice.listener import Listening
from frontdoor.settings import Settings
from models.asr import SpeechRecogniser
from models.embedder import Embedder
from models.provision import ModelStore
from storage.database import Database

if TYPE_CHECKING:
    from accounts.store import AccountStore
    from voice.services import VoiceServices
    from assistant.engine import Engine

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
                        max_failed_logins=settings.max_failed_logins, lockout_minutes=settings.lockout_minutes)


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
                         idle_seconds=settings.voice_idle_seconds, max_calls=settings.voice_max_calls or 10 * cores)


def build_engine(settings: Settings, db: Database, knowledge, embedder: Embedder | None = None) -> "Engine":
    """The conversation engine over a knowledge base, with the configured rules and per-channel precision.
    With an embedder, handoff tickets are filed by the trained classifier or the code table."""
    from assistant.conversations import ConversationStore
    from assistant.engine import Engine, classify_by_top_entry
    from assistant.policy import Policy
    from assistant.rules import load_rules
    from assistant.turn import Channel
    from desk.classification import CodeTable, TicketClassifier, load_classifier
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


def load_seed_code_table(db: Database) -> int | None:
    """A fresh install files tickets under the shipped sample code table until a province's is imported."""
    from desk.categories import read_code_table
    from desk.classification import CodeTable
    from knowledge_base.seed import category_table

    table = CodeTable(db)
    if table.all():
        return None
    return table.replace(read_code_table(category_table()), by="seed", source="seed")
