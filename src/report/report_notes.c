/* Collects the report's notes from the trace's damage record, its END chunk and the replay. */
#include "report_notes.h"

#include "analysis/misuse.h"

#include "analysis/annotations.h"
#include "common/leak_handshake.h"
#include "common/trace_format.h"
#include "number_format.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void add(struct ms_notes *n, const char *fmt, ...)
{
    if (n->n >= MS_MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->text[n->n++], sizeof n->text[0], fmt, ap);
    va_end(ap);
}

/* The C API's bad calls, each kind with its count, and names whose type is larger than the
 * block they were given to. */
static void api_notes(struct ms_analysis *a, struct ms_notes *out)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    if (!an)
        return;
    for (int k = 1; k < MS_API_ERROR_MAX; k++) {
        uint64_t n = ms_annotations_errors(an, (enum ms_api_error)k);
        if (n)
            add(out, "C API: %llu call(s) refused or without effect: %s", (unsigned long long)n,
                ms_api_error_message(k));
    }
    uint64_t freed_held = 0;
    for (size_t i = 0; i < ms_annotations_object_count(an); i++) {
        const struct ms_ref_object *o = ms_annotations_object(an, i);
        freed_held += o && o->freed_while_held;
    }
    if (freed_held)
        add(out,
            "C API: %llu object(s) freed while references to them were still held (their "
            "holders point to freed memory)",
            (unsigned long long)freed_held);
    uint64_t small = 0;
    const struct ms_variable *first = NULL;
    for (size_t i = 0; i < ms_annotations_variable_count(an); i++) {
        const struct ms_variable *v = ms_annotations_variable(an, i);
        if (v && v->type_size > v->size) {
            if (!small++)
                first = v;
        }
    }
    if (small) {
        const char *name = ms_annotations_string(an, first->name);
        const char *type = ms_annotations_string(an, first->type);
        add(out,
            "C API: %llu name(s) given with MS_TRACK_AS to a block smaller than the type: the "
            "first, %s (%s, %llu bytes), names a block of %llu bytes (%s:%llu)",
            (unsigned long long)small, name ? name : "?", type ? type : "?",
            (unsigned long long)first->type_size, (unsigned long long)first->size,
            ms_annotations_string(an, first->file) ? ms_annotations_string(an, first->file) : "?",
            (unsigned long long)first->line);
    }
}

const char *ms_report_end_name(const struct ms_analysis *a, char *buf)
{
    if (!a->window.cut)
        return "exit";
    if (!a->window.cut_by_allocs)
        return ms_format_duration(buf, a->window.until_ns);
    char n[32];
    snprintf(buf, 32, "allocation #%s", ms_format_count(n, a->window.at_alloc));
    return buf;
}

const char *ms_report_end_option(const struct ms_analysis *a)
{
    return a->window.cut_by_allocs ? "--at-alloc" : a->window.at ? "--at" : "--until";
}

