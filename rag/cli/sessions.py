"""`meddraft sessions | show | ask | chat`: saved drafts and follow-up questions on them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from rag.cli import references
from rag.cli.llm import add_generator_args, format_arg, spinner, write_output
from rag.followup import SessionStore, ask
from rag.rendering.answer import answer_markdown


def add_parsers(sub, common: argparse.ArgumentParser) -> dict:
    sessions = sub.add_parser("sessions", parents=[common], help="list saved drafts")
    sessions.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    show = sub.add_parser("show", parents=[common], help="re-render a saved draft")
    show.add_argument("session", help="session id (or a unique prefix)")
    format_arg(show)
    references.add_args(show)
    ask = sub.add_parser("ask", parents=[common], help="ask a follow-up question about a draft")
    ask.add_argument("session", help="session id (or a unique prefix), from `meddraft sessions`")
    ask.add_argument("question", help="e.g. 'Which criteria are not met?'")
    ask.add_argument("--format", choices=["md", "json"], default="md", help="output format")
    add_generator_args(ask)
    _reviewer_arg(ask)
    chat = sub.add_parser("chat", parents=[common], help="interactive follow-up questions")
    chat.add_argument("session", help="session id (or a unique prefix), from `meddraft sessions`")
    add_generator_args(chat)
    _reviewer_arg(chat)
    return {"sessions": _sessions, "show": _show, "ask": _ask, "chat": _chat}


def _reviewer_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reviewer", metavar="NAME", help="who asks, for the audit trail (default: your login name)"
    )


def _audit_followup(settings, store: SessionStore, result, reviewer: str | None) -> None:
    """A saved turn goes in the audit trail, as a follow-up asked on the page does."""
    from rag.review.audit import AuditLog, cli_actor, followup_detail

    if result.not_saved:
        return
    turn = len(store.turns(result.session_id))
    AuditLog(settings.store.path).record(
        result.session_id, cli_actor(reviewer), "followup", **followup_detail(result, turn)
    )


def _store(settings) -> SessionStore:
    return SessionStore(Path(settings.store.path))


def _sessions(args, settings, out: Console, err: Console) -> int:
    rows = _store(settings).list()
    if args.format == "json":
        out.print_json(json.dumps(rows))
        return 0
    if not rows:
        err.print("no sessions yet: `meddraft assess` saves one per draft")
    for r in rows:
        out.print(
            f"{r['id']}  {r['created_at']}  {r['case_id']:<12} {r['verdict']:<25} {r['turns']} follow-ups  "
            f"{r['question'][:70]}",
            highlight=False,
        )
    return 0


def _show(args, settings, out: Console, err: Console) -> int:
    where = references.target(args)  # a usage error before the session is read
    assessment = _store(settings).load(args.session)
    status = write_output(assessment, args.format, args.out, err)
    if status == 0 and where:
        references.write(assessment, args.references, where, err)
    return status


def _ask(args, settings, out: Console, err: Console) -> int:
    with spinner(err, settings, "answering") as hooks:
        result = ask(args.session, args.question, settings, sessions=(store := _store(settings)), hooks=hooks)
    _audit_followup(settings, store, result, args.reviewer)
    if result.not_saved:
        err.print(f"note: this turn was not saved to the session ({result.not_saved})", highlight=False)
    if args.format == "json":
        out.print_json(result.model_dump_json())
    else:
        sys.stdout.write(answer_markdown(result))
    return 0


def _chat(args, settings, out: Console, err: Console) -> int:
    from rag.components import build_store

    store = _store(settings)
    assessment = store.load(args.session)
    out.print(
        f"session {assessment.session_id} · case {assessment.case_id} · {assessment.verdict.label}",
        highlight=False,
    )
    out.print(
        "ask a question; /sources N shows the passage behind citation N; /history; /quit", highlight=False
    )
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/history":
            for turn in store.turns(args.session):
                out.print(f"{turn['n']}. {turn['question']}", highlight=False)
            continue
        if line.startswith("/sources"):
            _sources(line, store.load(args.session), build_store(settings), out)
            continue
        with spinner(err, settings, "answering") as hooks:
            result = ask(args.session, line, settings, sessions=store, hooks=hooks)
        _audit_followup(settings, store, result, args.reviewer)
        sys.stdout.write(answer_markdown(result))
        sys.stdout.flush()
    return 0


def _sources(line: str, assessment, vector_store, out: Console) -> None:
    parts = line.split()
    ref = next((r for r in assessment.references if len(parts) > 1 and str(r.n) == parts[1]), None)
    if ref is None:
        out.print("usage: /sources N, with N a reference number of this session", highlight=False)
        return
    out.print(f"[{ref.n}] {ref.title} ({ref.kind}; {ref.locator})", highlight=False)
    for item in vector_store.get(ids=ref.chunk_ids):
        out.print(item.text, highlight=False, markup=False)
        out.print("---", highlight=False)
