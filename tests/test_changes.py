"""Draft → review → publish: what editors and reviewers can and cannot do to the answers citizens get."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from accounts.roles import Account, Role
from knowledge_base.changes import (ChangeDesk, ChangeOpen, ChangeStatus, EntryExists, InvalidChange,
                                    NotAuthor, OutsideRegion, OwnChange, Stale, WrongStatus)
from knowledge_base.entry import Entry, Status
from ground.clock import utcnow
from knowledge_base.store import KnowledgeStore
from storage.audit import AuditLog

NANJING = "江苏省/南京市"
YANGZHOU = "江苏省/扬州市"
PROVINCE = "江苏省"

EDITOR = Account("wang", "王编辑", Role.EDITOR, region=NANJING)
OTHER_EDITOR = Account("chen", "陈编辑", Role.EDITOR, region=NANJING)
REVIEWER = Account("zhao", "赵审核", Role.REVIEWER)
OTHER_REVIEWER = Account("sun", "孙审核", Role.REVIEWER)
YANGZHOU_EDITOR = Account("li", "李编辑", Role.EDITOR, region=YANGZHOU)
YANGZHOU_WIDER = Account("zhou", "周编辑", Role.EDITOR, region=YANGZHOU, may_edit_wider=True)


@pytest.fixture
def store(db):
    return KnowledgeStore(db)


@pytest.fixture
def desk(db, store):
    return ChangeDesk(db, store)


def published(store: KnowledgeStore, entry_id: str = "nj-yellow-code", region: str = NANJING, **fields) -> Entry:
    entry = Entry(id=entry_id, question="黄码怎么转绿码", samples=("黄码怎么办",), chat_answer="做两次核酸。",
                  voice_answer="请做两次核酸。", region=region, status=Status.PUBLISHED)
    return store.save(entry.with_changes(**fields), by="seed")


def submitted_edit(desk: ChangeDesk, store: KnowledgeStore, entry_id: str = "nj-yellow-code", *,
                   by: Account = EDITOR, **fields):
    change = desk.create(by, kind="edit", entry_id=entry_id)
    change = desk.save(by, change.id, change.entry.with_changes(**fields))
    return desk.submit(by, change.id)


def actions(db, target: str) -> list[str]:
    return [event.action for event in reversed(AuditLog(db).list(target=target))]


# -- the whole loop ---------------------------------------------------------------------------------

def test_an_edit_goes_draft_review_returned_resubmitted_and_published(db, store, desk):
    published(store)

    change = desk.create(EDITOR, kind="edit", entry_id="nj-yellow-code")
    assert change.status is ChangeStatus.DRAFT and change.base_version == 1
    assert change.entry.chat_answer == "做两次核酸。"  # starts from the stored entry
    change = desk.save(EDITOR, change.id, change.entry.with_changes(chat_answer="做三次核酸，间隔24小时。"))
    change = desk.submit(EDITOR, change.id)
    assert change.status is ChangeStatus.IN_REVIEW and change.submitted_at is not None

    change = desk.return_(REVIEWER, change.id, "24小时请写成二十四小时")
    assert (change.status, change.review_note, change.reviewer) == (ChangeStatus.DRAFT, "24小时请写成二十四小时", "zhao")
    change = desk.save(EDITOR, change.id, change.entry.with_changes(chat_answer="做三次核酸，间隔二十四小时。"))
    desk.submit(EDITOR, change.id)
    assert store.get("nj-yellow-code").chat_answer == "做两次核酸。"  # nothing served changes before publishing

    change = desk.publish(REVIEWER, change.id)

    entry = store.get("nj-yellow-code")
    assert (entry.chat_answer, entry.version, entry.status) == ("做三次核酸，间隔二十四小时。", 2, Status.PUBLISHED)
    assert entry.updated_by == "zhao"
    assert (change.status, change.published_version) == (ChangeStatus.PUBLISHED, 2)
    assert actions(db, f"change:{change.id}") == ["change.create", "change.save", "change.submit", "change.return",
                                                  "change.save", "change.submit", "change.publish"]
    publish_event = AuditLog(db).list(action="change.publish")[0]
    assert publish_event.actor == "zhao" and publish_event.detail["version"] == 2


def test_a_new_entry_is_created_with_an_id_made_from_its_question(store, desk):
    change = desk.create(EDITOR, kind="create", entry=Entry(id="", question="核酸检测点在哪里", region=NANJING,
                                                            chat_answer="见南京发布。"))
    assert change.entry_id.startswith("he-suan-jian-ce-") and change.base_version is None

    desk.submit(EDITOR, change.id)
    desk.publish(REVIEWER, change.id)

    entry = store.get(change.entry_id)
    assert entry.status is Status.PUBLISHED and entry.version == 1 and entry.question == "核酸检测点在哪里"


def test_creating_an_entry_whose_id_exists_is_refused(store, desk):
    published(store)
    with pytest.raises(EntryExists):
        desk.create(EDITOR, kind="create", entry=Entry(id="nj-yellow-code", question="另一个问题", region=NANJING))


def test_an_entry_has_one_open_change_at_a_time(store, desk):
    published(store)
    first = desk.create(EDITOR, kind="edit", entry_id="nj-yellow-code")

    with pytest.raises(ChangeOpen) as refused:
        desk.create(OTHER_EDITOR, kind="edit", entry_id="nj-yellow-code")
    assert refused.value.existing_id == first.id

    desk.withdraw(EDITOR, first.id)
    assert desk.create(OTHER_EDITOR, kind="edit", entry_id="nj-yellow-code").id != first.id


def test_only_the_author_saves_and_only_a_draft(store, desk):
    published(store)
    change = desk.create(EDITOR, kind="edit", entry_id="nj-yellow-code")
    with pytest.raises(NotAuthor):
        desk.save(OTHER_EDITOR, change.id, change.entry)
    desk.submit(EDITOR, change.id)
    with pytest.raises(WrongStatus) as refused:
        desk.save(EDITOR, change.id, change.entry)
    assert refused.value.code == "not_draft"


def test_saving_reports_every_problem_of_the_entry(store, desk):
    published(store)
    change = desk.create(EDITOR, kind="edit", entry_id="nj-yellow-code")
    now = utcnow()
    with pytest.raises(InvalidChange) as refused:
        desk.save(EDITOR, change.id, change.entry.with_changes(question=" ", effective_from=now,
                                                               expires_at=now - timedelta(hours=1)))
    assert len(refused.value.problems) == 2
    assert any("question" in p for p in refused.value.problems)
    assert any("expires_at" in p for p in refused.value.problems)


def test_retiring_takes_the_entry_out_of_service(store, desk):
    published(store)
    change = desk.create(EDITOR, kind="retire", entry_id="nj-yellow-code")
    desk.submit(EDITOR, change.id)
    desk.publish(REVIEWER, change.id)

    assert store.get("nj-yellow-code").status is Status.RETIRED
    assert store.servable() == []


# -- one revision, stale and own changes ------------------------------------------------------------

def test_publishing_several_changes_at_once_is_one_knowledge_revision(store, desk):
    for entry_id in ("nj-a", "nj-b", "nj-c"):
        published(store, entry_id)
    ids = [submitted_edit(desk, store, entry_id, chat_answer=f"{entry_id} 新答复").id
           for entry_id in ("nj-a", "nj-b", "nj-c")]
    before = store.revision()

    changes = desk.publish_many(REVIEWER, ids)

    assert store.revision() == before + 1
    assert [c.status for c in changes] == [ChangeStatus.PUBLISHED] * 3
    assert [store.get(e).chat_answer for e in ("nj-a", "nj-b", "nj-c")] == ["nj-a 新答复", "nj-b 新答复", "nj-c 新答复"]


def test_publishing_several_is_all_or_nothing(store, desk):
    published(store, "nj-a")
    published(store, "nj-b")
    good = submitted_edit(desk, store, "nj-a", chat_answer="新答复").id
    own = submitted_edit(desk, store, "nj-b", by=REVIEWER, chat_answer="审核员自己写的").id
    before = store.revision()

    with pytest.raises(OwnChange):
        desk.publish_many(REVIEWER, [good, own])

    assert store.revision() == before and store.get("nj-a").chat_answer == "做两次核酸。"
    assert desk.get(good).status is ChangeStatus.IN_REVIEW


def test_a_reviewer_may_not_publish_their_own_change(store, desk):
    published(store)
    change = submitted_edit(desk, store, by=REVIEWER, chat_answer="我自己改的")
    with pytest.raises(OwnChange):
        desk.publish(REVIEWER, change.id)
    assert desk.publish(OTHER_REVIEWER, change.id).status is ChangeStatus.PUBLISHED


def test_a_change_saved_before_the_entry_moved_on_is_refused_as_stale(store, desk):
    published(store)
    change = submitted_edit(desk, store, chat_answer="编辑的新答复")
    store.save(store.get("nj-yellow-code").with_changes(voice_answer="别人改了语音答复。"), by="hotfix")

    assert desk.review(desk.get(change.id)).stale
    with pytest.raises(Stale) as refused:
        desk.publish(REVIEWER, change.id)

    assert refused.value.code == "stale" and refused.value.fields == ["voice_answer"]
    assert "hotfix" in str(refused.value)
    assert store.get("nj-yellow-code").voice_answer == "别人改了语音答复。"
    # Returned to its author, saved again on top of the new version, it goes through.
    desk.return_(REVIEWER, change.id, "请基于最新版本重新保存")
    desk.save(EDITOR, change.id, store.get("nj-yellow-code").with_changes(chat_answer="编辑的新答复"))
    desk.submit(EDITOR, change.id)
    entry_after = desk.publish(REVIEWER, change.id)
    assert entry_after.published_version == 3
    assert (store.get("nj-yellow-code").chat_answer, store.get("nj-yellow-code").voice_answer) == (
        "编辑的新答复", "别人改了语音答复。")


# -- regions ------------------------------------------------------------------------------------------

def test_a_yangzhou_editor_cannot_change_a_nanjing_entry(store, desk):
    published(store, "nj-yellow-code", NANJING)
    with pytest.raises(OutsideRegion) as refused:
        desk.create(YANGZHOU_EDITOR, kind="edit", entry_id="nj-yellow-code")
    assert refused.value.code == "outside_region" and NANJING in str(refused.value)
    with pytest.raises(OutsideRegion):
        desk.create(YANGZHOU_WIDER, kind="edit", entry_id="nj-yellow-code")


def test_province_wide_entries_only_with_may_edit_wider(store, desk):
    published(store, "js-health-code", PROVINCE)
    with pytest.raises(OutsideRegion):
        desk.create(YANGZHOU_EDITOR, kind="edit", entry_id="js-health-code")
    assert desk.create(YANGZHOU_WIDER, kind="edit", entry_id="js-health-code").status is ChangeStatus.DRAFT


def test_an_entry_cannot_be_moved_out_of_the_editors_region(store, desk):
    published(store, "yz-yellow-code", YANGZHOU)
    change = desk.create(YANGZHOU_EDITOR, kind="edit", entry_id="yz-yellow-code")
    with pytest.raises(OutsideRegion):
        desk.save(YANGZHOU_EDITOR, change.id, change.entry.with_changes(region=NANJING))
    district = desk.save(YANGZHOU_EDITOR, change.id, change.entry.with_changes(region=YANGZHOU + "/邗江区"))
    assert district.entry.region == "江苏省/扬州市/邗江区"


def test_a_reviewer_with_a_region_cannot_publish_outside_it(store, desk):
    published(store)
    change = submitted_edit(desk, store, chat_answer="新答复")
    with pytest.raises(OutsideRegion):
        desk.publish(Account("qian", "钱审核", Role.REVIEWER, region=YANGZHOU), change.id)


# -- scheduled publishing ----------------------------------------------------------------------------

def test_a_scheduled_change_is_applied_when_due_exactly_once_by_concurrent_workers(db, store, desk):
    published(store)
    change = submitted_edit(desk, store, chat_answer="明早八点起的新规定")
    at = utcnow() + timedelta(hours=1)

    scheduled = desk.publish(REVIEWER, change.id, at=at)

    assert scheduled.status is ChangeStatus.SCHEDULED and scheduled.publish_at == at
    assert desk.publish_due(now=at - timedelta(minutes=1)) == 0
    assert store.get("nj-yellow-code").chat_answer == "做两次核酸。"

    barrier, results = threading.Barrier(2), []

    def worker() -> None:
        workers_desk = ChangeDesk(db, KnowledgeStore(db))
        barrier.wait()
        results.append(workers_desk.publish_due(now=at + timedelta(seconds=1)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == [0, 1]
    entry = store.get("nj-yellow-code")
    assert (entry.chat_answer, entry.version, entry.updated_by) == ("明早八点起的新规定", 2, "zhao")
    assert desk.get(change.id).status is ChangeStatus.PUBLISHED
    assert len(AuditLog(db).list(action="change.publish")) == 1
    assert actions(db, f"change:{change.id}")[-2:] == ["change.schedule", "change.publish"]


def test_a_scheduled_change_whose_entry_moved_on_goes_back_to_its_author(store, desk):
    published(store)
    change = submitted_edit(desk, store, chat_answer="定时的新答复")
    at = utcnow() + timedelta(hours=1)
    desk.publish(REVIEWER, change.id, at=at)
    store.save(store.get("nj-yellow-code").with_changes(chat_answer="紧急改动"), by="hotfix")

    assert desk.publish_due(now=at) == 0

    returned = desk.get(change.id)
    assert returned.status is ChangeStatus.DRAFT and "hotfix" in returned.review_note
    assert store.get("nj-yellow-code").chat_answer == "紧急改动"


# -- rollback and the audit trail -----------------------------------------------------------------------

def test_rollback_restores_any_earlier_version_and_is_audited(db, store, desk):
    published(store, chat_answer="第一版")
    for answer in ("第二版", "第三版"):
        change = submitted_edit(desk, store, chat_answer=answer)
        desk.publish(REVIEWER, change.id)
    before = store.revision()

    restored = desk.rollback(REVIEWER, "nj-yellow-code", 1, "第三版有误")

    assert (restored.chat_answer, restored.version, restored.status) == ("第一版", 4, Status.PUBLISHED)
    assert store.get("nj-yellow-code").chat_answer == "第一版" and store.revision() == before + 1
    assert desk.rollback(REVIEWER, "nj-yellow-code", 2).chat_answer == "第二版"
    event = AuditLog(db).list(action="entry.rollback", target="entry:nj-yellow-code")[-1]
    assert (event.actor, event.detail["to_version"], event.detail["note"]) == ("zhao", 1, "第三版有误")


def test_rollback_outside_the_region_is_refused(store, desk):
    published(store)
    store.save(store.get("nj-yellow-code").with_changes(chat_answer="第二版"), by="seed")
    with pytest.raises(OutsideRegion):
        desk.rollback(Account("qian", "钱审核", Role.REVIEWER, region=YANGZHOU), "nj-yellow-code", 1)
    assert store.get("nj-yellow-code").chat_answer == "第二版"


# -- what a reviewer sees ----------------------------------------------------------------------------------

def test_a_review_shows_the_diff_against_the_published_entry_and_hints(store, desk):
    published(store)
    change = submitted_edit(desk, store, voice_answer="请拨打12345咨询。")

    review = desk.review(change)

    assert [d.field for d in review.diff] == ["voice_answer"]
    assert review.diff[0].before == "请做两次核酸。" and review.diff[0].after == "请拨打12345咨询。"
    assert any("12345" in hint.message for hint in review.hints)
    assert not review.stale


def test_sample_questions_are_diffed_line_by_line():
    from knowledge_base.diff import diff_entries

    before = Entry(id="e", question="问题", samples=("黄码怎么办", "黄码转绿"))
    (change,) = diff_entries(before, before.with_changes(samples=("黄码怎么办", "黄码多久转绿")))

    assert change.field == "samples" and change.after == ["黄码怎么办", "黄码多久转绿"]
    assert [(s.op, s.text) for s in change.segments] == [
        ("equal", "黄码怎么办\n"), ("delete", "黄码转绿\n"), ("insert", "黄码多久转绿\n")]


def test_changes_are_listed_by_status_entry_and_author(store, desk):
    published(store, "nj-a")
    published(store, "nj-b")
    a = submitted_edit(desk, store, "nj-a", chat_answer="甲")
    b = desk.create(OTHER_EDITOR, kind="edit", entry_id="nj-b")

    assert [c.id for c in desk.list(status="in_review")] == [a.id]
    assert [c.id for c in desk.list(entry_id="nj-b")] == [b.id]
    assert [c.id for c in desk.list(author="chen")] == [b.id]
    assert [c.id for c in desk.list()] == [b.id, a.id]
    assert desk.open_for("nj-a").id == a.id and desk.open_for("nj-z") is None
    assert [e.id for e in store.list(has_draft=True)] == ["nj-a", "nj-b"]


# -- the API, on the app in this process -----------------------------------------------------------------

def _new_entry(editor, reviewer, **fields) -> dict:
    """A published entry of this test's own (a create change, submitted and published through the API)."""
    import uuid

    entry = {"question": f"测试条目{uuid.uuid4().hex[:8]}怎么办理", "chat_answer": "请到窗口办理。", "region": NANJING} | fields
    change = editor.post("/v1/changes", json={"kind": "create", "entry": entry}).json()
    editor.post(f"/v1/changes/{change['id']}/submit").raise_for_status()
    reviewer.post(f"/v1/changes/{change['id']}/publish").raise_for_status()
    return editor.get(f"/v1/entries/{change['entry_id']}").json()


