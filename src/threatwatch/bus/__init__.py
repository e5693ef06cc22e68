"""Scale-out bus: Redis Streams between readers (`publish`, `watch --bus`) and N workers."""

from .redis_streams import (
    GROUP,
    MAXLEN,
    STREAM,
    RedisPublisher,
    RedisPublisherSink,
    Worker,
    WorkerStats,
    bus_status,
    dead_letters,
    publish_inputs,
    replay_dead_letters,
)

__all__ = [
    "GROUP", "MAXLEN", "STREAM", "RedisPublisher", "RedisPublisherSink", "Worker", "WorkerStats", "bus_status",
    "dead_letters", "publish_inputs", "replay_dead_letters",
]
