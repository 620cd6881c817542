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
**
** New pages and the moves between lists wait in per-CPU folio batches
** (cpu_fbatches); mlock and munlock in a per-CPU batch of their own
** (mm/mlock.c's mlock_fbatch, kept here beside the lists it moves pages
** between): PG_mlocked (NR_MLOCK) is set at once, PG_unevictable -- the
** unevictable list -- when the batch drains.
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

/* update_lru_size(): the lruvec's, the zone's, the node's and the memcg's counters. */
static void update_lru_size(memlab_machine *m, struct lruvec *lruvec, enum lru_list lru,
			    const struct page *page, int64_t d)
{
	int64_t n = d * (int64_t)folio_nr_pages(page);

	lruvec->nr_pages[lru] += (uint64_t)n;
	page_zone(m, page_to_pfn(m, page))->nr_lru[lru] += (uint64_t)n;
	m->vmstat[NR_INACTIVE_ANON + lru] += (uint64_t)n;
	m->vmstat[NR_ZONE_INACTIVE_ANON + lru] += (uint64_t)n;
	mod_memcg_state(lruvec_memcg(lruvec), NR_INACTIVE_ANON + lru, n);
}

/*
** NR_MLOCK (Mlocked) counts the PG_mlocked pages wherever they are: on
** the unevictable list, waiting in a batch, on an evictable list until
** the mlock batch drains, or isolated.  d: +1 when a page takes the flag,
** -1 when it loses it.
*/
static void mod_mlock(memlab_machine *m, const struct page *page, int64_t d)
{
	int64_t n = d * (int64_t)folio_nr_pages(page);

	page_zone(m, page_to_pfn(m, page))->nr_mlock += (uint64_t)n;
	m->vmstat[NR_MLOCK] += (uint64_t)n;
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
** folio_evictable(): a page mapped into locked memory is not (memlab has
** no unevictable mapping: SHM_LOCK, ramfs).
*/
bool folio_evictable(const struct page *page)
{
	return !(page->flags & PG_mlocked);
}

/* lruvec_add_folio(): the page onto the head of the list its flags name, as they are. */
void lruvec_add_folio(memlab_machine *m, struct page *page)
{
	page->flags |= PG_lru;
	lruvec_add(m, page_to_pfn(m, page), false);
}

/*
** lru_add_split_folio()'s list_add_tail(): the page onto the list its
** flags name just before next, a page of that list (PFN_NONE: at its
** tail), so that a split huge page's pages keep its place and age.
*/
void lruvec_add_folio_before(memlab_machine *m, struct page *page, uint32_t next)
{
	struct lruvec *lruvec = folio_lruvec(m, page);
	enum lru_list lru = folio_lru_list(page);

	page->flags |= PG_lru;
	pfn_list_add_before(m, &lruvec->lists[lru], page_to_pfn(m, page), next);
	update_lru_size(m, lruvec, lru, page, 1);
}

/*
** lru_add() (mm/swap.c): a page joins the LRU -- its inactive list, or
** the active one if PG_active was set meanwhile (a refault, or
** folio_mark_accessed in the lru_add batch) -- unless it is mlocked:
** then the unevictable list (unevictable_pgs_culled if it was not there
** before) with an mlock_count of 0, an undercount reclaim puts right.  A
** page that was unevictable and is no longer mlocked is rescued.
*/
void lru_add(memlab_machine *m, struct page *page)
{
	bool was_unevictable = page->flags & PG_unevictable;
	uint64_t nr = folio_nr_pages(page);

	page->flags &= ~PG_unevictable;
	if (folio_evictable(page)) {
		if (was_unevictable)
			m->vmstat[UNEVICTABLE_PGS_RESCUED] += nr;
	} else {
		page->flags = (page->flags & ~PG_active) | PG_unevictable;
		page->mlock_count = 0;
		if (!was_unevictable)
			m->vmstat[UNEVICTABLE_PGS_CULLED] += nr;
	}
	lruvec_add_folio(m, page);
}

/* The page leaves the LRU (freed, or isolated by its caller); its flags stay. */
void lru_del(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru))
		return;
	lruvec_del(m, page_to_pfn(m, page));
	page->flags &= ~PG_lru;
}

