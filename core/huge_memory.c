/*
** huge_memory.c -- transparent huge pages for anonymous memory, as
** mm/huge_memory.c maps them: a PMD entry for a whole 2 MiB (on arm64, the
** granule's PMD size) of a private anonymous VMA that THP is enabled for
** (transparent_hugepage/enabled "always", or "madvise" and
** MADV_HUGEPAGE), the huge zero page for a read fault, a PTE table
** deposited with every huge PMD for a later split, copy on write by
** splitting, fork sharing the huge page.
**
** A PMD whose mapping must become PTEs -- a write to a huge page another
** process maps too, an operation on part of it (munmap, mprotect, mlock,
** madvise, mremap) -- is split alone (__split_huge_pmd): the folio stays
** whole, PTE-mapped there and PMD-mapped elsewhere; a write then copies
** one small page.  A folio left partially mapped is queued for the
** deferred split, which reclaim's shrinker (or drop_caches 2) does.
**
** MADV_COLD, MADV_PAGEOUT, MADV_FREE and mlock take a folio whole where
** the range covers it, PMD- or PTE-mapped, and split it (or leave it,
** when another mm maps it) where the range covers part of it; reclaim
** drops a lazily freed one whole.
**
** Small pages become a huge page again in khugepaged.c (MADV_COLLAPSE,
** khugepaged).
**
** Multi-size THP (mTHP): each size from 4 pages up to the PMD's has its
** hugepages-<size>kB/enabled and stats/; memory.c's alloc_anon_folio()
** maps the smaller sizes by PTEs, and everything above handles such a
** folio as a PMD-sized one after its PMD was split.
**
** Simplified: one deferred split queue for the machine (Linux: one per
** memcg).  No shmem or file THP.  Reclaim splits a large folio to swap
** it, as Linux does with a swap file (no large swap entries).
*/
#include <string.h>

#include "memcontrol.h"
#include "mm.h"
#include "tlb.h"

/* HPAGE_PMD_ORDER, HPAGE_PMD_SIZE */
unsigned hpage_pmd_order(const memlab_machine *m)
{
	return m->page_shift - 3;
}

static uint64_t hpage_size(const memlab_machine *m)
{
	return (uint64_t)m->page_size << hpage_pmd_order(m);
}

/* ===================== deposited page tables ===================== */

/* Room in mm's deposit for one more table (memlab's array; Linux links them). */
int pgtable_deposit_reserve(memlab_machine *m, struct mm_struct *mm)
{
	if (mm->nr_deposit == mm->cap_deposit) {
		size_t cap = mm->cap_deposit ? mm->cap_deposit * 2 : 8;
		uint64_t *d = ml_grow(m, mm->deposit, mm->cap_deposit, cap, sizeof(*d));

		if (!d)
			return -MEMLAB_ENOMEM;
		mm->deposit = d;
		mm->cap_deposit = cap;
	}
	return 0;
}

/* pgtable_trans_huge_deposit(): a PTE table kept for splitting the PMD. */
static int pgtable_deposit(memlab_machine *m, struct mm_struct *mm)
{
	uint64_t pfn;
	int err;

	if ((err = pgtable_deposit_reserve(m, mm)) || (err = pt_alloc_table(m, mm, &pfn)))
		return err;
	mm->deposit[mm->nr_deposit++] = pfn;
	return 0;
}

/* pgtable_trans_huge_withdraw(): the table, zeroed, for a split or to free. */
static uint64_t pgtable_withdraw(struct mm_struct *mm)
{
	return mm->deposit[--mm->nr_deposit];
}

/* The mm is going away: its deposit array (the tables went with their PMDs). */
void pgtable_deposit_release(memlab_machine *m, struct mm_struct *mm)
{
	while (mm->nr_deposit)
		pt_free_table(m, mm, pgtable_withdraw(mm));
	ml_free(m, mm->deposit, mm->cap_deposit * sizeof(*mm->deposit));
	mm->deposit = NULL;
	mm->cap_deposit = 0;
}

/* ===================== eligibility ===================== */

/* THP_ORDERS_ALL_ANON: 4 pages up to the PMD's (order 1 has no anonymous THP). */
uint64_t thp_orders_all_anon(const memlab_machine *m)
{
	return ((2ull << hpage_pmd_order(m)) - 1) & ~3ull;
}

/* highest_order(), next_order() (include/linux/huge_mm.h): orders, a bit each, highest first */
int highest_order(uint64_t orders)
{
	return orders ? 63 - __builtin_clzll(orders) : -1;
}

int next_order(uint64_t *orders, int prev)
{
	*orders &= ~(1ull << prev);
	return highest_order(*orders);
}

/* thp_vma_suitable_order(): the order's aligned range around addr lies inside the VMA. */
static bool order_fits(const memlab_machine *m, const struct vm_area_struct *vma, uint64_t addr,
		       int order)
{
	uint64_t size = (uint64_t)m->page_size << order, haddr = addr & ~(size - 1);

	if (vma->vm_file && (((vma->vm_start >> m->page_shift) - vma->vm_pgoff) & ((1ull << order) - 1)))
		return false;	/* a file's huge page must sit at an offset of its size */
	return haddr >= vma->vm_start && haddr + size <= vma->vm_end;
}

/* thp_vma_suitable_orders(): orders above the highest that fits at addr dropped. */
uint64_t thp_vma_suitable_orders(const memlab_machine *m, const struct vm_area_struct *vma,
				 uint64_t addr, uint64_t orders)
{
	for (int order = highest_order(orders); orders; order = next_order(&orders, order))
		if (order_fits(m, vma, addr, order))
			break;
	return orders;
}

/*
** thp_vma_allowable_orders()'s sysfs mask for an anonymous VMA: the sizes
** set "always", "madvise" ones with VM_HUGEPAGE, and "inherit" ones as
** transparent_hugepage/enabled says ("always", or "madvise" and
** VM_HUGEPAGE).
*/
static uint64_t anon_orders_enabled(const memlab_machine *m, uint64_t vm_flags)
{
	uint64_t mask = m->huge_anon_orders_always;

	if (vm_flags & VM_HUGEPAGE)
		mask |= m->huge_anon_orders_madvise;
	if (m->thp_enabled == 2 || ((vm_flags & VM_HUGEPAGE) && m->thp_enabled))
		mask |= m->huge_anon_orders_inherit;
	return mask;
}

/*
** thp_vma_allowable_orders() for anonymous memory: of orders, those a
** private anonymous VMA (no file, no special mapping, not VM_NOHUGEPAGE)
** may have -- the sizes transparent_hugepage enables for it (anon_orders_
** enabled), unless the caller is MADV_COLLAPSE, which ignores the
** settings.  A fault checks the range itself; for the others the
** largest must fit in the VMA somewhere -- the last aligned one below
** vm_end (Linux's arithmetic, unsigned) -- and khugepaged and
** MADV_COLLAPSE need an anon_vma (a page was written there); smaps's
** THPeligible does not.  vm_flags: the VMA's, or the ones it is about to
** have (MADV_HUGEPAGE).
*/
uint64_t thp_vma_allowable_orders(const memlab_machine *m, const struct vm_area_struct *vma,
				  uint64_t vm_flags, enum tva_type type, uint64_t orders)
{
	if (vma->vm_file || vma->special_name || (vm_flags & (VM_SHARED | VM_HUGETLB)))
		return 0;
	if (vm_flags & VM_NOHUGEPAGE)
		return 0;
	if (type != TVA_FORCED_COLLAPSE)
		orders &= anon_orders_enabled(m, vm_flags);
	if (!orders || type == TVA_PAGEFAULT)
		return orders;
	for (int order = highest_order(orders); orders; order = next_order(&orders, order))
		if (order_fits(m, vma, vma->vm_end - ((uint64_t)m->page_size << order), order))
			break;
	return vma->anon_vma || type == TVA_SMAPS ? orders : 0;
}

/* thp_vma_allowable_order() for the PMD order. */
bool thp_vma_allowable(const memlab_machine *m, const struct vm_area_struct *vma,
		       uint64_t vm_flags, enum tva_type type)
{
	return thp_vma_allowable_orders(m, vma, vm_flags, type, 1ull << hpage_pmd_order(m)) != 0;
}

/* thp_vma_suitable_order() for the PMD order: the huge page at haddr lies inside the VMA. */
bool thp_vma_suitable_order(const memlab_machine *m, const struct vm_area_struct *vma,
			    uint64_t haddr)
{
	return order_fits(m, vma, haddr, (int)hpage_pmd_order(m));
}

/*
** hugepage_pmd_enabled(): PMD-sized huge pages may be had somewhere, which
** khugepaged runs for and min_free_kbytes is raised for: the PMD size's
** own "always" or "madvise", or "inherit" and the global setting on.
** (With CONFIG_READ_ONLY_THP_FOR_FS the global setting alone would do;
** the reference host's kernel has it off, so memlab has no file THP.)
*/
bool hugepage_pmd_enabled(const memlab_machine *m)
{
	uint64_t pmd = 1ull << hpage_pmd_order(m);

	return ((m->huge_anon_orders_always | m->huge_anon_orders_madvise) & pmd) ||
	       ((m->huge_anon_orders_inherit & pmd) && m->thp_enabled);
}

