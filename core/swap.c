/*
** swap.c -- the LRU lists (mm/swap.c, include/linux/mm_inline.h): the
** node's five lists of pages that reclaim (vmscan.c) ages and scans, and
** the moves between them that use of a page makes.
**
** memlab has one node; each memory cgroup has its lruvec there, holding
** the pages charged to it (folio_lruvec, memcontrol.c).  A folio on a
** list has PG_lru; the list follows from its flags as folio_lru_list()
** says: unevictable, else anon (PG_swapbacked) or file, active or not.
** The lists are linked through page->lru_next/lru_prev (pfns) as the
** free lists are: a page is on one or the other, never both.  New pages
** go to the head; reclaim takes from the tail (classic two-list LRU;
** memlab's reference kernel has no MGLRU).
*/
#include <string.h>

#include "mm.h"

bool folio_is_file_lru(const struct page *page)
{
	return !(page->flags & PG_swapbacked);
}

enum lru_list folio_lru_list(const struct page *page)
{
	enum lru_list lru;

	if (page->flags & PG_unevictable)
		return LRU_UNEVICTABLE;
	lru = folio_is_file_lru(page) ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON;
	if (page->flags & PG_active)
		lru += LRU_ACTIVE;
	return lru;
}

static uint64_t page_pfn(const memlab_machine *m, const struct page *page)
{
	return (uint64_t)(page - m->mem_map);
}

/* update_lru_size(): the lruvec's, the zone's, the node's and the memcg's counters. */
static void update_lru_size(memlab_machine *m, struct lruvec *lruvec, enum lru_list lru,
			    const struct page *page, int64_t d)
{
	int64_t n = d * (int64_t)folio_nr_pages(page);

	lruvec->nr_pages[lru] += (uint64_t)n;
	page_zone(m, page_pfn(m, page))->nr_lru[lru] += (uint64_t)n;
	m->vmstat[NR_INACTIVE_ANON + lru] += (uint64_t)n;
	m->vmstat[NR_ZONE_INACTIVE_ANON + lru] += (uint64_t)n;
	mod_memcg_state(lruvec_memcg(lruvec), NR_INACTIVE_ANON + lru, n);
	if (lru == LRU_UNEVICTABLE)
		m->vmstat[NR_MLOCK] += (uint64_t)n;	/* memlab's unevictable pages are the mlocked ones */
}

/* lruvec_add_folio() (head) or lruvec_add_folio_tail(): pfn onto its list. */
static void lruvec_add(memlab_machine *m, uint64_t pfn, bool tail)
{
	struct page *page = pfn_to_page(m, pfn);
	struct lruvec *lruvec = folio_lruvec(m, page);
	enum lru_list lru = folio_lru_list(page);

	pfn_list_add(m, &lruvec->lists[lru], pfn, tail);
	update_lru_size(m, lruvec, lru, page, 1);
}

/* lruvec_del_folio(): pfn off the list its flags name (a corrupt list is reported). */
static void lruvec_del(memlab_machine *m, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);
	struct lruvec *lruvec = folio_lruvec(m, page);
	enum lru_list lru = folio_lru_list(page);

	pfn_list_del(m, &lruvec->lists[lru], pfn);
	update_lru_size(m, lruvec, lru, page, -1);
}

/*
** folio_add_lru() / lru_cache_add_inactive_or_unevictable(): a new page
** goes to the head of its inactive list, or the unevictable list for a
** VM_LOCKED mapping (mlock_new_folio: unevictable_pgs_mlocked and
** _culled, host-checked).  PG_active set beforehand (a refault) puts it
** on the active list.
*/
void lru_add(memlab_machine *m, struct page *page, bool unevictable)
{
	page->flags |= PG_lru;
	if (unevictable && !(page->flags & PG_unevictable)) {	/* migration's copy was */
		m->vmstat[UNEVICTABLE_PGS_MLOCKED] += folio_nr_pages(page);
		m->vmstat[UNEVICTABLE_PGS_CULLED] += folio_nr_pages(page);
		page->mlock_count = 1;		/* mlock_new_folio(): its one mapping */
	}
	if (unevictable)
		page->flags = (page->flags | PG_unevictable) & ~PG_active;
	lruvec_add(m, page_pfn(m, page), false);
}

