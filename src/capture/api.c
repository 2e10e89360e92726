/* The C API (include/memscope.h): the table of functions libmemscope.so exports as
 * memscope_api_v1, which the header's calls look up. Each call checks its arguments, interns its
 * strings and reports on the event path; a bad call is refused, recorded (API_ERROR) and said
 * once per kind on stderr. Calls made while memscope is not recording, or from inside one of its
 * hooks (a signal handler that interrupted it), do nothing. */
#define _GNU_SOURCE
#include "hooks_common.h"

#include "../common/api_errors.h"
#include "../common/trace_format.h"
#include "backend.h"
#include "diag.h"
#include "leak_check.h"
#include "string_table.h"
#include "task_registry.h"

#include <memscope.h>
#include <string.h>

/* Whether the call is recorded: memscope records, and the call does not come from inside one of
 * its hooks (a signal handler that interrupted it), which is counted as a dropped event. */
static bool enter(void)
{
    if (ms__tls.busy) {
        if (atomic_load_explicit(&ms__active, memory_order_relaxed))
            ms__slots_drop();
        return false;
    }
    if (passthrough())
        return false;
    ms__tls.busy = 1;
    return true;
}

/* A refused call: recorded, and said on stderr the first time for its kind. */
static void refuse(enum ms_api_error what, uint64_t arg, const char *call)
{
    static atomic_bool said[MS_API_ERROR_MAX];
    ms__on_API_ERROR((uint64_t)what, arg);
    if (!atomic_exchange(&said[what], true))
        ms__say(call, ": ", ms_api_error_message(what));
}

/* The string's id, noting once that the table is full. */
static uint64_t string_id(const char *text, const char *call)
{
    uint64_t id = ms__string_id(text);
    if (!id && text && *text && ms__strings_full())
        refuse(MS_API_STRINGS_FULL, 0, call);
    return id;
}

static void api_track(uintptr_t ptr, const char *name, const char *type, size_t type_size,
                      const char *file, int line, const char *func)
{
    if (!enter())
        return;
    if (!ptr) {
        refuse(MS_API_NULL_POINTER, 0, "ms_track");
    } else {
        uint64_t n = string_id(name, "ms_track"), t = string_id(type, "ms_track");
        uint64_t f = string_id(file, "ms_track"), fn = string_id(func, "ms_track");
        ms__on_VARIABLE(ptr, n, t, type_size, f, line > 0 ? (uint64_t)line : 0, fn);
    }
    ms__unbusy();
}

static void api_move(uintptr_t from, uintptr_t to)
{
    if (!enter())
        return;
    if (!from || !to)
        refuse(MS_API_NULL_POINTER, 0, "ms_move");
    else
        ms__on_MOVE(from, to);
    ms__unbusy();
}

static _Atomic uint64_t last_scope;

static uint64_t api_scope_begin(const char *name, const char *file, int line)
{
    if (!enter())
        return 0;
    uint64_t scope = atomic_fetch_add_explicit(&last_scope, 1, memory_order_relaxed) + 1;
    uint64_t n = string_id(name, "ms_scope_begin"), f = string_id(file, "ms_scope_begin");
    ms__on_SCOPE_BEGIN(scope, n, f, line > 0 ? (uint64_t)line : 0);
    ms__unbusy();
    return scope;
}

static void api_scope_end(uint64_t scope)
{
    if (!enter())
        return;
    ms__on_SCOPE_END(scope); /* the replay tells whether it was open on this thread */
    ms__unbusy();
}

static ms_task_id api_task_begin(const char *name)
{
    if (!enter())
        return 0;
    uint64_t parent = ms__task_current();
    uint64_t task = ms__task_new(parent);
    ms__backend_task_began();
    ms__on_TASK_BEGIN(task, parent, string_id(name, "ms_task_begin"));
    ms__on_task_current(task);
    ms__unbusy();
    return task;
}

/* Refuses a task id that is not open; returns whether it is. */
static bool task_open(ms_task_id task, const char *call)
{
    enum ms__task_state st = ms__task_state(task);
    if (st == MS__TASK_OPEN)
        return true;
    refuse(st == MS__TASK_ENDED ? MS_API_TASK_ENDED : MS_API_UNKNOWN_TASK, task, call);
    return false;
}

