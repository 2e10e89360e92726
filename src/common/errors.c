/* Text for the error codes declared in errors.h. */
#include "errors.h"

const char *ms_strerror(int err)
{
    switch (err) {
    case MS_OK:
        return "success";
#define MS_ERR_STR(name, msg)                                                                      \
    case MS_##name:                                                                                \
        return msg;
        MS_ERRNO_MAP(MS_ERR_STR)
#undef MS_ERR_STR
    }
    return "unknown error";
}

const char *ms_err_name(int err)
{
    switch (err) {
    case MS_OK:
        return "MS_OK";
#define MS_ERR_NAME(name, msg)                                                                     \
    case MS_##name:                                                                                \
        return "MS_" #name;
        MS_ERRNO_MAP(MS_ERR_NAME)
#undef MS_ERR_NAME
    }
    return "MS_E?";
}