/*
** page_cache_release(): a page whose last reference went leaves its list
** (__folio_clear_lru_flags), and one still mlocked its flag
** (unevictable_pgs_cleared).
*/
void page_cache_release(memlab_machine *m, struct page *page)
{
	lru_del(m, page);
	page->flags &= ~(PG_unevictable | PG_active);
	if (page->flags & PG_mlocked) {
		m->vmstat[UNEVICTABLE_PGS_CLEARED] += folio_nr_pages(page);
		mod_mlock(m, page, -1);
		page->flags &= ~PG_mlocked;
	}
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

/*
** folio_putback_lru(): an isolated page waits in this CPU's lru_add batch
** (folio_add_lru), to join the list lru_add() picks -- mlocked or not.
*/
void folio_putback_lru(memlab_machine *m, struct page *page)
{
	m->vmstat[NR_ISOLATED_ANON + folio_is_file_lru(page)] -= folio_nr_pages(page);
	folio_add_lru(m, page);
}

/* ===================== moves between the lists ===================== */

/*
** The moves a folio batch applies when it drains, each to a page still
** on a list (folio_batch_move_lru skips the others): the list's lock is
** taken once per batch, and the page may have changed since it waited.
*/

/* lru_activate(): an inactive evictable page to the head of its active list (pgactivate). */
static void lru_activate(memlab_machine *m, struct page *page)
{
	if (page->flags & (PG_active | PG_unevictable))
		return;
	lruvec_del(m, page_to_pfn(m, page));
	page->flags |= PG_active;
	lruvec_add(m, page_to_pfn(m, page), false);
	count_vm_events_page(m, page, PGACTIVATE, folio_nr_pages(page));
}

/*
** lru_move_tail(): a page written back for reclaim goes to the tail of
** its inactive list, to be reclaimed next (pgrotated).
*/
static void lru_move_tail(memlab_machine *m, struct page *page)
{
	if (page->flags & PG_unevictable)
		return;
	lruvec_del(m, page_to_pfn(m, page));
	page->flags &= ~PG_active;
	lruvec_add(m, page_to_pfn(m, page), true);
	m->vmstat[PGROTATED] += folio_nr_pages(page);
}

/*
** lru_deactivate_file(): a page invalidation could not drop goes
** inactive -- to the tail when clean (pgrotated), to the head with
** PG_reclaim when dirty; a mapped one stays.
*/
static void lru_deactivate_file(memlab_machine *m, struct page *page)
{
	bool active = page->flags & PG_active;
	uint64_t pfn = page_to_pfn(m, page);

	if ((page->flags & PG_unevictable) || page->mapcount)
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

/* lru_deactivate(): an active page to the head of its inactive list, unreferenced (pgdeactivate). */
static void lru_deactivate(memlab_machine *m, struct page *page)
{
	uint64_t pfn = page_to_pfn(m, page);

	if ((page->flags & PG_unevictable) || !(page->flags & PG_active))
		return;
	lruvec_del(m, pfn);
	page->flags &= ~(PG_active | PG_referenced);
	lruvec_add(m, pfn, false);
	count_vm_events_page(m, page, PGDEACTIVATE, folio_nr_pages(page));
}

/*
** lru_lazyfree(): MADV_FREE makes an anonymous page clean, old and
** lazily freeable -- off the swap-backed anon lists to the head of the
** inactive file list (pglazyfree), where reclaim may drop it.
*/
static void lru_lazyfree(memlab_machine *m, struct page *page)
{
	if (!page_anon(page) || !(page->flags & PG_swapbacked) ||
	    (page->flags & (PG_swapcache | PG_unevictable)))
		return;
	lruvec_del(m, page_to_pfn(m, page));
	page->flags &= ~(PG_active | PG_referenced | PG_swapbacked);
	lruvec_add(m, page_to_pfn(m, page), false);
	count_vm_events_page(m, page, PGLAZYFREE, folio_nr_pages(page));
}

/* ===================== per-CPU folio batches ===================== */

/*
** struct cpu_fbatches (mm/swap.c): the moves above, and the adding of
** new pages, wait per CPU in batches of up to PAGEVEC_SIZE folios, each
** holding a reference (folio_get).  A page waiting to be added is on no
** list and has no PG_lru: reclaim does not see it, and its reference
** makes do_wp_page copy, migration fail, and the page outlive its last
** unmapping until the batch drains.  A batch drains when it fills,
** when a large folio joins it (folio_may_be_lru_cached() is false for
** one: it never waits), and where Linux calls lru_add_drain() -- on the
** CPU that calls it, in this order (lru_add_drain_cpu).
*/
enum fbatch_op {
	FB_LRU_ADD, FB_MOVE_TAIL, FB_DEACTIVATE_FILE, FB_DEACTIVATE, FB_LAZYFREE, FB_ACTIVATE,
	NR_FBATCH
};

struct folio_batch {
	uint32_t nr;
	uint32_t pfns[PAGEVEC_SIZE];
};

/* What an entry of the mlock batch asks (mm/mlock.c's LRU_FOLIO, NEW_FOLIO, neither). */
enum mlock_op { MLOCK_LRU, MLOCK_NEW, MLOCK_MUNLOCK };

/* struct mlock_fbatch (mm/mlock.c): one batch for the three, each entry tagged. */
struct mlock_fbatch {
	uint32_t nr;
	uint32_t pfns[PAGEVEC_SIZE];
	uint8_t ops[PAGEVEC_SIZE];
};

struct cpu_fbatches {
	struct folio_batch fbatch[NR_FBATCH];
	struct mlock_fbatch mlock;	/* mm/mlock.c's per-CPU mlock_fbatch */
};

typedef void (*move_fn_t)(memlab_machine *m, struct page *page);

/* lru_add(): a new page joins the list its flags name. */
static void lru_add_fn(memlab_machine *m, struct page *page)
{
	lru_add(m, page);
}

static const move_fn_t move_fns[NR_FBATCH] = {
	lru_add_fn, lru_move_tail, lru_deactivate_file, lru_deactivate, lru_lazyfree, lru_activate
};

int lru_cache_init(memlab_machine *m)
{
	m->cpu_fbatches = ml_alloc(m, MEMLAB_MAX_CPUS * sizeof(*m->cpu_fbatches));
	return m->cpu_fbatches ? 0 : -MEMLAB_ENOMEM;
}

void lru_cache_destroy(memlab_machine *m)
{
	ml_free(m, m->cpu_fbatches, MEMLAB_MAX_CPUS * sizeof(*m->cpu_fbatches));
	m->cpu_fbatches = NULL;
}

/*
** folio_batch_move_lru(): each page takes its move -- a page to add
** joins its list, the others move only if still on one -- then the
** batch's references go (folios_put: a page no one else holds is freed).
*/
static void folio_batch_move_lru(memlab_machine *m, struct folio_batch *fb, enum fbatch_op op)
{
	uint32_t pfns[PAGEVEC_SIZE], nr = fb->nr;

	memcpy(pfns, fb->pfns, nr * sizeof(*pfns));
	fb->nr = 0;
	for (uint32_t i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(m, pfns[i]);

		if (op == FB_LRU_ADD || (page->flags & PG_lru))
			move_fns[op](m, page);
	}
	for (uint32_t i = 0; i < nr; i++)
		put_page(m, pfns[i]);
}

/* folio_batch_add_and_move(): page waits in this CPU's batch for op, with a reference. */
static void folio_batch_add_and_move(memlab_machine *m, struct page *page, enum fbatch_op op)
{
	struct folio_batch *fb = &m->cpu_fbatches[smp_processor_id(m)].fbatch[op];

	page->_refcount++;
	fb->pfns[fb->nr++] = (uint32_t)page_to_pfn(m, page);
	if (fb->nr == PAGEVEC_SIZE || folio_nr_pages(page) > 1)
		folio_batch_move_lru(m, fb, op);
}

/* lru_add_drain_cpu(): every batch of cpu drains, in Linux's order. */
void lru_add_drain_cpu(memlab_machine *m, int cpu)
{
	for (int op = 0; op < NR_FBATCH; op++)
		if (m->cpu_fbatches[cpu].fbatch[op].nr)
			folio_batch_move_lru(m, &m->cpu_fbatches[cpu].fbatch[op], op);
}

/* lru_add_drain(): this CPU's batches, then its mlock batch (mlock_drain_local). */
void lru_add_drain(memlab_machine *m)
{
	lru_add_drain_cpu(m, smp_processor_id(m));
	mlock_drain_local(m);
}

/*
** lru_add_drain_per_cpu(): the work lru_add_drain_all() queues on cpu,
** run there at once by that CPU's kworker (no task of the machine):
** lru_add_drain() of that CPU, so the pages its batches free go to that
** CPU's pageset.
*/
static void lru_add_drain_per_cpu(memlab_machine *m, int cpu)
{
	memlab_task *current = m->current;
	int prev = m->work_cpu;

	m->work_cpu = cpu;
	m->current = NULL;
	lru_add_drain(m);
	m->current = current;
	m->work_cpu = prev;
}

/*
** lru_add_drain_all(): this CPU's batches first (6.18: "mm:
** lru_add_drain_all() do local lru_add_drain() first"), then every other
** CPU's, the mlock batch after the others as lru_add_drain() on that CPU
** does (cpu_needs_drain() counts need_mlock_drain()).
*/
void lru_add_drain_all(memlab_machine *m)
{
	int self = smp_processor_id(m);

	lru_add_drain(m);
	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++)
		if (cpu != self)
			lru_add_drain_per_cpu(m, cpu);
}

int memlab_lru_add_drain_all(memlab_machine *m)
{
	if (m->dead)
		return -MEMLAB_EIO;
	lru_add_drain_all(m);
	return 0;
}

/* The references the batches hold on pfn (m:check() counts them). */
int folio_batch_refs(const memlab_machine *m, uint64_t pfn)
{
	int refs = 0;

	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++) {
		const struct mlock_fbatch *mb = &m->cpu_fbatches[cpu].mlock;

		for (int op = 0; op < NR_FBATCH; op++) {
			const struct folio_batch *fb = &m->cpu_fbatches[cpu].fbatch[op];

			for (uint32_t i = 0; i < fb->nr; i++)
				refs += fb->pfns[i] == pfn;
		}
		for (uint32_t i = 0; i < mb->nr; i++)
			refs += mb->pfns[i] == pfn;
	}
	return refs;
}

