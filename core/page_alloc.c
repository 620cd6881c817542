/*
** page_alloc.c -- zones and the buddy page allocator, as Linux's
** mm/page_alloc.c does it (6.12's, with 6.18's per-CPU list threshold
** for freeing high orders, 6.18's fallbacks and watermark boosting, and
** the OOM killer where 6.18 runs it).
**
** Free memory is kept in blocks of 2^order frames, order 0..max_order,
** on per-zone, per-order, per-migratetype lists.  A block's buddy is the
** block of the same order it was split from: buddy_pfn = pfn ^ (1 << order).
** Allocation takes the smallest block that fits and splits it (expand);
** freeing merges a block with its free buddy as long as it can
** (__free_one_page).  The lists of a free block always match the
** migratetype of its pageblock (Linux 6.10+ freelist hygiene).
**
** Orders 0..3 and THPs pass through per-CPU page lists first, the
** pageset of the CPU the current task runs on (rmqueue_pcplist /
** free_unref_page): pages there are neither in the buddy lists nor in
** NR_FREE_PAGES, and another CPU's allocations do not see them until a
** drain gives them back.
**
** A request whose lists are empty falls back as 6.18's does: it claims
** a pageblock of another type (__rmqueue_claim), largest free block
** first, else steals the smallest block it can (__rmqueue_steal).  A try
** to claim from a block smaller than a pageblock boosts the zone's
** watermarks (boost_watermark) and wakes kswapd to reclaim the boost, so
** that later fallbacks are rarer.
**
** What is not modelled yet: decay_pcp_high (run by Linux's periodic
** vmstat update), memory isolation.  kswapd and
** direct reclaim are vmscan.c's, compaction compaction.c's, the OOM
** killer oom_kill.c's.
*/
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mm.h"

/* alloc_flags (mm/internal.h) */
#define ALLOC_WMARK_MIN		WMARK_MIN
#define ALLOC_WMARK_LOW		WMARK_LOW
#define ALLOC_WMARK_HIGH	WMARK_HIGH
#define ALLOC_NO_WATERMARKS	0x04
#define ALLOC_WMARK_MASK	(ALLOC_NO_WATERMARKS - 1)
#define ALLOC_OOM		0x08
#define ALLOC_NON_BLOCK		0x10
#define ALLOC_MIN_RESERVE	0x20
#define ALLOC_NOFRAGMENT	0x100
#define ALLOC_HIGHATOMIC	0x200
#define ALLOC_KSWAPD		0x800
#define ALLOC_RESERVES	(ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM)

#define GFP_ZONEMASK	(MEMLAB___GFP_DMA | MEMLAB___GFP_HIGHMEM | MEMLAB___GFP_DMA32 | MEMLAB___GFP_MOVABLE)
#define GFP_MOVABLE_MASK (MEMLAB___GFP_RECLAIMABLE | MEMLAB___GFP_MOVABLE)
#define GFP_KNOWN_MASK	0x7fffffu

static const char *const zone_names[MAX_NR_ZONES] = {
	"DMA", "DMA32", "Normal", "Movable", "Device"
};

/* sysctl_lowmem_reserve_ratio defaults (mm/page_alloc.c) */
static const int default_lowmem_reserve_ratio[MAX_NR_ZONES] = { 256, 256, 32, 0, 0 };

/* Linux's fallbacks[] table: whom each migratetype may steal from, in order. */
static const int fallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1] = {
	[MIGRATE_UNMOVABLE]   = { MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE },
	[MIGRATE_MOVABLE]     = { MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE },
	[MIGRATE_RECLAIMABLE] = { MIGRATE_UNMOVABLE, MIGRATE_MOVABLE },
};

/* how far __rmqueue had to go (6.18; no CMA here) */
enum rmqueue_mode {
	RMQUEUE_NORMAL,
	RMQUEUE_CLAIM,
	RMQUEUE_STEAL,
};

struct alloc_context {
	int highest_zoneidx;
	int migratetype;
	int preferred_zone;		/* first populated zone at or below highest */
	uint32_t gfp;
};

static inline uint64_t pageblock_nr_pages(const memlab_machine *m)
{
	return 1ull << m->pageblock_order;
}

/* mult_frac(): x * n / d without overflowing x * n. */
static uint64_t mult_frac(uint64_t x, uint64_t n, uint64_t d)
{
	return (x / d) * n + ((x % d) * n) / d;
}

static inline uint64_t pageblock_start_pfn(const memlab_machine *m, uint64_t pfn)
{
	return pfn & ~(pageblock_nr_pages(m) - 1);
}

static inline bool migratetype_is_mergeable(int mt)
{
	return mt < MIGRATE_PCPTYPES;
}

int get_pfnblock_migratetype(const memlab_machine *m, uint64_t pfn)
{
	return m->pageblock_mt[pfn >> m->pageblock_order];
}

static void set_pageblock_migratetype(memlab_machine *m, uint64_t pfn, int mt)
{
	m->pageblock_mt[pfn >> m->pageblock_order] = (uint8_t)mt;
}

/* Set every pageblock of a block of 2^order >= pageblock_order frames. */
static void change_pageblock_range(memlab_machine *m, uint64_t pfn,
				   unsigned order, int mt)
{
	uint64_t nr = 1ull << (order - m->pageblock_order);

	for (uint64_t i = 0; i < nr; i++)
		set_pageblock_migratetype(m, pfn + (i << m->pageblock_order), mt);
}

struct zone *page_zone(memlab_machine *m, uint64_t pfn)
{
	for (int i = 0; i < m->nr_zones; i++) {
		struct zone *z = &m->zones[i];

		if (pfn >= z->zone_start_pfn && pfn < zone_end_pfn(z))
			return z;
	}
	return NULL;
}

static inline bool zone_spans_pfn(const struct zone *z, uint64_t pfn)
{
	return pfn >= z->zone_start_pfn && pfn < zone_end_pfn(z);
}

/* ===================== free lists ===================== */

static inline bool PageBuddy(const struct page *p)
{
	return p->flags & PG_buddy;
}

static inline unsigned buddy_order(const struct page *p)
{
	return p->private;
}

/* NR_FREE_PAGES and the HighAtomic count; isolated pages are not free. */
static void account_freepages(memlab_machine *m, struct zone *z, int64_t nr, int mt)
{
	if (mt == MIGRATE_ISOLATE)
		return;
	z->nr_free_pages += nr;
	m->vmstat[NR_FREE_PAGES] += nr;
	if (mt == MIGRATE_HIGHATOMIC)
		z->nr_free_highatomic += nr;
}

static void account_blocks(memlab_machine *m, struct zone *z, unsigned order,
			   int mt, int64_t sign)
{
	if (order >= m->pageblock_order && mt != MIGRATE_ISOLATE) {
		z->nr_free_pages_blocks += sign * (1ll << order);
		m->vmstat[NR_FREE_PAGES_BLOCKS] += sign * (1ll << order);
	}
}

/*
** The lists of pages linked by pfn (free, pcp, LRU) check their links as
** Linux's CONFIG_DEBUG_LIST does (lib/list_debug.c), and, as on the
** reference host (CONFIG_BUG_ON_DATA_CORRUPTION), a corrupted link is a
** kernel BUG: the report names pfns where Linux prints addresses, and the
** machine stops (ml_bug) before the corruption spreads: from then on the
** lists no longer change.  A deleted entry's links are poisoned, as
** list_del() leaves them.
*/

/* What a link names, for a report: "pfn:0x..", or what stands in for one. */
static const char *link_name(char *buf, size_t size, uint32_t pfn)
{
	if (pfn == PFN_NONE)
		return "the list head";
	if (pfn == PFN_POISON1 || pfn == PFN_POISON2)
		return pfn == PFN_POISON1 ? "LIST_POISON1" : "LIST_POISON2";
	snprintf(buf, size, "pfn:%#x", pfn);
	return buf;
}

/* The link that should point at pfn from a neighbour (or the list's end); PFN_NONE outside RAM. */
static uint32_t pfn_list_back(memlab_machine *m, uint32_t nb, uint32_t end, bool next_side)
{
	if (nb == PFN_NONE)
		return end;
	if (nb >= m->nr_frames)
		return PFN_NONE;
	return next_side ? pfn_to_page(m, nb)->lru_prev : pfn_to_page(m, nb)->lru_next;
}

/* __list_add_valid_or_report(): pfn goes between prev and next. */
static bool pfn_list_add_valid(memlab_machine *m, struct free_list *list, uint32_t pfn,
			       uint32_t prev, uint32_t next)
{
	char a[32], b[32];

	if (next != PFN_NONE && pfn_list_back(m, next, list->tail, true) != prev) {
		ml_bug(m, "lib/list_debug.c:29",
		       "list_add corruption. next->prev should be prev (%s), but was %s. (next=pfn:%#x).",
		       link_name(a, sizeof(a), prev),
		       link_name(b, sizeof(b), pfn_list_back(m, next, list->tail, true)), next);
		return false;
	}
	if (prev != PFN_NONE && pfn_list_back(m, prev, list->head, false) != next) {
		ml_bug(m, "lib/list_debug.c:32",
		       "list_add corruption. prev->next should be next (%s), but was %s. (prev=pfn:%#x).",
		       link_name(a, sizeof(a), next),
		       link_name(b, sizeof(b), pfn_list_back(m, prev, list->head, false)), prev);
		return false;
	}
	if (pfn == prev || pfn == next) {
		ml_bug(m, "lib/list_debug.c:35",
		       "list_add double add: new=pfn:%#x, prev=%s, next=%s.", pfn,
		       link_name(a, sizeof(a), prev), link_name(b, sizeof(b), next));
		return false;
	}
	return true;
}

/* list_add() / list_add_tail() on a pfn-linked list (free, pcp or LRU). */
void pfn_list_add(memlab_machine *m, struct free_list *list, uint64_t pfn, bool tail)
{
	pfn_list_add_before(m, list, pfn, tail ? PFN_NONE : list->head);
}

/* list_add_tail(new, entry): pfn just before next on the list (PFN_NONE: at its tail). */
void pfn_list_add_before(memlab_machine *m, struct free_list *list, uint64_t pfn, uint32_t next)
{
	struct page *page = pfn_to_page(m, pfn);
	uint32_t prev = next == PFN_NONE ? list->tail :
			next == list->head ? PFN_NONE : pfn_to_page(m, next)->lru_prev;

	if (m->dead || !pfn_list_add_valid(m, list, (uint32_t)pfn, prev, next))
		return;
	page->lru_prev = prev;
	page->lru_next = next;
	if (prev != PFN_NONE)
		pfn_to_page(m, prev)->lru_next = (uint32_t)pfn;
	else
		list->head = (uint32_t)pfn;
	if (next != PFN_NONE)
		pfn_to_page(m, next)->lru_prev = (uint32_t)pfn;
	else
		list->tail = (uint32_t)pfn;
}

/* __list_del_entry_valid_or_report() */
static bool pfn_list_del_valid(memlab_machine *m, struct free_list *list, uint32_t pfn)
{
	const struct page *page = pfn_to_page(m, pfn);
	uint32_t prev = page->lru_prev, next = page->lru_next, was;
	char a[32], b[32];

	if (next == PFN_POISON1 || prev == PFN_POISON2) {
		ml_bug(m, next == PFN_POISON1 ? "lib/list_debug.c:56" : "lib/list_debug.c:59",
		       "list_del corruption, pfn:%#x->%s is LIST_POISON%d", pfn,
		       next == PFN_POISON1 ? "next" : "prev", next == PFN_POISON1 ? 1 : 2);
		return false;
	}
	if ((was = pfn_list_back(m, prev, list->head, false)) != pfn) {
		ml_bug(m, "lib/list_debug.c:62",
		       "list_del corruption. prev->next should be pfn:%#x, but was %s. (prev=%s)",
		       pfn, link_name(b, sizeof(b), was), link_name(a, sizeof(a), prev));
		return false;
	}
	if ((was = pfn_list_back(m, next, list->tail, true)) != pfn) {
		ml_bug(m, "lib/list_debug.c:65",
		       "list_del corruption. next->prev should be pfn:%#x, but was %s. (next=%s)",
		       pfn, link_name(b, sizeof(b), was), link_name(a, sizeof(a), next));
		return false;
	}
	return true;
}

/* list_del() on a pfn-linked list: the links are poisoned. */
void pfn_list_del(memlab_machine *m, struct free_list *list, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);
	uint32_t prev = page->lru_prev, next = page->lru_next;

	if (m->dead || !pfn_list_del_valid(m, list, (uint32_t)pfn))
		return;
	if (prev != PFN_NONE)
		pfn_to_page(m, prev)->lru_next = next;
	else
		list->head = next;
	if (next != PFN_NONE)
		pfn_to_page(m, next)->lru_prev = prev;
	else
		list->tail = prev;
	page->lru_next = PFN_POISON1;
	page->lru_prev = PFN_POISON2;
}

static void __add_to_free_list(memlab_machine *m, struct zone *z, uint64_t pfn,
			       unsigned order, int mt, bool tail)
{
	struct free_area *area = &z->free_area[order];
	struct page *page = pfn_to_page(m, pfn);

	page->flags |= PG_buddy;
	page->private = order;
	pfn_list_add(m, &area->free_list[mt], pfn, tail);
	area->nr_free++;
	area->nr_free_mt[mt]++;
	account_blocks(m, z, order, mt, 1);
}

static void __del_page_from_free_list(memlab_machine *m, struct zone *z,
				      uint64_t pfn, unsigned order, int mt)
{
	struct free_area *area = &z->free_area[order];
	struct page *page = pfn_to_page(m, pfn);

	pfn_list_del(m, &area->free_list[mt], pfn);
	page->flags &= ~PG_buddy;
	page->private = 0;
	area->nr_free--;
	area->nr_free_mt[mt]--;
	account_blocks(m, z, order, mt, -1);
}

static void del_page_from_free_list(memlab_machine *m, struct zone *z,
				    uint64_t pfn, unsigned order, int mt)
{
	__del_page_from_free_list(m, z, pfn, order, mt);
	account_freepages(m, z, -(1ll << order), mt);
}

