/*
** memcontrol.c -- the memory controller of cgroup v2, as mm/memcontrol.c
** and mm/page_counter.c (Linux 6.18) charge, limit and report.
**
** The cgroups form a tree under the root ("/"); every task is in one, a
** fork child in its parent's.  A user page -- anonymous, page cache,
** shmem, swap-in -- is charged when it is allocated to the memcg of the
** mm it is for (mm->owner's cgroup; the current task's for page cache),
** and uncharged when it is freed; a page-table page is kernel memory of
** the current task's memcg, charged unless that is the root.  Charges
** go up the tree (page_counter): memory.current counts a cgroup and its
** descendants.  The root has no limit and no counter (its memory.stat
** still counts every charged page).
**
** A charge first takes from the CPU's stock; else it charges a batch of
** MEMCG_CHARGE_BATCH pages and keeps the rest in the stock (so that
** memory.current runs up to 63 pages ahead of the pages charged, as on
** the host).  At memory.max it reclaims from the cgroup that hit its
** limit (try_to_free_mem_cgroup_pages: the LRU lists of that subtree),
** drains the stocks, retries MAX_RECLAIM_RETRIES times, then runs the
** cgroup's OOM killer, which chooses among its tasks (oom_kill.c), and
** retries after a kill -- inside the charge, as Linux: a fault's, the
** page cache's of read(2), a page table's of fork or mremap alike.
** Above memory.high the task reclaims the excess when it returns to
** user space.
**
** Each memcg has its own LRU lists (a lruvec on the one node); reclaim
** walks the memcgs of the subtree it targets (vmscan.c).
**
** memory.min and memory.low protect a cgroup from reclaim of an
** ancestor's subtree (or the node's): below its effective min it is
** passed by; below its effective low too, unless nothing else could be
** reclaimed (then memory.events counts low); above them it is scanned in
** proportion to its unprotected share.
**
** The swap controller: a page going to swap charges its slot to the
** memcg's swap counter (memory.swap.*), up the tree, until the slot is
** freed; the slot remembers the memcg (swap_cgroup), and a swap-in is
** charged back to it while it is online.
**
** The memory controller is on in every cgroup, as if each parent had
** "+memory" in cgroup.subtree_control while it has children; so the
** no-internal-process rule holds: a non-root cgroup with children takes
** no tasks, one with tasks gets no children (EBUSY).
**
** cgroup2's mount option memory_recursiveprot (memlab_config; fixed at
** boot, no remount) hands unclaimed protection down the tree.
**
** Simplified, and said so in the docs: no zswap;
** no throttling delay above memory.high or memory.swap.high (memlab has
** no clock: the reclaim is done, the sleep left out); statistics are
** exact at every read (Linux's rstat may lag by up to 64 updates per
** CPU); other CPUs' stocks are drained at once (Linux queues work on
** them); a removed cgroup's page tables keep it until they are freed
** (Linux hands kernel memory to the parent).
**
** Files can be held open (memlab_cgroup_open: kernfs_open_file);
** memory.peak and memory.swap.peak keep a peak per fd, as 6.12+ does: a
** write resets the counter's local watermark, and the fd then reads the
** highest usage since (peak_write below).  rmdir drains the open files:
** reads and writes through them fail with ENODEV.
*/
#include <stdio.h>
#include <string.h>

#include "mm.h"
#include "vmstat.h"

#define SWAP_CLUSTER_MAX	32
#define MEMCG_NAME_MAX		255

/* ===================== ids and the tree ===================== */

struct mem_cgroup *mem_cgroup_from_id(const memlab_machine *m, unsigned id)
{
	return id && id < m->memcg_idr_size ? m->memcg_idr[id] : NULL;
}

/* folio_memcg(): the memcg the page is charged to, NULL if none. */
struct mem_cgroup *page_memcg(const memlab_machine *m, const struct page *page)
{
	return mem_cgroup_from_id(m, page->memcg_id);
}

/* folio_lruvec(): the lists of the page's memcg (an uncharged page: the root's). */
struct lruvec *folio_lruvec(const memlab_machine *m, const struct page *page)
{
	struct mem_cgroup *memcg = page_memcg(m, page);

	return &(memcg ? memcg : m->root_mem_cgroup)->lruvec;
}

struct mem_cgroup *lruvec_memcg(struct lruvec *lruvec)
{
	return (struct mem_cgroup *)((char *)lruvec - offsetof(struct mem_cgroup, lruvec));
}

/* get_mem_cgroup_from_mm(): the cgroup of mm's owner; mm NULL: the current task's. */
struct mem_cgroup *get_mem_cgroup_from_mm(const memlab_machine *m, const struct mm_struct *mm)
{
	if (!mm && m->current)
		mm = m->current->mm;
	if (mm && mm->owner && mm->owner->memcg)
		return mm->owner->memcg;
	return m->root_mem_cgroup;
}

bool mem_cgroup_is_descendant(const struct mem_cgroup *memcg, const struct mem_cgroup *root)
{
	for (; memcg; memcg = memcg->parent)
		if (memcg == root)
			return true;
	return false;
}

/* css_next_descendant_pre() (kernel/cgroup/cgroup.c): the pre-order successor of pos under root. */
static struct mem_cgroup *next_descendant_pre(struct mem_cgroup *pos, struct mem_cgroup *root)
{
	if (!pos)
		return root;
	if (pos->children)
		return pos->children;
	for (; pos != root; pos = pos->parent)
		if (pos->sibling)
			return pos->sibling;
	return NULL;
}

/*
** mem_cgroup_iter(): root's subtree in pre-order (root NULL: every
** memcg), one per call, NULL after the last.  Reclaim's partial walks
** resume where the last one stopped (mem_cgroup_reclaim_iter) through
** root->reclaim_pos, which the caller saves.
*/
struct mem_cgroup *mem_cgroup_iter(memlab_machine *m, struct mem_cgroup *root,
				   struct mem_cgroup *prev)
{
	if (!root)
		root = m->root_mem_cgroup;
	return prev ? next_descendant_pre(prev, root) : root;
}

/*
** xa_alloc() of mem_cgroup_alloc(): the lowest free id in 1..65535; a
** freed memcg's id is used again (a shadow entry may then name the new
** memcg, as Linux accepts).  -MEMLAB_EBUSY when every id is taken.
*/
static int memcg_alloc_id(memlab_machine *m, struct mem_cgroup *memcg)
{
	unsigned id = 1;

	while (id < m->memcg_idr_size && m->memcg_idr[id])
		id++;
	if (id > MEM_CGROUP_ID_MAX)
		return -MEMLAB_EBUSY;
	if (id >= m->memcg_idr_size) {
		unsigned size = m->memcg_idr_size ? m->memcg_idr_size * 2 : 64;
		struct mem_cgroup **idr = ml_grow(m, m->memcg_idr, m->memcg_idr_size, size,
						  sizeof(*idr));

		if (!idr)
			return -MEMLAB_ENOMEM;
		m->memcg_idr = idr;
		m->memcg_idr_size = size;
	}
	memcg->id = id;
	m->memcg_idr[id] = memcg;
	return 0;
}

static void lruvec_init(struct lruvec *l)
{
	for (int i = 0; i < NR_LRU_LISTS; i++)
		l->lists[i].head = l->lists[i].tail = PFN_NONE;
}

static struct mem_cgroup *mem_cgroup_alloc(memlab_machine *m, struct mem_cgroup *parent,
					   const char *name, size_t len, int *err)
{
	struct mem_cgroup *memcg = ml_alloc(m, sizeof(*memcg));

	*err = -MEMLAB_ENOMEM;
	if (!memcg)
		return NULL;
	memcg->name = ml_alloc(m, len + 1);
	if (!memcg->name || (*err = memcg_alloc_id(m, memcg))) {
		ml_free(m, memcg->name, len + 1);
		ml_free(m, memcg, sizeof(*memcg));
		return NULL;
	}
	memcpy(memcg->name, name, len);
	memcg->online = true;
	memcg->parent = parent;
	memcg->memory.parent = parent ? &parent->memory : NULL;
	memcg->memory.high = memcg->memory.max = PAGE_COUNTER_MAX(m);
	memcg->swap.parent = parent ? &parent->swap : NULL;
	memcg->swap.high = memcg->swap.max = PAGE_COUNTER_MAX(m);
	lruvec_init(&memcg->lruvec);
	if (parent) {			/* list_add_tail to the parent's children */
		struct mem_cgroup **pp = &parent->children;

		while (*pp)
			pp = &(*pp)->sibling;
		*pp = memcg;
	}
	return memcg;
}

/*
** mem_cgroup_css_free(): no walk may resume at it, no CPU's stock names it
** (its slots hold no pages by now), its statistics stay counted in its
** parent's (stat_dead), and its id is free again.
*/
static void mem_cgroup_free(memlab_machine *m, struct mem_cgroup *memcg)
{
	struct mem_cgroup **pp = &memcg->parent->children;

	while (*pp != memcg)
		pp = &(*pp)->sibling;
	*pp = memcg->sibling;
	for (struct mem_cgroup *c = memcg->parent; c; c = c->parent)
		if (c->reclaim_pos == memcg)
			c->reclaim_pos = NULL;
	for (int cpu = 0; cpu < MEMLAB_MAX_CPUS; cpu++) {
		for (int i = 0; i < NR_MEMCG_STOCK; i++)
			if (m->memcg_stock[cpu].cached[i] == memcg)
				m->memcg_stock[cpu].cached[i] = NULL;
		if (m->obj_stock[cpu].cached == memcg) {	/* no bytes by now; statistics may wait */
			struct obj_stock_pcp *stock = &m->obj_stock[cpu];

			mod_memcg_state(memcg, NR_SLAB_RECLAIMABLE, stock->nr_slab_reclaimable_b);
			mod_memcg_state(memcg, NR_SLAB_UNRECLAIMABLE, stock->nr_slab_unreclaimable_b);
			stock->nr_slab_reclaimable_b = stock->nr_slab_unreclaimable_b = 0;
			stock->cached = NULL;
		}
	}
	for (int i = 0; i < MEMCG_NR_STAT; i++)
		memcg->parent->stat_dead[i] += memcg->stat[i];
	m->memcg_idr[memcg->id] = NULL;
	ml_free(m, memcg->name, strlen(memcg->name) + 1);
	ml_free(m, memcg, sizeof(*memcg));
}

/* A dying memcg nothing is charged to any more: nothing holds it. */
static bool mem_cgroup_unused(const struct mem_cgroup *memcg)
{
	return !memcg->online && !memcg->memory.usage && !memcg->children &&
	       !memcg->stat_local[MEMCG_KMEM] && !memcg->stat_local[MEMCG_SWAP] &&
	       !memcg->nr_objs && !memcg->nr_charged_bytes;
}

/*
** A removed cgroup lives on while pages are charged to it (a "dying"
** memcg, still reclaimed).  When its last charge goes it is only noted:
** the charge may go in the middle of a reclaim walk that holds it, as
** Linux's walk holds a css reference.  memcg_reap() frees it -- and a
** dying parent it was the last child of -- when the outermost call
** returns.
*/
static void mem_cgroup_maybe_free(memlab_machine *m, struct mem_cgroup *memcg)
{
	if (memcg && mem_cgroup_unused(memcg))
		m->memcg_reap_pending = true;
}

void memcg_reap(memlab_machine *m)
{
	bool freed;

	m->memcg_reap_pending = false;
	do {
		freed = false;
		for (unsigned id = 2; id < m->memcg_idr_size; id++) {
			struct mem_cgroup *memcg = m->memcg_idr[id];

			if (memcg && mem_cgroup_unused(memcg)) {
				mem_cgroup_free(m, memcg);
				freed = true;
			}
		}
	} while (freed);
}

int memcg_init(memlab_machine *m)
{
	int err;

	m->memcg_stock = ml_alloc(m, MEMLAB_MAX_CPUS * sizeof(*m->memcg_stock));
	m->obj_stock = ml_alloc(m, MEMLAB_MAX_CPUS * sizeof(*m->obj_stock));
	if (!m->memcg_stock || !m->obj_stock)
		return -MEMLAB_ENOMEM;
	m->root_mem_cgroup = mem_cgroup_alloc(m, NULL, "", 0, &err);
	return m->root_mem_cgroup ? 0 : err;
}

