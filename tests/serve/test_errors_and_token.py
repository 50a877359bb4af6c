"""Errors that are not the reviewer's input (empty store, a model that hangs, a bug) and the token."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEMO_Q


def _client(settings, **desk_parts) -> TestClient:
    from rag.serve import create_app
    from rag.serve.desk import Desk

    return TestClient(create_app(settings, desk=Desk(settings, **desk_parts)), raise_server_exceptions=False)


def test_an_empty_store_is_409_with_what_to_do(settings):
    client = _client(settings)
    for response in (
        client.get("/api/cases"),
        client.post("/api/assess", json={"question": DEMO_Q, "case_id": "mcas-001"}),
    ):
        assert response.status_code == 409
        assert "meddraft ingest" in response.json()["error"]
    page = client.get("/")
    assert page.status_code == 409 and "holds no documents" in page.text and "Traceback" not in page.text


class _Silent(BaseHTTPRequestHandler):
    """An endpoint that accepts the request and never answers in time."""

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        time.sleep(3)

    do_POST = do_GET


@pytest.fixture
def silent_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_a_model_that_times_out_is_504(corpus_parts, silent_endpoint, tmp_path):
    settings, store, embedder, retriever = corpus_parts
    slow = settings.model_copy(deep=True)
    slow.llm.base_url, slow.llm.model, slow.llm.timeout, slow.llm.max_retries = silent_endpoint, "m", 0.5, 0
    client = _client(slow, store=store, embedder=embedder, retriever=retriever, folder=tmp_path)
    started = time.perf_counter()
    response = client.post(
        "/api/assess", json={"question": DEMO_Q, "case_id": "mcas-001", "generator": "openai"}
    )
    assert response.status_code == 504, response.text
    assert "llm.timeout" in response.json()["error"] and response.json()["kind"] == "LLMTimeoutError"
    assert time.perf_counter() - started < 60


def test_a_model_that_is_not_configured_is_503(corpus_parts, tmp_path):
    settings, store, embedder, retriever = corpus_parts
    client = _client(settings, store=store, embedder=embedder, retriever=retriever, folder=tmp_path)
    response = client.post(
        "/api/assess", json={"question": DEMO_Q, "case_id": "mcas-001", "generator": "openai"}
    )
    assert response.status_code == 503, response.text
    assert response.json()["kind"] == "ConfigError" and "no model configured" in response.json()["error"]


def test_an_unexpected_failure_is_500_without_a_traceback(client, desk, monkeypatch):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(desk, "catalogue", broken)
    response = client.get("/api/cases")
    assert response.status_code == 500
    assert response.json()["kind"] == "InternalError" and "secret internals" not in response.text
    page = client.get("/")
    assert page.status_code == 500 and "Traceback" not in page.text


def test_every_request_must_carry_the_token(settings):
    from pydantic import SecretStr

    settings.serve.token = SecretStr("s3cret-token")
    client = _client(settings)
    assert client.get("/api/cases").status_code == 401
    assert client.get("/api/cases").json()["kind"] == "TokenRequired"
    assert client.get("/").status_code == 401 and "?token=" in client.get("/").text
    assert client.get("/static/desk.js").status_code == 401
    assert client.get("/openapi.json").status_code == 401
    wrong = client.get("/api/cases", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    bearer = client.get("/api/cases", headers={"Authorization": "Bearer s3cret-token"})
    assert bearer.status_code == 409  # past the check: the store is empty
    redirect = client.get("/cases/x?token=s3cret-token", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].endswith("/cases/x")
    assert "meddraft_token" in redirect.headers["set-cookie"] and "HttpOnly" in redirect.headers["set-cookie"]
    assert client.get("/static/desk.js").status_code == 200  # the cookie now carries it
    client.cookies.clear()
    assert client.get("/static/desk.js", params={"token": "nope"}).status_code == 401


def test_binding_beyond_loopback_needs_a_token(capsys):
    from rag.cli import main
    from rag.errors import ConfigError
    from rag.serve.app import check_bind

    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t")
    with pytest.raises(ConfigError, match="--token"):
        check_bind("0.0.0.0", None)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "MEDDRAFT_SERVE__TOKEN" in capsys.readouterr().err


def test_the_token_comes_from_the_environment(monkeypatch):
    from rag.settings import load_settings

    monkeypatch.setenv("MEDDRAFT_SERVE__TOKEN", "from-env")
    settings = load_settings()
    assert settings.serve.token.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings) and settings.hash() == load_settings(overrides={}).hash()
