/* Programs that a review of the harmless-capture work found harmed (or whose events were lost)
 * under memscope; tests/integration/review_checks.py compares each with its native run.
 *
 * usage: review_abuse fork_dup2 | vfork_exec N | system_setenv | term_in_flush COUNTER DELAY_US
 *   fork_dup2: raises its descriptor limit and puts its own files on the two descriptors just
 *   above the old soft limit (where memscope keeps its trace and spool), then forks; the child
 *   writes through both.
 *   vfork_exec: N times vfork + exec /bin/true; says whether its memory grew by over 2 MiB.
 *   system_setenv: one thread runs system() 20 times while the main thread adds variables
 *   with setenv and keeps what getenv("LD_PRELOAD") returns for a moment.
 *   term_in_flush: allocates 24-byte blocks without end, counting them in the file COUNTER
 *   (mapped shared, so the count survives), until another thread sends SIGTERM to it after
 *   DELAY_US microseconds.
 *   spoil_trace TRACE: leaks a block, and at exit (an atexit handler, before memscope's leak
 *   snapshot) overwrites the first bytes of the file TRACE, its own trace: unreadable. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int fork_dup2(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int base = (int)rl.rlim_cur;
    if (rl.rlim_max < rl.rlim_cur + 16)
        return 3;
    rl.rlim_cur += 16;
    setrlimit(RLIMIT_NOFILE, &rl);
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "out%d.txt", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, base + i);
        close(fd);
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 2; i++)
            if (write(base + i, "child\n", 6) != 6)
                printf("child: descriptor %d: %s\n", i, strerror(errno));
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    for (int i = 0; i < 2; i++)
        if (write(base + i, "parent\n", 7) != 7)
            printf("parent: descriptor %d: %s\n", i, strerror(errno));
    printf("done\n");
    return 0;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            sscanf(line + 6, "%ld", &kb);
    if (f)
        fclose(f);
    return kb;
}

static int vfork_exec(int n)
{
    long before = rss_kb();
    for (int i = 0; i < n; i++) {
        pid_t p = vfork();
        if (p == 0) {
            char *argv[] = {(char *)"true", NULL};
            execv("/bin/true", argv);
            _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
    }
    long grew = rss_kb() - before;
    printf("memory %s\n", grew > 2048 ? "grew" : "steady");
    if (grew > 2048)
        fprintf(stderr, "grew by %ld kB\n", grew);
    return 0;
}

static volatile int shell_done;

static void *shell(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++)
        if (system("sleep 0.01") != 0)
            printf("system failed\n");
    shell_done = 1;
    return NULL;
}

static int system_setenv(void)
{
    pthread_t t;
    pthread_create(&t, NULL, shell, NULL);
    for (int n = 0; !shell_done; n++) {
        char name[32];
        snprintf(name, sizeof name, "REVIEW_VAR_%d", n);
        setenv(name, "1", 1); /* a new name: glibc copies environ */
        if (n) {
            snprintf(name, sizeof name, "REVIEW_VAR_%d", n - 1);
            unsetenv(name); /* the environment stays small */
        }
        const char *p = getenv("LD_PRELOAD");
        usleep(300);
        if (p && strlen(p) > 100000) /* reads the string after a while */
            printf("long\n");
    }
    pthread_join(t, NULL);
    printf("LD_PRELOAD %s, MEMSCOPE_OUTPUT %s\n", getenv("LD_PRELOAD") ? "set" : "unset",
           getenv("MEMSCOPE_OUTPUT") ? "set" : "unset");
    return 0;
}

static volatile long *counter;
static pthread_t main_thread;

static void *terminator(void *arg)
{
    usleep((useconds_t)(long)arg);
    pthread_kill(main_thread, SIGTERM);
    return NULL;
}

static int term_in_flush(const char *file, long delay)
{
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        return 3;
    counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (counter == MAP_FAILED)
        return 3;
    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, terminator, (void *)delay);
    for (;;) {
        char *volatile p = malloc(24);
        p[0] = 1;
        ++*counter;
    }
}

static const char *spoiled;

static void spoil(void)
{
    int fd = open(spoiled, O_WRONLY);
    if (fd >= 0 && pwrite(fd, "spoiled!", 8, 0) != 8)
        _exit(4);
    if (fd >= 0)
        close(fd);
}

static int spoil_trace(const char *trace)
{
    spoiled = trace;
    atexit(spoil);
    void *volatile kept = malloc(100);
    (void)kept;
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "fork_dup2"))
        return fork_dup2();
    if (!strcmp(mode, "vfork_exec") && argc > 2)
        return vfork_exec(atoi(argv[2]));
    if (!strcmp(mode, "system_setenv"))
        return system_setenv();
    if (!strcmp(mode, "term_in_flush") && argc > 3)
        return term_in_flush(argv[2], atol(argv[3]));
    if (!strcmp(mode, "spoil_trace") && argc > 2)
        return spoil_trace(argv[2]);
    return 2;
}
