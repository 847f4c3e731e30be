/* fmt.c - bounded, async-signal-safe formatting (no stdio, no allocation). */
#include "fmt.h"

#include <string.h>

void ss_buf_init(struct ss_buf *b, char *storage, size_t cap)
{
    b->p = storage;
    b->cap = cap;
    b->len = 0;
    b->truncated = 0;
    if (cap)
        storage[0] = '\0';
}

void ss_buf_mem(struct ss_buf *b, const char *s, size_t n)
{
    if (!b->cap)
        return;
    size_t room = b->cap - 1 - b->len;
    if (n > room) {
        n = room;
        b->truncated = 1;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ss_buf_str(struct ss_buf *b, const char *s)
{
    ss_buf_mem(b, s ? s : "(null)", strlen(s ? s : "(null)"));
}

void ss_buf_char(struct ss_buf *b, char c)
{
    ss_buf_mem(b, &c, 1);
}

void ss_buf_u64(struct ss_buf *b, uint64_t v)
{
    char digits[20]; /* UINT64_MAX has 20 decimal digits */
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ss_buf_mem(b, digits + sizeof digits - n, n);
}

void ss_buf_i64(struct ss_buf *b, int64_t v)
{
    if (v < 0) {
        ss_buf_char(b, '-');
        ss_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        ss_buf_u64(b, (uint64_t)v);
    }
}

void ss_buf_hex(struct ss_buf *b, uint64_t v)
{
    char digits[16];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    ss_buf_mem(b, "0x", 2);
    ss_buf_mem(b, digits + sizeof digits - n, n);
}

void ss_buf_token(struct ss_buf *b, const char *s, size_t n, size_t max)
{
    size_t shown = n > max ? max : n;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            ss_buf_char(b, (char)c);
        } else { /* keep the line one printable line */
            ss_buf_str(b, "\\x");
            ss_buf_char(b, "0123456789abcdef"[c >> 4]);
            ss_buf_char(b, "0123456789abcdef"[c & 15]);
        }
    }
    if (n > shown)
        ss_buf_str(b, "...");
}
