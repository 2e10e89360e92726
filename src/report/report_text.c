/* The text report: summary, leaks, the three call-site rankings, temporary allocations,
 * threads and notes, with symbolized stacks. */
#include "report.h"

#include "analysis/bottlenecks.h"
#include "analysis/entity_rank.h"
#include "analysis/lifetimes.h"
#include "analysis/patterns.h"
#include "analysis/scores.h"
#include "analysis/sizes.h"
#include "analysis/task_profiles.h"
#include "analysis/timeline.h"

#include "analysis/call_sites.h"

#include "analysis/annotations.h"
#include "analysis/misuse.h"
#include "analysis/passports.h"
#include "common/count_of.h"
#include "common/trace_format.h"
#include "json_writer.h"
#include "number_format.h"
#include "report_notes.h"
#include "site_rank.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_FRAMES 12
#define TEXT_ROWS 50

static const char *base(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path;
}

/* One frame on its own line: word ("at", "by") function, source line, module. */
static void print_frame(FILE *out, const ms_frame *f, const char *word)
{
    fprintf(out, "        %s %s", word, f->function);
    if (f->file)
        fprintf(out, "  %s:%u", f->file, f->line);
    if (f->module)
        fprintf(out, "  [%s]", base(f->module));
    fprintf(out, "%s\n", f->inlined ? "  (inlined)" : "");
}

static void print_stack(FILE *out, struct ms_analysis *a, uint32_t stack)
{
    ms_frame frames[MS_MAX_STACK_DEPTH * 2];
    int n = ms_analysis_stack(a, stack, frames, (int)(sizeof frames / sizeof *frames));
    if (n == 0) {
        fprintf(out, "        (no stack: traced with --unwind=none)\n");
        return;
    }
    for (int i = 0; i < n && i < TEXT_FRAMES; i++)
        print_frame(out, &frames[i], i == 0 ? "at" : "by");
    if (n > TEXT_FRAMES)
        fprintf(out, "        ... %d more frame%s (see --format json)\n", n - TEXT_FRAMES,
                n - TEXT_FRAMES == 1 ? "" : "s");
}

/* A name from the trace, fit for a terminal: control characters become '?' (a trace is
 * untrusted: a name must not move the cursor or clear the screen); none when s is NULL. Eight
 * calls may share one printf. */
static const char *clean(const char *s, const char *none)
{
    static char bufs[8][256];
    static unsigned next;
    if (!s)
        return none;
    char *b = bufs[next++ % 8];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n + 8 < sizeof bufs[0]) {
        int len = *p >= 0x80 ? ms_utf8_length(p) : 1;
        bool c1 = len == 2 && p[0] == 0xC2 && p[1] < 0xA0; /* U+0080..U+009F: controls too */
        if (len == 0 || c1 || *p < 0x20 || *p == 0x7f) {
            b[n++] = '?';
            p += len ? (size_t)len : 1;
            continue;
        }
        memcpy(b + n, p, (size_t)len); /* whole characters only */
        n += (size_t)len;
        p += len;
    }
    memcpy(b + n, *p ? "..." : "", *p ? 4 : 1);
    return b;
}

/* The C API's string id, as clean makes it. */
static const char *str_or(const struct ms_annotations *an, uint32_t id, const char *none)
{
    return clean(ms_annotations_string(an, id), none);
}

/* Passports: the totals of each status, then the groups (largest first) with both modules and
 * both stacks. */
static void passports_text(FILE *out, struct ms_analysis *a)
{
    const struct ms_passports *pp = ms_heap_model_passports(a->model);
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    if (!pp || !ms_passports_group_count(pp))
        return;
    const struct ms_module_owner *o = ms_passports_owners(pp);
    uint64_t blocks[MS_PASSPORT_STATUS_MAX], bytes[MS_PASSPORT_STATUS_MAX];
    ms_passports_status_totals(pp, blocks, bytes);
    char b1[32], b2[32];
    fprintf(out, "\nPASSPORTS (blocks freed by another module than the one that allocated them, "
                 "or stamped with the C API)\n");
    for (int s = 0; s < MS_PASSPORT_STATUS_MAX; s++)
        if (blocks[s])
            fprintf(out, "  %-20s %10s block%s %14s bytes   %s\n",
                    ms_passport_status_key((enum ms_passport_status)s),
                    ms_format_count(b1, blocks[s]), blocks[s] == 1 ? " " : "s",
                    ms_format_count(b2, bytes[s]),
                    ms_passport_status_text((enum ms_passport_status)s));
    size_t shown = 0;
    for (size_t i = 0; i < ms_passports_group_count(pp) && shown < TEXT_ROWS; i++) {
        const struct ms_passport_group *g = ms_passports_group(pp, i);
        if (g->status == MS_PASSPORT_FREED_BY_OWNER || g->status == MS_PASSPORT_LIVE_WITH_OWNER)
            continue; /* stamped, and where they belong */
        shown++;
        fprintf(out, "  %s: %s block%s, %s bytes, owner %s", ms_passport_status_key(g->status),
                ms_format_count(b1, g->blocks), g->blocks == 1 ? "" : "s",
                ms_format_count(b2, g->bytes),
                clean(base(ms_module_owner_path(o, g->owner)), "(unknown)"));
        if (g->custodian)
            fprintf(out, ", handed over to %s", str_or(an, g->custodian, "?"));
        if (g->other)
            fprintf(out, ", freed by %s", clean(base(ms_module_owner_path(o, g->other)), "?"));
        fprintf(out, "\n      allocated:\n");
        print_stack(out, a, g->alloc_stack);
        const struct ms_passport *q = g->example ? ms_passports_get(pp, g->example - 1) : NULL;
        if (q && q->free_stack) {
            fprintf(out, "      freed%s:\n", g->blocks > 1 ? " (one of the blocks)" : "");
            print_stack(out, a, q->free_stack);
        }
    }
    if (ms_passports_forgotten(pp))
        fprintf(out, "  (%s more passports counted, not kept: see --format json)\n",
                ms_format_count(b1, ms_passports_forgotten(pp)));
}

/* The allocator misuse the replay found (docs/misuse.md), each error as valgrind shows one:
 * the bad call, then the block its address is in, with the earlier free and the allocation. */
static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGABRT:
        return "SIGABRT";
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    default:
        return "a signal";
    }
}

static void misuse_stack(FILE *out, struct ms_analysis *a, uint32_t stack, const char *why)
{
    if (stack)
        print_stack(out, a, stack);
    else
        fprintf(out, "        (stack not recorded: %s)\n", why);
}

static const char *const free_stacks_why =
    "frees record no stack by default; run with --free-stacks to have them";

/* An overflow or a write after free that --check found. */
static void heap_error_text(FILE *out, struct ms_analysis *a, const struct ms_misuse *e)
{
    static const char *const found[] = {"as the block was freed", "as the block was reallocated",
                                        "as the block left the quarantine", "at exit"};
    char b1[32], b2[32];
    fprintf(out, "  %s: the byte at 0x%" PRIx64 " was written, ", ms_misuse_kind_key(e->kind),
            e->address);
    if (e->offset < 0)
        fprintf(out, "%s bytes before a block of %s bytes",
                ms_format_count(b1, (uint64_t)-e->offset), ms_format_count(b2, e->size));
    else if ((uint64_t)e->offset >= e->size)
        fprintf(out, "%s bytes after the end of a block of %s bytes",
                ms_format_count(b1, (uint64_t)e->offset - e->size), ms_format_count(b2, e->size));
    else
        fprintf(out, "%s bytes inside a block of %s bytes",
                ms_format_count(b1, (uint64_t)e->offset), ms_format_count(b2, e->size));
    fprintf(out, "%s; found %s (thread %u at %s)\n",
            e->kind == MS_MISUSE_USE_AFTER_FREE ? " after it was freed" : "",
            (unsigned)e->found < 4 ? found[e->found] : "", e->tid,
            ms_format_duration(b1, ms_analysis_ns(a, e->tsc)));
    if (e->stack) {
        fprintf(out, "      found in %s:\n", ms_misuse_call_name(e->call));
        print_stack(out, a, e->stack);
    }
    if (e->freed) {
        fprintf(out, "      freed by %s in thread %u at %s:\n", ms_misuse_call_name(e->free_call),
                e->free_tid, ms_format_duration(b1, ms_analysis_ns(a, e->free_tsc)));
        misuse_stack(out, a, e->free_stack, free_stacks_why);
    } else if (e->kind == MS_MISUSE_USE_AFTER_FREE && !e->freed) {
        fprintf(out, "      freed: (the trace no longer says where)\n");
    }
    fprintf(out, "      allocated by %s:\n", ms_misuse_alloc_name(e->alloc_family));
    misuse_stack(out, a, e->alloc_stack, "the trace no longer says where");
}

