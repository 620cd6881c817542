/*
** contpte.c -- arm64's contiguous PTEs, as Linux 6.18 manages them for
** user memory (arch/arm64/mm/contpte.c and the contpte wrappers of
** arch/arm64/include/asm/pgtable.h, CONFIG_ARM64_CONTPTE=y).
**
** CONT_PTES entries (16 with 4K pages, 128 with 16K, 32 with 64K),
** aligned in their table, that map as many contiguous frames, also
** aligned, with the same permissions, may all carry PTE_CONT: the TLB may
** then cache the block as one entry (tlb.c's contiguous size, 64K with 4K
** pages).  Linux keeps the bit a private detail of its PTE interface:
**   - set_ptes() of a batch (a large folio's fault, a PMD split, fork's
**     copy) sets it on every whole, aligned block (contpte_set_ptes);
**   - set_ptes() of one entry unfolds the block it replaces, and folds
**     its block when it writes the block's last entry and the block then
**     maps one folio with equal permissions (contpte_try_fold);
**   - clearing or write-protecting a batch unfolds only the blocks it
**     covers in part (contpte_try_unfold_partial); one entry, its block;
**   - the accessed and dirty bits may be set by the MMU in any entry of a
**     block: reading an entry gathers them (ptep_get), and clearing them
**     clears the whole block (the core tracks them per folio).
** Folding and unfolding rewrite the block break-before-make: every entry
** cleared, the block's TLB entries flushed, the new entries written
** (contpte_convert; memlab's CPUs lack FEAT_BBML2_NOABORT, which would
** let 6.18 skip the flush when unfolding).  On x86-64 (cont_ptes 0) each
** of these is the plain operation.
*/
#include "mm.h"

static uint64_t cont_size(const struct pt_format *f)
{
	return 1ull << f->cont_shift;
}

/* The output address bits of an entry: the pfn's. */
static uint64_t oa_bits(const struct pt_format *f)
{
	return ARM64_OA_MASK & ~((1ull << f->page_shift) - 1);
}

/* pte_valid_cont() */
static bool valid_cont(uint64_t e)
{
	return (e & PTE_VALID) && (e & PTE_CONT);
}

/* pte_mkold(pte_mkclean(e)): what a block's entries must share but for the pfn. */
static uint64_t old_clean(uint64_t e)
{
	return (e & ~(PTE_AF | PTE_DIRTY)) | PTE_RDONLY;
}

/* pte_mkdirty() and pte_mkyoung() of e, as the bits of another entry ask. */
static uint64_t gather_young_dirty(const struct pt_format *f, uint64_t e, uint64_t other)
{
	struct pt_prot p;
	uint64_t pfn;

	pt_decode(f, 0, other, &pfn, &p);
	if (p.dirty)
		e = (e | PTE_DIRTY) & ~((e & PTE_WRITE) ? PTE_RDONLY : 0);
	if (p.accessed)
		e |= PTE_AF;
	return e;
}

/*
** ptep_get(): the entry at idx, with the accessed and dirty bits of its
** whole block when it is one.
*/
uint64_t ptep_get(memlab_machine *m, const struct pt_format *f, uint64_t table, uint64_t idx)
{
	uint64_t e = pt_read(m, table, idx), first;

	if (!f->cont_ptes || !valid_cont(e))
		return e;
	first = idx & ~(f->cont_ptes - 1);
	for (uint64_t i = 0; i < f->cont_ptes; i++)
		e = gather_young_dirty(f, e, pt_read(m, table, first + i));
	return e;
}

/*
** contpte_convert(): rewrite the block holding idx break-before-make,
** every entry as e says (its pfn advanced), with PTE_CONT or without, and
** with the accessed and dirty bits any entry had.
*/
static void contpte_convert(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
			    uint64_t e, bool cont)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t first = idx & ~(f->cont_ptes - 1), start = va & ~(cont_size(f) - 1);
	uint64_t step = 1ull << f->page_shift, pfn0 = pt_entry_pfn(f, 0, e) & ~(f->cont_ptes - 1);

	e &= ~oa_bits(f);
	for (uint64_t i = 0; i < f->cont_ptes; i++) {
		e = gather_young_dirty(f, e, pt_read(t->m, table, first + i));
		pt_write(t->m, table, first + i, 0);
	}
	flush_tlb_range(t, start, start + cont_size(f));
	e = cont ? e | PTE_CONT : e & ~PTE_CONT;
	for (uint64_t i = 0; i < f->cont_ptes; i++)
		pt_write(t->m, table, first + i, e | (((pfn0 + i) * step) & oa_bits(f)));
}

/* contpte_try_unfold(): the entry at idx is part of a block no more. */
void contpte_try_unfold(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx)
{
	uint64_t e = pt_read(t->m, table, idx);

	if (t->mm->pt.cont_ptes && valid_cont(e))
		contpte_convert(t, va, table, idx, e, false);
}

