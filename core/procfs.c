/*
** procfs.c -- the simulated machine's /proc files, byte for byte in the
** format of Linux 6.18 on a one-node machine: meminfo (fs/proc/meminfo.c),
** buddyinfo, pagetypeinfo, zoneinfo and vmstat (mm/vmstat.c), and the
** debugfs files extfrag/extfrag_index and extfrag/unusable_index.
**
** Each renderer is one *_show() function of Linux, printing into a strbuf
** with Linux's own format strings.  Values memlab does not model print as
** an idle kernel prints them, 0; every value memlab has is used.
*/
#include <inttypes.h>
#include <string.h>

#include "internal.h"
#include "mm.h"
#include "vmalloc.h"
#include "vmstat.h"
#include "slab.h"

#define NODE_ID 0	/* memlab simulates one node */

typedef void (*show_fn)(memlab_machine *m, struct strbuf *sb);

/*
** walk_zones_in_node(): call print for each zone of the node, or only for
** the populated ones when assert_populated.
*/
static void walk_zones_in_node(memlab_machine *m, struct strbuf *sb,
			       bool assert_populated,
			       void (*print)(memlab_machine *, struct strbuf *,
					     const struct zone *))
{
	for (int i = 0; i < m->nr_zones; i++) {
		const struct zone *z = &m->zones[i];

		if (assert_populated && !populated_zone(z))
			continue;
		print(m, sb, z);
	}
}

/* ===================== buddyinfo ===================== */

/* frag_show_print(): free blocks of each order, trailing space included. */
static void frag_show_print(memlab_machine *m, struct strbuf *sb,
			    const struct zone *z)
{
	sb_printf(sb, "Node %d, zone %8s ", NODE_ID, z->name);
	for (unsigned order = 0; order <= m->max_order; order++)
		sb_printf(sb, "%6" PRIu64 " ", z->free_area[order].nr_free);
	sb_printf(sb, "\n");
}

static void buddyinfo_show(memlab_machine *m, struct strbuf *sb)
{
	walk_zones_in_node(m, sb, true, frag_show_print);
}

/* ===================== pagetypeinfo ===================== */

/*
** pagetypeinfo_showfree_print(): free blocks per migrate type and order.
** Linux counts a list by walking it and stops at 100000 entries, printing
** ">100000"; memlab has the counts, and prints the same cap.
*/
static void pagetypeinfo_showfree_print(memlab_machine *m, struct strbuf *sb,
					const struct zone *z)
{
	for (int mtype = 0; mtype < MIGRATE_TYPES; mtype++) {
		sb_printf(sb, "Node %4d, zone %8s, type %12s ", NODE_ID, z->name,
			  memlab_migratetype_name(mtype));
		for (unsigned order = 0; order <= m->max_order; order++) {
			uint64_t freecount = z->free_area[order].nr_free_mt[mtype];
			bool overflow = freecount >= 100000;

			if (overflow)
				freecount = 100000;
			sb_printf(sb, "%s%6" PRIu64 " ", overflow ? ">" : "", freecount);
		}
		sb_printf(sb, "\n");
	}
}

static void pagetypeinfo_showfree(memlab_machine *m, struct strbuf *sb)
{
	sb_printf(sb, "%-43s ", "Free pages count per migrate type at order");
	for (unsigned order = 0; order <= m->max_order; order++)
		sb_printf(sb, "%6u ", order);
	sb_printf(sb, "\n");
	walk_zones_in_node(m, sb, true, pagetypeinfo_showfree_print);
}

/* pagetypeinfo_showblockcount_print(): pageblocks of each migrate type. */
static void pagetypeinfo_showblockcount_print(memlab_machine *m,
					      struct strbuf *sb,
					      const struct zone *z)
{
	struct memlab_zone_info info;

	memlab_zone_info(m, (int)(z - m->zones), &info);
	sb_printf(sb, "Node %d, zone %8s ", NODE_ID, z->name);
	for (int mtype = 0; mtype < MIGRATE_TYPES; mtype++)
		sb_printf(sb, "%12" PRIu64 " ", info.nr_pageblocks[mtype]);
	sb_printf(sb, "\n");
}

