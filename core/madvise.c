/*
** madvise.c -- madvise(2) as Linux 6.18's mm/madvise.c has it: the walk
** over the VMAs of the range (holes skipped, ENOMEM at the end), advice
** that changes a VMA's flags (split and merged like mprotect; a split over
** vm.max_map_count is EAGAIN, not ENOMEM), MADV_DONTNEED (the pages go;
** the next touch faults in zeroes or the file), MADV_FREE (lazily freed
** anonymous pages), MADV_WILLNEED (file readahead; an anonymous range's
** swapped-out pages read into the swap cache), MADV_COLD and
** MADV_PAGEOUT (deactivate or reclaim the pages only this mm maps:
** vmscan.c), MADV_POPULATE_* and MADV_COLLAPSE (khugepaged.c).
**
** Not modelled: MADV_REMOVE, the guard-region, hwpoison and soft-offline
** advice return EINVAL.
*/
#include "mm.h"
#include "tlb.h"

/* The advice with their Linux values (include/uapi/asm-generic/mman-common.h). */
enum {
	MADV_NORMAL = 0, MADV_RANDOM = 1, MADV_SEQUENTIAL = 2, MADV_WILLNEED = 3,
	MADV_DONTNEED = 4, MADV_FREE = 8, MADV_REMOVE = 9, MADV_DONTFORK = 10,
	MADV_DOFORK = 11, MADV_MERGEABLE = 12, MADV_UNMERGEABLE = 13, MADV_HUGEPAGE = 14,
	MADV_NOHUGEPAGE = 15, MADV_DONTDUMP = 16, MADV_DODUMP = 17, MADV_WIPEONFORK = 18,
	MADV_KEEPONFORK = 19, MADV_COLD = 20, MADV_PAGEOUT = 21, MADV_POPULATE_READ = 22,
	MADV_POPULATE_WRITE = 23, MADV_DONTNEED_LOCKED = 24, MADV_COLLAPSE = 25,
};

#define MADV_NAME(x) { #x, x }

static const struct memlab_flag_name madv_names[] = {
	MADV_NAME(MADV_NORMAL), MADV_NAME(MADV_RANDOM), MADV_NAME(MADV_SEQUENTIAL),
	MADV_NAME(MADV_WILLNEED), MADV_NAME(MADV_DONTNEED), MADV_NAME(MADV_FREE),
	MADV_NAME(MADV_REMOVE), MADV_NAME(MADV_DONTFORK), MADV_NAME(MADV_DOFORK),
	MADV_NAME(MADV_MERGEABLE), MADV_NAME(MADV_UNMERGEABLE), MADV_NAME(MADV_HUGEPAGE),
	MADV_NAME(MADV_NOHUGEPAGE), MADV_NAME(MADV_DONTDUMP), MADV_NAME(MADV_DODUMP),
	MADV_NAME(MADV_WIPEONFORK), MADV_NAME(MADV_KEEPONFORK), MADV_NAME(MADV_COLD),
	MADV_NAME(MADV_PAGEOUT), MADV_NAME(MADV_POPULATE_READ), MADV_NAME(MADV_POPULATE_WRITE),
	MADV_NAME(MADV_DONTNEED_LOCKED), MADV_NAME(MADV_COLLAPSE), { NULL, 0 }
};

const struct memlab_flag_name *memlab_madv_names(void)
{
	return madv_names;
}

static bool madvise_behavior_valid(int behavior)
{
	return (behavior >= MADV_NORMAL && behavior <= MADV_DONTNEED) ||
	       (behavior >= MADV_FREE && behavior <= MADV_COLLAPSE && behavior != MADV_REMOVE);
}

