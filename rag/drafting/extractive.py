"""The `extractive` generator: composes the assessment from the analysis and source sentences.

Offline and deterministic. Every bullet is either a source sentence (quoted as written, cited to
its chunk) or a connective template filled with the analysis's own findings (cited to the chunks
those findings rest on). Sentences that address automated reviewers are never used.
"""

from __future__ import annotations

import re

from rag.analysis import Analysis
from rag.analysis.dosing import format_mg
from rag.analysis.lexicon import drug_names
from rag.analysis.policy import core_phrase
from rag.retrieval.passages import text_sentences
from rag.safety import looks_like_instruction
from rag.text import first_sentence, shorten
from rag.types import (
    SECTION_TITLES,
    Assessment,
    Bullet,
    Criterion,
    Hit,
    Provenance,
    Section,
    VerdictInfo,
)

_RESULT = re.compile(
    r"\d+(?:\.\d+)?\s*%|\bresponse|\bremission|\bimprov|\breduc|\bmost common|\bmedian", re.I
)
_CAVEAT = re.compile(
    r"\bonly\b|\bhowever\b|\bcaution|\bmisdiagnos|\boverdiagnos|\blimited\b|\bunclear\b|\buncertain|"
    r"\brisk\b|\bwarning|\bcontraindicat|\bnot (?:recommended|established|approved)|\bdepression|\banxiety|"
    r"\bshould not\b|\bcan trigger|\bmay trigger|\bself-|\bfalse",
    re.I,
)
_CLINICAL = re.compile(
    r"\b(?:visit|emergency|hospital|admission|episode|anaphylaxis|exacerbation|flare|score|failed|"
    r"inadequate|despite|trial|biopsy|diagnos|history|trajectory|worsen|improv|symptom)",
    re.I,
)
_VERDICT_WORDS = {
    "indicated": "is medically indicated",
    "not_indicated": "is NOT medically indicated",
    "insufficient_information": "cannot be determined to be medically indicated on the current record",
}


