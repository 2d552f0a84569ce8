"""The `frontdoor` command, run as a newcomer would run it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KB = [
    {"id": "q1", "question": "健康码变黄了怎么办", "answer": "", "samples": [], "category": None},
    {"id": "q2", "question": "核酸检测结果在哪里查", "answer": "", "samples": [], "category": None},
    {"id": "q3", "question": "居家隔离要多少天", "answer": "", "samples": [], "category": None},
    {"id": "q4", "question": "住房公积金怎么提取", "answer": "", "samples": [], "category": None},
]
QUERIES = [
    {"text": "我的健康码黄了咋办", "expected": "q1"},
    {"text": "去哪里查核酸结果", "expected": "q2"},
    {"text": "居家隔离几天", "expected": "q3"},
    {"text": "公积金提取", "expected": "q4"},
    {"text": "我家楼下的垃圾没人收", "expected": None},
]
MEASURES = {"queries", "answerable", "top1", "top3", "mrr", "coverage@0.9", "coverage@0.95", "coverage@0.98",
            "precision", "coverage", "answered", "clarified", "handed_off", "channel"}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def frontdoor(args, provisioned, data_dir):
    env = {**os.environ, "FRONTDOOR_DATA_DIR": str(data_dir), "FRONTDOOR_MODEL_DIR": str(provisioned.model_dir),
           "FRONTDOOR_ALLOW_DOWNLOAD": "false"}
    return subprocess.run([sys.executable, "-m", "frontdoor", *args], env=env, capture_output=True, text=True, timeout=600)


def write_pack(folder):
    write_jsonl(folder / "tiny.kb.jsonl", KB)
    write_jsonl(folder / "tiny.queries.jsonl", QUERIES)
    return folder / "tiny.kb.jsonl", folder / "tiny.queries.jsonl"


@pytest.fixture
def pack(tmp_path):
    return write_pack(tmp_path)


@pytest.fixture(scope="module")
def evaluated(provisioned, tmp_path_factory):
    """`frontdoor eval retrieval` over the tiny pack, once per channel (each run fits its own calibration):
    channel → (the finished command, the data folder it was given)."""
    folder = tmp_path_factory.mktemp("eval")
    kb, queries = write_pack(folder)
    runs = {}
    for channel in ("chat", "voice"):
        data_dir = folder / f"data-{channel}"
        runs[channel] = frontdoor(["eval", "retrieval", "--kb", str(kb), "--queries", str(queries), "--channel", channel],
                                  provisioned, data_dir), data_dir
    return runs


def figures_of(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_last_line_is_the_figures_as_json(evaluated):
    figures = figures_of(evaluated["chat"][0])
    assert MEASURES <= figures.keys()
    assert figures["queries"] == 5 and figures["answerable"] == 4
    assert figures["top1"] == 1.0
    assert figures["answered"] + figures["clarified"] + figures["handed_off"] + figures["redirected"] + figures["refused"] == 5
    assert 0 <= figures["precision"] <= 1 and figures["coverage"] <= figures["top1"]


def test_the_voice_channel_answers_no_more_than_chat(evaluated):
    chat, voice = figures_of(evaluated["chat"][0]), figures_of(evaluated["voice"][0])
    assert voice["channel"] == "voice" and voice["answered"] <= chat["answered"]


def test_the_service_database_is_never_touched(evaluated):
    for result, data_dir in evaluated.values():
        assert result.returncode == 0, result.stderr
        assert not (data_dir / "frontdoor.db").exists()


def test_a_broken_query_file_names_its_lines_and_measures_nothing(pack, provisioned, tmp_path):
    pack[1].write_text('{"text": "ok", "expected": null}\n{"text": \n{"expected": "q1"}\n', encoding="utf-8")
    result = frontdoor(["eval", "retrieval", "--kb", str(pack[0]), "--queries", str(pack[1])], provisioned, tmp_path / "data")
    assert result.returncode == 2
    assert ":2:" in result.stderr and ":3:" in result.stderr
    assert result.stdout.strip() == ""


def test_import_then_export_round_trips_the_knowledge(provisioned, tmp_path):
    source = tmp_path / "mine.jsonl"
    write_jsonl(source, [{**e, "answer": f"{e['question']}：请按当地规定办理。"} for e in KB])
    imported = frontdoor(["kb", "import", str(source), "--by", "editor-li"], provisioned, tmp_path / "data")
    assert imported.returncode == 0, imported.stderr
    assert "4 new" in imported.stdout
    again = frontdoor(["kb", "import", str(source)], provisioned, tmp_path / "data")
    assert "4 unchanged" in again.stdout
    exported = frontdoor(["kb", "export", str(tmp_path / "out.jsonl")], provisioned, tmp_path / "data")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    assert rows[0]["answer"] == "健康码变黄了怎么办：请按当地规定办理。"


def test_a_bad_knowledge_file_imports_nothing_and_names_every_bad_line(provisioned, tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps(KB[0], ensure_ascii=False) + "\n{broken\n" + json.dumps({"id": "x"}) + "\n", encoding="utf-8")
    result = frontdoor(["kb", "import", str(source)], provisioned, tmp_path / "data")
    assert result.returncode == 2
    assert "2" in result.stderr and "3" in result.stderr
    listed = frontdoor(["kb", "export", str(tmp_path / "out.jsonl")], provisioned, tmp_path / "data")
    assert "exported 0 entries" in listed.stdout


# --- frontdoor train classifier --from-desk --------------------------------------------------------

WATER = ["小区从昨天早上开始停水，到现在还没来水，也没有通知", "楼下的自来水管爆了，水流了一地，一直没人来修",
         "家里的自来水发黄还有一股怪味，不敢喝"]
CITY = ["楼上每天半夜装修电钻声音太吵，根本睡不着", "小区物业不管事，垃圾堆在楼道里好几天没人清理",
        "我想把户口从老家迁到这里，需要准备哪些材料", "身份证丢了去哪里补办，要多长时间"]


def test_categories_seats_set_at_the_desk_are_learnt_by_train_classifier_from_desk(provisioned, embedder, tmp_path):
    from desk.categories import read_code_table
    from desk.classification import CodeTable
    from desk.tickets import TicketDesk, TicketDraft
    from models.text_classifier import TextClassifier
    from storage import Database

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = Database(f"sqlite:///{data_dir / 'frontdoor.db'}")
    db.migrate()
    CodeTable(db).replace(read_code_table(Path(__file__).resolve().parents[1] / "knowledge_base" / "seed" / "categories.csv"))
    desk = TicketDesk(db)
    for words in WATER:  # the classifier filed them elsewhere; a seat put them under 供水
        number = desk.open(TicketDraft(channel="chat", summary=words, reason="low_confidence", transcript=[{"text": words}],
                                       request_type="投诉", urgency="一般", category_code="SH0202",
                                       category_source="classifier")).number
        desk.reclassify(number, "seat-wang", "GG0401", "")
    db.dispose()
    labelled = tmp_path / "labelled.jsonl"
    write_jsonl(labelled, [{"text": text, "label": "社会管理"} for text in CITY + WATER[:1]])

    result = frontdoor(["train", "classifier", "--from-desk", str(labelled)], provisioned, data_dir)

    assert result.returncode == 0, result.stderr
    assert f"7 tickets (4 from {labelled}; 3 corrected by seats in the last 90 days)" in result.stdout
    classifier = TextClassifier.load(data_dir / "classifier", embedder.model_id)
    [(label, _probability)] = classifier.predict(["我们这栋楼今天上午起就停水了，水龙头一滴水都没有"], embedder.embed_passages)
    assert label == "公共服务"


def test_train_classifier_with_neither_a_file_nor_the_desk_says_what_to_give(provisioned, tmp_path):
    result = frontdoor(["train", "classifier"], provisioned, tmp_path / "data")
    assert result.returncode == 2
    assert "--from-desk" in result.stderr and not (tmp_path / "data" / "classifier").exists()
