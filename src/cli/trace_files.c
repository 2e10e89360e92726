/* Finds the traces a run wrote: from the manifest the processes append to, and by the names
 * the capture library gives traces (open_trace in src/capture/trace_writer.c). */
#define _GNU_SOURCE
#include "trace_files.h"

#include "common/trace_format.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends a copy of path; returns false if out of memory. */
static bool list_add(struct ms__trace_list *l, const char *path, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct ms__trace_file *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return false;
    l->v[l->n++] = (struct ms__trace_file){copy, st->st_dev, st->st_ino, st->st_uid};
    return true;
}

/* Whether the list holds the file st (under the name path, unless path is NULL). */
static bool list_has(const struct ms__trace_list *l, const char *path, const struct stat *st)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].dev == st->st_dev && l->v[i].ino == st->st_ino &&
            (!path || !strcmp(path, l->v[i].path)))
            return true;
    return false;
}

void ms__trace_list_free(struct ms__trace_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    *l = (struct ms__trace_list){0};
}

/* Whether name is one the library gives a trace of this run: base itself, or base.<pid> and
 * base.<pid>.<n>. */
static bool is_trace_name(const char *name, const char *base)
{
    size_t len = strlen(base);
    if (strncmp(name, base, len))
        return false;
    const char *p = name + len;
    for (int part = 0; *p && part < 2; part++) {
        if (p[0] != '.' || !isdigit((unsigned char)p[1]))
            return false;
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    }
    return *p == 0;
}

/* Whether path is a trace path of the run whose trace is abs_out, as the processes write them
 * in the manifest, one a line: abs_out's directory, then a trace name. A path with a newline
 * arrives in pieces, and none of them is one. */
static bool is_run_trace_path(const char *path, const char *abs_out)
{
    const char *slash = strrchr(abs_out, '/'); /* abs_out is absolute */
    size_t dir_len = (size_t)(slash - abs_out) + 1;
    return !strncmp(path, abs_out, dir_len) && is_trace_name(path + dir_len, slash + 1);
}

/* Lists the regular files of abs_out's directory that have its trace names; returns false if
 * out of memory (a directory that cannot be read lists nothing). */
static bool list_trace_names(const char *abs_out, struct ms__trace_list *out)
{
    const char *slash = strrchr(abs_out, '/'); /* abs_out is absolute */
    char dir[PATH_MAX + 1];
    int dlen = slash == abs_out ? 1 : (int)(slash - abs_out);
    snprintf(dir, sizeof dir, "%.*s", dlen, abs_out);
    DIR *d = opendir(dir);
    if (!d)
        return true;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        struct stat st;
        if (!is_trace_name(e->d_name, slash + 1) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        char path[PATH_MAX + 256 + 2];
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - abs_out), abs_out, e->d_name);
        ok = list_add(out, path, &st);
    }
    closedir(d);
    return ok;
}

/* Whether the file f, as it was listed, begins with the trace magic. Another process may have
 * put something else under its name since: the open does not block (a FIFO would block it
 * forever) and the file must still be the regular file that was listed. */
static bool starts_as_trace(const struct ms__trace_file *f)
{
    char magic[MS_TRACE_MAGIC_LEN];
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == f->dev &&
              st.st_ino == f->ino && read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              !memcmp(magic, MS_TRACE_MAGIC, sizeof magic);
    close(fd);
    return ok;
}

static int by_version(const void *a, const void *b)
{
    return strverscmp(((const struct ms__trace_file *)a)->path,
                      ((const struct ms__trace_file *)b)->path);
}

bool ms__trace_search_start(struct ms__trace_search *s, const char *abs_out)
{
    *s = (struct ms__trace_search){.out = abs_out, .manifest_fd = -1};
    if (!list_trace_names(abs_out, &s->before)) {
        ms__trace_list_free(&s->before);
        return false;
    }
    /* Kept open, so that memscope reads its own file, not one the program put under the name
     * (a FIFO there would block a read by name forever). */
    snprintf(s->manifest, sizeof s->manifest, "%s.traces-XXXXXX", abs_out);
    s->manifest_fd = mkostemp(s->manifest, O_CLOEXEC);
    if (s->manifest_fd < 0)
        s->manifest[0] = 0;
    return true;
}