static void misuse_text(FILE *out, struct ms_analysis *a, size_t top)
{
    const struct ms_misuse_log *l = ms_heap_model_misuse(a->model);
    if (!l->total)
        return;
    char b1[32], b2[32];
    fprintf(out, "\nALLOCATOR MISUSE: %s error%s (", ms_format_count(b1, l->total),
            l->total == 1 ? "" : "s");
    const char *sep = "";
    for (int k = 0; k < MS_MISUSE_KINDS; k++)
        if (l->count[k]) {
            fprintf(out, "%s%s %s", sep, ms_format_count(b1, l->count[k]),
                    ms_misuse_kind_key((enum ms_misuse_kind)k));
            sep = ", ";
        }
    fprintf(out, ")\n");
    if (l->check)
        fprintf(out, "  (a --check run: bad frees were refused and the program went on)\n");
    size_t shown = top && top < TEXT_ROWS ? top : TEXT_ROWS;
    for (size_t i = 0; i < l->n && i < shown; i++) {
        const struct ms_misuse *e = &l->err[i];
        const char *call = ms_misuse_call_name(e->call);
        if (e->kind == MS_MISUSE_OVERFLOW || e->kind == MS_MISUSE_USE_AFTER_FREE) {
            heap_error_text(out, a, e);
            continue;
        }
        fprintf(out, "  %s: %s(0x%" PRIx64 ") by thread %u at %s", ms_misuse_kind_key(e->kind),
                call, e->address, e->tid, ms_format_duration(b1, ms_analysis_ns(a, e->tsc)));
        if (e->signal)
            fprintf(out, "; the program died of %s in it", signal_name(e->signal));
        fprintf(out, "\n");
        switch (e->kind) {
        case MS_MISUSE_DOUBLE_FREE:
        case MS_MISUSE_REALLOC_FREED:
            fprintf(out, "      the block of %s bytes there was freed already\n",
                    ms_format_count(b1, e->size));
            break;
        case MS_MISUSE_INVALID_FREE:
            if (e->block)
                fprintf(out, "      the address is %s bytes inside a block of %s bytes %s\n",
                        ms_format_count(b1, (uint64_t)e->offset), ms_format_count(b2, e->size),
                        e->freed ? "freed already" : "still allocated");
            else
                fprintf(out, "      no block was allocated there (or freed recently)\n");
            break;
        case MS_MISUSE_MISMATCHED_FREE:
            fprintf(out,
                    "      the block of %s bytes was allocated by %s, which %s does not "
                    "release\n",
                    ms_format_count(b1, e->size), ms_misuse_alloc_name(e->alloc_family), call);
            break;
        default:
            fprintf(out, "      the allocator found its own data damaged as it released this "
                         "block (an overflow of it or of a neighbour, or a write after a "
                         "free): run with --check to find the write\n");
            break;
        }
        fprintf(out, "      called:\n");
        misuse_stack(out, a, e->stack,
                     ms_misuse_call_is_realloc(e->call) ? "the trace lost it" : free_stacks_why);
        if (e->freed) {
            fprintf(out, "      freed before, by %s in thread %u at %s:\n",
                    ms_misuse_call_name(e->free_call), e->free_tid,
                    ms_format_duration(b1, ms_analysis_ns(a, e->free_tsc)));
            misuse_stack(out, a, e->free_stack, free_stacks_why);
        }
        if (e->block) {
            fprintf(out, "      allocated by %s:\n", ms_misuse_alloc_name(e->alloc_family));
            print_stack(out, a, e->alloc_stack);
        }
    }
    if (l->total > shown && l->n > shown)
        fprintf(out, "  ... %s more (see --format json)\n", ms_format_count(b1, l->total - shown));
    else if (l->total > l->n)
        fprintf(out, "  ... %s more counted, not described (the first %d are)\n",
                ms_format_count(b1, l->total - l->n), MS_MISUSE_KEPT);
}

/* What the title of a section of estimates says in a sampled trace. */
static const char *estimated_title(struct ms_analysis *a)
{
    return ms_heap_model_summary(a->model)->sample_bytes ? " (estimated from the samples)" : "";
}

/* The name (and type) the C API gave one of the site's blocks. */
static void site_variable(FILE *out, struct ms_analysis *a, const struct ms_site *s)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    if (an && s->var_name) {
        const char *type = str_or(an, s->var_type, NULL);
        fprintf(out, "        variable %s%s%s%s\n", str_or(an, s->var_name, "?"), type ? " (" : "",
                type ? type : "", type ? ")" : "");
    }
}

/* The summary's leak kinds, as valgrind's LEAK SUMMARY has them, or why there are none. */
static void leak_kinds(FILE *out, struct ms_analysis *a)
{
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    char why[512], b1[32], b2[32];
    if (ms_report_no_leak_kinds(a, why, sizeof why)) {
        fprintf(out, "  leak kinds             not known: %s\n", why);
        if (s->suppressed_blocks)
            fprintf(out, "  suppressed             %s bytes in %s blocks\n",
                    ms_format_count(b1, s->suppressed_bytes),
                    ms_format_count(b2, s->suppressed_blocks));
        return;
    }
    for (int k = 0; k < MS_LEAK_KINDS; k++) {
        fprintf(out, "    %-20s %s bytes in %s blocks\n", ms_leak_kind_label(k),
                ms_format_count(b1, s->kind_bytes[k]), ms_format_count(b2, s->kind_blocks[k]));
        if (k == MS_LEAK_REACHABLE)
            for (int h = 0; h < MS_LEAK_HEURISTICS; h++)
                if (s->heuristic_blocks[h])
                    fprintf(out,
                            "      of which reachable via heuristic %s: %s bytes in %s "
                            "blocks\n",
                            ms_leak_heuristic_name(h), ms_format_count(b1, s->heuristic_bytes[h]),
                            ms_format_count(b2, s->heuristic_blocks[h]));
    }
    fprintf(out, "    %-20s %s bytes of roots read at exit in %s%s\n", "scanned",
            ms_format_count(b1, s->scan_root_bytes), ms_format_duration(b2, s->scan_ns),
            s->scan_unreadable_bytes ? " (some could not be read: see --format json)" : "");
    fprintf(out, "    %-20s %s bytes in %s blocks\n", "suppressed",
            ms_format_count(b1, s->suppressed_bytes), ms_format_count(b2, s->suppressed_blocks));
    if (s->unscanned_blocks)
        fprintf(out, "    %-20s %s bytes in %s blocks (live, but not in the scan)\n", "not scanned",
                ms_format_count(b1, s->unscanned_bytes), ms_format_count(b2, s->unscanned_blocks));
}

/* Each suppression and what it took, as LeakSanitizer's "Suppressions used". */
static void suppressions_used(FILE *out, struct ms_analysis *a)
{
    if (!a->supp || !a->supp->n)
        return;
    fprintf(out, "\nSUPPRESSIONS USED\n");
    char b1[32], b2[32];
    for (size_t i = 0; i < a->supp->n; i++) {
        const struct ms_suppression *x = &a->supp->v[i];
        fprintf(out, "  leak:%s  (%s:%u): %s bytes in %s blocks from %llu stack%s\n", x->pattern,
                x->file, x->line, ms_format_count(b1, x->bytes), ms_format_count(b2, x->blocks),
                (unsigned long long)x->groups, x->groups == 1 ? "" : "s");
    }
}

