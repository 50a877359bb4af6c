"""Transport and structured output against the real llama.cpp server, with faults injected.

Every test talks to `python -m llama_cpp.server` (SmolLM2-135M) through `FaultProxy`, which
fails chosen requests the way providers do; the rest reach the real model.
"""

from __future__ import annotations

import json
import time

import pytest

from rag.errors import (
    LLMOutputError,
    LLMQuotaError,
    LLMRateLimitError,
    LLMTimeoutError,
    LLMTransportError,
)
from rag.llm.client import Hooks, LLMClient
from rag.llm.schema import OutputProblem, parse_json
from tests.conftest import small_llm
from tests.llm_support import Fault

SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "enum": ["yes", "no"]},
        "reason": {"type": "string", "maxLength": 40},
    },
    "required": ["answer", "reason"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "Answer with one JSON object."},
    {"role": "user", "content": "Is water wet? Give answer (yes or no) and a short reason."},
]


def check(text: str) -> dict:
    data = parse_json(text)
    if not isinstance(data, dict) or data.get("answer") not in ("yes", "no"):
        raise OutputProblem(f"'answer' must be yes or no, got {data!r}")
    return data


class Recorder:
    """Sleeps for real and remembers how long it was asked to."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.notes: list[str] = []
        self.received: list[int] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)

    def hooks(self) -> Hooks:
        return Hooks(on_text=self.received.append, on_note=self.notes.append)


def client(url: str, rec: Recorder, **changes) -> LLMClient:
    settings = small_llm(url, response_format="json_object_schema", max_output_tokens=60, **changes)
    return LLMClient(settings, hooks=rec.hooks(), sleep=rec.sleep)


def chat_bodies(proxy) -> list[dict]:
    return [r.body for r in proxy.chat_requests]


@pytest.mark.parametrize("stream", [True, False])
def test_format_negotiation_and_streaming_against_the_real_server(llama_server, stream):
    rec = Recorder()
    llm = LLMClient(small_llm(llama_server.base_url, stream=stream, max_output_tokens=60), hooks=rec.hooks())
    data, trace = llm.structured(MESSAGES, schema=SCHEMA, validate=check)
    assert data["answer"] in ("yes", "no") and set(data) == {"answer", "reason"}
    # llama.cpp refuses response_format json_schema (HTTP 500); JSON mode with the schema works
    assert trace.response_format == "json_object_schema" and trace.calls == 1
    assert any("does not take response_format json_schema" in n for n in rec.notes)
    assert (rec.received and rec.received[-1] == len(json.dumps(data, separators=(",", ":")))) or rec.received
    if stream:
        assert len(rec.received) > 3 and rec.received == sorted(rec.received)  # progress as it streams
    else:
        assert len(rec.received) == 1


def test_rate_limit_honours_retry_after(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(Fault("rate_limit", retry_after=1))
    data, _ = client(fault_proxy.url, rec).structured(MESSAGES, schema=SCHEMA, validate=check)
    assert data["answer"] in ("yes", "no")
    assert rec.waits == [1.0]
    assert [r.fault for r in fault_proxy.chat_requests] == ["rate_limit", None]
    assert any("asks to wait 1.0 s" in n for n in rec.notes)


def test_rate_limit_without_retry_after_backs_off_with_jitter(fault_proxy):
    rec = Recorder()
    fault_proxy.queue("rate_limit", "server_error")
    client(fault_proxy.url, rec).structured(MESSAGES, schema=SCHEMA, validate=check)
    assert len(rec.waits) == 2
    assert 0.25 <= rec.waits[0] <= 0.75 and 0.5 <= rec.waits[1] <= 1.5  # 0.5 s x 2^n, jitter 0.5-1.5
    assert len(fault_proxy.chat_requests) == 3


def test_rate_limit_gives_up_after_max_retries(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(*[Fault("rate_limit", retry_after=0.2)] * 3)
    with pytest.raises(LLMRateLimitError, match="rate limited \\(429\\) on all 3 attempts") as info:
        client(fault_proxy.url, rec, max_retries=2).chat(MESSAGES, schema=SCHEMA)
    assert info.value.attempts == 3 and info.value.status == 429
    assert len(fault_proxy.chat_requests) == 3


def test_retry_after_longer_than_allowed_fails_at_once(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(Fault("rate_limit", retry_after=3600))
    with pytest.raises(LLMRateLimitError, match="Retry-After asks for 3600 s"):
        client(fault_proxy.url, rec).chat(MESSAGES, schema=SCHEMA)
    assert rec.waits == [] and len(fault_proxy.chat_requests) == 1


def test_quota_errors_are_never_retried(fault_proxy):
    rec = Recorder()
    fault_proxy.queue("quota", "quota", "quota")
    with pytest.raises(LLMQuotaError, match="out of quota .*not retried"):
        client(fault_proxy.url, rec).chat(MESSAGES, schema=SCHEMA)
    assert rec.waits == [] and len(fault_proxy.chat_requests) == 1


def test_server_errors_are_retried_then_reported(fault_proxy):
    rec = Recorder()
    fault_proxy.queue("server_error")
    result = client(fault_proxy.url, rec).chat(MESSAGES, schema=SCHEMA)
    assert result.attempts == 2 and check(result.content)
    fault_proxy.queue(*["server_error"] * 3)
    with pytest.raises(LLMTransportError, match="server error \\(500\\) on all 3 attempts"):
        client(fault_proxy.url, rec).chat(MESSAGES, schema=SCHEMA)


def test_timeouts_are_retried_then_reported(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(Fault("timeout", delay=4))
    result = client(fault_proxy.url, rec, timeout=1.5).chat(MESSAGES, schema=SCHEMA)
    assert result.attempts == 2 and check(result.content)
    fault_proxy.queue(*[Fault("timeout", delay=4)] * 2)
    started = time.perf_counter()
    with pytest.raises(LLMTimeoutError, match="no answer within llm.timeout \\(1.5 s\\) on all 2 attempts"):
        client(fault_proxy.url, rec, timeout=1.5, max_retries=1).chat(MESSAGES, schema=SCHEMA)
    assert time.perf_counter() - started < 8  # bounded: two timeouts and one backoff


@pytest.mark.parametrize("stream", [True, False])
def test_dropped_connections_are_retried(fault_proxy, stream):
    rec = Recorder()
    fault_proxy.queue("disconnect")
    result = client(fault_proxy.url, rec, stream=stream).chat(MESSAGES, schema=SCHEMA)
    assert result.attempts == 2 and check(result.content)


@pytest.mark.parametrize("stream", [True, False])
def test_malformed_json_is_sent_back_with_the_error(fault_proxy, stream):
    rec = Recorder()
    fault_proxy.queue("malformed")
    data, trace = client(fault_proxy.url, rec, stream=stream).structured(
        MESSAGES, schema=SCHEMA, validate=check
    )
    assert data["answer"] in ("yes", "no")
    assert trace.calls == 2 and trace.reasks == 1 and "not valid JSON" in trace.errors[0]
    reask = chat_bodies(fault_proxy)[1]["messages"]
    assert reask[-2]["role"] == "assistant" and reask[-2]["content"].endswith("}}{")
    assert reask[-1]["role"] == "user" and "not valid JSON" in reask[-1]["content"]


def test_truncated_output_is_asked_again(fault_proxy):
    rec = Recorder()
    fault_proxy.queue("truncated")
    data, trace = client(fault_proxy.url, rec).structured(MESSAGES, schema=SCHEMA, validate=check)
    assert data["answer"] in ("yes", "no") and trace.reasks == 1
    assert "cut off at the output limit (60 tokens)" in chat_bodies(fault_proxy)[1]["messages"][-1]["content"]


def test_schema_errors_are_asked_again(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(Fault("rewrite", rewrite=lambda content: '{"answer": "maybe", "reason": "x"}'))
    data, _ = client(fault_proxy.url, rec).structured(MESSAGES, schema=SCHEMA, validate=check)
    assert data["answer"] in ("yes", "no")
    assert "'answer' must be yes or no" in chat_bodies(fault_proxy)[1]["messages"][-1]["content"]


def test_output_still_invalid_after_the_reasks_keeps_the_raw_output(fault_proxy):
    rec = Recorder()
    fault_proxy.queue("malformed", "malformed", "malformed")
    with pytest.raises(LLMOutputError, match="still unusable after 2 re-ask") as info:
        client(fault_proxy.url, rec, max_reasks=2).structured(MESSAGES, schema=SCHEMA, validate=check)
    assert info.value.raw_output.endswith("}}{") and len(info.value.errors) == 3
    assert len(fault_proxy.chat_requests) == 3  # bounded: one ask plus two re-asks


def test_the_api_key_reaches_the_endpoint_only_in_the_header(llama_server):
    from tests.llm_support import FaultProxy

    rec = Recorder()
    with FaultProxy(llama_server.root) as proxy:
        proxy.queue(Fault("rewrite", rewrite=lambda c: c))  # pass-through; records the headers
        client(proxy.url, rec).chat(MESSAGES, schema=SCHEMA)
        assert proxy.chat_requests[0].headers["authorization"] == "Bearer sk-test-7f3a9c1e-do-not-log"


def test_parameters_a_model_refuses_are_adapted_once(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(
        Fault("reject", message="Unsupported parameter: 'max_tokens' is not supported with this model. "
              "Use 'max_completion_tokens' instead."),
        Fault("reject", message="Unsupported value: 'temperature' does not support 0 with this model. "
              "Only the default (1) value is supported."),
    )  # fmt: skip
    llm = client(fault_proxy.url, rec)
    data, _ = llm.structured(MESSAGES, schema=SCHEMA, validate=check)
    assert data["answer"] in ("yes", "no")
    first, second, third = chat_bodies(fault_proxy)
    assert "max_tokens" in first and "temperature" in first
    assert "max_completion_tokens" in second and "max_tokens" not in second
    assert "temperature" not in third and third["max_completion_tokens"] == 60
    assert rec.waits == []  # adapting is not retrying
    llm.chat(MESSAGES, schema=SCHEMA)  # remembered for the next request
    assert "temperature" not in chat_bodies(fault_proxy)[-1]


def test_prompt_too_long_for_the_real_server_says_what_to_lower(llama_server):
    rec = Recorder()
    long = [{"role": "user", "content": "word " * 12000}]  # the server's window is 8192 tokens
    with pytest.raises(LLMTransportError, match="maximum context length.*lower llm.context_tokens") as info:
        client(llama_server.base_url, rec).chat(long)
    assert info.value.status == 400, rec.notes
    # llama-cpp-python streams an empty 200 for this; the client asks again without streaming (the
    # server may drop the kept-alive connection once: one retry) and reports the server's error
    assert "ended empty; asking without streaming" in rec.notes[0] and info.value.attempts <= 2


def test_content_filter_is_not_asked_again(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(Fault("rewrite", rewrite=lambda content: "", finish_reason="content_filter"))
    with pytest.raises(LLMOutputError, match="content filter stopped the model's draft; not asked again"):
        client(fault_proxy.url, rec).structured(MESSAGES, schema=SCHEMA, validate=check)
    assert len(fault_proxy.chat_requests) == 1


def test_other_client_errors_are_reported_not_retried(fault_proxy):
    rec = Recorder()
    fault_proxy.queue(Fault("reject", status=422, message="messages: field required"))
    with pytest.raises(LLMTransportError, match="rejected the request \\(422\\): messages: field required"):
        client(fault_proxy.url, rec).chat(MESSAGES, schema=SCHEMA)
    assert len(fault_proxy.chat_requests) == 1 and rec.waits == []
