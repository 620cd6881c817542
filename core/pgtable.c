/*
** pgtable.c -- page tables in simulated frames, with x86-64's and arm64's
** real encodings: the format, entries both ways, map / walk / set /
** clear / free over an mm, and a checker and a dump for inspection.
**
** The layout and the bit names are in pgtable.h.  Linux's sources
** followed: arch/x86/include/asm/pgtable_types.h and pgalloc.h,
** arch/arm64/include/asm/pgtable-hwdef.h, pgtable-prot.h, pgtable.h and
** pgalloc.h, mm/memory.c (__pte_alloc and friends, free_pgd_range),
** include/linux/mm.h (pagetable_alloc, mm_inc_nr_ptes).
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mm.h"
#include "pgtable.h"
#include "tlb.h"

/* ===================== the format ===================== */

/* The VA sizes each (arch, granule) supports (arch/arm64/Kconfig ARM64_VA_BITS_*). */
static bool pt_format_supported(int arch, unsigned page_shift, unsigned va_bits)
{
	if (arch == MEMLAB_ARCH_X86_64)
		return page_shift == 12 && (va_bits == 48 || va_bits == 57);
	if (arch != MEMLAB_ARCH_ARM64)
		return false;
	switch (page_shift) {
	case 12: return va_bits == 39 || va_bits == 48;
	case 14: return va_bits == 36 || va_bits == 47 || va_bits == 48;
	case 16: return va_bits == 42 || va_bits == 48;
	default: return false;
	}
}

/*
** Fill f for a machine: CONFIG_PGTABLE_LEVELS is ARM64_HW_PGTABLE_LEVELS
** (va_bits - 4) / (PAGE_SHIFT - 3) (which also gives x86's 4 and 5),
** PGDIR_SHIFT the shift of the top level and PTRS_PER_PGD
** 1 << (va_bits - PGDIR_SHIFT).  Leaves may sit at the PTE and PMD levels
** everywhere, and at the PUD level with 4K pages (x86 1G pages, arm64 1G
** blocks at level 1).  -MEMLAB_EINVAL for a combination Linux lacks.
*/
int pt_format_init(struct pt_format *f, int arch, unsigned page_shift, unsigned va_bits)
{
	unsigned pgdir_shift;

	memset(f, 0, sizeof(*f));
	if (!pt_format_supported(arch, page_shift, va_bits))
		return -MEMLAB_EINVAL;
	f->arch = arch;
	f->page_shift = page_shift;
	f->va_bits = va_bits;
	f->bits_per_level = page_shift - 3;
	f->levels = (va_bits - 4) / f->bits_per_level;
	f->ptrs_per_table = 1ull << f->bits_per_level;
	pgdir_shift = page_shift + (f->levels - 1) * f->bits_per_level;
	f->ptrs_per_pgd = 1ull << (va_bits - pgdir_shift);
	f->leaf_levels = 0x3u | (page_shift == 12 ? 0x4u : 0);
	if (arch == MEMLAB_ARCH_ARM64) {	/* arch/arm64/include/asm/pgtable-hwdef.h */
		f->cont_shift = page_shift + (page_shift == 12 ? 4 : page_shift == 14 ? 7 : 5);
		f->cont_ptes = 1ull << (f->cont_shift - page_shift);
	}
	return 0;
}

/* PAGE_SHIFT, PMD_SHIFT, PUD_SHIFT, P4D_SHIFT, PGDIR_SHIFT by level. */
unsigned pt_level_shift(const struct pt_format *f, unsigned level)
{
	return f->page_shift + level * f->bits_per_level;
}

/* PTRS_PER_PTE ... PTRS_PER_PGD: the top level may be partial. */
uint64_t pt_ptrs(const struct pt_format *f, unsigned level)
{
	return level == f->levels - 1 ? f->ptrs_per_pgd : f->ptrs_per_table;
}

/* pte_index(), pmd_index(), pud_index(), p4d_index(), pgd_index(). */
uint64_t pt_index(const struct pt_format *f, unsigned level, uint64_t va)
{
	return (va >> pt_level_shift(f, level)) & (pt_ptrs(f, level) - 1);
}

/* The name of a level's tables: the top is the PGD, the folded levels vanish. */
const char *pt_level_name(const struct pt_format *f, unsigned level)
{
	static const char *const names[] = { "PTE", "PMD", "PUD", "P4D" };

	return level == f->levels - 1 || level >= 4 ? "PGD" : names[level];
}

/* The name of a leaf at level: PTE, or PMD / PUD for huge pages and blocks. */
static const char *pt_leaf_name(unsigned level)
{
	static const char *const names[] = { "PTE", "PMD", "PUD", "P4D", "PGD" };

	return names[level < PT_MAX_LEVELS ? level : PT_MAX_LEVELS - 1];
}

uint64_t pt_level_size(const struct pt_format *f, unsigned level)
{
	return 1ull << pt_level_shift(f, level);
}

/* Frames per leaf at level: 1, PTRS_PER_PTE, ... (HPAGE_PMD_NR). */
static uint64_t pt_level_pages(const struct pt_format *f, unsigned level)
{
	return 1ull << (level * f->bits_per_level);
}

/* ===================== entries: x86-64 ===================== */

/* pfn_pte(pfn, prot) / pfn_pmd() with pmd_mkhuge(): the _PAGE_* bits. */
static uint64_t x86_mkentry(int level, uint64_t pfn, struct pt_prot p)
{
	uint64_t e = (pfn << 12) & X86_PTE_PFN_MASK;

	e |= p.present ? _PAGE_PRESENT : 0;
	e |= p.write ? _PAGE_RW : 0;
	e |= p.user ? _PAGE_USER : 0;
	e |= p.accessed ? _PAGE_ACCESSED : 0;
	e |= p.dirty ? _PAGE_DIRTY : 0;
	e |= level > 0 ? _PAGE_PSE : 0;
	e |= p.global ? _PAGE_GLOBAL : 0;
	e |= p.special ? _PAGE_SPECIAL : 0;
	e |= p.exec ? 0 : _PAGE_NX;
	if (!p.present && p.protnone)	/* PAGE_NONE: _PAGE_PROTNONE instead of P */
		e = (e & ~_PAGE_GLOBAL) | _PAGE_PROTNONE;
	return e;
}

/* pte_write(), pte_young(), pte_dirty(), pmd_leaf(), pte_pfn() / pmd_pfn(). */
static void x86_decode(const struct pt_format *f, int level, uint64_t e, uint64_t *pfn,
		       struct pt_prot *p)
{
	p->present = e & _PAGE_PRESENT;
	p->write = e & _PAGE_RW;
	p->user = e & _PAGE_USER;
	p->accessed = e & _PAGE_ACCESSED;
	p->dirty = e & _PAGE_DIRTY;
	p->huge = level > 0 && (e & _PAGE_PSE);
	p->global = p->present && (e & _PAGE_GLOBAL);
	p->protnone = !p->present && (e & _PAGE_PROTNONE);
	p->special = e & _PAGE_SPECIAL;
	p->exec = !(e & _PAGE_NX);
	*pfn = (e & X86_PTE_PFN_MASK) >> 12;
	if (p->huge)	/* pmd_pfn_mask(): bit 12 is PAT there */
		*pfn &= ~(pt_level_pages(f, level) - 1);
}

