#!/usr/bin/python3
"""The QGIS provider's parameters against the programs' option tables (PROGRAM --json-usage).

Every flag a form passes must be one the program declares, of the same kind, an enum must offer
the program's choices, and the positional parameters must be as many as the program takes: the
provider keeps its own table of friendlier names and layer pickers, and this keeps it honest.
Usage: flags_match.py SOURCE_DIR PROGRAM_DIR
"""
import json
import os
import subprocess
import sys

source, programs = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(source, "qgis"))
from luojia.algorithms import ALGORITHMS  # noqa: E402

KINDS = {"bool": {"flag"}, "int": {"integer"}, "number": {"number", "string"}, "enum": {"string"},
         "string": {"string", "list"}}
problems = []
for key, spec in ALGORITHMS.items():
    usage = subprocess.run([os.path.join(programs, spec["program"]), "--json-usage"], check=True, capture_output=True,
                           text=True).stdout
    table = json.loads(usage)
    options = {name: o for o in table["options"] for name in o["names"]}
    positionals = 0
    for p in spec["params"]:
        if p.flag is None:
            positionals += p.name != spec.get("stdout_to")
            continue
        option = options.get(p.flag)
        if option is None:
            problems.append(f"{key}: {p.flag} is not a flag of {spec['program']}")
            continue
        if p.kind in KINDS and option["type"] not in KINDS[p.kind]:
            problems.append(f"{key}: {p.flag} is a {p.kind} in the form and a {option['type']} in {spec['program']}")
        if p.kind == "enum" and option["choices"] and list(p.options) != option["choices"]:
            problems.append(f"{key}: {p.flag} offers {p.options}, {spec['program']} takes {option['choices']}")
    for flag in spec.get("extra", []):
        if flag not in options:
            problems.append(f"{key}: {flag} is not a flag of {spec['program']}")
    if positionals != len(table["positionals"]):
        problems.append(f"{key}: {positionals} positional parameters, {spec['program']} takes {len(table['positionals'])}")
for line in problems:
    print(line)
print(f"{len(ALGORITHMS)} algorithms checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
