/*
 * getattr_first.c - threads whose first allocation happens inside pthread_getattr_np (glibc
 * allocates its cpuset buffer there while holding the thread's own lock), as every JVM thread
 * does at start. memscope looks up a new thread's stack bounds with pthread_getattr_np too: it
 * must not do so from inside that call (the lock is not recursive: the thread would hang).
 *
 * Pattern:
 *   - 4 threads; each first calls pthread_getattr_np on itself, then leaks one malloc(77)
 *     from worker()                                                  (LEAK: getattr77)
 *   - main joins them and prints one line through write(2)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *arg)
{
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return NULL;
    size_t size = 0;
    void *addr = NULL;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    void *p = malloc(77); /* LEAK: getattr77 */
    *(void **)arg = p;
    return size ? p : NULL;
}

int main(void)
{
    pthread_t t[4];
    void *kept[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, worker, &kept[i]) != 0)
            return 1;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ssize_t r = write(1, "joined\n", 7);
    (void)r;
    return 0;
}
