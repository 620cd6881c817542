/*
** rmap.c -- the reverse map, from a frame to every (mm, address) that maps
** it (mm/rmap.c rmap_walk_anon / rmap_walk_file), the anon_vmas and
** anon_vma_chains that anonymous pages are found through, and the
** invariants that tie page tables, struct pages, RSS counters, the page
** cache and the node's counters together (what CONFIG_DEBUG_VM and
** check_mm() would catch).
**
** An anonymous page is found through its anon_vma: every VMA with an
** anon_vma_chain to that anon_vma may map it at vma_address(page->index);
** the walk follows the anon_vma's chains (a list in the order of Linux's
** interval tree: by the VMA's offset, then as linked).  A file page
** through its file: every VMA on the file's i_mmap whose range covers
** page->index, in Linux's order (vma.c keeps the list).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcontrol.h"
#include "mm.h"
#include "tlb.h"

/* ===================== anon_vma and anon_vma_chain ===================== */

/* anon_vma_alloc(): a root of its own with one reference; NULL on failure. */
static struct anon_vma *anon_vma_alloc(memlab_machine *m)
{
	uint64_t obj;
	struct anon_vma *av = kernel_obj_new(m, KC_ANON_VMA, sizeof(*av), &obj);

	if (!av)
		return NULL;
	av->slab_obj = obj;
	av->id = ++m->next_anon_vma_id;
	av->refcount = 1;
	av->root = av->parent = av;
	INIT_LIST_HEAD(&av->head);
	return av;
}

/* put_anon_vma(): the last reference frees it and drops the one it held on its root. */
static void put_anon_vma(memlab_machine *m, struct anon_vma *av)
{
	struct anon_vma *root = av->root;

	if (--av->refcount)
		return;
	kernel_obj_delete(m, KC_ANON_VMA, av, sizeof(*av), av->slab_obj);
	if (root != av && --root->refcount == 0)
		kernel_obj_delete(m, KC_ANON_VMA, root, sizeof(*root), root->slab_obj);
}

static struct anon_vma_chain *anon_vma_chain_alloc(memlab_machine *m, uint32_t gfp)
{
	uint64_t obj;
	struct anon_vma_chain *avc = kernel_obj_new_gfp(m, KC_ANON_VMA_CHAIN, sizeof(*avc),
							gfp, &obj);

	if (avc)
		avc->slab_obj = obj;
	return avc;
}

static void anon_vma_chain_free(memlab_machine *m, struct anon_vma_chain *avc)
{
	kernel_obj_delete(m, KC_ANON_VMA_CHAIN, avc, sizeof(*avc), avc->slab_obj);
}

/*
** anon_vma_interval_tree_insert() (mm/interval_tree.c): the chain goes on its anon_vma's list
** by its VMA's vm_pgoff, after the equal ones -- the order Linux's
** interval tree walks them in (a list where Linux keeps a tree).
*/
static void avc_insert(struct anon_vma_chain *avc)
{
	struct list_head *head = &avc->anon_vma->head, *pos = head->prev;

	while (pos != head && list_entry(pos, struct anon_vma_chain, same_anon_vma)->vma->vm_pgoff >
			      avc->vma->vm_pgoff)
		pos = pos->prev;
	list_add(&avc->same_anon_vma, pos);
}

static void anon_vma_chain_link(struct vm_area_struct *vma, struct anon_vma_chain *avc,
				struct anon_vma *av)
{
	avc->vma = vma;
	avc->anon_vma = av;
	list_add(&avc->same_vma, &vma->anon_vma_chain);
	avc_insert(avc);
}

/*
** anon_vma_interval_tree_pre_update_vma() and _post_update_vma(): the
** VMA's range or offset moved, each of its chains goes back in its place,
** after its equals.
*/
void anon_vma_relink(struct vm_area_struct *vma)
{
	for (struct list_head *l = vma->anon_vma_chain.next; l != &vma->anon_vma_chain; l = l->next) {
		struct anon_vma_chain *avc = list_entry(l, struct anon_vma_chain, same_vma);

		list_del(&avc->same_anon_vma);
		avc_insert(avc);
	}
}

/*
** __anon_vma_prepare(): the first write fault of a private VMA gives it
** an anon_vma -- a neighbour's when compatible (find_mergeable_anon_vma),
** else a new root -- and the chain to it.  0 or -ENOMEM, nothing taken.
*/
int anon_vma_prepare(struct vm_area_struct *vma)
{
	memlab_machine *m = vma->vm_mm->machine;
	struct anon_vma_chain *avc;
	struct anon_vma *av;

	if (vma->anon_vma)
		return 0;
	avc = anon_vma_chain_alloc(m, MEMLAB_GFP_KERNEL);
	if (!avc)
		return -MEMLAB_ENOMEM;
	av = find_mergeable_anon_vma(vma);
	if (!av) {
		av = anon_vma_alloc(m);
		if (!av) {
			anon_vma_chain_free(m, avc);
			return -MEMLAB_ENOMEM;
		}
		av->num_children++;	/* self-parent link for new root */
	}
	vma->anon_vma = av;
	anon_vma_chain_link(vma, avc, av);
	av->num_active_vmas++;
	return 0;
}

