/*
** slab.c -- the slab allocator, as Linux 6.18's SLUB (mm/slub.c,
** mm/slab_common.c) for caches without sheaves.
**
** A cache hands out objects of one size from slabs: runs of 2^order
** frames from the buddy allocator cut into s->size strides.  Each CPU
** allocates from its own slab (c->slab, frozen) through a freelist only it
** takes from (c->freelist); objects freed by other CPUs go to the slab's
** own freelist.  When c->slab runs dry the CPU takes a slab from its
** partial list (c->partial), else from the node's (n->partial, taking a
** few more for c->partial on the way), else a new slab.  A free into a
** full slab puts it on the freeing CPU's partial list; when that list is
** full it goes to the node's.  Empty slabs beyond s->min_partial go back
** to the buddy allocator.  Objects of SLAB_ACCOUNT caches, or allocated
** with __GFP_ACCOUNT, are charged to the task's memory cgroup in bytes
** (memcontrol.c's obj_cgroup part).
**
** What memlab leaves out: slub_debug (red zones, poisoning, tracking),
** sheaves (6.18 gives them only to caches that ask, the VMA and maple
** node caches), SLAB_FREELIST_RANDOM (objects are handed out in address
** order, as without it), the kmem_cache and kmem_cache_node caches (the
** descriptors live in host memory) and the boot-time caches of a real
** kernel: a new machine has only the kmalloc caches, all empty.
*/
#include <stdio.h>
#include <string.h>

#include "slab.h"
#include "memcontrol.h"
#include "mm.h"
#include "vmstat.h"

#define PAGE_ALLOC_COSTLY_ORDER	3
#define CACHE_LINE_SIZE		64u	/* cache_line_size(): x86-64 and arm64 */
#define ARCH_SLAB_MINALIGN	8u	/* __alignof__(unsigned long long) */
#define ARCH_KMALLOC_MINALIGN	8u
#define MIN_PARTIAL		5u
#define MAX_PARTIAL		10u
#define KMALLOC_SHIFT_LOW	3
#define WORD			8u	/* sizeof(void *), sizeof(freeptr_t) */

#define SLAB_DEBUG_FLAGS (MEMLAB_SLAB_RED_ZONE | MEMLAB_SLAB_POISON | MEMLAB_SLAB_STORE_USER | \
			  MEMLAB_SLAB_CONSISTENCY_CHECKS | MEMLAB_SLAB_TRACE)
/* SLAB_NEVER_MERGE, SLAB_MERGE_SAME (mm/slab_common.c) */
#define SLAB_NEVER_MERGE (MEMLAB_SLAB_RED_ZONE | MEMLAB_SLAB_POISON | MEMLAB_SLAB_STORE_USER | \
			  MEMLAB_SLAB_TRACE | MEMLAB_SLAB_TYPESAFE_BY_RCU | MEMLAB_SLAB_NOLEAKTRACE | \
			  MEMLAB_SLAB_FAILSLAB | MEMLAB_SLAB_NO_MERGE)
#define SLAB_MERGE_SAME (MEMLAB_SLAB_RECLAIM_ACCOUNT | MEMLAB_SLAB_CACHE_DMA | \
			 MEMLAB_SLAB_CACHE_DMA32 | MEMLAB_SLAB_ACCOUNT)
#define SLAB_FLAGS_PERMITTED 0x0000ffffu

/* enum kmalloc_cache_type, in the order create_kmalloc_caches() makes them */
enum { KMALLOC_NORMAL, KMALLOC_RECLAIM, KMALLOC_DMA, KMALLOC_CGROUP, NR_KMALLOC_TYPES };

static const char *const kmalloc_prefix[NR_KMALLOC_TYPES] = {
	"kmalloc-", "kmalloc-rcl-", "dma-kmalloc-", "kmalloc-cg-",
};
static const uint32_t kmalloc_type_flags[NR_KMALLOC_TYPES] = {
	0, MEMLAB_SLAB_RECLAIM_ACCOUNT, MEMLAB_SLAB_CACHE_DMA, MEMLAB_SLAB_ACCOUNT,
};

/* kmalloc_size_index[] (mm/slab_common.c): the cache index of sizes 1..192 by (size - 1) / 8. */
static const uint8_t size_index[24] = {
	3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7,
	2, 2, 2, 2, 2, 2, 2, 2,
};