/* The page leaves the LRU (freed, or isolated by its caller); its flags stay. */
void lru_del(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru))
		return;
	lruvec_del(m, page_pfn(m, page));
	page->flags &= ~PG_lru;
}

/*
** folio_isolate_lru(): take the page off its list for reclaim or
** migration, counted in nr_isolated_{anon,file} until it is put back.
** false when it is not on a list.
*/
bool folio_isolate_lru(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru))
		return false;
	lru_del(m, page);
	m->vmstat[NR_ISOLATED_ANON + folio_is_file_lru(page)] += folio_nr_pages(page);
	return true;
}

/* folio_putback_lru(): an isolated page back to the head of the list its flags name. */
void folio_putback_lru(memlab_machine *m, struct page *page)
{
	m->vmstat[NR_ISOLATED_ANON + folio_is_file_lru(page)] -= folio_nr_pages(page);
	page->flags |= PG_lru;
	lruvec_add(m, page_pfn(m, page), false);
}

/*
** folio_activate(): an inactive evictable page on a list moves to the
** head of its active list (pgactivate).
*/
static void folio_activate(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || (page->flags & (PG_active | PG_unevictable)))
		return;
	lruvec_del(m, page_pfn(m, page));
	page->flags |= PG_active;
	lruvec_add(m, page_pfn(m, page), false);
	count_vm_events_page(m, page, PGACTIVATE, folio_nr_pages(page));
}

/*
** folio_mark_accessed(): a use the page tables do not see (read(2)).
** inactive,unreferenced -> inactive,referenced
** inactive,referenced   -> active,unreferenced
** active,unreferenced   -> active,referenced
*/
void folio_mark_accessed(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_referenced)) {
		page->flags |= PG_referenced;
	} else if (page->flags & PG_unevictable) {
		/* unevictable pages stay where they are */
	} else if (!(page->flags & PG_active)) {
		if (page->flags & PG_lru)
			folio_activate(m, page);
		else
			page->flags |= PG_active;
		page->flags &= ~PG_referenced;
		workingset_age_nonresident(folio_lruvec(m, page), folio_nr_pages(page));	/* workingset_activation() */
	}
}

/*
** folio_rotate_reclaimable(): a page written back for reclaim
** (PG_reclaim) goes to the tail of the inactive list, to be reclaimed
** next (pgrotated).
*/
void folio_rotate_reclaimable(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || (page->flags & (PG_dirty | PG_unevictable)))
		return;
	lruvec_del(m, page_pfn(m, page));
	page->flags &= ~PG_active;
	lruvec_add(m, page_pfn(m, page), true);
	m->vmstat[PGROTATED] += folio_nr_pages(page);
}

/*
** lru_lazyfree(): MADV_FREE makes an anonymous page clean, old and
** lazily freeable -- off the swap-backed anon lists to the head of the
** inactive file list (pglazyfree), where reclaim may drop it.
*/
void lru_lazyfree(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || !(page->flags & PG_swapbacked) ||
	    (page->flags & PG_unevictable))
		return;
	lruvec_del(m, page_pfn(m, page));
	page->flags &= ~(PG_active | PG_referenced | PG_swapbacked);
	lruvec_add(m, page_pfn(m, page), false);
	count_vm_events_page(m, page, PGLAZYFREE, folio_nr_pages(page));
}

/*
** mlock_folio(): a page mapped into locked memory (VM_LOCKED) becomes
** unevictable (unevictable_pgs_mlocked) and moves to the unevictable list
** (__mlock_folio: unevictable_pgs_culled, host-checked); one reclaim had
** isolated goes there when put back, culled then.
*/
void mlock_folio(memlab_machine *m, struct page *page)
{
	uint64_t nr = folio_nr_pages(page);

	if (page->flags & PG_unevictable) {
		page->mlock_count++;		/* one more VM_LOCKED mapping */
		return;
	}
	page->mlock_count = 1;
	m->vmstat[UNEVICTABLE_PGS_MLOCKED] += nr;
	if (!(page->flags & PG_lru)) {
		page->flags = (page->flags | PG_unevictable) & ~PG_active;
		m->vmstat[UNEVICTABLE_PGS_CULLED] += nr;
		return;
	}
	lruvec_del(m, page_pfn(m, page));
	page->flags = (page->flags | PG_unevictable) & ~PG_active;
	lruvec_add(m, page_pfn(m, page), false);
	m->vmstat[UNEVICTABLE_PGS_CULLED] += nr;
}

