/*
 * dlopen_local.c - loads the plugin named by argv[1] (local_tc_plugin, linked with tcmalloc)
 * with RTLD_LOCAL, runs it, keeps what it returns and says whether the plugin's tc_malloc reached
 * tcmalloc. See local_tc_plugin.c for the pattern. With argv[2] "free_by_glibc" the block kept
 * is then released by glibc's free, which its tcmalloc block is not for: glibc aborts the
 * program ("free(): invalid pointer") and memscope reports a mismatched free first.
 * Output goes through write(2), so stdio allocates nothing.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept;

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 3;
    void *(*run)(void) = (void *(*)(void))dlsym(h, "plugin_run");
    if (!run)
        return 4;
    int (*check)(void) = (int (*)(void))dlsym(h, "plugin_check");
    if (!check)
        return 4;
    kept = run();
    const char *msg = !kept ? "no block\n" : check() ? "ran, tcmalloc ok\n" : "ran, not tcmalloc\n";
    ssize_t r = write(1, msg, strlen(msg));
    (void)r;
    if (argc > 2 && !strcmp(argv[2], "free_by_glibc"))
        free(kept);
    return 0;
}
