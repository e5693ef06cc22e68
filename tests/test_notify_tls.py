"""SMTP notifier over TLS (STARTTLS and smtps://) against real local aiosmtpd servers.

What a user relies on: alerts reach a relay that needs TLS and a login; a relay with a
private CA can be trusted with `&cafile=`; and when TLS cannot be set up (untrusted or
mismatched certificate, no STARTTLS, STARTTLS refused) the delivery fails with an error
naming the server, stays in the outbox for retry, and the password is never sent in clear.
Certificates are generated per test (throwaway CA in tmp_path); nothing is committed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import judgement, post
from threatwatch.notify import NotifyConfigError, SMTPNotifier, parse_smtp_url
from threatwatch.store import open_store

controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

USER, PASSWORD = "alerts", "pw-not-real-7f3a"
TO = "desk@district.example"
WAIT = 20.0  # bounded waits on events set by the server or the notifier


def no_delay(_attempts: int) -> float:
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- certificates ---------------------------------------------------------------------------------
@dataclass
class PKI:
    ca: Path  # the CA certificate a client would be given with &cafile=
    cert: Path  # server certificate chain (leaf)
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_pki(d: Path, name: str, *, sans: list[x509.GeneralName] | None = None) -> PKI:
    """A throwaway CA and a server certificate it signed (127.0.0.1 and localhost by default)."""
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = sans if sans is not None else [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} relay")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pki = PKI(d / "ca.pem", d / "server.pem", d / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return pki


# -- a real SMTP relay ----------------------------------------------------------------------------
@dataclass
class Relay:
    """What the local server saw: logins (with whether TLS was up) and delivered messages."""

    logins: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    got_mail: threading.Event = field(default_factory=threading.Event)
    fake_starttls: bool = False  # advertise STARTTLS without being able to do it (answers 454)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 - aiosmtpd hook
        session.host_name = hostname
        if self.fake_starttls and "250-STARTTLS" not in responses:
            responses.insert(1, "250-STARTTLS")
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "content": envelope.content.decode("utf-8", "replace"),
                              "tls": session.ssl is not None, "authenticated": bool(session.authenticated)})
        self.got_mail.set()
        return "250 OK"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else str(auth_data.login)
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else str(auth_data.password)
        self.logins.append({"mechanism": mechanism, "login": login, "password": password,
                            "tls": session.ssl is not None})
        return aiosmtpd_smtp.AuthResult(success=(login, password) == (USER, PASSWORD))


def start_relay(relay: Relay, **kw: Any) -> tuple[Any, int]:
    port = free_port()
    ctl = controller.Controller(relay, hostname="127.0.0.1", port=port, authenticator=relay.authenticator, **kw)
    ctl.start()
    return ctl, port


class Log:
    """Captures the notifier's log; `failed` is set once a delivery attempt has failed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failed = threading.Event()

    def __call__(self, m: str) -> None:
        self.lines.append(m)
        if "failed" in m:
            self.failed.set()


def store_with_alert(path: Path):
    st = open_store(str(path))
    p = post(1, "I will hurt the Riverside School District staff tomorrow")
    j = judgement("Riverside School District", threat="threat", score=0.93, sentiment="negative")
    (aid,) = st.commit_batch([(p, j)], [(p, j)]).new_alert_ids
    return st, st.get_alert(aid)


def assert_alert_email(m: dict[str, Any]) -> None:
    assert m["to"] == [TO] and m["from"] == "alerts@district.example"
    assert "Subject: [threatwatch] threat alert for Riverside School District" in m["content"]
    assert "I will hurt the Riverside School District staff tomorrow" in m["content"]
    assert "not a decision" in m["content"]


def last_error(st) -> str:
    return str(st.query("SELECT last_error FROM outbox")[0][0])


