"""The unanswered-question queue (what nothing answered well, grouped by need) and each entry's traffic."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from accounts.roles import Account, Role
from assistant.conversations import ConversationState, ConversationStore, unanswered
from assistant.engine import Engine
from assistant.policy import Policy
from assistant.rules import load_rules
from assistant.turn import Channel, Decision, Hypothesis, Kind, Turn
from desk.tickets import TicketDesk
from ground.errors import DomainError, ErrorKind
from knowledge_base.changes import ChangeDesk, ChangeKind, ChangeStatus
from knowledge_base.entry import Entry, Status
from knowledge_base.gap_clusters import Similarity, sound_bigrams, sound_similarity
from knowledge_base.gap_flows import MAX_SAMPLES, NoEntryToExtend, NothingToAdd, draft_new_entry, draft_samples
from knowledge_base.gaps import GapClosed, GapNotFound, GapQueue
from knowledge_base.store import KnowledgeStore
from knowledge_base.traffic import Traffic
from storage.audit import AuditLog
from storage.tables import GapRow, TurnRow

NANJING = "江苏省/南京市"
UTC = timezone.utc
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
LENIENT = Policy(precision={Channel.CHAT: 0.6, Channel.WECHAT: 0.6, Channel.VOICE: 0.6}, clarify_precision=0.0)
NEEDS = Path(__file__).parent / "data" / "gap_needs.yaml"


def published(id: str, question: str, *samples: str) -> Entry:
    return Entry(id=id, question=question, samples=samples, chat_answer=f"{question}的答复", region="江苏省",
                 status=Status.PUBLISHED)


KB = [
    published("yellow-code", "苏康码变黄码了怎么转绿码", "黄码怎么变回绿码", "健康码黄了怎么办"),
    published("test-result", "核酸检测结果在哪里查", "核酸报告去哪看", "做完核酸怎么查结果"),
    published("test-site", "核酸检测点在哪里", "去哪里做核酸", "附近哪里可以做核酸检测"),
    published("home-quarantine", "居家隔离要隔离多少天", "居家隔离几天", "在家隔离要多久才能出门"),
    published("housing-fund-rent", "租房怎么提取住房公积金", "公积金租房提取", "租房子能取公积金吗"),
    published("noise", "晚上工地施工噪音扰民怎么投诉", "半夜工地还在施工", "夜间施工噪声投诉"),
    published("vaccine-site", "新冠疫苗在哪里接种", "去哪打新冠疫苗", "新冠疫苗接种点"),
]


@pytest.fixture(scope="module")
def knowledge(embedder, tmp_path_factory):
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import EmbeddingCache, KnowledgeStore
    from storage import Database

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('gaps-kb') / 'kb.db'}")
    db.migrate()
    knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db))
    knowledge.store.import_entries(KB, by="test", source="test")
    knowledge.index.refresh(force=True)
    yield knowledge
    db.dispose()


def make_engine(knowledge, db, gap_confidence: float = 0.8, policy: Policy = LENIENT) -> Engine:
    return Engine(knowledge, ConversationStore(db, gap_confidence=gap_confidence), TicketDesk(db), load_rules(), policy)


def say(engine, session, text, channel=Channel.CHAT, region=NANJING, **extra):
    return engine.handle(Turn(session=session, channel=channel, text=text, region=region, **extra))


def gaps_of(db) -> dict[str, list[GapRow]]:
    with db.session() as s:
        rows = s.execute(select(GapRow).order_by(GapRow.id)).scalars().all()
    out: dict[str, list[GapRow]] = {}
    for row in rows:
        out.setdefault(row.session, []).append(row)
    return out


def turns_of(db, session) -> list[TurnRow]:
    with db.session() as s:
        return s.execute(select(TurnRow).where(TurnRow.conversation_id == session).order_by(TurnRow.seq)).scalars().all()


def add_gaps(db, texts, *, at=NOW, channel="chat", session="s", region=NANJING, reason="low_confidence"):
    with db.session(write=True) as s:
        for n, text in enumerate(texts):
            s.add(GapRow(at=at, channel=channel, session=f"{session}-{n}", region=region, text=text,
                         asr_confidence=0.7 if channel == "voice" else None, reason=reason, confidence=0.3))


# ---- what lands in the queue ---------------------------------------------------------------------
def test_handoffs_rejections_and_unsure_answers_land_in_the_queue_but_a_bare_request_for_a_person_does_not(knowledge, db):
    engine = make_engine(knowledge, db)
    # a question no entry covers where the caller is: handed off at once
    nothing = say(engine, "no-entry", "核酸检测点在哪里", region="浙江省/杭州市")
    assert nothing.kind is Kind.HANDOFF and nothing.reason == "no_candidate"
    # a question, then "转人工": the question is the gap
    say(engine, "human", "出租车营运资格证怎么考")
    assert say(engine, "human", "转人工").kind is Kind.HANDOFF
    # "转人工" with nothing asked before is not a knowledge gap
    assert say(engine, "bare", "转人工").kind is Kind.HANDOFF
    # an answer the citizen rejects
    answered = say(engine, "rejected-answer", "健康码黄了怎么办？")  # an entry's own sample: answered as the plain case
    assert answered.kind is Kind.ANSWER and answered.entry_id == "yellow-code"
    say(engine, "rejected-answer", "不是这个")
    # a clarification the citizen rejects: every entry offered is rejected
    offered = say(engine, "rejected-choices", "出租车营运资格证怎么考")
    assert offered.kind is Kind.CLARIFY
    say(engine, "rejected-choices", "都不是")

    gaps = gaps_of(db)
    assert set(gaps) == {"no-entry", "human", "rejected-answer", "rejected-choices"}  # and not "bare"
    (no_entry,), (human,), (rejected_answer,), (rejected_choices,) = (
        gaps["no-entry"], gaps["human"], gaps["rejected-answer"], gaps["rejected-choices"])
    assert (no_entry.text, no_entry.reason, no_entry.region) == ("核酸检测点在哪里", "no_candidate", "浙江省/杭州市")
    assert (human.text, human.reason) == ("出租车营运资格证怎么考", "asked_for_human")
    assert (rejected_answer.text, rejected_answer.reason, rejected_answer.top_entry_id) == (
        "健康码黄了怎么办？", "unsatisfied", "yellow-code")
    assert rejected_answer.confidence == pytest.approx(answered.confidence)  # the confidence it was answered with
    assert (rejected_choices.text, rejected_choices.reason) == ("出租车营运资格证怎么考", "unsatisfied")
    assert all(g.channel == "chat" and g.asr_confidence is None and g.cluster_id is None for g in (human, rejected_answer))

    # each turn records why, and what the citizen rejected in it
    first, second = turns_of(db, "rejected-answer")
    assert (first.reason, first.rejected) == ("confident", None)
    assert second.rejected == ["yellow-code"]
    assert turns_of(db, "rejected-choices")[1].rejected == [c.entry_id for c in offered.choices]
    assert turns_of(db, "bare")[0].reason == "asked_for_human"


def test_a_spoken_turn_keeps_the_recognisers_text_and_confidence(knowledge, db):
    every_answer = make_engine(knowledge, db, gap_confidence=1.01)  # every answer counts as unsure
    heard = (Hypothesis("新官疫苗在哪里打", 0.62), Hypothesis("新冠疫苗在哪里打", 0.21))
    decision = say(every_answer, "call-1", "", Channel.VOICE, hypotheses=heard, asr_confidence=0.62)
    assert decision.kind is Kind.ANSWER and decision.entry_id == "vaccine-site"
    (gap,) = gaps_of(db)["call-1"]
    assert (gap.text, gap.channel, gap.asr_confidence, gap.reason) == ("新官疫苗在哪里打", "voice", 0.62, "low_confidence")
    assert gap.top_entry_id == "vaccine-site" and gap.confidence == pytest.approx(decision.confidence)
    # rejected by voice: the question keeps the recogniser's confidence of the turn that asked it, and counts once
    say(every_answer, "call-1", "不是这个", Channel.VOICE, asr_confidence=0.9)
    (gap,) = gaps_of(db)["call-1"]
    assert (gap.text, gap.reason, gap.asr_confidence) == ("新官疫苗在哪里打", "unsatisfied", 0.62)


def test_only_answers_below_the_gap_confidence_count_as_unsure():
    before, after = ConversationState(), ConversationState(query="黄码怎么转绿", answered="yellow-code")

    def answer(confidence, reason="confident"):
        return Decision(Kind.ANSWER, "s", "…", reason=reason, confidence=confidence, entry_id="yellow-code")

    unsure = unanswered("黄码怎么转绿", answer(0.7), before, after, gap_confidence=0.8)
    assert (unsure.text, unsure.reason, unsure.confidence, unsure.top_entry_id) == ("黄码怎么转绿", "low_confidence", 0.7, "yellow-code")
    assert unanswered("黄码怎么转绿", answer(0.85), before, after, gap_confidence=0.8) is None
    assert unanswered("2", answer(1.0, "chosen"), before, after, gap_confidence=0.8) is None
    courtesy = Decision(Kind.ANSWER, "s", "不客气", reason="courtesy", confidence=0.0)
    assert unanswered("谢谢", courtesy, after, after, gap_confidence=0.8) is None


# ---- grouping ------------------------------------------------------------------------------------
HOMOPHONES = [("新官疫苗去哪打", "新冠疫苗去哪打"), ("合算检测多少钱", "核酸检测多少钱"), ("黄马怎么转绿马", "黄码怎么转绿码")]


def test_recogniser_homophones_join_the_need_they_sound_like(db, embedder):
    similarity = Similarity()
    for heard, meant in HOMOPHONES:
        assert sound_similarity(sound_bigrams(heard), sound_bigrams(meant)) == 1.0
    heard, meant = embedder.embed_queries(["合算检测多少钱", "核酸检测多少钱"])
    assert float(heard @ meant) < similarity.join  # by meaning alone 合算 would start a cluster of its own

    typed = [meant for _, meant in HOMOPHONES] + ["小区停水什么时候恢复", "公积金怎么提取"]
    add_gaps(db, typed, session="typed")
    add_gaps(db, [heard for heard, _ in HOMOPHONES], channel="voice", session="call")
    queue = GapQueue(db, embedder)
    assert queue.cluster_pending() == 8
    clusters = queue.clusters(now=NOW)
    members = {frozenset(q.text for q in c.questions) for c in clusters}
    assert members == {frozenset(pair) for pair in HOMOPHONES} | {frozenset({"小区停水什么时候恢复"}), frozenset({"公积金怎么提取"})}
    for cluster in clusters:
        if cluster.size == 2:
            assert cluster.channels == {"chat": 1, "voice": 1, "wechat": 0}
            assert cluster.label in {meant for _, meant in HOMOPHONES} | {heard for heard, _ in HOMOPHONES}
    assert queue.cluster_pending() == 0  # nothing left to place


def test_the_labelled_needs_cluster_by_need(db, embedder):
    """The set the threshold was picked on (tests/data/gap_needs.yaml), in its own order: needs on different
    subjects never share a cluster, and the recogniser's homophones join their need's typed questions."""
    needs = yaml.safe_load(NEEDS.read_text(encoding="utf-8"))["needs"]
    need_of, typed, heard = {}, [], []
    for need, questions in needs.items():
        for question in questions:
            text = question["asr"] if isinstance(question, dict) else question
            need_of[text] = need
            (heard if isinstance(question, dict) else typed).append(text)
    add_gaps(db, typed, session="typed")
    add_gaps(db, heard, channel="voice", session="call")
    queue = GapQueue(db, embedder)
    clusters = queue.clusters(limit=100, questions=100, now=NOW)
    assert sum(c.size for c in clusters) == len(need_of)

    def subject(need: str) -> str:  # 核酸 where / price / report, 疫苗 where / booster: hard to tell apart
        return need.split("-")[0] if need.startswith(("nucleic", "vaccine")) else need

    for cluster in clusters:
        assert len({subject(need_of[q.text]) for q in cluster.questions}) == 1, [q.text for q in cluster.questions]
    together = 0
    for text in heard:
        cluster = next(c for c in clusters if text in {q.text for q in c.questions})
        together += any(need_of[q.text] == need_of[text] and q.text in typed for q in cluster.questions)
    assert together >= len(heard) - 2  # 合算点在哪 shares neither its words nor, closely, its meaning


def test_two_workers_reading_the_queue_at_once_place_each_question_once(db, embedder):
    class Interrupted(GapQueue):
        """Another worker clusters everything between this one's reading and its writing."""

        def _write(self, clusters):
            if not getattr(self, "interrupted", False):
                self.interrupted = True
                GapQueue(db, embedder).cluster_pending()
            return super()._write(clusters)

    add_gaps(db, ["失业金怎么领取", "失业保险金怎么申领", "楼上装修太吵了"])
    assert Interrupted(db, embedder).cluster_pending() == 0  # its own work was dropped: the other's stands
    clusters = GapQueue(db, embedder).clusters(now=NOW, refresh=False)
    assert sorted(c.size for c in clusters) == [1, 2]
    with db.session() as s:
        assert s.execute(select(GapRow).where(GapRow.cluster_id.is_(None))).first() is None


