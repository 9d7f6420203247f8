#!/usr/bin/python3
"""The QGIS provider's forms against the programs' option tables (PROGRAM --json-usage).

The forms are built from the tables at run time; what the provider still declares itself is
editorial (display names, which options come first, which it fills itself). This checks that
what it names exists, that every option of every program becomes a parameter QGIS can build
(none silently missing from the form), that parameter names do not collide, and that every
path option declares what it holds, so a form offers a layer picker or a destination.
Usage: flags_match.py SOURCE_DIR PROGRAM_DIR
"""
import os
import sys

source, programs = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(source, "qgis"))
from luojia import algorithms  # noqa: E402

PATH_METAVARS = {"PATH", "VECTOR", "RASTER"}
problems = []
parameters = 0
for key, spec in algorithms.ALGORITHMS.items():
    table = algorithms.program_table(os.path.join(programs, spec["program"]))
    declared = {name for o in table["options"] for name in o["names"]}
    for flag in spec.get("main", []) + spec.get("hidden", []) + spec.get("extra", []) + list(spec.get("form_defaults", {})):
        if flag not in declared:
            problems.append(f"{key}: {flag} is not a flag of {spec['program']}")
    form = algorithms.form_of(spec, table)
    names = [p.name for p in form] + ([spec["stdout_to"][0]] if "stdout_to" in spec else [])
    for name in set(names):
        if names.count(name) > 1:
            problems.append(f"{key}: two parameters are named {name}")
    hidden = algorithms.ALWAYS_HIDDEN | set(spec.get("hidden", []))
    in_form = {n for p in form for n in p.names}
    for o in table["options"]:
        if not hidden.intersection(o["names"]) and not in_form.issuperset(o["names"]):
            problems.append(f"{key}: {o['names'][-1]} of {spec['program']} is not in the form")
        metavar = o["metavar"] or ""
        if (metavar in PATH_METAVARS or metavar.startswith("PATH.") or metavar.endswith(".onnx")) and not o["role"]:
            problems.append(f"{key}: {o['names'][-1]} takes a path but does not say what it holds (OptionSpec::role)")
    for p in table["positionals"]:
        if not p["role"]:
            problems.append(f"{key}: positional {p['name']} does not say what it holds")
    for p in form:
        try:
            p.make()
        except Exception as e:  # noqa: BLE001 (any failure is the finding)
            problems.append(f"{key}: parameter {p.name} cannot be built: {e}")
        parameters += 1
    # A value at the program's default passes nothing; another value passes the flag.
    for p in form:
        if p.positional or p.kind() not in ("integer", "number", "enum"):
            continue
        if p.default_text and p.arguments(p.default_text if p.kind() == "enum" else float(p.default_text)):
            problems.append(f"{key}: {p.flag} at its default is passed on")
for line in problems:
    print(line)
print(f"{len(algorithms.ALGORITHMS)} algorithms, {parameters} parameters checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
