"""The server over the demo corpus store (ingested once per test session by tests/conftest.py).

Sessions and the audit trail live in a folder of the test's own, so other tests that read the
corpus store's sessions never see these.
"""

from __future__ import annotations

import pytest

from tests.conftest import DEMO_Q


@pytest.fixture(scope="session")
def desk(corpus_parts, tmp_path_factory):
    from rag.serve.desk import Desk

    settings, store, embedder, retriever = corpus_parts
    return Desk(
        settings, store=store, embedder=embedder, retriever=retriever, folder=tmp_path_factory.mktemp("desk")
    )


@pytest.fixture(scope="session")
def app(desk):
    from rag.serve import create_app

    return create_app(desk.settings, desk=desk)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False)


def new_session(client, reviewer: str = "Dr. Test") -> str:
    response = client.post(
        "/api/assess", json={"question": DEMO_Q, "case_id": "mcas-001", "reviewer": reviewer}
    )
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


@pytest.fixture(scope="session")
def demo_session(client) -> str:
    """One demo draft for read-only tests (tests that review it make their own)."""
    return new_session(client)