/*
** folio_add_lru(): a new page waits in this CPU's lru_add batch, to join
** the list its flags name then -- the active one if folio_mark_accessed()
** found it there meanwhile.
*/
void folio_add_lru(memlab_machine *m, struct page *page)
{
	folio_batch_add_and_move(m, page, FB_LRU_ADD);
}

/*
** folio_add_lru_vma(): a new page of a VM_LOCKED mapping is mlocked and
** waits in the mlock batch (mlock_new_folio), any other in the lru_add
** batch.
*/
void folio_add_lru_vma(memlab_machine *m, struct page *page, const struct vm_area_struct *vma)
{
	if ((vma->vm_flags & (VM_LOCKED | VM_SPECIAL)) == VM_LOCKED)
		mlock_new_folio(m, page);
	else
		folio_add_lru(m, page);
}

/* folio_activate(): an inactive evictable page on a list waits to be activated. */
static void folio_activate(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || (page->flags & (PG_active | PG_unevictable)))
		return;
	folio_batch_add_and_move(m, page, FB_ACTIVATE);
}

/*
** __lru_cache_activate_folio(): a page not on a list is looked for in
** this CPU's lru_add batch only (from the newest); there it is marked
** active, to join the active list.  Elsewhere -- another CPU's batch,
** isolated -- nothing changes.
*/
static void lru_cache_activate_folio(memlab_machine *m, struct page *page)
{
	struct folio_batch *fb = &m->cpu_fbatches[smp_processor_id(m)].fbatch[FB_LRU_ADD];
	uint32_t pfn = (uint32_t)page_to_pfn(m, page);

	for (uint32_t i = fb->nr; i-- > 0;)
		if (fb->pfns[i] == pfn) {
			page->flags |= PG_active;
			return;
		}
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
			lru_cache_activate_folio(m, page);
		page->flags &= ~PG_referenced;
		workingset_age_nonresident(folio_lruvec(m, page), folio_nr_pages(page));	/* workingset_activation() */
	}
}

