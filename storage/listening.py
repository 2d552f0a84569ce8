"""LISTEN on one PostgreSQL channel in a background thread, for a worker's loop that otherwise polls.

Used by the publish follower (knowledge_base/follower.py) and the desk's queue watch (desk/watch.py): a connection of
its own, with TCP keep-alives, LISTENs on the channel and calls `wake` on every notification. It also calls `wake`
on connecting (something may have committed while no one listened) and when the connection drops (so the owner
goes back to polling at its short interval at once); a dropped connection is reopened with backoff. `listening` is
set while the connection is open; `application_name` names it in pg_stat_activity."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from storage.database import Database

log = logging.getLogger(__name__)


class ChannelListener:
    def __init__(self, db: Database, channel: str, *, name: str, what: str,
                 reconnect_seconds: tuple[float, float] = (0.5, 30.0)) -> None:
        """`name`: the thread's and the connection's name; `what`: the notifications' subject, for the log;
        `reconnect_seconds`: the first and the longest wait before reopening a dropped connection."""
        self._db = db
        self._channel = channel
        self._name = name
        self._what = what
        self._reconnect = reconnect_seconds
        self._stopping = threading.Event()
        self.listening = threading.Event()  # set while the listening connection is open
        self.application_name = f"frontdoor-{name}-{os.getpid()}-{id(self):x}"

    def start(self, wake: Callable[[], None], poll_seconds: float) -> None:
        """Listens in a daemon thread until `stop`; `poll_seconds`: how often the owner polls meanwhile (for the log)."""
        self._stopping.clear()
        threading.Thread(target=self._forever, args=(wake, poll_seconds), name=f"frontdoor-{self._name}",
                         daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self.listening.clear()

    def _forever(self, wake: Callable[[], None], poll_seconds: float) -> None:
        import psycopg

        conninfo = self._db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        first, longest = self._reconnect
        wait = first
        while not self._stopping.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, application_name=self.application_name,
                                     connect_timeout=10, keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                     keepalives_count=3) as connection:
                    connection.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    if wait > first:
                        log.warning("listening for %s again (channel %s)", self._what, self._channel)
                    wait = first
                    wake()  # something may have committed while no one was listening
                    while not self._stopping.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            wake()
            except Exception as error:  # psycopg.OperationalError and kin: the server went away, …
                self.listening.clear()
                wake()  # back to polling at the short interval from now, not after the listening safety net's wait
                if self._stopping.is_set():
                    break
                log.warning("the connection listening for %s failed (%s); reconnecting in %.1f s, polling every %.1f s "
                            "meanwhile", self._what, str(error).strip() or type(error).__name__, wait, poll_seconds)
                self._stopping.wait(wait)
                wait = min(wait * 2, longest)
        self.listening.clear()