void memcg_destroy(memlab_machine *m)
{
	for (unsigned id = m->memcg_idr_size; id-- > 1;) {
		struct mem_cgroup *memcg = m->memcg_idr[id];

		if (!memcg)
			continue;
		ml_free(m, memcg->name, strlen(memcg->name) + 1);
		ml_free(m, memcg, sizeof(*memcg));
	}
	for (unsigned fd = 0; fd < m->nr_cgroup_ofs; fd++)	/* open files go with the machine */
		ml_free(m, m->cgroup_ofs[fd], sizeof(struct cgroup_of));
	ml_free(m, m->cgroup_ofs, m->nr_cgroup_ofs * sizeof(*m->cgroup_ofs));
	ml_free(m, m->memcg_idr, m->memcg_idr_size * sizeof(*m->memcg_idr));
	ml_free(m, m->memcg_stock, MEMLAB_MAX_CPUS * sizeof(*m->memcg_stock));
	ml_free(m, m->obj_stock, MEMLAB_MAX_CPUS * sizeof(*m->obj_stock));
	m->cgroup_ofs = NULL;
	m->nr_cgroup_ofs = 0;
	m->memcg_idr = NULL;
	m->memcg_stock = NULL;
	m->obj_stock = NULL;
	m->root_mem_cgroup = NULL;
}

/* The cgroup's path in buf, for reports ("?" when the host has no memory for it). */
void memcg_path_buf(const struct mem_cgroup *memcg, memlab_machine *m, char *buf, size_t size)
{
	struct strbuf sb;
	char *text = NULL;

	sb_init(&sb, m);
	memcg_path(memcg, &sb);
	snprintf(buf, size, "%s", sb_finish(&sb, &text, NULL) ? "?" : text);
	memlab_free_text(m, text);
}

/* The cgroup's path from the root: "/" or "/a/b". */
void memcg_path(const struct mem_cgroup *memcg, struct strbuf *sb)
{
	if (!memcg->parent) {
		sb_printf(sb, "/");
		return;
	}
	if (memcg->parent->parent)
		memcg_path(memcg->parent, sb);
	sb_printf(sb, "/%s", memcg->name);
}

/* ===================== page counters ===================== */

/*
** Both peaks follow a charge; as the global one is never below the
** local one (a reset lowers only the local one), it can only move when
** the local one does.
*/
static void propagate_watermark(struct page_counter *c)
{
	if (c->usage > c->local_watermark) {
		c->local_watermark = c->usage;
		if (c->usage > c->watermark)
			c->watermark = c->usage;
	}
}

/* page_counter_try_charge(): all or nothing up the tree; *fail: the counter at its max. */
static bool page_counter_try_charge(struct page_counter *counter, uint64_t nr,
				   struct page_counter **fail)
{
	struct page_counter *c;

	for (c = counter; c; c = c->parent) {
		if (c->usage + nr > c->max) {
			c->failcnt++;
			*fail = c;
			for (struct page_counter *u = counter; u != c; u = u->parent)
				u->usage -= nr;
			return false;
		}
		c->usage += nr;
		propagate_watermark(c);
	}
	return true;
}

static void page_counter_charge(struct page_counter *counter, uint64_t nr)
{
	for (struct page_counter *c = counter; c; c = c->parent) {
		c->usage += nr;
		propagate_watermark(c);
	}
}

static void page_counter_uncharge(struct page_counter *counter, uint64_t nr)
{
	for (struct page_counter *c = counter; c; c = c->parent)
		c->usage -= nr;
}

static struct mem_cgroup *memcg_of_counter(struct page_counter *c)
{
	return (struct mem_cgroup *)((char *)c - offsetof(struct mem_cgroup, memory));
}


/* mem_cgroup_margin(): how many pages memcg may still charge. */
static uint64_t mem_cgroup_margin(const struct mem_cgroup *memcg)
{
	return memcg->memory.usage < memcg->memory.max ?
	       memcg->memory.max - memcg->memory.usage : 0;
}

/* ===================== protection ===================== */

/*
** The floating protection of memory_recursiveprot: what the parent's
** effective protection has beyond the children's claims (unclaimed),
** shared in proportion to each child's usage above its own claim, so
** that unprotected siblings compete freely for it while the subtree as a
** whole keeps it against its neighbours.  Weighing by the unprotected
** usage protects no page twice.  Both usages are checked against the
** claims: the kernel reads them at different times, and so the division
** stays sane.  Floored, in 64-bit unsigned arithmetic as the kernel's
** unsigned long: a parent protected "max" (PAGE_COUNTER_MAX, LONG_MAX /
** PAGE_SIZE) wraps the product for a child with more than 2 * PAGE_SIZE
** unprotected pages (8192 with 4K pages), there too.
*/
static uint64_t unclaimed_protection(uint64_t usage, uint64_t protected, uint64_t parent_usage,
				     uint64_t parent_effective, uint64_t siblings_protected)
{
	if (parent_effective <= siblings_protected || parent_usage <= siblings_protected ||
	    usage <= protected)
		return 0;
	return (parent_effective - siblings_protected) * (usage - protected) /
	       (parent_usage - siblings_protected);
}

/*
** effective_protection() (mm/page_counter.c): a child's memory.min or
** memory.low as far as its parent's effective protection covers it --
** shared in proportion to use when the children claim more than the
** parent has.  Claimed and used protection within the parent's is the
** child's own; with memory_recursiveprot the rest of the parent's is
** handed down too.  Without it (the kernel's default mount; systemd
** mounts with it) a child without a setting of its own has none.
*/
static uint64_t effective_protection(uint64_t usage, uint64_t parent_usage, uint64_t setting,
				     uint64_t parent_effective, uint64_t siblings_protected,
				     bool recursive_protection)
{
	uint64_t protected = usage < setting ? usage : setting;

	if (siblings_protected > parent_effective)
		return protected * parent_effective / siblings_protected;
	if (!recursive_protection)
		return protected;
	return protected + unclaimed_protection(usage, protected, parent_usage, parent_effective,
						siblings_protected);
}

/* children_min_usage / children_low_usage: what the children use of their protection. */
static uint64_t children_protected(const struct mem_cgroup *parent, bool low)
{
	uint64_t sum = 0;

	for (const struct mem_cgroup *c = parent->children; c; c = c->sibling) {
		uint64_t setting = low ? c->memory.low : c->memory.min;

		sum += c->memory.usage < setting ? c->memory.usage : setting;
	}
	return sum;
}

/*
** mem_cgroup_calculate_protection() / page_counter_calculate_protection():
** memcg's emin and elow in a reclaim of target's subtree (NULL: the
** node's), computed top-down as the walk reaches it.  The target itself
** is not protected; its children have their own settings; deeper ones
** their share of their parent's (cgroup2's memory_recursiveprot says
** whether unclaimed protection is shared out too).
*/
void mem_cgroup_calculate_protection(memlab_machine *m, struct mem_cgroup *target,
				     struct mem_cgroup *memcg)
{
	struct page_counter *c = &memcg->memory, *parent = c->parent;
	bool recursive = m->memory_recursiveprot;

	if (!target)
		target = m->root_mem_cgroup;
	if (memcg == target || !c->usage)
		return;
	if (memcg->parent == target) {
		c->emin = c->min;
		c->elow = c->low;
		return;
	}
	c->emin = effective_protection(c->usage, parent->usage, c->min, parent->emin,
				       children_protected(memcg->parent, false), recursive);
	c->elow = effective_protection(c->usage, parent->usage, c->low, parent->elow,
				       children_protected(memcg->parent, true), recursive);
}

/* mem_cgroup_unprotected(): the root and the reclaim's target have no protection. */
static bool mem_cgroup_unprotected(memlab_machine *m, struct mem_cgroup *target,
				   struct mem_cgroup *memcg)
{
	return mem_cgroup_is_root(m, memcg) || memcg == target;
}

bool mem_cgroup_below_min(memlab_machine *m, struct mem_cgroup *target, struct mem_cgroup *memcg)
{
	return !mem_cgroup_unprotected(m, target, memcg) && memcg->memory.emin >= memcg->memory.usage;
}

bool mem_cgroup_below_low(memlab_machine *m, struct mem_cgroup *target, struct mem_cgroup *memcg)
{
	return !mem_cgroup_unprotected(m, target, memcg) && memcg->memory.elow >= memcg->memory.usage;
}

/* mem_cgroup_protection(): emin and elow for get_scan_count (none for the target). */
void mem_cgroup_protection(struct mem_cgroup *target, struct mem_cgroup *memcg, uint64_t *min,
			   uint64_t *low)
{
	*min = *low = 0;
	if (target == memcg)
		return;
	*min = memcg->memory.emin;
	*low = memcg->memory.elow;
}

/* ===================== statistics and events ===================== */

void mod_memcg_state(struct mem_cgroup *memcg, int item, int64_t d)
{
	if (!memcg)
		return;
	memcg->stat_local[item] += d;
	for (; memcg; memcg = memcg->parent)
		memcg->stat[item] += d;
}

void count_memcg_events(struct mem_cgroup *memcg, int item, uint64_t n)
{
	mod_memcg_state(memcg, item, (int64_t)n);
}

/* __lruvec_stat_mod_folio(): the node's counter and the page's memcg's. */
void mod_lruvec_page_state(memlab_machine *m, const struct page *page, int item, int64_t d)
{
	m->vmstat[item] += (uint64_t)d;
	mod_memcg_state(page_memcg(m, page), item, d);
}

/* count_vm_events() with count_memcg_folio_events(). */
void count_vm_events_page(memlab_machine *m, const struct page *page, int item, uint64_t n)
{
	m->vmstat[item] += n;
	count_memcg_events(page_memcg(m, page), item, n);
}

/* count_vm_events() with count_memcg_events_mm(). */
void count_vm_events_mm(memlab_machine *m, const struct mm_struct *mm, int item, uint64_t n)
{
	m->vmstat[item] += n;
	count_memcg_events(get_mem_cgroup_from_mm(m, mm), item, n);
}

/* memcg_memory_event(): the cgroup's .local count, and every non-root ancestor's. */
void memcg_memory_event(struct mem_cgroup *memcg, enum memcg_memory_event event)
{
	memcg->events_local[event]++;
	for (; memcg && memcg->parent; memcg = memcg->parent)
		memcg->events[event]++;
}

/* mem_cgroup_get_max(): the OOM killer's scale -- max plus the swap it could use. */
uint64_t mem_cgroup_get_max(const memlab_machine *m, const struct mem_cgroup *memcg)
{
	uint64_t max = memcg->memory.max, swap = m->swap ? m->swap->pages : 0;

	if (memcg->swap.max < swap)
		swap = memcg->swap.max;
	return m->swappiness ? max + swap : max;
}

/* ===================== the per-CPU stock ===================== */

static struct memcg_stock_pcp *this_cpu_stock(memlab_machine *m)
{
	return &m->memcg_stock[smp_processor_id(m)];
}

/* consume_stock() */
static bool consume_stock(memlab_machine *m, struct mem_cgroup *memcg, uint64_t nr_pages)
{
	struct memcg_stock_pcp *stock = this_cpu_stock(m);

	if (nr_pages > MEMCG_CHARGE_BATCH)
		return false;
	for (int i = 0; i < NR_MEMCG_STOCK; i++) {
		if (stock->cached[i] != memcg)
			continue;
		if (stock->nr_pages[i] < nr_pages)
			return false;
		stock->nr_pages[i] -= (uint8_t)nr_pages;
		return true;
	}
	return false;
}

static void drain_stock(memlab_machine *m, struct memcg_stock_pcp *stock, int i)
{
	struct mem_cgroup *old = stock->cached[i];

	if (!old)
		return;
	stock->cached[i] = NULL;
	if (stock->nr_pages[i]) {
		page_counter_uncharge(&old->memory, stock->nr_pages[i]);
		stock->nr_pages[i] = 0;
		mem_cgroup_maybe_free(m, old);
	}
}

/* refill_stock(): keep nr_pages charged ahead for memcg on this CPU. */
static void refill_stock(memlab_machine *m, struct mem_cgroup *memcg, uint64_t nr_pages)
{
	struct memcg_stock_pcp *stock = this_cpu_stock(m);
	int i, empty = -1;

	if (nr_pages > MEMCG_CHARGE_BATCH) {
		page_counter_uncharge(&memcg->memory, nr_pages);
		return;
	}
	for (i = 0; i < NR_MEMCG_STOCK; i++) {
		if (!stock->cached[i] && empty < 0)
			empty = i;
		if (stock->cached[i] == memcg) {
			stock->nr_pages[i] += (uint8_t)nr_pages;
			if (stock->nr_pages[i] > MEMCG_CHARGE_BATCH)
				drain_stock(m, stock, i);
			return;
		}
	}
	if ((i = empty) < 0) {		/* get_random_u32_below(NR_MEMCG_STOCK), seeded */
		i = (int)(rng_next(&m->rng) % NR_MEMCG_STOCK);
		drain_stock(m, stock, i);
	}
	stock->cached[i] = memcg;
	stock->nr_pages[i] = (uint8_t)nr_pages;
}

/* ===================== kernel objects: obj_cgroup ===================== */

