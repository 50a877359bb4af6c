from pathlib import Path

import pytest

from ingest.errors import EmptyFileError, FrontMatterError, UnsupportedFileError
from ingest.loaders import SourceFile, load


def _write(tmp_path: Path, name: str, text: str) -> SourceFile:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return SourceFile(path, tmp_path)


def test_front_matter_fills_metadata_and_body_excludes_it(tmp_path):
    doc = load(
        _write(
            tmp_path,
            "n.md",
            "---\nid: n-1\nkind: clinical_note\ntitle: Visit\nsource: Clinic\n"
            "date: 2025-04-07\ncase_id: case-1\n---\n# Visit\nDenies fever.\n",
        )
    )
    assert doc.id == "n-1"
    assert doc.meta.case_id == "case-1"
    assert doc.meta.year == 2025  # from the date
    assert "case_id" not in doc.text and doc.text.startswith("# Visit")


def test_bibliographic_fields_reach_the_chunks_the_store_and_the_reference(tmp_path):
    from ingest.chunking import Chunker
    from ingest.store import StoredChunk, chunk_metadata
    from rag.types import Hit, Reference

    doc = load(
        _write(
            tmp_path,
            "s.md",
            "---\nkind: study\ntitle: A trial\nsource: J Test\nyear: 2021\n"
            "authors: [Smith J, Jane Doe]\ndoi: https://doi.org/10.1056/NEJMoa2032183\npmid: 33567185\n"
            "journal: N Engl J Med\nvolume: 384\nissue: 11\npages: 989-1002\n"
            "url: https://example.org/t\n---\n# Results\nIt worked in 70% of patients.\n",
        )
    )
    assert doc.meta.doi == "10.1056/NEJMoa2032183"  # the resolver prefix is dropped
    assert (doc.meta.pmid, doc.meta.volume, doc.meta.issue) == ("33567185", "384", "11")
    words = lambda texts: [len(t.split()) for t in texts]  # noqa: E731 - a fake token counter
    chunk = Chunker(words, max_tokens=256, target_tokens=160).chunk(doc)[0]
    meta = chunk_metadata(chunk, source_path="s.md", content_hash="h", n_chunks=1)
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())  # what Chroma accepts
    hit = Hit.of(StoredChunk(id=chunk.id, text=chunk.text, metadata=meta))
    ref = Reference.of(1, [hit])
    assert ref.authors == ["Smith J", "Jane Doe"]
    assert (ref.journal, ref.volume, ref.issue, ref.pages) == ("N Engl J Med", "384", "11", "989-1002")
    assert (ref.doi, ref.pmid, ref.url) == ("10.1056/NEJMoa2032183", "33567185", "https://example.org/t")
    assert ref.passages == {chunk.id: chunk.text}


def test_id_and_title_default_from_path_and_heading(tmp_path):
    (tmp_path / "sub").mkdir()
    doc = load(_write(tmp_path, "sub/My Guide.md", "---\nkind: guideline\n---\n# Real Title\nText.\n"))
    assert doc.id == "sub-my-guide"
    assert doc.meta.title == "Real Title"


def test_plain_text_without_front_matter_uses_default_kind(tmp_path):
    doc = load(_write(tmp_path, "a.txt", "Just text.\n"), default_kind="guideline")
    assert doc.meta.kind == "guideline"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nkind: policy\ntitle: [unclosed\n---\nx\n", "invalid YAML at line"),
        ("---\nkind: policy\ntitle: x\nx\n", "no closing '---'"),
        ("---\nkind: policy\ncaseid: c-1\n---\nx\n", "caseid: Extra inputs are not permitted"),
        ("---\nkind: clinical_note\n---\nx\n", "case_id is required for kind clinical_note"),
        ("---\nkind: request\ncase_id: ''\n---\nx\n", "case_id is required"),
        (
            "---\nkind: guideline\ncase_id: c-1\n---\nx\n",
            "only allowed on clinical_note and request",
        ),
        ("---\nkind: memo\n---\nx\n", "kind: Input should be"),
        ("---\nkind: study\nyear: soon\n---\nx\n", "year:"),
        ("---\n- a\n- b\n---\nx\n", "expected key: value pairs"),
        ("---\nkind: study\nid: Not Valid\n---\nx\n", "is not a valid id"),
        ("---\nkind: study\ndoi: jaci.2019.07\n---\nx\n", "doi: 'jaci.2019.07' is not a DOI: give it as 10."),
        ("---\nkind: study\npmid: PMC123\n---\nx\n", "pmid: 'PMC123' is not a PMID"),
        ("---\nkind: study\nauthors: Smith J, Doe A\n---\nx\n", "authors must be a list"),
        ("---\nkind: study\nauthors: [Smith J, '']\n---\nx\n", "an author name is empty"),
    ],
)
def test_invalid_front_matter_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(FrontMatterError) as exc:
        load(_write(tmp_path, "bad.md", text))
    assert message in str(exc.value)
    assert "bad.md" in str(exc.value)


def test_empty_and_unsupported_files(tmp_path):
    with pytest.raises(EmptyFileError, match="empty file"):
        load(_write(tmp_path, "empty.md", ""))
    with pytest.raises(EmptyFileError, match="no text after the front matter"):
        load(_write(tmp_path, "fm-only.md", "---\nkind: study\n---\n\n"))
    with pytest.raises(UnsupportedFileError, match="unsupported file type '.docx'"):
        load(_write(tmp_path, "x.docx", "PK"))
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UnsupportedFileError, match="not UTF-8"):
        load(SourceFile(path, tmp_path))


def test_pdf_sidecar_takes_the_same_bibliographic_fields(tmp_path):
    from tests.ingest.pdfs import text_pdf

    pdf = tmp_path / "trial.pdf"
    pdf.write_bytes(text_pdf(["Results", "Response occurred in 41% of patients."]))
    (tmp_path / "trial.pdf.yaml").write_text(
        "kind: study\ntitle: A trial\nauthors: [Smith J]\ndoi: doi:10.1000/xyz123\npmid: '123'\n"
        "journal: J Test\nvolume: 2\npages: 10-19\n",
        encoding="utf-8",
    )
    doc = load(SourceFile(pdf, tmp_path))
    assert (doc.meta.authors, doc.meta.doi, doc.meta.pmid) == (["Smith J"], "10.1000/xyz123", "123")
    assert (doc.meta.journal, doc.meta.volume, doc.meta.pages) == ("J Test", "2", "10-19")
    (tmp_path / "trial.pdf.yaml").write_text("kind: study\npmid: 12a\n", encoding="utf-8")
    with pytest.raises(FrontMatterError, match=r"trial.pdf.yaml: pmid: '12a' is not a PMID"):
        load(SourceFile(pdf, tmp_path))


def test_control_and_format_characters_are_dropped_from_the_text_letters_and_layout_kept(tmp_path):
    # a fax export's debris: NUL, bell, a C1 control, zero-width space, BOM, soft hyphen, a
    # private-use glyph; beside them accented and Greek letters, a tab and CRLF line ends
    raw = (
        "\ufeffPatient re\u0301sume\u0301 \x00de\u00adnies\x07 fever\u200b.\r\n"
        "\u03b2-blocker\tstopped\u0085 \ue000today.  \r\n"
    )
    doc = load(_write(tmp_path, "fax.txt", raw))
    assert doc.text == "Patient résumé denies fever.\nβ-blocker\tstopped today.\n"
