/*
** swapfile.c -- the swap device and the swap cache (mm/swapfile.c,
** mm/swap_state.c, mm/page_io.c): where reclaim puts anonymous pages.
**
** One swap file (memlab.new{ swap = "512M" }), /swapfile in /proc/swaps,
** priority -2 as the first swapon gives it.  Slot 0 holds the swap header
** and is never used, so a file of N pages has N - 1 slots.  Each slot
** counts the swap entries (PTEs) that name it, with SWAP_HAS_CACHE while
** a page is in the swap cache for it.  A page enters the swap cache when
** reclaim chooses it (add_to_swap) or when a fault reads it back; it
** leaves when reclaim frees it, or when no swap entry names its slot any
** more and it is unmapped or swap is half full (free_swap_and_cache,
** folio_free_swap).  The contents of a written slot live in host memory.
** A fault reads its page with readahead (swapin_readahead): the aligned
** cluster of slots on a rotating disk, the PTEs around the address on an
** SSD (swap_ssd), the window sized by swap_state.c's hits heuristic.
**
** Simplified: slots are taken next-fit from where the last search ended
** (not Linux's per-CPU clusters); the device is synchronous (a write is
** done when swap_writepage returns, like zram or a ramdisk), so no page is
** ever under writeback; no swapoff, no swap of shmem.  No large folios in swap: reclaim splits
** one first (swpout_fallback), as Linux 6.18 does for a swap file, which
** has no large swap entries (cluster_alloc_swap_entry: !SWP_BLKDEV).
*/
#include <string.h>

#include "mm.h"

#define SWAP_COUNT(v)	((v) & ~SWAP_HAS_CACHE)

static struct page *swap_page(memlab_machine *m, uint64_t slot)
{
	uint32_t pfn = m->swap->cache[slot];

	return pfn == PFN_NONE ? NULL : pfn_to_page(m, pfn);
}

/*
** mkswap + swapon of a swap file of bytes, on an SSD (ssd) or a rotating
** disk: 0, or -MEMLAB_EINVAL / -ENOMEM.
*/
int swap_init(memlab_machine *m, uint64_t bytes, bool ssd)
{
	uint64_t nr = bytes >> m->page_shift;
	struct swap_info *si;

	if (!bytes)
		return 0;
	if ((bytes & (m->page_size - 1)) || nr < 10 || nr > (1ull << 32) - 1)
		return ml_bad_config(m, "swap: %llu bytes: a whole number of pages, at least 10 "
				     "(mkswap's 40 KiB), at most 2^32", (unsigned long long)bytes);
	si = ml_alloc(m, sizeof(*si));
	if (!si)
		return -MEMLAB_ENOMEM;
	m->swap = si;
	si->pages = nr - 1;
	si->solidstate = ssd;
	si->cluster_next = 1;
	si->prio = -2;
	si->ra_hits = 4;		/* swapin_readahead_hits' boot value */
	si->swap_map = ml_alloc(m, nr * sizeof(*si->swap_map));
	si->cache = ml_alloc(m, nr * sizeof(*si->cache));
	si->data = ml_alloc(m, nr * sizeof(*si->data));
	si->shadow = ml_alloc(m, nr * sizeof(*si->shadow));
	si->memcg_id = ml_alloc(m, nr * sizeof(*si->memcg_id));
	if (!si->swap_map || !si->cache || !si->data || !si->shadow || !si->memcg_id)
		return -MEMLAB_ENOMEM;
	for (uint64_t i = 0; i < nr; i++)
		si->cache[i] = PFN_NONE;
	return 0;
}

void swap_free_all(memlab_machine *m)
{
	struct swap_info *si = m->swap;
	uint64_t nr;

	if (!si)
		return;
	nr = si->pages + 1;
	for (uint64_t i = 0; si->data && i < nr; i++)
		ml_free(m, si->data[i], m->page_size);
	ml_free(m, si->swap_map, nr * sizeof(*si->swap_map));
	ml_free(m, si->cache, nr * sizeof(*si->cache));
	ml_free(m, si->data, nr * sizeof(*si->data));
	ml_free(m, si->shadow, nr * sizeof(*si->shadow));
	ml_free(m, si->memcg_id, nr * sizeof(*si->memcg_id));
	ml_free(m, si, sizeof(*si));
	m->swap = NULL;
}