/*
** anon_vma_clone(): dst joins every anon_vma of src's chain, oldest first.
** A split, a merge and mremap's copy_vma() want an exact copy (dst->anon_vma
** is src's already); for fork (dst->anon_vma NULL) the first anon_vma that
** no VMA uses any more and that has fewer than two children is reused as
** dst's own, so that a process that forks for ever does not grow an
** endless chain (Linux 3.19's "prevent endless growth of anon_vma
** hierarchy").  Each link is tried GFP_NOWAIT first, then GFP_KERNEL.
** 0, or -ENOMEM with dst on no anon_vma.
*/
int anon_vma_clone(struct vm_area_struct *dst, const struct vm_area_struct *src)
{
	memlab_machine *m = dst->vm_mm->machine;

	for (struct list_head *pos = src->anon_vma_chain.prev; pos != &src->anon_vma_chain;
	     pos = pos->prev) {
		struct anon_vma *av = list_entry(pos, struct anon_vma_chain, same_vma)->anon_vma;
		struct anon_vma_chain *avc;

		avc = anon_vma_chain_alloc(m, MEMLAB_GFP_NOWAIT | MEMLAB___GFP_NOWARN);
		if (!avc && !(avc = anon_vma_chain_alloc(m, MEMLAB_GFP_KERNEL))) {
			dst->anon_vma = NULL;	/* its num_active_vmas was not raised */
			unlink_anon_vmas(dst);
			return -MEMLAB_ENOMEM;
		}
		anon_vma_chain_link(dst, avc, av);
		if (!dst->anon_vma && src->anon_vma && av->num_children < 2 &&
		    av->num_active_vmas == 0)
			dst->anon_vma = av;
	}
	if (dst->anon_vma)
		dst->anon_vma->num_active_vmas++;
	return 0;
}

/*
** anon_vma_fork(): the child's copy vma of pvma joins pvma's anon_vmas (the
** pages they still share are on them) and gets one of its own for the
** pages it will copy -- a reused one, or a new child of pvma's.  Nothing
** to do when pvma has none.  0 or -ENOMEM, vma then on no anon_vma.
*/
int anon_vma_fork(struct vm_area_struct *vma, const struct vm_area_struct *pvma)
{
	memlab_machine *m = vma->vm_mm->machine;
	struct anon_vma_chain *avc;
	struct anon_vma *av;

	if (!pvma->anon_vma)
		return 0;
	vma->anon_vma = NULL;
	if (anon_vma_clone(vma, pvma))
		return -MEMLAB_ENOMEM;
	if (vma->anon_vma)	/* an existing anon_vma was reused */
		return 0;
	av = anon_vma_alloc(m);
	if (!av)
		goto out_error;
	av->num_active_vmas++;
	avc = anon_vma_chain_alloc(m, MEMLAB_GFP_KERNEL);
	if (!avc) {
		put_anon_vma(m, av);
		goto out_error;
	}
	av->root = pvma->anon_vma->root;
	av->parent = pvma->anon_vma;
	av->root->refcount++;	/* get_anon_vma(): the root lives while av does */
	vma->anon_vma = av;
	anon_vma_chain_link(vma, avc, av);
	av->parent->num_children++;
	return 0;
out_error:
	unlink_anon_vmas(vma);
	return -MEMLAB_ENOMEM;
}

/*
** unlink_anon_vmas(): vma leaves every anon_vma of its chain, newest
** first; an anon_vma no chain links to any more leaves its parent's
** children and is put (the root last, so it goes last).
*/
void unlink_anon_vmas(struct vm_area_struct *vma)
{
	memlab_machine *m = vma->vm_mm->machine;
	struct list_head *pos, *n;

	for (pos = vma->anon_vma_chain.next; pos != &vma->anon_vma_chain; pos = n) {
		struct anon_vma_chain *avc = list_entry(pos, struct anon_vma_chain, same_vma);
		struct anon_vma *av = avc->anon_vma;

		n = pos->next;
		list_del(&avc->same_anon_vma);
		if (list_empty(&av->head)) {	/* freed below, outside Linux's lock */
			av->parent->num_children--;
			continue;
		}
		list_del(&avc->same_vma);
		anon_vma_chain_free(m, avc);
	}
	if (vma->anon_vma) {
		vma->anon_vma->num_active_vmas--;
		vma->anon_vma = NULL;
	}
	for (pos = vma->anon_vma_chain.next; pos != &vma->anon_vma_chain; pos = n) {
		struct anon_vma_chain *avc = list_entry(pos, struct anon_vma_chain, same_vma);

		n = pos->next;
		put_anon_vma(m, avc->anon_vma);
		list_del(&avc->same_vma);
		anon_vma_chain_free(m, avc);
	}
}

/* ===================== the walk ===================== */

/* The anon_vma is on vma's chain: vma may map its pages. */
static bool anon_vma_in_chain(const struct vm_area_struct *vma, const struct anon_vma *av)
{
	for (const struct list_head *pos = vma->anon_vma_chain.next;
	     pos != &vma->anon_vma_chain; pos = pos->next)
		if (list_entry(pos, const struct anon_vma_chain, same_vma)->anon_vma == av)
			return true;
	return false;
}

/* vma_address(): where vma would map the page at index, or 1 (never page-aligned) if it cannot. */
static uint64_t vma_address(const struct vm_area_struct *vma, uint64_t index)
{
	uint64_t shift = vma->vm_mm->machine->page_shift;

	if (index < vma->vm_pgoff || index - vma->vm_pgoff >= vma_pages(vma))
		return 1;
	return vma->vm_start + ((index - vma->vm_pgoff) << shift);
}

static bool vma_may_map(const struct vm_area_struct *vma, const struct page *page)
{
	if (page_anon(page))
		return anon_vma_in_chain(vma, (const struct anon_vma *)
					 (page->mapping & ~(uintptr_t)PAGE_MAPPING_ANON));
	return vma->vm_file && (uintptr_t)vma->vm_file == page->mapping;
}

