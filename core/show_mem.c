/*
** show_mem.c -- __show_mem() (mm/show_mem.c, Linux 6.18): the "Mem-Info:"
** block a global OOM report prints between its first line and the task
** table, and sysrq-m prints alone.  One node, as memlab has; the kernel
** configuration of the reference host: CONFIG_NUMA (the "Node 0 " before
** each zone), THP, memory isolation, zsmalloc, no CMA, no memory failure,
** no allocation profiling, no shadow call stack.
**
** The fields are those the mainline file has by 6.18: the node line with
** Balloon and without writeback_tmp (NR_WRITEBACK_TEMP is gone, as the
** host's /proc/vmstat shows), the zone line with free_highatomic and
** zspages, "bounce" still printed as 0 though NR_BOUNCE is gone.  (The
** 6.18 file itself was not at hand; the host has no sysrq to print it.)
** Every number is memlab's own; what memlab does not have (secondary
** page tables, CMA, zspages, misc reclaimable kernel memory) prints 0,
** as an idle kernel prints it.
*/
#include <inttypes.h>

#include "internal.h"
#include "mm.h"
#include "vmstat.h"

#define NODE_ID			0

/* for_each_populated_zone(), less the zones above the report's highest. */
static bool show_zone(const struct zone *z, int pos, int max_zone_idx)
{
	return populated_zone(z) && pos <= max_zone_idx;
}

/* The pages on every CPU's list of zone z (free_pcp). */
static uint64_t zone_pcp_pages(const memlab_machine *m, const struct zone *z)
{
	uint64_t n = 0;

	for (int cpu = 0; cpu < m->nr_cpus; cpu++)
		n += (uint64_t)per_cpu_pageset(z, cpu)->count;
	return n;
}

/* The machine-wide summary, in pages. */
static void show_global(memlab_machine *m, struct strbuf *sb, int max_zone_idx)
{
	const uint64_t *v = m->vmstat;
	uint64_t free_pcp = 0;

	for (int i = 0; i < m->nr_zones; i++)
		if (show_zone(&m->zones[i], i, max_zone_idx))
			free_pcp += zone_pcp_pages(m, &m->zones[i]);
	sb_printf(sb, "active_anon:%" PRIu64 " inactive_anon:%" PRIu64 " isolated_anon:%" PRIu64 "\n"
		  " active_file:%" PRIu64 " inactive_file:%" PRIu64 " isolated_file:%" PRIu64 "\n"
		  " unevictable:%" PRIu64 " dirty:%" PRIu64 " writeback:%" PRIu64 "\n"
		  " slab_reclaimable:%" PRIu64 " slab_unreclaimable:%" PRIu64 "\n"
		  " mapped:%" PRIu64 " shmem:%" PRIu64 " pagetables:%" PRIu64 "\n"
		  " sec_pagetables:%" PRIu64 " bounce:0\n"	/* NR_BOUNCE is gone: 0UL */
		  " kernel_misc_reclaimable:%" PRIu64 "\n"
		  " free:%" PRIu64 " free_pcp:%" PRIu64 " free_cma:%" PRIu64 "\n",
		  v[NR_ACTIVE_ANON], v[NR_INACTIVE_ANON], v[NR_ISOLATED_ANON],
		  v[NR_ACTIVE_FILE], v[NR_INACTIVE_FILE], v[NR_ISOLATED_FILE],
		  v[NR_UNEVICTABLE], v[NR_DIRTY], v[NR_WRITEBACK],
		  v[NR_SLAB_RECLAIMABLE], v[NR_SLAB_UNRECLAIMABLE],
		  v[NR_MAPPED], v[NR_SHMEM], v[NR_PAGE_TABLE_PAGES],
		  v[NR_SEC_PAGE_TABLE_PAGES], v[NR_KERNEL_MISC_RECLAIMABLE],
		  nr_free_pages_total(m), free_pcp, global_vmstat(m, NR_FREE_CMA));
}

