/* Two shared libraries passing buffers, and the passports memscope gives them. libexample_codec
 * allocates the buffers (it owns them) and frees them in codec_release; libexample_sink takes
 * buffers into its custody in sink_take, saying so with ms_passport_handover, and frees them in
 * sink_flush. The program uses both:
 *   - "owner":   encoded and released by the codec: freed_by_owner, nothing to report;
 *   - "foreign": encoded by the codec, freed by main with free(): freed_by_foreign, the finding
 *                (a library's buffer released behind its back, by another module);
 *   - "custody": handed to the sink, which frees it: freed_by_custodian;
 *   - "kept":    handed to the sink after its last flush: in_foreign_custody at exit, a leak
 *                across the boundary;
 *   - "loaned":  handed over, reclaimed and released by the codec: reclaimed.
 * The same file builds the two libraries (-DEXAMPLE_CODEC, -DEXAMPLE_SINK) and the program.
 *   memscope run -- build/bin/example-passports */
/* library: example_codec -DEXAMPLE_CODEC */
/* library: example_sink -DEXAMPLE_SINK */
#include <memscope.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *codec_encode(const char *text);
void codec_release(char *buf);
void sink_take(char *buf);
void sink_flush(void);

#if defined(EXAMPLE_CODEC)

char *codec_encode(const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 3);
    if (!buf)
        abort();
    buf[0] = '<';
    memcpy(buf + 1, text, n);
    buf[n + 1] = '>';
    buf[n + 2] = 0;
    return buf;
}

void codec_release(char *buf)
{
    free(buf);
}

#elif defined(EXAMPLE_SINK)

static char *queue[16];
static int queued;

void sink_take(char *buf)
{
    ms_passport_handover(buf, "libexample_sink.so", __func__);
    queue[queued++] = buf;
}

void sink_flush(void)
{
    while (queued > 0) {
        char *buf = queue[--queued];
        printf("sink: %s\n", buf);
        free(buf);
    }
}

#else

int main(void)
{
    char *owner = codec_encode("owner");
    printf("%s\n", owner);
    codec_release(owner);

    char *foreign = codec_encode("foreign");
    printf("%s\n", foreign);
    free(foreign); /* the codec's buffer, freed here */

    sink_take(codec_encode("custody"));
    sink_flush();
    sink_take(codec_encode("kept")); /* never flushed */

    char *loaned = codec_encode("loaned");
    ms_passport_handover(loaned, "libexample_sink.so", "main");
    ms_passport_reclaim(loaned);
    ms_passport_stamp(loaned, "back home");
    codec_release(loaned);
    return 0;
}

#endif

/* expect: passports.0.status=freed_by_foreign */
/* expect: passports.0.owner$=/libexample_codec.so */
/* expect: passports.0.freed_by=process.exe */
/* expect: passports.0.size=10 */
/* expect: passports.0.free_stack.0.function=main */
/* expect: passports.1.status=freed_by_custodian */
/* expect: passports.1.custodian=libexample_sink.so */
/* expect: passports.1.freed_by$=/libexample_sink.so */
/* expect: passports.1.stamps.0.action=handover */
/* expect: passports.1.stamps.0.note=sink_take */
/* expect: passports.2.status=in_foreign_custody */
/* expect: passports.2.owner$=/libexample_codec.so */
/* expect: passports.2.freed_by=null */
/* expect: passports.3.status=reclaimed */
/* expect: passports.3.stamps.2.note=back home */
/* expect: passports.3.freed_by$=/libexample_codec.so */
/* expect: passport_statuses.in_foreign_custody.bytes=7 */
/* expect: passport_statuses.freed_by_foreign.blocks=1 */
/* expect: api_errors.not_handed_over=0 */
