"""Alert notifiers: a signed JSON webhook and SMTP email, delivered through a durable outbox.

`notify(alert)` only writes the delivery to the store's `outbox` table (it never blocks the
pipeline and never raises); a background thread per notifier sends due deliveries and, on
failure, schedules a retry with exponential backoff (capped at an hour) — forever, so a
delivery is never dropped. Because the outbox is in the store, pending deliveries survive a
crash or restart, and on start each notifier also enqueues any alert stored after its last
start that a crash kept from being enqueued (ids above a high-water mark in `meta`).

Webhook requests carry:
  X-Threatwatch-Timestamp: <unix seconds>
  X-Threatwatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
  X-Threatwatch-Delivery:  <outbox id>   (the same on every retry: receivers de-duplicate on it)
Receivers check the signature with `verify_signature` (or the same three lines in any
language) and reject timestamps older than a few minutes, so a captured request cannot be
replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import smtplib
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .config import parse_flag
from .store.sql import AlertRow, SQLStore

SIGNATURE_HEADER = "X-Threatwatch-Signature"
TIMESTAMP_HEADER = "X-Threatwatch-Timestamp"
DELIVERY_HEADER = "X-Threatwatch-Delivery"
CLAIM_LEASE = 120  # seconds a sender holds a delivery it is sending


class NotifyConfigError(ValueError):
    """A `--notify` value that cannot work; the message names the value and the fix."""


def sign(secret: str | bytes, body: bytes, timestamp: int | str) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(secret: str | bytes, body: bytes, timestamp: str | None, signature: str | None, *,
                     tolerance: float = 300.0, now: float | None = None) -> bool:
    """Receiver side: True when the signature matches and the timestamp is fresh."""
    if not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, ts), signature)


def alert_payload(alert: AlertRow) -> dict[str, Any]:
    """What a notification says: the public post as published, the model's output, the link."""
    return {
        "event": "alert",
        "alert_id": alert.id,
        "target": alert.target,
        "threat": alert.threat,
        "threat_score": round(float(alert.threat_score), 4),
        "subtype": alert.subtype,
        "explanation": alert.explanation,
        "post": {"id": alert.post_id, "platform": alert.platform, "url": alert.url, "author": alert.author,
                 "text": alert.text, "created_at": alert.created_at, "lang": alert.lang},
        "raised_at": alert.raised_at,
        "status": alert.status,
        "note": "A model's ranking, not a decision: a reviewer must judge this post.",
    }


def retry_delay(attempts: int, *, base: float = 5.0, cap: float = 3600.0) -> float:
    """Seconds before retry number `attempts` (1-based): 5, 10, 20 ... capped at 1 h, jittered."""
    d = min(cap, base * 2 ** max(0, attempts - 1))
    return d * (0.75 + 0.5 * random.random())


