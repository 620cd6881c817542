/*
** hugetlb.c -- anonymous MAP_HUGETLB mappings as Linux 6.18 makes them
** (mm/mmap.c ksys_mmap_pgoff, fs/hugetlbfs/inode.c hugetlb_file_setup and
** hugetlbfs_file_mmap, mm/hugetlb.c hugetlb_reserve_pages) on a machine
** whose huge page pool is empty: vm.nr_hugepages and
** vm.nr_overcommit_hugepages are 0, Linux's defaults.
**
** The mapping is backed by an unlinked hugetlbfs file, "/anon_hugepage
** (deleted)" on the hstate's hugetlbfs mount, its length rounded up to
** the huge page size.  With an empty pool a reservation always fails, so
** only MAP_NORESERVE mappings succeed, and then every fault is SIGBUS
** (hugetlb_no_page() finds no huge page to allocate).
*/
#include "mm.h"

/*
** The hstates the architecture registers at boot, the default (the PMD
** size, HPAGE_SIZE) first:
**   x86-64: 2 MiB, and 1 GiB (X86_FEATURE_GBPAGES, as on the host);
**   arm64 (hugetlbpage_init): PMD, then PUD (4K pages only), CONT_PMD and
**   CONT_PTE -- 4K: 2M, 1G, 32M, 64K; 16K: 32M, 1G, 2M; 64K: 512M, 16G, 2M.
** Each hstate has its own hugetlbfs mount, the default's first; the
** anonymous device minors are the reference host's (00:11 for 2 MiB,
** 00:12 for 1 GiB).  arm64 is given the next minors in the order above,
** which no arm64 host has confirmed.
*/
#define HUGETLBFS_FIRST_MINOR	0x11
#define MAX_HSTATES		4

static int hstate_shifts(const memlab_machine *m, unsigned shifts[MAX_HSTATES])
{
	unsigned p = m->page_shift, pmd = 2 * p - 3;

	if (m->arch == MEMLAB_ARCH_X86_64) {
		shifts[0] = pmd;
		shifts[1] = 30;
		return 2;
	}
	switch (p) {
	case 12:	/* CONT_PTE 16 entries, CONT_PMD 16 */
		shifts[0] = pmd, shifts[1] = 30, shifts[2] = pmd + 4, shifts[3] = p + 4;
		return 4;
	case 14:	/* CONT_PTE 128 entries, CONT_PMD 32 */
		shifts[0] = pmd, shifts[1] = pmd + 5, shifts[2] = p + 7;
		return 3;
	default:	/* 64K: CONT_PTE 32 entries, CONT_PMD 32 */
		shifts[0] = pmd, shifts[1] = pmd + 5, shifts[2] = p + 5;
		return 3;
	}
}

/*
** hugetlb_show_meminfo_node() (mm/hugetlb.c) for node 0: a line per
** hstate, in for_each_hstate()'s order -- registration order, which on
** both architectures is from the largest size down (x86-64: 1G, then 2M,
** arch/x86/mm/hugetlbpage.c gigantic_pages_init() running before
** hugetlb_init(); arm64: PUD, CONT_PMD, PMD, CONT_PTE,
** arch/arm64/mm/hugetlbpage.c) -- each pool empty.
*/
void hugetlb_show_meminfo_node(memlab_machine *m, struct strbuf *sb)
{
	unsigned shifts[MAX_HSTATES];
	int n = hstate_shifts(m, shifts);

	for (int i = 1; i < n; i++)		/* largest first */
		for (int k = i; k > 0 && shifts[k] > shifts[k - 1]; k--) {
			unsigned t = shifts[k];

			shifts[k] = shifts[k - 1];
			shifts[k - 1] = t;
		}
	for (int i = 0; i < n; i++)
		sb_printf(sb, "Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 "
			  "hugepages_size=%llukB\n", (1ull << shifts[i]) >> 10);
}

/*
** hstate_sizelog(): the hstate of MAP_HUGE_SHIFT's log2 size, 0 meaning
** the default.  Its index (the default is 0), or -1 for a size the
** architecture has no hstate of.
*/
static int hstate_sizelog(const memlab_machine *m, unsigned log, unsigned *shift)
{
	unsigned shifts[MAX_HSTATES];
	int n = hstate_shifts(m, shifts);

	for (int i = 0; i < n; i++)
		if (log == 0 ? i == 0 : shifts[i] == log) {
			*shift = shifts[i];
			return i;
		}
	return -1;
}

/*
** ksys_mmap_pgoff() for MAP_ANONYMOUS|MAP_HUGETLB: pick the hstate from
** the MAP_HUGE_ bits (-EINVAL for a size without one), round *len up to
** its huge page size (a length that wraps becomes 0, which do_mmap
** refuses) and create the unlinked file, of which the caller holds the
** only reference.  Nothing is reserved here (VM_NORESERVE): the
** reservation is hugetlbfs_file_mmap()'s.  0, -EINVAL or -ENOMEM.
*/
int hugetlb_file_setup(memlab_task *t, int flags, uint64_t *len, struct memlab_file **out)
{
	unsigned log = ((unsigned)flags >> MEMLAB_MAP_HUGE_SHIFT) & MEMLAB_MAP_HUGE_MASK, shift;
	int idx = hstate_sizelog(t->m, log, &shift);
	struct memlab_file *f;

	if (idx < 0)
		return -MEMLAB_EINVAL;
	*len = (*len + (1ull << shift) - 1) & ~((1ull << shift) - 1);
	/*
	 * i_size stays 0 (Linux sets it to the mapped length): memlab_touch()
	 * answers SIGBUS for a page at or past a file's end, which is what
	 * every fault of an empty pool gets.
	 */
	f = file_alloc(t->m, "/anon_hugepage", 0);
	if (!f)
		return -MEMLAB_ENOMEM;
	f->dev_major = 0;
	f->dev_minor = HUGETLBFS_FIRST_MINOR + (unsigned)idx;
	f->deleted = f->writable = true;
	f->huge_shift = shift;
	*out = f;
	return 0;
}

/*
** hugetlbfs_file_mmap(): the VMA becomes VM_HUGETLB | VM_DONTEXPAND; the
** file offset must be huge page aligned (-EINVAL); then the huge pages are
** reserved (hugetlb_reserve_pages), which with an empty pool fails
** (-ENOMEM) unless VM_NORESERVE asks for no reservation.  Linux calls it
** after the range was unmapped, so on failure what MAP_FIXED replaced is
** gone (host-checked).
*/
int hugetlbfs_file_mmap(struct memlab_file *file, uint64_t *vm_flags, uint64_t pgoff)
{
	uint64_t pages = 1ull << (file->huge_shift - file->m->page_shift);

	*vm_flags |= VM_HUGETLB | VM_DONTEXPAND;
	if (pgoff & (pages - 1))
		return -MEMLAB_EINVAL;
	if (!(*vm_flags & VM_NORESERVE))
		return -MEMLAB_ENOMEM;	/* hugetlb_acct_memory(): nothing free, no surplus allowed */
	return 0;
}
