from __future__ import annotations

import os

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import PUBLIC
from api.services import Services, get_services

router = APIRouter(tags=["health"], dependencies=[Depends(PUBLIC)])


class Health(BaseModel):
    status: str = Field(description="ok; or stale: this worker has served an older knowledge revision than the "
                                    "published one for longer than a rebuild should take")
    knowledge_revision: int = Field(description="The knowledge revision this worker answers from.")
    published_revision: int = Field(description="The newest revision published in the database.")
    entries_served: int
    worker: int = Field(description="This worker's process id (also in every response's X-Frontdoor-Worker header).")


@router.get("/healthz", response_model=Health, summary="Is this worker serving, and from which knowledge revision")
def healthz(services: Services = Depends(get_services)) -> Health:
    index = services.knowledge.index.current
    published = services.knowledge.store.revision()
    stale = services.follower is not None and services.follower.is_stale(published)
    return Health(status="stale" if stale else "ok", knowledge_revision=index.revision, published_revision=published,
                  entries_served=index.size, worker=os.getpid())
