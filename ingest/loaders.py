"""Files -> `Document`s: PDF (pypdf, per page), Markdown and text with YAML front matter.

Every failure raises a `DocumentError` subclass whose message says what was wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from ingest.documents import DocMeta, Document, Page, slugify
from ingest.errors import (
    EmptyFileError,
    EncryptedPDFError,
    FrontMatterError,
    MalformedPDFError,
    NoTextLayerError,
    ParseLimitError,
    UnsupportedFileError,
    UnsupportedPDFError,
)
from ingest.pdf_pages import read_pages

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED = TEXT_SUFFIXES | PDF_SUFFIXES
SIDECAR_SUFFIX = ".yaml"
# Average characters of text per page below which a PDF is treated as scanned.
MIN_CHARS_PER_PAGE = 16
# Bumped when parsing or chunking changes, so re-ingest re-chunks every document.
PARSER_VERSION = "1"
DEFAULT_MAX_DECOMPRESSED_MB = 200
_MB = 1_000_000


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and the folder it was found under (None for a file named directly)."""

    path: Path
    root: Path | None

    @property
    def derived_id(self) -> str:
        rel = self.path.relative_to(self.root) if self.root else Path(self.path.name)
        return slugify(str(rel.with_suffix("")))


def is_sidecar(path: Path) -> bool:
    return path.name.lower().endswith(".pdf" + SIDECAR_SUFFIX)


def discover(paths: Iterable[Path]) -> Iterator[SourceFile]:
    """Walk folders (sorted, hidden entries skipped); yield every file, supported or not."""
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                hidden = any(p.startswith(".") for p in rel.parts)
                if child.is_file() and not hidden and not is_sidecar(child):
                    yield SourceFile(child, path)
        else:
            yield SourceFile(path, None)


def file_hash(source: SourceFile, extra: str = "") -> str:
    """Content hash of the file plus its sidecar and the parser version."""
    digest = hashlib.sha256(PARSER_VERSION.encode() + extra.encode())
    digest.update(source.path.read_bytes())
    sidecar = sidecar_path(source.path)
    if sidecar.exists():
        digest.update(sidecar.read_bytes())
    return digest.hexdigest()[:32]


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def load(
    source: SourceFile,
    *,
    default_kind: str = "study",
    passwords: Iterable[str] = (),
    content_hash: str | None = None,
    max_decompressed_mb: int = DEFAULT_MAX_DECOMPRESSED_MB,
    on_pages: Callable[[int], None] | None = None,
    page_workers: int = 1,
) -> Document:
    """Parse one file into a Document, or raise the DocumentError that says why not.

    `max_decompressed_mb` bounds every stream pypdf decompresses or reads; `on_pages` is told a
    PDF's page count as soon as it is known (the parsing worker extends its deadline with it);
    `page_workers` > 1 reads a long PDF's pages in forked helpers (`ingest.pdf_pages`; only the
    parsing worker, a single-threaded process, asks for it).
    """
    path = source.path
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnsupportedFileError(
            path, f"unsupported file type '{suffix or path.name}': meddraft reads .pdf, .md, .txt"
        )
    if not path.exists():
        raise EmptyFileError(path, "file not found: check the path")
    if path.stat().st_size == 0:
        raise EmptyFileError(path, "empty file (0 bytes): nothing to ingest")
    digest = content_hash or file_hash(source)
    if suffix in PDF_SUFFIXES:
        limits = pdf_limits(max_decompressed_mb)
        return _load_pdf(source, default_kind, list(passwords), digest, limits, on_pages, page_workers)
    return _load_text(source, default_kind, digest)


# --- metadata -------------------------------------------------------------------------------


def _meta(path: Path, raw: dict, default_kind: str, where: str) -> DocMeta:
    data = dict(raw)
    data.setdefault("kind", default_kind)
    try:
        return DocMeta.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in err["loc"])
            + ": " * bool(err["loc"])
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise FrontMatterError(path, f"{where}: {problems}") from exc


