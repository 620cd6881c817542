/*
** diff_common.h -- what the differential tests share: the random
** generator (splitmix64: a seed draws the same steps on every run) and
** the collecting of what memlab reports.
*/
#ifndef DIFF_COMMON_H
#define DIFF_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <memlab/memlab.h>

/* Built with a sanitizer: its runtime maps and touches memory of its own. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED	0
#endif

struct rng { uint64_t s; };

static inline uint64_t rnext(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0 .. n-1 (0 for n = 0) */
static inline uint64_t rnd(struct rng *r, uint64_t n) { return n ? rnext(r) % n : 0; }

/* A message of memlab's report callback, appended to buf ("; " between). */
static inline void diff_append_report(char *buf, size_t size, const char *msg)
{
	size_t l = strlen(buf);

	if (l + 2 < size)
		snprintf(buf + l, size - l, "%s%s", l ? "; " : "", msg);
}

/* A fresh 1 GiB x86-64 machine (seed 1) reporting to report(ud, ...). */
static inline int diff_machine(memlab_machine **m, memlab_report_fn report, void *ud)
{
	struct memlab_config cfg;

	memlab_config_init(&cfg);
	cfg.ram = 1ULL << 30;
	cfg.seed = 1;
	cfg.report = report;
	cfg.report_ud = ud;
	return memlab_create(&cfg, m);
}

#endif