/* get_nr_swap_pages() > 0: reclaim may take anonymous pages. */
bool swap_available(const memlab_machine *m)
{
	return m->swap && m->swap->inuse_pages < m->swap->pages;
}

/* vm_swap_full(): less than half of swap is free. */
bool vm_swap_full(const memlab_machine *m)
{
	const struct swap_info *si = m->swap;

	return si && (si->pages - si->inuse_pages) * 2 < si->pages;
}

/* A slot no entry and no page holds is free again (swap_entries_free). */
static void slot_release(memlab_machine *m, uint64_t slot)
{
	struct swap_info *si = m->swap;

	if (si->swap_map[slot])
		return;
	si->inuse_pages--;
	ml_free(m, si->data[slot], m->page_size);
	si->data[slot] = NULL;
	si->shadow[slot] = 0;
	mem_cgroup_uncharge_swap(m, si->memcg_id[slot], 1);
	si->memcg_id[slot] = 0;
}

/* A free slot, next-fit from cluster_next; 0 when swap is full. */
static uint64_t slot_alloc(struct swap_info *si)
{
	for (uint64_t n = 0; n < si->pages; n++) {
		uint64_t slot = (si->cluster_next - 1 + n) % si->pages + 1;

		if (!si->swap_map[slot]) {
			si->cluster_next = slot % si->pages + 1;
			return slot;
		}
	}
	return 0;
}

/*
** add_to_swap(): an anonymous page reclaim chose gets a slot and enters
** the swap cache (a reference of its own), dirty: the slot holds nothing
** of it yet.  -MEMLAB_ENOMEM when swap is full.
*/
int add_to_swap(memlab_machine *m, uint64_t pfn)
{
	struct swap_info *si = m->swap;
	struct page *page = pfn_to_page(m, pfn);
	uint64_t slot;
	unsigned id;

	if (!si)
		return -MEMLAB_ENOMEM;
	if (!(slot = slot_alloc(si))) {		/* folio_alloc_swap() tells the memcg */
		if (page_memcg(m, page))
			memcg_memory_event(page_memcg(m, page), MEMCG_SWAP_FAIL);
		return -MEMLAB_ENOMEM;
	}
	if (mem_cgroup_try_charge_swap(m, page, &id))	/* memory.swap.max */
		return -MEMLAB_ENOMEM;
	si->swap_map[slot] = SWAP_HAS_CACHE;
	si->inuse_pages++;
	si->cache[slot] = (uint32_t)pfn;
	si->memcg_id[slot] = id;	/* swap_cgroup_record() */
	page->swap = slot;
	page->flags |= PG_swapcache | PG_dirty;
	page->_refcount++;
	mod_lruvec_page_state(m, page, NR_SWAPCACHED, 1);
	mod_lruvec_page_state(m, page, NR_FILE_PAGES, 1);	/* the swap cache is page cache too */
	return 0;
}

/* __delete_from_swap_cache() + put_swap_folio(): the page leaves; its slot may go too. */
static void delete_from_swap_cache(memlab_machine *m, uint64_t pfn)
{
	struct swap_info *si = m->swap;
	struct page *page = pfn_to_page(m, pfn);
	uint64_t slot = page->swap;

	si->cache[slot] = PFN_NONE;
	si->swap_map[slot] &= ~SWAP_HAS_CACHE;
	slot_release(m, slot);
	page->flags &= ~PG_swapcache;
	page->swap = 0;
	mod_lruvec_page_state(m, page, NR_SWAPCACHED, -1);
	mod_lruvec_page_state(m, page, NR_FILE_PAGES, -1);
	put_page(m, pfn);	/* the swap cache's reference */
}

