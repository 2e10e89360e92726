/* `memscope run [-o TRACE] [--unwind=MODE] [--depth=N] -- PROGRAM ARGS...`: checks that
 * PROGRAM can be traced, runs it with libmemscope preloaded, keeps its stdin, stdout and exit
 * status, and prints a short summary and every trace written to stderr. */
#define _GNU_SOURCE
#include "analysis/trace_analysis.h"
#include "cli.h"
#include "report/number_format.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define USAGE MS_USAGE_RUN

/* Finds PROGRAM as execvp would; returns 0 with the path, or an errno value. */
static int resolve_program(const char *prog, char *out, size_t cap)
{
    if (strchr(prog, '/')) {
        snprintf(out, cap, "%s", prog);
        return access(out, F_OK) == 0 ? (access(out, X_OK) == 0 ? 0 : EACCES) : ENOENT;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int found_noexec = 0;
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(out, cap, "%.*s/%s", (int)len, len ? p : ".", prog);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(out, X_OK) == 0)
                return 0;
            found_noexec = 1;
        }
        p += len + (colon ? 1 : 0);
    }
    return found_noexec ? EACCES : ENOENT;
}

/* Returns 1 if the ELF file is statically linked (no PT_INTERP), 0 if dynamic or not ELF. */
static int is_static_elf(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_Ehdr eh;
    int result = 0;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
        !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
        eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 4096) {
        result = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
                (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP) {
                result = 0;
                break;
            }
        }
    }
    close(fd);
    return result;
}

/* libmemscope.so next to this binary: ../lib (build tree) or ../lib/memscope (installed). */
static int find_library(char *out, size_t cap)
{
    const char *env = getenv("MEMSCOPE_LIBRARY");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    const char *candidates[] = {"../lib/libmemscope.so", "../lib/memscope/libmemscope.so"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/%s", self, candidates[i]);
        if (realpath(p, out) && access(out, R_OK) == 0)
            return 0;
    }
    (void)cap;
    return -1;
}

/* One line per trace: its path and, unless --no-summary, what the process did. */
static void print_trace(const char *trace, bool summary)
{
    struct ms_analysis *a;
    char err[1024] = "";
    if (!summary) {
        fprintf(stderr, "memscope: trace written: %s\n", trace);
        return;
    }
    if (ms_analysis_run_numbers(trace, &a, err, sizeof err) != 0) {
        fprintf(stderr, "memscope: trace written: %s (unreadable: %s)\n", trace, err);
        return;
    }
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    const struct ms_process_info *p = ms_trace_process(a->trace);
    const char *name = p->argc ? p->argv[0] : p->exe;
    const char *slash = name ? strrchr(name, '/') : NULL;
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    fprintf(stderr,
            "memscope: trace written: %s\n"
            "memscope:   %s (pid %" PRIu64 "): %s allocations, %s frees, %s bytes allocated, "
            "peak %s bytes; %s bytes in %s blocks still allocated at exit\n",
            trace, slash ? slash + 1 : name, p->pid, ms_format_count(b1, s->allocs),
            ms_format_count(b2, s->frees), ms_format_count(b3, s->bytes_allocated),
            ms_format_count(b4, s->peak_bytes), ms_format_count(b5, s->live_bytes),
            ms_format_count(b6, s->live_blocks));
    ms_analysis_free(a);
}

static pid_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