/* move_to_free_list(): to the tail of another type's list. */
static void move_to_free_list(memlab_machine *m, struct zone *z, uint64_t pfn,
			      unsigned order, int old_mt, int new_mt)
{
	__del_page_from_free_list(m, z, pfn, order, old_mt);
	__add_to_free_list(m, z, pfn, order, new_mt, true);
	account_freepages(m, z, -(1ll << order), old_mt);
	account_freepages(m, z, 1ll << order, new_mt);
}

static inline uint32_t free_list_first(const struct zone *z, unsigned order, int mt)
{
	return z->free_area[order].free_list[mt].head;
}

static inline bool free_area_empty(const struct free_area *area, int mt)
{
	return area->free_list[mt].head == PFN_NONE;
}

/* ===================== freeing: __free_one_page ===================== */

/*
** page_is_buddy(): the block at buddy_pfn is free, whole at this order and
** in the same zone, so the two may merge.
*/
static bool page_is_buddy(memlab_machine *m, const struct zone *z,
			  uint64_t buddy_pfn, unsigned order)
{
	const struct page *buddy;

	if (buddy_pfn >= m->nr_frames)
		return false;
	buddy = pfn_to_page(m, buddy_pfn);
	return PageBuddy(buddy) && buddy_order(buddy) == order &&
	       zone_spans_pfn(z, buddy_pfn);
}

/*
** buddy_merge_likely(): if the buddy of the merged block's parent is free,
** the block will probably merge further soon; Linux then queues it at the
** tail so that it is not allocated (and split) first.
*/
static bool buddy_merge_likely(memlab_machine *m, const struct zone *z,
			       uint64_t pfn, uint64_t buddy_pfn, unsigned order)
{
	uint64_t higher_pfn;

	if (order >= m->max_order - 1)
		return false;
	higher_pfn = buddy_pfn & pfn;
	return page_is_buddy(m, z, higher_pfn ^ (1ull << (order + 1)), order + 1);
}

/*
** __free_one_page(): put 2^order frames at pfn back, merging with free
** buddies up to max_order.  Above pageblock_order, blocks of unmergeable
** types (HighAtomic, Isolate) do not merge with others.  to_tail forces
** the tail of the list (FPI_TO_TAIL, used for the boot-time free).
*/
static void __free_one_page(memlab_machine *m, struct zone *z, uint64_t pfn,
			    unsigned order, int mt, bool to_tail)
{
	uint64_t buddy_pfn = pfn;

	account_freepages(m, z, 1ll << order, mt);
	while (order < m->max_order) {
		int buddy_mt = mt;

		buddy_pfn = pfn ^ (1ull << order);
		if (!page_is_buddy(m, z, buddy_pfn, order))
			break;
		if (order >= m->pageblock_order) {
			buddy_mt = get_pfnblock_migratetype(m, buddy_pfn);
			if (mt != buddy_mt && (!migratetype_is_mergeable(mt) ||
					       !migratetype_is_mergeable(buddy_mt)))
				break;
		}
		__del_page_from_free_list(m, z, buddy_pfn, order, buddy_mt);
		/* Linux resets only the buddy's first pageblock; all of them
		 * keeps the free lists and pageblock types in agreement */
		if (buddy_mt != mt)
			change_pageblock_range(m, buddy_pfn, order, mt);
		pfn &= buddy_pfn;
		order++;
	}
	if (!to_tail)
		to_tail = buddy_merge_likely(m, z, pfn, buddy_pfn, order);
	__add_to_free_list(m, z, pfn, order, mt, to_tail);
}

/* ===================== allocation: __rmqueue ===================== */

/*
** expand(): the low half of each split is kept, the high halves go on the
** free lists of the lower orders (at their heads).  Returns pages added.
*/
static uint64_t expand(memlab_machine *m, struct zone *z, uint64_t pfn,
		       unsigned low, unsigned high, int mt)
{
	uint64_t nr_added = 0;

	while (high > low) {
		high--;
		__add_to_free_list(m, z, pfn + (1ull << high), high, mt, false);
		nr_added += 1ull << high;
	}
	return nr_added;
}

static void page_del_and_expand(memlab_machine *m, struct zone *z, uint64_t pfn,
				unsigned low, unsigned high, int mt)
{
	uint64_t nr_pages = 1ull << high;

	__del_page_from_free_list(m, z, pfn, high, mt);
	nr_pages -= expand(m, z, pfn, low, high, mt);
	account_freepages(m, z, -(int64_t)nr_pages, mt);
}

/* pcp_allowed_order(): orders 0..3, and THPs (HPAGE_PMD_ORDER == pageblock_order). */
static inline bool pcp_allowed_order(const memlab_machine *m, unsigned order)
{
	return order <= PAGE_ALLOC_COSTLY_ORDER || order == m->pageblock_order;
}

/* __rmqueue_smallest(): the first block of the smallest order that fits. */
static uint64_t __rmqueue_smallest(memlab_machine *m, struct zone *z,
				   unsigned order, int mt)
{
	for (unsigned o = order; o <= m->max_order; o++) {
		uint32_t pfn = free_list_first(z, o, mt);

		if (pfn == PFN_NONE)
			continue;
		page_del_and_expand(m, z, pfn, order, o, mt);
		trace(m, TP_MM_PAGE_ALLOC_ZONE_LOCKED, pfn, order, (uint64_t)mt,
		      pcp_allowed_order(m, order) && mt < MIGRATE_PCPTYPES);
		return pfn;
	}
	return PFN_NONE;
}

/*
** should_try_claim_block(): whether a fallback should try to claim the
** whole pageblock rather than steal a block from it: large blocks,
** unmovable and reclaimable requests (they would pollute it anyway), or
** no grouping by mobility.  A small movable request only steals: it
** fragments nothing for good, compaction can still move it.
*/
static bool should_try_claim_block(const memlab_machine *m, unsigned order, int start_mt)
{
	if (order >= m->pageblock_order)
		return true;
	return order >= m->pageblock_order / 2 ||
	       start_mt == MIGRATE_RECLAIMABLE || start_mt == MIGRATE_UNMOVABLE ||
	       m->mobility_disabled;
}

/*
** find_suitable_fallback(): the first fallback type with a free block of
** this order; -1: none.  With claimable, -2 when the order is too small
** to claim a pageblock with.
*/
static int find_suitable_fallback(const memlab_machine *m, const struct free_area *area,
				  unsigned order, int mt, bool claimable)
{
	if (claimable && !should_try_claim_block(m, order, mt))
		return -2;
	if (area->nr_free == 0)
		return -1;
	for (int i = 0; i < MIGRATE_PCPTYPES - 1; i++) {
		int fallback_mt = fallbacks[mt][i];

		if (!free_area_empty(area, fallback_mt))
			return fallback_mt;
	}
	return -1;
}

/*
** prep_move_freepages_block(): count free and movable frames of pfn's
** pageblock; false when the pageblock straddles the zone's edge.  Nothing
** is on an LRU list yet, so no allocated frame counts as movable.
*/
static bool prep_move_freepages_block(memlab_machine *m, struct zone *z, uint64_t pfn,
				      uint64_t *start_pfn, uint64_t *num_free,
				      uint64_t *num_movable)
{
	uint64_t start = pageblock_start_pfn(m, pfn);
	uint64_t end = start + pageblock_nr_pages(m);

	if (!zone_spans_pfn(z, start) || !zone_spans_pfn(z, end - 1))
		return false;
	*start_pfn = start;
	*num_free = *num_movable = 0;
	for (pfn = start; pfn < end;) {
		const struct page *page = pfn_to_page(m, pfn);

		if (PageBuddy(page)) {
			*num_free += 1ull << buddy_order(page);
			pfn += 1ull << buddy_order(page);
			continue;
		}
		pfn++;
	}
	return true;
}

/* __move_freepages_block(): every free block of the pageblock to new_mt. */
static uint64_t __move_freepages_block(memlab_machine *m, struct zone *z,
				       uint64_t start_pfn, int old_mt, int new_mt)
{
	uint64_t end = start_pfn + pageblock_nr_pages(m), moved = 0;

	for (uint64_t pfn = start_pfn; pfn < end;) {
		const struct page *page = pfn_to_page(m, pfn);
		unsigned order;

		if (!PageBuddy(page)) {
			pfn++;
			continue;
		}
		order = buddy_order(page);
		move_to_free_list(m, z, pfn, order, old_mt, new_mt);
		pfn += 1ull << order;
		moved += 1ull << order;
	}
	set_pageblock_migratetype(m, start_pfn, new_mt);
	return moved;
}

/* move_freepages_block(): -1 when the pageblock straddles the zone's edge. */
static int64_t move_freepages_block(memlab_machine *m, struct zone *z, uint64_t pfn,
				    int old_mt, int new_mt)
{
	uint64_t start_pfn, num_free, num_movable;

	if (!prep_move_freepages_block(m, z, pfn, &start_pfn, &num_free, &num_movable))
		return -1;
	return (int64_t)__move_freepages_block(m, z, start_pfn, old_mt, new_mt);
}

/*
** zone_max_boost(): how far boost_watermark may raise the zone's marks
** under factor (in 1/10000 of the high watermark, at least a pageblock);
** false when it would not boost at all: factor 0, a zone smaller than
** four pageblocks (boosting there could cause an OOM at once), or a high
** watermark not set up yet.
*/
static bool zone_max_boost(const memlab_machine *m, const struct zone *z, int factor,
			   uint64_t *max_boost)
{
	if (!factor || pageblock_nr_pages(m) * 4 > z->managed_pages)
		return false;
	*max_boost = mult_frac(z->_watermark[WMARK_HIGH], (uint64_t)factor, 10000);
	if (!*max_boost)
		return false;
	if (*max_boost < pageblock_nr_pages(m))
		*max_boost = pageblock_nr_pages(m);
	return true;
}

/*
** boost_watermark(): a fallback polluted (or tried to claim) another
** type's pageblock; raise the zone's watermarks by a pageblock, up to
** max_boost, so that kswapd reclaims ahead of the next fallbacks.
*/
static bool boost_watermark(memlab_machine *m, struct zone *z)
{
	uint64_t max_boost;

	if (!zone_max_boost(m, z, m->watermark_boost_factor, &max_boost))
		return false;
	z->watermark_boost += pageblock_nr_pages(m);
	if (z->watermark_boost > max_boost)
		z->watermark_boost = max_boost;
	z->boost_factor = m->watermark_boost_factor;
	return true;
}

/*
** try_to_claim_block(): a block of pageblock size or more is claimed
** outright.  A smaller one boosts the watermarks first (the fallback
** pollutes, or would, another type's pageblock; the boost wakes kswapd at
** the end of this allocation, rmqueue, as the node may be balanced and
** kswapd would not wake by itself), then claims its whole pageblock when
** at least half of it is free or compatible with the allocation.
** PFN_NONE: not claimed (the boost stays).
*/
static uint64_t try_to_claim_block(memlab_machine *m, struct zone *z, uint64_t pfn,
				   unsigned current_order, unsigned order, int start_mt,
				   int block_type, unsigned alloc_flags)
{
	uint64_t start_pfn, free_pages, movable_pages, alike_pages;

	if (current_order >= m->pageblock_order) {
		uint64_t nr_added;

		del_page_from_free_list(m, z, pfn, current_order, block_type);
		change_pageblock_range(m, pfn, current_order, start_mt);
		nr_added = expand(m, z, pfn, order, current_order, start_mt);
		account_freepages(m, z, (int64_t)nr_added, start_mt);
		return pfn;
	}
	if (boost_watermark(m, z) && (alloc_flags & ALLOC_KSWAPD))
		z->flags |= ZONE_BOOSTED_WATERMARK;
	if (!prep_move_freepages_block(m, z, pfn, &start_pfn, &free_pages, &movable_pages))
		return PFN_NONE;
	if (start_mt == MIGRATE_MOVABLE)
		alike_pages = movable_pages;
	else if (block_type == MIGRATE_MOVABLE)
		alike_pages = pageblock_nr_pages(m) - (free_pages + movable_pages);
	else
		alike_pages = 0;
	if (free_pages + alike_pages < (pageblock_nr_pages(m) >> 1) && !m->mobility_disabled)
		return PFN_NONE;
	__move_freepages_block(m, z, start_pfn, block_type, start_mt);
	return __rmqueue_smallest(m, z, order, start_mt);
}

/*
** __rmqueue_claim(): claim a pageblock of a fallback type, trying the
** largest free block first (roughly the pageblock with the most free
** pages), then the smaller ones down to the smallest order that may
** claim.  With ALLOC_NOFRAGMENT only whole pageblocks are taken.
*/
static uint64_t __rmqueue_claim(memlab_machine *m, struct zone *z, unsigned order,
				int start_mt, unsigned alloc_flags)
{
	int min_order = (int)order;

	if (order < m->pageblock_order && (alloc_flags & ALLOC_NOFRAGMENT))
		min_order = (int)m->pageblock_order;
	for (int current_order = (int)m->max_order; current_order >= min_order; current_order--) {
		int fallback_mt = find_suitable_fallback(m, &z->free_area[current_order],
							 (unsigned)current_order, start_mt, true);
		uint64_t pfn;

		if (fallback_mt == -1)
			continue;
		if (fallback_mt == -2)
			break;		/* too small to claim from here down */
		pfn = try_to_claim_block(m, z, free_list_first(z, (unsigned)current_order, fallback_mt),
					 (unsigned)current_order, order, start_mt, fallback_mt,
					 alloc_flags);
		if (pfn != PFN_NONE)
			return pfn;
	}
	return PFN_NONE;
}

/*
** __rmqueue_steal(): take the smallest fitting block of a fallback type
** and leave the rest of its pageblock as it is (fragmenting it).
*/
static uint64_t __rmqueue_steal(memlab_machine *m, struct zone *z, unsigned order, int start_mt)
{
	for (unsigned current_order = order; current_order <= m->max_order; current_order++) {
		int fallback_mt = find_suitable_fallback(m, &z->free_area[current_order],
							 current_order, start_mt, false);
		uint64_t pfn;

		if (fallback_mt == -1)
			continue;
		pfn = free_list_first(z, current_order, fallback_mt);
		page_del_and_expand(m, z, pfn, order, current_order, fallback_mt);
		return pfn;
	}
	return PFN_NONE;
}

