"""`watch --bus redis://`: the live reader hands posts to the Redis Streams bus instead of judging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from servers import redis_server  # noqa: F401  (pytest fixture)

FIX = Path(__file__).parent / "fixtures" / "live"
sys.path.insert(0, str(FIX))
from live_servers import JetstreamReplay, jetstream_events  # noqa: E402


def test_watch_publishes_to_bus_with_checkpoint(tmp_path: Path, redis_server) -> None:  # noqa: F811
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    events = jetstream_events(300)
    srv = JetstreamReplay(events).start()
    r = redis.Redis.from_url(url)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "threatwatch.cli", "watch", "--source", f"jetstream:{srv.url}",
                                 "--bus", url, "-q"], cwd=tmp_path, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        name = f"jetstream:{srv.url}".encode()
        deadline = time.monotonic() + 60
        while r.hget(b"threatwatch:posts:checkpoints", name) != str(events[-1]["time_us"]).encode():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "timed out waiting for the bus checkpoint"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert r.xlen("threatwatch:posts") == 300  # every post once; non-post events only move the cursor
    finally:
        r.close()
        srv.stop()
