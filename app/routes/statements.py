"""Single statements: full text with passages, source and licence."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.deps import SearchDep
from app.rendered import RenderedDep
from app.routes.route import ModelRoute
from app.schemas import PassageOut, StatementOut
from indexer.errors import NotFound
from indexer.search import Search

router = APIRouter(prefix="/api/v1", tags=["statements"], route_class=ModelRoute)


@router.get(
    "/statements/{statement_id}",
    response_model=StatementOut,
    summary="One statement, its passages, source and licence",
    name="get_statement",
)
async def statement_route(statement_id: str, search: SearchDep, rendered: RenderedDep) -> Response:
    def compute() -> bytes:
        return get_statement(statement_id, search).model_dump_json().encode()

    body = await rendered.answer(search, ("statement", statement_id), compute)
    return Response(body, media_type="application/json")


def get_statement(statement_id: str, search: Search) -> StatementOut:
    """The statement as the route renders it (the HTML pages call this directly)."""
    st = search.backend.statement(statement_id)
    if st is None:
        raise NotFound(f"no statement with id {statement_id!r}")
    return StatementOut(
        id=st.id,
        title=st.title,
        date=st.date,
        published=st.published_on,
        source=st.source,
        url=st.url,
        license=st.license,
        kind=st.kind,
        language=st.language,
        speakers=list(st.speakers),
        series=list(st.series),
        text=st.text,
        meta=dict(st.meta),
        passages=[
            PassageOut(number=p.number, text=p.text, addressee=p.addressee) for p in st.passages
        ],
    )
