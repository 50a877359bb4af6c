"""References writers can use: AMA lines, RIS/BibTeX/CSL-JSON read back by their own libraries,
DOCX comments quoting the cited passages, and `assess --references`."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import bibtexparser
import docx
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware

from rag.cli import main
from rag.rendering import ama, render
from rag.rendering.bibliography import export
from rag.types import Evidence, Reference
from tests.rag.test_render import make_assessment

ARTICLE = Reference(
    n=1,
    doc_id="sr-widget-2020",
    title="Widgetumab for chronic widget disease: a systematic review",
    kind="systematic_review",
    source="Widget Society",
    journal="J Widget Med",
    year=2020,
    volume="12",
    issue="3",
    pages="45-67",
    doi="10.5555/jwm.2020.12",
    pmid="31474478",
    authors=["Smith J", "Jane Q. Doe", "van der Berg, Anna"],
    locator="pp. 4-5",
)
POLICY = Reference(
    n=2,
    doc_id="policy-widget",
    title="Widgetumab (Widgetra) coverage policy",
    kind="policy",
    source="Example Health Plan",
    year=2025,
    date="2025-04-07",
    url="https://example.org/policies/widget",
    locator="section: Chronic widget disease",
)
NOTE = Reference(n=3, doc_id="case-a-note", title="Clinic note", kind="clinical_note", year=2025)


# --- AMA ----------------------------------------------------------------------------------------


def test_ama_journal_article_in_every_part():
    assert ama.markdown(ARTICLE) == (
        "Smith J, Doe JQ, van der Berg A. Widgetumab for chronic widget disease: a systematic review. "
        "*J Widget Med*. 2020;12(3):45-67. doi:10.5555/jwm.2020.12 (systematic review; pp. 4-5)"
    )
    assert str(ama.html(ARTICLE)).count("<em>J Widget Med</em>.") == 1


def test_ama_web_document_and_missing_fields_degrade():
    assert ama.text(POLICY) == (
        "Widgetumab (Widgetra) coverage policy. Example Health Plan. Published April 7, 2025. "
        "https://example.org/policies/widget (policy; section: Chronic widget disease)"
    )
    bare = ARTICLE.model_copy(
        update={"volume": None, "issue": None, "doi": None, "authors": [], "locator": ""}
    )
    line = ama.text(bare)
    assert line == (
        "Widgetumab for chronic widget disease: a systematic review. J Widget Med. 2020. PMID: 31474478 "
        "(systematic review)"
    )
    for ref in (bare, NOTE, Reference(n=4, doc_id="x", title="Untitled", kind="drug_label")):
        text = ama.text(ref)
        assert "()" not in text and "None" not in text and ";;" not in text and ". ." not in text
    assert ama.text(NOTE) == "Clinic note. 2025. (clinical note)"


def test_ama_lists_six_authors_then_three_and_et_al():
    names = ["Ames A", "Bell B", "Cole C", "Dunn D", "Eddy E", "Ford F", "Gale G"]
    assert ama.authors_text(names[:6]).endswith("Ford F")
    assert ama.authors_text(names) == "Ames A, Bell B, Cole C, et al"
    assert ama.author_name("AAAAI Mast Cell Disorders Committee") == "AAAAI Mast Cell Disorders Committee"
    assert ama.author_name("{World Health Organization}") == "World Health Organization"


def test_markdown_and_html_reference_lists_are_ama():
    a = make_assessment(references=[ARTICLE, POLICY])
    md = render(a, "md")
    assert (
        "1. Smith J, Doe JQ, van der Berg A. Widgetumab" in md and "*J Widget Med*. 2020;12(3):45-67." in md
    )
    html = render(a, "html")
    assert "<em>J Widget Med</em>. 2020;12(3):45-67. doi:10.5555/jwm.2020.12" in html


# --- exports, read back by their own parsers ----------------------------------------------------


def test_ris_reads_back_with_rispy():
    entries = rispy.loads(export([POLICY, ARTICLE], "ris"))
    assert [e["type_of_reference"] for e in entries] == ["JOUR", "ELEC"]
    article = entries[0]
    assert article["authors"] == ["Smith, J", "Doe, Jane Q.", "van der Berg, Anna"]
    assert article["journal_name"] == "J Widget Med"
    assert (article["volume"], article["number"], article["start_page"], article["end_page"]) == (
        "12",
        "3",
        "45",
        "67",
    )
    assert article["doi"] == "10.5555/jwm.2020.12" and article["year"] == "2020"
    assert entries[1]["urls"] == ["https://example.org/policies/widget"]
    assert "section: Chronic widget disease" in entries[1]["notes"][0]


def test_bibtex_reads_back_with_bibtexparser():
    changed = {"title": "Widgets & gadgets: 100% covered", "locator": "Dosing > Limits"}
    text = export([ARTICLE, POLICY.model_copy(update=changed)], "bibtex")
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    assert not library.failed_blocks
    article, policy = library.entries
    assert (article.entry_type, article.key) == ("article", "sr-widget-2020")
    assert article["author"] == "Smith, J and Doe, Jane Q. and van der Berg, Anna"
    assert "pages = {45--67}" in text and article["pages"] == "45\u201367"  # LaTeX's en dash
    assert article["journal"] == "J Widget Med"
    assert article["doi"] == "10.5555/jwm.2020.12" and article["pmid"] == "31474478"
    assert policy.entry_type == "misc" and policy["title"] == "Widgets & gadgets: 100% covered"
    assert policy["url"] == "https://example.org/policies/widget"
    assert "(policy; Dosing / Limits)" in policy["note"]


def test_csl_json_is_valid_csl_items():
    items = json.loads(export([ARTICLE, POLICY, NOTE], "csl-json"))
    article, policy, note = items
    assert article["type"] == "article-journal" and article["container-title"] == "J Widget Med"
    assert article["author"][0] == {"family": "Smith", "given": "J"}
    assert article["issued"] == {"date-parts": [[2020]]} and article["page"] == "45-67"
    assert (article["DOI"], article["PMID"]) == ("10.5555/jwm.2020.12", "31474478")
    assert policy["type"] == "webpage" and policy["issued"] == {"date-parts": [[2025, 4, 7]]}
    assert note["type"] == "document" and "author" not in note


# --- DOCX comments ------------------------------------------------------------------------------


def test_docx_comments_quote_cited_passages_and_flag_unsupported():
    a = make_assessment()
    passage = "Widget Severity Score 27 documented on 2025-02-11 by the treating rheumatologist."
    a.references[1].passages = {"chunk-note-1": f"## Assessment\n{passage}"}
    cited = next(b for s in a.sections for b in s.bullets if b.supported and 2 in b.citations)
    cited.chunk_ids = ["chunk-note-1"]
    unsupported = next(b for s in a.sections for b in s.bullets if not b.supported)
    criterion = a.criteria[0].children[0]
    note = "cwd-007-note-2025-02-11"
    criterion.evidence = [Evidence(chunk_id="chunk-note-1", doc_id=note, quote="WSS 27.")]
    a.criteria[1].rationale += " [unsupported: '1,200' is in no cited passage]"
    doc = docx.Document(BytesIO(render(a, "docx")))
    comments = [c.text for c in doc.comments]
    assert "[2] Rheumatology follow-up: \u201cWSS 27.\u201d" in comments
    quoting = [c for c in comments if passage in c]
    assert quoting == [f"[2] Rheumatology follow-up: \u201cAssessment {passage}\u201d"]  # no '##' marks
    flagged = [c for c in comments if c.startswith("UNSUPPORTED")]
    assert len(flagged) == 2  # the bullet and the criterion's rationale
    assert any(unsupported.unsupported_reason in c for c in flagged)
    assert any("'1,200' is in no cited passage" in c for c in flagged)
    xml = zipfile.ZipFile(BytesIO(render(a, "docx"))).read("word/document.xml").decode()
    assert xml.count("<w:commentRangeStart") == len(comments)


def test_docx_reference_list_italicises_the_journal():
    doc = docx.Document(BytesIO(render(make_assessment(references=[ARTICLE]), "docx")))
    ref = next(p for p in doc.paragraphs if p.text.startswith("1. Smith J"))
    assert [r.text for r in ref.runs if r.italic] == ["J Widget Med"]
    assert "2020;12(3):45-67. doi:10.5555/jwm.2020.12" in ref.text


# --- the command line ---------------------------------------------------------------------------


Q = "Is widgetumab 300 mg SC every 4 weeks medically indicated for this patient with chronic widget disease?"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--references", "ris"], "--references ris needs a file"),
        (["--references-out", "x.ris"], "--references-out needs --references"),
        (["--references", "ris", "--references-out", "-"], "cannot both go to standard output"),
        (["--references", "csl-json", "--format", "json", "--out", "d.json"], "already has the .json"),
    ],
)
def test_references_usage_errors_come_before_drafting(tmp_path, capsys, extra, message):
    missing = str(tmp_path / "no-store")
    assert main(["assess", Q, "--case", "case-a", "--store", missing, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "no-store").exists()


def test_cli_assess_writes_references_next_to_the_draft(tmp_path, mini_corpus, capsys):
    store = str(tmp_path / "store")
    assert main(["ingest", str(mini_corpus), "--store", store, "--quiet"]) == 0
    draft = tmp_path / "draft.md"
    args = ["assess", Q, "--case", "case-a", "--store", store, "--out", str(draft), "--references", "ris"]
    assert main(args) == 0
    entries = rispy.loads((tmp_path / "draft.ris").read_text(encoding="utf-8"))
    review = next(e for e in entries if e["id"] == "review-widgetumab-2024")
    assert review["authors"] == ["Quill, R", "Lovelace, Ada", "van der Berg, Anna"]
    assert review["doi"] == "10.5555/jwm.2024.0042" and review["volume"] == "12"
    md = draft.read_text(encoding="utf-8")
    assert "Quill R, Lovelace A, van der Berg A. Widgetumab for chronic widget disease" in md
    assert "*Journal of Widget Medicine*. 2024;12(3):45-67. doi:10.5555/jwm.2024.0042" in md
    out = tmp_path / "refs.bib"
    args = [*args[:-2], "--references", "bibtex", "--references-out", str(out)]
    assert main(args) == 0
    library = bibtexparser.parse_string(out.read_text(encoding="utf-8"))
    assert "review-widgetumab-2024" in [e.key for e in library.entries]
    capsys.readouterr()
    assert main([*args[:6], "--format", "json"]) == 0  # a saved session, re-rendered by `show`
    session = json.loads(capsys.readouterr().out)["session_id"]
    shown = tmp_path / "shown.html"
    show = ["show", session, "--store", store, "--format", "html", "-o", str(shown)]
    show += ["--references", "csl-json"]
    assert main(show) == 0
    items = json.loads((tmp_path / "shown.json").read_text(encoding="utf-8"))
    assert any(i["id"] == "review-widgetumab-2024" and i["DOI"] == "10.5555/jwm.2024.0042" for i in items)