/*
** folio_rotate_reclaimable(): a page written back for reclaim
** (PG_reclaim) waits to go to the tail of the inactive list.
*/
void folio_rotate_reclaimable(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || (page->flags & (PG_dirty | PG_unevictable)))
		return;
	folio_batch_add_and_move(m, page, FB_MOVE_TAIL);
}

/* folio_mark_lazyfree(): a clean anonymous page MADV_FREE gave up waits for lru_lazyfree. */
void folio_mark_lazyfree(memlab_machine *m, struct page *page)
{
	if (!page_anon(page) || !(page->flags & PG_swapbacked) || !(page->flags & PG_lru) ||
	    (page->flags & (PG_swapcache | PG_unevictable)))
		return;
	folio_batch_add_and_move(m, page, FB_LAZYFREE);
}

/* ===================== the mlock batch (mm/mlock.c) ===================== */

/*
** Linux's PG_mlocked says a page is mapped into locked memory: it is set
** at once (NR_MLOCK, unevictable_pgs_mlocked) and cleared when the
** munlock is done; PG_unevictable says the page is on the unevictable
** list, where mlock_count counts its locked mappings (an undercount is
** possible; reclaim mlocks again what it finds mapped VM_LOCKED).  The
** moves between the lists wait in one per-CPU batch of up to
** PAGEVEC_SIZE entries, each holding a reference and tagged: mlock a page
** on the LRU (mlock_folio), add a new mlocked page (mlock_new_folio), or
** munlock (munlock_folio).  A munlocked page thus stays mlocked, and
** referenced -- a write to it copies -- until the batch drains: when it
** fills, for a large folio (at once), and in lru_add_drain() and
** lru_add_drain_all().
*/

