"""The case's request document from a bundle: a prior-authorization Claim or a ServiceRequest.

Which resource is the request: the latest Claim with `use: preauthorization`, else the latest
active or draft ServiceRequest. Ordinary billing Claims (`use: claim`, one per encounter in
Synthea's output) are history, not requests, and are not read. The request names the drug or
service, its dose when a prescription is referenced, the diagnoses with their codes, the
prescriber's specialty (never a name) and the date.
"""

from __future__ import annotations

from ingest.fhir.bundle import Bundle, Resource, concept_code, concept_text, day, quantity
from ingest.fhir.notes import Note, dosage_text, medication_name

_OPEN = frozenset({"active", "draft", "on-hold"})


def find_request(bundle: Bundle) -> Resource | None:
    claims = [c for c in bundle.of_type("Claim") if c.get("use") == "preauthorization"]
    claims = [c for c in claims if c.get("status") != "entered-in-error"]
    services = [s for s in bundle.of_type("ServiceRequest") if s.get("status") in _OPEN]
    for group, when in ((claims, "created"), (services, "authoredOn")):
        if group:
            return max(group, key=lambda r, w=when: r.get(w) or "")
    return None


def prescriptions(bundle: Bundle, request: Resource | None) -> list[Resource]:
    """The MedicationRequests the request asks for (they are not medication history)."""
    if not request:
        return []
    refs = [request.get("prescription"), request.get("originalPrescription")]
    refs += list(request.get("basedOn") or [])
    found = [bundle.resolve(r) for r in refs if r]
    return [r for r in found if r and r.get("resourceType") == "MedicationRequest"]


def request_note(bundle: Bundle, request: Resource) -> Note:
    """The request as a prior-authorization form."""
    claim = request["resourceType"] == "Claim"
    when = day(request.get("created") if claim else request.get("authoredOn"))
    lines = [
        "# Prior Authorization Request" if claim else "# Service Request",
        "",
        f"**Date submitted:** {when or 'not stated'}",
        "",
    ]
    if specialty := _specialty(bundle, request):
        lines += ["## Prescriber", "", f"- Specialty: {specialty}", ""]
    lines += ["## Medication or Service Requested", ""]
    for prescription in prescriptions(bundle, request):
        lines.append(f"- Drug: {medication_name(bundle, prescription)}")
        for dosage in prescription.get("dosageInstruction") or []:
            if text := dosage_text(dosage):
                lines.append(f"- Dose and frequency: {text}")
            if route := concept_text(dosage.get("route")):
                lines.append(f"- Route: {route}")
    items = request.get("item") or [] if claim else [request]
    for item in items:
        what = concept_text(item.get("productOrService") if claim else item.get("code"))
        amount = quantity(item.get("quantity") or (item.get("quantityQuantity") if not claim else None))
        if what:
            lines.append(
                f"- {'Item' if claim else 'Service'}: {what}{f', quantity {amount}' if amount else ''}"
            )
    if status := request.get("status"):
        lines.append(f"- Request status: {status}")
    lines += ["", "## Diagnosis", ""]
    diagnoses = [_diagnosis(bundle, d) for d in request.get("diagnosis") or []]
    diagnoses += [_coded(c) for c in request.get("reasonCode") or []]
    diagnoses += [_coded((bundle.resolve(r) or {}).get("code")) for r in request.get("reasonReference") or []]
    lines += [f"- {d}" for d in diagnoses if d] or ["- not stated"]
    if notes := " ".join(n["text"] for n in request.get("note") or [] if n.get("text")):
        lines += ["", "## Notes", "", notes]
    title = "Prior Authorization Request (from FHIR Claim)" if claim else "Service Request (from FHIR)"
    return Note("request", "request", title, when or None, "\n".join(lines) + "\n")


def _diagnosis(bundle: Bundle, diagnosis: dict) -> str:
    if diagnosis.get("diagnosisCodeableConcept"):
        return _coded(diagnosis["diagnosisCodeableConcept"])
    return _coded((bundle.resolve(diagnosis.get("diagnosisReference")) or {}).get("code"))


def _coded(concept: dict | None) -> str:
    """'L40.0 Psoriasis vulgaris': the code before the words, as request forms write diagnoses."""
    text, code = concept_text(concept), concept_code(concept)
    return f"{code} {text}" if code and code != text else text


def _specialty(bundle: Bundle, request: Resource) -> str:
    """The prescriber's specialty: a PractitionerRole's specialty, or a care team qualification."""
    for member in request.get("careTeam") or []:
        if text := concept_text(member.get("qualification")):
            return text
    for ref in (request.get("provider"), request.get("requester"), request.get("enterer")):
        target = bundle.resolve(ref)
        if target and target.get("resourceType") == "PractitionerRole":
            return "; ".join(concept_text(c) for c in target.get("specialty") or [] if concept_text(c))
        if target and target.get("resourceType") == "Practitioner":
            for role in bundle.of_type("PractitionerRole"):
                if bundle.resolve(role.get("practitioner")) is target:
                    return "; ".join(concept_text(c) for c in role.get("specialty") or [] if concept_text(c))
    return ""
