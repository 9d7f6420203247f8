// ONNX Runtime (CPU) as the engine benchmark's peer: times InferenceSession.run on one model.
//
//   node bench/ort_bench.js MODEL.onnx C H W THREADS ITERATIONS
//
// Needs onnxruntime-node (benchmarks only, never the library or the tests): bench/zoo_bench.sh
// installs it with `npm install --ignore-scripts onnxruntime-node@1.31.1` into its work folder and
// points NODE_PATH there. Session options as the engine issue describes the peer: intraOpNumThreads
// = THREADS, interOpNumThreads = 1, graph optimisation "all", sequential execution. One untimed
// run, then the median of ITERATIONS. Prints: ort MODEL HxW threads T: median X ms, best Y ms
const ort = require("onnxruntime-node");

async function main() {
  const [model, c, h, w, threads, iterations] = process.argv.slice(2);
  if (!iterations) {
    console.error("usage: node ort_bench.js MODEL.onnx C H W THREADS ITERATIONS");
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
  const dims = [1, Number(c), Number(h), Number(w)];
  const data = new Float32Array(dims.reduce((a, b) => a * b));
  for (let i = 0; i < data.length; ++i) data[i] = Math.sin(i * 0.37) * 0.9;  // in [-1, 1], no denormals
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, dims) };
  await session.run(feeds);
  const times = [];
  for (let i = 0; i < Number(iterations); ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`ort ${model} ${h}x${w} threads ${threads}: median ${median.toFixed(2)} ms, best ${times[0].toFixed(2)} ms`);
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(1);
});
