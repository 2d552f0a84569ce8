"""A call's incoming messages, read as they arrive rather than when the call gets to them.

A protocol delivers a hang-up behind the audio that came before it. A worker that has fallen behind real time
(recognition is slower than the audio, for a moment or for good) would see the hang-up only after recognising
that backlog, and all the while the caller's place stays taken: the telephony platform, which saw its hang-up
answered at once, sends the next call and finds the worker full though it has a place free. So a task reads
ahead of the call: the moment the connection ends, the place is released, and the backlog is dropped unheard
(nobody is on the line to hear what it would say). The backlog is bounded: when the call is that far behind,
reading waits, and the platform's sending with it.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Message = TypeVar("Message")

BACKLOG = 250  # messages: 5 s of 20 ms frames


class Inbox(Generic[Message]):
    """Messages from `read` (None: the connection is over) queued for the call; `ended` runs once, when it is over."""

    def __init__(self, read: Callable[[], Awaitable[Message | None]], ended: Callable[[], None],
                 backlog: int = BACKLOG) -> None:
        self._read = read
        self._ended = ended
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(backlog)
        self.over = False
        self._task = asyncio.create_task(self._pump())

    async def next(self, timeout: float) -> Message | None:
        """The next message; None once the connection is over (whatever is still queued); TimeoutError when
        nothing arrives within `timeout` seconds."""
        if self.over:
            return None
        message = await asyncio.wait_for(self._queue.get(), timeout)
        return None if self.over else message

    async def close(self) -> None:
        """Stop reading (the call is over on our side)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def _pump(self) -> None:
        try:
            while (message := await self._read()) is not None:
                await self._queue.put(message)
        finally:
            self.over = True
            self._ended()
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)  # wakes a call waiting for its next message