static void pagetypeinfo_showblockcount(memlab_machine *m, struct strbuf *sb)
{
	sb_printf(sb, "\n%-23s", "Number of blocks type ");
	for (int mtype = 0; mtype < MIGRATE_TYPES; mtype++)
		sb_printf(sb, "%12s ", memlab_migratetype_name(mtype));
	sb_printf(sb, "\n");
	walk_zones_in_node(m, sb, true, pagetypeinfo_showblockcount_print);
}

/*
** pagetypeinfo_show().  memlab has no CONFIG_PAGE_OWNER, so no "Number of
** mixed blocks" section, and no CONFIG_CMA, so no "CMA" type.
*/
static void pagetypeinfo_show(memlab_machine *m, struct strbuf *sb)
{
	sb_printf(sb, "Page block order: %u\n", m->pageblock_order);
	sb_printf(sb, "Pages per block:  %" PRIu64 "\n", (uint64_t)1 << m->pageblock_order);
	sb_printf(sb, "\n");
	pagetypeinfo_showfree(m, sb);
	pagetypeinfo_showblockcount(m, sb);
}

/* ===================== zoneinfo ===================== */

static bool is_zone_first_populated(const memlab_machine *m, const struct zone *z)
{
	for (int i = 0; i < m->nr_zones; i++)
		if (populated_zone(&m->zones[i]))
			return z == &m->zones[i];
	return false;
}

static void zoneinfo_show_node_stats(memlab_machine *m, struct strbuf *sb)
{
	sb_printf(sb, "\n  per-node stats");
	for (int i = VMSTAT_NODE_FIRST; i <= VMSTAT_NODE_LAST; i++)
		sb_printf(sb, "\n      %-12s %" PRIu64, vmstat_name(i),
			  global_vmstat(m, i));
}

static void zoneinfo_show_watermarks(struct strbuf *sb, const struct zone *z)
{
	sb_printf(sb,
		  "\n  pages free     %" PRIu64
		  "\n        boost    %" PRIu64
		  "\n        min      %" PRIu64
		  "\n        low      %" PRIu64
		  "\n        high     %" PRIu64
		  "\n        promo    %" PRIu64
		  "\n        spanned  %" PRIu64
		  "\n        present  %" PRIu64
		  "\n        managed  %" PRIu64
		  "\n        cma      %d",
		  z->nr_free_pages, z->watermark_boost,
		  wmark_pages(z, WMARK_MIN), wmark_pages(z, WMARK_LOW),
		  wmark_pages(z, WMARK_HIGH), wmark_pages(z, WMARK_PROMO),
		  z->spanned_pages, z->present_pages, z->managed_pages, 0);
}

/*
** "protection:" lists lowmem_reserve[], one entry per zone type of the
** kernel (ARRAY_SIZE(zone->lowmem_reserve) == MAX_NR_ZONES).  A memlab
** node has m->nr_zones zone types, all listed by zoneinfo, so that is the
** count: 5 for the x86-64 layout as on the host, 1 for a one-zone machine.
*/
static void zoneinfo_show_protection(memlab_machine *m, struct strbuf *sb,
				     const struct zone *z)
{
	sb_printf(sb, "\n        protection: (%" PRId64, (int64_t)z->lowmem_reserve[0]);
	for (int i = 1; i < m->nr_zones; i++)
		sb_printf(sb, ", %" PRId64, (int64_t)z->lowmem_reserve[i]);
	sb_printf(sb, ")");
}

static void zoneinfo_show_zone_stats(memlab_machine *m, struct strbuf *sb,
				     const struct zone *z)
{
	for (int i = VMSTAT_ZONE_FIRST; i <= VMSTAT_ZONE_LAST; i++)
		sb_printf(sb, "\n      %-12s %" PRIu64, vmstat_name(i),
			  zone_page_state(m, z, i));
	for (int i = VMSTAT_NUMA_FIRST; i <= VMSTAT_NUMA_LAST; i++)
		sb_printf(sb, "\n      %-12s %" PRIu64, vmstat_name(i),
			  zone_page_state(m, z, i));
}

