"""Timing of one inference function: batch-1 latency percentiles and throughput per batch size.

Every call is timed on its own with `perf_counter_ns`; warm-up calls are not timed. Inputs
cycle through the same images in the same order for every function measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Budget:
    """How long to measure: `iterations` timed calls, fewer when `seconds` run out (at least 10)."""

    iterations: int = 2000
    warmup: int = 50
    seconds: float = 10.0


def _timed_calls(fn, batches, budget: Budget) -> np.ndarray:
    for i in range(budget.warmup):
        fn(batches[i % len(batches)])
    times, deadline = [], time.perf_counter() + budget.seconds
    for i in range(budget.iterations):
        batch = batches[i % len(batches)]
        started = time.perf_counter_ns()
        fn(batch)
        times.append(time.perf_counter_ns() - started)
        if len(times) >= 10 and time.perf_counter() > deadline:
            break
    return np.array(times, dtype=np.float64)


def batches_of(pixels: np.ndarray, size: int, count: int = 64) -> list[np.ndarray]:
    """Up to `count` consecutive contiguous batches of `size` images, cycling through `pixels`."""
    starts = [(i * size) % max(len(pixels) - size + 1, 1) for i in range(count)]
    return [np.ascontiguousarray(pixels[s:s + size]) for s in starts]


def latency(fn, pixels: np.ndarray, budget: Budget) -> dict:
    """Batch-1 latency in µs: p50, p90, p99, min, max and the number of timed calls."""
    times = _timed_calls(fn, batches_of(pixels, 1, 1000), budget) / 1000
    p50, p90, p99 = np.percentile(times, [50, 90, 99])
    return {"p50": round(p50, 1), "p90": round(p90, 1), "p99": round(p99, 1),
            "min": round(times.min(), 1), "max": round(times.max(), 1), "calls": len(times)}


def throughput(fn, pixels: np.ndarray, batch: int, budget: Budget) -> float:
    """Images per second at this batch size, from the median call time."""
    scaled = Budget(max(10, budget.iterations // batch), max(2, budget.warmup // batch), budget.seconds)
    times = _timed_calls(fn, batches_of(pixels, batch), scaled)
    return round(batch / (np.median(times) / 1e9), 1)
