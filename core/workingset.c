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
** Each memcg's lruvec keeps its clock; a shadow names the memcg whose
** clock it was taken on.  Simplified: one node; the xarray nodes holding shadows are not
** counted (workingset_nodes) nor shrunk (workingset_nodereclaim).
*/
#include "mm.h"

#define SHADOW_VALID		1ull
#define SHADOW_WORKINGSET	2ull
#define SHADOW_MEMCG_SHIFT	16	/* MEM_CGROUP_ID_SHIFT */

/*
** workingset_age_nonresident(): evictions and activations move the clock
** of the lruvec and of its memcg's ancestors' lruvecs.
*/
void workingset_age_nonresident(struct lruvec *lruvec, uint64_t nr)
{
	for (struct mem_cgroup *memcg = lruvec_memcg(lruvec); memcg; memcg = memcg->parent)
		memcg->lruvec.nonresident_age += nr;
}

/*
** workingset_eviction(): the shadow a reclaimed page leaves behind
** (never 0): the clock of the reclaim's target (the cgroup at its limit,
** or the root for the node's reclaim), the target's id, whether the page
** was in the workingset.  The target's clock ticks.
*/
uint64_t workingset_eviction(memlab_machine *m, const struct page *page)
{
	struct mem_cgroup *target = m->reclaim_target ? m->reclaim_target : m->root_mem_cgroup;
	struct lruvec *lruvec = &target->lruvec;
	uint64_t eviction = lruvec->nonresident_age;

	workingset_age_nonresident(lruvec, folio_nr_pages(page));
	eviction = eviction << SHADOW_MEMCG_SHIFT | lruvec_memcg(lruvec)->id;
	return eviction << 2 | (page->flags & PG_workingset ? SHADOW_WORKINGSET : 0) | SHADOW_VALID;
}

/* lruvec_page_state() of the eviction lruvec: its memcg's, descendants included. */
static uint64_t lru_pages(const struct mem_cgroup *memcg, enum lru_list lru)
{
	int64_t x = memcg->stat[NR_INACTIVE_ANON + lru];

	return x > 0 ? (uint64_t)x : 0;
}

/*
** workingset_test_recent(): the refault distance, on the clock of the
** memcg the page was evicted from, fits the workingset it competes for
** there.  False when that memcg is gone.
*/
static bool workingset_test_recent(memlab_machine *m, uint64_t shadow, bool file)
{
	struct mem_cgroup *memcg = mem_cgroup_from_id(m, (shadow >> 2) & MEM_CGROUP_ID_MAX);
	uint64_t eviction = shadow >> (2 + SHADOW_MEMCG_SHIFT), distance, size;

	if (!memcg)
		return false;
	distance = memcg->lruvec.nonresident_age - eviction;
	size = lru_pages(memcg, LRU_ACTIVE_FILE);
	if (!file)
		size += lru_pages(memcg, LRU_INACTIVE_FILE);
	if (mem_cgroup_get_nr_swap_pages(m, memcg) > 0)
		size += lru_pages(memcg, LRU_ACTIVE_ANON) +
			(file ? lru_pages(memcg, LRU_INACTIVE_ANON) : 0);
	return distance <= size;
}

/*
** workingset_refault(): page is shadow's page read again, charged, not
** yet on a list; it goes there active when its refault distance fits
** the workingset.  The counts go to the memcg it is charged to now.
*/
void workingset_refault(memlab_machine *m, struct page *page, uint64_t shadow)
{
	bool file = folio_is_file_lru(page);
	uint64_t nr = folio_nr_pages(page);
	struct lruvec *lruvec = folio_lruvec(m, page);

	mod_lruvec_page_state(m, page, WORKINGSET_REFAULT_ANON + file, (int64_t)nr);
	if (!workingset_test_recent(m, shadow, file))
		return;
	page->flags |= PG_active;
	workingset_age_nonresident(lruvec, nr);
	mod_lruvec_page_state(m, page, WORKINGSET_ACTIVATE_ANON + file, (int64_t)nr);
	if (shadow & SHADOW_WORKINGSET) {
		page->flags |= PG_workingset;
		lru_note_cost(lruvec, file, nr, 0);	/* lru_note_cost_refault() */
		mod_lruvec_page_state(m, page, WORKINGSET_RESTORE_ANON + file, (int64_t)nr);
	}
}