/*
** __rmqueue(): the wanted type's lists, then a claim, then a steal (not
** with ALLOC_NOFRAGMENT).  *mode remembers how far a bulk refill had to
** go, so that its next pages start there (6.18's rmqueue_mode): the lists
** do not change between them.
*/
static uint64_t __rmqueue(memlab_machine *m, struct zone *z, unsigned order,
			  int mt, unsigned alloc_flags, enum rmqueue_mode *mode)
{
	uint64_t pfn;

	switch (*mode) {
	case RMQUEUE_NORMAL:
		pfn = __rmqueue_smallest(m, z, order, mt);
		if (pfn != PFN_NONE)
			return pfn;
		/* fallthrough */
	case RMQUEUE_CLAIM:
		pfn = __rmqueue_claim(m, z, order, mt, alloc_flags);
		if (pfn != PFN_NONE) {
			*mode = RMQUEUE_NORMAL;	/* the wanted lists are filled again */
			return pfn;
		}
		/* fallthrough */
	case RMQUEUE_STEAL:
		if (!(alloc_flags & ALLOC_NOFRAGMENT)) {
			pfn = __rmqueue_steal(m, z, order, mt);
			if (pfn != PFN_NONE) {
				*mode = RMQUEUE_STEAL;
				return pfn;
			}
		}
	}
	return PFN_NONE;
}

/* rmqueue_buddy(): the HighAtomic reserve first for high-order atomics. */
static uint64_t rmqueue_buddy(memlab_machine *m, struct zone *z, unsigned order,
			int mt, unsigned alloc_flags)
{
	uint64_t pfn = PFN_NONE;

	if (alloc_flags & ALLOC_HIGHATOMIC)
		pfn = __rmqueue_smallest(m, z, order, MIGRATE_HIGHATOMIC);
	if (pfn == PFN_NONE) {
		enum rmqueue_mode mode = RMQUEUE_NORMAL;

		pfn = __rmqueue(m, z, order, mt, alloc_flags, &mode);
		if (pfn == PFN_NONE && (alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK)))
			pfn = __rmqueue_smallest(m, z, order, MIGRATE_HIGHATOMIC);
	}
	if (pfn != PFN_NONE)
		m->vmstat[PGALLOC_DMA + z->idx] += 1ull << order;
	return pfn;
}

/* ===================== watermarks ===================== */

static inline uint64_t wmark_pages(const struct zone *z, int i)
{
	return z->_watermark[i] + z->watermark_boost;
}

/*
** __zone_watermark_ok(): after the allocation, free pages must stay above
** the mark plus the lowmem reserve kept against allocations that could
** have used a higher zone; high orders also need a free block of that
** order on a list the request may use.
*/
static bool __zone_watermark_ok(const memlab_machine *m, const struct zone *z,
				unsigned order, uint64_t mark, int highest_zoneidx,
				unsigned alloc_flags, int64_t free_pages)
{
	int64_t min = (int64_t)mark;

	free_pages -= (1ll << order) - 1;
	if (!(alloc_flags & ALLOC_RESERVES))
		free_pages -= (int64_t)z->nr_free_highatomic;
	if (alloc_flags & ALLOC_RESERVES) {
		if (alloc_flags & ALLOC_MIN_RESERVE) {
			min -= min / 2;
			if (alloc_flags & ALLOC_NON_BLOCK)
				min -= min / 4;
		}
		if (alloc_flags & ALLOC_OOM)
			min -= min / 2;
	}
	if (free_pages <= min + (int64_t)z->lowmem_reserve[highest_zoneidx])
		return false;
	if (!order)
		return true;
	for (unsigned o = order; o <= m->max_order; o++) {
		const struct free_area *area = &z->free_area[o];

		if (!area->nr_free)
			continue;
		for (int mt = 0; mt < MIGRATE_PCPTYPES; mt++)
			if (!free_area_empty(area, mt))
				return true;
		if ((alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM)) &&
		    !free_area_empty(area, MIGRATE_HIGHATOMIC))
			return true;
	}
	return false;
}

/* zone_watermark_ok_safe(): the test kswapd makes, with no reserves of its own. */
bool zone_watermark_ok_safe(const memlab_machine *m, const struct zone *z, unsigned order,
			    uint64_t mark, int highest_zoneidx)
{
	return __zone_watermark_ok(m, z, order, mark, highest_zoneidx, 0,
				   (int64_t)z->nr_free_pages);
}

uint64_t high_wmark_pages(const struct zone *z)
{
	return wmark_pages(z, WMARK_HIGH);
}

uint64_t min_wmark_pages(const struct zone *z)
{
	return wmark_pages(z, WMARK_MIN);
}

/* ===================== the HighAtomic reserve ===================== */

/* reserve_highatomic_pageblock(): up to ~1% of a zone for high-order atomics. */
static void reserve_highatomic_pageblock(memlab_machine *m, struct zone *z,
					 uint64_t pfn, unsigned order)
{
	uint64_t max_managed, nr = pageblock_nr_pages(m);
	int mt;

	if (z->managed_pages / 100 < nr)
		return;
	max_managed = (z->managed_pages / 100 + nr - 1) & ~(nr - 1);
	if (z->nr_reserved_highatomic >= max_managed)
		return;
	mt = get_pfnblock_migratetype(m, pfn);
	if (!migratetype_is_mergeable(mt))
		return;
	if (order < m->pageblock_order) {
		if (move_freepages_block(m, z, pfn, mt, MIGRATE_HIGHATOMIC) == -1)
			return;
		z->nr_reserved_highatomic += nr;
	} else {
		change_pageblock_range(m, pfn, order, MIGRATE_HIGHATOMIC);
		z->nr_reserved_highatomic += 1ull << order;
	}
}

/*
** unreserve_highatomic_pageblock(): give a HighAtomic pageblock back to
** the allocation's type before failing; unless force, keep one pageblock.
*/
static bool unreserve_highatomic_pageblock(memlab_machine *m,
					   const struct alloc_context *ac, bool force)
{
	for (int zid = ac->highest_zoneidx; zid >= 0; zid--) {
		struct zone *z = &m->zones[zid];

		if (!force && z->nr_reserved_highatomic <= pageblock_nr_pages(m))
			continue;
		for (unsigned order = 0; order <= m->max_order; order++) {
			uint32_t pfn = free_list_first(z, order, MIGRATE_HIGHATOMIC);
			uint64_t size;

			if (pfn == PFN_NONE)
				continue;
			size = order > m->pageblock_order ? 1ull << order : pageblock_nr_pages(m);
			if (size > z->nr_reserved_highatomic)
				size = z->nr_reserved_highatomic;
			z->nr_reserved_highatomic -= size;
			if (order < m->pageblock_order) {
				if (move_freepages_block(m, z, pfn, MIGRATE_HIGHATOMIC,
							 ac->migratetype) > 0)
					return true;
			} else {
				move_to_free_list(m, z, pfn, order, MIGRATE_HIGHATOMIC,
						  ac->migratetype);
				change_pageblock_range(m, pfn, order, ac->migratetype);
				return true;
			}
		}
	}
	return false;
}

/* ===================== per-CPU page lists ===================== */


/* order_to_pindex(): the list of (migratetype, order). */
static inline unsigned order_to_pindex(int mt, unsigned order)
{
	if (order > PAGE_ALLOC_COSTLY_ORDER)
		return NR_LOWORDER_PCP_LISTS + (mt == MIGRATE_MOVABLE);
	return MIGRATE_PCPTYPES * order + (unsigned)mt;
}

/* pindex_to_order(): the order of list pindex. */
static inline unsigned pindex_to_order(const memlab_machine *m, unsigned pindex)
{
	if (pindex >= NR_LOWORDER_PCP_LISTS)
		return m->pageblock_order;
	return pindex / MIGRATE_PCPTYPES;
}

/* clamp(), min() and max() of include/linux/minmax.h, for ints. */
static inline int clamp_int(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static inline int min_int(int a, int b)
{
	return a < b ? a : b;
}

static inline int max_int(int a, int b)
{
	return a > b ? a : b;
}

/* list_add() / list_add_tail() of a block onto a pcp list. */
static void pcp_list_add(memlab_machine *m, struct free_list *list, uint64_t pfn,
			 unsigned order, bool tail)
{
	struct page *page = pfn_to_page(m, pfn);

	page->flags |= PG_pcp;
	page->private = order;
	pfn_list_add(m, list, pfn, tail);
}

/* list_del() of a block from a pcp list. */
static void pcp_list_del(memlab_machine *m, struct free_list *list, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);

	pfn_list_del(m, list, pfn);
	page->flags &= ~PG_pcp;
	page->private = 0;
}

/*
** zone_batchsize(): ~0.1% of the zone or 1 MiB, whichever is smaller,
** divided by 4 and rounded to 2^n - 1.
*/
static int zone_batchsize(const memlab_machine *m, const struct zone *z)
{
	uint64_t batch = z->managed_pages >> 10;
	uint64_t one_mb = (1u << 20) / m->page_size;
	uint64_t pow = 1;

	if (batch > one_mb)
		batch = one_mb;
	batch /= 4;
	if (batch < 1)
		batch = 1;
	while (pow * 2 <= batch + batch / 2)	/* rounddown_pow_of_two() */
		pow *= 2;
	return (int)pow - 1;
}

/*
** zone_highsize(): the low watermark (high_fraction 0) or managed /
** high_fraction, split over the CPUs of the node, at least 4 batches.
** Linux splits by cpumask_weight(cpumask_of_node(nid)) + cpu_online;
** setup_per_zone_wmarks() calls it with cpu_online 0 once every CPU is up
** (init_per_zone_wmark_min, and again at each min_free_kbytes change), so
** a machine's pagesets end with the high of its online CPUs, all on the
** one node.  (A CPU being hotplugged would count itself with cpu_online 1:
** there is no CPU hotplug here.)
*/
static int zone_highsize(const memlab_machine *m, const struct zone *z, int batch,
			 int high_fraction)
{
	const uint64_t nr_split_cpus = (uint64_t)m->nr_cpus;
	uint64_t total_pages, high;

	if (!high_fraction)
		total_pages = wmark_pages(z, WMARK_LOW);
	else
		total_pages = z->managed_pages / (uint64_t)high_fraction;
	high = total_pages / nr_split_cpus;
	if (high < (uint64_t)batch << 2)
		high = (uint64_t)batch << 2;
	return (int)high;
}

#define MIN_PERCPU_PAGELIST_HIGH_FRACTION	8

/*
** zone_set_pageset_high_and_batch() (via zone_pcp_update): every CPU's
** batch and bounds of the auto-tuned high, the same for all
** (__zone_set_pageset_high_and_batch); pcp->high itself is left alone (0
** from per_cpu_pages_init until first use).  A machine without PCP gets
** what zone_pcp_disable() sets: high 0, batch 1.
*/
static void zone_set_pageset_high_and_batch(memlab_machine *m, struct zone *z)
{
	int batch = max_int(1, zone_batchsize(m, z));
	int high_min = zone_highsize(m, z, batch, 0);
	int high_max = zone_highsize(m, z, batch, MIN_PERCPU_PAGELIST_HIGH_FRACTION);

	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		struct per_cpu_pages *pcp = per_cpu_pageset(z, cpu);

		if (m->pcp_disabled) {
			pcp->high_min = pcp->high_max = pcp->high = 0;
			pcp->batch = 1;
			continue;
		}
		pcp->high_min = high_min;
		pcp->high_max = high_max;
		pcp->batch = batch;
	}
}

/* per_cpu_pages_init(): empty lists, the boot pageset's high 0. */
static void per_cpu_pages_init(struct per_cpu_pages *pcp)
{
	memset(pcp, 0, sizeof(*pcp));
	for (int i = 0; i < NR_PCP_LISTS; i++)
		pcp->lists[i].head = pcp->lists[i].tail = PFN_NONE;
	pcp->batch = 1;
}

/* this_cpu_ptr(zone->per_cpu_pageset): the pageset of the current task's CPU. */
static struct per_cpu_pages *this_cpu_pageset(const memlab_machine *m, const struct zone *z)
{
	return per_cpu_pageset(z, smp_processor_id(m));
}

/*
** free_pcppages_bulk(): give count pages of the pageset back to the buddy
** allocator, emptying lists round-robin from pindex on, each from its
** tail (the coldest pages); every block goes back with its pageblock's
** migratetype.
*/
static void free_pcppages_bulk(memlab_machine *m, struct zone *z, int count,
			       struct per_cpu_pages *pcp, unsigned pindex)
{
	count = min_int(pcp->count, count);
	pindex = pindex ? pindex - 1 : NR_PCP_LISTS - 1;
	while (count > 0) {
		struct free_list *list;
		unsigned order;

		for (unsigned tries = 0;; tries++) {
			if (tries == NR_PCP_LISTS) {	/* count says more than the lists hold */
				pcp->count = 0;
				return;
			}
			if (++pindex > NR_PCP_LISTS - 1)
				pindex = 0;
			list = &pcp->lists[pindex];
			if (list->head != PFN_NONE)
				break;
		}
		order = pindex_to_order(m, pindex);
		do {
			uint64_t pfn = list->tail;

			int mt = get_pfnblock_migratetype(m, pfn);

			pcp_list_del(m, list, pfn);
			count -= 1 << order;
			pcp->count -= 1 << order;
			trace(m, TP_MM_PAGE_PCPU_DRAIN, pfn, order, (uint64_t)mt, 0);
			__free_one_page(m, z, pfn, order, mt, false);
		} while (count > 0 && list->head != PFN_NONE);
	}
}

/* drain_pages_zone(): every page of the zone's pageset of cpu back to the buddy. */
static void drain_pages_zone(memlab_machine *m, int cpu, struct zone *z)
{
	struct per_cpu_pages *pcp = per_cpu_pageset(z, cpu);

	while (pcp->count > 0 && !m->dead) {
		int to_drain = min_int(pcp->count, pcp->batch << CONFIG_PCP_BATCH_SCALE_MAX);

		free_pcppages_bulk(m, z, to_drain, pcp, 0);
	}
}

/* drain_pages(): every zone's pageset of cpu. */
static void drain_pages(memlab_machine *m, int cpu)
{
	for (int i = 0; i < m->nr_zones; i++)
		drain_pages_zone(m, cpu, &m->zones[i]);
}

/* drain_local_pages(): this CPU's pagesets only; z NULL: every zone. */
void drain_local_pages(memlab_machine *m, struct zone *z)
{
	int cpu = smp_processor_id(m);

	if (z)
		drain_pages_zone(m, cpu, z);
	else
		drain_pages(m, cpu);
}

