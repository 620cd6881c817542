/*
** mremap.c -- mremap(2) as Linux 6.18's mm/mremap.c (the vma_remap_struct
** rewrite of 6.16): all argument checks first (check_mremap_params), then
** the VMA's (check_prep_vma, remap_is_valid), then shrink in place, grow
** in place when the space after the VMA is free, or move (MAYMOVE) to a
** place of get_unmapped_area's choosing or to a fixed address
** (MREMAP_FIXED), optionally leaving the old range mapped but empty
** (MREMAP_DONTUNMAP).  Moving page tables comes with the MMU.
*/
#include "mm.h"

#define MREMAP_ALL (MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED | MEMLAB_MREMAP_DONTUNMAP)

enum mremap_type { MREMAP_INVALID, MREMAP_NO_RESIZE, MREMAP_SHRINK, MREMAP_EXPAND };

/* struct vma_remap_struct: one mremap() call, threaded through it. */
struct vrm {
	memlab_task *t;
	uint64_t addr, old_len, new_len, new_addr;
	int flags;
	struct vm_area_struct *vma;
	uint64_t delta;			/* |new_len - old_len| */
	enum mremap_type remap_type;
	int64_t charged;		/* pages charged for VM_ACCOUNT */
	bool shrunk;			/* mremap_to() shrank before moving */
	bool mmap_locked;		/* the mmap_lock is still held for writing */
};

