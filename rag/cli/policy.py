"""`meddraft policy show | export | check`: a policy's criteria as the engine reads them.

`show` prints the compiled tree (indications, initial and continuation criteria, node logic, leaf
types and parameters, pages, dose limits) for a reviewer to check against the PDF; `export`
writes it as YAML to edit and place beside the policy; `check` validates a reviewed file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from rag.cli.llm import add_generator_args
from rag.errors import MeddraftError

if TYPE_CHECKING:  # annotations only: `rag.analysis` loads when a policy command runs
    from rag.analysis.criteria import Indication, Node, PolicyCriteria


def add_parsers(sub, common: argparse.ArgumentParser) -> dict:
    policy = sub.add_parser("policy", help="show, export or check a policy's compiled criteria")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    show = actions.add_parser("show", parents=[common], help="print the compiled criteria tree")
    show.add_argument("doc_id", metavar="DOC_ID", help="the policy's document id (see `meddraft status`)")
    show.add_argument("--indication", metavar="TEXT", help="only indications whose name contains TEXT")
    show.add_argument("--format", choices=["text", "json", "yaml"], default="text", help="output format")
    show.add_argument(
        "--criteria", action="append", default=[], metavar="FILE", help="reviewed criteria file"
    )
    export = actions.add_parser(
        "export",
        parents=[common],
        help="write the criteria as YAML to review; with --generator openai, a model's proposal and "
        "its differences from the parse",
    )
    export.add_argument("doc_id", metavar="DOC_ID", help="the policy's document id")
    export.add_argument("-o", "--out", metavar="FILE", help="write here instead of standard output")
    add_generator_args(export)
    check = actions.add_parser("check", parents=[common], help="validate a reviewed criteria file")
    check.add_argument("file", metavar="FILE", help="a YAML file written by `policy export` and edited")
    diff = actions.add_parser(
        "diff", parents=[common], help="how a reviewed or proposed file differs from the parse"
    )
    diff.add_argument("doc_id", metavar="DOC_ID", help="the policy's document id")
    diff.add_argument("file", metavar="FILE", help="a reviewed criteria file or a model's proposal")
    accept = actions.add_parser(
        "accept", parents=[common], help="accept a checked model proposal as the reviewed criteria"
    )
    accept.add_argument("file", metavar="FILE", help="a proposal written by `policy export --generator`")
    accept.add_argument("--reviewer", required=True, metavar="NAME", help="who checked it (recorded)")
    accept.add_argument(
        "-o", "--out", metavar="FILE", help="the reviewed file (default: FILE without '.proposed')"
    )
    return {"policy": _run}


def _run(args, settings, out: Console, err: Console) -> int:
    from rag.analysis.reviewed import accept, export_yaml, load_yaml

    if args.policy_command == "check":
        policy = load_yaml(args.file, proposals=True)
        leaves = sum(
            1 for i in policy.indications for t in (i.initial, i.continuation) if t for _ in t.walk()
        )
        unused = (
            f" (a proposal by {policy.proposed_by}: not used until accepted)" if policy.proposed_by else ""
        )
        out.print(
            f"{args.file}: valid; {policy.doc_id}, {len(policy.indications)} indications, "
            f"{leaves} nodes{unused}",
            highlight=False,
        )
        return 0
    if args.policy_command == "accept":
        written = accept(args.file, args.reviewer, args.out)
        out.print(f"accepted: {written} is now the reviewed criteria of its policy", highlight=False)
        return 0
    if args.policy_command == "diff":
        other = load_yaml(args.file, proposals=True)
        parsed = _compiled(args.doc_id, settings, [], parse_only=True)
        return _print_diff(parsed, other, out)
    if args.policy_command == "export" and args.generator and settings.generator_name() == "openai":
        return _propose(args, settings, out, err)
    policy = _compiled(args.doc_id, settings, getattr(args, "criteria", []))
    if args.policy_command == "export":
        _write(export_yaml(policy), args.out, err, "written to {out}")
        return 0
    if args.indication:
        wanted = args.indication.lower()
        policy = policy.model_copy(
            update={"indications": [i for i in policy.indications if wanted in i.name.lower()]}
        )
    if args.format == "json":
        out.print_json(policy.model_dump_json(exclude_none=True))
    elif args.format == "yaml":
        sys.stdout.write(export_yaml(policy))
    else:
        sys.stdout.write(show_text(policy))
    return 0


def _policy_doc(doc_id: str, settings):
    from rag.components import build_store
    from rag.retrieval.passages import load_documents

    store = build_store(settings)
    docs = load_documents(store, [doc_id])
    if not docs:
        known = sorted(d for d, r in store.documents().items() if r.kind == "policy")
        raise MeddraftError(f"no policy {doc_id!r} in the store; policies: {', '.join(known) or '(none)'}")
    if docs[0].kind != "policy":
        raise MeddraftError(f"{doc_id} is a {docs[0].kind}, not a policy")
    return docs[0]


def _compiled(doc_id: str, settings, files: list[str], *, parse_only: bool = False) -> PolicyCriteria:
    from rag.analysis.reviewed import criteria_for, parsed

    doc = _policy_doc(doc_id, settings)
    return parsed(doc) if parse_only else criteria_for(doc, [*settings.analysis.criteria_files, *files])


def _propose(args, settings, out: Console, err: Console) -> int:
    """A model's tree for the policy, written as a proposal, and how it differs from the parse."""
    from rag.analysis.proposal import propose
    from rag.analysis.reviewed import export_yaml, locator, pages_of, parsed
    from rag.cli.llm import spinner
    from rag.llm.client import LLMClient

    doc = _policy_doc(args.doc_id, settings)
    with spinner(err, settings, what=f"proposing the criteria of {doc.doc_id}") as hooks:
        client = LLMClient(settings.llm, hooks=hooks)
        proposal = propose(client, doc.doc_id, doc.title, doc.text, pages=pages_of(doc), locate=locator(doc))
    _write(
        export_yaml(proposal),
        args.out,
        err,
        "proposal written to {out}; not used until `meddraft policy accept`",
    )
    _print_diff(parsed(doc), proposal, err)
    return 0


