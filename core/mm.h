/*
** mm.h -- address spaces: struct mm_struct, struct vm_area_struct, tasks
** and simulated files, shared by vma.c, mmap.c, mprotect.c, mremap.c,
** task.c and task_mmu.c.
**
** The data structures are Linux 4.x's (the sorted list of VMAs mm->mmap,
** a tree of them that knows the largest free gap under each subtree, a
** per-task vmacache of 4 entries invalidated by a sequence number) but for
** the tree: a B-tree keyed by vm_end (vma_tree.c) where 4.x had a
** red-black tree, as Linux 6.1+ has the maple tree.  The rules they follow
** -- when VMAs split and merge, which errno a call returns -- are Linux
** 6.12's (mm/vma.c, mm/mmap.c).
*/
#ifndef MEMLAB_MM_H
#define MEMLAB_MM_H

#include "internal.h"
#include "pgtable.h"
#include "tlb.h"
#include "memcontrol.h"
#include "slab.h"		/* enum kernel_cache: the caches of the objects below */

/* vm_flags (include/linux/mm.h) */
#define VM_NONE		0x00000000ull
#define VM_READ		0x00000001ull
#define VM_WRITE	0x00000002ull
#define VM_EXEC		0x00000004ull
#define VM_SHARED	0x00000008ull
#define VM_MAYREAD	0x00000010ull
#define VM_MAYWRITE	0x00000020ull
#define VM_MAYEXEC	0x00000040ull
#define VM_MAYSHARE	0x00000080ull
#define VM_GROWSDOWN	0x00000100ull
#define VM_UFFD_MISSING	0x00000200ull
#define VM_PFNMAP	0x00000400ull
#define VM_UFFD_WP	0x00001000ull
#define VM_LOCKED	0x00002000ull
#define VM_IO		0x00004000ull
#define VM_SEQ_READ	0x00008000ull
#define VM_RAND_READ	0x00010000ull
#define VM_DONTCOPY	0x00020000ull
#define VM_DONTEXPAND	0x00040000ull
#define VM_LOCKONFAULT	0x00080000ull
#define VM_ACCOUNT	0x00100000ull
#define VM_NORESERVE	0x00200000ull
#define VM_HUGETLB	0x00400000ull
#define VM_SYNC		0x00800000ull
#define VM_ARCH_1	0x01000000ull
#define VM_WIPEONFORK	0x02000000ull
#define VM_DONTDUMP	0x04000000ull
/* Linux defines VM_SOFTDIRTY as 0 without CONFIG_MEM_SOFT_DIRTY, as this
 * project's reference host is built (its smaps never show "sd"). */
#define VM_SOFTDIRTY	0ull
#define VM_MIXEDMAP	0x10000000ull
#define VM_HUGEPAGE	0x20000000ull
#define VM_NOHUGEPAGE	0x40000000ull
#define VM_MERGEABLE	0x80000000ull
/* 64-bit only (VM_HIGH_ARCH_8): pages the kernel may drop under memory
 * pressure instead of swapping them, MAP_DROPPABLE (Linux 6.11+); smaps "dp" */
#define VM_DROPPABLE	(1ull << 40)

#define VM_STACK		VM_GROWSDOWN
#define VM_ACCESS_FLAGS		(VM_READ | VM_WRITE | VM_EXEC)
#define VM_SPECIAL		(VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)
#define VM_DATA_DEFAULT_FLAGS	(VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define VM_STACK_DEFAULT_FLAGS	VM_DATA_DEFAULT_FLAGS
#define VM_STACK_FLAGS		(VM_STACK | VM_STACK_DEFAULT_FLAGS | VM_ACCOUNT)

#define VMACACHE_SIZE		4
#define DEFAULT_MAX_MAP_COUNT	65530
#define RLIM_INFINITY		UINT64_MAX

/* A file's page cache: page index -> pfn, open addressing (filemap.c). */
struct address_space {
	uint64_t *keys;			/* index + 1; 0: an empty slot */
	uint64_t *pfns;
	uint64_t cap;			/* slots, a power of two (or 0) */
	uint64_t nrpages;
};

/* A doubly linked list, as include/linux/list.h's (the part memlab uses). */
struct list_head {
	struct list_head *next, *prev;
};

#define list_entry(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list->prev = list;
}

static inline void __list_add(struct list_head *new, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = new;
	new->next = next;
	new->prev = prev;
	prev->next = new;
}

static inline void list_add(struct list_head *new, struct list_head *head)
{
	__list_add(new, head, head->next);
}

static inline void list_add_tail(struct list_head *new, struct list_head *head)
{
	__list_add(new, head->prev, head);
}

static inline void list_del(struct list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
	entry->next = entry->prev = NULL;
}

static inline bool list_empty(const struct list_head *head)
{
	return head->next == head;
}

static inline void list_del_init(struct list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
	INIT_LIST_HEAD(entry);
}

/*
** The readahead state of a file's open file description (struct
** file_ra_state, readahead.c): the last window read, [start, start + size),
** whose last async_size pages are its async tail (PG_readahead on the
** first of them).
*/
struct file_ra_state {
	uint64_t start;
	uint64_t size;
	uint64_t async_size;
	uint64_t ra_pages;		/* the window's limit: the disk's read_ahead_kb, x2 after FADV_SEQUENTIAL */
	unsigned order;			/* the folio order a next window would ask */
	unsigned mmap_miss;		/* mmap faults that missed the cache, less those that hit */
	int64_t prev_pos;		/* where the last read(2) ended; -1: none yet */
	bool random;			/* FMODE_RANDOM (POSIX_FADV_RANDOM): read only what is asked */
};

