/*
** tlb.c -- the TLBs of the simulated CPUs, their page-walk caches, the
** ASIDs Linux gives address spaces, and the flushes Linux issues.
**
** The model
** ---------
** Every CPU has the same hierarchy of TLB structures (memlab_tlb_desc):
** level 1 (an iTLB for instruction fetches, a dTLB for loads and stores,
** or unified) and level 2 (usually one unified STLB).  A structure has
** entries / ways sets; a page's set is its virtual page number modulo the
** number of sets, whatever that number is (Skylake's STLB: 1536 entries,
** 12 ways, 128 sets).  A structure holds some page sizes (page_sizes):
** separate 4K / 2M / 1G arrays as Intel's L1 dTLB has them, or one array
** shared by 4K and 2M pages as Skylake's STLB.  A structure holding
** several sizes is probed once per size, smallest first.  On arm64 a
** block of contiguous PTEs (PTE_CONT, contpte.c: 64K with 4K pages, 2M
** with 16K and 64K pages) is one entry of its own size, where the
** structure holds that size, else an entry for the page accessed.
**
** An access ('x' through the iTLB, 'r' and 'w' through the dTLB) probes
** level 1, then level 2, then walks the page tables (pgtable.c pt_walk),
** starting below the deepest page-walk cache that hits.  A hit completes
** the access from the cached frame when the cached permissions allow it:
** user, write and dirty for a write (a write through a clean entry makes
** the hardware walk to set D), exec for a fetch.  An entry that refuses
** is dropped (a page fault invalidates the address's entries, Intel SDM
** 4.10.4.1) and the access walks.  A level-2 hit refills level 1; a walk
** fills both.  Levels are non-inclusive: filling is all they share.  A
** set fills its invalid ways first (lowest first), then replaces by its
** policy:
**   lru     the way used longest ago
**   fifo    the way filled longest ago (hits change nothing)
**   random  a way drawn from the machine's seeded generator
**   plru    tree pseudo-LRU: a binary tree over the ways, each node's bit
**           pointing to the half to replace next; a hit flips the nodes
**           on its path away from it, a victim is found by following the
**           bits.  With a way count that is not a power of two the tree
**           is built over the next power of two and a subtree holding no
**           real way is never chosen: the bit is followed unless its side
**           is missing, then the other side is taken (12 ways: a 16-leaf
**           tree whose leaves 12..15 are skipped).
**   lfu     the way with the fewest hits since its fill (ties: lowest way)
**
** Page-walk caches (Intel's paging-structure caches, SDM 4.10.3; Arm's
** walk caches) hold upper-level table entries: pwc[1] the PMD entries
** (Intel's PDE cache), pwc[2] the PUD entries (PDPTE cache), pwc[3] and
** pwc[4] the levels above.  Each is fully associative, LRU, tagged with
** the ASID.  A walk that hits pwc[l] starts at the table it caches and
** reads l entries instead of all of them.
**
** Entries are tagged with an ASID and a global bit (user pages are never
** global in Linux; a global entry matches every ASID).  ASIDs follow
** Linux:
**   x86-64 (arch/x86/mm/tlb.c): each CPU keeps TLB_NR_DYN_ASIDS = 6
**     slots {ctx_id, tlb_gen}.  switch_mm_irqs_off() looks the next mm's
**     ctx_id up among them (choose_new_asid); a slot that is behind the
**     mm's tlb_gen, or a new slot taken round robin (next_asid, starting
**     at 1: slot 0 holds init_mm at boot), is flushed.  Round robin is
**     not LRU: seven mms run in turn evict the oldest, but one that keeps
**     running is evicted anyway when the cursor comes round.
**   arm64 (arch/arm64/mm/context.c): one global 16-bit (or 8-bit) ASID
**     space with generations: new_context() takes a free ASID; when none
**     is left the generation rolls over, every CPU keeps the ASID it is
**     running (reserved_asids) and must flush its whole TLB before its
**     next switch (tlb_flush_pending).
**
** Flushes are Linux's, named as Linux names them:
**   x86-64: flush_tlb_mm_range() bumps the mm's tlb_gen; if mm_cpumask()
**     holds another CPU it is a shootdown (native_flush_tlb_multi: an IPI
**     to each CPU that runs the mm and is not lazy -- to every CPU of the
**     mask when page tables were freed); flush_tlb_func() then flushes
**     page by page (INVLPG, which also drops the ASID's page-walk cache
**     entries) or, above tlb_single_page_flush_ceiling = 33 pages, the
**     whole ASID.  A CPU that does not run the mm just leaves the mask
**     when the IPI reaches it; its slot is behind and is flushed when the
**     mm comes back.  Counted as Linux's CONFIG_DEBUG_TLBFLUSH vmstat
**     items nr_tlb_remote_flush, nr_tlb_remote_flush_received,
**     nr_tlb_local_flush_all and nr_tlb_local_flush_one -- in the TLB
**     statistics only: the reference host's /proc/vmstat has none of them.
**   arm64: TLBI ... IS instructions broadcast to every CPU, no IPIs:
**     flush_tlb_page() is last-level only (VALE1IS); flush_tlb_range()
**     goes page by page (VAE1IS, or VALE1IS when no table was freed)
**     below MAX_DVM_OPS = PTRS_PER_PTE strides and flushes the whole ASID
**     (ASIDE1IS, flush_tlb_mm) above, as CPUs without FEAT_TLBIRANGE do.
** Callers (memory.c, mmap.c, fork.c): wp_page_copy() flush_tlb_page;
** munmap (zap + free_pgtables), mprotect (change_pte_range, when
** pte_needs_flush) and exit through an mmu_gather (tlb_finish_mmu);
** mremap's move_ptes() flush_tlb_range per PMD extent; dup_mmap() ends
** with flush_tlb_mm(oldmm).
** Reclaim, migration and splits unmap with TTU_BATCH_FLUSH (mm/rmap.c):
** an entry of an mm that another CPU may hold (x86: one in mm_cpumask
** besides this one; arm64: always) is not flushed at once
** (set_tlb_ubc_flush_pending): x86 moves the mm's tlb_gen on and adds its
** CPUs to the batch's mask, and try_to_unmap_flush() -- before freed
** pages are reused, before a dirty one is written, after a split's or a
** migration batch's unmaps -- sends one flush of no mm to the mask (each
** CPU not lazy flushes whatever mm it runs that is behind); arm64 issues
** the TLBIs at once (last level) and only its barrier waits.  The mm
** counts the deferrals (tlb_flush_batched), and the next walk that takes
** one of its PTE locks (zap, mprotect, mremap, MADV_FREE, MADV_COLD /
** PAGEOUT) flushes it whole first (flush_tlb_batched_pending): the mm
** cannot know the batch was flushed.
**
** CPUs and tasks: a task gets a CPU round robin at spawn and fork and
** keeps it until memlab_task_run_on().  A task's access or system call
** runs it on its CPU: when another mm is loaded there that is a context
** switch (switch_mm).  A CPU whose task moved away or exited is idle and
** lazy (the mm stays loaded, Linux's lazy TLB mode).  A flush starts on
** the CPU of the code that issues it (smp_processor_id): the task whose
** call it is, whatever mm it flushes (direct reclaim of another task's
** pages is a shootdown of that task's CPU); outside a task's call --
** kswapd, kcompactd, khugepaged, the shrinkers of m:drop_caches, a
** write to a root cgroup file -- a kernel thread on CPU 0, which keeps
** the user mm it had loaded lazily while it runs.
**
** Defaults
** --------
** x86-64: Skylake (Intel 64 and IA-32 Architectures Optimization
** Reference Manual, "TLB Parameters of the Skylake Microarchitecture"):
**   L1i     128 entries, 8-way, 4K       L1i 2M   8 entries, fully assoc.
**   L1d      64 entries, 4-way, 4K       L1d 2M  32 entries, 4-way
**   L1d 1G    4 entries, fully assoc.
**   STLB   1536 entries, 12-way, 4K+2M   STLB 1G 16 entries, 4-way
** Page-walk caches: Intel documents that they exist (SDM 4.10.3), not
** their sizes; memlab assumes 32 PDE, 4 PDPTE and 2 PML4E (and 2 PML5E)
** entries, the figures commonly assumed for this generation in the
** research literature.
** arm64: Cortex-A76 / Neoverse N1 (their Technical Reference Manuals):
**   L1i 48 entries and L1d 48 entries, fully associative, L2 1280
**   entries, 5-way, every page and block size of the granule and the
**   contiguous PTE block's (the cores honour the contiguous bit).  The TRMs
**   describe a walk cache without per-level sizes: memlab assumes the
**   x86 figures.  16-bit ASIDs.
** Policies default to LRU (the cores' real policies are undocumented
** pseudo-LRU variants).
**
** Simplified: no speculative or prefetching fills, no split of loads and
** stores, no KPTI (one PCID per mm), no x86 INVLPGB / global ASIDs, no
** arm64 FEAT_TLBIRANGE, no contiguous PMDs (hugetlb's only, whose pool
** is empty); idle CPUs never trim
** mm_cpumask (Linux does once a second; memlab has no clock).  Compulsory
** misses are counted with a per-CPU hash set of the (mm, page) pairs
** looked up, with a bit per structure, eight neighbouring pages to a
** slot, up to 2^20 slots; beyond that unseen pages count as compulsory
** (an over-estimate, compulsory_exact = 0).  The set holds 64-bit hashes:
** a collision (about 2^-64 per pair) would hide compulsory misses.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mm.h"
#include "tlb.h"

/* enum tlb_flush_reason (include/linux/mm_types.h), the tlb_flush tracepoint's */
enum { TLB_FLUSH_ON_TASK_SWITCH, TLB_REMOTE_SHOOTDOWN, TLB_LOCAL_SHOOTDOWN,
       TLB_LOCAL_MM_SHOOTDOWN, TLB_REMOTE_SEND_IPI };

#define SEEN_MAX_SLOTS		(1ull << 20)
#define TLB_MAX_ENTRIES		(1u << 20)
#define PWC_MAX_ENTRIES		4096u
#define TLB_SINGLE_PAGE_FLUSH_CEILING	33	/* tlb_single_page_flush_ceiling */

static void seen_release(memlab_machine *m, struct tlb_seen *s);

/* ===================== defaults ===================== */

static const struct memlab_tlb_desc x86_skylake[] = {
	{ "L1i", 1, MEMLAB_TLB_INSN, 128, 8, MEMLAB_TLB_LRU, 1ull << 12 },
	{ "L1i 2M", 1, MEMLAB_TLB_INSN, 8, 8, MEMLAB_TLB_LRU, 1ull << 21 },
	{ "L1d", 1, MEMLAB_TLB_DATA, 64, 4, MEMLAB_TLB_LRU, 1ull << 12 },
	{ "L1d 2M", 1, MEMLAB_TLB_DATA, 32, 4, MEMLAB_TLB_LRU, 1ull << 21 },
	{ "L1d 1G", 1, MEMLAB_TLB_DATA, 4, 4, MEMLAB_TLB_LRU, 1ull << 30 },
	{ "STLB", 2, MEMLAB_TLB_UNIFIED, 1536, 12, MEMLAB_TLB_LRU, (1ull << 12) | (1ull << 21) },
	{ "STLB 1G", 2, MEMLAB_TLB_UNIFIED, 16, 4, MEMLAB_TLB_LRU, 1ull << 30 },
};

static const struct memlab_tlb_desc arm64_a76[] = {
	{ "L1i", 1, MEMLAB_TLB_INSN, 48, 48, MEMLAB_TLB_LRU, 0 },
	{ "L1d", 1, MEMLAB_TLB_DATA, 48, 48, MEMLAB_TLB_LRU, 0 },
	{ "L2", 2, MEMLAB_TLB_UNIFIED, 1280, 5, MEMLAB_TLB_LRU, 0 },
};

static const uint32_t default_pwc[PT_MAX_LEVELS] = { 0, 32, 4, 2, 2 };

/* The leaf sizes of a format as page_sizes bits, arm64's contiguous PTE block's too. */
static uint64_t format_sizes(const struct pt_format *f)
{
	uint64_t sizes = 0;

	for (unsigned l = 0; l < f->levels; l++)
		if (f->leaf_levels & (1u << l))
			sizes |= 1ull << pt_level_shift(f, l);
	if (f->cont_shift)
		sizes |= 1ull << f->cont_shift;
	return sizes;
}

/* The shift of the pages an entry of a key's level maps. */
static unsigned level_shift(const struct pt_format *f, unsigned level)
{
	return level == TLB_CONT_LEVEL ? f->cont_shift : pt_level_shift(f, level);
}

/* A key level's name: the page table level's, or "contiguous PTE". */
static const char *level_name(const struct pt_format *f, unsigned level)
{
	return level == TLB_CONT_LEVEL ? "contiguous PTE" : pt_level_name(f, level);
}

int memlab_tlb_default_config(int arch, uint32_t page_size, unsigned va_bits,
			      struct memlab_tlb_config *cfg)
{
	struct pt_format f;
	const struct memlab_tlb_desc *d;
	unsigned shift = page_size ? (unsigned)__builtin_ctz(page_size) : 0;