/* The leaks by kind (definitely lost first), each kind's call sites by bytes. */
static void leaks_by_kind(FILE *out, struct ms_analysis *a)
{
    size_t *idx;
    size_t n = ms_rank_sites(a->model, MS_RANK_LEAKED, 0, &idx);
    fprintf(out, "\nLEAKS (still allocated at exit), by kind, then bytes\n");
    if (!n)
        fprintf(out, "  (none)\n");
    char b1[32], b2[32];
    size_t rank = 0;
    for (int k = 0; k < MS_LEAK_KINDS; k++)
        for (size_t i = 0; i < n; i++) {
            const struct ms_site *s = ms_heap_model_site(a->model, idx[i]);
            if (!s->kind_blocks[k] || s->suppressed)
                continue;
            fprintf(out, "  #%zu  %s: %s bytes in %s block%s\n", ++rank, ms_leak_kind_label(k),
                    ms_format_count(b1, s->kind_bytes[k]), ms_format_count(b2, s->kind_blocks[k]),
                    s->kind_blocks[k] == 1 ? "" : "s");
            site_variable(out, a, s);
            print_stack(out, a, s->stack);
        }
    free(idx);
}

/* Why the checks at the peak (MEMSCOPE_SCAN_AT_PEAK) gave no scan: the last one's reason. */
static void no_peak_scan(FILE *out, struct ms_analysis *a)
{
    const struct ms_leak_checks *c = ms_heap_model_leak_checks(a->model);
    const struct ms_leak_check *k = NULL;
    for (size_t i = c->n; i-- > 0 && !k;)
        if (c->v[i].cause == MS_CHECK_PEAK)
            k = &c->v[i];
    if (!k)
        return;
    const char *why;
    if (k->skipped)
        why = k->skipped > 0 ? ms_check_skip_reason((unsigned)k->skipped) : NULL;
    else if (!k->scanned)
        why = "memscope run kept no scan of its snapshot (none when its live replay had to start "
              "again)";
    else if (k->status != MS_SCAN_DONE)
        why = k->status == MS_SCAN_NO_ACCESS ? "its memory could not be read"
                                             : "memscope run ran out of memory";
    else
        why = "the scan has no graph";
    char b1[32];
    fprintf(
        out,
        "\nWHO KEEPS WHAT ALIVE AT THE PEAK: not known (%s check%s at the peak; the last: %s)\n",
        ms_format_count(b1, c->peaks), c->peaks == 1 ? "" : "s",
        why ? why : "a reason this reader does not know");
}

/* Who keeps what alive (docs/leak-kinds.md), from the scan at exit or at the peak: the top
 * blocks no other block dominates, by bytes retained, and the cycles no root reaches, by bytes;
 * top of each (0: all the scan listed). */
static void who_keeps(FILE *out, struct ms_analysis *a, bool at_peak, size_t top)
{
    struct ms_graph_view g = ms_analysis_graph(a, at_peak);
    const struct ms_leak_scan_info *s = g.scan;
    if (!s) {
        if (at_peak)
            no_peak_scan(out, a);
        return;
    }
    char b1[32], b2[32], b3[32], kinds[MS_LEAK_KINDS_TEXT];
    fprintf(out,
            "\nWHO KEEPS WHAT ALIVE%s (a block retains what every chain of pointers from the "
            "roots to it passes through: what freeing it would free)\n",
            at_peak ? " AT THE PEAK" : "");
    if (at_peak) {
        const struct ms_summary *sum = ms_heap_model_summary(a->model);
        uint64_t live = g.check->live_bytes, peak = sum->peak_bytes;
        fprintf(out,
                "  scanned at %s with %s bytes live (check #%" PRIu64 "); the peak: %s bytes, "
                "%.1f%% more (a scan is made each time the heap grows by 1/16)\n",
                ms_format_duration(b1, ms_analysis_ns(a, g.check->tsc)), ms_format_count(b2, live),
                g.check->seq, ms_format_count(b3, peak),
                live && peak > live ? 100.0 * (double)(peak - live) / (double)live : 0.0);
        fprintf(out, "  leak kinds then: %s\n",
                ms_format_leak_kinds(kinds, g.check->kind_bytes, g.check->kind_blocks));
    }
    fprintf(out, "  %s pointers among %s blocks; %s blocks are kept by the roots directly\n",
            ms_format_count(b1, s->edges), ms_format_count(b2, s->n),
            ms_format_count(b3, s->top_level));
    for (size_t i = 0; i < s->nretainers && (!top || i < top); i++) {
        const struct ms_leak_retainer *r = &s->retainers[i];
        struct ms_scanned_block b = ms_analysis_graph_block(a, &g, r->block);
        fprintf(out, "  #%zu  retains %s bytes in %s block%s: a block of %s bytes", i + 1,
                ms_format_count(b1, r->bytes), ms_format_count(b2, r->blocks),
                r->blocks == 1 ? "" : "s", ms_format_count(b3, b.size));
        if (b.name)
            fprintf(out, " (%s)", clean(b.name, ""));
        fprintf(out, " at 0x%" PRIx64 "\n", b.address);
        if (b.known)
            print_stack(out, a, b.stack);
    }
    if (!s->all_cycles)
        return;
    fprintf(out,
            "\nUNREACHABLE CYCLES%s (blocks that point to each other and that no root reaches): "
            "%s, %s bytes in %s blocks\n",
            at_peak ? " AT THE PEAK" : "", ms_format_count(b1, s->all_cycles),
            ms_format_count(b2, s->cycle_bytes), ms_format_count(b3, s->cycle_blocks));
    for (size_t c = 0; c < s->ncycles && (!top || c < top); c++) {
        const struct ms_leak_cycle *y = &s->cycles[c];
        fprintf(out, "  #%zu  %s bytes in %s blocks; the one of lowest address allocated at\n",
                c + 1, ms_format_count(b1, y->bytes), ms_format_count(b2, y->blocks));
        if (!y->listed)
            continue;
        struct ms_scanned_block b = ms_analysis_graph_block(a, &g, s->member[y->first]);
        if (b.known)
            print_stack(out, a, b.stack);
    }
}

/* The timeline (timeline.h) in at most TIMELINE_ROWS rows, each the most in use in its span as
 * a bar, then the peaks. */
#define TIMELINE_ROWS 16
/* A signed amount of bytes for people. */
static const char *signed_count(char *buf, int64_t v)
{
    char b[32];
    snprintf(buf, 32, "%s%s", v < 0 ? "-" : "",
             ms_format_count(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v));
    return buf;
}

/* What the most resident memory sampled was made of (timeline.h, docs/analyses.md). */
static void memory_gap_text(FILE *out, const struct ms_memory_gap *g)
{
    if (!g->present)
        return;
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    fprintf(out,
            "\nHEAP AND RSS (resident memory %s bytes, the most sampled beside glibc's "
            "figures, at %s)\n"
            "  %14s  heap in use (what the program asked for)\n"
            "  %14s  allocator overhead (chunk headers, rounding, blocks cached by threads)\n"
            "  %14s  free in the allocator's arenas (fragmentation; not all of it resident)\n"
            "  %14s  the rest (code, stacks, memory mapped without malloc, memscope's own)\n",
            ms_format_count(b1, g->rss), ms_format_duration(b2, g->time_ns),
            ms_format_count(b3, g->at.heap), signed_count(b4, g->overhead),
            ms_format_count(b5, g->at.free), signed_count(b6, g->other));
}

static void timeline_text(FILE *out, struct ms_analysis *a)
{
    const struct ms_timeline *t = ms_timeline_of(a->model);
    if (!t || !t->time.n)
        return;
    const struct ms_timeline_axis *x = &t->time;
    size_t per = (x->n + TIMELINE_ROWS - 1) / TIMELINE_ROWS;
    uint64_t top = 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->b[i].heap_max > top)
            top = x->b[i].heap_max;
    char b1[32], b2[32], b3[32], b4[32];
    fprintf(out, "\nTIMELINE (the most heap in use in each %s%s%s)\n",
            ms_format_duration(b1, per * x->width), estimated_title(a),
            t->has_rss ? "; rss: the most resident memory memscope run sampled then" : "");
    for (size_t i = 0; i < x->n; i += per) {
        uint64_t most = 0, allocs = 0, rss = 0;
        for (size_t k = i; k < i + per && k < x->n; k++) {
            if (x->b[k].heap_max > most)
                most = x->b[k].heap_max;
            if (t->rss[k] > rss)
                rss = t->rss[k];
            allocs += x->b[k].allocs;
        }
        int bar = top ? (int)((most * 40 + top - 1) / top) : 0;
        fprintf(out, "  %10s  %-40.*s %14s bytes, %s allocations",
                ms_format_duration(b1, t->origin_ns + i * x->width), bar,
                "########################################", ms_format_count(b2, most),
                ms_format_count(b3, allocs));
        if (rss)
            fprintf(out, ", rss %s", ms_format_count(b4, rss));
        fprintf(out, "\n");
    }
    for (size_t i = 0; i < t->npeaks; i++) {
        fprintf(out, "  peak #%zu  %s bytes at %s", i + 1,
                ms_format_count(b1, t->peaks[i].heap_bytes),
                ms_format_duration(b2, t->peaks[i].time_ns));
        if (t->peaks[i].at_alloc != UINT64_MAX)
            fprintf(out, "  (what was live then: --at-alloc %" PRIu64 ")\n", t->peaks[i].at_alloc);
        else
            fprintf(out, "  (as the window opened)\n");
    }
    memory_gap_text(out, &t->gap);
}