const char *ms_report_no_leak_kinds(struct ms_analysis *a, char *buf, size_t len)
{
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    const struct ms_end_info *e = ms_trace_end(a->trace);
    char b1[32];
    if (a->window.cut) {
        snprintf(buf, len,
                 "the report ends at %s (%s), before the exit, where the scan that tells the "
                 "kinds apart is made",
                 ms_report_end_name(a, b1), ms_report_end_option(a));
        return buf;
    }
    if (s->leak_scan) {
        switch (s->scan_status) {
        case MS_SCAN_DONE:
            return NULL;
        case MS_SCAN_NO_ACCESS:
            snprintf(buf, len,
                     "memscope run could not read the program's memory (%s): reading another "
                     "process's memory needs the right to trace it (kernel.yama.ptrace_scope "
                     "0 or 1, or CAP_SYS_PTRACE)",
                     strerror(s->scan_error));
            return buf;
        default: /* MS_SCAN_NO_MEMORY */
            snprintf(buf, len, "memscope run ran out of memory while scanning the program");
            return buf;
        }
    }
    if (s->sample_bytes)
        snprintf(buf, len,
                 "the trace is sampled (MEMSCOPE_SAMPLE_BYTES): telling leaks apart needs every "
                 "live block");
    else if (ms_trace_process(a->trace)->fork_parent_pid)
        snprintf(buf, len,
                 "this process was forked: memscope run scans only the program it started");
    else if (!e->present)
        snprintf(buf, len,
                 "the trace does not say how the process ended (it was killed, or the trace is "
                 "cut): the scan is made at exit");
    else if (e->reason != MS_END_EXIT)
        snprintf(buf, len,
                 "the process did not end by returning from main or calling exit(), where the "
                 "scan is made");
    else if (e->threads_at_exit > 1 && e->scan_refused == MS_SCAN_REFUSED_ALLOCATING)
        snprintf(buf, len,
                 "%llu threads were still running at exit and one of them allocated or freed "
                 "after tracking stopped, before memscope run could stop it: the blocks live in "
                 "the trace were no longer those in memory",
                 (unsigned long long)e->threads_at_exit);
    else if (e->threads_at_exit > 1 && e->scan_refused == MS_SCAN_REFUSED_IN_MEMSCOPE)
        snprintf(buf, len,
                 "%llu threads were still running at exit, and each time memscope run stopped "
                 "them for the scan one was inside memscope's own code",
                 (unsigned long long)e->threads_at_exit);
    else if (e->threads_at_exit > 1 && e->scan_refused == MS_SCAN_REFUSED_TOO_MANY)
        snprintf(buf, len,
                 "%llu threads were still running at exit: memscope run stops at most %d for "
                 "the scan",
                 (unsigned long long)e->threads_at_exit, MS_LEAK_MAX_THREADS);
    else if (e->threads_at_exit > 1)
        snprintf(buf, len,
                 "%llu threads were still running at exit and memscope run could not stop them "
                 "for the scan (ptrace was refused, or it did not answer)",
                 (unsigned long long)e->threads_at_exit);
    else if (e->scan && !e->scan_pid)
        snprintf(buf, len,
                 "the program could not make the snapshot of itself that memscope run scans at "
                 "exit (it runs under a seccomp filter, or reached its process limit)");
    else if (e->scan)
        snprintf(buf, len,
                 "the program left memscope run a snapshot of itself at exit, but memscope run "
                 "did not scan it (it was killed, or ran out of memory)");
    else
        snprintf(buf, len,
                 "the trace was not written under memscope run with its summary, which makes "
                 "the scan (LD_PRELOAD alone, --no-summary and the programs the first one "
                 "starts have none)");
    return buf;
}

