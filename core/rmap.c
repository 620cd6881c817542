/*
** rmap.c -- the reverse map, from a frame to every (mm, address) that maps
** it (mm/rmap.c rmap_walk_anon / rmap_walk_file), and the invariants
** that tie page tables, struct pages, RSS counters, the page cache and
** the node's counters together (what CONFIG_DEBUG_VM and check_mm()
** would catch).
**
** An anonymous page is found through its anon_vma: every VMA whose chain
** holds that anon_vma may map it at vma_address(page->index).  A file
** page through its file: every VMA of the file whose range covers
** page->index.  memlab scans the tasks' VMAs for them instead of keeping
** Linux's anon_vma_chain and i_mmap trees.
*/
#include <stdio.h>
#include <string.h>

#include "mm.h"
#include "tlb.h"

/* The anon_vma is vma's own or one it was forked from (the chain). */
static bool anon_vma_in_chain(const struct vm_area_struct *vma, const struct anon_vma *av)
{
	for (const struct anon_vma *a = vma->anon_vma; a; a = a->parent)
		if (a == av)
			return true;
	return false;
}

/* vma_address(): where vma would map the page, or 1 (never page-aligned) if it cannot. */
static uint64_t vma_address(const struct vm_area_struct *vma, const struct page *page)
{
	uint64_t shift = vma->vm_mm->machine->page_shift;

	if (page->index < vma->vm_pgoff || page->index - vma->vm_pgoff >= vma_pages(vma))
		return 1;
	return vma->vm_start + ((page->index - vma->vm_pgoff) << shift);
}

static bool vma_may_map(const struct vm_area_struct *vma, const struct page *page)
{
	if (page_anon(page))
		return anon_vma_in_chain(vma, (const struct anon_vma *)
					 (page->mapping & ~(uintptr_t)PAGE_MAPPING_ANON));
	return vma->vm_file && (uintptr_t)vma->vm_file == page->mapping;
}

/* The entry of t's tables at addr maps pfn. */
static bool pte_maps(memlab_task *t, uint64_t addr, uint64_t pfn)
{
	struct pt_walk w;

	pt_walk(t->m, t->mm, addr, &w);
	return w.nr_levels && pt_prot_maps(&w.prot) && !w.prot.special && w.pfn == pfn;
}

/* fn for each entry of t's mm mapping pfn; false when fn said stop. */
static bool rmap_walk_mm(memlab_task *t, const struct page *page, uint64_t pfn, rmap_fn fn,
			 void *ud)
{
	for (struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next) {
		uint64_t addr;

		if (vma_may_map(v, page) && (addr = vma_address(v, page)) != 1 &&
		    pte_maps(t, addr, pfn) && !fn(t, v, addr, ud))
			return false;
	}
	return true;
}

/*
** rmap_walk(): fn(task, address, ud) for every page-table entry mapping
** the frame (not the zero page), without allocating, until fn returns
** false.  fn may change the entry it is given.  A fork's child is seen
** while dup_mmap copies it (m->forking): its VMAs joined the anon_vmas
** (anon_vma_fork) before its entries were copied, and reclaim the copy's
** page tables cause must reach them.
*/
void rmap_walk(memlab_machine *m, uint64_t pfn, rmap_fn fn, void *ud)
{
	const struct page *page;
	memlab_task *t;

	if (pfn >= m->nr_frames)
		return;
	page = pfn_to_page(m, pfn);
	if (!page->mapping || page->mapcount <= 0)
		return;
	for_each_mm_task(m, t)
		if (!rmap_walk_mm(t, page, pfn, fn, ud))
			return;
	if (m->forking && m->forking->mm && m->forking->mm->owner == m->forking)
		rmap_walk_mm(m->forking, page, pfn, fn, ud);	/* not a CLONE_VM child's */
}

struct rmap_collect {
	struct memlab_rmap_entry *out;
	size_t n, found;
};

static bool rmap_collect_one(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud)
{
	struct rmap_collect *c = ud;

	(void)vma;
	if (c->found < c->n) {
		c->out[c->found].pid = t->pid;
		c->out[c->found].addr = addr;
	}
	c->found++;
	return true;
}

size_t memlab_rmap(memlab_machine *m, uint64_t pfn, struct memlab_rmap_entry *out, size_t n)
{
	struct rmap_collect c = { out, n, 0 };

	rmap_walk(m, pfn, rmap_collect_one, &c);
	return c.found;
}

