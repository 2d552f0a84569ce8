"""Knowledge files: JSONL and YAML entries, CSV category tables; every problem reported with its line."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from knowledge_base.entry import Entry, RequestType, Status
from knowledge_base.io import KnowledgeFileError, read_entries, write_entries
from knowledge_base.store import KnowledgeStore

BEIJING = timezone(timedelta(hours=8))


def jsonl(tmp_path, *lines: str | dict, name: str = "kb.jsonl"):
    path = tmp_path / name
    path.write_text("".join((json.dumps(l, ensure_ascii=False) if isinstance(l, dict) else l) + "\n" for l in lines),
                    encoding="utf-8")
    return path


def problem_lines(error: pytest.ExceptionInfo[KnowledgeFileError]) -> list[int | None]:
    return [problem.line for problem in error.value.problems]


# -- JSONL ------------------------------------------------------------------------------------------

def test_reads_the_evaluation_pack_format(tmp_path):
    path = jsonl(tmp_path,
                 {"id": "faq-1", "question": "什么是冠状病毒？", "answer": "冠状病毒是……", "samples": [], "category": None},
                 {"id": "med-2", "question": "剧烈运动后咯血,是怎么了?", "answer": "", "samples": ["运动后咳血"], "category": "咳血"})

    first, second = read_entries(path)

    assert first == Entry(id="faq-1", question="什么是冠状病毒？", chat_answer="冠状病毒是……", status=Status.PUBLISHED)
    assert second.chat_answer == "" and second.samples == ("运动后咳血",) and second.category == "咳血"


def test_every_bad_line_is_reported_and_nothing_is_read(tmp_path):
    good = {"id": "ok", "question": "问题"}
    path = jsonl(tmp_path, good | {"id": "a"}, good | {"id": "b"},
                 '{"id": "c", "question": "问题",',          # line 3: broken JSON
                 good | {"id": "d"}, good | {"id": "e"}, good | {"id": "f"},
                 {"id": "g", "question": ""})                 # line 7: empty question

    with pytest.raises(KnowledgeFileError) as error:
        read_entries(path)

    assert problem_lines(error) == [3, 7]
    assert "line 3: invalid JSON" in str(error.value)
    assert "line 7: 'question' is empty" in str(error.value)


def test_wrong_types_unknown_values_and_bad_dates_are_reported(tmp_path):
    path = jsonl(tmp_path,
                 {"id": 12, "question": "问题"},
                 {"id": "b", "question": "问题", "samples": "不是列表"},
                 {"id": "c", "question": "问题", "status": "live"},
                 {"id": "d", "question": "问题", "request_type": "闲聊"},
                 {"id": "e", "question": "问题", "effective_from": "昨天"},
                 {"id": "f", "question": "问题", "effective_from": "2022-04-02", "expires_at": "2022-04-01"},
                 {"id": "g", "question": "问题", "anwser": "拼错的字段"},
                 {"question": "没有编号"})

    with pytest.raises(KnowledgeFileError) as error:
        read_entries(path)

    assert problem_lines(error) == [1, 2, 3, 4, 5, 6, 7, 8]
    message = str(error.value)
    for expected in ["'id' must be text", "'samples' must be a list", "unknown status 'live'", "unknown request_type '闲聊'",
                     "not an ISO 8601", "must be after effective_from", "unknown field 'anwser'", "'id' is missing"]:
        assert expected in message


def test_duplicate_ids_name_both_lines(tmp_path):
    path = jsonl(tmp_path, {"id": "a", "question": "一"}, {"id": "b", "question": "二"}, {"id": "a", "question": "三"})
    with pytest.raises(KnowledgeFileError, match=r"line 3: duplicate id 'a' \(first on line 1\)"):
        read_entries(path)


def test_invalid_utf8_is_reported_with_its_line(tmp_path):
    path = tmp_path / "kb.jsonl"
    path.write_bytes(b'{"id": "a", "question": "\xe9\x97\xae"}\n'
                     + '{"id": "b", "question": "问题"}\n'.encode("gbk"))
    with pytest.raises(KnowledgeFileError, match="line 2: not valid UTF-8") as error:
        read_entries(path)
    assert problem_lines(error) == [2]


def test_a_bad_file_imports_nothing(tmp_path, db):
    store = KnowledgeStore(db)
    path = jsonl(tmp_path, {"id": "a", "question": "一"}, {"id": "b", "question": "二", "status": "上线"})
    with pytest.raises(KnowledgeFileError):
        store.import_entries(read_entries(path), by="editor", source=path.name)
    assert store.count() == 0


# -- YAML -------------------------------------------------------------------------------------------

SEED_STYLE = """\
# 样例
entries:
  - id: gg0101-yellow-code-to-green
    question: 苏康码变黄码了怎么转绿码？
    samples:
      - 我码咋黄了
      - 阿是黄码了就不能出门了
    chat_answer: |
      1. 三天内做两次核酸；
      2. 结果阴性后自动转绿。
    voice_answer: 三天内做两次核酸，阴性后自动转绿。
    category: GG0101
    request_type: 求助
    region: 江苏省/南京市
    effective_from: 2022-04-01
    expires_at: 2022-04-30T18:00:00+08:00
    source: 样例内容
  - id: draft-one
    question: 还在写的问题
    status: draft
