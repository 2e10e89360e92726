/* Every record of an EVENTS chunk, defined once: its kind code, when it carries a time, and its
 * fields in order. The capture's encoders, the reader's decoders and the tests' trace builder
 * are all generated from this table (record_codec.h), and test_record_table checks the table
 * of docs/trace-format.md against it, so a record cannot be written one way and read another.
 *
 * MS_RECORDS(X) calls X(NAME, code, timing, summary) for each record kind; MS_FIELDS_<NAME>(F)
 * calls F(type, field) for each of its fields, in the order they are stored. Field types:
 *   U    unsigned varint
 *   PTR  a pointer: zigzag varint of its difference from the previous pointer of the chunk
 *        (which it then becomes); stored divided by 16 (PTR16 in the kind byte) when every
 *        pointer difference of the record is a multiple of 16
 *   IP   an instruction address: zigzag varint of its difference from the previous IP field
 *   STR  a string: varint length, then the bytes (not NUL-terminated)
 * Timing: OPT, the record may carry a time delta (TIMED); NEVER, it never does; CLOCK, it never
 * does and it restarts the chunk's bases (time, pointer, ip).
 *
 * EXTENDED records (kind 15) carry one sub-record each: MS_EXT_RECORDS(X) calls
 * X(NAME, subkind, summary) and MS_XFIELDS_<NAME>(F) lists its fields, which may only be U or
 * STR (a reader that skips a sub-kind it does not know must not lose a delta base). They are
 * stored as: varint sub-kind, varint length of the fields, the fields. */
#ifndef MS_RECORD_TABLE_H
#define MS_RECORD_TABLE_H

#define MS_RECORDS(X)                                                                              \
    X(ALLOC, 1, OPT, "an allocation (malloc, calloc, operator new, ...)")                          \
    X(FREE, 2, OPT, "a block released (free, operator delete, ...)")                               \
    X(REALLOC, 3, OPT, "realloc of a live block to a new size, moved or not")                      \
    X(ALLOC_ALIGNED, 4, OPT, "an aligned allocation (posix_memalign, aligned new, ...)")           \
    X(STACK_NODE, 5, NEVER, "a node of the process's stack tree: frame ip called from parent")     \
    X(THREAD_START, 6, OPT, "the first record of a thread (and of a forked child's thread)")       \
    X(THREAD_NAME, 7, OPT, "the thread's name, written at its exit")                               \
    X(THREAD_CREATE, 8, OPT, "this thread created the thread whose pthread_t is value")            \
    X(THREAD_EXIT, 9, OPT, "the thread exits")                                                     \
    X(CLOCK, 10, CLOCK, "the time base: first record of every chunk")                              \
    X(FORK, 11, OPT, "this process forked the child whose pid is value")                           \
    X(FREERES, 12, OPT, "exit-time freeing of libc's and libstdc++'s internals begins")            \
    X(TASK, 13, OPT, "the thread's current task (C API) from now on, and its CPU clock then")      \
    X(STRING, 14, NEVER, "an entry of the process's string table (C API): id and text")            \
    X(EXTENDED, 15, OPT, "a C API annotation: sub-kind, length, fields (MS_EXT_RECORDS)")

#define MS_FIELDS_ALLOC(F) F(PTR, ptr) F(U, size) F(U, stack)
#define MS_FIELDS_FREE(F) F(PTR, ptr)
#define MS_FIELDS_REALLOC(F) F(PTR, old_ptr) F(PTR, ptr) F(U, size) F(U, stack)
#define MS_FIELDS_ALLOC_ALIGNED(F) F(PTR, ptr) F(U, size) F(U, stack) F(U, align)
#define MS_FIELDS_STACK_NODE(F) F(U, id) F(U, parent) F(IP, ip)
#define MS_FIELDS_THREAD_START(F) F(U, value) F(STR, name)
#define MS_FIELDS_THREAD_NAME(F) F(STR, name)
#define MS_FIELDS_THREAD_CREATE(F) F(U, value)
#define MS_FIELDS_THREAD_EXIT(F)
#define MS_FIELDS_CLOCK(F) F(U, tsc) F(U, mono_ns)
#define MS_FIELDS_FORK(F) F(U, value)
#define MS_FIELDS_FREERES(F)
#define MS_FIELDS_TASK(F) F(U, task) F(U, cpu_ns)
#define MS_FIELDS_STRING(F) F(U, id) F(STR, text)
#define MS_FIELDS_EXTENDED(F) F(U, subkind) F(U, length)

/* The C API's annotations (issue 7 writes them; readers before it skip them all). Strings are
 * ids of STRING records; addresses are absolute. */
