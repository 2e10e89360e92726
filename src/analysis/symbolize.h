/* Offline symbolization of instruction addresses from a traced process, using the module map
 * recorded in the trace (path, load bias, executable range, build-id) and elfutils' libdwfl to
 * turn addresses into function, file:line and inlined-call chains. */
#ifndef MS_SYMBOLIZE_H
#define MS_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One frame of a symbolized address. An address inside inlined code yields several frames. */
typedef struct ms_frame {
    const char *function; /* demangled name; never NULL: falls back to "module+0xOFF" */
    const char *file;     /* source file path, or NULL when unknown */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* module path as registered, or NULL if the address is in no module */
    uint64_t address;     /* the runtime address looked up */
    bool inlined;         /* true for a frame that was inlined into the next (outer) frame */
} ms_frame;

/* Opaque symbolizer state: the registered modules, the libdwfl session and the result cache.
 * Not thread-safe: use one symbolizer per thread or lock around calls. */
typedef struct ms_symbolizer ms_symbolizer;

/* Creates an empty symbolizer in *out. Returns 0, MS_EINVAL (out is NULL) or MS_ENOMEM. */
int ms_symbolizer_new(ms_symbolizer **out);

/* Frees the symbolizer and every string it ever returned. NULL is allowed. */
void ms_symbolizer_free(ms_symbolizer *s);

/* Registers a module loaded in the traced process: ELF file `path`, load bias (dlpi_addr),
 * the runtime address range [lo, hi) of its executable segments, and its GNU build-id (may be
 * len 0, which skips the check). A file that is missing, unreadable, not a regular file (a FIFO
 * or device is never opened: the path comes from the trace), not ELF, or whose build-id differs
 * from the recorded one is still registered, but its symbols are never used: its addresses
 * come out as "basename+0xOFF" ("... [build-id mismatch]" for a mismatch). A separate debug
 * file is looked for by build-id under /usr/lib/debug and by debug link next to the module,
 * each opened under the same rules and used only if its build-id is the module's.
 * Returns 0, MS_EINVAL (NULL s or path, hi < lo, build_id NULL with a non-zero length) or
 * MS_ENOMEM. */
int ms_symbolizer_add_module(ms_symbolizer *s, const char *path, uint64_t bias, uint64_t lo,
                             uint64_t hi, const uint8_t *build_id, size_t build_id_len);

/* Loads now the debug information of the usable registered modules whose path is `path`
 * (libdw otherwise reads and decompresses it at the first lookup), so that lookups later do not
 * wait for it. Runs in another thread while the symbolizer's owner leaves it alone (the
 * replay); returns the number of modules loaded. */
int ms_symbolizer_preload(ms_symbolizer *s, const char *path);

/* Resolves one runtime address. If is_return_address, looks up address-1 (the call
 * instruction) but reports `address`. Fills up to max frames, innermost inlined frame first and
 * the real (non-inlined) function last (when max is too small, the innermost max frames are
 * returned); returns the number filled (always >= 1 when max >= 1), 0 when max <= 0, or
 * MS_EINVAL / MS_ENOMEM. Strings are owned by the symbolizer and stay valid until
 * ms_symbolizer_free. Never fails because debug info is missing: falls back to symbol+offset
 * from .symtab/.dynsym ("name+0x1a"), then to "basename(module)+0xOFFSET", then "0xADDR".
 * Offsets are relative to `address` (not address-1), and OFFSET is address - bias. Results are
 * cached per (address, is_return_address), so repeated lookups are cheap. */
int ms_symbolize(ms_symbolizer *s, uint64_t address, bool is_return_address, ms_frame *frames,
                 int max);

/* A registered module, for ms_symbolize_in. */
typedef struct ms_symbol_module ms_symbol_module;

/* The module registered with these path, bias and range, or NULL. */
const ms_symbol_module *ms_symbolizer_find(ms_symbolizer *s, const char *path, uint64_t bias,
                                           uint64_t lo, uint64_t hi);

/* ms_symbolize for an address of module (NULL: whichever module holds the address): for a
 * process that unloaded a module and loaded another at the same addresses, the trace says which
 * one an address was in (ms_trace_module_at). Modules registered at overlapping addresses are
 * each symbolized from their own file. */
int ms_symbolize_in(ms_symbolizer *s, const ms_symbol_module *module, uint64_t address,
                    bool is_return_address, ms_frame *frames, int max);

/* The number of distinct (address, is_return_address) lookups currently cached. */
size_t ms_symbolizer_cache_count(const ms_symbolizer *s);

#endif
