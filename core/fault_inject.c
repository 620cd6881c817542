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
	[FI_FAILSLAB] = "failslab",
	[FI_SWAP_WRITE_ERROR] = "swap_write_error",	/* memlab's: a swap-out's I/O error */
	[FI_SWAP_READ_ERROR] = "swap_read_error",	/* memlab's: a swap-in's I/O error */
	[FI_TLB_LOST_SHOOTDOWN] = "tlb_lost_shootdown",	/* memlab's: an IPI's flush lost */
	[FI_TLB_STALE_ENTRY] = "tlb_stale_entry",		/* memlab's: a local flush skipped */
};

/* FAULT_ATTR_INITIALIZER, and fail_page_alloc's and failslab's defaults. */
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
	if (point == FI_FAILSLAB)
		a->ignore_gfp_reclaim = 1;
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
	/*
	 * fail-nth counts the decisions of points that fail cleanly; memlab's
	 * corruption points (the TLB's) only ever fire by their attributes,
	 * so that a fail-nth sweep sees clean errors, never corruption.
	 */
	if (t && t->fail_nth && point < FI_FIRST_CORRUPTION)
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

/*
** should_failslab() (mm/failslab.c) for an allocation with gfp from one
** of slab.c's caches -- among them the kernel objects memlab keeps (its
** VMAs, anon_vmas, tasks and mms, kernel_obj_alloc()), all GFP_KERNEL:
** with failslab's default ignore-gfp-wait those are never failed, nor
** counted by fail-nth (the check comes before should_fail_ex).
*/
bool should_failslab_gfp(memlab_machine *m, size_t object_size, uint32_t gfp)
{
	const struct memlab_fault_attr *a = &m->fault[FI_FAILSLAB].attr;

	if (gfp & MEMLAB___GFP_NOFAIL)
		return false;
	if (a->ignore_gfp_reclaim && (gfp & MEMLAB___GFP_DIRECT_RECLAIM))
		return false;
	return should_fail(m, FI_FAILSLAB, object_size, (gfp & MEMLAB___GFP_NOWARN) != 0);
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

/* ===================== corruption on purpose ===================== */

struct pick_leaf {
	memlab_machine *m;
	uint64_t seen, va, table, idx;
	unsigned level;
};

/* Reservoir sampling over the present leaves: each is kept with chance 1/seen. */
static int pick_leaf(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		     uint64_t e)
{
	struct pick_leaf *p = ud;

	(void)e;
	if (rng_next(&p->m->rng) % ++p->seen == 0) {
		p->va = va;
		p->table = table;
		p->idx = idx;
		p->level = level;
	}
	return 0;
}

/* A bit of a frame number: in [page_shift, page_shift + log2(nr_frames)). */
static int random_pfn_bit(memlab_machine *m)
{
	unsigned bits = 64 - (unsigned)__builtin_clzll(m->nr_frames - 1);

	return (int)(m->page_shift + rng_next(&m->rng) % (bits ? bits : 1));
}

int memlab_corrupt_pte(memlab_task *t, uint64_t va, int bit, struct memlab_corruption *out)
{
	memlab_machine *m = t->m;
	struct pick_leaf p = { m, 0, va, 0, 0, 0 };
	uint64_t e;

	if (bit < -1 || bit > 63)
		return -MEMLAB_EINVAL;
	if (va) {
		if (pt_leaf_slot(m, t->mm, va, &p.table, &p.level))
			return -MEMLAB_EINVAL;
		p.idx = pt_index(&t->mm->pt, p.level, va);
	} else {
		pt_walk_range(m, t->mm, 0, 0, pick_leaf, &p);
		if (!p.seen)
			return -MEMLAB_ENOENT;
	}
	e = pt_read(m, p.table, p.idx);
	if (!e)
		return -MEMLAB_ENOENT;
	if (bit < 0)
		bit = random_pfn_bit(m);
	pt_write(m, p.table, p.idx, e ^ (1ull << bit));
	out->addr = p.va & ~(pt_level_size(&t->mm->pt, p.level) - 1);
	out->bit = bit;
	out->before = e;
	out->after = e ^ (1ull << bit);
	return 0;
}

/*
** A bit of the forward link of the first page of list that has a
** successor, chosen so that the link stays inside RAM (a wrong frame,
** never a wild pointer).  false when the list holds fewer than two.
*/
static bool corrupt_link(memlab_machine *m, const struct free_list *list,
			 struct memlab_corruption *out)
{
	unsigned bits = 64 - (unsigned)__builtin_clzll(m->nr_frames - 1);
	struct page *page;

	if (list->head == PFN_NONE || pfn_to_page(m, list->head)->lru_next == PFN_NONE)
		return false;
	page = pfn_to_page(m, list->head);
	for (int tries = 0; tries < 64; tries++) {
		int bit = (int)(rng_next(&m->rng) % bits);
		uint32_t next = page->lru_next ^ (1u << bit);

		if (next < m->nr_frames) {
			out->addr = list->head;
			out->bit = bit;
			out->before = page->lru_next;
			out->after = next;
			page->lru_next = next;
			return true;
		}
	}
	return false;
}

/* A free-list link flipped: the first list of that order with two blocks. */
int memlab_corrupt_freelist(memlab_machine *m, unsigned order, struct memlab_corruption *out)
{
	if (order > m->max_order)
		return -MEMLAB_EINVAL;
	for (int z = 0; z < m->nr_zones; z++)
		for (int mt = 0; mt < MIGRATE_TYPES; mt++)
			if (corrupt_link(m, &m->zones[z].free_area[order].free_list[mt], out))
				return 0;
	return -MEMLAB_ENOENT;
}

/* An LRU list's link flipped (lru: its name, as memlab_lru takes it). */
int memlab_corrupt_lru(memlab_machine *m, const char *lru, struct memlab_corruption *out)
{
	int i = lru_list_index(lru);

	if (i < 0)
		return -MEMLAB_EINVAL;
	for (struct mem_cgroup *memcg = mem_cgroup_iter(m, NULL, NULL); memcg;
	     memcg = mem_cgroup_iter(m, NULL, memcg))
		if (corrupt_link(m, &memcg->lruvec.lists[i], out))
			return 0;
	return -MEMLAB_ENOENT;
}
