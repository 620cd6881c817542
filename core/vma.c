/*
** vma.c -- the VMAs of an address space: the sorted list (mm->mmap) of
** Linux 4.x kept with the tree (mm->mm_mt, vma_tree.c), the per-task
** vmacache, splitting, and merging by Linux 6.12's rules (mm/vma.c:
** vma_merge_new_range, vma_merge_existing_range, vma_modify).
*/
#include <stdio.h>
#include <string.h>

#include "mm.h"

/* ===================== gaps ===================== */

uint64_t vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> vma->vm_mm->machine->page_shift;
}

/* The gap that follows vma changed: its successor's, or highest_vm_end. */
static void vma_next_gap_update(struct mm_struct *mm, struct vm_area_struct *vma)
{
	if (vma->vm_next)
		vma_tree_update(vma->vm_next);
	else
		mm->highest_vm_end = vm_end_gap(vma);
}

/* ===================== allocation ===================== */

/*
** A VMA is an object of the vm_area_struct cache (slab.c), charged to the
** task's memory cgroup, from vm_area_alloc() or vm_area_dup() to
** vm_area_free(), as in Linux.  The host struct that describes it is
** memlab's own: freed ones go on the machine's free list (m->vma_free)
** instead of back to the host, so that an mmap after a munmap costs no
** host allocation; the list is freed with the machine.  Under
** AddressSanitizer a VMA on the list is poisoned, so a use after free is
** still reported.
*/

/*
** A VMA for mm, its contents undefined but its slab object, with the tree
** nodes that linking it may need set aside (vma_tree_reserve()); NULL on
** failure, with nothing taken.  The object comes first: its allocation
** may reclaim and OOM-kill, and a victim's exit gives VMAs and tree nodes
** back, so the free list is read only once the object is had.
*/
static struct vm_area_struct *vm_area_get(struct mm_struct *mm)
{
	memlab_machine *m = mm->machine;
	struct vm_area_struct *vma;
	uint64_t obj;

	if (kernel_obj_alloc(m, KC_VM_AREA_STRUCT, &obj))
		return NULL;
	if (vma_tree_reserve(mm))
		goto err;
	vma = m->vma_free;
	if (vma) {		/* memlab's free list of host structs */
		ml_unpoison(vma, sizeof(*vma));
		m->vma_free = vma->vm_next;
	} else if (!(vma = ml_alloc(m, sizeof(*vma)))) {
		goto err;
	}
	vma->slab_obj = obj;
	return vma;
err:
	kernel_obj_free(m, KC_VM_AREA_STRUCT, obj);
	return NULL;
}

/* vm_area_alloc(): a zeroed VMA of mm; NULL on failure. */
struct vm_area_struct *vm_area_alloc(struct mm_struct *mm)
{
	struct vm_area_struct *vma = vm_area_get(mm);

	if (vma) {
		*vma = (struct vm_area_struct){ .vm_mm = mm, .slab_obj = vma->slab_obj };
		INIT_LIST_HEAD(&vma->anon_vma_chain);
		INIT_LIST_HEAD(&vma->shared);
	}
	return vma;
}

/*
** vm_area_dup() and __split_vma()'s anon_vma_clone(): an unlinked copy of
** orig that holds its own reference to the file and is on the anon_vmas
** of orig's chain; NULL on failure, with nothing taken.
*/
static struct vm_area_struct *vm_area_dup(struct vm_area_struct *orig)
{
	struct vm_area_struct *new = vm_area_get(orig->vm_mm);

	if (!new)
		return NULL;
	vm_area_init_from(orig, new);
	new->vm_leaf = NULL;
	if (new->vm_file)
		file_get(new->vm_file);
	if (anon_vma_clone(new, orig)) {
		vm_area_free(new);
		return NULL;
	}
	return new;
}

/*
** Free a VMA that is not linked: drop its file reference, leave its
** anon_vmas (unlink_anon_vmas(), which free_pgtables and a merge's
** vma_complete do in Linux), free its slab object; the host struct goes
** on the free list.
*/
void vm_area_free(struct vm_area_struct *vma)
{
	memlab_machine *m = vma->vm_mm->machine;

	if (vma->vm_file)
		file_put(vma->vm_file);
	unlink_anon_vmas(vma);
	kernel_obj_free(m, KC_VM_AREA_STRUCT, vma->slab_obj);
	vma->vm_next = m->vma_free;
	m->vma_free = vma;
	ml_poison_but_link(vma, vma->vm_next);
}

/* Give the free VMAs and tree nodes back to the host (memlab_destroy, after every task). */
void vm_area_cache_destroy(memlab_machine *m)
{
	while (m->vma_free) {
		struct vm_area_struct *vma = m->vma_free;

		ml_unpoison(vma, sizeof(*vma));
		m->vma_free = vma->vm_next;
		ml_free(m, vma, sizeof(*vma));
	}
	vma_node_cache_destroy(m);
}

