"""Prior therapy: trials of the qualifying drugs, long enough, ended as the policy accepts.

A trial is read from a medication-table row (its own cells: dates, duration, outcome) or from a
sentence (durations, failure and intolerance words in it and the next). The route the policy
names ('oral antibiotic') excludes the same drug given another way ('clindamycin 1% lotion').
Typed leaves give the drugs, classes (members from the lexicon), minimum duration and count.
"""

from __future__ import annotations

import re

from rag.analysis.criteria import Node as PolicyNode
from rag.analysis.evaluators.common import (
    AFFIRMED,
    FAILURE,
    INTOLERANCE,
    Finding,
    cite,
    examples_of,
    quote,
)
from rag.analysis.lexicon import class_members, umbrella_classes
from rag.analysis.policy import Node
from rag.analysis.record import QUANTITY, TIME_UNIT, CaseFacts, duration_days, durations_days, number_value

_REQ_DURATION = re.compile(
    r"(?:at least|a minimum of|minimum of|for|over|after)\s+"
    rf"({QUANTITY})\s*(?:consecutive\s+)?({TIME_UNIT})\b",
    re.I,
)
THERAPY_WORDS = re.compile(
    r"inadequate response|failure|failed|despite|intoleran|trial of|refractory|response to|"
    r"previously (?:been )?treated|treated with",
    re.I,
)


def required_phrase(text: str) -> str:
    """The policy's own words for the required duration ('at least 28 days')."""
    m = _REQ_DURATION.search(text)
    return m.group(0) if m else ""


def required_days(text: str) -> float | None:
    m = _REQ_DURATION.search(text)
    if not m:
        return None
    return duration_days(number_value(m.group(1)), m.group(2))


_NOT_TRIED = re.compile(
    r"\bhesitan|\bdeclin|\brefus|\breluctan|\bconcern|\bworried|\bafraid|\bread (?:online|about)|"
    r"\bwould (?:like|prefer)|\bconsider|\bplan(?:s|ned)? to\b|\bwill (?:start|begin|try)\b|\bdiscuss",
    re.I,
)


# How a drug is given, when the policy names it ('oral antibiotic', 'systemic corticosteroid'):
# generic route words, not names of drugs.
_ROUTE = re.compile(r"\b(?:oral|systemic|topical|intravenous|injectable|subcutaneous)\b", re.I)
_ROUTES = {
    "oral": r"\b(?:topical|lotion|cream|gel|ointment|wash|foam|solution for skin|intralesional|ophthalmic|"
    r"inhaled|IV|intravenous|injection)\b",
    "systemic": r"\b(?:topical|lotion|cream|gel|ointment|wash|foam|intralesional|ophthalmic|inhaled)\b",
    "topical": r"\b(?:PO|oral(?:ly)?|tablets?|capsules?|IV|intravenous|SC|subcutaneous(?:ly)?)\b",
}


def _clause(sentence: str, start: int, end: int) -> str:
    """The words around a mention, within its clause (commas, semicolons and 'and' bound it)."""
    left = re.split(r"[;,:]|\band\b", sentence[:start])[-1]
    right = re.split(r"[;,:]|\band\b|\bthen\b", sentence[end:])[0]
    return f"{left} {sentence[start:end]} {right}"


def _other_route(wanted: str, text: str) -> bool:
    """True when text gives the drug by a route other than the one the policy names."""
    pattern = _ROUTES.get(wanted.lower())
    return bool(pattern and re.search(pattern, text, re.I))


def check_prior_therapy(node: Node, facts: CaseFacts) -> Finding | None:
    """A prior-therapy criterion read from its wording ('Inadequate response to ... for 8 weeks')."""
    text = node.text
    if not THERAPY_WORDS.search(text):
        return None
    therapy_part = text[THERAPY_WORDS.search(text).start() :]
    qualifying, related = class_members(therapy_part)
    qualifying += examples_of(therapy_part)
    return prior_therapy(text, facts, qualifying, related)


