/*
** mmap.c -- mmap, munmap and brk with Linux 6.12's semantics (mm/mmap.c,
** mm/vma.c, mm/util.c, arch/x86/kernel/sys_x86_64.c): argument checks in
** Linux's order, get_unmapped_area top-down from mmap_base with the stack
** guard gap, MAP_FIXED replacing what was there, overcommit accounting
** (Committed_AS) and the mm counters.
*/
#include <string.h>

#include "mm.h"
#include "vmstat.h"


static inline uint64_t page_mask(const memlab_machine *m)
{
	return ~((uint64_t)m->page_size - 1);
}

static inline bool offset_in_page(const memlab_machine *m, uint64_t x)
{
	return x & (m->page_size - 1);
}

/* ===================== overcommit (mm/util.c) ===================== */

/* total_swap_pages: the swap device's slots. */
static uint64_t total_swap_pages(const memlab_machine *m)
{
	return m->swap ? m->swap->pages : 0;
}

/* vm_commit_limit(): RAM * overcommit_ratio / 100 + swap; CommitLimit. */
uint64_t vm_commit_limit(const memlab_machine *m)
{
	return totalram_pages(m) * (uint64_t)sysctl_overcommit_ratio(m) / 100 + total_swap_pages(m);
}

/*
** __vm_enough_memory(): charge pages to Committed_AS, then decide by
** vm.overcommit_memory: 1 always, 0 (heuristic) unless one request
** exceeds RAM + swap, 2 within CommitLimit less the admin and user
** reserves.  0, or -ENOMEM with nothing charged.
*/
int vm_enough_memory(memlab_task *t, int64_t pages)
{
	memlab_machine *m = t->m;
	int64_t allowed, reserve;

	vm_acct_memory(m, pages);
	if (sysctl_overcommit_memory(m) == 1)
		goto ok;
	if (sysctl_overcommit_memory(m) == 0) {
		if (pages > (int64_t)(totalram_pages(m) + total_swap_pages(m)))
			goto error;
		goto ok;
	}
	allowed = (int64_t)vm_commit_limit(m);
	if (!t->cap_sys_admin)
		allowed -= (int64_t)(m->admin_reserve_kbytes >> (m->page_shift - 10));
	reserve = (int64_t)(m->user_reserve_kbytes >> (m->page_shift - 10));
	allowed -= (int64_t)(t->mm->total_vm / 32) < reserve ? (int64_t)(t->mm->total_vm / 32) : reserve;
	if (vm_committed_as(m) < (uint64_t)(allowed > 0 ? allowed : 0))
		goto ok;
error:
	vm_acct_memory(m, -pages);
	return -MEMLAB_ENOMEM;
ok:
	t->mm->committed += pages;
	return 0;
}

void vm_unacct_memory(memlab_task *t, int64_t pages)
{
	vm_acct_memory(t->m, -pages);
	t->mm->committed -= pages;
}

/* ===================== get_unmapped_area ===================== */

struct unmapped_area_info {
	uint64_t length, low_limit, high_limit, align_mask, align_offset;
};

/*
** unmapped_area_topdown(): the highest gap of info->length in
** [low_limit, high_limit): above the last VMA, else the highest fitting
** gap below a VMA, found in O(log n) through the tree's largest gaps
** (vma_tree_gap_rev(), as Linux 4.x walked rb_subtree_gap).  Returns the
** address or -ENOMEM.
**
** The gaps are tried from the top down; the first whose end lies below
** low_limit ended Linux 4.x's walk.  That is the same answer as long as
** gaps end in address order, which only a VM_GROWSDOWN VMA's guard gap can
** break, and only within stack_guard_gap above low_limit: there 4.x's
** answer depended on the shape of its red-black tree, and here the
** highest fitting gap is taken.
*/
static int64_t unmapped_area_topdown(struct mm_struct *mm, const struct unmapped_area_info *info)
{
	struct vma_gap_query q;
	struct vm_area_struct *vma;
	uint64_t length = info->length + info->align_mask, gap_end;

	if (length < info->length || info->high_limit < length)
		return -MEMLAB_ENOMEM;
	q.length = length;
	q.high_limit = info->high_limit - length;
	if (info->low_limit > q.high_limit)
		return -MEMLAB_ENOMEM;
	q.low_limit = info->low_limit + length;
	gap_end = info->high_limit;
	if (mm->highest_vm_end > q.high_limit) {
		if (!(vma = vma_tree_gap_rev(&mm->mm_mt, &q)))
			return -MEMLAB_ENOMEM;
		gap_end = vm_start_gap(vma);
		if (gap_end > info->high_limit)
			gap_end = info->high_limit;
	}
	gap_end -= info->length;
	gap_end -= (gap_end - info->align_offset) & info->align_mask;
	return (int64_t)gap_end;
}

/* unmapped_area(): the lowest fitting gap, for the bottom-up fallback. */
static int64_t unmapped_area(struct mm_struct *mm, const struct unmapped_area_info *info)
{
	uint64_t gap_start = info->low_limit;

	for (struct vm_area_struct *vma = mm->mmap; ; vma = vma->vm_next) {
		uint64_t gap_end = vma ? vm_start_gap(vma) : info->high_limit;
		uint64_t start = gap_start + ((info->align_offset - gap_start) & info->align_mask);

		if (gap_end > info->high_limit)
			gap_end = info->high_limit;
		if (start >= info->low_limit && gap_end > start && gap_end - start >= info->length)
			return (int64_t)start;
		if (!vma || gap_end >= info->high_limit)
			return -MEMLAB_ENOMEM;
		if (vm_end_gap(vma) > gap_start)
			gap_start = vm_end_gap(vma);
	}
}

