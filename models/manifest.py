"""The record a provisioned model folder carries of its own files, so a later run can trust it.

`frontdoor-manifest.json` lists every file with its size, SHA-256 and modification time. The cheap check
compares sizes and modification times; the full check hashes every file.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .progress import ProgressFactory, progress_bar

MANIFEST_NAME = "frontdoor-manifest.json"
_CHUNK = 1 << 20


def sha256_of(path: Path, bar=None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return digest.hexdigest()


def write_manifest(folder: Path, source: str, progress: ProgressFactory | None = None) -> None:
    """Hash every file under `folder` and record them, with where the model came from."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    entries = {}
    with progress_bar(progress, sum(p.stat().st_size for p in files), f"hashing {folder.name}") as bar:
        for path in files:
            stat = path.stat()
            entries[path.relative_to(folder).as_posix()] = {
                "size": stat.st_size, "sha256": sha256_of(path, bar), "mtime_ns": stat.st_mtime_ns,
            }
    _write_atomically(folder / MANIFEST_NAME, {"format": 1, "source": source, "files": entries})


def check_manifest(folder: Path, *, full: bool, progress: ProgressFactory | None = None) -> str | None:
    """None when `folder` still holds exactly the files its manifest records; else why it does not.

    The cheap check (full=False) trusts a file whose size and modification time are unchanged.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        return "it has no manifest, so it was not provisioned here" if folder.exists() else "none there"
    entries = manifest["files"]
    for rel, entry in entries.items():
        path = folder / rel
        if not path.is_file() or path.stat().st_size != entry["size"]:
            return f"{rel} is missing or has changed size"
        if not full and path.stat().st_mtime_ns != entry["mtime_ns"]:
            return f"{rel} was modified since it was provisioned"
    if full:
        with progress_bar(progress, sum(e["size"] for e in entries.values()), f"verifying {folder.name}") as bar:
            for rel, entry in entries.items():
                if sha256_of(folder / rel, bar) != entry["sha256"]:
                    return f"{rel} does not match its recorded SHA-256"
    return None


def restamp_manifest(folder: Path) -> None:
    """Record current modification times, after a full check found the contents intact (e.g. a copy)."""
    manifest = read_manifest(folder)
    for rel, entry in manifest["files"].items():
        entry["mtime_ns"] = (folder / rel).stat().st_mtime_ns
    _write_atomically(folder / MANIFEST_NAME, manifest)


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != 1 or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def _write_atomically(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
