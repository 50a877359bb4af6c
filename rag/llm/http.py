"""Reading an endpoint's error answers: Retry-After, the error object, quota exhaustion."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime

import httpx
import openai


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or date)."""
    if value := headers.get("retry-after-ms"):
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def body_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        return json.dumps(body)
    try:
        return exc.response.text
    except (httpx.ResponseNotRead, AttributeError):
        return str(exc)


def error_object(exc: openai.APIStatusError) -> dict:
    """The error object of an error answer (the SDK unwraps `{"error": {...}}` most of the time)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error")
    return inner if isinstance(inner, dict) else body


def error_message(exc: openai.APIStatusError) -> str:
    return str(error_object(exc).get("message") or body_text(exc))


def is_quota(exc: openai.APIStatusError) -> bool:
    error = error_object(exc)
    message = str(error.get("message", "")).lower()
    codes = (str(error.get("code")), str(error.get("type")))
    return "insufficient_quota" in codes or ("quota" in message and "exceeded" in message)