/* mmap_address_hint_valid(): x86 keeps a hint below or above the 47-bit window. */
static bool mmap_address_hint_valid(const struct mm_struct *mm, uint64_t addr, uint64_t len)
{
	if (mm->task_size - len < addr)
		return false;
	return (addr > mm->map_window) == (addr + len > mm->map_window);
}

/*
** arch_get_unmapped_area_topdown(): MAP_FIXED as given; a hint that fits
** below the next VMA's gap; else the highest gap under mmap_base, else
** bottom-up from TASK_UNMAPPED_BASE.  align_mask: what a gap's address
** must agree with pgoff in (a hugetlbfs file's huge page, less a page).
*/
static int64_t arch_get_unmapped_area_topdown(memlab_task *t, uint64_t addr, uint64_t len,
					      uint64_t pgoff, int flags, uint64_t align_mask)
{
	struct mm_struct *mm = t->mm;
	struct unmapped_area_info info = { 0 };
	int64_t ret;

	if (len > mm->task_size)
		return -MEMLAB_ENOMEM;
	if (flags & MEMLAB_MAP_FIXED)
		return (int64_t)addr;
	if (addr) {
		struct vm_area_struct *vma;

		addr &= page_mask(t->m);
		if (mmap_address_hint_valid(mm, addr, len)) {
			vma = find_vma(t, addr);
			if (!vma || addr + len <= vm_start_gap(vma))
				return (int64_t)addr;
		}
	}
	info.length = len;
	info.align_offset = pgoff << t->m->page_shift;
	info.align_mask = align_mask;
	if (!mm->legacy_layout) {
		/* unmapped_area_topdown() raises the low limit to mmap_min_addr */
		info.low_limit = t->m->page_size > mmap_min_addr(t->m) ? t->m->page_size
								       : mmap_min_addr(t->m);
		info.high_limit = mm->mmap_base;
		if (addr > mm->map_window)	/* a hint above 47 bits opens the LA57 space */
			info.high_limit += mm->task_size - mm->map_window;
		ret = unmapped_area_topdown(mm, &info);
		if (ret >= 0)
			return ret;
	}
	/* bottom-up: the legacy layout, or the fallback when top-down finds nothing */
	info.low_limit = mm->mmap_legacy_base > mmap_min_addr(t->m) ? mm->mmap_legacy_base
								     : mmap_min_addr(t->m);
	info.high_limit = addr > mm->map_window ? mm->task_size : mm->map_window;
	return unmapped_area(mm, &info);
}

/* HPAGE_PMD_SIZE: 2 MiB with 4K pages; 32 MiB and 512 MiB on arm64 16K and 64K. */
static uint64_t pmd_size(const memlab_machine *m)
{
	return 1ull << (m->page_shift + m->page_shift - 3);
}

/*
** __thp_get_unmapped_area(): place [off, off + len) of a file (or of
** anonymous memory, off 0) so that file offsets and addresses agree modulo
** the PMD size, when the range holds a whole aligned PMD; 0 to let the
** caller place it normally.  A hint that is honoured is kept as it is.
*/
static int64_t thp_get_unmapped_area(memlab_task *t, uint64_t addr, uint64_t len,
				     uint64_t off, int flags)
{
	uint64_t size = pmd_size(t->m), off_end = off + len;
	uint64_t off_align = (off + size - 1) & ~(size - 1), off_sub;
	int64_t ret;

	if (off_end <= off_align || off_end - off_align < size)
		return 0;
	if (len + size < len || off + len + size < off)
		return 0;
	ret = arch_get_unmapped_area_topdown(t, addr, len + size, off >> t->m->page_shift, flags, 0);
	if (ret < 0)
		return 0;
	if ((uint64_t)ret == addr)
		return ret;
	off_sub = (off - (uint64_t)ret) & (size - 1);
	if (!off_sub)		/* MMF_TOPDOWN: keep the aligned top of the padded gap */
		return ret + (int64_t)size;
	return ret + (int64_t)off_sub;
}

/*
** hugetlb_get_unmapped_area()'s checks (fs/hugetlbfs/inode.c): the length
** and a MAP_FIXED address are huge page aligned (-EINVAL), a hint is
** rounded up to a huge page (0 when that wraps: no hint).  0 or -EINVAL.
*/
static int hugetlb_area_check(struct memlab_file *file, uint64_t *addr, uint64_t len, int flags)
{
	uint64_t mask = (1ull << file->huge_shift) - 1;

	if (len & mask)
		return -MEMLAB_EINVAL;
	if (flags & MEMLAB_MAP_FIXED)
		return *addr & mask ? -MEMLAB_EINVAL : 0;
	*addr = (*addr + mask) & ~mask;
	return 0;
}

/* __get_unmapped_area()'s final checks of a MAP_FIXED address. */
static int64_t fixed_area_check(memlab_task *t, uint64_t addr, uint64_t len)
{
	/* IS_ERR_VALUE(): Linux takes an address in the top 4095 bytes for an
	 * errno (0xffffffffffffffff is -EPERM) -- and so does memlab */
	if (addr >= (uint64_t)-4095)
		return (int64_t)addr;
	if (addr > t->mm->task_size - len)
		return -MEMLAB_ENOMEM;
	if (offset_in_page(t->m, addr))
		return -MEMLAB_EINVAL;
	if (addr < t->m->dac_mmap_min_addr && !t->cap_sys_rawio)
		return -MEMLAB_EPERM;
	return (int64_t)addr;
}

