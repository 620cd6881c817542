/*
** vmalloc.c -- virtually contiguous kernel memory, as Linux 6.18's
** mm/vmalloc.c builds it: the vmalloc range of each arch, vmap areas
** placed lowest address first with a trailing guard page, the pages from
** the buddy allocator mapped into init_mm's page table, lazy freeing of
** the address space with a purge (and a kernel TLB flush) once more than
** lazy_max_pages() wait, /proc/vmallocinfo, and the kernel's own view of
** memory through the direct map and the vmalloc range (kread, kwrite).
** Also vmalloc_huge's PMD mappings (x86-64), vmap(), and vm_map_ram()
** with its per-CPU vmap blocks.
**
** The data structures are Linux's:
**   - the free space is a red-black tree of free areas by address,
**     augmented with the largest free size in each subtree, so that the
**     lowest fit is found in O(log n) (find_vmap_lowest_match);
**   - allocated ("busy") and lazily freed areas are trees by address, one
**     pair per vmap node; a machine has clamp(CPUs, 1, 128) nodes, each
**     owning the 16-page stretches of address space numbered
**     node, node + nr_nodes, ... (addr_to_node), and each with pools of
**     purged areas of up to 256 pages for reuse by exact size
**     (node_alloc, decay_va_pool_node).  One node, one CPU: no pools.
**
** Kernel work that Linux defers (drain_vmap_work, the cleanup of a failed
** vmalloc) runs here before the public call returns.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"
#include "pgtable.h"
#include "rbtree.h"
#include "tlb.h"
#include "vmalloc.h"
#include "vmstat.h"

#define MAX_VA_SIZE_PAGES	256	/* a pool per size up to 1M (4K pages) */
#define MAX_VMAP_NODES		128
#define VMAP_ZONE_PAGES		16	/* vmap_zone_size / PAGE_SIZE with several nodes */
#define VMAP_RAM		0x1u	/* va->flags: a vm_map_ram area */
#define VMAP_BLOCK		0x2u	/* va->flags: a vmap_block of vm_map_ram */
#define VMAP_MAX_ALLOC		64	/* BITS_PER_LONG: larger vm_map_rams get their own area */
#define VMALLOC_SPACE		(128ull << 30)	/* 64-bit: the guess VMAP_BBMAP_BITS is made from */
#define CONFIG_NR_CPUS		8192	/* x86-64 distribution kernels' (Debian, Fedora) */
#define TLB_SINGLE_PAGE_FLUSH_CEILING 33	/* x86 tlb_single_page_flush_ceiling */

/* GFP_RECLAIM_MASK (mm/internal.h): what a nested allocation inherits. */
#define GFP_RECLAIM_MASK (MEMLAB___GFP_RECLAIM | MEMLAB___GFP_HIGH | MEMLAB___GFP_IO |	\
			  MEMLAB___GFP_FS | MEMLAB___GFP_NOWARN | MEMLAB___GFP_RETRY_MAYFAIL |	\
			  MEMLAB___GFP_NOFAIL | MEMLAB___GFP_NORETRY | MEMLAB___GFP_MEMALLOC |	\
			  MEMLAB___GFP_NOMEMALLOC)

#define VMAP_BBMAP_BITS_MAX	1024	/* vmap_bbmap_bits()'s upper clamp */

/* A circular doubly-linked list, for the pools (list_head). */
struct va_link {
	struct va_link *prev, *next;
};

struct vm_struct {
	uint32_t flags;			/* VM_* */
	uint64_t addr, size;		/* size: the whole area, its guard page included */
	uint64_t *pages;		/* the frames (vm->pages), nr_pages of them */
	unsigned nr_pages;
	uint64_t pages_cap;		/* the array's size, in entries */
	uint64_t pages_vaddr;		/* "vpages": the vmalloc area holding the array, else 0 */
	bool is_page_array;		/* this area is another's vpages: only its owner frees it */
	bool thread_stack;		/* a task's kernel stack (fork.c): only the core frees it */
	unsigned page_order;		/* vm_area_page_order(): its pages' order, PMD for huge */
	char caller[MEMLAB_CALLER_MAX];	/* what %pS prints for vm->caller; "" none */
};

struct vmap_area {
	uint64_t va_start, va_end;
	struct rb_node rb_node;		/* in the free tree, a busy or a lazy tree */
	uint64_t subtree_max_size;	/* in the free tree: the largest free size below */
	struct va_link list;		/* in a pool; else unlinked */
	struct vm_struct *vm;		/* busy areas of vmalloc, vmap; NULL otherwise */
	struct vmap_block *vb;		/* a busy VMAP_BLOCK area's block */
	uint32_t flags;			/* VMAP_RAM, VMAP_BLOCK | the encoded vmap node id */
};

/*
** A vmap_block: one VMAP_BLOCK_SIZE area that vm_map_ram() of up to
** VMAP_MAX_ALLOC pages carves from the front, power-of-two pieces at a
** time (vb_alloc); freed pieces only count as dirty until all of it is,
** and then the area is freed (vb_free).
*/
struct vmap_block {
	struct vmap_area *va;
	uint64_t free, dirty;		/* pages not yet handed out; pages given back */
	uint64_t dirty_min, dirty_max;	/* the range given back since the last flush */
	uint64_t used_map[VMAP_BBMAP_BITS_MAX / 64];	/* pages handed out and not given back */
	int cpu;			/* whose vmap_block_queue lists it while it has free pages */
	struct va_link free_list;	/* in that CPU's queue, when free > 0 */
	struct va_link all;		/* every block of the machine */
};

struct vmap_pool {
	struct va_link head;
	uint64_t len;
};

struct vmap_node {
	struct vmap_pool pool[MAX_VA_SIZE_PAGES];
	struct rb_root busy, lazy;	/* by address */
	bool skip_populate;		/* a full decay: purged areas go back to the free tree */
	bool purging;			/* its lazy areas are in this purge */
	uint64_t nr_purged;
};

struct vmalloc_state {
	struct mm_struct init_mm;	/* its page table maps the kernel half (pgd_offset_k) */
	struct rb_root free;		/* free_vmap_area_root */
	struct vmap_node *nodes;
	unsigned nr_nodes;
	uint64_t zone_size;		/* vmap_zone_size */
	struct vmap_area **ne_fit_preload;	/* per CPU: a spare area for a split */
	uint64_t nr_vmalloc_pages;	/* VmallocUsed */
	uint64_t vmap_lazy_nr;		/* pages of lazily freed areas */
	uint64_t nr_purges;		/* purges that freed lazy areas */
	uint64_t nr_kernel_tlb_flush_all;	/* of them, flush_tlb_all()s */
	bool drain_pending;		/* drain_vmap_work was scheduled */
	struct va_link vbq_free[MEMLAB_MAX_CPUS];	/* vmap_block_queue.free, per CPU */
	struct va_link blocks;		/* every vmap_block */
};

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* ===================== the range ===================== */

/*
** x86-64 (pgtable_64_types.h): VMALLOC_START is vmalloc_base,
** 0xffffc90000000000 (4-level) or 0xffa0000000000000 (5-level), and
** VMALLOC_END = START + VMALLOC_SIZE_TB (32 or 12800) TiB - 1, inclusive
** as Linux writes it (so VmallocTotal is one byte short of 32 TiB).
** arm64 (asm/pgtable.h, memory.h): from the end of the 2G module region
** above the linear map, _PAGE_END(VA_BITS) + SZ_2G, to 8M below the
** vmemmap, whose size is the linear map's pages times sizeof(struct page).
*/
uint64_t vmalloc_start(const memlab_machine *m)
{
	if (m->arch == MEMLAB_ARCH_X86_64)
		return m->va_bits == 57 ? 0xffa0000000000000ull : 0xffffc90000000000ull;
	return (0 - (1ull << (m->va_bits - 1))) + (2ull << 30);
}

uint64_t vmalloc_end(const memlab_machine *m)
{
	uint64_t vmemmap_size;

	if (m->arch == MEMLAB_ARCH_X86_64)
		return vmalloc_start(m) + ((m->va_bits == 57 ? 12800ull : 32ull) << 40) - 1;
	vmemmap_size = ((1ull << (m->va_bits - 1)) >> m->page_shift) * MEMMAP_BYTES_PER_PAGE;
	return (0 - (1ull << 30)) - vmemmap_size - (8ull << 20);
}

bool is_vmalloc_addr(const memlab_machine *m, uint64_t addr)
{
	return addr >= vmalloc_start(m) && addr < vmalloc_end(m);
}

/* /proc/meminfo VmallocTotal: (VMALLOC_END - VMALLOC_START) >> 10. */
uint64_t vmalloc_total_kb(const memlab_machine *m)
{
	return (vmalloc_end(m) - vmalloc_start(m)) >> 10;
}

/* VmallocUsed: vmalloc_nr_pages(), the pages vmalloc allocated (not vmap's). */
uint64_t vmalloc_nr_pages(const memlab_machine *m)
{
	return m->vmalloc ? m->vmalloc->nr_vmalloc_pages : 0;
}

/* fls(num_online_cpus()) * (32 MiB >> PAGE_SHIFT) */
static uint64_t lazy_max_pages(const memlab_machine *m)
{
	unsigned log = 0;

	for (unsigned n = (unsigned)m->nr_cpus; n; n >>= 1)
		log++;
	return log * ((32ull << 20) >> m->page_shift);
}

/* PMD_SIZE: what one PTE table maps. */
static uint64_t pmd_size(const memlab_machine *m)
{
	return 1ull << (m->page_shift + m->page_shift - 3);
}

/* The index of a kernel address in init_mm's tables, which span 2^va_bits. */
static uint64_t kva(const memlab_machine *m, uint64_t addr)
{
	return addr & ((1ull << m->va_bits) - 1);
}

/* ===================== lists ===================== */

static void va_list_init(struct va_link *h)
{
	h->prev = h->next = h;
}

static bool va_list_empty(const struct va_link *h)
{
	return h->next == h;
}

static void va_list_insert(struct va_link *e, struct va_link *prev, struct va_link *next)
{
	e->prev = prev;
	e->next = next;
	prev->next = e;
	next->prev = e;
}

static void va_list_del(struct va_link *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	va_list_init(e);
}

static struct vmap_area *list_va(struct va_link *l)
{
	return container_of(l, struct vmap_area, list);
}

static struct vmap_area *rb_va(const struct rb_node *n)
{
	return n ? rb_entry(n, struct vmap_area, rb_node) : NULL;
}

static uint64_t va_size(const struct vmap_area *va)
{
	return va->va_end - va->va_start;
}

/* ===================== the state ===================== */

static void vmap_area_free(memlab_machine *m, struct vmap_area *va)
{
	ml_free(m, va, sizeof(*va));
}

/*
** A kernel object vmalloc keeps in host memory (vmap_area, vm_struct,
** vmap_block, a small page array): the slab allocation it is in Linux,
** with the caller's gfp, which failslab may fail.  NULL on failure.
*/
static void *vmalloc_obj_alloc(memlab_machine *m, size_t size, uint32_t gfp)
{
	return should_failslab_gfp(m, size, gfp) ? NULL : ml_alloc(m, size);
}

/* kmem_cache_alloc(vmap_area_cachep, gfp) */
static struct vmap_area *vmap_area_alloc(memlab_machine *m, uint32_t gfp)
{
	struct vmap_area *va = vmalloc_obj_alloc(m, sizeof(*va), gfp);

	if (va)
		va_list_init(&va->list);
	return va;
}

static int free_insert(memlab_machine *m, struct vmalloc_state *vs, struct vmap_area *va);

