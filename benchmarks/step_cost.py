"""The cost of one sampling step against its floor, the matrix products it cannot avoid.

    python benchmarks/step_cost.py                 # the shipped model, batches of 1, 20 and 100
    python benchmarks/step_cost.py --batch 1 --batch 64

A step of the Graves model is three LSTM layers (each one matmul of its input and
hidden state against the stacked gate weights), the attention window and the
mixture head. The floor is those five matmuls alone, timed on the same shapes with
the same BLAS; the rest of a step (activations, the window's Gaussians, drawing the
point, the batch's bookkeeping) is overhead that NumPy's per-call cost dominates at
small batches. Reported per step, in microseconds: the whole step of
:class:`~scribe.writing.sampling.ContinuousBatch`, the network's step alone, the
matmuls alone, and the FLOPs and GFLOP/s of the matmuls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from scribe.writing.document import Scribe
from scribe.writing.network import InferenceModel, one_blas_thread
from scribe.writing.registry import DEFAULT_MODEL
from scribe.writing.sampling import ContinuousBatch, SamplingOptions, _Job
from scribe.writing.styles import conditioning_for

TEXT = "The quick brown fox jumps over the lazy dog and keeps running far away."


def microseconds(run: Callable[[], object], repeats: int) -> float:
    """Median over five rounds of the mean time of ``run`` (microseconds)."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        rounds.append((time.perf_counter() - start) / repeats * 1e6)
    return statistics.median(rounds)


def measure(model: InferenceModel, options: SamplingOptions, size: int, repeats: int) -> dict[str, float]:
    """The step of a batch of ``size`` lines, the network's step alone, and their matmuls alone (microseconds)."""
    jobs = [_Job(i, i, 0, True) for i in range(size)]
    batch = ContinuousBatch(model, [TEXT] * size, options, 0, jobs, attempts=1)
    batch.stop_at[:] = 10**9  # never end a line: every step keeps the whole batch
    whole = microseconds(batch.step, repeats)
    state, point = batch.state, batch.point
    network = microseconds(lambda: model.step(point, state), repeats)
    layers = [matrix for matrix, _, _ in model.decoder]  # gate-major, multiplied as the network does
    heads = [model.window_w, model.head_matrix]
    gate_inputs = [np.ones((matrix.shape[1], size), np.float32) for matrix in layers]
    head_inputs = [np.ones((size, matrix.shape[0]), np.float32) for matrix in heads]

    gates = np.empty((layers[0].shape[0], size), np.float32)

    def products() -> None:
        for matrix, x in zip(layers, gate_inputs):
            np.matmul(matrix, x, out=gates)
        for matrix, x in zip(heads, head_inputs):
            x @ matrix

    floor = microseconds(products, repeats)
    flops = 2 * size * sum(matrix.size for matrix in layers + heads)
    return {"batch": size, "step_us": round(whole), "network_step_us": round(network), "matmuls_us": round(floor),
            "step_over_matmuls": round(whole / floor, 2), "matmul_mflop": round(flops / 1e6, 1),
            "matmul_gflops": round(flops / floor / 1e3, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (default 1, 20, 100)")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    scribe = Scribe(args.model)
    options = SamplingOptions(conditioning=conditioning_for(scribe.model))
    with one_blas_thread():  # as sampling runs
        results = [measure(scribe.model, options, size, args.repeats) for size in args.batch or [1, 20, 100]]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
