"""The luojia programs as Processing algorithms.

Each algorithm is a table of parameters, each naming the program's flag (or its place among the
positional arguments); the program runs as a child process, its GDAL-style progress bar
("0...10...20") is turned into QGIS progress, its warnings into feedback, and its one-line error
into a QgsProcessingException. Cancelling sends SIGTERM: the program stops within a second and
leaves no partial output.
"""

import os
import queue
import re
import subprocess
import tempfile
import threading

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum, QgsProcessingParameterFile, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString,
                       QgsProcessingParameterVectorDestination, QgsProcessingParameterVectorLayer)


class P:
    """One parameter: kind, name, description, the program's flag (None: positional), and options."""

    def __init__(self, kind, name, description, flag=None, default=None, optional=False, options=None, extension=None):
        self.kind, self.name, self.description, self.flag = kind, name, description, flag
        self.default, self.optional, self.options, self.extension = default, optional, options, extension

    def make(self):
        k, n, d, opt = self.kind, self.name, self.description, self.optional
        if k == "raster":
            return QgsProcessingParameterRasterLayer(n, d, optional=opt)
        if k == "vector":
            return QgsProcessingParameterVectorLayer(n, d, optional=opt)
        if k == "file":
            return QgsProcessingParameterFile(n, d, extension=self.extension or "", optional=opt)
        if k == "string":
            return QgsProcessingParameterString(n, d, defaultValue=self.default, optional=opt)
        if k == "int":
            return QgsProcessingParameterNumber(n, d, QgsProcessingParameterNumber.Integer, defaultValue=self.default,
                                                optional=opt)
        if k == "number":
            return QgsProcessingParameterNumber(n, d, QgsProcessingParameterNumber.Double, defaultValue=self.default,
                                                optional=opt)
        if k == "bool":
            return QgsProcessingParameterBoolean(n, d, defaultValue=bool(self.default))
        if k == "enum":
            return QgsProcessingParameterEnum(n, d, options=self.options, defaultValue=self.default or 0)
        if k == "raster_out":
            return QgsProcessingParameterRasterDestination(n, d, optional=opt, createByDefault=not opt)
        if k == "vector_out":
            return QgsProcessingParameterVectorDestination(n, d, optional=opt, createByDefault=not opt)
        if k == "file_out":
            return QgsProcessingParameterFileDestination(n, d, fileFilter=self.extension or "", optional=opt)
        raise ValueError(k)

    def is_output(self):
        return self.kind.endswith("_out")


COMMON = [P("int", "TILE", "Tile size (pixels)", "--tile", 512), P("int", "THREADS", "Threads (0: every core)", "--threads", 0)]
MODEL_INPUT = [P("string", "BANDS", "Bands for the model (e.g. 1,2,3; empty: the model's metadata or all)", "--bands", "", True)]

