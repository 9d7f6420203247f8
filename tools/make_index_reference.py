#!/usr/bin/python3
"""Reference values for every spectral index of the Awesome Spectral Indices
catalogue (data/spectral-indices/), computed independently of luojia.

Run from the repository root (numpy only, well under a second):

    /usr/bin/python3 tools/make_index_reference.py

This script does not use luojia in any way: it parses each catalogue formula
with Python's `ast` module and walks the tree over numpy float64 arrays with
its own small evaluator (no eval() of the formula text).  It writes into
tests/data/indices/:

  input.f32      a random raster, float32 little-endian, band-major
                 (bands x H x W, H = 7 rows, W = 11 columns), no header; one
                 band per band symbol that some formula uses, in the order
                 manifest["bands"] (the bands.json keys in file order, then the
                 radar symbols VV VH HH HV).  numpy default_rng(20261203), one
                 uniform draw of H x W per band in that order: optical bands in
                 [0.02, 0.6], thermal T T1 T2 in [280, 320], radar in
                 [0.005, 0.4].  Then pixel (row 0, col 0) gets N = R = 0 (zero
                 denominator of NDVI) and pixel (row 0, col 1) gets every optical
                 band = 0.3 (differences of bands vanish there).
  reference.f64  float64 little-endian, (number of indices) x H x W, in the
                 order manifest["indices"] (catalogue order), computed in float64
                 from the float32 input values; NaN where the pixel is invalid:
                 some division in the formula had a zero divisor (even if the
                 final value would be finite), or the final value is not finite
                 (e.g. a negative base to a fractional power).
  manifest.json  {"height", "width", "bands", "constants" (every constant of
                 constants.json with the value used), "indices", "invalid"
                 (NaN pixel count per index, every index listed),
                 "catalogue_sha256" (of spectral-indices-dict.json)}

Symbols in formulas: band symbols (bands.json keys, plus radar VV VH HH HV),
constants (constants.json defaults; PAR = 1500 and the lambda* wavelengths
from Sentinel-2A in bands.json, which have no default), and kernel symbols
kXY = exp(-(X - Y)**2 / (2 * sigma**2)) with X, Y band symbols or the
constant L.  Anything else is reported and makes the script fail.
"""

import ast
import hashlib
import json
import os
import sys

import numpy as np

H, W = 7, 11
SEED = 20261203
RADAR = ["VV", "VH", "HH", "HV"]
THERMAL = {"T", "T1", "T2"}
PAR_VALUE = 1500.0
PLATFORM = "sentinel2a"
WAVELENGTH_OF = {"lambdaG": "G", "lambdaN": "N", "lambdaN2": "N2",
                 "lambdaR": "R", "lambdaS1": "S1", "lambdaS2": "S2"}

CATALOGUE_DIR = os.path.join("data", "spectral-indices")
OUT_DIR = os.path.join("tests", "data", "indices")


def load(name):
    with open(os.path.join(CATALOGUE_DIR, name), "rb") as f:
        raw = f.read()
    return json.loads(raw.decode("utf-8")), raw


# --------------------------------------------------------------------------
# catalogue and symbols

bands_json, _ = load("bands.json")
constants_json, _ = load("constants.json")
catalogue, catalogue_raw = load("spectral-indices-dict.json")
indices = catalogue["SpectralIndices"]
index_names = list(indices)

band_symbols = list(bands_json) + RADAR

# constant values
if PLATFORM not in bands_json["N"]["platforms"]:
    sys.exit("platform key %r not in bands.json (have %s)"
             % (PLATFORM, sorted(bands_json["N"]["platforms"])))
constants = {}
filled = {}
for name, spec in constants_json.items():
    value = spec.get("default")
    if value is None:
        if name == "PAR":
            value = PAR_VALUE
        elif name in WAVELENGTH_OF:
            value = bands_json[WAVELENGTH_OF[name]]["platforms"][PLATFORM]["wavelength"]
        else:
            sys.exit("constant %s has no default and no rule to fill it" % name)
        filled[name] = value
    constants[name] = float(value)