/* The entry of t's tables at addr maps frame pfn there (a huge leaf: its page at addr). */
static bool pte_maps(memlab_task *t, uint64_t addr, uint64_t pfn)
{
	struct pt_walk w;

	pt_walk(t->m, t->mm, addr, &w);
	return w.nr_levels && pt_prot_maps(&w.prot) && !w.prot.special &&
	       w.pfn + ((addr & (pt_level_size(&t->mm->pt, w.level) - 1)) >> t->m->page_shift) == pfn;
}

/*
** rmap_walk_file(): the VMAs on the file's i_mmap whose range covers the
** page's offset (index), in the tree's order (by vm_pgoff, then as inserted),
** each in the task that stands for its mm.  A fork's child is among them
** from the moment dup_mmap links its copy.
*/
static void rmap_walk_file(const struct page *folio, uint64_t index, uint64_t pfn, rmap_fn fn,
			   void *ud)
{
	const struct memlab_file *f = (const struct memlab_file *)folio->mapping;

	for (const struct list_head *l = f->i_mmap.next; l != &f->i_mmap; l = l->next) {
		struct vm_area_struct *v = list_entry(l, struct vm_area_struct, shared);
		uint64_t addr;

		if (v->vm_pgoff > index)
			return;		/* none after it starts low enough */
		if ((addr = vma_address(v, index)) != 1 && pte_maps(v->vm_mm->owner, addr, pfn) &&
		    !fn(v->vm_mm->owner, v, addr, ud))
			return;
	}
}

/*
** rmap_walk_anon(): the VMAs linked to the folio's anon_vma whose range
** covers the page's offset (index), in the interval tree's order, each in
** the task that stands for its mm.  A mapped page's anon_vma lives: every
** VMA that maps the page is linked to it.
*/
static void rmap_walk_anon(const struct page *folio, uint64_t index, uint64_t pfn, rmap_fn fn,
			   void *ud)
{
	const struct anon_vma *av = (const struct anon_vma *)(folio->mapping & ~(uintptr_t)PAGE_MAPPING_ANON);

	for (const struct list_head *l = av->head.next; l != &av->head; l = l->next) {
		struct vm_area_struct *v = list_entry(l, const struct anon_vma_chain,
						      same_anon_vma)->vma;
		memlab_task *t = v->vm_mm->owner;
		uint64_t addr;

		if (v->vm_pgoff > index)
			return;		/* none after it starts low enough */
		addr = vma_address(v, index);
		if (addr != 1 && pte_maps(t, addr, pfn) && !fn(t, v, addr, ud))
			return;
	}
}

/*
** rmap_walk(): fn(task, address, ud) for every page-table entry mapping
** the frame (not the zero page) -- a page of a large folio: the PTEs
** that map it and the PMDs that map the folio, at the page's address --
** without allocating, until fn returns false.  fn may change the entry
** it is given.  A fork's child is seen while dup_mmap copies it: its VMAs
** joined the anon_vmas (anon_vma_fork) and the files' i_mmap before its
** entries were copied, and reclaim the copy's page tables cause must
** reach them.
*/
void rmap_walk(memlab_machine *m, uint64_t pfn, rmap_fn fn, void *ud)
{
	const struct page *folio;

	if (pfn >= m->nr_frames)
		return;
	folio = pfn_folio(m, pfn);
	if (!folio->mapping || page_mapcount(m, pfn) <= 0)
		return;
	if (page_anon(folio))
		rmap_walk_anon(folio, folio->index + (pfn - folio_pfn(m, pfn)), pfn, fn, ud);
	else	/* the page's own index: a large folio's tail is at the head's plus its place */
		rmap_walk_file(folio, folio->index + (pfn - folio_pfn(m, pfn)), pfn, fn, ud);
}

/*
** Whether an mm other than mm maps a page of the large folio at head
** (include/linux/mm.h folio_maybe_mapped_shared(), asked of the page
** tables): the VMAs of its anon_vma, or of its file's i_mmap.
*/
/* Whether VMA v of another mm than mm maps a page of the folio at head. */
static bool vma_maps_folio(const struct vm_area_struct *v, const struct page *folio, uint64_t head,
			   const struct mm_struct *mm)
{
	uint64_t nr = folio_nr_pages(folio), addr;

	if (v->vm_mm == mm)
		return false;
	for (uint64_t i = 0; i < nr; i++)
		if ((addr = vma_address(v, folio->index + i)) != 1 &&
		    pte_maps(v->vm_mm->owner, addr, head + i))
			return true;
	return false;
}

bool folio_mapped_elsewhere(memlab_machine *m, uint64_t head, const struct mm_struct *mm)
{
	const struct page *folio = pfn_to_page(m, head);
	uint64_t nr = folio_nr_pages(folio);

	if (!page_anon(folio)) {	/* the file's i_mmap, by vm_pgoff */
		const struct memlab_file *f = (const struct memlab_file *)folio->mapping;

		for (const struct list_head *l = f->i_mmap.next; l != &f->i_mmap; l = l->next) {
			const struct vm_area_struct *v = list_entry(l, struct vm_area_struct, shared);

			if (v->vm_pgoff >= folio->index + nr)
				break;
			if (vma_maps_folio(v, folio, head, mm))
				return true;
		}
		return false;
	}
	const struct anon_vma *av = (const struct anon_vma *)(folio->mapping & ~(uintptr_t)PAGE_MAPPING_ANON);

	for (const struct list_head *l = av->head.next; l != &av->head; l = l->next) {
		struct vm_area_struct *v = list_entry(l, const struct anon_vma_chain,
						      same_anon_vma)->vma;

		if (v->vm_pgoff >= folio->index + nr)
			break;
		if (vma_maps_folio(v, folio, head, mm))
			return true;
	}
	return false;
}