/*
** vma_thp_gfp_mask() with transparent_hugepage/defrag at its default
** ("madvise"): direct reclaim and compaction only for MADV_HUGEPAGE.
*/
uint32_t vma_thp_gfp_mask(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_HUGEPAGE ? MEMLAB_GFP_TRANSHUGE : MEMLAB_GFP_TRANSHUGE_LIGHT;
}

/* count_mthp_stat(), mod_mthp_stat(): hugepages-<size>kB/stats/, orders 1.. only */
void mod_mthp_stat(memlab_machine *m, unsigned order, enum mthp_stat_item item, int64_t delta)
{
	if (order && order < MTHP_NR_ORDERS)
		m->mthp_stats[order][item] += (uint64_t)delta;
}

/*
** A mapping of the huge zero page is gone; the last one frees it (Linux
** keeps it until its shrinker runs under memory pressure).
*/
static void put_huge_zero_page(memlab_machine *m)
{
	if (--m->huge_zero_refs)
		return;
	memlab_free_pages(m, m->huge_zero_pfn, hpage_pmd_order(m));
	m->huge_zero_pfn = PFN_NONE;
}

/* ===================== the deferred split queue ===================== */

/*
** A large anonymous folio waits on the deferred split queue (mm/huge_memory.c
** deferred_split_folio, deferred_split_scan) -- linked, as
** Linux links folio->_deferred_list, through its third page -- from its
** fault on (for the underused-THP shrinker) or from when it becomes
** partially mapped, until the thp-deferred_split shrinker looks at it
** under memory pressure (or drop_caches 2): a partially mapped one is
** split and its unmapped pages freed; so is one with more zero-filled
** pages than khugepaged's max_ptes_none (thp_underused: never at the
** default, 511); another leaves the queue.  Simplified: Linux has a
** queue per memcg; memlab one for the machine, each memcg's shrinker
** taking the folios charged to it.
*/
static void split_huge_page(memlab_machine *m, uint64_t head);
static bool split_folio(memlab_machine *m, uint64_t head);

#define DS_NEXT(folio)	((folio)[2].lru_next)
#define DS_PREV(folio)	((folio)[2].lru_prev)
#define SHRINK_BATCH	128
#define DEFAULT_SEEKS	2

static void ds_link(memlab_machine *m, struct page *folio)
{
	uint32_t pfn = (uint32_t)page_to_pfn(m, folio), tail = m->deferred_split.tail;

	DS_NEXT(folio) = PFN_NONE;
	DS_PREV(folio) = tail;
	if (tail == PFN_NONE)
		m->deferred_split.head = pfn;
	else
		DS_NEXT(pfn_to_page(m, tail)) = pfn;
	m->deferred_split.tail = pfn;
	folio->flags |= PG_deferred_split;
	page_memcg(m, folio)->deferred_split_len++;
}

/* __folio_unqueue_deferred_split(): freed or split, the folio leaves the queue. */
void folio_unqueue_deferred_split(memlab_machine *m, struct page *folio)
{
	uint32_t next, prev;

	if (!(folio->flags & PG_deferred_split))
		return;
	next = DS_NEXT(folio);
	prev = DS_PREV(folio);
	*(prev == PFN_NONE ? &m->deferred_split.head : &DS_NEXT(pfn_to_page(m, prev))) = next;
	*(next == PFN_NONE ? &m->deferred_split.tail : &DS_PREV(pfn_to_page(m, next))) = prev;
	DS_NEXT(folio) = DS_PREV(folio) = 0;
	if (folio->flags & PG_partially_mapped)
		mod_mthp_stat(m, folio->private, MTHP_STAT_NR_ANON_PARTIALLY_MAPPED, -1);
	folio->flags &= ~(PG_deferred_split | PG_partially_mapped);
	page_memcg(m, folio)->deferred_split_len--;
}

/* The folio is of the PMD's order (folio_test_pmd_mappable): vmstat's thp_ events count it. */
static bool folio_pmd_mappable(const memlab_machine *m, const struct page *folio)
{
	return folio_nr_pages(folio) >= 1ull << hpage_pmd_order(m);
}

/* A split deferred: thp_deferred_split_page for a PMD-sized folio, split_deferred for any. */
static void count_split_deferred(memlab_machine *m, const struct page *folio)
{
	if (folio_pmd_mappable(m, folio))
		m->vmstat[THP_DEFERRED_SPLIT_PAGE]++;
	count_mthp_stat(m, folio->private, MTHP_STAT_SPLIT_DEFERRED);
}

/*
** deferred_split_folio(): a large anonymous folio joins the queue (at its
** tail) if it is not on it; partially_mapped marks it so, counted once.
*/
void deferred_split_folio(memlab_machine *m, struct page *folio, bool partially_mapped)
{
	if (!page_anon(folio) || folio_nr_pages(folio) < 4)
		return;
	if (partially_mapped && !(folio->flags & PG_partially_mapped)) {
		folio->flags |= PG_partially_mapped;
		count_split_deferred(m, folio);
		count_mthp_stat(m, folio->private, MTHP_STAT_NR_ANON_PARTIALLY_MAPPED);
	}
	if (!(folio->flags & PG_deferred_split))
		ds_link(m, folio);
}

/*
** thp_underused(): more of the huge page's pages hold only zeroes than
** khugepaged's max_ptes_none allows -- never at its default (511).
*/
static bool thp_underused(const memlab_machine *m, uint64_t head)
{
	unsigned nr = 1u << hpage_pmd_order(m), max = m->khugepaged.max_ptes_none;
	unsigned zero = 0, filled = 0;

	if (max == nr - 1)
		return false;
	for (unsigned i = 0; i < nr; i++) {
		if (ml_frame_is_zero(m, head + i)) {
			if (++zero > max)
				return true;
		} else if (++filled >= nr - max) {
			return false;
		}
	}
	return false;
}

/*
** deferred_split_scan(): up to nr queued folios of memcg, oldest first: a
** partially mapped one is split (unless references beyond its mappings
** hold it: it stays); an underused one not mlocked is split too
** (thp_underused_split_page), its zero pages mapped to the zero page and
** freed; another leaves the queue.  The folios split; *stop
** (SHRINK_STOP) when none was and the queue has none of memcg's left.
*/
static uint64_t deferred_split_scan(memlab_machine *m, const struct mem_cgroup *memcg, uint64_t nr,
				    bool *stop)
{
	uint64_t split = 0;
	uint32_t p = m->deferred_split.head, next;

	for (; p != PFN_NONE && nr; p = next) {
		struct page *folio = pfn_to_page(m, p);

		next = DS_NEXT(folio);
		if (folio->memcg_id != memcg->id)
			continue;
		nr--;
		if (folio->flags & PG_partially_mapped) {
			split += split_folio(m, p);	/* one held stays queued */
		} else if (!(folio->flags & PG_mlocked) && thp_underused(m, p) && split_folio(m, p)) {
			m->vmstat[THP_UNDERUSED_SPLIT_PAGE]++;
			split++;
		} else {
			folio_unqueue_deferred_split(m, folio);
		}
	}
	*stop = !split && !memcg->deferred_split_len;	/* SHRINK_STOP */
	return split;
}

/*
** do_shrink_slab() (mm/shrinker.c) for the thp-deferred_split shrinker at a reclaim
** priority: freeable >> priority, times 4 / DEFAULT_SEEKS, plus what the
** last runs deferred, scanned in SHRINK_BATCH batches (slabs_scanned)
** until SHRINK_STOP; what it did not get to is deferred.  The folios
** split.
*/
uint64_t shrink_deferred_split(memlab_machine *m, struct mem_cgroup *memcg, int priority)
{
	uint64_t freeable = memcg->deferred_split_len, nr, delta, total, scanned = 0;
	uint64_t split = 0;

	if (!freeable)
		return 0;
	nr = memcg->deferred_split_nr_deferred;
	memcg->deferred_split_nr_deferred = 0;
	delta = (freeable >> priority) * 4 / DEFAULT_SEEKS;
	total = (nr >> priority) + delta;
	if (total > 2 * freeable)
		total = 2 * freeable;
	while (total >= SHRINK_BATCH || total >= freeable) {
		uint64_t batch = total < SHRINK_BATCH ? total : SHRINK_BATCH;
		bool stop;

		split += deferred_split_scan(m, memcg, batch, &stop);
		if (stop)
			break;
		m->vmstat[SLABS_SCANNED] += batch;
		total -= batch;
		scanned += batch;
	}
	nr = nr + delta > scanned ? nr + delta - scanned : 0;
	memcg->deferred_split_nr_deferred = nr < 2 * freeable ? nr : 2 * freeable;
	return split;
}

/* ===================== the folio's mappings ===================== */

