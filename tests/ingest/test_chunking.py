import re

import pytest

from ingest.chunking import Chunker, parse_blocks
from ingest.loaders import SourceFile, load
from ingest.text import split_sentences
from tests.conftest import FIXTURES

POLICY = FIXTURES / "mini" / "literature" / "policy-widget.md"


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.count_tokens, embedder.max_tokens, target_tokens=160)


def test_blocks_follow_markdown_structure():
    text = (
        "# T\n\n## Section\nIntro with all of the following:\n1. First item\n"
        "   continued line\n   a. nested item\n2. Second\n\n| a | b |\n|---|---|\n"
    )
    kinds = [(b.kind, text[b.start : b.end]) for b in parse_blocks(text)]
    assert kinds == [
        ("heading", "# T"),
        ("heading", "## Section"),
        ("para", "Intro with all of the following:"),
        ("item", "1. First item\n   continued line"),
        ("item", "   a. nested item"),
        ("item", "2. Second"),
        ("table", "| a | b |\n|---|---|"),
    ]


def test_chunks_keep_offsets_sections_and_metadata(chunker):
    doc = load(SourceFile(POLICY, POLICY.parent))
    chunks = chunker.chunk(doc)
    for c in chunks:
        assert doc.text[c.char_start : c.char_end] == c.text
        assert (c.doc_id, c.kind, c.source, c.year) == (
            "policy-widgetumab",
            "policy",
            "Test Health Plan",
            2025,
        )
    sections = [c.section for c in chunks]
    assert "1. Chronic Widget Disease" in sections
    assert "2. Acute Widget Flare" in sections
    dosing = next(c for c in chunks if "300 mg every 4 weeks" in c.text)
    assert dosing.section == "1. Chronic Widget Disease > Dosing and quantity limits"
    assert dosing.locator == "section: 1. Chronic Widget Disease > Dosing and quantity limits"


def test_list_items_stay_whole_even_with_a_tiny_budget(embedder):
    doc = load(SourceFile(POLICY, POLICY.parent))
    tiny = Chunker(embedder.count_tokens, max_tokens=64, target_tokens=20)
    chunks = tiny.chunk(doc)
    items = [b for b in parse_blocks(doc.text) if b.kind == "item"]
    for item in items:
        holders = [c for c in chunks if c.char_start <= item.start and item.end <= c.char_end]
        assert holders, f"list item split across chunks: {doc.text[item.start : item.end]!r}"
    assert all(c.n_tokens <= 64 for c in chunks)


def test_ids_are_deterministic_and_depend_on_text(chunker):
    doc = load(SourceFile(POLICY, POLICY.parent))
    first = [c.id for c in chunker.chunk(doc)]
    assert first == [c.id for c in chunker.chunk(doc)]
    assert len(set(first)) == len(first)
    doc.text = doc.text.replace("300 mg", "150 mg")
    changed = [c.id for c in chunker.chunk(doc)]
    assert sum(a != b for a, b in zip(first, changed, strict=True)) == 1


def test_budget_respected_without_truncation_on_a_real_pdf(chunker, shared_data):
    path = shared_data / "pdfs/medical_text/who_essential_medicines_2023.pdf"
    doc = load(SourceFile(path, path.parent))
    chunks = chunker.chunk(doc)
    assert max(c.n_tokens for c in chunks) <= chunker.max_tokens
    covered = "".join(c.text for c in chunks)
    # every non-space character of the document lands in exactly one chunk
    assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", doc.text)
    assert all(c.page_start and c.page_end >= c.page_start for c in chunks)


def test_oversized_unpunctuated_text_is_split_not_truncated(embedder):
    chunker = Chunker(embedder.count_tokens, max_tokens=48, target_tokens=40)
    from ingest.documents import DocMeta, Document

    words = " ".join(f"token{i}" for i in range(300))
    doc = Document(id="d", meta=DocMeta(kind="study", title="T"), text=words, path=POLICY, content_hash="h")
    chunks = chunker.chunk(doc)
    assert len(chunks) > 5
    assert " ".join(c.text for c in chunks) == words
    assert max(c.n_tokens for c in chunks) <= 48


def test_sentence_splitter_respects_abbreviations_and_decimals():
    text = (
        "Dose was 0.5 mg/kg b.i.d. for 2 wks. Dr. Smith et al. reported e.g. rash. "
        "Tryptase rose to 14.8 ng/mL. Next sentence!"
    )
    assert split_sentences(text) == [
        "Dose was 0.5 mg/kg b.i.d. for 2 wks.",
        "Dr. Smith et al. reported e.g. rash.",
        "Tryptase rose to 14.8 ng/mL.",
        "Next sentence!",
    ]