/* ===================== linking ===================== */

void vma_set_file(struct vm_area_struct *vma, struct memlab_file *file)
{
	if (file)
		file_get(file);
	if (vma->vm_file)
		file_put(vma->vm_file);
	vma->vm_file = file;
}

/* ===================== the file's i_mmap ===================== */

/*
** A file's i_mmap holds the VMAs mapping it in the order Linux's
** vma_interval_tree (mm/interval_tree.c) walks them: by vm_pgoff, an insert going after the
** equal ones (right of an equal key).  A list where Linux keeps an
** augmented tree: the same order, found linearly.  As Linux's
** vma_prepare() and vma_complete() (mm/vma.c) do, a VMA whose range or offset moves
** is taken out and put back (after its equals again), and a split's new
** VMA goes in before the old one is put back.
*/
static void vma_link_file(struct vm_area_struct *vma)
{
	struct list_head *head = &vma->vm_file->i_mmap, *pos = head->prev;

	while (pos != head && list_entry(pos, struct vm_area_struct, shared)->vm_pgoff > vma->vm_pgoff)
		pos = pos->prev;
	list_add(&vma->shared, pos);
}

/* vma_interval_tree_insert_after(): a fork's copy, right after the parent's VMA (dup_mmap()). */
void vma_link_file_after(struct vm_area_struct *vma, struct vm_area_struct *orig)
{
	if (vma->vm_file && !list_empty(&orig->shared))
		list_add(&vma->shared, &orig->shared);
}

/*
** Its range or offset moved: to its place again, after its equals, on
** its file's i_mmap and on each of its anon_vmas' lists (vma_prepare()
** and vma_complete(), or expand_downwards(), take them out and put them
** back).
*/
static void vma_relink(struct vm_area_struct *vma)
{
	anon_vma_relink(vma);
	if (list_empty(&vma->shared))
		return;
	list_del_init(&vma->shared);
	vma_link_file(vma);
}

/*
** __vma_link(): insert vma, which overlaps nothing, right after prev (NULL:
** first) in the list and the tree (Linux 4.x __vma_link_list +
** __vma_link_rb; the tree finds the place from prev, with no search);
** map_count++.
*/
void __vma_link(struct mm_struct *mm, struct vm_area_struct *vma, struct vm_area_struct *prev)
{
	struct vm_area_struct *next = prev ? prev->vm_next : mm->mmap;

	vma->vm_prev = prev;
	vma->vm_next = next;
	if (prev)
		prev->vm_next = vma;
	else
		mm->mmap = vma;
	if (next)
		next->vm_prev = vma;
	vma_tree_insert(mm, vma);
	vma_next_gap_update(mm, vma);
	mm->map_count++;
	if (vma->vm_file && list_empty(&vma->shared))	/* __vma_link_file() */
		vma_link_file(vma);
}

/* The VMA before the first VMA next (or before none: the last VMA). */
struct vm_area_struct *vma_prev_or_last(struct mm_struct *mm, struct vm_area_struct *next)
{
	return next ? next->vm_prev : vma_tree_last(&mm->mm_mt);
}

/* vma_link(): __vma_link() after the VMA that precedes vma (a search, no vmacache). */
void vma_link(struct mm_struct *mm, struct vm_area_struct *vma)
{
	__vma_link(mm, vma, vma_prev_or_last(mm, vma_tree_find(&mm->mm_mt, vma->vm_start)));
}

/*
** __vma_unlink(): out of the tree and the list, the vmacache killed, but
** the gap after vma left stale.  Merges use it: each then moves the bounds
** of the VMA before that gap or after it, which recomputes the gap once
** (as Linux 4.x __vma_adjust() does) instead of opening a transient gap
** that is propagated up the tree and closed again.
*/
static void __vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *prev = vma->vm_prev, *next = vma->vm_next;

	vma_tree_erase(mm, vma);
	if (prev)
		prev->vm_next = next;
	else
		mm->mmap = next;
	if (next)
		next->vm_prev = prev;
	vma->vm_next = vma->vm_prev = NULL;
	mm->vmacache_seqnum++;
	mm->map_count--;
	if (!list_empty(&vma->shared))		/* __remove_shared_vm_struct() */
		list_del_init(&vma->shared);
}

/* vma_unlink(): out of the tree and the list; the gap it leaves is updated. */
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *prev = vma->vm_prev, *next = vma->vm_next;

	__vma_unlink(mm, vma);
	if (next)
		vma_tree_update(next);
	else
		mm->highest_vm_end = prev ? vm_end_gap(prev) : 0;
}

