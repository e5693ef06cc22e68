"""The desk over the shared PostgreSQL store (a real server on 127.0.0.1, started by the
fixture): log in, decide with the form and its CSRF token, read the audit log, export, charts,
the PDF, lockout and tokens — the same behaviour as on SQLite."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from servers import pg_server, pg_url  # noqa: F401  (fixtures)
from threatwatch.store import open_store
from threatwatch.web.accounts import add_user, mint_token
from threatwatch.web.app import create_app
from threatwatch.web.sample import seed


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert m
    return m.group(1)


def test_desk_on_postgres(pg_url: str) -> None:  # noqa: F811
    st = open_store(pg_url)
    try:
        seed(st)
        add_user(st, "rita", "admin", "rita-pass-1234")
        c = TestClient(create_app(st), base_url="http://127.0.0.1")
        r = c.post("/login", data={"username": "rita", "password": "rita-pass-1234",
                                   "csrf_token": _csrf(c.get("/login").text)}, follow_redirects=False)
        assert r.status_code == 303
        queue = c.get("/api/alerts").json()
        assert [a["threat_score"] for a in queue] == sorted((a["threat_score"] for a in queue), reverse=True)
        aid = queue[0]["id"]
        page = c.get(f"/alerts/{aid}")
        assert c.post(f"/alerts/{aid}/decide", data={"decision": "credible"}, follow_redirects=False).status_code == 403
        r = c.post(f"/alerts/{aid}/decide", data={"decision": "escalated", "note": "called security",
                                                  "csrf_token": _csrf(page.text)}, follow_redirects=False)
        assert r.status_code == 303 and st.get_alert(aid).status == "escalated"
        actions = [(e["action"], e["object"]) for e in c.get("/api/audit").json()]
        assert ("decide", f"alert:{aid}") in actions and ("alert.view", f"alert:{aid}") in actions
        assert ("login", "ip:testclient") in actions
        assert len(c.get("/api/decisions.jsonl").text.splitlines()) == 1
        ov = c.get("/api/overview").json()
        assert any(s["metric"] == "alerts" for s in ov["spikes"])
        pdf = c.get("/export/report", params={"week": "2026-W47", "format": "pdf"})
        assert pdf.content.startswith(b"%PDF")
        token = mint_token(st, "rita")
        assert TestClient(create_app(st)).get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["via"] == "token"
        anon = TestClient(create_app(st), base_url="http://127.0.0.1")
        for _ in range(5):
            anon.post("/login", data={"username": "rita", "password": "nope-nope-nope",
                                      "csrf_token": _csrf(anon.get("/login").text)})
        r = anon.post("/login", data={"username": "rita", "password": "rita-pass-1234",
                                      "csrf_token": _csrf(anon.get("/login").text)}, follow_redirects=False)
        assert r.status_code == 429
    finally:
        st.close()
