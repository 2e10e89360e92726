#!/usr/bin/env python3
"""The capture library's structure (docs/capture.md): each file of src/capture includes only
files of its layer or below, the include graph has no cycle, no file uses __func__ (a hook's
function is ms__hook_<name>), and libmemscope.so never calls one of its own exported symbols (a relocation against a symbol it exports means an internal call
that the program could interpose).

usage: capture_layers.py SRC_CAPTURE_DIR LIBMEMSCOPE_SO"""
import os
import re
import subprocess
import sys

# The table of docs/capture.md, which this test also reads, so that both stay one.
def read_layers(doc):
    layers = {}
    for line in open(doc):
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if m:
            for name in m.group(2).split(","):
                layers[name.strip()] = int(m.group(1))
    return layers


def main():
    src, so = sys.argv[1], sys.argv[2]
    doc = os.path.join(src, "..", "..", "docs", "capture.md")
    layers = read_layers(doc)
    failures = []
    units = {}
    for f in sorted(os.listdir(src)):
        if not f.endswith((".c", ".h")):
            continue
        unit = f[:-2]
        if unit not in layers:
            failures.append(f"{f}: not in the layer table of docs/capture.md")
            continue
        text = open(os.path.join(src, f)).read()
        # Inside HOOK the function is ms__hook_<name>: __func__ would name that, not the hook.
        if "__func__" in text:
            failures.append(f"{f}: uses __func__, which names ms__hook_<name> inside a HOOK")
        for inc in re.findall(r'#include "([^"/]+)\.h"', text):
            if inc == unit:
                continue
            if inc not in layers:
                failures.append(f"{f}: includes {inc}.h, which the layer table does not name")
            elif layers[inc] > layers[unit]:
                failures.append(f"{f} (layer {layers[unit]}) includes {inc}.h (layer {layers[inc]})")
            units.setdefault(unit, set()).add(inc)
    # Cycles among units (a .c and its .h are one unit).
    state = {}

    def visit(u, path):
        state[u] = 1
        for v in sorted(units.get(u, ())):
            if state.get(v) == 1:
                failures.append("include cycle: " + " -> ".join(path[path.index(v):] + [v]))
            elif v not in state:
                visit(v, path + [v])
        state[u] = 2

    for u in sorted(units):
        if u not in state:
            visit(u, [u])
    for name in layers:
        if not any(os.path.exists(os.path.join(src, name + ext)) for ext in (".c", ".h")):
            failures.append(f"docs/capture.md names {name}, which src/capture does not have")

    dyn = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True,
                         check=True).stdout
    exported = {l.split()[-1].split("@")[0] for l in dyn.splitlines()
                if len(l.split()) >= 3 and l.split()[1] in "TWi"}
    rel = subprocess.run(["readelf", "-rW", so], capture_output=True, text=True,
                         check=True).stdout
    called = set()
    for l in rel.splitlines():
        m = re.search(r"R_X86_64_(?:JUMP_SLOT|GLOB_DAT|64)\s+\S+\s+(\S+)", l)
        if m:
            called.add(m.group(1).split("@")[0])
    for sym in sorted(exported & called):
        failures.append(f"libmemscope.so calls its own exported {sym} (use ms__hook_{sym})")
    if not exported:
        failures.append("no exported symbols found in " + so)

    for f in failures:
        print("FAIL", f)
    print(f"{len(layers)} files in {len(set(layers.values()))} layers, "
          f"{len(exported)} exported symbols: {'ok' if not failures else 'FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