/* One line of the site's lifetimes (lifetimes.h), when its blocks ended or live on. */
static void site_lifetime(FILE *out, struct ms_analysis *a, size_t site)
{
    const struct ms_site_lifetimes *l = ms_lifetimes_of(a->model, site);
    if (!l || !(l->ended + l->live_at_end))
        return;
    char b1[32], b2[32], b3[32], b4[32];
    fprintf(out, "      lifetime:");
    if (l->ended && !l->max_ns)
        fprintf(out, " of %s ended, all within the clock's step (docs/analyses.md),",
                ms_format_count(b1, l->ended));
    else if (l->ended) {
        /* all or none said so, and no share rounded to either */
        char share[32];
        if (l->short_lived == l->ended || !l->short_lived)
            snprintf(share, sizeof share, "%s", l->short_lived ? "all" : "none");
        else
            snprintf(share, sizeof share, "%.1f%%",
                     fmin(99.9, fmax(0.1, 100.0 * (double)l->short_lived / (double)l->ended)));
        fprintf(out, " of %s ended, %s within %s (mean %s, longest %s),",
                ms_format_count(b1, l->ended), share, ms_format_duration(b2, MS_SHORT_LIVED_NS),
                ms_format_duration(b3, ms_lifetime_mean_ns(l)), ms_format_duration(b4, l->max_ns));
    }
    if (l->long_lived)
        fprintf(out, " %s long-lived (over half the run),", ms_format_count(b3, l->long_lived));
    if (l->other_thread)
        fprintf(out, " %s freed by another thread,", ms_format_count(b1, l->other_thread));
    fprintf(out, " %s live at the end\n", ms_format_count(b3, l->live_at_end));
}

/* A growth rate in bytes per second into buf (32 bytes): a count, or two digits below 10. */
static const char *slow_rate(char *buf, double v)
{
    if (v >= 10 || !(v > 0))
        return ms_format_count(buf, ms_count_of(v));
    snprintf(buf, 32, "%.2g", v);
    return buf;
}

/* One line of the site's pattern (patterns.h) and the figures behind it. */
static void site_pattern(FILE *out, struct ms_analysis *a, size_t site)
{
    const struct ms_site_pattern *p = ms_patterns_of(a->model, site);
    if (!p || !p->allocs)
        return;
    char b1[32], b2[32], b3[32];
    fprintf(out, "      pattern: %s", ms_pattern_name(p->pattern));
    switch (p->pattern) {
    case MS_PATTERN_SPORADIC:
        if (p->samples < p->allocs) /* sampled */
            fprintf(out, " (%s allocation%s, %s sampled: too few to show a pattern)",
                    ms_format_count(b1, p->allocs), p->allocs == 1 ? "" : "s",
                    ms_format_count(b2, p->samples));
        else
            fprintf(out, " (%s allocation%s: too few to show a pattern)",
                    ms_format_count(b1, p->allocs), p->allocs == 1 ? "" : "s");
        break;
    case MS_PATTERN_GROWING:
        fprintf(out, ", without bound: live bytes +%s/s for %s (R² %.2f), %s live at the end",
                slow_rate(b1, p->slope_bytes_per_s), ms_format_duration(b2, p->growth_ns), p->r2,
                ms_format_count(b3, p->live_end_bytes));
        break;
    case MS_PATTERN_PERIODIC:
        fprintf(out, ": %u bursts, one every %s (%.0f%% of the intervals within 25%%)", p->bursts,
                ms_format_duration(b1, p->period_ns), 100 * p->period_regularity);
        break;
    case MS_PATTERN_BURSTY:
        fprintf(out,
                ": %.0f%% of the allocations in the busiest eighth of its time (rate's CV %.2f)",
                100 * p->busiest_share, p->cv);
        break;
    case MS_PATTERN_STEADY:
        fprintf(out, ": allocation rate's CV %.2f over %u spans of %s", p->cv, p->buckets,
                ms_format_duration(b1, p->bucket_ns));
        break;
    }
    if (p->growth == MS_GROWTH_BOUNDED)
        fprintf(out, "; live bytes levelled off at %s", ms_format_count(b1, p->live_max_bytes));
    fprintf(out, "\n");
}

/* A score (scores.h) as "72", or "-" when no part is known. */
static const char *score_text(char *buf, const struct ms_score *s)
{
    if (s->value < 0)
        snprintf(buf, 16, "-");
    else
        snprintf(buf, 16, "%d", s->value);
    return buf;
}

/* One line of the site's efficiency score and its parts (scores.h). */
static void site_score(FILE *out, struct ms_analysis *a, size_t site)
{
    struct ms_score s;
    ms_score_site(a->model, site, &s);
    if (s.value < 0)
        return;
    fprintf(out, "      efficiency: %d/100 (waste x weight:", s.value);
    for (int p = 0, first = 1; p < MS_SCORE_PARTS; p++)
        if (s.part[p].known) {
            fprintf(out, "%s %s %.2f x%.2f", first ? "" : ",", ms_score_part_name(p),
                    s.part[p].waste, s.part[p].weight);
            first = 0;
        }
    fprintf(out, ")\n");
}

/* One line of the site's sizes and reallocs (sizes.h). */
static void site_sizes(FILE *out, struct ms_analysis *a, size_t site)
{
    const struct ms_site_sizes *z = ms_sizes_of(a->model, site);
    if (!z || !z->allocs)
        return;
    char b1[32], b2[32], b3[32], b4[32];
    fprintf(out, "      sizes: ");
    if (z->min == z->max)
        fprintf(out, "%s bytes each", ms_format_count(b1, z->min));
    else
        fprintf(out, "%s to %s bytes (mean %s)", ms_format_count(b1, z->min),
                ms_format_count(b2, z->max),
                ms_format_count(b3, (uint64_t)(z->requested / (double)z->allocs + 0.5)));
    fprintf(out, ", slack %.1f%% (glibc's size classes)",
            100 * z->slack / (z->requested + z->slack > 0 ? z->requested + z->slack : 1));
    if (z->reallocs && !ms_heap_model_summary(a->model)->sample_bytes)
        fprintf(out, "; %s realloc%s, %s moved (%s bytes copied), %s by small steps",
                ms_format_count(b1, z->reallocs), z->reallocs == 1 ? "" : "s",
                ms_format_count(b2, z->moved), ms_format_count(b3, (uint64_t)z->copied),
                ms_format_count(b4, z->small_steps));
    fprintf(out, "\n");
}