/*
** calculate_normal_threshold() (mm/vmstat.c): the per-CPU counter drift
** allowed, growing with the log of the zone size and of the number of
** online CPUs.
*/
static int calculate_normal_threshold(const memlab_machine *m, const struct zone *z)
{
	uint64_t mem = z->managed_pages >> (27 - m->page_shift);	/* 128 MiB units */
	int fls_mem = mem ? 64 - __builtin_clzll(mem) : 0;
	int fls_cpus = 32 - __builtin_clz((unsigned)m->nr_cpus);	/* fls(num_online_cpus()) */
	int threshold = 2 * fls_cpus * (1 + fls_mem);

	return threshold < 125 ? threshold : 125;
}

/*
** The pageset of every online CPU (for_each_online_cpu): the live count
** and auto-tuned high (0 until the pcp is first used, per_cpu_pages_init),
** the batch and high bounds zone_set_pageset_high_and_batch() gave it,
** and the CPU's vm stats threshold.
*/
static void zoneinfo_show_pagesets(memlab_machine *m, struct strbuf *sb,
				   const struct zone *z)
{
	sb_printf(sb, "\n  pagesets");
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		const struct per_cpu_pages *pcp = per_cpu_pageset(z, cpu);

		sb_printf(sb,
			  "\n    cpu: %i"
			  "\n              count:    %i"
			  "\n              high:     %i"
			  "\n              batch:    %i"
			  "\n              high_min: %i"
			  "\n              high_max: %i",
			  cpu, pcp->count, pcp->high, pcp->batch, pcp->high_min, pcp->high_max);
		sb_printf(sb, "\n  vm stats threshold: %d", calculate_normal_threshold(m, z));
	}
}

/* zoneinfo_show_print(): the short form for an unpopulated zone. */
static void zoneinfo_show_print(memlab_machine *m, struct strbuf *sb,
				const struct zone *z)
{
	sb_printf(sb, "Node %d, zone %8s", NODE_ID, z->name);
	if (is_zone_first_populated(m, z))
		zoneinfo_show_node_stats(m, sb);
	zoneinfo_show_watermarks(sb, z);
	zoneinfo_show_protection(m, sb, z);
	if (!populated_zone(z)) {
		sb_printf(sb, "\n");
		return;
	}
	zoneinfo_show_zone_stats(m, sb, z);
	zoneinfo_show_pagesets(m, sb, z);
	sb_printf(sb,
		  "\n  node_unreclaimable:  %d"
		  "\n  start_pfn:           %" PRIu64,
		  pgdat_all_unreclaimable(m), z->zone_start_pfn);
	sb_printf(sb, "\n");
}

static void zoneinfo_show(memlab_machine *m, struct strbuf *sb)
{
	walk_zones_in_node(m, sb, false, zoneinfo_show_print);
}

/* ===================== vmstat ===================== */

/* vmstat_show(): "name value" per counter; the list ends with nr_unstable. */
static void vmstat_show(memlab_machine *m, struct strbuf *sb)
{
	for (int i = 0; i < NR_VMSTAT_ITEMS; i++)
		sb_printf(sb, "%s %" PRIu64 "\n", vmstat_name(i), global_vmstat(m, i));
}

/* ===================== meminfo ===================== */

/* show_val_kb(): a 16-column label, the value in kB right-aligned in 8. */
static void show_val_kb(memlab_machine *m, struct strbuf *sb, const char *s,
			uint64_t num)
{
	sb_printf(sb, "%s%8" PRIu64 " kB\n", s, K(m, num));
}

/*
** si_mem_available() (mm/show_mem.c): free pages above the reserves, plus
** the page cache and reclaimable kernel memory that could go, each less
** what must stay (half of it, or the low watermarks, whichever is less).
*/
static uint64_t si_mem_available(const memlab_machine *m)
{
	uint64_t wmark_low = 0, pagecache, reclaimable;
	int64_t available;

	for (int i = 0; i < m->nr_zones; i++)	/* for_each_zone: all of them */
		wmark_low += wmark_pages(&m->zones[i], WMARK_LOW);
	available = (int64_t)nr_free_pages_total(m) -
		    (int64_t)calculate_totalreserve_pages(m);
	pagecache = m->vmstat[NR_ACTIVE_FILE] + m->vmstat[NR_INACTIVE_FILE];
	pagecache -= pagecache / 2 < wmark_low ? pagecache / 2 : wmark_low;
	available += (int64_t)pagecache;
	reclaimable = m->vmstat[NR_SLAB_RECLAIMABLE] +
		      m->vmstat[NR_KERNEL_MISC_RECLAIMABLE];
	reclaimable -= reclaimable / 2 < wmark_low ? reclaimable / 2 : wmark_low;
	available += (int64_t)reclaimable;
	return available < 0 ? 0 : (uint64_t)available;
}