/*
** drain_all_pages() (__drain_all_pages): every online CPU's pagesets, one
** CPU after the other, drained from the calling CPU as Linux does (it
** locks a remote CPU's pcp: no work runs there); z NULL: every zone.
** (Linux skips a CPU whose pagesets look empty: draining an empty one
** does nothing here either.)
*/
void drain_all_pages(memlab_machine *m, struct zone *z)
{
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		if (z)
			drain_pages_zone(m, cpu, z);
		else
			drain_pages(m, cpu);
	}
}

/* The host's drain_all_pages(NULL). */
int memlab_drain_pages(memlab_machine *m)
{
	if (m->dead)
		return -MEMLAB_EIO;
	drain_all_pages(m, NULL);
	return 0;
}

/*
** nr_pcp_alloc(): how many blocks to take from the buddy when a list is
** empty.  Clamps high on first use; grows high toward high_max while the
** zone is above its high watermark; order 0 doubles the batch on each
** refill without a free in between (alloc_factor), up to 2^5.
*/
static int nr_pcp_alloc(struct per_cpu_pages *pcp, const struct zone *z, unsigned order)
{
	int base_batch = pcp->batch, high_min = pcp->high_min, high_max = pcp->high_max;
	int high, batch, max_nr_alloc;

	high = pcp->high = clamp_int(pcp->high, high_min, high_max);
	if (high < base_batch)		/* PCP disabled or boot pageset */
		return 1;
	batch = order ? base_batch : base_batch << pcp->alloc_factor;
	if (high_min != high_max && !(z->flags & ZONE_BELOW_HIGH))
		high = pcp->high = min_int(high + batch, high_max);
	if (!order) {
		max_nr_alloc = max_int(high - pcp->count - base_batch, base_batch);
		if (batch <= max_nr_alloc && pcp->alloc_factor < CONFIG_PCP_BATCH_SCALE_MAX)
			pcp->alloc_factor++;
		batch = min_int(batch, max_nr_alloc);
	}
	if (batch > 1)
		batch = max_int(batch >> order, 2);
	return batch;
}

/* rmqueue_bulk(): up to count blocks from the buddy onto the list's tail. */
static int rmqueue_bulk(memlab_machine *m, struct zone *z, unsigned order, int count,
			struct free_list *list, int mt, unsigned alloc_flags)
{
	enum rmqueue_mode mode = RMQUEUE_NORMAL;
	int i;

	for (i = 0; i < count; i++) {
		uint64_t pfn = __rmqueue(m, z, order, mt, alloc_flags, &mode);

		if (pfn == PFN_NONE)
			break;
		pcp_list_add(m, list, pfn, order, true);
	}
	return i;
}

/* __rmqueue_pcplist(): the list's first block, refilling it when empty. */
static uint64_t __rmqueue_pcplist(memlab_machine *m, struct zone *z, unsigned order,
				  int mt, unsigned alloc_flags, struct per_cpu_pages *pcp,
				  struct free_list *list)
{
	uint64_t pfn;

	if (list->head == PFN_NONE) {
		int batch = nr_pcp_alloc(pcp, z, order);

		pcp->count += rmqueue_bulk(m, z, order, batch, list, mt, alloc_flags) << order;
		if (list->head == PFN_NONE)
			return PFN_NONE;
	}
	pfn = list->head;
	pcp_list_del(m, list, pfn);
	pcp->count -= 1 << order;
	return pfn;
}

/*
** rmqueue_pcplist(): from this CPU's pageset; an allocation halves the
** batch of the next bulk free.
*/
static uint64_t rmqueue_pcplist(memlab_machine *m, struct zone *z, unsigned order,
				int mt, unsigned alloc_flags)
{
	struct per_cpu_pages *pcp = this_cpu_pageset(m, z);
	uint64_t pfn;

	pcp->free_count >>= 1;
	pfn = __rmqueue_pcplist(m, z, order, mt, alloc_flags, pcp,
				&pcp->lists[order_to_pindex(mt, order)]);
	if (pfn != PFN_NONE)
		m->vmstat[PGALLOC_DMA + z->idx] += 1ull << order;
	return pfn;
}

/*
** rmqueue(): small orders and THPs through the pcp, the rest (and what the
** pcp could not refill) from the buddy.  A fallback that boosted the
** zone's watermarks wakes kswapd now, for order 0 and this zone, whether
** or not the allocation succeeded.
*/
static uint64_t rmqueue(memlab_machine *m, struct zone *z, unsigned order,
			int mt, unsigned alloc_flags)
{
	uint64_t pfn = PFN_NONE;

	if (!m->pcp_disabled && pcp_allowed_order(m, order))
		pfn = rmqueue_pcplist(m, z, order, mt, alloc_flags);
	if (pfn == PFN_NONE)
		pfn = rmqueue_buddy(m, z, order, mt, alloc_flags);
	if ((alloc_flags & ALLOC_KSWAPD) && (z->flags & ZONE_BOOSTED_WATERMARK)) {
		int zid = (int)(z - m->zones);	/* zone_idx(): positions here */

		z->flags &= ~ZONE_BOOSTED_WATERMARK;
		wakeup_kswapd(m, zid, 0, 0, zid);
	}
	return pfn;
}

/*
** nr_pcp_high(): the limit above which a free drains the pcp.  Freeing
** lowers pcp->high while kswapd reclaims the zone (ZONE_RECLAIM_ACTIVE:
** at most four batches stay) or the zone is below its high watermark,
** and raises it to hold a batch of consecutive frees otherwise.
*/
static int nr_pcp_high(struct per_cpu_pages *pcp, const struct zone *z, int batch,
		       bool free_high)
{
	int high_min = pcp->high_min, high_max = pcp->high_max;
	int high = pcp->high = clamp_int(pcp->high, high_min, high_max);

	if (!high)
		return 0;
	if (free_high) {
		pcp->high = max_int(high - (batch << CONFIG_PCP_BATCH_SCALE_MAX), high_min);
		return 0;
	}
	if (z->flags & ZONE_RECLAIM_ACTIVE) {
		int free_count = max_int(pcp->free_count, batch);

		pcp->high = max_int(high - free_count, high_min);
		return min_int(batch << 2, pcp->high);
	}
	if (high_min == high_max)
		return high;
	if (z->flags & ZONE_BELOW_HIGH) {
		int free_count = max_int(pcp->free_count, batch);

		pcp->high = max_int(high - free_count, high_min);
		high = max_int(pcp->count, high_min);
	} else if (pcp->count >= high) {
		int need_high = pcp->free_count + batch;

		if (pcp->high < need_high)
			pcp->high = clamp_int(need_high, high_min, high_max);
	}
	return high;
}

/*
** nr_pcp_free(): how many pages a free past high gives back: at least a
** batch, as many as were freed in a row, leaving a batch on the lists.
*/
static int nr_pcp_free(const struct per_cpu_pages *pcp, int batch, int high, bool free_high)
{
	if (free_high)
		return min_int(pcp->count, batch << CONFIG_PCP_BATCH_SCALE_MAX);
	if (high < batch)		/* PCP disabled or boot pageset */
		return 1;
	return min_int(max_int(pcp->free_count, batch), high - batch);
}

/*
** free_unref_page_commit(): the block goes to the head of its list; a
** run of high-order frees without allocations (free_high) or a pcp past
** high gives pages back in bulk, after which a zone back above its high
** watermark loses ZONE_BELOW_HIGH.
*/
static void free_unref_page_commit(memlab_machine *m, struct zone *z,
				   struct per_cpu_pages *pcp, uint64_t pfn, int mt,
				   unsigned order)
{
	unsigned pindex = order_to_pindex(mt, order);
	bool free_high = false;
	int high, batch;

	pcp->alloc_factor >>= 1;
	m->vmstat[PGFREE] += 1ull << order;
	pcp_list_add(m, &pcp->lists[pindex], pfn, order, false);
	pcp->count += 1 << order;
	batch = pcp->batch;
	if (order && order <= PAGE_ALLOC_COSTLY_ORDER) {
		/* 6.18: "mm: pcp: increase pcp->free_count threshold to trigger free_high" */
		free_high = pcp->free_count >= batch + pcp->high_min / 2 &&
			    (pcp->flags & PCPF_PREV_FREE_HIGH_ORDER) &&
			    (!(pcp->flags & PCPF_FREE_HIGH_BATCH) || pcp->count >= batch);
		pcp->flags |= PCPF_PREV_FREE_HIGH_ORDER;
	} else {
		pcp->flags &= ~PCPF_PREV_FREE_HIGH_ORDER;
	}
	if (pcp->free_count < (batch << CONFIG_PCP_BATCH_SCALE_MAX))
		pcp->free_count += 1 << order;
	high = nr_pcp_high(pcp, z, batch, free_high);
	if (pcp->count < high)
		return;
	free_pcppages_bulk(m, z, nr_pcp_free(pcp, batch, high, free_high), pcp, pindex);
	if ((z->flags & ZONE_BELOW_HIGH) &&
	    __zone_watermark_ok(m, z, 0, wmark_pages(z, WMARK_HIGH), ZONE_MOVABLE, 0,
				(int64_t)z->nr_free_pages))
		z->flags &= ~ZONE_BELOW_HIGH;
}

/* free_one_page(): straight to the buddy (__free_pages_ok for other orders). */
static void free_one_page(memlab_machine *m, struct zone *z, uint64_t pfn, unsigned order)
{
	if (m->dead)
		return;
	__free_one_page(m, z, pfn, order, get_pfnblock_migratetype(m, pfn), false);
	m->vmstat[PGFREE] += 1ull << order;
}

/*
** free_unref_page(): to this CPU's pageset, whichever CPU allocated the
** page.  pcp lists hold only the three PCP types: HighAtomic
** (and CMA) blocks go on the Movable list so their pages come back to the
** buddy sooner; an isolated pageblock's pages bypass the pcp.
*/
static void free_unref_page(memlab_machine *m, struct zone *z, uint64_t pfn, unsigned order)
{
	int mt;

	if (m->dead)		/* a stopped machine's frees leak */
		return;
	if (m->pcp_disabled || !pcp_allowed_order(m, order)) {
		free_one_page(m, z, pfn, order);
		return;
	}
	mt = get_pfnblock_migratetype(m, pfn);
	if (mt >= MIGRATE_PCPTYPES) {
		if (mt == MIGRATE_ISOLATE) {
			free_one_page(m, z, pfn, order);
			return;
		}
		mt = MIGRATE_MOVABLE;
	}
	free_unref_page_commit(m, z, this_cpu_pageset(m, z), pfn, mt, order);
}

/* ===================== compaction's side (mm/compaction.c) ===================== */

/* The watermark an allocation's alloc_flags name (wmark_pages(zone, alloc_flags & ALLOC_WMARK_MASK)). */
uint64_t alloc_wmark_pages(const struct zone *z, unsigned alloc_flags)
{
	return wmark_pages(z, alloc_flags & ALLOC_WMARK_MASK);
}

/* zone_watermark_ok(): __zone_watermark_ok() on the zone's NR_FREE_PAGES. */
bool zone_watermark_ok(memlab_machine *m, const struct zone *z, unsigned order, uint64_t mark,
		       int highest_zoneidx, unsigned alloc_flags)
{
	return __zone_watermark_ok(m, z, order, mark, highest_zoneidx, alloc_flags,
				   (int64_t)z->nr_free_pages);
}

/*
** __isolate_free_page(): compaction's free scanner takes the free block
** at pfn off the buddy lists as migration targets, unless that would take
** the zone below MIN + 2^order (order-0 check).  A block of half a
** pageblock or more makes its pageblock Movable.  Returns the pages taken
** (the block's head keeps no buddy flag), 0 when refused.
*/
uint64_t __isolate_free_page(memlab_machine *m, uint64_t pfn, unsigned order)
{
	struct zone *z = page_zone(m, pfn);
	int mt = get_pfnblock_migratetype(m, pfn);

	if (mt != MIGRATE_ISOLATE &&
	    !zone_watermark_ok(m, z, 0, z->_watermark[WMARK_MIN] + (1ull << order), 0, 0))
		return 0;
	del_page_from_free_list(m, z, pfn, order, mt);
	if (order + 1 >= m->pageblock_order && migratetype_is_mergeable(mt) &&
	    mt != MIGRATE_MOVABLE)
		move_freepages_block(m, z, pfn, mt, MIGRATE_MOVABLE);
	return 1ull << order;
}

/*
** __compact_finished()'s test: a free block of order or above on mt's
** list, or on a fallback list whose pageblock the request could claim.
*/
bool compaction_free_block_suitable(const memlab_machine *m, const struct zone *z,
				    unsigned order, int mt)
{
	for (unsigned o = order; o <= m->max_order; o++) {
		const struct free_area *area = &z->free_area[o];

		if (!free_area_empty(area, mt))
			return true;
		if (mt < MIGRATE_PCPTYPES && find_suitable_fallback(m, area, o, mt, true) >= 0)
			return true;
	}
	return false;
}

static uint64_t get_page_from_freelist(memlab_machine *m, unsigned order,
				       unsigned alloc_flags, const struct alloc_context *ac);

/*
** __alloc_pages_direct_compact(): compact the zones the request may use,
** then retry the free lists.  compact_stall counts every attempt that was
** not skipped outright; compact_success / compact_fail whether the retry
** found its page (success also resets the zone's deferral).  *result: the
** enum compact_result of try_to_compact_pages.
*/
static uint64_t alloc_pages_direct_compact(memlab_machine *m, unsigned order,
					   unsigned alloc_flags, const struct alloc_context *ac,
					   enum compact_priority prio, enum compact_result *result)
{
	uint64_t pfn;

	if (!order)
		return PFN_NONE;
	*result = try_to_compact_pages(m, ac->gfp, order, alloc_flags, ac->highest_zoneidx, prio);
	if (*result == COMPACT_SKIPPED)
		return PFN_NONE;
	m->vmstat[COMPACTSTALL]++;
	pfn = get_page_from_freelist(m, order, alloc_flags, ac);
	if (pfn != PFN_NONE) {
		struct zone *z = page_zone(m, pfn);

		z->compact_blockskip_flush = false;
		compaction_defer_reset(m, z, (int)order, true);
		m->vmstat[COMPACTSUCCESS]++;
		return pfn;
	}
	m->vmstat[COMPACTFAIL]++;
	return PFN_NONE;
}