/* The node's line, in kB; none when no zone up to max_zone_idx has pages to manage. */
static void show_node_line(memlab_machine *m, struct strbuf *sb, int max_zone_idx)
{
	const uint64_t *v = m->vmstat;
	uint64_t thp = hpage_pmd_nr(m);		/* memlab's THP items count huge pages */
	bool managed = false;

	for (int i = 0; i < m->nr_zones && i <= max_zone_idx; i++)
		managed |= m->zones[i].managed_pages != 0;
	if (!managed)
		return;
	sb_printf(sb, "Node %d active_anon:%" PRIu64 "kB inactive_anon:%" PRIu64 "kB"
		  " active_file:%" PRIu64 "kB inactive_file:%" PRIu64 "kB unevictable:%" PRIu64 "kB"
		  " isolated(anon):%" PRIu64 "kB isolated(file):%" PRIu64 "kB mapped:%" PRIu64 "kB"
		  " dirty:%" PRIu64 "kB writeback:%" PRIu64 "kB shmem:%" PRIu64 "kB"
		  " shmem_thp:%" PRIu64 "kB shmem_pmdmapped:%" PRIu64 "kB anon_thp:%" PRIu64 "kB"
		  " kernel_stack:%" PRIu64 "kB pagetables:%" PRIu64 "kB sec_pagetables:%" PRIu64 "kB"
		  " all_unreclaimable? %s Balloon:%" PRIu64 "kB\n",
		  NODE_ID, K(m, v[NR_ACTIVE_ANON]), K(m, v[NR_INACTIVE_ANON]),
		  K(m, v[NR_ACTIVE_FILE]), K(m, v[NR_INACTIVE_FILE]), K(m, v[NR_UNEVICTABLE]),
		  K(m, v[NR_ISOLATED_ANON]), K(m, v[NR_ISOLATED_FILE]), K(m, v[NR_MAPPED]),
		  K(m, v[NR_DIRTY]), K(m, v[NR_WRITEBACK]), K(m, v[NR_SHMEM]),
		  K(m, v[NR_SHMEM_HUGEPAGES] * thp), K(m, v[NR_SHMEM_PMDMAPPED] * thp),
		  K(m, v[NR_ANON_TRANSPARENT_HUGEPAGES] * thp), v[NR_KERNEL_STACK],
		  K(m, v[NR_PAGE_TABLE_PAGES]), K(m, v[NR_SEC_PAGE_TABLE_PAGES]),
		  pgdat_all_unreclaimable(m) ? "yes" : "no", K(m, v[NR_BALLOON_PAGES]));
}

/* A zone's watermarks, LRU lists and per-CPU pages, then its lowmem_reserve[]. */
static void show_zone_line(memlab_machine *m, struct strbuf *sb, const struct zone *z)
{
	sb_printf(sb, "Node %d %s free:%" PRIu64 "kB boost:%" PRIu64 "kB min:%" PRIu64 "kB"
		  " low:%" PRIu64 "kB high:%" PRIu64 "kB reserved_highatomic:%" PRIu64 "KB"
		  " free_highatomic:%" PRIu64 "KB active_anon:%" PRIu64 "kB"
		  " inactive_anon:%" PRIu64 "kB active_file:%" PRIu64 "kB inactive_file:%" PRIu64 "kB"
		  " unevictable:%" PRIu64 "kB writepending:%" PRIu64 "kB zspages:%" PRIu64 "kB"
		  " present:%" PRIu64 "kB managed:%" PRIu64 "kB mlocked:%" PRIu64 "kB bounce:0kB"
		  " free_pcp:%" PRIu64 "kB local_pcp:%" PRIu64 "kB free_cma:%" PRIu64 "kB\n",
		  NODE_ID, z->name, K(m, z->nr_free_pages), K(m, z->watermark_boost),
		  K(m, wmark_pages(z, WMARK_MIN)), K(m, wmark_pages(z, WMARK_LOW)),
		  K(m, wmark_pages(z, WMARK_HIGH)), K(m, z->nr_reserved_highatomic),
		  K(m, z->nr_free_highatomic),
		  K(m, zone_page_state(m, z, NR_ZONE_ACTIVE_ANON)),
		  K(m, zone_page_state(m, z, NR_ZONE_INACTIVE_ANON)),
		  K(m, zone_page_state(m, z, NR_ZONE_ACTIVE_FILE)),
		  K(m, zone_page_state(m, z, NR_ZONE_INACTIVE_FILE)),
		  K(m, zone_page_state(m, z, NR_ZONE_UNEVICTABLE)),
		  K(m, zone_page_state(m, z, NR_ZONE_WRITE_PENDING)),
		  K(m, zone_page_state(m, z, NR_ZSPAGES)),
		  K(m, z->present_pages), K(m, z->managed_pages),
		  K(m, zone_page_state(m, z, NR_MLOCK)), K(m, zone_pcp_pages(m, z)),
		  K(m, (uint64_t)per_cpu_pageset(z, smp_processor_id(m))->count),
		  K(m, zone_page_state(m, z, NR_FREE_CMA)));
	sb_printf(sb, "lowmem_reserve[]:");
	for (int i = 0; i < m->nr_zones; i++)	/* MAX_NR_ZONES: zoneinfo's protection count */
		sb_printf(sb, " %" PRId64, (int64_t)z->lowmem_reserve[i]);
	sb_printf(sb, "\n");
}

