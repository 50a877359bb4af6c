"""meddraft's Python API: the five calls a program needs, typed and documented.

    from meddraft import Settings, ask, assess, ingest, render

    settings = Settings(store={"path": "my-store"})     # env and flags as usual; Settings() = defaults
    report = ingest(["corpus/"], settings)               # files -> the store (idempotent)
    draft = assess("Is omalizumab 300 mg SC every 4 weeks medically indicated?", "mcas-001", settings)
    print(draft.verdict.label, render(draft, "md"))
    Path("draft.ris").write_text(references(draft, "ris"))   # for Zotero/EndNote (or bibtex, csl-json)
    answer = ask(draft.session_id, "Which criteria are not met?", settings)

A thin layer over the packages of the design card (`ingest`, `rag`): nothing heavy is imported
until a call needs it, so `import meddraft` is instant. Errors are `meddraft.MeddraftError` and
its subclasses, each with a message that says what to do. `meddraft.langchain` (extra
`meddraft[langchain]`) is the door for LangChain applications: a retriever, an assess tool and
ingestion from LangChain `Document`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.report import IngestReport
    from rag.followup.answers import Answer
    from rag.settings import Settings
    from rag.types import Assessment

__all__ = [
    "Answer",
    "Assessment",
    "MeddraftError",
    "Settings",
    "ask",
    "assess",
    "ingest",
    "references",
    "render",
    "schema",
]


def ingest(
    paths: Sequence[str | Path],
    settings: Settings | None = None,
    *,
    passwords: Iterable[str] = (),
    rebuild: bool = False,
    fhir: Sequence[str | Path] = (),
    case_id: str | None = None,
) -> IngestReport:
    """Add or refresh files and folders in the store; unchanged files cost nothing, removed ones
    are removed. A file that fails is listed in `report.failed` with its reason; the rest lands.
    `fhir` names FHIR R4 Bundles, each mapped into one case's notes and request (the case is
    `case_id`, else named from the bundle's Patient id), as `meddraft ingest --fhir` does."""
    from ingest.fhir import ingest_with_bundles
    from rag.components import build_indexer
    from rag.settings import load_settings

    indexer = build_indexer(settings or load_settings())
    report, _ = ingest_with_bundles(
        indexer, list(paths), list(fhir), case_id, passwords=passwords, rebuild=rebuild
    )
    return report


def assess(question: str, case_id: str, settings: Settings | None = None, *, save: bool = True) -> Assessment:
    """Draft the assessment of `question` for the case `case_id` with the configured generator
    (offline extractive by default). With `save`, the draft is kept as a session whose id
    (`assessment.session_id`) `ask` takes."""
    from rag.api import assess as draft
    from rag.drafting import build_generator
    from rag.followup.sessions import SessionStore
    from rag.settings import load_settings

    settings = settings or load_settings()
    assessment = draft(question, case_id, settings, generator=build_generator(settings))
    if save:
        SessionStore(settings.store.path).save(assessment, settings.hash())
    return assessment


def ask(session_id: str, question: str, settings: Settings | None = None) -> Answer:
    """Answer a follow-up question on a saved draft; sources keep the draft's numbers."""
    from rag.followup import ask as follow_up

    return follow_up(session_id, question, settings)


def render(assessment: Assessment, fmt: str = "md") -> str | bytes:
    """The draft as `md`, `json`, `html` (str) or `docx` (bytes)."""
    from rag.rendering import render as to_format

    return to_format(assessment, fmt)


def references(assessment: Assessment, fmt: str = "ris") -> str:
    """The draft's reference list for a reference manager: `ris`, `bibtex` or `csl-json`."""
    from rag.rendering.bibliography import export

    return export(assessment.references, fmt)


def schema(name: str = "assessment") -> dict[str, Any]:
    """The JSON schema of an output: `assessment` (what `assess --format json` writes) or `answer`."""
    if name == "assessment":
        from rag.types import Assessment

        return Assessment.model_json_schema()
    if name == "answer":
        from rag.followup.answers import Answer

        return Answer.model_json_schema()
    raise ValueError(f"no schema {name!r}: choose assessment or answer")


def __getattr__(name: str) -> Any:
    """`Settings`, `Assessment`, `Answer` and `MeddraftError`, imported on first use."""
    where = {
        "Settings": "rag.settings",
        "Assessment": "rag.types",
        "Answer": "rag.followup.answers",
        "MeddraftError": "rag.errors",
    }.get(name)
    if where is None:
        raise AttributeError(f"module 'meddraft' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(where), name)
    globals()[name] = value
    return value
