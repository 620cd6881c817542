/*
** mlock.c -- mlock(2), mlock2(2), munlock(2), mlockall(2) and
** munlockall(2) as Linux 6.18's mm/mlock.c does them: the range's VMAs
** take or lose VM_LOCKED (and VM_LOCKONFAULT) in address order, split
** where the range cuts them and merged with neighbours of the same kind
** (mlock_fixup); a hole stops the walk with ENOMEM after the VMAs before
** it changed (apply_vma_lock_flags); the pages already present are
** mlocked or munlocked through this CPU's mlock batch (swap.c), which
** mlock_vma_pages_range drains after its walk, and mlock then faults the
** rest in (__mm_populate) unless MLOCK_ONFAULT.
** locked_vm counts the pages of VM_LOCKED VMAs against RLIMIT_MEMLOCK;
** root stands for CAP_IPC_LOCK.
**
** A page on the unevictable list counts its VM_LOCKED mappings
** (mlock_count), as Linux's folio does, and leaves the list with the
** last.  A THP the range cuts has its PMD split (when the VMA changes,
** vma_adjust_trans_huge), and stays a large folio, mlocked only where
** its PTEs map all of it (allow_mlock_munlock).
*/
#include "mm.h"
#include "pgtable.h"

#define VM_LOCKED_MASK	(VM_LOCKED | VM_LOCKONFAULT)

/* can_do_mlock(): a RLIMIT_MEMLOCK above 0, or CAP_IPC_LOCK. */
static bool can_do_mlock(const memlab_task *t)
{
	return t->rlim.memlock != 0 || t->cap_ipc_lock;
}

struct mlock_walk {
	memlab_task *t;
	bool lock;
	uint64_t end;		/* of the range */
	uint64_t next;		/* the PTEs below, of a large folio, are done */
};

/*
** mlock_pte_range(): a present page of the range is mlocked, or munlocked,
** through the mlock batch (its mlock_count counts the VM_LOCKED mappings;
** with the last it leaves the unevictable list).
** The zero page and frames without a struct page (special) are skipped,
** as vm_normal_folio() skips them.  A large folio's PTEs count once
** (mm/mlock.c folio_mlock_step), and it is mlocked only if they map all
** of it here (allow_mlock_munlock); munlocked whatever they map.
*/
static int mlock_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		     uint64_t e)
{
	struct mlock_walk *w = ud;
	memlab_machine *m = w->t->m;
	struct page *folio;
	struct pt_prot p;
	uint64_t pfn, step;

	pt_decode(&w->t->mm->pt, (int)level, e, &pfn, &p);
	if (!pt_prot_maps(&p) || p.special || pfn >= m->nr_frames || pfn == m->zero_pfn ||
	    va < w->next)
		return 0;	/* PROT_NONE entries are present to Linux, and are mlocked */
	folio = pfn_folio(m, pfn);
	if (level == 0 && folio_nr_pages(folio) > 1) {
		step = folio_pte_batch(w->t, table, idx, va, w->end, pfn, 0);
		w->next = va + (step << m->page_shift);
		if (w->lock && step != folio_nr_pages(folio))
			return 0;
	}
	if (w->lock)
		mlock_folio(m, folio);
	else
		munlock_folio(m, folio);	/* one locked mapping less */
	return 0;
}

/*
** mlock_vma_pages_range(): vma takes newflags, then the pages present in
** [start, end) follow -- the flags first, so that the reverse map sees
** the VMA as it now is -- between two drains of this CPU's folio batches
** (host-checked: mlock drains even a range with no page).
*/
static void mlock_vma_pages_range(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
				  uint64_t end, uint64_t newflags)
{
	struct mlock_walk w = { t, (newflags & VM_LOCKED) != 0, end, 0 };

	vma->vm_flags = newflags;
	lru_add_drain(t->m);	/* pages waiting to be added are on a list for the walk */
	pt_walk_range(t->m, t->mm, start, end, mlock_pte, &w);
	lru_add_drain(t->m);	/* and the walk's mlocks and munlocks are done */
}

/*
** mlock_fixup(): [start, end) of vma takes newflags.  VM_SPECIAL and
** hugetlb VMAs (and VM_DROPPABLE ones) are left as they are, and not
** counted, without failing the call.  *prev becomes the VMA now covering
** the range.
*/
static int mlock_fixup(memlab_task *t, struct vm_area_struct *vma, struct vm_area_struct **prev,
		       uint64_t start, uint64_t end, uint64_t newflags)
{
	struct mm_struct *mm = t->mm;
	uint64_t oldflags = vma->vm_flags;
	int64_t nr_pages;
	int err;

	if (newflags == oldflags || (oldflags & (VM_SPECIAL | VM_DROPPABLE)) ||
	    is_vm_hugetlb_page(vma)) {
		*prev = vma;	/* don't set VM_LOCKED or VM_LOCKONFAULT and don't count */
		return 0;
	}
	/* vma_adjust_trans_huge(): only a VMA that changes splits the huge pages it cuts */
	split_huge_pmd_range(t, start, end);
	vma = vma_modify_flags(mm, *prev, vma, start, end, newflags, &err);
	if (!vma)
		return err;	/* *prev stays: apply_vma_lock_flags() stops here */
	*prev = vma;
	nr_pages = (int64_t)((end - start) >> t->m->page_shift);
	if (!(newflags & VM_LOCKED))
		nr_pages = -nr_pages;
	else if (oldflags & VM_LOCKED)
		nr_pages = 0;		/* LOCKONFAULT changed only */
	mm->locked_vm += (uint64_t)nr_pages;
	if ((newflags & VM_LOCKED) && (oldflags & VM_LOCKED))
		vma->vm_flags = newflags;	/* no work to do: mlocking twice would be wrong */
	else
		mlock_vma_pages_range(t, vma, start, end, newflags);
	return 0;
}

