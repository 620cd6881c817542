/*
** test_swap_readahead.c -- swap readahead from the inside (core/swapfile.c):
**
**  1. the cluster window around a slot near the swap file's end stops at
**     its last slot, and a slot near its start skips the header;
**  2. slots nothing names any more are not read ahead (a hole in the
**     cluster), nor are pages already in the swap cache read again;
**  3. memlab_check() reports a mapped page still marked PG_readahead, and
**     passes once the mark is gone.
*/
#include <stdio.h>
#include <string.h>

#include "mm.h"
#include "testlib.h"

#define PG	4096ull
#define BASE	0x7f0000000000ull
#define RW	(MEMLAB_PROT_READ | MEMLAB_PROT_WRITE)
#define ANON	(MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED)

static char violations[4096];

static void keep_violation(void *ud, const char *msg)
{
	(void)ud;
	strncat(violations, msg, sizeof(violations) - strlen(violations) - 2);
	strcat(violations, "\n");
}

/* A machine with a swap file of swap_pages pages and a task with n pages at BASE, swapped out. */
static memlab_machine *swapped(uint64_t swap_pages, unsigned n, memlab_task **t)
{
	struct memlab_config cfg;
	memlab_machine *m;
	uint64_t a;
	int si;

	memlab_config_init(&cfg);
	cfg.ram = 64ull << 20;
	cfg.swap = swap_pages * PG;
	if (memlab_create(&cfg, &m))
		return NULL;
	if (memlab_spawn(m, &(struct memlab_spawn_args){ .aslr = 0 }, t) ||
	    memlab_mmap(*t, BASE, n * PG, RW, ANON, NULL, 0, &a))
		goto fail;
	for (unsigned i = 0; i < n; i++)
		if (memlab_touch(*t, BASE + i * PG, 1, 'w', &si))
			goto fail;
	if (memlab_madvise(*t, BASE, n * PG, 21 /* MADV_PAGEOUT */))
		goto fail;
	return m;
fail:
	memlab_destroy(m);
	return NULL;
}

static uint64_t vmstat(memlab_machine *m, const char *name)
{
	uint64_t v = 0;

	memlab_vmstat_get(m, name, &v);
	return v;
}

/* Slots 1..pages of a file of pages + 1 pages: the last cluster is cut at its end. */
TEST(window_stays_in_the_file)
{
	memlab_task *t;
	memlab_machine *m = swapped(12, 11, &t);	/* slots 1..11, all used */
	int si;

	ASSERT(m);
	ASSERT_EQ(m->swap->pages, 11);
	ASSERT_OK(memlab_touch(t, BASE + 9 * PG, 1, 'r', &si));	/* slot 10: cluster 8..15 */
	ASSERT_EQ(vmstat(m, "pswpin"), 4);			/* 8, 9, 10, 11 */
	ASSERT_EQ(vmstat(m, "swap_ra"), 3);
	/* slot 1: no hit since, but next to the last offset a fault without
	 * hits left (0, the boot value): 2, no less than half of 8: 4 -- the
	 * cluster 0..3 without the header */
	ASSERT_OK(memlab_touch(t, BASE, 1, 'r', &si));
	ASSERT_EQ(vmstat(m, "pswpin"), 4 + 3);
	ASSERT_EQ(vmstat(m, "swap_ra"), 3 + 2);
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

/* A freed slot in the cluster is skipped; a page in the swap cache is not read again. */
TEST(holes_and_cached_pages_skipped)
{
	memlab_task *t;
	memlab_machine *m = swapped(64, 8, &t);		/* slots 1..8 */
	int si;

	ASSERT(m);
	ASSERT_OK(memlab_madvise(t, BASE + 2 * PG, PG, 4 /* MADV_DONTNEED: slot 3 freed */));
	ASSERT_OK(memlab_touch(t, BASE + 4 * PG, 1, 'r', &si));	/* slot 5: cluster 1..7 */
	ASSERT_EQ(vmstat(m, "pswpin"), 6);			/* 1, 2, 4, 5, 6, 7 */
	ASSERT_EQ(m->swap->cache[3], PFN_NONE);
	ASSERT_EQ(vmstat(m, "swap_ra"), 5);
	ASSERT_OK(memlab_touch(t, BASE + 5 * PG, 1, 'r', &si));	/* slot 6: read ahead, a hit */
	ASSERT_EQ(vmstat(m, "swap_ra_hit"), 1);
	ASSERT_EQ(vmstat(m, "pswpin"), 6);
	/* slot 8: one hit: 1 + 2 -> 4, the cluster 8..11, of which only 8 is used */
	ASSERT_OK(memlab_touch(t, BASE + 7 * PG, 1, 'r', &si));
	ASSERT_EQ(vmstat(m, "pswpin"), 7);
	ASSERT_EQ(vmstat(m, "swap_ra"), 5);
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

/* A mapped page still marked read ahead is reported. */
TEST(check_catches_mapped_readahead_page)
{
	memlab_task *t;
	memlab_machine *m = swapped(64, 8, &t);
	struct page *page;
	int si;

	ASSERT(m);
	ASSERT_OK(memlab_touch(t, BASE, 1, 'r', &si));		/* slots 1..7 in the cache */
	ASSERT(m->swap->cache[1] != PFN_NONE);
	page = pfn_to_page(m, m->swap->cache[1]);		/* the faulting page: mapped */
	ASSERT(page->mapcount == 1 && !(page->flags & PG_readahead));
	page->flags |= PG_readahead;
	violations[0] = '\0';
	ASSERT_EQ(memlab_check(m, keep_violation, NULL), 1);
	if (!strstr(violations, "is mapped but still marked read ahead"))
		TEST_FAIL("not reported:\n%s", violations);
	page->flags &= ~PG_readahead;
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(window_stays_in_the_file);
	RUN(holes_and_cached_pages_skipped);
	RUN(check_catches_mapped_readahead_page);
	return test_summary();
}
