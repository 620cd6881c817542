/*
** filemap.c -- the page cache of simulated files (mm/filemap.c,
** mm/shmem.c, mm/page-writeback.c, mm/truncate.c), as much of it as
** read(2), write(2) and file-backed faults need: find or read a page (a
** read is a major fault and reads ahead: readahead.c), map the cached
** neighbours of a read fault (fault-around), dirty pages, write them back,
** drop them (fadvise, drop_caches, the file's end).
**
** A file's pages live in an open-addressing hash table from page index
** to pfn (Linux's xarray does this job).  A regular file's contents are
** its "disk": blocks of a page each, held by the host in a table of the
** same kind (index -> block), absent while all zero; a page is read from
** it and written back to it.  A shmem object has no disk: its pages live
** only in the cache.
*/
#include <stdlib.h>
#include <string.h>

#include "mm.h"
#include "vmstat.h"

#define FAULT_AROUND_BYTES	65536	/* fault_around_bytes: 16 pages of 4K, 4 of 16K, 1 of 64K */

/* ===================== the index ===================== */

static uint64_t slot_hash(uint64_t index, uint64_t mask)
{
	return (index * 0x9e3779b97f4a7c15ull) >> 20 & mask;
}

/* The slot holding index, or the empty slot where it would go. */
static uint64_t slot_find(const struct address_space *as, uint64_t index)
{
	uint64_t mask = as->cap - 1, i = slot_hash(index, mask);

	while (as->keys[i] && as->keys[i] != index + 1)
		i = (i + 1) & mask;
	return i;
}

/* The value for index in as, or PFN_NONE. */
static uint64_t filemap_lookup_as(const struct address_space *as, uint64_t index)
{
	uint64_t i;

	if (!as->cap)
		return PFN_NONE;
	i = slot_find(as, index);
	return as->keys[i] ? as->pfns[i] : PFN_NONE;
}

/* The page cache's pfn for index, or PFN_NONE. */
uint64_t filemap_lookup(const struct memlab_file *f, uint64_t index)
{
	return filemap_lookup_as(&f->i_pages, index);
}

/*
** The page cache's slot for index now holds new_pfn (__folio_migrate_mapping's
** xas_store of the new folio).  -MEMLAB_ENOENT when index is not cached.
*/
int filemap_replace_page(struct memlab_file *f, uint64_t index, uint64_t new_pfn)
{
	struct address_space *as = &f->i_pages;
	uint64_t i;

	if (!as->cap)
		return -MEMLAB_ENOENT;
	i = slot_find(as, index);
	if (!as->keys[i])
		return -MEMLAB_ENOENT;
	as->pfns[i] = new_pfn;
	return 0;
}

/* Room for one more entry at a load of at most 1/2. */
static int slots_grow(memlab_machine *m, struct address_space *as)
{
	struct address_space big = { 0 };

	if ((as->nrpages + 1) * 2 <= as->cap)
		return 0;
	big.cap = as->cap ? as->cap * 2 : 16;
	big.keys = ml_alloc(m, big.cap * sizeof(uint64_t));
	big.pfns = ml_alloc(m, big.cap * sizeof(uint64_t));
	if (!big.keys || !big.pfns) {
		ml_free(m, big.keys, big.cap * sizeof(uint64_t));
		ml_free(m, big.pfns, big.cap * sizeof(uint64_t));
		return -MEMLAB_ENOMEM;
	}
	for (uint64_t i = 0; i < as->cap; i++) {
		if (as->keys[i]) {
			uint64_t j = slot_find(&big, as->keys[i] - 1);

			big.keys[j] = as->keys[i];
			big.pfns[j] = as->pfns[i];
		}
	}
	big.nrpages = as->nrpages;
	ml_free(m, as->keys, as->cap * sizeof(uint64_t));
	ml_free(m, as->pfns, as->cap * sizeof(uint64_t));
	*as = big;
	return 0;
}

/* Set index -> value, growing the table; 0 or -MEMLAB_ENOMEM. */
static int slot_insert(memlab_machine *m, struct address_space *as, uint64_t index,
		       uint64_t value)
{
	uint64_t i;
	int err = slots_grow(m, as);

	if (err)
		return err;
	i = slot_find(as, index);
	if (!as->keys[i])
		as->nrpages++;
	as->keys[i] = index + 1;
	as->pfns[i] = value;
	return 0;
}

/* Remove slot i, shifting the probe chain after it back (no tombstones). */
static void slot_delete(struct address_space *as, uint64_t i)
{
	uint64_t mask = as->cap - 1, j = i;

	as->keys[i] = 0;
	for (;;) {
		uint64_t home;

		j = (j + 1) & mask;
		if (!as->keys[j])
			break;
		home = slot_hash(as->keys[j] - 1, mask);
		if (((j - home) & mask) < ((j - i) & mask))
			continue;	/* home lies after the hole: it stays */
		as->keys[i] = as->keys[j];
		as->pfns[i] = as->pfns[j];
		as->keys[j] = 0;
		i = j;
	}
	as->nrpages--;
}

