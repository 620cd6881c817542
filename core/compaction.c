/*
** compaction.c -- memory compaction (mm/compaction.c, Linux 6.x): make
** free blocks of high order by migrating movable pages out of the way.
**
** Two scanners walk a zone towards each other.  The migrate scanner goes
** up from the zone's start, pageblock by pageblock, isolating LRU pages
** (isolate_migratepages, COMPACT_CLUSTER_MAX pages at a time, or the rest
** of a pageblock it must finish); the free
** scanner goes down from the zone's last pageblock, taking free buddy
** blocks off the free lists as targets (isolate_freepages).  Pages move from
** low to high frames (migrate.c), so free memory gathers at the bottom.
** A run ends when the scanners meet (COMPACT_COMPLETE, or
** COMPACT_PARTIAL_SKIPPED when it did not start at the zone's start) or,
** for an allocation, when a free block of its order exists on a list it
** may use (COMPACT_SUCCESS).  Direct compaction (try_to_compact_pages,
** called from the allocator's slow path) first asks compaction_suitable()
** and defers a zone after failures (defer_compaction); writing
** /proc/sys/vm/compact_memory (memlab_compact_memory) compacts every zone
** whole, synchronously.
**
** Large folios smaller than the order sought (any below a pageblock's, for
** compact_memory) move whole (6.10+), each to a target block of its
** order.  The free scanner stops when its targets cover the pages to
** move, not the blocks, so a folio may find no block of its order and is
** split (migrate.c): the host split most of the 64K folios that
** compact_memory moved.
**
** Simplified, and so counting fewer pages scanned than Linux in places:
**  - no pageblock skip bits (every run is ignore_skip_hint), so
**    __reset_isolation_suitable has nothing to reset: the init pfns are
**    the zone's ends.
**  - no fast_find_migrateblock / fast_isolate_freepages (the free-list
**    searches of 5.6+): both scanners are linear.
**  - no capture_control: the allocator looks for its page after the run.
**  - too_many_isolated() is not checked: nothing else isolates pages
**    while compaction runs.
**  - kcompactd runs when the operation that woke it returns (kswapd wakes
**    it as Linux's does); no proactive compaction (it is timed).
*/
#include <limits.h>
#include <string.h>

#include "mm.h"

#define COMPACT_CLUSTER_MAX	32	/* SWAP_CLUSTER_MAX */
#define COMPACT_MAX_DEFER_SHIFT	6
#define COMPACT_ORDER_ALL	(-1)	/* is_via_compact_memory() */
#define EXTFRAG_THRESHOLD	500	/* vm.extfrag_threshold, its default */

enum isolate_migrate { ISOLATE_ABORT, ISOLATE_NONE, ISOLATE_SUCCESS };

struct compact_control {
	memlab_machine *m;
	struct zone *zone;
	int order;				/* -1: compact every page */
	uint32_t gfp_mask;
	int migratetype;			/* of the allocation */
	enum migrate_mode mode;
	unsigned alloc_flags;
	int highest_zoneidx;
	bool direct_compaction, whole_zone, ignore_skip_hint, ignore_block_suitable;
	bool finish_pageblock;			/* scan the pageblock to its end */
	uint64_t migrate_pfn, free_pfn;		/* the scanners */
	uint64_t total_migrate_scanned, total_free_scanned;
	uint64_t nr_freepages;			/* pages on freepages[] */
	unsigned nr_migratepages;		/* pages in migratepages[], less targets taken */
	uint64_t *migratepages;			/* isolated folios (Linux's cc->migratepages list) */
	unsigned nr_folios;			/* entries of migratepages[] */
	unsigned migrate_cap;			/* its room: a cluster, or a pageblock to finish */
	/* isolated free blocks by order, linked through lru_next (PFN_NONE ends) */
	uint32_t freepages[NR_ORDERS_MAX];
};

static const char *const compact_result_names[] = {
	"not_suitable_zone", "skipped", "deferred", "no_suitable_page", "continue",
	"complete", "partial_skipped", "contended", "success",
};

/* The name the compaction tracepoints print for an enum compact_result. */
const char *compact_result_name(int result)
{
	if (result < 0 || result > COMPACT_SUCCESS)
		return NULL;
	return compact_result_names[result];
}

/* ===================== pageblocks ===================== */

static inline uint64_t pageblock_nr(const memlab_machine *m)
{
	return 1ull << m->pageblock_order;
}

static inline uint64_t pageblock_start(const memlab_machine *m, uint64_t pfn)
{
	return pfn & ~(pageblock_nr(m) - 1);
}

static inline uint64_t pageblock_end(const memlab_machine *m, uint64_t pfn)
{
	return pageblock_start(m, pfn) + pageblock_nr(m);
}

/* block_end_pfn(pfn, order): the end of the 2^order-aligned block holding pfn. */
static inline uint64_t block_end_pfn(uint64_t pfn, int order)
{
	uint64_t n = 1ull << (order > 0 ? order : 0);

	return (pfn + n) & ~(n - 1);
}

/* pageblock_pfn_to_page(): the first page of [start, end) if all of it lies in the zone. */
static struct page *pageblock_pfn_to_page(memlab_machine *m, uint64_t start, uint64_t end,
					  const struct zone *z)
{
	if (start < z->zone_start_pfn || end > zone_end_pfn(z) || start >= end)
		return NULL;
	return pfn_to_page(m, start);
}

/* PageCompound(): the head of an allocation of order > 0 (memlab has no tail marks). */
static inline bool page_compound(const struct page *p)
{
	return (p->flags & PG_head_alloc) && p->private > 0;
}

static bool is_migrate_movable(int mt)
{
	return mt == MIGRATE_MOVABLE;	/* or MIGRATE_CMA, which memlab lacks */
}

