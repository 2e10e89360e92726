/* A small event loop serving three connections, each a task: the loop resumes a connection's
 * task with ms_task_switch whenever it has input, so each connection is charged with exactly
 * the memory its own requests allocated, although all run on one thread, interleaved. Parsing
 * a request is a child task of its connection.
 *   memscope run -- build/bin/example-event-loop */
#include <memscope.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct connection {
    ms_task_id task;
    char *pending; /* the request being built, grown as input comes */
    size_t len;
    int requests;
};

static void on_input(struct connection *c, const char *data)
{
    size_t n = strlen(data);
    c->pending = realloc(c->pending, c->len + n + 1);
    memcpy(c->pending + c->len, data, n + 1);
    c->len += n;
    if (c->pending[c->len - 1] == '\n') { /* a whole request: parse it */
        MS_TASK_SCOPE("parse");
        char *copy = malloc(c->len + 1);
        memcpy(copy, c->pending, c->len + 1);
        free(copy);
        free(c->pending);
        c->pending = NULL;
        c->len = 0;
        c->requests++;
    }
}

int main(void)
{
    struct connection conns[3] = {{0}};
    static const char *const names[] = {"conn 0", "conn 1", "conn 2"};
    for (int i = 0; i < 3; i++) {
        conns[i].task = ms_task_begin(names[i]);
        ms_task_switch(0); /* the loop itself runs outside any task */
    }
    /* (connection, input) as they arrive */
    static const struct {
        int conn;
        const char *data;
    } events[] = {{0, "GET /"},   {1, "POST /x"}, {0, "index\n"}, {2, "GET /a\n"},
                  {1, " body\n"}, {0, "GET /b"},  {2, "GET /c\n"}};
    for (size_t e = 0; e < sizeof events / sizeof *events; e++) {
        struct connection *c = &conns[events[e].conn];
        ms_task_switch(c->task);
        on_input(c, events[e].data);
        ms_task_switch(0);
    }
    for (int i = 0; i < 3; i++) {
        printf("%s: %d requests\n", names[i], conns[i].requests);
        free(conns[i].pending); /* conn 0 still has "GET /b" pending */
        ms_task_switch(conns[i].task);
        ms_task_end(conns[i].task);
    }
    return 0;
}
/* expect: tasks.0.name=conn 0 */
/* expect: tasks.0.allocs=3 */
/* expect: tasks.0.bytes_allocated=25 */
/* expect: tasks.0.live_bytes=0 */
/* expect: tasks.1.allocs=2 */
/* expect: tasks.2.allocs=2 */
/* expect: tasks.3.name=parse */
/* expect: tasks.3.parent=1 */
/* expect: tasks.0.children.0=4 */
