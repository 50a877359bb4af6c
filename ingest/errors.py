"""The one exception tree of meddraft.

Every error says what was wrong and what to do about it. File-level errors carry the path so a
batch can report them one line each and keep going.
"""

from __future__ import annotations

from pathlib import Path


class MeddraftError(Exception):
    """Root of every error meddraft raises on purpose."""


class ConfigError(MeddraftError):
    """Settings that cannot be used (bad value, unknown key, missing file)."""


class DocumentError(MeddraftError):
    """One input file could not be ingested; the rest of the batch goes on."""

    reason = "could not be ingested"

    def __init__(self, path: Path | str, detail: str) -> None:
        self.path = Path(path)
        self.detail = detail
        super().__init__(f"{self.path}: {detail}")


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


class FrontMatterError(DocumentError):
    reason = "invalid metadata"


class DuplicateDocumentError(DocumentError):
    reason = "duplicate document id"


class StoreError(MeddraftError):
    """The vector store cannot be opened or used."""


class StoreMismatchError(StoreError):
    """The store was built with another embedding model than the one configured."""


class EmbeddingError(MeddraftError):
    """The embedding model cannot be loaded or used."""


class CaseNotFoundError(MeddraftError):
    """A case id was asked for that no ingested document carries."""

    def __init__(self, case_id: str, known: list[str]) -> None:
        self.case_id = case_id
        self.known = known
        super().__init__(f"no documents for case {case_id}; known cases: {', '.join(known) or '(none)'}")


class LLMError(MeddraftError):
    """The configured model endpoint could not produce a usable draft."""


class LLMTransportError(LLMError):
    """The endpoint did not answer usefully after the allowed retries (or must not be retried)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class LLMRateLimitError(LLMTransportError):
    """429 after every retry, or a Retry-After longer than allowed."""


class LLMQuotaError(LLMTransportError):
    """The account is out of quota or credit: retrying cannot help."""


class LLMTimeoutError(LLMTransportError):
    """No answer within llm.timeout, on every attempt."""


class LLMOutputError(LLMError):
    """The model's output stayed invalid after the bounded re-asks; carries the raw output."""

    def __init__(self, message: str, *, raw_output: str, errors: list[str]) -> None:
        self.raw_output = raw_output
        self.errors = errors
        super().__init__(message)


class PromptError(MeddraftError):
    """A prompt file is malformed or was rendered with missing or extra variables."""
