/* Error codes shared by every layer: functions return 0 or a negative MS_E* code, and this list
 * is the single source for the enum, ms_strerror() and ms_err_name(). */
#ifndef MS_ERRORS_H
#define MS_ERRORS_H

#define MS_ERRNO_MAP(X)                                                                            \
    X(EIO, "input/output error")                                                                   \
    X(ENOMEM, "out of memory")                                                                     \
    X(EINVAL, "invalid argument")                                                                  \
    X(ENOTRACE, "not a memscope trace")                                                            \
    X(EVERSION, "trace format version is newer than this memscope")                                \
    X(ECORRUPT, "trace is corrupt")                                                                \
    X(ETRUNCATED, "trace is truncated")                                                            \
    X(EEXIST, "file already exists")                                                               \
    X(ENOENT, "no such file")                                                                      \
    X(ENOSYM, "no symbol information")

enum {
    MS_OK = 0,
#define MS_ERR_ENUM(name, msg) MS_##name,
    MS__ERR_FIRST = -100,
    MS_ERRNO_MAP(MS_ERR_ENUM)
#undef MS_ERR_ENUM
};

/* A human-readable description of err (a negative MS_E* code, or 0). */
const char *ms_strerror(int err);
/* The symbolic name of err, e.g. "MS_ECORRUPT". */
const char *ms_err_name(int err);

#endif