/* A simulated regular file (an inode with one name, open once). */
struct memlab_file {
	memlab_machine *m;
	char path[128];
	uint64_t size;
	uint64_t ino;
	unsigned dev_major, dev_minor;
	bool writable;			/* opened O_RDWR (FMODE_WRITE) */
	bool deleted;			/* shown with " (deleted)" */
	bool shmem;			/* the shmem object behind MAP_SHARED|MAP_ANONYMOUS */
	unsigned huge_shift;		/* hugetlbfs: log2 of its huge page size; 0 otherwise */
	unsigned max_folio_order;	/* mapping_max_folio_order(): 0 without large folios */
	uint64_t charged;		/* pages of Committed_AS it holds (shmem_acct_size) */
	int refcount;			/* the machine's list + every VMA mapping it */
	struct address_space i_pages;	/* its page cache */
	struct address_space disk;	/* its contents: index -> host block of a page (filemap.c) */
	struct file_ra_state ra;	/* file->f_ra */
	struct address_space shadows;	/* index -> the workingset shadow of a reclaimed page */
	struct list_head i_mmap;	/* the VMAs mapping it, by vm_pgoff (vma.c) */
	struct memlab_file *next;	/* the machine's files */
};


static inline bool list_is_singular(const struct list_head *head)
{
	return !list_empty(head) && head->next == head->prev;
}

/*
** An anon_vma: what a written private mapping's pages hang off (mm/rmap.c).
** A fork gives the child's copy of a VMA an anon_vma of its own whose
** parent is the VMA's in the parent process; all of one hierarchy share a
** root.  The VMAs that may map its pages reach it through anon_vma_chains
** (each VMA has one to its own anon_vma and one to each of its ancestors).
** refcount: 1 while any chain links to it, and a root's 1 more for each
** anon_vma of its hierarchy (get_anon_vma(root) in anon_vma_fork).
*/
struct anon_vma {
	struct anon_vma *root;		/* of its hierarchy: itself for the first */
	struct anon_vma *parent;	/* the one it was forked from: itself for a root */
	int refcount;
	unsigned num_children;		/* anon_vmas forked from it (a root counts itself) */
	unsigned num_active_vmas;	/* VMAs whose vma->anon_vma it is */
	/*
	 * Its anon_vma_chains, oldest first: Linux's interval tree rb_root
	 * (a list, as Linux 3.6's anon_vma->head was, until 3.7).
	 */
	struct list_head head;
	uint64_t id;
	uint64_t slab_obj;		/* its object in the anon_vma cache */
};

/* One link from a VMA to an anon_vma of its chain: an anon_vma_chain object. */
struct anon_vma_chain {
	struct vm_area_struct *vma;
	struct anon_vma *anon_vma;
	struct list_head same_vma;	/* on vma->anon_vma_chain, newest first */
	struct list_head same_anon_vma;	/* on anon_vma->head */
	uint64_t slab_obj;		/* its object in the anon_vma_chain cache */
};

/*
** The VMA tree (vma_tree.c): a B-tree keyed by vm_end.  Slot i of a node
** holds the largest vm_end under it (pivot), a VMA in a leaf or a child
** node above (slot), and the largest free gap under it (gap); unused slots
** have pivot UINT64_MAX.  The pivots come first: a lookup reads them and
** one slot pointer per level.
*/
#define VMA_TREE_SLOTS	16

struct vma_node {
	uint64_t pivot[VMA_TREE_SLOTS];
	void *slot[VMA_TREE_SLOTS];
	uint64_t gap[VMA_TREE_SLOTS];
	struct vma_node *parent;	/* NULL at the root; the free list's link */
	unsigned offset;		/* its slot in the parent */
	unsigned nr;			/* slots in use */
	bool leaf;
};

struct vma_tree {
	struct vma_node *root;		/* NULL when empty */
	unsigned height;		/* levels, 1 when the root is a leaf */
};

struct vm_area_struct {
	uint64_t vm_start, vm_end;	/* [vm_start, vm_end) */
	struct vm_area_struct *vm_next, *vm_prev;	/* sorted list */
	struct vma_node *vm_leaf;	/* the tree leaf that holds it */
	struct mm_struct *vm_mm;
	uint64_t vm_flags;
	uint64_t vm_pgoff;		/* in pages; for anonymous private: address >> PAGE_SHIFT at creation */
	struct memlab_file *vm_file;
	struct anon_vma *anon_vma;	/* where its new anonymous pages go */
	struct list_head anon_vma_chain;	/* its anon_vma_chains, newest first */
	struct list_head shared;	/* on its file's i_mmap (empty: on none) */
	const char *special_name;	/* "[vdso]", "[vvar]", ... (vm_ops->name) */
	uint64_t special_pages;		/* a special mapping's size when installed */
	uint64_t swap_readahead_info;	/* VMA-based swap readahead: address | window | hits */
	/* from vm_area_alloc() to vm_area_free(): never copied with the rest */
	uint64_t slab_obj;		/* its object in the vm_area_struct cache */
};

enum { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES, NR_MM_COUNTERS };

struct mm_struct {
	memlab_machine *machine;
	struct vm_area_struct *mmap;	/* list of VMAs */
	struct vma_tree mm_mt;		/* the same VMAs by address */
	uint32_t vmacache_seqnum;
	int map_count;
	uint64_t mmap_base, mmap_legacy_base, task_size, highest_vm_end;
	uint64_t map_window;		/* DEFAULT_MAP_WINDOW: the default layout's top (47 bits with LA57) */
	bool legacy_layout;		/* bottom-up mmap (!MMF_TOPDOWN) */

	uint64_t hiwater_rss, hiwater_vm;
	uint64_t total_vm, locked_vm, pinned_vm, data_vm, exec_vm, stack_vm;
	uint64_t def_flags;
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t rss_stat[NR_MM_COUNTERS];
	uint64_t pgtables_bytes;
	uint64_t pgd;			/* pfn of the top-level table (pgtable.c) */
	uint64_t *deposit;		/* PTE tables kept for splitting huge PMDs (huge_memory.c) */
	size_t nr_deposit, cap_deposit;
	struct pt_format pt;		/* its format; pt.levels == 0: no page tables */
	uint64_t committed;		/* pages this mm charged to vm_committed_as */
	uint64_t locked_vm_leaked;	/* locked_vm no VMA holds (mremap DONTUNMAP, as Linux) */
	uint64_t vmacache_hits, vmacache_misses;
	mm_context_t context;		/* ASIDs, tlb_gen, mm_cpumask (tlb.c) */
	int tlb_flush_batched;		/* reclaim's deferred flushes: pending | flushed << 16 (tlb.c) */
	int mmap_lock;			/* readers, or -1: a writer (mmap_lock.c) */
	int mm_users;			/* the tasks sharing it (CLONE_VM) */
	bool oom_skip;			/* MMF_OOM_SKIP: the OOM killer passes it by */
	memlab_task *owner;		/* one of them, standing for the mm in walks over every mm */
	uint64_t curbrk;		/* glibc's __curbrk: a variable in this address space */
	uint64_t slab_obj;		/* its object in the mm_struct cache (mm_alloc to mmdrop) */
	struct khugepaged_mm_slot *khugepaged_slot;	/* MMF_VM_HUGEPAGE: on khugepaged's list */
};