ALGORITHMS = {
    "segment": dict(
        program="luojia-segment", display="Semantic segmentation (class map)",
        help="Segments a raster with an ONNX model, tiled with a halo so that the result equals one whole-image "
             "run. Products keep the input's CRS, geotransform and nodata.",
        params=[P("raster", "INPUT", "Input raster"), P("file", "MODEL", "ONNX model", extension="onnx"),
                P("raster_out", "OUTPUT", "Class map")] + MODEL_INPUT + [
            P("enum", "TTA", "Test-time augmentation", "--tta", 0, options=["none", "d4"]),
            P("raster_out", "PROBABILITIES", "Class probabilities", "--probabilities", optional=True),
            P("vector_out", "VECTOR", "Polygons of the class map", "--vector", optional=True)] + COMMON),
    "detect": dict(
        program="luojia-detect", display="Object detection and instance segmentation",
        help="Detects objects with a YOLO-style ONNX detector; boxes and oriented boxes as polygons in the raster's "
             "CRS, the same as one whole-image run. An instance segmenter (YOLOv8/11-seg) gives each instance's "
             "mask as polygons, and optionally a raster of instance ids.",
        params=[P("raster", "INPUT", "Input raster"), P("file", "MODEL", "ONNX detector", extension="onnx"),
                P("vector_out", "OUTPUT", "Detections")] + MODEL_INPUT + [
            P("number", "CONF", "Confidence threshold (empty: the model's)", "--conf", None, True),
            P("number", "IOU", "NMS IoU threshold (empty: the model's)", "--iou", None, True),
            P("string", "CLASSES", "Only these class ids (comma-separated)", "--classes", "", True),
            P("enum", "TTA", "Test-time augmentation", "--tta", 0, options=["none", "flips", "d4"]),
            P("number", "SIMPLIFY", "Instance polygons: simplification tolerance (CRS units; empty: none)", "--simplify", None, True),
            P("raster_out", "INSTANCE_RASTER", "Instance ids (instance segmenters)", "--instance-raster", optional=True)] + COMMON),
    "index": dict(
        program="luojia-index", display="Spectral indices",
        help="Any index of the Awesome Spectral Indices catalogue (NDVI, EVI, kNDVI, NBR, MNDWI, ...) or a formula "
             "of your own, one Float32 band per index; nodata where an input is nodata or a divisor zero.",
        params=[P("raster", "INPUT", "Input raster"), P("raster_out", "OUTPUT", "Indices"),
                P("string", "INDEX", "Indices (comma-separated catalogue names)", "--index", "NDVI", True),
                P("string", "BANDS", "Band symbols (e.g. R=3,N=4,S1=5)", "--bands", "", True),
                P("string", "SENSOR", "Sensor band order (sentinel2, landsat8, ...)", "--sensor", "", True),
                P("string", "CONST", "Constants (e.g. L=0.5,g=2.5)", "--const", "", True),
                P("string", "EXPR", "A formula of your own (NAME=FORMULA)", "--expr", "", True)] + COMMON),
    "classify": dict(
        program="luojia-classify", display="Scene classification (windows)",
        help="Classifies windows of the raster with an image classifier (ONNX); one pixel per window step.",
        params=[P("raster", "INPUT", "Input raster"), P("file", "MODEL", "ONNX classifier", extension="onnx"),
                P("raster_out", "OUTPUT", "Label raster"),
                P("int", "WINDOW", "Window (pixels; 0: the model's input size)", "--window", 0, True),
                P("int", "STRIDE", "Stride (pixels; 0: the window)", "--stride", 0, True)] + MODEL_INPUT + [
            P("raster_out", "SCORES", "Class scores", "--scores", optional=True)] + COMMON),
    "change": dict(
        program="luojia-change", display="Change detection",
        help="Compares two dates of the same place: spectral change magnitude, or a Siamese ONNX model.",
        params=[P("raster", "BEFORE", "Before"), P("raster", "AFTER", "After"), P("raster_out", "OUTPUT", "Change map"),
                P("file", "MODEL", "ONNX change model (empty: spectral change)", "--model", optional=True, extension="onnx"),
                P("number", "THRESHOLD", "Threshold (empty: Otsu or the model's)", "--threshold", None, True),
                P("bool", "ALIGN", "Resample AFTER onto BEFORE's grid", "--align", False),
                P("raster_out", "MAGNITUDE", "Change magnitude", "--magnitude", optional=True)] + COMMON),
    "stereo": dict(
        program="luojia-stereo", display="Stereo: DSM or disparity",
        help="A satellite pair with RPCs (GeoTIFF tags, .RPB, _RPC.TXT) to a DSM: epipolar rectification from the "
             "RPCs, semi-global matching, both lines of sight intersected, heights gridded in the scene's UTM zone "
             "(ellipsoidal, band 2 points per cell, band 3 their spread). With 'already epipolar', the disparity on "
             "the left image's grid. Tiles equal one whole-scene match.",
        params=[P("raster", "LEFT", "Left image"), P("raster", "RIGHT", "Right image"), P("raster_out", "OUTPUT", "DSM (or disparity)"),
                P("bool", "RECTIFIED", "The pair is already epipolar", "--rectified", False),
                P("raster", "DEM", "DEM of the scene for the height range (RPC pairs)", "--dem", optional=True),
                P("number", "MIN_HEIGHT", "Lowest height, m above the ellipsoid (RPC pairs; empty: DEM or RPCs)", "--min-height", None, True),
                P("number", "MAX_HEIGHT", "Highest height (RPC pairs)", "--max-height", None, True),
                P("number", "RESOLUTION", "DSM cell size (empty: the image's pixel)", "--resolution", None, True),
                P("string", "MAX_DISPARITY", "Largest disparity (epipolar pairs; empty: 63)", "--max-disparity", "", True),
                P("raster_out", "DISPARITY", "Epipolar disparity (RPC pairs)", "--disparity", optional=True)] + COMMON),
    "assess": dict(
        program="luojia-assess", display="Accuracy assessment",
        help="Confusion matrix, overall accuracy, kappa, per-class IoU and F1 of a class map against a reference "
             "raster or vector layer.",
        params=[P("raster", "CLASS_MAP", "Class map"), P("file", "REFERENCE", "Reference (raster or vector)"),
                P("string", "FIELD", "Class field of a vector reference", "--field", "", True),
                P("string", "REMAP", "Remap reference values (FROM=TO,...)", "--remap", "", True),
                P("file_out", "OUTPUT", "Report (JSON)", extension="JSON files (*.json)")],
        stdout_to="OUTPUT", extra=["--json"]),
}

_PROGRESS = re.compile(r"^(\d+)\.")


