#!/usr/bin/env bash
# Mutation testing (mutmut) of the modules that decide answers and gates, against the tests that need
# no trained model: writes benchmarks/results/mutation/report.md and report.json. About an hour on
# 2 cores, so not part of CI. What is mutated and which tests run: [tool.mutmut] in pyproject.toml
# and benchmarks/mutation/selection.py. Children in parallel: JOBS (default 2). RESUME=1 goes on with a
# run that was stopped, at the same commit: the verdicts in mutants/ are kept and the rest are run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-2}
OUT=benchmarks/results/mutation

pin=$(grep -o '"mutmut==[^"]*"' pyproject.toml | tr -d '"')
have=$("$PY" -m pip show mutmut 2>/dev/null | sed -n 's/^Version: //p')
[ "$have" = "${pin#mutmut==}" ] || "$PY" -m pip install --quiet -e ".[dev]"
mutmut=$(dirname "$PY")/mutmut

start=$(date +%s)
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- fmnist tests || echo "+uncommitted")  # what is measured
if [ "${RESUME:-0}" = 1 ]; then
    [ "$(cat mutants/commit 2>/dev/null)" = "$commit" ] || { echo "mutants/ is not a run of $commit; run without RESUME"; exit 2; }
    echo "$start" >> mutants/starts
else
    rm -rf mutants && mkdir mutants  # a measured run starts from nothing: no verdict is reused
    echo "$commit" > mutants/commit && echo "$start" > mutants/starts
fi

# the clean run of the same tests, timed (and a check that they pass before an hour is spent)
args=$("$PY" -c 'import tomllib; c = tomllib.load(open("pyproject.toml", "rb"))["tool"]["mutmut"]
print(" ".join(c["pytest_add_cli_args_test_selection"] + c["pytest_add_cli_args"]))')
t0=$(date +%s.%N)
# shellcheck disable=SC2086  # $args is a list of words
"$PY" -m pytest -q -p no:randomly $args > mutants/clean.log 2>&1 || { tail -20 mutants/clean.log; exit 1; }
clean=$(awk "BEGIN { print $(date +%s.%N) - $t0 }")
tests=$(grep -oE '^[0-9]+ passed' mutants/clean.log | grep -oE '^[0-9]+')

"$mutmut" run --max-children "$JOBS" >> mutants/run.log 2>&1 || { tr '\r' '\n' < mutants/run.log | tail -20; exit 1; }
wall=$(( $(date +%s) - start ))

"$mutmut" results --all true > mutants/results.txt
"$PY" benchmarks/mutation/report.py mutants/results.txt mutants/run.log "$OUT" \
    --wall "$wall" --clean "$clean" --tests "$tests" --children "$JOBS" --commit "$commit" \
    --parts "$(wc -l < mutants/starts)"
PATH=$(dirname "$PY"):$PATH "$PY" benchmarks/mutation/survivors.py "$OUT/report.json" "$OUT/survivors.md"
sed -n '1,/^## Survivors/p' "$OUT/report.md"
