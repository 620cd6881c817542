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
** its "disk": `data`, size bytes, NULL while all zero; a page is read
** from it and written back to it.  A shmem object has no disk: its pages
** live only in the cache.
*/
#include <string.h>

#include "mm.h"

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

/* The page cache's pfn for index, or PFN_NONE. */
uint64_t filemap_lookup(const struct memlab_file *f, uint64_t index)
{
	const struct address_space *as = &f->i_pages;
	uint64_t i;

	if (!as->cap)
		return PFN_NONE;
	i = slot_find(as, index);
	return as->keys[i] ? as->pfns[i] : PFN_NONE;
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

/* ===================== adding and dropping pages ===================== */

/* The node counters of a page entering (+1) or leaving (-1) the cache. */
static void cache_account(memlab_machine *m, const struct memlab_file *f, int d)
{
	m->vmstat[NR_FILE_PAGES] += (uint64_t)(int64_t)d;
	if (f->shmem)
		m->vmstat[NR_SHMEM] += (uint64_t)(int64_t)d;
}

/*
** filemap_add_folio() of a new page read from the file (or zero for
** shmem and holes): the cache holds one reference; it goes on the
** inactive file LRU (shmem: the anon LRU, swap-backed).
*/
static int filemap_add_page(struct memlab_file *f, uint64_t index, uint64_t *out)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->i_pages;
	uint64_t pfn, i, off = index << m->page_shift;
	struct page *page;
	int err;

	if ((err = slots_grow(m, as)) || (err = alloc_user_page(m, true, &pfn)))
		return err;
	if (f->data && off < f->size)
		memcpy(m->backing + (pfn << m->page_shift), f->data + off,
		       f->size - off < m->page_size ? f->size - off : m->page_size);
	page = pfn_to_page(m, pfn);
	page->mapping = (uintptr_t)f;
	page->index = index;
	if (f->shmem)
		page->flags |= PG_swapbacked;
	lru_add(m, page, false);
	cache_account(m, f, 1);
	i = slot_find(as, index);
	as->keys[i] = index + 1;
	as->pfns[i] = pfn;
	as->nrpages++;
	*out = pfn;
	return 0;
}

/* Drop a cached page no one maps (truncation, the file's end). */
static void filemap_remove_slot(struct memlab_file *f, uint64_t i)
{
	memlab_machine *m = f->m;
	uint64_t pfn = f->i_pages.pfns[i];
	struct page *page = pfn_to_page(m, pfn);

	if (page->flags & PG_dirty)
		folio_clear_dirty(m, page);
	cache_account(m, f, -1);
	slot_delete(&f->i_pages, i);
	put_page(m, pfn);
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
	ml_free(m, as->keys, as->cap * sizeof(uint64_t));
	ml_free(m, as->pfns, as->cap * sizeof(uint64_t));
	memset(as, 0, sizeof(*as));
	ml_free(m, f->data, f->data ? f->size : 0);
	f->data = NULL;
}

/* ===================== dirty pages and writeback ===================== */

/*
** folio_mark_dirty(): a regular file's page becomes dirty and counts in
** nr_dirty (and nr_dirtied); shmem pages have no writeback, and their
** dirty bit is not accounted (noop_dirty_folio).
*/
void folio_mark_dirty(memlab_machine *m, struct page *page)
{
	const struct memlab_file *f = (const struct memlab_file *)page->mapping;

	if (page->flags & PG_dirty)
		return;
	page->flags |= PG_dirty;
	if (f->shmem)
		return;
	m->vmstat[NR_DIRTY]++;
	m->vmstat[NR_ZONE_WRITE_PENDING]++;
	m->vmstat[NR_DIRTIED]++;
}

void folio_clear_dirty(memlab_machine *m, struct page *page)
{
	const struct memlab_file *f = (const struct memlab_file *)page->mapping;

	page->flags &= ~PG_dirty;
	if (f->shmem)
		return;
	m->vmstat[NR_DIRTY]--;
	m->vmstat[NR_ZONE_WRITE_PENDING]--;
}

/* The file's disk, allocated at the first write-back of a page. */
static int file_data(struct memlab_file *f)
{
	if (!f->data && f->size)
		f->data = ml_alloc(f->m, f->size);
	return f->data || !f->size ? 0 : -MEMLAB_ENOMEM;
}

/*
** Write one dirty page back to the file's contents (writepage): its
** bytes inside the file, nr_written and pgpgout (in KiB, as vmstat
** reports them).  Returns 0 or -MEMLAB_ENOMEM (the host's).
*/
static int writeback_page(struct memlab_file *f, uint64_t pfn)
{
	memlab_machine *m = f->m;
	struct page *page = pfn_to_page(m, pfn);
	uint64_t off = page->index << m->page_shift;
	int err = file_data(f);

	if (err)
		return err;
	if (off < f->size)
		memcpy(f->data + off, m->backing + (pfn << m->page_shift),
		       f->size - off < m->page_size ? f->size - off : m->page_size);
	folio_clear_dirty(m, page);
	m->vmstat[NR_WRITTEN]++;
	m->vmstat[PGPGOUT] += m->page_size >> 10;
	return 0;
}