/* ===================== the disk ===================== */

/*
** The block holding page index of the file and how many of its bytes are
** the file's (the rest of the page reads zero); NULL when none was
** written (a hole, shmem).
*/
static const uint8_t *disk_block(const struct memlab_file *f, uint64_t index, uint64_t *valid)
{
	uint64_t psize = f->m->page_size, off = index * psize;
	uint64_t block = f->shmem ? PFN_NONE : filemap_lookup_as(&f->disk, index);

	*valid = off < f->size ? (f->size - off < psize ? f->size - off : psize) : 0;
	return block == PFN_NONE || !*valid ? NULL : (const uint8_t *)(uintptr_t)block;
}

/*
** A page of the file's contents into dst: the block if one was written,
** zeroes otherwise, and zeroes past the end of the file (as the tail of
** the last page reads).
*/
void disk_read_page(const struct memlab_file *f, uint64_t index, uint8_t *dst)
{
	uint64_t valid;
	const uint8_t *block = disk_block(f, index, &valid);

	memset(dst, 0, f->m->page_size);
	if (block)
		memcpy(dst, block, valid);
}

/* A page of contents onto the disk (a host block per page written). */
int disk_write_page(struct memlab_file *f, uint64_t index, const uint8_t *src)
{
	memlab_machine *m = f->m;
	uint64_t block = filemap_lookup_as(&f->disk, index);
	void *b;

	if (block == PFN_NONE) {
		b = ml_alloc(m, m->page_size);
		if (!b || slot_insert(m, &f->disk, index, (uintptr_t)b)) {
			ml_free(m, b, m->page_size);
			return -MEMLAB_ENOMEM;
		}
		block = (uintptr_t)b;
	}
	memcpy((void *)(uintptr_t)block, src, m->page_size);
	return 0;
}

static void disk_release(struct memlab_file *f)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->disk;

	for (uint64_t i = 0; i < as->cap; i++)
		if (as->keys[i])
			ml_free(m, (void *)(uintptr_t)as->pfns[i], m->page_size);
	ml_free(m, as->keys, as->cap * sizeof(uint64_t));
	ml_free(m, as->pfns, as->cap * sizeof(uint64_t));
	memset(as, 0, sizeof(*as));
}

/* ===================== adding and dropping pages ===================== */

#define FS_BLOCK	4096ull	/* ext4's block size */

/*
** The KiB a page costs to bring in from the disk (pgpgin, which
** submit_bio() counts): its blocks up to the file's end (valid bytes), but
** those a write covers whole -- ext4's block_write_begin() reads only the
** blocks it must; a hole is zeroed, not read.
*/
static uint64_t blocks_read_kb(uint64_t valid, uint64_t in, uint64_t len)
{
	uint64_t kb = 0;

	for (uint64_t b = 0; b < valid; b += FS_BLOCK)
		if (!(in <= b && b + FS_BLOCK <= in + len))
			kb += FS_BLOCK >> 10;
	return kb;
}

/* The node's and the memcg's counters of a page entering (+1) or leaving (-1) the cache. */
static void cache_account(memlab_machine *m, const struct memlab_file *f,
			  const struct page *page, int d)
{
	mod_lruvec_page_state(m, page, NR_FILE_PAGES, d);
	if (f->shmem)
		mod_lruvec_page_state(m, page, NR_SHMEM, d);
}

/* A page read again where reclaim left a shadow: workingset_refault(), the shadow goes. */
static void take_shadow(struct memlab_file *f, struct page *page, bool write)
{
	struct address_space *as = &f->shadows;
	uint64_t i;

	if (!as->nrpages)
		return;
	i = slot_find(as, page->index);
	if (!as->keys[i])
		return;
	if (!write)	/* filemap_add_folio(): not for __GFP_WRITE (a rewrite) */
		workingset_refault(f->m, page, as->pfns[i]);
	slot_delete(as, i);
}

