"""Measuring ticket classification: labelled messages in, accuracy and macro-F1 out.

A labelled file is JSONL, one `{"text": …, "label": …}` per line. An unlabelled file (past tickets, for the
methods that learn how citizens word things) is JSONL with a "text" per line, and an optional "subject" read
before it.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def _unlabelled(item: dict) -> tuple[str] | str:
    text, subject = item.get("text"), item.get("subject")
    if not isinstance(text, str) or not text.strip():
        return 'needs a non-empty "text"'
    return (f"{subject.strip()}。{text}" if isinstance(subject, str) and subject.strip() else text),


def read_unlabelled(path: str | Path) -> list[str]:
    """The texts of an unlabelled JSONL file ("subject。text" where a subject is given), in file order."""
    return [text for (text,) in read_json_lines(path, LabelledFileError, _unlabelled)]


def write_labelled(rows: Sequence[tuple[str, str]], path: str | Path) -> None:
    Path(path).write_text("".join(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
                                  for text, label in rows), encoding="utf-8")


def evaluate_classifier(train_rows: Sequence[tuple[str, str]], test_rows: Sequence[tuple[str, str]], embed: Embed,
                        *, method: str = DEFAULT_METHOD, label_names: Mapping[str, Sequence[str]] | None = None,
                        unlabelled: Sequence[str] = ()) -> dict[str, float | int]:
    """Train on `train_rows` (with the code table's `label_names` and `unlabelled` texts, for the methods that read
    them), predict `test_rows`: accuracy and macro-F1 over the test labels."""
    from sklearn.metrics import accuracy_score, f1_score

    classifier = TextClassifier.train([t for t, _ in train_rows], [label for _, label in train_rows], embed,
                                      method=method, label_names=label_names, unlabelled=unlabelled)
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
