/*
** truncate.c -- ftruncate(2) of a simulated file, as ext4 does it on
** Linux 6.18: ext4_setattr()'s size change (fs/ext4/inode.c), the page
** cache cut at the new end (mm/truncate.c: truncate_pagecache,
** truncate_inode_pages_range, truncate_inode_partial_folio), the mappings
** past it zapped (mm/memory.c: unmap_mapping_range), and the block
** holding the new end zeroed (ext4_block_truncate_page).
*/
#include <string.h>

#include "mm.h"

/*
** unmap_mapping_range(mapping, holebegin, 0, 1): every VMA mapping the
** file from byte holebegin (page-aligned) on has that part zapped
** (zap_page_range_single), a private mapping's own copies too (even_cows:
** the file's pages are gone for every mapping); a PMD the range covers in
** part goes whole.
*/
static void unmap_mapping_range(struct memlab_file *f, uint64_t holebegin)
{
	uint64_t first = holebegin >> f->m->page_shift;

	for (struct list_head *l = f->i_mmap.next; l != &f->i_mmap; l = l->next) {
		struct vm_area_struct *v = list_entry(l, struct vm_area_struct, shared);
		uint64_t pages = (v->vm_end - v->vm_start) >> f->m->page_shift, start;
		struct mmu_gather tlb;

		if (v->vm_pgoff + pages <= first)
			continue;
		start = v->vm_pgoff >= first ? v->vm_start
			: v->vm_start + ((first - v->vm_pgoff) << f->m->page_shift);
		tlb_gather_mmu(&tlb, v->vm_mm->owner, false);
		zap_page_range(&tlb, v, start, v->vm_end);
		tlb_finish_mmu(&tlb);
	}
}

/*
** truncate_inode_folio(): the folio leaves the cache -- unmapped first
** where something still maps it (truncate_cleanup_folio), its dirt
** cancelled, no workingset shadow left.
*/
static void truncate_inode_folio(struct memlab_file *f, struct page *folio)
{
	memlab_machine *m = f->m;

	if (folio_mapcount(folio))
		try_to_unmap(m, page_to_pfn(m, folio), TTU_IGNORE_MLOCK);
	filemap_delete_folio(f, folio);
}

/*
** truncate_inode_partial_folio() of the folio at head, which holds byte
** lstart, the new end, past its start: its part from there is zeroed, its
** blocks there discarded (folio_invalidate); a large one is split at the
** page holding lstart (folio_split: the parts past the end leave the
** cache).  When it does not split, it is unmapped whole, so that faults
** map it again by PTEs (6.18's try_folio_split_or_unmap), and a clean one
** leaves the cache, to be read again; false for a dirty one, which stays
** whole.
*/
static bool truncate_inode_partial_folio(struct memlab_file *f, uint64_t head, uint64_t lstart)
{
	memlab_machine *m = f->m;
	struct page *folio = pfn_to_page(m, head);
	uint64_t nr = folio_nr_pages(folio), pos = folio->index << m->page_shift;
	uint64_t offset = lstart - pos;

	folio_zero_range(m, head, offset, nr << m->page_shift);
	if (nr == 1)
		return true;
	/* folio_invalidate(): the blocks wholly past the end are discarded, clean */
	for (uint64_t k = (offset + m->page_size - 1) >> m->page_shift; k < nr; k++)
		folio[k].flags &= ~PG_dirty_block;
	if (folio_split(m, head, offset >> m->page_shift))
		return true;
	try_to_unmap(m, head, TTU_IGNORE_MLOCK);
	if (folio->flags & PG_dirty)
		return false;
	truncate_inode_folio(f, folio);
	return true;
}