static inline bool compact_scanners_met(const struct compact_control *cc)
{
	unsigned shift = cc->m->pageblock_order;

	return (cc->free_pfn >> shift) <= (cc->migrate_pfn >> shift);
}

/* ===================== deferral ===================== */

static void trace_defer(memlab_machine *m, int id, const struct zone *z, int order)
{
	tracev(m, id, 0, (uint64_t)z->idx, (uint64_t)(int64_t)order, z->compact_considered,
	       z->compact_defer_shift, (uint64_t)(int64_t)z->compact_order_failed);
}

/* defer_compaction(): a failed run makes the next 1 << shift attempts skip the zone. */
static void defer_compaction(memlab_machine *m, struct zone *z, int order)
{
	z->compact_considered = 0;
	z->compact_defer_shift++;
	if (order < z->compact_order_failed)
		z->compact_order_failed = order;
	if (z->compact_defer_shift > COMPACT_MAX_DEFER_SHIFT)
		z->compact_defer_shift = COMPACT_MAX_DEFER_SHIFT;
	trace_defer(m, TP_MM_COMPACTION_DEFER_COMPACTION, z, order);
}

/* compaction_deferred(): whether to skip the zone this time. */
static bool compaction_deferred(memlab_machine *m, struct zone *z, int order)
{
	unsigned defer_limit = 1u << z->compact_defer_shift;

	if (order < z->compact_order_failed)
		return false;
	if (++z->compact_considered >= defer_limit) {
		z->compact_considered = defer_limit;
		return false;
	}
	trace_defer(m, TP_MM_COMPACTION_DEFERRED, z, order);
	return true;
}

/*
** compaction_defer_reset(): an allocation of order succeeded after
** compaction (alloc_success) or compaction said it would: orders up to it
** are no longer deferred.
*/
void compaction_defer_reset(memlab_machine *m, struct zone *z, int order, bool alloc_success)
{
	if (alloc_success) {
		z->compact_considered = 0;
		z->compact_defer_shift = 0;
	}
	if (order >= z->compact_order_failed)
		z->compact_order_failed = order + 1;
	trace_defer(m, TP_MM_COMPACTION_DEFER_RESET, z, order);
}

static void reset_cached_positions(memlab_machine *m, struct zone *z)
{
	z->compact_cached_migrate_pfn[0] = z->zone_start_pfn;
	z->compact_cached_migrate_pfn[1] = z->zone_start_pfn;
	z->compact_cached_free_pfn = pageblock_start(m, zone_end_pfn(z) - 1);
}

/* Boot: the scanners' cached positions at the zone's ends (no skip bits: see the header). */
void compaction_init(memlab_machine *m)
{
	m->kcompactd.highest_zoneidx = m->nr_zones - 1;
	for (int i = 0; i < m->nr_zones; i++) {
		struct zone *z = &m->zones[i];

		if (!populated_zone(z))
			continue;
		reset_cached_positions(m, z);
		z->compact_init_migrate_pfn = z->zone_start_pfn;
		z->compact_init_free_pfn = z->compact_cached_free_pfn;
	}
}

/* update_cached_migrate(): a pageblock scanned to its end need not be scanned again. */
static void update_cached_migrate(struct compact_control *cc, uint64_t pfn)
{
	struct zone *z = cc->zone;

	pfn = pageblock_end(cc->m, pfn);
	if (pfn > z->compact_cached_migrate_pfn[0])
		z->compact_cached_migrate_pfn[0] = pfn;
	if (cc->mode != MIGRATE_ASYNC && pfn > z->compact_cached_migrate_pfn[1])
		z->compact_cached_migrate_pfn[1] = pfn;
}

/* ===================== the migrate scanner ===================== */

enum scan_verdict { SCAN_SKIP, SCAN_FAIL, SCAN_TAKEN };

/*
** skip_isolation_on_order(): a large folio is migrated whole only to make
** a free block larger than itself (6.10+): not for an allocation of its
** order or less, whose free block would have been found, and never one
** of a pageblock or more.
*/
static bool skip_isolation_on_order(const struct compact_control *cc, unsigned order)
{
	if (cc->order != COMPACT_ORDER_ALL && order >= (unsigned)cc->order)
		return true;
	return order >= cc->m->pageblock_order;
}

/*
** isolate_migratepages_block()'s test of the page at pfn: a free block is
** stepped over (*extra: its other frames), a large allocation too, as a
** failure, unless it is a large folio compaction may move; an LRU folio
** is taken off its list unless it is anonymous and pinned beyond its
** mappings, a file's or the swap cache's for a caller without __GFP_FS,
** or (async) under writeback -- which memlab never is.  Unevictable
** folios are taken (vm.compact_unevictable_allowed = 1).
*/
static enum scan_verdict isolate_one(struct compact_control *cc, uint64_t pfn, uint64_t *extra)
{
	memlab_machine *m = cc->m;
	struct page *page = pfn_to_page(m, pfn);
	bool mapping;

