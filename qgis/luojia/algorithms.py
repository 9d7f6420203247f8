"""The luojia programs as Processing algorithms, their forms read from the programs themselves.

Each program declares its options once, in its own table, and prints it with --json-usage: names,
kind, default, choices, range, help, and what a path holds (a raster to read, a vector layer to
write, ...). The form is built from that table when QGIS loads the provider, so every option the
program takes is in the form (those beyond the algorithm's main ones under Advanced parameters)
and none can drift from the program. What stays here is editorial: the display name, which
options come first, and the few the provider fills itself (-q, --overwrite).

The program runs as a child process; its GDAL-style progress bar ("0...10...20") becomes QGIS
progress, its warnings go to feedback, and its one-line error becomes a QgsProcessingException.
Cancelling sends SIGTERM: the program stops within a second and leaves no partial output.
"""

import json
import math
import os
import queue
import re
import subprocess
import tempfile
import threading

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingParameterBoolean,
                       QgsProcessingParameterDefinition, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString, QgsProcessingParameterVectorDestination,
                       QgsProcessingParameterVectorLayer)

# Per algorithm: the program, the toolbox's name, the flags shown before Advanced parameters, and
# flags the form leaves out (besides ALWAYS_HIDDEN) or always passes (extra). stdout_to names a
# file parameter receiving the program's standard output (luojia-assess's JSON report);
# form_defaults, what a new form offers where the program has no default (it is then passed).
ALGORITHMS = {
    "segment": dict(program="luojia-segment", display="Semantic segmentation (class map)",
                    main=["--bands", "--tta", "--probabilities", "--vector", "--tile", "--threads"]),
    "detect": dict(program="luojia-detect", display="Object detection and instance segmentation",
                   main=["--bands", "--conf", "--iou", "--classes", "--tta", "--simplify", "--instance-raster", "--tile",
                         "--threads"]),
    "index": dict(program="luojia-index", display="Spectral indices",
                  main=["--index", "--bands", "--sensor", "--const", "--expr", "--tile", "--threads"],
                  hidden=["--list", "--json"], form_defaults={"--index": "NDVI"}),
    "classify": dict(program="luojia-classify", display="Scene classification (windows)",
                     main=["--window", "--stride", "--bands", "--scores", "--tile", "--threads"]),
    "change": dict(program="luojia-change", display="Change detection",
                   main=["--model", "--threshold", "--align", "--magnitude", "--tile", "--threads"]),
    "stereo": dict(program="luojia-stereo", display="Stereo: DSM or disparity",
                   main=["--rectified", "--dem", "--min-height", "--max-height", "--resolution", "--max-disparity",
                         "--disparity", "--tile", "--threads"]),
    "regress": dict(program="luojia-regress", display="Pixel regression (canopy height, biomass, ...)",
                    main=["--bands", "--output-scale", "--tile", "--threads"]),
    "superres": dict(program="luojia-superres", display="Super-resolution",
                     main=["--bands", "--output-scale", "--tile", "--threads"]),
    "assess": dict(program="luojia-assess", display="Accuracy assessment",
                   main=["--field", "--remap", "--ignore", "--surface"], hidden=["--json", "--csv"],
                   stdout_to=("OUTPUT", "Report (JSON)", "JSON files (*.json)"), extra=["--json"]),
}

# The provider's business, not the user's: the bar is parsed for progress, and QGIS asks before
# replacing an output.
ALWAYS_HIDDEN = {"-q", "--quiet", "--overwrite"}

# A repeatable option (-co, --index, --expr) takes its values separated by this, as QGIS's GDAL
# algorithms take creation options.
LIST_SEPARATOR = "|"


