/*
** internal.h -- the simulated machine's data structures, shared by the
** files of core/ and never by a host (hosts see memlab.h only).
**
** Names follow Linux (include/linux/mm_types.h, mmzone.h): struct page,
** struct zone, free_area, pageblock, watermarks.
*/
#ifndef MEMLAB_INTERNAL_H
#define MEMLAB_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memlab/memlab.h"
#include "vmstat_items.h"

struct mem_cgroup;
struct memcg_stock_pcp;
struct obj_stock_pcp;
struct cgroup_of;
struct cpu_fbatches;
struct vm_area_struct;
struct vmalloc_state;

#define PFN_NONE		UINT32_MAX	/* end of a free list */
#define MAX_RECLAIM_RETRIES	16		/* mm/internal.h */
#define PFN_POISON1		(UINT32_MAX - 1)	/* a deleted entry's links (LIST_POISON1, 2) */
#define PFN_POISON2		(UINT32_MAX - 2)
#define NR_ORDERS_MAX		MEMLAB_NR_ORDERS_MAX
#define MAX_NR_ZONES		MEMLAB_MAX_NR_ZONES
#define MIGRATE_TYPES		MEMLAB_MIGRATE_TYPES
#define MIGRATE_PCPTYPES	3	/* Unmovable, Movable, Reclaimable */
#define PAGE_ALLOC_COSTLY_ORDER	3
#define PAGEVEC_SIZE		31	/* a folio batch's capacity */
#define MEMMAP_BYTES_PER_PAGE	64	/* sizeof(struct page) in Linux, reserved at boot */

enum zone_type { ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, ZONE_DEVICE };

enum migratetype {
	MIGRATE_UNMOVABLE = MEMLAB_MIGRATE_UNMOVABLE,
	MIGRATE_MOVABLE = MEMLAB_MIGRATE_MOVABLE,
	MIGRATE_RECLAIMABLE = MEMLAB_MIGRATE_RECLAIMABLE,
	MIGRATE_HIGHATOMIC = MEMLAB_MIGRATE_HIGHATOMIC,
	MIGRATE_ISOLATE = MEMLAB_MIGRATE_ISOLATE,
};

enum zone_watermarks { WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO, NR_WMARK };

/*
** One descriptor per frame, 56 bytes.  A frame inside a free block that is
** not the block's head has an all-zero descriptor, as in Linux (only the
** head of a free block is PageBuddy), so a large machine costs the host
** only the descriptors that were ever written.
*/
#define PG_buddy	0x0001u	/* head of a free block; private = order */
#define PG_reserved	0x0002u	/* never given to the buddy allocator */
#define PG_head_alloc	0x0004u	/* head of an allocation; private = its order */
#define PG_pcp		0x0008u	/* head of a block on a per-CPU page list; private = order */
#define PG_dirty	0x0010u	/* newer than its file's contents (PG_dirty) */
#define PG_swapbacked	0x0020u	/* anon or shmem: swap, not a file, backs it */
#define PG_anon_exclusive 0x0040u /* PageAnonExclusive: one mm may write it in place */
#define PG_lru		0x0080u	/* counted on an LRU list (NR_{IN,}ACTIVE_*) */
#define PG_unevictable	0x0100u	/* on (or isolated from) the unevictable list */
#define PG_active	0x0200u	/* on an active list */
#define PG_referenced	0x0400u	/* used once since it was last looked at (folio_mark_accessed) */
#define PG_reclaim	0x0800u	/* reclaim wants it: to the inactive tail when written back */
#define PG_readahead	PG_reclaim /* a clean cache page: its read starts the next window (the same bit) */
#define PG_workingset	0x1000u	/* was active once (deactivated by reclaim) */
#define PG_swapcache	0x2000u	/* in the swap cache: page->swap is its slot */
#define PG_mlocked	0x4000u	/* mapped into locked memory (NR_MLOCK): !folio_evictable() */
#define PG_slab		0x8000u	/* head of a slab (slab.c): index holds its struct slab */
#define PG_large_kmalloc 0x10000u /* head of a kmalloc too big for the kmalloc caches */
#define PG_partially_mapped 0x20000u /* a large folio some pages of which no longer map: deferred split */
#define PG_deferred_split 0x40000u /* a large folio on the deferred split queue (huge_memory.c) */
#define PG_head		0x80000u /* head of a compound allocation (__GFP_COMP, order > 0) */
#define PG_table	0x100000u /* a page-table page (the PageTable page type) */
#define PG_mappedtodisk	0x200000u /* a file page read whole from blocks on disk (no hole) */
/*
** A cache page not read yet: !PG_uptodate, which every other page of
** memlab's is.  ext4's truncate makes one (__ext4_block_zero_page_range's
** FGP_CREAT); mincore does not count it, fault-around passes it by, and
** the read or fault that meets it reads it (filemap_read_folio).
*/
#define PG_not_uptodate	0x400000u
/*
** The page's block is dirty: ext4's buffer_head, which Linux keeps per
** block (a page with 4K pages) beside the folio's PG_dirty.  write(2)
** dirties the blocks it wrote, a dirtied mapping all; truncation discards
** those past the new end, and a folio left with none is clean again.
*/
#define PG_dirty_block	0x800000u

/* page->mapping's low bit: an anon_vma, not a file (PAGE_MAPPING_ANON). */
#define PAGE_MAPPING_ANON	1u

struct page {
	uint32_t flags;
	int32_t _refcount;
	int32_t mapcount;	/* page_mapcount(): 0 when unmapped (Linux stores it -1) */
	uint32_t private;	/* order, for PG_buddy and PG_head_alloc */
	uint32_t lru_next;	/* free-list links, as pfns */
	uint32_t lru_prev;
	uintptr_t mapping;	/* struct memlab_file *, or anon_vma | PAGE_MAPPING_ANON */
	uint64_t index;		/* page offset in the file, or linear_page_index() */
	uint64_t swap;		/* folio->swap: its swap slot while PG_swapcache */
	uint32_t mlock_count;	/* folio->mlock_count: its VM_LOCKED mappings, while on the unevictable list */
	uint32_t memcg_id;	/* folio->memcg_data: the memcg charged for it, 0 none (memcontrol.c) */
};