	*extra = 0;
	if (page->flags & PG_buddy) {
		if (page->private > 0 && page->private <= m->max_order)
			*extra = (1ull << page->private) - 1;
		return SCAN_SKIP;
	}
	if (page_compound(page)) {
		if (page->private <= m->max_order)
			*extra = (1ull << page->private) - 1;
		if (skip_isolation_on_order(cc, page->private))
			return SCAN_FAIL;
	}
	if (!(page->flags & PG_lru) || page->_refcount <= 0)
		return SCAN_FAIL;
	/* folio_mapping(): a file's, or the swap cache's for anon in it */
	mapping = (page->mapping && !page_anon(page)) || (page->flags & PG_swapcache);
	if (!mapping && page->_refcount > folio_mapcount(page))
		return SCAN_FAIL;	/* pinned: folio_ref_count - 1 > folio_mapcount */
	if (mapping && !(cc->gfp_mask & MEMLAB___GFP_FS))
		return SCAN_FAIL;	/* only anon pages without fs locks */
	if (cc->nr_folios >= cc->migrate_cap || !folio_isolate_lru(m, page))
		return SCAN_FAIL;
	cc->migratepages[cc->nr_folios++] = pfn;
	cc->nr_migratepages += (unsigned)folio_nr_pages(page);
	return SCAN_TAKEN;
}

/* isolate_fail with skip_on_failure: what was isolated in this order-block goes back. */
static void isolate_abandon(struct compact_control *cc, unsigned *nr_isolated)
{
	putback_movable_pages(cc->m, cc->migratepages, cc->nr_folios);
	cc->nr_folios = cc->nr_migratepages = 0;
	*nr_isolated = 0;
}

/*
** isolate_migratepages_block(): isolate pages of [low_pfn, end_pfn) for
** migration, stopping at COMPACT_CLUSTER_MAX.  Async direct compaction
** gives up an order-aligned block at its first page that cannot move
** (skip_on_failure): such a block could not become free anyway.
*/
static void isolate_migratepages_block(struct compact_control *cc, uint64_t low_pfn,
				       uint64_t end_pfn)
{
	uint64_t start_pfn = low_pfn, nr_scanned = 0, next_skip_pfn = 0, extra;
	unsigned nr_isolated = 0;
	bool skip_on_failure = cc->direct_compaction && cc->mode == MIGRATE_ASYNC;

	if (skip_on_failure)
		next_skip_pfn = block_end_pfn(low_pfn, cc->order);
	for (; low_pfn < end_pfn; low_pfn++) {
		enum scan_verdict v;

		if (skip_on_failure && low_pfn >= next_skip_pfn) {
			if (nr_isolated)
				break;
			next_skip_pfn = block_end_pfn(low_pfn, cc->order);
		}
		nr_scanned++;
		v = isolate_one(cc, low_pfn, &extra);
		low_pfn += extra;
		nr_scanned += extra;
		if (v == SCAN_SKIP)
			continue;
		if (v == SCAN_TAKEN) {
			nr_isolated += extra + 1;
			if (cc->nr_migratepages >= COMPACT_CLUSTER_MAX && !cc->finish_pageblock) {
				++low_pfn;
				break;
			}
			continue;
		}
		if (!skip_on_failure)
			continue;
		if (nr_isolated)
			isolate_abandon(cc, &nr_isolated);
		if (low_pfn < next_skip_pfn) {
			low_pfn = next_skip_pfn - 1;
			next_skip_pfn += 1ull << cc->order;
		}
	}
	if (low_pfn > end_pfn)
		low_pfn = end_pfn;
	if (low_pfn == end_pfn && (!nr_isolated || cc->finish_pageblock))
		update_cached_migrate(cc, low_pfn);
	trace(cc->m, TP_MM_COMPACTION_ISOLATE_MIGRATEPAGES, start_pfn, low_pfn, nr_scanned,
	      nr_isolated);
	cc->total_migrate_scanned += nr_scanned;
	cc->m->vmstat[COMPACTISOLATED] += nr_isolated;
	cc->migrate_pfn = low_pfn;
}

/*
** suitable_migration_source(): a pageblock that a huge page fills is
** never a source; async direct compaction takes only pageblocks of the
** allocation's own mobility, so as not to pollute others.
*/
static bool suitable_migration_source(struct compact_control *cc, const struct page *page)
{
	int block_mt;

	if (page_compound(page) && page->private >= cc->m->pageblock_order)
		return false;		/* pageblock_skip_persistent() */
	if (cc->mode != MIGRATE_ASYNC || !cc->direct_compaction)
		return true;
	block_mt = get_pfnblock_migratetype(cc->m, page_to_pfn(cc->m, page));
	if (cc->migratetype == MIGRATE_MOVABLE)
		return is_migrate_movable(block_mt);
	return block_mt == cc->migratetype;
}

/*
** isolate_migratepages(): from the migrate scanner's position, the first
** suitable pageblock below the free scanner gets isolate_migratepages_block.
*/
static enum isolate_migrate isolate_migratepages(struct compact_control *cc)
{
	memlab_machine *m = cc->m;
	uint64_t low_pfn = cc->migrate_pfn;
	uint64_t block_start = pageblock_start(m, low_pfn);
	uint64_t block_end = pageblock_end(m, low_pfn);

	if (block_start < cc->zone->zone_start_pfn)
		block_start = cc->zone->zone_start_pfn;
	for (; block_end <= cc->free_pfn; cc->migrate_pfn = low_pfn = block_end,
	     block_start = block_end, block_end += pageblock_nr(m)) {
		struct page *page = pageblock_pfn_to_page(m, block_start, block_end, cc->zone);

		if (!page)
			continue;
		if (!suitable_migration_source(cc, page)) {
			update_cached_migrate(cc, block_end);
			continue;
		}
		isolate_migratepages_block(cc, low_pfn, block_end);
		break;
	}
	return cc->nr_folios ? ISOLATE_SUCCESS : ISOLATE_NONE;
}

/* ===================== the free scanner ===================== */

static void freepages_push(struct compact_control *cc, uint64_t pfn, unsigned order)
{
	struct page *page = pfn_to_page(cc->m, pfn);

	page->private = order;
	page->lru_next = cc->freepages[order];
	cc->freepages[order] = (uint32_t)pfn;
}

