/*
** mmap_lock.c -- the mmap_lock of an mm (include/linux/mmap_lock.h and
** mm/mmap_lock.c): memlab runs one call at a time, so the lock never
** waits and never fails; what it keeps is Linux's sequence of lock
** operations, for the mmap_lock tracepoints (start_locking,
** acquire_returned, released, with the same fields) and for m:check(),
** which finds any mm left locked after a call.  mm->mmap_lock counts the
** readers, or is -1 while a writer holds it.
**
** Where Linux takes it: the system calls that change the address space
** take it for writing (mmap, munmap, mprotect, mremap, brk, most madvise
** advice; munmap, brk and mremap downgrade it to read after unlinking
** VMAs), msync and populating take it for reading, a page fault takes it
** only when the per-VMA lock cannot serve (memory.c), fork takes the old
** and the new mm for writing, exit takes it to read then to write.
*/
#include "mm.h"

/* memcg_id: cgroup_id_from_mm() is the cgroup's kernfs inode number, which memlab does not model: 0. */
static void mmap_lock_trace(struct mm_struct *mm, int id, bool write, bool success)
{
	trace(mm->machine, id, mm->context.ctx_id, 0, write, success);
}

/* A lock taken in a state that would deadlock: a bug of memlab's, said loudly. */
static void mmap_lock_bug(struct mm_struct *mm, const char *what)
{
	ml_report(mm->machine, "BUG: mmap_lock: %s while it is held (%d)", what, mm->mmap_lock);
}

void mmap_write_lock(struct mm_struct *mm)
{
	if (mm->mmap_lock)
		mmap_lock_bug(mm, "write lock");
	mmap_lock_trace(mm, TP_MMAP_LOCK_START_LOCKING, true, false);
	mm->mmap_lock = -1;
	mmap_lock_trace(mm, TP_MMAP_LOCK_ACQUIRE_RETURNED, true, true);
}

void mmap_write_unlock(struct mm_struct *mm)
{
	mm->mmap_lock = 0;
	mmap_lock_trace(mm, TP_MMAP_LOCK_RELEASED, true, false);
}

/* The writer becomes a reader: only acquire_returned(read) is traced. */
void mmap_write_downgrade(struct mm_struct *mm)
{
	mm->mmap_lock = 1;
	mmap_lock_trace(mm, TP_MMAP_LOCK_ACQUIRE_RETURNED, false, true);
}

void mmap_read_lock(struct mm_struct *mm)
{
	if (mm->mmap_lock < 0)
		mmap_lock_bug(mm, "read lock");
	mmap_lock_trace(mm, TP_MMAP_LOCK_START_LOCKING, false, false);
	mm->mmap_lock++;
	mmap_lock_trace(mm, TP_MMAP_LOCK_ACQUIRE_RETURNED, false, true);
}

void mmap_read_unlock(struct mm_struct *mm)
{
	mm->mmap_lock--;
	mmap_lock_trace(mm, TP_MMAP_LOCK_RELEASED, false, false);
}