/*
** folio_mkclean(): before a file page is written back, every shared
** mapping's entry for it becomes clean and read-only, so that the next
** write through the mapping faults (do_wp_page -> wp_page_shared) and
** dirties the page again.
*/
void folio_mkclean(memlab_machine *m, uint64_t pfn)
{
	const struct page *page = pfn_to_page(m, pfn);
	memlab_task *t;

	for_each_mm_task(m, t) {
		for (struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next) {
			struct pt_walk w;
			uint64_t addr;

			if (!(v->vm_flags & VM_SHARED) || !vma_may_map(v, page) ||
			    (addr = vma_address(v, page)) == 1 || !pte_maps(t, addr, pfn))
				continue;
			pt_walk(m, t->mm, addr, &w);
			if (!w.prot.write && !w.prot.dirty)
				continue;
			w.prot.write = w.prot.dirty = false;
			pt_set(m, t->mm, addr, pfn, w.prot, NULL);
			flush_tlb_page(t, addr);	/* page_vma_mkclean_one(): ptep_clear_flush */
		}
	}
}

/* ===================== the invariants ===================== */

struct rmap_check {
	memlab_machine *m;
	struct ml_check v;
	uint32_t *mapped;		/* entries seen per frame */
	uint32_t *swap_refs;		/* swap entries seen per swap slot */
	memlab_task *t;
	struct vm_area_struct *vma;	/* the VMA the walk is in */
	uint64_t rss[NR_MM_COUNTERS];
};

#define rmap_violation(c, ...)	ml_violation(&(c)->v, __VA_ARGS__)

/* What a page belongs to, in words that do not depend on the host's addresses. */
static void page_owner(const struct page *page, char *buf, size_t size)
{
	if (!page->mapping)
		snprintf(buf, size, "no mapping");
	else if (page_anon(page))
		snprintf(buf, size, "anon_vma %llu", (unsigned long long)
			 ((const struct anon_vma *)(page->mapping & ~(uintptr_t)PAGE_MAPPING_ANON))->id);
	else
		snprintf(buf, size, "file %s", ((const struct memlab_file *)page->mapping)->path);
}

/* A mapped struct page agrees with the VMA and address that map it. */
static void check_mapped_page(struct rmap_check *c, uint64_t va, uint64_t pfn,
			      const struct pt_prot *p, unsigned level)
{
	const struct vm_area_struct *vma = c->vma;
	const struct page *page = pfn_to_page(c->m, pfn);
	int pid = c->t->pid;

	if (!(page->flags & PG_head_alloc) || page->_refcount <= 0) {
		rmap_violation(c, "rmap: pid %d va %#llx maps pfn %#llx, a frame not in use",
			       pid, (unsigned long long)va, (unsigned long long)pfn);
		return;
	}
	if (!vma_may_map(vma, page) || vma_address(vma, page) != va) {
		char owner[160];

		page_owner(page, owner, sizeof(owner));
		rmap_violation(c, "rmap: pid %d va %#llx maps pfn %#llx (%s, index %#llx), which "
			       "its VMA cannot reach", pid, (unsigned long long)va,
			       (unsigned long long)pfn, owner, (unsigned long long)page->index);
	}
	if (p->write && !(vma->vm_flags & VM_SHARED) &&
	    !(page_anon(page) && (page->flags & PG_anon_exclusive)))
		rmap_violation(c, "rmap: pid %d va %#llx: writable private entry for a page "
			       "that is not exclusively its own (pfn %#llx)", pid,
			       (unsigned long long)va, (unsigned long long)pfn);
	c->mapped[pfn]++;
	c->rss[page_anon(page) ? MM_ANONPAGES :
	       page->flags & PG_swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES] +=
		pt_level_size(&c->t->mm->pt, level) >> c->m->page_shift;
	if (level && (page->private != hpage_pmd_order(c->m) || !page_anon(page)))
		rmap_violation(c, "rmap: pid %d va %#llx: a huge entry for pfn %#llx, not the head "
			       "of an anonymous huge page", pid, (unsigned long long)va,
			       (unsigned long long)pfn);
}

/* A swap entry: of the swap device, in a VMA with pages of its own; counted. */
static bool check_swap_entry(struct rmap_check *c, uint64_t va, uint64_t e)
{
	struct swap_info *si = c->m->swap;
	uint64_t slot;
	bool exclusive;

	if (!si || !pt_swap_entry(&c->t->mm->pt, e, &slot, &exclusive))
		return false;
	if (!slot || slot > si->pages || !c->vma->anon_vma)
		rmap_violation(c, "rmap: pid %d va %#llx: swap entry %#018llx for slot %llu%s",
			       c->t->pid, (unsigned long long)va, (unsigned long long)e,
			       (unsigned long long)slot, c->vma->anon_vma ? " beyond the swap device"
			       : " in a VMA without an anon_vma");
	else
		c->swap_refs[slot]++;
	if (exclusive && slot && slot <= si->pages) {
		uint32_t pfn = si->cache[slot];

		if ((si->swap_map[slot] & ~SWAP_HAS_CACHE) != 1 ||
		    (pfn != PFN_NONE && pfn_to_page(c->m, pfn)->mapcount))
			rmap_violation(c, "rmap: pid %d va %#llx: exclusive swap entry for slot %llu, "
				       "which other entries or a mapped page share", c->t->pid,
				       (unsigned long long)va, (unsigned long long)slot);
	}
	c->rss[MM_SWAPENTS]++;
	return true;
}