/*
** The slow path's first compaction, before any reclaim (__alloc_pages_slowpath):
** for costly orders (enough base pages may well be free) and for
** non-movable orders > 0 (to keep their pageblocks), async.  True when the
** slow path ends here with *pfn: a page, or PFN_NONE for a costly
** __GFP_NORETRY request that compaction skipped or deferred (THP faults);
** such a request that goes on keeps compacting async (*prio).
*/
static bool alloc_pages_compact_first(memlab_machine *m, unsigned order, unsigned alloc_flags,
				      const struct alloc_context *ac,
				      enum compact_priority *prio, uint64_t *pfn)
{
	bool costly = order > PAGE_ALLOC_COSTLY_ORDER;
	enum compact_result result = COMPACT_SKIPPED;

	*pfn = PFN_NONE;
	if (!(ac->gfp & MEMLAB___GFP_IO) || !(costly || (order && ac->migratetype != MIGRATE_MOVABLE)) ||
	    ((ac->gfp & MEMLAB___GFP_MEMALLOC) && !(ac->gfp & MEMLAB___GFP_NOMEMALLOC)))
		return false;
	*pfn = alloc_pages_direct_compact(m, order, alloc_flags, ac, INIT_COMPACT_PRIORITY,
					  &result);
	if (*pfn != PFN_NONE)
		return true;
	if (costly && (ac->gfp & MEMLAB___GFP_NORETRY)) {
		if (result == COMPACT_SKIPPED || result == COMPACT_DEFERRED)
			return true;
		*prio = INIT_COMPACT_PRIORITY;
	}
	return false;
}

/* ===================== the allocator's entry ===================== */

/*
** zone_watermark_fast(): __zone_watermark_ok(), but a boost does not
** count against an order-0 __GFP_HIGH request at the MIN watermark (it is
** checked again against the unboosted MIN: "the min watermark is the
** point where boosting is ignored").
*/
static bool zone_watermark_fast(const memlab_machine *m, const struct zone *z, unsigned order,
				uint64_t mark, int highest_zoneidx, unsigned alloc_flags)
{
	if (__zone_watermark_ok(m, z, order, mark, highest_zoneidx, alloc_flags,
				(int64_t)z->nr_free_pages))
		return true;
	if (order || !(alloc_flags & ALLOC_MIN_RESERVE) || !z->watermark_boost ||
	    (alloc_flags & ALLOC_WMARK_MASK) != ALLOC_WMARK_MIN)
		return false;
	return __zone_watermark_ok(m, z, order, z->_watermark[WMARK_MIN], highest_zoneidx,
				   alloc_flags, (int64_t)z->nr_free_pages);
}

/*
** get_page_from_freelist()'s first test: a zone above its high watermark
** is used at once; one that is not gets ZONE_BELOW_HIGH (so that frees
** shrink its pcp) and goes on to the caller's watermark (check_alloc_wmark).
*/
static bool zone_above_high(memlab_machine *m, struct zone *z, unsigned order,
			    unsigned alloc_flags, const struct alloc_context *ac)
{
	if (z->flags & ZONE_BELOW_HIGH)
		return false;
	if (zone_watermark_fast(m, z, order, wmark_pages(z, WMARK_HIGH), ac->highest_zoneidx,
				alloc_flags))
		return true;
	z->flags |= ZONE_BELOW_HIGH;
	return false;
}

/*
** get_page_from_freelist(): walk the zonelist from the highest usable zone
** down, taking from the first zone whose watermark allows it.  A first
** pass with ALLOC_NOFRAGMENT does not break up pageblocks of other types.
*/
static uint64_t get_page_from_freelist(memlab_machine *m, unsigned order,
				       unsigned alloc_flags,
				       const struct alloc_context *ac)
{
	for (;;) {
		for (int zid = ac->highest_zoneidx; zid >= 0; zid--) {
			struct zone *z = &m->zones[zid];
			uint64_t pfn, mark;

			if (!populated_zone(z))
				continue;
			if (!zone_above_high(m, z, order, alloc_flags, ac) &&
			    !(alloc_flags & ALLOC_NO_WATERMARKS)) {
				mark = wmark_pages(z, alloc_flags & ALLOC_WMARK_MASK);
				if (!zone_watermark_fast(m, z, order, mark, ac->highest_zoneidx,
							 alloc_flags))
					continue;
			}
			pfn = rmqueue(m, z, order, ac->migratetype, alloc_flags);
			if (pfn == PFN_NONE)
				continue;
			if (alloc_flags & ALLOC_HIGHATOMIC)
				reserve_highatomic_pageblock(m, z, pfn, order);
			return pfn;
		}
		if (!(alloc_flags & ALLOC_NOFRAGMENT))
			return PFN_NONE;
		alloc_flags &= ~ALLOC_NOFRAGMENT;
	}
}

/* gfp_to_alloc_flags(): the slow path's rights to the reserves. */
static unsigned gfp_to_alloc_flags(uint32_t gfp, unsigned order)
{
	unsigned alloc_flags = ALLOC_WMARK_MIN;

	if (gfp & MEMLAB___GFP_HIGH)
		alloc_flags |= ALLOC_MIN_RESERVE;
	if (gfp & MEMLAB___GFP_KSWAPD_RECLAIM)
		alloc_flags |= ALLOC_KSWAPD;
	if (!(gfp & MEMLAB___GFP_DIRECT_RECLAIM) && !(gfp & MEMLAB___GFP_NOMEMALLOC)) {
		alloc_flags |= ALLOC_NON_BLOCK;
		if (order > 0)
			alloc_flags |= ALLOC_HIGHATOMIC;
	}
	if ((gfp & MEMLAB___GFP_MEMALLOC) && !(gfp & MEMLAB___GFP_NOMEMALLOC))
		alloc_flags |= ALLOC_NO_WATERMARKS;
	return alloc_flags;
}

/*
** __alloc_pages_direct_reclaim(): reclaim (vmscan.c), then retry; if that
** fails, pages may be pinned on the per-CPU lists or in the HighAtomic
** reserve: unreserve one HighAtomic pageblock, drain every pcp, and retry
** once more.  Linux skips the retries when reclaim freed nothing -- which
** its slab shrinkers make rare; memlab has none, so it goes on to them
** either way.  *progress: reclaimed pages, or 1 when a HighAtomic
** pageblock was given back.
*/
static uint64_t alloc_pages_direct_reclaim(memlab_machine *m, unsigned order,
					   unsigned alloc_flags,
					   const struct alloc_context *ac, uint64_t *progress)
{
	bool drained = false;
	uint64_t pfn;

	*progress = try_to_free_pages(m, order, ac->gfp, ac->highest_zoneidx);
	for (;;) {
		pfn = get_page_from_freelist(m, order, alloc_flags, ac);
		if (pfn != PFN_NONE || drained)
			return pfn;
		if (unreserve_highatomic_pageblock(m, ac, false) && !*progress)
			*progress = 1;
		drain_all_pages(m, NULL);
		drained = true;
	}
}

/*
** wake_all_kswapds(): the node's kswapd, for the first zone of the
** zonelist (the highest the request may use).
*/
static void wake_all_kswapds(memlab_machine *m, unsigned order, const struct alloc_context *ac)
{
	for (int zid = ac->highest_zoneidx; zid >= 0; zid--) {
		if (populated_zone(&m->zones[zid])) {
			wakeup_kswapd(m, zid, ac->gfp, order, ac->highest_zoneidx);
			return;
		}
	}
}

/*
** should_reclaim_retry(): go round again while reclaim makes progress
** (a costly order counts as none) and some zone would pass its MIN
** watermark if everything reclaimable were freed; after
** MAX_RECLAIM_RETRIES rounds without progress, only the HighAtomic
** reserve given back buys another.
*/
static bool should_reclaim_retry(memlab_machine *m, unsigned order, const struct alloc_context *ac,
				 unsigned alloc_flags, bool progress, int *no_progress_loops)
{
	if (progress && order <= PAGE_ALLOC_COSTLY_ORDER)
		*no_progress_loops = 0;
	else
		(*no_progress_loops)++;
	if (*no_progress_loops > MAX_RECLAIM_RETRIES)
		return unreserve_highatomic_pageblock(m, ac, true);
	for (int zid = ac->highest_zoneidx; zid >= 0; zid--) {
		const struct zone *z = &m->zones[zid];
		uint64_t reclaimable = zone_reclaimable_pages(m, z);
		uint64_t available = reclaimable + z->nr_free_pages, min = wmark_pages(z, WMARK_MIN);
		bool wmark;

		if (!populated_zone(z))
			continue;
		wmark = __zone_watermark_ok(m, z, order, min, ac->highest_zoneidx, alloc_flags,
					    (int64_t)available);
		tracev(m, TP_RECLAIM_RETRY_ZONE, 0, (uint64_t)z->idx, order, reclaimable, available,
		       min, (uint64_t)*no_progress_loops, wmark);
		if (wmark)
			return true;
	}
	return unreserve_highatomic_pageblock(m, ac, true);	/* before OOM, the reserve */
}

/*
** compaction_zonelist_suitable(): would compaction find free targets if
** reclaim freed a share (1/order) of what it could?
*/
static bool compaction_zonelist_suitable(memlab_machine *m, unsigned order,
					 const struct alloc_context *ac)
{
	for (int zid = ac->highest_zoneidx; zid >= 0; zid--) {
		const struct zone *z = &m->zones[zid];
		uint64_t available = zone_reclaimable_pages(m, z) / order + z->nr_free_pages;
		uint64_t mark = wmark_pages(z, order > PAGE_ALLOC_COSTLY_ORDER ? WMARK_LOW : WMARK_MIN) +
				(2ull << order);	/* __compaction_suitable() + compact_gap() */

		if (populated_zone(z) &&
		    __zone_watermark_ok(m, z, 0, mark, ac->highest_zoneidx, 0, (int64_t)available))
			return true;
	}
	return false;
}

#define MAX_COMPACT_RETRIES	16

/*
** should_compact_retry(): after reclaim made progress, a high-order
** request goes round again when compaction lacked free targets that
** reclaim can give (COMPACT_SKIPPED), when it succeeded but the page went
** elsewhere (up to MAX_COMPACT_RETRIES, a quarter for costly orders), or
** with a more thorough compaction priority while one is left.
*/
static bool should_compact_retry(memlab_machine *m, unsigned order, const struct alloc_context *ac,
				 enum compact_result result, enum compact_priority *prio,
				 int *retries)
{
	int max_retries = MAX_COMPACT_RETRIES, tried = *retries;
	enum compact_priority was = *prio, min;
	bool ret = false;

	if (!order)
		return false;
	if (result == COMPACT_SKIPPED) {
		ret = compaction_zonelist_suitable(m, order, ac);
		goto out;
	}
	if (result == COMPACT_SUCCESS) {
		if (order > PAGE_ALLOC_COSTLY_ORDER)
			max_retries /= 4;
		if (++*retries <= max_retries) {
			ret = true;
			goto out;
		}
	}
	min = order > PAGE_ALLOC_COSTLY_ORDER ? MIN_COMPACT_COSTLY_PRIORITY : MIN_COMPACT_PRIORITY;
	if (*prio > min) {
		(*prio)--;
		*retries = 0;
		ret = true;
	}
out:
	tracev(m, TP_COMPACT_RETRY, order, (uint64_t)was, (uint64_t)result, (uint64_t)tried,
	       (uint64_t)max_retries, ret);
	return ret;
}

/*
** oom_reserves_allowed(): an OOM victim's allocations may go below the
** MIN watermark, halfway to nothing (ALLOC_OOM), so that it can exit.
*/
static bool oom_reserves_allowed(const memlab_machine *m, uint32_t gfp)
{
	return current_is_oom_victim(m) &&
	       !(gfp & (MEMLAB___GFP_NOMEMALLOC | MEMLAB___GFP_MEMALLOC));
}

/*
** __alloc_pages_may_oom(): reclaim and compaction gave up.  One more try
** at the HIGH watermark (a kill elsewhere may have freed memory), then
** the OOM killer, for an allocation it can help: a cheap order, not
** __GFP_RETRY_MAYFAIL or __GFP_THISNODE, not one for the lower zones
** only.  *killed: the allocation may be retried.  The host's own
** allocations (no task: memlab_alloc_pages) never OOM-kill.
*/
static uint64_t alloc_pages_may_oom(memlab_machine *m, unsigned order,
				    const struct alloc_context *ac, bool *killed)
{
	uint64_t pfn = get_page_from_freelist(m, order, ALLOC_WMARK_HIGH, ac);

	*killed = false;
	if (pfn != PFN_NONE)
		return pfn;
	if (order > PAGE_ALLOC_COSTLY_ORDER || !m->current ||
	    (ac->gfp & (MEMLAB___GFP_RETRY_MAYFAIL | MEMLAB___GFP_THISNODE)) ||
	    m->zones[ac->highest_zoneidx].idx < ZONE_NORMAL)
		return PFN_NONE;
	*killed = out_of_memory_node(m, ac->gfp, (int)order);
	return PFN_NONE;
}

