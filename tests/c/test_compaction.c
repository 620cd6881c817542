/*
** test_compaction.c -- page migration (core/migrate.c) and compaction
** (core/compaction.c), with the core's internals at hand: the page a
** virtual address maps moves, its contents, page-table entries, page-cache
** slot and counters follow, and a pinned page stays where it is.
**
**  1. migrate_folio() of an anonymous page: the PTE maps the new frame
**     with the same bits, the bytes read back, the old frame is free.
**  2. A pinned anonymous page (a reference beyond its mappings) is
**     refused with -EAGAIN and nothing changes.
**  3. A shared file page: the page cache slot moves, the page stays
**     dirty, every mapping follows.  A 64K anonymous folio moves whole to
**     a target of its order, and only to one.
**  4. memlab_compact_memory() on fragmented process memory: a free block
**     of pageblock order appears, the counters move, nothing stays
**     isolated, memlab_check() is clean.
**  5. Direct compaction: an order-4 GFP_KERNEL allocation on fragmented
**     memory stalls once, succeeds, and resets the zone's deferral.
*/
#include <stdio.h>
#include <string.h>

#include "mm.h"
#include "testlib.h"

#define PG ((uint64_t)4096)
#define REGION ((uint64_t)0x7e0000000000)
#define A(n) (REGION + (uint64_t)(n) * PG)
#define RW (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE)
#define ANON (MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED)
#define SHARED (MEMLAB_MAP_SHARED | MEMLAB_MAP_FIXED)

static memlab_machine *mach;
static char reports[2048];

static void collect_report(void *ud, const char *msg)
{
	size_t l = strlen(reports);

	(void)ud;
	if (l + 3 < sizeof(reports))
		snprintf(reports + l, sizeof(reports) - l, "%s%s", l ? " | " : "", msg);
}

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)
#define ASSERT_NO_REPORTS() ASSERT_STREQ(reports, "")

static memlab_machine *machine(uint64_t ram)
{
	struct memlab_config cfg;

	test_config(&cfg, MEMLAB_ARCH_X86_64, 0, 0, ram);
	cfg.report = collect_report;
	cfg.debug_vm = 1;
	reports[0] = 0;
	mach = NULL;
	if (memlab_create(&cfg, &mach))
		return NULL;
	return mach;
}

static void release(void)
{
	if (mach)
		memlab_destroy(mach);
	mach = NULL;
}

static memlab_task *spawn(memlab_machine *m)
{
	struct memlab_spawn_args args = { 0 };
	memlab_task *t = NULL;

	args.name = "compact";
	return memlab_spawn(m, &args, &t) ? NULL : t;
}

static uint64_t pfn_of(memlab_task *t, uint64_t va)
{
	struct memlab_walk w;

	if (memlab_translate(t, va, &w) || !w.present)
		return PFN_NONE;
	return w.pfn;
}

static int write_str(memlab_task *t, uint64_t va, const char *s)
{
	int code;

	return memlab_access(t, va, strlen(s) + 1, 'w', (void *)s, &code);
}

static int read_is(memlab_task *t, uint64_t va, const char *s)
{
	char buf[64] = { 0 };
	int code;

	if (memlab_access(t, va, strlen(s) + 1, 'r', buf, &code))
		return 0;
	return strcmp(buf, s) == 0;
}

/* A free order-0 frame as compaction_alloc hands it out: allocated, one reference. */
static uint64_t target_page(memlab_machine *m)
{
	uint64_t pfn;

	if (memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &pfn))
		return PFN_NONE;
	return pfn;
}

