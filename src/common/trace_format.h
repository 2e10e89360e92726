/* The memscope trace format, version 3: the constants shared by the capture library that writes
 * traces and the reader that analyses them. docs/trace-format.md specifies the layout in full. */
#ifndef MS_TRACE_FORMAT_H
#define MS_TRACE_FORMAT_H

#include "crc32c.h"
#include "record_table.h"

#include <stdint.h>
#include <string.h>

/* File header: magic (8 bytes), version (u16 LE), header size (u16 LE), flags (u32 LE). */
#define MS_TRACE_MAGIC "MSTRACE\x1a"
#define MS_TRACE_MAGIC_LEN 8
#define MS_TRACE_VERSION 3
/* The first version whose chunks carry a checksum; version 1 traces are still read, unchecked. */
#define MS_TRACE_VERSION_CRC 2
#define MS_FILE_HEADER_SIZE 16

/* The format's fixed-width fields: n bytes (1..8) little-endian at p. */
static inline uint64_t ms_get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void ms_put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Chunk header, 32 bytes, all little-endian:
 *   0  u8  type (enum ms_chunk_type)     1  u8  flags (MS_CHUNK_ZSTD)
 *   2  u16 reserved (0)                  4  u32 stored payload size
 *   8  u32 raw payload size             12  u32 thread id (EVENTS chunks) or 0
 *  16  u64 first event time (TSC)       24  u32 CRC32C (see below)
 *  28  u32 reserved (0)
 * In version 1, bytes 24..31 held the time of the last event (unused by the reader). */
#define MS_CHUNK_HEADER_SIZE 32
#define MS_CHUNK_CRC_OFFSET 24
#define MS_CHUNK_ZSTD 0x01
/* The reader refuses chunks claiming more raw bytes than this. */
#define MS_CHUNK_MAX_RAW (16u << 20)

/* A chunk's checksum is the CRC32C of its 32 header bytes, the checksum field taken as zero,
 * followed by its stored (compressed) payload bytes: so a flipped bit anywhere in the chunk,
 * type, sizes and tid included, is detected. This is the CRC of the header part, which
 * ms_crc32c(ms_chunk_header_crc(hdr), payload, stored) continues over the payload. */
static inline uint32_t ms_chunk_header_crc(const uint8_t *hdr)
{
    uint8_t h[MS_CHUNK_HEADER_SIZE];
    memcpy(h, hdr, sizeof h);
    memset(h + MS_CHUNK_CRC_OFFSET, 0, 4);
    return ms_crc32c(0, h, sizeof h);
}

/* Sets the checksum of the chunk header h whose stored payload is the stored bytes at payload. */
static inline void ms_chunk_header_checksum(uint8_t h[MS_CHUNK_HEADER_SIZE], const uint8_t *payload,
                                            uint32_t stored)
{
    ms_put_le(h + MS_CHUNK_CRC_OFFSET, ms_crc32c(ms_chunk_header_crc(h), payload, stored), 4);
}

/* Fills the header h of a version 2 chunk whose stored payload is the stored bytes at payload
 * (raw bytes once decompressed), checksum included. */
static inline void ms_chunk_header_put(uint8_t h[MS_CHUNK_HEADER_SIZE], int type, int flags,
                                       uint32_t tid, uint64_t t0, const uint8_t *payload,
                                       uint32_t stored, uint32_t raw)
{
    memset(h, 0, MS_CHUNK_HEADER_SIZE);
    h[0] = (uint8_t)type;
    h[1] = (uint8_t)flags;
    ms_put_le(h + 4, stored, 4);
    ms_put_le(h + 8, raw, 4);
    ms_put_le(h + 12, tid, 4);
    ms_put_le(h + 16, t0, 8);
    ms_chunk_header_checksum(h, payload, stored);
}