static int try_charge_memcg(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			    uint64_t nr_pages);

/*
** Slab objects are charged in bytes (mm/memcontrol.c obj_cgroup_charge,
** 6.18): whole pages go to the memcg as kernel memory (MEMCG_KMEM), what
** the object leaves of its last page stays charged ahead in the CPU's obj
** stock -- one memcg at a time -- and goes to the memcg's
** nr_charged_bytes when the stock takes another memcg.  memory.stat's
** slab_(un)reclaimable count the objects' bytes, batched in the stock
** until they pass a page.  memlab's obj_cgroup is the memcg itself: a
** removed cgroup keeps its objects' charges (Linux moves them to its
** parent's obj_cgroup) and lives on, dying, while they do.
*/

/* obj_cgroup_charge_pages() */
static int obj_charge_pages(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			    uint64_t nr_pages)
{
	int err = try_charge_memcg(m, memcg, gfp, nr_pages);

	if (err)
		return err;
	mod_memcg_state(memcg, MEMCG_KMEM, (int64_t)nr_pages);
	memcg->obj_pages += nr_pages;
	return 0;
}

/* obj_cgroup_uncharge_pages(): back into the CPU's page stock. */
static void obj_uncharge_pages(memlab_machine *m, struct mem_cgroup *memcg, uint64_t nr_pages)
{
	mod_memcg_state(memcg, MEMCG_KMEM, -(int64_t)nr_pages);
	memcg->obj_pages -= nr_pages;
	if (memcg->online) {
		refill_stock(m, memcg, nr_pages);
	} else {
		page_counter_uncharge(&memcg->memory, nr_pages);
		mem_cgroup_maybe_free(m, memcg);
	}
}

/* memcg_uncharge_kmem(): straight off the page counter (a stock being drained). */
static void memcg_uncharge_kmem(memlab_machine *m, struct mem_cgroup *memcg, uint64_t nr_pages)
{
	mod_memcg_state(memcg, MEMCG_KMEM, -(int64_t)nr_pages);
	memcg->obj_pages -= nr_pages;
	page_counter_uncharge(&memcg->memory, nr_pages);
	mem_cgroup_maybe_free(m, memcg);
}

/*
** A dying memcg with no objects left: nr_charged_bytes is whole pages by
** now, which obj_cgroup_release() gives back.
*/
static void obj_cgroup_release(memlab_machine *m, struct mem_cgroup *memcg)
{
	uint64_t nr_pages = memcg->nr_charged_bytes >> m->page_shift;

	if (memcg->online || memcg->nr_objs)
		return;
	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++)
		if (m->obj_stock[cpu].cached == memcg)
			return;
	memcg->nr_charged_bytes &= m->page_size - 1;
	if (nr_pages)
		memcg_uncharge_kmem(m, memcg, nr_pages);
}

/* drain_obj_stock(): whole pages uncharged, the rest to nr_charged_bytes, the statistics flushed. */
static void drain_obj_stock(memlab_machine *m, struct obj_stock_pcp *stock)
{
	struct mem_cgroup *old = stock->cached;

	if (!old)
		return;
	if (stock->nr_bytes) {
		uint64_t nr_pages = stock->nr_bytes >> m->page_shift;

		if (nr_pages)
			memcg_uncharge_kmem(m, old, nr_pages);
		old->nr_charged_bytes += stock->nr_bytes & (m->page_size - 1);
		stock->nr_bytes = 0;
	}
	mod_memcg_state(old, NR_SLAB_RECLAIMABLE, stock->nr_slab_reclaimable_b);
	mod_memcg_state(old, NR_SLAB_UNRECLAIMABLE, stock->nr_slab_unreclaimable_b);
	stock->nr_slab_reclaimable_b = stock->nr_slab_unreclaimable_b = 0;
	stock->cached = NULL;
	obj_cgroup_release(m, old);
}

/* replace_stock_objcg(): the stock now holds memcg's bytes, nr_charged_bytes taken in. */
static void replace_stock_objcg(memlab_machine *m, struct obj_stock_pcp *stock,
				struct mem_cgroup *memcg)
{
	drain_obj_stock(m, stock);
	stock->nr_bytes = (unsigned)memcg->nr_charged_bytes;
	memcg->nr_charged_bytes = 0;
	stock->cached = memcg;
}

static struct obj_stock_pcp *this_cpu_obj_stock(memlab_machine *m)
{
	return &m->obj_stock[smp_processor_id(m)];
}

static bool consume_obj_stock(memlab_machine *m, struct mem_cgroup *memcg, unsigned nr_bytes)
{
	struct obj_stock_pcp *stock = this_cpu_obj_stock(m);

	if (stock->cached != memcg || stock->nr_bytes < nr_bytes)
		return false;
	stock->nr_bytes -= nr_bytes;
	return true;
}

/* refill_obj_stock(): over a page in the stock goes back when uncharging is allowed. */
static void refill_obj_stock(memlab_machine *m, struct mem_cgroup *memcg, unsigned nr_bytes,
			     bool allow_uncharge)
{
	struct obj_stock_pcp *stock = this_cpu_obj_stock(m);
	uint64_t nr_pages = 0;

	if (stock->cached != memcg) {
		replace_stock_objcg(m, stock, memcg);
		allow_uncharge = true;
	}
	stock->nr_bytes += nr_bytes;
	if (allow_uncharge && stock->nr_bytes > m->page_size) {
		nr_pages = stock->nr_bytes >> m->page_shift;
		stock->nr_bytes &= m->page_size - 1;
	}
	if (nr_pages)
		obj_uncharge_pages(m, memcg, nr_pages);
}

/*
** mod_objcg_state(): the slab bytes wait in the stock; an empty slot
** takes any amount once, a full one passes on what exceeds a page.
*/
static void mod_objcg_state(memlab_machine *m, struct mem_cgroup *memcg, int idx, int nr)
{
	struct obj_stock_pcp *stock = this_cpu_obj_stock(m);
	int *bytes;

	if (stock->cached != memcg)
		replace_stock_objcg(m, stock, memcg);
	bytes = idx == NR_SLAB_RECLAIMABLE ? &stock->nr_slab_reclaimable_b
					   : &stock->nr_slab_unreclaimable_b;
	if (!*bytes) {
		*bytes = nr;
		nr = 0;
	} else {
		*bytes += nr;
		if (*bytes > (int)m->page_size || *bytes < -(int)m->page_size) {
			nr = *bytes;
			*bytes = 0;
		} else {
			nr = 0;
		}
	}
	if (nr)
		mod_memcg_state(memcg, idx, nr);
}

/* obj_cgroup_charge(): from the stock, else whole pages with the rest kept in it. */
static int obj_cgroup_charge(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			     unsigned size)
{
	uint64_t nr_pages = size >> m->page_shift;
	unsigned nr_bytes = size & (m->page_size - 1);
	int err;

	if (consume_obj_stock(m, memcg, size))
		return 0;
	if (nr_bytes)
		nr_pages++;
	err = obj_charge_pages(m, memcg, gfp, nr_pages);
	if (!err)	/* even with no remainder: the stock is taken over (allow_uncharge) */
		refill_obj_stock(m, memcg, nr_bytes ? m->page_size - nr_bytes : 0, false);
	return err;
}

/*
** __memcg_slab_post_alloc_hook(): the current task's memcg (current_obj_cgroup;
** none for a kernel thread or the root) pays for the object.
*/
int memcg_slab_charge(memlab_machine *m, uint32_t gfp, unsigned size, int idx, unsigned *id)
{
	struct mem_cgroup *memcg = m->current ? m->current->memcg : NULL;
	int err;

	*id = 0;
	if (!memcg || mem_cgroup_is_root(m, memcg))
		return 0;
	err = obj_cgroup_charge(m, memcg, gfp, size);
	if (err)
		return err;
	mod_objcg_state(m, memcg, idx, (int)size);
	memcg->nr_objs++;
	*id = memcg->id;
	return 0;
}

/* __memcg_slab_free_hook() */
void memcg_slab_uncharge(memlab_machine *m, unsigned id, unsigned size, int idx)
{
	struct mem_cgroup *memcg = mem_cgroup_from_id(m, id);

	if (!memcg)
		return;
	memcg->nr_objs--;
	refill_obj_stock(m, memcg, size, true);
	mod_objcg_state(m, memcg, idx, -(int)size);
	obj_cgroup_release(m, memcg);
}

/* drain_all_stock(): every CPU gives back the charges it holds for root's subtree. */
static void drain_all_stock(memlab_machine *m, struct mem_cgroup *root)
{
	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++) {
		struct memcg_stock_pcp *stock = &m->memcg_stock[cpu];

		bool needed = false;

		for (int i = 0; i < NR_MEMCG_STOCK; i++)
			needed |= stock->nr_pages[i] && mem_cgroup_is_descendant(stock->cached[i], root);
		for (int i = 0; needed && i < NR_MEMCG_STOCK; i++)
			drain_stock(m, stock, i);	/* drain_stock_fully() */
		if (m->obj_stock[cpu].cached &&		/* obj_stock_flush_required() */
		    mem_cgroup_is_descendant(m->obj_stock[cpu].cached, root))
			drain_obj_stock(m, &m->obj_stock[cpu]);
	}
}

/* ===================== charging ===================== */

/* gfpflags_allow_blocking() (include/linux/gfp.h): may the charge reclaim? */
static bool gfp_allows_blocking(uint32_t gfp)
{
	return gfp & MEMLAB___GFP_DIRECT_RECLAIM;
}

/* reclaim_high(): each ancestor above its memory.high reclaims nr_pages. */
static uint64_t reclaim_high(memlab_machine *m, struct mem_cgroup *memcg, uint64_t nr_pages,
			     uint32_t gfp)
{
	uint64_t nr_reclaimed = 0;

	for (; memcg && memcg->parent; memcg = memcg->parent) {
		if (memcg->memory.usage <= memcg->memory.high)
			continue;
		memcg_memory_event(memcg, MEMCG_HIGH);
		nr_reclaimed += try_to_free_mem_cgroup_pages(m, memcg, nr_pages, gfp,
							     MEMCG_RECLAIM_MAY_SWAP, -1);
	}
	return nr_reclaimed;
}

#define HZ				250	/* CONFIG_HZ of Debian's kernels */
#define MEMCG_MAX_HIGH_DELAY_JIFFIES	(2 * HZ)
#define MEMCG_DELAY_PRECISION_SHIFT	20
#define MEMCG_DELAY_SCALING_SHIFT	14

/* calculate_overage(): how far usage is above high, as a fraction << 20. */
static uint64_t calculate_overage(uint64_t usage, uint64_t high)
{
	if (usage <= high)
		return 0;
	if (!high)
		high = 1;
	return ((usage - high) << MEMCG_DELAY_PRECISION_SHIFT) / high;
}

/*
** mem_find_max_overage() (memory) and swap_find_max_overage() (swap,
** counting memory.swap.events high for every ancestor above its swap.high).
*/
static uint64_t find_max_overage(struct mem_cgroup *memcg, bool swap)
{
	uint64_t max_overage = 0;

	for (; memcg && memcg->parent; memcg = memcg->parent) {
		struct page_counter *c = swap ? &memcg->swap : &memcg->memory;
		uint64_t overage = calculate_overage(c->usage, c->high);

		if (swap && overage)
			memcg_memory_event(memcg, MEMCG_SWAP_HIGH);
		if (overage > max_overage)
			max_overage = overage;
	}
	return max_overage;
}

/* calculate_high_delay(): the jiffies a task would sleep for nr_pages above high. */
static uint64_t calculate_high_delay(uint64_t nr_pages, uint64_t max_overage)
{
	uint64_t penalty;

	if (!max_overage)
		return 0;
	penalty = max_overage * max_overage * HZ;
	penalty >>= MEMCG_DELAY_PRECISION_SHIFT + MEMCG_DELAY_SCALING_SHIFT;
	return penalty * nr_pages / MEMCG_CHARGE_BATCH;
}

/*
** __mem_cgroup_handle_over_high(): on the way back to user space a task
** whose charges went above a memory.high reclaims what it charged; while
** the excess left is worth a sleep of over 10 ms, it reclaims again
** (SWAP_CLUSTER_MAX at a time) as long as that makes progress, or up to
** MAX_RECLAIM_RETRIES times; then Linux would sleep the penalty (at most
** 2 s) -- memlab has no clock, so that sleep is the one thing left out.
*/
static void handle_over_high(memlab_machine *m, struct mem_cgroup *memcg, uint64_t nr_pages,
			     uint32_t gfp)
{
	int nr_retries = MAX_RECLAIM_RETRIES;
	bool in_retry = false;

	for (;;) {
		uint64_t nr_reclaimed = reclaim_high(m, memcg, in_retry ? SWAP_CLUSTER_MAX : nr_pages,
						     gfp);
		uint64_t penalty = calculate_high_delay(nr_pages, find_max_overage(memcg, false)) +
				   calculate_high_delay(nr_pages, find_max_overage(memcg, true));

		if (penalty > MEMCG_MAX_HIGH_DELAY_JIFFIES)
			penalty = MEMCG_MAX_HIGH_DELAY_JIFFIES;
		if (penalty <= HZ / 100 || !(nr_reclaimed || nr_retries--))
			return;
		in_retry = true;
	}
}