/* Bytes, RLIM_INFINITY for none: one set of soft (rlim_cur), one of hard limits. */
struct rlimits {
	uint64_t stack, data, as, memlock;
};

/* The field of r for a MEMLAB_RLIMIT_* resource, or NULL for another. */
static inline uint64_t *rlimit_field(struct rlimits *r, int resource)
{
	switch (resource) {
	case MEMLAB_RLIMIT_STACK: return &r->stack;
	case MEMLAB_RLIMIT_DATA: return &r->data;
	case MEMLAB_RLIMIT_AS: return &r->as;
	case MEMLAB_RLIMIT_MEMLOCK: return &r->memlock;
	default: return NULL;
	}
}

struct memlab_task {
	memlab_machine *m;
	int pid;
	int tgid;			/* its thread group: the pid of the task it was cloned from with CLONE_THREAD */
	char comm[16];
	struct mm_struct *mm;
	struct vm_area_struct *vmacache[VMACACHE_SIZE];
	uint32_t vmacache_seqnum;
	struct rlimits rlim;		/* the soft limits, which Linux's rlimit() reads */
	struct rlimits rlim_max;	/* the hard limits; the thread group's tasks share both (sys.c) */
	bool randomize;			/* PF_RANDOMIZE */
	bool in_exec;			/* a spawn's exec: not yet on the task list, no mm of its own before */
	bool cap_sys_rawio, cap_ipc_lock, cap_sys_admin;
	uint64_t min_flt, maj_flt;	/* faults that did not fail, by kind */
	unsigned fail_nth;		/* /proc/PID/fail-nth */
	bool make_it_fail;		/* /proc/PID/make-it-fail */
	int last_signal_code;		/* of the last access that failed (SEGV_*, BUS_*) */
	uint64_t last_signal_addr;
	bool uaccess;			/* the kernel copies to or from its memory: faults are kernel-mode */
	int cpu;			/* the CPU it runs on (tlb.c) */

	/* oom_kill.c: signal->oom_score_adj{,_min}, the same in every task of
	 * the thread group as one signal_struct would hold them */
	short oom_score_adj, oom_score_adj_min;
	bool oom_victim;		/* SIGKILLed by the OOM killer, exits when the call returns */
	bool oom_marked;		/* tsk_is_oom_victim(): its thread group's signal->oom_mm */
	bool oom_memdie;		/* TIF_MEMDIE: mark_oom_victim() ran for this task */
	struct mem_cgroup *memcg;	/* its cgroup (memcontrol.c) */
	uint64_t memcg_nr_pages_over_high;	/* charged above a memory.high: reclaim on return */
	struct memlab_task *next;	/* the machine's tasks */
	uint64_t slab_obj;		/* its object in the task_struct cache */
	uint64_t stack;			/* its kernel stack: a vmalloc area (fork.c), 0 none */
};

/*
** The task a call into the core runs for: m->current, which fault
** injection (fail-nth, the task filter) and tracing (an event's pid)
** read, from task_enter() until task_leave() puts the previous one back.
*/
static inline memlab_task *task_enter(memlab_task *t)
{
	memlab_task *prev = t->m->current;

	t->m->current = t;
	return prev;
}

/*
** smp_processor_id(): the CPU that per-CPU work queued on it runs on
** (queue_work_on), else the CPU the current task runs on (0 outside a
** task's call).
*/
static inline int smp_processor_id(const memlab_machine *m)
{
	if (m->work_cpu >= 0)
		return m->work_cpu;
	return m->current ? m->current->cpu : 0;
}

void exit_oom_victims(memlab_machine *m);	/* oom_kill.c */

/* task_is_dying(): the task the core runs for has a pending SIGKILL (an OOM victim). */
static inline bool task_is_dying(const memlab_machine *m)
{
	return m->current && m->current->oom_victim;
}

/*
** Leaving the outermost call, the tasks the OOM killer marked while it
** ran (the task itself, its threads, the processes sharing its mm) exit:
** nothing of the call refers to them any more.  Then a woken kswapd and
** kcompactd run (vmscan.c, compaction.c): the call no longer holds pages
** they could take or move.
*/
static inline void call_leave(memlab_machine *m, memlab_task *prev)
{
	m->current = prev;
	if (!prev && m->oom_victims)
		exit_oom_victims(m);
	if (!prev && (m->kswapd.woken || m->kcompactd.woken))
		background_run(m);
	if (!prev && m->memcg_reap_pending)
		memcg_reap(m);
}

/* Leaving the outermost call for t: the memory.high reclaim it owes comes first. */
static inline void task_leave(memlab_task *t, memlab_task *prev)
{
	if (!prev && t->memcg_nr_pages_over_high)
		mem_cgroup_handle_over_high(t);
	call_leave(t->m, prev);
}

/*
** Whether leaving an outermost call for t would do anything: what
** task_leave() and call_leave() act on (kept in step with them), for the
** paths that skip them when it would not (memory.c access_hit).
*/
static inline bool leave_has_work(const memlab_machine *m, const memlab_task *t)
{
	return t->memcg_nr_pages_over_high || m->oom_victims || m->kswapd.woken ||
	       m->kcompactd.woken || m->memcg_reap_pending;
}