static void meminfo_show_lru(memlab_machine *m, struct strbuf *sb)
{
	const uint64_t *v = m->vmstat;
	uint64_t bufferram = 0;			/* nr_blockdev_pages(): no block devices */
	uint64_t swapcache = v[NR_SWAPCACHED];
	uint64_t file = v[NR_FILE_PAGES];
	uint64_t cached = file > swapcache + bufferram ? file - swapcache - bufferram : 0;

	show_val_kb(m, sb, "MemTotal:       ", totalram_pages(m));
	show_val_kb(m, sb, "MemFree:        ", nr_free_pages_total(m));
	show_val_kb(m, sb, "MemAvailable:   ", si_mem_available(m));
	show_val_kb(m, sb, "Buffers:        ", bufferram);
	show_val_kb(m, sb, "Cached:         ", cached);
	show_val_kb(m, sb, "SwapCached:     ", swapcache);
	show_val_kb(m, sb, "Active:         ", v[NR_ACTIVE_ANON] + v[NR_ACTIVE_FILE]);
	show_val_kb(m, sb, "Inactive:       ", v[NR_INACTIVE_ANON] + v[NR_INACTIVE_FILE]);
	show_val_kb(m, sb, "Active(anon):   ", v[NR_ACTIVE_ANON]);
	show_val_kb(m, sb, "Inactive(anon): ", v[NR_INACTIVE_ANON]);
	show_val_kb(m, sb, "Active(file):   ", v[NR_ACTIVE_FILE]);
	show_val_kb(m, sb, "Inactive(file): ", v[NR_INACTIVE_FILE]);
	show_val_kb(m, sb, "Unevictable:    ", v[NR_UNEVICTABLE]);
	show_val_kb(m, sb, "Mlocked:        ", v[NR_MLOCK]);
}

static void meminfo_show_kernel(memlab_machine *m, struct strbuf *sb)
{
	const uint64_t *v = m->vmstat;
	uint64_t sreclaimable = v[NR_SLAB_RECLAIMABLE];
	uint64_t sunreclaim = v[NR_SLAB_UNRECLAIMABLE];

	show_val_kb(m, sb, "SwapTotal:      ", m->swap ? m->swap->pages : 0);
	show_val_kb(m, sb, "SwapFree:       ", m->swap ? m->swap->pages - m->swap->inuse_pages : 0);
	show_val_kb(m, sb, "Zswap:          ", 0);
	sb_printf(sb, "Zswapped:       %8" PRIu64 " kB\n", (uint64_t)0);
	show_val_kb(m, sb, "Dirty:          ", v[NR_DIRTY]);
	show_val_kb(m, sb, "Writeback:      ", v[NR_WRITEBACK]);
	show_val_kb(m, sb, "AnonPages:      ", v[NR_ANON_PAGES]);
	show_val_kb(m, sb, "Mapped:         ", v[NR_MAPPED]);
	show_val_kb(m, sb, "Shmem:          ", v[NR_SHMEM]);
	show_val_kb(m, sb, "KReclaimable:   ", sreclaimable + v[NR_KERNEL_MISC_RECLAIMABLE]);
	show_val_kb(m, sb, "Slab:           ", sreclaimable + sunreclaim);
	show_val_kb(m, sb, "SReclaimable:   ", sreclaimable);
	show_val_kb(m, sb, "SUnreclaim:     ", sunreclaim);
	sb_printf(sb, "KernelStack:    %8" PRIu64 " kB\n", v[NR_KERNEL_STACK]);
	show_val_kb(m, sb, "PageTables:     ", v[NR_PAGE_TABLE_PAGES]);
	show_val_kb(m, sb, "SecPageTables:  ", v[NR_SEC_PAGE_TABLE_PAGES]);
	show_val_kb(m, sb, "NFS_Unstable:   ", 0);
	show_val_kb(m, sb, "Bounce:         ", 0);
	show_val_kb(m, sb, "WritebackTmp:   ", 0);
}

