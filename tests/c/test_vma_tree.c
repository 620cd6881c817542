/*
** test_vma_tree.c -- the VMA B-tree (core/vma_tree.c) with thousands of
** VMAs, where its nodes split, share slots and merge at every level, which
** the small windows of tests/diff never reach.
**
** Random mmap (MAP_FIXED, sometimes MAP_GROWSDOWN), munmap and mprotect in
** a large region, through the public API, grow the tree to several
** thousand VMAs, churn it, then shrink it back.  After every step
** memlab_check() runs the tree's own validator (keys, gaps, back links,
** fill, the list's order); every few steps find_vma() and
** vma_tree_gap_rev() are compared with a walk of the sorted list.
** An argument seeds other sequences: test_vma_tree 1, 2, ... for a soak.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"		/* find_vma, vma_tree_gap_rev: compared with the list */
#include "testlib.h"

#define PG 4096ull
#define REGION 0x7e0000000000ull		/* free in the x86-64 layout */
#define REGION_PAGES (1u << 13)
#define A(n) (REGION + (uint64_t)(n) * PG)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 2685821657736338717ull) % n;
}

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

/* The first VMA with vm_end > addr, by the list. */
static struct vm_area_struct *list_find(struct mm_struct *mm, uint64_t addr)
{
	struct vm_area_struct *vma = mm->mmap;

	while (vma && vma->vm_end <= addr)
		vma = vma->vm_next;
	return vma;
}

/* vma_tree_gap_rev() by the list: the highest VMA whose gap fits q. */
static struct vm_area_struct *list_gap_rev(struct mm_struct *mm, const struct vma_gap_query *q)
{
	struct vm_area_struct *vma = mm->mmap, *found = NULL;

	for (; vma; vma = vma->vm_next) {
		uint64_t start = vma->vm_prev ? vm_end_gap(vma->vm_prev) : 0, end = vm_start_gap(vma);

		if (start <= q->high_limit && end >= q->low_limit && end > start &&
		    end - start >= q->length)
			found = vma;
	}
	return found;
}

/*
** One random change inside the region (its result does not matter, only
** the tree): mmap with probability grow %, else munmap (up to 64 pages
** when wide) or mprotect.
*/
static void random_step(memlab_task *t, unsigned grow, bool wide)
{
	uint64_t page = rnd(REGION_PAGES - 64), out;
	int prot = page & 1 ? MEMLAB_PROT_READ | MEMLAB_PROT_WRITE : MEMLAB_PROT_READ;
	int flags = MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED;
	unsigned op = (unsigned)rnd(100);

	if (op < grow) {		/* one or two pages: neighbours rarely merge */
		if (rnd(200) == 0)
			flags |= MEMLAB_MAP_GROWSDOWN;
		memlab_mmap(t, A(page), (1 + rnd(2)) * PG, prot, flags, NULL, 0, &out);
	} else if (op < grow + (100 - grow) / 2) {
		memlab_munmap(t, A(page), (1 + rnd(wide && !rnd(8) ? 64 : 2)) * PG);
	} else {
		memlab_mprotect(t, A(page), (1 + rnd(8)) * PG,
				rnd(2) ? MEMLAB_PROT_READ : MEMLAB_PROT_READ | MEMLAB_PROT_WRITE);
	}
}

/* Lookups and gap searches: the tree against the list. */
static int compare_with_list(memlab_task *t)
{
	struct mm_struct *mm = t->mm;

	for (int k = 0; k < 8; k++) {
		uint64_t addr = A(rnd(REGION_PAGES)) + rnd(PG);
		struct vma_gap_query q = { (1 + rnd(16)) * PG, 0, 0 };

		if (find_vma(t, addr) != list_find(mm, addr))
			return -1;
		q.low_limit = A(rnd(REGION_PAGES));
		q.high_limit = q.low_limit + rnd(REGION_PAGES) * PG;
		if (rnd(4) == 0)
			q.high_limit = UINT64_MAX - q.length;
		if (vma_tree_gap_rev(&mm->mm_mt, &q) != list_gap_rev(mm, &q))
			return -1;
	}
	return 0;
}