TEST(migrate_anon_page)
{
	memlab_machine *m = machine(64 << 20);
	memlab_task *t = spawn(m);
	uint64_t addr, src, dst, free_before;
	struct memlab_walk before, after;

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, A(0), PG, RW, ANON, NULL, 0, &addr));
	ASSERT_OK(write_str(t, A(0), "hello, migration"));
	ASSERT_OK(memlab_lru_add_drain_all(m));	/* on its list, as compaction finds it */
	src = pfn_of(t, A(0));
	ASSERT_OK(memlab_translate(t, A(0), &before));
	ASSERT(folio_isolate_lru(m, pfn_to_page(m, src)));
	ASSERT_EQ(m->vmstat[NR_ISOLATED_ANON], 1);
	dst = target_page(m);
	free_before = m->vmstat[NR_FREE_PAGES] + per_cpu_pageset(&m->zones[ZONE_DMA32], 0)->count;
	ASSERT_OK(migrate_folio(m, src, dst));
	ASSERT_EQ(pfn_of(t, A(0)), dst);
	ASSERT_OK(memlab_translate(t, A(0), &after));
	ASSERT_STREQ(after.flags, before.flags);
	ASSERT(read_is(t, A(0), "hello, migration"));
	ASSERT_EQ(m->vmstat[NR_ISOLATED_ANON], 0);
	ASSERT_EQ(m->vmstat[NR_FREE_PAGES] + per_cpu_pageset(&m->zones[ZONE_DMA32], 0)->count, free_before + 1);
	ASSERT(!(pfn_to_page(m, src)->flags & PG_head_alloc));
	ASSERT(!(pfn_to_page(m, dst)->flags & PG_lru));	/* in this CPU's lru_add batch */
	ASSERT_EQ(pfn_to_page(m, dst)->_refcount, 2);
	ASSERT_OK(memlab_lru_add_drain_all(m));
	ASSERT(pfn_to_page(m, dst)->flags & PG_lru);
	ASSERT_EQ(pfn_to_page(m, dst)->_refcount, 1);
	ASSERT_EQ(pfn_to_page(m, dst)->mapcount, 1);
	ASSERT_NO_REPORTS();
	ASSERT_CHECK(m);
}

TEST(migrate_pinned_page_refused)
{
	memlab_machine *m = machine(64 << 20);
	memlab_task *t = spawn(m);
	uint64_t addr, src, dst;
	struct page *page;

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, A(0), PG, RW, ANON, NULL, 0, &addr));
	ASSERT_OK(write_str(t, A(0), "pinned"));
	ASSERT_OK(memlab_lru_add_drain_all(m));
	src = pfn_of(t, A(0));
	page = pfn_to_page(m, src);
	ASSERT(folio_isolate_lru(m, page));
	page->_refcount++;			/* a GUP pin */
	dst = target_page(m);
	ASSERT_EQ(migrate_folio(m, src, dst), -MEMLAB_EAGAIN);
	ASSERT_EQ(pfn_of(t, A(0)), src);
	ASSERT_EQ(pfn_to_page(m, dst)->mapcount, 0);
	page->_refcount--;
	putback_movable_pages(m, &src, 1);
	ASSERT(!(page->flags & PG_lru));	/* back through this CPU's lru_add batch */
	ASSERT_EQ(page->_refcount, 2);
	ASSERT_EQ(m->vmstat[NR_ISOLATED_ANON], 0);
	ASSERT_OK(memlab_lru_add_drain_all(m));
	ASSERT(page->flags & PG_lru);
	ASSERT_OK(memlab_free_pages(m, dst, 0));
	ASSERT_EQ(migrate_folio(m, src, src), -MEMLAB_EINVAL);
	ASSERT_EQ(migrate_folio(m, m->nr_frames, src), -MEMLAB_EINVAL);
	ASSERT(read_is(t, A(0), "pinned"));
	ASSERT_NO_REPORTS();
	ASSERT_CHECK(m);
}

TEST(migrate_shared_file_page)
{
	memlab_machine *m = machine(64 << 20);
	memlab_task *t = spawn(m);
	memlab_task *child = NULL;
	memlab_file *f = NULL;
	uint64_t addr, src, dst;
	struct page *page;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/tmp/data", PG, 1, &f));
	ASSERT_OK(memlab_mmap(t, A(0), PG, RW, SHARED, f, 0, &addr));
	ASSERT_OK(write_str(t, A(0), "file bytes"));
	ASSERT_OK(memlab_fork(t, &child));
	ASSERT(read_is(child, A(0), "file bytes"));	/* fork copies no shared file PTE */
	ASSERT_OK(memlab_lru_add_drain_all(m));
	src = pfn_of(t, A(0));
	ASSERT_EQ(pfn_of(child, A(0)), src);
	page = pfn_to_page(m, src);
	ASSERT(page->flags & PG_dirty);
	ASSERT_EQ(page->_refcount, 3);		/* the cache and two mappings */
	ASSERT(folio_isolate_lru(m, page));
	dst = target_page(m);
	ASSERT_OK(migrate_folio(m, src, dst));
	ASSERT_EQ(pfn_of(t, A(0)), dst);
	ASSERT_EQ(pfn_of(child, A(0)), dst);
	ASSERT_EQ(filemap_lookup(f, 0), dst);
	ASSERT(pfn_to_page(m, dst)->flags & PG_dirty);
	ASSERT(read_is(child, A(0), "file bytes"));
	ASSERT_OK(write_str(child, A(0), "written after"));
	ASSERT(read_is(t, A(0), "written after"));
	ASSERT_NO_REPORTS();
	ASSERT_CHECK(m);
}

