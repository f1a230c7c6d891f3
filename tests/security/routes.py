"""Every HTTP route the running web app serves (the API's, the file route, Gradio's), read from
the app itself so that a route added later is attacked too."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount

_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


@dataclass(frozen=True)
class Route:
    path: str  # with {params}
    method: str


def _innermost(app: Any) -> Any:
    while not hasattr(app, "routes"):  # our middlewares wrap the FastAPI app as `.app`
        app = app.app
    return app


def _walk(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        if type(route).__name__ == "_IncludedRouter":  # FastAPI's included router (prefix applied)
            yield from _walk(list(route.effective_candidates()))
        elif isinstance(route, Mount):
            yield from _walk(list(route.routes))
        else:
            yield route


def all_routes(app: Any) -> list[Route]:
    found: set[Route] = set()
    for route in _walk(list(_innermost(app).routes)):
        for method in getattr(route, "methods", None) or ("GET",):
            if method != "HEAD":
                found.add(Route(route.path, method))
    return sorted(found, key=lambda r: (r.path, r.method))


def fill(path: str, values: dict[str, str], default_path: str) -> str:
    """The path with each parameter forged: ids from `values`, paths pointing at server files."""

    def one(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if kind == "path":
            return default_path
        return values.get(name, "1" if name.endswith("id") else "x")

    return _PARAM.sub(one, path)