void mem_cgroup_handle_over_high(struct memlab_task *t)
{
	uint64_t nr_pages = t->memcg_nr_pages_over_high;

	if (!nr_pages)
		return;
	t->memcg_nr_pages_over_high = 0;
	if (t->oom_victim)		/* task_is_dying() */
		return;
	handle_over_high(t->m, get_mem_cgroup_from_mm(t->m, t->mm), nr_pages,
			 MEMLAB_GFP_KERNEL);
}

/* After a charge: over a memory.high, the task owes reclaim (set_notify_resume). */
static void note_over_high(memlab_machine *m, struct mem_cgroup *memcg, uint64_t batch,
			   uint32_t gfp)
{
	memlab_task *cur = m->current;

	for (; memcg; memcg = memcg->parent) {
		bool mem_high = memcg->memory.usage > memcg->memory.high;
		bool swap_high = memcg->swap.usage > memcg->swap.high;

		if (!cur) {		/* !in_task(): the high_work item reclaims */
			if (!mem_high)
				continue;
			reclaim_high(m, memcg, MEMCG_CHARGE_BATCH, MEMLAB_GFP_KERNEL);
			return;
		}
		if (mem_high || swap_high) {
			cur->memcg_nr_pages_over_high += batch;
			break;
		}
	}
	if (cur && cur->memcg_nr_pages_over_high > MEMCG_CHARGE_BATCH && gfp_allows_blocking(gfp))
		mem_cgroup_handle_over_high(cur);
}

/*
** mem_cgroup_oom(): memcg is at its limit and reclaim gave up: its OOM
** killer, counted in memory.events oom (not for a costly order), run
** inside the charge as 6.18 does -- a fault's too: a victim other than
** the charging task has exited when it returns.  True: a victim was
** killed (or the charging task is already dying), so the charge may be
** retried.
*/
static bool mem_cgroup_oom(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			   uint64_t nr_pages)
{
	unsigned order = (unsigned)__builtin_ctzll(nr_pages);	/* get_order() */

	if (order > PAGE_ALLOC_COSTLY_ORDER)
		return false;
	memcg_memory_event(memcg, MEMCG_OOM);
	return mem_cgroup_out_of_memory(m, memcg, gfp, (int)order);
}

/*
** try_charge_memcg(): nr_pages for memcg, from the stock, or a batch up
** the tree; at a limit, reclaim from the cgroup over it and retry, then
** run its OOM killer (mem_cgroup_oom) and retry after a kill.  The
** charge fails with -MEMLAB_ENOMEM when the OOM killer may not run
** (costly order, the gfp forbids it), found nothing to kill, or chose
** the charging task itself (which then fails its charges to exit
** sooner).  __GFP_NOFAIL and __GFP_HIGH charges are forced past the limit.
*/
static int try_charge_memcg(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			    uint64_t nr_pages)
{
	uint64_t batch = nr_pages > MEMCG_CHARGE_BATCH ? nr_pages : MEMCG_CHARGE_BATCH;
	int nr_retries = MAX_RECLAIM_RETRIES;
	struct mem_cgroup *over;
	struct page_counter *counter;
	uint64_t nr_reclaimed;
	bool drained = false, raised_max_event = false, passed_oom = false;

retry:
	if (consume_stock(m, memcg, nr_pages))
		return 0;
	if (page_counter_try_charge(&memcg->memory, batch, &counter))
		goto done_restock;
	over = memcg_of_counter(counter);
	if (batch > nr_pages) {
		batch = nr_pages;
		goto retry;
	}
	if (!gfp_allows_blocking(gfp))
		goto nomem;
	memcg_memory_event(over, MEMCG_MAX);
	raised_max_event = true;
	nr_reclaimed = try_to_free_mem_cgroup_pages(m, over, nr_pages, gfp,
						    MEMCG_RECLAIM_MAY_SWAP, -1);
	if (mem_cgroup_margin(over) >= nr_pages)
		goto retry;
	if (!drained) {
		drain_all_stock(m, over);
		drained = true;
		goto retry;
	}
	if (gfp & MEMLAB___GFP_NORETRY)
		goto nomem;
	if (nr_reclaimed && nr_pages <= (1u << PAGE_ALLOC_COSTLY_ORDER))
		goto retry;
	if (nr_retries--)
		goto retry;
	if (gfp & MEMLAB___GFP_RETRY_MAYFAIL)
		goto nomem;
	if (passed_oom && task_is_dying(m))	/* bypassed by the OOM killer: no endless loop */
		goto nomem;
	if (mem_cgroup_oom(m, over, gfp, nr_pages)) {
		passed_oom = true;
		nr_retries = MAX_RECLAIM_RETRIES;
		goto retry;
	}
nomem:
	if (!(gfp & (MEMLAB___GFP_NOFAIL | MEMLAB___GFP_HIGH)))
		return -MEMLAB_ENOMEM;
	if (!raised_max_event)
		memcg_memory_event(over, MEMCG_MAX);
	page_counter_charge(&memcg->memory, nr_pages);
	return 0;

done_restock:
	if (batch > nr_pages)
		refill_stock(m, memcg, batch - nr_pages);
	note_over_high(m, memcg, batch, gfp);
	return 0;
}

static int try_charge(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
		      uint64_t nr_pages)
{
	return mem_cgroup_is_root(m, memcg) ? 0 : try_charge_memcg(m, memcg, gfp, nr_pages);
}

/*
** mem_cgroup_charge(): the new page at pfn (a huge page: all of it) for
** mm's cgroup -- the current task's when mm is NULL (page cache).  Its
** memcg is set (commit_charge) before it goes on an LRU list or is
** counted anywhere.  -MEMLAB_ENOMEM: nothing charged.
*/
int charge_memcg(memlab_machine *m, uint64_t pfn, struct mem_cgroup *memcg, uint32_t gfp)
{
	struct page *page = pfn_to_page(m, pfn);
	int err = try_charge(m, memcg, gfp, folio_nr_pages(page));

	if (!err)
		page->memcg_id = memcg->id;
	return err;
}

int mem_cgroup_charge(memlab_machine *m, uint64_t pfn, const struct mm_struct *mm, uint32_t gfp)
{
	return charge_memcg(m, pfn, get_mem_cgroup_from_mm(m, mm), gfp);
}

/* mem_cgroup_uncharge(): the freed page gives its charge back. */
void mem_cgroup_uncharge(memlab_machine *m, struct page *page)
{
	struct mem_cgroup *memcg = page_memcg(m, page);

	page->memcg_id = 0;
	if (!memcg || mem_cgroup_is_root(m, memcg))
		return;
	page_counter_uncharge(&memcg->memory, folio_nr_pages(page));
	mem_cgroup_maybe_free(m, memcg);
}

/* mem_cgroup_migrate(): the charge moves with the page's contents to its new frame. */
void mem_cgroup_migrate(memlab_machine *m, struct page *old, struct page *new)
{
	(void)m;
	new->memcg_id = old->memcg_id;
	old->memcg_id = 0;
}

/*
** __memcg_kmem_charge_page(): a page-table page is the current task's
** kernel memory (__GFP_ACCOUNT): charged to the task's own cgroup
** (current_obj_cgroup: not its mm owner's, which user pages are charged
** to), and counted as kernel, unless the task is in the root cgroup.
*/
int memcg_kmem_charge_page(memlab_machine *m, uint64_t pfn, unsigned order, uint32_t gfp)
{
	struct mem_cgroup *memcg = m->current && m->current->memcg ? m->current->memcg
								: get_mem_cgroup_from_mm(m, NULL);
	int err;

	if (mem_cgroup_is_root(m, memcg))
		return 0;
	if ((err = try_charge_memcg(m, memcg, gfp, 1ull << order)))
		return err;
	mod_memcg_state(memcg, MEMCG_KMEM, 1ll << order);
	pfn_to_page(m, pfn)->memcg_id = memcg->id;
	return 0;
}

void memcg_kmem_uncharge_page(memlab_machine *m, uint64_t pfn)
{
	struct page *page = pfn_to_page(m, pfn);
	struct mem_cgroup *memcg = page_memcg(m, page);
	uint64_t nr = folio_nr_pages(page);

	if (!memcg)
		return;
	page->memcg_id = 0;
	mod_memcg_state(memcg, MEMCG_KMEM, -(int64_t)nr);
	if (memcg->online)
		refill_stock(m, memcg, nr);	/* obj_cgroup_uncharge_pages() */
	else
		page_counter_uncharge(&memcg->memory, nr);
	mem_cgroup_maybe_free(m, memcg);
}

/* ===================== swap ===================== */

/*
** __mem_cgroup_try_charge_swap(): a page going to swap charges its slot
** to its memcg's swap counter, up the tree (not in the root), and *id
** records whose (swap_cgroup).  A removed memcg no swap entry holds any
** more has lost its id: the charge goes to the nearest ancestor that
** still has one (mem_cgroup_id_get_online).  At a memory.swap.max it
** fails: the page's memcg counts memory.swap.events max and fail, and the
** page stays in memory.
*/
int mem_cgroup_try_charge_swap(memlab_machine *m, const struct page *page, unsigned *id)
{
	struct mem_cgroup *memcg = page_memcg(m, page);
	struct page_counter *counter;

	*id = 0;
	if (!memcg)
		return 0;
	while (memcg->parent && !memcg->online && !memcg->stat_local[MEMCG_SWAP])
		memcg = memcg->parent;
	if (!mem_cgroup_is_root(m, memcg) && !page_counter_try_charge(&memcg->swap, 1, &counter)) {
		memcg_memory_event(memcg, MEMCG_SWAP_MAX);
		memcg_memory_event(memcg, MEMCG_SWAP_FAIL);
		return -MEMLAB_ENOMEM;
	}
	mod_memcg_state(memcg, MEMCG_SWAP, 1);
	*id = memcg->id;
	return 0;
}

/* __mem_cgroup_uncharge_swap(): a freed slot gives its charge back to the memcg id it recorded. */
void mem_cgroup_uncharge_swap(memlab_machine *m, unsigned id, uint64_t nr_pages)
{
	struct mem_cgroup *memcg = mem_cgroup_from_id(m, id);

	if (!memcg)
		return;
	if (!mem_cgroup_is_root(m, memcg))
		page_counter_uncharge(&memcg->swap, nr_pages);
	mod_memcg_state(memcg, MEMCG_SWAP, -(int64_t)nr_pages);
	mem_cgroup_maybe_free(m, memcg);
}

/* mem_cgroup_get_nr_swap_pages(): the free slots, as far as every ancestor's swap.max allows. */
int64_t mem_cgroup_get_nr_swap_pages(const memlab_machine *m, const struct mem_cgroup *memcg)
{
	int64_t nr = m->swap ? (int64_t)(m->swap->pages - m->swap->inuse_pages) : 0;

	for (; memcg && memcg->parent; memcg = memcg->parent) {
		int64_t room = (int64_t)memcg->swap.max - (int64_t)memcg->swap.usage;

		if (room < nr)
			nr = room;
	}
	return nr;
}

/* mem_cgroup_swap_full(): swap is half full -- or half a cgroup's swap.high or swap.max. */
bool mem_cgroup_swap_full(const memlab_machine *m, const struct page *page)
{
	if (vm_swap_full(m))
		return true;
	for (const struct mem_cgroup *memcg = page_memcg(m, page); memcg && memcg->parent;
	     memcg = memcg->parent) {
		uint64_t usage = memcg->swap.usage;

		if (usage * 2 >= memcg->swap.high || usage * 2 >= memcg->swap.max)
			return true;
	}
	return false;
}

/* ===================== tasks ===================== */

static void task_set_memcg(memlab_task *t, struct mem_cgroup *memcg)
{
	if (t->memcg)
		t->memcg->nr_tasks--;
	t->memcg = memcg;
	memcg->nr_tasks++;
}

/* cgroup_fork() (kernel/cgroup/cgroup.c): the child starts in its parent's cgroup (a spawned task in the root). */
void mem_cgroup_fork(memlab_task *child, const memlab_task *parent)
{
	task_set_memcg(child, parent && parent->memcg ? parent->memcg : child->m->root_mem_cgroup);
}