def test_clusters_are_ranked_by_volume_and_recency_with_channels_questions_and_suggestions(db, embedder, knowledge):
    add_gaps(db, ["小区停水什么时候恢复"] * 5, at=NOW - timedelta(days=3), session="old-many")
    add_gaps(db, ["核酸报告怎么查", "核酸结果在哪里查"], at=NOW - timedelta(hours=1), session="new-two")
    add_gaps(db, ["核酸报告怎么查"], at=NOW - timedelta(minutes=30), channel="voice", session="new-voice")
    add_gaps(db, ["路灯坏了找谁修"], at=NOW - timedelta(hours=2), session="new-one")
    queue = GapQueue(db, embedder)
    clusters = queue.clusters(now=NOW, index=knowledge.index.current)
    # Σ exp(-age / 24 h): three questions in the last hour, one two hours ago, five three days ago (5 × 0.05)
    assert [c.label for c in clusters][1:] == ["路灯坏了找谁修", "小区停水什么时候恢复"]
    top = clusters[0]
    assert top.label in {"核酸报告怎么查", "核酸结果在哪里查"} and top.size == 3 and top.recent == 3
    assert top.channels == {"chat": 2, "voice": 1, "wechat": 0}
    assert [q.text for q in top.questions][0] == "核酸报告怎么查" and top.questions[0].channel == "voice"
    assert top.suggestions[0].entry_id == "test-result" and len(top.suggestions) == 3
    assert top.score > clusters[1].score > clusters[2].score and clusters[2].recent == 0
    assert clusters[2].size == 5 and clusters[2].first_at == NOW - timedelta(days=3)
    assert queue.get(top.id, now=NOW).label == top.label
    assert queue.questions(top.id)[0] == "核酸报告怎么查"  # the most often asked first