/*
** __folio_add_rmap() (mm/rmap.c) at the PTE level, for a page of a large folio that
** no PTE mapped: whether the folio newly maps it (no PMD maps it).
*/
bool thp_page_mapped(struct page *folio)
{
	++*folio_nr_pages_mapped_ptr(folio);
	return folio_entire_mapcount(folio) == 0;
}

/*
** __folio_remove_rmap() for a batch of PTEs that were the last to map
** unmapped of the folio's pages: how many of them the folio maps no more
** (none while a PMD maps them all); a folio the batch left with other
** pages mapped is partially mapped.
*/
int thp_pages_unmapped(memlab_machine *m, struct page *folio, int unmapped)
{
	int32_t *nr = folio_nr_pages_mapped_ptr(folio);

	*nr -= unmapped;
	if (folio_entire_mapcount(folio))
		return 0;
	if (unmapped && *nr && page_anon(folio))	/* a file folio is never queued */
		deferred_split_folio(m, folio, true);
	return unmapped;
}

/*
** folio_add_{anon,file}_rmap_pmd()'s counts: the first PMD maps the pages
** no PTE maps (NR_ANON_PAGES, NR_MAPPED), and the folio counts as a PMD
** mapped THP (AnonHugePages, FilePmdMapped).
*/
static void folio_add_rmap_pmd(memlab_machine *m, struct page *folio)
{
	bool anon = page_anon(folio);

	if ((*folio_entire_mapcount_ptr(folio))++)
		return;
	mod_lruvec_page_state(m, folio, anon ? NR_ANON_PAGES : NR_MAPPED,
			      (int64_t)folio_nr_pages(folio) - folio_nr_pages_mapped(folio));
	mod_lruvec_page_state(m, folio, anon ? NR_ANON_TRANSPARENT_HUGEPAGES : NR_FILE_PMDMAPPED, 1);
}

/*
** folio_remove_rmap_pmd()'s counts: the last PMD's going unmaps what no
** PTE maps; an anonymous folio left with some pages mapped is queued for
** the deferred split.
*/
static void folio_remove_rmap_pmd(memlab_machine *m, struct page *folio)
{
	bool anon = page_anon(folio);

	if (--*folio_entire_mapcount_ptr(folio))
		return;
	mod_lruvec_page_state(m, folio, anon ? NR_ANON_PAGES : NR_MAPPED,
			      folio_nr_pages_mapped(folio) - (int64_t)folio_nr_pages(folio));
	mod_lruvec_page_state(m, folio, anon ? NR_ANON_TRANSPARENT_HUGEPAGES : NR_FILE_PMDMAPPED, -1);
	if (anon && folio_nr_pages_mapped(folio) &&
	    (uint64_t)folio_nr_pages_mapped(folio) < folio_nr_pages(folio))
		deferred_split_folio(m, folio, true);	/* some pages went with it */
}

/* folio_mapcount(): the entries mapping any page of the folio, PMDs and PTEs. */
int folio_mapcount(const struct page *folio)
{
	uint64_t nr = folio_nr_pages(folio);
	int n = folio_entire_mapcount(folio);

	if (nr == 1)
		return folio->mapcount;
	for (uint64_t i = 0; i < nr; i++)
		n += folio[i].mapcount;
	return n;
}

/* ===================== splitting ===================== */

/*
** Fill the table at pfn with one entry per page of the huge leaf at haddr:
** the folio's frames in turn (set_ptes(): arm64 blocks), or the zero page
** in each (set_pte_at() of a special entry, never a block).
*/
static void fill_pte_table(memlab_task *t, uint64_t haddr, uint64_t table, uint64_t pfn,
			   struct pt_prot p, bool same_pfn)
{
	const struct pt_format *f = &t->mm->pt;

	p.huge = false;
	if (!same_pfn) {
		set_ptes(t, haddr, table, 0, pfn, p, (unsigned)pt_ptrs(f, 0));
		return;
	}
	for (uint64_t i = 0; i < pt_ptrs(f, 0); i++)
		pt_write(t->m, table, i, pt_mkentry(f, 0, pfn, p));
}

/*
** __split_huge_pmd_locked() for an anonymous page: each page of the folio
** is mapped by a PTE in place of the PMD -- a reference and a mapping
** each, exclusive if the folio was -- and the PMD's mapping goes; the
** PMD's dirty bit dirties the folio.
*/
static void split_pmd_folio(memlab_machine *m, uint64_t pfn, const struct pt_prot *p)
{
	struct page *folio = pfn_to_page(m, pfn);
	uint64_t nr = folio_nr_pages(folio);
	bool exclusive = folio->flags & PG_anon_exclusive;

	if (p->dirty)
		folio->flags |= PG_dirty;
	folio->_refcount += (int32_t)nr - 1;
	for (uint64_t i = 0; i < nr; i++) {
		if (folio[i].mapcount++ == 0)
			thp_page_mapped(folio);
		if (exclusive)
			folio[i].flags |= PG_anon_exclusive;
	}
	folio_remove_rmap_pmd(m, folio);
}

/*
** __split_huge_pmd_locked() of a file folio's PMD: the PMD simply goes --
** the pages fault in again by PTEs -- its dirty bit dirtying the folio
** and its young bit making it referenced; the folio loses the mapping
** (and its mlock with a locked one) and the reference the PMD held.
*/
static void split_file_pmd(memlab_task *t, const struct vm_area_struct *vma, uint64_t haddr,
			   uint64_t table, uint64_t idx)
{
	memlab_machine *m = t->m;
	uint64_t pfn;
	struct pt_prot p;
	struct page *folio;

	m->vmstat[THP_SPLIT_PMD]++;
	pt_decode(&t->mm->pt, 1, pt_read(m, table, idx), &pfn, &p);
	pt_write(m, table, idx, 0);		/* pmdp_huge_clear_flush() */
	flush_tlb_range(t, haddr, haddr + hpage_size(m));
	folio = pfn_to_page(m, pfn);
	if (p.dirty)
		folio_mark_dirty(m, folio);
	if (p.accessed)
		folio->flags |= PG_referenced;
	folio_remove_rmap_pmd(m, folio);
	if (vma)
		munlock_vma_folio(m, pfn, vma);
	add_mm_counter(t->mm, mm_counter(folio), -(int64_t)folio_nr_pages(folio));
	put_page(m, pfn);
}

/*
** __split_huge_pmd() of t's huge leaf at haddr in vma (the table holding
** it and its index): its deposited table takes the entries, one per page,
** with the leaf's bits (the huge zero page: the zero page 512 times); the
** TLBs lose the huge translation.  The folio stays whole; in a locked VMA
** the PTEs, mapping all of it, mlock it once more (__folio_add_anon_rmap)
** and the PMD's going munlocks it once (folio_remove_rmap_pmd): it stays
** mlocked.
*/
static void split_pmd_entry(memlab_task *t, const struct vm_area_struct *vma, uint64_t haddr,
			    uint64_t table, uint64_t idx)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t pte_table, pfn;
	struct pt_prot p;

	pt_decode(f, 1, pt_read(t->m, table, idx), &pfn, &p);
	if (!p.special && pfn < t->m->nr_frames && !page_anon(pfn_to_page(t->m, pfn))) {
		split_file_pmd(t, vma, haddr, table, idx);
		return;
	}
	pte_table = pgtable_withdraw(t->mm);
	if (p.special)
		fill_pte_table(t, haddr, pte_table, t->m->zero_pfn, p, true);
	else
		fill_pte_table(t, haddr, pte_table, pfn, p, false);
	if (p.special)
		put_huge_zero_page(t->m);
	else if (pfn < t->m->nr_frames) {
		split_pmd_folio(t->m, pfn, &p);
		if (vma) {	/* folio_add_anon_rmap_ptes() of all its pages, then the PMD's removal */
			mlock_vma_folio(t->m, pfn_to_page(t->m, pfn), vma);
			munlock_vma_folio(t->m, pfn, vma);
		}
	}
	pt_write(t->m, table, idx, pt_mktable(f, pte_table));
	flush_tlb_range(t, haddr, haddr + hpage_size(t->m));
	t->m->vmstat[THP_SPLIT_PMD]++;
}

/* The huge leaf mapping va in t's tables, or false. */
static bool huge_leaf(memlab_task *t, uint64_t va, uint64_t *table, uint64_t *idx)
{
	unsigned level;

	if (pt_leaf_slot(t->m, t->mm, va, table, &level) || level != 1)
		return false;
	*idx = pt_index(&t->mm->pt, 1, va);
	return pt_read(t->m, *table, *idx) != 0;
}

/* rmap_walk's visit: a PMD mapping of the huge page becomes PTEs. */
static bool split_one_pmd(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	uint64_t table, idx;

	(void)ud;
	if (huge_leaf(t, addr, &table, &idx))
		split_pmd_entry(t, vma, addr & ~(hpage_size(t->m) - 1), table, idx);
	return true;
}

/*
** The split folio's page at pfn, unmapped and referenced by no one, is
** freed (__folio_split() drops the pages nothing maps).
*/
static void free_unmapped_page(memlab_machine *m, uint64_t pfn)
{
	pfn_to_page(m, pfn)->_refcount = 1;
	put_page(m, pfn);
}

