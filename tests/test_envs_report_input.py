"""Raw case-report inputs: JATS XML, plain text, MedR-Bench raw_case, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from medaction.envs.errors import RecordError, RejectLog
from medaction.envs.report_input import iter_reports, read_report

JATS = Path(__file__).parent / "data" / "sample_case_jats.xml"


def test_jats_article_parsed():
    r = read_report(JATS)
    assert r.source == "jats" and r.report_id == "sample_case_jats"
    assert r.title == "Orbital cellulitis with epidural empyema in an adolescent"
    assert "Orbital cellulitis is rare." in r.abstract and "13-year-old boy" in r.abstract
    assert [s.heading for s in r.sections] == ["", "Case presentation", "Case presentation > Investigations",
                                               "Discussion"]
    assert r.sections[2].text.startswith("CRP was 306.9 mg/L.")
    assert r.tables == ("Table 1\nLaboratory values\nTest | Value\nCRP | 306.9 mg/L\nWBC | 15.3 x103/uL",)
    assert "Ref one" not in r.text and "Table\nTable 1" in r.text


def test_text_and_medrbench_reports(tmp_path, medrbench_path):
    (tmp_path / "a.txt").write_text("A rare case\nA 30-year-old woman had fever.\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("Only one line of text")
    reports = list(iter_reports([tmp_path], strict=True))
    assert [(r.report_id, r.title) for r in reports] == [("a", "A rare case"), ("b", "")]
    assert reports[0].sections[0].text == "A 30-year-old woman had fever."
    mr = list(iter_reports([medrbench_path], strict=True))
    assert len(mr) == 20 and all(r.source == "medrbench" and len(r.text) > 500 for r in mr)


@pytest.mark.parametrize("name,data,reason", [
    ("x.pdf", b"%PDF-1.4", "unsupported file type .pdf"),
    ("x.txt", b"abc\x00\x01", "binary file"),
    ("x.txt", b"\xff\xfe bad", "not UTF-8"),
    ("x.txt", b"   \n ", "empty file"),
    ("x.xml", b"<article><body><p>unclosed</body></article>", "malformed XML"),
    ("x.xml", b"<html><body/></html>", "not a JATS article"),
    ("x.xml", b'<!DOCTYPE a [<!ENTITY x "y">]><article>&x;</article>', "declares entities"),
    ("x.xml", b"<article><front/></article>", "neither abstract nor body"),
])
def test_refusals_name_file_and_reason(tmp_path, name, data, reason):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(RecordError, match=reason) as exc:
        read_report(p)
    assert exc.value.path == str(p)
    log = RejectLog()
    assert list(iter_reports([p], rejects=log)) == [] and log.count == 1


def test_forced_format_and_job_fields(tmp_path):
    p = tmp_path / "case.dat"
    p.write_text("Title line\nBody text here.")
    with pytest.raises(RecordError, match="unsupported file type .dat"):
        read_report(p)
    (r,) = iter_reports([p], fmt="text", strict=True)
    assert r.case_id == "case" and r.meta == {"title": "Title line", "report_source": "text", "path": str(p)}
    (j,) = iter_reports([JATS.parent / JATS.name], fmt="jats", strict=True)
    assert j.meta["report_source"] == "jats"
    with pytest.raises(ValueError, match="unknown report format"):
        list(iter_reports([p], fmt="pdf"))