/*
** apply_vma_lock_flags(): the VMAs of [start, end) take flags in place of
** their VM_LOCKED_MASK bits, in address order; a hole is -ENOMEM after
** the VMAs before it changed (host-checked: VmLck grows by them).
*/
static int apply_vma_lock_flags(memlab_task *t, uint64_t start, uint64_t len, uint64_t flags)
{
	uint64_t end = start + len, nstart = start, tmp;
	struct vm_area_struct *vma, *prev;
	int err;

	if (end < start)
		return -MEMLAB_EINVAL;
	if (end == start)
		return 0;
	vma = find_vma(t, start);
	if (!vma || vma->vm_start > start)
		return -MEMLAB_ENOMEM;
	prev = start > vma->vm_start ? vma : vma->vm_prev;
	tmp = vma->vm_start;
	for (; vma && vma->vm_start < end; vma = prev->vm_next) {
		uint64_t newflags = (vma->vm_flags & ~VM_LOCKED_MASK) | flags;

		if (vma->vm_start != tmp)
			return -MEMLAB_ENOMEM;
		tmp = vma->vm_end < end ? vma->vm_end : end;
		if ((err = mlock_fixup(t, vma, &prev, nstart, tmp, newflags)))
			return err;
		tmp = prev->vm_end;
		nstart = tmp;
	}
	return tmp < end ? -MEMLAB_ENOMEM : 0;
}

/*
** count_mm_mlocked_page_nr(): the pages of [start, start + len) that
** VM_LOCKED VMAs hold already -- they are in locked_vm and must not be
** counted twice against the limit.
*/
static uint64_t count_mm_mlocked_page_nr(memlab_task *t, uint64_t start, uint64_t len)
{
	uint64_t end = UINT64_MAX - len < start ? UINT64_MAX : start + len, count = 0;

	for (struct vm_area_struct *vma = find_vma(t, start); vma && vma->vm_start < end;
	     vma = vma->vm_next) {
		if (!(vma->vm_flags & VM_LOCKED))
			continue;
		if (start > vma->vm_start)
			count -= start - vma->vm_start;
		if (end < vma->vm_end) {
			count += end - vma->vm_start;
			break;
		}
		count += vma->vm_end - vma->vm_start;
	}
	return count >> t->m->page_shift;
}

/* __mlock_posix_error_return(): GUP's errors as POSIX names them for mlock. */
static int mlock_posix_error(int err)
{
	if (err == -MEMLAB_EFAULT)
		return -MEMLAB_ENOMEM;
	if (err == -MEMLAB_ENOMEM)
		return -MEMLAB_EAGAIN;
	return err;
}

/*
** __mm_populate(ignore_errors = 0): fault [start, end) in under the
** mmap_lock for reading, VMA by VMA; VM_IO/VM_PFNMAP VMAs are skipped, a
** PROT_NONE one fails (GUP without FOLL_FORCE: -EFAULT, so mlock on
** PROT_NONE locks the VMA and returns ENOMEM, as on the host), and the
** first error ends the walk.
*/
static int mlock_populate(memlab_task *t, uint64_t start, uint64_t end)
{
	int err = 0;

	if (start >= end)
		return 0;
	mmap_read_lock(t->mm);
	for (struct vm_area_struct *vma = find_vma(t, start); vma && vma->vm_start < end && !err;
	     vma = vma->vm_next) {
		uint64_t s = vma->vm_start > start ? vma->vm_start : start;
		uint64_t e = vma->vm_end < end ? vma->vm_end : end;

		if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			continue;
		if (!(vma->vm_flags & VM_LOCKONFAULT) && !(vma->vm_flags & VM_ACCESS_FLAGS))
			err = -MEMLAB_EFAULT;
		else
			err = populate_vma_page_range(t, vma, s, e, true);
	}
	mmap_read_unlock(t->mm);
	return err ? mlock_posix_error(err) : 0;
}

