/* The settings table (options.h). */
#include "options.h"

#include "trace_format.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define MS_STR_(x) #x
#define MS_STR(x) MS_STR_(x)

const struct ms_option ms_options[MS_OPT_COUNT] = {
    {MS_OPT_OUTPUT, "MEMSCOPE_OUTPUT", "output", "TRACE", MS_OPT_PATH, MS_SCOPE_LIBRARY, NULL, 0, 0,
     NULL,
     "trace path; each process writes `<path>.<pid>` (default: "
     "`memscope.<program>.<pid>.mstrace` in the working directory); `none`: no trace at all "
     "(with the `core` backend, a leak list on stderr at exit)",
     "the trace of PROGRAM; forked and exec'd processes write TRACE.<pid> (default: "
     "memscope.<program>.<pid>.mstrace)"},
    {MS_OPT_ROOT_PID, "MEMSCOPE_ROOT_PID", NULL, NULL, MS_OPT_INT, MS_SCOPE_LIBRARY, "0", 0,
     INT_MAX, NULL, "the pid that writes `MEMSCOPE_OUTPUT` itself rather than `<path>.<pid>`",
     NULL},
    {MS_OPT_UNWIND, "MEMSCOPE_UNWIND", "unwind", "MODE", MS_OPT_ENUM, MS_SCOPE_LIBRARY, "libunwind",
     0, 0, "none|fp|libunwind",
     "`libunwind` (default), `fp` or `none` (see [docs/stacks.md](docs/stacks.md))",
     "how stacks are captured: libunwind (default: any code), fp (frame pointers only), none "
     "(no stacks)"},
    {MS_OPT_UNWIND_FAST, "MEMSCOPE_UNWIND_FAST", NULL, NULL, MS_OPT_FLAG, MS_SCOPE_LIBRARY, "1", 0,
     0, NULL,
     "`0`: in libunwind mode, have libunwind unwind every stack (no cached walk; slower, same "
     "stacks)",
     NULL},
    {MS_OPT_UNWIND_VERIFY, "MEMSCOPE_UNWIND_VERIFY", NULL, NULL, MS_OPT_FLAG, MS_SCOPE_LIBRARY, "0",
     0, 0, NULL,
     "`1`: unwind every stack the cached walk takes with libunwind as well, and print on stderr "
     "at exit how many differed (a diagnostic: slow)",
     NULL},
    {MS_OPT_DEPTH, "MEMSCOPE_DEPTH", "depth", "N", MS_OPT_INT, MS_SCOPE_LIBRARY,
     MS_STR(MS_DEFAULT_STACK_DEPTH), 1, MS_MAX_STACK_DEPTH, NULL,
     "frames per stack, 1 to 256 (default 64)", "frames kept per stack, 1 to 256 (default 64)"},
    {MS_OPT_COMPRESSION, "MEMSCOPE_COMPRESSION", "compression", "LEVEL", MS_OPT_INT,
     MS_SCOPE_LIBRARY, "1", -7, 19, NULL,
     "zstd level for trace chunks, -7 to 19 (default 1; 0 stores them uncompressed)",
     "zstd level of the trace's chunks, -7 to 19 (default 1; 0: uncompressed)"},
    {MS_OPT_MANIFEST, "MEMSCOPE_MANIFEST", NULL, NULL, MS_OPT_PATH, MS_SCOPE_LIBRARY, NULL, 0, 0,
     NULL, "a file to which each process appends the path of its trace", NULL},
    {MS_OPT_DEFER_COMPRESSION, "MEMSCOPE_DEFER_COMPRESSION", NULL, NULL, MS_OPT_FLAG,
     MS_SCOPE_LIBRARY, "0", 0, 0, NULL,
     "`1`: the root process stores its chunks in `MEMSCOPE_OUTPUT` uncompressed, and whoever set "
     "this compresses them (`memscope run` does, on the core the program leaves free)",
     NULL},
    {MS_OPT_LEAK_SCAN, "MEMSCOPE_LEAK_SCAN", NULL, NULL, MS_OPT_INT, MS_SCOPE_LIBRARY, "0", 0,
     2147483647, NULL,
     "`PID`: at exit, the root process, if its parent is PID, leaves that parent a snapshot of "
     "itself to scan for the leak kinds (`memscope run` sets its own pid; see "
     "[docs/leak-kinds.md](docs/leak-kinds.md)); 0: none",
     NULL},
    {MS_OPT_DISABLE, "MEMSCOPE_DISABLE", NULL, NULL, MS_OPT_FLAG, MS_SCOPE_LIBRARY, "0", 0, 0, NULL,
     "`1`: pass every call through untracked", NULL},
    {MS_OPT_VERBOSE, "MEMSCOPE_VERBOSE", NULL, NULL, MS_OPT_FLAG, MS_SCOPE_LIBRARY, "0", 0, 0, NULL,
     "`1`: say on stderr where each trace goes", NULL},
    {MS_OPT_BACKEND, "MEMSCOPE_BACKEND", "backend", "NAME", MS_OPT_ENUM, MS_SCOPE_LIBRARY,
     "unified", 0, 0, "unified|lockfree|core|async",
     "`unified` (default: `lockfree`, `async` once a task begins, `core` with "
     "`MEMSCOPE_OUTPUT=none`), `lockfree`, `core` (a table of live blocks in the process: exact "
     "`ms_stats`, `ms_leaks_print`) or `async` (see [docs/api.md](docs/api.md))",
     "the capture backend: unified (default), lockfree, core (keeps the live blocks in the "
     "process: exact ms_stats) or async"},
    {MS_OPT_SAMPLE_BYTES, "MEMSCOPE_SAMPLE_BYTES", "sample-bytes", "N", MS_OPT_INT,
     MS_SCOPE_LIBRARY, "0", 0, 1l << 40, NULL,
     "`N`: record stacks for a sample of the allocations, one per N bytes allocated on average "
     "(Poisson, as tcmalloc samples); counts, bytes and per-call-site totals stay exact, the "
     "report scales the rest and marks it as estimated (default 0: record every allocation; see "
     "[docs/api.md](docs/api.md#sampling))",
     "sample allocations by bytes, one per N bytes on average: stacks, peak and leaks are "
     "estimates, counts and bytes stay exact (default 0: record everything)"},
    {MS_OPT_LIBRARY, "MEMSCOPE_LIBRARY", NULL, NULL, MS_OPT_PATH, MS_SCOPE_RUN, NULL, 0, 0, NULL,
     "(for `memscope run`) the `libmemscope.so` to preload", NULL},
    {MS_OPT_LIVE_STATS, "MEMSCOPE_LIVE_STATS", NULL, NULL, MS_OPT_FLAG, MS_SCOPE_RUN, "0", 0, 0,
     NULL,
     "(for `memscope run`) set to print, after each summary, how many of its events were "
     "replayed while the program ran and whether the whole trace had to be replayed again (a "
     "diagnostic)",
     NULL},
    {MS_OPT_DEBUGINFOD, "MEMSCOPE_DEBUGINFOD", NULL, NULL, MS_OPT_FLAG, MS_SCOPE_REPORT, "0", 0, 0,
     NULL, "(for `memscope report`) set to let elfutils query `DEBUGINFOD_URLS` servers", NULL},
    {MS_OPT_STORM, "MEMSCOPE_STORM", NULL, NULL, MS_OPT_INT, MS_SCOPE_REPORT, "50", 1, INT_MAX,
     NULL,
     "(for `memscope report`) an object with more references held at once than this is a clone "
     "storm (C API, default 50)",
     NULL},
    {MS_OPT_SCAN_SIGNAL, "MEMSCOPE_SCAN_SIGNAL", "scan-signal", "SIG", MS_OPT_SIGNAL,
     MS_SCOPE_LIBRARY, NULL, 0, 0, NULL,
     "`SIG` (`USR2`, `RTMIN+3`, a number): the signal that makes a leak scan of the running "
     "program, as `ms_leak_check()` does (see [docs/leak-kinds.md](docs/leak-kinds.md#on-demand-"
     "scans)); default: none",
     "a leak scan of the running program each time it gets signal SIG (USR2, RTMIN+3, ...)"},
    {MS_OPT_SCAN_AT_PEAK, "MEMSCOPE_SCAN_AT_PEAK", "scan-at-peak", NULL, MS_OPT_FLAG,
     MS_SCOPE_LIBRARY, "0", 0, 0, NULL,
     "`1`: also scan the program as its heap nears its peak, for the leak kinds and who keeps "
     "what alive then (the `core` backend's table of live blocks tells when; see "
     "[docs/leak-kinds.md](docs/leak-kinds.md#at-the-peak))",
     "also scan the program as its heap nears its peak: leak kinds and who keeps what alive "
     "then (uses the core backend)"},
    {MS_OPT_FREE_STACKS, "MEMSCOPE_FREE_STACKS", "free-stacks", NULL, MS_OPT_FLAG, MS_SCOPE_LIBRARY,
     "0", 0, 0, NULL,
     "`1`: record the stack of every free too, so that each allocator misuse shows where the "
     "earlier free and the bad call were made (see [docs/misuse.md](docs/misuse.md)); costs a "
     "stack walk per free (repeated from a cache in loops)",
     "record the stack of every free too: allocator misuse then shows where every free was "
     "made (a stack walk per free)"},
    {MS_OPT_ALLOCATOR_STATS, "MEMSCOPE_ALLOCATOR_STATS", "allocator-stats", NULL, MS_OPT_FLAG,
     MS_SCOPE_LIBRARY, "0", 0, 0, NULL,
     "`1`: glibc's own figures (mallinfo2) at each tick of `memscope run`'s clock, for the "
     "report's split of the RSS into heap, allocator overhead, free memory in the arenas and the "
     "rest (see [docs/analyses.md](docs/analyses.md)); mallinfo2 walks every free chunk under "
     "its arena's lock, which can stall a program with a very fragmented heap: it stops for the "
     "rest of the run after a call that took over 1 ms",
     "sample glibc's own figures (mallinfo2) every 10 ms, to split the RSS into heap, allocator "
     "overhead and free memory (may stall a very fragmented heap once)"},
    {MS_OPT_CHECK, "MEMSCOPE_CHECK", "check", NULL, MS_OPT_FLAG, MS_SCOPE_LIBRARY, "0", 0, 0, NULL,
     "`1`: memcheck mode: bad frees are refused so that the program goes on, every block gets "
     "red zones and freed blocks a quarantine, so that overflows and writes after free are "
     "reported (see [docs/check.md](docs/check.md)); implies `MEMSCOPE_FREE_STACKS=1`, not "
     "with sampling",
     "memcheck mode: refuse bad frees (the program goes on), red zones around every block and a "
     "quarantine of freed blocks, to catch overflows and writes after free"},
    {MS_OPT_QUARANTINE_BYTES, "MEMSCOPE_QUARANTINE_BYTES", "quarantine-bytes", "N", MS_OPT_INT,
     MS_SCOPE_LIBRARY, "67108864", 0, 1L << 40, NULL,
     "with `MEMSCOPE_CHECK=1`: the most bytes of freed blocks (red zones included) held back "
     "before they go back to the allocator, checked for writes after free; default 64 MiB",
     "with --check: the most bytes of freed blocks held back and checked (default 64 MiB)"},
    {MS_OPT_CLOCK, "MEMSCOPE_CLOCK", NULL, NULL, MS_OPT_PATH, MS_SCOPE_LIBRARY, NULL, 0, 0, NULL,
     "set by `memscope run`: a page whose counter it advances every 10 ms, so that the first "
     "record a thread writes in each 10 ms carries its time "
     "([trace-format.md](docs/trace-format.md))",
     NULL},
};