/*
** filemap_add_folio() of a new page read from the file (or zero for
** shmem and holes): the cache holds one reference; it goes on the
** inactive file LRU (shmem: the anon LRU, swap-backed).
*/
int filemap_add_page(struct memlab_file *f, uint64_t index, uint64_t *out, bool ra, bool write)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->i_pages;
	uint64_t pfn, valid;
	const uint8_t *block = disk_block(f, index, &valid);
	/* mapping_gfp_mask(); readahead_gfp_mask() adds NORETRY | NOWARN: it never OOM-kills */
	uint32_t gfp = MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_COMP | MEMLAB___GFP_ZERO |
		       (ra ? MEMLAB___GFP_NORETRY | MEMLAB___GFP_NOWARN : 0);
	struct page *page;
	int err;

	if ((err = slots_grow(m, as)) || (err = alloc_pages(m, 0, gfp, &pfn)))
		return err;
	/* filemap_add_folio(): the current task's cgroup, with the caller's gfp
	 * (the allocation added __GFP_COMP and __GFP_ZERO for itself) */
	if ((err = mem_cgroup_charge(m, pfn, NULL,
				     gfp & ~(MEMLAB___GFP_COMP | MEMLAB___GFP_ZERO)))) {
		memlab_free_pages(m, pfn, 0);
		return err;
	}
	if (block)	/* the page is zeroed: only the file's bytes are written */
		memcpy(frame_wptr(m, pfn, 0, valid), block, valid);
	page = pfn_to_page(m, pfn);
	page->mapping = (uintptr_t)f;
	page->index = index;
	if (f->shmem)
		page->flags |= PG_swapbacked;
	else if (block && !write)	/* do_mpage_readpage(): every block mapped; a write's */
		page->flags |= PG_mappedtodisk;	/* write_begin reads the block without it */
	if (block && !write)
		m->vmstat[PGPGIN] += blocks_read_kb(valid, 0, 0);
	take_shadow(f, page, write);
	folio_add_lru(m, page);
	cache_account(m, f, page, 1);
	slot_insert(m, as, index, pfn);		/* room was made above */
	*out = pfn;
	return 0;
}

/*
** Drop a cached page no one maps (truncation, the file's end): it leaves
** the cache with its mapping (page_cache_delete), and goes with the
** cache's reference -- later if a folio batch still holds it.
*/
static void filemap_remove_slot(struct memlab_file *f, uint64_t i)
{
	memlab_machine *m = f->m;
	uint64_t pfn = f->i_pages.pfns[i];
	struct page *page = pfn_to_page(m, pfn);

	if (page->flags & PG_dirty)
		folio_clear_dirty(m, page);
	cache_account(m, f, page, -1);
	slot_delete(&f->i_pages, i);
	page->mapping = 0;
	put_page(m, pfn);
}

/*
** __remove_mapping() for reclaim: a clean page that only the page cache
** and the reclaimer (its isolation reference) hold leaves the cache; the
** reclaimer's put frees it.  false when someone else holds it or it was
** dirtied again.
*/
bool filemap_remove_folio(memlab_machine *m, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);
	struct memlab_file *f = (struct memlab_file *)page->mapping;
	uint64_t i;

	if (page->_refcount != 2 || page->mapcount || (page->flags & PG_dirty))
		return false;
	i = slot_find(&f->i_pages, page->index);
	if (f->i_pages.keys[i] != page->index + 1 || f->i_pages.pfns[i] != pfn)
		return false;
	/* the shadow stays in the page's place (a failed insert just loses it) */
	slot_insert(m, &f->shadows, page->index, workingset_eviction(m, page));
	filemap_remove_slot(f, i);
	return true;
}

/*
** mapping_try_invalidate() of the pages of [first, last] (drop_caches:
** the whole file): every clean page no one maps or holds leaves the cache
** (mapping_evict_folio); the others are deactivated, so that reclaim finds
** them sooner, and counted in *failed.  The pages come in index order, in
** batches of PAGEVEC_SIZE (find_lock_entries), and releasing the first
** batch drains this CPU's folio batches (mm/swap.c __folio_batch_release):
** the first deactivations happen at once, later ones may wait.  The
** range's workingset shadows go too (clear_shadow_entries).  Without host
** memory for the sorted indices nothing is dropped.  Returns the pages
** dropped.
*/
static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The cached indices (plus one), sorted: n of them in a new array, NULL when empty or out of host memory. */
static uint64_t *cached_indices(memlab_machine *m, const struct address_space *as, uint64_t *n)
{
	uint64_t *keys = as->nrpages ? ml_alloc(m, as->nrpages * sizeof(*keys)) : NULL;

	*n = 0;
	if (!keys)
		return NULL;
	for (uint64_t i = 0; i < as->cap && *n < as->nrpages; i++)
		if (as->keys[i])
			keys[(*n)++] = as->keys[i];
	qsort(keys, *n, sizeof(*keys), compare_u64);
	return keys;
}

/* clear_shadow_entries(): the workingset shadows of [first, last] go. */
static void clear_shadow_entries(struct memlab_file *f, uint64_t first, uint64_t last)
{
	struct address_space *as = &f->shadows;

	for (uint64_t i = 0; i < as->cap && as->nrpages;) {
		if (as->keys[i] && as->keys[i] - 1 >= first && as->keys[i] - 1 <= last)
			slot_delete(as, i);	/* may shift another entry into i */
		else
			i++;
	}
}