static uint64_t freepages_pop(struct compact_control *cc, unsigned order)
{
	uint64_t pfn = cc->freepages[order];

	cc->freepages[order] = pfn_to_page(cc->m, pfn)->lru_next;
	return pfn;
}

/*
** isolate_freepages_block(): take free blocks from [*start_pfn, end_pfn),
** looking at every stride-th frame, until there are targets for every
** isolated page; *start_pfn becomes where the scan stopped.
*/
static uint64_t isolate_freepages_block(struct compact_control *cc, uint64_t *start_pfn,
					uint64_t end_pfn, unsigned stride)
{
	memlab_machine *m = cc->m;
	uint64_t blockpfn = *start_pfn, nr_scanned = 0, total_isolated = 0;

	for (; blockpfn < end_pfn; blockpfn += stride) {
		struct page *page = pfn_to_page(m, blockpfn);
		uint64_t isolated;
		unsigned order;

		nr_scanned++;
		if (page_compound(page)) {
			if (page->private <= m->max_order) {
				blockpfn += (1ull << page->private) - 1;
				nr_scanned += (1ull << page->private) - 1;
			}
			continue;
		}
		if (!(page->flags & PG_buddy))
			continue;
		order = page->private;
		isolated = __isolate_free_page(m, blockpfn, order);
		if (!isolated)
			break;
		freepages_push(cc, blockpfn, order);
		nr_scanned += isolated - 1;
		total_isolated += isolated;
		cc->nr_freepages += isolated;
		if (cc->nr_migratepages <= cc->nr_freepages) {
			blockpfn += isolated;
			break;
		}
		blockpfn += isolated - 1;
	}
	if (blockpfn > end_pfn)
		blockpfn = end_pfn;
	trace(m, TP_MM_COMPACTION_ISOLATE_FREEPAGES, *start_pfn, blockpfn, nr_scanned,
	      total_isolated);
	*start_pfn = blockpfn;
	cc->total_free_scanned += nr_scanned;
	m->vmstat[COMPACTISOLATED] += total_isolated;
	return total_isolated;
}

/*
** suitable_migration_target(): free pages only from Movable pageblocks
** (any pageblock at MIN_COMPACT_PRIORITY), and never a whole free
** pageblock, which is already what compaction tries to make.
*/
static bool suitable_migration_target(struct compact_control *cc, const struct page *page)
{
	uint64_t pfn = page_to_pfn(cc->m, page);

	if ((page->flags & PG_buddy) && page->private >= cc->m->pageblock_order)
		return false;
	if (cc->ignore_block_suitable)
		return true;
	return is_migrate_movable(get_pfnblock_migratetype(cc->m, pfn));
}

/*
** isolate_freepages(): from the free scanner's position down to the
** pageblock above the migrate scanner's, isolate free blocks as targets.
** Async scans every 32nd frame at first, densely once a pageblock gave
** something (the stride doubles over empty ones).
*/
static void isolate_freepages(struct compact_control *cc)
{
	memlab_machine *m = cc->m;
	struct zone *z = cc->zone;
	uint64_t isolate_start = cc->free_pfn;
	uint64_t block_start = pageblock_start(m, isolate_start);
	uint64_t block_end = block_start + pageblock_nr(m);
	uint64_t low_pfn = pageblock_end(m, cc->migrate_pfn);
	unsigned stride = cc->mode == MIGRATE_ASYNC ? COMPACT_CLUSTER_MAX : 1;

	if (block_end > zone_end_pfn(z))
		block_end = zone_end_pfn(z);
	for (; block_start >= low_pfn; block_end = block_start,
	     block_start -= pageblock_nr(m), isolate_start = block_start) {
		struct page *page = pageblock_pfn_to_page(m, block_start, block_end, z);
		uint64_t nr_isolated;

		if (!page || !suitable_migration_target(cc, page))
			continue;
		nr_isolated = isolate_freepages_block(cc, &isolate_start, block_end, stride);
		if (isolate_start == block_end && block_start - pageblock_nr(m) <
		    z->compact_cached_free_pfn)		/* update_pageblock_skip() */
			z->compact_cached_free_pfn = block_start - pageblock_nr(m);
		if (cc->nr_freepages >= cc->nr_migratepages) {
			if (isolate_start >= block_end)
				isolate_start = block_start - pageblock_nr(m);
			break;
		} else if (isolate_start < block_end) {
			break;		/* the watermark stopped it */
		}
		if (nr_isolated) {
			stride = 1;
			continue;
		}
		stride = stride << 1 < COMPACT_CLUSTER_MAX ? stride << 1 : COMPACT_CLUSTER_MAX;
	}
	cc->free_pfn = isolate_start;
}

/*
** compaction_alloc(): the migration target for the folio at src, a block
** of its order split off the smallest isolated block that holds one
** (6.10+ keeps blocks whole until needed), after isolating more when
** none does.
*/
static uint64_t compaction_alloc(memlab_machine *m, uint64_t src, void *priv)
{
	struct compact_control *cc = priv;
	unsigned want = pfn_to_page(m, src)->private, order;
	bool isolated = false;
	uint64_t pfn;
	struct page *page;

	for (;;) {
		for (order = want; order <= m->max_order; order++)
			if (cc->freepages[order] != PFN_NONE)
				break;
		if (order <= m->max_order)
			break;
		if (isolated)
			return PFN_NONE;
		isolate_freepages(cc);
		isolated = true;
	}
	pfn = freepages_pop(cc, order);
	while (order > want) {
		order--;
		freepages_push(cc, pfn + (1ull << order), order);
	}
	page = pfn_to_page(m, pfn);
	split_page_part(m, pfn, want);	/* post_alloc_hook + prep_compound_page */
	page->_refcount = 1;
	page->lru_next = page->lru_prev = 0;
	if (want) {
		*folio_entire_mapcount_ptr(page) = 0;
		*folio_nr_pages_mapped_ptr(page) = 0;
	}
	cc->nr_freepages -= 1ull << want;
	cc->nr_migratepages -= 1u << want;
	return pfn;
}