/*
** Move a linked VMA's bounds; it must still not overlap its neighbours.
** Its slot in the tree (its vm_end, its gap) and its successor's gap are
** updated.
*/
void vma_set_range(struct mm_struct *mm, struct vm_area_struct *vma,
		   uint64_t start, uint64_t end, uint64_t pgoff)
{
	bool end_moved = end != vma->vm_end;

	if (start == vma->vm_start && !end_moved) {
		vma->vm_pgoff = pgoff;
		vma_relink(vma);
		return;
	}
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_pgoff = pgoff;
	vma_tree_update(vma);
	if (end_moved)
		vma_next_gap_update(mm, vma);
	vma_relink(vma);
}

/*
** vma_shift_boundary(): move the boundary between lo and hi, adjacent
** VMAs, to addr (hi's pgoff follows its start).  Both bounds move before
** either slot is updated, so no transient gap opens between them (Linux
** 4.x __vma_adjust() with adjust_next); lo's slot goes first, since hi's
** is found by hi's new start, which lo's old key may still cover.
*/
static void vma_shift_boundary(struct vm_area_struct *lo, struct vm_area_struct *hi,
			       uint64_t addr)
{
	unsigned shift = lo->vm_mm->machine->page_shift;

	if (addr > hi->vm_start)
		hi->vm_pgoff += (addr - hi->vm_start) >> shift;
	else
		hi->vm_pgoff -= (hi->vm_start - addr) >> shift;
	lo->vm_end = addr;
	hi->vm_start = addr;
	vma_tree_update(lo);
	vma_tree_update(hi);
	vma_relink(hi);		/* vma_complete(): the adjusted neighbour, then the VMA; */
	vma_relink(lo);		/* their offsets differ, so the order is the lists' own */
}

/* ===================== lookup: the vmacache and the tree ===================== */

static inline unsigned vmacache_hash(const memlab_task *t, uint64_t addr)
{
	return (unsigned)(addr >> t->m->page_shift) & (VMACACHE_SIZE - 1);
}

/* vmacache_valid(): a stale sequence number flushes the task's cache. */
static bool vmacache_valid(memlab_task *t)
{
	if (t->vmacache_seqnum != t->mm->vmacache_seqnum) {
		t->vmacache_seqnum = t->mm->vmacache_seqnum;
		memset(t->vmacache, 0, sizeof(t->vmacache));
		return false;
	}
	return true;
}

static struct vm_area_struct *vmacache_find(memlab_task *t, uint64_t addr)
{
	unsigned idx = vmacache_hash(t, addr);

	if (!vmacache_valid(t))
		return NULL;
	for (int i = 0; i < VMACACHE_SIZE; i++) {
		struct vm_area_struct *vma = t->vmacache[idx];

		if (vma && vma->vm_start <= addr && vma->vm_end > addr)
			return vma;
		if (++idx == VMACACHE_SIZE)
			idx = 0;
	}
	return NULL;
}

/* find_vma(): the first VMA with vm_end > addr, or NULL. */
struct vm_area_struct *find_vma(memlab_task *t, uint64_t addr)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *vma = vmacache_find(t, addr);

	if (vma) {
		mm->vmacache_hits++;
		return vma;
	}
	mm->vmacache_misses++;
	vma = vma_tree_find(&mm->mm_mt, addr);
	if (vma && vmacache_valid(t))
		t->vmacache[vmacache_hash(t, addr)] = vma;
	return vma;
}

/* find_vma_prev(): find_vma() and the VMA before it (or the last VMA). */
struct vm_area_struct *find_vma_prev(memlab_task *t, uint64_t addr,
				     struct vm_area_struct **pprev)
{
	struct vm_area_struct *vma = find_vma(t, addr);

	*pprev = vma_prev_or_last(t->mm, vma);
	return vma;
}

/* find_vma_intersection(): the first VMA overlapping [start, end). */
struct vm_area_struct *find_vma_intersection(memlab_task *t, uint64_t start, uint64_t end)
{
	struct vm_area_struct *vma = find_vma(t, start);

	if (vma && end <= vma->vm_start)
		vma = NULL;
	return vma;
}

/* ===================== accounting ===================== */

bool is_exec_mapping(uint64_t flags)
{
	return (flags & (VM_EXEC | VM_WRITE | VM_STACK)) == VM_EXEC;
}

bool is_stack_mapping(uint64_t flags)
{
	return (flags & VM_STACK) == VM_STACK;
}

bool is_data_mapping(uint64_t flags)
{
	return (flags & (VM_WRITE | VM_SHARED | VM_STACK)) == VM_WRITE;
}

