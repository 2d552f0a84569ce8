"""A fitted calibration found again by what it learned from, so that a second worker, a restarted one or
a rebuild over unchanged phrasings loads what another already fitted (tens of seconds on two cores).

The key is a fingerprint of everything `self_supervision.fit_calibrator` learns from: the phrasings in
their order, the entry that owns each and its region depth, the retrieval parameters and question types,
the embedder's identity, and the method itself (`CALIBRATION_VERSION`, the features). The store is the
knowledge base's (`knowledge_base.store.CalibrationStore`); anything it cannot give back just refits.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import fields, is_dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np

from knowledge_base.retrieval.confidence import FEATURES, Calibration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from knowledge_base.retrieval.embedding import VectorCache
    from knowledge_base.retrieval.index import RetrievalIndex
    from knowledge_base.retrieval.self_supervision import Labelled

log = logging.getLogger(__name__)

# Bump with any change to how a calibration is fitted that the fingerprint below does not see (the
# self-made questions, the calibrator's model): rows of another version are then never read.
CALIBRATION_VERSION = 3  # 2: questions made in a caller's words (wording.py), labelled questions; 3: drawn per entry


class CalibrationCache(Protocol):
    def get(self, key: str) -> Calibration | None: ...

    def put(self, key: str, calibration: Calibration) -> None: ...


def calibration_key(index: "RetrievalIndex", labelled: "Sequence[Labelled]" = ()) -> str:
    """The sha256 hex of what fitting the calibrator on `index` (and the hotline's `labelled` questions) learns from."""
    digest = hashlib.sha256()
    header = {
        "version": CALIBRATION_VERSION,
        "features": list(FEATURES),
        "embedder": index.embedder.model_id,
        "entries": index.size,
        "params": _described(index._params),  # the fusion weights, depths, and the question types' content
    }
    digest.update(json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    for text in index.phrasings:
        digest.update(text.encode("utf-8") + b"\0")
    digest.update(index.phrasing_entry.astype("<i8").tobytes())
    digest.update(index._depth.astype("<f4").tobytes())
    for item in labelled:
        digest.update(json.dumps([item.text, item.entry_id, item.correct], ensure_ascii=False).encode("utf-8") + b"\0")
    return digest.hexdigest()


def _described(value):
    """`value` as plain JSON-able data that is the same in every process for the same content: parameters
    and the content objects they carry (question types, their patterns), never an address in memory."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _described(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, (list, tuple)):
        return [_described(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_described(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): _described(v) for k, v in sorted(value.items(), key=lambda item: repr(item[0]))}
    if isinstance(value, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest() + str(value.dtype) + str(value.shape)
    if isinstance(value, np.generic):
        return value.item()
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    if hasattr(value, "__dict__"):  # a content object: what it was made with, not what it has since worked out
        made = {k: v for k, v in vars(value).items() if not isinstance(getattr(type(value), k, None), cached_property)}
        return {"class": type(value).__qualname__, **_described(made)}
    return repr(value)


def fitted_calibration(index: "RetrievalIndex", cache: CalibrationCache | None,
                       labelled: "Sequence[Labelled]" = (), vectors: "VectorCache | None" = None) -> Calibration:
    """The calibration of `index`: the one stored under its fingerprint, else fitted now (and stored), its
    self-made questions embedded through `vectors` (the knowledge base's embedding cache)."""
    from knowledge_base.retrieval.self_supervision import fit_calibrator

    key = calibration_key(index, labelled) if cache is not None else None
    if cache is not None:
        try:
            stored = cache.get(key)
        except Exception:  # an unreadable store is no reason not to serve: fit as if nothing were stored
            log.warning("the stored calibration %s… could not be read; fitting it again", key[:12], exc_info=True)
            stored = None
        if stored is not None:
            log.info("calibration %s… loaded from the database (%d examples)", key[:12], stored.confidence.size)
            return stored
    params = index._params
    queries = min(params.calibration_queries, params.calibration_queries_per_entry * index.size)
    calibration = fit_calibrator(index, max_queries=queries, labelled=labelled, vectors=vectors)
    if cache is not None:
        try:
            cache.put(key, calibration)
        except Exception:
            log.warning("the fitted calibration %s… could not be stored", key[:12], exc_info=True)
        else:
            log.info("calibration %s… fitted and stored (%d examples)", key[:12], calibration.confidence.size)
    return calibration