static uint64_t mapping_try_invalidate(struct memlab_file *f, uint64_t first, uint64_t last,
				       bool skip_dirty, uint64_t *failed)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->i_pages;
	uint64_t dropped = 0, seen = 0, n, alloc = as->nrpages;
	uint64_t *keys = cached_indices(m, as, &n);

	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = slot_find(as, keys[k] - 1);
		struct page *page;

		if (as->keys[i] != keys[k] || keys[k] - 1 < first || keys[k] - 1 > last)
			continue;
		page = pfn_to_page(m, as->pfns[i]);
		if (skip_dirty && (page->flags & PG_dirty))
			continue;	/* under writeback: find_lock_entries() passes it by */
		if ((page->flags & PG_dirty) || page->mapcount || page->_refcount != 1) {
			deactivate_file_folio(m, page);
			(*failed)++;
		} else {
			filemap_remove_slot(f, i);
			dropped++;
		}
		if (++seen == PAGEVEC_SIZE)
			lru_add_drain(m);
	}
	if (seen && seen < PAGEVEC_SIZE)
		lru_add_drain(m);
	if (keys)
		ml_free(m, keys, alloc * sizeof(*keys));
	clear_shadow_entries(f, first, last);
	return dropped;
}

/*
** POSIX_FADV_DONTNEED: writeback of the pages of [wb_first, wb_last]
** starts (WB_SYNC_NONE), then the whole pages of [first, last] are dropped
** as invalidate_mapping_pages() drops them, once more after draining every
** CPU's folio batches when some would not go.  A page the writeback took is
** still under it as the drop runs -- on the host's ext4 data=journal, until
** the journal commits -- and is passed by, neither dropped nor
** deactivated; memlab's writeback completes at once, so it runs after the
** drop, and a later DONTNEED drops the page.  UINT64_MAX as wb_first or
** last: none.
*/
void filemap_fadvise_dontneed(struct memlab_file *f, uint64_t wb_first, uint64_t wb_last,
			      uint64_t first, uint64_t last)
{
	bool wb = wb_first != UINT64_MAX && wb_first <= wb_last;
	uint64_t failed = 0;

	if (last != UINT64_MAX && last >= first) {
		lru_add_drain(f->m);
		mapping_try_invalidate(f, first, last, wb, &failed);
		if (failed) {
			lru_add_drain_all(f->m);
			mapping_try_invalidate(f, first, last, wb, &failed);
		}
	}
	if (wb)
		filemap_writeback(f, wb_first, wb_last);	/* a host failure leaves them dirty */
}

int64_t memlab_drop_caches(memlab_machine *m, int mode)
{
	uint64_t dropped = 0;

	if (mode < 1 || mode > 3)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (mode & 1) {
		lru_add_drain_all(m);
		for (struct memlab_file *f = m->files; f; f = f->next)
			if (!f->shmem && !f->huge_shift) {	/* tmpfs pages are their only copy */
				uint64_t failed = 0;

				dropped += mapping_try_invalidate(f, 0, UINT64_MAX, false, &failed);
			}
		m->vmstat[DROP_PAGECACHE]++;
	}
	if (mode & 2) {
		drop_slab(m);
		m->vmstat[DROP_SLAB]++;
	}
	return (int64_t)dropped;
}

/* truncate_inode_pages_final(): the file is gone; so are its pages. */
void filemap_release(struct memlab_file *f)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->i_pages;

	for (uint64_t i = 0; i < as->cap;) {
		if (as->keys[i])
			filemap_remove_slot(f, i);	/* may shift another entry into i */
		else
			i++;
	}
	lru_add_drain(m);	/* mm/truncate.c truncate_inode_pages_range: folio_batch_release() drains */
	ml_free(m, as->keys, as->cap * sizeof(uint64_t));
	ml_free(m, as->pfns, as->cap * sizeof(uint64_t));
	memset(as, 0, sizeof(*as));
	as = &f->shadows;
	ml_free(m, as->keys, as->cap * sizeof(uint64_t));
	ml_free(m, as->pfns, as->cap * sizeof(uint64_t));
	memset(as, 0, sizeof(*as));
	disk_release(f);
}

/* ===================== dirty pages and writeback ===================== */

