/* Hiding memscope's environment variables from the program and passing them on to its exec'd
 * children, without allocating (mmap for the arrays, static storage for the saved strings). */
#define _GNU_SOURCE
#include "child_env.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

extern char **environ;

#define SAVED_MAX 32
#define SAVED_BYTES (16 * 1024)

/* The variables hidden at start-up, "NAME=value" each, in saved_store. */
static char saved_store[SAVED_BYTES];
static const char *saved[SAVED_MAX];
static int nsaved;
/* libmemscope's own path, as LD_PRELOAD named it; empty when LD_PRELOAD did not name it. */
static char self_path[4096];
/* The program's LD_PRELOAD without libmemscope, "LD_PRELOAD=..." (environ points here). */
static char preload_rest[SAVED_BYTES];
static bool hidden;

static bool is_ours(const char *entry)
{
    return !strncmp(entry, "MEMSCOPE_", 9);
}

static bool is_preload(const char *entry)
{
    return !strncmp(entry, "LD_PRELOAD=", 11);
}

static const char *save(const char *entry)
{
    static size_t used;
    size_t l = strlen(entry) + 1;
    if (nsaved == SAVED_MAX || used + l > sizeof saved_store)
        return NULL;
    char *s = memcpy(saved_store + used, entry, l);
    used += l;
    saved[nsaved++] = s;
    return s;
}

/* True if the LD_PRELOAD element [p, p+n) names this library. */
static bool names_self(const char *p, size_t n)
{
    Dl_info info;
    if (!dladdr((void *)&names_self, &info) || !info.dli_fname)
        return false;
    const char *mine = info.dli_fname;
    if (strlen(mine) == n && !memcmp(mine, p, n))
        return true;
    /* LD_PRELOAD may give a bare name or another path to the same file: compare basenames. */
    const char *b = strrchr(mine, '/');
    b = b ? b + 1 : mine;
    size_t bl = strlen(b);
    return n >= bl && !memcmp(p + n - bl, b, bl) && (n == bl || p[n - bl - 1] == '/');
}

/* Splits LD_PRELOAD's value: memscope's element goes to self_path, the others to preload_rest
 * ("LD_PRELOAD=" + the rest). Returns false when the value does not name memscope. */
static bool split_preload(const char *value)
{
    size_t out = 0;
    const char *prefix = "LD_PRELOAD=";
    memcpy(preload_rest, prefix, 11);
    out = 11;
    bool found = false;
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, ": ");
        if (n && !found && names_self(p, n) && n < sizeof self_path) {
            memcpy(self_path, p, n);
            self_path[n] = 0;
            found = true;
        } else if (n && out + n + 2 < sizeof preload_rest) {
            if (out > 11)
                preload_rest[out++] = ':';
            memcpy(preload_rest + out, p, n);
            out += n;
        }
        p += n;
        p += *p != 0;
    }
    preload_rest[out] = 0;
    return found;
}

void ms__child_env_hide(void)
{
    if (!environ || hidden)
        return;
    char **w = environ;
    for (char **r = environ; *r; r++) {
        if (is_ours(*r)) {
            if (save(*r))
                continue;
            *w++ = *r; /* no room to keep it: leave it visible rather than lose it */
            continue;
        }
        if (is_preload(*r) && split_preload(*r + 11)) {
            if (preload_rest[11])
                *w++ = preload_rest;
            continue;
        }
        *w++ = *r;
    }
    *w = NULL;
    hidden = true;
}

char **ms__child_env(char *const envp[])
{
    if (!hidden)
        return (char **)envp;
    size_t n = 0;
    const char *their_preload = NULL;
    for (char *const *e = envp; e && *e; e++) {
        n++;
        if (is_preload(*e))
            their_preload = *e + 11;
    }
    size_t preload_len =
        self_path[0] ? 11 + strlen(self_path) + 1 + (their_preload ? strlen(their_preload) : 0) + 1
                     : 0;
    /* One word for the mapping's size, the array and its NULL, then the LD_PRELOAD string. */
    size_t slots = n + (size_t)nsaved + 2;
    size_t size = ((1 + slots) * sizeof(char *) + preload_len + 4095) & ~(size_t)4095;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return (char **)envp;
    *(size_t *)mem = size;
    char **out = (char **)mem + 1;
    char *strings = (char *)(out + slots);
    size_t k = 0;
    for (char *const *e = envp; e && *e; e++)
        if (!is_ours(*e) && !(self_path[0] && is_preload(*e)))
            out[k++] = *e;
    for (int i = 0; i < nsaved; i++)
        out[k++] = (char *)saved[i];
    if (self_path[0]) {
        char *p = strings;
        memcpy(p, "LD_PRELOAD=", 11);
        p += 11;
        size_t l = strlen(self_path);
        memcpy(p, self_path, l);
        p += l;
        if (their_preload && *their_preload) {
            *p++ = ':';
            l = strlen(their_preload);
            memcpy(p, their_preload, l);
            p += l;
        }
        *p = 0;
        out[k++] = strings;
    }
    out[k] = NULL;
    return out;
}

void ms__child_env_free(char **env, char *const envp[])
{
    if (!env || env == (char **)envp)
        return;
    size_t *mem = (size_t *)(void *)(env - 1);
    munmap(mem, *mem);
}