/*
** Every folio wholly within [start, end) leaves the cache: the passes of
** truncate_inode_pages_range() (find_lock_entries' folios, then
** find_get_entries' after the partial folio).  A deletion may shift
** another entry of the hash behind the scan: passes repeat until one
** drops nothing.  Returns how many went.
*/
static unsigned truncate_folios(struct memlab_file *f, uint64_t start, uint64_t end)
{
	struct address_space *as = &f->i_pages;
	unsigned gone = 0, pass;

	do {
		pass = 0;
		for (uint64_t i = 0; i < as->cap;) {
			uint64_t index = as->keys[i] - 1;
			struct page *folio;

			if (!as->keys[i] || index < start || index >= end) {
				i++;
				continue;
			}
			folio = pfn_folio(f->m, as->pfns[i]);
			if (folio->index < start || folio->index + folio_nr_pages(folio) > end) {
				i++;
				continue;
			}
			truncate_inode_folio(f, folio);	/* may shift another entry into i */
			pass++;
		}
		gone += pass;
	} while (pass);
	return gone;
}

/*
** truncate_inode_pages(mapping, lstart): the folios wholly past lstart go
** (find_lock_entries), and the workingset shadows there; the folio
** holding lstart is cut (truncate_inode_partial_folio), and what its
** split left past the end goes too -- unless it stayed whole, dirty.
*/
static void truncate_inode_pages(struct memlab_file *f, uint64_t lstart)
{
	memlab_machine *m = f->m;
	uint64_t start = (lstart + m->page_size - 1) >> m->page_shift, end = UINT64_MAX;
	uint64_t pfn;
	unsigned gone = truncate_folios(f, start, end);

	clear_shadow_entries(f, start, end);
	pfn = filemap_lookup(f, lstart >> m->page_shift);
	if (pfn != PFN_NONE) {
		uint64_t head = folio_pfn(m, pfn);
		struct page *folio = pfn_to_page(m, head);

		/* it starts before lstart: a folio from there on went above */
		folio->_refcount++;	/* __filemap_get_folio(FGP_LOCK) */
		if (!truncate_inode_partial_folio(f, head, lstart)) {
			start = folio->index + folio_nr_pages(folio);
			end = folio->index;
		}
		put_page(m, head);
	}
	if (start < end)
		gone += truncate_folios(f, start, end);
	if (gone)
		lru_add_drain(m);	/* folio_batch_release() */
}

/*
** ext4_block_truncate_page(): the block holding byte from, from there to
** its end, zeroed in the page cache (__ext4_block_zero_page_range): the
** page is found or made (FGP_CREAT: a new one is not up to date, its
** block read alone) and marked accessed; a hole -- no block on the disk,
** none dirty in the cache to get one (buffer_mapped) -- is left as it
** is.  data=ordered (large folios) dirties the block's buffer
** (mark_buffer_dirty: a PG_readahead mark stays); data=journal the folio,
** for its writeback to journal it (ext4_dirty_journalled_data: the mark
** goes).  The disk's copy past the end is disk_truncate's.  Without a
** frame for the page, nothing: 6.18's callers ignore the error.
*/
static void ext4_block_truncate_page(struct memlab_file *f, uint64_t from)
{
	memlab_machine *m = f->m;
	uint64_t index = from >> m->page_shift, pfn = filemap_lookup(f, index), head;
	uint64_t end = (from | (FS_BLOCK - 1)) + 1;
	struct page *folio;

	if (pfn == PFN_NONE) {
		if (filemap_add_page(f, index, &pfn, false, false))
			return;
		folio = pfn_to_page(m, pfn);
		folio->flags = (folio->flags | PG_not_uptodate) & ~PG_mappedtodisk;
	}
	head = folio_pfn(m, pfn);
	folio = pfn_to_page(m, head);
	folio_mark_accessed(m, folio);
	if (!disk_mapped(f, index) && !(pfn_to_page(m, pfn)->flags & PG_dirty_block))
		return;		/* "unmapped? It's a hole - nothing to do" */
	folio_zero_range(m, head, from - (folio->index << m->page_shift),
			 end - (folio->index << m->page_shift));
	if (f->max_folio_order)		/* mark_buffer_dirty() */
		folio_mark_blocks_dirty(m, folio, index - folio->index, 1);
	else				/* ext4_dirty_journalled_data() */
		folio_mark_dirty(m, folio);
}

