"""What a worker counts for Prometheus (`GET /metrics`): turns, HTTP requests, recognition speed, the seats' queue.

Every app has its own `CollectorRegistry`, built by the composition root and handed in; nothing here is global,
so two apps in one process (tests) never count into each other. Every series carries `worker` (the process id):
workers behind one balancer each keep their own counts, so Prometheus scrapes each worker's port directly.

No label holds what a citizen said: labels are channels, decisions, route templates (`/v1/tickets/{number}`, never
the path itself), methods, statuses and urgencies. Gauges of state (the knowledge revision, calls in progress,
the queue) are read when Prometheus scrapes, not kept up to date by hand."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"  # a path no route serves: never the path itself (it could be anything a client typed)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)  # above 1, callers wait for the recogniser


class TicketQueue(Collector):
    """Tickets waiting for a seat, by urgency: one COUNT query when Prometheus scrapes."""

    def __init__(self, worker: str) -> None:
        self._worker = worker
        self._count: Callable[[], dict[str, int]] | None = None

    def watch(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def describe(self) -> list[GaugeMetricFamily]:  # registering must not query the database
        return [self._family()]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        if self._count is not None:
            try:
                for urgency, waiting in sorted(self._count().items()):
                    family.add_metric([self._worker, urgency], waiting)
            except Exception as error:  # the database is down: the other figures still matter, and say so
                log.warning("the ticket queue could not be counted for /metrics: %s", type(error).__name__)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("frontdoor_ticket_queue_depth", "Tickets waiting for a seat (open, unclaimed), by urgency.",
                                 labels=["worker", "urgency"])


class WallState(Collector):
    """What the managers' wall shows, for Prometheus: tickets waiting and the oldest one's wait per city, seats online,
    surge alerts of the last 24 hours. Read from the database when scraped (reports/wall.py `Wall.gauges`), so every
    worker reports the same figures: aggregate them with max(), not sum()."""

    UNKNOWN_CITY = "-"  # a ticket filed with no region

    def __init__(self, worker: str) -> None:
        self._worker = worker
        self._read: Callable[[], Any] | None = None

    def watch(self, read: Callable[[], Any]) -> None:
        self._read = read

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting, oldest, seats, seats_by_city, alerts = self._families()
        if self._read is not None:
            try:
                gauges = self._read()
                for w in gauges.waiting:
                    city = w.city or self.UNKNOWN_CITY
                    waiting.add_metric([self._worker, city], w.tickets)
                    oldest.add_metric([self._worker, city], w.oldest_seconds)
                seats.add_metric([self._worker], gauges.seats_online)
                for city, n in sorted(gauges.seats_online_by_city.items()):
                    seats_by_city.add_metric([self._worker, city], n)
                alerts.add_metric([self._worker], gauges.alerts_24h)
            except Exception as error:  # the database is down: the worker's own figures still matter
                log.warning("the wall's figures could not be read for /metrics: %s", type(error).__name__)
        yield from (waiting, oldest, seats, seats_by_city, alerts)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (GaugeMetricFamily("frontdoor_ticket_queue_by_city", "Tickets waiting for a seat, by city.",
                                  labels=["worker", "city"]),
                GaugeMetricFamily("frontdoor_ticket_oldest_wait_seconds", "How long the oldest waiting ticket has waited, by city.",
                                  labels=["worker", "city"]),
                GaugeMetricFamily("frontdoor_seats_online", "Seats 在线 on the workbench (and seen lately).", labels=["worker"]),
                GaugeMetricFamily("frontdoor_seats_online_by_city", "Seats online, by the city of their teams.",
                                  labels=["worker", "city"]),
                GaugeMetricFamily("frontdoor_surge_alerts_24h", "Surge alerts raised in the last 24 hours.", labels=["worker"]))


class Metrics:
    """One worker's collectors, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None, worker: str | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.worker = worker or str(os.getpid())
        r = self.registry
        self._turns = Counter("frontdoor_turns", "Turns the engine decided, by channel and decision.",
                              ["worker", "channel", "decision"], registry=r)
        self._handoffs = Counter("frontdoor_handoffs", "Turns that went to a seat, by channel and reason.",
                                 ["worker", "channel", "reason"], registry=r)
        self._turn_seconds = Histogram("frontdoor_turn_seconds", "How long the engine took over a turn, by channel.",
                                       ["worker", "channel"], buckets=TURN_BUCKETS, registry=r)
        self._requests = Counter("frontdoor_http_requests", "HTTP requests by method, route template and status.",
                                 ["worker", "method", "route", "status"], registry=r)
        self._request_seconds = Histogram("frontdoor_http_request_seconds", "HTTP request latency by method and route template.",
                                          ["worker", "method", "route"], buckets=HTTP_BUCKETS, registry=r)
        self._rtf = Histogram("frontdoor_asr_real_time_factor", "Seconds of decoding per second of audio, per utterance.",
                              ["worker"], buckets=RTF_BUCKETS, registry=r)
        self._revision = Gauge("frontdoor_knowledge_revision", "The knowledge revision this worker answers from.",
                               ["worker"], registry=r)
        self._calls = Gauge("frontdoor_voice_calls_in_progress", "Phone calls (and recognition streams) this worker holds.",
                            ["worker"], registry=r)
        self._queue = TicketQueue(self.worker)
        r.register(self._queue)
        self._wall = WallState(self.worker)
        r.register(self._wall)

    # ---- what happens ------------------------------------------------------------------------------
    def observe_turn(self, channel: str, decision: str, seconds: float, reason: str | None = None) -> None:
        self._turns.labels(self.worker, channel, decision).inc()
        self._turn_seconds.labels(self.worker, channel).observe(seconds)
        if decision == "handoff" and reason:
            self._handoffs.labels(self.worker, channel, reason).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self._requests.labels(self.worker, method, route, str(status)).inc()
        self._request_seconds.labels(self.worker, method, route).observe(seconds)

    def observe_recognition(self, audio_seconds: float, decode_seconds: float) -> None:
        if audio_seconds > 0:
            self._rtf.labels(self.worker).observe(decode_seconds / audio_seconds)

    # ---- what is, read at scrape time ----------------------------------------------------------------
    def watch(self, *, knowledge_revision: Callable[[], int], queue_depth: Callable[[], dict[str, int]],
              voice_calls: Callable[[], int] | None = None, wall: Callable[[], Any] | None = None) -> None:
        """Called once the worker's services exist: where to read the state gauges from (`wall`: a reader of
        reports/wall.py `Gauges`)."""
        self._revision.labels(self.worker).set_function(knowledge_revision)
        self._calls.labels(self.worker).set_function(voice_calls or (lambda: 0))
        self._queue.watch(queue_depth)
        if wall is not None:
            self._wall.watch(wall)


def route_template(scope: Scope) -> str:
    """The path of the route that served the request, as declared (`/v1/entries/{entry_id}`)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    """Counts every HTTP request by route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe_request(scope.get("method", ""), route_template(scope), status, time.perf_counter() - started)
