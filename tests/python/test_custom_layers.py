"""Custom layers written in Python: the reference model with a custom operator (tests/data/nn/
custom_op_*.onnx, alpha * tanh(beta * x) in the domain luojia.test, exported from PyTorch by
tools/make_reference_models.py) run with the operator in numpy, against PyTorch; tiled exactly when
the layer declares its footprint, refused when it does not."""
import json

import numpy as np
import pytest

import luojia
from conftest import SOURCE

NN = SOURCE / "tests" / "data" / "nn"


class ScaledTanh:
    footprint = "pointwise"

    def __init__(self, node):
        assert node["op_type"] == "ScaledTanh" and node["domain"] == "luojia.test"
        self.alpha = node["attributes"].get("alpha", 1.7159)
        self.beta = node["attributes"].get("beta", 2 / 3)

    def infer(self, shapes):
        return [shapes[0]]

    def forward(self, arrays):
        assert not arrays[0].flags.writeable  # a view of the engine's memory
        return [self.alpha * np.tanh(self.beta * arrays[0])]


class Undeclared(ScaledTanh):
    footprint = None


class Blur3(ScaledTanh):
    """Wrong on purpose: reads a 3x3 window but declares itself pointwise, so tiles differ."""

    def forward(self, arrays):
        x = np.pad(arrays[0], ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
        return [sum(x[:, :, dy:dy + arrays[0].shape[2], dx:dx + arrays[0].shape[3]] for dy in range(3) for dx in range(3)) / 9]


class Blur3Declared(Blur3):
    footprint = {"kind": "window", "kernel": 3, "pad": 1}


def manifest_case():
    manifest = json.loads((NN / "manifest.json").read_text())
    return next(m for m in manifest["models"] if m["name"] == "custom_op")


@pytest.mark.parametrize("file", manifest_case()["files"])
def test_a_python_layer_equals_pytorch(file):
    model = luojia.Model(NN / file, layers={"luojia.test:ScaledTanh": ScaledTanh})
    for case in manifest_case()["cases"]:
        x = np.fromfile(NN / case["input"]["file"], np.float32).reshape(case["input"]["shape"])
        want = np.fromfile(NN / case["outputs"][0]["file"], np.float32).reshape(case["outputs"][0]["shape"])
        assert float(np.abs(model.run(x)[0] - want).max()) < 1e-5


def test_a_declared_footprint_tiles_exactly_and_none_is_refused():
    image = np.random.default_rng(4).random((2, 53, 61), dtype=np.float32)
    for layer in (ScaledTanh, Blur3Declared):
        model = luojia.Model(NN / "custom_op_op17.onnx", layers={("luojia.test", "ScaledTanh"): layer})
        assert model.tiling[0]["tileable"]
        whole = model.run(image[None])[0][0]
        for tile in (8, 13):
            r = luojia.regress(image, model, tile=tile)
            assert r.exact and r.tiles > 1
            assert float(np.abs(r.output - whole).max()) < 1e-6, f"{layer.__name__}, tile {tile}"
    # The wrong declaration shows in the tiles: why a footprint must be declared, and declared right.
    model = luojia.Model(NN / "custom_op_op17.onnx", layers={"luojia.test:ScaledTanh": Blur3})
    assert float(np.abs(luojia.regress(image, model, tile=8).output - model.run(image[None])[0][0]).max()) > 1e-3
    model = luojia.Model(NN / "custom_op_op17.onnx", layers={"luojia.test:ScaledTanh": Undeclared})
    (verdict,) = model.tiling
    assert not verdict["tileable"] and "declares no footprint" in verdict["reason"]
    with pytest.raises(luojia.Error, match="not exactly tileable"):
        luojia.regress(image, model, tile=8)
    # Run as one tile, it is allowed.
    assert luojia.regress(image, model, tile=64).tiles == 1


def test_a_model_without_its_layer_and_a_failing_layer_say_why():
    with pytest.raises(luojia.ModelError, match="register a layer"):
        luojia.Model(NN / "custom_op_op17.onnx")

    class Fails(ScaledTanh):
        def forward(self, arrays):
            raise ValueError("not today")

    model = luojia.Model(NN / "custom_op_op17.onnx", layers={"luojia.test:ScaledTanh": Fails})
    with pytest.raises(luojia.Error, match="not today"):
        model.run(np.zeros((1, 2, 8, 8), np.float32))

    class WrongShape(ScaledTanh):
        def forward(self, arrays):
            return [arrays[0][..., :-1]]

    model = luojia.Model(NN / "custom_op_op17.onnx", layers={"luojia.test:ScaledTanh": WrongShape})
    with pytest.raises(luojia.Error, match="where infer said"):
        model.run(np.zeros((1, 2, 8, 8), np.float32))
