"""Per-caller and per-address rate limits on the citizens' channels, and the caller blocks behind them.

Each worker counts the messages of each key (an address, a conversation, a phone number, an openid) in a
sliding minute; past the limit a message is refused with 429 and Retry-After. A key that keeps going to
`block_factor` times its limit within the minute is blocked for `block_minutes` in the database
(desk/blocks.py), so that every worker refuses it until the block ends or an administrator lifts it. With N
workers behind a balancer a key may reach N times the per-worker limit before it is refused; the block, shared,
is what stops a flood. Citizens are told in Chinese (api/content/refusals.yaml)."""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from api.errors import ApiError
from desk.blocks import RATE_LIMIT, CallerBlocks
from ground.clock import BEIJING, utcnow

REFUSALS = Path(__file__).parent / "content" / "refusals.yaml"
WINDOW_SECONDS = 60.0


class SlidingWindow:
    """How many times each key was seen in the last minute, in this worker; at most `max_keys` keys are kept
    (the least recently seen are forgotten first), so a flood of addresses cannot fill the memory."""

    def __init__(self, *, max_keys: int = 100_000, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys
        self._monotonic = monotonic
        self._lock = threading.Lock()

    def hit(self, key: str, keep: int) -> tuple[int, float]:
        """Counts one more message of `key`: (messages in the last minute, this one included; seconds until the
        oldest of them leaves the window). At most `keep` times are remembered per key."""
        now = self._monotonic()
        with self._lock:
            times = self._hits.pop(key, None) or deque(maxlen=keep)
            while times and now - times[0] >= WINDOW_SECONDS:
                times.popleft()
            times.append(now)
            self._hits[key] = times
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
            return len(times), WINDOW_SECONDS - (now - times[0])


@dataclass(frozen=True)
class Refusal:
    code: str             # rate_limited or blocked
    message: str          # for the citizen, in Chinese
    retry_after: int      # seconds

    def as_error(self) -> ApiError:
        return ApiError(429, self.code, self.message, headers={"Retry-After": str(self.retry_after)})


class Guard:
    def __init__(self, blocks: CallerBlocks, *, per_address: int, per_caller: int, block_factor: int = 3,
                 block_minutes: float = 60, refusals: dict[str, str] | None = None,
                 window: SlidingWindow | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.blocks = blocks
        self._limits = {"address": per_address}
        self._per_caller = per_caller
        self._block_factor, self._block_minutes = block_factor, block_minutes
        self._refusals = refusals or load_refusals()
        self._window = window or SlidingWindow()
        self._clock = clock

    def check(self, *keys: str | None) -> Refusal | None:
        """Counts a message of each key given ("address:…", "session:…", "caller:…", "wechat:…"); the refusal
        when one of them is blocked or past its limit, else None."""
        keys = tuple(k for k in keys if k)
        for key in keys:
            if (until := self.blocks.blocked_until(key)) is not None:
                return self._blocked(until)
        for key in keys:
            limit = self._limits.get(key.split(":", 1)[0], self._per_caller)
            count, wait = self._window.hit(key, keep=limit * self._block_factor + 1)
            if count > limit * self._block_factor:
                block = self.blocks.block(key, self._block_minutes, f"more than {limit * self._block_factor} messages "
                                          f"in a minute (the limit is {limit})", by=RATE_LIMIT)
                return self._blocked(block.until)
            if count > limit:
                seconds = max(1, math.ceil(wait))
                return Refusal("rate_limited", self._refusals["rate_limited"].format(seconds=seconds), seconds)
        return None

    def _blocked(self, until: datetime) -> Refusal:
        seconds = max(1, math.ceil((until - self._clock()).total_seconds()))
        shown = until.astimezone(BEIJING).strftime("%m月%d日%H:%M")
        return Refusal("blocked", self._refusals["blocked"].format(until=shown), seconds)


def load_refusals(path: Path = REFUSALS) -> dict[str, str]:
    texts = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = {"rate_limited", "blocked"} - set(texts or {})
    if missing:
        raise ValueError(f"{path}: missing {', '.join(sorted(missing))}")
    return texts
