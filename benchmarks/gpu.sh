#!/usr/bin/env bash
# The shipped recipe (edge-n8, 60 epochs, random erasing, EMA) trained on a GPU with JAX, on a bare
# machine that has Python 3.12 and JAX for CUDA but no TensorFlow, no Keras and no package registry.
#
#   bash benchmarks/gpu.sh prepare   # on a machine with the registry: build/gpu/ gets the wheels
#                                    # training lacks there (for Python 3.12) and the dataset files
#   bash benchmarks/gpu.sh run       # on the GPU machine, build/gpu/ beside the project: the runs
#                                    # side by side on the one GPU; writes benchmarks/results/gpu/
#
# RUNS (default "mixed:0 mixed:1 float32:0"): precision:seed of each run; EPOCHS (default 60);
# LIMIT trains on a stratified subset (a quick try). $OUT, when set, gets a copy of the results.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=build/gpu
PY=${PYTHON:-python3}

prepare() {
    rm -rf "$GPU" && mkdir -p "$GPU/wheels" "$GPU/data"
    local keras
    keras=$(.venv/bin/python -c 'import keras; print(keras.__version__)')
    .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$GPU/wheels" "keras==$keras" namex optree typing-extensions absl-py packaging \
        matplotlib contourpy cycler fonttools kiwisolver pyparsing python-dateutil six
    cp "$(.venv/bin/python -c 'from fmnist import data; print(data.find())')"/*-ubyte.gz "$GPU/data/"
    du -sh "$GPU"
}

run() {
    if ! "$PY" -c "import keras" 2>/dev/null; then  # what the machine lacks, from the wheels brought along
        "$PY" -m pip install --quiet --no-index --no-deps --target "$GPU/site" "$GPU"/wheels/*.whl
    fi
    export PYTHONPATH=$PWD/$GPU/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
    export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false  # several processes share the GPU
    [ -d "$GPU/data" ] && export FMNIST_DATA=$PWD/$GPU/data
    local runs="$GPU/runs" started
    rm -rf "$runs" && mkdir -p "$runs"
    started=$(date +%s.%N)
    for spec in ${RUNS:-mixed:0 mixed:1 float32:0}; do
        local precision=${spec%%:*} seed=${spec##*:}
        local name="$precision-seed$seed"
        ( s=$(date +%s.%N)
          "$PY" -m fmnist train --backend jax --arch edge-n8 --epochs "${EPOCHS:-60}" --erase 0.5 --ema 0.999 \
              --seed "$seed" --precision "$precision" ${LIMIT:+--limit "$LIMIT"} --runs-dir "$runs" --name "$name" \
              > "$runs/$name.log" 2>&1
          echo "$s $(date +%s.%N)" > "$runs/$name.wall" ) &  # start and end
    done
    wait
    echo "$started $(date +%s.%N)" > "$runs/all.wall"
    "$PY" benchmarks/gpu_report.py "$runs" benchmarks/results/gpu
    if [ -n "${OUT:-}" ]; then
        mkdir -p "$OUT/gpu" && cp -r benchmarks/results/gpu/. "$OUT/gpu/"
        for run in "$runs"/*/; do  # the trained models come back too, to be exported where TensorFlow is
            mkdir -p "$OUT/gpu/runs/$(basename "$run")" && cp "$run"/*.json "$run/model.keras" "$OUT/gpu/runs/$(basename "$run")/"
        done
    fi
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*) echo "usage: bash benchmarks/gpu.sh prepare|run" >&2; exit 2 ;;
esac
