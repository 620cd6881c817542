/*
** test_page_alloc.c -- the buddy allocator against Linux's rules
** (mm/page_alloc.c): boot layout, splitting and merging, watermarks and
** lowmem_reserve, migrate type fallback, bad-page reports, invariants.
*/
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "testlib.h"

static int nr_reports;
static char last_report[1024];

static void count_report(void *ud, const char *msg)
{
	nr_reports++;
	snprintf(last_report, sizeof(last_report), "%s", msg);
}

static void print_violation(void *ud, const char *msg)
{
	printf("  violation: %s\n", msg);
}

static memlab_machine *make_pcp(uint64_t ram, int zones, int pcp_disabled)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	cfg.ram = ram;
	cfg.zones = zones;
	cfg.pcp_disabled = pcp_disabled;
	cfg.report = count_report;
	if (memlab_create(&cfg, &m) != 0)
		return NULL;
	return m;
}

/* Linux's default machine: per-CPU page lists on. */
static memlab_machine *make(uint64_t ram, int zones)
{
	return make_pcp(ram, zones, 0);
}

/* A pure buddy machine (pcp = false), for the buddy algorithm alone. */
static memlab_machine *make_buddy(uint64_t ram, int zones)
{
	return make_pcp(ram, zones, 1);
}

static struct memlab_zone_info zone(memlab_machine *m, int zid)
{
	struct memlab_zone_info zi;

	memset(&zi, 0, sizeof(zi));
	memlab_zone_info(m, zid, &zi);
	return zi;
}

static uint64_t stat(memlab_machine *m, const char *name)
{
	uint64_t v = 0;

	memlab_vmstat_get(m, name, &v);
	return v;
}

#define PFN_UNUSED	UINT64_MAX
#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)

/* 256 MiB x86-64: DMA from pfn 1, DMA32 up to the memmap at the top. */
TEST(boot_layout)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	struct memlab_zone_info dma, dma32, normal;
	struct memlab_machine_info info;

	ASSERT(m);
	memlab_machine_info(m, &info);
	ASSERT_EQ(info.nr_frames, 65536);
	ASSERT_EQ(info.max_order, 10);
	ASSERT_EQ(info.pageblock_order, 9);
	ASSERT_EQ(info.nr_zones, 5);
	ASSERT_EQ(info.nr_reserved, 1 + 1024);	/* pfn 0 + 65536 * 64 bytes of memmap */
	dma = zone(m, 0), dma32 = zone(m, 1), normal = zone(m, 2);
	ASSERT_STREQ(dma.name, "DMA");
	ASSERT_EQ(dma.start_pfn, 1);
	ASSERT_EQ(dma.spanned, 4095);
	ASSERT_EQ(dma.managed, 4095);
	ASSERT_EQ(dma32.start_pfn, 4096);
	ASSERT_EQ(dma32.spanned, 61440);
	ASSERT_EQ(dma32.present, 61440);
	ASSERT_EQ(dma32.managed, 61440 - 1024);
	ASSERT(!normal.populated);
	/* pfn 1 is order 0, 2 order 1, ... 512 order 9, then 3 order-10 blocks */
	for (int o = 0; o < 10; o++)
		ASSERT_EQ(dma.nr_free_blocks[o], 1);
	ASSERT_EQ(dma.nr_free_blocks[10], 3);
	ASSERT_EQ(dma32.nr_free_blocks[10], (61440 - 1024) / 1024);
	ASSERT_EQ(dma32.nr_pageblocks[MEMLAB_MIGRATE_MOVABLE], 120);
	ASSERT_EQ(stat(m, "nr_free_pages"), 4095 + 60416);
	ASSERT_EQ(stat(m, "pgfree"), 4095 + 60416);	/* boot frees count, as in Linux */
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** Watermarks re-derived independently, THP off: min_free_kbytes =
** int_sqrt(16 * lowmem kB); each zone's min is its share; low/high/promo
** step by max(min/4, managed * 10 / 10000).  Protection = higher zones'
** managed / lowmem_reserve_ratio.
*/
TEST(watermarks)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	struct memlab_machine_info info;
	uint64_t managed = 4095 + 60416, kb = managed * 4, r = 0;

	ASSERT(m);
	ASSERT_OK(memlab_thp(m, "never", -1, NULL));	/* khugepaged's raise goes */
	while ((r + 1) * (r + 1) <= kb * 16)
		r++;
	memlab_machine_info(m, &info);
	ASSERT_EQ(info.min_free_kbytes, r);
	for (int zid = 0; zid < 2; zid++) {
		struct memlab_zone_info z = zone(m, zid);
		uint64_t min = (r / 4) * z.managed / managed;
		uint64_t step = min / 4 > z.managed * 10 / 10000 ? min / 4 : z.managed * 10 / 10000;

		ASSERT_EQ(z.wmark_min, min);
		ASSERT_EQ(z.wmark_low, min + step);
		ASSERT_EQ(z.wmark_high, min + 2 * step);
		ASSERT_EQ(z.wmark_promo, min + 3 * step);
	}
	ASSERT_EQ(zone(m, 0).lowmem_reserve[1], 60416 / 256);
	ASSERT_EQ(zone(m, 0).lowmem_reserve[2], 60416 / 256);
	ASSERT_EQ(zone(m, 1).lowmem_reserve[1], 0);
	ASSERT_EQ(zone(m, 1).lowmem_reserve[2], 0);
	memlab_destroy(m);
}