static void meminfo_show_vm(memlab_machine *m, struct strbuf *sb)
{
	const uint64_t *v = m->vmstat;
	uint64_t thp = hpage_pmd_nr(m);		/* THP items count huge pages */

	show_val_kb(m, sb, "CommitLimit:    ", vm_commit_limit(m));
	show_val_kb(m, sb, "Committed_AS:   ",
		    m->vm_committed_as > 0 ? (uint64_t)m->vm_committed_as : 0);
	sb_printf(sb, "VmallocTotal:   %8" PRIu64 " kB\n", vmalloc_total_kb(m));
	show_val_kb(m, sb, "VmallocUsed:    ", vmalloc_nr_pages(m));
	show_val_kb(m, sb, "VmallocChunk:   ", 0);
	show_val_kb(m, sb, "Percpu:         ", 0);
	show_val_kb(m, sb, "AnonHugePages:  ", v[NR_ANON_TRANSPARENT_HUGEPAGES] * thp);
	show_val_kb(m, sb, "ShmemHugePages: ", v[NR_SHMEM_HUGEPAGES] * thp);
	show_val_kb(m, sb, "ShmemPmdMapped: ", v[NR_SHMEM_PMDMAPPED] * thp);
	show_val_kb(m, sb, "FileHugePages:  ", v[NR_FILE_HUGEPAGES] * thp);
	show_val_kb(m, sb, "FilePmdMapped:  ", v[NR_FILE_PMDMAPPED] * thp);
	show_val_kb(m, sb, "Balloon:        ", v[NR_BALLOON_PAGES]);
}

/* hugetlb_report_meminfo() (mm/hugetlb.c): no hugetlb pool yet. */
static void hugetlb_report_meminfo(memlab_machine *m, struct strbuf *sb)
{
	uint64_t hpage_kb = K(m, hpage_pmd_nr(m));	/* HPAGE_SIZE / 1024 */

	sb_printf(sb,
		  "HugePages_Total:   %5u\n"
		  "HugePages_Free:    %5u\n"
		  "HugePages_Rsvd:    %5u\n"
		  "HugePages_Surp:    %5u\n"
		  "Hugepagesize:   %8" PRIu64 " kB\n",
		  0u, 0u, 0u, 0u, hpage_kb);
	sb_printf(sb, "Hugetlb:        %8" PRIu64 " kB\n", (uint64_t)0);
}

/*
** arch_report_meminfo() (arch/x86/mm/pat/set_memory.c): how the kernel's
** direct map covers RAM.  memlab keeps no page tables for the direct map;
** it reports the split init_mem_mapping() and split_mem_range()
** (arch/x86/mm/init.c) make on a machine whose RAM starts at 0 with no
** holes, with gbpages as on the host: 4 KiB pages for the ISA range and up
** to the first 2 MiB boundary, 2 MiB pages up to the first 1 GiB boundary,
** 1 GiB pages for whole gigabytes, then 2 MiB and 4 KiB pages for the
** tail.  Later splits (set_memory_ro() of kernel text, ...) are not
** modelled, so DirectMap4k is smaller than a real kernel's.  arm64 prints
** no DirectMap lines.
*/
static void arch_report_meminfo(memlab_machine *m, struct strbuf *sb)
{
	const uint64_t sz_2m = 2ull << 20, sz_1g = 1ull << 30;
	uint64_t end = m->ram, end_2m = end & ~(sz_2m - 1);
	uint64_t start_1g = sz_1g, end_1g = end & ~(sz_1g - 1);
	uint64_t bytes_4k, bytes_2m, bytes_1g = 0;

	if (m->arch != MEMLAB_ARCH_X86_64)
		return;
	bytes_4k = end <= sz_2m ? end : sz_2m + (end - end_2m);
	if (end_1g > start_1g) {
		bytes_1g = end_1g - start_1g;
		bytes_2m = (start_1g - sz_2m) + (end_2m - end_1g);
	} else {
		bytes_2m = end_2m > sz_2m ? end_2m - sz_2m : 0;
	}
	sb_printf(sb, "DirectMap4k:    %8" PRIu64 " kB\n", bytes_4k >> 10);
	sb_printf(sb, "DirectMap2M:    %8" PRIu64 " kB\n", bytes_2m >> 10);
	sb_printf(sb, "DirectMap1G:    %8" PRIu64 " kB\n", bytes_1g >> 10);
}

