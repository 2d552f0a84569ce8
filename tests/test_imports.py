"""Bulk import for editors: JSONL, YAML and Excel files, a preview of what will change, all or nothing."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import Workbook

from accounts.roles import Account, Role
from ground.errors import ErrorKind
from knowledge_base.changes import ChangeDesk, ChangeStatus, ImportRefused
from knowledge_base.entry import Entry, Status
from knowledge_base.imports import preview
from knowledge_base.io import KnowledgeFileError, read_entries, read_entries_from_bytes, write_entries
from knowledge_base.store import KnowledgeStore
from storage.audit import AuditLog

NANJING = "江苏省/南京市"
BEIJING = timezone(timedelta(hours=8))
EDITOR = Account("wang", "王编辑", Role.EDITOR, region=NANJING)
YANGZHOU_EDITOR = Account("li", "李编辑", Role.EDITOR, region="江苏省/扬州市")


def jsonl_bytes(*records: dict) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


def xlsx_bytes(header: list, *rows: list) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def store(db):
    store = KnowledgeStore(db)
    store.save(Entry(id="nj-a", question="黄码怎么转绿码", chat_answer="做两次核酸。", region=NANJING,
                     status=Status.PUBLISHED), by="seed")
    store.save(Entry(id="nj-b", question="隔离点在哪里", chat_answer="见南京发布。", region=NANJING,
                     status=Status.PUBLISHED), by="seed")
    return store


@pytest.fixture
def desk(db, store):
    return ChangeDesk(db, store)


# -- reading the three kinds of file ---------------------------------------------------------------------

def test_jsonl_and_yaml_are_read_from_uploaded_bytes():
    from_jsonl = read_entries_from_bytes(jsonl_bytes({"id": "a", "question": "问题", "samples": ["问法"]}), "up.jsonl")
    from_yaml = read_entries_from_bytes("entries:\n  - id: a\n    question: 问题\n    samples: [问法]\n".encode(),
                                        "up.yaml")
    assert from_jsonl == from_yaml == [Entry(id="a", question="问题", samples=("问法",), status=Status.PUBLISHED)]


def test_bad_utf8_in_an_upload_is_reported_with_its_line():
    data = jsonl_bytes({"id": "a", "question": "问题"}) + "{\"id\": \"b\", \"question\": \"问题\"}\n".encode("gbk")
    with pytest.raises(KnowledgeFileError) as error:
        read_entries_from_bytes(data, "up.jsonl")
    assert [p.line for p in error.value.problems] == [2]
    assert "UTF-8" in str(error.value)


def test_a_file_with_problems_is_refused_whole_naming_each_problem_for_the_editor_and_the_terminal():
    data = jsonl_bytes({"id": "a", "question": "问题"}, {"id": "a", "question": "又一个问题"}, {"id": "c"})
    with pytest.raises(KnowledgeFileError) as error:
        read_entries_from_bytes(data, "up.jsonl")
    refused = error.value
    assert (refused.code, refused.kind) == ("invalid_import", ErrorKind.INVALID)
    assert refused.message == "up.jsonl cannot be imported; nothing was. Fix every problem listed in details and upload it again."
    assert [(d["line"], d["code"], d["entry_id"]) for d in refused.details] == [(2, "invalid_file", None), (3, "invalid_file", None)]
    assert "duplicate id 'a'" in refused.details[0]["message"]
    assert str(refused).startswith("up.jsonl: 2 problems\n  line 2: duplicate id 'a'")  # what `frontdoor kb import` prints


def test_an_excel_sheet_is_read_with_samples_per_line_and_dates():
    data = xlsx_bytes(
        ["id", "question", "samples", "chat_answer", "region", "expires_at", "effective_from"],
        ["nj-c", "核酸点几点开门", "几点开门\n开门时间", "八点。", NANJING, datetime(2022, 5, 1, 18, 0), "2022-04-01"],
        [101, "另一个问题", "问法一｜问法二|问法三", None, None, None, None],
    )

    first, second = read_entries_from_bytes(data, "surge.xlsx")

    assert first.samples == ("几点开门", "开门时间") and first.region == NANJING
    assert first.expires_at == datetime(2022, 5, 1, 18, 0, tzinfo=BEIJING)  # a date without zone is China time
    assert first.effective_from == datetime(2022, 4, 1, tzinfo=BEIJING)
    assert second.id == "101" and second.samples == ("问法一", "问法二", "问法三")


def test_bad_excel_rows_are_reported_by_row_number():
    data = xlsx_bytes(
        ["id", "question", "request_type", "expires_at"],
        ["ok", "问题", "咨询", None],
        ["no-question", None, None, None],           # row 3
        ["bad-type", "问题", "闲聊", None],          # row 4
        ["bad-date", "问题", None, "下周一"],         # row 5
    )
    with pytest.raises(KnowledgeFileError) as error:
        read_entries_from_bytes(data, "surge.xlsx")

    assert [p.line for p in error.value.problems] == [3, 4, 5]
    text = str(error.value)
    assert "row 3: 'question' is missing" in text and "row 4: unknown request_type '闲聊'" in text
    assert "row 5: 'expires_at' is not an ISO 8601 date" in text


def test_an_excel_sheet_without_the_needed_columns_says_what_to_do():
    with pytest.raises(KnowledgeFileError) as error:
        read_entries_from_bytes(xlsx_bytes(["编号", "问题"], ["a", "b"]), "surge.xlsx")
    assert "row 1: unknown column '编号'" in str(error.value)
    assert "missing columns 'id', 'question'" in str(error.value) and "template" in str(error.value)


def test_a_file_that_is_not_a_workbook_is_reported():
    with pytest.raises(KnowledgeFileError, match="not an Excel workbook"):
        read_entries_from_bytes(b"id,question\na,b\n", "surge.xlsx")
    with pytest.raises(KnowledgeFileError, match="unsupported file type '.xls'"):
        read_entries_from_bytes(b"", "old.xls")


def test_an_exported_workbook_is_a_template_that_reads_back_the_same(tmp_path):
    entries = [Entry(id="nj-a", question="黄码怎么转绿码", samples=("黄码|绿码",), chat_answer="=先做核酸",
                     region=NANJING, status=Status.PUBLISHED, version=3, updated_by="li",
                     expires_at=datetime(2022, 5, 1, tzinfo=BEIJING), updated_at=datetime(2022, 4, 2, tzinfo=BEIJING)),
               Entry(id="nj-b", question="隔离点在哪里", samples=("隔离", "集中隔离"), status=Status.RETIRED)]
    write_entries(entries, tmp_path / "kb.xlsx")
    assert read_entries(tmp_path / "kb.xlsx") == entries


# -- preview ------------------------------------------------------------------------------------------------

def test_preview_counts_new_changed_and_unchanged_entries_with_diffs(store, desk):
    entries = read_entries_from_bytes(jsonl_bytes(
        {"id": "nj-a", "question": "黄码怎么转绿码", "chat_answer": "做三次核酸。", "region": NANJING},
        {"id": "nj-b", "question": "隔离点在哪里", "chat_answer": "见南京发布。", "region": NANJING},
        {"id": "nj-c", "question": "核酸点几点开门", "region": NANJING},
    ), "up.jsonl")

    result = preview(entries, store, EDITOR, desk=desk)

    assert [e.id for e in result.created] == ["nj-c"]
    assert [u.entry.id for u in result.updated] == ["nj-a"] and result.unchanged == ["nj-b"]
    (change,) = result.updated[0].diff
    assert (change.field, change.before, change.after) == ("chat_answer", "做两次核酸。", "做三次核酸。")
    assert [(s.op, s.text) for s in change.segments] == [("equal", "做"), ("delete", "两"), ("insert", "三"),
                                                        ("equal", "次核酸。")]
    assert result.problems == []


def test_preview_reports_entries_outside_the_region_and_with_open_changes(store, desk):
    desk.create(EDITOR, kind="edit", entry_id="nj-b")
    entries = [Entry(id="nj-a", question="黄码怎么转绿码", chat_answer="改了", region=NANJING),
               Entry(id="nj-b", question="隔离点在哪里", chat_answer="改了", region=NANJING)]

    result = preview(entries, store, YANGZHOU_EDITOR, desk=desk)

    assert [(p.entry_id, p.code) for p in result.problems] == [
        ("nj-a", "outside_region"), ("nj-b", "outside_region"), ("nj-b", "change_open")]


# -- importing as changes ---------------------------------------------------------------------------------------

def test_import_submits_one_change_per_new_or_changed_entry_in_one_batch(db, store, desk):
    entries = [Entry(id="nj-a", question="黄码怎么转绿码", chat_answer="做三次核酸。", region=NANJING),
               Entry(id="nj-b", question="隔离点在哪里", chat_answer="见南京发布。", region=NANJING,
                     status=Status.PUBLISHED),
               Entry(id="nj-c", question="核酸点几点开门", region=NANJING)]

    batch, ids = desk.import_as_changes(EDITOR, entries, "surge.xlsx")

    changes = desk.list(batch=batch)
    assert sorted(c.id for c in changes) == sorted(ids) and len(ids) == 2
    assert {(c.entry_id, c.kind.value, c.status) for c in changes} == {
        ("nj-a", "edit", ChangeStatus.IN_REVIEW), ("nj-c", "create", ChangeStatus.IN_REVIEW)}
    assert all(c.source == "surge.xlsx" and c.author == "wang" for c in changes)
    assert store.get("nj-a").chat_answer == "做两次核酸。"  # nothing is published by importing
    event = AuditLog(db).list(action="import.create")[0]
    assert event.target == f"import:{batch}" and sorted(event.detail["changes"]) == sorted(ids)

    published = desk.publish_many(Account("zhao", "赵审核", Role.REVIEWER), ids)
    assert {c.status for c in published} == {ChangeStatus.PUBLISHED}
    assert store.get("nj-c").status is Status.PUBLISHED


def test_import_is_all_or_nothing(db, store, desk):
    entries = [Entry(id="nj-a", question="黄码怎么转绿码", chat_answer="做三次核酸。", region=NANJING),
               Entry(id="yz-a", question="扬州的问题", region="江苏省/扬州市")]

    with pytest.raises(ImportRefused) as refused:
        desk.import_as_changes(EDITOR, entries, "surge.jsonl")

    assert [(p["entry_id"], p["code"]) for p in refused.value.problems] == [("yz-a", "outside_region")]
    assert desk.list() == [] and AuditLog(db).list() == []


# -- the API, on the app in this process -----------------------------------------------------------------

def test_api_preview_then_import_a_workbook(inprocess):
    import uuid

    editor = inprocess.headers("editor")
    ids = [f"imp-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    data = xlsx_bytes(["id", "question", "samples", "chat_answer", "region"],
                      [ids[0], f"导入测试问题{ids[0]}", "问法一\n问法二", "导入的答复。", NANJING],
                      [ids[1], f"导入测试问题{ids[1]}", None, "另一个答复。", NANJING])
    headers = editor | {"x-filename": "%E5%AF%BC%E5%85%A5.xlsx"}  # 导入.xlsx, percent-encoded

    shown = inprocess.client.post("/v1/imports/preview", content=data, headers=headers)
    assert shown.status_code == 200
    body = shown.json()
    assert body["filename"] == "导入.xlsx" and sorted(c["entry_id"] for c in body["created"]) == sorted(ids)
    assert body["updated"] == [] and body["problems"] == []

    done = inprocess.client.post("/v1/imports", content=data, headers=headers)
    assert done.status_code == 201
    batch = done.json()["batch"]
    changes = inprocess.client.get("/v1/changes", params={"batch": batch}, headers=editor).json()
    assert {c["entry_id"] for c in changes} == set(ids) and {c["status"] for c in changes} == {"in_review"}
    assert {c["source"] for c in changes} == {"导入.xlsx"}


def test_api_import_with_a_bad_row_creates_nothing(inprocess):
    import uuid

    editor = inprocess.headers("editor")
    good = f"imp-{uuid.uuid4().hex[:8]}"
    data = xlsx_bytes(["id", "question", "request_type"], [good, "好的问题", "咨询"], ["bad", "坏的问题", "闲聊"])

    refused = inprocess.client.post("/v1/imports", content=data, headers=editor | {"x-filename": "bad.xlsx"})

    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_import"
    assert [(p["line"], "闲聊" in p["message"]) for p in refused.json()["error"]["details"]] == [(3, True)]
    assert inprocess.client.get("/v1/changes", params={"entry_id": good}, headers=editor).json() == []
    preview_of_bad = inprocess.client.post("/v1/imports/preview", content=data,
                                           headers=editor | {"x-filename": "bad.xlsx"}).json()
    assert [p["line"] for p in preview_of_bad["problems"]] == [3]


def test_api_imports_may_be_larger_than_other_requests(inprocess):
    import uuid

    editor = inprocess.headers("editor")
    prefix = uuid.uuid4().hex[:8]
    data = jsonl_bytes(*({"id": f"big-{prefix}-{n}", "question": f"大文件导入问题{prefix}第{n}条",
                          "chat_answer": "答" * 100, "region": NANJING} for n in range(60)))
    assert len(data) > 20_000  # the test service's FRONTDOOR_MAX_BODY_BYTES

    shown = inprocess.client.post("/v1/imports/preview", content=data, headers=editor | {"x-filename": "big.jsonl"})
    assert shown.status_code == 200 and len(shown.json()["created"]) == 60
    too_large = inprocess.client.post("/v1/search", content=data, headers=editor | {"content-type": "application/json"})
    assert too_large.status_code == 413
    assert inprocess.client.post("/v1/imports", content=b"x", headers=editor).json()["error"]["code"] == "filename_missing"
