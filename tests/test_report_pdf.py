"""The weekly PDF: a real PDF with an embedded TrueType font whose glyphs include accents and ñ,
the report's numbers, and the CLI path `threatwatch report --format pdf`."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threatwatch import report as rep
from threatwatch.cli import app
from threatwatch.report_pdf import render_pdf
from threatwatch.store import open_store
from threatwatch.web.sample import seed


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            out.append(m.group(1))
    return out


def test_pdf_embeds_a_unicode_font_and_the_numbers(tmp_path: Path) -> None:
    st = open_store(str(tmp_path / "r.sqlite"))
    seed(st)
    st.register_targets(["Fundación Añil"])
    data = rep.weekly(st, "2026-W47")
    pdf = render_pdf(st, data)
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf and b"DejaVuSans" in pdf  # TrueType embedded, not a base-14 font
    cmaps = b"".join(s for s in _streams(pdf) if b"beginbfchar" in s or b"beginbfrange" in s)
    assert b"00F1" in cmaps.upper()  # ñ is mapped in the embedded font
    assert b"00F3" in cmaps.upper()  # ó too
    riverside = next(t for t in data["targets"] if t["target"] == "Riverside School District")
    assert riverside["outcomes"]["pending"] == riverside["alerts"] > 0
    assert len([d for d in data["daily"] if d["target"] == "Riverside School District"]) == 7


def test_bundled_font_is_used_without_system_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine without fonts-dejavu the PDF still gets a real font: the bundled subset."""
    import threatwatch.report_pdf as rp

    monkeypatch.setattr(rp, "SYSTEM_FONTS", tmp_path / "no-fonts-here")
    reg, bold = rp.font_files()
    assert reg.name == "DejaVuSans-subset.ttf" and bold.is_file()
    st = open_store(str(tmp_path / "r.sqlite"))
    st.register_targets(["Señal Añil"])
    pdf = rp.render_pdf(st, rep.weekly(st, "2026-W47"))
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf
    cmaps = b"".join(s for s in _streams(pdf) if b"beginbfchar" in s or b"beginbfrange" in s)
    assert b"00F1" in cmaps.upper()


def test_report_command_writes_pdf(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    st = open_store(str(db))
    seed(st)
    st.close()
    out = tmp_path / "w47.pdf"
    res = CliRunner().invoke(app, ["report", "--db", str(db), "--week", "2026-W47", "--format", "pdf", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF")


def test_report_json_keeps_its_keys(tmp_path: Path) -> None:
    st = open_store(str(tmp_path / "r.sqlite"))
    seed(st)
    data = rep.weekly(st, "2026-W47")
    assert data["week"] == "2026-W47"
    for t in data["targets"]:
        assert {"target", "mentions", "negative", "neutral", "positive", "alerts"} <= t.keys()
    header = rep.to_csv(data).splitlines()[0].split(",")
    assert header[:7] == ["week", "target", "mentions", "negative", "neutral", "positive", "alerts"]
    assert header[-1] == "alerts_pending"
