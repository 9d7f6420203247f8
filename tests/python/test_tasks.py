"""Every task from Python against the program of the same build on the bundled data (same
products, pixel for pixel), the array form against PyTorch at awkward sizes (tests/data/tasks,
made by tools/make_task_models.py), and the contract: errors, options, progress, Ctrl-C."""
import json
import os
import pathlib
import signal
import subprocess

import numpy as np
import pytest

import luojia
from conftest import PROGRAMS, SOURCE

DATA = SOURCE / "data"
TASKS = SOURCE / "tests" / "data" / "tasks"
NN = SOURCE / "tests" / "data" / "nn"
LANDSAT = str(DATA / "L7_ETMs.tif")
ROADS = str(DATA / "road_mask_input.tif")


def program(name, *args):
    run = subprocess.run([str(PROGRAMS / name), "-q", *map(str, args)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def same_raster(a, b):
    pa, ga = luojia.read_raster(str(a))
    pb, gb = luojia.read_raster(str(b))
    assert pa.dtype == pb.dtype and pa.shape == pb.shape
    assert np.array_equal(pa, pb, equal_nan=pa.dtype.kind == "f")
    assert ga["transform"] == gb["transform"] and ga["crs"] == gb["crs"]
    assert ga["nodata"] == gb["nodata"] or (np.isnan(ga["nodata"]) and np.isnan(gb["nodata"]))
    assert ga["descriptions"] == gb["descriptions"]


# ---- each task equals its program ---------------------------------------------------------------

def test_segment_equals_the_program(tmp_path):
    program("luojia-segment", ROADS, DATA / "demo_roads.onnx", tmp_path / "p.tif", "--tile", 384,
            "--probabilities", tmp_path / "p_probs.tif")
    model = luojia.Model(DATA / "demo_roads.onnx")
    for name, m in (("by_path", str(DATA / "demo_roads.onnx")), ("loaded", model)):
        r = luojia.segment(ROADS, m, tmp_path / f"{name}.tif", tile=384, probabilities=str(tmp_path / f"{name}_probs.tif"))
        assert r.exact and r.tiles == 16 and r.halo > 0
        assert r.written == [str(tmp_path / f"{name}.tif"), str(tmp_path / f"{name}_probs.tif")]
        same_raster(tmp_path / "p.tif", tmp_path / f"{name}.tif")
        same_raster(tmp_path / "p_probs.tif", tmp_path / f"{name}_probs.tif")


def test_kernel_options_reach_the_model_or_are_refused(tmp_path):
    # winograd="off" as the program's --winograd off; with a loaded Model the choice is the Model's.
    program("luojia-segment", ROADS, DATA / "demo_roads.onnx", tmp_path / "p.tif", "--winograd", "off", "--logits", tmp_path / "pl.tif")
    luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "s.tif", winograd="off", logits=str(tmp_path / "sl.tif"))
    same_raster(tmp_path / "pl.tif", tmp_path / "sl.tif")
    loaded = luojia.Model(DATA / "demo_roads.onnx", winograd="off")
    luojia.segment(ROADS, loaded, tmp_path / "m.tif", logits=str(tmp_path / "ml.tif"))
    same_raster(tmp_path / "pl.tif", tmp_path / "ml.tif")
    for option in ({"winograd": "off"}, {"isa": "avx2"}):
        with pytest.raises(luojia.UsageError) as e:
            luojia.segment(ROADS, loaded, tmp_path / "x.tif", **option)
        assert e.value.option == next(iter(option))
    with pytest.raises(luojia.UsageError) as e:
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "x.tif", winograd="sometimes")
    assert e.value.option == "winograd"
    assert not (tmp_path / "x.tif").exists()


