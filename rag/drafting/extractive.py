"""The `extractive` generator: composes the assessment from the analysis and source sentences.

Offline and deterministic. Every bullet is either a source sentence (quoted as written, cited to
its chunk) or a connective template filled with the analysis's own findings (cited to the chunks
those findings rest on). Sentences that address automated reviewers are never used.
"""

from __future__ import annotations

import re

from rag.analysis import Analysis
from rag.analysis.lexicon import drug_names
from rag.analysis.policy import core_phrase
from rag.drafting.dosing import dosing_bullets
from rag.drafting.findings import Reason, _and, reasons, verdict_summary
from rag.drafting.relevance import about_requested, age_matters, on_indication
from rag.retrieval.passages import text_sentences
from rag.safety import looks_like_instruction
from rag.text import plain, shorten
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
# 'The systematic review included 77 patients': a study's size, as its own text states it.
_SIZE = re.compile(
    r"\b(included|enrolled|randomi[sz]ed|analy[sz]ed|identified|recruited)\s+(\d[\d,]*)\s+"
    r"((?:\w+\s)?(?:patients|participants|subjects|cases|adults|children|studies|reports|articles))\b",
    re.I,
)
# an order set's or form's checkbox run ('[X] Ustekinumab 520 mg ... [ ] Premedication'), or a
# signature line: not a sentence a writer would quote as the patient's context
_FORM_OR_SIGNATURE = re.compile(r"\[[ xX]\]|[☐☒]|^(?:electronically )?signed\b", re.I)
_DEFINITIONS = re.compile(r"\b(?:outcome definitions?|definitions?|search strategy)\s*$", re.I)
DESIGNS = {"systematic_review": "systematic review", "study": "study", "guideline": "guideline"}


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
        found = reasons(analysis)
        bullets = {
            "evidence": self._evidence(hits, analysis),
            "patient_context": self._patient(hits, analysis),
            "dosing": dosing_bullets(analysis),
            "pitfalls": self._pitfalls(hits, analysis, found),
            "recommendation": self._recommend(analysis, found),
        }
        sections = [Section(key=key, title=SECTION_TITLES[key], bullets=b) for key, b in bullets.items()]
        verdict = VerdictInfo(
            label=analysis.verdict, summary=verdict_summary(analysis, found), confidence=analysis.confidence
        )
        return analysis.assessment(
            question, verdict, analysis.criteria, sections, provenance, list(analysis.flags)
        )

    # --- sections -----------------------------------------------------------------------------

    def _evidence(self, hits: list[Hit], analysis: Analysis) -> list[Bullet]:
        names = [analysis.request.drug, *analysis.request.drug_aliases]
        cores = [c for c in (core_phrase(i) for i in analysis.indications) if c]
        terms = [*analysis.indications, *cores]
        scored, other = [], []
        for hit in hits:
            if hit.kind not in ("systematic_review", "study", "guideline") or _DEFINITIONS.search(
                hit.section
            ):
                continue  # how outcomes were defined is not a result
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
                    and not sentence.rstrip().endswith("?")  # a summary's question is no finding
                ):
                    # the drug in another indication is context, shown apart and said so
                    (scored if on_indication(hit, sentence, terms) else other).append(
                        (score, hit.score, hit, sentence)
                    )
        picked = _pick(scored, limit=7, per_doc=3)
        context = _pick(other, limit=3, per_doc=1)
        for bullet in context:
            bullet.other_indication = True
        return _with_sizes(picked, hits) + context

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
                    or _FORM_OR_SIGNATURE.search(sentence)
                )
                if (
                    score >= 3
                    and 30 <= len(sentence) <= 400
                    and not header
                    and not looks_like_instruction(sentence)
                ):
                    scored.append((score, hit.score, hit, sentence))
        # what the deciding findings already quote is not said again here
        quoted = [_key(e.quote) for c in analysis.deciding for e in c.evidence if e.quote]
        scored = [t for t in scored if not any(_key(t[3]) in q or q in _key(t[3]) for q in quoted)]
        return _pick(scored, limit=6, per_doc=2)

    def _pitfalls(self, hits: list[Hit], analysis: Analysis, found: list[Reason]) -> list[Bullet]:
        bullets: list[Bullet] = []
        for flag in analysis.flags:
            bullets.append(Bullet(text=flag.message, chunk_ids=flag.chunk_ids[:1]))
        if analysis.verdict != "insufficient_information":  # there the findings already list them
            for c in _gaps(analysis.criteria):
                bullets.append(
                    Bullet(
                        text=f"Criterion {c.id} ({_short(plain(c.text), 90)}) is not settled by the record "
                        "and needs a reviewer before sign-off.",
                        chunk_ids=[e.chunk_id for e in c.evidence[:1]],
                    )
                )
        stated = 0 if found or analysis.verdict == "indicated" else 1  # the verdict says the first
        for message in analysis.messages[stated:]:
            bullets.append(Bullet(text=message, chunk_ids=_policy_chunk(analysis)))
        names = [analysis.request.drug, *analysis.request.drug_aliases]
        cores = [c for c in (core_phrase(i) for i in analysis.indications) if c]
        age = analysis.request.patient_age
        scored = []
        for hit in hits:
            if hit.case_id is not None or hit.kind == "policy":
                continue
            for sentence in text_sentences(hit.text):
                if not _CAVEAT.search(sentence) or not 40 <= len(sentence) <= 350:
                    continue
                if hit.kind != "drug_label" and not (
                    about_requested(hit, sentence, names)
                    or (
                        not _other_drug(sentence, names)
                        and on_indication(hit, sentence, [*analysis.indications, *cores])
                    )
                ):
                    continue  # a caveat about this drug or this indication, not another drug's
                if not age_matters(sentence, age):
                    continue  # a pediatric caveat says nothing about an adult
                topical = any(re.search(rf"\b{re.escape(n)}\b", sentence, re.I) for n in names + cores)
                score = 2 * bool(re.search(r"\d", sentence)) + 2 * topical + (hit.kind == "study")
                if score >= 2:
                    scored.append((score, hit.score, hit, sentence))
        return bullets + _pick(scored, limit=5, per_doc=2)

    def _recommend(self, analysis: Analysis, found: list[Reason]) -> list[Bullet]:
        policy = analysis.policy
        where = f"the {policy.doc.title.rstrip('.')}" if policy else "the policy"
        cites = [cid for r in found[:2] for cid in r.chunk_ids[:1]]
        if analysis.verdict == "not_indicated":
            why = _and(
                [f"{r.label} ({'criteria' if len(r.criteria) > 1 else 'criterion'} {r.ids})" for r in found]
            )
            bullets = [Bullet(text=f"Deny as requested under {where}: {why}.", chunk_ids=cites)]
            remedies = [r.remedy for r in found if r.remedy]
            if remedies:
                bullets.append(
                    Bullet(
                        text=f"The answer would change with {_and(remedies)}.",
                        chunk_ids=cites,
                        computed=[n for r in found for n in r.computed],
                    )
                )
            limit = next((c for c in analysis.dosing.comparators if c.source_kind == "policy"), None)
            if (
                limit
                and limit.mg_per_28_days
                and any(c.kind == "dose_limit" for r in found for c in r.criteria)
            ):
                bullets.append(
                    Bullet(
                        text="The dose the policy covers is "
                        f'"{_short(plain(limit.dose_text), 200)}"; a higher dose needs an exception.',
                        chunk_ids=limit.chunk_ids[:1],
                    )
                )
            return bullets
        if analysis.verdict == "insufficient_information":
            if not found:
                return [
                    Bullet(
                        text="Refer for medical director review: " + " ".join(analysis.messages),
                        chunk_ids=_policy_chunk(analysis),
                    )
                ]
            docs = _and([r.remedy for r in found if r.remedy])
            return [
                Bullet(
                    text=f"Pend under {where} until the record holds {docs}.",
                    chunk_ids=cites,
                    computed=[n for r in found for n in r.computed],
                )
            ]
        bullets = [
            Bullet(
                text=f"Approve as requested under {where}: every criterion is met.",
                chunk_ids=[c.evidence[0].chunk_id for c in analysis.criteria[:1] if c.evidence],
            )
        ]
        cont = policy.indication.continuation if policy and policy.indication else None
        if cont is not None and policy.phase == "initial":
            items = "; ".join(_short(plain(n.text), 90) for n in (cont.children or [cont])[:4])
            bullets.append(
                Bullet(
                    text=f"For reauthorization the policy requires: {items}.",
                    chunk_ids=[cont.chunk_id] if cont.chunk_id else [],
                )
            )
        return bullets


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


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