/*
** try_to_map_unused_to_zeropage() (mm/migrate.c), as remap_page() restores
** the split folio's mappings with RMP_USE_SHARED_ZEROPAGE: a mapping, not
** in a locked VMA, of a page that holds only zeroes becomes the shared
** zero page's, and the page loses it.
*/
static bool map_unused_to_zeropage(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
				   void *ud)
{
	memlab_machine *m = t->m;
	uint64_t pfn = *(const uint64_t *)ud, table;
	struct page *page = pfn_to_page(m, pfn);
	struct pt_prot p = vma_page_prot(vma);
	unsigned level;

	if ((vma->vm_flags & VM_LOCKED) || pt_leaf_slot(m, t->mm, addr, &table, &level) || level)
		return true;
	p.special = true;
	p.write = false;
	/* no flush: unmap_folio() flushed the page's entries */
	pt_write(m, table, pt_index(&t->mm->pt, 0, addr), pt_mkentry(&t->mm->pt, 0, m->zero_pfn, p));
	add_mm_counter(t->mm, MM_ANONPAGES, -1);
	if (--page->mapcount == 0)
		mod_lruvec_page_state(m, page, NR_ANON_PAGES, -1);
	page->_refcount--;
	return true;
}

/*
** try_to_migrate_one()'s ptep_get_and_clear() (mm/rmap.c) as
** split_huge_page() unmaps the folio: an arm64 block of its PTEs is unfolded (the pages, small
** now, are mapped again one by one and fold no more), and a PROT_NONE
** entry, which contpte_set_ptes() may have given PTE_CONT, is mapped
** again without it (mm/migrate.c remove_migration_pte: mk_pte()).
*/
static bool split_unfold(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t table, idx, pfn;
	struct pt_prot p;
	unsigned level;

	(void)vma, (void)ud;
	if (pt_leaf_slot(t->m, t->mm, addr, &table, &level) || level)
		return true;
	idx = pt_index(f, 0, addr);
	contpte_try_unfold(t, addr, table, idx);
	pt_decode(f, 0, pt_read(t->m, table, idx), &pfn, &p);
	if (p.cont && !p.present) {
		p.cont = false;
		pt_write(t->m, table, idx, pt_mkentry(f, 0, pfn, p));
	}
	return true;
}

/*
** unmap_folio()'s try_to_migrate_one() of a PTE mapping the page at *ud:
** the entry's flush, at once or with the batch (TTU_BATCH_FLUSH).  The
** entry itself is left as it was (memlab has no migration entries:
** remap_page() would put it back as it is), and PMDs are split apart,
** as migration entries from the start (split_huge_pmd_address with
** freeze), with no PTE to flush.
*/
static bool split_unmap_flush(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			      void *ud)
{
	struct pt_walk w;

	(void)vma;
	pt_walk(t->m, t->mm, addr, &w);
	if (w.present && !w.level && w.pfn == *(const uint64_t *)ud)
		try_to_migrate_flush(t, addr, w.prot, TTU_BATCH_FLUSH);
	return true;
}

/*
** remove_migration_pte()'s folio_add_anon_rmap_pte() as remap_page()
** restores a split folio's mapping: in a locked VMA the page is mlocked
** (mlock_vma_folio) -- a folio too large for mlock to take (part of it
** outside the VMA) gives small pages that it now does.
*/
static bool remap_mlock(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	(void)addr;
	mlock_vma_folio(t->m, ud, vma);
	return true;
}

/*
** split_huge_page(): every PMD mapping of the anonymous huge page at head
** becomes PTEs, and the page becomes 2^order pages, each with the
** folio's anon_vma, its index, its flags and memcg, and a reference per
** PTE that maps it; the head keeps the references that are not
** mappings (reclaim's isolation) and the mlock count.  A page nothing
** maps is freed; the rest take the folio's place on its LRU list (the
** head where it was, the others just newer), unless it was isolated,
** and each mapping in a locked VMA mlocks its page (remap_mlock).
*/
static void split_huge_page(memlab_machine *m, uint64_t head)
{
	struct page *folio = pfn_to_page(m, head);
	unsigned order = folio->private;
	uint32_t flags;
	bool lru = folio->flags & PG_lru;
	uintptr_t mapping = folio->mapping;
	uint64_t index = folio->index;
	uint32_t mlock_count = folio->mlock_count, memcg_id = folio->memcg_id, next;
	int extra;

	if (!(folio->flags & PG_partially_mapped) && folio_unmap_goes_partial(m, head))
		count_split_deferred(m, folio);
	for (uint64_t i = 0; i < (1ull << order); i++) {	/* unmap_folio() */
		uint64_t pfn = head + i;

		if (folio[i].mapcount)
			rmap_walk(m, pfn, split_unmap_flush, &pfn);
	}
	rmap_walk(m, head, split_one_pmd, NULL);
	try_to_unmap_flush(m);
	for (uint64_t i = 0; m->arch == MEMLAB_ARCH_ARM64 && i < (1ull << order); i++)
		rmap_walk(m, head + i, split_unfold, NULL);
	/* __split_folio_to_order(): the flags as the PMDs' split left them (a dirty PMD's PG_dirty) */
	flags = folio->flags & (PG_swapbacked | PG_unevictable | PG_mlocked | PG_dirty | PG_active |
				PG_referenced | PG_workingset);
	extra = folio->_refcount - folio_mapcount(folio);
	next = lru ? folio->lru_next : PFN_NONE;	/* the page older than it */
	lru_del(m, folio);
	folio_unqueue_deferred_split(m, folio);
	mod_mthp_stat(m, order, MTHP_STAT_NR_ANON, -1);	/* order-0 pages are not counted */
	*folio_nr_pages_mapped_ptr(folio) = 0;
	split_page(m, head, order);
	for (uint64_t i = 0; i < (1ull << order); i++) {
		struct page *p = folio + i;

		p->mapping = mapping;
		p->index = index + i;
		p->_refcount = p->mapcount + (i ? 0 : extra);
		p->flags |= flags;
		p->mlock_count = i ? 0 : mlock_count;	/* lru_add_split_folio() */
		p->memcg_id = memcg_id;		/* split_page_memcg() */
		if (p->mapcount && !(p->flags & PG_mlocked) && ml_frame_is_zero(m, head + i)) {
			uint64_t pfn = head + i;

			rmap_walk(m, pfn, map_unused_to_zeropage, &pfn);
		}
		if (!p->_refcount) {
			free_unmapped_page(m, head + i);
		} else if (lru) {	/* the head where it was, each other page just before it */
			lruvec_add_folio_before(m, p, next);
			if (!i)
				next = (uint32_t)head;
		}
	}
	for (uint64_t i = 0; i < (1ull << order); i++)	/* remap_page(), on their lists now */
		if (folio[i].mapcount)
			rmap_walk(m, head + i, remap_mlock, folio + i);
	if (order >= hpage_pmd_order(m))
		m->vmstat[THP_SPLIT_PAGE]++;
	count_mthp_stat(m, order, MTHP_STAT_SPLIT);
}

/*
** can_split_folio(): no one but its mappings and the caller (pins
** references) holds the folio -- a fault copying from it, say, would;
** else a split fails and the folio stays whole.
*/
static bool can_split_folio(const struct page *folio, int pins)
{
	int cache = page_anon(folio) ? 0 : (int)folio_nr_pages(folio);	/* the page cache's */

	return folio->_refcount == folio_mapcount(folio) + cache + pins;
}

/*
** The order of the part at page off of a folio of 2^order pages split at
** page at (__split_unmapped_folio): uniform (at UINT64_MAX), a page each;
** non-uniform (folio_split), the folio halved, the half without at kept
** whole, the one with it halved again, down to the page at.
*/
static unsigned split_part_order(unsigned order, uint64_t at, uint64_t off)
{
	if (at == UINT64_MAX)
		return 0;
	for (unsigned o = order; o-- > 0;)
		if (off >> o != at >> o)
			return o;
	return 0;
}

