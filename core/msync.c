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

static int do_msync(memlab_task *t, uint64_t start, uint64_t len, int flags)
{
	uint64_t end, psize = t->m->page_size;
	struct vm_area_struct *vma;
	int unmapped_error = 0;

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
	for (vma = find_vma(t, start);; vma = find_vma(t, start)) {
		uint64_t stop;
		int err;

		if (!vma)
			return -MEMLAB_ENOMEM;
		if (start < vma->vm_start) {
			if (flags == MEMLAB_MS_ASYNC)
				return -MEMLAB_ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				return -MEMLAB_ENOMEM;
			unmapped_error = -MEMLAB_ENOMEM;
		}
		if ((flags & MEMLAB_MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED))
			return -MEMLAB_EBUSY;
		stop = end < vma->vm_end ? end : vma->vm_end;
		if ((flags & MEMLAB_MS_SYNC) && vma->vm_file && (vma->vm_flags & VM_SHARED) &&
		    (err = msync_vma(vma, start, stop)))
			return err;
		start = vma->vm_end;
		if (start >= end)
			return unmapped_error;
	}
}

int memlab_msync(memlab_task *t, uint64_t start, uint64_t len, int flags)
{
	memlab_task *prev = task_enter(t);
	int ret = do_msync(t, start, len, flags);

	task_leave(t, prev);
	return ret;
}
