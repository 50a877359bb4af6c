"""The FastAPI application: the token check, errors as JSON or as a page, offline API docs.

`create_app(settings)` builds it around one `Desk`. Every asset is served from this package (and
the Swagger UI's from the `fastapi-offline` package): the page works with the network cable pulled.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from rag import errors as e
from rag.followup.sessions import SessionNotFoundError
from rag.serve import desk as d

if TYPE_CHECKING:
    from rag.settings import Settings

STATIC = Path(__file__).parent / "static"
COOKIE = "meddraft_token"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

# The most specific class first: the first match decides the status.
STATUSES: list[tuple[type[Exception], int]] = [
    (e.CaseNotFoundError, 404),
    (SessionNotFoundError, 404),
    (d.NotFoundError, 404),
    (e.UnansweredQuestionError, 422),
    (e.QuestionError, 422),
    (d.ReviewInputError, 422),
    (d.EmptyStoreError, 409),
    (d.SignedOffError, 409),
    (e.StoreMismatchError, 409),
    (e.StoreUnavailableError, 503),
    (e.LLMTimeoutError, 504),
    (e.LLMOutputError, 502),
    (e.LLMError, 503),
    (e.ConfigError, 503),  # the server's configuration (e.g. no model configured): not the request
    (e.MeddraftError, 400),
]


def status_of(exc: Exception) -> int:
    return next((code for cls, code in STATUSES if isinstance(exc, cls)), 500)


def check_bind(host: str, token: str | None) -> None:
    """Loopback needs nothing; any other interface needs a token (the page has no accounts)."""
    if host not in LOOPBACK and not token:
        raise e.ConfigError(
            f"binding to {host} exposes the page beyond this machine: give --token T (or set "
            "MEDDRAFT_SERVE__TOKEN), or bind to 127.0.0.1"
        )


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api", "/openapi")) or request.method != "GET"


def create_app(settings: Settings | None = None, *, desk: d.Desk | None = None) -> FastAPI:
    from rag.serve import api, pages
    from rag.settings import load_settings

    settings = settings or load_settings()
    token = settings.serve.token.get_secret_value() if settings.serve.token else None
    app = FastAPI(
        title="meddraft",
        summary="Evidence-grounded medical-necessity drafts, reviewed in the browser.",
        version="0.1.0",
        docs_url=None,  # served below from local assets, not a CDN
        redoc_url=None,
    )
    app.state.desk = desk or d.Desk(settings)
    app.state.token = token
    _mount_docs(app)  # before /static, which would otherwise claim /static/docs
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if token is None or request.url.path == "/favicon.ico":
            return await call_next(request)
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        given = given or request.cookies.get(COOKIE, "")
        from_query = request.query_params.get("token", "") if request.method == "GET" else ""
        if from_query and hmac.compare_digest(from_query.encode(), token.encode()):
            url = request.url.remove_query_params("token")
            response: Response = RedirectResponse(str(url), status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        if not (given and hmac.compare_digest(given.encode(), token.encode())):
            message = (
                "this server needs its token: send 'Authorization: Bearer TOKEN', or open the page "
                "once with ?token=TOKEN"
            )
            return _error(request, 401, message, "TokenRequired")
        return await call_next(request)

    @app.exception_handler(e.MeddraftError)
    async def meddraft_error(request: Request, exc: e.MeddraftError):
        extra = {}
        if isinstance(exc, e.UnansweredQuestionError):
            extra["understood"] = exc.understood
        if isinstance(exc, e.CaseNotFoundError):
            extra["known_cases"] = exc.known
        return _error(request, status_of(exc), str(exc), type(exc).__name__, **extra)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}" for err in exc.errors()
        )
        return _error(request, 422, f"invalid request ({problems}); see /docs", "InvalidRequest")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        message = f"the server failed on this request ({type(exc).__name__}); the server log has details"
        return _error(request, 500, message, "InternalError")

    return app


def _error(request: Request, status: int, message: str, kind: str, **extra) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "kind": kind, "status": status, **extra}, status_code=status)
    from rag.serve.pages import render

    return HTMLResponse(
        render("error.html.j2", status=status, message=message, kind=kind), status_code=status
    )


def _mount_docs(app: FastAPI) -> None:
    """/docs: FastAPI's Swagger UI with its script and style from the fastapi-offline package."""
    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/docs", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="meddraft API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )
