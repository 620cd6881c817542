/*
** fault_inject.c -- Linux's fault-injection framework (lib/fault-inject.c,
** mm/fail_page_alloc.c): named points, each with the attributes of
** /sys/kernel/debug/<point>/ (probability, interval, times, space,
** verbose, task-filter, and the point's own filters), decided by
** should_fail_ex() in Linux's order of checks -- a task's fail-nth first,
** then probability, task filter, times, space, interval, the dice -- with
** the machine's seeded generator, so that a run is reproducible.  memlab
** adds two attributes: pid (only that task's calls may fail) and run (a
** failure is followed by run - 1 more, the calls in between failing
** without a roll).
*/
#include <string.h>

#include "mm.h"

static const char *const point_names[FI_NR_POINTS] = {
	[FI_FAIL_PAGE_ALLOC] = "fail_page_alloc",
};

/* FAULT_ATTR_INITIALIZER, and fail_page_alloc's defaults. */
static void fault_attr_init(struct memlab_fault_attr *a, int point)
{
	memset(a, 0, sizeof(*a));
	a->interval = 1;
	a->times = 1;
	a->verbose = 2;
	a->run = 1;
	if (point == FI_FAIL_PAGE_ALLOC) {
		a->min_order = 1;
		a->ignore_gfp_highmem = 1;
		a->ignore_gfp_reclaim = 1;
	}
}

void fault_inject_init(memlab_machine *m)
{
	for (int i = 0; i < FI_NR_POINTS; i++)
		fault_attr_init(&m->fault[i].attr, i);
}

int fault_point(const char *name)
{
	for (int i = 0; name && i < FI_NR_POINTS; i++)
		if (strcmp(point_names[i], name) == 0)
			return i;
	return -1;
}

/* fail_dump(): the verbose report, with the seed that reproduces the run. */
static void fail_dump(memlab_machine *m, int point)
{
	const struct memlab_fault_attr *a = &m->fault[point].attr;

	if (a->verbose <= 0)
		return;
	ml_report(m, "FAULT_INJECTION: forcing a failure.\n"
		  "name %s, interval %llu, probability %llu, space %lld, times %lld\n"
		  "(memlab: seed %llu, pid %d, call %llu of this point)",
		  point_names[point], (unsigned long long)a->interval,
		  (unsigned long long)a->probability, (long long)a->space, (long long)a->times,
		  (unsigned long long)m->seed, m->current ? m->current->pid : 0,
		  (unsigned long long)m->fault[point].calls);
}

/* The attribute checks after fail-nth, in should_fail_ex()'s order. */
static bool should_fail_attr(memlab_machine *m, struct fault_point *fp, uint64_t size)
{
	struct memlab_fault_attr *a = &fp->attr;
	memlab_task *t = m->current;

	if (fp->run_left) {		/* memlab's run: the rest of a burst */
		fp->run_left--;
		return true;
	}
	if (a->probability == 0)
		return false;
	if (a->task_filter && !(t && t->make_it_fail))
		return false;
	if (a->pid && !(t && t->pid == a->pid))
		return false;
	if (a->times == 0)
		return false;
	if ((uint64_t)a->space > size && a->space > 0) {
		a->space -= (int64_t)size;
		return false;
	}
	if (a->interval > 1 && ++fp->count % a->interval)
		return false;
	if (a->probability <= rng_next(&m->rng) % 100)
		return false;
	fp->run_left = a->run > 1 ? a->run - 1 : 0;
	return true;
}

/*
** should_fail_ex(): whether this call at the point fails.  size is the
** call's "space" (bytes or pages, as the point counts them).
*/
bool should_fail(memlab_machine *m, int point, uint64_t size, bool nowarn)
{
	struct fault_point *fp = &m->fault[point];
	memlab_task *t = m->current;
	bool fail;

	fp->calls++;
	if (t && t->fail_nth)
		fail = --t->fail_nth == 0;
	else
		fail = should_fail_attr(m, fp, size);
	if (!fail)
		return false;
	if (!nowarn)
		fail_dump(m, point);
	if (fp->attr.times > 0)
		fp->attr.times--;
	fp->fired++;
	return true;
}

/* should_fail_alloc_page(): fail_page_alloc's own filters first. */
bool should_fail_alloc_page(memlab_machine *m, uint32_t gfp, unsigned order)
{
	const struct memlab_fault_attr *a = &m->fault[FI_FAIL_PAGE_ALLOC].attr;

	if (order < a->min_order)
		return false;
	if (gfp & MEMLAB___GFP_NOFAIL)
		return false;
	if (a->ignore_gfp_highmem && (gfp & MEMLAB___GFP_HIGHMEM))
		return false;
	if (a->ignore_gfp_reclaim && (gfp & MEMLAB___GFP_DIRECT_RECLAIM))
		return false;
	return should_fail(m, FI_FAIL_PAGE_ALLOC, 1ull << order,
			   (gfp & MEMLAB___GFP_NOWARN) != 0);
}

/* ===================== the public API ===================== */

int memlab_inject(memlab_machine *m, const char *point, const struct memlab_fault_attr *attr)
{
	int i = fault_point(point);

	if (i < 0)
		return -MEMLAB_ENOENT;
	if (!attr) {
		fault_attr_init(&m->fault[i].attr, i);
		m->fault[i].run_left = 0;
		m->fault[i].count = 0;
		return 0;
	}
	if (attr->probability > 100 || attr->times < -1 || attr->verbose < 0 || attr->run < 1)
		return -MEMLAB_EINVAL;
	m->fault[i].attr = *attr;
	m->fault[i].run_left = 0;
	m->fault[i].count = 0;
	return 0;
}

void memlab_fault_attr_init(struct memlab_fault_attr *attr, const char *point)
{
	int i = fault_point(point);

	fault_attr_init(attr, i < 0 ? 0 : i);
}

int memlab_injected(memlab_machine *m, const char *point, struct memlab_fault_stats *st)
{
	int i = fault_point(point);

	if (i < 0)
		return -MEMLAB_ENOENT;
	st->calls = m->fault[i].calls;
	st->fired = m->fault[i].fired;
	st->attr = m->fault[i].attr;
	return 0;
}

const char *memlab_fault_point_name(int i)
{
	return i >= 0 && i < FI_NR_POINTS ? point_names[i] : NULL;
}

void memlab_task_fail_nth(memlab_task *t, unsigned nth)
{
	t->fail_nth = nth;
}

unsigned memlab_task_get_fail_nth(const memlab_task *t)
{
	return t->fail_nth;
}

void memlab_task_make_it_fail(memlab_task *t, int on)
{
	t->make_it_fail = on != 0;
}