"""


def test_reads_the_seed_yaml_format(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(SEED_STYLE, encoding="utf-8")

    entry, unfinished = read_entries(path)

    assert entry.samples == ("我码咋黄了", "阿是黄码了就不能出门了")
    assert entry.chat_answer == "1. 三天内做两次核酸；\n2. 结果阴性后自动转绿。\n"
    assert entry.request_type is RequestType.HELP and entry.status is Status.PUBLISHED
    assert entry.effective_from == datetime(2022, 4, 1, tzinfo=BEIJING), "a time without a zone is Beijing time"
    assert entry.expires_at == datetime(2022, 4, 30, 10, tzinfo=timezone.utc)
    assert unfinished.status is Status.DRAFT


def test_yaml_problems_carry_the_line_of_the_field(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(
        "entries:\n"
        "  - id: a\n"                      # 2
        "    question: 问题\n"
        "    request_type: 闲聊\n"         # 4
        "    samples:\n"
        "      - 12345\n"                  # 6: a number, not text
        "  - id: b\n"                      # 7: no question
        "    chat_answer: 答复\n"
        "  - id: c\n"
        "    question: 问题\n"
        "    question: 又一个问题\n"       # 11: given twice
        "    expires_at: 2022-02-30\n",    # 12: no such day
        encoding="utf-8")

    with pytest.raises(KnowledgeFileError) as error:
        read_entries(path)

    assert problem_lines(error) == [4, 6, 7, 11, 12]


def test_yaml_syntax_errors_give_a_line(tmp_path):
    path = tmp_path / "seed.yml"
    path.write_text("entries:\n  - id: a\n    question: [未闭合\n  - id: b\n", encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match="invalid YAML") as error:
        read_entries(path)
    assert error.value.problems[0].line in (3, 4)


def test_yaml_without_entries_is_refused(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text("- id: a\n  question: 问题\n", encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match="'entries:'"):
        read_entries(path)


def test_invalid_utf8_in_yaml_is_reported_with_its_line(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_bytes("entries:\n  - id: a\n".encode() + "    question: 问题\n".encode("gbk"))
    with pytest.raises(KnowledgeFileError, match="line 3: not valid UTF-8"):
        read_entries(path)


# -- writing --------------------------------------------------------------------------------------

FULL_ENTRY = Entry(
    id="ld-leave-city", question="疫情期间离开所在城市需要什么条件？", samples=("现在出城要什么证明", "出市"),
    chat_answer="1. 绿码；\n2. 48小时核酸。\n", voice_answer="要绿码和四十八小时核酸。", category="GG0105",
    request_type=RequestType.ENQUIRY, region="江苏省/南京市", variant_of="ld-leave-city-province",
    effective_from=datetime(2021, 7, 21, tzinfo=BEIJING), expires_at=datetime(2021, 9, 1, 4, 30, tzinfo=timezone.utc),
    status=Status.IN_REVIEW, version=4, updated_by="editor-a",
    updated_at=datetime(2021, 7, 25, 3, 2, 1, 123456, tzinfo=timezone.utc), source="样例内容",
)


@pytest.mark.parametrize("name", ["export.jsonl", "export.yaml"])
def test_written_files_read_back_the_same(tmp_path, name):
    entries = [FULL_ENTRY, Entry(id="plain", question="简单问题", status=Status.PUBLISHED),
               Entry(id="odd", question="问题", chat_answer="  leading spaces\ntrailing  \n\n", category="0101",
                     samples=("12345", "yes", "2022-04-01"))]
    write_entries(entries, tmp_path / name)
    assert read_entries(tmp_path / name) == entries


def test_an_exported_knowledge_base_reimports_unchanged(tmp_path, db):
    store = KnowledgeStore(db)
    store.import_entries([FULL_ENTRY, Entry(id="b", question="问题", status=Status.PUBLISHED)], by="a", source="one")
    write_entries(store.list(), tmp_path / "backup.yaml")

    report = store.import_entries(read_entries(tmp_path / "backup.yaml"), by="a", source="backup.yaml")

    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
