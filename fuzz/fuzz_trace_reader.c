/* libFuzzer target for the trace reader: the input is read as a whole trace file (through a
 * memfd) and replayed into a heap model, then decoded again as one raw EVENTS payload and as one
 * LEAK_SCAN payload. */
#define _GNU_SOURCE
#include "analysis/analysis_passes.h"
#include "analysis/heap_model.h"
#include "analysis/trace_reader.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size == 0 || write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ms_trace *t;
        char err[512];
        if (ms_trace_open(path, &t, err, sizeof err) == 0) {
            struct ms_stack_table stacks = {0};
            struct ms_heap_model *m = ms_heap_model_new();
            if (m)
                (void)ms_analysis_passes_add(m, t); /* the analyses read the trace too */
            if (m) {
                ms_trace_replay(t, NULL, 0, &stacks, ms_heap_model_apply, m);
                ms_heap_model_finish(m);
                ms_heap_model_free(m);
            }
            ms_stack_table_free(&stacks);
            ms_trace_close(t);
        }
    }
    close(fd);

    /* The same bytes as one chunk's raw payload, without the file and chunk framing. */
    struct ms_stack_table stacks = {0};
    struct ms_heap_model *m = ms_heap_model_new();
    if (m) {
        ms_trace_decode_events(data, size, 1, &stacks, ms_heap_model_apply, m);
        ms_heap_model_finish(m);
        ms_heap_model_free(m);
    }
    ms_stack_table_free(&stacks);

    /* And as a LEAK_SCAN payload (its graph after the blocks, docs/trace-format.md 7a). */
    struct ms_leak_scan_info scan;
    if (ms_leak_scan_decode(data, size, &scan) == 0)
        ms_leak_scan_info_free(&scan);
    return 0;
}
