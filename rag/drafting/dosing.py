"""The dosing section of a draft: the requested regimen in mg per 28 days against each comparator,
and the one-time (induction) dose against the policy's dose for the patient's weight."""

from __future__ import annotations

from rag.analysis import Analysis
from rag.analysis.policy import core_phrase
from rag.drafting.findings import _and
from rag.drafting.relevance import on_indication
from rag.text import amount, numbers, plain
from rag.types import Bullet, Hit


def dosing_bullets(analysis: Analysis) -> list[Bullet]:
    """The request in mg per 28 days against each comparator (the table that follows it in every
    rendering shows the arithmetic), then the one-time dose before it against the policy's dose
    for the patient's weight, or why that cannot be checked."""
    dosing = analysis.dosing
    requested = dosing.requested
    if requested and requested.per_kg and not requested.weight_kg:
        return [
            Bullet(
                text=f"The request is {plain(requested.dose_text)}; the patient's weight is needed "
                "to convert this per-kg dose to mg.",
                chunk_ids=analysis.request.source_chunk_ids[:1],
            )
        ]
    if not (requested and requested.mg_per_28_days):
        return []
    parts, chunk_ids, computed = [], analysis.request.source_chunk_ids[:1], numbers(requested.arithmetic)
    literature = []
    for c in dosing.comparators:
        if not c.mg_per_28_days:
            continue
        chunk_ids += c.chunk_ids[:1]
        computed += [*numbers(c.arithmetic), amount(c.mg_per_28_days)]
        if c.source_kind == "literature":
            literature.append(c)
            continue
        what = {
            "policy": "the policy's limit",
            "policy_conditional": "the higher limit the policy grants only under a condition",
        }.get(c.source_kind, "the highest labeled dose")
        if c.weight_kg:
            what += f" for a weight of {amount(c.weight_kg)} kg"
            computed.append(amount(c.weight_kg))
        parts.append(_relation(requested.mg_per_28_days, c.mg_per_28_days, what, computed))
    terms = [*analysis.indications, *(c for c in (core_phrase(i) for i in analysis.indications) if c)]
    keys = [(c.mg_per_28_days, not _on_topic(c.label, terms)) for c in literature]
    for value, elsewhere in dict.fromkeys(keys):
        count = keys.count((value, elsewhere))
        where = " on other indications" if elsewhere else ""
        what = (
            f"the regimen a published source{where} reports"
            if count == 1
            else f"the regimen {count} published sources{where} report"
        )
        computed.append(str(count))
        parts.append(_relation(requested.mg_per_28_days, value, what, computed))
    req = amount(requested.mg_per_28_days, grouped=True)
    regimen = plain(requested.dose_text)
    text = f"The request, {regimen}, comes to {req} mg per 28 days" + (f", {_and(parts)}." if parts else ".")
    bullets = [Bullet(text=text, chunk_ids=list(dict.fromkeys(chunk_ids)), computed=computed)]
    single = dosing.one_time()
    if dosing.loading and single and not single.dose_mg:
        bullets.append(
            Bullet(
                text=f"The one-time dose before it, {plain(dosing.loading.dose_text)}, cannot be "
                f"checked: the policy sets it by body weight ({plain(single.dose_text)}) and no "
                "weight is documented.",
                chunk_ids=single.chunk_ids[:1],
                computed=numbers(dosing.loading.arithmetic),
            )
        )
    elif dosing.loading and dosing.loading.dose_mg and single:
        # its own statement, cited to the policy's row and the request that gives the weight
        weight = f" for a weight of {amount(single.weight_kg)} kg" if single.weight_kg else ""
        computed = [amount(dosing.loading.dose_mg), *numbers(dosing.loading.arithmetic)]
        relation = _relation(dosing.loading.dose_mg, single.dose_mg, "the policy's dose", computed)
        bullets.append(
            Bullet(
                text=f"The one-time dose before it, {plain(dosing.loading.dose_text)}, is {relation}"
                f"{weight} ({plain(single.dose_text)}).",
                chunk_ids=list(dict.fromkeys(single.chunk_ids[:1] + analysis.request.weight_chunk_ids[:1])),
                computed=computed,
            )
        )
    return bullets


def _on_topic(label: str, terms: list[str]) -> bool:
    """Whether a literature dose comparator ('Literature: <title>') is about the indication."""
    hit = Hit(doc_id="", title=label, kind="study", chunk_id="", text="")
    return on_indication(hit, "", terms)


def _relation(requested: float, other: float, what: str, computed: list[str]) -> str:
    """'4 times the policy's limit (300 mg)', 'equal to ...', 'below ...'."""
    ratio = requested / other
    value = amount(other, grouped=True)
    if abs(ratio - 1) <= 0.01:
        return f"equal to {what} ({value} mg)"
    if ratio < 1:
        return f"below {what} ({value} mg)"
    computed.append(amount(ratio))
    return f"{amount(ratio)} times {what} ({value} mg)"
