/*
** huge_memory.c -- transparent huge pages for anonymous memory, as
** mm/huge_memory.c maps them: a PMD entry for a whole 2 MiB (on arm64, the
** granule's PMD size) of a private anonymous VMA that THP is enabled for
** (transparent_hugepage/enabled "always", or "madvise" and
** MADV_HUGEPAGE), the huge zero page for a read fault, a PTE table
** deposited with every huge PMD for a later split, copy on write by
** splitting, fork sharing the huge page.
**
** Simplified: a huge page is split (split_huge_page) wherever one of its
** PMD mappings must become PTEs -- a write to a shared one, an operation
** on part of it -- in every process that maps it; Linux splits only that
** PMD and keeps a PTE-mapped large folio.  No khugepaged, no mTHP, no
** shmem or file THP; a huge page is never reused by a write after fork
** unless it is mapped once.
*/
#include <string.h>

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

/* pgtable_trans_huge_deposit(): a PTE table kept for splitting the PMD. */
static int pgtable_deposit(memlab_machine *m, struct mm_struct *mm)
{
	uint64_t pfn;
	int err;

	if (mm->nr_deposit == mm->cap_deposit) {
		size_t cap = mm->cap_deposit ? mm->cap_deposit * 2 : 8;
		uint64_t *d = ml_grow(m, mm->deposit, mm->cap_deposit, cap, sizeof(*d));

		if (!d)
			return -MEMLAB_ENOMEM;
		mm->deposit = d;
		mm->cap_deposit = cap;
	}
	if ((err = pt_alloc_table(m, mm, &pfn)))
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

/*
** thp_vma_allowable_order() for the PMD order at haddr: an anonymous
** private VMA covering the whole huge page, THP enabled for it.
*/
static bool thp_vma_suitable(const memlab_machine *m, const struct vm_area_struct *vma,
			     uint64_t haddr)
{
	if (vma->vm_file || vma->special_name || (vma->vm_flags & (VM_SHARED | VM_HUGETLB)))
		return false;
	if (vma->vm_flags & VM_NOHUGEPAGE)
		return false;
	if (m->thp_enabled == 0 || (m->thp_enabled == 1 && !(vma->vm_flags & VM_HUGEPAGE)))
		return false;
	return haddr >= vma->vm_start && haddr + hpage_size(m) <= vma->vm_end;
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

/* ===================== splitting ===================== */

/* Fill the table at pfn with one entry per page of a huge leaf (its frames in turn). */
static void fill_pte_table(memlab_task *t, uint64_t table, uint64_t pfn, struct pt_prot p,
			   bool same_pfn)
{
	const struct pt_format *f = &t->mm->pt;

	p.huge = false;
	for (uint64_t i = 0; i < pt_ptrs(f, 0); i++)
		pt_write(t->m, table, i, pt_mkentry(f, 0, same_pfn ? pfn : pfn + i, p));
}

/*
** __split_huge_pmd() of t's huge leaf at haddr (the table holding it and
** its index): its deposited table takes the entries, one per page, with
** the leaf's bits (the huge zero page: the zero page 512 times); the TLBs
** lose the huge translation.
*/
static void split_pmd_entry(memlab_task *t, uint64_t haddr, uint64_t table, uint64_t idx)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t pte_table = pgtable_withdraw(t->mm), pfn;
	struct pt_prot p;

	pt_decode(f, 1, pt_read(t->m, table, idx), &pfn, &p);
	if (p.special)
		fill_pte_table(t, pte_table, t->m->zero_pfn, p, true);
	else
		fill_pte_table(t, pte_table, pfn, p, false);
	if (p.special)
		put_huge_zero_page(t->m);
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

	(void)vma;
	(void)ud;
	if (huge_leaf(t, addr, &table, &idx))
		split_pmd_entry(t, addr, table, idx);
	return true;
}

/*
** split_huge_page(): every PMD mapping of the anonymous huge page at head
** becomes PTEs, and the page becomes 2^order pages, each with the
** mapping's anon_vma and its index, mapped as many times as the huge
** page was.
*/
static void split_huge_page(memlab_machine *m, uint64_t head)
{
	struct page *hp = pfn_to_page(m, head);
	unsigned order = hp->private;
	int maps = hp->mapcount;
	uint32_t flags = hp->flags & (PG_swapbacked | PG_anon_exclusive | PG_unevictable | PG_mlocked |
				      PG_active | PG_referenced | PG_workingset);
	bool lru = hp->flags & PG_lru;
	uint32_t memcg_id = hp->memcg_id;	/* split_page_memcg(): each page keeps the charge */

	rmap_walk(m, head, split_one_pmd, NULL);
	lru_del(m, hp);		/* lru_add_split_folio(): each page takes the list's place */
	split_page(m, head, order);
	for (uint64_t i = 0; i < (1ull << order); i++) {
		struct page *p = pfn_to_page(m, head + i);

		p->mapping = hp->mapping;
		p->index = hp->index + i;
		p->mapcount = maps;
		p->_refcount = maps;
		p->flags |= flags;
		p->mlock_count = hp->mlock_count;	/* each page has the huge page's mappings */
		p->memcg_id = memcg_id;
		if (lru)
			lruvec_add_folio(m, p);
	}
	mod_lruvec_page_state(m, hp, NR_ANON_TRANSPARENT_HUGEPAGES, -1);
	m->vmstat[THP_SPLIT_PAGE]++;
}

/*
** split_folio_to_list() for reclaim: the isolated huge page at head is
** split; its tail pages go to the LRU, the head stays isolated (it keeps
** the reclaimer's reference).
*/
void split_huge_page_isolated(memlab_machine *m, uint64_t head)
{
	unsigned order = pfn_to_page(m, head)->private;

	split_huge_page(m, head);
	pfn_to_page(m, head)->_refcount++;
	for (uint64_t i = 1; i < (1ull << order); i++)
		lruvec_add_folio(m, pfn_to_page(m, head + i));
}

/* Split t's huge leaf covering va, if there is one: the zero page's, or the page's. */
static void split_huge_pmd_address(memlab_task *t, uint64_t va)
{
	uint64_t table, idx, pfn;
	struct pt_prot p;

	if (!huge_leaf(t, va, &table, &idx))
		return;
	pt_decode(&t->mm->pt, 1, pt_read(t->m, table, idx), &pfn, &p);
	if (p.special)
		split_pmd_entry(t, va & ~(hpage_size(t->m) - 1), table, idx);
	else
		split_huge_page(t->m, pfn);
}

/*
** vma_adjust_trans_huge() for an operation on [start, end): the huge
** leaves it cuts through -- at start and at end -- are split first; those
** wholly inside are left for the operation to handle whole.
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

/*
** do_huge_pmd_anonymous_page(): a read maps the huge zero page, a write
** a new zeroed huge page (GFP_TRANSHUGE with MADV_HUGEPAGE, else
** GFP_TRANSHUGE_LIGHT: the defrag default "madvise").  A huge page that
** cannot be had falls back to small pages (thp_fault_fallback).
*/
int do_huge_pmd_anonymous_page(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			       bool write, bool vma_locked)
{
	memlab_machine *m = t->m;
	uint64_t haddr = addr & ~(hpage_size(m) - 1), pfn;
	struct pt_prot p = vma_page_prot(vma);
	uint32_t gfp = (vma->vm_flags & VM_HUGEPAGE ? MEMLAB_GFP_TRANSHUGE
						    : MEMLAB_GFP_TRANSHUGE_LIGHT) | MEMLAB___GFP_ZERO;
	struct page *page;

	if (!thp_vma_suitable(m, vma, haddr))
		return 1;
	if (vmf_anon_prepare(t, vma, vma_locked))
		return -MEMLAB_ENOMEM;
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
	if (alloc_pages(m, hpage_pmd_order(m), gfp, &pfn)) {
		m->vmstat[THP_FAULT_FALLBACK]++;
		return 1;
	}
	page = pfn_to_page(m, pfn);
	if (mem_cgroup_charge(m, pfn, t->mm, gfp)) {	/* vma_alloc_anon_folio_pmd() */
		memlab_free_pages(m, pfn, hpage_pmd_order(m));
		m->vmstat[THP_FAULT_FALLBACK]++;
		m->vmstat[THP_FAULT_FALLBACK_CHARGE]++;
		return 1;
	}
	p.dirty = true;
	p.write = (vma->vm_flags & VM_WRITE) != 0;
	if (map_huge_pmd(t, haddr, pfn, p)) {
		mem_cgroup_uncharge(m, page);
		memlab_free_pages(m, pfn, hpage_pmd_order(m));
		return -MEMLAB_ENOMEM;
	}
	page->mapping = (uintptr_t)vma->anon_vma | PAGE_MAPPING_ANON;
	page->index = linear_page_index(vma, haddr);
	page->mapcount = 1;
	page->flags |= PG_swapbacked | PG_anon_exclusive;
	folio_add_lru_vma(m, page, vma);
	mod_lruvec_page_state(m, page, NR_ANON_PAGES, 1ll << hpage_pmd_order(m));
	mod_lruvec_page_state(m, page, NR_ANON_TRANSPARENT_HUGEPAGES, 1);
	count_vm_events_page(m, page, THP_FAULT_ALLOC, 1);
	add_mm_counter(t->mm, MM_ANONPAGES, 1ll << hpage_pmd_order(m));
	return 0;
}

/*
** A fault on a present huge leaf (huge_pmd_set_accessed, do_huge_pmd_wp_page):
** young (and dirty); a write to a read-only one reuses the page when this
** mapping alone holds it, else splits (the zero page's PMD, or the page)
** and returns 1 for the fault to go on with small pages.
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
			split_pmd_entry(t, haddr, table, idx);
			return 1;
		}
		page = pfn_to_page(m, pfn);
		if (!(page->flags & PG_anon_exclusive) && page->_refcount == 1 && page->mapcount == 1)
			page->flags |= PG_anon_exclusive;
		if (!(page->flags & PG_anon_exclusive)) {
			split_huge_page(m, pfn);
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

	pt_free_table(m, t->mm, pgtable_withdraw(t->mm));
	if (p->special) {
		put_huge_zero_page(m);
		return;
	}
	if (pfn >= m->nr_frames)
		return;
	page = pfn_to_page(m, pfn);
	add_mm_counter(t->mm, MM_ANONPAGES, -(1ll << hpage_pmd_order(m)));
	if (--page->mapcount == 0) {
		mod_lruvec_page_state(m, page, NR_ANON_PAGES, -(1ll << hpage_pmd_order(m)));
		mod_lruvec_page_state(m, page, NR_ANON_TRANSPARENT_HUGEPAGES, -1);
	}
	munlock_vma_folio(m, pfn, vma);
	put_page(m, pfn);
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
	page->mapcount++;
	add_mm_counter(dst->mm, MM_ANONPAGES, 1ll << hpage_pmd_order(m));
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
	if (mode >= 0)
		m->thp_enabled = mode;
	if (use_zero_page >= 0)
		m->thp_use_zero_page = use_zero_page;
	if (get) {
		get->enabled = modes[m->thp_enabled];
		get->use_zero_page = m->thp_use_zero_page;
		get->hpage_pmd_size = hpage_size(m);
	}
	return 0;
}
