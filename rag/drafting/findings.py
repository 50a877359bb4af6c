"""The deciding findings, as a reader wants them: criteria that state the same fact merged into one
reason, each reason in plain words for the verdict, one bullet for the "Deciding findings" block
(what the policy requires, what the record shows, dated and cited) and what would change it.

A coverage line, a section exclusion naming the indication and a diagnosis the record rules out
all say one thing: the patient's diagnosis is not one the policy covers. They become one reason.
Every sentence here is a whole sentence from a template; nothing in the verdict is shortened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.analysis import Analysis
from rag.analysis.evaluators.dose_limit import exceeds
from rag.analysis.evaluators.typed import EXCLUDES, NEEDS_REVIEWER, RULED_OUT
from rag.text import amount, first_sentence, leading_clause, numbers, plain, shorten
from rag.types import Bullet, Criterion, Evidence, Section

FINDINGS_KEY = "findings"
FINDINGS_TITLE = "Deciding findings"
_DIAGNOSIS = re.compile(
    r"^(?:a\s+)?(?:confirmed\s+)?diagnosis\s+of\s+(.+?)(?:\s+confirmed\b|\s+as\b|\s+by\b|,|:|$)", re.I
)
_GENERIC = re.compile(
    r"^(?:the member meets |the patient meets )?(?:one|all|any|either|at least \w+) of the following", re.I
)
_QUOTE_END = re.compile(r'([.!?]")\.')  # '"... a DMARD.".' once the document id between is gone
_DOC_ID = re.compile(r"\s*\((?=[\w-]*[a-z])[a-z0-9]+(?:-[a-z0-9]+)+\)")  # '(cd-201-pa-request)'
_VERDICT_WORDS = {
    "indicated": "is medically indicated",
    "not_indicated": "is not medically indicated",
    "insufficient_information": "cannot be shown to be medically indicated on the current record",
}


@dataclass
class Reason:
    """One deciding fact, with the criteria that state it."""

    criteria: list[Criterion]
    clause: str  # plain words for the verdict's second sentence
    label: str  # short words for the recommendation
    finding: str  # whole sentences for the Deciding findings block
    chunk_ids: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    remedy: str = ""  # the document or change that would turn it

    @property
    def ids(self) -> str:
        return _and([c.id for c in self.criteria])


def reasons(analysis: Analysis) -> list[Reason]:
    """The deciding criteria as reasons, the same fact once, in the order a reader weighs them."""
    deciding = list(analysis.deciding)
    if analysis.verdict == "indicated":
        return [_met(c) for c in analysis.criteria if c.kind == "requirement"][:5]
    out: list[Reason] = []
    dose_of = {d.rationale: d for d in deciding if d.kind == "dose_limit" and d.status == "not_met"}
    said: dict[str, Reason] = {}
    indication = [c for c in deciding if _about_indication(c)]
    if indication and analysis.verdict == "not_indicated":
        out.append(_indication(indication, analysis))
    for c in deciding:
        if c in indication and analysis.verdict == "not_indicated":
            continue
        dose = dose_of.get(c.rationale) if c.status == "not_met" else None
        if dose is None:
            out.append(_other(c))
        elif c.rationale in said:  # 'the dose exceeds the limits' as an exclusion: the same finding
            if c not in said[c.rationale].criteria:
                said[c.rationale].criteria.append(c)
        else:  # said once, where the first criterion that states it stands
            said[c.rationale] = reason = _dose(dose, analysis)
            reason.criteria = [c, *(x for x in reason.criteria if x is not c)]
            out.append(reason)
    return out


def verdict_summary(analysis: Analysis, found: list[Reason]) -> str:
    """At most two sentences: what, for whom, under which policy; then the one or two reasons."""
    r = analysis.request
    drug = r.drug[:1].upper() + r.drug[1:]
    dose = plain(r.dose.dose_text) if r.dose and r.dose.dose_text else ""
    loading = analysis.dosing.loading
    if dose and analysis.dosing.one_time() and loading and loading.dose_mg:  # and the induction
        induction = plain(loading.dose_text)
        once = "" if re.search(r"\bonce\b|\bsingle\b", induction, re.I) else " once"
        dose = f"{induction}{once}, then {dose},"
    head = f"{drug} {dose}".strip() + f" {_VERDICT_WORDS[analysis.verdict]}"
    if r.indication:
        head += f" for this patient with {r.indication}"
    policy = analysis.policy
    if policy and policy.indication:  # the policy's title is in the criteria and the references
        head += f" under the policy's {policy.indication.name} section"
    elif policy:
        head += f" under the {policy.doc.title.rstrip('.')}"
    if analysis.verdict == "indicated":
        section = f" of the {policy.indication.name} section" if policy and policy.indication else ""
        return f"{head}. Every criterion{section} is met on the record."
    if not found:
        return f"{head}." + (f" {first_sentence(analysis.messages[0], 400)}" if analysis.messages else "")
    clauses = [r.clause for r in found[:2]]
    rest = len(found) - 2
    if rest > 0:
        word = "is" if analysis.verdict == "insufficient_information" else "are"
        clauses.append(f"{rest} further {'criterion' if rest == 1 else 'criteria'} {word} open")
    if len(clauses) == 2 and "," in clauses[0]:
        second = f"{clauses[0]}; {clauses[1]}"
    else:
        second = _and(clauses, sep="; " if any("," in c for c in clauses) else ", ")
    return f"{head}. {second[:1].upper()}{second[1:]}."


def findings_section(analysis: Analysis, found: list[Reason]) -> Section:
    bullets = [Bullet(text=r.finding, chunk_ids=r.chunk_ids, computed=r.computed) for r in found]
    return Section(key=FINDINGS_KEY, title=FINDINGS_TITLE, bullets=bullets)


# --- one reason per kind of fact ------------------------------------------------------------------


def _about_indication(c: Criterion) -> bool:
    if c.status != "not_met":
        return False
    if c.kind == "coverage":
        return True
    if c.kind == "exclusion":
        return c.rationale.startswith(EXCLUDES)
    return c.kind == "requirement" and c.rationale.startswith(RULED_OUT)


def diagnosis_named(text: str) -> str:
    """'Diagnosis of systemic mastocytosis confirmed by either of ...' -> 'systemic mastocytosis'."""
    m = _DIAGNOSIS.match(text.strip())
    return m.group(1).strip() if m else ""


def _record_quotes(c: Criterion, policy_doc: str, limit: int = 2) -> list[Evidence]:
    return [e for e in c.evidence if e.doc_id != policy_doc and e.quote][:limit]


def _dated(analysis: Analysis, doc_id: str) -> str:
    """'(the Allergy Clinic Follow-up Note, 2025-04-07)' for a case document; '' when unknown."""
    doc = next((d for d in analysis.facts.docs if d.doc_id == doc_id), None)
    if doc is None:
        return ""
    parts = [plain(doc.title)] + ([doc.date] if doc.date else [])
    return f" ({', '.join(parts)})"


def _indication(group: list[Criterion], analysis: Analysis) -> Reason:
    policy_doc = analysis.policy.doc.doc_id if analysis.policy else ""
    indication = analysis.request.indication or "the requested indication"
    ruled = [c for c in group if c.kind == "requirement"]
    listed = [c for c in group if c.kind != "requirement"]
    dx = next((d for d in (diagnosis_named(c.text) for c in ruled) if d), "")
    sentences, chunk_ids = [], []
    if ruled:
        need = f"a diagnosis of {dx}" if dx else "a diagnosis the record does not support"
        sentences.append(f"Criterion {ruled[0].id} of the policy requires {need}.")
        chunk_ids += [e.chunk_id for e in ruled[0].evidence if e.doc_id == policy_doc][:1]
    if listed:
        quoted = [
            e for c in sorted(listed, key=lambda c: c.kind != "exclusion") for e in c.evidence if e.quote
        ]
        if quoted:
            sentences.append(f'The policy does not cover {indication}: "{_quoted(quoted[0].quote)}"')
            chunk_ids.append(quoted[0].chunk_id)
    quotes = [e for c in ruled for e in _record_quotes(c, policy_doc)][:2]
    dates = [n for e in quotes for n in re.findall(r"\d+", _dated(analysis, e.doc_id))]
    if quotes:
        shown = " and ".join(f'"{_quoted(e.quote)}"{_dated(analysis, e.doc_id)}' for e in quotes)
        sentences.append(f"The record rules out {dx or 'that diagnosis'}: {shown}.")
        chunk_ids += [e.chunk_id for e in quotes]
    if ruled:  # the coverage line and the exclusion say the same; the findings quote them
        clause = f"the policy requires {dx or 'a diagnosis'}, which the record rules out"
    else:
        clause = f"the policy does not cover {indication}"
    remedy = (
        f"documentation that confirms {dx} as the policy defines it"
        if dx
        else f"a policy that covers {indication}"
    )
    return Reason(
        criteria=group,
        clause=clause,
        label="the diagnosis is not one the policy covers",
        finding=" ".join(sentences),
        chunk_ids=list(dict.fromkeys(chunk_ids)),
        computed=[n for c in group for n in c.computed] + dates,
        remedy=remedy,
    )


def _one_time_dose(c: Criterion, analysis: Analysis, chunk_ids: list[str]) -> Reason | None:
    """The reason when the one-time (induction) dose is above the policy's dose for the patient's
    weight while the maintenance rate is within its limit."""
    dosing = analysis.dosing
    requested, loading = dosing.requested, dosing.loading
    limit = next((x for x in dosing.comparators if x.source_kind == "policy"), None)
    single = dosing.one_time()
    if not (
        single and single.dose_mg and loading and loading.dose_mg and exceeds(loading.dose_mg, single.dose_mg)
    ):
        return None
    rate, most = (requested.mg_per_28_days if requested else None), (limit.mg_per_28_days if limit else None)
    if rate and most and exceeds(rate, most):
        return None  # the maintenance rate is over too: the rate is the reason given
    asked, allowed = amount(loading.dose_mg, grouped=True), amount(single.dose_mg, grouped=True)
    ratio = amount(loading.dose_mg / single.dose_mg)
    weight = f" for the patient's weight of {amount(single.weight_kg)} kg" if single.weight_kg else ""
    written = numbers(loading.arithmetic)
    return Reason(
        criteria=[c],
        clause=f"the requested one-time dose of {asked} mg is above the policy's {allowed} mg{weight}",
        label="the one-time dose is above the policy's dose",
        finding=(
            f'The policy gives "{_quoted(single.dose_text)}" as the one-time dose{weight}. The '
            f"request's one-time dose, {plain(loading.dose_text)}, is "
            + (f"{asked} mg, " if loading.per_kg else "")
            + f"{ratio} times that."
        ),
        chunk_ids=list(
            dict.fromkeys(chunk_ids + single.chunk_ids[:1] + analysis.request.weight_chunk_ids[:1])
        ),
        computed=[asked, allowed, ratio, amount(single.weight_kg or 0), *c.computed, *written],
        remedy=f"a one-time dose of {allowed} mg{weight}",
    )


def _dose(c: Criterion, analysis: Analysis) -> Reason:
    requested = analysis.dosing.requested
    limit = next((x for x in analysis.dosing.comparators if x.source_kind == "policy"), None)
    chunk_ids = [e.chunk_id for e in c.evidence[:1]] + analysis.request.source_chunk_ids[:1]
    if reason := _one_time_dose(c, analysis, chunk_ids):
        return reason
    if requested and requested.mg_per_28_days and limit and limit.mg_per_28_days:
        ratio = amount(requested.mg_per_28_days / limit.mg_per_28_days)
        req, lim = amount(requested.mg_per_28_days, grouped=True), amount(limit.mg_per_28_days, grouped=True)
        finding = (
            f'The policy allows "{_quoted(limit.dose_text)}", which is {lim} mg per 28 days. The request, '
            f"{plain(requested.dose_text)}, is {req} mg per 28 days, {ratio} times that limit."
        )
        return Reason(
            criteria=[c],
            clause=f"the requested {req} mg per 28 days is {ratio} times the policy's limit of {lim} mg",
            label="the dose is above the policy's limit",
            finding=finding,
            chunk_ids=list(dict.fromkeys(chunk_ids + limit.chunk_ids[:1])),
            computed=[
                req,
                lim,
                ratio,
                *c.computed,
                *numbers(requested.arithmetic),
                *numbers(limit.arithmetic),
            ],
            remedy=f"a request within the policy's limit of {lim} mg per 28 days",
        )
    return Reason(
        criteria=[c],
        clause="the requested dose is above the policy's limit",
        label="the dose is above the policy's limit",
        finding=f"Criterion {c.id} is not met: {first_sentence(c.rationale, 300)}",
        chunk_ids=chunk_ids,
        computed=list(c.computed),
        remedy="a request within the policy's dose limit",
    )


def _other(c: Criterion) -> Reason:
    text = plain(c.text).rstrip(":. ")
    generic = bool(c.children) and (len(text) < 40 or _GENERIC.search(text))
    head = text.split(" (")[0]  # 'Negative tuberculosis screening (tuberculin skin test ...)'
    text = head if len(text) > 90 and 15 <= len(head) <= 90 else text
    named = text if len(text) <= 90 and not generic else f"criterion {c.id}"
    short = shorten(text, 110)
    reviewer = c.rationale.lower().startswith(NEEDS_REVIEWER)
    if c.status == "not_met" and generic:
        options = "any" if c.logic == "any" else "all"
        clause = f"the record does not show {options} of the {len(c.children)} options of criterion {c.id}"
        finding = f"Criterion {c.id} is not met. {_why(c)}"
        label, remedy = f"criterion {c.id} is not met", f"documentation that meets criterion {c.id}"
    elif c.status == "not_met":
        clause = f"criterion {c.id} is not met" + (f" ({_lower(named)})" if named == text else "")
        finding = f"Criterion {c.id} ({short}) is not met. {_why(c)}"
        label, remedy = f"criterion {c.id} is not met", f"documentation that meets criterion {c.id} ({short})"
    elif reviewer:
        clause = f"criterion {c.id} needs a reviewer's reading of the record"
        finding = f"Criterion {c.id} ({short}) needs a reviewer: the engine cannot read it from the record."
        label, remedy = (
            f"criterion {c.id} needs a reviewer",
            f"a reviewer's finding on criterion {c.id} ({short})",
        )
    else:
        clause = f"the record does not yet document criterion {c.id}" + (
            f" ({_lower(named)})" if named == text else ""
        )
        finding = f"Criterion {c.id} ({short}) is not documented. {_why(c)}"
        label, remedy = f"criterion {c.id} is not documented", f"documentation of criterion {c.id} ({short})"
    return Reason(
        criteria=[c],
        clause=clause,
        label=label,
        finding=finding,
        chunk_ids=_sources(c)[0],
        computed=_sources(c)[1],
        remedy=remedy,
    )


def _met(c: Criterion) -> Reason:
    short = shorten(plain(c.text).rstrip(":. "), 110)
    return Reason(
        criteria=[c],
        clause=f"criterion {c.id} is met",
        label=f"criterion {c.id} is met",
        finding=f"Criterion {c.id} ({short}) is met. {_why(c)}",
        chunk_ids=_sources(c)[0],
        computed=_sources(c)[1],
    )


def _chain(c: Criterion) -> list[Criterion]:
    """The criterion and, down its branches, the child that decided each one (what `_why` cites)."""
    if not c.children or c.rationale.startswith(RULED_OUT):
        return [c]
    return [c, *_chain(next((k for k in c.children if k.status == c.status), c.children[0]))]


def _sources(c: Criterion) -> tuple[list[str], list[str]]:
    """(chunk ids, computed numbers) of what a finding about `c` says."""
    chain = _chain(c)
    chunk_ids = [e.chunk_id for k in chain for e in k.evidence[:3]]
    return list(dict.fromkeys(chunk_ids))[:5], [n for k in chain for n in k.computed]


def _why(c: Criterion) -> str:
    """The reason in the record's words: a leaf's own rationale; for a branch, the options it
    offered and the rationale of the one that decided it (never the mechanical tally). Document
    ids are left out: the citation names the document."""
    if not c.children or c.rationale.startswith(RULED_OUT):
        return _QUOTE_END.sub(r"\1", _DOC_ID.sub("", first_sentence(c.rationale, 300)).replace(" .", "."))
    deciding = next((k for k in c.children if k.status == c.status), c.children[0])
    options = _and([leading_clause(plain(k.text).rstrip(":. "), 140) for k in c.children[:4]], sep="; ")
    lead = {"any": "It asks for one of", "all": "It asks for all of"}.get(c.logic, "It asks for")
    asked = f"{lead}: {options}"
    return f"{asked}{'' if asked.endswith(('…', '.')) else '.'} Criterion {deciding.id}: {_why(deciding)}"


# --- words ----------------------------------------------------------------------------------------


def _and(items: list[str], sep: str = ", ") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return sep.join(items[:-1]) + f"{sep.strip()} and {items[-1]}"


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _quoted(text: str) -> str:
    """A quote as a reader sees it: plain text, whole, ending where its sentence ends."""
    return shorten(plain(text), 300).rstrip()
