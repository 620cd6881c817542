/*
** mprotect.c -- mprotect(2) as Linux 6.12's do_mprotect_pkey() and
** mprotect_fixup() (mm/mprotect.c): VMAs are changed in address order,
** split where the range cuts them and merged with neighbours of the same
** kind; a hole stops the walk with ENOMEM after the VMAs before it
** changed; the page-table entries of the range follow the new flags
** (change_protection), and one TLB flush covers what changed
** (do_mprotect_pkey's mmu_gather).
*/
#include "mm.h"

#define PROT_SEM	0x8	/* accepted by arch_validate_prot(), no effect */

/*
** mprotect_fixup(): [start, end) of vma takes newflags.  Making a private
** mapping writable charges it to Committed_AS (VM_ACCOUNT); an anonymous
** one that was never written gives the charge back when it stops being
** writable.  *pprev becomes the VMA now covering the range.
*/
static int mprotect_fixup(struct mmu_gather *tlb, struct vm_area_struct *vma,
			  struct vm_area_struct **pprev, uint64_t start, uint64_t end,
			  uint64_t newflags)
{
	memlab_task *t = tlb->t;
	struct mm_struct *mm = t->mm;
	uint64_t oldflags = vma->vm_flags;
	int64_t nrpages = (int64_t)((end - start) >> t->m->page_shift), charged = 0;
	int err;

	if (newflags == oldflags) {
		*pprev = vma;
		return 0;
	}
	if (newflags & VM_WRITE) {
		if (!may_expand_vm(t, newflags, (uint64_t)nrpages) &&
		    may_expand_vm(t, oldflags, (uint64_t)nrpages))
			return -MEMLAB_ENOMEM;
		if (!(oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) {
			charged = nrpages;
			if (vm_enough_memory(t, charged))
				return -MEMLAB_ENOMEM;
			newflags |= VM_ACCOUNT;
		}
	} else if ((oldflags & VM_ACCOUNT) && !vma->vm_file && !vma->anon_vma) {
		newflags &= ~VM_ACCOUNT;
	}
	split_huge_pmd_range(t, start, end);	/* vma_adjust_trans_huge(): the PMDs the change cuts */
	vma = vma_modify_flags(mm, *pprev, vma, start, end, newflags, &err);
	if (!vma) {
		if (charged)
			vm_unacct_memory(t, charged);
		return err;
	}
	*pprev = vma;
	vma->vm_flags = newflags | (vma->vm_flags & VM_SOFTDIRTY);
	if ((oldflags & VM_ACCOUNT) && !(newflags & VM_ACCOUNT))
		vm_unacct_memory(t, nrpages);
	change_protection(tlb, vma, start, end);
	if ((oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED && (newflags & VM_WRITE))
		populate_vma_page_range(t, vma, start, end, false);	/* COW now, not at a fault */
	vm_stat_account(mm, oldflags, -nrpages);
	vm_stat_account(mm, newflags, nrpages);
	return 0;
}

/* The new flags of vma under prot; -EACCES when VM_MAY* forbids them. */
static int mprotect_newflags(const struct vm_area_struct *vma, int prot, uint64_t *newflags)
{
	uint64_t f = calc_vm_prot_bits(prot) | (vma->vm_flags & ~VM_ACCESS_FLAGS);

	if ((f & ~(f >> 4)) & VM_ACCESS_FLAGS)
		return -MEMLAB_EACCES;
	*newflags = f;
	return 0;
}

/* The first VMA of the range and where the walk starts (PROT_GROWSDOWN). */
static int mprotect_first(memlab_task *t, uint64_t *start, uint64_t end, int grows,
			  struct vm_area_struct **first)
{
	struct vm_area_struct *vma = find_vma(t, *start);

	if (!vma || vma->vm_start >= end)
		return -MEMLAB_ENOMEM;
	if (grows & MEMLAB_PROT_GROWSDOWN) {
		*start = vma->vm_start;
		if (!(vma->vm_flags & VM_GROWSDOWN))
			return -MEMLAB_EINVAL;
	} else if (vma->vm_start > *start) {
		return -MEMLAB_ENOMEM;
	}
	*first = vma;
	return 0;
}

/*
** The VMAs of [start, end) from vma on take prot, in address order; a
** hole stops the walk with -ENOMEM after the VMAs before it changed.
*/
static int mprotect_vmas(struct mmu_gather *tlb, struct vm_area_struct *vma, uint64_t start,
			 uint64_t end, int prot)
{
	struct vm_area_struct *prev = start > vma->vm_start ? vma : vma->vm_prev;
	uint64_t nstart = start, tmp = vma->vm_start;
	int err;

	while (vma && vma->vm_start < end) {
		uint64_t newflags;

		if (vma->vm_start != tmp)
			return -MEMLAB_ENOMEM;
		if ((err = mprotect_newflags(vma, prot, &newflags)))
			return err;
		tmp = vma->vm_end < end ? vma->vm_end : end;
		if ((err = mprotect_fixup(tlb, vma, &prev, nstart, tmp, newflags)))
			return err;
		tmp = prev->vm_end;
		nstart = tmp;
		vma = prev->vm_next;
	}
	return tmp < end ? -MEMLAB_ENOMEM : 0;
}

/*
** do_mprotect_pkey(): mprotect(2) without the context switch of a system
** call (memlab_mprotect is the call; a task being set up uses this).
*/
int do_mprotect_pkey(memlab_task *t, uint64_t start, uint64_t len, int prot)
{
	int grows = prot & (MEMLAB_PROT_GROWSDOWN | MEMLAB_PROT_GROWSUP);
	struct vm_area_struct *vma;
	struct mmu_gather tlb;
	uint64_t end;
	int err;

	prot &= ~(MEMLAB_PROT_GROWSDOWN | MEMLAB_PROT_GROWSUP);
	if (grows == (MEMLAB_PROT_GROWSDOWN | MEMLAB_PROT_GROWSUP))
		return -MEMLAB_EINVAL;
	if (start & (t->m->page_size - 1))
		return -MEMLAB_EINVAL;
	if (!len)
		return 0;
	len = PAGE_ALIGN_M(t->m, len);
	end = start + len;
	if (end <= start)
		return -MEMLAB_ENOMEM;
	if (prot & ~(MEMLAB_PROT_READ | MEMLAB_PROT_WRITE | MEMLAB_PROT_EXEC | PROT_SEM))
		return -MEMLAB_EINVAL;
	mmap_write_lock(t->mm);
	if ((err = mprotect_first(t, &start, end, grows, &vma)))
		goto out;
	err = -MEMLAB_EINVAL;
	if (grows & MEMLAB_PROT_GROWSUP)
		goto out;	/* no VM_GROWSUP VMAs on x86-64 or arm64 */
	tlb_gather_mmu(&tlb, t, false);
	err = mprotect_vmas(&tlb, vma, start, end, prot);
	tlb_finish_mmu(&tlb);
out:
	mmap_write_unlock(t->mm);
	return err;
}

int memlab_mprotect(memlab_task *t, uint64_t start, uint64_t len, int prot)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	switch_to_task(t);	/* the caller runs on its CPU */
	ret = do_mprotect_pkey(t, start, len, prot);

	task_leave(t, prev);
	return ret;
}
