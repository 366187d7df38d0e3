"""Write survivors.md of a mutation run: each surviving mutant's change and its verdict.

Usage: survivors.py REPORT_JSON OUT_MD   (run where mutants/ is, after benchmarks/mutation.sh)

A verdict comes from verdicts.json beside this script, matched on the module, the function and
the changed lines (not the mutant's number, which moves when the function changes): why the
change cannot alter what a caller observes. A survivor without one is listed as needing a test.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

VERDICTS = Path(__file__).with_name("verdicts.json")
NEEDS_A_TEST = "needs a test"
KILLED_SINCE = "killed by "  # a verdict naming the test, written after the run, that kills it
GONE = "gone: "  # the code the mutant changed was changed after the run


def changed_lines(name: str) -> str:
    """The lines `mutmut show` marks as removed or added, stripped of indentation."""
    shown = subprocess.run(["mutmut", "show", name], capture_output=True, text=True, check=True).stdout
    lines = [line for line in shown.splitlines() if line[:1] in "-+" and not line.startswith(("---", "+++"))]
    return "\n".join(line[0] + line[1:].strip() for line in lines)


def function_of(name: str) -> str:
    mangled = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[1]
    return mangled[2:] if mangled.startswith("x_") else ".".join(mangled.split("ǁ")[1:])


def main() -> None:
    report, out = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
    known = {(v["module"], v["function"], v["diff"]): v["verdict"] for v in json.loads(VERDICTS.read_text())}
    table, body = [], []
    for module, names in sorted(report["survivors"].items()):
        if not names:
            continue
        by_function: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
        for name in names:
            diff = changed_lines(name)
            verdict = known.get((module, function_of(name), diff), NEEDS_A_TEST)
            by_function[function_of(name)].append((name, diff, verdict))
        found = [entry for entries in by_function.values() for entry in entries]
        killed = sum(verdict.startswith((KILLED_SINCE, GONE)) for _, _, verdict in found)
        needs = sum(verdict.startswith(NEEDS_A_TEST) for _, _, verdict in found)
        table.append(f"| {module} | {len(found)} | {len(found) - killed - needs} | {killed} | {needs} |")
        body += [f"## {module}", ""]
        for function, entries in sorted(by_function.items()):
            body += [f"### `{function}` ({len(entries)})", ""]
            for name, diff, verdict in entries:
                short = name.rsplit(".", 1)[1]
                body += [f"- `{short}`: {verdict}", "  ```diff", *(f"  {line}" for line in diff.splitlines()), "  ```"]
            body.append("")
    total = sum(len(names) for names in report["survivors"].values())
    head = [
        "# Surviving mutants",
        "",
        f"The {total} mutants that survived the run in report.md (commit {report['commit']}, {report['date']}), by "
        "module and function: the change (`mutmut show NAME`, shortened to the changed lines) and its verdict. "
        '"equivalent": the change cannot alter what a caller observes (a qualifier says where that holds); '
        f'"{KILLED_SINCE}…": a test written after the run fails under it; "{GONE}…": the code it changed was '
        f'changed after the run; "{NEEDS_A_TEST}": no test checks the behaviour it changes (a qualifier may say '
        "why none can in the run's selection). Verdicts: benchmarks/mutation/verdicts.json.",
        "",
        "| module | survived | equivalent | killed or gone since | needs a test |",
        "|---|---:|---:|---:|---:|",
        *table,
        "",
    ]
    out.write_text("\n".join(head + body))


if __name__ == "__main__":
    main()