	memset(cfg, 0, sizeof(*cfg));
	if (!page_size || (page_size & (page_size - 1)) ||
	    pt_format_init(&f, arch, shift, va_bits ? va_bits : 48))
		return -MEMLAB_EINVAL;
	d = arch == MEMLAB_ARCH_X86_64 ? x86_skylake : arm64_a76;
	cfg->nr = arch == MEMLAB_ARCH_X86_64 ? 7 : 3;
	for (int i = 0; i < cfg->nr; i++) {
		cfg->tlb[i] = d[i];
		if (!cfg->tlb[i].page_sizes)
			cfg->tlb[i].page_sizes = format_sizes(&f);
	}
	cfg->pwc_set = 1;
	for (unsigned l = 1; l < f.levels; l++)
		cfg->pwc[l] = default_pwc[l];
	cfg->asid_bits = arch == MEMLAB_ARCH_ARM64 ? 16 : 0;
	return 0;
}

/* ===================== configuration ===================== */

/* "4K", "2M", "1G", "512M": a page size in words. */
static void size_name(char *buf, size_t size, unsigned shift)
{
	static const char units[] = "KMGT";

	snprintf(buf, size, "%llu%c", 1ull << (shift % 10), units[shift / 10 - 1]);
}

/* The sizes of page_sizes joined by ",", as size_name writes them. */
static void sizes_name(char *buf, size_t size, uint64_t sizes)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned s = 10; s < 50 && len < size; s++) {
		char one[16];

		if (!(sizes & (1ull << s)))
			continue;
		size_name(one, sizeof(one), s);
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", one);
	}
}

/* One structure's description: its numbers and sizes the format has. */
static int check_desc(memlab_machine *m, const struct pt_format *f, int i,
		      const struct memlab_tlb_desc *d)
{
	uint64_t have = format_sizes(f);
	char sizes[64];

	if (d->level != 1 && d->level != 2)
		return ml_bad_config(m, "tlb[%d] (\"%s\"): level (%d) must be 1 or 2", i + 1, d->name, d->level);
	if (d->kind < MEMLAB_TLB_INSN || d->kind > MEMLAB_TLB_UNIFIED)
		return ml_bad_config(m, "tlb[%d] (\"%s\"): unknown kind %d", i + 1, d->name, d->kind);
	if (d->entries < 1 || d->entries > TLB_MAX_ENTRIES)
		return ml_bad_config(m, "tlb[%d] (\"%s\"): entries (%u) must be 1..%u", i + 1, d->name,
			       d->entries, TLB_MAX_ENTRIES);
	if (d->ways < 1 || d->ways > d->entries || d->entries % d->ways)
		return ml_bad_config(m, "tlb[%d] (\"%s\"): ways (%u) must divide entries (%u)", i + 1,
			       d->name, d->ways, d->entries);
	if (d->policy < MEMLAB_TLB_LRU || d->policy > MEMLAB_TLB_LFU)
		return ml_bad_config(m, "tlb[%d] (\"%s\"): unknown policy %d", i + 1, d->name, d->policy);
	sizes_name(sizes, sizeof(sizes), have);
	if (!d->page_sizes || (d->page_sizes & ~have))
		return ml_bad_config(m, "tlb[%d] (\"%s\"): page sizes must be some of %s", i + 1, d->name,
			       sizes);
	return 0;
}

/* The page-walk caches: only for the upper levels the format has. */
static int check_pwc(memlab_machine *m, const struct pt_format *f, const uint32_t *pwc)
{
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++) {
		if (!pwc[l])
			continue;
		if (l == 0 || l >= f->levels)
			return ml_bad_config(m, "tlb.pwc: the %u-level page tables have no upper level %u",
				       f->levels, l);
		if (pwc[l] > PWC_MAX_ENTRIES)
			return ml_bad_config(m, "tlb.pwc: %u entries for level %u (at most %u)", pwc[l], l,
				       PWC_MAX_ENTRIES);
	}
	return 0;
}

/* cfg as applied: the defaults where it asks for them, then checked. */
static int tlb_apply_config(memlab_machine *m, const struct memlab_config *cfg,
			    struct tlb_machine *tm)
{
	const struct memlab_tlb_config *in = &cfg->tlb;
	struct memlab_tlb_config *out = &tm->cfg;
	int err;

	memlab_tlb_default_config(m->arch, m->page_size, m->va_bits, out);
	if (in->nr < 0 || in->nr > MEMLAB_TLB_MAX)
		return ml_bad_config(m, "tlb: %d structures (at most %d)", in->nr, MEMLAB_TLB_MAX);
	if (in->nr) {
		out->nr = in->nr;
		memcpy(out->tlb, in->tlb, sizeof(out->tlb));
	}
	if (in->pwc_set)
		memcpy(out->pwc, in->pwc, sizeof(out->pwc));
	if (in->disabled) {
		out->nr = 0;
		memset(out->pwc, 0, sizeof(out->pwc));
	}
	out->disabled = in->disabled;
	out->nopcid = in->nopcid;
	if (in->asid_bits)
		out->asid_bits = in->asid_bits;
	if (m->arch == MEMLAB_ARCH_X86_64 && in->asid_bits)
		return ml_bad_config(m, "tlb.asid_bits is arm64's (x86-64 has %d ASIDs per CPU)",
			       TLB_NR_DYN_ASIDS);
	if (m->arch == MEMLAB_ARCH_ARM64 && in->nopcid)
		return ml_bad_config(m, "tlb.pcid is x86-64's (arm64 has ASIDs)");
	if (m->arch == MEMLAB_ARCH_ARM64 && out->asid_bits != 8 && out->asid_bits != 16)
		return ml_bad_config(m, "tlb.asid_bits (%u) must be 8 or 16", out->asid_bits);
	for (int i = 0; i < out->nr; i++)
		if ((err = check_desc(m, &tm->fmt, i, &out->tlb[i])))
			return err;
	return check_pwc(m, &tm->fmt, out->pwc);
}

/* ===================== setup ===================== */

#define TLB_TAG_PAD	0x01	/* neither 0 (invalid) nor a tag (bit 7 set) */

/* An entry's tag (struct tlb): a byte of its key's hash, bit 7 set. */
static inline uint8_t tlb_tag(uint64_t key)
{
	return (uint8_t)(0x80 | (key * 0x9e3779b97f4a7c15ull) >> 57);
}

static unsigned next_pow2(uint32_t x)
{
	unsigned p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

static size_t tlb_slots(const struct tlb *tl)
{
	return (size_t)tl->sets * tl->ways;
}

static size_t tlb_tag_bytes(const struct tlb *tl)
{
	return (size_t)tl->sets * tl->tag_stride;
}

/* One structure from its description: the sets, the sizes, the arrays. */
static int tlb_alloc(memlab_machine *m, const struct pt_format *f, struct tlb *tl,
		     const struct memlab_tlb_desc *d)
{
	size_t n;

	tl->desc = *d;
	tl->ways = d->ways;
	tl->sets = d->entries / d->ways;
	tl->sets_pow2 = !(tl->sets & (tl->sets - 1));
	tl->set_mask = tl->sets - 1;
	for (unsigned l = 0; l < f->levels; l++) {
		if (l == 1 && f->cont_shift && (d->page_sizes & (1ull << f->cont_shift))) {
			tl->level[tl->nr_sizes] = TLB_CONT_LEVEL;	/* between PTE and PMD */
			tl->shift[tl->nr_sizes++] = (uint8_t)f->cont_shift;
			tl->levels_mask |= 1u << TLB_CONT_LEVEL;
		}
		if (!(d->page_sizes & (1ull << pt_level_shift(f, l))))
			continue;
		tl->level[tl->nr_sizes] = (uint8_t)l;
		tl->shift[tl->nr_sizes++] = (uint8_t)pt_level_shift(f, l);
		tl->levels_mask |= 1u << l;
	}
	tl->plru_leaves = next_pow2(tl->ways);
	tl->plru_words = (tl->plru_leaves + 63) / 64;
	n = tlb_slots(tl);
	tl->key = ml_alloc(m, n * sizeof(uint64_t));
	tl->pfn = ml_alloc(m, n * sizeof(uint64_t));
	tl->stamp = ml_alloc(m, n * sizeof(uint64_t));
	tl->flags = ml_alloc(m, n);
	tl->tag_stride = (tl->ways + 7) & ~7u;
	tl->tag = ml_alloc(m, tlb_tag_bytes(tl));
	if (tl->tag)
		for (uint64_t set = 0; set < tl->sets; set++)
			memset(tl->tag + set * tl->tag_stride + tl->ways, TLB_TAG_PAD,
			       tl->tag_stride - tl->ways);
	if (d->policy == MEMLAB_TLB_PLRU)
		tl->plru = ml_alloc(m, (size_t)tl->sets * tl->plru_words * sizeof(uint64_t));
	if (!tl->key || !tl->pfn || !tl->stamp || !tl->flags || !tl->tag ||
	    (d->policy == MEMLAB_TLB_PLRU && !tl->plru))
		return -MEMLAB_ENOMEM;
	return 0;
}

static void tlb_release(memlab_machine *m, struct tlb *tl)
{
	size_t n = tlb_slots(tl);

	ml_free(m, tl->key, n * sizeof(uint64_t));
	ml_free(m, tl->pfn, n * sizeof(uint64_t));
	ml_free(m, tl->stamp, n * sizeof(uint64_t));
	ml_free(m, tl->flags, n);
	ml_free(m, tl->tag, tlb_tag_bytes(tl));
	ml_free(m, tl->plru, (size_t)tl->sets * tl->plru_words * sizeof(uint64_t));
}

static int pwc_alloc(memlab_machine *m, struct pwc *p, uint32_t n)
{
	p->n = n;
	if (!n)
		return 0;
	p->key = ml_alloc(m, n * sizeof(uint64_t));
	p->table = ml_alloc(m, n * sizeof(uint64_t));
	p->stamp = ml_alloc(m, n * sizeof(uint64_t));
	return p->key && p->table && p->stamp ? 0 : -MEMLAB_ENOMEM;
}

static void pwc_release(memlab_machine *m, struct pwc *p)
{
	ml_free(m, p->key, p->n * sizeof(uint64_t));
	ml_free(m, p->table, p->n * sizeof(uint64_t));
	ml_free(m, p->stamp, p->n * sizeof(uint64_t));
}

/* The order a CPU probes its structures in, per access kind and level. */
static void cpu_probe_order(struct tlb_cpu *c, const struct memlab_tlb_config *cfg)
{
	for (int kind = 0; kind < 2; kind++) {
		int bit = kind ? MEMLAB_TLB_DATA : MEMLAB_TLB_INSN;

		for (int i = 0; i < cfg->nr; i++) {
			int lv = cfg->tlb[i].level - 1;

			if (cfg->tlb[i].kind & bit)
				c->probe[kind][lv][c->nprobe[kind][lv]++] = (uint8_t)i;
		}
	}
}

/*
** A CPU as it comes out of boot: init_mm loaded in ASID slot 0, the
** allocation cursor at 1 (initialize_tlbstate_and_flush), empty TLBs.
*/
static int cpu_init(memlab_machine *m, struct tlb_machine *tm, struct tlb_cpu *c, int id)
{
	int err = 0;

	c->id = id;
	c->m = m;
	c->page_shift = (uint8_t)m->page_shift;
	c->st.cpu = id;
	c->next_asid = 1;
	c->hint_gen = 1;		/* the zeroed hints are of generation 0: none holds */
	c->ctxs[0].ctx_id = INIT_MM_CTX_ID;
	if (tm->nr && !(c->tlb = ml_alloc(m, (size_t)tm->nr * sizeof(*c->tlb))))
		return -MEMLAB_ENOMEM;
	for (int i = 0; i < tm->nr && !err; i++)
		err = tlb_alloc(m, &tm->fmt, &c->tlb[i], &tm->cfg.tlb[i]);
	for (unsigned l = 0; l < PT_MAX_LEVELS && !err; l++)
		err = pwc_alloc(m, &c->pwc[l], tm->cfg.pwc[l]);
	cpu_probe_order(c, &tm->cfg);
	return err;
}

static void cpu_release(memlab_machine *m, struct tlb_machine *tm, struct tlb_cpu *c)
{
	if (c->tlb) {
		for (int i = 0; i < tm->nr; i++)
			tlb_release(m, &c->tlb[i]);
		ml_free(m, c->tlb, (size_t)tm->nr * sizeof(*c->tlb));
	}
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++)
		pwc_release(m, &c->pwc[l]);
	seen_release(m, &c->seen);
}

/* arm64's ASID allocator: generation 1, no ASID taken (asids_init). */
static int asids_init(memlab_machine *m, struct tlb_machine *tm)
{
	uint64_t nr = 1ull << tm->cfg.asid_bits;

	tm->asid_bits = tm->cfg.asid_bits;
	tm->asid_generation = nr;
	tm->cur_idx = 1;
	tm->asid_map = ml_alloc(m, (size_t)(nr / 64) * sizeof(uint64_t));
	return tm->asid_map ? 0 : -MEMLAB_ENOMEM;
}