class ExtractiveGenerator:
    """Assessment = analysis + quoted sentences + connective templates. No model."""

    name = "extractive"
    model = None
    endpoint_host = None
    prompt_versions: dict[str, int] = {}  # noqa: RUF012 (read only)

    @classmethod
    def create(cls, settings=None, *, hooks=None) -> ExtractiveGenerator:
        """The `meddraft.generators` factory: nothing to configure."""
        return cls()

    def generate(
        self, question: str, hits: list[Hit], analysis: Analysis, provenance: Provenance
    ) -> Assessment:
        hits = [h for h in hits if not looks_like_instruction(h.text)]
        bullets = {
            "evidence": self._evidence(hits, analysis),
            "patient_context": self._patient(hits, analysis),
            "dosing": self._dosing(analysis),
            "pitfalls": self._pitfalls(hits, analysis),
            "recommendation": self._recommend(analysis),
        }
        sections = [Section(key=key, title=SECTION_TITLES[key], bullets=b) for key, b in bullets.items()]
        verdict = VerdictInfo(
            label=analysis.verdict, summary=summary(analysis), confidence=analysis.confidence
        )
        return analysis.assessment(
            question, verdict, analysis.criteria, sections, provenance, list(analysis.flags)
        )

    # --- sections -----------------------------------------------------------------------------

    def _evidence(self, hits: list[Hit], analysis: Analysis) -> list[Bullet]:
        names = [analysis.request.drug, *analysis.request.drug_aliases]
        cores = [c for c in (core_phrase(i) for i in analysis.indications) if c]
        scored = []
        for hit in hits:
            if hit.kind not in ("systematic_review", "study", "guideline"):
                continue
            for sentence in text_sentences(hit.text):
                if not about_requested(hit, sentence, names):
                    continue  # a trial of another drug is not evidence for this request
                score = 3 * bool(re.search(r"\d+(?:\.\d+)?\s*%", sentence))
                score += 2 * any(re.search(rf"\b{re.escape(n)}\b", sentence, re.I) for n in names)
                score += any(c.lower() in sentence.lower() for c in cores)
                score += 2 * any(re.search(rf"\b{re.escape(n)}\b", hit.title, re.I) for n in names)
                score += bool(_RESULT.search(sentence)) + bool(re.search(r"\d", sentence))
                if (
                    score >= 4
                    and 40 <= len(sentence) <= 400
                    and not sentence.lower().startswith(("objective", "methods"))
                ):
                    scored.append((score, hit.score, hit, sentence))
        return _pick(scored, limit=7, per_doc=3)

    def _patient(self, hits: list[Hit], analysis: Analysis) -> list[Bullet]:
        scored = []
        for hit in hits:
            if hit.case_id != analysis.case_id:
                continue
            for sentence in text_sentences(hit.text):
                score = 2 * bool(re.search(r"\d", sentence)) + 2 * bool(_CLINICAL.search(sentence))
                score += hit.kind == "clinical_note"
                header = (
                    " | " in sentence
                    or re.match(r"(?:patient|member|visit|date|dob)\b", sentence, re.I)
                    or re.search(r"\b(?:MRN|DOB|Printed)\b", sentence)  # a page or form header
                )
                if (
                    score >= 3
                    and 30 <= len(sentence) <= 400
                    and not header
                    and not looks_like_instruction(sentence)
                ):
                    scored.append((score, hit.score, hit, sentence))
        bullets = _pick(scored, limit=6, per_doc=2)
        for c in analysis.criteria:  # the findings that decided the verdict, in the patient's words
            if c.deciding:
                for e in c.evidence[1:2]:
                    if e.quote and all(e.quote != b.text for b in bullets):
                        bullets.insert(0, Bullet(text=e.quote, chunk_ids=[e.chunk_id]))
        return bullets[:8]

    def _dosing(self, analysis: Analysis) -> list[Bullet]:
        dosing = analysis.dosing
        requested = dosing.requested
        bullets: list[Bullet] = []
        if requested and requested.mg_per_28_days:
            bullets.append(
                Bullet(
                    text=f"Requested: {requested.dose_text or 'the requested regimen'}; "
                    f"{requested.arithmetic}.",
                    chunk_ids=analysis.request.source_chunk_ids[:1],
                    computed=_numbers(requested.arithmetic),
                )
            )
        elif requested and requested.per_kg and not requested.weight_kg:
            bullets.append(
                Bullet(
                    text=f"Requested: {requested.dose_text}; the patient's weight is needed to "
                    "convert this per-kg dose to mg.",
                    chunk_ids=analysis.request.source_chunk_ids[:1],
                )
            )
        for c in dosing.comparators:
            if not c.mg_per_28_days:
                continue
            ratio = ""
            if requested and requested.mg_per_28_days:
                r = requested.mg_per_28_days / c.mg_per_28_days
                ratio = (
                    f" The request is {r:.1f} times this."
                    if abs(r - 1) > 0.01
                    else " The request equals this."
                )
            bullets.append(
                Bullet(
                    text=f'{c.label}: "{c.dose_text[:220]}" = '
                    f"{format_mg(c.mg_per_28_days)} per 28 days.{ratio}",
                    chunk_ids=c.chunk_ids[:1],
                    computed=_numbers(f"{c.mg_per_28_days} {ratio} {c.arithmetic}"),
                )
            )
        return bullets

    def _pitfalls(self, hits: list[Hit], analysis: Analysis) -> list[Bullet]:
        bullets: list[Bullet] = []
        for flag in analysis.flags:
            bullets.append(Bullet(text=flag.message, chunk_ids=flag.chunk_ids[:1]))
        for c in _gaps(analysis.criteria):
            bullets.append(
                Bullet(
                    text=f"Documentation gap for criterion {c.id} ({_short(c.text)}): {c.rationale}",
                    chunk_ids=[e.chunk_id for e in c.evidence[:2]],
                    computed=c.computed,
                )
            )
        for message in analysis.messages:
            bullets.append(Bullet(text=message, chunk_ids=_policy_chunk(analysis)))
        names = [analysis.request.drug, *analysis.request.drug_aliases]
        cores = [c for c in (core_phrase(i) for i in analysis.indications) if c]
        scored = []
        for hit in hits:
            if hit.case_id is not None or hit.kind == "policy":
                continue
            for sentence in text_sentences(hit.text):
                if not _CAVEAT.search(sentence) or not 40 <= len(sentence) <= 350:
                    continue
                if hit.kind != "drug_label" and not about_requested(hit, sentence, names):
                    continue
                topical = any(re.search(rf"\b{re.escape(n)}\b", sentence, re.I) for n in names + cores)
                score = 2 * bool(re.search(r"\d", sentence)) + 2 * topical + (hit.kind == "study")
                if score >= 2:
                    scored.append((score, hit.score, hit, sentence))
        return bullets + _pick(scored, limit=5, per_doc=2)

    def _recommend(self, analysis: Analysis) -> list[Bullet]:
        bullets: list[Bullet] = []
        policy = analysis.policy
        where = (
            f"{policy.doc.title}"
            + (f", section {policy.indication.name}" if policy and policy.indication else "")
            if policy
            else "the policy"
        )
        if analysis.verdict == "not_indicated":
            ids = ", ".join(c.id for c in analysis.deciding)
            bullets.append(
                Bullet(
                    text=f"Deny as requested under {where}: {len(analysis.deciding)} required criteria "
                    f"are not met ({ids}).",
                    computed=[str(len(analysis.deciding)), *re.findall(r"\d+", ids)],
                    chunk_ids=[c.evidence[0].chunk_id for c in analysis.deciding[:1] if c.evidence],
                )
            )
            bullets += [
                _criterion_bullet(c, f"{_short(c.text.rstrip(':'), 80)}: {first_sentence(c.rationale)}")
                for c in analysis.deciding
            ]
            limit = next((c for c in analysis.dosing.comparators if c.source_kind == "policy"), None)
            if (
                limit
                and limit.mg_per_28_days
                and any(c.kind == "dose_limit" and c.status == "not_met" for c in analysis.criteria)
            ):
                bullets.append(
                    Bullet(
                        text=f'If therapy is pursued, the covered maximum is "{limit.dose_text}"; '
                        "a request above it needs an exception with published support for the higher dose.",
                        chunk_ids=limit.chunk_ids[:1],
                    )
                )
        elif analysis.verdict == "insufficient_information":
            bullets += [
                _criterion_bullet(
                    c, f"Pend for documentation: criterion {c.id} ({_short(c.text)}). {c.rationale}"
                )
                for c in analysis.deciding
            ]
            if not analysis.deciding:
                bullets.append(
                    Bullet(
                        text="Refer for medical director review: " + " ".join(analysis.messages),
                        chunk_ids=_policy_chunk(analysis),
                    )
                )
        else:
            bullets.append(
                Bullet(
                    text=f"Approve as requested under {where}: every criterion is met.",
                    chunk_ids=[c.evidence[0].chunk_id for c in analysis.criteria[:1] if c.evidence],
                )
            )
            cont = policy.indication.continuation if policy and policy.indication else None
            if cont is not None and policy.phase == "initial":
                items = "; ".join(_short(n.text, 90) for n in (cont.children or [cont])[:4])
                bullets.append(
                    Bullet(
                        text=f"For reauthorization the policy requires: {items}.",
                        chunk_ids=[cont.chunk_id] if cont.chunk_id else [],
                    )
                )
        return bullets


