/*
** vmscan.c -- page reclaim (mm/vmscan.c, mm/rmap.c's try_to_unmap and
** folio_referenced): kswapd and direct reclaim age the LRU lists (swap.c)
** and free the pages nobody needs -- clean page cache, MADV_FREE'd
** anonymous pages not written since, and MAP_DROPPABLE pages.
**
** The rules are Linux 6.x's classic LRU (no MGLRU, as the reference
** host): get_scan_count's priority-scaled targets, shrink_lruvec's
** SWAP_CLUSTER_MAX batches, shrink_active_list deactivating when
** inactive_is_low, shrink_folio_list's folio_check_references (young
** PTEs, PG_referenced, VM_EXEC file pages, VM_LOCKED), unmapping through
** the reverse map, dirty pages left to the flusher (PG_reclaim, rotated
** to the tail when written back); kswapd woken below the low watermark
** reclaiming to the high one (balance_pgdat), or by a watermark boost
** (page_alloc.c's boost_watermark) that it reclaims without swapping
** and then takes off, waking kcompactd; direct reclaim with
** allocstall in the allocator's slow path.
**
** Anonymous pages go to swap when the machine has it (swapfile.c;
** get_scan_count balances them against file pages by swappiness and
** cost); a reclaimed page leaves a workingset shadow (workingset.c).
** Simplified, and said so in the docs: shmem is never swapped; dirty file
** pages are written by the flusher, not by reclaim; of the shrinkers
** only THP's deferred split queue (huge_memory.c); no throttling.
** Memory cgroups: each has its lists (memcontrol.c); reclaim of the node
** or of a cgroup over its limit walks the memcgs under its target
** (shrink_node_memcgs), each scanned in proportion to its size.
** kswapd is a thread on another CPU in Linux; memlab runs it when the
** operation that woke it returns (task_leave), so one operation that
** allocates much still reaches direct reclaim as a fast allocator would.
** Unmapping defers the TLB flush where another CPU may hold the mm's
** entries (TTU_BATCH_FLUSH, tlb.c): the freed folios wait in batches of
** 31 (free_folios), each freed after the flush it owes; a dirty page's
** flush comes before its write to swap (try_to_unmap_flush_dirty).
** MADV_PAGEOUT hands reclaim_pages() one PMD's pages at a time.
*/
#include "mm.h"

#define DEF_PRIORITY		12
#define SWAP_CLUSTER_MAX	32
#define SWAP_CLUSTER_MAX_SKIPPED	(SWAP_CLUSTER_MAX << 10)
#define RECLAIM_WB_ANON		0x0001u
#define RECLAIM_WB_FILE		0x0002u
#define RECLAIM_WB_ASYNC	0x0008u
#define DEACTIVATE_ANON		1u
#define DEACTIVATE_FILE		2u
#define MAX_SWAPPINESS		200

struct scan_control {
	uint64_t nr_to_reclaim;
	uint32_t gfp_mask;
	int order, priority, reclaim_idx;
	bool kswapd;			/* current_is_kswapd() */
	struct mem_cgroup *target_mem_cgroup;	/* cgroup reclaim's cgroup; NULL: the node's */
	bool may_swap;			/* anon pages may go to swap */
	bool proactive;			/* memory.reclaim */
	int proactive_swappiness;	/* memory.reclaim's swappiness=, -1: none */
	bool ignore_references;		/* reclaim_pages(): the caller chose the pages */
	bool cache_trim_mode, file_is_tiny;	/* prepare_scan_control() */
	bool compaction_ready;		/* a zone has room for compaction: stop reclaiming */
	bool skipped_deactivate, force_deactivate;
	bool memcg_low_reclaim, memcg_low_skipped;	/* memory.low: honoured until nothing else goes */
	bool memcg_full_walk;		/* a retry that walks every memcg, not from where the last stopped */
	uint64_t anon_cost, file_cost;
	struct folio_list *split;	/* where a huge page split for swap puts its other pages */
	unsigned may_deactivate;	/* DEACTIVATE_* */
	uint64_t nr_scanned, nr_reclaimed;
};

/* shrink_folio_list()'s tally (struct reclaim_stat). */
struct reclaim_stat {
	uint64_t nr_dirty, nr_unqueued_dirty, nr_congested, nr_writeback, nr_immediate;
	uint64_t nr_activate[2], nr_ref_keep, nr_unmap_fail, nr_lazyfree_fail;
	uint64_t nr_marked;		/* memlab: dirty pages left for the flusher (PG_reclaim) */
	uint64_t nr_pageout;		/* pages written (to swap) */
};

enum folio_references {
	FOLIOREF_RECLAIM, FOLIOREF_RECLAIM_CLEAN, FOLIOREF_KEEP, FOLIOREF_ACTIVATE
};

static int trace_reclaim_flags(bool file)
{
	return (file ? RECLAIM_WB_FILE : RECLAIM_WB_ANON) | RECLAIM_WB_ASYNC;
}

/*
** vmstat item + reclaimer_offset(): the kswapd item, khugepaged's, the
** proactive one, or the direct one.
*/
static int reclaimer_item(const memlab_machine *m, const struct scan_control *sc,
			  int kswapd_item)
{
	if (sc->kswapd)
		return kswapd_item;
	if (m->khugepaged.running)
		return kswapd_item + PGSCAN_KHUGEPAGED - PGSCAN_KSWAPD;
	if (sc->proactive)
		return kswapd_item + PGSCAN_PROACTIVE - PGSCAN_KSWAPD;
	return kswapd_item + PGSCAN_DIRECT - PGSCAN_KSWAPD;
}

/* cgroup_reclaim() */
static bool cgroup_reclaim(const struct scan_control *sc)
{
	return sc->target_mem_cgroup != NULL;
}

/* The target's lruvec: the cgroup's, or the root's for the node (its stats are the node's). */
static struct lruvec *target_lruvec(memlab_machine *m, const struct scan_control *sc)
{
	return &(sc->target_mem_cgroup ? sc->target_mem_cgroup : m->root_mem_cgroup)->lruvec;
}

/* lruvec_page_state() for an LRU list: the memcg's count with its descendants. */
static uint64_t lruvec_lru_state(struct lruvec *lruvec, enum lru_list lru)
{
	int64_t x = lruvec_memcg(lruvec)->stat[NR_INACTIVE_ANON + lru];

	return x > 0 ? (uint64_t)x : 0;
}

/* __count_vm_events() with __count_memcg_events() of the lruvec's memcg. */
static void count_lruvec_events(memlab_machine *m, struct lruvec *lruvec, int item, uint64_t n)
{
	m->vmstat[item] += n;
	count_memcg_events(lruvec_memcg(lruvec), item, n);
}

/*
** pgscan_*, pgsteal_*, pgrefill: in the memcg always, in /proc/vmstat only
** for the node's reclaim (`if (!cgroup_reclaim(sc)) __count_vm_events()`).
*/
static void count_reclaim_events(memlab_machine *m, const struct scan_control *sc,
				 struct lruvec *lruvec, int item, uint64_t n)
{
	if (!cgroup_reclaim(sc))
		m->vmstat[item] += n;
	count_memcg_events(lruvec_memcg(lruvec), item, n);
}

/* ===================== the reverse map's side ===================== */

/* vma_has_recency(): VM_SEQ_READ / VM_RAND_READ mappings do not count references. */
bool vma_has_recency(const struct vm_area_struct *vma)
{
	return !(vma->vm_flags & (VM_SEQ_READ | VM_RAND_READ));
}

/*
** The leaf mapping addr in t's mm -- a PTE, or with level a huge PMD
** (level NULL: PTEs only) -- its table, index and decoded value.
*/
static bool pte_of(memlab_task *t, uint64_t addr, uint64_t *table, uint64_t *idx,
		   uint64_t *pfn, struct pt_prot *p, unsigned *level)
{
	const struct pt_format *f = &t->mm->pt;
	struct pt_walk w;

	/* a PROT_NONE leaf faults the hardware walk (-EFAULT) but maps its page */
	if (pt_walk(t->m, t->mm, addr, &w) == -MEMLAB_EINVAL || !w.nr_levels ||
	    w.level > (level ? 1u : 0u))
		return false;
	*table = w.table[w.nr_levels - 1];
	*idx = pt_index(f, w.level, addr);
	pt_decode(f, (int)w.level, w.entry[w.nr_levels - 1], pfn, p);
	if (level)
		*level = w.level;
	return pt_prot_maps(p);
}

/*
** Whether reclaim may restore the mlock of the folio pfn is a page of,
** met mapped at addr in vma, a VM_LOCKED VMA: a small folio, a PMD-mapped
** one (level), or a PTE-mapped large one that this VMA maps whole, inside
** one page table (folio_referenced_one's folio_within_vma and ptes ==
** folio_nr_pages; try_to_unmap_one's ptes == pvmw.nr_pages without
** PVMW_PGTABLE_CROSSED, Linux 6.18).  A large folio only part of which
** the locked VMA maps is left to reclaim.
*/
static bool mlock_restorable(memlab_task *t, const struct vm_area_struct *vma, uint64_t addr,
			     uint64_t pfn, unsigned level)
{
	memlab_machine *m = t->m;
	uint64_t head = folio_pfn(m, pfn), nr = folio_nr_pages(pfn_to_page(m, head));
	uint64_t start = addr - (pfn - head) * m->page_size, size = nr * m->page_size;
	uint64_t pmd = pt_level_size(&t->mm->pt, 1), table, idx, q;
	struct pt_prot p;

	if (nr == 1 || level)
		return true;
	if (start < vma->vm_start || start + size > vma->vm_end ||
	    (start & ~(pmd - 1)) != ((start + size - 1) & ~(pmd - 1)))
		return false;
	for (uint64_t i = 0; i < nr; i++)
		if (!pte_of(t, start + i * m->page_size, &table, &idx, &q, &p, NULL) || q != head + i)
			return false;
	return true;
}