const char *ms__trace_search_manifest(const struct ms__trace_search *s)
{
    return s->manifest_fd >= 0 ? s->manifest : NULL;
}

/* Whether the manifest's name still leads to memscope's file: the program may have removed it,
 * or put another file under its name. */
static bool manifest_in_place(const struct ms__trace_search *s)
{
    struct stat mine, now;
    return s->manifest_fd >= 0 && fstat(s->manifest_fd, &mine) == 0 &&
           lstat(s->manifest, &now) == 0 && mine.st_dev == now.st_dev && mine.st_ino == now.st_ino;
}

void ms__trace_search_cancel(struct ms__trace_search *s)
{
    if (manifest_in_place(s))
        unlink(s->manifest);
    if (s->manifest_fd >= 0)
        close(s->manifest_fd);
    ms__trace_list_free(&s->before);
    *s = (struct ms__trace_search){.manifest_fd = -1};
}

/* The traces the manifest lists, in the order the processes created them. A manifest the
 * program removed or replaced lists nothing: the processes that came after could not append to
 * it, and the names in the directory find their traces. */
static bool from_manifest(const struct ms__trace_search *s, struct ms__trace_list *out)
{
    int fd = manifest_in_place(s) ? fcntl(s->manifest_fd, F_DUPFD_CLOEXEC, 0) : -1;
    FILE *m = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!m) {
        if (fd >= 0)
            close(fd);
        return true; /* the names in the directory still find them */
    }
    bool ok = true;
    char line[PATH_MAX + 16];
    while (ok && fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = 0;
        struct stat st;
        if (!is_run_trace_path(line, s->out))
            continue; /* a piece of a path with a newline: the names find that trace */
        if (lstat(line, &st) != 0 || !S_ISREG(st.st_mode))
            fprintf(stderr, "memscope: trace %s was written, then removed while the program ran\n",
                    line);
        else if (!list_has(out, NULL, &st))
            ok = list_add(out, line, &st);
    }
    fclose(m);
    return ok;
}

/* The traces with the run's names that the manifest does not list and that were not there
 * before. The directory may be shared (/tmp): a file another user owns is not counted. */
static bool from_names(const struct ms__trace_search *s, struct ms__trace_list *out)
{
    struct ms__trace_list now = {0};
    bool ok = list_trace_names(s->out, &now);
    if (now.n)
        qsort(now.v, now.n, sizeof *now.v, by_version);
    for (size_t i = 0; ok && i < now.n; i++) {
        const struct ms__trace_file *f = &now.v[i];
        struct stat st = {.st_dev = f->dev, .st_ino = f->ino, .st_uid = f->uid};
        if (list_has(&s->before, f->path, &st) || list_has(out, NULL, &st) || !starts_as_trace(f))
            continue;
        if (f->uid != geteuid())
            fprintf(stderr,
                    "memscope: not counted: %s has a trace's name but belongs to uid %u, not to "
                    "uid %u that runs memscope (another user's file, or the trace of a process "
                    "of the run that changed its user); memscope report reads it\n",
                    f->path, (unsigned)f->uid, (unsigned)geteuid());
        else
            ok = list_add(out, f->path, &st);
    }
    ms__trace_list_free(&now);
    return ok;
}

bool ms__trace_search_finish(struct ms__trace_search *s, struct ms__trace_list *out)
{
    bool ok = from_manifest(s, out) && from_names(s, out);
    for (size_t i = 1; i < out->n; i++) {
        if (!strcmp(out->v[i].path, s->out)) {
            struct ms__trace_file root = out->v[i];
            memmove(out->v + 1, out->v, i * sizeof root);
            out->v[0] = root;
            break;
        }
    }
    ms__trace_search_cancel(s);
    return ok;
}