/*
** __folio_split() of a page-cache folio at head, at its page at (UINT64_MAX:
** into pages), the caller's references checked: unmap_folio() first --
** try_to_unmap(TTU_SPLIT_HUGE_PMD | TTU_IGNORE_MLOCK): "file pages can
** simply be left unmapped, then faulted back on demand" --, then each
** part takes the folio's mapping, flags and memcg, a cache reference per
** page, the first part the other references (the caller's), and the
** folio's place on the LRU.  A part at or past the file's end leaves the
** cache, dirty or not, and is freed.
*/
static void split_file_folio(memlab_machine *m, uint64_t head, uint64_t at)
{
	struct page *folio = pfn_to_page(m, head);
	struct memlab_file *f = (struct memlab_file *)folio->mapping;
	unsigned order = folio->private;
	uint64_t nr = 1ull << order, index = folio->index, end = i_size_pages(f);
	uint32_t flags, next, memcg_id = folio->memcg_id;
	bool lru = folio->flags & PG_lru;
	int extra;

	try_to_unmap(m, head, TTU_IGNORE_MLOCK | TTU_BATCH_FLUSH);	/* unmap_folio() */
	try_to_unmap_flush(m);
	flags = folio->flags & (PG_unevictable | PG_mlocked | PG_dirty | PG_active |
				PG_referenced | PG_workingset);
	extra = folio->_refcount - (int)nr;
	next = lru ? folio->lru_next : PFN_NONE;
	lru_del(m, folio);
	if (order >= hpage_pmd_order(m))
		mod_lruvec_page_state(m, folio, NR_FILE_HUGEPAGES, -1);
	*folio_entire_mapcount_ptr(folio) = 0;
	*folio_nr_pages_mapped_ptr(folio) = 0;
	for (uint64_t off = 0, pnr; off < nr; off += pnr) {
		unsigned po = split_part_order(order, at, off);
		struct page *p = folio + off;

		pnr = 1ull << po;
		split_page_part(m, head + off, po);
		p->memcg_id = memcg_id;		/* split_page_memcg() */
		p->mapping = (uintptr_t)f;
		p->index = index + off;
		p->flags |= flags;
		p->_refcount = (int32_t)pnr + (off ? 0 : extra);
		if (off)
			p->mlock_count = 0;
		if (po) {
			*folio_entire_mapcount_ptr(p) = 0;
			*folio_nr_pages_mapped_ptr(p) = 0;
		}
		if (index + off >= end) {
			filemap_delete_folio(f, p);	/* beyond EOF: dropped from the cache */
		} else if (lru) {	/* lru_add_split_folio(): the first where it was */
			lruvec_add_folio_before(m, p, next);
			if (!off)
				next = (uint32_t)head;
		}
	}
	if (order >= hpage_pmd_order(m))
		m->vmstat[THP_SPLIT_PAGE]++;
	count_mthp_stat(m, order, MTHP_STAT_SPLIT);
}

/* folio_buffers() has one dirty: ext4's buffer_head of a block (PG_dirty_block). */
static bool folio_has_dirty_blocks(const struct page *folio)
{
	for (uint64_t k = 0; k < folio_nr_pages(folio); k++)
		if (folio[k].flags & PG_dirty_block)
			return true;
	return false;
}

/*
** __folio_split() of the folio at head, at its page at (UINT64_MAX: into
** pages; anonymous folios split so), the caller holding pins references:
** or thp_split_page_failed counted.  A dirty page-cache folio does not
** split: ext4's dirty buffers do not go (filemap_release_folio); one
** whose blocks a truncation discarded, all, is cleaned and splits
** (try_to_free_buffers: "clean the folio also").
*/
static bool __split_folio(memlab_machine *m, uint64_t head, uint64_t at, int pins)
{
	struct page *folio = pfn_to_page(m, head);
	bool file = !page_anon(folio);

	/* try_to_free_buffers(): a folio whose blocks are all clean is clean */
	if (file && (folio->flags & PG_dirty) && !folio_has_dirty_blocks(folio))
		folio_clear_dirty(m, folio);
	if ((file && (folio->flags & PG_dirty)) || !can_split_folio(folio, pins)) {
		if (folio_pmd_mappable(m, folio))
			m->vmstat[THP_SPLIT_PAGE_FAILED]++;
		count_mthp_stat(m, folio->private, MTHP_STAT_SPLIT_FAILED);
		return false;
	}
	if (file)
		split_file_folio(m, head, at);
	else
		split_huge_page(m, head);
	return true;
}

static bool split_folio(memlab_machine *m, uint64_t head)
{
	return __split_folio(m, head, UINT64_MAX, 0);
}

/*
** folio_split() (try_folio_split_to_order() to order 0) for truncation:
** the page-cache folio at head, at its page at, held by the caller.
*/
bool folio_split(memlab_machine *m, uint64_t head, uint64_t at)
{
	return __split_folio(m, head, at, 1);
}

/*
** split_folio_to_list() for reclaim: the isolated huge page at head is
** split; its other pages that are still mapped join the pass's list,
** isolated (a reference each) -- or, without room for them, the LRU --
** and the head stays isolated (it keeps the reclaimer's reference).
** Whether it was: shrink_folio_list() asks can_split_folio() first, and
** a folio held by someone else is activated with nothing counted.
*/
bool split_huge_page_isolated(memlab_machine *m, uint64_t head, struct folio_list *list)
{
	unsigned order = pfn_to_page(m, head)->private;

	if (!can_split_folio(pfn_to_page(m, head), 1))
		return false;
	split_huge_page(m, head);
	for (uint64_t i = 1; i < (1ull << order); i++) {
		struct page *p = pfn_to_page(m, head + i);

		if (!p->_refcount)
			continue;
		if (list && folio_list_add(m, list, head + i))
			p->_refcount++;
		else
			lruvec_add_folio(m, p);
	}
	return true;
}

/*
** split_folio_to_list() + try_split_folio()'s list_move_tail() for
** migration: the isolated folio at head becomes pages, appended to
** parts[] (*nr counts them; room for every page of the folio) in Linux's
** order, the tails then the head.  Those left (mapped, or cached) stay
** isolated; those the split freed -- unmapped, zero-filled (now the zero
** page's), or past a file's end -- are marked SPLIT_PART_FREED: Linux
** holds them by the list's reference until migration finds them "freed
** from under us" and counts them migrated.  Whether the folio split.
*/
bool split_folio_isolated(memlab_machine *m, uint64_t head, uint64_t *parts, unsigned *nr)
{
	struct page *folio = pfn_to_page(m, head);
	uint64_t pages = folio_nr_pages(folio), freed = 0;
	int isolated = NR_ISOLATED_ANON + folio_is_file_lru(folio);

	if (!split_folio(m, head))
		return false;
	for (uint64_t k = 1; k <= pages; k++) {
		uint64_t pfn = head + k % pages;	/* the head last */

		if (pfn_to_page(m, pfn)->flags & PG_head_alloc) {
			parts[(*nr)++] = pfn;
		} else {
			parts[(*nr)++] = pfn | SPLIT_PART_FREED;
			freed++;
		}
	}
	m->vmstat[isolated] -= freed;	/* migrate_folio_done(), or putback's folio_put() */
	return true;
}

/* split_folio() of the folio pfn is a page of: whether the page is small now. */
static bool split_folio_of(memlab_machine *m, uint64_t pfn)
{
	uint64_t head = folio_pfn(m, pfn);
	struct page *folio = pfn_to_page(m, head);

	if (folio_nr_pages(folio) == 1)
		return true;
	return split_folio(m, head);
}

/* split_huge_pmd_address(): t's huge leaf covering va, if there is one, becomes PTEs. */
void split_huge_pmd_address(memlab_task *t, uint64_t va)
{
	uint64_t table, idx;

	if (huge_leaf(t, va, &table, &idx))
		split_pmd_entry(t, find_vma(t, va), va & ~(hpage_size(t->m) - 1), table, idx);
}

/*
** vma_adjust_trans_huge() for an operation on [start, end): the huge
** leaves it cuts through -- at start and at end -- become PTEs first
** (the folio stays whole: what the operation unmaps of it leaves it
** partially mapped, for the deferred split); those wholly inside are
** left for the operation to handle whole.
*/
void split_huge_pmd_range(memlab_task *t, uint64_t start, uint64_t end)
{
	uint64_t mask = hpage_size(t->m) - 1;

	if (!t->mm->pt.levels)
		return;
	if (start & mask)
		split_huge_pmd_address(t, start);
	if (end & mask)
		split_huge_pmd_address(t, end);
}

/* Every huge leaf of [start, end) split (mremap to a place of another alignment). */
void split_huge_pmd_all(memlab_task *t, uint64_t start, uint64_t end)
{
	for (uint64_t a = start & ~(hpage_size(t->m) - 1); a < end; a += hpage_size(t->m))
		split_huge_pmd_address(t, a);
}

/* ===================== faults ===================== */

/* mm_get_huge_zero_folio(): allocated at first use, kept. */
static int get_huge_zero_page(memlab_machine *m, uint64_t *pfn)
{
	uint32_t gfp = (MEMLAB_GFP_TRANSHUGE | MEMLAB___GFP_ZERO) & ~MEMLAB___GFP_MOVABLE;

	if (m->huge_zero_pfn == PFN_NONE) {
		if (alloc_pages(m, hpage_pmd_order(m), gfp, &m->huge_zero_pfn)) {
			m->huge_zero_pfn = PFN_NONE;
			m->vmstat[THP_ZERO_PAGE_ALLOC_FAILED]++;
			return -MEMLAB_ENOMEM;
		}
		m->vmstat[THP_ZERO_PAGE_ALLOC]++;
	}
	m->huge_zero_refs++;
	*pfn = m->huge_zero_pfn;
	return 0;
}