static unsigned fls64(uint64_t x)
{
	return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

static unsigned ilog2(uint64_t x)
{
	return fls64(x) - 1;
}

/* get_order(): the order of the smallest block of pages holding size bytes. */
static unsigned get_order(const memlab_machine *m, uint64_t size)
{
	if (size <= m->page_size)
		return 0;
	return fls64((size - 1) >> m->page_shift);
}

static uint32_t align_up(uint32_t x, uint32_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t slab_address(const memlab_machine *m, const struct slab *slab)
{
	return pfn_to_kaddr(m, slab->pfn);
}

static struct kmem_cache_cpu *this_cpu_slab(const memlab_machine *m, struct kmem_cache *s)
{
	return &s->cpu_slab[smp_processor_id(m)];
}

/* ===================== layout (mm/slub.c calculate_sizes) ===================== */

static unsigned order_objects(const memlab_machine *m, unsigned order, unsigned size)
{
	return (unsigned)(((uint64_t)m->page_size << order) / size);
}

/* The lowest order from min_order on whose leftover is at most 1/fract of the slab. */
static unsigned calc_slab_order(const memlab_machine *m, unsigned size, unsigned min_order,
				unsigned max_order, unsigned fract_leftover)
{
	unsigned order;

	for (order = min_order; order <= max_order; order++) {
		uint64_t slab_size = (uint64_t)m->page_size << order;

		if (slab_size % size <= slab_size / fract_leftover)
			break;
	}
	return order;
}

/*
** calculate_order() of 6.8+: at least min_objects per slab (4 * (fls(CPUs)
** + 1), no more than fit an order-3 slab), then the lowest order wasting
** at most 1/16 of the slab, else 1/8, 1/4, 1/2; beyond order 3, the
** order that holds one object.  -1: too big for the buddy allocator.
*/
static int calculate_order(const memlab_machine *m, unsigned size)
{
	unsigned min_objects = 4 * (fls64((uint64_t)m->nr_cpus) + 1);
	unsigned max_objects = order_objects(m, PAGE_ALLOC_COSTLY_ORDER, size);
	unsigned min_order, order;

	if (max_objects < 1)
		max_objects = 1;
	if (min_objects > max_objects)
		min_objects = max_objects;
	min_order = get_order(m, (uint64_t)min_objects * size);
	if (order_objects(m, min_order, size) > MAX_OBJS_PER_PAGE)
		return (int)get_order(m, (uint64_t)size * MAX_OBJS_PER_PAGE) - 1;
	for (unsigned fraction = 16; fraction > 1; fraction /= 2) {
		order = calc_slab_order(m, size, min_order, PAGE_ALLOC_COSTLY_ORDER, fraction);
		if (order <= PAGE_ALLOC_COSTLY_ORDER)
			return (int)order;
	}
	order = get_order(m, size);
	return order <= m->max_order ? (int)order : -1;
}

/* calculate_alignment() (mm/slab_common.c). */
static unsigned calculate_alignment(uint32_t flags, unsigned align, unsigned size)
{
	if (flags & MEMLAB_SLAB_HWCACHE_ALIGN) {
		unsigned ralign = CACHE_LINE_SIZE;

		while (size <= ralign / 2)
			ralign /= 2;
		if (ralign > align)
			align = ralign;
	}
	if (align < ARCH_SLAB_MINALIGN)
		align = ARCH_SLAB_MINALIGN;
	return align_up(align, WORD);
}

/*
** calculate_sizes(): the object rounded to a word; the free pointer in
** the middle of the object, or after it when the object must stay intact
** while free (a constructor; SLAB_TYPESAFE_BY_RCU unless the creator
** named a place for it, which 6.18 allows only there); the stride aligned.  Returns false when no order
** holds an object.
*/
static bool calculate_sizes(memlab_machine *m, struct kmem_cache *s,
			    const struct memlab_kmem_cache_args *args)
{
	unsigned size = align_up(s->object_size, WORD);
	int order;

	s->inuse = size;
	if (((s->flags & MEMLAB_SLAB_TYPESAFE_BY_RCU) && !args->use_freeptr_offset) || s->ctor) {
		s->offset = size;
		size += WORD;
	} else if (s->flags & MEMLAB_SLAB_TYPESAFE_BY_RCU) {
		s->offset = args->freeptr_offset;
	} else {
		s->offset = s->object_size / 2 / WORD * WORD;
	}
	size = align_up(size, s->align);
	s->size = size;
	order = calculate_order(m, size);
	if (order < 0)
		return false;
	s->allocflags = 0;
	if (order)
		s->allocflags |= MEMLAB___GFP_COMP;
	if (s->flags & MEMLAB_SLAB_CACHE_DMA)
		s->allocflags |= MEMLAB___GFP_DMA;
	if (s->flags & MEMLAB_SLAB_CACHE_DMA32)
		s->allocflags |= MEMLAB___GFP_DMA32;
	if (s->flags & MEMLAB_SLAB_RECLAIM_ACCOUNT)
		s->allocflags |= MEMLAB___GFP_RECLAIMABLE;
	s->oo_order = (unsigned)order;
	s->oo_objects = order_objects(m, (unsigned)order, size);
	s->min_order = get_order(m, size);
	s->min_objects = order_objects(m, s->min_order, size);
	return s->oo_objects != 0;
}

/* do_kmem_cache_create()'s tail: min_partial and set_cpu_partial(). */
static void set_partial_limits(struct kmem_cache *s, const memlab_machine *m)
{
	unsigned nr_objects;

	s->min_partial = ilog2(s->size) / 2;
	if (s->min_partial > MAX_PARTIAL)
		s->min_partial = MAX_PARTIAL;
	if (s->min_partial < MIN_PARTIAL)
		s->min_partial = MIN_PARTIAL;
	if (s->size >= m->page_size)
		nr_objects = 6;
	else if (s->size >= 1024)
		nr_objects = 24;
	else if (s->size >= 256)
		nr_objects = 52;
	else
		nr_objects = 120;
	s->cpu_partial = nr_objects;
	s->cpu_partial_slabs = (nr_objects * 2 + s->oo_objects - 1) / s->oo_objects;
}

/* ===================== caches: creation, merging ===================== */

static bool slab_unmergeable(const struct kmem_cache *s)
{
	return (s->flags & SLAB_NEVER_MERGE) || s->ctor || s->usersize || s->refcount < 0;
}

/* find_mergeable(): the oldest cache whose stride fits size within a word. */
static struct kmem_cache *find_mergeable(memlab_machine *m, unsigned size, unsigned align,
					 uint32_t flags, bool ctor)
{
	struct kmem_cache *s, *found = NULL;

	if (ctor || (flags & SLAB_NEVER_MERGE))
		return NULL;
	size = align_up(size, WORD);
	align = calculate_alignment(flags, align, size);
	size = align_up(size, align);
	for (s = m->slab->caches; s; s = s->next) {	/* newest first: keep the last match */
		if (slab_unmergeable(s) || size > s->size)
			continue;
		if ((flags & SLAB_MERGE_SAME) != (s->flags & SLAB_MERGE_SAME))
			continue;
		if ((s->size & ~(align - 1)) != s->size)
			continue;
		if (s->size - size >= WORD)
			continue;
		found = s;
	}
	return found;
}

static char *ml_strdup(memlab_machine *m, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = ml_alloc(m, n);

	if (p)
		memcpy(p, str, n);
	return p;
}

/* create_unique_id(): the sysfs name of a mergeable cache, ":[flags-]size". */
static char *create_unique_id(memlab_machine *m, const struct kmem_cache *s)
{
	char id[32], *p = id;

	*p++ = ':';
	if (s->flags & MEMLAB_SLAB_CACHE_DMA)
		*p++ = 'd';
	if (s->flags & MEMLAB_SLAB_CACHE_DMA32)
		*p++ = 'D';
	if (s->flags & MEMLAB_SLAB_RECLAIM_ACCOUNT)
		*p++ = 'a';
	if (s->flags & MEMLAB_SLAB_CONSISTENCY_CHECKS)
		*p++ = 'F';
	if (s->flags & MEMLAB_SLAB_ACCOUNT)
		*p++ = 'A';
	if (p != id + 1)
		*p++ = '-';
	snprintf(p, sizeof(id) - (size_t)(p - id), "%07u", s->size);
	return ml_strdup(m, id);
}

static void free_cache(memlab_machine *m, struct kmem_cache *s)
{
	while (s->aliases) {
		struct kmem_alias *a = s->aliases;

		s->aliases = a->next;
		ml_free(m, a, sizeof(*a) + strlen(a->name) + 1);
	}
	if (s->name)
		ml_free(m, s->name, strlen(s->name) + 1);
	if (s->sysfs_name)
		ml_free(m, s->sysfs_name, strlen(s->sysfs_name) + 1);
	if (s->cpu_slab)
		ml_free(m, s->cpu_slab, sizeof(*s->cpu_slab) * (size_t)m->nr_cpus);
	ml_free(m, s, sizeof(*s));
}

/* create_cache(): a new cache at the head of slab_caches. */
static int create_cache(memlab_machine *m, const char *name, unsigned size, unsigned align,
			uint32_t flags, const struct memlab_kmem_cache_args *args,
			struct kmem_cache **out)
{
	struct kmem_cache *s = ml_alloc(m, sizeof(*s));

	if (!s)
		return -MEMLAB_ENOMEM;
	s->name = ml_strdup(m, name);
	s->cpu_slab = ml_alloc(m, sizeof(*s->cpu_slab) * (size_t)m->nr_cpus);
	if (!s->name || !s->cpu_slab) {
		free_cache(m, s);
		return -MEMLAB_ENOMEM;
	}
	for (int cpu = 0; cpu < m->nr_cpus; cpu++)
		s->cpu_slab[cpu].freelist = FP_END;
	s->object_size = size;
	s->flags = flags;
	s->ctor = args->ctor != 0;
	s->useroffset = args->useroffset;
	s->usersize = args->usersize;
	s->align = calculate_alignment(flags, align, size);
	s->refcount = 1;
	s->id = ++m->slab->next_id;
	if (!calculate_sizes(m, s, args)) {
		free_cache(m, s);
		return -MEMLAB_EINVAL;
	}
	set_partial_limits(s, m);
	s->sysfs_name = slab_unmergeable(s) ? ml_strdup(m, name) : create_unique_id(m, s);
	if (!s->sysfs_name) {
		free_cache(m, s);
		return -MEMLAB_ENOMEM;
	}
	s->next = m->slab->caches;
	m->slab->caches = s;
	*out = s;
	return 0;
}

/*
** __kmem_cache_create_args(): an alias of a compatible cache when there
** is one (no usercopy region: such caches stay apart), else a new cache.
*/
static int kmem_cache_create(memlab_machine *m, const char *name, unsigned size,
			     const struct memlab_kmem_cache_args *args, uint32_t flags,
			     struct kmem_cache **out)
{
	struct kmem_cache *s;

	if (flags & ~SLAB_FLAGS_PERMITTED)
		return -MEMLAB_EINVAL;
	if (args->use_freeptr_offset &&
	    (args->freeptr_offset >= size || !(flags & MEMLAB_SLAB_TYPESAFE_BY_RCU) ||
	     args->freeptr_offset % WORD))
		return -MEMLAB_EINVAL;
	if (args->usersize && (size < args->usersize || size - args->usersize < args->useroffset))
		return -MEMLAB_EINVAL;	/* Linux WARNs and drops the region; memlab refuses */
	if (!args->usersize) {
		s = find_mergeable(m, size, args->align, flags, args->ctor != 0);
		if (s) {
			struct kmem_alias *a = ml_alloc(m, sizeof(*a) + strlen(name) + 1);

			if (!a)
				return -MEMLAB_ENOMEM;
			strcpy(a->name, name);
			a->next = s->aliases;
			s->aliases = a;
			s->refcount++;
			if (size > s->object_size)
				s->object_size = size;
			if (align_up(size, WORD) > s->inuse)
				s->inuse = align_up(size, WORD);
			*out = s;
			return 0;
		}
	}
	return create_cache(m, name, size, args->align, flags, args, out);
}

/*
** create_kmalloc_caches(): for each type, the two caches that are no
** power of two (96, 192) first, then 8 .. 2 * PAGE_SIZE.  A kmalloc
** cache aligns its objects to the largest power of two dividing their
** size, and being a usercopy region all of it, takes no aliases.
*/
static unsigned kmalloc_size(unsigned idx)
{
	return idx == 1 ? 96 : idx == 2 ? 192 : 1u << idx;
}

static int new_kmalloc_cache(memlab_machine *m, int type, unsigned idx)
{
	struct memlab_kmem_cache_args args = { 0 };
	unsigned size = kmalloc_size(idx);
	char name[32];

	if (size >= 1024 * 1024)
		snprintf(name, sizeof(name), "%s%uM", kmalloc_prefix[type], size >> 20);
	else if (size >= 1024)
		snprintf(name, sizeof(name), "%s%uk", kmalloc_prefix[type], size >> 10);
	else
		snprintf(name, sizeof(name), "%s%u", kmalloc_prefix[type], size);
	args.usersize = size;
	args.align = (size & -size) > ARCH_KMALLOC_MINALIGN ? size & -size : ARCH_KMALLOC_MINALIGN;
	return create_cache(m, name, size, args.align,
			    kmalloc_type_flags[type] | MEMLAB_SLAB_KMALLOC, &args,
			    &m->slab->kmalloc_caches[type][idx]);
}

/*
** The caches of the kernel objects memlab keeps, with x86-64 6.18's sizes
** (from this host's /sys/kernel/slab) and creation flags, in boot order.
** Their layouts follow from these as the host's did: task_struct 5888
** bytes (TASK_STRUCT_FIXED and the xstate_size of that host's CPU; 0
** below) in order-3 slabs of 5, mm_struct 1600 in order-3 slabs of 20,
** vm_area_struct 192 (its free pointer at vm_freeptr, offset 0), anon_vma
** 104 (a constructor), anon_vma_chain 64, merged with other 64-byte
** accounted caches in Linux (":A-0000064").  vm_area_struct's sheaves are
** not modelled.
*/
static const struct kernel_cache_def {
	const char *name;
	unsigned size;
	uint32_t flags;
	struct memlab_kmem_cache_args args;
} kernel_cache_defs[NR_KERNEL_CACHES] = {
	[KC_ANON_VMA] = { "anon_vma", 96, MEMLAB_SLAB_TYPESAFE_BY_RCU | MEMLAB_SLAB_PANIC |
			  MEMLAB_SLAB_ACCOUNT, { .ctor = 1 } },
	[KC_ANON_VMA_CHAIN] = { "anon_vma_chain", 64, MEMLAB_SLAB_PANIC | MEMLAB_SLAB_ACCOUNT, { 0 } },
	[KC_TASK_STRUCT] = { "task_struct", 0, MEMLAB_SLAB_PANIC | MEMLAB_SLAB_ACCOUNT,
			     { .align = 64 } },	/* usersize: the FPU state's (below) */
	[KC_MM_STRUCT] = { "mm_struct", 1568, MEMLAB_SLAB_HWCACHE_ALIGN | MEMLAB_SLAB_PANIC |
			   MEMLAB_SLAB_ACCOUNT, { .usersize = 448 } },
	[KC_VM_AREA_STRUCT] = { "vm_area_struct", 192, MEMLAB_SLAB_HWCACHE_ALIGN |
				MEMLAB_SLAB_TYPESAFE_BY_RCU | MEMLAB_SLAB_PANIC | MEMLAB_SLAB_ACCOUNT,
				{ .use_freeptr_offset = 1, .freeptr_offset = 0 } },
};

int slab_init(memlab_machine *m)
{
	int err = 0;

	m->slab = ml_alloc(m, sizeof(*m->slab));
	if (!m->slab)
		return -MEMLAB_ENOMEM;
	m->slab->kmalloc_shift_high = m->page_shift + 1;
	for (int type = 0; type < NR_KMALLOC_TYPES && !err; type++) {
		err = new_kmalloc_cache(m, type, 1);
		if (!err)
			err = new_kmalloc_cache(m, type, 2);
		for (unsigned i = KMALLOC_SHIFT_LOW; i <= m->slab->kmalloc_shift_high && !err; i++)
			err = new_kmalloc_cache(m, type, i);
	}
	for (int kc = 0; kc < NR_KERNEL_CACHES && !err; kc++) {
		const struct kernel_cache_def *d = &kernel_cache_defs[kc];
		struct memlab_kmem_cache_args args = d->args;
		unsigned size = d->size;

		if (kc == KC_TASK_STRUCT) {	/* arch_task_struct_size, the FPU state whitelisted */
			size = TASK_STRUCT_FIXED + (m->xstate_size ? m->xstate_size : XSTATE_DEFAULT);
			args.usersize = m->xstate_size;
		}
		err = kmem_cache_create(m, d->name, size, &args, d->flags,
					&m->slab->kernel_caches[kc]);
	}
	return err;
}

/* ===================== slabs: pages from the buddy allocator ===================== */

static struct slab *slab_new_desc(memlab_machine *m, unsigned objects)
{
	size_t words = (objects + 63) / 64;
	struct slab *slab = ml_alloc(m, sizeof(*slab) + sizeof(uint16_t) * objects);

	if (!slab)
		return NULL;
	slab->used = ml_alloc(m, words * sizeof(uint64_t));
	if (!slab->used) {
		ml_free(m, slab, sizeof(*slab) + sizeof(uint16_t) * objects);
		return NULL;
	}
	return slab;
}

static void slab_free_desc(memlab_machine *m, struct slab *slab)
{
	if (slab->objcg)
		ml_free(m, slab->objcg, slab->objects * sizeof(uint16_t));
	ml_free(m, slab->used, (slab->objects + 63) / 64 * sizeof(uint64_t));
	ml_free(m, slab, sizeof(*slab) + sizeof(uint16_t) * slab->objects);
}

/* NR_SLAB_RECLAIMABLE_B or NR_SLAB_UNRECLAIMABLE_B, in pages here. */
static enum vmstat_item cache_vmstat_idx(const struct kmem_cache *s)
{
	return (s->flags & MEMLAB_SLAB_RECLAIM_ACCOUNT) ? NR_SLAB_RECLAIMABLE : NR_SLAB_UNRECLAIMABLE;
}

static struct slab *alloc_slab_page(memlab_machine *m, struct kmem_cache *s, uint32_t gfp,
				    unsigned order, unsigned objects)
{
	struct slab *slab;
	uint64_t pfn;

	if (alloc_pages(m, order, gfp, &pfn))
		return NULL;
	slab = slab_new_desc(m, objects);
	if (!slab) {
		memlab_free_pages(m, pfn, order);
		return NULL;
	}
	slab->cache = s;
	slab->pfn = pfn;
	slab->order = order;
	slab->objects = (uint16_t)objects;
	pfn_to_page(m, pfn)->flags |= PG_slab;
	pfn_to_page(m, pfn)->index = (uint64_t)(uintptr_t)slab;
	return slab;
}

/* GFP_SLAB_BUG_MASK: zone modifiers a slab allocation must not ask for. */
#define GFP_SLAB_BUG_MASK	(MEMLAB___GFP_DMA32 | MEMLAB___GFP_HIGHMEM)
/* GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK: what of the caller's gfp reaches a new slab. */
#define GFP_SLAB_PASS	(MEMLAB___GFP_RECLAIM | MEMLAB___GFP_HIGH | MEMLAB___GFP_IO | \
			 MEMLAB___GFP_FS | MEMLAB___GFP_NOWARN | MEMLAB___GFP_RETRY_MAYFAIL | \
			 MEMLAB___GFP_NOFAIL | MEMLAB___GFP_NORETRY | MEMLAB___GFP_MEMALLOC | \
			 MEMLAB___GFP_NOMEMALLOC | MEMLAB___GFP_HARDWALL | MEMLAB___GFP_THISNODE)

/* kmalloc_fix_flags(): Linux warns and drops the zone modifiers slab cannot take. */
static uint32_t kmalloc_fix_flags(memlab_machine *m, uint32_t gfp)
{
	uint32_t fixed = gfp & ~GFP_SLAB_BUG_MASK;
	char was[256], now[256];

	memlab_gfp_format(gfp, was, sizeof(was));
	memlab_gfp_format(fixed, now, sizeof(now));
	ml_report(m, "Unexpected gfp: %#x (%s). Fixing up to gfp: %#x (%s). Fix your code!",
		  gfp, was, fixed, now);
	return fixed;
}

/*
** allocate_slab(): the cache's preferred order without trying hard
** (__GFP_NORETRY, no warning, no direct reclaim when that is above the
** minimum order), then -- even when the orders are the same -- the
** minimum order with the caller's gfp.  The objects' freelist in address
** order.
*/
static struct slab *allocate_slab(memlab_machine *m, struct kmem_cache *s, uint32_t gfp)
{
	uint32_t flags = gfp | s->allocflags;
	uint32_t alloc_gfp = (flags | MEMLAB___GFP_NOWARN | MEMLAB___GFP_NORETRY) & ~MEMLAB___GFP_NOFAIL;
	struct slab *slab;

	if ((alloc_gfp & MEMLAB___GFP_DIRECT_RECLAIM) && s->oo_order > s->min_order)
		alloc_gfp = (alloc_gfp | MEMLAB___GFP_NOMEMALLOC) & ~MEMLAB___GFP_RECLAIM;
	slab = alloc_slab_page(m, s, alloc_gfp, s->oo_order, s->oo_objects);
	if (!slab)	/* the caller's gfp now: it may reclaim hard and OOM-kill */
		slab = alloc_slab_page(m, s, (flags & ~MEMLAB___GFP_COMP) |
				       (s->min_order ? MEMLAB___GFP_COMP : 0),
				       s->min_order, s->min_objects);
	if (!slab)
		return NULL;
	for (unsigned i = 0; i < slab->objects; i++)
		slab->fp[i] = (uint16_t)(i + 1 < slab->objects ? i + 1 : FP_END);
	slab->freelist = 0;
	m->vmstat[cache_vmstat_idx(s)] += 1ull << slab->order;
	m->slab->nr_slabs++;
	slab->all_next = s->node.all;
	if (s->node.all)
		s->node.all->all_prev = slab;
	s->node.all = slab;
	return slab;
}

/* discard_slab(): back to the buddy allocator. */
static void discard_slab(memlab_machine *m, struct kmem_cache *s, struct slab *slab)
{
	struct page *page = pfn_to_page(m, slab->pfn);

	s->node.nr_slabs--;
	s->node.total_objects -= slab->objects;
	m->vmstat[cache_vmstat_idx(s)] -= 1ull << slab->order;
	m->slab->nr_slabs--;
	page->flags &= ~PG_slab;
	page->index = 0;
	if (slab->all_prev)
		slab->all_prev->all_next = slab->all_next;
	else
		s->node.all = slab->all_next;
	if (slab->all_next)
		slab->all_next->all_prev = slab->all_prev;
	memlab_free_pages(m, slab->pfn, slab->order);
	slab_free_desc(m, slab);
}

/*
** The slab holding kernel address addr (virt_to_slab), and the object's
** index; NULL when addr is not in the direct map or not in a slab.
** Slabs are at most order 3 (or the order one object needs), so the head
** is one of the few aligned frames at or below addr's.
*/
static struct slab *virt_to_slab(memlab_machine *m, uint64_t addr, uint64_t *pfn_out)
{
	uint64_t base = page_offset(m), pfn;

	if (addr < base || addr - base >= m->nr_frames << m->page_shift)
		return NULL;
	pfn = (addr - base) >> m->page_shift;
	if (pfn_out)
		*pfn_out = pfn;
	for (unsigned order = 0; order <= m->max_order; order++) {
		uint64_t head = pfn & ~((1ull << order) - 1);
		struct page *page = pfn_to_page(m, head);

		if (page->flags & PG_slab) {
			struct slab *slab = (struct slab *)(uintptr_t)page->index;

			return pfn < head + (1ull << slab->order) ? slab : NULL;
		}
		if (page->flags & (PG_head_alloc | PG_buddy | PG_pcp))
			return NULL;	/* the head of something else */
	}
	return NULL;
}

/* ===================== the node's partial list ===================== */

static void add_partial(struct kmem_cache_node *n, struct slab *slab, bool tail)
{
	n->nr_partial++;
	slab->on_partial = true;
	if (tail) {
		slab->list_prev = n->partial_tail;
		slab->list_next = NULL;
		if (n->partial_tail)
			n->partial_tail->list_next = slab;
		else
			n->partial = slab;
		n->partial_tail = slab;
	} else {
		slab->list_next = n->partial;
		slab->list_prev = NULL;
		if (n->partial)
			n->partial->list_prev = slab;
		else
			n->partial_tail = slab;
		n->partial = slab;
	}
}

/* list_add(new, &prev->slab_list) */
static void insert_partial_after(struct kmem_cache_node *n, struct slab *prev, struct slab *slab)
{
	n->nr_partial++;
	slab->on_partial = true;
	slab->list_prev = prev;
	slab->list_next = prev->list_next;
	if (prev->list_next)
		prev->list_next->list_prev = slab;
	else
		n->partial_tail = slab;
	prev->list_next = slab;
}

static void remove_partial(struct kmem_cache_node *n, struct slab *slab)
{
	if (slab->list_prev)
		slab->list_prev->list_next = slab->list_next;
	else
		n->partial = slab->list_next;
	if (slab->list_next)
		slab->list_next->list_prev = slab->list_prev;
	else
		n->partial_tail = slab->list_prev;
	slab->list_prev = slab->list_next = NULL;
	slab->on_partial = false;
	n->nr_partial--;
}

/* ===================== freeing into slabs ===================== */

/*
** __put_partials(): a CPU's partial slabs go to the node's list, the
** empty ones beyond min_partial back to the buddy allocator.
*/
static void put_partials(memlab_machine *m, struct kmem_cache *s, struct slab *list)
{
	struct kmem_cache_node *n = &s->node;
	struct slab *discard = NULL;

	while (list) {
		struct slab *slab = list;

		list = slab->next;
		slab->next = NULL;
		if (!slab->inuse && n->nr_partial >= s->min_partial) {
			slab->next = discard;
			discard = slab;
		} else {
			add_partial(n, slab, true);
		}
	}
	while (discard) {
		struct slab *slab = discard;

		discard = slab->next;
		discard_slab(m, s, slab);
	}
}

/*
** put_cpu_partial(): slab becomes the head of this CPU's partial list;
** when draining and the list already holds cpu_partial_slabs, the old
** list goes to the node first.
*/
static void put_cpu_partial(memlab_machine *m, struct kmem_cache *s, struct slab *slab, bool drain)
{
	struct kmem_cache_cpu *c = this_cpu_slab(m, s);
	struct slab *oldslab = c->partial, *to_unfreeze = NULL;
	unsigned slabs = 0;

	if (oldslab) {
		if (drain && oldslab->slabs >= s->cpu_partial_slabs) {
			to_unfreeze = oldslab;
			oldslab = NULL;
		} else {
			slabs = oldslab->slabs;
		}
	}
	slab->slabs = slabs + 1;
	slab->next = oldslab;
	c->partial = slab;
	if (to_unfreeze)
		put_partials(m, s, to_unfreeze);
}

/*
** __slab_free(): an object back onto its slab's freelist.  A full slab
** that gets a free object goes on this CPU's partial list; an empty slab
** on the node's list goes back to the buddy allocator when the node keeps
** enough partial slabs.  A CPU slab (frozen) or a slab on some CPU's
** partial list only gets the object.
*/
static void __slab_free(memlab_machine *m, struct kmem_cache *s, struct slab *slab, unsigned idx)
{
	struct kmem_cache_node *n = &s->node;
	uint16_t prior = slab->freelist;
	bool was_frozen = slab->frozen;

	slab->fp[idx] = prior;
	slab->freelist = (uint16_t)idx;
	slab->inuse--;
	if (was_frozen)
		return;					/* FREE_FROZEN */
	if (prior == FP_END) {
		put_cpu_partial(m, s, slab, true);	/* CPU_PARTIAL_FREE */
		return;
	}
	if (slab->inuse || !slab->on_partial)
		return;		/* still partial, or on a CPU's partial list */
	if (n->nr_partial >= s->min_partial) {
		remove_partial(n, slab);		/* FREE_REMOVE_PARTIAL */
		discard_slab(m, s, slab);		/* FREE_SLAB */
	}
}

/* obj_full_size(): an accounted object's stride and its obj_cgroup pointer. */
static unsigned obj_full_size(const struct kmem_cache *s)
{
	return s->size + WORD;
}

/* The slab and index of the object at addr, which must be one. */
static struct slab *object_slab(memlab_machine *m, uint64_t addr, unsigned *idx)
{
	struct slab *slab = virt_to_slab(m, addr, NULL);

	*idx = (unsigned)((addr - slab_address(m, slab)) / slab->cache->size);
	return slab;
}

/* __memcg_slab_free_hook() */
static void memcg_slab_free_hook(memlab_machine *m, struct kmem_cache *s, struct slab *slab,
				 unsigned idx)
{
	unsigned id = slab->objcg ? slab->objcg[idx] : 0;

	if (!id)
		return;
	slab->objcg[idx] = 0;
	memcg_slab_uncharge(m, id, obj_full_size(s), cache_vmstat_idx(s));
}

/* do_slab_free(): this CPU's slab takes the object lock-free; any other goes the slow way. */
static void do_slab_free(memlab_machine *m, struct kmem_cache *s, struct slab *slab, unsigned idx)
{
	struct kmem_cache_cpu *c = this_cpu_slab(m, s);

	memcg_slab_free_hook(m, s, slab, idx);
	slab->used[idx / 64] &= ~(1ull << (idx % 64));
	if (slab == c->slab) {
		slab->fp[idx] = c->freelist;
		c->freelist = (uint16_t)idx;
		return;
	}
	__slab_free(m, s, slab, idx);
}

/*
** deactivate_slab(): a CPU gives up its slab.  Its freelist goes back in
** front of the slab's; the slab goes to the node's partial list (at the
** tail if other CPUs had freed into it), back to the buddy allocator if
** empty and the node has min_partial slabs, or onto no list if full.
*/
static void deactivate_slab(memlab_machine *m, struct kmem_cache *s, struct slab *slab,
			    uint16_t freelist)
{
	struct kmem_cache_node *n = &s->node;
	bool tail = slab->freelist != FP_END;
	uint16_t last = FP_END;

	for (uint16_t i = freelist; i != FP_END; i = slab->fp[i]) {
		last = i;
		slab->inuse--;
	}
	if (last != FP_END) {
		slab->fp[last] = slab->freelist;
		slab->freelist = freelist;
	}
	slab->frozen = false;
	if (!slab->inuse && n->nr_partial >= s->min_partial)
		discard_slab(m, s, slab);		/* DEACTIVATE_EMPTY */
	else if (slab->freelist != FP_END)
		add_partial(n, slab, tail);
}

/* __flush_cpu_slab(): a CPU's slab and partial list go back to the node. */
static void flush_cpu_slab(memlab_machine *m, struct kmem_cache *s, int cpu)
{
	struct kmem_cache_cpu *c = &s->cpu_slab[cpu];
	struct slab *partial = c->partial;

	if (c->slab) {
		struct slab *slab = c->slab;
		uint16_t freelist = c->freelist;

		c->slab = NULL;
		c->freelist = FP_END;
		deactivate_slab(m, s, slab, freelist);
	}
	c->partial = NULL;
	if (partial)
		put_partials(m, s, partial);
}

/* flush_all_cpus_locked(): each CPU flushes its own, as work queued on it (its pageset gets the pages). */
static void flush_all(memlab_machine *m, struct kmem_cache *s)
{
	int work_cpu = m->work_cpu;

	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		m->work_cpu = cpu;
		flush_cpu_slab(m, s, cpu);
	}
	m->work_cpu = work_cpu;
}

