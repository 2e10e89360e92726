/* Finds libmemscope.so for LD_PRELOAD, and refuses a path the dynamic loader would split. */
#define _GNU_SOURCE
#include "preload_library.h"

#include "common/options.h"

#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The dynamic loader splits LD_PRELOAD at every space and colon (elf/rtld.c), with no way to
 * quote one: a library whose path has one cannot be preloaded, and the program would run
 * untraced. */
static int check_separators(const char *lib)
{
    const char *sep = strpbrk(lib, " :");
    if (!sep)
        return 0;
    ms_cli_error("run",
                 "%s: the path of libmemscope.so has a %s, which the dynamic loader takes as a "
                 "separator between the libraries of LD_PRELOAD; install memscope under a path "
                 "without one, or set MEMSCOPE_LIBRARY to a symbolic link to it whose path has "
                 "none",
                 lib, *sep == ' ' ? "space" : "colon");
    return 2;
}

static int from_environment(const char *env, char *out, size_t cap)
{
    char cwd[PATH_MAX] = "";
    if (env[0] != '/' && !getcwd(cwd, sizeof cwd)) {
        ms_cli_error("run",
                     "MEMSCOPE_LIBRARY=%s is relative, and the current directory cannot be "
                     "read: %s; give its absolute path",
                     env, strerror(errno));
        return 2;
    }
    int n = snprintf(out, cap, "%s%s%s", cwd, cwd[0] && cwd[1] ? "/" : "", env);
    if (n < 0 || (size_t)n >= cap) {
        ms_cli_error("run", "MEMSCOPE_LIBRARY=%s: the path is too long; give a shorter one", env);
        return 2;
    }
    if (access(out, R_OK) != 0) {
        ms_cli_error("run",
                     "MEMSCOPE_LIBRARY=%s: %s; set it to the path of libmemscope.so, or unset it "
                     "to use the one next to this memscope",
                     env, strerror(errno));
        return 2;
    }
    return check_separators(out);
}

int ms__preload_find(char *out, size_t cap)
{
    const char *env = getenv(ms_options[MS_OPT_LIBRARY].variable);
    if (env && *env)
        return from_environment(env, out, cap);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = NULL;
    if (n > 0) {
        self[n] = 0;
        slash = strrchr(self, '/');
    }
    if (slash) {
        *slash = 0;
        const char *candidates[] = {"../lib/libmemscope.so", "../lib/memscope/libmemscope.so"};
        for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
            char p[PATH_MAX + 64], real[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", self, candidates[i]);
            if (realpath(p, real) && strlen(real) < cap && access(real, R_OK) == 0) {
                memcpy(out, real, strlen(real) + 1);
                return check_separators(out);
            }
        }
    }
    ms_cli_error("run", "cannot find libmemscope.so next to this memscope (looked in ../lib "
                        "and ../lib/memscope); set MEMSCOPE_LIBRARY to its path");
    return 2;
}

char *ms__preload_value(const char *lib, const char *old)
{
    size_t ll = strlen(lib), ol = old && *old ? strlen(old) : 0;
    char *v = malloc(ll + 1 + ol + 1);
    if (!v)
        return NULL;
    memcpy(v, lib, ll);
    if (ol) {
        v[ll] = ':';
        memcpy(v + ll + 1, old, ol + 1);
    } else {
        v[ll] = 0;
    }
    return v;
}
