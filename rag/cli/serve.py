"""`meddraft serve` (the reviewers' web page) and `meddraft audit SESSION_ID` (its audit trail)."""

from __future__ import annotations

import argparse

from rich.console import Console


def add_parsers(sub, common: argparse.ArgumentParser) -> dict:
    serve = sub.add_parser("serve", parents=[common], help="the reviewers' web page and JSON API")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1; others need --token)")
    serve.add_argument("--port", type=int, help="TCP port (default 8765)")
    serve.add_argument(
        "--token", help="secret every request must carry (or MEDDRAFT_SERVE__TOKEN); needed off loopback"
    )
    audit = sub.add_parser("audit", parents=[common], help="print a session's audit trail")
    audit.add_argument("session", help="session id (or a unique prefix)")
    audit.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    return {"serve": _serve, "audit": _audit}


def overrides(args: argparse.Namespace) -> dict:
    return {
        "serve.host": getattr(args, "host", None),
        "serve.port": getattr(args, "port", None),
        "serve.token": getattr(args, "token", None),
    }


def _serve(args, settings, out: Console, err: Console) -> int:
    import uvicorn

    from rag.serve.app import check_bind, create_app

    for key, value in overrides(args).items():
        if value is not None:
            setattr(settings.serve, key.split(".")[1], value)
    token = settings.serve.token.get_secret_value() if settings.serve.token else None
    check_bind(settings.serve.host, token)
    app = create_app(settings)
    with err.status("loading the embedding model ...", spinner="dots"):
        app.state.desk.warm()
    err.print(
        f"meddraft serves {settings.store.path} at http://{settings.serve.host}:{settings.serve.port}/"
        f"{'  (token required)' if token else ''}",
        highlight=False,
    )
    uvicorn.run(app, host=settings.serve.host, port=settings.serve.port, log_level="warning")
    return 0


def _audit(args, settings, out: Console, err: Console) -> int:
    import json

    from rag.followup.sessions import SessionStore
    from rag.review import AuditLog

    session_id = SessionStore(settings.store.path).resolve(args.session)
    events = AuditLog(settings.store.path).events(session_id)
    if args.format == "json":
        out.print_json(json.dumps([e.as_dict() for e in events]))
        return 0
    if not events:
        err.print(f"no audit events for session {session_id}: it was drafted before the audit trail existed")
    for event in events:
        out.print(event.line(), highlight=False, markup=False)
    return 0
