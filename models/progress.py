"""Progress reporting for long model steps (hashing, unzipping, converting, downloading).

Callers pass a factory such as `lambda total, desc: tqdm(total=total, desc=desc, unit="B", unit_scale=True)`;
totals are in bytes. Without a factory nothing is reported.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


ProgressFactory = Callable[[int, str], ProgressBar]


class _Silent:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def progress_bar(factory: ProgressFactory | None, total: int, desc: str) -> Iterator[ProgressBar]:
    bar = factory(total, desc) if factory is not None else _Silent()
    try:
        yield bar
    finally:
        bar.close()