def test_resolving_or_dismissing_closes_a_cluster_and_is_audited(db, embedder):
    add_gaps(db, ["失业金怎么领取", "失业保险金怎么申领"], session="a")
    add_gaps(db, ["楼上装修太吵了"], session="b")
    queue = GapQueue(db, embedder)
    unemployment, noise = sorted(queue.clusters(now=NOW), key=lambda c: -c.size)
    queue.resolve(unemployment.id, by="editor-li", how="new_entry", change_id=7)
    queue.dismiss(noise.id, by="editor-li")
    assert queue.clusters(now=NOW) == []
    (resolved,) = queue.clusters(status="resolved", now=NOW)
    assert resolved.resolved_by == "editor-li" and resolved.resolution == {"how": "new_entry", "change": 7, "entry_id": None}
    assert [c.id for c in queue.clusters(status="dismissed", now=NOW)] == [noise.id]
    with pytest.raises(GapClosed):
        queue.resolve(unemployment.id, by="editor-wang", how="samples", change_id=8, entry_id="x")
    with pytest.raises(GapNotFound):
        queue.dismiss(9999, by="editor-li")
    events = AuditLog(db).list(target="gap:")
    assert [(e.action, e.target, e.actor) for e in reversed(events)] == [
        ("gap.new_entry", f"gap:{unemployment.id}", "editor-li"), ("gap.dismiss", f"gap:{noise.id}", "editor-li")]
    assert events[-1].detail["change"] == 7
    # the same need asked again after its cluster closed starts a new one
    add_gaps(db, ["失业金怎么领"], session="c")
    (again,) = queue.clusters(now=NOW)
    assert again.id not in (unemployment.id, noise.id) and again.size == 1


