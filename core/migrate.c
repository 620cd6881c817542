/*
** migrate.c -- page migration (mm/migrate.c): the contents and the
** identity of an isolated page move to another frame, and every page-table
** entry that mapped the old frame maps the new one, as compaction needs.
**
** Linux migrates in steps that other CPUs may observe: try_to_migrate()
** replaces each PTE by a migration entry (flushing the TLB),
** folio_migrate_mapping() checks the reference count and moves the page
** cache slot, the contents are copied, and remove_migration_ptes()
** installs PTEs to the new folio.  memlab runs nothing in between, so it
** does these in one step and keeps their observable results: the same
** protection, accessed and dirty bits on the new PTEs, the TLB flushes
** (one per entry, or the batch's), a dirty PTE of a file or swap-cache
** page dirtying the page first (try_to_migrate_one), the page cache slot and the flags, mapping,
** index, mapcount and references moved (folio_migrate_flags), the new page
** added to this CPU's lru_add batch (migrate_folio_move's folio_add_lru; a
** large folio goes to its list at once) and the old one freed.  An
** mlocked page is munlocked by each locked mapping's removal (stranded:
** off the LRU, still unevictable) and the new one mlocked again by each
** locked mapping's return (remove_migration_ptes), after a drain puts it
** on the LRU (rescued, then culled): its mlock_count is rebuilt, not
** carried.
**
** A large folio (an mTHP, a page-cache folio; compaction takes none of a
** pageblock's order or more, so never a PMD-mapped one) moves whole to a
** target of its order, each page's PTEs to its counterpart: an arm64
** contiguous block is unfolded by the first and folded again by the last
** (set_ptes of one entry).  Its locked mappings munlock it, and the new
** folio is not mlocked again: 6.18 mlocks a large folio only in mlock's
** walk or reclaim's (the host agrees: 37 mlocked 64K folios that
** compact_memory moved whole were neither mlocked nor unevictable after).
** Unmapping an anonymous one PTE by PTE leaves it partially mapped on the
** way, and 6.18.y requeues the new folio so (split_deferred twice, and
** nr_anon_partially_mapped: the host agrees).  One partly unmapped (on
** the deferred split queue) before, or one without a target of its
** order, is split instead; its pages are tried after the list, once, and
** those the split freed count as migrated when that round reaches them
** (migrate_folio_unmap finds them "freed from under us").
**
** Simplified:
**  - a pinned page (more references than its mappings and the page cache
**    hold) is found before the PTEs are touched; Linux unmaps it, finds the
**    count wrong in folio_migrate_mapping and puts the PTEs back: the same
**    result.  Its retries (NR_MAX_MIGRATE_*_RETRY passes of -EAGAIN) are not
**    repeated: a pin cannot go away while nothing else runs.
**  - memlab takes no isolation reference (folio_isolate_lru in swap.c
**    does not), so the expected count has no "+1" for it.
**  - anonymous pages have no PG_dirty in memlab outside the swap cache:
**    a dirty PTE of one only stays dirty on the new PTE.
**  - migrate_pages() is Linux's first, MIGRATE_ASYNC batch of any mode
**    (migrate_pages_sync's retries would meet the same pins): its
**    try_to_migrate() passes TTU_BATCH_FLUSH, so an entry of an mm that
**    other CPUs may hold is flushed with the batch (try_to_unmap_flush,
**    one IPI on x86) at the batch's end, as Linux flushes before its
**    moves; nothing runs in between that could use the stale entry.
**  - ext4's data=journal folios migrate like the others (jbd2's buffer
**    references, which buffer_migrate_folio_norefs refuses, are not
**    modelled).
*/
#include "mm.h"

/* The page's state that moves to the new frame (folio_migrate_flags and the mapping). */
#define PG_MIGRATE_MASK	(PG_dirty | PG_swapbacked | PG_anon_exclusive | PG_unevictable | \
			 PG_active | PG_referenced | PG_reclaim | PG_workingset | PG_swapcache | \
			 PG_mappedtodisk | PG_not_uptodate | PG_dirty_block)

/*
** folio_expected_ref_count(), less the isolation reference: every
** mapping's, plus the page cache's for each page of a file folio, or the
** swap cache's.
*/
static int32_t folio_expected_refs(const struct page *folio)
{
	int32_t nr = (int32_t)folio_nr_pages(folio);

	return folio_mapcount(folio) + (folio->mapping && !page_anon(folio) ? nr : 0) +
	       !!(folio->flags & PG_swapcache);
}

struct remap {
	uint64_t new_pfn;
	struct page *folio;
	int32_t nr;		/* entries rewritten */
	unsigned ttu;		/* try_to_migrate()'s TTU_* flags */
};