/* ===================== entries: arm64 ===================== */

/*
** pfn_pte() with Linux's user protections (pgtable-prot.h _PAGE_SHARED
** and friends): type page (0b11) at level 0 or block (0b01, pmd_mkhuge)
** above, AttrIndx MT_NORMAL, SH inner shareable; user pages are PXN and
** UXN unless executable, kernel pages UXN and PXN unless executable;
** writable is PTE_WRITE (DBM) with PTE_RDONLY until dirty (pte_mkdirty
** clears RDONLY of a writable pte and sets the software PTE_DIRTY).
*/
static uint64_t arm64_mkentry(const struct pt_format *f, int level, uint64_t pfn,
			      struct pt_prot p)
{
	uint64_t e = (pfn << f->page_shift) & ARM64_OA_MASK;

	e |= level > 0 ? PMD_TYPE_SECT : PTE_TYPE_PAGE;
	e |= PTE_ATTRINDX(MT_NORMAL) | PTE_SHARED;
	e |= p.user ? PTE_USER : 0;
	e |= p.accessed ? PTE_AF : 0;
	e |= p.global ? 0 : PTE_NG;
	if (p.user)
		e |= PTE_PXN | (p.exec ? 0 : PTE_UXN);
	else
		e |= PTE_UXN | (p.exec ? 0 : PTE_PXN);
	e |= p.write ? PTE_WRITE : 0;
	e |= p.dirty ? PTE_DIRTY : 0;
	e |= p.write && p.dirty ? 0 : PTE_RDONLY;
	e |= p.special ? PTE_SPECIAL : 0;
	e |= level == 0 && p.cont ? PTE_CONT : 0;
	if (!p.present)		/* invalid: nG would read as PTE_PRESENT_INVALID */
		e &= ~(PTE_VALID | PTE_NG);
	if (!p.present && p.protnone)	/* PAGE_NONE: invalid, PTE_PRESENT_INVALID */
		e |= PTE_PRESENT_INVALID | PTE_RDONLY | PTE_PXN | PTE_UXN;
	return e;
}

/* pte_valid(), pte_write(), pte_dirty() (sw or hw dirty), pte_user_exec(), pte_pfn(). */
static void arm64_decode(const struct pt_format *f, int level, uint64_t e, uint64_t *pfn,
			 struct pt_prot *p)
{
	uint64_t type = e & PTE_TYPE_MASK;

	p->present = (e & PTE_VALID) && (level > 0 || type == PTE_TYPE_PAGE);
	p->protnone = !(e & PTE_VALID) && (e & PTE_PRESENT_INVALID);
	p->huge = level > 0 && type != PMD_TYPE_TABLE;
	p->write = e & PTE_WRITE;
	p->dirty = (e & PTE_DIRTY) || ((e & PTE_WRITE) && !(e & PTE_RDONLY));
	p->user = e & PTE_USER;
	p->exec = p->user ? !(e & PTE_UXN) : !(e & PTE_PXN);
	p->accessed = e & PTE_AF;
	p->global = p->present && !(e & PTE_NG);
	p->special = e & PTE_SPECIAL;
	p->cont = level == 0 && (p->present || p->protnone) && (e & PTE_CONT);	/* not a swap entry's */
	*pfn = (e & ARM64_OA_MASK) >> f->page_shift;
	if (p->huge)
		*pfn &= ~(pt_level_pages(f, level) - 1);
}

/* ===================== entries: generic ===================== */

/*
** The leaf entry for pfn at level (0 = PTE; above, a huge page or block,
** whatever p.huge says: a leaf above level 0 is always huge), as Linux's
** pfn_pte() / pfn_pmd() + pmd_mkhuge() build it.
*/
uint64_t pt_mkentry(const struct pt_format *f, int level, uint64_t pfn, struct pt_prot p)
{
	if (f->arch == MEMLAB_ARCH_X86_64)
		return x86_mkentry(level, pfn, p);
	return arm64_mkentry(f, level, pfn, p);
}

/*
** The generic meaning of an entry at level: its pfn (aligned down for a
** huge leaf) and protections.  pte_none (0) decodes as all false, pfn 0.
*/
void pt_decode(const struct pt_format *f, int level, uint64_t entry, uint64_t *pfn,
	       struct pt_prot *p)
{
	memset(p, 0, sizeof(*p));
	*pfn = 0;
	if (!entry)
		return;
	if (f->arch == MEMLAB_ARCH_X86_64)
		x86_decode(f, level, entry, pfn, p);
	else
		arm64_decode(f, level, entry, pfn, p);
}

/*
** Swap entries: a PTE that is not present and not PROT_NONE holds where
** the page went (swap type 0, memlab's one device, and the slot offset)
** and whether the page was PageAnonExclusive.  x86-64 (pgtable_64.h):
** type in bits 59-63, the offset inverted in bits 9-58 (so that an L1TF
** speculative load of the entry hits no real memory), _PAGE_SWP_EXCLUSIVE
** is _PAGE_USER.  arm64: type in bits 6-10, offset in bits 12-61,
** PTE_SWP_EXCLUSIVE bit 2.  Offset 0 (the header slot) is never used, so
** no swap entry is pte_none.
*/
#define X86_SWP_TYPE_BITS	5
#define X86_SWP_OFFSET_SHIFT	14	/* SWP_OFFSET_FIRST_BIT (_PAGE_BIT_PROTNONE + 1) + type bits */
#define ARM64_SWP_OFFSET_SHIFT	12
#define ARM64_SWP_OFFSET_MASK	((1ull << 50) - 1)
#define ARM64_PTE_SWP_EXCLUSIVE	(1ull << 2)

uint64_t pt_mkswap(const struct pt_format *f, uint64_t offset, bool exclusive)
{
	if (f->arch == MEMLAB_ARCH_X86_64)
		return (~offset << X86_SWP_OFFSET_SHIFT >> X86_SWP_TYPE_BITS) |
		       (exclusive ? _PAGE_USER : 0);
	return ((offset & ARM64_SWP_OFFSET_MASK) << ARM64_SWP_OFFSET_SHIFT) |
	       (exclusive ? ARM64_PTE_SWP_EXCLUSIVE : 0);
}

/* is_swap_pte(): the entry is a swap entry; its slot and exclusive bit. */
bool pt_swap_entry(const struct pt_format *f, uint64_t e, uint64_t *offset, bool *exclusive)
{
	struct pt_prot p;
	uint64_t pfn;

	if (!e)
		return false;
	pt_decode(f, 0, e, &pfn, &p);
	if (pt_prot_maps(&p))
		return false;
	if (f->arch == MEMLAB_ARCH_X86_64) {
		*offset = ~e << X86_SWP_TYPE_BITS >> X86_SWP_OFFSET_SHIFT;
		*exclusive = e & _PAGE_USER;
	} else {
		*offset = (e >> ARM64_SWP_OFFSET_SHIFT) & ARM64_SWP_OFFSET_MASK;
		*exclusive = e & ARM64_PTE_SWP_EXCLUSIVE;
	}
	return true;
}

