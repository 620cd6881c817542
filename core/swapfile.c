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
**
** Simplified: slots are taken next-fit from where the last search ended
** (not Linux's per-CPU clusters); the device is synchronous (a write is
** done when swap_writepage returns, like zram or a ramdisk), so no page is
** ever under writeback; no swap readahead (page-cluster, VMA-based), no
** swapoff, no swap of shmem.  No large folios in swap: reclaim splits
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

/* mkswap + swapon of a swap file of bytes: 0, or -MEMLAB_EINVAL / -ENOMEM. */
int swap_init(memlab_machine *m, uint64_t bytes)
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
	si->cluster_next = 1;
	si->prio = -2;
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

/*
** swapin: the page of slot, from the swap cache (minor), or read into a
** new page that enters the swap cache and the inactive anon list (major:
** pswpin, pgpgin).  The caller gets a reference.  -MEMLAB_ENOMEM, or
** -MEMLAB_EIO for an injected read error ("swap_read_error": SIGBUS).
*/
int swapin_folio(memlab_machine *m, uint64_t slot, uint64_t *pfn, bool *major)
{
	struct swap_info *si = m->swap;
	struct page *page = swap_page(m, slot);
	int err;

	*major = false;
	if (page) {
		page->_refcount++;
		*pfn = page_to_pfn(m, page);
		return 0;
	}
	if ((err = alloc_user_page(m, swapin_memcg(m, slot), !si->data[slot], pfn)))
		return err;
	if (should_fail(m, FI_SWAP_READ_ERROR, m->page_size, false)) {
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
	if (si->shadow[slot])		/* __read_swap_cache_async(): a refault? */
		workingset_refault(m, page, si->shadow[slot]);
	si->shadow[slot] = 0;
	si->cache[slot] = (uint32_t)*pfn;
	si->swap_map[slot] |= SWAP_HAS_CACHE;
	mod_lruvec_page_state(m, page, NR_SWAPCACHED, 1);
	mod_lruvec_page_state(m, page, NR_FILE_PAGES, 1);
	count_vm_events_page(m, page, PSWPIN, 1);
	m->vmstat[PGPGIN] += m->page_size >> 10;
	folio_add_lru(m, page);
	*major = true;
	return 0;
}

/*
** The swap device's invariants: each slot's count is the swap entries
** the page tables hold for it (swap_refs, counted by rmap_check), its
** cache bit says whether a page is in the swap cache for it, that page
** knows its slot, and inuse_pages and nr_swapcached count them.
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
	}
	if (inuse != si->inuse_pages || cached != m->vmstat[NR_SWAPCACHED])
		ml_violation(&c, "swap: %llu slots in use and %llu pages in the swap cache, counted "
			     "%llu and %llu", (unsigned long long)inuse, (unsigned long long)cached,
			     (unsigned long long)si->inuse_pages,
			     (unsigned long long)m->vmstat[NR_SWAPCACHED]);
	return c.count;
}