def summary(analysis: Analysis) -> str:
    r = analysis.request
    dose = r.dose.dose_text if r.dose and r.dose.dose_text else ""
    drug = r.drug[:1].upper() + r.drug[1:]
    head = f"{drug} {dose}".strip() + f" {_VERDICT_WORDS[analysis.verdict]}"
    if r.indication:
        head += f" for this patient with {r.indication}"
    policy = analysis.policy
    if policy:
        head += f" under {policy.doc.title}" + (f" ({policy.indication.name})" if policy.indication else "")
    reasons = [
        f"{_short(c.text.rstrip(':'), 70)} ({c.status.replace('_', ' ')}): "
        f"{first_sentence(c.rationale).rstrip('.')}"
        for c in analysis.deciding[:4]
    ]
    if reasons:
        return f"{head}. Deciding: " + "; ".join(reasons) + "."
    if analysis.messages:
        return f"{head}. {analysis.messages[0]}"
    return f"{head}: every criterion of the applicable section is met."


def _pick(scored: list, limit: int, per_doc: int) -> list[Bullet]:
    scored.sort(key=lambda t: (-t[0], -t[1]))
    out: list[Bullet] = []
    per: dict[str, int] = {}
    seen: set[str] = set()
    for _, _, hit, sentence in scored:
        key = re.sub(r"\W+", " ", sentence.lower())[:120]
        if key in seen or per.get(hit.doc_id, 0) >= per_doc:
            continue
        seen.add(key)
        per[hit.doc_id] = per.get(hit.doc_id, 0) + 1
        out.append(Bullet(text=sentence, chunk_ids=[hit.chunk_id]))
        if len(out) >= limit:
            break
    return out


def _policy_chunk(analysis: Analysis) -> list[str]:
    """The policy's opening chunk: where a statement about the policy as a whole rests."""
    return analysis.policy.doc.chunk_ids[:1] if analysis.policy else []


def _gaps(criteria: list[Criterion]) -> list[Criterion]:
    """Insufficient leaves whose ancestors are not already decided as not met."""
    out = []
    for c in criteria:
        if c.status == "not_met":
            continue
        out += [c] if c.status == "insufficient" and not c.children else _gaps(c.children)
    return out


def _criterion_bullet(criterion: Criterion, text: str) -> Bullet:
    """A bullet about a criterion, cited to the evidence it rests on."""
    return Bullet(
        text=text, chunk_ids=[e.chunk_id for e in criterion.evidence[:3]], computed=criterion.computed
    )


def _short(text: str, size: int = 70) -> str:
    return shorten(text, size)


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))


def _named(names: list[str], text: str) -> bool:
    return any(re.search(rf"\b{re.escape(n)}\b", text, re.I) for n in names if n)


def about_requested(hit: Hit, sentence: str, names: list[str]) -> bool:
    """Whether a literature sentence is about the requested drug: it names the drug, or it names no
    other drug and its document (title or passage) is about the drug."""
    if _named(names, sentence):
        return True
    wanted = {n.lower() for n in names} | {n.lower().split("-")[0] for n in names}
    if any(d.lower() not in wanted for d in drug_names(sentence)):
        return False
    return _named(names, hit.title) or _named(names, hit.text)
