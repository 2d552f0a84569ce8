"""The one error a caller of this package has to handle."""
from __future__ import annotations

from collections.abc import Sequence


class ModelUnavailable(Exception):
    """A model could not be found or provisioned from any source.

    The message is one paragraph for a person: which model, what was tried (and why each try failed),
    and how to provide it. `model`, `tried` and `remedy` are kept for callers that format it themselves.
    """

    def __init__(self, model: str, tried: Sequence[str], remedy: str) -> None:
        self.model = model
        self.tried = tuple(tried)
        self.remedy = remedy
        attempts = "; ".join(self.tried) if self.tried else "nothing"
        super().__init__(f"The model {model} is not available. Tried: {attempts}. To provide it: {remedy}")
