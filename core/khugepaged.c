/*
** khugepaged.c -- small pages collapsed into a transparent huge page, as
** Linux 6.18's mm/khugepaged.c collapses private anonymous memory: at
** once for MADV_COLLAPSE (madvise_collapse), and by the khugepaged
** thread, which scans the mms registered with it a few huge pages at a
** time (khugepaged_do_scan).
**
** A PMD-aligned, PMD-sized range whose PTEs map small pages -- or pages
** of a large folio, or nothing, or the zero page, or swap entries, read
** in first -- gets a new huge page (thp_collapse_alloc): the pages'
** contents are copied in (zeroes where nothing was), the pages unmapped
** and freed, the emptied PTE table deposited for a later split, and a
** huge PMD put in the table's place (collapse_huge_page).  khugepaged is
** choosy: at most max_ptes_none empty entries, max_ptes_swap swap entries
** and max_ptes_shared pages another mm maps too, and one young page at
** least; MADV_COLLAPSE takes any range and ignores
** transparent_hugepage/enabled (but not VM_NOHUGEPAGE).
**
** memlab has no clock: Linux's khugepaged sleeps scan_sleep_millisecs
** between passes (alloc_sleep_millisecs after a failed allocation); here
** a pass of pages_to_scan runs when the host asks (memlab_khugepaged()).
** Not modelled: file and shmem collapse (collapse_file; MADV_COLLAPSE of
** such a VMA is EINVAL), NUMA node choice, userfaultfd (as in 6.18, a
** collapse is to the PMD order only, never an mTHP one); the
** mm slots are the host's memory, not a slab cache of the machine; an mm
** that exits while the scan is at it is freed at once (Linux's mmgrab
** keeps its mm_struct and PGD until the scan lets the slot go).
*/
#include "mm.h"

/* enum scan_result, in Linux's order (the tracepoints' status numbers) */
enum scan_result {
	SCAN_FAIL, SCAN_SUCCEED, SCAN_PMD_NULL, SCAN_PMD_NONE, SCAN_PMD_MAPPED,
	SCAN_EXCEED_NONE_PTE, SCAN_EXCEED_SWAP_PTE, SCAN_EXCEED_SHARED_PTE,
	SCAN_PTE_NON_PRESENT, SCAN_PTE_UFFD_WP, SCAN_PTE_MAPPED_HUGEPAGE, SCAN_PAGE_RO,
	SCAN_LACK_REFERENCED_PAGE, SCAN_PAGE_NULL, SCAN_SCAN_ABORT, SCAN_PAGE_COUNT,
	SCAN_PAGE_LRU, SCAN_PAGE_LOCK, SCAN_PAGE_ANON, SCAN_PAGE_COMPOUND, SCAN_ANY_PROCESS,
	SCAN_VMA_NULL, SCAN_VMA_CHECK, SCAN_ADDRESS_RANGE, SCAN_DEL_PAGE_LRU,
	SCAN_ALLOC_HUGE_PAGE_FAIL, SCAN_CGROUP_CHARGE_FAIL,
};

/* struct khugepaged_mm_slot: an mm on khugepaged's list. */
struct khugepaged_mm_slot {
	struct khugepaged_mm_slot *next;
	struct mm_struct *mm;		/* NULL: it exited while the scan was at it */
};

/*
** struct collapse_control, and what a scan of one PMD found: the slot of
** the PMD entry and the PTE table it points to (find_pmd_or_thp_or_none).
*/
struct collapse_control {
	memlab_task *t;			/* the mm's task (its owner, for khugepaged) */
	bool is_khugepaged;
	uint64_t pmd_table, pmd_idx, pte_table;
	int referenced, unmapped;	/* young pages, swap entries */
};

static uint64_t hpage_size(const memlab_machine *m)
{
	return (uint64_t)m->page_size << hpage_pmd_order(m);
}

static unsigned hpage_nr(const memlab_machine *m)
{
	return 1u << hpage_pmd_order(m);
}

/* khugepaged_init(): the defaults, in pages of the huge page's size. */
void khugepaged_init(memlab_machine *m)
{
	struct khugepaged_state *k = &m->khugepaged;
	unsigned nr = hpage_nr(m);

	k->pages_to_scan = nr * 8;
	k->max_ptes_none = nr - 1;
	k->max_ptes_swap = nr / 8;
	k->max_ptes_shared = nr / 2;
	k->scan_sleep_millisecs = 10000;
	k->alloc_sleep_millisecs = 60000;
	k->defrag = true;
	set_recommended_min_free_kbytes(m);	/* hugepage_init() -> start_stop_khugepaged() */
}

/* ===================== the list of mms ===================== */

/* __khugepaged_enter(): mm joins the list at its tail, behind the cursor. */
static void khugepaged_enter(memlab_machine *m, struct mm_struct *mm)
{
	struct khugepaged_state *k = &m->khugepaged;
	struct khugepaged_mm_slot *slot;

	if (mm->khugepaged_slot || !(slot = ml_alloc(m, sizeof(*slot))))
		return;
	slot->mm = mm;
	if (k->tail)
		k->tail->next = slot;
	else
		k->head = slot;
	k->tail = slot;
	mm->khugepaged_slot = slot;
}