/* vm_stat_account(): total_vm and the first class that matches. */
void vm_stat_account(struct mm_struct *mm, uint64_t flags, int64_t npages)
{
	if (npages < 0 && mm->hiwater_vm < mm->total_vm)
		mm->hiwater_vm = mm->total_vm;	/* update_hiwater_vm() */
	mm->total_vm += npages;
	if (is_exec_mapping(flags))
		mm->exec_vm += npages;
	else if (is_stack_mapping(flags))
		mm->stack_vm += npages;
	else if (is_data_mapping(flags))
		mm->data_vm += npages;
}

/* may_expand_vm(): RLIMIT_AS on total_vm, RLIMIT_DATA on data mappings. */
bool may_expand_vm(memlab_task *t, uint64_t flags, uint64_t npages)
{
	struct mm_struct *mm = t->mm;
	unsigned shift = t->m->page_shift;

	if (t->rlim.as != RLIM_INFINITY && mm->total_vm + npages > t->rlim.as >> shift)
		return false;
	if (is_data_mapping(flags) && t->rlim.data != RLIM_INFINITY &&
	    mm->data_vm + npages > t->rlim.data >> shift)
		return false;
	return true;
}

/* ===================== anon_vma ===================== */

/* anon_vma_compatible(): a and b could share one anon_vma. */
static bool anon_vma_compatible(const struct vm_area_struct *a, const struct vm_area_struct *b)
{
	unsigned shift = a->vm_mm->machine->page_shift;

	return a->vm_end == b->vm_start && a->vm_file == b->vm_file &&
	       !((a->vm_flags ^ b->vm_flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) &&
	       b->vm_pgoff == a->vm_pgoff + ((b->vm_start - a->vm_start) >> shift);
}

/* reusable_anon_vma(): old's anon_vma, if a and b are compatible and old no fork child. */
static struct anon_vma *reusable_anon_vma(const struct vm_area_struct *old,
					  const struct vm_area_struct *a,
					  const struct vm_area_struct *b)
{
	if (anon_vma_compatible(a, b) && old->anon_vma && list_is_singular(&old->anon_vma_chain))
		return old->anon_vma;
	return NULL;
}

/*
** find_mergeable_anon_vma(): a neighbour's anon_vma for anon_vma_prepare(),
** so that mprotect can merge the VMAs again.
*/
struct anon_vma *find_mergeable_anon_vma(struct vm_area_struct *vma)
{
	struct anon_vma *av = NULL;

	if (vma->vm_next)
		av = reusable_anon_vma(vma->vm_next, vma, vma->vm_next);
	if (!av && vma->vm_prev)
		av = reusable_anon_vma(vma->vm_prev, vma->vm_prev, vma);
	return av;
}

/*
** dup_anon_vma(): when a merge gives dst the pages of src and dst has no
** anon_vma, dst takes src's and joins src's chain.  0 or -ENOMEM, with
** dst unchanged.
*/
static int dup_anon_vma(struct vm_area_struct *dst, const struct vm_area_struct *src)
{
	if (src->anon_vma && !dst->anon_vma) {
		dst->anon_vma = src->anon_vma;
		return anon_vma_clone(dst, src);
	}
	return 0;
}

/* ===================== split ===================== */

/*
** vm_ops->may_split(): a special mapping is never split
** (special_mapping_split), a hugetlb VMA only at a huge page boundary
** (hugetlb_vm_op_split).  0 or -EINVAL.
*/
int vma_may_split(const struct vm_area_struct *vma, uint64_t addr)
{
	if (vma->special_name)
		return -MEMLAB_EINVAL;
	if (is_vm_hugetlb_page(vma) && (addr & (vma_kernel_pagesize(vma->vm_mm->machine, vma) - 1)))
		return -MEMLAB_EINVAL;
	return 0;
}

/*
** __split_vma(): cut vma at addr into two VMAs; the new one is the part
** below addr when new_below, else the part above.  0, -EINVAL where
** vma_may_split() refuses, or -ENOMEM.
*/
int __split_vma(struct mm_struct *mm, struct vm_area_struct *vma, uint64_t addr,
		int new_below)
{
	struct vm_area_struct *new;
	uint64_t delta = (addr - vma->vm_start) >> mm->machine->page_shift;
	int err;

	if ((err = vma_may_split(vma, addr)))
		return err;
	new = vm_area_dup(vma);
	if (!new)
		return -MEMLAB_ENOMEM;
	/*
	 * Linking new right next to vma recomputes the gap that changed (of
	 * new's successor) once; vma's new end, its key, is set first.
	 */
	if (new_below) {
		new->vm_end = addr;
		vma->vm_start = addr;
		vma->vm_pgoff += delta;
	} else {
		new->vm_start = addr;
		new->vm_pgoff += delta;
		vma->vm_end = addr;
		vma_tree_update(vma);
	}
	anon_vma_relink(new);	/* anon_vma_clone() after new's range is set, in Linux */
	__vma_link(mm, new, new_below ? vma->vm_prev : vma);
	vma_relink(vma);
	return 0;
}

/* split_vma(): the same, refused at vm.max_map_count. */
int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, uint64_t addr,
	      int new_below)
{
	if (mm->map_count >= sysctl_max_map_count(mm->machine))
		return -MEMLAB_ENOMEM;
	return __split_vma(mm, vma, addr, new_below);
}