/*
** try_to_migrate_one() + remove_migration_pte() for one entry: it maps the
** new frame with the bits it had; the old translation is flushed (or the
** flush deferred, TTU_BATCH_FLUSH), and a locked mapping munlocks the old
** page (folio_remove_rmap_pte()) at once.
*/
static bool remap_one(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	struct remap *r = ud;
	struct pt_walk w;

	pt_walk(t->m, t->mm, addr, &w);
	if (w.prot.dirty && r->folio->mapping && !page_anon(r->folio))
		folio_mark_dirty(t->m, r->folio);
	else if (w.prot.dirty && (r->folio->flags & PG_swapcache))
		r->folio->flags |= PG_dirty;	/* swap_aops: noop_dirty_folio() */
	set_pte_at(t, addr, r->new_pfn, w.prot);
	try_to_migrate_flush(t, addr, w.prot, r->ttu);
	munlock_vma_folio(t->m, page_to_pfn(t->m, r->folio), vma);
	if (vma->vm_flags & VM_LOCKED)
		mlock_drain_local(t->m);
	r->nr++;
	return true;
}

/* remove_migration_pte()'s rmap add for the new page: a locked mapping mlocks it. */
static bool remlock_one(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	(void)addr;
	mlock_vma_folio(t->m, ud, vma);
	if (vma->vm_flags & VM_LOCKED)
		mlock_drain_local(t->m);
	return true;
}

/*
** folio_migrate_mapping() + folio_migrate_flags(): the page cache slots,
** mapping, index, counts and flags pass from src to dst, each page's own
** (mapcount, PageAnonExclusive, its block's dirt) to its counterpart; src
** is left a bare allocated folio with one reference.
*/
static void folio_migrate_mapping(memlab_machine *m, struct page *src, struct page *dst,
				  uint64_t dst_pfn)
{
	uint64_t nr = folio_nr_pages(src);

	if (src->flags & PG_swapcache)		/* the swap cache's slot too */
		m->swap->cache[src->swap] = (uint32_t)dst_pfn;
	for (uint64_t i = 0; i < nr; i++) {
		if (src->mapping && !page_anon(src))
			filemap_replace_page((struct memlab_file *)src->mapping, src->index + i,
					     dst_pfn + i);
		dst[i].mapcount = src[i].mapcount;
		dst[i].flags = (dst[i].flags & ~PG_MIGRATE_MASK) | (src[i].flags & PG_MIGRATE_MASK);
		src[i].mapcount = 0;
		src[i].flags &= ~PG_MIGRATE_MASK;
	}
	if (nr > 1) {		/* the folio's own counts, in its first tail */
		*folio_entire_mapcount_ptr(dst) = folio_entire_mapcount(src);
		*folio_nr_pages_mapped_ptr(dst) = folio_nr_pages_mapped(src);
		*folio_entire_mapcount_ptr(src) = 0;
		*folio_nr_pages_mapped_ptr(src) = 0;
	}
	dst->swap = src->swap;
	src->swap = 0;
	dst->mapping = src->mapping;
	dst->index = src->index;
	dst->_refcount = src->_refcount;
	src->mapping = 0;
	src->index = 0;
	src->_refcount = 1;
}

/* Whether dst is a free target for src: an allocation of its order, one reference, nothing else. */
static bool migrate_target_ok(memlab_machine *m, const struct page *s, const struct page *d)
{
	if (!(s->flags & PG_head_alloc) || (s->flags & PG_lru) || !(d->flags & PG_head_alloc) ||
	    d->private != s->private || d->_refcount != 1 || d->mapping)
		return false;
	if (s->private > m->max_order)
		return false;
	/* a PMD-mapped folio (compaction never isolates one) or a large one in the swap cache */
	return !s->private || (!folio_entire_mapcount(s) && !(s->flags & PG_swapcache));
}

/*
** try_to_migrate() + the copy + remove_migration_ptes() of each page of
** the folio at src: every entry that mapped it maps its counterpart at
** dst.  try_to_migrate_one() takes the PTEs one by one, so a page's last
** going while others stay leaves an anonymous folio partially mapped on
** the way (__folio_remove_rmap -> deferred_split_folio).
*/
static void remap_folio(memlab_machine *m, struct page *s, uint64_t src, uint64_t dst,
			unsigned ttu)
{
	struct remap r = { 0, s, 0, ttu };
	uint64_t nr = folio_nr_pages(s);
	int32_t mapped = 0;

	if (nr > 1 && page_anon(s) && !(s->flags & PG_partially_mapped) &&
	    folio_unmap_goes_partial(m, src))
		deferred_split_folio(m, s, true);
	for (uint64_t i = 0; i < nr; i++) {
		ml_copy_frame(m, dst + i, src + i);
		mapped += s[i].mapcount;
		r.new_pfn = dst + i;
		rmap_walk(m, src + i, remap_one, &r);
	}
	if (r.nr != mapped)
		ml_report(m, "migrate: pfn %#llx has mapcount %d, the rmap found %d entries",
			  (unsigned long long)src, mapped, r.nr);
}