/* __mlock_folio(): a page on a list to the unevictable one (culled), or one mapping more. */
static void __mlock_folio(memlab_machine *m, struct page *page)
{
	uint64_t nr = folio_nr_pages(page);

	if (!(page->flags & PG_lru))
		return;		/* nothing to do while it is off the LRU */
	if (folio_evictable(page)) {	/* munlocked meanwhile */
		if (page->flags & PG_unevictable) {
			lruvec_del(m, page_to_pfn(m, page));
			page->flags &= ~PG_unevictable;
			lruvec_add(m, page_to_pfn(m, page), false);
			m->vmstat[UNEVICTABLE_PGS_RESCUED] += nr;
		}
		return;
	}
	if (page->flags & PG_unevictable) {
		page->mlock_count++;
		return;
	}
	lruvec_del(m, page_to_pfn(m, page));
	page->flags = (page->flags & ~PG_active) | PG_unevictable;
	page->mlock_count = 1;
	lruvec_add(m, page_to_pfn(m, page), false);
	m->vmstat[UNEVICTABLE_PGS_CULLED] += nr;
}

/* __mlock_new_folio(): a new page joins the unevictable list (culled), or its own if munlocked. */
static void __mlock_new_folio(memlab_machine *m, struct page *page)
{
	if (!folio_evictable(page)) {
		page->flags |= PG_unevictable;
		page->mlock_count = 1;
		m->vmstat[UNEVICTABLE_PGS_CULLED] += folio_nr_pages(page);
	}
	lruvec_add_folio(m, page);
}

/*
** __munlock_folio(): one locked mapping less.  A page on the unevictable
** list stays while its mlock_count does not reach 0; else it loses
** PG_mlocked (unevictable_pgs_munlocked, or _stranded when it is off the
** LRU but still unevictable: lru_add() rescues it later) and a page on
** the unevictable list goes back to its inactive list (rescued).
*/
static void __munlock_folio(memlab_machine *m, struct page *page)
{
	uint64_t nr = folio_nr_pages(page);
	bool isolated = page->flags & PG_lru;	/* folio_test_clear_lru(): taken for the move */

	if (isolated && (page->flags & PG_unevictable)) {
		if (page->mlock_count)
			page->mlock_count--;
		if (page->mlock_count)
			return;
	}
	if (page->flags & PG_mlocked) {
		page->flags &= ~PG_mlocked;
		mod_mlock(m, page, -1);
		if (isolated || !(page->flags & PG_unevictable))
			m->vmstat[UNEVICTABLE_PGS_MUNLOCKED] += nr;
		else
			m->vmstat[UNEVICTABLE_PGS_STRANDED] += nr;
	}
	if (isolated && (page->flags & PG_unevictable) && folio_evictable(page)) {
		lruvec_del(m, page_to_pfn(m, page));
		page->flags &= ~PG_unevictable;
		lruvec_add(m, page_to_pfn(m, page), false);
		m->vmstat[UNEVICTABLE_PGS_RESCUED] += nr;
	}
}