/*
** __get_unmapped_area(): the address to map [addr, addr + len) at, then
** Linux's final checks: inside TASK_SIZE (ENOMEM), page aligned (EINVAL),
** not below vm.mmap_min_addr without CAP_SYS_RAWIO (EPERM).
*/
int64_t get_unmapped_area(memlab_task *t, struct memlab_file *file, uint64_t addr,
			  uint64_t len, uint64_t pgoff, int flags, uint64_t vm_flags)
{
	struct mm_struct *mm = t->mm;
	int64_t ret = 0;

	if (len > mm->task_size)
		return -MEMLAB_ENOMEM;
	if (is_file_hugepages(file) && (ret = hugetlb_area_check(file, &addr, len, flags)))
		return ret;
	if (flags & MEMLAB_MAP_FIXED)	/* any 64-bit value: keep it out of int64_t */
		return fixed_area_check(t, addr, len);
	if (!file)
		pgoff = 0;
	if (is_file_hugepages(file))	/* in a gap aligned to the huge page */
		ret = arch_get_unmapped_area_topdown(t, addr, len, pgoff, flags,
						     (1ull << file->huge_shift) - t->m->page_size);
	else if (file && !file->shmem)	/* a regular file's f_op: thp_get_unmapped_area (ext4) */
		ret = thp_get_unmapped_area(t, addr, len, pgoff << t->m->page_shift, flags);
	else if (!file && !(flags & MEMLAB_MAP_SHARED) && !addr && !(len & (pmd_size(t->m) - 1)))
		ret = thp_get_unmapped_area(t, 0, len, 0, flags);
	if (!ret)
		ret = arch_get_unmapped_area_topdown(t, addr, len, pgoff, flags, 0);
	if (ret < 0)
		return ret;
	if ((uint64_t)ret > mm->task_size - len)
		return -MEMLAB_ENOMEM;
	if (offset_in_page(t->m, (uint64_t)ret))
		return -MEMLAB_EINVAL;
	if ((uint64_t)ret < t->m->dac_mmap_min_addr && !t->cap_sys_rawio)
		return -MEMLAB_EPERM;
	return ret;
}

/* ===================== flag names ===================== */

#define MAP_NAME(x) { #x, MEMLAB_##x }

static const struct memlab_flag_name map_names[] = {
	MAP_NAME(MAP_SHARED), MAP_NAME(MAP_PRIVATE), MAP_NAME(MAP_SHARED_VALIDATE),
	MAP_NAME(MAP_FIXED), MAP_NAME(MAP_ANONYMOUS), MAP_NAME(MAP_GROWSDOWN),
	MAP_NAME(MAP_DENYWRITE), MAP_NAME(MAP_EXECUTABLE), MAP_NAME(MAP_LOCKED),
	MAP_NAME(MAP_NORESERVE), MAP_NAME(MAP_POPULATE), MAP_NAME(MAP_NONBLOCK),
	MAP_NAME(MAP_STACK), MAP_NAME(MAP_HUGETLB), MAP_NAME(MAP_SYNC),
	MAP_NAME(MAP_FIXED_NOREPLACE), MAP_NAME(MAP_DROPPABLE),
	MAP_NAME(MAP_HUGE_16KB), MAP_NAME(MAP_HUGE_64KB), MAP_NAME(MAP_HUGE_512KB),
	MAP_NAME(MAP_HUGE_1MB), MAP_NAME(MAP_HUGE_2MB), MAP_NAME(MAP_HUGE_8MB),
	MAP_NAME(MAP_HUGE_16MB), MAP_NAME(MAP_HUGE_32MB), MAP_NAME(MAP_HUGE_256MB),
	MAP_NAME(MAP_HUGE_512MB), MAP_NAME(MAP_HUGE_1GB), MAP_NAME(MAP_HUGE_2GB),
	MAP_NAME(MAP_HUGE_16GB),
	{ NULL, 0 }
};

const struct memlab_flag_name *memlab_map_names(void)
{
	return map_names;
}

/* ===================== munmap ===================== */

/* The counters a removed VMA takes with it (vms_gather_munmap_vmas). */
static void unaccount_vma(memlab_task *t, struct vm_area_struct *vma)
{
	struct mm_struct *mm = t->mm;
	uint64_t np = vma_pages(vma);

	vm_stat_account(mm, vma->vm_flags, -(int64_t)np);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm -= np;
	if (vma->vm_flags & VM_ACCOUNT)
		vm_unacct_memory(t, (int64_t)np);
}

/*
** unmap_region(): zap the VMAs from vma up to end, free the page tables
** between the neighbours that stay, and flush the TLBs once for all of
** it (one mmu_gather).  Returns the first VMA above end.  With unlock
** (munmap, brk, mremap's shrink: vms_complete_munmap_vmas) the mmap_lock
** is downgraded before the pages go and released after.
*/
static struct vm_area_struct *unmap_region(memlab_task *t, struct vm_area_struct *vma,
					    uint64_t end, bool unlock)
{
	struct vm_area_struct *prev = vma->vm_prev, *next;
	struct mmu_gather tlb;

	if (unlock)
		mmap_write_downgrade(t->mm);
	tlb_gather_mmu(&tlb, t, false);	/* no lru_add_drain(): the 6.18 host's munmap leaves the batches */
	while (vma && vma->vm_start < end) {
		next = vma->vm_next;
		zap_page_range(&tlb, vma, vma->vm_start, vma->vm_end);
		unaccount_vma(t, vma);
		vma_unlink(t->mm, vma);
		vm_area_free(vma);
		vma = next;
	}
	free_pgtables(t->m, t->mm, prev ? prev->vm_end : 0, vma ? vma->vm_start : 0, &tlb);
	tlb_finish_mmu(&tlb);
	if (unlock)
		mmap_read_unlock(t->mm);
	return vma;
}

