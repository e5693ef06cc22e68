"""DID → signing key resolution against a local PLC directory, and the helpers that build
signed repo commits (used by the firehose tests and bench/firehose_verify.py too)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import libipld
import pytest
from atproto_crypto.consts import P256_JWT_ALG, SECP256K1_JWT_ALG
from atproto_crypto.did import format_did_key
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from threatwatch.sources.identity import (
    DidError,
    DidKeyResolver,
    SigningKey,
    TTLCache,
    did_web_url,
    key_from_did_doc,
)

FIX = Path(__file__).parent / "fixtures" / "live"
sys.path.insert(0, str(FIX))
from live_servers import _varint, firehose_frame, jetstream_post_event  # noqa: E402


# -- keys and signed commits (what a PDS does) -----------------------------------------------------
class Key:
    """A test signing key: secp256k1 ("k256") or P-256 ("p256")."""

    def __init__(self, kind: str = "k256") -> None:
        self.kind = kind
        curve = ec.SECP256K1() if kind == "k256" else ec.SECP256R1()
        self.alg = SECP256K1_JWT_ALG if kind == "k256" else P256_JWT_ALG
        self.priv = ec.generate_private_key(curve)
        pub = self.priv.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
        self.did_key = format_did_key(self.alg, pub)
        self.multibase = self.did_key[len("did:key:"):]
        self.order = SigningKey.parse(self.did_key).order

    def sign(self, data: bytes, *, high_s: bool = False) -> bytes:
        """64-byte compact r||s, low-S as atproto requires (high_s=True gives the malleable twin)."""
        r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(SHA256())))
        if s > self.order // 2:
            s = self.order - s
        if high_s:
            s = self.order - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def did_doc(did: str, key: Key | str) -> dict:
    mb = key.multibase if isinstance(key, Key) else key
    return {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did, "alsoKnownAs": ["at://someone.example"],
            "verificationMethod": [{"id": f"{did}#atproto", "type": "Multikey", "controller": did,
                                    "publicKeyMultibase": mb}],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                         "serviceEndpoint": "https://pds.example"}]}


def cid(data: bytes) -> bytes:
    return bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()


def car(blocks: list[tuple[bytes, bytes]]) -> bytes:
    """A CAR v1 of (cid, bytes) pairs as given — the bytes need not match (tampering)."""
    header = libipld.encode_dag_cbor({"version": 1, "roots": [blocks[0][0]]})
    return _varint(len(header)) + header + b"".join(_varint(len(c) + len(b)) + c + b for c, b in blocks)


def mst_node(entries: dict[bytes, bytes]) -> bytes:
    """A one-node MST holding `entries` (key → value CID), prefix-compressed and sorted."""
    out, prev = [], b""
    for k in sorted(entries):
        p = 0
        while p < min(len(k), len(prev)) and k[p] == prev[p]:
            p += 1
        out.append({"p": p, "k": k[p:], "v": entries[k], "t": None})
        prev = k
    return libipld.encode_dag_cbor({"l": None, "e": out})


def signed_commit(seq: int, i: int, key: Key, *, did: str | None = None, text: str | None = None,
                  tamper: bool = False, unproven: bool = False, commit_did: str | None = None,
                  extra_like: bool = False, high_s: bool = False) -> bytes:
    """A #commit frame creating the post of jetstream_post_event(i), signed by `key`.
    tamper: the record block's bytes differ from its CID; unproven: the MST holds another
    CID for the post's path; commit_did: the commit claims another DID than the frame."""
    ev = jetstream_post_event(i, text, did=did)
    repo, c = ev["did"], ev["commit"]
    record = libipld.encode_dag_cbor(c["record"])
    rcid = cid(record)
    path = f"app.bsky.feed.post/{c['rkey']}"
    tree = {b"app.bsky.actor.profile/self": cid(b"profile"), path.encode(): cid(b"other") if unproven else rcid}
    blocks = [(rcid, libipld.encode_dag_cbor({**c["record"], "text": "tampered"}) if tamper else record)]
    ops = [{"action": "create", "path": path, "cid": rcid}]
    if extra_like:
        like = libipld.encode_dag_cbor({"$type": "app.bsky.feed.like", "createdAt": "2025-11-18T10:00:00Z",
                                        "subject": {"uri": "at://x/app.bsky.feed.post/1", "cid": "bafy"}})
        tree[b"app.bsky.feed.like/3kabc"] = cid(like)
        blocks.append((cid(like), like))
        ops.append({"action": "create", "path": "app.bsky.feed.like/3kabc", "cid": cid(like)})
    mst = mst_node(tree)
    unsigned = {"did": commit_did or repo, "version": 3, "rev": c["rev"], "data": cid(mst), "prev": None}
    commit = libipld.encode_dag_cbor({**unsigned, "sig": key.sign(libipld.encode_dag_cbor(unsigned), high_s=high_s)})
    body = {"seq": seq, "rebase": False, "tooBig": False, "repo": repo, "commit": cid(commit), "rev": c["rev"],
            "since": None, "blocks": car([(cid(commit), commit), (cid(mst), mst), *blocks]), "ops": ops,
            "blobs": [], "time": "2025-11-18T10:00:00Z"}
    return firehose_frame({"op": 1, "t": "#commit"}, body)


