"""`fmnist bench compare`: known shifts between synthetic reports are found, with intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_fmnist

from fmnist.bench import compare


def report(shifts: dict[str, float | None], seed: int, cpu: str = "AMD EPYC") -> dict:
    """A bench report with one row per format; its batch-1 samples are 20 µs noise times the shift
    (None: a report from before samples were kept)."""
    rng = np.random.default_rng(seed)
    rows = []
    for fmt, shift in shifts.items():
        samples = 20 * (shift or 1) * rng.lognormal(0, 0.05, 2000)
        rows.append({
            "artifact": f"edge/{fmt}", "format": fmt, "call": "Classifier", "threads": 1,
            "latency_us": {"p50": float(np.median(samples))},
            "throughput": {"1": 1e6 / float(np.median(samples)), "256": 50_000 / (shift or 1)},
            **({"latency_samples_us": samples.round(2).tolist()} if shift is not None else {}),
        })  # fmt: skip
    return {"machine": {"cpu": cpu, "cores": 2}, "settings": {"batches": ["1", "256"]}, "rows": rows}


BASE = {"onnx": 1.0, "onnx-int8": 1.0, "tflite": 1.0, "tflite-int8": 1.0}
NEW = {"onnx": 0.9, "onnx-int8": 1.1, "tflite": 1.0, "tflite-int8": None}


def test_known_shifts_are_found_faster_slower_or_the_same():
    changes = {c.key[1]: c for c in compare.changes(report(BASE, 1), report(NEW, 2))}
    assert {fmt: c.verdict for fmt, c in changes.items()} == {
        "onnx": "faster", "onnx-int8": "slower", "tflite": "same", "tflite-int8": "unknown",
    }  # fmt: skip
    faster = changes["onnx"]
    assert faster.low < 0.9 < faster.high < 0.92 and faster.ratio == pytest.approx(0.9, abs=0.01)
    assert faster.throughput["256"] == pytest.approx(1 / 0.9)
    assert changes["tflite"].low < 1 < changes["tflite"].high
    assert [c.key[1] for c in compare.regressions(list(changes.values()), 5)] == ["onnx-int8"]
    assert compare.regressions(list(changes.values()), 15) == []


def test_the_command_compares_and_gates(tmp_path):
    for name, shifts, seed in (("base", BASE, 1), ("new", NEW, 2)):
        (tmp_path / f"{name}.json").write_text(json.dumps(report(shifts, seed)))
    paths = [str(tmp_path / "base.json"), str(tmp_path / "new.json")]
    result = run_fmnist("bench", "compare", *paths, "--fail-slower", "5", "--plot", str(tmp_path / "c.png"))
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "1 rows slower than the base by more than 5 % with 95 % confidence: edge/onnx-int8/Classifier/1"
    )
    lines = result.stdout.splitlines()
    assert any("edge/onnx Classifier ×1" in line and "faster" in line for line in lines)
    assert any("edge/tflite-int8" in line and "interval unknown" in line for line in lines)
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    result = run_fmnist("bench", "compare", *paths, "--fail-slower", "15", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)["compared"][0]["rows"]
    assert [r["verdict"] for r in rows] == ["faster", "slower", "same", "unknown"]


def test_reports_from_other_machines_are_named_and_bad_files_refused(tmp_path):
    (tmp_path / "x86.json").write_text(json.dumps(report(BASE, 1)))
    (tmp_path / "pi.json").write_text(json.dumps(report(NEW, 2, cpu="Raspberry Pi 5 Model B (Cortex-A76)")))
    result = run_fmnist("bench", "compare", str(tmp_path / "x86.json"), str(tmp_path / "pi.json"))
    assert result.returncode == 0
    assert (
        "note: base on AMD EPYC, new on Raspberry Pi 5 Model B (Cortex-A76): the ratios compare the machines too"
        in result.stdout
    )
    (tmp_path / "other.json").write_text(json.dumps({"rows": [], "machine": {"cpu": "x"}}))
    result = run_fmnist("bench", "compare", str(tmp_path / "x86.json"), str(tmp_path / "other.json"))
    assert (
        result.returncode == 2
        and result.stderr.strip() == "error: the reports share no row (model, format, call, threads)"
    )
    (tmp_path / "notes.json").write_text("{}")
    result = run_fmnist("bench", "compare", str(tmp_path / "x86.json"), str(tmp_path / "notes.json"))
    assert result.returncode == 2 and "notes.json: not an fmnist bench report" in result.stderr


def test_the_plot_takes_a_ratio_just_outside_its_interval(tmp_path):
    from fmnist import plots

    edge = compare.Change(("edge", "tflite-int8", "runtime", 1), 19.8, 20.0, 1.0101, 1.006, 1.0099, {"1": 1.0})
    plots.comparison([("after.json", [edge])], tmp_path / "compare.png")
    assert (tmp_path / "compare.png").stat().st_size > 0


def lognormal_pair(seed: int, size: int, sigma: float = 0.05) -> tuple[list[float], list[float]]:
    """Two runs of the same 20 µs call: no change between them."""
    rng = np.random.default_rng(seed)
    return (20 * rng.lognormal(0, sigma, size)).tolist(), (20 * rng.lognormal(0, sigma, size)).tolist()


def test_the_interval_is_as_wide_as_a_95_percent_interval_of_a_median_ratio():
    """For lognormal samples the log of a median has a standard error of √(π/2)·σ/√n, so the
    95 % interval of a ratio of two medians is 2 × 1.96 × √2 × that wide (0.0078 here); a 90 %
    or 99.9 % interval would be 0.84× or 1.68× as wide. The mean of ten seeded widths is 0.0080."""
    widths = [np.subtract(*compare.interval(*lognormal_pair(seed, 2000))[::-1]) for seed in range(10)]
    expected = 2 * 1.96 * np.sqrt(2) * np.sqrt(np.pi / 2) * 0.05 / np.sqrt(2000)
    assert np.mean(widths) == pytest.approx(expected, rel=0.08)


def test_a_95_percent_interval_holds_the_truth_95_percent_of_the_time():
    """300 seeded pairs with no change: the interval holds 1 in 96.3 % of them. Binomial noise
    is ±1.3 points; a 90 % interval would hold it about 90 % of the time, a 99.9 % one always."""
    held = [low <= 1 <= high for low, high in (compare.interval(*lognormal_pair(seed, 300)) for seed in range(300))]
    assert 0.92 <= np.mean(held) <= 0.98


def change(low: float, high: float) -> compare.Change:
    return compare.Change(
        ("edge", "onnx", "Classifier", 1), 20.0, 20 * (low + high) / 2, (low + high) / 2, low, high, {}
    )


@pytest.mark.parametrize(
    "low, high, verdict, slower_than_5_percent",
    [
        (0.90, 0.99, "faster", False),
        (0.99, 1.01, "same", False),
        (1.01, 1.20, "slower", False),  # slower, but maybe by less than 5 %
        (1.049, 1.20, "slower", False),  # the gate reads the interval's lower end
        (1.0499, 1.06, "slower", False),
        (1.05, 1.06, "slower", False),  # at the threshold: not past it
        (1.051, 1.06, "slower", True),
    ],
)
def test_the_regression_gate_fires_only_when_the_whole_interval_is_past_it(low, high, verdict, slower_than_5_percent):
    found = change(low, high)
    assert found.verdict == verdict
    assert compare.regressions([found], 5) == ([found] if slower_than_5_percent else [])


def test_rows_match_by_model_format_call_and_threads_and_keep_both_medians():
    base, new = report(BASE, 1), report(NEW, 2)
    for row in base["rows"]:
        del row["call"]  # a report from before the call was recorded: the Classifier's
    other = {**new["rows"][0], "artifact": "default/onnx", "latency_us": {"p50": 99.0}}  # another model, same format
    new["rows"] = [{**new["rows"][1], "artifact": "edge/keras-call", "format": "keras-call"}, other, *new["rows"]]
    found = compare.changes(base, new)
    assert [c.key for c in found] == [("edge", fmt, "Classifier", 1) for fmt in NEW]  # the unmatched ones left out
    onnx = found[0]
    assert (onnx.base_p50, onnx.new_p50) == (base["rows"][0]["latency_us"]["p50"], new["rows"][2]["latency_us"]["p50"])
    assert onnx.ratio == onnx.new_p50 / onnx.base_p50


def test_a_report_is_loaded_or_refused_with_the_reason(tmp_path):
    good = report(BASE, 1)
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert compare.load(tmp_path / "good.json") == good
    refusals = {
        "broken.json": ("{ not json", "Expecting property name enclosed in double quotes: line 1 column 3 (char 2)"),
        "list.json": ("[]", "no rows or no machine"),
        "rowless.json": (json.dumps({"machine": {"cpu": "x"}, "rows": {}}), "no rows or no machine"),
        "machineless.json": (json.dumps({"machine": {}, "rows": []}), "no rows or no machine"),
        "unnamed.json": (json.dumps({"rows": []}), "no rows or no machine"),
    }
    for name, (text, reason) in refusals.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(compare.FmnistError) as refused:
            compare.load(tmp_path / name)
        assert str(refused.value) == f"{tmp_path / name}: not an fmnist bench report (bench.json): {reason}"
    with pytest.raises(
        compare.FmnistError, match=r"missing.json: not an fmnist bench report \(bench.json\): \[Errno 2\]"
    ):
        compare.load(tmp_path / "missing.json")


def test_the_json_names_each_report_its_machine_and_every_change():
    base, new, newer = report(BASE, 1), report(NEW, 2, cpu="Intel Xeon"), report(NEW, 3, cpu="Raspberry Pi 5")
    found = [compare.changes(base, new), compare.changes(base, newer)]
    written = compare.to_json([(Path("a.json"), base), (Path("b.json"), new), (Path("c.json"), newer)], found)
    assert written["base"] == {"report": "a.json", "machine": {"cpu": "AMD EPYC", "cores": 2}}
    assert [c["report"] for c in written["compared"]] == ["b.json", "c.json"]
    assert written["compared"][1]["machine"] == {"cpu": "Raspberry Pi 5", "cores": 2}
    first = written["compared"][0]["rows"][0]
    change = found[0][0]
    assert first == {
        "key": ["edge", "onnx", "Classifier", 1], "base_p50": change.base_p50, "new_p50": change.new_p50,
        "ratio": change.ratio, "low": change.low, "high": change.high, "throughput": change.throughput,
        "verdict": "faster",
    }  # fmt: skip
    assert json.loads(json.dumps(written)) == written


def test_the_interval_is_the_same_on_every_run_of_the_same_reports():
    base, new = lognormal_pair(3, 500)
    assert compare.interval(base, new) == compare.interval(base, new)  # seeded resampling


def test_the_interval_ends_at_the_2_5th_and_97_5th_percentiles_of_the_bootstrap_medians():
    """Against a steady base, the ratio is the bootstrap median of the new samples. Of 39 samples,
    14 at 1 and 25 at 2, 60 of the 2,000 seeded medians (3.0 %) are 1: the 2.5th percentile is 1, a
    3.5th would be 2. Of 33 samples, 22 at 1 and 11 at 2, 41 medians (2.05 %) are 2: the 97.5th
    percentile is 1, a 98.5th would be 2."""
    assert compare.interval([1.0] * 39, [1.0] * 14 + [2.0] * 25) == (1.0, 2.0)
    assert compare.interval([1.0] * 33, [1.0] * 22 + [2.0] * 11) == (1.0, 1.0)