/* A task spawned with root = 1 runs as root (uid 0), any other as uid 1000. */
static inline bool task_is_root(const memlab_task *t)
{
	return t->cap_sys_admin || t->cap_sys_rawio || t->cap_ipc_lock;
}

static inline unsigned task_uid(const memlab_task *t)
{
	return task_is_root(t) ? 0 : 1000;
}

/*
** Walks over every mm of the machine go over the tasks and take each mm
** once, through its owner (threads share one mm).
*/
#define for_each_mm_task(m, t) \
	for ((t) = (m)->tasks; (t); (t) = (t)->next) \
		if ((t)->mm->owner != (t)) {} else

/* ---- mmap_lock.c ---- */
void mmap_write_lock(struct mm_struct *mm);
void mmap_write_unlock(struct mm_struct *mm);
void mmap_write_downgrade(struct mm_struct *mm);
void mmap_read_lock(struct mm_struct *mm);
void mmap_read_unlock(struct mm_struct *mm);

/* ---- vma.c: the tree, the list, the cache, split and merge ---- */
struct vm_area_struct *find_vma(memlab_task *t, uint64_t addr);
struct vm_area_struct *find_vma_prev(memlab_task *t, uint64_t addr,
				     struct vm_area_struct **pprev);
struct vm_area_struct *find_vma_intersection(memlab_task *t, uint64_t start, uint64_t end);
struct vm_area_struct *vm_area_alloc(struct mm_struct *mm);
void vm_area_free(struct vm_area_struct *vma);

/* vm_area_init_from(): dest takes src's fields but its own slab object. */
static inline void vm_area_init_from(const struct vm_area_struct *src,
				     struct vm_area_struct *dest)
{
	uint64_t obj = dest->slab_obj;

	*dest = *src;
	dest->slab_obj = obj;
	INIT_LIST_HEAD(&dest->anon_vma_chain);	/* anon_vma_clone() links it */
	INIT_LIST_HEAD(&dest->shared);		/* linking it links it to the file */
}
void vma_link(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_link_file_after(struct vm_area_struct *vma, struct vm_area_struct *orig);
void __vma_link(struct mm_struct *mm, struct vm_area_struct *vma, struct vm_area_struct *prev);
struct vm_area_struct *vma_prev_or_last(struct mm_struct *mm, struct vm_area_struct *next);
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_set_range(struct mm_struct *mm, struct vm_area_struct *vma,
		   uint64_t start, uint64_t end, uint64_t pgoff);
int __split_vma(struct mm_struct *mm, struct vm_area_struct *vma, uint64_t addr,
		int new_below);
int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, uint64_t addr,
	      int new_below);
void vm_stat_account(struct mm_struct *mm, uint64_t flags, int64_t npages);
bool may_expand_vm(memlab_task *t, uint64_t flags, uint64_t npages);
bool is_data_mapping(uint64_t flags);
bool is_exec_mapping(uint64_t flags);
bool is_stack_mapping(uint64_t flags);
void vma_set_file(struct vm_area_struct *vma, struct memlab_file *file);
int vma_may_split(const struct vm_area_struct *vma, uint64_t addr);
uint64_t vma_pages(const struct vm_area_struct *vma);
int mm_validate(struct mm_struct *mm, memlab_violation_fn fn, void *ud, const char *who);

/*
** The merge description, as mm/vma.h's struct vma_merge_struct: the range
** [start, end) with the flags, file, pgoff and anon_vma it will have, the
** VMAs around it, and (for an existing range) the VMA it lies in.
*/
struct vma_merge_struct {
	struct mm_struct *mm;
	struct vm_area_struct *prev, *next, *vma;
	uint64_t start, end, pgoff, flags;
	struct memlab_file *file;
	struct anon_vma *anon_vma;
	struct vm_area_struct *copied_from;	/* copy_vma(): whose pages the range holds */
	bool just_expand;
	bool nomem;	/* the merge failed for memory (VMA_MERGE_ERROR_NOMEM) */
};
struct vm_area_struct *vma_merge_new_range(struct vma_merge_struct *vmg);
struct vm_area_struct *vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *prev,
					struct vm_area_struct *vma, uint64_t start,
					uint64_t end, uint64_t new_flags, int *err);

/* ---- vma_tree.c: the VMAs by address ---- */
/* What vma_tree_gap_rev() looks for: a gap of length, starting at or below
 * high_limit and ending at or above low_limit. */
