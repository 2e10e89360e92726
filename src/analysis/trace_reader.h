/* Reads a memscope trace: validates the header, indexes the chunks, decodes the PROCESS,
 * MODULES and END chunks, and replays the events of all threads merged in time order. Every
 * read goes through a bounds-checked cursor and every chunk of a version 2 or later trace must
 * match its checksum; a damaged or truncated trace is read up to the last whole chunk, damaged
 * chunks are skipped, and the loss is reported. */
#ifndef MS_TRACE_READER_H
#define MS_TRACE_READER_H

#include "common/record_table.h"
#include "stack_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ms_trace ms_trace;

struct ms_process_info {
    uint64_t pid, ppid;
    uint64_t start_tsc, start_mono_ns, start_real_ns;
    int unwind, depth;
    char *exe;
    int argc;
    char **argv;
    uint64_t fork_parent_pid, fork_tsc;
    uint32_t node_limit;
    char *parent_trace;
    char *version;
    /* MEMSCOPE_SAMPLE_BYTES: allocations are sampled with this mean (0: all recorded); a
     * value above 2^40, which no writer makes, reads as 0. */
    uint64_t sample_bytes;
};

struct ms_module {
    char *path;
    uint64_t bias, lo, hi;
    uint8_t build_id[64];
    size_t build_id_len;
    /* When it was loaded, as the MODULES snapshots say: the first snapshot that lists it, the
     * last, and the first after that one without it (0: none, it stayed). */
    uint64_t first_tsc, last_tsc, gone_tsc;
    bool overlaps; /* another module was loaded at some of its addresses (dlclose, dlopen) */
};

struct ms_end_info {
    bool present;
    uint64_t tsc, mono_ns;
    int reason, code;
    uint64_t dropped;
    uint64_t threads_at_exit; /* threads running when exit() finished the trace; 0: unknown */
    /* The leak scan's handshake (its address) and the snapshot of the process to scan (its pid),
     * common/leak_handshake.h; 0: none. */
    uint64_t scan, scan_pid;
    int scan_refused; /* enum ms_scan_refused: why other threads running left no snapshot */
    /* Other threads left running for the snapshot, blocked in a call a stop would interrupt:
     * their registers are not among the scan's roots. */
    uint64_t scan_unstopped;
};

/* memscope run's leak scan at exit (the last LEAK_SCAN chunk). */
struct ms_leak_scan_info {
    bool present;
    int status, error; /* enum ms_scan_status, and its errno */
    uint64_t root_bytes, unreadable_bytes, scan_ns;
    size_t n;       /* blocks classified (0 unless status is MS_SCAN_DONE) */
    uint64_t *addr; /* their addresses, ascending */
    uint8_t *kind;  /* their kind bytes (leak_scan.h: MS_LEAK_KIND_MASK, heuristic) */
    /* Who keeps what alive (a scan that wrote it: graph); blocks as indexes into addr. */
    bool graph;
    uint64_t edges, top_level, all_cycles, cycle_blocks, cycle_bytes;
    size_t nretainers, ncycles;
    struct ms_leak_retainer {
        size_t block;
        uint64_t bytes, blocks;
    } * retainers;
    struct ms_leak_cycle {
        uint64_t bytes, blocks;
        size_t first, listed; /* its members: member[first .. first + listed) */
    } * cycles;
    size_t *member;
};

/* An on-demand scan's kinds (a LEAK_CHECK chunk), for the LEAK_CHECK event of the same seq. */
struct ms_leak_check_result {
    uint64_t seq, tsc;
    int cause; /* enum ms_check_cause */
    struct ms_leak_scan_info scan;
};
/* The most of them a trace keeps (memscope run writes the latest ones). */
#define MS_LEAK_CHECKS_KEPT 16