def test_api_draft_review_publish_with_diff_and_hints(inprocess):
    editor, reviewer = inprocess.signed_in("editor"), inprocess.signed_in("reviewer")
    entry = _new_entry(editor, reviewer)

    created = editor.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]})
    assert created.status_code == 201 and created.json()["base_version"] == 1
    change = created.json()
    saved = editor.put(f"/v1/changes/{change['id']}",
                       json={"entry": change["entry"] | {"voice_answer": "请拨打12345。"}}).json()
    assert [d["field"] for d in saved["diff"]] == ["voice_answer"]
    assert {"op": "insert", "text": "请拨打12345。"} in saved["diff"][0]["segments"]
    assert any("12345" in h["message"] and h["level"] == "warning" for h in saved["hints"])

    editor.post(f"/v1/changes/{change['id']}/submit").raise_for_status()
    queue = reviewer.get("/v1/changes", params={"status": "in_review", "entry_id": entry["id"]}).json()
    assert [c["id"] for c in queue] == [change["id"]]
    returned = reviewer.post(f"/v1/changes/{change['id']}/return", json={"note": "请把12345写成一二三四五"}).json()
    assert returned["status"] == "draft" and returned["review_note"] == "请把12345写成一二三四五"
    editor.put(f"/v1/changes/{change['id']}", json={"entry": saved["entry"] | {"voice_answer": "请拨打一二三四五。"}})
    editor.post(f"/v1/changes/{change['id']}/submit").raise_for_status()
    published = reviewer.post(f"/v1/changes/{change['id']}/publish")

    assert published.status_code == 200 and published.json()["status"] == "published"
    now = editor.get(f"/v1/entries/{entry['id']}").json()
    assert (now["voice_answer"], now["version"], now["updated_by"]) == ("请拨打一二三四五。", 2, "reviewer")


