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
** protection, accessed and dirty bits on the new PTEs, one TLB flush per
** mapping, a dirty PTE of a file page dirtying the page first
** (try_to_migrate_one), the page cache slot and the flags, mapping, index,
** mapcount and references moved (folio_migrate_flags), the new page added
** to this CPU's lru_add batch (migrate_folio_move's folio_add_lru) and the
** old one freed.  An mlocked page is munlocked by each locked mapping's
** removal (stranded: off the LRU, still unevictable) and the new one
** mlocked again by each locked mapping's return (remove_migration_ptes),
** after a drain puts it on the LRU (rescued, then culled): its
** mlock_count is rebuilt, not carried.
**
** Simplified:
**  - order-0 pages only: compaction never isolates a large folio here.
**  - a pinned page (more references than its mappings and the page cache
**    hold) is found before the PTEs are touched; Linux unmaps it, finds the
**    count wrong in folio_migrate_mapping and puts the PTEs back: the same
**    result.  Its retries (NR_MAX_MIGRATE_*_RETRY passes of -EAGAIN) are not
**    repeated: a pin cannot go away while nothing else runs.
**  - memlab takes no isolation reference (folio_isolate_lru in swap.c
**    does not), so the expected count has no "+1" for it.
**  - anonymous pages have no PG_dirty in memlab: a dirty PTE of one only
**    stays dirty on the new PTE.
*/
#include "mm.h"

/* The page's state that moves to the new frame (folio_migrate_flags and the mapping). */
#define PG_MIGRATE_MASK	(PG_dirty | PG_swapbacked | PG_anon_exclusive | PG_unevictable | \
			 PG_active | PG_referenced | PG_reclaim | PG_workingset | PG_swapcache | \
			 PG_mappedtodisk | PG_not_uptodate | PG_dirty_block)

/*
** folio_expected_refs(), less the isolation reference: every mapping's,
** plus the page cache's for a file page, or the swap cache's.
*/
static int32_t folio_expected_refs(const struct page *page)
{
	return page->mapcount + (page->mapping && !page_anon(page) ? 1 : 0) +
	       !!(page->flags & PG_swapcache);
}

struct remap {
	uint64_t new_pfn;
	struct page *page;
	int32_t nr;		/* entries rewritten */
};