/*
** vmalloc_init() for a machine: the nodes (vmap_init_nodes) and the free
** space, the whole KVA [1, ULONG_MAX) as vmap_init_free_space leaves it
** with no boot-time areas.  init_mm's PGD comes with the first mapping.
*/
static int vmalloc_init(memlab_machine *m)
{
	struct vmalloc_state *vs = ml_alloc(m, sizeof(*vs));
	struct vmap_area *va;
	unsigned n = m->nr_cpus < 1 ? 1 : m->nr_cpus > MAX_VMAP_NODES ? MAX_VMAP_NODES
								 : (unsigned)m->nr_cpus;

	if (!vs)
		return -MEMLAB_ENOMEM;
	vs->nodes = ml_alloc(m, n * sizeof(*vs->nodes));
	vs->ne_fit_preload = ml_alloc(m, (size_t)m->nr_cpus * sizeof(*vs->ne_fit_preload));
	va = ml_alloc(m, sizeof(*va));
	if (!vs->nodes || !vs->ne_fit_preload || !va) {
		ml_free(m, vs->nodes, n * sizeof(*vs->nodes));
		ml_free(m, vs->ne_fit_preload, (size_t)m->nr_cpus * sizeof(*vs->ne_fit_preload));
		ml_free(m, va, sizeof(*va));
		ml_free(m, vs, sizeof(*vs));
		return -MEMLAB_ENOMEM;
	}
	vs->nr_nodes = n;
	vs->zone_size = n > 1 ? (uint64_t)VMAP_ZONE_PAGES << m->page_shift : 1;
	for (int c = 0; c < MEMLAB_MAX_CPUS; c++)
		va_list_init(&vs->vbq_free[c]);
	va_list_init(&vs->blocks);
	for (unsigned i = 0; i < n; i++)
		for (unsigned p = 0; p < MAX_VA_SIZE_PAGES; p++)
			va_list_init(&vs->nodes[i].pool[p].head);
	vs->init_mm.machine = m;
	va_list_init(&va->list);
	va->va_start = 1;
	va->va_end = UINT64_MAX;
	free_insert(m, vs, va);
	m->vmalloc = vs;
	return 0;
}

/* The machine's vmalloc state, created on first use; NULL without host memory. */
static struct vmalloc_state *vmalloc_state(memlab_machine *m)
{
	if (!m->vmalloc && vmalloc_init(m))
		return NULL;
	return m->vmalloc;
}

static void vm_struct_free(memlab_machine *m, struct vm_struct *vm)
{
	if (!vm)
		return;
	ml_free(m, vm->pages, (size_t)vm->pages_cap * sizeof(uint64_t));
	ml_free(m, vm, sizeof(*vm));
}

static void free_tree(memlab_machine *m, struct rb_root *root)
{
	struct rb_node *n;

	while ((n = rb_first(root))) {
		struct vmap_area *va = rb_va(n);

		rb_erase_augmented(n, root, NULL);
		vm_struct_free(m, va->vm);
		vmap_area_free(m, va);
	}
}

/*
** The machine goes: host memory only (its frames go with the machine).
** Erasing without the augment callbacks leaves stale subtree sizes in
** nodes about to be freed, which is harmless.
*/
void vmalloc_destroy(memlab_machine *m)
{
	struct vmalloc_state *vs = m->vmalloc;

	if (!vs)
		return;
	free_tree(m, &vs->free);
	for (unsigned i = 0; i < vs->nr_nodes; i++) {
		struct vmap_node *vn = &vs->nodes[i];

		free_tree(m, &vn->busy);
		free_tree(m, &vn->lazy);
		for (unsigned p = 0; p < MAX_VA_SIZE_PAGES; p++)
			while (!va_list_empty(&vn->pool[p].head)) {
				struct vmap_area *va = list_va(vn->pool[p].head.next);

				va_list_del(&va->list);
				vmap_area_free(m, va);
			}
	}
	while (!va_list_empty(&vs->blocks)) {
		struct vmap_block *vb = container_of(vs->blocks.next, struct vmap_block, all);

		va_list_del(&vb->all);
		ml_free(m, vb, sizeof(*vb));
	}
	for (int c = 0; c < m->nr_cpus; c++)
		ml_free(m, vs->ne_fit_preload[c], sizeof(struct vmap_area));
	ml_free(m, vs->ne_fit_preload, (size_t)m->nr_cpus * sizeof(*vs->ne_fit_preload));
	ml_free(m, vs->nodes, vs->nr_nodes * sizeof(*vs->nodes));
	ml_free(m, vs, sizeof(*vs));
	m->vmalloc = NULL;
}

/* ===================== the free space: an augmented tree ===================== */

static uint64_t subtree_max(const struct rb_node *n)
{
	return n ? rb_va(n)->subtree_max_size : 0;
}

/* A free area's value: the largest free size in its subtree, its own included. */
static uint64_t compute_subtree_max(const struct vmap_area *va)
{
	uint64_t max = va_size(va), l = subtree_max(va->rb_node.left);
	uint64_t r = subtree_max(va->rb_node.right);

	if (l > max)
		max = l;
	return r > max ? r : max;
}

static void free_propagate(struct rb_node *n, struct rb_node *stop)
{
	for (; n != stop; n = rb_parent(n)) {
		struct vmap_area *va = rb_va(n);
		uint64_t max = compute_subtree_max(va);

		if (va->subtree_max_size == max)
			break;
		va->subtree_max_size = max;
	}
}

static void free_copy(struct rb_node *old, struct rb_node *new)
{
	rb_va(new)->subtree_max_size = rb_va(old)->subtree_max_size;
}

static void free_rotate(struct rb_node *old, struct rb_node *new)
{
	rb_va(new)->subtree_max_size = rb_va(old)->subtree_max_size;
	rb_va(old)->subtree_max_size = compute_subtree_max(rb_va(old));
}

static const struct rb_augment_callbacks free_augment = {
	free_propagate, free_copy, free_rotate
};

/*
** Link va into the tree by address; the link is NULL when va overlaps an
** area already there, which Linux reports as "vmalloc bug" (find_va_links).
*/
static struct rb_node **va_find_link(memlab_machine *m, struct rb_root *root,
				     const struct vmap_area *va, struct rb_node **parent)
{
	struct rb_node **link = &root->node;

	*parent = NULL;
	while (*link) {
		const struct vmap_area *t = rb_va(*link);

		*parent = *link;
		if (va->va_end <= t->va_start)
			link = &(*link)->left;
		else if (va->va_start >= t->va_end)
			link = &(*link)->right;
		else {
			ml_report(m, "vmalloc bug: 0x%" PRIx64 "-0x%" PRIx64
				  " overlaps with 0x%" PRIx64 "-0x%" PRIx64,
				  va->va_start, va->va_end, t->va_start, t->va_end);
			return NULL;
		}
	}
	return link;
}

/* insert_vmap_area_augment(): -MEMLAB_EEXIST (reported) on an overlap. */
static int free_insert(memlab_machine *m, struct vmalloc_state *vs, struct vmap_area *va)
{
	struct rb_node *parent, **link = va_find_link(m, &vs->free, va, &parent);

	if (!link)
		return -MEMLAB_EEXIST;
	rb_link_node(&va->rb_node, parent, link);
	va->subtree_max_size = 0;
	free_propagate(&va->rb_node, NULL);
	rb_insert_augmented(&va->rb_node, &vs->free, &free_augment);
	return 0;
}

static void free_erase(struct vmalloc_state *vs, struct vmap_area *va)
{
	rb_erase_augmented(&va->rb_node, &vs->free, &free_augment);
}

/*
** is_within_this_va(): a block of size at align, not below vstart, fits
** in the free area va (false also when the arithmetic wraps).
*/
static bool va_fits(const struct vmap_area *va, uint64_t size, uint64_t align, uint64_t vstart)
{
	uint64_t start = align_up(va->va_start > vstart ? va->va_start : vstart, align);

	if (start + size < start || start < vstart)
		return false;
	return start + size <= va->va_end;
}

/*
** find_vmap_lowest_match(): the free area with the lowest address that
** fits size at align from vstart.  Down the tree, left while the left
** subtree is big enough and lies above vstart; a node that does not fit
** sends the search right, or back up to the first ancestor whose right
** subtree is big enough (then vstart moves past that ancestor, whose own
** left side is done).  length is size plus the alignment's worst waste.
*/
static struct vmap_area *find_lowest_match(struct vmalloc_state *vs, uint64_t size,
					   uint64_t align, uint64_t vstart, bool adjust)
{
	uint64_t length = adjust ? size + align - 1 : size;
	struct rb_node *node = vs->free.node;

	while (node) {
		struct vmap_area *va = rb_va(node);

		if (subtree_max(node->left) >= length && vstart < va->va_start) {
			node = node->left;
			continue;
		}
		if (va_fits(va, size, align, vstart))
			return va;
		if (subtree_max(node->right) >= length) {
			node = node->right;
			continue;
		}
		while ((node = rb_parent(node))) {
			va = rb_va(node);
			if (va_fits(va, size, align, vstart))
				return va;
			if (subtree_max(node->right) >= length && vstart <= va->va_start) {
				vstart = va->va_start + 1;
				node = node->right;
				break;
			}
		}
	}
	return NULL;
}

/*
** va_clip(): take [start, start + size) out of the free area va: the
** whole of it, its left or right edge, or its middle (which needs a
** second area for the left remainder: this CPU's preloaded one, else one
** allocated now).  -MEMLAB_ENOMEM when that allocation fails.
*/
static int va_clip(memlab_machine *m, struct vmalloc_state *vs, struct vmap_area *va,
		   uint64_t start, uint64_t size)
{
	struct vmap_area *lva;
	int cpu = smp_processor_id(m);

	if (start == va->va_start && start + size == va->va_end) {
		free_erase(vs, va);
		vmap_area_free(m, va);
		return 0;
	}
	if (start == va->va_start) {
		va->va_start += size;
	} else if (start + size == va->va_end) {
		va->va_end = start;
	} else {
		lva = vs->ne_fit_preload[cpu];
		vs->ne_fit_preload[cpu] = NULL;
		if (!lva && !(lva = vmap_area_alloc(m, MEMLAB_GFP_NOWAIT)))
			return -MEMLAB_ENOMEM;
		lva->va_start = va->va_start;
		lva->va_end = start;
		va->va_start = start + size;
		free_propagate(&va->rb_node, NULL);
		return free_insert(m, vs, lva);
	}
	free_propagate(&va->rb_node, NULL);
	return 0;
}

/*
** __alloc_vmap_area(): the lowest address in [vstart, vend) for size at
** align, taken from the free space into *addr.  -MEMLAB_ENOENT when no
** free area fits, -MEMLAB_ERANGE when the lowest fit ends above vend.
*/
static int __alloc_vmap_area(memlab_machine *m, struct vmalloc_state *vs, uint64_t size,
			     uint64_t align, uint64_t vstart, uint64_t vend, uint64_t *addr)
{
	bool adjust = !(align <= m->page_size || vend - vstart == size);
	struct vmap_area *va = find_lowest_match(vs, size, align, vstart, adjust);
	uint64_t start;
	int err;

	if (!va)
		return -MEMLAB_ENOENT;
	start = align_up(va->va_start > vstart ? va->va_start : vstart, align);
	if (start + size > vend)
		return -MEMLAB_ERANGE;
	err = va_clip(m, vs, va, start, size);
	if (err)
		return err;
	*addr = start;
	return 0;
}

/*
** merge_or_add_vmap_area_augment(): give va back to the free space,
** merged with the free areas right below and above it.  The area that
** holds it afterwards, or NULL when it overlaps free space (reported,
** va dropped).
*/
static struct vmap_area *free_area_add(memlab_machine *m, struct vmalloc_state *vs,
				       struct vmap_area *va)
{
	struct vmap_area *prev = NULL, *next;
	struct rb_node *n = vs->free.node;
	bool merged = false;