/* do_mlock(): mlock(2) and mlock2(2) with flags VM_LOCKED [| VM_LOCKONFAULT]. */
static int do_mlock(memlab_task *t, uint64_t start, uint64_t len, uint64_t flags)
{
	uint64_t psize = t->m->page_size, locked, lock_limit;
	int err = -MEMLAB_ENOMEM;

	if (!can_do_mlock(t))
		return -MEMLAB_EPERM;
	len = PAGE_ALIGN_M(t->m, len + (start & (psize - 1)));	/* wraps as Linux's does */
	start &= ~(psize - 1);
	lock_limit = t->rlim.memlock >> t->m->page_shift;
	locked = len >> t->m->page_shift;
	mmap_write_lock(t->mm);
	locked += t->mm->locked_vm;
	if (locked > lock_limit && !t->cap_ipc_lock)
		locked -= count_mm_mlocked_page_nr(t, start, len);
	if (locked <= lock_limit || t->cap_ipc_lock)
		err = apply_vma_lock_flags(t, start, len, flags);
	mmap_write_unlock(t->mm);
	if (err)
		return err;
	return mlock_populate(t, start, start + len);
}

/* munlock(2): no permission or limit to check. */
static int do_munlock(memlab_task *t, uint64_t start, uint64_t len)
{
	uint64_t psize = t->m->page_size;
	int err;

	len = PAGE_ALIGN_M(t->m, len + (start & (psize - 1)));
	start &= ~(psize - 1);
	mmap_write_lock(t->mm);
	err = apply_vma_lock_flags(t, start, len, 0);
	mmap_write_unlock(t->mm);
	return err;
}

/*
** apply_mlockall_flags(): MCL_FUTURE sets the flags later mappings take
** (mm->def_flags); MCL_CURRENT locks every VMA now, 0 unlocks them all.
** A VMA's error is ignored.
*/
static void apply_mlockall_flags(memlab_task *t, int flags)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *vma, *prev = NULL;
	uint64_t to_add = 0;

	mm->def_flags &= ~VM_LOCKED_MASK;
	if (flags & MEMLAB_MCL_FUTURE) {
		mm->def_flags |= VM_LOCKED;
		if (flags & MEMLAB_MCL_ONFAULT)
			mm->def_flags |= VM_LOCKONFAULT;
		if (!(flags & MEMLAB_MCL_CURRENT))
			return;
	}
	if (flags & MEMLAB_MCL_CURRENT)
		to_add = VM_LOCKED | (flags & MEMLAB_MCL_ONFAULT ? VM_LOCKONFAULT : 0);
	for (vma = mm->mmap; vma; vma = prev->vm_next) {
		uint64_t newflags = (vma->vm_flags & ~VM_LOCKED_MASK) | to_add;

		if (mlock_fixup(t, vma, &prev, vma->vm_start, vma->vm_end, newflags))
			prev = vma;	/* ignore errors, but prev needs fixing up */
	}
}

static int do_mlockall(memlab_task *t, int flags)
{
	int all = MEMLAB_MCL_CURRENT | MEMLAB_MCL_FUTURE | MEMLAB_MCL_ONFAULT;
	int err = -MEMLAB_ENOMEM;

	if (!flags || (flags & ~all) || flags == MEMLAB_MCL_ONFAULT)
		return -MEMLAB_EINVAL;
	if (!can_do_mlock(t))
		return -MEMLAB_EPERM;
	mmap_write_lock(t->mm);
	if (!(flags & MEMLAB_MCL_CURRENT) || t->cap_ipc_lock ||
	    t->mm->total_vm <= t->rlim.memlock >> t->m->page_shift) {
		apply_mlockall_flags(t, flags);
		err = 0;
	}
	mmap_write_unlock(t->mm);
	if (!err && (flags & MEMLAB_MCL_CURRENT))
		mm_populate(t, 0, t->mm->task_size);	/* errors ignored */
	return err;
}

static int do_munlockall(memlab_task *t)
{
	mmap_write_lock(t->mm);
	apply_mlockall_flags(t, 0);
	mmap_write_unlock(t->mm);
	return 0;
}

/* The system call: its context switch around do_mlock() or do_munlock(). */
static int sys_mlock(memlab_task *t, uint64_t addr, uint64_t len, uint64_t flags, bool lock)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	switch_to_task(t);	/* the caller runs on its CPU */
	ret = lock ? do_mlock(t, addr, len, flags) : do_munlock(t, addr, len);

	task_leave(t, prev);
	return ret;
}

/* The same around do_mlockall() or do_munlockall(). */
static int sys_mlockall(memlab_task *t, int flags, bool lock)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	switch_to_task(t);
	ret = lock ? do_mlockall(t, flags) : do_munlockall(t);

	task_leave(t, prev);
	return ret;
}

int memlab_mlock(memlab_task *t, uint64_t addr, uint64_t len, int flags)
{
	if (flags & ~MEMLAB_MLOCK_ONFAULT)
		return t->m->dead ? -MEMLAB_EIO : -MEMLAB_EINVAL;	/* mlock2(): before all else */
	return sys_mlock(t, addr, len, VM_LOCKED | (flags ? VM_LOCKONFAULT : 0), true);
}

int memlab_munlock(memlab_task *t, uint64_t addr, uint64_t len)
{
	return sys_mlock(t, addr, len, 0, false);
}

int memlab_mlockall(memlab_task *t, int flags)
{
	return sys_mlockall(t, flags, true);
}

int memlab_munlockall(memlab_task *t)
{
	return sys_mlockall(t, 0, false);
}