/* contpte_try_unfold_partial(): unfold the blocks [idx, idx + nr) covers in part. */
void contpte_try_unfold_partial(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
				unsigned nr)
{
	uint64_t n = t->mm->pt.cont_ptes;

	if (!n || !nr)
		return;
	if ((idx & (n - 1)) || nr < n)
		contpte_try_unfold(t, va, table, idx);
	if ((idx + nr) & (n - 1))
		contpte_try_unfold(t, va + (uint64_t)(nr - 1) * t->m->page_size, table,
				   idx + nr - 1);
}

/*
** contpte_try_fold(): after the entry at idx was written, fold its block
** if idx is the block's last entry, maps the last frame of an aligned
** run, and the block maps one folio with entries equal but for the pfn
** and the accessed and dirty bits.  Never a special mapping (the zero
** page): it has no folio.
*/
void contpte_try_fold(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t n = f->cont_ptes, e = pt_read(t->m, table, idx), pfn, first, start, fstart;
	const struct page *folio;
	struct pt_prot p;

	if (!n || (idx & (n - 1)) != n - 1)
		return;
	pt_decode(f, 0, e, &pfn, &p);
	if ((pfn & (n - 1)) != n - 1 || !p.present || p.cont || p.special ||
	    pfn >= t->m->nr_frames)	/* no folio: a corrupted entry's frame */
		return;
	folio = pfn_folio(t->m, pfn);
	start = va & ~(cont_size(f) - 1);
	fstart = va - (pfn - page_to_pfn(t->m, folio)) * t->m->page_size;
	if (fstart > start || fstart + folio_nr_pages(folio) * t->m->page_size < start + cont_size(f))
		return;
	first = idx & ~(n - 1);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t sub = pt_read(t->m, table, first + i);

		if (!sub || pt_entry_pfn(f, 0, sub) != pfn - (n - 1) + i ||
		    (old_clean(sub) & ~oa_bits(f)) != (old_clean(e) & ~oa_bits(f)))
			return;
	}
	contpte_convert(t, va, table, idx, e, true);
}

/*
** arm64's set_ptes() (mm.h): nr entries from idx (mapping va on) map the
** frames from pfn on with p.  One entry replaces what was there
** (unfolding its block) and may complete a block (folding it); a batch,
** always over empty entries, is written with PTE_CONT on each whole
** aligned block (contpte_set_ptes).
*/
void contpte_set_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx, uint64_t pfn,
		      struct pt_prot p, unsigned nr)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t n = f->cont_ptes;

	p.cont = false;
	if (nr == 1) {
		contpte_try_unfold(t, va, table, idx);
		pt_write(t->m, table, idx, pt_mkentry(f, 0, pfn, p));
		contpte_try_fold(t, va, table, idx);
		return;
	}
	for (unsigned i = 0; i < nr;) {
		uint64_t left = nr - i, run = n - ((idx + i) & (n - 1));

		if (run > left)
			run = left;
		p.cont = run == n && !((pfn + i) & (n - 1)) && !((idx + i) & (n - 1));
		for (uint64_t j = 0; j < run; j++)
			pt_write(t->m, table, idx + i + j, pt_mkentry(f, 0, pfn + i + j, p));
		i += (unsigned)run;
	}
}

/*
** get_and_clear_full_ptes() / ptep_get_and_clear(): nr entries from idx
** cleared, blocks covered in part unfolded first; the first entry's
** protections with the accessed and dirty bits of all of them.  The
** caller flushes.
*/
struct pt_prot get_and_clear_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
				  unsigned nr)
{
	const struct pt_format *f = &t->mm->pt;
	struct pt_prot p, q;
	uint64_t pfn;

	contpte_try_unfold_partial(t, va, table, idx, nr);
	pt_decode(f, 0, pt_read(t->m, table, idx), &pfn, &p);
	pt_write(t->m, table, idx, 0);
	for (unsigned i = 1; i < nr; i++) {
		pt_decode(f, 0, pt_read(t->m, table, idx + i), &pfn, &q);
		p.dirty |= q.dirty;
		p.accessed |= q.accessed;
		pt_write(t->m, table, idx + i, 0);
	}
	p.cont = false;
	return p;
}

/*
** wrprotect_ptes(): nr present entries from idx made read-only, their
** dirtiness kept in software (pte_wrprotect).  Whole blocks stay folded:
** the caller's flush makes them read-only in the TLBs too.
*/
void wrprotect_ptes(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx, unsigned nr)
{
	const struct pt_format *f = &t->mm->pt;

	contpte_try_unfold_partial(t, va, table, idx, nr);
	for (unsigned i = 0; i < nr; i++) {
		struct pt_prot p;
		uint64_t pfn;

		pt_decode(f, 0, pt_read(t->m, table, idx + i), &pfn, &p);
		p.write = false;
		pt_write(t->m, table, idx + i, pt_mkentry(f, 0, pfn, p));
	}
}

