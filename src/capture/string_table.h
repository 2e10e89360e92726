/* The C API's string table: names, type names, file and function names given to the API are
 * interned once per process and written once, as a STRING record in the trace, by the thread
 * that interned them first; annotations then carry the string's id. Ids are 1, 2, 3, ...; a forked
 * child goes on from its parent's ids and writes again the strings it uses (its trace holds what
 * it refers to). */
#ifndef MS_CAPTURE_STRING_TABLE_H
#define MS_CAPTURE_STRING_TABLE_H

#include <stdint.h>

/* Strings longer than this are cut (at a UTF-8 character's start). */
#define MS_STRING_MAX 1024

/* The id of text (0 for NULL or "", and when the table is full: ms__strings_full says so). The
 * first time, the STRING record goes into the calling thread's slot. Call with tls.busy set. */
uint64_t ms__string_id(const char *text);
/* Whether a string was left out because the table was full (once true, stays true). */
int ms__strings_full(void);
/* In a forked child: forget what was written (the parent's trace has it), keep the ids going. */
void ms__strings_after_fork_child(void);

#endif
