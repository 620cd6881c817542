/*
** readahead.c -- on-demand readahead (mm/readahead.c, Linux 6.18; the mmap
** side from mm/filemap.c, fadvise from mm/fadvise.c) and the disk's
** request queue it sizes itself by (block/blk-sysfs.c, blk-settings.c).
**
** A read(2) that misses the page cache reads a window from the file
** (page_cache_sync_ra); the window's last part is its async tail, whose
** first page carries PG_readahead.  A later read or fault that finds the
** mark reads the next window, larger (page_cache_async_ra), before the
** reader gets there.  Random reads read what they ask for.  Each file has
** one struct file_ra_state, as one open file description would (both
** read(2) and every mapping of the file use it).
**
** A file's page cache holds order-0 folios (ext4 with data=journal, memlab's
** default: page_cache_ra_order() falls back to do_page_cache_ra(), as
** Linux does for such a mapping), or large folios (memlab_file_large_folios:
** ext4 otherwise), read in folios of ra->order, +2 at each async window.
*/
#include "mm.h"
#include "vmstat.h"

#define SZ_2M		(2ull << 20)

/* ===================== the disk's queue ===================== */

#define VM_READAHEAD_KB		128	/* VM_READAHEAD_PAGES: blk_apply_bdi_limits() with no io_opt */
#define BLK_DEF_MAX_SECTORS_CAP	2560	/* 1280 KiB: max_sectors without a user's limit */
#define MAX_HW_SECTORS		65534	/* what the disk takes in one request (32767 KiB) */
#define BLK_MIN_SEGMENT_SECTORS	8	/* BLK_MIN_SEGMENT_SIZE, 4 KiB */

void bdi_init(memlab_machine *m)
{
	m->bdi.ra_pages = VM_READAHEAD_KB >> (m->page_shift - 10);
	m->bdi.max_sectors = BLK_DEF_MAX_SECTORS_CAP;
}

/* bdi->io_pages: the largest request in pages (0 when below a page) */
static uint64_t bdi_io_pages(const memlab_machine *m)
{
	return m->bdi.max_sectors >> (m->page_shift - 9);
}

/*
** /sys/block/<disk>/queue/read_ahead_kb and max_sectors_kb as the block
** layer takes them: queue_ra_store() keeps whole pages (64 reads back as 0
** with 64K pages); queue_max_sectors_store() sets the 32-bit
** max_user_sectors (kb << 1, wrapping), which blk_validate_limits()
** refuses below 4 KiB, clamps to the hardware's limit and takes 0 for the
** default, and the new limits raise ra_pages to VM_READAHEAD_PAGES at
** least (blk_apply_bdi_limits).  Values above UINT_MAX are EINVAL
** (queue_var_store).  Given both, max_sectors_kb is written first; nothing
** changes when one value is refused.
*/
int memlab_disk_queue(memlab_machine *m, const struct memlab_disk_queue *set,
		      struct memlab_disk_queue *get)
{
	if (set) {
		int64_t ra = set->read_ahead_kb, ms = set->max_sectors_kb;
		uint32_t user = (uint32_t)((uint64_t)ms << 1);
		uint64_t floor = VM_READAHEAD_KB >> (m->page_shift - 10);

		if (ra < -1 || ra > UINT32_MAX || ms < -1 || ms > UINT32_MAX ||
		    (ms != -1 && user && user < BLK_MIN_SEGMENT_SECTORS))
			return -MEMLAB_EINVAL;
		if (ms != -1) {
			m->bdi.max_sectors = !user ? BLK_DEF_MAX_SECTORS_CAP
				: user < MAX_HW_SECTORS ? user : MAX_HW_SECTORS;
			if (m->bdi.ra_pages < floor)
				m->bdi.ra_pages = floor;
		}
		if (ra != -1)
			m->bdi.ra_pages = (uint64_t)ra >> (m->page_shift - 10);
	}
	if (get) {
		get->read_ahead_kb = (int64_t)(m->bdi.ra_pages << (m->page_shift - 10));
		get->max_sectors_kb = (int64_t)(m->bdi.max_sectors >> 1);
	}
	return 0;
}