def test_segment_over_an_array_equals_over_its_file(tmp_path):
    program("luojia-segment", ROADS, DATA / "demo_roads.onnx", tmp_path / "p.tif", "--tile", 300,
            "--confidence", tmp_path / "conf.tif")
    pixels, georef = luojia.read_raster(ROADS)
    r = luojia.segment(pixels, DATA / "demo_roads.onnx", transform=georef["transform"], crs=georef["crs"],
                       tile=300, confidence=True)
    want, want_georef = luojia.read_raster(str(tmp_path / "p.tif"))
    assert np.array_equal(r.class_map, want[0])
    assert np.array_equal(r.confidence, luojia.read_raster(str(tmp_path / "conf.tif"))[0][0])
    assert r.transform == want_georef["transform"] and r.crs == want_georef["crs"] and r.nodata == 255
    assert r.written == []  # nothing left on disk


def test_regress_and_super_resolve_equal_the_programs(tmp_path):
    program("luojia-regress", LANDSAT, TASKS / "regressor.onnx", tmp_path / "reg.tif", "--bands", "1,2,3", "--tile", 100)
    r = luojia.regress(LANDSAT, TASKS / "regressor.onnx", tmp_path / "reg_py.tif", bands=[1, 2, 3], tile=100)
    assert r.outputs == 2 and r.output_scale == 10.0
    same_raster(tmp_path / "reg.tif", tmp_path / "reg_py.tif")
    program("luojia-superres", LANDSAT, TASKS / "sr_pixelshuffle_x3.onnx", tmp_path / "sr.tif", "--bands", "1,2,3", "--tile", 128)
    r = luojia.super_resolve(LANDSAT, TASKS / "sr_pixelshuffle_x3.onnx", tmp_path / "sr_py.tif", bands=[1, 2, 3], tile=128)
    assert r.upscale == 3
    same_raster(tmp_path / "sr.tif", tmp_path / "sr_py.tif")


def test_classify_equals_the_program(tmp_path):
    model = NN / "resnet_classifier_op17.onnx"
    program("luojia-classify", LANDSAT, model, tmp_path / "c.tif", "--bands", "1,2,3,4", "--window", 32, "--stride", 16,
            "--scores", tmp_path / "c_scores.tif")
    r = luojia.classify(LANDSAT, model, tmp_path / "c_py.tif", bands=[1, 2, 3, 4], window=32, stride=16,
                        scores=str(tmp_path / "c_py_scores.tif"))
    assert (r.columns, r.rows) == (22, 22)
    same_raster(tmp_path / "c.tif", tmp_path / "c_py.tif")
    same_raster(tmp_path / "c_scores.tif", tmp_path / "c_py_scores.tif")


def test_detect_equals_the_program(tmp_path):
    model = SOURCE / "tests" / "data" / "detection" / "yolo5_tiny.onnx"
    program("luojia-detect", LANDSAT, model, tmp_path / "d.gpkg", "--bands", "1,2,3", "--tile", 128, "--confidence", 0.05,
            "--pixel-boxes", tmp_path / "d.json")
    r = luojia.detect(LANDSAT, model, tmp_path / "d_py.gpkg", bands=[1, 2, 3], tile=128, confidence=0.05,
                      pixel_boxes=str(tmp_path / "d_py.json"))
    boxes = json.loads((tmp_path / "d.json").read_text())
    assert r.detections == len(r.boxes) > 0
    assert json.loads((tmp_path / "d_py.json").read_text()) == boxes
    # The structured array holds the same boxes as the program's COCO boxes (x, y, w, h from the top left).
    coco = sorted((round(a["bbox"][0], 3), round(a["bbox"][1], 3)) for a in boxes["annotations"])
    mine = sorted((round(b["cx"] - b["width"] / 2, 3), round(b["cy"] - b["height"] / 2, 3)) for b in r.boxes)
    assert coco == mine
    assert set(r.boxes.dtype.names) == {"class_id", "score", "cx", "cy", "width", "height", "angle"}