static void ranking(FILE *out, struct ms_analysis *a, enum ms_rank_key key, const char *title,
                    size_t top)
{
    size_t *idx;
    size_t n = ms_rank_sites(a->model, key, top, &idx);
    fprintf(out, "\n%s%s\n", title, estimated_title(a));
    if (!n)
        fprintf(out, "  (none)\n");
    char b1[32], b2[32], b3[32], b4[32];
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ms_site *s = ms_heap_model_site(a->model, idx[i]);
        if (key == MS_RANK_LEAKED && s->suppressed)
            continue;
        shown++;
        switch (key) {
        case MS_RANK_LEAKED:
            fprintf(out, "  #%zu  %s bytes in %s block%s\n", shown,
                    ms_format_count(b1, s->live_bytes), ms_format_count(b2, s->live_blocks),
                    s->live_blocks == 1 ? "" : "s");
            break;
        case MS_RANK_GROWTH: {
            const struct ms_site_pattern *p = ms_patterns_of(a->model, idx[i]);
            fprintf(out,
                    "  #%zu  +%s bytes/s for %s (R² %.2f), up to %s bytes live, %s at the end\n",
                    shown, slow_rate(b1, p->slope_bytes_per_s),
                    ms_format_duration(b2, p->growth_ns), p->r2,
                    ms_format_count(b3, p->live_max_bytes), ms_format_count(b4, p->live_end_bytes));
            break;
        }
        case MS_RANK_TEMPORARY:
            fprintf(out, "  #%zu  %s temporary of %s allocations (%.1f%%)\n", shown,
                    ms_format_count(b1, s->temporary), ms_format_count(b2, s->allocs),
                    100.0 * (double)s->temporary / (double)s->allocs);
            break;
        default:
            fprintf(out,
                    "  #%zu  %s allocation%s, %s bytes allocated, %s bytes at the peak, %s "
                    "leaked\n",
                    shown, ms_format_count(b1, s->allocs), s->allocs == 1 ? "" : "s",
                    ms_format_count(b2, s->bytes), ms_format_count(b3, s->peak_bytes),
                    ms_format_count(b4, s->live_bytes));
        }
        site_variable(out, a, s);
        if (key == MS_RANK_ALLOCS) { /* once a site: the first ranking */
            site_lifetime(out, a, idx[i]);
            site_pattern(out, a, idx[i]);
            site_sizes(out, a, idx[i]);
            site_score(out, a, idx[i]);
        }
        print_stack(out, a, s->stack);
    }
    free(idx);
}

/* A figure of a bottleneck's evidence: shares as percentages, rates and bytes as counts. */
static const char *evidence_text(char *buf, const char *name, double v)
{
    if (strstr(name, "share") || !strcmp(name, "r2"))
        snprintf(buf, 32, strstr(name, "share") ? "%.1f%%" : "%.2f",
                 strstr(name, "share") ? 100 * v : v);
    else
        ms_format_count(buf, ms_count_of(v));
    return buf;
}

/* The bottlenecks (bottlenecks.h): the top ones, most severe first. */
static void bottlenecks_text(FILE *out, struct ms_analysis *a, size_t top)
{
    struct ms_bottlenecks bs;
    if (!ms_patterns_of(a->model, 0) || ms_bottlenecks_find(a->model, &bs))
        return;
    fprintf(out, "\nBOTTLENECKS (most severe first; thresholds in docs/analyses.md)%s\n",
            estimated_title(a));
    if (!bs.n)
        fprintf(out, "  (none)\n");
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    for (size_t i = 0; i < bs.n && (!top || i < top); i++) {
        const struct ms_bottleneck *b = &bs.b[i];
        char v[32];
        fprintf(out, "  #%zu  %s, %s:", i + 1, ms_bottleneck_name(b->kind),
                ms_severity_name(b->severity));
        for (int e = 0; e < b->nevidence; e++)
            fprintf(out, "%s %s %s", e ? "," : "", b->evidence[e].name,
                    evidence_text(v, b->evidence[e].name, b->evidence[e].value));
        fprintf(out, "\n      suggestion: %s\n", ms_bottleneck_suggestion(b->kind));
        if (b->task != SIZE_MAX && an) {
            const struct ms_task_stats *t = ms_annotations_task(an, b->task);
            fprintf(out, "        task %" PRIu64 " %s\n", t->id,
                    clean(ms_annotations_string(an, t->name), "(unnamed)"));
        }
        if (b->site != SIZE_MAX)
            print_stack(out, a, ms_heap_model_site(a->model, b->site)->stack);
    }
    if (top && bs.n > top)
        fprintf(out, "  ... %zu more (--top 0 lists all)\n", bs.n - top);
    ms_bottlenecks_free(&bs);
}

/* The hotspots (hotspots.h), by allocations and by allocation rate: the group's figures, its
 * frame, and its biggest stack. */
static void hotspots_text(FILE *out, struct ms_analysis *a, const struct ms_report_options *o)
{
    struct ms_hotspots h;
    if (!ms_patterns_of(a->model, 0) || ms_hotspots_build(a, o->group_by, o->alloc_fns, &h))
        return;
    static const char *const groups[] = {"each stack", "call sites merged by allocating function",
                                         "call sites merged by allocating source line",
                                         "call sites merged by allocating module"};
    static const enum ms_hotspot_key keys[] = {MS_HOT_ALLOCS, MS_HOT_RATE};
    static const char *const by[] = {"by number of allocations", "by allocation rate"};
    for (int k = 0; k < 2; k++) {
        size_t *idx;
        size_t n = ms_hotspots_rank(&h, a->model, keys[k], o->top, &idx);
        fprintf(out, "\nHOTSPOTS (%s: --group-by %s), %s%s\n", groups[o->group_by],
                ms_group_by_name(o->group_by), by[k], estimated_title(a));
        if (!n)
            fprintf(out, "  (none)\n");
        char b1[32], b2[32], b3[32], b4[32], b5[32];
        for (size_t i = 0; i < n; i++) {
            const struct ms_hotspot *g = &h.g[idx[i]];
            char rate[64] = "rate not measured";
            if (g->rate >= 0)
                snprintf(rate, sizeof rate, "%s allocations/s",
                         ms_format_count(b5, ms_count_of(g->rate)));
            fprintf(out,
                    "  #%zu  %s allocation%s, %s bytes allocated, %s at the peak, %s leaked, %s",
                    i + 1, ms_format_count(b1, g->allocs), g->allocs == 1 ? "" : "s",
                    ms_format_count(b2, g->bytes), ms_format_count(b3, g->peak_bytes),
                    ms_format_count(b4, g->live_bytes), rate);
            if (o->group_by != MS_GROUP_STACK) {
                fprintf(out, ", %u stack%s\n", g->stacks, g->stacks == 1 ? "" : "s");
                if (o->group_by == MS_GROUP_MODULE) {
                    fprintf(out, "        in [%s]\n", g->name);
                } else {
                    ms_frame f = g->frame; /* the group's function; a line only by line */
                    f.function = g->name;
                    if (o->group_by == MS_GROUP_FUNCTION)
                        f.file = NULL;
                    f.inlined = false;
                    print_frame(out, &f, "at");
                }
                fprintf(out, "      %s\n",
                        g->stacks == 1 ? "its stack:" : "the stack with the most bytes allocated:");
            } else {
                fprintf(out, "\n");
            }
            print_stack(out, a, ms_heap_model_site(a->model, g->site)->stack);
        }
        free(idx);
    }
    ms_hotspots_free(&h);
}

/* A sampled trace's exact counts by call site (the allocator call's return address), top n of
 * them (0: all). */
static void call_sites(FILE *out, struct ms_analysis *a, size_t top)
{
    const struct ms_call_sites *c = ms_heap_model_call_sites(a->model);
    if (!c)
        return;
    fprintf(out, "\nCALL SITES, EXACT COUNTS, by bytes allocated (every allocation is counted by "
                 "the call it came from)\n");
    if (!c->n)
        fprintf(out, "  (none)\n");
    char b1[32], b2[32];
    for (size_t i = 0; i < c->n && (!top || i < top); i++) {
        ms_frame f = ms_analysis_call_site(a, c->items[i].ip);
        fprintf(out, "  #%zu  %s allocation%s, %s bytes allocated\n", i + 1,
                ms_format_count(b1, c->items[i].allocs), c->items[i].allocs == 1 ? "" : "s",
                ms_format_count(b2, c->items[i].bytes));
        if (f.function) {
            fprintf(out, "        at %s", f.function);
            if (f.file)
                fprintf(out, "  %s:%u", f.file, f.line);
            if (f.module)
                fprintf(out, "  [%s]", base(f.module));
            fprintf(out, "\n");
        }
    }
}

/* The variables named at one place. */
struct var_group {
    const struct ms_variable *first;
    uint64_t blocks, bytes, live, live_bytes;
};

static bool same_place(const struct ms_variable *a, const struct ms_variable *b)
{
    return a->name == b->name && a->type == b->type && a->file == b->file && a->line == b->line &&
           a->func == b->func;
}

/* The task's profile (task_profiles.h) under its row: its blocks' live bytes over time, drawn
 * with ten levels of the most, and how long they lived. */
