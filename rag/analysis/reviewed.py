"""A policy's criteria as the engine uses them: the reviewed YAML when there is one, else the parse.

A reviewer fixes a policy once: `meddraft policy export DOC_ID > policy.criteria.yaml`, edit, and
place it beside the policy file (`<policy file stem>.criteria.yaml`) or name it with
`--criteria FILE` (settings `analysis.criteria_files`). The file replaces the parse for that
document; the draft's provenance records its path and hash. A file that is not valid YAML, or
does not match the schema (an unknown leaf type, a misspelt field), is an error naming the line.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rag.analysis.compile import compile_policy
from rag.analysis.criteria import PolicyCriteria
from rag.errors import ConfigError
from rag.retrieval.passages import SourceDoc

SUFFIX = ".criteria.yaml"


def export_yaml(policy: PolicyCriteria) -> str:
    """The compiled criteria as YAML a reviewer edits (empty fields left out)."""
    data = policy.model_dump(mode="json", exclude_none=True, exclude={"source", "source_hash"})
    if policy.proposed_by:
        first = (
            f"# Criteria of {policy.doc_id} as proposed by {policy.proposed_by}. NOT USED until a\n"
            "# reviewer has checked it against the policy and run `meddraft policy accept FILE`.\n"
        )
    else:
        first = (
            f"# Criteria of {policy.doc_id} as meddraft reads them. Review against the policy, correct,\n"
            f"# and save beside the policy as <policy file stem>{SUFFIX} (or pass --criteria FILE).\n"
        )
    header = (
        first + "# Leaf types: age, diagnosis, measurement, prior_therapy, specialty, concurrent_use,\n"
        "# test_result, dose_limit, product, documentation, free_text (free_text always needs a reviewer).\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def load_yaml(path: Path | str, *, proposals: bool = False) -> PolicyCriteria:
    """A reviewed criteria file, validated; errors name the file and the line.

    A model's proposal (`proposed_by` set) is refused unless `proposals`: it is used only once a
    reviewer has accepted it (`accept`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the criteria file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the file"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with doc_id and indications, got {type(data).__name__}"
        )
    try:
        policy = PolicyCriteria.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_of(text, first["loc"])
        where = f" line {line}" if line else ""
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{path}{where}: {field}: {first['msg']}; see `meddraft policy export` for the expected shape"
        ) from exc
    if policy.proposed_by and not proposals:
        raise ConfigError(
            f"{path} is a model's proposal ({policy.proposed_by}) that no reviewer has accepted; "
            f"check it against the policy, then `meddraft policy accept {path}`"
        )
    return policy.model_copy(
        update={
            "source": "model" if policy.proposed_by else "reviewed",
            "source_hash": hashlib.sha256(text.encode()).hexdigest()[:16],
        }
    )


def accept(path: Path | str, reviewer: str, out: Path | str | None = None, today: date | None = None) -> Path:
    """Turn a checked proposal into a reviewed file the engine uses; the proposal is kept as is."""
    path = Path(path)
    policy = load_yaml(path, proposals=True)
    if not policy.proposed_by:
        raise ConfigError(f"{path} is not a model's proposal (no proposed_by); it is used as it is")
    if not reviewer.strip():
        raise ConfigError("give the reviewer's name with --reviewer NAME: the file records who accepted it")
    if out is None:
        if not path.name.endswith(".proposed.yaml"):
            raise ConfigError(f"say where the reviewed file goes: --out <policy file stem>{SUFFIX}")
        out = path.with_name(path.name.removesuffix(".proposed.yaml") + ".yaml")
    when = (today or date.today()).isoformat()
    reviewed = policy.model_copy(
        update={
            "proposed_by": None,
            "accepted": f"{reviewer.strip()} on {when}, from the proposal by {policy.proposed_by} "
            f"({path.name}, hash {policy.source_hash})",
        }
    )
    Path(out).write_text(export_yaml(reviewed), encoding="utf-8")
    return Path(out)


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a validation error's location."""
    node = yaml.compose(text)
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, v in node.value if k.value == part), None)
            if match is None:
                return line
            line = (key or match).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def reviewed_file(doc: SourceDoc, files: list[str]) -> Path | None:
    """The reviewed file for `doc`: one named in settings with its doc_id, else one beside it."""
    for name in files:
        path = Path(name)
        if path.is_file():
            try:
                head = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError:
                head = {}
            if isinstance(head, dict) and head.get("doc_id") == doc.doc_id:
                return path
            if not isinstance(head, dict) or "doc_id" not in head:
                load_yaml(path)  # says what is wrong with it
    source = doc.chunks[0].source_path if doc.chunks else None
    if source:
        candidate = Path(source).parent / f"{Path(source).stem}{SUFFIX}"
        if candidate.is_file():
            return candidate
    return None


def criteria_for(doc: SourceDoc, files: list[str] | tuple[str, ...] = ()) -> PolicyCriteria:
    """The criteria the engine uses for a policy document: reviewed if a file exists, else parsed."""
    path = reviewed_file(doc, list(files))
    if path is not None:
        policy = load_yaml(path)
        if policy.doc_id != doc.doc_id:
            raise ConfigError(f"{path} is for {policy.doc_id}, not {doc.doc_id}")
        return policy.model_copy(update={"title": policy.title or doc.title}) if not policy.title else policy
    return parsed(doc)


def parsed(doc: SourceDoc) -> PolicyCriteria:
    """The parser's tree for a policy document, whatever reviewed file exists."""
    return _parsed(doc.doc_id, doc.title, doc.text, pages_of(doc), _spans(doc))


def pages_of(doc: SourceDoc) -> int:
    return max((c.page_end or c.page_start or 0 for c in doc.chunks), default=0)


def _spans(doc: SourceDoc) -> tuple:
    return tuple((c.char_start, c.char_end, c.page_start, c.chunk_id) for c in doc.chunks)


def locator(doc: SourceDoc):
    """`locate(start, end) -> (page, chunk_id)`: the chunk that holds most of a span of the text."""
    return _locator(_spans(doc))


def _locator(spans: tuple):
    def locate(start: int, end: int) -> tuple[int | None, str | None]:
        best, overlap = None, -1
        for s, e, page, chunk_id in spans:
            size = min(end, e) - max(start, s)
            if size > overlap:
                best, overlap = (page, chunk_id), size
        return best or (None, None)

    return locate


@lru_cache(maxsize=32)
def _parsed(doc_id: str, title: str, text: str, pages: int, spans: tuple) -> PolicyCriteria:
    return compile_policy(doc_id, title, text, pages=pages, locate=_locator(spans))
