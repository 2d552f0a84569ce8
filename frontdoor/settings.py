"""All of Frontdoor's settings, in one place, read from the environment.

Every setting can be given as an environment variable `FRONTDOOR_<NAME>` (or in a `.env` file);
the database URL also as the conventional `DATABASE_URL`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and provisioned models live.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "FRONTDOOR_DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file under data_dir.",
    )

    # Models (see models/provision.py for the order in which sources are tried).
    model_dir: Path | None = Field(default=None, description="Provisioned models; default: data_dir/models.")
    embedder: str = Field(
        default="multilingual-e5-small",
        description="'multilingual-e5-small' (provisioned offline), a local sentence-transformers folder, or a hub name when online.",
    )
    embedder_query_prefix: str | None = Field(default=None, description="Prefix for questions; default 'query: ' for e5 models, none otherwise.")
    embedder_path: Path | None = Field(default=None, description="A local copy of multilingual-e5-small to use as is.")
    vosk_model_path: Path | None = Field(default=None, description="A local unpacked vosk-model-small-cn-0.22 folder.")
    allow_download: bool = Field(default=True, description="Try the ordinary online source when nothing local has the model.")

    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: str = Field(default="127.0.0.1", description="The load balancers whose X-Forwarded-For is believed "
                                                                      "(comma-separated addresses): the rate limits and sign-in lockout read the client's address from it.")
    seed_on_start: bool = Field(default=True, description="Load the seed knowledge when the knowledge base is empty.")
    kb_poll_seconds: float = Field(default=2.0, description="How often a worker checks for a newer published knowledge base "
                                                            "(on PostgreSQL a publish also wakes every worker at once).")
    max_body_bytes: int = 1_000_000
    max_json_depth: int = Field(default=32, ge=4, le=1000, description="A JSON body nested deeper than this is refused before it is parsed.")
    max_import_bytes: int = Field(default=20_000_000, description="The largest knowledge file an editor may upload (POST /v1/imports*).")

    # Conversation engine
    rules_dir: Path | None = Field(default=None, description="A folder of rules files (emergency.yaml, scope.yaml, …) replacing the shipped ones.")
    chat_precision: float = Field(default=0.95, ge=0.5, le=1.0, description="Chat answers automatically only when right at least this often.")
    voice_precision: float = Field(default=0.98, ge=0.5, le=1.0, description="The same for spoken answers (a wrong one costs a call).")
    conversation_idle_minutes: float = Field(default=30.0, description="After this much silence a session starts afresh.")
    gap_confidence: float = Field(default=0.8, ge=0.0, le=1.0, description="Answers given with less confidence than this also go to the unanswered-question queue.")
    classifier_dir: Path | None = Field(default=None, description="Where `frontdoor train classifier` keeps the ticket classifier; default: data_dir/classifier.")

    retention_days: float = Field(default=180, gt=0, description="`frontdoor db purge` deletes conversations, call records and "
                                                                 "WeChat pushes older than this (tickets are kept).")

    # Abuse (api/ratelimit.py): per worker, within a sliding minute; a block is shared by every worker
    messages_per_caller_minute: int = Field(default=20, ge=1, description="Messages one conversation, phone number or WeChat "
                                                                         "user may send a minute; more get 429 with Retry-After.")
    messages_per_address_minute: int = Field(default=120, ge=1, description="Chat messages from one address a minute (higher: "
                                                                           "many citizens share a mobile carrier's address).")
    block_factor: int = Field(default=3, ge=2, description="A caller or address that sends this many times its limit within a "
                                                           "minute is blocked for `block_minutes` (限制其占用热线话务资源).")
    block_minutes: float = Field(default=60, gt=0, description="How long the rate limit's block lasts; an admin may lift it sooner.")

    # Accounts and sign-in (accounts/); the first admin: `frontdoor accounts create NAME --role admin`
    session_hours: float = Field(default=12, gt=0, description="A browser's sign-in lasts this long.")
    api_token_days: float = Field(default=365, gt=0, description="An API token (`frontdoor accounts token`) lasts this long unless told otherwise.")
    cookie_secure: bool = Field(default=False, description="Send the session cookie over HTTPS only: set true behind HTTPS.")
    max_failed_logins: int = Field(default=5, ge=1, description="Failed sign-ins for one username from one address that lock "
                                                                "it there for `lockout_minutes` (ten times as many from anywhere lock it everywhere).")
    max_failed_logins_per_address: int = Field(default=20, ge=1, description="Failed sign-ins from one address, whatever the "
                                                                             "usernames, that lock that address out for `lockout_minutes`.")
    lockout_minutes: float = Field(default=15, gt=0, description="How long a username stays locked after too many failed sign-ins.")

    # The seats' desk (desk/): 督办 and 多援一
    desk_supervise_seconds: float = Field(default=60, ge=0, description="How often a worker runs the supervision job that "
                                                                        "escalates tickets near or past a deadline (0: never; `frontdoor desk supervise` runs it once).")
    desk_watch_seconds: float = Field(default=1.0, gt=0, description="How often a worker looks for a moved ticket (a new one, a claim) "
                                                                  "to wake its connected workbenches (GET /v1/desk/stream).")
    desk_seat_capacity: int = Field(default=5, ge=1, description="How many tickets a seat may hold at once unless its team says otherwise.")
    desk_watch_listen: bool = Field(default=True, description="On PostgreSQL, wake the workbenches on each ticket event by LISTEN/NOTIFY "
                                                              "(polling every desk_watch_seconds only while the listening connection is down).")
    desk_assign_seconds: float = Field(default=5, ge=0, description="Besides whenever a ticket moves, how often a worker gives waiting tickets "
                                                                    "to the online seats with room, in turn (0: never; seats take the next one themselves).")
    desk_presence_lapse_seconds: float = Field(default=180, gt=0, description="A seat whose workbench has not been seen for this long "
                                                                              "counts as offline (离线) whatever it said.")

    # WeChat mini-program customer-service messages (客服消息); the push URL is /wechat/push
    wechat_token: str | None = Field(default=None, description="The Token set in the mini-program's message-push settings.")
    wechat_encoding_aes_key: str | None = Field(default=None, description="EncodingAESKey, for the secure (AES) mode.")
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    wechat_region: str | None = Field(default=None, description="The region the mini-program serves, e.g. 江苏省/南京市 (WeChat does not say where a citizen is).")
    wechat_max_push_age_seconds: int = Field(default=300, ge=30, le=3600, description="A push whose timestamp is further than this "
                                             "from now is refused as a replay (as is a timestamp and nonce seen before).")
    wechat_api_base: str = Field(default="https://api.weixin.qq.com", description="Where the customer-service send API lives.")
    wechat_subscribe_template_id: str | None = Field(default=None, description="The subscription-message (订阅消息) template that "
                                                     "tells a citizen their ticket's state once WeChat's 48-hour reply window has "
                                                     "closed (keywords and words: api/content/wechat_subscription.yaml); off when unset.")

    # SMS to citizens (api/sms/): Alibaba Cloud SMS's SendSms; off until the key, signature and template are all set
    sms_gateway_url: str = Field(default="https://dysmsapi.aliyuncs.com", description="Where the SMS gateway (Alibaba Cloud "
                                 "SMS's SendSms, RPC style) lives.")
    sms_access_key_id: str | None = Field(default=None, description="The AccessKey ID that sends SMS (a RAM user with dysms:SendSms).")
    sms_access_key_secret: str | None = Field(default=None, description="Its AccessKey secret (signs each request).")
    sms_sign_name: str | None = Field(default=None, description="The approved SMS signature (签名), e.g. 12345热线.")
    sms_template_code: str | None = Field(default=None, description="The approved template (TemplateCode, SMS_…) a seat's reply "
                                          "is told in; its variables: api/content/sms.yaml.")

    # Voice: recognition, the IVR dialogue, the telephony adapters
    voice: bool = Field(default=True, description="Serve the phone line (loads the speech recogniser); off for chat-only workers.")
    asr_workers: int | None = Field(default=None, ge=1, description="Threads that run speech recognition; default: the number of cores.")
    asr_alternatives: int = Field(default=8, ge=1, le=50, description="Readings per utterance the recogniser keeps (n-best).")
    asr_bias_weight: float = Field(default=0.5, ge=0.0, description="How strongly the knowledge base's words re-rank the readings; 0 turns the bias off.")
    vad_aggressiveness: int = Field(default=2, ge=0, le=3, description="How readily the voice activity detector calls a frame silence (0..3).")
    endpoint_ms: int = Field(default=700, ge=200, le=5000, description="Silence after speech that ends an utterance.")
    max_utterance_seconds: float = Field(default=20.0, gt=0, description="An utterance longer than this is cut and recognised.")
    no_input_seconds: float = Field(default=6.0, gt=0, description="Silence after a prompt before the caller is prompted again.")
    ivr_reprompts: int = Field(default=2, ge=0, description="No-input or no-match reprompts before the call goes to a seat.")
    voice_max_calls: int | None = Field(default=None, ge=1, description="Calls one worker takes at once (more are turned away to a seat); default: 10 per core.")
    voice_idle_seconds: float = Field(default=30.0, gt=0, description="A voice connection that sends nothing for this long is closed.")
    voice_start_seconds: float = Field(default=5.0, gt=0, le=60, description="A voice connection must open its call (IVR: a valid "
                                       "`start`; recognition: its first message) within this; only then does it take a call's place.")
    synthesiser: str = Field(default="espeak", description="'espeak' (espeak-ng's Mandarin, for AudioSocket and demos) or 'none'.")
    audiosocket_port: int | None = Field(default=None, description="Listen for Asterisk AudioSocket calls on this TCP port (off when unset).")
    audiosocket_host: str = "127.0.0.1"

    # Operations: logs and metrics (frontdoor/logs.py, api/metrics.py)
    log_format: Literal["auto", "json", "text"] = Field(default="auto", description="Log lines as JSON objects or plain text; "
                                                        "auto: text at a terminal, JSON otherwise (systemd, containers).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="The least severe log lines written.")
    metrics_public: bool = Field(default=False, description="Serve /metrics without signing in (for a scraper on a private "
                                                            "network); otherwise it needs an admin account's API token.")

    # The manager's view (reports/): the nightly 数据日报, the surge alarm, the seats-needed figures
    report_time: str = Field(default="22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                             description="Beijing time at which the day's report is built (by one worker).")
    report_tick_seconds: float = Field(default=60.0, gt=0, description="How often a worker runs the surge alarm's check "
                                                                       "and looks whether the day's report is due.")
    report_font: Path | None = Field(default=None, description="A CJK font file for the reports' charts; default: Debian's "
                                                               "fonts-wqy-zenhei or fonts-noto-cjk.")
    surge_webhook_url: str | None = Field(default=None, description="Where a surge alert is POSTed as JSON (off when unset).")
    staffing_handling_seconds: float = Field(default=180.0, gt=0, description="A seat's average handling time per call.")
    staffing_answer_seconds: float = Field(default=15.0, ge=0, description="The service level's threshold: answered within this.")
    staffing_service_level: float = Field(default=0.80, gt=0, lt=1, description="The share of calls answered within the threshold.")
    staffing_patience_seconds: float = Field(default=120.0, gt=0, description="Callers' mean patience before hanging up (Erlang A).")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'frontdoor.db').resolve()}"

    @property
    def resolved_classifier_dir(self) -> Path:
        return (self.classifier_dir or self.data_dir / "classifier").resolve()

    @property
    def resolved_model_dir(self) -> Path:
        return (self.model_dir or self.data_dir / "models").resolve()