/* One leaf of the task's tables: inside a VMA, as its flags allow. */
static int check_leaf(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		      uint64_t e)
{
	struct rmap_check *c = ud;
	struct pt_prot p;
	uint64_t pfn;

	(void)table, (void)idx;
	while (c->vma && c->vma->vm_end <= va)
		c->vma = c->vma->vm_next;
	pt_decode(&c->t->mm->pt, (int)level, e, &pfn, &p);
	if (level == 0 && !pt_prot_maps(&p) && c->vma && c->vma->vm_start <= va &&
	    check_swap_entry(c, va, e))
		return 0;
	if (!c->vma || c->vma->vm_start > va || !pt_prot_maps(&p)) {
		rmap_violation(c, "rmap: pid %d va %#llx: entry %#018llx %s", c->t->pid,
			       (unsigned long long)va, (unsigned long long)e,
			       pt_prot_maps(&p) ? "outside every VMA" : "is neither present nor PROT_NONE");
		return 0;
	}
	if (p.protnone != !(c->vma->vm_flags & VM_ACCESS_FLAGS) ||
	    (p.write && !(c->vma->vm_flags & VM_WRITE)))
		rmap_violation(c, "rmap: pid %d va %#llx: entry %#018llx disagrees with its VMA's "
			       "flags %#llx", c->t->pid, (unsigned long long)va,
			       (unsigned long long)e, (unsigned long long)c->vma->vm_flags);
	if (p.special) {
		if (pfn != (level ? c->m->huge_zero_pfn : c->m->zero_pfn) || p.write)
			rmap_violation(c, "rmap: pid %d va %#llx: special entry %#018llx is not the "
				       "read-only zero page", c->t->pid, (unsigned long long)va,
				       (unsigned long long)e);
		return 0;
	}
	if (pfn >= c->m->nr_frames) {
		rmap_violation(c, "rmap: pid %d va %#llx: entry %#018llx points outside RAM",
			       c->t->pid, (unsigned long long)va, (unsigned long long)e);
		return 0;
	}
	check_mapped_page(c, va, pfn, &p, level);
	return 0;
}

/* A task's tables: their shape (pt_check), their leaves, its RSS counters. */
static void check_task(struct rmap_check *c, memlab_task *t)
{
	static const char *const names[NR_MM_COUNTERS] = {
		"MM_FILEPAGES", "MM_ANONPAGES", "MM_SWAPENTS", "MM_SHMEMPAGES"
	};
	char who[48];
	int n;

	snprintf(who, sizeof(who), "pgtable: pid %d", t->pid);
	n = pt_check(c->m, t->mm, c->v.fn, c->v.ud, who);
	c->v.count += n > 0 ? n : 0;
	c->t = t;
	c->vma = t->mm->mmap;
	memset(c->rss, 0, sizeof(c->rss));
	pt_walk_range(c->m, t->mm, 0, 0, check_leaf, c);
	for (int i = 0; i < NR_MM_COUNTERS; i++)
		if (c->rss[i] != t->mm->rss_stat[i])
			rmap_violation(c, "BUG: Bad rss-counter state mm pid %d type %s val %lld, "
				       "the page tables map %llu", t->pid, names[i],
				       (long long)t->mm->rss_stat[i], (unsigned long long)c->rss[i]);
}

/* The node's counters of what the frames hold, recounted. */
struct page_counts {
	uint64_t anon, mapped, lru_anon, lru_file, unevictable, dirty, cache, shmem;
};

/* A page with a file mapping is in that file's page cache at its index. */
static void check_cached(struct rmap_check *c, uint64_t pfn, const struct page *page)
{
	const struct memlab_file *f = (const struct memlab_file *)page->mapping;

	if (filemap_lookup(f, page->index) != pfn)
		rmap_violation(c, "filemap: pfn %#llx says it is page %#llx of %s, whose cache "
			       "holds another there", (unsigned long long)pfn,
			       (unsigned long long)page->index, f->path);
}

