"""Prometheus metrics of the service, on a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Requests by family and status, queue-wait / compute / batch-size histograms, queue depth,
    model load time. The mean batch size is batch_size_sum / batch_size_count."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "genbot_requests_total",
            "Requests by family and HTTP status",
            ["family", "status"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "genbot_queue_wait_seconds",
            "Time queued before compute",
            ["family"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.compute = Histogram(
            "genbot_compute_seconds",
            "Model compute per batch",
            ["family"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "genbot_batch_size",
            "Items per batch",
            ["family"],
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.depth = Gauge("genbot_queue_depth", "Items waiting", ["family"], registry=r)
        self.load_time = Gauge(
            "genbot_model_load_seconds", "Model load time", ["family"], registry=r
        )

    def observe(self, family: str, status: str, queue_ms: float, compute_ms: float) -> None:
        """Count one answered request and its queue wait."""
        self.requests.labels(family, status).inc()
        self.queue_wait.labels(family).observe(max(0.0, queue_ms) / 1000)

    def observe_batch(self, family: str, size: int, seconds: float) -> None:
        """Record one computed batch."""
        self.batch_size.labels(family).observe(size)
        self.compute.labels(family).observe(seconds)

    def queue_depth_snapshot(self, batchers: dict) -> None:
        """Set the queue-depth gauge from the batchers."""
        for name, batcher in batchers.items():
            self.depth.labels(name).set(batcher.depth)

    def render(self) -> tuple[bytes, str]:
        """Return the exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