/*
** khugepaged_enter_vma(): an mm with a VMA khugepaged could collapse in
** (vm_flags: the VMA's, or the ones MADV_HUGEPAGE gives it) joins the
** list -- at a huge page fault, a new or merged VMA, MADV_HUGEPAGE.
*/
void khugepaged_enter_vma(memlab_machine *m, struct vm_area_struct *vma, uint64_t vm_flags)
{
	if (!vma->vm_mm->khugepaged_slot && hugepage_pmd_enabled(m) &&
	    thp_vma_allowable(m, vma, vm_flags, TVA_KHUGEPAGED))
		khugepaged_enter(m, vma->vm_mm);
}

/* khugepaged_fork(): a child of a registered mm is registered. */
void khugepaged_fork(memlab_machine *m, struct mm_struct *mm, const struct mm_struct *oldmm)
{
	if (oldmm->khugepaged_slot)
		khugepaged_enter(m, mm);
}

static void slot_unlink(memlab_machine *m, struct khugepaged_mm_slot *slot)
{
	struct khugepaged_state *k = &m->khugepaged;
	struct khugepaged_mm_slot **pp = &k->head, *prev = NULL;

	while (*pp != slot) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = slot->next;
	if (k->tail == slot)
		k->tail = prev;
	ml_free(m, slot, sizeof(*slot));
}

/*
** __khugepaged_exit(): the mm is going; it leaves the list, unless the
** scan is at it: then the scan lets it go when it comes back to it
** (collect_mm_slot).
*/
void khugepaged_exit(memlab_machine *m, struct mm_struct *mm)
{
	struct khugepaged_mm_slot *slot = mm->khugepaged_slot;

	if (!slot)
		return;
	mm->khugepaged_slot = NULL;
	if (slot == m->khugepaged.cursor)
		slot->mm = NULL;
	else
		slot_unlink(m, slot);
}

/* The machine is going: the slots of the mms gone while the scan was at them. */
void khugepaged_release(memlab_machine *m)
{
	while (m->khugepaged.head)
		slot_unlink(m, m->khugepaged.head);
	m->khugepaged.cursor = NULL;
}

/*
** m:check(): the list holds each registered live mm once, through the
** slot its mm names; only the slot the scan is at may have lost its mm;
** the tail is the last slot and the cursor one of them.
*/
int khugepaged_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	const struct khugepaged_state *k = &m->khugepaged;
	struct ml_check c = { fn, ud, 0 };
	const struct khugepaged_mm_slot *slot, *last = NULL;
	bool cursor_seen = !k->cursor;
	uint64_t nr = 0, registered = 0;
	memlab_task *t;

	for (slot = k->head; slot; last = slot, slot = slot->next, nr++) {
		cursor_seen |= slot == k->cursor;
		if (slot->mm ? slot->mm->khugepaged_slot != slot : slot != k->cursor)
			ml_violation(&c, "khugepaged: a slot on the list is not its mm's (or a gone "
				     "mm's away from the scan)");
	}
	if (last != k->tail || !cursor_seen)
		ml_violation(&c, "khugepaged: the list's tail or the scan's cursor is not on it");
	for_each_mm_task(m, t)
		registered += t->mm->khugepaged_slot != NULL;
	if (registered + (k->cursor && !k->cursor->mm) != nr)
		ml_violation(&c, "khugepaged: %llu slots on the list, %llu mms registered",
			     (unsigned long long)nr, (unsigned long long)registered);
	return c.count;
}

/* ===================== looking at a PMD ===================== */

/*
** find_pmd_or_thp_or_none(): what the PMD entry at haddr is; a table
** (SCAN_SUCCEED) leaves its slot and the PTE table in cc.
*/
static int find_pmd_or_thp_or_none(struct collapse_control *cc, uint64_t haddr)
{
	memlab_machine *m = cc->t->m;
	const struct pt_format *f = &cc->t->mm->pt;
	struct pt_walk w;
	struct pt_prot p;
	uint64_t pfn, e;

	pt_walk(m, cc->t->mm, haddr, &w);
	if (!w.nr_levels || w.level > 1)
		return SCAN_PMD_NULL;		/* no PMD table here */
	if (w.level == 1) {
		e = w.entry[w.nr_levels - 1];
		if (!e)
			return SCAN_PMD_NONE;
		pt_decode(f, 1, e, &pfn, &p);
		return pt_prot_maps(&p) ? SCAN_PMD_MAPPED : SCAN_PMD_NULL;
	}
	cc->pmd_table = w.table[w.nr_levels - 2];
	cc->pmd_idx = pt_index(f, 1, haddr);
	cc->pte_table = w.table[w.nr_levels - 1];
	return SCAN_SUCCEED;
}

