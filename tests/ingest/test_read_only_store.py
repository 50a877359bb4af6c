"""A store the user may only read: `status`, `status --verify`, `search`, `assess` and `ask` work
and change nothing; `ingest` says it needs write access. A store path that is a file, or that
cannot be created, is a clear error.

The commands run in subprocesses. As root, permissions are not enforced, so there the process
drops CAP_DAC_OVERRIDE (util-linux `setpriv`) and meets the folder's modes as any user would."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main
from tests.conftest import REPO

QUESTION = "Is widgetumab 300 mg SC every 4 weeks medically indicated?"


def _as_user(*args: str) -> subprocess.CompletedProcess:
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*drop, sys.executable, "-m", "rag.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _chmod_tree(folder: Path, writable: bool) -> None:
    for path in (folder, *folder.rglob("*")):
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def read_only_store(tmp_path: Path, mini_corpus: Path, capsys):
    store = tmp_path / "store"
    assert main(["ingest", str(mini_corpus), "--store", str(store), "--quiet"]) == 0
    assert main(["assess", QUESTION, "--case", "case-a", "--store", str(store), "--format", "json"]) == 0
    capsys.readouterr()
    _chmod_tree(store, writable=False)
    yield store
    _chmod_tree(store, writable=True)


def test_read_only_commands_work_on_a_read_only_store_and_change_nothing(read_only_store, mini_corpus):
    store = read_only_store
    before = _snapshot(store)
    cannot_write = _as_user("ingest", str(mini_corpus), "--store", str(store), "--quiet")
    assert cannot_write.returncode == 3
    assert "is read-only for this user: `meddraft ingest` and `meddraft repair` need write access" in (
        cannot_write.stderr
    )
    status = _as_user("status", "--store", str(store), "--format", "json")
    assert status.returncode == 0, status.stderr
    held = json.loads(status.stdout)
    assert (held["documents"], held["chunks"], held["location"]) == (4, 7, str(store.resolve()))
    verified = _as_user("status", "--store", str(store), "--verify")
    assert verified.returncode == 0, verified.stderr
    assert "every document's chunks are in the store" in verified.stdout
    found = _as_user("search", "widgetumab dosing", "--store", str(store))
    assert found.returncode == 0, found.stderr
    assert "policy-widgetumab" in found.stdout
    drafted = _as_user("assess", QUESTION, "--case", "case-a", "--store", str(store))
    assert drafted.returncode == 0, drafted.stderr
    assert drafted.stdout.startswith("# Widgetumab: Medical Necessity Assessment")
    assert "## Criteria check" in drafted.stdout and "## References" in drafted.stdout
    assert "not saved as a session" in drafted.stderr
    session = _as_user("sessions", "--store", str(store)).stdout.split()[0]
    asked = _as_user("ask", session, "What is the requested dose?", "--store", str(store))
    assert asked.returncode == 0, asked.stderr
    assert "this turn was not saved to the session" in asked.stderr
    assert _snapshot(store) == before  # not a byte, not a timestamp changed


def test_a_store_path_that_is_a_file_missing_or_cannot_be_made_is_a_clear_error(
    tmp_path, mini_corpus, capsys
):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a store", encoding="utf-8")
    assert main(["status", "--store", str(a_file)]) == 3
    assert (
        f"the store path {a_file} is a file, not a folder: pass --store a folder" in capsys.readouterr().err
    )
    assert a_file.read_text(encoding="utf-8") == "not a store"

    typo = tmp_path / "stroe"  # read-only commands never create a store where a path was mistyped
    for command in (
        ["status"],
        ["search", "widgetumab"],
        ["assess", QUESTION, "--case", "case-a"],
        ["sessions"],
    ):
        assert main([*command, "--store", str(typo)]) == 3
        assert (
            f"there is no store at {typo}: pass the --store that holds your documents"
            in capsys.readouterr().err
        )
    assert not typo.exists()

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        denied = _as_user("ingest", str(mini_corpus), "--store", str(locked / "new-store"))
    finally:
        locked.chmod(0o755)
    assert denied.returncode == 3
    assert f"cannot create the store folder {locked / 'new-store'} (Permission denied)" in denied.stderr
    assert "Traceback" not in denied.stderr
