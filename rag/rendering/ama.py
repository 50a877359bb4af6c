"""A reference in AMA style (AMA Manual of Style, 11th edition), as text segments a format styles.

Hand-written rather than citeproc-py: citeproc-py needs a CSL style file and CSL-JSON in and gives
HTML or plain text out, while every format here (Markdown, HTML, DOCX runs) needs the same few
segments with the journal name in italics. The rules are few and tested in
`tests/rag/test_references.py`:

- journal article (literature with a journal, or a source for literature kinds):
  `Smith J, Doe A. Title. *Journal*. 2020;12(3):45-67. doi:10.xxx`
- payer policy (a web document): `Author. Title. Source. Published April 7, 2025. URL`
- other documents (drug labels, literature with neither journal nor source, notes, requests):
  `Author. Title. Source; 2025. URL`

Whatever is unknown is left out, with its punctuation. meddraft's own note follows in parentheses:
the kind of document and where in it the cited passages are (pages or sections).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from markupsafe import Markup, escape

from rag.types import Reference

Segment = tuple[str, bool]  # (text, italic)
JOURNAL_KINDS = frozenset({"guideline", "systematic_review", "study"})
WEB_KINDS = frozenset({"policy"})
MAX_AUTHORS = 6  # AMA: list up to 6 authors; with more, the first 3 and "et al"
_INITIALS = re.compile(r"^[A-Z]{1,4}$")
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "dos", "la", "le", "ten", "ter"}
)


def name_parts(name: str) -> tuple[str, str]:
    """(family, given) of an author written "Family GN", "Family, Given" or "Given Family"
    ("Anna van der Berg" keeps its particles in the family name). `given` is '' for a group
    author, a name of more than three words (particles aside) or with another lower-case word:
    "AAAAI Mast Cell Disorders Committee"; braces make any name a group: "{World Health
    Organization}". A comma always splits family from given names."""
    name = " ".join(name.split())
    if name.startswith("{") and name.endswith("}"):
        return name[1:-1].strip(), ""
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
        return family, given
    words = name.split(" ")
    at = next((i for i, word in enumerate(words) if i and word in _PARTICLES), len(words) - 1)
    given, family = words[:at], words[at:]
    if (
        not given
        or len(given) > 2
        or any(w.islower() for w in given)
        or any(w.islower() for w in family[-1:])
    ):
        return name, ""
    if len(family) == 1 and _INITIALS.match(family[0]) and len(given) == 1:
        return given[0], family[0]  # "Smith J"
    return " ".join(family), " ".join(given)


def author_name(name: str) -> str:
    """One author as AMA writes it, "Family GN" (a group author as written)."""
    family, given = name_parts(name)
    if not given:
        return family
    initials = given if _INITIALS.match(given) else _initials(given)
    return f"{family} {initials}"


def _initials(given: str) -> str:
    parts = [p for p in re.split(r"[\s.]+", given) if p]
    return "".join(p[0].upper() for sub in parts for p in sub.split("-") if p)


def authors_text(authors: list[str]) -> str:
    """'Smith J, Doe A' (up to 6), else the first 3 and 'et al'; '' without authors."""
    names = [author_name(a) for a in authors if a.strip()]
    if len(names) > MAX_AUTHORS:
        names = [*names[:3], "et al"]
    return ", ".join(names)


def date_text(iso: str | None) -> str:
    """'2025-04-07' -> 'April 7, 2025'; anything else as given ('' for None)."""
    if not iso:
        return ""
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day:%B} {day.day}, {day.year}"


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    return text if not text or text.endswith((".", "?", "!")) else f"{text}."


def journal_of(ref: Reference) -> str | None:
    """The journal an article appeared in: `journal`, else the source of literature."""
    if ref.journal:
        return ref.journal
    return ref.source if ref.kind in JOURNAL_KINDS else None


def segments(ref: Reference, *, note: bool = True) -> list[Segment]:
    """The AMA citation of `ref` as (text, italic) pieces, with meddraft's note when `note`."""
    out: list[Segment] = []
    if authors := authors_text(ref.authors):
        out.append((_sentence(authors), False))
    out.append((_sentence(ref.title or ref.doc_id), False))
    journal = journal_of(ref)
    if journal:
        out += _article(ref, journal)
    elif ref.kind in WEB_KINDS:
        out += _web(ref)
    else:
        out += _document(ref)
    if ref.doi:
        out.append((f"doi:{ref.doi}", False))
    elif ref.pmid:
        out.append((f"PMID: {ref.pmid}", False))
    if ref.url and not ref.doi:
        out.append((ref.url, False))
    if note:
        meta = "; ".join(x for x in (ref.kind.replace("_", " "), ref.locator) if x)
        if meta:
            out.append((f"({meta})", False))
    return _spaced(out)


def _article(ref: Reference, journal: str) -> list[Segment]:
    volume = f"{ref.volume}({ref.issue})" if ref.volume and ref.issue else ref.volume or ""
    published = ";".join(str(x) for x in (ref.year, volume) if x)
    if published and volume and ref.pages:
        published = f"{published}:{ref.pages}"
    out: list[Segment] = [(journal.rstrip("."), True), (".", False)]
    if published:
        out.append((f"{published}.", False))
    return out


def _web(ref: Reference) -> list[Segment]:
    out: list[Segment] = []
    if ref.source:
        out.append((_sentence(ref.source), False))
    when = date_text(ref.date) or (str(ref.year) if ref.year else "")
    if when:
        out.append((f"Published {when}.", False))
    return out


def _document(ref: Reference) -> list[Segment]:
    when = date_text(ref.date) or (str(ref.year) if ref.year else "")
    published = "; ".join(x for x in (" ".join((ref.source or "").split()).rstrip("."), when) if x)
    return [(f"{published}.", False)] if published else []


def _spaced(parts: list[Segment]) -> list[Segment]:
    """A space between pieces, except before the '.' that closes an italic journal name."""
    out: list[Segment] = []
    for text, italic in parts:
        if out and text != ".":
            out.append((" ", False))
        out.append((text, italic))
    return out


def text(ref: Reference, emphasis: Callable[[str], str] = str, *, note: bool = True) -> str:
    """The citation as one string; `emphasis` styles the italic pieces (plain text by default)."""
    return "".join(emphasis(t) if italic else t for t, italic in segments(ref, note=note))


def markdown(ref: Reference) -> str:
    """The citation in Markdown: the journal name in `*...*`."""
    return text(ref, lambda t: f"*{t}*")


def html(ref: Reference) -> Markup:
    """The citation as safe HTML: every piece escaped, the journal name in `<em>`."""
    pieces = (Markup("<em>{}</em>").format(t) if italic else escape(t) for t, italic in segments(ref))
    return Markup("").join(pieces)
