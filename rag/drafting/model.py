"""The `openai` generator: a model writes the draft from the analysis and keyed sources.

The deterministic analysis still runs first and is given to the model; the model's verdict and
criterion statuses are compared with it and every disagreement becomes a flag (and is shown next
to the criterion), never resolved silently. Citations come back as opaque source keys, are bound
to chunk ids here, and go through the same numbering and verification as the offline path.
"""

from __future__ import annotations

import json
import re
from typing import get_args

from pydantic import Field

from rag.analysis import Analysis
from rag.drafting.citations import numbers_in
from rag.llm.client import Hooks, LLMClient, Trace
from rag.llm.prompts import chat_messages, versions
from rag.llm.schema import (
    Out,
    OutputProblem,
    Statement,
    bind_citations,
    citations_schema,
    json_object,
    parse_model,
    statement_schema,
)
from rag.llm.sourcekeys import SourceSet, build_sources
from rag.retrieval.passages import SourceDoc
from rag.settings import LLMSettings, Settings
from rag.text import first_sentence
from rag.types import (
    SECTION_TITLES,
    Assessment,
    Bullet,
    Evidence,
    Flag,
    Hit,
    Provenance,
    Section,
    Status,
    Verdict,
    VerdictInfo,
    flatten,
)

PROMPTS = ["draft.system", "draft.user", "reask"]
STATUSES = list(get_args(Status))
VERDICTS = list(get_args(Verdict))


# --- what the model returns ---------------------------------------------------------------------


class CriterionOut(Out):
    status: Status
    rationale: str = Field(min_length=1)
    citations: list[str] = Field(default_factory=list)


class VerdictOut(Out):
    label: Verdict
    summary: str = Field(min_length=1)


class SectionsOut(Out):
    evidence: list[Statement] = Field(default_factory=list)
    patient_context: list[Statement] = Field(default_factory=list)
    dosing: list[Statement] = Field(default_factory=list)
    pitfalls: list[Statement] = Field(default_factory=list)
    recommendation: list[Statement] = Field(default_factory=list)


class DraftOut(Out):
    verdict: VerdictOut
    criteria: dict[str, CriterionOut] = Field(default_factory=dict)
    sections: SectionsOut


def draft_schema(keys: list[str], criterion_ids: list[str], settings: LLMSettings) -> dict:
    """JSON schema of `DraftOut` for this draft: keys and criterion ids as enums, sizes bounded."""
    text = {"type": "string", "maxLength": settings.text_max_chars}
    bullets = {
        "type": "array",
        "items": statement_schema(keys, settings.text_max_chars),
        "minItems": 1,
        "maxItems": settings.bullets_per_section,
    }
    criterion = json_object(
        {
            "status": {"type": "string", "enum": STATUSES},
            "rationale": text,
            "citations": citations_schema(keys),
        }
    )
    return json_object(
        {
            "verdict": json_object({"label": {"type": "string", "enum": VERDICTS}, "summary": text}),
            "criteria": json_object(dict.fromkeys(criterion_ids, criterion)),
            "sections": json_object(dict.fromkeys(SECTION_TITLES, bullets)),
        }
    )


def shape_hint(criterion_ids: list[str]) -> str:
    """The expected JSON, written out for models without schema support (and as a reminder)."""
    criterion = {"status": " | ".join(STATUSES), "rationale": "...", "citations": ["S1"]}
    bullet = [{"text": "...", "citations": ["S1"]}]
    shape = {
        "verdict": {"label": " | ".join(VERDICTS), "summary": "..."},
        "criteria": dict.fromkeys(criterion_ids, criterion),
        "sections": dict.fromkeys(SECTION_TITLES, bullet),
    }
    return json.dumps(shape, indent=1)


def validate_draft(text: str, sources: SourceSet, criterion_ids: list[str]) -> DraftOut:
    """Parse and check the model's answer; `OutputProblem` says what to fix."""
    draft = parse_model(text, DraftOut)
    problems = []
    unknown_ids = sorted(set(draft.criteria) - set(criterion_ids))
    missing_ids = [c for c in criterion_ids if c not in draft.criteria]
    if unknown_ids:
        problems.append(f"criteria has unknown id(s) {', '.join(unknown_ids)}")
    if missing_ids:
        problems.append(f"criteria is missing id(s) {', '.join(missing_ids)}")
    for problem in (
        bind_citations(list(draft.criteria.values()), "rationale", sources),
        bind_citations(_bullets(draft), "text", sources),
    ):
        if problem and problem not in problems:
            problems.append(problem)
    if problems:
        raise OutputProblem("; ".join(problems))
    return draft


