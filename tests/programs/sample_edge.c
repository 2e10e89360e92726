/* Ends and forks that sampling's counts must survive (tests/integration/sampling.py):
 *   doublefree: 1,000 malloc(100)/free pairs, 10 malloc(1000) kept, then a block freed twice:
 *               glibc aborts inside free, while memscope's hook is running
 *               (1,011 allocations, 1,002 frees)
 *   sigexit:    malloc(100)/free pairs until a SIGALRM handler calls exit(0), most likely
 *               interrupting an allocator call (allocations = frees, give or take the one
 *               interrupted)
 *   forkthread: a thread makes 5,000 malloc(100)/free pairs and waits; the main thread forks;
 *               the child makes 77 malloc(10)/free pairs and _exits; then the thread makes
 *               3,000 malloc(200)/free pairs: the child's history holds the thread's 5,000,
 *               none of its 3,000
 *   sigfork:    malloc(100)/free pairs until a SIGALRM handler, most likely interrupting an
 *               allocator call, forks a child that _exits at once (the child's history is the
 *               parent's until then: the same counts, give or take the interrupted call)
 *   sigforkrun: the same, but the child returns from the handler and both processes make 20,000
 *               more malloc(100)/free pairs: the child must not write into its parent's buffers
 *               (both traces whole)
 *   small N:    N malloc(1) kept (N given after the mode) */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t forked, resume;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5000; i++) {
        void *volatile p = malloc(100);
        free(p);
    }
    pthread_barrier_wait(&forked);
    pthread_barrier_wait(&resume);
    for (int i = 0; i < 3000; i++) {
        void *volatile p = malloc(200);
        free(p);
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    exit(0);
}

static volatile sig_atomic_t forked_once, in_child;
static volatile pid_t forked_pid;

static void on_alarm_fork(int sig)
{
    (void)sig;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    forked_once = 1;
}

static void on_alarm_fork_run(int sig)
{
    (void)sig;
    pid_t pid = fork();
    if (pid == 0)
        in_child = 1;
    else
        forked_pid = pid;
    forked_once = 1;
}

/* SIGALRM, handled by handler, in 50 ms. */
static void alarm_in_50ms(void (*handler)(int))
{
    signal(SIGALRM, handler);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "doublefree")) {
        for (int i = 0; i < 1000; i++) {
            void *volatile p = malloc(100);
            free(p);
        }
        for (int i = 0; i < 10; i++) {
            void *volatile p = malloc(1000); /* LEAK: kept */
            (void)p;
        }
        char *volatile q = malloc(64);
        free(q);
        free(q);
    } else if (!strcmp(mode, "sigexit")) {
        alarm_in_50ms(on_alarm);
        for (;;) {
            void *volatile p = malloc(100);
            free(p);
        }
    } else if (!strcmp(mode, "sigfork")) {
        alarm_in_50ms(on_alarm_fork);
        while (!forked_once) {
            void *volatile p = malloc(100);
            free(p);
        }
    } else if (!strcmp(mode, "sigforkrun")) {
        alarm_in_50ms(on_alarm_fork_run);
        while (!forked_once) {
            void *volatile p = malloc(100);
            free(p);
        }
        for (int i = 0; i < 20000; i++) {
            void *volatile p = malloc(100);
            free(p);
        }
        if (in_child)
            _exit(0);
        waitpid(forked_pid, NULL, 0);
    } else if (!strcmp(mode, "forkthread")) {
        pthread_barrier_init(&forked, NULL, 2);
        pthread_barrier_init(&resume, NULL, 2);
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
        pthread_barrier_wait(&forked);
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 77; i++) {
                void *volatile p = malloc(10);
                free(p);
            }
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        pthread_barrier_wait(&resume);
        pthread_join(t, NULL);
    } else if (!strcmp(mode, "small")) {
        int n = argc > 2 ? atoi(argv[2]) : 0;
        for (int i = 0; i < n; i++) {
            void *volatile p = malloc(1); /* LEAK: kept */
            (void)p;
        }
    }
    return 0;
}