/*
** With THP on -- "madvise", the default, at boot -- khugepaged raises
** min_free_kbytes (set_recommended_min_free_kbytes): 11 pageblocks for
** each of the two zones, capped at 5% of what lies above the zones' high
** watermarks of THP off; "never" brings back int_sqrt(16 * lowmem kB).
*/
TEST(watermarks_thp)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	struct memlab_machine_info info;
	uint64_t buffer = 0, want, sqrt_kb;

	ASSERT(m);
	memlab_machine_info(m, &info);
	ASSERT_OK(memlab_thp(m, "never", -1, NULL));
	for (int zid = 0; zid < 2; zid++)
		buffer += zone(m, zid).managed - zone(m, zid).wmark_high;
	want = 2 * 11 * 512 < buffer / 20 ? 2 * 11 * 512 : buffer / 20;
	ASSERT_EQ(info.min_free_kbytes, want * 4);
	memlab_machine_info(m, &info);
	sqrt_kb = info.min_free_kbytes;
	ASSERT(sqrt_kb < want * 4);
	ASSERT_OK(memlab_thp(m, "always", -1, NULL));
	memlab_machine_info(m, &info);
	ASSERT_EQ(info.min_free_kbytes, want * 4);
	ASSERT(zone(m, 1).wmark_min > (sqrt_kb / 4) * zone(m, 1).managed / (4095 + 60416));
	memlab_destroy(m);
}

/* An order-0 request splits the lowest order-10 block; freeing merges it back. */
TEST(split_and_merge)
{
	memlab_machine *m = make_buddy(256ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t pfn = 0, before = 0;

	ASSERT(m);
	before = zone(m, 1).nr_free;
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &pfn));
	ASSERT_EQ(pfn, 4096);
	for (int o = 0; o < 10; o++)
		ASSERT_EQ(zone(m, 1).nr_free_blocks[o], 1);
	ASSERT_EQ(zone(m, 1).nr_free_blocks[10], 58);
	ASSERT_EQ(zone(m, 1).nr_free, before - 1);
	ASSERT_EQ(stat(m, "pgalloc_dma32"), 1);
	ASSERT_CHECK(m);
	ASSERT_OK(memlab_free_pages(m, pfn, 0));
	for (int o = 0; o < 10; o++)
		ASSERT_EQ(zone(m, 1).nr_free_blocks[o], 0);
	ASSERT_EQ(zone(m, 1).nr_free_blocks[10], 59);
	ASSERT_EQ(stat(m, "pgfree"), 4095 + 60416 + 1);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* The upper halves of a split are handed out next, lowest first. */
TEST(buddies_are_neighbours)
{
	memlab_machine *m = make_buddy(256ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t a, b, c;

	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &a));
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &b));
	ASSERT_OK(memlab_alloc_pages(m, 1, MEMLAB_GFP_HIGHUSER_MOVABLE, &c));
	ASSERT_EQ(b, a ^ 1);
	ASSERT_EQ(c, a + 2);
	ASSERT_OK(memlab_free_pages(m, a, 0));
	ASSERT_OK(memlab_free_pages(m, c, 1));
	ASSERT_EQ(zone(m, 1).nr_free_blocks[0], 1);
	ASSERT_OK(memlab_free_pages(m, b, 0));
	ASSERT_EQ(zone(m, 1).nr_free_blocks[10], 59);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* Bad frees are reported as bad pages and change nothing. */
TEST(bad_frees)
{
	memlab_machine *m = make(64ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t pfn, free_before;

	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 2, MEMLAB_GFP_KERNEL, &pfn));
	free_before = stat(m, "nr_free_pages");
	nr_reports = 0;
	ASSERT_EQ(memlab_free_pages(m, pfn, 1), -MEMLAB_EINVAL);	/* wrong order */
	ASSERT_EQ(memlab_free_pages(m, pfn + 1, 0), -MEMLAB_EINVAL);	/* not the head */
	ASSERT_EQ(memlab_free_pages(m, 0, 0), -MEMLAB_EINVAL);		/* reserved */
	ASSERT_EQ(memlab_free_pages(m, 1ull << 40, 0), -MEMLAB_EINVAL);	/* beyond RAM */
	ASSERT_EQ(memlab_free_pages(m, pfn, 11), -MEMLAB_EINVAL);	/* beyond max order */
	ASSERT_EQ(nr_reports, 5);
	ASSERT(strstr(last_report, "BUG: Bad page state in process memlab"));
	ASSERT_EQ(stat(m, "nr_free_pages"), free_before);
	ASSERT_CHECK(m);
	ASSERT_OK(memlab_free_pages(m, pfn, 2));
	{
		struct memlab_page_info pi;
		int pcp = zone(m, 1).pcp_count;

		ASSERT_OK(memlab_page_info(m, pfn, &pi));
		ASSERT(pi.pcp && !pi.buddy && !pi.free && pi.refcount == 0);	/* on the pcp */
		ASSERT_EQ(memlab_free_pages(m, pfn, 2), -MEMLAB_EINVAL);	/* double free */
		ASSERT_EQ(zone(m, 1).pcp_count, pcp);
	}
	ASSERT_EQ(nr_reports, 6);
	ASSERT(strstr(last_report, "pfn:"));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* Bad requests: order too large, DMA|DMA32, MOVABLE|RECLAIMABLE, unknown bits. */
