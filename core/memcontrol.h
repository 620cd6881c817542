/*
** memcontrol.h -- the memory controller of cgroup v2 (mm/memcontrol.c,
** mm/page_counter.c): a tree of memory cgroups, each charged for the
** pages its tasks use and held to its limits, with its own LRU lists.
*/
#ifndef MEMLAB_MEMCONTROL_H
#define MEMLAB_MEMCONTROL_H

#include "internal.h"

#define MEMCG_CHARGE_BATCH	64u	/* pages a charge takes ahead into the CPU's stock */
#define NR_MEMCG_STOCK		7	/* memcgs one CPU's stock holds charges of */
#define MEM_CGROUP_ID_MAX	0xffffu
#define PAGE_COUNTER_MAX(m)	((uint64_t)INT64_MAX >> (m)->page_shift)	/* LONG_MAX / PAGE_SIZE */

/* memory.events, in the file's order (enum memcg_memory_event) */
enum memcg_memory_event {
	MEMCG_LOW, MEMCG_HIGH, MEMCG_MAX, MEMCG_OOM, MEMCG_OOM_KILL, MEMCG_OOM_GROUP_KILL,
	MEMCG_SWAP_HIGH, MEMCG_SWAP_MAX, MEMCG_SWAP_FAIL, MEMCG_NR_MEMORY_EVENTS
};

/* The memcg's statistics: the node's vmstat items, then its own. */
enum { MEMCG_KMEM = NR_VMSTAT_ITEMS, MEMCG_SWAP, MEMCG_VMALLOC, MEMCG_NR_STAT };

/*
** mm/page_counter.c: a usage and its limits, in pages, charged up the
** tree.  A charge raises both peaks; watermark is memory.peak's global
** one, never reset, local_watermark the one a write to memory.peak resets
** to the usage (6.12+), so watermark >= local_watermark >= usage.
*/
struct page_counter {
	uint64_t usage, watermark, local_watermark, failcnt;
	uint64_t min, low, high, max;
	uint64_t emin, elow;		/* effective protection, as the last reclaim walk found it */
	struct page_counter *parent;
};

struct mem_cgroup {
	struct page_counter memory;
	struct page_counter swap;	/* memory.swap.*: its pages in swap slots */
	unsigned id;			/* mem_cgroup_id(): 1 is the root */
	bool online;			/* false once rmdir'ed: kept while pages are charged */
	bool oom_group;			/* memory.oom.group */
	char *name;			/* the last component of its path; "" for the root */
	struct mem_cgroup *parent, *children, *sibling;	/* children in creation order */
	int nr_tasks;			/* tasks in it (not its descendants) */
	uint64_t events[MEMCG_NR_MEMORY_EVENTS], events_local[MEMCG_NR_MEMORY_EVENTS];
	int64_t stat[MEMCG_NR_STAT];	/* with its descendants' (rstat flushed) */
	int64_t stat_local[MEMCG_NR_STAT];
	int64_t stat_dead[MEMCG_NR_STAT];	/* what freed children left in stat[] */
	struct lruvec lruvec;		/* its pages' LRU lists on the node */
	struct mem_cgroup *reclaim_pos;	/* mem_cgroup_reclaim_iter: where a partial walk resumes */
	struct cgroup_of *memory_peaks;	/* open memory.peak files written once: their peaks */
	struct cgroup_of *swap_peaks;	/* the same for memory.swap.peak */
	/* its kernel objects (obj_cgroup): pages charged for them, bytes of those not in use */
	uint64_t obj_pages;		/* charged by obj_cgroup_charge_pages, not yet given back */
	uint64_t nr_charged_bytes;	/* objcg->nr_charged_bytes: left over when a stock let go */
	uint64_t nr_objs;		/* objects charged to it and not freed */
	uint64_t deferred_split_nr_deferred;	/* the thp-deferred_split shrinker's scan carried over */
	uint64_t deferred_split_len;	/* ds_queue->split_queue_len: its folios on the queue */
};

