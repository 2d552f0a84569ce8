"""Measuring ticket classification: labelled messages in, accuracy and macro-F1 out.

A labelled file is JSONL, one `{"text": …, "label": …}` per line.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from evaluation.packs import read_json_lines
from models.text_classifier import DEFAULT_METHOD, Embed, TextClassifier


class LabelledFileError(ValueError):
    pass


def _labelled(item: dict) -> tuple[str, str] | str:
    text, label = item.get("text"), item.get("label")
    if not isinstance(text, str) or not text.strip():
        return 'needs a non-empty "text"'
    if not isinstance(label, str) or not label.strip():
        return 'needs a non-empty "label" (text)'
    return text, label.strip()


def read_labelled(path: str | Path) -> list[tuple[str, str]]:
    """(text, label) pairs; raises `LabelledFileError` naming every bad line as PATH:LINE."""
    return read_json_lines(path, LabelledFileError, _labelled)


def write_labelled(rows: Sequence[tuple[str, str]], path: str | Path) -> None:
    Path(path).write_text("".join(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
                                  for text, label in rows), encoding="utf-8")


def evaluate_classifier(train_rows: Sequence[tuple[str, str]], test_rows: Sequence[tuple[str, str]], embed: Embed,
                        *, method: str = DEFAULT_METHOD) -> dict[str, float | int]:
    """Train on `train_rows`, predict `test_rows`: accuracy and macro-F1 over the test labels."""
    from sklearn.metrics import accuracy_score, f1_score

    classifier = TextClassifier.train([t for t, _ in train_rows], [label for _, label in train_rows], embed,
                                      method=method)
    truth = [label for _, label in test_rows]
    predicted = [label for label, _p in classifier.predict([t for t, _ in test_rows], embed)]
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", labels=sorted(set(truth)),
                                         zero_division=0)), 4),
        "test": len(test_rows),
        "train": len(train_rows),
        "labels": len(classifier.labels),
    }