TEST(bad_requests)
{
	memlab_machine *m = make(64ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t pfn;

	ASSERT(m);
	ASSERT_EQ(memlab_alloc_pages(m, 11, MEMLAB_GFP_KERNEL, &pfn), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB___GFP_DMA | MEMLAB___GFP_DMA32, &pfn), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB___GFP_MOVABLE | MEMLAB___GFP_RECLAIMABLE, &pfn),
		  -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_alloc_pages(m, 0, 0x80000000u, &pfn), -MEMLAB_EINVAL);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

static int exhaust(memlab_machine *m, unsigned order, uint32_t gfp, uint64_t *pfns, int max)
{
	int n = 0;

	while (n < max && memlab_alloc_pages(m, order, gfp, &pfns[n]) == 0)
		n++;
	return n;
}

/*
** GFP_KERNEL stops when DMA32 is down to its min watermark and DMA down to
** min + the reserve it keeps against DMA32 requests; GFP_ATOMIC goes below
** min; GFP_DMA may use DMA's reserve.
*/
TEST(watermark_and_lowmem_reserve)
{
	/* exact watermark arithmetic: no pcp refill may overshoot the mark */
	memlab_machine *m = make_buddy(256ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t *pfns = calloc(70000, sizeof(uint64_t)), pfn;
	struct memlab_zone_info dma, dma32;
	struct memlab_vm_sysctl no_boost = { -1, -1, -1, -1, -1, -1, -1, 0 };
	int n, k;

	ASSERT(m && pfns);
	/*
	 * Without boosting: once DMA is used, a GFP_KERNEL fallback claims
	 * one of its movable pageblocks and boost_watermark raises its marks
	 * by a pageblock (512 > 1.5 * high), past the pages still free, and
	 * kswapd, hopeless here, never reclaims the boost.  That is Linux's
	 * rule too; this test is about the reserves.
	 */
	ASSERT_EQ(memlab_vm_sysctl(m, &no_boost, NULL), 0);
	n = exhaust(m, 0, MEMLAB_GFP_KERNEL, pfns, 70000);
	dma = zone(m, 0), dma32 = zone(m, 1);
	ASSERT_EQ(dma32.nr_free, dma32.wmark_min);
	ASSERT_EQ(dma.nr_free, dma.wmark_min + dma.lowmem_reserve[1]);
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn), -MEMLAB_ENOMEM);
	k = exhaust(m, 0, MEMLAB_GFP_ATOMIC, pfns + n, 70000 - n);
	ASSERT(k > 0);
	dma32 = zone(m, 1);
	ASSERT(dma32.nr_free < dma32.wmark_min);
	n += k;
	k = exhaust(m, 0, MEMLAB_GFP_DMA, pfns + n, 70000 - n);
	ASSERT(k > 0);
	dma = zone(m, 0);
	ASSERT(dma.nr_free <= dma.wmark_min);
	n += k;
	ASSERT_CHECK(m);
	while (n--)
		ASSERT_OK(memlab_free_pages(m, pfns[n], 0));
	ASSERT_EQ(zone(m, 1).nr_free_blocks[10], 59);
	ASSERT_CHECK(m);
	free(pfns);
	memlab_destroy(m);
}

/* Free memory everywhere, no free block of order 9: the order-9 request fails. */
TEST(fragmentation_defeats_high_order)
{
	memlab_machine *m = make(64ull << 20, MEMLAB_ZONES_SINGLE);
	uint64_t *pfns = calloc(20000, sizeof(uint64_t)), pfn;
	int n;

	ASSERT(m && pfns);
	n = exhaust(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_MEMALLOC, pfns, 20000);
	ASSERT(n > 10000);
	ASSERT_EQ(zone(m, 0).nr_free, 0);
	for (int i = 0; i < n; i++)
		if (pfns[i] & 1)
			ASSERT_OK(memlab_free_pages(m, pfns[i], 0));
	ASSERT(zone(m, 0).nr_free > 5000);
	ASSERT_EQ(memlab_alloc_pages(m, 9, MEMLAB_GFP_KERNEL, &pfn), -MEMLAB_ENOMEM);
	ASSERT_EQ(memlab_alloc_pages(m, 1, MEMLAB_GFP_KERNEL, &pfn), -MEMLAB_ENOMEM);
	ASSERT(memlab_fragmentation_index(m, 0, 9) > 900);
	ASSERT_EQ(memlab_fragmentation_index(m, 0, 0), -1000);
	ASSERT_CHECK(m);
	for (int i = 0; i < n; i++)
		if (!(pfns[i] & 1))
			ASSERT_OK(memlab_free_pages(m, pfns[i], 0));
	ASSERT_OK(memlab_alloc_pages(m, 9, MEMLAB_GFP_KERNEL, &pfn));
	ASSERT_CHECK(m);
	free(pfns);
	memlab_destroy(m);
}