/*
** swap_writepage(): the page's bytes go to its slot (pswpout, and pgpgout
** in KiB as the block layer counts them); it is clean after.  An injected
** I/O error ("swap_write_error") leaves it dirty, as end_swap_bio_write
** does, and is logged as Linux logs it.  0 or -MEMLAB_EIO.
*/
int swap_writepage(memlab_machine *m, uint64_t pfn)
{
	struct swap_info *si = m->swap;
	struct page *page = pfn_to_page(m, pfn);
	uint64_t slot = page->swap;

	if (should_fail(m, FI_SWAP_WRITE_ERROR, m->page_size, false)) {
		ml_report(m, "Write-error on swap-device (0:0:%llu)",
			  (unsigned long long)(slot << (m->page_shift - 9)));
		return -MEMLAB_EIO;
	}
	if (!si->data[slot] && !(si->data[slot] = ml_alloc(m, m->page_size)))
		return -MEMLAB_ENOMEM;
	memcpy(si->data[slot], frame_ptr(m, pfn), m->page_size);
	page->flags &= ~PG_dirty;
	count_vm_events_page(m, page, PSWPOUT, 1);
	m->vmstat[PGPGOUT] += m->page_size >> 10;
	return 0;
}

/*
** __remove_mapping() for a swap-cache page reclaim has unmapped and
** written: only the cache and the reclaimer hold it, and it is clean.
*/
bool remove_swap_cache_folio(memlab_machine *m, uint64_t pfn)
{
	const struct page *page = pfn_to_page(m, pfn);

	if (page->_refcount != 2 || page->mapcount || (page->flags & PG_dirty))
		return false;
	m->swap->shadow[page->swap] = workingset_eviction(m, page);
	delete_from_swap_cache(m, pfn);
	return true;
}

/* swap_duplicate(): one more swap entry names the slot. */
void swap_duplicate(memlab_machine *m, uint64_t slot)
{
	m->swap->swap_map[slot]++;
}

/* swap_free(): one swap entry fewer. */
void swap_free(memlab_machine *m, uint64_t slot)
{
	m->swap->swap_map[slot]--;
	slot_release(m, slot);
}

/*
** folio_free_swap(): a swap-cache page whose slot no swap entry names
** leaves the cache (its slot is free) and is dirty, since no copy of it
** is left on swap: a later reclaim writes it anew.
*/
bool folio_free_swap(memlab_machine *m, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);

	if (!(page->flags & PG_swapcache) || SWAP_COUNT(m->swap->swap_map[page->swap]))
		return false;
	page->flags |= PG_dirty;	/* folio_set_dirty(); first: the cache's reference may be the last */
	delete_from_swap_cache(m, pfn);
	return true;
}

/*
** free_swap_and_cache(): a swap entry goes (zap, MADV_FREE); when it was
** the last, the page left in the swap cache goes too if no one maps it or
** swap is half full (__try_to_reclaim_swap, TTRS_UNMAPPED | TTRS_FULL).
*/
void free_swap_and_cache(memlab_machine *m, uint64_t slot)
{
	struct page *page = swap_page(m, slot);

	swap_free(m, slot);
	if (page && !SWAP_COUNT(m->swap->swap_map[slot]) &&
	    (!page->mapcount || mem_cgroup_swap_full(m, page)))
		folio_free_swap(m, page_to_pfn(m, page));
}

/*
** mem_cgroup_swapin_charge_folio()'s cgroup: the one the page was swapped
** out of, if it is still there, else the faulting task's.
*/
static struct mem_cgroup *swapin_memcg(memlab_machine *m, uint64_t slot)
{
	struct mem_cgroup *memcg = mem_cgroup_from_id(m, m->swap->memcg_id[slot]);

	return memcg && memcg->online ? memcg : get_mem_cgroup_from_mm(m, NULL);
}

/* ===================== swap-in and readahead (mm/swap_state.c) ===================== */

#define SWAP_RA_ORDER_CEILING	5	/* the largest VMA-based window: 2^5 pages */

