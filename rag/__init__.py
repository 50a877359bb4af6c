"""meddraft's library: draft, question and render evidence-grounded medical-necessity reviews.

This namespace is the public API; `eval/`, the CLI's plug-ins and users import from here only:

    from rag import assess, ask, render, load_settings
    settings = load_settings()
    draft = assess("Is DRUG 300 mg SC every 4 weeks medically indicated ...?", "case-001", settings)
    print(render(draft, "md"))

The stages, each a folder, in the order the data flows:

    retrieval/  a query and a scope in, `Hit`s out (hybrid dense + BM25; `scope` decides what a
                case may see)
    analysis/   a question and a case in, an `Analysis` out (request, record, policy criteria,
                evaluators, dosing, verdict; deterministic)
    drafting/   an `Analysis` and `Hit`s in, a cited and verified `Assessment` out (generators
                are plug-ins)
    followup/   a saved draft and a question in, an `Answer` numbered like the draft out
    llm/        the one door to a model (client, answer schemas, source keys, prompts)
    render/     an `Assessment` in, Markdown / JSON / HTML / DOCX out (renderers are plug-ins)
    cli/        the `meddraft` command

Names are imported on first use, so `import rag` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    # the pipeline
    "assess": "rag.api",
    "search": "rag.api",
    "patient_record": "rag.api",
    "ask": "rag.followup",
    "render": "rag.rendering",
    "formats": "rag.rendering",
    "answer_markdown": "rag.rendering.answer",
    # settings and the parts built from them
    "Settings": "rag.settings",
    "load_settings": "rag.settings",
    "build_store": "rag.components",
    "build_embedder": "rag.components",
    "build_retriever": "rag.components",
    "build_indexer": "rag.components",
    "build_generator": "rag.drafting",
    "generators": "rag.drafting",
    "Generator": "rag.drafting",
    "Retriever": "rag.retrieval.hybrid",
    "FusionSettings": "rag.retrieval.fusion",
    "fused_ranking": "rag.retrieval.fusion",
    "SessionStore": "rag.followup",
    # types and errors
    "Assessment": "rag.types",
    "Criterion": "rag.types",
    "Hit": "rag.types",
    "Reference": "rag.types",
    "flatten": "rag.types",
    "Answer": "rag.followup",
    "MeddraftError": "rag.errors",
    "numbers_in": "rag.drafting.citations",
    "disease_names": "rag.drafting.relevance",
    # for CLI plug-ins (`meddraft.commands` entry point)
    "add_generator_args": "rag.cli.llm",
    "spinner": "rag.cli.llm",
}
_RENAMED = {"generators": "names", "fused_ranking": "ranked"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
