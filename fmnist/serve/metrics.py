"""The service's Prometheus metrics, in a registry of its own (what GET /metrics shows)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)  # seconds


class Metrics:
    """Requests by path and status, the time to answer each kind of inference, and images classified."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fmnist_requests", "HTTP requests by path and status", ["path", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "fmnist_predict_seconds", "Time to answer POST /predict", registry=self.registry, buckets=BUCKETS
        )
        self.infer_latency = Histogram(
            "fmnist_infer_seconds", "Time to answer an Open Inference Protocol infer request", registry=self.registry,
            buckets=BUCKETS,
        )  # fmt: skip
        self.images = Counter("fmnist_images", "Images classified", registry=self.registry)
