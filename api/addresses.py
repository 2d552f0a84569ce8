"""Where a request came from. Behind a load balancer the peer is the balancer: `frontdoor serve` believes the
X-Forwarded-For of the addresses in FRONTDOOR_FORWARDED_ALLOW_IPS (uvicorn's proxy headers), and of no one else."""
from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection) -> str | None:
    """The client's IP address as the server sees it (None when unknown, e.g. in a test transport)."""
    return connection.client.host if connection.client else None
