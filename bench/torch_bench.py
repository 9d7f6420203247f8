#!/usr/bin/python3
"""Time PyTorch (eager, CPU) on the benchmark U-Net.

    /usr/bin/python3 bench/torch_bench.py MODEL SIZE THREADS ITER

MODEL is the .onnx written by make_unet16.py (its sibling .json names the
variant), a .json, or a variant name ("halved", ...). The ONNX file itself is
not read: the module is rebuilt with make_unet16.build_model() (same variant,
same seed 0, so the same weights as the exported graph; PyTorch runs the
unfolded BatchNorms, which is how PyTorch users run it).

Times model(x) under torch.no_grad() with torch.set_num_threads(THREADS) on a
(1, 4, SIZE, SIZE) float32 input: 1 untimed warm-up, then ITER timed runs.
Prints one line:  torch SIZE THREADS median_ms
"""

import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def variant_of(spec):
    import make_unet16
    if spec in make_unet16.VARIANTS:
        return spec
    meta = spec if spec.endswith(".json") else os.path.splitext(spec)[0] + ".json"
    if os.path.exists(meta):
        with open(meta) as f:
            return json.load(f).get("variant", make_unet16.DEFAULT_VARIANT)
    return make_unet16.DEFAULT_VARIANT


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: torch_bench.py MODEL.onnx|VARIANT SIZE THREADS ITER\n")
        return 2
    spec, size, threads, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    import torch
    torch.set_num_threads(threads)
    import make_unet16
    model = make_unet16.build_model(variant_of(spec))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, make_unet16.IN_BANDS, size, size, generator=g) * 2 - 1
    times = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(max(1, iters)):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    print(f"torch {size} {threads} {statistics.median(times) * 1e3:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
