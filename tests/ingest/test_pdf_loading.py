"""Loaders on the real PDFs of ../shared/data (skipped with a reason when absent)."""

import shutil

import pytest

from ingest.errors import EncryptedPDFError, MalformedPDFError, NoTextLayerError
from ingest.loaders import SourceFile, load

MEDICAL = [
    "fda_amoxicillin_highlights_2025.pdf",
    "fda_ciprofloxacin_highlights_2025.pdf",
    "fda_warfarin_label_2025.pdf",
    "fda_metformin_extended_release_2025.pdf",
    "fda_ibuprofen_label_2024.pdf",
    "who_essential_medicines_2023.pdf",
    "bmc_jtmo_2010_dvt_prophylaxis_trauma_review.pdf",
    "hindawi_rrp_2010_heart_failure_programmes.pdf",
    "bmc_2014_malawi_quality_improvement.pdf",
    "clinsci_2014_ace_inhibitor_design.pdf",
    "intpsychogeriatrics_2014.pdf",
]


def _src(path):
    return SourceFile(path, path.parent)


@pytest.mark.parametrize("name", MEDICAL)
def test_medical_pdfs_load_with_pages(shared_data, name):
    path = shared_data / "pdfs" / "medical_text" / name
    doc = load(_src(path))
    assert doc.pages, "page spans kept"
    assert doc.pages[0].number == 1
    assert len(doc.text) > 2000
    for page in doc.pages:  # page spans tile the text in order
        assert 0 <= page.start <= page.end <= len(doc.text)
    assert doc.meta.title and doc.meta.kind == "study"


def test_pdf_text_and_page_numbers_are_right(shared_data):
    doc = load(_src(shared_data / "pdfs/medical_text/fda_warfarin_label_2025.pdf"))
    first = doc.text[doc.pages[0].start : doc.pages[0].end]
    assert "WARFARIN" in first.upper()
    assert len(doc.pages) == 44
    assert doc.pages_for(doc.pages[3].start, doc.pages[3].end) == (4, 4)


def test_pdf_info_title_used_when_meaningful_else_filename(shared_data):
    dvt = load(_src(shared_data / "pdfs/medical_text/bmc_jtmo_2010_dvt_prophylaxis_trauma_review.pdf"))
    assert dvt.meta.title.startswith("Complications related to deep venous thrombosis")
    ipg = load(_src(shared_data / "pdfs/medical_text/intpsychogeriatrics_2014.pdf"))
    assert ipg.meta.title == "intpsychogeriatrics 2014"  # info title 'ipg1300180a' is junk


def test_sidecar_yaml_overrides_pdf_info(shared_data, tmp_path):
    pdf = tmp_path / "dvt.pdf"
    shutil.copy(shared_data / "pdfs/medical_text/bmc_jtmo_2010_dvt_prophylaxis_trauma_review.pdf", pdf)
    (tmp_path / "dvt.pdf.yaml").write_text(
        "id: dvt-review\nkind: systematic_review\ntitle: DVT prophylaxis review\n"
        "source: J Trauma Manag Outcomes\nyear: 2010\n"
    )
    doc = load(_src(pdf))
    assert (doc.id, doc.meta.kind, doc.meta.year) == ("dvt-review", "systematic_review", 2010)


@pytest.mark.parametrize(
    "name", ["scanned_image_only_c02-22.pdf", "DERIVED_bmc_dvt_review_image_only_150dpi.pdf"]
)
def test_image_only_pdfs_fail_with_no_text_layer(shared_data, name):
    with pytest.raises(NoTextLayerError, match="no text layer .* run OCR"):
        load(_src(shared_data / "pdfs/robustness" / name))


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("encrypted_aes128_user_password.pdf", "asdfzxcv"),
        ("DERIVED_bmc_dvt_review_encrypted_aes256_pw-ragtest.pdf", "ragtest"),
    ],
)
def test_encrypted_pdfs_need_their_password(shared_data, name, password):
    path = shared_data / "pdfs/robustness" / name
    with pytest.raises(EncryptedPDFError, match="pass the user password with --password"):
        load(_src(path))
    with pytest.raises(EncryptedPDFError, match="did not open it"):
        load(_src(path), passwords=["wrong"])
    doc = load(_src(path), passwords=["wrong", password])
    assert doc.text.strip()


def test_encrypted_dvt_review_matches_the_original(shared_data):
    enc = load(
        _src(shared_data / "pdfs/robustness/DERIVED_bmc_dvt_review_encrypted_aes256_pw-ragtest.pdf"),
        passwords=["ragtest"],
    )
    orig = load(_src(shared_data / "pdfs/medical_text/bmc_jtmo_2010_dvt_prophylaxis_trauma_review.pdf"))
    assert enc.text == orig.text


def test_empty_owner_password_aes256_opens_without_password(shared_data):
    doc = load(_src(shared_data / "pdfs/robustness/encrypted_aes256_user_password.pdf"))
    assert doc.text.strip()


def test_malformed_pdf_is_reported(tmp_path, shared_data):
    broken = tmp_path / "broken.pdf"
    data = (shared_data / "pdfs/medical_text/fda_ibuprofen_label_2024.pdf").read_bytes()
    broken.write_bytes(data[: len(data) // 3])  # truncated download
    with pytest.raises((MalformedPDFError, NoTextLayerError)):
        load(_src(broken))
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"this is not a pdf at all")
    with pytest.raises(MalformedPDFError, match="malformed PDF"):
        load(_src(garbage))