#define REFERENCED_VMAS	32

struct referenced_arg {
	int mapcount, referenced;
	uint64_t vm_flags;
	uint64_t pfn;
	/* the VMAs counted: folio_referenced_one() runs once a VMA, its count at most 1 */
	const struct vm_area_struct *counted[REFERENCED_VMAS];
	unsigned nr_counted;
};

/* Whether vma counted already for this folio (a large one: a walk per page). */
static bool vma_counted(struct referenced_arg *pra, const struct vm_area_struct *vma)
{
	for (unsigned i = 0; i < pra->nr_counted; i++)
		if (pra->counted[i] == vma)
			return true;
	if (pra->nr_counted < REFERENCED_VMAS)
		pra->counted[pra->nr_counted++] = vma;
	return false;
}

/*
** folio_referenced_one(): a VM_LOCKED mapping ends the walk; a young
** entry is made old (ptep_clear_flush_young: x86 leaves the TLB alone --
** a stale A bit only misjudges age -- arm64 invalidates the page; a huge
** PMD's, pmdp_clear_flush_young, is flushed on both).  A huge PMD counts
** once, at its first page.
*/
static bool folio_referenced_one(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
				 void *ud)
{
	struct referenced_arg *pra = ud;
	uint64_t table, idx, pfn, size;
	struct pt_prot p;
	unsigned level;
	bool young;

	if (!vma_has_recency(vma))	/* invalid_folio_referenced_vma() */
		return true;
	if (!pte_of(t, addr, &table, &idx, &pfn, &p, &level))
		return true;
	if (vma->vm_flags & VM_LOCKED) {
		if (mlock_restorable(t, vma, addr, pfn, level)) {	/* the mlock that was missed */
			mlock_vma_folio(t->m, pfn_folio(t->m, pra->pfn), vma);
			pra->vm_flags |= VM_LOCKED;
			return false;
		}
		return --pra->mapcount > 0;	/* part of a large folio: its use not counted */
	}
	size = pt_level_size(&t->mm->pt, level);
	if (level && (addr & (size - 1)))
		return true;	/* a page of the huge PMD past its first: counted there */
	if (!level) {		/* ptep_clear_flush_young(): arm64 flushes, a block at once */
		young = ptep_test_and_clear_young(t, addr, table, idx,
						  t->m->arch == MEMLAB_ARCH_ARM64);
	} else if ((young = p.accessed)) {
		p.accessed = false;
		pt_write(t->m, table, idx, pt_mkentry(&t->mm->pt, (int)level, pfn, p));
		flush_tlb_range(t, addr, addr + size);
	}
	if (young) {
		if (!vma_counted(pra, vma))
			pra->referenced++;
		pra->vm_flags |= vma->vm_flags & ~VM_LOCKED;
	}
	return --pra->mapcount > 0;
}

/*
** folio_referenced(): how many entries mapping the folio had been used;
** their VMAs' flags in *vm_flags.  A large folio's PTEs are looked at
** page by page (page_vma_mapped_walk).
*/
static int folio_referenced(memlab_machine *m, uint64_t pfn, uint64_t *vm_flags)
{
	const struct page *folio = pfn_to_page(m, pfn);
	struct referenced_arg pra = { folio->mapcount, 0, 0, pfn, { NULL }, 0 };
	uint64_t nr = folio_nr_pages(folio) > 1 && folio_nr_pages_mapped(folio) ?
		      folio_nr_pages(folio) : 1;

	for (uint64_t i = 0; i < nr && !(pra.vm_flags & VM_LOCKED); i++) {
		pra.pfn = pfn + i;
		pra.mapcount = folio[i].mapcount + (i ? 0 : folio_entire_mapcount(folio));
		if (pra.mapcount > 0)
			rmap_walk(m, pfn + i, folio_referenced_one, &pra);
	}
	*vm_flags = pra.vm_flags;
	return pra.referenced;
}

struct unmap_arg {
	uint64_t pfn;
	int mapcount;		/* folio_mapcount(), kept as the walk unmaps (O(1), as Linux's) */
	bool failed;
	unsigned flags;		/* TTU_IGNORE_MLOCK */
};

/*
** try_to_unmap_one()'s swap-backed anonymous case: the entry becomes a
** swap entry naming the page's slot (which counts it), exclusive if the
** page was; its dirty bit goes to the page, which the slot may not hold.
*/
static void unmap_to_swap(memlab_task *t, uint64_t table, uint64_t idx, struct page *page,
			  struct pt_prot p)
{
	if (p.dirty)
		page->flags |= PG_dirty;
	swap_duplicate(t->m, page->swap);
	pt_write(t->m, table, idx, pt_mkswap(&t->mm->pt, page->swap,
					     page->flags & PG_anon_exclusive));
	page->flags &= ~PG_anon_exclusive;
	add_mm_counter(t->mm, MM_SWAPENTS, 1);
}

/*
** folio_unmap_pte_batch(): how many entries from idx on map the pages of
** a lazily freed large folio from pfn on in turn, inside the VMA and
** this table: Linux 6.18 unmaps them as one (folio_pte_batch, whose
** comparison ignores the dirty, accessed and write bits).  1 for any
** other folio.
*/
static unsigned folio_unmap_pte_batch(memlab_task *t, const struct vm_area_struct *vma,
				      uint64_t addr, uint64_t table, uint64_t idx,
				      const struct page *folio, uint64_t pfn)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t end = page_to_pfn(t->m, folio) + folio_nr_pages(folio), q;
	struct pt_prot p;
	unsigned nr = 1;

	if (folio_nr_pages(folio) == 1 || !page_anon(folio) || (folio->flags & PG_swapbacked))
		return 1;
	while (idx + nr < pt_ptrs(f, 0) && addr + (uint64_t)nr * t->m->page_size < vma->vm_end &&
	       pfn + nr < end) {
		pt_decode(f, 0, pt_read(t->m, table, idx + nr), &q, &p);
		if (!pt_prot_maps(&p) || q != pfn + nr)
			break;
		nr++;
	}
	return nr;
}

/*
** try_to_unmap_one(): the entry goes (flushed, or the flush left to
** try_to_unmap_flush() with TTU_BATCH_FLUSH), its dirty bit
** to the page, the RSS counter and the mapping with it.  A VM_LOCKED
** mapping keeps it, unless TTU_IGNORE_MLOCK (a split's unmap_folio).  A lazily freed anonymous page written since
** MADV_FREE (a dirty entry, here or in a mapping unmapped before; or a
** write through GUP: PG_dirty) is mapped again and becomes swap-backed:
** it is not free to drop any more; one held by someone else is mapped
** again as it was, to be looked at once more later.  A MAP_DROPPABLE page
** is dropped written or not.  A swap-backed one leaves a swap entry.  A
** lazily freed large folio goes a batch of PTEs (folio_unmap_pte_batch:
** one written page keeps the whole batch, all its entries dirty), or its
** PMD, at a time; the flags, the references and the dirtiness are its
** folio's.
*/
static bool try_to_unmap_one(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			     void *ud)
{
	struct unmap_arg *ua = ud;
	memlab_machine *m = t->m;
	struct page *page = pfn_folio(m, ua->pfn);
	uint64_t table, idx, pfn;
	struct pt_prot p;
	unsigned level, nr;

	if (!pte_of(t, addr, &table, &idx, &pfn, &p, &level) || pfn != ua->pfn)
		return true;
	if ((vma->vm_flags & VM_LOCKED) && !(ua->flags & TTU_IGNORE_MLOCK)) {
		/* it stays; its mlock, if missed, restored */
		if (mlock_restorable(t, vma, addr, pfn, level))
			mlock_vma_folio(m, page, vma);
		ua->failed = true;
		return false;
	}
	if (level && !page_anon(page)) {	/* TTU_SPLIT_HUGE_PMD: a file folio's PMD just goes */
		split_huge_pmd_address(t, addr);
		ua->mapcount = folio_mapcount(page);
		return ua->mapcount > 0;
	}
	if (level) {		/* TTU_SPLIT_HUGE_PMD: a lazily freed huge page goes whole */
		update_hiwater_rss(t->mm);
		if (page->flags & PG_swapbacked || !discard_anon_folio_pmd(t, vma, addr, table, idx)) {
			ua->failed = true;
			return false;
		}
		ua->mapcount = folio_mapcount(page);
		return ua->mapcount > 0;
	}
	nr = folio_unmap_pte_batch(t, vma, addr, table, idx, page, pfn);
	update_hiwater_rss(t->mm);
	p = get_and_clear_ptes(t, addr, table, idx, nr);
	if (should_defer_flush(t, ua->flags))
		set_tlb_ubc_flush_pending(t, p, addr, addr + (uint64_t)nr * m->page_size);
	else
		flush_tlb_range(t, addr, addr + (uint64_t)nr * m->page_size);
	if (page_anon(page) && (page->flags & PG_swapbacked)) {
		unmap_to_swap(t, table, idx, page, p);
	} else if (page_anon(page)) {	/* !swapbacked: MADV_FREE'd, or MAP_DROPPABLE */
		bool droppable = vma->vm_flags & VM_DROPPABLE;

		if (p.dirty)		/* folio_mark_dirty() of an anonymous page: the flag */
			page->flags |= PG_dirty;
		if ((page->flags & PG_dirty) && !droppable) {
			set_ptes(t, addr, table, idx, pfn, p, nr);
			page->flags |= PG_swapbacked;	/* redirtied: not free to drop */
			ua->failed = true;
			return false;
		}
		if (page->_refcount != 1 + ua->mapcount) {	/* held: try again later */
			set_ptes(t, addr, table, idx, pfn, p, nr);
			ua->failed = true;
			return false;
		}
	} else if (p.dirty) {
		folio_mark_dirty(m, page);
	}
	add_mm_counter(t->mm, mm_counter(page), -(int64_t)nr);
	page_remove_rmap(m, ua->pfn, nr, vma);	/* the isolation reference keeps it */
	ua->mapcount -= (int)nr;
	return page_mapcount(m, ua->pfn) > 0;
}