/*
** A 64K anonymous folio: a target of another order is refused; one of
** its order takes every page -- each PTE maps its
** counterpart, each page keeps its bytes and its PageAnonExclusive --
** and the folio's counts (references, nr_anon) are unchanged.
*/
TEST(migrate_large_anon_folio)
{
	memlab_machine *m = machine(64 << 20);
	memlab_task *t = spawn(m);
	uint64_t addr, src, dst, small, nr_anon;
	struct memlab_thp_size sizes[16];
	size_t n;
	char s[32];

	ASSERT(t);
	ASSERT_OK(memlab_thp_size_set(m, 64 << 10, "always"));
	ASSERT_OK(memlab_mmap(t, A(0), 16 * PG, RW, ANON, NULL, 0, &addr));
	for (unsigned i = 0; i < 16; i++) {
		snprintf(s, sizeof(s), "page %u", i);
		ASSERT_OK(write_str(t, A(i), s));
	}
	ASSERT_OK(memlab_lru_add_drain_all(m));
	src = pfn_of(t, A(0));
	ASSERT_EQ(pfn_to_page(m, src)->private, 4);
	ASSERT_EQ(pfn_of(t, A(15)), src + 15);
	n = memlab_thp_sizes(m, sizes, 16);
	nr_anon = sizes[2].stats[MTHP_STAT_NR_ANON].value;	/* 16K, 32K, 64K */
	ASSERT_EQ(nr_anon, 1);
	ASSERT(folio_isolate_lru(m, pfn_to_page(m, src)));
	ASSERT_EQ(m->vmstat[NR_ISOLATED_ANON], 16);
	small = target_page(m);
	ASSERT_EQ(migrate_folio(m, src, small), -MEMLAB_EINVAL);	/* not of its order */
	ASSERT_OK(memlab_free_pages(m, small, 0));
	ASSERT_OK(memlab_alloc_pages(m, 4, MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_COMP, &dst));
	ASSERT_OK(migrate_folio(m, src, dst));
	for (unsigned i = 0; i < 16; i++) {
		snprintf(s, sizeof(s), "page %u", i);
		ASSERT_EQ(pfn_of(t, A(i)), dst + i);
		ASSERT(read_is(t, A(i), s));
		ASSERT(pfn_to_page(m, dst + i)->flags & PG_anon_exclusive);
		ASSERT_EQ(pfn_to_page(m, dst + i)->mapcount, 1);
	}
	ASSERT_EQ(pfn_to_page(m, dst)->_refcount, 16);	/* its PTEs: a large folio skips the batch */
	ASSERT(pfn_to_page(m, dst)->flags & PG_lru);
	ASSERT_EQ(m->vmstat[NR_ISOLATED_ANON], 0);
	ASSERT(!(pfn_to_page(m, src)->flags & PG_head_alloc));
	ASSERT_EQ(memlab_thp_sizes(m, sizes, 16), n);
	ASSERT_EQ(sizes[2].stats[MTHP_STAT_NR_ANON].value, nr_anon);
	ASSERT_NO_REPORTS();
	ASSERT_CHECK(m);
}

/* 4096 touched pages, every other one unmapped: order-0 holes everywhere. */
static memlab_task *fragment(memlab_machine *m, unsigned n)
{
	memlab_task *t = spawn(m);
	uint64_t addr;
	char s[32];

	if (!t || memlab_mmap(t, A(0), n * PG, RW, ANON, NULL, 0, &addr))
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		snprintf(s, sizeof(s), "page %u", i);
		if (write_str(t, A(i), s))
			return NULL;
	}
	for (unsigned i = 0; i < n; i += 2)
		if (memlab_munmap(t, A(i), PG))
			return NULL;
	memlab_lru_add_drain_all(m);	/* the last pages written wait in the lru_add batch */
	memlab_drain_pages(m);
	return t;
}