/*
** A table entry pointing to the table at pfn, as pmd_populate(),
** pud_populate(), p4d_populate() and pgd_populate() write it for a user
** mm: x86 _PAGE_TABLE; arm64 PMD_TYPE_TABLE | PMD_TABLE_PXN (6.x sets
** PXNTable in user table entries, so no user page is kernel-executable).
** For init_mm (pmd_populate_kernel(), p4d_populate()): x86 _PAGE_TABLE
** too -- its _PAGE_USER is harmless, the leaf entries lack it; arm64
** UXNTable instead of PXNTable.
*/
uint64_t pt_mktable(const struct pt_format *f, uint64_t pfn)
{
	if (f->arch == MEMLAB_ARCH_X86_64)
		return ((pfn << 12) & X86_PTE_PFN_MASK) | _PAGE_TABLE;
	return ((pfn << f->page_shift) & ARM64_OA_MASK) | PMD_TYPE_TABLE |
	       (f->kernel ? PMD_TABLE_UXN : PMD_TABLE_PXN);
}

/*
** pmd_present() && !pmd_leaf() (pud_, p4d_, pgd_ alike): the entry at
** level points to a next-level table.  Never at level 0.
*/
bool pt_entry_is_table(const struct pt_format *f, unsigned level, uint64_t entry)
{
	if (level == 0)
		return false;
	if (f->arch == MEMLAB_ARCH_ARM64)
		return (entry & PTE_TYPE_MASK) == PMD_TYPE_TABLE;
	if (!(entry & _PAGE_PRESENT))
		return false;
	return !((entry & _PAGE_PSE) && (f->leaf_levels & (1u << level)));
}

/* pmd_page_paddr() >> PAGE_SHIFT for a table entry; pte_pfn() for a leaf. */
uint64_t pt_entry_pfn(const struct pt_format *f, unsigned level, uint64_t entry)
{
	struct pt_prot p;
	uint64_t pfn;

	if (pt_entry_is_table(f, level, entry)) {
		if (f->arch == MEMLAB_ARCH_X86_64)
			return (entry & X86_PTE_PFN_MASK) >> 12;
		return (entry & ARM64_OA_MASK) >> f->page_shift;
	}
	pt_decode(f, (int)level, entry, &pfn, &p);
	return pfn;
}

struct pt_bit_name {
	uint64_t bit;
	const char *name;
};

static const struct pt_bit_name x86_bit_names[] = {
	{ _PAGE_PRESENT, "P" }, { _PAGE_RW, "RW" }, { _PAGE_USER, "US" },
	{ _PAGE_PWT, "PWT" }, { _PAGE_PCD, "PCD" }, { _PAGE_ACCESSED, "A" },
	{ _PAGE_DIRTY, "D" }, { _PAGE_PSE, "PS" }, { _PAGE_GLOBAL, "G" },
	{ _PAGE_SPECIAL, "SPECIAL" }, { _PAGE_NX, "NX" }, { 0, NULL }
};

static const struct pt_bit_name arm64_bit_names[] = {
	{ PTE_USER, "USER" }, { PTE_RDONLY, "RDONLY" }, { PTE_AF, "AF" },
	{ PTE_NG, "nG" }, { PTE_DBM, "DBM" }, { PTE_CONT, "CONT" }, { PTE_PXN, "PXN" }, { PTE_UXN, "UXN" },
	{ PTE_DIRTY, "DIRTY" }, { PTE_SPECIAL, "SPECIAL" }, { PMD_TABLE_PXN, "PXNTable" },
	{ 0, NULL }
};

static int pt_append(char *buf, size_t size, int len, const char *name)
{
	int n = snprintf(buf + (len < (int)size ? len : (int)size),
			 (size_t)len < size ? size - (size_t)len : 0, "%s%s", len ? " " : "", name);

	return len + n;
}

/* The arm64 fields that are not single bits: VALID, the type, AttrIndx, SH. */
static int arm64_field_names(unsigned level, uint64_t e, char *buf, size_t size, int len)
{
	static const char *const sh[] = { "NSH", "SH1", "OSH", "ISH" };
	uint64_t type = e & PTE_TYPE_MASK;
	char attr[16];

	if (e & PTE_VALID)
		len = pt_append(buf, size, len, "V");
	if (type == 3)
		len = pt_append(buf, size, len, level == 0 ? "PAGE" : "TABLE");
	else if (type == 1 && level > 0)
		len = pt_append(buf, size, len, "BLOCK");
	snprintf(attr, sizeof(attr), "ATTR%u", (unsigned)((e & PTE_ATTRINDX_MASK) >> 2));
	len = pt_append(buf, size, len, attr);
	return pt_append(buf, size, len, sh[(e >> 8) & 3]);
}

/*
** The set flags of an entry by name, in bit order, space-separated:
** x86 "P RW US A D NX"; arm64 "V PAGE ATTR0 ISH USER RDONLY AF nG DBM PXN
** UXN DIRTY" (V: VALID; PAGE, BLOCK or TABLE: bits[1:0]; ISH: SH = 3).
** Returns the length needed, as snprintf.
*/
int pt_flag_names(const struct pt_format *f, unsigned level, uint64_t entry, char *buf,
		  size_t size)
{
	const struct pt_bit_name *t = f->arch == MEMLAB_ARCH_X86_64 ? x86_bit_names
								      : arm64_bit_names;
	int len = 0;

	if (size)
		buf[0] = '\0';
	if (f->arch == MEMLAB_ARCH_ARM64)
		len = arm64_field_names(level, entry, buf, size, len);
	for (; t->name; t++) {
		const char *name = t->name;

		if (!(entry & t->bit))
			continue;
		if (t->bit == _PAGE_GLOBAL && f->arch == MEMLAB_ARCH_X86_64 &&
		    !(entry & _PAGE_PRESENT))
			name = "PROTNONE";
		len = pt_append(buf, size, len, name);
	}
	return len;
}

/* ===================== table frames ===================== */

/*
** pagetable_alloc(GFP_PGTABLE_USER, 0) with mm_inc_nr_ptes() and
** NR_PAGETABLE.  init_mm's tables are GFP_PGTABLE_KERNEL, charged to no
** memcg, and since 6.15 count in NR_PAGETABLE too (every level's
** pagetable_*_ctor runs for kernel tables: __pte_alloc_one_kernel).
*/
int pt_alloc_table(memlab_machine *m, struct mm_struct *mm, uint64_t *pfn)
{
	uint32_t gfp = mm->pt.kernel ? GFP_PGTABLE_KERNEL : GFP_PGTABLE_USER;
	int err = alloc_pages(m, 0, gfp, pfn);

	if (err)
		return err;
	if (!mm->pt.kernel && (err = memcg_kmem_charge_page(m, *pfn, 0, gfp))) {	/* __GFP_ACCOUNT */
		memlab_free_pages(m, *pfn, 0);
		return err;
	}
	mm->pgtables_bytes += m->page_size;
	pfn_to_page(m, *pfn)->flags |= PG_table;	/* pagetable_*_ctor: __folio_set_pgtable */
	mod_lruvec_page_state(m, pfn_to_page(m, *pfn), NR_PAGE_TABLE_PAGES, 1);
	return 0;
}