void mem_cgroup_exit(memlab_task *t)
{
	if (t->memcg)
		t->memcg->nr_tasks--;
	t->memcg = NULL;
}

bool task_in_mem_cgroup(const memlab_task *t, const struct mem_cgroup *memcg)
{
	return mem_cgroup_is_descendant(t->memcg, memcg);
}

/*
** mem_cgroup_get_oom_group(): the highest cgroup with memory.oom.group
** set on the way from victim's cgroup up to the OOM's domain (NULL: the
** root), whose tasks all die with the victim; NULL when there is none.
*/
struct mem_cgroup *mem_cgroup_get_oom_group(memlab_task *victim, struct mem_cgroup *oom_domain)
{
	struct mem_cgroup *memcg = victim->memcg, *oom_group = NULL;

	if (!oom_domain)
		oom_domain = victim->m->root_mem_cgroup;
	if (!memcg || mem_cgroup_is_root(victim->m, memcg) ||
	    !mem_cgroup_is_descendant(memcg, oom_domain))
		return NULL;
	for (; memcg; memcg = memcg->parent) {
		if (memcg->oom_group)
			oom_group = memcg;
		if (memcg == oom_domain)
			break;
	}
	return oom_group;
}

/* ===================== the cgroup file system ===================== */

/* A child of parent by name (online ones: a removed cgroup is gone from the tree's names). */
static struct mem_cgroup *memcg_child(struct mem_cgroup *parent, const char *name, size_t len)
{
	for (struct mem_cgroup *c = parent->children; c; c = c->sibling)
		if (c->online && strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

/*
** cgroup v2's no-internal-process rule (cgroup_migrate_vet_dst): a
** cgroup whose children have the memory controller -- every cgroup with
** children, in memlab -- holds no tasks; the root is exempt.
*/
static bool has_live_children(const struct mem_cgroup *memcg)
{
	for (const struct mem_cgroup *c = memcg->children; c; c = c->sibling)
		if (c->online)
			return true;
	return false;
}

/* No internal processes (cgroup_migrate_vet_dst): a non-root cgroup with children takes no task. */
static bool has_internal_children(const struct mem_cgroup *memcg)
{
	return memcg->parent && has_live_children(memcg);
}

/* The next component of a path at *p ("" at its end), skipping '/'s; *p moves past it. */
static const char *path_component(const char **p, size_t *len)
{
	const char *start = *p + strspn(*p, "/"), *end = strchr(start, '/');

	*len = end ? (size_t)(end - start) : strlen(start);
	*p = start + *len;
	return start;
}

static bool cg_has_file(memlab_machine *m, const struct mem_cgroup *memcg, const char *name,
			size_t len);

/*
** Can the missing components of path, from p on under memcg, be made?
** Every one is checked before any is (mkdir -p leaves nothing half-made
** for these errors): ".." EINVAL, a name past NAME_MAX ENAMETOOLONG, a
** newline EINVAL (cgroup_mkdir), the name of a file the parent has
** EEXIST (kernfs), a parent with tasks EBUSY (no internal processes).
*/
static int mkdir_p_check(memlab_machine *m, const struct mem_cgroup *memcg, const char *p)
{
	bool first = true;
	const char *name;
	size_t len;

	while ((name = path_component(&p, &len)), len) {
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.')
			return -MEMLAB_EINVAL;
		if (len > MEMCG_NAME_MAX)
			return -MEMLAB_ENAMETOOLONG;
		if (memchr(name, '\n', len))
			return -MEMLAB_EINVAL;
		if (cg_has_file(m, first ? memcg : NULL, name, len))
			return -MEMLAB_EEXIST;
		if (first && memcg->parent && memcg->nr_tasks)
			return -MEMLAB_EBUSY;
		first = false;
	}
	return 0;
}

/*
** The cgroup at path ("/", "/a/b"; an empty component or "." is
** skipped, as the VFS would); with create, each missing component is
** made (mkdir -p), once all of them are known to be makeable (only the
** host's memory or the ids running out can stop it half-way).  NULL:
** *err says why.
*/
static struct mem_cgroup *memcg_lookup(memlab_machine *m, const char *path, bool create,
				       int *err)
{
	struct mem_cgroup *memcg = m->root_mem_cgroup, *c;
	const char *p = path, *name, *rest;
	size_t len;

	*err = -MEMLAB_ENOENT;
	if (path[0] != '/')
		return NULL;
	while ((rest = p, name = path_component(&p, &len)), len) {
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			*err = -MEMLAB_EINVAL;
			return NULL;
		}
		if (len == 1 && name[0] == '.')
			continue;
		if ((c = memcg_child(memcg, name, len))) {
			memcg = c;
			continue;
		}
		if (!create)
			return NULL;
		if ((*err = mkdir_p_check(m, memcg, rest)))
			return NULL;
		do {
			if (!(len == 1 && name[0] == '.') &&
			    !(memcg = mem_cgroup_alloc(m, memcg, name, len, err)))
				return NULL;
		} while ((name = path_component(&p, &len)), len);
		break;
	}
	*err = 0;
	return memcg;
}

int memlab_cgroup_mkdir(memlab_machine *m, const char *path)
{
	int err;

	if (!m || !path)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	memcg_lookup(m, path, true, &err);
	return err;
}

/* A call on the cgroup at path: arguments, a live machine, the cgroup there. */
static int cgroup_call(memlab_machine *m, const char *path, struct mem_cgroup **memcg)
{
	int err;

	if (!m || !path)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	*memcg = memcg_lookup(m, path, false, &err);
	return err;
}

static void cgroup_drain_open_files(memlab_machine *m, struct mem_cgroup *memcg);

/*
** rmdir: a cgroup with tasks or live children is busy (EBUSY), the root
** cannot go (EBUSY).  Its charges stay until its pages are freed: the
** stocks give theirs back now (mem_cgroup_css_offline's drain).  Its
** files go: the open ones fail from now on.
*/
int memlab_cgroup_rmdir(memlab_machine *m, const char *path)
{
	struct mem_cgroup *memcg;
	int err = cgroup_call(m, path, &memcg);

	if (err)
		return err;
	if (mem_cgroup_is_root(m, memcg) || memcg->nr_tasks || has_live_children(memcg))
		return -MEMLAB_EBUSY;
	cgroup_drain_open_files(m, memcg);
	memcg->online = false;
	memcg->memory.min = memcg->memory.low = 0;	/* mem_cgroup_css_offline() */
	drain_all_stock(m, memcg);
	if (!m->current)
		memcg_reap(m);
	return 0;
}

/* __cgroup_procs_write() (kernel/cgroup/cgroup.c): pid's whole thread group moves; charges stay (v2). */
static int cgroup_attach(memlab_machine *m, struct mem_cgroup *memcg, int pid)
{
	memlab_task *t = memlab_find_task(m, pid);

	if (!t)
		return -MEMLAB_ESRCH;
	if (has_internal_children(memcg))
		return -MEMLAB_EBUSY;
	for (memlab_task *u = m->tasks; u; u = u->next)
		if (u->tgid == t->tgid)
			task_set_memcg(u, memcg);
	return 0;
}

/* A spawned task starts in the cgroup at path, made if missing. */
int mem_cgroup_spawn(memlab_task *t, const char *path)
{
	int err;
	struct mem_cgroup *memcg = memcg_lookup(t->m, path, true, &err);

	if (memcg && has_internal_children(memcg))
		return -MEMLAB_EBUSY;
	if (memcg)
		task_set_memcg(t, memcg);
	return err;
}

int memlab_cgroup_attach(memlab_machine *m, const char *path, int pid)
{
	struct mem_cgroup *memcg;
	int err = cgroup_call(m, path, &memcg);

	return err ? err : cgroup_attach(m, memcg, pid);
}

/* seq_puts_memcg_tunable() (mm/memcontrol.c): "max", or the bytes. */
static void show_counter(memlab_machine *m, struct strbuf *sb, uint64_t pages)
{
	if (pages >= PAGE_COUNTER_MAX(m))
		sb_printf(sb, "max\n");
	else
		sb_printf(sb, "%llu\n", (unsigned long long)(pages << m->page_shift));
}

static void show_events(struct strbuf *sb, const uint64_t *ev)
{
	static const char *const names[MEMCG_SWAP_HIGH] = {
		"low", "high", "max", "oom", "oom_kill", "oom_group_kill"
	};

	for (int i = 0; i < MEMCG_SWAP_HIGH; i++)
		sb_printf(sb, "%s %llu\n", names[i], (unsigned long long)ev[i]);
}

/*
** memory_stats[] of 6.18 with ZSWAP and THP: name, item (-1: what memlab
** does not have), unit, and whether it is a node statistic (which
** memory.numa_stat shows per node).
*/
static const struct memory_stat {
	const char *name;
	int item;
	int unit;		/* 0: pages (bytes out), 1: a count, 2: THPs (bytes out), 3: kB */
	bool node;
} memory_stats[] = {
	{ "anon", NR_ANON_PAGES, 0, 1 }, { "file", NR_FILE_PAGES, 0, 1 },
	{ "kernel", MEMCG_KMEM, 0, 0 }, { "kernel_stack", NR_KERNEL_STACK, 3, 1 },
	{ "pagetables", NR_PAGE_TABLE_PAGES, 0, 1 }, { "sec_pagetables", -1, 0, 1 },
	{ "percpu", -1, 0, 0 }, { "sock", -1, 0, 0 },
	{ "vmalloc", MEMCG_VMALLOC, 0, 0 }, { "shmem", NR_SHMEM, 0, 1 },
	{ "zswap", -1, 0, 0 }, { "zswapped", -1, 0, 0 },
	{ "file_mapped", NR_MAPPED, 0, 1 }, { "file_dirty", NR_DIRTY, 0, 1 },
	{ "file_writeback", NR_WRITEBACK, 0, 1 }, { "swapcached", NR_SWAPCACHED, 0, 1 },
	{ "anon_thp", NR_ANON_TRANSPARENT_HUGEPAGES, 2, 1 }, { "file_thp", NR_FILE_HUGEPAGES, 2, 1 },
	{ "shmem_thp", -1, 0, 1 }, { "inactive_anon", NR_INACTIVE_ANON, 0, 1 },
	{ "active_anon", NR_ACTIVE_ANON, 0, 1 },
	{ "inactive_file", NR_INACTIVE_FILE, 0, 1 },
	{ "active_file", NR_ACTIVE_FILE, 0, 1 }, { "unevictable", NR_UNEVICTABLE, 0, 1 },
	{ "slab_reclaimable", NR_SLAB_RECLAIMABLE, 1, 1 },	/* bytes in a memcg */
	{ "slab_unreclaimable", NR_SLAB_UNRECLAIMABLE, 1, 1 },
	{ "workingset_refault_anon", WORKINGSET_REFAULT_ANON, 1, 1 },
	{ "workingset_refault_file", WORKINGSET_REFAULT_FILE, 1, 1 },
	{ "workingset_activate_anon", WORKINGSET_ACTIVATE_ANON, 1, 1 },
	{ "workingset_activate_file", WORKINGSET_ACTIVATE_FILE, 1, 1 },
	{ "workingset_restore_anon", WORKINGSET_RESTORE_ANON, 1, 1 },
	{ "workingset_restore_file", WORKINGSET_RESTORE_FILE, 1, 1 },
	{ "workingset_nodereclaim", WORKINGSET_NODERECLAIM, 1, 1 },
	{ "pgdemote_kswapd", -1, 1, 1 },
	{ "pgdemote_direct", -1, 1, 1 }, { "pgdemote_khugepaged", -1, 1, 1 },
	{ "pgdemote_proactive", -1, 1, 1 }, { "pgpromote_success", -1, 1, 1 },
};

/*
** memcg_vm_event_stat[] of 6.18 without the v1-only pgpgin/pgpgout, as
** memory.stat prints it after the pgscan and pgsteal sums.
*/
static const int memcg_vm_event_stat[] = {
	PSWPIN, PSWPOUT, PGSCAN_KSWAPD, PGSCAN_DIRECT, PGSCAN_KHUGEPAGED, PGSCAN_PROACTIVE,
	PGSTEAL_KSWAPD, PGSTEAL_DIRECT, PGSTEAL_KHUGEPAGED, PGSTEAL_PROACTIVE, PGFAULT,
	PGMAJFAULT, PGREFILL, PGACTIVATE, PGDEACTIVATE, PGLAZYFREE, PGLAZYFREED, SWPIN_ZERO,
	SWPOUT_ZERO, ZSWPIN, ZSWPOUT, ZSWPWB, THP_FAULT_ALLOC, THP_COLLAPSE_ALLOC, THP_SWPOUT,
	THP_SWPOUT_FALLBACK, NUMA_PAGES_MIGRATED, NUMA_PTE_UPDATES, NUMA_HINT_FAULTS,
};

static uint64_t memcg_stat(const struct mem_cgroup *memcg, int item)
{
	int64_t x = item < 0 ? 0 : memcg->stat[item];

	return x > 0 ? (uint64_t)x : 0;
}

/* One memory_stats[] value as memory.stat prints it. */
static uint64_t memory_stat_value(memlab_machine *m, const struct mem_cgroup *memcg,
				  const struct memory_stat *s)
{
	uint64_t v = memcg_stat(memcg, s->item);

	if (s->unit == 0)
		return v << m->page_shift;
	if (s->unit == 3)
		return v * 1024;
	return s->unit == 2 ? v << (hpage_pmd_order(m) + m->page_shift) : v;
}

/* memcg_stat_format() */
void memcg_stat_format(memlab_machine *m, struct mem_cgroup *memcg, struct strbuf *sb)
{
	for (size_t i = 0; i < sizeof(memory_stats) / sizeof(memory_stats[0]); i++) {
		const struct memory_stat *s = &memory_stats[i];

		sb_printf(sb, "%s %llu\n", s->name,
			  (unsigned long long)memory_stat_value(m, memcg, s));
		if (!strcmp(s->name, "slab_unreclaimable"))
			sb_printf(sb, "slab %llu\n",
				  (unsigned long long)(memcg_stat(memcg, NR_SLAB_RECLAIMABLE) +
						       memcg_stat(memcg, NR_SLAB_UNRECLAIMABLE)));
	}
	sb_printf(sb, "pgscan %llu\n", (unsigned long long)(memcg_stat(memcg, PGSCAN_KSWAPD) +
		  memcg_stat(memcg, PGSCAN_DIRECT) + memcg_stat(memcg, PGSCAN_PROACTIVE) +
		  memcg_stat(memcg, PGSCAN_KHUGEPAGED)));
	sb_printf(sb, "pgsteal %llu\n", (unsigned long long)(memcg_stat(memcg, PGSTEAL_KSWAPD) +
		  memcg_stat(memcg, PGSTEAL_DIRECT) + memcg_stat(memcg, PGSTEAL_PROACTIVE) +
		  memcg_stat(memcg, PGSTEAL_KHUGEPAGED)));
	for (size_t i = 0; i < sizeof(memcg_vm_event_stat) / sizeof(int); i++)
		sb_printf(sb, "%s %llu\n", vmstat_name((enum vmstat_item)memcg_vm_event_stat[i]),
			  (unsigned long long)memcg_stat(memcg, memcg_vm_event_stat[i]));
}

/* memory_numa_stat_show(): the node statistics, for the one node. */
static void numa_stat_show(memlab_machine *m, struct mem_cgroup *memcg, struct strbuf *sb)
{
	for (size_t i = 0; i < sizeof(memory_stats) / sizeof(memory_stats[0]); i++)
		if (memory_stats[i].node)
			sb_printf(sb, "%s N0=%llu\n", memory_stats[i].name,
				  (unsigned long long)memory_stat_value(m, memcg, &memory_stats[i]));
}

/* cgroup.procs (kernel/cgroup/cgroup.c cgroup_procs_show): the thread-group leaders, one pid a line. */
static void procs_show(memlab_machine *m, struct mem_cgroup *memcg, struct strbuf *sb)
{
	int last = 0;

	for (;;) {		/* thread groups in ascending order, each once */
		int next = 0;

		for (memlab_task *t = m->tasks; t; t = t->next)
			if (t->memcg == memcg && t->tgid > last && (!next || t->tgid < next))
				next = t->tgid;
		if (!next)
			break;
		sb_printf(sb, "%d\n", next);
		last = next;
	}
}

enum cg_file {
	CG_PROCS, CG_CURRENT, CG_MIN, CG_LOW, CG_HIGH, CG_MAX, CG_PEAK, CG_EVENTS,
	CG_EVENTS_LOCAL, CG_STAT, CG_NUMA_STAT, CG_OOM_GROUP, CG_RECLAIM, CG_SWAP_CURRENT, CG_SWAP_HIGH,
	CG_SWAP_MAX, CG_SWAP_PEAK, CG_SWAP_EVENTS, CG_NR_FILES
};

static const struct cg_cftype {
	const char *name;
	bool not_on_root;	/* CFTYPE_NOT_ON_ROOT */
	bool readable;
} cg_files[CG_NR_FILES] = {
	[CG_PROCS] = { "cgroup.procs", false, true },
	[CG_CURRENT] = { "memory.current", true, true },
	[CG_MIN] = { "memory.min", true, true },
	[CG_LOW] = { "memory.low", true, true },
	[CG_HIGH] = { "memory.high", true, true },
	[CG_MAX] = { "memory.max", true, true },
	[CG_PEAK] = { "memory.peak", true, true },
	[CG_EVENTS] = { "memory.events", true, true },
	[CG_EVENTS_LOCAL] = { "memory.events.local", true, true },
	[CG_STAT] = { "memory.stat", false, true },
	[CG_NUMA_STAT] = { "memory.numa_stat", false, true },
	[CG_OOM_GROUP] = { "memory.oom.group", true, true },
	[CG_RECLAIM] = { "memory.reclaim", false, false },
	[CG_SWAP_CURRENT] = { "memory.swap.current", true, true },
	[CG_SWAP_HIGH] = { "memory.swap.high", true, true },
	[CG_SWAP_MAX] = { "memory.swap.max", true, true },
	[CG_SWAP_PEAK] = { "memory.swap.peak", true, true },
	[CG_SWAP_EVENTS] = { "memory.swap.events", true, true },
};

/*
** Does memcg's directory hold a file called name (memcg NULL: a new
** non-root cgroup's)?  A cgroup cannot take its name (kernfs: EEXIST).
*/
static bool cg_has_file(memlab_machine *m, const struct mem_cgroup *memcg, const char *name,
			size_t len)
{
	for (int f = 0; f < CG_NR_FILES; f++)
		if (strlen(cg_files[f].name) == len && !memcmp(cg_files[f].name, name, len))
			return !(cg_files[f].not_on_root && memcg && mem_cgroup_is_root(m, memcg));
	return false;
}

/* "/a/b/memory.max": the cgroup and the file; -MEMLAB_ENOENT for neither. */
static int cg_resolve(memlab_machine *m, const char *path, struct mem_cgroup **memcg)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int err;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -MEMLAB_ENOENT;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	if (!(*memcg = memcg_lookup(m, dir[0] ? dir : "/", false, &err)))
		return err;
	for (int f = 0; f < CG_NR_FILES; f++)
		if (!strcmp(slash + 1, cg_files[f].name))
			return cg_has_file(m, *memcg, slash + 1, strlen(slash + 1)) ? f
										  : -MEMLAB_ENOENT;
	return -MEMLAB_ENOENT;
}