/*
** Migrate the isolated folio at src to the free frames at dst, an
** allocation of the same order (one reference, nothing else).  0 on
** success: src is freed and dst is on the LRU.  -MEMLAB_EAGAIN when src
** is pinned (neither folio changed), -MEMLAB_EINVAL when src is not an
** isolated LRU folio or dst not a bare one of its order.  A large folio's
** pages are remapped one by one (remove_migration_pte); only a small one
** is mlocked again by its locked mappings, as rmap adds do (a large one
** waits for reclaim or mlock's walk).  ttu: try_to_migrate()'s flags
** (TTU_BATCH_FLUSH: the entries' flushes wait for try_to_unmap_flush()).
*/
static int __migrate_folio(memlab_machine *m, uint64_t src, uint64_t dst, unsigned ttu)
{
	struct page *s, *d;
	uint64_t nr;
	bool was_mlocked, deferred, partially_mapped;

	if (src >= m->nr_frames || dst >= m->nr_frames || src == dst)
		return -MEMLAB_EINVAL;
	s = pfn_to_page(m, src);
	d = pfn_to_page(m, dst);
	if (!migrate_target_ok(m, s, d))
		return -MEMLAB_EINVAL;
	nr = folio_nr_pages(s);	/* two allocations of one order, aligned: apart */
	if (s->_refcount != folio_expected_refs(s))
		return -MEMLAB_EAGAIN;
	was_mlocked = s->flags & PG_mlocked;
	remap_folio(m, s, src, dst, ttu);
	deferred = s->flags & PG_deferred_split;
	partially_mapped = s->flags & PG_partially_mapped;
	m->vmstat[NR_ISOLATED_ANON + folio_is_file_lru(s)] -= nr;	/* migrate_folio_done() */
	folio_unqueue_deferred_split(m, s);	/* __folio_migrate_mapping() */
	mem_cgroup_migrate(m, s, d);	/* before the stats move and the LRU add */
	folio_migrate_mapping(m, s, d, dst);
	folio_add_lru(m, d);
	if (was_mlocked)	/* PAGE_WAS_MLOCKED: on the LRU for the mlocks to come */
		lru_add_drain(m);
	if (nr == 1)
		rmap_walk(m, dst, remlock_one, d);
	/* 6.18.y (a2e0c066): the new folio takes the old one's place on the
	 * queue -- partially mapped, as the unmap left the old one, though it
	 * is mapped whole: split_deferred counts it twice, and the deferred
	 * split shrinker will split it (the host, 6.18.44, agrees) */
	if (deferred)
		deferred_split_folio(m, d, partially_mapped);
	page_cache_release(m, s);	/* folio_put(): a PG_mlocked left (a split's) is cleared */
	memlab_free_pages(m, src, s->private);
	return 0;
}

/*
** A migration outside migrate_pages(), as MIGRATE_SYNC's one-by-one
** retries are: try_to_migrate() without TTU_BATCH_FLUSH, each entry
** flushed as it goes (ptep_clear_flush).
*/
int migrate_folio(memlab_machine *m, uint64_t src, uint64_t dst)
{
	return __migrate_folio(m, src, dst, 0);
}

/* putback_movable_pages(): isolated pages that were not migrated back on their lists. */
void putback_movable_pages(memlab_machine *m, const uint64_t *pfns, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++)
		folio_putback_lru(m, pfn_to_page(m, pfns[i]));
}

struct migrate_target {
	new_folio_t get_new;
	free_folio_t put_new;
	void *priv;
};

struct migrate_stats {
	unsigned nr_succeeded;		/* pages */
	unsigned nr_failed_pages;
	unsigned nr_failed;		/* folios */
	unsigned nr_split;		/* large folios split to be migrated */
};

/*
** try_split_folio() of the isolated large folio at src: its pages join
** split[] at *nsplit, for the round after the list's.  split[] has room
** for cap entries: the caller's list is at most a pageblock's pages, and
** room for as many more, so a folio is never refused for lack of it.
** Whether it split.
*/
static bool try_split_folio(memlab_machine *m, uint64_t src, uint64_t *split, unsigned *nsplit,
			    unsigned cap, struct migrate_stats *st)
{
	if (!split || *nsplit + folio_nr_pages(pfn_to_page(m, src)) > cap ||
	    !split_folio_isolated(m, src, split, nsplit))
		return false;
	st->nr_split++;
	return true;
}

