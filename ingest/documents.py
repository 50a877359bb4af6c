"""Typed domain objects of ingestion: document metadata, documents, pages and chunks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal[
    "policy",
    "guideline",
    "systematic_review",
    "study",
    "drug_label",
    "clinical_note",
    "request",
]
KINDS: tuple[str, ...] = get_args(Kind)
CASE_KINDS: frozenset[str] = frozenset({"clinical_note", "request"})
LITERATURE_KINDS: frozenset[str] = frozenset(KINDS) - CASE_KINDS
NO_CASE = ""  # the case_id stored on literature: it belongs to no case (rag/retrieval/scope.py)

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)


def slugify(text: str) -> str:
    """Lower-case id made of letters, digits and hyphens (stable for a given input)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "doc"


class DocMeta(BaseModel):
    """Metadata of one corpus document, from YAML front matter, a PDF sidecar or PDF info."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(None, description="Stable document id; default derived from the path.")
    kind: Kind = Field(description="What the document is; decides retrieval filters and scoping.")
    title: str | None = Field(None, description="Title shown in the reference list.")
    source: str | None = Field(None, description="Publisher, journal, payer or clinic.")
    year: int | None = Field(None, ge=1800, le=2100, description="Publication year.")
    date: dt.date | None = Field(None, description="Encounter or publication date.")
    case_id: str | None = Field(None, description="The one case a clinical note or request belongs to.")
    url: str | None = Field(None, description="Where the document can be found.")
    authors: list[str] = Field(
        default_factory=list, description='Authors in order, each "Family GN" or "Given Family".'
    )
    doi: str | None = Field(None, description="Digital Object Identifier, e.g. 10.1016/j.jaci.2019.07.001.")
    pmid: str | None = Field(None, description="PubMed id: digits only.")
    journal: str | None = Field(None, description="Journal of an article (default: source, for literature).")
    volume: str | None = Field(None, description="Journal volume.")
    issue: str | None = Field(None, description="Journal issue.")
    pages: str | None = Field(None, description="Page range of an article, e.g. 45-67 or e12345.")

    @field_validator("authors", mode="before")
    @classmethod
    def _author_list(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            raise ValueError('authors must be a list, one name per item, e.g. ["Smith J", "Doe A"]')
        return value

    @field_validator("authors")
    @classmethod
    def _author_names(cls, value: list[str]) -> list[str]:
        names = [" ".join(name.split()) for name in value]
        if any(not name for name in names):
            raise ValueError("authors: an author name is empty; remove it or give the name")
        return names

    @field_validator("doi", mode="before")
    @classmethod
    def _doi_shape(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = _DOI_PREFIX.sub("", str(value).strip())
        if not _DOI_RE.match(text):
            raise ValueError(
                f"{value!r} is not a DOI: give it as 10.<registrant>/<suffix>, "
                "e.g. 10.1016/j.jaci.2019.07.001"
            )
        return text

    @field_validator("pmid", mode="before")
    @classmethod
    def _pmid_shape(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = re.sub(r"^pmid:\s*", "", str(value).strip(), flags=re.I)
        if not text.isdigit() or len(text) > 9:
            raise ValueError(f"{value!r} is not a PMID: give the PubMed id as 1 to 9 digits, e.g. 31474478")
        return text

    @field_validator("volume", "issue", "pages", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("id", "case_id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        if value == "":
            return None
        if value is not None and not _ID_RE.match(value):
            raise ValueError(f"{value!r} is not a valid id: use lower-case letters, digits, '.', '_' and '-'")
        return value

    @field_validator("year", mode="before")
    @classmethod
    def _year_from_string(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @model_validator(mode="after")
    def _case_rules(self) -> DocMeta:
        if self.kind in CASE_KINDS and not self.case_id:
            raise ValueError(f"case_id is required for kind {self.kind}")
        if self.kind not in CASE_KINDS and self.case_id:
            raise ValueError(f"case_id is only allowed on clinical_note and request, not on kind {self.kind}")
        if self.year is None and self.date is not None:
            self.year = self.date.year
        return self


@dataclass(frozen=True)
class Page:
    """A PDF page's span in the document text (1-based page number)."""

    number: int
    start: int
    end: int


@dataclass
class Document:
    """A parsed file: complete metadata, the clean text, and page spans for PDFs."""

    id: str
    meta: DocMeta
    text: str
    path: Path
    content_hash: str
    pages: list[Page] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.meta.title or self.id

    def pages_for(self, start: int, end: int) -> tuple[int, int] | None:
        """First and last page overlapping the character span, or None for non-paged text."""
        hit = [p.number for p in self.pages if p.start < end and p.end > start]
        return (hit[0], hit[-1]) if hit else None


def context_head(title: str | None, section: str | None) -> str:
    """The context put before a chunk's text where it is embedded and indexed: title > section."""
    return " > ".join(p for p in (title, section) if p)


def embed_text(title: str | None, section: str | None, text: str) -> str:
    """What is embedded for a chunk of `text`: the title and section give a short chunk its context."""
    head = context_head(title, section)
    return f"{head}\n{text}" if head else text


class Chunk(BaseModel):
    """A piece of a document small enough for the embedding model, with its provenance."""

    id: str = Field(description="Deterministic: hash of document id, position and text.")
    doc_id: str
    index: int = Field(description="Position of the chunk in its document, from 0.")
    text: str = Field(description="Exactly document.text[char_start:char_end].")
    kind: Kind
    title: str
    source: str | None = None
    year: int | None = None
    date: str | None = None
    case_id: str | None = None
    url: str | None = None
    authors: list[str] = Field(default_factory=list, description="Stored as a JSON string (scalars only).")
    doi: str | None = None
    pmid: str | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    section: str = Field("", description="Heading path, e.g. 'Plaque Psoriasis > Initial authorization'.")
    page_start: int | None = None
    page_end: int | None = None
    char_start: int
    char_end: int
    n_tokens: int = Field(description="Tokens of the embedded text under the model's tokenizer.")

    def embed_text(self) -> str:
        """What is embedded: the title and section give a short chunk its context."""
        return embed_text(self.title, self.section, self.text)

    @property
    def locator(self) -> str:
        return locator(self.page_start, self.page_end, self.section) or "text"


def locator(page_start: int | None, page_end: int | None, section: str) -> str:
    """Human-readable place in a source: pages for PDFs, else the section path."""
    if page_start is not None:
        if page_end and page_end != page_start:
            return f"pp. {page_start}-{page_end}"
        return f"p. {page_start}"
    return f"section: {section}" if section else ""