/*
** The machine's CPUs and their TLBs from cfg (cpus, tlb).  Returns 0,
** -MEMLAB_EINVAL for a configuration it refuses (reported, naming the
** field), -MEMLAB_ENOMEM.  tlb_free undoes a partial setup.
*/
int tlb_init(memlab_machine *m, const struct memlab_config *cfg)
{
	struct tlb_machine *tm = ml_alloc(m, sizeof(*tm));
	int err;

	if (!tm)
		return -MEMLAB_ENOMEM;
	m->tlb = tm;
	tm->m = m;
	tm->nr_cpus = m->nr_cpus;	/* apply_config() checked cfg->cpus */
	tm->last_ctx_id = INIT_MM_CTX_ID;
	if (pt_format_init(&tm->fmt, m->arch, m->page_shift, m->va_bits))
		return -MEMLAB_EINVAL;
	if ((err = tlb_apply_config(m, cfg, tm)))
		return err;
	tm->nr = tm->cfg.nr;
	if (m->arch == MEMLAB_ARCH_ARM64 && (err = asids_init(m, tm)))
		return err;
	tm->cpu = ml_alloc(m, (size_t)tm->nr_cpus * sizeof(*tm->cpu));
	if (!tm->cpu)
		return -MEMLAB_ENOMEM;
	for (int i = 0; i < tm->nr_cpus; i++)
		if ((err = cpu_init(m, tm, &tm->cpu[i], i)))
			return err;
	return 0;
}

void tlb_free(memlab_machine *m)
{
	struct tlb_machine *tm = m->tlb;

	if (!tm)
		return;
	if (tm->cpu) {
		for (int i = 0; i < tm->nr_cpus; i++)
			cpu_release(m, tm, &tm->cpu[i]);
		ml_free(m, tm->cpu, (size_t)tm->nr_cpus * sizeof(*tm->cpu));
	}
	if (tm->asid_map)
		ml_free(m, tm->asid_map, (size_t)((1ull << tm->asid_bits) / 64) * sizeof(uint64_t));
	ml_free(m, tm, sizeof(*tm));
	m->tlb = NULL;
}

/* ===================== entries and replacement ===================== */

static inline uint64_t tlb_key(uint64_t vpn, unsigned asid, unsigned level)
{
	return vpn << TLB_KEY_VPN_SHIFT | (uint64_t)asid << TLB_KEY_ASID_SHIFT | level << 1 | 1;
}

static inline unsigned key_asid(uint64_t key)
{
	return (unsigned)((key & TLB_KEY_ASID_MASK) >> TLB_KEY_ASID_SHIFT);
}

static inline unsigned key_level(uint64_t key)
{
	return (unsigned)(key >> 1) & 3;
}

static inline uint64_t tlb_set(const struct tlb *tl, uint64_t vpn)
{
	return tl->sets_pow2 ? vpn & tl->set_mask : vpn % tl->sets;
}

/* ---- searching a set's tags a word (8 ways) at a time ---- */

/* Bit 7 of each byte of x that equals b, and no other bit. */
static inline uint64_t bytes_equal(uint64_t x, uint8_t b)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
	uint64_t y = x ^ (b * 0x0101010101010101ull);

	return ~(((y & low7) + low7) | y | low7);
}

/* The first way of a match mask (bytes_equal of the tag word at way base). */
static inline uint32_t match_way(uint32_t base, uint64_t match)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return base + (uint32_t)__builtin_clzll(match) / 8;
#else
	return base + (uint32_t)__builtin_ctzll(match) / 8;
#endif
}

static inline uint64_t tag_word(const uint8_t *tags, uint32_t base)
{
	uint64_t x;

	memcpy(&x, tags + base, sizeof(x));
	return x;
}

/* The first match mask bit's way dropped from it. */
static inline uint64_t match_next(uint64_t match)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return match & ~(0x8000000000000000ull >> __builtin_clzll(match));
#else
	return match & (match - 1);
#endif
}

/* The first way of set whose tag is b, or -1. */
static inline int64_t tag_find(const struct tlb *tl, uint64_t set, uint8_t b)
{
	const uint8_t *tags = tl->tag + set * tl->tag_stride;

	for (uint32_t base = 0; base < tl->ways; base += 8) {
		uint64_t match = bytes_equal(tag_word(tags, base), b);

		if (match)
			return match_way(base, match);
	}
	return -1;
}

/* A global entry for key's page, whatever its ASID: the way, or -1. */
static int64_t tlb_find_global(const struct tlb *tl, uint64_t set, uint64_t key)
{
	uint64_t base = set * tl->ways;

	for (uint32_t w = 0; w < tl->ways; w++)
		if (!((tl->key[base + w] ^ key) & ~TLB_KEY_ASID_MASK) &&
		    (tl->flags[base + w] & TLBF_GLOBAL))
			return w;
	return -1;
}

/* The way of set holding key (or a global entry for its page), or -1. */
static inline int64_t tlb_find(const struct tlb *tl, uint64_t set, uint64_t key)
{
	const uint64_t *k = tl->key + set * tl->ways;
	const uint8_t *tags = tl->tag + set * tl->tag_stride;
	uint8_t b;

	if (!tl->nr_level[key_level(key)])
		return -1;
	b = tlb_tag(key);
	for (uint32_t base = 0; base < tl->ways; base += 8) {
		for (uint64_t match = bytes_equal(tag_word(tags, base), b); match;
		     match = match_next(match)) {
			uint32_t w = match_way(base, match);

			if (k[w] == key)
				return w;
		}
	}
	return tl->nr_global ? tlb_find_global(tl, set, key) : -1;
}

static inline bool plru_bit(const uint64_t *bits, unsigned node)
{
	return bits[node >> 6] >> (node & 63) & 1;
}

/* Tree-PLRU: every node on way's path now points to the other half. */
void plru_touch(struct tlb *tl, uint64_t set, uint32_t way)
{
	uint64_t *bits = tl->plru + set * tl->plru_words;
	unsigned node = tl->plru_leaves + way;

	for (; node > 1; node >>= 1) {
		unsigned parent = node >> 1;
		uint64_t bit = 1ull << (parent & 63);

		if (node & 1)	/* a right child: the parent points left */
			bits[parent >> 6] &= ~bit;
		else
			bits[parent >> 6] |= bit;
	}
}

/* The subtree under node holds a real way (its leftmost leaf is one). */
static bool plru_side_exists(const struct tlb *tl, unsigned node)
{
	while (node < tl->plru_leaves)
		node <<= 1;
	return node - tl->plru_leaves < tl->ways;
}

/* Tree-PLRU's victim: follow the bits, never into a side without ways. */
static uint32_t plru_victim(const struct tlb *tl, uint64_t set)
{
	const uint64_t *bits = tl->plru + set * tl->plru_words;
	unsigned node = 1;

	while (node < tl->plru_leaves) {
		unsigned child = 2 * node + plru_bit(bits, node);

		if (!plru_side_exists(tl, child))
			child ^= 1;
		node = child;
	}
	return node - tl->plru_leaves;
}

/* The way a fill of set takes: an invalid one first, else the policy's. */
static uint32_t tlb_victim(memlab_machine *m, struct tlb *tl, uint64_t set)
{
	const uint64_t *s = tl->stamp + set * tl->ways;
	int64_t free = tag_find(tl, set, 0);
	uint32_t v = 0;

	if (free >= 0)
		return (uint32_t)free;
	if (tl->desc.policy == MEMLAB_TLB_RANDOM)
		return (uint32_t)(rng_next(&m->rng) % tl->ways);
	if (tl->desc.policy == MEMLAB_TLB_PLRU)
		return plru_victim(tl, set);
	for (uint32_t w = 1; w < tl->ways; w++)	/* LRU, FIFO, LFU: the smallest stamp */
		if (s[w] < s[v])
			v = w;
	return v;
}

/* The valid entries of tl, of every size. */
static inline uint32_t tlb_nr_valid(const struct tlb *tl)
{
	return tl->nr_level[0] + tl->nr_level[1] + tl->nr_level[2] + tl->nr_level[3];
}

/* Invalidate the entry of set at way (a flush, a refusing hit). */
static void tlb_invalidate(struct tlb *tl, uint64_t set, uint32_t way)
{
	uint64_t i = set * tl->ways + way;

	if (tl->flags[i] & TLBF_GLOBAL)
		tl->nr_global--;
	tl->nr_level[key_level(tl->key[i])]--;
	tl->key[i] = 0;
	tl->tag[set * tl->tag_stride + way] = 0;
}

/*
** Fill: the translation of vpn (a page of tl's size slot) for asid into
** its set, replacing an entry with the same key or the policy's victim.
*/
static void tlb_insert(memlab_machine *m, struct tlb *tl, unsigned slot, uint64_t vpn,
		       unsigned asid, uint64_t pfn, uint8_t flags)
{
	uint64_t set = tlb_set(tl, vpn), key = tlb_key(vpn, asid, tl->level[slot]), i;
	int64_t w = tlb_find(tl, set, key);

	if (w < 0 || tl->key[set * tl->ways + (uint64_t)w] != key)
		w = tlb_victim(m, tl, set);
	i = set * tl->ways + (uint64_t)w;
	if (tl->key[i]) {
		if (tl->key[i] != key)
			tl->st.evictions++;
		tlb_invalidate(tl, set, (uint32_t)w);
	}
	tl->key[i] = key;
	tl->tag[set * tl->tag_stride + (uint64_t)w] = tlb_tag(key);
	tl->pfn[i] = pfn;
	tl->flags[i] = flags;
	tl->nr_global += (flags & TLBF_GLOBAL) != 0;
	tl->nr_level[key_level(key)]++;
	tl->stamp[i] = tl->desc.policy == MEMLAB_TLB_LFU ? 0 : ++tl->clock;
	if (tl->desc.policy == MEMLAB_TLB_PLRU)
		plru_touch(tl, set, (uint32_t)w);
	tl->st.fills++;
}

/* ===================== compulsory misses ===================== */

static uint64_t seen_hash(uint64_t ctx_id, uint64_t vpn, unsigned level)
{
	uint64_t x = ctx_id * 0x9e3779b97f4a7c15ull ^ (vpn << 2 | level);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x ? x : 1;
}

static void seen_release(memlab_machine *m, struct tlb_seen *s)
{
	ml_free(m, s->slot, s->cap * sizeof(uint64_t));
	ml_free(m, s->mask, s->cap * sizeof(*s->mask));
}

/* Double the set (1024 slots to start); -ENOMEM past SEEN_MAX_SLOTS. */
static int seen_grow(memlab_machine *m, struct tlb_seen *s)
{
	struct tlb_seen n = { NULL, NULL, s->cap ? s->cap * 2 : 1024, s->used, false };

	if (n.cap > SEEN_MAX_SLOTS)
		return -MEMLAB_ENOMEM;
	n.slot = ml_alloc(m, n.cap * sizeof(uint64_t));
	n.mask = ml_alloc(m, n.cap * sizeof(*n.mask));
	if (!n.slot || !n.mask) {
		seen_release(m, &n);
		return -MEMLAB_ENOMEM;
	}
	for (uint64_t i = 0; i < s->cap; i++) {
		uint64_t h = s->slot[i], j = h & (n.cap - 1);

		if (!h)
			continue;
		while (n.slot[j])
			j = (j + 1) & (n.cap - 1);
		n.slot[j] = h;
		memcpy(n.mask[j], s->mask[i], sizeof(n.mask[j]));
	}
	seen_release(m, s);
	*s = n;
	return 0;
}

/*
** Note a lookup of (mm, page) by structure i (h: seen_hash of the mm and
** the page's group of SEEN_PAGES, sub: the page in it): true the first
** time (a compulsory miss).  A full set keeps answering for what it holds
** and calls the rest new.
*/
static bool seen_mark(memlab_machine *m, struct tlb_seen *s, uint64_t h, unsigned sub,
		      unsigned i)
{
	uint16_t bit = (uint16_t)(1u << i);
	uint64_t j;

	if (!s->full && (s->used + 1) * 4 > s->cap * 3 && seen_grow(m, s))
		s->full = true;
	if (!s->cap)
		return true;
	for (j = h & (s->cap - 1); s->slot[j]; j = (j + 1) & (s->cap - 1)) {
		if (s->slot[j] != h)
			continue;
		if (s->mask[j][sub] & bit)
			return false;
		s->mask[j][sub] |= bit;
		return true;
	}
	if ((s->used + 1) * 4 <= s->cap * 3) {
		s->slot[j] = h;
		memset(s->mask[j], 0, sizeof(s->mask[j]));
		s->mask[j][sub] = bit;
		s->used++;
	}
	return true;
}

/* ===================== page-walk caches ===================== */

static int64_t pwc_find(const struct pwc *p, uint64_t key)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->key[i] == key)
			return i;
	return -1;
}

/* Cache a table entry: key's range is translated through table. */
static void pwc_insert(struct pwc *p, uint64_t key, uint64_t table)
{
	int64_t i = pwc_find(p, key);

	if (i < 0) {
		i = 0;
		for (uint32_t j = 0; j < p->n; j++) {
			if (!p->key[j]) {
				i = j;
				break;
			}
			if (p->stamp[j] < p->stamp[i])
				i = j;
		}
	}
	p->key[i] = key;
	p->table[i] = table;
	p->stamp[i] = ++p->clock;
}