/*
** Lazy zeroing.  Each frame keeps the extent of its 64-byte lines that
** may hold non-zero bytes; everything outside it is zero.  __GFP_ZERO
** clears only that extent (ml_zero_frames), so every write to frame
** contents must widen it first: frame_wptr() is the one way to a
** writable pointer.  Lines, not bytes, so that a 64K page's 1024 of them
** fit in 16 bits.  At boot every extent is empty and every frame zero:
** both are fresh anonymous host memory (machine.c map_lazy).
*/
#define FRAME_LINE_SHIFT	6
#define FRAME_LINE		(1u << FRAME_LINE_SHIFT)

/* mthp_stats' orders: up to the largest PMD order (arm64 64K: 13) */
#define MTHP_NR_ORDERS		14

struct frame_extent {
	uint16_t lo, hi;	/* lines lo..hi-1 may be non-zero; empty when lo >= hi */
};

struct free_list {
	uint32_t head, tail;	/* pfns, PFN_NONE when empty */
};

/* The LRU lists (include/linux/mmzone.h enum lru_list), in vmstat's order. */
enum lru_list {
	LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE,
	LRU_UNEVICTABLE, NR_LRU_LISTS
};
#define LRU_ACTIVE	1
#define LRU_FILE	2

/* The node's lruvec (swap.c): pages linked through lru_next/lru_prev, the head newest. */
struct lruvec {
	struct free_list lists[NR_LRU_LISTS];
	uint64_t nr_pages[NR_LRU_LISTS];
	uint64_t anon_cost, file_cost;	/* lru_note_cost(): what reclaiming each has cost */
	uint64_t nonresident_age;	/* workingset.c: evictions and activations so far */
	uint64_t refaults[2];		/* workingset_activate_{anon,file} at the last reclaim's end */
};

/*
** Per-CPU page lists (include/linux/mmzone.h struct per_cpu_pages), one
** pageset per CPU and zone: a list per PCP migratetype for orders 0..3, plus the
** two THP lists (order pageblock_order == HPAGE_PMD_ORDER: non-movable and
** movable), as 6.12 with CONFIG_TRANSPARENT_HUGEPAGE.  The lists are
** pfn-linked through lru_next/lru_prev like the free lists.
*/
#define NR_LOWORDER_PCP_LISTS	(MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1))
#define NR_PCP_THP		2
#define NR_PCP_LISTS		(NR_LOWORDER_PCP_LISTS + NR_PCP_THP)
#define CONFIG_PCP_BATCH_SCALE_MAX	5
#define PCPF_PREV_FREE_HIGH_ORDER	0x01u
#define PCPF_FREE_HIGH_BATCH		0x02u	/* set from the CPU's cache size: never here */

struct per_cpu_pages {
	int count;		/* pages on the lists */
	int high;		/* auto-tuned limit, clamped to high_min..high_max */
	int high_min, high_max;
	int batch;		/* chunk size for buddy add/remove */
	uint8_t flags;		/* PCPF_* */
	uint8_t alloc_factor;	/* batch scaling factor during allocate */
	short free_count;	/* consecutive free count */
	struct free_list lists[NR_PCP_LISTS];
};

/* zone->flags bits (enum zone_flags) */
#define ZONE_BELOW_HIGH		0x01u	/* free pages below the high watermark */
#define ZONE_RECLAIM_ACTIVE	0x02u	/* kswapd may be scanning the zone */
#define ZONE_BOOSTED_WATERMARK	0x04u	/* boosted by a fallback: the next allocation wakes kswapd */

struct free_area {
	struct free_list free_list[MIGRATE_TYPES];
	uint64_t nr_free;			/* blocks on all lists */
	uint64_t nr_free_mt[MIGRATE_TYPES];	/* blocks on each list */
};

struct zone {
	const char *name;
	int idx;				/* enum zone_type (m->zones[] is by position) */
	uint64_t zone_start_pfn;
	uint64_t spanned_pages, present_pages, managed_pages;
	uint64_t _watermark[NR_WMARK];
	uint64_t watermark_boost;		/* pages kswapd reclaims on top of the marks */
	int boost_factor;			/* memlab: watermark_boost_factor at the last boost (check) */
	uint64_t lowmem_reserve[MAX_NR_ZONES];
	uint64_t nr_reserved_highatomic;	/* pages in HighAtomic pageblocks */
	uint64_t nr_free_highatomic;		/* free pages on HighAtomic lists */
	uint64_t nr_free_pages;			/* NR_FREE_PAGES */
	uint64_t nr_free_pages_blocks;		/* free pages in blocks >= pageblock_order */
	struct free_area free_area[NR_ORDERS_MAX];
	unsigned flags;				/* ZONE_* */
	struct per_cpu_pages *per_cpu_pageset;	/* m->nr_cpus pagesets, by CPU */
	uint64_t nr_lru[NR_LRU_LISTS];		/* NR_ZONE_{IN,}ACTIVE_*, NR_ZONE_UNEVICTABLE */
	uint64_t nr_mlock;			/* NR_MLOCK: its mlocked pages, on a list or not */

	/* compaction.c: where the scanners resume, and the deferral of failed orders */
	uint64_t compact_cached_free_pfn;
	uint64_t compact_cached_migrate_pfn[2];	/* [0] async, [1] sync */
	uint64_t compact_init_migrate_pfn, compact_init_free_pfn;
	unsigned compact_considered;		/* attempts since the last failure */
	unsigned compact_defer_shift;		/* skip up to 1 << shift attempts */
	int compact_order_failed;		/* the lowest order that failed */
	bool compact_blockskip_flush;		/* direct compaction's scanners met */
};