/* swap_use_vma_readahead(): VMA-based on an SSD, cluster-based on a rotating disk. */
static bool swap_use_vma_readahead(const memlab_machine *m)
{
	return m->swap->solidstate;	/* enable_vma_readahead: always */
}

/*
** vma->swap_readahead_info (SWAP_RA_VAL): the last fault's address, its
** window in the bits of the page offset above SWAP_RA_WIN_SHIFT, the hits
** since below it.
*/
static unsigned swap_ra_shift(const memlab_machine *m)
{
	return m->page_shift / 2;	/* SWAP_RA_WIN_SHIFT */
}

static uint64_t swap_ra_val(const memlab_machine *m, uint64_t addr, unsigned win, unsigned hits)
{
	uint64_t offset = m->page_size - 1, hits_mask = (1ull << swap_ra_shift(m)) - 1;

	return (addr & ~offset) | (((uint64_t)win << swap_ra_shift(m)) & offset & ~hits_mask) |
	       (hits & hits_mask);
}

static uint64_t swap_ra_addr(const memlab_machine *m, uint64_t v)
{
	return v & ~(uint64_t)(m->page_size - 1);
}

static unsigned swap_ra_win(const memlab_machine *m, uint64_t v)
{
	return (unsigned)((v & (m->page_size - 1)) >> swap_ra_shift(m));
}

static unsigned swap_ra_hits(const memlab_machine *m, uint64_t v)
{
	return (unsigned)(v & ((1ull << swap_ra_shift(m)) - 1));
}

/* GET_SWAP_RA_VAL(): 4 hits to start a VMA with a small window. */
static uint64_t get_swap_ra_val(const struct vm_area_struct *vma)
{
	return vma->swap_readahead_info ? vma->swap_readahead_info : 4;
}

/*
** swap_update_readahead(): a fault found page in the swap cache; if
** readahead brought it (PG_readahead, cleared now) that is a hit
** (swap_ra_hit), counted for the VMA's window or the device's.
*/
static void swap_update_readahead(memlab_machine *m, struct page *page,
				  struct vm_area_struct *vma, uint64_t addr)
{
	bool readahead = page->flags & PG_readahead, vma_ra = swap_use_vma_readahead(m);

	page->flags &= ~PG_readahead;
	if (vma && vma_ra) {
		uint64_t v = get_swap_ra_val(vma);
		unsigned hits = swap_ra_hits(m, v), hits_max = (1u << swap_ra_shift(m)) - 1;

		if (readahead && hits < hits_max)
			hits++;
		vma->swap_readahead_info = swap_ra_val(m, addr, swap_ra_win(m, v), hits);
	}
	if (readahead) {
		m->vmstat[SWAP_RA_HIT]++;
		if (!vma || !vma_ra)
			m->swap->ra_hits++;
	}
}

/*
** __read_swap_cache_async() + swap_read_folio() of slot: its page from the
** swap cache (a reference taken), or, for a slot still in use, a new page
** read into the cache and this CPU's lru_add batch (pswpin, pgpgin; a
** shadow left there is a refault).  *allocated says which.  -MEMLAB_ENOENT
** for a free slot (nothing to read ahead), -MEMLAB_ENOMEM, or, for the
** faulting page (target), -MEMLAB_EIO from an injected read error
** ("swap_read_error").
*/
static int read_swap_cache_async(memlab_machine *m, uint64_t slot, bool target, uint64_t *pfn,
				 bool *allocated)
{
	struct swap_info *si = m->swap;
	struct page *page = swap_page(m, slot);
	int err;

	*allocated = false;
	if (page) {
		page->_refcount++;
		*pfn = page_to_pfn(m, page);
		return 0;
	}
	if (!SWAP_COUNT(si->swap_map[slot]))
		return -MEMLAB_ENOENT;
	if ((err = alloc_user_page(m, swapin_memcg(m, slot), !si->data[slot], pfn)))
		return err;
	if (target && should_fail(m, FI_SWAP_READ_ERROR, m->page_size, false)) {
		ml_report(m, "Read-error on swap-device (0:0:%llu)",
			  (unsigned long long)(slot << (m->page_shift - 9)));
		put_page(m, *pfn);
		return -MEMLAB_EIO;
	}
	if (si->data[slot])
		memcpy(frame_wptr(m, *pfn, 0, m->page_size), si->data[slot], m->page_size);
	page = pfn_to_page(m, *pfn);
	page->flags |= PG_swapbacked | PG_swapcache;
	page->swap = slot;
	page->_refcount++;		/* the swap cache's */
	if (si->shadow[slot])		/* a refault? */
		workingset_refault(m, page, si->shadow[slot]);
	si->shadow[slot] = 0;
	si->cache[slot] = (uint32_t)*pfn;
	si->swap_map[slot] |= SWAP_HAS_CACHE;
	mod_lruvec_page_state(m, page, NR_SWAPCACHED, 1);
	mod_lruvec_page_state(m, page, NR_FILE_PAGES, 1);
	count_vm_events_page(m, page, PSWPIN, 1);
	m->vmstat[PGPGIN] += m->page_size >> 10;
	folio_add_lru(m, page);
	*allocated = true;
	return 0;
}

