"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import SearchDep
from app.routes.route import ModelRoute
from app.schemas import Health
from indexer.errors import EngineUnavailable

router = APIRouter(tags=["health"], route_class=ModelRoute)


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, summary="The index is open and readable")
def readyz(search: SearchDep) -> Health:
    if not search.backend.ready():
        raise EngineUnavailable("the index is not open or not readable")
    return Health(
        status="ready", backend=search.backend.name, statements=len(search.backend.statements())
    )
