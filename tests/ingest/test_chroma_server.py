"""A real Chroma server behind `store.host`: `chroma run` (the chromadb package ships it) on
127.0.0.1, started and stopped here. Ingest, search and assess go through it and must give what a
local store gives; a server killed with SIGKILL in the middle of an ingest gives a clear
"try again" error (exit 75), and the run after its restart completes the store chunk for chunk;
two ingests at once from one store folder take turns instead of interleaving."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ingest.config import StoreSettings
from ingest.store import Store
from tests.conftest import DEMO_Q, REPO

CHROMA = Path(sys.executable).parent / "chroma"
SUBSET = [
    "cases/mcas-001",
    "cases/csu-001",
    "policies/policy-omalizumab.md",
    "labels/label-omalizumab.md",
    "literature/aaaai-2019-mcas-workgroup.md",
    "literature/sr-2025-omalizumab-mcas.md",
    "literature/sr-2021-omalizumab-idiopathic-anaphylaxis.md",
    "literature/study-2022-suspected-mcas-prospective.md",
]


class ChromaServer:
    def __init__(self, data: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data, self.log, self.proc = data, log, None

    def start(self) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        cmd = [str(CHROMA), "run", "--path", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-2000:]
            time.sleep(0.2)
        pytest.fail("chroma run did not answer its heartbeat in 60 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: the server gets no chance to flush or close anything
            self.proc.wait()

    def env(self, collection: str) -> dict[str, str]:
        return {
            **os.environ,
            "MEDDRAFT_STORE__HOST": "127.0.0.1",
            "MEDDRAFT_STORE__PORT": str(self.port),
            "MEDDRAFT_STORE__COLLECTION": collection,
        }


@pytest.fixture
def server(tmp_path):
    srv = ChromaServer(tmp_path / "chroma-server", tmp_path / "chroma-server.log")
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("subset")
    for part in SUBSET:
        src, dst = REPO / "corpus" / part, root / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    return root


@pytest.fixture(scope="module")
def local_store(subset, tmp_path_factory) -> Path:
    """The reference: the same files in a local store."""
    store = tmp_path_factory.mktemp("local")
    assert _cli(["ingest", str(subset), "--store", str(store), "--quiet"]).returncode == 0
    return store


def _cli(args: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def _chunks(settings: StoreSettings) -> dict[str, tuple[str, str, str]]:
    return {c.id: (c.text, c.metadata["doc_id"], c.metadata["content_hash"]) for c in Store(settings).get()}


def _remote(server: ChromaServer, collection: str, folder: Path) -> StoreSettings:
    return StoreSettings(path=folder, host="127.0.0.1", port=server.port, collection=collection)


def test_ingest_search_and_assess_through_a_server_match_a_local_store(server, subset, local_store, tmp_path):
    env = server.env("meddraft")
    folder = tmp_path / "remote-store"  # the manifest and the writer lock stay local
    done = _cli(["ingest", str(subset), "--store", str(folder), "--quiet"], env=env)
    assert done.returncode == 0, done.stderr
    remote = _chunks(_remote(server, "meddraft", folder))
    assert remote == _chunks(StoreSettings(path=local_store))
    assert len(remote) > 100
    assert not (folder / "chroma").exists()  # no vectors were written locally

    again = _cli(["ingest", str(subset), "--store", str(folder)], env=env)
    assert again.returncode == 0
    assert re.search(r"(^|\s)0 added, 0 updated", again.stdout + again.stderr)  # all unchanged

    other = _cli(["ingest", str(subset), "--store", str(tmp_path / "other-folder")], env=env)
    assert other.returncode == 3 and "is written from the store folder" in other.stderr  # one writer folder
    assert _chunks(_remote(server, "meddraft", folder)) == remote  # and it changed nothing

    query = ["search", "omalizumab dose for mast cell activation", "--case", "mcas-001", "--format", "json"]
    hits_remote = json.loads(_cli([*query, "--store", str(tmp_path / "reader")], env=env).stdout)
    hits_local = json.loads(_cli([*query, "--store", str(local_store)]).stdout)
    ids = lambda hits: [h["chunk_id"] for h in hits]  # noqa: E731
    assert ids(hits_remote) == ids(hits_local) and hits_remote
    assert not any(h.get("case_id") == "csu-001" for h in hits_remote)  # another case's notes never

    ask = ["assess", DEMO_Q, "--case", "mcas-001", "--format", "json"]
    draft_remote = json.loads(_cli([*ask, "--store", str(folder)], env=env).stdout)
    draft_local = json.loads(_cli([*ask, "--store", str(local_store)]).stdout)
    assert draft_remote["verdict"]["label"] == draft_local["verdict"]["label"]
    assert [c["status"] for c in draft_remote["criteria"]] == [c["status"] for c in draft_local["criteria"]]


def test_a_server_killed_mid_ingest_then_restarted_loses_nothing(server, subset, local_store, tmp_path):
    env, folder = server.env("killed"), tmp_path / "remote-store"
    settings = _remote(server, "killed", folder)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(subset), "--store", str(folder), "--quiet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = None
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:  # kill at the first chunk written
        try:
            import chromadb
            from chromadb.config import Settings

            client = client or chromadb.HttpClient(
                host="127.0.0.1", port=server.port, settings=Settings(anonymized_telemetry=False)
            )
            if client.get_collection("killed").count() > 0:
                break
        except Exception:  # the collection is not there yet
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest ended before a chunk was seen: nothing was interrupted"
    server.kill()
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 75, err  # temporary: run again when the server is back
    assert "lost the Chroma server at 127.0.0.1:" in err and "Traceback" not in err

    down = _cli(["status", "--store", str(folder)], env=env)  # while it is down: said, not a traceback
    assert down.returncode == 75 and "Chroma server" in down.stderr and "Traceback" not in down.stderr

    server.start()  # same data folder, same port
    rerun = _cli(["ingest", str(subset), "--store", str(folder), "--quiet"], env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert _chunks(settings) == _chunks(StoreSettings(path=local_store))  # nothing lost, stale or twice


def test_two_ingests_at_once_from_one_folder_take_turns(server, subset, local_store, tmp_path):
    env, folder = server.env("turns"), tmp_path / "remote-store"
    first = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(subset), "--store", str(folder), "--quiet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    while first.poll() is None and not (folder / "ingest.lock").exists():
        time.sleep(0.05)
    time.sleep(1.0)
    second = _cli(["ingest", str(subset), "--store", str(folder), "--quiet"], env=env)
    assert first.wait(timeout=600) == 0, first.stderr.read() if first.stderr else ""
    # the second either waited for the first and found nothing to do, or said who holds the store
    if second.returncode == 0:
        assert "Traceback" not in second.stderr
    else:
        assert second.returncode == 3 and "is writing to the store at chroma://127.0.0.1:" in second.stderr
    assert _chunks(_remote(server, "turns", folder)) == _chunks(StoreSettings(path=local_store))
