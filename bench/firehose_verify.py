"""What verifying relay firehose commits costs: commits/s with verification off and on.

    python bench/firehose_verify.py            # 5,000 commits from 500 accounts
    python bench/firehose_verify.py --commits 20000 --dids 2000

Commits are built and signed here (half secp256k1, half P-256 keys), exactly as the tests do;
keys are served by a local PLC directory on 127.0.0.1 — no network. Measured, in one run:
- decode: frame decode + post mapping, verification off (`?verify=0`);
- verify, warm: the same with verification on and every key cached (the steady state):
  CAR parse, re-hash of the commit/record/MST blocks, MST proof, DAG-CBOR re-encode, ECDSA;
- ECDSA alone per curve (the floor of the signature check);
- stream: the whole reader (local websocket relay → FirehoseSource.stream) off, on with a
  cold cache (every account's DID document fetched from the local directory), and on warm.
Figures are for this machine and load; the relay and directory run in this process too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "live"))


def build(n: int, dids: int) -> tuple[list[tuple[int, bytes]], dict[str, object]]:
    from test_sources_identity import Key, signed_commit

    keys = {f"did:plc:bench{d:06d}": Key("k256" if d % 2 else "p256") for d in range(dids)}
    names = list(keys)
    frames = []
    for i in range(n):
        did = names[i % dids]
        frames.append((i + 1, signed_commit(i + 1, i, keys[did], did=did)))  # type: ignore[arg-type]
    return frames, keys  # type: ignore[return-value]


def rate(n: int, secs: float) -> str:
    return f"{n / secs:,.0f}/s ({secs * 1e6 / n:,.0f} µs each)"


def in_process(frames: list[tuple[int, bytes]], keys: dict, repeat: int) -> None:
    from atproto_subscription.frames import Frame

    from threatwatch.post import Post
    from threatwatch.sources.firehose import FirehoseSource
    from threatwatch.sources.identity import DidKeyResolver, SigningKey

    raw = [f for _, f in frames]
    off = FirehoseSource(["ws://unused"], verify=False, log=lambda m: None)
    res = DidKeyResolver("http://127.0.0.1:9")
    for did, k in keys.items():
        res.seed(did, k.did_key)
    on = FirehoseSource(["ws://unused"], resolver=res, log=lambda m: None)
    for label, src in (("decode (verify off)", off), ("verify on, warm cache", on)):
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            n_posts = 0
            for fr in raw:
                items = src.prepare_commit(Frame.from_bytes(fr).body)
                assert isinstance(items, list), "a warm cache never needs a lookup"
                n_posts += sum(isinstance(x, Post) for x in items)
            best = min(best, time.perf_counter() - t0)
        assert n_posts == len(raw)
        print(f"  {label:28s} {rate(len(raw), best)}")
    for kind in ("k256", "p256"):
        k = next(k for k in keys.values() if k.kind == kind)
        sk = SigningKey.parse(k.did_key)
        data = b"x" * 120
        sig = k.sign(data)
        t0 = time.perf_counter()
        for _ in range(2000):
            sk.verify(data, sig)
        print(f"  ECDSA verify alone, {kind:14s} {rate(2000, time.perf_counter() - t0)}")


def streamed(frames: list[tuple[int, bytes]], keys: dict) -> None:
    from live_servers import FirehoseReplay

    from test_sources_identity import PlcDirectory
    from threatwatch.post import Post
    from threatwatch.sources.firehose import FirehoseSource
    from threatwatch.sources.identity import DidKeyResolver

    last = str(frames[-1][0])
    srv = FirehoseReplay(frames).start()
    plc = PlcDirectory().start()
    for did, k in keys.items():
        plc.set(did, k)

    async def run(src: FirehoseSource) -> tuple[int, float]:
        posts = 0
        t0 = time.perf_counter()
        agen = src.stream(None)
        try:
            async for item, pos in agen:  # type: ignore[attr-defined]
                posts += isinstance(item, Post)
                if pos == last:
                    break
        finally:
            await agen.aclose()  # type: ignore[attr-defined]
        return posts, time.perf_counter() - t0

    try:
        res = DidKeyResolver(plc.url)
        for label, src in (("stream, verify off", FirehoseSource([srv.url], verify=False, log=lambda m: None)),
                           ("stream, verify on, cold", FirehoseSource([srv.url], resolver=res, log=lambda m: None)),
                           ("stream, verify on, warm", FirehoseSource([srv.url], resolver=res, log=lambda m: None))):
            posts, secs = asyncio.run(run(src))
            extra = f"; {res.fetches:,} DID documents fetched" if src.verify else ""
            print(f"  {label:28s} {rate(len(frames), secs)}, {posts:,} posts{extra}")
            assert posts == len(frames)
    finally:
        srv.stop()
        plc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--dids", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    t0 = time.perf_counter()
    frames, keys = build(a.commits, a.dids)
    print(f"built {len(frames):,} signed commits from {len(keys):,} accounts in {time.perf_counter() - t0:.1f}s")
    print("in process (frame bytes → posts):")
    in_process(frames, keys, a.repeat)
    print("through the reader (local websocket relay, local PLC directory):")
    streamed(frames, keys)


if __name__ == "__main__":
    main()