# libyaml's safe loader where the wheel has it (it does on every platform PyYAML ships for): the
# same safe subset as yaml.SafeLoader at several times its speed, which matters for a folder of
# thousands of short Markdown files (SciFact: 0.9 of 42 s of ingest with the pure-Python loader)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml_mapping(path: Path, text: str, where: str) -> dict:
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FrontMatterError(path, f"{where}: invalid YAML{at}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError(path, f"{where}: expected key: value pairs, got {type(data).__name__}")
    return data


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)


def split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    """Return (front matter mapping, body). A file opening with '---' must close it."""
    if not text.startswith("---"):
        return {}, text
    match = _FRONT_MATTER.match(text)
    if not match:
        raise FrontMatterError(path, "front matter: opening '---' has no closing '---' line")
    return _parse_yaml_mapping(path, match.group(1), "front matter"), text[match.end() :]


# --- text and Markdown ----------------------------------------------------------------------


def _load_text(source: SourceFile, default_kind: str, digest: str) -> Document:
    path = source.path
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedFileError(
            path, f"not UTF-8 text (byte {exc.start}): convert the file to UTF-8"
        ) from exc
    front, body = split_front_matter(path, text)
    meta = _meta(path, front, default_kind, "front matter")
    body = clean_text(body)
    if not body.strip():
        raise EmptyFileError(path, "no text after the front matter")
    if meta.title is None:
        heading = re.search(r"^#\s+(.+)$", body, re.M)
        meta.title = heading.group(1).strip() if heading else path.stem.replace("_", " ")
    doc_id = meta.id or source.derived_id
    return Document(id=doc_id, meta=meta, text=body, path=path, content_hash=digest)