/*
** meminfo_proc_show(): the lines of a 6.18 x86-64 kernel with ZSWAP, THP
** and the balloon counter, without HIGHMEM, CMA, MEMORY_FAILURE,
** UNACCEPTED_MEMORY or SHADOW_CALL_STACK.
*/
static void meminfo_show(memlab_machine *m, struct strbuf *sb)
{
	meminfo_show_lru(m, sb);
	meminfo_show_kernel(m, sb);
	meminfo_show_vm(m, sb);
	hugetlb_report_meminfo(m, sb);
	arch_report_meminfo(m, sb);
}

/* ===================== extfrag (debugfs) ===================== */

/* extfrag_show_print(): "%2d.%03d " keeps Linux's "-1.000" and " 0.500". */
static void extfrag_show_print(memlab_machine *m, struct strbuf *sb,
			       const struct zone *z)
{
	sb_printf(sb, "Node %d, zone %8s ", NODE_ID, z->name);
	for (unsigned order = 0; order <= m->max_order; order++) {
		int index = vmstat_fragmentation_index(z, order);

		sb_printf(sb, "%2d.%03d ", index / 1000, index % 1000);
	}
	sb_printf(sb, "\n");
}

static void extfrag_show(memlab_machine *m, struct strbuf *sb)
{
	walk_zones_in_node(m, sb, true, extfrag_show_print);
}

/* unusable_show_print(): "%d.%03d " per order. */
static void unusable_show_print(memlab_machine *m, struct strbuf *sb,
				const struct zone *z)
{
	sb_printf(sb, "Node %d, zone %8s ", NODE_ID, z->name);
	for (unsigned order = 0; order <= m->max_order; order++) {
		int index = vmstat_unusable_index(z, order);

		sb_printf(sb, "%d.%03d ", index / 1000, index % 1000);
	}
	sb_printf(sb, "\n");
}

static void unusable_show(memlab_machine *m, struct strbuf *sb)
{
	walk_zones_in_node(m, sb, true, unusable_show_print);
}