/* file_ra_state_init(): at open, the window's limit is the disk's. */
void file_ra_state_init(struct memlab_file *f)
{
	memset(&f->ra, 0, sizeof(f->ra));
	f->ra.ra_pages = f->m->bdi.ra_pages;
	f->ra.prev_pos = -1;
}

/* ===================== reading ===================== */

static uint64_t file_end_index(const struct memlab_file *f)
{
	return (f->size - 1) >> f->m->page_shift;
}

/*
** page_cache_ra_unbounded(): read the pages of [index, index + nr) that
** are not cached; the page lookahead pages before the window's end gets
** PG_readahead, when this read adds it (not a page already cached).  A
** failed allocation ends it.
*/
static uint64_t page_cache_ra_unbounded(struct memlab_file *f, uint64_t index, uint64_t nr,
					uint64_t lookahead)
{
	uint64_t mark = lookahead <= nr ? nr - lookahead : UINT64_MAX, pfn, i;

	for (i = 0; i < nr; i++) {
		if (filemap_lookup(f, index + i) != PFN_NONE)
			continue;	/* present: read_pages() of the batch so far, skip it */
		if (filemap_add_page(f, index + i, &pfn, true, false))
			break;
		if (i == mark)
			pfn_to_page(f->m, pfn)->flags |= PG_readahead;
	}
	return i;	/* how far ractl->_index went */
}

/*
** do_page_cache_ra(): no further than the page holding the file's last
** byte.  Returns how many indices it went through (0: none to read).
*/
static uint64_t do_page_cache_ra(struct memlab_file *f, uint64_t index, uint64_t nr,
				 uint64_t lookahead)
{
	uint64_t end;

	if (!f->size)
		return 0;
	end = file_end_index(f);
	if (index > end)
		return 0;
	if (nr > end - index)
		nr = end - index + 1;
	return page_cache_ra_unbounded(f, index, nr, lookahead);
}

/*
** force_page_cache_ra(): read nr pages from index now (fadvise WILLNEED,
** a file opened FMODE_RANDOM), at most max(io_pages, ra_pages), in chunks
** of 2 MiB, each from where the last one's reading got (ractl->_index):
** past the end of the file, nowhere.
*/
static void force_page_cache_ra(struct memlab_file *f, uint64_t index, uint64_t nr)
{
	uint64_t max = bdi_io_pages(f->m), chunk = SZ_2M >> f->m->page_shift;

	if (f->ra.ra_pages > max)
		max = f->ra.ra_pages;
	if (nr > max)
		nr = max;
	while (nr) {
		uint64_t this = nr < chunk ? nr : chunk;

		index += do_page_cache_ra(f, index, this, 0);
		nr -= this;
	}
}

