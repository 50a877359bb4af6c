"""`meddraft serve`: the reviewer's desk, a web page and a JSON API over the same library calls.

`desk` holds what a running server keeps warm (store, embedder, retriever, sessions, audit trail)
and every action a reviewer takes, without any web framework in it; `app` builds the FastAPI
application (token check, errors as JSON or as a page, offline API docs); `api` and `pages` are its
routes; `passages` finds the sentence a citation rests on. FastAPI, Jinja2 and uvicorn are imported
only here, and only when a server is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rag.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, **parts) -> FastAPI:
    """The FastAPI application for `settings` (see `rag.serve.app.create_app`)."""
    from rag.serve.app import create_app as build

    return build(settings, **parts)
