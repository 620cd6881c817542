/*
** filemap.c -- the page cache of simulated files (mm/filemap.c,
** mm/readahead.c, mm/shmem.c, mm/page-writeback.c), as much of it as
** file-backed faults need: find or read a page (a read is a major fault
** and reads around it), map the cached neighbours of a read fault
** (fault-around), dirty pages, write them back, drop them all when the
** file goes.
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

#define FAULT_AROUND_PAGES	16	/* fault_around_bytes: 64 KiB with 4K pages */
#define VM_READAHEAD_PAGES	32	/* read_ahead_kb 128 with 4K pages */

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
static int filemap_add_page(struct memlab_file *f, uint64_t index, uint64_t *out, bool ra,
			    bool write)
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
** invalidate_mapping_pages() over the whole file (drop_caches): every
** clean page no one maps or holds leaves the cache (mapping_evict_folio);
** the others are deactivated, so that reclaim finds them sooner.  The
** pages come in index order, in batches of PAGEVEC_SIZE
** (mm/truncate.c mapping_try_invalidate: find_lock_entries), and
** releasing the first batch drains this CPU's folio batches (mm/swap.c
** __folio_batch_release): the first deactivations happen at once, later
** ones may wait.  Without host memory for the sorted indices nothing is
** dropped.  Returns the pages dropped.
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

static uint64_t invalidate_mapping_pages(struct memlab_file *f)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->i_pages;
	uint64_t dropped = 0, seen = 0, n, alloc = as->nrpages;
	uint64_t *keys = cached_indices(m, as, &n);

	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = slot_find(as, keys[k] - 1);
		struct page *page;

		if (as->keys[i] != keys[k])
			continue;
		page = pfn_to_page(m, as->pfns[i]);
		if ((page->flags & PG_dirty) || page->mapcount || page->_refcount != 1) {
			deactivate_file_folio(m, page);
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
	return dropped;
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
			if (!f->shmem && !f->huge_shift)	/* tmpfs pages are their only copy */
				dropped += invalidate_mapping_pages(f);
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

/* Read the pages of [start, start + nr) that are not cached, within the file. */
static void page_cache_ra(struct memlab_file *f, uint64_t start, uint64_t nr)
{
	uint64_t pfn;

	for (uint64_t i = start; i < start + nr && i < file_pages(f); i++) {
		if (filemap_lookup(f, i) != PFN_NONE)
			continue;
		if (filemap_add_page(f, i, &pfn, true, false))
			return;
		f->m->vmstat[PGPGIN] += f->m->page_size >> 10;
	}
}

/* force_page_cache_ra(): MADV_WILLNEED and fadvise read the range now. */
void force_page_cache_ra(struct memlab_file *f, uint64_t index, uint64_t nr)
{
	page_cache_ra(f, index, nr);
}

/*
** do_sync_mmap_readahead() after an mmap miss: read the ra window around
** index -- VM_READAHEAD_PAGES centred on it, none more for VM_RAND_READ,
** from index on for VM_SEQ_READ -- within the file.  A failed allocation
** ends the readahead (the faulting page was read first).  pgpgin counts
** KiB read.
*/
static void read_around(struct vm_area_struct *vma, uint64_t index)
{
	uint64_t nr = VM_READAHEAD_PAGES;

	if (vma->vm_file->shmem || (vma->vm_flags & VM_RAND_READ))
		return;
	if (vma->vm_flags & VM_SEQ_READ)
		page_cache_ra(vma->vm_file, index, nr);
	else
		page_cache_ra(vma->vm_file, index > nr / 2 ? index - nr / 2 : 0, nr);
}

/*
** filemap_fault() / shmem_fault(): the cached page for index, read (and
** read around) when missing, with a reference for the caller (vmf->page:
** reclaim leaves it alone until the caller's put_page).  Returns 0
** (minor), 1 (major: the page had to be read; pgmajfault counts it),
** -MEMLAB_EFAULT past the end of the file (SIGBUS), -MEMLAB_ENOMEM.
*/
int filemap_fault(struct vm_area_struct *vma, uint64_t index, uint64_t *pfn)
{
	struct memlab_file *f = vma->vm_file;
	memlab_machine *m = f->m;
	int err;

	if (index >= file_pages(f))
		return -MEMLAB_EFAULT;
	*pfn = filemap_lookup(f, index);
	if (*pfn != PFN_NONE) {
		pfn_to_page(m, *pfn)->_refcount++;
		return 0;
	}
	/*
	 * "No page in the page cache at all": a major fault, counted before
	 * the page is allocated and charged -- also when that fails (a
	 * cgroup's OOM).  A new shmem page is a minor fault.
	 */
	if (!f->shmem)
		count_vm_events_mm(m, vma->vm_mm, PGMAJFAULT, 1);
	if ((err = filemap_add_page(f, index, pfn, false, false)))
		return err;
	pfn_to_page(m, *pfn)->_refcount++;
	if (f->shmem)
		return 0;
	m->vmstat[PGPGIN] += m->page_size >> 10;
	read_around(vma, index);
	return 1;
}

/*
** do_fault_around() / filemap_map_pages(): before a read fault goes to
** the file, map the cached pages of a fault_around_bytes window -- from
** the aligned window's start, or the VMA's start if later (the window
** then shifts up, it is not clipped), for 16 pages, within the VMA and
** addr's page table -- as vm_page_prot says, without faults of their own.
** Returns whether addr itself is now mapped (the fault is done).
*/
bool do_fault_around(memlab_task *t, struct vm_area_struct *vma, uint64_t addr)
{
	memlab_machine *m = t->m;
	uint64_t psize = m->page_size, win = FAULT_AROUND_PAGES * psize;
	uint64_t pmd = pt_level_size(&t->mm->pt, 1), table = addr & ~(pmd - 1);
	uint64_t start = addr & ~(win - 1), end;
	struct pt_prot prot = vma_page_prot(vma);
	bool mapped = false;

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
		if (pfn == PFN_NONE)
			continue;
		pfn_to_page(m, pfn)->_refcount++;	/* a table allocation may reclaim */
		if (!pt_map(m, t->mm, a, 0, pfn, prot)) {
			page_add_file_rmap_one(t, pfn_to_page(m, pfn));
			mlock_vma_folio(m, pfn_to_page(m, pfn), vma);
			mapped |= a == addr;
		}
		put_page(m, pfn);
	}
	return mapped;
}