def _bullets(draft: DraftOut) -> list[Statement]:
    return [b for key in SECTION_TITLES for b in getattr(draft.sections, key)]


# --- the generator ------------------------------------------------------------------------------


class OpenAIGenerator:
    """Drafts through `LLMClient`; same interface as `ExtractiveGenerator`."""

    name = "openai"

    def __init__(self, settings: LLMSettings, *, client: LLMClient | None = None, hooks: Hooks | None = None):
        self.settings = settings
        self.llm = client or LLMClient(settings, hooks=hooks)
        self.model = self.llm.model
        self.endpoint_host = self.llm.endpoint_host
        self.prompt_versions = versions(PROMPTS)
        self.last_trace: Trace | None = None

    @classmethod
    def create(cls, settings: Settings, *, hooks: Hooks | None = None) -> OpenAIGenerator:
        """The `meddraft.generators` factory: reads the `llm` group of the settings."""
        return cls(settings.llm, hooks=hooks)

    def generate(
        self, question: str, hits: list[Hit], analysis: Analysis, provenance: Provenance
    ) -> Assessment:
        sources = build_sources(draft_items(hits, analysis), self.settings.context_tokens)
        ids = [c.id for c in flatten(analysis.criteria)]
        messages = chat_messages(
            "draft",
            question=question,
            analysis=analysis_text(analysis, sources),
            sources=sources.render(),
            shape=shape_hint(ids),
        )
        draft, trace = self.llm.structured(
            messages,
            schema=draft_schema(sources.keys, ids, self.settings),
            validate=lambda text: validate_draft(text, sources, ids),
        )
        self.last_trace = trace
        provenance.response_format = trace.response_format
        provenance.model_calls = trace.calls
        return to_assessment(question, draft, analysis, sources, provenance)


def draft_items(hits: list[Hit], analysis: Analysis) -> list[Hit]:
    """What a draft's model reads, most important first.

    The chunks the analysis decided on (criteria evidence, deciding criteria first; the request;
    the policy section; dose comparators), then the retrieved hits by fused score.
    """
    known = {chunk.chunk_id: chunk for doc in _docs(analysis) for chunk in doc.chunks}
    ranked = sorted(hits, key=lambda h: -h.score)
    for hit in ranked:  # hits passed scope.admit before they reached the generator
        known.setdefault(hit.chunk_id, hit)
    deciding = {c.id for c in analysis.deciding}
    wanted = [
        e.chunk_id
        for c in sorted(flatten(analysis.criteria), key=lambda c: c.id not in deciding)
        for e in c.evidence
    ]
    wanted += analysis.request.source_chunk_ids
    if analysis.policy and analysis.policy.tree:
        wanted += [n.chunk_id for n in analysis.policy.tree.walk() if n.chunk_id]
    wanted += [cid for comparator in analysis.dosing.comparators for cid in comparator.chunk_ids]
    wanted += [hit.chunk_id for hit in ranked]
    return [known[cid] for cid in wanted if cid in known]


def _docs(analysis: Analysis) -> list[SourceDoc]:
    docs = list(analysis.facts.docs)
    if analysis.policy:
        docs.append(analysis.policy.doc)
    if analysis.label_doc:
        docs.append(analysis.label_doc)
    return docs


def analysis_text(analysis: Analysis, sources: SourceSet) -> str:
    """The deterministic analysis as the model reads it: policy, request, criteria tree, doses."""
    lines = []
    policy = analysis.policy
    if policy:
        section = f', section "{policy.indication.name}"' if policy.indication else " (no section applies)"
        lines.append(f"Policy: {policy.doc.title}{section}")
    request = analysis.request
    dose = request.dose.dose_text if request.dose else ""
    lines.append(
        f"Request: {request.drug} {dose} for {request.indication or 'an unstated indication'}".strip()
    )
    deciding = ", ".join(c.id for c in analysis.deciding) or "none"
    lines.append(f"Analysis verdict: {analysis.verdict} (deciding criteria: {deciding})")
    lines.append("Criteria (id, how children combine, status, rationale, evidence keys):")
    for criterion in analysis.criteria:
        lines += _criterion_lines(criterion, sources, 0)
    dosing = analysis.dosing
    if dosing.requested and dosing.requested.arithmetic:
        lines.append(f"Requested dose arithmetic: {dosing.requested.arithmetic}")
    for c in dosing.comparators:
        if c.mg_per_28_days:
            keys = ", ".join(sources.keys_for(c.chunk_ids)) or "-"
            lines.append(f"Comparator, {c.label}: {c.dose_text[:160]} = {c.arithmetic} [{keys}]")
    lines += [f"Note: {m}" for m in analysis.messages]
    return "\n".join(lines)


