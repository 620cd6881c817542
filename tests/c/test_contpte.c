/*
** test_contpte.c -- core/contpte.c's functions called directly, for the
** cases no system call of memlab reaches on its own (tests/lua/
** test_contpte.lua covers the rest through the calls): the access-flag
** update of a block (contpte_ptep_set_access_flags), the young and dirty
** bits cleared over a whole block from part of it
** (contpte_clear_young_dirty_ptes), a partial clear unfolding and a lone
** write folding (contpte_try_unfold_partial, contpte_try_fold), and
** ptep_get's gathered bits -- each as arch/arm64/mm/contpte.c of Linux
** 6.18 does it.  A 64 KiB folio's fault maps the block each test starts
** from; every test ends with memlab_check() finding nothing.
*/
#include <stdio.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"
#include "testlib.h"

#define PG 4096ull
#define REGION 0x7e0000000000ull
#define A(n) (REGION + (uint64_t)(n) * PG)
#define N 16				/* CONT_PTES with 4K pages */

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

/* A task of an arm64 machine whose REGION holds one 64K folio, mapped as a block. */
static memlab_task *block_task(memlab_machine **mp, uint64_t *table, uint64_t *idx,
			       uint64_t *pfn)
{
	struct memlab_config cfg;
	struct memlab_spawn_args a;
	memlab_task *t = NULL;
	struct memlab_walk w;
	unsigned level;
	uint64_t out;
	int code;

	test_config(&cfg, MEMLAB_ARCH_ARM64, 4096, 48, 64ull << 20);
	memset(&a, 0, sizeof(a));
	if (!(*mp = test_create(&cfg)) || memlab_thp(*mp, "never", -1, NULL) ||
	    memlab_thp_size_set(*mp, 64 << 10, "always") || memlab_spawn(*mp, &a, &t) ||
	    memlab_mmap(t, REGION, 1 << 20, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED, NULL, 0, &out) ||
	    memlab_touch(t, REGION, 1, 'w', &code) || memlab_translate(t, REGION, &w) || !w.cont ||
	    pt_leaf_slot(*mp, t->mm, REGION, table, &level) || level)
		return NULL;
	*idx = pt_index(&t->mm->pt, 0, REGION);
	*pfn = w.pfn;
	return t;
}

/* The entries of the block from idx with PTE_CONT, AF, dirty (sw or hw): counts. */
static void count_bits(memlab_task *t, uint64_t table, uint64_t idx, int *cont, int *young,
		       int *dirty)
{
	*cont = *young = *dirty = 0;
	for (uint64_t i = 0; i < N; i++) {
		struct pt_prot p;
		uint64_t pfn;

		pt_decode(&t->mm->pt, 0, pt_read(t->m, table, idx + i), &pfn, &p);
		*cont += p.cont;
		*young += p.accessed;
		*dirty += p.dirty;
	}
}

/*
** A fault that only makes an entry young (and dirty) marks the whole block
** and keeps it; one that changes the write bit unfolds it first.
*/
TEST(set_access_flags)
{
	memlab_machine *m;
	uint64_t table, idx, pfn;
	memlab_task *t = block_task(&m, &table, &idx, &pfn);
	struct pt_prot p;
	int cont, young, dirty;

	ASSERT(t);
	ASSERT(ptep_test_and_clear_young(t, A(3), table, idx + 3, true));
	ASSERT(!ptep_test_and_clear_young(t, A(9), table, idx + 9, true));
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, N);
	ASSERT_EQ(young, 0);
	pt_decode(&t->mm->pt, 0, pt_read(m, table, idx + 5), &pfn, &p);
	p.accessed = true;
	ASSERT(contpte_set_access_flags(t, A(5), table, idx + 5, pfn, p, false));
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, N);
	ASSERT_EQ(young, N);
	ASSERT(contpte_set_access_flags(t, A(5), table, idx + 5, pfn, p, false));	/* no change */
	p.write = false;
	ASSERT(!contpte_set_access_flags(t, A(5), table, idx + 5, pfn, p, false));
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, 0);			/* unfolded for the caller to write one entry */
	ASSERT_EQ(young, N);
	ASSERT_EQ(dirty, N);
	ASSERT(!contpte_set_access_flags(t, A(5), table, idx + 5, pfn, p, false));	/* no block */
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/*
** Clearing the bits of two pages of a block clears the block's, and
** ptep_get() of any entry gathers what the MMU set in one.
*/
TEST(clear_young_dirty_whole_block)
{
	memlab_machine *m;
	uint64_t table, idx, pfn;
	memlab_task *t = block_task(&m, &table, &idx, &pfn);
	struct mmu_gather tlb;
	struct pt_prot p;
	int cont, young, dirty;

	ASSERT(t);
	tlb_gather_mmu(&tlb, t, false);
	clear_young_dirty_ptes(&tlb, table, idx + 3, A(3), 2, true);
	tlb_finish_mmu(&tlb);
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, N);
	ASSERT_EQ(young, 0);
	ASSERT_EQ(dirty, 0);
	pt_decode(&t->mm->pt, 0, pt_read(m, table, idx + 7), &pfn, &p);
	p.accessed = p.dirty = true;		/* as the MMU marks the entry it walked */
	pt_write(m, table, idx + 7, pt_mkentry(&t->mm->pt, 0, pfn, p));
	pt_decode(&t->mm->pt, 0, ptep_get(m, &t->mm->pt, table, idx + 12), &pfn, &p);
	ASSERT(p.accessed && p.dirty && p.cont);
	pt_decode(&t->mm->pt, 0, pt_read(m, table, idx + 12), &pfn, &p);
	ASSERT(!p.accessed && !p.dirty);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/*
** get_and_clear_ptes() of the whole block needs no unfold, of part of it
** unfolds it; set_ptes() of a batch folds only whole blocks, set_pte_at()
** of the block's last entry folds the block it completes.
*/
TEST(unfold_partial_and_fold)
{
	memlab_machine *m;
	uint64_t table, idx, pfn;
	memlab_task *t = block_task(&m, &table, &idx, &pfn);
	struct pt_prot p;
	int cont, young, dirty;

	ASSERT(t);
	p = get_and_clear_ptes(t, A(0), table, idx, N);
	ASSERT(p.dirty && p.accessed && !p.cont);
	set_ptes(t, A(0), table, idx, pfn, p, N);
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, N);
	p = get_and_clear_ptes(t, A(1), table, idx + 1, N - 1);
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, 0);			/* entry 0 stays, unfolded */
	set_ptes(t, A(1), table, idx + 1, pfn + 1, p, N - 1);
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, 0);
	ASSERT_OK(set_pte_at(t, A(14), pfn + 14, p));	/* not the last entry */
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, 0);
	ASSERT_OK(set_pte_at(t, A(15), pfn + 15, p));
	count_bits(t, table, idx, &cont, &young, &dirty);
	ASSERT_EQ(cont, N);
	ASSERT_EQ(set_pte_at(t, A(100), pfn, p), -MEMLAB_ENOENT);	/* no entry there */
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(set_access_flags);
	RUN(clear_young_dirty_whole_block);
	RUN(unfold_partial_and_fold);
	return test_summary();
}