/*
** try_to_unmap() (mm/rmap.c) of the folio at pfn, flags TTU_*: whether
** every mapping of its pages went.
*/
bool try_to_unmap(memlab_machine *m, uint64_t pfn, unsigned flags)
{
	struct page *folio = pfn_to_page(m, pfn);
	struct unmap_arg ua = { pfn, folio_mapcount(folio), false, flags };
	uint64_t nr = folio_nr_pages(folio);

	for (uint64_t i = 0; i < nr && !ua.failed; i++) {
		ua.pfn = pfn + i;
		rmap_walk(m, pfn + i, try_to_unmap_one, &ua);
	}
	return !ua.failed && folio_mapcount(folio) == 0;
}

/* ===================== shrink_folio_list ===================== */

/* folio_check_references(): what the page's recent use says to do with it. */
static enum folio_references folio_check_references(memlab_machine *m, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);
	uint64_t vm_flags;
	int referenced_ptes = folio_referenced(m, pfn, &vm_flags);
	bool referenced_folio = page->flags & PG_referenced;

	page->flags &= ~PG_referenced;
	if (vm_flags & VM_LOCKED)
		return FOLIOREF_ACTIVATE;
	if (referenced_ptes) {
		/* mapped pages start with a young entry: a second look decides */
		page->flags |= PG_referenced;
		if (referenced_folio || referenced_ptes > 1)
			return FOLIOREF_ACTIVATE;
		if ((vm_flags & VM_EXEC) && folio_is_file_lru(page))
			return FOLIOREF_ACTIVATE;
		return FOLIOREF_KEEP;
	}
	if (referenced_folio && folio_is_file_lru(page))
		return FOLIOREF_RECLAIM_CLEAN;
	return FOLIOREF_RECLAIM;
}

enum shrink_result { KEEP, ACTIVATE, FREED };

/*
** One isolated page through shrink_folio_list(): kept, to be activated,
** or freed.  Dirty file pages are left to the flusher: marked PG_reclaim
** (nr_vmscan_immediate_reclaim) and activated, to be rotated to the
** inactive tail when written back.
*/
static enum shrink_result shrink_folio(memlab_machine *m, uint64_t pfn,
				       struct scan_control *sc, struct reclaim_stat *stat)
{
	struct page *page = pfn_to_page(m, pfn);
	uint64_t nr = folio_nr_pages(page);
	bool lazyfree = page_anon(page) && !(page->flags & PG_swapbacked);

	sc->nr_scanned += nr;
	if (!folio_evictable(page))
		return ACTIVATE;	/* mlocked: to the unevictable list when put back */
	if ((page->flags & PG_dirty) && folio_is_file_lru(page) && !lazyfree) {
		stat->nr_dirty += nr;
		stat->nr_unqueued_dirty += nr;
	}
	switch (sc->ignore_references ? FOLIOREF_RECLAIM : folio_check_references(m, pfn)) {
	case FOLIOREF_ACTIVATE:
		return ACTIVATE;
	case FOLIOREF_KEEP:
		stat->nr_ref_keep += nr;
		return KEEP;
	default:
		break;
	}
	if (!folio_is_file_lru(page) && !(page->flags & PG_swapcache)) {
		if (!page_anon(page))
			return ACTIVATE;	/* shmem: memlab does not swap it */
		if (nr > 1) {	/* a swap file has no large entries: split (or at once if partially mapped) */
			bool fallback = !(page->flags & PG_partially_mapped);
			unsigned order = page->private;

			if (!split_huge_page_isolated(m, pfn, sc->split))
				return ACTIVATE;	/* held by someone: activate_locked */
			if (fallback && order >= hpage_pmd_order(m))
				count_vm_events_page(m, page, THP_SWPOUT_FALLBACK, 1);
			if (fallback)
				count_mthp_stat(m, order, MTHP_STAT_SWPOUT_FALLBACK);
			sc->nr_scanned -= nr - 1;	/* its pages count as they come */
			nr = 1;
		}
		if (add_to_swap(m, pfn))
			return ACTIVATE;	/* swap is full */
	}
	if (folio_mapcount(page) && !try_to_unmap(m, pfn, TTU_BATCH_FLUSH)) {
		stat->nr_unmap_fail += nr;
		if (lazyfree && (page->flags & PG_swapbacked))
			stat->nr_lazyfree_fail += nr;
		return ACTIVATE;
	}
	if (lazyfree) {
		if (page->_refcount != 1)
			return KEEP;
		count_vm_events_page(m, page, PGLAZYFREED, nr);
		return FREED;
	}
	if (page->flags & PG_swapcache) {	/* pageout() to swap, then __remove_mapping() */
		if (page->flags & PG_dirty) {
			try_to_unmap_flush_dirty(m);	/* no write through a stale entry during I/O */
			if (swap_writepage(m, pfn))
				return KEEP;
			stat->nr_pageout += folio_nr_pages(page);
		}
		return remove_swap_cache_folio(m, pfn) ? FREED : KEEP;
	}
	if (page->flags & PG_dirty) {
		m->vmstat[NR_VMSCAN_IMMEDIATE_RECLAIM] += nr;
		stat->nr_marked += nr;
		page->flags |= PG_reclaim;
		return ACTIVATE;
	}
	return filemap_remove_folio(m, pfn) ? FREED : KEEP;
}

/* A page for the pass's list; false when the host has no room for it. */
bool folio_list_add(memlab_machine *m, struct folio_list *l, uint64_t pfn)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *p = ml_grow(m, l->pfn, l->cap, cap, sizeof(*p));

		if (!p)
			return false;
		l->pfn = p;
		l->cap = cap;
	}
	l->pfn[l->n++] = pfn;
	return true;
}

/*
** move_folios_to_lru() (mm/vmscan.c): back to the head of the list its
** flags name -- an mlocked page through this CPU's lru_add batch
** (folio_putback_lru), to the unevictable list when it drains -- and
** the isolation's reference goes (the last frees the page).  Whether it
** went onto a list now.
*/
static bool putback_folio(memlab_machine *m, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);
	bool moved = false;

	if (!folio_evictable(page))
		folio_add_lru(m, page);
	else if ((moved = page->_refcount > 1))
		lru_add(m, page);
	put_page(m, pfn);
	return moved;
}

/* ===================== the lists ===================== */

/*
** isolate_lru_folios(): up to nr_to_scan pages from the tail of list lru,
** each taken with a reference; pages of zones above reclaim_idx are
** skipped (pgskip_*) to the head -- up to SWAP_CLUSTER_MAX_SKIPPED of
** them, after which they are taken too.  Returns the pages taken.
*/
static uint64_t isolate_lru_folios(memlab_machine *m, struct lruvec *lruvec, uint64_t nr_to_scan,
				   enum lru_list lru, struct scan_control *sc, uint64_t *taken,
				   size_t *nr_taken, uint64_t *nr_scanned)
{
	uint64_t scan = 0, total_scan = 0, nr = 0, skipped = 0, max_nr_skipped = 0;
	uint64_t skip[MAX_NR_ZONES] = { 0 }, size = lruvec->nr_pages[lru];

	*nr_taken = 0;
	while (scan < nr_to_scan && total_scan < size && *nr_taken < SWAP_CLUSTER_MAX) {
		uint64_t pfn = lruvec->lists[lru].tail;
		struct page *page = pfn_to_page(m, pfn);
		uint64_t n = folio_nr_pages(page);
		int zid = (int)(page_zone(m, pfn) - m->zones);

		total_scan += n;
		lru_del(m, page);
		if (max_nr_skipped < SWAP_CLUSTER_MAX_SKIPPED && zid > sc->reclaim_idx) {
			skip[zid] += n;
			skipped += n;
			max_nr_skipped++;
			lruvec_add_folio(m, page);	/* list_splice(&folios_skipped, src) */
			continue;
		}
		scan += n;
		page->_refcount++;		/* folio_try_get() */
		taken[(*nr_taken)++] = pfn;
		nr += n;
	}
	for (int z = 0; z < m->nr_zones; z++)
		m->vmstat[PGSKIP_DMA + m->zones[z].idx] += skip[z];
	*nr_scanned = total_scan;
	tracev(m, TP_MM_VMSCAN_LRU_ISOLATE, (uint64_t)sc->reclaim_idx, (uint64_t)sc->order,
	       nr_to_scan, total_scan, skipped, nr, (uint64_t)lru);
	return nr;
}

