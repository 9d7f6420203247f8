"""Tasks over paths or numpy arrays: arrays become rasters in GDAL's memory with their georeferencing,
products the caller did not place go to a temporary folder and come back as arrays."""
import os
import tempfile
import types

from . import _luojia

# Each task's products: the positional output (its name and kind) and the options that name
# products, with their kinds. raster: read back as an array; vector: as a GeoDataFrame.
_PRODUCTS = {
    "segment": ("class_map", "raster", {"probabilities": "raster", "logits": "raster", "confidence": "raster", "vector": "vector"}),
    "regress": ("output", "raster", {}),
    "super_resolve": ("output", "raster", {}),
    "classify": ("output", "raster", {"scores": "raster"}),
    "detect": ("features", "vector", {"instance_raster": "raster", "pixel_boxes": "json"}),
    "change": ("output", "raster", {"magnitude": "raster", "probabilities": "raster", "vector": "vector"}),
    "index": ("output", "raster", {}),
    "assess": (None, None, {}),
    "merge": ("output", "any", {}),
    "stereo": ("output", "raster", {"disparity": "raster", "depth": "raster", "point_cloud": "vector"}),
}
# Options that name an input raster on the input's grid: an array is accepted there too.
_RASTER_INPUT_OPTIONS = {"mask"}
_SUFFIX = {"raster": ".tif", "vector": ".gpkg", "json": ".json"}


class Report(types.SimpleNamespace):
    """What a task did (the library's report fields) and, for array inputs, its products as arrays."""

    def __repr__(self):
        def short(v):
            shape = getattr(v, "shape", None)
            if shape is not None and hasattr(v, "dtype"):
                return f"<array {tuple(shape)} {v.dtype}>"
            if type(v).__name__ == "GeoDataFrame":
                return f"<GeoDataFrame {len(v)} rows>"
            return repr(v)
        return "Report(" + ", ".join(f"{k}={short(v)}" for k, v in self.__dict__.items()) + ")"


def _open_raster_path(value):
    """The path behind an open raster: a luojia.MemoryRaster, or a rasterio dataset (its .name)."""
    if isinstance(value, _luojia.MemoryRaster):
        return value.path
    if type(value).__module__.startswith("rasterio") and hasattr(value, "name") and hasattr(value, "read"):
        return value.name
    return None


def _is_array(value):
    if isinstance(value, (str, bytes, os.PathLike, _luojia.Model)) or value is None:
        return False
    if _open_raster_path(value) is not None:
        return False
    return hasattr(value, "__array__") or hasattr(value, "__array_interface__")


def _progress_function(progress):
    """A callable (fraction, message) -> bool from a callable or a tqdm bar."""
    if progress is None or not (hasattr(progress, "update") and hasattr(progress, "n")):
        return progress
    bar = progress
    bar.total = 100

    def report(fraction, message):
        target = round(fraction * 100)
        if target > bar.n:
            bar.update(target - bar.n)
        return True
    return report


def read_vector(path):
    """A vector product as a GeoDataFrame (needs geopandas: apt-get install python3-geopandas)."""
    try:
        import geopandas
    except ImportError as e:
        raise _luojia.UsageError(f"reading {path} as a GeoDataFrame needs geopandas (python3-geopandas)") from e
    return geopandas.read_file(path)


def _array_back(path):
    pixels, georef = _luojia.read_raster(path)
    return (pixels[0] if pixels.shape[0] == 1 else pixels), georef


def run_task(task, inputs, model, output, options, progress, transform, crs, nodata):
    import numpy

    main_name, main_kind, product_options = _PRODUCTS[task]
    arrays = any(_is_array(v) for v in inputs) or any(_is_array(options.get(k)) for k in _RASTER_INPUT_OPTIONS)
    if not arrays and (transform is not None or crs is not None or nodata is not None):
        raise _luojia.UsageError("transform, crs and nodata go with array inputs; a raster file carries its own")
    with tempfile.TemporaryDirectory(prefix="luojia-") as scratch:
        keep = []  # the in-memory rasters, alive until the task returned

        def as_path(value):
            if _is_array(value):
                raster = _luojia.MemoryRaster(numpy.asarray(value), transform, crs, nodata)
                keep.append(raster)
                return raster.path
            opened = _open_raster_path(value)
            return value if opened is None else opened

        paths = [as_path(v) if task != "merge" else [as_path(s) for s in v] for v in inputs]
        options = dict(options)
        for key in _RASTER_INPUT_OPTIONS & options.keys():
            options[key] = as_path(options[key])
        returned = {}  # attribute -> (temporary path, kind)

        def place(name, kind, value):
            if value is True:
                if not arrays:
                    raise _luojia.UsageError(f"{name}=True asks for an array back, which needs an array input; give a path")
                if kind == "vector":
                    try:
                        import geopandas  # noqa: F401
                    except ImportError as e:
                        raise _luojia.UsageError(f"{name}=True returns a GeoDataFrame, which needs geopandas (python3-geopandas); give a path") from e
                path = os.path.join(scratch, name + _SUFFIX[kind])
                returned[name] = (path, kind)
                return path
            return value

        for name, kind in product_options.items():
            if name in options:
                if options[name] is False or options[name] is None:
                    del options[name]
                else:
                    options[name] = place(name, kind, options[name])
        if main_name is not None:
            if output is None:
                if not arrays:
                    raise _luojia.UsageError(f"{task} needs an output path for a raster file input")
                output = os.path.join(scratch, main_name + _SUFFIX[main_kind])
                returned[main_name] = (output, main_kind)
            paths.append(output)
        function = getattr(_luojia, task)
        call = paths if model is None else paths[:1] + [model] + paths[1:]
        result = function(*call, options, _progress_function(progress))
        report = Report(**result)
        temporary = {path for path, _ in returned.values()}
        if hasattr(report, "written"):
            report.written = [p for p in report.written if p not in temporary]
        for name, (path, kind) in returned.items():
            if kind == "raster":
                values, georef = _array_back(path)
                setattr(report, name, values)
                if name == main_name:
                    report.transform, report.crs, report.nodata = georef["transform"], georef["crs"], georef["nodata"]
            elif kind == "vector":
                try:
                    setattr(report, name, read_vector(path))
                except _luojia.UsageError:
                    setattr(report, name, None)  # detect without geopandas: report.boxes holds them
            else:
                with open(path) as f:
                    setattr(report, name, f.read())
        return report