/* compaction_free(): an unused target goes back on the list of its order. */
static void compaction_free(memlab_machine *m, uint64_t dst, void *priv)
{
	struct compact_control *cc = priv;
	struct page *page = pfn_to_page(m, dst);
	unsigned order = page->private;

	page->flags &= ~(PG_head_alloc | PG_head);
	page->_refcount = 0;
	freepages_push(cc, dst, order);
	cc->nr_freepages += 1ull << order;
	cc->nr_migratepages += 1u << order;
}

/*
** release_free_list(): isolated blocks left over are freed as allocations
** of their order (the per-CPU lists may take the small ones); returns the
** highest pfn, 0 if none.
*/
static uint64_t release_free_list(struct compact_control *cc)
{
	memlab_machine *m = cc->m;
	uint64_t high_pfn = 0;

	for (unsigned order = 0; order <= m->max_order; order++) {
		while (cc->freepages[order] != PFN_NONE) {
			uint64_t pfn = freepages_pop(cc, order);
			struct page *page = pfn_to_page(m, pfn);

			page->flags |= PG_head_alloc;
			page->private = order;
			page->_refcount = 1;
			page->lru_next = page->lru_prev = 0;
			memlab_free_pages(m, pfn, order);
			if (pfn > high_pfn)
				high_pfn = pfn;
		}
	}
	cc->nr_freepages = 0;
	return high_pfn;
}

/* ===================== a run over one zone ===================== */

static void trace_zone_result(memlab_machine *m, int id, const struct zone *z, int order, int ret)
{
	trace(m, id, 0, (uint64_t)z->idx, (uint64_t)(int64_t)order, (uint64_t)ret);
}

/*
** __compact_finished(): the scanners met (the cached positions restart),
** or compact_memory goes on, or an allocation of the order would now find
** a free block on a list it may use -- checked at pageblock boundaries.
*/
static enum compact_result __compact_finished(struct compact_control *cc)
{
	memlab_machine *m = cc->m;

	if (compact_scanners_met(cc)) {
		reset_cached_positions(m, cc->zone);
		if (cc->direct_compaction)
			cc->zone->compact_blockskip_flush = true;
		return cc->whole_zone ? COMPACT_COMPLETE : COMPACT_PARTIAL_SKIPPED;
	}
	if (cc->order == COMPACT_ORDER_ALL)
		return COMPACT_CONTINUE;
	if (cc->migrate_pfn & (pageblock_nr(m) - 1))
		return COMPACT_CONTINUE;
	if (compaction_free_block_suitable(m, cc->zone, (unsigned)cc->order, cc->migratetype))
		return COMPACT_SUCCESS;
	return COMPACT_NO_SUITABLE_PAGE;
}

static enum compact_result compact_finished(struct compact_control *cc)
{
	enum compact_result ret = __compact_finished(cc);

	trace_zone_result(cc->m, TP_MM_COMPACTION_FINISHED, cc->zone, cc->order, ret);
	return ret == COMPACT_NO_SUITABLE_PAGE ? COMPACT_CONTINUE : ret;
}

/*
** __compaction_suitable(): migration needs free order-0 targets: the zone
** must stay above its MIN watermark (LOW for costly orders) plus
** compact_gap(order) = 2 << order pages.
*/
static bool __compaction_suitable(memlab_machine *m, const struct zone *z, int order,
				  int highest_zoneidx)
{
	uint64_t mark = alloc_wmark_pages(z, order > PAGE_ALLOC_COSTLY_ORDER ? WMARK_LOW : WMARK_MIN);

	mark += 2ull << order;
	return zone_watermark_ok(m, z, 0, mark, highest_zoneidx, 0);
}

/*
** compaction_suitable(): worth compacting the zone for order?  Not when
** free memory is short (reclaim first: COMPACT_SKIPPED), nor for a costly
** order whose failure is from lack of memory rather than fragmentation:
** fragmentation index 0..vm.extfrag_threshold (500).
*/
bool compaction_suitable(memlab_machine *m, const struct zone *z, int order,
			 int highest_zoneidx)
{
	enum compact_result ret = COMPACT_CONTINUE;
	bool suitable = __compaction_suitable(m, z, order, highest_zoneidx);

	if (!suitable) {
		ret = COMPACT_SKIPPED;
	} else if (order > PAGE_ALLOC_COSTLY_ORDER) {
		int fragindex = vmstat_fragmentation_index(z, (unsigned)order);

		if (fragindex >= 0 && fragindex <= EXTFRAG_THRESHOLD) {
			suitable = false;
			ret = COMPACT_NOT_SUITABLE_ZONE;
		}
	}
	trace_zone_result(m, TP_MM_COMPACTION_SUITABLE, z, order, ret);
	return suitable;
}

/* compaction_suit_allocation_order(): done already, pointless, or worth a run. */
static enum compact_result compaction_suit_allocation_order(struct compact_control *cc)
{
	uint64_t mark = alloc_wmark_pages(cc->zone, cc->alloc_flags);

	if (zone_watermark_ok(cc->m, cc->zone, (unsigned)cc->order, mark, cc->highest_zoneidx,
			      cc->alloc_flags))
		return COMPACT_SUCCESS;
	if (!compaction_suitable(cc->m, cc->zone, cc->order, cc->highest_zoneidx))
		return COMPACT_SKIPPED;
	return COMPACT_CONTINUE;
}