/*
** Remove [start, end) from the address space, vma being find_vma(start):
** split the VMAs at both ends and free what lies inside.  The first split
** of a VMA that the range lies strictly inside fails at vm.max_map_count
** (-ENOMEM), before anything changed; the other splits never fail for the
** count.  The huge pages the cut goes through are split.  On success
** *pnext (if given) is the first VMA above the range, and with unlock the
** mmap_lock is released (do_vmi_munmap's unlock); on failure it is held.
*/
static int munmap_vmas(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
		       uint64_t end, struct vm_area_struct **pnext, bool unlock)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *next;
	int err;

	if (start >= end || !vma || vma->vm_start >= end) {
		if (pnext)
			*pnext = vma;
		if (unlock)
			mmap_write_unlock(mm);
		return 0;
	}
	if (start > vma->vm_start) {
		if (end < vma->vm_end && mm->map_count >= sysctl_max_map_count(t->m))
			return -MEMLAB_ENOMEM;
		if ((err = __split_vma(mm, vma, start, 1)))
			return err;
	}
	for (next = vma; next && next->vm_start < end; next = next->vm_next)
		if (next->special_name && next->vm_end > end)
			return -MEMLAB_EINVAL;	/* nothing changed yet: refuse before splitting */
	for (next = vma; next && next->vm_start < end; next = next->vm_next)
		if (next->vm_end > end && (err = __split_vma(mm, next, end, 0)))
			return err;
	split_huge_pmd_range(t, start, end);	/* the huge pages the cut goes through */
	vma = unmap_region(t, vma, end, unlock);
	if (pnext)
		*pnext = vma;
	return 0;
}

/*
** do_munmap_range(): remove [start, end); 0 or a negative errno.  With
** unlock, success releases the mmap_lock (see munmap_vmas).
*/
int do_munmap_range(memlab_task *t, uint64_t start, uint64_t end, bool unlock)
{
	return munmap_vmas(t, find_vma(t, start), start, end, NULL, unlock);
}

/* do_vmi_munmap(): munmap(2)'s checks, then the removal. */
int do_vmi_munmap(memlab_task *t, uint64_t start, uint64_t len, bool unlock)
{
	struct mm_struct *mm = t->mm;
	uint64_t end;

	if (offset_in_page(t->m, start) || start > mm->task_size || len > mm->task_size - start)
		return -MEMLAB_EINVAL;
	end = start + PAGE_ALIGN_M(t->m, len);
	if (end == start)
		return -MEMLAB_EINVAL;
	return do_munmap_range(t, start, end, unlock);
}

/* __vm_munmap(): every check is made under the lock. */
static int vm_munmap(memlab_task *t, uint64_t addr, uint64_t len)
{
	int ret;

	switch_to_task(t);	/* the caller runs on its CPU */
	mmap_write_lock(t->mm);
	ret = do_vmi_munmap(t, addr, len, true);
	if (ret)
		mmap_write_unlock(t->mm);
	return ret;
}

int memlab_munmap(memlab_task *t, uint64_t addr, uint64_t len)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = vm_munmap(t, addr, len);

	task_leave(t, prev);
	return ret;
}

/* ===================== mmap ===================== */

/* calc_vm_prot_bits(): PROT_* to VM_* (unknown bits ignored). */
uint64_t calc_vm_prot_bits(int prot)
{
	return (prot & MEMLAB_PROT_READ ? VM_READ : 0) |
	       (prot & MEMLAB_PROT_WRITE ? VM_WRITE : 0) |
	       (prot & MEMLAB_PROT_EXEC ? VM_EXEC : 0);
}

/* calc_vm_flag_bits(): MAP_GROWSDOWN, MAP_LOCKED, MAP_SYNC, MAP_STACK. */
static uint64_t calc_vm_flag_bits(int flags)
{
	return (flags & MEMLAB_MAP_GROWSDOWN ? VM_GROWSDOWN : 0) |
	       (flags & MEMLAB_MAP_LOCKED ? VM_LOCKED : 0) |
	       (flags & MEMLAB_MAP_SYNC ? VM_SYNC : 0) |
	       (flags & MEMLAB_MAP_STACK ? VM_NOHUGEPAGE : 0);
}

/*
** count_vma_pages_range(): the pages of [start, end) already mapped, from
** vma = find_vma(start) on, only those of VMAs with all of the flags in
** mask (0: every VMA).
*/
static uint64_t count_vma_pages_range(struct vm_area_struct *vma, uint64_t start, uint64_t end,
				      uint64_t mask)
{
	uint64_t n = 0;

	for (; vma && vma->vm_start < end; vma = vma->vm_next) {
		uint64_t s = vma->vm_start > start ? vma->vm_start : start;
		uint64_t e = vma->vm_end < end ? vma->vm_end : end;

		if ((vma->vm_flags & mask) == mask)
			n += (e - s) >> vma->vm_mm->machine->page_shift;
	}
	return n;
}

/* mlock_future_ok(): RLIMIT_MEMLOCK for VM_LOCKED mappings without CAP_IPC_LOCK. */
bool mlock_future_ok(memlab_task *t, uint64_t flags, uint64_t bytes)
{
	uint64_t locked, limit;

	if (!(flags & VM_LOCKED) || t->cap_ipc_lock)
		return true;
	locked = (bytes >> t->m->page_shift) + t->mm->locked_vm;
	limit = t->rlim.memlock >> t->m->page_shift;
	return t->rlim.memlock == RLIM_INFINITY || locked <= limit;
}

/* The new VMA of mmap_region() or brk, when it merged with nothing; not linked. */
static struct vm_area_struct *mmap_new_vma(memlab_task *t, struct memlab_file *file,
					   uint64_t addr, uint64_t len, uint64_t vm_flags,
					   uint64_t pgoff)
{
	struct vm_area_struct *vma = vm_area_alloc(t->mm);

	if (!vma)
		return NULL;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = vm_flags;
	vma->vm_pgoff = pgoff;
	vma_set_file(vma, file);
	return vma;
}