/* vma_lookup(): the VMA containing addr, or NULL. */
static struct vm_area_struct *vma_lookup(memlab_task *t, uint64_t addr)
{
	struct vm_area_struct *vma = find_vma(t, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

static bool vrm_implies_new_addr(const struct vrm *v)
{
	return v->flags & (MEMLAB_MREMAP_FIXED | MEMLAB_MREMAP_DONTUNMAP);
}

static inline uint64_t pages_of(const struct vrm *v, uint64_t bytes)
{
	return bytes >> v->t->m->page_shift;
}

/* check_mremap_params(): every check that needs no VMA, in Linux's order. */
static int check_mremap_params(const struct vrm *v)
{
	const struct mm_struct *mm = v->t->mm;

	if (v->flags & ~MREMAP_ALL)
		return -MEMLAB_EINVAL;
	if (v->addr & (v->t->m->page_size - 1))
		return -MEMLAB_EINVAL;
	if (!v->new_len)
		return -MEMLAB_EINVAL;
	if (v->new_len > mm->task_size)
		return -MEMLAB_EINVAL;
	if (!vrm_implies_new_addr(v))
		return 0;	/* 6.18 (host-checked): a junk new_addr is ignored here */
	if (v->new_addr > mm->task_size - v->new_len)
		return -MEMLAB_EINVAL;
	if (v->new_addr & (v->t->m->page_size - 1))
		return -MEMLAB_EINVAL;
	if (!(v->flags & MEMLAB_MREMAP_MAYMOVE))
		return -MEMLAB_EINVAL;
	if ((v->flags & MEMLAB_MREMAP_DONTUNMAP) && v->old_len != v->new_len)
		return -MEMLAB_EINVAL;
	if (v->addr + v->old_len > v->new_addr && v->new_addr + v->new_len > v->addr)
		return -MEMLAB_EINVAL;	/* vrm_overlaps() */
	if (mm->map_count + 2 >= sysctl_max_map_count(v->t->m) - 3)
		return -MEMLAB_ENOMEM;
	return 0;
}

/*
** remap_is_valid(): the VMA may become new_len long here: duplicating a
** private mapping (old_len 0) is refused, the old range lies inside the
** VMA (a shrink may cross VMAs), growth passes the limits.
*/
static int remap_is_valid(struct vrm *v)
{
	memlab_task *t = v->t;
	struct vm_area_struct *vma = v->vma;
	uint64_t old_len = v->old_len, pgoff;

	if (!old_len && !(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return -MEMLAB_EINVAL;
	if ((v->flags & MEMLAB_MREMAP_DONTUNMAP) && (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP)))
		return -MEMLAB_EINVAL;
	if (v->remap_type == MREMAP_SHRINK)
		old_len = v->new_len;
	if (old_len > vma->vm_end - v->addr)
		return -MEMLAB_EFAULT;
	if (v->new_len == old_len)
		return 0;
	pgoff = vma->vm_pgoff + pages_of(v, v->addr - vma->vm_start);
	if (pgoff + pages_of(v, v->new_len) < pgoff)
		return -MEMLAB_EINVAL;
	if (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP))
		return -MEMLAB_EFAULT;
	if ((vma->vm_flags & VM_LOCKED) && !t->cap_ipc_lock && t->rlim.memlock != RLIM_INFINITY &&
	    pages_of(v, v->delta) + t->mm->locked_vm > pages_of(v, t->rlim.memlock))
		return -MEMLAB_EAGAIN;
	if (!may_expand_vm(t, vma->vm_flags, pages_of(v, v->delta)))
		return -MEMLAB_ENOMEM;
	return 0;
}

/*
** align_hugetlb(): a hugetlb VMA is remapped in whole huge pages: both
** lengths round up to one, both addresses must be aligned to one -- the
** new address even when it is not used -- and it may not grow.
*/
static bool align_hugetlb(struct vrm *v)
{
	uint64_t mask = vma_kernel_pagesize(v->t->m, v->vma) - 1;

	v->old_len = (v->old_len + mask) & ~mask;
	v->new_len = (v->new_len + mask) & ~mask;
	if ((v->addr & mask) || (v->new_addr & mask))
		return false;
	return v->new_len <= v->old_len;
}

/* check_prep_vma(): the VMA exists, the kind of remap, and its checks. */
static int check_prep_vma(struct vrm *v)
{
	if (!v->vma)
		return -MEMLAB_EFAULT;
	if (is_vm_hugetlb_page(v->vma) && !align_hugetlb(v))
		return -MEMLAB_EINVAL;
	v->delta = v->new_len > v->old_len ? v->new_len - v->old_len : v->old_len - v->new_len;
	v->remap_type = v->old_len == v->new_len ? MREMAP_NO_RESIZE
			: v->old_len > v->new_len ? MREMAP_SHRINK : MREMAP_EXPAND;
	if (!vrm_implies_new_addr(v))
		v->new_addr = v->addr;
	if (v->remap_type == MREMAP_EXPAND || vrm_implies_new_addr(v))
		return remap_is_valid(v);
	return 0;
}

/* vrm_calc_charge(): a DONTUNMAP move charges it all, others the growth. */
static bool vrm_calc_charge(struct vrm *v)
{
	int64_t charged;

	if (!(v->vma->vm_flags & VM_ACCOUNT))
		return true;
	charged = (int64_t)pages_of(v, v->flags & MEMLAB_MREMAP_DONTUNMAP ? v->new_len : v->delta);
	if (vm_enough_memory(v->t, charged))
		return false;
	v->charged = charged;
	return true;
}

static void vrm_uncharge(struct vrm *v)
{
	if (v->charged)
		vm_unacct_memory(v->t, v->charged);
	v->charged = 0;
}

/* vrm_stat_account(): the counters for bytes more of the VMA. */
static void vrm_stat_account(struct vrm *v, uint64_t bytes)
{
	vm_stat_account(v->t->mm, v->vma->vm_flags, (int64_t)pages_of(v, bytes));
	if (v->vma->vm_flags & VM_LOCKED)
		v->t->mm->locked_vm += pages_of(v, bytes);
}

/*
** copy_vma(): a VMA like vma for [addr, addr + len) -- merged with a
** neighbour when it can (an anonymous VMA never written takes the new
** address as its pgoff, so that it may), else a new one.  NULL on -ENOMEM.
*/
static struct vm_area_struct *copy_vma(memlab_task *t, struct vm_area_struct *vma,
				       uint64_t addr, uint64_t len, uint64_t pgoff)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *new_vma, *prev;
	struct vma_merge_struct vmg;

	if (!vma->vm_file && !vma->anon_vma)
		pgoff = addr >> t->m->page_shift;
	new_vma = find_vma_prev(t, addr, &prev);
	vmg = (struct vma_merge_struct){ .mm = mm, .prev = prev, .next = new_vma, .start = addr,
		.end = addr + len, .pgoff = pgoff, .flags = vma->vm_flags,
		.file = vma->vm_file, .anon_vma = vma->anon_vma, .copied_from = vma };
	new_vma = vma_merge_new_range(&vmg);
	if (new_vma)
		return new_vma;
	new_vma = vm_area_alloc(mm);
	if (!new_vma)
		return NULL;
	vm_area_init_from(vma, new_vma);	/* vm_area_dup() */
	new_vma->vm_leaf = NULL;
	new_vma->vm_file = NULL;
	new_vma->vm_start = addr;
	new_vma->vm_end = addr + len;
	new_vma->vm_pgoff = pgoff;
	if (anon_vma_clone(new_vma, vma)) {	/* its chains go in by the new offset */
		vm_area_free(new_vma);
		return NULL;
	}
	vma_set_file(new_vma, vma->vm_file);
	vma_link(mm, new_vma);
	return new_vma;
}

/*
** The old range could not be unmapped (no host memory for a split): Linux
** ("OOM: unable to split vma, just get accounts right") charges old_len
** again for the range that stays mapped, but the old VMA -- vma_pages
** pages, 0 when it was not VM_ACCOUNT -- keeps its VM_ACCOUNT cleared, so
** no munmap will give either back.  memlab books both as leaked, as it
** does the other charges Linux never returns, so that Committed_AS, the
** mm's charge and its VM_ACCOUNT VMAs keep agreeing.
*/
static void unmap_source_failed(struct vrm *v, uint64_t vma_pages)
{
	uint64_t moved = pages_of(v, v->old_len);	/* their charge went to the new VMA */
	uint64_t rest = vma_pages ? vma_pages - moved : 0;

	vm_acct_memory(v->t->m, (int64_t)moved);
	v->t->mm->committed -= rest;
	v->t->m->vm_committed_leaked += (int64_t)(moved + rest);
}

/*
** unmap_source_vma(): turn the copy into a move.  The old range's charge
** moved with it, so VM_ACCOUNT is hidden while it is unmapped and given
** back to what is left of the old VMA on either side.
*/
static void unmap_source_vma(struct vrm *v)
{
	memlab_task *t = v->t;
	struct vm_area_struct *vma = v->vma, *piece;
	uint64_t addr = v->addr, end = v->addr + v->old_len, vm_start = 0, vm_end = 0;
	bool accountable = (vma->vm_flags & VM_ACCOUNT) && !(v->flags & MEMLAB_MREMAP_DONTUNMAP);

	if (accountable) {
		vma->vm_flags &= ~VM_ACCOUNT;
		vm_start = vma->vm_start;
		vm_end = vma->vm_end;
	}
	v->vma = NULL;
	if (do_vmi_munmap(t, addr, v->old_len, false)) {
		unmap_source_failed(v, accountable ? pages_of(v, vm_end - vm_start) : 0);
		return;
	}
	if (accountable && vm_start < addr && (piece = find_vma(t, addr - 1)) && piece->vm_end <= addr)
		piece->vm_flags |= VM_ACCOUNT;
	if (accountable && vm_end > end && (piece = find_vma(t, end)))
		piece->vm_flags |= VM_ACCOUNT;
}

/* dontunmap_complete(): the old VMA stays, unlocked, uncharged, without its anon_vma. */
static void dontunmap_complete(struct vrm *v, struct vm_area_struct *new_vma)
{
	struct vm_area_struct *vma = v->vma;

	if (vma->vm_flags & VM_LOCKED)	/* cleared without lowering locked_vm (host-checked) */
		v->t->mm->locked_vm_leaked += vma_pages(vma);
	vma->vm_flags &= ~(VM_LOCKED | VM_LOCKONFAULT);	/* 6.18 keeps VM_ACCOUNT (host-checked) */
	if (new_vma != vma && vma->vm_start == v->addr && vma->vm_end == v->addr + v->old_len &&
	    vma->anon_vma)
		unlink_anon_vmas(vma);
}

/*
** copy_vma_and_data() (mm/mremap.c, 6.18): the VMA copied to new_addr first, so that the
** entries are under a VMA (found by rmap) wherever they are while any
** allocation runs; then the entries move.  When their tables cannot be
** had, nothing moved, and the new range takes the old one's place in v:
** move_vma() unmaps it instead.  0, or -MEMLAB_ENOMEM with *new_vma NULL
** when not even the copy was made.
*/
static int copy_vma_and_data(struct vrm *v, struct vm_area_struct **new_vma)
{
	memlab_task *t = v->t;
	uint64_t pgoff = v->vma->vm_pgoff + pages_of(v, v->addr - v->vma->vm_start);

	*new_vma = copy_vma(t, v->vma, v->new_addr, v->new_len, pgoff);
	if (!*new_vma) {
		vrm_uncharge(v);
		return -MEMLAB_ENOMEM;
	}
	v->vma = vma_lookup(t, v->addr);	/* a merge may have replaced it */
	if (!move_page_tables(t, v->addr, v->new_addr, v->old_len))
		return 0;
	v->vma = *new_vma;			/* nothing moved: no entries to move back */
	v->old_len = v->new_len;
	v->addr = v->new_addr;
	return -MEMLAB_ENOMEM;
}

/*
** move_vma(): copy the VMA to new_addr, then unmap the old range (or not;
** after a failed move, the new range).
*/
static int64_t move_vma(struct vrm *v)
{
	memlab_task *t = v->t;
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *new_vma;
	uint64_t hiwater_vm;
	int err = 0;

	if (mm->map_count >= sysctl_max_map_count(t->m) - 3)
		return -MEMLAB_ENOMEM;	/* prep_move_vma() */
	/* ... and vm_ops->may_split() at both ends: a special mapping moves whole */
	if (v->vma->vm_start != v->addr)
		err = vma_may_split(v->vma, v->addr);
	if (!err && v->vma->vm_end != v->addr + v->old_len)
		err = vma_may_split(v->vma, v->addr + v->old_len);
	if (err)
		return err;
	if (!vrm_calc_charge(v))
		return -MEMLAB_ENOMEM;
	err = copy_vma_and_data(v, &new_vma);
	if (err && !new_vma)
		return err;
	if (v->charged && (v->shrunk || (err && !(v->flags & MEMLAB_MREMAP_DONTUNMAP)))) {
		/*
		 * Linux 6.18 charges delta here although shrink_vma() already
		 * took the tail away: Committed_AS keeps delta pages that no VMA
		 * holds (seen on the host: 2000 such calls leave 80 MB).  memlab
		 * does the same and books them as leaked.  A failed move keeps
		 * its charge too: the new range is unmapped with VM_ACCOUNT
		 * hidden, as a moved source would be (a DONTUNMAP move's is not
		 * hidden, so its unmap gives the charge back).
		 */
		mm->committed -= (uint64_t)v->charged;
		t->m->vm_committed_leaked += v->charged;
	}
	hiwater_vm = mm->hiwater_vm;
	vrm_stat_account(v, v->new_len);	/* the unmap below takes old_len back */
	if (!err && (v->flags & MEMLAB_MREMAP_DONTUNMAP))
		dontunmap_complete(v, new_vma);
	else
		unmap_source_vma(v);
	mm->hiwater_vm = hiwater_vm;
	return err ? err : (int64_t)v->new_addr;
}

/* vrm_set_new_addr(): where the moved VMA goes (a hint without MREMAP_FIXED). */
static int vrm_set_new_addr(struct vrm *v)
{
	struct vm_area_struct *vma = v->vma;
	int map_flags = (v->flags & MEMLAB_MREMAP_FIXED ? MEMLAB_MAP_FIXED : 0) |
			(vma->vm_flags & VM_MAYSHARE ? MEMLAB_MAP_SHARED : MEMLAB_MAP_PRIVATE);
	int64_t res = get_unmapped_area(v->t, vma->vm_file,
					vrm_implies_new_addr(v) ? v->new_addr : 0, v->new_len,
					vma->vm_pgoff + pages_of(v, v->addr - vma->vm_start),
					map_flags, 0);

	if (res < 0)
		return (int)res;
	v->new_addr = (uint64_t)res;
	return 0;
}

/*
** shrink_vma(): unmap the tail [addr + new_len, addr + old_len); with
** drop_lock (a shrink in place) the munmap releases the mmap_lock.
*/
static int shrink_vma(struct vrm *v, bool drop_lock)
{
	int err = do_vmi_munmap(v->t, v->addr + v->new_len, v->delta, drop_lock);

	if (err)
		return err;
	if (drop_lock) {
		v->mmap_locked = false;
		v->vma = NULL;
		return 0;
	}
	v->vma = vma_lookup(v->t, v->addr);
	return v->vma ? 0 : -MEMLAB_EFAULT;
}

/* mremap_to(): MREMAP_FIXED or MREMAP_DONTUNMAP. */
static int64_t mremap_to(struct vrm *v)
{
	int err;

	if (v->flags & MEMLAB_MREMAP_FIXED) {
		if ((err = do_vmi_munmap(v->t, v->new_addr, v->new_len, false)))
			return err;
		if (!(v->vma = vma_lookup(v->t, v->addr)))
			return -MEMLAB_EFAULT;
	}
	if (v->remap_type == MREMAP_SHRINK) {
		if ((err = shrink_vma(v, false)))
			return err;
		v->old_len = v->new_len;
		v->shrunk = true;
	}
	if ((v->flags & MEMLAB_MREMAP_DONTUNMAP) &&
	    !may_expand_vm(v->t, v->vma->vm_flags, pages_of(v, v->old_len)))
		return -MEMLAB_ENOMEM;
	if ((err = vrm_set_new_addr(v)))
		return err;
	return move_vma(v);
}

/* vma_expandable(): the space after the VMA is free and inside TASK_SIZE. */
static bool vma_expandable(memlab_task *t, struct vm_area_struct *vma, uint64_t delta)
{
	uint64_t end = vma->vm_end + delta;

	if (end < vma->vm_end || find_vma_intersection(t, vma->vm_end, end))
		return false;
	return get_unmapped_area(t, NULL, vma->vm_start, end - vma->vm_start, 0,
				 MEMLAB_MAP_FIXED, 0) >= 0;
}

/* expand_vma_in_place(): vma_merge_extend() -- grow, merging with next if it can. */
static int64_t expand_vma_in_place(struct vrm *v)
{
	struct vm_area_struct *vma = v->vma;
	struct vma_merge_struct vmg = { .mm = v->t->mm, .prev = vma, .next = vma->vm_next,
		.start = vma->vm_end, .end = vma->vm_end + v->delta,
		.pgoff = vma->vm_pgoff + vma_pages(vma), .flags = vma->vm_flags,
		.file = vma->vm_file, .anon_vma = vma->anon_vma };

	if (!vrm_calc_charge(v))
		return -MEMLAB_ENOMEM;
	if (!(v->vma = vma_merge_new_range(&vmg))) {
		vrm_uncharge(v);
		return -MEMLAB_ENOMEM;
	}
	vrm_stat_account(v, v->delta);
	return (int64_t)v->addr;
}

/* expand_vma(): in place when [addr, old_len) ends the VMA and room follows, else move. */
static int64_t expand_vma(struct vrm *v)
{
	int err;

	if (v->vma->vm_end - v->addr == v->old_len && vma_expandable(v->t, v->vma, v->delta))
		return expand_vma_in_place(v);
	if (!(v->flags & MEMLAB_MREMAP_MAYMOVE))
		return -MEMLAB_ENOMEM;
	if ((err = vrm_set_new_addr(v)))
		return err;
	return move_vma(v);
}

/* mremap_at(): resize where it is, or move to the first place that fits. */
static int64_t mremap_at(struct vrm *v)
{
	int err;

	switch (v->remap_type) {
	case MREMAP_NO_RESIZE:
		return (int64_t)v->addr;
	case MREMAP_SHRINK:
		err = shrink_vma(v, true);
		return err ? err : (int64_t)v->addr;
	case MREMAP_EXPAND:
		return expand_vma(v);
	default:
		return -MEMLAB_EINVAL;
	}
}

/*
** remap_move() (Linux 6.17+): MREMAP_FIXED without resizing moves every
** VMA in [addr, addr + old_len) -- no gap allowed at the start -- keeping
** the gaps between them.  Returns the first destination address.
*/
static int64_t remap_move(struct vrm *v)
{
	uint64_t start = v->addr, end = v->addr + v->old_len, cursor = start;
	uint64_t target = v->new_addr, last_end = 0;
	int64_t res = -MEMLAB_EFAULT, res_vma;
	bool seen_vma = false;
	struct vm_area_struct *vma;

	while (cursor < end && (vma = find_vma(v->t, cursor)) && vma->vm_start < end) {
		uint64_t addr = vma->vm_start > start ? vma->vm_start : start;
		uint64_t len = (vma->vm_end < end ? vma->vm_end : end) - addr;

		if (!seen_vma && start < vma->vm_start)
			return -MEMLAB_EFAULT;
		target += seen_vma ? vma->vm_start - last_end : 0;
		last_end = vma->vm_end;
		cursor = addr + len;
		v->vma = vma;
		v->addr = addr;
		v->new_addr = target;
		v->old_len = v->new_len = len;
		res_vma = check_prep_vma(v);
		if (!res_vma)
			res_vma = mremap_to(v);
		if (res_vma < 0)
			return res_vma;
		if (!seen_vma)
			res = res_vma;
		seen_vma = true;
		target = (uint64_t)res_vma + v->new_len;
	}
	return res;
}

static int do_mremap(memlab_task *t, uint64_t old_addr, uint64_t old_len, uint64_t new_len,
		     int flags, uint64_t new_addr, uint64_t *out)
{
	struct vrm v = { .t = t, .addr = old_addr, .flags = flags, .new_addr = new_addr,
		.old_len = PAGE_ALIGN_M(t->m, old_len), .new_len = PAGE_ALIGN_M(t->m, new_len) };
	bool locked;
	int64_t res;

	switch_to_task(t);
	if ((res = check_mremap_params(&v)))
		return (int)res;
	mmap_write_lock(t->mm);
	v.mmap_locked = true;
	locked = false;
	if ((flags & MEMLAB_MREMAP_FIXED) && v.old_len == v.new_len) {	/* vrm_move_only() */
		res = remap_move(&v);
	} else {
		v.vma = vma_lookup(t, old_addr);
		if (!(res = check_prep_vma(&v))) {
			locked = v.vma->vm_flags & VM_LOCKED;
			res = vrm_implies_new_addr(&v) ? mremap_to(&v) : mremap_at(&v);
		}
	}
	if (v.mmap_locked)
		mmap_write_unlock(t->mm);
	if (res < 0)
		return (int)res;
	if (locked && v.new_len > v.old_len)	/* an mlocked mapping grows populated */
		mm_populate(t, (uint64_t)res + v.old_len, v.new_len - v.old_len);
	*out = (uint64_t)res;
	return 0;
}

int memlab_mremap(memlab_task *t, uint64_t old_addr, uint64_t old_len, uint64_t new_len,
		  int flags, uint64_t new_addr, uint64_t *out)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = do_mremap(t, old_addr, old_len, new_len, flags, new_addr, out);

	task_leave(t, prev);
	return ret;
}
