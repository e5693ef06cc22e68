"""Bluesky full relay firehose: `com.atproto.sync.subscribeRepos`, resumable by sequence number,
with every post-creating commit verified against its repo's signing key.

For users who need the complete, signed stream rather than Jetstream's JSON digest. Every
websocket message is a DAG-CBOR frame (header + body, decoded with the atproto library's
`Frame`); `#commit` bodies carry a CAR file of blocks and a list of ops; each `create` of an
`app.bsky.feed.post` becomes a Post (through the same record mapping as Jetstream, so both
sources yield identical posts and ids). The checkpoint is the relay's `seq`; a restart asks
for `cursor=seq` and the store drops the overlap. Reconnects back off with jitter. Several
relays may be listed for failover, but sequence numbers are per relay, so a failover resumes
live on the next relay.

Verification (on by default; `verify=False` / `firehose:URL?verify=0` turns it off), for each
commit that creates posts — the checks a careful atproto consumer makes:
- every block used is re-hashed against its CID (commit, records, MST nodes);
- the commit block is the frame's `commit` root, its `did` is the frame's `repo`, its `rev`
  the frame's `rev`;
- each created post's path → CID is proven by the commit's MST (`data`) from the CAR's nodes;
- `sig` verifies (ECDSA, low-S) over the commit re-encoded as DAG-CBOR without `sig`, with
  the repo's current `#atproto` key (see `identity.py`; a failure with a cached key refetches
  once, for key rotation; `#identity` events drop the cached key).
A commit that fails gives one Reject (`bad-block`, `bad-signature` or `unresolved-did`) naming
the relay, frame, seq, repo and why; the stream goes on. Key lookups run concurrently while
later frames are read (up to `window` frames ahead), and items are still yielded in relay
order, so the checkpoint never passes an unverified commit.

Bodies are parsed as plain dicts rather than atproto's pydantic models, which are too slow for
the full firehose on two cores.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import libipld
import websockets
from atproto_subscription.frames import ErrorFrame, Frame

from ..config import parse_flag
from ..post import Post, Reject
from .formats.jetstream import POST_COLLECTION, parse_jetstream_event
from .identity import DEFAULT_PLC, DidError, DidKeyResolver, SigningKey
from .jetstream import Backoff, websocket_urls

DEFAULT_URL = "wss://bsky.network"
NSID = "com.atproto.sync.subscribeRepos"
_SAMPLE = 120
_MST_MAX_DEPTH = 128
_SPEC_OPTIONS = ("verify", "plc")


def subscribe_url(base: str, cursor: int | None) -> str:
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if not path.endswith(NSID):
        path = (path if path.endswith("/xrpc") else path + "/xrpc") + "/" + NSID
    query = urlencode({"cursor": cursor}) if cursor is not None else ""
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _time_us(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1e6)
    except ValueError:
        return None


# -- CAR, CIDs and the MST -----------------------------------------------------------------------
class BadBlock(Exception):
    """A block is missing, does not match its CID, or does not prove what the commit claims."""


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def read_car(car: bytes) -> tuple[list[Any], dict[bytes, bytes]]:
    """A CAR v1 file → (roots, {cid bytes: raw block bytes}). Raw bytes are kept so that
    each block can be re-hashed against its CID (libipld's `decode_car` does not check)."""
    hlen, i = _uvarint(car, 0)
    header = libipld.decode_dag_cbor(car[i:i + hlen])
    if not isinstance(header, dict) or header.get("version") != 1:
        raise ValueError("CAR header is not version 1")
    i += hlen
    blocks: dict[bytes, bytes] = {}
    while i < len(car):
        n, i = _uvarint(car, i)
        end = i + n
        if end > len(car):
            raise ValueError("truncated block")
        if car[i:i + 2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
            c_end = i + 34
        else:
            _v, j = _uvarint(car, i)
            _codec, j = _uvarint(car, j)
            _mh, j = _uvarint(car, j)
            dlen, j = _uvarint(car, j)
            c_end = j + dlen
        if c_end > end:
            raise ValueError("block shorter than its CID")
        blocks[car[i:c_end]] = car[c_end:end]
        i = end
    return list(header.get("roots") or []), blocks


def cid_str(cid: bytes) -> str:
    try:
        return libipld.encode_cid(cid)
    except Exception:
        return cid[:40].hex()


def cid_matches(cid: bytes, data: bytes) -> bool:
    """Does `data` hash to `cid`? (sha2-256 multihash; CIDv1 or v0)."""
    if len(cid) == 36 and cid[0] == 1 and cid[2:4] == b"\x12\x20":  # v1, one-byte codec (dag-cbor, raw)
        return hashlib.sha256(data).digest() == cid[4:]
    try:
        if cid[:2] == b"\x12\x20":
            return len(cid) == 34 and hashlib.sha256(data).digest() == cid[2:]
        v, j = _uvarint(cid, 0)
        _codec, j = _uvarint(cid, j)
        mh, j = _uvarint(cid, j)
        dlen, j = _uvarint(cid, j)
    except ValueError:
        return False
    return v == 1 and mh == 0x12 and dlen == 32 and hashlib.sha256(data).digest() == cid[j:]


def _block(blocks: dict[bytes, bytes], cid: object, what: str) -> Any:
    """Decode the block `cid` after checking its bytes hash to it."""
    if not isinstance(cid, bytes):
        raise BadBlock(f"{what}: CID is missing or not a link")
    data = blocks.get(cid)
    if data is None:
        raise BadBlock(f"{what} {cid_str(cid)} is not in the CAR")
    if not cid_matches(cid, data):
        raise BadBlock(f"{what} {cid_str(cid)}: block bytes do not hash to its CID")
    try:
        return libipld.decode_dag_cbor(data)
    except Exception as e:
        raise BadBlock(f"{what} {cid_str(cid)} is not DAG-CBOR ({e})") from e


def mst_lookup(blocks: dict[bytes, bytes], root: object, key: bytes) -> bytes | None:
    """The CID the MST rooted at `root` stores under `key`, or None if the key is absent.
    Every node on the path must be in `blocks` and match its CID (BadBlock otherwise)."""
    cid = root
    for _ in range(_MST_MAX_DEPTH):
        node = _block(blocks, cid, "MST node")
        entries = node.get("e") if isinstance(node, dict) else None
        if not isinstance(entries, list):
            raise BadBlock(f"MST node {cid_str(cid) if isinstance(cid, bytes) else cid!r} is malformed")
        nxt = node.get("l")
        prev = b""
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get("k"), bytes) or not isinstance(e.get("p"), int):
                raise BadBlock("MST entry is malformed")
            k = prev[:e["p"]] + e["k"]
            if key == k:
                v = e.get("v")
                return v if isinstance(v, bytes) else None
            if key < k:
                break
            nxt = e.get("t")
            prev = k
        if nxt is None:
            return None
        cid = nxt
    raise BadBlock(f"MST deeper than {_MST_MAX_DEPTH} levels")


class _Entry:
    """One frame's outcome, in relay order: ready items, or a task that will produce them."""

    __slots__ = ("items", "pos", "task")

    def __init__(self, items: list[Post | Reject] | None, pos: str | None,
                 task: asyncio.Task[list[Post | Reject]] | None = None) -> None:
        self.items, self.pos, self.task = items, pos, task

    def done(self) -> bool:
        return self.task is None or self.task.done()

    def result(self) -> list[Post | Reject]:
        return self.task.result() if self.task is not None else (self.items or [])


Prepared = list[Post | Reject] | Coroutine[Any, Any, list[Post | Reject]]


class FirehoseSource:
    """A resumable subscribeRepos subscription yielding new, verified posts."""

    def __init__(self, urls: Sequence[str] = (DEFAULT_URL,), *, backoff: Backoff | None = None,
                 open_timeout: float = 10.0, name: str | None = None,
                 log: Callable[[str], None] | None = None, verify: bool = True,
                 resolver: DidKeyResolver | None = None, plc_url: str = DEFAULT_PLC,
                 window: int = 5000) -> None:
        self.urls = websocket_urls(urls, "FirehoseSource needs at least one relay URL", "firehose")
        self.name = name or f"firehose:{self.urls[0]}"
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.reconnects = 0
        self.frames = 0
        self.host = self.urls[0]
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self.verify = verify
        self.resolver = resolver if resolver is not None else (DidKeyResolver(plc_url) if verify else None)
        self.window = max(1, window)
        self.verified = 0  # commits whose signature checked out
        self.failed = 0  # commits rejected by verification

    @classmethod
    def from_spec(cls, arg: str, **kw: Any) -> FirehoseSource:
        """`--source firehose[:URL[,URL...]][?verify=0][&plc=https://...]` → a source.
        Options may sit on any URL; they are stripped so the checkpoint name stays the same."""
        urls: list[str] = []
        opts: dict[str, str] = {}
        for u in (x.strip() for x in arg.split(",")):
            if not u:
                continue
            parts = urlsplit(u)
            keep = []
            for k, v in parse_qsl(parts.query, keep_blank_values=True):
                if k in _SPEC_OPTIONS:
                    opts[k] = v
                else:
                    keep.append((k, v))
            u = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(keep), parts.fragment))
            if u:
                urls.append(u)
        verify = opts.get("verify", "1").strip().lower()
        on = parse_flag(verify)
        if on is None:
            raise ValueError(f"firehose option verify={verify!r}: use verify=0 or verify=1")
        kw.setdefault("verify", on)
        if "plc" in opts:
            kw.setdefault("plc_url", opts["plc"])
        return cls(urls or [DEFAULT_URL], **kw)

    # -- rejects ---------------------------------------------------------------------------------
    def _reject(self, why: str, raw: bytes | str, frame: int | None = None) -> Reject:
        n = self.frames if frame is None else frame
        sample = raw[:_SAMPLE].hex() if isinstance(raw, bytes) else raw[:_SAMPLE]
        return Reject(source=self.name, line=n, reason="malformed-frame",
                      detail=f"frame {n} from {self.host}: {why}", sample=sample)

    def _fail(self, reason: str, why: str, body: dict, frame: int, host: str) -> Reject:
        """A commit that failed verification: names relay, frame, seq, repo and why."""
        self.failed += 1
        return Reject(source=self.name, line=frame, reason=reason,
                      detail=f"frame {frame} seq {body.get('seq')} from {host}: repo {body.get('repo')}: {why}",
                      sample=cid_str(c) if isinstance(c := body.get("commit"), bytes) else "")

    # -- commits ---------------------------------------------------------------------------------
    @staticmethod
    def _creates(body: dict) -> list[dict]:
        ops = body.get("ops") or []
        return [op for op in ops if isinstance(op, dict) and op.get("action") == "create"
                and str(op.get("path", "")).startswith(POST_COLLECTION + "/")]

    def _posts(self, body: dict, repo: str, creates: list[dict], records: dict[bytes, Any],
               frame: int) -> list[Post | Reject]:
        out: list[Post | Reject] = []
        t_us = _time_us(body.get("time"))
        for op in creates:
            record = records.get(op.get("cid")) if isinstance(op.get("cid"), bytes) else None
            if not isinstance(record, dict):
                out.append(self._reject(f"op {op.get('path')}: record block missing from the CAR",
                                        repr(op)[:_SAMPLE], frame))
                continue
            rkey = str(op["path"]).split("/", 1)[1]
            ev = {"did": repo, "time_us": t_us, "kind": "commit",
                  "commit": {"operation": "create", "collection": POST_COLLECTION, "rkey": rkey, "record": record,
                             "rev": body.get("rev")}}
            res = parse_jetstream_event(ev, self.name, frame)
            if res is not None:
                out.append(res)
        return out

    def commit_posts(self, body: dict) -> list[Post | Reject]:
        """The posts a #commit body creates, WITHOUT verification (other ops are skipped)."""
        creates = self._creates(body)
        if not creates:
            return []
        repo = body.get("repo")
        blocks_raw = body.get("blocks")
        if not isinstance(repo, str) or not isinstance(blocks_raw, bytes):
            return [self._reject("#commit without 'repo' or 'blocks'", repr(body)[:_SAMPLE])]
        try:
            _hdr, blocks = libipld.decode_car(blocks_raw)
        except Exception as e:
            return [self._reject(f"#commit blocks are not a CAR file ({e})", blocks_raw)]
        return self._posts(body, repo, creates, blocks, self.frames)

    def check_blocks(self, body: dict, blocks: dict[bytes, bytes],
                     creates: list[dict]) -> tuple[bytes, bytes, dict[bytes, Any]]:
        """Everything but the signature: returns (signed bytes, sig, {cid: record}).
        Raises BadBlock naming the first problem."""
        repo = body["repo"]
        commit = _block(blocks, body.get("commit"), "commit block")
        if not isinstance(commit, dict):
            raise BadBlock("commit block is not a map")
        if commit.get("did") != repo:
            raise BadBlock(f"commit is signed for {str(commit.get('did'))[:80]!r}, not the frame's repo")
        if body.get("rev") is not None and commit.get("rev") != body.get("rev"):
            raise BadBlock(f"commit rev {commit.get('rev')!r} differs from the frame's rev {body.get('rev')!r}")
        if commit.get("version") != 3:
            raise BadBlock(f"unsupported repo commit version {commit.get('version')!r}")
        sig = commit.get("sig")
        if not isinstance(sig, bytes):
            raise BadBlock("commit has no 'sig' bytes")
        unsigned = libipld.encode_dag_cbor({k: v for k, v in commit.items() if k != "sig"})
        records: dict[bytes, Any] = {}
        for op in creates:
            cid, path = op.get("cid"), str(op.get("path"))
            records[cid] = _block(blocks, cid, f"record {path}")  # type: ignore[index]
            proven = mst_lookup(blocks, commit.get("data"), path.encode())
            if proven != cid:
                got = "absent" if proven is None else cid_str(proven)
                raise BadBlock(f"op {path}: the commit's MST does not hold this record ({got})")
        return unsigned, sig, records

    def prepare_commit(self, body: dict) -> Prepared:
        """A #commit body → its items now (cached key, or verification off), or a coroutine that
        resolves the repo's key and then gives them."""
        creates = self._creates(body)
        if not creates:
            return []
        if not self.verify or self.resolver is None:
            return self.commit_posts(body)
        frame, host = self.frames, self.host
        repo = body.get("repo")
        blocks_raw = body.get("blocks")
        if not isinstance(repo, str) or not isinstance(blocks_raw, bytes):
            return [self._reject("#commit without 'repo' or 'blocks'", repr(body)[:_SAMPLE])]
        try:
            _roots, blocks = read_car(blocks_raw)
        except Exception as e:
            return [self._reject(f"#commit blocks are not a CAR file ({e})", blocks_raw)]
        try:
            unsigned, sig, records = self.check_blocks(body, blocks, creates)
        except BadBlock as e:
            return [self._fail("bad-block", str(e), body, frame, host)]
        if self.resolver.in_flight(repo):  # a lookup (e.g. after a key rotation) is running: wait for it
            return self._verify_slow(body, repo, creates, records, unsigned, sig, None, frame, host)
        key = self.resolver.cached(repo)
        if key is not None and key.verify(unsigned, sig):
            self.verified += 1
            return self._posts(body, repo, creates, records, frame)
        return self._verify_slow(body, repo, creates, records, unsigned, sig, key, frame, host)

    async def _verify_slow(self, body: dict, repo: str, creates: list[dict], records: dict[bytes, Any],
                           unsigned: bytes, sig: bytes, cached: SigningKey | None, frame: int,
                           host: str) -> list[Post | Reject]:
        assert self.resolver is not None
        try:
            key = await self.resolver.resolve(repo, refresh=cached is not None)
        except DidError as e:
            if cached is not None:
                return [self._fail("bad-signature", f"signature does not match the cached key {cached.did_key} "
                                   f"and refetching the DID document failed: {e}", body, frame, host)]
            return [self._fail("unresolved-did", f"cannot get the signing key: {e}", body, frame, host)]
        except Exception as e:  # never let one lookup take the stream down
            return [self._fail("unresolved-did", f"key lookup failed ({type(e).__name__}: {e})", body, frame, host)]
        if key.verify(unsigned, sig):
            self.verified += 1
            return self._posts(body, repo, creates, records, frame)
        if cached is None:
            what = f"the key of its DID document {key.did_key}"
        elif key != cached:
            what = f"the cached key {cached.did_key} or the refetched key {key.did_key}"
        else:
            what = (f"its key {key.did_key} (unchanged in the DID document, checked within the last "
                    f"{self.resolver.min_refetch:g}s)")
        return [self._fail("bad-signature", f"signature does not verify with {what}", body, frame, host)]

    async def commit_items(self, body: dict) -> list[Post | Reject]:
        """`prepare_commit`, awaited: the items of one #commit body."""
        r = self.prepare_commit(body)
        return r if isinstance(r, list) else await r

    # -- the stream ------------------------------------------------------------------------------
    def _frame_entry(self, msg: bytes | str) -> tuple[_Entry | None, bool, int | None]:
        """One websocket message → (entry, stop this connection?, new cursor)."""
        if isinstance(msg, str):
            return _Entry([self._reject("text frame; subscribeRepos sends binary DAG-CBOR", msg)], None), False, None
        try:
            frame = Frame.from_bytes(msg)
        except Exception as e:
            return _Entry([self._reject(f"not a DAG-CBOR frame ({type(e).__name__}: {e})", msg)], None), False, None
        if isinstance(frame, ErrorFrame):
            err = getattr(frame.body, "error", "?")
            self.log(f"{self.name}: relay error {err}: {getattr(frame.body, 'message', '')}")
            return None, True, -1 if err == "FutureCursor" else None
        body = frame.body
        seq = body.get("seq") if isinstance(body, dict) else None
        pos = None
        cursor = None
        if isinstance(seq, int) and not isinstance(seq, bool):
            cursor = seq
            pos = str(seq)
        if frame.type == "#identity" and self.resolver is not None and isinstance(body, dict):
            did = body.get("did")
            if isinstance(did, str):
                self.resolver.forget(did)  # the key may have changed: look it up again next time
        if frame.type != "#commit" or not isinstance(body, dict):
            return _Entry([], pos), False, cursor  # #identity, #account, #sync, #info: nothing to judge
        prepared = self.prepare_commit(body)
        if isinstance(prepared, list):
            return _Entry(prepared, pos), False, cursor
        return _Entry(None, pos, asyncio.ensure_future(prepared)), False, cursor

    @staticmethod
    def _emit(entry: _Entry) -> list[tuple[object, str | None]]:
        items = entry.result()
        if not items:
            return [(None, entry.pos)]
        return [(item, entry.pos if k == len(items) - 1 else None) for k, item in enumerate(items)]

    async def stream(self, start: str | None) -> AsyncIterator[tuple[object, str | None]]:
        """Yield (Post | Reject | None, seq) forever, in relay order, reconnecting as needed."""
        cursor: int | None = None
        if start:
            try:
                cursor = int(start)
            except ValueError:
                self.log(f"{self.name}: stored checkpoint {start!r} is not a sequence number; starting live")
        host_i = 0
        while True:
            self.host = self.urls[host_i % len(self.urls)]
            got_any = False
            pending: deque[_Entry] = deque()
            recv: asyncio.Future[Any] | None = None
            try:
                try:
                    async with websockets.connect(subscribe_url(self.host, cursor), open_timeout=self.open_timeout,
                                                  max_size=2 ** 24, ping_interval=20, ping_timeout=20,
                                                  close_timeout=2, compression=None) as ws:
                        # dead peers are detected by websocket pings (20 s), not by a per-message
                        # timeout: that would also fire while we wait on backpressure
                        while True:
                            while pending and pending[0].done():
                                for out in self._emit(pending.popleft()):
                                    yield out
                            if recv is None:
                                recv = asyncio.ensure_future(ws.recv())
                            waits: set[asyncio.Future[Any]] = set()
                            if pending:
                                waits.add(pending[0].task)  # type: ignore[arg-type]
                            if len(pending) < self.window:
                                waits.add(recv)  # else: wait for the oldest lookup (backpressure)
                            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                            if not recv.done():
                                continue
                            fut, recv = recv, None
                            try:
                                msg = fut.result()
                            except websockets.exceptions.ConnectionClosedOK:
                                break
                            self.frames += 1
                            if not got_any:
                                got_any = True
                                self.backoff.reset()
                            entry, stop, new_cursor = self._frame_entry(msg)
                            if new_cursor == -1:
                                cursor = None  # our cursor is ahead of the relay: take it live
                            elif new_cursor is not None:
                                cursor = new_cursor
                            if entry is not None:
                                if not pending and entry.done():
                                    for out in self._emit(entry):
                                        yield out
                                else:
                                    pending.append(entry)
                            if stop:
                                break
                        self.log(f"{self.name}: {self.host} closed the stream")
                except asyncio.CancelledError:
                    raise
                except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as e:
                    why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                    self.log(f"{self.name}: connection to {self.host} lost ({why})")
                # frames read before the drop are still verified and yielded, in order: the
                # reconnect cursor is the last seq read, so they would not be sent again
                while pending:
                    entry = pending[0]
                    if entry.task is not None:
                        await asyncio.wait({entry.task})
                    pending.popleft()
                    for out in self._emit(entry):
                        yield out
            finally:
                if recv is not None:
                    recv.cancel()
                for entry in pending:
                    if entry.task is not None:
                        entry.task.cancel()
            self.reconnects += 1
            if not got_any and len(self.urls) > 1:
                host_i += 1
                if cursor is not None:
                    # sequence numbers are per relay: another relay's cursor means nothing
                    self.log(f"{self.name}: failing over to {self.urls[host_i % len(self.urls)]}; "
                             f"seq {cursor} is not valid there, resuming live (posts in the gap are missed)")
                    cursor = None
            delay = self.backoff.next()
            self.log(f"{self.name}: reconnecting in {delay:.1f}s" + (f" from seq {cursor}" if cursor is not None else ""))
            await asyncio.sleep(delay)
