"""The weekly report as a PDF: tables and natively drawn bar charts, with an embedded TrueType
font (DejaVu Sans) so accents, ñ, ¿ and € print correctly on any machine.

Pure Python (fpdf2): no browser or system library is needed to make the PDF. Only aggregates
appear here: counts per target, sentiment and day, alert outcomes and spikes — no posts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from fpdf import FPDF

from .store.sql import SQLStore, week_bounds

SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
COLORS = {"negative": (192, 57, 43), "neutral": (149, 165, 166), "positive": (39, 174, 96)}
ALERT_COLOR = (31, 95, 153)
OUTCOMES = (("credible", "credible"), ("not_a_threat", "not a threat"), ("escalated", "escalated"),
            ("pending", "pending"))


def font_files() -> tuple[Path, Path]:
    """(regular, bold) TTF paths: the system's full DejaVu Sans if present, else the bundled subset."""
    reg, bold = SYSTEM_FONTS / "DejaVuSans.ttf", SYSTEM_FONTS / "DejaVuSans-Bold.ttf"
    if reg.is_file() and bold.is_file():
        return reg, bold
    here = Path(str(resources.files("threatwatch.web") / "fonts"))
    return here / "DejaVuSans-subset.ttf", here / "DejaVuSans-Bold-subset.ttf"


class _Doc(FPDF):
    week = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"threatwatch weekly report {self.week} · aggregates only · page {self.page_no()}/{{nb}}",
                  align="C")


def _fmt_change(t: dict[str, Any]) -> str:
    ch = t.get("change", {})
    pct, d = ch.get("mentions_pct"), ch.get("mentions", 0)
    if pct is None:
        return "new" if d else "—"
    return f"{d:+d} ({pct:+.1f}%)"


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Shorten `text` with an ellipsis so it fits `width` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _legend(pdf: FPDF, x: float, y: float, alerts: bool = False) -> None:
    pdf.set_font("DejaVu", "", 8)
    for name, rgb in COLORS.items():
        pdf.set_fill_color(*rgb)
        pdf.rect(x, y + 1, 3, 3, style="F")
        pdf.set_xy(x + 4, y)
        pdf.cell(18, 5, name)
        x += 22
    if alerts:
        pdf.set_fill_color(*ALERT_COLOR)
        pdf.rect(x, y + 2, 3, 1.2, style="F")
        pdf.set_xy(x + 4, y)
        pdf.cell(18, 5, "alerts")


def _share_chart(pdf: FPDF, targets: list[dict[str, Any]]) -> None:
    """Horizontal stacked bars: each target's mentions split by sentiment."""
    left, width = pdf.l_margin + 45, pdf.w - pdf.r_margin - pdf.l_margin - 65
    top = pdf.get_y() + 2
    peak = max((t["mentions"] for t in targets), default=0) or 1
    _legend(pdf, left, top)
    y = top + 7
    for t in targets:
        if y > pdf.h - 30:
            pdf.add_page()
            y = pdf.get_y()
        pdf.set_xy(pdf.l_margin, y)
        pdf.set_font("DejaVu", "", 9)
        pdf.set_text_color(30, 30, 30)
        pdf.cell(43, 6, _fit(pdf, t["target"], 41), align="R")
        x = left
        for k in ("negative", "neutral", "positive"):
            w = width * t[k] / peak
            if w > 0:
                pdf.set_fill_color(*COLORS[k])
                pdf.rect(x, y + 0.8, w, 4.4, style="F")
                x += w
        pdf.set_xy(x + 1.5, y)
        pdf.set_font("DejaVu", "", 8)
        pdf.cell(20, 6, f"{t['mentions']:,}")
        y += 7
    pdf.set_y(y + 3)