enum ms_chunk_type {
    MS_CHUNK_PROCESS = 1, /* who was traced, the clock, how stacks were captured */
    MS_CHUNK_EVENTS = 2,  /* one thread's events, in time order */
    MS_CHUNK_MODULES = 3, /* the loaded modules (a full snapshot) */
    MS_CHUNK_END = 4,     /* how the process ended; the final clock reading */
    /* The leak kinds of the blocks live at exit, from memscope run's scan of the process
     * (common/leak_handshake.h), appended after END. */
    MS_CHUNK_LEAK_SCAN = 5,
    /* An on-demand scan's kinds (the LEAK_CHECK record whose seq it gives), appended after END
     * as well. */
    MS_CHUNK_LEAK_CHECK = 6,
    /* memscope run's samples of the process's resident memory (every 10 ms), appended after
     * END. */
    MS_CHUNK_RSS = 7,
    MS_CHUNK_LAST = MS_CHUNK_RSS,
};

/* Event records inside an EVENTS chunk start with one kind byte: bits 0-3 are the record kind,
 * bits 4-5 the allocator family, bit 6 says the pointer deltas are stored divided by 16, and
 * bit 7 says a time delta (varint, TSC ticks since the previous timed record) follows. */
#define MS_REC_KIND_MASK 0x0f
#define MS_REC_FAMILY_SHIFT 4
#define MS_REC_FAMILY_MASK 0x3
#define MS_REC_PTR16 0x40
#define MS_REC_TIMED 0x80

/* The record kinds, from the record table (record_table.h; record_codec.h encodes and decodes
 * them): MS_REC_ALLOC = 1, ..., and the EXTENDED sub-kinds MS_EXT_VARIABLE = 1, .... */
#define MS__REC_KIND(NAME, code, timing, summary) MS_REC_##NAME = code,
enum ms_rec_kind { MS_RECORDS(MS__REC_KIND) };
#undef MS__REC_KIND
#define MS__EXT_KIND(NAME, code, summary) MS_EXT_##NAME = code,
enum ms_ext_kind { MS_EXT_RECORDS(MS__EXT_KIND) };
#undef MS__EXT_KIND

enum ms_family {
    MS_FAMILY_MALLOC = 0,    /* malloc, calloc, realloc, memalign, ..., free */
    MS_FAMILY_NEW = 1,       /* operator new / delete */
    MS_FAMILY_NEW_ARRAY = 2, /* operator new[] / delete[] */
    /* An allocator library's own functions (tcmalloc's tc_*, jemalloc's *allocx) when that
     * library is not the one the program's malloc and free reach (loaded with RTLD_LOCAL, or
     * built with a prefix): its blocks are its own, and a free or realloc of glibc's on them,
     * or of the library's on glibc's blocks, is a mismatch. */
    MS_FAMILY_OTHER = 3,
};

/* What --check found (HEAP_ERROR records). */
enum ms_heap_error {
    MS_HEAP_OVERFLOW = 0,        /* a red zone was written: offset < 0 or >= size */
    MS_HEAP_USE_AFTER_FREE = 1,  /* a freed block in the quarantine was written */
    MS_HEAP_REFUSED_REALLOC = 2, /* a realloc of an address where no block is live */
};
/* When --check found it. */
enum ms_heap_found {
    MS_FOUND_FREE = 0,       /* as the block was freed */
    MS_FOUND_REALLOC = 1,    /* as it was reallocated */
    MS_FOUND_QUARANTINE = 2, /* as it left the quarantine */
    MS_FOUND_EXIT = 3,       /* at exit */
};

/* Pointer fields are zigzag varints of the difference from the previous pointer in the
 * chunk (0 at chunk start); ip fields likewise from the previous node's ip. */

/* How stacks were captured (PROCESS chunk). */
enum ms_unwind_mode {
    MS_UNWIND_NONE = 0,
    MS_UNWIND_FP = 1,
    MS_UNWIND_LIBUNWIND = 2,
};

/* The PASSPORT annotation's actions (its `action` field; include/memscope.h passes the same
 * numbers). */
enum ms_passport_action {
    MS_PASSPORT_HANDOVER = 1, /* module: the custodian's name; note: the function taking it */
    MS_PASSPORT_RECLAIM = 2,
    MS_PASSPORT_NOTE = 3, /* note: the program's text */
};

/* The capture backends (MEMSCOPE_BACKEND's words in this order; the BACKEND annotation's
 * `backend`): unified is a choice among the others, never the one in use. */
