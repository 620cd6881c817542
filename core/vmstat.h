/*
** vmstat.h -- what vmstat.c shares with procfs.c: the machine-wide sums
** that Linux keeps in globals (totalram_pages, totalreserve_pages, the
** dirty limits) and the readers of the counters, named as in Linux.
**
** Convention for m->vmstat[]: every item holds the value /proc/vmstat
** prints, so the THP items (nr_anon_transparent_hugepages, ...) count huge
** pages, nr_kernel_stack counts kB and everything else counts base pages.
*/
#ifndef MEMLAB_VMSTAT_H
#define MEMLAB_VMSTAT_H

#include "internal.h"

/* The groups of vmstat_text[] (mm/vmstat.c), as ranges of enum vmstat_item. */
#define VMSTAT_ZONE_FIRST	NR_FREE_PAGES		/* enum zone_stat_item */
#define VMSTAT_ZONE_LAST	NR_FREE_CMA
#define VMSTAT_NUMA_FIRST	NUMA_HIT		/* enum numa_stat_item */
#define VMSTAT_NUMA_LAST	NUMA_OTHER
#define VMSTAT_NODE_FIRST	NR_INACTIVE_ANON	/* enum node_stat_item */
#define VMSTAT_NODE_LAST	NR_KERNEL_FILE_PAGES

/* wmark_pages() of include/linux/mmzone.h: the live mark, boost included. */
static inline uint64_t wmark_pages(const struct zone *z, enum zone_watermarks i)
{
	return z->_watermark[i] + z->watermark_boost;
}

/* HPAGE_PMD_NR: base pages in a PMD mapping, one page-table page of entries. */
static inline uint64_t hpage_pmd_nr(const memlab_machine *m)
{
	return (uint64_t)m->page_size / 8;
}

const char *vmstat_name(enum vmstat_item item);
uint64_t global_vmstat(const memlab_machine *m, enum vmstat_item item);
uint64_t zone_page_state(const memlab_machine *m, const struct zone *z,
			 enum vmstat_item item);
uint64_t totalram_pages(const memlab_machine *m);
uint64_t nr_free_pages_total(const memlab_machine *m);
uint64_t calculate_totalreserve_pages(const memlab_machine *m);
void global_dirty_limits(const memlab_machine *m, uint64_t *pbackground,
			 uint64_t *pdirty);

#endif
