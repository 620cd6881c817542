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

/* Room for nr more entries at a load of at most 1/2. */
static int slots_grow(memlab_machine *m, struct address_space *as, uint64_t nr)
{
	struct address_space big = { 0 };

	if ((as->nrpages + nr) * 2 <= as->cap)
		return 0;
	big.cap = as->cap ? as->cap * 2 : 16;
	while ((as->nrpages + nr) * 2 > big.cap)
		big.cap *= 2;
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
	int err = slots_grow(m, as, 1);

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

/* ===================== the xarray's walk ===================== */

/*
** The page cache is Linux's xarray: nodes of 64 slots, a folio of order k
** stored at the level k / 6 -- its first slot the entry, the others
** siblings naming it.  page_cache_next_miss() and page_cache_prev_miss()
** step through it slot by slot (xas_next, xas_prev), and a walk that
** starts inside a large folio lags: xas_load() leaves the cursor on the
** folio's first slot while the index it reports is the one asked, so the
** steps after it read the folio's own slots (siblings: present) under
** later indices.  A file with small folios only walks as an index scan.
** struct xa_cursor plays xa_state over the hash table: a slot's content
** is worked out from the folios cached in its range.
*/
#define XA_CHUNK_SHIFT	6
#define XA_CHUNK_SIZE	64u

enum xa_entry { XA_NULL, XA_FOLIO, XA_SIBLING, XA_NODE };

struct xa_cursor {
	const struct memlab_file *f;
	uint64_t index;		/* xa_index */
	uint64_t base;		/* the first index of the node */
	int level;		/* the node's shift / 6; -1: XAS_RESTART, -2: XAS_BOUNDS */
	int top;		/* the root's level */
	unsigned off;		/* xa_offset */
};

static unsigned xa_get_offset(uint64_t index, int level)
{
	return (unsigned)(index >> (XA_CHUNK_SHIFT * level)) & (XA_CHUNK_SIZE - 1);
}

/* Whether as holds an index in [first, end): by index, or by slot when fewer. */
static bool cached_in(const struct address_space *as, uint64_t first, uint64_t end)
{
	if (end - first <= as->cap) {
		for (uint64_t i = first; i < end; i++)
			if (filemap_lookup_as(as, i) != PFN_NONE)
				return true;
		return false;
	}
	for (uint64_t i = 0; i < as->cap; i++)
		if (as->keys[i] && as->keys[i] - 1 >= first && as->keys[i] - 1 < end)
			return true;
	return false;
}

/*
** The content of slot off of the node at level, base; a sibling's first
** slot in *canon.  A node stands wherever a smaller folio is cached.
*/
static enum xa_entry xa_slot(const struct xa_cursor *x, int level, uint64_t base, unsigned off,
			     unsigned *canon)
{
	memlab_machine *m = x->f->m;
	unsigned shift = XA_CHUNK_SHIFT * (unsigned)level;
	uint64_t first = base + ((uint64_t)off << shift), pfn = filemap_lookup(x->f, first);

	if (pfn != PFN_NONE) {
		const struct page *folio = pfn_folio(m, pfn);
		int k = __builtin_ctzll(folio_nr_pages(folio));

		if (k / XA_CHUNK_SHIFT < level)
			return XA_NODE;
		*canon = xa_get_offset(folio->index, level);
		return folio->index == first ? XA_FOLIO : XA_SIBLING;
	}
	return level && cached_in(&x->f->i_pages, first + 1, first + (1ull << shift)) ? XA_NODE
										 : XA_NULL;
}

/* xas_load(): down from the root to index's entry, a sibling taken for its folio. */
static enum xa_entry xas_load(struct xa_cursor *x)
{
	int level = x->top;
	uint64_t base = 0;

	if (x->index >> (XA_CHUNK_SHIFT * (x->top + 1))) {
		x->level = -2;		/* set_bounds() */
		return XA_NULL;
	}
	for (;;) {
		unsigned off = xa_get_offset(x->index, level), canon;
		enum xa_entry e = xa_slot(x, level, base, off, &canon);

		if (e == XA_SIBLING) {		/* xas_descend() */
			off = canon;
			e = XA_FOLIO;
		}
		x->level = level;
		x->base = base;
		x->off = off;
		if (e != XA_NODE || !level)
			return e;
		base += (uint64_t)off << (XA_CHUNK_SHIFT * level);
		level--;
	}
}

/* The loop that ends __xas_next() and __xas_prev(): the slot, or down its nodes. */
static enum xa_entry xas_descend_to(struct xa_cursor *x)
{
	for (;;) {
		unsigned canon;
		enum xa_entry e = xa_slot(x, x->level, x->base, x->off, &canon);

		if (e != XA_NODE)
			return e;
		x->base += (uint64_t)x->off << (XA_CHUNK_SHIFT * x->level);
		x->level--;
		x->off = xa_get_offset(x->index, x->level);	/* xas_set_offset() */
	}
}

/* xas_next() / __xas_next(), and xas_prev() / __xas_prev() with dir -1. */
static enum xa_entry xas_step(struct xa_cursor *x, int dir)
{
	unsigned edge = dir > 0 ? XA_CHUNK_SIZE - 1 : 0, canon;

	if (x->level == 0 && x->off != edge) {		/* the inline fast path */
		x->index += (uint64_t)dir;
		x->off += (unsigned)dir;
		return xa_slot(x, 0, x->base, x->off, &canon);
	}
	if (x->level != -1)		/* XAS_RESTART is frozen: no step */
		x->index += (uint64_t)dir;
	if (x->level < 0)
		return xas_load(x);
	if (x->off != xa_get_offset(x->index, x->level))
		x->off += (unsigned)dir;
	while (x->off == (dir > 0 ? XA_CHUNK_SIZE : UINT32_MAX)) {
		unsigned up = xa_get_offset(x->base, x->level + 1);	/* node->offset */

		if (x->level == x->top) {
			x->level = -2;		/* set_bounds() */
			return XA_NULL;
		}
		x->off = up + (unsigned)dir;
		x->level++;
		x->base &= ~((1ull << (XA_CHUNK_SHIFT * (x->level + 1))) - 1);
	}
	return xas_descend_to(x);
}

static void xa_cursor_init(struct xa_cursor *x, const struct memlab_file *f, uint64_t index)
{
	uint64_t last = i_size_pages(f) ? i_size_pages(f) - 1 : 0;

	x->f = f;
	x->index = index;
	x->level = -1;
	x->base = 0;
	x->off = 0;
	for (x->top = 0; last >> (XA_CHUNK_SHIFT * (x->top + 1)); x->top++)
		;
}

/*
** page_cache_next_miss(): the first index from index on, at most max
** scanned, that holds no folio; index + max when all did, 0 past the
** last index.
*/
uint64_t page_cache_next_miss(const struct memlab_file *f, uint64_t index, uint64_t max)
{
	struct xa_cursor x;

	if (!f->max_folio_order) {	/* an index scan */
		for (uint64_t n = 0; n < max; n++)
			if (filemap_lookup(f, index + n) == PFN_NONE)
				return index + n;
		return index + max;
	}
	xa_cursor_init(&x, f, index);
	for (uint64_t n = 0; n < max; n++) {
		if (xas_step(&x, 1) == XA_NULL)
			return x.index;
		if (x.index == 0)
			return 0;
	}
	return index + max;
}

/*
** page_cache_prev_miss(): the index the scan down from index stopped at:
** the first that holds no folio, or the last scanned when max of them
** all did (itself cached: so a sync read right after exactly max cached
** pages counts max - 1 of them, and reads as a random one -- measured on
** the host, tests/diff/diff_ra.c); UINT64_MAX when it went below 0.
*/
uint64_t page_cache_prev_miss(const struct memlab_file *f, uint64_t index, uint64_t max)
{
	struct xa_cursor x;

	xa_cursor_init(&x, f, index);
	if (!f->max_folio_order) {	/* an index scan */
		uint64_t i = index;

		for (uint64_t n = 0; n < max; n++) {
			i = index - n;
			if (filemap_lookup(f, i) == PFN_NONE)
				return i;
			if (i == 0)
				return n + 1 < max ? UINT64_MAX : 0;
		}
		return i;
	}
	for (uint64_t n = 0; n < max; n++)
		if (xas_step(&x, -1) == XA_NULL || x.index == UINT64_MAX)
			break;
	return x.index;
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

/* Whether a block of the disk holds page index of the file (ext4: the buffer is mapped). */
bool disk_mapped(const struct memlab_file *f, uint64_t index)
{
	return !f->shmem && filemap_lookup_as(&f->disk, index) != PFN_NONE;
}

/*
** A page of contents onto the disk (a host block per page written); of
** the page holding the file's end, the bytes past it go as zeroes, as
** ext4's writeback zeroes them (ext4_bio_write_folio: the page "can be
** mmapped", and a later truncate up must find zeroes there).
*/
int disk_write_page(struct memlab_file *f, uint64_t index, const uint8_t *src)
{
	memlab_machine *m = f->m;
	uint64_t block = filemap_lookup_as(&f->disk, index), off = index << m->page_shift;
	uint64_t valid = off < f->size ? (f->size - off < m->page_size ? f->size - off : m->page_size) : 0;
	void *b;

	if (!valid)		/* past the end: nothing of it is the file's */
		return 0;
	if (block == PFN_NONE) {
		b = ml_alloc(m, m->page_size);
		if (!b || slot_insert(m, &f->disk, index, (uintptr_t)b)) {
			ml_free(m, b, m->page_size);
			return -MEMLAB_ENOMEM;
		}
		block = (uintptr_t)b;
	}
	memcpy((void *)(uintptr_t)block, src, valid);
	memset((uint8_t *)(uintptr_t)block + valid, 0, m->page_size - valid);
	return 0;
}

/*
** ext4_truncate()'s blocks: those wholly past size are freed (the file
** reads zeroes there when it grows again); of the block holding size, the
** bytes past it are zero (ext4_block_truncate_page zeroed them in the
** page cache: data=journal journals the block, data=ordered writes it
** back with the page).
*/
void disk_truncate(struct memlab_file *f, uint64_t size)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->disk;
	uint64_t keep = (size + m->page_size - 1) >> m->page_shift;

	for (uint64_t i = 0; i < as->cap && as->nrpages;) {
		if (as->keys[i] && as->keys[i] - 1 >= keep) {
			ml_free(m, (void *)(uintptr_t)as->pfns[i], m->page_size);
			slot_delete(as, i);	/* may shift another entry into i */
		} else {
			i++;
		}
	}
	if (size & (m->page_size - 1)) {
		uint64_t block = filemap_lookup_as(as, size >> m->page_shift), in = size & (m->page_size - 1);

		if (block != PFN_NONE)
			memset((uint8_t *)(uintptr_t)block + in, 0, m->page_size - in);
	}
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

/*
** The node's and the memcg's counters of a folio entering (+1) or leaving
** (-1) the cache (__filemap_add_folio, page_cache_delete): its pages, and
** a PMD-sized one as a file THP (FileHugePages).
*/
static void cache_account(memlab_machine *m, const struct memlab_file *f,
			  const struct page *folio, int d)
{
	uint64_t nr = folio_nr_pages(folio);

	mod_lruvec_page_state(m, folio, NR_FILE_PAGES, d * (int64_t)nr);
	if (f->shmem)
		mod_lruvec_page_state(m, folio, NR_SHMEM, d * (int64_t)nr);
	else if (nr >= 1ull << hpage_pmd_order(m))	/* folio_test_pmd_mappable() */
		mod_lruvec_page_state(m, folio, NR_FILE_HUGEPAGES, d);
}

/*
** The workingset shadows in the folio's range go, replaced by it
** (__filemap_add_folio's xas_for_each_conflict); the last one found, in
** index order, is the folio's refault (workingset_refault) -- but not for
** __GFP_WRITE: a rewrite is no working set.
*/
static void take_shadows(struct memlab_file *f, struct page *folio, bool write)
{
	struct address_space *as = &f->shadows;
	uint64_t nr = folio_nr_pages(folio), shadow = 0;
	bool found = false;

	for (uint64_t k = 0; k < nr && as->nrpages; k++) {
		uint64_t i = slot_find(as, folio->index + k);

		if (!as->keys[i])
			continue;
		shadow = as->pfns[i];
		found = true;
		slot_delete(as, i);
	}
	if (found && !write)
		workingset_refault(f->m, folio, shadow);
}

/*
** filemap_add_folio() of a new folio of 2^order pages at index (aligned to
** it), read from the file (or zero for shmem and holes): the cache holds
** a reference per page; it goes on the inactive file LRU (shmem: the anon
** LRU, swap-backed).  -MEMLAB_EEXIST when a page of its range is cached
** (nothing is allocated then).  *out: its head.
*/
int filemap_add_folio(struct memlab_file *f, uint64_t index, unsigned order, bool ra,
		      bool write, uint64_t *out)
{
	memlab_machine *m = f->m;
	struct address_space *as = &f->i_pages;
	uint64_t nr = 1ull << order, pfn, kb = 0;
	/* mapping_gfp_mask(); readahead_gfp_mask() adds NORETRY | NOWARN: it never OOM-kills */
	uint32_t gfp = MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_COMP | MEMLAB___GFP_ZERO |
		       (ra ? MEMLAB___GFP_NORETRY | MEMLAB___GFP_NOWARN : 0);
	bool mapped = !write;
	struct page *folio;
	int err;

	for (uint64_t k = 0; k < nr; k++)
		if (filemap_lookup(f, index + k) != PFN_NONE)
			return -MEMLAB_EEXIST;
	if ((err = slots_grow(m, as, nr)) || (err = alloc_pages(m, order, gfp, &pfn)))
		return err;
	/* filemap_add_folio(): the current task's cgroup, with the caller's gfp
	 * (the allocation added __GFP_COMP and __GFP_ZERO for itself) */
	if ((err = mem_cgroup_charge(m, pfn, NULL,
				     gfp & ~(MEMLAB___GFP_COMP | MEMLAB___GFP_ZERO)))) {
		memlab_free_pages(m, pfn, order);
		return err;
	}
	for (uint64_t k = 0; k < nr; k++) {	/* zeroed: only the file's bytes are written */
		uint64_t valid;
		const uint8_t *block = disk_block(f, index + k, &valid);

		if (block)
			memcpy(frame_wptr(m, pfn + k, 0, valid), block, valid);
		if (block && !write)
			kb += blocks_read_kb(valid, 0, 0);
		mapped &= block != NULL;
	}
	folio = pfn_to_page(m, pfn);
	folio->mapping = (uintptr_t)f;
	folio->index = index;
	folio->_refcount += (int32_t)nr - 1;
	if (nr > 1) {
		*folio_entire_mapcount_ptr(folio) = 0;
		*folio_nr_pages_mapped_ptr(folio) = 0;
	}
	if (f->shmem)
		folio->flags |= PG_swapbacked;
	else if (mapped)	/* do_mpage_readpage(): every block mapped; a write's */
		folio->flags |= PG_mappedtodisk;	/* write_begin reads the blocks without it */
	m->vmstat[PGPGIN] += kb;
	take_shadows(f, folio, write);
	folio_add_lru(m, folio);
	cache_account(m, f, folio, 1);
	for (uint64_t k = 0; k < nr; k++)
		slot_insert(m, as, index + k, pfn + k);		/* room was made above */
	*out = pfn;
	return 0;
}

int filemap_add_page(struct memlab_file *f, uint64_t index, uint64_t *out, bool ra, bool write)
{
	return filemap_add_folio(f, index, 0, ra, write, out);
}

/*
** Drop a cached folio no one maps (truncation, invalidation, reclaim): it
** leaves the cache with its mapping (page_cache_delete), and goes with the
** cache's references -- later if a folio batch still holds it.
*/
void filemap_delete_folio(struct memlab_file *f, struct page *folio)
{
	memlab_machine *m = f->m;
	uint64_t nr = folio_nr_pages(folio);

	if (folio->flags & PG_dirty)
		folio_clear_dirty(m, folio);
	cache_account(m, f, folio, -1);
	for (uint64_t k = 0; k < nr; k++)
		slot_delete(&f->i_pages, slot_find(&f->i_pages, folio->index + k));
	folio->mapping = 0;
	folio->_refcount -= (int32_t)nr - 1;	/* folio_put_refs(folio, nr) */
	put_page(m, page_to_pfn(m, folio));
}

/* The folio of the page in slot i of the file's cache. */
static struct page *slot_folio(const struct memlab_file *f, uint64_t i)
{
	return pfn_folio(f->m, f->i_pages.pfns[i]);
}

/*
** __remove_mapping() for reclaim: a clean folio that only the page cache
** and the reclaimer (its isolation reference) hold leaves the cache; the
** reclaimer's put frees it.  false when someone else holds it or it was
** dirtied again.  Its workingset shadow takes every index it held.
*/
bool filemap_remove_folio(memlab_machine *m, uint64_t pfn)
{
	struct page *folio = pfn_to_page(m, pfn);
	struct memlab_file *f = (struct memlab_file *)folio->mapping;
	uint64_t nr = folio_nr_pages(folio), shadow;

	if (folio->_refcount != (int32_t)nr + 1 || folio_mapcount(folio) ||
	    (folio->flags & PG_dirty) || filemap_lookup(f, folio->index) != pfn)
		return false;
	shadow = workingset_eviction(m, folio);
	for (uint64_t k = 0; k < nr; k++)	/* a failed insert just loses it */
		slot_insert(m, &f->shadows, folio->index + k, shadow);
	filemap_delete_folio(f, folio);
	return true;
}

/*
** mapping_try_invalidate() of the folios within [first, last] (drop_caches:
** the whole file; a large folio partly outside is passed by): every clean
** folio no one maps or holds leaves the cache (mapping_evict_folio); the
** others are deactivated, so that reclaim finds them sooner, and counted
** in *failed.  The folios come in index order, in
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
void clear_shadow_entries(struct memlab_file *f, uint64_t first, uint64_t last)
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
		uint64_t i = slot_find(as, keys[k] - 1), nr;
		struct page *folio;

		if (as->keys[i] != keys[k])
			continue;
		folio = slot_folio(f, i);
		nr = folio_nr_pages(folio);
		/* find_lock_entries(): each folio once, none that lies partly outside */
		if (folio->index != keys[k] - 1 || folio->index < first ||
		    folio->index + nr - 1 > last)
			continue;
		if (skip_dirty && (folio->flags & PG_dirty))
			continue;	/* under writeback: find_lock_entries() passes it by */
		if ((folio->flags & PG_dirty) || folio_mapcount(folio) ||
		    folio->_refcount != (int32_t)nr) {
			deactivate_file_folio(m, folio);
			(*failed)++;
		} else {
			filemap_delete_folio(f, folio);
			dropped += nr;
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

	while (as->nrpages)	/* a large folio's deletion may shift an entry behind i */
		for (uint64_t i = 0; i < as->cap;) {
			if (as->keys[i])
				filemap_delete_folio(f, slot_folio(f, i));	/* may shift another entry into i */
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
** __folio_mark_dirty(): a regular file's folio (of the page given) becomes
** dirty and counts in nr_dirty (and nr_dirtied), each of its pages; shmem
** pages have no writeback, and their dirty bit is not accounted
** (noop_dirty_folio).  Whether it was clean.
*/
bool __folio_mark_dirty(memlab_machine *m, struct page *page)
{
	struct page *folio = pfn_folio(m, page_to_pfn(m, page));
	const struct memlab_file *f = (const struct memlab_file *)folio->mapping;
	uint64_t nr = folio_nr_pages(folio);

	if (folio->flags & PG_dirty)
		return false;
	folio->flags |= PG_dirty;
	if (f->shmem)
		return true;
	mod_lruvec_page_state(m, folio, NR_DIRTY, (int64_t)nr);
	m->vmstat[NR_ZONE_WRITE_PENDING] += nr;
	m->vmstat[NR_DIRTIED] += nr;
	return true;
}

/*
** mark_buffer_dirty() of the blocks of n pages of the folio from its page
** first (PG_dirty_block), which dirties the folio (__folio_mark_dirty).
*/
void folio_mark_blocks_dirty(memlab_machine *m, struct page *folio, uint64_t first, uint64_t n)
{
	for (uint64_t k = first; k < first + n; k++)
		folio[k].flags |= PG_dirty_block;
	__folio_mark_dirty(m, folio);
}

/*
** folio_mark_dirty(): as __folio_mark_dirty, every block of it dirty
** (ext4's block_dirty_folio), and PG_reclaim goes first -- reclaim must
** look again; a PG_readahead mark (the same bit) is lost.
*/
bool folio_mark_dirty(memlab_machine *m, struct page *page)
{
	struct page *folio = pfn_folio(m, page_to_pfn(m, page));

	for (uint64_t k = 0; k < folio_nr_pages(folio); k++)
		folio[k].flags |= PG_dirty_block;
	folio->flags &= ~PG_reclaim;
	return __folio_mark_dirty(m, page);
}

/* folio_cancel_dirty() / folio_clear_dirty_for_io(): clean, its blocks too. */
void folio_clear_dirty(memlab_machine *m, struct page *folio)
{
	const struct memlab_file *f = (const struct memlab_file *)folio->mapping;
	uint64_t nr = folio_nr_pages(folio);

	for (uint64_t k = 0; k < nr; k++)
		folio[k].flags &= ~PG_dirty_block;
	folio->flags &= ~PG_dirty;
	if (f->shmem)
		return;
	mod_lruvec_page_state(m, folio, NR_DIRTY, -(int64_t)nr);
	m->vmstat[NR_ZONE_WRITE_PENDING] -= nr;
}

/*
** Write a dirty folio (of the page at pfn) back to the file's disk
** (writepages): every mapping of its pages made clean first
** (folio_mkclean), so that the next write through one faults and dirties
** it again; data=ordered zeroes the folio past the file's end first
** (ext4_bio_write_folio: it "may be mmapped"); nr_written and pgpgout
** (KiB, as vmstat reports them) count its pages.  Returns 0 or -MEMLAB_ENOMEM (the host's).
*/
static int writeback_folio(struct memlab_file *f, uint64_t pfn)
{
	memlab_machine *m = f->m;
	uint64_t head = folio_pfn(m, pfn);
	struct page *folio = pfn_to_page(m, head);
	uint64_t nr = folio_nr_pages(folio);

	if (f->max_folio_order && (folio->index + nr) << m->page_shift > f->size &&
	    folio->index << m->page_shift < f->size) {	/* fs/ext4/page-io.c ext4_bio_write_folio() */
		uint64_t end = f->size - (folio->index << m->page_shift);

		folio_zero_range(m, head, end, nr << m->page_shift);
	}
	for (uint64_t k = 0; k < nr; k++) {
		int err = disk_write_page(f, folio->index + k, frame_ptr(m, head + k));

		if (err)
			return err;
	}
	for (uint64_t k = 0; k < nr; k++)
		folio_mkclean(m, head + k);
	folio_clear_dirty(m, folio);
	m->vmstat[NR_WRITTEN] += nr;
	m->vmstat[PGPGOUT] += nr * (m->page_size >> 10);
	if (folio->flags & PG_reclaim) {		/* folio_end_writeback() */
		folio->flags &= ~PG_reclaim;
		folio_rotate_reclaimable(m, folio);
	}
	return 0;
}

/* A dirty folio's page in slot i of the cache (its first found writes it all back). */
static bool slot_dirty(const struct memlab_file *f, uint64_t i)
{
	return f->i_pages.keys[i] && (slot_folio(f, i)->flags & PG_dirty);
}

/*
** filemap_write_and_wait_range(): write back the dirty folios of a regular
** file with a page whose index lies in [first, last].  0 or -MEMLAB_ENOMEM.
*/
int filemap_writeback(struct memlab_file *f, uint64_t first, uint64_t last)
{
	struct address_space *as = &f->i_pages;
	int err;

	if (f->shmem)
		return 0;
	for (uint64_t i = 0; i < as->cap; i++) {
		uint64_t index = as->keys[i] - 1;

		if (slot_dirty(f, i) && index >= first && index <= last &&
		    (err = writeback_folio(f, as->pfns[i])))
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
			if (slot_dirty(f, i))
				writeback_folio(f, as->pfns[i]);	/* a host failure leaves it dirty */
	}
}

/* ===================== faults ===================== */

/*
** filemap_fault() / shmem_fault(): the cached page for index (a hit:
** do_async_mmap_readahead, unless this is the fault's retry), else read
** with its readahead window first (do_sync_mmap_readahead) -- or alone,
** when the window did not hold it -- with a reference for the caller
** (vmf->page: reclaim leaves it alone until the caller's put_page).
** Returns 0 (a minor fault), FILEMAP_MAJOR | FILEMAP_UNLOCKED (the page
** had to be read: pgmajfault counts it, and Linux dropped the lock for
** the I/O), FILEMAP_UNLOCKED (a hit that read the next window ahead, or
** a cached page not up to date, read now: page_not_uptodate),
** -MEMLAB_EFAULT past the end of the file (SIGBUS), -MEMLAB_ENOMEM.
*/
int filemap_fault(struct vm_area_struct *vma, uint64_t index, bool tried, uint64_t *pfn)
{
	struct memlab_file *f = vma->vm_file;
	memlab_machine *m = f->m;
	int err;

	if (index >= i_size_pages(f))
		return -MEMLAB_EFAULT;
	*pfn = filemap_lookup(f, index);
	if (*pfn != PFN_NONE) {
		struct page *folio = pfn_folio(m, *pfn);
		bool unlocked;

		folio->_refcount++;	/* held while readahead allocates */
		unlocked = !f->shmem && !tried && do_async_mmap_readahead(vma, *pfn);
		if (folio->flags & PG_not_uptodate) {
			/* page_not_uptodate: filemap_read_folio(), the lock dropped for it */
			folio->flags &= ~PG_not_uptodate;
			unlocked |= !tried;
		}
		return unlocked ? FILEMAP_UNLOCKED : 0;
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
	pfn_folio(m, *pfn)->_refcount++;
	return FILEMAP_MAJOR | FILEMAP_UNLOCKED;
}

/* The state of one fault-around (filemap_map_pages's). */
struct fault_around {
	memlab_task *t;
	struct vm_area_struct *vma;
	uint64_t addr;			/* the fault's */
	uint64_t table;			/* the PTE table, once allocated */
	unsigned hits;			/* mmap_miss's count */
	bool mapped;			/* addr is mapped now */
	unsigned found;			/* folios met that next_uptodate_folio() takes */
};

/*
** set_pte_range() of the PTEs none of nr pages from pfn (of one folio) at
** a: arm64 with hardware AF maps them old unless the fault's address is
** among them (arch_wants_old_prefaulted_pte); a shared writable entry of
** a dirty folio is dirty; the rmap, the mappings' references and the RSS
** (folio_add_file_rmap_ptes).
*/
static void map_pte_run(struct fault_around *fa, uint64_t a, uint64_t pfn, unsigned nr)
{
	memlab_machine *m = fa->t->m;
	struct pt_prot prot = vma_page_prot(fa->vma);
	uint64_t len = (uint64_t)nr << m->page_shift;
	struct page *folio = pfn_folio(m, pfn);

	if (!nr)
		return;
	prot.accessed = (fa->addr >= a && fa->addr - a < len) || m->arch != MEMLAB_ARCH_ARM64;
	prot.dirty = prot.write && (folio->flags & PG_dirty);
	set_ptes(fa->t, a, fa->table, pt_index(&fa->t->mm->pt, 0, a), pfn, prot, nr);
	folio_add_file_rmap_ptes(fa->t, pfn, nr, fa->vma);
	fa->mapped |= fa->addr >= a && fa->addr - a < len;
}

/*
** filemap_map_folio_range(): map the pages [first, first + nr) of the
** folio at head from a -- all of it instead when it lies within the file
** (short of its last page: file_end >= folio_next_index; shmem's need
** not), the VMA and one
** page table -- each with an empty PTE, in runs; each page counts as a hit
** against mmap_miss, unless it is a refault of the working set.
*/
static void map_folio_range(struct fault_around *fa, uint64_t head, uint64_t first,
			    uint64_t a, uint64_t nr, uint64_t file_end)
{
	memlab_machine *m = fa->t->m;
	struct page *folio = pfn_to_page(m, head);
	uint64_t fnr = folio_nr_pages(folio), a0 = a - (first << m->page_shift);
	uint64_t pmd = pt_level_size(&fa->t->mm->pt, 1), run = 0;

	if ((file_end >= folio->index + fnr || fa->vma->vm_file->shmem) && a0 >= fa->vma->vm_start &&
	    a0 + (fnr << m->page_shift) <= fa->vma->vm_end &&
	    (a0 & ~(pmd - 1)) == ((a0 + (fnr << m->page_shift) - 1) & ~(pmd - 1))) {
		a = a0;
		first = 0;
		nr = fnr;
	}
	for (uint64_t k = 0; k < nr; k++) {
		uint64_t idx = pt_index(&fa->t->mm->pt, 0, a + (k << m->page_shift));

		if (!(folio->flags & PG_workingset))
			fa->hits++;
		if (!ptep_get(m, &fa->t->mm->pt, fa->table, idx)) {
			run++;
			continue;
		}
		map_pte_run(fa, a + ((k - run) << m->page_shift), head + first + k - run, (unsigned)run);
		run = 0;
	}
	map_pte_run(fa, a + ((nr - run) << m->page_shift), head + first + nr - run, (unsigned)run);
}

/*
** do_fault_around() / filemap_map_pages(): before a read fault goes to
** the file, map the cached folios of a fault_around_bytes window -- from
** the aligned window's start, or the VMA's start if later (the window
** then shifts up, it is not clipped), for fault_around_bytes (64 KiB: no
** fault-around at all with 64K pages), within the VMA, addr's page table
** and the file -- as vm_page_prot says, without faults of their own; a
** large folio whole where it fits (map_folio_range).  A folio marked
** PG_readahead is left for its own fault, which reads the next window,
** and so is one not up to date (next_uptodate_folio).  The first folio found, PMD-sized and within
** the file, is mapped by a PMD where the PMD is none (filemap_map_pmd):
** *prealloc, when given, is the fault's PTE table, empty and still none to
** Linux (vmf->prealloc_pte), freed then (PFN_NONE).  Returns whether addr
** itself is now mapped (the fault is done).
*/
bool do_fault_around(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, uint64_t *prealloc)
{
	memlab_machine *m = t->m;
	struct memlab_file *f = vma->vm_file;
	uint64_t psize = m->page_size, win = FAULT_AROUND_BYTES;
	uint64_t pmd = pt_level_size(&t->mm->pt, 1), table = addr & ~(pmd - 1);
	uint64_t start = addr & ~(win - 1), end, index, last, file_end;
	struct fault_around fa = { t, vma, addr, PFN_NONE, 0, false, 0 };

	if (win <= psize || !i_size_pages(f))	/* should_fault_around(): one page is none (64K pages) */
		return false;
	start = start > vma->vm_start ? start : vma->vm_start;
	start = start > table ? start : table;
	end = start + win;
	end = end < vma->vm_end ? end : vma->vm_end;
	end = end < table + pmd ? end : table + pmd;
	file_end = i_size_pages(f) - 1;
	index = linear_page_index(vma, start);
	last = linear_page_index(vma, end - psize);
	last = last < file_end ? last : file_end;
	while (index <= last) {
		uint64_t pfn = filemap_lookup(f, index), head, next, nr;
		struct page *folio;
		bool skip;

		if (pfn == PFN_NONE) {
			index++;
			continue;
		}
		head = folio_pfn(m, pfn);
		folio = pfn_to_page(m, head);
		next = folio->index + folio_nr_pages(folio);
		skip = folio->flags & (PG_readahead | PG_not_uptodate);	/* next_uptodate_folio() */
		/*
		 * The first folio found, not within the file short of its
		 * last page: Linux 6.18 does not call filemap_map_pmd(), so a
		 * none PMD gets no table, pte_offset_map_lock() fails and
		 * nothing is mapped here -- finish_fault() maps it.
		 */
		if (!skip && !fa.found && file_end < next && !f->shmem &&
		    (pmd_none_at(t, addr) || (prealloc && *prealloc != PFN_NONE)))
			return false;
		/* filemap_map_pmd(): the first folio found, whole within the file, by a PMD */
		if (!skip && !fa.found++ && (file_end >= next || f->shmem) &&
		    file_pmd_mappable(m, vma, addr, head)) {
			if (prealloc && *prealloc != PFN_NONE) {	/* not installed yet in Linux */
				pte_free_unused(m, t->mm, addr, *prealloc);
				if (pmd_none_at(t, addr))
					*prealloc = PFN_NONE;
			}
			if (pmd_none_at(t, addr) && do_set_pmd(t, vma, addr, pfn, false) == 0)
				return true;
		}
		if (!skip) {
			uint64_t a = start + ((index - linear_page_index(vma, start)) << m->page_shift);

			folio->_refcount++;	/* a table allocation may reclaim */
			if (fa.table != PFN_NONE || !pt_alloc_path(m, t->mm, a, 0, &fa.table)) {
				nr = (next - 1 < last ? next - 1 : last) - index + 1;
				map_folio_range(&fa, head, index - folio->index, a, nr, file_end);
			}
			put_page(m, head);
		}
		index = next;
	}
	f->ra.mmap_miss = fa.hits >= f->ra.mmap_miss ? 0 : f->ra.mmap_miss - fa.hits;
	return fa.mapped;
}

/* ===================== read(2) and write(2) ===================== */


/*
** filemap_get_read_batch(): the cached folios from the one holding index
** on, up to the one holding last and PAGEVEC_SIZE of them, each with a
** reference (their heads); the batch ends at a hole and after a folio
** not up to date or marked PG_readahead.
*/
static unsigned filemap_get_read_batch(struct memlab_file *f, uint64_t index, uint64_t last,
				       uint64_t *batch)
{
	memlab_machine *m = f->m;
	unsigned n = 0;

	while (index <= last && n < PAGEVEC_SIZE) {
		uint64_t pfn = filemap_lookup(f, index);
		struct page *folio;

		if (pfn == PFN_NONE)
			break;
		batch[n++] = folio_pfn(m, pfn);
		folio = pfn_to_page(m, batch[n - 1]);
		folio->_refcount++;
		if (folio->flags & (PG_not_uptodate | PG_readahead))
			break;
		index = folio->index + folio_nr_pages(folio);	/* xas_advance() past it */
	}
	return n;
}

/*
** filemap_get_pages(): the batch for a read of the pages [index,
** last_index): a miss at index reads ahead first (page_cache_sync_ra), or
** the page alone when that read nothing (filemap_create_folio); a batch
** ending on a marked folio reads the next window (filemap_readahead, from
** the folio's index); one ending on a folio not up to date reads it
** (filemap_update_page: ext4 holds its block already, no I/O).  Returns
** its size, 0 when no frame was free.
*/
static unsigned filemap_get_pages(struct memlab_file *f, uint64_t index, uint64_t last_index,
				  uint64_t *batch)
{
	memlab_machine *m = f->m;
	unsigned n = filemap_get_read_batch(f, index, last_index - 1, batch);
	struct page *folio;

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
	folio = pfn_to_page(m, batch[n - 1]);
	if (folio->flags & PG_readahead)
		page_cache_async_ra(f, folio, folio->index, last_index - folio->index);
	folio->flags &= ~PG_not_uptodate;	/* filemap_update_page(): read it */
	return n;
}

/* pos_same_folio(): the same folio-sized block, for byte positions that may be negative */
static bool pos_same_folio(const memlab_machine *m, int64_t a, int64_t b, const struct page *folio)
{
	unsigned shift = m->page_shift + (unsigned)__builtin_ctzll(folio_nr_pages(folio));

	return a >> shift == b >> shift;
}

/*
** copy_folio_to_iter() / copy_folio_from_iter_atomic(): bytes at off in
** the folio at head, a page at a time (*done counts the pages' bytes
** copied whole); write: into the folio.
*/
static int copy_folio(memlab_machine *m, uint64_t head, uint64_t off, uint64_t bytes,
		      bool write, filemap_actor actor, void *ud, uint64_t *done)
{
	while (bytes) {
		uint64_t in = off & (m->page_size - 1), pfn = head + (off >> m->page_shift);
		uint64_t len = m->page_size - in < bytes ? m->page_size - in : bytes;
		uint8_t *p = write ? frame_wptr(m, pfn, (size_t)in, (size_t)len)
				   : (uint8_t *)(uintptr_t)(frame_ptr(m, pfn) + in);
		int err = actor(ud, *done, p, len);

		if (err)
			return err;
		*done += len;
		off += len;
		bytes -= len;
	}
	return 0;
}

/*
** filemap_read(): read(2)'s part -- batch after batch of cached folios,
** clipped to the end of the file.  Each folio copied from is marked
** accessed, but for a first one the previous read ended in (reading a
** folio in pieces counts once).  ra->prev_pos keeps where it ended.
** Returns the bytes done, or the first error when nothing was done.
*/
int64_t filemap_read(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		     void *ud)
{
	memlab_machine *m = f->m;
	int64_t last_pos = f->ra.prev_pos;
	uint64_t done = 0, batch[PAGEVEC_SIZE];
	int err = 0;

	if (off >= EXT4_MAXBYTES || !n)
		return 0;
	if (n > EXT4_MAXBYTES - off)	/* iov_iter_truncate() to s_maxbytes */
		n = EXT4_MAXBYTES - off;
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
		if (!pos_same_folio(m, (int64_t)pos, last_pos - 1, pfn_to_page(m, batch[0])))
			folio_mark_accessed(m, pfn_to_page(m, batch[0]));
		for (i = 0; i < nr && !err; i++) {
			struct page *folio = pfn_to_page(m, batch[i]);
			uint64_t fsize = folio_nr_pages(folio) << m->page_shift;
			uint64_t fpos = folio->index << m->page_shift, in = pos - fpos;
			uint64_t bytes = end - pos < fsize - in ? end - pos : fsize - in;

			if (end < fpos)
				break;
			if (i > 0)
				folio_mark_accessed(m, folio);
			err = copy_folio(m, batch[i], in, bytes, false, actor, ud, &done);
			pos = off + done;
			last_pos = (int64_t)pos;
		}
		for (i = 0; i < nr; i++)	/* folio_batch_release() */
			put_page(m, batch[i]);
	} while (done < n && off + done < f->size && !err);
	f->ra.prev_pos = last_pos;
	return done ? (int64_t)done : err;
}

/*
** write_begin (ext4_write_begin: __filemap_get_folio(FGP_WRITEBEGIN |
** fgf_set_order(len))): the cached folio holding pos, or a new one -- of
** the order of the write's length (ilog2 of its bytes, in pages), at most
** the mapping's, smaller where pos's index is not aligned to it, and
** smaller again while a page of its range is cached or no frame is free,
** down to a page.  Of a new folio, the blocks the write covers in part are
** read first (ext4_block_write_begin: pgpgin), those outside it not.  A
** shadow it finds is no refault (filemap_add_folio skips __GFP_WRITE).
** *head: the folio's head; *created: a new one (not up to date until the
** write commits).  0 or -MEMLAB_ENOMEM.
*/
static int write_begin(struct memlab_file *f, uint64_t pos, uint64_t len, uint64_t *head,
		       bool *created)
{
	memlab_machine *m = f->m;
	uint64_t index = pos >> m->page_shift, pfn = filemap_lookup(f, index), fpos;
	unsigned shift = 63 - (unsigned)__builtin_clzll(len), order = 0;
	int err;

	*created = pfn == PFN_NONE;
	if (pfn != PFN_NONE) {
		*head = folio_pfn(m, pfn);
		return 0;
	}
	if (shift > m->page_shift)
		order = shift - m->page_shift;
	if (order > f->max_folio_order)
		order = f->max_folio_order;
	if (index & ((1ull << order) - 1))
		order = (unsigned)__builtin_ctzll(index);
	while ((err = filemap_add_folio(f, index, order, order > 0, true, head)) && order)
		order--;	/* a large one: __GFP_NORETRY | __GFP_NOWARN */
	if (err)
		return err;
	fpos = index << m->page_shift;
	for (uint64_t k = 0; k < 1ull << order; k++) {
		uint64_t ps = fpos + (k << m->page_shift), pe = ps + m->page_size, valid;
		uint64_t from = pos > ps ? pos : ps, to = pos + len < pe ? pos + len : pe;

		if (from < to && disk_block(f, index + k, &valid))
			m->vmstat[PGPGIN] += blocks_read_kb(valid, from - ps, to - from);
	}
	return 0;
}

/*
** fault_in_iov_iter_readable() of the bytes of the source from done:
** a byte of each of its pages read in turn, up to the first that cannot
** be (an access like the copy's: a fault where it is not mapped yet).
** false when not even the first can -- the write fails with EFAULT
** before it takes a folio.
*/
static bool fault_in_readable(memlab_machine *m, filemap_actor actor, void *ud, uint64_t done,
			      uint64_t bytes)
{
	uint8_t probe;

	if (actor(ud, done, &probe, 1))
		return false;
	for (uint64_t k = m->page_size; k < bytes; k += m->page_size)
		if (actor(ud, done + k, &probe, 1))
			return true;
	if (bytes > 1)		/* the last page, where the steps skipped it */
		actor(ud, done + bytes - 1, &probe, 1);
	return true;
}

/* folio_zero_range(): bytes [from, to) of the folio at head zeroed. */
void folio_zero_range(memlab_machine *m, uint64_t head, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t in = from & (m->page_size - 1);
		uint64_t len = m->page_size - in < to - from ? m->page_size - in : to - from;

		memset(frame_wptr(m, head + (from >> m->page_shift), (size_t)in, (size_t)len), 0,
		       (size_t)len);
		from += len;
	}
}

/*
** write_end (block_write_end, ext4_write_end / ext4_journalled_write_end)
** of bytes at in of the folio, copied: ext4 data=ordered dirties the
** blocks written (mark_buffer_dirty: a PG_readahead mark stays);
** data=journal the folio, for the journal, whose writeback ends the mark.
** What a faulting copy wrote into a folio up to date stays.
*/
static void write_end(struct memlab_file *f, struct page *folio, uint64_t in, uint64_t bytes)
{
	memlab_machine *m = f->m;
	uint64_t first = in >> m->page_shift;

	if (f->max_folio_order)
		folio_mark_blocks_dirty(m, folio, first,
					((in + bytes - 1) >> m->page_shift) - first + 1);
	else
		folio_mark_dirty(m, folio);
	folio->flags &= ~PG_not_uptodate;	/* its block is now */
}

/*
** A copy that faulted before its first byte into a folio the write made:
** block_write_end() commits nothing -- the folio stays not up to date,
** clean, holding what the disk does.  (One that copied some is retried
** with that length, generic_perform_write's "bytes = copied; goto
** retry", and commits it.)
*/
static void write_end_short(struct memlab_file *f, struct page *folio)
{
	memlab_machine *m = f->m;
	uint64_t head = page_to_pfn(m, folio);

	for (uint64_t k = 0; k < folio_nr_pages(folio); k++)
		disk_read_page(f, folio->index + k, frame_wptr(m, head + k, 0, m->page_size));
	folio->flags |= PG_not_uptodate;
}

/*
** generic_perform_write(): write(2)'s part -- in chunks of the mapping's
** largest folio, each into the folio write_begin finds or makes (clipped
** to it), then dirtied, the file grown to cover what was copied, up to
** ext4's largest file (-MEMLAB_EFBIG at or past it).  A chunk whose
** source cannot be read at all fails before it takes a folio
** (fault_in_iov_iter_readable); one whose copy faults part way commits
** what it copied (a folio not up to date: by the retry with that length),
** and one that copied nothing into a folio it made leaves the folio not
** up to date -- which data=journal then truncates away past the file's
** end (ext4_truncate_failed_write); data=ordered (delalloc) leaves it.
** Returns the bytes done, or the first error when nothing was done.
*/
int64_t filemap_write(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		      void *ud)
{
	memlab_machine *m = f->m;
	uint64_t done = 0, chunk = m->page_size << f->max_folio_order;
	bool created;

	if (off >= EXT4_MAXBYTES)	/* generic_write_check_limits() */
		return -MEMLAB_EFBIG;
	if (n > EXT4_MAXBYTES - off)
		n = EXT4_MAXBYTES - off;
	while (done < n) {
		uint64_t pos = off + done, bytes = chunk - (pos & (chunk - 1)), head;
		int err;

		if (task_is_dying(m))	/* fatal_signal_pending(): an OOM victim stops */
			return done ? (int64_t)done : -MEMLAB_EINTR;
		bytes = bytes < n - done ? bytes : n - done;
		if (!fault_in_readable(m, actor, ud, done, bytes))
			return done ? (int64_t)done : -MEMLAB_EFAULT;
		err = write_begin(f, pos, bytes, &head, &created);
		if (!err) {		/* held while the copy faults (and maybe reclaims) */
			struct page *folio = pfn_to_page(m, head);
			uint64_t in = pos - (folio->index << m->page_shift);
			uint64_t fsize = folio_nr_pages(folio) << m->page_shift;

			bytes = bytes < fsize - in ? bytes : fsize - in;
			folio->_refcount++;
			err = copy_folio(m, head, in, bytes, true, actor, ud, &done);
			if (done > pos - off)		/* a short copy: what it copied */
				write_end(f, folio, in, done - (pos - off));
			else if (created)
				write_end_short(f, folio);
			put_page(m, head);
		}
		if (off + done > f->size)	/* write_end(): pos + copied */
			f->size = off + done;
		if (err && done == pos - off && !f->max_folio_order && pos + bytes > f->size)
			ext4_truncate_failed_write(f);
		if (err)
			return done ? (int64_t)done : err;
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

/* ===================== a look at the cache ===================== */

/*
** ext4_set_inode_mapping_order(): EXT4_MAX_PAGECACHE_ORDER, 11 + blkbits -
** PAGE_SHIFT, within MAX_PAGECACHE_ORDER (the PMD order, at most
** MAX_XAS_ORDER 11).
*/
static unsigned ext4_max_folio_order(const memlab_machine *m)
{
	unsigned order = 11 + 12 - m->page_shift, pmd = hpage_pmd_order(m);

	order = order < pmd ? order : pmd;
	return order < 11 ? order : 11;
}

int memlab_file_large_folios(memlab_file *f, int enable)
{
	if (f->shmem || f->huge_shift)
		return -MEMLAB_EINVAL;
	if (f->i_pages.nrpages)
		return -MEMLAB_EBUSY;
	f->max_folio_order = enable ? ext4_max_folio_order(f->m) : 0;
	return 0;
}

int64_t memlab_file_folios(const memlab_file *f, struct memlab_cache_folio *out, size_t n)
{
	memlab_machine *m = f->m;
	uint64_t nkeys, *keys = cached_indices(m, &f->i_pages, &nkeys);
	int64_t count = 0;

	if (!keys && f->i_pages.nrpages)
		return -MEMLAB_ENOMEM;
	for (uint64_t k = 0; k < nkeys; k++) {
		uint64_t pfn = filemap_lookup(f, keys[k] - 1), head = folio_pfn(m, pfn);
		const struct page *folio = pfn_to_page(m, head);

		if (folio->index != keys[k] - 1)
			continue;
		if ((size_t)count < n) {
			struct memlab_cache_folio *o = &out[count];

			memset(o, 0, sizeof(*o));
			o->index = folio->index;
			o->pfn = head;
			o->order = (unsigned)__builtin_ctzll(folio_nr_pages(folio));
			o->readahead = !!(folio->flags & PG_readahead);	/* folio_test_readahead() */
			o->dirty = !!(folio->flags & PG_dirty);
			o->active = !!(folio->flags & PG_active);
			o->referenced = !!(folio->flags & PG_referenced);
			o->workingset = !!(folio->flags & PG_workingset);
			o->mapped = folio_mapcount(folio) > 0;
			o->uptodate = !(folio->flags & PG_not_uptodate);
		}
		count++;
	}
	ml_free(m, keys, f->i_pages.nrpages * sizeof(*keys));
	return count;
}

/* ===================== checking ===================== */

/* Every page of the folio at head is in the file's cache at its index. */
static bool folio_whole(const struct memlab_file *f, const struct page *folio, uint64_t head)
{
	for (uint64_t k = 0; k < folio_nr_pages(folio); k++)
		if (filemap_lookup(f, folio->index + k) != head + k)
			return false;
	return true;
}

/*
** The page cache of every file: each slot's page is allocated, belongs by
** its folio to the file at that index (a large folio: aligned to its
** size, within the mapping's largest, every page of it cached), and is
** held, and its folio starts before the file's end (but
** one a failed write(2) made, under ext4's delalloc);
** nrpages counts the slots; the readahead state is one readahead
** could leave (the async tail within the window, mmap_miss within its cap).
*/
static void filemap_check_file(memlab_machine *m, const struct memlab_file *f, struct ml_check *c)
{
	const struct address_space *as = &f->i_pages;
	uint64_t n = 0;

	for (uint64_t i = 0; i < as->cap; i++) {
		uint64_t index = as->keys[i] - 1, head, nr;
		const struct page *folio;

		if (!as->keys[i])
			continue;
		n++;
		if (as->pfns[i] >= m->nr_frames) {
			ml_violation(c, "page cache: %s index %llu: pfn %#llx is not RAM", f->path,
				     (unsigned long long)index, (unsigned long long)as->pfns[i]);
			continue;
		}
		head = folio_pfn(m, as->pfns[i]);
		folio = pfn_to_page(m, head);
		nr = folio_nr_pages(folio);
		if (folio->mapping != (uintptr_t)f || folio->index + (as->pfns[i] - head) != index ||
		    folio->_refcount < (int32_t)nr || (folio->flags & PG_buddy))
			ml_violation(c, "page cache: %s index %llu: pfn %#llx is not its page (folio "
				     "index %llu, refcount %d%s)", f->path, (unsigned long long)index,
				     (unsigned long long)as->pfns[i], (unsigned long long)folio->index,
				     folio->_refcount, folio->mapping != (uintptr_t)f ? ", another mapping" : "");
		else if (nr > 1 && (folio->index & (nr - 1) || nr > 1ull << f->max_folio_order ||
				    (index == folio->index && !folio_whole(f, folio, head))))
			ml_violation(c, "page cache: %s index %llu: a folio of %llu pages at %llu is "
				     "unaligned, too large for the mapping or not cached whole", f->path,
				     (unsigned long long)index, (unsigned long long)nr,
				     (unsigned long long)folio->index);
		else if (index == folio->index && !f->huge_shift && index >= i_size_pages(f) &&
			 !(f->max_folio_order && (folio->flags & PG_not_uptodate)))
			ml_violation(c, "page cache: %s index %llu: a folio past the file's end (%llu "
				     "bytes): truncation drops it", f->path, (unsigned long long)index,
				     (unsigned long long)f->size);
		else if ((pfn_to_page(m, as->pfns[i])->flags & PG_dirty_block) &&
			 !(folio->flags & PG_dirty))
			ml_violation(c, "page cache: %s index %llu: a dirty block in a clean folio",
				     f->path, (unsigned long long)index);
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
