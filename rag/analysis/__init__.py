"""Analysis: a question and a case in, an `Analysis` out (deterministic, no model).

It reads the request (`request`), the case's documents as facts with assertion status (`record`,
`assertions`, `acronyms`), finds the payer policy and the section for the indication (`policy`),
evaluates every criterion with the evaluator of its kind (`evaluators/`: age, specialty,
exclusions, tests, prior therapy, thresholds, durations, coverage, the dose limit), compares doses
in mg per 28 days (`dosing`, `comparators`) and derives the verdict (`verdict`). Drug classes and
test names come from the lexicon data (`lexicon`, `data/lexicon.yaml`). Every decision carries the
chunks it rests on.
"""

from rag.analysis.analyse import Analysis, analyse

__all__ = ["Analysis", "analyse"]