/*
** folio_mark_dirty(): a regular file's page becomes dirty and counts in
** nr_dirty (and nr_dirtied); shmem pages have no writeback, and their
** dirty bit is not accounted (noop_dirty_folio).  Whether it was clean.
*/
bool folio_mark_dirty(memlab_machine *m, struct page *page)
{
	const struct memlab_file *f = (const struct memlab_file *)page->mapping;

	if (page->flags & PG_dirty)
		return false;
	page->flags = (page->flags | PG_dirty) & ~PG_reclaim;	/* reclaim must look again */
	if (f->shmem)
		return true;
	mod_lruvec_page_state(m, page, NR_DIRTY, 1);
	m->vmstat[NR_ZONE_WRITE_PENDING]++;
	m->vmstat[NR_DIRTIED]++;
	return true;
}

void folio_clear_dirty(memlab_machine *m, struct page *page)
{
	const struct memlab_file *f = (const struct memlab_file *)page->mapping;

	page->flags &= ~PG_dirty;
	if (f->shmem)
		return;
	mod_lruvec_page_state(m, page, NR_DIRTY, -1);
	m->vmstat[NR_ZONE_WRITE_PENDING]--;
}

/*
** Write one dirty page back to the file's disk (writepage): folio_mkclean
** first, so the next write through a mapping faults and dirties it again;
** nr_written and pgpgout (KiB, as vmstat reports them) count it.
** Returns 0 or -MEMLAB_ENOMEM (the host's).
*/
static int writeback_page(struct memlab_file *f, uint64_t pfn)
{
	memlab_machine *m = f->m;
	struct page *page = pfn_to_page(m, pfn);
	int err = disk_write_page(f, page->index, frame_ptr(m, pfn));

	if (err)
		return err;
	folio_mkclean(m, pfn);
	folio_clear_dirty(m, page);
	m->vmstat[NR_WRITTEN]++;
	m->vmstat[PGPGOUT] += m->page_size >> 10;
	if (page->flags & PG_reclaim) {		/* folio_end_writeback() */
		page->flags &= ~PG_reclaim;
		folio_rotate_reclaimable(m, page);
	}
	return 0;
}

/*
** filemap_write_and_wait_range(): write back the dirty pages of a regular
** file whose index lies in [first, last].  0 or -MEMLAB_ENOMEM.
*/
int filemap_writeback(struct memlab_file *f, uint64_t first, uint64_t last)
{
	struct address_space *as = &f->i_pages;
	int err;

	if (f->shmem)
		return 0;
	for (uint64_t i = 0; i < as->cap; i++) {
		uint64_t index = as->keys[i] - 1;

		if (as->keys[i] && index >= first && index <= last &&
		    (pfn_to_page(f->m, as->pfns[i])->flags & PG_dirty) &&
		    (err = writeback_page(f, as->pfns[i])))
			return err;
	}
	return 0;
}

/*
** balance_dirty_pages() (mm/page-writeback.c) as a flusher without time: once write(2) leaves
** more dirty pages than vm.dirty_background_ratio's share of dirtyable
** memory (nr_dirty_background_threshold), background writeback cleans
** dirty pages, file by file, until no more than that are left.  Linux's
** flusher runs beside the writer, which is throttled only past the
** midpoint to vm.dirty_ratio; with a device as fast as memlab's, dirty
** memory stays near the background threshold, as it does here.
*/
static void balance_dirty_pages(memlab_machine *m)
{
	uint64_t bg, thresh;

	global_dirty_limits(m, &bg, &thresh);
	for (struct memlab_file *f = m->files; f && m->vmstat[NR_DIRTY] > bg; f = f->next) {
		struct address_space *as = &f->i_pages;

		for (uint64_t i = 0; !f->shmem && i < as->cap && m->vmstat[NR_DIRTY] > bg; i++)
			if (as->keys[i] && (pfn_to_page(m, as->pfns[i])->flags & PG_dirty))
				writeback_page(f, as->pfns[i]);		/* a host failure leaves it dirty */
	}
}

/* ===================== faults ===================== */

static uint64_t file_pages(const struct memlab_file *f)
{
	return PAGE_ALIGN_M(f->m, f->size) >> f->m->page_shift;
}