/*
** The flags an advice gives vma (madvise_vma_behavior's first half):
** 0 with *flags set, 1 for advice that changes no flag, or -EINVAL.
*/
static int madvise_new_flags(const struct vm_area_struct *vma, int behavior, uint64_t *flags)
{
	uint64_t f = vma->vm_flags;

	switch (behavior) {
	case MADV_NORMAL: f &= ~(VM_RAND_READ | VM_SEQ_READ); break;
	case MADV_SEQUENTIAL: f = (f & ~VM_RAND_READ) | VM_SEQ_READ; break;
	case MADV_RANDOM: f = (f & ~VM_SEQ_READ) | VM_RAND_READ; break;
	case MADV_DONTFORK: f |= VM_DONTCOPY; break;
	case MADV_DOFORK:
		if (f & VM_IO)
			return -MEMLAB_EINVAL;
		f &= ~VM_DONTCOPY;
		break;
	case MADV_WIPEONFORK:	/* anonymous memory only */
		if (vma->vm_file || (f & VM_SHARED))
			return -MEMLAB_EINVAL;
		f |= VM_WIPEONFORK;
		break;
	case MADV_KEEPONFORK:	/* droppable memory is always wiped on fork */
		if (f & VM_DROPPABLE)
			return -MEMLAB_EINVAL;
		f &= ~VM_WIPEONFORK;
		break;
	case MADV_DONTDUMP: f |= VM_DONTDUMP; break;
	case MADV_DODUMP:	/* nor ever dumped */
		if ((!(f & VM_HUGETLB) && (f & VM_SPECIAL)) || (f & VM_DROPPABLE))
			return -MEMLAB_EINVAL;
		f &= ~VM_DONTDUMP;
		break;
	case MADV_HUGEPAGE: f = (f & ~VM_NOHUGEPAGE) | VM_HUGEPAGE; break;
	case MADV_NOHUGEPAGE: f = (f & ~VM_HUGEPAGE) | VM_NOHUGEPAGE; break;
	case MADV_MERGEABLE:	/* ksm_madvise(): only where KSM could merge */
		if (!(f & (VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND |
			   VM_HUGETLB | VM_MIXEDMAP)))
			f |= VM_MERGEABLE;
		break;
	case MADV_UNMERGEABLE: f &= ~VM_MERGEABLE; break;
	default:
		return 1;
	}
	*flags = f;
	return 0;
}

/* madvise_update_vma(): [start, end) of vma takes flags, split and merged. */
static int madvise_update_vma(memlab_task *t, struct vm_area_struct *vma,
			      struct vm_area_struct **prev, uint64_t start, uint64_t end,
			      uint64_t flags)
{
	int err;

	if (flags == vma->vm_flags) {
		*prev = vma;
		return 0;
	}
	split_huge_pmd_range(t, start, end);	/* vma_adjust_trans_huge(): the PMDs the change cuts */
	vma = vma_modify_flags(t->mm, *prev, vma, start, end, flags, &err);
	if (!vma)
		return err;
	*prev = vma;
	vma->vm_flags = flags;
	return 0;
}

/*
** madvise_dontneed_single_vma()'s zap_details.reclaim_pt on x86-64
** (CONFIG_PT_RECLAIM): each PMD that [start, end) -- inside one VMA --
** covers whole loses its PTE table if the zap left it empty.
*/
static void dontneed_reclaim_tables(struct mmu_gather *tlb, uint64_t start, uint64_t end)
{
	memlab_task *t = tlb->t;
	uint64_t pmd = pt_level_size(&t->mm->pt, 1);

	if (t->m->arch != MEMLAB_ARCH_X86_64)
		return;
	for (uint64_t a = (start + pmd - 1) & ~(pmd - 1); a >= start && a + pmd <= end; a += pmd)
		pt_reclaim_pte(t->m, t->mm, tlb, a);
}

/* madvise_dontneed_free_valid_vma() */
static bool dontneed_valid(const struct vm_area_struct *vma, int behavior)
{
	uint64_t forbidden = VM_PFNMAP | (behavior == MADV_DONTNEED_LOCKED ? 0 : VM_LOCKED);

	return !(vma->vm_flags & forbidden);
}