/* pte_none_or_zero(): an empty entry, or the zero page's. */
static bool pte_none_or_zero(const memlab_machine *m, const struct pt_format *f, uint64_t e)
{
	struct pt_prot p;
	uint64_t pfn;

	if (!e)
		return true;
	pt_decode(f, 0, e, &pfn, &p);
	return pt_prot_maps(&p) && p.special && pfn == m->zero_pfn;
}

/*
** vm_normal_page(): the frame a present entry maps; PFN_NONE for a special
** one, and for a swap entry (whose offset an arm64 entry keeps where a
** present one keeps its pfn).
*/
static uint64_t pte_page(const memlab_machine *m, const struct pt_format *f, uint64_t e,
			 struct pt_prot *p)
{
	uint64_t pfn;

	pt_decode(f, 0, e, &pfn, p);
	return !pt_prot_maps(p) || p->special || pfn >= m->nr_frames ? PFN_NONE : pfn;
}

/*
** folio_maybe_mapped_shared(): a small page mapped more than once, a
** large folio another mm maps a page of.
*/
static bool folio_maybe_mapped_shared(struct collapse_control *cc, uint64_t head)
{
	const struct page *folio = pfn_to_page(cc->t->m, head);

	if (folio_nr_pages(folio) == 1)
		return folio->mapcount > 1;
	return folio_mapped_elsewhere(cc->t->m, head, cc->t->mm);
}

/* folio_expected_ref_count() == folio_ref_count(): no one holds it but its mappings and caches. */
static bool is_refcount_suitable(const struct page *folio)
{
	int expected = folio_mapcount(folio);

	if (folio->flags & PG_swapcache)
		expected += (int)folio_nr_pages(folio);
	return folio->_refcount == expected;
}

/*
** What a scan asks of a folio, once for all the PTEs that map its pages:
** its result (SCAN_SUCCEED to go on) and whether another mm maps it.
*/
struct folio_memo {
	uint64_t head;
	int result;
	bool shared;
};

static void folio_memo_fill(struct collapse_control *cc, struct folio_memo *fm, uint64_t head)
{
	const struct page *folio = pfn_to_page(cc->t->m, head);

	fm->head = head;
	fm->shared = false;
	if (!page_anon(folio)) {
		fm->result = SCAN_PAGE_ANON;
		return;
	}
	fm->shared = cc->is_khugepaged && folio_maybe_mapped_shared(cc, head);	/* only its limit asks */
	if (!(folio->flags & PG_lru))
		fm->result = SCAN_PAGE_LRU;
	else if (!is_refcount_suitable(folio))
		fm->result = SCAN_PAGE_COUNT;
	else
		fm->result = SCAN_SUCCEED;
}

/* khugepaged's tests of a kind of entry: one more of it is still allowed. */
static bool within(const struct collapse_control *cc, int n, unsigned max, int item)
{
	if (!cc->is_khugepaged || (unsigned)n <= max)
		return true;
	cc->t->m->vmstat[item]++;
	return false;
}

/*
** The young test khugepaged makes of a page: its entry's accessed bit, or
** the folio's referenced flag.
*/
static bool pte_referenced(const struct pt_prot *p, const struct page *folio)
{
	return p->accessed || (folio->flags & PG_referenced);
}

/*
** hpage_collapse_scan_pmd()'s look at the PTEs of the PMD at haddr:
** SCAN_SUCCEED when collapse_huge_page() may try, what stops it else.
*/
static int scan_ptes(struct collapse_control *cc, uint64_t haddr)
{
	memlab_machine *m = cc->t->m;
	const struct pt_format *f = &cc->t->mm->pt;
	const struct khugepaged_state *k = &m->khugepaged;
	struct folio_memo fm = { PFN_NONE, SCAN_SUCCEED, false };
	int none_or_zero = 0, shared = 0;

	cc->referenced = cc->unmapped = 0;
	for (unsigned i = 0; i < hpage_nr(m); i++) {
		uint64_t e = ptep_get(m, f, cc->pte_table, i), pfn;
		struct pt_prot p;

		if (pte_none_or_zero(m, f, e)) {
			if (!within(cc, ++none_or_zero, k->max_ptes_none, THP_SCAN_EXCEED_NONE_PTE))
				return SCAN_EXCEED_NONE_PTE;
			continue;
		}
		if ((pfn = pte_page(m, f, e, &p)) == PFN_NONE && !pt_prot_maps(&p)) {
			if (!within(cc, ++cc->unmapped, k->max_ptes_swap, THP_SCAN_EXCEED_SWAP_PTE))
				return SCAN_EXCEED_SWAP_PTE;
			continue;		/* a swap entry */
		}
		if (pfn == PFN_NONE)
			return SCAN_PAGE_NULL;
		if (folio_pfn(m, pfn) != fm.head)
			folio_memo_fill(cc, &fm, folio_pfn(m, pfn));
		if (fm.result == SCAN_PAGE_ANON)
			return SCAN_PAGE_ANON;
		if (fm.shared && !within(cc, ++shared, k->max_ptes_shared, THP_SCAN_EXCEED_SHARE_PTE))
			return SCAN_EXCEED_SHARED_PTE;
		if (fm.result != SCAN_SUCCEED)
			return fm.result;
		cc->referenced += cc->is_khugepaged && pte_referenced(&p, pfn_to_page(m, fm.head));
	}
	if (cc->is_khugepaged &&
	    (!cc->referenced || (cc->unmapped && (unsigned)cc->referenced < hpage_nr(m) / 2)))
		return SCAN_LACK_REFERENCED_PAGE;
	return SCAN_SUCCEED;
}