/*
** One page of a readahead window: read if it must be, and marked
** PG_readahead (swap_ra) unless it is the faulting one (target).  The
** target's read error, else 0: a page that cannot be had is skipped.
*/
static int swap_ra_one(memlab_machine *m, uint64_t slot, bool target)
{
	uint64_t pfn;
	bool allocated;
	int err = read_swap_cache_async(m, slot, target, &pfn, &allocated);

	if (err)
		return err == -MEMLAB_EIO ? err : 0;
	if (allocated && !target) {
		pfn_to_page(m, pfn)->flags |= PG_readahead;
		m->vmstat[SWAP_RA]++;
	}
	put_page(m, pfn);
	return 0;
}

/*
** __swapin_nr_pages(): the window after hits readahead pages were used
** since the last one (none: 2 if this fault is next to that one, else 1;
** some: hits + 2 rounded up to a power of two, at least 4), at most
** max_pages, and shrinking no faster than by half.
*/
static unsigned __swapin_nr_pages(uint64_t prev_offset, uint64_t offset, unsigned hits,
				  unsigned max_pages, unsigned prev_win)
{
	unsigned pages = hits + 2;

	if (pages == 2) {
		if (offset != prev_offset + 1 && offset != prev_offset - 1)
			pages = 1;
	} else {
		unsigned roundup = 4;

		while (roundup < pages)
			roundup <<= 1;
		pages = roundup;
	}
	if (pages > max_pages)
		pages = max_pages;
	if (pages < prev_win / 2)
		pages = prev_win / 2;
	return pages;
}

/* swapin_nr_pages(): the device's window for a fault at offset. */
static unsigned swapin_nr_pages(memlab_machine *m, uint64_t offset)
{
	struct swap_info *si = m->swap;
	unsigned hits, pages, max_pages = 1u << m->page_cluster;

	if (max_pages <= 1)
		return 1;
	hits = si->ra_hits;
	si->ra_hits = 0;
	pages = __swapin_nr_pages(si->ra_prev_offset, offset, hits, max_pages, si->ra_last_pages);
	if (!hits)
		si->ra_prev_offset = offset;
	si->ra_last_pages = pages;
	return pages;
}

/*
** swap_cluster_readahead(): the aligned block of swapin_nr_pages() slots
** around slot (not the header), in slot order, the faulting one among
** them; then this CPU's new pages join the LRU (lru_add_drain).  The
** faulting page's read error, else 0.
*/
static int swap_cluster_readahead(memlab_machine *m, uint64_t slot)
{
	uint64_t mask = swapin_nr_pages(m, slot) - 1, start, end;
	int err = 0;

	if (!mask)
		return 0;
	start = slot & ~mask;
	end = slot | mask;
	if (!start)
		start = 1;
	if (end > m->swap->pages)	/* si->max - 1 */
		end = m->swap->pages;
	for (uint64_t s = start; s <= end && !err; s++)
		err = swap_ra_one(m, s, s == slot);
	lru_add_drain(m);
	return err;
}

