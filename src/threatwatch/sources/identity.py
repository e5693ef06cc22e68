"""DID → current atproto signing key, for verifying relay firehose commits.

Why: the full firehose is chosen over Jetstream because every repo commit is signed by the
account's key, but that key lives in the account's DID document (`verificationMethod`
`#atproto`): did:plc documents come from a PLC directory (default `https://plc.directory`),
did:web ones from `https://<host>/.well-known/did.json`. A stream consumer must resolve keys
without stalling, so lookups are async, time-limited, de-duplicated per DID and bounded in
number; results sit in an LRU cache with a TTL (100k DIDs, 1 h by default) and failures are
remembered briefly, so a dead DID costs one timeout rather than one per commit. Only the key
is kept — no handle, no PDS, nothing about the person.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

import httpx
from atproto_crypto.consts import P256_CURVE_ORDER, P256_JWT_ALG, SECP256K1_CURVE_ORDER, SECP256K1_JWT_ALG
from atproto_crypto.did import get_did_key, parse_did_key
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256K1,
    SECP256R1,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

try:  # libsecp256k1: ~12x faster secp256k1 verification than OpenSSL's generic curve code
    import coincurve
except ImportError:  # pragma: no cover - the cryptography path below still works
    coincurve = None

DEFAULT_PLC = "https://plc.directory"
MAX_DOC_BYTES = 256 * 1024  # a DID document is a few hundred bytes; refuse anything huge

_CURVES = {SECP256K1_JWT_ALG: (SECP256K1(), SECP256K1_CURVE_ORDER), P256_JWT_ALG: (SECP256R1(), P256_CURVE_ORDER)}


class DidError(Exception):
    """A DID could not be resolved to a usable signing key; the message says why."""


class _NotAsked(DidError):
    """The lookup was not attempted (circuit breaker open): says nothing about the DID."""


class _ServerError(DidError):
    """The directory or host failed (5xx): counts toward the PLC circuit breaker."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A parsed atproto signing key (secp256k1 = ES256K or P-256 = ES256)."""

    did_key: str
    alg: str
    public: EllipticCurvePublicKey = field(repr=False, compare=False)
    order: int = field(repr=False, compare=False)
    fast: object | None = field(default=None, repr=False, compare=False)  # coincurve key (secp256k1)

    @classmethod
    def parse(cls, did_key: str) -> SigningKey:
        """Parse a `did:key:z...` multikey; raises DidError on anything else."""
        try:
            mk = parse_did_key(did_key)
            curve, order = _CURVES[mk.jwt_alg]
            public = EllipticCurvePublicKey.from_encoded_point(curve, mk.key_bytes)
        except Exception as e:  # atproto_crypto raises several types; all mean "not a key"
            raise DidError(f"signing key {did_key[:80]!r} is not a secp256k1/P-256 did:key ({e})") from e
        fast = coincurve.PublicKey(mk.key_bytes) if coincurve is not None and mk.jwt_alg == SECP256K1_JWT_ALG else None
        return cls(did_key, mk.jwt_alg, public, order, fast)

    def verify(self, data: bytes, sig: bytes) -> bool:
        """ECDSA-SHA256 over `data` with a 64-byte compact (r||s) signature; high-S is
        refused, as atproto requires (it would make signatures malleable)."""
        if len(sig) != 64:
            return False
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        if not (0 < r < self.order and 0 < s <= self.order // 2):
            return False
        der = encode_dss_signature(r, s)
        if self.fast is not None:
            try:
                return bool(self.fast.verify(der, data))  # type: ignore[attr-defined]  # sha256 by default
            except ValueError:
                return False
        try:
            self.public.verify(der, data, ECDSA(SHA256()))
            return True
        except InvalidSignature:
            return False


def key_from_did_doc(did: str, doc: object) -> str:
    """The `did:key` of a DID document's `#atproto` verification method."""
    if not isinstance(doc, dict):
        raise DidError(f"{did}: DID document is not a JSON object")
    if doc.get("id") != did:
        raise DidError(f"{did}: DID document is for {str(doc.get('id'))[:80]!r}, not this DID")
    methods = doc.get("verificationMethod")
    if not isinstance(methods, list):
        raise DidError(f"{did}: DID document has no 'verificationMethod' list")
    for m in methods:
        if not isinstance(m, dict) or m.get("id") not in ("#atproto", f"{did}#atproto"):
            continue
        mb = m.get("publicKeyMultibase")
        if not isinstance(mb, str):
            raise DidError(f"{did}: verificationMethod #atproto has no 'publicKeyMultibase'")
        try:
            key = get_did_key(str(m.get("type")), mb)
        except Exception as e:
            raise DidError(f"{did}: verificationMethod #atproto key is unreadable ({e})") from e
        if key is None:
            raise DidError(f"{did}: verificationMethod #atproto has unsupported type {m.get('type')!r}")
        return key
    raise DidError(f"{did}: DID document has no '#atproto' verificationMethod")


def did_web_url(did: str, *, scheme: str = "https", allow_private: bool = False) -> str:
    """`did:web:host` → `https://host/.well-known/did.json` (atproto allows no paths)."""
    rest = did[len("did:web:"):]
    if not rest or ":" in rest:
        raise DidError(f"{did}: atproto supports only host-level did:web (no path)")
    host = unquote(rest)  # a port is written as %3A
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not allow_private:
        private = hostname.lower() in ("localhost", "") or hostname.lower().endswith(".localhost")
        try:
            ip = ipaddress.ip_address(hostname.strip("[]"))
            private = private or not ip.is_global
        except ValueError:
            pass
        if private:
            raise DidError(f"{did}: did:web on a private or local host is refused")
    return f"{scheme}://{host}/.well-known/did.json"


K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """An LRU map with a time-to-live: at most `max_size` entries, each valid `ttl` seconds.
    `get` returns (value, age in seconds) or None."""

    def __init__(self, max_size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_size < 1:
            raise ValueError("cache max_size must be at least 1")
        self.max_size, self.ttl, self.clock = max_size, ttl, clock
        self._d: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> tuple[V, float] | None:
        hit = self._d.get(key)
        if hit is None:
            return None
        age = self.clock() - hit[1]
        if age > self.ttl:
            del self._d[key]
            return None
        self._d.move_to_end(key)
        return hit[0], age

    def put(self, key: K, value: V) -> None:
        self._d[key] = (value, self.clock())
        self._d.move_to_end(key)
        while len(self._d) > self.max_size:
            self._d.popitem(last=False)

    def pop(self, key: K) -> None:
        self._d.pop(key, None)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return key in self._d


class DidKeyResolver:
    """Async DID → SigningKey with a bounded TTL cache.

    `cached(did)` answers from memory only (the hot path, no await); `resolve(did)` fetches
    on a miss; `resolve(did, refresh=True)` refetches after a signature failure (key
    rotation) unless the key was fetched less than `min_refetch` seconds ago; `forget(did)`
    drops the entry (an `#identity` event). Concurrent lookups of one DID share a request;
    at most `max_concurrency` requests run at once; each is cut off after `timeout` seconds.
    When the PLC directory fails `breaker_after` times in a row (timeouts, connection errors,
    5xx), lookups of did:plc fail at once for `breaker_cooldown` seconds instead of queueing
    behind timeouts, so an outage costs rejects, not a stalled stream.
    """

    def __init__(self, plc_url: str = DEFAULT_PLC, *, timeout: float = 5.0, max_size: int = 100_000,
                 ttl: float = 3600.0, negative_ttl: float = 60.0, min_refetch: float = 5.0,
                 max_concurrency: int = 32, web_scheme: str = "https", allow_private_web: bool = False,
                 breaker_after: int = 20, breaker_cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not plc_url.startswith(("http://", "https://")):
            raise ValueError(f"PLC directory URL {plc_url!r} must start with http:// or https://")
        self.plc_url = plc_url.rstrip("/")
        self.timeout = timeout
        self.min_refetch = min_refetch
        self.max_concurrency = max_concurrency
        self.web_scheme = web_scheme
        self.allow_private_web = allow_private_web
        self.breaker_after, self.breaker_cooldown, self.clock = breaker_after, breaker_cooldown, clock
        self._plc_failures = 0  # consecutive transport failures of the PLC directory
        self._plc_open_until = float("-inf")
        self.keys: TTLCache[str, SigningKey] = TTLCache(max_size, ttl, clock)
        self.failures: TTLCache[str, str] = TTLCache(min(max_size, 10_000), negative_ttl, clock)
        self.fetches = 0
        self.refetches = 0
        self._inflight: dict[str, asyncio.Future[SigningKey]] = {}
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None

    def cached(self, did: str) -> SigningKey | None:
        """The cached key of `did`, or None (no I/O)."""
        hit = self.keys.get(did)
        return hit[0] if hit else None

    def in_flight(self, did: str) -> bool:
        """Is a lookup of `did` running (its cached key may be about to change)?"""
        return did in self._inflight

    def seed(self, did: str, key: SigningKey | str) -> None:
        """Put a known key in the cache (tests, benchmarks, warm starts)."""
        self.keys.put(did, key if isinstance(key, SigningKey) else SigningKey.parse(key))

    def forget(self, did: str) -> None:
        """Drop what we know about `did` (its identity changed)."""
        self.keys.pop(did)
        self.failures.pop(did)

    async def resolve(self, did: str, *, refresh: bool = False) -> SigningKey:
        """The current signing key of `did`; raises DidError saying why there is none.
        A lookup already in flight for `did` is joined: it is the freshest answer."""
        fut = self._inflight.get(did)
        if fut is None:
            hit = self.keys.get(did)
            if hit is not None and (not refresh or hit[1] < self.min_refetch):
                return hit[0]
            if not refresh:
                failed = self.failures.get(did)
                if failed is not None:
                    raise DidError(f"{failed[0]} (cached failure, retried after {self.failures.ttl:.0f}s)")
            fut = asyncio.get_running_loop().create_future()
            self._inflight[did] = fut
            try:
                if refresh:
                    self.refetches += 1
                key = await self._fetch(did)
                self.keys.put(did, key)
                self.failures.pop(did)
                fut.set_result(key)
            except DidError as e:
                if not isinstance(e, _NotAsked):
                    self.failures.put(did, str(e))
                fut.set_exception(e)
            except BaseException as e:  # cancelled: waiters must not hang
                fut.set_exception(DidError(f"{did}: lookup cancelled"))
                fut.exception()
                raise e
            finally:
                self._inflight.pop(did, None)
        return await asyncio.shield(fut)

    def _http(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._sem is None:
            # a client is bound to the event loop it was first used on
            self._client = httpx.AsyncClient(follow_redirects=False, headers={"accept": "application/json"},
                                             limits=httpx.Limits(max_connections=self.max_concurrency))
            self._loop = loop
            self._sem = asyncio.Semaphore(self.max_concurrency)
        return self._client, self._sem

    def url_for(self, did: str) -> str:
        """Where the DID document of `did` is fetched from."""
        if did.startswith("did:plc:"):
            return f"{self.plc_url}/{did}"
        if did.startswith("did:web:"):
            return did_web_url(did, scheme=self.web_scheme, allow_private=self.allow_private_web)
        raise DidError(f"{did[:80]!r}: unsupported DID method (atproto uses did:plc and did:web)")

    def _breaker_open(self) -> str | None:
        left = self._plc_open_until - self.clock()
        if left > 0:
            return (f"the PLC directory {self.plc_url} failed {self._plc_failures} times in a row; "
                    f"not asked again for {left:.0f}s")
        return None

    async def _fetch(self, did: str) -> SigningKey:
        url = self.url_for(did)
        plc = did.startswith("did:plc:")
        if plc and (why := self._breaker_open()):
            raise _NotAsked(f"{did}: {why}")
        client, sem = self._http()
        try:
            async with sem:
                if plc and (why := self._breaker_open()):  # it may have opened while we queued
                    raise _NotAsked(f"{did}: {why}")
                self.fetches += 1
                try:
                    body = await asyncio.wait_for(self._get(client, url), self.timeout)
                except (TimeoutError, httpx.HTTPError, _ServerError):
                    if plc:
                        self._plc_failures += 1
                        if self._plc_failures >= self.breaker_after:
                            self._plc_open_until = self.clock() + self.breaker_cooldown
                    raise
                if plc:
                    self._plc_failures = 0
        except TimeoutError as e:
            raise DidError(f"{did}: {url} did not answer within {self.timeout:g}s") from e
        except httpx.HTTPError as e:
            raise DidError(f"{did}: {url} failed ({type(e).__name__}: {e})") from e
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise DidError(f"{did}: {url} did not return JSON ({e})") from e
        return SigningKey.parse(key_from_did_doc(did, doc))

    async def _get(self, client: httpx.AsyncClient, url: str) -> bytes:
        async with client.stream("GET", url, timeout=self.timeout) as r:
            if r.status_code == 404:
                raise DidError(f"{url}: DID not found (404)")
            if r.status_code == 410:
                raise DidError(f"{url}: DID is deactivated or tombstoned (410)")
            if r.status_code >= 500:
                raise _ServerError(f"{url}: HTTP {r.status_code}")
            if r.status_code != 200:
                raise DidError(f"{url}: HTTP {r.status_code}")
            buf = bytearray()
            async for chunk in r.aiter_bytes():
                buf += chunk
                if len(buf) > MAX_DOC_BYTES:
                    raise DidError(f"{url}: DID document larger than {MAX_DOC_BYTES} bytes")
            return bytes(buf)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