const struct ms_option *ms_option_by_variable(const char *name)
{
    for (int i = 0; i < MS_OPT_COUNT; i++)
        if (!strcmp(ms_options[i].variable, name))
            return &ms_options[i];
    return NULL;
}

/* Appends s to buf (capacity cap, NUL-terminated), truncating. */
static void append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    while (*s && n + 1 < cap)
        buf[n++] = *s++;
    buf[n] = 0;
}

static void append_long(char *buf, size_t cap, long v)
{
    char digits[24];
    int k = 0;
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[k++] = '-';
    char out[24];
    for (int i = 0; i < k; i++)
        out[i] = digits[k - 1 - i];
    out[k] = 0;
    append(buf, cap, out);
}

/* The signals MS_OPT_SIGNAL accepts by name: the standard ones memscope may take. */
static const struct {
    const char *name;
    int sig;
} signal_names[] = {
    {"HUP", SIGHUP},     {"QUIT", SIGQUIT}, {"TRAP", SIGTRAP},     {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

/* The signal text names (USR2, SIGUSR2, RTMIN+3, RTMAX-1, 12), or 0. Not one that cannot be
 * caught (KILL, STOP), nor memscope's crash signals (SEGV, BUS, FPE, ILL, ABRT, TERM, INT), nor
 * by name one that job control sends (CHLD, CONT, TSTP, TTIN, TTOU). */
static int signal_number(const char *text)
{
    if (!strncmp(text, "SIG", 3))
        text += 3;
    long v = 0;
    char *end;
    if (*text >= '0' && *text <= '9') {
        v = strtol(text, &end, 10);
        if (*end)
            return 0;
    } else if (!strncmp(text, "RTMIN", 5) || !strncmp(text, "RTMAX", 5)) {
        bool min = text[3] == 'I';
        long k = 0;
        if (text[5]) {
            if (text[5] != (min ? '+' : '-') || !text[6] || text[6] < '0' || text[6] > '9')
                return 0;
            k = strtol(text + 6, &end, 10);
            if (*end)
                return 0;
        }
        v = min ? SIGRTMIN + k : SIGRTMAX - k;
        if (v < SIGRTMIN || v > SIGRTMAX)
            return 0;
    } else {
        for (size_t i = 0; i < sizeof signal_names / sizeof *signal_names; i++)
            if (!strcmp(text, signal_names[i].name))
                v = signal_names[i].sig;
    }
    if (v <= 0 || v >= NSIG || v == SIGKILL || v == SIGSTOP || v == SIGSEGV || v == SIGBUS ||
        v == SIGFPE || v == SIGILL || v == SIGABRT || v == SIGTERM || v == SIGINT)
        return 0;
    return (int)v;
}

/* The index of word in the '|'-separated list, or -1. */
static int word_index(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (int i = 0; *list; i++) {
        size_t n = strcspn(list, "|");
        if (n == len && !strncmp(list, word, len))
            return i;
        list += n + (list[n] == '|');
    }
    return -1;
}

bool ms_option_parse(const struct ms_option *o, const char *text, long *value, char *why,
                     size_t cap)
{
    if (cap)
        why[0] = 0;
    switch (o->kind) {
    case MS_OPT_FLAG:
        *value = text && *text && strcmp(text, "0") != 0;
        return true;
    case MS_OPT_PATH:
        if (!text || !*text) {
            append(why, cap, "is empty");
            return false;
        }
        *value = 1;
        return true;
    case MS_OPT_ENUM: {
        int i = text ? word_index(o->values, text) : -1;
        if (i >= 0) {
            *value = i;
            return true;
        }
        append(why, cap, "is not one of ");
        for (const char *v = o->values; *v; v++) {
            char c[2] = {*v == '|' ? ',' : *v, 0};
            append(why, cap, c);
            if (*v == '|')
                append(why, cap, " ");
        }
        return false;
    }
    case MS_OPT_SIGNAL:
        if (!text || !*text || !strcmp(text, "0")) {
            *value = 0;
            return true;
        }
        if ((*value = signal_number(text)) != 0)
            return true;
        append(why, cap,
               "is not a signal memscope may take (such as USR2 or RTMIN+3; not KILL, "
               "STOP, SEGV, BUS, FPE, ILL, ABRT, TERM or INT)");
        return false;
    case MS_OPT_INT: {
        char *end;
        long v = text && *text ? strtol(text, &end, 10) : 0;
        if (text && *text && !*end && v >= o->lo && v <= o->hi) {
            *value = v;
            return true;
        }
        append(why, cap, "is not a number from ");
        append_long(why, cap, o->lo);
        append(why, cap, " to ");
        append_long(why, cap, o->hi);
        return false;
    }
    }
    return false;
}

bool ms_option_env_flag(enum ms_option_id id)
{
    long v = 0;
    char why[8];
    return ms_option_parse(&ms_options[id], getenv(ms_options[id].variable), &v, why, sizeof why) &&
           v;
}

long ms_option_default(const struct ms_option *o)
{
    long v = 0;
    char why[8];
    if (o->def && !ms_option_parse(o, o->def, &v, why, sizeof why))
        v = 0;
    return v;
}