/*
** __mmap_region(): account, unmap what MAP_FIXED replaces, merge with a
** neighbour or link a new VMA.  The tree is searched once, for the VMA at
** or above addr, as Linux's vma iterator is; the neighbours follow from
** it.  Returns addr or a negative errno with nothing changed.
*/
static int64_t mmap_region(memlab_task *t, struct memlab_file *file, uint64_t addr,
			   uint64_t len, uint64_t vm_flags, uint64_t pgoff)
{
	struct mm_struct *mm = t->mm;
	uint64_t pglen = len >> t->m->page_shift, end = addr + len, charged = 0;
	struct vm_area_struct *vma = find_vma(t, addr), *next;
	struct vma_merge_struct vmg;
	int err;

	if (!may_expand_vm(t, vm_flags, pglen) &&
	    !may_expand_vm(t, vm_flags, pglen - count_vma_pages_range(vma, addr, end, 0)))
		return -MEMLAB_ENOMEM;
	if (vma && vma->vm_start < end && addr > vma->vm_start && end < vma->vm_end &&
	    mm->map_count >= sysctl_max_map_count(t->m))
		return -MEMLAB_ENOMEM;	/* vms_gather_munmap_vmas: the first split */
	if ((file && file->shmem) ? !(vm_flags & VM_NORESERVE)
				  : !is_file_hugepages(file) &&	/* accountable_mapping() */
				    (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE) {
		/* what MAP_FIXED replaces was charged already (vms.nr_accounted) */
		uint64_t nr_accounted = count_vma_pages_range(vma, addr, end, VM_ACCOUNT);

		charged = pglen - nr_accounted;
		if (charged && vm_enough_memory(t, (int64_t)charged))
			return -MEMLAB_ENOMEM;
		vm_acct_memory(t->m, (int64_t)nr_accounted);	/* the unmap below gives it back */
		t->mm->committed += nr_accounted;
		charged = pglen;
		if (!(file && file->shmem))
			vm_flags |= VM_ACCOUNT;
	}
	if ((err = munmap_vmas(t, vma, addr, end, &next, false)))
		goto unacct;
	if (is_file_hugepages(file) && (err = hugetlbfs_file_mmap(file, &vm_flags, pgoff)))
		return err;	/* never charged; what MAP_FIXED replaced stays unmapped */
	/*
	 * __mmap_complete(): what mlock cannot lock is not mlocked, MAP_DROPPABLE
	 * memory among it (host-checked: under mlockall(MCL_FUTURE) a droppable
	 * VMA has no "lo" and Locked: 0 kB -- but it is populated all the same,
	 * do_mmap() having seen VM_LOCKED)
	 */
	if ((vm_flags & VM_LOCKED) && (vm_flags & (VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE)))
		vm_flags &= ~(VM_LOCKED | VM_LOCKONFAULT);
	vmg = (struct vma_merge_struct){ .mm = mm, .prev = vma_prev_or_last(mm, next),
		.next = next, .start = addr, .end = end, .pgoff = pgoff, .flags = vm_flags,
		.file = file };
	vma = file && file->shmem ? NULL : vma_merge_new_range(&vmg);
	if (!vma) {
		err = -MEMLAB_ENOMEM;
		if (!(vma = mmap_new_vma(t, file, addr, len, vm_flags, pgoff)))
			goto unacct;
		__vma_link(mm, vma, vmg.prev);
	}
	if (file && file->shmem && charged) {	/* the shmem object carries the charge */
		file->charged = charged;
		t->mm->committed -= charged;
	}
	vm_stat_account(mm, vm_flags, (int64_t)pglen);
	if (vm_flags & VM_LOCKED)
		mm->locked_vm += pglen;
	vma->vm_flags |= VM_SOFTDIRTY;
	return (int64_t)addr;
unacct:
	if (charged)
		vm_unacct_memory(t, (int64_t)charged);
	return err;
}

static int mmap_file_flags(memlab_task *t, struct memlab_file *file, int prot, int flags,
			   uint64_t len, uint64_t pgoff, uint64_t *vm_flags);
static int mmap_anon_flags(memlab_task *t, uint64_t addr, uint64_t len, int flags,
			   uint64_t *vm_flags, uint64_t *pgoff, struct memlab_file **file);

/*
** do_mmap(): Linux's checks in Linux's order, the address, the flags of
** the new VMA, then mmap_region().  vm_flags: extra VM_* bits from the
** caller (the ELF loader).  Returns the address or a negative errno.
*/
int64_t do_mmap(memlab_task *t, struct memlab_file *file, uint64_t addr, uint64_t len,
		int prot, int flags, uint64_t vm_flags, uint64_t pgoff)
{
	memlab_machine *m = t->m;
	int64_t ret;

	if (!len)
		return -MEMLAB_EINVAL;
	if (flags & MEMLAB_MAP_FIXED_NOREPLACE)
		flags |= MEMLAB_MAP_FIXED;
	if (!(flags & MEMLAB_MAP_FIXED)) {	/* round_hint_to_min() */
		addr &= page_mask(m);
		if (addr && addr < mmap_min_addr(m))
			addr = PAGE_ALIGN_M(m, mmap_min_addr(m));
	}
	len = PAGE_ALIGN_M(m, len);
	if (!len)
		return -MEMLAB_ENOMEM;
	if (pgoff + (len >> m->page_shift) < pgoff)
		return -MEMLAB_EOVERFLOW;
	if (t->mm->map_count > sysctl_max_map_count(m))
		return -MEMLAB_ENOMEM;
	vm_flags |= calc_vm_prot_bits(prot) | calc_vm_flag_bits(flags) | t->mm->def_flags |
		    VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
	ret = get_unmapped_area(t, file, addr, len, pgoff, flags, vm_flags);
	if (ret < 0)
		return ret;
	addr = (uint64_t)ret;
	if ((flags & MEMLAB_MAP_FIXED_NOREPLACE) && find_vma_intersection(t, addr, addr + len))
		return -MEMLAB_EEXIST;
	if ((flags & MEMLAB_MAP_LOCKED) && !t->cap_ipc_lock && t->rlim.memlock == 0)
		return -MEMLAB_EPERM;	/* can_do_mlock() */
	if (!mlock_future_ok(t, vm_flags, len))
		return -MEMLAB_EAGAIN;
	if (file)
		ret = mmap_file_flags(t, file, prot, flags, len, pgoff, &vm_flags);
	else
		ret = mmap_anon_flags(t, addr, len, flags, &vm_flags, &pgoff, &file);
	if (ret < 0)
		return ret;
	/* hugetlb applies strict overcommit unless MAP_NORESERVE */
	if ((flags & MEMLAB_MAP_NORESERVE) &&
	    (sysctl_overcommit_memory(m) != 2 || is_file_hugepages(file)))
		vm_flags |= VM_NORESERVE;
	ret = mmap_region(t, file, addr, len, vm_flags, pgoff);
	if (file && file->shmem)
		file_put(file);		/* the VMA holds it now, or nothing does */
	return ret;
}

/* include/linux/mman.h; MAP_HUGE_2MB | MAP_HUGE_1GB lets every huge size of log2 < 32 through */
#define LEGACY_MAP_MASK (MEMLAB_MAP_SHARED | MEMLAB_MAP_PRIVATE | MEMLAB_MAP_FIXED | \
	MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_DENYWRITE | MEMLAB_MAP_EXECUTABLE | 0x4000000 | \
	MEMLAB_MAP_GROWSDOWN | MEMLAB_MAP_LOCKED | MEMLAB_MAP_NORESERVE | MEMLAB_MAP_POPULATE | \
	MEMLAB_MAP_NONBLOCK | MEMLAB_MAP_STACK | MEMLAB_MAP_HUGETLB | \
	(int)(MEMLAB_MAP_HUGE_2MB | MEMLAB_MAP_HUGE_1GB))