def _write(text: str, out: str | None, err: Console, said: str) -> None:
    """To the file named with -o (and say so), else to standard output."""
    if not out:
        sys.stdout.write(text)
        return
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    err.print(said.format(out=out), highlight=False)


def _print_diff(parsed: PolicyCriteria, other: PolicyCriteria, console: Console) -> int:
    from rag.analysis.criteria_diff import diff

    result = diff(parsed, other)
    console.print(f"differences from the parse of {parsed.doc_id}: {result.summary()}", highlight=False)
    for line in result.lines:
        console.print(line, highlight=False, markup=False)
    return 0


def show_text(policy: PolicyCriteria) -> str:
    """The tree as a reviewer reads it beside the PDF: one line per node, pages and parameters."""
    head = f"{policy.title or policy.doc_id} ({policy.doc_id}; criteria {policy.source}"
    head += f", hash {policy.source_hash})" if policy.source_hash else ")"
    lines = [head, ""]
    for indication in policy.indications:
        lines += _indication_lines(indication)
    if policy.exclusions:
        lines.append("Policy-wide exclusions:")
        lines += [line for node in policy.exclusions for line in _node_lines(node, 1)]
    if policy.experimental:
        lines.append("Experimental, investigational or not covered:")
        lines += [f"  - {item}" for item in policy.experimental]
    return "\n".join(lines) + "\n"


def _indication_lines(indication: Indication) -> list[str]:
    page = f" (p. {indication.page})" if indication.page else ""
    lines = [f"== {indication.name}{page}"]
    for label, tree in (("initial", indication.initial), ("continuation", indication.continuation)):
        if tree is not None:
            lines.append(f"  {label}:")
            lines += _node_lines(tree, 2)
    for limit in indication.dose_limits:
        where = f"p. {limit.page}; " if limit.page else ""
        params = ", ".join(
            f"{k}={v}"
            for k, v in limit.model_dump(
                exclude_none=True, exclude={"text", "indication", "page", "chunk_id"}
            ).items()
            if v != "any"
        )
        lines.append(f"  limit: {params} [{where}{limit.text[:90]}]")
    lines.append("")
    return lines


def _node_lines(node: Node, depth: int) -> list[str]:
    pad = "  " * depth
    if node.logic == "leaf":
        kind = node.leaf.type if node.leaf else "free_text"
        shown = (
            node.leaf.model_dump(exclude={"type", "limits", "read_by_wording"}, exclude_defaults=True)
            if node.leaf
            else {}
        )
        if kind == "dose_limit":
            shown = {"limits": "the indication's limit rows below"}
        params = json.dumps(shown, ensure_ascii=False)
        tail = "" if params == "{}" else f" {params}"
        page = f" (p. {node.page})" if node.page else ""
        lines = [f"{pad}{node.id} [{kind}] {node.text}{page}{tail}"]
    else:
        logic = f"at least {node.n}" if node.logic == "at_least" else node.logic
        lines = [f"{pad}{node.id} <{logic}> {node.text}"]
        for child in node.children:
            lines += _node_lines(child, depth + 1)
    lines += [f"{pad}  note: {note}" for note in node.notes]
    return lines
