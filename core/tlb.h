/*
** tlb.h -- the TLBs, page-walk caches and ASIDs of the simulated CPUs,
** and Linux's TLB flushing interface (include/asm-generic/tlb.h's
** mmu_gather, flush_tlb_page / flush_tlb_range / flush_tlb_mm).  The
** model is described at the top of tlb.c.
**
** A TLB entry is four parallel arrays (structure of arrays, so that the
** hit path reads one cache line of keys per set).  The key packs the
** tag, the ASID, the page size and the valid bit:
**
**   63                 19 18          3 2     1   0
**   | virtual page number |    ASID    | level | V |
**
** vpn = va >> the leaf's shift (at most 57 - 12 = 45 bits), level the
** leaf's page-table level (0: PTE, 1: PMD, 2: PUD) or TLB_CONT_LEVEL for
** a block of arm64 contiguous PTEs cached as one entry.  0 is an invalid
** entry.  A global entry matches every ASID (tlb.c looks it up apart).
*/
#ifndef MEMLAB_TLB_H
#define MEMLAB_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "pgtable.h"

struct mm_struct;

#define TLB_NR_DYN_ASIDS	6		/* arch/x86/include/asm/tlbflush.h */
#define TLB_FLUSH_ALL		UINT64_MAX
#define INIT_MM_CTX_ID		1		/* init_mm's ctx_id (INIT_MM_CONTEXT) */

#define TLB_KEY_VPN_SHIFT	19
#define TLB_KEY_ASID_SHIFT	3
#define TLB_KEY_ASID_MASK	(0xffffull << TLB_KEY_ASID_SHIFT)
#define TLB_CONT_LEVEL		3	/* a key's level for a contiguous block (no leaf is at 3) */

/* What an entry caches from its leaf. */
#define TLBF_WRITE	0x01
#define TLBF_USER	0x02
#define TLBF_EXEC	0x04
#define TLBF_DIRTY	0x08
#define TLBF_ACCESSED	0x10
#define TLBF_GLOBAL	0x20

/*
** The address-space identity of an mm (arch/x86 and arm64 mm_context_t):
** ctx_id is unique for the machine's life (x86; also memlab's key for
** compulsory misses), tlb_gen counts the flushes asked for (x86), id is
** arm64's generation | ASID, and cpumask is mm_cpumask(): the CPUs that
** may hold its entries (set at switch_mm, cleared lazily).
*/
typedef struct {
	uint64_t ctx_id;
	uint64_t tlb_gen;
	uint64_t id;
	uint64_t cpumask;
} mm_context_t;

/*
** The pages a CPU's structures looked up before: hashed keys of (mm, 8
** neighbouring pages), each slot with a mask per page of the structures
** that have seen it (neighbours share a slot: first touches come in runs).
*/
#define SEEN_PAGES	8
struct tlb_seen {
	uint64_t *slot;			/* 0: empty */
	uint16_t (*mask)[SEEN_PAGES];	/* [page & 7] bit i: structure i */
	uint64_t cap, used;
	bool full;			/* stopped growing: unseen pages count as compulsory */
};

struct tlb_counters {
	uint64_t lookups, hits, misses, compulsory, perm, fills, evictions;
	uint64_t flush_events, flushed;
};

/* Where the last level-1 hit on a page found its entry (struct tlb_cpu). */
#define TLB_HINTS	64
struct tlb_hint {
	uint64_t gen, page, pfn, mask;	/* the entry's frame and flags copied: an */
	uint8_t shift, kind, flags;	/* entry changes only by a fill or a flush, */
	uint32_t way;			/* and each bumps hint_gen */
	struct tlb *tl;
	uint64_t set;
};

/* One TLB structure of one CPU. */
struct tlb {
	struct memlab_tlb_desc desc;
	uint32_t sets, ways;
	bool sets_pow2;
	uint64_t set_mask;		/* sets - 1 when sets_pow2 */
	uint8_t nr_sizes;		/* the leaf levels it holds, smallest first */
	uint8_t level[4], shift[4];
	unsigned levels_mask;		/* bit l: holds level-l leaves */
	uint64_t *key, *pfn, *stamp;	/* sets * ways each; stamp as the policy wants */
	uint8_t *flags;
	/*
	 * A byte per entry, tag_stride (ways rounded up to 8) to a set: 0 for
	 * an invalid entry, else tlb_tag(key), so that a set is searched 8
	 * ways to a word (the simulator's shortcut; the key decides).  The
	 * bytes past the ways are TLB_TAG_PAD, which matches no search.
	 */
	uint8_t *tag;
	uint32_t tag_stride;
	uint64_t *plru;			/* plru_words per set: node n's bit, heap order */
	unsigned plru_words, plru_leaves;
	uint64_t clock;
	uint32_t nr_global;		/* valid global entries */
	uint32_t nr_level[4];		/* valid entries by leaf level: a lookup of a
					 * size none holds need not search the set */
	struct tlb_counters st;
};