def kernel_args(name):
    """(X, Y) if name is a kernel symbol kXY, else None; fails if ambiguous."""
    if not name.startswith("k") or name in constants or name in band_symbols:
        return None
    rest = name[1:]
    operands = set(band_symbols) | {"L"}
    splits = [(rest[:i], rest[i:]) for i in range(1, len(rest))
              if rest[:i] in operands and rest[i:] in operands]
    if len(splits) > 1:
        sys.exit("kernel symbol %s is ambiguous: %s" % (name, splits))
    return splits[0] if splits else None


def classify(name):
    if name in band_symbols:
        return "radar" if name in RADAR else "band"
    if name in constants:
        return "constant"
    if kernel_args(name):
        return "kernel"
    return "unknown"


trees = {}
names_of = {}
for short, spec in indices.items():
    tree = ast.parse(spec["formula"].strip(), mode="eval")
    trees[short] = tree
    names_of[short] = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}

all_names = set().union(*names_of.values())
kinds = {}
for name in sorted(all_names):
    kinds.setdefault(classify(name), []).append(name)

# band symbols used, directly or as an operand of a kernel
used_bands = set()
for name in all_names:
    kind = classify(name)
    if kind in ("band", "radar"):
        used_bands.add(name)
    elif kind == "kernel":
        used_bands.update(s for s in kernel_args(name) if s in band_symbols)
input_bands = [b for b in band_symbols if b in used_bands]

# --------------------------------------------------------------------------
# input raster

rng = np.random.default_rng(SEED)
raster = np.empty((len(input_bands), H, W), dtype=np.float32)
for i, b in enumerate(input_bands):
    if b in RADAR:
        lo, hi = 0.005, 0.4
    elif b in THERMAL:
        lo, hi = 280.0, 320.0
    else:
        lo, hi = 0.02, 0.6
    raster[i] = rng.uniform(lo, hi, size=(H, W)).astype(np.float32)
for i, b in enumerate(input_bands):
    if b in ("N", "R"):
        raster[i, 0, 0] = 0.0
    if b not in RADAR and b not in THERMAL:
        raster[i, 0, 1] = np.float32(0.3)

band_values = {b: raster[i].astype(np.float64) for i, b in enumerate(input_bands)}

# --------------------------------------------------------------------------
# evaluator


class Unsupported(Exception):
    pass


def symbol_value(name):
    kind = classify(name)
    if kind in ("band", "radar"):
        return band_values[name]
    if kind == "constant":
        return np.full((H, W), constants[name])
    if kind == "kernel":
        x, y = (band_values[s] if s in band_values else np.full((H, W), constants[s])
                for s in kernel_args(name))
        sigma = constants["sigma"]
        return np.exp(-(x - y) ** 2 / (2.0 * sigma ** 2))
    raise Unsupported("symbol %r is not a band, constant or kernel" % name)


def walk(node, bad):
    """Value of node as an (H, W) float64 array; sets bad where a divisor is 0."""
    if isinstance(node, ast.Expression):
        return walk(node.body, bad)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise Unsupported("literal %r" % (node.value,))
        return np.full((H, W), float(node.value))
    if isinstance(node, ast.Name):
        return symbol_value(node.id)
    if isinstance(node, ast.UnaryOp):
        v = walk(node.operand, bad)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return +v
        raise Unsupported("unary operator %s" % type(node.op).__name__)
    if isinstance(node, ast.BinOp):
        a = walk(node.left, bad)
        b = walk(node.right, bad)
        op = node.op
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            bad |= (b == 0.0)
            return a / b
        if isinstance(op, ast.Pow):
            return np.power(a, b)
        raise Unsupported("binary operator %s" % type(op).__name__)
    raise Unsupported("syntax %s" % type(node).__name__)


