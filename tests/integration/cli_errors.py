#!/usr/bin/env python3
"""Bad input gets one clear line and a non-zero exit, never a crash or a half-written file:
`memscope run` with no command, a missing, non-executable, statically linked, 32-bit,
non-x86-64, setuid or file-capability program, one on a noexec mount, one whose dynamic loader
is missing, a symbolic link loop, a path longer than PATH_MAX, a script whose #! interpreter is
missing or static (also when its name ends at the kernel's last byte), binary data, an -o
without a path, or an output path that exists, is a directory, is a symlink or cannot be
written, a MEMSCOPE_LIBRARY that is missing or has a space; `memscope report` on a missing,
empty, non-trace, truncated or newer-version file. A truncated trace still gives a partial
report that says what was lost. What can be traced runs: a script without #! (through /bin/sh,
as execvp runs it), setuid-root and capability programs run by root, a program in the current
directory named by an empty PATH element; the exit status comes back with SIGCHLD ignored, and
a long LD_PRELOAD and a relative MEMSCOPE_LIBRARY still reach every process. The traces a run
wrote are reported even when the manifest is gone, replaced by a FIFO or cannot be created,
another user's file with a trace name is not counted, a path with a newline gets no false
lines, and the final line names only a trace that exists."""
import argparse
import glob
import os
import shutil
import signal
import stat
import struct
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


def expect_error(name, args, code=None, words=(), one_line=False, **kw):
    r = run(args, **kw)
    err = r.stderr.strip()
    lines = err.splitlines()
    ok = r.returncode != 0 and (code is None or r.returncode == code) and r.returncode < 128
    ok = ok and len(lines) >= 1 and lines[0].startswith("memscope") and not r.stdout
    ok = ok and all(w in err for w in words) and (not one_line or len(lines) == 1)
    check(name, ok, "exit %d, stderr %r" % (r.returncode, err[:300]))


def elf_header(path, elf_class, machine, big_endian=False):
    """An ELF header alone (ET_EXEC, no program headers), executable: memscope must judge the
    program from its header, before anything runs."""
    ident = b"\x7fELF" + bytes([elf_class, 2 if big_endian else 1, 1]) + bytes(9)
    rest = struct.pack(">HHI" if big_endian else "<HHI", 2, machine, 1)
    with open(path, "wb") as f:
        f.write(ident + rest + bytes((52 if elf_class == 1 else 64) - len(ident) - len(rest)))
    os.chmod(path, 0o755)


def script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def traces_named(stderr):
    """The paths of the "trace written" lines, and the trace the final line says to report."""
    written, full = [], None
    for line in stderr.splitlines():
        if line.startswith("memscope: trace written: "):
            written.append(line[len("memscope: trace written: "):].split(" (unreadable")[0])
        elif line.startswith("memscope: full report: memscope report "):
            full = line[len("memscope: full report: memscope report "):]
    return written, full