/* One decoded event. Pointers and sizes are as the program saw them. */
struct ms_event {
    int kind;   /* enum ms_rec_kind */
    int family; /* enum ms_family */
    uint32_t tid;
    uint64_t tsc; /* its time, when timed; else its stream's last time (a lower bound) */
    bool timed;   /* the record carried its own time */
    uint64_t ptr, old_ptr, size, align;
    uint32_t stack;
    /* pthread_t (THREAD_START/CREATE), child pid (FORK), the task (TASK, whose size is the
     * thread's CPU clock then, 0: not read), the string's id (STRING), the sub-kind (EXTENDED) */
    uint64_t value;
    uint64_t task;    /* the stream's current task (TASK record; 0: none) */
    const char *name; /* THREAD_START/THREAD_NAME, STRING's text: not NUL-terminated */
    size_t name_len;
    bool forced; /* redelivered after a conflict that no nearby event resolves */
    /* EXTENDED (a C API annotation of a sub-kind this reader knows): its fields, in the record
     * table's order (MS_XFIELDS_<NAME>); not cleared for other kinds. */
    uint64_t x[MS_EXT_FIELDS_MAX];
    /* FREE: the module its caller is in, as the stream's last FREE_CALLER says (passports): that
     * record's stack and ip (both 0: none yet), and whether the stack is this free's own (the
     * free right after the record). Attached when decoded, so that the merge's reordering of
     * events cannot separate a free from its caller. Not cleared for other kinds. */
    uint64_t free_ip;
    uint32_t free_stack;
    bool free_own;
};

/* What an event callback may return besides 0 (go on) and a negative error (stop): the event
 * conflicts with the heap as replayed so far, and an event of another thread that the merge
 * may have placed later should come first. The reader looks for it among the next events of
 * the other threads, delivers it, and redelivers this event; if none is found it redelivers
 * this event with `forced` set, which the callback must then accept. */
enum {
    MS_REPLAY_WANT_FREE = 1,      /* ev->ptr is still allocated: want its free */
    MS_REPLAY_WANT_ALLOC = 2,     /* ev->ptr is not allocated: want its allocation */
    MS_REPLAY_WANT_ALLOC_OLD = 3, /* a realloc's ev->old_ptr is not allocated */
};

/* What went wrong while reading, for the report to say. */
struct ms_trace_damage {
    uint64_t file_size;
    uint64_t bytes_lost; /* bytes after the last whole chunk */
    uint64_t chunks_bad; /* chunks skipped: checksum mismatch, or they failed to decode */
    uint64_t first_bad_offset;
    char what[256]; /* the first problem, for the report */
};

/* Opens and indexes a trace (only a regular file: a FIFO or device is refused, unread, with
 * MS_ENOTRACE). On failure returns a negative MS_E* code and writes a one-line explanation
 * (naming the file and offset) into err. */
int ms_trace_open(const char *path, ms_trace **out, char *err, size_t errlen);
void ms_trace_close(ms_trace *t);

const struct ms_process_info *ms_trace_process(const ms_trace *t);
const struct ms_end_info *ms_trace_end(const ms_trace *t);
const struct ms_leak_scan_info *ms_trace_leak_scan(const ms_trace *t);
/* The on-demand scans' kinds, by seq (at most MS_LEAK_CHECKS_KEPT). */
const struct ms_leak_check_result *ms_trace_leak_checks(const ms_trace *t, size_t *n);
/* Decodes a LEAK_SCAN payload (docs/trace-format.md, 7a) into *out, whose arrays it allocates:
 * 0, MS_ECORRUPT or MS_ENOMEM (then *out holds nothing). ms_leak_scan_info_free frees them. */
int ms_leak_scan_decode(const uint8_t *p, size_t n, struct ms_leak_scan_info *out);
void ms_leak_scan_info_free(struct ms_leak_scan_info *s);
const struct ms_trace_damage *ms_trace_damage(const ms_trace *t);
size_t ms_trace_module_count(const ms_trace *t);
const struct ms_module *ms_trace_module(const ms_trace *t, size_t i);
const char *ms_trace_path(const ms_trace *t);
/* The index of the module that held address addr at time tsc, among modules loaded at the same
 * addresses one after the other (struct ms_module.overlaps); -1 when addr is in no such module.
 * A stack node made at tsc is in the module loaded then; a node made before any snapshot lists
 * its module (a library's constructors run before dlopen returns) in the next one loaded. */
int ms_trace_module_at(const ms_trace *t, uint64_t addr, uint64_t tsc);
/* The largest stack node id this trace can hold (derived from its size): ids above it are
 * rejected as corrupt, so a damaged trace cannot make the reader allocate without bound. */
