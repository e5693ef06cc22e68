"""The desk's commands: accounts from the CLI (password on stdin, tokens shown once) and
`threatwatch spikes --notify` delivering a spike to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from typer.testing import CliRunner

from threatwatch.cli import app
from threatwatch.store import open_store
from threatwatch.web.accounts import authenticate, token_user
from threatwatch.web.sample import seed


def test_user_add_list_token(tmp_path: Path) -> None:
    db = str(tmp_path / "u.sqlite")
    r = CliRunner().invoke(app, ["user", "add", "maria", "--role", "reviewer", "--db", db, "--password-stdin"],
                           input="maria-long-pass\n")
    assert r.exit_code == 0, r.output
    st = open_store(db)
    assert authenticate(st, "maria", "maria-long-pass").role == "reviewer"
    r = CliRunner().invoke(app, ["user", "add", "maria", "--db", db, "--password-stdin"], input="another-pass-1\n")
    assert r.exit_code == 2 and "already exists" in r.output
    r = CliRunner().invoke(app, ["user", "add", "bob", "--role", "boss", "--db", db, "--password-stdin"], input="x\n")
    assert r.exit_code == 2 and "role" in r.output
    r = CliRunner().invoke(app, ["user", "add", "bob", "--db", db, "--password-stdin"], input="short\n")
    assert r.exit_code == 2 and "password" in r.output
    r = CliRunner().invoke(app, ["user", "list", "--db", db])
    assert "maria" in r.output and "reviewer" in r.output
    r = CliRunner().invoke(app, ["user", "token", "maria", "--db", db])
    assert r.exit_code == 0
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("tw_") and token_user(st, token).name == "maria"


def test_spikes_command_notifies_a_webhook_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "s.sqlite")
    st = open_store(db)
    seed(st)
    st.close()
    got: list[dict[str, object]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        monkeypatch.setenv("THREATWATCH_WEBHOOK_SECRET", "s3cret")
        url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
        args = ["spikes", "--db", db, "--end", "2026-11-22", "--days", "7", "--notify", f"webhook:{url}"]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        assert "Riverside School District" in r.output
        assert len(got) == 1 and got[0]["event"] == "spike" and got[0]["bucket"] == "2026-11-22"
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0 and len(got) == 1  # already sent: not repeated
    finally:
        srv.shutdown()


def test_retention_purges_old_decided_alerts_but_keeps_undecided(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from threatwatch.web.retention import apply_retention

    db = str(tmp_path / "r.sqlite")
    st = open_store(db)
    seed(st)
    decided = st.alerts(limit=2)
    for a in decided:
        st.decide(a.id, "not_a_threat", reviewer="rita", reason="hyperbole")
    st.set_meta("retention.alerts_decided_days", "10")
    st.set_meta("retention.aggregates_days", "30")
    later = datetime.now(UTC).replace(microsecond=0)
    later = later.replace(year=later.year + 1)
    dry = apply_retention(st, now=later, dry_run=True)
    assert dry["alerts"] == 2 and dry["aggregates"] > 0
    assert len(st.alerts(limit=100)) == 12  # a dry run deletes nothing
    r = CliRunner().invoke(app, ["retention", "--db", db, "--dry-run"])
    assert r.exit_code == 0 and "would delete" in r.output
    res = apply_retention(st, now=later)
    assert res["alerts"] == 2
    left = st.alerts(limit=100)
    assert len(left) == 10 and all(a.status == "new" for a in left)  # undecided alerts are never purged
    assert st.query("SELECT COUNT(*) FROM agg")[0][0] == 0
    assert any(e["action"] == "retention.apply" for e in st.audit_log())


def test_spikes_command_emails_through_the_smtp_notifier(tmp_path: Path) -> None:
    import pytest

    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from servers import free_port

    db = str(tmp_path / "m.sqlite")
    st = open_store(db)
    seed(st)
    st.close()
    got: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            got.append(envelope.content)
            return "250 OK"

    port = free_port()
    ctl = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        r = CliRunner().invoke(app, ["spikes", "--db", db, "--end", "2026-11-22", "--days", "7",
                                     "--notify", f"smtp://127.0.0.1:{port}?to=desk@district.example"])
        assert r.exit_code == 0, r.output
    finally:
        ctl.stop()
    assert len(got) == 1
    assert b"spike: Riverside School District" in got[0] and b"8 alerts in 2026-11-22" in got[0]


def test_bad_values_are_refused_as_typed(tmp_path: Path) -> None:
    # An out-of-range port is a usage error, not a bind() traceback; user text is not rich markup.
    db = str(tmp_path / "tw.sqlite")
    r = CliRunner().invoke(app, ["serve", "--db", db, "--port", "99999"])
    assert r.exit_code == 2 and "--port" in r.output
    r = CliRunner().invoke(app, ["user", "add", "[b]x[/b]", "--role", "viewer", "--db", db, "--password-stdin"],
                           input="long-enough-pass\n")
    assert r.exit_code == 2 and "user name '[b]x[/b]'" in r.output


def test_bad_notify_fails_before_any_spike_output(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["spikes", "--db", str(tmp_path / "tw.sqlite"), "--notify", "bogus"])
    assert r.exit_code == 2 and "--notify bogus" in r.output and "no spikes" not in r.output