#define OFP_PEAK_UNSET	UINT64_MAX	/* cgroup_of_peak.value of an fd never written */

/*
** An open cgroup file (kernfs_open_file, with cgroup_of_peak's value for
** memory.peak and memory.swap.peak): memlab_cgroup_open's fd indexes
** m->cgroup_ofs.  An fd written once is on its memcg's list of peaks.
*/
struct cgroup_of {
	struct mem_cgroup *memcg;	/* NULL once rmdir removed the file (kernfs drained it) */
	int file;			/* which file (memcontrol.c's enum cg_file) */
	uint64_t value;			/* the fd's peak in pages, OFP_PEAK_UNSET until written */
	struct cgroup_of *next;		/* on memcg->memory_peaks or ->swap_peaks */
};

/*
** obj_stock_pcp (6.16+): bytes of kernel objects charged ahead, per CPU,
** for one memcg (memlab's obj_cgroup is the memcg itself), and the slab
** statistics of its objects not yet added to the memcg's.
*/
struct obj_stock_pcp {
	struct mem_cgroup *cached;	/* cached_objcg */
	unsigned nr_bytes;
	int nr_slab_reclaimable_b, nr_slab_unreclaimable_b;
};

/* memcg_stock_pcp: charges taken ahead, per CPU, for up to NR_MEMCG_STOCK memcgs. */
struct memcg_stock_pcp {
	uint8_t nr_pages[NR_MEMCG_STOCK];
	struct mem_cgroup *cached[NR_MEMCG_STOCK];
};

struct memlab_task;
struct mm_struct;

int memcg_init(memlab_machine *m);
void memcg_reap(memlab_machine *m);
void memcg_destroy(memlab_machine *m);
struct mem_cgroup *mem_cgroup_from_id(const memlab_machine *m, unsigned id);
struct mem_cgroup *page_memcg(const memlab_machine *m, const struct page *page);
struct lruvec *folio_lruvec(const memlab_machine *m, const struct page *page);
struct mem_cgroup *lruvec_memcg(struct lruvec *lruvec);
struct mem_cgroup *get_mem_cgroup_from_mm(const memlab_machine *m, const struct mm_struct *mm);
struct mem_cgroup *mem_cgroup_iter(memlab_machine *m, struct mem_cgroup *root,
				   struct mem_cgroup *prev);
static inline bool mem_cgroup_is_root(const memlab_machine *m, const struct mem_cgroup *memcg)
{
	return memcg == m->root_mem_cgroup;
}
bool mem_cgroup_is_descendant(const struct mem_cgroup *memcg, const struct mem_cgroup *root);

/* Charging: a new user page (mm NULL: the current task's), a page-table page. */
int mem_cgroup_charge(memlab_machine *m, uint64_t pfn, const struct mm_struct *mm, uint32_t gfp);
int charge_memcg(memlab_machine *m, uint64_t pfn, struct mem_cgroup *memcg, uint32_t gfp);
void mem_cgroup_uncharge(memlab_machine *m, struct page *page);
void mem_cgroup_migrate(memlab_machine *m, struct page *old, struct page *new);
int memcg_kmem_charge_page(memlab_machine *m, uint64_t pfn, unsigned order, uint32_t gfp);
void memcg_kmem_uncharge_page(memlab_machine *m, uint64_t pfn);
/*
** Kernel objects (slab.c): a charge of size bytes (obj_full_size) to the
** current task's memcg, counted in memory.stat's slab item idx; *id the
** memcg charged, 0 for none (a kernel thread, the root).  The free gives
** them back.
*/
int memcg_slab_charge(memlab_machine *m, uint32_t gfp, unsigned size, int idx, unsigned *id);
void memcg_slab_uncharge(memlab_machine *m, unsigned id, unsigned size, int idx);
/*
** slab.c, for memcg_check: per memcg id, bytes of live charged objects,
** [3 * id] unreclaimable and [3 * id + 1] reclaimable, and [3 * id + 2]
** of charged large kmallocs.
*/
void slab_memcg_bytes(memlab_machine *m, uint64_t *bytes, unsigned nr_ids);
void mem_cgroup_handle_over_high(struct memlab_task *t);
int mem_cgroup_try_charge_swap(memlab_machine *m, const struct page *page, unsigned *id);
void mem_cgroup_uncharge_swap(memlab_machine *m, unsigned id, uint64_t nr_pages);
int64_t mem_cgroup_get_nr_swap_pages(const memlab_machine *m, const struct mem_cgroup *memcg);
bool mem_cgroup_swap_full(const memlab_machine *m, const struct page *page);