# -- delivering over TLS --------------------------------------------------------------------------
def test_starttls_upgrades_then_logs_in_and_delivers(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", "district")
    relay = Relay()
    # a submission-style relay: STARTTLS offered and required; AUTH only offered/accepted under TLS
    ctl, port = start_relay(relay, tls_context=pki.server_context(), require_starttls=True, auth_require_tls=True)
    try:
        st, alert = store_with_alert(tmp_path / "a.sqlite")
        mail = parse_smtp_url(f"smtp://{USER}@127.0.0.1:{port}?to={TO}&from=alerts@district.example"
                              f"&starttls=1&cafile={pki.ca}", st, password=PASSWORD,
                              poll=0.05, delay=no_delay, log=Log())
        mail.notify(alert)
        assert relay.got_mail.wait(WAIT), "no email arrived"
        mail.close()
        assert [(x["login"], x["password"], x["tls"]) for x in relay.logins] == [(USER, PASSWORD, True)]
        assert relay.logins[0]["mechanism"] in ("PLAIN", "LOGIN")
        (m,) = relay.messages
        assert m["tls"] and m["authenticated"]
        assert_alert_email(m)
        assert mail.pending() == 0 and mail.failures == 0
    finally:
        ctl.stop()


def test_smtps_implicit_tls_delivers(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", "district")
    relay = Relay()
    # the whole session is TLS from the first byte, so the relay may accept AUTH right away
    ctl, port = start_relay(relay, ssl_context=pki.server_context(), auth_require_tls=False)
    try:
        st, alert = store_with_alert(tmp_path / "b.sqlite")
        mail = parse_smtp_url(f"smtps://{USER}@127.0.0.1:{port}?to={TO}&from=alerts@district.example"
                              f"&cafile={pki.ca}", st, password=PASSWORD, poll=0.05, delay=no_delay, log=Log())
        assert mail.tls and not mail.starttls
        mail.notify(alert)
        assert relay.got_mail.wait(WAIT), "no email arrived"
        mail.close()
        assert [(x["login"], x["password"]) for x in relay.logins] == [(USER, PASSWORD)]
        (m,) = relay.messages
        assert m["authenticated"]
        assert_alert_email(m)
        assert mail.pending() == 0
    finally:
        ctl.stop()


# -- refusing to go on without trustworthy TLS ----------------------------------------------------
@pytest.mark.parametrize("mode", ["starttls", "smtps"])
@pytest.mark.parametrize("problem", ["unknown CA", "wrong CA given", "hostname mismatch"])
def test_untrusted_certificate_fails_clearly_and_keeps_the_delivery(tmp_path: Path, mode: str, problem: str) -> None:
    if problem == "hostname mismatch":  # signed by the CA we trust, but for another host
        pki = make_pki(tmp_path / "pki", "district", sans=[x509.DNSName("mail.district.example")])
    else:
        pki = make_pki(tmp_path / "pki", "district")
    cafile = {"unknown CA": None, "wrong CA given": make_pki(tmp_path / "other", "other").ca,
              "hostname mismatch": pki.ca}[problem]
    relay = Relay()
    kw: dict[str, Any] = ({"tls_context": pki.server_context(), "auth_require_tls": False} if mode == "starttls"
                          else {"ssl_context": pki.server_context(), "auth_require_tls": False})
    ctl, port = start_relay(relay, **kw)
    try:
        db = tmp_path / "c.sqlite"
        st, alert = store_with_alert(db)
        scheme, flag = ("smtp", "&starttls=1") if mode == "starttls" else ("smtps", "")
        base = f"{scheme}://{USER}@127.0.0.1:{port}?to={TO}&from=alerts@district.example{flag}"
        log = Log()
        bad = parse_smtp_url(base + (f"&cafile={cafile}" if cafile else ""), st, password=PASSWORD,
                             poll=0.05, delay=no_delay, log=log)
        bad.notify(alert)
        assert log.failed.wait(WAIT), "the delivery did not fail"
        bad.close()
        err = last_error(st)
        assert f"127.0.0.1:{port}" in err and "not trusted" in err and "cafile" in err, err
        assert any(f"127.0.0.1:{port}" in line and "will retry" in line for line in log.lines)
        assert relay.logins == [] and relay.messages == []  # neither the password nor the alert went out
        assert bad.pending() == 1  # kept for retry

        if problem == "hostname mismatch":
            return  # no client setting makes a certificate for another host valid, by design
        # the operator fixes the trust anchor and restarts: the queued alert is delivered, once
        good = parse_smtp_url(f"{base}&cafile={pki.ca}", st, password=PASSWORD, poll=0.05, delay=no_delay, log=Log())
        assert good.key == bad.key
        assert relay.got_mail.wait(WAIT), "the retried email did not arrive"
        good.close()
        assert len(relay.messages) == 1 and good.pending() == 0
        assert_alert_email(relay.messages[0])
        assert st.query("SELECT attempts FROM outbox")[0][0] >= 2
    finally:
        ctl.stop()


@pytest.mark.parametrize("server", ["no STARTTLS", "STARTTLS advertised but refused"])
def test_starttls_required_but_unavailable_never_downgrades(tmp_path: Path, server: str) -> None:
    relay = Relay(fake_starttls=server != "no STARTTLS")
    # a plaintext relay that would happily take AUTH in clear: the notifier must not offer it
    ctl, port = start_relay(relay, auth_require_tls=False)
    try:
        st, alert = store_with_alert(tmp_path / "d.sqlite")
        log = Log()
        mail = parse_smtp_url(f"smtp://{USER}@127.0.0.1:{port}?to={TO}&starttls=1", st, password=PASSWORD,
                              poll=0.05, delay=no_delay, log=log)
        mail.notify(alert)
        assert log.failed.wait(WAIT), "the delivery did not fail"
        mail.close()
        err = last_error(st)
        assert err.startswith("SMTPTLSError") and f"127.0.0.1:{port}" in err, err
        assert ("does not offer STARTTLS" in err) if server == "no STARTTLS" else ("refused STARTTLS" in err), err
        assert "plaintext" in err
        assert relay.logins == [] and relay.messages == []
        assert mail.pending() == 1
    finally:
        ctl.stop()


# -- configuration --------------------------------------------------------------------------------
def test_tls_options_are_checked_when_the_notifier_is_built(tmp_path: Path) -> None:
    st = open_store(str(tmp_path / "e.sqlite"))
    missing = tmp_path / "nope" / "ca.pem"
    with pytest.raises(NotifyConfigError, match=f"cafile={missing}"):
        parse_smtp_url(f"smtps://mail.example?to={TO}&cafile={missing}", st, start=False)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(NotifyConfigError, match="junk.pem"):
        parse_smtp_url(f"smtp://mail.example?to={TO}&starttls=1&cafile={junk}", st, start=False)
    with pytest.raises(NotifyConfigError, match="needs TLS"):
        parse_smtp_url(f"smtp://mail.example?to={TO}&cafile={junk}", st, start=False)
    with pytest.raises(NotifyConfigError, match="startls"):  # a typo must not mean "plaintext"
        parse_smtp_url(f"smtp://mail.example?to={TO}&startls=1", st, start=False)
    with pytest.raises(NotifyConfigError, match="starttls=maybe"):
        parse_smtp_url(f"smtp://mail.example?to={TO}&starttls=maybe", st, start=False)
    with pytest.raises(NotifyConfigError, match="drop starttls"):
        parse_smtp_url(f"smtps://mail.example?to={TO}&starttls=1", st, start=False)
    pki = make_pki(tmp_path / "pki", "district")
    n = parse_smtp_url(f"smtp://mail.example?to={TO}&starttls=true&cafile={pki.ca}", st, start=False)
    assert (n.port, n.starttls, n.tls, n.cafile) == (587, True, False, str(pki.ca))
    n = parse_smtp_url(f"smtps://mail.example?to={TO}", st, start=False)
    assert (n.port, n.tls, n.cafile) == (465, True, None)


def test_password_over_plain_smtp_is_warned_about(tmp_path: Path) -> None:
    st = open_store(str(tmp_path / "f.sqlite"))
    log = Log()
    SMTPNotifier("mail.example", 25, "a@example.org", [TO], st, user=USER, password=PASSWORD, start=False, log=log)
    assert any("WARNING" in line and "clear" in line for line in log.lines)
    quiet = Log()
    SMTPNotifier("mail.example", 587, "a@example.org", [TO], st, user=USER, password=PASSWORD, starttls=True,
                 start=False, log=quiet)
    assert quiet.lines == []
