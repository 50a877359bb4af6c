"""A cold `meddraft` loads only what its command needs: no torch for a query, nothing heavy at import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sentence_transformers", "transformers", "chromadb", "onnxruntime", "tokenizers")
ALSO_LAZY = ("spacy", "medspacy", "tantivy", "scipy", "openai", "pypdf", "docx", "jinja2", "nltk", "sklearn")


def _loaded_after(code: str) -> list[str]:
    """The heavy modules in sys.modules after running `code` in a fresh interpreter."""
    script = code + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps([m for m in {[*HEAVY, *ALSO_LAZY]!r} if m in sys.modules]))
        """
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_library_and_the_cli_loads_nothing_heavy():
    loaded = _loaded_after(
        "import rag, ingest, rag.cli.main, rag.components, ingest.pipeline, ingest.embedding\n"
        "from rag.cli.main import build_parser\n"
        "build_parser()  # every subcommand registered, the eval plug-in too\n"
    )
    assert loaded == []


def test_a_cold_search_runs_without_torch(tmp_path, mini_corpus):
    from rag.cli import main

    store = str(tmp_path / "store")
    assert main(["ingest", str(mini_corpus), "--store", store, "--quiet"]) == 0
    loaded = _loaded_after(
        "from rag.cli import main\n"
        f"assert main(['search', 'widget score', '--store', {store!r}, '--k', '3']) == 0\n"
    )
    assert "onnxruntime" in loaded and "chromadb" in loaded  # it did search
    assert not {"torch", "sentence_transformers", "transformers"} & set(loaded)
    assert not {"spacy", "medspacy"} & set(loaded)  # no clinical analysis for a search


def test_a_cold_assess_runs_the_clinical_analysis_without_torch(tmp_path, mini_corpus):
    from rag.cli import main

    store = str(tmp_path / "store")
    assert main(["ingest", str(mini_corpus), "--store", store, "--quiet"]) == 0
    question = (
        "Is widgetumab 300 mg SC every 4 weeks medically indicated for this patient with chronic "
        "widget disease who failed gadgetol?"
    )
    draft = str(tmp_path / "draft.md")
    loaded = _loaded_after(
        "from rag.cli import main\n"
        f"assert main(['assess', {question!r}, '--case', 'case-a', '--store', {store!r}, "
        f"'--out', {draft!r}]) in (0, 3)\n"
        "import thinc.compat\n"
        "assert not thinc.compat.has_torch  # spaCy was loaded with torch hidden\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('torch')  # and torch can be imported again afterwards\n"
        "import sys, spacy\n"
        "assert 'spacy.cli' not in sys.modules  # its command line was not imported for `spacy.info`\n"
        "assert 'Python version' in spacy.info(markdown=True, silent=True)  # which still works\n"
        "import spacy.cli\n"
        "assert callable(spacy.cli.download)  # and the real command line loads when asked\n"
    )
    assert Path(draft).read_text(encoding="utf-8").strip()
    assert {"medspacy", "onnxruntime"} <= set(loaded)  # the analysis and the embedder ran
    assert not {"torch", "sentence_transformers", "transformers"} & set(loaded)
    assert not {"nltk", "sklearn"} & set(loaded)  # medspaCy's QuickUMLS import was skipped


def test_the_console_script_ends_a_read_command_without_losing_output(tmp_path, mini_corpus):
    """`meddraft search` and `assess` end with os._exit after flushing (no interpreter teardown):
    everything they print and write is there, and the exit status is theirs."""
    from rag.cli import main

    store = str(tmp_path / "store")
    assert main(["ingest", str(mini_corpus), "--store", store, "--quiet"]) == 0
    script = Path(sys.executable).with_name("meddraft")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]
    searched = subprocess.run(
        [*command, "search", "widget score", "--store", store, "--format", "json", "--k", "40"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)  # the whole JSON document, not a cut one
    from ingest.store import Store
    from rag.settings import load_settings

    literature = Store(load_settings(overrides={"store.path": store}).store).get(where={"case_id": ""})
    assert len(hits) == len(literature) and all(h["text"] for h in hits)
    refused = subprocess.run(
        [*command, "search", "widget", "--store", store, "--case", "case-z"], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "case-z" in refused.stderr
    draft = tmp_path / "draft.md"
    question = "Is widgetumab 300 mg SC every 4 weeks medically indicated for chronic widget disease?"
    drafted = subprocess.run(
        [*command, "assess", question, "--case", "case-a", "--store", store, "--out", str(draft)],
        capture_output=True,
        text=True,
    )
    assert drafted.returncode in (0, 3), drafted.stderr
    last = draft.read_text(encoding="utf-8").rstrip().splitlines()[-1]
    assert "written to" in drafted.stderr and "settings hash:" in last  # the provenance footer, last
