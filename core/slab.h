/*
** slab.h -- the slab allocator (SLUB, as Linux 6.18 has it without
** sheaves) that slab.c builds: what its caches, slabs and per-CPU state
** are, for the rest of the core (procfs, check) to read.
**
** A slab is one allocation from the buddy allocator (order 0..3 as
** calculate_order() picks it), its frames marked PG_slab; the head frame's
** page->index holds the struct slab, which lives in host memory.  The
** objects are the frames' bytes, addressed as the kernel addresses them:
** through the direct map (page_address()).  The freelists -- slab->freelist
** and each CPU's c->freelist -- link objects by index through slab->fp[]
** instead of through a word inside each free object: the order of the
** lists is SLUB's, the objects' bytes are left as the user left them.
*/
#ifndef MEMLAB_SLAB_H
#define MEMLAB_SLAB_H

#include "internal.h"

#define FP_END		0xffffu		/* end of a freelist */
#define MAX_OBJS_PER_PAGE 32767u	/* slab.objects is a u15 */

/*
** x86-64 6.18's task_struct object (fpu__init_task_struct_size(),
** arch/x86/kernel/fpu/init.c): 3392 bytes of its own (the config
** memlab's numbers came from), then the CPU's FPU state, XSAVE's
** legacy area and header (576 bytes) at least.  arm64 has no xstate_size
** and keeps x86's default object (no arm64 host has been measured).
*/
#define TASK_STRUCT_FIXED	3392u
#define XSTATE_MIN		576u
#define XSTATE_MAX		16384u
#define XSTATE_DEFAULT		2496u	/* the reference host's: 5888-byte task_structs */

struct kmem_cache;

struct slab {
	struct kmem_cache *cache;	/* slab->slab_cache */
	uint64_t pfn;
	struct slab *next;		/* on a CPU's partial list (slab->next) */
	struct slab *list_prev, *list_next;	/* on the node's partial list (slab_list) */
	struct slab *all_prev, *all_next;	/* every slab of the cache (memlab's, for walks) */
	unsigned order;
	unsigned slabs;			/* on a CPU partial list: slabs from here to its end */
	uint16_t objects, inuse;	/* inuse: objects not on slab->freelist */
	uint16_t freelist;		/* slab->freelist, FP_END: none */
	bool frozen;			/* some CPU's c->slab */
	bool on_partial;		/* slab_test_node_partial() */
	uint64_t *used;			/* bit per object: handed out and not freed */
	uint16_t *objcg;		/* slab->obj_exts: the memcg id each object is charged to, or NULL */
	uint16_t fp[];			/* get_freepointer(): the next free object */
};

/* A name kmem_cache_create() merged into a cache (sysfs_slab_alias()). */
struct kmem_alias {
	struct kmem_alias *next;
	char name[];
};

/* struct kmem_cache_cpu: one per CPU. */
struct kmem_cache_cpu {
	struct slab *slab;		/* c->slab, frozen */
	uint16_t freelist;		/* c->freelist: objects of c->slab */
	struct slab *partial;		/* c->partial: slabs linked by slab->next */
};

/* struct kmem_cache_node: memlab has one node. */
struct kmem_cache_node {
	struct slab *partial, *partial_tail;	/* n->partial, head first */
	uint64_t nr_partial;
	uint64_t nr_slabs, total_objects;	/* CONFIG_SLUB_DEBUG's counters */
	struct slab *all;			/* every slab, newest first */
};

struct kmem_cache {
	char *name;
	char *sysfs_name;		/* /sys/kernel/slab/ name: create_unique_id() when mergeable */
	unsigned object_size;		/* what the creator asked, the largest alias's */
	unsigned size;			/* object and metadata, aligned: the stride */
	unsigned align, inuse, offset;	/* offset: the free pointer's place */
	unsigned useroffset, usersize;
	uint32_t flags;			/* MEMLAB_SLAB_* */
	uint32_t allocflags;		/* gfp the slab pages add */
	bool ctor;
	int refcount;			/* 1 + aliases; 0 once destroyed (leaked) */
	int64_t api_objects;		/* handed out by the API (kmalloc, kmem_cache_alloc), not freed */
	uint64_t id;			/* no other cache of the machine has had it */
	struct kmem_alias *aliases;	/* the names merged into it */
	unsigned oo_order, oo_objects;	/* s->oo */
	unsigned min_order, min_objects;	/* s->min */
	unsigned min_partial, cpu_partial, cpu_partial_slabs;
	struct kmem_cache *next;	/* slab_caches, newest first */
	struct kmem_cache_cpu *cpu_slab;	/* m->nr_cpus */
	struct kmem_cache_node node;
};

/*
** The kernel's own caches for the objects memlab keeps (made at boot as
** 6.18 makes them: anon_vma_init, fork_init, proc_caches_init), so that
** a task, its mm and its VMAs take simulated memory as Linux's do.
*/
enum kernel_cache {
	KC_ANON_VMA, KC_ANON_VMA_CHAIN, KC_TASK_STRUCT, KC_MM_STRUCT, KC_VM_AREA_STRUCT,
	NR_KERNEL_CACHES
};
/* The machine's slab state (m->slab). */
struct slab_machine {
	struct kmem_cache *caches;	/* slab_caches: newest first, as /proc/slabinfo lists them */
	struct kmem_cache *leaked;	/* destroyed with objects left: off slab_caches, never freed */
	uint64_t next_id;		/* the next cache's id */
	struct kmem_cache *kmalloc_caches[4][32];	/* [kmalloc_cache_type][index] */
	struct kmem_cache *kernel_caches[NR_KERNEL_CACHES];
	unsigned kmalloc_shift_high;	/* KMALLOC_SHIFT_HIGH: PAGE_SHIFT + 1 */
	uint64_t nr_slabs;		/* every slab of every cache */
};

/* kmem_cache_alloc(GFP_KERNEL) for m->current (its CPU, its memcg), failslab included. */
int kernel_obj_alloc(memlab_machine *m, enum kernel_cache kc, uint64_t *addr);
int kernel_obj_alloc_gfp(memlab_machine *m, enum kernel_cache kc, uint32_t gfp, uint64_t *addr);
void kernel_obj_free(memlab_machine *m, enum kernel_cache kc, uint64_t addr);
bool kernel_obj_live(memlab_machine *m, enum kernel_cache kc, uint64_t addr);
uint64_t kernel_objs_in_use(memlab_machine *m, enum kernel_cache kc);

int slab_init(memlab_machine *m);		/* kmem_cache_init(): the kmalloc caches */
void slab_exit(memlab_machine *m);
int slab_check(memlab_machine *m, memlab_violation_fn fn, void *ud);
void slabinfo_show(memlab_machine *m, struct strbuf *sb);
void dump_unreclaimable_slab(memlab_machine *m);	/* the OOM report's slab table */

#endif