/*
** clear_young_dirty_ptes() and tlb_remove_tlb_entries(): nr entries from
** idx (mapping va on) lose their accessed bit, and their dirty bit if
** dirty; those that had one are flushed with the mmu_gather.  A block the
** range covers in part is cleared whole (the core tracks both bits per
** folio, and a block maps one) and flushed whole.
*/
void clear_young_dirty_ptes(struct mmu_gather *tlb, uint64_t table, uint64_t idx, uint64_t va,
			    uint64_t nr, bool dirty)
{
	memlab_task *t = tlb->t;
	const struct pt_format *f = &t->mm->pt;
	uint64_t first = idx, end = idx + nr, n = f->cont_ptes;

	if (n && valid_cont(pt_read(t->m, table, end - 1)))
		end = (end + n - 1) & ~(n - 1);
	if (n && valid_cont(pt_read(t->m, table, idx)))
		first = idx & ~(n - 1);
	for (uint64_t i = first; i < end; i++) {
		struct pt_prot p;
		uint64_t pfn;

		pt_decode(f, 0, pt_read(t->m, table, i), &pfn, &p);
		if (!p.accessed && !(dirty && p.dirty))
			continue;
		p.accessed = false;
		p.dirty &= !dirty;
		pt_write(t->m, table, i, pt_mkentry(f, 0, pfn, p));
		tlb_flush_pte_range(tlb, va + ((i - idx) << t->m->page_shift), t->m->page_size, 0);
	}
}

/*
** ptep_test_and_clear_young() (flush: ptep_clear_flush_young()): whether
** the entry at idx -- or, in a block, any entry of it -- was accessed;
** the bit cleared in it or in the whole block, whose TLB entries a flush
** then drops (arm64 flushes; x86 leaves stale accessed bits be).
*/
bool ptep_test_and_clear_young(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
			       bool flush)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t n = f->cont_ptes, e = pt_read(t->m, table, idx), first = idx, nr = 1;
	bool young = false;

	if (n && valid_cont(e)) {
		first = idx & ~(n - 1);
		nr = n;
		va &= ~(cont_size(f) - 1);
	}
	for (uint64_t i = first; i < first + nr; i++) {
		struct pt_prot p;
		uint64_t pfn;

		pt_decode(f, 0, pt_read(t->m, table, i), &pfn, &p);
		if (!pt_prot_maps(&p) || !p.accessed)
			continue;
		young = true;
		p.accessed = false;
		pt_write(t->m, table, i, pt_mkentry(f, 0, pfn, p));
	}
	if (young && flush && nr > 1)
		flush_tlb_range(t, va, va + nr * t->m->page_size);
	else if (young && flush)
		flush_tlb_page(t, va);
	return young;
}

/*
** set_pte_at(): va's leaf in t's tables becomes pfn with p -- at level 0
** as set_ptes() of one entry, above as the huge leaf it is.  0, or
** pt_set()'s error.
*/
int set_pte_at(memlab_task *t, uint64_t va, uint64_t pfn, struct pt_prot p)
{
	uint64_t table;
	unsigned level;
	int err = pt_leaf_slot(t->m, t->mm, va, &table, &level);

	if (err || level)
		return err ? err : pt_set(t->m, t->mm, va, pfn, p, NULL);
	if (!pt_read(t->m, table, pt_index(&t->mm->pt, 0, va)))
		return -MEMLAB_ENOENT;
	set_ptes(t, va, table, pt_index(&t->mm->pt, 0, va), pfn, p, 1);
	return 0;
}

/*
** contpte_ptep_set_access_flags() for the entry at idx, which a fault
** makes pfn with p (young, maybe dirty and writable): true when it was
** part of a block and is done -- nothing to change, or only the accessed
** and dirty bits, set in every entry of the block (flushed when dirty);
** false when it was not, or the write bit changes: the block is unfolded
** and the caller writes the entry.
*/
bool contpte_set_access_flags(memlab_task *t, uint64_t va, uint64_t table, uint64_t idx,
			      uint64_t pfn, struct pt_prot p, bool dirty)
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t n = f->cont_ptes, e = pt_read(t->m, table, idx), first, q;
	struct pt_prot o;

	if (!n || !valid_cont(e))
		return false;
	p.cont = false;
	pt_decode(f, 0, ptep_get(t->m, f, table, idx) & ~PTE_CONT, &q, &o);
	if (pt_mkentry(f, 0, q, o) == pt_mkentry(f, 0, pfn, p))
		return true;
	if (o.write != p.write) {
		contpte_try_unfold(t, va, table, idx);
		return false;
	}
	first = idx & ~(n - 1);
	for (uint64_t i = first; i < first + n; i++) {
		pt_decode(f, 0, pt_read(t->m, table, i), &q, &o);
		o.accessed |= p.accessed;
		o.dirty |= p.dirty;
		pt_write(t->m, table, i, pt_mkentry(f, 0, q, o));
	}
	if (dirty)
		flush_tlb_range(t, va & ~(cont_size(f) - 1), (va & ~(cont_size(f) - 1)) + cont_size(f));
	return true;
}