static void task_profile_text(FILE *out, struct ms_analysis *a, uint64_t id)
{
    const struct ms_task_profile *p = ms_task_profile_of(a->model, id);
    if (!p || !p->n)
        return;
    static const char levels[] = " .:-=+*#%@";
    uint64_t most = 0;
    for (uint32_t k = 0; k < p->n; k++)
        most = p->live_max[k] > most ? p->live_max[k] : most;
    char curve[MS_TASK_CURVE + 1], b1[32], b2[32], b3[32];
    for (uint32_t k = 0; k < p->n; k++)
        curve[k] = levels[most ? (p->live_max[k] * 9 + most - 1) / most : 0];
    curve[p->n] = 0;
    fprintf(out, "         its blocks live from %s, each mark %s: [%s] up to %s bytes\n",
            ms_format_duration(b1, p->origin_ns), ms_format_duration(b2, p->width_ns), curve,
            ms_format_count(b3, most));
    fprintf(out, "         lifetimes:");
    bool any = false;
    for (int k = 0; k < MS_LIFETIME_TIME_BUCKETS; k++) {
        if (!p->by_time[k])
            continue;
        uint64_t bound = ms_lifetime_time_bound(k);
        if (bound == UINT64_MAX)
            fprintf(out, "%s %s longer", any ? "," : "", ms_format_count(b1, p->by_time[k]));
        else
            fprintf(out, "%s %s under %s", any ? "," : "", ms_format_count(b1, p->by_time[k]),
                    ms_format_duration(b2, bound));
        any = true;
    }
    fprintf(out, "%s%s live at the end\n", any ? "; " : " ", ms_format_count(b1, p->live_at_end));
}

/* Task i (an index) and, below it, its children, indented by depth; returns the rows left. */
static int task_rows(FILE *out, struct ms_analysis *a, const struct ms_annotations *an, size_t i,
                     int depth, int rows)
{
    const struct ms_task_stats *t = ms_annotations_task(an, i);
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], name[64];
    uint64_t ns = ms_analysis_elapsed_ns(a, t->begin_tsc, t->stop_tsc);
    snprintf(name, sizeof name, "%*s%s", 2 * (depth < 10 ? depth : 10), "",
             str_or(an, t->name, "(unnamed)"));
    struct ms_score sc;
    char b7[16], kinds[64] = "";
    ms_score_task(a->model, i, &sc);
    unsigned k = ms_task_kinds(t->cpu_ns, ns, t->allocs);
    for (unsigned bit = 1; bit <= MS_TASK_ALLOC_HEAVY; bit <<= 1)
        if (k & bit)
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s", *kinds ? "," : "",
                     ms_task_kind_name(bit));
    fprintf(out, "  %-6llu %-28s %10s %14s %14s %14s %12s%s %10s %7u %6s  %s\n",
            (unsigned long long)t->id, name, ms_format_count(b1, t->allocs),
            ms_format_count(b2, t->bytes_allocated), ms_format_count(b3, t->live_bytes),
            ms_format_count(b4, t->peak_bytes), ms_format_duration(b5, ns), t->end_tsc ? " " : "+",
            ms_format_duration(b6, t->cpu_ns), t->nthreads, score_text(b7, &sc), kinds);
    task_profile_text(out, a, t->id);
    rows--;
    for (uint32_t c = t->child; c && rows > 0; c = ms_annotations_task(an, c - 1)->sibling)
        rows = task_rows(out, a, an, c - 1, depth + 1, rows);
    return rows;
}

/* The C API's sections: variables, scopes, tasks (only when the program used the API). */
static void api_sections(FILE *out, struct ms_analysis *a)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    char b1[32], b2[32], b3[32], b4[32];
    size_t nv = 0;
    for (size_t i = 0; an && i < ms_annotations_variable_count(an); i++)
        nv += ms_annotations_variable(an, i) != NULL;
    if (nv) {
        /* One line per place that names blocks (name, type, file, line, function), in the order
         * they first named one. */
        struct var_group *g = calloc(nv, sizeof *g);
        size_t mask = 1;
        while (mask < 2 * nv)
            mask = mask * 2 + 1;
        size_t *slot = calloc(mask + 1, sizeof *slot); /* group index + 1, by place */
        size_t ng = 0;
        for (size_t i = 0; g && slot && i < ms_annotations_variable_count(an); i++) {
            const struct ms_variable *v = ms_annotations_variable(an, i);
            if (!v)
                continue;
            size_t h = (v->name * 0x9E3779B1u ^ v->type * 0x85EBCA6Bu ^ v->file * 0xC2B2AE35u ^
                        v->func * 0x27D4EB2Fu ^ (size_t)v->line) &
                       mask;
            while (slot[h] && !same_place(g[slot[h] - 1].first, v))
                h = (h + 1) & mask;
            if (!slot[h]) {
                g[ng++].first = v;
                slot[h] = ng;
            }
            size_t k = slot[h] - 1;
            g[k].blocks++;
            g[k].live += !v->freed;
            g[k].live_bytes += v->freed ? 0 : v->size;
            g[k].bytes += v->size;
        }
        fprintf(out, "\nVARIABLES (blocks named with the C API; bytes: the blocks' sizes when the "
                     "name ended)\n");
        for (size_t k = 0; k < ng && k < TEXT_ROWS; k++) {
            const struct ms_variable *v = g[k].first;
            const char *type = str_or(an, v->type, NULL);
            char b5[32];
            fprintf(out,
                    "  %s%s%s%s  (%s:%llu in %s)\n      %s block%s, %s bytes; %s still "
                    "allocated at exit (%s bytes)\n",
                    str_or(an, v->name, "(unnamed)"), type ? " (" : "", type ? type : "",
                    type ? ")" : "", str_or(an, v->file, "?"), (unsigned long long)v->line,
                    str_or(an, v->func, "?"), ms_format_count(b1, g[k].blocks),
                    g[k].blocks == 1 ? "" : "s", ms_format_count(b2, g[k].bytes),
                    ms_format_count(b3, g[k].live), ms_format_count(b5, g[k].live_bytes));
        }
        if (ng > TEXT_ROWS)
            fprintf(out, "  ... %zu more places (see --format json)\n", ng - TEXT_ROWS);
        free(g);
        free(slot);
    }
    if (an && ms_annotations_scope_count(an)) {
        fprintf(out, "\nSCOPES\n  %-28s %-24s %10s %12s %14s %14s\n", "scope", "where", "entries",
                "allocations", "bytes", "outlived");
        for (size_t i = 0; i < ms_annotations_scope_count(an) && i < TEXT_ROWS; i++) {
            const struct ms_scope_stats *sc = ms_annotations_scope(an, i);
            char where[256];
            snprintf(where, sizeof where, "%s:%llu", base(str_or(an, sc->file, "?")),
                     (unsigned long long)sc->line);
            fprintf(out, "  %-28s %-24s %10s %12s %14s %14s\n", str_or(an, sc->name, "(unnamed)"),
                    where, ms_format_count(b1, sc->entries), ms_format_count(b2, sc->allocs),
                    ms_format_count(b3, sc->bytes_allocated),
                    ms_format_count(b4, sc->outlived_bytes));
        }
        if (ms_annotations_scope_count(an) > TEXT_ROWS)
            fprintf(out, "  ... %zu more scopes (see --format json)\n",
                    ms_annotations_scope_count(an) - TEXT_ROWS);
    }
    if (an && ms_annotations_object_count(an)) {
        uint64_t held = 0, storms = 0, objects = 0;
        char b5[32];
        for (size_t i = 0; i < ms_annotations_object_count(an); i++) {
            const struct ms_ref_object *o = ms_annotations_object(an, i);
            objects += o != NULL;
            held += o && o->held && !o->freed;
            storms += o && o->max_held > ms_annotations_storm_threshold(an);
        }
        fprintf(out,
                "\nREFERENCES (ms_ref_acquire)\n  %s objects, %s still held at exit, %s with "
                "more than %s holders at once, %s cycle(s)\n",
                ms_format_count(b1, objects), ms_format_count(b2, held),
                ms_format_count(b3, storms),
                ms_format_count(b4, ms_annotations_storm_threshold(an)),
                ms_format_count(b5, ms_annotations_cycle_count(an)));
        size_t shown = 0;
        for (size_t i = 0; i < ms_annotations_object_count(an) && shown < TEXT_ROWS; i++) {
            const struct ms_ref_object *o = ms_annotations_object(an, i);
            if (!o ||
                (!(o->held && !o->freed) && o->max_held <= ms_annotations_storm_threshold(an)))
                continue;
            shown++;
            fprintf(out,
                    "  object 0x%llx (%s bytes): %s reference(s) at exit, at most %s at once%s\n",
                    (unsigned long long)o->address, ms_format_count(b1, o->size),
                    ms_format_count(b2, o->freed ? 0 : o->held), ms_format_count(b3, o->max_held),
                    o->max_held > ms_annotations_storm_threshold(an) ? "  [clone storm]" : "");
            for (size_t h = 0; h < o->nholders && h < 8 && !o->freed; h++) {
                if (o->holders[h].holder)
                    fprintf(out, "      held by block 0x%llx",
                            (unsigned long long)o->holders[h].holder);
                else
                    fprintf(out, "      held by a root");
                fprintf(out, " (%s)\n", ms_format_count(b1, o->holders[h].count));
            }
            print_stack(out, a, o->stack);
        }
        for (size_t i = 0; i < ms_annotations_cycle_count(an); i++) {
            size_t n;
            const uint32_t *c = ms_annotations_cycle(an, i, &n);
            fprintf(out, "  cycle %zu:", i + 1);
            for (size_t k = 0; k < n && k < 16; k++)
                fprintf(out, " 0x%llx",
                        (unsigned long long)ms_annotations_object(an, c[k])->address);
            fprintf(out, "%s\n", n > 16 ? " ..." : "");
        }
    }
    passports_text(out, a);
    if (an && ms_annotations_task_count(an)) {
        fprintf(out,
                "\nTASKS (+: still running at the end; live: allocated by the task and not freed)\n"
                "  %-6s %-28s %10s %14s %14s %14s %13s %10s %7s %6s  %s\n",
                "id", "task", "allocs", "bytes", "live", "peak", "duration", "cpu", "threads",
                "score", "kind");
        int rows = TEXT_ROWS;
        for (size_t i = 0; i < ms_annotations_task_count(an) && rows > 0; i++)
            if (ms_annotations_task(an, i)->root)
                rows = task_rows(out, a, an, i, 0, rows);
        if (rows <= 0)
            fprintf(out, "  ... more tasks (see --format json)\n");
    }
}

