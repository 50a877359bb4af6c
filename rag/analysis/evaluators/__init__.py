"""Evaluators: a compiled criterion and the case's facts in, a `Criterion` with status, rationale
and evidence out (met / not_met / insufficient; never met by resemblance).

`typed` evaluates a tree leaf by leaf with the evaluator of each leaf's type; `basic`, `history`
and `measures` hold the evaluators (age, specialty, exclusion, presence of a diagnosis, tests
within a window, prior therapy with durations, thresholds, disease duration), which read the
criterion's wording; `CHECKERS` is the ordered list tried for a criterion no type fits; `coverage`
and `dose_limit` read the policy's experimental list, policy-wide exclusions and dose limits.
Nothing here knows a drug, disease or case.
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
from rag.analysis.evaluators.history import check_disease_duration, check_test
from rag.analysis.evaluators.measures import check_response, check_threshold
from rag.analysis.evaluators.therapy import check_prior_therapy

__all__ = ["CHECKERS", "Finding", "check_presence", "concept_of"]

CHECKERS: list[Checker] = [
    check_response,
    check_age,
    check_prescriber,
    check_exclusion,
    check_test,
    check_prior_therapy,
    check_threshold,
    check_disease_duration,
]
