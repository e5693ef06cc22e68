"""The desk in a real browser (Debian's Chromium via Playwright) against a real server on
127.0.0.1: log in, review an alert, find the decision in the audit log, see the charts draw,
download the weekly report. Screenshots go to artifacts/screenshots/ for CI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
ADMIN, PASSWORD = "ada", "ada-desk-pass-1"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from threatwatch.store import open_store
    from threatwatch.web.accounts import add_user
    from threatwatch.web.sample import seed

    db = tmp_path_factory.mktemp("desk") / "desk.sqlite"
    st = open_store(str(db))
    seed(st)
    add_user(st, ADMIN, "admin", PASSWORD)
    st.close()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "threatwatch.cli", "serve", "--db", str(db), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # wait until the server accepts connections (bounded)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                proc.kill()
                pytest.fail(f"server did not start: {out}")
            time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture()
def page(browser, server: str):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(base_url=server, accept_downloads=True, viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    ctx.close()


def _login(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/alerts")
    assert "/login" in page.url  # pages send anonymous visitors to the login form
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/alerts")


def test_review_an_alert_and_see_it_in_the_audit_log(page) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    _login(page)
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
    first = page.locator("table.queue tbody tr").first
    aid = first.locator("td").first.inner_text().strip()
    first.locator("td a").first.click()
    page.wait_for_url(f"**/alerts/{aid}")
    assert page.locator("blockquote.post-text mark").count() >= 1  # deciding spans highlighted
    page.screenshot(path=str(SHOTS / "alert.png"), full_page=True)
    page.check("input[name=decision][value=not_a_threat]")
    page.select_option("select[name=reason]", "hyperbole")
    page.fill("textarea[name=note]", "Budget rant; no intent.")
    page.click("#decide-form button[type=submit]")
    page.wait_for_url(f"**decided={aid}")
    page.goto("/admin/audit")
    row = page.locator("table.audit tbody tr", has_text=f"alert:{aid}").filter(has_text="decide")
    assert row.count() == 1
    assert "hyperbole" in row.inner_text() and ADMIN in row.inner_text()
    assert page.locator("table.audit tbody tr", has_text="alert.view").count() >= 1
    page.screenshot(path=str(SHOTS / "audit.png"), full_page=True)


def test_overview_charts_render(page) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page)
    for gran in ("day", "week"):
        page.goto(f"/?granularity={gran}")
        page.wait_for_selector("#charts[data-rendered='1']")
        charts = page.locator("section.chart[data-target] svg")
        assert charts.count() >= 2  # one chart per target
        bars = page.locator("section.chart svg g.mark-rect path")
        assert bars.count() > 10  # stacked sentiment bars were drawn
        assert page.locator("section.chart svg g.mark-line path").count() >= 1  # alert counts
        if gran == "day":
            assert page.locator(".spike-list li").count() >= 1  # the seeded burst is flagged
            assert page.locator("section.chart svg g.mark-symbol path").count() >= 1  # and marked
        page.screenshot(path=str(SHOTS / f"overview-{gran}.png"), full_page=True)
    page.goto("/?lang=es")
    page.wait_for_selector("#charts[data-rendered='1']")
    assert page.locator("select[name=lang]").input_value() == "es"
    assert errors == []  # no script errors, and no Content-Security-Policy refusals (no eval needed)


def test_download_the_weekly_report(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _login(page)
    page.goto("/reports?week=2026-W47")
    assert "Riverside School District" in page.locator("table.report").inner_text()
    page.wait_for_selector("#report-chart[data-rendered='1']")
    assert page.locator("#report-chart svg g.mark-rect path").count() >= 14  # 7 days x 2 targets, stacked
    with page.expect_download() as info:
        page.click("#download-pdf")
    dl = info.value
    dest = tmp_path / dl.suggested_filename
    dl.save_as(dest)
    body = dest.read_bytes()
    assert dl.suggested_filename == "threatwatch-2026-W47.pdf"
    assert body.startswith(b"%PDF")
    assert b"/FontFile2" in body and b"DejaVuSans" in body  # a real TrueType font is embedded
    page.screenshot(path=str(SHOTS / "reports.png"), full_page=True)
