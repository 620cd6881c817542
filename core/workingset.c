/*
** workingset.c -- refault detection (mm/workingset.c): telling a page
** that comes back soon after reclaim took it -- one that would have stayed
** had the active list given it room -- from a page read once.
**
** The node keeps a clock, nonresident_age, ticking at every eviction and
** activation.  Reclaim leaves the time of eviction in the page's place (a
** shadow entry: in the file's page cache, or in the swap slot for an
** anonymous page), with whether the page was in the workingset.  When the
** page is read again, the ticks since its eviction (the refault distance)
** are the pages that were evicted or activated meanwhile: had the active
** list been that much larger, it would have stayed.  If the distance is
** within the memory the workingset competes for -- the active file list,
** the inactive file list too for anon, the anon lists with free swap -- the
** page starts active (workingset_activate_*), and a page that was in the
** workingset before counts as restored (workingset_restore_*, and its
** refault is a cost of the list type it came from).
**
** Simplified: one node, no memcg; the xarray nodes holding shadows are not
** counted (workingset_nodes) nor shrunk (workingset_nodereclaim).
*/
#include "mm.h"

#define SHADOW_VALID		1ull
#define SHADOW_WORKINGSET	2ull

/* workingset_age_nonresident(): evictions and activations move the clock. */
void workingset_age_nonresident(memlab_machine *m, uint64_t nr)
{
	m->lruvec.nonresident_age += nr;
}

/* workingset_eviction(): the shadow a reclaimed page leaves behind (never 0). */
uint64_t workingset_eviction(memlab_machine *m, const struct page *page)
{
	uint64_t eviction = m->lruvec.nonresident_age;

	workingset_age_nonresident(m, folio_nr_pages(page));
	return eviction << 2 | (page->flags & PG_workingset ? SHADOW_WORKINGSET : 0) | SHADOW_VALID;
}

/*
** workingset_refault(): page is shadow's page read again, not yet on a
** list; it goes there active when its refault distance fits the
** workingset.
*/
void workingset_refault(memlab_machine *m, struct page *page, uint64_t shadow)
{
	const uint64_t *n = m->lruvec.nr_pages;
	bool file = folio_is_file_lru(page);
	uint64_t nr = folio_nr_pages(page), distance = m->lruvec.nonresident_age - (shadow >> 2);
	uint64_t size = n[LRU_ACTIVE_FILE];

	m->vmstat[WORKINGSET_REFAULT_ANON + file] += nr;
	if (!file)
		size += n[LRU_INACTIVE_FILE];
	if (swap_available(m))
		size += n[LRU_ACTIVE_ANON] + (file ? n[LRU_INACTIVE_ANON] : 0);
	if (distance > size)
		return;
	page->flags |= PG_active;
	workingset_age_nonresident(m, nr);
	m->vmstat[WORKINGSET_ACTIVATE_ANON + file] += nr;
	if (shadow & SHADOW_WORKINGSET) {
		page->flags |= PG_workingset;
		lru_note_cost(m, file, nr, 0);		/* lru_note_cost_refault() */
		m->vmstat[WORKINGSET_RESTORE_ANON + file] += nr;
	}
}
