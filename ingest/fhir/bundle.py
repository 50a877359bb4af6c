"""A FHIR R4 Bundle read and validated: the one module that imports `fhir.resources`.

Validation uses `fhir.resources.R4B` (R4B is R4 plus fixes; Synthea's R4 bundles validate under
it), imported only when a bundle is read. The mapping reads the validated JSON as plain dicts.
Error messages name the file and the failing field paths, never field values: a bundle is
patient data, and nothing of its text goes to logs or terminals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.errors import DocumentError

Resource = dict[str, Any]


class FhirBundleError(DocumentError):
    """A FHIR bundle that cannot be read: not JSON, not a Bundle, or invalid FHIR R4."""

    reason = "is not a usable FHIR R4 bundle"


@dataclass
class Bundle:
    """The resources of one bundle, indexed for reference lookups."""

    path: Path
    resources: list[Resource]
    by_ref: dict[str, Resource] = field(default_factory=dict)

    @classmethod
    def of(cls, path: Path, resources: list[tuple[str | None, Resource]]) -> Bundle:
        bundle = cls(path, [r for _, r in resources])
        for full_url, resource in resources:
            if full_url:
                bundle.by_ref[full_url] = resource
            if resource.get("id"):
                bundle.by_ref[f"{resource['resourceType']}/{resource['id']}"] = resource
        return bundle

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.get("resourceType") in types]

    def resolve(self, reference: dict | None) -> Resource | None:
        """The resource a Reference points at inside the bundle (urn:uuid or Type/id), or None."""
        ref = (reference or {}).get("reference")
        if not ref:
            return None
        ref = ref.split("/_history")[0]
        return self.by_ref.get(ref) or self.by_ref.get("/".join(ref.rsplit("/", 2)[-2:]))


def read_bundle(path: Path | str) -> Bundle:
    """Read and validate a bundle; raise `FhirBundleError` naming the file and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise FhirBundleError(path, "file not found: check the path") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise FhirBundleError(path, f"not JSON{where}: export the bundle as FHIR JSON") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise FhirBundleError(
            path, f"not a FHIR Bundle (resourceType {got!r}): pass a Bundle of the patient's resources"
        )
    _validate(path, data)
    entries = [e for e in data.get("entry") or [] if isinstance(e.get("resource"), dict)]
    return Bundle.of(path, [(e.get("fullUrl"), e["resource"]) for e in entries])


def _validate(path: Path, data: dict) -> None:
    from fhir.resources.R4B.bundle import Bundle as FhirBundle  # heavy: only when a bundle is read
    from pydantic import ValidationError

    try:
        FhirBundle.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e, data) for e in exc.errors(include_input=False, include_url=False)]
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" * (len(problems) > 5))
        raise FhirBundleError(
            path, f"fails FHIR R4 validation: {shown}. Fix these fields in the export, then ingest again"
        ) from None


def _problem(error: dict, data: dict) -> str:
    """'entry[3] (Condition).code: Field required', without the field's value."""
    loc = list(error.get("loc") or ())
    where, node = "", data
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        node = node[part] if isinstance(node, (list, dict)) and _has(node, part) else None
        if isinstance(node, dict) and node.get("resourceType") and part == "resource":
            where += f" ({node['resourceType']})"
    message = str(error.get("msg", "invalid")).split("\n")[0].strip()
    return f"{where or 'Bundle'}: {message}"


def _has(node: list | dict, part: object) -> bool:
    if isinstance(node, list):
        return isinstance(part, int) and 0 <= part < len(node)
    return part in node


# --- small readers of FHIR datatypes ---------------------------------------------------------


def concept_text(concept: dict | None) -> str:
    """A CodeableConcept as words: its text, else the first coding's display, else its code."""
    if not concept:
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    codes = [c.get("code") for c in concept.get("coding") or [] if c.get("code")]
    return str(codes[0]) if codes else ""


def concept_code(concept: dict | None) -> str:
    """The first coding's code ('active', 'refuted', 'L40.0'), lower-cased for statuses by callers."""
    for coding in (concept or {}).get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def day(value: str | None) -> str:
    """The date part of a FHIR date or dateTime ('2025-02-14T09:30:00-05:00' -> '2025-02-14')."""
    return (value or "")[:10]


def quantity(q: dict | None) -> str:
    """'40 mg' from a Quantity, '' when it has no value."""
    if not q or q.get("value") is None:
        return ""
    value = q["value"]
    text = f"{value:g}" if isinstance(value, float) else str(value)
    unit = q.get("unit") or q.get("code") or ""
    return f"{q.get('comparator', '')}{text} {unit}".strip()