/* One VMA's part [start, end) of the advice (madvise_vma_behavior). */
static int madvise_vma(memlab_task *t, struct vm_area_struct *vma, struct vm_area_struct **prev,
		       uint64_t start, uint64_t end, int behavior)
{
	struct mmu_gather tlb;
	uint64_t flags = 0;
	int err;

	switch (behavior) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
	case MADV_FREE:
		*prev = vma;
		if (!dontneed_valid(vma, behavior))
			return -MEMLAB_EINVAL;
		if (behavior == MADV_FREE && (vma->vm_file || (vma->vm_flags & VM_SHARED)))
			return -MEMLAB_EINVAL;	/* MADV_FREE: anonymous private only */
		if (behavior == MADV_FREE)	/* madvise_free_single_vma(); DONTNEED does not (host) */
			lru_add_drain(t->m);
		tlb_gather_mmu(&tlb, t, false);
		if (behavior == MADV_FREE)
			madvise_free_range(&tlb, start, end);
		else
			zap_page_range(&tlb, vma, start, end);
		if (behavior != MADV_FREE)
			dontneed_reclaim_tables(&tlb, start, end);
		tlb_finish_mmu(&tlb);
		return 0;
	case MADV_WILLNEED:
		*prev = vma;
		if (!vma->vm_file) {	/* swap entries: their pages read into the swap cache */
			swapin_willneed(t, start, end);
			return 0;
		}
		if (!vma->vm_file->shmem) {
			/* vfs_fadvise() runs without the mmap_lock (madvise_willneed) */
			mmap_read_unlock(t->mm);
			vfs_fadvise(vma->vm_file, (int64_t)(linear_page_index(vma, start) <<
							    t->m->page_shift),
				    (int64_t)(end - start), MEMLAB_POSIX_FADV_WILLNEED);
			mmap_read_lock(t->mm);
		}
		return 0;
	case MADV_COLD:
	case MADV_PAGEOUT:
		*prev = vma;
		if (vma->vm_flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB))	/* can_madv_lru_vma() */
			return -MEMLAB_EINVAL;
		lru_add_drain(t->m);
		tlb_gather_mmu(&tlb, t, false);
		madvise_cold_range(&tlb, vma, start, end, behavior == MADV_PAGEOUT);
		tlb_finish_mmu(&tlb);
		return 0;
	case MADV_COLLAPSE:
		*prev = vma;
		return madvise_collapse(t, vma, start, end);
	}
	err = madvise_new_flags(vma, behavior, &flags);
	if (err < 0)
		return err;
	if (behavior == MADV_HUGEPAGE)	/* hugepage_madvise(): khugepaged may scan it now */
		khugepaged_enter_vma(t->m, vma, flags);
	err = madvise_update_vma(t, vma, prev, start, end, flags);
	return err == -MEMLAB_ENOMEM ? -MEMLAB_EAGAIN : err;	/* "resources temporarily unavailable" */
}