/*
** Unlink and free a VMA that a merge swallowed.  The merge then moves the
** end of the VMA before it or the start of the one after, which updates
** the gap it leaves.
*/
static void remove_vma(struct mm_struct *mm, struct vm_area_struct *vma)
{
	__vma_unlink(mm, vma);
	vm_area_free(vma);
}

/* ===================== merge ===================== */

/*
** is_mergeable_vma(): same flags (soft-dirty aside), same file.  (No
** NUMA policy, userfaultfd or anon_vma_name in memlab: all equal.)
*/
static bool is_mergeable_vma(const struct vma_merge_struct *vmg,
			     const struct vm_area_struct *vma)
{
	return !((vma->vm_flags ^ vmg->flags) & ~VM_SOFTDIRTY) && vma->vm_file == vmg->file;
}

/*
** vma_is_fork_child(): its anon_vma chain was cloned by fork (it may hold
** pages it shares copy-on-write with its parent).  Linux keeps such VMAs
** from taking in more pages through a merge, which would widen what the
** root anon_vma's lock covers.
*/
static bool vma_is_fork_child(const struct vm_area_struct *vma)
{
	return vma && vma->anon_vma && !list_is_singular(&vma->anon_vma_chain);
}

/*
** is_mergeable_anon_vma() as Linux 6.18 has it: vmg->anon_vma is the
** range's (of the VMA being changed, vmg->vma; of the VMA mremap copies,
** vmg->copied_from; none for a new range), tgt the neighbour's.  One of
** them may have none unless the one that has it is a fork child -- for a
** copy, the VMA it was copied from counts too ("mm/vma: enforce VMA fork
** limit on unfaulted,faulted mremap merge too", a 6.19 fix in 6.18.y);
** both having one needs the same one.  (6.12 also refused a written range
** joining an unwritten neighbour.)
*/
static bool is_mergeable_anon_vma(const struct vma_merge_struct *vmg,
				  const struct vm_area_struct *tgt)
{
	const struct anon_vma *src = vmg->anon_vma;

	if (!tgt->anon_vma && src)
		return !vma_is_fork_child(vmg->vma) && !vma_is_fork_child(vmg->copied_from);
	if (tgt->anon_vma && !src)
		return !vma_is_fork_child(tgt);
	return src == tgt->anon_vma;
}

/* can_vma_merge_before(): the range can join next from below. */
static bool can_vma_merge_before(const struct vma_merge_struct *vmg)
{
	uint64_t pglen = (vmg->end - vmg->start) >> vmg->mm->machine->page_shift;

	return is_mergeable_vma(vmg, vmg->next) &&
	       is_mergeable_anon_vma(vmg, vmg->next) &&
	       vmg->next->vm_pgoff == vmg->pgoff + pglen;
}

/* can_vma_merge_after(): the range can join prev from above. */
static bool can_vma_merge_after(const struct vma_merge_struct *vmg)
{
	return is_mergeable_vma(vmg, vmg->prev) &&
	       is_mergeable_anon_vma(vmg, vmg->prev) &&
	       vmg->prev->vm_pgoff + vma_pages(vmg->prev) == vmg->pgoff;
}

static bool can_vma_merge_left(const struct vma_merge_struct *vmg)
{
	return vmg->prev && vmg->prev->vm_end == vmg->start && can_vma_merge_after(vmg);
}

/*
** can_vma_merge_right(): and when merging both sides, prev's and next's
** anon_vmas must be compatible with each other too.
*/
static bool can_vma_merge_right(const struct vma_merge_struct *vmg, bool can_merge_left)
{
	const struct vm_area_struct *next = vmg->next;

	if (!next || vmg->end != next->vm_start || !can_vma_merge_before(vmg))
		return false;
	if (!can_merge_left)
		return true;
	/* are_anon_vmas_compatible(prev, next) */
	return !vmg->prev->anon_vma || !next->anon_vma || vmg->prev->anon_vma == next->anon_vma;
}

/*
** vma_merge_new_range(): a new range [start, end) in a gap between prev
** and next (either may be NULL) joins prev, next or both instead of
** becoming a VMA of its own.  Returns the VMA that now covers the range,
** or NULL when nothing merged.  just_expand: only prev may grow (brk).
*/
static struct vm_area_struct *merge_new_range(struct vma_merge_struct *vmg)
{
	struct mm_struct *mm = vmg->mm;
	struct vm_area_struct *prev = vmg->prev, *next = vmg->next;
	uint64_t pglen = (vmg->end - vmg->start) >> mm->machine->page_shift;
	bool left, right;

