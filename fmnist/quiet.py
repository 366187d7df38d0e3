"""Quiet output: only fmnist's own lines, unless `--verbose`.

TensorFlow, absl, oneDNN, CUDA probing and the TFLite converter write start-up chatter from
native code straight to file descriptor 2, ignoring TF_CPP_MIN_LOG_LEVEL for what they print
before logging is set up. `silence()` sends that descriptor through a filter that drops the
known chatter and passes everything else on (real warnings and errors stay visible), while
Python's own output (rich, warnings, tracebacks) keeps writing to the terminal directly.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

NOISE = re.compile(
    "|".join(
        [
            r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
            r"I\d{4} ",  # native INFO lines: oneDNN, CPU features, "Could not find cuda drivers", SavedModel loading
            r"To enable the following instructions: .* rebuild TensorFlow",
            r"W\d{4} .*\] (Ignored output_format|Ignored drop_control_dependency|Skipping runtime version metadata)",
            r"E\d{4} .*(cuInit|cuda_dnn|cuda_fft|cuda_blas|Unable to register cu)",
            r"fully_quantize: \d+, inference_type: \d+",
        ]
    )
)


def is_noise(line: str) -> bool:
    return NOISE.match(line) is not None


def _forward(pipe: int, terminal: int) -> None:
    """Copy lines from `pipe` to `terminal`, dropping the noise."""
    pending = b""
    while chunk := os.read(pipe, 1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        kept = [line for line in lines if not is_noise(line.decode(errors="replace"))]
        if kept:
            os.write(terminal, b"\n".join(kept) + b"\n")
    if pending and not is_noise(pending.decode(errors="replace")):
        os.write(terminal, pending)
    os.close(pipe)


def silence(verbose: bool = False) -> None:
    """Filter what native code writes to stderr from now on; `verbose` turns every log on instead.

    Only a real stderr is redirected: where Python's stderr is not descriptor 2 (a test's
    captured stream), nothing changes.
    """
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    pipe, writer = os.pipe()
    os.dup2(writer, 2)
    os.close(writer)
    forwarder = threading.Thread(target=_forward, args=(pipe, terminal), name="fmnist-quiet", daemon=True)
    forwarder.start()

    def drain() -> None:  # close the pipe's last writer, then let the filter finish
        os.dup2(terminal, 2)
        forwarder.join(timeout=2)

    atexit.register(drain)