/* Drop the entries of asid (all of them when va_shift is 0, else va's). */
static void pwc_flush(struct pwc *p, unsigned asid, uint64_t va, unsigned va_shift)
{
	uint64_t key = va_shift ? tlb_key(va >> va_shift, asid, 0) : 0;

	for (uint32_t i = 0; i < p->n; i++) {
		if (!p->key[i] || key_asid(p->key[i]) != asid)
			continue;
		if (!va_shift || p->key[i] == key)
			p->key[i] = 0;
	}
}

/* ===================== invalidation on one CPU ===================== */

/* Invalidate tl's entries for va, of asid or global, whatever their size; how many. */
static unsigned tlb_drop_va(struct tlb *tl, unsigned asid, uint64_t va)
{
	unsigned n = 0;

	for (unsigned s = 0; s < tl->nr_sizes; s++) {
		uint64_t vpn = va >> tl->shift[s], set = tlb_set(tl, vpn);
		int64_t w = tlb_find(tl, set, tlb_key(vpn, asid, tl->level[s]));

		if (w >= 0) {
			tlb_invalidate(tl, set, (uint32_t)w);
			n++;
		}
	}
	return n;
}

/* Every entry of asid that is not global, in every structure (a CR3 load, ASIDE1). */
static void cpu_flush_asid(struct tlb_machine *tm, struct tlb_cpu *c, unsigned asid)
{
	c->hint_gen++;		/* no hint holds any more */
	for (int t = 0; t < tm->nr; t++) {
		struct tlb *tl = &c->tlb[t];

		tl->st.flush_events++;
		for (uint64_t set = 0; tlb_nr_valid(tl) && set < tl->sets; set++) {
			for (uint32_t w = 0; w < tl->ways; w++) {
				uint64_t i = set * tl->ways + w;

				if (!tl->key[i] || key_asid(tl->key[i]) != asid ||
				    (tl->flags[i] & TLBF_GLOBAL))
					continue;
				tlb_invalidate(tl, set, w);
				tl->st.flushed++;
			}
		}
	}
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++)
		pwc_flush(&c->pwc[l], asid, 0, 0);
}

/*
** The leaf entries for va, of asid or global, whatever their page size
** (INVLPG, TLBI VA[L]E1).  pwc: 0 leaves the page-walk caches alone
** (last level), 1 drops the ASID's entries covering va (arm64 VAE1),
** 2 drops all of the ASID's entries (x86 INVLPG, SDM 4.10.4.1).
*/
static void cpu_flush_va(struct tlb_machine *tm, struct tlb_cpu *c, unsigned asid, uint64_t va,
			 int pwc)
{
	c->hint_gen++;		/* no hint holds any more */
	for (int t = 0; t < tm->nr; t++) {
		c->tlb[t].st.flush_events++;
		c->tlb[t].st.flushed += tlb_drop_va(&c->tlb[t], asid, va);
	}
	for (unsigned l = 1; pwc && l < tm->fmt.levels; l++)	/* the format's levels only */
		pwc_flush(&c->pwc[l], asid, va, pwc == 1 ? pt_level_shift(&tm->fmt, l) : 0);
}

/* Everything, global entries too (__flush_tlb_all, local_flush_tlb_all). */
static void cpu_flush_everything(struct tlb_machine *tm, struct tlb_cpu *c)
{
	c->hint_gen++;		/* no hint holds any more */
	for (int t = 0; t < tm->nr; t++) {
		struct tlb *tl = &c->tlb[t];

		tl->st.flush_events++;
		for (uint64_t set = 0; tlb_nr_valid(tl) && set < tl->sets; set++) {
			for (uint32_t w = 0; w < tl->ways; w++) {
				if (!tl->key[set * tl->ways + w])
					continue;
				tlb_invalidate(tl, set, w);
				tl->st.flushed++;
			}
		}
	}
	for (unsigned l = 0; l < PT_MAX_LEVELS; l++)
		for (uint32_t i = 0; i < c->pwc[l].n; i++)
			c->pwc[l].key[i] = 0;
}

void memlab_tlb_flush_all(memlab_machine *m)
{
	for (int i = 0; i < m->tlb->nr_cpus; i++)
		cpu_flush_everything(m->tlb, &m->tlb->cpu[i]);
}

/* ===================== the access path ===================== */

struct tlb_hit {
	struct tlb *tl;
	uint64_t set;
	uint32_t way;
	unsigned slot;		/* which of tl's page sizes */
};

/* Probe the structures of level lv (0: L1, 1: L2) for va, smallest size first. */
static inline bool tlb_probe(struct tlb_cpu *c, int kind, int lv, uint64_t va, unsigned asid,
			     struct tlb_hit *h)
{
	for (unsigned i = 0; i < c->nprobe[kind][lv]; i++) {
		struct tlb *tl = &c->tlb[c->probe[kind][lv][i]];

		for (unsigned s = 0; s < tl->nr_sizes; s++) {
			uint64_t vpn, set;
			int64_t w;

			if (!tl->nr_level[tl->level[s]])
				continue;	/* (tlb_find would say so, later) */
			vpn = va >> tl->shift[s];
			set = tlb_set(tl, vpn);
			w = tlb_find(tl, set, tlb_key(vpn, asid, tl->level[s]));
			if (w >= 0) {
				h->tl = tl;
				h->set = set;
				h->way = (uint32_t)w;
				h->slot = s;
				return true;
			}
		}
	}
	return false;
}

/* The first structure of (kind, lv) holding leaves of level: *slot its size. */
static struct tlb *tlb_holder(struct tlb_cpu *c, int kind, int lv, unsigned level,
			      unsigned *slot)
{
	for (unsigned i = 0; i < c->nprobe[kind][lv]; i++) {
		struct tlb *tl = &c->tlb[c->probe[kind][lv][i]];

		for (unsigned s = 0; s < tl->nr_sizes; s++) {
			if (tl->level[s] == level) {
				*slot = s;
				return tl;
			}
		}
	}
	return NULL;
}

/* A miss of tl for the page (vpn, level) of the loaded mm: counted, classified. */
static void tlb_count_miss(memlab_machine *m, struct tlb_cpu *c, struct tlb *tl, uint64_t vpn,
			   unsigned level)
{
	uint64_t ctx = c->loaded_mm ? c->loaded_mm->context.ctx_id : INIT_MM_CTX_ID;

	tl->st.lookups++;
	tl->st.misses++;
	if (seen_mark(m, &c->seen, seen_hash(ctx, vpn / SEEN_PAGES, level), vpn % SEEN_PAGES,
		      (unsigned)(tl - c->tlb)))
		tl->st.compulsory++;
}

/*
** The structure of (kind, lv) to fill with a leaf of level and the frame
** of va's page of it, pfn the leaf's first: a contiguous block goes where
** there is no room for its size as the page va is in (the hardware may
** ignore the contiguous bit).
*/
static inline struct tlb *tlb_fill_target(struct tlb_cpu *c, int kind, int lv, unsigned level,
					  uint64_t va, uint64_t *pfn, unsigned *slot)
{
	struct tlb *tl = tlb_holder(c, kind, lv, level, slot);

	if (tl || level != TLB_CONT_LEVEL)
		return tl;
	*pfn += (va >> c->page_shift) & (c->m->tlb->fmt.cont_ptes - 1);
	return tlb_holder(c, kind, lv, 0, slot);
}

/* A level-2 hit refills level 1 from the entry at h. */
static void tlb_refill_l1(memlab_machine *m, struct tlb_cpu *c, int kind, uint64_t va,
			  const struct tlb_hit *h)
{
	struct tlb *src = h->tl, *tl;
	uint64_t i = h->set * src->ways + h->way, pfn = src->pfn[i];
	unsigned slot;

	c->hint_gen++;		/* no hint holds any more */
	if (!(tl = tlb_fill_target(c, kind, 0, src->level[h->slot], va, &pfn, &slot)))
		return;
	tlb_count_miss(m, c, tl, va >> tl->shift[slot], tl->level[slot]);
	tlb_insert(m, tl, slot, va >> tl->shift[slot], key_asid(src->key[i]), pfn, src->flags[i]);
}

/*
** A matching entry: complete the access when it allows it, else drop the
** address's entries at every level (as the page fault, or the walk that
** sets D, does: Intel SDM 4.10.4.1).  An entry lacking only D lets the
** access walk to set it; one lacking a permission the access needs (W, U,
** X) makes it fault without a walk (c->lk_fault) -- spuriously when the
** page tables allow it now: Linux makes an entry writable without a flush
** where no CPU can hold it more permissive (wp_page_reuse after GUP's
** fault, ptep_set_access_flags) and lets such a fault fix the TLB.
*/
static inline bool tlb_use(memlab_machine *m, struct tlb_cpu *c, const struct tlb_hit *h,
			   int kind, int lv, uint64_t va, int access, uint64_t *phys)
{
	struct tlb *tl = h->tl;
	uint64_t i = h->set * tl->ways + h->way;
	uint8_t need = tlb_access_needs(access);

	tl->st.lookups++;
	if ((tl->flags[i] & need) != need) {
		tl->st.misses++;
		tl->st.perm++;
		c->lk_fault = (need & ~tl->flags[i] & (TLBF_WRITE | TLBF_USER | TLBF_EXEC)) != 0;
		c->hint_gen++;		/* entries go: no hint holds any more */
		for (int t = 0; t < m->tlb->nr; t++)
			tlb_drop_va(&c->tlb[t], key_asid(tl->key[i]), va);
		return false;
	}
	tl->st.hits++;
	c->st.level_hits[lv ? 2 : kind]++;
	tlb_touch(tl, h->set, h->way);
	*phys = (tl->pfn[i] << m->page_shift) | (va & ((1ull << tl->shift[h->slot]) - 1));
	if (lv) {
		tlb_refill_l1(m, c, kind, va, h);
		return true;
	}
	c->hint[(va >> c->page_shift) & (TLB_HINTS - 1)] = (struct tlb_hint){
		c->hint_gen, va >> tl->shift[h->slot], tl->pfn[i],
		(1ull << tl->shift[h->slot]) - 1, tl->shift[h->slot], (uint8_t)kind, tl->flags[i],
		h->way, tl, h->set };
	return true;
}

/*
** The lookup of an access retried after its page fault: no entry can
** hold the address (the walk that refused it found none, or the refusing
** entry was dropped, and only walks fill), so it misses at both levels,
** counted as a probe would count it.
*/
void tlb_lookup_retry(struct tlb_cpu *c, int access)
{
	int kind = access != 'x';

	c->st.level_lookups[kind]++;
	c->st.level_lookups[2]++;
	c->lk_missed = 3;
}

/*
** tlb_lookup() past its shortcut: probe level 1, then level 2.  True
** and *phys on a hit that allows the access; false when it must walk
** (then tlb_walk, and tlb_fill after it).
*/
bool tlb_lookup_levels(struct tlb_cpu *c, int kind, uint64_t va, int access, uint64_t *phys)
{
	memlab_machine *m = c->m;
	unsigned asid = c->loaded_mm_asid;
	struct tlb_hit h;

	c->lk_missed = 0;
	c->lk_fault = false;
	c->st.level_lookups[kind]++;
	if (tlb_probe(c, kind, 0, va, asid, &h))
		return tlb_use(m, c, &h, kind, 0, va, access, phys);
	c->lk_missed = 1;
	c->st.level_lookups[2]++;
	if (tlb_probe(c, kind, 1, va, asid, &h))
		return tlb_use(m, c, &h, kind, 1, va, access, phys);
	c->lk_missed = 3;
	return false;
}

/* The deepest page-walk cache holding va: its level (0: none), *table. */
static unsigned pwc_lookup(struct tlb_machine *tm, struct tlb_cpu *c, uint64_t va, unsigned asid,
			   uint64_t *table)
{
	for (unsigned l = 1; l < tm->fmt.levels; l++) {
		struct pwc *p = &c->pwc[l];
		int64_t i;

		if (!p->n)
			continue;
		c->st.pwc_lookups[l]++;
		i = pwc_find(p, tlb_key(va >> pt_level_shift(&tm->fmt, l), asid, 0));
		if (i >= 0) {
			c->st.pwc_hits[l]++;
			p->stamp[i] = ++p->clock;
			*table = p->table[i];
			return l;
		}
	}
	return 0;
}

/* The walk cached its table entries (w read levels top .. top - nr + 1). */
static void pwc_fill(struct tlb_machine *tm, struct tlb_cpu *c, uint64_t va, unsigned asid,
		     unsigned top, const struct pt_walk *w)
{
	for (unsigned i = 0; i + 1 < w->nr_levels; i++) {
		unsigned l = top - i;

		if (c->pwc[l].n)
			pwc_insert(&c->pwc[l], tlb_key(va >> pt_level_shift(&tm->fmt, l), asid, 0),
				   w->table[i + 1]);
	}
}