static uint64_t roundup_pow_of_two(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
** get_init_ra_size(): the first window: the request rounded up to a power
** of two, x4 while small, x2 while medium, else the limit.
*/
static uint64_t get_init_ra_size(uint64_t size, uint64_t max)
{
	uint64_t n = roundup_pow_of_two(size);

	if (n <= max / 32)
		return n * 4;
	if (n <= max / 4)
		return n * 2;
	return max;
}

/* get_next_ra_size(): each window x4 while small, then x2, up to the limit. */
static uint64_t get_next_ra_size(const struct file_ra_state *ra, uint64_t max)
{
	if (ra->size < max / 16)
		return 4 * ra->size;
	if (ra->size <= max / 2)
		return 2 * ra->size;
	return max;
}

/*
** ra_alloc_folio(): a folio of 2^order pages at index for the window,
** marked PG_readahead when it holds the window's mark (rounded down to
** its size).  0, -MEMLAB_EEXIST (a page of its range is cached) or
** -MEMLAB_ENOMEM.
*/
static int ra_alloc_folio(struct memlab_file *f, uint64_t index, uint64_t mark, unsigned order)
{
	uint64_t pfn;
	int err = filemap_add_folio(f, index, order, true, false, &pfn);

	if (!err && index == (mark & ~((1ull << order) - 1)))
		pfn_to_page(f->m, pfn)->flags |= PG_readahead;
	return err;
}

/*
** page_cache_ra_order(): read the window [index, index + ra->size) in
** folios of ra->order -- capped by the mapping's largest folio and the
** window's size -- each smaller where index is not aligned to it or it
** would reach past the file's last page.  A folio that cannot be added
** (a page of its range is cached, no memory) ends it, and
** do_page_cache_ra() reads the rest page by page.  A mapping without
** large folios reads it all so, with ra->order back to 0.
*/
static void page_cache_ra_order(struct memlab_file *f, uint64_t index)
{
	struct file_ra_state *ra = &f->ra;
	uint64_t start = index, mark = index + ra->size - ra->async_size, limit;
	unsigned new_order = ra->order;
	int err = 0;

	if (!f->max_folio_order) {
		ra->order = 0;
		do_page_cache_ra(f, index, ra->size, ra->async_size);
		return;
	}
	if (!f->size)		/* no read or fault gets here (they stop at the file's end) */
		return;
	limit = file_end_index(f) < index + ra->size - 1 ? file_end_index(f) : index + ra->size - 1;
	if (new_order > f->max_folio_order)
		new_order = f->max_folio_order;
	/* ilog2(ra->size); of 0, -1 as unsigned: no cap (a marked folio met with no window) */
	if (ra->size && new_order > (unsigned)(63 - __builtin_clzll(ra->size)))
		new_order = (unsigned)(63 - __builtin_clzll(ra->size));
	ra->order = new_order;
	while (index <= limit) {
		unsigned order = new_order;

		if (index & ((1ull << order) - 1))
			order = (unsigned)__builtin_ctzll(index);
		while (order > 0 && index + (1ull << order) - 1 > limit)
			order--;
		err = ra_alloc_folio(f, index, mark, order);
		if (err)
			break;
		index += 1ull << order;
	}
	if (err && ra->size > index - start)
		do_page_cache_ra(f, index, ra->size - (index - start), ra->async_size);
}

/* ractl_max_pages(): a request larger than the window may go up to io_pages. */
static uint64_t ractl_max_pages(const struct memlab_file *f, uint64_t req)
{
	uint64_t max = f->ra.ra_pages, io = bdi_io_pages(f->m);

	if (req > max && io > max)
		max = req < io ? req : io;
	return max;
}

/*
** page_cache_sync_ra(): a read of req pages at index missed the cache.  A
** read at the file's start, one larger than the window, or one that
** follows the last read starts a window; one that follows cached pages (an
** interleaved stream) takes their number as its size; any other is a
** random read and reads just itself.
*/
void page_cache_sync_ra(struct memlab_file *f, uint64_t index, uint64_t req)
{
	struct file_ra_state *ra = &f->ra;
	uint64_t max, prev, miss, contig;

	if (!ra->ra_pages || ra->random) {
		force_page_cache_ra(f, index, ra->ra_pages ? req : 1);
		return;
	}
	max = ractl_max_pages(f, req);
	prev = (uint64_t)ra->prev_pos >> f->m->page_shift;
	if (!index || req > max || index - prev <= 1) {
		ra->start = index;
		ra->size = get_init_ra_size(req, max);
		ra->async_size = ra->size > req ? ra->size - req : ra->size >> 1;
		ra->order = 0;
		page_cache_ra_order(f, ra->start);
		return;
	}
	miss = page_cache_prev_miss(f, index - 1, max);
	contig = index - miss - 1;
	if (contig <= req) {
		do_page_cache_ra(f, index, req, 0);
		return;
	}
	if (miss == UINT64_MAX)		/* cached from the file's start: a whole-file read */
		contig *= 2;
	ra->start = index;
	ra->size = contig + req < max ? contig + req : max;
	ra->async_size = 1;
	ra->order = 0;
	page_cache_ra_order(f, ra->start);
}

/*
** page_cache_async_ra(): a read or fault at index found folio marked
** PG_readahead.  The mark goes; the window after the last one is read
** whole as the new async tail, larger -- or, when the mark is not where
** the last window put it (rounded down to the folio: another stream's,
** or a fault on a later page of the folio), one sized by the cached run
** after index.
*/
void page_cache_async_ra(struct memlab_file *f, struct page *folio, uint64_t index, uint64_t req)
{
	struct file_ra_state *ra = &f->ra;
	uint64_t max, start, end, align, aligned_end, expected;

	if (!ra->ra_pages)
		return;
	folio->flags &= ~PG_readahead;
	max = ractl_max_pages(f, req);
	expected = (ra->start + ra->size - ra->async_size) & ~(folio_nr_pages(folio) - 1);
	if (index == expected) {
		uint64_t next = get_next_ra_size(ra, max);

		ra->start += ra->size;
		ra->size = ra->size > next ? ra->size : next;
	} else {
		start = page_cache_next_miss(f, index + 1, max);
		if (!start || start - index > max)
			return;
		ra->start = start;
		ra->size = start - index + req;
		ra->size = get_next_ra_size(ra, max);
	}
	/* the window ends on a folio of the order the next read would ask */
	ra->order += 2;
	align = 1ull << (ra->order < (unsigned)__builtin_ctzll(max) ? ra->order
								      : (unsigned)__builtin_ctzll(max));
	end = ra->start + ra->size;
	aligned_end = end & ~(align - 1);
	if (aligned_end > ra->start)
		ra->size -= end - aligned_end;
	ra->async_size = ra->size;
	page_cache_ra_order(f, ra->start);
}

/* ===================== mmap faults ===================== */

#define MAX_PAGECACHE_ORDER	11	/* MAX_XAS_ORDER: XA_CHUNK_SHIFT * 2 - 1 */

/* exec_folio_order(): arm64 asks 64K folios for text, others order 0. */
static unsigned exec_folio_order(const memlab_machine *m)
{
	if (m->arch != MEMLAB_ARCH_ARM64 || m->page_size >= 65536)
		return 0;
	return (unsigned)__builtin_ctz(65536 >> m->page_shift);
}

/*
** do_sync_mmap_readahead(): a fault at index missed the cache.
** VM_HUGEPAGE reads two PMDs' worth from the aligned index (one with
** VM_RAND_READ), even with readahead off; VM_RAND_READ reads nothing
** more; VM_SEQ_READ reads ahead as read(2) does; else, unless the
** file's mmap faults miss far more than they hit, read around it
** (VM_EXEC: from it on, within the VMA, no async tail).
*/
void do_sync_mmap_readahead(struct vm_area_struct *vma, uint64_t index)
{
	struct memlab_file *f = vma->vm_file;
	struct file_ra_state *ra = &f->ra;
	unsigned pmd_order = hpage_pmd_order(f->m);
	uint64_t hpage_nr = 1ull << pmd_order;

	/* HPAGE_PMD_ORDER <= MAX_PAGECACHE_ORDER (11): not with 64K pages */
	if ((vma->vm_flags & VM_HUGEPAGE) && pmd_order <= MAX_PAGECACHE_ORDER) {
		ra->size = vma->vm_flags & VM_RAND_READ ? hpage_nr : 2 * hpage_nr;
		ra->async_size = hpage_nr;
		ra->order = pmd_order;
		page_cache_ra_order(f, index & ~(hpage_nr - 1));	/* ra->start stays */
		return;
	}
	if ((vma->vm_flags & (VM_RAND_READ | VM_EXEC)) == VM_RAND_READ || !ra->ra_pages)
		return;
	if (vma->vm_flags & VM_SEQ_READ) {
		page_cache_sync_ra(f, index, ra->ra_pages);
		return;
	}
	if (ra->mmap_miss < MMAP_LOTSAMISS * 10)
		ra->mmap_miss++;
	if (ra->mmap_miss > MMAP_LOTSAMISS)
		return;
	if (vma->vm_flags & VM_EXEC) {
		uint64_t first = vma->vm_pgoff, last = first + vma_pages(vma);
		unsigned order = exec_folio_order(f->m);
		uint64_t mask = (1ull << order) - 1, ra_end;

		ra->start = index & ~mask;
		ra->start = ra->start > first ? ra->start : first;
		ra_end = (ra->start + ra->ra_pages + mask) & ~mask;
		ra->size = (ra_end < last ? ra_end : last) - ra->start;
		ra->async_size = 0;
		ra->order = order;
	} else {
		ra->start = index > ra->ra_pages / 2 ? index - ra->ra_pages / 2 : 0;
		ra->size = ra->ra_pages;
		ra->async_size = ra->ra_pages / 4;
		ra->order = 0;
	}
	page_cache_ra_order(f, ra->start);
}

/*
** do_async_mmap_readahead(): a fault found its page (at pfn) cached: a
** hit (mmap_miss goes down), and the next window when the page's folio is
** marked -- asked for at the faulting index, not the folio's.  Whether it
** read ahead: the fault dropped its lock for that (maybe_unlock_mmap_for_io)
** and is retried.
*/
bool do_async_mmap_readahead(struct vm_area_struct *vma, uint64_t pfn)
{
	struct file_ra_state *ra = &vma->vm_file->ra;
	uint64_t head = folio_pfn(vma->vm_file->m, pfn);
	struct page *folio = pfn_to_page(vma->vm_file->m, head);

	if ((vma->vm_flags & VM_RAND_READ) || !ra->ra_pages)
		return false;
	if (ra->mmap_miss)
		ra->mmap_miss--;
	if (!(folio->flags & PG_readahead))
		return false;
	page_cache_async_ra(vma->vm_file, folio, folio->index + (pfn - head), ra->ra_pages);
	return true;
}

/* ===================== fadvise(2) ===================== */

/*
** generic_fadvise() (mm/fadvise.c): NORMAL, RANDOM and SEQUENTIAL set the
** file's readahead (SEQUENTIAL doubles its window, RANDOM reads only what
** is asked), WILLNEED reads the range now, DONTNEED starts writeback of
** the range and drops its whole clean pages that nothing maps or holds
** (filemap_fadvise_dontneed: those the writeback took stay), NOREUSE is
** taken (it changes nothing memlab models).  len 0: to the end.
*/
int vfs_fadvise(struct memlab_file *f, int64_t off, int64_t len, int advice)
{
	unsigned shift = f->m->page_shift;
	uint64_t endbyte = (uint64_t)off + (uint64_t)len, first, last;

	if (len < 0 || advice < MEMLAB_POSIX_FADV_NORMAL || advice > MEMLAB_POSIX_FADV_NOREUSE)
		return -MEMLAB_EINVAL;
	if (f->shmem || f->huge_shift)	/* noop_backing_dev_info: the advice is ignored */
		return 0;
	if (!len || endbyte < (uint64_t)len)
		endbyte = INT64_MAX;
	else
		endbyte--;
	switch (advice) {
	case MEMLAB_POSIX_FADV_NORMAL:
		f->ra.ra_pages = f->m->bdi.ra_pages;
		f->ra.random = false;
		break;
	case MEMLAB_POSIX_FADV_RANDOM:
		f->ra.random = true;
		break;
	case MEMLAB_POSIX_FADV_SEQUENTIAL:
		f->ra.ra_pages = f->m->bdi.ra_pages * 2;
		f->ra.random = false;
		break;
	case MEMLAB_POSIX_FADV_WILLNEED:
		first = (uint64_t)(off >> shift);
		last = endbyte >> shift;
		force_page_cache_ra(f, first, last - first + 1 ? last - first + 1 : UINT64_MAX);
		break;
	case MEMLAB_POSIX_FADV_DONTNEED:
		/* whole pages only, but the last page of the range at the file's end */
		/* offset + (PAGE_SIZE - 1) is unsigned long arithmetic: it wraps */
		first = ((uint64_t)off + f->m->page_size - 1) >> shift;
		last = endbyte >> shift;
		if ((endbyte & (f->m->page_size - 1)) != f->m->page_size - 1 &&
		    endbyte != f->size - 1)
			last = last ? last - 1 : UINT64_MAX;	/* UINT64_MAX: none */
		filemap_fadvise_dontneed(f, off < 0 ? UINT64_MAX : (uint64_t)off >> shift,
					 endbyte >> shift, first, last);
		break;
	}
	return 0;
}

int memlab_fadvise(memlab_file *f, int64_t off, int64_t len, int advice)
{
	int err;

	if (f->m->dead)
		return -MEMLAB_EIO;
	err = vfs_fadvise(f, off, len, advice);
	background_run(f->m);
	return err;
}

/* The file's readahead state, for a look at it (f:ra()). */
int memlab_file_ra(const memlab_file *f, struct memlab_file_ra *out)
{
	out->start = f->ra.start;
	out->size = f->ra.size;
	out->async_size = f->ra.async_size;
	out->ra_pages = f->ra.ra_pages;
	out->mmap_miss = f->ra.mmap_miss;
	out->prev_pos = f->ra.prev_pos;
	out->random = f->ra.random;
	out->order = f->ra.order;
	return 0;
}
