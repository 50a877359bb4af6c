"""The root of meddraft's one exception tree, and the errors of ingestion.

rag's own errors (settings, cases, scope, models, prompts) derive from the same root in
`rag/errors.py`.

Every error says what was wrong and what to do about it. File-level errors carry the path so a
batch can report them one line each and keep going.
"""

from __future__ import annotations

from pathlib import Path


class MeddraftError(Exception):
    """Root of every error meddraft raises on purpose."""


class DocumentError(MeddraftError):
    """One input file could not be ingested; the rest of the batch goes on."""

    reason = "could not be ingested"

    def __init__(self, path: Path | str, detail: str) -> None:
        self.path = Path(path)
        self.detail = detail
        super().__init__(f"{self.path}: {self.message}")

    @property
    def message(self) -> str:
        """One sentence: the reason, then the detail, unless the detail already starts with it."""
        if self.detail.lower().startswith(self.reason.lower()):
            return self.detail
        return f"{self.reason}: {self.detail}"

    def __reduce__(self):  # crosses the pipe from the parsing worker intact
        return (type(self), (self.path, self.detail))


class UnsupportedFileError(DocumentError):
    reason = "unsupported file type"


class EmptyFileError(DocumentError):
    reason = "empty file"


class EncryptedPDFError(DocumentError):
    reason = "encrypted"


class NoTextLayerError(DocumentError):
    reason = "no text layer"


class MalformedPDFError(DocumentError):
    reason = "malformed PDF"


class UnsupportedPDFError(DocumentError):
    reason = "unsupported PDF feature"


class ParseLimitError(DocumentError):
    """Parsing went over a limit: decompressed size, memory or time (the `ingest.*` settings)."""

    reason = "over a parsing limit"

    @property
    def message(self) -> str:  # the detail names the limit and the setting that raises it
        return self.detail


class ParserCrashError(DocumentError):
    """The worker process parsing the file died."""

    reason = "the parser crashed"


class FrontMatterError(DocumentError):
    reason = "invalid metadata"


class DuplicateDocumentError(DocumentError):
    reason = "duplicate document id"


class StoreError(MeddraftError):
    """The vector store cannot be opened or used."""


class StoreMismatchError(StoreError):
    """The store was built with another embedding model than the one configured."""


class StoreUnavailableError(StoreError):
    """The Chroma server cannot be reached (down, restarting, or the network between): try again."""


class EmbeddingError(MeddraftError):
    """The embedding model cannot be loaded or used."""
