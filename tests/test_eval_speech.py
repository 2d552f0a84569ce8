"""`frontdoor eval asr` and `frontdoor eval spoken`: CER, the evaluation folders, and both commands on a few
real recordings from ../shared/eval."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evaluation.speech import (SpeechDataError, character_errors, edit_distance, normalise, read_transcripts,
                               spoken_audio_folder)
from frontdoor.cli import main

SHARED = Path("/work/shared/eval")
ASR_SET = SHARED / "asr" / "aishell-spk150"
SPOKEN_SET = SHARED / "spoken" / "covid-faq"
FAQ_PACK = SHARED / "retrieval" / "covid-faq.kb.jsonl"
needs_data = pytest.mark.skipif(not ASR_SET.is_dir() or not SPOKEN_SET.is_dir() or not FAQ_PACK.is_file(),
                                reason="the shared evaluation data is not here")


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


# --- CER ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, normalised", [
    ("设定二十九度", "设定二十九度"),
    ("尚街Loft时尚生活园区", "尚街LOFT时尚生活园区"),
    ("新冠可以治疗吗？", "新冠可以治疗吗"),
    ("在 外，应如何_预防!", "在外应如何预防"),
    ("", ""),
])
def test_normalise_drops_punctuation_and_spaces_and_upper_cases_latin(text, normalised):
    assert normalise(text) == normalised


@pytest.mark.parametrize("hypothesis, reference, distance", [
    ("", "", 0),
    ("", "核酸", 2),
    ("核酸", "", 2),
    ("核酸检测", "核酸检测", 0),
    ("合算检测", "核酸检测", 2),     # substitutions
    ("核酸检", "核酸检测", 1),       # a deletion
    ("核酸的检测", "核酸检测", 1),   # an insertion
    ("kitten", "sitting", 3),
])
def test_edit_distance(hypothesis, reference, distance):
    assert edit_distance(hypothesis, reference) == distance


def test_character_errors_compare_normalised_text():
    assert character_errors("尚街 loft，时尚生活园区", "尚街Loft时尚生活园区") == (0, 12)
    assert character_errors("上街老夫的时尚生活园区", "尚街Loft时尚生活园区") == (5, 12)


# --- the evaluation folders ----------------------------------------------------------------------------------

def test_read_transcripts(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "b.wav").write_bytes(b"")
    (tmp_path / "transcripts.tsv").write_text("a.wav\t设定二十九度\n\nb.wav\t三叶眼镜城\n", encoding="utf-8")
    utterances = read_transcripts(tmp_path)
    assert [(u.path.name, u.reference) for u in utterances] == [("a.wav", "设定二十九度"), ("b.wav", "三叶眼镜城")]


def test_read_transcripts_names_every_bad_line(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "transcripts.tsv").write_text("a.wav\t设定二十九度\nno tab here\ngone.wav\t三叶眼镜城\na.wav\t\n",
                                              encoding="utf-8")
    with pytest.raises(SpeechDataError) as raised:
        read_transcripts(tmp_path)
    message = str(raised.value)
    assert "transcripts.tsv:2: expected FILE<TAB>REFERENCE" in message
    assert "transcripts.tsv:3: gone.wav does not exist" in message
    assert "transcripts.tsv:4:" in message
    assert "transcripts.tsv:1:" not in message


def test_read_transcripts_without_the_file_or_not_utf8(tmp_path):
    with pytest.raises(SpeechDataError, match="transcripts.tsv: no such file"):
        read_transcripts(tmp_path)
    (tmp_path / "transcripts.tsv").write_bytes("a.wav\t设定".encode("gbk"))
    with pytest.raises(SpeechDataError, match="not UTF-8"):
        read_transcripts(tmp_path)


def test_the_spoken_audio_folder_follows_the_rate_and_falls_back_to_the_other(tmp_path):
    with pytest.raises(SpeechDataError, match="neither wav8k/ nor wav16k/"):
        spoken_audio_folder(tmp_path, 8000)
    (tmp_path / "wav16k").mkdir()
    assert spoken_audio_folder(tmp_path, 8000) == tmp_path / "wav16k"
    (tmp_path / "wav8k").mkdir()
    assert spoken_audio_folder(tmp_path, 8000) == tmp_path / "wav8k"
    assert spoken_audio_folder(tmp_path, 16000) == tmp_path / "wav16k"


# --- the commands, on real recordings --------------------------------------------------------------------------

@pytest.fixture
def models_env(provisioned, tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTDOOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRONTDOOR_MODEL_DIR", str(provisioned.model_dir))
    monkeypatch.setenv("FRONTDOOR_ALLOW_DOWNLOAD", "false")


@pytest.fixture
def asr_folder(tmp_path):
    folder = tmp_path / "asr"
    folder.mkdir()
    lines = ASR_SET.joinpath("transcripts.tsv").read_text(encoding="utf-8").splitlines()[:3]
    for line in lines:
        shutil.copy(ASR_SET / line.split("\t")[0], folder)
    (folder / "transcripts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@needs_data
@pytest.mark.models
@pytest.mark.parametrize("extra, mode, rate", [(["--rate", "8000"], "frontdoor", 8000), (["--plain"], "plain", 16000)])
def test_eval_asr_prints_an_utterance_per_line_then_the_figures(asr_folder, models_env, capsys, extra, mode, rate):
    assert main(["eval", "asr", "--dir", str(asr_folder), "-v", *extra]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert {"file", "reference", "text", "errors", "length"} <= json.loads(lines[0]).keys()
    figures = json.loads(lines[-1])
    assert list(figures)[:3] == ["utterances", "cer", "rtf"]
    assert figures["utterances"] == 3 and figures["mode"] == mode and figures["rate"] == rate
    assert 0 <= figures["cer"] < 0.8            # it hears something like what was said
    assert 0 < figures["rtf"] < 5
    assert 0 < figures["decoded_share"] <= 1.2


@needs_data
@pytest.mark.models
def test_eval_asr_without_verbose_prints_only_the_figures(asr_folder, models_env, capsys):
    assert main(["eval", "asr", "--dir", str(asr_folder), "--rate", "8000"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["utterances"] == 3


@needs_data
@pytest.mark.models
def test_eval_asr_names_a_missing_file_and_fails(asr_folder, models_env, capsys):
    first = sorted(asr_folder.glob("*.wav"))[0]
    first.unlink()
    assert main(["eval", "asr", "--dir", str(asr_folder)]) != 0
    captured = capsys.readouterr()
    assert "transcripts.tsv:1:" in captured.err and first.name in captured.err and "does not exist" in captured.err
    assert captured.out == ""


@pytest.fixture
def spoken_pack(tmp_path):
    """Six entries of the covid-faq pack and three spoken questions that four of them answer."""
    questions = [json.loads(line) for line in SPOKEN_SET.joinpath("questions.jsonl").read_text(encoding="utf-8").splitlines()]
    asked = [q for q in questions if q["expected"]][:3]
    entries = [json.loads(line) for line in FAQ_PACK.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = {q["expected"] for q in asked}
    chosen = [e for e in entries if e["id"] in wanted] + [e for e in entries if e["id"] not in wanted][:6 - len(wanted)]
    kb = tmp_path / "small.kb.jsonl"
    kb.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in chosen), encoding="utf-8")
    folder = tmp_path / "spoken"
    (folder / "wav8k").mkdir(parents=True)
    for question in asked:
        shutil.copy(SPOKEN_SET / "wav8k" / question["file"], folder / "wav8k")
    (folder / "questions.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in asked),
                                            encoding="utf-8")
    return kb, folder


@needs_data
@pytest.mark.models
def test_eval_spoken_reports_spoken_next_to_typed(spoken_pack, models_env, capsys):
    kb, folder = spoken_pack
    assert main(["eval", "spoken", "--kb", str(kb), "--dir", str(folder)]) == 0
    figures = last_json(capsys.readouterr().out)
    assert list(figures)[:10] == ["questions", "top1", "precision", "coverage", "text_top1", "text_precision",
                                  "text_coverage", "cer", "top1_ratio", "rtf"]
    assert figures["questions"] == 3 and figures["rate"] == 8000
    for key in ("top1", "precision", "coverage", "text_top1", "text_precision", "text_coverage"):
        assert 0 <= figures[key] <= 1, key
    assert figures["coverage"] <= figures["top1"] and figures["text_coverage"] <= figures["text_top1"]
    assert figures["text_top1"] > 0           # six entries: the typed questions find theirs
    assert 0 <= figures["cer"] < 0.8 and 0 < figures["rtf"] < 5
    assert figures["top1_ratio"] == pytest.approx(figures["top1"] / figures["text_top1"], abs=1e-3)


@needs_data
@pytest.mark.models
def test_eval_spoken_names_a_missing_recording(spoken_pack, models_env, capsys):
    kb, folder = spoken_pack
    missing = sorted((folder / "wav8k").glob("*.wav"))[-1]
    missing.unlink()
    assert main(["eval", "spoken", "--kb", str(kb), "--dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "questions.jsonl:" in err and missing.name in err