enum ms_backend {
    MS_BACKEND_UNIFIED = 0,
    MS_BACKEND_LOCKFREE = 1,
    MS_BACKEND_CORE = 2,
    MS_BACKEND_ASYNC = 3,
};

/* Why the backend in use is the one (the BACKEND annotation's `reason`). */
enum ms_backend_reason {
    MS_BACKEND_BY_VARIABLE = 1,     /* MEMSCOPE_BACKEND named it */
    MS_BACKEND_BY_INIT = 2,         /* the program called ms_init */
    MS_BACKEND_BY_DEFAULT = 3,      /* unified: nothing asks for more than lockfree */
    MS_BACKEND_BY_NO_TRACE = 4,     /* unified: MEMSCOPE_OUTPUT=none, core keeps the leak list */
    MS_BACKEND_BY_FIRST_TASK = 5,   /* unified: the first task began: async */
    MS_BACKEND_BY_SCAN_AT_PEAK = 6, /* MEMSCOPE_SCAN_AT_PEAK: core's table tells the peak */
};

/* The backend's name (NULL for none known). */
static inline const char *ms_backend_name(unsigned b)
{
    static const char *const names[] = {NULL, "lockfree", "core", "async"};
    return b < sizeof names / sizeof *names ? names[b] : NULL;
}

/* Why it is in use, for the report (NULL for none known). */
static inline const char *ms_backend_reason(unsigned r)
{
    static const char *const why[] = {
        NULL,
        "MEMSCOPE_BACKEND",
        "the program called ms_init",
        "unified's choice: nothing asks for more than lockfree",
        "unified's choice: no trace (MEMSCOPE_OUTPUT=none), core keeps the leak list",
        "unified's choice: the first task began",
        "MEMSCOPE_SCAN_AT_PEAK (core's table of live blocks tells when the heap nears its peak)",
    };
    return r < sizeof why / sizeof *why ? why[r] : NULL;
}

/* How the process ended (END chunk). */
enum ms_end_reason {
    MS_END_EXIT = 0,       /* normal exit or exit() from any thread */
    MS_END_SIGNAL = 1,     /* killed by a fatal signal that memscope caught */
    MS_END_EXEC = 2,       /* the process image was replaced by exec */
    MS_END_QUICK_EXIT = 3, /* _exit(): no exit handlers, no exit-time freeing */
    MS_END_STOPPED = 4,    /* memscope stopped tracking; the program ran on (code: ms_stop_cause) */
    /* Killed before it could finish its trace; `memscope run` completed the trace from the
     * spool afterwards (code: the signal, 0 if unknown). */
    MS_END_KILLED = 5,
};

/* END's scan_refused: why an exit with other threads running left no snapshot to scan. */
enum ms_scan_refused {
    MS_SCAN_REFUSED_NONE = 0,
    MS_SCAN_REFUSED_NOT_STOPPED =
        1, /* memscope run did not stop them (ptrace refused, no answer) */
    MS_SCAN_REFUSED_IN_MEMSCOPE = 2, /* each time they were stopped, one was inside memscope */
    MS_SCAN_REFUSED_ALLOCATING = 3,  /* one allocated or freed while the process exited */
    MS_SCAN_REFUSED_TOO_MANY = 4,    /* more than MS_LEAK_MAX_THREADS to stop */
};

/* How the scan of a LEAK_SCAN chunk went (its status field): only MS_SCAN_DONE gives kinds. */
enum ms_scan_status {
    MS_SCAN_DONE = 0,
    MS_SCAN_NO_ACCESS = 1, /* the process's memory could not be read (error: the errno) */
    MS_SCAN_NO_MEMORY = 2, /* memscope run ran out of memory */
    MS_SCAN_STATUSES
};

/* What asked for an on-demand leak scan (LEAK_CHECK record and chunk). */
enum ms_check_cause {
    MS_CHECK_API = 1,    /* the program called ms_leak_check() */
    MS_CHECK_SIGNAL = 2, /* the process got MEMSCOPE_SCAN_SIGNAL */
    MS_CHECK_PEAK = 3,   /* MEMSCOPE_SCAN_AT_PEAK: the heap reached a new high */
    MS_CHECK_CAUSES
};