/*
** shrink_folio_list()'s free_folios: the folios it frees wait in a batch,
** and a batch is freed (free_unref_folios) after the TLB flush its
** unmaps deferred (try_to_unmap_flush): when full, and at the end.
*/
struct free_folios {
	uint64_t pfn[PAGEVEC_SIZE];
	unsigned nr;
};

static void free_folios_release(memlab_machine *m, struct free_folios *fb)
{
	try_to_unmap_flush(m);
	for (unsigned i = 0; i < fb->nr; i++)
		put_page(m, fb->pfn[i]);
	fb->nr = 0;
}

static void free_folios_add(memlab_machine *m, struct free_folios *fb, uint64_t pfn)
{
	fb->pfn[fb->nr++] = pfn;
	if (fb->nr == PAGEVEC_SIZE)
		free_folios_release(m, fb);
}

/*
** The end of one isolated folio's look (move_folios_to_lru, or the free):
** an activated one is made active (nr_activate, the workingset's age);
** the pages freed, or 0.
*/
static uint64_t finish_folio(memlab_machine *m, uint64_t pfn, enum shrink_result r,
			     struct reclaim_stat *stat, struct free_folios *fb)
{
	struct page *page = pfn_to_page(m, pfn);
	uint64_t now = folio_nr_pages(page);	/* a THP split for swap is one page now */

	if (r == ACTIVATE && folio_evictable(page)) {
		page->flags |= PG_active;
		stat->nr_activate[folio_is_file_lru(page)] += now;
		/* its memcg's (count_memcg_folio_events): MADV_PAGEOUT's list mixes them */
		count_lruvec_events(m, folio_lruvec(m, page), PGACTIVATE, now);
		workingset_age_nonresident(folio_lruvec(m, page), now);
	}
	if (r == FREED) {
		free_folios_add(m, fb, pfn);
		return now;
	}
	putback_folio(m, pfn);
	return 0;
}

/*
** shrink_folio_list(): the n isolated folios in turn; the pages a large
** one among them was split into come right after it, the last first
** (split_folio_to_list adds them at the list's tail, where the next folio
** is taken from).  Each folio's isolation count goes as it is done, a
** split one's with its head.  The pages freed.
*/
static uint64_t shrink_folio_list(memlab_machine *m, const uint64_t *pfns, size_t n,
				  struct scan_control *sc, struct reclaim_stat *stat)
{
	struct folio_list split = { NULL, 0, 0 };
	struct free_folios fb = { .nr = 0 };
	uint64_t nr_reclaimed = 0;

	sc->split = &split;
	for (size_t i = 0; i < n; i++) {
		struct page *page = pfn_to_page(m, pfns[i]);
		uint64_t nr = folio_nr_pages(page);
		bool file = folio_is_file_lru(page);
		enum shrink_result r = shrink_folio(m, pfns[i], sc, stat);

		m->vmstat[NR_ISOLATED_ANON + file] -= nr;
		nr_reclaimed += finish_folio(m, pfns[i], r, stat, &fb);
		while (split.n) {	/* small pages: they split no further */
			uint64_t pfn = split.pfn[--split.n];

			nr_reclaimed += finish_folio(m, pfn, shrink_folio(m, pfn, sc, stat), stat, &fb);
		}
	}
	sc->split = NULL;
	ml_free(m, split.pfn, split.cap * sizeof(*split.pfn));
	free_folios_release(m, &fb);
	return nr_reclaimed;
}

/*
** shrink_inactive_list(): isolate a batch from the tail, try to free
** each page, put the rest back (activated ones to the active list); wake
** the flusher when every page taken was dirty and not yet queued.
*/
static uint64_t shrink_inactive_list(memlab_machine *m, struct lruvec *lruvec, uint64_t nr_to_scan,
				     enum lru_list lru, struct scan_control *sc)
{
	bool file = lru == LRU_INACTIVE_FILE;
	uint64_t taken[SWAP_CLUSTER_MAX], nr_scanned, nr_reclaimed = 0, nr_taken;
	struct reclaim_stat stat = { 0 };
	size_t n;

	lru_add_drain(m);	/* this CPU's new pages join the lists first */
	nr_taken = isolate_lru_folios(m, lruvec, nr_to_scan, lru, sc, taken, &n, &nr_scanned);
	m->vmstat[NR_ISOLATED_ANON + file] += nr_taken;
	count_reclaim_events(m, sc, lruvec, reclaimer_item(m, sc, PGSCAN_KSWAPD), nr_scanned);
	m->vmstat[PGSCAN_ANON + file] += nr_scanned;
	if (!nr_taken)
		return 0;
	nr_reclaimed = shrink_folio_list(m, taken, n, sc, &stat);
	count_reclaim_events(m, sc, lruvec, reclaimer_item(m, sc, PGSTEAL_KSWAPD), nr_reclaimed);
	m->vmstat[PGSTEAL_ANON + file] += nr_reclaimed;
	lru_note_cost(lruvec, file, stat.nr_pageout, nr_scanned - nr_reclaimed);
	/*
	 * Linux wakes the flusher when every page taken was dirty; its
	 * periodic write-back (dirty_expire_centisecs) cleans the rest in
	 * time.  memlab has no time: it wakes it whenever dirty pages block
	 * reclaim.
	 */
	if (stat.nr_unqueued_dirty == nr_taken || stat.nr_marked)
		wakeup_flusher_threads(m);
	tracev(m, TP_MM_VMSCAN_LRU_SHRINK_INACTIVE, 0, nr_scanned, nr_reclaimed, stat.nr_dirty,
	       stat.nr_writeback, stat.nr_congested, stat.nr_immediate, stat.nr_activate[0],
	       stat.nr_activate[1], stat.nr_ref_keep, stat.nr_unmap_fail,
	       (uint64_t)(int64_t)sc->priority, (uint64_t)trace_reclaim_flags(file));
	return nr_reclaimed;
}

/*
** shrink_active_list(): a batch from the active tail goes inactive
** (PG_workingset, pgdeactivate) -- but for file pages executable
** mappings have used, which get another trip round the active list.
*/
static void shrink_active_list(memlab_machine *m, struct lruvec *lruvec, uint64_t nr_to_scan,
			       enum lru_list lru, struct scan_control *sc)
{
	bool file = lru == LRU_ACTIVE_FILE;
	uint64_t taken[SWAP_CLUSTER_MAX], nr_scanned, nr_taken, nr_rotated = 0;
	uint64_t nr_activate = 0, nr_deactivate = 0;
	size_t n;

	lru_add_drain(m);
	nr_taken = isolate_lru_folios(m, lruvec, nr_to_scan, lru, sc, taken, &n, &nr_scanned);
	count_reclaim_events(m, sc, lruvec, PGREFILL, nr_scanned);
	for (size_t i = 0; i < n; i++) {
		struct page *page = pfn_to_page(m, taken[i]);
		uint64_t vm_flags, nr = folio_nr_pages(page);

		if (!folio_evictable(page)) {	/* mlocked: to the unevictable list */
			putback_folio(m, taken[i]);
			continue;
		}
		if (folio_referenced(m, taken[i], &vm_flags) && (vm_flags & VM_EXEC) &&
		    folio_is_file_lru(page)) {
			nr_rotated += nr;
			nr_activate += nr;
			workingset_age_nonresident(lruvec, nr);	/* move_folios_to_lru() */
			putback_folio(m, taken[i]);
			continue;
		}
		/* de-activated -- even one folio_referenced() found mlocked, which
		 * move_folios_to_lru puts back through the batch, uncounted */
		page->flags = (page->flags & ~PG_active) | PG_workingset;
		nr_deactivate += putback_folio(m, taken[i]) ? nr : 0;
	}
	count_lruvec_events(m, lruvec, PGDEACTIVATE, nr_deactivate);
	tracev(m, TP_MM_VMSCAN_LRU_SHRINK_ACTIVE, 0, nr_taken, nr_activate, nr_deactivate,
	       nr_rotated, (uint64_t)(int64_t)sc->priority, (uint64_t)trace_reclaim_flags(file));
}

static uint64_t int_sqrt64(uint64_t x)
{
	uint64_t r = 0;

	while ((r + 1) * (r + 1) <= x)
		r++;
	return r;
}