def _daily_chart(pdf: FPDF, target: str, days: list[dict[str, Any]], spikes: set[str]) -> None:
    """Seven stacked columns (one per day) with the alert count above each; spikes marked."""
    h, w_all = 38.0, pdf.w - pdf.l_margin - pdf.r_margin
    if pdf.get_y() + h + 22 > pdf.h - 15:
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 10)
    pdf.set_text_color(30, 30, 30)
    pdf.cell(0, 6, target, new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 2
    base = top + h
    peak = max((d["mentions"] for d in days), default=0) or 1
    col = w_all / 7.0
    bw = col * 0.55
    pdf.set_draw_color(200, 200, 200)
    pdf.line(pdf.l_margin, base, pdf.l_margin + w_all, base)
    for i, d in enumerate(days):
        x = pdf.l_margin + i * col + (col - bw) / 2
        y = base
        for k in ("negative", "neutral", "positive"):
            hh = h * d[k] / peak
            if hh > 0:
                pdf.set_fill_color(*COLORS[k])
                pdf.rect(x, y - hh, bw, hh, style="F")
                y -= hh
        pdf.set_font("DejaVu", "", 7)
        pdf.set_text_color(60, 60, 60)
        pdf.set_xy(x - 4, y - 4.5)
        pdf.cell(bw + 8, 4, f"{d['mentions']}" if d["mentions"] else "", align="C")
        if d["alerts"]:
            pdf.set_text_color(*ALERT_COLOR)
            pdf.set_xy(x - 4, y - 8.5)
            pdf.cell(bw + 8, 4, f"{d['alerts']} alert{'s' if d['alerts'] != 1 else ''}", align="C")
        if d["day"] in spikes:
            pdf.set_fill_color(214, 39, 40)
            cx = x + bw / 2
            pdf.polygon([(cx - 2, top - 4), (cx + 2, top - 4), (cx, top - 1)], style="F")
        pdf.set_text_color(60, 60, 60)
        pdf.set_xy(pdf.l_margin + i * col, base + 0.5)
        dd = date.fromisoformat(d["day"])
        pdf.cell(col, 4, dd.strftime("%a %d %b"), align="C")
    pdf.set_y(base + 7)


def render_pdf(store: SQLStore, data: dict[str, Any]) -> bytes:
    """The weekly report `data` (from report.weekly) as PDF bytes."""
    from .aggregate import detect_spikes

    week = data["week"]
    start, end = week_bounds(week)
    if "daily" not in data or "outcomes" not in (data["targets"][0] if data["targets"] else {"outcomes": 1}):
        from .report import add_outcomes

        add_outcomes(store, data)
    spikes = detect_spikes(store, start[:10], end[:10], granularity="day")
    reg, bold = font_files()
    pdf = _Doc(orientation="P", unit="mm", format="A4")
    pdf.week = week
    pdf.set_title(f"threatwatch weekly report {week}")
    pdf.set_author("threatwatch")
    pdf.set_creator("threatwatch")
    pdf.add_font("DejaVu", "", str(reg))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()

    first = date.fromisoformat(start[:10])
    last = first + timedelta(days=6)
    pdf.set_font("DejaVu", "B", 18)
    pdf.cell(0, 10, f"Weekly report — {week}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9.5)
    pdf.set_text_color(90, 90, 90)
    gen = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    pdf.multi_cell(0, 5, f"{first:%A %d %B %Y} to {last:%A %d %B %Y} (UTC), compared with {data['previous_week']}. "
                         f"Generated {gen}. On-target mentions of each watched target by the author's sentiment toward "
                         "it, alerts raised for human review and what reviewers decided. Counts only: no individual's "
                         "posts or sentiment appear in this report.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    # -- table -------------------------------------------------------------------------------
    cols = [("Target", 36, "L"), ("Mentions", 16, "R"), ("Neg.", 12, "R"), ("Neu.", 12, "R"), ("Pos.", 12, "R"),
            ("Change", 24, "R"), ("Alerts", 13, "R"), ("Credible", 15, "R"), ("Not thr.", 14, "R"),
            ("Escal.", 12, "R"), ("Pending", 14, "R")]
    pdf.set_text_color(20, 20, 20)
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_fill_color(235, 239, 243)
    for name, w, al in cols:
        pdf.cell(w, 7, name, border="B", align=al, fill=True)
    pdf.ln()
    pdf.set_font("DejaVu", "", 8)
    tot = {k: 0 for k in ("mentions", "negative", "neutral", "positive", "alerts")}
    for t in data["targets"]:
        o = t.get("outcomes", {})
        vals = [_fit(pdf, t["target"], cols[0][1] - 2), f"{t['mentions']:,}", f"{t['negative']:,}", f"{t['neutral']:,}",
                f"{t['positive']:,}", _fmt_change(t), f"{t['alerts']:,}", str(o.get("credible", 0)),
                str(o.get("not_a_threat", 0)), str(o.get("escalated", 0)), str(o.get("pending", 0))]
        for (_n, w, al), v in zip(cols, vals, strict=True):
            pdf.cell(w, 6.5, v, border="B", align=al)
        pdf.ln()
        for k in tot:
            tot[k] += t[k]
    if not data["targets"]:
        pdf.cell(0, 7, "No targets known to this store yet.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    # -- charts --------------------------------------------------------------------------------
    if data["targets"]:
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(0, 7, "Mentions by sentiment", new_x="LMARGIN", new_y="NEXT")
        _share_chart(pdf, data["targets"])

    spikes_by_target: dict[str, set[str]] = {}
    for s in spikes:
        spikes_by_target.setdefault(s.target, set()).add(s.bucket)
    daily = data.get("daily", [])
    active = [t for t in data["targets"] if t["mentions"] or t["alerts"]]
    if active:
        pdf.set_font("DejaVu", "B", 12)
        if pdf.get_y() > pdf.h - 80:
            pdf.add_page()
        pdf.cell(0, 7, "Day by day", new_x="LMARGIN", new_y="NEXT")
        _legend(pdf, pdf.l_margin, pdf.get_y(), alerts=True)
        pdf.ln(7)
        for t in active:
            days = [d for d in daily if d["target"] == t["target"]]
            _daily_chart(pdf, t["target"], days, spikes_by_target.get(t["target"], set()))

    # -- spikes --------------------------------------------------------------------------------
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 12)
    pdf.set_text_color(20, 20, 20)
    pdf.cell(0, 7, "Spikes this week", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    if spikes:
        for s in sorted(spikes, key=lambda s: (s.bucket, s.target)):
            pdf.multi_cell(0, 5, "• " + s.describe(), new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(0, 5, "None: no day's alerts or negative share stood far above the target's own seasonal "
                             "baseline (see docs/spikes.md).", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def write_pdf(store: SQLStore, data: dict[str, Any], path: Path | str) -> None:
    """Entry point for `threatwatch report --format pdf --output FILE.pdf`."""
    Path(path).write_bytes(render_pdf(store, data))