/* pagetable_free() with mm_dec_nr_ptes() and NR_PAGETABLE. */
void pt_free_table(memlab_machine *m, struct mm_struct *mm, uint64_t pfn)
{
	pfn_to_page(m, pfn)->flags &= ~PG_table;	/* pagetable_dtor */
	mod_lruvec_page_state(m, pfn_to_page(m, pfn), NR_PAGE_TABLE_PAGES, -1);
	memcg_kmem_uncharge_page(m, pfn);
	memlab_free_pages(m, pfn, 0);
	mm->pgtables_bytes -= m->page_size;
}

/* All entries of a table holding level's entries are pte_none. */
static bool pt_table_empty(memlab_machine *m, const struct pt_format *f, uint64_t table,
			   unsigned level)
{
	for (uint64_t i = 0; i < pt_ptrs(f, level); i++)
		if (pt_read(m, table, i))
			return false;
	return true;
}

/* ===================== the top level ===================== */

/*
** Whether the mm's PGD is a page-table page of its own: since 6.14 x86's
** pgd_alloc (arch/x86/mm/pgtable.c) and arm64's for a page-sized PGD
** (arch/arm64/mm/pgd.c) are __pgd_alloc() (include/asm-generic/pgalloc.h),
** whose pagetable_pgd_ctor() counts it in NR_PAGETABLE (meminfo's PageTables,
** though never in VmPTE: pgtables_bytes counts the levels below).
** arm64's partial PGD is an object of its pgd_cache, no page table.
*/
bool pgd_is_pagetable(const memlab_machine *m, const struct pt_format *f)
{
	return f->ptrs_per_pgd * 8 == m->page_size;
}

/*
** pgd_alloc(): the mm's format and its top-level table, one zeroed
** order-0 frame (arm64's partial PGD too, a slab object in Linux),
** GFP_PGTABLE_USER, in NR_PAGETABLE when pgd_is_pagetable().  Returns 0,
** -MEMLAB_EEXIST if mm has one, -MEMLAB_EINVAL for a machine without a
** page-table format, -MEMLAB_ENOMEM.
*/
int pgd_alloc(memlab_machine *m, struct mm_struct *mm)
{
	struct pt_format f;
	uint64_t pfn;
	int err;

	if (mm->pt.levels)
		return -MEMLAB_EEXIST;
	err = pt_format_init(&f, m->arch, m->page_shift, m->va_bits);
	if (err)
		return err;
	err = alloc_pages(m, 0, GFP_PGTABLE_USER, &pfn);
	if (err)
		return err;
	if ((err = memcg_kmem_charge_page(m, pfn, 0, GFP_PGTABLE_USER))) {
		memlab_free_pages(m, pfn, 0);
		return err;
	}
	mm->pt = f;
	mm->pgd = pfn;
	if (pgd_is_pagetable(m, &f)) {
		pfn_to_page(m, pfn)->flags |= PG_table;
		mod_lruvec_page_state(m, pfn_to_page(m, pfn), NR_PAGE_TABLE_PAGES, 1);
	}
	return 0;
}

/*
** pgd_free(): give the top-level frame back.  The tables below must have
** been freed (free_pgtables over everything); a non-zero pgtables_bytes
** is reported as kernel/fork.c check_mm() does, and those tables leak.
*/
void pgd_free(memlab_machine *m, struct mm_struct *mm)
{
	if (!mm->pt.levels)
		return;
	if (mm->pgtables_bytes)
		ml_report(m, "BUG: non-zero pgtables_bytes on freeing mm: %lld",
			  (long long)mm->pgtables_bytes);
	if (pgd_is_pagetable(m, &mm->pt)) {
		pfn_to_page(m, mm->pgd)->flags &= ~PG_table;
		mod_lruvec_page_state(m, pfn_to_page(m, mm->pgd), NR_PAGE_TABLE_PAGES, -1);
	}
	memcg_kmem_uncharge_page(m, mm->pgd);
	memlab_free_pages(m, mm->pgd, 0);
	mm->pgd = 0;
	memset(&mm->pt, 0, sizeof(mm->pt));
}

/* ===================== map, walk, set, clear ===================== */

/* The arguments of pt_map: a leaf level, va in the tables' span, pfn aligned. */
static int pt_map_check(const struct mm_struct *mm, uint64_t va, unsigned level, uint64_t pfn)
{
	const struct pt_format *f = &mm->pt;

	if (!f->levels || va >> f->va_bits)
		return -MEMLAB_EINVAL;
	if (level >= f->levels || !(f->leaf_levels & (1u << level)))
		return -MEMLAB_EINVAL;
	if (pfn & (pt_level_pages(f, level) - 1))
		return -MEMLAB_EINVAL;
	return 0;
}

/*
** __pte_alloc(), __pmd_alloc(), __pud_alloc(), __p4d_alloc() for every
** missing level at once: the entry at `level` of `table` is none; build
** the tables for levels level-1 down to `to` and link them.  All frames
** are allocated before anything is linked, so -MEMLAB_ENOMEM leaves the
** tables as they were.  Returns 0 and the new table for level `to`.
*/
static int pt_alloc_levels(memlab_machine *m, struct mm_struct *mm, uint64_t va,
			   uint64_t table, unsigned level, unsigned to, uint64_t *bottom)
{
	const struct pt_format *f = &mm->pt;
	uint64_t new[PT_MAX_LEVELS];
	unsigned n = level - to, i;
	int err = 0;

	for (i = 0; i < n && !err; i++)
		err = pt_alloc_table(m, mm, &new[i]);
	if (err) {
		while (--i > 0)
			pt_free_table(m, mm, new[i - 1]);
		return err;
	}
	for (i = 1; i < n; i++)		/* new[i-1] holds the entries of level (level - i) */
		pt_write(m, new[i - 1], pt_index(f, level - i, va), pt_mktable(f, new[i]));
	pt_write(m, table, pt_index(f, level, va), pt_mktable(f, new[0]));
	*bottom = new[n - 1];
	return 0;
}

