/* The out-of-line part of the event path (event_path.h). */
#include "event_path.h"

/* An event of one unsigned field, with its encoder. */
static void on_u64(uint8_t *(*put)(struct ms_rec_base *, uint8_t *, uint8_t *, uint64_t),
                   uint64_t v)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (!s)
        return;
    uint8_t *kb;
    uint8_t *p = ms__rec_begin(&s->b, &kb);
    ms__rec_end(&s->b, put(&s->b.base, kb, p, v));
    ms__slot_release(s);
}

void ms__on_thread_created(uint64_t thread)
{
    on_u64(ms_rec_put_THREAD_CREATE, thread);
}

void ms__on_forked(uint64_t pid)
{
    on_u64(ms_rec_put_FORK, pid);
}

void ms__on_exit_freeing(struct ms__tls *t)
{
    struct ms__slot *s = ms__slot_get(t);
    if (!s)
        return;
    uint8_t *kb;
    uint8_t *p = ms__rec_begin(&s->b, &kb);
    ms__rec_end(&s->b, ms_rec_put_FREERES(&s->b.base, kb, p));
    ms__slot_release(s);
}

#define MS__ON_ANNOTATION(NAME, code, summary)                                                     \
    void ms__on_##NAME(MS__DROP1(MS_XFIELDS_##NAME(MS__PARAM)))                                    \
    {                                                                                              \
        struct ms__slot *s = ms__slot_get(&ms__tls);                                               \
        if (!s)                                                                                    \
            return;                                                                                \
        uint8_t *kb;                                                                               \
        uint8_t *p = ms__rec_begin(&s->b, &kb);                                                    \
        ms__rec_end(&s->b, ms_ext_put_##NAME(kb, p MS_XFIELDS_##NAME(MS__ARG)));                   \
        ms__slot_release(s);                                                                       \
    }
MS_EXT_RECORDS(MS__ON_ANNOTATION)
#undef MS__ON_ANNOTATION
