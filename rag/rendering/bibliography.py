"""An assessment's reference list for a reference manager (Zotero, EndNote, Mendeley):
RIS (written with rispy), BibTeX (bibtexparser, LaTeX-escaped) or CSL-JSON (plain JSON).

Each reference becomes one record: a journal article when it has a journal (or is literature with
a source), a web page for a payer policy, a report for a drug label or literature with neither
journal nor source, and an unpublished document for a clinical note or request. The record's note keeps what
meddraft adds: the citation number, the kind, and where the cited passages are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from rag.errors import MeddraftError
from rag.rendering.ama import JOURNAL_KINDS, WEB_KINDS, journal_of, name_parts
from rag.types import Reference

EXTENSIONS: dict[str, str] = {"ris": ".ris", "bibtex": ".bib", "csl-json": ".json"}
MEDIA_TYPES: dict[str, str] = {
    "ris": "application/x-research-info-systems",
    "bibtex": "application/x-bibtex",
    "csl-json": "application/vnd.citationstyles.csl+json",
}


def _type(ref: Reference) -> str:
    """'article', 'web', 'report' or 'document': the record type every format maps."""
    if journal_of(ref):
        return "article"
    if ref.kind in WEB_KINDS:
        return "web"
    if ref.kind in JOURNAL_KINDS or ref.kind == "drug_label":
        return "report"
    return "document"


def _note(ref: Reference) -> str:
    where = f"; {ref.locator}" if ref.locator else ""
    return f"meddraft reference [{ref.n}] ({ref.kind.replace('_', ' ')}{where}); document id {ref.doc_id}"


def _page_range(pages: str | None) -> tuple[str | None, str | None]:
    if not pages:
        return None, None
    bits = re.split(r"\s*[-–]\s*", pages.strip(), maxsplit=1)
    return bits[0], (bits[1] if len(bits) > 1 else None)


# --- CSL-JSON -----------------------------------------------------------------------------------

CSL_TYPES = {"article": "article-journal", "web": "webpage", "report": "report", "document": "document"}


def csl_item(ref: Reference) -> dict:
    """One CSL-JSON item (https://citeproc-js.readthedocs.io/en/latest/csl-json/markup.html)."""
    item: dict = {"id": ref.doc_id, "type": CSL_TYPES[_type(ref)], "title": ref.title}
    authors = []
    for name in ref.authors:
        family, given = name_parts(name)
        authors.append({"family": family, "given": given} if given else {"literal": family})
    if authors:
        item["author"] = authors
    journal = journal_of(ref)
    if journal:
        item["container-title"] = journal
        if ref.source and ref.source != journal:
            item["publisher"] = ref.source
    elif ref.source:
        item["publisher"] = ref.source
    if ref.date and re.match(r"^\d{4}-\d{2}-\d{2}$", ref.date):
        item["issued"] = {"date-parts": [[int(x) for x in ref.date.split("-")]]}
    elif ref.year:
        item["issued"] = {"date-parts": [[ref.year]]}
    for key, value in (
        ("volume", ref.volume),
        ("issue", ref.issue),
        ("page", ref.pages),
        ("DOI", ref.doi),
        ("PMID", ref.pmid),
        ("URL", ref.url),
    ):
        if value:
            item[key] = value
    item["note"] = _note(ref)
    return item


def to_csl_json(references: list[Reference]) -> str:
    return json.dumps([csl_item(r) for r in references], ensure_ascii=False, indent=2) + "\n"


# --- RIS ----------------------------------------------------------------------------------------

RIS_TYPES = {"article": "JOUR", "web": "ELEC", "report": "RPRT", "document": "UNPB"}


def ris_entry(ref: Reference) -> dict:
    """One RIS record as rispy's field names."""
    entry: dict = {"type_of_reference": RIS_TYPES[_type(ref)], "id": ref.doc_id, "title": ref.title}
    names = [name_parts(a) for a in ref.authors]
    if names:
        entry["authors"] = [f"{family}, {given}" if given else family for family, given in names]
    journal = journal_of(ref)
    if journal:
        entry["journal_name"] = journal
        entry["secondary_title"] = journal
    elif ref.source:
        entry["publisher"] = ref.source
    if ref.year:
        entry["year"] = str(ref.year)
    if ref.date:
        entry["date"] = ref.date.replace("-", "/")
    first, last = _page_range(ref.pages)
    for key, value in (
        ("volume", ref.volume),
        ("number", ref.issue),
        ("start_page", first),
        ("end_page", last),
        ("doi", ref.doi),
        ("accession_number", f"PMID: {ref.pmid}" if ref.pmid else None),
    ):
        if value:
            entry[key] = value
    if ref.url:
        entry["urls"] = [ref.url]
    entry["notes"] = [_note(ref)]
    return entry


def to_ris(references: list[Reference]) -> str:
    import rispy

    return rispy.dumps([ris_entry(r) for r in references])


# --- BibTeX -------------------------------------------------------------------------------------

BIBTEX_TYPES = {"article": "article", "web": "misc", "report": "techreport", "document": "unpublished"}


def bibtex_fields(ref: Reference) -> dict[str, str]:
    """One BibTeX entry's fields (plain text; the writer escapes LaTeX)."""
    fields: dict[str, str] = {"title": ref.title}
    names = [name_parts(a) for a in ref.authors]
    if names:
        fields["author"] = " and ".join(
            f"{family}, {given}" if given else f"{family}" for family, given in names
        )
    journal = journal_of(ref)
    kind = _type(ref)
    if journal:
        fields["journal"] = journal
    elif ref.source:
        fields["institution" if kind == "report" else "publisher"] = ref.source
    for key, value in (
        ("year", str(ref.year) if ref.year else None),
        ("volume", ref.volume),
        ("number", ref.issue),
        ("pages", ref.pages.replace("-", "--") if ref.pages else None),
        ("doi", ref.doi),
        ("pmid", ref.pmid),
        ("url", ref.url),
    ):
        if value:
            fields[key] = value
    fields["note"] = _note(ref).replace(" > ", " / ")  # '>' is math in LaTeX
    return fields


def to_bibtex(references: list[Reference]) -> str:
    import bibtexparser
    from bibtexparser.middlewares import LatexEncodingMiddleware
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    for ref in references:
        fields = [Field(key, value) for key, value in bibtex_fields(ref).items()]
        library.add(Entry(BIBTEX_TYPES[_type(ref)], ref.doc_id, fields))
    return bibtexparser.write_string(library, prepend_middleware=[LatexEncodingMiddleware()])


WRITERS: dict[str, Callable[[list[Reference]], str]] = {
    "ris": to_ris,
    "bibtex": to_bibtex,
    "csl-json": to_csl_json,
}


def export(references: list[Reference], fmt: str) -> str:
    """The references (in citation order) as `fmt`: one of `ris`, `bibtex`, `csl-json`."""
    writer = WRITERS.get(fmt.strip().lower())
    if writer is None:
        raise MeddraftError(f"unknown reference format {fmt!r}: choose one of {', '.join(WRITERS)}")
    return writer(sorted(references, key=lambda r: r.n))
