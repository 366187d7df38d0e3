"""Write report.md and report.json of a mutation run from mutmut's own verdicts (`mutmut results --all true`).

Usage: report.py RESULTS_TXT RUN_LOG OUT_DIR --wall SECONDS --clean SECONDS --tests N --children N
                 [--commit C] [--parts N]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import tomllib

COLUMNS = ["killed", "survived", "timeout", "no tests", "suspicious"]


def parse(results: str) -> list[dict]:
    """One dict per mutant: name, file, function, status (mutmut's words)."""
    mutants = []
    for line in results.splitlines():
        m = re.fullmatch(r"\s+(\S+): (.+)", line)
        if not m:
            continue
        name, status = m.groups()
        module, mangled = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)
        function = mangled[2:] if mangled.startswith("x_") else ".".join(mangled.split("ǁ")[1:])
        mutants.append({"name": name, "file": module.replace(".", "/") + ".py", "function": function, "status": status})
    return mutants


def tally(mutants: list[dict]) -> dict:
    counts = collections.Counter(m["status"] for m in mutants)
    row: dict[str, Any] = {c: counts.pop(c, 0) for c in COLUMNS}
    row["other"] = dict(counts)  # "not checked", "segfault", ...: an interrupted or broken run
    row["total"] = len(mutants)
    tested = row["total"] - row["no tests"]
    row["killed_pct"] = round(100 * row["killed"] / row["total"], 1) if row["total"] else None
    row["killed_pct_of_tested"] = round(100 * row["killed"] / tested, 1) if tested else None
    return row


def sh(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def cpu_model() -> str:
    out = sh("lscpu")
    found = re.search(r"^Model name:\s*(.+)$", out, re.M)
    return found.group(1).strip() if found else platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path)
    ap.add_argument("log", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--wall", type=int, required=True)
    ap.add_argument("--clean", type=float, required=True)
    ap.add_argument("--tests", type=int, required=True)
    ap.add_argument("--children", type=int, required=True)
    ap.add_argument("--commit", help="what was measured (default: HEAD now)")
    ap.add_argument("--parts", type=int, default=1, help="runs it took: a stopped run resumed at the same commit")
    args = ap.parse_args()

    mutants = parse(args.results.read_text())
    by_file: dict[str, list[dict]] = collections.defaultdict(list)
    for m in mutants:
        by_file[m["file"]].append(m)
    rows = {name: tally(ms) for name, ms in sorted(by_file.items())}
    log = args.log.read_text(errors="replace") if args.log.exists() else ""
    rate = re.findall(r"([\d.]+) mutations/second", log)
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": args.commit or sh("git", "rev-parse", "--short", "HEAD"),
        "cpu": cpu_model(),
        "cores": sh("nproc"),
        "python": platform.python_version(),
        "mutmut": metadata.version("mutmut"),
        "config": config,
        "tests_selected": args.tests,
        "clean_run_seconds": args.clean,
        "max_children": args.children,
        "wall_seconds": args.wall,
        "parts": args.parts,
        "mutations_per_second": float(rate[-1]) if rate else None,
        "total": tally(mutants),
        "modules": rows,
        "survivors": {row: sorted(m["name"] for m in ms if m["status"] == "survived") for row, ms in by_file.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    def line(name: str, r: dict) -> str:
        pct = lambda v: "–" if v is None else f"{v:.1f} %"  # noqa: E731
        cells = [str(r[c]) for c in COLUMNS] + [str(r["total"]), pct(r["killed_pct"]), pct(r["killed_pct_of_tested"])]
        return f"| {name} | " + " | ".join(cells) + " |"

    rate_text = "an unknown rate (not in the log)"
    if rate:
        tested = report["total"]["total"] - report["total"]["no tests"]
        rate_text = f"{float(rate[-1]):.2f} mutants/s ({1 / float(rate[-1]):.1f} s each, wall; {tested} had tests)"
    md = [
        "# Mutation testing",
        "",
        f"`bash benchmarks/mutation.sh`, {report['date']}, commit {report['commit']} "
        "(fmnist/ and tests/ as copied into mutants/ when the run started).",
        f"CPU: {report['cpu']}, {report['cores']} cores; Python {report['python']}, mutmut {report['mutmut']}.",
        f"Tests: the {args.tests} that need no trained model (benchmarks/mutation/selection.py); "
        f"their clean run took {args.clean:.0f} s.",
        f"Wall time {args.wall // 60} min {args.wall % 60} s, the clean run and mutmut's"
        + (f" in the last of {args.parts} parts (a stopped run resumed at the same commit)" if args.parts > 1 else "")
        + f"; mutants ran at {rate_text} with {args.children} children.",
        "",
        "% killed: killed / all mutants; % of tested: killed / (all − no tests). A mutant that survives or has no "
        "test is a change to the code that no selected test notices. Timed out: mutmut's `timeout`, which also "
        "takes exit status 255, pytest stopping on an error of its own under the mutant.",
        "",
        "| module | killed | survived | timed out | no tests | suspicious | total | % killed | % of tested |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(line(name, r) for name, r in rows.items()),
        line("**all**", report["total"]),
        "",
    ]
    others = {name: r["other"] for name, r in rows.items() if r["other"]}
    if others:  # mutmut's "segfault" is also a child killed by SIGKILL, as at its CPU limit
        md += [f"Other verdicts: {json.dumps(others)} (segfault: killed by a signal; not checked: never run).", ""]
    md += ["## Survivors", "", "`mutmut show NAME` shows one; survivors.md says what each needs.", ""]
    for row, names in sorted(report["survivors"].items()):
        if names:
            md += [f"### {row} ({len(names)})", "", *(f"- `{n}`" for n in names), ""]
    (args.out / "report.md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