/*
** Whether unmapping the large anonymous folio at head for a split leaves
** it partially mapped on the way (mm/huge_memory.c __folio_split's unmap_folio ->
** try_to_migrate: its VMAs in rmap_walk()'s order, in each the PMD or the
** PTEs in address order): then __folio_remove_rmap() queues it for a
** deferred split, and counts it, before the split takes it off again.
*/
bool folio_unmap_goes_partial(memlab_machine *m, uint64_t head)
{
	const struct page *folio = pfn_to_page(m, head);
	const struct anon_vma *av = (const struct anon_vma *)(folio->mapping & ~(uintptr_t)PAGE_MAPPING_ANON);
	uint64_t nr = folio_nr_pages(folio);
	int entire = folio_entire_mapcount(folio), mapped = folio_nr_pages_mapped(folio);
	int32_t *cnt = ml_alloc(m, nr * sizeof(*cnt));
	bool partial = false;

	if (!cnt)
		return false;
	for (uint64_t i = 0; i < nr; i++)
		cnt[i] = folio[i].mapcount;
	for (const struct list_head *l = av->head.next; l != &av->head && !partial; l = l->next) {
		struct vm_area_struct *v = list_entry(l, const struct anon_vma_chain,
						      same_anon_vma)->vma;
		struct pt_walk w;
		uint64_t addr;

		if (v->vm_pgoff >= folio->index + nr)
			break;
		for (uint64_t i = 0; i < nr && !partial; i++) {
			if ((addr = vma_address(v, folio->index + i)) == 1 ||
			    !pte_maps(v->vm_mm->owner, addr, head + i))
				continue;
			pt_walk(m, v->vm_mm, addr, &w);
			if (w.level) {		/* the PMD: every page at once */
				partial = !--entire && mapped && (uint64_t)mapped < nr;
				break;
			}
			if (!--cnt[i] && --mapped && !entire)
				partial = true;
		}
	}
	ml_free(m, cnt, nr * sizeof(*cnt));
	return partial;
}

/* The anon_vma of that id that some VMA is linked to, or NULL. */
static const struct anon_vma *anon_vma_by_id(memlab_machine *m, uint64_t id)
{
	memlab_task *t;

	for_each_mm_task(m, t)
		for (const struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next)
			for (const struct list_head *l = v->anon_vma_chain.next;
			     l != &v->anon_vma_chain; l = l->next) {
				const struct anon_vma *av =
					list_entry(l, const struct anon_vma_chain, same_vma)->anon_vma;

				if (av->id == id)
					return av;
			}
	return NULL;
}

int memlab_anon_vma(memlab_machine *m, uint64_t id, struct memlab_anon_vma_info *out)
{
	const struct anon_vma *av;

	if (!m || !out)
		return -MEMLAB_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!(av = anon_vma_by_id(m, id)))
		return -MEMLAB_ENOENT;
	out->id = av->id;
	out->parent = av->parent->id;
	out->root = av->root->id;
	out->num_children = av->num_children;
	out->num_active_vmas = av->num_active_vmas;
	out->refcount = av->refcount;
	for (const struct list_head *l = av->head.next; l != &av->head; l = l->next)
		out->chains++;
	return 0;
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

/* page_mkclean_one() for a shared mapping (invalid_mkclean_vma() skips the rest). */
static bool page_mkclean_one(memlab_task *t, struct vm_area_struct *v, uint64_t addr, void *ud)
{
	struct pt_walk w;

	if (!(v->vm_flags & VM_SHARED))
		return true;
	pt_walk(t->m, t->mm, addr, &w);
	if (!w.prot.write && !w.prot.dirty)
		return true;
	(*(int *)ud)++;
	w.prot.write = w.prot.dirty = false;
	if (w.level) {		/* a huge PMD: pmdp_invalidate, then clean and read-only */
		uint64_t size = pt_level_size(&t->mm->pt, w.level), table;
		unsigned level;

		if (!pt_leaf_slot(t->m, t->mm, addr, &table, &level))
			pt_write(t->m, table, pt_index(&t->mm->pt, level, addr),
				 pt_mkentry(&t->mm->pt, (int)level, w.pfn, w.prot));
		flush_tlb_range(t, addr & ~(size - 1), (addr & ~(size - 1)) + size);
		return true;
	}
	set_pte_at(t, addr, w.pfn, w.prot);
	flush_tlb_page(t, addr);	/* page_vma_mkclean_one(): ptep_clear_flush */
	return true;
}

/*
** folio_mkclean(): before a file page is written back, every shared
** mapping's entry for it becomes clean and read-only, so that the next
** write through the mapping faults (do_wp_page -> wp_page_shared) and
** dirties the page again; the mappings in rmap_walk()'s order.  Returns
** how many entries it cleaned.
*/
int folio_mkclean(memlab_machine *m, uint64_t pfn)
{
	int cleaned = 0;

	rmap_walk(m, pfn, page_mkclean_one, &cleaned);
	return cleaned;
}

/* ===================== the invariants ===================== */

