/*
** mincore.c -- mincore(2) (mm/mincore.c, Linux 6.18): which pages of a
** range are resident.  A present entry is; a swap entry is while its page
** is in the swap cache; an empty entry of a file mapping is while the
** page cache holds the page (mapped or not: what readahead read shows
** here); of an anonymous one, not.
*/
#include "mm.h"

/* mincore_swap(): the swapped-out page is still in the swap cache. */
static unsigned char mincore_swap(const memlab_machine *m, uint64_t slot)
{
	return m->swap && slot < m->swap->pages + 1 && m->swap->cache[slot] != PFN_NONE;
}

/* mincore_page() of vma's file at addr (an up-to-date folio there), or 0 for anonymous memory. */
static unsigned char mincore_unmapped(memlab_machine *m, const struct vm_area_struct *vma,
				      uint64_t addr)
{
	uint64_t pfn;

	if (!vma->vm_file || (vma->vm_flags & VM_HUGETLB))
		return 0;	/* hugetlbfs: its cache is by huge page, no base page is there */
	pfn = filemap_lookup(vma->vm_file, linear_page_index(vma, addr));
	return pfn != PFN_NONE && !(pfn_folio(m, pfn)->flags & PG_not_uptodate);
}

/* mincore_pte_range() for one page: a huge leaf counts for each of its pages. */
static unsigned char mincore_one(memlab_task *t, const struct vm_area_struct *vma, uint64_t addr)
{
	const struct pt_format *f = &t->mm->pt;
	struct pt_walk w;
	struct pt_prot p;
	uint64_t e, pfn, slot;
	bool exclusive;

	if (pt_walk(t->m, t->mm, addr, &w) == -MEMLAB_EINVAL)
		return mincore_unmapped(t->m, vma, addr);	/* no tables span it */
	e = w.entry[w.nr_levels - 1];
	pt_decode(f, (int)w.level, e, &pfn, &p);
	if (pt_prot_maps(&p) && !pt_entry_is_table(f, w.level, e))
		return 1;
	if (w.level == 0 && pt_swap_entry(f, e, &slot, &exclusive))
		return mincore_swap(t->m, slot);
	return mincore_unmapped(t->m, vma, addr);
}

/*
** do_mincore(): the pages of [addr, addr + pages) within addr's VMA:
** how many, or -MEMLAB_ENOMEM when addr is in a hole.  A VMA neither
** anonymous nor of a file -- [vdso], [vvar] -- cannot be asked
** (can_do_mincore): all resident.  A huge leaf is resident
** for each of its pages; a hugetlb page, once faulted in.  memlab's files
** belong to every task's user (inode_owner_or_capable()), so their pages
** can always be asked about.
*/
static int64_t do_mincore(memlab_task *t, uint64_t addr, uint64_t pages, unsigned char *vec)
{
	struct vm_area_struct *vma = vma_tree_find(&t->mm->mm_mt, addr);
	uint64_t n = 0;

	if (!vma || vma->vm_start > addr)
		return -MEMLAB_ENOMEM;
	for (; n < pages && addr < vma->vm_end; n++, addr += t->m->page_size)
		vec[n] = vma->special_name && !vma->vm_file ? 1 : mincore_one(t, vma, addr);
	return (int64_t)n;
}

/*
** mincore(2) into the host's vec, one byte a page of [addr, addr + len)
** (len rounded up to pages).  -MEMLAB_EINVAL for an unaligned addr,
** -MEMLAB_ENOMEM for a range past TASK_SIZE or not wholly mapped.
*/
int memlab_mincore(memlab_task *t, uint64_t addr, uint64_t len, unsigned char *vec)
{
	memlab_task *prev;
	uint64_t pages;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	if (!t->mm)
		return -MEMLAB_ENOMEM;
	if (addr & (t->m->page_size - 1))
		return -MEMLAB_EINVAL;
	if (len > t->mm->task_size || addr > t->mm->task_size - len)	/* access_ok() */
		return -MEMLAB_ENOMEM;
	pages = (len >> t->m->page_shift) + !!(len & (t->m->page_size - 1));
	if (pages && !vec)
		return -MEMLAB_EFAULT;
	prev = task_enter(t);
	/* a page of results at a time, each within one VMA, under the lock */
	for (ret = 0; pages && !ret;) {
		int64_t n;

		mmap_read_lock(t->mm);
		n = do_mincore(t, addr, pages < t->m->page_size ? pages : t->m->page_size, vec);
		mmap_read_unlock(t->mm);
		if (n < 0) {
			ret = (int)n;
		} else {
			pages -= (uint64_t)n;
			vec += n;
			addr += (uint64_t)n << t->m->page_shift;
		}
	}
	task_leave(t, prev);
	return ret;
}