/*
** filemap_fault() / shmem_fault(): the cached page for index (a hit:
** do_async_mmap_readahead, unless this is the fault's retry), else read
** with its readahead window first (do_sync_mmap_readahead) -- or alone,
** when the window did not hold it -- with a reference for the caller
** (vmf->page: reclaim leaves it alone until the caller's put_page).
** Returns 0 (a minor fault), FILEMAP_MAJOR | FILEMAP_UNLOCKED (the page
** had to be read: pgmajfault counts it, and Linux dropped the lock for
** the I/O), FILEMAP_UNLOCKED (a hit that read the next window ahead),
** -MEMLAB_EFAULT past the end of the file (SIGBUS), -MEMLAB_ENOMEM.
*/
int filemap_fault(struct vm_area_struct *vma, uint64_t index, bool tried, uint64_t *pfn)
{
	struct memlab_file *f = vma->vm_file;
	memlab_machine *m = f->m;
	int err;

	if (index >= file_pages(f))
		return -MEMLAB_EFAULT;
	*pfn = filemap_lookup(f, index);
	if (*pfn != PFN_NONE) {
		pfn_to_page(m, *pfn)->_refcount++;	/* held while readahead allocates */
		if (f->shmem || tried)
			return 0;
		return do_async_mmap_readahead(vma, pfn_to_page(m, *pfn)) ? FILEMAP_UNLOCKED : 0;
	}
	if (f->shmem) {		/* a new shmem page is a minor fault */
		if ((err = filemap_add_page(f, index, pfn, false, false)))
			return err;
		pfn_to_page(m, *pfn)->_refcount++;
		return 0;
	}
	/*
	 * "No page in the page cache at all": a major fault, counted before
	 * the page is read and charged -- also when that fails (a cgroup's
	 * OOM).
	 */
	count_vm_events_mm(m, vma->vm_mm, PGMAJFAULT, 1);
	do_sync_mmap_readahead(vma, index);
	*pfn = filemap_lookup(f, index);
	if (*pfn == PFN_NONE) {		/* __filemap_get_folio(FGP_CREAT), then read */
		if ((err = filemap_add_page(f, index, pfn, false, false)))
			return err;
	}
	pfn_to_page(m, *pfn)->_refcount++;
	return FILEMAP_MAJOR | FILEMAP_UNLOCKED;
}

/*
** do_fault_around() / filemap_map_pages(): before a read fault goes to
** the file, map the cached pages of a fault_around_bytes window -- from
** the aligned window's start, or the VMA's start if later (the window
** then shifts up, it is not clipped), for fault_around_bytes (64 KiB: no
** fault-around at all with 64K pages), within the VMA and addr's page table -- as vm_page_prot says, without faults of their own.
** A page marked PG_readahead is left for its own fault, which reads the
** next window (next_uptodate_folio).  Each page found counts as a hit
** against the file's mmap_miss, unless it is a refault of the working set.
** Returns whether addr itself is now mapped (the fault is done).
*/
bool do_fault_around(memlab_task *t, struct vm_area_struct *vma, uint64_t addr)
{
	memlab_machine *m = t->m;
	uint64_t psize = m->page_size, win = FAULT_AROUND_BYTES;
	uint64_t pmd = pt_level_size(&t->mm->pt, 1), table = addr & ~(pmd - 1);
	uint64_t start = addr & ~(win - 1), end;
	struct pt_prot prot = vma_page_prot(vma);
	struct file_ra_state *ra = &vma->vm_file->ra;
	unsigned hits = 0;
	bool mapped = false;

	if (win <= psize)	/* should_fault_around(): one page is no fault-around (64K pages) */
		return false;
	start = start > vma->vm_start ? start : vma->vm_start;
	start = start > table ? start : table;
	end = start + win;
	end = end < vma->vm_end ? end : vma->vm_end;
	end = end < table + pmd ? end : table + pmd;
	for (uint64_t a = start; a < end; a += psize) {
		uint64_t index = linear_page_index(vma, a), pfn;

		if (index >= file_pages(vma->vm_file))
			break;
		pfn = filemap_lookup(vma->vm_file, index);
		/* arch_wants_old_prefaulted_pte(): arm64 with hardware AF maps the others old */
		prot.accessed = a == addr || m->arch != MEMLAB_ARCH_ARM64;
		if (pfn == PFN_NONE || (pfn_to_page(m, pfn)->flags & PG_readahead))
			continue;
		if (!(pfn_to_page(m, pfn)->flags & PG_workingset))
			hits++;
		pfn_to_page(m, pfn)->_refcount++;	/* a table allocation may reclaim */
		if (!pt_map(m, t->mm, a, 0, pfn, prot)) {
			page_add_file_rmap_one(t, pfn_to_page(m, pfn));
			mlock_vma_folio(m, pfn_to_page(m, pfn), vma);
			mapped |= a == addr;
		}
		put_page(m, pfn);
	}
	ra->mmap_miss = hits >= ra->mmap_miss ? 0 : ra->mmap_miss - hits;
	return mapped;
}

/* ===================== read(2) and write(2) ===================== */

#define MAX_LFS_FILESIZE_EXT4	(1ull << 44)	/* ext4, 4K blocks: 16 TiB */

