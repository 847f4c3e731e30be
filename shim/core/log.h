/* log.h - diagnostics (SPEC section 9): one write(2) per line from a stack
 * buffer, "sendshim[PID]: " first, errno preserved. */
#ifndef SENDSHIM_LOG_H
#define SENDSHIM_LOG_H

#include "config.h"
#include "fmt.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_LINE_MAX       512 /* one diagnostic line; longer text is cut */
#define SS_PATH_SHOWN_MAX 256 /* bytes of a path quoted in a message */

/* Point the log where the configuration says (SPEC 9). A file must be a
 * regular file or not exist yet; it is checked and created now, with
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC|O_NOFOLLOW, mode 0600, and reopened for
 * every line. stderr is remembered as the file descriptor 2 is now. On
 * failure writes a one-line reason into err and returns -1. */
int ss_log_open(const struct ss_config *c, char *err, size_t errlen);

/* 0 when lines go nowhere (SENDSHIM_LOG=none): callers may skip building them. */
int ss_log_enabled(void);

/* Start a line in storage (prefix written), let the caller append, then end
 * it (newline, one write). Does nothing visible when the log is off, or when
 * the log is stderr and descriptor 2 is no longer the file it was at start. */
void ss_log_begin(struct ss_buf *b, char *storage, size_t cap);
void ss_log_end(struct ss_buf *b);

/* A whole line of text at once. */
void ss_log_text(const char *text);

/* A configuration error's line: always to descriptor 2, whatever the log
 * (SPEC 9: the program stops, and whoever started it must see why). */
void ss_log_config_error(const char *text);

/* "a FIFO", "a character device", ... for a st_mode that is not a regular file. */
const char *ss_file_type_name(unsigned mode);

/* Raw write(2) of our own, immune to interposition, errno preserved. */
void ss_write_all(int fd, const char *p, size_t n);

#pragma GCC visibility pop

#endif