/*
** inactive_is_low(): the inactive list is short of its sqrt(10 * GiB)
** share -- of the lruvec's memcg with its descendants.
*/
static bool inactive_is_low(memlab_machine *m, struct lruvec *lruvec, enum lru_list inactive)
{
	uint64_t in = lruvec_lru_state(lruvec, inactive);
	uint64_t act = lruvec_lru_state(lruvec, inactive + LRU_ACTIVE);
	uint64_t gb = (in + act) >> (30 - m->page_shift);
	uint64_t ratio = gb ? int_sqrt64(10 * gb) : 1;

	return in * ratio < act;
}

/*
** lru_note_cost(): the cost of reclaiming from a list type -- its pages
** written (times SWAP_CLUSTER_MAX) and those it failed to free -- as a
** floating average, halved when it outgrows a quarter of the LRU pages;
** in the lruvec and in its memcg's ancestors' (parent_lruvec()).
*/
void lru_note_cost(struct lruvec *lruvec, bool file, uint64_t nr_io, uint64_t nr_rotated)
{
	for (struct mem_cgroup *memcg = lruvec_memcg(lruvec); memcg; memcg = memcg->parent) {
		struct lruvec *l = &memcg->lruvec;
		uint64_t lrusize = lruvec_lru_state(l, LRU_INACTIVE_ANON) +
				   lruvec_lru_state(l, LRU_ACTIVE_ANON) +
				   lruvec_lru_state(l, LRU_INACTIVE_FILE) +
				   lruvec_lru_state(l, LRU_ACTIVE_FILE);

		*(file ? &l->file_cost : &l->anon_cost) += nr_io * SWAP_CLUSTER_MAX + nr_rotated;
		if (l->file_cost + l->anon_cost > lrusize / 4) {
			l->file_cost /= 2;
			l->anon_cost /= 2;
		}
	}
}

/* can_reclaim_anon_pages(): there is swap to put them in (memcg: within its swap.max). */
static bool can_reclaim_anon_pages(const memlab_machine *m, const struct mem_cgroup *memcg)
{
	return memcg ? mem_cgroup_get_nr_swap_pages(m, memcg) > 0 : swap_available(m);
}

/* can_age_anon_pages(): there is swap at all (total_swap_pages), full or not. */
static bool can_age_anon_pages(const memlab_machine *m)
{
	return m->swap != NULL;
}

/*
** sc_swappiness(): memory.reclaim's swappiness=, else vm.swappiness
** (mem_cgroup_swappiness(): cgroup v2 has no per-cgroup swappiness).
*/
static int sc_swappiness(memlab_machine *m, const struct scan_control *sc)
{
	return sc->proactive_swappiness >= 0 ? sc->proactive_swappiness : m->swappiness;
}

enum scan_balance { SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE };

/*
** get_scan_count()'s protection: a list of a cgroup with an effective
** memory.min or memory.low is scanned in proportion to the share of its
** usage above the protection (memory.low only before memcg_low_reclaim),
** SWAP_CLUSTER_MAX at least.
*/
static uint64_t protected_scan(memlab_machine *m, struct lruvec *lruvec,
			       struct scan_control *sc, uint64_t size)
{
	struct mem_cgroup *memcg = lruvec_memcg(lruvec);
	uint64_t min, low, protection, cgroup_size = memcg->memory.usage, scan;

	mem_cgroup_protection(sc->target_mem_cgroup ? sc->target_mem_cgroup : m->root_mem_cgroup,
			      memcg, &min, &low);
	if (!min && !low)
		return size;
	if (!sc->memcg_low_reclaim && low > min) {
		protection = low;
		sc->memcg_low_skipped = true;
	} else {
		protection = min;
	}
	if (cgroup_size < protection)
		cgroup_size = protection;
	scan = size - size * protection / (cgroup_size + 1);
	return scan > SWAP_CLUSTER_MAX ? scan : SWAP_CLUSTER_MAX;
}

/*
** get_scan_count(): how many pages of each of the lruvec's lists this
** pass scans -- its size >> priority, shared between anon and file by
** swappiness and by what reclaiming each has cost (SCAN_FRACT); only
** file without swap, for a cgroup at swappiness 0, or when the inactive
** file list alone will do (cache_trim_mode); only anon when file pages
** are all but gone (file_is_tiny); both in full at priority 0.  A dying
** memcg's lists are scanned SWAP_CLUSTER_MAX at least.
*/
static void get_scan_count(memlab_machine *m, struct lruvec *lruvec, struct scan_control *sc,
			   uint64_t *nr)
{
	enum scan_balance balance = SCAN_FRACT;
	uint64_t fraction[2] = { 0, 0 }, denominator = 1;
	int swappiness = sc_swappiness(m, sc);

	if (!sc->may_swap || !can_reclaim_anon_pages(m, lruvec_memcg(lruvec)))
		balance = SCAN_FILE;
	else if (swappiness == SWAPPINESS_ANON_ONLY)
		balance = SCAN_ANON;
	else if (cgroup_reclaim(sc) && !swappiness)
		balance = SCAN_FILE;
	else if (!sc->priority && swappiness)
		balance = SCAN_EQUAL;
	else if (sc->file_is_tiny)
		balance = SCAN_ANON;
	else if (sc->cache_trim_mode)
		balance = SCAN_FILE;
	else {
		uint64_t total = sc->anon_cost + sc->file_cost;
		uint64_t anon_cost = total + sc->anon_cost, file_cost = total + sc->file_cost;

		total = anon_cost + file_cost;
		fraction[0] = (uint64_t)swappiness * (total + 1) / (anon_cost + 1);
		fraction[1] = (uint64_t)(MAX_SWAPPINESS - swappiness) * (total + 1) / (file_cost + 1);
		denominator = fraction[0] + fraction[1];
	}
	for (int lru = 0; lru < LRU_UNEVICTABLE; lru++) {
		int file = lru >= LRU_INACTIVE_FILE;
		uint64_t size = lruvec->nr_pages[lru], scan = protected_scan(m, lruvec, sc, size);

		scan >>= sc->priority;
		if (!scan && !lruvec_memcg(lruvec)->online)
			scan = size < SWAP_CLUSTER_MAX ? size : SWAP_CLUSTER_MAX;
		if (balance == SCAN_FRACT)
			scan = denominator ? scan * fraction[file] / denominator : 0;
		else if ((balance == SCAN_FILE && !file) || (balance == SCAN_ANON && file))
			scan = 0;
		nr[lru] = scan;
	}
}

/* shrink_list(): the inactive list reclaims; the active one deactivates when allowed. */
static uint64_t shrink_list(memlab_machine *m, struct lruvec *lruvec, enum lru_list lru,
			    uint64_t n, struct scan_control *sc)
{
	bool file = lru >= LRU_INACTIVE_FILE;

	if (lru == LRU_INACTIVE_ANON || lru == LRU_INACTIVE_FILE)
		return shrink_inactive_list(m, lruvec, n, lru, sc);
	if (sc->may_deactivate & (file ? DEACTIVATE_FILE : DEACTIVATE_ANON))
		shrink_active_list(m, lruvec, n, lru, sc);
	else
		sc->skipped_deactivate = true;
	return 0;
}

/*
** Once enough is reclaimed (kswapd, or direct reclaim past its first
** pass), shrink_lruvec stops the smaller of anon and file and scales the
** other down to the share of its target still unscanned, for one more
** round.  False (one type has nothing left to scan): stop.
*/
static bool scan_proportionally(uint64_t *nr, const uint64_t *targets)
{
	uint64_t nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE];
	uint64_t nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON], percentage;
	int lru;

	if (!nr_file || !nr_anon)
		return false;
	if (nr_file > nr_anon) {
		percentage = nr_anon * 100 / (targets[LRU_INACTIVE_ANON] + targets[LRU_ACTIVE_ANON] + 1);
		lru = LRU_INACTIVE_ANON;
	} else {
		percentage = nr_file * 100 / (targets[LRU_INACTIVE_FILE] + targets[LRU_ACTIVE_FILE] + 1);
		lru = LRU_INACTIVE_FILE;
	}
	nr[lru] = nr[lru + LRU_ACTIVE] = 0;
	lru = lru == LRU_INACTIVE_FILE ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE;
	for (int l = lru; l <= lru + LRU_ACTIVE; l++) {
		uint64_t scanned = targets[l] - nr[l];

		nr[l] = targets[l] * (100 - percentage) / 100;
		nr[l] -= nr[l] < scanned ? nr[l] : scanned;
	}
	return true;
}

/*
** shrink_lruvec(): scan each list's target SWAP_CLUSTER_MAX at a time
** (inactive anon, active anon, inactive file, active file); once enough
** was reclaimed, go on proportionally (or stop); then age the active anon
** list if its inactive one is short.
*/
static void shrink_lruvec(memlab_machine *m, struct lruvec *lruvec, struct scan_control *sc)
{
	uint64_t nr[NR_LRU_LISTS] = { 0 }, targets[NR_LRU_LISTS], nr_reclaimed = 0;
	bool proportional = !cgroup_reclaim(sc) && !sc->kswapd && sc->priority == DEF_PRIORITY;

	get_scan_count(m, lruvec, sc, nr);
	memcpy(targets, nr, sizeof(targets));
	while (nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE]) {
		for (int lru = 0; lru < LRU_UNEVICTABLE; lru++) {
			uint64_t n = nr[lru] < SWAP_CLUSTER_MAX ? nr[lru] : SWAP_CLUSTER_MAX;

			if (!n)
				continue;
			nr[lru] -= n;
			nr_reclaimed += shrink_list(m, lruvec, (enum lru_list)lru, n, sc);
		}
		if (nr_reclaimed < sc->nr_to_reclaim || proportional)
			continue;
		if (!scan_proportionally(nr, targets))
			break;		/* the second time round: one type is done */
	}
	sc->nr_reclaimed += nr_reclaimed;
	if (can_age_anon_pages(m) && inactive_is_low(m, lruvec, LRU_INACTIVE_ANON))
		shrink_active_list(m, lruvec, SWAP_CLUSTER_MAX, LRU_ACTIVE_ANON, sc);
}

