#!/usr/bin/env python3
"""Bad input gets one clear line and a non-zero exit, never a crash or a half-written file:
`memscope run` with no command, a missing, non-executable, statically linked or setuid program,
or an output path that exists, is a symlink or cannot be written; `memscope report` on a
missing, empty, non-trace, truncated or newer-version file. A truncated trace still gives a
partial report that says what was lost."""
import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile

failures = 0


def check(name, ok, detail=""):
    global failures
    failures += not ok
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def expect_error(name, args, code=None, words=()):
    r = run(args)
    err = r.stderr.strip()
    lines = err.splitlines()
    ok = r.returncode != 0 and (code is None or r.returncode == code) and r.returncode < 128
    ok = ok and len(lines) >= 1 and lines[0].startswith("memscope") and not r.stdout
    ok = ok and all(w in err for w in words)
    check(name, ok, "exit %d, stderr %r" % (r.returncode, err[:300]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--program", required=True, help="a small dynamically linked program")
    a = ap.parse_args()
    ms = a.memscope
    work = tempfile.mkdtemp(prefix="ms-cli-")
    try:
        for cmd in (["run", "--help"], ["run", "-h"], ["report", "--help"], ["--help"]):
            r = run([ms] + cmd)
            check("memscope %s prints help" % " ".join(cmd),
                  r.returncode == 0 and r.stdout.startswith("usage: memscope") and not r.stderr,
                  "exit %d, stdout %r" % (r.returncode, r.stdout[:100]))
        expect_error("run with an unknown option", [ms, "run", "--bogus", "--", "true"], 2,
                     ["unknown option --bogus", "usage: memscope run"])
        expect_error("report with an unknown option", [ms, "report", "--bogus", "x"], 2,
                     ["unknown option --bogus", "usage: memscope report"])
        expect_error("run without a program", [ms, "run"], 2, ["no program"])
        expect_error("run with -- but no program", [ms, "run", "--"], 2, ["no program"])
        expect_error("run a missing program", [ms, "run", "--", "/nonexistent/prog"], 127,
                     ["no such program"])
        expect_error("run a program not in PATH", [ms, "run", "--", "no-such-cmd-xyz"], 127,
                     ["PATH"])
        noexec = os.path.join(work, "noexec")
        shutil.copy(a.program, noexec)
        os.chmod(noexec, 0o644)
        expect_error("run a non-executable file", [ms, "run", "--", noexec], 126,
                     ["not executable"])
        expect_error("run a directory", [ms, "run", "--", work], 126, ["directory"])
        static = os.path.join(work, "static")
        src = os.path.join(work, "s.c")
        with open(src, "w") as f:
            f.write("int main(void){return 0;}\n")
        if run(["cc", "-static", src, "-o", static]).returncode == 0:
            expect_error("run a statically linked program", [ms, "run", "--", static], 2,
                         ["statically linked"])
        else:
            print("SKIP static program: no static libc to build one")
        if os.geteuid() == 0:
            suid = os.path.join(work, "suid")
            shutil.copy(a.program, suid)
            os.chown(suid, 65534, 65534)
            os.chmod(suid, 0o4755)
            expect_error("run a setuid program", [ms, "run", "--", suid], 2, ["setuid"])
        exists = os.path.join(work, "exists.mstrace")
        with open(exists, "w") as f:
            f.write("keep me")
        expect_error("output exists", [ms, "run", "-o", exists, "--", a.program], 2,
                     ["already exists"])
        check("existing file untouched", open(exists).read() == "keep me")
        link = os.path.join(work, "link.mstrace")
        os.symlink(os.path.join(work, "target"), link)
        expect_error("output is a symlink", [ms, "run", "-o", link, "--", a.program], 2,
                     ["symbolic link"])
        check("symlink target not created", not os.path.exists(os.path.join(work, "target")))
        expect_error("output directory missing",
                     [ms, "run", "-o", "/nonexistent/dir/t.mstrace", "--", a.program], 2,
                     ["cannot create"])
        expect_error("bad --unwind", [ms, "run", "--unwind=magic", "--", a.program], 2)

        # A good trace, then damaged copies of it.
        good = os.path.join(work, "good.mstrace")
        r = run([ms, "run", "-o", good, "--", a.program])
        check("a good run", r.returncode == 0 and os.path.exists(good), r.stderr[-300:])
        mode = stat.S_IMODE(os.stat(good).st_mode)
        check("trace mode is 0600", mode == 0o600, oct(mode))
        data = open(good, "rb").read()
        expect_error("report a missing file", [ms, "report", os.path.join(work, "none")], 1,
                     ["No such file"])
        empty = os.path.join(work, "empty")
        open(empty, "w").close()
        expect_error("report an empty file", [ms, "report", empty], 1, ["empty"])
        expect_error("report a non-trace", [ms, "report", src], 1, ["not a memscope trace"])
        newer = os.path.join(work, "newer")
        with open(newer, "wb") as f:
            f.write(data[:8] + bytes([99, 0]) + data[10:])
        expect_error("report a newer format", [ms, "report", newer], 1, ["newer"])
        expect_error("report without a trace", [ms, "report"], 2, ["no trace"])
        # Truncated anywhere: a clean error or a partial report that says so; never a crash.
        crashes = 0
        partial_ok = 0
        for cut in range(0, len(data), max(1, len(data) // 60)):
            t = os.path.join(work, "cut")
            with open(t, "wb") as f:
                f.write(data[:cut])
            r = run([ms, "report", t])
            if r.returncode < 0 or r.returncode >= 128:
                crashes += 1
            elif r.returncode == 0:
                partial_ok += ("truncated" in r.stdout or "no end record" in r.stdout)
        check("truncated traces never crash the reader", crashes == 0, "%d crashes" % crashes)
        check("partial reports say what was lost", partial_ok > 0, "%d" % partial_ok)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
