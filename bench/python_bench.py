#!/usr/bin/env python3
"""What Python costs over C++ (issue 29), in one run on one machine:

1. Per tile: luojia.Model.run from Python against luojia-nn-bench (Session::run from C++) on
   U-Net16 (bench/make_unet16.py) at 512x512, 1 and 2 threads, interleaved, median of N runs.
2. A custom layer written in Python (numpy) against the same operator built in: the custom_op
   reference model (alpha * tanh(beta * x)) at 2x1024x1024, its ScaledTanh node run as a Python
   layer, against a copy whose node is replaced by ONNX's Mul, Tanh, Mul (python3-onnx, bench only).

    bench/python_bench.py [BUILD_DIR] [RUNS]      (default build, 15)
Prints ms and ratios, and the peak memory (ru_maxrss) of this Python process.
"""
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

here = pathlib.Path(__file__).resolve().parent
build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else here.parent / "build").resolve()
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
sys.path.insert(0, str(build / "python"))
import numpy as np  # noqa: E402
import luojia  # noqa: E402

work = pathlib.Path(os.environ.get("LUOJIA_BENCH_DIR", "/tmp/luojia-bench"))
work.mkdir(parents=True, exist_ok=True)
unet = work / "unet16.onnx"
if not unet.exists() or (here / "make_unet16.py").stat().st_mtime > unet.stat().st_mtime:
    subprocess.run([sys.executable, str(here / "make_unet16.py"), str(unet)], check=True, stdout=subprocess.DEVNULL)

print(f"luojia {luojia.__version__}, kernels {luojia.kernel_isa()}, {os.cpu_count()} cores")
print("\n1. per tile, U-Net16 4x512x512: Python Model.run against C++ Session::run (luojia-nn-bench)")
x = np.random.default_rng(0).random((1, 4, 512, 512), dtype=np.float32)
for threads in (1, 2):
    model = luojia.Model(unet, threads=threads)
    model.run(x)  # plan once
    py_ms, cpp_ms = [], []
    for _ in range(3):  # interleaved rounds, so drifting clocks hit both alike
        for _ in range(runs // 3):
            t = time.perf_counter()
            model.run(x)
            py_ms.append((time.perf_counter() - t) * 1e3)
        out = subprocess.run([str(build / "bench" / "luojia-nn-bench"), str(unet), "4", "512", "512", str(threads),
                              str(runs // 3)], capture_output=True, text=True, check=True).stdout
        cpp_ms.append(float(out.split("median")[1].split()[0]))  # "...: median 126.58 ms, best ..."
    py, cpp = statistics.median(py_ms), statistics.median(cpp_ms)
    print(f"  {threads} thread(s): Python {py:7.1f} ms   C++ {cpp:7.1f} ms   overhead {100 * (py / cpp - 1):+5.1f}%")

print("   the fixed cost of a call, U-Net16 at 4x16x16, 1 thread (where the tile's work is least):")
x = np.random.default_rng(0).random((1, 4, 16, 16), dtype=np.float32)
model = luojia.Model(unet, threads=1)
model.run(x)
py_ms = []
for _ in range(200):
    t = time.perf_counter()
    model.run(x)
    py_ms.append((time.perf_counter() - t) * 1e3)
out = subprocess.run([str(build / "bench" / "luojia-nn-bench"), str(unet), "4", "16", "16", "1", "200"],
                     capture_output=True, text=True, check=True).stdout
cpp = float(out.split("median")[1].split()[0])
py = statistics.median(py_ms)
print(f"  Python {py * 1e3:7.0f} us   C++ {cpp * 1e3:7.0f} us   difference {1e3 * (py - cpp):+5.0f} us a call")

print("\n2. a Python layer (numpy) against the built-in operators, custom_op model at 2x1024x1024")
import onnx  # noqa: E402
from onnx import helper  # noqa: E402

source = here.parent / "tests" / "data" / "nn" / "custom_op_op17.onnx"
graph_model = onnx.load(str(source))
node = next(n for n in graph_model.graph.node if n.op_type == "ScaledTanh")
attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
alpha, beta = attrs.get("alpha", 1.7159), attrs.get("beta", 2 / 3)
index = list(graph_model.graph.node).index(node)
inner = [helper.make_node("Mul", [node.input[0], "st_beta"], ["st_a"]), helper.make_node("Tanh", ["st_a"], ["st_b"]),
         helper.make_node("Mul", ["st_b", "st_alpha"], [node.output[0]])]
graph_model.graph.node.remove(node)
for k, n in enumerate(inner):
    graph_model.graph.node.insert(index + k, n)
graph_model.graph.initializer.extend([helper.make_tensor("st_beta", onnx.TensorProto.FLOAT, [], [beta]),
                                      helper.make_tensor("st_alpha", onnx.TensorProto.FLOAT, [], [alpha])])
for o in [o for o in graph_model.opset_import if o.domain == "luojia.test"]:
    graph_model.opset_import.remove(o)
builtin_path = pathlib.Path(tempfile.mkdtemp()) / "custom_op_builtin.onnx"
onnx.save(graph_model, str(builtin_path))


class ScaledTanh:
    footprint = "pointwise"

    def __init__(self, node):
        self.alpha = node["attributes"].get("alpha", 1.7159)
        self.beta = node["attributes"].get("beta", 2 / 3)

    def infer(self, shapes):
        return [shapes[0]]

    def forward(self, arrays):
        return [self.alpha * np.tanh(self.beta * arrays[0])]


x = np.random.default_rng(1).random((1, 2, 1024, 1024), dtype=np.float32)
for threads in (1, 2):
    python_layer = luojia.Model(source, threads=threads, layers={"luojia.test:ScaledTanh": ScaledTanh})
    builtin = luojia.Model(builtin_path, threads=threads)
    a, b = python_layer.run(x)[0], builtin.run(x)[0]
    assert float(np.abs(a - b).max()) < 1e-5
    times = {"python": [], "builtin": []}
    for _ in range(runs):
        for name, m in (("python", python_layer), ("builtin", builtin)):
            t = time.perf_counter()
            m.run(x)
            times[name].append((time.perf_counter() - t) * 1e3)
    p, c = statistics.median(times["python"]), statistics.median(times["builtin"])
    print(f"  {threads} thread(s): model with the Python layer {p:7.1f} ms   built-in ops {c:7.1f} ms   {p / c:4.1f}x slower")
print(f"\npeak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