/* ===================== memory.peak and memory.swap.peak ===================== */

/*
** The counter of a peak file and its list of written fds (*watchers);
** NULL for the other files, which keep no state per fd.
*/
static struct page_counter *of_peak_counter(struct cgroup_of *of, struct cgroup_of ***watchers)
{
	switch (of->file) {
	case CG_PEAK:
		*watchers = &of->memcg->memory_peaks;
		return &of->memcg->memory;
	case CG_SWAP_PEAK:
		*watchers = &of->memcg->swap_peaks;
		return &of->memcg->swap;
	default:
		*watchers = NULL;
		return NULL;
	}
}

/*
** peak_show(): an fd never written shows the global peak; a written one
** the higher of its value and the local watermark, which the last write
** through any fd reset.
*/
static void peak_show(memlab_machine *m, const struct cgroup_of *of,
		      const struct page_counter *pc, struct strbuf *sb)
{
	uint64_t peak = of->value == OFP_PEAK_UNSET ? pc->watermark :
			of->value > pc->local_watermark ? of->value : pc->local_watermark;

	sb_printf(sb, "%llu\n", (unsigned long long)(peak << m->page_shift));
}

/*
** peak_write() (6.12+): the local watermark starts again from the usage;
** every written fd's value is raised to the usage so that the reset does
** not lower what it shows -- but only to the usage: a peak it saw since
** its own write that is above the usage now is lost, as in Linux.  The
** fd is registered on its first write.  The text written does not matter.
*/
static void peak_write(struct cgroup_of *of)
{
	struct cgroup_of **watchers;
	struct page_counter *pc = of_peak_counter(of, &watchers);
	uint64_t usage = pc->usage;

	pc->local_watermark = usage;
	for (struct cgroup_of *peer = *watchers; peer; peer = peer->next)
		if (usage > peer->value)
			peer->value = usage;
	if (of->value == OFP_PEAK_UNSET) {
		of->next = *watchers;
		*watchers = of;
	}
	of->value = usage;
}

/* peak_release(): a written fd leaves its memcg's list. */
static void peak_release(struct cgroup_of *of)
{
	struct cgroup_of **pp;

	if (!of->memcg || of->value == OFP_PEAK_UNSET || !of_peak_counter(of, &pp))
		return;
	while (*pp != of)
		pp = &(*pp)->next;
	*pp = of->next;
}

/* ===================== reading the files ===================== */

static void cg_show(memlab_machine *m, const struct cgroup_of *of, struct strbuf *sb)
{
	struct mem_cgroup *memcg = of->memcg;

	switch (of->file) {
	case CG_PROCS: procs_show(m, memcg, sb); break;
	case CG_CURRENT: sb_printf(sb, "%llu\n",
				   (unsigned long long)(memcg->memory.usage << m->page_shift)); break;
	case CG_MIN: show_counter(m, sb, memcg->memory.min); break;
	case CG_LOW: show_counter(m, sb, memcg->memory.low); break;
	case CG_HIGH: show_counter(m, sb, memcg->memory.high); break;
	case CG_MAX: show_counter(m, sb, memcg->memory.max); break;
	case CG_PEAK: peak_show(m, of, &memcg->memory, sb); break;
	case CG_EVENTS: show_events(sb, memcg->events); break;
	case CG_EVENTS_LOCAL: show_events(sb, memcg->events_local); break;
	case CG_STAT: memcg_stat_format(m, memcg, sb); break;
	case CG_NUMA_STAT: numa_stat_show(m, memcg, sb); break;
	case CG_OOM_GROUP: sb_printf(sb, "%d\n", memcg->oom_group); break;
	case CG_SWAP_CURRENT: sb_printf(sb, "%llu\n",
					(unsigned long long)(memcg->swap.usage << m->page_shift)); break;
	case CG_SWAP_HIGH: show_counter(m, sb, memcg->swap.high); break;
	case CG_SWAP_MAX: show_counter(m, sb, memcg->swap.max); break;
	case CG_SWAP_PEAK: peak_show(m, of, &memcg->swap, sb); break;
	case CG_SWAP_EVENTS:
		sb_printf(sb, "high %llu\nmax %llu\nfail %llu\n",
			  (unsigned long long)memcg->events[MEMCG_SWAP_HIGH],
			  (unsigned long long)memcg->events[MEMCG_SWAP_MAX],
			  (unsigned long long)memcg->events[MEMCG_SWAP_FAIL]);
		break;
	default: break;
	}
}

/*
** A read through the open file of: -MEMLAB_ENODEV once its cgroup was
** removed (kernfs_get_active() fails), -MEMLAB_EINVAL for a write-only
** file (memory.reclaim).
*/
static int cgroup_file_read(memlab_machine *m, const struct cgroup_of *of, char **text,
			    size_t *len)
{
	struct strbuf sb;

	if (!of->memcg)
		return -MEMLAB_ENODEV;
	if (!cg_files[of->file].readable)
		return -MEMLAB_EINVAL;
	sb_init(&sb, m);
	cg_show(m, of, &sb);
	return sb_finish(&sb, text, len);
}

/*
** Read a cgroup file: "/memory.stat", "/a/b/memory.current", ...  The
** text is NUL-terminated, freed with memlab_free_text().  -MEMLAB_ENOENT
** for a cgroup or file that is not there (the root has no memory.current
** and the like), -MEMLAB_EINVAL for a write-only file (memory.reclaim).
** As `cat`: a file opened, read and closed (memory.peak: the global peak).
*/
int memlab_cgroup_read(memlab_machine *m, const char *path, char **text, size_t *len)
{
	struct cgroup_of of = { .value = OFP_PEAK_UNSET };

	if (!m || !path || !text)
		return -MEMLAB_EINVAL;
	*text = NULL;
	if (len)
		*len = 0;
	if ((of.file = cg_resolve(m, path, &of.memcg)) < 0)
		return of.file;
	return cgroup_file_read(m, &of, text, len);
}

/* ===================== writing the files ===================== */

