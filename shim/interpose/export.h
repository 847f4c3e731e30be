/* export.h - what every interposed function needs. */
#ifndef SENDSHIM_EXPORT_H
#define SENDSHIM_EXPORT_H

#include "path.h"
#include "pipeline.h"
#include "real.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* Our definitions of libc functions are the library's only exports (with the
 * version script in shim/exports.map). */
#define SS_EXPORT __attribute__((visibility("default")))

#define SS_LIKELY(x) __builtin_expect(!!(x), 1)

#pragma GCC visibility pop

#endif