_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # ASCII's category C but tab and newline
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def clean_text(text: str) -> str:
    """Normalise Unicode and line ends, drop control characters (Unicode category C: control,
    format, unassigned, private use, surrogate; tab and newline kept), trim trailing spaces.
    The regexes run in C: only the distinct non-ASCII characters are looked up one by one."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _ASCII_CONTROLS.sub("", text)
    others = {ch for ch in set(_NON_ASCII.findall(text)) if unicodedata.category(ch)[0] == "C"}
    if others:
        text = text.translate(dict.fromkeys(map(ord, others)))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n") + "\n"


# --- PDF ------------------------------------------------------------------------------------


def pdf_limits(max_decompressed_mb: int) -> dict[str, int]:
    """pypdf's size limits (its `Configuration`, formerly `pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH`
    and friends), all set from the one setting `ingest.max_decompressed_mb`."""
    size = max_decompressed_mb * _MB
    return {
        "maximum_declared_stream_length": size,
        "array_based_stream_maximum_output_length": size,
        "jbig2_maximum_output_length": size,
        "lzw_maximum_output_length": size,
        "run_length_maximum_output_length": size,
        "zlib_maximum_output_length": size,
        "brotli_maximum_output_length": size,
        "image_maximum_buffer_size": size,
        "stream_decoding_work_maximum_length": max(300 * _MB, 2 * size),
    }


# pypdf's LimitReachedError messages that are about sizes (the other limits are about structure).
_SIZE_LIMIT = re.compile(
    r"decompress|stream length|declared size|output bytes|buffer size|"
    r"decoding work|requested length|memory limit",
    re.I,
)


def _load_pdf(
    source: SourceFile,
    default_kind: str,
    passwords: list[str],
    digest: str,
    limits: dict[str, int],
    on_pages: Callable[[int], None] | None,
    page_workers: int = 1,
) -> Document:
    import pypdf
    from pypdf.errors import LimitReachedError, PdfReadError, PdfStreamError

    path = source.path
    known = {f.name for f in dataclasses.fields(pypdf.Configuration)}  # fields differ by version
    try:
        with pypdf.apply_configuration(**{k: v for k, v in limits.items() if k in known}):
            reader = pypdf.PdfReader(path)
            if reader.is_encrypted:
                _decrypt(reader, path, passwords)
            if on_pages is not None:
                on_pages(len(reader.pages))
            page_texts = read_pages(reader.pages, _page_text, page_workers)
            info = reader.metadata or {}
    except (EncryptedPDFError, NoTextLayerError):
        raise
    except LimitReachedError as exc:
        if _SIZE_LIMIT.search(str(exc)):
            mb = limits["zlib_maximum_output_length"] // _MB
            raise ParseLimitError(
                path,
                f"compressed stream larger than the limit ({mb} MB once decompressed; pypdf: "
                f"{str(exc).rstrip('.')}); "
                "raise ingest.max_decompressed_mb to allow it",
            ) from exc
        raise MalformedPDFError(
            path,
            f"malformed PDF: it trips a safety limit of pypdf ({exc}); re-export or repair the file",
        ) from exc
    except NotImplementedError as exc:
        raise UnsupportedPDFError(
            path,
            f"unsupported PDF feature ({exc}); re-export the file (e.g. print it to PDF) and ingest it again",
        ) from exc
    except RecursionError as exc:
        raise MalformedPDFError(
            path, "malformed PDF: its objects nest too deeply to read; re-export or repair the file"
        ) from exc
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        raise MalformedPDFError(
            path, f"malformed PDF ({type(exc).__name__}: {exc}); re-export or repair the file"
        ) from exc
    if not page_texts:
        raise MalformedPDFError(path, "malformed PDF: it has no pages; re-export or repair the file")

    total = sum(len(t.strip()) for t in page_texts)
    if total < MIN_CHARS_PER_PAGE * len(page_texts):
        raise NoTextLayerError(
            path,
            f"no text layer ({total} characters on {len(page_texts)} pages): it looks scanned or "
            "image-only; run OCR first (e.g. `ocrmypdf in.pdf out.pdf`) and ingest the result",
        )

    sidecar = sidecar_path(path)
    if sidecar.exists():
        raw = _parse_yaml_mapping(path, sidecar.read_text(encoding="utf-8"), sidecar.name)
        meta = _meta(path, raw, default_kind, sidecar.name)
    else:
        meta = _meta(path, _pdf_info(info), default_kind, "PDF info")
    if meta.title is None:
        meta.title = path.stem.replace("_", " ")

    text_parts: list[str] = []
    pages: list[Page] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        body = clean_text(page_text) if page_text.strip() else ""
        pages.append(Page(number=number, start=offset, end=offset + len(body)))
        text_parts.append(body + "\n")
        offset += len(body) + 1
    empty = [p.number for p in pages if p.end - p.start < MIN_CHARS_PER_PAGE]
    warnings = []
    if empty:
        listed = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        warnings.append(f"{len(empty)} page(s) without a text layer: {listed}")
    return Document(
        id=meta.id or source.derived_id,
        meta=meta,
        text="".join(text_parts),
        path=path,
        content_hash=digest,
        pages=pages,
        warnings=warnings,
    )


def _decrypt(reader, path: Path, passwords: list[str]) -> None:
    from pypdf.errors import DependencyError

    for password in ["", *passwords]:
        try:
            if reader.decrypt(password):
                return
        except DependencyError as exc:
            raise EncryptedPDFError(
                path,
                f"encrypted PDF with a cipher pypdf cannot open ({exc}); decrypt it "
                "(qpdf --decrypt --password=PASSWORD in.pdf out.pdf) and ingest the result",
            ) from exc
    hint = "the password(s) given did not open it" if passwords else "no password was given"
    raise EncryptedPDFError(path, f"encrypted PDF and {hint}: pass the user password with --password")


_HYPHEN_BREAK = re.compile(r"(\w)-\n(?=[a-z])")


def _page_text(page) -> str:
    text = page.extract_text() or ""
    # Re-join words hyphenated across a line break ("treat-\nment"); keep real hyphens.
    return _HYPHEN_BREAK.sub(r"\1", text)


def _pdf_info(info) -> dict:
    """Front-matter-like mapping from the PDF info dictionary (title and year only)."""
    meta: dict = {}
    title = str(info.get("/Title") or "").strip()
    if _looks_like_title(title):
        meta["title"] = title
    author = str(info.get("/Author") or "").strip()
    if author and len(author) < 200:
        meta["source"] = author
    created = str(info.get("/CreationDate") or "")
    year = re.search(r"(19|20)\d{2}", created)
    if year:
        meta["year"] = int(year.group(0))
    return meta


def _looks_like_title(title: str) -> bool:
    words = re.findall(r"[A-Za-z]{2,}", title)
    return len(words) >= 2 and not title.lower().endswith((".doc", ".docx", ".pdf"))