/*
** Install a leaf for va at level (0 = PTE, 1 = PMD huge page / block,
** 2 = PUD with 4K pages) mapping pfn, which must be aligned to the leaf's
** size; missing tables are allocated (GFP_PGTABLE_USER, counted in
** pgtables_bytes and NR_PAGETABLE).  Returns 0; -MEMLAB_EEXIST when a
** leaf covers va at or above level, or a table sits where the leaf would;
** -MEMLAB_ENOMEM with no table added; -MEMLAB_EINVAL for bad arguments;
** -MEMLAB_EFAULT when a table entry on the way points outside RAM.
** (Linux's __handle_mm_fault allocates level by level and can leave empty
** upper tables behind a failure, for free_pgtables to find; here a
** failure leaves nothing.)
*/
/*
** pte_alloc() and the levels above: the table that holds va's entries at
** level exists afterwards (its pfn in *table).  Returns 0; -MEMLAB_EEXIST
** when a leaf above level covers va; -MEMLAB_ENOMEM with nothing added;
** -MEMLAB_EFAULT for a table entry on the way pointing outside RAM.
*/
int pt_alloc_path(memlab_machine *m, struct mm_struct *mm, uint64_t va, unsigned level,
		  uint64_t *table)
{
	const struct pt_format *f = &mm->pt;
	uint64_t t = mm->pgd, e;
	unsigned l;

	for (l = f->levels - 1; l > level; l--) {
		e = pt_read(m, t, pt_index(f, l, va));
		if (!e)
			break;
		if (!pt_entry_is_table(f, l, e))
			return -MEMLAB_EEXIST;
		t = pt_entry_pfn(f, l, e);
		if (t >= m->nr_frames)	/* corrupt: pt_check reports it */
			return -MEMLAB_EFAULT;
	}
	if (l > level) {
		int err = pt_alloc_levels(m, mm, va, t, l, level, &t);

		if (err)
			return err;
	}
	*table = t;
	return 0;
}

int pt_map(memlab_machine *m, struct mm_struct *mm, uint64_t va, unsigned level,
	   uint64_t pfn, struct pt_prot prot)
{
	const struct pt_format *f = &mm->pt;
	uint64_t table;
	int err = pt_map_check(mm, va, level, pfn);

	if (err || (err = pt_alloc_path(m, mm, va, level, &table)))
		return err;
	if (pt_read(m, table, pt_index(f, level, va)))
		return -MEMLAB_EEXIST;
	prot.cont = false;	/* one entry is never a block: contpte.c makes those */
	pt_write(m, table, pt_index(f, level, va), pt_mkentry(f, (int)level, pfn, prot));
	return 0;
}

/*
** The hardware walker: read va's entry at each level from the PGD down,
** following table entries, until a leaf or a non-present entry.  No side
** effects (the accessed bits are the fault handler's business).  Fills w;
** returns 0 when va maps (w->phys), -MEMLAB_EFAULT when the walk ended on
** a non-present entry (w->level says where), -MEMLAB_EINVAL for a va
** outside the tables' span or an mm without a PGD.
*/
int pt_walk(memlab_machine *m, const struct mm_struct *mm, uint64_t va, struct pt_walk *w)
{
	const struct pt_format *f = &mm->pt;

	if (!f->levels || va >> f->va_bits) {
		memset(w, 0, sizeof(*w));
		return -MEMLAB_EINVAL;
	}
	return pt_walk_from(m, mm, va, f->levels - 1, mm->pgd, w);
}

/*
** pt_walk from the table at pfn `table` holding va's entries of level
** top (a page-walk cache hit gives one below the PGD): the same result,
** with entry[0] and table[0] at level top.  va must be in the tables'
** span.
*/
int pt_walk_from(memlab_machine *m, const struct mm_struct *mm, uint64_t va, unsigned top,
		 uint64_t table, struct pt_walk *w)
{
	const struct pt_format *f = &mm->pt;
	uint64_t e = 0;
	int err = 0;

	/* field by field, not memset: a walk is on every TLB miss */
	w->nr_levels = w->mem_refs = w->level = 0;
	w->present = false;
	w->pfn = w->phys = 0;
	memset(&w->prot, 0, sizeof(w->prot));
	for (int l = (int)top; l >= 0; l--) {
		e = pt_read(m, table, pt_index(f, (unsigned)l, va));
		w->table[w->nr_levels] = table;
		w->entry[w->nr_levels++] = e;
		w->mem_refs++;
		w->level = (unsigned)l;
		if (!pt_entry_is_table(f, (unsigned)l, e))
			break;
		table = pt_entry_pfn(f, (unsigned)l, e);
		if (table >= m->nr_frames) {	/* a corrupt entry: the walk faults */
			err = -MEMLAB_EFAULT;
			goto out;
		}
	}
	pt_decode(f, (int)w->level, e, &w->pfn, &w->prot);
	w->present = w->prot.present;
	if (!w->present)
		err = -MEMLAB_EFAULT;
	else
		w->phys = (w->pfn << f->page_shift) | (va & (pt_level_size(f, w->level) - 1));
out:
	for (unsigned i = w->nr_levels; i < PT_MAX_LEVELS; i++)
		w->entry[i] = w->table[i] = 0;
	return err;
}

/*
** The slot holding va's leaf: the first entry down from the PGD that is
** not a table (pte_offset_map / pmd_offset after the upper levels).
** Returns 0, the table and the level; -MEMLAB_EINVAL for a bad va,
** -MEMLAB_EFAULT for a table entry on the way pointing outside RAM.
*/
int pt_leaf_slot(memlab_machine *m, const struct mm_struct *mm, uint64_t va,
		 uint64_t *table, unsigned *level)
{
	const struct pt_format *f = &mm->pt;
	uint64_t t = mm->pgd, e;
	unsigned l;

	if (!f->levels || va >> f->va_bits)
		return -MEMLAB_EINVAL;
	for (l = f->levels - 1; l > 0; l--) {
		e = pt_read(m, t, pt_index(f, l, va));
		if (!pt_entry_is_table(f, l, e))
			break;
		t = pt_entry_pfn(f, l, e);
		if (t >= m->nr_frames)	/* corrupt: pt_check reports it */
			return -MEMLAB_EFAULT;
	}
	*table = t;
	*level = l;
	return 0;
}

/*
** set_pte_at() / set_pmd_at() over an existing leaf (a fault setting
** accessed and dirty, mprotect, a COW break): replace va's leaf, at the
** level it is, by one for pfn with prot; the old entry in *old.  Returns
** 0; -MEMLAB_ENOENT when va has no leaf (use pt_map); -MEMLAB_EINVAL for
** a bad va or a pfn not aligned to the leaf's size; -MEMLAB_EFAULT (as
** pt_leaf_slot) for a corrupt table entry.
*/
int pt_set(memlab_machine *m, struct mm_struct *mm, uint64_t va, uint64_t pfn,
	   struct pt_prot prot, uint64_t *old)
{
	const struct pt_format *f = &mm->pt;
	uint64_t table, idx, e;
	unsigned level;
	int err = pt_leaf_slot(m, mm, va, &table, &level);

	if (err)
		return err;
	idx = pt_index(f, level, va);
	e = pt_read(m, table, idx);
	if (!e)
		return -MEMLAB_ENOENT;
	if (pfn & (pt_level_pages(f, level) - 1))
		return -MEMLAB_EINVAL;
	if (old)
		*old = e;
	prot.cont = false;
	pt_write(m, table, idx, pt_mkentry(f, (int)level, pfn, prot));
	return 0;
}

