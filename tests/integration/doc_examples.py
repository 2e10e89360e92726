#!/usr/bin/env python3
"""Every C example of a document (docs/api.md) is real: each ```c block (or each C file given:
examples/*.c) is compiled with the project's include directory, run natively and under memscope (same output, same exit status),
and its "/* expect: PATH=VALUE */" lines are checked in the JSON report (PATH is dotted, with
array indices: tasks.0.allocs; VALUE is compared as the JSON value's text: 300, true, null,
struct point; or it is another such path, whose value must be the same; PATH>N says the figure
is a number above N, for figures that vary from run to run; PATH$=TEXT says the value ends with
TEXT, for paths). A "/* library: NAME -DMACRO... */" line builds lib NAME.so from the same source
with those flags, which the program links.

usage: doc_examples.py --memscope M --include DIR --cc CC DOC|FILE.c..."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def lookup(doc, path):
    v = doc
    for part in path.split("."):
        if isinstance(v, list):
            i = int(part)
            if i >= len(v):
                raise KeyError(path)
            v = v[i]
        else:
            v = v[part]
    return v


def as_text(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("docs", nargs="+")
    args = ap.parse_args()
    blocks = []  # (name, source)
    failures = []
    for doc in args.docs:
        text = open(doc, encoding="utf-8").read()
        if doc.endswith(".c"):
            found = [(os.path.basename(doc), text)]
        else:
            found = [(f"example {n} of {os.path.basename(doc)}", src) for n, src in
                     enumerate(re.findall(r"```c\n(.*?)```", text, re.S), 1)]
        if not found or not re.search(r"/\* expect: ", text):
            failures.append(f"{doc}: no C example with expectations")
        blocks += found
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, src) in enumerate(blocks, 1):
            c = os.path.join(tmp, f"ex{n}.c")
            exe = os.path.join(tmp, f"ex{n}")
            with open(c, "w") as f:
                f.write(src)
            libs = []
            for lib, flags in re.findall(r"/\* library: (\w+)((?: -D\w+)*) \*/", src):
                so = os.path.join(tmp, f"lib{lib}.so")
                r = subprocess.run([args.cc, "-std=c99", "-Wall", "-Werror", "-g", "-fPIC",
                                    "-shared", "-I", args.include, *flags.split(), c, "-o", so],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    failures.append(f"{name}: lib{lib}.so does not compile:\n{r.stderr}")
                libs += [f"-l{lib}"]
            if libs:
                libs = ["-L", tmp, f"-Wl,-rpath,{tmp}", *libs]
            cc = subprocess.run([args.cc, "-std=c99", "-Wall", "-Werror", "-g", "-I",
                                 args.include, c, "-o", exe, "-pthread", *libs],
                                capture_output=True, text=True)
            if cc.returncode != 0:
                failures.append(f"{name} does not compile:\n{cc.stderr}")
                continue
            # Optimised, gcc warns about more (a block "used uninitialized" by being named):
            # the header must stay quiet there too. The -O0 build is the one run, as -O1
            # already deletes free(malloc(n)).
            opt = subprocess.run([args.cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2",
                                  "-I", args.include, "-c", c, "-o", exe + ".o"],
                                 capture_output=True, text=True)
            if opt.returncode != 0:
                failures.append(f"{name} does not compile with -O2 -Wall -Wextra -Werror:\n"
                                f"{opt.stderr}")
            native = subprocess.run([exe], capture_output=True, text=True)
            trace = os.path.join(tmp, f"ex{n}.mstrace")
            run = subprocess.run([args.memscope, "run", "-o", trace, "--", exe],
                                 capture_output=True, text=True)
            if (run.stdout, run.returncode) != (native.stdout, native.returncode):
                failures.append(f"{name}: output or status differ under memscope: "
                                f"{(run.stdout, run.returncode)} vs "
                                f"{(native.stdout, native.returncode)}")
            if native.returncode != 0:
                failures.append(f"{name} exits with {native.returncode}")
            rep = subprocess.run([args.memscope, "report", "--format", "json", trace],
                                 capture_output=True, text=True)
            if rep.returncode != 0:
                failures.append(f"{name}: report failed: {rep.stderr}")
                continue
            doc = json.loads(rep.stdout)
            expects = re.findall(r"/\* expect: ([\w.]+)(\$=|[=>])(.*?) \*/", src)
            for path, op, want in expects:
                try:
                    got = as_text(lookup(doc, path))
                except (KeyError, ValueError, TypeError):
                    got = "(missing)"
                if re.fullmatch(r"[a-z_]+(\.\w+)+", want) and want.split(".")[0] in doc:
                    # another path of the report
                    try:
                        want = as_text(lookup(doc, want))
                    except (KeyError, ValueError, TypeError):
                        want = f"(missing {want})"
                if op == ">":  # a figure that varies from run to run: a lower bound
                    if not (got.isdigit() and int(got) > int(want)):
                        failures.append(f"{name}: {path} is {got}, the document says > {want}")
                elif op == "$=":
                    if not got.endswith(want):
                        failures.append(f"{name}: {path} is {got}, the document says it ends "
                                        f"with {want}")
                elif got != want:
                    failures.append(f"{name}: {path} is {got}, the document says {want}")
            print(f"{name}: {len(expects)} expectations checked")
    for f in failures:
        print("FAIL", f)
    print("doc_examples:", "FAILED" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