/* The phases: grow to thousands of VMAs, churn, shrink; check after each step. */
static int run_phase(memlab_machine *m, memlab_task *t, unsigned steps, unsigned grow,
		     bool wide)
{
	for (unsigned i = 0; i < steps; i++) {
		random_step(t, grow, wide);
		if (memlab_check(m, print_violation, NULL) != 0) {
			printf("  after step %u (%d VMAs)\n", i, t->mm->map_count);
			return -1;
		}
		if (i % 16 == 0 && compare_with_list(t)) {
			printf("  the tree and the list answer differently after step %u\n", i);
			return -1;
		}
	}
	return 0;
}

TEST(random_thousands)
{
	struct memlab_spawn_args a = { 0 };
	memlab_machine *m;
	memlab_task *t;
	unsigned max_height = 0;

	ASSERT_OK(memlab_create(NULL, &m));
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(run_phase(m, t, 4000, 90, true));
	max_height = t->mm->mm_mt.height;
	ASSERT(t->mm->map_count > 2000);
	ASSERT_OK(run_phase(m, t, 4000, 50, false));
	ASSERT_OK(run_phase(m, t, 5000, 5, false));	/* page by page: nodes share slots */
	ASSERT_OK(run_phase(m, t, 4000, 70, true));
	for (unsigned i = 0; i < REGION_PAGES; i += 2) {	/* drain from the bottom up */
		ASSERT_OK(memlab_munmap(t, A(i), 2 * PG));
		ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	}
	ASSERT(max_height >= 4);
	ASSERT(t->mm->mm_mt.height <= 2);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_task_exit(t);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/* VMAs added in address order fill the leaves two thirds (the append split). */
TEST(append_fill)
{
	struct memlab_spawn_args a = { 0 };
	memlab_machine *m;
	memlab_task *t;
	uint64_t out;
	unsigned leaves = 0, n = 0;
	const struct vma_node *leaf = NULL;

	ASSERT_OK(memlab_create(NULL, &m));
	ASSERT_OK(memlab_spawn(m, &a, &t));
	for (unsigned i = 0; i < 4096; i++)
		ASSERT_OK(memlab_mmap(t, A(i), PG, i & 1 ? MEMLAB_PROT_READ : MEMLAB_PROT_NONE,
				      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED,
				      NULL, 0, &out));
	for (struct vm_area_struct *v = find_vma(t, REGION); v && v->vm_end <= A(4096);
	     v = v->vm_next, n++)
		if (v->vm_leaf != leaf) {
			leaf = v->vm_leaf;
			leaves++;
		}
	ASSERT_EQ(n, 4096);
	ASSERT(n >= leaves * 10);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/* m:check() sees a stale key, a stale gap and a wrong leaf link. */
TEST(check_catches_corruption)
{
	struct memlab_spawn_args a = { 0 };
	memlab_machine *m;
	memlab_task *t;
	struct vm_area_struct *vma;
	struct vma_node *leaf;
	uint64_t out;
	unsigned i;

	ASSERT_OK(memlab_create(NULL, &m));
	ASSERT_OK(memlab_spawn(m, &a, &t));
	for (i = 0; i < 64; i++)
		ASSERT_OK(memlab_mmap(t, A(2 * i), PG, MEMLAB_PROT_READ,
				      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED,
				      NULL, 0, &out));
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	vma = find_vma(t, A(40));
	leaf = vma->vm_leaf;
	for (i = 0; leaf->slot[i] != vma; i++)
		;
	leaf->pivot[i] += PG;
	ASSERT_EQ(memlab_check(m, NULL, NULL), 1);
	leaf->pivot[i] -= PG;
	leaf->gap[i] += PG;
	ASSERT_EQ(memlab_check(m, NULL, NULL), 1);
	leaf->gap[i] -= PG;
	vma->vm_leaf = NULL;
	ASSERT_EQ(memlab_check(m, NULL, NULL), 1);
	vma->vm_leaf = leaf;
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/* test_vma_tree [SEED]: another seed draws other sequences (a longer soak). */
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		rng_state ^= strtoull(argv[1], NULL, 0) * 0x100000001b3ull;
	RUN(check_catches_corruption);
	RUN(append_fill);
	RUN(random_thousands);
	return test_summary();
}