/*
** swap_vma_ra_win(): the VMA's window for a fault at addr, [*start, *end)
** within the VMA and the PMD: after the last fault (forward from it, or
** back), else centred on addr.  The window's size in pages.
*/
static unsigned swap_vma_ra_win(memlab_machine *m, struct vm_area_struct *vma, uint64_t addr,
				uint64_t *start, uint64_t *end, unsigned pmd_shift)
{
	unsigned order = m->page_cluster < SWAP_RA_ORDER_CEILING ? (unsigned)m->page_cluster :
								  SWAP_RA_ORDER_CEILING;
	uint64_t v = get_swap_ra_val(vma), page = m->page_size, prev = swap_ra_addr(m, v);
	uint64_t pmd_start = addr & ~((1ull << pmd_shift) - 1), left, right;
	unsigned win;

	if (!order)
		return 1;
	win = __swapin_nr_pages(prev >> m->page_shift, addr >> m->page_shift, swap_ra_hits(m, v),
				1u << order, swap_ra_win(m, v));
	vma->swap_readahead_info = swap_ra_val(m, addr, win, 0);
	if (win == 1)
		return 1;
	if (addr == prev + page)
		left = addr;
	else if (prev == addr + page)
		left = addr - ((uint64_t)win << m->page_shift) + page;
	else
		left = addr - ((uint64_t)((win - 1) / 2) << m->page_shift);
	right = left + ((uint64_t)win << m->page_shift);
	if ((int64_t)left < 0)
		left = 0;
	*start = left > vma->vm_start ? left : vma->vm_start;
	*start = *start > pmd_start ? *start : pmd_start;
	*end = right < vma->vm_end ? right : vma->vm_end;
	*end = *end < pmd_start + (1ull << pmd_shift) ? *end : pmd_start + (1ull << pmd_shift);
	return win;
}

/*
** swap_vma_readahead(): the swap entries of the PTEs in the VMA's window
** around addr, in address order, the faulting one among them.  The
** faulting page's read error, else 0.
*/
static int swap_vma_readahead(memlab_task *t, struct vm_area_struct *vma, uint64_t addr)
{
	memlab_machine *m = t->m;
	const struct pt_format *f = &t->mm->pt;
	uint64_t start, end, slot;
	bool exclusive;
	int err = 0;

	if (swap_vma_ra_win(m, vma, addr, &start, &end, pt_level_shift(f, 1)) == 1)
		return 0;
	for (uint64_t a = start; a < end && !err; a += m->page_size) {
		struct pt_walk w;

		if (pt_walk(m, t->mm, a, &w) == -MEMLAB_EINVAL || !w.nr_levels || w.level ||
		    !pt_swap_entry(f, w.entry[w.nr_levels - 1], &slot, &exclusive) || !slot ||
		    slot > m->swap->pages)
			continue;
		err = swap_ra_one(m, slot, a == addr);
	}
	lru_add_drain(m);
	return err;
}

/* swapin_walk_pmd_entry()'s visit: a swap entry's page read into the cache. */
static int willneed_entry(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
			  uint64_t e)
{
	memlab_task *t = ud;
	uint64_t slot, pfn;
	bool exclusive, allocated;

	(void)va, (void)table, (void)idx;
	if (!level && pt_swap_entry(&t->mm->pt, e, &slot, &exclusive) && slot &&
	    slot <= t->m->swap->pages &&
	    !read_swap_cache_async(t->m, slot, false, &pfn, &allocated))
		put_page(t->m, pfn);
	return 0;
}

/*
** madvise(MADV_WILLNEED) of [start, end) of an anonymous VMA
** (madvise_willneed -> swapin_walk_ops): the page of each swap entry is
** read into the swap cache (read_swap_cache_async: not marked read ahead,
** no swap_ra), then this CPU's new pages join the LRU.
*/
void swapin_willneed(memlab_task *t, uint64_t start, uint64_t end)
{
	if (!t->m->swap)
		return;
	pt_walk_range(t->m, t->mm, start, end, willneed_entry, t);
	lru_add_drain(t->m);
}