/* ===================== allocating ===================== */

/* get_freelist(): take the slab's freelist for this CPU; all its objects count as used. */
static uint16_t get_freelist(struct slab *slab)
{
	uint16_t freelist = slab->freelist;

	slab->freelist = FP_END;
	slab->inuse = slab->objects;
	slab->frozen = freelist != FP_END;
	return freelist;
}

/*
** get_partial_node(): the first slab of the node's partial list for the
** CPU slab, and more onto the CPU's partial list until it holds over
** half of cpu_partial_slabs.
*/
static struct slab *get_partial_node(memlab_machine *m, struct kmem_cache *s)
{
	struct kmem_cache_node *n = &s->node;
	struct slab *partial = NULL, *slab, *next;
	unsigned partial_slabs = 0;

	for (slab = n->partial; slab; slab = next) {
		next = slab->list_next;
		remove_partial(n, slab);
		if (!partial) {
			partial = slab;			/* ALLOC_FROM_PARTIAL */
			if (!s->cpu_partial_slabs)
				break;
		} else {
			put_cpu_partial(m, s, slab, false);	/* CPU_PARTIAL_NODE */
			if (++partial_slabs > s->cpu_partial_slabs / 2)
				break;
		}
	}
	return partial;
}

/* slab_out_of_memory(): what SLUB prints when a slab could not be had. */
static void slab_out_of_memory(memlab_machine *m, struct kmem_cache *s, uint32_t gfp)
{
	uint64_t nr_free = 0;
	char gfps[256];

	if (gfp & MEMLAB___GFP_NOWARN)
		return;
	for (struct slab *slab = s->node.partial; slab; slab = slab->list_next)
		nr_free += slab->objects - slab->inuse;
	memlab_gfp_format(gfp, gfps, sizeof(gfps));
	ml_report(m, "SLUB: Unable to allocate memory on CPU %d (of node 0) on node -1, gfp=%#x(%s)",
		  smp_processor_id(m), gfp, gfps);
	ml_report(m, "  cache: %s, object size: %u, buffer size: %u, default order: %u, min order: %u",
		  s->name, s->object_size, s->size, s->oo_order, s->min_order);
	ml_report(m, "  node 0: slabs: %llu, objs: %llu, free: %llu",
		  (unsigned long long)s->node.nr_slabs, (unsigned long long)s->node.total_objects,
		  (unsigned long long)nr_free);
}

