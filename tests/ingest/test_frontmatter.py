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