/* ===================== the collapse ===================== */

/*
** hugepage_vma_revalidate(): after the mmap_lock was dropped, the VMA at
** haddr may still have a huge page collapsed there.
*/
static int hugepage_vma_revalidate(struct collapse_control *cc, uint64_t haddr, bool expect_anon,
				   struct vm_area_struct **vmap)
{
	memlab_task *t = cc->t;
	struct vm_area_struct *vma;

	*vmap = vma = cc->is_khugepaged ? vma_tree_find(&t->mm->mm_mt, haddr) : find_vma(t, haddr);
	if (!vma)
		return SCAN_VMA_NULL;
	if (!thp_vma_suitable_order(t->m, vma, haddr))
		return SCAN_ADDRESS_RANGE;
	if (!thp_vma_allowable(t->m, vma, vma->vm_flags,
			       cc->is_khugepaged ? TVA_KHUGEPAGED : TVA_FORCED_COLLAPSE))
		return SCAN_VMA_CHECK;
	if (expect_anon && !vma->anon_vma)
		return SCAN_PAGE_ANON;
	return SCAN_SUCCEED;
}

/*
** alloc_charge_folio(): the huge page, charged to the mm's memcg --
** khugepaged's with defrag's GFP_TRANSHUGE (direct reclaim and
** compaction) or without it GFP_TRANSHUGE_LIGHT, MADV_COLLAPSE's
** GFP_TRANSHUGE.
*/
static int alloc_charge_folio(struct collapse_control *cc, uint64_t *pfn)
{
	memlab_machine *m = cc->t->m;
	uint32_t gfp = cc->is_khugepaged && !m->khugepaged.defrag ? MEMLAB_GFP_TRANSHUGE_LIGHT
								   : MEMLAB_GFP_TRANSHUGE;

	if (alloc_pages(m, hpage_pmd_order(m), gfp, pfn)) {
		m->vmstat[THP_COLLAPSE_ALLOC_FAILED]++;
		return SCAN_ALLOC_HUGE_PAGE_FAIL;
	}
	m->vmstat[THP_COLLAPSE_ALLOC]++;
	if (mem_cgroup_charge(m, *pfn, cc->t->mm, gfp)) {
		memlab_free_pages(m, *pfn, hpage_pmd_order(m));
		return SCAN_CGROUP_CHARGE_FAIL;
	}
	count_memcg_events(page_memcg(m, pfn_to_page(m, *pfn)), THP_COLLAPSE_ALLOC, 1);
	return SCAN_SUCCEED;
}

/*
** __collapse_huge_page_swapin(): every swap entry of the PMD read in and
** mapped.  A page that had to be read leaves the mmap_lock dropped
** (SCAN_PAGE_LOCK: the collapse gives up, the page waits in the swap
** cache for the next try); any other failure drops it too (SCAN_FAIL).
*/
static int collapse_swapin(struct collapse_control *cc, struct vm_area_struct *vma,
			   uint64_t haddr)
{
	memlab_machine *m = cc->t->m;
	int swapped_in = 0, err;

	for (unsigned i = 0; i < hpage_nr(m); i++) {
		uint64_t e = pt_read(m, cc->pte_table, i);
		struct pt_prot p;
		uint64_t pfn;

		if (!e)
			continue;
		pt_decode(&cc->t->mm->pt, 0, e, &pfn, &p);
		if (pt_prot_maps(&p))
			continue;
		err = swapin_for_collapse(cc->t, vma, haddr + ((uint64_t)i << m->page_shift), e);
		if (err == -MEMLAB_EAGAIN)
			return SCAN_PAGE_LOCK;
		if (err) {
			mmap_read_unlock(cc->t->mm);
			return SCAN_FAIL;
		}
		swapped_in++;
	}
	if (swapped_in)
		lru_add_drain(m);	/* the swapped-in pages' batch references */
	return SCAN_SUCCEED;
}

/* The folios __collapse_huge_page_isolate() took off the LRU: large ones listed. */
struct isolated {
	uint64_t *large;		/* compound_pagelist: heads, in order */
	unsigned nr_large;
};

/* release_pte_folio(): an isolated folio goes back to its LRU list. */
static void release_pte_folio(memlab_machine *m, struct page *folio)
{
	folio_putback_lru(m, folio);
	put_page(m, page_to_pfn(m, folio));	/* the isolation reference */
}