/*
** ptep_get_and_clear() / pmdp_huge_get_and_clear(): clear va's leaf (the
** tables stay: free_pgtables frees them), the old entry in *old.
** Returns 0, -MEMLAB_ENOENT when there is no leaf, -MEMLAB_EINVAL,
** -MEMLAB_EFAULT for a corrupt table entry on the way.
*/
int pt_clear(memlab_machine *m, struct mm_struct *mm, uint64_t va, uint64_t *old)
{
	uint64_t table, idx, e;
	unsigned level;
	int err = pt_leaf_slot(m, mm, va, &table, &level);

	if (err)
		return err;
	idx = pt_index(&mm->pt, level, va);
	e = pt_read(m, table, idx);
	if (!e)
		return -MEMLAB_ENOENT;
	if (old)
		*old = e;
	pt_write(m, table, idx, 0);
	return 0;
}

/* ===================== walking a range ===================== */

struct pt_range_ctx {
	memlab_machine *m;
	const struct pt_format *f;
	uint64_t start, end;
	pt_leaf_fn fn;
	pt_table_fn enter;		/* NULL, or called as each PTE table is entered */
	void *ud;
};

/* The non-zero leaves of a table holding level's entries (mapping from base). */
static int pt_range_table(struct pt_range_ctx *c, uint64_t table, unsigned level, uint64_t base)
{
	const struct pt_format *f = c->f;
	unsigned shift = pt_level_shift(f, level);
	uint64_t first = c->start > base ? (c->start - base) >> shift : 0;
	uint64_t last = ((c->end - 1 - base) >> shift) + 1;
	int err;

	if (last > pt_ptrs(f, level))
		last = pt_ptrs(f, level);
	for (uint64_t i = first; i < last; i++) {
		uint64_t e = pt_read(c->m, table, i), va = base + (i << shift);

		if (!e)
			continue;
		if (pt_entry_is_table(f, level, e)) {
			uint64_t child = pt_entry_pfn(f, level, e);

			if (child >= c->m->nr_frames)	/* corrupt: pt_check reports it */
				continue;
			if (level == 1 && c->enter)
				c->enter(c->ud, va, child);
			if ((err = pt_range_table(c, child, level - 1, va)))
				return err;
			continue;
		}
		if ((err = c->fn(c->ud, va, level, table, i, e)))
			return err;
	}
	return 0;
}

/*
** walk_page_range() for the leaves: call fn for every non-zero leaf slot
** (present, PROT_NONE or, later, a swap entry) whose range meets
** [start, end), in address order, without allocating.  Returns 0 or fn's
** first non-zero return.
*/
int pt_walk_range(memlab_machine *m, const struct mm_struct *mm, uint64_t start, uint64_t end,
		  pt_leaf_fn fn, void *ud)
{
	return pt_walk_range_ptl(m, mm, start, end, fn, NULL, ud);
}

/*
** pt_walk_range(), calling enter(ud, va, table) first as it enters each
** PTE table meeting the range, empty or not: where Linux's walkers take
** its lock (pte_offset_map_lock) and do what they do once per table.
*/
int pt_walk_range_ptl(memlab_machine *m, const struct mm_struct *mm, uint64_t start,
		      uint64_t end, pt_leaf_fn fn, pt_table_fn enter, void *ud)
{
	struct pt_range_ctx c = { m, &mm->pt, start, end, fn, enter, ud };

	if (!mm->pt.levels)
		return 0;
	if (c.end > 1ull << mm->pt.va_bits || !c.end)
		c.end = 1ull << mm->pt.va_bits;
	if (c.start >= c.end)
		return 0;
	return pt_range_table(&c, mm->pgd, mm->pt.levels - 1, 0);
}

/* ===================== freeing tables ===================== */

/*
** free_pmd_range() / free_pud_range() / free_p4d_range(), one function
** for every level: for each table entry of `table` (level's entries,
** mapping from base) that meets [floor, ceiling), free the tables below
** first, then the child itself when it maps only addresses inside
** [floor, ceiling) and is now empty.  all: free children whatever they
** hold (exit), else non-empty tables stay.
*/
static void free_pt_range(memlab_machine *m, struct mm_struct *mm, struct mmu_gather *tlb,
			  uint64_t table, unsigned level, uint64_t base, uint64_t floor,
			  uint64_t ceiling, bool all)
{
	const struct pt_format *f = &mm->pt;
	uint64_t size = pt_level_size(f, level);
	uint64_t first = floor > base ? (floor - base) >> pt_level_shift(f, level) : 0;
	uint64_t last = (ceiling - base + size - 1) >> pt_level_shift(f, level);

	if (level == 0)
		return;
	if (last > pt_ptrs(f, level))
		last = pt_ptrs(f, level);
	for (uint64_t i = first; i < last; i++) {
		uint64_t e = pt_read(m, table, i), start = base + i * size, child;

		if (!pt_entry_is_table(f, level, e))
			continue;
		child = pt_entry_pfn(f, level, e);
		if (child >= m->nr_frames)	/* corrupt: left for pt_check */
			continue;
		free_pt_range(m, mm, tlb, child, level - 1, start, floor, ceiling, all);
		if (start < floor || start + size > ceiling)
			continue;
		if (!all && !pt_table_empty(m, f, child, level - 1))
			continue;
		pt_write(m, table, i, 0);	/* pmd_clear() then pte_free_tlb() */
		tlb_note_freed_table(tlb, level, start);
		pt_free_table(m, mm, child);
	}
}

/*
** try_to_free_pte() (mm/pt_reclaim.c; CONFIG_PT_RECLAIM, x86-64 from
** 6.14): MADV_DONTNEED of a range covering the whole PMD at va (within
** one VMA) frees the PMD's PTE table when it maps nothing any more, so
** that the PMD can map a huge page again.  Linux frees it through the
** mmu_gather (the page-walk caches are flushed with the TLBs).
*/
void pt_reclaim_pte(memlab_machine *m, struct mm_struct *mm, struct mmu_gather *tlb, uint64_t va)
{
	const struct pt_format *f = &mm->pt;
	uint64_t table, pmd;
	unsigned level;

	if (pt_leaf_slot(m, mm, va, &table, &level) || level != 0 ||
	    !pt_table_empty(m, f, table, 0) || pt_alloc_path(m, mm, va, 1, &pmd))
		return;
	pt_write(m, pmd, pt_index(f, 1, va), 0);
	tlb_note_freed_table(tlb, 1, va & ~(pt_level_size(f, 1) - 1));
	pt_free_table(m, mm, table);
}

/*
** do_fault()'s pte_free(vmf->prealloc_pte): the PTE table a fault put in
** for va before it read the page goes again when nothing was mapped in
** it (a SIGBUS, a failed read).  No walk can have cached it.
*/
void pte_free_unused(memlab_machine *m, struct mm_struct *mm, uint64_t va, uint64_t pte_table)
{
	const struct pt_format *f = &mm->pt;
	uint64_t pmd;

	if (!pt_table_empty(m, f, pte_table, 0) || pt_alloc_path(m, mm, va, 1, &pmd))
		return;
	pt_write(m, pmd, pt_index(f, 1, va), 0);
	pt_free_table(m, mm, pte_table);
}

