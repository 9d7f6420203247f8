// ONNX Runtime's own per-node profile of one model (benchmarks only): the peer's side of
// bench/layer_compare.py. Same session options as bench/ort_bench.js, profiling on.
//
//   node bench/ort_profile.js MODEL.onnx C H W THREADS RUNS PROFILE_PREFIX
//
// RUNS + 1 profiled runs (the first is the warm-up); ORT writes PROFILE_PREFIX_<date>.json.
const ort = require("onnxruntime-node");

async function main() {
  const [model, c, h, w, threads, runs, prefix] = process.argv.slice(2);
  if (!prefix) {
    console.error("usage: node ort_profile.js MODEL.onnx C H W THREADS RUNS PROFILE_PREFIX");
    process.exit(2);
  }
  const options = { intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: "all",
                    executionMode: "sequential" };
  const dims = [1, Number(c), Number(h), Number(w)];
  const data = new Float32Array(dims.reduce((a, b) => a * b));
  for (let i = 0; i < data.length; ++i) data[i] = Math.sin(i * 0.37) * 0.9;
  // The first run warms the session up; bench/layer_compare.py leaves it out of the profile.
  const session = await ort.InferenceSession.create(model, { ...options, enableProfiling: true, profileFilePrefix: prefix });
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, dims) };
  for (let i = 0; i <= Number(runs); ++i) await session.run(feeds);
  await session.endProfiling();
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
