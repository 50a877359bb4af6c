"""Response criteria of continuation sections, read as a change from baseline.

'PASI 75 or better', '≥ 50% reduction in BSA affected from baseline', 'a decrease in CDAI of ≥ 100
points from baseline' become a `Measurement` with `change`; the evaluator compares the record's
baseline and current values. A criterion that joins alternatives with 'or' is left to the other
readers: reading one alternative alone would be stricter than the policy.
"""

from __future__ import annotations

import re

from rag.analysis.criteria import Measurement

# A response measured against the baseline: 'PASI 75 or better', '≥ 50% reduction in BSA affected
# from baseline', 'a decrease in CDAI of ≥ 100 points from baseline'.
_RESPONSE_INDEX = re.compile(r"\b(?P<name>[A-Z]{3,5})[- ]?(?P<value>50|75|90|100)\b(?!\s*(?:%|mg|points?))")
_RESPONSE_PERCENT = re.compile(
    r"(?:≥|>=|at least|of at least)?\s*(?P<value>\d+(?:\.\d+)?)\s*%\s*(?:or (?:greater|more)\s+)?"
    r"(?:reduction|decrease|improvement)\s+(?:in|of)\s+(?:the\s+)?(?P<name>[A-Za-z][\w/-]*(?:\s+[a-z][\w/-]*){0,5}?)"
    r"(?=\s+(?:affected|from|with|compared|relative)\b|[,;.)]|$)",
    re.I,
)
_RESPONSE_POINTS = re.compile(
    r"(?:decrease|reduction|drop|improvement)\s+in\s+(?:the\s+)?(?P<name>[A-Z][\w/-]*)\s+(?:score\s+)?of\s+"
    r"(?:≥|>=|at least)\s*(?P<value>\d+(?:\.\d+)?)\s*points?",
    re.I,
)


_PERCENT_FIRST = re.compile(
    r"(?:reduction|decrease|improvement)\s+of\s+(?:at least\s+|≥\s*)?(?P<value>\d+(?:\.\d+)?)\s*%\s+in\s+"
    r"(?:the\s+)?(?P<name>[A-Za-z][\w/-]*(?:\s+[a-z][\w/-]*){0,5}?)(?=\s+(?:with|from|and no)\b|[,;.)]|$)",
    re.I,
)


def read_response(text: str) -> Measurement | None:
    """A criterion measured as a change from baseline (continuation criteria). A criterion that
    also accepts another measure ('... or CDAI < 150') stays with the other readers."""
    if re.search(r"\bor\b(?!\s+(?:better|greater|more|higher|above))", text):
        return (
            None  # '... or reduction in BSA of at least 50%': one reading would be stricter than the policy
        )
    if m := _RESPONSE_POINTS.search(text):
        return Measurement(name=m["name"], operator=">=", value=float(m["value"]), change="reduction")
    if m := _RESPONSE_PERCENT.search(text):
        name = _name(m["name"])
        return Measurement(
            name=name, operator=">=", value=float(m["value"]), unit="%", change="reduction_percent"
        )
    if m := _PERCENT_FIRST.search(text):
        name = _name(m["name"])
        return Measurement(
            name=name, operator=">=", value=float(m["value"]), unit="%", change="reduction_percent"
        )
    if (m := _RESPONSE_INDEX.search(text)) and re.search(
        r"\bor better\b|\bachiev|\bresponse|\breach", text, re.I
    ):
        return Measurement(
            name=m["name"], operator=">=", value=float(m["value"]), unit="%", change="reduction_percent"
        )
    return None


def _name(words: str) -> str:
    from rag.analysis.leaves import _measure_name  # the one reading of a measure's name

    return _measure_name(words) or words