/*
** release_pte_pages(): the small folios the PTEs before i map, and every
** listed large one, go back.
*/
static void release_pte_pages(struct collapse_control *cc, unsigned i, struct isolated *iso)
{
	memlab_machine *m = cc->t->m;
	const struct pt_format *f = &cc->t->mm->pt;

	while (i-- > 0) {
		uint64_t e = pt_read(m, cc->pte_table, i), pfn;
		struct pt_prot p;

		if (pte_none_or_zero(m, f, e) || (pfn = pte_page(m, f, e, &p)) == PFN_NONE)
			continue;
		if (folio_nr_pages(pfn_folio(m, pfn)) == 1)
			release_pte_folio(m, pfn_to_page(m, pfn));
	}
	for (unsigned j = 0; j < iso->nr_large; j++)
		release_pte_folio(m, pfn_to_page(m, iso->large[j]));
	iso->nr_large = 0;
}

static bool listed(const struct isolated *iso, uint64_t head)
{
	for (unsigned j = 0; j < iso->nr_large; j++)
		if (iso->large[j] == head)
			return true;
	return false;
}

/*
** __collapse_huge_page_isolate(), the PMD cleared: each page the PTEs map
** is checked once more and taken off its LRU list (with a reference).
** On failure every folio taken goes back.
*/
static int collapse_isolate(struct collapse_control *cc, struct isolated *iso)
{
	memlab_machine *m = cc->t->m;
	const struct pt_format *f = &cc->t->mm->pt;
	const struct khugepaged_state *k = &m->khugepaged;
	int none_or_zero = 0, shared = 0, result = SCAN_SUCCEED;
	uint64_t shared_head = PFN_NONE;	/* the folio head_shared is about */
	bool head_shared = false;
	unsigned i;

	cc->referenced = 0;
	for (i = 0; i < hpage_nr(m); i++) {
		uint64_t e = ptep_get(m, f, cc->pte_table, i), pfn, head;
		struct page *folio;
		struct pt_prot p;

		if (pte_none_or_zero(m, f, e)) {
			if (!within(cc, ++none_or_zero, k->max_ptes_none, THP_SCAN_EXCEED_NONE_PTE)) {
				result = SCAN_EXCEED_NONE_PTE;
				break;
			}
			continue;
		}
		pfn = pte_page(m, f, e, &p);
		if (!pt_prot_maps(&p)) {
			result = SCAN_PTE_NON_PRESENT;
			break;
		}
		if (pfn == PFN_NONE) {
			result = SCAN_PAGE_NULL;
			break;
		}
		folio = pfn_to_page(m, (head = folio_pfn(m, pfn)));
		if (cc->is_khugepaged && head != shared_head) {	/* once a folio, not a PTE */
			shared_head = head;
			head_shared = folio_maybe_mapped_shared(cc, head);
		}
		if (cc->is_khugepaged && head_shared &&
		    !within(cc, ++shared, k->max_ptes_shared, THP_SCAN_EXCEED_SHARE_PTE)) {
			result = SCAN_EXCEED_SHARED_PTE;
			break;
		}
		if (folio_nr_pages(folio) == 1 || !listed(iso, head)) {
			if (!is_refcount_suitable(folio)) {
				result = SCAN_PAGE_COUNT;
				break;
			}
			if (!folio_isolate_lru(m, folio)) {
				result = SCAN_DEL_PAGE_LRU;
				break;
			}
			folio->_refcount++;
			if (folio_nr_pages(folio) > 1)
				iso->large[iso->nr_large++] = head;
		}
		cc->referenced += cc->is_khugepaged && pte_referenced(&p, folio);
	}
	if (result == SCAN_SUCCEED && cc->is_khugepaged && !cc->referenced)
		result = SCAN_LACK_REFERENCED_PAGE;
	if (result != SCAN_SUCCEED)
		release_pte_pages(cc, i, iso);
	return result;
}

/* free_swap_cache(): a folio of the swap cache that nothing maps leaves it. */
static void free_swap_cache(memlab_machine *m, uint64_t head)
{
	if ((pfn_to_page(m, head)->flags & PG_swapcache) && !folio_mapcount(pfn_to_page(m, head)))
		folio_free_swap(m, head);
}

