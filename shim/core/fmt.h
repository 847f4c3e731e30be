/* fmt.h - async-signal-safe formatting into bounded buffers (no stdio). */
#ifndef SENDSHIM_FMT_H
#define SENDSHIM_FMT_H

#include <stddef.h>
#include <stdint.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* A bounded output buffer. Appends never overflow: text that does not fit is
 * cut and `truncated` is set. The buffer is always NUL-terminated. */
struct ss_buf {
    char *p;
    size_t cap; /* bytes available, including the final NUL */
    size_t len;
    int truncated;
};

void ss_buf_init(struct ss_buf *b, char *storage, size_t cap);
void ss_buf_str(struct ss_buf *b, const char *s);
void ss_buf_mem(struct ss_buf *b, const char *s, size_t n);
void ss_buf_char(struct ss_buf *b, char c);
void ss_buf_u64(struct ss_buf *b, uint64_t v);
void ss_buf_i64(struct ss_buf *b, int64_t v);
void ss_buf_hex(struct ss_buf *b, uint64_t v); /* 0x-prefixed */

/* A token from the user quoted into a one-line message: bytes outside
 * printable ASCII become \xNN, and beyond `max` bytes it is cut with "...". */
void ss_buf_token(struct ss_buf *b, const char *s, size_t n, size_t max);
#define SS_ERR_TOKEN_MAX 64 /* bytes of an offending token quoted in a message */

/* Errno name ("EAGAIN") or NULL when the number has no name here. */
const char *ss_errno_name(int err);
/* Errno number for a name ("EAGAIN"), or 0 when unknown. */
int ss_errno_from_name(const char *name, size_t len);

#pragma GCC visibility pop

#endif
