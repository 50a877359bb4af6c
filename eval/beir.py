"""BEIR-format retrieval data: read, write, and build from the shared SciFact and PubMedQA files.

BEIR layout: `corpus.jsonl` (`{_id, title, text}`), `queries.jsonl` (`{_id, text}`) and a qrels
TSV with the header `query-id  corpus-id  score`. Every reading error names the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag import MeddraftError

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA_ENV = "MEDDRAFT_SHARED_DATA"


@dataclass(frozen=True)
class BeirDoc:
    title: str
    text: str


@dataclass
class BeirData:
    """A retrieval benchmark: documents, queries and graded relevance (query -> doc -> grade)."""

    corpus: dict[str, BeirDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    name: str = "beir"
    notes: list[str] = field(default_factory=list)

    def judged_queries(self) -> list[str]:
        """Queries with at least one relevant document (the ones a score is averaged over)."""
        return [q for q in self.queries if any(g > 0 for g in self.qrels.get(q, {}).values())]

    def limit(self, n: int | None) -> BeirData:
        """The first `n` judged queries and their qrels; the corpus stays whole."""
        if n is None:
            return self
        if n < 1:
            raise MeddraftError(f"--limit must be at least 1, not {n}")
        keep = self.judged_queries()[:n]
        return BeirData(
            corpus=self.corpus,
            queries={q: self.queries[q] for q in keep},
            qrels={q: self.qrels[q] for q in keep},
            name=self.name,
            notes=[*self.notes, f"limited to the first {len(keep)} judged queries"],
        )


# --- reading ------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise MeddraftError(f"{path}: file not found; check the path")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MeddraftError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise MeddraftError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
            yield number, obj


def _field(obj: dict[str, Any], key: str, path: Path, number: int, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None or (required and str(value).strip() == ""):
        if not required:
            return ""
        raise MeddraftError(f"{path}:{number}: missing or empty {key!r}")
    if not isinstance(value, str | int):
        raise MeddraftError(f"{path}:{number}: {key!r} must be a string, not {type(value).__name__}")
    return str(value)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """`query-id corpus-id score` lines (tab or space separated); the header line is optional."""
    path = Path(path)
    if not path.is_file():
        raise MeddraftError(f"{path}: file not found; check the path")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts or (number == 1 and parts[0].lower() == "query-id"):
                continue
            if len(parts) != 3:
                raise MeddraftError(
                    f"{path}:{number}: expected 'query-id corpus-id score', got {len(parts)} fields"
                )
            try:
                score = int(parts[2])
            except ValueError as exc:
                raise MeddraftError(f"{path}:{number}: score {parts[2]!r} is not an integer") from exc
            qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels


def load_beir(corpus_jsonl: Path | str, queries_jsonl: Path | str, qrels_tsv: Path | str) -> BeirData:
    corpus_path, queries_path = Path(corpus_jsonl), Path(queries_jsonl)
    corpus: dict[str, BeirDoc] = {}
    for number, obj in read_jsonl(corpus_path):
        doc_id = _field(obj, "_id", corpus_path, number)
        if doc_id in corpus:
            raise MeddraftError(f"{corpus_path}:{number}: duplicate _id {doc_id!r}")
        title = _field(obj, "title", corpus_path, number, required=False)
        text = _field(obj, "text", corpus_path, number, required=False)
        corpus[doc_id] = BeirDoc(title=title.strip(), text=text.strip())
    queries: dict[str, str] = {}
    for number, obj in read_jsonl(queries_path):
        query_id = _field(obj, "_id", queries_path, number)
        if query_id in queries:
            raise MeddraftError(f"{queries_path}:{number}: duplicate _id {query_id!r}")
        queries[query_id] = _field(obj, "text", queries_path, number).strip()
    qrels = read_qrels(Path(qrels_tsv))
    unknown = sorted({d for rels in qrels.values() for d in rels} - set(corpus))
    notes = [f"{len(unknown)} judged documents are not in the corpus"] if unknown else []
    name = corpus_path.parent.name or "beir"
    return BeirData(
        corpus=corpus,
        queries=queries,
        qrels={q: r for q, r in qrels.items() if q in queries},
        name=name,
        notes=notes,
    )


def write_beir(data: BeirData, folder: Path | str) -> tuple[Path, Path, Path]:
    """Write `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv`; return the three paths."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus, queries, qrels = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "test.tsv"
    with corpus.open("w", encoding="utf-8") as out:
        for doc_id, doc in data.corpus.items():
            out.write(json.dumps({"_id": doc_id, "title": doc.title, "text": doc.text}) + "\n")
    with queries.open("w", encoding="utf-8") as out:
        for query_id, text in data.queries.items():
            out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    with qrels.open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for query_id, rels in data.qrels.items():
            out.writelines(f"{query_id}\t{doc_id}\t{score}\n" for doc_id, score in rels.items())
    return corpus, queries, qrels