def parameter_name(names):
    """--instance-raster -> INSTANCE_RASTER; -of -> OF; MODEL.onnx -> MODEL. Of aliases, the first long
    one (--conf of --conf,--confidence: the name the form had before it was read from the table)."""
    longs = [n for n in names if n.startswith("--")]
    name = (longs[0] if longs else names[-1]).lstrip("-")
    return re.sub(r"[^A-Za-z0-9]+", "_", name.split(".")[0]).strip("_").upper()


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class Param:
    """One parameter of a form: a positional argument or an option of the program's table."""

    def __init__(self, entry, positional):
        self.positional = positional
        self.names = [] if positional else entry["names"]
        self.flag = None if positional else self.names[-1]  # the parser's own name for it
        self.name = parameter_name([entry["name"]] if positional else entry["names"])
        self.help = entry["help"]
        self.role = entry.get("role")
        self.type = "string" if positional else entry["type"]
        self.choices = [] if positional else entry["choices"]
        self.default_text = "" if positional else entry["default"]
        self.range = None if positional else entry["range"]
        metavar = (entry["name"] if positional else entry["metavar"]) or ""
        self.extension = metavar.rsplit(".", 1)[1] if "." in metavar and not metavar.endswith("...") else ""
        self.advanced = False
        self.form_default = None  # what the form offers first, where the program has no default

    def kind(self):
        if self.role:
            return self.role
        if self.type == "flag":
            return "bool"
        if self.choices:
            return "enum"
        if self.type in ("integer", "number"):
            return self.type
        return "list" if self.type == "list" else "string"

    def is_output(self):
        return bool(self.role) and self.role.startswith("output-")

    def description(self):
        text = self.help if self.positional else f"{self.help} [{self.flag}]"
        if self.kind() == "list":
            text += f" (several: separate with {LIST_SEPARATOR})"
        return text

    def make(self):
        n, d, k = self.name, self.description(), self.kind()
        optional = not self.positional
        if k == "input-raster":
            p = QgsProcessingParameterRasterLayer(n, d, optional=optional)
        elif k == "input-vector":
            p = QgsProcessingParameterVectorLayer(n, d, optional=optional)
        elif k == "input-file":
            p = QgsProcessingParameterFile(n, d, extension=self.extension, optional=optional)
        elif k == "output-raster":
            p = QgsProcessingParameterRasterDestination(n, d, optional=optional, createByDefault=not optional)
        elif k == "output-vector":
            p = QgsProcessingParameterVectorDestination(n, d, optional=optional, createByDefault=not optional)
        elif k == "output-file":
            filter_ = f"{self.extension.upper()} files (*.{self.extension})" if self.extension else ""
            p = QgsProcessingParameterFileDestination(n, d, fileFilter=filter_, optional=optional, createByDefault=not optional)
        elif k == "bool":
            p = QgsProcessingParameterBoolean(n, d, defaultValue=self.default_text == "true")
        elif k in ("integer", "number"):
            number_type = QgsProcessingParameterNumber.Integer if k == "integer" else QgsProcessingParameterNumber.Double
            p = QgsProcessingParameterNumber(n, d, number_type, defaultValue=_number(self.default_text), optional=True)
            if self.range:
                p.setMinimum(self.range[0])
                p.setMaximum(self.range[1])
        elif k == "enum":
            default = self.choices.index(self.default_text) if self.default_text in self.choices else None
            p = QgsProcessingParameterEnum(n, d, options=self.choices, defaultValue=default, optional=default is None)
        else:
            p = QgsProcessingParameterString(n, d, defaultValue=self.form_default or self.default_text or None, optional=True)
        if self.advanced:
            p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        return p

    def arguments(self, value):
        """The program's arguments for a form value (None: not given, or the program's default)."""
        if value is None or value == "" or value is False:
            return []
        if self.positional:
            return [value]
        if value is True:
            return [self.flag]
        k = self.kind()
        if k in ("integer", "number") and _number(value) == _number(self.default_text):
            return []
        if k == "enum" and value == self.default_text:
            return []
        if k == "string" and value == self.default_text:
            return []
        if k == "list":
            return [a for v in str(value).split(LIST_SEPARATOR) if v.strip() for a in (self.flag, v.strip())]
        if k == "integer":
            value = str(int(float(value)))
        return [self.flag, str(value)]