/* strstrip() (lib/string.c): the text without leading and trailing white space, in buf. */
static const char *strstrip_copy(const char *s, char *buf, size_t size)
{
	size_t len;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || (s[len - 1] >= '\t' && s[len - 1] <= '\r')))
		len--;
	if (len >= size)
		len = size - 1;		/* longer than any value a file takes: it fails */
	memcpy(buf, s, len);
	buf[len] = 0;
	return buf;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
}

/*
** simple_strtoull(s, &end, 0) (lib/vsprintf.c): "0x" hex, a leading 0 octal, else decimal;
** no sign; *end after the digits (s itself when there are none).  An
** overflow wraps, as the kernel's does.
*/
static uint64_t strtoull_base0(const char *s, const char **end)
{
	unsigned base = 10;
	uint64_t v = 0;
	const char *p = s;
	int d;

	if (p[0] == '0') {
		base = 8;
		if ((p[1] | 0x20) == 'x' && digit_value(p[2]) < 16) {
			base = 16;
			p += 2;
		}
	}
	for (; (d = digit_value(*p)) < (int)base; p++)
		v = v * base + (unsigned)d;
	*end = p;
	return v;
}

/* memparse() (lib/cmdline.c): a number (base 0) and an optional K, M, G, T, P or E suffix. */
static uint64_t memparse(const char *s, const char **end)
{
	static const char suffixes[] = "kmgtpe";
	uint64_t v = strtoull_base0(s, end);
	const char *sfx = **end ? strchr(suffixes, **end | 0x20) : NULL;

	if (sfx) {
		v <<= 10 * (unsigned)(sfx - suffixes + 1);
		(*end)++;
	}
	return v;
}

/* kstrtoint(strstrip(buf), 0, &v) (lib/kstrtox.c): an optional sign, digits (base 0), nothing else. */
static int kstrtoint0(const char *buf, int *out)
{
	char tmp[64];
	const char *p = strstrip_copy(buf, tmp, sizeof(tmp)), *end;
	bool neg = *p == '-';
	uint64_t v;

	if (*p == '-' || *p == '+')
		p++;
	v = strtoull_base0(p, &end);
	if (end == p || *end || v > (uint64_t)INT32_MAX + neg)
		return -MEMLAB_EINVAL;
	*out = neg ? (int)-(int64_t)v : (int)v;
	return 0;
}

/*
** page_counter_memparse(strstrip(buf), "max"): "max", or bytes in pages
** (rounded down, at most PAGE_COUNTER_MAX).  As in Linux an empty write
** parses as 0.
*/
static int counter_parse(memlab_machine *m, const char *buf, uint64_t *pages)
{
	char tmp[64];
	const char *p = strstrip_copy(buf, tmp, sizeof(tmp)), *end;
	uint64_t bytes;

	if (!strcmp(p, "max")) {
		*pages = PAGE_COUNTER_MAX(m);
		return 0;
	}
	bytes = memparse(p, &end);
	if (*end)
		return -MEMLAB_EINVAL;
	bytes >>= m->page_shift;
	*pages = bytes < PAGE_COUNTER_MAX(m) ? bytes : PAGE_COUNTER_MAX(m);
	return 0;
}

/*
** memory_max_write() and memory_high_write(): the new limit holds at
** once; usage above it is reclaimed after a drain of the stocks, until
** reclaim has failed MAX_RECLAIM_RETRIES times (memory.high: once more,
** for Linux's `!nr_retries--`); then memory.max runs the cgroup's OOM
** killer until usage fits or nothing is left to kill.
*/
static void memory_limit_write(memlab_machine *m, struct mem_cgroup *memcg, uint64_t *limit,
			       uint64_t val, bool oom)
{
	int nr_retries = MAX_RECLAIM_RETRIES + !oom;
	bool drained = false;

	*limit = val;
	while (memcg->memory.usage > val) {
		if (!drained) {
			drain_all_stock(m, memcg);
			drained = true;
		} else if (nr_retries) {
			if (!try_to_free_mem_cgroup_pages(m, memcg, memcg->memory.usage - val,
							  MEMLAB_GFP_KERNEL,
							  MEMCG_RECLAIM_MAY_SWAP, -1))
				nr_retries--;
		} else if (!oom) {
			break;
		} else {
			memcg_memory_event(memcg, MEMCG_OOM);
			if (!mem_cgroup_out_of_memory(m, memcg, MEMLAB_GFP_KERNEL, 0))
				break;
		}
	}
}

/*
** memory.reclaim: "SIZE [swappiness=N]" -- user_proactive_reclaim()
** (mm/vmscan.c):
** reclaim in quarters of what is left (at least SWAP_CLUSTER_MAX), and
** EAGAIN after MAX_RECLAIM_RETRIES rounds that freed nothing.
** swappiness=N (0..200) stands for vm.swappiness in this reclaim;
** swappiness=max reclaims anonymous pages only (SWAPPINESS_ANON_ONLY).
*/
static int memory_reclaim_write(memlab_machine *m, struct mem_cgroup *memcg, const char *buf)
{
	char tmp[128];
	const char *p = strstrip_copy(buf, tmp, sizeof(tmp)), *end;
	uint64_t bytes = memparse(p, &end), nr_to_reclaim, nr_reclaimed = 0;
	int nr_retries = MAX_RECLAIM_RETRIES, swappiness = -1;

	if (end == p || (*end != ' ' && *end != '\t' && *end))	/* nothing parsed: EINVAL */
		return -MEMLAB_EINVAL;
	for (p = end; *p;) {		/* strsep(&buf, " ") and match_token() */
		int sw;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		end = p;
		while (*end && *end != ' ' && *end != '\t')
			end++;
		if (end - p == 14 && !strncmp(p, "swappiness=max", 14)) {
			swappiness = SWAPPINESS_ANON_ONLY;
		} else if (end - p > 11 && !strncmp(p, "swappiness=", 11)) {
			char num[16];

			if (end - p - 11 >= (long)sizeof(num))
				return -MEMLAB_EINVAL;
			memcpy(num, p + 11, (size_t)(end - p - 11));
			num[end - p - 11] = 0;
			if (kstrtoint0(num, &sw) || sw < 0 || sw > 200)
				return -MEMLAB_EINVAL;
			swappiness = sw;
		} else {
			return -MEMLAB_EINVAL;
		}
		p = end;
	}
	nr_to_reclaim = bytes >> m->page_shift;
	while (nr_reclaimed < nr_to_reclaim) {
		uint64_t batch = (nr_to_reclaim - nr_reclaimed) / 4, reclaimed;

		if (batch < SWAP_CLUSTER_MAX)
			batch = SWAP_CLUSTER_MAX;
		if (!nr_retries)	/* the last try: pages waiting in folio batches may join */
			lru_add_drain_all(m);
		reclaimed = try_to_free_mem_cgroup_pages(m, memcg, batch, MEMLAB_GFP_KERNEL,
							 MEMCG_RECLAIM_MAY_SWAP |
							 MEMCG_RECLAIM_PROACTIVE, swappiness);
		if (!reclaimed && !nr_retries--)
			return -MEMLAB_EAGAIN;
		nr_reclaimed += reclaimed;
	}
	return 0;
}

static int cg_store(memlab_machine *m, struct mem_cgroup *memcg, enum cg_file f, const char *buf)
{
	uint64_t v;
	int err = 0, n;

	switch (f) {
	case CG_PROCS:			/* cgroup_procs_write_start(): 0 is the writer */
		if ((err = kstrtoint0(buf, &n)) || n < 0)
			return -MEMLAB_EINVAL;
		return n ? cgroup_attach(m, memcg, n) : -MEMLAB_ESRCH;
	case CG_MIN: case CG_LOW: case CG_HIGH: case CG_MAX:
		if ((err = counter_parse(m, buf, &v)))
			return err;
		if (f == CG_MIN)
			memcg->memory.min = v;
		else if (f == CG_LOW)
			memcg->memory.low = v;
		else if (f == CG_HIGH)
			memory_limit_write(m, memcg, &memcg->memory.high, v, false);
		else
			memory_limit_write(m, memcg, &memcg->memory.max, v, true);
		return 0;
	case CG_SWAP_HIGH: case CG_SWAP_MAX:	/* swap_high_write(), swap_max_write(): no reclaim */
		if ((err = counter_parse(m, buf, &v)))
			return err;
		*(f == CG_SWAP_HIGH ? &memcg->swap.high : &memcg->swap.max) = v;
		return 0;
	case CG_OOM_GROUP:
		if ((err = kstrtoint0(buf, &n)))
			return err;
		if (n != 0 && n != 1)
			return -MEMLAB_EINVAL;
		memcg->oom_group = n;
		return 0;
	case CG_RECLAIM:
		return memory_reclaim_write(m, memcg, buf);
	default:
		return -MEMLAB_EINVAL;	/* a read-only file: kernfs has no write for it */
	}
}

/*
** cgroup_file_write() through kernfs_fop_write_iter(): nbytes of buf
** through the open file of.  More than a page at once is E2BIG; once the
** cgroup is removed the file is gone (ENODEV); writing nothing does
** nothing; memory.peak and memory.swap.peak take any text.
*/
static int cgroup_file_write(memlab_machine *m, struct cgroup_of *of, const char *buf,
			     size_t nbytes)
{
	struct cgroup_of **watchers;
	memlab_task *prev;
	int err;

	if (m->dead)
		return -MEMLAB_EIO;
	if (nbytes > m->page_size)		/* the atomic_write_len of cgroup files */
		return -MEMLAB_E2BIG;
	if (!of->memcg)
		return -MEMLAB_ENODEV;
	if (!nbytes)
		return 0;
	if (of_peak_counter(of, &watchers)) {
		peak_write(of);
		return 0;
	}
	prev = m->current;	/* the write comes from outside every task */
	m->current = NULL;
	err = cg_store(m, of->memcg, (enum cg_file)of->file, buf);
	call_leave(m, prev);
	return err;
}

/*
** Write value to a cgroup file, as `echo value > /sys/fs/cgroup/PATH`:
** "/a/memory.max" ("max", bytes, "64M"), memory.high, memory.min,
** memory.low, memory.oom.group (0, 1), memory.reclaim ("SIZE"),
** cgroup.procs (a pid), memory.peak and memory.swap.peak (any value:
** the local peak starts again; every open fd written keeps at least
** the usage).  -MEMLAB_EINVAL for bad input (nothing changed),
** -MEMLAB_ENOENT for no such cgroup or file, -MEMLAB_ESRCH for an unknown
** pid, -MEMLAB_EAGAIN when memory.reclaim fell short.
*/
int memlab_cgroup_write(memlab_machine *m, const char *path, const char *value)
{
	struct cgroup_of of = { .value = OFP_PEAK_UNSET };
	int err;

	if (!m || !path || !value)
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	if ((of.file = cg_resolve(m, path, &of.memcg)) < 0)
		return of.file;
	err = cgroup_file_write(m, &of, value, strlen(value) + 1);	/* with echo's newline */
	peak_release(&of);
	return err;
}

/* ===================== open files ===================== */

#define NR_OPEN_MAX	(1u << 20)	/* fs.nr_open's default: fds one table holds */

/* The open file fd; NULL for a bad fd. */
static struct cgroup_of *cgroup_of_get(memlab_machine *m, int fd)
{
	return m && fd >= 0 && (unsigned)fd < m->nr_cgroup_ofs ? m->cgroup_ofs[fd] : NULL;
}

/* The lowest free fd, the table doubled when it is full; -MEMLAB_EMFILE, -MEMLAB_ENOMEM. */
static int cgroup_of_alloc_fd(memlab_machine *m)
{
	unsigned fd = 0, size = m->nr_cgroup_ofs ? 2 * m->nr_cgroup_ofs : 16;
	struct cgroup_of **ofs;

	while (fd < m->nr_cgroup_ofs && m->cgroup_ofs[fd])
		fd++;
	if (fd < m->nr_cgroup_ofs)
		return (int)fd;
	if (fd >= NR_OPEN_MAX)
		return -MEMLAB_EMFILE;
	if (!(ofs = ml_grow(m, m->cgroup_ofs, m->nr_cgroup_ofs, size, sizeof(*ofs))))
		return -MEMLAB_ENOMEM;
	m->cgroup_ofs = ofs;
	m->nr_cgroup_ofs = size;
	return (int)fd;
}

