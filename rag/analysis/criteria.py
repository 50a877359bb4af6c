"""Criteria as data: the typed tree a payer policy compiles to (and a reviewer can correct).

A policy compiles to a `PolicyCriteria`: per indication, an initial-approval tree and a
continuation tree, the dose and quantity limits, and the policy-wide exclusions. A branch combines
its children by `all`, `any` or `at_least` (n); a leaf is one typed requirement with its
parameters. Every node keeps the exact quote, the page and the chunk it came from, so a draft cites
where the policy says it. `meddraft policy export` writes this as YAML; a reviewed YAML beside the
policy replaces the parse. `PolicyCriteria.model_json_schema()` is the schema a model fills when
it proposes a tree.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Logic = Literal["all", "any", "at_least", "leaf"]
Operator = Literal[">=", ">", "<=", "<", "="]
Outcome = Literal["inadequate_response", "intolerance", "contraindication"]
Phase = Literal["loading", "maintenance", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Age(_Strict):
    """'≥ 18 years of age', '18 years of age and older', 'Age 6 to 17 years'."""

    type: Literal["age"] = "age"
    min_years: float | None = Field(None, description="Youngest age allowed, inclusive.")
    max_years: float | None = Field(None, description="Oldest age allowed, inclusive.")


class Diagnosis(_Strict):
    """'Diagnosis of moderate to severe plaque psoriasis'."""

    type: Literal["diagnosis"] = "diagnosis"
    names: list[str] = Field(description="The condition as the policy names it (and its short forms).")
    icd10: list[str] = Field(default_factory=list, description="ICD-10 codes, when the policy gives them.")
    severity: list[str] = Field(
        default_factory=list, description="Qualifiers: active, moderate to severe ..."
    )
    confirmed_by: list[str] = Field(
        default_factory=list, description="What must confirm it (biopsy, imaging), when stated."
    )


class Measurement(_Strict):
    """'CRP ≥ 10 mg/L within the past 3 months', 'BSA ≥ 10%', 'HbA1c ≥ 6.5%'."""

    type: Literal["measurement"] = "measurement"
    name: str = Field(description="What is measured, as the policy names it (BSA, CDAI, PASI ...).")
    operator: Operator | None = Field(None, description="None: a value must be documented, any value.")
    value: float | None = None
    unit: str | None = None
    window_days: float | None = Field(None, description="How recent the value must be, in days.")
    change: Literal["reduction_percent", "reduction"] | None = Field(
        None,
        description="Compared with the value before treatment (baseline): a reduction in percent "
        "('PASI 75', '≥ 50% reduction in BSA') or in the measure's units ('a decrease in CDAI of "
        "≥ 100 points'). None: the value itself.",
    )


class PriorTherapy(_Strict):
    """'Failure of a minimum 3-month trial of one conventional DMARD', 'two different NSAIDs'."""

    type: Literal["prior_therapy"] = "prior_therapy"
    drugs: list[str] = Field(default_factory=list, description="Drugs named as qualifying.")
    classes: list[str] = Field(default_factory=list, description="Drug classes named as qualifying.")
    count: int = Field(1, ge=1, description="How many distinct drugs (or classes) must have been tried.")
    count_of: Literal["drugs", "classes"] = "drugs"
    min_duration_days: float | None = Field(None, description="Shortest trial that counts, in days.")
    outcomes: list[Outcome] = Field(
        default_factory=lambda: ["inadequate_response", "intolerance", "contraindication"],
        description="Which outcomes of a trial count.",
    )
    exceptions: list[str] = Field(
        default_factory=list, description="What the policy says does not count, or waives the trial."
    )


class Specialty(_Strict):
    """'Prescribed by or in consultation with a rheumatologist or dermatologist'."""

    type: Literal["specialty"] = "specialty"
    specialties: list[str]


class ConcurrentUse(_Strict):
    """'Not in combination with another biologic or a JAK inhibitor' (excluded), or 'will be used
    in combination with methotrexate' (required)."""

    type: Literal["concurrent_use"] = "concurrent_use"
    excluded: list[str] = Field(
        default_factory=list, description="Drugs or classes that must not be used at the same time."
    )
    required: list[str] = Field(
        default_factory=list, description="Drugs or classes that must be used with it."
    )
    unless: str | None = Field(None, description="When the requirement is waived ('unless contraindicated').")


class Product(_Strict):
    """'Ruxience and Truxima are the preferred agents; Rituxan or Riabni need ...'."""

    type: Literal["product"] = "product"
    preferred: list[str] = Field(default_factory=list, description="Products approved on these criteria.")
    non_preferred: list[str] = Field(default_factory=list, description="Products that need more.")