uint32_t ms_trace_max_node(const ms_trace *t);
/* Bytes of events recovered from the spool that a process killed before it finished left
 * beside its trace (TRACE.spool), in *buffers buffers (may be NULL); 0 when there was none. */
uint64_t ms_trace_spool_bytes(const ms_trace *t, uint64_t *buffers);
/* Chunks of a type this reader does not know (written by a newer memscope), skipped. */
uint64_t ms_trace_unknown_chunks(const ms_trace *t);

/* memscope run's samples of the process's resident memory (an RSS chunk; none: *n is 0), in
 * time order: CLOCK_MONOTONIC ns (as ms_process_info.start_mono_ns) and bytes. */
struct ms_rss_sample {
    uint64_t mono_ns, bytes;
};
#define MS_RSS_SAMPLES_MAX (1u << 22)
const struct ms_rss_sample *ms_trace_rss(const ms_trace *t, size_t *n);
/* When the trace ends: its END record's time, else (a process killed) the latest start of its
 * chunks. */
uint64_t ms_trace_last_tsc(const ms_trace *t);
/* Nanoseconds per TSC tick, as calibrated from the trace's clock records. */
double ms_trace_ns_per_tick(const ms_trace *t);
/* Converts a TSC reading of this trace to nanoseconds since the process started. */
uint64_t ms_trace_ns_since_start(const ms_trace *t, uint64_t tsc);

/* A point to stop replaying a forked parent's events: at its FORK record for child_pid, or at
 * the first event at or after tsc. */
struct ms_replay_cut {
    uint64_t child_pid;
    uint64_t tsc;
};

typedef int (*ms_event_fn)(void *ctx, const struct ms_event *ev);

/* The replays of t read no events chunk whose time base (its first record's time) is after tsc:
 * every event in it is later, so that a report's window that ends at tsc does not read the rest
 * of the trace. UINT64_MAX (the default): every chunk. */
void ms_trace_read_until(ms_trace *t, uint64_t tsc);

/* Replays every event in time order, calling fn for each (a negative return stops the replay
 * and is returned; see MS_REPLAY_WANT_* for positive ones). Stack nodes go into stacks (only ids
 * below node_limit when node_limit is non-zero). With a cut, events after it are not delivered but
 * nodes are still collected. Chunks that fail to decode are skipped and counted in the damage
 * report. */
int ms_trace_replay(ms_trace *t, const struct ms_replay_cut *cut, uint32_t node_limit,
                    struct ms_stack_table *stacks, ms_event_fn fn, void *ctx);

/* Opens a trace that a running process is still writing, indexed up to its last whole chunk.
 * Returns MS_ETRUNCATED while the file has no process information yet (try again later), or
 * another negative MS_E* code; ms_trace_open then gives the explanation. */
int ms_trace_open_growing(const char *path, ms_trace **out);
/* Indexes what was written since. With final set the writer has finished: the trace becomes as
 * ms_trace_open would have read it (an incomplete tail is damage, a spool is recovered), or
 * MS_ENOENT says that its path no longer names the file read so far. */
int ms_trace_refresh(ms_trace *t, bool final);

/* A replay that runs while the trace is written (memscope run's summary, beside the program):
 * each step delivers the events that no chunk still to come can precede, and the finish, after
 * the final refresh, the rest. The events and their order are exactly those of ms_trace_replay
 * on the whole trace, or the finish returns MS_REPLAY_RESTART: a thread's events arrived after
 * later ones had been delivered, and the caller must replay the whole trace anew (into a fresh
 * consumer). Only for a trace without a fork ancestry (no cut, no node limit). */
typedef struct ms_live_replay ms_live_replay;
enum { MS_REPLAY_RESTART = 16 };
int ms_live_replay_new(ms_trace *t, struct ms_stack_table *stacks, ms_event_fn fn, void *ctx,
                       ms_live_replay **out);
int ms_live_replay_step(ms_live_replay *r);
int ms_live_replay_finish(ms_live_replay *r);
void ms_live_replay_free(ms_live_replay *r);

/* Decodes one chunk payload's records without merging (used by tests and the fuzzer).
 * Returns 0 or MS_ECORRUPT. */
int ms_trace_decode_events(const uint8_t *raw, size_t len, uint32_t tid,
                           struct ms_stack_table *stacks, ms_event_fn fn, void *ctx);

#endif
