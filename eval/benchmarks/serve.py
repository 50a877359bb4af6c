"""The reviewer's wait: seconds from pressing "Assess" to the rendered draft page, on a warm server.

    python -m eval.benchmarks.serve --store .meddraft-eval [--runs 5] [--case mcas-001]

Starts `meddraft serve` (a real uvicorn process on 127.0.0.1 and a free port) over an ingested
store, drafts once to warm it, then times `runs` round trips of what the page does: POST
/api/assess with the demo question, then GET the draft page it links to. Speaks HTTP only (no rag
import). Prints one JSON object: every run, the median, and whether it meets the goal (1 s for
the extractive generator on the demo corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEMO_QUESTION = (
    "Is omalizumab 600 mg SC every 2 weeks medically indicated for this patient with idiopathic MCAS "
    "who failed H1/H2 blockers and corticosteroids?"
)
GOAL_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: dict | None = None, timeout: float = 300.0) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=timeout) as response:
        return response.read()


def _wait_ready(root: str, server: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"meddraft serve exited with {server.returncode}: see its output above")
        try:
            _request(f"{root}/api/cases", timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    sys.exit(f"meddraft serve did not answer within {timeout:.0f} s")


def run(store: str, case_id: str, question: str, runs: int) -> dict:
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    meddraft = Path(sys.executable).with_name("meddraft")
    command = [str(meddraft), "serve", "--store", store, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDDRAFT_SERVE__")}
    server = subprocess.Popen(command, env=env)
    try:
        _wait_ready(root, server)
        body = {"question": question, "case_id": case_id, "generator": "extractive", "reviewer": "benchmark"}
        started = time.perf_counter()
        _request(f"{root}/api/assess", body)
        first = time.perf_counter() - started
        times, engine = [], []
        for _ in range(runs):
            started = time.perf_counter()
            created = json.loads(_request(f"{root}/api/assess", body))
            page = _request(root + created["url"])
            times.append(time.perf_counter() - started)
            engine.append(created["seconds"])
            if b'class="cite"' not in page:
                sys.exit("the draft page came back without citations: the benchmark measured a broken page")
    finally:
        server.terminate()
        server.wait(timeout=30)
    median = statistics.median(times)
    return {
        "benchmark": "serve: Assess to rendered draft (warm server)",
        "store": store,
        "case": case_id,
        "first_assess_s": round(first, 3),
        "runs_s": [round(t, 3) for t in times],
        "engine_s": engine,
        "median_s": round(median, 3),
        "goal_s": GOAL_S,
        "meets_goal": median < GOAL_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="an ingested store (e.g. .meddraft-eval)")
    parser.add_argument("--case", default="mcas-001")
    parser.add_argument("--question", default=DEMO_QUESTION)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.store, args.case, args.question, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
