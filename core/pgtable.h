/*
** pgtable.h -- page tables with real encodings, held in simulated frames
** (arch/x86/include/asm/pgtable*.h, arch/arm64/include/asm/pgtable*.h,
** include/linux/pgtable.h, mm/memory.c free_pgd_range).
**
** Levels are numbered from the bottom: level 0 is the last level (PTE),
** 1 the PMD, 2 the PUD, 3 the P4D; the top level is always called the PGD
** (Linux folds the missing ones into it).  A leaf at level >= 1 is a huge
** page (x86 PS) or a block (arm64 bits[1:0] = 0b01).
**
**   x86-64 4-level  47      39 38    30 29    21 20    12 11       0
**                   |PGD idx | PUD idx | PMD idx | PTE idx | offset |
**   x86-64 5-level adds the P4D level and a PGD index at bits 56..48.
**   arm64: the same shape with PAGE_SHIFT - 3 index bits per level
**   (9, 11, 13) and a PGD of 2^(va_bits - PGDIR_SHIFT) entries, which may
**   be fewer than a full table (16K/48-bit: 2, 64K/48-bit: 64).
**
** Entries are little-endian 64-bit words in the table frames; a table is
** always one order-0 frame, the PGD included (arm64 partial PGDs too).
*/
#ifndef MEMLAB_PGTABLE_H
#define MEMLAB_PGTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

struct mm_struct;
struct mmu_gather;

#define PT_MAX_LEVELS	5

/* GFP_PGTABLE_KERNEL, GFP_PGTABLE_USER (include/asm-generic/pgalloc.h) */
#define GFP_PGTABLE_KERNEL (MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO)
#define GFP_PGTABLE_USER (GFP_PGTABLE_KERNEL | MEMLAB___GFP_ACCOUNT)

/* x86-64 entry bits (arch/x86/include/asm/pgtable_types.h) */
#define _PAGE_PRESENT	(1ull << 0)
#define _PAGE_RW	(1ull << 1)
#define _PAGE_USER	(1ull << 2)
#define _PAGE_PWT	(1ull << 3)
#define _PAGE_PCD	(1ull << 4)
#define _PAGE_ACCESSED	(1ull << 5)
#define _PAGE_DIRTY	(1ull << 6)
#define _PAGE_PSE	(1ull << 7)	/* huge page in a PMD or PUD */
#define _PAGE_GLOBAL	(1ull << 8)
#define _PAGE_SPECIAL	(1ull << 9)	/* _PAGE_BIT_SOFTW1 */
#define _PAGE_PROTNONE	_PAGE_GLOBAL	/* only when !_PAGE_PRESENT: PROT_NONE */
#define _PAGE_NX	(1ull << 63)
#define X86_PTE_PFN_MASK	0x000ffffffffff000ull	/* bits 12..51 */
#define _PAGE_TABLE	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)

/* arm64 stage-1 descriptor bits (arch/arm64/include/asm/pgtable-hwdef.h, pgtable-prot.h) */
#define PTE_VALID	(1ull << 0)
#define PTE_TABLE_BIT	(1ull << 1)	/* 0b11: table or page; 0b01: block */
#define PTE_TYPE_MASK	3ull
#define PTE_TYPE_PAGE	3ull
#define PMD_TYPE_TABLE	3ull
#define PMD_TYPE_SECT	1ull
#define PTE_ATTRINDX(t)	((uint64_t)(t) << 2)
#define PTE_ATTRINDX_MASK (7ull << 2)
#define PTE_USER	(1ull << 6)	/* AP[1] */
#define PTE_RDONLY	(1ull << 7)	/* AP[2] */
#define PTE_SHARED	(3ull << 8)	/* SH[1:0], inner shareable */
#define PTE_AF		(1ull << 10)
#define PTE_NG		(1ull << 11)
#define PTE_PRESENT_INVALID PTE_NG	/* only when !PTE_VALID: PROT_NONE (6.10+) */
#define PTE_DBM		(1ull << 51)
#define PTE_WRITE	PTE_DBM
#define PTE_CONT	(1ull << 52)	/* one of CONT_PTES entries the TLB may cache as one */
#define PTE_PXN		(1ull << 53)
#define PTE_UXN		(1ull << 54)
#define PTE_DIRTY	(1ull << 55)	/* software */
#define PTE_SPECIAL	(1ull << 56)	/* software */
#define PMD_TABLE_PXN	(1ull << 59)	/* PXNTable, set in user table entries */
#define PMD_TABLE_UXN	(1ull << 60)	/* UXNTable, set in kernel table entries */
#define MT_NORMAL	0		/* MAIR index of normal memory (asm/memory.h, 6.x) */
#define ARM64_OA_MASK	0x0000ffffffffffffull	/* output address bits [47:0] */

