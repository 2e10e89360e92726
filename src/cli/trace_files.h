/* Which trace files a run of `memscope run` wrote: every process of the run appends its trace's
 * path to a manifest, and a process that could not (out of descriptors, or the program deleted
 * the manifest) is found afterwards by its trace's name in the directory. */
#ifndef MS_CLI_TRACE_FILES_H
#define MS_CLI_TRACE_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A trace file of the run, known by its inode as well as by its name (path, from malloc). */
struct ms__trace_file {
    char *path;
    dev_t dev;
    ino_t ino;
    uid_t uid;
};

struct ms__trace_list {
    struct ms__trace_file *v;
    size_t n, cap;
};

void ms__trace_list_free(struct ms__trace_list *l);

/* What the search notes before the run; the fields are this module's. */
struct ms__trace_search {
    const char *out;              /* the trace path of the run, absolute; the caller's string */
    char manifest[PATH_MAX + 32]; /* the manifest's path, "" without one */
    int manifest_fd;              /* open on the manifest, -1 without one */
    struct ms__trace_list before; /* the files with trace names that are not this run's */
};

/* Before the run: notes the files with trace names that are there already (abs_out, the trace
 * path of the run, and abs_out.<pid>[.<n>]) and creates the manifest beside abs_out, mode 0600.
 * When the manifest cannot be created (its name too long for the directory, say) the traces
 * are still found by their names. s keeps abs_out, which must live until the search ends.
 * Returns false if out of memory, with nothing left to free. */
bool ms__trace_search_start(struct ms__trace_search *s, const char *abs_out);

/* The path the processes of the run append to (MEMSCOPE_MANIFEST), or NULL without one. */
const char *ms__trace_search_manifest(const struct ms__trace_search *s);

/* After the run: every trace the run wrote, into out (empty before), the program's own
 * (abs_out) first: the files the manifest lists (if the program left memscope's manifest in
 * place), then the new files with trace names that begin as a trace and belong to this user. Says
 * on stderr, one line each, which listed trace was removed while the program ran, and which file
 * with a trace name is not counted because another user owns it. Then removes the manifest and
 * frees the search. Returns false if out of memory: out holds the traces found until then, and the
 * caller frees it in every case. */
bool ms__trace_search_finish(struct ms__trace_search *s, struct ms__trace_list *out);

/* Ends a search whose run did not happen: removes the manifest and frees the search. */
void ms__trace_search_cancel(struct ms__trace_search *s);

#endif