static void api_task_end(ms_task_id task)
{
    if (!enter())
        return;
    uint64_t parent;
    if (task_open(task, "ms_task_end")) {
        if (ms__task_end(task, &parent)) {
            ms__on_TASK_END(task);
            /* Only this thread's current task gives way, to its nearest ancestor still open
             * (a task ended out of order, or on another thread, leaves the current one be). */
            if (ms__task_current() == task)
                ms__on_task_current(ms__task_open_ancestor(task));
        } else {
            refuse(MS_API_TASK_ENDED, task, "ms_task_end"); /* another thread ended it first */
        }
    }
    ms__unbusy();
}

static void api_task_switch(ms_task_id task)
{
    if (!enter())
        return;
    if (task == 0 || task_open(task, "ms_task_switch"))
        ms__on_task_current(task);
    ms__unbusy();
}

static ms_task_id api_task_current(void)
{
    if (!enter())
        return 0;
    uint64_t task = ms__task_current();
    ms__unbusy();
    return task;
}

/* A reference taken or dropped: whether it was held is the replay's to tell. */
static void api_ref(bool acquire, uintptr_t obj, uintptr_t holder)
{
    if (!enter())
        return;
    if (!obj)
        refuse(MS_API_NULL_POINTER, 0, acquire ? "ms_ref_acquire" : "ms_ref_release");
    else if (acquire)
        ms__on_REF_ACQUIRE(obj, holder);
    else
        ms__on_REF_RELEASE(obj, holder);
    ms__unbusy();
}

static void api_ref_acquire(uintptr_t obj, uintptr_t holder)
{
    api_ref(true, obj, holder);
}

static void api_ref_release(uintptr_t obj, uintptr_t holder)
{
    api_ref(false, obj, holder);
}

/* A passport stamp (action: enum ms_passport_action, common/trace_format.h). */
static void api_passport(uintptr_t ptr, int action, const char *module, const char *note)
{
    static const char *const calls[] = {"ms_passport", "ms_passport_handover",
                                        "ms_passport_reclaim", "ms_passport_stamp"};
    if (!enter())
        return;
    bool known = action >= MS_PASSPORT_HANDOVER && action <= MS_PASSPORT_NOTE;
    const char *call = calls[known ? action : 0];
    if (!ptr) {
        refuse(MS_API_NULL_POINTER, 0, call);
    } else if (!known || (action == MS_PASSPORT_HANDOVER && (!module || !*module))) {
        refuse(MS_API_BAD_ARGUMENT, (uint64_t)action, call);
    } else {
        uint64_t m = string_id(module, call), n = string_id(note, call);
        ms__on_PASSPORT(ptr, (uint64_t)action, m, n);
    }
    ms__unbusy();
}

static int api_init(const char *backend)
{
    if (!enter())
        return -1;
    bool ok = ms__backend_init(backend);
    if (!ok)
        refuse(MS_API_BAD_ARGUMENT, 0, "ms_init");
    ms__unbusy();
    return ok ? 0 : -1;
}

static int api_stats(struct ms_stats *s, size_t size)
{
    if (!s)
        return -1;
    if (!enter()) {
        memset(s, 0, size);
        s->backend = "none";
        return -1;
    }
    int rc = ms__backend_stats(s, size);
    ms__unbusy();
    return rc;
}

static void api_leaks_print(FILE *out)
{
    if (!enter())
        return;
    ms__backend_leaks_print(out);
    ms__unbusy();
}

static int api_leak_check(void)
{
    if (!enter())
        return -1;
    int rc = ms__leak_check(MS_CHECK_API);
    ms__unbusy();
    return rc;
}

EXPORT const struct ms_api_v1 memscope_api_v1 = {
    .version = 1,
    .size = sizeof(struct ms_api_v1),
    .track = api_track,
    .move = api_move,
    .scope_begin = api_scope_begin,
    .scope_end = api_scope_end,
    .task_begin = api_task_begin,
    .task_end = api_task_end,
    .task_switch = api_task_switch,
    .task_current = api_task_current,
    .ref_acquire = api_ref_acquire,
    .ref_release = api_ref_release,
    .passport = api_passport,
    .init = api_init,
    .stats = api_stats,
    .leaks_print = api_leaks_print,
    .leak_check = api_leak_check,
};