def test_change_equals_the_program(tmp_path):
    after = tmp_path / "after.tif"
    subprocess.run(["gdal_translate", "-q", "-scale", "0", "255", "12", "230", LANDSAT, str(after)], check=True)
    program("luojia-change", LANDSAT, after, tmp_path / "ch.tif", "--magnitude", tmp_path / "mag.tif")
    r = luojia.change(LANDSAT, after, tmp_path / "ch_py.tif", magnitude=str(tmp_path / "mag_py.tif"))
    assert r.otsu and 0 < r.changed < r.valid
    same_raster(tmp_path / "ch.tif", tmp_path / "ch_py.tif")
    same_raster(tmp_path / "mag.tif", tmp_path / "mag_py.tif")


def test_index_equals_the_program(tmp_path):
    program("luojia-index", LANDSAT, tmp_path / "i.tif", "--index", "NDVI,SAVI", "--bands", "R=3,N=4")
    r = luojia.index(LANDSAT, tmp_path / "i_py.tif", indices=["NDVI", "SAVI"], bands={"R": 3, "N": 4})
    assert r.written == [str(tmp_path / "i_py.tif")]
    same_raster(tmp_path / "i.tif", tmp_path / "i_py.tif")
    # And over an array: NDVI in closed form.
    pixels, georef = luojia.read_raster(LANDSAT)
    a = luojia.index(pixels, indices={"ndvi_here": "(N - R) / (N + R)"}, bands={"R": 3, "N": 4},
                     transform=georef["transform"], crs=georef["crs"])
    red, nir = pixels[2].astype(np.float64), pixels[3].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
    ok = np.isfinite(ndvi)
    assert np.allclose(a.output[ok], ndvi[ok], atol=1e-6)
    assert np.all(a.output[~ok] == -9999)


def test_assess_equals_the_program(tmp_path):
    program("luojia-segment", ROADS, DATA / "demo_roads.onnx", tmp_path / "roads.tif")
    reference = DATA / "sample_road_raster_mask.tif"
    want = json.loads(program("luojia-assess", tmp_path / "roads.tif", reference, "--json", "--remap", "255=1"))
    got = luojia.assess(tmp_path / "roads.tif", reference, remap={255: 1})
    assert got.confusion == want["confusion"] and got.overall_accuracy == want["overall_accuracy"]
    assert got.kappa == want["kappa"]


def test_merge_equals_the_program(tmp_path):
    for k in (1, 2, 3):
        program("luojia-segment", ROADS, DATA / "demo_roads.onnx", tmp_path / f"s{k}.tif", "--shard", f"{k}/3", "--tile", 256)
    shards = [tmp_path / f"s{k}.tif" for k in (1, 2, 3)]
    program("luojia-merge", *shards, tmp_path / "m.tif", "-of", "GTiff")
    r = luojia.merge(shards, tmp_path / "m_py.tif", driver="GTiff")
    assert r.shards == 3 and (r.width, r.height) == (1300, 1300)
    same_raster(tmp_path / "m.tif", tmp_path / "m_py.tif")


# ---- arrays against PyTorch at awkward sizes ----------------------------------------------------

def task_cases(names):
    manifest = json.loads((TASKS / "manifest.json").read_text())
    for model in manifest["models"]:
        if model["name"] in names:
            for case in model["cases"]:
                yield pytest.param(model, case, id=f"{model['name']}-{case['case']}")


@pytest.mark.parametrize("model,case", list(task_cases({"regressor", "sr_pixelshuffle_x3", "sr_convtranspose_x2", "sr_resize_x4"})))
def test_arrays_equal_pytorch_whole_and_tiled(model, case):
    pixels = np.fromfile(TASKS / case["input"], dtype=np.uint8).reshape(case["input_shape"])
    reference = np.fromfile(TASKS / case["output"], dtype=np.float32).reshape(case["output_shape"])
    task = luojia.regress if model["name"] == "regressor" else luojia.super_resolve
    for tile in (512, 8, 5):
        r = task(pixels, TASKS / model["file"], tile=tile, transform=(500000, 10, 0, 4000000, 0, -10), crs="EPSG:32618")
        got = r.output if r.output.ndim == 3 else r.output[None]
        scale = max(1.0, float(np.abs(reference).max()))
        assert float(np.abs(got - reference).max()) <= 1e-4 * scale, f"tile {tile}"
        k = r.upscale
        assert r.transform == (500000, 10 / k, 0, 4000000, 0, -10 / k)
        assert "32618" in r.crs