/*
** filemap_get_read_batch(): the cached pages from index on, at most up to
** last and PAGEVEC_SIZE of them, each with a reference; the batch ends at
** a hole and after a page marked PG_readahead.
*/
static unsigned filemap_get_read_batch(struct memlab_file *f, uint64_t index, uint64_t last,
				       uint64_t *batch)
{
	unsigned n = 0;

	for (; index <= last && n < PAGEVEC_SIZE; index++) {
		uint64_t pfn = filemap_lookup(f, index);

		if (pfn == PFN_NONE)
			break;
		pfn_to_page(f->m, pfn)->_refcount++;
		batch[n++] = pfn;
		if (pfn_to_page(f->m, pfn)->flags & PG_readahead)
			break;
	}
	return n;
}

/*
** filemap_get_pages(): the batch for a read of the pages [index,
** last_index): a miss at index reads ahead first (page_cache_sync_ra), or
** the page alone when that read nothing (filemap_create_folio); a batch
** ending on a marked page reads the next window (filemap_readahead).
** Returns its size, 0 when no frame was free.
*/
static unsigned filemap_get_pages(struct memlab_file *f, uint64_t index, uint64_t last_index,
				  uint64_t *batch)
{
	memlab_machine *m = f->m;
	unsigned n = filemap_get_read_batch(f, index, last_index - 1, batch);
	struct page *page;

	if (!n) {
		page_cache_sync_ra(f, index, last_index - index);
		n = filemap_get_read_batch(f, index, last_index - 1, batch);
	}
	if (!n) {
		if (filemap_add_page(f, index, &batch[0], false, false))
			return 0;
		pfn_to_page(m, batch[0])->_refcount++;
		return 1;
	}
	page = pfn_to_page(m, batch[n - 1]);
	if (page->flags & PG_readahead)
		page_cache_async_ra(f, page, page->index, last_index - page->index);
	return n;
}

/* pos_same_folio(): the same page, for byte positions that may be negative */
static bool pos_same_page(const memlab_machine *m, int64_t a, int64_t b)
{
	return a >> m->page_shift == b >> m->page_shift;
}

/*
** filemap_read(): read(2)'s part -- batch after batch of cached pages,
** clipped to the end of the file.  Each page copied is marked accessed,
** but for a first page the previous read ended in (reading a page in
** pieces counts once).  ra->prev_pos keeps where it ended.  Returns the
** bytes done, or the first error when nothing was done.
*/
int64_t filemap_read(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		     void *ud)
{
	memlab_machine *m = f->m;
	int64_t last_pos = f->ra.prev_pos;
	uint64_t done = 0, batch[PAGEVEC_SIZE];
	int err = 0;

	if (off >= MAX_LFS_FILESIZE_EXT4 || !n)
		return 0;
	if (n > MAX_LFS_FILESIZE_EXT4 - off)	/* iov_iter_truncate() to s_maxbytes */
		n = MAX_LFS_FILESIZE_EXT4 - off;
	do {
		uint64_t pos = off + done, end, last_index;
		unsigned nr, i;

		if (task_is_dying(m)) {		/* fatal_signal_pending(): an OOM victim stops */
			err = -MEMLAB_EINTR;
			break;
		}
		if (pos >= f->size)
			break;
		last_index = (pos + (n - done) + m->page_size - 1) >> m->page_shift;
		nr = filemap_get_pages(f, pos >> m->page_shift, last_index, batch);
		if (!nr) {
			err = -MEMLAB_ENOMEM;
			break;
		}
		end = f->size < off + n ? f->size : off + n;
		if (!pos_same_page(m, (int64_t)pos, last_pos - 1))
			folio_mark_accessed(m, pfn_to_page(m, batch[0]));
		for (i = 0; i < nr && !err; i++) {
			uint64_t in = pos & (m->page_size - 1), len = m->page_size - in;

			if (end < pfn_to_page(m, batch[i])->index << m->page_shift)
				break;
			if (i > 0)
				folio_mark_accessed(m, pfn_to_page(m, batch[i]));
			len = end - pos < len ? end - pos : len;
			err = actor(ud, done, (uint8_t *)(uintptr_t)(frame_ptr(m, batch[i]) + in), len);
			if (err)
				break;
			done += len;
			pos += len;
			last_pos = (int64_t)pos;
		}
		for (i = 0; i < nr; i++)	/* folio_batch_release() */
			put_page(m, batch[i]);
	} while (done < n && off + done < f->size && !err);
	f->ra.prev_pos = last_pos;
	return done ? (int64_t)done : err;
}