def test_api_refusals_say_what_is_wrong(inprocess):
    editor, reviewer, seat = inprocess.signed_in("editor"), inprocess.signed_in("reviewer"), inprocess.signed_in("seat")
    entry = _new_entry(editor, reviewer)
    change = editor.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]}).json()

    again = editor.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "change_open"
    assert again.json()["error"]["details"][0]["change_id"] == change["id"]

    invalid = editor.put(f"/v1/changes/{change['id']}", json={"entry": change["entry"] | {"question": ""}})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_entry"
    assert invalid.json()["error"]["details"]

    assert seat.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]}).status_code == 403
    assert editor.post(f"/v1/changes/{change['id']}/publish").json()["error"]["code"] == "forbidden"
    editor.post(f"/v1/changes/{change['id']}/submit").raise_for_status()
    not_draft = editor.put(f"/v1/changes/{change['id']}", json={"entry": change["entry"]})
    assert not_draft.status_code == 409 and not_draft.json()["error"]["code"] == "not_draft"
    assert editor.get("/v1/changes/999999").status_code == 404
    exists = editor.post("/v1/changes", json={"kind": "create", "entry": {"id": entry["id"], "question": "重复"}})
    assert exists.status_code == 409


def test_api_stale_change_rollback_history_and_audit(inprocess):
    editor, reviewer = inprocess.signed_in("editor"), inprocess.signed_in("reviewer")
    entry = _new_entry(editor, reviewer, chat_answer="第一版")
    change = editor.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]}).json()
    editor.put(f"/v1/changes/{change['id']}", json={"entry": change["entry"] | {"chat_answer": "第二版"}})
    editor.post(f"/v1/changes/{change['id']}/submit")
    assert reviewer.post(f"/v1/changes/{change['id']}/publish").json()["status"] == "published"
    late = editor.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]}).json()
    editor.put(f"/v1/changes/{late['id']}", json={"entry": late["entry"] | {"chat_answer": "第三版"}})
    editor.post(f"/v1/changes/{late['id']}/submit")

    rolled = reviewer.post(f"/v1/entries/{entry['id']}/rollback", json={"version": 1, "note": "第二版有误"})
    assert rolled.status_code == 200
    assert (rolled.json()["chat_answer"], rolled.json()["version"], rolled.json()["status"]) == ("第一版", 3, "published")
    assert editor.get(f"/v1/changes/{late['id']}").json()["stale"] is True
    stale = reviewer.post(f"/v1/changes/{late['id']}/publish")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"

    history = editor.get(f"/v1/entries/{entry['id']}/history").json()
    assert [(v["version"], v["entry"]["chat_answer"]) for v in history] == [(1, "第一版"), (2, "第二版"), (3, "第一版")]
    assert history[-1]["changed_by"] == "reviewer" and history[-1]["note"] == "第二版有误"
    assert editor.post(f"/v1/entries/{entry['id']}/rollback", json={"version": 1}).status_code == 403
    events = reviewer.get("/v1/audit", params={"target": f"entry:{entry['id']}"}).json()
    assert [e["action"] for e in events] == ["entry.rollback"] and events[0]["actor"] == "reviewer"
    assert editor.get("/v1/audit").status_code == 403
    scheduled = reviewer.post("/v1/changes/publish", json={"ids": [late["id"]], "at": "2999-01-01T08:00:00+08:00"})
    assert scheduled.status_code == 409  # still stale: nothing is scheduled either


def test_api_entries_filter_by_category_expiry_and_open_changes(inprocess):
    editor, reviewer = inprocess.signed_in("editor"), inprocess.signed_in("reviewer")
    entry = _new_entry(editor, reviewer, category="测试分类API", expires_at="2999-01-01T00:00:00+08:00")
    editor.post("/v1/changes", json={"kind": "edit", "entry_id": entry["id"]}).raise_for_status()

    by_category = editor.get("/v1/entries", params={"category": "测试分类API"}).json()
    assert [e["id"] for e in by_category] == [entry["id"]]
    assert entry["id"] in [e["id"] for e in editor.get("/v1/entries", params={"status": "has_draft"}).json()]
    expiring = editor.get("/v1/entries", params={"expires_before": "3000-01-01T00:00:00Z", "limit": 1000}).json()
    assert entry["id"] in [e["id"] for e in expiring]
    assert editor.get("/v1/entries", params={"status": "live"}).status_code == 422