/* Hand out object idx of slab, as the CPU's freelist loads it. */
static uint64_t load_object(memlab_machine *m, struct kmem_cache *s, struct kmem_cache_cpu *c,
			    struct slab *slab, uint16_t idx)
{
	c->freelist = slab->fp[idx];
	slab->used[idx / 64] |= 1ull << (idx % 64);
	return slab_address(m, slab) + (uint64_t)idx * s->size;
}

/*
** ___slab_alloc(): the slow path.  The CPU slab's own freelist (frees
** from other CPUs), else the next slab of the CPU's partial list, else
** one of the node's, else a new slab.
*/
static int ___slab_alloc(memlab_machine *m, struct kmem_cache *s, uint32_t gfp, uint64_t *addr)
{
	struct kmem_cache_cpu *c = this_cpu_slab(m, s);
	struct slab *slab = c->slab;
	uint16_t freelist;

	if (slab) {
		freelist = get_freelist(slab);
		if (freelist != FP_END)				/* ALLOC_REFILL */
			goto load;
		c->slab = NULL;					/* DEACTIVATE_BYPASS: full, on no list */
	}
	if (c->partial) {					/* CPU_PARTIAL_ALLOC */
		slab = c->partial;
		c->partial = slab->next;
		slab->next = NULL;
		c->slab = slab;
		freelist = get_freelist(slab);
		goto load;
	}
	slab = get_partial_node(m, s);
	if (!slab) {
		if (gfp & GFP_SLAB_BUG_MASK)			/* new_slab() */
			gfp = kmalloc_fix_flags(m, gfp);
		slab = allocate_slab(m, s, gfp & GFP_SLAB_PASS);	/* ALLOC_SLAB */
		c = this_cpu_slab(m, s);
		if (!slab) {
			slab_out_of_memory(m, s, gfp);
			return -MEMLAB_ENOMEM;
		}
		s->node.nr_slabs++;
		s->node.total_objects += slab->objects;
	}
	freelist = get_freelist(slab);				/* freeze_slab() */
	slab->frozen = true;
	if (c->slab) {		/* a nested call took a slab meanwhile (CPUSLAB_FLUSH) */
		struct slab *flush = c->slab;
		uint16_t flush_freelist = c->freelist;

		c->slab = NULL;
		c->freelist = FP_END;
		deactivate_slab(m, s, flush, flush_freelist);
	}
	c->slab = slab;
load:
	*addr = load_object(m, s, c, slab, freelist);
	return 0;
}

