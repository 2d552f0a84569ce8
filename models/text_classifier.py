"""A trained text classifier for handoff tickets: a citizen's words in, a category label and its probability out.

Citizens' messages are long and noisy (a subject, a greeting, a story, masked numbers), so each method reads
them in its own way:

  chars         character 1–3-gram TF-IDF (n-grams seen in at least two messages) + logistic regression
  chars-svm     the same features + a linear SVM, calibrated by cross-validation (CalibratedClassifierCV)
  e5-head       sentence embedding of the first HEAD_CHARS characters + logistic regression
  e5-chunks     mean of the embeddings of CHUNK_CHARS-character pieces (up to MAX_CHUNKS) + logistic regression
                (the default)
  chars+e5      the mean of the `chars-svm` and `e5-chunks` probabilities
  chars|e5      one logistic regression over [TF-IDF | e5-chunks vector] side by side
  e5-codes      the e5-chunks vector beside, for each label, how close the message comes to the code table's names
                under that label (the default): each category name's vector is moved towards the NAMES_NEIGHBOURS
                unlabelled messages nearest it (the hotline's own past tickets: how citizens say it), and a label's
                closeness is the best cosine over its names, centred across labels. Without names it is e5-chunks.

Every method gives probabilities from a logistic regression (or a calibrated SVM), so a probability of 0.9
means roughly "right nine times in ten" on messages like the training ones. `bench/classify.py` measures them
all; DEFAULT_METHOD is the one chosen there by cross-validation.

Embeddings come from a function the caller passes in (`embed(texts) -> L2-normalised rows`), so this module
depends on no particular model. With e5, pass `embedder.embed_passages`: a long message reads as a passage, and
its "passage: " vectors classified better than "query: " ones (`bench.classify --prefix`). The embedder's model
id is saved with the classifier, and loading it for another model fails rather than silently predicting from
vectors it never saw.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

Embed = Callable[[list[str]], np.ndarray]

METHODS = ("chars", "chars-svm", "e5-head", "e5-chunks", "chars+e5", "chars|e5", "e5-codes")
# Best cross-validated macro-F1 in bench/classify.py (246 citizen messages, 7 classes, 5-fold CV × 5 repeats):
# e5-codes with the code table and 1,000 unlabelled messages, against e5-chunks alone (BENCHMARKS.md).
DEFAULT_METHOD = "e5-codes"
HEAD_CHARS = 500  # about e5's 512-token window for Chinese text
CHUNK_CHARS = 400
MAX_CHUNKS = 6  # later pieces of very long messages add time, not accuracy
FORMAT_VERSION = 1
_MODEL_FILE = "model.joblib"
_META_FILE = "meta.json"
# Spreadsheet exports write a carriage return inside a cell as the literal text "_x000D_".
_NOISE = re.compile(r"_x000[dD]_|\s+")
# Inverse regularisation strengths, set on bench/classify.py's cross-validation.
CHARS_C = 100.0
VECTORS_C = 20.0
SVM_C = 0.5
# e5-codes, set on bench/classify.py's repeated cross-validation (0.84–0.86 from 10 to 50 neighbours, weight 15 to 20)
NAMES_WEIGHT = 15.0  # how loud the names' closeness speaks beside the 384 dimensions of the message's vector
NAMES_NEIGHBOURS = 50  # unlabelled messages averaged into each name's vector
UNLABELLED_LIMIT = 1000  # unlabelled messages read, each by its first CHUNK_CHARS characters


class ClassifierError(ValueError):
    """A classifier that cannot be trained, loaded or used as asked; the message says why and what to do."""


class TextClassifier:
    """Predicts one of `labels` for a text, with a probability; build with `train`, keep with `save`/`load`."""

    def __init__(self, method: str, labels: Sequence[str], estimators: dict, *, n_examples: int,
                 embedder_id: str | None, trained_at: str) -> None:
        self.method = method
        self.labels = list(labels)
        self._estimators = estimators
        self.n_examples = n_examples
        self.embedder_id = embedder_id
        self.trained_at = trained_at

    @property
    def uses_embeddings(self) -> bool:
        return _uses_embeddings(self.method)

    # -- training and prediction ------------------------------------------------------------------

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], embed: Embed | None = None, *,
              method: str = DEFAULT_METHOD, embedder_id: str | None = None,
              label_names: Mapping[str, Sequence[str]] | None = None, unlabelled: Sequence[str] = ()) -> TextClassifier:
        """Fit `method` on labelled texts. `embed` is needed by every method but `chars`/`chars-svm`;
        `embedder_id` names its model (taken from a bound `Embedder` method when not given).

        `e5-codes` also reads `label_names` (label → the names of the code table's categories under it, e.g. every
        path below a top-level name) and `unlabelled` texts (past tickets; the first UNLABELLED_LIMIT are read);
        the other methods ignore both."""
        if method not in METHODS:
            raise ClassifierError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
        texts, labels = list(texts), list(labels)
        if len(texts) != len(labels):
            raise ClassifierError(f"{len(texts)} texts but {len(labels)} labels")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ClassifierError(f"training needs at least two different labels, got {classes}")
        if _uses_embeddings(method):
            if embed is None:
                raise ClassifierError(f"method {method!r} needs an embed function")
            embedder_id = (embedder_id or getattr(embed, "model_id", None)
                           or getattr(getattr(embed, "__self__", None), "model_id", None))
        else:
            embedder_id = None
        y = np.asarray(labels)
        features = _Features(texts, embed)
        estimators = {}
        for part in _parts(method):
            if part == "e5-codes":
                estimators[part] = _NamesBesideVectors.fit_names(label_names or {}, unlabelled, features, y, embed)
            else:
                estimators[part] = _estimator(part, y).fit(features.of(part), y)
        return cls(method, [str(label) for label in estimators[_parts(method)[0]].classes_], estimators, n_examples=len(texts),
                   embedder_id=embedder_id, trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def predict_proba(self, texts: Sequence[str], embed: Embed | None = None) -> np.ndarray:
        """Probabilities, one row per text, columns in the order of `labels`."""
        texts = list(texts)
        if not texts:
            return np.empty((0, len(self.labels)))
        if self.uses_embeddings and embed is None:
            raise ClassifierError(f"this classifier ({self.method}) needs the embed function it was trained with")
        features = _Features(texts, embed)
        parts = _parts(self.method)
        return sum(self._estimators[part].predict_proba(features.of(part)) for part in parts) / len(parts)

    def predict(self, texts: Sequence[str], embed: Embed | None = None) -> list[tuple[str, float]]:
        """The most probable label of each text, with its probability."""
        probabilities = self.predict_proba(texts, embed)
        best = probabilities.argmax(axis=1) if len(probabilities) else []
        return [(self.labels[j], float(probabilities[i, j])) for i, j in enumerate(best)]

    # -- keeping ----------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        import joblib
        import sklearn

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self._estimators, folder / _MODEL_FILE)
        meta = {"format": FORMAT_VERSION, "method": self.method, "labels": self.labels,
                "trained_at": self.trained_at, "n_examples": self.n_examples, "embedder_id": self.embedder_id,
                "sklearn": sklearn.__version__}
        (folder / _META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, embedder_id: str | None) -> TextClassifier:
        """A classifier saved by `save`. `embedder_id` is the id of the embedder that will feed it (None when
        there is none); a classifier trained on another embedder's vectors is refused.

        The model file is a pickle: load only folders this service wrote."""
        import joblib

        folder = Path(folder)
        try:
            meta = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ClassifierError(f"{folder} holds no saved classifier (no {_META_FILE})") from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ClassifierError(f"{folder / _META_FILE} is not readable JSON: {error}") from error
        if meta.get("format") != FORMAT_VERSION or meta.get("method") not in METHODS:
            raise ClassifierError(f"{folder} was saved in a format this version cannot read "
                                  f"(format {meta.get('format')!r}, method {meta.get('method')!r}); train it again")
        saved_id = meta.get("embedder_id")
        if _uses_embeddings(meta["method"]) and saved_id != embedder_id:
            raise ClassifierError(
                f"the classifier in {folder} was trained on embeddings from {saved_id!r}, but the embedder now "
                f"is {embedder_id!r}; its vectors mean something else to this classifier. "
                "Train the classifier again with the current embedder.")
        if not (folder / _MODEL_FILE).is_file():
            raise ClassifierError(f"{folder} has {_META_FILE} but no {_MODEL_FILE}; save the classifier again")
        estimators = joblib.load(folder / _MODEL_FILE)
        return cls(meta["method"], meta["labels"], estimators, n_examples=meta["n_examples"],
                   embedder_id=saved_id, trained_at=meta["trained_at"])


# -------------------------------------------------------------------------------------------------
# Features and estimators

def clean(text: str) -> str:
    """The text as a reader sees it: spreadsheet line-break codes and runs of white space made one space."""
    return _NOISE.sub(" ", text).strip()


def chunks(text: str, size: int = CHUNK_CHARS, limit: int = MAX_CHUNKS) -> list[str]:
    """Consecutive pieces of at most `size` characters, at most `limit` of them (an empty text is one piece)."""
    return [text[start:start + size] for start in range(0, max(len(text), 1), size)][:limit]


def _uses_embeddings(method: str) -> bool:
    return method not in ("chars", "chars-svm")


def _parts(method: str) -> tuple[str, ...]:
    """The estimators a method is made of; their probabilities are averaged."""
    return {"chars+e5": ("chars-svm", "e5-chunks")}.get(method, (method,))


class _Features:
    """The feature matrices of one batch of texts, each computed once however many parts ask for it."""

    def __init__(self, texts: list[str], embed: Embed | None) -> None:
        self.texts = [clean(text) for text in texts]
        self._embed = embed
        self._cache: dict[str, object] = {}

    def of(self, part: str):
        if part in ("chars", "chars-svm"):
            return self.texts
        if part not in self._cache:
            if part == "e5-head":
                self._cache[part] = self._embed([text[:HEAD_CHARS] for text in self.texts])
            elif part in ("e5-chunks", "e5-codes"):
                self._cache[part] = self._mean_of_chunks()
            else:  # chars|e5
                self._cache[part] = (self.texts, self.of("e5-chunks"))
        return self._cache[part]

    def _mean_of_chunks(self) -> np.ndarray:
        pieces = [chunks(text) for text in self.texts]
        vectors = self._embed([piece for text_pieces in pieces for piece in text_pieces])
        ends = np.cumsum([len(text_pieces) for text_pieces in pieces])
        means = np.stack([vectors[end - len(p):end].mean(axis=0) for end, p in zip(ends, pieces)])
        return means / np.linalg.norm(means, axis=1, keepdims=True)


def _char_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    # An n-gram seen in one message only (a name, a masked number) says nothing about the class.
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)


def _logistic(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000)


def _estimator(part: str, y: np.ndarray):
    from sklearn.pipeline import make_pipeline

    if part == "chars":
        return make_pipeline(_char_tfidf(), _logistic(CHARS_C))
    if part == "chars-svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        folds = int(min(3, np.unique(y, return_counts=True)[1].min()))
        if folds < 2:  # calibration needs two examples of every label; logistic regression does not
            return make_pipeline(_char_tfidf(), _logistic(CHARS_C))
        return make_pipeline(_char_tfidf(), CalibratedClassifierCV(LinearSVC(C=SVM_C, class_weight="balanced"), cv=folds))
    if part in ("e5-head", "e5-chunks"):
        return _logistic(VECTORS_C)
    return _CharsBesideVectors()


class _CharsBesideVectors:
    """Logistic regression over [character TF-IDF | embedding] for rows given as (texts, vectors)."""

    def fit(self, rows: tuple[list[str], np.ndarray], y: np.ndarray) -> _CharsBesideVectors:
        texts, vectors = rows
        self.tfidf = _char_tfidf().fit(texts)
        self.logistic = _logistic(CHARS_C).fit(self._matrix(texts, vectors), y)
        self.classes_ = self.logistic.classes_
        return self

    def predict_proba(self, rows: tuple[list[str], np.ndarray]) -> np.ndarray:
        return self.logistic.predict_proba(self._matrix(*rows))

    def _matrix(self, texts: list[str], vectors: np.ndarray):
        from scipy.sparse import csr_matrix, hstack

        # Both halves have unit-length rows, so neither drowns the other.
        return hstack([self.tfidf.transform(texts), csr_matrix(vectors)]).tocsr()


class _NamesBesideVectors:
    """Logistic regression over [message vector | its closeness to each label's names] (the `e5-codes` method).

    The names' vectors are kept with the estimator, so predicting needs neither the code table nor the
    unlabelled messages. Labels with no names have no column; with fewer than two named labels there are no
    columns at all and this is `e5-chunks`."""

    @classmethod
    def fit_names(cls, label_names: Mapping[str, Sequence[str]], unlabelled: Sequence[str], features: _Features,
                  y: np.ndarray, embed: Embed) -> _NamesBesideVectors:
        named = [label for label in sorted(set(y.tolist())) if label_names.get(label)]
        self = cls()
        self.named, self.names, self.owner = [], np.empty((0, 0)), np.empty(0, dtype=int)
        if len(named) >= 2:
            names = [(j, name) for j, label in enumerate(named) for name in dict.fromkeys(label_names[label])]
            vectors = embed([name for _j, name in names])
            pool = [clean(text)[:CHUNK_CHARS] for text in list(unlabelled)[:UNLABELLED_LIMIT]]
            pool = [text for text in pool if text]
            if pool:  # each name moved towards the past messages nearest it: how citizens say it
                pool_vectors = embed(pool)
                k = min(NAMES_NEIGHBOURS, len(pool))
                nearest = np.argsort(-(vectors @ pool_vectors.T), axis=1)[:, :k]
                vectors = vectors + pool_vectors[nearest].mean(axis=1)
                vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            self.named, self.names, self.owner = named, vectors, np.array([j for j, _name in names])
        self.logistic = _logistic(VECTORS_C).fit(self._matrix(features.of("e5-codes")), y)
        self.classes_ = self.logistic.classes_
        return self

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        return self.logistic.predict_proba(self._matrix(vectors))

    def _matrix(self, vectors: np.ndarray) -> np.ndarray:
        if not self.named:
            return vectors
        similarity = vectors @ self.names.T
        closeness = np.stack([similarity[:, self.owner == j].max(axis=1) for j in range(len(self.named))], axis=1)
        return np.hstack([vectors, NAMES_WEIGHT * (closeness - closeness.mean(axis=1, keepdims=True))])