/* Install a huge leaf at haddr with a deposited table, or nothing (-ENOMEM). */
static int map_huge_pmd(memlab_task *t, uint64_t haddr, uint64_t pfn, struct pt_prot p)
{
	int err = pgtable_deposit(t->m, t->mm);

	if (err)
		return err;
	p.huge = true;
	if ((err = pt_map(t->m, t->mm, haddr, 1, pfn, p)))
		pt_free_table(t->m, t->mm, pgtable_withdraw(t->mm));
	return err;
}

/* pmd_none(): no table and no huge leaf at va's PMD (the upper levels may be missing). */
bool pmd_none_at(memlab_task *t, uint64_t va)
{
	uint64_t table;
	unsigned level;

	if (pt_leaf_slot(t->m, t->mm, va, &table, &level))
		return false;
	return level > 1 || (level == 1 && !pt_read(t->m, table, pt_index(&t->mm->pt, 1, va)));
}

/*
** Whether do_set_pmd() may map the folio at head by a PMD at vma's addr:
** not VM_NOHUGEPAGE (vma_thp_disabled; the sysfs setting does not
** matter: the folio is there), the huge page inside the VMA at an offset
** of its size, a folio of the PMD's order.
*/
bool file_pmd_mappable(const memlab_machine *m, const struct vm_area_struct *vma, uint64_t addr,
		       uint64_t head)
{
	return !(vma->vm_flags & VM_NOHUGEPAGE) &&
	       folio_nr_pages(&m->mem_map[head]) == 1ull << hpage_pmd_order(m) &&
	       thp_vma_suitable_order(m, vma, addr & ~(hpage_size(m) - 1));
}

/*
** do_set_pmd(): a PMD maps the file's PMD-sized folio (of the page at
** pfn) at vma's addr, as vm_page_prot says -- a write's dirty and
** writable -- with no table deposited, its pages counted in the RSS, the
** PMD's reference and rmap taken (folio_add_file_rmap_pmd: a large folio
** is not mlocked here) and thp_file_mapped counted.  0, 1 (not mappable
** so, or something is mapped there: PTEs then) or -MEMLAB_ENOMEM.
*/
int do_set_pmd(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, uint64_t pfn, bool write)
{
	memlab_machine *m = t->m;
	uint64_t head = folio_pfn(m, pfn), haddr = addr & ~(hpage_size(m) - 1);
	struct page *folio = pfn_to_page(m, head);
	struct pt_prot p = vma_page_prot(vma);
	int err;

	if (!file_pmd_mappable(m, vma, addr, head))
		return 1;
	if (write) {		/* maybe_pmd_mkwrite(pmd_mkdirty()) */
		p.dirty = true;
		p.write = vma->vm_flags & VM_WRITE;
	}
	p.huge = true;
	if ((err = pt_map(m, t->mm, haddr, 1, head, p)))
		return err == -MEMLAB_ENOMEM ? err : 1;
	add_mm_counter(t->mm, mm_counter(folio), (int64_t)folio_nr_pages(folio));
	folio_add_rmap_pmd(m, folio);
	folio->_refcount++;
	m->vmstat[THP_FILE_MAPPED]++;
	return 0;
}

/*
** map_anon_folio_pmd_nopf() once the PMD maps the new huge page: the
** folio is vma's at haddr (folio_add_new_anon_rmap, exclusive), on its LRU
** list, and queued for the deferred split (the underused-THP shrinker).
*/
static void map_anon_folio_pmd(memlab_machine *m, struct page *page,
			       const struct vm_area_struct *vma, uint64_t haddr)
{
	page->mapping = (uintptr_t)vma->anon_vma | PAGE_MAPPING_ANON;
	page->index = linear_page_index(vma, haddr);
	*folio_entire_mapcount_ptr(page) = 0;
	*folio_nr_pages_mapped_ptr(page) = 0;
	/* folio_add_new_anon_rmap(): MAP_DROPPABLE memory is never swap-backed */
	page->flags |= PG_anon_exclusive | (vma->vm_flags & VM_DROPPABLE ? 0 : PG_swapbacked);
	folio_add_lru_vma(m, page, vma);
	folio_add_rmap_pmd(m, page);
	mod_mthp_stat(m, page->private, MTHP_STAT_NR_ANON, 1);
	deferred_split_folio(m, page, false);
}

/*
** collapse_huge_page()'s end (mm/khugepaged.c): t's PMD at haddr (in
** pmd_table at pmd_idx), cleared, maps the new huge page at pfn, which
** takes over the pages' counts in the mm; the emptied PTE table is
** deposited for a later split (room reserved: pgtable_deposit_reserve).
*/
void collapse_map_pmd(memlab_task *t, struct vm_area_struct *vma, uint64_t haddr,
		      uint64_t pmd_table, uint64_t pmd_idx, uint64_t pfn, uint64_t pte_table)
{
	struct pt_prot p = vma_page_prot(vma);

	t->mm->deposit[t->mm->nr_deposit++] = pte_table;
	p.huge = true;
	p.dirty = true;
	p.write = (vma->vm_flags & VM_WRITE) != 0;
	pt_write(t->m, pmd_table, pmd_idx, pt_mkentry(&t->mm->pt, 1, pfn, p));
	map_anon_folio_pmd(t->m, pfn_to_page(t->m, pfn), vma, haddr);
}

/*
** vma_alloc_anon_folio_pmd(): a zeroed huge page for vma (GFP_TRANSHUGE
** with MADV_HUGEPAGE, else GFP_TRANSHUGE_LIGHT: the defrag default
** "madvise"), charged to the mm's memcg; or -ENOMEM, the fallback
** counted (thp_fault_fallback, _charge when the memcg refused it).
*/
static int vma_alloc_anon_folio_pmd(memlab_task *t, const struct vm_area_struct *vma,
				    uint64_t *pfn)
{
	memlab_machine *m = t->m;
	uint32_t gfp = vma_thp_gfp_mask(vma) | MEMLAB___GFP_ZERO;
	unsigned order = hpage_pmd_order(m);

	if (alloc_pages(m, order, gfp, pfn)) {
		m->vmstat[THP_FAULT_FALLBACK]++;
		count_mthp_stat(m, order, MTHP_STAT_ANON_FAULT_FALLBACK);
		return -MEMLAB_ENOMEM;
	}
	if (mem_cgroup_charge(m, *pfn, t->mm, gfp)) {
		memlab_free_pages(m, *pfn, order);
		m->vmstat[THP_FAULT_FALLBACK]++;
		m->vmstat[THP_FAULT_FALLBACK_CHARGE]++;
		count_mthp_stat(m, order, MTHP_STAT_ANON_FAULT_FALLBACK);
		count_mthp_stat(m, order, MTHP_STAT_ANON_FAULT_FALLBACK_CHARGE);
		return -MEMLAB_ENOMEM;
	}
	return 0;
}

/* map_anon_folio_pmd_pf(): the new huge page mapped, counted as a fault's. */
static void map_anon_folio_pmd_pf(memlab_task *t, struct page *page,
				  const struct vm_area_struct *vma, uint64_t haddr)
{
	map_anon_folio_pmd(t->m, page, vma, haddr);
	count_vm_events_page(t->m, page, THP_FAULT_ALLOC, 1);
	count_mthp_stat(t->m, hpage_pmd_order(t->m), MTHP_STAT_ANON_FAULT_ALLOC);
	add_mm_counter(t->mm, MM_ANONPAGES, 1ll << hpage_pmd_order(t->m));
}

/*
** do_huge_pmd_anonymous_page(): a read maps the huge zero page, a write
** a new zeroed huge page.  A huge page that cannot be had falls back to
** small pages.
*/
int do_huge_pmd_anonymous_page(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			       bool write, bool vma_locked)
{
	memlab_machine *m = t->m;
	uint64_t haddr = addr & ~(hpage_size(m) - 1), pfn;
	struct pt_prot p = vma_page_prot(vma);
	struct page *page;

	if (!thp_vma_allowable(m, vma, vma->vm_flags, TVA_PAGEFAULT) ||
	    !thp_vma_suitable_order(m, vma, haddr))
		return 1;
	if (vmf_anon_prepare(t, vma, vma_locked))
		return -MEMLAB_ENOMEM;
	khugepaged_enter_vma(m, vma, vma->vm_flags);
	if (!write && m->thp_use_zero_page) {
		if (get_huge_zero_page(m, &pfn))
			return 1;
		p.special = true;
		p.write = false;
		if (map_huge_pmd(t, haddr, pfn, p)) {
			put_huge_zero_page(m);
			return -MEMLAB_ENOMEM;
		}
		return 0;
	}
	if (vma_alloc_anon_folio_pmd(t, vma, &pfn))
		return 1;
	page = pfn_to_page(m, pfn);
	p.dirty = true;
	p.write = (vma->vm_flags & VM_WRITE) != 0;
	if (map_huge_pmd(t, haddr, pfn, p)) {
		mem_cgroup_uncharge(m, page);
		memlab_free_pages(m, pfn, hpage_pmd_order(m));
		return -MEMLAB_ENOMEM;
	}
	map_anon_folio_pmd_pf(t, page, vma, haddr);
	return 0;
}