def identity_frame(seq: int, did: str) -> bytes:
    return firehose_frame({"op": 1, "t": "#identity"}, {"seq": seq, "did": did, "time": "2025-11-18T10:00:00Z"})


# -- a local PLC directory (and did:web host) ----------------------------------------------------------
class PlcDirectory:
    """`GET /<did>` → the DID document, 404 for unknown DIDs; DIDs in `hang` never get an
    answer (until stop); `GET /.well-known/did.json` → `web_doc`. Counts requests per path."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}
        self.hang: set[str] = set()
        self.web_doc: dict | None = None
        self.requests: dict[str, int] = {}
        self._release = threading.Event()
        directory = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.lstrip("/")
                directory.requests[path] = directory.requests.get(path, 0) + 1
                if path in directory.hang:
                    directory._release.wait(30)
                    return
                doc = directory.web_doc if path == ".well-known/did.json" else directory.docs.get(path)
                body = json.dumps(doc).encode() if doc is not None else b'{"message":"DID not registered"}'
                self.send_response(200 if doc is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> PlcDirectory:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def set(self, did: str, key: Key) -> None:
        self.docs[did] = did_doc(did, key)


@pytest.fixture
def plc():
    d = PlcDirectory().start()
    yield d
    d.stop()


# -- tests ------------------------------------------------------------------------------------------
def test_keys_from_did_documents() -> None:
    k, p = Key("k256"), Key("p256")
    assert key_from_did_doc("did:plc:a", did_doc("did:plc:a", k)) == k.did_key
    short = did_doc("did:plc:b", p)
    short["verificationMethod"][0]["id"] = "#atproto"
    assert key_from_did_doc("did:plc:b", short) == p.did_key
    assert SigningKey.parse(k.did_key).alg == "ES256K" and SigningKey.parse(p.did_key).alg == "ES256"
    with pytest.raises(DidError, match="not this DID"):
        key_from_did_doc("did:plc:other", did_doc("did:plc:a", k))
    no_key = did_doc("did:plc:a", k)
    no_key["verificationMethod"][0]["id"] = "did:plc:a#something"
    with pytest.raises(DidError, match="no '#atproto'"):
        key_from_did_doc("did:plc:a", no_key)
    with pytest.raises(DidError, match="not a secp256k1/P-256"):
        SigningKey.parse("did:key:zNotAKey")


@pytest.mark.parametrize("kind", ["k256", "p256"])
def test_signatures_verify_and_high_s_is_refused(kind: str) -> None:
    k = Key(kind)
    parsed = SigningKey.parse(k.did_key)
    assert (parsed.fast is not None) == (kind == "k256")  # libsecp256k1 when coincurve is installed
    for sk in (parsed, dataclasses.replace(parsed, fast=None)):  # and the OpenSSL path
        assert sk.verify(b"commit bytes", k.sign(b"commit bytes"))
        assert not sk.verify(b"commit bytez", k.sign(b"commit bytes"))
        assert not sk.verify(b"commit bytes", k.sign(b"commit bytes", high_s=True))  # malleable twin
        assert not sk.verify(b"commit bytes", b"\x00" * 64) and not sk.verify(b"commit bytes", b"short")
    assert not SigningKey.parse(Key(kind).did_key).verify(b"commit bytes", k.sign(b"commit bytes"))


def test_cache_is_bounded_lru_with_ttl() -> None:
    now = [0.0]
    c: TTLCache[str, int] = TTLCache(3, ttl=3600, clock=lambda: now[0])
    for i in range(5):
        c.put(f"did:plc:{i}", i)
    assert len(c) == 3 and "did:plc:0" not in c and c.get("did:plc:4") == (4, 0.0)
    c.get("did:plc:2")  # recently used: survives the next insert
    c.put("did:plc:5", 5)
    assert "did:plc:2" in c and "did:plc:3" not in c
    now[0] = 3601
    assert c.get("did:plc:2") is None and len(c) == 2  # expired entries go on read


def test_resolver_cache_is_bounded(plc: PlcDirectory) -> None:
    keys = {f"did:plc:b{i}": Key() for i in range(6)}
    for did, k in keys.items():
        plc.set(did, k)
    r = DidKeyResolver(plc.url, max_size=4)

    async def go() -> None:
        for did in keys:
            assert (await r.resolve(did)).did_key == keys[did].did_key
        await r.aclose()
    asyncio.run(go())
    assert len(r.keys) == 4 and r.cached("did:plc:b0") is None and r.cached("did:plc:b5") is not None


def test_resolve_cache_refetch_forget_and_failures(plc: PlcDirectory) -> None:
    k1, k2 = Key("k256"), Key("p256")
    plc.set("did:plc:alice", k1)
    plc.hang.add("did:plc:slow")
    r = DidKeyResolver(plc.url, timeout=0.5, min_refetch=0)

    async def go() -> None:
        # concurrent lookups of one DID share one request
        got = await asyncio.gather(*[r.resolve("did:plc:alice") for _ in range(5)])
        assert {g.did_key for g in got} == {k1.did_key} and plc.requests["did:plc:alice"] == 1
        assert r.cached("did:plc:alice") == got[0]
        await r.resolve("did:plc:alice")
        assert plc.requests["did:plc:alice"] == 1  # from the cache
        plc.set("did:plc:alice", k2)  # key rotation
        assert (await r.resolve("did:plc:alice", refresh=True)).did_key == k2.did_key
        assert plc.requests["did:plc:alice"] == 2 and r.refetches == 1
        r.forget("did:plc:alice")  # an #identity event
        assert r.cached("did:plc:alice") is None
        await r.resolve("did:plc:alice")
        assert plc.requests["did:plc:alice"] == 3
        # unknown: a clear error, remembered for a while (no second request)
        for _ in range(2):
            with pytest.raises(DidError, match="not found"):
                await r.resolve("did:plc:nobody")
        assert plc.requests["did:plc:nobody"] == 1
        # a directory that never answers costs one timeout, not a hang
        t0 = time.monotonic()
        with pytest.raises(DidError, match="did not answer within"):
            await r.resolve("did:plc:slow")
        assert time.monotonic() - t0 < 3
        with pytest.raises(DidError, match="unsupported DID method"):
            await r.resolve("did:example:123")
        await r.aclose()
    asyncio.run(go())


def test_refetch_is_rate_limited() -> None:
    now = [100.0]
    r = DidKeyResolver("http://127.0.0.1:9", min_refetch=5, clock=lambda: now[0])
    k = Key()
    r.seed("did:plc:a", k.did_key)

    async def go() -> None:
        # fetched 0 s ago: a refresh answers from the cache (the port is closed: no request made)
        assert (await r.resolve("did:plc:a", refresh=True)).did_key == k.did_key
    asyncio.run(go())
    assert r.fetches == 0


def test_did_web(plc: PlcDirectory) -> None:
    did = f"did:web:127.0.0.1%3A{plc.port}"
    k = Key("p256")
    plc.web_doc = did_doc(did, k)
    assert did_web_url("did:web:example.com") == "https://example.com/.well-known/did.json"
    for bad in ("did:web:localhost", "did:web:10.0.0.8", did):
        with pytest.raises(DidError, match="private or local"):
            did_web_url(bad)
    with pytest.raises(DidError, match="no path"):
        did_web_url("did:web:example.com:users:alice")
    r = DidKeyResolver(plc.url, web_scheme="http", allow_private_web=True)

    async def go() -> None:
        assert (await r.resolve(did)).did_key == k.did_key
        await r.aclose()
    asyncio.run(go())


def test_directory_outage_fails_fast_instead_of_queueing(plc: PlcDirectory) -> None:
    now = [0.0]
    k = Key()
    plc.set("did:plc:alice", k)
    plc.hang |= {"did:plc:slow1", "did:plc:slow2", "did:plc:slow3"}
    r = DidKeyResolver(plc.url, timeout=0.3, breaker_after=2, breaker_cooldown=30, clock=lambda: now[0])

    async def go() -> None:
        for _ in range(3):  # 404s are answers, not outages: they do not trip the breaker
            with pytest.raises(DidError, match="not found"):
                await r.resolve("did:plc:nobody", refresh=True)
        for did in ("did:plc:slow1", "did:plc:slow2"):
            with pytest.raises(DidError, match="did not answer"):
                await r.resolve(did)
        t0 = time.monotonic()
        with pytest.raises(DidError, match="failed 2 times in a row; not asked again for 30s"):
            await r.resolve("did:plc:slow3")
        with pytest.raises(DidError, match="in a row"):
            await r.resolve("did:plc:alice")
        assert time.monotonic() - t0 < 0.2 and "did:plc:slow3" not in plc.requests
        now[0] = 31  # after the cool-down the directory is asked again
        assert (await r.resolve("did:plc:alice")).did_key == k.did_key
        await r.aclose()
    asyncio.run(go())