/*
** A machine's page-table format, derived from (arch, page_shift, va_bits)
** as Kconfig derives CONFIG_PGTABLE_LEVELS and pgtable-hwdef.h PTRS_PER_*.
*/
struct pt_format {
	int arch;			/* enum memlab_arch */
	unsigned page_shift;
	unsigned va_bits;		/* the tables span [0, 2^va_bits) */
	unsigned levels;		/* CONFIG_PGTABLE_LEVELS; 0: no format */
	unsigned bits_per_level;	/* PAGE_SHIFT - 3 */
	uint64_t ptrs_per_table;	/* PTRS_PER_PTE (= PMD = PUD = P4D) */
	uint64_t ptrs_per_pgd;		/* PTRS_PER_PGD, maybe fewer */
	unsigned leaf_levels;		/* bit l set: level l may hold a leaf */
	unsigned cont_shift;		/* arm64 CONT_PTE_SHIFT; 0: no contiguous PTEs (x86) */
	uint64_t cont_ptes;		/* CONT_PTES (16, 128, 32 by granule); 0 on x86 */
	bool kernel;			/* init_mm's: GFP_PGTABLE_KERNEL, kernel table entries */
};

/*
** The generic meaning of an entry, both ways (pte_write(), pte_mkdirty()...).
** present is the hardware's valid bit; protnone an entry of a PROT_NONE
** VMA, which maps a frame for the kernel (pte_present()) but faults for
** the MMU (x86 _PAGE_PROTNONE, arm64 PTE_PRESENT_INVALID).  cont is
** arm64's PTE_CONT of a PTE (contpte.c sets and clears it): it leaks
** through decoding as through Linux's ptep_get(), so an entry re-encoded
** with new access or dirty bits keeps it.
*/
struct pt_prot {
	bool present, write, user, exec, accessed, dirty, global, huge, special, protnone, cont;
};

/* pte_present(): the entry maps a frame, for the MMU or only for the kernel. */
static inline bool pt_prot_maps(const struct pt_prot *p)
{
	return p->present || p->protnone;
}

/* What a walk found (the hardware walker's view, or follow_page's). */
struct pt_walk {
	uint64_t entry[PT_MAX_LEVELS];	/* the entry read at each level, top first */
	uint64_t table[PT_MAX_LEVELS];	/* the pfn of the table it was read from */
	unsigned nr_levels;		/* levels read: entry[0 .. nr_levels-1] */
	unsigned level;			/* the level of the last entry read (the leaf's) */
	bool present;			/* that entry is a present leaf */
	uint64_t pfn;			/* the leaf's pfn (first frame of a huge leaf) */
	uint64_t phys;			/* va's physical address, when present */
	struct pt_prot prot;		/* the last entry, decoded */
	unsigned mem_refs;		/* memory references made: one per level read */
};

/* ---- the format ---- */
int pt_format_init(struct pt_format *f, int arch, unsigned page_shift, unsigned va_bits);
unsigned pt_level_shift(const struct pt_format *f, unsigned level);
uint64_t pt_index(const struct pt_format *f, unsigned level, uint64_t va);
uint64_t pt_ptrs(const struct pt_format *f, unsigned level);
const char *pt_level_name(const struct pt_format *f, unsigned level);

/* ---- entries ---- */
uint64_t pt_mkentry(const struct pt_format *f, int level, uint64_t pfn, struct pt_prot p);
void pt_decode(const struct pt_format *f, int level, uint64_t entry, uint64_t *pfn,
	       struct pt_prot *p);
uint64_t pt_mktable(const struct pt_format *f, uint64_t pfn);
uint64_t pt_mkswap(const struct pt_format *f, uint64_t offset, bool exclusive);
bool pt_swap_entry(const struct pt_format *f, uint64_t e, uint64_t *offset, bool *exclusive);
bool pt_entry_is_table(const struct pt_format *f, unsigned level, uint64_t entry);
uint64_t pt_entry_pfn(const struct pt_format *f, unsigned level, uint64_t entry);
int pt_flag_names(const struct pt_format *f, unsigned level, uint64_t entry, char *buf,
		  size_t size);