/*
** pagecache_isize_extended(): growing from inside a page of several blocks
** (16K or 64K pages; ext4's are 4K) makes a hole block of the page's rest:
** its mappings are made clean and read-only, so that a write faults
** (page_mkwrite) and the block gets allocated, the folio kept dirty if they
** were not; a dirty folio's bytes past the old end are zeroed -- writeback
** would have done it, but the end moved past them.
*/
static void pagecache_isize_extended(struct memlab_file *f, uint64_t from, uint64_t to)
{
	memlab_machine *m = f->m;
	uint64_t rounded = (from + FS_BLOCK - 1) & ~(FS_BLOCK - 1), pfn, head, pos;
	struct page *folio;
	int cleaned = 0;

	if (from >= to || FS_BLOCK >= m->page_size || to <= rounded ||
	    !(rounded & (m->page_size - 1)))
		return;
	pfn = filemap_lookup(f, from >> m->page_shift);
	if (pfn == PFN_NONE)
		return;
	head = folio_pfn(m, pfn);
	folio = pfn_to_page(m, head);
	for (uint64_t k = 0; k < folio_nr_pages(folio); k++)
		cleaned += folio_mkclean(m, head + k);
	if (cleaned)
		folio_mark_dirty(m, folio);
	if (!(folio->flags & PG_dirty))
		return;
	pos = folio->index << m->page_shift;
	folio_zero_range(m, head, from - pos, to - pos < folio_nr_pages(folio) << m->page_shift
			 ? to - pos : folio_nr_pages(folio) << m->page_shift);
}

/*
** ext4_setattr()'s size change: growing from an end inside a block zeroes
** that block's rest first ("tail zero the EOF folio on truncate up");
** then i_size is set (pagecache_isize_extended when it grew), the
** mappings past the new end go, the page cache is cut there and the
** mappings zapped again (truncate_pagecache), and shrinking -- or not
** changing -- the size frees the blocks past it and zeroes the rest of
** the one holding it (ext4_truncate).
*/
static void ext4_setattr_size(struct memlab_file *f, uint64_t size)
{
	uint64_t page = f->m->page_size, old = f->size, holebegin = (size + page - 1) & ~(page - 1);

	if (size > old && (old & (FS_BLOCK - 1))) {
		ext4_block_truncate_page(f, old);
		disk_truncate(f, old);
	}
	f->size = size;
	if (size > old)
		pagecache_isize_extended(f, old, size);
	unmap_mapping_range(f, holebegin);
	truncate_inode_pages(f, size);
	unmap_mapping_range(f, holebegin);
	if (size <= old) {
		if (size & (FS_BLOCK - 1))
			ext4_block_truncate_page(f, size);
		disk_truncate(f, size);
	}
}

/*
** ext4_truncate_failed_write(): a write whose copy faulted short past the
** file's end leaves nothing cached past it (truncate_inode_pages) and
** frees what it took (ext4_truncate).
*/
void ext4_truncate_failed_write(struct memlab_file *f)
{
	truncate_inode_pages(f, f->size);
	if (f->size & (FS_BLOCK - 1))
		ext4_block_truncate_page(f, f->size);
	disk_truncate(f, f->size);
}

int memlab_file_truncate(memlab_file *f, int64_t length)
{
	memlab_machine *m = f->m;

	if (length < 0)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (!f->writable || f->shmem || f->huge_shift)	/* do_ftruncate(): !FMODE_WRITE */
		return -MEMLAB_EINVAL;
	if ((uint64_t)length > EXT4_MAXBYTES)		/* inode_newsize_ok() */
		return -MEMLAB_EFBIG;
	ext4_setattr_size(f, (uint64_t)length);
	background_run(m);
	return 0;
}