/* lruvec_page_state() of the target for a vmstat item: its memcg's, descendants included. */
static uint64_t target_state(memlab_machine *m, const struct scan_control *sc, int item)
{
	int64_t x = lruvec_memcg(target_lruvec(m, sc))->stat[item];

	return x > 0 ? (uint64_t)x : 0;
}

/*
** prepare_scan_control(): the target's costs so far, which active lists
** may be deactivated (the target's inactive list is short, or its pages
** refaulted into the active list since the last run), cache_trim_mode
** (enough inactive file pages to leave anon alone), and for the node's
** reclaim file_is_tiny (file and free pages below the high watermarks:
** anon must give).
*/
static void prepare_scan_control(memlab_machine *m, struct scan_control *sc)
{
	struct lruvec *target = target_lruvec(m, sc);
	const uint64_t *v = m->vmstat;
	uint64_t free = 0, high = 0, file = v[NR_ACTIVE_FILE] + v[NR_INACTIVE_FILE];

	sc->anon_cost = target->anon_cost;
	sc->file_cost = target->file_cost;
	if (sc->force_deactivate)
		sc->may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE;
	else	/* refaults since the last reclaim run also say the active list is too big */
		sc->may_deactivate =
			(target_state(m, sc, WORKINGSET_ACTIVATE_ANON) != target->refaults[0] ||
			 inactive_is_low(m, target, LRU_INACTIVE_ANON) ? DEACTIVATE_ANON : 0) |
			(target_state(m, sc, WORKINGSET_ACTIVATE_FILE) != target->refaults[1] ||
			 inactive_is_low(m, target, LRU_INACTIVE_FILE) ? DEACTIVATE_FILE : 0);
	sc->cache_trim_mode = (lruvec_lru_state(target, LRU_INACTIVE_FILE) >> sc->priority) &&
			      !(sc->may_deactivate & DEACTIVATE_FILE);
	sc->file_is_tiny = false;
	if (cgroup_reclaim(sc))
		return;
	for (int z = 0; z < m->nr_zones; z++) {
		if (!m->zones[z].managed_pages)
			continue;
		free += m->zones[z].nr_free_pages;
		high += high_wmark_pages(&m->zones[z]);
	}
	sc->file_is_tiny = file + free <= high && !(sc->may_deactivate & DEACTIVATE_ANON) &&
			   (v[NR_INACTIVE_ANON] >> sc->priority);
}

/* in_reclaim_compaction(): reclaim makes room for compacting a high order. */
static bool in_reclaim_compaction(const struct scan_control *sc)
{
	return (sc->gfp_mask & MEMLAB___GFP_IO) && sc->order &&
	       (sc->order > PAGE_ALLOC_COSTLY_ORDER || sc->priority < DEF_PRIORITY - 2);
}

/*
** should_continue_reclaim(): for compaction, go on while the last pass
** freed something, no zone could serve the order or compact for it yet,
** and the node's inactive lists hold more than compact_gap(order) pages.
*/
static bool should_continue_reclaim(memlab_machine *m, uint64_t nr_reclaimed,
				    const struct scan_control *sc)
{
	uint64_t inactive = m->vmstat[NR_INACTIVE_FILE];

	if (!in_reclaim_compaction(sc) || !nr_reclaimed)
		return false;
	for (int z = 0; z <= sc->reclaim_idx && z < m->nr_zones; z++) {
		const struct zone *zone = &m->zones[z];

		if (!zone->managed_pages)
			continue;
		if (zone_watermark_ok(m, zone, (unsigned)sc->order, min_wmark_pages(zone),
				      sc->reclaim_idx, 0) ||
		    compaction_suitable(m, zone, sc->order, sc->reclaim_idx))
			return false;
	}
	if (can_reclaim_anon_pages(m, NULL))
		inactive += m->vmstat[NR_INACTIVE_ANON];
	return inactive > (2ull << sc->order);
}

/*
** The next memcg of a reclaim walk under target (mem_cgroup_iter with a
** reclaim cookie): direct reclaim walks partially, resuming after the
** memcg the last walk under the same target stopped at, and wrapping
** once; kswapd walks all of them.  NULL: the walk is over.
*/
static struct mem_cgroup *reclaim_iter(memlab_machine *m, struct mem_cgroup *target,
				       struct mem_cgroup *prev, bool partial)
{
	struct mem_cgroup *next;

	if (!partial)
		return mem_cgroup_iter(m, target, prev);
	next = mem_cgroup_iter(m, target, prev ? prev : target->reclaim_pos);
	if (!next && !prev)	/* a walk that starts at the end begins again */
		next = target;
	target->reclaim_pos = next;
	return next;
}

/*
** shrink_node_memcgs(): each memcg under the target has its lruvec
** shrunk -- but one below its effective memory.min, and one below its
** memory.low until a run finds nothing else (memcg_low_reclaim, then
** memory.events low); a partial walk stops once enough is reclaimed.
*/
static void shrink_node_memcgs(memlab_machine *m, struct scan_control *sc)
{
	struct mem_cgroup *target = sc->target_mem_cgroup ? sc->target_mem_cgroup
							  : m->root_mem_cgroup;
	bool partial = !sc->kswapd && !sc->memcg_full_walk;
	struct mem_cgroup *memcg = reclaim_iter(m, target, NULL, partial);

	do {
		mem_cgroup_calculate_protection(m, target, memcg);
		if (mem_cgroup_below_min(m, target, memcg))
			continue;
		if (mem_cgroup_below_low(m, target, memcg)) {
			if (!sc->memcg_low_reclaim) {
				sc->memcg_low_skipped = true;
				continue;
			}
			memcg_memory_event(memcg, MEMCG_LOW);
		}
		shrink_lruvec(m, &memcg->lruvec, sc);
		shrink_deferred_split(m, memcg, sc->priority);	/* shrink_slab(): its one shrinker */
		if (partial && sc->nr_reclaimed >= sc->nr_to_reclaim)
			break;
	} while ((memcg = reclaim_iter(m, target, memcg, partial)));
}

/*
** drop_slab() (drop_caches 2): every memcg's shrinkers at priority 0,
** all they hold, again while a pass frees more than it did halved.
*/
void drop_slab(memlab_machine *m)
{
	uint64_t freed;
	int shift = 0;

	do {
		struct mem_cgroup *memcg = mem_cgroup_iter(m, NULL, NULL);

		freed = 0;
		do
			freed += shrink_deferred_split(m, memcg, 0);
		while ((memcg = mem_cgroup_iter(m, NULL, memcg)));
	} while ((freed >> shift++) > 1);
}

/* shrink_node(): passes over the node's memcgs; kswapd_failures reset on progress. */
static void shrink_node(memlab_machine *m, struct scan_control *sc)
{
	uint64_t before = sc->nr_reclaimed, pass;

	do {
		pass = sc->nr_reclaimed;
		prepare_scan_control(m, sc);
		shrink_node_memcgs(m, sc);
	} while (should_continue_reclaim(m, sc->nr_reclaimed - pass, sc));
	if (sc->nr_reclaimed > before)
		m->kswapd.failures = 0;
}

/*
** compaction_ready(): for a costly order, a zone that could serve it, or
** could compact for it with compact_gap(order) pages above its high
** watermark, needs no more reclaim.
*/
static bool compaction_ready(memlab_machine *m, const struct zone *z, const struct scan_control *sc)
{
	if (!(sc->gfp_mask & MEMLAB___GFP_IO))
		return false;
	if (zone_watermark_ok(m, z, (unsigned)sc->order, min_wmark_pages(z), sc->reclaim_idx, 0))
		return true;
	if (!compaction_suitable(m, z, sc->order, sc->reclaim_idx))
		return false;
	return zone_watermark_ok_safe(m, z, 0, high_wmark_pages(z) + (2ull << sc->order),
				      sc->reclaim_idx);
}

/*
** shrink_zones(): the zonelist from the highest zone down; for the
** node's reclaim a zone ready for compaction (costly orders) is passed
** by; the node is shrunk once, at the first zone that is not.
*/
static void shrink_zones(memlab_machine *m, struct scan_control *sc)
{
	for (int z = sc->reclaim_idx; z >= 0; z--) {
		if (!m->zones[z].managed_pages)
			continue;
		if (!cgroup_reclaim(sc) && sc->order > PAGE_ALLOC_COSTLY_ORDER &&
		    compaction_ready(m, &m->zones[z], sc)) {
			sc->compaction_ready = true;
			continue;
		}
		shrink_node(m, sc);
		return;
	}
}