/*
** try_to_migrate_one() + remove_migration_pte() for one entry: it maps the
** new frame with the bits it had; the old translation is flushed, and a
** locked mapping munlocks the old page (folio_remove_rmap_pte()) at once.
*/
static bool remap_one(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	struct remap *r = ud;
	struct pt_walk w;

	pt_walk(t->m, t->mm, addr, &w);
	if (w.prot.dirty && r->page->mapping && !page_anon(r->page))
		folio_mark_dirty(t->m, r->page);
	set_pte_at(t, addr, r->new_pfn, w.prot);
	flush_tlb_page(t, addr);
	munlock_vma_folio(t->m, page_to_pfn(t->m, r->page), vma);
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
** folio_migrate_mapping() + folio_migrate_flags(): the page cache slot,
** mapping, index, counts and flags pass from src to dst; src is left a
** bare allocated page with one reference.
*/
static void folio_migrate_mapping(memlab_machine *m, struct page *src, struct page *dst,
				  uint64_t dst_pfn)
{
	if (src->mapping && !page_anon(src))
		filemap_replace_page((struct memlab_file *)src->mapping, src->index, dst_pfn);
	if (src->flags & PG_swapcache)		/* the swap cache's slot too */
		m->swap->cache[src->swap] = (uint32_t)dst_pfn;
	dst->swap = src->swap;
	src->swap = 0;
	dst->mapping = src->mapping;
	dst->index = src->index;
	dst->mapcount = src->mapcount;
	dst->_refcount = src->_refcount;
	dst->flags = (dst->flags & ~PG_MIGRATE_MASK) | (src->flags & PG_MIGRATE_MASK);
	src->mapping = 0;
	src->index = 0;
	src->mapcount = 0;
	src->_refcount = 1;
	src->flags &= ~PG_MIGRATE_MASK;
}

/*
** Migrate the isolated order-0 page at src to the free order-0 frame dst
** (an allocated page with one reference, nothing else).  0 on success:
** src is freed and dst is on the LRU.  -MEMLAB_EAGAIN when src is pinned
** (neither frame changed), -MEMLAB_EINVAL when src is not an isolated
** order-0 LRU page or dst not a bare page.
*/
int migrate_folio(memlab_machine *m, uint64_t src, uint64_t dst)
{
	struct page *s, *d;
	struct remap r = { dst, NULL, 0 };
	bool was_mlocked;

	if (src >= m->nr_frames || dst >= m->nr_frames || src == dst)
		return -MEMLAB_EINVAL;
	s = pfn_to_page(m, src);
	d = pfn_to_page(m, dst);
	if (!(s->flags & PG_head_alloc) || s->private || (s->flags & PG_lru) ||
	    !(d->flags & PG_head_alloc) || d->private || d->_refcount != 1 || d->mapping)
		return -MEMLAB_EINVAL;
	if (s->_refcount != folio_expected_refs(s))
		return -MEMLAB_EAGAIN;
	was_mlocked = s->flags & PG_mlocked;
	ml_copy_frame(m, dst, src);
	r.page = s;
	rmap_walk(m, src, remap_one, &r);
	if (r.nr != s->mapcount)
		ml_report(m, "migrate: pfn %#llx has mapcount %d, the rmap found %d entries",
			  (unsigned long long)src, s->mapcount, r.nr);
	m->vmstat[NR_ISOLATED_ANON + folio_is_file_lru(s)]--;	/* migrate_folio_done() */
	mem_cgroup_migrate(m, s, d);	/* before the stats move and the LRU add */
	folio_migrate_mapping(m, s, d, dst);
	folio_add_lru(m, d);
	if (was_mlocked)	/* PAGE_WAS_MLOCKED: on the LRU for the mlocks to come */
		lru_add_drain(m);
	rmap_walk(m, dst, remlock_one, d);
	page_cache_release(m, s);	/* folio_put(): a PG_mlocked left (a split's) is cleared */
	memlab_free_pages(m, src, 0);
	return 0;
}

/* putback_movable_pages(): isolated pages that were not migrated back on their lists. */
void putback_movable_pages(memlab_machine *m, const uint64_t *pfns, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++)
		folio_putback_lru(m, pfn_to_page(m, pfns[i]));
}

/*
** migrate_pages(): migrate each isolated page of from[0..*nr) to a frame
** get_new gives; a target left unused goes back through put_new.  The
** pages not migrated stay in from[], *nr says how many, for the caller to
** put back.  Returns the number of pages that failed, or -MEMLAB_ENOMEM
** when get_new ran out (the rest were not tried).  Counts pgmigrate_success
** and pgmigrate_fail; traces mm_migrate_pages_start and mm_migrate_pages.
*/
int migrate_pages(memlab_machine *m, uint64_t *from, unsigned *nr, new_folio_t get_new,
		  free_folio_t put_new, void *priv, enum migrate_mode mode,
		  enum migrate_reason reason, unsigned *nr_succeeded)
{
	unsigned kept = 0, failed = 0, succeeded = 0;
	int rc = 0;

	trace(m, TP_MM_MIGRATE_PAGES_START, mode, reason, 0, 0);
	for (unsigned i = 0; i < *nr; i++) {
		uint64_t src = from[i], dst;

		if (rc == -MEMLAB_ENOMEM) {
			from[kept++] = src;
			continue;
		}
		dst = get_new(m, src, priv);
		if (dst == PFN_NONE) {
			rc = -MEMLAB_ENOMEM;
			failed++;
			from[kept++] = src;
			continue;
		}
		if (migrate_folio(m, src, dst) == 0) {
			succeeded++;
			continue;
		}
		put_new(m, dst, priv);
		failed++;
		from[kept++] = src;
	}
	*nr = kept;
	*nr_succeeded = succeeded;
	m->vmstat[PGMIGRATE_SUCCESS] += succeeded;
	m->vmstat[PGMIGRATE_FAIL] += failed;
	tracev(m, TP_MM_MIGRATE_PAGES, succeeded, failed, 0, 0, 0, 0, (uint64_t)mode,
	       (uint64_t)reason);
	return rc ? rc : (int)failed;
}