def _with_sizes(picked: list[Bullet], hits: list[Hit]) -> list[Bullet]:
    """Each cited study's design and size ahead of its results, when its own text states the size."""
    by_chunk = {h.chunk_id: h for h in hits}
    out: list[Bullet] = []
    seen: set[str] = set()
    for bullet in picked:
        hit = by_chunk.get(bullet.chunk_ids[0]) if bullet.chunk_ids else None
        if (
            hit is not None and hit.doc_id not in seen and hit.kind != "guideline"
        ):  # a guideline enrols no one
            seen.add(hit.doc_id)
            for other in (h for h in hits if h.doc_id == hit.doc_id):
                m = _SIZE.search(other.text)
                if m and m.group(0) not in bullet.text:
                    design = DESIGNS.get(hit.kind, "source")
                    text = f"The {design} {m.group(1).lower()} {m.group(2)} {m.group(3)}."
                    out.append(Bullet(text=text, chunk_ids=[other.chunk_id]))
                    break
        out.append(bullet)
    return out


def _policy_chunk(analysis: Analysis) -> list[str]:
    """The policy's opening chunk: where a statement about the policy as a whole rests."""
    return analysis.policy.doc.chunk_ids[:1] if analysis.policy else []


def _gaps(criteria: list[Criterion]) -> list[Criterion]:
    """Insufficient leaves under insufficient parents: what is still open for the verdict."""
    out = []
    for c in criteria:
        if c.status != "insufficient":
            continue  # decided either way: its open sub-criteria do not matter
        out += _gaps(c.children) if c.children else [c]
    return out


def _criterion_bullet(criterion: Criterion, text: str) -> Bullet:
    """A bullet about a criterion, cited to the evidence it rests on."""
    return Bullet(
        text=text, chunk_ids=[e.chunk_id for e in criterion.evidence[:3]], computed=criterion.computed
    )


def _short(text: str, size: int = 70) -> str:
    return shorten(text, size)


def _other_drug(sentence: str, names: list[str]) -> bool:
    wanted = {n.lower() for n in names}
    return any(d.lower() not in wanted for d in drug_names(sentence))