/*
** The hardware walk for t's access at va after a TLB miss: from the
** deepest page-walk cache that hits, else from the PGD; the tables read
** on the way are cached.  Returns what pt_walk returns.
*/
int tlb_walk(memlab_task *t, uint64_t va, struct pt_walk *w)
{
	struct tlb_machine *tm = t->m->tlb;
	struct tlb_cpu *c = &tm->cpu[t->cpu];
	const struct pt_format *f = &t->mm->pt;
	unsigned asid = c->loaded_mm_asid, top, hit;
	uint64_t table = 0;
	int err;

	if (!f->levels || va >> f->va_bits)
		return pt_walk(t->m, t->mm, va, w);
	hit = pwc_lookup(tm, c, va, asid, &table);
	top = hit ? hit - 1 : f->levels - 1;
	err = pt_walk_from(t->m, t->mm, va, top, hit ? table : t->mm->pgd, w);
	c->st.walks++;
	c->st.walk_mem_refs += w->mem_refs;
	pwc_fill(tm, c, va, asid, top, w);
	return err;
}

/* The bits an entry caches from a leaf. */
static uint8_t leaf_flags(const struct pt_prot *p)
{
	return (uint8_t)((p->write ? TLBF_WRITE : 0) | (p->user ? TLBF_USER : 0) |
			 (p->exec ? TLBF_EXEC : 0) | (p->dirty ? TLBF_DIRTY : 0) |
			 (p->accessed ? TLBF_ACCESSED : 0) | (p->global ? TLBF_GLOBAL : 0));
}

/*
** After a walk that allowed the access (and set A and D): the leaf w
** found goes into level 1 and level 2, each into the first structure of
** the access's kind holding its size; the levels the lookup missed count
** the miss there.
*/
void tlb_fill(memlab_task *t, uint64_t va, int access, const struct pt_walk *w)
{
	memlab_machine *m = t->m;
	struct tlb_cpu *c = &m->tlb->cpu[t->cpu];
	int kind = access != 'x';
	uint8_t flags = leaf_flags(&w->prot);
	bool cont = w->level == 0 && w->prot.cont;
	unsigned level = cont ? TLB_CONT_LEVEL : w->level;

	c->hint_gen++;		/* no hint holds any more */
	for (int lv = 0; lv < 2; lv++) {
		uint64_t pfn = cont ? w->pfn & ~(m->tlb->fmt.cont_ptes - 1) : w->pfn, vpn;
		unsigned slot;
		struct tlb *tl = tlb_fill_target(c, kind, lv, level, va, &pfn, &slot);

		if (!tl)
			continue;
		vpn = va >> tl->shift[slot];
		if (c->lk_missed & (1u << lv))
			tlb_count_miss(m, c, tl, vpn, tl->level[slot]);
		tlb_insert(m, tl, slot, vpn, c->loaded_mm_asid, pfn, flags);
	}
}

/* ===================== x86-64: ASIDs and switch_mm ===================== */

struct new_asid {
	unsigned asid;
	bool need_flush;
};

/*
** choose_new_asid(): the slot that holds next's ctx_id (flushed if it is
** behind next's tlb_gen), else the next slot round robin, flushed.
** Without PCID every switch uses ASID 0 and flushes.
*/
static struct new_asid choose_new_asid(struct tlb_machine *tm, struct tlb_cpu *c,
				       uint64_t ctx_id, uint64_t next_tlb_gen)
{
	struct new_asid ns = { 0, true };

	if (tm->cfg.nopcid)
		return ns;
	for (unsigned asid = 0; asid < TLB_NR_DYN_ASIDS; asid++) {
		if (c->ctxs[asid].ctx_id != ctx_id)
			continue;
		ns.asid = asid;
		ns.need_flush = c->ctxs[asid].tlb_gen < next_tlb_gen;
		return ns;
	}
	ns.asid = c->next_asid++;
	if (ns.asid >= TLB_NR_DYN_ASIDS) {
		ns.asid = 0;
		c->next_asid = 1;
	}
	return ns;
}

/*
** switch_mm_irqs_off(): load next (NULL: init_mm) on c.  A switch to
** another mm puts c in next's mm_cpumask and picks an ASID; coming back
** from lazy mode to the same mm flushes only if a flush was missed.  The
** previous mm keeps c in its mask (cleared lazily, by flush_tlb_func).
*/
static void x86_switch_mm(struct tlb_machine *tm, struct tlb_cpu *c, struct mm_struct *next)
{
	uint64_t ctx_id = next ? next->context.ctx_id : INIT_MM_CTX_ID;
	uint64_t next_tlb_gen = next ? next->context.tlb_gen : 0;
	bool was_lazy = c->is_lazy;
	struct new_asid ns;

	c->hint_gen++;		/* no hint holds any more */
	c->is_lazy = false;
	if (c->loaded_mm == next) {
		if (!was_lazy || c->ctxs[c->loaded_mm_asid].tlb_gen == next_tlb_gen)
			return;
		ns = (struct new_asid){ c->loaded_mm_asid, true };
	} else {
		if (next)
			next->context.cpumask |= 1ull << c->id;
		ns = choose_new_asid(tm, c, ctx_id, next_tlb_gen);
		c->st.context_switches++;
	}
	if (ns.need_flush) {	/* CR3 written without CR3_NOFLUSH */
		c->ctxs[ns.asid].ctx_id = ctx_id;
		c->ctxs[ns.asid].tlb_gen = next_tlb_gen;
		cpu_flush_asid(tm, c, ns.asid);
		c->st.switch_flushes++;
		trace(tm->m, TP_TLB_FLUSH, TLB_FLUSH_ON_TASK_SWITCH, TLB_FLUSH_ALL, 0, 0);
	}
	c->loaded_mm = next;
	c->loaded_mm_asid = (uint16_t)ns.asid;
}

/* ===================== arm64: ASIDs and switch_mm ===================== */

static inline uint64_t asid_mask(const struct tlb_machine *tm)
{
	return (1ull << tm->asid_bits) - 1;
}

static bool asid_test_and_set(struct tlb_machine *tm, uint64_t asid)
{
	uint64_t bit = 1ull << (asid & 63);
	bool was = tm->asid_map[asid >> 6] & bit;

	tm->asid_map[asid >> 6] |= bit;
	return was;
}

/* find_next_zero_bit() over the ASID map from `from`; 1 << asid_bits if none. */
static uint64_t asid_find_free(const struct tlb_machine *tm, uint64_t from)
{
	uint64_t nr = 1ull << tm->asid_bits;

	for (uint64_t a = from; a < nr; a++)
		if (!(tm->asid_map[a >> 6] & (1ull << (a & 63))))
			return a;
	return nr;
}

/*
** flush_context(): a new generation.  Only the ASIDs the CPUs run (or
** kept through an earlier rollover) stay taken; every CPU must flush
** its TLB before its next switch.
*/
static void flush_context(struct tlb_machine *tm)
{
	memset(tm->asid_map, 0, (size_t)((1ull << tm->asid_bits) / 64) * sizeof(uint64_t));
	for (int i = 0; i < tm->nr_cpus; i++) {
		struct tlb_cpu *c = &tm->cpu[i];
		uint64_t asid = c->active_asid;

		c->active_asid = 0;
		if (asid == 0)
			asid = c->reserved_asid;
		asid_test_and_set(tm, asid & asid_mask(tm));
		c->reserved_asid = asid;
	}
	tm->tlb_flush_pending = tm->nr_cpus == 64 ? UINT64_MAX : (1ull << tm->nr_cpus) - 1;
}

/* check_update_reserved_asid(): a CPU still runs asid; it becomes newasid. */
static bool check_update_reserved_asid(struct tlb_machine *tm, uint64_t asid, uint64_t newasid)
{
	bool hit = false;

	for (int i = 0; i < tm->nr_cpus; i++) {
		if (tm->cpu[i].reserved_asid == asid) {
			hit = true;
			tm->cpu[i].reserved_asid = newasid;
		}
	}
	return hit;
}

/* new_context(): mm's ASID for the current generation (generation | ASID). */
static uint64_t new_context(struct tlb_machine *tm, struct tlb_cpu *c, struct mm_struct *mm)
{
	uint64_t asid = mm->context.id, generation = tm->asid_generation;

	if (asid != 0) {
		uint64_t newasid = generation | (asid & asid_mask(tm));

		if (check_update_reserved_asid(tm, asid, newasid))
			return newasid;
		if (!asid_test_and_set(tm, asid & asid_mask(tm)))
			return newasid;
	}
	asid = asid_find_free(tm, tm->cur_idx);
	if (asid == 1ull << tm->asid_bits) {
		tm->asid_generation += 1ull << tm->asid_bits;
		generation = tm->asid_generation;
		flush_context(tm);
		c->st.asid_rollovers++;
		asid = asid_find_free(tm, 1);
	}
	asid_test_and_set(tm, asid);
	tm->cur_idx = asid;
	return asid | generation;
}

/*
** check_and_switch_context(): a current-generation ASID with this CPU's
** active_asids set is the fast path; else a new ASID if the generation
** is old, and the full flush a rollover left pending for this CPU.
*/
static void check_and_switch_context(struct tlb_machine *tm, struct tlb_cpu *c,
				     struct mm_struct *mm)
{
	uint64_t asid = mm->context.id;
	bool current = !((asid ^ tm->asid_generation) >> tm->asid_bits);
	uint64_t old_active = c->active_asid;

	if (current)
		c->active_asid = asid;
	if (!current || !old_active) {
		if (!current) {
			asid = new_context(tm, c, mm);
			mm->context.id = asid;
		}
		if (tm->tlb_flush_pending & (1ull << c->id)) {
			tm->tlb_flush_pending &= ~(1ull << c->id);
			cpu_flush_everything(tm, c);
			c->st.switch_flushes++;
		}
		c->active_asid = asid;
	}
	c->loaded_mm_asid = (uint16_t)(asid & asid_mask(tm));
}

/* arm64 switch_mm(): nothing for the same mm; init_mm runs on the reserved ASID 0. */
static void arm64_switch_mm(struct tlb_machine *tm, struct tlb_cpu *c, struct mm_struct *next)
{
	c->hint_gen++;		/* no hint holds any more */
	c->is_lazy = false;
	if (c->loaded_mm == next)
		return;
	c->st.context_switches++;
	c->loaded_mm = next;
	if (!next) {	/* cpu_set_reserved_ttbr0() */
		c->loaded_mm_asid = 0;
		return;
	}
	next->context.cpumask |= 1ull << c->id;
	check_and_switch_context(tm, c, next);
}

/*
** The mm c runs becomes next (NULL: init_mm), as the scheduler's
** context_switch() does it: switch_mm_irqs_off() on x86-64,
** check_and_switch_context() on arm64.
*/
void switch_mm(memlab_machine *m, struct tlb_cpu *c, struct mm_struct *next)
{
	if (m->arch == MEMLAB_ARCH_X86_64)
		x86_switch_mm(m->tlb, c, next);
	else
		arm64_switch_mm(m->tlb, c, next);
}

/* ===================== tasks and mms ===================== */

/* init_new_context(): a new mm's identity; no CPU has seen it. */
void init_new_context(memlab_machine *m, struct mm_struct *mm)
{
	mm->context.ctx_id = ++m->tlb->last_ctx_id;
	mm->context.tlb_gen = 0;
	mm->context.id = 0;
	mm->context.cpumask = 0;
}

/* The CPU of a new task: round robin. */
int tlb_pick_cpu(memlab_machine *m)
{
	int cpu = m->tlb->next_cpu;

	m->tlb->next_cpu = (cpu + 1) % m->tlb->nr_cpus;
	return cpu;
}

int memlab_task_cpu(const memlab_task *t)
{
	return t->cpu;
}

/* enter_lazy_tlb(): the CPU keeps the mm loaded but runs no task of it. */
static void enter_lazy_tlb(struct tlb_cpu *c)
{
	if (c->loaded_mm)
		c->is_lazy = true;
}

int memlab_task_run_on(memlab_task *t, int cpu)
{
	struct tlb_machine *tm = t->m->tlb;
	struct tlb_cpu *c = &tm->cpu[t->cpu];

	if (cpu < 0 || cpu >= tm->nr_cpus)
		return -MEMLAB_EINVAL;
	if (t->m->dead)
		return -MEMLAB_EIO;
	if (cpu != t->cpu && c->loaded_mm == t->mm)	/* the old CPU goes idle */
		enter_lazy_tlb(c);
	t->cpu = cpu;
	return 0;
}

/* exit_mm(): the exiting task ran on its CPU; that CPU is lazy now. */
void tlb_exit_mm(memlab_task *t)
{
	struct tlb_cpu *c = &t->m->tlb->cpu[t->cpu];

	switch_to_task(t);
	enter_lazy_tlb(c);
}

/*
** The mm is gone: a CPU that still has it loaded (nothing flushed it
** away, e.g. it had no page tables to free) runs init_mm instead.
*/
void tlb_mm_release(memlab_machine *m, struct mm_struct *mm)
{
	struct tlb_machine *tm = m->tlb;

	if (tm->dying)
		return;
	for (int i = 0; i < tm->nr_cpus; i++)
		if (tm->cpu[i].loaded_mm == mm)
			switch_mm(m, &tm->cpu[i], NULL);
}

