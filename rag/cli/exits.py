"""The command line's exit statuses, one meaning each, so that a script can tell "fix the command"
from "fix the data" from "try again later" (the last as sysexits' EX_TEMPFAIL).

- 0: done.
- 1: ran, and a gate or check the user asked for failed (`eval cases --check`).
- 2: usage: a bad option, an empty question, settings that cannot be used.
- 3: input or data: a file that did not land, an unknown case, session or policy, a store that is
  missing, read-only or inconsistent, a question whose drug or dose cannot be found, a model
  answer that stayed invalid.
- 75: temporary: the model endpoint was unreachable, timed out, or rate-limited after every
  retry, or the Chroma server (`store.host`) could not be reached; run again later.
"""

from __future__ import annotations

from rag.errors import (
    ConfigError,
    LLMQuotaError,
    LLMTransportError,
    MeddraftError,
    QuestionError,
    StoreUnavailableError,
)

OK, FAILED_CHECK, USAGE, DATA, TEMPORARY = 0, 1, 2, 3, 75

_RETRY_LATER = {408, 425, 429, 500, 502, 503, 504}


def exit_status(exc: MeddraftError) -> int:
    """The status for an error that ended a command."""
    if isinstance(exc, ConfigError | QuestionError):
        return USAGE
    if isinstance(exc, StoreUnavailableError):
        return TEMPORARY
    transient = isinstance(exc, LLMTransportError) and not isinstance(exc, LLMQuotaError)
    if transient and (exc.status is None or exc.status in _RETRY_LATER):  # no answer, timeout, 429, 5xx
        return TEMPORARY
    return DATA