/*
** munlock_folio(): one VM_LOCKED mapping of a page of locked memory less
** (mlock_count); with the last, it goes back to its inactive list
** (unevictable_pgs_munlocked, _rescued).  A caller that knows no mapping
** is left zeroes the count first.
*/
void munlock_folio(memlab_machine *m, struct page *page)
{
	uint64_t nr = folio_nr_pages(page);

	if (!(page->flags & PG_unevictable))
		return;
	if (page->mlock_count && --page->mlock_count)
		return;
	m->vmstat[UNEVICTABLE_PGS_MUNLOCKED] += nr;
	if (!(page->flags & PG_lru)) {
		page->flags &= ~PG_unevictable;
		return;
	}
	lruvec_del(m, page_pfn(m, page));
	page->flags &= ~(PG_unevictable | PG_active);
	lruvec_add(m, page_pfn(m, page), false);
	m->vmstat[UNEVICTABLE_PGS_RESCUED] += nr;
}

/*
** folio_deactivate() (lru_deactivate): an active page goes to the head of
** its inactive list, unreferenced (pgdeactivate) -- MADV_COLD.
*/
void folio_deactivate(memlab_machine *m, struct page *page)
{
	uint64_t pfn = page_pfn(m, page);

	if (!(page->flags & PG_lru) || (page->flags & PG_unevictable) || !(page->flags & PG_active))
		return;
	lruvec_del(m, pfn);
	page->flags &= ~(PG_active | PG_referenced);
	lruvec_add(m, pfn, false);
	count_vm_events_page(m, page, PGDEACTIVATE, folio_nr_pages(page));
}

/*
** deactivate_file_folio() (lru_deactivate_file): a page invalidation could
** not drop goes inactive -- to the tail when clean (pgrotated), to the
** head with PG_reclaim when dirty; a mapped one stays.
*/
void deactivate_file_folio(memlab_machine *m, struct page *page)
{
	bool active = page->flags & PG_active;
	uint64_t pfn = page_pfn(m, page);

	if (!(page->flags & PG_lru) || (page->flags & PG_unevictable) || page->mapcount)
		return;
	lruvec_del(m, pfn);
	page->flags &= ~(PG_active | PG_referenced);
	if (page->flags & PG_dirty) {
		lruvec_add(m, pfn, false);
		page->flags |= PG_reclaim;
	} else {
		lruvec_add(m, pfn, true);
		m->vmstat[PGROTATED] += folio_nr_pages(page);
	}
	if (active)
		count_vm_events_page(m, page, PGDEACTIVATE, folio_nr_pages(page));
}

static const char *const lru_names[NR_LRU_LISTS] = {
	"inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"
};

const char *lru_list_name(enum lru_list lru)
{
	return lru_names[lru];
}

/* The list named name, or -1. */
int lru_list_index(const char *name)
{
	for (int lru = 0; lru < NR_LRU_LISTS; lru++)
		if (name && !strcmp(name, lru_names[lru]))
			return lru;
	return -1;
}

/*
** From the tail, memcg after memcg (pre-order from the root: one list
** when no cgroup is in use); a corrupted list's walk stops after as many
** pages as RAM has.
*/
int64_t memlab_lru(memlab_machine *m, const char *name, uint64_t *out, size_t n)
{
	int lru = lru_list_index(name);
	int64_t i = 0;

	if (lru < 0)
		return -MEMLAB_EINVAL;
	for (struct mem_cgroup *memcg = mem_cgroup_iter(m, NULL, NULL); memcg;
	     memcg = mem_cgroup_iter(m, NULL, memcg))
		for (uint32_t p = memcg->lruvec.lists[lru].tail;
		     p < m->nr_frames && (uint64_t)i < m->nr_frames;
		     p = pfn_to_page(m, p)->lru_prev, i++)
			if (out && (size_t)i < n)
				out[i] = p;
	return i;
}