/*
** do_swap_page()'s getting of the page of slot, which the entry at addr
** in vma names: from the swap cache (minor: a page readahead brought
** counts a hit), or read with readahead around it (swapin_readahead:
** cluster-based, or VMA-based on an SSD) -- a major fault, whether the
** window read it or it is read alone after.  The caller gets a
** reference.  -MEMLAB_ENOMEM, or -MEMLAB_EIO for an injected read error
** (SIGBUS).
*/
int swapin_readahead(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, uint64_t slot,
		     uint64_t *pfn, bool *major)
{
	memlab_machine *m = t->m;
	struct page *page = swap_page(m, slot);
	bool allocated;
	int err;

	*major = false;
	addr &= ~(uint64_t)(m->page_size - 1);
	if (page) {
		swap_update_readahead(m, page, vma, addr);
		page->_refcount++;
		*pfn = page_to_pfn(m, page);
		return 0;
	}
	err = swap_use_vma_readahead(m) ? swap_vma_readahead(t, vma, addr) :
					  swap_cluster_readahead(m, slot);
	if (!err)
		err = read_swap_cache_async(m, slot, true, pfn, &allocated);
	if (err)
		return err == -MEMLAB_ENOENT ? -MEMLAB_ENOMEM : err;
	*major = true;
	return 0;
}

/*
** The swap device's invariants: each slot's count is the swap entries
** the page tables hold for it (swap_refs, counted by rmap_check), its
** cache bit says whether a page is in the swap cache for it, that page
** knows its slot and, once mapped, is no longer marked read ahead (the
** fault that mapped it counted the hit), and inuse_pages and
** nr_swapcached count them.
*/
int swap_check(memlab_machine *m, const uint32_t *swap_refs, memlab_violation_fn fn, void *ud)
{
	struct swap_info *si = m->swap;
	struct ml_check c = { fn, ud, 0 };
	uint64_t inuse = 0, cached = 0;

	if (!si)
		return 0;
	for (uint64_t slot = 1; slot <= si->pages; slot++) {
		uint32_t v = si->swap_map[slot];
		const struct page *page = swap_page(m, slot);

		inuse += v != 0;
		if (SWAP_COUNT(v) != swap_refs[slot])
			ml_violation(&c, "swap: slot %llu counts %u swap entries, the page tables "
				     "hold %u", (unsigned long long)slot, SWAP_COUNT(v), swap_refs[slot]);
		if (!(v & SWAP_HAS_CACHE) != !page)
			ml_violation(&c, "swap: slot %llu %s the swap cache bit but %s a page",
				     (unsigned long long)slot, v & SWAP_HAS_CACHE ? "has" : "lacks",
				     page ? "has" : "has no");
		if (!page)
			continue;
		cached++;
		if (!(page->flags & PG_swapcache) || page->swap != slot ||
		    !(page->flags & PG_swapbacked) || page->_refcount <= 0)
			ml_violation(&c, "swap: the page of slot %llu (pfn %#llx) is not its swap-cache "
				     "page (flags %#x, slot %llu)", (unsigned long long)slot,
				     (unsigned long long)(page - m->mem_map), page->flags,
				     (unsigned long long)page->swap);
		if ((page->flags & PG_readahead) && page->mapcount)	/* a fault clears it first */
			ml_violation(&c, "swap: the page of slot %llu (pfn %#llx) is mapped but still "
				     "marked read ahead (PG_readahead)", (unsigned long long)slot,
				     (unsigned long long)(page - m->mem_map));
	}
	if (inuse != si->inuse_pages || cached != m->vmstat[NR_SWAPCACHED])
		ml_violation(&c, "swap: %llu slots in use and %llu pages in the swap cache, counted "
			     "%llu and %llu", (unsigned long long)inuse, (unsigned long long)cached,
			     (unsigned long long)si->inuse_pages,
			     (unsigned long long)m->vmstat[NR_SWAPCACHED]);
	return c.count;
}
