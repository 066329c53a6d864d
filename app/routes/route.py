"""The route class of the read API: a sync endpoint's response model is rendered to JSON in
the endpoint's own worker thread.

FastAPI runs a sync endpoint in the thread pool, then, back on the event loop, sends what it
returned to the thread pool a second time to be validated and serialized. Each trip costs a
thread hand-off both ways, which under load is most of a cached search's time. Here the
endpoint's thread also renders the model (it was validated when it was built), so a request
makes one trip. OpenAPI still documents the response model; a route function called
directly (the CLI, the HTML pages) still returns the model.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import Response

# Route options under which FastAPI would shape the output differently from the model's
# own JSON; a route setting any of them keeps FastAPI's serialization.
_SHAPING = (
    "response_model_include",
    "response_model_exclude",
    "response_model_exclude_unset",
    "response_model_exclude_defaults",
    "response_model_exclude_none",
)


class ModelRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        model = kwargs.get("response_model")
        if (
            isinstance(model, type)
            and issubclass(model, BaseModel)
            and not inspect.iscoroutinefunction(endpoint)
            and not getattr(endpoint, "_renders_model", False)
            and kwargs.get("status_code") in (None, 200)
            and not any(kwargs.get(option) for option in _SHAPING)
        ):
            endpoint = _rendered(endpoint, model)
        super().__init__(path, endpoint, **kwargs)


def _rendered(endpoint: Callable[..., Any], model: type[BaseModel]) -> Callable[..., Any]:
    # functools.wraps keeps the signature and globals FastAPI reads parameters from.
    @functools.wraps(endpoint)
    def render(*args: Any, **kwargs: Any) -> Any:
        out = endpoint(*args, **kwargs)
        if type(out) is model:
            return Response(out.model_dump_json(), media_type="application/json")
        return out  # a Response (CSV, a stream) or anything FastAPI should shape itself

    render._renders_model = True  # type: ignore[attr-defined]
    return render
