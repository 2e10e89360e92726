/* Hiding memscope's environment variables from the program and passing them on to its exec'd
 * children, without allocating (mmap for the arrays, static storage for the saved strings). */
#define _GNU_SOURCE
#include "child_env.h"
#include "../common/options.h"
#include "own_memory.h"

#include "thread_state.h"

#include "spinlock.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

#define SAVED_MAX 32
#define SAVED_BYTES (16 * 1024)

/* The variables hidden at start-up, "NAME=value" each, in saved_store. Entries of an
 * environment are memscope's when they are these very strings (or window_preload): a
 * MEMSCOPE_* variable the program set itself is its own, and is passed on as it is. */
static char saved_store[SAVED_BYTES];
static const char *saved[SAVED_MAX];
static int nsaved;
/* libmemscope's own path, as LD_PRELOAD named it; empty when LD_PRELOAD did not name it. */
static char self_path[4096];
/* The program's LD_PRELOAD without libmemscope, "LD_PRELOAD=..." (environ points here). */
static char preload_rest[SAVED_BYTES];
static bool hidden;

/* system() and popen() read environ inside glibc: while one runs, environ holds memscope's
 * entries too (the "window", see ms__child_environ_enter). Its strings are static, so that a
 * pointer another thread got from getenv meanwhile never dangles. */
static ms__spinlock window_lock;
static int window_users;
static char *window_replaced; /* the program's LD_PRELOAD entry that window_preload stands for */
static char window_preload[11 + sizeof self_path + 1 + SAVED_BYTES];

/* Each thread's array for exec: reused, because in a vfork child (which shares its parent's
 * memory and TLS) a successful exec never returns to unmap it, and the parent would keep one
 * mapping per child. `user` is the pid that took it: a vfork child that exec'd leaves its own
 * pid there, which tells the parent the array is free again. */
static __thread struct exec_array {
    size_t *mem; /* the mapping: its size in the first word, then the array */
    pid_t user;
} exec_array __attribute__((tls_model("initial-exec")));

/* MEMSCOPE_LEAK_SCAN=...: not passed on. memscope run scans the program it started, whose trace
 * it follows; a program that one exec'd writes a trace of its own, and its snapshots (at exit,
 * at each check: each would wait 5 s for the last one's scan) would be made for nothing. */
static bool is_scanner(const char *entry)
{
    const char *name = ms_options[MS_OPT_LEAK_SCAN].variable;
    size_t n = strlen(name);
    return !strncmp(entry, name, n) && entry[n] == '=';
}

static bool is_ours(const char *entry)
{
    if (entry == window_preload)
        return true;
    for (int i = 0; i < nsaved; i++)
        if (entry == saved[i])
            return true;
    return false;
}

static bool is_memscope_name(const char *entry)
{
    return !strncmp(entry, "MEMSCOPE_", 9);
}

static bool is_preload(const char *entry)
{
    return !strncmp(entry, "LD_PRELOAD=", 11);
}

/* True if env (NULL-terminated, may be NULL) has a variable of the name of entry ("NAME=...")
 * that is not memscope's own. */
static bool has_own(char *const env[], const char *entry)
{
    size_t l = strcspn(entry, "=") + 1;
    for (char *const *e = env; e && *e; e++)
        if (!is_ours(*e) && !strncmp(*e, entry, l))
            return true;
    return false;
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

/* Splits LD_PRELOAD's value: memscope's element goes to self_path, and preload_rest gets
 * "LD_PRELOAD=" + the value without it and one separator next to it, byte for byte otherwise
 * (the program may print it: spaces stay spaces). Returns false when the value does not name
 * memscope. */
static bool split_preload(const char *value)
{
    const char *seps = ": ";
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, seps);
        if (n && names_self(p, n) && n < sizeof self_path) {
            memcpy(self_path, p, n);
            self_path[n] = 0;
            /* Cut the element and the separators after it; the last element takes the
             * separators before it instead. */
            const char *cut_from = p, *cut_to = p + n;
            cut_to += strspn(cut_to, seps);
            if (!*cut_to)
                while (cut_from > value && strchr(seps, cut_from[-1]))
                    cut_from--;
            size_t head = (size_t)(cut_from - value), tail = strlen(cut_to);
            if (11 + head + tail + 1 > sizeof preload_rest)
                return false;
            memcpy(preload_rest, "LD_PRELOAD=", 11);
            memcpy(preload_rest + 11, value, head);
            memcpy(preload_rest + 11 + head, cut_to, tail + 1);
            return true;
        }
        p += n;
        p += strspn(p, seps);
    }
    return false;
}

