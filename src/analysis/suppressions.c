/* LeakSanitizer-format leak suppressions (suppressions.h). */
#include "suppressions.h"

#include "common/errors.h"
#include "common/file_io.h"
#include "common/open_regular.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (16u << 20) /* a suppression file larger than this is not one */

/* Glob matching of p[0..pn) against t: '*' matches any run of characters. */
static bool glob(const char *p, size_t pn, const char *t)
{
    size_t i = 0, star = SIZE_MAX;
    const char *mark = t;
    while (*t) {
        if (i < pn && p[i] == '*') {
            star = ++i;
            mark = t;
        } else if (i < pn && p[i] == *t) {
            i++;
            t++;
        } else if (star != SIZE_MAX) {
            i = star;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (i < pn && p[i] == '*')
        i++;
    return i == pn;
}

bool ms_suppression_matches(const char *pattern, const char *text)
{
    if (!text || !*text)
        return false;
    bool start = pattern[0] == '^';
    const char *p = pattern + start;
    size_t n = strlen(p);
    bool end = n && p[n - 1] == '$';
    n -= end;
    /* unanchored: a substring, as if the pattern began and ended with '*' */
    char buf[1024];
    size_t len = (start ? 0 : 1) + n + (end ? 0 : 1);
    if (len > sizeof buf)
        return false;
    size_t k = 0;
    if (!start)
        buf[k++] = '*';
    memcpy(buf + k, p, n);
    k += n;
    if (!end)
        buf[k++] = '*';
    return glob(buf, k, text);
}

int ms_suppressions_find(const struct ms_suppressions *s, const ms_frame *frames, int n)
{
    for (size_t i = 0; i < s->n; i++)
        for (int f = 0; f < n; f++) {
            const char *m = frames[f].module ? strrchr(frames[f].module, '/') : NULL;
            if (ms_suppression_matches(s->v[i].pattern, frames[f].function) ||
                ms_suppression_matches(s->v[i].pattern, frames[f].file) ||
                ms_suppression_matches(s->v[i].pattern, frames[f].module) ||
                (m && ms_suppression_matches(s->v[i].pattern, m + 1)))
                return (int)i;
        }
    return -1;
}

static int add(struct ms_suppressions *s, const char *pattern, size_t n, const char *path,
               unsigned line)
{
    if (ms_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v, 16) != 0)
        return MS_ENOMEM;
    struct ms_suppression *x = &s->v[s->n];
    *x = (struct ms_suppression){.line = line};
    x->pattern = strndup(pattern, n);
    x->file = strdup(path);
    if (!x->pattern || !x->file) {
        free(x->pattern);
        free(x->file);
        return MS_ENOMEM;
    }
    s->n++;
    return 0;
}

int ms_suppressions_load(struct ms_suppressions *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int fd = ms_open_regular(path, &st);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s; give a file of leak:PATTERN lines", path,
                 fd == MS_EINVAL ? "not a regular file" : "cannot be opened");
        return fd;
    }
    if ((uint64_t)st.st_size > MAX_FILE) {
        close(fd);
        snprintf(err, errlen, "%s: %lld bytes: too large for a suppression file", path,
                 (long long)st.st_size);
        return MS_EINVAL;
    }
    char *text = malloc((size_t)st.st_size + 1);
    ssize_t got = (ssize_t)st.st_size;
    int read_rc = text ? ms_pread_all(fd, text, (size_t)got, 0) : MS_ENOMEM;
    close(fd);
    if (read_rc) {
        snprintf(err, errlen, "%s: %s", path, text ? "cannot be read" : "out of memory");
        free(text);
        return read_rc;
    }
    text[got] = 0;
    int rc = 0;
    unsigned line = 0;
    for (char *p = text; !rc && p < text + got;) {
        char *eol = memchr(p, '\n', (size_t)(text + got - p));
        char *end = eol ? eol : text + got;
        line++;
        /* trimmed of blanks (and of a carriage return) at both ends */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (p < e && *p != '#') {
            const char *colon = memchr(p, ':', (size_t)(e - p));
            if (memchr(p, 0, (size_t)(e - p))) {
                snprintf(err, errlen, "%s:%u: a NUL byte: this is not a suppression file", path,
                         line);
                rc = MS_EINVAL;
            } else if (!colon || colon - p != 4 || strncmp(p, "leak", 4)) {
                snprintf(err, errlen,
                         "%s:%u: '%.*s' is not a suppression: memscope reads leak:PATTERN lines, "
                         "as LeakSanitizer",
                         path, line, (int)(e - p > 60 ? 60 : e - p), p);
                rc = MS_EINVAL;
            } else if (colon + 1 == e) {
                snprintf(err, errlen,
                         "%s:%u: leak: without a pattern: write leak:FUNCTION, "
                         "leak:FILE or leak:LIBRARY",
                         path, line);
                rc = MS_EINVAL;
            } else if ((size_t)(e - colon - 1) > 512) {
                snprintf(err, errlen, "%s:%u: a pattern longer than 512 bytes", path, line);
                rc = MS_EINVAL;
            } else {
                rc = add(s, colon + 1, (size_t)(e - colon - 1), path, line);
                if (rc)
                    snprintf(err, errlen, "%s: out of memory", path);
            }
        }
        p = end + 1;
    }
    free(text);
    return rc;
}

void ms_suppressions_free(struct ms_suppressions *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].pattern);
        free(s->v[i].file);
    }
    free(s->v);
    *s = (struct ms_suppressions){0};
}