/* ===================== x86-64: flush_tlb_mm_range ===================== */

struct flush_tlb_info {
	struct mm_struct *mm;
	uint64_t start, end;		/* end TLB_FLUSH_ALL: the whole mm */
	unsigned stride_shift;
	bool freed_tables;
	uint64_t new_tlb_gen;		/* TLB_GENERATION_INVALID: a batch's, of no mm */
	int initiating_cpu;
};

#define TLB_GENERATION_INVALID	0

/*
** The CPU a flush starts on: smp_processor_id(), the running task's.
** Outside a task's call the work is a kernel thread's (kswapd0,
** kcompactd0, khugepaged, a kworker; memlab runs them on CPU 0, or on
** the CPU work was queued on): the user mm that CPU ran stays loaded
** lazily while it runs (context_switch -> enter_lazy_tlb), and its task
** switches back when it next runs (switch_to_task).
*/
static int flush_cpu(memlab_machine *m)
{
	int cpu = smp_processor_id(m);

	if (!m->current)
		enter_lazy_tlb(&m->tlb->cpu[cpu]);
	return cpu;
}

/* INVLPG: va's entries in the loaded ASID (and global ones), and its PWC entries. */
static void flush_tlb_one_user(struct tlb_machine *tm, struct tlb_cpu *c, uint64_t va)
{
	cpu_flush_va(tm, c, c->loaded_mm_asid, va, 2);
}

/*
** flush_tlb_func(): on CPU c, bring the loaded mm up to f's generation.
** A CPU that runs another mm leaves the mask; a lazy one switches to
** init_mm; else a partial flush page by page when it is exactly one
** generation behind, a full flush of the ASID otherwise.
*/
static void flush_tlb_func(struct tlb_machine *tm, struct tlb_cpu *c,
			   const struct flush_tlb_info *f)
{
	bool local = c->id == f->initiating_cpu;
	int reason = !local ? TLB_REMOTE_SHOOTDOWN : f->mm ? TLB_LOCAL_MM_SHOOTDOWN :
			      TLB_LOCAL_SHOOTDOWN;
	uint64_t local_tlb_gen, mm_tlb_gen;

	if (!local)
		c->st.nr_tlb_remote_flush_received++;
	if (f->mm && f->mm != c->loaded_mm) {
		f->mm->context.cpumask &= ~(1ull << c->id);
		return;
	}
	if (!c->loaded_mm)	/* init_mm: no user entries */
		return;
	if (c->is_lazy) {
		x86_switch_mm(tm, c, NULL);
		return;
	}
	local_tlb_gen = c->ctxs[c->loaded_mm_asid].tlb_gen;
	mm_tlb_gen = c->loaded_mm->context.tlb_gen;
	if ((f->new_tlb_gen != TLB_GENERATION_INVALID && f->new_tlb_gen <= local_tlb_gen) ||
	    local_tlb_gen == mm_tlb_gen)
		return;
	if (should_fail(tm->m, local ? FI_TLB_STALE_ENTRY : FI_TLB_LOST_SHOOTDOWN, 1, false)) {
		/* injected: the flush is lost, yet the CPU believes it is up to date */
		c->ctxs[c->loaded_mm_asid].tlb_gen = mm_tlb_gen;
		return;
	}
	if (f->end != TLB_FLUSH_ALL && f->new_tlb_gen == local_tlb_gen + 1 &&
	    f->new_tlb_gen == mm_tlb_gen) {
		uint64_t nr = (f->end - f->start) >> f->stride_shift;

		for (uint64_t a = f->start; a < f->end; a += 1ull << f->stride_shift)
			flush_tlb_one_user(tm, c, a);
		if (local)
			c->st.nr_tlb_local_flush_one += nr;
		trace(tm->m, TP_TLB_FLUSH, reason, nr, 0, 0);
	} else {
		cpu_flush_asid(tm, c, c->loaded_mm_asid);	/* flush_tlb_local() */
		if (local)
			c->st.nr_tlb_local_flush_all++;
		trace(tm->m, TP_TLB_FLUSH, reason, TLB_FLUSH_ALL, 0, 0);
	}
	c->ctxs[c->loaded_mm_asid].tlb_gen = mm_tlb_gen;
}

/*
** should_flush_tlb(): the IPI goes to CPUs running the mm, not lazy ones;
** a flush of no mm (a batch's) to every CPU of its mask that is not lazy.
*/
static bool should_flush_tlb(const struct tlb_cpu *c, const struct flush_tlb_info *f)
{
	if (c->is_lazy)
		return false;
	if (!f->mm)
		return true;
	return c->loaded_mm == f->mm;	/* trim_cpumask: never, memlab has no jiffies */
}

/*
** native_flush_tlb_multi(): a shootdown of the CPUs of the mask.  When
** page tables were freed every CPU of the mask gets the IPI, lazy ones
** too, so that none walks into a freed table.
*/
static void flush_tlb_multi(struct tlb_machine *tm, uint64_t cpumask,
			    const struct flush_tlb_info *f)
{
	tm->cpu[f->initiating_cpu].st.nr_tlb_remote_flush++;
	trace(tm->m, TP_TLB_FLUSH, TLB_REMOTE_SEND_IPI, f->end == TLB_FLUSH_ALL ? TLB_FLUSH_ALL :
	      (f->end - f->start) >> tm->m->page_shift, 0, 0);
	for (int i = 0; i < tm->nr_cpus; i++) {
		struct tlb_cpu *c = &tm->cpu[i];

		if ((cpumask & (1ull << i)) && (f->freed_tables || should_flush_tlb(c, f)))
			flush_tlb_func(tm, c, f);
	}
}

/*
** flush_tlb_mm_range(): t's mm changed in [start, end) (page strides of
** 1 << stride_shift); more than 33 pages flush the whole mm.  The CPU the
** code runs on starts it: other CPUs in mm_cpumask get a shootdown, else
** only this CPU flushes, if it runs the mm.
*/
static void flush_tlb_mm_range(memlab_task *t, uint64_t start, uint64_t end,
			       unsigned stride_shift, bool freed_tables)
{
	struct tlb_machine *tm = t->m->tlb;
	struct mm_struct *mm = t->mm;
	int cpu = flush_cpu(t->m);
	struct flush_tlb_info f = { mm, start, end, stride_shift, freed_tables, 0, cpu };

	f.new_tlb_gen = ++mm->context.tlb_gen;	/* inc_mm_tlb_gen() */
	if (end != TLB_FLUSH_ALL &&
	    (end - start) >> stride_shift > TLB_SINGLE_PAGE_FLUSH_CEILING) {
		f.start = 0;
		f.end = TLB_FLUSH_ALL;
	}
	if (mm->context.cpumask & ~(1ull << cpu))
		flush_tlb_multi(tm, mm->context.cpumask, &f);
	else if (mm == tm->cpu[cpu].loaded_mm)
		flush_tlb_func(tm, &tm->cpu[cpu], &f);
}

/* ===================== arm64: broadcast TLBI ===================== */

static inline unsigned arm64_asid(const struct tlb_machine *tm, const struct mm_struct *mm)
{
	return (unsigned)(mm->context.id & asid_mask(tm));
}

/* flush_tlb_mm(): TLBI ASIDE1IS, every CPU drops the ASID's entries. */
static void arm64_flush_tlb_mm(memlab_task *t)
{
	struct tlb_machine *tm = t->m->tlb;
	unsigned asid = arm64_asid(tm, t->mm);

	tm->cpu[flush_cpu(t->m)].st.tlbi_broadcast++;
	for (int i = 0; i < tm->nr_cpus; i++)
		cpu_flush_asid(tm, &tm->cpu[i], asid);
}

/* TLBI VAE1IS (or VALE1IS, last_level: the walk caches stay) for one page. */
static void arm64_tlbi_va(memlab_task *t, uint64_t va, bool last_level)
{
	struct tlb_machine *tm = t->m->tlb;
	unsigned asid = arm64_asid(tm, t->mm);

	tm->cpu[flush_cpu(t->m)].st.tlbi_broadcast++;
	for (int i = 0; i < tm->nr_cpus; i++)
		cpu_flush_va(tm, &tm->cpu[i], asid, va, last_level ? 0 : 1);
}

/*
** __flush_tlb_range(): page by page (stride apart), or the whole ASID
** once the range reaches MAX_DVM_OPS = PTRS_PER_PTE strides
** (__flush_tlb_range_limit_excess without FEAT_TLBIRANGE).
*/
static void arm64_flush_tlb_range(memlab_task *t, uint64_t start, uint64_t end,
				  unsigned stride_shift, bool last_level)
{
	const struct pt_format *f = &t->m->tlb->fmt;
	uint64_t stride = 1ull << stride_shift;

	start &= ~(stride - 1);
	end = (end + stride - 1) & ~(stride - 1);
	if ((end - start) >> f->page_shift >= (f->ptrs_per_table * stride) >> f->page_shift) {
		arm64_flush_tlb_mm(t);
		return;
	}
	for (uint64_t a = start; a < end; a += stride)
		arm64_tlbi_va(t, a, last_level);
}

/* ===================== Linux's flush interface ===================== */

/* Nothing to flush while the machine is being taken apart. */
static bool tlb_quiet(const memlab_task *t)
{
	return t->m->tlb->dying;
}

/* flush_tlb_page(): one page of t's mm changed (a COW break). */
void flush_tlb_page(memlab_task *t, uint64_t addr)
{
	unsigned shift = t->m->page_shift;

	if (tlb_quiet(t))
		return;
	addr &= ~((1ull << shift) - 1);
	if (t->m->arch == MEMLAB_ARCH_X86_64)
		flush_tlb_mm_range(t, addr, addr + (1ull << shift), shift, false);
	else
		arm64_tlbi_va(t, addr, true);
}

/*
** flush_tlb_range(): [start, end) of t's mm changed (mremap's move_ptes).
** x86 passes freed_tables (3ef938c35035: the range may have been a PMD
** whose table went), so lazy CPUs of the mask get the IPI too.
*/
void flush_tlb_range(memlab_task *t, uint64_t start, uint64_t end)
{
	if (tlb_quiet(t))
		return;
	if (t->m->arch == MEMLAB_ARCH_X86_64)
		flush_tlb_mm_range(t, start, end, t->m->page_shift, true);
	else
		arm64_flush_tlb_range(t, start, end, t->m->page_shift, false);
}

/* flush_tlb_mm(): all of t's mm (dup_mmap for the parent). */
void flush_tlb_mm(memlab_task *t)
{
	if (tlb_quiet(t))
		return;
	if (t->m->arch == MEMLAB_ARCH_X86_64)
		flush_tlb_mm_range(t, 0, TLB_FLUSH_ALL, 0, true);
	else
		arm64_flush_tlb_mm(t);
}

/*
** ptep_clear_flush() (mm/pgtable-generic.c) after the entry at addr, pteval,
** was cleared: the page is flushed if a TLB may hold it (pte_accessible():
** a present entry; a PROT_NONE one is not, on x86 nor on arm64).
*/
void ptep_clear_flush(memlab_task *t, uint64_t addr, struct pt_prot pteval)
{
	if (pteval.present)
		flush_tlb_page(t, addr);
}

/* ===================== batched flushes (mm/rmap.c) ===================== */

#define TLB_FLUSH_BATCH_FLUSHED_SHIFT	16
#define TLB_FLUSH_BATCH_PENDING_MASK	((1 << (TLB_FLUSH_BATCH_FLUSHED_SHIFT - 1)) - 1)
#define TLB_FLUSH_BATCH_PENDING_LARGE	(TLB_FLUSH_BATCH_PENDING_MASK / 2)

/*
** should_defer_flush(): whether try_to_unmap_one() / try_to_migrate_one()
** may leave the flush of an entry of t's mm to try_to_unmap_flush().
** x86 (arch_tlbbatch_should_defer): only when another CPU may hold its
** entries, so that one IPI serves the batch; arm64: always (its TLBIs go
** out at once and only their barrier waits).
*/
bool should_defer_flush(memlab_task *t, unsigned ttu_flags)
{
	if (!(ttu_flags & TTU_BATCH_FLUSH) || tlb_quiet(t))
		return false;
	if (t->m->arch != MEMLAB_ARCH_X86_64)
		return true;
	return t->mm->context.cpumask & ~(1ull << smp_processor_id(t->m));
}

/*
** set_tlb_ubc_flush_pending(): [start, end) of t's mm was cleared, its
** first entry pteval, without a flush.  x86 (arch_tlbbatch_add_pending):
** the mm's generation moves on and its CPUs join the batch's mask; arm64:
** TLBI VALE1IS for each page now (__flush_tlb_range_nosync, last level).
** A dirty entry makes the batch writable: try_to_unmap_flush_dirty()
** flushes it before the page is written out.
*/
void set_tlb_ubc_flush_pending(memlab_task *t, struct pt_prot pteval, uint64_t start,
			       uint64_t end)
{
	struct tlb_machine *tm = t->m->tlb;
	int *batch = &t->mm->tlb_flush_batched;

	if (!pteval.present)	/* !pte_accessible() */
		return;
	if (t->m->arch == MEMLAB_ARCH_X86_64) {
		t->mm->context.tlb_gen++;	/* inc_mm_tlb_gen() */
		tm->ubc.cpumask |= t->mm->context.cpumask;
	} else {
		arm64_flush_tlb_range(t, start, end, t->m->page_shift, true);
	}
	tm->ubc.flush_required = true;
	/* one more pending for the mm: reset to 1 (and 0 flushed) before it could overflow */
	if ((*batch & TLB_FLUSH_BATCH_PENDING_MASK) > TLB_FLUSH_BATCH_PENDING_LARGE)
		*batch = 1;
	else
		(*batch)++;
	if (pteval.dirty)
		tm->ubc.writable = true;
}