def program_table(program):
    """The program's option table (PROGRAM --json-usage)."""
    try:
        done = subprocess.run([program, "--json-usage"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise QgsProcessingException(f"cannot read the options of {program}: {e} (set the folder of the luojia programs in "
                                     "Processing > Options > Providers > luojia, or LUOJIA_BIN)")
    return json.loads(done.stdout)


def form_of(spec, table):
    """The parameters of one algorithm: positionals, the main options, then the rest as advanced."""
    params = [Param(p, True) for p in table["positionals"]]
    hidden = ALWAYS_HIDDEN | set(spec.get("hidden", []))
    main = spec.get("main", [])
    options = [Param(o, False) for o in table["options"] if not hidden.intersection(o["names"])]
    for o in options:
        o.form_default = next((v for n, v in spec.get("form_defaults", {}).items() if n in o.names), None)

    def place(o):
        shown = [main.index(n) for n in o.names if n in main]
        return (0, shown[0]) if shown else (1, 0)

    for o in options:
        o.advanced = place(o)[0] == 1
    options.sort(key=place)  # stable: advanced ones keep the program's order
    return params + options


_tables = {}


def cached_table(program):
    if program not in _tables:
        _tables[program] = program_table(program)
    return _tables[program]


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
        self.params = None

    def program(self):
        folder = self.folder() if callable(self.folder) else self.folder
        return os.path.join(folder, self.spec["program"]) if folder else self.spec["program"]

    def form(self):
        if self.params is None:
            self.params = form_of(self.spec, cached_table(self.program()))
        return self.params

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
        table = cached_table(self.program())
        return table["description"] + f"\n\nRuns {self.spec['program']} {table['synopsis']}."

    def initAlgorithm(self, config=None):  # noqa: N802
        for p in self.form():
            self.addParameter(p.make())
        if "stdout_to" in self.spec:
            name, description, filter_ = self.spec["stdout_to"]
            self.addParameter(QgsProcessingParameterFileDestination(name, description, fileFilter=filter_))

    def value(self, p, parameters, context):
        k = p.kind()
        if k in ("input-raster", "input-vector"):
            layer = (self.parameterAsRasterLayer if k == "input-raster" else self.parameterAsVectorLayer)(parameters, p.name, context)
            return layer.source().split("|")[0] if layer else None
        if k == "input-file":
            return self.parameterAsFile(parameters, p.name, context) or None
        if k in ("output-raster", "output-vector"):
            if not p.positional and not parameters.get(p.name):
                return None
            return self.parameterAsOutputLayer(parameters, p.name, context) or None
        if k == "output-file":
            if not p.positional and not parameters.get(p.name):
                return None
            return self.parameterAsFileOutput(parameters, p.name, context) or None
        if k == "bool":
            return self.parameterAsBoolean(parameters, p.name, context)
        if k in ("integer", "number"):
            if parameters.get(p.name) in (None, ""):
                return None  # not given: the program's default
            return (self.parameterAsInt if k == "integer" else self.parameterAsDouble)(parameters, p.name, context)
        if k == "enum":
            if parameters.get(p.name) in (None, ""):
                return None
            return p.choices[self.parameterAsEnum(parameters, p.name, context)]
        return self.parameterAsString(parameters, p.name, context) or None

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        positional, flags, results = [], [], {}
        for p in self.form():
            v = self.value(p, parameters, context)
            if p.is_output() and v:
                results[p.name] = v
            (positional if p.positional else flags).extend(p.arguments(v))
        stdout_to = None
        if "stdout_to" in self.spec:
            name = self.spec["stdout_to"][0]
            stdout_to = self.parameterAsFileOutput(parameters, name, context)
            results[name] = stdout_to
        for path in results.values():  # Processing may reuse a temporary output name
            if path and os.path.exists(path) and path != stdout_to:
                flags.append("--overwrite")
                break
        argv = [self.program()] + self.spec.get("extra", []) + flags + positional
        run_program(argv, feedback, stdout_to)
        return results


def all_algorithms(folder):
    """The algorithms whose program answers --json-usage; the others are said in QGIS's log."""
    found = []
    for key in ALGORITHMS:
        algorithm = LuojiaAlgorithm(key, folder)
        try:
            algorithm.form()
        except QgsProcessingException as e:
            from qgis.core import Qgis, QgsMessageLog
            QgsMessageLog.logMessage(f"luojia:{key} left out: {e}", "luojia", Qgis.Warning)
            continue
        found.append(algorithm)
    return found