/* ===================== read(2) and write(2) ===================== */

#define MAX_LFS_FILESIZE_EXT4	(1ull << 44)	/* ext4, 4K blocks: 16 TiB */

/*
** The cached page for index, read when missing -- for read(2) with
** synchronous readahead from it (page_cache_sync_ra); write(2)'s
** write_begin reads that page alone, and a shadow it finds is no refault
** (filemap_add_folio skips __GFP_WRITE: a rewrite is no working set).
** Returns its pfn, or PFN_NONE when no frame was free.
*/
static uint64_t filemap_get_page(struct memlab_file *f, uint64_t index, bool write)
{
	uint64_t pfn = filemap_lookup(f, index);

	if (pfn == PFN_NONE && !f->shmem && !write)	/* write_begin reads no more */
		page_cache_ra(f, index, VM_READAHEAD_PAGES);
	if (pfn == PFN_NONE)
		pfn = filemap_lookup(f, index);
	if (pfn == PFN_NONE && filemap_add_page(f, index, &pfn, false, write))
		return PFN_NONE;
	return pfn;
}

/* The cached page's bytes for the actor: a write's are marked (frame_wptr). */
static uint8_t *page_bytes(memlab_machine *m, uint64_t pfn, uint64_t in, uint64_t len, bool write)
{
	if (write)
		return frame_wptr(m, pfn, (size_t)in, (size_t)len);
	return (uint8_t *)(uintptr_t)(frame_ptr(m, pfn) + in);	/* the actor only reads it */
}

/*
** filemap_read() marks each page it copies from accessed, but for a
** first page the previous read ended in (pos_same_folio(ki_pos,
** ra->prev_pos - 1)): reading a page in pieces counts once.  Writes do
** not mark (ext4's write_begin asks FGP_WRITEBEGIN, without FGP_ACCESSED).
*/
static void mark_read_accessed(struct memlab_file *f, uint64_t pfn, uint64_t pos, bool first)
{
	memlab_machine *m = f->m;

	if (!first || !f->ra_prev_pos ||
	    (pos >> m->page_shift) != ((f->ra_prev_pos - 1) >> m->page_shift))
		folio_mark_accessed(m, pfn_to_page(m, pfn));
}

/*
** n bytes at off through the page cache, page by page, each piece handed
** to actor(ud, done, bytes, len), which returns 0 or a negative errno; a
** write dirties each page and grows the file to cover it.  Returns the
** bytes done, or the first error when nothing was done.
*/
static int64_t filemap_rw(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
			  void *ud, bool write)
{
	memlab_machine *m = f->m;
	uint64_t done = 0;

	while (done < n) {
		uint64_t pos = off + done, in = pos & (m->page_size - 1);
		uint64_t len = m->page_size - in < n - done ? m->page_size - in : n - done;
		uint64_t pfn;
		int err = -MEMLAB_ENOMEM;

		if (task_is_dying(m))	/* fatal_signal_pending(): an OOM victim stops */
			return done ? (int64_t)done : -MEMLAB_EINTR;
		pfn = filemap_get_page(f, pos >> m->page_shift, write);

		if (pfn != PFN_NONE) {		/* held while the copy faults (and maybe reclaims) */
			pfn_to_page(m, pfn)->_refcount++;
			err = actor(ud, done, page_bytes(m, pfn, in, len, write), len);
			if (write && err)	/* what a faulting copy wrote stays: dirty it */
				folio_mark_dirty(m, pfn_to_page(m, pfn));
			put_page(m, pfn);
		}
		if (err)
			return done ? (int64_t)done : err;
		if (!write)
			mark_read_accessed(f, pfn, pos, done == 0);
		done += len;
		if (!write)
			continue;
		folio_mark_dirty(m, pfn_to_page(m, pfn));
		if (pos + len > f->size)
			f->size = pos + len;
		balance_dirty_pages(m);		/* balance_dirty_pages_ratelimited() */
	}
	return (int64_t)done;
}

/* filemap_read(): read(2)'s part, clipped to the end of the file. */
int64_t filemap_read(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		     void *ud)
{
	int64_t done;

	if (off >= f->size)
		return 0;
	done = filemap_rw(f, off, n < f->size - off ? n : f->size - off, actor, ud, false);
	if (done > 0)
		f->ra_prev_pos = off + (uint64_t)done;
	return done;
}

/*
** generic_perform_write(): write(2)'s part -- each page read first
** (write_begin), then filled and dirtied; -MEMLAB_EFBIG past ext4's
** largest file.
*/
int64_t filemap_write(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		      void *ud)
{
	if (off >= MAX_LFS_FILESIZE_EXT4 || n > MAX_LFS_FILESIZE_EXT4 - off)
		return -MEMLAB_EFBIG;
	return filemap_rw(f, off, n, actor, ud, true);
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