/*
** flush_tlb_batched_pending(): an operation about to change t's PTEs under
** their lock (zap, mprotect, mremap, MADV_FREE, MADV_COLD/PAGEOUT, and
** those again after a split in their walk) flushes the whole mm if
** reclaim, migration or a split deferred flushes of it since the last such
** call -- the deferred flush may not have been done yet, on another CPU.
** memlab's always has been by then, yet the mm cannot know that: Linux
** flushes all the same, on arm64 too since 6.16 (4b634918384c: a barrier
** on this CPU does not wait for another CPU's TLBIs; 6.17 made it generic).
*/
void flush_tlb_batched_pending(memlab_task *t)
{
	int batch = t->mm->tlb_flush_batched;
	int pending = batch & TLB_FLUSH_BATCH_PENDING_MASK;
	int flushed = batch >> TLB_FLUSH_BATCH_FLUSHED_SHIFT;

	if (pending == flushed)
		return;
	flush_tlb_mm(t);
	t->mm->tlb_flush_batched = pending | (pending << TLB_FLUSH_BATCH_FLUSHED_SHIFT);
}

/*
** try_to_migrate_one()'s flush of the entry at addr it cleared, pteval:
** left to try_to_unmap_flush() when it may be (should_defer_flush), else
** ptep_clear_flush().
*/
void try_to_migrate_flush(memlab_task *t, uint64_t addr, struct pt_prot pteval,
			  unsigned ttu_flags)
{
	if (should_defer_flush(t, ttu_flags))
		set_tlb_ubc_flush_pending(t, pteval, addr, addr + t->m->page_size);
	else
		ptep_clear_flush(t, addr, pteval);
}

/*
** arch_tlbbatch_flush() on x86: one full flush of whatever mm each CPU of
** the batch runs and is behind on -- a shootdown when the mask holds
** another CPU than this one (CPUs running other mms, or lazy ones, are
** left alone: their slots are behind and flush when the mm comes back).
*/
static void x86_tlbbatch_flush(memlab_machine *m)
{
	struct tlb_machine *tm = m->tlb;
	int cpu = flush_cpu(m);
	struct flush_tlb_info f = { NULL, 0, TLB_FLUSH_ALL, 0, false,
				    TLB_GENERATION_INVALID, cpu };

	if (tm->ubc.cpumask & ~(1ull << cpu))
		flush_tlb_multi(tm, tm->ubc.cpumask, &f);
	else if (tm->ubc.cpumask & (1ull << cpu))
		flush_tlb_func(tm, &tm->cpu[cpu], &f);
	tm->ubc.cpumask = 0;
}

/* try_to_unmap_flush(): the flush the batch owes (arm64: dsb(ish) only). */
void try_to_unmap_flush(memlab_machine *m)
{
	struct tlb_machine *tm = m->tlb;

	if (!tm->ubc.flush_required)
		return;
	if (m->arch == MEMLAB_ARCH_X86_64 && !tm->dying)
		x86_tlbbatch_flush(m);
	tm->ubc.flush_required = false;
	tm->ubc.writable = false;
}

/* try_to_unmap_flush_dirty(): flush if an entry unmapped was dirty (writable). */
void try_to_unmap_flush_dirty(memlab_machine *m)
{
	if (m->tlb->ubc.writable)
		try_to_unmap_flush(m);
}

/* ===================== the mmu_gather ===================== */

/* tlb_gather_mmu() / tlb_gather_mmu_fullmm(): an empty range. */
void tlb_gather_mmu(struct mmu_gather *tlb, memlab_task *t, bool fullmm)
{
	memset(tlb, 0, sizeof(*tlb));
	tlb->t = t;
	tlb->mm = t->mm;
	tlb->fullmm = fullmm;
	tlb->start = fullmm ? 0 : UINT64_MAX;
	tlb->end = fullmm ? TLB_FLUSH_ALL : 0;
}

static void tlb_adjust_range(struct mmu_gather *tlb, uint64_t va, uint64_t size)
{
	if (tlb->start > va)
		tlb->start = va;
	if (tlb->end < va + size)
		tlb->end = va + size;
}

/* tlb_flush_pte_range() and kin: a level-`level` entry for [va, va + size) changed. */
void tlb_flush_pte_range(struct mmu_gather *tlb, uint64_t va, uint64_t size, unsigned level)
{
	tlb_adjust_range(tlb, va, size);
	tlb->cleared |= 1u << level;
}

/*
** pte_free_tlb() / pmd_free_tlb() / pud_free_tlb(): the table a
** level-`level` entry for va pointed to was freed.  NULL tlb: nothing.
*/
void tlb_note_freed_table(struct mmu_gather *tlb, unsigned level, uint64_t va)
{
	if (!tlb)
		return;
	tlb->freed_tables = true;
	tlb_flush_pte_range(tlb, va, tlb->t->m->page_size, level);
}

/* tlb_get_unmap_shift(): the smallest level cleared sets the stride. */
static unsigned tlb_get_unmap_shift(const struct mmu_gather *tlb)
{
	const struct pt_format *f = &tlb->t->m->tlb->fmt;

	for (unsigned l = 0; l < PT_MAX_LEVELS; l++)
		if (tlb->cleared & (1u << l))
			return pt_level_shift(f, l);
	return f->page_shift;
}

/*
** tlb_finish_mmu(): one flush for what the gather saw (nothing when no
** entry was cleared and no table freed).  x86 tlb_flush(): the range, or
** the whole mm for fullmm; arm64 tlb_flush(): for fullmm only the walk
** caches matter (flush_tlb_mm when tables were freed), else the range,
** last level only unless tables were freed.  The folio batches stay: on
** the 6.18 host neither munmap nor MADV_DONTNEED drains them, even when
** they free pages (free_pages_and_swap_cache; /proc/kpageflags).
*/
void tlb_finish_mmu(struct mmu_gather *tlb)
{
	unsigned shift;

	if ((!tlb->freed_tables && !tlb->cleared) || tlb_quiet(tlb->t))
		return;
	shift = tlb_get_unmap_shift(tlb);
	if (tlb->t->m->arch == MEMLAB_ARCH_X86_64) {
		flush_tlb_mm_range(tlb->t, tlb->fullmm ? 0 : tlb->start,
				   tlb->fullmm ? TLB_FLUSH_ALL : tlb->end, shift, tlb->freed_tables);
		return;
	}
	if (tlb->fullmm) {
		if (tlb->freed_tables)
			arm64_flush_tlb_mm(tlb->t);
		return;
	}
	arm64_flush_tlb_range(tlb->t, tlb->start, tlb->end, shift, !tlb->freed_tables);
}

/*
** pte_needs_flush(): may a TLB hold oldpte in a way newpte makes wrong?
** x86 (arch/x86/include/asm/tlbflush.h): not for a non-present old
** entry; yes for another frame, for a cleared D or P bit (A is ignored,
** as change_pte_range asks), for any change of RW, US, PWT, PCD, PSE/PAT,
** G, the protection key or NX; software bits never.
** Other architectures: always (include/linux/pgtable.h).
*/
bool pte_needs_flush(const struct pt_format *f, uint64_t oldpte, uint64_t newpte)
{
	const uint64_t flush_on_clear = _PAGE_DIRTY | _PAGE_PRESENT;
	const uint64_t flush_on_change = _PAGE_RW | _PAGE_USER | _PAGE_PWT | _PAGE_PCD |
					 _PAGE_PSE | _PAGE_GLOBAL | (0xfull << 59) | _PAGE_NX;
	uint64_t diff;

	if (f->arch != MEMLAB_ARCH_X86_64)
		return true;
	if (!(oldpte & _PAGE_PRESENT))
		return false;
	if ((oldpte & X86_PTE_PFN_MASK) != (newpte & X86_PTE_PFN_MASK))
		return true;
	diff = (oldpte ^ newpte) & ~X86_PTE_PFN_MASK;
	return (diff & oldpte & flush_on_clear) || (diff & flush_on_change);
}

/* ===================== statistics ===================== */

static void fill_stats(const struct tlb_cpu *c, const struct tlb *tl,
		       struct memlab_tlb_stats *o)
{
	memset(o, 0, sizeof(*o));
	o->cpu = c->id;
	memcpy(o->name, tl->desc.name, sizeof(o->name));
	o->name[sizeof(o->name) - 1] = '\0';
	o->level = tl->desc.level;
	o->kind = tl->desc.kind;
	o->policy = tl->desc.policy;
	o->entries = tl->desc.entries;
	o->ways = tl->ways;
	o->sets = tl->sets;
	o->page_sizes = tl->desc.page_sizes;
	o->lookups = tl->st.lookups;
	o->hits = tl->st.hits;
	o->misses = tl->st.misses;
	o->compulsory_misses = tl->st.compulsory;
	o->perm_misses = tl->st.perm;
	o->fills = tl->st.fills;
	o->evictions = tl->st.evictions;
	o->flush_events = tl->st.flush_events;
	o->flushed_entries = tl->st.flushed;
	o->compulsory_exact = !c->seen.full;
	o->nr_held = tl->nr_sizes;
	for (unsigned i = 0; i < tl->nr_sizes; i++) {
		o->held[i].shift = tl->shift[i];
		o->held[i].valid = tl->nr_level[tl->level[i]];
		o->reach += (uint64_t)o->held[i].valid << tl->shift[i];
	}
}

size_t memlab_tlb_stats(const memlab_machine *m, struct memlab_tlb_stats *out, size_t n)
{
	const struct tlb_machine *tm = m->tlb;
	size_t k = 0;

	for (int i = 0; i < tm->nr_cpus; i++)
		for (int j = 0; j < tm->nr; j++, k++)
			if (out && k < n)
				fill_stats(&tm->cpu[i], &tm->cpu[i].tlb[j], &out[k]);
	return k;
}

/* The pid of the live task that owns mm (0 for none). */
static int mm_pid(const memlab_machine *m, const struct mm_struct *mm)
{
	for (const memlab_task *t = m->tasks; mm && t; t = t->next)
		if (t->mm == mm && mm->owner == t)
			return t->pid;
	return 0;
}

int memlab_tlb_cpu_stats(const memlab_machine *m, int cpu, struct memlab_tlb_cpu_stats *out)
{
	const struct tlb_cpu *c;

	if (cpu < 0 || cpu >= m->tlb->nr_cpus)
		return -MEMLAB_EINVAL;
	c = &m->tlb->cpu[cpu];
	*out = c->st;
	out->cpu = cpu;
	out->loaded_pid = mm_pid(m, c->loaded_mm);
	out->loaded_asid = c->loaded_mm_asid;
	out->lazy = c->is_lazy;
	return 0;
}

/* ===================== the report ===================== */

static const char *const kind_names[] = { "?", "insn", "data", "unified" };
static const char *const policy_names[] = { "lru", "fifo", "random", "plru", "lfu" };

static void report_rate(struct strbuf *sb, uint64_t misses, uint64_t lookups)
{
	if (lookups)
		sb_printf(sb, " %8.2f%%", 100.0 * (double)misses / (double)lookups);
	else
		sb_printf(sb, " %9s", "-");
}

/* The bytes a structure's valid entries map, in the largest unit that is exact. */
static void report_reach(struct strbuf *sb, const struct tlb *tl)
{
	static const char units[] = "KMGT";
	uint64_t reach = 0;
	unsigned u = 0;

	for (unsigned i = 0; i < tl->nr_sizes; i++)
		reach += (uint64_t)tl->nr_level[tl->level[i]] << tl->shift[i];
	reach >>= 10;
	while (u < 3 && reach >= 1024 && !(reach & 1023)) {
		reach >>= 10;
		u++;
	}
	sb_printf(sb, " %7" PRIu64 "%c\n", reach, units[u]);
}

/* One structure's line of the table. */
static void report_tlb(struct strbuf *sb, const struct tlb_cpu *c, const struct tlb *tl)
{
	char sizes[64];

	sizes_name(sizes, sizeof(sizes), tl->desc.page_sizes);
	sb_printf(sb, "%3d  %-10s %2d %-7s %7u %5u %5u %-6s %-12s %11" PRIu64 " %11" PRIu64
		  " %11" PRIu64 " %11" PRIu64, c->id, tl->desc.name, tl->desc.level,
		  kind_names[tl->desc.kind], tl->desc.entries, tl->ways, tl->sets,
		  policy_names[tl->desc.policy], sizes, tl->st.lookups, tl->st.hits,
		  tl->st.misses, tl->st.compulsory);
	report_rate(sb, tl->st.misses, tl->st.lookups);
	report_reach(sb, tl);
}