/* Why an on-demand leak scan made no snapshot (LEAK_CHECK's skipped; 0: one was made). */
enum ms_check_skip {
    MS_CHECK_MADE = 0,
    MS_CHECK_NO_SCANNER = 1,  /* not run by memscope run with its summary (MEMSCOPE_LEAK_SCAN) */
    MS_CHECK_NOT_ROOT = 2,    /* not the process memscope run started (a forked child) */
    MS_CHECK_SAMPLED = 3,     /* MEMSCOPE_SAMPLE_BYTES: not every live block is known */
    MS_CHECK_THREADS = 4,     /* other threads could not be stopped (threads: how many) */
    MS_CHECK_PENDING = 5,     /* the previous check's snapshot was not scanned yet */
    MS_CHECK_SANDBOXED = 6,   /* a seccomp filter confines the process: no clone */
    MS_CHECK_NO_SNAPSHOT = 7, /* the clone failed (a process limit, no memory) */
    MS_CHECK_SKIPS
};

/* The cause's name in reports and JSON: "ms_leak_check", "signal" (NULL: unknown). */
static inline const char *ms_check_cause_name(unsigned c)
{
    static const char *const names[] = {NULL, "ms_leak_check", "signal", "peak"};
    return c < sizeof names / sizeof *names ? names[c] : NULL;
}

/* Why a check made no snapshot, as a phrase (NULL: unknown, or one was made). */
static inline const char *ms_check_skip_reason(unsigned s)
{
    static const char *const why[] = {
        NULL,
        "the program was not run by memscope run with its summary",
        "not the process memscope run started",
        "the trace is sampled (MEMSCOPE_SAMPLE_BYTES)",
        "other threads were running and were not stopped (at the peak they never are)",
        "the previous check's snapshot was still being scanned",
        "a seccomp filter confines the process",
        "the snapshot could not be made (a process limit or no memory)",
    };
    return s < sizeof why / sizeof *why ? why[s] : NULL;
}

/* Why memscope stopped tracking a process that went on running (END reason MS_END_STOPPED). */
enum ms_stop_cause {
    MS_STOP_FILE_SIZE = 1, /* the trace reached the file size limit (RLIMIT_FSIZE, ulimit -f) */
};

/* The spool (TRACE.spool): the capture's event buffers, mapped shared so that a killed process
 * leaves them behind. Region r starts at r * (MS_SPOOL_HEAD_SIZE + buffer size) with a head, all
 * little-endian: 0 u64 magic, 8 u32 thread id, 12 u32 buffer size, 16 u32 committed bytes (whole
 * records); the buffer follows at MS_SPOOL_HEAD_SIZE and starts with a CLOCK record. */
#define MS_SPOOL_MAGIC 0x314c4f4f5053534dull /* "MSSPOOL1" */
#define MS_SPOOL_HEAD_SIZE 4096u
#define MS_SPOOL_HEAD_LEN 20u
/* Sampling (MEMSCOPE_SAMPLE_BYTES): the head page also holds the buffer's call counts, the
 * counts of allocations by call site (sampled or not) and of frees not sampled, not yet written
 * as CALL_COUNTS and SAMPLE_FREES records, so that a killed process leaves them with its
 * records. MS_SPOOL_COUNTS entries of MS_SPOOL_COUNT_SIZE bytes from MS_SPOOL_COUNTS_AT:
 * 0 u64 ip (0: unused), 8 u64 bytes, 16 u32 allocs, 20 u32 emitted. Entry 0 is the frees':
 * ip 1 when used, allocs the frees of blocks not sampled, bytes the realloc calls. An entry
 * whose emitted is not 0 and at most the head's committed count is already in the records. */
#define MS_SPOOL_COUNTS_AT 64u
#define MS_SPOOL_COUNTS 129u
#define MS_SPOOL_COUNT_SIZE 24u

#define MS_MAX_STACK_DEPTH 256
#define MS_DEFAULT_STACK_DEPTH 64

#endif
