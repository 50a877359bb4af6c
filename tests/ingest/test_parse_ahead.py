"""The next PDF is parsed in the worker while this process embeds the file before it: real PDFs,
the real worker process, the real model and Chroma."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest import pipeline
from ingest.config import IngestSettings
from ingest.errors import MalformedPDFError
from ingest.loaders import SourceFile
from ingest.parsing import Parser
from tests.ingest.pdfs import text_pdf


def _pdf(folder: Path, name: str, topic: str) -> Path:
    path = folder / name
    path.write_bytes(
        text_pdf([f"{topic} review, paragraph {n}: the {topic} score fell by week {n}." for n in range(12)])
    )
    return path


def _src(path: Path) -> SourceFile:
    return SourceFile(path, path.parent)


def test_a_pdf_sent_ahead_is_parsed_before_it_is_asked_for(tmp_path):
    first, second = _pdf(tmp_path, "a.pdf", "widget"), _pdf(tmp_path, "b.pdf", "gadget")
    with Parser() as parser:
        direct = parser.parse(_src(second), passwords=[], content_hash="h")
        assert parser.send_ahead(_src(first), passwords=[], content_hash="h")
        assert not parser.send_ahead(_src(second), passwords=[], content_hash="h")  # one out at a time
        assert parser._conn.poll(30)  # the worker answers while nobody waits for it
        ahead = parser.parse(_src(first), passwords=[], content_hash="h")
        assert "widget score fell" in ahead.text and ahead.path == first
        assert parser.parse(_src(second), passwords=[], content_hash="h").text == direct.text


def test_an_answer_that_came_in_is_taken_however_late_it_is_collected(tmp_path):
    small = _pdf(tmp_path, "a.pdf", "widget")
    with Parser(IngestSettings(parse_timeout_s=2, parse_timeout_per_page_s=0)) as parser:
        parser.parse(_src(small), passwords=[], content_hash="h")  # the worker is up
        assert parser.send_ahead(_src(small), passwords=[], content_hash="h")
        time.sleep(3)  # this process is busy past the limit; the parse itself took milliseconds
        assert "widget score fell" in parser.parse(_src(small), passwords=[], content_hash="h").text


def test_asking_for_another_file_than_the_one_ahead_parses_that_file(tmp_path):
    first, second = _pdf(tmp_path, "a.pdf", "widget"), _pdf(tmp_path, "b.pdf", "gadget")
    with Parser() as parser:
        assert parser.send_ahead(_src(first), passwords=[], content_hash="h")
        assert "gadget score fell" in parser.parse(_src(second), passwords=[], content_hash="h").text
        assert "widget score fell" in parser.parse(_src(first), passwords=[], content_hash="h").text


def test_a_broken_pdf_sent_ahead_fails_with_its_own_message(tmp_path, shared_data):
    data = (shared_data / "pdfs/medical_text/fda_ibuprofen_label_2024.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 3])
    good = _pdf(tmp_path, "good.pdf", "widget")
    with Parser() as parser:
        with pytest.raises(MalformedPDFError) as direct:
            parser.parse(_src(cut), passwords=[], content_hash="h")
        assert parser.send_ahead(_src(cut), passwords=[], content_hash="h")
        with pytest.raises(MalformedPDFError) as ahead:
            parser.parse(_src(cut), passwords=[], content_hash="h")
        assert ahead.value.message == direct.value.message
        assert "widget score fell" in parser.parse(_src(good), passwords=[], content_hash="h").text


def test_ingest_embeds_one_pdf_while_the_next_is_parsed(
    settings, embedder, tmp_path, monkeypatch, shared_data
):
    from rag.components import build_indexer

    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name, topic in [("a.pdf", "widget"), ("c.pdf", "gizmo"), ("d.pdf", "sprocket")]:
        _pdf(folder, name, topic)
    data = (shared_data / "pdfs/medical_text/fda_ibuprofen_label_2024.pdf").read_bytes()
    (folder / "b.pdf").write_bytes(data[: len(data) // 3])  # broken, between good files

    events: list[str] = []
    sent = Parser.send_ahead

    def send_ahead(self, source, **kwargs):
        started = sent(self, source, **kwargs)
        events.append(f"ahead {source.path.name}" if started else f"not ahead {source.path.name}")
        return started

    class Watched:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def embed(self, texts):
            events.append("embed")
            return self.inner.embed(texts)

    monkeypatch.setattr(Parser, "send_ahead", send_ahead)
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 1)  # each file's chunks embed in its own turn
    report = build_indexer(settings, embedder=Watched(embedder)).ingest([folder])
    assert sorted(o.path.name for o in report.outcomes if o.status == "added") == ["a.pdf", "c.pdf", "d.pdf"]
    assert [o.path.name for o in report.failed] == ["b.pdf"] and "malformed PDF" in report.failed[0].reason
    # b is parsed while a embeds; c is sent once b has failed; d is parsed while c embeds
    assert [e for e in events if e != "embed"] == ["ahead b.pdf", "ahead c.pdf", "ahead d.pdf"]
    assert events.index("ahead b.pdf") < events.index("embed")
    assert events.index("ahead d.pdf") < len(events) - 1 - events[::-1].index("embed")

    other = settings.model_copy(
        update={"store": settings.store.model_copy(update={"path": tmp_path / "plain"})}
    )
    monkeypatch.setattr(Parser, "send_ahead", lambda self, source, **kwargs: False)
    plain = build_indexer(other, embedder=embedder)
    plain.ingest([folder])
    ahead_chunks = {c.id: c.text for c in build_indexer(settings, embedder=embedder).store.get()}
    assert ahead_chunks == {c.id: c.text for c in plain.store.get()}
