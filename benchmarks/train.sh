#!/usr/bin/env bash
# Reproduce benchmarks/results/train/: train every architecture with its default settings
# on the full dataset, one after another, and copy each run's record here with the machine.
# Usage: bash benchmarks/train.sh [ARCH ...]   (default: edge cnn mlp)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
results=benchmarks/results/train
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(edge cnn mlp)
for arch in "${archs[@]}"; do
    .venv/bin/fmnist train --arch "$arch" --name "$arch" --overwrite
    mkdir -p "$results/$arch"
    cp "runs/$arch"/{config,history,metrics}.json "$results/$arch/"
    cp -r "runs/$arch/plots" "$results/$arch/"
done
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    lscpu | grep -E "^(Model name|CPU\(s\)|Thread|Flags)" | cut -c1-200
    free -g | head -2
    .venv/bin/python --version
    .venv/bin/python -m pip list 2>/dev/null | grep -iE "^(tensorflow|keras|numpy) "
} > "$results/machine.txt"
