"""Which policy, which indication, which phase: the compiled criteria that apply to a request.

The drug's policies are found by name (brand, nonproprietary, suffixed biosimilar names); each is
compiled (or its reviewed file loaded); the indication is the one whose name is most similar to
the requested indication (embedding cosine, with the policy's own abbreviations expanded), above
`analysis.section_min_similarity`. An indication the policy lists as experimental or not covered
is never matched to a covered section it does not name. A renewal request is judged on the
continuation criteria.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from rag.analysis.criteria import Indication, Node, PolicyCriteria
from rag.analysis.policy import core_phrase, names_indication
from rag.analysis.reviewed import criteria_for
from rag.retrieval.passages import SourceDoc

_CONTINUATION = re.compile(
    r"\bcontinu(?:e|ation|ing)\b|\bre-?authori[sz](?:ation|e)\b|\brenew(?:al)?\b|"
    r"\brepeat (?:course|infusion)\b|"
    r"\bcurrently (?:receiving|on)\b|\bmaintain(?:ed)? on\b|\bremain on\b",
    re.I,
)


@dataclass
class Choice:
    """The policy and the part of it that applies."""

    doc: SourceDoc
    criteria: PolicyCriteria
    indication: Indication | None
    phase: str  # initial | continuation
    candidates: list[tuple[str, float]] = field(default_factory=list)
    experimental: list[str] = field(default_factory=list)  # listed uses that name the request

    @property
    def tree(self) -> Node | None:
        if self.indication is None:
            return None
        if self.phase == "continuation" and self.indication.continuation is not None:
            return self.indication.continuation
        return self.indication.initial


_CHECKED = r"(?:\[\s*[xX✓✔]\s*\]|☒|■|☑|\(\s*[xX]\s*\))"
_UNCHECKED = r"(?:\[\s*\]|☐|□|\(\s*\))"
_INITIAL_WORDS = r"(?:initial|new start|new request|initiation|start of therapy)"
_CONTINUE_WORDS = r"(?:continuation|renewal|re-?authori[sz]ation|recertification|continued therapy)"


def phase_of(question: str, request_text: str = "") -> str:
    """Initial or continuation: the question's words first ('Is continuation of ... appropriate'),
    then what the request form says: a checked box ('☒ New start ☐ Continuation'), a field
    ('Request type: Initial') or an answer ('initiation or continuation? Initiation')."""
    if _CONTINUATION.search(question):
        return "continuation"
    form = request_text
    if re.search(rf"{_CHECKED}\s*{_CONTINUE_WORDS}", form, re.I):
        return "continuation"
    if re.search(rf"{_CHECKED}\s*{_INITIAL_WORDS}", form, re.I):
        return "initial"
    answer = re.search(
        rf"(?:request type|type of request|initiation or continuation\??)\s*:?\s*[^\n]{{0,30}}?\b"
        rf"({_INITIAL_WORDS}|{_CONTINUE_WORDS})\b",
        form,
        re.I,
    )
    if answer and re.match(_CONTINUE_WORDS, answer.group(1), re.I):
        return "continuation"
    return "initial"


def choose(
    docs: list[SourceDoc], indications: list[str], embed, min_similarity: float, phase: str, files=()
) -> Choice | None:
    best: Choice | None = None
    for doc in docs:
        policy = criteria_for(doc, files)
        choice = _choose_in(doc, policy, indications, embed, min_similarity, phase)
        if best is None or _rank(choice) > _rank(best):
            best = choice
    return best


def _rank(choice: Choice) -> tuple[bool, float]:
    return (choice.indication is not None, choice.candidates[0][1] if choice.candidates else 0.0)


def _choose_in(
    doc: SourceDoc, policy: PolicyCriteria, indications: list[str], embed, min_similarity: float, phase: str
) -> Choice:
    listed = [item for item in policy.experimental if names_indication(item, indications)]
    named = [i for i in policy.indications if i.initial or i.continuation]
    if not named or not indications:
        return Choice(doc, policy, None, phase, experimental=listed)
    names = [_expanded(i.name, policy, doc.text) for i in named]
    queries = [q for q in indications if q]
    vectors = np.asarray(embed([*names, *queries]), dtype=float)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    sims = vectors[: len(names)] @ vectors[len(names) :].T
    scores = sims.max(axis=1)
    for i, indication in enumerate(named):  # a name the question says outright wins ties
        if names_indication(indication.name, queries) or any(
            names_indication(q, [core_phrase(indication.name) or indication.name]) for q in queries
        ):
            scores[i] = max(scores[i], 0.99)
    order = np.argsort(-scores)
    candidates = [(named[i].name, round(float(scores[i]), 3)) for i in order]
    top = named[int(order[0])]
    if scores[order[0]] < min_similarity:
        return Choice(doc, policy, None, phase, candidates, listed)
    if listed and not names_indication(_section_text(top), queries):
        return Choice(doc, policy, None, phase, candidates, listed)  # the policy excludes it
    return Choice(doc, policy, top, phase, candidates, listed)


def _section_text(indication: Indication) -> str:
    """Everything the section says: its name, its criteria and its 'Not covered' lines."""
    nodes = [n for t in (indication.initial, indication.continuation) if t for n in t.walk()]
    return " ".join([indication.name, *(n.text for n in nodes), *(n.text for n in indication.exclusions)])


def _expanded(name: str, policy: PolicyCriteria, text: str) -> str:
    """'CD' -> 'Crohn's disease (CD)': short headings read with the abbreviations the policy defines."""
    from rag.analysis.acronyms import find_definitions

    definitions = find_definitions([text])
    words = [definitions.get(w, w) for w in name.split()]
    return " ".join(words)