def run_program(argv, feedback, stdout_path=None):
    """Runs argv; progress and warnings to feedback; raises QgsProcessingException on failure."""
    feedback.pushCommandInfo(" ".join(argv))
    out = open(stdout_path, "wb") if stdout_path else tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
    except OSError as e:
        out.close()
        raise QgsProcessingException(f"cannot run {argv[0]}: {e} (set the folder of the luojia programs in "
                                     "Processing > Options > Providers > luojia, or LUOJIA_BIN)")
    chunks = queue.Queue()

    def reader():
        for chunk in iter(lambda: proc.stderr.read1(256), b""):
            chunks.put(chunk)
        chunks.put(None)

    threading.Thread(target=reader, daemon=True).start()
    text, errors, cancelled = "", [], False
    while True:
        if feedback.isCanceled() and not cancelled:
            proc.terminate()
            cancelled = True
        try:
            chunk = chunks.get(timeout=0.1)
        except queue.Empty:
            continue
        if chunk is None:
            break
        text += chunk.decode("utf-8", "replace")
        # The bar: "0...10...20" without newlines; lines: warnings, errors, the summary.
        while True:
            m = _PROGRESS.match(text)
            if m and len(text) > len(m.group(0)):
                feedback.setProgress(int(m.group(1)))
                text = text[len(m.group(0)):].lstrip(".")
                continue
            if text.startswith(" - done."):
                text = text[len(" - done."):]
                continue
            nl = text.find("\n")
            if nl < 0:
                break
            line, text = text[:nl].strip(), text[nl + 1:]
            if not line:
                continue
            if ": error: " in line:
                errors.append(line)
                feedback.reportError(line)
            elif ": warning: " in line or ": note: " in line:
                feedback.pushWarning(line) if hasattr(feedback, "pushWarning") else feedback.pushInfo(line)
            else:
                feedback.pushConsoleInfo(line)
    code = proc.wait()
    proc.stderr.close()
    out.close()
    if cancelled:
        return code
    if code != 0:
        raise QgsProcessingException(errors[-1] if errors else f"{os.path.basename(argv[0])} exited with code {code}")
    feedback.setProgress(100)
    return code


class LuojiaAlgorithm(QgsProcessingAlgorithm):
    def __init__(self, key, folder):
        super().__init__()
        self.key, self.spec, self.folder = key, ALGORITHMS[key], folder

    def createInstance(self):  # noqa: N802
        return LuojiaAlgorithm(self.key, self.folder)

    def name(self):
        return self.key

    def displayName(self):  # noqa: N802
        return self.spec["display"]

    def group(self):
        return "luojia"

    def groupId(self):  # noqa: N802
        return "luojia"

    def shortHelpString(self):  # noqa: N802
        return self.spec["help"] + f"\n\nRuns {self.spec['program']}."

    def initAlgorithm(self, config=None):  # noqa: N802
        for p in self.spec["params"]:
            self.addParameter(p.make())

    def value(self, p, parameters, context):
        if p.kind in ("raster", "vector"):
            layer = (self.parameterAsRasterLayer if p.kind == "raster" else self.parameterAsVectorLayer)(parameters, p.name, context)
            return layer.source().split("|")[0] if layer else None
        if p.kind == "file":
            return self.parameterAsFile(parameters, p.name, context) or None
        if p.kind == "string":
            return self.parameterAsString(parameters, p.name, context) or None
        if p.kind in ("int", "number"):
            if parameters.get(p.name) in (None, "") and p.default is None:
                return None  # optional, not given: the program's default
            v = (self.parameterAsInt if p.kind == "int" else self.parameterAsDouble)(parameters, p.name, context)
            return None if p.optional and p.kind == "int" and v == 0 else str(v)
        if p.kind == "bool":
            return self.parameterAsBoolean(parameters, p.name, context)
        if p.kind == "enum":
            return p.options[self.parameterAsEnum(parameters, p.name, context)]
        if p.kind in ("raster_out", "vector_out"):
            if p.optional and not parameters.get(p.name):
                return None
            return self.parameterAsOutputLayer(parameters, p.name, context) or None
        if p.kind == "file_out":
            return self.parameterAsFileOutput(parameters, p.name, context) or None
        raise ValueError(p.kind)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        folder = self.folder() if callable(self.folder) else self.folder
        program = os.path.join(folder, self.spec["program"]) if folder else self.spec["program"]
        positional, flags, results = [], [], {}
        stdout_to = None
        for p in self.spec["params"]:
            v = self.value(p, parameters, context)
            if p.is_output() and v:
                results[p.name] = v
            if p.name == self.spec.get("stdout_to"):
                stdout_to = v
                continue
            if v is None or v is False:
                continue
            if p.flag is None:
                positional.append(v)
            elif v is True:
                flags.append(p.flag)
            else:
                flags += [p.flag, v]
        for path in results.values():  # Processing may reuse a temporary output name
            if path and os.path.exists(path) and path != stdout_to:
                flags.append("--overwrite")
                break
        argv = [program] + self.spec.get("extra", []) + flags + positional
        run_program(argv, feedback, stdout_to)
        return results


def all_algorithms(folder):
    return [LuojiaAlgorithm(key, folder) for key in ALGORITHMS]