struct vma_gap_query {
	uint64_t length, low_limit, high_limit;
};
int vma_tree_reserve(struct mm_struct *mm);		/* 0 or -ENOMEM */
void vma_tree_insert(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_tree_erase(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_tree_update(struct vm_area_struct *vma);
struct vm_area_struct *vma_tree_last(const struct vma_tree *mt);
struct vm_area_struct *vma_tree_gap_rev(const struct vma_tree *mt, const struct vma_gap_query *q);
int vma_tree_validate(const struct mm_struct *mm, char *why, size_t len);
void vma_node_cache_destroy(memlab_machine *m);

/* ---- mmap.c ---- */
int vm_enough_memory(memlab_task *t, int64_t pages);	/* 0 or -ENOMEM; charges */
void vm_unacct_memory(memlab_task *t, int64_t pages);
int64_t get_unmapped_area(memlab_task *t, struct memlab_file *file, uint64_t addr,
			  uint64_t len, uint64_t pgoff, int flags, uint64_t vm_flags);
int do_vmi_munmap(memlab_task *t, uint64_t start, uint64_t len, bool unlock);
int do_munmap_range(memlab_task *t, uint64_t start, uint64_t end, bool unlock);
int do_brk_flags(memlab_task *t, struct vm_area_struct *brkvma, uint64_t addr,
		 uint64_t len, uint64_t flags);
int64_t do_mmap(memlab_task *t, struct memlab_file *file, uint64_t addr, uint64_t len,
		int prot, int flags, uint64_t vm_flags, uint64_t pgoff);
uint64_t calc_vm_prot_bits(int prot);
int do_mprotect_pkey(memlab_task *t, uint64_t start, uint64_t len, int prot);	/* mprotect.c */
bool mlock_future_ok(memlab_task *t, uint64_t flags, uint64_t bytes);
void exit_mmap(memlab_task *t);
void mm_populate(memlab_task *t, uint64_t start, uint64_t len);
int expand_stack_locked(memlab_task *t, struct vm_area_struct *vma, uint64_t addr);

/* ---- memory.c: faults, the frames of user mappings ---- */
uint64_t linear_page_index(const struct vm_area_struct *vma, uint64_t addr);
bool page_anon(const struct page *page);
uint64_t get_mm_rss(const struct mm_struct *mm);
void update_hiwater_rss(struct mm_struct *mm);
void add_mm_counter(struct mm_struct *mm, int member, int64_t value);
int alloc_user_page(memlab_machine *m, struct mem_cgroup *memcg, bool zero, uint64_t *pfn);
void put_page(memlab_machine *m, uint64_t pfn);
int mm_counter(const struct page *page);
void page_remove_rmap(memlab_machine *m, uint64_t pfn, uint64_t nr, const struct vm_area_struct *vma);
void munlock_vma_folio(memlab_machine *m, uint64_t pfn, const struct vm_area_struct *vma);
void mlock_vma_folio(memlab_machine *m, struct page *page, const struct vm_area_struct *vma);
void folio_add_file_rmap_ptes(memlab_task *t, uint64_t pfn, unsigned nr,
			      const struct vm_area_struct *vma);
struct pt_prot vma_page_prot(const struct vm_area_struct *vma);
unsigned handle_mm_fault(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			 unsigned flags);
int do_user_addr_fault(memlab_task *t, uint64_t addr, int access, bool present, int *si_code);
void zap_page_range(struct mmu_gather *tlb, const struct vm_area_struct *vma, uint64_t start,
		    uint64_t end);
void change_protection(struct mmu_gather *tlb, struct vm_area_struct *vma, uint64_t start,
		       uint64_t end);
int move_page_tables(memlab_task *t, uint64_t old_addr, uint64_t new_addr, uint64_t len);
int vmf_anon_prepare(memlab_task *t, struct vm_area_struct *vma, bool vma_locked);
int faultin_vma_range(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
		      uint64_t end, bool write, bool *dropped);
int populate_vma_page_range(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
			    uint64_t end, bool unlockable);
int copy_page_range(memlab_task *dst, memlab_task *src, const struct vm_area_struct *src_vma);
void madvise_free_range(struct mmu_gather *tlb, uint64_t start, uint64_t end);
void madvise_cold_range(struct mmu_gather *tlb, struct vm_area_struct *vma, uint64_t start,
			uint64_t end, bool pageout);

/* ---- contpte.c: arm64's contiguous PTEs behind Linux's PTE interface ---- */
uint64_t ptep_get(memlab_machine *m, const struct pt_format *f, uint64_t table, uint64_t idx);
void contpte_try_unfold(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx);
void contpte_try_unfold_partial(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
				unsigned nr);
void contpte_try_fold(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx);
void contpte_set_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx, uint64_t pfn,
		      struct pt_prot p, unsigned nr);

/*
** set_ptes(): nr entries from idx of table (mapping va on) map the frames
** from pfn on with p -- on arm64 through its contiguous-PTE rules.
*/
static inline void set_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
			    uint64_t pfn, struct pt_prot p, unsigned nr)
{
	const struct pt_format *f = &t->mm->pt;

	if (f->cont_ptes) {
		contpte_set_ptes(t, va, table, idx, pfn, p, nr);
		return;
	}
	p.cont = false;
	for (unsigned i = 0; i < nr; i++)
		pt_write(t->m, table, idx + i, pt_mkentry(f, 0, pfn + i, p));
}
struct pt_prot get_and_clear_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
				  unsigned nr);
void wrprotect_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx, unsigned nr);
bool ptep_test_and_clear_young(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
			       bool flush);
int set_pte_at(memlab_task *t, uint64_t va, uint64_t pfn, struct pt_prot p);
bool contpte_set_access_flags(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
			      uint64_t pfn, struct pt_prot p, bool dirty);

/* ---- huge_memory.c: transparent huge pages ---- */
unsigned hpage_pmd_order(const memlab_machine *m);
bool pmd_none_at(memlab_task *t, uint64_t va);
bool file_pmd_mappable(const memlab_machine *m, const struct vm_area_struct *vma, uint64_t addr,
		       uint64_t head);
int do_set_pmd(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, uint64_t pfn, bool write);
void split_huge_pmd_address(memlab_task *t, uint64_t va);
/* enum tva_type (include/linux/huge_mm.h): who asks whether a VMA may have huge pages */
enum tva_type { TVA_SMAPS, TVA_PAGEFAULT, TVA_KHUGEPAGED, TVA_FORCED_COLLAPSE };
/* enum mthp_stat_item: hugepages-<size>kB/stats/, in Linux's order */
enum mthp_stat_item {
	MTHP_STAT_ANON_FAULT_ALLOC, MTHP_STAT_ANON_FAULT_FALLBACK,
	MTHP_STAT_ANON_FAULT_FALLBACK_CHARGE, MTHP_STAT_ZSWPOUT, MTHP_STAT_SWPIN,
	MTHP_STAT_SWPIN_FALLBACK, MTHP_STAT_SWPIN_FALLBACK_CHARGE, MTHP_STAT_SWPOUT,
	MTHP_STAT_SWPOUT_FALLBACK, MTHP_STAT_SHMEM_ALLOC, MTHP_STAT_SHMEM_FALLBACK,
	MTHP_STAT_SHMEM_FALLBACK_CHARGE, MTHP_STAT_SPLIT, MTHP_STAT_SPLIT_FAILED,
	MTHP_STAT_SPLIT_DEFERRED, MTHP_STAT_NR_ANON, MTHP_STAT_NR_ANON_PARTIALLY_MAPPED,
	NR_MTHP_STAT_ITEMS
};
_Static_assert(NR_MTHP_STAT_ITEMS == MEMLAB_NR_MTHP_STATS, "mthp stats");
uint64_t thp_orders_all_anon(const memlab_machine *m);
int highest_order(uint64_t orders);
int next_order(uint64_t *orders, int prev);
uint64_t thp_vma_suitable_orders(const memlab_machine *m, const struct vm_area_struct *vma,
				 uint64_t addr, uint64_t orders);