/* file_mmap_ok(): offset and length within a regular file's limits. */
static bool file_mmap_ok(const memlab_machine *m, uint64_t pgoff, uint64_t len)
{
	uint64_t maxsize = INT64_MAX;

	if (len > maxsize)
		return false;
	maxsize -= len;
	return pgoff <= maxsize >> m->page_shift;
}

/* do_mmap()'s switch for a file: the mapping type and the file's mode. */
static int mmap_file_flags(memlab_task *t, struct memlab_file *file, int prot, int flags,
			   uint64_t len, uint64_t pgoff, uint64_t *vm_flags)
{
	if (!file_mmap_ok(t->m, pgoff, len))
		return -MEMLAB_EOVERFLOW;
	switch (flags & MEMLAB_MAP_TYPE) {
	case MEMLAB_MAP_SHARED:
		flags &= LEGACY_MAP_MASK;
		/* fallthrough */
	case MEMLAB_MAP_SHARED_VALIDATE:
		if (flags & ~LEGACY_MAP_MASK)
			return -MEMLAB_EOPNOTSUPP;
		if ((prot & MEMLAB_PROT_WRITE) && !file->writable)
			return -MEMLAB_EACCES;
		*vm_flags |= VM_SHARED | VM_MAYSHARE;
		if (!file->writable)
			*vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
		/* fallthrough */
	case MEMLAB_MAP_PRIVATE:
		if (*vm_flags & VM_GROWSDOWN)
			return -MEMLAB_EINVAL;
		if ((*vm_flags & VM_SYNC) && !is_file_hugepages(file))
			return -MEMLAB_EOPNOTSUPP;	/* ext4_file_mmap(): not a DAX file */
		return 0;
	default:
		return -MEMLAB_EINVAL;
	}
}

/*
** do_mmap()'s switch for anonymous memory: a shared mapping is a shmem
** object ("/dev/zero (deleted)") with pgoff 0; a private one's pgoff is
** its address in pages, which keeps neighbours created in place mergeable.
** MAP_DROPPABLE is a private mapping whose pages the kernel may drop.
*/
static int mmap_anon_flags(memlab_task *t, uint64_t addr, uint64_t len, int flags,
			   uint64_t *vm_flags, uint64_t *pgoff, struct memlab_file **file)
{
	switch (flags & MEMLAB_MAP_TYPE) {
	case MEMLAB_MAP_SHARED:
		if (*vm_flags & VM_GROWSDOWN)
			return -MEMLAB_EINVAL;
		*pgoff = 0;
		*vm_flags |= VM_SHARED | VM_MAYSHARE;
		*file = shmem_zero_file(t->m, len);
		return *file ? 0 : -MEMLAB_ENOMEM;
	case MEMLAB_MAP_DROPPABLE:
		/* a locked, stack or hugetlb area makes no sense droppable */
		if (flags & (MEMLAB_MAP_LOCKED | MEMLAB_MAP_HUGETLB))
			return -MEMLAB_EINVAL;
		if (*vm_flags & VM_GROWSDOWN)
			return -MEMLAB_EINVAL;
		/* pages that may go at any time: nothing reserved (no VM_ACCOUNT),
		 * not copied by fork, not dumped */
		*vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
		/* fallthrough */
	case MEMLAB_MAP_PRIVATE:
		*pgoff = addr >> t->m->page_shift;
		return 0;
	default:
		return -MEMLAB_EINVAL;
	}
}

