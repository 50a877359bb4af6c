"""The FHIR door: a FHIR R4 Bundle -> the Markdown notes and request of one case.

`case_documents(bundle_path, case_id)` maps the bundle into `CaseDocument`s (front matter and
Markdown, in memory). `prepare(bundles, store_dir, case_id)` writes each bundle's documents into
its case's folder inside the store (`<store>/fhir/<case_id>/`), which the ordinary pipeline then
ingests as a folder: note sections, assertions, chunking, scoping and idempotency are the same as
for any Markdown note, `repair` can re-ingest them, and a document the newer bundle no longer
yields is removed. A bundle that cannot be read is reported as a failed file; the rest lands.

Everything from one bundle goes to one case; a bundle of several patients is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.documents import DocMeta, slugify
from ingest.fhir.bundle import Bundle, FhirBundleError, day, read_bundle
from ingest.fhir.notes import Note, demographics, documents, labs, medications, problems, procedures
from ingest.fhir.request import find_request, prescriptions, request_note
from ingest.report import FileOutcome, IngestReport

__all__ = ["CaseDocument", "FhirBundleError", "Prepared", "case_documents", "ingest_with_bundles", "prepare"]

FOLDER = "fhir"  # under the store: <store>/fhir/<case_id>/<doc id>.md
SOURCE = "FHIR R4 bundle"


@dataclass
class CaseDocument:
    """One document of a case made from a bundle: its id, its metadata and its Markdown."""

    id: str
    meta: DocMeta
    body: str

    def markdown(self) -> str:
        front = {k: v for k, v in self.meta.model_dump(mode="json").items() if v is not None}
        return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + self.body


@dataclass
class Mapped:
    case_id: str
    documents: list[CaseDocument]
    warnings: list[str] = field(default_factory=list)


def case_documents(path: Path | str, case_id: str | None = None) -> Mapped:
    """Read, validate and map one bundle; raise `FhirBundleError` if it cannot be used."""
    path = Path(path)
    bundle = read_bundle(path)
    patients = bundle.of_type("Patient")
    if len(patients) > 1:
        raise FhirBundleError(path, f"holds {len(patients)} patients: give each patient's bundle on its own")
    _refer_to_one_patient(path, bundle)
    case = case_id or _case_from(path, patients)
    request = find_request(bundle)
    warnings: list[str] = []
    notes: list[Note | None] = [
        problems(bundle),
        medications(bundle, {id(r) for r in prescriptions(bundle, request)}),
        labs(bundle),
        procedures(bundle),
        *documents(bundle, warnings),
        request_note(bundle, request) if request else None,
    ]
    found = [n for n in notes if n]
    if patients:
        as_of = day((request or {}).get("created") or (request or {}).get("authoredOn"))
        as_of = as_of or max((n.date for n in found if n.date), default=None)
        found.insert(0, demographics(patients[0], as_of))
    if not request:
        warnings.append(
            "no prior-authorization Claim or open ServiceRequest: the case has no request document"
        )
    if not found:
        raise FhirBundleError(path, "holds no resource meddraft reads (Patient, Condition, medications, ...)")
    docs = []
    for note in found:
        doc_id = f"{case}-fhir-{slugify(note.key)}"
        meta = DocMeta(
            id=doc_id, kind=note.kind, title=note.title, source=SOURCE, date=note.date, case_id=case
        )
        docs.append(CaseDocument(doc_id, meta, note.body))
    return Mapped(case, docs, warnings)


def _refer_to_one_patient(path: Path, bundle: Bundle) -> None:
    """Refuse resources about a patient the bundle does not hold: they would join the wrong case."""
    for n, resource in enumerate(bundle.resources):
        for key in ("subject", "patient"):
            ref = str((resource.get(key) or {}).get("reference") or "")
            if re.search(r"(^|/)Patient/", ref) and bundle.resolve(resource[key]) is None:
                raise FhirBundleError(
                    path,
                    f"resource {n + 1} ({resource.get('resourceType')}) is about a patient the bundle "
                    "does not hold: export the bundle with that Patient, or only this patient's resources",
                )


def _case_from(path: Path, patients: list[dict]) -> str:
    if not patients or not patients[0].get("id"):
        raise FhirBundleError(path, "has no Patient with an id to name the case: pass --case CASE_ID")
    case = slugify(str(patients[0]["id"]))[:64].strip("-")
    if not re.match(r"^[a-z0-9]", case):
        raise FhirBundleError(path, "its Patient id cannot be made a case id: pass --case CASE_ID")
    return case


@dataclass
class Prepared:
    """What `prepare` did: the case folders to ingest, and the bundles that failed or warned."""

    folders: list[Path] = field(default_factory=list)
    outcomes: list[FileOutcome] = field(default_factory=list)
    cases: dict[str, str] = field(default_factory=dict)  # bundle path -> case id
    warnings: list[tuple[Path, str]] = field(default_factory=list)


def prepare(bundles: Sequence[Path | str], store_dir: Path | str, case_id: str | None = None) -> Prepared:
    """Write each bundle's documents into `<store_dir>/fhir/<case_id>/` (replacing what an earlier
    bundle of that case wrote); an unusable bundle becomes a failed outcome and writes nothing."""
    done = Prepared()
    for raw in bundles:
        path = Path(raw)
        try:
            mapped = case_documents(path, case_id)
            if mapped.case_id in done.cases.values():
                raise FhirBundleError(
                    path,
                    f"maps to case {mapped.case_id!r}, as another bundle of this run does: "
                    "ingest one bundle per case (a later bundle replaces the earlier one's documents)",
                )
            folder = _write(Path(store_dir) / FOLDER / mapped.case_id, mapped.documents, path)
        except FhirBundleError as exc:
            done.outcomes.append(FileOutcome(path, "failed", reason=exc.message))
            continue
        done.cases[str(path)] = mapped.case_id
        done.folders.append(folder)
        done.warnings += [(path, w) for w in mapped.warnings]
    return done


def _write(folder: Path, docs: list[CaseDocument], source: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {f"{d.id}.md": d.markdown() for d in docs}
        for old in folder.glob("*.md"):
            if old.name not in wanted:
                old.unlink()
        for name, text in wanted.items():
            target = folder / name
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                tmp = folder / f".{name}.tmp"  # hidden: a folder walk never sees it
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(target)
    except OSError as exc:
        raise FhirBundleError(
            source, f"its notes could not be written to {folder} ({exc.strerror})"
        ) from None
    return folder


def ingest_with_bundles(
    indexer, paths: Sequence[Path | str], bundles: Sequence[Path | str], case_id: str | None = None, **kwargs
) -> tuple[IngestReport, Prepared]:
    """Ingest files and FHIR bundles in one batch with `indexer` (an `ingest.pipeline.Indexer`;
    `kwargs` go to its `ingest`): the bundles that cannot be read are failed files of the report,
    and the rest lands."""
    prepared = prepare(bundles, indexer.store.settings.path, case_id) if bundles else Prepared()
    todo = [*paths, *prepared.folders]
    report = indexer.ingest(todo, **kwargs) if todo else IngestReport()
    report.outcomes[:0] = prepared.outcomes
    return report, prepared