uint64_t thp_vma_allowable_orders(const memlab_machine *m, const struct vm_area_struct *vma,
				  uint64_t vm_flags, enum tva_type type, uint64_t orders);
bool thp_vma_allowable(const memlab_machine *m, const struct vm_area_struct *vma,
		       uint64_t vm_flags, enum tva_type type);
bool thp_vma_suitable_order(const memlab_machine *m, const struct vm_area_struct *vma,
			    uint64_t haddr);
bool hugepage_pmd_enabled(const memlab_machine *m);
uint32_t vma_thp_gfp_mask(const struct vm_area_struct *vma);
void mod_mthp_stat(memlab_machine *m, unsigned order, enum mthp_stat_item item, int64_t delta);
static inline void count_mthp_stat(memlab_machine *m, unsigned order, enum mthp_stat_item item)
{
	mod_mthp_stat(m, order, item, 1);
}
int pgtable_deposit_reserve(memlab_machine *m, struct mm_struct *mm);
void collapse_map_pmd(memlab_task *t, struct vm_area_struct *vma, uint64_t haddr,
		      uint64_t pmd_table, uint64_t pmd_idx, uint64_t pfn, uint64_t pte_table);
int do_huge_pmd_anonymous_page(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			       bool write, bool vma_locked);
int do_huge_pmd_fault(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, bool write);
void zap_huge_pmd(memlab_task *t, const struct vm_area_struct *vma, uint64_t pfn,
		  const struct pt_prot *p);
int copy_huge_pmd(memlab_task *dst, uint64_t va, uint64_t pfn, struct pt_prot child,
		  uint64_t src_table, uint64_t src_idx, uint64_t src_entry);
void split_huge_pmd_range(memlab_task *t, uint64_t start, uint64_t end);
void split_huge_pmd_all(memlab_task *t, uint64_t start, uint64_t end);
void pgtable_deposit_release(memlab_machine *m, struct mm_struct *mm);
bool discard_anon_folio_pmd(memlab_task *t, const struct vm_area_struct *vma, uint64_t haddr,
			    uint64_t table, uint64_t idx);
#define FPB_RESPECT_WRITE	0x1	/* (fpb_t) entries differing in the write bit end a batch */
#define FPB_RESPECT_DIRTY	0x2	/* in the dirty bit */
uint64_t folio_pte_batch(memlab_task *t, uint64_t table, uint64_t idx, uint64_t va, uint64_t end,
			 uint64_t pfn, unsigned flags);
enum large_pte { LP_SMALL, LP_WHOLE, LP_SKIP };
enum large_pte madvise_large_pte(memlab_task *t, uint64_t table, uint64_t idx, uint64_t va,
				 uint64_t end, uint64_t pfn, uint64_t *nr);
void clear_young_dirty_ptes(struct mmu_gather *tlb, uint64_t table, uint64_t idx, uint64_t va,
			    uint64_t nr, bool dirty);
int madvise_free_huge_pmd(struct mmu_gather *tlb, uint64_t haddr, uint64_t table, uint64_t idx,
			  uint64_t start, uint64_t end);
int madvise_cold_huge_pmd(struct mmu_gather *tlb, uint64_t haddr, uint64_t table, uint64_t idx,
			  uint64_t start, uint64_t end, struct folio_list *pageout);
bool folio_mapped_elsewhere(memlab_machine *m, uint64_t head, const struct mm_struct *mm);	/* rmap.c */
bool folio_unmap_goes_partial(memlab_machine *m, uint64_t head);	/* rmap.c */

/* ---- khugepaged.c: collapsing small pages into huge ones ---- */
struct khugepaged_mm_slot;
void khugepaged_enter_vma(memlab_machine *m, struct vm_area_struct *vma, uint64_t vm_flags);
void khugepaged_fork(memlab_machine *m, struct mm_struct *mm, const struct mm_struct *oldmm);
void khugepaged_exit(memlab_machine *m, struct mm_struct *mm);
int madvise_collapse(memlab_task *t, struct vm_area_struct *vma, uint64_t start, uint64_t end);
void zap_remove_rmap(memlab_machine *m, uint64_t pfn, uint64_t nr,
		     const struct vm_area_struct *vma);	/* memory.c */
int swapin_for_collapse(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			uint64_t entry);			/* memory.c */

/* ---- filemap.c: the page cache ---- */
/* Move len bytes between the page cache at bytes and the caller's side, done bytes in. */
typedef int (*filemap_actor)(void *ud, uint64_t done, uint8_t *bytes, uint64_t len);
int64_t filemap_read(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		     void *ud);
int64_t filemap_write(struct memlab_file *f, uint64_t off, uint64_t n, filemap_actor actor,
		      void *ud);
uint64_t filemap_lookup(const struct memlab_file *f, uint64_t index);
int filemap_replace_page(struct memlab_file *f, uint64_t index, uint64_t new_pfn);
#define FILEMAP_MAJOR	1	/* filemap_fault(): the page had to be read */
#define FILEMAP_UNLOCKED	2	/* it dropped the fault's lock to read: the fault is retried */
int filemap_fault(struct vm_area_struct *vma, uint64_t index, bool tried, uint64_t *pfn);
bool do_fault_around(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, uint64_t *prealloc);
int filemap_add_page(struct memlab_file *f, uint64_t index, uint64_t *out, bool ra, bool write);
uint64_t page_cache_next_miss(const struct memlab_file *f, uint64_t index, uint64_t max);
uint64_t page_cache_prev_miss(const struct memlab_file *f, uint64_t index, uint64_t max);
int filemap_add_folio(struct memlab_file *f, uint64_t index, unsigned order, bool ra,
		      bool write, uint64_t *out);
void filemap_fadvise_dontneed(struct memlab_file *f, uint64_t wb_first, uint64_t wb_last,
			      uint64_t first, uint64_t last);
