"""Coverage: the indication against the policy's experimental list and the section's exclusions."""

from __future__ import annotations

import re

from rag.analysis.policy import PolicyMatch, names_indication
from rag.analysis.record import CaseFacts
from rag.types import Criterion, Evidence, Status


def coverage_criteria(match: PolicyMatch, facts: CaseFacts, indications: list[str]) -> list[Criterion]:
    """The indication against the policy's experimental list and the section's 'Not covered' lines."""
    out: list[Criterion] = []
    for i, (item, chunk_id) in enumerate(match.experimental, start=1):
        out.append(
            Criterion(
                id=f"P{i}",
                kind="coverage",
                logic="leaf",
                status="not_met",
                text="The requested indication is not listed as experimental, investigational or not covered",
                rationale=f'The policy lists "{item}" as experimental/investigational (not covered), '
                "which names the requested indication.",
                evidence=[Evidence(chunk_id=chunk_id, doc_id=match.doc.doc_id, quote=item)],
            )
        )
    if match.section:
        long_forms = [
            facts.definitions.get(w, "")
            for i in indications
            for w in re.findall(r"\b[A-Z][A-Z0-9-]{1,9}\b", i)
        ]
        names = [n for n in [*indications, *long_forms] if n and len(n) > 3]
        for j, node in enumerate(match.section.exclusions, start=1):
            hit = names_indication(node.text, names)
            status: Status = "not_met" if hit else "met"
            rationale = (
                f'The section excludes it: "{node.text}" names {hit}.'
                if hit
                else f'Not applicable: "{node.text[:120]}" does not name the requested indication.'
            )
            out.append(
                Criterion(
                    id=f"X{j}",
                    kind="exclusion",
                    logic="leaf",
                    status=status,
                    text=node.text,
                    rationale=rationale,
                    evidence=[Evidence(chunk_id=node.chunk_id, doc_id=match.doc.doc_id, quote=node.text)],
                )
            )
    return out
