/* Named blocks: a tiny line reader keeps its buffers under names, so that the report says
 * "line_buf" and "struct config" instead of only a stack. The config is leaked on purpose.
 *   memscope run -- build/bin/example-variables && memscope report memscope.*.mstrace */
#include <memscope.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config {
    char name[32];
    int lines;
    int longest;
};

static const char *const text[] = {"alpha", "a much longer line than the first one", "b", ""};

int main(void)
{
    struct config *cfg = calloc(1, sizeof *cfg);
    MS_TRACK_AS(cfg, struct config);
    size_t cap = 8;
    char *line_buf = malloc(cap);
    MS_TRACK(line_buf);
    for (int i = 0; text[i][0]; i++) {
        size_t n = strlen(text[i]) + 1;
        while (n > cap) {
            cap *= 2;
            line_buf = realloc(line_buf, cap); /* the name follows the block */
        }
        memcpy(line_buf, text[i], n);
        cfg->lines++;
        if ((int)n - 1 > cfg->longest)
            cfg->longest = (int)n - 1;
    }
    strcpy(cfg->name, "example");
    printf("%s: %d lines, longest %d\n", cfg->name, cfg->lines, cfg->longest);
    free(line_buf);
    return 0; /* cfg leaks: the leak report names it */
}
/* expect: variables.0.name=cfg */
/* expect: variables.0.type=struct config */
/* expect: variables.0.freed=false */
/* expect: variables.1.name=line_buf */
/* expect: variables.1.size=64 */
/* expect: variables.1.freed=true */
/* expect: leaks.0.variable=cfg */
/* expect: summary.leaked_bytes=40 */