void ms__child_env_hide(void)
{
    if (!environ || hidden)
        return;
    char **w = environ;
    for (char **r = environ; *r; r++) {
        if (is_memscope_name(*r)) {
            if (save(*r))
                continue;
            *w++ = *r; /* no room to keep it: leave it visible rather than lose it */
            continue;
        }
        if (is_preload(*r) && !self_path[0] && split_preload(*r + 11)) {
            if (preload_rest[11])
                *w++ = preload_rest;
            continue;
        }
        *w++ = *r;
    }
    *w = NULL;
    hidden = true;
}

/* Writes "LD_PRELOAD=" + self_path, then ":" + their (a value, may be NULL) into buf. */
static void join_preload(char *buf, size_t cap, const char *their)
{
    size_t l = strlen(self_path), t = their ? strlen(their) : 0;
    if (11 + l + 1 + t + 1 > cap)
        t = 0;
    memcpy(buf, "LD_PRELOAD=", 11);
    memcpy(buf + 11, self_path, l);
    size_t n = 11 + l;
    if (t) {
        buf[n++] = ':';
        memcpy(buf + n, their, t);
        n += t;
    }
    buf[n] = 0;
}

/* A mapping of at least size bytes whose first word holds its size. */
static size_t *exec_array_get(size_t size)
{
    struct exec_array *a = &exec_array;
    pid_t me = getpid();
    /* Taken by this very process: a signal handler's exec interrupted an exec hook. */
    bool busy = a->mem && a->user == me;
    if (!busy && a->mem && a->mem[0] >= size) {
        a->user = me;
        return a->mem;
    }
    size_t *mem =
        ms__own_map(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    mem[0] = size;
    if (!busy) {
        if (a->mem)
            ms__own_unmap(a->mem, a->mem[0]); /* free: its last user exec'd or gave it back */
        a->mem = mem;
        a->user = me;
    }
    return mem;
}

char **ms__child_env(char *const envp[])
{
    if (!hidden)
        return (char **)envp;
    size_t n = 0;
    const char *their_preload = NULL;
    for (char *const *e = envp; e && *e; e++) {
        n++;
        if (*e == window_preload)
            their_preload = window_replaced ? window_replaced + 11 : NULL;
        else if (is_preload(*e))
            their_preload = *e + 11;
    }
    size_t preload_len =
        self_path[0] ? 11 + strlen(self_path) + 1 + (their_preload ? strlen(their_preload) : 0) + 1
                     : 0;
    /* One word for the mapping's size, the array and its NULL, then the LD_PRELOAD string. */
    size_t slots = n + (size_t)nsaved + 2;
    size_t size = ((1 + slots) * sizeof(char *) + preload_len + 4095) & ~(size_t)4095;
    size_t *mem = exec_array_get(size);
    if (!mem)
        return (char **)envp;
    char **out = (char **)(mem + 1);
    char *strings = (char *)(out + slots);
    size_t k = 0;
    for (char *const *e = envp; e && *e; e++)
        if (!is_ours(*e) && !(self_path[0] && is_preload(*e)))
            out[k++] = *e;
    /* A MEMSCOPE_* variable the program set for its child (a `memscope run` inside) wins. */
    for (int i = 0; i < nsaved; i++)
        if (!has_own(envp, saved[i]) && !is_scanner(saved[i]))
            out[k++] = (char *)saved[i];
    if (self_path[0]) {
        join_preload(strings, preload_len, their_preload);
        out[k++] = strings;
    }
    out[k] = NULL;
    return out;
}

void ms__child_env_free(char **env, char *const envp[])
{
    if (!env || env == (char **)envp)
        return;
    struct exec_array *a = &exec_array;
    size_t *mem = (size_t *)(void *)(env - 1);
    if (mem == a->mem)
        a->user = 0; /* kept for the thread's next exec */
    else
        ms__own_unmap(mem, mem[0]);
}

void ms__child_env_thread_exit(void)
{
    struct exec_array *a = &exec_array;
    if (a->mem)
        ms__own_unmap(a->mem, a->mem[0]);
    a->mem = NULL;
    a->user = 0;
}

/* The environment entry named like entry ("NAME=..."), or NULL. */
static char *find_entry(const char *entry)
{
    size_t l = strcspn(entry, "=") + 1;
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, entry, l))
            return *e;
    return NULL;
}