/*
** __collapse_huge_page_copy() and its _succeeded(): the huge page at
** hpfn takes each page's contents (zeroes for none and the zero page);
** then each entry goes with its mapping -- a large folio's in one batch --
** and an empty one counts in MM_ANONPAGES from now on.  The isolated
** folios go back, to be freed with their last reference.
*/
static void collapse_copy(struct collapse_control *cc, struct vm_area_struct *vma,
			  uint64_t haddr, uint64_t hpfn, struct isolated *iso)
{
	memlab_machine *m = cc->t->m;
	const struct pt_format *f = &cc->t->mm->pt;
	uint64_t end = haddr + hpage_size(m), nr;
	struct pt_prot p;

	for (unsigned i = 0; i < hpage_nr(m); i++) {
		uint64_t e = pt_read(m, cc->pte_table, i);

		if (pte_none_or_zero(m, f, e))
			ml_zero_frames(m, hpfn + i, 1);
		else
			ml_copy_frame(m, hpfn + i, pte_page(m, f, e, &p));
	}
	for (unsigned i = 0; i < hpage_nr(m); i += (unsigned)nr) {
		uint64_t e = pt_read(m, cc->pte_table, i), va = haddr + ((uint64_t)i << m->page_shift);
		uint64_t pfn, head;

		nr = 1;
		if (pte_none_or_zero(m, f, e)) {
			add_mm_counter(cc->t->mm, MM_ANONPAGES, 1);
			pt_write(m, cc->pte_table, i, 0);
			continue;
		}
		pfn = pte_page(m, f, e, &p);
		head = folio_pfn(m, pfn);
		if (folio_nr_pages(pfn_to_page(m, head)) > 1)
			nr = folio_pte_batch(cc->t, cc->pte_table, i, va, end, pfn, 0);
		else
			release_pte_folio(m, pfn_to_page(m, head));
		for (uint64_t j = 0; j < nr; j++)
			pt_write(m, cc->pte_table, i + j, 0);
		zap_remove_rmap(m, pfn, nr, vma);
	}
	for (unsigned j = 0; j < iso->nr_large; j++) {
		free_swap_cache(m, iso->large[j]);
		release_pte_folio(m, pfn_to_page(m, iso->large[j]));
	}
	iso->nr_large = 0;
}

/*
** The second half of collapse_huge_page(), under the mmap_lock held for
** writing: the PMD cleared and flushed (pmdp_collapse_flush), the pages
** isolated, copied and unmapped, the huge PMD set; or, on failure, the
** PMD as it was.
*/
static int collapse_locked(struct collapse_control *cc, struct vm_area_struct *vma,
			   uint64_t haddr, uint64_t hpfn)
{
	memlab_machine *m = cc->t->m;
	struct isolated iso = { NULL, 0 };
	uint64_t pmd = pt_read(m, cc->pmd_table, cc->pmd_idx);
	int result;

	iso.large = ml_alloc(m, hpage_nr(m) * sizeof(*iso.large));
	if (!iso.large || pgtable_deposit_reserve(m, cc->t->mm)) {
		ml_free(m, iso.large, hpage_nr(m) * sizeof(*iso.large));
		return SCAN_FAIL;
	}
	pt_write(m, cc->pmd_table, cc->pmd_idx, 0);
	flush_tlb_range(cc->t, haddr, haddr + hpage_size(m));
	result = collapse_isolate(cc, &iso);
	if (result == SCAN_SUCCEED) {
		collapse_copy(cc, vma, haddr, hpfn, &iso);
		collapse_map_pmd(cc->t, vma, haddr, cc->pmd_table, cc->pmd_idx, hpfn, cc->pte_table);
	} else {
		pt_write(m, cc->pmd_table, cc->pmd_idx, pmd);	/* pmd_populate() */
	}
	ml_free(m, iso.large, hpage_nr(m) * sizeof(*iso.large));
	return result;
}

/*
** collapse_huge_page(), entered with the mmap_lock held for reading and
** left with it released: the huge page allocated without the lock, the
** VMA and PMD looked at again, the swap entries read in, then the
** collapse under the lock held for writing.
*/
static int collapse_huge_page(struct collapse_control *cc, uint64_t haddr)
{
	struct mm_struct *mm = cc->t->mm;
	struct vm_area_struct *vma;
	uint64_t hpfn;
	int result;

	mmap_read_unlock(mm);
	if ((result = alloc_charge_folio(cc, &hpfn)) != SCAN_SUCCEED)
		return result;
	mmap_read_lock(mm);
	result = hugepage_vma_revalidate(cc, haddr, true, &vma);
	if (result == SCAN_SUCCEED)
		result = find_pmd_or_thp_or_none(cc, haddr);
	if (result == SCAN_SUCCEED && cc->unmapped) {
		result = collapse_swapin(cc, vma, haddr);
		if (result != SCAN_SUCCEED)
			goto out_nolock;	/* the swap-in let the lock go */
	}
	mmap_read_unlock(mm);
	if (result != SCAN_SUCCEED)
		goto out_nolock;
	mmap_write_lock(mm);
	result = hugepage_vma_revalidate(cc, haddr, true, &vma);
	if (result == SCAN_SUCCEED)
		result = find_pmd_or_thp_or_none(cc, haddr);	/* check_pmd_still_valid() */
	if (result == SCAN_SUCCEED)
		result = collapse_locked(cc, vma, haddr, hpfn);
	mmap_write_unlock(mm);
out_nolock:
	if (result != SCAN_SUCCEED)
		put_page(cc->t->m, hpfn);
	return result;
}

/*
** hpage_collapse_scan_pmd(): the PMD at haddr, with the mmap_lock held
** for reading; *mmap_locked goes false when a collapse was tried (it
** returns with the lock released).
*/
static int hpage_collapse_scan_pmd(struct collapse_control *cc, uint64_t haddr,
				   bool *mmap_locked)
{
	int result = find_pmd_or_thp_or_none(cc, haddr);

	if (result == SCAN_SUCCEED)
		result = scan_ptes(cc, haddr);
	if (result == SCAN_SUCCEED) {
		result = collapse_huge_page(cc, haddr);
		*mmap_locked = false;
	}
	return result;
}

