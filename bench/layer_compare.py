#!/usr/bin/python3
"""Where the engine's time goes against ONNX Runtime's, convolution by convolution.

Runs ONNX Runtime's profiler (bench/ort_profile.js) and luojia-nn-bench --layers on one model at
one input size and thread count, maps ORT's fused nodes back to the model's Conv nodes (ORT names a
fused conv after its last output, "..._nchwc" in its blocked layout), and prints both times per kind
of convolution (kernel, stride, group, output plane), largest gap first. --detail KIND lists that
kind's layers one by one. Benchmarks only: needs python3-onnx, node and the onnxruntime-node that
bench/zoo_bench.sh installs (NODE_PATH=<its work folder>/node_modules).

    bench/layer_compare.py MODEL.onnx C SIZE [--threads T] [--runs N] [--detail "3x3 s1 dw"]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))


def ort_times(args):
    """ORT's kernel time per ONNX Conv node (ms per run)."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["node", os.path.join(HERE, "ort_profile.js"), args.model, str(args.channels), str(args.size),
                        str(args.size), str(args.threads), str(args.runs), os.path.join(work, "ort")], check=True)
        profiles = [f for f in os.listdir(work) if f.startswith("ort") and f.endswith(".json")]
        if len(profiles) != 1:
            sys.exit(f"layer_compare: ONNX Runtime wrote {len(profiles)} profiles, not one")
        events = json.load(open(os.path.join(work, profiles[0])))
    # Node events of the runs after the first (the warm-up, which also reorders weights).
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"), key=lambda e: e["ts"])
    if len(runs) < 2:
        sys.exit(f"layer_compare: the profile holds {len(runs)} runs")
    warm_end = runs[0]["ts"] + runs[0]["dur"]
    per_node = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= warm_end:
            per_node[e["name"][: -len("_kernel_time")]] += e["dur"] / (len(runs) - 1) / 1000.0
    return per_node


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("channels", type=int)
    parser.add_argument("size", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--detail", default="")
    parser.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bench", "luojia-nn-bench"))
    args = parser.parse_args()

    graph = onnx.load(args.model).graph
    producer = {o: n for n in graph.node for o in n.output}
    names = {n.name for n in graph.node}

    def conv_of(tensor):
        # A fused activation's output names the conv before it (through at most a few ops).
        for _ in range(4):
            node = producer.get(tensor)
            if node is None:
                return None
            if node.op_type == "Conv":
                return node.name
            tensor = node.input[0]
        return None

    ort = collections.Counter()
    for name, ms in ort_times(args).items():
        tensor = name[:-6] if name.endswith("_nchwc") else name
        conv = conv_of(tensor) if tensor in producer else (name if name in names else None)
        if conv:
            ort[conv] += ms

    weights = {i.name: list(i.dims) for i in graph.initializer}
    convs = {}
    for n in graph.node:
        if n.op_type == "Conv":
            attr = {a.name: a for a in n.attribute}
            co, ci, kh, kw = weights[n.input[1]]
            group = attr["group"].i if "group" in attr else 1
            stride = attr["strides"].ints[0] if "strides" in attr else 1
            dilation = attr["dilations"].ints[0] if "dilations" in attr else 1
            convs[n.name] = (co, ci, kh, kw, stride, group, dilation)

    out = subprocess.run([args.bench, args.model, str(args.channels), str(args.size), str(args.size), str(args.threads),
                          str(args.runs), "--layers"], env=dict(os.environ, LUOJIA_BENCH_NODES="100000"), check=True,
                         capture_output=True, text=True).stdout
    kinds = collections.defaultdict(lambda: [0.0, 0.0, 0])
    detail = []
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 5 and p[1] == "Conv" and p[0] in convs:
            co, ci, kh, kw, stride, group, dilation = convs[p[0]]
            plane = [int(x) for x in re.findall(r"\d+", p[2])]
            kind = (f"{kh}x{kw} s{stride} " + ("dw" if group == co and group > 1 else "g1" if group == 1 else f"g{group}") +
                    (f" d{dilation}" if dilation > 1 else "") + f" {plane[2]}x{plane[3]}")
            k = kinds[kind]
            k[0] += float(p[3])
            k[1] += ort.get(p[0], 0.0)
            k[2] += 1
            if args.detail and kind.startswith(args.detail):
                detail.append(f"  {p[0]:64s} {ci:5d} -> {co:5d}  luojia {float(p[3]):8.3f}  ort {ort.get(p[0], 0.0):8.3f}")
    print(f"{'kind':26s} {'layers':>6s} {'luojia ms':>10s} {'ort ms':>10s} {'gap':>9s}")
    for kind, (mine, theirs, count) in sorted(kinds.items(), key=lambda kv: kv[1][1] - kv[1][0]):
        print(f"{kind:26s} {count:6d} {mine:10.3f} {theirs:10.3f} {mine - theirs:+9.3f}")
    print(f"{'all convolutions':26s} {sum(k[2] for k in kinds.values()):6d} {sum(k[0] for k in kinds.values()):10.3f} "
          f"{sum(k[1] for k in kinds.values()):10.3f}")
    print("\n".join(detail))
    print("(luojia's layer times are taken with a barrier per layer, so they add up to more than an untimed run)")


if __name__ == "__main__":
    sys.exit(main())
