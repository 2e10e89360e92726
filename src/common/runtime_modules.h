/* The runtime modules: memscope itself, the C and C++ runtime libraries, the dynamic loader and
 * the allocator libraries. A block's owner (passports, include/memscope.h) is the module of the
 * first frame of its allocation stack outside them, and the module that freed it that of the
 * first frame of the free's stack outside them: fopen's block is its caller's, not libc's.
 * Used by the capture (which must not allocate here) and by the analysis. */
#ifndef MS_RUNTIME_MODULES_H
#define MS_RUNTIME_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Whether the file (a path, or a base name) is a runtime module's: one of these names begins its
 * base name, followed by '.' or '-' (libc.so.6, libstdc++.so.6.0.30, ld-linux-x86-64.so.2,
 * libtcmalloc_minimal.so.4). */
static inline bool ms_module_is_runtime(const char *path)
{
    static const char *const names[] = {
        "libmemscope",
        "libc",
        "libstdc++",
        "libgcc_s",
        "ld-linux",
        "ld",
        "libm",
        "libpthread",
        "libdl",
        "librt",
        "libc++",
        "libc++abi",
        "libunwind",
        "libjemalloc",
        "libtcmalloc",
        "libtcmalloc_minimal",
        "libmimalloc",
        "linux-vdso",
        "libasan",
        "libubsan",
        "vgpreload_core",
        "vgpreload_memcheck",
        "vgpreload_massif",
        "vgpreload_dhat",
    };
    if (!path)
        return false;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t n = strlen(names[i]);
        if (!strncmp(base, names[i], n) && (base[n] == '.' || base[n] == '-'))
            return true;
    }
    return false;
}

#endif