class TestResult(_Strict):
    """'Screened for TB within 12 months; if positive, latent TB treatment started or completed'."""

    type: Literal["test_result"] = "test_result"
    test: str = Field(description="The test as the lexicon names it (tuberculosis screening ...).")
    accepts: list[Literal["negative", "positive_treated", "done"]] = Field(
        default_factory=lambda: ["negative"], description="Which results satisfy the criterion."
    )
    window_days: float | None = None


class DoseLimit(_Strict):
    """One row of a quantity-limit table or one limit sentence."""

    mg: float | None = Field(None, description="Dose in mg (after per-kg arithmetic when given).")
    per_kg_mg: float | None = Field(None, description="mg per kg of body weight, when weight-based.")
    cap_mg: float | None = Field(None, description="Maximum mg per dose, with weight-based dosing.")
    units: float | None = Field(None, description="Pens, syringes or vials, for unit limits.")
    unit_name: str | None = None
    every_days: float | None = Field(None, description="Interval between doses, or the limit's period.")
    phase: Phase = "any"
    route: str | None = None
    weight_min_kg: float | None = Field(None, description="Lightest weight the row applies to (exclusive).")
    weight_max_kg: float | None = Field(None, description="Heaviest weight the row applies to (inclusive).")
    condition: str | None = Field(None, description="When a higher limit applies only under a condition.")
    indication: str | None = None
    text: str = Field("", description="The row or sentence as written.")
    page: int | None = None
    chunk_id: str | None = None


class DoseLimitLeaf(_Strict):
    type: Literal["dose_limit"] = "dose_limit"
    limits: list[DoseLimit] = Field(default_factory=list)


class Documentation(_Strict):
    """'Chart notes documenting ...', 'documentation from the medical record required'."""

    type: Literal["documentation"] = "documentation"
    what: str


class FreeText(_Strict):
    """A requirement none of the types fit: never met by resemblance. The parser's free text may
    still be read by a specific wording evaluator (a disease duration, a score); a reviewer who
    writes `type: free_text` means a person decides it: it stays insufficient."""

    type: Literal["free_text"] = "free_text"
    read_by_wording: bool = Field(
        False, description="Let the wording evaluators try it (set by the parser, not by reviewers)."
    )


Leaf = Annotated[
    Age
    | Diagnosis
    | Measurement
    | PriorTherapy
    | Specialty
    | ConcurrentUse
    | TestResult
    | DoseLimitLeaf
    | Product
    | Documentation
    | FreeText,
    Field(discriminator="type"),
]
LEAF_TYPES = (
    "age",
    "diagnosis",
    "measurement",
    "prior_therapy",
    "specialty",
    "concurrent_use",
    "test_result",
    "dose_limit",
    "product",
    "documentation",
    "free_text",
)


class Node(_Strict):
    """A criterion: a branch (all / any / at least n of its children) or a typed leaf."""

    id: str = Field(description="The policy's own numbering, joined by dots ('I.A.2.b').")
    text: str = Field(description="The criterion as the policy words it (one line).")
    logic: Logic
    n: int | None = Field(None, description="For at_least: how many children must be met.")
    leaf: Leaf | None = None
    children: list[Node] = Field(default_factory=list)
    page: int | None = None
    chunk_id: str | None = None
    notes: list[str] = Field(default_factory=list, description="'Note:' paragraphs that qualify it.")
    context: str | None = Field(
        None, description="The sentence that introduces a list option ('Inadequate response to ...:')."
    )

    def walk(self) -> list[Node]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


class Indication(_Strict):
    """One indication's criteria: how to start, how to continue, and how much."""

    name: str = Field(description="The indication as the policy's heading names it.")
    heading: str = ""
    initial: Node | None = None
    continuation: Node | None = None
    dose_limits: list[DoseLimit] = Field(default_factory=list)
    exclusions: list[Node] = Field(
        default_factory=list, description="'Not covered: ...' lines of this indication's section."
    )
    page: int | None = None
    chunk_id: str | None = None


class PolicyCriteria(_Strict):
    """A whole policy as data."""

    doc_id: str
    title: str = ""
    drugs: list[str] = Field(default_factory=list, description="The drugs the policy is about.")
    indications: list[Indication] = Field(default_factory=list)
    exclusions: list[Node] = Field(
        default_factory=list, description="Policy-wide exclusions and limitations (each must hold)."
    )
    experimental: list[str] = Field(
        default_factory=list, description="Uses the policy calls experimental or not covered."
    )
    source: Literal["parsed", "reviewed", "model"] = "parsed"
    source_hash: str | None = Field(None, description="Hash of the reviewed YAML that replaced the parse.")
    proposed_by: str | None = Field(
        None, description="A model's proposal (model, endpoint, date): never used until accepted."
    )
    accepted: str | None = Field(
        None, description="Who accepted a model's proposal into this reviewed file, when, from what."
    )

    def indication(self, name: str) -> Indication | None:
        wanted = name.strip().lower()
        return next((i for i in self.indications if i.name.lower() == wanted), None)