	if ((vmg->flags & VM_SPECIAL) || (!prev && !next))
		return NULL;
	left = can_vma_merge_left(vmg);
	right = !vmg->just_expand && can_vma_merge_right(vmg, left);
	/*
	 * vma_expand(): the target takes the anon_vma of the next VMA it
	 * swallows, then of the VMA whose pages the range holds (copied_from).
	 * When that fails nothing merges and the callers go on as if nothing
	 * could ("by convention, callers ignore OOM for this case").
	 */
	if ((left && right && dup_anon_vma(prev, next)) ||
	    (vmg->copied_from && (left || right) &&
	     dup_anon_vma(left ? prev : next, vmg->copied_from)))
		return NULL;
	if (left && right) {		/* prev swallows the range and next */
		uint64_t end = next->vm_end;

		remove_vma(mm, next);
		vma_set_range(mm, prev, prev->vm_start, end, prev->vm_pgoff);
		return prev;
	}
	if (left) {
		vma_set_range(mm, prev, prev->vm_start, vmg->end, prev->vm_pgoff);
		return prev;
	}
	if (right) {
		vma_set_range(mm, next, vmg->start, next->vm_end, next->vm_pgoff - pglen);
		return next;
	}
	return NULL;
}

/* A merge may give khugepaged a VMA to scan (khugepaged_enter_vma). */
struct vm_area_struct *vma_merge_new_range(struct vma_merge_struct *vmg)
{
	struct vm_area_struct *vma = merge_new_range(vmg);

	if (vma)
		khugepaged_enter_vma(vmg->mm->machine, vma, vmg->flags);
	return vma;
}

/*
** vma_merge_existing_range(): [start, end) of vma is about to take
** vmg->flags; if it touches vma's start or end it may join prev or next
** (mprotect, madvise, mremap in place).  Returns the VMA now covering the
** range, or NULL when nothing merged.
*/
static struct vm_area_struct *vma_merge_existing_range(struct vma_merge_struct *vmg)
{
	struct mm_struct *mm = vmg->mm;
	struct vm_area_struct *vma = vmg->vma, *prev = vmg->prev, *next;
	uint64_t start = vmg->start, end = vmg->end;
	bool left_side = start == vma->vm_start, right_side = end == vma->vm_end;
	bool merge_left = false, merge_right = false;
	unsigned shift = mm->machine->page_shift;

	if ((vmg->flags & VM_SPECIAL) || (!left_side && !right_side))
		return NULL;
	if (left_side)
		merge_left = can_vma_merge_left(vmg);
	next = vmg->next = right_side ? vma->vm_next : NULL;
	if (right_side)
		merge_right = can_vma_merge_right(vmg, merge_left);
	if (!merge_left && !merge_right)
		return NULL;
	/* the VMA that grows takes the anon_vma of the pages it takes in */
	if (dup_anon_vma(merge_left ? prev : next,
			 merge_left && merge_right && next->anon_vma ? next : vma)) {
		vmg->nomem = true;
		return NULL;
	}
	if (merge_left && merge_right) {
		uint64_t new_end = next->vm_end;

		remove_vma(mm, vma);	/* vma_complete(): vp->remove, then remove2 */
		remove_vma(mm, next);
		vma_set_range(mm, prev, prev->vm_start, new_end, prev->vm_pgoff);
		return prev;
	}
	if (merge_left) {
		if (right_side) {
			remove_vma(mm, vma);
			vma_set_range(mm, prev, prev->vm_start, end, prev->vm_pgoff);
		} else {
			vma_shift_boundary(prev, vma, end);
		}
		return prev;
	}
	/* merge_right */
	if (left_side) {
		uint64_t new_start = vma->vm_start;

		remove_vma(mm, vma);
		vma_set_range(mm, next, new_start, next->vm_end,
			      next->vm_pgoff - ((end - new_start) >> shift));
	} else {
		vma_shift_boundary(vma, next, start);
	}
	return next;
}

/*
** vma_modify_flags(): make [start, end) of vma a VMA of its own that is
** about to take new_flags -- merged with a neighbour if it can, split out
** of vma otherwise.  prev is the VMA before start (vma itself when start
** lies inside vma).  Returns that VMA, or NULL with *err (-ENOMEM when a
** split would pass vm.max_map_count).
*/
struct vm_area_struct *vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *prev,
					struct vm_area_struct *vma, uint64_t start,
					uint64_t end, uint64_t new_flags, int *err)
{
	struct vma_merge_struct vmg = {
		.mm = mm, .prev = prev, .vma = vma, .start = start, .end = end,
		.pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> mm->machine->page_shift),
		.flags = new_flags, .file = vma->vm_file, .anon_vma = vma->anon_vma,
	};
	struct vm_area_struct *merged = vma_merge_existing_range(&vmg);

	*err = 0;
	if (merged) {
		khugepaged_enter_vma(mm->machine, merged, new_flags);
		return merged;
	}
	if (vmg.nomem) {
		*err = -MEMLAB_ENOMEM;
		return NULL;
	}
	if (vma->vm_start < start && (*err = split_vma(mm, vma, start, 1)))
		return NULL;
	if (vma->vm_end > end && (*err = split_vma(mm, vma, end, 0)))
		return NULL;
	return vma;
}

