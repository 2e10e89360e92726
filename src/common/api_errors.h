/* The C API's bad calls, which never crash the program: the capture refuses the ones it can tell
 * (an API_ERROR annotation of the record table, and one line on stderr per kind), the reader
 * counts those and the ones only the replay can tell (a pointer in no live block). The report
 * gives each kind's count and message. MS_API_ERRORS(X) calls X(NAME, code, message). */
#ifndef MS_API_ERRORS_H
#define MS_API_ERRORS_H

#define MS_API_ERRORS(X)                                                                           \
    X(NULL_POINTER, 1, "a C API call was given a NULL pointer")                                    \
    X(UNKNOWN_TASK, 2, "a task id that ms_task_begin never returned")                              \
    X(TASK_ENDED, 3, "a task that had already ended (ended twice, or switched to after its end)")  \
    X(STRINGS_FULL, 4,                                                                             \
      "more distinct names than the string table holds (65,536): later ones "                      \
      "are left out")                                                                              \
    X(UNKNOWN_POINTER, 5, "a pointer in no block live at the time")                                \
    X(SCOPE_NOT_OPEN, 6, "a scope ended that was not open on its thread")                          \
    X(REF_NOT_HELD, 7, "a reference released that its holder did not hold")                        \
    X(SCOPE_TOO_DEEP, 8,                                                                           \
      "more than 64 scopes open at once on a thread: the deeper ones are not "                     \
      "counted")

enum ms_api_error {
#define MS__API_ERROR_ENUM(NAME, code, message) MS_API_##NAME = code,
    MS_API_ERRORS(MS__API_ERROR_ENUM)
#undef MS__API_ERROR_ENUM
        MS_API_ERROR_MAX
};

#endif