/*
** do_huge_zero_wp_pmd() (Linux 6.13 on): a write to the huge zero page
** takes a new huge page in its place -- the PMD cleared and flushed, its
** deposited table kept -- or, when none can be had, false: the PMD is
** split and the write copies one small page.
*/
static bool do_huge_zero_wp_pmd(memlab_task *t, const struct vm_area_struct *vma,
				uint64_t haddr, uint64_t table, uint64_t idx)
{
	memlab_machine *m = t->m;
	struct pt_prot p = vma_page_prot(vma);
	uint64_t pfn;

	if (vma_alloc_anon_folio_pmd(t, vma, &pfn))
		return false;
	pt_write(m, table, idx, 0);		/* pmdp_huge_clear_flush() */
	flush_tlb_range(t, haddr, haddr + hpage_size(m));
	put_huge_zero_page(m);
	p.huge = true;
	p.dirty = true;
	p.write = (vma->vm_flags & VM_WRITE) != 0;
	pt_write(m, table, idx, pt_mkentry(&t->mm->pt, 1, pfn, p));
	map_anon_folio_pmd_pf(t, pfn_to_page(m, pfn), vma, haddr);
	return true;
}

/*
** A fault on a present huge leaf (huge_pmd_set_accessed, do_huge_pmd_wp_page):
** young (and dirty); a write to a read-only one reuses the page when it
** is exclusive, or this mapping holds its only reference, else splits
** this PMD alone (the zero page's, or the folio's: __split_huge_pmd) and
** returns 1 for the fault to go on with small pages -- do_wp_page then
** copies the one page written.
*/
int do_huge_pmd_fault(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, bool write)
{
	memlab_machine *m = t->m;
	uint64_t table, idx, pfn, haddr = addr & ~(hpage_size(m) - 1);
	struct pt_prot p;
	struct page *page;

	if (!huge_leaf(t, addr, &table, &idx))
		return 1;
	pt_decode(&t->mm->pt, 1, pt_read(m, table, idx), &pfn, &p);
	if (write && !p.write) {
		if (p.special) {
			if (do_huge_zero_wp_pmd(t, vma, haddr, table, idx))
				return 0;
			split_pmd_entry(t, vma, haddr, table, idx);
			return 1;
		}
		page = pfn_to_page(m, pfn);
		if (!page_anon(page)) {		/* wp_huge_pmd(): COW or write-notify by PTEs */
			split_pmd_entry(t, vma, haddr, table, idx);
			return 1;
		}
		if (!(page->flags & PG_anon_exclusive) && page->_refcount == 1) {
			page->mapping = (uintptr_t)vma->anon_vma | PAGE_MAPPING_ANON;	/* folio_move_anon_rmap() */
			page->flags |= PG_anon_exclusive;
		}
		if (!(page->flags & PG_anon_exclusive)) {
			split_pmd_entry(t, vma, haddr, table, idx);
			return 1;
		}
		p.write = true;
		m->vmstat[PGREUSE]++;
	}
	p.accessed = true;
	p.dirty |= write;
	pt_write(m, table, idx, pt_mkentry(&t->mm->pt, 1, pfn, p));
	return 0;
}

/* ===================== unmapping and fork ===================== */

/*
** zap_huge_pmd(): a huge leaf wholly inside the range goes, with its
** deposited table; the page loses vma's mapping (the zero page has none)
** and, as folio_remove_rmap_pmd() does, its mlock with the last locked one.
*/
void zap_huge_pmd(memlab_task *t, const struct vm_area_struct *vma, uint64_t pfn,
		  const struct pt_prot *p)
{
	memlab_machine *m = t->m;
	struct page *page;

	page = !p->special && pfn < m->nr_frames ? pfn_to_page(m, pfn) : NULL;
	if (!page || page_anon(page))		/* a file folio's PMD has none deposited */
		pt_free_table(m, t->mm, pgtable_withdraw(t->mm));
	if (p->special) {
		put_huge_zero_page(m);
		return;
	}
	if (!page)
		return;
	add_mm_counter(t->mm, mm_counter(page), -(1ll << hpage_pmd_order(m)));
	if (!page_anon(page) && p->accessed && vma_has_recency(vma))
		folio_mark_accessed(m, page);
	folio_remove_rmap_pmd(m, page);
	munlock_vma_folio(m, pfn, vma);
	put_page(m, pfn);
}

/*
** __discard_anon_folio_pmd_locked() (mm/huge_memory.c): reclaim drops a lazily freed huge
** page that t maps whole at haddr (in table, at idx), unless it was
** written since MADV_FREE -- the PMD or the folio dirty: it becomes
** swap-backed again, mapped as it was (a MAP_DROPPABLE one goes all the
** same) -- or someone holds it beyond its mappings and the reclaimer's
** reference.  Whether it went.
*/
bool discard_anon_folio_pmd(memlab_task *t, const struct vm_area_struct *vma, uint64_t haddr,
			    uint64_t table, uint64_t idx)
{
	memlab_machine *m = t->m;
	struct page *folio;
	struct pt_prot p;
	uint64_t pfn;

	pt_decode(&t->mm->pt, 1, pt_read(m, table, idx), &pfn, &p);
	folio = pfn_to_page(m, pfn);
	if (p.dirty)
		folio->flags |= PG_dirty;
	if ((folio->flags & PG_dirty) && !(vma->vm_flags & VM_DROPPABLE)) {
		folio->flags |= PG_swapbacked;
		return false;
	}
	if (folio->_refcount != folio_mapcount(folio) + 1)
		return false;
	pt_write(m, table, idx, 0);	/* pmdp_huge_clear_flush() */
	flush_tlb_range(t, haddr, haddr + hpage_size(m));
	zap_huge_pmd(t, vma, pfn, &p);
	return true;
}

/*
** copy_huge_pmd(): the child maps the same huge page (write-protected
** on both sides, no longer exclusive) with a table of its own deposited.
** 0 or -MEMLAB_ENOMEM.
*/
int copy_huge_pmd(memlab_task *dst, uint64_t va, uint64_t pfn, struct pt_prot child,
		  uint64_t src_table, uint64_t src_idx, uint64_t src_entry)
{
	memlab_machine *m = dst->m;
	struct page *page;
	uint64_t pmd_table;
	int err;

	/* the child's tables first: their allocation may reclaim (and split) the page */
	if ((err = pgtable_deposit(m, dst->mm)))
		return err;
	if ((err = pt_alloc_path(m, dst->mm, va, 1, &pmd_table)) ||
	    pt_read(m, src_table, src_idx) != src_entry) {
		pt_free_table(m, dst->mm, pgtable_withdraw(dst->mm));
		return err ? err : 1;	/* split meanwhile: copy its PTEs */
	}
	child.huge = true;
	pt_write(m, pmd_table, pt_index(&dst->mm->pt, 1, va), pt_mkentry(&dst->mm->pt, 1, pfn, child));
	if (child.special) {
		m->huge_zero_refs++;
		return 0;
	}
	page = pfn_to_page(m, pfn);
	page->flags &= ~PG_anon_exclusive;
	page->_refcount++;
	folio_add_rmap_pmd(m, page);
	add_mm_counter(dst->mm, MM_ANONPAGES, 1ll << hpage_pmd_order(m));
	return 0;
}

/* ===================== madvise ===================== */

/*
** folio_pte_batch() and folio_pte_batch_flags() (mm/internal.h): how
** many PTEs from va's (in table, at idx), before end and within the
** table, map the pages of pfn's folio in order from pfn's on -- with the
** first one's write bit too under FPB_RESPECT_WRITE, its dirty bit under
** FPB_RESPECT_DIRTY (then each entry read as ptep_get() reads it: an
** arm64 block's dirty bit is its folio's).
*/
uint64_t folio_pte_batch(memlab_task *t, uint64_t table, uint64_t idx, uint64_t va, uint64_t end,
			 uint64_t pfn, unsigned flags)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t head = folio_pfn(t->m, pfn), last = head + folio_nr_pages(pfn_to_page(t->m, head));
	uint64_t nr = 0, q;
	struct pt_prot p, first = { 0 };

	while (idx + nr < pt_ptrs(f, 0) && va + (nr << t->m->page_shift) < end && pfn + nr < last) {
		pt_decode(f, 0, flags & FPB_RESPECT_DIRTY ? ptep_get(t->m, f, table, idx + nr)
							  : pt_read(t->m, table, idx + nr), &q, &p);
		if (!pt_prot_maps(&p) || p.special || q != pfn + nr)
			break;
		if (!nr)
			first = p;
		else if (((flags & FPB_RESPECT_WRITE) && p.write != first.write) ||
			 ((flags & FPB_RESPECT_DIRTY) && p.dirty != first.dirty))
			break;
		nr++;
	}
	return nr;
}