/*
** /proc/swaps (swap_show in mm/swapfile.c): the swap file, its size and
** use in kB, its priority; the header line alone without swap.
*/
static void swaps_show(memlab_machine *m, struct strbuf *sb)
{
	const struct swap_info *si = m->swap;
	static const char path[] = "/swapfile";
	int len = (int)sizeof(path) - 1;
	uint64_t bytes, inuse;

	sb_printf(sb, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	if (!si)
		return;
	bytes = si->pages << (m->page_shift - 10);
	inuse = si->inuse_pages << (m->page_shift - 10);
	sb_printf(sb, "%s%*s%s\t%" PRIu64 "\t%s%" PRIu64 "\t%s%d\n", path, len < 40 ? 40 - len : 1,
		  " ", "file\t", bytes, bytes < 10000000 ? "\t" : "", inuse,
		  inuse < 10000000 ? "\t" : "", si->prio);
}

/* ===================== the file table ===================== */

static const struct proc_file {
	const char *path;
	show_fn show;
} proc_files[] = {
	{ "meminfo", meminfo_show },
	{ "buddyinfo", buddyinfo_show },
	{ "pagetypeinfo", pagetypeinfo_show },
	{ "zoneinfo", zoneinfo_show },
	{ "vmstat", vmstat_show },
	{ "extfrag/extfrag_index", extfrag_show },
	{ "extfrag/unusable_index", unusable_show },
	{ "swaps", swaps_show },
	{ "slabinfo", slabinfo_show },
	{ "vmallocinfo", vmallocinfo_show },
};

/*
** "PID/file": the task's file (task_mmu.c).  The pid is decimal without a
** leading zero, as proc's name_to_int() reads it; an unknown pid or file
** is -MEMLAB_ENOENT.
*/
static int proc_pid_show(memlab_machine *m, const char *path, char **text, size_t *len)
{
	struct strbuf sb;
	memlab_task *t;
	int64_t pid = 0;
	const char *p = path;
	int rc;

	if (*p == '0')
		return -MEMLAB_ENOENT;
	for (; *p >= '0' && *p <= '9'; p++) {
		pid = pid * 10 + (*p - '0');
		if (pid > INT32_MAX)
			return -MEMLAB_ENOENT;
	}
	if (p == path || *p != '/' || !(t = memlab_find_task(m, (int)pid)))
		return -MEMLAB_ENOENT;
	sb_init(&sb, m);
	rc = task_mmu_show(t, p + 1, &sb);
	if (rc < 0) {
		if (sb_finish(&sb, text, len) == 0)
			memlab_free_text(m, *text);
		*text = NULL;
		if (len)
			*len = 0;
		return rc;
	}
	return sb_finish(&sb, text, len);
}

/* ===================== kpageflags, kpagecount (fs/proc/page.c) ===================== */

#define KPF(name)	(1ull << MEMLAB_KPF_##name)

/* get_max_dump_pfn(): RAM rounded up to a whole memory section (SECTION_SIZE_BITS). */
static uint64_t max_dump_pfn(const memlab_machine *m)
{
	unsigned bits = m->arch == MEMLAB_ARCH_ARM64 && m->page_shift == 16 ? 29 : 27;
	uint64_t per = 1ull << (bits - m->page_shift);

	return (m->nr_frames + per - 1) & ~(per - 1);
}

/* page_folio(): the head of the compound page pfn is in, else pfn itself. */
static uint64_t kpf_folio(memlab_machine *m, uint64_t pfn)
{
	uint64_t head = folio_pfn(m, pfn);

	return head == pfn || (pfn_to_page(m, head)->flags & PG_head) ? head : pfn;
}

/* folio_mapped(): a PMD or some PTE maps a page of it. */
static bool kpf_folio_mapped(const struct page *folio)
{
	if (!(folio->flags & PG_head))
		return folio->mapcount > 0;
	return folio_entire_mapcount(folio) > 0 || folio_nr_pages_mapped(folio) > 0;
}

static inline uint64_t kpf_copy_bit(uint32_t k, uint32_t pg, uint64_t kpf)
{
	return k & pg ? kpf : 0;
}

/*
** stable_page_flags(): the KPF_ word of frame pfn.  The folio's flags
** speak for all its pages; PG_uptodate is implied (memlab's anonymous,
** page-cache and swap-cache folios are all read or zeroed in full before
** anything sees them); PG_locked and PG_writeback are never seen set
** (memlab's I/O completes within the call), nor hwpoison, idle, KSM,
** hugetlb (its pool is empty), private or arch bits.
*/
static uint64_t stable_page_flags(memlab_machine *m, uint64_t pfn)
{
	const struct page *page, *folio;
	uint64_t u = 0;
	uint32_t k;
	bool anon, file;

	if (pfn >= m->nr_frames)	/* in RAM's last section: init_unavailable_range() */
		return KPF(RESERVED);
	page = pfn_to_page(m, pfn);
	folio = pfn_to_page(m, kpf_folio(m, pfn));
	k = folio->flags;
	anon = folio->mapping & PAGE_MAPPING_ANON;
	file = folio->mapping && !anon && !(k & PG_slab);
	if (kpf_folio_mapped(folio))
		u |= KPF(MMAP);
	if (anon)
		u |= KPF(ANON);
	if (page != folio)
		u |= KPF(COMPOUND_TAIL);
	else
		u |= kpf_copy_bit(k, PG_head, KPF(COMPOUND_HEAD));
	if (pfn_to_page(m, m->zero_pfn) == page)
		u |= KPF(ZERO_PAGE);
	else if (m->huge_zero_pfn != PFN_NONE && pfn_to_page(m, m->huge_zero_pfn) == folio)
		u |= KPF(ZERO_PAGE) | KPF(THP);
	else if ((k & PG_head) && (anon || file))	/* folio_test_large_rmappable */
		u |= KPF(THP);
	if ((page->flags & PG_buddy) || (!page->_refcount && is_free_buddy_page(m, pfn)))
		u |= KPF(BUDDY);
	u |= kpf_copy_bit(page->flags, PG_table, KPF(PGTABLE));
	u |= kpf_copy_bit(k, PG_slab, KPF(SLAB));
	u |= kpf_copy_bit(k, PG_dirty, KPF(DIRTY));
	if ((anon || file || (k & PG_swapcache)) && !(k & PG_not_uptodate))
		u |= KPF(UPTODATE);
	u |= kpf_copy_bit(k, PG_lru, KPF(LRU));
	u |= kpf_copy_bit(k, PG_referenced, KPF(REFERENCED));
	u |= kpf_copy_bit(k, PG_active, KPF(ACTIVE));
	u |= kpf_copy_bit(k, PG_reclaim, KPF(RECLAIM));
	if ((k & (PG_swapbacked | PG_swapcache)) == (PG_swapbacked | PG_swapcache))
		u |= KPF(SWAPCACHE);
	u |= kpf_copy_bit(k, PG_swapbacked, KPF(SWAPBACKED));
	u |= kpf_copy_bit(k, PG_unevictable, KPF(UNEVICTABLE));
	u |= kpf_copy_bit(k, PG_mlocked, KPF(MLOCKED));
	u |= kpf_copy_bit(k, PG_reserved, KPF(RESERVED));
	/* PG_owner_2: PG_anon_exclusive (read at the head), PG_mappedtodisk */
	u |= kpf_copy_bit(k, anon ? PG_anon_exclusive : PG_mappedtodisk, KPF(OWNER_2));
	u |= kpf_copy_bit(k, PG_swapcache, KPF(OWNER_PRIVATE));	/* PG_owner_priv_1 */
	return u;
}

/*
** folio_precise_page_mapcount(): the PTEs mapping the page and the PMDs
** mapping its huge page; 0 for a typed page (slab, page table).
*/
static uint64_t kpage_mapcount(memlab_machine *m, uint64_t pfn)
{
	const struct page *page, *folio;

	if (pfn >= m->nr_frames)
		return 0;
	page = pfn_to_page(m, pfn);
	folio = pfn_to_page(m, kpf_folio(m, pfn));
	return (uint64_t)page->mapcount +
	       (folio->mapping && (folio->flags & PG_head) ? (uint64_t)folio_entire_mapcount(folio) : 0);
}

/* kpageflags_read() and kpagecount_read(): n words from frame pfn, up to max_dump_pfn. */
static int64_t kpage_read(memlab_machine *m, uint64_t pfn, uint64_t *out, size_t n, bool count)
{
	uint64_t end = max_dump_pfn(m);

	if (pfn >= end)
		return 0;
	if (n > end - pfn)
		n = (size_t)(end - pfn);
	for (size_t i = 0; out && i < n; i++) {
		uint64_t f = pfn + i;

		out[i] = count ? kpage_mapcount(m, f) : stable_page_flags(m, f);
	}
	return (int64_t)n;
}

int64_t memlab_kpageflags(memlab_machine *m, uint64_t pfn, uint64_t *out, size_t n)
{
	return kpage_read(m, pfn, out, n, false);
}

int64_t memlab_kpagecount(memlab_machine *m, uint64_t pfn, uint64_t *out, size_t n)
{
	return kpage_read(m, pfn, out, n, true);
}

/*
** Render the procfs file path ("meminfo", "zoneinfo", ...) into *text, a
** NUL-terminated string the caller frees with memlab_free_text(), and its
** length into *len (len may be NULL).  Returns 0, -MEMLAB_ENOENT for a
** path memlab does not model, -MEMLAB_EINVAL for NULL arguments and
** -MEMLAB_ENOMEM when the host cannot hold the text (nothing is leaked).
*/
int memlab_proc(memlab_machine *m, const char *path, char **text, size_t *len)
{
	struct strbuf sb;

	if (!m || !path || !text)
		return -MEMLAB_EINVAL;
	*text = NULL;
	if (len)
		*len = 0;
	for (size_t i = 0; i < sizeof(proc_files) / sizeof(proc_files[0]); i++) {
		if (strcmp(path, proc_files[i].path) != 0)
			continue;
		sb_init(&sb, m);
		proc_files[i].show(m, &sb);
		return sb_finish(&sb, text, len);
	}
	if (*path >= '0' && *path <= '9')
		return proc_pid_show(m, path, text, len);
	return -MEMLAB_ENOENT;
}