/* ---- entries in table frames (READ_ONCE / WRITE_ONCE of *ptep) ---- */

/* Entries are little-endian in their frames, as x86-64 and arm64 (LE) read them. */
static inline uint64_t pt_le64(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}
static inline uint64_t pt_read(memlab_machine *m, uint64_t table, uint64_t idx)
{
	uint64_t v;

	memcpy(&v, frame_ptr(m, table) + idx * 8, 8);
	return pt_le64(v);
}

static inline void pt_write(memlab_machine *m, uint64_t table, uint64_t idx, uint64_t e)
{
	e = pt_le64(e);
	memcpy(frame_wptr(m, table, idx * 8, 8), &e, 8);
}

/*
** A leaf slot met by pt_walk_range: the entry (never 0) at index idx of
** the table at pfn table, mapping va at level.  fn may rewrite the slot
** with pt_write; a non-zero return stops the walk and is returned.
*/
typedef int (*pt_leaf_fn)(void *ud, uint64_t va, unsigned level, uint64_t table,
			  uint64_t idx, uint64_t entry);

/* ---- operations on an mm ---- */
bool pgd_is_pagetable(const memlab_machine *m, const struct pt_format *f);
int pgd_alloc(memlab_machine *m, struct mm_struct *mm);
int pt_alloc_table(memlab_machine *m, struct mm_struct *mm, uint64_t *pfn);
void pt_free_table(memlab_machine *m, struct mm_struct *mm, uint64_t pfn);
void pte_free_unused(memlab_machine *m, struct mm_struct *mm, uint64_t va, uint64_t pte_table);
struct mmu_gather;
void pt_reclaim_pte(memlab_machine *m, struct mm_struct *mm, struct mmu_gather *tlb, uint64_t va);
void pgd_free(memlab_machine *m, struct mm_struct *mm);
int pt_map(memlab_machine *m, struct mm_struct *mm, uint64_t va, unsigned level,
	   uint64_t pfn, struct pt_prot prot);
int pt_alloc_path(memlab_machine *m, struct mm_struct *mm, uint64_t va, unsigned level,
		  uint64_t *table);
int pt_walk(memlab_machine *m, const struct mm_struct *mm, uint64_t va, struct pt_walk *w);
int pt_walk_from(memlab_machine *m, const struct mm_struct *mm, uint64_t va, unsigned top,
		 uint64_t table, struct pt_walk *w);
int pt_set(memlab_machine *m, struct mm_struct *mm, uint64_t va, uint64_t pfn,
	   struct pt_prot prot, uint64_t *old);
int pt_clear(memlab_machine *m, struct mm_struct *mm, uint64_t va, uint64_t *old);
int pt_walk_range(memlab_machine *m, const struct mm_struct *mm, uint64_t start, uint64_t end,
		  pt_leaf_fn fn, void *ud);
/* A PTE table pt_walk_range_ptl enters, the one mapping va (its pte_offset_map_lock). */
typedef void (*pt_table_fn)(void *ud, uint64_t va, uint64_t table);
int pt_walk_range_ptl(memlab_machine *m, const struct mm_struct *mm, uint64_t start,
		      uint64_t end, pt_leaf_fn fn, pt_table_fn enter, void *ud);
int pt_leaf_slot(memlab_machine *m, const struct mm_struct *mm, uint64_t va,
		 uint64_t *table, unsigned *level);
uint64_t pt_level_size(const struct pt_format *f, unsigned level);
void free_pgtables(memlab_machine *m, struct mm_struct *mm, uint64_t floor, uint64_t ceiling,
		   struct mmu_gather *tlb);
void pt_free_all(memlab_machine *m, struct mm_struct *mm, struct mmu_gather *tlb);

/* ---- inspection ---- */
int pt_check(memlab_machine *m, const struct mm_struct *mm, memlab_violation_fn fn,
	     void *ud, const char *who);
int pt_dump(memlab_machine *m, const struct mm_struct *mm, uint64_t start, uint64_t end,
	    struct strbuf *sb);

#endif