# --- the shared data ------------------------------------------------------------------------------


def shared_data_dir() -> Path:
    """`$MEDDRAFT_SHARED_DATA`, else `../shared/data` next to the repository."""
    return Path(os.environ.get(SHARED_DATA_ENV) or REPO.parent / "shared" / "data")


def scifact_corpus(folder: Path) -> dict[str, tuple[str, list[str]]]:
    """SciFact abstracts: doc id -> (title, sentences)."""
    path = Path(folder) / "corpus.jsonl"
    out: dict[str, tuple[str, list[str]]] = {}
    for number, obj in read_jsonl(path):
        sentences = obj.get("abstract")
        if "doc_id" not in obj or not isinstance(sentences, list):
            raise MeddraftError(f"{path}:{number}: expected 'doc_id' and an 'abstract' list of sentences")
        out[str(obj["doc_id"])] = (str(obj.get("title") or "").strip(), [str(s).strip() for s in sentences])
    return out


def scifact_claims(folder: Path, split: str = "dev") -> list[tuple[int, dict[str, Any]]]:
    return list(read_jsonl(Path(folder) / "claims" / f"claims_{split}.jsonl"))


def scifact_beir(folder: Path | str) -> BeirData:
    """SciFact as BEIR evaluates it: the dev claims against the test qrels, title + abstract."""
    folder = Path(folder)
    corpus = {
        doc_id: BeirDoc(title=title, text=" ".join(sentences))
        for doc_id, (title, sentences) in scifact_corpus(folder).items()
    }
    path = folder / "claims" / "claims_dev.jsonl"
    queries: dict[str, str] = {}
    for number, obj in scifact_claims(folder, "dev"):
        queries[_field(obj, "id", path, number)] = _field(obj, "claim", path, number).strip()
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    return BeirData(
        corpus=corpus, queries=queries, qrels={q: qrels[q] for q in queries if q in qrels}, name="scifact"
    )


def pubmedqa_beir(path: Path | str) -> BeirData:
    """PubMedQA: each question's own abstract (its CONTEXTS) is its one relevant document."""
    path = Path(path)
    if not path.is_file():
        raise MeddraftError(f"{path}: file not found; check the path")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MeddraftError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(items, dict):
        raise MeddraftError(f"{path}: expected an object keyed by PMID")
    corpus: dict[str, BeirDoc] = {}
    queries: dict[str, str] = {}
    for pmid, item in items.items():
        contexts, question = item.get("CONTEXTS"), item.get("QUESTION")
        if not isinstance(contexts, list) or not isinstance(question, str) or not question.strip():
            raise MeddraftError(f"{path}: PMID {pmid}: expected QUESTION and a CONTEXTS list")
        corpus[pmid] = BeirDoc(title="", text=" ".join(str(c).strip() for c in contexts))
        queries[pmid] = question.strip()
    return BeirData(corpus=corpus, queries=queries, qrels={q: {q: 1} for q in queries}, name="pubmedqa")
