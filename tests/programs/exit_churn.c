/*
 * exit_churn.c - exit() while many other threads go on allocating as fast as they can, one of
 * them loading and unloading a library (the module list changes), and a thread that keeps
 * starting new ones. Under memscope the exit must be as quick as natively: the threads' hooks
 * must not keep the exiting thread from the last flush of their buffers (it once waited for
 * ever for a hundred threads churning on two cores). Exit status 5.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *arg)
{
    void *keep[64] = {0};
    for (unsigned long i = 0;; i++) {
        unsigned k = i % 64;
        free(keep[k]);
        keep[k] = malloc(16 + (i * 7) % 500);
        if ((long)arg == 3 && i % 5000 == 0) {
            void *h = dlopen("libm.so.6", RTLD_NOW);
            if (h)
                dlclose(h);
        }
    }
    return NULL;
}

static void *spawner(void *arg)
{
    for (;;) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)7) == 0)
            pthread_detach(t);
        usleep(2000);
    }
    return arg;
}

int main(void)
{
    pthread_t t;
    for (long i = 0; i < 4; i++)
        pthread_create(&t, NULL, worker, (void *)i);
    pthread_create(&t, NULL, spawner, NULL);
    usleep(50000);
    printf("exit_churn: exiting\n");
    fflush(stdout);
    exit(5);
}
