"""Where a request came from. Behind a load balancer the peer is the balancer: run uvicorn with
`--proxy-headers --forwarded-allow-ips <the balancer's address>` (README, "Deployment") so that the client's
address is read from X-Forwarded-For, and only when the balancer sent it."""
from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection) -> str | None:
    """The client's IP address as the server sees it (None when unknown, e.g. in a test transport)."""
    return connection.client.host if connection.client else None
