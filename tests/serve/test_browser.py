"""The page in a real headless Chromium (Debian's `chromium`, driven by Playwright's Python API).

A reviewer's whole visit: open the demo case, run the demo question, open citation [1] in place,
override criteria with a reason, ask a follow-up, export DOCX and read it back, sign nothing. The
network is cut for the browser: every request must go to the local server. Screenshots of the
draft page are saved under reports/serve/ (and to docs/serve.png with UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO_Q, REPO
from tests.llm_support import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "reports" / "serve"


@pytest.fixture(scope="module")
def live_server(app):
    """uvicorn on 127.0.0.1 and a free port, in a thread of this process (same desk as `client`)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        message = "Debian's chromium is not installed (`make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    outside: list[str] = []

    def offline(route):  # the network cable is pulled: only the local server answers
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not outside, f"the page asked for outside assets: {outside}"
    assert not errors, f"JavaScript errors: {errors}"


def _screenshot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    # not a MEDDRAFT_ variable: tests/conftest.py clears those
    if os.environ.get("UPDATE_SCREENSHOTS") and name == "draft.png":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(path, REPO / "docs" / "serve.png")
    return path


def test_a_reviewer_drafts_checks_overrides_asks_and_exports(page, live_server, client, tmp_path):
    from docx import Document
    from playwright.sync_api import expect

    page.goto(f"{live_server}/")
    expect(page.locator("#policies")).to_contain_text("Omalizumab")
    page.get_by_role("link", name="mcas-001", exact=True).click()
    expect(page.locator("h1")).to_contain_text("mcas-001")
    page.fill("#reviewer", "Dr. Browser")

    # the progress line, seen while the draft is built (kept across the navigation that follows)
    page.evaluate(
        """() => new MutationObserver(() => {
               const box = document.querySelector('#progress');
               const text = document.querySelector('#progress-text').textContent;
               if (!box.hidden) sessionStorage.setItem('progress', text);
           }).observe(document.querySelector('#progress'),
                      {attributes: true, subtree: true, childList: true, characterData: true})"""
    )
    page.fill("#question", DEMO_Q)
    page.click("#assess-button")
    page.wait_for_url("**/sessions/*")
    assert page.evaluate("sessionStorage.getItem('progress')").startswith("Draft")
    session_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#verdict")).to_contain_text("Verdict: NOT medically indicated")
    expect(page.locator("#criteria")).to_contain_text("Criteria check")

    # citation [1] opens the policy passage in place, its sentence highlighted
    cite = page.locator('#section-findings button.cite[data-n="1"]').first
    cite.click()
    passage = page.locator("#section-findings .passage").first
    expect(passage).to_contain_text("Omalizumab (Xolair) - Commercial Clinical Policy Bulletin")
    expect(passage.locator("mark")).not_to_be_empty()
    marked = passage.locator("mark").inner_text()
    assert marked.strip() and marked in passage.locator(".text").inner_text()
    _screenshot(page, "draft.png")

    # override every criterion the engine did not find met: the verdict is marked as changed
    failing = page.locator("#criteria > ul.criteria > li.criterion:not([data-status='met'])")
    ids = [failing.nth(i).get_attribute("data-criterion") for i in range(failing.count())]
    assert ids
    for cid in ids:
        item = page.locator(f"li.criterion[data-criterion='{cid}']")
        item.locator(":scope > .review-controls summary").click()
        item.locator(":scope > .review-controls select[name=status]").select_option("met")
        item.locator(":scope > .review-controls input[name=reason]").fill(
            f"the appeal letter documents {cid}"
        )
        with page.expect_navigation():
            item.locator(":scope > .review-controls button[type=submit]").click()
        expect(page.locator(f"li.criterion[data-criterion='{cid}'] > .review-mark")).to_contain_text(
            "overridden by Dr. Browser"
        )
    expect(page.locator(".verdict-differs")).to_contain_text(
        "Differs from the engine's verdict (NOT medically"
    )
    expect(page.locator("#verdict")).to_contain_text("Verdict: Medically indicated")

    # a follow-up in the chat panel, numbered like `meddraft ask`
    page.fill("#ask-question", "Which dose did the 2021 review use?")
    page.click("#ask-form button")
    turn = page.locator("#chat .turn").last
    expect(turn).to_contain_text("300 mg every 4 weeks")
    api_turn = client.get(f"/api/sessions/{session_id}").json()["turns"][-1]["answer"]
    shown = sorted({int(n) for n in turn.locator("button.cite").all_inner_texts()})
    assert shown == sorted({n for part in api_turn["answer"] for n in part["citations"]})
    _screenshot(page, "draft-reviewed.png")

    # export DOCX as reviewed and read it back
    with page.expect_download() as download:
        page.click("a.export[data-format='docx']")
    saved = tmp_path / "reviewed.docx"
    download.value.save_as(saved)
    text = "\n".join(p.text for p in Document(str(saved)).paragraphs)
    assert f"because the appeal letter documents {ids[0]}" in text and "Medically indicated" in text

    trail = client.get(f"/api/sessions/{session_id}/audit").json()
    assert trail[0]["action"] == "draft_created" and trail[0]["actor"] == "Dr. Browser"
    assert {"criterion_overridden", "followup", "exported"} <= {e["action"] for e in trail}
    assert trail[-1]["action"] == "exported" and trail[-1]["actor"] == "Dr. Browser"


def test_errors_show_on_the_page(page, live_server):
    from playwright.sync_api import expect

    response = page.goto(f"{live_server}/cases/nobody")
    assert response.status == 404
    expect(page.locator(".error-message")).to_contain_text("no documents for case nobody")
    page.goto(f"{live_server}/cases/mcas-001")
    page.fill("#question", "¿Está indicado omalizumab 300 mg cada 4 semanas para este paciente?")
    page.click("#assess-button")
    expect(page.locator("#message")).to_contain_text("reads as Spanish")
    expect(page.locator("#progress")).to_be_hidden()