/* mlock_folio_batch(): each entry takes its move, in order; then the references go. */
static void mlock_folio_batch(memlab_machine *m, struct mlock_fbatch *fb)
{
	uint32_t pfns[PAGEVEC_SIZE], nr = fb->nr;
	uint8_t ops[PAGEVEC_SIZE];

	memcpy(pfns, fb->pfns, nr * sizeof(*pfns));
	memcpy(ops, fb->ops, nr * sizeof(*ops));
	fb->nr = 0;
	for (uint32_t i = 0; i < nr; i++) {
		struct page *page = pfn_to_page(m, pfns[i]);

		if (ops[i] == MLOCK_LRU)
			__mlock_folio(m, page);
		else if (ops[i] == MLOCK_NEW)
			__mlock_new_folio(m, page);
		else
			__munlock_folio(m, page);
	}
	for (uint32_t i = 0; i < nr; i++)	/* release_pages() */
		put_page(m, pfns[i]);
}

/* mlock_drain_local(): this CPU's mlock batch. */
void mlock_drain_local(memlab_machine *m)
{
	struct mlock_fbatch *fb = &m->cpu_fbatches[smp_processor_id(m)].mlock;

	if (fb->nr)
		mlock_folio_batch(m, fb);
}

/* The page waits in this CPU's mlock batch for op, with a reference. */
static void mlock_fbatch_add(memlab_machine *m, struct page *page, enum mlock_op op)
{
	struct mlock_fbatch *fb = &m->cpu_fbatches[smp_processor_id(m)].mlock;

	page->_refcount++;	/* folio_get() */
	fb->ops[fb->nr] = (uint8_t)op;
	fb->pfns[fb->nr++] = (uint32_t)page_to_pfn(m, page);
	if (fb->nr == PAGEVEC_SIZE || folio_nr_pages(page) > 1)
		mlock_folio_batch(m, fb);
}

/* PG_mlocked, counted (NR_MLOCK, unevictable_pgs_mlocked). */
static void folio_set_mlocked_counted(memlab_machine *m, struct page *page)
{
	page->flags |= PG_mlocked;
	mod_mlock(m, page, 1);
	m->vmstat[UNEVICTABLE_PGS_MLOCKED] += folio_nr_pages(page);
}

/*
** mlock_folio(): a page on (or for a while off) the LRU mapped into
** locked memory is mlocked now, if it was not, and waits to move to the
** unevictable list.
*/
void mlock_folio(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_mlocked))
		folio_set_mlocked_counted(m, page);
	mlock_fbatch_add(m, page, MLOCK_LRU);
}

/* mlock_new_folio(): a new page of locked memory, mlocked now, waits to join the LRU. */
void mlock_new_folio(memlab_machine *m, struct page *page)
{
	folio_set_mlocked_counted(m, page);
	mlock_fbatch_add(m, page, MLOCK_NEW);
}

/*
** munlock_folio(): one locked mapping of the page less, to be counted
** when the batch drains (__munlock_folio decides then whether it was the
** last).
*/
void munlock_folio(memlab_machine *m, struct page *page)
{
	mlock_fbatch_add(m, page, MLOCK_MUNLOCK);
}

/* folio_deactivate(): an active page waits to go inactive (MADV_COLD). */
void folio_deactivate(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || (page->flags & PG_unevictable) || !(page->flags & PG_active))
		return;
	folio_batch_add_and_move(m, page, FB_DEACTIVATE);
}