#define MS_EXT_RECORDS(X)                                                                          \
    X(VARIABLE, 1, "a name (and type) given to the live block containing ptr")                     \
    X(SCOPE_BEGIN, 2, "a named scope opens on this thread")                                        \
    X(SCOPE_END, 3, "the scope closes")                                                            \
    X(TASK_BEGIN, 4, "a task begins, child of parent (0: none)")                                   \
    X(TASK_END, 5, "the task ends")                                                                \
    X(REF_ACQUIRE, 6, "holder (a block, or 0 for a root) takes a reference to the block obj")      \
    X(REF_RELEASE, 7, "holder drops its reference to obj")                                         \
    X(PASSPORT, 8, "a passport stamp on the block at ptr: hand-over, reclaim or note")             \
    X(MOVE, 9, "the annotations of the block at from move to the block at to")                     \
    X(API_ERROR, 10, "a C API call the capture refused (enum ms_api_error) and its argument")      \
    X(TASK_CPU, 11, "thread tid, running task as the process finished, had used cpu_ns of CPU")    \
    X(FREE_CALLER, 12, "the thread's next frees come from the module of the stack (or of ip)")     \
    X(BACKEND, 13, "the capture backend in use from now on (enum ms_backend), and why")            \
    X(CALL_COUNTS, 14, "sampling: allocations (and their bytes) made from the call site at ip")    \
    X(SAMPLE_FREES, 15, "sampling: frees of blocks not sampled, and realloc calls of any block")   \
    X(LEAK_CHECK, 16, "an on-demand leak scan: the snapshot made for it (or why none was)")        \
    X(SYNC, 17, "this thread's events before this one are written: stopped for check's snapshot")  \
    X(FREE_FAULT, 18,                                                                              \
      "the program died of signal inside free (or realloc) of ptr, called from stack")             \
    X(CHECK, 19, "--check is on: red zones of redzone bytes, a quarantine of quarantine bytes")    \
    X(HEAP_ERROR, 20, "--check found the block at ptr damaged, or refused a realloc of ptr")       \
    X(ALLOCATOR_STATS, 21, "glibc's own figures (mallinfo2), sampled at memscope run's clock")

/* The most fields a sub-record may have. */
#define MS_EXT_FIELDS_MAX 8

#define MS_XFIELDS_VARIABLE(F)                                                                     \
    F(U, ptr) F(U, name) F(U, type) F(U, type_size) F(U, file) F(U, line) F(U, func)
#define MS_XFIELDS_SCOPE_BEGIN(F) F(U, scope) F(U, name) F(U, file) F(U, line)
#define MS_XFIELDS_SCOPE_END(F) F(U, scope)
#define MS_XFIELDS_TASK_BEGIN(F) F(U, task) F(U, parent) F(U, name)
#define MS_XFIELDS_TASK_END(F) F(U, task)
#define MS_XFIELDS_REF_ACQUIRE(F) F(U, obj) F(U, holder)
#define MS_XFIELDS_REF_RELEASE(F) F(U, obj) F(U, holder)
#define MS_XFIELDS_PASSPORT(F) F(U, ptr) F(U, action) F(U, module) F(U, note)
#define MS_XFIELDS_MOVE(F) F(U, from) F(U, to)
#define MS_XFIELDS_API_ERROR(F) F(U, what) F(U, arg)
#define MS_XFIELDS_TASK_CPU(F) F(U, tid) F(U, task) F(U, cpu_ns)
/* every: 1 when every free of the thread after it has that stack, up to its next FREE_CALLER */
#define MS_XFIELDS_FREE_CALLER(F) F(U, stack) F(U, ip) F(U, every)
#define MS_XFIELDS_BACKEND(F) F(U, backend) F(U, reason)
#define MS_XFIELDS_CALL_COUNTS(F) F(U, ip) F(U, allocs) F(U, bytes)
#define MS_XFIELDS_SAMPLE_FREES(F) F(U, frees) F(U, reallocs)
/* seq: the process's checks, from 1; cause: enum ms_check_cause; handshake and pid: the
 * snapshot's, as END's scan and scan_pid (0: none); skipped: enum ms_check_skip; threads: the
 * process's threads then (0: not counted) */
#define MS_XFIELDS_LEAK_CHECK(F)                                                                   \
    F(U, seq) F(U, cause) F(U, handshake) F(U, pid) F(U, skipped) F(U, threads)
/* check: the seq of the LEAK_CHECK whose snapshot was made with this thread stopped */
#define MS_XFIELDS_SYNC(F) F(U, check)
/* realloc: 1 for a realloc-like call (whose REALLOC record, written after the call, is missing),
 * 0 for a free or delete (its FREE record came just before) */
#define MS_XFIELDS_FREE_FAULT(F) F(U, ptr) F(U, realloc) F(U, signal) F(U, stack)
/* redzone: the bytes of the red zone before a block (the one after is as many, plus the bytes up
 * to the next multiple of 16); quarantine: the most bytes of freed blocks held back, red zones
 * included */
#define MS_XFIELDS_CHECK(F) F(U, redzone) F(U, quarantine)
/* error: enum ms_heap_error; size: the block's; offset: the first damaged byte's from the block's
 * start, as a two's complement 64-bit number (negative: before it); found: enum ms_heap_found;
 * stack: where it was found (0: at exit or when the block left the quarantine) */
#define MS_XFIELDS_HEAP_ERROR(F)                                                                   \
    F(U, error) F(U, ptr) F(U, size) F(U, offset) F(U, found) F(U, stack)
/* mallinfo2's arena (bytes of the arenas' memory from sbrk and mmap), hblkhd (mmapped blocks),
 * uordblks (in use in the arenas, chunk headers and the blocks in the threads' caches
 * included), fordblks (free in the arenas, the top chunk included), keepcost (the top chunk) */
#define MS_XFIELDS_ALLOCATOR_STATS(F) F(U, arena) F(U, mmapped) F(U, in_use) F(U, free) F(U, top)

#endif
