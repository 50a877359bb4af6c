"""rag's errors, under the one root `MeddraftError` (ingestion's errors are re-exported here).

Every error says what was wrong and what to do about it.
"""

from __future__ import annotations

from ingest.errors import (
    DocumentError,
    EmbeddingError,
    MeddraftError,
    StoreError,
    StoreMismatchError,
    StoreUnavailableError,
)

__all__ = [
    "CaseNotFoundError",
    "ConfigError",
    "DocumentError",
    "EmbeddingError",
    "LLMError",
    "LLMOutputError",
    "LLMQuotaError",
    "LLMRateLimitError",
    "LLMTimeoutError",
    "LLMTransportError",
    "MeddraftError",
    "PromptError",
    "QuestionError",
    "ScopeError",
    "StoreError",
    "StoreMismatchError",
    "StoreUnavailableError",
    "UnansweredQuestionError",
]


class ConfigError(MeddraftError):
    """Settings that cannot be used (bad value, unknown key, missing file)."""


class QuestionError(MeddraftError):
    """The question cannot be asked as given (empty or blank): a usage error."""


class UnansweredQuestionError(MeddraftError):
    """The question was read, but what it asks cannot be found (no drug, no dose, a language the
    analysis does not read): no verdict is drafted. `understood` says what was read."""

    def __init__(self, message: str, understood: list[str]) -> None:
        self.understood = understood
        super().__init__(message)


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


class ScopeError(MeddraftError):
    """A chunk of another case reached a draft or an answer (a bug: scoping is in the query)."""
