/* Reads the MEMSCOPE_* environment variables that configure the capture library. */
#include "config.h"

#include "../common/trace_format.h"
#include "diag.h"

#include <stdlib.h>
#include <string.h>

struct ms__config ms__config = {
    .unwind = MS_UNWIND_LIBUNWIND,
    .unwind_fast = true,
    .depth = MS_DEFAULT_STACK_DEPTH,
    .zstd_level = 1,
};

static long parse_long(const char *s, long fallback)
{
    if (!s || !*s)
        return fallback;
    char *end;
    long v = strtol(s, &end, 10);
    return *end ? fallback : v;
}

/* A copy of s in buf, or NULL when s is unset, empty or does not fit. */
static const char *copy(const char *s, char *buf, size_t cap)
{
    if (!s || !*s || strlen(s) >= cap)
        return NULL;
    return memcpy(buf, s, strlen(s) + 1);
}

static bool flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

void ms__config_load(void)
{
    const char *unwind = getenv("MEMSCOPE_UNWIND");
    if (unwind && *unwind) {
        if (!strcmp(unwind, "none"))
            ms__config.unwind = MS_UNWIND_NONE;
        else if (!strcmp(unwind, "fp"))
            ms__config.unwind = MS_UNWIND_FP;
        else if (!strcmp(unwind, "libunwind"))
            ms__config.unwind = MS_UNWIND_LIBUNWIND;
        else
            ms__say("MEMSCOPE_UNWIND=", unwind,
                    " is not one of none, fp, libunwind; using libunwind");
    }
    const char *fast = getenv("MEMSCOPE_UNWIND_FAST");
    ms__config.unwind_fast = !fast || !*fast || strcmp(fast, "0") != 0;
    ms__config.unwind_verify = flag("MEMSCOPE_UNWIND_VERIFY");
    long depth = parse_long(getenv("MEMSCOPE_DEPTH"), MS_DEFAULT_STACK_DEPTH);
    if (depth < 1 || depth > MS_MAX_STACK_DEPTH) {
        ms__say("MEMSCOPE_DEPTH must be between 1 and 256; using 64", "", "");
        depth = MS_DEFAULT_STACK_DEPTH;
    }
    ms__config.depth = (int)depth;
    /* Copied: the program may rewrite its environment (setproctitle does) and memscope hides
     * these variables from it (child_env.h). */
    static char output[4096], manifest[4096];
    ms__config.output = copy(getenv("MEMSCOPE_OUTPUT"), output, sizeof output);
    ms__config.manifest = copy(getenv("MEMSCOPE_MANIFEST"), manifest, sizeof manifest);
    ms__config.root_pid = (int)parse_long(getenv("MEMSCOPE_ROOT_PID"), 0);
    ms__config.disabled = flag("MEMSCOPE_DISABLE");
    ms__config.verbose = flag("MEMSCOPE_VERBOSE");
    long level = parse_long(getenv("MEMSCOPE_COMPRESSION"), 1);
    if (level < -7 || level > 19) {
        ms__say("MEMSCOPE_COMPRESSION must be a zstd level from -7 to 19 (0: none); using 1", "",
                "");
        level = 1;
    }
    ms__config.zstd_level = (int)level;
}