struct rmap_check {
	memlab_machine *m;
	struct ml_check v;
	uint32_t *mapped;		/* PTEs seen per frame */
	uint32_t *pmd_mapped;		/* PMDs seen per large folio's head */
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
	uint64_t head = folio_pfn(c->m, pfn);
	const struct page *folio = pfn_to_page(c->m, head), *page = pfn_to_page(c->m, pfn);
	uint64_t index = folio->index + (pfn - head);
	int pid = c->t->pid;

	if (!(folio->flags & PG_head_alloc) || folio->_refcount <= 0) {
		rmap_violation(c, "rmap: pid %d va %#llx maps pfn %#llx, a frame not in use",
			       pid, (unsigned long long)va, (unsigned long long)pfn);
		return;
	}
	if (!vma_may_map(vma, folio) || vma_address(vma, index) != va) {
		char owner[160];

		page_owner(folio, owner, sizeof(owner));
		rmap_violation(c, "rmap: pid %d va %#llx maps pfn %#llx (%s, index %#llx), which "
			       "its VMA cannot reach", pid, (unsigned long long)va,
			       (unsigned long long)pfn, owner, (unsigned long long)index);
	}
	if (p->write && !(vma->vm_flags & VM_SHARED) &&
	    !(page_anon(folio) && (page->flags & PG_anon_exclusive)))
		rmap_violation(c, "rmap: pid %d va %#llx: writable private entry for a page "
			       "that is not exclusively its own (pfn %#llx)", pid,
			       (unsigned long long)va, (unsigned long long)pfn);
	if (p->write && (vma->vm_flags & VM_SHARED) && vma->vm_file && !vma->vm_file->shmem &&
	    !page_anon(folio) && !(folio->flags & PG_dirty))
		rmap_violation(c, "rmap: pid %d va %#llx: writable entry for a clean page of %s "
			       "(pfn %#llx): a write through it would never reach the file", pid,
			       (unsigned long long)va, vma->vm_file->path, (unsigned long long)pfn);
	if (!page_anon(folio) && vma->vm_file && !vma->vm_file->huge_shift &&
	    index + (level ? folio_nr_pages(folio) - 1 : 0) >= i_size_pages(vma->vm_file))
		rmap_violation(c, "rmap: pid %d va %#llx maps page %llu of %s, past its end (%llu "
			       "bytes): a fault there is SIGBUS", pid, (unsigned long long)va,
			       (unsigned long long)index, vma->vm_file->path,
			       (unsigned long long)vma->vm_file->size);
	if (folio->flags & PG_not_uptodate)
		rmap_violation(c, "rmap: pid %d va %#llx maps pfn %#llx, a page not up to date", pid,
			       (unsigned long long)va, (unsigned long long)pfn);
	(level ? c->pmd_mapped : c->mapped)[pfn]++;
	c->rss[page_anon(folio) ? MM_ANONPAGES :
	       folio->flags & PG_swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES] +=
		pt_level_size(&c->t->mm->pt, level) >> c->m->page_shift;
	if (level && (head != pfn || folio->private != hpage_pmd_order(c->m)))
		rmap_violation(c, "rmap: pid %d va %#llx: a huge entry for pfn %#llx, not the head "
			       "of a huge page", pid, (unsigned long long)va, (unsigned long long)pfn);
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
	uint64_t deferred_split;	/* large folios marked as queued for the deferred split */
	uint64_t nr_anon[MTHP_NR_ORDERS], partially_mapped[MTHP_NR_ORDERS];	/* by order */
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

/*
** A large folio: each page's mapcount its PTEs, the folio's entire
** mapcount its PMDs, its pages mapped and its references as they say
** (a page-cache folio: one more per page, the cache's), and an anonymous
** folio that lost some pages' mappings marked for the deferred split.
*/
static void check_large_folio(struct rmap_check *c, uint64_t head, struct page_counts *n)
{
	const struct page *folio = pfn_to_page(c->m, head);
	uint64_t nr = folio_nr_pages(folio);
	bool anon = page_anon(folio);
	int entire = folio_entire_mapcount(folio), mapped = 0, mapcount = entire;
	int held = anon ? 0 : (int)nr;

	for (uint64_t i = 0; i < nr; i++) {
		if ((int64_t)c->mapped[head + i] != folio[i].mapcount)
			rmap_violation(c, "rmap: pfn %#llx has mapcount %d, PTEs map it %u times",
				       (unsigned long long)(head + i), folio[i].mapcount,
				       c->mapped[head + i]);
		mapped += folio[i].mapcount > 0;
		mapcount += folio[i].mapcount;
	}
	if ((int64_t)c->pmd_mapped[head] != entire)
		rmap_violation(c, "rmap: huge page %#llx has entire_mapcount %d, PMDs map it %u "
			       "times", (unsigned long long)head, entire, c->pmd_mapped[head]);
	if (mapped != folio_nr_pages_mapped(folio))
		rmap_violation(c, "rmap: huge page %#llx has nr_pages_mapped %d, PTEs map %d of "
			       "its pages", (unsigned long long)head, folio_nr_pages_mapped(folio),
			       mapped);
	if (folio->_refcount != mapcount + held &&
	    folio->_refcount != mapcount + held + (int)folio_batch_refs(c->m, head))
		rmap_violation(c, "rmap: huge page %#llx has refcount %d for %d mappings%s",
			       (unsigned long long)head, folio->_refcount, mapcount,
			       held ? " and the page cache" : "");
	if (!anon) {
		n->mapped += entire ? nr : (uint64_t)mapped;
		n->cache += nr;
		if ((folio->flags & PG_dirty) && !(folio->flags & PG_swapbacked))
			n->dirty += nr;
		check_cached(c, head, folio);
		return;
	}
	if (!entire && mapped && (uint64_t)mapped < nr && !(folio->flags & PG_partially_mapped))
		rmap_violation(c, "rmap: huge page %#llx maps %d of its pages and is not queued "
			       "for a deferred split", (unsigned long long)head, mapped);
	if ((folio->flags & PG_partially_mapped) && !(folio->flags & PG_deferred_split))
		rmap_violation(c, "rmap: huge page %#llx is partially mapped but not on the "
			       "deferred split queue", (unsigned long long)head);
	n->deferred_split += !!(folio->flags & PG_deferred_split);
	n->nr_anon[folio->private]++;
	n->partially_mapped[folio->private] += !!(folio->flags & PG_partially_mapped);
	if (mapcount)
		n->anon += entire ? nr : (uint64_t)mapped;
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
		if (nr > 1 && page->mapping) {
			check_large_folio(c, pfn, n);
			pfn += nr - 1;
			continue;
		}
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

/* A memcg's count of queued folios (the shrinker's freeable) is right. */
static void check_deferred_split_len(struct rmap_check *c, const struct mem_cgroup *memcg)
{
	memlab_machine *m = c->m;
	uint64_t n = 0;

	for (uint32_t p = m->deferred_split.head; p != PFN_NONE; p = pfn_to_page(m, p)[2].lru_next)
		n += pfn_to_page(m, p)->memcg_id == memcg->id;
	if (n != memcg->deferred_split_len)
		rmap_violation(c, "thp: memcg %u counts %llu huge pages on the deferred split "
			       "queue, it has %llu", memcg->id,
			       (unsigned long long)memcg->deferred_split_len, (unsigned long long)n);
}

/*
** The deferred split queue: linked both ways, each folio on it a large
** anonymous one marked so, as many as check_frames found marked.
*/
static void check_deferred_split(struct rmap_check *c, uint64_t marked)
{
	memlab_machine *m = c->m;
	uint32_t prev = PFN_NONE, p = m->deferred_split.head;
	uint64_t n = 0;

	for (; p != PFN_NONE && n <= marked; prev = p, p = pfn_to_page(m, p)[2].lru_next, n++) {
		const struct page *folio = pfn_to_page(m, p);

		if (p >= m->nr_frames || !(folio->flags & PG_deferred_split) ||
		    folio_nr_pages(folio) < 4 || !page_anon(folio) || folio[2].lru_prev != prev) {
			rmap_violation(c, "thp: the deferred split queue holds pfn %#llx, not a "
				       "queued huge page or wrongly linked", (unsigned long long)p);
			return;
		}
	}
	if (n != marked || m->deferred_split.tail != prev) {
		rmap_violation(c, "thp: the deferred split queue links %llu huge pages, %llu are "
			       "marked queued", (unsigned long long)n, (unsigned long long)marked);
		return;
	}
	for (unsigned id = 1; id < m->memcg_idr_size; id++)
		if (m->memcg_idr[id])
			check_deferred_split_len(c, m->memcg_idr[id]);
}

static void check_count(struct rmap_check *c, const char *name, uint64_t have, uint64_t want)
{
	if (have != want)
		rmap_violation(c, "vmstat %s is %llu, the frames hold %llu", name,
			       (unsigned long long)have, (unsigned long long)want);
}

/* hugepages-<size>kB/stats/nr_anon and nr_anon_partially_mapped: the large anonymous folios. */
static void check_mthp_counts(struct rmap_check *c, const struct page_counts *n)
{
	const memlab_machine *m = c->m;

	for (unsigned o = 1; o < MTHP_NR_ORDERS; o++) {
		const uint64_t *st = m->mthp_stats[o];

		if (st[MTHP_STAT_NR_ANON] != n->nr_anon[o] ||
		    st[MTHP_STAT_NR_ANON_PARTIALLY_MAPPED] != n->partially_mapped[o])
			rmap_violation(c, "hugepages-%llukB: nr_anon %llu, nr_anon_partially_mapped "
				       "%llu; the frames hold %llu and %llu",
				       (unsigned long long)(m->page_size >> 10) << o,
				       (unsigned long long)st[MTHP_STAT_NR_ANON],
				       (unsigned long long)st[MTHP_STAT_NR_ANON_PARTIALLY_MAPPED],
				       (unsigned long long)n->nr_anon[o],
				       (unsigned long long)n->partially_mapped[o]);
	}
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
	struct rmap_check c = { m, { fn, ud, 0 }, NULL, NULL, NULL, NULL, NULL, { 0 } };
	struct page_counts n = { 0 };
	const uint64_t *v = m->vmstat;
	memlab_task *t;

	size_t swap_bytes = m->swap ? (size_t)(m->swap->pages + 1) * sizeof(uint32_t) : 0;

	c.mapped = ml_alloc(m, (size_t)m->nr_frames * sizeof(uint32_t));
	c.pmd_mapped = ml_alloc(m, (size_t)m->nr_frames * sizeof(uint32_t));
	c.swap_refs = swap_bytes ? ml_alloc(m, swap_bytes) : NULL;
	if (!c.mapped || !c.pmd_mapped || (swap_bytes && !c.swap_refs)) {
		rmap_violation(&c, "check: out of host memory");
		ml_free(m, c.mapped, (size_t)m->nr_frames * sizeof(uint32_t));
		ml_free(m, c.pmd_mapped, (size_t)m->nr_frames * sizeof(uint32_t));
		ml_free(m, c.swap_refs, swap_bytes);
		return c.v.count;
	}
	for_each_mm_task(m, t)
		check_task(&c, t);
	check_frames(&c, &n);
	check_deferred_split(&c, n.deferred_split);
	c.v.count += swap_check(m, c.swap_refs, fn, ud);
	ml_free(m, c.mapped, (size_t)m->nr_frames * sizeof(uint32_t));
	ml_free(m, c.pmd_mapped, (size_t)m->nr_frames * sizeof(uint32_t));
	ml_free(m, c.swap_refs, swap_bytes);
	check_count(&c, "nr_anon_pages", v[NR_ANON_PAGES], n.anon);
	check_count(&c, "nr_mapped", v[NR_MAPPED], n.mapped);
	check_count(&c, "nr_inactive_anon", v[NR_INACTIVE_ANON] + v[NR_ACTIVE_ANON], n.lru_anon);
	check_count(&c, "nr_inactive_file", v[NR_INACTIVE_FILE] + v[NR_ACTIVE_FILE], n.lru_file);
	check_count(&c, "nr_unevictable", v[NR_UNEVICTABLE], n.unevictable);
	check_count(&c, "nr_dirty", v[NR_DIRTY], n.dirty);
	check_count(&c, "nr_file_pages", v[NR_FILE_PAGES], n.cache);
	check_count(&c, "nr_shmem", v[NR_SHMEM], n.shmem);
	check_mthp_counts(&c, &n);
	return c.v.count;
}

/* ===================== the anon_vma invariants ===================== */

#define for_each_avc(avc, pos, vma) \
	for (const struct list_head *pos = (vma)->anon_vma_chain.next; \
	     pos != &(vma)->anon_vma_chain && \
	     ((avc) = list_entry(pos, const struct anon_vma_chain, same_vma), 1); \
	     pos = pos->next)

/*
** Every anon_vma_chain of every VMA (avcs) or, with anon_vmas, each chain's
** anon_vma, into out[] if given; their count.
*/
static size_t collect_chains(memlab_machine *m, bool anon_vmas, const void **out)
{
	const struct anon_vma_chain *avc;
	memlab_task *t;
	size_t n = 0;

	for_each_mm_task(m, t)
		for (struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next)
			for_each_avc(avc, pos, v) {
				if (out)
					out[n] = anon_vmas ? (const void *)avc->anon_vma : avc;
				n++;
			}
	return n;
}

/* Sorted, and each once; the count left. */
static size_t sort_unique(const void **p, size_t n)
{
	size_t u = 0;

	qsort(p, n, sizeof(*p), ml_compare_ptrs);
	for (size_t i = 0; i < n; i++)
		if (!u || p[u - 1] != p[i])
			p[u++] = p[i];
	return u;
}

/*
** The anon_vmas (each once) or the anon_vma_chains the VMAs reach, sorted,
** in an array of *cap (for ml_free); NULL without host memory.
*/
static const void **reached(memlab_machine *m, bool anon_vmas, size_t *n, size_t *cap)
{
	const void **p;

	*cap = collect_chains(m, anon_vmas, NULL);
	*cap += !*cap;
	*n = 0;
	p = ml_alloc(m, *cap * sizeof(*p));
	if (!p)
		return NULL;
	*n = sort_unique(p, collect_chains(m, anon_vmas, p));
	return p;
}

/*
** The slab objects of the anon_vma (or anon_vma_chain) cache that memlab's
** anon_vmas (chains) own, into addrs[] if given; their count.
*/
size_t anon_vma_objects(memlab_machine *m, enum kernel_cache kc, uint64_t *addrs)
{
	bool avs = kc == KC_ANON_VMA;
	size_t n, cap;
	const void **p = reached(m, avs, &n, &cap);

	if (!p)
		return 0;
	for (size_t i = 0; addrs && i < n; i++)
		addrs[i] = avs ? ((const struct anon_vma *)p[i])->slab_obj
			       : ((const struct anon_vma_chain *)p[i])->slab_obj;
	ml_free(m, p, cap * sizeof(*p));
	return n;
}

struct av_census {
	struct ml_check v;
	const void **avs;		/* every anon_vma reached, sorted */
	size_t n;
	unsigned *active, *children;	/* counted for avs[i] */
	int *refs;
};

/* The index of av in c->avs, or -1 when no VMA's chain reaches it. */
static long av_index(const struct av_census *c, const struct anon_vma *av)
{
	const void **hit = bsearch(&av, c->avs, c->n, sizeof(*c->avs), ml_compare_ptrs);

	return hit ? (long)(hit - c->avs) : -1;
}

/* One VMA: its chain is its own, has no anon_vma twice, holds its anon_vma and their parents. */
static void check_vma_chain(struct av_census *c, memlab_task *t, const struct vm_area_struct *v)
{
	const struct anon_vma_chain *avc, *other;
	bool own = false;

	for_each_avc(avc, pos, v) {
		bool parent = false;
		int seen = 0;

		own |= avc->anon_vma == v->anon_vma;
		for_each_avc(other, opos, v) {
			seen += other->anon_vma == avc->anon_vma;
			parent |= other->anon_vma == avc->anon_vma->parent;
		}
		if (avc->vma != v || seen != 1 || !parent)
			ml_violation(&c->v, "anon_vma: pid %d VMA %#llx: its chain to anon_vma %llu "
				     "%s", t->pid, (unsigned long long)v->vm_start,
				     (unsigned long long)avc->anon_vma->id,
				     avc->vma != v ? "belongs to another VMA" :
				     seen != 1 ? "is there twice" : "lacks the anon_vma's parent");
		c->active[av_index(c, avc->anon_vma)] += avc->anon_vma == v->anon_vma;
	}
	if (v->anon_vma && !own)
		ml_violation(&c->v, "anon_vma: pid %d VMA %#llx: its anon_vma %llu is not on its chain",
			     t->pid, (unsigned long long)v->vm_start,
			     (unsigned long long)v->anon_vma->id);
}

/*
** The chains on the anon_vmas' lists are those on the VMAs' lists, each
** list in its VMAs' vm_pgoff order.
*/
static void check_heads(struct av_census *c, memlab_machine *m)
{
	size_t nr_vma_side, vma_cap, nr = 0, cap = 0;
	const void **vma_side = reached(m, false, &nr_vma_side, &vma_cap), **heads;

	for (size_t i = 0; i < c->n; i++)
		for (const struct list_head *p = ((const struct anon_vma *)c->avs[i])->head.next;
		     p != &((const struct anon_vma *)c->avs[i])->head; p = p->next)
			cap++;
	heads = ml_alloc(m, (cap ? cap : 1) * sizeof(*heads));
	if (vma_side && heads) {
		for (size_t i = 0; i < c->n; i++) {
			const struct anon_vma *av = c->avs[i];
			uint64_t pgoff = 0;

			for (const struct list_head *p = av->head.next; p != &av->head; p = p->next) {
				const struct anon_vma_chain *avc =
					list_entry(p, const struct anon_vma_chain, same_anon_vma);

				heads[nr++] = avc;
				if (avc->anon_vma != av)
					ml_violation(&c->v, "anon_vma %llu: a chain on its list "
						     "links another anon_vma", (unsigned long long)av->id);
				else if (avc->vma->vm_pgoff < pgoff)
					ml_violation(&c->v, "anon_vma %llu: its chains are out of "
						     "vm_pgoff order", (unsigned long long)av->id);
				pgoff = avc->vma->vm_pgoff;
			}
		}
		qsort(heads, nr, sizeof(*heads), ml_compare_ptrs);
		if (nr != nr_vma_side || memcmp(heads, vma_side, nr * sizeof(*heads)))
			ml_violation(&c->v, "anon_vma: the anon_vmas' lists hold %zu chains, the "
				     "VMAs %zu, not the same ones", nr, nr_vma_side);
	}
	ml_free(m, heads, (cap ? cap : 1) * sizeof(*heads));
	ml_free(m, vma_side, vma_cap * sizeof(*vma_side));
}

/*
** One anon_vma against what the census counted: its VMAs, its children,
** its references (1 for the chains to it; a root's 1 more per anon_vma of
** its hierarchy), and a root shared with its parent.
*/
static void check_anon_vma(struct av_census *c, size_t i)
{
	const struct anon_vma *av = c->avs[i];
	unsigned long long id = av->id;

	if (av->num_active_vmas != c->active[i])
		ml_violation(&c->v, "anon_vma %llu: num_active_vmas %u, %u VMAs use it", id,
			     av->num_active_vmas, c->active[i]);
	if (av->num_children != c->children[i])
		ml_violation(&c->v, "anon_vma %llu: num_children %u, %u anon_vmas name it their "
			     "parent", id, av->num_children, c->children[i]);
	if (av->refcount != c->refs[i])
		ml_violation(&c->v, "anon_vma %llu: refcount %d, %d references", id, av->refcount,
			     c->refs[i]);
	if (av->parent == av ? av->root != av : av->root != av->parent->root)
		ml_violation(&c->v, "anon_vma %llu: its root is not its parent's", id);
}

/*
** The anon_vmas and their chains (CONFIG_DEBUG_VM_RB's checks and more):
** each VMA's chain, the anon_vmas' lists, and each anon_vma's counters.
** Violations found.
*/
int anon_vma_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct av_census c = { .v = { fn, ud, 0 } };
	size_t cap;
	memlab_task *t;

	c.avs = reached(m, true, &c.n, &cap);
	c.active = ml_alloc(m, cap * sizeof(*c.active));
	c.children = ml_alloc(m, cap * sizeof(*c.children));
	c.refs = ml_alloc(m, cap * sizeof(*c.refs));
	if (c.avs && c.active && c.children && c.refs) {
		for (size_t i = 0; i < c.n; i++) {
			const struct anon_vma *av = c.avs[i];
			long parent = av_index(&c, av->parent), root = av_index(&c, av->root);

			c.refs[i]++;
			if (parent < 0 || root < 0)
				ml_violation(&c.v, "anon_vma %llu: its %s is reached by no VMA",
					     (unsigned long long)av->id, parent < 0 ? "parent" : "root");
			if (parent >= 0)
				c.children[parent]++;
			if (root >= 0 && av->root != av)
				c.refs[root]++;
		}
		for_each_mm_task(m, t)
			for (struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next)
				check_vma_chain(&c, t, v);
		check_heads(&c, m);
		for (size_t i = 0; i < c.n; i++)
			check_anon_vma(&c, i);
	}
	ml_free(m, c.refs, cap * sizeof(*c.refs));
	ml_free(m, c.children, cap * sizeof(*c.children));
	ml_free(m, c.active, cap * sizeof(*c.active));
	ml_free(m, c.avs, cap * sizeof(*c.avs));
	return c.v.count;
}