/*
** __alloc_pages_slowpath(), as far as it exists yet: kswapd woken, a
** retry at the MIN watermark with the caller's reserves, then (for
** callers that may reclaim) a first async compaction for costly and
** non-movable orders, direct reclaim with its pcp drain followed by
** direct compaction at DEF_COMPACT_PRIORITY, and the retry policy of
** __GFP_NORETRY / costly orders / should_reclaim_retry and
** should_compact_retry, then the OOM killer (__alloc_pages_may_oom) and
** a retry after a kill -- with the reserves (ALLOC_OOM) for a task it
** chose.
*/
static uint64_t alloc_pages_slowpath(memlab_machine *m, unsigned order,
				     const struct alloc_context *ac)
{
	unsigned alloc_flags = gfp_to_alloc_flags(ac->gfp, order);
	bool costly = order > PAGE_ALLOC_COSTLY_ORDER;
	enum compact_priority compact_priority = DEF_COMPACT_PRIORITY;
	enum compact_result compact_result = COMPACT_SKIPPED;
	int no_progress_loops = 0, compaction_retries = 0;
	bool killed;
	uint64_t pfn;

	if (alloc_flags & ALLOC_KSWAPD)
		wake_all_kswapds(m, order, ac);
	pfn = get_page_from_freelist(m, order, alloc_flags, ac);
	if (pfn != PFN_NONE || !(ac->gfp & MEMLAB___GFP_DIRECT_RECLAIM))
		return pfn;
	if (alloc_pages_compact_first(m, order, alloc_flags, ac, &compact_priority, &pfn))
		return pfn;
	for (;;) {
		uint64_t progress;

		if (alloc_flags & ALLOC_KSWAPD)		/* retry: */
			wake_all_kswapds(m, order, ac);
		if (oom_reserves_allowed(m, ac->gfp))	/* __gfp_pfmemalloc_flags() */
			alloc_flags = ALLOC_OOM | (alloc_flags & ALLOC_KSWAPD);
		pfn = get_page_from_freelist(m, order, alloc_flags, ac);
		if (pfn != PFN_NONE)
			return pfn;
		pfn = alloc_pages_direct_reclaim(m, order, alloc_flags, ac, &progress);
		if (pfn != PFN_NONE)
			return pfn;
		pfn = alloc_pages_direct_compact(m, order, alloc_flags, ac, compact_priority,
						 &compact_result);
		if (pfn != PFN_NONE)
			return pfn;
		if (ac->gfp & MEMLAB___GFP_NORETRY)
			return PFN_NONE;
		if (costly && !(ac->gfp & MEMLAB___GFP_RETRY_MAYFAIL))
			return PFN_NONE;
		if (should_reclaim_retry(m, order, ac, alloc_flags, progress > 0, &no_progress_loops))
			continue;
		if (progress && should_compact_retry(m, order, ac, compact_result,
						     &compact_priority, &compaction_retries))
			continue;
		pfn = alloc_pages_may_oom(m, order, ac, &killed);
		if (pfn != PFN_NONE)
			return pfn;
		/* the victim had the reserves: no endless loop */
		if (current_is_oom_victim(m) &&
		    ((alloc_flags & ALLOC_OOM) || (ac->gfp & MEMLAB___GFP_NOMEMALLOC)))
			return PFN_NONE;
		if (!killed)
			return PFN_NONE;
		no_progress_loops = 0;	/* retry as long as the OOM killer makes progress */
	}
}

/*
** gfp_zone(): the highest zone a request may use (GFP_ZONE_TABLE): DMA,
** DMA32, Normal, or Movable for __GFP_HIGHMEM|__GFP_MOVABLE.  -1 for the
** combinations Linux calls GFP_ZONE_BAD.
*/
int gfp_zone(const memlab_machine *m, uint32_t gfp)
{
	uint32_t z = gfp & GFP_ZONEMASK & ~MEMLAB___GFP_MOVABLE;
	int zid;

	if (z == 0 || z == MEMLAB___GFP_HIGHMEM)
		zid = (gfp & GFP_ZONEMASK) == (MEMLAB___GFP_HIGHMEM | MEMLAB___GFP_MOVABLE)
		      ? ZONE_MOVABLE : ZONE_NORMAL;
	else if (z == MEMLAB___GFP_DMA)
		zid = ZONE_DMA;
	else if (z == MEMLAB___GFP_DMA32)
		zid = ZONE_DMA32;
	else
		return -1;
	return m->zone_layout == MEMLAB_ZONES_SINGLE ? 0 : zid;
}

static int prepare_alloc(const memlab_machine *m, unsigned order, uint32_t gfp,
			 struct alloc_context *ac)
{
	if (order > m->max_order || (gfp & ~GFP_KNOWN_MASK))
		return -MEMLAB_EINVAL;
	if ((gfp & GFP_MOVABLE_MASK) == GFP_MOVABLE_MASK)
		return -MEMLAB_EINVAL;
	ac->gfp = gfp;
	ac->highest_zoneidx = gfp_zone(m, gfp);
	if (ac->highest_zoneidx < 0)
		return -MEMLAB_EINVAL;
	ac->migratetype = m->mobility_disabled ? MIGRATE_UNMOVABLE
					       : (int)((gfp & GFP_MOVABLE_MASK) >> 3);
	ac->preferred_zone = -1;
	for (int zid = ac->highest_zoneidx; zid >= 0; zid--) {
		if (populated_zone(&m->zones[zid])) {
			ac->preferred_zone = zid;
			break;
		}
	}
	return 0;
}

/* prep_new_page(): the head records the allocation for free-time checks. */
static void prep_new_page(memlab_machine *m, uint64_t pfn, unsigned order, uint32_t gfp)
{
	struct page *page = pfn_to_page(m, pfn);

	page->flags |= PG_head_alloc;
	if (order && (gfp & MEMLAB___GFP_COMP))		/* prep_compound_page() */
		page->flags |= PG_head;
	page->private = order;
	page->_refcount = 1;
	if (gfp & MEMLAB___GFP_ZERO)
		ml_zero_frames(m, pfn, 1ull << order);
}

/* __alloc_pages(): the core's allocations; memlab_alloc_pages is the host's. */
int alloc_pages(memlab_machine *m, unsigned order, uint32_t gfp, uint64_t *pfn)
{
	struct alloc_context ac;
	unsigned alloc_flags;
	uint64_t page;
	int err = prepare_alloc(m, order, gfp, &ac);

	if (err)
		return err;
	if (m->dead)		/* a kernel BUG stopped the machine */
		return -MEMLAB_ENOMEM;
	if (should_fail_alloc_page(m, gfp, order))	/* prepare_alloc_pages() */
		return -MEMLAB_ENOMEM;
	if (ac.preferred_zone < 0)
		return -MEMLAB_ENOMEM;
	/* alloc_flags_nofragment(): keep Normal's pageblocks pure while DMA32 can serve */
	alloc_flags = ALLOC_WMARK_LOW | (gfp & MEMLAB___GFP_KSWAPD_RECLAIM ? ALLOC_KSWAPD : 0);
	if (m->zone_layout == MEMLAB_ZONES_ARCH && ac.preferred_zone == ZONE_NORMAL)
		alloc_flags |= ALLOC_NOFRAGMENT;
	page = get_page_from_freelist(m, order, alloc_flags, &ac);
	if (page == PFN_NONE)
		page = alloc_pages_slowpath(m, order, &ac);
	trace(m, TP_MM_PAGE_ALLOC, page == PFN_NONE ? UINT64_MAX : page, order, gfp,
	      (uint64_t)ac.migratetype);
	if (page == PFN_NONE)
		return -MEMLAB_ENOMEM;
	prep_new_page(m, page, order, gfp);
	*pfn = page;
	return 0;
}

/* The host's allocation: outside any operation, so a kswapd it woke runs as it returns. */
int memlab_alloc_pages(memlab_machine *m, unsigned order, uint32_t gfp, uint64_t *pfn)
{
	int err;

	if (m->dead)
		return -MEMLAB_EIO;
	err = alloc_pages(m, order, gfp, pfn);

	background_run(m);
	return err;
}

/*
** split_page(): an allocation of 2^order frames becomes 2^order order-0
** allocations, each with a reference (a THP split, as Linux splits a folio).
*/
void split_page(memlab_machine *m, uint64_t pfn, unsigned order)
{
	for (uint64_t i = 0; i < (1ull << order); i++) {
		split_page_part(m, pfn + i, 0);
		if (i)
			pfn_to_page(m, pfn + i)->_refcount = 1;
	}
}

/*
** The part of a split allocation at pfn, 2^order frames, becomes an
** allocation of its own -- a compound one when order > 0 -- its frames
** after the first inside it (a folio_split()'s part).
*/
void split_page_part(memlab_machine *m, uint64_t pfn, unsigned order)
{
	struct page *page = pfn_to_page(m, pfn);

	page->flags = (page->flags | PG_head_alloc | (order ? PG_head : 0)) & ~(order ? 0 : PG_head);
	page->private = order;
	for (uint64_t i = 1; i < (1ull << order); i++)
		page[i].flags &= ~(PG_head_alloc | PG_head);
}

/* ===================== freeing: the entry and bad pages ===================== */

/*
** bad_page(): Linux's "BUG: Bad page state" report and dump_page() lines,
** via the host.  A free block's head carries page_type buddy.  The mapping
** is printed as 0, 1 (anonymous) or 2 (a file) rather than as a host
** pointer, which would make the same run print different bytes; for the
** same reason a slab's index (its descriptor) prints as 0.
*/
static void bad_page(memlab_machine *m, uint64_t pfn, const char *reason)
{
	const struct page *page = pfn < m->nr_frames ? pfn_to_page(m, pfn) : NULL;
	const struct zone *z = pfn < m->nr_frames ? page_zone(m, pfn) : NULL;

	ml_report(m, "BUG: Bad page state in process memlab  pfn:%05llx\n"
		  "page: refcount:%d mapcount:%d mapping:%016llx index:0x%llx pfn:0x%llx\n"
		  "flags: 0x%x(zone=%s%s)\n%s"
		  "page dumped because: %s",
		  (unsigned long long)pfn, page ? page->_refcount : 0,
		  page ? page->mapcount : 0,
		  (unsigned long long)(!page || !page->mapping ? 0 :
				       page->mapping & PAGE_MAPPING_ANON ? 1 : 2),
		  (unsigned long long)(page && !(page->flags & PG_slab) ? page->index : 0),
		  (unsigned long long)pfn,
		  page ? page->flags & PG_reserved : 0, z ? z->name : "none",
		  page && (page->flags & PG_reserved) ? "|reserved" : "",
		  !page ? "" : PageBuddy(page) ? "page_type: buddy\n" :
		  page->flags & PG_slab ? "page_type: slab\n" :
		  page->flags & PG_large_kmalloc ? "page_type: large_kmalloc\n" : "", reason);
}

/*
** free_pages_check(): what __free_pages() would catch in Linux with
** CONFIG_DEBUG_VM -- put_page_testzero() on a page whose refcount is 0
** (a double free, a frame inside a free block or inside another
** allocation) and free_page_is_bad() (a reserved page) -- plus what only
** page_owner would know: the order the block was allocated with.
** Returns the reason, or NULL when the free is good.
*/
static const char *free_pages_check(memlab_machine *m, uint64_t pfn, unsigned order)
{
	const struct page *page;

	if (pfn >= m->nr_frames)
		return "pfn beyond the end of memory";
	page = pfn_to_page(m, pfn);
	if (page->flags & PG_reserved)
		return "PAGE_FLAGS_CHECK_AT_FREE flag(s) set";
	if (!(page->flags & PG_head_alloc) || page->_refcount == 0)
		return "VM_BUG_ON_PAGE(page_ref_count(page) == 0)";
	if (order > m->max_order || order != page->private)
		return "freed with an order other than the allocation's";
	if (page->mapcount || (page->flags & (PG_slab | PG_large_kmalloc | PG_table)))	/* page_bad_reason(): */
		return "nonzero mapcount";	/* a page type shares _mapcount */
	if (page->mapping)
		return "non-NULL mapping";
	return NULL;
}

int memlab_free_pages(memlab_machine *m, uint64_t pfn, unsigned order)
{
	const char *reason;
	struct page *page;
	struct zone *z;

	if (m->dead)
		return -MEMLAB_EIO;
	reason = free_pages_check(m, pfn, order);
	if (reason) {
		bad_page(m, pfn, reason);
		return -MEMLAB_EINVAL;
	}
	trace(m, TP_MM_PAGE_FREE, pfn, order, 0, 0);
	page = pfn_to_page(m, pfn);
	/* mappedtodisk, not_uptodate: the cache's, gone with it */
	page->flags &= ~(PG_head_alloc | PG_head | PG_mappedtodisk | PG_not_uptodate);
	page->private = 0;
	page->_refcount = 0;
	z = page_zone(m, pfn);
	free_unref_page(m, z, pfn, order);
	return 0;
}

/* ===================== boot: zones, reserves, watermarks ===================== */

static void zone_init(memlab_machine *m, int pos, int type,
		      uint64_t start, uint64_t end)
{
	struct zone *z = &m->zones[pos];

	z->name = zone_names[type];
	z->idx = type;
	if (end > start) {
		z->zone_start_pfn = start;
		z->spanned_pages = z->present_pages = end - start;
	}
	for (unsigned o = 0; o < NR_ORDERS_MAX; o++)
		for (int mt = 0; mt < MIGRATE_TYPES; mt++)
			z->free_area[o].free_list[mt].head =
				z->free_area[o].free_list[mt].tail = PFN_NONE;
}

/*
** setup_zone_pageset(): a pageset per CPU (alloc_percpu), empty, as the
** boot pageset; setup_per_zone_wmarks() sets their batch and high.
*/
static int setup_zone_pageset(memlab_machine *m, struct zone *z)
{
	z->per_cpu_pageset = ml_alloc(m, (size_t)m->nr_cpus * sizeof(*z->per_cpu_pageset));
	if (!z->per_cpu_pageset)
		return -MEMLAB_ENOMEM;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++)
		per_cpu_pages_init(per_cpu_pageset(z, cpu));
	return 0;
}

static uint64_t clamp_pfn(const memlab_machine *m, uint64_t bytes)
{
	uint64_t pfn = bytes >> m->page_shift;

	return pfn < m->nr_frames ? pfn : m->nr_frames;
}

/*
** The zone layout: x86-64 puts DMA below 16 MiB (from pfn 1: the BIOS
** keeps pfn 0), DMA32 below 4 GiB and Normal above (arch/x86/mm/init.c
** zone_sizes_init); arm64 with 4 GiB DMA limits has DMA below 4 GiB and an
** empty DMA32 (arch/arm64/mm/init.c).  A single-zone machine has only
** Normal, as a kernel built without ZONE_DMA and ZONE_DMA32 would.
** m->zones[] is indexed by position; z->idx is the zone type.
*/
static void zones_init(memlab_machine *m)
{
	uint64_t dma_end = clamp_pfn(m, m->arch == MEMLAB_ARCH_X86_64 ? 16ull << 20 : 4ull << 30);
	uint64_t dma32_end = clamp_pfn(m, 4ull << 30);

	m->first_pfn = m->arch == MEMLAB_ARCH_X86_64 ? 1 : 0;
	if (m->zone_layout == MEMLAB_ZONES_SINGLE) {
		m->nr_zones = 1;
		zone_init(m, 0, ZONE_NORMAL, m->first_pfn, m->nr_frames);
		return;
	}
	m->nr_zones = MAX_NR_ZONES;
	zone_init(m, ZONE_DMA, ZONE_DMA, m->first_pfn, dma_end);
	zone_init(m, ZONE_DMA32, ZONE_DMA32, dma_end, dma32_end);
	zone_init(m, ZONE_NORMAL, ZONE_NORMAL, dma32_end, m->nr_frames);
	zone_init(m, ZONE_MOVABLE, ZONE_MOVABLE, 0, 0);
	zone_init(m, ZONE_DEVICE, ZONE_DEVICE, 0, 0);
}