/* The rankings of threads (when there are two or more) and tasks (entity_rank.h): the first five
 * of each, by id. */
static void entity_rankings(FILE *out, struct ms_analysis *a)
{
    const struct ms_annotations *an = ms_heap_model_annotations(a->model);
    size_t threads = 0;
    for (size_t i = 0; i < ms_heap_model_thread_count(a->model); i++)
        threads += ms_heap_model_thread(a->model, i)->allocs != 0;
    size_t tasks = an ? ms_annotations_task_count(an) : 0;
    for (int which = 0; which < 2; which++) {
        if (which ? !tasks : threads < 2)
            continue;
        fprintf(out,
                "\n%s RANKINGS (the first five by each; by_score: the least efficient first)\n",
                which ? "TASK" : "THREAD");
        for (int k = 0; k < MS_ENTITY_KEYS; k++) {
            size_t *idx;
            size_t n = which ? ms_rank_tasks(a->model, k, 5, ms_analysis_task_ns, a, &idx)
                             : ms_rank_threads(a->model, k, 5, &idx);
            if (n) {
                fprintf(out, "  %-20s", ms_entity_key_name(k));
                for (size_t i = 0; i < n; i++)
                    fprintf(out, " %" PRIu64,
                            which ? ms_annotations_task(an, idx[i])->id
                                  : (uint64_t)ms_heap_model_thread(a->model, idx[i])->tid);
                fprintf(out, "\n");
            }
            free(idx);
        }
    }
}

static const char *unwind_name(int mode)
{
    return mode == MS_UNWIND_LIBUNWIND ? "libunwind"
           : mode == MS_UNWIND_FP      ? "frame pointers"
                                       : "none";
}

/* The on-demand leak scans (docs/leak-kinds.md, "On-demand scans"): each check's kinds, and the
 * lost blocks by stack for the last one scanned (top of them, 0: all the model kept). */
static void leak_checks(FILE *out, struct ms_analysis *a, size_t top)
{
    const struct ms_leak_checks *c = ms_heap_model_leak_checks(a->model);
    if (c->total == c->peaks) /* those at the peak: who_keeps */
        return;
    size_t scanned = 0, kept = 0, last = SIZE_MAX;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].cause == MS_CHECK_PEAK)
            continue;
        kept++;
        if (c->v[i].scanned && c->v[i].status == MS_SCAN_DONE) {
            scanned++;
            last = i;
        }
    }
    char b1[32], b2[32], b3[32], kinds[MS_LEAK_KINDS_TEXT];
    fprintf(out,
            "\nLEAK CHECKS DURING THE RUN (ms_leak_check(), MEMSCOPE_SCAN_SIGNAL): %s asked, %s "
            "scanned\n",
            ms_format_count(b1, c->total - c->peaks), ms_format_count(b2, scanned));
    for (size_t i = 0; i < c->n; i++) {
        const struct ms_leak_check *k = &c->v[i];
        if (k->cause == MS_CHECK_PEAK)
            continue;
        const char *cause = ms_check_cause_name((unsigned)k->cause);
        fprintf(out, "  #%" PRIu64 "  at %s (%s): %s bytes in %s blocks live\n", k->seq,
                ms_format_duration(b1, ms_analysis_ns(a, k->tsc)), cause ? cause : "?",
                ms_format_count(b2, k->live_bytes), ms_format_count(b3, k->live_blocks));
        const char *why = k->skipped > 0 ? ms_check_skip_reason((unsigned)k->skipped) : NULL;
        if (k->skipped == MS_CHECK_THREADS && k->threads)
            fprintf(out, "        not scanned: %s (%" PRIu64 " threads)\n", why, k->threads);
        else if (k->skipped)
            fprintf(out, "        not scanned: %s\n",
                    why ? why : "a reason this reader does not know");
        else if (!k->scanned)
            fprintf(out,
                    "        not scanned: memscope run kept no scan of its snapshot (it keeps "
                    "the latest %d, and none when its live replay had to start again)\n",
                    MS_LEAK_CHECKS_KEPT);
        else if (k->status != MS_SCAN_DONE)
            fprintf(out, "        not scanned: %s\n",
                    k->status == MS_SCAN_NO_ACCESS ? "its memory could not be read"
                                                   : "memscope run ran out of memory");
        else
            fprintf(out, "        %s%s%s%s\n",
                    ms_format_leak_kinds(kinds, k->kind_bytes, k->kind_blocks),
                    k->suppressed_blocks ? "; suppressed " : "",
                    k->suppressed_blocks ? ms_format_count(b1, k->suppressed_bytes) : "",
                    k->suppressed_blocks ? " bytes" : "");
    }
    if (c->total - c->peaks > kept)
        fprintf(out, "  (and %s later checks, not kept)\n",
                ms_format_count(b1, c->total - c->peaks - kept));
    if (last == SIZE_MAX)
        return;
    const struct ms_leak_check *k = &c->v[last];
    fprintf(out, "  lost at check #%" PRIu64 ", by allocation stack:\n", k->seq);
    size_t listed = 0;
    for (size_t i = 0; i < k->ngroups; i++) {
        const struct ms_leak_check_group *l = &k->groups[i];
        if (l->kind == MS_LEAK_REACHABLE || l->suppressed)
            continue;
        if (top && listed == top) {
            fprintf(out, "    (more: memscope report --top 0, or --format json)\n");
            break;
        }
        listed++;
        fprintf(out, "    %s: %s bytes in %s block%s\n", ms_leak_kind_label(l->kind),
                ms_format_count(b1, l->bytes), ms_format_count(b2, l->blocks),
                l->blocks == 1 ? "" : "s");
        print_stack(out, a, l->stack);
    }
    if (!listed)
        fprintf(out, "    (none)\n");
}

/* The report's time window (memscope report --since/--until/--at/--at-alloc), when it has one:
 * from where to where, and what the figures are of. */