/* Where the scanners start: the zone's ends, or where the last run left them. */
static void compact_zone_start(struct compact_control *cc)
{
	memlab_machine *m = cc->m;
	struct zone *z = cc->zone;
	uint64_t start = z->zone_start_pfn, end = zone_end_pfn(z);
	int sync = cc->mode != MIGRATE_ASYNC;

	if (cc->whole_zone) {
		cc->migrate_pfn = start;
		cc->free_pfn = pageblock_start(m, end - 1);
		return;
	}
	cc->migrate_pfn = z->compact_cached_migrate_pfn[sync];
	cc->free_pfn = z->compact_cached_free_pfn;
	if (cc->free_pfn < start || cc->free_pfn >= end) {
		cc->free_pfn = pageblock_start(m, end - 1);
		z->compact_cached_free_pfn = cc->free_pfn;
	}
	if (cc->migrate_pfn < start || cc->migrate_pfn >= end) {
		cc->migrate_pfn = start;
		z->compact_cached_migrate_pfn[0] = z->compact_cached_migrate_pfn[1] = start;
	}
	if (cc->migrate_pfn <= z->compact_init_migrate_pfn)
		cc->whole_zone = true;
}

/*
** One batch: migrate what isolate_migratepages took.  A failure puts the
** pages back; running out of targets before the scanners met ends the run
** (COMPACT_CONTENDED, as Linux answers -ENOMEM); otherwise a partly
** scanned pageblock is finished before moving on (returns COMPACT_CONTINUE
** with *rescan set).
*/
static enum compact_result compact_migrate_batch(struct compact_control *cc, bool *rescan)
{
	unsigned nr = cc->nr_migratepages, left = cc->nr_folios, nr_succeeded = 0;
	int err;

	/* compaction_alloc/free count cc->nr_migratepages down and up as targets go */
	*rescan = false;
	err = migrate_pages(cc->m, cc->migratepages, &left, cc->migrate_cap, compaction_alloc,
			    compaction_free, cc, cc->mode, MR_COMPACTION, &nr_succeeded);
	trace(cc->m, TP_MM_COMPACTION_MIGRATEPAGES, nr_succeeded, nr - nr_succeeded, 0, 0);
	cc->nr_folios = cc->nr_migratepages = 0;
	if (!err)
		return COMPACT_CONTINUE;
	putback_movable_pages(cc->m, cc->migratepages, left);
	if (err == -MEMLAB_ENOMEM && !compact_scanners_met(cc))
		return COMPACT_CONTENDED;
	if ((cc->migrate_pfn & (pageblock_nr(cc->m) - 1)) && !cc->finish_pageblock &&
	    cc->mode < MIGRATE_SYNC && !cc->ignore_skip_hint) {
		cc->finish_pageblock = true;
		*rescan = true;
	}
	return COMPACT_CONTINUE;
}

/* The end of a run: targets back to the buddy, the counters, mm_compaction_end. */
static void compact_zone_end(struct compact_control *cc, enum compact_result ret)
{
	memlab_machine *m = cc->m;
	struct zone *z = cc->zone;
	uint64_t free_pfn = release_free_list(cc);

	if (free_pfn) {
		free_pfn = pageblock_start(m, free_pfn);
		if (free_pfn > z->compact_cached_free_pfn)
			z->compact_cached_free_pfn = free_pfn;
	}
	m->vmstat[COMPACTMIGRATE_SCANNED] += cc->total_migrate_scanned;
	m->vmstat[COMPACTFREE_SCANNED] += cc->total_free_scanned;
	tracev(m, TP_MM_COMPACTION_END, z->zone_start_pfn, cc->migrate_pfn, cc->free_pfn,
	       zone_end_pfn(z), cc->mode != MIGRATE_ASYNC, (uint64_t)(int64_t)ret);
}

/*
** compact_zone(): run both scanners over cc->zone until compact_finished
** says so; returns the enum compact_result.  Every page isolated is back
** on a list (or migrated) when it returns.
*/
static enum compact_result compact_zone(struct compact_control *cc)
{
	memlab_machine *m = cc->m;
	struct zone *z = cc->zone;
	enum compact_result ret;
	uint64_t last_migrated_pfn = 0;
	bool update_cached, sync = cc->mode != MIGRATE_ASYNC;