/* unsetenv(NAME) for an entry "NAME=...". */
static void unset_named(const char *entry)
{
    char name[256];
    size_t l = strcspn(entry, "=");
    if (l >= sizeof name)
        return;
    memcpy(name, entry, l);
    name[l] = 0;
    unsetenv(name);
}

/* Which of memscope's variables the open window added (not those the program set itself). */
static bool window_added[SAVED_MAX], window_preload_added;

/* Opens the window: memscope's variables go into environ through glibc's own putenv, under its
 * environment lock like the program's setenv calls (a program that calls setenv in another
 * thread meanwhile must not see its environ swapped under it). The strings are static, so a
 * getenv result never dangles. putenv may allocate: that is memscope's, not the program's. */
static void window_open(void)
{
    int was_busy = ms__tls.busy;
    ms__tls.busy = 1;
    for (int i = 0; i < nsaved; i++) {
        window_added[i] = !find_entry(saved[i]);
        if (window_added[i])
            putenv((char *)saved[i]);
    }
    window_preload_added = false;
    window_replaced = NULL;
    if (self_path[0]) {
        window_replaced = find_entry("LD_PRELOAD=");
        join_preload(window_preload, sizeof window_preload,
                     window_replaced ? window_replaced + 11 : NULL);
        window_preload_added = putenv(window_preload) == 0;
    }
    ms__tls.busy = was_busy;
}

/* Closes the window: memscope's entries leave environ again through unsetenv (only those that
 * are still memscope's strings: the program may have set the variable meanwhile), and the
 * program's own LD_PRELOAD entry comes back. */
static void window_close(void)
{
    int was_busy = ms__tls.busy;
    ms__tls.busy = 1;
    for (int i = 0; i < nsaved; i++)
        if (window_added[i] && find_entry(saved[i]) == saved[i])
            unset_named(saved[i]);
    if (window_preload_added && find_entry("LD_PRELOAD=") == window_preload) {
        if (window_replaced)
            putenv(window_replaced);
        else
            unsetenv("LD_PRELOAD");
    }
    window_preload_added = false;
    window_replaced = NULL;
    ms__tls.busy = was_busy;
}

/* The same in a forked child, which is alone now but may have inherited glibc's environment
 * lock held by a thread the fork did not copy: memscope's entries are taken out in place. */
static void window_close_in_child(void)
{
    char **e = environ;
    if (!e)
        return;
    char **w = e;
    bool restored = false;
    for (char **r = e; *r; r++) {
        if (*r == window_preload) {
            if (window_replaced && !restored) {
                *w++ = window_replaced;
                restored = true;
            }
            continue;
        }
        bool added = false;
        for (int i = 0; i < nsaved && !added; i++)
            added = window_added[i] && *r == saved[i];
        if (!added)
            *w++ = *r;
    }
    *w = NULL;
    window_preload_added = false;
    window_replaced = NULL;
}

bool ms__child_environ_enter(void)
{
    if (!hidden || !ms__spin_lock(&window_lock))
        return false;
    if (window_users++ == 0)
        window_open();
    ms__spin_unlock(&window_lock);
    return true;
}

void ms__child_environ_leave(bool entered)
{
    if (!entered || !ms__spin_lock(&window_lock))
        return;
    if (--window_users == 0)
        window_close();
    ms__spin_unlock(&window_lock);
}

void ms__child_env_after_fork_child(void)
{
    ms__spin_init(&window_lock);
    /* The fork came from another thread while a system() or popen() ran: the child has no
     * such call, and sees its environment as natively. */
    if (window_users) {
        window_users = 0;
        window_close_in_child();
    }
}