/* ===================== MADV_COLLAPSE ===================== */

/* madvise_collapse_errno(): what MADV_COLLAPSE says of its last failure. */
static int madvise_collapse_errno(int result)
{
	switch (result) {
	case SCAN_ALLOC_HUGE_PAGE_FAIL:
		return -MEMLAB_ENOMEM;
	case SCAN_CGROUP_CHARGE_FAIL:
	case SCAN_EXCEED_NONE_PTE:
		return -MEMLAB_EBUSY;
	case SCAN_PAGE_COUNT: case SCAN_PAGE_LOCK: case SCAN_PAGE_LRU: case SCAN_DEL_PAGE_LRU:
		return -MEMLAB_EAGAIN;
	default:
		return -MEMLAB_EINVAL;
	}
}

/* The results after which MADV_COLLAPSE goes on to the next huge page. */
static bool collapse_goes_on(int result)
{
	switch (result) {
	case SCAN_PMD_NULL: case SCAN_PTE_NON_PRESENT: case SCAN_PTE_UFFD_WP:
	case SCAN_LACK_REFERENCED_PAGE: case SCAN_PAGE_NULL: case SCAN_PAGE_COUNT:
	case SCAN_PAGE_LOCK: case SCAN_PAGE_COMPOUND: case SCAN_PAGE_LRU:
	case SCAN_DEL_PAGE_LRU:
		return true;
	default:
		return false;
	}
}

/*
** madvise_collapse(): every whole huge page of [start, end) in vma, which
** the caller holds the mmap_lock of for reading (as it does on return).
** 0 when each is a huge page now (collapsed, or mapped so already);
** else the errno of the last failure: ENOMEM (no huge page to be had),
** EBUSY (the memcg's limit), EAGAIN (a page held, or read from swap:
** try again), EINVAL (the rest, and a VMA that cannot have huge pages).
*/
int madvise_collapse(memlab_task *t, struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	memlab_machine *m = t->m;
	struct collapse_control cc = { .t = t, .is_khugepaged = false };
	uint64_t hsize = hpage_size(m), hstart, hend, addr, thps = 0;
	int last_fail = SCAN_FAIL, result;
	bool mmap_locked = true;

	if (!thp_vma_allowable(m, vma, vma->vm_flags, TVA_FORCED_COLLAPSE))
		return -MEMLAB_EINVAL;
	lru_add_drain_all(m);
	hstart = (start + hsize - 1) & ~(hsize - 1);
	hend = end & ~(hsize - 1);
	for (addr = hstart; addr < hend; addr += hsize) {
		if (!mmap_locked) {
			mmap_read_lock(t->mm);
			mmap_locked = true;
			result = hugepage_vma_revalidate(&cc, addr, false, &vma);
			if (result != SCAN_SUCCEED) {
				last_fail = result;
				break;
			}
			if ((vma->vm_end & ~(hsize - 1)) < hend)
				hend = vma->vm_end & ~(hsize - 1);
		}
		result = hpage_collapse_scan_pmd(&cc, addr, &mmap_locked);
		if (result == SCAN_SUCCEED || result == SCAN_PMD_MAPPED) {
			thps++;
			continue;
		}
		last_fail = result;
		if (!collapse_goes_on(result))
			break;
	}
	if (!mmap_locked)
		mmap_read_lock(t->mm);
	return thps == (hend - hstart) >> (m->page_shift + hpage_pmd_order(m))
		       ? 0 : madvise_collapse_errno(last_fail);
}

/* ===================== the khugepaged thread ===================== */

/* The slot after the cursor, or NULL at the list's end (a full scan done). */
static void next_slot(memlab_machine *m)
{
	struct khugepaged_state *k = &m->khugepaged;
	struct khugepaged_mm_slot *slot = k->cursor;

	k->cursor = slot->next;
	k->address = 0;
	if (!k->cursor)
		k->full_scans++;
	if (!slot->mm)			/* collect_mm_slot() */
		slot_unlink(m, slot);
}