# ---- the contract ----------------------------------------------------------------------------------

def test_errors_are_classes_with_the_option_named(tmp_path):
    assert issubclass(luojia.InputError, luojia.Error) and issubclass(luojia.Error, RuntimeError)
    with pytest.raises(luojia.UsageError) as e:
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "x.tif", tiles=256)
    assert e.value.option == "tiles" and "tile" in str(e.value)
    with pytest.raises(luojia.UsageError, match="tile is int, not str"):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "x.tif", tile="256")
    with pytest.raises(luojia.UsageError, match="overwrite is bool"):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "x.tif", overwrite=1)
    with pytest.raises(luojia.InputError, match="no such file"):
        luojia.segment(tmp_path / "missing.tif", DATA / "demo_roads.onnx", tmp_path / "x.tif")
    with pytest.raises(luojia.ModelError):
        luojia.segment(ROADS, LANDSAT, tmp_path / "x.tif")
    with pytest.raises(luojia.UsageError, match="transform, crs and nodata go with array inputs"):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "x.tif", crs="EPSG:4326")
    with pytest.raises(luojia.UsageError, match="needs an array input"):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "x.tif", probabilities=True)
    with pytest.raises(luojia.UsageError) as e:
        luojia.segment(np.zeros((8, 8), np.float32), DATA / "demo_roads.onnx", crs="not a crs")
    assert e.value.option == "crs"
    (tmp_path / "exists.tif").write_bytes(b"keep")
    with pytest.raises(luojia.OutputError, match="already exists"):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "exists.tif")
    assert (tmp_path / "exists.tif").read_bytes() == b"keep"
    assert sorted(os.listdir(tmp_path)) == ["exists.tif"]


def test_progress_reports_and_cancels_without_a_partial_product(tmp_path):
    seen = []

    def progress(fraction, message):
        seen.append(fraction)
        return fraction < 0.3

    with pytest.raises(luojia.Cancelled):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "c.tif", tile=128, progress=progress)
    assert seen and seen == sorted(seen) and 0.3 <= seen[-1] < 1
    assert os.listdir(tmp_path) == []

    class Boom(Exception):
        pass

    def fails(fraction, message):
        raise Boom("from the callback")

    with pytest.raises(Boom):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "c.tif", tile=128, progress=fails)
    assert os.listdir(tmp_path) == []
    done = []
    luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "c.tif", tile=256, progress=lambda f, m: done.append(f))
    assert done[-1] == 1.0


def test_ctrl_c_cancels_cleanly(tmp_path):
    calls = []

    def interrupt(fraction, message):
        calls.append(fraction)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as a terminal's Ctrl-C
        return True

    with pytest.raises(KeyboardInterrupt):
        luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "c.tif", tile=128, progress=interrupt,
                       probabilities=str(tmp_path / "p.tif"))
    assert calls[-1] < 1.0
    assert os.listdir(tmp_path) == []
    # Python's own handler is back: the next Ctrl-C is an ordinary KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_tqdm_style_bars_are_accepted(tmp_path):
    class Bar:  # what luojia uses of tqdm: n, total, update
        def __init__(self):
            self.n, self.total = 0, None

        def update(self, k):
            self.n += k

    bar = Bar()
    luojia.segment(ROADS, DATA / "demo_roads.onnx", tmp_path / "c.tif", tile=256, progress=bar)
    assert bar.total == 100 and bar.n == 100