/*
** memcg_slab_post_alloc_hook(): an object of a SLAB_ACCOUNT cache, or
** allocated with __GFP_ACCOUNT, is charged to the task's memcg; when the
** charge fails the object goes back (memcg_alloc_abort_single) and the
** allocation fails.  Without room for the slab's obj_exts vector the
** object stays uncharged, as Linux leaves it.
*/
static int memcg_slab_post_alloc(memlab_machine *m, struct kmem_cache *s, uint32_t gfp,
				 uint64_t addr)
{
	unsigned idx, id;
	struct slab *slab;
	int err;

	if (!(gfp & MEMLAB___GFP_ACCOUNT) && !(s->flags & MEMLAB_SLAB_ACCOUNT))
		return 0;
	if (!m->current || !m->current->memcg || mem_cgroup_is_root(m, m->current->memcg))
		return 0;
	slab = object_slab(m, addr, &idx);
	if (!slab->objcg && !(slab->objcg = ml_alloc(m, slab->objects * sizeof(uint16_t))))
		return 0;
	err = memcg_slab_charge(m, gfp, obj_full_size(s), cache_vmstat_idx(s), &id);
	if (err) {		/* memcg_alloc_abort_single(): back to this CPU's freelist */
		do_slab_free(m, s, slab, idx);
		return err;
	}
	slab->objcg[idx] = (uint16_t)id;
	return 0;
}

/* slab_alloc_node(): failslab, the CPU's freelist, else the slow path; __GFP_ZERO clears object_size bytes. */
static int slab_alloc(memlab_machine *m, struct kmem_cache *s, uint32_t gfp, uint64_t *addr)
{
	struct kmem_cache_cpu *c;
	int err = 0;

	if (should_failslab_gfp(m, s->object_size, gfp))
		return -MEMLAB_ENOMEM;
	c = this_cpu_slab(m, s);
	if (c->slab && c->freelist != FP_END)
		*addr = load_object(m, s, c, c->slab, c->freelist);
	else
		err = ___slab_alloc(m, s, gfp, addr);
	if (!err && (gfp & MEMLAB___GFP_ZERO)) {
		uint64_t paddr = *addr - page_offset(m);

		memset(frame_wptr(m, paddr >> m->page_shift, paddr & (m->page_size - 1), s->object_size),
		       0, s->object_size);
	}
	if (!err)
		err = memcg_slab_post_alloc(m, s, gfp, *addr);
	return err;
}

/* ===================== objects by address ===================== */

static bool object_is_used(const struct slab *slab, unsigned idx)
{
	return (slab->used[idx / 64] >> (idx % 64)) & 1;
}

/*
** What a free of addr finds: the object's slab and index, or the reason
** Linux would give (with slub_debug) for refusing it.  A double free of
** the object at the head of the freelist it would join is caught even
** without debugging, by CONFIG_SLAB_FREELIST_HARDENED's BUG_ON: the
** machine stops as Linux's would.
*/
static int free_object_check(memlab_machine *m, struct kmem_cache *s, uint64_t addr,
			     struct slab **slab_out, unsigned *idx_out, const char *fn)
{
	struct slab *slab = virt_to_slab(m, addr, NULL);
	uint64_t off;
	unsigned idx;

	if (!slab) {
		ml_report(m, "%s: 0x%llx is no slab object", fn, (unsigned long long)addr);
		return -MEMLAB_EINVAL;
	}
	if (s && slab->cache != s)	/* cache_from_obj(): Linux warns and frees to the right cache */
		ml_report(m, "cache_from_obj: Wrong slab cache. %s but object is from %s", s->name,
			  slab->cache->name);
	s = slab->cache;
	off = addr - slab_address(m, slab);
	idx = (unsigned)(off / s->size);
	if (off % s->size || idx >= slab->objects) {
		ml_report(m, "BUG %s (Not tainted): Invalid object pointer 0x%llx", s->name,
			  (unsigned long long)addr);
		return -MEMLAB_EINVAL;
	}
	if (!object_is_used(slab, idx)) {
		struct kmem_cache_cpu *c = this_cpu_slab(m, s);
		uint16_t head = slab == c->slab ? c->freelist : slab->freelist;

		if (head == idx) {	/* set_freepointer(): BUG_ON(object == fp) */
			ml_bug(m, "mm/slub.c:443", "%s: double free of 0x%llx in %s",
			       fn, (unsigned long long)addr, s->name);
			return -MEMLAB_EIO;
		}
		ml_report(m, "BUG %s (Not tainted): Object already free (0x%llx)", s->name,
			  (unsigned long long)addr);
		return -MEMLAB_EINVAL;
	}
	*slab_out = slab;
	*idx_out = idx;
	return 0;
}

/*
** The caches whose objects memlab's own tasks, mms, VMAs and anon_vmas
** own: static in Linux (vm_area_cachep, ...), so no other code allocates
** or frees their objects; the API refuses to (anon_vma_chain's cache,
** mergeable, is left open: other 64-byte caches merge into it, and
** api_objects tells their objects from the anon_vma_chains').
*/
static bool core_owned_cache(const memlab_machine *m, const struct kmem_cache *s)
{
	return s == m->slab->kernel_caches[KC_ANON_VMA] ||
	       s == m->slab->kernel_caches[KC_TASK_STRUCT] ||
	       s == m->slab->kernel_caches[KC_MM_STRUCT] ||
	       s == m->slab->kernel_caches[KC_VM_AREA_STRUCT];
}

static int refuse_core_owned(memlab_machine *m, const struct kmem_cache *s, const char *fn)
{
	ml_report(m, "%s: %s's objects belong to memlab's own tasks, mms, VMAs and anon_vmas",
		  fn, s->name);
	return -MEMLAB_EINVAL;
}

/* ===================== kmalloc ===================== */

static int kmalloc_type(uint32_t gfp)
{
	if (gfp & MEMLAB___GFP_DMA)
		return KMALLOC_DMA;
	if (gfp & MEMLAB___GFP_RECLAIMABLE)
		return KMALLOC_RECLAIM;
	if (gfp & MEMLAB___GFP_ACCOUNT)
		return KMALLOC_CGROUP;
	return KMALLOC_NORMAL;
}

/* kmalloc_slab(): the cache for size bytes (1 .. 2 * PAGE_SIZE). */
static struct kmem_cache *kmalloc_slab(memlab_machine *m, uint64_t size, uint32_t gfp)
{
	unsigned idx = size <= 192 ? size_index[(size - 1) / 8] : fls64(size - 1);

	return m->slab->kmalloc_caches[kmalloc_type(gfp)][idx];
}

/*
** ___kmalloc_large_node(): pages straight from the buddy allocator,
** counted as unreclaimable slab memory.
*/
static int kmalloc_large(memlab_machine *m, uint64_t size, uint32_t gfp, uint64_t *addr)
{
	unsigned order = get_order(m, size);
	uint64_t pfn;
	int err;

	if (order > m->max_order) {	/* __alloc_pages(): WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER) */
		if (!(gfp & MEMLAB___GFP_NOWARN))
			ml_report(m, "WARNING: kmalloc of %llu bytes: order %u above MAX_PAGE_ORDER",
				  (unsigned long long)size, order);
		return -MEMLAB_ENOMEM;
	}
	if (gfp & GFP_SLAB_BUG_MASK)
		gfp = kmalloc_fix_flags(m, gfp);
	err = alloc_pages(m, order, gfp | MEMLAB___GFP_COMP, &pfn);
	if (err)
		return err;
	if ((gfp & MEMLAB___GFP_ACCOUNT) &&	/* __alloc_pages(): __memcg_kmem_charge_page() */
	    (err = memcg_kmem_charge_page(m, pfn, order, gfp))) {
		memlab_free_pages(m, pfn, order);
		return err;
	}
	pfn_to_page(m, pfn)->flags |= PG_large_kmalloc;
	m->vmstat[NR_SLAB_UNRECLAIMABLE] += 1ull << order;
	mod_memcg_state(page_memcg(m, pfn_to_page(m, pfn)), NR_SLAB_UNRECLAIMABLE,
			(int64_t)m->page_size << order);
	*addr = page_offset(m) + (pfn << m->page_shift);
	return 0;
}

/* The head frame of the large kmalloc holding pfn, or PFN_NONE. */
static uint64_t large_kmalloc_head(memlab_machine *m, uint64_t pfn)
{
	for (unsigned order = 0; order <= m->max_order; order++) {
		uint64_t head = pfn & ~((1ull << order) - 1);
		const struct page *page = pfn_to_page(m, head);

		if (page->flags & PG_large_kmalloc)
			return pfn < head + (1ull << page->private) ? head : PFN_NONE;
		if (page->flags & (PG_head_alloc | PG_buddy | PG_pcp | PG_slab))
			return PFN_NONE;
	}
	return PFN_NONE;
}