/*
** An unmovable request in an all-Movable zone claims a whole order-10
** block: both its pageblocks turn Unmovable.  A movable one does not.
*/
TEST(fallback_claims_pageblocks)
{
	memlab_machine *m = make(64ull << 20, MEMLAB_ZONES_SINGLE);
	struct memlab_page_info pi;
	uint64_t a, b;

	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &a));
	ASSERT_EQ(zone(m, 0).nr_pageblocks[MEMLAB_MIGRATE_UNMOVABLE], 0);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &b));
	ASSERT_EQ(zone(m, 0).nr_pageblocks[MEMLAB_MIGRATE_UNMOVABLE], 2);
	ASSERT_OK(memlab_page_info(m, b, &pi));
	ASSERT_EQ(pi.pageblock_migratetype, MEMLAB_MIGRATE_UNMOVABLE);
	/* the rest of the claimed block now serves unmovable requests first */
	ASSERT_EQ(zone(m, 0).nr_free_mt[9][MEMLAB_MIGRATE_UNMOVABLE], 1);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL | MEMLAB___GFP_RECLAIMABLE, &a));
	ASSERT_EQ(zone(m, 0).nr_pageblocks[MEMLAB_MIGRATE_RECLAIMABLE], 2);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** A movable order-0 request that finds only an Unmovable pageblock with a
** few free pages steals one page and leaves the pageblock Unmovable
** (should_try_claim_block is false below pageblock_order / 2 for movable
** requests: __rmqueue_steal).
*/
TEST(fallback_steals_single_page)
{
	memlab_machine *m = make(64ull << 20, MEMLAB_ZONES_SINGLE);
	uint64_t *pfns = calloc(20000, sizeof(uint64_t)), pfn;
	struct memlab_page_info pi;
	int n;

	ASSERT(m && pfns);
	n = exhaust(m, 0, MEMLAB_GFP_KERNEL | MEMLAB___GFP_MEMALLOC, pfns, 20000);	/* every pageblock Unmovable */
	ASSERT(n > 10000);
	/* all but pageblock 0, which straddles the zone's start (pfn 0 is not
	 * in the zone) and so cannot be claimed -- in Linux neither */
	ASSERT_EQ(zone(m, 0).nr_pageblocks[MEMLAB_MIGRATE_MOVABLE], 1);
	ASSERT_OK(memlab_page_info(m, 1, &pi));
	ASSERT_EQ(pi.pageblock_migratetype, MEMLAB_MIGRATE_MOVABLE);
	ASSERT_OK(memlab_free_pages(m, pfns[100], 0));
	ASSERT_OK(memlab_free_pages(m, pfns[300], 0));
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_MEMALLOC, &pfn), 0);
	ASSERT_OK(memlab_page_info(m, pfn, &pi));
	ASSERT_EQ(pi.pageblock_migratetype, MEMLAB_MIGRATE_UNMOVABLE);
	ASSERT_EQ(zone(m, 0).nr_pageblocks[MEMLAB_MIGRATE_MOVABLE], 1);
	ASSERT_CHECK(m);
	free(pfns);
	memlab_destroy(m);
}

/* High-order atomic allocations reserve a HighAtomic pageblock. */
TEST(highatomic_reserve)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_SINGLE);
	uint64_t pfn;

	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 2, MEMLAB_GFP_ATOMIC, &pfn));
	ASSERT_EQ(zone(m, 0).nr_reserved_highatomic, 0);	/* fast path: no ALLOC_HIGHATOMIC */
	ASSERT_OK(memlab_free_pages(m, pfn, 2));
	/*
	** only the slow path sets ALLOC_HIGHATOMIC: fill to the low watermark
	** first, with order-4 blocks, which bypass the per-CPU lists (an
	** order-0 refill could take the zone far below the mark at once)
	*/
	{
		uint64_t *pfns = calloc(70000, sizeof(uint64_t));
		int n = 0;
		struct memlab_zone_info z;

		ASSERT(pfns);
		for (;;) {
			z = zone(m, 0);
			if (z.nr_free <= z.wmark_low + 1)
				break;
			ASSERT_OK(memlab_alloc_pages(m, 4, MEMLAB_GFP_HIGHUSER_MOVABLE, &pfns[n]));
			n++;
		}
		ASSERT_OK(memlab_alloc_pages(m, 2, MEMLAB_GFP_ATOMIC, &pfn));
		ASSERT_EQ(zone(m, 0).nr_reserved_highatomic, 512);
		ASSERT_EQ(zone(m, 0).nr_pageblocks[MEMLAB_MIGRATE_HIGHATOMIC], 1);
		ASSERT_CHECK(m);
		while (n--)
			ASSERT_OK(memlab_free_pages(m, pfns[n], 4));
		free(pfns);
	}
	ASSERT_OK(memlab_free_pages(m, pfn, 2));
	ASSERT_OK(memlab_drain_pages(m));	/* the order-2 blocks on the pcp back home */
	ASSERT(zone(m, 0).nr_free_highatomic >= 512);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* A seeded random workload keeps every invariant; all freed, the orders return. */