enum vmstat_item {
#define VMSTAT_ENUM(e, name) e,
	VMSTAT_ITEMS(VMSTAT_ENUM)
#undef VMSTAT_ENUM
	NR_VMSTAT_ITEMS
};

/* Fault-injection points (fault_inject.c). */
enum {
	FI_FAIL_PAGE_ALLOC,
	FI_FAILSLAB,
	FI_SWAP_WRITE_ERROR,		/* swap_writepage's I/O fails (the page stays dirty) */
	FI_SWAP_READ_ERROR,		/* a swap-in's read fails (SIGBUS) */
	FI_FIRST_CORRUPTION,		/* the points after this one corrupt, they do not fail */
	FI_TLB_LOST_SHOOTDOWN = FI_FIRST_CORRUPTION,
	FI_TLB_STALE_ENTRY,
	FI_NR_POINTS
};

struct fault_point {
	struct memlab_fault_attr attr;
	uint64_t calls, fired;		/* decisions, failures */
	uint64_t count;			/* attr->count: calls seen by the interval check */
	uint64_t run_left;		/* failures still due in the current run */
};

/* Tracepoints (trace.c). */
enum {
	TP_MM_PAGE_ALLOC, TP_MM_PAGE_FREE, TP_MM_PAGE_ALLOC_ZONE_LOCKED, TP_MM_PAGE_PCPU_DRAIN,
	TP_PAGE_FAULT_USER, TP_PAGE_FAULT_KERNEL, TP_RSS_STAT, TP_TLB_FLUSH,
	TP_MMAP_LOCK_START_LOCKING, TP_MMAP_LOCK_ACQUIRE_RETURNED, TP_MMAP_LOCK_RELEASED,
	TP_MARK_VICTIM, TP_OOM_SCORE_ADJ_UPDATE,
	TP_MM_VMSCAN_KSWAPD_SLEEP, TP_MM_VMSCAN_KSWAPD_WAKE, TP_MM_VMSCAN_WAKEUP_KSWAPD,
	TP_MM_VMSCAN_DIRECT_RECLAIM_BEGIN, TP_MM_VMSCAN_DIRECT_RECLAIM_END,
	TP_MM_VMSCAN_MEMCG_RECLAIM_BEGIN, TP_MM_VMSCAN_MEMCG_RECLAIM_END,
	TP_MM_VMSCAN_LRU_ISOLATE,
	TP_MM_VMSCAN_LRU_SHRINK_INACTIVE, TP_MM_VMSCAN_LRU_SHRINK_ACTIVE,
	TP_MM_VMSCAN_RECLAIM_PAGES, TP_RECLAIM_RETRY_ZONE, TP_COMPACT_RETRY,
	TP_MM_COMPACTION_WAKEUP_KCOMPACTD, TP_MM_COMPACTION_KCOMPACTD_WAKE,
	TP_MM_COMPACTION_KCOMPACTD_SLEEP,
	/* migrate.c, compaction.c */
	TP_MM_MIGRATE_PAGES, TP_MM_MIGRATE_PAGES_START,
	TP_MM_COMPACTION_ISOLATE_MIGRATEPAGES, TP_MM_COMPACTION_ISOLATE_FREEPAGES,
	TP_MM_COMPACTION_MIGRATEPAGES, TP_MM_COMPACTION_BEGIN, TP_MM_COMPACTION_END,
	TP_MM_COMPACTION_TRY_TO_COMPACT_PAGES, TP_MM_COMPACTION_FINISHED,
	TP_MM_COMPACTION_SUITABLE, TP_MM_COMPACTION_DEFERRED,
	TP_MM_COMPACTION_DEFER_COMPACTION, TP_MM_COMPACTION_DEFER_RESET,
	/* slab.c */
	TP_KMALLOC, TP_KFREE, TP_KMEM_CACHE_ALLOC, TP_KMEM_CACHE_FREE,
	/* vmalloc.c */
	TP_ALLOC_VMAP_AREA, TP_PURGE_VMAP_AREA_LAZY, TP_FREE_VMAP_AREA_NOFLUSH,
	NR_TRACEPOINTS
};

struct trace_ring {
	struct memlab_trace_event *ev;
	size_t size;
	uint64_t head, tail, lost;	/* events written, the oldest kept, overwritten */
	uint64_t mask;
};
struct tlb_machine;	/* tlb.h: the CPUs, their TLBs and ASIDs */

/* The machine's seeded generator: xoshiro256** (Blackman and Vigna). */
struct rng {
	uint64_t s[4];
};

struct memlab_machine {
	/* configuration, fixed at creation */
	int arch;
	uint32_t page_size;
	unsigned page_shift;
	unsigned va_bits;		/* user virtual address bits */
	uint64_t ram;
	uint64_t nr_frames;
	unsigned max_order;		/* MAX_PAGE_ORDER, inclusive */
	unsigned pageblock_order;
	bool mobility_disabled;		/* page_group_by_mobility_disabled */
	int64_t min_free_kbytes;
	bool min_free_kbytes_user;	/* configured (user_min_free_kbytes), not computed */
	int watermark_scale_factor;
	int lowmem_reserve_ratio[MAX_NR_ZONES];
	int zone_layout;		/* enum memlab_zone_layout */
	bool pcp_disabled;		/* every zone's pcp as zone_pcp_disable() leaves it */
	int nr_cpus;			/* num_online_cpus(): 1..MEMLAB_MAX_CPUS, all online */
	uint64_t seed;
	struct rng rng;

	/* the host's allocator and report sink */
	memlab_alloc_fn alloc;
	void *alloc_ud;
	memlab_report_fn report;
	void *report_ud;

