"""Timing of one inference function: batch-1 latency percentiles and throughput per batch size.

Every call is timed on its own with `perf_counter_ns`; warm-up calls are not timed. Inputs
cycle through the same images in the same order for every function measured.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Infer = Callable[[np.ndarray], object]


@dataclass(frozen=True)
class Budget:
    """How long to measure: `iterations` timed calls, fewer when `seconds` run out (at least 10)."""

    iterations: int = 2000
    warmup: int = 50
    seconds: float = 10.0


@dataclass(frozen=True)
class Latency:
    """Batch-1 latency in µs, and how many calls were timed."""

    p50: float
    p90: float
    p99: float
    min: float
    max: float
    calls: int
    samples: tuple[float, ...] = field(repr=False, default=())  # every timed call, in order: for intervals

    def summary(self) -> dict:
        """The figures without the samples."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "samples"}


MIN_CALLS = 10


def timed_calls(fn: Infer, batches: list[np.ndarray], budget: Budget) -> np.ndarray:
    """Nanoseconds of each timed call of `fn`, after `budget.warmup` untimed ones."""
    for i in range(budget.warmup):
        fn(batches[i % len(batches)])
    times, deadline = [], time.perf_counter() + budget.seconds
    for i in range(budget.iterations):
        batch = batches[i % len(batches)]
        started = time.perf_counter_ns()
        fn(batch)
        times.append(time.perf_counter_ns() - started)
        if len(times) >= MIN_CALLS and time.perf_counter() > deadline:
            break
    return np.array(times, dtype=np.float64)


def batches_of(pixels: np.ndarray, size: int, count: int = 64) -> list[np.ndarray]:
    """Up to `count` consecutive contiguous batches of `size` images, cycling through `pixels`."""
    starts = [(i * size) % max(len(pixels) - size + 1, 1) for i in range(count)]
    return [np.ascontiguousarray(pixels[s : s + size]) for s in starts]


def latency(fn: Infer, pixels: np.ndarray, budget: Budget) -> Latency:
    """Batch-1 latency of `fn` over the first 1,000 images."""
    times = timed_calls(fn, batches_of(pixels, 1, 1000), budget) / 1000
    p50, p90, p99 = np.percentile(times, [50, 90, 99])
    return Latency(
        round(float(p50), 1),
        round(float(p90), 1),
        round(float(p99), 1),
        round(float(times.min()), 1),
        round(float(times.max()), 1),
        len(times),
        tuple(np.round(times, 2).tolist()),
    )


def throughput(fn: Infer, pixels: np.ndarray, batch: int, budget: Budget) -> float:
    """Images per second at this batch size, from the median call time."""
    scaled = Budget(max(MIN_CALLS, budget.iterations // batch), max(2, budget.warmup // batch), budget.seconds)
    times = timed_calls(fn, batches_of(pixels, batch), scaled)
    return round(batch / (float(np.median(times)) / 1e9), 1)