void filemap_delete_folio(struct memlab_file *f, struct page *folio);
void clear_shadow_entries(struct memlab_file *f, uint64_t first, uint64_t last);
void disk_truncate(struct memlab_file *f, uint64_t size);
void folio_zero_range(memlab_machine *m, uint64_t head, uint64_t from, uint64_t to);
bool disk_mapped(const struct memlab_file *f, uint64_t index);
/* DIV_ROUND_UP(i_size, PAGE_SIZE): the pages of the file; a fault at or past them is SIGBUS */
static inline uint64_t i_size_pages(const struct memlab_file *f)
{
	return (f->size + f->m->page_size - 1) >> f->m->page_shift;
}
#define FS_BLOCK	4096ull	/* ext4's block size */
/* ext4's s_maxbytes with 4K blocks (extents): 2^32 - 1 blocks, 16 TiB less 4 KiB */
#define EXT4_MAXBYTES	(0xffffffffull << 12)
/* ---- truncate.c ---- */
void ext4_truncate_failed_write(struct memlab_file *f);
bool folio_split(memlab_machine *m, uint64_t head, uint64_t at);	/* huge_memory.c */
#define TTU_IGNORE_MLOCK	0x1	/* try_to_unmap(): a VM_LOCKED mapping goes too */
#define TTU_BATCH_FLUSH		0x2	/* the TLB flush may wait for try_to_unmap_flush() */
bool try_to_unmap(memlab_machine *m, uint64_t pfn, unsigned flags);	/* vmscan.c */
/* ---- readahead.c ---- */
void bdi_init(memlab_machine *m);
void file_ra_state_init(struct memlab_file *f);
void page_cache_sync_ra(struct memlab_file *f, uint64_t index, uint64_t req);
void page_cache_async_ra(struct memlab_file *f, struct page *folio, uint64_t index, uint64_t req);
void do_sync_mmap_readahead(struct vm_area_struct *vma, uint64_t index);
bool do_async_mmap_readahead(struct vm_area_struct *vma, uint64_t pfn);
int vfs_fadvise(struct memlab_file *f, int64_t off, int64_t len, int advice);
#define MMAP_LOTSAMISS	100	/* mm/filemap.c: past this many misses, faults read around no more */
bool folio_mark_dirty(memlab_machine *m, struct page *page);
bool __folio_mark_dirty(memlab_machine *m, struct page *page);
void folio_mark_blocks_dirty(memlab_machine *m, struct page *folio, uint64_t first, uint64_t n);
void folio_clear_dirty(memlab_machine *m, struct page *page);
int filemap_writeback(struct memlab_file *f, uint64_t first, uint64_t last);
void disk_read_page(const struct memlab_file *f, uint64_t index, uint8_t *dst);
int disk_write_page(struct memlab_file *f, uint64_t index, const uint8_t *src);
/* ---- rmap.c ---- */
int anon_vma_prepare(struct vm_area_struct *vma);
void anon_vma_relink(struct vm_area_struct *vma);
int anon_vma_clone(struct vm_area_struct *dst, const struct vm_area_struct *src);
int anon_vma_fork(struct vm_area_struct *vma, const struct vm_area_struct *pvma);
void unlink_anon_vmas(struct vm_area_struct *vma);
struct anon_vma *find_mergeable_anon_vma(struct vm_area_struct *vma);	/* vma.c */
int anon_vma_check(memlab_machine *m, memlab_violation_fn fn, void *ud);
size_t anon_vma_objects(memlab_machine *m, enum kernel_cache kc, uint64_t *addrs);
int folio_mkclean(memlab_machine *m, uint64_t pfn);
/* A visit of rmap_walk: false ends the walk. */
typedef bool (*rmap_fn)(memlab_task *t, struct vm_area_struct *vma, uint64_t addr, void *ud);
void rmap_walk(memlab_machine *m, uint64_t pfn, rmap_fn fn, void *ud);	/* rmap.c */
void filemap_release(struct memlab_file *f);
bool filemap_remove_folio(memlab_machine *m, uint64_t pfn);
int filemap_check(memlab_machine *m, memlab_violation_fn fn, void *ud);
bool vma_has_recency(const struct vm_area_struct *vma);	/* vmscan.c */
void wakeup_flusher_threads(memlab_machine *m);

/* ---- task.c ---- */
void *kernel_obj_new(memlab_machine *m, enum kernel_cache kc, size_t size, uint64_t *obj);
void *kernel_obj_new_gfp(memlab_machine *m, enum kernel_cache kc, size_t size, uint32_t gfp,
			 uint64_t *obj);
void kernel_obj_delete(memlab_machine *m, enum kernel_cache kc, void *p, size_t size,
		       uint64_t obj);
memlab_task *alloc_task_struct(memlab_machine *m);	/* zeroed, with its slab object */
void free_task(memlab_task *t);				/* the task_struct and the host struct */
/* ---- fork.c: the kernel stack ---- */
int alloc_thread_stack(memlab_task *t);		/* 0 or -ENOMEM */
void free_thread_stack(memlab_task *t);		/* accounted off, cached or vfree()d */
int thread_stack_check(memlab_machine *m, memlab_violation_fn fn, void *ud);
uint64_t cached_stack_pages(memlab_machine *m);		/* the CPUs' caches' pages */
struct mm_struct *allocate_mm(memlab_machine *m);	/* zeroed, with its slab object */
void free_mm(memlab_machine *m, struct mm_struct *mm);
void task_free(memlab_task *t);		/* an mm not on the machine's list */
uint64_t mmap_min_addr(const memlab_machine *m);
int sysctl_max_map_count(const memlab_machine *m);
int sysctl_overcommit_memory(const memlab_machine *m);
int sysctl_overcommit_ratio(const memlab_machine *m);
uint64_t vm_committed_as(const memlab_machine *m);
void vm_acct_memory(memlab_machine *m, int64_t pages);
struct memlab_file *shmem_zero_file(memlab_machine *m, uint64_t size);
struct memlab_file *file_alloc(memlab_machine *m, const char *path, uint64_t size);
void file_put(struct memlab_file *f);
void file_get(struct memlab_file *f);