	/* physical memory */
	struct page *mem_map;		/* nr_frames descriptors */
	uint8_t *pageblock_mt;		/* migrate type of each pageblock */
	uint8_t *backing;		/* frame contents, MAP_NORESERVE: write via frame_wptr() */
	struct frame_extent *frame_dirty;	/* per frame: what may be non-zero */
	bool debug_vm;			/* CONFIG_DEBUG_VM: check what lazy zeroing trusts */
	uint64_t nr_reserved;
	uint64_t first_pfn;		/* frames below are reserved (x86-64: pfn 0) */
	uint64_t memmap_start_pfn;	/* frames from here up hold the memmap */
	uint64_t zero_pfn;		/* the shared zero page (empty_zero_page) */
	uint64_t huge_zero_pfn;		/* the huge zero page, PFN_NONE until first used */
	uint64_t huge_zero_refs;	/* PMDs mapping it */
	int thp_enabled;		/* transparent_hugepage/enabled: 0 never, 1 madvise, 2 always */
	/* hugepages-<size>kB/enabled: a bit per order (huge_anon_orders_always, ...) */
	uint64_t huge_anon_orders_always, huge_anon_orders_madvise, huge_anon_orders_inherit;
	uint64_t mthp_stats[MTHP_NR_ORDERS][MEMLAB_NR_MTHP_STATS];	/* hugepages-<size>kB/stats */
	bool thp_use_zero_page;		/* transparent_hugepage/use_zero_page */
	struct free_list deferred_split;	/* the deferred split queue, oldest first */
	int nr_zones;			/* MAX_NR_ZONES for the arch layout, 1 for single */
	struct zone zones[MAX_NR_ZONES];
	/* memory cgroups (memcontrol.c): each has the node's LRU lists for its pages */
	struct mem_cgroup *root_mem_cgroup;
	struct mem_cgroup **memcg_idr;	/* by id */
	unsigned memcg_idr_size;
	bool memcg_reap_pending;		/* a dying memcg may be freed (memcg_reap) */
	bool memory_recursiveprot;	/* cgrp_dfl_root.flags & CGRP_ROOT_MEMORY_RECURSIVE_PROT */
	uint32_t xstate_size;		/* fpu_kernel_cfg.default_size (x86-64) */
	struct memcg_stock_pcp *memcg_stock;	/* per CPU */
	struct obj_stock_pcp *obj_stock;	/* per CPU */
	struct cgroup_of **cgroup_ofs;	/* open cgroup files by fd, NULL: a free fd */
	unsigned nr_cgroup_ofs;
	struct cpu_fbatches *cpu_fbatches;	/* per CPU: LRU moves waiting (swap.c) */
	struct mem_cgroup *reclaim_target;	/* the running reclaim's target (NULL: the node) */
	struct swap_info *swap;		/* the swap device (swapfile.c), or NULL */
	int swappiness;			/* vm.swappiness */
	int page_cluster;		/* vm.page-cluster: swap readahead of 2^page_cluster pages */
	int watermark_boost_factor;	/* vm.watermark_boost_factor */
	struct kswapd_state {		/* pgdat's kswapd fields (vmscan.c) */
		bool woken, running;	/* woken: runs when the outermost operation returns */
		unsigned order;		/* kswapd_order */
		int highest_zoneidx;	/* kswapd_highest_zoneidx, -1: none asked */
		int failures;		/* kswapd_failures: runs that freed nothing */
	} kswapd;
	struct kcompactd_state {	/* pgdat's kcompactd fields (compaction.c) */
		bool woken, running;
		unsigned max_order;	/* kcompactd_max_order */
		int highest_zoneidx;	/* kcompactd_highest_zoneidx */
	} kcompactd;
	struct khugepaged_state {	/* mm/khugepaged.c's globals (khugepaged.c) */
		unsigned pages_to_scan, max_ptes_none, max_ptes_swap, max_ptes_shared;
		unsigned scan_sleep_millisecs, alloc_sleep_millisecs;
		bool defrag;		/* transparent_hugepage/khugepaged/defrag */
		unsigned pages_collapsed, full_scans;
		bool running;		/* current_is_khugepaged() */
		struct khugepaged_mm_slot *head, *tail;	/* khugepaged_scan.mm_head */
		struct khugepaged_mm_slot *cursor;	/* khugepaged_scan.mm_slot */
		uint64_t address;	/* khugepaged_scan.address */
	} khugepaged;

	/* address spaces (mm.h) */
	struct memlab_task *tasks;	/* live tasks, newest first */
	int next_pid;
	struct memlab_file *files;
	struct vm_area_struct *vma_free;	/* freed VMAs kept for reuse (vma.c), linked by vm_next */
	struct vma_node *vma_node_free;		/* free VMA tree nodes (vma_tree.c), by parent */
	unsigned nr_vma_node_free;
	uint64_t next_ino;
	struct {			/* the disk's request queue (readahead.c) */
		uint64_t ra_pages;	/* bdi->ra_pages: read_ahead_kb in pages */
		uint64_t max_sectors;	/* queue_limits.max_sectors, in 512-byte sectors */
	} bdi;
	uint64_t next_anon_vma_id;
	uint64_t cached_stacks[MEMLAB_MAX_CPUS][2];	/* fork.c: NR_CACHED_STACKS per CPU */
	int64_t max_map_count;		/* vm.max_map_count */
	int overcommit_memory, overcommit_ratio;
	uint64_t mmap_min_addr;		/* the effective mmap_min_addr (LSM floor) */
	uint64_t dac_mmap_min_addr;	/* vm.mmap_min_addr */
	int64_t vm_committed_as;	/* pages, Committed_AS */
	int64_t vm_committed_leaked;	/* of which no mm or object holds (a Linux bug, see mremap.c) */
	uint64_t admin_reserve_kbytes, user_reserve_kbytes;

	/* the OOM killer (oom_kill.c) */
	int panic_on_oom, oom_kill_allocating_task;	/* vm.panic_on_oom, vm.oom_kill_allocating_task */
	bool dead;			/* a kernel BUG stopped it (ml_bug) */
	int oom_victims;		/* tasks marked, not yet exited */