/* A page-walk cache for the entries of one level: fully associative, LRU. */
struct pwc {
	uint32_t n;
	uint64_t *key, *table, *stamp;
	uint64_t clock;
};

/* One CPU: its TLBs, its page-walk caches and Linux's per-CPU TLB state. */
struct tlb_cpu {
	int id;
	memlab_machine *m;
	uint8_t page_shift;
	struct tlb *tlb;		/* the machine's nr structures */
	uint8_t probe[2][2][MEMLAB_TLB_MAX];	/* [insn, data][L1, L2]: structures in order */
	uint8_t nprobe[2][2];
	struct pwc pwc[PT_MAX_LEVELS];
	struct tlb_seen seen;		/* for compulsory misses */
	uint8_t lk_missed;		/* the levels the last lookup missed (bit 0: L1, 1: L2) */
	bool lk_fault;			/* its entry refused the access: a page fault */
	/*
	 * The last level-1 hit of each of TLB_HINTS pages (by the page
	 * number's low bits), so that the next access to such a page finds
	 * its entry without probing (a simulator's shortcut, same result): a
	 * hint holds while no fill, flush or switch_mm happened since (each
	 * bumps hint_gen), so its entry is still as it was.
	 */
	struct tlb_hint hint[TLB_HINTS];
	uint64_t hint_gen;

	/* cpu_tlbstate (x86) */
	struct mm_struct *loaded_mm;	/* NULL: init_mm */
	uint16_t loaded_mm_asid;	/* x86: the slot; arm64: the ASID */
	uint16_t next_asid;
	bool is_lazy;
	struct { uint64_t ctx_id, tlb_gen; } ctxs[TLB_NR_DYN_ASIDS];
	/* arm64 context.c's per-CPU state */
	uint64_t active_asid, reserved_asid;

	struct memlab_tlb_cpu_stats st;
};

struct tlb_machine {
	memlab_machine *m;
	int nr_cpus, nr;		/* CPUs; structures per CPU */
	struct tlb_cpu *cpu;
	struct memlab_tlb_config cfg;	/* as applied (defaults filled in) */
	struct pt_format fmt;
	uint64_t last_ctx_id;
	int next_cpu;			/* round robin for new tasks */
	bool dying;			/* the machine is being destroyed: no flushing */
	/* arm64 arch/arm64/mm/context.c */
	unsigned asid_bits;
	uint64_t asid_generation;
	uint64_t *asid_map;
	uint64_t cur_idx;
	uint64_t tlb_flush_pending;	/* a cpumask */
	/*
	 * mm/rmap.c's struct tlbflush_unmap_batch, the running context's
	 * (current->tlb_ubc: memlab runs one at a time): the flushes that
	 * reclaim and migration deferred (TTU_BATCH_FLUSH).  x86 keeps the
	 * CPUs to flush; arm64 issues its TLBIs at once.
	 */
	struct {
		uint64_t cpumask;	/* x86 arch_tlbflush_unmap_batch */
		bool flush_required;	/* a flush is owed */
		bool writable;		/* an entry unmapped was dirty */
	} ubc;
};

/*
** include/asm-generic/tlb.h's mmu_gather: the range whose entries were
** cleared and whether page tables were freed, flushed once at the end.
*/
struct mmu_gather {
	memlab_task *t;			/* whose mm, and the CPU that flushes */
	struct mm_struct *mm;
	uint64_t start, end;
	bool fullmm, freed_tables;
	unsigned cleared;		/* bit l: a level-l entry was cleared (cleared_ptes, _pmds...) */
};

/* ---- the machine ---- */
int tlb_init(memlab_machine *m, const struct memlab_config *cfg);
void tlb_free(memlab_machine *m);
int tlb_check(memlab_machine *m, memlab_violation_fn fn, void *ud);

/* ---- tasks and mms ---- */
void init_new_context(memlab_machine *m, struct mm_struct *mm);
int tlb_pick_cpu(memlab_machine *m);
void switch_mm(memlab_machine *m, struct tlb_cpu *c, struct mm_struct *next);
void tlb_exit_mm(memlab_task *t);
void tlb_mm_release(memlab_machine *m, struct mm_struct *mm);