int ms_cmd_run(int argc, char **argv)
{
    const char *output = NULL, *unwind = "libunwind", *depth = "64";
    bool summary = true;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "-o") && i + 1 < argc)
            output = argv[++i];
        else if (!strncmp(a, "--output=", 9))
            output = a + 9;
        else if (!strncmp(a, "--unwind=", 9))
            unwind = a + 9;
        else if (!strncmp(a, "--depth=", 8))
            depth = a + 8;
        else if (!strcmp(a, "--no-summary"))
            summary = false;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(ms_help_run, stdout);
            return 0;
        } else if (a[0] == '-') {
            ms_cli_error("run", "unknown option %s; " USAGE, a);
            return 2;
        } else
            break;
    }
    if (i >= argc) {
        ms_cli_error("run", "no program given; " USAGE);
        return 2;
    }
    if (strcmp(unwind, "libunwind") && strcmp(unwind, "fp") && strcmp(unwind, "none")) {
        ms_cli_error("run",
                     "--unwind=%s: the modes are libunwind (default), fp (for binaries "
                     "built with frame pointers) and none",
                     unwind);
        return 2;
    }
    char *end;
    long d = strtol(depth, &end, 10);
    if (*end || d < 1 || d > 256) {
        ms_cli_error("run", "--depth=%s: give a number of frames from 1 to 256", depth);
        return 2;
    }
    char **cmd = argv + i;
    char prog[PATH_MAX];
    int perr = resolve_program(cmd[0], prog, sizeof prog);
    if (perr == ENOENT) {
        ms_cli_error("run", "%s: no such program%s", cmd[0], strchr(cmd[0], '/') ? "" : " in PATH");
        return 127;
    }
    if (perr == EACCES) {
        ms_cli_error("run", "%s: permission denied: the file is not executable (chmod +x it)",
                     prog);
        return 126;
    }
    struct stat st;
    if (stat(prog, &st) == 0 && S_ISDIR(st.st_mode)) {
        ms_cli_error("run", "%s: is a directory, not a program", prog);
        return 126;
    }
    if (is_static_elf(prog)) {
        ms_cli_error("run",
                     "%s is statically linked: LD_PRELOAD cannot intercept its allocator; "
                     "link it dynamically to trace it",
                     prog);
        return 2;
    }
    if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
        ((st.st_mode & S_ISGID) && st.st_gid != getegid())) {
        ms_cli_error("run",
                     "%s is setuid/setgid: the dynamic loader ignores LD_PRELOAD for it; "
                     "trace a copy without the setuid bit",
                     prog);
        return 2;
    }
    char lib[PATH_MAX];
    if (find_library(lib, sizeof lib) != 0) {
        ms_cli_error("run", "cannot find libmemscope.so next to this memscope (looked in ../lib "
                            "and ../lib/memscope); set MEMSCOPE_LIBRARY to its path");
        return 2;
    }

    /* The trace path: absolute, because the program may change directory. */
    char outbuf[PATH_MAX];
    if (!output) {
        const char *slash = strrchr(cmd[0], '/');
        snprintf(outbuf, sizeof outbuf, "memscope.%s.%d.mstrace", slash ? slash + 1 : cmd[0],
                 (int)getpid());
        output = outbuf;
    }
    char abs_out[PATH_MAX + 1];
    if (output[0] == '/') {
        snprintf(abs_out, sizeof abs_out, "%s", output);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            ms_cli_error("run", "cannot get the current directory: %s", strerror(errno));
            return 2;
        }
        if (snprintf(abs_out, sizeof abs_out, "%s/%s", cwd, output) >= (int)sizeof abs_out) {
            ms_cli_error("run", "%s: path too long", output);
            return 2;
        }
    }
    /* Check now that the trace can be created, so that nothing runs for nothing. */
    int probe = open(abs_out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (probe < 0) {
        struct stat lst;
        if (errno == EEXIST && lstat(abs_out, &lst) == 0 && S_ISLNK(lst.st_mode))
            ms_cli_error("run",
                         "%s is a symbolic link; memscope never writes through one: "
                         "choose another -o path",
                         output);
        else if (errno == EEXIST)
            ms_cli_error("run",
                         "%s already exists; memscope never overwrites a file: remove it "
                         "or choose another -o path",
                         output);
        else
            ms_cli_error("run", "cannot create the trace %s: %s; choose a writable -o path", output,
                         strerror(errno));
        return 2;
    }
    close(probe);
    unlink(abs_out);

    char manifest[PATH_MAX + 32];
    snprintf(manifest, sizeof manifest, "%s.traces-XXXXXX", abs_out);
    int mfd = mkstemp(manifest);
    if (mfd < 0) {
        ms_cli_error("run", "cannot create %s: %s", manifest, strerror(errno));
        return 2;
    }
    close(mfd);

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        ms_cli_error("run", "fork: %s", strerror(errno));
        unlink(manifest);
        return 2;
    }
    if (pid == 0) {
        char preload[2 * PATH_MAX + 2], rootpid[32];
        const char *old = getenv("LD_PRELOAD");
        if (old && *old)
            snprintf(preload, sizeof preload, "%s:%s", lib, old);
        else
            snprintf(preload, sizeof preload, "%s", lib);
        snprintf(rootpid, sizeof rootpid, "%d", (int)getpid());
        setenv("LD_PRELOAD", preload, 1);
        setenv("MEMSCOPE_OUTPUT", abs_out, 1);
        setenv("MEMSCOPE_MANIFEST", manifest, 1);
        setenv("MEMSCOPE_ROOT_PID", rootpid, 1);
        setenv("MEMSCOPE_UNWIND", unwind, 1);
        setenv("MEMSCOPE_DEPTH", depth, 1);
        execv(prog, cmd);
        fprintf(stderr, "memscope run: cannot execute %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward_signal);
    signal(SIGHUP, forward_signal);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;

    /* Report every trace the process tree wrote, the program's own first. */
    FILE *m = fopen(manifest, "r");
    char line[PATH_MAX + 16];
    int ntraces = 0;
    bool root_written = false;
    while (m && fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = 0;
        root_written |= !strcmp(line, abs_out);
    }
    if (root_written) {
        print_trace(abs_out, summary);
        ntraces++;
    }
    if (m)
        rewind(m);
    while (m && fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || !strcmp(line, abs_out))
            continue;
        print_trace(line, summary);
        ntraces++;
    }
    if (m)
        fclose(m);
    unlink(manifest);
    if (!ntraces)
        fprintf(stderr, "memscope: no trace was written: the program made no allocation, or "
                        "was killed before memscope could write (SIGKILL)\n");
    else if (ntraces > 1)
        fprintf(stderr,
                "memscope: %d traces (one per process); report one with: memscope "
                "report TRACE\n",
                ntraces);
    else
        fprintf(stderr, "memscope: full report: memscope report %s\n", abs_out);

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        fflush(NULL);
        kill(getpid(), sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