TEST(random_workload)
{
	memlab_machine *m = make(128ull << 20, MEMLAB_ZONES_ARCH);
	static const uint32_t gfps[] = {
		MEMLAB_GFP_KERNEL, MEMLAB_GFP_HIGHUSER_MOVABLE, MEMLAB_GFP_KERNEL | MEMLAB___GFP_RECLAIMABLE,
		MEMLAB_GFP_DMA, MEMLAB_GFP_NOWAIT, MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO,
	};
	struct { uint64_t pfn; unsigned order; } live[4096];
	uint64_t x = 12345, boot[11];
	int n = 0;

	ASSERT(m);
	for (int o = 0; o <= 10; o++)
		boot[o] = zone(m, 1).nr_free_blocks[o];
	for (int i = 0; i < 60000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (n < 4096 && ((x >> 33) % 3 != 0 || n == 0)) {
			unsigned order = (unsigned)((x >> 40) % 5);

			if (memlab_alloc_pages(m, order, gfps[(x >> 20) % 6], &live[n].pfn) == 0)
				live[n++].order = order;
		} else {
			int k = (int)((x >> 24) % (uint64_t)n);

			ASSERT_OK(memlab_free_pages(m, live[k].pfn, live[k].order));
			live[k] = live[--n];
		}
		if (i % 5000 == 0)
			ASSERT_CHECK(m);
	}
	while (n--)
		ASSERT_OK(memlab_free_pages(m, live[n].pfn, live[n].order));
	ASSERT_CHECK(m);
	ASSERT_OK(memlab_drain_pages(m));	/* everything merges back */
	for (int o = 0; o <= 10; o++)
		ASSERT_EQ(zone(m, 1).nr_free_blocks[o], boot[o]);
	ASSERT_EQ(stat(m, "nr_free_pages"), zone(m, 0).managed + zone(m, 1).managed);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* ===================== per-CPU page lists ===================== */

static struct memlab_page_info page_info(memlab_machine *m, uint64_t pfn)
{
	struct memlab_page_info pi;

	memset(&pi, 0, sizeof(pi));
	memlab_page_info(m, pfn, &pi);
	return pi;
}

/* zone_batchsize() re-derived: min(managed / 1024, 1 MiB) / 4, to 2^n - 1, at least 1. */
static int expect_batch(uint64_t managed)
{
	uint64_t b = managed >> 10, p = 1;

	if (b > 256)
		b = 256;
	b /= 4;
	if (b < 1)
		b = 1;
	while (p * 2 <= b + b / 2)
		p *= 2;
	return p - 1 > 0 ? (int)p - 1 : 1;
}

/*
** The first order-0 allocation refills the empty list with one batch
** (nr_pcp_alloc: pcp->high clamped up to high_min, then raised by a batch)
** taken from the buddy in physical order; the first page is handed out,
** the rest stay on the pcp, counted neither in buddyinfo nor MemFree.
*/
TEST(pcp_first_alloc_takes_a_batch)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	struct memlab_zone_info before, after;
	uint64_t pfn;
	int batch;

	ASSERT(m);
	before = zone(m, 1);
	batch = expect_batch(before.managed);
	ASSERT_EQ(batch, 15);
	ASSERT_EQ(before.pcp_batch, batch);
	ASSERT_EQ(before.pcp_count, 0);
	ASSERT_EQ(before.pcp_high, 0);		/* per_cpu_pages_init's boot value */
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &pfn));
	ASSERT_EQ(pfn, 4096);
	after = zone(m, 1);
	ASSERT_EQ(after.nr_free, before.nr_free - batch);
	ASSERT_EQ(stat(m, "nr_free_pages"), before.nr_free + zone(m, 0).nr_free - batch);
	ASSERT_EQ(after.pcp_count, batch - 1);
	ASSERT_EQ(after.pcp_high, before.pcp_high_min + batch);
	ASSERT_EQ(stat(m, "pgalloc_dma32"), 1);	/* pages handed out, not refilled */
	/* 4096..4110 left the buddy: 4111 (order 0), then 4112, 4128, ... */
	ASSERT_EQ(after.nr_free_blocks[0], 1);
	for (int o = 1; o < 4; o++)
		ASSERT_EQ(after.nr_free_blocks[o], 0);
	for (int o = 4; o < 10; o++)
		ASSERT_EQ(after.nr_free_blocks[o], 1);
	ASSERT_EQ(after.nr_free_blocks[10], 58);
	for (uint64_t p = 4097; p < 4096 + (uint64_t)batch; p++) {
		struct memlab_page_info pi = page_info(m, p);

		ASSERT(pi.pcp && !pi.buddy && !pi.free && pi.refcount == 0);
	}
	ASSERT(!page_info(m, 4096).pcp);
	ASSERT(page_info(m, 4111).buddy);
	ASSERT_CHECK(m);
	/* the list is handed out from its head, in the order it was filled */
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_HIGHUSER_MOVABLE, &pfn));
	ASSERT_EQ(pfn, 4097);
	ASSERT_EQ(zone(m, 1).nr_free, after.nr_free);
	ASSERT_EQ(zone(m, 1).pcp_count, batch - 2);
	memlab_destroy(m);
}

