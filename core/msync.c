/*
** msync.c -- msync(2) as mm/msync.c has it: MS_SYNC writes back the
** dirty pages of the shared file mappings in the range (vfs_fsync_range);
** MS_ASYNC does nothing (dirty pages are tracked anyway); unmapped holes
** in the range are skipped and reported as ENOMEM at the end.
*/
#include "mm.h"

/* One VMA's part [start, end) of an MS_SYNC: its file's pages, written back. */
static int msync_vma(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	unsigned shift = vma->vm_mm->machine->page_shift;
	uint64_t first = linear_page_index(vma, start);

	return filemap_writeback(vma->vm_file, first, first + ((end - start) >> shift) - 1);
}

/*
** The walk over [start, end) under the mmap_lock (read), which it
** releases: around each file's write-back too (vfs_fsync_range runs
** unlocked), retaking it for the rest of the range.
*/
static int msync_range(memlab_task *t, uint64_t start, uint64_t end, int flags,
		       int *unmapped_error)
{
	struct vm_area_struct *vma = find_vma(t, start);
	int err = -MEMLAB_ENOMEM;

	for (;;) {
		uint64_t stop;

		if (!vma)
			break;
		if (start < vma->vm_start) {
			if (flags == MEMLAB_MS_ASYNC)
				break;
			start = vma->vm_start;
			if (start >= end)
				break;
			*unmapped_error = -MEMLAB_ENOMEM;
		}
		if ((flags & MEMLAB_MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED)) {
			err = -MEMLAB_EBUSY;
			break;
		}
		stop = end < vma->vm_end ? end : vma->vm_end;
		if ((flags & MEMLAB_MS_SYNC) && vma->vm_file && (vma->vm_flags & VM_SHARED)) {
			mmap_read_unlock(t->mm);	/* nothing runs meanwhile: vma stays */
			err = msync_vma(vma, start, stop);
			start = vma->vm_end;
			if (err || start >= end)
				return err;
			mmap_read_lock(t->mm);
			vma = find_vma(t, start);
			continue;
		}
		start = vma->vm_end;
		if (start >= end) {
			err = 0;
			break;
		}
		vma = find_vma(t, start);
	}
	mmap_read_unlock(t->mm);
	return err;
}

static int do_msync(memlab_task *t, uint64_t start, uint64_t len, int flags)
{
	uint64_t end, psize = t->m->page_size;
	int unmapped_error = 0, err;

	if (flags & ~(MEMLAB_MS_ASYNC | MEMLAB_MS_INVALIDATE | MEMLAB_MS_SYNC))
		return -MEMLAB_EINVAL;
	if (start & (psize - 1))
		return -MEMLAB_EINVAL;
	if ((flags & MEMLAB_MS_ASYNC) && (flags & MEMLAB_MS_SYNC))
		return -MEMLAB_EINVAL;
	len = (len + psize - 1) & ~(psize - 1);
	end = start + len;
	if (end < start)
		return -MEMLAB_ENOMEM;
	if (end == start)
		return 0;
	mmap_read_lock(t->mm);
	err = msync_range(t, start, end, flags, &unmapped_error);
	return err ? err : unmapped_error;
}

int memlab_msync(memlab_task *t, uint64_t start, uint64_t len, int flags)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = do_msync(t, start, len, flags);

	task_leave(t, prev);
	return ret;
}