def evaluate(tree):
    """(value with NaN where invalid, zero-divisor mask, non-finite-result mask)"""
    bad = np.zeros((H, W), dtype=bool)
    with np.errstate(all="ignore"):
        v = walk(tree, bad)
    nonfinite = ~np.isfinite(v)
    out = v.copy()
    out[bad | nonfinite] = np.nan
    return out, bad, nonfinite


# --------------------------------------------------------------------------
# evaluate everything

problems = []
reference = np.empty((len(index_names), H, W), dtype=np.float64)
zero_div = {}
nonfinite_only = {}
for i, short in enumerate(index_names):
    try:
        out, bad, nonfinite = evaluate(trees[short])
    except Unsupported as e:
        problems.append("%s: %s  [%s]" % (short, e, indices[short]["formula"]))
        continue
    reference[i] = out
    if bad.any():
        zero_div[short] = int(bad.sum())
    if (nonfinite & ~bad).any():
        nonfinite_only[short] = int((nonfinite & ~bad).sum())
if problems:
    print("formulas the evaluator cannot handle:")
    for p in problems:
        print("  " + p)
    sys.exit(1)

invalid = {short: int(np.isnan(reference[i]).sum()) for i, short in enumerate(index_names)}

# --------------------------------------------------------------------------
# closed-form cross-checks


def check(short, expected):
    got = reference[index_names.index(short)]
    with np.errstate(all="ignore"):
        expected = np.where(np.isfinite(expected), expected, np.nan)
    assert np.array_equal(np.isnan(got), np.isnan(expected)), \
        "%s: invalid pixels differ from the closed form" % short
    ok = ~np.isnan(got)
    err = np.abs(got[ok] - expected[ok]) / np.maximum(1.0, np.abs(expected[ok]))
    assert err.max() <= 1e-12, "%s: differs from the closed form by %g" % (short, err.max())


N, R, B = band_values["N"], band_values["R"], band_values["B"]
sigma, L = constants["sigma"], constants["L"]
with np.errstate(all="ignore"):
    check("NDVI", np.where(N + R == 0, np.nan, (N - R) / (N + R)))
    den = N + 6.0 * R - 7.5 * B + 1.0
    check("EVI", np.where(den == 0, np.nan, 2.5 * (N - R) / den))
    check("kNDVI", np.tanh(((N - R) / (2.0 * sigma)) ** 2))
    den = N + R + L
    check("SAVI", np.where(den == 0, np.nan, (1.0 + L) * (N - R) / den))
ndvi = reference[index_names.index("NDVI")]
assert np.isnan(ndvi[0, 0]) and np.isnan(ndvi).sum() == 1
assert ndvi[0, 1] == 0.0

# --------------------------------------------------------------------------
# write

os.makedirs(OUT_DIR, exist_ok=True)
with open(os.path.join(OUT_DIR, "input.f32"), "wb") as f:
    f.write(raster.astype("<f4").tobytes())
with open(os.path.join(OUT_DIR, "reference.f64"), "wb") as f:
    f.write(reference.astype("<f8").tobytes())
manifest = {
    "height": H,
    "width": W,
    "bands": input_bands,
    "constants": constants,
    "indices": index_names,
    "invalid": invalid,
    "catalogue_sha256": hashlib.sha256(catalogue_raw).hexdigest(),
}
with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")

# --------------------------------------------------------------------------
# summary


def source(formula, node):
    return ast.get_source_segment(formula, node) or ast.dump(node)


def parenthesised(formula, node):
    """True if the source text of node is wrapped in its own parentheses."""
    lines = formula.split("\n")
    if node.lineno != node.end_lineno or len(lines) != 1:
        return False
    before = formula[:node.col_offset].rstrip()
    after = formula[node.end_col_offset:].lstrip()
    return before.endswith("(") and after.startswith(")")