/*
** Boot-time reservations: pfn 0 on x86-64 (outside every zone), and the
** memmap -- 64 bytes of struct page per frame, as Linux's -- which
** memblock allocates top-down, at the end of RAM.  Reserved frames are
** present but not managed.
*/
static void reserve_boot_memory(memlab_machine *m)
{
	uint64_t memmap = (m->nr_frames * MEMMAP_BYTES_PER_PAGE + m->page_size - 1)
			  >> m->page_shift;

	m->memmap_start_pfn = m->nr_frames - memmap;
	for (uint64_t pfn = 0; pfn < m->first_pfn; pfn++)
		pfn_to_page(m, pfn)->flags |= PG_reserved;
	for (uint64_t pfn = m->memmap_start_pfn; pfn < m->nr_frames; pfn++)
		pfn_to_page(m, pfn)->flags |= PG_reserved;
	m->nr_reserved = m->first_pfn + memmap;
	m->vmstat[NR_MEMMAP_BOOT_PAGES] = memmap;
	/*
	 * The zero page lives in the kernel image, reserved memory that memlab
	 * does not lay out apart: the last reserved frame stands for it.
	 */
	m->zero_pfn = m->nr_frames - 1;
	m->huge_zero_pfn = PFN_NONE;
	m->deferred_split.head = m->deferred_split.tail = PFN_NONE;
	m->thp_enabled = 1;		/* "madvise", Debian's default */
	m->thp_use_zero_page = true;
	m->huge_anon_orders_inherit = 1ull << hpage_pmd_order(m);	/* every other size "never" */
}

/*
** memblock_free_all(): every unreserved frame goes to the buddy allocator
** in the largest aligned blocks, in ascending order, at the lists' tails
** (__free_pages_core with FPI_TO_TAIL).  Pageblocks start Movable.
*/
static void free_boot_memory(memlab_machine *m, struct zone *z)
{
	uint64_t pfn = z->zone_start_pfn, end = zone_end_pfn(z);

	if (end > m->memmap_start_pfn)
		end = m->memmap_start_pfn;
	while (pfn < end) {
		unsigned order = pfn ? (unsigned)__builtin_ctzll(pfn) : m->max_order;

		if (order > m->max_order)
			order = m->max_order;
		while (pfn + (1ull << order) > end)
			order--;
		z->managed_pages += 1ull << order;
		__free_one_page(m, z, pfn, order, MIGRATE_MOVABLE, true);
		m->vmstat[PGFREE] += 1ull << order;
		pfn += 1ull << order;
	}
}

static uint64_t int_sqrt(uint64_t x)
{
	uint64_t r = 0, bit = 1ull << 62;

	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

/*
** calculate_min_free_kbytes(): sqrt(16 * lowmem kB), clamped to
** 128..262144 -- unless the configuration gave a value.
*/
static void calculate_min_free_kbytes(memlab_machine *m)
{
	uint64_t lowmem_kbytes = 0, v;

	if (m->min_free_kbytes_user)
		return;
	for (int i = 0; i < m->nr_zones; i++)
		lowmem_kbytes += m->zones[i].managed_pages * (m->page_size >> 10);
	v = int_sqrt(lowmem_kbytes * 16);
	m->min_free_kbytes = (int64_t)(v < 128 ? 128 : v > 262144 ? 262144 : v);
}

/*
** set_recommended_min_free_kbytes() (mm/khugepaged.c), at boot and when
** transparent_hugepage/enabled is written: with THP on, room for two free
** pageblocks per zone and for fallbacks between the three mobility types
** (11 pageblocks a zone), up to 5% of the low memory -- min_free_kbytes
** rises to that (67584 kB on a 24 GiB x86-64 host; a configured value is
** kept); with THP off, the usual value.  The watermarks follow.
*/
void set_recommended_min_free_kbytes(memlab_machine *m)
{
	uint64_t nr_zones = 0, recommended, buffer = 0;

	if (!hugepage_pmd_enabled(m)) {
		calculate_min_free_kbytes(m);
	} else if (!m->min_free_kbytes_user) {
		for (int i = 0; i < m->nr_zones; i++) {
			const struct zone *z = &m->zones[i];

			if (!populated_zone(z) || z->idx > ZONE_NORMAL)
				continue;
			nr_zones++;
			if (z->managed_pages > high_wmark_pages(z))	/* nr_free_buffer_pages() */
				buffer += z->managed_pages - high_wmark_pages(z);
		}
		recommended = (1ull << m->pageblock_order) * nr_zones *
			      (2 + MIGRATE_PCPTYPES * MIGRATE_PCPTYPES);
		if (recommended > buffer / 20)
			recommended = buffer / 20;
		recommended <<= m->page_shift - 10;
		if ((int64_t)recommended > m->min_free_kbytes)
			m->min_free_kbytes = (int64_t)recommended;
	}
	setup_per_zone_wmarks(m);
}

/*
** __setup_per_zone_wmarks(): min_free_kbytes shared among the zones in
** proportion to their managed pages; low, high and promo each a further
** max(min/4, managed * watermark_scale_factor / 10000) above.
*/
void setup_per_zone_wmarks(memlab_machine *m)
{
	uint64_t pages_min = (uint64_t)m->min_free_kbytes >> (m->page_shift - 10);
	uint64_t lowmem_pages = 0;

	for (int i = 0; i < m->nr_zones; i++)
		if (m->zones[i].idx != ZONE_MOVABLE)
			lowmem_pages += m->zones[i].managed_pages;
	for (int i = 0; i < m->nr_zones; i++) {
		struct zone *z = &m->zones[i];
		uint64_t tmp = lowmem_pages ? pages_min * z->managed_pages / lowmem_pages : 0;

		if (z->idx == ZONE_MOVABLE) {	/* clamp(managed / 1024, 32, 128) */
			tmp = z->managed_pages / 1024;
			tmp = tmp < 32 ? 32 : tmp > 128 ? 128 : tmp;
		}
		z->_watermark[WMARK_MIN] = tmp;
		tmp = tmp >> 2;
		if (mult_frac(z->managed_pages, (uint64_t)m->watermark_scale_factor, 10000) > tmp)
			tmp = mult_frac(z->managed_pages, (uint64_t)m->watermark_scale_factor, 10000);
		z->watermark_boost = 0;
		z->_watermark[WMARK_LOW] = z->_watermark[WMARK_MIN] + tmp;
		z->_watermark[WMARK_HIGH] = z->_watermark[WMARK_LOW] + tmp;
		z->_watermark[WMARK_PROMO] = z->_watermark[WMARK_HIGH] + tmp;
		/* setup_per_zone_wmarks(): zone_pcp_update() for the new marks */
		zone_set_pageset_high_and_batch(m, z);
	}
}

/* setup_per_zone_lowmem_reserve(): what each zone keeps from higher zones' requests. */
static void setup_per_zone_lowmem_reserve(memlab_machine *m)
{
	for (int i = 0; i < m->nr_zones - 1; i++) {
		struct zone *z = &m->zones[i];
		int ratio = default_lowmem_reserve_ratio[z->idx];
		bool clear = !ratio || !z->managed_pages;
		uint64_t managed = 0;

		for (int j = i + 1; j < m->nr_zones; j++) {
			managed += m->zones[j].managed_pages;
			z->lowmem_reserve[j] = clear ? 0 : managed / (uint64_t)ratio;
		}
	}
}

/* build_all_zonelists(): mobility grouping is off when memory is tiny. */
static void set_mobility_grouping(memlab_machine *m)
{
	uint64_t total = 0;

	for (int i = 0; i < m->nr_zones; i++)
		if (m->zones[i].idx <= ZONE_NORMAL)
			total += m->zones[i].managed_pages;
	m->mobility_disabled = total < pageblock_nr_pages(m) * MIGRATE_TYPES;
}

int page_alloc_init(memlab_machine *m)
{
	memset(m->pageblock_mt, MIGRATE_MOVABLE, (size_t)((m->nr_frames >> m->pageblock_order) + 1));
	zones_init(m);
	for (int i = 0; i < m->nr_zones; i++)
		if (setup_zone_pageset(m, &m->zones[i]))
			return -MEMLAB_ENOMEM;
	reserve_boot_memory(m);
	for (int i = 0; i < m->nr_zones; i++)
		free_boot_memory(m, &m->zones[i]);
	set_mobility_grouping(m);
	m->min_free_kbytes_user = m->min_free_kbytes >= 0;
	calculate_min_free_kbytes(m);
	setup_per_zone_wmarks(m);
	setup_per_zone_lowmem_reserve(m);
	return 0;
}

/* The pagesets: after everything else is freed (nothing frees pages any more). */
void page_alloc_free(memlab_machine *m)
{
	for (int i = 0; i < m->nr_zones; i++) {
		struct zone *z = &m->zones[i];

		if (z->per_cpu_pageset)
			ml_free(m, z->per_cpu_pageset, (size_t)m->nr_cpus * sizeof(*z->per_cpu_pageset));
		z->per_cpu_pageset = NULL;
	}
}

/* ===================== inspection ===================== */

/* The CPU whose pageset of z holds the pcp block at head, -1 if none does. */
static int pcp_block_cpu(memlab_machine *m, const struct zone *z, uint64_t head,
			 unsigned order)
{
	if (m->nr_cpus == 1)
		return 0;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		const struct per_cpu_pages *pcp = per_cpu_pageset(z, cpu);

		for (unsigned pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
			if (pindex_to_order(m, pindex) != order)
				continue;
			for (uint64_t pfn = pcp->lists[pindex].head; pfn != PFN_NONE;
			     pfn = pfn_to_page(m, pfn)->lru_next)
				if (pfn == head)
					return cpu;
		}
	}
	return -1;
}

/* The head of the free or pcp block pfn lies in: some aligned head above covers it. */
static bool free_block_head(memlab_machine *m, uint64_t pfn, uint64_t *head)
{
	for (unsigned o = 0; o <= m->max_order; o++) {
		uint64_t h = pfn & ~((1ull << o) - 1);
		const struct page *hp = pfn_to_page(m, h);

		if ((hp->flags & (PG_buddy | PG_pcp)) && hp->private >= o &&
		    h + (1ull << hp->private) > pfn) {
			*head = h;
			return true;
		}
	}
	return false;
}

int memlab_page_info(const memlab_machine *cm, uint64_t pfn, struct memlab_page_info *info)
{
	memlab_machine *m = (memlab_machine *)cm;
	const struct page *page, *own;
	const struct zone *z;
	uint64_t head;

	if (pfn >= m->nr_frames)
		return -MEMLAB_EINVAL;
	memset(info, 0, sizeof(*info));
	own = pfn_to_page(m, pfn);
	info->folio = folio_pfn(m, pfn);
	page = pfn_to_page(m, info->folio);
	if (!page->mapping) {		/* not a huge page's: the frame's own descriptor */
		info->folio = pfn;
		page = own;
	}
	z = page_zone(m, pfn);
	info->pfn = pfn;
	info->zone = z ? z->idx : -1;
	info->pcp_cpu = -1;
	info->buddy = PageBuddy(own);
	info->reserved = !!(own->flags & PG_reserved);
	info->refcount = page->_refcount;
	info->mapcount = own->mapcount + folio_entire_mapcount(page);
	info->entire_mapcount = folio_entire_mapcount(page);
	info->anon = page->mapping && (page->mapping & PAGE_MAPPING_ANON);
	info->file = page->mapping && !info->anon;
	info->dirty = !!(page->flags & PG_dirty);
	info->swapbacked = !!(page->flags & PG_swapbacked);
	info->lru = !!(page->flags & PG_lru);
	info->anon_exclusive = !!(own->flags & PG_anon_exclusive);
	info->active = !!(page->flags & PG_active);
	info->referenced = !!(page->flags & PG_referenced);
	info->reclaim = !!(page->flags & PG_reclaim);
	info->workingset = !!(page->flags & PG_workingset);
	info->unevictable = !!(page->flags & PG_unevictable);
	info->mlocked = !!(page->flags & PG_mlocked);
	info->swapcache = !!(page->flags & PG_swapcache);
	info->lru_list = info->lru ? lru_list_name(folio_lru_list(page)) : NULL;
	info->slab = !!(page->flags & PG_slab);
	info->large_kmalloc = !!(page->flags & PG_large_kmalloc);
	info->index = info->slab ? 0 : page->index + (pfn - info->folio);	/* a slab's holds its descriptor */
	info->pageblock_migratetype = get_pfnblock_migratetype(m, pfn);
	if (page->flags & (PG_buddy | PG_head_alloc | PG_pcp))
		info->order = page->private;
	if (z && free_block_head(m, pfn, &head)) {
		const struct page *hp = pfn_to_page(m, head);

		info->free = PageBuddy(hp);
		info->pcp = !!(hp->flags & PG_pcp);
		info->order = hp->private;
		if (info->pcp)
			info->pcp_cpu = pcp_block_cpu(m, z, head, hp->private);
	}
	return 0;
}

/* is_free_buddy_page(): pfn lies in a free block of the buddy lists. */
bool is_free_buddy_page(memlab_machine *m, uint64_t pfn)
{
	uint64_t head;

	return page_zone(m, pfn) && free_block_head(m, pfn, &head) &&
	       PageBuddy(pfn_to_page(m, head));
}

/* ===================== invariants ===================== */

struct check_ctx {
	memlab_machine *m;
	struct ml_check v;
	uint8_t *covered;		/* one bit per frame inside a free block */
};

#define violation(c, ...)	ml_violation(&(c)->v, __VA_ARGS__)

static bool test_and_cover(struct check_ctx *c, uint64_t pfn)
{
	uint8_t bit = (uint8_t)(1u << (pfn & 7));
	bool was = c->covered[pfn >> 3] & bit;

	c->covered[pfn >> 3] |= bit;
	return was;
}