/* A freed page goes to the head of its list and is the next one handed out. */
TEST(pcp_free_is_lifo)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t a, b, c, d, free_before, pgfree;
	int count;

	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &a));
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &b));
	free_before = zone(m, 1).nr_free;
	count = zone(m, 1).pcp_count;
	pgfree = stat(m, "pgfree");
	ASSERT_OK(memlab_free_pages(m, a, 0));
	ASSERT_OK(memlab_free_pages(m, b, 0));
	ASSERT_EQ(zone(m, 1).nr_free, free_before);	/* not back in the buddy */
	ASSERT_EQ(zone(m, 1).pcp_count, count + 2);
	ASSERT_EQ(stat(m, "pgfree"), pgfree + 2);	/* PGFREE counts pcp frees */
	ASSERT(page_info(m, a).pcp && page_info(m, b).pcp);
	ASSERT_CHECK(m);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &c));
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &d));
	ASSERT_EQ(c, b);
	ASSERT_EQ(d, a);
	ASSERT_EQ(zone(m, 1).pcp_count, count);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** Freeing without allocating: once pcp->count reaches high (nr_pcp_high),
** nr_pcp_free() pages go back to the buddy, from the lists' tails: the
** freed pages in a row (free_count, at most batch << 5), at least a batch,
** leaving a batch.  The page just freed stays at the head.
*/
TEST(pcp_free_past_high_drains_a_bulk)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	enum { N = 10000 };
	uint64_t *pfns = calloc(N, sizeof(uint64_t));
	int batch, bulks = 0, free_count = 0;

	ASSERT(m && pfns);
	for (int i = 0; i < N; i++)
		ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfns[i]));
	batch = zone(m, 1).pcp_batch;
	ASSERT(zone(m, 1).nr_free > zone(m, 1).wmark_high);	/* not ZONE_BELOW_HIGH */
	for (int i = 0; i < N; i++) {
		struct memlab_zone_info z0 = zone(m, 1), z1;
		int expect = 0;

		ASSERT(page_info(m, pfns[i]).zone == 1);
		if (free_count < batch << 5)
			free_count++;
		if (z0.pcp_count + 1 >= z0.pcp_high) {
			expect = free_count > batch ? free_count : batch;
			if (expect > z0.pcp_high - batch)
				expect = z0.pcp_high - batch;
		}
		ASSERT_OK(memlab_free_pages(m, pfns[i], 0));
		z1 = zone(m, 1);
		ASSERT_EQ(z1.pcp_count, z0.pcp_count + 1 - expect);
		ASSERT_EQ(z1.nr_free, z0.nr_free + (uint64_t)expect);
		ASSERT(page_info(m, pfns[i]).pcp);
		bulks += expect > 0;
	}
	ASSERT(bulks > 0);
	ASSERT_CHECK(m);
	free(pfns);
	memlab_destroy(m);
}

/* After any workload, drain_all_pages() gives back every pcp page: boot buddyinfo again. */
TEST(pcp_drain_restores_boot_buddyinfo)
{
	memlab_machine *m = make(128ull << 20, MEMLAB_ZONES_ARCH);
	struct { uint64_t pfn; unsigned order; } live[2048];
	static const unsigned orders[] = { 0, 0, 0, 1, 2, 3, 9, 4 };
	char *boot = NULL, *now = NULL;
	uint64_t x = 99, free_boot;
	size_t len;
	int n = 0;

	ASSERT(m);
	ASSERT_OK(memlab_proc(m, "buddyinfo", &boot, &len));
	free_boot = stat(m, "nr_free_pages");
	for (int i = 0; i < 20000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (n < 2048 && ((x >> 33) % 3 != 0 || n == 0)) {
			unsigned order = orders[(x >> 40) % 8];

			if (memlab_alloc_pages(m, order, (x >> 20) & 1 ? MEMLAB_GFP_KERNEL
					       : MEMLAB_GFP_HIGHUSER_MOVABLE, &live[n].pfn) == 0)
				live[n++].order = order;
		} else {
			int k = (int)((x >> 24) % (uint64_t)n);

			ASSERT_OK(memlab_free_pages(m, live[k].pfn, live[k].order));
			live[k] = live[--n];
		}
	}
	while (n--)
		ASSERT_OK(memlab_free_pages(m, live[n].pfn, live[n].order));
	ASSERT(zone(m, 1).pcp_count > 0);
	ASSERT(stat(m, "nr_free_pages") < free_boot);
	ASSERT_CHECK(m);
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT_EQ(zone(m, 0).pcp_count, 0);
	ASSERT_EQ(zone(m, 1).pcp_count, 0);
	ASSERT_EQ(stat(m, "nr_free_pages"), free_boot);
	ASSERT_OK(memlab_proc(m, "buddyinfo", &now, &len));
	ASSERT_STREQ(now, boot);
	ASSERT_CHECK(m);
	memlab_free_text(m, boot);
	memlab_free_text(m, now);
	memlab_destroy(m);
}

/*
** Below the watermarks, pages on the pcp are out of reach: GFP_ATOMIC fails
** and leaves them there; GFP_KERNEL may reclaim, so its slow path drains
** every pcp (__alloc_pages_direct_reclaim) before it gives up.
*/
TEST(pcp_slow_path_drains)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	uint64_t *pfns = calloc(70000, sizeof(uint64_t)), pfn, free0;
	int n, k, pcp0, freed = 0;

	ASSERT(m && pfns);
	n = exhaust(m, 0, MEMLAB_GFP_KERNEL, pfns, 70000);
	ASSERT_EQ(zone(m, 0).pcp_count, 0);	/* the last attempt drained */
	ASSERT_EQ(zone(m, 1).pcp_count, 0);
	/* GFP_ATOMIC down to its reserves, with nothing left on any pcp */
	for (;;) {
		n += exhaust(m, 0, MEMLAB_GFP_ATOMIC, pfns + n, 70000 - n);
		ASSERT_OK(memlab_drain_pages(m));
		if (memlab_alloc_pages(m, 0, MEMLAB_GFP_ATOMIC, &pfns[n]) != 0)
			break;
		n++;
	}
	ASSERT(zone(m, 1).nr_free + 10 < zone(m, 1).wmark_min);
	for (k = n - 1; k >= 0 && freed < 10; k--)
		if (pfns[k] >= 4096) {
			ASSERT_OK(memlab_free_pages(m, pfns[k], 0));
			pfns[k] = PFN_UNUSED;
			freed++;
		}
	free0 = zone(m, 1).nr_free;
	pcp0 = zone(m, 1).pcp_count;
	ASSERT_EQ(pcp0, 10);
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB_GFP_ATOMIC, &pfn), -MEMLAB_ENOMEM);
	ASSERT_EQ(zone(m, 1).pcp_count, pcp0);	/* GFP_ATOMIC does not drain */
	ASSERT_EQ(zone(m, 1).nr_free, free0);
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn), -MEMLAB_ENOMEM);
	ASSERT_EQ(zone(m, 1).pcp_count, 0);	/* GFP_KERNEL drained */
	ASSERT_EQ(zone(m, 1).nr_free, free0 + (uint64_t)pcp0);
	ASSERT_CHECK(m);
	while (n--)
		if (pfns[n] != PFN_UNUSED)
			ASSERT_OK(memlab_free_pages(m, pfns[n], 0));
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT_EQ(zone(m, 1).nr_free, zone(m, 1).managed);
	ASSERT_CHECK(m);
	free(pfns);
	memlab_destroy(m);
}

/* The value after "label" in the DMA32 zone's block of /proc/zoneinfo. */
static long zoneinfo_dma32(memlab_machine *m, const char *label)
{
	char *text = NULL, *p;
	size_t len;
	long v = -1;

	if (memlab_proc(m, "zoneinfo", &text, &len) != 0)
		return -1;
	p = strstr(text, "zone    DMA32");
	p = p ? strstr(p, label) : NULL;
	if (p)
		v = strtol(p + strlen(label), NULL, 10);
	memlab_free_text(m, text);
	return v;
}

/* zoneinfo's pageset is the live one: count, high and batch follow the pcp. */
TEST(zoneinfo_pagesets_are_live)
{
	memlab_machine *m = make(256ull << 20, MEMLAB_ZONES_ARCH);
	struct memlab_zone_info z;
	uint64_t pfn;

	ASSERT(m);
	ASSERT_EQ(zoneinfo_dma32(m, "count:    "), 0);
	ASSERT_EQ(zoneinfo_dma32(m, "high:     "), 0);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn));
	z = zone(m, 1);
	ASSERT_EQ(zoneinfo_dma32(m, "count:    "), 14);
	ASSERT_EQ(zoneinfo_dma32(m, "count:    "), z.pcp_count);
	ASSERT_EQ(zoneinfo_dma32(m, "high:     "), z.pcp_high_min + 15);
	ASSERT_EQ(zoneinfo_dma32(m, "batch:    "), 15);
	ASSERT_EQ(zoneinfo_dma32(m, "high_min: "), z.pcp_high_min);
	ASSERT_EQ(zoneinfo_dma32(m, "high_max: "), z.pcp_high_max);
	ASSERT_EQ(z.pcp_high_max, (int)(z.managed / 8));
	ASSERT_OK(memlab_free_pages(m, pfn, 0));
	ASSERT_EQ(zoneinfo_dma32(m, "count:    "), 15);
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT_EQ(zoneinfo_dma32(m, "count:    "), 0);
	memlab_destroy(m);
	/* pcp disabled: zone_pcp_disable()'s high 0, batch 1, and nothing kept */
	m = make_buddy(256ull << 20, MEMLAB_ZONES_ARCH);
	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn));
	ASSERT_EQ(zoneinfo_dma32(m, "count:    "), 0);
	ASSERT_EQ(zoneinfo_dma32(m, "high:     "), 0);
	ASSERT_EQ(zoneinfo_dma32(m, "batch:    "), 1);
	ASSERT_OK(memlab_free_pages(m, pfn, 0));
	ASSERT(page_info(m, pfn).free);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* __GFP_ZERO clears what a previous owner left. */
TEST(gfp_zero_and_phys_access)
{
	memlab_machine *m = make(64ull << 20, MEMLAB_ZONES_ARCH);
	char buf[16], zero[16] = { 0 };
	uint64_t pfn, again;

	ASSERT(m);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn));
	ASSERT_OK(memlab_write_phys(m, pfn * 4096 + 100, "memlab", 6));
	ASSERT_OK(memlab_read_phys(m, pfn * 4096 + 100, buf, 6));
	ASSERT(memcmp(buf, "memlab", 6) == 0);
	ASSERT_OK(memlab_free_pages(m, pfn, 0));
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &again));
	ASSERT_EQ(again, pfn);
	ASSERT_OK(memlab_read_phys(m, pfn * 4096 + 100, buf, 6));
	ASSERT(memcmp(buf, "memlab", 6) == 0);	/* not zeroed without __GFP_ZERO */
	ASSERT_OK(memlab_free_pages(m, pfn, 0));
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO, &again));
	ASSERT_OK(memlab_read_phys(m, pfn * 4096 + 100, buf, 16));
	ASSERT(memcmp(buf, zero, 16) == 0);
	ASSERT_EQ(memlab_read_phys(m, (64ull << 20) - 8, buf, 16), -MEMLAB_EFAULT);
	ASSERT_EQ(memlab_write_phys(m, UINT64_MAX - 4, buf, 16), -MEMLAB_EFAULT);
	memlab_destroy(m);
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * 4;
}

/* A 64 GiB machine costs the host little until frames are written. */
TEST(large_machine_is_lazy)
{
	long before = rss_kb();
	memlab_machine *m = make(64ull << 30, MEMLAB_ZONES_ARCH);
	uint64_t pfn;

	ASSERT(m);
	ASSERT(zone(m, 2).populated);
	ASSERT_EQ(zone(m, 2).start_pfn, 1ull << 20);
	ASSERT(rss_kb() - before < 160 * 1024);
	ASSERT_OK(memlab_alloc_pages(m, 10, MEMLAB_GFP_KERNEL, &pfn));
	ASSERT(pfn >= 1ull << 20);	/* Normal first */
	ASSERT_OK(memlab_free_pages(m, pfn, 10));
	memlab_destroy(m);
}

/* arm64 granules: MAX_PAGE_ORDER and pageblock_order follow the page size. */
TEST(arm64_granules)
{
	static const struct { uint32_t ps; unsigned max, pb; } g[] = {
		{ 4096, 10, 9 }, { 16384, 11, 11 }, { 65536, 13, 13 },
	};

	for (int i = 0; i < 3; i++) {
		struct memlab_config cfg;
		struct memlab_machine_info info;
		memlab_machine *m;
		uint64_t pfn;

		memlab_config_init(&cfg);
		cfg.arch = MEMLAB_ARCH_ARM64;
		cfg.page_size = g[i].ps;
		cfg.ram = 2ull << 30;
		ASSERT_OK(memlab_create(&cfg, &m));
		memlab_machine_info(m, &info);
		ASSERT_EQ(info.max_order, g[i].max);
		ASSERT_EQ(info.pageblock_order, g[i].pb);
		ASSERT_OK(memlab_alloc_pages(m, g[i].max, MEMLAB_GFP_KERNEL, &pfn));
		ASSERT_OK(memlab_free_pages(m, pfn, g[i].max));
		ASSERT_CHECK(m);
		memlab_destroy(m);
	}
}

/* Configurations Linux could not boot are refused. */
TEST(bad_configs)
{
	struct memlab_config cfg;
	memlab_machine *m;

	memlab_config_init(&cfg);
	cfg.page_size = 65536;			/* x86-64 has 4K pages only */
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	memlab_config_init(&cfg);
	cfg.ram = 1000;
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	memlab_config_init(&cfg);
	cfg.ram = 4096 * 100;			/* below two max-order blocks */
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	memlab_config_init(&cfg);
	cfg.watermark_scale_factor = 5000;
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	memlab_config_init(&cfg);
	cfg.arch = 7;
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	ASSERT(m == NULL);
}

TEST(gfp_names)
{
	char buf[128];

	memlab_gfp_format(MEMLAB_GFP_KERNEL, buf, sizeof(buf));
	ASSERT_STREQ(buf, "GFP_KERNEL");
	memlab_gfp_format(MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO | MEMLAB___GFP_NOWARN, buf, sizeof(buf));
	ASSERT_STREQ(buf, "GFP_KERNEL|__GFP_NOWARN|__GFP_ZERO");
	memlab_gfp_format(MEMLAB_GFP_HIGHUSER_MOVABLE, buf, sizeof(buf));
	ASSERT_STREQ(buf, "GFP_HIGHUSER_MOVABLE");
	memlab_gfp_format(MEMLAB_GFP_ATOMIC, buf, sizeof(buf));
	ASSERT_STREQ(buf, "GFP_ATOMIC");
	memlab_gfp_format(0, buf, sizeof(buf));
	ASSERT_STREQ(buf, "none");
	ASSERT_STREQ(memlab_err_name(-12), "ENOMEM");
	ASSERT_STREQ(memlab_strerror(22), "Invalid argument");
}

int main(void)
{
	RUN(boot_layout);
	RUN(watermarks);
	RUN(watermarks_thp);
	RUN(split_and_merge);
	RUN(buddies_are_neighbours);
	RUN(bad_frees);
	RUN(bad_requests);
	RUN(watermark_and_lowmem_reserve);
	RUN(fragmentation_defeats_high_order);
	RUN(fallback_claims_pageblocks);
	RUN(fallback_steals_single_page);
	RUN(highatomic_reserve);
	RUN(random_workload);
	RUN(pcp_first_alloc_takes_a_batch);
	RUN(pcp_free_is_lifo);
	RUN(pcp_free_past_high_drains_a_bulk);
	RUN(pcp_drain_restores_boot_buddyinfo);
	RUN(pcp_slow_path_drains);
	RUN(zoneinfo_pagesets_are_live);
	RUN(gfp_zero_and_phys_access);
	RUN(large_machine_is_lazy);
	RUN(arm64_granules);
	RUN(bad_configs);
	RUN(gfp_names);
	return test_summary();
}