def _criterion_lines(criterion, sources: SourceSet, depth: int) -> list[str]:
    keys = ", ".join(sources.keys_for([e.chunk_id for e in criterion.evidence])) or "-"
    text = re.sub(r"\s+", " ", criterion.text)[:240]
    rationale = re.sub(r"\s+", " ", criterion.rationale)[:300]
    head = f"{'  ' * depth}- [{criterion.id}] ({criterion.logic}) {text}"
    out = [f"{head} -> {criterion.status}. {rationale} [{keys}]"]
    for child in criterion.children:
        out += _criterion_lines(child, sources, depth + 1)
    return out


def to_assessment(
    question: str, draft: DraftOut, analysis: Analysis, sources: SourceSet, provenance: Provenance
) -> Assessment:
    """The model's draft bound to chunks, with every disagreement with the analysis flagged."""
    flags = list(analysis.flags)
    criteria = [c.model_copy(deep=True) for c in analysis.criteria]
    quotes = {e.chunk_id: e for c in flatten(analysis.criteria) for e in c.evidence}
    for criterion in flatten(criteria):
        out = draft.criteria[criterion.id]
        if out.status != criterion.status:
            flags.append(
                Flag(
                    kind="disagreement",
                    message=f"Criterion {criterion.id}: the model says {out.status}, the deterministic "
                    f"analysis says {criterion.status} ({first_sentence(criterion.rationale)}). "
                    "Check the evidence before relying on either.",
                    chunk_ids=[e.chunk_id for e in criterion.evidence[:2]],
                )
            )
        criterion.analysis_status = criterion.status
        criterion.status = out.status
        criterion.rationale = out.rationale
        criterion.evidence = [_evidence(cid, sources, quotes) for cid in sources.chunk_ids(out.citations)]
    agree = draft.verdict.label == analysis.verdict
    if not agree:
        flags.insert(
            0,
            Flag(
                kind="disagreement",
                message=f"The model's verdict is {draft.verdict.label}; the deterministic analysis "
                f"says {analysis.verdict}. The verdict shown is the model's: review the criteria "
                "marked as disagreeing before signing.",
            ),
        )
    computed = _analysis_numbers(analysis)
    sections = [
        Section(
            key=key,
            title=SECTION_TITLES[key],
            bullets=[
                Bullet(text=b.text, chunk_ids=sources.chunk_ids(b.citations), computed=computed)
                for b in getattr(draft.sections, key)
            ],
        )
        for key in SECTION_TITLES
    ]
    verdict = VerdictInfo(
        label=draft.verdict.label,
        summary=draft.verdict.summary,
        confidence=analysis.confidence if agree else min(analysis.confidence, 0.5),
        analysis_label=analysis.verdict,
    )
    return analysis.assessment(question, verdict, criteria, sections, provenance, flags)


def _evidence(chunk_id: str, sources: SourceSet, quotes: dict[str, Evidence]) -> Evidence:
    if chunk_id in quotes:
        return quotes[chunk_id].model_copy()
    source = sources.by_key[sources.by_chunk[chunk_id]]
    return Evidence(chunk_id=chunk_id, doc_id=source.hit.doc_id, quote="")


def _analysis_numbers(analysis: Analysis) -> list[str]:
    """Numbers the analysis derived and the draft shows (dose arithmetic, durations, ages)."""
    dosing = analysis.dosing
    shown = [dosing.requested, *dosing.comparators] if dosing.requested else dosing.comparators
    texts = [f"{d.arithmetic} {d.mg_per_28_days or ''}" for d in shown]
    numbers = set().union(*(numbers_in(t) for t in texts))
    return sorted(numbers | {n for c in flatten(analysis.criteria) for n in c.computed})