/*
** free_pgd_range(), simplified: free every table below the PGD that maps
** only addresses inside [floor, ceiling) and holds no entry (after its
** own empty children are freed), clearing the entry that pointed to it.
** ceiling 0 means the top of the tables' span, as in Linux.  Tables that
** still hold entries stay (Linux frees them after zapping the range; here
** the caller clears the leaves first with pt_clear).  Each freed table
** is noted in tlb (pte_free_tlb), which may be NULL for tables no walk
** can have seen.
*/
void free_pgtables(memlab_machine *m, struct mm_struct *mm, uint64_t floor, uint64_t ceiling,
		   struct mmu_gather *tlb)
{
	const struct pt_format *f = &mm->pt;
	uint64_t limit;

	if (!f->levels)
		return;
	limit = 1ull << f->va_bits;
	if (!ceiling || ceiling > limit)
		ceiling = limit;
	if (floor >= ceiling)
		return;
	free_pt_range(m, mm, tlb, mm->pgd, f->levels - 1, 0, floor, ceiling, false);
}

/*
** exit_mmap()'s free_pgtables() over the whole space, then mm_free_pgd():
** every table is freed whatever it still maps (the frames its leaves map
** are the caller's), then the PGD.  pgtables_bytes ends at 0.
*/
void pt_free_all(memlab_machine *m, struct mm_struct *mm, struct mmu_gather *tlb)
{
	const struct pt_format *f = &mm->pt;

	if (!f->levels)
		return;
	free_pt_range(m, mm, tlb, mm->pgd, f->levels - 1, 0, 0, 1ull << f->va_bits, true);
	pgd_free(m, mm);
}

/* ===================== checking ===================== */

struct pt_check_ctx {
	memlab_machine *m;
	const struct pt_format *f;
	memlab_violation_fn fn;
	void *ud;
	const char *who;
	int violations;
	uint8_t *seen;			/* a bit per frame: a table found there */
	uint64_t nr_tables;		/* below the PGD */
};