/*
** Open a cgroup file ("/a/memory.peak") as open(2) would, for reading
** and writing: *fd is the lowest free number.  -MEMLAB_ENOENT for no such
** cgroup or file, -MEMLAB_EMFILE or -MEMLAB_ENOMEM when no fd is left.
*/
int memlab_cgroup_open(memlab_machine *m, const char *path, int *fd)
{
	struct mem_cgroup *memcg;
	struct cgroup_of *of;
	int f, n;

	if (!m || !path || !fd)
		return -MEMLAB_EINVAL;
	*fd = -1;
	if ((f = cg_resolve(m, path, &memcg)) < 0)
		return f;
	if ((n = cgroup_of_alloc_fd(m)) < 0)
		return n;
	if (!(of = ml_alloc(m, sizeof(*of))))
		return -MEMLAB_ENOMEM;
	of->memcg = memcg;
	of->file = f;
	of->value = OFP_PEAK_UNSET;	/* peak_open() */
	m->cgroup_ofs[n] = of;
	*fd = n;
	return 0;
}

/*
** Read the open file fd, as memlab_cgroup_read() reads its path, but
** memory.peak and memory.swap.peak show the fd's own peak once it was
** written.  -MEMLAB_EBADF for a bad fd, -MEMLAB_ENODEV once its cgroup
** was removed.
*/
int memlab_cgroup_fd_read(memlab_machine *m, int fd, char **text, size_t *len)
{
	struct cgroup_of *of = cgroup_of_get(m, fd);

	if (!m || !text)
		return -MEMLAB_EINVAL;
	*text = NULL;
	if (len)
		*len = 0;
	return of ? cgroup_file_read(m, of, text, len) : -MEMLAB_EBADF;
}

/*
** write(2) of value (its bytes, no newline added) to the open file fd:
** "" writes nothing and succeeds; otherwise as memlab_cgroup_write().
** -MEMLAB_EBADF for a bad fd, -MEMLAB_ENODEV once its cgroup was removed,
** -MEMLAB_E2BIG for more than a page.
*/
int memlab_cgroup_fd_write(memlab_machine *m, int fd, const char *value)
{
	struct cgroup_of *of = cgroup_of_get(m, fd);

	if (!m || !value)
		return -MEMLAB_EINVAL;
	return of ? cgroup_file_write(m, of, value, strlen(value)) : -MEMLAB_EBADF;
}

/* Close the open file fd (its peak leaves the memcg's list).  -MEMLAB_EBADF for a bad fd. */
int memlab_cgroup_close(memlab_machine *m, int fd)
{
	struct cgroup_of *of = cgroup_of_get(m, fd);

	if (!of)
		return -MEMLAB_EBADF;
	peak_release(of);
	m->cgroup_ofs[fd] = NULL;
	ml_free(m, of, sizeof(*of));
	return 0;
}

/*
** kernfs_drain_open_files() of rmdir: the removed cgroup's open files
** are released now; a read or write through them fails from then on.
*/
static void cgroup_drain_open_files(memlab_machine *m, struct mem_cgroup *memcg)
{
	for (unsigned fd = 0; fd < m->nr_cgroup_ofs; fd++) {
		struct cgroup_of *of = m->cgroup_ofs[fd];

		if (of && of->memcg == memcg) {
			peak_release(of);
			of->memcg = NULL;
		}
	}
}

/* ===================== m:check() ===================== */

/*
** A counter's peaks: the global one (memory.peak) at or above the local
** one, which is at or above the usage; no open fd's peak above the global.
*/
static void check_peaks(struct ml_check *c, const char *path, const char *file,
			const struct page_counter *pc, const struct cgroup_of *watchers)
{
	if (pc->usage > pc->local_watermark)
		ml_violation(c, "memcg %s: usage above %s.peak's local peak", path, file);
	if (pc->local_watermark > pc->watermark)
		ml_violation(c, "memcg %s: %s.peak's local peak above the global one", path, file);
	for (; watchers; watchers = watchers->next)
		if (watchers->value > pc->watermark)
			ml_violation(c, "memcg %s: an open %s.peak above the global peak", path,
				     file);
}

/*
** The controller's invariants: every charged page's memcg exists; a
** memcg's usage is what its subtree's pages, page tables and stocks hold;
** every statistic is its own count plus its children's; each lruvec
** counts the pages on its lists; task counts are right; the peaks are in
** order (check_peaks).
*/
static void check_one(memlab_machine *m, struct ml_check *c, struct mem_cgroup *memcg,
		      const uint64_t *charged, const uint64_t *swapped)
{
	uint64_t sum = 0, swap = 0, tasks = 0;
	char path[256];

	memcg_path_buf(memcg, m, path, sizeof(path));
	for (struct mem_cgroup *it = memcg; it; it = next_descendant_pre(it, memcg)) {
		sum += charged[it->id];
		swap += swapped[it->id];
	}
	if (!mem_cgroup_is_root(m, memcg) && sum != memcg->memory.usage)
		ml_violation(c, "memcg %s: usage %llu pages, but its pages, tables and stocks "
			     "hold %llu", path, (unsigned long long)memcg->memory.usage,
			     (unsigned long long)sum);
	if (!mem_cgroup_is_root(m, memcg) && swap != memcg->swap.usage)
		ml_violation(c, "memcg %s: swap usage %llu pages, its swap slots %llu", path,
			     (unsigned long long)memcg->swap.usage, (unsigned long long)swap);
	if ((int64_t)swapped[memcg->id] != memcg->stat_local[MEMCG_SWAP])
		ml_violation(c, "memcg %s: %lld swap slots counted, %llu recorded", path,
			     (long long)memcg->stat_local[MEMCG_SWAP],
			     (unsigned long long)swapped[memcg->id]);
	for (int i = 0; i < MEMCG_NR_STAT; i++) {
		int64_t total = memcg->stat_local[i] + memcg->stat_dead[i];

		for (struct mem_cgroup *ch = memcg->children; ch; ch = ch->sibling)
			total += ch->stat[i];
		if (total != memcg->stat[i])
			ml_violation(c, "memcg %s: stat %d is %lld, its own and its children's "
				     "%lld", path, i, (long long)memcg->stat[i], (long long)total);
	}
	for (int l = 0; l < NR_LRU_LISTS; l++)
		if ((int64_t)memcg->lruvec.nr_pages[l] != memcg->stat_local[NR_INACTIVE_ANON + l])
			ml_violation(c, "memcg %s: lru %d holds %llu pages, its counter says %lld",
				     path, l, (unsigned long long)memcg->lruvec.nr_pages[l],
				     (long long)memcg->stat_local[NR_INACTIVE_ANON + l]);
	for (memlab_task *t = m->tasks; t; t = t->next)
		tasks += t->memcg == memcg;
	if (tasks != (uint64_t)memcg->nr_tasks)
		ml_violation(c, "memcg %s: %d tasks counted, %llu in it", path, memcg->nr_tasks,
			     (unsigned long long)tasks);
	check_peaks(c, path, "memory", &memcg->memory, memcg->memory_peaks);
	check_peaks(c, path, "memory.swap", &memcg->swap, memcg->swap_peaks);
}

/*
** The kernel objects' books, per memcg: the live objects' bytes, the bytes
** charged ahead in a CPU's stock and nr_charged_bytes are the pages
** charged for them; memory.stat's slab bytes and those waiting in the
** stock are the live objects'.
*/
static void check_objcgs(memlab_machine *m, struct ml_check *c)
{
	uint64_t *bytes = ml_alloc(m, 3 * m->memcg_idr_size * sizeof(uint64_t));

	if (!bytes)
		return;
	slab_memcg_bytes(m, bytes, m->memcg_idr_size);
	for (unsigned id = 1; id < m->memcg_idr_size; id++) {
		struct mem_cgroup *memcg = m->memcg_idr[id];
		const uint64_t *b = &bytes[3 * id];
		int64_t slab[2];
		uint64_t held;
		char path[256];

		if (!memcg) {
			if (b[0] || b[1] || b[2])
				ml_violation(c, "slab objects charged to memcg id %u, which does not exist", id);
			continue;
		}
		slab[0] = memcg->stat_local[NR_SLAB_UNRECLAIMABLE] - (int64_t)b[2];
		slab[1] = memcg->stat_local[NR_SLAB_RECLAIMABLE];
		held = b[0] + b[1] + memcg->nr_charged_bytes;
		for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++) {
			const struct obj_stock_pcp *stock = &m->obj_stock[cpu];

			if (stock->cached != memcg)
				continue;
			held += stock->nr_bytes;
			slab[0] += stock->nr_slab_unreclaimable_b;
			slab[1] += stock->nr_slab_reclaimable_b;
		}
		memcg_path_buf(memcg, m, path, sizeof(path));
		if (held != memcg->obj_pages << m->page_shift)
			ml_violation(c, "memcg %s: %llu pages charged for objects, their objects and "
				     "stocks hold %llu bytes", path, (unsigned long long)memcg->obj_pages,
				     (unsigned long long)held);
		for (int r = 0; r < 2; r++)
			if (slab[r] != (int64_t)b[r])
				ml_violation(c, "memcg %s: slab_%sreclaimable %lld bytes with the stocks', "
					     "its objects %llu", path, r ? "" : "un", (long long)slab[r],
					     (unsigned long long)b[r]);
	}
	ml_free(m, bytes, 3 * m->memcg_idr_size * sizeof(uint64_t));
}

/* A written fd is on its cgroup's list of peaks (an unwritten one is not). */
static bool on_peaks_list(const struct cgroup_of *of, const struct cgroup_of *watchers)
{
	for (; watchers; watchers = watchers->next)
		if (watchers == of)
			return true;
	return false;
}

/* Each open file names a cgroup that is there, and is on its list once written. */
static void check_open_files(memlab_machine *m, struct ml_check *c)
{
	for (unsigned fd = 0; fd < m->nr_cgroup_ofs; fd++) {
		struct cgroup_of *of = m->cgroup_ofs[fd], **watchers;

		if (!of || !of->memcg)
			continue;
		if (!of->memcg->online)
			ml_violation(c, "cgroup fd %u: open in a removed cgroup", fd);
		else if (of_peak_counter(of, &watchers) &&
			 (of->value != OFP_PEAK_UNSET) != on_peaks_list(of, *watchers))
			ml_violation(c, "cgroup fd %u: %s its cgroup's list of peaks", fd,
				     of->value == OFP_PEAK_UNSET ? "never written, but on"
								 : "written, but not on");
	}
}

int memcg_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };
	uint64_t *charged = ml_alloc(m, 2 * m->memcg_idr_size * sizeof(uint64_t));
	uint64_t *swapped = charged + m->memcg_idr_size;

	if (!charged)
		return 0;
	for (uint64_t slot = 1; m->swap && slot <= m->swap->pages; slot++) {
		unsigned id = m->swap->memcg_id[slot];

		if (!id)
			continue;
		if (!m->swap->swap_map[slot] || !mem_cgroup_from_id(m, id))
			ml_violation(&c, "swap slot %llu: charged to memcg id %u, %s",
				     (unsigned long long)slot, id, m->swap->swap_map[slot] ?
				     "which does not exist" : "but free");
		else
			swapped[id]++;
	}
	for (uint64_t pfn = 0; pfn < m->nr_frames; pfn++) {
		const struct page *page = pfn_to_page(m, pfn);

		if (!page->memcg_id)
			continue;
		if (!page_memcg(m, page))
			ml_violation(&c, "pfn %#llx: charged to memcg id %u, which does not exist",
				     (unsigned long long)pfn, page->memcg_id);
		else if (page->flags & PG_head_alloc)
			charged[page->memcg_id] += 1ull << page->private;
		else
			ml_violation(&c, "pfn %#llx: charged but not the head of an allocation",
				     (unsigned long long)pfn);
	}
	for (int cpu = 0; cpu < m->tlb->nr_cpus; cpu++)
		for (int i = 0; i < NR_MEMCG_STOCK; i++)
			if (m->memcg_stock[cpu].cached[i])
				charged[m->memcg_stock[cpu].cached[i]->id] +=
					m->memcg_stock[cpu].nr_pages[i];
	for (struct mem_cgroup *memcg = m->root_mem_cgroup; memcg;
	     memcg = next_descendant_pre(memcg, m->root_mem_cgroup))
		charged[memcg->id] += memcg->obj_pages;
	for (struct mem_cgroup *memcg = m->root_mem_cgroup; memcg;
	     memcg = next_descendant_pre(memcg, m->root_mem_cgroup))
		check_one(m, &c, memcg, charged, swapped);
	check_objcgs(m, &c);
	check_open_files(m, &c);
	ml_free(m, charged, 2 * m->memcg_idr_size * sizeof(uint64_t));
	return c.count;
}

/* /proc/PID/cgroup in a cgroup2-only system: "0::/path". */
void proc_cgroup_show(memlab_task *t, struct strbuf *sb)
{
	sb_printf(sb, "0::");
	memcg_path(t->memcg ? t->memcg : t->m->root_mem_cgroup, sb);
	sb_printf(sb, "\n");
}