/* show_migration_types(): the letters of the lists that hold blocks of an order. */
static void show_migration_types(struct strbuf *sb, const struct free_area *area)
{
	static const char types[MIGRATE_TYPES] = {
		[MIGRATE_UNMOVABLE] = 'U', [MIGRATE_MOVABLE] = 'M',
		[MIGRATE_RECLAIMABLE] = 'E', [MIGRATE_HIGHATOMIC] = 'H',
		[MIGRATE_ISOLATE] = 'I',
	};
	char tmp[MIGRATE_TYPES + 1], *p = tmp;

	for (int t = 0; t < MIGRATE_TYPES; t++)
		if (area->free_list[t].head != PFN_NONE)
			*p++ = types[t];
	*p = '\0';
	sb_printf(sb, "(%s) ", tmp);
}

/* A zone's free blocks, order by order, and their sum. */
static void show_zone_free(memlab_machine *m, struct strbuf *sb, const struct zone *z)
{
	uint64_t total = 0;

	sb_printf(sb, "Node %d %s: ", NODE_ID, z->name);
	for (unsigned order = 0; order <= m->max_order && order < NR_ORDERS_MAX; order++) {
		const struct free_area *area = &z->free_area[order];

		total += area->nr_free << order;
		sb_printf(sb, "%" PRIu64 "*%" PRIu64 "kB ", area->nr_free, K(m, 1) << order);
		if (area->nr_free)
			show_migration_types(sb, area);
	}
	sb_printf(sb, "= %" PRIu64 "kB\n", K(m, total));
}

/* show_swap_cache_info(). */
static void show_swap_cache_info(memlab_machine *m, struct strbuf *sb)
{
	uint64_t total = m->swap ? m->swap->pages : 0;
	uint64_t free = m->swap ? m->swap->pages - m->swap->inuse_pages : 0;

	sb_printf(sb, "%" PRIu64 " pages in swap cache\n", m->vmstat[NR_SWAPCACHED]);
	sb_printf(sb, "Free swap  = %" PRIu64 "kB\n", K(m, free));
	sb_printf(sb, "Total swap = %" PRIu64 "kB\n", K(m, total));
}

/*
** __show_mem(filter, NULL, max_zone_idx): max_zone_idx is the highest
** zone (by position in m->zones) the report covers -- gfp_zone() of the
** allocation that failed; the node filter changes nothing on one node.
*/
void show_mem(memlab_machine *m, struct strbuf *sb, int max_zone_idx)
{
	uint64_t total = 0, reserved = 0;

	sb_printf(sb, "Mem-Info:\n");
	show_global(m, sb, max_zone_idx);
	show_node_line(m, sb, max_zone_idx);
	for (int i = 0; i < m->nr_zones; i++)
		if (show_zone(&m->zones[i], i, max_zone_idx))
			show_zone_line(m, sb, &m->zones[i]);
	for (int i = 0; i < m->nr_zones; i++)
		if (show_zone(&m->zones[i], i, max_zone_idx))
			show_zone_free(m, sb, &m->zones[i]);
	hugetlb_show_meminfo_node(m, sb);
	sb_printf(sb, "%" PRIu64 " total pagecache pages\n", m->vmstat[NR_FILE_PAGES]);
	show_swap_cache_info(m, sb);
	for (int i = 0; i < m->nr_zones; i++) {		/* every populated zone */
		if (!populated_zone(&m->zones[i]))
			continue;
		total += m->zones[i].present_pages;
		reserved += m->zones[i].present_pages - m->zones[i].managed_pages;
	}
	sb_printf(sb, "%" PRIu64 " pages RAM\n", total);
	sb_printf(sb, "0 pages HighMem/MovableOnly\n");
	sb_printf(sb, "%" PRIu64 " pages reserved\n", reserved);
}

/* Report the text line by line, as the kernel log takes printk's lines. */
static void report_lines(memlab_machine *m, const char *text, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = 0;

		while (i + n < len && text[i + n] != '\n')
			n++;
		ml_report(m, "%.*s", (int)n, text + i);
		i += n + 1;
	}
}

/*
** __show_mem(SHOW_MEM_FILTER_NODES, NULL, gfp_zone(gfp)) into the log:
** the OOM killer's and warn_alloc()'s Mem-Info, for the zones an
** allocation of those flags could use.
*/
void show_mem_report(memlab_machine *m, uint32_t gfp)
{
	struct strbuf sb;
	int zone = gfp_zone(m, gfp);
	char *text;
	size_t len;

	sb_init(&sb, m);
	show_mem(m, &sb, zone < 0 ? m->nr_zones - 1 : zone);
	if (sb_finish(&sb, &text, &len) == 0) {
		report_lines(m, text, len);
		memlab_free_text(m, text);
	}
}

int memlab_show_mem(memlab_machine *m, char **text, size_t *len)
{
	struct strbuf sb;

	if (!m || !text)
		return -MEMLAB_EINVAL;
	sb_init(&sb, m);
	show_mem(m, &sb, m->nr_zones - 1);	/* sysrq-m: show_mem(), every zone */
	return sb_finish(&sb, text, len);
}
