"""luojia.Model against PyTorch's outputs (tests/data/nn, made by tools/make_reference_models.py),
and its use from several Python threads at once."""
import json
import threading
import time

import numpy as np
import pytest

import luojia
from conftest import SOURCE

NN = SOURCE / "tests" / "data" / "nn"


def reference_cases():
    manifest = json.loads((NN / "manifest.json").read_text())
    for model in manifest["models"]:
        if model.get("custom"):
            continue  # needs a layer the program registers (examples/custom_layer.cpp)
        for file in model["files"]:
            yield pytest.param(file, model["cases"], id=file)


@pytest.mark.parametrize("file,cases", list(reference_cases()))
def test_run_equals_pytorch(file, cases):
    model = luojia.Model(str(NN / file), threads=1)
    for case in cases:
        given = case["inputs"] if "inputs" in case else [case["input"]]  # two-input models list theirs
        arrays = {g.get("name", model.inputs[0]["name"]): np.fromfile(NN / g["file"], dtype=np.float32).reshape(g["shape"])
                  for g in given}
        outputs = model.run(arrays if len(arrays) > 1 else next(iter(arrays.values())))
        assert len(outputs) == len(case["outputs"])
        for got, want in zip(outputs, case["outputs"]):
            dtype = np.int64 if want.get("type") == "int64" else np.float32
            ref = np.fromfile(NN / want["file"], dtype=dtype).reshape(want["shape"])
            assert got.shape == ref.shape
            if dtype == np.int64:
                continue  # ArgMax: ties decided by rounding; the float outputs are compared
            scale = max(1.0, float(np.abs(ref).max()))
            assert float(np.abs(got - ref).max()) <= 1e-4 * scale, f"{file} {given[0]['file']}"


def test_inputs_outputs_metadata_tiling(source):
    model = luojia.Model(source / "data" / "demo_roads.onnx")  # a pathlib.Path is a path too
    assert model.inputs == [{"name": "input", "shape": (1, 1, None, None), "dtype": "float32"}]
    assert model.outputs[0]["shape"][:2] == (1, 2)
    assert [c["name"] for c in model.metadata["classes"]] == ["background", "road"]
    (verdict,) = model.tiling
    assert verdict["tileable"] and verdict["radius"] > 0 and verdict["stride"] == 1
    assert "Model" in repr(model)


def test_run_takes_a_list_a_dict_and_converts_other_types(source):
    model = luojia.Model(source / "data" / "demo_roads.onnx", threads=1)
    x = np.random.default_rng(1).random((1, 1, 40, 24))
    a = model.run(x)[0]  # float64: converted once
    b = model.run([x.astype(np.float32)])[0]
    c = model.run({"input": np.asfortranarray(x.astype(np.float32))})[0]  # not C-contiguous: converted
    assert np.array_equal(a, b) and np.array_equal(b, c)
    with pytest.raises(luojia.InputError, match="1 input, 2 arrays"):
        model.run([x, x])
    with pytest.raises(luojia.ModelError, match="expects shape"):
        model.run(np.zeros((1, 3, 8, 8), np.float32))


def test_two_threads_run_two_models_at_once_with_the_gil_released(source):
    roads = luojia.Model(source / "data" / "demo_roads.onnx", threads=1)
    unet = luojia.Model(NN / "unet_op17.onnx", threads=1)
    rng = np.random.default_rng(2)
    x_roads = rng.random((1, 1, 384, 384), dtype=np.float32)
    x_unet = rng.random((1, 4, 192, 192), dtype=np.float32)
    alone = [roads.run(x_roads)[0], unet.run(x_unet)[0]]
    together = [None, None]
    ticks = [0]
    running = threading.Event()

    def run(i, model, x):
        running.set()
        for _ in range(3):
            together[i] = model.run(x)[0]

    threads = [threading.Thread(target=run, args=(0, roads, x_roads)), threading.Thread(target=run, args=(1, unet, x_unet))]
    for t in threads:
        t.start()
    running.wait()
    # While both run, this thread keeps executing Python: it could not if a run held the GIL.
    while any(t.is_alive() for t in threads):
        ticks[0] += 1
        time.sleep(0)
    for t in threads:
        t.join()
    assert np.array_equal(together[0], alone[0]) and np.array_equal(together[1], alone[1])
    assert ticks[0] > 100


def test_one_model_shared_by_threads(source):
    model = luojia.Model(source / "data" / "demo_roads.onnx", threads=1)
    rng = np.random.default_rng(3)
    inputs = [rng.random((1, 1, 64 + 8 * i, 48), dtype=np.float32) for i in range(4)]
    expected = [model.run(x)[0] for x in inputs]
    results = [None] * 4

    def run(i):
        for _ in range(3):
            results[i] = model.run(inputs[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        assert np.array_equal(got, want)