/* Write back every dirty page of a regular file (filemap_write_and_wait). */
int filemap_writeback(struct memlab_file *f)
{
	struct address_space *as = &f->i_pages;
	int err;

	if (f->shmem)
		return 0;
	for (uint64_t i = 0; i < as->cap; i++) {
		if (as->keys[i] && (pfn_to_page(f->m, as->pfns[i])->flags & PG_dirty) &&
		    (err = writeback_page(f, as->pfns[i])))
			return err;
	}
	return 0;
}

/* ===================== faults ===================== */

static uint64_t file_pages(const struct memlab_file *f)
{
	return PAGE_ALIGN_M(f->m, f->size) >> f->m->page_shift;
}

/*
** page_cache_ra_order() for an mmap miss (do_sync_mmap_readahead): read
** the ra window around index -- VM_READAHEAD_PAGES centred on it, one
** page for VM_RAND_READ, from index on for VM_SEQ_READ -- within the
** file.  Pages already cached are skipped; a failed allocation ends the
** readahead (the faulting page is read first).  pgpgin counts KiB read.
*/
static void read_around(struct vm_area_struct *vma, uint64_t index)
{
	struct memlab_file *f = vma->vm_file;
	uint64_t start = index, nr = VM_READAHEAD_PAGES, pfn;

	if (f->shmem || (vma->vm_flags & VM_RAND_READ))
		return;
	if (!(vma->vm_flags & VM_SEQ_READ))
		start = index > nr / 2 ? index - nr / 2 : 0;
	for (uint64_t i = start; i < start + nr && i < file_pages(f); i++) {
		if (filemap_lookup(f, i) != PFN_NONE)
			continue;
		if (filemap_add_page(f, i, &pfn))
			return;
		f->m->vmstat[PGPGIN] += f->m->page_size >> 10;
	}
}

/*
** filemap_fault() / shmem_fault(): the cached page for index, read (and
** read around) when missing.  Returns 0 (minor), 1 (major: the page had
** to be read; pgmajfault counts it), -MEMLAB_EFAULT past the end of the
** file (SIGBUS), -MEMLAB_ENOMEM.
*/
int filemap_fault(struct vm_area_struct *vma, uint64_t index, uint64_t *pfn)
{
	struct memlab_file *f = vma->vm_file;
	memlab_machine *m = f->m;
	int err;

	if (index >= file_pages(f))
		return -MEMLAB_EFAULT;
	*pfn = filemap_lookup(f, index);
	if (*pfn != PFN_NONE)
		return 0;
	if ((err = filemap_add_page(f, index, pfn)))
		return err;
	if (f->shmem)		/* a new shmem page is a minor fault */
		return 0;
	m->vmstat[PGMAJFAULT]++;
	m->vmstat[PGPGIN] += m->page_size >> 10;
	read_around(vma, index);
	return 1;
}

/*
** do_fault_around() / filemap_map_pages(): before a read fault goes to
** the file, map the cached pages of the fault_around_bytes-aligned
** window around addr that lie in the VMA and in addr's page table, as
** vm_page_prot says, without faults of their own.  Returns whether addr
** itself is now mapped (the fault is done: VM_FAULT_NOPAGE).
*/
bool do_fault_around(memlab_task *t, struct vm_area_struct *vma, uint64_t addr)
{
	memlab_machine *m = t->m;
	uint64_t psize = m->page_size, win = FAULT_AROUND_PAGES * psize;
	uint64_t pmd = pt_level_size(&t->mm->pt, 1), table = addr & ~(pmd - 1);
	uint64_t start = addr & ~(win - 1), end = start + win;
	struct pt_prot prot = vma_page_prot(vma);
	bool mapped = false;

	start = start > vma->vm_start ? start : vma->vm_start;
	start = start > table ? start : table;
	end = end < vma->vm_end ? end : vma->vm_end;
	end = end < table + pmd ? end : table + pmd;
	for (uint64_t a = start; a < end; a += psize) {
		uint64_t index = linear_page_index(vma, a), pfn;

		if (index >= file_pages(vma->vm_file))
			break;
		pfn = filemap_lookup(vma->vm_file, index);
		if (pfn == PFN_NONE || pt_map(m, t->mm, a, 0, pfn, prot))
			continue;	/* not cached, or mapped already */
		page_add_file_rmap_one(t, pfn_to_page(m, pfn));
		mapped |= a == addr;
	}
	return mapped;
}