static void window_text(FILE *out, struct ms_analysis *a)
{
    const struct ms_window *w = &a->window;
    if (!w->since && !w->until && !w->after_alloc)
        return;
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    char from[32] = "the start", to[64] = "the end", b1[32], b2[32];
    if (w->since)
        ms_format_duration(from, w->since_ns);
    if (w->cut && w->cut_by_allocs)
        snprintf(to, sizeof to, "allocation #%s (at %s)", ms_format_count(b1, w->at_alloc),
                 ms_format_duration(b2, w->end_ns));
    else if (w->cut || w->until)
        ms_format_duration(to, w->until_ns);
    fprintf(out,
            "window: %s to %s%s%s%s: the counts, the peak and the rankings are of what "
            "happened in it%s\n",
            from, to, w->cut ? " (" : "", w->cut ? ms_report_end_option(a) : "", w->cut ? ")" : "",
            w->cut && (w->at || w->cut_by_allocs) ? "; what is in use at its end was live then"
                                                  : "");
    if (w->after_alloc && !w->cut)
        fprintf(out,
                "  --at-alloc %" PRIu64 ": the run made fewer allocations, so the window "
                "reaches its end\n",
                w->at_alloc);
    if (w->since)
        fprintf(out, "  in use as it opened: %s bytes in %s blocks\n",
                ms_format_count(b1, s->window_live_bytes),
                ms_format_count(b2, s->window_live_blocks));
}

int ms_report_text(FILE *out, struct ms_analysis *a, const struct ms_report_options *o)
{
    const struct ms_process_info *p = ms_trace_process(a->trace);
    const struct ms_summary *s = ms_heap_model_summary(a->model);
    char b1[32], b2[32];
    fprintf(out, "memscope report for");
    for (int i = 0; i < p->argc; i++)
        fprintf(out, " %s", p->argv[i]);
    fprintf(out, "  (pid %" PRIu64 ")\n", p->pid);
    fprintf(out, "trace %s; stacks: %s, up to %d frames", ms_trace_path(a->trace),
            unwind_name(p->unwind), p->depth);
    if (ms_backend_name(s->backend))
        fprintf(out, "; backend: %s (%s)", ms_backend_name(s->backend),
                ms_backend_reason(s->backend_reason) ? ms_backend_reason(s->backend_reason) : "?");
    fprintf(out, "\n");
    window_text(out, a);

    /* Sampled: which figures are exact and which are estimates, said once, and each estimate
     * marked. */
    const char *est = s->sample_bytes ? "  (estimate)" : "";
    char b3[32];
    if (s->sample_bytes)
        fprintf(out,
                "sampled: one sample per %s bytes allocated on average (MEMSCOPE_SAMPLE_BYTES): "
                "%s of %s allocations recorded with their stack; counts and bytes allocated are "
                "exact, the peak, leaks, call-site rankings and threads are estimates scaled "
                "from the samples\n",
                ms_format_count(b1, s->sample_bytes), ms_format_count(b2, s->sampled_allocs),
                ms_format_count(b3, s->allocs));

    fprintf(out, "\nSUMMARY\n");
    fprintf(out,
            "  allocations            %s   (a realloc counts as one allocation and one "
            "free, as in valgrind)\n",
            ms_format_count(b1, s->allocs));
    fprintf(out, "  frees                  %s\n", ms_format_count(b1, s->frees));
    fprintf(out, "  realloc calls          %s\n", ms_format_count(b1, s->realloc_calls));
    fprintf(out, "  bytes allocated        %s\n", ms_format_count(b1, s->bytes_allocated));
    fprintf(out, "  peak heap              %s bytes, at %s%s\n", ms_format_count(b1, s->peak_bytes),
            ms_format_duration(b2, ms_analysis_ns(a, s->peak_tsc)), est);
    if (s->peak_low != s->peak_high)
        fprintf(out,
                "  peak in any order      %s to %s bytes (events of threads that ran at the "
                "same time are ordered by timestamps taken every 16 events)%s\n",
                ms_format_count(b1, s->peak_low), ms_format_count(b2, s->peak_high), est);
    char endbuf[32], title[96];
    const char *end = ms_report_end_name(a, endbuf);
    fprintf(out,
            strlen(end) > 12 ? "  in use at %s: %s bytes in %s blocks%s\n"
                             : "  in use at %-12s %s bytes in %s blocks%s\n",
            end, ms_format_count(b1, s->live_bytes), ms_format_count(b2, s->live_blocks), est);
    leak_kinds(out, a);
    if (s->sample_bytes)
        fprintf(out, "  temporary allocations  not known when sampled (they need every "
                     "allocation)\n");
    else
        fprintf(out, "  temporary allocations  %s (%.1f%% of allocations)\n",
                ms_format_count(b1, s->temporary_allocs),
                s->allocs ? 100.0 * (double)s->temporary_allocs / (double)s->allocs : 0.0);
    const struct ms_misuse_log *ml = ms_heap_model_misuse(a->model);
    if (ml->total)
        fprintf(out, "  allocator misuse       %s error%s (see ALLOCATOR MISUSE)\n",
                ms_format_count(b1, ml->total), ml->total == 1 ? "" : "s");
    fprintf(out, "  threads                %s\n", ms_format_count(b1, s->threads));
    const struct ms_end_info *e = ms_trace_end(a->trace);
    uint64_t end_tsc = e->present ? e->tsc : s->last_tsc;
    fprintf(out, "  duration               %s\n",
            ms_format_duration(b1, ms_analysis_ns(a, end_tsc)));

    call_sites(out, a, o->top);
    if (a->window.cut && (a->window.at || a->window.cut_by_allocs))
        snprintf(title, sizeof title, "LIVE AT %s (%s), by bytes", end, ms_report_end_option(a));
    else
        snprintf(title, sizeof title, "LEAKS (still allocated at %s), by bytes", end);
    if (s->leak_scan && s->scan_status == MS_SCAN_DONE)
        leaks_by_kind(out, a);
    else
        ranking(out, a, MS_RANK_LEAKED, title, 0);
    suppressions_used(out, a);
    misuse_text(out, a, o->top);
    timeline_text(out, a);
    who_keeps(out, a, false, o->top);
    leak_checks(out, a, o->top);
    who_keeps(out, a, true, o->top);
    bottlenecks_text(out, a, o->top);
    hotspots_text(out, a, o);
    if (ms_patterns_of(a->model, 0))
        ranking(out, a, MS_RANK_GROWTH,
                "GROWING WITHOUT BOUND (call sites whose live bytes kept rising until the program "
                "stopped allocating), by rate",
                o->top);
    ranking(out, a, MS_RANK_ALLOCS, "TOP CALL SITES BY NUMBER OF ALLOCATIONS", o->top);
    ranking(out, a, MS_RANK_PEAK, "TOP CALL SITES BY CONTRIBUTION TO THE PEAK", o->top);
    ranking(out, a, MS_RANK_BYTES, "TOP CALL SITES BY BYTES ALLOCATED", o->top);
    if (!s->sample_bytes)
        ranking(out, a, MS_RANK_TEMPORARY,
                "TEMPORARY ALLOCATIONS BY CALL SITE (freed before the thread allocated again)",
                o->top);

    api_sections(out, a);

    fprintf(out, "\nTHREADS%s\n  %-8s %-16s %10s %14s %16s %14s %14s %6s\n", estimated_title(a),
            "tid", "name", "created by", "allocations", "bytes", "peak", "leaked", "score");
    for (size_t i = 0; i < ms_heap_model_thread_count(a->model); i++) {
        const struct ms_thread_stats *t = ms_heap_model_thread(a->model, i);
        if (!t->allocs && !t->frees)
            continue;
        char b4[32], creator[16] = "-";
        if (t->creator_tid)
            snprintf(creator, sizeof creator, "%u", t->creator_tid);
        struct ms_score sc;
        char b5[16];
        ms_score_thread(a->model, i, &sc);
        fprintf(out, "  %-8u %-16s %10s %14s %16s %14s %14s %6s\n", t->tid,
                t->tid ? t->name : "(exited)", creator, ms_format_count(b1, t->allocs),
                ms_format_count(b2, t->bytes), ms_format_count(b3, t->peak_bytes),
                ms_format_count(b4, t->live_bytes), score_text(b5, &sc));
    }

    entity_rankings(out, a);

    struct ms_notes notes;
    ms_report_notes(a, &notes);
    if (notes.n) {
        fprintf(out, "\nNOTES\n");
        for (int i = 0; i < notes.n; i++)
            fprintf(out, "  - %s\n", notes.text[i]);
    }
    return ferror(out) ? -1 : 0;
}