# ---- traffic -------------------------------------------------------------------------------------
def beijing(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A time on a Beijing calendar day relative to NOW's (2026-11-20)."""
    local = datetime(2026, 11, 20, hour, minute, tzinfo=timezone(timedelta(hours=8))) + timedelta(days=day_offset)
    return local.astimezone(UTC)


def test_traffic_counts_answers_rejections_and_handoffs_per_beijing_day(knowledge, db):
    engine = make_engine(knowledge, db)

    def talk(session, at, *texts):
        for n, text in enumerate(texts):
            say(engine, session, text, at=at + timedelta(seconds=10 * n))

    yellow = "健康码黄了怎么办"  # an entry's own sample: answered as the plain case
    talk("t0", beijing(-10, 9), yellow)                                  # outside the 7-day window
    talk("t1", beijing(-2, 0, 30), yellow)                               # 16:30 UTC the day before: Beijing's day -2
    talk("t2", beijing(-2, 23, 30), yellow, "不是这个", "转人工")          # rejected, then handed off
    talk("t3", beijing(-1, 12), "黄码怎么变回绿码", "转人工")               # answered, then a person asked for
    talk("t4", beijing(0, 8), yellow, "谢谢")
    talk("t5", beijing(0, 9), "公积金租房提取", "不是这个")
    talk("t6", beijing(0, 9, 30), "出租车营运资格证怎么考", "转人工")        # nothing to do with the entry

    traffic = Traffic(db).of("yellow-code", days=7, now=NOW)
    assert (traffic.answered, traffic.rejected, traffic.handed_off) == (4, 1, 2)
    assert len(traffic.days) == 7 and traffic.days[-1].day.isoformat() == "2026-11-20"
    by_day = {d.day.isoformat(): (d.answered, d.rejected, d.handed_off) for d in traffic.days if d.answered or d.rejected or d.handed_off}
    assert by_day == {"2026-11-18": (2, 1, 1), "2026-11-19": (1, 0, 1), "2026-11-20": (1, 0, 0)}
    assert Traffic(db).of("yellow-code", days=30, now=NOW).answered == 5

    housing = Traffic(db).of("housing-fund-rent", days=7, now=NOW)
    assert (housing.answered, housing.rejected, housing.handed_off) == (1, 1, 0)
    most = Traffic(db).most_rejected(days=7, now=NOW)
    assert [(m.entry_id, m.rejected, m.answered) for m in most][:2] == [("housing-fund-rent", 1, 1), ("yellow-code", 1, 4)]


# ---- from a cluster to a draft (knowledge_base/gap_flows.py) ------------------------------------------
EDITOR = Account("wang", "王编辑", Role.EDITOR, region=NANJING)
UNEMPLOYMENT = ["失业金怎么领取", "失业保险金怎么申领", "失业金怎么领取", "怎么领取失业金"]


@pytest.fixture
def flows(db):
    """A queue over the small hashing embedder, lenient enough that it groups these paraphrases (the flows are the
    point here, not the grouping), the change desk and its store with one published entry."""
    from fakes import HashingEmbedder

    store = KnowledgeStore(db)
    store.save(published("unemployment", "失业金怎么申请", "失业金去哪里申请").with_changes(region=NANJING), by="seed")
    return GapQueue(db, HashingEmbedder(), Similarity(join=0.6)), ChangeDesk(db, store), store


def cluster_of(queue: GapQueue, text: str):
    return next(c for c in queue.clusters(now=NOW) if text in queue.questions(c.id))


def test_a_cluster_becomes_the_draft_of_a_new_entry_and_is_closed_by_it(db, flows):
    queue, desk, _ = flows
    add_gaps(db, UNEMPLOYMENT)
    cluster = cluster_of(queue, "失业保险金怎么申领")
    change = draft_new_entry(queue, desk, EDITOR, cluster.id)
    others = [q for q in queue.questions(cluster.id) if q != cluster.label]
    assert change.kind is ChangeKind.CREATE and change.status is ChangeStatus.DRAFT and change.source == f"gap:{cluster.id}"
    assert (change.entry.question, list(change.entry.samples), change.entry.region) == (cluster.label, others, NANJING)
    assert set(UNEMPLOYMENT) <= {cluster.label, *others} and not change.entry.chat_answer  # the editor writes it
    closed = queue.get(cluster.id)
    assert closed.status == "resolved" and closed.resolved_by == "wang"
    assert closed.resolution == {"how": "new_entry", "change": change.id, "entry_id": change.entry_id}


def test_a_clusters_questions_become_new_samples_of_an_entry_and_close_it(db, flows):
    queue, desk, store = flows
    add_gaps(db, [*UNEMPLOYMENT, "失业金去哪里申请"])  # the last is already one of the entry's samples
    cluster = cluster_of(queue, "失业保险金怎么申领")
    change = draft_samples(queue, desk, store, EDITOR, cluster.id, "unemployment")
    new = [q for q in queue.questions(cluster.id) if q not in ("失业金怎么申请", "失业金去哪里申请")]
    assert change.kind is ChangeKind.EDIT and change.entry_id == "unemployment" and change.source == f"gap:{cluster.id}"
    assert change.entry.samples == ("失业金去哪里申请", *new) and "失业保险金怎么申领" in new
    assert queue.get(cluster.id).resolution == {"how": "samples", "change": change.id, "entry_id": "unemployment"}


def test_a_draft_takes_at_most_the_thirty_most_asked_questions_of_a_cluster(db, flows):
    queue, desk, _ = flows
    add_gaps(db, [f"失业金怎么领取{n}" for n in range(MAX_SAMPLES + 10)])
    cluster = cluster_of(queue, "失业金怎么领取0")
    assert cluster.size == MAX_SAMPLES + 10
    assert len(draft_new_entry(queue, desk, EDITOR, cluster.id).entry.samples) == MAX_SAMPLES == 30


def test_adding_to_an_entry_that_does_not_exist_is_entry_not_found_and_leaves_the_cluster_open(db, flows):
    queue, desk, store = flows
    add_gaps(db, UNEMPLOYMENT)
    cluster = cluster_of(queue, "失业保险金怎么申领")
    with pytest.raises(NoEntryToExtend) as missing:
        draft_samples(queue, desk, store, EDITOR, cluster.id, "no-such-entry")
    assert (missing.value.code, missing.value.kind, missing.value.entry_id) == ("entry_not_found", ErrorKind.NOT_FOUND, "no-such-entry")
    assert queue.get(cluster.id).status == "open" and desk.list() == []


def test_a_cluster_whose_questions_an_entry_already_has_adds_nothing_and_stays_open(db, flows):
    queue, desk, store = flows
    add_gaps(db, ["失业金去哪里申请", "失业金去哪里申请"])
    cluster = cluster_of(queue, "失业金去哪里申请")
    with pytest.raises(NothingToAdd) as nothing:
        draft_samples(queue, desk, store, EDITOR, cluster.id, "unemployment")
    assert (nothing.value.code, nothing.value.kind) == ("nothing_to_add", ErrorKind.CONFLICT)
    assert queue.get(cluster.id).status == "open" and desk.list() == []


def test_a_closed_or_unknown_cluster_is_refused_with_its_code_and_makes_no_draft(db, flows):
    queue, desk, store = flows
    add_gaps(db, UNEMPLOYMENT)
    cluster = cluster_of(queue, "失业保险金怎么申领")
    queue.dismiss(cluster.id, by="li")
    with pytest.raises(GapClosed) as closed:
        draft_new_entry(queue, desk, EDITOR, cluster.id)
    assert (closed.value.code, closed.value.kind, closed.value.status) == ("gap_closed", ErrorKind.CONFLICT, "dismissed")
    assert isinstance(closed.value, DomainError) and "already dismissed" in closed.value.message
    with pytest.raises(GapNotFound) as unknown:
        draft_samples(queue, desk, store, EDITOR, 9999, "unemployment")
    assert (unknown.value.code, unknown.value.kind, unknown.value.cluster_id) == ("gap_not_found", ErrorKind.NOT_FOUND, 9999)
    assert desk.list() == []


# ---- over HTTP -----------------------------------------------------------------------------------
def test_over_http_an_unknown_or_closed_cluster_and_an_unknown_entry_say_what_to_do(inprocess):
    editor = inprocess.signed_in("editor")
    said = inprocess.client.post("/v1/chat", json={"region": NANJING, "text": "我想给小区门口的流浪猫搭个窝可以吗"}).json()
    inprocess.client.post("/v1/chat", json={"region": NANJING, "session": said["session"], "text": "转人工"}).raise_for_status()
    cat = next(c for c in editor.get("/v1/gaps", params={"limit": 200}).json()
               if "我想给小区门口的流浪猫搭个窝可以吗" in {q["text"] for q in c["questions"]})

    unknown_entry = editor.post(f"/v1/gaps/{cat['id']}/add-samples", json={"entry_id": "no-such-entry"})
    assert unknown_entry.status_code == 404 and unknown_entry.json()["error"] == {
        "code": "entry_not_found", "message": "No entry has the id 'no-such-entry'; pick one of the cluster's "
                                              "suggestions, or make a new entry (POST …/new-entry)."}
    assert editor.post(f"/v1/gaps/{cat['id']}/dismiss", json={}).status_code == 200
    for action in ("new-entry", "dismiss"):
        closed = editor.post(f"/v1/gaps/{cat['id']}/{action}", json={})
        assert closed.status_code == 409 and closed.json()["error"] == {
            "code": "gap_closed", "message": f"Cluster {cat['id']} is already dismissed; it needs nothing more. "
                                             "New questions of the same need will form a new cluster."}
    missing = editor.get("/v1/gaps/999999")
    assert missing.status_code == 404 and missing.json()["error"] == {
        "code": "gap_not_found", "message": "No unanswered-question cluster has the id 999999; list the open ones with GET /v1/gaps."}


def test_an_editor_works_the_queue_over_http_and_reads_an_entrys_traffic(server):
    import uuid

    import httpx

    editor, reviewer = server.headers("editor"), server.headers("reviewer")

    def chat(*texts, session=None):
        reply = None
        for text in texts:
            body = {"region": NANJING, "text": text} | ({"session": session} if session else {})
            response = httpx.post(f"{server}/v1/chat", json=body, timeout=60)
            assert response.status_code == 200, response.text
            reply, session = response.json(), response.json()["session"]
        return reply

    def cluster_with(text):
        response = httpx.get(f"{server}/v1/gaps", params={"limit": 200}, headers=reviewer, timeout=120)
        assert response.status_code == 200, response.text
        return next(c for c in response.json() if text in {q["text"] for q in c["questions"]})

    taxi = ["出租车驾驶员从业资格证怎么考", "出租车司机资格证在哪里考", "考出租车从业资格证要什么条件"]
    for question in taxi:
        chat(question, "转人工")
    cards = ["社保卡掉在出租车上了该咋办", "社保卡丢在出租车上了怎么办"]
    for question in cards:
        chat(question, "不是这个")
    chat("我想给小区门口的流浪猫搭个窝可以吗", "转人工")
    assert httpx.get(f"{server}/v1/gaps", headers=server.headers("seat")).status_code == 403

    # a new entry from a cluster: its label is the question, its other questions the samples
    cluster = cluster_with(taxi[0])
    assert cluster["size"] >= 3 and cluster["channels"]["chat"] >= 3 and {q["reason"] for q in cluster["questions"]} == {"asked_for_human"}
    made = httpx.post(f"{server}/v1/gaps/{cluster['id']}/new-entry", json={}, headers=editor, timeout=60)
    assert made.status_code == 201, made.text
    change = made.json()
    assert change["kind"] == "create" and change["status"] == "draft" and change["source"] == f"gap:{cluster['id']}"
    assert change["entry"]["question"] == cluster["label"] and change["author"] == "editor"
    assert set(change["entry"]["samples"]) | {cluster["label"]} >= set(taxi) and cluster["label"] not in change["entry"]["samples"]
    closed = httpx.get(f"{server}/v1/gaps/{cluster['id']}", headers=editor).json()
    assert closed["status"] == "resolved" and closed["resolution"]["change"] == change["id"]
    again = httpx.post(f"{server}/v1/gaps/{cluster['id']}/new-entry", json={}, headers=editor)
    assert again.status_code == 409 and again.json()["error"]["code"] == "gap_closed"
    assert httpx.post(f"{server}/v1/gaps/{cluster['id']}/new-entry", json={}, headers=reviewer).status_code == 403

    # the questions as samples of an existing entry (one the cluster suggests)
    cluster = cluster_with(cards[0])
    assert cluster["suggestions"]
    for suggestion in cluster["suggestions"]:
        added = httpx.post(f"{server}/v1/gaps/{cluster['id']}/add-samples", json={"entry_id": suggestion["entry_id"]},
                           headers=editor, timeout=60)
        if added.status_code != 409:  # another test's open change on that entry: try the next one
            break
    assert added.status_code == 201, added.text
    change = added.json()
    assert change["kind"] == "edit" and change["entry_id"] == suggestion["entry_id"]
    assert set(q["text"] for q in cluster["questions"]) <= set(change["entry"]["samples"]) | {change["entry"]["question"]}
    assert httpx.get(f"{server}/v1/gaps/{cluster['id']}", headers=editor).json()["resolution"]["entry_id"] == suggestion["entry_id"]
    unknown = httpx.post(f"{server}/v1/gaps/{cluster_with('我想给小区门口的流浪猫搭个窝可以吗')['id']}/add-samples",
                         json={"entry_id": f"no-such-{uuid.uuid4().hex[:6]}"}, headers=editor)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "entry_not_found"

    cat = cluster_with("我想给小区门口的流浪猫搭个窝可以吗")
    dismissed = httpx.post(f"{server}/v1/gaps/{cat['id']}/dismiss", json={}, headers=editor)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    events = httpx.get(f"{server}/v1/audit", params={"target": f"gap:{cat['id']}"}, headers=reviewer).json()
    assert [e["action"] for e in events] == ["gap.dismiss"]

    # traffic: an answer (or the choices) rejected, then a person asked for
    first = chat("医保卡丢了怎么补办")
    entry_id = first["entry"]["id"] if first["decision"] == "answer" else first["choices"][0]["entry_id"]

    def traffic():
        response = httpx.get(f"{server}/v1/entries/{entry_id}/traffic", params={"days": 30}, headers=server.headers("admin"))
        assert response.status_code == 200, response.text
        return response.json()

    before = traffic()
    chat("医保卡丢了怎么补办", "不是这个", "转人工")
    after = traffic()
    answered = 1 if first["decision"] == "answer" else 0
    assert (after["answered"] - before["answered"], after["rejected"] - before["rejected"],
            after["handed_off"] - before["handed_off"]) == (answered, 1, 1)
    assert len(after["days"]) == 30 and after["days"][-1]["rejected"] >= 1
    assert httpx.get(f"{server}/v1/entries/{entry_id}/traffic", headers=server.headers("seat")).status_code == 403
    most = httpx.get(f"{server}/v1/traffic/rejected", headers=editor).json()
    assert entry_id in {m["entry_id"] for m in most}