/* deactivate_file_folio(): a page invalidation could not drop waits to go inactive. */
void deactivate_file_folio(memlab_machine *m, struct page *page)
{
	if (!(page->flags & PG_lru) || (page->flags & PG_unevictable))
		return;
	folio_batch_add_and_move(m, page, FB_DEACTIVATE_FILE);
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
			else if (lru == LRU_UNEVICTABLE && folio_evictable(page))
				/* not "a locked mapping holds it": Linux leaves pages
				 * mlocked that mremap(MREMAP_DONTUNMAP) unlocks, and
				 * lru_add() leaves mlock_count 0 */
				ml_violation(c, "lru: pfn %#x is on the unevictable list, not mlocked", p);
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

static const char *const fbatch_names[NR_FBATCH] = {
	"lru_add", "lru_move_tail", "lru_deactivate_file", "lru_deactivate", "lru_lazyfree",
	"lru_activate"
};

/* Each batch holds pages in use, with references; a page to add is on no list. */
static void fbatch_check(memlab_machine *m, struct ml_check *c)
{
	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++)
		for (int op = 0; op < NR_FBATCH; op++) {
			const struct folio_batch *fb = &m->cpu_fbatches[cpu].fbatch[op];

			if (fb->nr >= PAGEVEC_SIZE)
				ml_violation(c, "lru: cpu %d's %s batch holds %u pages", cpu,
					     fbatch_names[op], fb->nr);
			for (uint32_t i = 0; i < fb->nr && i < PAGEVEC_SIZE; i++) {
				const struct page *page;

				if (fb->pfns[i] >= m->nr_frames) {
					ml_violation(c, "lru: cpu %d's %s batch holds pfn %#x", cpu,
						     fbatch_names[op], fb->pfns[i]);
					continue;
				}
				page = pfn_to_page(m, fb->pfns[i]);
				if (!(page->flags & PG_head_alloc) || page->_refcount <= 0)
					ml_violation(c, "lru: cpu %d's %s batch holds pfn %#x, not a page in use",
						     cpu, fbatch_names[op], fb->pfns[i]);
				else if (op == FB_LRU_ADD && (page->flags & PG_lru))
					ml_violation(c, "lru: pfn %#x waits in cpu %d's lru_add batch but is on a list",
						     fb->pfns[i], cpu);
			}
		}
	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++) {
		const struct mlock_fbatch *mb = &m->cpu_fbatches[cpu].mlock;

		if (mb->nr >= PAGEVEC_SIZE)
			ml_violation(c, "lru: cpu %d's mlock batch holds %u pages", cpu, mb->nr);
		for (uint32_t i = 0; i < mb->nr && i < PAGEVEC_SIZE; i++) {
			const struct page *page;

			if (mb->pfns[i] >= m->nr_frames || mb->ops[i] > MLOCK_MUNLOCK) {
				ml_violation(c, "lru: cpu %d's mlock batch holds pfn %#x (op %u)", cpu,
					     mb->pfns[i], mb->ops[i]);
				continue;
			}
			page = pfn_to_page(m, mb->pfns[i]);
			if (!(page->flags & PG_head_alloc) || page->_refcount <= 0)
				ml_violation(c, "lru: cpu %d's mlock batch holds pfn %#x, not a page in use",
					     cpu, mb->pfns[i]);
			else if (folio_nr_pages(page) > 1)
				ml_violation(c, "lru: cpu %d's mlock batch holds the large folio at pfn %#x",
					     cpu, mb->pfns[i]);
			else if (mb->ops[i] == MLOCK_NEW && (page->flags & PG_lru))
				ml_violation(c, "lru: new pfn %#x waits in cpu %d's mlock batch but is on a list",
					     mb->pfns[i], cpu);
		}
	}
}

int lru_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };
	uint64_t on_lists = 0, flagged = 0, mlocked = 0, per_list[NR_LRU_LISTS] = { 0 };

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
		if ((page->flags & PG_mlocked) && !(page->flags & PG_buddy))
			mlocked += folio_nr_pages(page);
	}
	if (flagged != on_lists)
		ml_violation(&c, "lru: %llu pages have PG_lru, the lists hold %llu",
			     (unsigned long long)flagged, (unsigned long long)on_lists);
	if (mlocked != m->vmstat[NR_MLOCK])
		ml_violation(&c, "lru: %llu pages are mlocked, NR_MLOCK says %llu",
			     (unsigned long long)mlocked, (unsigned long long)m->vmstat[NR_MLOCK]);
	fbatch_check(m, &c);
	return c.count;
}