/*
** migrate_pages_batch() over list[0..n): each folio gets a target and
** moves; one that cannot is kept in keep[] (*kept; keep may be list, as
** it never passes the folio being read).  A large folio partly unmapped
** (on the deferred split queue), or one without a target of its order, is
** split instead (split[], *nsplit, below cap: its pages), and counts as
** one failure.  A page a split freed counts as migrated when it is
** reached.  Running out of targets for a small folio ends the batch: the
** rest are not tried, nor counted.  Returns 0 or -MEMLAB_ENOMEM.
*/
static int migrate_pages_batch(memlab_machine *m, const uint64_t *list, unsigned n,
			       uint64_t *keep, unsigned *kept, uint64_t *split, unsigned *nsplit,
			       unsigned cap, const struct migrate_target *to,
			       struct migrate_stats *st)
{
	unsigned failed = split ? 1 : 0;	/* a split folio's pages: their folio counted */
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t src = list[i], dst, nr;
		const struct page *folio;

		if (src & SPLIT_PART_FREED) {	/* migrate_folio_unmap(): "freed from under us" */
			st->nr_succeeded += !rc;
			continue;
		}
		if (rc) {
			keep[(*kept)++] = src;
			continue;
		}
		folio = pfn_to_page(m, src);
		nr = folio_nr_pages(folio);
		if (nr > 2 && (folio->flags & PG_deferred_split) &&
		    (folio->flags & PG_partially_mapped) &&
		    try_split_folio(m, src, split, nsplit, cap, st)) {
			st->nr_failed += failed;
			continue;
		}
		dst = to->get_new(m, src, to->priv);
		if (dst == PFN_NONE) {
			st->nr_failed += failed;
			if (nr > 1 && try_split_folio(m, src, split, nsplit, cap, st))
				continue;
			st->nr_failed_pages += (unsigned)nr;
			rc = -MEMLAB_ENOMEM;
			keep[(*kept)++] = src;
			continue;
		}
		if (__migrate_folio(m, src, dst, TTU_BATCH_FLUSH) == 0) {
			st->nr_succeeded += (unsigned)nr;
			continue;
		}
		to->put_new(m, dst, to->priv);
		st->nr_failed += failed;
		st->nr_failed_pages += (unsigned)nr;
		keep[(*kept)++] = src;
	}
	try_to_unmap_flush(m);	/* the batch's unmaps, flushed before its moves ("move:") */
	return rc;
}

/*
** migrate_pages(): migrate each isolated folio of from[0..*nr) to frames
** get_new gives; a target left unused goes back through put_new.  from[]
** has room for cap entries: the pages of large folios split on the way
** wait past the list and are tried after it, once, whatever that round
** meets (no failure counted: their folio counted one) -- unless the list
** ran out of targets, and then they go back untried.  The folios not
** migrated stay in from[], *nr says how many, for the caller to put back.
** Returns the number of folios of the list that failed, 0 when none is
** left, or -MEMLAB_ENOMEM when get_new ran out for the list.  Counts
** pgmigrate_success and pgmigrate_fail in pages; traces
** mm_migrate_pages_start and mm_migrate_pages.
*/
int migrate_pages(memlab_machine *m, uint64_t *from, unsigned *nr, unsigned cap,
		  new_folio_t get_new, free_folio_t put_new, void *priv, enum migrate_mode mode,
		  enum migrate_reason reason, unsigned *nr_succeeded)
{
	const struct migrate_target to = { get_new, put_new, priv };
	struct migrate_stats st = { 0 };
	unsigned kept = 0, n = *nr, nsplit = n;
	int rc;

	trace(m, TP_MM_MIGRATE_PAGES_START, mode, reason, 0, 0);
	rc = migrate_pages_batch(m, from, n, from, &kept, from, &nsplit, cap, &to, &st);
	if (!rc)	/* its result ignored; kept < n when anything split: keep[] stays behind */
		migrate_pages_batch(m, from + n, nsplit - n, from, &kept, NULL, NULL, 0, &to, &st);
	else
		for (unsigned i = n; i < nsplit; i++)
			if (!(from[i] & SPLIT_PART_FREED))
				from[kept++] = from[i];
	*nr = kept;
	*nr_succeeded = st.nr_succeeded;
	m->vmstat[PGMIGRATE_SUCCESS] += st.nr_succeeded;
	m->vmstat[PGMIGRATE_FAIL] += st.nr_failed_pages;
	tracev(m, TP_MM_MIGRATE_PAGES, st.nr_succeeded, st.nr_failed_pages, 0, 0, 0, st.nr_split,
	       (uint64_t)mode, (uint64_t)reason);
	if (rc)
		return rc;
	return kept ? (int)st.nr_failed : 0;
}