	/* fault injection; the task on whose behalf the core runs (or NULL) */
	struct fault_point fault[FI_NR_POINTS];
	struct memlab_task *current;
	int work_cpu;			/* the CPU per-CPU work runs on (queue_work_on), -1: none */

	/* tracing */
	uint64_t trace_mask;		/* events anyone wants: hook | ring */
	uint64_t trace_hook_mask, trace_clock;
	memlab_trace_fn trace_hook;
	void *trace_hook_ud;
	struct trace_ring trace_ring;
	/* the CPUs: TLBs, page-walk caches, ASIDs (tlb.c) */
	struct tlb_machine *tlb;
	/* the slab allocator (slab.c) */
	struct slab_machine *slab;
	/* vmalloc's areas and init_mm's page table (vmalloc.c), NULL until first used */
	struct vmalloc_state *vmalloc;

	/* statistics: every /proc/vmstat item, in Linux's order */
	uint64_t vmstat[NR_VMSTAT_ITEMS];
};

/* ---- oom_kill.c, for the page allocator (__alloc_pages_may_oom) ---- */
bool out_of_memory_node(memlab_machine *m, uint32_t gfp, int order);
bool current_is_oom_victim(const memlab_machine *m);	/* tsk_is_oom_victim(current) */

/* ---- machine.c ---- */
void *ml_alloc(memlab_machine *m, size_t size);		/* zeroed; NULL on failure */
void ml_free(memlab_machine *m, void *p, size_t size);
int ml_compare_ptrs(const void *a, const void *b);	/* qsort/bsearch of pointers by address */
/* old's n elements of size elem moved into a new zeroed array of cap; NULL (old kept) on failure. */
void *ml_grow(memlab_machine *m, void *old, size_t n, size_t cap, size_t elem);
void ml_report(memlab_machine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ml_bug(memlab_machine *m, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rng_seed(struct rng *r, uint64_t seed);
/* Report why a configuration is refused; returns -MEMLAB_EINVAL. */
int ml_bad_config(memlab_machine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t rng_next(struct rng *r);
void ml_zero_frames(memlab_machine *m, uint64_t pfn, uint64_t nr);
void ml_copy_frame(memlab_machine *m, uint64_t dst, uint64_t src);
bool ml_frame_is_zero(const memlab_machine *m, uint64_t pfn);
bool is_free_buddy_page(memlab_machine *m, uint64_t pfn);	/* page_alloc.c */

/* A checker's sink: each violation goes to fn and is counted. */
struct ml_check {
	memlab_violation_fn fn;
	void *ud;
	int count;
};
void ml_violation(struct ml_check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- task.c: the address-space layer's machine-wide parts ---- */
void mm_sysctl_init(memlab_machine *m);
uint64_t vm_commit_limit(const memlab_machine *m);	/* mmap.c */
void mm_release_all(memlab_machine *m);
void vm_area_cache_destroy(memlab_machine *m);		/* vma.c: after mm_release_all */
int mm_check_all(memlab_machine *m, memlab_violation_fn fn, void *ud);
int rmap_check(memlab_machine *m, memlab_violation_fn fn, void *ud);	/* rmap.c */

/* ---- page_alloc.c ---- */
int page_alloc_init(memlab_machine *m);			/* zones, boot free */
void page_alloc_free(memlab_machine *m);		/* the pagesets, last of all */
void setup_per_zone_wmarks(memlab_machine *m);	/* and the pagesets' batch and high */
struct zone *page_zone(memlab_machine *m, uint64_t pfn);	/* NULL outside zones */
int get_pfnblock_migratetype(const memlab_machine *m, uint64_t pfn);
int gfp_zone(const memlab_machine *m, uint32_t gfp);	/* the highest zone's position, -1 bad */
int page_alloc_check(memlab_machine *m, memlab_violation_fn fn, void *ud);
void split_page(memlab_machine *m, uint64_t pfn, unsigned order);
void split_page_part(memlab_machine *m, uint64_t pfn, unsigned order);
int alloc_pages(memlab_machine *m, unsigned order, uint32_t gfp, uint64_t *pfn);
/* Lists of pages linked by pfn (free, pcp, LRU), through lru_next/lru_prev. */
void pfn_list_add(memlab_machine *m, struct free_list *list, uint64_t pfn, bool tail);
void pfn_list_add_before(memlab_machine *m, struct free_list *list, uint64_t pfn, uint32_t next);
void pfn_list_del(memlab_machine *m, struct free_list *list, uint64_t pfn);
/* for compaction.c */
uint64_t alloc_wmark_pages(const struct zone *z, unsigned alloc_flags);
bool zone_watermark_ok(memlab_machine *m, const struct zone *z, unsigned order, uint64_t mark,
		       int highest_zoneidx, unsigned alloc_flags);
uint64_t __isolate_free_page(memlab_machine *m, uint64_t pfn, unsigned order);
bool compaction_free_block_suitable(const memlab_machine *m, const struct zone *z,
				    unsigned order, int mt);
void drain_local_pages(memlab_machine *m, struct zone *z);	/* z NULL: every zone */
void drain_all_pages(memlab_machine *m, struct zone *z);	/* every CPU; z NULL: every zone */

/* ---- migrate.c ---- */
enum migrate_mode { MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC };
enum migrate_reason { MR_COMPACTION, MR_MEMORY_FAILURE, MR_MEMORY_HOTPLUG, MR_SYSCALL };
/* The target frame for src (PFN_NONE: none left), and giving back an unused one. */
typedef uint64_t (*new_folio_t)(memlab_machine *m, uint64_t src, void *priv);
typedef void (*free_folio_t)(memlab_machine *m, uint64_t dst, void *priv);
int migrate_folio(memlab_machine *m, uint64_t src, uint64_t dst);
int migrate_pages(memlab_machine *m, uint64_t *from, unsigned *nr, unsigned cap,
		  new_folio_t get_new,
		  free_folio_t put_new, void *priv, enum migrate_mode mode,
		  enum migrate_reason reason, unsigned *nr_succeeded);
void putback_movable_pages(memlab_machine *m, const uint64_t *pfns, unsigned nr);

/* ---- compaction.c ---- */
/* enum compact_result (include/linux/compaction.h), the values tracepoints print */
enum compact_result {
	COMPACT_NOT_SUITABLE_ZONE, COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_NO_SUITABLE_PAGE,
	COMPACT_CONTINUE, COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED, COMPACT_CONTENDED,
	COMPACT_SUCCESS
};
/* enum compact_priority: lower is more thorough */
enum compact_priority {
	COMPACT_PRIO_SYNC_FULL, MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL,
	COMPACT_PRIO_SYNC_LIGHT, MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT,
	DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT,
	COMPACT_PRIO_ASYNC, INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC
};
void compaction_init(memlab_machine *m);
enum compact_result try_to_compact_pages(memlab_machine *m, uint32_t gfp, unsigned order,
					 unsigned alloc_flags, int highest_zoneidx,
					 enum compact_priority prio);
void compaction_defer_reset(memlab_machine *m, struct zone *z, int order, bool alloc_success);
const char *compact_result_name(int result);
bool compaction_suitable(memlab_machine *m, const struct zone *z, int order, int highest_zoneidx);
void wakeup_kcompactd(memlab_machine *m, unsigned order, int highest_zoneidx);
void kcompactd_run(memlab_machine *m);
int compaction_check(memlab_machine *m, memlab_violation_fn fn, void *ud);
int khugepaged_check(memlab_machine *m, memlab_violation_fn fn, void *ud);

/* ---- swap.c: the LRU lists ---- */
bool folio_is_file_lru(const struct page *page);
enum lru_list folio_lru_list(const struct page *page);
void lru_add(memlab_machine *m, struct page *page);
void lruvec_add_folio(memlab_machine *m, struct page *page);
void lruvec_add_folio_before(memlab_machine *m, struct page *page, uint32_t next);
bool folio_evictable(const struct page *page);
void folio_add_lru(memlab_machine *m, struct page *page);
void folio_add_lru_vma(memlab_machine *m, struct page *page, const struct vm_area_struct *vma);
void lru_add_drain(memlab_machine *m);
void lru_add_drain_cpu(memlab_machine *m, int cpu);
void lru_add_drain_all(memlab_machine *m);
int folio_batch_refs(const memlab_machine *m, uint64_t pfn);
int lru_cache_init(memlab_machine *m);
void lru_cache_destroy(memlab_machine *m);
void lru_del(memlab_machine *m, struct page *page);
void page_cache_release(memlab_machine *m, struct page *page);
bool folio_isolate_lru(memlab_machine *m, struct page *page);
void folio_putback_lru(memlab_machine *m, struct page *page);
void folio_mark_accessed(memlab_machine *m, struct page *page);
void folio_rotate_reclaimable(memlab_machine *m, struct page *page);
void folio_mark_lazyfree(memlab_machine *m, struct page *page);
void deactivate_file_folio(memlab_machine *m, struct page *page);
void folio_deactivate(memlab_machine *m, struct page *page);
void munlock_folio(memlab_machine *m, struct page *page);
void mlock_folio(memlab_machine *m, struct page *page);
void mlock_new_folio(memlab_machine *m, struct page *page);
void mlock_drain_local(memlab_machine *m);
const char *lru_list_name(enum lru_list lru);
int lru_list_index(const char *name);	/* -1: no such list */
int lru_check(memlab_machine *m, memlab_violation_fn fn, void *ud);

/* ---- vmscan.c: page reclaim ---- */
void kswapd_init(memlab_machine *m);
void khugepaged_init(memlab_machine *m);	/* khugepaged.c */
void set_recommended_min_free_kbytes(memlab_machine *m);	/* page_alloc.c */
void khugepaged_release(memlab_machine *m);
void wakeup_kswapd(memlab_machine *m, int zid, uint32_t gfp, unsigned order, int highest_zoneidx);
void kswapd_run(memlab_machine *m);
void background_run(memlab_machine *m);
uint64_t try_to_free_pages(memlab_machine *m, unsigned order, uint32_t gfp, int reclaim_idx);
uint64_t zone_reclaimable_pages(const memlab_machine *m, const struct zone *z);
void lru_note_cost(struct lruvec *lruvec, bool file, uint64_t nr_io, uint64_t nr_rotated);
/* huge_memory.c: large folios */
/* Isolated folios a reclaim pass shrinks after its batch: the pages split off its huge ones. */
struct folio_list {
	uint64_t *pfn;
	size_t n, cap;
};
bool folio_list_add(memlab_machine *m, struct folio_list *l, uint64_t pfn);	/* vmscan.c */
void folio_isolate_for_pageout(memlab_machine *m, struct folio_list *l, uint64_t pfn);
uint64_t reclaim_pages(memlab_machine *m, struct folio_list *l);
bool split_huge_page_isolated(memlab_machine *m, uint64_t head, struct folio_list *list);
/* A split part's pfn in the list: the split freed the page (split_folio_isolated) */
#define SPLIT_PART_FREED	(1ull << 63)
bool split_folio_isolated(memlab_machine *m, uint64_t head, uint64_t *parts, unsigned *nr);
bool thp_page_mapped(struct page *folio);
int thp_pages_unmapped(memlab_machine *m, struct page *folio, int unmapped);
int folio_mapcount(const struct page *folio);
void deferred_split_folio(memlab_machine *m, struct page *folio, bool partially_mapped);
void folio_unqueue_deferred_split(memlab_machine *m, struct page *folio);
uint64_t shrink_deferred_split(memlab_machine *m, struct mem_cgroup *memcg, int priority);
void drop_slab(memlab_machine *m);	/* vmscan.c */

/* page_alloc.c, for reclaim */
bool zone_watermark_ok_safe(const memlab_machine *m, const struct zone *z, unsigned order,
			    uint64_t mark, int highest_zoneidx);
uint64_t high_wmark_pages(const struct zone *z);
uint64_t min_wmark_pages(const struct zone *z);

/* ---- workingset.c: refault detection ---- */
void workingset_age_nonresident(struct lruvec *lruvec, uint64_t nr);
uint64_t workingset_eviction(memlab_machine *m, const struct page *page);
void workingset_refault(memlab_machine *m, struct page *page, uint64_t shadow);

/* ---- swapfile.c: the swap device and the swap cache ---- */
struct swap_info {
	uint64_t pages;			/* usable slots 1..pages (slot 0: the swap header) */
	uint64_t inuse_pages;		/* slots in use: referenced or in the swap cache */
	uint64_t cluster_next;		/* where the next search for a free slot starts */
	uint32_t *swap_map;		/* per slot: swap entries referencing it | SWAP_HAS_CACHE */
	uint32_t *cache;		/* per slot: its page in the swap cache, or PFN_NONE */
	uint8_t **data;			/* per slot: what the device holds (NULL: never written) */
	uint64_t *shadow;		/* per slot: the workingset shadow its page left, or 0 */
	uint32_t *memcg_id;		/* per slot: swap_cgroup, the memcg of the page swapped out */
	int prio;
	bool solidstate;		/* SWP_SOLIDSTATE: on an SSD (VMA-based readahead) */
	/* swap_state.c's swap_cluster_readahead() state (global in Linux) */
	unsigned ra_hits;		/* swapin_readahead_hits: PG_readahead pages found since */
	uint64_t ra_prev_offset;	/* the slot of the last fault that found none */
	unsigned ra_last_pages;		/* last_readahead_pages: the last window */
};
#define SWAP_HAS_CACHE	0x80000000u	/* the count has the 31 bits below: forks cannot reach it */
int swap_init(memlab_machine *m, uint64_t bytes, bool ssd);
void swap_free_all(memlab_machine *m);
bool swap_available(const memlab_machine *m);
bool vm_swap_full(const memlab_machine *m);
int add_to_swap(memlab_machine *m, uint64_t pfn);
int swap_writepage(memlab_machine *m, uint64_t pfn);
bool remove_swap_cache_folio(memlab_machine *m, uint64_t pfn);
void swap_duplicate(memlab_machine *m, uint64_t slot);
void swap_free(memlab_machine *m, uint64_t slot);
void free_swap_and_cache(memlab_machine *m, uint64_t slot);
bool folio_free_swap(memlab_machine *m, uint64_t pfn);
struct vm_area_struct;
int swapin_readahead(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, uint64_t slot,
		     uint64_t *pfn, bool *major);
void swapin_willneed(memlab_task *t, uint64_t start, uint64_t end);
int swap_check(memlab_machine *m, const uint32_t *swap_refs, memlab_violation_fn fn, void *ud);

/* ---- fault_inject.c ---- */
void fault_inject_init(memlab_machine *m);
int fault_point(const char *name);
bool should_fail(memlab_machine *m, int point, uint64_t size, bool nowarn);
bool should_fail_alloc_page(memlab_machine *m, uint32_t gfp, unsigned order);
bool should_failslab_gfp(memlab_machine *m, size_t object_size, uint32_t gfp);

/* ---- trace.c ---- */
void trace_emit(memlab_machine *m, int id, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
void trace_emitv(memlab_machine *m, int id, const uint64_t *args, int n);
int trace_event_id(const char *name);
/* trace_<event>() of more than four fields: tracev(m, id, f0, f1, ...). */
#define tracev(m, id, ...)							\
	do {									\
		if (((m)->trace_mask >> (id)) & 1) {				\
			const uint64_t a_[] = { __VA_ARGS__ };			\
			trace_emitv((m), (id), a_, (int)(sizeof(a_) / sizeof(a_[0])));	\
		}								\
	} while (0)
/* trace_<event>(): one test of a bit when nobody listens. */
#define trace(m, id, a0, a1, a2, a3)						\
	do {									\
		if (((m)->trace_mask >> (id)) & 1)				\
			trace_emit((m), (id), (a0), (a1), (a2), (a3));		\
	} while (0)

/* ---- vmstat.c ---- */
int vmstat_fragmentation_index(const struct zone *z, unsigned order);
int vmstat_unusable_index(const struct zone *z, unsigned order);

/* ---- strbuf.c: growable text for procfs ---- */
struct strbuf {
	memlab_machine *m;
	char *buf;
	size_t len, cap;
	int err;			/* -MEMLAB_ENOMEM once an append failed */
};
void sb_init(struct strbuf *sb, memlab_machine *m);
void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* Hand the text to the caller (freed by memlab_free_text) or the error. */
int sb_finish(struct strbuf *sb, char **text, size_t *len);

static inline struct page *pfn_to_page(memlab_machine *m, uint64_t pfn)
{
	return &m->mem_map[pfn];
}

static inline uint64_t page_to_pfn(const memlab_machine *m, const struct page *page)
{
	return (uint64_t)(page - m->mem_map);
}

/*
** Large folios (a THP: one allocation of order HPAGE_PMD_ORDER).  As in
** Linux, a PMD maps the folio whole, PTEs map its pages one by one; each
** page's mapcount counts only the PTEs that map it; the head holds the
** folio's mapping, index, flags, memcg and its references (one per
** mapping, PMD or PTE); and the first tail page keeps the folio's own
** counts: _entire_mapcount (its PMD mappings) and _nr_pages_mapped (its
** pages some PTE maps).  PG_anon_exclusive is per page once PTEs map it.
*/
static inline int32_t *folio_entire_mapcount_ptr(struct page *folio)
{
	return (int32_t *)&folio[1].lru_next;
}

static inline int32_t *folio_nr_pages_mapped_ptr(struct page *folio)
{
	return (int32_t *)&folio[1].lru_prev;
}

static inline int folio_entire_mapcount(const struct page *folio)
{
	return (folio->flags & PG_head_alloc) && folio->private ? (int32_t)folio[1].lru_next : 0;
}

static inline int folio_nr_pages_mapped(const struct page *folio)
{
	return (folio->flags & PG_head_alloc) && folio->private ? (int32_t)folio[1].lru_prev : 0;
}

/*
** page_folio(): the head of the allocation frame pfn lies in -- pfn
** itself for an order-0 page; allocations are aligned to their order.
*/
static inline uint64_t folio_pfn(const memlab_machine *m, uint64_t pfn)
{
	if (m->mem_map[pfn].flags & PG_head_alloc)	/* a head: itself (the common case first) */
		return pfn;
	for (unsigned o = 1; o <= m->max_order; o++) {
		uint64_t head = pfn & ~((1ull << o) - 1);
		const struct page *p = &m->mem_map[head];

		if ((p->flags & PG_head_alloc) && p->private >= o)
			return head;
	}
	return pfn;
}

static inline struct page *pfn_folio(memlab_machine *m, uint64_t pfn)
{
	return pfn_to_page(m, folio_pfn(m, pfn));
}

/*
** folio_precise_page_mapcount(): the page tables mapping the page, a
** PMD mapping its large folio included.
*/
static inline int page_mapcount(memlab_machine *m, uint64_t pfn)
{
	return pfn_to_page(m, pfn)->mapcount + folio_entire_mapcount(pfn_folio(m, pfn));
}

/* Frame contents for reading, by frame or by physical address. */
static inline const uint8_t *frame_ptr(const memlab_machine *m, uint64_t pfn)
{
	return m->backing + (pfn << m->page_shift);
}

static inline const uint8_t *phys_ptr(const memlab_machine *m, uint64_t paddr)
{
	return m->backing + paddr;
}

/* Bytes off..off+len-1 (len > 0) of frame pfn may be non-zero from now on. */
static inline void frame_dirty(memlab_machine *m, uint64_t pfn, size_t off, size_t len)
{
	struct frame_extent *e = &m->frame_dirty[pfn];
	unsigned lo = (unsigned)(off >> FRAME_LINE_SHIFT);
	unsigned hi = (unsigned)((off + len + FRAME_LINE - 1) >> FRAME_LINE_SHIFT);

	if (e->lo >= e->hi) {
		e->lo = (uint16_t)lo;
		e->hi = (uint16_t)hi;
		return;
	}
	if (lo < e->lo)
		e->lo = (uint16_t)lo;
	if (hi > e->hi)
		e->hi = (uint16_t)hi;
}

/* A pointer for writing len bytes at off in frame pfn, none past its end. */
static inline uint8_t *frame_wptr(memlab_machine *m, uint64_t pfn, size_t off, size_t len)
{
	frame_dirty(m, pfn, off, len);
	return m->backing + (pfn << m->page_shift) + off;
}

/*
** The direct map (the kernel's linear map of all RAM): PAGE_OFFSET is
** where physical address 0 appears.  x86-64: 0xffff888000000000 with
** 4-level paging, 0xff11000000000000 with 5-level (page_64_types.h
** __PAGE_OFFSET_BASE_L4/_L5, no KASLR); arm64: -(1 << VA_BITS)
** (asm/memory.h _PAGE_OFFSET), memlab's RAM starting at PHYS_OFFSET 0.
*/
#define PFN_INVALID	UINT64_MAX	/* kaddr_to_pfn(): not a direct-map address of RAM */

static inline uint64_t page_offset(const memlab_machine *m)
{
	if (m->arch == MEMLAB_ARCH_X86_64)
		return m->va_bits == 57 ? 0xff11000000000000ull : 0xffff888000000000ull;
	return 0 - (1ull << m->va_bits);
}

/* page_address() / __va(): the direct-map address of frame pfn (pfn < nr_frames). */
static inline uint64_t pfn_to_kaddr(const memlab_machine *m, uint64_t pfn)
{
	return page_offset(m) + (pfn << m->page_shift);
}

/* virt_to_pfn() / __pa() >> PAGE_SHIFT of a direct-map address, PFN_INVALID for another. */
static inline uint64_t kaddr_to_pfn(const memlab_machine *m, uint64_t addr)
{
	uint64_t off = addr - page_offset(m);

	if (addr < page_offset(m) || off >= m->ram)
		return PFN_INVALID;
	return off >> m->page_shift;
}

/* folio_nr_pages(): a huge page's head counts for all its pages. */
static inline uint64_t folio_nr_pages(const struct page *page)
{
	return (page->flags & PG_head_alloc) ? 1ull << page->private : 1;
}

static inline uint64_t zone_end_pfn(const struct zone *z)
{
	return z->zone_start_pfn + z->spanned_pages;
}

/* The node is "all_unreclaimable": kswapd_failures >= MAX_RECLAIM_RETRIES. */
static inline bool pgdat_all_unreclaimable(const memlab_machine *m)
{
	return m->kswapd.failures >= MAX_RECLAIM_RETRIES;
}

/* K(x): pages to kB. */
static inline uint64_t K(const memlab_machine *m, uint64_t pages)
{
	return pages << (m->page_shift - 10);
}

static inline bool populated_zone(const struct zone *z)
{
	return z->present_pages != 0;
}

/* per_cpu_ptr(zone->per_cpu_pageset, cpu): the zone's pageset of that CPU. */
static inline struct per_cpu_pages *per_cpu_pageset(const struct zone *z, int cpu)
{
	return &z->per_cpu_pageset[cpu];
}

#endif
