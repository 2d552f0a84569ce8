"""For the balancer and the monitoring: is this worker ready to serve (`/readyz`), and its figures (`/metrics`).

`/healthz` (routes/health.py) says the worker is alive and which knowledge it answers from; `/readyz` says whether
it should be sent traffic: its models and published index are loaded (and the recogniser, when it serves the
phone line) and the database answers, now."""
from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.auth import METRICS_READERS, PUBLIC
from api.errors import ErrorBody, error_body

router = APIRouter(tags=["operations"])

DATABASE_TIMEOUT_SECONDS = 2.0  # a database that takes longer to say SELECT 1 is not serving anyone either
NOT_READY = "This worker is not ready to serve; the balancer should send requests to another one. See details."


class Readiness(BaseModel):
    status: str = Field(description="ready")
    worker: int = Field(description="This worker's process id.")
    knowledge_revision: int = Field(description="The published knowledge revision this worker's index holds.")
    checks: dict[str, str] = Field(description="models, index, recogniser (ok or off) and database: each ok.")


def _database_answers(services) -> None:
    with services.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _database_problem(services) -> str | None:
    try:
        await asyncio.wait_for(asyncio.to_thread(_database_answers, services), DATABASE_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"did not answer within {DATABASE_TIMEOUT_SECONDS:g} s"
    except Exception as error:  # whatever the driver raises, the database is not serving this worker
        return f"does not answer ({type(error).__name__})"
    return None


async def checks(request: Request) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Each check's outcome, and the problems (empty when the worker is ready)."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return {}, [{"check": "startup", "problem": "the models and the index are still loading"}]
    found = {"models": "ok"}  # the services exist only once the embedder (and the recogniser, if any) loaded
    index = services.knowledge.index.latest
    found["index"] = "ok" if index is not None else "missing"
    if services.voice is not None:
        found["recogniser"] = "ok" if services.voice.recogniser.model is not None else "missing"
    elif getattr(request.app.state, "voice_required", False):
        found["recogniser"] = "missing"
    else:
        found["recogniser"] = "off"
    problem = await _database_problem(services)
    found["database"] = problem or "ok"
    problems = [{"check": name, "problem": outcome} for name, outcome in found.items() if outcome not in ("ok", "off")]
    return found, problems


@router.get("/readyz", response_model=Readiness, dependencies=[Depends(PUBLIC)],
            summary="Should this worker be sent traffic: models, index (and recogniser) loaded, database answering",
            responses={503: {"model": ErrorBody, "description": "not_ready, with the failed checks in details"}})
async def readyz(request: Request):
    found, problems = await checks(request)
    if problems:
        return JSONResponse(error_body("not_ready", NOT_READY, problems), status_code=503, headers={"Retry-After": "5"})
    index = request.app.state.services.knowledge.index.latest
    return Readiness(status="ready", worker=os.getpid(), knowledge_revision=index.revision, checks=found)


@router.get("/metrics", dependencies=[Depends(METRICS_READERS)], response_class=Response,
            summary="This worker's figures for Prometheus (text exposition format); scrape each worker directly",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