/* A level's line: every access that reached it, once. */
static void report_level(struct strbuf *sb, const struct tlb_cpu *c, int i)
{
	static const char *const names[] = { "L1i (all)", "L1d (all)", "L2 (all)" };
	uint64_t lookups = c->st.level_lookups[i], hits = c->st.level_hits[i];

	sb_printf(sb, "%3d  %-10s %2d %-7s %7s %5s %5s %-6s %-12s %11" PRIu64 " %11" PRIu64
		  " %11" PRIu64 " %11s", c->id, names[i], i == 2 ? 2 : 1,
		  kind_names[i == 2 ? 3 : i + 1], "", "", "", "", "", lookups, hits,
		  lookups - hits, "");
	report_rate(sb, lookups - hits, lookups);
	sb_printf(sb, "\n");
}

/* The CPU's walks, page-walk caches, switches and flushes. */
static void report_cpu(struct strbuf *sb, const struct tlb_machine *tm, const struct tlb_cpu *c)
{
	const struct memlab_tlb_cpu_stats *st = &c->st;

	sb_printf(sb, "cpu %d: %" PRIu64 " page walks, %" PRIu64 " memory references", c->id,
		  st->walks, st->walk_mem_refs);
	if (st->walks)
		sb_printf(sb, " (%.2f per walk)", (double)st->walk_mem_refs / (double)st->walks);
	sb_printf(sb, "; page-walk cache hits");
	for (unsigned l = 1; l < tm->fmt.levels; l++)
		if (c->pwc[l].n)
			sb_printf(sb, " %s %" PRIu64 "/%" PRIu64, pt_level_name(&tm->fmt, l),
				  st->pwc_hits[l], st->pwc_lookups[l]);
	sb_printf(sb, "\ncpu %d: %" PRIu64 " context switches (%" PRIu64 " flushed)", c->id,
		  st->context_switches, st->switch_flushes);
	if (tm->asid_bits)
		sb_printf(sb, ", %" PRIu64 " ASID rollovers, %" PRIu64 " broadcast TLBIs\n",
			  st->asid_rollovers, st->tlbi_broadcast);
	else
		sb_printf(sb, "; nr_tlb_remote_flush %" PRIu64 " nr_tlb_remote_flush_received %"
			  PRIu64 " nr_tlb_local_flush_all %" PRIu64 " nr_tlb_local_flush_one %"
			  PRIu64 "\n", st->nr_tlb_remote_flush, st->nr_tlb_remote_flush_received,
			  st->nr_tlb_local_flush_all, st->nr_tlb_local_flush_one);
}

int memlab_tlb_report(memlab_machine *m, char **text, size_t *len)
{
	const struct tlb_machine *tm = m->tlb;
	struct strbuf sb;

	sb_init(&sb, m);
	sb_printf(&sb, "%-3s  %-10s %2s %-7s %7s %5s %5s %-6s %-12s %11s %11s %11s %11s %9s %8s\n",
		  "cpu", "tlb", "lv", "kind", "entries", "ways", "sets", "policy", "sizes",
		  "lookups", "hits", "misses", "compulsory", "miss rate", "reach");
	for (int i = 0; i < tm->nr_cpus; i++) {
		const struct tlb_cpu *c = &tm->cpu[i];

		for (int j = 0; j < tm->nr; j++)
			report_tlb(&sb, c, &c->tlb[j]);
		for (int lv = 0; lv < 3; lv++)
			report_level(&sb, c, lv);
	}
	for (int i = 0; i < tm->nr_cpus; i++)
		report_cpu(&sb, tm, &tm->cpu[i]);
	return sb_finish(&sb, text, len);
}

/* ===================== checking ===================== */

static memlab_task *task_of_ctx(memlab_machine *m, uint64_t ctx_id)
{
	memlab_task *t;

	for_each_mm_task(m, t)
		if (t->mm->context.ctx_id == ctx_id)
			return t;
	return NULL;
}

/*
** The task whose entries CPU c may still use under asid, or NULL when
** they can never be used again without a flush: x86, a slot of a dead
** mm or one behind its mm's tlb_gen (flushed when the mm comes back);
** arm64, an ASID no live mm holds in this generation, or any but the
** running one on a CPU with a full flush pending.
*/
static memlab_task *tlb_owner(memlab_machine *m, const struct tlb_cpu *c, unsigned asid)
{
	struct tlb_machine *tm = m->tlb;
	memlab_task *t;

	if (m->arch == MEMLAB_ARCH_X86_64) {
		if (asid >= TLB_NR_DYN_ASIDS || !(t = task_of_ctx(m, c->ctxs[asid].ctx_id)))
			return NULL;
		return c->ctxs[asid].tlb_gen < t->mm->context.tlb_gen ? NULL : t;
	}
	if (c->loaded_mm && asid == c->loaded_mm_asid)
		return task_of_ctx(m, c->loaded_mm->context.ctx_id);
	if (tm->tlb_flush_pending & (1ull << c->id))
		return NULL;
	for (t = m->tasks; t; t = t->next) {
		uint64_t id = t->mm ? t->mm->context.id : 0;

		if (id && !((id ^ tm->asid_generation) >> tm->asid_bits) &&
		    (id & asid_mask(tm)) == asid)
			return t;
	}
	return NULL;
}

/*
** A TLB entry against the page tables of its owner: the same leaf size
** and frame, and no permission the entry has that the leaf lacks (fewer
** is legal: a spurious fault, or the walk for D, fixes it).
*/
static void check_entry(memlab_machine *m, struct ml_check *chk, const struct tlb_cpu *c,
			const struct tlb *tl, uint64_t i, memlab_task *t)
{
	unsigned level = key_level(tl->key[i]), found;
	uint64_t va = (tl->key[i] >> TLB_KEY_VPN_SHIFT) << level_shift(&m->tlb->fmt, level);
	uint8_t f = tl->flags[i], want;
	struct pt_walk w;

	if (pt_walk(m, t->mm, va, &w) || !w.present) {
		ml_violation(chk, "tlb: cpu %d %s: stale entry for va %#" PRIx64 " of pid %d "
			     "(pfn %#" PRIx64 "): the page tables map nothing there", c->id,
			     tl->desc.name, va, t->pid, tl->pfn[i]);
		return;
	}
	found = w.level == 0 && w.prot.cont && level == TLB_CONT_LEVEL ? level : w.level;
	if (found != level || w.pfn != tl->pfn[i])
		ml_violation(chk, "tlb: cpu %d %s: stale entry for va %#" PRIx64 " of pid %d: "
			     "pfn %#" PRIx64 " (%s), the page tables say pfn %#" PRIx64 " (%s)",
			     c->id, tl->desc.name, va, t->pid, tl->pfn[i],
			     level_name(&m->tlb->fmt, level), w.pfn,
			     level_name(&m->tlb->fmt, w.level));
	if (w.level == 0 && w.prot.cont) {	/* the MMU may have marked any entry of the block */
		uint64_t pfn, e = ptep_get(m, &t->mm->pt, w.table[w.nr_levels - 1],
					   pt_index(&t->mm->pt, 0, va));

		pt_decode(&t->mm->pt, 0, e, &pfn, &w.prot);
	}
	want = leaf_flags(&w.prot);
	f &= (TLBF_WRITE | TLBF_USER | TLBF_EXEC | TLBF_DIRTY) & ~want;
	if (f)
		ml_violation(chk, "tlb: cpu %d %s: entry for va %#" PRIx64 " of pid %d is more "
			     "permissive than its PTE (%s%s%s%scached, not in the PTE)", c->id,
			     tl->desc.name, va, t->pid, f & TLBF_WRITE ? "write " : "",
			     f & TLBF_USER ? "user " : "", f & TLBF_EXEC ? "exec " : "",
			     f & TLBF_DIRTY ? "dirty " : "");
}

/* A page-walk cache entry: the table it names is still the one walked to. */
static void check_pwc_entry(memlab_machine *m, struct ml_check *chk, const struct tlb_cpu *c,
			    unsigned l, uint64_t i, memlab_task *t)
{
	const struct pt_format *f = &m->tlb->fmt;
	uint64_t va = (c->pwc[l].key[i] >> TLB_KEY_VPN_SHIFT) << pt_level_shift(f, l);
	unsigned at = f->levels - 1 - l;	/* where a walk from the PGD reads level l */
	struct pt_walk w;

	pt_walk(m, t->mm, va, &w);
	if (w.nr_levels > at + 1 && w.table[at + 1] == c->pwc[l].table[i])
		return;
	ml_violation(chk, "tlb: cpu %d: stale page-walk cache entry for the %s entry of va %#"
		     PRIx64 " of pid %d: table pfn %#" PRIx64 " is no longer there", c->id,
		     pt_level_name(f, l), va, t->pid, c->pwc[l].table[i]);
}

/* One structure: its entries against the page tables, its counts against its entries. */
static void check_tlb(memlab_machine *m, struct ml_check *chk, const struct tlb_cpu *c,
		      const struct tlb *tl)
{
	uint32_t nr_level[4] = { 0 }, nr_global = 0;
	memlab_task *t;

	for (size_t i = 0; i < tlb_tag_bytes(tl); i++) {
		uint64_t set = i / tl->tag_stride, way = i % tl->tag_stride;
		uint64_t key = way < tl->ways ? tl->key[set * tl->ways + way] : 0;
		uint8_t want = way >= tl->ways ? TLB_TAG_PAD : key ? tlb_tag(key) : 0;

		if (tl->tag[i] != want)
			ml_violation(chk, "tlb: cpu %d %s: set %" PRIu64 " way %" PRIu64 " has tag "
				     "%#x, its key %#" PRIx64 " wants %#x", c->id, tl->desc.name, set,
				     way, tl->tag[i], key, want);
	}
	for (size_t i = 0; i < tlb_slots(tl); i++) {
		if (!tl->key[i])
			continue;
		nr_level[key_level(tl->key[i])]++;
		nr_global += (tl->flags[i] & TLBF_GLOBAL) != 0;
		if ((t = tlb_owner(m, c, key_asid(tl->key[i]))))
			check_entry(m, chk, c, tl, i, t);
	}
	for (unsigned l = 0; l < 4; l++)
		if (nr_level[l] != tl->nr_level[l])
			ml_violation(chk, "tlb: cpu %d %s: counts %u valid %s entries, holds %u",
				     c->id, tl->desc.name, tl->nr_level[l],
				     level_name(&m->tlb->fmt, l), nr_level[l]);
	if (nr_global != tl->nr_global)
		ml_violation(chk, "tlb: cpu %d %s: counts %u global entries, holds %u", c->id,
			     tl->desc.name, tl->nr_global, nr_global);
}

/* A hint of the current generation: its entry is still there, as copied. */
static void check_hints(struct ml_check *chk, const struct tlb_cpu *c)
{
	for (unsigned i = 0; i < TLB_HINTS; i++) {
		const struct tlb_hint *h = &c->hint[i];
		uint64_t e;

		if (h->gen != c->hint_gen)
			continue;
		e = h->set * h->tl->ways + h->way;
		if (!h->tl->key[e] || h->tl->key[e] >> TLB_KEY_VPN_SHIFT != h->page ||
		    h->tl->pfn[e] != h->pfn || h->tl->flags[e] != h->flags)
			ml_violation(chk, "tlb: cpu %d: hint %u for page %#" PRIx64 " (pfn %#" PRIx64
				     ") outlived its %s entry", c->id, i, h->page, h->pfn,
				     h->tl->desc.name);
	}
}

static void check_cpu(memlab_machine *m, struct ml_check *chk, const struct tlb_cpu *c)
{
	memlab_task *t;

	for (int j = 0; j < m->tlb->nr; j++)
		check_tlb(m, chk, c, &c->tlb[j]);
	check_hints(chk, c);
	for (unsigned l = 1; l < PT_MAX_LEVELS; l++)
		for (uint32_t i = 0; i < c->pwc[l].n; i++)
			if (c->pwc[l].key[i] && (t = tlb_owner(m, c, key_asid(c->pwc[l].key[i]))))
				check_pwc_entry(m, chk, c, l, i, t);
	if (c->loaded_mm && !(c->loaded_mm->context.cpumask & (1ull << c->id)))
		ml_violation(chk, "tlb: cpu %d runs pid %d's mm but is not in its mm_cpumask",
			     c->id, mm_pid(m, c->loaded_mm));
}

/*
** No TLB or page-walk cache entry that a CPU may still use disagrees
** with the page tables: a different frame or size, or a permission the
** PTE no longer grants, is a missed flush.  Returns the violations.
*/
int tlb_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check chk = { fn, ud, 0 };

	for (int i = 0; i < m->tlb->nr_cpus; i++)
		check_cpu(m, &chk, &m->tlb->cpu[i]);
	if (m->tlb->ubc.flush_required || m->tlb->ubc.cpumask)
		ml_violation(&chk, "tlb: a batched flush (TTU_BATCH_FLUSH) is still owed "
			     "after the call that deferred it");
	return chk.count;
}