/*
** khugepaged_scan_mm_slot(): the cursor's mm, from its address on, VMA
** by VMA and huge page by huge page, until pages of progress are made
** or a collapse was tried; an mm scanned to its end (or gone) hands the
** cursor to the next.  The progress: one per VMA passed over, the huge
** page's pages per huge page looked at.
*/
static unsigned khugepaged_scan_mm_slot(memlab_machine *m, unsigned pages, int *result)
{
	struct khugepaged_state *k = &m->khugepaged;
	uint64_t hsize = hpage_size(m);
	struct vm_area_struct *vma = NULL;
	struct collapse_control cc = { .is_khugepaged = true };
	struct mm_struct *mm;
	unsigned progress = 0;
	bool mmap_locked = true;

	*result = SCAN_FAIL;
	if (!k->cursor) {
		k->cursor = k->head;
		k->address = 0;
	}
	mm = k->cursor->mm;
	progress++;
	if (!mm)
		goto advance;
	cc.t = mm->owner;
	mmap_read_lock(mm);		/* mmap_read_trylock(): the same events */
	for (vma = vma_tree_find(&mm->mm_mt, k->address); vma; vma = vma->vm_next) {
		uint64_t hstart = (vma->vm_start + hsize - 1) & ~(hsize - 1);
		uint64_t hend = vma->vm_end & ~(hsize - 1);

		if (!thp_vma_allowable(m, vma, vma->vm_flags, TVA_KHUGEPAGED) || k->address > hend) {
			progress++;
			continue;
		}
		if (k->address < hstart)
			k->address = hstart;
		while (k->address < hend) {
			*result = hpage_collapse_scan_pmd(&cc, k->address, &mmap_locked);
			if (*result == SCAN_SUCCEED)
				k->pages_collapsed++;
			k->address += hsize;
			progress += hpage_nr(m);
			if (!mmap_locked)
				return progress;	/* the collapse let the lock go */
			if (progress >= pages)
				goto out;
		}
	}
out:
	mmap_read_unlock(mm);
advance:
	if (!vma)
		next_slot(m);
	return progress;
}

/*
** khugepaged_do_scan(): one pass -- pages_to_scan of progress over the
** list, from where the last pass stopped, at most once past its end; a
** failed allocation ends it the second time.  The huge pages collapsed.
*/
static unsigned khugepaged_do_scan(memlab_machine *m)
{
	struct khugepaged_state *k = &m->khugepaged;
	unsigned progress = 0, pass_through_head = 0, pages = k->pages_to_scan;
	unsigned collapsed = k->pages_collapsed;
	bool wait = true;
	int result = SCAN_SUCCEED;

	if (!k->head || !hugepage_pmd_enabled(m))
		return 0;		/* !khugepaged_has_work(): the thread sleeps */
	lru_add_drain_all(m);
	while (progress < pages) {
		if (!k->cursor)
			pass_through_head++;
		if (!k->head || !hugepage_pmd_enabled(m) || pass_through_head >= 2)
			break;
		progress += khugepaged_scan_mm_slot(m, pages - progress, &result);
		if (result == SCAN_ALLOC_HUGE_PAGE_FAIL) {
			if (!wait)
				break;
			wait = false;	/* khugepaged_alloc_sleep(): no clock here */
		}
	}
	return k->pages_collapsed - collapsed;
}

int memlab_khugepaged(memlab_machine *m, uint64_t *collapsed)
{
	unsigned n;

	if (m->dead)
		return -MEMLAB_EIO;
	m->khugepaged.running = true;
	n = khugepaged_do_scan(m);
	m->khugepaged.running = false;
	call_leave(m, NULL);	/* OOM victims exit, kswapd and kcompactd run */
	if (collapsed)
		*collapsed = n;
	return 0;
}

/* ===================== the settings ===================== */

/* A new value for a setting: -1 leaves it; 0, or -MEMLAB_EINVAL out of [lo, hi]. */
static int setting(int64_t v, int64_t lo, int64_t hi)
{
	return v == -1 || (v >= lo && v <= hi) ? 0 : -MEMLAB_EINVAL;
}

int memlab_khugepaged_sysfs(memlab_machine *m, const struct memlab_khugepaged_settings *set,
			    struct memlab_khugepaged_settings *get)
{
	struct khugepaged_state *k = &m->khugepaged;
	int64_t max_ptes = hpage_nr(m) - 1, uint_max = UINT32_MAX;

	if (set) {
		if (setting(set->pages_to_scan, 1, uint_max) || setting(set->max_ptes_none, 0, max_ptes) ||
		    setting(set->max_ptes_swap, 0, max_ptes) ||
		    setting(set->max_ptes_shared, 0, max_ptes) ||
		    setting(set->scan_sleep_millisecs, 0, uint_max) ||
		    setting(set->alloc_sleep_millisecs, 0, uint_max) || setting(set->defrag, 0, 1))
			return -MEMLAB_EINVAL;
#define SET(field) if (set->field != -1) k->field = (unsigned)set->field
		SET(pages_to_scan);
		SET(max_ptes_none);
		SET(max_ptes_swap);
		SET(max_ptes_shared);
		SET(scan_sleep_millisecs);
		SET(alloc_sleep_millisecs);
#undef SET
		if (set->defrag != -1)
			k->defrag = set->defrag;
	}
	if (get) {
		get->pages_to_scan = k->pages_to_scan;
		get->max_ptes_none = k->max_ptes_none;
		get->max_ptes_swap = k->max_ptes_swap;
		get->max_ptes_shared = k->max_ptes_shared;
		get->scan_sleep_millisecs = k->scan_sleep_millisecs;
		get->alloc_sleep_millisecs = k->alloc_sleep_millisecs;
		get->defrag = k->defrag;
		get->pages_collapsed = k->pages_collapsed;
		get->full_scans = k->full_scans;
	}
	return 0;
}