oddities = []
for short in index_names:
    formula = indices[short]["formula"].strip()
    tree = trees[short]
    found = []

    def note(text):
        if text not in found:
            found.append(text)

    declared = set(indices[short].get("bands", []))
    if declared != names_of[short]:
        note("'bands' field %s != formula symbols %s"
             % (sorted(declared), sorted(names_of[short])))
    for parent in ast.walk(tree):
        for node in ast.iter_child_nodes(parent):
            # ** binds tighter than * / and unary minus, and is right-associative
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
                    and not parenthesised(formula, node) \
                    and (isinstance(parent, ast.UnaryOp)
                         or (isinstance(parent, ast.BinOp)
                             and isinstance(parent.op, (ast.Div, ast.Mult, ast.Pow))
                             and node is parent.right)):
                whole, part = source(formula, parent), source(formula, node)
                note("precedence: '%s' is %s" % (whole, whole.replace(part, "(%s)" % part)))
    for node in ast.walk(tree):
        if isinstance(node, ast.UnaryOp):
            note("unary %s on %s" % ("minus" if isinstance(node.op, ast.USub) else "plus",
                                     source(formula, node.operand)))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            e = node.right
            if isinstance(node.left, ast.UnaryOp):
                note("** with a unary-signed base")
            if isinstance(e, ast.Constant) and float(e.value).is_integer():
                pass
            elif isinstance(e, ast.Constant):
                note("fractional exponent %s" % source(formula, e))
            else:
                note("exponent is an expression: %s" % source(formula, e))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
                and isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant) \
                and isinstance(node.left.value, int) and isinstance(node.right.value, int):
            note("integer literals divided, %s (Python 3 true division)" % source(formula, node))
        if isinstance(node, ast.Constant):
            text = source(formula, node)
            if "e" in text.lower():
                note("scientific notation %s" % text)
            if text.startswith(".") or text.endswith("."):
                note("literal without digits on one side: %s" % text)
        if isinstance(node, ast.Name) and classify(node.id) == "kernel":
            x, y = kernel_args(node.id)
            if x == y:
                note("kernel %s = k(%s, %s) is identically 1" % (node.id, x, y))
            elif "L" in (x, y):
                note("kernel %s = k(%s, %s) uses the constant L" % (node.id, x, y))
        if isinstance(node, ast.Name) and classify(node.id) == "unknown":
            note("unknown symbol %s" % node.id)
    if found:
        oddities.append("%s [%s]: %s" % (short, formula, "; ".join(found)))

print("wrote %s: input.f32 (%d bands x %d x %d float32), reference.f64 "
      "(%d indices x %d x %d float64), manifest.json"
      % (OUT_DIR, len(input_bands), H, W, len(index_names), H, W))
print("indices: %d" % len(index_names))
print("input bands (order): %s" % " ".join(input_bands))
for kind in ("band", "radar", "constant", "kernel", "unknown"):
    if kind in kinds:
        print("symbols, %-8s %s" % (kind + ":", " ".join(kinds[kind])))
print("band symbols no formula uses: %s"
      % " ".join(b for b in band_symbols if b not in used_bands))
print("constants no formula uses: %s"
      % " ".join(c for c in constants if c not in all_names))
print("constants filled in (no default): %s"
      % ", ".join("%s=%g" % kv for kv in filled.items()))
print("constants: %s" % ", ".join("%s=%g" % kv for kv in constants.items()))
print("oddities in formulas:")
for o in oddities:
    print("  " + o)
print("indices with invalid pixels: %d of %d" % (sum(1 for v in invalid.values() if v),
                                                 len(index_names)))
print("  zero divisor somewhere: %s" % ", ".join("%s(%d)" % kv for kv in zero_div.items()))
print("  non-finite result without zero divisor: %s"
      % ", ".join("%s(%d)" % kv for kv in nonfinite_only.items()))
for where in ((0, 0), (0, 1)):
    print("  invalid at pixel %s: %s" % (where, " ".join(
        short for i, short in enumerate(index_names) if np.isnan(reference[i][where]))))
sizes = sum(os.path.getsize(os.path.join(OUT_DIR, f))
            for f in ("input.f32", "reference.f64", "manifest.json"))
print("total size: %d bytes" % sizes)
