/* The state runtime.h and spinlock.h declare. */
#include "runtime.h"
#include "spinlock.h"

atomic_bool ms__active;
__thread int ms__cached_tid __attribute__((tls_model("initial-exec")));
