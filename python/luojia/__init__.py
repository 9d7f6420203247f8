"""luojia: remote sensing image interpretation on whole scenes, exactly, in bounded memory.

The same library as luojia's C++ API and programs: tasks over rasters GDAL reads (segment,
regress, super_resolve, classify, detect, change, index, assess, merge), ONNX models run on numpy
arrays (Model), and the same tasks over numpy arrays with a transform and a CRS, as rasterio and
rioxarray users hold them.

    import luojia
    report = luojia.segment("scene.tif", "roads.onnx", "roads.tif", probabilities="p.tif", tile=256)
    print(report.tiles, report.halo, report.written)

    result = luojia.segment(pixels, "roads.onnx", transform=src.transform, crs=src.crs)
    result.class_map      # numpy array on the input's grid; result.transform, result.crs

Options are keyword arguments named as the library's option fields (SegmentOptions::tile is
tile=...); a name a task does not take raises luojia.UsageError. Errors are luojia.Error and its
kinds (InputError, ModelError, OutputError, UsageError, Cancelled). progress= takes a callable
(fraction, message), whose False return cancels, or a tqdm bar. Ctrl-C cancels a run cleanly: no
partial product is left, and KeyboardInterrupt is raised.
"""
from ._luojia import (  # noqa: F401
    Cancelled,
    Error,
    InputError,
    MemoryRaster,
    Model,
    ModelError,
    OutputError,
    UsageError,
    __version__,
    kernel_isa,
    read_raster,
)
from ._arrays import Report, read_vector, run_task

__all__ = [
    "Cancelled", "Error", "InputError", "Model", "ModelError", "OutputError", "Report", "UsageError",
    "__version__", "kernel_isa", "read_raster", "read_vector", "MemoryRaster",
    "segment", "regress", "super_resolve", "classify", "detect", "change", "index", "assess", "merge", "stereo",
]


def segment(input, model, class_map=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Semantic segmentation of a whole raster, tiled exactly (luojia-segment).

    input: a raster path, an open raster (a rasterio dataset, a luojia.MemoryRaster), or an array
    (bands, rows, columns) with transform, crs and nodata.
    model: an ONNX path or a luojia.Model. class_map: where to write the class map (Byte, nodata
    255); with an array input it may be left out, and product options (probabilities, logits,
    confidence) may be True: the result then holds them as arrays (vector=True: a GeoDataFrame,
    with geopandas). Returns a Report (tiles, halo, exact, written, ...).
    """
    return run_task("segment", [input], model, class_map, options, progress, transform, crs, nodata)


def regress(input, model, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Per-pixel regression (luojia-regress): one Float32 band per model output on the input's grid."""
    return run_task("regress", [input], model, output, options, progress, transform, crs, nodata)


def super_resolve(input, model, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Super-resolution (luojia-superres): the model's finer grid over the input's extent."""
    return run_task("super_resolve", [input], model, output, options, progress, transform, crs, nodata)


def classify(input, model, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Scene classification over a grid of windows (luojia-classify): one label per cell."""
    return run_task("classify", [input], model, output, options, progress, transform, crs, nodata)


def detect(input, model, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Object detection and instance segmentation (luojia-detect) over the whole raster.

    output: the vector layer of detections (.gpkg, .geojson, .shp). The Report's boxes is a numpy
    structured array (class_id, score, cx, cy, width, height, angle, in the raster's pixels); with
    an array input and no output, features is the layer as a GeoDataFrame (with geopandas).
    """
    return run_task("detect", [input], model, output, options, progress, transform, crs, nodata)


def change(before, after, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Change detection between two dates (luojia-change): change vector analysis, or a model."""
    return run_task("change", [before, after], None, output, options, progress, transform, crs, nodata)


def index(input, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Spectral indices (luojia-index): indices=["NDVI", ...] or {name: formula}, one band each."""
    return run_task("index", [input], None, output, options, progress, transform, crs, nodata)


def stereo(left, right, output=None, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Stereo (luojia-stereo): a pair with RPCs to a DSM (heights on the scene's UTM zone, or on a
    geoid with a compound crs=), or with rectified=True an epipolar pair to the disparity on LEFT's
    grid (and depth=). Census and semi-global matching over paths of bounded length, so tiles
    equal the whole scene; with model= (rectified), a learned matcher. Array inputs are epipolar
    pairs (rectified=True); a DSM needs the views' RPCs, so files. For files, crs= is the DSM's
    CRS (luojia-stereo --t_srs); for arrays, the arrays' CRS."""
    from ._arrays import _is_array
    if crs is not None and not (_is_array(left) or _is_array(right)):
        options["crs"], crs = crs, None
    return run_task("stereo", [left, right], None, output, options, progress, transform, crs, nodata)


def assess(class_map, reference, *, progress=None, transform=None, crs=None, nodata=None, **options):
    """Accuracy of a class map against a reference raster or vector (luojia-assess): a Report with
    confusion, overall_accuracy, kappa, mean_iou and per-class precision, recall, f1, iou."""
    return run_task("assess", [class_map, reference], None, None, options, progress, transform, crs, nodata)


def merge(shards, output, *, progress=None, **options):
    """Shards of one job (--shard K/N runs) into one product (luojia-merge)."""
    return run_task("merge", [list(shards)], None, output, options, progress, None, None, None)