/*
** MADV_PAGEOUT's folio_isolate_lru() of the folio at pfn onto its list l,
** with a reference; one on no list (in a CPU's batch) is left alone, and
** so is one the host has no room to list.
*/
void folio_isolate_for_pageout(memlab_machine *m, struct folio_list *l, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);

	if (!(page->flags & PG_lru) || !folio_list_add(m, l, pfn))
		return;
	lru_del(m, page);
	page->flags &= ~PG_active;	/* reclaim_pages(): kept, it goes back inactive */
	page->_refcount++;
	m->vmstat[NR_ISOLATED_ANON + folio_is_file_lru(page)] += folio_nr_pages(page);
}

/*
** reclaim_pages() of the folios MADV_PAGEOUT isolated from one PMD's
** range (reclaim_folio_list): one shrink_folio_list() over them all,
** without looking at their references -- so their unmaps share the
** batched TLB flushes -- the rest put back (mm_vmscan_reclaim_pages).
** l is left empty.  Returns the pages reclaimed.
*/
uint64_t reclaim_pages(memlab_machine *m, struct folio_list *l)
{
	struct scan_control sc = { .gfp_mask = MEMLAB_GFP_KERNEL, .ignore_references = true,
				   .may_swap = true, .proactive_swappiness = -1 };
	struct reclaim_stat stat = { 0 };
	uint64_t reclaimed;

	if (!l->n)
		return 0;
	reclaimed = shrink_folio_list(m, l->pfn, l->n, &sc, &stat);
	l->n = 0;
	tracev(m, TP_MM_VMSCAN_RECLAIM_PAGES, 0, sc.nr_scanned, reclaimed, stat.nr_dirty,
	       stat.nr_writeback, stat.nr_congested, stat.nr_immediate, stat.nr_activate[0],
	       stat.nr_activate[1], stat.nr_ref_keep, stat.nr_unmap_fail);
	return reclaimed;
}

/* snapshot_refaults(): the refault activations the target's reclaim run ended with. */
static void snapshot_refaults(memlab_machine *m, const struct scan_control *sc)
{
	struct lruvec *target = target_lruvec(m, sc);

	target->refaults[0] = target_state(m, sc, WORKINGSET_ACTIVATE_ANON);
	target->refaults[1] = target_state(m, sc, WORKINGSET_ACTIVATE_FILE);
}

/* ===================== direct reclaim ===================== */

/*
** do_try_to_free_pages(): from priority DEF_PRIORITY down, until enough
** is reclaimed or (a costly order) compaction could proceed; the node's
** reclaim counts a stall (allocstall_<zone>) per pass.  A run that freed
** nothing goes again: walking every memcg (a partial walk may have seen
** too few), then deactivating the active lists it spared, then reclaiming
** below memory.low.  Returns the pages reclaimed, or 1 when only
** compaction is ready.
*/
static uint64_t do_try_to_free_pages(memlab_machine *m, struct scan_control *sc)
{
	uint64_t nr = 0;

	m->reclaim_target = sc->target_mem_cgroup;	/* workingset_eviction()'s target_memcg */
retry:
	if (!cgroup_reclaim(sc))
		m->vmstat[ALLOCSTALL_DMA + m->zones[sc->reclaim_idx].idx]++;
	do {
		sc->nr_scanned = 0;
		shrink_zones(m, sc);
		if (sc->nr_reclaimed >= sc->nr_to_reclaim || sc->compaction_ready)
			break;
	} while (--sc->priority >= 0);
	snapshot_refaults(m, sc);
	if (sc->nr_reclaimed || sc->compaction_ready) {
		nr = sc->nr_reclaimed ? sc->nr_reclaimed : 1;
		goto out;
	}
	sc->priority = DEF_PRIORITY;
	if (!sc->memcg_full_walk) {
		sc->memcg_full_walk = true;
		goto retry;
	}
	if (sc->skipped_deactivate) {		/* the active lists were spared: not any more */
		sc->force_deactivate = true;
		sc->skipped_deactivate = false;
		goto retry;
	}
	if (sc->memcg_low_skipped) {		/* untapped memory.low reserves: reclaim them */
		sc->force_deactivate = false;
		sc->memcg_low_reclaim = true;
		sc->memcg_low_skipped = false;
		goto retry;
	}
out:
	m->reclaim_target = NULL;
	return nr;
}

/*
** try_to_free_pages(): an allocation that may reclaim does, until
** SWAP_CLUSTER_MAX pages are free.
*/
uint64_t try_to_free_pages(memlab_machine *m, unsigned order, uint32_t gfp, int reclaim_idx)
{
	struct scan_control sc = { .nr_to_reclaim = SWAP_CLUSTER_MAX, .gfp_mask = gfp,
				   .order = (int)order, .priority = DEF_PRIORITY,
				   .reclaim_idx = reclaim_idx, .may_swap = true,
				   .proactive_swappiness = -1 };
	uint64_t nr;

	trace(m, TP_MM_VMSCAN_DIRECT_RECLAIM_BEGIN, order, gfp, 0, 0);
	nr = do_try_to_free_pages(m, &sc);
	trace(m, TP_MM_VMSCAN_DIRECT_RECLAIM_END, sc.nr_reclaimed, 0, 0, 0);
	return nr;
}

/*
** try_to_free_mem_cgroup_pages(): a cgroup at its limit (or above its
** high, or asked by memory.reclaim) reclaims at least SWAP_CLUSTER_MAX
** pages from its subtree, in every zone; anon only with MAY_SWAP;
** swappiness >= 0 stands for the memcgs' (memory.reclaim's swappiness=).
*/
uint64_t try_to_free_mem_cgroup_pages(memlab_machine *m, struct mem_cgroup *memcg,
				      uint64_t nr_pages, uint32_t gfp, unsigned options,
				      int swappiness)
{
	struct scan_control sc = {
		.nr_to_reclaim = nr_pages > SWAP_CLUSTER_MAX ? nr_pages : SWAP_CLUSTER_MAX,
		.gfp_mask = (gfp & (MEMLAB___GFP_RECLAIM | MEMLAB___GFP_IO | MEMLAB___GFP_FS)) |
			    (MEMLAB_GFP_HIGHUSER_MOVABLE & ~(MEMLAB___GFP_RECLAIM |
							     MEMLAB___GFP_IO | MEMLAB___GFP_FS)),
		.reclaim_idx = m->nr_zones - 1, .target_mem_cgroup = memcg,
		.priority = DEF_PRIORITY, .may_swap = options & MEMCG_RECLAIM_MAY_SWAP,
		.proactive = options & MEMCG_RECLAIM_PROACTIVE,
		.proactive_swappiness = swappiness,
	};
	uint64_t nr;

	trace(m, TP_MM_VMSCAN_MEMCG_RECLAIM_BEGIN, 0, sc.gfp_mask, 0, 0);
	nr = do_try_to_free_pages(m, &sc);
	trace(m, TP_MM_VMSCAN_MEMCG_RECLAIM_END, nr, 0, 0, 0);
	return nr;
}

/* zone_reclaimable_pages(): what reclaim could free in the zone: file pages, anon with free swap. */
uint64_t zone_reclaimable_pages(const memlab_machine *m, const struct zone *z)
{
	uint64_t nr = z->nr_lru[LRU_INACTIVE_FILE] + z->nr_lru[LRU_ACTIVE_FILE];

	if (can_reclaim_anon_pages(m, NULL))
		nr += z->nr_lru[LRU_INACTIVE_ANON] + z->nr_lru[LRU_ACTIVE_ANON];
	return nr;
}

/* ===================== kswapd ===================== */

/* pgdat_balanced(): some zone up to highest_zoneidx is above its high watermark. */
static bool pgdat_balanced(memlab_machine *m, unsigned order, int highest_zoneidx)
{
	bool any = false;

	for (int i = 0; i <= highest_zoneidx && i < m->nr_zones; i++) {
		const struct zone *z = &m->zones[i];

		if (!z->managed_pages)
			continue;
		any = true;
		if (zone_watermark_ok_safe(m, z, order, high_wmark_pages(z), highest_zoneidx))
			return true;
	}
	return !any;
}

/*
** pgdat_watermark_boosted(): a zone up to highest_zoneidx has a boost to
** reclaim.  Only the boosts are looked at, not the marks: reclaim would
** start early when nothing is boosted and a lower zone is balanced.
*/
static bool pgdat_watermark_boosted(const memlab_machine *m, int highest_zoneidx)
{
	for (int i = highest_zoneidx < m->nr_zones ? highest_zoneidx : m->nr_zones - 1; i >= 0; i--)
		if (m->zones[i].managed_pages && m->zones[i].watermark_boost)
			return true;
	return false;
}