/*
** generic_perform_write(): write(2)'s part -- each page read first, alone
** (write_begin; a shadow it finds is no refault: filemap_add_folio skips
** __GFP_WRITE, a rewrite is no working set), then filled and dirtied, the
** file grown to cover it; -MEMLAB_EFBIG past ext4's largest file.
** Returns the bytes done, or the first error when nothing was done.
*/
int64_t filemap_write(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		      void *ud)
{
	memlab_machine *m = f->m;
	uint64_t done = 0;

	if (off >= MAX_LFS_FILESIZE_EXT4 || n > MAX_LFS_FILESIZE_EXT4 - off)
		return -MEMLAB_EFBIG;
	while (done < n) {
		uint64_t pos = off + done, in = pos & (m->page_size - 1);
		uint64_t len = m->page_size - in < n - done ? m->page_size - in : n - done;
		uint64_t pfn;
		int err = -MEMLAB_ENOMEM;

		if (task_is_dying(m))	/* fatal_signal_pending(): an OOM victim stops */
			return done ? (int64_t)done : -MEMLAB_EINTR;
		pfn = filemap_lookup(f, pos >> m->page_shift);
		if (pfn == PFN_NONE) {
			uint64_t valid;

			if (filemap_add_page(f, pos >> m->page_shift, &pfn, false, true))
				pfn = PFN_NONE;
			else if (disk_block(f, pos >> m->page_shift, &valid))
				m->vmstat[PGPGIN] += blocks_read_kb(valid, in, len);
		}
		if (pfn != PFN_NONE) {		/* held while the copy faults (and maybe reclaims) */
			pfn_to_page(m, pfn)->_refcount++;
			err = actor(ud, done, frame_wptr(m, pfn, (size_t)in, (size_t)len), len);
			folio_mark_dirty(m, pfn_to_page(m, pfn));	/* what a faulting copy wrote stays */
			put_page(m, pfn);
		}
		if (err)
			return done ? (int64_t)done : err;
		done += len;
		if (pos + len > f->size)
			f->size = pos + len;
		balance_dirty_pages(m);		/* balance_dirty_pages_ratelimited() */
	}
	return (int64_t)done;
}

/*
** wakeup_flusher_threads(WB_REASON_VMSCAN): the flusher writes back every
** dirty page.  memlab has no time: it runs at once, and a page reclaim
** marked (PG_reclaim) goes to the inactive tail as its write completes.
*/
void wakeup_flusher_threads(memlab_machine *m)
{
	memlab_sync(m);
}

/* sync(2): every regular file's dirty pages go to its disk. */
int memlab_sync(memlab_machine *m)
{
	if (m->dead)
		return -MEMLAB_EIO;
	for (struct memlab_file *f = m->files; f; f = f->next) {
		int err = filemap_writeback(f, 0, UINT64_MAX);

		if (err)
			return err;
	}
	return 0;
}

/* ===================== checking ===================== */

/*
** The page cache of every file: each slot's page is allocated, belongs to
** the file at that index, and is held; nrpages counts the slots; the
** readahead state is one readahead could leave (the async tail within the
** window, mmap_miss within its cap).
*/
static void filemap_check_file(memlab_machine *m, const struct memlab_file *f, struct ml_check *c)
{
	const struct address_space *as = &f->i_pages;
	uint64_t n = 0;

	for (uint64_t i = 0; i < as->cap; i++) {
		const struct page *page;

		if (!as->keys[i])
			continue;
		n++;
		if (as->pfns[i] >= m->nr_frames) {
			ml_violation(c, "page cache: %s index %llu: pfn %#llx is not RAM", f->path,
				     (unsigned long long)as->keys[i] - 1, (unsigned long long)as->pfns[i]);
			continue;
		}
		page = pfn_to_page(m, as->pfns[i]);
		if (page->mapping != (uintptr_t)f || page->index != as->keys[i] - 1 ||
		    page->_refcount < 1 || (page->flags & PG_buddy))
			ml_violation(c, "page cache: %s index %llu: pfn %#llx is not its page (index %llu, "
				     "refcount %d%s)", f->path, (unsigned long long)as->keys[i] - 1,
				     (unsigned long long)as->pfns[i], (unsigned long long)page->index,
				     page->_refcount, page->mapping != (uintptr_t)f ? ", another mapping" : "");
	}
	if (n != as->nrpages)
		ml_violation(c, "page cache: %s holds %llu pages, nrpages says %llu", f->path,
			     (unsigned long long)n, (unsigned long long)as->nrpages);
	if (f->ra.async_size > f->ra.size || f->ra.mmap_miss > MMAP_LOTSAMISS * 10 ||
	    f->ra.prev_pos < -1)
		ml_violation(c, "readahead: %s: window %llu+%llu, async %llu, mmap_miss %u, prev_pos %lld",
			     f->path, (unsigned long long)f->ra.start, (unsigned long long)f->ra.size,
			     (unsigned long long)f->ra.async_size, f->ra.mmap_miss,
			     (long long)f->ra.prev_pos);
}

int filemap_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };

	for (const struct memlab_file *f = m->files; f; f = f->next)
		filemap_check_file(m, f, &c);
	return c.count;
}