/* ---- hugetlb.c: hugetlbfs files with an empty huge page pool ---- */
int hugetlb_file_setup(memlab_task *t, int flags, uint64_t *len, struct memlab_file **out);
int hugetlbfs_file_mmap(struct memlab_file *file, uint64_t *vm_flags, uint64_t pgoff);
void hugetlb_show_meminfo_node(memlab_machine *m, struct strbuf *sb);

/* ---- show_mem.c: the Mem-Info of an OOM report and sysrq-m ---- */
void show_mem(memlab_machine *m, struct strbuf *sb, int max_zone_idx);
void show_mem_report(memlab_machine *m, uint32_t gfp);

static inline bool is_file_hugepages(const struct memlab_file *file)
{
	return file && file->huge_shift;
}

static inline bool is_vm_hugetlb_page(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_HUGETLB;
}

/* huge_page_size(hstate_vma(vma)), or the base page size outside hugetlbfs. */
static inline uint64_t vma_kernel_pagesize(const memlab_machine *m,
					   const struct vm_area_struct *vma)
{
	if (is_vm_hugetlb_page(vma) && is_file_hugepages(vma->vm_file))
		return 1ull << vma->vm_file->huge_shift;
	return m->page_size;
}

/* ---- oom_kill.c: the OOM killer ---- */
int pagefault_out_of_memory(memlab_task *t, int *si_code);
void proc_oom_score(memlab_task *t, struct strbuf *sb);
void proc_oom_score_adj(memlab_task *t, struct strbuf *sb);
int oom_check(memlab_machine *m, memlab_violation_fn fn, void *ud);

/* ---- task_mmu.c: /proc/PID/{maps,smaps,smaps_rollup,status,statm} ---- */
int task_mmu_show(memlab_task *t, const char *file, struct strbuf *sb);
void vma_name(const struct vm_area_struct *vma, char *buf, size_t size);

#define STACK_GUARD_GAP_PAGES	256	/* mm/mmap.c stack_guard_gap: 1 MiB with 4K pages */

static inline uint64_t stack_guard_gap(const memlab_machine *m)
{
	return (uint64_t)STACK_GUARD_GAP_PAGES << m->page_shift;
}

/* vm_start_gap(): a stack keeps stack_guard_gap free below it. */
static inline uint64_t vm_start_gap(const struct vm_area_struct *vma)
{
	uint64_t start = vma->vm_start;

	if (vma->vm_flags & VM_GROWSDOWN) {
		start -= stack_guard_gap(vma->vm_mm->machine);
		if (start > vma->vm_start)
			start = 0;
	}
	return start;
}

static inline uint64_t vm_end_gap(const struct vm_area_struct *vma)
{
	return vma->vm_end;
}

/*
** The task runs (an access, a system call): its CPU switches to its mm
** if it runs another one or is lazy (context_switch -> switch_mm).
** Returns the CPU.
*/
static inline struct tlb_cpu *switch_to_task(memlab_task *t)
{
	struct tlb_cpu *c = &t->m->tlb->cpu[t->cpu];

	if (c->loaded_mm != t->mm || c->is_lazy)
		switch_mm(t->m, c, t->mm);
	return c;
}

/* The free gap just below vma (Linux 4.x vma_compute_gap). */
static inline uint64_t vma_compute_gap(const struct vm_area_struct *vma)
{
	uint64_t gap = vm_start_gap(vma), prev_end;

	if (vma->vm_prev) {
		prev_end = vm_end_gap(vma->vm_prev);
		gap = gap > prev_end ? gap - prev_end : 0;
	}
	return gap;
}

/*
** The first slot of node whose pivot is above addr (node->nr if none): the
** number of pivots at or below addr, the unused ones being UINT64_MAX.
** Sixteen independent compares and no data-dependent branch: a binary
** search would be four dependent loads, an early exit a mispredicted
** branch for random addresses.
*/
static inline unsigned vma_node_index(const struct vma_node *node, uint64_t addr)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VMA_TREE_SLOTS; i++)
		n += node->pivot[i] <= addr;
	return n;
}

/* vma_tree_find(): the first VMA with vm_end > addr, or NULL. */
static inline struct vm_area_struct *vma_tree_find(const struct vma_tree *mt, uint64_t addr)
{
	const struct vma_node *node = mt->root;

	if (!node || addr >= node->pivot[node->nr - 1])
		return NULL;
	for (unsigned level = mt->height; --level;)
		node = node->slot[vma_node_index(node, addr)];
	return node->slot[vma_node_index(node, addr)];
}

/*
** Objects kept on a free list for reuse (VMAs, tree nodes) are poisoned
** under AddressSanitizer, so that a use after free is still reported.
*/
#if defined(__SANITIZE_ADDRESS__)
#define ML_POISON 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ML_POISON 1
#endif
#endif
#ifdef ML_POISON
#include <sanitizer/asan_interface.h>
#define ml_poison(p, size)	ASAN_POISON_MEMORY_REGION((p), (size))
#define ml_unpoison(p, size)	ASAN_UNPOISON_MEMORY_REGION((p), (size))
#else
#define ml_poison(p, size)	((void)(p), (void)(size))
#define ml_unpoison(p, size)	((void)(p), (void)(size))
#endif

/*
** Poison a free object but its free-list link: LeakSanitizer does not
** follow pointers held in poisoned memory, and would report the rest of
** the list as leaked when a host exits with the machine still open.
*/
#define ml_poison_but_link(p, link)						\
	do {									\
		char *b_ = (char *)(p), *l_ = (char *)&(link);			\
		ml_poison(b_, (size_t)(l_ - b_));				\
		ml_poison(l_ + sizeof(link), sizeof(*(p)) - (size_t)(l_ - b_) - sizeof(link)); \
	} while (0)

static inline uint64_t PAGE_ALIGN_M(const memlab_machine *m, uint64_t x)
{
	return (x + m->page_size - 1) & ~((uint64_t)m->page_size - 1);
}

#endif
