/* Reads the MEMSCOPE_* environment variables that configure the capture library. */
#include "config.h"

#include "../common/options.h"
#include "../common/trace_format.h"
#include "diag.h"

#include <stdlib.h>
#include <string.h>

/* Filled by ms__config_load, every field from the settings table: its default or its variable. */
struct ms__config ms__config;

_Static_assert(MS_UNWIND_NONE == 0 && MS_UNWIND_FP == 1 && MS_UNWIND_LIBUNWIND == 2,
               "MEMSCOPE_UNWIND's words are in the order of enum ms_unwind_mode");

/* A copy of s in buf, or NULL when s does not fit. */
static const char *copy(const char *s, char *buf, size_t cap)
{
    if (strlen(s) >= cap)
        return NULL;
    return memcpy(buf, s, strlen(s) + 1);
}

void ms__config_load(void)
{
    /* Copied: the program may rewrite its environment (setproctitle does) and memscope hides
     * these variables from it (child_env.h). */
    static char output[4096], manifest[4096], clock[4096];
    for (int i = 0; i < MS_OPT_COUNT; i++) {
        const struct ms_option *o = &ms_options[i];
        if (o->scope != MS_SCOPE_LIBRARY)
            continue;
        const char *text = getenv(o->variable);
        long v = ms_option_default(o);
        char why[96];
        if (text && *text && !ms_option_parse(o, text, &v, why, sizeof why)) {
            char what[160] = "=";
            size_t n = strlen(text) < 64 ? strlen(text) : 64;
            memcpy(what + 1, text, n);
            what[1 + n] = 0;
            strncat(what, " ", sizeof what - strlen(what) - 1);
            strncat(what, why, sizeof what - strlen(what) - 1);
            strncat(what, o->def ? "; using " : "; ignored", sizeof what - strlen(what) - 1);
            if (o->def)
                strncat(what, o->def, sizeof what - strlen(what) - 1);
            ms__say(o->variable, what, "");
            v = ms_option_default(o);
        }
        bool set = text && *text && v;
        switch (o->id) {
        case MS_OPT_OUTPUT:
            ms__config.no_trace = set && !strcmp(text, "none");
            ms__config.output =
                set && !ms__config.no_trace ? copy(text, output, sizeof output) : NULL;
            break;
        case MS_OPT_MANIFEST:
            ms__config.manifest = set ? copy(text, manifest, sizeof manifest) : NULL;
            break;
        case MS_OPT_ROOT_PID:
            ms__config.root_pid = (int)v;
            break;
        case MS_OPT_UNWIND:
            ms__config.unwind = (int)v;
            break;
        case MS_OPT_UNWIND_FAST:
            ms__config.unwind_fast = v;
            break;
        case MS_OPT_UNWIND_VERIFY:
            ms__config.unwind_verify = v;
            break;
        case MS_OPT_DEPTH:
            ms__config.depth = (int)v;
            break;
        case MS_OPT_COMPRESSION:
            ms__config.zstd_level = (int)v;
            break;
        case MS_OPT_DEFER_COMPRESSION:
            ms__config.defer_compression = v;
            break;
        case MS_OPT_LEAK_SCAN:
            ms__config.leak_scan = v;
            break;
        case MS_OPT_DISABLE:
            ms__config.disabled = v;
            break;
        case MS_OPT_VERBOSE:
            ms__config.verbose = v;
            break;
        case MS_OPT_BACKEND:
            ms__config.backend = (int)v;
            break;
        case MS_OPT_SAMPLE_BYTES:
            ms__config.sample_bytes = v;
            break;
        case MS_OPT_SCAN_SIGNAL:
            ms__config.scan_signal = (int)v;
            break;
        case MS_OPT_SCAN_AT_PEAK:
            ms__config.scan_at_peak = v;
            break;
        case MS_OPT_FREE_STACKS:
            ms__config.free_stacks = v;
            break;
        case MS_OPT_ALLOCATOR_STATS:
            ms__config.allocator_stats = v;
            break;
        case MS_OPT_CHECK:
            ms__config.check = v;
            break;
        case MS_OPT_QUARANTINE_BYTES:
            ms__config.quarantine_bytes = v;
            break;
        case MS_OPT_CLOCK:
            ms__config.clock = set ? copy(text, clock, sizeof clock) : NULL;
            break;
        default:
            break;
        }
    }
    if (ms__config.check) {
        /* --check: every free's stack, for the errors' earlier frees; every block in the table,
         * so no sampling. */
        ms__config.free_stacks = true;
        if (ms__config.sample_bytes) {
            ms__say("MEMSCOPE_CHECK", "=1 does not sample: MEMSCOPE_SAMPLE_BYTES ignored", "");
            ms__config.sample_bytes = 0;
        }
    }
}