/*
** madvise_walk_vmas(): every VMA part of [start, end) in turn; a hole is
** skipped and reported as ENOMEM once the rest is done.
*/
static int madvise_walk_vmas(memlab_task *t, uint64_t start, uint64_t end, int behavior)
{
	struct vm_area_struct *prev, *vma;
	int unmapped_error = 0, err;

	vma = find_vma_prev(t, start, &prev);
	if (vma && start > vma->vm_start)
		prev = vma;
	for (;;) {
		uint64_t tmp;

		if (!vma)
			return -MEMLAB_ENOMEM;
		if (start < vma->vm_start) {
			unmapped_error = -MEMLAB_ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		tmp = vma->vm_end < end ? vma->vm_end : end;
		if ((err = madvise_vma(t, vma, &prev, start, tmp, behavior)))
			return err;
		start = tmp;
		if (prev && start < prev->vm_end)
			start = prev->vm_end;
		if (start >= end)
			break;
		vma = find_vma(t, prev ? prev->vm_end : start);
	}
	return unmapped_error;
}

/*
** madvise_populate(): fault the range in, for reading or writing, as
** GUP would: holes are ENOMEM; VM_IO/VM_PFNMAP, or an access the VMA
** forbids (a write without VM_WRITE, a read without VM_READ) EINVAL (as
** the host answers); a SIGBUS EFAULT.
*/
static int madvise_populate(memlab_task *t, uint64_t start, uint64_t end, int behavior)
{
	int access = behavior == MADV_POPULATE_WRITE ? 'w' : 'r', err = 0;
	bool dropped = false;

	while (start < end && !err) {
		struct vm_area_struct *vma = find_vma(t, start);
		uint64_t stop;

		if (!vma || vma->vm_start > start) {
			err = -MEMLAB_ENOMEM;
		} else if (vma->vm_flags & (VM_IO | VM_PFNMAP) ||
			   !(vma->vm_flags & (access == 'w' ? VM_WRITE : VM_READ))) {
			err = -MEMLAB_EINVAL;
		} else {
			stop = vma->vm_end < end ? vma->vm_end : end;
			err = faultin_vma_range(t, vma, start, stop, access == 'w', &dropped);
			start = stop;
		}
	}
	/* GUP released the lock it had retaken; madvise_populate() takes it again */
	if (dropped) {
		mmap_read_unlock(t->mm);
		mmap_read_lock(t->mm);
	}
	return err;
}

/* How madvise_lock() locks for an advice (mm/madvise.c get_lock_mode(), 6.18). */
enum madvise_lock_mode { MADVISE_MMAP_READ_LOCK, MADVISE_MMAP_WRITE_LOCK, MADVISE_VMA_READ_LOCK };

static enum madvise_lock_mode get_lock_mode(int behavior)
{
	switch (behavior) {
	case MADV_REMOVE: case MADV_WILLNEED: case MADV_COLD: case MADV_PAGEOUT:
	case MADV_POPULATE_READ: case MADV_POPULATE_WRITE: case MADV_COLLAPSE:
		return MADVISE_MMAP_READ_LOCK;
	case MADV_DONTNEED: case MADV_DONTNEED_LOCKED: case MADV_FREE:
		return MADVISE_VMA_READ_LOCK;
	default:
		return MADVISE_MMAP_WRITE_LOCK;
	}
}

/*
** madvise_lock(): the mmap_lock for reading or writing, or for the
** advice that zaps, only the per-VMA lock when one VMA holds the whole
** range (try_vma_read_lock()), which takes no mmap_lock.  The mode that
** madvise_unlock() must undo.
*/
static enum madvise_lock_mode madvise_lock(memlab_task *t, uint64_t start, uint64_t end,
					   int behavior)
{
	enum madvise_lock_mode mode = get_lock_mode(behavior);
	struct vm_area_struct *vma;

	if (mode == MADVISE_VMA_READ_LOCK) {
		vma = find_vma(t, start);
		if (vma && vma->vm_start <= start && end <= vma->vm_end)
			return mode;
		mode = MADVISE_MMAP_READ_LOCK;
	}
	if (mode == MADVISE_MMAP_WRITE_LOCK)
		mmap_write_lock(t->mm);
	else
		mmap_read_lock(t->mm);
	return mode;
}

static void madvise_unlock(memlab_task *t, enum madvise_lock_mode mode)
{
	if (mode == MADVISE_MMAP_WRITE_LOCK)
		mmap_write_unlock(t->mm);
	else if (mode == MADVISE_MMAP_READ_LOCK)
		mmap_read_unlock(t->mm);
}

static int do_madvise(memlab_task *t, uint64_t start, uint64_t len_in, int behavior)
{
	uint64_t psize = t->m->page_size, len, end;
	enum madvise_lock_mode mode;
	int err;

	if (!madvise_behavior_valid(behavior) || behavior == MADV_REMOVE)
		return -MEMLAB_EINVAL;
	if (start & (psize - 1))
		return -MEMLAB_EINVAL;
	len = (len_in + psize - 1) & ~(psize - 1);
	if (len_in && !len)
		return -MEMLAB_EINVAL;
	end = start + len;
	if (end < start)
		return -MEMLAB_EINVAL;
	if (end == start)
		return 0;
	mode = madvise_lock(t, start, end, behavior);
	if (behavior == MADV_POPULATE_READ || behavior == MADV_POPULATE_WRITE)
		err = madvise_populate(t, start, end, behavior);
	else
		err = madvise_walk_vmas(t, start, end, behavior);
	madvise_unlock(t, mode);
	return err;
}

int memlab_madvise(memlab_task *t, uint64_t start, uint64_t len_in, int behavior)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = do_madvise(t, start, len_in, behavior);

	task_leave(t, prev);
	return ret;
}