/* __do_kmalloc_node(): no event for kmalloc(0); a failure's has ptr 0. */
static int kmalloc(memlab_machine *m, uint64_t size, uint32_t gfp, uint64_t *addr)
{
	uint64_t bytes_alloc;
	int err;

	if (!size) {
		*addr = MEMLAB_ZERO_SIZE_PTR;
		return 0;
	}
	if (size > (uint64_t)m->page_size * 2) {
		err = kmalloc_large(m, size, gfp, addr);
		bytes_alloc = (uint64_t)m->page_size << get_order(m, size);
	} else {
		struct kmem_cache *s = kmalloc_slab(m, size, gfp);

		err = slab_alloc(m, s, gfp, addr);
		s->api_objects += !err;
		bytes_alloc = s->size;
	}
	tracev(m, TP_KMALLOC, 0, err ? 0 : *addr, size, bytes_alloc, gfp, (uint64_t)-1,
	       (gfp & MEMLAB___GFP_ACCOUNT) != 0);
	return err;
}

/* kmem_cache_alloc_noprof(): slab_alloc_node() and its event. */
static int kmem_cache_alloc_noprof(memlab_machine *m, struct kmem_cache *s, uint32_t gfp,
				   uint64_t *addr)
{
	int err = slab_alloc(m, s, gfp, addr);

	tracev(m, TP_KMEM_CACHE_ALLOC, 0, err ? 0 : *addr, s->object_size, s->size, gfp,
	       (uint64_t)-1, (gfp & MEMLAB___GFP_ACCOUNT) || (s->flags & MEMLAB_SLAB_ACCOUNT));
	return err;
}

/* kfree(): a slab object, or a large kmalloc's pages (any address inside them, as Linux). */
static int kfree(memlab_machine *m, uint64_t addr)
{
	struct slab *slab;
	uint64_t pfn, head;
	unsigned idx;
	int err;

	trace(m, TP_KFREE, 0, addr, 0, 0);
	if (addr <= MEMLAB_ZERO_SIZE_PTR)
		return 0;
	if (!virt_to_slab(m, addr, &pfn)) {
		head = addr >= page_offset(m) && addr - page_offset(m) <
		       m->nr_frames << m->page_shift ? large_kmalloc_head(m, pfn) : PFN_NONE;
		if (head == PFN_NONE) {
			ml_report(m, "kfree: 0x%llx is no kmalloc allocation", (unsigned long long)addr);
			return -MEMLAB_EINVAL;
		}
		idx = pfn_to_page(m, head)->private;
		pfn_to_page(m, head)->flags &= ~PG_large_kmalloc;
		m->vmstat[NR_SLAB_UNRECLAIMABLE] -= 1ull << idx;
		mod_memcg_state(page_memcg(m, pfn_to_page(m, head)), NR_SLAB_UNRECLAIMABLE,
				-((int64_t)m->page_size << idx));
		memcg_kmem_uncharge_page(m, head);
		return memlab_free_pages(m, head, idx);
	}
	err = free_object_check(m, NULL, addr, &slab, &idx, "kfree");
	if (!err && core_owned_cache(m, slab->cache))
		err = refuse_core_owned(m, slab->cache, "kfree");
	if (!err) {
		slab->cache->api_objects--;
		do_slab_free(m, slab->cache, slab, idx);
	}
	return err;
}

/* ===================== shrinking and destroying ===================== */

/*
** __kmem_cache_do_shrink(): after the CPUs' slabs are flushed, the empty
** partial slabs go back to the buddy allocator and the fullest ones move
** to the head of the list (those with up to 32 free objects, by count).
*/
static void kmem_cache_do_shrink(memlab_machine *m, struct kmem_cache *s)
{
	struct kmem_cache_node *n = &s->node;
	struct slab *promote[32] = { 0 }, *discard = NULL, *slab, *next;

	for (slab = n->partial; slab; slab = next) {	/* list_move(): to each list's head */
		unsigned nfree = (unsigned)slab->objects - slab->inuse;

		next = slab->list_next;
		if (nfree == slab->objects) {
			remove_partial(n, slab);
			slab->next = discard;
			discard = slab;
		} else if (nfree <= 32) {
			remove_partial(n, slab);
			slab->next = promote[nfree - 1];
			promote[nfree - 1] = slab;
		}
	}
	/* list_splice(promote + i, &n->partial) from i = 31 down: fewest free first */
	for (int i = 31; i >= 0; i--) {
		struct slab *tail = NULL;

		for (slab = promote[i]; slab; slab = next) {	/* the bucket, kept in its order */
			next = slab->next;
			slab->next = NULL;
			if (tail)
				insert_partial_after(n, tail, slab);
			else
				add_partial(n, slab, false);
			tail = slab;
		}
	}
	for (slab = discard; slab; slab = next) {
		next = slab->next;
		discard_slab(m, s, slab);
	}
}

static void kmem_cache_shrink(memlab_machine *m, struct kmem_cache *s)
{
	flush_all(m, s);
	kmem_cache_do_shrink(m, s);
}

/*
** kmem_cache_destroy(): an alias only drops its reference.  Otherwise the
** CPUs' slabs are flushed and the empty ones freed (free_partial(), the
** list's last first); with objects still allocated Linux prints their
** slabs, warns, and leaks the cache: off slab_caches and /proc/slabinfo,
** its slabs never freed, its objects still freeable.  A second destroy
** of it does nothing.
*/
static int kmem_cache_destroy(memlab_machine *m, struct kmem_cache *s)
{
	struct slab *discard = NULL, *slab, *next;
	struct kmem_cache **pp;

	if (s->flags & MEMLAB_SLAB_KMALLOC || s->refcount <= 0)
		return -MEMLAB_EINVAL;
	if (--s->refcount > 0)
		return 0;
	flush_all(m, s);
	for (slab = s->node.partial; slab; slab = next) {
		next = slab->list_next;
		if (!slab->inuse) {
			remove_partial(&s->node, slab);
			slab->next = discard;
			discard = slab;
		} else {
			ml_report(m, "BUG %s (Not tainted): Objects remaining in %s on __kmem_cache_shutdown()",
				  s->name, s->name);
		}
	}
	for (slab = discard; slab; slab = next) {
		next = slab->next;
		discard_slab(m, s, slab);
	}
	for (pp = &m->slab->caches; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	if (s->node.nr_slabs) {
		ml_report(m, "kmem_cache_destroy %s: Slab cache still has objects when called from memlab_kmem_cache_destroy",
			  s->name);
		s->next = m->slab->leaked;
		m->slab->leaked = s;
		return -MEMLAB_EBUSY;
	}
	free_cache(m, s);
	return 0;
}

/* memlab_destroy(): every slab and cache goes, with the machine. */
void slab_exit(memlab_machine *m)
{
	struct kmem_cache *s, *next;

	if (!m->slab)
		return;
	for (s = m->slab->caches; s || m->slab->leaked; s = next) {
		if (!s) {
			s = m->slab->leaked;
			m->slab->leaked = NULL;
		}
		next = s->next;
		while (s->node.all) {
			struct slab *slab = s->node.all;

			s->node.all = slab->all_next;
			slab_free_desc(m, slab);
		}
		free_cache(m, s);
	}
	ml_free(m, m->slab, sizeof(*m->slab));
	m->slab = NULL;
}

/* ===================== reading: info, /proc/slabinfo, check ===================== */

#define MAX_PARTIAL_TO_SCAN	10000

/*
** count_partial_free_approx() (6.10+): the free objects of the node's
** partial slabs; of a list longer than 10000 slabs, the first and last
** 5000 counted and the rest estimated from them.
*/
static uint64_t count_partial_free(const struct kmem_cache *s)
{
	const struct kmem_cache_node *n = &s->node;
	const struct slab *slab;
	uint64_t x = 0, scanned = 0;

	if (n->nr_partial <= MAX_PARTIAL_TO_SCAN) {
		for (slab = n->partial; slab; slab = slab->list_next)
			x += slab->objects - slab->inuse;
		return x;
	}
	for (slab = n->partial; slab; slab = slab->list_next) {
		x += slab->objects - slab->inuse;
		if (++scanned == MAX_PARTIAL_TO_SCAN / 2)
			break;
	}
	for (slab = n->partial_tail; slab; slab = slab->list_prev) {
		x += slab->objects - slab->inuse;
		if (++scanned == MAX_PARTIAL_TO_SCAN)
			break;
	}
	x = x / scanned * n->nr_partial + x % scanned * n->nr_partial / scanned;	/* mult_frac() */
	return x < n->total_objects ? x : n->total_objects;
}

static void cache_info(const memlab_machine *m, const struct kmem_cache *s,
		       struct memlab_kmem_cache_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = s->id;
	info->name = s->name;
	info->sysfs_name = s->sysfs_name;
	info->object_size = s->object_size;
	info->slab_size = s->size;
	info->align = s->align;
	info->inuse = s->inuse;
	info->offset = s->offset;
	info->order = s->oo_order;
	info->objs_per_slab = s->oo_objects;
	info->min_order = s->min_order;
	info->min_objects = s->min_objects;
	info->min_partial = s->min_partial;
	info->cpu_partial = s->cpu_partial;
	info->cpu_partial_slabs = s->cpu_partial_slabs;
	info->aliases = s->refcount > 0 ? (unsigned)s->refcount - 1 : 0;
	info->flags = s->flags;
	info->slabs = s->node.nr_slabs;
	info->partial = s->node.nr_partial;
	info->total_objects = s->node.total_objects;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		const struct kmem_cache_cpu *c = &s->cpu_slab[cpu];

		info->cpu_slabs += (c->slab != NULL) + (c->partial ? c->partial->slabs : 0);
	}
	for (const struct slab *slab = s->node.all; slab; slab = slab->all_next)
		for (unsigned w = 0; w < (slab->objects + 63u) / 64; w++)
			info->objects += (uint64_t)__builtin_popcountll(slab->used[w]);
	info->active_objs = s->node.total_objects - count_partial_free(s);
}

