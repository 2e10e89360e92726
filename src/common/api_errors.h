/* The C API's bad calls, which never crash the program: the capture refuses the ones it can tell
 * (an API_ERROR annotation of the record table, and one line on stderr per kind), the reader
 * counts those and the ones only the replay can tell (a pointer in no live block). The report
 * gives each kind's count and message. MS_API_ERRORS(X) calls X(NAME, code, key, message). */
#ifndef MS_API_ERRORS_H
#define MS_API_ERRORS_H

#include <stddef.h>

#define MS_API_ERRORS(X)                                                                           \
    X(NULL_POINTER, 1, "null_pointer", "a C API call was given a NULL pointer")                    \
    X(UNKNOWN_TASK, 2, "unknown_task", "a task id that ms_task_begin never returned")              \
    X(TASK_ENDED, 3, "task_ended",                                                                 \
      "a task that had already ended (ended twice, or switched to after its end)")                 \
    X(STRINGS_FULL, 4, "strings_full",                                                             \
      "more distinct names than the string table holds (65,536): later ones are left out")         \
    X(UNKNOWN_POINTER, 5, "unknown_pointer", "a pointer in no block live at the time")             \
    X(SCOPE_NOT_OPEN, 6, "scope_not_open", "a scope ended that was not open on its thread")        \
    X(REF_NOT_HELD, 7, "ref_not_held", "a reference released that its holder did not hold")        \
    X(SCOPE_TOO_DEEP, 8, "scope_too_deep",                                                         \
      "more than 64 scopes open at once on a thread: the deeper ones are not counted")             \
    X(BAD_ARGUMENT, 9, "bad_argument",                                                             \
      "a C API call was given an argument it cannot take (a hand-over to no module, no backend)")  \
    X(NOT_HANDED_OVER, 10, "not_handed_over",                                                      \
      "ms_passport_reclaim of a block that was not handed over")

enum ms_api_error {
#define MS__API_ERROR_ENUM(NAME, code, key, message) MS_API_##NAME = code,
    MS_API_ERRORS(MS__API_ERROR_ENUM)
#undef MS__API_ERROR_ENUM
        MS_API_ERROR_MAX
};

/* The kind's key in the JSON report's api_errors (NULL for a code that is no kind). */
static inline const char *ms_api_error_key(int what)
{
#define MS__API_ERROR_KEY(NAME, code, key, message) [code] = key,
    static const char *const keys[MS_API_ERROR_MAX] = {MS_API_ERRORS(MS__API_ERROR_KEY)};
#undef MS__API_ERROR_KEY
    return what > 0 && what < MS_API_ERROR_MAX ? keys[what] : NULL;
}

/* What the kind means, for stderr and the report's notes. */
static inline const char *ms_api_error_message(int what)
{
#define MS__API_ERROR_MESSAGE(NAME, code, key, message) [code] = message,
    static const char *const messages[MS_API_ERROR_MAX] = {MS_API_ERRORS(MS__API_ERROR_MESSAGE)};
#undef MS__API_ERROR_MESSAGE
    return what > 0 && what < MS_API_ERROR_MAX ? messages[what] : NULL;
}

#endif