static uint64_t free_blocks_from(const struct zone *z, unsigned order)
{
	uint64_t n = 0;

	for (unsigned o = order; o < NR_ORDERS_MAX; o++)
		n += z->free_area[o].nr_free;
	return n;
}

TEST(compact_memory_makes_pageblocks)
{
	memlab_machine *m = machine(64 << 20);
	memlab_task *t = fragment(m, 4096);
	struct zone *z = &m->zones[ZONE_DMA32];
	uint64_t order0_before, blocks_before;
	char s[32];

	ASSERT(t);
	order0_before = z->free_area[0].nr_free;
	blocks_before = free_blocks_from(z, m->pageblock_order);
	ASSERT(order0_before >= 2048);
	ASSERT_OK(memlab_compact_memory(m));
	memlab_drain_pages(m);
	ASSERT(z->free_area[0].nr_free < order0_before / 2);
	ASSERT(free_blocks_from(z, m->pageblock_order) > blocks_before);
	ASSERT(m->vmstat[PGMIGRATE_SUCCESS] > 0);
	ASSERT(m->vmstat[COMPACTMIGRATE_SCANNED] > 0);
	ASSERT(m->vmstat[COMPACTFREE_SCANNED] > 0);
	ASSERT(m->vmstat[COMPACTISOLATED] >= m->vmstat[PGMIGRATE_SUCCESS]);
	ASSERT_EQ(m->vmstat[COMPACTSTALL], 0);	/* compact_memory is not direct compaction */
	ASSERT_EQ(m->vmstat[NR_ISOLATED_ANON] + m->vmstat[NR_ISOLATED_FILE], 0);
	for (unsigned i = 1; i < 4096; i += 2) {
		snprintf(s, sizeof(s), "page %u", i);
		if (!read_is(t, A(i), s))
			TEST_FAIL("page %u lost its contents", i);
	}
	ASSERT_NO_REPORTS();
	ASSERT_CHECK(m);
}

TEST(direct_compaction_for_order4)
{
	memlab_machine *m = machine(64 << 20);
	memlab_task *t = fragment(m, 8192);
	uint64_t pfn;

	ASSERT(t);
	/* use up every free block of order >= 4, reserves too, without compacting */
	while (memlab_alloc_pages(m, 4, MEMLAB_GFP_ATOMIC | MEMLAB___GFP_NOWARN, &pfn) == 0)
		;
	ASSERT_EQ(m->vmstat[COMPACTSTALL], 0);
	ASSERT_OK(memlab_alloc_pages(m, 4, MEMLAB_GFP_KERNEL | MEMLAB___GFP_NORETRY, &pfn));
	ASSERT_EQ(m->vmstat[COMPACTSTALL], 1);
	ASSERT_EQ(m->vmstat[COMPACTSUCCESS], 1);
	ASSERT_EQ(m->vmstat[COMPACTFAIL], 0);
	ASSERT(m->vmstat[PGMIGRATE_SUCCESS] > 0);
	ASSERT_EQ(page_zone(m, pfn)->compact_defer_shift, 0);
	/*
	 * Not 5: the atomic order-4 fallbacks above claimed movable
	 * pageblocks and boosted the watermarks; kswapd reclaimed the boost
	 * and woke kcompactd for pageblock_order (9), whose success set
	 * compact_order_failed to 10 -- above 4, so this success leaves it.
	 */
	ASSERT(m->vmstat[KCOMPACTD_WAKE] > 0);
	ASSERT_EQ(page_zone(m, pfn)->compact_order_failed, 10);
	ASSERT_NO_REPORTS();
	ASSERT_CHECK(m);
}

int main(void)
{
#define RUN_T(name)          \
	do {                 \
		RUN(name);   \
		release();   \
	} while (0)
	RUN_T(migrate_anon_page);
	RUN_T(migrate_pinned_page_refused);
	RUN_T(migrate_shared_file_page);
	RUN_T(migrate_large_anon_folio);
	RUN_T(compact_memory_makes_pageblocks);
	RUN_T(direct_compaction_for_order4);
	return test_summary();
}
