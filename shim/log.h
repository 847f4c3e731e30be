/* log.h - diagnostics (SPEC section 9): one write(2) per line from a stack
 * buffer, "sendshim[PID]: " first, errno preserved. */
#ifndef SENDSHIM_LOG_H
#define SENDSHIM_LOG_H

#include "config.h"
#include "fmt.h"

#define SS_LINE_MAX       512 /* one diagnostic line; longer text is cut */
#define SS_PATH_SHOWN_MAX 256 /* bytes of a path quoted in a message */

/* Where lines go: -1 none, 2 stderr, or the log file's descriptor. */
extern int ss_log_fd;

/* Point the log where the configuration says; opens the file with
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC|O_NOFOLLOW, mode 0600. On failure writes a
 * one-line reason into err and returns -1. */
int ss_log_open(const struct ss_config *c, char *err, size_t errlen);

/* Start a line in storage (prefix written), let the caller append, then end
 * it (newline, one write). Does nothing visible when the log is off. */
void ss_log_begin(struct ss_buf *b, char *storage, size_t cap);
void ss_log_end(struct ss_buf *b);

/* A whole line of text at once. */
void ss_log_text(const char *text);

/* The program's descriptor fd is going away or being replaced: stop logging
 * to it if it is ours, so no line ever lands in a file the program reopened. */
void ss_log_fd_lost(int fd);

/* Raw write(2) of our own, immune to interposition, errno preserved. */
void ss_write_all(int fd, const char *p, size_t n);

#endif