def expect_traced(name, args, trace, **kw):
    """A run that must work and write trace (its -o path) and name it as the full report."""
    r = run(args, **kw)
    written, full = traces_named(r.stderr)
    check(name, r.returncode == 0 and os.path.exists(trace) and written == [trace] and
          full == trace, "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memscope", required=True)
    ap.add_argument("--program", required=True, help="a small dynamically linked program")
    a = ap.parse_args()
    ms = os.path.abspath(a.memscope) if os.sep in a.memscope else a.memscope  # runs elsewhere too
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
        src = os.path.join(work, "s.c")
        with open(src, "w") as f:
            f.write("int main(void){return 0;}\n")
        noexec = os.path.join(work, "noexec")
        shutil.copy(a.program, noexec)
        os.chmod(noexec, 0o644)
        expect_error("run a non-executable file", [ms, "run", "--", noexec], 126,
                     ["not executable"])
        expect_error("run a directory", [ms, "run", "--", work], 126, ["directory"])
        # Finding the program as execvp does, and saying truly why it cannot run.
        cwd_prog = os.path.join(work, "ms-cwd-prog")
        shutil.copy(a.program, cwd_prog)
        for path in ("/nonexistent:", ":/nonexistent", "/nonexistent::/nonexistent"):
            expect_traced("an empty PATH element is the current directory (PATH=%s)" % path,
                          [ms, "run", "-o", cwd_prog + ".mstrace", "--", "ms-cwd-prog"],
                          cwd_prog + ".mstrace", cwd=work, env=dict(os.environ, PATH=path))
            if os.path.exists(cwd_prog + ".mstrace"):
                os.unlink(cwd_prog + ".mstrace")
        path_dir = os.path.join(work, "path_dir")
        os.mkdir(path_dir)
        path_noexec = os.path.join(path_dir, "ms-noexec-cmd")
        shutil.copy(a.program, path_noexec)
        os.chmod(path_noexec, 0o644)
        expect_error("a non-executable file in PATH is the one named",
                     [ms, "run", "--", "ms-noexec-cmd"], 126,
                     [path_noexec + ": permission denied", "not executable"], one_line=True,
                     env=dict(os.environ, PATH=path_dir + ":/nonexistent"))
        loop = os.path.join(work, "loop")
        os.symlink("loop", loop)
        expect_error("run a symbolic link loop", [ms, "run", "--", loop], 126,
                     ["symbolic links"], one_line=True)
        # A path longer than PATH_MAX whose first PATH_MAX - 1 bytes name another program: that
        # one must not run.
        deep = work
        while 4093 - len(deep) - 1 > 101:
            deep = os.path.join(deep, "d" * 100)
        deep = os.path.join(deep, "d" * (4093 - len(deep) - 1))
        os.makedirs(deep)
        shutil.copy(a.program, os.path.join(deep, "p"))
        expect_error("a path too long is refused, not cut",
                     [ms, "run", "--", deep + "/p" + "q" * 20], 126, ["too long"], one_line=True,
                     cwd=work)
        shutil.rmtree(os.path.join(work, "d" * 100), ignore_errors=True)
        unshare = shutil.which("unshare") or shutil.which("unshare", path="/usr/bin:/bin")
        noexec_mnt = os.path.join(work, "noexec_mnt")
        os.mkdir(noexec_mnt)
        r = run([unshare, "-m", "sh", "-c",
                 'mount -t tmpfs -o noexec tmpfs "$1" && cp "$2" "$1/prog" && chmod 755 "$1/prog" '
                 '&& exec "$3" run -- "$1/prog"', "sh", noexec_mnt, a.program, ms]) \
            if unshare else None
        if r is None or not r.stderr.startswith("memscope"):
            print("SKIP program on a noexec mount: cannot mount one (unshare -m, mount)")
        else:
            err = r.stderr.strip()
            check("run a program on a noexec mount",
                  r.returncode == 126 and len(err.splitlines()) == 1 and "noexec" in err and
                  "chmod" not in err, "exit %d, stderr %r" % (r.returncode, err[:300]))
            to_noexec = os.path.join(work, "to_noexec")
            script(to_noexec, "#!%s/prog\n" % noexec_mnt)
            r = run([unshare, "-m", "sh", "-c",
                     'mount -t tmpfs -o noexec tmpfs "$1" && cp "$2" "$1/prog" && '
                     'chmod 755 "$1/prog" && exec "$3" run -- "$4"', "sh", noexec_mnt, a.program,
                     ms, to_noexec])
            err = r.stderr.strip()
            check("run a script whose interpreter is on a noexec mount",
                  r.returncode == 126 and len(err.splitlines()) == 1 and
                  "mounted noexec" in err and "not an executable file" not in err,
                  "exit %d, stderr %r" % (r.returncode, err[:300]))
        bad_loader = os.path.join(work, "bad_loader")
        if run(["cc", src, "-Wl,--dynamic-linker=/nonexistent/ld-ms.so.2", "-o",
                bad_loader]).returncode == 0:
            expect_error("run a program whose dynamic loader is missing",
                         [ms, "run", "--", bad_loader], 127,
                         [bad_loader, "dynamic loader /nonexistent/ld-ms.so.2"], one_line=True)
        else:
            print("SKIP missing dynamic loader: cc cannot link with --dynamic-linker")
        static = os.path.join(work, "static")
        have_static = run(["cc", "-static", src, "-o", static]).returncode == 0
        if have_static:
            expect_error("run a statically linked program", [ms, "run", "--", static], 2,
                         ["statically linked"])
        else:
            print("SKIP static program: no static libc to build one")

        # Programs the library cannot be loaded into, judged from the ELF header alone.
        elf32 = os.path.join(work, "elf32")
        if run(["cc", "-m32", src, "-o", elf32]).returncode != 0:
            elf_header(elf32, 1, 3)  # no gcc-multilib: an i386 header is enough
        expect_error("run a 32-bit program", [ms, "run", "--", elf32], 2,
                     ["32-bit x86", "64-bit x86-64 only"], one_line=True)
        arm = os.path.join(work, "arm64")
        elf_header(arm, 2, 183)
        expect_error("run a program for another machine", [ms, "run", "--", arm], 2,
                     ["AArch64", "machine 183", "64-bit x86-64 only"], one_line=True)
        s390 = os.path.join(work, "s390x")
        elf_header(s390, 2, 22, big_endian=True)
        expect_error("run a big-endian program for another machine", [ms, "run", "--", s390], 2,
                     ["s390x", "64-bit x86-64 only"], one_line=True)
        junk = os.path.join(work, "junk")
        with open(junk, "wb") as f:
            f.write(bytes([0x13, 0x37, 0x00, 0xfe, 0x0a, 0x41, 0x7f, 0x05]) * 64)
        os.chmod(junk, 0o755)
        expect_error("run binary data", [ms, "run", "--", junk], 126,
                     ["not an executable format"], one_line=True)
        obj = os.path.join(work, "s.o")
        if run(["cc", "-c", src, "-o", obj]).returncode == 0:
            os.chmod(obj, 0o755)
            expect_error("run an object file", [ms, "run", "--", obj], 126,
                         ["not an executable format", "not a program"], one_line=True)

        # Scripts: the kernel runs the interpreter of the #! line, so the checks apply to it.
        if have_static:
            to_static = os.path.join(work, "to_static")
            script(to_static, "#!%s\n" % static)
            expect_error("run a script whose interpreter is static", [ms, "run", "--", to_static],
                         2, ["its interpreter " + static, "statically linked"], one_line=True)
        missing = os.path.join(work, "missing_interp")
        script(missing, "#!/nonexistent/interp -x\necho hi\n")
        expect_error("run a script whose interpreter is missing", [ms, "run", "--", missing], 127,
                     ["interpreter /nonexistent/interp not found"], one_line=True)
        dos = os.path.join(work, "dos")
        script(dos, "#!/bin/sh\r\necho hi\r\n")
        expect_error("run a script with DOS line ends", [ms, "run", "--", dos], 127,
                     ["carriage return", "dos2unix"], one_line=True)
        if have_static:
            # No newline in the kernel's 256 bytes, and the name ends just before the last one,
            # a space: the kernel takes the name as whole, and runs the static interpreter.
            edge = os.path.join(work, "edge_interp")
            with open(edge, "wb") as f:
                f.write(b"#!" + b" " * (253 - len(static)) + static.encode() + b" " + b"x" * 40 +
                        b"\ntrue\n")
            os.chmod(edge, 0o755)
            expect_error("a #! name that ends at the kernel's last byte is checked",
                         [ms, "run", "--", edge], 2, ["its interpreter " + static,
                                                      "statically linked"], one_line=True)
        # No #! line: execv fails with ENOEXEC, and execvp runs it with /bin/sh; so does memscope.
        plain = os.path.join(work, "plain")
        script(plain, "echo hi; x=$(printf 'a%.0s' 1 2 3); echo \"$x $0 $*\"\n")
        native = run(["sh", plain, "one", "two"])
        plain_trace = os.path.join(work, "plain.mstrace")
        r = run([ms, "run", "-o", plain_trace, "--", plain, "one", "two"])
        written, _ = traces_named(r.stderr)
        check("run a script without #! as sh SCRIPT runs it",
              r.returncode == 0 and r.stdout == native.stdout == "hi\naaa %s one two\n" % plain and
              written and written[0] == plain_trace and os.path.getsize(plain_trace) > 0,
              "exit %d, stdout %r (sh: %r), stderr %r" % (r.returncode, r.stdout, native.stdout,
                                                         r.stderr[-300:]))

        # Suppression files: a bad one is one line naming the file and line; a directory, a
        # missing file and a FIFO are refused unread.
        bad_supp = os.path.join(work, "bad.supp")
        with open(bad_supp, "w") as f:
            f.write("leak:ok\nrace:nope\n")
        expect_error("report with a bad suppression", [ms, "report", plain_trace,
                     "--suppressions", bad_supp], 1, [bad_supp + ":2:", "leak:PATTERN"], True)
        expect_error("report with a missing suppression file", [ms, "report", plain_trace,
                     "--suppressions", os.path.join(work, "none.supp")], 1, ["none.supp"], True)
        expect_error("report with a directory as suppressions", [ms, "report", plain_trace,
                     "--suppressions", work], 1, ["not a regular file"], True)
        fifo = os.path.join(work, "supp.fifo")
        os.mkfifo(fifo)
        expect_error("report with a FIFO as suppressions", [ms, "report", plain_trace,
                     "--suppressions", fifo], 1, ["not a regular file"], True, timeout=20)
        expect_error("report --suppressions without a file", [ms, "report", plain_trace,
                     "--suppressions"], 2, ["needs a file"], True)
        expect_error("report --group-by with an unknown group", [ms, "report", plain_trace,
                     "--group-by", "file"], 2, ["--group-by file", "stack, function, line"], True)
        expect_error("report --alloc-fn without a function", [ms, "report", plain_trace,
                     "--alloc-fn="], 2, ["needs a function"], True)

        if os.geteuid() == 0:
            suid = os.path.join(work, "suid")
            shutil.copy(a.program, suid)
            os.chown(suid, 65534, 65534)
            os.chmod(suid, 0o4755)
            expect_error("run a setuid program", [ms, "run", "--", suid], 2, ["setuid"],
                         one_line=True)
            sgid = os.path.join(work, "sgid")
            shutil.copy(a.program, sgid)
            os.chown(sgid, 0, 65534)
            os.chmod(sgid, 0o2755)
            expect_error("run a setgid program", [ms, "run", "--", sgid], 2, ["setgid"],
                         one_line=True)
            # Secure-execution mode comes only with effective ids other than the real ones.
            suid_root = os.path.join(work, "suid_root")
            shutil.copy(a.program, suid_root)
            os.chmod(suid_root, 0o4755)
            expect_traced("root runs a setuid-root program traced",
                          [ms, "run", "-o", suid_root + ".mstrace", "--", suid_root],
                          suid_root + ".mstrace")
            suid_script = os.path.join(work, "suid_script")
            script(suid_script, "#!/bin/sh\ntrue\n")
            os.chown(suid_script, 65534, 65534)
            os.chmod(suid_script, 0o4755)  # the kernel ignores setuid on scripts
            expect_traced("a setuid script is traced",
                          [ms, "run", "-o", suid_script + ".mstrace", "--", suid_script],
                          suid_script + ".mstrace")
        setcap = shutil.which("setcap") or shutil.which("setcap", path="/usr/sbin:/sbin")
        cap = os.path.join(work, "cap")
        shutil.copy(a.program, cap)
        if not setcap or run([setcap, "cap_net_raw+ep", cap]).returncode != 0:
            print("SKIP file capabilities: setcap (libcap2-bin) missing or not permitted")
        else:
            # For root, file capabilities add nothing: no secure-execution mode, traced.
            expect_traced("root runs a program with file capabilities traced",
                          [ms, "run", "-o", cap + ".mstrace", "--", cap], cap + ".mstrace")
            # For another user they do, and the loader would ignore LD_PRELOAD.
            os.chmod(work, 0o755)
            try:
                r = run([ms, "run", "--", cap], user=65534, group=65534, extra_groups=[],
                        cwd=work)
            except (OSError, subprocess.SubprocessError) as e:
                r = None
                print("SKIP file capabilities as another user: %s" % e)
            if r is not None and r.returncode in (126, 127) and "memscope" not in r.stderr:
                print("SKIP file capabilities as another user: cannot run %s as nobody" % ms)
            elif r is not None:
                err = r.stderr.strip()
                check("another user runs a program with file capabilities",
                      r.returncode == 2 and len(err.splitlines()) == 1 and
                      "file capabilities" in err and "secure-execution" in err,
                      "exit %d, stderr %r" % (r.returncode, err[:300]))
            os.chmod(work, 0o700)
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
        r = run([ms, "run", "-o", work, "--", a.program])
        check("output is a directory", r.returncode == 2 and "is a directory" in r.stderr and
              "remove it" not in r.stderr and len(r.stderr.splitlines()) == 1,
              "exit %d, stderr %r" % (r.returncode, r.stderr[:300]))
        expect_error("output directory missing",
                     [ms, "run", "-o", "/nonexistent/dir/t.mstrace", "--", a.program], 2,
                     ["cannot create"])
        expect_error("bad --unwind", [ms, "run", "--unwind=magic", "--", a.program], 2)
        expect_error("-o without a path", [ms, "run", "-o"], 2, ["-o needs a trace path"],
                     one_line=True)
        expect_error("-o followed by --", [ms, "run", "-o", "--", a.program], 2,
                     ["-o needs a trace path"], one_line=True)
        expect_error("--output= without a path", [ms, "run", "--output=", "--", a.program], 2,
                     ["--output needs a trace path"], one_line=True)

        # The traces of a run are found on disk when the manifest does not list them.
        py = sys.executable
        lost = os.path.join(work, "lost.mstrace")
        expect_traced("a trace the manifest lost is reported",
                      [ms, "run", "-o", lost, "--", py, "-c",
                       "import glob, os, sys\n"
                       "for m in glob.glob(sys.argv[1] + '.traces-*'): os.unlink(m)", lost],
                      lost)
        child_only = os.path.join(work, "child_only.mstrace")
        r = run([ms, "run", "-o", child_only, "--", py, "-c",
                 "import os, subprocess, sys\n"
                 "os.unlink(sys.argv[1]); subprocess.run([sys.argv[2]], stdout=subprocess.DEVNULL)",
                 child_only, a.program])
        written, full = traces_named(r.stderr)
        check("the full report names the trace that exists, not the root's deleted one",
              r.returncode == 0 and full is not None and full.startswith(child_only + ".") and
              os.path.exists(full) and written == [full] and "removed while" in r.stderr,
              "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
        junk_root = os.path.join(work, "junk_root.mstrace")
        r = run([ms, "run", "-o", junk_root, "--", py, "-c",
                 "import os, sys\nos.unlink(sys.argv[1]); open(sys.argv[1], 'w').write('junk')",
                 junk_root])
        check("an unreadable only trace is not offered as the full report",
              r.returncode == 0 and "unreadable" in r.stderr and "full report" not in r.stderr,
              "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
        none = os.path.join(work, "none.mstrace")
        r = run([ms, "run", "-o", none, "--", py, "-c",
                 "import glob, os, sys\nos.unlink(sys.argv[1])\n"
                 "for m in glob.glob(sys.argv[1] + '.traces-*'): os.unlink(m)", none])
        check("no trace at all: says so accurately",
              r.returncode == 0 and "no trace was written" in r.stderr and
              "could not create" in r.stderr and "killed" in r.stderr and
              "no allocation" not in r.stderr and "full report" not in r.stderr,
              "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
        # A trace name so long that the manifest's (name.traces-XXXXXX) does not fit: mkstemp
        # fails, and the run works all the same.
        long_name = os.path.join(work, "L" * 250)
        expect_traced("a run whose manifest cannot be created",
                      [ms, "run", "-o", long_name, "--", a.program], long_name)
        newline = os.path.join(work, "new\nline.mstrace")
        r = run([ms, "run", "-o", newline, "--", a.program])
        check("a trace path with a newline: no false 'removed' lines",
              r.returncode == 0 and os.path.exists(newline) and "removed while" not in r.stderr and
              r.stderr.startswith("memscope: trace written: %s\n" % newline) and
              r.stderr.count("trace written") == 1,
              "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
        fifo = os.path.join(work, "fifo.mstrace")
        try:
            expect_traced("a manifest replaced by a FIFO neither hangs nor loses the trace",
                          [ms, "run", "-o", fifo, "--", py, "-c",
                           "import glob, os, sys\n"
                           "for m in glob.glob(sys.argv[1] + '.traces-*'):\n"
                           "    os.unlink(m); os.mkfifo(m)", fifo], fifo, timeout=60)
        except subprocess.TimeoutExpired:
            check("a manifest replaced by a FIFO neither hangs nor loses the trace", False,
                  "memscope still running after 60 s")
        if os.geteuid() == 0:
            # In a shared directory another user can make a file with a trace's name.
            foreign = os.path.join(work, "foreign.mstrace")
            r = expect_traced("another user's file with a trace name is not counted",
                              [ms, "run", "-o", foreign, "--", py, "-c",
                               "import os, sys\np = sys.argv[1] + '.99999'\n"
                               "open(p, 'wb').write(b'MSTRACE\\x1a' + bytes(64))\n"
                               "os.chown(p, 65534, 65534)", foreign], foreign)
            check("another user's file is named as not counted",
                  "not counted: %s.99999" % foreign in r.stderr and "uid 65534" in r.stderr,
                  r.stderr[-400:])
        # SIGCHLD ignored by memscope's parent: the program's exit status still comes back, and
        # the program inherits the disposition as it would without memscope.
        r = run([ms, "run", "-o", os.path.join(work, "sigchld.mstrace"), "--", py, "-c",
                 "import signal, sys\n"
                 "sys.exit(3 if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN else 4)"],
                preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
        check("SIGCHLD ignored: the exit status and the disposition are the program's",
              r.returncode == 3, "exit %d, stderr %r" % (r.returncode, r.stderr[-300:]))

        # The library: MEMSCOPE_LIBRARY, and what LD_PRELOAD can carry.
        lib = os.path.join(os.path.dirname(os.path.realpath(shutil.which(ms))), "..", "lib",
                           "libmemscope.so")
        no_lib = "/nonexistent/libmemscope.so"
        expect_error("MEMSCOPE_LIBRARY names no file", [ms, "run", "--", a.program], 2,
                     ["MEMSCOPE_LIBRARY=" + no_lib, "No such file"], one_line=True,
                     env=dict(os.environ, MEMSCOPE_LIBRARY=no_lib))
        if os.path.exists(lib):
            spaced = os.path.join(work, "with space")
            os.mkdir(spaced)
            shutil.copy(lib, spaced)
            expect_error("a libmemscope.so path with a space is refused",
                         [ms, "run", "--", a.program], 2, ["space", "LD_PRELOAD"], one_line=True,
                         env=dict(os.environ,
                                  MEMSCOPE_LIBRARY=os.path.join(spaced, "libmemscope.so")))
            rel = os.path.join(work, "rel.mstrace")
            r = run([ms, "run", "-o", rel, "--", "sh", "-c", 'cd / && exec "$0"', a.program],
                    cwd=work, env=dict(os.environ, MEMSCOPE_LIBRARY=os.path.relpath(lib, work)))
            written, _ = traces_named(r.stderr)
            check("a relative MEMSCOPE_LIBRARY still traces what runs after a cd",
                  r.returncode == 0 and len(written) == 2 and "preloaded" not in r.stderr,
                  "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
        else:
            print("SKIP MEMSCOPE_LIBRARY checks: no %s" % lib)
        # The program's own LD_PRELOAD is kept whole, however long: the dynamic loader reports
        # the missing library once for memscope and once for the program.
        r = run([ms, "run", "-o", os.path.join(work, "preload.mstrace"), "--", a.program],
                env=dict(os.environ, LD_PRELOAD=" " * 9000 + "/nonexistent/ms-marker.so"))
        check("a long LD_PRELOAD reaches the program whole",
              r.returncode == 0 and r.stderr.count("ms-marker.so") == 2,
              "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))

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
