/*
** access.c -- bulk access patterns run in C: a stream of reads and writes
** over a region (sequential, strided, uniformly random or Zipf-skewed
** over its pages), each through memlab_access() -- the MMU and the fault
** handler -- without a call back into the host per access.  The pattern
** draws from its own generator, seeded, so the same pattern on the same
** machine state gives the same accesses.
*/
#include <math.h>
#include <string.h>

#include "mm.h"

struct pattern_state {
	const struct memlab_pattern *pat;
	struct rng rng;
	uint64_t slots;			/* places of pat->size bytes in the region */
	double *cdf;			/* zipf: the cumulative weights of the pages */
	uint64_t pages;
};

/* A uniform double in [0, 1). */
static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* The zipf pattern's table: page k (from 0) weighs 1 / (k + 1)^s. */
static int zipf_init(memlab_machine *m, struct pattern_state *ps)
{
	double sum = 0;

	ps->pages = ps->pat->len >> m->page_shift;
	if (!ps->pages || ps->pages > (1ull << 24))
		return -MEMLAB_EINVAL;
	ps->cdf = ml_alloc(m, ps->pages * sizeof(double));
	if (!ps->cdf)
		return -MEMLAB_ENOMEM;
	for (uint64_t k = 0; k < ps->pages; k++) {
		sum += 1.0 / pow((double)(k + 1), ps->pat->zipf_s);
		ps->cdf[k] = sum;
	}
	return 0;
}

/* The zipf pattern's next page: the first whose cumulative weight passes u. */
static uint64_t zipf_page(struct pattern_state *ps)
{
	double u = rng_unit(&ps->rng) * ps->cdf[ps->pages - 1];
	uint64_t lo = 0, hi = ps->pages - 1;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ps->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The offset in the region of access i. */
static uint64_t pattern_offset(memlab_machine *m, struct pattern_state *ps, uint64_t i)
{
	const struct memlab_pattern *p = ps->pat;
	uint64_t in_page;

	switch (p->kind) {
	case MEMLAB_PATTERN_SEQ:
		return (i % ps->slots) * p->size;
	case MEMLAB_PATTERN_STRIDE:
		return (i * p->stride) % (ps->slots * p->size) / p->size * p->size;
	case MEMLAB_PATTERN_RANDOM:
		return rng_next(&ps->rng) % ps->slots * p->size;
	default:
		in_page = rng_next(&ps->rng) % (m->page_size / p->size) * p->size;
		return (zipf_page(ps) << m->page_shift) + in_page;
	}
}

/* The pattern's arguments, as Linux would not care about but a user would. */
static int pattern_check(memlab_machine *m, const struct memlab_pattern *p)
{
	if (p->kind < MEMLAB_PATTERN_SEQ || p->kind > MEMLAB_PATTERN_ZIPF)
		return -MEMLAB_EINVAL;
	if (!p->size || p->size > m->page_size || (m->page_size % p->size))
		return -MEMLAB_EINVAL;
	if (p->len < p->size || p->base + p->len < p->base)
		return -MEMLAB_EINVAL;
	if (p->kind == MEMLAB_PATTERN_STRIDE && !p->stride)
		return -MEMLAB_EINVAL;
	if (p->kind == MEMLAB_PATTERN_ZIPF && !(p->zipf_s > 0 && p->zipf_s < 100))
		return -MEMLAB_EINVAL;
	if (!(p->write_ratio >= 0 && p->write_ratio <= 1))
		return -MEMLAB_EINVAL;
	return 0;
}

static int access_pattern(memlab_task *t, const struct memlab_pattern *pat,
			  struct memlab_pattern_result *res)
{
	memlab_machine *m = t->m;
	struct pattern_state ps = { pat, { { 0 } }, 0, NULL, 0 };
	uint64_t min0 = t->min_flt, maj0 = t->maj_flt;
	int err = pattern_check(m, pat);

	memset(res, 0, sizeof(*res));
	if (err || (pat->kind == MEMLAB_PATTERN_ZIPF && (err = zipf_init(m, &ps))))
		return err;
	rng_seed(&ps.rng, pat->seed);
	ps.slots = pat->len / pat->size;
	for (uint64_t i = 0; i < pat->count; i++) {
		uint64_t addr = pat->base + pattern_offset(m, &ps, i);
		bool write = pat->write_ratio > 0 && rng_unit(&ps.rng) < pat->write_ratio;

		/* no data moves: a write marks the page dirty but leaves its bytes */
		err = memlab_access(t, addr, pat->size, write ? 'w' : 'r', NULL, &res->si_code);
		if (err) {
			res->fault_addr = addr;
			break;
		}
		res->accesses++;
		*(write ? &res->writes : &res->reads) += 1;
	}
	res->min_flt = t->min_flt - min0;
	res->maj_flt = t->maj_flt - maj0;
	ml_free(m, ps.cdf, ps.pages * sizeof(double));
	return err;
}

int memlab_access_pattern(memlab_task *t, const struct memlab_pattern *pat,
			  struct memlab_pattern_result *res)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = access_pattern(t, pat, res);

	task_leave(t, prev);
	return ret;
}
