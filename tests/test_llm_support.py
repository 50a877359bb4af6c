"""The LLM test tooling itself: the real SmolLM2 server and the fault-injecting proxy in front of it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import openai
import pytest

from tests.llm_support import Fault, FaultProxy, LlamaServer, start_llama_server

MESSAGES = [{"role": "user", "content": "Name three colours."}]
GREEDY = {"max_tokens": 20, "temperature": 0.0, "seed": 7}


@pytest.fixture(scope="module")
def llm(llama_server) -> LlamaServer:
    return llama_server  # the session's server (tests/conftest.py)


@pytest.fixture(scope="module")
def proxy(llm: LlamaServer) -> FaultProxy:
    with FaultProxy(llm.root) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").reset()


@pytest.fixture
def client(proxy: FaultProxy) -> openai.OpenAI:
    return openai.OpenAI(api_key="test", base_url=proxy.url, max_retries=0, timeout=3)


@pytest.fixture(scope="module")
def reference(llm: LlamaServer) -> str:
    """The model's greedy answer to MESSAGES, straight from the server (no proxy).

    Asked twice, and the second answer kept: llama-cpp-python reuses the cached prompt when the
    same prompt comes again, and a portable (AVX2) build's logits for a cached prompt can differ
    in the last digits from a fresh evaluation, which flips greedy ties. The calls through the
    proxy repeat the prompt too, so they take the same, cached, path.
    """
    direct = openai.OpenAI(api_key="test", base_url=llm.base_url, max_retries=0, timeout=30)
    direct.chat.completions.create(model=llm.model, messages=MESSAGES, **GREEDY)
    answer = direct.chat.completions.create(model=llm.model, messages=MESSAGES, **GREEDY)
    assert answer.choices[0].message.content
    return answer.choices[0].message.content


def ask(client: openai.OpenAI, stream: bool, **kwargs) -> tuple[str, str | None]:
    """(content, finish_reason) of one chat call, streamed or not."""
    params = {"model": "smollm2", "messages": MESSAGES, **GREEDY, **kwargs}
    if not stream:
        answer = client.chat.completions.create(**params)
        return answer.choices[0].message.content or "", answer.choices[0].finish_reason
    parts, finish = [], None
    for chunk in client.chat.completions.create(stream=True, **params):
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    return "".join(parts), finish


both = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])


@both
def test_pass_through_matches_the_server(client, proxy, reference, stream):
    content, finish = ask(client, stream)
    assert content == reference
    assert finish in {"stop", "length"}
    (seen,) = proxy.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.fault is None
    assert seen.headers["authorization"] == "Bearer test"
    assert seen.body["messages"] == MESSAGES
    assert seen.body.get("stream", False) is stream


def test_get_is_forwarded(client, proxy):
    assert [m.id for m in client.models.list()] == ["smollm2"]
    assert proxy.requests[0].path == "/v1/models"
    assert proxy.requests[0].fault is None


def test_sse_wire_format(proxy, reference):
    body = json.dumps({"model": "smollm2", "messages": MESSAGES, "stream": True, **GREEDY}).encode()
    request = urllib.request.Request(
        proxy.url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        raw = resp.read().decode()
    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] and c["model"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert "".join(pieces) == reference
    assert all(len(p) <= 40 for p in pieces) and len(pieces) >= 2


@both
@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (1.5, "1.5"), (None, None)])
def test_rate_limit(client, proxy, stream, retry_after, header):
    proxy.queue(Fault("rate_limit", retry_after=retry_after))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, stream)
    assert caught.value.response.headers.get("retry-after") == header
    assert caught.value.code == "rate_limit_exceeded"
    assert proxy.requests[0].fault == "rate_limit"


@both
def test_quota(client, proxy, stream):
    proxy.queue("quota")
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, stream)
    assert caught.value.code == "insufficient_quota"
    assert caught.value.type == "insufficient_quota"
    assert "retry-after" not in caught.value.response.headers


@both
def test_server_error(client, proxy, stream):
    proxy.queue("server_error")
    with pytest.raises(openai.InternalServerError, match="injected upstream failure"):
        ask(client, stream)


@both
def test_timeout_does_not_block_other_requests(client, proxy, reference, stream):
    proxy.queue(Fault("timeout", delay=5))
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            ask(client, stream)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    hanging = threading.Thread(target=hang)
    hanging.start()
    while not proxy.requests:  # let the hanging request take the fault first
        time.sleep(0.02)
    assert ask(client, stream)[0] == reference  # served meanwhile
    assert time.monotonic() - started < 2.5
    hanging.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], openai.APITimeoutError)
    assert 2.9 < time.monotonic() - started < 5
    assert [r.fault for r in proxy.requests] == ["timeout", None]


@both
def test_disconnect(client, proxy, stream):
    proxy.queue("disconnect")
    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError) as caught:
        ask(client, stream)
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert time.monotonic() - started < 1


@both
def test_malformed(client, proxy, reference, stream):
    proxy.queue("malformed")
    content, finish = ask(client, stream)
    assert finish == "stop"
    assert content == reference[: len(reference) // 2] + "}}{"
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


@both
def test_truncated(client, proxy, reference, stream):
    proxy.queue("truncated")
    assert ask(client, stream) == (reference[: len(reference) // 2], "length")


@both
def test_rewrite_keeps_finish_reason(client, proxy, reference, stream):
    _, finish = ask(client, stream)
    proxy.queue(Fault("rewrite", rewrite=lambda text: '{"verdict": "' + text.upper() + '"}'))
    assert ask(client, stream) == ('{"verdict": "' + reference.upper() + '"}', finish)


def test_faults_apply_in_order_then_pass_through(client, proxy, reference):
    proxy.queue("server_error", Fault("rate_limit", retry_after=1))
    with pytest.raises(openai.InternalServerError):
        ask(client, False)
    with pytest.raises(openai.RateLimitError):
        ask(client, False)
    assert ask(client, False)[0] == reference
    assert [r.fault for r in proxy.requests] == ["server_error", "rate_limit", None]
    proxy.queue("quota")
    proxy.reset()
    assert proxy.requests == [] and proxy.pending == 0


def test_fault_validation():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("rate-limit")
    with pytest.raises(ValueError, match="rewrite"):
        Fault("rewrite")


def test_taken_port_is_refused(proxy):
    with pytest.raises(RuntimeError, match="already in use"):
        start_llama_server(port=proxy.port)  # else the proxy's /v1/models would look like readiness


def test_dead_server_raises_with_log_tail(monkeypatch):
    monkeypatch.setattr("tests.llm_support.GGUF_NAME", "__init__.py")  # exists, but is no model
    with pytest.raises(RuntimeError, match=r"(?s)exited with code .*Failed to load model"):
        start_llama_server()
