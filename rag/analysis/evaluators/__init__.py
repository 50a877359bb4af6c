"""Check one policy criterion against a case's notes, deterministically.

Each checker recognises a family of criteria by its wording (age, prescriber, numeric threshold,
prior therapy with a duration, test result, exclusion, duration of disease) and returns a
`Finding` with the status, a rationale naming the evidence, and the sentences it rests on; the
presence checker is the fallback. Nothing here knows a drug, disease or case.
"""

from __future__ import annotations

from rag.analysis.evaluators.basic import (
    check_age,
    check_exclusion,
    check_prescriber,
    check_presence,
    concept_of,
)
from rag.analysis.evaluators.common import Checker, Finding
from rag.analysis.evaluators.history import check_disease_duration, check_prior_therapy, check_test
from rag.analysis.evaluators.measures import check_threshold
from rag.analysis.policy import Node
from rag.analysis.record import CaseFacts

__all__ = ["CHECKERS", "Finding", "check_leaf", "check_presence", "concept_of"]

CHECKERS: list[Checker] = [
    check_age,
    check_prescriber,
    check_exclusion,
    check_test,
    check_prior_therapy,
    check_threshold,
    check_disease_duration,
]


def check_leaf(node: Node, facts: CaseFacts) -> Finding:
    for checker in CHECKERS:
        finding = checker(node, facts)
        if finding is not None:
            return finding
    return check_presence(node, facts)