/*
** wakeup_kswapd(): an allocation fell below the low watermark, or a
** fallback boosted a zone's watermarks.  The request's order and zone
** widen what kswapd will balance; a sleeping kswapd wakes
** (mm_vmscan_wakeup_kswapd) unless the node is hopeless, or balanced
** already with no boost to reclaim.
*/
void wakeup_kswapd(memlab_machine *m, int zid, uint32_t gfp, unsigned order, int highest_zoneidx)
{
	struct kswapd_state *k = &m->kswapd;

	if (!m->zones[zid].managed_pages)
		return;
	if (k->highest_zoneidx < 0 || k->highest_zoneidx < highest_zoneidx)
		k->highest_zoneidx = highest_zoneidx;
	if (k->order < order)
		k->order = order;
	if (k->woken)
		return;
	if (k->failures >= MAX_RECLAIM_RETRIES ||
	    (pgdat_balanced(m, order, highest_zoneidx) &&
	     !pgdat_watermark_boosted(m, highest_zoneidx))) {
		/* enough free memory, maybe too fragmented for the order */
		if (!(gfp & MEMLAB___GFP_DIRECT_RECLAIM))
			wakeup_kcompactd(m, order, highest_zoneidx);
		return;
	}
	trace(m, TP_MM_VMSCAN_WAKEUP_KSWAPD, 0, (uint64_t)zid, order, gfp);
	k->woken = true;
}

/*
** age_active_anon(): kswapd deactivates anon pages of every memcg when
** the node's inactive anon list is short.
*/
static void age_active_anon(memlab_machine *m, struct scan_control *sc)
{
	if (!can_age_anon_pages(m) || !inactive_is_low(m, &m->root_mem_cgroup->lruvec,
						       LRU_INACTIVE_ANON))
		return;
	for (struct mem_cgroup *memcg = mem_cgroup_iter(m, NULL, NULL); memcg;
	     memcg = mem_cgroup_iter(m, NULL, memcg))
		shrink_active_list(m, &memcg->lruvec, SWAP_CLUSTER_MAX, LRU_ACTIVE_ANON, sc);
}

/*
** set_reclaim_active() / clear_reclaim_active(): while kswapd balances
** the node, frees into the per-CPU lists of its zones keep them short
** (nr_pcp_high), so that what it reclaims reaches the buddy lists.
*/
static void set_reclaim_active(memlab_machine *m, int highest_zoneidx, bool active)
{
	for (int z = 0; z <= highest_zoneidx && z < m->nr_zones; z++) {
		if (!m->zones[z].managed_pages)
			continue;
		if (active)
			m->zones[z].flags |= ZONE_RECLAIM_ACTIVE;
		else
			m->zones[z].flags &= ~ZONE_RECLAIM_ACTIVE;
	}
}

/*
** boost_reclaim_begin(): the boosts kswapd is to reclaim, zone by zone
** (zone_boosts) and in all.  The boosts stay in the marks meanwhile, so
** that allocations near the watermark stall or reclaim until kswapd is
** done.
*/
static uint64_t boost_reclaim_begin(memlab_machine *m, int highest_zoneidx,
				    uint64_t zone_boosts[MAX_NR_ZONES])
{
	uint64_t nr_boost_reclaim = 0;

	for (int i = 0; i <= highest_zoneidx && i < m->nr_zones; i++) {
		zone_boosts[i] = 0;
		if (!m->zones[i].managed_pages)
			continue;
		zone_boosts[i] = m->zones[i].watermark_boost;
		nr_boost_reclaim += zone_boosts[i];
	}
	return nr_boost_reclaim;
}

/*
** boost_reclaim_end(): the boosts seen at the start are taken off the
** zones, however much was reclaimed (normal reclaim decides afresh when
** kswapd next wakes), and kcompactd is woken to rebuild pageblocks in
** the room made.
*/
static void boost_reclaim_end(memlab_machine *m, int highest_zoneidx,
			      const uint64_t zone_boosts[MAX_NR_ZONES])
{
	for (int i = 0; i <= highest_zoneidx && i < m->nr_zones; i++) {
		struct zone *z = &m->zones[i];

		z->watermark_boost -= zone_boosts[i] < z->watermark_boost ?
				      zone_boosts[i] : z->watermark_boost;
	}
	wakeup_kcompactd(m, m->pageblock_order, highest_zoneidx);
}

/*
** kswapd_shrink_node(): one pass aiming at the zones' high watermarks
** (boosts included); a high order falls back to 0 once compact_gap
** pages are free (compaction makes the block).  True when the pass
** scanned its aim: no need to raise the priority.
*/
static bool kswapd_shrink_node(memlab_machine *m, struct scan_control *sc, int highest_zoneidx)
{
	sc->nr_to_reclaim = 0;
	for (int z = 0; z <= highest_zoneidx && z < m->nr_zones; z++) {
		uint64_t high = high_wmark_pages(&m->zones[z]);

		if (m->zones[z].managed_pages)
			sc->nr_to_reclaim += high > SWAP_CLUSTER_MAX ? high : SWAP_CLUSTER_MAX;
	}
	sc->nr_scanned = 0;
	shrink_node(m, sc);
	if (sc->order && sc->nr_reclaimed >= 2ull << sc->order)
		sc->order = 0;
	return sc->nr_scanned >= sc->nr_to_reclaim;
}

/*
** balance_pgdat(): reclaim from DEF_PRIORITY down until a zone is above
** its high watermark; priority rises when a pass scanned less than its
** aim or freed nothing.  A run that freed nothing is a kswapd failure.
** Boosted watermarks (a fallback's boost_watermark) make kswapd reclaim
** the boost even when the node is balanced, but gently: no swap (and no
** writeback, which memlab's reclaim never does), priority no higher than
** DEF_PRIORITY - 2, and it stops when a pass frees nothing.  When the
** node is not balanced, the boost is set aside and reclaim restarts as
** normal reclaim.  Returns the order balanced for.
*/
static unsigned balance_pgdat(memlab_machine *m, unsigned order, int highest_zoneidx)
{
	struct scan_control sc = { .gfp_mask = MEMLAB_GFP_KERNEL, .order = (int)order,
				   .reclaim_idx = highest_zoneidx, .kswapd = true,
				   .proactive_swappiness = -1 };
	uint64_t zone_boosts[MAX_NR_ZONES];
	uint64_t nr_boost_reclaim = boost_reclaim_begin(m, highest_zoneidx, zone_boosts);
	bool boosted = nr_boost_reclaim != 0;

	m->vmstat[PAGEOUTRUN]++;
restart:
	set_reclaim_active(m, highest_zoneidx, true);
	sc.priority = DEF_PRIORITY;
	do {
		uint64_t nr_reclaimed = sc.nr_reclaimed;
		bool raise_priority = true;
		bool balanced = pgdat_balanced(m, (unsigned)sc.order, highest_zoneidx);

		if (!balanced && nr_boost_reclaim) {
			nr_boost_reclaim = 0;
			goto restart;
		}
		if (!nr_boost_reclaim && balanced)
			goto out;
		/* boosted reclaim relieves pressure, it does not swap */
		if (nr_boost_reclaim && sc.priority == DEF_PRIORITY - 2)
			raise_priority = false;
		sc.may_swap = !nr_boost_reclaim;
		age_active_anon(m, &sc);
		if (kswapd_shrink_node(m, &sc, highest_zoneidx))
			raise_priority = false;
		nr_reclaimed = sc.nr_reclaimed - nr_reclaimed;
		nr_boost_reclaim -= nr_boost_reclaim < nr_reclaimed ? nr_boost_reclaim : nr_reclaimed;
		if (nr_boost_reclaim && !nr_reclaimed)
			break;		/* no progress without IO: stop, or it could loop */
		if (raise_priority || !nr_reclaimed)
			sc.priority--;
	} while (sc.priority >= 1);
	if (!sc.nr_reclaimed)
		m->kswapd.failures++;
out:
	set_reclaim_active(m, highest_zoneidx, false);
	if (boosted)
		boost_reclaim_end(m, highest_zoneidx, zone_boosts);
	snapshot_refaults(m, &sc);
	return (unsigned)sc.order;
}

/*
** kswapd(): woken, it balances the node (mm_vmscan_kswapd_wake), again
** while that leaves it unbalanced and hopeful, then sleeps
** (mm_vmscan_kswapd_sleep).  Runs where memlab lets other CPUs run:
** when the outermost operation returns.
*/
void kswapd_run(memlab_machine *m)
{
	struct kswapd_state *k = &m->kswapd;

	if (!k->woken || k->running || m->current)	/* not inside an operation */
		return;
	k->running = true;
	while (k->woken) {
		unsigned order = k->order;
		int zid = k->highest_zoneidx < 0 ? m->nr_zones - 1 : k->highest_zoneidx;

		k->order = 0;
		k->highest_zoneidx = -1;
		unsigned reclaim_order;

		trace(m, TP_MM_VMSCAN_KSWAPD_WAKE, 0, (uint64_t)zid, order, 0);
		reclaim_order = balance_pgdat(m, order, zid);	/* the order it balanced for */
		if (pgdat_balanced(m, reclaim_order, zid) || k->failures >= MAX_RECLAIM_RETRIES) {
			/* kswapd_try_to_sleep(): the memory is free, kcompactd makes the block */
			wakeup_kcompactd(m, order, zid);
			trace(m, TP_MM_VMSCAN_KSWAPD_SLEEP, 0, 0, 0, 0);
			k->woken = false;
		}
	}
	k->running = false;
}

/* The kernel threads memlab runs between operations: kswapd, then kcompactd. */
void background_run(memlab_machine *m)
{
	if (m->dead)
		return;
	kswapd_run(m);
	kcompactd_run(m);
}

void kswapd_init(memlab_machine *m)
{
	m->kswapd.highest_zoneidx = -1;
}