/*
** A PTE of t at va (in table, at idx) maps pfn under MADV_COLD, MADV_PAGEOUT
** or MADV_FREE of a range ending at end (mm/madvise.c:
** madvise_folio_pte_batch and what follows it): a small page is advised alone (LP_SMALL, *nr 1); a large
** folio whose pages all the PTEs from here map in order is advised whole
** (LP_WHOLE, *nr of them); one the range covers in part is split, then
** advised as a small page -- unless another process maps it, or it is
** held: it is left alone (LP_SKIP, *nr PTEs to pass); a page-cache
** folio's split leaves its pages unmapped, nothing to advise (LP_SKIP).
*/
enum large_pte madvise_large_pte(memlab_task *t, uint64_t table, uint64_t idx, uint64_t va,
				 uint64_t end, uint64_t pfn, uint64_t *nr)
{
	uint64_t head = folio_pfn(t->m, pfn);
	const struct page *folio = pfn_to_page(t->m, head);
	bool anon = page_anon(folio), split;	/* the split may free the head */

	*nr = 1;
	if (folio_nr_pages(folio) == 1)
		return LP_SMALL;
	*nr = folio_pte_batch(t, table, idx, va, end, pfn, 0);
	if (*nr == folio_nr_pages(folio))
		return LP_WHOLE;
	if (folio_mapped_elsewhere(t->m, head, t->mm))
		return LP_SKIP;
	split = split_folio_of(t->m, pfn);
	/* the PTE lock taken again: the split's deferred flushes made sure of */
	flush_tlb_batched_pending(t);
	if (!split)
		return LP_SKIP;
	*nr = 1;
	return anon ? LP_SMALL : LP_SKIP;	/* a file folio's pages went unmapped */
}

/*
** The huge leaf at haddr (in table, at idx) under MADV_FREE, MADV_COLD or
** MADV_PAGEOUT of [start, end) (mm/huge_memory.c madvise_free_huge_pmd(),
** mm/madvise.c madvise_cold_or_pageout_pte_range()): -1 to leave it -- the huge zero
** page, a folio another process maps too (folio_maybe_mapped_shared: the
** PMD maps every page here, so any other mapping is another mm's) --; 1
** when the range covers it in part and it was split (split_folio), for
** its pages to be advised one by one; 0 for the whole folio.
*/
static int madvise_huge_folio(memlab_task *t, uint64_t haddr, uint64_t table, uint64_t idx,
			      uint64_t start, uint64_t end, uint64_t *pfn, struct pt_prot *p)
{
	pt_decode(&t->mm->pt, 1, pt_read(t->m, table, idx), pfn, p);
	if (p->special || *pfn >= t->m->nr_frames ||
	    folio_mapcount(pfn_to_page(t->m, *pfn)) > 1)
		return -1;
	if (start > haddr || end < haddr + hpage_size(t->m))
		return split_folio_of(t->m, *pfn) ? 1 : -1;
	return 0;
}

/*
** madvise_free_huge_pmd(): a whole folio this mm alone maps becomes
** lazily freeable, clean, its PMD old and clean.  1: split, walk its PTEs.
*/
int madvise_free_huge_pmd(struct mmu_gather *tlb, uint64_t haddr, uint64_t table, uint64_t idx,
			  uint64_t start, uint64_t end)
{
	memlab_machine *m = tlb->t->m;
	struct pt_prot p;
	uint64_t pfn;
	int r = madvise_huge_folio(tlb->t, haddr, table, idx, start, end, &pfn, &p);

	if (r)
		return r > 0;
	pfn_to_page(m, pfn)->flags &= ~PG_dirty;
	if (p.accessed || p.dirty) {
		p.accessed = p.dirty = false;
		pt_write(m, table, idx, pt_mkentry(&tlb->t->mm->pt, 1, pfn, p));
		tlb_flush_pte_range(tlb, haddr, hpage_size(m), 1);
	}
	folio_mark_lazyfree(m, pfn_to_page(m, pfn));
	return 0;
}

/*
** The PMD part of madvise_cold_or_pageout_pte_range(): a whole folio this
** mm alone maps loses its referenced bit (MADV_COLD: its PMD is made old,
** and it goes inactive; MADV_PAGEOUT: it is isolated onto the list
** pageout, which reclaim_pages() takes).  1: split, walk its PTEs.
*/
int madvise_cold_huge_pmd(struct mmu_gather *tlb, uint64_t haddr, uint64_t table, uint64_t idx,
			  uint64_t start, uint64_t end, struct folio_list *pageout)
{
	memlab_machine *m = tlb->t->m;
	struct page *folio;
	struct pt_prot p;
	uint64_t pfn;
	int r = madvise_huge_folio(tlb->t, haddr, table, idx, start, end, &pfn, &p);

	if (r)
		return r > 0;
	folio = pfn_to_page(m, pfn);
	if (!pageout && p.accessed) {
		p.accessed = false;
		pt_write(m, table, idx, pt_mkentry(&tlb->t->mm->pt, 1, pfn, p));
		tlb_flush_pte_range(tlb, haddr, hpage_size(m), 1);
	}
	folio->flags &= ~PG_referenced;
	if (folio->flags & PG_active)
		folio->flags |= PG_workingset;
	if (pageout)
		folio_isolate_for_pageout(m, pageout, pfn);
	else
		folio_deactivate(m, folio);
	return 0;
}

/* ===================== the settings ===================== */

int memlab_thp(memlab_machine *m, const char *enabled, int use_zero_page,
	       struct memlab_thp_settings *get)
{
	static const char *const modes[] = { "never", "madvise", "always" };
	int mode = -1;

	for (int i = 0; enabled && i < 3; i++)
		if (strcmp(enabled, modes[i]) == 0)
			mode = i;
	if ((enabled && mode < 0) || use_zero_page < -1 || use_zero_page > 1)
		return -MEMLAB_EINVAL;
	if (mode >= 0 && mode != m->thp_enabled) {
		m->thp_enabled = mode;
		set_recommended_min_free_kbytes(m);	/* start_stop_khugepaged() */
	}
	if (use_zero_page >= 0)
		m->thp_use_zero_page = use_zero_page;
	if (get) {
		get->enabled = modes[m->thp_enabled];
		get->use_zero_page = m->thp_use_zero_page;
		get->hpage_pmd_size = hpage_size(m);
	}
	return 0;
}

static const char *const mthp_stat_names[MEMLAB_NR_MTHP_STATS] = {
	"anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge", "zswpout",
	"swpin", "swpin_fallback", "swpin_fallback_charge", "swpout", "swpout_fallback",
	"shmem_alloc", "shmem_fallback", "shmem_fallback_charge", "split", "split_failed",
	"split_deferred", "nr_anon", "nr_anon_partially_mapped",
};

static const char *const thpsize_modes[] = { "always", "inherit", "madvise", "never" };

/* thpsize_enabled_show(): which of the masks holds the order. */
static const char *thpsize_enabled(const memlab_machine *m, unsigned order)
{
	uint64_t bit = 1ull << order;

	if (m->huge_anon_orders_always & bit)
		return thpsize_modes[0];
	if (m->huge_anon_orders_inherit & bit)
		return thpsize_modes[1];
	return m->huge_anon_orders_madvise & bit ? thpsize_modes[2] : thpsize_modes[3];
}

size_t memlab_thp_sizes(const memlab_machine *m, struct memlab_thp_size *out, size_t n)
{
	uint64_t orders = thp_orders_all_anon(m);
	size_t i = 0;

	for (unsigned order = 0; order < 64; order++) {
		if (!(orders & (1ull << order)))
			continue;
		if (out && i < n) {
			out[i].size = (uint64_t)m->page_size << order;
			out[i].enabled = thpsize_enabled(m, order);
			for (int s = 0; s < MEMLAB_NR_MTHP_STATS; s++) {
				out[i].stats[s].name = mthp_stat_names[s];
				out[i].stats[s].value = m->mthp_stats[order][s];
			}
		}
		i++;
	}
	return i;
}

/* thpsize_enabled_store(): the order moves to one mask; khugepaged may start or stop. */
int memlab_thp_size_set(memlab_machine *m, uint64_t size, const char *enabled)
{
	uint64_t *masks[] = { &m->huge_anon_orders_always, &m->huge_anon_orders_inherit,
			      &m->huge_anon_orders_madvise, NULL };
	bool was = hugepage_pmd_enabled(m);
	int mode = -1, order;

	if (!size || (size & (size - 1)) || !enabled)
		return -MEMLAB_EINVAL;
	order = highest_order(size) - (int)m->page_shift;
	if (order < 0 || !(thp_orders_all_anon(m) & (1ull << order)))
		return -MEMLAB_EINVAL;
	for (int i = 0; i < 4; i++)
		if (strcmp(enabled, thpsize_modes[i]) == 0)
			mode = i;
	if (mode < 0)
		return -MEMLAB_EINVAL;
	for (int i = 0; i < 3; i++)
		*masks[i] &= ~(1ull << order);
	if (masks[mode])
		*masks[mode] |= 1ull << order;
	if (hugepage_pmd_enabled(m) != was)
		set_recommended_min_free_kbytes(m);	/* start_stop_khugepaged() */
	return 0;
}
