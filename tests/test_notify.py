"""Notifiers: signed webhook and SMTP email through the durable outbox, against local servers."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from helpers import judgement, post
from servers import pg_server, pg_url  # noqa: F401  (pytest fixtures)
from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.notify import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotifyConfigError,
    WebhookNotifier,
    build_notifiers,
    parse_smtp_url,
    sign,
    verify_signature,
)
from threatwatch.pipeline import Pipeline
from threatwatch.store import open_store

FIX = Path(__file__).parent / "fixtures" / "live"
sys.path.insert(0, str(FIX))
from live_servers import HTTPServerThread, free_port  # noqa: E402

SECRET = "test-secret-not-real"


def quiet(_m: str) -> None:
    pass


def no_delay(_attempts: int) -> float:
    return 0.0


def wait(cond, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Receiver:
    """A webhook endpoint that verifies signatures and fails the first `fail` requests."""

    def __init__(self, fail: int = 0) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        self.fail = fail
        self.calls: list[dict] = []
        self.accepted: list[dict] = []

        async def hook(req: Request) -> Response:
            body = await req.body()
            ok = verify_signature(SECRET, body, req.headers.get(TIMESTAMP_HEADER), req.headers.get(SIGNATURE_HEADER))
            self.calls.append({"ok": ok, "delivery": req.headers.get(DELIVERY_HEADER)})
            if not ok:
                return Response("bad signature", status_code=401)
            if self.fail > 0:
                self.fail -= 1
                return Response("try later", status_code=503)
            self.accepted.append(json.loads(body))
            return Response("ok")

        self.http = HTTPServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])).start()
        self.url = f"{self.http.base}/hook"

    def stop(self) -> None:
        self.http.stop()


def store_with_alert(path: Path, i: int = 1):
    st = open_store(str(path))
    p = post(i, f"I will hurt the Riverside School District staff {i}")
    j = judgement("Riverside School District", threat="threat", score=0.9, sentiment="negative")
    res = st.commit_batch([(p, j)], [(p, j)])
    return st, res.new_alert_ids


def test_signature_roundtrip_and_replay_window() -> None:
    body = b'{"a": 1}'
    ts = int(time.time())
    sig = sign(SECRET, body, ts)
    assert sig.startswith("sha256=") and verify_signature(SECRET, body, str(ts), sig)
    assert not verify_signature(SECRET, body + b" ", str(ts), sig)  # tampered body
    assert not verify_signature("other", body, str(ts), sig)  # wrong secret
    assert not verify_signature(SECRET, body, str(ts + 1), sig)  # timestamp is signed too
    assert not verify_signature(SECRET, body, str(ts), sig, now=ts + 3600)  # an old request replayed


def test_failing_webhook_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    rx = Receiver(fail=3)
    try:
        st = open_store(str(tmp_path / "a.sqlite"))
        hook = WebhookNotifier(rx.url, SECRET, st, poll=0.05, delay=no_delay, log=quiet)
        st2, ids = store_with_alert(tmp_path / "a.sqlite")
        hook.notify(st2.get_alert(ids[0]))  # type: ignore[arg-type]
        wait(lambda: len(rx.accepted) == 1, what="delivery")
        hook.close()
        assert len(rx.calls) == 4 and all(c["ok"] for c in rx.calls)
        assert len({c["delivery"] for c in rx.calls}) == 1  # same delivery id on every retry
        a = rx.accepted[0]
        assert a["alert_id"] == ids[0] and a["target"] == "Riverside School District"
        assert a["post"]["text"].startswith("I will hurt") and a["threat"] == "threat"
        row = st.query("SELECT attempts, delivered_at FROM outbox")[0]
        assert row[0] == 4 and row[1] is not None
    finally:
        rx.stop()


def test_pending_delivery_survives_restart_and_backfill_covers_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite"
    rx = Receiver(fail=10**9)  # the receiver is down (503) until we say so
    try:
        st, ids = store_with_alert(db, 1)
        down = WebhookNotifier(rx.url, SECRET, st, poll=0.05, delay=no_delay, log=quiet)
        down.notify(st.get_alert(ids[0]))  # type: ignore[arg-type]
        wait(lambda: down.failures >= 2, what="failed attempts")
        down.close()
        assert down.pending() == 1 and rx.accepted == []
        # an alert stored while no notifier ran (a crash between storing and queueing it)
        p = post(2, "Riverside School District will burn tonight, I promise")
        j = judgement("Riverside School District", threat="threat", score=0.95, sentiment="negative")
        st.commit_batch([(p, j)], [(p, j)])
        st.close()
        rx.fail = 0  # the receiver is back; the watcher restarts
        st = open_store(str(db))
        up = WebhookNotifier(rx.url, SECRET, st, poll=0.05, delay=no_delay, log=quiet)
        wait(lambda: len(rx.accepted) == 2, what="both deliveries")
        up.close()
        assert sorted(a["alert_id"] for a in rx.accepted) == [1, 2] and up.pending() == 0
    finally:
        rx.stop()


def test_pipeline_notifies_new_alerts_once(tmp_path: Path) -> None:
    rx = Receiver()
    try:
        st = open_store(str(tmp_path / "c.sqlite"))
        hook = WebhookNotifier(rx.url, SECRET, st, poll=0.05, delay=no_delay, log=quiet)
        pipe = Pipeline(load_watchlist(FIX / "watchlist.toml"), st, load_judge("lexicon"), notifiers=[hook])
        posts = [post(1, "I am going to shoot up Riverside School District tomorrow"),
                 post(2, "Riverside School District board meets tonight")]
        first = pipe.process_batch(posts)
        again = pipe.process_batch(posts)  # re-ingested: no second alert, no second notification
        wait(lambda: len(rx.accepted) >= first.alerts, what="notification")
        hook.close()
        assert first.alerts == 1 and again.alerts == 0 and len(rx.accepted) == 1
    finally:
        rx.stop()


def test_smtp_email_against_local_server(tmp_path: Path) -> None:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")

    class Handler:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    h = Handler()
    port = free_port()
    ctl = aiosmtpd.Controller(h, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        st, ids = store_with_alert(tmp_path / "d.sqlite")
        mail = parse_smtp_url(f"smtp://127.0.0.1:{port}?to=desk@district.example,ops@district.example"
                              "&from=alerts@district.example", st, poll=0.05, delay=no_delay, log=quiet)
        mail.notify(st.get_alert(ids[0]))  # type: ignore[arg-type]
        wait(lambda: len(h.messages) == 1, what="email")
        mail.close()
        frm, rcpt, content = h.messages[0]
        assert frm == "alerts@district.example" and rcpt == ["desk@district.example", "ops@district.example"]
        text = content.decode()
        assert "Subject: [threatwatch] threat alert for Riverside School District" in text
        assert "I will hurt the Riverside School District staff 1" in text and "not a decision" in text
    finally:
        ctl.stop()


def test_config_errors_name_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = open_store(str(tmp_path / "e.sqlite"))
    monkeypatch.delenv("THREATWATCH_WEBHOOK_SECRET", raising=False)
    with pytest.raises(NotifyConfigError, match="THREATWATCH_WEBHOOK_SECRET"):
        build_notifiers(["webhook:https://hooks.example/x"], st)
    with pytest.raises(NotifyConfigError, match="to="):
        build_notifiers(["smtp://mail.example"], st)
    with pytest.raises(NotifyConfigError, match="unknown notifier"):
        build_notifiers(["pager:123"], st)
    monkeypatch.setenv("THREATWATCH_WEBHOOK_SECRET", SECRET)
    (n,) = build_notifiers(["webhook:https://hooks.example/x"], st, start=False)
    assert n.key == "webhook:https://hooks.example/x"


def test_watch_cli_sends_signed_webhooks_for_live_alerts(tmp_path: Path) -> None:
    """End to end: `threatwatch watch` on a Jetstream stream notifies each new alert once."""
    import os
    import signal
    import subprocess

    from live_servers import JetstreamReplay, jetstream_events

    events = jetstream_events(120, every=0)  # 1 post in 6 is a threat
    js = JetstreamReplay(events).start()
    rx = Receiver(fail=1)
    db = tmp_path / "w.sqlite"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "threatwatch.cli", "watch", "-w", str(FIX / "watchlist.toml"), "--db", str(db),
             "--source", f"jetstream:{js.url}", "--judge", "lexicon", "--notify", f"webhook:{rx.url}"],
            cwd=tmp_path, stderr=subprocess.PIPE, env={**os.environ, "THREATWATCH_WEBHOOK_SECRET": SECRET})
        want = sum(1 for e in events if "shoot up" in e["commit"]["record"]["text"])
        try:
            wait(lambda: len(rx.accepted) >= want, timeout=60, what="webhooks")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert code == 0, err
        st = open_store(str(db))
        stored = {r[0] for r in st.query("SELECT id FROM alerts WHERE status <> 'duplicate'")}
        assert len(stored) == want and {a["alert_id"] for a in rx.accepted} == stored
        assert len(rx.accepted) == want and all(c["ok"] for c in rx.calls)  # one retry, then each once
    finally:
        rx.stop()
        js.stop()


def test_outbox_on_postgresql(pg_url: str) -> None:  # noqa: F811
    """The same outbox (migration, retries, delivery) on the shared PostgreSQL store."""
    rx = Receiver(fail=2)
    try:
        st = open_store(pg_url)
        p = post(1, "I will hurt the Riverside School District staff")
        j = judgement("Riverside School District", threat="threat", score=0.9, sentiment="negative")
        (aid,) = st.commit_batch([(p, j)], [(p, j)]).new_alert_ids
        hook = WebhookNotifier(rx.url, SECRET, st, poll=0.05, delay=no_delay, log=quiet)
        hook.notify(st.get_alert(aid))  # type: ignore[arg-type]
        hook.notify(st.get_alert(aid))  # type: ignore[arg-type]  # queued once only
        wait(lambda: len(rx.accepted) == 1, what="delivery")
        hook.close()
        assert hook.pending() == 0 and len(rx.calls) == 3
        assert st.query("SELECT attempts FROM outbox")[0][0] == 3
        st.close()
    finally:
        rx.stop()


def test_two_processes_sharing_an_outbox_send_each_alert_once(tmp_path: Path) -> None:
    """N bus workers each run the notifier on one shared store: a delivery is leased before it
    is sent, so a sender holding a stale view of the outbox skips what another already took."""
    rx = Receiver()
    try:
        db = tmp_path / "shared.sqlite"
        st, ids = store_with_alert(db, 1)
        a = WebhookNotifier(rx.url, SECRET, st, start=False, delay=no_delay, log=quiet)
        b = WebhookNotifier(rx.url, SECRET, open_store(str(db)), start=False, delay=no_delay, log=quiet)
        a.notify(st.get_alert(ids[0]))  # type: ignore[arg-type]
        stale = b._due()  # b saw the delivery as due ...
        assert len(stale) == 1
        assert a.drain_once() == 1  # ... but a leased and sent it first
        oid, _aid, _payload, _attempts, next_at = stale[0]
        assert b._claim(oid, next_at) is False
        assert b.drain_once() == 0
        assert len(rx.accepted) == 1
    finally:
        rx.stop()