/* Every frame's mapcount and references against what the tables map. */
static void check_frames(struct rmap_check *c, struct page_counts *n)
{
	memlab_machine *m = c->m;

	for (uint64_t pfn = 0; pfn < m->nr_frames; pfn++) {
		const struct page *page = pfn_to_page(m, pfn);
		uint64_t nr = folio_nr_pages(page);
		int extra;

		if (page->flags & PG_swapcache)
			n->cache++;	/* NR_FILE_PAGES counts the swap cache */
		/* on a list even when a batch alone holds it (truncated meanwhile) */
		if ((page->flags & PG_lru) && (page->flags & PG_unevictable))
			n->unevictable += nr;
		else if (page->flags & PG_lru)
			*(page->flags & PG_swapbacked ? &n->lru_anon : &n->lru_file) += nr;
		if (!page->mapping && !c->mapped[pfn] && !page->mapcount)
			continue;
		if ((int64_t)c->mapped[pfn] != page->mapcount)
			rmap_violation(c, "rmap: pfn %#llx has mapcount %d, the page tables map it %u "
				       "times", (unsigned long long)pfn, page->mapcount, c->mapped[pfn]);
		extra = page->mapping && !page_anon(page) ? 1 : 0;	/* the page cache's */
		extra += !!(page->flags & PG_swapcache);		/* the swap cache's */
		if (page->mapping && page->_refcount != page->mapcount + extra)
			extra += folio_batch_refs(m, pfn);	/* the folio batches' (rarely: only then) */
		if (page->mapping && page->_refcount != page->mapcount + extra)
			rmap_violation(c, "rmap: pfn %#llx has refcount %d for mapcount %d%s",
				       (unsigned long long)pfn, page->_refcount, page->mapcount,
				       extra ? " and the page or swap cache or folio batches" : "");
		if (page->mapping && page_anon(page) && page->mapcount)
			n->anon += nr;
		if (page->mapping && !page_anon(page) && page->mapcount)
			n->mapped++;
		if ((page->flags & PG_dirty) && !(page->flags & PG_swapbacked) && !page_anon(page))
			n->dirty++;	/* a file page's: an anonymous one is never accounted */
		if (page->mapping && !page_anon(page)) {
			n->cache++;
			n->shmem += !!(page->flags & PG_swapbacked);
			check_cached(c, pfn, page);
		}
	}
}

static void check_count(struct rmap_check *c, const char *name, uint64_t have, uint64_t want)
{
	if (have != want)
		rmap_violation(c, "vmstat %s is %llu, the frames hold %llu", name,
			       (unsigned long long)have, (unsigned long long)want);
}

/*
** The reverse map's invariants over the whole machine: every mm's
** tables (pt_check), each leaf inside a VMA that allows it and mapping a
** page that VMA can reach at that address (anon_vma or file, index), a
** writable private entry only for an exclusive anon page, RSS counters as
** the tables map, every frame's mapcount as many times as it is mapped,
** its refcount its mappings plus the page cache's, and nr_anon_pages,
** nr_mapped, the LRU counters and nr_dirty as the frames say.
*/
int rmap_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct rmap_check c = { m, { fn, ud, 0 }, NULL, NULL, NULL, NULL, { 0 } };
	struct page_counts n = { 0 };
	const uint64_t *v = m->vmstat;
	memlab_task *t;

	size_t swap_bytes = m->swap ? (size_t)(m->swap->pages + 1) * sizeof(uint32_t) : 0;

	c.mapped = ml_alloc(m, (size_t)m->nr_frames * sizeof(uint32_t));
	c.swap_refs = swap_bytes ? ml_alloc(m, swap_bytes) : NULL;
	if (!c.mapped || (swap_bytes && !c.swap_refs)) {
		rmap_violation(&c, "check: out of host memory");
		ml_free(m, c.mapped, (size_t)m->nr_frames * sizeof(uint32_t));
		ml_free(m, c.swap_refs, swap_bytes);
		return c.v.count;
	}
	for_each_mm_task(m, t)
		check_task(&c, t);
	check_frames(&c, &n);
	c.v.count += swap_check(m, c.swap_refs, fn, ud);
	ml_free(m, c.mapped, (size_t)m->nr_frames * sizeof(uint32_t));
	ml_free(m, c.swap_refs, swap_bytes);
	check_count(&c, "nr_anon_pages", v[NR_ANON_PAGES], n.anon);
	check_count(&c, "nr_mapped", v[NR_MAPPED], n.mapped);
	check_count(&c, "nr_inactive_anon", v[NR_INACTIVE_ANON] + v[NR_ACTIVE_ANON], n.lru_anon);
	check_count(&c, "nr_inactive_file", v[NR_INACTIVE_FILE] + v[NR_ACTIVE_FILE], n.lru_file);
	check_count(&c, "nr_unevictable", v[NR_UNEVICTABLE], n.unevictable);
	check_count(&c, "nr_dirty", v[NR_DIRTY], n.dirty);
	check_count(&c, "nr_file_pages", v[NR_FILE_PAGES], n.cache);
	check_count(&c, "nr_shmem", v[NR_SHMEM], n.shmem);
	return c.v.count;
}
