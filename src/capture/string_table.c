/* The C API's string table (string_table.h): open addressing on a hash of the text, the texts in
 * an arena, all mapped on first use, behind a spinlock (API calls are rare next to allocations). */
#include "string_table.h"
#include "own_memory.h"

#include "spinlock.h"
#include "thread_state.h"

#include <string.h>
#include <sys/mman.h>

#define SLOTS (1u << 17) /* a table at most half full: 65,536 strings */
#define MAX_STRINGS (SLOTS / 2)
#define ARENA ((size_t)MAX_STRINGS * MS_STRING_MAX) /* texts: reserved, touched as used */

struct entry {
    uint64_t hash;
    uint32_t id; /* 0: empty */
    uint32_t len;
    uint32_t at; /* offset of the text in the arena */
    int written; /* this process wrote its STRING record */
};

static struct entry *table;
static uint32_t *used; /* the table's slots in use, in the order they were filled */
static char *arena;
static size_t arena_used;
static uint32_t count, next_id = 1;
static int full;
static ms__spinlock lock;

static uint64_t hash_of(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h | 1; /* never 0 */
}

static int map_once(void)
{
    if (table)
        return 1;
    size_t tbytes = SLOTS * sizeof *table + MAX_STRINGS * sizeof *used;
    void *t = ms__own_map(NULL, tbytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (t == MAP_FAILED)
        return 0;
    void *a = ms__own_map(NULL, ARENA, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED) {
        ms__own_unmap(t, tbytes);
        return 0;
    }
    table = t;
    used = (uint32_t *)(table + SLOTS);
    arena = a;
    return 1;
}

/* Writes the STRING record into the calling thread's slot, starting a new chunk first when the
 * record would not fit in what is left of the buffer. Returns false when the thread has no
 * slot to write (a signal handler that interrupted memscope). */
static bool put_string(uint32_t id, const char *text, size_t len)
{
    struct ms__slot *s = ms__slot_get(&ms__tls);
    if (!s)
        return false;
    struct ms__buffer *b = &s->b;
    if ((size_t)(b->buf + MS_SLOT_BUFFER - b->pos) < len + 32)
        b->full(b);
    uint8_t *kb;
    uint8_t *p = ms__rec_begin_untimed(b, &kb);
    ms__rec_end(b, ms_rec_put_STRING(&b->base, kb, p, id, text, len));
    ms__slot_release(s);
    return true;
}

uint64_t ms__string_id(const char *text)
{
    if (!text || !*text)
        return 0;
    size_t n = strnlen(text, MS_STRING_MAX + 1);
    if (n > MS_STRING_MAX) {
        n = MS_STRING_MAX;
        while (n > 0 && ((uint8_t)text[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 character */
    }
    uint64_t h = hash_of(text, n);
    if (!ms__spin_lock(&lock))
        return 0; /* a signal handler interrupted this thread's own lookup */
    uint64_t id = 0;
    int write = 0;
    uint32_t at = 0;
    size_t slot = 0;
    if (map_once()) {
        size_t i = h & (SLOTS - 1);
        while (table[i].id && !(table[i].hash == h && table[i].len == n &&
                                memcmp(arena + table[i].at, text, n) == 0))
            i = (i + 1) & (SLOTS - 1);
        struct entry *e = &table[i];
        if (!e->id && count < MAX_STRINGS && arena_used + n <= ARENA) {
            memcpy(arena + arena_used, text, n);
            *e = (struct entry){
                .hash = h, .id = next_id++, .len = (uint32_t)n, .at = (uint32_t)arena_used};
            arena_used += n;
            used[count++] = (uint32_t)i;
        }
        if (e->id) {
            id = e->id;
            write = !e->written;
            e->written = 1; /* claimed: another thread finding it meanwhile does not write it */
            at = e->at;
            slot = i;
        } else {
            full = 1;
        }
    }
    ms__spin_unlock(&lock);
    if (write && !put_string((uint32_t)id, arena + at, n) && ms__spin_lock(&lock)) {
        table[slot].written = 0; /* not written after all: the next use writes it */
        ms__spin_unlock(&lock);
    }
    return id;
}

int ms__strings_full(void)
{
    return __atomic_load_n(&full, __ATOMIC_RELAXED);
}

void ms__strings_after_fork_child(void)
{
    atomic_store(&lock, 0);
    if (!table)
        return;
    for (uint32_t i = 0; i < count; i++)
        table[used[i]].written = 0;
}
