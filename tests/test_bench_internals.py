"""Bench internals on their own, fast: timing arithmetic against a fake clock, report rendering
of a known report, and the cold-start child's closing lines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from fmnist.bench import cold_start, measure, report
from fmnist.bench.process import ProcessRun
from fmnist.bench.row import Row


class Clock:
    """A stand-in for the `time` module: time passes only when the measured function runs."""

    def __init__(self, ns_per_image: int):
        self.ns, self.ns_per_image, self.calls = 0, ns_per_image, 0

    def perf_counter_ns(self) -> int:
        return self.ns

    def perf_counter(self) -> float:
        return self.ns / 1e9

    def infer(self, batch: np.ndarray) -> None:
        self.calls += 1
        self.ns += self.ns_per_image * len(batch) * (3 if self.calls % 10 == 0 else 1)  # every 10th call is slow


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(ns_per_image=20_000)
    monkeypatch.setattr(measure, "time", fake)
    return fake


PIXELS = np.arange(50 * 28 * 28, dtype=np.uint8).reshape(50, 28, 28, 1) % 251


def test_latency_times_each_call_after_the_untimed_warmup(clock):
    latency = measure.latency(clock.infer, PIXELS, measure.Budget(iterations=100, warmup=5, seconds=60))
    assert clock.calls == 105 and latency.calls == 100
    assert (latency.min, latency.p50, latency.p99, latency.max) == (20.0, 20.0, 60.0, 60.0)
    assert latency.p90 == 24.0  # 10 of the 100 calls were slow: interpolated between the 90th and 91st


def test_a_spent_time_budget_stops_after_the_minimum_number_of_calls(clock):
    times = measure.timed_calls(clock.infer, measure.batches_of(PIXELS, 1), measure.Budget(1000, 0, seconds=0))
    assert len(times) == measure.MIN_CALLS


def test_throughput_is_images_per_second_of_the_median_call(clock):
    assert measure.throughput(clock.infer, PIXELS, 32, measure.Budget(200, 10, 60)) == pytest.approx(50_000)


def test_batches_cycle_through_the_images_in_order():
    batches = measure.batches_of(PIXELS, 8, count=10)
    assert [len(b) for b in batches] == [8] * 10 and all(b.flags.c_contiguous for b in batches)
    assert np.array_equal(batches[1], PIXELS[8:16])
    assert np.array_equal(batches[6], PIXELS[5:13])  # 43 possible starts: the 7th wraps round to 48 % 43
    assert [len(b) for b in measure.batches_of(PIXELS[:3], 8, count=2)] == [3, 3]  # fewer images than a batch
    assert len(measure.batches_of(PIXELS, 8)) == 64  # what throughput cycles through by default


def _report(emulated: str | None = None, images: int = 10000) -> dict:
    row = {
        "artifact": "edge/tflite-int8", "file": "model.int8.tflite", "format": "tflite-int8", "precision": "int8",
        "threads": 1, "bytes": 63_488, "accuracy": 0.929, "reference": "onnx", "delta_accuracy": 0.0004,
        "agreement": 0.997, "latency_us": {"p50": 26.8, "p90": 28.1, "p99": 40.2, "min": 25.9, "max": 167.0},
        "throughput": {"1": 37_000.0, "256": 91_825.4}, "cold_start_ms": 186.4, "peak_rss_mb": 46.2,
        "macs": 1_950_592, "gmacs": 179.1,
    }  # fmt: skip
    keras = {**row, "artifact": "edge/keras-call", "format": "keras-call", "precision": "float32", "threads": 0,
             "reference": None, "delta_accuracy": None, "agreement": None, "cold_start_ms": None,
             "peak_rss_mb": None, "gmacs": None}  # fmt: skip
    bare = {**row, "call": "runtime", "cold_start_ms": None, "peak_rss_mb": None}
    machine = {"cpu": "AMD EPYC", "cores": 2, "os": "Linux", "python": "3.11.7", "packages": {"numpy": "2.3"}}
    return {
        "command": "fmnist bench", "date": "2026-11-30T00:00:00Z", "machine": {**machine, "emulated": emulated},
        "settings": {"batches": ["1", "256"], "images": images}, "rows": [keras, row, bare], "notes": ["a note"],
    }  # fmt: skip


def test_cells_follow_the_headers_and_show_a_dash_for_what_was_not_measured():
    result = _report()
    names = report.headers(["1", "256"])
    assert names[-5:] == ["img/s @1", "img/s @256", "cold ms", "RSS MB", "GMAC/s"]
    keras, tflite, bare = (
        dict(zip(names, report.cells(Row.from_json(r), ["1", "256"]), strict=True)) for r in result["rows"]
    )
    assert (tflite["call"], bare["call"], bare["cold ms"]) == ("Classifier", "runtime", "–")  # no call: Classifier
    assert tflite["size"] == "62 KiB" and tflite["Δ acc"] == "+0.04 pp" and tflite["agreement"] == "99.70%"
    assert tflite["p50 µs"] == "26.8" and tflite["min–max µs"] == "26–167" and tflite["img/s @256"] == "91,825"
    assert (keras["threads"], keras["Δ acc"], keras["cold ms"], keras["GMAC/s"]) == ("auto", "–", "–", "–")


def test_markdown_names_the_machine_and_marks_emulated_timings():
    text = report.markdown(_report())
    assert "AMD EPYC, 2 cores, Linux, Python 3.11.7; numpy 2.3" in text and "- a note" in text
    assert "| edge/tflite-int8 | Classifier | 1 | 62 KiB | 92.90% |" in text and "(emulated)" not in text
    emulated = report.markdown(_report("qemu-aarch64 cortex-a72", images=300))
    assert "**EMULATED (qemu-aarch64 cortex-a72): timings and memory are the emulator's" in emulated
    assert "| p50 µs (emulated) |" in emulated and "| accuracy |" in emulated  # accuracy stays meaningful
    assert "Accuracy on the first 300 of the 10,000 test images." in emulated


def test_csv_has_one_flat_row_per_artifact():
    rows = list(csv.DictReader(io.StringIO(report.flat_csv(_report("qemu")))))
    assert [(r["artifact"], r["call"]) for r in rows] == [
        ("edge/keras-call", "Classifier"),
        ("edge/tflite-int8", "Classifier"),
        ("edge/tflite-int8", "runtime"),
    ]
    assert rows[1]["latency_us_p99"] == "40.2" and rows[1]["images_per_s_batch_256"] == "91825.4"
    assert rows[0]["agreement"] == "" and {r["emulated"] for r in rows} == {"qemu"}


def test_terminal_tables_split_quality_from_speed():
    quality, speed = report.rich_tables(_report())
    assert [c.header for c in quality.columns][-2:] == ["cold ms", "RSS MB"]
    assert [c.header for c in speed.columns][:5] == ["artifact", "call", "threads", "p50 µs", "p90 µs"]
    assert quality.row_count == 2 and speed.row_count == 3  # a runtime row's accuracy and size are its file's


def test_the_cold_start_child_reports_its_machine_and_peak_memory():
    run = ProcessRun(0.2, 99.0, 0, "noise\nmachine aarch64\npeak_kb 40960\n", "")
    assert cold_start._reported(run) == {"machine": "aarch64", "peak_kb": "40960"}
    assert cold_start._peak_mb(run) == 40.0
    assert cold_start._peak_mb(ProcessRun(0.2, 99.0, 0, "machine x86_64\npeak_kb \n", "")) == 99.0  # no /proc
    assert cold_start.measure("runtime", Path("unused.tflite"), 1, 0) is None  # --cold-starts 0


class Ramp:
    """A stand-in for `time` where each call takes a little longer than the last, so every
    percentile and rounding shows; it records the first pixel of each batch it is given."""

    def __init__(self, ns_per_image: int, ns_more_per_call: int):
        self.ns, self.ns_per_image, self.more, self.seen = 0, ns_per_image, ns_more_per_call, []

    def perf_counter_ns(self) -> int:
        return self.ns

    def perf_counter(self) -> float:
        return self.ns / 1e9

    def infer(self, batch: np.ndarray) -> None:
        self.seen.append(int(batch.reshape(len(batch), -1)[0, 0]))
        self.ns += self.ns_per_image * len(batch) + self.more * len(self.seen)


IMAGES = np.repeat(np.arange(1200, dtype=np.int64) % 256, 28 * 28).astype(np.uint8).reshape(1200, 28, 28, 1)


def test_latency_reports_each_percentile_of_every_timed_call_rounded_to_a_tenth(monkeypatch):
    ramp = Ramp(20_347, 13)
    monkeypatch.setattr(measure, "time", ramp)
    latency = measure.latency(ramp.infer, IMAGES, measure.Budget(iterations=1100, warmup=5, seconds=60))
    expected = (20_347 + 13 * np.arange(6, 1106)) / 1000  # µs of the timed calls, after five untimed ones
    p50, p90, p99 = np.percentile(expected, [50, 90, 99])
    assert (latency.p50, latency.p90, latency.p99) == (round(p50, 1), round(p90, 1), round(p99, 1))
    assert (latency.min, latency.max, latency.calls) == (round(expected.min(), 1), round(expected.max(), 1), 1100)
    assert latency.samples == tuple(np.round(expected, 2).tolist())
    assert latency.summary() == {"p50": latency.p50, "p90": latency.p90, "p99": latency.p99,
                                 "min": latency.min, "max": latency.max, "calls": 1100}  # fmt: skip
    cycled = np.concatenate([np.arange(5), np.arange(1100) % 1000])  # warm-up, then timed calls from the start
    assert ramp.seen == (cycled % 256).tolist()  # one image a call, through the first 1,000


def test_throughput_scales_the_budget_to_the_batch_and_rounds_to_a_tenth(monkeypatch):
    ramp = Ramp(20_347, 0)
    monkeypatch.setattr(measure, "time", ramp)
    images_per_s = measure.throughput(ramp.infer, IMAGES, 32, measure.Budget(iterations=640, warmup=100, seconds=60))
    assert len(ramp.seen) == 3 + 20  # warm-up 100 // 32 calls, then 640 // 32 timed ones
    assert images_per_s == round(32 / (32 * 20_347 / 1e9), 1) == 49147.3
    ramp.seen.clear()
    measure.throughput(ramp.infer, IMAGES, 256, measure.Budget(iterations=640, warmup=100, seconds=60))
    assert len(ramp.seen) == 2 + measure.MIN_CALLS  # never fewer than these


def test_a_bench_row_reads_back_what_it_wrote_and_older_reports():
    from fmnist.errors import FmnistError

    row = Row(
        "edge/tflite-int8", "tflite-int8", 1, {"p50": 20.0}, {"1": 50000.0}, accuracy=0.93, latency_samples_us=[20.0]
    )
    assert Row.from_json(row.to_json()) == row
    assert row.key == ("edge", "tflite-int8", "Classifier", 1) and row.model == "edge"
    older = {k: v for k, v in row.to_json().items() if k not in ("call", "latency_samples_us")} | {"unknown": 1}
    assert Row.from_json(older) == Row(**{**row.to_json(), "latency_samples_us": []})
    with pytest.raises(
        FmnistError, match=r"^not a bench report row: missing 1 required positional argument: 'threads'$"
    ):
        Row.from_json({k: v for k, v in row.to_json().items() if k != "threads"})


def test_a_batch_as_large_as_the_images_is_always_all_of_them():
    assert all(np.array_equal(b, PIXELS[:3]) for b in measure.batches_of(PIXELS[:3], 3, count=4))


def test_throughput_keeps_its_precision_for_very_fast_calls(monkeypatch):
    fast = Clock(ns_per_image=1)
    monkeypatch.setattr(measure, "time", fast)
    assert measure.throughput(fast.infer, PIXELS, 32, measure.Budget(200, 10, 60)) == 1e9  # 32 images in 32 ns


def test_throughput_keeps_the_time_budget_given(clock):
    measure.throughput(clock.infer, PIXELS, 32, measure.Budget(100_000, 0, seconds=0.01))
    assert clock.calls < 100  # 0.64 ms a call: 0.01 s is spent after about 16 calls, not the default 10 s