def prior_therapy(
    text: str, facts: CaseFacts, qualifying: list[str], related: list[str], needed: float | None = None
) -> Finding | None:
    """Trials of the qualifying drugs long enough and ended as the policy accepts, or why not.
    `needed`: the shortest trial in days (else read from the text)."""
    if not qualifying:
        return None
    needed = needed if needed is not None else required_days(text)
    requested = {facts.request.drug.lower(), *(a.lower() for a in facts.request.drug_aliases)}
    qualifying = [q for q in dict.fromkeys(qualifying) if q.lower() not in requested]
    mentions = facts.mentions(qualifying)
    # 'never taken ... any biologic': the record may deny a whole class by its common name
    mentions += [m for m in facts.mentions(umbrella_classes(qualifying)) if m.assertion == "negated"]
    tried = [m for m in mentions if m.assertion in AFFIRMED]
    route = _ROUTE.search(text)
    good, short = [], []
    for m in tried:
        row = facts.row_at(m)
        if row is not None:  # a medication-table row: its own cells, never the next row
            if route and _other_route(route.group(0), f"{row.drug_cell} {row.dose}"):
                continue
            days = row.duration_days
            failed = "inadequate response" in row.outcomes
            intolerant = bool({"intolerance", "contraindication"} & set(row.outcomes))
        else:
            if route and _other_route(route.group(0), _clause(m.sentence.text, m.start, m.end)):
                continue  # 'topical clindamycin' is not the oral antibiotic the policy asks for
            window = facts.sentences
            idx = window.index(m.sentence) if m.sentence in window else -1
            # the next sentence may say how it went, unless this is a table row: the next row is
            # another question or another drug ('| Conventional agents tried | ... no response |')
            row_text = m.sentence.text.lstrip().startswith("|")
            context = (
                " ".join(s.text for s in window[idx : idx + 2])
                if idx >= 0 and not row_text
                else m.sentence.text
            )
            days = max(
                durations_days(m.sentence.text, facts.sentence_date(m.sentence) or facts.as_of),
                default=None,
            )
            if _NOT_TRIED.search(m.sentence.text):
                continue  # 'hesitant about methotrexate because of ... nausea': never taken
            failed = bool(FAILURE.search(context))
            intolerant = bool(INTOLERANCE.search(context))
        if intolerant or (failed and (needed is None or (days is not None and days >= needed - 1))):
            good.append((m, days, intolerant))
        elif days is not None and needed is not None and days < needed - 1:
            short.append((m, days))
        elif failed and days is None:
            short.append((m, None))
    need = f" (required: {required_phrase(text)})" if needed else ""
    if good:
        m, days, intolerant = good[0]
        how = (
            "stopped for intolerance"
            if intolerant
            else f"inadequate response after about {days:.0f} days"
            if days
            else "inadequate response"
        )
        return Finding(
            "met",
            f"{m.term}: {how}{need}: {quote(m)}.",
            cite([g[0] for g in good]),
            [f"{days:.0f}"] if days else [],
        )
    if short and any(d is not None for _, d in short):
        m, days = next(s for s in short if s[1] is not None)
        return Finding(
            "not_met",
            f"{m.term} was used for only about {days:.0f} days{need}: {quote(m)}.",
            cite([s[0] for s in short]),
            [f"{days:.0f}"],
        )
    negated = [m for m in mentions if m.assertion == "negated"]
    others = [m for m in facts.mentions(related) if m.assertion in AFFIRMED] if related else []
    if others:
        m = others[0]
        extra = f" No qualifying agent ({', '.join(qualifying[:3])}) is documented." if not negated else ""
        return Finding(
            "not_met",
            f"Only {m.term} is documented, which does not satisfy this criterion{need}: {quote(m)}.{extra}",
            cite(others + negated),
        )
    if negated:
        return Finding(
            "not_met",
            f"The record states no trial of {negated[0].term}: {quote(negated[0])}.",
            cite(negated),
        )
    if short:
        m = short[0][0]
        return Finding(
            "insufficient",
            f"{m.term} is documented but its duration is not stated{need}: {quote(m)}.",
            cite([s[0] for s in short]),
        )
    if tried:
        return Finding(
            "insufficient",
            f"{tried[0].term} is documented without a stated response{need}: {quote(tried[0])}.",
            cite(tried),
        )
    return Finding(
        "insufficient",
        f"No trial of {', '.join(qualifying[:4])} is documented{need}.",
        [],
    )


def prior_therapy_leaf(node: PolicyNode, text: str, facts: CaseFacts) -> Finding | None:
    """The leaf's drugs and classes (members from the lexicon), its minimum duration, over the
    record's trials; the criterion's own wording adds the classes and examples it names."""
    leaf = node.leaf
    qualifying, related = class_members(" ".join(leaf.classes)) if leaf.classes else ([], [])
    worded, worded_related = class_members(text)
    options = [*leaf.drugs, *qualifying, *worded, *examples_of(text)]
    needed = leaf.min_duration_days
    return prior_therapy(text, facts, list(dict.fromkeys(options)), [*related, *worded_related], needed)


def enough_distinct(node: PolicyNode, finding: Finding) -> Finding:
    """'Two different NSAIDs': the trials that count must name that many distinct drugs (or classes)."""
    leaf = node.leaf
    if leaf.count <= 1:
        return finding
    qualifying, _ = class_members(" ".join(leaf.classes)) if leaf.classes else ([], [])
    names = list(dict.fromkeys([*leaf.drugs, *qualifying]))
    quoted = " ".join(e.quote for e in finding.evidence).lower()
    tried = [n for n in names if re.search(rf"\b{re.escape(n.lower())}\b", quoted)]
    if len(tried) >= leaf.count:
        return finding
    found = ", ".join(tried) or "none"
    return Finding(
        "not_met",
        f"The policy requires {leaf.count} different agents; the record documents {len(tried)} ({found}). "
        f"{finding.rationale}",
        finding.evidence,
        finding.computed,
    )
