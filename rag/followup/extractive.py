"""Extractive answers to follow-up questions: from the draft's trail, its policy, or a scoped search.

Questions about the draft itself ("why is criterion 1 not met?") are answered from its evidence
trail; others from retrieval scoped to the session's case (whatever case or patient the question
names). Sources already cited keep their numbers; new ones are appended. When nothing in the
sources answers, the answer says so.
"""

from __future__ import annotations

import re

from ingest.lexical import STOPWORDS
from ingest.store import Store
from rag.analysis.reviewed import criteria_for
from rag.followup.answers import NOT_FOUND, Answer, AnswerPart, Numbering
from rag.retrieval import scope
from rag.retrieval.hybrid import Retriever
from rag.retrieval.passages import load_documents, text_sentences
from rag.safety import looks_like_instruction
from rag.types import Assessment, flatten

# Words that never decide what a question is about: English stopwords (Lucene's list, the one the
# lexical index drops from queries) and the words every question about a draft has.
_STOP = STOPWORDS | {
    "also", "case", "draft", "give", "list", "patient", "patients", "please", "quote", "review", "said",
    "say", "shall", "show", "tell",
}  # fmt: skip
_ABOUT_DRAFT = re.compile(
    r"\bcriterion\s+[A-Z]?\d|\bwhy\b.*\b(?:met|not met|insufficient|indicated|denied|verdict)\b|"
    r"\bverdict\b|\bwhere does\b|\bwhat would change\b",
    re.I,
)


def _terms(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9-]{2,}", text)} - _STOP


def about_draft(question: str, assessment: Assessment) -> list[AnswerPart]:
    """Answers from the draft's own evidence trail: the criteria the question points at."""
    if not _ABOUT_DRAFT.search(question):
        return []
    wanted = _terms(question)
    ids = set(re.findall(r"\bcriteri(?:on|a)\s+([A-Z]?\d+(?:\.[a-z0-9]+)*)", question, re.I))
    scored = []
    for c in flatten(assessment.criteria):
        overlap = len(wanted & _terms(f"{c.text} {c.rationale}"))
        if (
            c.id in ids
            or overlap >= 2
            or (c.deciding and re.search(r"\bwhy\b|\bverdict\b|change", question, re.I))
        ):
            scored.append((c.id in ids, overlap, c.deciding, c))
    scored.sort(key=lambda t: (t[0], t[1], t[2]), reverse=True)
    parts = []
    for *_, c in scored[:3]:
        status = c.status.replace("_", " ")
        parts.append(
            AnswerPart(text=f"Criterion {c.id} ({c.text}) is {status}: {c.rationale}", citations=c.citations)
        )
    if parts and re.search(r"what would change|change the verdict", question, re.I):
        needed = [c for c in assessment.criteria if c.deciding]
        if needed:
            parts.append(
                AnswerPart(
                    text="The verdict would change if the record showed these criteria met: "
                    + "; ".join(f"{c.id} ({c.text})" for c in needed)
                    + ".",
                    citations=sorted({n for c in needed for n in c.citations}),
                )
            )
    return parts


def from_policy(
    question: str, assessment: Assessment, store: Store, numbering: Numbering
) -> list[AnswerPart]:
    """'Quote the policy's continuation criteria': the criteria of the draft's policy section, as
    compiled (the continuation tree when the question asks for it), each quoted and cited."""
    if not assessment.policy or not re.search(r"\bpolic(?:y|ies)\b", question, re.I):
        return []
    docs = load_documents(store, [assessment.policy["doc_id"]])
    section = assessment.policy.get("section")
    if not docs or not section:
        return []
    doc = docs[0]
    indication = criteria_for(doc).indication(section)
    if indication is None:
        return []
    continuation = re.search(r"continu|renew|re-?authori", question, re.I)
    tree = indication.continuation if continuation else indication.initial
    if tree is None:
        return []
    by_id = {c.chunk_id: c for c in doc.chunks}
    parts = []
    for node in tree.walk()[1:] if tree.children else [tree]:
        chunk = by_id.get(node.chunk_id or "")
        citations = [numbering.cite(chunk)] if chunk else []
        parts.append(AnswerPart(text=f'{node.id}. "{node.text}"', citations=citations))
    if parts:
        what = "continuation criteria" if continuation else "initial criteria"
        parts.insert(
            0, AnswerPart(text=f"{doc.title}, {indication.name}, {what}:", citations=parts[0].citations)
        )
    return parts[:12]