	for (unsigned o = 0; o < NR_ORDERS_MAX; o++)
		cc->freepages[o] = PFN_NONE;
	if (cc->order != COMPACT_ORDER_ALL) {
		ret = compaction_suit_allocation_order(cc);
		if (ret != COMPACT_CONTINUE)
			return ret;
	}
	/* a batch is at most a pageblock's pages, and splits may add as many */
	cc->migrate_cap = COMPACT_CLUSTER_MAX + 2 * (unsigned)pageblock_nr(m);
	cc->migratepages = ml_alloc(m, cc->migrate_cap * sizeof(uint64_t));
	if (!cc->migratepages)
		return COMPACT_SKIPPED;		/* the host is out of memory */
	compact_zone_start(cc);
	update_cached = !sync && z->compact_cached_migrate_pfn[0] == z->compact_cached_migrate_pfn[1];
	tracev(m, TP_MM_COMPACTION_BEGIN, z->zone_start_pfn, cc->migrate_pfn, cc->free_pfn,
	       zone_end_pfn(z), sync);
	lru_add_drain(m);	/* this CPU's new pages can be isolated now */
	while ((ret = compact_finished(cc)) == COMPACT_CONTINUE) {
		enum isolate_migrate isolated;
		bool rescan;

		cc->finish_pageblock =
			pageblock_start(m, last_migrated_pfn) == pageblock_start(m, cc->migrate_pfn);
		do {
			isolated = isolate_migratepages(cc);
			if (isolated == ISOLATE_NONE) {
				if (update_cached)
					z->compact_cached_migrate_pfn[1] = z->compact_cached_migrate_pfn[0];
				break;
			}
			update_cached = false;
			last_migrated_pfn = pageblock_start(m, cc->migrate_pfn - 1);
			if (last_migrated_pfn < z->zone_start_pfn)
				last_migrated_pfn = z->zone_start_pfn;
			ret = compact_migrate_batch(cc, &rescan);
			if (rescan && cc->order == (int)hpage_pmd_order(m))
				last_migrated_pfn = 0;
		} while (ret == COMPACT_CONTINUE && rescan);
		if (isolated != ISOLATE_NONE && ret != COMPACT_CONTINUE)
			break;
		/*
		 * check_drain: a finished order-block's freed pages leave the
		 * pcp to merge -- lru_add_drain_cpu_zone(): this CPU's folio
		 * batches (the migrated pages waiting to join the LRU), its
		 * pcp of the zone, its mlock batch
		 */
		if (cc->order > 0 && last_migrated_pfn &&
		    last_migrated_pfn < (cc->migrate_pfn & ~((1ull << cc->order) - 1))) {
			lru_add_drain_cpu(m, smp_processor_id(m));
			drain_local_pages(m, z);
			mlock_drain_local(m);
			last_migrated_pfn = 0;
		}
	}
	compact_zone_end(cc, ret);
	ml_free(m, cc->migratepages, cc->migrate_cap * sizeof(uint64_t));
	return ret;
}

/* ===================== direct compaction and compact_memory ===================== */

/* A compact_control for zone z: what every run sets; the caller adds its own. */
static void cc_init(struct compact_control *cc, memlab_machine *m, struct zone *z, int order,
		    uint32_t gfp, enum migrate_mode mode, int highest_zoneidx)
{
	memset(cc, 0, sizeof(*cc));
	cc->m = m;
	cc->zone = z;
	cc->order = order;
	cc->gfp_mask = gfp;
	cc->mode = mode;
	cc->highest_zoneidx = highest_zoneidx;
}

/* compact_zone_order(): one zone for an allocation, at the priority's thoroughness. */
static enum compact_result compact_zone_order(memlab_machine *m, struct zone *z, int order,
					      uint32_t gfp, enum compact_priority prio,
					      unsigned alloc_flags, int highest_zoneidx)
{
	struct compact_control cc;

	cc_init(&cc, m, z, order, gfp, prio == COMPACT_PRIO_ASYNC ? MIGRATE_ASYNC : MIGRATE_SYNC_LIGHT,
		highest_zoneidx);
	cc.migratetype = m->mobility_disabled ? MIGRATE_UNMOVABLE
					      : (int)((gfp & (MEMLAB___GFP_RECLAIMABLE |
							      MEMLAB___GFP_MOVABLE)) >> 3);
	cc.alloc_flags = alloc_flags;
	cc.direct_compaction = true;
	cc.whole_zone = cc.ignore_skip_hint = cc.ignore_block_suitable =
		prio == MIN_COMPACT_PRIORITY;
	return compact_zone(&cc);
}

/*
** try_to_compact_pages(): direct compaction for an allocation of 2^order
** that failed, over the zones it may use, highest first: skip deferred
** zones (unless at MIN_COMPACT_PRIORITY), stop at the first success,
** defer a zone where a sync run failed.  Needs __GFP_IO.  Returns the
** best enum compact_result (COMPACT_SKIPPED when nothing ran).
*/
enum compact_result try_to_compact_pages(memlab_machine *m, uint32_t gfp, unsigned order,
					 unsigned alloc_flags, int highest_zoneidx,
					 enum compact_priority prio)
{
	enum compact_result rc = COMPACT_SKIPPED;

	if (!(gfp & MEMLAB___GFP_IO))
		return COMPACT_SKIPPED;
	trace(m, TP_MM_COMPACTION_TRY_TO_COMPACT_PAGES, order, gfp, (uint64_t)prio, 0);
	for (int zid = highest_zoneidx; zid >= 0; zid--) {
		struct zone *z = &m->zones[zid];
		enum compact_result status;

		if (!populated_zone(z))
			continue;
		if (prio > MIN_COMPACT_PRIORITY && compaction_deferred(m, z, (int)order)) {
			if (rc < COMPACT_DEFERRED)
				rc = COMPACT_DEFERRED;
			continue;
		}
		status = compact_zone_order(m, z, (int)order, gfp, prio, alloc_flags,
					    highest_zoneidx);
		if (status > rc)
			rc = status;
		if (status == COMPACT_SUCCESS) {
			compaction_defer_reset(m, z, (int)order, false);
			break;
		}
		if (prio != COMPACT_PRIO_ASYNC &&
		    (status == COMPACT_COMPLETE || status == COMPACT_PARTIAL_SKIPPED))
			defer_compaction(m, z, (int)order);
	}
	return rc;
}

/* ===================== kcompactd ===================== */

/* kcompactd_node_suitable() for one zone: it needs compaction for order, and could have it. */
static bool kcompactd_zone_suitable(memlab_machine *m, struct zone *z, int order,
				    int highest_zoneidx)
{
	struct compact_control cc;

	cc_init(&cc, m, z, order, 0, MIGRATE_SYNC_LIGHT, highest_zoneidx);	/* ALLOC_WMARK_MIN */
	return compaction_suit_allocation_order(&cc) == COMPACT_CONTINUE;
}

