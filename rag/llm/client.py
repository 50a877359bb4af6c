"""The one door to a model: an OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp).

This is the only module that imports `openai`, and `build_client` is the only place a client is
made. `LLMClient` adds what drafting needs on top of the SDK:

- transport: timeouts; retries with exponential backoff and jitter on 429, 5xx, timeouts and
  connection errors; `Retry-After` honoured up to `llm.max_retry_wait`; quota errors
  (`insufficient_quota`) never retried; streaming with progress callbacks;
- output format: JSON schema where the server supports it, else JSON mode with the schema
  (llama.cpp's extension), else JSON mode, else instructions only. The first format the server
  accepts is remembered and recorded;
- structured output: the answer is parsed by the caller's validator; invalid JSON, truncated
  output (finish_reason "length") and validation errors (schema, unknown citation keys) are sent
  back to the model with the error, at most `llm.max_reasks` times, then one `LLMOutputError`
  carrying the raw output.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import openai

from rag.errors import (
    ConfigError,
    LLMError,
    LLMOutputError,
    LLMQuotaError,
    LLMRateLimitError,
    LLMTimeoutError,
    LLMTransportError,
)
from rag.llm.http import body_text, error_message, is_quota, retry_after
from rag.llm.prompts import load_prompt
from rag.llm.schema import OutputProblem, strip_fences
from rag.llm.trace import ChatResult, Hooks, Trace
from rag.settings import LLMSettings
from rag.text import shorten

log = logging.getLogger("meddraft.llm")
T = TypeVar("T")
OPENAI_URL = "https://api.openai.com/v1"
FORMATS = ("json_schema", "json_object_schema", "json_object", "none")
_FORMAT_REFUSAL = re.compile(r"response_format|json_schema|json_object|structured output", re.I)
_RETRYABLE_STATUS = {408, 409, 429}
_CONTEXT_OVERFLOW = re.compile(
    r"context (?:length|window)|too many tokens|too long|exceeds? .{0,30}context", re.I
)
BACKOFF_BASE = 0.5  # seconds before the first retry (times 2**attempt, with jitter)


class _EmptyStream(Exception):
    """A 200 answer whose stream carried nothing at all."""


def build_client(settings: LLMSettings) -> openai.OpenAI:
    """The one place an OpenAI client is built. Retries are ours (see `LLMClient.chat`)."""
    if not settings.model:
        raise ConfigError(
            "no model configured for --generator openai: set MEDDRAFT_LLM__MODEL (or llm.model in "
            "meddraft.toml) to a model the endpoint serves"
        )
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if not settings.base_url and not key:
        raise ConfigError(
            "no model endpoint configured: set MEDDRAFT_LLM__BASE_URL (e.g. http://127.0.0.1:8080/v1) "
            "or, for OpenAI itself, OPENAI_API_KEY; nothing is sent to a model otherwise"
        )
    return openai.OpenAI(
        base_url=settings.base_url or OPENAI_URL,  # explicit: never the SDK's OPENAI_BASE_URL guess
        api_key=key or "not-needed",  # local servers take any key; the SDK insists on one
        timeout=settings.timeout,
        max_retries=0,
    )


def endpoint_host(settings: LLMSettings) -> str:
    parsed = urlparse(settings.base_url or OPENAI_URL)
    return parsed.netloc or parsed.path


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings,
        *,
        client: openai.OpenAI | None = None,
        hooks: Hooks | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.model = settings.model
        self.endpoint_host = endpoint_host(settings)
        self.hooks = hooks or Hooks()
        self.sleep = sleep
        self._formats = list(FORMATS) if settings.response_format == "auto" else [settings.response_format]
        self._token_param = "max_tokens"  # newer OpenAI models want max_completion_tokens
        self._send_temperature = True  # reasoning models take only their default temperature
        self._stream = settings.stream

    def _note(self, message: str) -> None:
        log.info(message)
        self.hooks.on_note(message)

    # --- transport ----------------------------------------------------------------------------

    def chat(self, messages: list[dict], *, schema: dict | None = None, name: str = "answer") -> ChatResult:
        """One completion, retried on transient failures; the answer's text and finish reason."""
        retries = self.settings.max_retries
        attempt = 0
        while True:
            fmt = self._formats[0] if schema else "none"
            try:
                content, finish = self._complete(messages, schema, fmt, name)
                return ChatResult(content, finish, attempt + 1, fmt)
            except openai.APIStatusError as exc:
                if self._adapt_parameters(exc):
                    continue
                if schema and self._refuses_format(exc) and len(self._formats) > 1:
                    dropped = self._formats.pop(0)
                    self._note(
                        f"{self.endpoint_host} does not take response_format {dropped}; "
                        f"using {self._formats[0]}"
                    )
                    continue
                wait = self._status_wait(exc, attempt, retries)
            except _EmptyStream:
                # some servers (llama-cpp-python on a context overflow) answer 200 and stream nothing;
                # the same request without streaming returns the real error
                self._stream = False
                self._note(f"the stream from {self.endpoint_host} ended empty; asking without streaming")
                continue
            except openai.APITimeoutError as exc:
                wait = self._transient_wait("timeout", exc, attempt, retries, LLMTimeoutError)
            except (openai.APIConnectionError, httpx.TransportError) as exc:
                wait = self._transient_wait("connection", exc, attempt, retries, LLMTransportError)
            attempt += 1
            self._note(f"retrying {name} in {wait:.1f} s (attempt {attempt + 1} of {retries + 1})")
            self.sleep(wait)

    def _complete(
        self, messages: list[dict], schema: dict | None, fmt: str, name: str
    ) -> tuple[str, str | None]:
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            self._token_param: self.settings.max_output_tokens,
        }
        if self._send_temperature:
            kwargs["temperature"] = self.settings.temperature
        if schema and fmt == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": _strict(schema), "strict": True},
            }
        elif schema and fmt == "json_object_schema":
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        elif schema and fmt == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        if not self._stream:
            response = self.client.chat.completions.create(**kwargs)
            if not response.choices:
                raise LLMError(f"{self.endpoint_host} returned no choices; check llm.model")
            choice = response.choices[0]
            content = choice.message.content or ""
            self.hooks.on_text(len(content))
            return content, choice.finish_reason
        parts: list[str] = []
        finish = None
        received = 0
        with self.client.chat.completions.create(**kwargs, stream=True) as stream:
            for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.delta and choice.delta.content:
                    parts.append(choice.delta.content)
                    received += len(choice.delta.content)
                    self.hooks.on_text(received)
                finish = choice.finish_reason or finish
        if finish is None and not parts:
            raise _EmptyStream
        if finish is None:
            raise httpx.RemoteProtocolError("the stream ended without a finish reason")
        return "".join(parts), finish

    def _adapt_parameters(self, exc: openai.APIStatusError) -> bool:
        """Follow a 400 that names a parameter this model wants differently; True to send again."""
        if exc.status_code != 400:
            return False
        body = body_text(exc)
        if self._token_param == "max_tokens" and "max_completion_tokens" in body and "max_tokens" in body:
            self._token_param = "max_completion_tokens"
            self._note(f"{self.endpoint_host} wants max_completion_tokens instead of max_tokens; using it")
            return True
        if self._send_temperature and re.search(
            r"temperature.{0,80}(?:unsupported|not support|only the default)|"
            r"(?:unsupported|not support).{0,80}temperature",
            body,
            re.I | re.S,
        ):
            self._send_temperature = False
            self._note(
                f"{self.settings.model} takes only its default temperature; llm.temperature is not sent"
            )
            return True
        return False

    @staticmethod
    def _refuses_format(exc: openai.APIStatusError) -> bool:
        return exc.status_code in (400, 422, 500) and bool(_FORMAT_REFUSAL.search(body_text(exc)))

    def _status_wait(self, exc: openai.APIStatusError, attempt: int, retries: int) -> float:
        status = exc.status_code
        host = self.endpoint_host
        if status == 429 and is_quota(exc):
            raise LLMQuotaError(
                f"{host} reports the account is out of quota (429 insufficient_quota): not retried; "
                "check the plan and billing, or point llm.base_url at another endpoint",
                status=429,
                attempts=attempt + 1,
            ) from exc
        if status in (401, 403):
            raise LLMTransportError(
                f"{host} refused the request ({status}): check the API key "
                "(MEDDRAFT_LLM__API_KEY or OPENAI_API_KEY) and its permissions",
                status=status,
                attempts=attempt + 1,
            ) from exc
        if status == 404:
            raise LLMTransportError(
                f"{host} answered 404 for model {self.settings.model!r}: check llm.model and "
                f"llm.base_url (it usually ends in /v1)",
                status=status,
                attempts=attempt + 1,
            ) from exc
        if status not in _RETRYABLE_STATUS and status < 500:
            detail = error_message(exc)
            hint = (
                "; the prompt is too long for the model: lower llm.context_tokens or llm.max_output_tokens"
                if _CONTEXT_OVERFLOW.search(detail)
                else ""
            )
            raise LLMTransportError(
                f"{host} rejected the request ({status}): {detail[:300]}{hint}",
                status=status,
                attempts=attempt + 1,
            ) from exc
        error = LLMRateLimitError if status == 429 else LLMTransportError
        what = "rate limited (429)" if status == 429 else f"server error ({status})"
        if attempt >= retries:
            raise error(
                f"{host}: {what} on all {attempt + 1} attempts; try again later or raise llm.max_retries",
                status=status,
                attempts=attempt + 1,
            ) from exc
        asked = retry_after(exc.response.headers)
        if asked is not None:
            if asked > self.settings.max_retry_wait:
                raise error(
                    f"{host}: {what} and Retry-After asks for {asked:.0f} s, more than "
                    f"llm.max_retry_wait ({self.settings.max_retry_wait:.0f} s); try again later",
                    status=status,
                    attempts=attempt + 1,
                ) from exc
            self._note(f"{host}: {what}; the server asks to wait {asked:.1f} s")
            return asked
        self._note(f"{host}: {what}")
        return self._backoff(attempt)

    def _transient_wait(self, what: str, exc: Exception, attempt: int, retries: int, error: type) -> float:
        host = self.endpoint_host
        if attempt >= retries:
            detail = (
                f"no answer within llm.timeout ({self.settings.timeout:g} s)"
                if what == "timeout"
                else f"connection failed ({exc.__class__.__name__}: {exc})"
            )
            raise error(
                f"{host}: {detail} on all {attempt + 1} attempts; check that the server is running "
                "and reachable, or raise llm.timeout",
                attempts=attempt + 1,
            ) from exc
        self._note(f"{host}: {what} ({exc.__class__.__name__})")
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, capped at llm.max_retry_wait."""
        return min(self.settings.max_retry_wait, BACKOFF_BASE * 2**attempt) * random.uniform(0.5, 1.5)

    # --- structured output --------------------------------------------------------------------

    def structured(
        self, messages: list[dict], *, schema: dict, validate: Callable[[str], T], name: str = "draft"
    ) -> tuple[T, Trace]:
        """Ask, validate, re-ask with the error (bounded); the validated value and a trace."""
        reask = load_prompt("reask")
        convo = list(messages)
        trace = Trace()
        raw = ""
        for attempt in range(self.settings.max_reasks + 1):
            result = self.chat(convo, schema=schema, name=name)
            trace.calls += 1
            trace.response_format = result.response_format
            raw = result.content
            if result.finish_reason == "content_filter":
                raise LLMOutputError(
                    f"{self.endpoint_host}'s content filter stopped the model's {name}; not asked again "
                    "(the same sources would be filtered again): review the case documents or use "
                    "another endpoint",
                    raw_output=raw,
                    errors=["finish_reason content_filter"],
                )
            if result.finish_reason == "length":
                problem = (
                    f"the answer was cut off at the output limit ({self.settings.max_output_tokens} "
                    "tokens) and is incomplete JSON; answer again with fewer and shorter statements"
                )
            else:
                try:
                    return validate(strip_fences(raw)), trace
                except OutputProblem as exc:
                    problem = str(exc)
            trace.errors.append(problem)
            if attempt == self.settings.max_reasks:
                break
            trace.reasks += 1
            self._note(f"the model's {name} was not usable ({shorten(problem, 160)}); asking again")
            convo = [
                *messages,
                {"role": "assistant", "content": shorten(raw, 6000)},
                {"role": "user", "content": reask.render(error=problem)},
            ]
        raise LLMOutputError(
            f"the model's {name} was still unusable after {trace.reasks} re-ask(s): {trace.errors[-1]}",
            raw_output=raw,
            errors=trace.errors,
        )


def _strict(schema: Any) -> Any:
    """The schema without keywords strict JSON-schema mode rejects (string lengths)."""
    if isinstance(schema, dict):
        return {k: _strict(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema
