/*
** vmstat.c -- the statistics of the simulated machine (mm/vmstat.c): the
** counters of /proc/vmstat, per-zone information, the fragmentation
** indices of debugfs extfrag/, and the machine-wide sums other reports
** need (totalram_pages, totalreserve_pages, the dirty limits).
**
** The page allocator keeps the counters up to date as it works:
** m->vmstat[] (see vmstat.h for its units) and, per zone, nr_free_pages,
** nr_free_pages_blocks and the free_area counts.  This file only reads.
*/
#include <string.h>

#include "internal.h"
#include "vmstat.h"

static const char *const vmstat_text[NR_VMSTAT_ITEMS] = {
#define VMSTAT_TEXT(e, name) [e] = name,
	VMSTAT_ITEMS(VMSTAT_TEXT)
#undef VMSTAT_TEXT
};

/* The /proc/vmstat name of item ("nr_free_pages"). */
const char *vmstat_name(enum vmstat_item item)
{
	return vmstat_text[item];
}

/* ===================== machine-wide sums ===================== */

/* totalram_pages(): the pages the buddy allocator manages, all zones. */
uint64_t totalram_pages(const memlab_machine *m)
{
	uint64_t sum = 0;

	for (int i = 0; i < m->nr_zones; i++)
		sum += m->zones[i].managed_pages;
	return sum;
}

/* global_zone_page_state(NR_FREE_PAGES) as the sum of the zones' counters. */
uint64_t nr_free_pages_total(const memlab_machine *m)
{
	uint64_t sum = 0;

	for (int i = 0; i < m->nr_zones; i++)
		sum += m->zones[i].nr_free_pages;
	return sum;
}

/*
** totalreserve_pages as calculate_totalreserve_pages() (mm/page_alloc.c)
** sets it: per zone the largest lowmem_reserve towards itself or a higher
** zone plus the high watermark, capped by the zone's managed pages.  Linux
** computes it when the watermarks are set, when the boost is 0, so the
** boost is left out here too.
*/
uint64_t calculate_totalreserve_pages(const memlab_machine *m)
{
	uint64_t reserve_pages = 0;

	for (int i = 0; i < m->nr_zones; i++) {
		const struct zone *z = &m->zones[i];
		uint64_t max = 0;

		for (int j = i; j < m->nr_zones; j++)
			if (z->lowmem_reserve[j] > max)
				max = z->lowmem_reserve[j];
		max += z->_watermark[WMARK_HIGH];
		if (max > z->managed_pages)
			max = z->managed_pages;
		reserve_pages += max;
	}
	return reserve_pages;
}

/*
** global_dirtyable_memory() (mm/page-writeback.c): free pages above the
** reserves plus the file LRU; never 0.  No highmem on 64-bit machines.
*/
static uint64_t global_dirtyable_memory(const memlab_machine *m)
{
	uint64_t x = nr_free_pages_total(m);
	uint64_t reserve = calculate_totalreserve_pages(m);

	x -= reserve < x ? reserve : x;
	x += m->vmstat[NR_INACTIVE_FILE];
	x += m->vmstat[NR_ACTIVE_FILE];
	return x + 1;
}

/*
** global_dirty_limits() -> domain_dirty_limits() with Linux's defaults,
** vm.dirty_ratio 20 and vm.dirty_background_ratio 10 (no *_bytes), for a
** task that is not real-time: the ratios are scaled per PAGE_SIZE first,
** as Linux does "for higher precision", which the results show.
*/
void global_dirty_limits(const memlab_machine *m, uint64_t *pbackground,
			 uint64_t *pdirty)
{
	const uint64_t vm_dirty_ratio = 20, dirty_background_ratio = 10;
	uint64_t available_memory = global_dirtyable_memory(m);
	uint64_t ratio = vm_dirty_ratio * m->page_size / 100;
	uint64_t bg_ratio = dirty_background_ratio * m->page_size / 100;
	uint64_t thresh = ratio * available_memory / m->page_size;
	uint64_t bg_thresh = bg_ratio * available_memory / m->page_size;

	if (bg_thresh >= thresh)
		bg_thresh = thresh / 2;
	*pbackground = bg_thresh;
	*pdirty = thresh;
}

/*
** The value /proc/vmstat prints for item (vmstat_start()): the counter the
** allocator keeps, except the items Linux computes when the file is read.
*/
uint64_t global_vmstat(const memlab_machine *m, enum vmstat_item item)
{
	uint64_t bg, dirty;

	switch (item) {
	case NR_DIRTY_THRESHOLD:
	case NR_DIRTY_BACKGROUND_THRESHOLD:
		global_dirty_limits(m, &bg, &dirty);
		return item == NR_DIRTY_THRESHOLD ? dirty : bg;
	case NR_UNSTABLE:
		return 0;	/* vmstat_show() prints a literal "nr_unstable 0" */
	default:
		return m->vmstat[item];
	}
}

static int nr_populated_zones(const memlab_machine *m)
{
	int n = 0;

	for (int i = 0; i < m->nr_zones; i++)
		n += populated_zone(&m->zones[i]);
	return n;
}

/*
** zone_page_state(zone, item) for a zone or NUMA item.  memlab counts the
** free pages and the LRU pages per zone; its other zone counters are
** machine-wide only, and
** they equal the zone's own when the zone is the only populated one (every
** page then lives in it).  Otherwise 0: not modelled per zone yet.
*/
uint64_t zone_page_state(const memlab_machine *m, const struct zone *z,
			 enum vmstat_item item)
{
	switch (item) {
	case NR_FREE_PAGES:
		return z->nr_free_pages;
	case NR_FREE_PAGES_BLOCKS:
		return z->nr_free_pages_blocks;
	case NR_ZONE_INACTIVE_ANON: case NR_ZONE_ACTIVE_ANON: case NR_ZONE_INACTIVE_FILE:
	case NR_ZONE_ACTIVE_FILE: case NR_ZONE_UNEVICTABLE:
		return z->nr_lru[item - NR_ZONE_INACTIVE_ANON];
	case NR_MLOCK:
		return z->nr_mlock;
	default:
		if (populated_zone(z) && nr_populated_zones(m) == 1)
			return m->vmstat[item];
		return 0;
	}
}

/* ===================== fragmentation indices ===================== */

struct contig_page_info {
	uint64_t free_pages;
	uint64_t free_blocks_total;
	uint64_t free_blocks_suitable;
};

/*
** fill_contig_page_info(): free base pages, free blocks, and how many
** blocks of suitable_order the free blocks at or above it would make.
** free_area[] entries above the machine's max order are always empty, so
** walking all NR_ORDERS_MAX of them is the same as walking 0..max_order.
*/
static void fill_contig_page_info(const struct zone *z, unsigned suitable_order,
				  struct contig_page_info *info)
{
	memset(info, 0, sizeof(*info));
	for (unsigned order = 0; order < NR_ORDERS_MAX; order++) {
		uint64_t blocks = z->free_area[order].nr_free;

		info->free_blocks_total += blocks;
		info->free_pages += blocks << order;
		if (order >= suitable_order)
			info->free_blocks_suitable += blocks << (order - suitable_order);
	}
}

/*
** __fragmentation_index(): -1000 when an allocation of this order would
** succeed, else 0..1000 (0: it fails for lack of memory, 1000: from
** fragmentation).  Integer arithmetic as Linux's div_u64, including the
** wrap of "1000 - quotient" to a negative int for a tiny zone, which Linux
** prints as is.
*/
static int __fragmentation_index(unsigned order, const struct contig_page_info *info)
{
	uint64_t requested = 1ull << order;
	uint64_t q;

	if (!info->free_blocks_total)
		return 0;
	if (info->free_blocks_suitable)
		return -1000;
	q = (1000 + info->free_pages * 1000 / requested) / info->free_blocks_total;
	return (int)(1000 - (int64_t)q);
}

/* unusable_free_index(): thousandths of free memory in blocks below order. */
static int unusable_free_index(unsigned order, const struct contig_page_info *info)
{
	if (info->free_pages == 0)
		return 1000;
	return (int)((info->free_pages - (info->free_blocks_suitable << order)) *
		     1000 / info->free_pages);
}

/*
** The fragmentation index of zone z for an allocation of 2^order pages
** (fragmentation_index() in mm/vmstat.c); 0 for an order beyond the free
** areas, as Linux's WARN_ON_ONCE branch returns.
*/
int vmstat_fragmentation_index(const struct zone *z, unsigned order)
{
	struct contig_page_info info;

	if (order >= NR_ORDERS_MAX)
		return 0;
	fill_contig_page_info(z, order, &info);
	return __fragmentation_index(order, &info);
}

/*
** The unusable free space index of zone z for 2^order pages, 0..1000
** (unusable_show_print() in mm/vmstat.c); 1000 for an empty zone.
*/
int vmstat_unusable_index(const struct zone *z, unsigned order)
{
	struct contig_page_info info;

	if (order >= NR_ORDERS_MAX)
		return 1000;
	fill_contig_page_info(z, order, &info);
	return unusable_free_index(order, &info);
}

/* ===================== the public API ===================== */

/* The number of zones of the machine's node, populated or not. */
int memlab_nr_zones(const memlab_machine *m)
{
	return m->nr_zones;
}

static int check_zone_order(const memlab_machine *m, int zid, unsigned order)
{
	if (zid < 0 || zid >= m->nr_zones || order > m->max_order)
		return -MEMLAB_EINVAL;
	return 0;
}

/*
** The fragmentation index of zone zid at order (-1000, or 0..1000), or
** -MEMLAB_EINVAL for a zone or order the machine does not have.
*/
int memlab_fragmentation_index(const memlab_machine *m, int zid, unsigned order)
{
	int err = check_zone_order(m, zid, order);

	return err ? err : vmstat_fragmentation_index(&m->zones[zid], order);
}

/*
** The unusable free space index of zone zid at order (0..1000), or
** -MEMLAB_EINVAL for a zone or order the machine does not have.
*/
int memlab_unusable_index(const memlab_machine *m, int zid, unsigned order)
{
	int err = check_zone_order(m, zid, order);

	return err ? err : vmstat_unusable_index(&m->zones[zid], order);
}

/*
** Pageblocks of each migrate type, counted as
** pagetypeinfo_showblockcount_print() does: from zone_start_pfn in steps
** of pageblock_nr_pages, so a zone starting inside a pageblock (x86-64's
** DMA at pfn 1) counts that pageblock too.  Types beyond MIGRATE_TYPES
** are not counted, as in Linux.
*/
static void count_pageblocks(const memlab_machine *m, const struct zone *z,
			     uint64_t count[MIGRATE_TYPES])
{
	uint64_t nr_pages = 1ull << m->pageblock_order;
	uint64_t end_pfn = zone_end_pfn(z);

	if (end_pfn > m->nr_frames)
		end_pfn = m->nr_frames;	/* pfn_to_online_page() == NULL past RAM */
	for (uint64_t pfn = z->zone_start_pfn; pfn < end_pfn; pfn += nr_pages) {
		int mt = m->pageblock_mt[pfn >> m->pageblock_order];

		if (mt < MIGRATE_TYPES)
			count[mt]++;
	}
}

/* Every CPU's pageset, cpu 0's also in the pcp_* fields, and their sum. */
static void zone_info_pagesets(const memlab_machine *m, const struct zone *z,
			       struct memlab_zone_info *info)
{
	info->nr_cpus = m->nr_cpus;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		const struct per_cpu_pages *pcp = per_cpu_pageset(z, cpu);
		struct memlab_pageset *ps = &info->pagesets[cpu];

		ps->count = pcp->count;
		ps->high = pcp->high;
		ps->batch = pcp->batch;
		ps->high_min = pcp->high_min;
		ps->high_max = pcp->high_max;
		info->pcp_total += (uint64_t)pcp->count;
	}
	info->pcp_count = info->pagesets[0].count;
	info->pcp_high = info->pagesets[0].high;
	info->pcp_batch = info->pagesets[0].batch;
	info->pcp_high_min = info->pagesets[0].high_min;
	info->pcp_high_max = info->pagesets[0].high_max;
}

/*
** Fill info for zone zid (0 .. memlab_nr_zones()-1) with what zoneinfo
** and pagetypeinfo show for it; watermarks are the live ones, boost
** included, as zoneinfo prints them.  Returns 0 or -MEMLAB_EINVAL.
*/
int memlab_zone_info(const memlab_machine *m, int zid,
		     struct memlab_zone_info *info)
{
	const struct zone *z;

	if (zid < 0 || zid >= m->nr_zones)
		return -MEMLAB_EINVAL;
	z = &m->zones[zid];
	memset(info, 0, sizeof(*info));
	info->name = z->name;
	info->populated = populated_zone(z);
	info->start_pfn = z->zone_start_pfn;
	info->spanned = z->spanned_pages;
	info->present = z->present_pages;
	info->managed = z->managed_pages;
	info->nr_free = z->nr_free_pages;
	info->wmark_min = wmark_pages(z, WMARK_MIN);
	info->wmark_low = wmark_pages(z, WMARK_LOW);
	info->wmark_high = wmark_pages(z, WMARK_HIGH);
	info->wmark_promo = wmark_pages(z, WMARK_PROMO);
	info->watermark_boost = z->watermark_boost;
	memcpy(info->lowmem_reserve, z->lowmem_reserve, sizeof(info->lowmem_reserve));
	info->nr_reserved_highatomic = z->nr_reserved_highatomic;
	info->nr_free_highatomic = z->nr_free_highatomic;
	for (unsigned o = 0; o <= m->max_order && o < NR_ORDERS_MAX; o++) {
		info->nr_free_blocks[o] = z->free_area[o].nr_free;
		for (int mt = 0; mt < MIGRATE_TYPES; mt++)
			info->nr_free_mt[o][mt] = z->free_area[o].nr_free_mt[mt];
	}
	if (populated_zone(z))
		count_pageblocks(m, z, info->nr_pageblocks);
	info->pgalloc = m->vmstat[PGALLOC_DMA + z->idx];
	zone_info_pagesets(m, z, info);
	return 0;
}

/*
** Every /proc/vmstat counter in Linux's order: fills out[0 .. n-1] (out
** may be NULL with n 0) and returns the total number of counters.
*/
size_t memlab_vmstat(const memlab_machine *m, struct memlab_stat *out, size_t n)
{
	if (!out)
		n = 0;
	for (size_t i = 0; i < n && i < NR_VMSTAT_ITEMS; i++) {
		out[i].name = vmstat_text[i];
		out[i].value = global_vmstat(m, (enum vmstat_item)i);
	}
	return NR_VMSTAT_ITEMS;
}

/*
** One /proc/vmstat counter by its name; -MEMLAB_ENOENT (and *value
** untouched) when Linux has no counter of that name.
*/
int memlab_vmstat_get(const memlab_machine *m, const char *name, uint64_t *value)
{
	if (!name)
		return -MEMLAB_EINVAL;
	for (int i = 0; i < NR_VMSTAT_ITEMS; i++) {
		if (strcmp(vmstat_text[i], name) == 0) {
			if (value)
				*value = global_vmstat(m, (enum vmstat_item)i);
			return 0;
		}
	}
	return -MEMLAB_ENOENT;
}
