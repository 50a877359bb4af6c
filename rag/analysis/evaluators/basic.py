"""Who and what: age, prescriber specialty, exclusions, and presence of a diagnosis."""

from __future__ import annotations

import re

from rag.analysis.evaluators.common import (
    AFFIRMED,
    RULED_OUT,
    STOP,
    Finding,
    cite,
    examples_of,
    latest,
    quote,
    terms_of,
)
from rag.analysis.lexicon import class_members
from rag.analysis.policy import Node, core_phrase
from rag.analysis.record import CaseFacts
from rag.text import shorten
from rag.types import Evidence, Status

# --- age ------------------------------------------------------------------------------------


AGE_RE = re.compile(
    r"\bage[sd]?\s+(\d+(?:\.\d+)?)\s*(years?|months?)\s*(?:of age\s*)?(?:or older|and older|or over|\+)",
    re.I,
)
AGE_RE2 = re.compile(r"\b(\d+)\s*(years?|months?)\s+of age\s+or older", re.I)


def check_age(node: Node, facts: CaseFacts) -> Finding | None:
    match = AGE_RE.search(node.text) or AGE_RE2.search(node.text)
    if not match:
        return None
    minimum = float(match.group(1)) / (12 if match.group(2).lower().startswith("month") else 1)
    age = facts.request.patient_age
    evidence = [m.evidence() for m in facts.mentions(["age", "year-old", "date of birth", "DOB"])[:1]]
    if age is None:
        return Finding("insufficient", "The patient's age is not documented.", evidence)
    status: Status = "met" if age >= minimum else "not_met"
    return Finding(
        status,
        f"Patient is {age:g} years old (requirement: {match.group(0)}).",
        evidence,
        [f"{age:g}"],
    )


# --- prescriber -----------------------------------------------------------------------------


def check_prescriber(node: Node, facts: CaseFacts) -> Finding | None:
    if not re.search(r"prescribed by|in consultation with|specialist", node.text, re.I):
        return None
    specialists = re.findall(r"\b([a-z]+(?:ologist|ist|ician))\b", node.text, re.I)
    stems = [
        re.sub(r"(?:ist|ician)$", "", s.lower()) for s in specialists if s.lower() not in ("specialist",)
    ]
    stems = [s[:-1] if s.endswith("g") and s.endswith("olog") is False else s for s in stems]
    if not stems:
        return None
    pattern = re.compile(rf"\b(?:{'|'.join(re.escape(s) for s in stems)})\w*", re.I)
    hits = [
        s
        for s in facts.sentences
        if pattern.search(s.text)
        and re.search(
            r"prescrib|specialt|physician|clinic|attending|department|board|consult|md\b|do\b|provider",
            s.text,
            re.I,
        )
    ]
    hits.sort(key=lambda s: s.kind != "request")
    if not hits:
        return Finding(
            "insufficient",
            f"No prescriber specialty matching {', '.join(specialists)} is documented.",
            [],
        )
    found = pattern.search(hits[0].text).group(0)
    evidence = [
        Evidence(
            chunk_id=hits[0].chunk_id,
            doc_id=hits[0].doc_id,
            quote=hits[0].clean,
            assertion="present",
        )
    ]
    return Finding(
        "met",
        f"Prescriber specialty documented as {found} ({hits[0].doc_id}).",
        evidence,
    )


# --- exclusions (negatively worded criteria) ------------------------------------------------


_CURRENT_USE = re.compile(
    r"\bcurrent(?:ly)?\b|\btaking\b|\bon \w+ since\b|\bcontinu|\breceiving\b|\bconcurrent|"
    r"\bconcomitant|\bmedication list|\bactive medications",
    re.I,
)
_NOT_IN_USE = re.compile(
    r"discuss|option|consider|counsel|declin|plan|previous|prior|history|stopped|discontinued|\bnot\b|\bno\b|none",
    re.I,
)
_NEGATIVE = re.compile(
    r"^(?:no|not|absence of|without|neither)\b|\bwill not be used\b|\bnot (?:be )?used\b|\bis not\b",
    re.I,
)