def test_vector_products_come_back_as_geodataframes(tmp_path):
    geopandas = pytest.importorskip("geopandas")  # Debian's python3-geopandas; tools/test.sh installs it
    pixels, georef = luojia.read_raster(ROADS)
    r = luojia.segment(pixels[:, :400, :500], DATA / "demo_roads.onnx", transform=georef["transform"], crs=georef["crs"],
                       vector=True, min_pixels=20)
    assert isinstance(r.vector, geopandas.GeoDataFrame) and len(r.vector) > 0
    assert {"class_id", "class_name", "area", "mean_conf"} <= set(r.vector.columns)
    assert r.vector.crs.to_epsg() == 4326
    pixels, georef = luojia.read_raster(LANDSAT)
    d = luojia.detect(pixels[:3], SOURCE / "tests" / "data" / "detection" / "yolo5_tiny.onnx", transform=georef["transform"],
                      crs=georef["crs"], confidence=0.05, tile=128)
    assert len(d.features) == len(d.boxes) == d.detections > 0
    # Each polygon's centroid is its box's centre, carried through the geotransform.
    x0, dx, _, y0, _, dy = georef["transform"]
    centres = np.c_[x0 + dx * d.boxes["cx"], y0 + dy * d.boxes["cy"]]
    got = np.c_[d.features.geometry.centroid.x, d.features.geometry.centroid.y]
    assert np.allclose(np.sort(got, axis=0), np.sort(centres, axis=0), atol=abs(dx) * 1e-3)


def test_open_rasters_are_inputs_too(tmp_path):
    program("luojia-index", LANDSAT, tmp_path / "i.tif", "--index", "NDVI", "--bands", "R=3,N=4")
    pixels, georef = luojia.read_raster(LANDSAT)
    memory = luojia.MemoryRaster(pixels, georef["transform"], georef["crs"])
    luojia.index(memory, tmp_path / "from_memory.tif", indices=["NDVI"], bands={"R": 3, "N": 4})
    want = luojia.read_raster(str(tmp_path / "i.tif"))[0]
    assert np.array_equal(luojia.read_raster(str(tmp_path / "from_memory.tif"))[0], want)
    rasterio = pytest.importorskip("rasterio")  # Debian's python3-rasterio, when installed
    with rasterio.open(LANDSAT) as src:
        luojia.index(src, tmp_path / "from_rasterio.tif", indices=["NDVI"], bands={"R": 3, "N": 4})
    assert np.array_equal(luojia.read_raster(str(tmp_path / "from_rasterio.tif"))[0], want)


# What a program's flag fills (its --json-usage "field") that Python names otherwise, or that only a
# command line has; everything else must be a Python option of the same name.
COMMAND_LINE_ONLY = {"quiet", "shard", "ortho", "dem"}
PROGRAM_FLAGS_BESIDE_PYTHON = {
    # --min-area 50px fills min_pixels; --raw is apply_scale=False; the rest are spellings of
    # indices, bands and constants (--expr, --nd, --red ...) or listings.
    "luojia-index": {"expr", "nd", "blue", "green", "red", "nir", "swir", "savi_l", "raw", "list", "json"},
    "luojia-assess": {"surface", "json", "csv"},  # --surface is another function; --json/--csv print
}
PROGRAMS_OF = {"segment": "luojia-segment", "regress": "luojia-regress", "super_resolve": "luojia-superres",
               "classify": "luojia-classify", "detect": "luojia-detect", "change": "luojia-change",
               "index": "luojia-index", "assess": "luojia-assess", "merge": "luojia-merge", "stereo": "luojia-stereo"}