/*
** /proc/slabinfo (mm/slab_common.c cache_show), SLUB's: no tunables, and
** active objects are all but the free ones of the node's partial slabs --
** free objects of CPU slabs and CPU partial slabs count as active.
*/
void slabinfo_show(memlab_machine *m, struct strbuf *sb)
{
	sb_printf(sb, "slabinfo - version: 2.1\n");
	sb_printf(sb, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
		  "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata "
		  "<active_slabs> <num_slabs> <sharedavail>\n");
	for (const struct kmem_cache *s = m->slab->caches; s; s = s->next) {
		struct memlab_kmem_cache_info info;

		cache_info(m, s, &info);
		sb_printf(sb, "%-17s %6llu %6llu %6u %4u %4d", s->name,
			  (unsigned long long)info.active_objs, (unsigned long long)info.total_objects,
			  s->size, s->oo_objects, 1 << s->oo_order);
		sb_printf(sb, " : tunables %4u %4u %4u", 0u, 0u, 0u);
		sb_printf(sb, " : slabdata %6llu %6llu %6lu\n", (unsigned long long)info.slabs,
			  (unsigned long long)info.slabs, 0ul);
	}
}

/*
** One slab's freelists: each index in range, no cycle, no object twice;
** with the objects handed out (used) they cover every object once.
** Returns the objects on slab->freelist, or -1 when a list is broken.
*/
static int check_freelists(const struct kmem_cache *s, const struct slab *slab,
			   const struct kmem_cache_cpu *c, uint8_t *seen, struct ml_check *chk)
{
	uint16_t lists[2] = { slab->freelist, c ? c->freelist : FP_END };
	int on_slab = 0;

	memset(seen, 0, slab->objects);
	for (int l = 0; l < 2; l++)
		for (uint16_t i = lists[l]; i != FP_END; i = slab->fp[i]) {
			if (i >= slab->objects || seen[i] || object_is_used(slab, i)) {
				ml_violation(chk, "slab %s pfn %llx: %s freelist reaches object %u %s",
					     s->name, (unsigned long long)slab->pfn, l ? "the CPU's" : "its",
					     i, i >= slab->objects ? "past its end" :
					     seen[i] ? "twice" : "in use");
				return -1;
			}
			seen[i] = 1;
			on_slab += !l;
		}
	for (unsigned i = 0; i < slab->objects; i++)
		if (!seen[i] && !object_is_used(slab, i)) {
			ml_violation(chk, "slab %s pfn %llx: object %u is neither in use nor free",
				     s->name, (unsigned long long)slab->pfn, i);
			return -1;
		}
	return on_slab;
}

/* How many lists a slab is on: the node's partial list and every CPU's (bounded walks). */
static unsigned slab_list_count(const memlab_machine *m, const struct kmem_cache *s,
				const struct slab *slab, int *cpu_slab_of)
{
	unsigned lists = 0;
	uint64_t steps = 0;

	*cpu_slab_of = -1;
	for (const struct slab *p = s->node.partial; p && steps++ <= s->node.nr_slabs; p = p->list_next)
		lists += p == slab;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		steps = 0;
		for (const struct slab *p = s->cpu_slab[cpu].partial; p && steps++ <= s->node.nr_slabs;
		     p = p->next)
			lists += p == slab;
		if (s->cpu_slab[cpu].slab == slab)
			*cpu_slab_of = *cpu_slab_of < 0 ? cpu : INT32_MAX;
	}
	return lists;
}

/*
** dump_unreclaimable_slab() (mm/slab_common.c): for an OOM report, each
** cache not SLAB_RECLAIM_ACCOUNT that has objects, /proc/slabinfo's
** active and total objects in kB.
*/
void dump_unreclaimable_slab(memlab_machine *m)
{
	ml_report(m, "Unreclaimable slab info:");
	ml_report(m, "Name                      Used          Total");
	for (const struct kmem_cache *s = m->slab->caches; s; s = s->next) {
		struct memlab_kmem_cache_info info;

		if (s->flags & MEMLAB_SLAB_RECLAIM_ACCOUNT)
			continue;
		cache_info(m, s, &info);
		if (info.total_objects > 0)
			ml_report(m, "%-17s %10lluKB %10lluKB", s->name,
				  (unsigned long long)(info.active_objs * s->size / 1024),
				  (unsigned long long)(info.total_objects * s->size / 1024));
	}
}

/* Where each slab of s must be, by its state: counted once in lists and counters. */
static void check_cache(memlab_machine *m, const struct kmem_cache *s, struct ml_check *chk,
			uint8_t *seen)
{
	uint64_t nr_slabs = 0, objects = 0, nr_partial = 0;
	const struct slab *slab;

	for (slab = s->node.all; slab && nr_slabs <= s->node.nr_slabs; slab = slab->all_next) {
		const struct page *page = pfn_to_page(m, slab->pfn);
		int cpu, on_fl;
		unsigned used = 0, lists = slab_list_count(m, s, slab, &cpu);

		nr_slabs++;
		objects += slab->objects;
		if (slab->cache != s || !(page->flags & PG_slab) || !(page->flags & PG_head_alloc) ||
		    page->private != slab->order || (struct slab *)(uintptr_t)page->index != slab)
			ml_violation(chk, "slab %s: pfn %llx is not its slab's head frame", s->name,
				     (unsigned long long)slab->pfn);
		on_fl = check_freelists(s, slab, cpu >= 0 && cpu < m->nr_cpus ? &s->cpu_slab[cpu] : NULL,
					seen, chk);
		for (unsigned i = 0; i < slab->objects; i++)
			used += object_is_used(slab, i);
		if (cpu == INT32_MAX || slab->frozen != (cpu >= 0))
			ml_violation(chk, "slab %s pfn %llx: frozen %d, %s", s->name,
				     (unsigned long long)slab->pfn, slab->frozen,
				     cpu == INT32_MAX ? "the CPU slab of two CPUs" :
				     cpu >= 0 ? "a CPU's slab" : "no CPU's slab");
		if (on_fl >= 0 && slab->inuse != slab->objects - on_fl)
			ml_violation(chk, "slab %s pfn %llx: inuse %u, but %d of %u objects on its freelist",
				     s->name, (unsigned long long)slab->pfn, slab->inuse, on_fl, slab->objects);
		if (!slab->frozen && used != slab->inuse)
			ml_violation(chk, "slab %s pfn %llx: %u objects handed out, inuse %u", s->name,
				     (unsigned long long)slab->pfn, used, slab->inuse);
		if (lists != (!slab->frozen && slab->freelist != FP_END))
			ml_violation(chk, "slab %s pfn %llx: on %u lists while %s", s->name,
				     (unsigned long long)slab->pfn, lists, slab->frozen ? "frozen" :
				     slab->freelist == FP_END ? "full" : "partial");
	}
	for (slab = s->node.partial; slab && nr_partial <= s->node.nr_slabs; slab = slab->list_next) {
		nr_partial++;
		if (!slab->on_partial || slab->cache != s)
			ml_violation(chk, "slab %s: a slab on the partial list is not marked there", s->name);
	}
	if (nr_partial != s->node.nr_partial)
		ml_violation(chk, "slab %s: nr_partial %llu, %llu on the list", s->name,
			     (unsigned long long)s->node.nr_partial, (unsigned long long)nr_partial);
	if (nr_slabs != s->node.nr_slabs || objects != s->node.total_objects)
		ml_violation(chk, "slab %s: %llu slabs of %llu objects counted, %llu of %llu found", s->name,
			     (unsigned long long)s->node.nr_slabs, (unsigned long long)s->node.total_objects,
			     (unsigned long long)nr_slabs, (unsigned long long)objects);
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		unsigned slabs = 0;

		for (slab = s->cpu_slab[cpu].partial; slab && slabs <= s->node.nr_slabs; slab = slab->next) {
			if (slab->frozen || slab->on_partial || slab->cache != s)
				ml_violation(chk, "slab %s: a slab on CPU %d's partial list is %s", s->name,
					     cpu, slab->frozen ? "frozen" : slab->on_partial ?
					     "on the node's list" : "another cache's");
			if (slab->slabs != (s->cpu_slab[cpu].partial->slabs - slabs))
				ml_violation(chk, "slab %s: CPU %d's partial list counts %u slabs from its %uth",
					     s->name, cpu, slab->slabs, slabs + 1);
			slabs++;
		}
	}
}

/*
** The slab invariants: each cache's slabs as check_cache() wants them;
** NR_SLAB_{,UN}RECLAIMABLE equal to the slabs' and large kmallocs' pages.
*/
int slab_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check chk = { .fn = fn, .ud = ud };
	uint64_t pages[2] = { 0, 0 }, large = 0, heads = 0, nr_slabs = 0;
	uint8_t *seen;

	if (!m->slab)
		return 0;
	seen = ml_alloc(m, MAX_OBJS_PER_PAGE + 1);
	if (!seen)
		return 0;
	for (int list = 0; list < 2; list++)
		for (const struct kmem_cache *s = list ? m->slab->leaked : m->slab->caches; s; s = s->next) {
			check_cache(m, s, &chk, seen);
			for (const struct slab *slab = s->node.all; slab; slab = slab->all_next) {
				pages[cache_vmstat_idx(s) == NR_SLAB_RECLAIMABLE] += 1ull << slab->order;
				nr_slabs++;
			}
		}
	ml_free(m, seen, MAX_OBJS_PER_PAGE + 1);
	for (uint64_t pfn = 0; pfn < m->nr_frames; pfn++) {
		const struct page *page = pfn_to_page(m, pfn);

		if (page->flags & PG_large_kmalloc)
			large += 1ull << page->private;
		heads += !!(page->flags & PG_slab);
	}
	if (heads != nr_slabs)
		ml_violation(&chk, "%llu frames are PG_slab slab heads, the caches have %llu slabs",
			     (unsigned long long)heads, (unsigned long long)nr_slabs);
	if (m->vmstat[NR_SLAB_RECLAIMABLE] != pages[1] ||
	    m->vmstat[NR_SLAB_UNRECLAIMABLE] != pages[0] + large)
		ml_violation(&chk, "nr_slab_reclaimable %llu, nr_slab_unreclaimable %llu; slabs hold %llu "
			     "and %llu pages, large kmallocs %llu",
			     (unsigned long long)m->vmstat[NR_SLAB_RECLAIMABLE],
			     (unsigned long long)m->vmstat[NR_SLAB_UNRECLAIMABLE],
			     (unsigned long long)pages[1], (unsigned long long)pages[0],
			     (unsigned long long)large);
	return chk.count;
}