/*
** mmap(2) on x86-64 (ksys_mmap_pgoff): the byte offset must be page
** aligned; a file mapping needs a file (EBADF otherwise) that is not
** asked for MAP_HUGETLB (memlab's files are not on hugetlbfs: EINVAL);
** anonymous MAP_HUGETLB maps an unlinked hugetlbfs file instead
** (hugetlb.c).
*/
static int ksys_mmap_pgoff(memlab_task *t, uint64_t addr, uint64_t len, int prot, int flags,
			   memlab_file *file, uint64_t offset, uint64_t *out)
{
	struct memlab_file *huge = NULL;
	int64_t ret;

	switch_to_task(t);
	if (offset_in_page(t->m, offset))
		return -MEMLAB_EINVAL;
	if (flags & MEMLAB_MAP_ANONYMOUS)
		file = NULL;
	else if (!file)
		return -MEMLAB_EBADF;
	if (flags & MEMLAB_MAP_HUGETLB) {
		if (file)
			return -MEMLAB_EINVAL;
		if ((ret = hugetlb_file_setup(t, flags, &len, &huge)))
			return (int)ret;
		file = huge;
	}
	mmap_write_lock(t->mm);			/* vm_mmap_pgoff() */
	ret = do_mmap(t, file, addr, len, prot, flags, 0, offset >> t->m->page_shift);
	mmap_write_unlock(t->mm);
	if (huge)
		file_put(huge);		/* the VMA holds it now, or nothing does */
	if (ret < 0)
		return (int)ret;
	/* do_mmap()'s vm_flags: MAP_LOCKED, or mlockall(MCL_FUTURE)'s def_flags */
	if ((flags & (MEMLAB_MAP_POPULATE | MEMLAB_MAP_NONBLOCK)) == MEMLAB_MAP_POPULATE ||
	    (flags & MEMLAB_MAP_LOCKED) || (t->mm->def_flags & VM_LOCKED))
		mm_populate(t, (uint64_t)ret, PAGE_ALIGN_M(t->m, len));
	*out = (uint64_t)ret;
	return 0;
}

int memlab_mmap(memlab_task *t, uint64_t addr, uint64_t len, int prot, int flags,
		memlab_file *file, uint64_t offset, uint64_t *out)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = ksys_mmap_pgoff(t, addr, len, prot, flags, file, offset, out);

	task_leave(t, prev);
	return ret;
}

/*
** mm_populate(): fault the range in after mmap(MAP_POPULATE|MAP_LOCKED).
** Private writable VMAs are written (FOLL_WRITE), which gives them an
** anon_vma; the rest is read, which changes no VMA.  Failures are ignored,
** as Linux ignores them.  (The frames come with the MMU.)
*/
void mm_populate(memlab_task *t, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;

	mmap_read_lock(t->mm);
	/* __mm_populate(ignore_errors): a VMA's error goes on to the next */
	for (struct vm_area_struct *vma = find_vma(t, start); vma && vma->vm_start < end;
	     vma = vma->vm_next)
		populate_vma_page_range(t, vma, vma->vm_start > start ? vma->vm_start : start,
					vma->vm_end < end ? vma->vm_end : end, true);
	mmap_read_unlock(t->mm);
}

/* ===================== brk ===================== */

/*
** do_brk_flags(): grow the heap by [addr, addr + len): expand brkvma (the
** VMA ending at addr at or above start_brk) when it can merge, else a new
** anonymous VMA.  0 or -ENOMEM.
*/
int do_brk_flags(memlab_task *t, struct vm_area_struct *brkvma, uint64_t addr,
		 uint64_t len, uint64_t flags)
{
	struct mm_struct *mm = t->mm;
	uint64_t npages = len >> t->m->page_shift;
	struct vm_area_struct *vma;

	flags |= VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm->def_flags;
	if (!may_expand_vm(t, flags, npages))
		return -MEMLAB_ENOMEM;
	if (mm->map_count > sysctl_max_map_count(t->m))
		return -MEMLAB_ENOMEM;
	if (vm_enough_memory(t, (int64_t)npages))
		return -MEMLAB_ENOMEM;
	vma = NULL;
	if (brkvma && brkvma->vm_end == addr) {
		struct vma_merge_struct vmg = { .mm = mm, .prev = brkvma, .next = brkvma->vm_next,
			.start = addr, .end = addr + len, .pgoff = addr >> t->m->page_shift,
			.flags = flags, .just_expand = true };

		vma = vma_merge_new_range(&vmg);
	}
	if (!vma) {
		vma = mmap_new_vma(t, NULL, addr, len, flags, addr >> t->m->page_shift);
		if (!vma) {
			vm_unacct_memory(t, (int64_t)npages);
			return -MEMLAB_ENOMEM;
		}
		vma_link(mm, vma);
	}
	mm->total_vm += npages;
	mm->data_vm += npages;
	if (flags & VM_LOCKED)
		mm->locked_vm += npages;
	vma->vm_flags |= VM_SOFTDIRTY;
	return 0;
}

/* check_data_rlimit(): the heap plus the data segment against RLIMIT_DATA. */
static bool brk_over_data_rlimit(memlab_task *t, uint64_t brk)
{
	struct mm_struct *mm = t->mm;

	return t->rlim.data != RLIM_INFINITY &&
	       (brk - mm->start_brk) + (mm->end_data - mm->start_data) > t->rlim.data;
}

/*
** Shrinking: unmap [newbrk, oldbrk) if a heap VMA is there.  Success
** releases the mmap_lock (do_vmi_align_munmap with unlock).
*/
static bool brk_shrink(memlab_task *t, uint64_t brk, uint64_t newbrk, uint64_t oldbrk)
{
	struct vm_area_struct *vma = find_vma(t, newbrk);

	if (!vma || vma->vm_start >= oldbrk)
		return false;
	t->mm->brk = brk;
	return do_munmap_range(t, newbrk, oldbrk, true) == 0;
}