@pytest.mark.parametrize("task", sorted(PROGRAMS_OF))
def test_python_options_are_the_programs_fields(task):
    name = PROGRAMS_OF[task]
    usage = json.loads(subprocess.run([str(PROGRAMS / name), "--json-usage"], capture_output=True, text=True, check=True).stdout)
    fields = {o["field"] for o in usage["options"]} - COMMAND_LINE_ONLY - PROGRAM_FLAGS_BESIDE_PYTHON.get(name, set())
    python = set(luojia._luojia.options(task))
    assert fields <= python, f"{name} fills {sorted(fields - python)}, which luojia.{task} does not take"
    # And the docstring lists every option.
    assert all(option in getattr(luojia._luojia, task).__doc__ for option in python)


def write_envi(path, pixels):
    """A float32 raster GDAL reads without any Python GDAL binding: ENVI's raw layout and header."""
    bands, rows, columns = pixels.shape
    pixels.astype("<f4").tofile(path)
    pathlib.Path(str(path) + ".hdr").write_text(
        f"ENVI\nsamples = {columns}\nlines = {rows}\nbands = {bands}\nheader offset = 0\nfile type = ENVI Standard\n"
        f"data type = 4\ninterleave = bsq\nbyte order = 0\n")


def test_stereo_equals_the_program_and_finds_a_known_shift(tmp_path):
    # A textured left view and the right view shifted by 6 pixels: the disparity is 6 wherever
    # both views see the texture.
    rng = np.random.default_rng(7)
    texture = rng.random((90, 140)).astype(np.float32) * 200
    left, right = texture[:, 10:130], texture[:, 16:136]  # right pixel x - 6 sees left pixel x
    write_envi(tmp_path / "left.bsq", left[None])
    write_envi(tmp_path / "right.bsq", right[None])
    program("luojia-stereo", "--rectified", tmp_path / "left.bsq", tmp_path / "right.bsq", tmp_path / "d.tif", "--max-disparity", 15,
            "--tile", 48)
    r = luojia.stereo(left, right, rectified=True, max_disparity=15, tile=48)
    want = luojia.read_raster(str(tmp_path / "d.tif"))[0][0]
    assert np.array_equal(r.output, want)
    inner = r.output[5:-5, 20:-5]
    assert np.mean(np.abs(inner - 6) < 0.5) > 0.95
    assert r.counts["matched"] > 0.9 * r.counts["valid"] and r.tiles > 1
    with pytest.raises(luojia.UsageError) as e:
        luojia.stereo(left, right, rectified=True, resolution=2.0)
    assert e.value.option == "resolution"
    with pytest.raises(luojia.UsageError) as e:  # for files, crs= is the DSM's, which an epipolar pair has not
        luojia.stereo(tmp_path / "left.bsq", tmp_path / "right.bsq", tmp_path / "d2.tif", rectified=True, crs="EPSG:32650")
    assert e.value.option == "crs"
    assert not (tmp_path / "d2.tif").exists()


def test_stereo_dsm_equals_the_program(tmp_path):
    pair = SOURCE / "tests" / "data" / "stereo" / "rpc"
    program("luojia-stereo", pair / "left.tif", pair / "right.tif", tmp_path / "dsm.tif", "--min-height", 15, "--max-height", 80,
            "--t_srs", "EPSG:32650+5773", "--point-cloud", tmp_path / "cloud.fgb")
    r = luojia.stereo(pair / "left.tif", pair / "right.tif", tmp_path / "dsm_py.tif", min_height=15.0, max_height=80.0,
                      crs="EPSG:32650+5773", point_cloud=str(tmp_path / "cloud_py.fgb"))
    same_raster(tmp_path / "dsm.tif", tmp_path / "dsm_py.tif")
    assert r.points > 10000 and r.cells > 5000 and r.vertical_rms < 0.5
    assert r.written == [str(tmp_path / "dsm_py.tif"), str(tmp_path / "cloud_py.fgb")]
    assert (tmp_path / "cloud_py.fgb").read_bytes() == (tmp_path / "cloud.fgb").read_bytes()