/* ===================== invariants ===================== */

struct mm_check {
	memlab_violation_fn fn;
	void *ud;
	const char *who;
	int count;
};

static void mm_violation(struct mm_check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mm_violation(struct mm_check *c, const char *fmt, ...)
{
	char msg[256];
	int n;
	va_list ap;

	c->count++;
	if (!c->fn)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", c->who);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	c->fn(c->ud, msg);
}

/*
** VM_LOCKONFAULT only with VM_LOCKED, and neither on a VM_SPECIAL,
** hugetlb or droppable VMA: mmap and mlock_fixup() leave those unlocked,
** so locked_vm never counts them.
*/
static void check_locked(struct mm_check *c, const struct vm_area_struct *vma)
{
	uint64_t f = vma->vm_flags;

	if ((f & VM_LOCKONFAULT) && !(f & VM_LOCKED))
		mm_violation(c, "VMA %#llx: VM_LOCKONFAULT without VM_LOCKED",
			     (unsigned long long)vma->vm_start);
	if ((f & VM_LOCKED) && (f & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE)))
		mm_violation(c, "VMA %#llx: VM_LOCKED on a VM_SPECIAL, hugetlb or droppable VMA",
			     (unsigned long long)vma->vm_start);
}

/* The tree keeps its rules and holds the list's VMAs in order. */
static void check_tree(struct mm_check *c, struct mm_struct *mm)
{
	char why[160];

	if (vma_tree_validate(mm, why, sizeof(why)))
		mm_violation(c, "the VMA tree is corrupt: %s", why);
}

/*
** The break.  Linux lets a process munmap its heap and map anything where
** it was (brk then shrinks over whatever is there and refuses to grow into
** it), so no rule ties the VMAs to [start_brk, brk).  What always holds:
** start_brk is page-aligned, the break never goes below it (brk(2)
** refuses) nor above TASK_SIZE (a heap there could not be mapped).
*/
static void check_brk(struct mm_check *c, const struct mm_struct *mm)
{
	uint64_t page_mask = mm->machine->page_size - 1;

	if (mm->start_brk & page_mask)
		mm_violation(c, "start_brk %#llx is not page-aligned",
			     (unsigned long long)mm->start_brk);
	if (mm->brk < mm->start_brk)
		mm_violation(c, "brk %#llx is below start_brk %#llx", (unsigned long long)mm->brk,
			     (unsigned long long)mm->start_brk);
	if (mm->brk > mm->task_size)
		mm_violation(c, "brk %#llx is above TASK_SIZE", (unsigned long long)mm->brk);
}

/*
** A special mapping ([vvar], [vvar_vclock], [vdso]) is whole: its
** vm_ops refuse every split and VM_DONTEXPAND every growth, so it keeps
** the size it was installed with wherever mremap moves it.
*/
static void check_special(struct mm_check *c, const struct vm_area_struct *vma)
{
	if (vma->special_name && vma_pages(vma) != vma->special_pages)
		mm_violation(c, "%s at %#llx is %llu pages, it was installed with %llu",
			     vma->special_name, (unsigned long long)vma->vm_start,
			     (unsigned long long)vma_pages(vma),
			     (unsigned long long)vma->special_pages);
}

/*
** A file VMA is on its file's i_mmap, between neighbours that map the
** same file, are live in their own mms and keep the list's order.
*/
static void check_i_mmap(struct mm_check *c, const struct vm_area_struct *vma)
{
	const struct list_head *head, *l;

	if (!vma->vm_file) {
		if (!list_empty(&vma->shared))
			mm_violation(c, "VMA %#llx maps no file but is on an i_mmap",
				     (unsigned long long)vma->vm_start);
		return;
	}
	head = &vma->vm_file->i_mmap;
	if (list_empty(&vma->shared)) {
		mm_violation(c, "VMA %#llx is not on its file's i_mmap",
			     (unsigned long long)vma->vm_start);
		return;
	}
	for (int side = 0; side < 2; side++) {
		const struct vm_area_struct *n;

		l = side ? vma->shared.next : vma->shared.prev;
		if (l == head)
			continue;
		n = list_entry(l, const struct vm_area_struct, shared);
		if (n->vm_file != vma->vm_file || vma_tree_find(&n->vm_mm->mm_mt, n->vm_start) != n)
			mm_violation(c, "VMA %#llx: a neighbour on its file's i_mmap is no live VMA of it",
				     (unsigned long long)vma->vm_start);
		else if (side ? n->vm_pgoff < vma->vm_pgoff : n->vm_pgoff > vma->vm_pgoff)
			mm_violation(c, "VMA %#llx: its file's i_mmap is out of vm_pgoff order",
				     (unsigned long long)vma->vm_start);
	}
}