/* Statistics: a page's state on the node and in its memcg; events of a memcg. */
void mod_lruvec_page_state(memlab_machine *m, const struct page *page, int item, int64_t d);
void mod_memcg_state(struct mem_cgroup *memcg, int item, int64_t d);
void count_memcg_events(struct mem_cgroup *memcg, int item, uint64_t n);
void count_vm_events_page(memlab_machine *m, const struct page *page, int item, uint64_t n);
void count_vm_events_mm(memlab_machine *m, const struct mm_struct *mm, int item, uint64_t n);
void memcg_memory_event(struct mem_cgroup *memcg, enum memcg_memory_event event);
uint64_t mem_cgroup_get_max(const memlab_machine *m, const struct mem_cgroup *memcg);

/* The tasks of a cgroup (fork, exit) and the OOM killer's questions. */
void mem_cgroup_fork(struct memlab_task *child, const struct memlab_task *parent);
void mem_cgroup_exit(struct memlab_task *t);
int mem_cgroup_spawn(struct memlab_task *t, const char *path);
bool task_in_mem_cgroup(const struct memlab_task *t, const struct mem_cgroup *memcg);
struct mem_cgroup *mem_cgroup_get_oom_group(struct memlab_task *victim,
					    struct mem_cgroup *oom_domain);
void memcg_path(const struct mem_cgroup *memcg, struct strbuf *sb);
void memcg_path_buf(const struct mem_cgroup *memcg, memlab_machine *m, char *buf, size_t size);
void memcg_stat_format(memlab_machine *m, struct mem_cgroup *memcg, struct strbuf *sb);
void proc_cgroup_show(struct memlab_task *t, struct strbuf *sb);
int memcg_check(memlab_machine *m, memlab_violation_fn fn, void *ud);

/* Protection (memory.min, memory.low) of memcg in a reclaim of target's subtree. */
void mem_cgroup_calculate_protection(memlab_machine *m, struct mem_cgroup *target,
				     struct mem_cgroup *memcg);
bool mem_cgroup_below_min(memlab_machine *m, struct mem_cgroup *target, struct mem_cgroup *memcg);
bool mem_cgroup_below_low(memlab_machine *m, struct mem_cgroup *target, struct mem_cgroup *memcg);
void mem_cgroup_protection(struct mem_cgroup *target, struct mem_cgroup *memcg, uint64_t *min,
			   uint64_t *low);

/* vmscan.c: reclaim within a memcg (MEMCG_RECLAIM_*) */
#define SWAPPINESS_ANON_ONLY	201	/* memory.reclaim's swappiness=max: anon pages only */
#define MEMCG_RECLAIM_MAY_SWAP	0x1u
#define MEMCG_RECLAIM_PROACTIVE	0x2u
uint64_t try_to_free_mem_cgroup_pages(memlab_machine *m, struct mem_cgroup *memcg,
				      uint64_t nr_pages, uint32_t gfp, unsigned options,
				      int swappiness);

/* oom_kill.c: an OOM kill inside memcg; true when the charge may be retried */
bool mem_cgroup_out_of_memory(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			      int order);

#endif