def answer(
    assessment: Assessment, question: str, *, store: Store, retriever: Retriever, k: int = 10
) -> Answer:
    numbering = Numbering(assessment)
    parts = about_draft(question, assessment) + from_policy(question, assessment, store, numbering)
    if parts and re.search(r"\bquote\b", question, re.I):
        return Answer(
            session_id=assessment.session_id or "",
            question=question,
            answer=parts,
            references=numbering.references,
        )
    request = assessment.request
    context = " ".join(
        x for x in (request.drug if request else "", request.indication if request else "") if x
    )
    hits = retriever.search(f"{question} {context}".strip(), case_id=assessment.case_id, k=k)
    hits = scope.admit(hits, assessment.case_id)
    wanted = _terms(question)
    years = {int(y) for y in re.findall(r"\b(?:19|20)\d{2}\b", question)}
    about_dose = re.search(r"\bdos(?:e|es|ing|ed)\b|\bregimens?\b", question, re.I)
    scored, ignored = [], []
    for hit in hits:
        same_year = bool(years) and hit.year in years  # "the 2021 review": that year's source first
        for sentence in text_sentences(hit.text):
            if looks_like_instruction(sentence):
                if len(wanted & _terms(sentence)) >= 1 and hit not in ignored:
                    ignored.append(hit)  # said below: never quoted, never silently dropped
                continue
            overlap = len(wanted & _terms(sentence))
            if about_dose and re.search(r"\d+(?:\.\d+)?\s*(?:mg|g|mcg|µg)\b", sentence):
                overlap += 2  # a dose question is answered by sentences that state doses
            overlap += 2 * same_year if overlap else 0
            if overlap >= max(2, (len(wanted) + 2) // 3):
                scored.append((overlap, hit.score, sentence, hit))
    year_of = {r.n: r.year for r in assessment.references}
    for section in assessment.sections:  # the draft's own statements, with their numbers
        for bullet in section.bullets:
            overlap = len(wanted & _terms(bullet.text))
            if about_dose and re.search(r"\d+(?:\.\d+)?\s*(?:mg|g|mcg|µg)\b", bullet.text):
                overlap += 2
            same_year = any(year_of.get(n) in years for n in bullet.citations) if years else False
            overlap += 2 * same_year if overlap else 0
            if bullet.citations and overlap >= max(2, (len(wanted) + 2) // 3):
                scored.append((overlap + 0.5, 1.0, bullet.text, bullet.citations))
    scored.sort(key=lambda t: (-t[0], -t[1]))
    seen: set[str] = set()
    for _, _, sentence, source in scored:
        if sentence in seen or len(parts) >= 5:
            continue
        seen.add(sentence)
        if isinstance(source, list):
            parts.append(AnswerPart(text=sentence, citations=source))
        else:
            parts.append(AnswerPart(text=sentence, citations=[numbering.cite(source)]))
    if not parts:
        parts = [AnswerPart(text=NOT_FOUND)]
    for hit in ignored[:3]:
        parts.append(
            AnswerPart(
                text=f"{hit.title} contains instruction-like text addressed to a reviewer or a model; "
                "it was ignored as data.",
                citations=[numbering.cite(hit)],
            )
        )
    references = numbering.references
    return Answer(
        session_id=assessment.session_id or "", question=question, answer=parts, references=references
    )