/*
** mm_validate(): Linux's validate_mm() and more -- the tree and the list
** agree, VMAs are sorted, page-aligned, non-overlapping and inside the
** user address space, file VMAs are in order on their files' i_mmap,
** special mappings are whole, map_count and
** highest_vm_end are right, the counters equal the sum over the VMAs,
** and the break is sane.  Returns the violations found.
*/
int mm_validate(struct mm_struct *mm, memlab_violation_fn fn, void *ud, const char *who)
{
	struct mm_check c = { fn, ud, who, 0 };
	uint64_t page_mask = mm->machine->page_size - 1, end = 0;
	uint64_t total = 0, data = 0, exec = 0, stack = 0, locked = 0, accounted = 0;
	int count = 0;

	check_tree(&c, mm);
	for (struct vm_area_struct *vma = mm->mmap; vma; vma = vma->vm_next, count++) {
		uint64_t np = vma_pages(vma);

		if ((vma->vm_start | vma->vm_end) & page_mask || vma->vm_start >= vma->vm_end)
			mm_violation(c.fn ? &c : &c, "VMA %#llx-%#llx is empty or not page-aligned",
				     (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end);
		if (vma->vm_start < end)
			mm_violation(&c, "VMA %#llx-%#llx overlaps or is out of order",
				     (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end);
		if (vma->vm_end > mm->task_size)
			mm_violation(&c, "VMA %#llx-%#llx ends above TASK_SIZE",
				     (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end);
		if ((vma->vm_flags & VM_ACCOUNT) && (vma->vm_flags & VM_SHARED))
			mm_violation(&c, "VMA %#llx: a shared mapping with VM_ACCOUNT",
				     (unsigned long long)vma->vm_start);
		if (!vma->anon_vma != list_empty(&vma->anon_vma_chain))
			mm_violation(&c, "VMA %#llx: anon_vma and its chain disagree",
				     (unsigned long long)vma->vm_start);
		if (vma->vm_next && vma->vm_next->vm_prev != vma)
			mm_violation(&c, "VMA %#llx: the list's back link is wrong",
				     (unsigned long long)vma->vm_start);
		check_special(&c, vma);
		check_locked(&c, vma);
		check_i_mmap(&c, vma);
		end = vma->vm_end;
		total += np;
		exec += is_exec_mapping(vma->vm_flags) ? np : 0;
		stack += !is_exec_mapping(vma->vm_flags) && is_stack_mapping(vma->vm_flags) ? np : 0;
		data += !is_exec_mapping(vma->vm_flags) && !is_stack_mapping(vma->vm_flags) &&
			is_data_mapping(vma->vm_flags) ? np : 0;
		locked += vma->vm_flags & VM_LOCKED ? np : 0;
		accounted += vma->vm_flags & VM_ACCOUNT ? np : 0;
	}
	if (accounted != mm->committed)
		mm_violation(&c, "the VMAs hold %llu VM_ACCOUNT pages, the mm charged %llu",
			     (unsigned long long)accounted, (unsigned long long)mm->committed);
	if (count != mm->map_count)
		mm_violation(&c, "map_count is %d, there are %d VMAs", mm->map_count, count);
	if (end != mm->highest_vm_end)
		mm_violation(&c, "highest_vm_end is %#llx, the last VMA ends at %#llx",
			     (unsigned long long)mm->highest_vm_end, (unsigned long long)end);
	if (total != mm->total_vm || data != mm->data_vm || exec != mm->exec_vm ||
	    stack != mm->stack_vm || locked + mm->locked_vm_leaked != mm->locked_vm)
		mm_violation(&c, "counters total/data/exec/stack/locked %llu/%llu/%llu/%llu/%llu, the VMAs sum to %llu/%llu/%llu/%llu/%llu",
			     (unsigned long long)mm->total_vm, (unsigned long long)mm->data_vm,
			     (unsigned long long)mm->exec_vm, (unsigned long long)mm->stack_vm,
			     (unsigned long long)mm->locked_vm, (unsigned long long)total,
			     (unsigned long long)data, (unsigned long long)exec,
			     (unsigned long long)stack, (unsigned long long)locked);
	check_brk(&c, mm);
	return c.count;
}