/* One free block on list (order, mt) of zone z: where it may be and what it holds. */
static void check_free_block(struct check_ctx *c, const struct zone *z, uint64_t pfn,
			     unsigned order, int mt)
{
	memlab_machine *m = c->m;
	const struct page *page = pfn_to_page(m, pfn);
	uint64_t nr = 1ull << order, i;

	if (!PageBuddy(page) || buddy_order(page) != order)
		violation(c, "%s: free block pfn %#llx on the order-%u list is not PageBuddy of that order",
			  z->name, (unsigned long long)pfn, order);
	if (pfn & (nr - 1))
		violation(c, "%s: free block pfn %#llx is not aligned to order %u",
			  z->name, (unsigned long long)pfn, order);
	if (pfn < z->zone_start_pfn || pfn + nr > zone_end_pfn(z)) {
		violation(c, "%s: free block pfn %#llx order %u lies outside the zone",
			  z->name, (unsigned long long)pfn, order);
		return;
	}
	for (i = 0; i < nr; i += pageblock_nr_pages(m))
		if (get_pfnblock_migratetype(m, pfn + i) != mt)
			violation(c, "%s: free block pfn %#llx on the %s list lies in a %s pageblock",
				  z->name, (unsigned long long)(pfn + i), memlab_migratetype_name(mt),
				  memlab_migratetype_name(get_pfnblock_migratetype(m, pfn + i)));
	for (i = 0; i < nr; i++) {
		const struct page *p = pfn_to_page(m, pfn + i);

		if (test_and_cover(c, pfn + i))
			violation(c, "%s: frame %#llx is in two free blocks", z->name,
				  (unsigned long long)(pfn + i));
		if (p->flags & (PG_reserved | PG_head_alloc | PG_pcp) || p->_refcount)
			violation(c, "%s: frame %#llx in a free block is reserved, allocated or on a pcp list",
				  z->name, (unsigned long long)(pfn + i));
		if (i && (p->flags & PG_buddy))
			violation(c, "%s: frame %#llx inside a free block is PageBuddy",
				  z->name, (unsigned long long)(pfn + i));
		else if (p->flags & ~(PG_buddy | PG_reserved | PG_head_alloc | PG_pcp))
			violation(c, "%s: frame %#llx in a free block keeps page flags %#x "
				  "(PAGE_FLAGS_CHECK_AT_FREE)", z->name,
				  (unsigned long long)(pfn + i), p->flags & ~PG_buddy);
	}
	if (order < m->max_order && page_is_buddy(m, z, pfn ^ nr, order) &&
	    (order < m->pageblock_order ||
	     (migratetype_is_mergeable(mt) &&
	      migratetype_is_mergeable(get_pfnblock_migratetype(m, pfn ^ nr)))))
		violation(c, "%s: free buddies pfn %#llx and %#llx of order %u are not merged",
			  z->name, (unsigned long long)pfn, (unsigned long long)(pfn ^ nr), order);
}

/* Walk one free list: links, counts, and every block on it. */
static uint64_t check_free_list(struct check_ctx *c, const struct zone *z,
				unsigned order, int mt)
{
	const struct free_list *fl = &z->free_area[order].free_list[mt];
	uint64_t n = 0, prev = PFN_NONE, pfn;

	for (pfn = fl->head; pfn != PFN_NONE; pfn = pfn_to_page(c->m, pfn)->lru_next) {
		if (pfn >= c->m->nr_frames || n > c->m->nr_frames) {
			violation(c, "%s: order-%u %s list is corrupt at pfn %#llx", z->name, order,
				  memlab_migratetype_name(mt), (unsigned long long)pfn);
			return n;
		}
		if (pfn_to_page(c->m, pfn)->lru_prev != prev)
			violation(c, "%s: order-%u %s list: pfn %#llx has a wrong back link", z->name,
				  order, memlab_migratetype_name(mt), (unsigned long long)pfn);
		check_free_block(c, z, pfn, order, mt);
		prev = pfn;
		n++;
	}
	if (fl->tail != prev)
		violation(c, "%s: order-%u %s list tail is wrong", z->name, order,
			  memlab_migratetype_name(mt));
	if (n != z->free_area[order].nr_free_mt[mt])
		violation(c, "%s: order-%u %s list holds %llu blocks, its count says %llu", z->name,
			  order, memlab_migratetype_name(mt), (unsigned long long)n,
			  (unsigned long long)z->free_area[order].nr_free_mt[mt]);
	return n;
}

/* A zone's lists against its counters. */
static uint64_t check_zone_free(struct check_ctx *c, const struct zone *z)
{
	uint64_t free = 0, highatomic = 0, blocks = 0;

	for (unsigned o = 0; o <= c->m->max_order; o++) {
		uint64_t nr_free = 0;

		for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
			uint64_t n = check_free_list(c, z, o, mt);

			nr_free += n;
			if (mt == MIGRATE_ISOLATE)
				continue;
			free += n << o;
			if (mt == MIGRATE_HIGHATOMIC)
				highatomic += n << o;
			if (o >= c->m->pageblock_order)
				blocks += n << o;
		}
		if (nr_free != z->free_area[o].nr_free)
			violation(c, "%s: free_area[%u].nr_free is %llu, the lists hold %llu", z->name,
				  o, (unsigned long long)z->free_area[o].nr_free,
				  (unsigned long long)nr_free);
	}
	if (free != z->nr_free_pages)
		violation(c, "%s: NR_FREE_PAGES is %llu, the lists hold %llu pages", z->name,
			  (unsigned long long)z->nr_free_pages, (unsigned long long)free);
	if (highatomic != z->nr_free_highatomic)
		violation(c, "%s: nr_free_highatomic is %llu, the lists hold %llu", z->name,
			  (unsigned long long)z->nr_free_highatomic, (unsigned long long)highatomic);
	if (blocks != z->nr_free_pages_blocks)
		violation(c, "%s: nr_free_pages_blocks is %llu, the lists hold %llu", z->name,
			  (unsigned long long)z->nr_free_pages_blocks, (unsigned long long)blocks);
	return free;
}

/* One block on pcp list pindex: a PG_pcp head of the list's order, holding nothing else. */
static void check_pcp_block(struct check_ctx *c, const struct zone *z, uint64_t pfn,
			    unsigned pindex)
{
	memlab_machine *m = c->m;
	unsigned order = pindex_to_order(m, pindex);
	const struct page *page = pfn_to_page(m, pfn);
	uint64_t nr = 1ull << order;

	if (!(page->flags & PG_pcp) || page->private != order)
		violation(c, "%s: pcp block pfn %#llx on the order-%u list is not PG_pcp of that order",
			  z->name, (unsigned long long)pfn, order);
	if ((pfn & (nr - 1)) || pfn < z->zone_start_pfn || pfn + nr > zone_end_pfn(z)) {
		violation(c, "%s: pcp block pfn %#llx order %u is misaligned or outside the zone",
			  z->name, (unsigned long long)pfn, order);
		return;
	}
	for (uint64_t i = 0; i < nr; i++) {
		const struct page *p = pfn_to_page(m, pfn + i);

		if (test_and_cover(c, pfn + i))
			violation(c, "%s: frame %#llx of a pcp block is also free or on another pcp list",
				  z->name, (unsigned long long)(pfn + i));
		if (p->flags & (PG_reserved | PG_head_alloc | PG_buddy) || p->_refcount)
			violation(c, "%s: frame %#llx on a pcp list is reserved, allocated or PageBuddy",
				  z->name, (unsigned long long)(pfn + i));
		if (i && (p->flags & PG_pcp))
			violation(c, "%s: frame %#llx inside a pcp block is PG_pcp",
				  z->name, (unsigned long long)(pfn + i));
	}
}

/* Walk one pcp list of cpu's pageset: links and blocks; returns the pages on it. */
static uint64_t check_pcp_list(struct check_ctx *c, const struct zone *z, int cpu,
			       unsigned pindex)
{
	const struct free_list *list = &per_cpu_pageset(z, cpu)->lists[pindex];
	uint64_t n = 0, prev = PFN_NONE, pfn;

	for (pfn = list->head; pfn != PFN_NONE; pfn = pfn_to_page(c->m, pfn)->lru_next) {
		if (pfn >= c->m->nr_frames || n > c->m->nr_frames) {
			violation(c, "%s: cpu %d pcp list %u is corrupt at pfn %#llx", z->name, cpu,
				  pindex, (unsigned long long)pfn);
			return n;
		}
		if (pfn_to_page(c->m, pfn)->lru_prev != prev)
			violation(c, "%s: cpu %d pcp list %u: pfn %#llx has a wrong back link",
				  z->name, cpu, pindex, (unsigned long long)pfn);
		check_pcp_block(c, z, pfn, pindex);
		prev = pfn;
		n += 1ull << pindex_to_order(c->m, pindex);
	}
	if (list->tail != prev)
		violation(c, "%s: cpu %d pcp list %u tail is wrong", z->name, cpu, pindex);
	return n;
}

/*
** A zone's pagesets: each CPU's lists against its pcp->count.  A block on
** two CPUs' lists, or on a list and free, is caught by check_pcp_block's
** cover bits; NR_FREE_PAGES (check_zone_free) counts none of them.
*/
static void check_zone_pcp(struct check_ctx *c, const struct zone *z)
{
	for (int cpu = 0; cpu < c->m->nr_cpus; cpu++) {
		const struct per_cpu_pages *pcp = per_cpu_pageset(z, cpu);
		uint64_t n = 0;

		for (unsigned pindex = 0; pindex < NR_PCP_LISTS; pindex++)
			n += check_pcp_list(c, z, cpu, pindex);
		if (n != (uint64_t)pcp->count)
			violation(c, "%s: cpu %d pcp count is %d, the lists hold %llu pages",
				  z->name, cpu, pcp->count, (unsigned long long)n);
		if (c->m->pcp_disabled && n)
			violation(c, "%s: cpu %d pcp is disabled but holds %llu pages", z->name,
				  cpu, (unsigned long long)n);
	}
}

/*
** Every frame accounted for exactly once: inside a free block, on a pcp
** list, inside an allocation (headed by PG_head_alloc), or reserved.
*/
static void check_frames(struct check_ctx *c)
{
	memlab_machine *m = c->m;
	uint64_t pfn = 0, managed = 0;

	for (int i = 0; i < m->nr_zones; i++)
		managed += m->zones[i].managed_pages;
	if (managed + m->nr_reserved != m->nr_frames)
		violation(c, "managed %llu + reserved %llu frames != %llu frames of RAM",
			  (unsigned long long)managed, (unsigned long long)m->nr_reserved,
			  (unsigned long long)m->nr_frames);
	while (pfn < m->nr_frames) {
		const struct page *p = pfn_to_page(m, pfn);
		uint64_t nr;

		if (c->covered[pfn >> 3] & (1u << (pfn & 7))) {
			pfn++;
			continue;
		}
		if (p->flags & PG_reserved) {
			pfn++;
			continue;
		}
		if (!(p->flags & PG_head_alloc)) {
			violation(c, p->flags & PG_pcp ? "frame %#llx is PG_pcp but on no pcp list"
				  : p->flags & PG_buddy ? "frame %#llx is PageBuddy but on no free list"
				  : "frame %#llx is neither free, on a pcp list, allocated nor reserved",
				  (unsigned long long)pfn);
			pfn++;
			continue;
		}
		nr = 1ull << p->private;
		if (p->private > m->max_order || (pfn & (nr - 1)) || pfn + nr > m->nr_frames) {
			violation(c, "allocation at pfn %#llx has a bad order %u",
				  (unsigned long long)pfn, p->private);
			nr = 1;
		}
		if ((p->flags & PG_head) && !p->private)
			violation(c, "order-0 allocation at pfn %#llx is a compound head (PG_head)",
				  (unsigned long long)pfn);
		if ((p->flags & PG_table) && (p->private || p->mapping || p->mapcount))
			violation(c, "page table pfn %#llx is not an unmapped order-0 page (order %u, "
				  "mapcount %d%s)", (unsigned long long)pfn, p->private, p->mapcount,
				  p->mapping ? ", a mapping" : "");
		for (uint64_t i = 1; i < nr; i++)
			if (pfn_to_page(m, pfn + i)->flags & (PG_head_alloc | PG_buddy | PG_pcp | PG_reserved |
							     PG_head | PG_table) ||
			    (c->covered[(pfn + i) >> 3] & (1u << ((pfn + i) & 7))))
				violation(c, "frame %#llx inside the order-%u allocation at %#llx is also free, reserved or allocated",
					  (unsigned long long)(pfn + i), p->private, (unsigned long long)pfn);
		pfn += nr;
	}
}

/*
** A zone's boost stays within what boost_watermark allows: max_boost
** under the factor of its last boost (a later write of the sysctl leaves
** a boost in place, as Linux's does), and 0 in a zone never boosted.
*/
static void check_zone_boost(struct check_ctx *c, const struct zone *z)
{
	uint64_t max_boost = 0;

	if (!zone_max_boost(c->m, z, z->boost_factor, &max_boost))
		max_boost = 0;
	if (z->watermark_boost > max_boost)
		violation(c, "%s: watermark_boost %llu is above max_boost %llu",
			  z->name, (unsigned long long)z->watermark_boost,
			  (unsigned long long)max_boost);
}

/* The page allocator's part of memlab_check(); returns the violations found. */
int page_alloc_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct check_ctx c = { m, { fn, ud, 0 }, NULL };
	uint64_t free = 0;

	c.covered = ml_alloc(m, (size_t)(m->nr_frames >> 3) + 1);
	if (!c.covered) {
		violation(&c, "check: out of host memory");
		return c.v.count;
	}
	for (int i = 0; i < m->nr_zones; i++) {
		free += check_zone_free(&c, &m->zones[i]);
		check_zone_pcp(&c, &m->zones[i]);
		check_zone_boost(&c, &m->zones[i]);
	}
	if (free != m->vmstat[NR_FREE_PAGES])
		violation(&c, "vmstat nr_free_pages is %llu, the zones hold %llu",
			  (unsigned long long)m->vmstat[NR_FREE_PAGES], (unsigned long long)free);
	check_frames(&c);
	ml_free(m, c.covered, (size_t)(m->nr_frames >> 3) + 1);
	return c.v.count;
}
