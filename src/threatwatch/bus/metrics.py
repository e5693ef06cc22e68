"""Prometheus metrics of the bus processes, served on `/metrics` with `--metrics-port`.

One set per process (the default registry). Rates come from the counters
(`rate(threatwatch_bus_messages_total{outcome="processed"}[5m])`); `pending`, `lag` and the
stream lengths are gauges a worker refreshes every few seconds.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

PUBLISHED = Counter("threatwatch_bus_published", "Records published to the stream.", ["stream"])
FILTERED = Counter("threatwatch_bus_filtered", "Posts a publisher with a watchlist left out (they name no "
                   "target).", ["stream"])
PUBLISH_SECONDS = Histogram("threatwatch_bus_publish_seconds", "Time to publish one batch (MULTI/EXEC).", ["stream"])
MESSAGES = Counter("threatwatch_bus_messages", "Stream entries handled by this worker, by outcome "
                   "(processed, claimed, failed, dead_lettered, trimmed).", ["stream", "group", "outcome"])
POSTS = Counter("threatwatch_worker_posts", "Posts judged by this worker.", ["stream", "group"])
COUNTED = Counter("threatwatch_worker_counted", "(post, target) pairs counted: new, or already counted "
                  "(a redelivery).", ["stream", "group", "kind"])
ALERTS = Counter("threatwatch_worker_alerts", "New alerts stored by this worker.", ["stream", "group"])
BATCH_SECONDS = Histogram("threatwatch_worker_batch_seconds", "Batch time by stage: judge (normalise, "
                          "match, judge), store (one transaction), total.", ["stage"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
LATENCY = Histogram("threatwatch_worker_latency_seconds", "Publish-to-stored latency of each post.",
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
PENDING = Gauge("threatwatch_bus_pending", "Entries delivered to the group but not yet acked.", ["stream", "group"])
LAG = Gauge("threatwatch_bus_lag", "Entries in the stream not yet delivered to the group.", ["stream", "group"])
LENGTH = Gauge("threatwatch_bus_stream_length", "Entries in the stream (and in its dead-letter stream).", ["stream"])
ERRORS = Counter("threatwatch_bus_errors", "Transient store/bus errors the worker waited out.", ["error"])

_started: set[int] = set()


def serve(port: int | None, addr: str = "0.0.0.0") -> None:
    """Serve /metrics on `port` (once per process; None or 0 = off)."""
    if port and port not in _started:
        start_http_server(port, addr=addr)
        _started.add(port)