/* Growing: the range must be mappable and leave a page below the next VMA's gap. */
static bool brk_grow(memlab_task *t, uint64_t newbrk, uint64_t oldbrk)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *next, *brkvma;

	if (get_unmapped_area(t, NULL, oldbrk, newbrk - oldbrk, 0, MEMLAB_MAP_FIXED, 0) < 0)
		return false;
	if (!mlock_future_ok(t, mm->def_flags, newbrk - oldbrk))
		return false;
	next = find_vma(t, oldbrk);
	if (next && newbrk + t->m->page_size > vm_start_gap(next))
		return false;
	brkvma = vma_prev_or_last(mm, next);
	if (brkvma && brkvma->vm_end <= mm->start_brk)
		brkvma = NULL;	/* vma_prev_limit(start_brk): it must reach above start_brk */
	return do_brk_flags(t, brkvma, oldbrk, newbrk - oldbrk, 0) == 0;
}

/*
** brk(2): returns the new break, or the old one when Linux refuses (below
** start_brk, over RLIMIT_DATA, no room, out of memory).  The break itself
** is kept unaligned; the heap VMA ends at PAGE_ALIGN(brk).
*/
static uint64_t sys_brk(memlab_task *t, uint64_t brk)
{
	struct mm_struct *mm = t->mm;
	uint64_t origbrk, newbrk, oldbrk;

	switch_to_task(t);
	mmap_write_lock(mm);		/* every check is made under the lock */
	origbrk = mm->brk;
	if (brk < mm->start_brk || brk_over_data_rlimit(t, brk))
		goto out;
	newbrk = PAGE_ALIGN_M(t->m, brk);
	oldbrk = PAGE_ALIGN_M(t->m, mm->brk);
	if (newbrk < brk)
		goto out;
	if (oldbrk != newbrk && brk <= mm->brk) {
		if (!brk_shrink(t, brk, newbrk, oldbrk))
			goto out;
		return brk;		/* success_unlocked */
	}
	if (oldbrk != newbrk && !brk_grow(t, newbrk, oldbrk))
		goto out;
	mm->brk = brk;
	mmap_write_unlock(mm);
	if (newbrk > oldbrk && (mm->def_flags & VM_LOCKED))
		mm_populate(t, oldbrk, newbrk - oldbrk);	/* mlockall(MCL_FUTURE) */
	return brk;
out:
	mm->brk = origbrk;
	mmap_write_unlock(mm);
	return origbrk;
}

uint64_t memlab_brk(memlab_task *t, uint64_t brk)
{
	memlab_task *prev;
	uint64_t ret;

	if (t->m->dead)
		return t->mm->brk;
	prev = task_enter(t);
	ret = sys_brk(t, brk);

	task_leave(t, prev);
	return ret;
}

/*
** glibc's sbrk(): from its cached break __curbrk (set by brk(0) at start-up
** and by each of its own brk calls, not by a raw brk(2)), the old break on
** success; increments that wrap fail with ENOMEM; a refused shrink
** "succeeds" (glibc's brk() only checks that the result is not below the
** request).
*/
static int glibc_sbrk(memlab_task *t, int64_t increment, uint64_t *old)
{
	uint64_t cur, want, got;

	if (!t->mm->curbrk)		/* libc.so's __curbrk starts NULL */
		t->mm->curbrk = memlab_brk(t, 0);
	cur = t->mm->curbrk;
	if (increment == 0) {
		*old = cur;
		return 0;
	}
	if ((increment > 0 && cur + (uint64_t)increment < cur) ||
	    (increment < 0 && cur < (uint64_t)0 - (uint64_t)increment))
		return -MEMLAB_ENOMEM;
	want = cur + (uint64_t)increment;
	got = memlab_brk(t, want);
	t->mm->curbrk = got;
	if (got < want)
		return -MEMLAB_ENOMEM;
	*old = cur;
	return 0;
}

int memlab_sbrk(memlab_task *t, int64_t increment, uint64_t *old)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = glibc_sbrk(t, increment, old);

	task_leave(t, prev);
	return ret;
}

/*
** exit_mmap(): every page, VMA and table goes, with the charges; the
** TLBs are flushed for the whole mm (tlb_gather_mmu_fullmm), and no CPU
** keeps the mm loaded.  The pages go under the mmap_lock held for
** reading, the tables and VMAs under it held for writing: the VMAs leave
** their anon_vmas with the tables (free_pgtables), and their objects are
** freed last (remove_vma), in address order.
*/
void exit_mmap(memlab_task *t)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *dead = NULL, **tail = &dead;
	struct mmu_gather tlb;

	mmap_read_lock(mm);
	/*
	** No lru_add_drain(), since 6.15 ("mm: remove unnecessary calls to
	** lru_add_drain"): the pages still in a CPU's batch stay there, with
	** their charges, until something drains it (a 6.18 host: a child's
	** exit leaves its parent's lazyfree move waiting, 20 times in 20).
	*/
	tlb_gather_mmu(&tlb, t, true);
	for (struct vm_area_struct *vma = mm->mmap; vma; vma = vma->vm_next)
		zap_page_range(&tlb, vma, vma->vm_start, vma->vm_end);
	pgtable_deposit_release(t->m, mm);
	mmap_read_unlock(mm);
	mmap_write_lock(mm);
	while (mm->mmap) {
		struct vm_area_struct *vma = mm->mmap;

		unaccount_vma(t, vma);
		vma_unlink(mm, vma);
		unlink_anon_vmas(vma);
		*tail = vma;
		tail = &vma->vm_next;
	}
	*tail = NULL;
	pt_free_all(t->m, mm, &tlb);
	tlb_finish_mmu(&tlb);
	while (dead) {
		struct vm_area_struct *vma = dead;

		dead = vma->vm_next;
		vm_area_free(vma);
	}
	mmap_write_unlock(mm);
	tlb_mm_release(t->m, mm);
}