class OutboxNotifier:
    """Base notifier: queue in the outbox, deliver from a background thread, retry on failure."""

    name = "outbox"

    def __init__(self, store: SQLStore, *, key: str, start: bool = True, poll: float = 5.0,
                 log: Callable[[str], None] | None = None,
                 delay: Callable[[int], float] = retry_delay) -> None:
        self.store = store
        self.key = key  # identifies this notifier in the outbox (kind + destination)
        self.poll = poll
        self.delay = delay
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self.delivered = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # -- the Notifier protocol ------------------------------------------------------------------
    def notify(self, alert: AlertRow) -> None:
        """Queue the delivery durably and wake the sender; never raises."""
        try:
            self._enqueue(alert.id, json.dumps(alert_payload(alert), ensure_ascii=False))
            self._wake.set()
        except Exception as e:  # the alert itself is stored; backfill re-queues it at next start
            self.log(f"notify {self.key}: could not queue alert {alert.id}: {type(e).__name__}: {e}")

    # -- outbox ---------------------------------------------------------------------------------
    def _enqueue(self, alert_id: int, payload: str) -> None:
        st = self.store
        with st.lock:
            st.execute("INSERT INTO outbox (notifier, alert_id, payload, attempts, next_at, created_at) "
                       "VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (notifier, alert_id) DO NOTHING",
                       (self.key, alert_id, payload, int(time.time()), datetime.now(UTC).isoformat(timespec="seconds")))
            st.commit()

    def backfill(self) -> int:
        """Queue alerts stored since this notifier last started (a crash may have kept them
        from being queued). A notifier new to this store starts from the newest alert."""
        st = self.store
        mark = f"notify_hwm:{self.key}"
        top = st.query("SELECT COALESCE(MAX(id), 0) FROM alerts")[0][0]
        hwm = st.get_meta(mark)
        n = 0
        if hwm is not None:
            rows = st.query("SELECT id FROM alerts WHERE id > ? AND status <> 'duplicate' AND id NOT IN "
                            "(SELECT alert_id FROM outbox WHERE notifier = ?) ORDER BY id", (int(hwm), self.key))
            for (aid,) in rows:
                alert = st.get_alert(int(aid))
                if alert is not None:
                    self._enqueue(alert.id, json.dumps(alert_payload(alert), ensure_ascii=False))
                    n += 1
        st.set_meta(mark, str(top))
        return n

    def pending(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM outbox WHERE notifier = ? AND delivered_at IS NULL",
                                    (self.key,))[0][0])

    def _due(self, limit: int = 50) -> list[tuple[int, int, str, int, int]]:
        return [(int(a), int(b), str(c), int(d), int(e)) for a, b, c, d, e in self.store.query(
            "SELECT id, alert_id, payload, attempts, next_at FROM outbox WHERE notifier = ? AND delivered_at IS NULL "
            "AND next_at <= ? ORDER BY next_at, id LIMIT ?", (self.key, int(time.time()), limit))]

    def _claim(self, oid: int, next_at: int) -> bool:
        """Lease a due delivery before sending it, so that several processes sharing one store
        (N bus workers, each with this notifier) send it once: only the process whose update
        still sees the old `next_at` wins. A sender that dies mid-delivery loses the lease after
        CLAIM_LEASE seconds and another one retries (receivers de-duplicate on the delivery id)."""
        st = self.store
        with st.lock:
            cur = st.execute("UPDATE outbox SET next_at = ? WHERE id = ? AND next_at = ? AND delivered_at IS NULL",
                             (int(time.time() + CLAIM_LEASE), oid, next_at))
            won = cur.rowcount == 1
            st.commit()
        return won

    def _next_due(self) -> float | None:
        row = self.store.query("SELECT MIN(next_at) FROM outbox WHERE notifier = ? AND delivered_at IS NULL",
                               (self.key,))
        return float(row[0][0]) if row and row[0][0] is not None else None

    def _mark(self, oid: int, ok: bool, attempts: int, error: str = "") -> None:
        st = self.store
        with st.lock:
            if ok:
                st.execute("UPDATE outbox SET delivered_at = ?, attempts = ?, last_error = NULL WHERE id = ?",
                           (datetime.now(UTC).isoformat(timespec="seconds"), attempts, oid))
            else:
                st.execute("UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
                           (attempts, int(time.time() + self.delay(attempts)), error[:500], oid))
            st.commit()

    def drain_once(self) -> int:
        """Try every due delivery once; returns how many succeeded."""
        ok = 0
        for oid, _aid, payload, attempts, next_at in self._due():
            if not self._claim(oid, next_at):
                continue  # another process is sending it
            try:
                self.deliver(oid, payload)
            except Exception as e:
                self.failures += 1
                msg = f"{type(e).__name__}: {e}"
                self._mark(oid, False, attempts + 1, msg)
                self.log(f"notify {self.key}: delivery {oid} failed (attempt {attempts + 1}): {msg}; will retry")
            else:
                self.delivered += 1
                ok += 1
                self._mark(oid, True, attempts + 1)
        return ok

    def deliver(self, delivery_id: int, payload: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- sender thread --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        try:
            self.backfill()
        except Exception as e:
            self.log(f"notify {self.key}: backfill failed: {type(e).__name__}: {e}")
        self._thread = threading.Thread(target=self._run, name=f"notify:{self.key}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once()
                nxt = self._next_due()
            except Exception as e:  # e.g. the store is busy: try again shortly
                self.log(f"notify {self.key}: outbox error: {type(e).__name__}: {e}")
                nxt = None
            wait = self.poll if nxt is None else max(0.05, min(self.poll, nxt - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the sender (undelivered items stay in the outbox for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class WebhookNotifier(OutboxNotifier):
    """POST the alert as JSON, signed with HMAC-SHA256 over "<timestamp>.<body>"."""

    name = "webhook"

    def __init__(self, url: str, secret: str, store: SQLStore, *, timeout: float = 10.0, **kw: Any) -> None:
        if not url.startswith(("http://", "https://")):
            raise NotifyConfigError(f"--notify webhook:{url}: the URL must start with http:// or https://")
        if not secret:
            raise NotifyConfigError("webhook notifier: a signing secret is required")
        import httpx

        self.url = url
        self.secret = secret
        self.client = httpx.Client(timeout=timeout, headers={"User-Agent": "threatwatch-webhook/1"})
        super().__init__(store, key=f"webhook:{url}", **kw)

    def deliver(self, delivery_id: int, payload: str) -> None:
        body = payload.encode("utf-8")
        ts = int(time.time())
        r = self.client.post(self.url, content=body, headers={
            "Content-Type": "application/json", TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(self.secret, body, ts), DELIVERY_HEADER: str(delivery_id)})
        if not 200 <= r.status_code < 300:
            raise RuntimeError(f"HTTP {r.status_code} from {self.url}: {r.text[:120]}")

    def close(self, timeout: float = 10.0) -> None:
        super().close(timeout)
        self.client.close()


class SMTPTLSError(RuntimeError):
    """TLS to the mail relay could not be set up (untrusted certificate, no STARTTLS, ...).
    Raised instead of ever falling back to plaintext; the delivery stays in the outbox."""


_SMTP_OPTIONS = ("to", "from", "starttls", "cafile")


class SMTPNotifier(OutboxNotifier):
    """Email each alert (plain text) over SMTP; STARTTLS or implicit TLS (smtps://).

    With `starttls` or `tls` the connection is encrypted and the server's certificate checked
    (system CAs, or only those in `cafile` for a relay with a private CA) before any
    credentials or alert text are sent; a server that cannot do TLS gets nothing but EHLO."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, to: Sequence[str], store: SQLStore, *,
                 user: str | None = None, password: str | None = None, starttls: bool = False,
                 tls: bool = False, cafile: str | None = None, timeout: float = 20.0, **kw: Any) -> None:
        if not to:
            raise NotifyConfigError("email notifier: give at least one recipient (?to=addr)")
        self.host, self.port, self.sender, self.to = host, port, sender, list(to)
        self.user, self.password, self.starttls, self.tls, self.timeout = user, password, starttls, tls, timeout
        self.cafile = cafile
        if cafile is not None:
            if not (tls or starttls):
                raise NotifyConfigError(f"email notifier {host}:{port}: cafile={cafile} needs TLS; "
                                        "add &starttls=1 or use smtps://")
            self.ssl_context()  # fail now, naming the file, rather than on every delivery
        super().__init__(store, key=f"smtp:{host}:{port}:{','.join(self.to)}", **kw)
        if user and not (tls or starttls):
            self.log(f"notify {self.key}: WARNING: the SMTP password for {user} will be sent in clear "
                     "text; add &starttls=1 or use smtps://")

    def ssl_context(self) -> ssl.SSLContext:
        """Certificate- and hostname-checking context: the system CAs, or only `cafile`'s."""
        try:
            return ssl.create_default_context(cafile=self.cafile)
        except (OSError, ssl.SSLError, ValueError) as e:
            raise NotifyConfigError(f"email notifier {self.host}:{self.port}: cafile={self.cafile}: cannot load "
                                    f"CA certificates ({type(e).__name__}: {e}); give a PEM file") from e

    def message(self, delivery_id: int, payload: str) -> EmailMessage:
        a = json.loads(payload)
        post = a.get("post", {})
        m = EmailMessage()
        m["From"] = self.sender
        m["To"] = ", ".join(self.to)
        m["Subject"] = (f"[threatwatch] {a.get('threat')} alert for {a.get('target')} "
                        f"(score {a.get('threat_score')})")
        m["Date"] = formatdate(localtime=False)
        m["Message-ID"] = make_msgid(idstring=f"alert{a.get('alert_id')}.d{delivery_id}", domain="threatwatch.local")
        m.set_content(
            f"A post about {a.get('target')} was ranked as a possible {a.get('threat')}"
            f"{' (' + a['subtype'] + ')' if a.get('subtype') else ''} with score {a.get('threat_score')}.\n"
            f"This is a model's ranking, not a decision: please review it in the desk.\n\n"
            f"Post ({post.get('platform')}, {post.get('created_at')}, {post.get('author') or 'unknown handle'}):\n"
            f"{post.get('text')}\n\n"
            f"Link: {post.get('url') or '-'}\nWhy: {a.get('explanation') or '-'}\n"
            f"Alert id: {a.get('alert_id')}\n")
        return m

    def deliver(self, delivery_id: int, payload: str) -> None:
        self.send(self.message(delivery_id, payload))

    def send(self, msg: EmailMessage) -> None:
        """Connect, secure the session as configured, log in, send. Any failure is raised
        with the server's host:port in the message (the outbox stores it and retries)."""
        where = f"{'smtps' if self.tls else 'smtp'}://{self.host}:{self.port}"
        try:
            self._send(msg, where)
        except (SMTPTLSError, NotifyConfigError):
            raise
        except ssl.SSLCertVerificationError as e:
            raise SMTPTLSError(f"{where}: the server's TLS certificate is not trusted ({e.verify_message}); "
                               "if the relay uses a private CA, add &cafile=/path/to/ca.pem") from e
        except ssl.SSLError as e:
            raise SMTPTLSError(f"{where}: TLS failed: {e}") from e
        except smtplib.SMTPAuthenticationError as e:
            raise RuntimeError(f"{where}: login as {self.user} refused: {e.smtp_code} "
                               f"{e.smtp_error.decode(errors='replace')}") from e
        except (OSError, smtplib.SMTPException) as e:
            raise RuntimeError(f"{where}: {type(e).__name__}: {e}") from e

    def _send(self, msg: EmailMessage, where: str) -> None:
        ctx = self.ssl_context() if (self.tls or self.starttls) else None
        s: smtplib.SMTP
        if self.tls:
            s = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ctx)
        else:
            s = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with s:
            if self.starttls and not self.tls:
                s.ehlo()
                if not s.has_extn("starttls"):
                    raise SMTPTLSError(f"{where} does not offer STARTTLS; refusing to continue in plaintext "
                                       "(the password and the alert would travel in clear); enable STARTTLS on the "
                                       "relay or use its implicit-TLS port with smtps://")
                try:
                    s.starttls(context=ctx)
                except smtplib.SMTPResponseException as e:
                    raise SMTPTLSError(f"{where} refused STARTTLS ({e.smtp_code} "
                                       f"{e.smtp_error.decode(errors='replace')}); not sending in plaintext") from e
            if (self.tls or self.starttls) and not isinstance(s.sock, ssl.SSLSocket):
                raise SMTPTLSError(f"{where}: the session is not encrypted; not sending credentials")  # never
            if self.user:
                s.login(self.user, self.password or "")
            s.send_message(msg)


def parse_smtp_url(url: str, store: SQLStore, *, password: str | None = None, **kw: Any) -> SMTPNotifier:
    """smtp://[user@]host[:port]?to=a@x,b@y[&from=addr][&starttls=1][&cafile=/path/ca.pem];
    smtps:// = implicit TLS. Unknown options are refused: a typo such as `startls=1` must not
    quietly send the password in clear."""
    u = urlsplit(url)
    if u.scheme not in ("smtp", "smtps") or not u.hostname:
        raise NotifyConfigError(f"--notify {url}: expected smtp://[user@]host[:port]?to=ADDR (or smtps://)")
    q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
    unknown = sorted(set(q) - set(_SMTP_OPTIONS))
    if unknown:
        raise NotifyConfigError(f"--notify {url}: unknown option(s) {', '.join(unknown)}; "
                                f"known: {', '.join(_SMTP_OPTIONS)}")
    to = [a.strip() for a in q.get("to", "").split(",") if a.strip()]
    if not to:
        raise NotifyConfigError(f"--notify {url}: add the recipients, e.g. ?to=desk@example.org")
    starttls = parse_flag(q["starttls"]) if q.get("starttls") else False  # "starttls=" is off
    if starttls is None:
        raise NotifyConfigError(f"--notify {url}: starttls={q['starttls']}: use starttls=1 (or 0)")
    tls = u.scheme == "smtps"
    if tls and starttls:
        raise NotifyConfigError(f"--notify {url}: smtps:// is already TLS from the first byte; drop starttls=1")
    try:
        port = u.port or (465 if tls else (587 if starttls else 25))
    except ValueError as e:
        raise NotifyConfigError(f"--notify {url}: bad port ({e})") from e
    sender = q.get("from") or f"threatwatch@{u.hostname}"
    return SMTPNotifier(u.hostname, port, sender, to, store, user=unquote(u.username) if u.username else None,
                        password=password if password is not None else (unquote(u.password) if u.password else None),
                        starttls=starttls, tls=tls, cafile=q.get("cafile") or None, **kw)


def build_notifiers(specs: Sequence[str], store: SQLStore, *, secret_env: str = "THREATWATCH_WEBHOOK_SECRET",
                    password_env: str = "THREATWATCH_SMTP_PASSWORD", **kw: Any) -> list[OutboxNotifier]:
    """`--notify` values → started notifiers. Raises NotifyConfigError naming the bad value."""
    import os

    out: list[OutboxNotifier] = []
    for spec in specs:
        if spec.startswith("webhook:"):
            secret = os.environ.get(secret_env, "")
            if not secret:
                raise NotifyConfigError(f"--notify {spec}: set the signing secret in ${secret_env} "
                                        "(receivers verify X-Threatwatch-Signature with it)")
            out.append(WebhookNotifier(spec.removeprefix("webhook:"), secret, store, **kw))
        elif spec.startswith(("smtp://", "smtps://")):
            out.append(parse_smtp_url(spec, store, password=os.environ.get(password_env), **kw))
        else:
            raise NotifyConfigError(f"--notify {spec}: unknown notifier; use webhook:URL or smtp://host?to=ADDR")
    return out