def check_exclusion(node: Node, facts: CaseFacts) -> Finding | None:
    text = node.text
    if not _NEGATIVE.search(text):
        return None
    family_counts = bool(re.search(r"\bfamily\b", text, re.I))
    requested = {facts.request.drug.lower(), *(a.lower() for a in facts.request.drug_aliases)}
    qualifying, _ = class_members(text)
    core = re.sub(
        r"^(?:no|not|absence of|without)(?:\s*:\s*|\s+)"
        r"(?:personal\s+(?:or|and)\s+family\s+|personal\s+|family\s+)?(?:history of\s+)?",
        "",
        text,
        flags=re.I,
    )
    subject = re.sub(
        r"^(?:the\s+)?(?:individual|patient|member|person)\s+(?:has|is|had|was)\s+(?:an?\s+)?",
        "",
        core,
        flags=re.I,
    )
    head = re.split(
        r"\s+(?:and|or)\s+(?:no|not)\b|\(|,\s*(?:including|such as|for example|e\.g\.)|;", subject
    )[0].strip()
    strong = terms_of(text, facts) + [m for m in qualifying if m.lower() not in requested]
    if re.search(r"pregnan", text, re.I):
        strong += ["pregnant", "pregnancy"]
    elif head and len(head.split()) <= 6 and not re.search(r"combination|used|concurrent", head, re.I):
        strong.append(head)
    head_words = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", head)} - STOP
    weak = [e for e in examples_of(text) if e.lower() not in requested]
    # the requested indication itself ('RA' in 'repeat RA courses') is not what an exclusion is about
    indication = " ".join([facts.request.indication, *facts.request.indication_terms]).lower()
    terms = [
        t
        for t in dict.fromkeys(strong + weak)
        if t.lower() not in requested
        and t.lower() not in STOP
        and not re.search(rf"\b{re.escape(t.lower())}\b", indication)
    ]
    weak_set = {w.lower() for w in weak} - {s.lower() for s in strong}
    mentions = [
        m
        for m in facts.mentions(terms)
        if m.term.lower() not in weak_set
        or head_words & {w.lower() for w in re.findall(r"[A-Za-z]{5,}", m.sentence.text)}
    ]
    bad = [m for m in mentions if m.assertion in AFFIRMED or (family_counts and m.assertion == "family")]
    if re.search(r"combination|concurrent|concomitant", text, re.I):
        bad = [
            m
            for m in bad
            if m.assertion == "present"
            and _CURRENT_USE.search(m.sentence.text)
            and not _NOT_IN_USE.search(m.sentence.text)
        ]
    if bad:
        m = latest(bad, facts)[0]
        who = "family history" if m.assertion == "family" else "documented"
        return Finding("not_met", f"Exclusion applies: {m.term} {who}: {quote(m)}.", cite(bad))
    negated = [m for m in mentions if m.assertion == "negated"]
    if negated:
        return Finding("met", f"Not present per the record: {quote(negated[0])}.", cite(negated))
    # what was looked for, in the criterion's own words (a class's members are not repeated here)
    searched = [t for t in terms if t.lower() in text.lower() and t.lower() not in weak_set][:3]
    if searched:
        listed = ", ".join(searched[:-1]) + (" or " if len(searched) > 1 else "") + searched[-1]
        return Finding("met", f"The case's notes do not mention {listed}.", [])
    return Finding("met", "Nothing in the case's notes suggests that this exclusion applies.", [])


# --- presence (fallback) ----------------------------------------------------------------------


_LEAD = re.compile(
    r"^(?:confirmed\s+|documented\s+|established\s+|clinical\s+)?(?:diagnosis|evidence|history|presence|documentation)\s+of\s+(?:a\s+|an\s+)?",
    re.I,
)


def concept_of(text: str) -> str:
    head = _LEAD.sub("", text)
    head = re.split(
        r"\s+(?:confirmed|documented|according|as defined|defined|meeting|by|with|that|which|who|per)\b"
        r"|[:;(,]",
        head,
    )[0]
    return head.strip(" .")


def check_presence(node: Node, facts: CaseFacts) -> Finding:
    concept = concept_of(node.text)
    names = [concept, core_phrase(concept), *terms_of(node.text, facts)]
    last = concept.split()[-1] if concept.split() else ""
    if len(last) >= 9:
        names.append(last)  # 'No sarcoidosis.' also speaks to 'pulmonary sarcoidosis'
    names = [n for n in dict.fromkeys(names) if n and len(n) > 3 and n.lower() not in STOP]
    mentions = [m for m in (facts.mentions(names) if names else []) if "FAMILY" not in m.categories]
    affirmed = [m for m in mentions if m.assertion in AFFIRMED]
    negated = [m for m in mentions if m.assertion == "negated"]
    unsure = [m for m in mentions if m.assertion in ("uncertain", "pending", "hypothetical")]
    if negated and not affirmed:
        m = latest(negated, facts)[0]
        return Finding(
            "not_met",
            f"{RULED_OUT}: {quote(m)}.",
            cite(latest(negated, facts)),
        )
    if affirmed and not negated:
        m = latest(affirmed, facts)[0]
        return Finding("met", f"Documented: {quote(m)}.", cite(latest(affirmed, facts)))
    if affirmed and negated:
        newest = latest(affirmed + negated, facts)[0]
        status: Status = "met" if newest.assertion in AFFIRMED else "not_met"
        return Finding(
            status,
            f"Conflicting statements; the most recent says: {quote(newest)}.",
            cite(latest(affirmed + negated, facts)),
        )
    if unsure:
        return Finding(
            "insufficient",
            f"Only uncertain or pending statements: {quote(unsure[0])}.",
            cite(unsure),
        )
    return Finding("insufficient", f"No documentation found for: {shorten(concept or node.text, 120)}.", [])