void ms_report_notes(struct ms_analysis *a, struct ms_notes *out)
{
    out->n = 0;
    const struct ms_trace_damage *d = ms_trace_damage(a->trace);
    const struct ms_end_info *e = ms_trace_end(a->trace);
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    if (d->bytes_lost)
        add(out,
            "the trace is truncated: the last %llu of %llu bytes (%.1f%%) could not be "
            "read (%s at offset %llu); figures cover the events before that point",
            (unsigned long long)d->bytes_lost, (unsigned long long)d->file_size,
            100.0 * (double)d->bytes_lost / (double)(d->file_size ? d->file_size : 1), d->what,
            (unsigned long long)d->first_bad_offset);
    if (ms_trace_unknown_chunks(a->trace))
        add(out,
            "%llu chunk(s) of a kind this memscope does not know were skipped (the trace "
            "was written by a newer memscope)",
            (unsigned long long)ms_trace_unknown_chunks(a->trace));
    if (d->chunks_bad)
        add(out, "%llu damaged chunk(s) were skipped (first: %s at offset %llu)",
            (unsigned long long)d->chunks_bad, d->what, (unsigned long long)d->first_bad_offset);
    uint64_t spool_buffers = 0, spooled = ms_trace_spool_bytes(a->trace, &spool_buffers);
    if (!e->present && !d->bytes_lost && spooled)
        add(out,
            "the process did not finish its trace: it was killed without a chance to (SIGKILL, "
            "the OOM killer, a stack overflow, a fatal signal its own handler raised again) or "
            "is still running; the events it had not yet written (%llu bytes in %llu thread "
            "buffer(s)) were recovered from %s.spool, so none is missing but, at most, the one "
            "each thread was recording at that moment",
            (unsigned long long)spooled, (unsigned long long)spool_buffers,
            ms_trace_path(a->trace));
    else if (!e->present && !d->bytes_lost)
        add(out, "the trace has no end record: the process was still running, or was killed "
                 "by a signal memscope could not catch (SIGKILL); events it had not yet "
                 "written are missing");
    if (s->sample_bytes && s->sampled_allocs > s->allocs)
        add(out,
            "the trace is sampled, but its call counts are incomplete (%llu allocations recorded "
            "with their stack, only %llu counted): the process ended before it could write "
            "them and its spool is gone, so the exact allocation counts and bytes are too low",
            (unsigned long long)s->sampled_allocs, (unsigned long long)s->allocs);
    if (e->present && e->reason == MS_END_SIGNAL)
        add(out,
            "the process was killed by signal %d (%s); \"leaked\" means still allocated "
            "when it died, and exit-time freeing did not run",
            e->code, strsignal(e->code));
    /* What exit-time freeing changes in what is live at the end: not where a report's window
     * ends before the exit. */
    bool to_exit = !a->window.cut;
    if (to_exit && e->present && e->reason == MS_END_QUICK_EXIT)
        add(out,
            "the process ended with _exit(%d): glibc's exit-time freeing did not run "
            "(valgrind runs it anyway), so blocks glibc keeps until exit count as leaked",
            e->code);
    if (to_exit && e->present && e->reason == MS_END_EXIT && !s->freeres_tsc &&
        e->threads_at_exit > 1)
        add(out,
            "exit() was called while %llu other thread(s) were still running, so glibc's "
            "exit-time freeing was not run (it is not safe while they run; valgrind stops "
            "them first): blocks glibc keeps until exit, such as stdio buffers, count as "
            "still allocated here but not in valgrind",
            (unsigned long long)(e->threads_at_exit - 1));
    else if (to_exit && e->present && e->reason == MS_END_EXIT && !s->freeres_tsc)
        add(out, "glibc's exit-time freeing did not run (the trace does not say why): blocks "
                 "glibc keeps until exit count as still allocated here but not in valgrind");
    if (e->present && e->scan_unstopped && e->scan_pid)
        add(out,
            "%llu thread(s) blocked in a call that stopping them would have made fail with "
            "EINTR (epoll_wait, semop, a socket call...) were left running for the leak scan: "
            "their stacks are scanned but not their registers, so a block that only such a "
            "register points to counts as lost here but not in valgrind",
            (unsigned long long)e->scan_unstopped);
    if (e->present && e->reason == MS_END_KILLED) {
        char how[96] = "";
        if (e->code == SIGKILL)
            snprintf(how, sizeof how, " by SIGKILL (the OOM killer, or kill -9)");
        else if (e->code > 0)
            snprintf(how, sizeof how, " by signal %d (%s)", e->code, strsignal(e->code));
        add(out,
            "the process was killed%s without a chance to finish its trace; memscope run "
            "completed it from the buffers it left in its spool, so no event it recorded is "
            "missing but, at most, the one each thread was recording at that moment; "
            "\"leaked\" means still allocated when it died",
            how);
    }
    if (e->present && e->reason == MS_END_STOPPED)
        add(out,
            "memscope stopped tracking while the process ran on: %s; the figures cover the "
            "events before that, and \"still allocated\" means still allocated then",
            e->code == MS_STOP_FILE_SIZE
                ? "the trace reached the file size limit (ulimit -f; raise it to trace the "
                  "whole run)"
                : "for a reason this memscope does not know");
    if (e->present && e->reason == MS_END_EXEC)
        add(out, "the process replaced itself with exec; the new program has its own trace");
    if (e->present && e->dropped)
        add(out,
            "%llu event(s) could not be recorded (no memory for a thread's buffer, more than 64 "
            "allocator calls in a signal handler that interrupted memscope, or C API calls made "
            "there)",
            (unsigned long long)e->dropped);
    if (a->ancestry_note[0])
        add(out, "%s", a->ancestry_note);
    else if (a->nancestors && !a->window.since)
        add(out,
            "this process was forked from pid %llu: like valgrind, the figures include "
            "the history it inherited from %d ancestor trace(s)",
            (unsigned long long)ms_trace_process(a->trace)->fork_parent_pid, a->nancestors);
    if (s->unknown_frees && !ms_heap_model_misuse(a->model)->total) /* else: ALLOCATOR MISUSE */
        add(out,
            "%llu free(s) of blocks the trace never saw allocated (counted as frees, as "
            "valgrind counts invalid frees)",
            (unsigned long long)s->unknown_frees);
    if (s->reused_live)
        add(out,
            "%llu allocation(s) returned an address still live in the trace: the trace "
            "lost those frees",
            (unsigned long long)s->reused_live);
    api_notes(a, out);
}
