/*
** strbuf.c -- growable text for the procfs renderers, Linux's seq_file in
** miniature: printf-style appends into a buffer allocated through the
** host's allocator, then one hand-over of the finished text.
**
** A failed append does not stop the renderer: the buffer remembers the
** error (sb->err), ignores every later append and sb_finish() reports it,
** so a renderer is a straight run of sb_printf() calls with no checks.
*/
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define SB_MIN_CAP	1024

/* An empty buffer for machine m; it owns nothing until the first append. */
void sb_init(struct strbuf *sb, memlab_machine *m)
{
	sb->m = m;
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->err = 0;
}

static void sb_release(struct strbuf *sb)
{
	ml_free(sb->m, sb->buf, sb->cap);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/*
** Make room for need more bytes plus the NUL.  ml_alloc has no realloc,
** so growing is allocate, copy, free; doubling keeps that linear overall.
*/
static int sb_grow(struct strbuf *sb, size_t need)
{
	size_t cap = sb->cap ? sb->cap : SB_MIN_CAP;
	char *buf;

	if (need > SIZE_MAX / 2 - sb->len)
		return -MEMLAB_ENOMEM;
	while (cap < sb->len + need + 1)
		cap *= 2;
	if (cap == sb->cap)
		return 0;
	buf = ml_alloc(sb->m, cap);
	if (!buf)
		return -MEMLAB_ENOMEM;
	if (sb->len)
		memcpy(buf, sb->buf, sb->len);
	buf[sb->len] = '\0';
	ml_free(sb->m, sb->buf, sb->cap);
	sb->buf = buf;
	sb->cap = cap;
	return 0;
}

/* Append vprintf-formatted text; after a failure, do nothing. */
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	if (sb->err)
		return;
	va_copy(aq, ap);
	n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL,
		      sb->buf ? sb->cap - sb->len : 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		sb->err = -MEMLAB_EINVAL;
		return;
	}
	if (sb->buf && (size_t)n < sb->cap - sb->len) {
		sb->len += (size_t)n;
		return;
	}
	if (sb_grow(sb, (size_t)n)) {
		sb->err = -MEMLAB_ENOMEM;
		return;
	}
	vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	sb->len += (size_t)n;
}

/* Append printf-formatted text; after a failure, do nothing. */
void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

/*
** Hand the text over: *text is NUL-terminated in a block of exactly
** strlen(*text) + 1 bytes, as memlab_free_text() frees it, and *len (if
** len is not NULL) is its length.  Returns 0, or the first append error
** (-MEMLAB_ENOMEM) with everything freed and *text NULL.
*/
int sb_finish(struct strbuf *sb, char **text, size_t *len)
{
	char *out;

	*text = NULL;
	if (len)
		*len = 0;
	if (sb->err) {
		sb_release(sb);
		return sb->err;
	}
	if (sb->buf && sb->cap == sb->len + 1) {
		out = sb->buf;		/* already the exact size */
	} else {
		out = ml_alloc(sb->m, sb->len + 1);
		if (!out) {
			sb_release(sb);
			return sb->err = -MEMLAB_ENOMEM;
		}
		if (sb->len)
			memcpy(out, sb->buf, sb->len);
		out[sb->len] = '\0';
		ml_free(sb->m, sb->buf, sb->cap);
	}
	*text = out;
	if (len)
		*len = sb->len;
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return 0;
}
