/* `memscope run [-o TRACE] [--unwind=MODE] [--depth=N] ... -- PROGRAM ARGS...`: checks that
 * PROGRAM can be traced, runs it with libmemscope preloaded, keeps its stdin, stdout and exit
 * status, and prints a short summary and every trace written to stderr. */
#define _GNU_SOURCE
#include "analysis/process_scan.h"
#include "analysis/trace_analysis.h"
#include "analysis/trace_compact.h"
#include "analysis/trace_seal.h"
#include "cli.h"
#include "clock_tick.h"
#include "rss_sampler.h"
#include "common/leak_handshake.h"
#include "common/open_regular.h"
#include "common/options.h"
#include "common/trace_format.h"
#include "preload_library.h"
#include "program_check.h"
#include "snapshot_scans.h"
#include "thread_stop.h"
#include "report/number_format.h"
#include "report/report_notes.h"
#include "trace_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define USAGE MS_USAGE_RUN

/* The signals memscope run passes to its program while it runs (SIGINT and SIGQUIT, which the
 * terminal sends to both, ignored; the others forwarded), and which are its own again once the
 * program is reaped: a long summary or leak scan can be interrupted. */
static const int passed[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
#define N_PASSED (sizeof passed / sizeof passed[0])

/* Blocks them, for a step that must be done whole or not at all (a chunk appended, a trace
 * sealed, the compressed copy put in place); `was` is what sigprocmask restores after. */
static void passed_block(sigset_t *was)
{
    sigset_t stop;
    sigemptyset(&stop);
    for (size_t k = 0; k < N_PASSED; k++)
        sigaddset(&stop, passed[k]);
    sigprocmask(SIG_BLOCK, &stop, was);
}

/* The compressed copy's name beside the trace, while it has one: memscope run, interrupted
 * once its program is reaped, removes it before it dies of the signal. */
static char named_copy[PATH_MAX];

static void die_cleanly(int sig)
{
    if (named_copy[0])
        unlink(named_copy);
    raise(sig); /* delivered once this handler returns, with the default action (SA_RESETHAND) */
}

/* The dispositions given to memscope run for the passed signals, back once the program is
 * reaped; a signal that would kill memscope run removes the compressed copy first. */
static void passed_restore(const struct sigaction *given, const ms_trace_compactor *packer)
{
    const char *copy = ms_trace_compact_named_copy(packer);
    if (copy && strlen(copy) < sizeof named_copy)
        strcpy(named_copy, copy);
    /* Its own output to a closed pipe (memscope run ... 2>&1 | head) fails with EPIPE instead of
     * killing it before the trace is sealed and its compressed copy in place. */
    signal(SIGPIPE, SIG_IGN);
    for (size_t k = 0; k < N_PASSED; k++) {
        struct sigaction act = given[k];
        if (named_copy[0] && act.sa_handler == SIG_DFL) {
            act = (struct sigaction){.sa_handler = die_cleanly, .sa_flags = SA_RESETHAND};
            sigemptyset(&act.sa_mask);
            for (size_t j = 0; j < N_PASSED; j++)
                sigaddset(&act.sa_mask, passed[j]);
        }
        sigaction(passed[k], &act, NULL);
    }
}

/* The scans of the program's snapshots (snapshot_scans.h) appended to its trace, each chunk
 * whole or not at all (no Ctrl-C in the middle of one): the on-demand ones, then the one at
 * exit, whose kinds a gets. */
static void write_scans(struct ms_analysis *a, const char *trace, struct ms_check_scans *checks)
{
    uint8_t *payload;
    size_t len = ms_exit_scan(a, &payload);
    if (checks)
        ms_check_scans_peak(checks);
    sigset_t was;
    passed_block(&was);
    if (checks && ms_check_scans_write(checks, trace) != 0)
        fprintf(stderr, "memscope: %s: the leak checks could not be appended\n", trace);
    struct stat st;
    int fd = len ? ms_open_regular_as(trace, O_WRONLY | O_APPEND | O_NOFOLLOW, &st) : -1;
    if (fd >= 0 && len <= UINT32_MAX &&
        ms_trace_chunk_write(fd, MS_CHUNK_LEAK_SCAN, 0, 0, payload, (uint32_t)len) == 0)
        ms_analysis_add_leak_scan(a, payload, len);
    if (fd >= 0)
        close(fd);
    sigprocmask(SIG_SETMASK, &was, NULL);
    free(payload);
}

/* One line per trace: its path and, unless --no-summary, what the process did: from the live
 * replay (live), or already analysed (a, or rc and err). Returns false if the trace could not
 * be read (then `memscope report` cannot read it either). */
static bool print_trace(const char *trace, bool own, bool summary, ms_analysis_live *live,
                        struct ms_check_scans *checks, struct ms_analysis *a, int rc,
                        const char *why)
{
    char err[1024] = "";
    if (!summary) {
        fprintf(stderr, "memscope: trace written: %s\n", trace);
        return true;
    }
    if (!a && !rc)
        rc = ms_analysis_live_finish(live, trace, &a, err, sizeof err);
    else if (live)
        ms_analysis_live_discard(live);
    if (rc != 0) {
        fprintf(stderr, "memscope: trace written: %s (unreadable: %s)\n", trace,
                why && why[0] ? why : err);
        return false;
    }
    if (checks && a->live_restarted) {
        /* the live replay's order at the checks was not the trace's: their kinds are not */
        ms_check_scans_free(checks);
        checks->dropped = checks->scanned[0] || checks->scanned[1] || checks->asked[1];
        checks->scanned[0] = checks->scanned[1] = 0;
    }
    if (own)
        write_scans(a, trace, checks);
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    const struct ms_process_info *p = ms_trace_process(a->trace);
    const char *name = p->argc ? p->argv[0] : p->exe;
    const char *slash = name ? strrchr(name, '/') : NULL;
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    fprintf(stderr,
            "memscope: trace written: %s\n"
            "memscope:   %s (pid %" PRIu64 "): %s allocations, %s frees, %s bytes allocated, "
            "peak %s%s bytes; %s%s bytes in %s%s blocks still allocated at exit%s\n",
            trace, slash ? slash + 1 : name, p->pid, ms_format_count(b1, s->allocs),
            ms_format_count(b2, s->frees), ms_format_count(b3, s->bytes_allocated),
            s->sample_bytes ? "~" : "", ms_format_count(b4, s->peak_bytes),
            s->sample_bytes ? "~" : "", ms_format_count(b5, s->live_bytes),
            s->sample_bytes ? "~" : "", ms_format_count(b6, s->live_blocks),
            s->sample_bytes ? " (~: estimated from a sample, MEMSCOPE_SAMPLE_BYTES)" : "");
    if (s->leak_scan && s->scan_status == MS_SCAN_DONE && s->live_blocks) {
        char kinds[MS_LEAK_KINDS_TEXT];
        fprintf(stderr, "memscope:   as valgrind's memcheck counts them: %s\n",
                ms_format_leak_kinds(kinds, s->kind_bytes, s->kind_blocks));
    } else if (own && s->live_blocks) {
        char reason[512];
        fprintf(stderr, "memscope:   leak kinds not known: %s\n",
                ms_report_no_leak_kinds(a, reason, sizeof reason));
    }
    if (s->unknown_frees && !s->sample_bytes)
        fprintf(stderr,
                "memscope:   allocator misuse: %s free(s) or realloc(s) of no block allocated "
                "(double or invalid frees)%s: the full report shows them\n",
                ms_format_count(b1, s->unknown_frees),
                s->free_faults ? "; the program died inside the allocator" : "");
    else if (s->free_faults)
        fprintf(stderr, "memscope:   the program died inside the allocator's free or realloc: "
                        "the full report shows where\n");
    if (s->heap_errors)
        fprintf(stderr,
                "memscope:   --check: %s memory error(s) (writes past a block or after its "
                "free): the full report shows them\n",
                ms_format_count(b1, s->heap_errors));
    if (checks)
        ms_check_scans_print(checks, a);
    if (ms_option_env_flag(MS_OPT_LIVE_STATS))
        fprintf(stderr,
                "memscope:   live summary: %" PRIu64 " of %" PRIu64 " events replayed while "
                "the program ran%s\n",
                a->live_events, s->events,
                a->live_restarted ? "; replayed again from the start" : "");
    ms_analysis_free(a);
    return true;
}

/* The numbers of every trace, computed together (ms_analysis_run_numbers_family): the program's
 * own is replayed again there to give its children their inheritance, but its summary line
 * comes from the live replay. Left empty when out of memory: each trace is then analysed on
 * its own. */
struct family_numbers {
    char **paths;
    struct ms_analysis **out;
    int *rc;
    char (*err)[1024];
};

static void family_numbers_free(struct family_numbers *f, size_t n)
{
    for (size_t i = 0; f->out && i < n; i++)
        ms_analysis_free(f->out[i]);
    free(f->paths);
    free(f->out);
    free(f->rc);
    free(f->err);
    *f = (struct family_numbers){0};
}

static void family_numbers(struct family_numbers *f, const struct ms__trace_list *traces)
{
    size_t n = traces->n;
    f->paths = calloc(n, sizeof *f->paths);
    f->out = calloc(n, sizeof *f->out);
    f->rc = calloc(n, sizeof *f->rc);
    f->err = calloc(n, sizeof *f->err);
    if (f->paths && f->out && f->rc && f->err) {
        for (size_t i = 0; i < n; i++)
            f->paths[i] = traces->v[i].path;
        if (ms_analysis_run_numbers_family(f->paths, n, f->out, f->rc, f->err) == 0)
            return;
    }
    family_numbers_free(f, 0);
}

static pid_t child_pid;

/* The summary of the program's own trace is replayed by this thread while the program runs,
 * and the trace compressed (the program writes it raw: trace_compact.h), on the core the
 * program leaves free (at a lower priority, so that a program using every core keeps them);
 * what is left when the program ends is done then. */
struct follower {
    ms_analysis_live *live;       /* NULL with --no-summary */
    struct ms_check_scans checks; /* the on-demand leak scans made as the live replay went */
    ms_trace_compactor *packer;   /* NULL when the program compresses its trace itself */
    pthread_t thread;
    atomic_bool stop;
    bool started;
};

static void *follow_main(void *arg)
{
    struct follower *f = arg;
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    while (!atomic_load(&f->stop)) {
        bool replayed = ms_analysis_live_poll(f->live);
        if (!ms_trace_compact_poll(f->packer) && !replayed)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    return NULL;
}

static void follow_start(struct follower *f)
{
    atomic_init(&f->stop, false);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay the main thread's */
    f->started = (f->live || f->packer) && pthread_create(&f->thread, NULL, follow_main, f) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The zstd level the trace is to have (MEMSCOPE_COMPRESSION's, or --compression's), when
 * memscope run can compress it for the program: not 0, and no file size limit (a raw trace
 * would reach it sooner). 0 otherwise: the program compresses its own trace. */
static int deferred_level(const char *given)
{
    const struct ms_option *o = &ms_options[MS_OPT_COMPRESSION];
    const char *text = given ? given : getenv(o->variable);
    long level = ms_option_default(o);
    char why[128];
    if (text && *text && !ms_option_parse(o, text, &level, why, sizeof why))
        level = ms_option_default(o); /* as the library does, which says why */
    struct rlimit fsize;
    if (getrlimit(RLIMIT_FSIZE, &fsize) != 0 || fsize.rlim_cur != RLIM_INFINITY)
        return 0;
    return (int)level;
}

static void follow_stop(struct follower *f)
{
    atomic_store(&f->stop, true);
    if (f->started)
        pthread_join(f->thread, NULL);
    f->started = false;
}

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

/* The value of --<flag>=VALUE in a, for the option o of the settings table (common/options.h)
 * whose flag it is, or NULL when a is not that option. */
static const char *flag_value(const char *a, const struct ms_option *o)
{
    if (!o->flag || strncmp(a, "--", 2))
        return NULL;
    size_t n = strlen(o->flag);
    if (strncmp(a + 2, o->flag, n))
        return NULL;
    if (!a[2 + n] && o->kind == MS_OPT_FLAG)
        return "1"; /* --flag alone sets it */
    return a[2 + n] == '=' ? a + 3 + n : NULL;
}

int ms_cmd_run(int argc, char **argv)
{
    /* The settings memscope run has options for: what was given, else the default. */
    const char *given[MS_OPT_COUNT] = {0};
    bool summary = true;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        bool is_o = !strcmp(a, "-o");
        if (is_o || !strcmp(a, "--output") || !strcmp(a, "--output=")) {
            /* "-o --" is a forgotten path, not a trace named "--". */
            const char *next = is_o && i + 1 < argc ? argv[i + 1] : NULL;
            if (!next || !*next || !strcmp(next, "--")) {
                ms_cli_error("run", "%s needs a trace path: -o TRACE or --output=TRACE; " USAGE,
                             is_o ? "-o" : "--output");
                return 2;
            }
            given[MS_OPT_OUTPUT] = argv[++i];
            continue;
        }
        if (!strcmp(a, "--no-summary")) {
            summary = false;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            ms_cli_help_run(stdout);
            return 0;
        }
        int o = 0;
        for (; o < MS_OPT_COUNT; o++)
            if (ms_options[o].flag && flag_value(a, &ms_options[o]))
                break;
        if (o < MS_OPT_COUNT) {
            const char *v = flag_value(a, &ms_options[o]);
            long value;
            char why[128];
            if (!ms_option_parse(&ms_options[o], v, &value, why, sizeof why)) {
                ms_cli_error("run", "%s %s; see memscope run --help", a, why);
                return 2;
            }
            given[o] = v;
        } else if (a[0] == '-') {
            ms_cli_error("run", "unknown option %s; " USAGE, a);
            return 2;
        } else {
            break;
        }
    }
    const char *output = given[MS_OPT_OUTPUT];
    if (i >= argc) {
        ms_cli_error("run", "no program given; " USAGE);
        return 2;
    }
    char **cmd = argv + i;
    char prog[PATH_MAX];
    int refused = ms__program_find(cmd[0], prog, sizeof prog);
    if (!refused)
        refused = ms__program_check(prog, NULL);
    if (refused)
        return refused;
    char lib[PATH_MAX];
    if (ms__preload_find(lib, sizeof lib) != 0)
        return 2;

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
        int e = errno;
        struct stat lst;
        bool there = e == EEXIST && lstat(abs_out, &lst) == 0;
        if (there && S_ISLNK(lst.st_mode))
            ms_cli_error("run",
                         "%s is a symbolic link; memscope never writes through one: "
                         "choose another -o path",
                         output);
        else if (there && S_ISDIR(lst.st_mode))
            ms_cli_error("run",
                         "%s is a directory; -o names the trace file itself: choose a new file's "
                         "path, such as %s/trace.mstrace",
                         output, output);
        else if (e == EEXIST)
            ms_cli_error("run",
                         "%s already exists; memscope never overwrites a file: remove it "
                         "or choose another -o path",
                         output);
        else
            ms_cli_error("run", "cannot create the trace %s: %s; choose a writable -o path", output,
                         strerror(e));
        return 2;
    }
    close(probe);
    unlink(abs_out);

    /* The files with trace names that are already there are not this run's. */
    struct ms__trace_search search;
    if (!ms__trace_search_start(&search, abs_out)) {
        ms_cli_error("run", "out of memory");
        return 2;
    }
    const char *manifest = ms__trace_search_manifest(&search);
    /* Only beside the summary's replay: alone, reading the trace again and writing a copy
     * would cost more CPU than the program saves (--no-summary is the capture alone). */
    int level = summary ? deferred_level(given[MS_OPT_COMPRESSION]) : 0;

    /* The child writes a byte here if it could not start the program; the pipe closes on exec. */
    int started[2];
    if (pipe2(started, O_CLOEXEC) != 0) {
        ms_cli_error("run", "pipe: %s", strerror(errno));
        ms__trace_search_cancel(&search);
        return 2;
    }
    /* waitpid needs SIGCHLD not ignored (children would be reaped unseen, and the exit status
     * lost); the program still gets the disposition memscope was given. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, chld;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &chld);
    /* The program's requests to stop its other threads for a snapshot (thread_stop.h) are
     * waited for; the program gets the mask memscope run was given. */
    sigset_t given_mask;
    ms_thread_stop_block(&given_mask);
    /* Before the fork: the program's library maps the clock as it starts. */
    struct ms_clock_tick clock;
    ms_clock_tick_start(&clock);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        ms_cli_error("run", "fork: %s", strerror(errno));
        ms_clock_tick_stop(&clock);
        close(started[0]);
        close(started[1]);
        ms__trace_search_cancel(&search);
        return 2;
    }
    if (pid == 0) {
        close(started[0]);
        sigaction(SIGCHLD, &chld, NULL);
        sigprocmask(SIG_SETMASK, &given_mask, NULL);
        char rootpid[32], scanner[32];
        snprintf(scanner, sizeof scanner, "%d", (int)getppid());
        char *preload = ms__preload_value(lib, getenv("LD_PRELOAD"));
        int code = 126;
        snprintf(rootpid, sizeof rootpid, "%d", (int)getpid());
        if (!preload) {
            ms_cli_error("run", "out of memory");
        } else {
            setenv("LD_PRELOAD", preload, 1);
            setenv("MEMSCOPE_OUTPUT", abs_out, 1);
            /* Set even when empty: a memscope run inside another one's program must not get
             * the outer run's, which the outer library gives back to exec'd programs that
             * lack a MEMSCOPE_* variable (child_env.c). */
            setenv("MEMSCOPE_MANIFEST", manifest ? manifest : "", 1);
            setenv("MEMSCOPE_ROOT_PID", rootpid, 1);
            setenv("MEMSCOPE_DEFER_COMPRESSION", level ? "1" : "0", 1);
            setenv("MEMSCOPE_CLOCK", clock.path, 1); /* empty: none, not an outer run's */
            /* The scan of the program's snapshot at exit comes with the summary. */
            setenv("MEMSCOPE_LEAK_SCAN", summary ? scanner : "0", 1);
            /* The other settings given as options; the others stay as the environment has
             * them (MEMSCOPE_DEPTH=16 memscope run ... keeps 16 frames). */
            for (int o = 0; o < MS_OPT_COUNT; o++)
                if (ms_options[o].flag && o != MS_OPT_OUTPUT && given[o])
                    setenv(ms_options[o].variable, given[o], 1);
            code = ms__program_exec(prog, cmd);
        }
        ssize_t w = write(started[1], "!", 1);
        (void)w;
        _exit(code);
    }
    close(started[1]);
    child_pid = pid;
    struct ms_rss_sampler rss;
    ms_rss_sampler_open(&rss, pid);
    ms_clock_tick_each(&clock, ms_rss_sampler_tick, &rss);
    struct follower follower = {.started = false};
    if (summary)
        ms_thread_stop_start(pid);
    if (summary) {
        follower.live = ms_analysis_live_new(abs_out);
        ms_analysis_live_on_check(follower.live, ms_check_scans_on_check, &follower.checks);
    }
    if (level)
        follower.packer = ms_trace_compact_new(abs_out, level);
    follow_start(&follower);
    /* While the program runs, Ctrl-C and the rest are its: memscope run outlives them to write
     * the summary. Once it is reaped they are memscope run's again, as it got them: a long
     * summary or leak scan can be interrupted (the trace stays readable, without its kinds). */
    struct sigaction given_action[N_PASSED];
    for (size_t k = 0; k < N_PASSED; k++) {
        struct sigaction act = {.sa_handler = k < 2 ? SIG_IGN : forward_signal};
        sigemptyset(&act.sa_mask);
        sigaction(passed[k], &act, &given_action[k]);
    }
    char failed;
    ssize_t r;
    while ((r = read(started[0], &failed, 1)) < 0 && errno == EINTR)
        ;
    close(started[0]);
    /* The stops of a program thread stopped for a snapshot (thread_stop.h) come here too: the
     * tracer is of this thread group. They are passed over. */
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, 0);
        if ((w < 0 && errno != EINTR) || (w == pid && !WIFSTOPPED(status)))
            break;
    }
    child_pid = -1;             /* reaped: its pid may be another process's now */
    ms_clock_tick_stop(&clock); /* and the RSS samples (statm opened while it lived) */
    ms_thread_stop_end();
    follow_stop(&follower);
    passed_restore(given_action, follower.packer);
    if (r == 1) {
        /* The child said why; nothing ran, so there is no trace to look for. */
        ms_analysis_live_discard(follower.live);
        ms_trace_compact_discard(follower.packer);
        ms__trace_search_cancel(&search);
        ms_rss_sampler_free(&rss);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 126;
    }

    /* Report every trace the process tree wrote, the program's own first. */
    struct ms__trace_list traces = {0};
    bool complete = ms__trace_search_finish(&search, &traces);
    size_t readable = 0;
    /* A process killed without a chance to finish its trace left its buffers in a spool: the
     * trace is completed from it (for the program itself, with the signal that killed it). */
    sigset_t was;
    for (size_t t = 0; t < traces.n; t++) {
        const char *path = traces.v[t].path;
        char err[1024] = "";
        bool own = !strcmp(path, abs_out);
        int sig = own && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        passed_block(&was);
        int sealed = ms_trace_seal(path, sig, err, sizeof err);
        if (own && sealed >= 0 && ms_rss_sampler_write(&rss, path) != 0)
            fprintf(stderr, "memscope: %s: its RSS samples could not be appended\n", path);
        sigprocmask(SIG_SETMASK, &was, NULL);
        if (sealed < 0)
            fprintf(stderr, "memscope: %s; memscope report still reads its spool\n", err);
    }
    /* Forked children: each parent's history is replayed once for all of them. */
    struct family_numbers fam = {0};
    if (summary && traces.n > 1)
        family_numbers(&fam, &traces);
    for (size_t t = 0; t < traces.n; t++) {
        const char *path = traces.v[t].path;
        bool own = !strcmp(path, abs_out);
        bool have = fam.out && !own;
        readable += print_trace(path, own, summary, own ? follower.live : NULL,
                                own ? &follower.checks : NULL, have ? fam.out[t] : NULL,
                                have ? fam.rc[t] : 0, have ? fam.err[t] : NULL);
        if (have)
            fam.out[t] = NULL;
        if (own)
            follower.live = NULL;
    }
    family_numbers_free(&fam, traces.n);
    ms_rss_sampler_free(&rss);
    ms_check_scans_free(&follower.checks);
    if (summary)
        ms_snapshots_reap();
    /* Last, once nothing reads the program's trace any more (its children's summaries read
     * their parent's). Without a compressor the program wrote it raw: it stays so. */
    char packerr[1024];
    passed_block(&was);
    int packed = ms_trace_compact_finish(follower.packer, packerr, sizeof packerr);
    named_copy[0] = 0; /* renamed or removed */
    sigprocmask(SIG_SETMASK, &was, NULL);
    if (level && !follower.packer)
        fprintf(stderr, "memscope: out of memory: %s was left uncompressed\n", abs_out);
    else if (packed < 0)
        fprintf(stderr, "memscope: %s\n", packerr);
    follower.packer = NULL;
    if (!complete)
        fprintf(stderr,
                "memscope: out of memory while listing the traces: some may be missing "
                "above; look for %s.*\n",
                abs_out);
    if (!traces.n && complete)
        fprintf(stderr,
                "memscope: no trace was written: memscope could not create it (its earlier "
                "messages on stderr say why) or the program was killed before memscope started "
                "in it\n");
    else if (traces.n > 1)
        fprintf(stderr,
                "memscope: %zu traces (one per process); report one with: memscope "
                "report TRACE\n",
                traces.n);
    else if (traces.n == 1 && readable)
        fprintf(stderr, "memscope: full report: memscope report %s\n", traces.v[0].path);
    ms__trace_list_free(&traces);
    ms_analysis_live_discard(follower.live); /* the program's trace was not among them */

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        fflush(NULL);
        kill(getpid(), sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
