/* The payloads of the PROCESS, MODULES and END chunks, defined once, as record_table.h defines
 * the EVENTS records: the capture's writer, the reader, memscope run's END for a killed process
 * and the tests' trace builder use the codec generated from it (chunk_codec.h), and
 * test_record_table checks the tables of docs/trace-format.md against it.
 *
 * MS_CHUNK_PAYLOADS(X) calls X(NAME, summary) for each payload; MS_CHUNK_FIELDS_<NAME>(F) calls
 * F(type, field) for each of its fields, in the order they are stored. Field types:
 *   U     unsigned varint
 *   U5    unsigned varint written in exactly 5 bytes (a count written after what it counts)
 *   STR   varint length, then the bytes (not NUL-terminated)
 *   STRS  varint count, then that many STR (an argument list)
 *   OPT   unsigned varint that the first writers did not write: 0 when the payload ends before
 *         it; readers ignore anything after the last field they know
 * A MODULES payload is its header followed by `count` MODULE entries. */
#ifndef MS_CHUNK_TABLE_H
#define MS_CHUNK_TABLE_H

#define MS_CHUNK_PAYLOADS(X)                                                                       \
    X(PROCESS, "the process: who it is, how it is traced, what it was forked from")                \
    X(MODULES, "a snapshot of the loaded modules: this header, then count MODULE entries")         \
    X(MODULE, "one module of a MODULES snapshot")                                                  \
    X(END, "how the trace ended")                                                                  \
    X(LEAK_SCAN, "the scan at exit: this header, then count LEAK_BLOCK entries in address order")  \
    X(LEAK_BLOCK, "one block live at exit and its leak kind")                                      \
    X(LEAK_GRAPH, "who keeps what alive, after the blocks: retainers LEAK_RETAINER entries, then " \
                  "cycles LEAK_CYCLE entries")                                                     \
    X(LEAK_RETAINER, "a block no other block dominates, and what it keeps alive")                  \
    X(LEAK_CYCLE, "a cycle of blocks no root reaches: this header, then listed LEAK_MEMBER "       \
                  "entries")                                                                       \
    X(LEAK_MEMBER, "one block of a cycle")                                                         \
    X(LEAK_CHECK, "an on-demand scan: this header, then a LEAK_SCAN payload")                      \
    X(RSS, "memscope run's samples of the process's resident memory: this header, then count "     \
           "RSS_SAMPLE entries")                                                                   \
    X(RSS_SAMPLE, "one sample")

/* clang-format off: one field per line (clang-format does not settle on this macro) */
#define MS_CHUNK_FIELDS_PROCESS(F)                                                                 \
    F(U, pid)                                                                                      \
    F(U, ppid)                                                                                     \
    F(U, start_tsc)                                                                                \
    F(U, start_mono_ns)                                                                            \
    F(U, start_real_ns)                                                                            \
    F(U, unwind)                                                                                   \
    F(U, depth)                                                                                    \
    F(STR, exe)                                                                                    \
    F(STRS, argv)                                                                                  \
    F(U, fork_parent_pid)                                                                          \
    F(U, fork_tsc)                                                                                 \
    F(U, node_limit)                                                                               \
    F(STR, parent_trace)                                                                           \
    F(STR, version)                                                                                \
    F(OPT, sample_bytes)
/* clang-format on */
#define MS_CHUNK_FIELDS_MODULES(F) F(U, tsc) F(U5, count)
#define MS_CHUNK_FIELDS_MODULE(F) F(STR, path) F(U, bias) F(U, lo) F(U, hi) F(STR, build_id)
/* clang-format off */
#define MS_CHUNK_FIELDS_END(F)                                                                     \
    F(U, tsc)                                                                                      \
    F(U, mono_ns)                                                                                  \
    F(U, reason)                                                                                   \
    F(U, code)                                                                                     \
    F(U, dropped)                                                                                  \
    F(OPT, threads)                                                                                \
    F(OPT, scan)                                                                                   \
    F(OPT, scan_pid)                                                                               \
    F(OPT, scan_refused)                                                                           \
    F(OPT, scan_unstopped)
/* clang-format on */
#define MS_CHUNK_FIELDS_LEAK_SCAN(F)                                                               \
    F(U, status) F(U, error) F(U, root_bytes) F(U, unreadable_bytes) F(U, scan_ns) F(U, count)
#define MS_CHUNK_FIELDS_LEAK_BLOCK(F) F(U, delta) F(U, kind)
/* clang-format off */
#define MS_CHUNK_FIELDS_LEAK_GRAPH(F)                                                              \
    F(U, edges)                                                                                    \
    F(U, top_level)                                                                                \
    F(U, retainers)                                                                                \
    F(U, all_cycles)                                                                               \
    F(U, cycle_blocks)                                                                             \
    F(U, cycle_bytes)                                                                              \
    F(U, cycles)
/* clang-format on */
#define MS_CHUNK_FIELDS_LEAK_RETAINER(F) F(U, block) F(U, retained_bytes) F(U, retained_blocks)
#define MS_CHUNK_FIELDS_LEAK_CYCLE(F) F(U, bytes) F(U, blocks) F(U, listed)
#define MS_CHUNK_FIELDS_LEAK_MEMBER(F) F(U, block)
#define MS_CHUNK_FIELDS_LEAK_CHECK(F) F(U, seq) F(U, tsc) F(U, cause)
#define MS_CHUNK_FIELDS_RSS(F) F(U, count) F(U, first_ns)
#define MS_CHUNK_FIELDS_RSS_SAMPLE(F) F(U, delta_ns) F(U, bytes)

#endif