/* ===================== checks ===================== */

/*
** Each list doubly linked from head to tail, its pages on the LRU and of
** its kind, its size the counters'; every PG_lru page on a list (the
** lists together hold as many as the frames say).
*/
/* One lruvec's lists; returns the pages on them. */
static uint64_t lruvec_check(memlab_machine *m, struct ml_check *c, struct mem_cgroup *memcg,
			     uint64_t *per_list)
{
	uint64_t on_lists = 0;

	for (int lru = 0; lru < NR_LRU_LISTS; lru++) {
		const struct free_list *l = &memcg->lruvec.lists[lru];
		uint64_t nr = 0, steps = 0, prev = PFN_NONE;

		for (uint32_t p = l->head; p != PFN_NONE; p = pfn_to_page(m, p)->lru_next) {
			const struct page *page;

			if (p >= m->nr_frames || ++steps > m->nr_frames) {
				ml_violation(c, "lru: list %s is corrupt", lru_names[lru]);
				break;
			}
			page = pfn_to_page(m, p);
			if (page->lru_prev != prev)
				ml_violation(c, "lru: pfn %#x on %s: broken back link", p, lru_names[lru]);
			if (!(page->flags & PG_lru) || (page->flags & PG_buddy) ||
			    !(page->flags & PG_head_alloc) || page->_refcount <= 0)
				ml_violation(c, "lru: pfn %#x on %s is not an LRU page (flags %#x)",
					     p, lru_names[lru], page->flags);
			else if ((int)folio_lru_list(page) != lru)
				ml_violation(c, "lru: pfn %#x on %s belongs on %s", p, lru_names[lru],
					     lru_names[folio_lru_list(page)]);
			else if (lru == LRU_UNEVICTABLE && !page->mlock_count)
				/* not "a locked mapping holds it": Linux leaves pages
				 * mlocked that mremap(MREMAP_DONTUNMAP) unlocks */
				ml_violation(c, "lru: pfn %#x is unevictable with no mlock_count", p);
			else if (folio_lruvec(m, page) != &memcg->lruvec)
				ml_violation(c, "lru: pfn %#x is charged to memcg id %u, on id %u's lists",
					     p, page->memcg_id, memcg->id);
			nr += folio_nr_pages(page);
			prev = p;
		}
		if (prev != l->tail)
			ml_violation(c, "lru: list %s's tail is pfn %#x, its last page %#llx",
				     lru_names[lru], l->tail, (unsigned long long)prev);
		if (nr != memcg->lruvec.nr_pages[lru])
			ml_violation(c, "lru: memcg id %u's list %s holds %llu pages, counted %llu",
				     memcg->id, lru_names[lru], (unsigned long long)nr,
				     (unsigned long long)memcg->lruvec.nr_pages[lru]);
		per_list[lru] += nr;
		on_lists += nr;
	}
	return on_lists;
}

int lru_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };
	uint64_t on_lists = 0, flagged = 0, per_list[NR_LRU_LISTS] = { 0 };

	for (struct mem_cgroup *memcg = mem_cgroup_iter(m, NULL, NULL); memcg;
	     memcg = mem_cgroup_iter(m, NULL, memcg))
		on_lists += lruvec_check(m, &c, memcg, per_list);
	for (int lru = 0; lru < NR_LRU_LISTS; lru++)
		if (per_list[lru] != m->vmstat[NR_INACTIVE_ANON + lru])
			ml_violation(&c, "lru: the %s lists hold %llu pages, vmstat %llu",
				     lru_names[lru], (unsigned long long)per_list[lru],
				     (unsigned long long)m->vmstat[NR_INACTIVE_ANON + lru]);
	for (uint64_t pfn = 0; pfn < m->nr_frames; pfn++) {
		const struct page *page = pfn_to_page(m, pfn);

		if ((page->flags & PG_lru) && !(page->flags & PG_buddy))
			flagged += folio_nr_pages(page);
	}
	if (flagged != on_lists)
		ml_violation(&c, "lru: %llu pages have PG_lru, the lists hold %llu",
			     (unsigned long long)flagged, (unsigned long long)on_lists);
	return c.count;
}
