/* What the reader's parts share (trace_file.c: the file and its chunk index; event_decode.h:
 * the records of a chunk; stream_merge.c: the time-ordered merge of the threads' streams). Not
 * for code outside the reader, which uses trace_reader.h. */
#ifndef MS_TRACE_FILE_H
#define MS_TRACE_FILE_H

#include "trace_reader.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chunk_ref {
    uint64_t offset; /* of the payload */
    uint32_t stored, raw, tid;
    uint8_t type, flags;
    uint64_t t0;
    uint32_t crc;      /* the checksum the header holds (version 2 on) */
    uint32_t crc_head; /* the checksum of the header alone, which the payload's continues */
    bool spool;        /* a buffer in the spool file (raw records, no checksum) */
    /* Spool chunks: bytes that follow the buffer's (tail_len of raw), the counts its head page
     * held (spool_reader.h); owned by the trace. */
    uint8_t *tail;
    uint32_t tail_len;
};

/* The damage report's words for a chunk whose checksum does not match. */
extern const char ms__bad_sum_what[];

struct ms_trace {
    char *path;
    int fd;
    uint64_t size;
    struct ms_process_info proc;
    bool have_proc;
    struct ms_module *modules;
    size_t nmod, capmod;
    uint64_t snapshots;     /* MODULES chunks read */
    uint64_t *mod_snapshot; /* per module: the last snapshot (1-based) that listed it */
    size_t capsnap;
    /* The modules by (path, bias, lo): module index + 1 in a table at most half full (0:
     * empty), so that a snapshot's modules are found in constant time each. */
    uint32_t *mod_index;
    size_t mod_index_mask;
    /* The modules the last snapshot listed (those not gone), and the next one's as it is read:
     * a snapshot looks at the modules it and the last one list, not at every module. */
    size_t *listed, *listing;
    struct ms_rss_sample *rss; /* the RSS chunk's samples (ms_trace_rss) */
    size_t nrss;
    size_t nlisted, caplisted, nlisting, caplisting;
    bool module_overlaps; /* some module's addresses held another module before or after */
    struct ms_end_info end;
    struct ms_leak_scan_info scan;
    struct ms_leak_check_result checks[MS_LEAK_CHECKS_KEPT]; /* by seq, ascending */
    size_t nchecks;
    struct ms_trace_damage damage;
    bool checksums; /* version 2 on: every chunk's checksum is checked when it is loaded */
    struct chunk_ref *chunks;
    size_t nchunks, capchunks;
    double ns_per_tick;
    uint32_t max_node; /* see ms_trace_max_node */
    uint64_t raw_event_bytes;
    uint64_t unknown_chunks; /* chunks of a type this reader does not know, skipped */
    int spool_fd;            /* the spool a killed process left, or -1 (spool_reader.h) */
    uint64_t spool_chunks, spool_bytes;
    uint64_t indexed_to; /* the end of the last chunk indexed */
    uint64_t read_until; /* ms_trace_read_until (UINT64_MAX: every chunk) */
    bool growing;        /* still being written: an incomplete tail is waited for, not damage */
};

/* A growable buffer that chunk loads reuse, so that replaying does not allocate per chunk. */
struct buffer {
    uint8_t *data;
    size_t cap;
};

/* Notes the first problem met while reading (offset: where in the file), for the report. */
void ms__trace_note_damage(ms_trace *t, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a chunk's stored bytes, checks its checksum (version 2 on) and decompresses them into
 * out (c->raw bytes, and one more); scratch holds the stored bytes of compressed chunks. On
 * MS_ECORRUPT, *bad_sum tells a checksum mismatch from a payload that does not decompress. */
int ms__trace_load_chunk_into(ms_trace *t, const struct chunk_ref *c, struct buffer *out,
                              struct buffer *scratch, bool *bad_sum);
/* Marks the modules whose ranges overlap another's. Returns 0 or MS_ENOMEM. */
int ms__trace_find_overlaps(ms_trace *t);

#endif