void slab_memcg_bytes(memlab_machine *m, uint64_t *bytes, unsigned nr_ids)
{
	for (int list = 0; list < 2; list++)
		for (const struct kmem_cache *s = list ? m->slab->leaked : m->slab->caches; s; s = s->next) {
			int r = cache_vmstat_idx(s) == NR_SLAB_RECLAIMABLE;

			for (const struct slab *slab = s->node.all; slab; slab = slab->all_next)
				for (unsigned i = 0; slab->objcg && i < slab->objects; i++)
					if (slab->objcg[i] && slab->objcg[i] < nr_ids)
						bytes[3 * slab->objcg[i] + r] += obj_full_size(s);
		}
	for (uint64_t pfn = 0; pfn < m->nr_frames; pfn++) {
		const struct page *page = pfn_to_page(m, pfn);

		if ((page->flags & PG_large_kmalloc) && page->memcg_id && page->memcg_id < nr_ids)
			bytes[3 * page->memcg_id + 2] += (uint64_t)m->page_size << page->private;
	}
}

/* ===================== the kernel's own objects ===================== */

int kernel_obj_alloc(memlab_machine *m, enum kernel_cache kc, uint64_t *addr)
{
	return kernel_obj_alloc_gfp(m, kc, MEMLAB_GFP_KERNEL, addr);
}

int kernel_obj_alloc_gfp(memlab_machine *m, enum kernel_cache kc, uint32_t gfp, uint64_t *addr)
{
	return kmem_cache_alloc_noprof(m, m->slab->kernel_caches[kc], gfp, addr);
}

void kernel_obj_free(memlab_machine *m, enum kernel_cache kc, uint64_t addr)
{
	struct kmem_cache *s = m->slab->kernel_caches[kc];

	if (kernel_obj_live(m, kc, addr)) {
		unsigned idx;
		struct slab *slab = object_slab(m, addr, &idx);

		trace(m, TP_KMEM_CACHE_FREE, 0, addr, 0, 0);
		do_slab_free(m, s, slab, idx);
	} else if (!m->dead) {	/* a core bug: the first report stops the machine */
		ml_bug(m, "mm/slub.c", "kernel_obj_free: 0x%llx is no live %s",
		       (unsigned long long)addr, s->name);
	}
}

/* Whether addr is an object of kc's cache that is handed out (m:check's owners' walk). */
bool kernel_obj_live(memlab_machine *m, enum kernel_cache kc, uint64_t addr)
{
	struct kmem_cache *s = m->slab->kernel_caches[kc];
	struct slab *slab = virt_to_slab(m, addr, NULL);
	uint64_t off;

	if (!slab || slab->cache != s)
		return false;
	off = addr - slab_address(m, slab);
	return off % s->size == 0 && off / s->size < slab->objects &&
	       object_is_used(slab, (unsigned)(off / s->size));
}

/*
** The objects of kc's cache handed out to the core and not freed: those
** in use but the API's (another cache merged into anon_vma_chain's hands
** its objects out too).
*/
uint64_t kernel_objs_in_use(memlab_machine *m, enum kernel_cache kc)
{
	struct memlab_kmem_cache_info info;
	const struct kmem_cache *s = m->slab->kernel_caches[kc];

	cache_info(m, s, &info);
	return info.objects - (uint64_t)s->api_objects;
}

/* ===================== the public API ===================== */

/* The call runs as t (its CPU, its cgroup) or as a kernel thread on CPU 0. */
static memlab_task *slab_enter(memlab_machine *m, memlab_task *t)
{
	memlab_task *prev = m->current;

	m->current = t;
	return prev;
}

static void slab_leave(memlab_machine *m, memlab_task *t, memlab_task *prev)
{
	if (t)
		task_leave(t, prev);
	else
		call_leave(m, prev);
}

int memlab_kmem_cache_create(memlab_machine *m, const char *name, unsigned size,
			     const struct memlab_kmem_cache_args *args, uint32_t flags,
			     memlab_kmem_cache **out)
{
	static const struct memlab_kmem_cache_args none;

	*out = NULL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (!name || !*name || !size)
		return -MEMLAB_EINVAL;
	if (flags & SLAB_DEBUG_FLAGS)
		return -MEMLAB_EOPNOTSUPP;
	return kmem_cache_create(m, name, size, args ? args : &none,
				 flags & ~MEMLAB_SLAB_KMALLOC, out);
}

/*
** The kernel's own caches are never destroyed (nothing in Linux would):
** their last reference stays, or the core would allocate from a freed
** cache.  An alias merged into one may still drop its own.
*/
static bool kernel_cache_last_ref(memlab_machine *m, const struct kmem_cache *s)
{
	for (int kc = 0; kc < NR_KERNEL_CACHES; kc++)
		if (m->slab->kernel_caches[kc] == s && s->refcount == 1)
			return true;
	return false;
}

int memlab_kmem_cache_destroy(memlab_machine *m, memlab_kmem_cache *s)
{
	if (m->dead)
		return -MEMLAB_EIO;
	if (kernel_cache_last_ref(m, s))
		return -MEMLAB_EINVAL;
	return kmem_cache_destroy(m, s);
}

int memlab_kmem_cache_alloc(memlab_machine *m, memlab_kmem_cache *s, uint32_t gfp,
			    memlab_task *t, uint64_t *addr)
{
	memlab_task *prev;
	int err;

	*addr = 0;
	if (m->dead)
		return -MEMLAB_EIO;
	if (s->refcount <= 0)		/* destroyed: Linux's would be a use after free */
		return -MEMLAB_EINVAL;
	if (core_owned_cache(m, s))
		return refuse_core_owned(m, s, "kmem_cache_alloc");
	prev = slab_enter(m, t);
	err = kmem_cache_alloc_noprof(m, s, gfp, addr);
	s->api_objects += !err;
	slab_leave(m, t, prev);
	return err;
}

int memlab_kmem_cache_free(memlab_machine *m, memlab_kmem_cache *s, uint64_t addr, memlab_task *t)
{
	memlab_task *prev;
	struct slab *slab;
	unsigned idx;
	int err;

	if (m->dead)
		return -MEMLAB_EIO;
	prev = slab_enter(m, t);
	err = free_object_check(m, s, addr, &slab, &idx, "kmem_cache_free");
	if (!err && core_owned_cache(m, slab->cache))
		err = refuse_core_owned(m, slab->cache, "kmem_cache_free");
	if (!err) {
		trace(m, TP_KMEM_CACHE_FREE, 0, addr, 0, 0);
		slab->cache->api_objects--;
		do_slab_free(m, slab->cache, slab, idx);
	}
	slab_leave(m, t, prev);
	return err;
}

int memlab_kmem_cache_shrink(memlab_machine *m, memlab_kmem_cache *s)
{
	if (m->dead)
		return -MEMLAB_EIO;
	kmem_cache_shrink(m, s);
	return 0;
}

uint64_t memlab_kmem_cache_id(const memlab_kmem_cache *s)
{
	return s->id;
}

memlab_kmem_cache *memlab_kmem_cache_find(memlab_machine *m, const char *name)
{
	for (struct kmem_cache *s = m->slab->caches; s; s = s->next) {
		if (!strcmp(s->name, name) || !strcmp(s->sysfs_name, name))
			return s;
		for (const struct kmem_alias *a = s->aliases; a; a = a->next)
			if (!strcmp(a->name, name))
				return s;
	}
	return NULL;
}

int memlab_kmalloc(memlab_machine *m, uint64_t size, uint32_t gfp, memlab_task *t, uint64_t *addr)
{
	memlab_task *prev;
	int err;

	*addr = 0;
	if (m->dead)
		return -MEMLAB_EIO;
	prev = slab_enter(m, t);
	err = kmalloc(m, size, gfp, addr);
	slab_leave(m, t, prev);
	return err;
}

int memlab_kfree(memlab_machine *m, uint64_t addr, memlab_task *t)
{
	memlab_task *prev;
	int err;

	if (m->dead)
		return -MEMLAB_EIO;
	prev = slab_enter(m, t);
	err = kfree(m, addr);
	slab_leave(m, t, prev);
	return err;
}

/* ksize(): a slab object's whole stride up to the free pointer or metadata (slab_ksize). */
int memlab_ksize(memlab_machine *m, uint64_t addr, uint64_t *size)
{
	struct slab *slab;
	uint64_t pfn = 0, head;

	*size = 0;
	if (addr <= MEMLAB_ZERO_SIZE_PTR)
		return 0;
	slab = virt_to_slab(m, addr, &pfn);
	if (slab) {		/* slab_ksize(): RCU keeps its free pointer out of reach */
		const struct kmem_cache *s = slab->cache;

		*size = (s->flags & MEMLAB_SLAB_TYPESAFE_BY_RCU) ? s->inuse : s->size;
		return 0;
	}
	head = addr >= page_offset(m) && addr - page_offset(m) <
	       m->nr_frames << m->page_shift ? large_kmalloc_head(m, pfn) : PFN_NONE;
	if (head == PFN_NONE)
		return -MEMLAB_EINVAL;
	if (page_offset(m) + (head << m->page_shift) != addr) {
		ml_report(m, "WARNING: __ksize: 0x%llx is inside a large kmalloc, not its start",
			  (unsigned long long)addr);	/* WARN_ON(object != folio_address(folio)) */
		return 0;
	}
	*size = (uint64_t)m->page_size << pfn_to_page(m, head)->private;
	return 0;
}

int memlab_kmem_cache_info(memlab_machine *m, const memlab_kmem_cache *s,
			   struct memlab_kmem_cache_info *info)
{
	cache_info(m, s, info);
	return 0;
}

int memlab_kmem_cache_each(memlab_machine *m, int (*fn)(void *ud, memlab_kmem_cache *s), void *ud)
{
	for (struct kmem_cache *s = m->slab->caches, *next; s; s = next) {
		int rc;

		next = s->next;
		rc = fn(ud, s);
		if (rc)
			return rc;
	}
	return 0;
}
