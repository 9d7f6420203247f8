#!/usr/bin/python3
"""Time OpenCV's dnn module (Debian python3-opencv, 4.6) on the benchmark U-Net.

    /usr/bin/python3 bench/opencv_bench.py [--no-static] [--no-check] MODEL.onnx SIZE THREADS ITER

cv2.setNumThreads(THREADS) (Debian's OpenCV uses TBB), net =
cv2.dnn.readNetFromONNX(MODEL), default backend/target (OpenCV, CPU), a
(1, 4, SIZE, SIZE) float32 blob; 1 untimed warm-up forward, then ITER timed
ones. Prints one line:

    opencv SIZE THREADS median_ms                      the model as exported
    opencv SIZE THREADS median_ms static (dynamic: <reason>)
    opencv SIZE THREADS failed: <one-line reason>

OpenCV 4.6's importer cannot take the exported graph as is: its Shape nodes
(feeding the Resize `sizes` of F.interpolate(size=skip.shape[2:])) need
static input dimensions ("dynamic 'zero' shapes are not supported"). Unless
--no-static is given, the script then retries with a copy of the model whose
input (and output) H and W are fixed to SIZE, the usual workaround for OpenCV,
and reports that time marked "static": the same graph and weights, but OpenCV
then resolves the shape arithmetic once at load time.

After the timing (so that PyTorch's OpenMP threads cannot disturb it) the
output on a 64x64 input is compared with PyTorch's (the module rebuilt by
make_unet16.build_model(), same variant and weights); prints

    opencv check 64x64: max abs diff D (max |torch| M, rel R): OK|MISMATCH

with OK when D <= 1e-3 * M. --no-check skips it. Exit status 0 unless the
arguments are wrong (a load/forward failure is a result, not an error).
"""

import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CHECK_SIZE = 64
CHECK_REL = 1e-3


def one_line(exc):
    """The most telling line of an OpenCV error (they span several lines)."""
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    for l in reversed(lines):
        if "error:" in l:
            return l.lstrip("> ").strip()
    return lines[-1] if lines else type(exc).__name__


def static_copy(path, size, tmpdir):
    import onnx
    m = onnx.load(path)
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) == 4:
            for d in (dims[2], dims[3]):
                d.Clear()
                d.dim_value = size
    out = os.path.join(tmpdir, f"static_{size}.onnx")
    onnx.save(m, out)
    return out


def make_input(size, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.random((1, 4, size, size), dtype=np.float32) * 2 - 1).astype(np.float32)


def load_and_run(cv2, path, blob):
    net = cv2.dnn.readNetFromONNX(path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(blob)
    out = net.forward()  # warm-up (and the load/forward test)
    return net, out


def check(cv2, model, static, threads, tmpdir):
    import torch
    torch.set_num_threads(threads)
    import make_unet16
    from torch_bench import variant_of
    x = make_input(CHECK_SIZE, seed=2)
    path = static_copy(model, CHECK_SIZE, tmpdir) if static else model
    _, y = load_and_run(cv2, path, x)
    with torch.no_grad():
        ref = make_unet16.build_model(variant_of(model))(torch.from_numpy(x)).numpy()
    if y.shape != ref.shape:
        return f"opencv check {CHECK_SIZE}x{CHECK_SIZE}: shape {y.shape} != torch {ref.shape}: MISMATCH"
    diff = float(np.abs(y - ref).max())
    scale = float(np.abs(ref).max())
    rel = diff / scale if scale > 0 else float("inf")
    verdict = "OK" if diff <= CHECK_REL * scale else "MISMATCH"
    return (f"opencv check {CHECK_SIZE}x{CHECK_SIZE}: max abs diff {diff:.3g} "
            f"(max |torch| {scale:.3g}, rel {rel:.3g}): {verdict}")


def main():
    args = sys.argv[1:]
    allow_static = "--no-static" not in args
    do_check = "--no-check" not in args
    args = [a for a in args if a not in ("--no-static", "--no-check")]
    if len(args) != 4:
        sys.stderr.write("usage: opencv_bench.py [--no-static] [--no-check] MODEL.onnx SIZE THREADS ITER\n")
        return 2
    model, size, threads, iters = args[0], int(args[1]), int(args[2]), int(args[3])
    tag = f"opencv {size} {threads}"
    try:
        import cv2
    except Exception as e:  # noqa: BLE001
        print(f"{tag} failed: cannot import cv2: {one_line(e)}")
        return 0
    cv2.setNumThreads(threads)
    blob = make_input(size)

    with tempfile.TemporaryDirectory(prefix="luojia-opencv-") as tmpdir:
        static, note = False, ""
        try:
            net, _ = load_and_run(cv2, model, blob)
        except Exception as e:  # noqa: BLE001  (cv2.error, or anything else)
            reason = one_line(e)
            if not allow_static:
                print(f"{tag} failed: {reason}")
                return 0
            try:
                net, _ = load_and_run(cv2, static_copy(model, size, tmpdir), blob)
            except Exception as e2:  # noqa: BLE001
                print(f"{tag} failed: {reason} (static-shape copy: {one_line(e2)})")
                return 0
            static, note = True, f" static (dynamic: {reason})"

        times = []
        for _ in range(max(1, iters)):
            net.setInput(blob)
            t0 = time.perf_counter()
            net.forward()
            times.append(time.perf_counter() - t0)
        print(f"{tag} {statistics.median(times) * 1e3:.2f}{note}", flush=True)

        if do_check:
            try:
                print(check(cv2, model, static, threads, tmpdir))
            except Exception as e:  # noqa: BLE001
                print(f"opencv check {CHECK_SIZE}x{CHECK_SIZE}: failed: {one_line(e)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