static void pt_violation(struct pt_check_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pt_violation(struct pt_check_ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	c->violations++;
	if (!c->fn)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", c->who ? c->who : "pgtable");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	c->fn(c->ud, msg);
}

/* A table frame at pfn is an allocated order-0 frame seen for the first time. */
static bool pt_check_frame(struct pt_check_ctx *c, uint64_t pfn, unsigned level, uint64_t va)
{
	const char *name = pt_level_name(c->f, level);
	struct memlab_page_info pi;

	if (memlab_page_info(c->m, pfn, &pi) != 0) {
		pt_violation(c, "%s table for va %#llx at pfn %#llx is outside RAM", name,
			     (unsigned long long)va, (unsigned long long)pfn);
		return false;
	}
	if (c->seen[pfn / 8] & (1u << (pfn % 8))) {
		pt_violation(c, "%s table for va %#llx at pfn %#llx appears twice", name,
			     (unsigned long long)va, (unsigned long long)pfn);
		return false;
	}
	c->seen[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
	if (pi.free || pi.pcp || pi.reserved || pi.refcount <= 0 || pi.order != 0 || pi.zone < 0)
		pt_violation(c, "%s table for va %#llx at pfn %#llx is not an allocated order-0 "
			     "frame (free %d pcp %d reserved %d refcount %d order %u)", name,
			     (unsigned long long)va, (unsigned long long)pfn, pi.free, pi.pcp,
			     pi.reserved, pi.refcount, pi.order);
	return true;
}

/* A leaf at level: allowed there (pmd_bad otherwise) and, if huge, aligned. */
static void pt_check_leaf(struct pt_check_ctx *c, unsigned level, uint64_t va, uint64_t e)
{
	const struct pt_format *f = c->f;
	uint64_t raw;

	if (level == 0)
		return;
	if (!(f->leaf_levels & (1u << level))) {
		pt_violation(c, "bad %s entry %#018llx for va %#llx", pt_level_name(f, level),
			     (unsigned long long)e, (unsigned long long)va);
		return;
	}
	if (f->arch == MEMLAB_ARCH_X86_64)
		raw = ((e & X86_PTE_PFN_MASK) >> 12) & ~1ull;	/* bit 12: PAT */
	else
		raw = (e & ARM64_OA_MASK) >> f->page_shift;
	if (raw & (pt_level_pages(f, level) - 1))
		pt_violation(c, "huge %s entry %#018llx for va %#llx is not aligned",
			     pt_leaf_name(level), (unsigned long long)e, (unsigned long long)va);
}

/*
** One aligned block of arm64 PTEs holding a valid PTE_CONT entry: all of
** them valid and PTE_CONT, mapping an aligned run of one folio's frames,
** equal but for the pfn and the accessed and dirty bits (contpte.c).
*/
static void pt_check_cont_block(struct pt_check_ctx *c, uint64_t table, uint64_t first,
				uint64_t va)
{
	const struct pt_format *f = c->f;
	uint64_t n = f->cont_ptes, e0 = pt_read(c->m, table, first), pfn0, head;
	uint64_t oa = ARM64_OA_MASK & ~((1ull << f->page_shift) - 1);
	uint64_t same = ~(oa | PTE_AF | PTE_DIRTY | PTE_RDONLY);

	pfn0 = pt_entry_pfn(f, 0, e0);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t e = pt_read(c->m, table, first + i);

		if ((e & (PTE_VALID | PTE_CONT)) != (PTE_VALID | PTE_CONT) ||
		    pt_entry_pfn(f, 0, e) != pfn0 + i || (e & same) != (e0 & same) ||
		    (pfn0 & (n - 1))) {
			pt_violation(c, "contiguous PTE block at va %#llx: entry %llu (%#018llx) "
				     "is not the first's (%#018llx) for the next page",
				     (unsigned long long)va, (unsigned long long)i,
				     (unsigned long long)e, (unsigned long long)e0);
			return;
		}
	}
	if (pfn0 + n > c->m->nr_frames)
		return;		/* bad_pte's business (rmap.c) */
	head = folio_pfn(c->m, pfn0);
	if (head + folio_nr_pages(pfn_to_page(c->m, head)) < pfn0 + n)
		pt_violation(c, "contiguous PTE block at va %#llx maps pfns %#llx-%#llx, "
			     "beyond the folio at %#llx", (unsigned long long)va,
			     (unsigned long long)pfn0, (unsigned long long)(pfn0 + n - 1),
			     (unsigned long long)head);
}

/* A PTE table's arm64 blocks: each one holding a valid PTE_CONT entry. */
static void pt_check_cont(struct pt_check_ctx *c, uint64_t table, uint64_t base)
{
	const struct pt_format *f = c->f;

	for (uint64_t first = 0; first < f->ptrs_per_table; first += f->cont_ptes)
		for (uint64_t i = first; i < first + f->cont_ptes; i++) {
			uint64_t e = pt_read(c->m, table, i);

			if ((e & PTE_VALID) && (e & PTE_CONT)) {
				pt_check_cont_block(c, table, first,
						    base + (first << f->page_shift));
				break;
			}
		}
}

/* Every entry of a table holding level's entries, and the tables below. */
static void pt_check_table(struct pt_check_ctx *c, uint64_t table, unsigned level, uint64_t base)
{
	const struct pt_format *f = c->f;
	uint64_t size = pt_level_size(f, level);

	if (level == 0 && f->cont_ptes && !f->kernel)
		pt_check_cont(c, table, base);

	for (uint64_t i = 0; i < f->ptrs_per_table; i++) {
		uint64_t e = pt_read(c->m, table, i), va = base + i * size, child;

		if (!e)
			continue;
		if (i >= pt_ptrs(f, level)) {
			pt_violation(c, "PGD entry %llu is beyond PTRS_PER_PGD (%llu): %#018llx",
				     (unsigned long long)i, (unsigned long long)pt_ptrs(f, level),
				     (unsigned long long)e);
			continue;
		}
		if (!pt_entry_is_table(f, level, e)) {
			pt_check_leaf(c, level, va, e);
			continue;
		}
		child = pt_entry_pfn(f, level, e);
		if (!pt_check_frame(c, child, level - 1, va))
			continue;
		c->nr_tables++;
		pt_check_table(c, child, level - 1, va);
	}
}

/*
** The page tables' invariants: the PGD and every table reachable from it
** is an allocated order-0 frame, no frame appears twice, entries of the
** upper levels are tables or leaves allowed there (huge ones aligned), a
** partial PGD has nothing beyond PTRS_PER_PGD, and pgtables_bytes equals
** the tables below the PGD times page_size.  Each violation goes to fn
** as "who: ..."; returns their number (-MEMLAB_ENOMEM if the host cannot
** hold the check's bitmap).  An mm without a PGD has nothing to check.
*/
int pt_check(memlab_machine *m, const struct mm_struct *mm, memlab_violation_fn fn,
	     void *ud, const char *who)
{
	struct pt_check_ctx c = { m, &mm->pt, fn, ud, who, 0, NULL, 0 };
	size_t bytes = (size_t)(m->nr_frames / 8 + 1);

	if (!mm->pt.levels)
		return 0;
	c.seen = ml_alloc(m, bytes);
	if (!c.seen)
		return -MEMLAB_ENOMEM;
	if (pt_check_frame(&c, mm->pgd, mm->pt.levels - 1, 0))
		pt_check_table(&c, mm->pgd, mm->pt.levels - 1, 0);
	c.nr_tables += mm->nr_deposit;	/* PTE tables deposited for huge PMDs */
	if (c.nr_tables * m->page_size != mm->pgtables_bytes)
		pt_violation(&c, "pgtables_bytes is %llu, the tables below the PGD (and deposited) "
			     "are %llu (%llu bytes)",
			     (unsigned long long)mm->pgtables_bytes,
			     (unsigned long long)c.nr_tables,
			     (unsigned long long)(c.nr_tables * m->page_size));
	ml_free(m, c.seen, bytes);
	return c.violations;
}

/* ===================== dumping ===================== */

struct pt_dump_ctx {
	memlab_machine *m;
	const struct pt_format *f;
	struct strbuf *sb;
	uint64_t start, end;
	uint64_t path[PT_MAX_LEVELS];	/* the tables walked, by level */
};

/* One line for a present leaf (the format is described at pt_dump). */
static void pt_dump_leaf(struct pt_dump_ctx *c, unsigned level, uint64_t va, uint64_t e)
{
	const struct pt_format *f = c->f;
	struct pt_prot p;
	uint64_t pfn;
	char flags[160];

	pt_decode(f, (int)level, e, &pfn, &p);
	pt_flag_names(f, level, e, flags, sizeof(flags));
	sb_printf(c->sb, "%016llx-%016llx %s pa %#llx flags %s tables",
		  (unsigned long long)va, (unsigned long long)(va + pt_level_size(f, level)),
		  pt_leaf_name(level), (unsigned long long)(pfn << f->page_shift), flags);
	for (unsigned l = f->levels; l-- > level;)
		sb_printf(c->sb, " %s:%#llx", pt_level_name(f, l), (unsigned long long)c->path[l]);
	sb_printf(c->sb, "\n");
}

/* The present leaves under a table holding level's entries, in [start, end). */
static void pt_dump_table(struct pt_dump_ctx *c, uint64_t table, unsigned level, uint64_t base)
{
	const struct pt_format *f = c->f;
	uint64_t size = pt_level_size(f, level);
	uint64_t first = c->start > base ? (c->start - base) >> pt_level_shift(f, level) : 0;
	uint64_t last = (c->end - base + size - 1) >> pt_level_shift(f, level);
	struct pt_prot p;
	uint64_t pfn;

	c->path[level] = table;
	if (last > pt_ptrs(f, level))
		last = pt_ptrs(f, level);
	for (uint64_t i = first; i < last; i++) {
		uint64_t e = pt_read(c->m, table, i), va = base + i * size;

		if (pt_entry_is_table(f, level, e)) {
			if (pt_entry_pfn(f, level, e) < c->m->nr_frames)
				pt_dump_table(c, pt_entry_pfn(f, level, e), level - 1, va);
			continue;
		}
		pt_decode(f, (int)level, e, &pfn, &p);
		if (pt_prot_maps(&p))
			pt_dump_leaf(c, level, va, e);
	}
}

/*
** A readable dump of the present leaves meeting [start, end), in address
** order, one line each:
**
**   START-END LEVEL pa PHYS flags NAMES tables PGD:PFN ... LEVEL:PFN
**
** START and END (exclusive) are the leaf's whole range in 16 hex digits,
** LEVEL is PTE, PMD or PUD, PHYS the leaf's physical address (0x...),
** NAMES the set flags as pt_flag_names gives them, and the tables the
** frames walked from the PGD down to the one holding the leaf, named by
** level.  For example (x86-64, 4-level):
**
**   0000000000400000-0000000000401000 PTE pa 0x1234000 flags P RW US A D NX tables PGD:0x10 PUD:0x11 PMD:0x12 PTE:0x13
**
** end 0 means the top of the tables' span.  Returns 0 or the strbuf's
** error (the text is in sb), -MEMLAB_EINVAL for an mm without a PGD.
*/
int pt_dump(memlab_machine *m, const struct mm_struct *mm, uint64_t start, uint64_t end,
	    struct strbuf *sb)
{
	struct pt_dump_ctx c = { m, &mm->pt, sb, start, end, { 0 } };
	uint64_t limit;

	if (!mm->pt.levels)
		return -MEMLAB_EINVAL;
	limit = 1ull << mm->pt.va_bits;
	if (c.end > limit || c.end == 0)
		c.end = limit;
	if (c.start < c.end)
		pt_dump_table(&c, mm->pgd, mm->pt.levels - 1, 0);
	return sb->err;
}
