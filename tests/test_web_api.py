"""The desk's access rules, as a user relies on them: nothing answers without a login, each role
sees only what it should, forms and cookie-authenticated API writes need the CSRF token, and
logins, views, decisions and exports land in the audit log."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from threatwatch.store import open_store
from threatwatch.store.sql import SQLStore
from threatwatch.web.accounts import add_user, mint_token
from threatwatch.web.app import create_app
from threatwatch.web.sample import seed

PASSWORDS = {"vera": "viewer-pass-123", "rita": "reviewer-pass-123", "adam": "admin-pass-1234"}
ROLES = {"vera": "viewer", "rita": "reviewer", "adam": "admin"}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, with light parameters so the suite stays quick on two cores."""
    from argon2 import PasswordHasher

    from threatwatch.web import accounts

    monkeypatch.setattr(accounts, "_ph", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded store with three accounts, copied for each test (seeding once is faster)."""
    from argon2 import PasswordHasher

    from threatwatch.web import accounts

    saved = accounts._ph
    accounts._ph = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        path = tmp_path_factory.mktemp("tpl") / "desk.sqlite"
        st = open_store(str(path))
        seed(st)
        for name, pw in PASSWORDS.items():
            add_user(st, name, ROLES[name], pw)
        st.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        st.close()
    finally:
        accounts._ph = saved
    return path


@pytest.fixture()
def store(tmp_path: Path, template_db: Path) -> Iterator[SQLStore]:
    dst = tmp_path / "desk.sqlite"
    shutil.copy(template_db, dst)
    st = open_store(str(dst))
    yield st
    st.close()


@pytest.fixture()
def app(store: SQLStore):  # type: ignore[no-untyped-def]
    return create_app(store)


def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url="http://127.0.0.1")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def login(app, name: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = client(app)
    page = c.get("/login")
    r = c.post("/login", data={"username": name, "password": PASSWORDS[name], "csrf_token": csrf_of(page.text),
                                "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def session_csrf(c: TestClient) -> str:
    return c.get("/api/me").json()["csrf"]


def first_alert(store: SQLStore) -> int:
    return store.alerts(limit=1)[0].id


# -- nothing answers without a login ----------------------------------------------------------
def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def all_routes(routes, prefix: str = ""):  # type: ignore[no-untyped-def]
    """Every (path, methods) of the app, including routers that FastAPI keeps nested."""
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            ctx = getattr(r, "include_context", None)
            yield from all_routes(inner.routes, prefix + (getattr(ctx, "prefix", "") or ""))
        elif isinstance(r, Mount):
            continue  # static files: checked below
        else:
            assert isinstance(r, Route | APIRoute), r
            yield prefix + r.path, sorted(r.methods or ())


def test_anonymous_is_refused_on_every_route(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    checked = 0
    for route_path, methods in all_routes(app.routes):
        path = _concrete(route_path)
        for method in methods:
            if method == "HEAD":
                continue
            r = c.request(method, path, follow_redirects=False)
            checked += 1
            if route_path in ("/login", "/healthz"):
                assert r.status_code < 400 or (method == "POST" and r.status_code == 403), (method, path)
            elif path.startswith(("/api/", "/export/")):
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.headers["www-authenticate"].startswith("Bearer")
            else:
                assert r.status_code == 303, (method, path, r.status_code)
                assert r.headers["location"].startswith("/login?next=")
    assert checked >= 25  # the enumeration really covered the app


def test_static_files_need_a_login_except_the_login_pages_own(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    assert c.get("/static/vendor/vega.min.js").status_code == 401
    assert c.get("/static/desk.js").status_code == 401
    assert c.get("/static/public/desk.css").status_code == 200
    assert c.get("/healthz").json() == {"ok": True}
    assert c.get("/api/openapi.json").status_code == 401
    assert c.get("/docs", follow_redirects=False).status_code in (303, 404)  # no CDN-backed Swagger UI


def test_bad_bearer_token_is_401(app) -> None:  # type: ignore[no-untyped-def]
    r = client(app).get("/api/alerts", headers={"Authorization": "Bearer tw_nope"})
    assert r.status_code == 401


# -- roles -------------------------------------------------------------------------------------
ROLE_CASES = [  # (method, path, least role)
    ("GET", "/", "viewer"),
    ("GET", "/reports", "viewer"),
    ("GET", "/api/overview", "viewer"),
    ("GET", "/api/spikes", "viewer"),
    ("GET", "/api/report?week=2026-W47", "viewer"),
    ("GET", "/export/report?week=2026-W47&format=csv", "viewer"),
    ("GET", "/alerts", "reviewer"),
    ("GET", "/alerts/{alert}", "reviewer"),
    ("GET", "/api/alerts", "reviewer"),
    ("GET", "/api/alerts/{alert}", "reviewer"),
    ("GET", "/api/decisions.jsonl", "reviewer"),
    ("GET", "/api/decisions.csv", "reviewer"),
    ("GET", "/admin/users", "admin"),
    ("GET", "/admin/audit", "admin"),
    ("GET", "/admin/watchlist", "admin"),
    ("GET", "/admin/settings", "admin"),
    ("GET", "/api/users", "admin"),
    ("GET", "/api/audit", "admin"),
]
RANK = {"viewer": 0, "reviewer": 1, "admin": 2}


@pytest.mark.parametrize("name", ["vera", "rita", "adam"])
def test_role_boundaries_for_reads(app, store: SQLStore, name: str) -> None:  # type: ignore[no-untyped-def]
    c = login(app, name)
    aid = first_alert(store)
    for method, path, least in ROLE_CASES:
        r = c.request(method, path.replace("{alert}", str(aid)), follow_redirects=False)
        if RANK[ROLES[name]] >= RANK[least]:
            assert r.status_code == 200, (name, path, r.status_code)
        else:
            assert r.status_code == 403, (name, path, r.status_code)


def test_viewer_cannot_decide_alerts(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "vera")
    aid = first_alert(store)
    tok = session_csrf(c)
    r = c.post(f"/api/alerts/{aid}/decision", json={"decision": "credible"}, headers={"X-CSRF-Token": tok})
    assert r.status_code == 403
    r = c.post(f"/alerts/{aid}/decide", data={"decision": "credible", "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 403
    assert store.get_alert(aid).status == "new"


def test_reviewer_cannot_manage_users(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    tok = session_csrf(c)
    r = c.post("/api/users", json={"name": "mallory", "role": "admin", "password": "x" * 12},
               headers={"X-CSRF-Token": tok})
    assert r.status_code == 403
    r = c.post("/admin/users", data={"name": "mallory", "role": "admin", "password": "x" * 12, "csrf_token": tok},
               follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/admin/users/vera", data={"role": "admin", "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 403
    assert [u["name"] for u in client_users(store)] == ["adam", "rita", "vera"]


def client_users(store: SQLStore) -> list[dict[str, object]]:
    from threatwatch.web.accounts import list_users

    return list_users(store)


def test_admin_creates_user_who_can_log_in(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "adam")
    page = c.get("/admin/users")
    r = c.post("/admin/users", data={"name": "nora", "role": "reviewer", "password": "nora-pass-123",
                                     "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    PASSWORDS["nora"], ROLES["nora"] = "nora-pass-123", "reviewer"
    try:
        assert login(app, "nora").get("/api/me").json()["role"] == "reviewer"
    finally:
        del PASSWORDS["nora"], ROLES["nora"]
    assert any(e["action"] == "user.create" and e["object"] == "user:nora" and e["actor"] == "adam"
               for e in store.audit_log())


# -- CSRF ----------------------------------------------------------------------------------------
def test_form_post_without_or_with_wrong_csrf_token_is_refused(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    aid = first_alert(store)
    form = {"decision": "not_a_threat", "reason": "hyperbole", "note": "a joke"}
    assert c.post(f"/alerts/{aid}/decide", data=form, follow_redirects=False).status_code == 403
    assert c.post(f"/alerts/{aid}/decide", data={**form, "csrf_token": "wrong"},
                  follow_redirects=False).status_code == 403
    assert store.get_alert(aid).status == "new"
    page = c.get(f"/alerts/{aid}")
    r = c.post(f"/alerts/{aid}/decide", data={**form, "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    a = store.get_alert(aid)
    assert (a.status, a.reason, a.note, a.decided_by) == ("not_a_threat", "hyperbole", "a joke", "rita")


def test_cookie_api_write_needs_csrf_header_but_bearer_does_not(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    aid = first_alert(store)
    assert c.post(f"/api/alerts/{aid}/decision", json={"decision": "escalated"}).status_code == 403
    r = c.post(f"/api/alerts/{aid}/decision", json={"decision": "escalated", "note": "to security"},
               headers={"X-CSRF-Token": session_csrf(c)})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    token = mint_token(store, "rita")
    r = client(app).post(f"/api/alerts/{aid}/decision", json={"decision": "credible"},
                         headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["decided_by"] == "rita"


def test_login_form_needs_its_csrf_cookie(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    r = c.post("/login", data={"username": "adam", "password": PASSWORDS["adam"], "csrf_token": "forged"},
               follow_redirects=False)
    assert r.status_code == 403
    assert "tw_session" not in r.cookies


def test_bad_decision_is_explained(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    aid = first_alert(store)
    r = c.post(f"/api/alerts/{aid}/decision", json={"decision": "not_a_threat"}, headers={"X-CSRF-Token": session_csrf(c)})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    r = c.post(f"/api/alerts/{aid}/decision", json={"decision": "maybe"}, headers={"X-CSRF-Token": session_csrf(c)})
    assert r.status_code == 422


# -- sessions, lockout, tokens ---------------------------------------------------------------------
def test_session_cookie_flags(store: SQLStore) -> None:
    for secure in (False, True):
        app = create_app(store, secure_cookies=secure)
        c = TestClient(app, base_url="https://desk.example" if secure else "http://127.0.0.1")
        page = c.get("/login")
        r = c.post("/login", data={"username": "vera", "password": PASSWORDS["vera"], "csrf_token": csrf_of(page.text)},
                   follow_redirects=False)
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("tw_session="))
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert ("Secure" in cookie) is secure


def test_logout_and_expiry_end_the_session(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "vera")
    assert c.get("/api/me").status_code == 200
    store.execute("UPDATE sessions SET expires_at = ?", ("2000-01-01T00:00:00+00:00",))
    store.commit()
    assert c.get("/api/me").status_code == 401
    c = login(app, "vera")
    r = c.post("/logout", data={"csrf_token": session_csrf(c)}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/api/me").status_code == 401


def test_repeated_failures_lock_the_account(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    for _ in range(5):
        page = c.get("/login")
        r = c.post("/login", data={"username": "rita", "password": "wrong-password", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 401
    page = c.get("/login")
    r = c.post("/login", data={"username": "rita", "password": PASSWORDS["rita"], "csrf_token": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 429  # locked even with the right password
    actions = [e["action"] for e in store.audit_log() if e["actor"] == "rita"]
    assert actions.count("login.failed") == 5 and "login.locked" in actions


def test_tokens_are_stored_hashed_and_die_with_the_account(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    from threatwatch.web.accounts import set_disabled

    token = mint_token(store, "vera", "grafana")
    assert not store.query("SELECT 1 FROM api_tokens WHERE token_hash = ?", (token,))
    h = {"Authorization": f"Bearer {token}"}
    assert client(app).get("/api/overview", headers=h).status_code == 200
    assert client(app).get("/api/alerts", headers=h).status_code == 403  # a token carries its user's role
    set_disabled(store, "vera", True, actor="adam")
    assert client(app).get("/api/overview", headers=h).status_code == 401


def test_login_does_not_redirect_off_site(app) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    page = c.get("/login")
    r = c.post("/login", data={"username": "vera", "password": PASSWORDS["vera"], "csrf_token": csrf_of(page.text),
                                "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"


# -- the queue, the evidence, the export, the audit -------------------------------------------------
def test_queue_order_and_filters(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    rows = c.get("/api/alerts").json()
    assert rows and all("sentiment" not in a for a in rows)
    scores = [a["threat_score"] for a in rows]
    assert scores == sorted(scores, reverse=True)
    es = c.get("/api/alerts", params={"lang": "es"}).json()
    assert es and all(a["lang"] == "es" for a in es)
    masto = c.get("/api/alerts", params={"platform": "mastodon"}).json()
    assert masto and all(a["platform"] == "mastodon" for a in masto)
    assert c.get("/api/alerts", params={"status": "bogus"}).status_code == 422


def test_alert_page_shows_post_and_highlights_cues(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    a = next(x for x in store.alerts(limit=50) if x.lang == "es")
    html = c.get(f"/alerts/{a.id}").text
    assert "Ñandú" in html and a.author in html and a.url in html
    for cue in a.cues:
        assert re.search(r"<mark[^>]*>" + re.escape(cue["text"]) + "</mark>", html)
    assert any(e["action"] == "alert.view" and e["object"] == f"alert:{a.id}" for e in store.audit_log())


def test_decisions_export_is_labelled_data_and_audited(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io
    import json

    c = login(app, "rita")
    aid = first_alert(store)
    c.post(f"/api/alerts/{aid}/decision", json={"decision": "not_a_threat", "reason": "satire"},
           headers={"X-CSRF-Token": session_csrf(c)})
    lines = c.get("/api/decisions.jsonl").text.splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["decision"] == "not_a_threat" and rec["reason"] == "satire" and rec["label"] == "none"
    assert {"text", "target", "lang", "threat", "threat_score", "subtype"} <= rec.keys()
    assert "sentiment" not in rec  # sentiment is only ever reported in aggregate
    rows = list(csv.DictReader(io.StringIO(c.get("/api/decisions.csv").text)))
    assert rows[0]["alert_id"] == str(aid) and rows[0]["reason"] == "satire"
    exports = [e["object"] for e in store.audit_log() if e["action"] == "export"]
    assert "decisions.jsonl" in exports and "decisions.csv" in exports


def test_settings_change_is_validated_and_audited(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "adam")
    tok = csrf_of(c.get("/admin/settings").text)
    r = c.post("/admin/settings", data={"csrf_token": tok, "retention.rejects_days": "0"})
    assert r.status_code == 422 and "retention.rejects_days" in r.text
    r = c.post("/admin/settings", data={"csrf_token": tok, "retention.rejects_days": "14"}, follow_redirects=False)
    assert r.status_code == 303
    assert store.get_meta("retention.rejects_days") == "14"
    assert any(e["action"] == "settings.change" and "14" in (e["detail"] or "") for e in store.audit_log())


def test_overview_data_has_sentiment_alerts_and_spikes(app) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "vera")
    d = c.get("/api/overview").json()
    assert "Riverside School District" in d["targets"]
    assert any(r["negative"] and r["neutral"] and r["positive"] for r in d["rows"])
    assert any(s["target"] == "Riverside School District" and s["metric"] == "alerts" for s in d["spikes"])
    es = c.get("/api/overview", params={"lang": "es"}).json()
    assert sum(r["mentions"] for r in es["rows"]) < sum(r["mentions"] for r in d["rows"])
    wk = c.get("/api/overview", params={"granularity": "week"}).json()
    assert all(re.fullmatch(r"\d{4}-W\d{2}", r["bucket"]) for r in wk["rows"])


def test_report_downloads(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "vera")
    pdf = c.get("/export/report", params={"week": "2026-W47", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv_ = c.get("/export/report", params={"week": "2026-W47", "format": "csv"}).text
    assert csv_.startswith("week,target,mentions")
    assert c.get("/export/report", params={"week": "2026-W99"}).status_code == 422
    assert any(e["action"] == "export" and e["object"] == "report:2026-W47" for e in store.audit_log())


def test_audit_log_filters(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "adam")
    aid = first_alert(store)
    c.get(f"/api/alerts/{aid}")
    logins = c.get("/api/audit", params={"action": "login"}).json()
    assert logins and all(e["action"].startswith("login") for e in logins)
    views = c.get("/api/audit", params={"object": f"alert:{aid}", "actor": "adam"}).json()
    assert [e["action"] for e in views] == ["alert.view"]
    page = c.get("/admin/audit", params={"action": "alert.view"}).text
    assert f"alert:{aid}" in page and "user.create" not in page


def test_decisions_export_since(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    c = login(app, "rita")
    aid = first_alert(store)
    c.post(f"/api/alerts/{aid}/decision", json={"decision": "credible"}, headers={"X-CSRF-Token": session_csrf(c)})
    assert len(c.get("/api/decisions.jsonl", params={"since": "2000-01-01"}).text.splitlines()) == 1
    assert c.get("/api/decisions.jsonl", params={"since": "2999-01-01"}).text == ""


def test_admin_sees_the_watchlist(store: SQLStore) -> None:
    wl = Path(__file__).parent / "fixtures" / "core" / "watchlist.toml"
    app = create_app(store, watchlist=str(wl))
    html = login(app, "adam").get("/admin/watchlist").text
    assert "Lincoln High School" in html and "LHS" in html and "Lucía Ferrer" in html
    bad = create_app(store, watchlist=str(Path(__file__)))  # not TOML: the page says so, naming the file
    assert "test_web_api.py" in login(bad, "adam").get("/admin/watchlist").text


def test_post_link_is_clickable_only_when_http(app, store: SQLStore) -> None:  # type: ignore[no-untyped-def]
    # The URL comes from an input file: a javascript: link on the alert page would run in the
    # reviewer's session on click. It is shown as text instead.
    aid = first_alert(store)
    store.execute("UPDATE alerts SET url = ? WHERE id = ?", ("javascript:alert(3)", aid))
    store.commit()
    c = login(app, "rita")
    page = c.get(f"/alerts/{aid}").text
    assert 'href="javascript:' not in page and "javascript:alert(3)" in page
    store.execute("UPDATE alerts SET url = ? WHERE id = ?", ("https://bsky.app/profile/x.example/post/1", aid))
    store.commit()
    assert 'href="https://bsky.app/profile/x.example/post/1"' in c.get(f"/alerts/{aid}").text