/* ---- the access path (memory.c) ---- */
bool tlb_lookup_levels(struct tlb_cpu *c, int kind, uint64_t va, int access, uint64_t *phys);
void tlb_lookup_retry(struct tlb_cpu *c, int access);
void plru_touch(struct tlb *tl, uint64_t set, uint32_t way);

/* The entry bits an access needs: user, and write + dirty or exec. */
static inline uint8_t tlb_access_needs(int access)
{
	return TLBF_USER | (access == 'w' ? TLBF_WRITE | TLBF_DIRTY : 0) |
	       (access == 'x' ? TLBF_EXEC : 0);
}

/* A hit: what the replacement policy remembers of it. */
static inline void tlb_touch(struct tlb *tl, uint64_t set, uint32_t way)
{
	switch (tl->desc.policy) {
	case MEMLAB_TLB_LRU:
		tl->stamp[set * tl->ways + way] = ++tl->clock;
		break;
	case MEMLAB_TLB_LFU:
		tl->stamp[set * tl->ways + way]++;
		break;
	case MEMLAB_TLB_PLRU:
		plru_touch(tl, set, way);
		break;
	default:	/* FIFO and random: a hit changes nothing */
		break;
	}
}

/*
** A repeat of the last level-1 hit's page, answered without probing, with
** the same counters and replacement state as the probe would leave: true
** and the physical address; false, with nothing changed, when the hint
** does not hold (the probe must answer).
*/
static inline bool tlb_lookup_hint(struct tlb_cpu *c, uint64_t va, int access, uint64_t *phys)
{
	const struct tlb_hint *h = &c->hint[(va >> c->page_shift) & (TLB_HINTS - 1)];
	struct tlb *tl;
	int kind = access != 'x';
	uint8_t need = tlb_access_needs(access);

	if (h->gen != c->hint_gen || kind != h->kind || va >> h->shift != h->page ||
	    (h->flags & need) != need)
		return false;
	tl = h->tl;
	tl->st.lookups++;
	tl->st.hits++;
	c->st.level_lookups[kind]++;
	c->st.level_hits[kind]++;
	tlb_touch(tl, h->set, h->way);
	*phys = (h->pfn << c->page_shift) | (va & h->mask);
	return true;
}

/*
** The TLBs of CPU c (running the accessing task's mm) for an access at
** va: true and the physical address on a hit that allows it.
*/
static inline bool tlb_lookup(struct tlb_cpu *c, uint64_t va, int access, uint64_t *phys)
{
	return tlb_lookup_hint(c, va, access, phys) ||
	       tlb_lookup_levels(c, access != 'x', va, access, phys);
}
int tlb_walk(memlab_task *t, uint64_t va, struct pt_walk *w);
void tlb_fill(memlab_task *t, uint64_t va, int access, const struct pt_walk *w);

/* ---- flushing, with Linux's names ---- */
void tlb_gather_mmu(struct mmu_gather *tlb, memlab_task *t, bool fullmm);
void tlb_flush_pte_range(struct mmu_gather *tlb, uint64_t va, uint64_t size, unsigned level);
void tlb_note_freed_table(struct mmu_gather *tlb, unsigned level, uint64_t va);
void tlb_finish_mmu(struct mmu_gather *tlb);
bool pte_needs_flush(const struct pt_format *f, uint64_t oldpte, uint64_t newpte);
void flush_tlb_page(memlab_task *t, uint64_t addr);
void flush_tlb_range(memlab_task *t, uint64_t start, uint64_t end);
void flush_tlb_mm(memlab_task *t);
void ptep_clear_flush(memlab_task *t, uint64_t addr, struct pt_prot pteval);
/* batched flushes of reclaim and migration (mm/rmap.c, TTU_BATCH_FLUSH) */
bool should_defer_flush(memlab_task *t, unsigned ttu_flags);
void set_tlb_ubc_flush_pending(memlab_task *t, struct pt_prot pteval, uint64_t start,
			       uint64_t end);
void try_to_migrate_flush(memlab_task *t, uint64_t addr, struct pt_prot pteval,
			  unsigned ttu_flags);
void try_to_unmap_flush(memlab_machine *m);
void flush_tlb_batched_pending(memlab_task *t);
void try_to_unmap_flush_dirty(memlab_machine *m);

#endif