/*
** wakeup_kcompactd(): kswapd freed memory for a high order; kcompactd,
** if some zone needs and could use compaction for it, wakes to make the
** block (mm_compaction_wakeup_kcompactd).  Like kswapd it runs when the
** operation that woke it returns.
*/
void wakeup_kcompactd(memlab_machine *m, unsigned order, int highest_zoneidx)
{
	struct kcompactd_state *k = &m->kcompactd;
	bool suitable = false;

	if (!order)
		return;
	if (k->max_order < order)
		k->max_order = order;
	if (k->highest_zoneidx > highest_zoneidx)
		k->highest_zoneidx = highest_zoneidx;
	if (k->woken)
		return;
	for (int z = 0; z <= k->highest_zoneidx && z < m->nr_zones && !suitable; z++)
		suitable = populated_zone(&m->zones[z]) &&
			   kcompactd_zone_suitable(m, &m->zones[z], (int)k->max_order,
						   k->highest_zoneidx);
	if (!suitable)
		return;
	trace(m, TP_MM_COMPACTION_WAKEUP_KCOMPACTD, 0, order, (uint64_t)highest_zoneidx, 0);
	k->woken = true;
}

/*
** kcompactd_do_work(): every zone up to the highest that needs it and is
** not deferred, MIGRATE_SYNC_LIGHT, for the largest order asked
** (compact_daemon_wake, _migrate_scanned, _free_scanned); a failed run
** drains the zone's pagesets on every CPU and defers the zone.  Then the
** requests are forgotten and kcompactd sleeps.
*/
static void kcompactd_do_work(memlab_machine *m)
{
	struct kcompactd_state *k = &m->kcompactd;
	int order = (int)k->max_order, highest = k->highest_zoneidx;

	trace(m, TP_MM_COMPACTION_KCOMPACTD_WAKE, 0, (uint64_t)order, (uint64_t)highest, 0);
	m->vmstat[KCOMPACTD_WAKE]++;
	for (int zid = 0; zid <= highest && zid < m->nr_zones; zid++) {
		struct zone *z = &m->zones[zid];
		struct compact_control cc;
		enum compact_result status;

		if (!populated_zone(z) || compaction_deferred(m, z, order) ||
		    !kcompactd_zone_suitable(m, z, order, zid))
			continue;
		cc_init(&cc, m, z, order, MEMLAB_GFP_KERNEL, MIGRATE_SYNC_LIGHT, highest);
		status = compact_zone(&cc);
		if (status == COMPACT_SUCCESS) {
			compaction_defer_reset(m, z, order, false);
		} else if (status == COMPACT_PARTIAL_SKIPPED || status == COMPACT_COMPLETE) {
			/* pages stranded on any CPU's pcp may merge now */
			drain_all_pages(m, z);
			defer_compaction(m, z, order);
		}
		m->vmstat[KCOMPACTD_MIGRATE_SCANNED] += cc.total_migrate_scanned;
		m->vmstat[KCOMPACTD_FREE_SCANNED] += cc.total_free_scanned;
	}
	if ((int)k->max_order <= order)
		k->max_order = 0;
	if (k->highest_zoneidx >= highest)
		k->highest_zoneidx = m->nr_zones - 1;
}

/* kcompactd(): woken, it works once and sleeps again (mm_compaction_kcompactd_sleep). */
void kcompactd_run(memlab_machine *m)
{
	struct kcompactd_state *k = &m->kcompactd;

	if (!k->woken || k->running || m->current)
		return;
	k->running = true;
	k->woken = false;
	kcompactd_do_work(m);
	trace(m, TP_MM_COMPACTION_KCOMPACTD_SLEEP, 0, 0, 0, 0);
	k->running = false;
}

/*
** memlab_compact_memory(): "echo 1 > /proc/sys/vm/compact_memory" --
** compact_node(): every populated zone whole, MIGRATE_SYNC, for no
** particular order.  compact_stall/fail/success do not count it (they
** count direct compaction).
*/
int memlab_compact_memory(memlab_machine *m)
{
	if (m->dead)
		return -MEMLAB_EIO;
	lru_add_drain_all(m);	/* compact_nodes(): flush pending updates to the LRU lists */
	for (int i = 0; i < m->nr_zones; i++) {
		struct compact_control cc;

		if (!populated_zone(&m->zones[i]))
			continue;
		cc_init(&cc, m, &m->zones[i], COMPACT_ORDER_ALL, MEMLAB_GFP_KERNEL, MIGRATE_SYNC, 0);
		cc.migratetype = MIGRATE_UNMOVABLE;	/* gfp_migratetype(GFP_KERNEL) */
		cc.whole_zone = cc.ignore_skip_hint = true;
		compact_zone(&cc);
	}
	return 0;
}

/* ===================== the invariants ===================== */

/*
** Between operations no page is isolated (nr_isolated_* are 0: every
** isolation was undone or migrated), and each zone's deferral is in range.
*/
int compaction_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };

	if (m->vmstat[NR_ISOLATED_ANON] || m->vmstat[NR_ISOLATED_FILE])
		ml_violation(&c, "compaction: %llu anon and %llu file pages left isolated",
			     (unsigned long long)m->vmstat[NR_ISOLATED_ANON],
			     (unsigned long long)m->vmstat[NR_ISOLATED_FILE]);
	for (int i = 0; i < m->nr_zones; i++) {
		const struct zone *z = &m->zones[i];

		if (!populated_zone(z))
			continue;
		if (z->compact_defer_shift > COMPACT_MAX_DEFER_SHIFT ||
		    z->compact_considered > 1u << z->compact_defer_shift)
			ml_violation(&c, "compaction: zone %s defer_shift %u considered %u",
				     z->name, z->compact_defer_shift, z->compact_considered);
	}
	return c.count;
}