	while (n) {
		struct vmap_area *t = rb_va(n);

		if (t->va_start < va->va_start) {
			prev = t;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	next = rb_va(prev ? rb_next(&prev->rb_node) : rb_first(&vs->free));
	if ((prev && prev->va_end > va->va_start) || (next && next->va_start < va->va_end)) {
		free_insert(m, vs, va);		/* reports the overlap */
		vmap_area_free(m, va);
		return NULL;
	}
	if (next && next->va_start == va->va_end) {
		next->va_start = va->va_start;
		free_propagate(&next->rb_node, NULL);
		vmap_area_free(m, va);
		va = next;
		merged = true;
	}
	if (prev && prev->va_end == va->va_start) {
		if (merged)
			free_erase(vs, va);
		prev->va_end = va->va_end;
		vmap_area_free(m, va);
		va = prev;
		free_propagate(&va->rb_node, NULL);
		merged = true;
	}
	if (!merged && free_insert(m, vs, va))
		return NULL;
	return va;
}

/* ===================== busy and lazy areas: trees by address ===================== */

static int addr_tree_insert(memlab_machine *m, struct rb_root *root, struct vmap_area *va)
{
	struct rb_node *parent, **link = va_find_link(m, root, va, &parent);

	if (!link)
		return -MEMLAB_EEXIST;
	rb_link_node(&va->rb_node, parent, link);
	rb_insert_augmented(&va->rb_node, root, NULL);
	return 0;
}

/* __find_vmap_area(): the area holding addr. */
static struct vmap_area *addr_tree_find(const struct rb_root *root, uint64_t addr)
{
	const struct rb_node *n = root->node;

	while (n) {
		struct vmap_area *va = rb_va(n);

		if (addr < va->va_start)
			n = n->left;
		else if (addr >= va->va_end)
			n = n->right;
		else
			return va;
	}
	return NULL;
}

/* ===================== vmap nodes and their pools ===================== */

static unsigned addr_to_node_id(const struct vmalloc_state *vs, uint64_t addr)
{
	return (unsigned)((addr / vs->zone_size) % vs->nr_nodes);
}

/* A node id in va->flags: id + 1 in bits 8 and up, 0 for none (encode_vn_id). */
static uint32_t encode_vn_id(unsigned id)
{
	return (id + 1) << 8;
}

/* The node id of va->flags, nr_nodes for none. */
static unsigned decode_vn_id(const struct vmalloc_state *vs, uint32_t flags)
{
	unsigned id = (flags >> 8) - 1;

	return id < vs->nr_nodes ? id : vs->nr_nodes;
}

static struct vmap_pool *size_to_pool(const memlab_machine *m, struct vmap_node *vn,
				      uint64_t size)
{
	uint64_t idx = (size - 1) >> m->page_shift;

	return idx < MAX_VA_SIZE_PAGES ? &vn->pool[idx] : NULL;
}

/* node_pool_add_va(): a purged area joins its node's pool of that size, first. */
static bool node_pool_add_va(memlab_machine *m, struct vmap_node *vn, struct vmap_area *va)
{
	struct vmap_pool *vp = size_to_pool(m, vn, va_size(va));

	if (!vp)
		return false;
	va_list_insert(&va->list, &vp->head, vp->head.next);
	vp->len++;
	return true;
}

/*
** node_pool_del_va(): the first pooled area of exactly size, if it has
** the alignment; one that does not goes to the back of the pool.
*/
static struct vmap_area *node_pool_del_va(memlab_machine *m, struct vmap_node *vn,
					  uint64_t size, uint64_t align, uint64_t vstart,
					  uint64_t vend)
{
	struct vmap_pool *vp = size_to_pool(m, vn, size);
	struct vmap_area *va;

	if (!vp || va_list_empty(&vp->head))
		return NULL;
	va = list_va(vp->head.next);
	va_list_del(&va->list);
	if (va->va_start & (align - 1)) {
		va_list_insert(&va->list, vp->head.prev, &vp->head);
		return NULL;
	}
	if (va_size(va) != size || va->va_start < vstart || va->va_end > vend) {
		ml_report(m, "WARNING: vmalloc: pooled area 0x%" PRIx64 "-0x%" PRIx64
			  " does not fit its pool", va->va_start, va->va_end);
		va_list_insert(&va->list, &vp->head, vp->head.next);
		return NULL;
	}
	vp->len--;
	return va;
}

/*
** decay_va_pool_node(): give pooled areas back to the free space, all of
** them (full) or a quarter of each pool (rounded down), from the front.
*/
static void decay_va_pool_node(memlab_machine *m, struct vmalloc_state *vs,
			       struct vmap_node *vn, bool full)
{
	for (unsigned i = 0; i < MAX_VA_SIZE_PAGES; i++) {
		struct vmap_pool *vp = &vn->pool[i];
		uint64_t n_decay = full ? vp->len : vp->len >> 2;

		for (; n_decay && !va_list_empty(&vp->head); n_decay--) {
			struct vmap_area *va = list_va(vp->head.next);

			va_list_del(&va->list);
			vp->len--;
			free_area_add(m, vs, va);
		}
	}
}

/* ===================== lazy freeing and the purge ===================== */

/*
** flush_tlb_kernel_range(): x86 flushes every TLB entry of every CPU
** (flush_tlb_all) for a range above tlb_single_page_flush_ceiling (33
** pages); arm64 without FEAT_TLBIRANGE for one of MAX_DVM_OPS
** (PTRS_PER_PTE) pages or more (__flush_tlb_range_limit_excess).  A
** narrower flush invalidates kernel addresses only, which memlab's TLBs
** never hold.
*/
static void flush_tlb_kernel_range(memlab_machine *m, struct vmalloc_state *vs, uint64_t start,
				   uint64_t end)
{
	uint64_t pages = (end - start) >> m->page_shift;
	bool all = m->arch == MEMLAB_ARCH_X86_64 ? pages > TLB_SINGLE_PAGE_FLUSH_CEILING
						 : pages >= 1ull << (m->page_shift - 3);

	if (!all)
		return;
	memlab_tlb_flush_all(m);
	vs->nr_kernel_tlb_flush_all++;
}

/* purge_vmap_node(): each lazy area to its node's pool, else to the free space. */
static uint64_t purge_vmap_node(memlab_machine *m, struct vmalloc_state *vs, struct vmap_node *vn)
{
	uint64_t nr_pages = 0;
	struct rb_node *n;

	vn->nr_purged = 0;
	while ((n = rb_first(&vn->lazy))) {
		struct vmap_area *va = rb_va(n);

		rb_erase_augmented(n, &vn->lazy, NULL);
		nr_pages += va_size(va) >> m->page_shift;
		vn->nr_purged++;
		if (decode_vn_id(vs, va->flags) < vs->nr_nodes && !vn->skip_populate &&
		    node_pool_add_va(m, vn, va))
			continue;
		free_area_add(m, vs, va);
	}
	return nr_pages;
}

/*
** __purge_vmap_area_lazy(): decay the pools, flush the kernel TLB over
** the lazily freed areas of every node, then free those areas.  Returns
** whether any was purged.
*/
static bool purge_vmap_area_lazy(memlab_machine *m, struct vmalloc_state *vs, bool full_decay)
{
	uint64_t start = UINT64_MAX, end = 0, nr_areas = 0;
	bool any = false;

	for (unsigned i = 0; i < vs->nr_nodes; i++) {
		struct vmap_node *vn = &vs->nodes[i];

		vn->skip_populate = full_decay;
		decay_va_pool_node(m, vs, vn, full_decay);
		vn->purging = !RB_EMPTY_ROOT(&vn->lazy);
		if (!vn->purging)
			continue;
		if (rb_va(rb_first(&vn->lazy))->va_start < start)
			start = rb_va(rb_first(&vn->lazy))->va_start;
		if (rb_va(rb_last(&vn->lazy))->va_end > end)
			end = rb_va(rb_last(&vn->lazy))->va_end;
		any = true;
	}
	if (!any) {
		trace(m, TP_PURGE_VMAP_AREA_LAZY, start, end, 0, 0);
		return false;
	}
	flush_tlb_kernel_range(m, vs, start, end);
	for (unsigned i = 0; i < vs->nr_nodes; i++) {
		struct vmap_node *vn = &vs->nodes[i];

		if (!vn->purging)
			continue;
		vs->vmap_lazy_nr -= purge_vmap_node(m, vs, vn);
		nr_areas += vn->nr_purged;
		vn->purging = false;
	}
	vs->nr_purges++;
	trace(m, TP_PURGE_VMAP_AREA_LAZY, start, end, nr_areas, 0);
	return nr_areas > 0;
}

/*
** free_vmap_area_noflush(): the (unmapped) area waits, reserved, among its
** node's lazily freed areas ("unpurged vm_area"); past lazy_max_pages()
** the drain is scheduled.
*/
static void free_vmap_area_noflush(memlab_machine *m, struct vmalloc_state *vs,
				   struct vmap_area *va)
{
	unsigned id = decode_vn_id(vs, va->flags);
	struct vmap_node *vn = &vs->nodes[id < vs->nr_nodes ? id : addr_to_node_id(vs, va->va_start)];

	vs->vmap_lazy_nr += va_size(va) >> m->page_shift;
	addr_tree_insert(m, &vn->lazy, va);
	trace(m, TP_FREE_VMAP_AREA_NOFLUSH, va->va_start, vs->vmap_lazy_nr, lazy_max_pages(m), 0);
	if (vs->vmap_lazy_nr > lazy_max_pages(m))
		vs->drain_pending = true;
}

/* drain_vmap_area_work, which memlab runs when the public call that queued it returns. */
static void vmalloc_run_deferred(memlab_machine *m)
{
	struct vmalloc_state *vs = m->vmalloc;

	if (vs && vs->drain_pending) {
		vs->drain_pending = false;
		purge_vmap_area_lazy(m, vs, false);
	}
}

/* ===================== allocating address space ===================== */

static void purge_fragmented_blocks_allcpus(memlab_machine *m, struct vmalloc_state *vs);

/* preload_this_cpu_lock(): a spare area for a split, unless this CPU has one. */
static void preload_this_cpu(memlab_machine *m, struct vmalloc_state *vs, uint32_t gfp)
{
	int cpu = smp_processor_id(m);

	if (!vs->ne_fit_preload[cpu])
		vs->ne_fit_preload[cpu] = vmap_area_alloc(m, gfp);
}

/*
** node_alloc(): with several nodes, a vmalloc-range request first tries
** the pool of this CPU's node; either way the area remembers that node.
*/
static struct vmap_area *node_alloc(memlab_machine *m, struct vmalloc_state *vs, uint64_t size,
				    uint64_t align, uint64_t vstart, uint64_t vend,
				    uint32_t *vn_id)
{
	unsigned id;

	*vn_id = 0;
	if (vstart != vmalloc_start(m) || vend != vmalloc_end(m) || vs->nr_nodes == 1)
		return NULL;
	id = (unsigned)smp_processor_id(m) % vs->nr_nodes;
	*vn_id = encode_vn_id(id);
	return node_pool_del_va(m, &vs->nodes[id], size, align, vstart, vend);
}

/*
** alloc_vmap_area(): reserve size bytes (guard included) at align in
** [vstart, vend), lowest first.  When nothing fits, a caller that may
** block purges everything lazily freed (the pools too) and tries once
** more.  Returns 0 and the busy area in *out; -MEMLAB_EINVAL for a size
** or alignment Linux refuses; -MEMLAB_ENOMEM when the area object cannot
** be allocated; -MEMLAB_EBUSY when the range is full.
*/
static int alloc_vmap_area(memlab_machine *m, struct vmalloc_state *vs, uint64_t size,
			   uint64_t align, uint64_t vstart, uint64_t vend, uint32_t gfp,
			   uint32_t va_flags, struct vmap_area **out)
{
	struct vmap_area *va;
	uint64_t addr = 0;
	uint32_t vn_id;
	bool purged = false;
	int err = 0;

	if (!size || (size & (m->page_size - 1)) || !is_pow2(align))
		return -MEMLAB_EINVAL;
	va = node_alloc(m, vs, size, align, vstart, vend, &vn_id);
	if (va) {
		addr = va->va_start;
		tracev(m, TP_ALLOC_VMAP_AREA, addr, size, align, vstart, vend, 0);
	} else if (!(va = vmap_area_alloc(m, gfp)))
		return -MEMLAB_ENOMEM;
	while (!addr) {
		preload_this_cpu(m, vs, gfp);
		err = __alloc_vmap_area(m, vs, size, align, vstart, vend, &addr);
		tracev(m, TP_ALLOC_VMAP_AREA, err ? (uint64_t)(int64_t)err : addr, size, align,
		       vstart, vend, err != 0);
		if (!err)
			break;
		addr = 0;
		if (purged)	/* 6.18 purges whatever the gfp (6.19 skips it unless it may block) */
			break;
		purge_fragmented_blocks_allcpus(m, vs);	/* reclaim_and_purge_vmap_areas */
		purge_vmap_area_lazy(m, vs, true);
		purged = true;
	}
	if (!addr) {
		if (!(gfp & MEMLAB___GFP_NOWARN))
			ml_report(m, "vmalloc_node_range for size %" PRIu64 " failed: Address range"
				  " restricted to %#" PRIx64 " - %#" PRIx64, size, vstart, vend);
		vmap_area_free(m, va);
		return -MEMLAB_EBUSY;
	}
	va->va_start = addr;
	va->va_end = addr + size;
	va->vm = NULL;
	va->flags = va_flags | vn_id;
	addr_tree_insert(m, &vs->nodes[addr_to_node_id(vs, addr)].busy, va);
	*out = va;
	return 0;
}

/*
** __get_vm_area_node(): a vm_struct and its area for size (aligned to
** 1 << shift, plus the guard page unless VM_NO_GUARD) in the vmalloc range.  Both are
** slab allocations.  Errors as alloc_vmap_area; nothing is left behind.
*/
static int get_vm_area(memlab_machine *m, struct vmalloc_state *vs, uint64_t size,
		       uint64_t align, unsigned shift, uint32_t flags, uint32_t gfp,
		       const char *caller, struct vmap_area **out)
{
	struct vm_struct *vm;
	int err;

	size = align_up(size, 1ull << shift);
	if (!size)
		return -MEMLAB_EINVAL;
	if (!(vm = vmalloc_obj_alloc(m, sizeof(*vm), gfp & GFP_RECLAIM_MASK)))	/* kzalloc_node */
		return -MEMLAB_ENOMEM;
	if (!(flags & VM_NO_GUARD))
		size += m->page_size;
	vm->flags = flags;
	vm->page_order = shift - m->page_shift;
	snprintf(vm->caller, sizeof(vm->caller), "%s", caller ? caller : "");
	err = alloc_vmap_area(m, vs, size, align, vmalloc_start(m), vmalloc_end(m),
			      gfp & GFP_RECLAIM_MASK, 0, out);
	if (err) {
		ml_free(m, vm, sizeof(*vm));
		return err;
	}
	vm->addr = (*out)->va_start;
	vm->size = va_size(*out);
	(*out)->vm = vm;
	return 0;
}

/* get_vm_area_size(): the area without its guard page. */
static uint64_t get_vm_area_size(const memlab_machine *m, const struct vm_struct *vm)
{
	return (vm->flags & VM_NO_GUARD) ? vm->size : vm->size - m->page_size;
}

/* ===================== init_mm's page table ===================== */

/*
** init_mm's PGD, made with the first kernel mapping.  Linux's is
** swapper_pg_dir, a page of the kernel image: here a frame from the
** buddy allocator, counted nowhere (not in PageTables), as the image is.
*/
static int init_mm_pgd(memlab_machine *m, struct vmalloc_state *vs)
{
	struct mm_struct *mm = &vs->init_mm;
	struct pt_format f;
	uint64_t pfn;
	int err;

	if (mm->pt.levels)
		return 0;
	if ((err = pt_format_init(&f, m->arch, m->page_shift, m->va_bits)))
		return err;
	if ((err = alloc_pages(m, 0, GFP_PGTABLE_KERNEL, &pfn)))
		return err;
	f.kernel = true;
	mm->pt = f;
	mm->pgd = pfn;
	return 0;
}

/* PAGE_KERNEL, made non-executable (pgprot_nx): global, present, dirty. */
static struct pt_prot page_kernel(void)
{
	struct pt_prot p = { 0 };

	p.present = p.write = p.accessed = p.dirty = p.global = true;
	return p;
}

/*
** vmap_pages_range(): map nr frames at addr in init_mm, allocating the
** tables on the way (GFP_PGTABLE_KERNEL, in NR_PAGETABLE, kept for good
** as Linux keeps them).  Stops at the first failure: -MEMLAB_ENOMEM for a
** table, -MEMLAB_EBUSY for a slot already mapped, -MEMLAB_EINVAL for a
** pfn outside RAM.  What was mapped stays for the caller to unmap.
*/
static int vmap_pages_range(memlab_machine *m, struct vmalloc_state *vs, uint64_t addr,
			    const uint64_t *pfns, uint64_t nr)
{
	int err = init_mm_pgd(m, vs);

	for (uint64_t i = 0; !err && i < nr; i++) {
		if (pfns[i] >= m->nr_frames) {
			ml_report(m, "WARNING: vmap: pfn %#" PRIx64 " is not a valid page", pfns[i]);
			return -MEMLAB_EINVAL;
		}
		err = pt_map(m, &vs->init_mm, kva(m, addr + (i << m->page_shift)), 0, pfns[i],
			     page_kernel());
		if (err == -MEMLAB_EEXIST) {
			ml_report(m, "WARNING: vmap: remapping an already mapped page at 0x%" PRIx64,
				  addr + (i << m->page_shift));
			return -MEMLAB_EBUSY;
		}
	}
	return err;
}

/*
** vmap_try_huge_pmd(): a PMD leaf for the 2M at addr.  A PTE table left
** there by earlier small mappings is freed first (x86's
** pmd_free_pte_page()): the one place Linux frees kernel page tables.
*/
static int vmap_huge_pmd(memlab_machine *m, struct vmalloc_state *vs, uint64_t addr,
			 uint64_t pfn)
{
	struct mm_struct *mm = &vs->init_mm;
	uint64_t table, idx, e;
	int err = init_mm_pgd(m, vs);

	if (err || (err = pt_alloc_path(m, mm, kva(m, addr), 1, &table)))
		return err;
	idx = pt_index(&mm->pt, 1, kva(m, addr));
	e = pt_read(m, table, idx);
	if (e && !pt_entry_is_table(&mm->pt, 1, e))
		return -MEMLAB_EBUSY;
	if (e) {
		pt_write(m, table, idx, 0);
		pt_free_table(m, mm, pt_entry_pfn(&mm->pt, 1, e));
	}
	pt_write(m, table, idx, pt_mkentry(&mm->pt, 1, pfn, page_kernel()));
	return 0;
}

/*
** __vmap_pages_range_noflush(): an area's pages, PMD leaves for blocks
** of PMD order (always aligned: the area and the blocks are), else PTEs.
*/
static int vmap_area_pages(memlab_machine *m, struct vmalloc_state *vs, uint64_t addr,
			   const struct vm_struct *vm, uint64_t nr)
{
	uint64_t step = 1ull << vm->page_order;
	int err = 0;

	if (!vm->page_order)
		return vmap_pages_range(m, vs, addr, vm->pages, nr);
	for (uint64_t i = 0; !err && i < nr; i += step)
		err = vmap_huge_pmd(m, vs, addr + (i << m->page_shift), vm->pages[i]);
	return err;
}

/* vunmap_range_noflush(): clear the leaves over [start, end); the tables stay. */
static void vunmap_range(memlab_machine *m, struct vmalloc_state *vs, uint64_t start, uint64_t end)
{
	struct mm_struct *mm = &vs->init_mm;

	if (!mm->pt.levels)
		return;
	for (uint64_t va = start; va < end; va += m->page_size) {
		uint64_t table;
		unsigned level;

		if (pt_leaf_slot(m, mm, kva(m, va), &table, &level) == 0 &&
		    pt_read(m, table, pt_index(&mm->pt, level, kva(m, va))))
			pt_write(m, table, pt_index(&mm->pt, level, kva(m, va)), 0);
	}
}

/* vmalloc_to_pfn(): walk init_mm; -MEMLAB_EFAULT when addr maps nothing. */
static int vmalloc_to_pfn(memlab_machine *m, uint64_t addr, uint64_t *pfn)
{
	struct pt_walk w;

	if (!m->vmalloc || !m->vmalloc->init_mm.pt.levels || !is_vmalloc_addr(m, addr))
		return -MEMLAB_EFAULT;
	if (pt_walk(m, &m->vmalloc->init_mm, kva(m, addr), &w))
		return -MEMLAB_EFAULT;
	*pfn = w.phys >> m->page_shift;
	return 0;
}

/* ===================== freeing ===================== */

/* find_unlink_vmap_area(): the busy area holding addr, out of its node's tree. */
static struct vmap_area *find_vmap_area(struct vmalloc_state *vs, uint64_t addr);

static struct vmap_area *find_unlink_vmap_area(struct vmalloc_state *vs, uint64_t addr)
{
	unsigned i = addr_to_node_id(vs, addr), j = i;

	do {
		struct vmap_node *vn = &vs->nodes[i];
		struct vmap_area *va = addr_tree_find(&vn->busy, addr);

		if (va) {
			rb_erase_augmented(&va->rb_node, &vn->busy, NULL);
			return va;
		}
		i = (i + vs->nr_nodes - 1) % vs->nr_nodes;
	} while (i != j);
	return NULL;
}

/*
** remove_vm_area(): unmap the area holding addr and free it lazily; its
** vm_struct, which the caller frees.  NULL (reported) for an unaligned
** addr or one that no vmalloc or vmap area holds.
*/
static struct vm_struct *remove_vm_area(memlab_machine *m, uint64_t addr, const char *fn,
					bool internal)
{
	struct vmalloc_state *vs = m->vmalloc;
	struct vmap_area *va = NULL;
	struct vm_struct *vm;

	if (addr & (m->page_size - 1)) {	/* the WARN names vfree() whoever calls */
		ml_report(m, "Trying to vfree() bad address (%016" PRIx64 ")", addr);
		return NULL;
	}
	if (vs)
		va = find_vmap_area(vs, addr);
	/*
	** A vm_map_ram block has no vm: Linux would unlink it anyway and lose
	** it from the busy tree (its blocks are found another way); memlab
	** leaves it.  A page array's area is its owner's to free.
	*/
	if (!va || !va->vm || (va->vm->is_page_array && !internal)) {
		ml_report(m, "Trying to %s() nonexistent vm area (%016" PRIx64 ")", fn, addr);
		return NULL;
	}
	va = find_unlink_vmap_area(vs, addr);
	vm = va->vm;
	va->vm = NULL;
	vunmap_range(m, vs, va->va_start, va->va_end);
	free_vmap_area_noflush(m, vs, va);
	return vm;
}

static void __vfree(memlab_machine *m, uint64_t addr);

/* kvfree(vm->pages): the array, and the vmalloc area that held it ("vpages"). */
static void free_page_array(memlab_machine *m, struct vm_struct *vm)
{
	if (vm->pages_vaddr)
		__vfree(m, vm->pages_vaddr);
	vm_struct_free(m, vm);
}

/*
** MEMCG_VMALLOC (memory.stat "vmalloc") of the memcg the area's first
** page is charged to, up (dir 1) or down (-1) by its pages; nothing for
** pages charged to none (no __GFP_ACCOUNT, or the root cgroup).
*/
static void mod_memcg_vmalloc(memlab_machine *m, const struct vm_struct *vm, int dir)
{
	struct mem_cgroup *memcg;

	if (!vm->nr_pages || (vm->flags & VM_MAP_PUT_PAGES))
		return;
	if ((memcg = page_memcg(m, pfn_to_page(m, vm->pages[0]))))
		mod_memcg_state(memcg, MEMCG_VMALLOC, dir * (int64_t)vm->nr_pages);
}

/* vfree()'s work once the area is found: its frames back to the buddy allocator. */
static void vm_free_pages(memlab_machine *m, struct vm_struct *vm)
{
	mod_memcg_vmalloc(m, vm, -1);
	for (unsigned i = 0; i < vm->nr_pages; i++) {
		memcg_kmem_uncharge_page(m, vm->pages[i]);
		memlab_free_pages(m, vm->pages[i], 0);
	}
	if (!(vm->flags & VM_MAP_PUT_PAGES))
		m->vmalloc->nr_vmalloc_pages -= vm->nr_pages;
}

/* vfree() of an area known to exist (the page array of another). */
static void __vfree(memlab_machine *m, uint64_t addr)
{
	struct vm_struct *vm = remove_vm_area(m, addr, "vfree", true);

	if (!vm)
		return;
	vm_free_pages(m, vm);
	free_page_array(m, vm);
}

/* ===================== vm_map_ram: vmap blocks ===================== */

/*
** VMAP_BBMAP_BITS, the pages of a vmap block: VMALLOC_SPACE's pages over
** roundup_pow_of_two(NR_CPUS) and 16, clamped to 2 * VMAP_MAX_ALLOC ..
** 1024 (256 pages, 1 MiB, with 4K pages and NR_CPUS 8192).
*/
static uint64_t vmap_bbmap_bits(const memlab_machine *m)
{
	uint64_t bits = (VMALLOC_SPACE >> m->page_shift) / CONFIG_NR_CPUS / 16;

	if (bits < 2 * VMAP_MAX_ALLOC)
		bits = 2 * VMAP_MAX_ALLOC;
	return bits > 1024 ? 1024 : bits;
}

/* get_order() of a size of pages pages. */
static unsigned pages_order(uint64_t pages)
{
	unsigned order = 0;

	while ((1ull << order) < pages)
		order++;
	return order;
}

/* bitmap_set()/bitmap_clear() of vb->used_map */
static void vb_mark(struct vmap_block *vb, uint64_t off, uint64_t nr, bool used)
{
	for (uint64_t i = off; i < off + nr; i++) {
		if (used)
			vb->used_map[i / 64] |= 1ull << (i % 64);
		else
			vb->used_map[i / 64] &= ~(1ull << (i % 64));
	}
}

static bool vb_all_used(const struct vmap_block *vb, uint64_t off, uint64_t nr)
{
	for (uint64_t i = off; i < off + nr; i++)
		if (!(vb->used_map[i / 64] >> (i % 64) & 1))
			return false;
	return true;
}

/*
** new_vmap_block(): a block-sized, block-aligned area with no guard page,
** its first 1 << order pages handed out at *addr, queued on this CPU's
** list of blocks with free pages.
*/
static int new_vmap_block(memlab_machine *m, struct vmalloc_state *vs, unsigned order,
			  uint64_t *addr)
{
	uint64_t bits = vmap_bbmap_bits(m), size = bits << m->page_shift;
	struct vmap_block *vb = vmalloc_obj_alloc(m, sizeof(*vb), MEMLAB_GFP_KERNEL);
	struct vmap_area *va;
	int cpu = smp_processor_id(m), err;

	if (!vb)
		return -MEMLAB_ENOMEM;
	err = alloc_vmap_area(m, vs, size, size, vmalloc_start(m), vmalloc_end(m),
			      MEMLAB_GFP_KERNEL, VMAP_RAM | VMAP_BLOCK, &va);
	if (err) {
		ml_free(m, vb, sizeof(*vb));
		return err;
	}
	vb->va = va;
	va->vb = vb;
	memset(vb->used_map, 0, sizeof(vb->used_map));
	vb_mark(vb, 0, 1ull << order, true);
	vb->free = bits - (1ull << order);
	vb->dirty_min = bits;
	vb->cpu = cpu;
	va_list_insert(&vb->all, vs->blocks.prev, &vs->blocks);
	va_list_insert(&vb->free_list, vs->vbq_free[cpu].prev, &vs->vbq_free[cpu]);
	*addr = va->va_start;
	return 0;
}

/* vb_alloc(): 1 << order pages from the first of this CPU's blocks that has them. */
static int vb_alloc(memlab_machine *m, struct vmalloc_state *vs, uint64_t pages, uint64_t *addr)
{
	unsigned order = pages_order(pages);
	struct va_link *head = &vs->vbq_free[smp_processor_id(m)];

	for (struct va_link *l = head->next; l != head; l = l->next) {
		struct vmap_block *vb = container_of(l, struct vmap_block, free_list);

		if (vb->free < 1ull << order)
			continue;
		vb_mark(vb, vmap_bbmap_bits(m) - vb->free, 1ull << order, true);
		*addr = vb->va->va_start + ((vmap_bbmap_bits(m) - vb->free) << m->page_shift);
		vb->free -= 1ull << order;
		if (!vb->free)
			va_list_del(&vb->free_list);
		return 0;
	}
	return new_vmap_block(m, vs, order, addr);
}

/* free_vmap_block(): the whole block's area to the lazily freed ones. */
static void free_vmap_block(memlab_machine *m, struct vmalloc_state *vs, struct vmap_block *vb)
{
	struct vmap_area *va = vb->va;

	rb_erase_augmented(&va->rb_node, &vs->nodes[addr_to_node_id(vs, va->va_start)].busy, NULL);
	va->vb = NULL;
	free_vmap_area_noflush(m, vs, va);
	if (!va_list_empty(&vb->free_list))
		va_list_del(&vb->free_list);
	va_list_del(&vb->all);
	ml_free(m, vb, sizeof(*vb));
}

/*
** purge_fragmented_blocks_allcpus(), when address space runs out: a
** block whose pages are all either given back or never handed out is
** freed.
*/
static void purge_fragmented_blocks_allcpus(memlab_machine *m, struct vmalloc_state *vs)
{
	uint64_t bits = vmap_bbmap_bits(m);

	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		struct va_link *head = &vs->vbq_free[cpu], *l = head->next;

		while (l != head) {
			struct vmap_block *vb = container_of(l, struct vmap_block, free_list);

			l = l->next;
			if (vb->free + vb->dirty == bits && vb->dirty != bits)
				free_vmap_block(m, vs, vb);
		}
	}
}

/* The busy area holding addr, in whichever node lists it (find_vmap_area). */
static struct vmap_area *find_vmap_area(struct vmalloc_state *vs, uint64_t addr)
{
	for (unsigned i = 0; i < vs->nr_nodes; i++) {
		struct vmap_area *va = addr_tree_find(&vs->nodes[i].busy, addr);

		if (va)
			return va;
	}
	return NULL;
}

/*
** vb_free(): unmap pages pages at addr and count them, with the rest of
** their 1 << order, as given back; a block given back whole is freed.
*/
static int vb_free(memlab_machine *m, struct vmalloc_state *vs, uint64_t addr, uint64_t pages)
{
	uint64_t bits = vmap_bbmap_bits(m), nr = 1ull << pages_order(pages), offset;
	struct vmap_area *va = find_vmap_area(vs, addr);
	struct vmap_block *vb = va ? va->vb : NULL;

	if (!vb) {
		ml_report(m, "BUG: vm_unmap_ram: no vmap block holds 0x%" PRIx64, addr);
		return -MEMLAB_EINVAL;
	}
	offset = (addr - va->va_start) >> m->page_shift;
	if (offset + nr > bits || !vb_all_used(vb, offset, nr)) {
		/* Linux clears the bits blindly and BUGs later (BUG_ON(vb->free)) */
		ml_report(m, "BUG: vm_unmap_ram(0x%" PRIx64 ", %" PRIu64 "): pages not handed out "
			  "by vm_map_ram", addr, pages);
		return -MEMLAB_EINVAL;
	}
	vb_mark(vb, offset, nr, false);
	vunmap_range(m, vs, addr, addr + (pages << m->page_shift));
	if (offset < vb->dirty_min)
		vb->dirty_min = offset;
	if (offset + nr > vb->dirty_max)
		vb->dirty_max = offset + nr;
	vb->dirty += nr;
	if (vb->dirty == bits)
		free_vmap_block(m, vs, vb);
	return 0;
}

/*
** vm_unmap_ram(): a vm_map_ram() mapping of count pages at addr goes --
** from its block, or (above VMAP_MAX_ALLOC) its own area, lazily freed.
** An address vm_map_ram did not return is reported: -MEMLAB_EINVAL.
*/
int memlab_vm_unmap_ram(memlab_machine *m, uint64_t addr, uint64_t count)
{
	struct vmalloc_state *vs;
	struct vmap_area *va;
	int err = 0;

	if (!m)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	vs = m->vmalloc;
	if (!vs || !count || !is_vmalloc_addr(m, addr) || (addr & (m->page_size - 1))) {
		ml_report(m, "kernel BUG at mm/vmalloc.c: vm_unmap_ram(0x%" PRIx64 ", %" PRIu64 ")",
			  addr, count);
		return -MEMLAB_EINVAL;
	}
	if (count <= VMAP_MAX_ALLOC) {
		err = vb_free(m, vs, addr, count);
	} else if (!(va = find_vmap_area(vs, addr)) || va->vm || !(va->flags & VMAP_RAM) ||
		   (va->flags & VMAP_BLOCK)) {
		ml_report(m, "WARNING: vm_unmap_ram: no vm_map_ram area at 0x%" PRIx64, addr);
		err = -MEMLAB_EINVAL;
	} else {
		rb_erase_augmented(&va->rb_node, &vs->nodes[addr_to_node_id(vs, va->va_start)].busy,
				   NULL);
		vunmap_range(m, vs, va->va_start, va->va_end);
		free_vmap_area_noflush(m, vs, va);
	}
	vmalloc_run_deferred(m);
	return err;
}

/*
** vm_map_ram(): count frames mapped at consecutive addresses without a
** guard page, from a per-CPU vmap block up to VMAP_MAX_ALLOC (64) pages,
** else in an area of their own; vmallocinfo lists either as
** "vm_map_ram".  -MEMLAB_EINVAL for count 0 or a pfn outside RAM,
** -MEMLAB_ENOMEM without memory or address space.
*/
int memlab_vm_map_ram(memlab_machine *m, const uint64_t *pfns, uint64_t count, uint64_t *addr)
{
	struct vmalloc_state *vs;
	struct vmap_area *va;
	int err;

	if (!m || !pfns || !addr || !count)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (!(vs = vmalloc_state(m)))		/* no totalram limit here: vmap() has it */
		return -MEMLAB_ENOMEM;
	if (count <= VMAP_MAX_ALLOC) {
		err = vb_alloc(m, vs, count, addr);
	} else if (!(err = alloc_vmap_area(m, vs, count << m->page_shift, m->page_size,
					   vmalloc_start(m), vmalloc_end(m), MEMLAB_GFP_KERNEL,
					   VMAP_RAM, &va))) {
		*addr = va->va_start;
	}
	if (err)
		return -MEMLAB_ENOMEM;
	err = vmap_pages_range(m, vs, *addr, pfns, count);
	if (err) {
		memlab_vm_unmap_ram(m, *addr, count);
		return err == -MEMLAB_EINVAL ? err : -MEMLAB_ENOMEM;
	}
	return 0;
}

/* ===================== allocating memory ===================== */

/*
** warn_alloc() (mm/page_alloc.c): "<comm>: <msg>, mode:<gfp>(<names>),
** nodemask=(null)" with the cpuset (cpuset_print_current_mems_allowed(),
** kernel/cgroup/cpuset.c), unless
** __GFP_NOWARN.  Linux lets one warning through in 10 seconds and follows
** it with a stack trace and show_mem(); memlab, without a clock to count
** the 10 seconds by, warns for each failure, and leaves out the stack
** (it has none) and the Mem-Info (which, each time, would bury a sweep's
** log; a global OOM report carries it).
*/
static void warn_alloc(memlab_machine *m, uint32_t gfp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn_alloc(memlab_machine *m, uint32_t gfp, const char *fmt, ...)
{
	char msg[160], names[256];
	va_list ap;

	if (gfp & MEMLAB___GFP_NOWARN)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memlab_gfp_format(gfp, names, sizeof(names));
	ml_report(m, "%s: %s, mode:%#x(%s), nodemask=(null),cpuset=/,mems_allowed=0",
		  m->current ? m->current->comm : "memlab", msg, gfp, names);
}

static int __vmalloc_node(memlab_machine *m, uint64_t size, uint64_t align, uint32_t gfp,
			  uint32_t vm_flags, const char *caller, uint64_t *addr);

/*
** The page array of an area of nr pages: host memory for the pfns, and
** what Linux's array costs -- kmalloc up to a page (failslab may fail
** it), else a nested vmalloc that shows in vmallocinfo ("vpages").
*/
static int alloc_page_array(memlab_machine *m, struct vm_struct *vm, uint64_t nr, uint32_t gfp)
{
	uint64_t array_size = nr * 8;	/* sizeof(struct page *) */
	int err = 0;

	if (array_size > m->page_size) {
		err = __vmalloc_node(m, array_size, 1, gfp, 0, vm->caller, &vm->pages_vaddr);
		if (!err)
			find_vmap_area(m->vmalloc, vm->pages_vaddr)->vm->is_page_array = true;
	} else if (should_failslab_gfp(m, array_size, gfp)) {	/* kmalloc_node(nested_gfp) */
		err = -MEMLAB_ENOMEM;
	}
	if (!err && (vm->pages = ml_alloc(m, nr * sizeof(uint64_t))))
		vm->pages_cap = nr;
	else if (!err) {
		if (vm->pages_vaddr)
			__vfree(m, vm->pages_vaddr);
		vm->pages_vaddr = 0;
		err = -MEMLAB_ENOMEM;
	}
	return err;
}

/*
** vm_area_alloc_pages()'s step: alloc_pages(gfp, order), split into
** order-0 pages (split_page), charged to current's memcg with
** __GFP_ACCOUNT as the page allocator charges them (all given back when
** that fails).
*/
static int alloc_pages_account(memlab_machine *m, uint32_t gfp, unsigned order, uint64_t *pfn)
{
	uint64_t i, nr = 1ull << order;
	int err = alloc_pages(m, order, gfp, pfn);

	if (err)
		return err;
	if (order)
		split_page(m, *pfn, order);
	for (i = 0; (gfp & MEMLAB___GFP_ACCOUNT) && i < nr; i++)
		if ((err = memcg_kmem_charge_page(m, *pfn + i, 0, gfp)))
			break;
	if (!err)
		return 0;
	for (uint64_t j = 0; j < nr; j++) {
		if (j < i)
			memcg_kmem_uncharge_page(m, *pfn + j);
		memlab_free_pages(m, *pfn + j, 0);
	}
	return err;
}

/* vm_area_alloc_pages(): nr pages in blocks of 1 << order; how many were allocated. */
static unsigned vm_area_alloc_pages(memlab_machine *m, struct vm_struct *vm, uint32_t gfp,
				    uint64_t nr)
{
	uint64_t pfn;

	while (vm->nr_pages < nr) {
		/* a task the OOM killer chose stops here, unless __GFP_NOFAIL */
		if (!(gfp & MEMLAB___GFP_NOFAIL) && task_is_dying(m))
			break;
		if (alloc_pages_account(m, gfp, vm->page_order, &pfn))
			break;
		for (uint64_t i = 0; i < 1ull << vm->page_order; i++)
			vm->pages[vm->nr_pages++] = pfn + i;
	}
	return vm->nr_pages;
}

/*
** __vmalloc_area_node(): the pages of the area va, in blocks of its page
** order (0, or the PMD order for a huge area), from the buddy allocator
** (__GFP_NOWARN: the failure is vmalloc's to report), then mapped.  On failure everything goes as vfree() would free it (the
** address space lazily) and -MEMLAB_ENOMEM is returned.
*/
static int vmalloc_area_node(memlab_machine *m, struct vmalloc_state *vs, struct vmap_area *va,
			     uint32_t gfp)
{
	struct vm_struct *vm = va->vm;
	uint32_t nested_gfp = (gfp & GFP_RECLAIM_MASK) | MEMLAB___GFP_ZERO;
	uint64_t nr = get_vm_area_size(m, vm) >> m->page_shift;
	const char *what = NULL;

	if (!(gfp & (MEMLAB___GFP_DMA | MEMLAB___GFP_DMA32)))
		gfp |= MEMLAB___GFP_HIGHMEM;
	if (alloc_page_array(m, vm, nr, nested_gfp)) {
		warn_alloc(m, gfp, "vmalloc error: size %" PRIu64 ", failed to allocated page "
			   "array size %" PRIu64, nr << m->page_shift, nr * 8);
		goto fail;
	}
	vs->nr_vmalloc_pages += vm_area_alloc_pages(m, vm, gfp | MEMLAB___GFP_NOWARN, nr);
	mod_memcg_vmalloc(m, vm, 1);
	if (vm->nr_pages != nr) {
		if (!task_is_dying(m) && !vm->page_order)	/* huge: order 0 is tried next */
			what = "failed to allocate pages";
	} else if (vmap_area_pages(m, vs, va->va_start, vm, nr)) {
		what = "failed to map pages";
	} else {
		return 0;
	}
	if (what)
		warn_alloc(m, gfp, "vmalloc error: size %" PRIu64 ", %s",
			   (uint64_t)vm->nr_pages << m->page_shift, what);
fail:
	__vfree(m, va->va_start);	/* defer_vm_area_cleanup(), run at once */
	return -MEMLAB_ENOMEM;
}

/*
** __vmalloc_node_range() over the vmalloc range, with PAGE_KERNEL: size
** rounded up to pages, the area placed, its pages allocated and mapped.
** -MEMLAB_EINVAL for size 0 (Linux: WARN_ON_ONCE, NULL); -MEMLAB_ENOMEM
** for more pages than RAM has, no address space, or no memory.
*/
static int __vmalloc_node(memlab_machine *m, uint64_t size, uint64_t align, uint32_t gfp,
			  uint32_t vm_flags, const char *caller, uint64_t *addr)
{
	struct vmalloc_state *vs = vmalloc_state(m);
	uint64_t original_align = align;
	unsigned shift = m->page_shift;
	struct vmap_area *va;
	int err;

	if (!size)
		return -MEMLAB_EINVAL;
	if (!vs)
		return -MEMLAB_ENOMEM;
	if ((size >> m->page_shift) > totalram_pages(m)) {
		warn_alloc(m, gfp, "vmalloc error: size %" PRIu64 ", exceeds total pages", size);
		return -MEMLAB_ENOMEM;
	}
	if (vm_flags & VM_ALLOW_HUGE_VMAP) {
		/*
		** arm64's PMD and contiguous-PTE mappings are not modelled: its
		** huge areas are mapped page by page, as any area whose huge
		** pages could not be had (Linux never fails for the flag).
		*/
		if (m->arch != MEMLAB_ARCH_X86_64)
			vm_flags &= ~VM_ALLOW_HUGE_VMAP;
		else if (size >= pmd_size(m)) {	/* arch_vmap_pmd_supported(): PSE */
			shift = m->page_shift + m->page_shift - 3;
			align = align > pmd_size(m) ? align : pmd_size(m);
		}
	}
	for (;;) {
		err = get_vm_area(m, vs, size, align, shift, VM_ALLOC | VM_UNINITIALIZED | vm_flags,
				  gfp, caller, &va);
		if (err)
			warn_alloc(m, gfp, "vmalloc error: size %" PRIu64 ", vm_struct allocation"
				   " failed", size);
		else if (!(err = vmalloc_area_node(m, vs, va, gfp)))
			break;
		if (shift == m->page_shift)	/* huge failed: order 0 once more */
			return err == -MEMLAB_EINVAL ? err : -MEMLAB_ENOMEM;
		shift = m->page_shift;
		align = original_align;
	}
	va->vm->flags &= ~VM_UNINITIALIZED;
	*addr = va->va_start;
	return 0;
}

/* ===================== the kernel's own users ===================== */

static int vfree_common(memlab_machine *m, uint64_t addr, bool free_pages);

int vmalloc_thread_stack(memlab_machine *m, uint64_t size, uint64_t align, uint32_t gfp,
			 const char *caller, uint64_t *addr)
{
	int err = __vmalloc_node(m, size, align, gfp, 0, caller, addr);

	if (!err)
		find_vmap_area(m->vmalloc, *addr)->vm->thread_stack = true;
	vmalloc_run_deferred(m);
	return err;
}

/* The areas that are kernel stacks: live tasks' and the CPUs' cached ones. */
unsigned vmalloc_nr_thread_stacks(memlab_machine *m)
{
	struct vmalloc_state *vs = m->vmalloc;
	unsigned n = 0;

	for (unsigned i = 0; vs && i < vs->nr_nodes; i++)
		for (struct rb_node *r = rb_first(&vs->nodes[i].busy); r; r = rb_next(r))
			n += rb_va(r)->vm && rb_va(r)->vm->thread_stack;
	return n;
}

unsigned vmalloc_area_pages(memlab_machine *m, uint64_t addr, const uint64_t **pfns)
{
	struct vmap_area *va = m->vmalloc ? find_vmap_area(m->vmalloc, addr) : NULL;

	if (!va || !va->vm || va->va_start != addr)
		return 0;
	*pfns = va->vm->pages;
	return va->vm->nr_pages;
}

/* vfree() by the core itself: a machine stopped by a BUG frees as well. */
void vfree_kernel(memlab_machine *m, uint64_t addr)
{
	struct vm_struct *vm = remove_vm_area(m, addr, "vfree", false);

	if (!vm)
		return;
	vm_free_pages(m, vm);
	free_page_array(m, vm);
	vmalloc_run_deferred(m);
}

/* ===================== the public API ===================== */

#define MEMLAB_VM_PUBLIC_FLAGS	(MEMLAB_VM_NO_GUARD | MEMLAB_VM_ALLOW_HUGE_VMAP)

/* A caller text: printable, no spaces, shorter than MEMLAB_CALLER_MAX. */
static bool caller_ok(const char *caller)
{
	size_t n = 0;

	for (const char *p = caller; p && *p; p++, n++)
		if (*p <= ' ' || *p > '~')
			return false;
	return n < MEMLAB_CALLER_MAX;
}

int memlab_vmalloc(memlab_machine *m, uint64_t size, const struct memlab_vmalloc_opts *opts,
		   uint64_t *addr)
{
	struct memlab_vmalloc_opts o = { 0 };
	memlab_task *prev;
	int err;

	if (!m || !addr)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (opts)
		o = *opts;
	if (!o.caller)
		o.caller = "memlab_vmalloc+0x0/0x0";
	if (!o.gfp)
		o.gfp = MEMLAB_GFP_KERNEL;
	if (!o.align)
		o.align = 1;
	if (!caller_ok(o.caller) || !is_pow2(o.align) || (o.vm_flags & ~MEMLAB_VM_PUBLIC_FLAGS) ||
	    (o.task && o.task->m != m))
		return -MEMLAB_EINVAL;
	prev = o.task ? task_enter(o.task) : m->current;
	err = __vmalloc_node(m, size, o.align, o.gfp, o.vm_flags, o.caller, addr);
	vmalloc_run_deferred(m);
	if (o.task)
		task_leave(o.task, prev);
	else if (!prev)
		background_run(m);
	return err;
}

/*
** vfree() and vunmap(): addr 0 is a no-op; an address no area holds is
** reported as Linux WARNs and gives -MEMLAB_EINVAL.
*/
static int vfree_common(memlab_machine *m, uint64_t addr, bool free_pages)
{
	struct vm_struct *vm;

	if (!m)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (!addr)
		return 0;
	if (!free_pages && m->vmalloc && is_vmalloc_addr(m, addr) &&
	    !(addr & (m->page_size - 1))) {
		struct vmap_area *va = find_vmap_area(m->vmalloc, addr);

		if (va && va->vm && (va->vm->flags & VM_ALLOC)) {
			/* Linux would leak its pages and page array for good: refused */
			ml_report(m, "memlab: vunmap() of 0x%" PRIx64 ", a vmalloc area: use vfree()", addr);
			return -MEMLAB_EINVAL;
		}
	}
	if (m->vmalloc && is_vmalloc_addr(m, addr)) {
		struct vmap_area *va = find_vmap_area(m->vmalloc, addr);

		if (va && va->vm && va->vm->thread_stack) {
			/* a task's or a CPU's: Linux would oops on the next use */
			ml_report(m, "memlab: %s() of 0x%" PRIx64 ", a task's kernel stack: refused",
				  free_pages ? "vfree" : "vunmap", addr);
			return -MEMLAB_EINVAL;
		}
	}
	vm = remove_vm_area(m, addr, free_pages ? "vfree" : "vunmap", false);
	if (!vm)
		return -MEMLAB_EINVAL;
	if (free_pages)
		vm_free_pages(m, vm);
	free_page_array(m, vm);
	vmalloc_run_deferred(m);
	return 0;
}

int memlab_vfree(memlab_machine *m, uint64_t addr)
{
	return vfree_common(m, addr, true);
}

int memlab_vunmap(memlab_machine *m, uint64_t addr)
{
	return vfree_common(m, addr, false);
}

/*
** vmap(): count frames mapped at consecutive addresses (VM_MAP).  Linux
** returns NULL for count 0 or more pages than RAM has: -MEMLAB_EINVAL and
** -MEMLAB_ENOMEM here; -MEMLAB_EINVAL (reported) for a pfn outside RAM.
*/
int memlab_vmap(memlab_machine *m, const uint64_t *pfns, uint64_t count, const char *caller,
		uint64_t *addr)
{
	struct vmalloc_state *vs;
	struct vmap_area *va;
	int err;

	if (!m || !addr || (count && !pfns) || !count)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (!caller)
		caller = "memlab_vmap+0x0/0x0";
	if (!caller_ok(caller))
		return -MEMLAB_EINVAL;
	if (count > totalram_pages(m) || !(vs = vmalloc_state(m)))
		return -MEMLAB_ENOMEM;
	err = get_vm_area(m, vs, count << m->page_shift, 1, m->page_shift, VM_MAP, MEMLAB_GFP_KERNEL,
			  caller, &va);
	if (err)
		return -MEMLAB_ENOMEM;
	err = vmap_pages_range(m, vs, va->va_start, pfns, count);
	if (err) {
		uint64_t start = va->va_start;

		vm_struct_free(m, remove_vm_area(m, start, "vunmap", true));
		vmalloc_run_deferred(m);
		return err == -MEMLAB_EINVAL ? err : -MEMLAB_ENOMEM;
	}
	*addr = va->va_start;
	return 0;
}

int memlab_vmalloc_to_pfn(memlab_machine *m, uint64_t addr, uint64_t *pfn)
{
	if (!m || !pfn)
		return -MEMLAB_EINVAL;
	return vmalloc_to_pfn(m, addr, pfn);
}

/* ===================== kernel addresses ===================== */

/* The physical address of kernel address addr: direct map or vmalloc. */
static int kaddr_to_phys(memlab_machine *m, uint64_t addr, uint64_t *phys)
{
	uint64_t pfn = kaddr_to_pfn(m, addr);

	if (pfn != PFN_INVALID) {
		*phys = addr - page_offset(m);
		return 0;
	}
	if (vmalloc_to_pfn(m, addr, &pfn))
		return -MEMLAB_EFAULT;
	*phys = (pfn << m->page_shift) | (addr & (m->page_size - 1));
	return 0;
}

/*
** Walk [addr, addr + n) a page at a time; buf NULL only checks that
** every byte is mapped.  -MEMLAB_EFAULT at the first byte that is not.
*/
static int kaccess(memlab_machine *m, uint64_t addr, void *rbuf, const void *wbuf, size_t n)
{
	while (n) {
		size_t off = (size_t)(addr & (m->page_size - 1));
		size_t len = m->page_size - off < n ? m->page_size - off : n;
		uint64_t phys;

		if (kaddr_to_phys(m, addr, &phys))
			return -MEMLAB_EFAULT;
		if (rbuf) {
			memcpy(rbuf, phys_ptr(m, phys), len);
			rbuf = (uint8_t *)rbuf + len;
		} else if (wbuf) {
			memcpy(frame_wptr(m, phys >> m->page_shift, off, len), wbuf, len);
			wbuf = (const uint8_t *)wbuf + len;
		}
		addr += len;
		n -= len;
	}
	return 0;
}

int memlab_kread(memlab_machine *m, uint64_t addr, void *buf, size_t n)
{
	if (!m || (n && !buf))
		return -MEMLAB_EINVAL;
	if (addr + n < addr)
		return -MEMLAB_EFAULT;
	return kaccess(m, addr, buf, NULL, n);
}

int memlab_kwrite(memlab_machine *m, uint64_t addr, const void *buf, size_t n)
{
	int err;

	if (!m || (n && !buf))
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if (addr + n < addr)
		return -MEMLAB_EFAULT;
	if ((err = kaccess(m, addr, NULL, NULL, n)))	/* all or nothing */
		return err;
	return kaccess(m, addr, NULL, buf, n);
}

int memlab_page_address(memlab_machine *m, uint64_t pfn, uint64_t *addr)
{
	if (!m || !addr || pfn >= m->nr_frames)
		return -MEMLAB_EINVAL;
	*addr = pfn_to_kaddr(m, pfn);
	return 0;
}

int memlab_kaddr_to_pfn(memlab_machine *m, uint64_t addr, uint64_t *pfn)
{
	uint64_t p;

	if (!m || !pfn)
		return -MEMLAB_EINVAL;
	p = kaddr_to_pfn(m, addr);
	if (p == PFN_INVALID)
		return vmalloc_to_pfn(m, addr, pfn);
	*pfn = p;
	return 0;
}

/* ===================== inspection ===================== */

int memlab_vmalloc_info(memlab_machine *m, struct memlab_vmalloc_info *info)
{
	const struct vmalloc_state *vs;

	if (!m || !info)
		return -MEMLAB_EINVAL;
	vs = m->vmalloc;
	memset(info, 0, sizeof(*info));
	info->vmalloc_start = vmalloc_start(m);
	info->vmalloc_end = vmalloc_end(m);
	info->page_offset = page_offset(m);
	info->lazy_max_pages = lazy_max_pages(m);
	info->kernel_pgd = UINT64_MAX;
	if (!vs)
		return 0;
	info->nr_vmalloc_pages = vs->nr_vmalloc_pages;
	info->vmap_lazy_nr = vs->vmap_lazy_nr;
	info->nr_purges = vs->nr_purges;
	info->nr_kernel_tlb_flush_all = vs->nr_kernel_tlb_flush_all;
	info->nr_kernel_pgtables = vs->init_mm.pgtables_bytes >> m->page_shift;
	info->nr_cached_stack_pages = cached_stack_pages(m);
	info->kernel_pgd = vs->init_mm.pt.levels ? vs->init_mm.pgd : UINT64_MAX;
	info->nr_vmap_nodes = vs->nr_nodes;
	return 0;
}

/* One area as vmallocinfo lists it. */
static void area_info(const memlab_machine *m, const struct vmap_area *va, int kind,
		      unsigned node, struct memlab_vmap_area *a)
{
	memset(a, 0, sizeof(*a));
	a->addr = va->va_start;
	a->end = va->va_end;
	a->size = va_size(va);
	a->kind = kind;
	a->node = node;
	if (!va->vm)
		return;
	a->flags = va->vm->flags;
	a->nr_pages = va->vm->nr_pages;
	a->vpages = va->vm->pages_vaddr != 0;
	snprintf(a->caller, sizeof(a->caller), "%s", va->vm->caller);
}

/*
** The areas in vmallocinfo's order: node by node the busy areas by
** address (vm_map_ram and set-up ones skipped as Linux skips them), then
** node by node the lazily freed ones.  fn is called for each.
*/
static void for_each_listed_area(memlab_machine *m,
				 void (*fn)(memlab_machine *, const struct vmap_area *, int,
					    unsigned, void *),
				 void *ud)
{
	struct vmalloc_state *vs = m->vmalloc;

	if (!vs)
		return;
	for (unsigned i = 0; i < vs->nr_nodes; i++)
		for (struct rb_node *n = rb_first(&vs->nodes[i].busy); n; n = rb_next(n)) {
			const struct vmap_area *va = rb_va(n);

			if (va->vm ? !(va->vm->flags & VM_UNINITIALIZED) : (va->flags & VMAP_RAM))
				fn(m, va, va->vm ? MEMLAB_VMAP_BUSY : MEMLAB_VMAP_RAM, i, ud);
		}
	for (unsigned i = 0; i < vs->nr_nodes; i++)
		for (struct rb_node *n = rb_first(&vs->nodes[i].lazy); n; n = rb_next(n))
			fn(m, rb_va(n), MEMLAB_VMAP_LAZY, i, ud);
}

struct area_copy {
	struct memlab_vmap_area *out;
	size_t cap, n;
};

static void copy_area(memlab_machine *m, const struct vmap_area *va, int kind, unsigned node,
		      void *ud)
{
	struct area_copy *c = ud;

	if (c->n < c->cap)
		area_info(m, va, kind, node, &c->out[c->n]);
	c->n++;
}

size_t memlab_vmap_areas(memlab_machine *m, struct memlab_vmap_area *out, size_t cap)
{
	struct area_copy c = { out, out ? cap : 0, 0 };

	if (m)
		for_each_listed_area(m, copy_area, &c);
	return c.n;
}

/* vmalloc_info_show()'s line for one area. */
static void show_area(memlab_machine *m, const struct vmap_area *va, int kind, unsigned node,
		      void *ud)
{
	static const struct { uint32_t flag; const char *word; } words[] = {
		{ VM_IOREMAP, " ioremap" }, { VM_SPARSE, " sparse" }, { VM_ALLOC, " vmalloc" },
		{ VM_MAP, " vmap" }, { VM_USERMAP, " user" }, { VM_DMA_COHERENT, " dma-coherent" },
	};
	struct strbuf *sb = ud;
	const struct vm_struct *vm = va->vm;

	sb_printf(sb, "0x%016" PRIx64 "-0x%016" PRIx64 " %7" PRId64, va->va_start, va->va_end,
		  (int64_t)va_size(va));
	if (kind != MEMLAB_VMAP_BUSY) {
		sb_printf(sb, kind == MEMLAB_VMAP_LAZY ? " unpurged vm_area\n" : " vm_map_ram\n");
		return;
	}
	if (vm->caller[0])
		sb_printf(sb, " %s", vm->caller);
	if (vm->nr_pages)
		sb_printf(sb, " pages=%u", vm->nr_pages);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (vm->flags & words[i].flag)
			sb_printf(sb, "%s", words[i].word);
	if (vm->pages_vaddr)
		sb_printf(sb, " vpages");
	if (vm->nr_pages)	/* show_numa_info(): one node */
		sb_printf(sb, " N0=%u", vm->nr_pages);
	sb_printf(sb, "\n");
}

/*
** /proc/vmallocinfo.  Addresses print as %pK does for a reader with
** CAP_SYSLOG under kptr_restrict=1: the real ones, 0x and 16 digits.
*/
void vmallocinfo_show(memlab_machine *m, struct strbuf *sb)
{
	for_each_listed_area(m, show_area, sb);
}

/* ===================== the checker ===================== */

struct span {
	uint64_t start, end;
	const char *what;
};

struct vcheck {
	struct ml_check c;
	memlab_machine *m;
	struct vmalloc_state *vs;
	struct span *spans;
	size_t nr, cap;
	uint64_t nr_tables;
};

static void add_span(struct vcheck *vc, const struct vmap_area *va, const char *what)
{
	if (vc->nr < vc->cap)
		vc->spans[vc->nr] = (struct span){ va->va_start, va->va_end, what };
	vc->nr++;
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
** Every byte of the KVA [1, ULONG_MAX) is in exactly one area: free, busy,
** lazily freed or pooled.  A gap is address space lost, an overlap two
** owners of the same addresses.
*/
static void check_tiling(struct vcheck *vc)
{
	uint64_t at = 1;

	qsort(vc->spans, vc->nr, sizeof(*vc->spans), cmp_span);
	for (size_t i = 0; i < vc->nr; i++) {
		const struct span *s = &vc->spans[i];

		if (s->start != at)
			ml_violation(&vc->c, "vmalloc: %s area 0x%" PRIx64 "-0x%" PRIx64 " %s 0x%" PRIx64,
				     s->what, s->start, s->end,
				     s->start > at ? "leaves a gap from" : "overlaps what ends at", at);
		if (s->end > at)
			at = s->end;
	}
	if (at != UINT64_MAX)
		ml_violation(&vc->c, "vmalloc: the areas end at 0x%" PRIx64 ", not ULONG_MAX", at);
}

/* A tree by address: red-black, sorted, no overlap; each area counted. */
static void check_addr_tree(struct vcheck *vc, const struct rb_root *root, const char *what)
{
	uint64_t prev_end = 0;

	if (rb_validate(root))
		ml_violation(&vc->c, "vmalloc: the %s tree breaks the red-black rules", what);
	for (struct rb_node *n = rb_first(root); n; n = rb_next(n)) {
		const struct vmap_area *va = rb_va(n);

		if (va->va_start >= va->va_end || va->va_start < prev_end)
			ml_violation(&vc->c, "vmalloc: %s area 0x%" PRIx64 "-0x%" PRIx64
				     " out of order or empty", what, va->va_start, va->va_end);
		prev_end = va->va_end;
		add_span(vc, va, what);
	}
}

/* The free tree: each subtree's largest size right, neighbours merged. */
static void check_free_tree(struct vcheck *vc)
{
	const struct vmap_area *prev = NULL;

	check_addr_tree(vc, &vc->vs->free, "free");
	for (struct rb_node *n = rb_first(&vc->vs->free); n; n = rb_next(n)) {
		const struct vmap_area *va = rb_va(n);

		if (va->subtree_max_size != compute_subtree_max(va))
			ml_violation(&vc->c, "vmalloc: free area 0x%" PRIx64 " has subtree_max_size %"
				     PRIu64 ", its subtree %" PRIu64, va->va_start,
				     va->subtree_max_size, compute_subtree_max(va));
		if (prev && prev->va_end == va->va_start)
			ml_violation(&vc->c, "vmalloc: free areas at 0x%" PRIx64 " and 0x%" PRIx64
				     " touch but were not merged", prev->va_start, va->va_start);
		prev = va;
	}
}

/* The frame init_mm maps at addr, PFN_INVALID for none. */
static uint64_t mapped_pfn(struct vcheck *vc, uint64_t addr)
{
	uint64_t pfn;

	return vmalloc_to_pfn(vc->m, addr, &pfn) ? PFN_INVALID : pfn;
}

static bool frame_allocated(const memlab_machine *m, uint64_t pfn)
{
	const struct page *page = &m->mem_map[pfn];

	return pfn < m->nr_frames && page->_refcount > 0 && !(page->flags & PG_buddy);
}

/* A busy area: in the range, its vm_struct agreeing, its pages mapped, its guard not. */
static void check_busy_area(struct vcheck *vc, const struct vmap_area *va, uint64_t *nr_pages)
{
	memlab_machine *m = vc->m;
	const struct vm_struct *vm = va->vm;
	uint64_t size;

	if (va->va_start < vmalloc_start(m) || va->va_end > vmalloc_end(m))
		ml_violation(&vc->c, "vmalloc: area 0x%" PRIx64 "-0x%" PRIx64
			     " outside the vmalloc range", va->va_start, va->va_end);
	if (!vm)
		return;
	if (vm->addr != va->va_start || vm->size != va_size(va))
		ml_violation(&vc->c, "vmalloc: area 0x%" PRIx64 "'s vm_struct says 0x%" PRIx64
			     " size %" PRIu64, va->va_start, vm->addr, vm->size);
	size = get_vm_area_size(m, vm);
	if (!(vm->flags & VM_NO_GUARD) && mapped_pfn(vc, va->va_end - m->page_size) != PFN_INVALID)
		ml_violation(&vc->c, "vmalloc: the guard page of 0x%" PRIx64 " is mapped",
			     va->va_start);
	if ((vm->flags & VM_ALLOC) && vm->nr_pages != size >> m->page_shift)
		ml_violation(&vc->c, "vmalloc: area 0x%" PRIx64 " has %u pages for %" PRIu64
			     " bytes", va->va_start, vm->nr_pages, size);
	for (uint64_t off = 0; off < size; off += m->page_size) {
		uint64_t pfn = mapped_pfn(vc, va->va_start + off), i = off >> m->page_shift;

		if (pfn == PFN_INVALID)
			ml_violation(&vc->c, "vmalloc: 0x%" PRIx64 " of a live area is not mapped",
				     va->va_start + off);
		else if ((vm->flags & VM_ALLOC) && i < vm->nr_pages &&
			 (pfn != vm->pages[i] || !frame_allocated(m, pfn)))
			ml_violation(&vc->c, "vmalloc: 0x%" PRIx64 " maps pfn %#" PRIx64 ", its page %"
				     PRIu64 " is pfn %#" PRIx64 " (%s)", va->va_start + off, pfn, i,
				     vm->pages[i], frame_allocated(m, pfn) ? "allocated" : "free");
	}
	if (!(vm->flags & VM_MAP_PUT_PAGES))
		*nr_pages += vm->nr_pages;
}

/* A freed area (lazy or pooled): nothing of it mapped any more. */
static void check_unmapped(struct vcheck *vc, const struct vmap_area *va, const char *what)
{
	for (uint64_t a = va->va_start; a < va->va_end; a += vc->m->page_size)
		if (mapped_pfn(vc, a) != PFN_INVALID) {
			ml_violation(&vc->c, "vmalloc: %s area 0x%" PRIx64 " still maps 0x%" PRIx64,
				     what, va->va_start, a);
			return;
		}
}

static void check_node(struct vcheck *vc, unsigned id, uint64_t *nr_pages, uint64_t *nr_lazy)
{
	struct vmalloc_state *vs = vc->vs;
	struct vmap_node *vn = &vs->nodes[id];

	check_addr_tree(vc, &vn->busy, "busy");
	check_addr_tree(vc, &vn->lazy, "lazy");
	for (struct rb_node *n = rb_first(&vn->busy); n; n = rb_next(n)) {
		if (addr_to_node_id(vs, rb_va(n)->va_start) != id)
			ml_violation(&vc->c, "vmalloc: busy area 0x%" PRIx64 " in node %u",
				     rb_va(n)->va_start, id);
		check_busy_area(vc, rb_va(n), nr_pages);
	}
	for (struct rb_node *n = rb_first(&vn->lazy); n; n = rb_next(n)) {
		check_unmapped(vc, rb_va(n), "lazily freed");
		*nr_lazy += va_size(rb_va(n)) >> vc->m->page_shift;
	}
	for (unsigned p = 0; p < MAX_VA_SIZE_PAGES; p++) {
		uint64_t len = 0;

		for (struct va_link *l = vn->pool[p].head.next; l != &vn->pool[p].head; l = l->next) {
			const struct vmap_area *va = list_va(l);

			if (va_size(va) != ((uint64_t)p + 1) << vc->m->page_shift)
				ml_violation(&vc->c, "vmalloc: a %" PRIu64 "-byte area in pool %u",
					     va_size(va), p);
			check_unmapped(vc, va, "pooled");
			add_span(vc, va, "pooled");
			len++;
		}
		if (len != vn->pool[p].len)
			ml_violation(&vc->c, "vmalloc: node %u pool %u holds %" PRIu64 ", len says %"
				     PRIu64, id, p, len, vn->pool[p].len);
	}
}

/* init_mm's tables below table (a level's): counted, allocated frames. */
static void count_tables(struct vcheck *vc, uint64_t table, unsigned level)
{
	memlab_machine *m = vc->m;
	const struct pt_format *f = &vc->vs->init_mm.pt;

	if (!frame_allocated(m, table)) {
		ml_violation(&vc->c, "vmalloc: kernel page table pfn %#" PRIx64 " is not allocated",
			     table);
		return;
	}
	for (uint64_t i = 0; level && i < pt_ptrs(f, level); i++) {
		uint64_t e = pt_read(m, table, i);

		if (!pt_entry_is_table(f, level, e))
			continue;
		vc->nr_tables++;
		if (pt_entry_pfn(f, level, e) < m->nr_frames)
			count_tables(vc, pt_entry_pfn(f, level, e), level - 1);
	}
}

static uint64_t count_tree(const struct rb_root *root)
{
	uint64_t n = 0;

	for (struct rb_node *x = rb_first(root); x; x = rb_next(x))
		n++;
	return n;
}

/* The areas the checker will collect: free, busy, lazy and pooled. */
static size_t count_areas(const struct vmalloc_state *vs)
{
	uint64_t n = count_tree(&vs->free);

	for (unsigned i = 0; i < vs->nr_nodes; i++) {
		n += count_tree(&vs->nodes[i].busy) + count_tree(&vs->nodes[i].lazy);
		for (unsigned p = 0; p < MAX_VA_SIZE_PAGES; p++)
			n += vs->nodes[i].pool[p].len;
	}
	return (size_t)n;
}

/* NR_PAGETABLE: every mm's tables (its PGD with them, if a page's) and init_mm's. */
static void check_nr_pagetable(struct vcheck *vc)
{
	memlab_machine *m = vc->m;
	uint64_t bytes = vc->vs->init_mm.pgtables_bytes;
	memlab_task *t;

	for_each_mm_task(m, t)
		bytes += t->mm->pgtables_bytes +
			 (pgd_is_pagetable(m, &t->mm->pt) ? m->page_size : 0);
	if (bytes >> m->page_shift != m->vmstat[NR_PAGE_TABLE_PAGES])
		ml_violation(&vc->c, "vmalloc: PageTables is %" PRIu64 " pages, the mms and init_mm"
			     " hold %" PRIu64, m->vmstat[NR_PAGE_TABLE_PAGES], bytes >> m->page_shift);
}

/*
** memlab_check's part for vmalloc: the trees and pools, the address
** space tiled, every live area mapped to allocated frames and every freed
** one unmapped, VmallocUsed and the lazy count equal to what the areas
** hold, and init_mm's tables allocated and counted.
*/
int vmalloc_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct vcheck vc = { { fn, ud, 0 }, m, m->vmalloc, NULL, 0, 0, 0 };
	uint64_t nr_pages = 0, nr_lazy = 0;

	if (!vc.vs)
		return 0;
	vc.cap = count_areas(vc.vs);
	vc.spans = ml_alloc(m, (vc.cap + 1) * sizeof(*vc.spans));
	check_free_tree(&vc);
	for (unsigned i = 0; i < vc.vs->nr_nodes; i++)
		check_node(&vc, i, &nr_pages, &nr_lazy);
	if (vc.spans && vc.nr <= vc.cap) {
		vc.nr = vc.nr < vc.cap ? vc.nr : vc.cap;
		check_tiling(&vc);
	}
	ml_free(m, vc.spans, (vc.cap + 1) * sizeof(*vc.spans));
	if (nr_pages != vc.vs->nr_vmalloc_pages)
		ml_violation(&vc.c, "vmalloc: VmallocUsed is %" PRIu64 " pages, the areas hold %" PRIu64,
			     vc.vs->nr_vmalloc_pages, nr_pages);
	if (nr_lazy != vc.vs->vmap_lazy_nr)
		ml_violation(&vc.c, "vmalloc: vmap_lazy_nr is %" PRIu64 ", the lazy areas hold %"
			     PRIu64, vc.vs->vmap_lazy_nr, nr_lazy);
	if (vc.vs->init_mm.pt.levels) {
		count_tables(&vc, vc.vs->init_mm.pgd, vc.vs->init_mm.pt.levels - 1);
		if (vc.nr_tables != vc.vs->init_mm.pgtables_bytes >> m->page_shift)
			ml_violation(&vc.c, "vmalloc: init_mm has %" PRIu64 " page tables, %" PRIu64
				     " accounted", vc.nr_tables,
				     vc.vs->init_mm.pgtables_bytes >> m->page_shift);
	}
	check_nr_pagetable(&vc);
	return vc.c.count;
}
