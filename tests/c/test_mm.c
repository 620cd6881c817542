/*
** test_mm.c -- the address-space layer (core/vma.c, mmap.c, mprotect.c,
** mremap.c, task.c) in targeted, readable scenarios.
**
** 1. Linux's own VMA merge tests (tools/testing/vma/vma.c) turned into
**    system-call scenarios: the same before-state built with mmap
**    (MAP_FIXED, anonymous, private), mprotect, a write (which gives a VMA
**    its anon_vma), mremap and brk in a free region, the same operation,
**    the same expected VMAs.  Linux's diagrams are kept; one column is one
**    page of the region (Linux's 0x1000 is our page 1).
** 2. x86-64 layout with ASLR off, on (2) and half on (1).
** 3. arm64 layouts for its VA sizes and granules.
** 4. Overcommit (vm.overcommit_memory 0, 1, 2) and Committed_AS.
** 5. vm.max_map_count, RLIMIT_AS and RLIMIT_DATA.
** 6. Host allocation failures inside mremap.
** 7. mlock's EPERM and the VMAs it passes by.
** 8. getrlimit and setrlimit.
**
** Every scenario ends with memlab_check() finding nothing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "memcontrol.h"
#include "mm.h"		/* the check_catches_* tests corrupt internals on purpose */
#include "slab.h"
#include "testlib.h"

#define PG 4096ull
#define REGION 0x7e0000000000ull		/* free in every x86-64 layout below */
#define REGION_PAGES 0x100u
#define A(n) (REGION + (uint64_t)(n) * PG)	/* page n of the region */

#define RW (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE)
#define RO MEMLAB_PROT_READ
#define ANON (MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS)
#define FIXED (ANON | MEMLAB_MAP_FIXED)

/* ===================== helpers ===================== */

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)

static memlab_machine *machine(int arch, uint32_t page_size, uint32_t va_bits, uint64_t ram,
			       uint64_t seed)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	test_config(&cfg, arch, page_size, va_bits, ram);
	cfg.seed = seed;
	return memlab_create(&cfg, &m) ? NULL : m;
}

static memlab_machine *x86(void)
{
	return machine(MEMLAB_ARCH_X86_64, 0, 0, 0, 1);
}

static memlab_task *spawn_aslr(memlab_machine *m, int aslr)
{
	struct memlab_spawn_args a;
	memlab_task *t = NULL;

	memset(&a, 0, sizeof(a));
	a.aslr = aslr;
	return memlab_spawn(m, &a, &t) ? NULL : t;
}

static memlab_task *spawn(memlab_machine *m)
{
	return spawn_aslr(m, 0);
}

/* mmap(MAP_FIXED) of pages [s, e) of the region, anonymous and private. */
static int map(memlab_task *t, unsigned s, unsigned e, int prot)
{
	uint64_t out = 0;
	int err = memlab_mmap(t, A(s), (uint64_t)(e - s) * PG, prot, FIXED, NULL, 0, &out);

	return err ? err : (out == A(s) ? 0 : -1);
}

static int prot(memlab_task *t, unsigned s, unsigned e, int p)
{
	return memlab_mprotect(t, A(s), (uint64_t)(e - s) * PG, p);
}

static int unmap(memlab_task *t, unsigned s, unsigned e)
{
	return memlab_munmap(t, A(s), (uint64_t)(e - s) * PG);
}

/* A write to page n: a fault that gives the VMA its anon_vma. */
static int write_page(memlab_task *t, unsigned n)
{
	int code = 0;

	return memlab_touch(t, A(n), 1, 'w', &code);
}

/* cleanup_mm(): empty the region again. */
static int cleanup(memlab_task *t)
{
	return unmap(t, 0, REGION_PAGES);
}

/* One expected VMA of the region: pages [s, e), perms, has an anon_vma. */
struct want {
	unsigned s, e;
	const char *perms;
	int anon;
};

/* Print the region's VMAs (on a mismatch). */
static void dump_region(memlab_task *t)
{
	struct memlab_vma_info v[128];
	size_t n = memlab_vmas(t, v, 128);

	for (size_t i = 0; i < n && i < 128; i++)
		if (v[i].start >= REGION && v[i].end <= A(REGION_PAGES))
			printf("    have [%#llx, %#llx) %s anon_vma=%d\n",
			       (unsigned long long)((v[i].start - REGION) / PG),
			       (unsigned long long)((v[i].end - REGION) / PG), v[i].perms,
			       v[i].anon_vma);
}

/* The region's VMAs are exactly w[0..n). */
static int region_is(memlab_task *t, const struct want *w, size_t n)
{
	struct memlab_vma_info v[128];
	size_t total = memlab_vmas(t, v, 128), k = 0;

	if (total > 128)
		return 0;
	for (size_t i = 0; i < total; i++) {
		if (v[i].end <= REGION || v[i].start >= A(REGION_PAGES))
			continue;
		if (k >= n || v[i].start != A(w[k].s) || v[i].end != A(w[k].e) ||
		    strcmp(v[i].perms, w[k].perms) != 0 || !v[i].anon_vma != !w[k].anon)
			goto differ;
		k++;
	}
	if (k == n)
		return 1;
differ:
	for (size_t i = 0; i < n; i++)
		printf("    want [%#x, %#x) %s anon_vma=%d\n", w[i].s, w[i].e, w[i].perms, w[i].anon);
	dump_region(t);
	return 0;
}

/* EXPECT(t, {s, e, perms, anon}, ...): the region holds exactly these VMAs. */
#define EXPECT(t, ...)                                                          \
	do {                                                                    \
		static const struct want w_[] = { __VA_ARGS__ };                \
		if (!region_is((t), w_, sizeof(w_) / sizeof(w_[0])))            \
			TEST_FAIL("the region's VMAs differ");                  \
	} while (0)

#define EXPECT_EMPTY(t)                                                         \
	do {                                                                    \
		if (!region_is((t), NULL, 0))                                   \
			TEST_FAIL("the region is not empty");                   \
	} while (0)

static int map_count(memlab_task *t)
{
	struct memlab_mm_info mi;

	memlab_mm_info(t, &mi);
	return mi.map_count;
}

static struct memlab_mm_info mm_of(memlab_task *t)
{
	struct memlab_mm_info mi;

	memset(&mi, 0, sizeof(mi));
	memlab_mm_info(t, &mi);
	return mi;
}

/* The kB value of a meminfo line ("Committed_AS"), or -1. */
static int64_t meminfo_kb(memlab_machine *m, const char *label)
{
	char *text = NULL, want[64];
	const char *p = NULL;
	int64_t kb = -1;

	if (memlab_proc(m, "meminfo", &text, NULL))
		return -1;
	snprintf(want, sizeof(want), "\n%s:", label);
	if (strncmp(text, want + 1, strlen(want + 1)) == 0)
		p = text + strlen(want + 1);
	else if ((p = strstr(text, want)) != NULL)
		p += strlen(want);
	if (p)
		kb = strtoll(p, NULL, 10);
	memlab_free_text(m, text);
	return kb;
}

static int64_t committed_pages(memlab_machine *m)
{
	return meminfo_kb(m, "Committed_AS") / 4;
}

/* The task's maps text (free with memlab_free_text). */
static char *maps_text(memlab_machine *m, memlab_task *t)
{
	char path[32], *text = NULL;

	snprintf(path, sizeof(path), "%d/maps", memlab_task_pid(t));
	return memlab_proc(m, path, &text, NULL) ? NULL : text;
}

/* The first VMA whose name contains needle; 0 if none. */
static int find_named(memlab_task *t, const char *needle, int last, struct memlab_vma_info *out)
{
	struct memlab_vma_info v[64];
	size_t n = memlab_vmas(t, v, 64);
	int found = 0;

	for (size_t i = 0; i < n && i < 64; i++) {
		if (strstr(v[i].name, needle)) {
			*out = v[i];
			found = 1;
			if (!last)
				break;
		}
	}
	return found;
}

/* ===================== 1. Linux's VMA merge tests ===================== */

/*
** test_simple_merge: a new VMA between two compatible ones merges with both.
**
** 0123
** L*R   ->  LLL
*/
TEST(simple_merge)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	int before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_OK(map(t, 2, 3, RW));
	before = map_count(t);
	EXPECT(t, { 0, 1, "rw-p", 0 }, { 2, 3, "rw-p", 0 });
	ASSERT_OK(map(t, 1, 2, RW));
	EXPECT(t, { 0, 3, "rw-p", 0 });
	ASSERT_EQ(map_count(t), before - 1);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** memlab_find_vma: the VMA holding the address, else the next one up; a
** second lookup of the same address hits the vmacache.
**
** 0123
** V.VV  (1: a hole; 2 and 3 differ in protection)
*/
TEST(find_vma)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_vma_info vi;
	struct memlab_mm_info a, b;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_OK(map(t, 2, 3, RW));
	ASSERT_OK(map(t, 3, 4, MEMLAB_PROT_READ));
	ASSERT_OK(memlab_find_vma(t, A(0) + 5, &vi));
	ASSERT_EQ(vi.start, A(0));
	ASSERT_EQ(vi.end, A(1));
	ASSERT_STREQ(vi.perms, "rw-p");
	ASSERT_OK(memlab_find_vma(t, A(1), &vi));	/* the hole: the next one up */
	ASSERT_EQ(vi.start, A(2));
	ASSERT_OK(memlab_find_vma(t, A(3), &vi));
	ASSERT_STREQ(vi.perms, "r--p");
	memlab_mm_info(t, &a);
	ASSERT_OK(memlab_find_vma(t, A(3), NULL));
	memlab_mm_info(t, &b);
	ASSERT_EQ(b.vmacache_hits, a.vmacache_hits + 1);
	ASSERT_EQ(memlab_find_vma(t, UINT64_MAX - 4095, &vi), -MEMLAB_ENOENT);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_simple_modify: vma_modify_flags() on the middle page splits 1 -> 3.
** Through mprotect; and mprotect back merges the three again.
**
** 012
** VVV  -- mprotect(1, PROT_READ) ->  V|v|V
*/
TEST(simple_modify)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	int before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 3, RW));
	before = map_count(t);
	ASSERT_OK(prot(t, 1, 2, RO));
	EXPECT(t, { 0, 1, "rw-p", 0 }, { 1, 2, "r--p", 0 }, { 2, 3, "rw-p", 0 });
	ASSERT_EQ(map_count(t), before + 2);
	ASSERT_OK(prot(t, 1, 2, RW));
	EXPECT(t, { 0, 3, "rw-p", 0 });
	ASSERT_EQ(map_count(t), before);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_simple_expand: vma_expand() of [0, 1) to [0, 3).  The system call
** that expands a VMA in place is mremap() growing into free space.
*/
TEST(simple_expand)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_OK(memlab_mremap(t, A(0), PG, 3 * PG, 0, 0, &out));
	ASSERT_EQ(out, A(0));
	EXPECT(t, { 0, 3, "rw-p", 0 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/* test_simple_shrink: vma_shrink() of [0, 3) to [0, 1), by mremap(). */
TEST(simple_shrink)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;
	int before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(write_page(t, 2));
	before = map_count(t);
	ASSERT_OK(memlab_mremap(t, A(0), 3 * PG, PG, 0, 0, &out));
	ASSERT_EQ(out, A(0));
	EXPECT(t, { 0, 1, "rw-p", 1 });
	ASSERT_EQ(map_count(t), before);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_merge_new: new VMAs filling the holes of
**
** 0123456789abc
** AA B       CC
**
** In Linux's test every VMA points at one dummy anon_vma.  The same with
** system calls: map [0, c), write to it (one anon_vma for the whole VMA),
** then unmap the holes, so that A, B, D and C are pieces of it that share
** its anon_vma.  (Linux's first step, "NO merge" of a new D at [7, 9), is
** merge_new_no_merge below; a D that is mapped fresh and written gets an
** anon_vma of its own, which changes the step "AAAAA*DDD": see
** merge_new_separate_anon_vma.)  The vm_ops->close lines of Linux's test
** ("should have no impact") have no system-call counterpart.
*/
TEST(merge_new)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	int base;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 0xc, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(unmap(t, 2, 3));
	ASSERT_OK(unmap(t, 4, 7));
	ASSERT_OK(unmap(t, 9, 0xb));
	/*
	 * 0123456789abc
	 * AA B   DD  CC
	 */
	EXPECT(t, { 0, 2, "rw-p", 1 }, { 3, 4, "rw-p", 1 }, { 7, 9, "rw-p", 1 },
	       { 0xb, 0xc, "rw-p", 1 });
	base = map_count(t) - 4;

	/*
	 * Merge BOTH sides.
	 *
	 * 0123456789abc
	 * AA*B   DD  CC
	 */
	ASSERT_OK(map(t, 2, 3, RW));
	EXPECT(t, { 0, 4, "rw-p", 1 }, { 7, 9, "rw-p", 1 }, { 0xb, 0xc, "rw-p", 1 });
	ASSERT_EQ(map_count(t) - base, 3);

	/*
	 * Merge to PREVIOUS VMA.
	 *
	 * 0123456789abc
	 * AAAA*  DD  CC
	 */
	ASSERT_OK(map(t, 4, 5, RW));
	EXPECT(t, { 0, 5, "rw-p", 1 }, { 7, 9, "rw-p", 1 }, { 0xb, 0xc, "rw-p", 1 });
	ASSERT_EQ(map_count(t) - base, 3);

	/*
	 * Merge to NEXT VMA.
	 *
	 * 0123456789abc
	 * AAAAA *DD  CC
	 */
	ASSERT_OK(map(t, 6, 7, RW));
	EXPECT(t, { 0, 5, "rw-p", 1 }, { 6, 9, "rw-p", 1 }, { 0xb, 0xc, "rw-p", 1 });
	ASSERT_EQ(map_count(t) - base, 3);

	/*
	 * Merge BOTH sides.
	 *
	 * 0123456789abc
	 * AAAAA*DDD  CC
	 */
	ASSERT_OK(map(t, 5, 6, RW));
	EXPECT(t, { 0, 9, "rw-p", 1 }, { 0xb, 0xc, "rw-p", 1 });
	ASSERT_EQ(map_count(t) - base, 2);

	/*
	 * Merge to NEXT VMA.
	 *
	 * 0123456789abc
	 * AAAAAAAAA *CC
	 */
	ASSERT_OK(map(t, 0xa, 0xb, RW));
	EXPECT(t, { 0, 9, "rw-p", 1 }, { 0xa, 0xc, "rw-p", 1 });
	ASSERT_EQ(map_count(t) - base, 2);

	/*
	 * Merge BOTH sides.
	 *
	 * 0123456789abc
	 * AAAAAAAAA*CCC
	 */
	ASSERT_OK(map(t, 9, 0xa, RW));
	EXPECT(t, { 0, 0xc, "rw-p", 1 });
	ASSERT_EQ(map_count(t) - base, 1);

	/*
	 * Final state.
	 *
	 * 0123456789abc
	 * AAAAAAAAAAAAA
	 */
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_merge_new, first step: a new VMA with no neighbour does not merge.
**
** 0123456789abc
** AA B   **  CC
*/
TEST(merge_new_no_merge)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	int before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 2, RW));
	ASSERT_OK(map(t, 3, 4, RW));
	ASSERT_OK(map(t, 0xb, 0xc, RW));
	before = map_count(t);
	ASSERT_OK(map(t, 7, 9, RW));
	EXPECT(t, { 0, 2, "rw-p", 0 }, { 3, 4, "rw-p", 0 }, { 7, 9, "rw-p", 0 },
	       { 0xb, 0xc, "rw-p", 0 });
	ASSERT_EQ(map_count(t), before + 1);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** The step "AAAAA*DDD" of test_merge_new when A and D were written
** separately (two anon_vmas, as a program that maps D fresh gets): the new
** VMA can merge with either side but prev and next cannot merge with each
** other, so it merges with prev only (is_mergeable_anon_vma(prev, next)).
** Checked on Linux 6.18.
**
** 0123456789
** AAAAA*DDD  ->  AAAAAADDD
*/
TEST(merge_new_separate_anon_vma)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);

	ASSERT(t);
	ASSERT_OK(map(t, 0, 5, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(map(t, 6, 9, RW));
	ASSERT_OK(write_page(t, 8));
	ASSERT_OK(map(t, 5, 6, RW));
	EXPECT(t, { 0, 6, "rw-p", 1 }, { 6, 9, "rw-p", 1 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_vma_merge_special_flags: VM_IO, VM_DONTEXPAND, VM_PFNMAP and
** VM_MIXEDMAP VMAs never merge.  No system call gives an anonymous or
** file mapping these flags (they come from drivers' ->mmap and
** remap_pfn_range), so the case is skipped.  The closest check: a new
** mapping placed directly below [vvar] (VM_IO | VM_PFNMAP) with the same
** permissions stays a VMA of its own, and mremap() refuses to grow a
** VM_DONTEXPAND or VM_PFNMAP VMA.  test_vma_merge_with_close and
** test_vma_merge_new_with_close (vm_ops->close) are skipped likewise.
*/
TEST(vma_merge_special_flags)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_vma_info vvar, after;
	uint64_t out = 0;
	int before;

	ASSERT(t);
	ASSERT(find_named(t, "[vvar]", 0, &vvar));
	before = map_count(t);
	ASSERT_OK(memlab_mmap(t, vvar.start - PG, PG, RO, FIXED, NULL, 0, &out));
	ASSERT(find_named(t, "[vvar]", 0, &after));
	ASSERT_EQ(after.start, vvar.start);
	ASSERT_EQ(after.end, vvar.end);
	ASSERT_EQ(map_count(t), before + 1);
	/* and VM_DONTEXPAND / VM_PFNMAP VMAs cannot grow: mremap() -> EFAULT */
	ASSERT(find_named(t, "[vdso]", 0, &after));
	ASSERT_EQ(memlab_mremap(t, after.start, after.end - after.start,
				after.end - after.start + PG, MEMLAB_MREMAP_MAYMOVE, 0, &out),
		  -MEMLAB_EFAULT);
	ASSERT_EQ(memlab_mremap(t, vvar.start, vvar.end - vvar.start,
				vvar.end - vvar.start + PG, MEMLAB_MREMAP_MAYMOVE, 0, &out),
		  -MEMLAB_EFAULT);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_merge_existing: mprotect() of (part of) a VMA V to the flags of its
** neighbour P or N.  V has the anon_vma: it was written to while it was
** read-write, then made read-only; P and N are read-write and were never
** written.  The mprotect makes the range read-write again.
**
** (The other direction -- V written, made read-only next to a read-only N
** -- does not merge on Linux: V keeps VM_ACCOUNT because it has an
** anon_vma, N never had it.  See merge_existing_vm_account.)
*/
TEST(merge_existing)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);

	ASSERT(t);
	/*
	 * Merge right case - partial span.
	 *
	 *    <->
	 * 0123456789
	 *   VVVVNNN
	 *            ->
	 * 0123456789
	 *   VNNNNNN
	 */
	ASSERT_OK(map(t, 2, 6, RW));
	ASSERT_OK(write_page(t, 2));
	ASSERT_OK(prot(t, 2, 6, RO));
	ASSERT_OK(map(t, 6, 9, RW));
	EXPECT(t, { 2, 6, "r--p", 1 }, { 6, 9, "rw-p", 0 });
	ASSERT_OK(prot(t, 3, 6, RW));
	EXPECT(t, { 2, 3, "r--p", 1 }, { 3, 9, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Merge right case - full span.
	 *
	 *   <-->
	 * 0123456789
	 *   VVVVNNN
	 *            ->
	 * 0123456789
	 *   NNNNNNN
	 */
	ASSERT_OK(map(t, 2, 6, RW));
	ASSERT_OK(write_page(t, 2));
	ASSERT_OK(prot(t, 2, 6, RO));
	ASSERT_OK(map(t, 6, 9, RW));
	ASSERT_OK(prot(t, 2, 6, RW));
	EXPECT(t, { 2, 9, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Merge left case - partial span.
	 *
	 *    <->
	 * 0123456789
	 * PPPVVVV
	 *            ->
	 * 0123456789
	 * PPPPPPV
	 */
	ASSERT_OK(map(t, 3, 7, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(prot(t, 3, 7, RO));
	ASSERT_OK(map(t, 0, 3, RW));
	EXPECT(t, { 0, 3, "rw-p", 0 }, { 3, 7, "r--p", 1 });
	ASSERT_OK(prot(t, 3, 6, RW));
	EXPECT(t, { 0, 6, "rw-p", 1 }, { 6, 7, "r--p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Merge left case - full span.
	 *
	 *    <-->
	 * 0123456789
	 * PPPVVVV
	 *            ->
	 * 0123456789
	 * PPPPPPP
	 */
	ASSERT_OK(map(t, 3, 7, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(prot(t, 3, 7, RO));
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(prot(t, 3, 7, RW));
	EXPECT(t, { 0, 7, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Merge both case.
	 *
	 *    <-->
	 * 0123456789
	 * PPPVVVVNNN
	 *             ->
	 * 0123456789
	 * PPPPPPPPPP
	 */
	ASSERT_OK(map(t, 3, 7, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(prot(t, 3, 7, RO));
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(map(t, 7, 0xa, RW));
	EXPECT(t, { 0, 3, "rw-p", 0 }, { 3, 7, "r--p", 1 }, { 7, 0xa, "rw-p", 0 });
	ASSERT_OK(prot(t, 3, 7, RW));
	EXPECT(t, { 0, 0xa, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Non-merge ranges.  A range strictly inside V merges with nothing:
	 * mprotect() to the neighbours' flags splits V in three, and back
	 * joins it again.  (Here V is the read-write one, P and N read-only
	 * and none was written, so that VM_ACCOUNT plays no part.)
	 *
	 *     -
	 *      -
	 *       -
	 *     <->
	 *     <>
	 *      <>
	 * 0123456789a
	 * PPPVVVVVNNN
	 */
	ASSERT_OK(map(t, 0, 3, RO));
	ASSERT_OK(map(t, 3, 8, RW));
	ASSERT_OK(map(t, 8, 0xb, RO));
	{
		static const unsigned range[][2] = {
			{ 4, 5 }, { 5, 6 }, { 6, 7 }, { 4, 7 }, { 4, 6 }, { 5, 6 }
		};

		for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
			unsigned s = range[i][0], e = range[i][1];
			struct want w[5] = {
				{ 0, 3, "r--p", 0 }, { 3, s, "rw-p", 0 }, { s, e, "r--p", 0 },
				{ e, 8, "rw-p", 0 }, { 8, 0xb, "r--p", 0 }
			};

			ASSERT_OK(prot(t, s, e, RO));
			if (!region_is(t, w, 5))
				TEST_FAIL("mprotect of [%u, %u) merged", s, e);
			ASSERT_OK(prot(t, s, e, RW));
			EXPECT(t, { 0, 3, "r--p", 0 }, { 3, 8, "rw-p", 0 }, { 8, 0xb, "r--p", 0 });
		}
	}
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** VM_ACCOUNT takes part in the merge decision (it is one of the vm_flags).
** mprotect(PROT_READ) of a private writable VMA drops VM_ACCOUNT only
** while it has no anon_vma, so an unwritten one merges with a read-only
** neighbour and a written one does not.  Checked on Linux 6.18.
**
**    <->
** 0123456789
**   VVVVNNN     V read-write, N read-only
*/
TEST(merge_existing_vm_account)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);

	ASSERT(t);
	ASSERT_OK(map(t, 2, 6, RW));
	ASSERT_OK(map(t, 6, 9, RO));
	ASSERT_OK(prot(t, 3, 6, RO));
	EXPECT(t, { 2, 3, "rw-p", 0 }, { 3, 9, "r--p", 0 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	ASSERT_OK(map(t, 2, 6, RW));
	ASSERT_OK(write_page(t, 2));
	ASSERT_OK(map(t, 6, 9, RO));
	ASSERT_OK(prot(t, 3, 6, RO));
	EXPECT(t, { 2, 3, "rw-p", 1 }, { 3, 6, "r--p", 1 }, { 6, 9, "r--p", 0 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_anon_vma_non_mergeable: prev and next have different anon_vmas
** (each was written to while it had no compatible neighbour), so a VMA
** between them can merge with one of them but not with both.
*/
TEST(anon_vma_non_mergeable)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;

	ASSERT(t);
	/*
	 * In the case of modified VMA merge, merging both left and right VMAs
	 * but where prev and next have incompatible anon_vma objects, we revert
	 * to a merge of prev and VMA:
	 *
	 *    <-->
	 * 0123456789
	 * PPPVVVVNNN
	 *            ->
	 * 0123456789
	 * PPPPPPPNNN
	 */
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(map(t, 7, 9, RW));
	ASSERT_OK(write_page(t, 7));
	ASSERT_OK(map(t, 3, 7, RO));
	EXPECT(t, { 0, 3, "rw-p", 1 }, { 3, 7, "r--p", 0 }, { 7, 9, "rw-p", 1 });
	ASSERT_OK(prot(t, 3, 7, RW));
	EXPECT(t, { 0, 7, "rw-p", 1 }, { 7, 9, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Now consider the new VMA case. This is equivalent, only adding a new
	 * VMA in a gap between prev and next.
	 *
	 *    <-->
	 * 0123456789
	 * PPP****NNN
	 *            ->
	 * 0123456789
	 * PPPPPPPNNN
	 */
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(map(t, 7, 9, RW));
	ASSERT_OK(write_page(t, 7));
	ASSERT_OK(map(t, 3, 7, RW));
	EXPECT(t, { 0, 7, "rw-p", 1 }, { 7, 9, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * And when the VMA being changed has an anon_vma of its own, it
	 * merges with neither (P grown up to V by mremap, so that both were
	 * written while apart).  Checked on Linux 6.18.
	 *
	 *    <>
	 * 012345
	 * PPPVV   ->  PPPVV
	 */
	ASSERT_OK(map(t, 0, 2, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(map(t, 3, 5, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(prot(t, 3, 5, RO));
	ASSERT_OK(memlab_mremap(t, A(0), 2 * PG, 3 * PG, 0, 0, &out));
	EXPECT(t, { 0, 3, "rw-p", 1 }, { 3, 5, "r--p", 1 });
	ASSERT_OK(prot(t, 3, 5, RW));
	EXPECT(t, { 0, 3, "rw-p", 1 }, { 3, 5, "rw-p", 1 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_dup_anon_vma: when a merge deletes the VMA that has the anon_vma,
** the VMA that survives takes it over (anon_vma_clone).  Linux checks
** was_cloned; through system calls the survivor must show an anon_vma.
*/
TEST(dup_anon_vma)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;

	ASSERT(t);
	/*
	 * Expanding a VMA delete the next one duplicates next's anon_vma and
	 * assigns it to the expanded VMA.  (mremap() growing prev in place up
	 * to next: vma_merge_extend.)
	 *
	 * 01234
	 * P  NN  ->  PPPPP
	 */
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_OK(map(t, 3, 5, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(memlab_mremap(t, A(0), PG, 3 * PG, 0, 0, &out));
	EXPECT(t, { 0, 5, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * next has anon_vma, we assign to prev.
	 *
	 *         |<----->|
	 * |-------*********-------|
	 *   prev     vma     next
	 *  extend   delete  delete
	 */
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(map(t, 3, 5, RO));
	ASSERT_OK(map(t, 5, 8, RW));
	ASSERT_OK(write_page(t, 5));
	EXPECT(t, { 0, 3, "rw-p", 0 }, { 3, 5, "r--p", 0 }, { 5, 8, "rw-p", 1 });
	ASSERT_OK(prot(t, 3, 5, RW));
	EXPECT(t, { 0, 8, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * vma has anon_vma, we assign to prev.
	 *
	 *         |<----->|
	 * |-------*********-------|
	 *   prev     vma     next
	 *  extend   delete  delete
	 */
	ASSERT_OK(map(t, 3, 5, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(prot(t, 3, 5, RO));
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(map(t, 5, 8, RW));
	EXPECT(t, { 0, 3, "rw-p", 0 }, { 3, 5, "r--p", 1 }, { 5, 8, "rw-p", 0 });
	ASSERT_OK(prot(t, 3, 5, RW));
	EXPECT(t, { 0, 8, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * vma has anon_vma, we assign to prev.
	 *
	 *         |<----->|
	 * |-------*************
	 *   prev       vma
	 *  extend shrink/delete
	 */
	ASSERT_OK(map(t, 3, 8, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(prot(t, 3, 8, RO));
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(prot(t, 3, 5, RW));
	EXPECT(t, { 0, 5, "rw-p", 1 }, { 5, 8, "r--p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * vma has anon_vma, we assign to next.
	 *
	 *     |<----->|
	 * *************-------|
	 *      vma       next
	 * shrink/delete extend
	 */
	ASSERT_OK(map(t, 0, 5, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(prot(t, 0, 5, RO));
	ASSERT_OK(map(t, 5, 8, RW));
	ASSERT_OK(prot(t, 3, 5, RW));
	EXPECT(t, { 0, 3, "r--p", 1 }, { 3, 8, "rw-p", 1 });
	ASSERT_CHECK(m);

	/*
	 * test_vmi_prealloc_fail (a maple-tree preallocation failure in the
	 * middle of a merge) has no system-call counterpart: skipped.
	 */
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_merge_extend: extend a VMA into the gap up to the following VMA;
** it merges with it.  mremap() growing in place (vma_merge_extend).
**
** <->
** *  *   ->  ****
*/
TEST(merge_extend)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;
	int before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_OK(map(t, 3, 4, RW));
	before = map_count(t);
	ASSERT_OK(memlab_mremap(t, A(0), PG, 3 * PG, 0, 0, &out));
	ASSERT_EQ(out, A(0));
	EXPECT(t, { 0, 4, "rw-p", 0 });
	ASSERT_EQ(map_count(t), before - 1);
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * The same when both were written on their own (two anon_vmas): the
	 * extension stops at next without merging.  Checked on Linux 6.18.
	 */
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(map(t, 3, 5, RW));
	ASSERT_OK(write_page(t, 3));
	ASSERT_OK(memlab_mremap(t, A(0), PG, 3 * PG, 0, 0, &out));
	EXPECT(t, { 0, 3, "rw-p", 1 }, { 3, 5, "rw-p", 1 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_copy_vma: copy_vma() is mremap()'s move.  An anonymous VMA that was
** never written takes the pgoff of its new address ("to increase its
** chance of merging"), so it merges at the destination; a written one
** keeps its old pgoff and does not.
*/
TEST(copy_vma)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;

	ASSERT(t);
	/* Move backwards and do not merge.  0123456 : "   VV" -> "VV" */
	ASSERT_OK(map(t, 3, 5, RW));
	ASSERT_OK(memlab_mremap(t, A(3), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(0), &out));
	ASSERT_EQ(out, A(0));
	EXPECT(t, { 0, 2, "rw-p", 0 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * Move a VMA into position next to another and merge the two.
	 *
	 * 012345678
	 * VV    NN   ->      VVNN  (one VMA)
	 */
	ASSERT_OK(map(t, 0, 2, RW));
	ASSERT_OK(map(t, 6, 8, RW));
	ASSERT_OK(memlab_mremap(t, A(0), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(4), &out));
	ASSERT_EQ(out, A(4));
	EXPECT(t, { 4, 8, "rw-p", 0 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/* The same move of a written VMA keeps its old pgoff: no merge (Linux 6.18 too). */
	ASSERT_OK(map(t, 0, 2, RW));
	ASSERT_OK(write_page(t, 0));
	ASSERT_OK(map(t, 6, 8, RW));
	ASSERT_OK(memlab_mremap(t, A(0), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(4), &out));
	EXPECT(t, { 4, 6, "rw-p", 1 }, { 6, 8, "rw-p", 0 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_copy_vma, continued: a written VMA moved back to where it was
** created merges with its unwritten neighbour again (pgoff contiguous, one
** side without an anon_vma), and the merged VMA must carry the moved
** pages' anon_vma: Linux 6.16+ vma_expand() dups the anon_vma of
** vmg->copied_from into the target.  Linux 6.18 shows it through its
** effect: a VMA Z written on its own (another anon_vma) and a hole filled
** between them merges with one side only.
*/
TEST(copy_vma_anon_vma)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t out = 0;

	ASSERT(t);
	/*
	 * 0123456789
	 *     VVNN      V moved back from page 0x20, joins next
	 *     VVVV*Z    ->  VVVVV Z
	 */
	ASSERT_OK(map(t, 4, 6, RW));
	ASSERT_OK(write_page(t, 4));
	ASSERT_OK(memlab_mremap(t, A(4), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(0x20), &out));
	ASSERT_OK(map(t, 6, 8, RW));
	ASSERT_OK(memlab_mremap(t, A(0x20), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(4), &out));
	EXPECT(t, { 4, 8, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(map(t, 9, 0xa, RW));
	ASSERT_OK(write_page(t, 9));
	ASSERT_OK(map(t, 8, 9, RW));
	EXPECT(t, { 4, 9, "rw-p", 1 }, { 9, 0xa, "rw-p", 1 });
	ASSERT_CHECK(m);
	ASSERT_OK(cleanup(t));

	/*
	 * The same with the moved VMA joining prev.
	 *
	 * 0123456
	 * PPVV        V moved back from page 0x20
	 * PPPP*Z  ->  PPPPP Z
	 */
	ASSERT_OK(map(t, 2, 4, RW));
	ASSERT_OK(write_page(t, 2));
	ASSERT_OK(memlab_mremap(t, A(2), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(0x20), &out));
	ASSERT_OK(map(t, 0, 2, RW));
	ASSERT_OK(memlab_mremap(t, A(0x20), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(2), &out));
	EXPECT(t, { 0, 4, "rw-p", 1 });
	ASSERT_OK(map(t, 5, 6, RW));
	ASSERT_OK(write_page(t, 5));
	ASSERT_OK(map(t, 4, 5, RW));
	EXPECT(t, { 0, 5, "rw-p", 1 }, { 5, 6, "rw-p", 1 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** test_expand_only_mode: VMG_FLAG_JUST_EXPAND, which brk() uses: the heap
** is expanded in place and the VMA before it is not looked at -- even an
** adjacent anonymous bss VMA with the same flags never merges with the
** heap (facts §2.1).
**
**  bss  heap
** |BBBB|H|    -- brk(+4 pages) -->    |BBBB|HHHHH|
*/
TEST(expand_only_mode)
{
	memlab_machine *m = x86();
	struct memlab_spawn_args a;
	struct memlab_mm_info mi;
	struct memlab_vma_info bss, heap, v[64];
	memlab_task *t = NULL;
	size_t n;

	ASSERT(m);
	memset(&a, 0, sizeof(a));
	a.exe.text = 0x1000;
	a.exe.data = 0x1000;
	a.exe.bss = 0x3000;		/* the bss spans pages: an anonymous VMA */
	ASSERT_OK(memlab_spawn(m, &a, &t));
	mi = mm_of(t);
	ASSERT_EQ(memlab_brk(t, mi.start_brk + PG), mi.start_brk + PG);
	ASSERT_EQ(memlab_brk(t, mi.start_brk + 5 * PG), mi.start_brk + 5 * PG);
	ASSERT(find_named(t, "[heap]", 0, &heap));
	ASSERT_EQ(heap.start, mi.start_brk);
	ASSERT_EQ(heap.end, mi.start_brk + 5 * PG);
	n = memlab_vmas(t, v, 64);
	memset(&bss, 0, sizeof(bss));
	for (size_t i = 0; i < n && i < 64; i++)
		if (v[i].end == heap.start)
			bss = v[i];
	ASSERT_EQ(bss.end, mi.start_brk);		/* adjacent */
	ASSERT_STREQ(bss.perms, "rw-p");
	ASSERT_STREQ(bss.name, "");
	ASSERT_EQ(bss.end - bss.start, 3 * PG);	/* untouched by the expansion */
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/* ===================== 2. x86-64 layout and ASLR ===================== */

#define X86_TASK_SIZE 0x7ffffffff000ull
#define X86_PIE_BASE 0x555555554000ull

TEST(layout_x86_aslr_off)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_vma_info exe, ld_first, ld_last, vdso, stack;
	struct memlab_mm_info mi;

	ASSERT(t);
	mi = mm_of(t);
	ASSERT_EQ(mi.task_size, X86_TASK_SIZE);
	ASSERT_EQ(mi.mmap_base, 0x7ffff7fff000ull);
	ASSERT(find_named(t, "/usr/local/bin/a.out", 0, &exe));
	ASSERT_EQ(exe.start, X86_PIE_BASE);
	ASSERT_STREQ(exe.perms, "r--p");
	ASSERT(find_named(t, "[stack]", 0, &stack));
	ASSERT_EQ(stack.start, 0x7ffffffde000ull);
	ASSERT_EQ(stack.end, 0x7ffffffff000ull);
	ASSERT(find_named(t, "ld-linux-x86-64.so.2", 0, &ld_first));
	ASSERT(find_named(t, "ld-linux-x86-64.so.2", 1, &ld_last));
	ASSERT_EQ(ld_last.end, mi.mmap_base);
	ASSERT(find_named(t, "[vdso]", 0, &vdso));
	ASSERT_EQ(vdso.end, ld_first.start);
	ASSERT_EQ(vdso.end - vdso.start, 2 * PG);
	ASSERT_EQ(mi.start_brk, mi.brk);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/* One spawn's random choices. */
struct layout {
	uint64_t pie, mmap_base, stack_top, brk_off, ld_end;
};

static int layout_of(uint64_t seed, int aslr, struct layout *l)
{
	memlab_machine *m = machine(MEMLAB_ARCH_X86_64, 0, 0, 64ull << 20, seed);
	memlab_task *t = m ? spawn_aslr(m, aslr) : NULL;
	struct memlab_vma_info v[64], stack;
	struct memlab_mm_info mi;
	size_t n;
	int ok = t != NULL;

	if (ok) {
		uint64_t image_end = 0;

		n = memlab_vmas(t, v, 64);
		mi = mm_of(t);
		memset(l, 0, sizeof(*l));
		for (size_t i = 0; i < n && i < 64; i++) {
			if (strstr(v[i].name, "a.out")) {
				if (!l->pie)
					l->pie = v[i].start;
				image_end = v[i].end;
			}
			if (strstr(v[i].name, "ld-linux"))
				l->ld_end = v[i].end;
		}
		ok = find_named(t, "[stack]", 0, &stack) && image_end;
		l->stack_top = stack.end;
		l->mmap_base = mi.mmap_base;
		l->brk_off = mi.start_brk - image_end;	/* the default image has no bss */
		ok = ok && mi.brk == mi.start_brk && memlab_check(m, print_violation, NULL) == 0;
		memlab_task_exit(t);
	}
	if (m)
		memlab_destroy(m);
	return ok;
}

#define NSPAWN 200

/*
** randomize_va_space = 2: PIE base and mmap_base move by 28 bits of pages,
** the stack top by 22 bits of pages, the break by up to 1 GiB above one
** page of gap; all page aligned, and the spread covers the range.
*/
TEST(layout_x86_aslr_on)
{
	const uint64_t mmap_range = ((1ull << 28) - 1) * PG;
	const uint64_t stack_range = ((1ull << 22) - 1) * PG;
	const uint64_t brk_range = (1ull << 30) - PG;
	/* mmap_base before randomisation: 8 MiB stack + 1 MiB guard + stack_maxrandom_size */
	const uint64_t base_hi = X86_TASK_SIZE - ((8ull << 20) + (1ull << 20) + stack_range);
	uint64_t lo[4] = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX }, hi[4] = { 0 };
	int same_pie = 0;
	struct layout prev = { 0 };

	for (uint64_t seed = 1; seed <= NSPAWN; seed++) {
		struct layout l;
		uint64_t val[4];

		if (!layout_of(seed, 2, &l))
			TEST_FAIL("spawn with seed %llu", (unsigned long long)seed);
		ASSERT(l.pie >= X86_PIE_BASE && l.pie <= X86_PIE_BASE + mmap_range);
		ASSERT(l.mmap_base <= base_hi && l.mmap_base >= base_hi - mmap_range);
		ASSERT(l.stack_top <= X86_TASK_SIZE && l.stack_top >= X86_TASK_SIZE - stack_range);
		ASSERT(l.brk_off >= PG && l.brk_off <= PG + brk_range);
		ASSERT_EQ(l.ld_end, l.mmap_base);	/* ld.so is the first mmap */
		ASSERT_EQ(l.pie % PG, 0);
		ASSERT_EQ(l.mmap_base % PG, 0);
		ASSERT_EQ(l.stack_top % PG, 0);
		ASSERT_EQ(l.brk_off % PG, 0);
		same_pie += l.pie == prev.pie;
		prev = l;
		val[0] = l.pie - X86_PIE_BASE;
		val[1] = base_hi - l.mmap_base;
		val[2] = X86_TASK_SIZE - l.stack_top;
		val[3] = l.brk_off - PG;
		for (int i = 0; i < 4; i++) {
			lo[i] = val[i] < lo[i] ? val[i] : lo[i];
			hi[i] = val[i] > hi[i] ? val[i] : hi[i];
		}
	}
	ASSERT(same_pie == 0);
	/* 200 uniform draws span more than 90% of their range (p of failing < 1e-6) */
	ASSERT(hi[0] - lo[0] > mmap_range / 10 * 9);
	ASSERT(hi[1] - lo[1] > mmap_range / 10 * 9);
	ASSERT(hi[2] - lo[2] > stack_range / 10 * 9);
	ASSERT(hi[3] - lo[3] > brk_range / 10 * 9);
}

/* randomize_va_space = 1: everything moves but the break, which follows the image. */
TEST(layout_x86_aslr_1)
{
	uint64_t first_pie = 0, first_stack = 0, first_base = 0;
	int moved_pie = 0, moved_stack = 0, moved_base = 0;

	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct layout l;

		if (!layout_of(seed, 1, &l))
			TEST_FAIL("spawn with seed %llu", (unsigned long long)seed);
		ASSERT_EQ(l.brk_off, 0);
		if (seed == 1) {
			first_pie = l.pie;
			first_stack = l.stack_top;
			first_base = l.mmap_base;
		}
		moved_pie += l.pie != first_pie;
		moved_stack += l.stack_top != first_stack;
		moved_base += l.mmap_base != first_base;
	}
	ASSERT_EQ(moved_pie, 19);
	ASSERT_EQ(moved_stack, 19);
	ASSERT_EQ(moved_base, 19);
}

/* The same seed gives the same layout, byte for byte; another seed another. */
TEST(layout_x86_same_seed)
{
	char *text[3] = { NULL, NULL, NULL };
	memlab_machine *m[3];

	for (int i = 0; i < 3; i++) {
		memlab_task *t;
		uint64_t out = 0;

		m[i] = machine(MEMLAB_ARCH_X86_64, 0, 0, 64ull << 20, i < 2 ? 42 : 43);
		ASSERT(m[i]);
		t = spawn_aslr(m[i], 2);
		ASSERT(t);
		ASSERT_OK(memlab_mmap(t, 0, 5 * PG, RW, ANON, NULL, 0, &out));
		ASSERT(memlab_brk(t, mm_of(t).brk + 3 * PG) > 0);
		text[i] = maps_text(m[i], t);
		ASSERT(text[i]);
	}
	ASSERT_STREQ(text[0], text[1]);
	ASSERT(strcmp(text[0], text[2]) != 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_CHECK(m[i]);
		memlab_free_text(m[i], text[i]);
		memlab_destroy(m[i]);
	}
}

/* ===================== 3. arm64 ===================== */

/* Keeps the last report of a machine that memlab_create() refuses. */
static void keep_report(void *ud, const char *msg)
{
	snprintf(ud, 256, "%s", msg);
}

TEST(layout_arm64)
{
	static const struct {
		uint32_t page, va;
	} ok[] = { { 4096, 39 }, { 4096, 48 }, { 16384, 48 }, { 65536, 48 } };
	static const struct {
		uint32_t page, va;
	} bad[] = { { 16384, 39 }, { 65536, 39 }, { 4096, 42 }, { 4096, 47 }, { 65536, 47 } };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t page = ok[i].page, ts = 1ull << ok[i].va, out = 0;
		memlab_machine *m = machine(MEMLAB_ARCH_ARM64, ok[i].page, ok[i].va, 1ull << 30, 1);
		memlab_task *t = m ? spawn(m) : NULL;
		struct memlab_vma_info exe, stack, ld;
		struct memlab_mm_info mi;

		if (!t)
			TEST_FAIL("arm64 %uK va_bits %u", ok[i].page / 1024, ok[i].va);
		mi = mm_of(t);
		ASSERT_EQ(mi.task_size, ts);
		ASSERT(find_named(t, "[stack]", 0, &stack));
		ASSERT_EQ(stack.end, ts);
		ASSERT(find_named(t, "a.out", 0, &exe));
		ASSERT_EQ(exe.start, (2 * ts / 3) & ~(page - 1));	/* ELF_ET_DYN_BASE */
		ASSERT_EQ(mi.mmap_base, ts - (128ull << 20));	/* the 128 MiB minimum gap */
		ASSERT(find_named(t, "ld-linux-aarch64", 1, &ld));
		ASSERT_EQ(ld.end, mi.mmap_base);
		ASSERT_OK(memlab_mmap(t, 0, 3 * page, RW, ANON, NULL, 0, &out));
		ASSERT(out + 3 * page <= mi.mmap_base && out > exe.start);
		ASSERT_EQ(out % page, 0);
		ASSERT_CHECK(m);
		memlab_task_exit(t);
		memlab_destroy(m);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct memlab_config cfg;
		memlab_machine *m = NULL;
		char why[256] = "";

		memlab_config_init(&cfg);
		cfg.report = keep_report;
		cfg.report_ud = why;
		cfg.arch = MEMLAB_ARCH_ARM64;
		cfg.page_size = bad[i].page;
		cfg.va_bits = bad[i].va;
		cfg.ram = 1ull << 30;		/* enough for 64K pages' order-13 blocks */
		ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
		ASSERT(m == NULL);
		ASSERT(strstr(why, "va_bits") != NULL);	/* refused for the VA size */
	}
}

/* ===================== 4. overcommit ===================== */

static int set_sysctl(memlab_machine *m, int64_t max_map_count, int64_t overcommit,
		      int64_t ratio)
{
	struct memlab_vm_sysctl s = { max_map_count, overcommit, ratio, -1, -1, -1, -1, -1, -1 };

	return memlab_vm_sysctl(m, &s, NULL);
}

/* vm.overcommit_memory = 0: one request larger than RAM (+ swap) is refused. */
TEST(overcommit_heuristic)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t ram_pages, out = 0;
	int64_t before;

	ASSERT(t);
	ram_pages = (uint64_t)meminfo_kb(m, "MemTotal") / 4;
	before = committed_pages(m);
	ASSERT_EQ(memlab_mmap(t, 0, (ram_pages + 1) * PG, RW, ANON, NULL, 0, &out),
		  -MEMLAB_ENOMEM);
	ASSERT_EQ(committed_pages(m), before);
	ASSERT_OK(memlab_mmap(t, 0, (ram_pages + 1) * PG, RO, ANON, NULL, 0, &out));
	ASSERT_OK(memlab_munmap(t, out, (ram_pages + 1) * PG));
	ASSERT_OK(memlab_mmap(t, 0, (ram_pages + 1) * PG, RW, ANON | MEMLAB_MAP_NORESERVE,
			      NULL, 0, &out));
	ASSERT_EQ(committed_pages(m), before);
	ASSERT_OK(memlab_munmap(t, out, (ram_pages + 1) * PG));
	/* exactly RAM is still one request "not larger than RAM" */
	ASSERT_OK(memlab_mmap(t, 0, ram_pages * PG, RW, ANON, NULL, 0, &out));
	ASSERT_EQ(committed_pages(m), before + (int64_t)ram_pages);
	ASSERT_OK(memlab_munmap(t, out, ram_pages * PG));
	ASSERT_EQ(committed_pages(m), before);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	ASSERT_EQ(committed_pages(m), 0);
	memlab_destroy(m);
}

/* vm.overcommit_memory = 1: anything goes, and is still counted. */
TEST(overcommit_always)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t big = 64ull << 30, out = 0;
	int64_t before;

	ASSERT(t);
	ASSERT_OK(set_sysctl(m, -1, 1, -1));
	before = committed_pages(m);
	ASSERT_OK(memlab_mmap(t, 0, big, RW, ANON, NULL, 0, &out));
	ASSERT_EQ(committed_pages(m), before + (int64_t)(big / PG));
	ASSERT_OK(memlab_munmap(t, out, big));
	ASSERT_EQ(committed_pages(m), before);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	ASSERT_EQ(committed_pages(m), 0);
	memlab_destroy(m);
}

/*
** vm.overcommit_memory = 2: Committed_AS must stay below CommitLimit
** (RAM * overcommit_ratio / 100) less min(total_vm / 32,
** user_reserve_kbytes) and, for non-root, admin_reserve_kbytes.  The task
** is root here, so the boundary is CommitLimit - total_vm / 32.
*/
TEST(overcommit_never)
{
	memlab_machine *m = x86();
	struct memlab_spawn_args a;
	memlab_task *t = NULL, *t2 = NULL;
	uint64_t out = 0, out2 = 0, ram_pages, limit, n;
	int64_t before;

	ASSERT(m);
	ASSERT_OK(set_sysctl(m, -1, 2, 50));
	memset(&a, 0, sizeof(a));
	a.root = 1;
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ram_pages = (uint64_t)meminfo_kb(m, "MemTotal") / 4;
	limit = (uint64_t)meminfo_kb(m, "CommitLimit") / 4;
	ASSERT_EQ(limit, ram_pages * 50 / 100);
	before = committed_pages(m);
	ASSERT(before > 0 && (uint64_t)before == mm_of(t).committed_pages);
	/* the largest request: before + n < limit - total_vm / 32 */
	n = limit - mm_of(t).total_vm / 32 - (uint64_t)before - 1;
	ASSERT_EQ(memlab_mmap(t, 0, (n + 1) * PG, RW, ANON, NULL, 0, &out), -MEMLAB_ENOMEM);
	ASSERT_EQ(committed_pages(m), before);
	/* MAP_NORESERVE is ignored in mode 2 */
	ASSERT_EQ(memlab_mmap(t, 0, (n + 1) * PG, RW, ANON | MEMLAB_MAP_NORESERVE, NULL, 0, &out),
		  -MEMLAB_ENOMEM);
	/* read-only private mappings are not charged */
	ASSERT_OK(memlab_mmap(t, 0, (n + 1) * PG, RO, ANON, NULL, 0, &out));
	ASSERT_EQ(committed_pages(m), before);
	ASSERT_OK(memlab_munmap(t, out, (n + 1) * PG));
	ASSERT_OK(memlab_mmap(t, 0, n * PG, RW, ANON, NULL, 0, &out));
	ASSERT_EQ(committed_pages(m), before + (int64_t)n);
	ASSERT_EQ(mm_of(t).committed_pages, (uint64_t)before + n);
	/* now even one page is too much, for this task and for another */
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, ANON, NULL, 0, &out2), -MEMLAB_ENOMEM);
	ASSERT_EQ(memlab_spawn(m, &a, &t2), -MEMLAB_ENOMEM);
	/* mprotect to writable charges too, and is refused likewise */
	ASSERT_OK(memlab_mmap(t, 0, PG, RO, ANON, NULL, 0, &out2));
	ASSERT_EQ(memlab_mprotect(t, out2, PG, RW), -MEMLAB_ENOMEM);
	/*
	 * munmap gives the charge back, page by page; past the user reserve
	 * (total_vm / 32, ~1000 pages now) the mprotect is allowed again
	 */
	ASSERT_OK(memlab_munmap(t, out, 2048 * PG));
	ASSERT_EQ(committed_pages(m), before + (int64_t)n - 2048);
	ASSERT_OK(memlab_mprotect(t, out2, PG, RW));
	ASSERT_EQ(committed_pages(m), before + (int64_t)n - 2047);
	ASSERT_OK(memlab_munmap(t, out + 2048 * PG, (n - 2048) * PG));
	ASSERT_OK(memlab_munmap(t, out2, PG));
	ASSERT_EQ(committed_pages(m), before);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	ASSERT_EQ(committed_pages(m), 0);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* Committed_AS over several tasks returns to 0 when all have exited. */
TEST(overcommit_exit)
{
	memlab_machine *m = x86();
	memlab_task *t[3];
	uint64_t out = 0;
	int code = 0;

	ASSERT(m);
	ASSERT_EQ(committed_pages(m), 0);
	for (int i = 0; i < 3; i++) {
		t[i] = spawn(m);
		ASSERT(t[i]);
		ASSERT_OK(memlab_mmap(t[i], 0, 100 * PG, RW, ANON, NULL, 0, &out));
		ASSERT_OK(memlab_touch(t[i], out, PG, 'w', &code));
		ASSERT(memlab_brk(t[i], mm_of(t[i]).brk + 10 * PG) > 0);
	}
	ASSERT(committed_pages(m) > 300);
	for (int i = 0; i < 3; i++)
		memlab_task_exit(t[i]);
	ASSERT_EQ(committed_pages(m), 0);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* ===================== 5. limits ===================== */

/*
** vm.max_map_count: mmap() and brk() refuse only when map_count > limit,
** a split (munmap or mprotect of a middle page) when map_count >= limit.
*/
TEST(max_map_count)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	const int limit = 100;
	uint64_t out = 0;
	unsigned next = 0;
	char *before, *after;

	ASSERT(t);
	ASSERT_OK(set_sysctl(m, limit, -1, -1));
	/*
	 * 0123456789a
	 * VVV VVV VVV   in the region, then one-page VMAs with a hole between
	 * them far above it until map_count reaches the limit
	 */
	ASSERT_OK(map(t, 0, 3, RW));
	ASSERT_OK(map(t, 4, 7, RW));
	ASSERT_OK(map(t, 8, 0xb, RW));
	next = 0x1000;
	while (map_count(t) < limit) {
		ASSERT_OK(map(t, next, next + 1, RW));
		next += 2;
	}
	ASSERT_EQ(map_count(t), limit);
	/* at the limit: a split is refused, nothing changes */
	before = maps_text(m, t);
	ASSERT(before);
	ASSERT_EQ(unmap(t, 1, 2), -MEMLAB_ENOMEM);
	ASSERT_EQ(prot(t, 1, 2, RO), -MEMLAB_ENOMEM);
	after = maps_text(m, t);
	ASSERT_STREQ(before, after);
	memlab_free_text(m, after);
	memlab_free_text(m, before);
	ASSERT_EQ(map_count(t), limit);
	/* prefix and suffix munmap need no split */
	ASSERT_OK(unmap(t, 0, 1));
	ASSERT_OK(unmap(t, 6, 7));
	EXPECT(t, { 1, 3, "rw-p", 0 }, { 4, 6, "rw-p", 0 }, { 8, 0xb, "rw-p", 0 });
	ASSERT_EQ(map_count(t), limit);
	/* mmap at the limit still succeeds (strict >), once */
	ASSERT_OK(map(t, next, next + 1, RW));
	ASSERT_EQ(map_count(t), limit + 1);
	ASSERT_EQ(map(t, next + 2, next + 3, RW), -MEMLAB_ENOMEM);
	/* even one that would merge: the count is checked first */
	ASSERT_EQ(map(t, next + 1, next + 2, RW), -MEMLAB_ENOMEM);
	ASSERT_EQ(memlab_brk(t, mm_of(t).brk + PG), mm_of(t).brk);
	ASSERT_EQ(map_count(t), limit + 1);
	/* one below the limit a middle munmap works again */
	ASSERT_OK(unmap(t, next, next + 1));
	ASSERT_OK(unmap(t, 1, 3));
	ASSERT_EQ(map_count(t), limit - 1);
	ASSERT_OK(unmap(t, 9, 0xa));
	ASSERT_EQ(map_count(t), limit);
	EXPECT(t, { 4, 6, "rw-p", 0 }, { 8, 9, "rw-p", 0 }, { 0xa, 0xb, "rw-p", 0 });
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/* RLIMIT_AS: may_expand_vm() on total_vm; MAP_FIXED counts only the net growth. */
TEST(rlimit_as)
{
	memlab_machine *m = x86();
	struct memlab_spawn_args a;
	memlab_task *t = NULL;
	uint64_t total, out = 0, brk;

	ASSERT(m);
	t = spawn(m);
	ASSERT(t);
	total = mm_of(t).total_vm;		/* a fresh task's size */
	memlab_task_exit(t);
	memset(&a, 0, sizeof(a));
	a.as_rlimit = (total + 16) * PG;
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_EQ(mm_of(t).total_vm, total);
	ASSERT_OK(map(t, 0, 16, RO));
	ASSERT_EQ(map(t, 16, 17, RW), -MEMLAB_ENOMEM);
	ASSERT_EQ(map(t, 16, 17, RO), -MEMLAB_ENOMEM);
	ASSERT_OK(map(t, 0, 16, RW));		/* replaces: net 0 */
	ASSERT_OK(map(t, 8, 10, MEMLAB_PROT_NONE));
	EXPECT(t, { 0, 8, "rw-p", 0 }, { 8, 10, "---p", 0 }, { 10, 16, "rw-p", 0 });
	brk = mm_of(t).brk;
	ASSERT_EQ(memlab_brk(t, brk + PG), brk);
	ASSERT_EQ(memlab_mremap(t, A(0), 8 * PG, 9 * PG, MEMLAB_MREMAP_MAYMOVE, 0, &out),
		  -MEMLAB_ENOMEM);
	ASSERT_OK(unmap(t, 15, 16));
	ASSERT_EQ(memlab_brk(t, brk + PG), brk + PG);
	ASSERT_EQ(mm_of(t).total_vm, total + 16);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

/*
** RLIMIT_DATA: may_expand_vm() on data_vm (private writable mappings) and
** brk()'s own check of heap + data segment; brk() returns the old break.
*/
TEST(rlimit_data)
{
	memlab_machine *m = x86();
	struct memlab_spawn_args a;
	memlab_task *t = NULL;
	uint64_t data, brk;

	ASSERT(m);
	t = spawn(m);
	ASSERT(t);
	data = mm_of(t).data_vm;
	memlab_task_exit(t);
	memset(&a, 0, sizeof(a));
	a.data_rlimit = (data + 4) * PG;	/* VmData + 16 KiB */
	ASSERT_OK(memlab_spawn(m, &a, &t));
	brk = mm_of(t).brk;
	/* +8 KiB of heap fits, +32 KiB does not (facts §2.1) */
	ASSERT_EQ(memlab_brk(t, brk + 8 * PG), brk);
	ASSERT_EQ(memlab_brk(t, brk + 2 * PG), brk + 2 * PG);
	ASSERT_EQ(mm_of(t).data_vm, data + 2);
	/* two pages of the limit are left: a 3-page private rw mapping is refused */
	ASSERT_EQ(map(t, 0, 3, RW), -MEMLAB_ENOMEM);
	ASSERT_OK(map(t, 0, 2, RW));
	ASSERT_EQ(map(t, 2, 3, RW), -MEMLAB_ENOMEM);
	/* read-only and shared mappings are not data */
	ASSERT_OK(map(t, 2, 100, RO));
	ASSERT_EQ(prot(t, 2, 3, RW), -MEMLAB_ENOMEM);
	ASSERT_EQ(memlab_brk(t, brk + 3 * PG), brk + 2 * PG);
	EXPECT(t, { 0, 2, "rw-p", 0 }, { 2, 100, "r--p", 0 });
	ASSERT_EQ(mm_of(t).data_vm, data + 4);
	ASSERT_CHECK(m);
	memlab_task_exit(t);

	/*
	 * brk()'s own check counts the heap plus end_data - start_data, not
	 * VmData: with the program's data segment (5 pages) unmapped by hand
	 * VmData is 5 pages lower, but brk() still refuses past the limit.
	 */
	memset(&a, 0, sizeof(a));
	a.exe.text = 0x1000;
	a.exe.data = 5 * PG;
	ASSERT_OK(memlab_spawn(m, &a, &t));
	data = mm_of(t).data_vm;
	memlab_task_exit(t);
	a.data_rlimit = (data + 4) * PG;
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(memlab_munmap(t, mm_of(t).start_data, 5 * PG));
	ASSERT_EQ(mm_of(t).data_vm, data - 5);
	brk = mm_of(t).brk;
	/* (data + 4) - 5 pages of heap fit beside the 5-page segment ... */
	ASSERT_EQ(memlab_brk(t, brk + (data - 1) * PG), brk + (data - 1) * PG);
	/* ... one more byte does not, though VmData would allow 5 more pages */
	ASSERT_EQ(memlab_brk(t, brk + (data - 1) * PG + 1), brk + (data - 1) * PG);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_destroy(m);
}

static int count_violations(memlab_machine *m)
{
	return memlab_check(m, NULL, NULL);
}

/* m:check() sees a wrong anon_vma or file refcount, and VM_ACCOUNT on a shared VMA. */
TEST(check_catches_refcounts)
{
	struct memlab_config cfg;
	struct memlab_spawn_args a = { 0 };
	memlab_machine *m;
	memlab_task *t;
	struct vm_area_struct *vma;
	uint64_t addr;
	int code;

	memlab_config_init(&cfg);
	ASSERT_OK(memlab_create(&cfg, &m));
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(memlab_mmap(t, 0, 8192, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &addr));
	ASSERT_OK(memlab_touch(t, addr, 1, 'w', &code));
	ASSERT_EQ(count_violations(m), 0);
	vma = find_vma(t, addr);
	ASSERT(vma && vma->anon_vma && vma->vm_file == NULL);
	vma->anon_vma->refcount++;
	ASSERT_EQ(count_violations(m), 1);
	vma->anon_vma->refcount--;
	vma = find_vma(t, 0);		/* the image's first VMA maps the executable */
	ASSERT(vma && vma->vm_file);
	vma->vm_file->refcount++;
	ASSERT_EQ(count_violations(m), 1);
	vma->vm_file->refcount--;
	vma->vm_flags |= VM_SHARED | VM_MAYSHARE | VM_ACCOUNT;
	ASSERT(count_violations(m) >= 1);
	vma->vm_flags &= ~(VM_SHARED | VM_MAYSHARE | VM_ACCOUNT);
	ASSERT_EQ(count_violations(m), 0);
	memlab_destroy(m);
}

/* Violation messages, collected. */
struct violations {
	int n;
	char text[1024];
};

static void collect_violation(void *ud, const char *msg)
{
	struct violations *v = ud;
	size_t l = strlen(v->text);

	v->n++;
	snprintf(v->text + l, sizeof(v->text) - l, "%s\n", msg);
}

/* memlab_check() reports n violations, each mentioning what. */
static int violations_are(memlab_machine *m, int n, const char *what)
{
	struct violations v = { 0, "" };

	memlab_check(m, collect_violation, &v);
	if (v.n == n && (n == 0 || strstr(v.text, what)))
		return 1;
	printf("  want %d violation(s) about '%s', got %d:\n%s", n, what, v.n, v.text);
	return 0;
}

/*
** The break always lies in [start_brk, TASK_SIZE] with start_brk
** page-aligned -- whatever munmap and MAP_FIXED did to the heap -- and
** m:check() says so when the mm is corrupted.
*/
TEST(check_catches_brk)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct mm_struct *mm;
	uint64_t start, out;

	ASSERT(t);
	mm = t->mm;
	start = mm->start_brk;
	/* legal: the heap unmapped, something else mapped there, brk moving over it */
	ASSERT_EQ(memlab_brk(t, start + 8 * PG), start + 8 * PG);
	ASSERT_OK(memlab_munmap(t, start, 8 * PG));
	ASSERT_OK(memlab_mmap(t, start + 2 * PG, PG, RO, FIXED, NULL, 0, &out));
	ASSERT_EQ(memlab_brk(t, start + PG), start + PG);	/* shrinking unmaps it */
	ASSERT(!find_vma_intersection(t, start, start + 8 * PG));
	ASSERT_OK(memlab_mmap(t, start + 3 * PG, PG, RO, FIXED, NULL, 0, &out));
	ASSERT_EQ(memlab_brk(t, start + 4 * PG), start + PG);	/* growing into it is refused */
	ASSERT(violations_are(m, 0, ""));
	mm->brk = start - 1;
	ASSERT(violations_are(m, 1, "below start_brk"));
	mm->brk = mm->task_size + 1;
	ASSERT(violations_are(m, 1, "above TASK_SIZE"));
	mm->brk = start;
	mm->start_brk = start + 1;
	ASSERT(violations_are(m, 2, "start_brk"));	/* unaligned, and brk below it */
	mm->start_brk = start;
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

/*
** [vvar], [vvar_vclock] and [vdso] keep their size: munmap, mprotect and
** mremap refuse to split or grow them, and a move keeps them whole; a
** special mapping cut in two (by hand) is reported.
*/
/*
** mlock's permission and the VMAs it passes by, as on a Linux 6.18 host:
** with RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK (a setuid(nobody) child)
** mlock -- of length 0 too -- and mlockall(MCL_CURRENT) are EPERM,
** mlockall(0) EINVAL first, munlock and munlockall succeed; mlock of
** [vdso] succeeds and leaves it unlocked (VmFlags without lo, VmLck 0).
** m:check() catches VM_LOCKONFAULT without VM_LOCKED.
*/
TEST(mlock_eperm_and_special)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_vma_info vdso;
	struct vm_area_struct *v;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 4, RW));
	ASSERT_OK(memlab_setrlimit(t, MEMLAB_RLIMIT_MEMLOCK, 0, 8 << 20));
	ASSERT_EQ(memlab_mlock(t, A(0), PG, 0), -MEMLAB_EPERM);
	ASSERT_EQ(memlab_mlock(t, A(0), 0, 0), -MEMLAB_EPERM);
	ASSERT_EQ(memlab_mlock(t, A(0), PG, 2), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_munlock(t, A(0), PG));
	ASSERT_EQ(memlab_mlockall(t, MEMLAB_MCL_CURRENT), -MEMLAB_EPERM);
	ASSERT_EQ(memlab_mlockall(t, 0), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_munlockall(t));
	t->cap_ipc_lock = true;		/* CAP_IPC_LOCK goes past the limit */
	ASSERT_OK(memlab_mlock(t, A(0), 4 * PG, 0));
	ASSERT_EQ(t->mm->locked_vm, 4);
	ASSERT(find_named(t, "[vdso]", 0, &vdso));
	ASSERT_OK(memlab_mlock(t, vdso.start, PG, 0));
	v = find_vma(t, vdso.start);
	ASSERT(v && !(v->vm_flags & VM_LOCKED) && v->vm_end == vdso.end);
	ASSERT_EQ(t->mm->locked_vm, 4);
	ASSERT_OK(memlab_mlockall(t, MEMLAB_MCL_CURRENT | MEMLAB_MCL_ONFAULT));
	ASSERT(!(find_vma(t, vdso.start)->vm_flags & VM_LOCKED));
	ASSERT_CHECK(m);
	v = find_vma(t, A(0));
	v->vm_flags &= ~VM_LOCKED;
	t->mm->locked_vm -= 4;
	ASSERT(violations_are(m, 1, "VM_LOCKONFAULT without VM_LOCKED"));
	v->vm_flags |= VM_LOCKED;
	t->mm->locked_vm += 4;
	ASSERT_OK(memlab_munlockall(t));
	ASSERT_EQ(t->mm->locked_vm, 0);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** The limits at spawn, as a Linux 6.18 host gives them to root and to
** nobody alike: stack 8 MiB soft / unlimited hard, data and as
** unlimited, memlock 8 MiB / 8 MiB.  A value spawn gives is the soft
** limit, 0 included when its bit is in rlimit_set; the hard limit is
** raised to it.
*/
TEST(rlimit_spawn)
{
	memlab_machine *m = x86();
	struct memlab_spawn_args a;
	memlab_task *t = m ? spawn(m) : NULL;
	uint64_t cur = 1, max = 1;

	ASSERT(t);
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_STACK, &cur, &max));
	ASSERT(cur == 8 << 20 && max == MEMLAB_RLIM_INFINITY);
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_DATA, &cur, &max));
	ASSERT(cur == MEMLAB_RLIM_INFINITY && max == MEMLAB_RLIM_INFINITY);
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_AS, &cur, &max));
	ASSERT(cur == MEMLAB_RLIM_INFINITY && max == MEMLAB_RLIM_INFINITY);
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_MEMLOCK, &cur, &max));
	ASSERT(cur == 8 << 20 && max == 8 << 20);
	ASSERT_EQ(memlab_getrlimit(t, 7, &cur, &max), -MEMLAB_EINVAL);	/* RLIMIT_NOFILE */
	memset(&a, 0, sizeof(a));
	a.memlock_rlimit = 0;
	a.data_rlimit = 16 << 20;
	a.stack_rlimit = 0;				/* the default */
	a.rlimit_set = MEMLAB_RLIMIT_BIT(MEMLAB_RLIMIT_MEMLOCK);
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_MEMLOCK, &cur, &max));
	ASSERT(cur == 0 && max == 8 << 20);
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_DATA, &cur, &max));
	ASSERT(cur == 16 << 20 && max == MEMLAB_RLIM_INFINITY);
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_STACK, &cur, NULL));
	ASSERT_EQ(cur, 8 << 20);
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_EQ(memlab_mlock(t, A(0), PG, 0), -MEMLAB_EPERM);
	a.memlock_rlimit = 16 << 20;
	a.rlimit_set = 0;
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_MEMLOCK, &cur, &max));
	ASSERT(cur == 16 << 20 && max == 16 << 20);	/* hard raised to the soft */
	ASSERT_OK(memlab_setrlimit(t, MEMLAB_RLIMIT_DATA, 0, 0));
	ASSERT_EQ(map(t, 0, 1, RW), -MEMLAB_ENOMEM);	/* data_vm past RLIMIT_DATA 0 */
	ASSERT_OK(map(t, 0, 1, RO));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** do_prlimit's checks in its order, as a Linux 6.18 host gives them to
** nobody: EINVAL for a resource it does not know or cur > max, EPERM
** raising max without CAP_SYS_RESOURCE (root), which lowering needs not
** and which cannot be undone.  The thread group shares the limits, a
** fork child copies them.
*/
TEST(setrlimit)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL, *thread = NULL, *child = NULL, *root = NULL;
	struct memlab_spawn_args a;
	uint64_t cur = 1, max = 1;

	ASSERT(t);
	ASSERT_EQ(memlab_setrlimit(t, 16, 0, 0), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_setrlimit(t, MEMLAB_RLIMIT_STACK, 2 << 20, 1 << 20), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_setrlimit(t, MEMLAB_RLIMIT_MEMLOCK, 16 << 20, 8 << 20), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_setrlimit(t, MEMLAB_RLIMIT_MEMLOCK, 0, 16 << 20), -MEMLAB_EPERM);
	ASSERT_OK(memlab_setrlimit(t, MEMLAB_RLIMIT_MEMLOCK, 0, 4 << 20));
	ASSERT_EQ(memlab_setrlimit(t, MEMLAB_RLIMIT_MEMLOCK, 0, 8 << 20), -MEMLAB_EPERM);
	ASSERT_OK(memlab_setrlimit(t, MEMLAB_RLIMIT_MEMLOCK, 4 << 20, 4 << 20));
	ASSERT_OK(memlab_clone(t, MEMLAB_CLONE_PTHREAD, &thread));
	ASSERT_OK(memlab_setrlimit(thread, MEMLAB_RLIMIT_MEMLOCK, 0, 0));
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_MEMLOCK, &cur, &max));
	ASSERT(cur == 0 && max == 0);				/* signal->rlim */
	ASSERT_OK(memlab_setrlimit(t, MEMLAB_RLIMIT_DATA, 1 << 30, 2ull << 30));
	ASSERT_OK(memlab_fork(t, &child));
	ASSERT_OK(memlab_getrlimit(child, MEMLAB_RLIMIT_DATA, &cur, &max));
	ASSERT(cur == 1 << 30 && max == 2ull << 30);
	ASSERT_OK(memlab_setrlimit(child, MEMLAB_RLIMIT_DATA, 1 << 20, 1 << 20));
	ASSERT_OK(memlab_getrlimit(t, MEMLAB_RLIMIT_DATA, &cur, NULL));
	ASSERT_EQ(cur, 1 << 30);				/* another process */
	ASSERT_OK(map(t, 0, 1, RW));
	ASSERT_EQ(memlab_mlock(t, A(0), PG, 0), -MEMLAB_EPERM);
	memset(&a, 0, sizeof(a));
	a.root = 1;
	ASSERT_OK(memlab_spawn(m, &a, &root));
	ASSERT_OK(memlab_setrlimit(root, MEMLAB_RLIMIT_MEMLOCK, 0, MEMLAB_RLIM_INFINITY));
	ASSERT_OK(memlab_setrlimit(root, MEMLAB_RLIMIT_MEMLOCK, 64 << 20, 64 << 20));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** Each task, mm, VMA and anon_vma owns one live object of its cache and
** every object of those caches is owned: m:check() finds an object freed
** under its VMA, one no VMA owns, and two VMAs owning one.
*/
TEST(check_catches_kernel_objects)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct vm_area_struct *v, *w;
	uint64_t own, stray;

	ASSERT(t);
	ASSERT(violations_are(m, 0, ""));
	v = t->mm->mmap;
	w = v->vm_next;
	own = v->slab_obj;
	/* freed under its VMA: no live object, one fewer in use than VMAs */
	kernel_obj_free(m, KC_VM_AREA_STRUCT, own);
	ASSERT(violations_are(m, 2, "is no live object of its cache"));
	ASSERT_OK(kernel_obj_alloc(m, KC_VM_AREA_STRUCT, &v->slab_obj));
	ASSERT(violations_are(m, 0, ""));
	/* an object no VMA owns (a leak) */
	ASSERT_OK(kernel_obj_alloc(m, KC_VM_AREA_STRUCT, &stray));
	ASSERT(violations_are(m, 1, "objects in use, memlab has"));
	kernel_obj_free(m, KC_VM_AREA_STRUCT, stray);
	/* two VMAs own one object: the other one is leaked */
	own = w->slab_obj;
	w->slab_obj = v->slab_obj;
	ASSERT(violations_are(m, 1, "two vm_area_structs own"));
	w->slab_obj = own;
	/* a task owning the mm's object: of another cache */
	own = t->slab_obj;
	t->slab_obj = t->mm->slab_obj;
	ASSERT(violations_are(m, 1, "task_struct's object"));
	t->slab_obj = own;
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

TEST(check_catches_split_special)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_vma_info vdso;
	struct vm_area_struct *v, *n;
	uint64_t out;

	ASSERT(t);
	ASSERT(find_named(t, "[vdso]", 0, &vdso));
	ASSERT_EQ(vdso.end - vdso.start, 2 * PG);
	ASSERT_EQ(memlab_munmap(t, vdso.start, PG), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mprotect(t, vdso.start + PG, PG, RO), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mremap(t, vdso.start, 2 * PG, 3 * PG, 0, 0, &out), -MEMLAB_EFAULT);
	ASSERT_OK(memlab_mremap(t, vdso.start, 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(0), &out));
	ASSERT(violations_are(m, 0, ""));
	/* a split that vma_may_split() would have refused */
	v = find_vma(t, A(0));
	ASSERT(v && v->special_name);
	n = vm_area_alloc(t->mm);
	ASSERT(n);
	vm_area_init_from(v, n);	/* n keeps its own vm_area_struct object */
	vma_set_range(t->mm, v, A(0), A(1), v->vm_pgoff);
	n->vm_start = A(1);
	n->vm_pgoff++;
	vma_link(t->mm, n);
	ASSERT(violations_are(m, 2, "[vdso] at"));
	vma_unlink(t->mm, n);
	vm_area_free(n);
	vma_set_range(t->mm, v, A(0), A(2), v->vm_pgoff);
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

/*
** m:check() sees the reverse-map lists out of Linux's order or wrong: a
** file VMA moved to the tail of its file's i_mmap, one taken off it, and
** an anon_vma_chain moved to the tail of its anon_vma's list.
*/
TEST(check_catches_rmap_lists)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct vm_area_struct *v;
	struct anon_vma_chain *avc;
	struct list_head *head;
	uint64_t out;
	int code;

	ASSERT(t);
	v = find_vma(t, 0);		/* the image: four VMAs of the executable, offsets 0..3 */
	ASSERT(v && v->vm_file && v->vm_pgoff == 0);
	head = &v->vm_file->i_mmap;
	ASSERT(head->next == &v->shared);
	list_del(&v->shared);
	list_add_tail(&v->shared, head);
	ASSERT(violations_are(m, 2, "out of vm_pgoff order"));	/* seen from it and its neighbour */
	list_del(&v->shared);
	list_add(&v->shared, head);
	ASSERT(violations_are(m, 0, ""));
	list_del_init(&v->shared);
	ASSERT(violations_are(m, 2, "not on its file's i_mmap"));	/* and the file's count */
	list_add(&v->shared, head);
	ASSERT(violations_are(m, 0, ""));
	/* one anon_vma, three VMAs of it at offsets b, b+2, b+3 */
	ASSERT_OK(memlab_mmap(t, A(0), 4 * PG, RW, MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS |
			      MEMLAB_MAP_FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_touch(t, A(0), 1, 'w', &code));
	ASSERT_OK(memlab_mprotect(t, A(2), PG, RO));
	v = find_vma(t, A(0));
	ASSERT(v && v->anon_vma);
	avc = list_entry(v->anon_vma_chain.next, struct anon_vma_chain, same_vma);
	head = &v->anon_vma->head;
	ASSERT(head->next == &avc->same_anon_vma);
	list_del(&avc->same_anon_vma);
	list_add_tail(&avc->same_anon_vma, head);
	ASSERT(violations_are(m, 1, "out of vm_pgoff order"));
	list_del(&avc->same_anon_vma);
	list_add(&avc->same_anon_vma, head);
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

/*
** A huge page PMD-mapped in one process and PTE-mapped in its fork child
** (whose write split its PMD and copied page 0): m:check() finds a page's
** mapcount, the folio's entire mapcount, its count of pages mapped and its
** deferred split mark each wrong when they are.
*/
TEST(check_catches_large_folio_counts)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL, *c = NULL;
	struct memlab_walk w;
	struct page *folio;
	uint64_t out;
	int code;

	ASSERT(t);
	ASSERT_OK(memlab_thp(m, "always", -1, NULL));
	ASSERT_OK(memlab_mmap(t, A(0), 2 * 512 * PG, RW, FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_touch(t, A(0), 1, 'w', &code));
	ASSERT_OK(memlab_fork(t, &c));
	ASSERT_OK(memlab_touch(c, A(0), 1, 'w', &code));
	ASSERT_OK(memlab_translate(t, A(0), &w));
	ASSERT(w.huge);
	folio = pfn_to_page(m, w.pfn);
	ASSERT(folio_entire_mapcount(folio) == 1 && folio_nr_pages_mapped(folio) == 511);
	ASSERT(violations_are(m, 0, ""));
	folio[5].mapcount++;
	ASSERT(violations_are(m, 2, "PTEs map it 1 times"));	/* and the refcount */
	folio[5].mapcount--;
	(*folio_entire_mapcount_ptr(folio))++;
	ASSERT(violations_are(m, 2, "PMDs map it 1 times"));	/* and the refcount */
	(*folio_entire_mapcount_ptr(folio))--;
	(*folio_nr_pages_mapped_ptr(folio))--;
	ASSERT(violations_are(m, 1, "nr_pages_mapped 510"));
	(*folio_nr_pages_mapped_ptr(folio))++;
	ASSERT_OK(memlab_munmap(t, A(0), 2 * 512 * PG));	/* page 0 unmapped: partially mapped */
	ASSERT(folio->flags & PG_partially_mapped);
	folio->flags &= ~PG_partially_mapped;	/* and nr_anon_partially_mapped is 1 */
	ASSERT(violations_are(m, 2, "not queued for a deferred split"));
	ASSERT(violations_are(m, 2, "nr_anon_partially_mapped 1"));
	folio->flags |= PG_partially_mapped;
	folio->flags &= ~PG_deferred_split;
	ASSERT(violations_are(m, 2, "deferred split queue"));
	folio->flags |= PG_deferred_split;
	m->mthp_stats[9][MTHP_STAT_NR_ANON]++;
	ASSERT(violations_are(m, 1, "hugepages-2048kB: nr_anon 2"));
	m->mthp_stats[9][MTHP_STAT_NR_ANON]--;
	ASSERT(violations_are(m, 0, ""));
	page_memcg(m, folio)->deferred_split_len++;
	ASSERT(violations_are(m, 1, "counts 2 huge pages on the deferred split queue, it has 1"));
	page_memcg(m, folio)->deferred_split_len--;
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

/*
** MADV_COLLAPSE of small pages one of which someone holds beyond its
** mapping (a pin): EAGAIN (SCAN_PAGE_COUNT), and nothing changed -- the
** PTEs, the pages, the LRU; once let go, the collapse goes through.
*/
TEST(collapse_of_a_held_page_is_eagain)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_walk w;
	uint64_t out, pfn;
	int code;

	ASSERT(t);
	ASSERT_OK(memlab_thp(m, "never", -1, NULL));
	ASSERT_OK(memlab_mmap(t, A(0), 512 * PG, RW, FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_touch(t, A(0), 8 * PG, 'w', &code));
	ASSERT_OK(memlab_translate(t, A(3), &w));
	pfn = w.pfn;
	lru_add_drain_all(m);
	pfn_to_page(m, pfn)->_refcount++;
	ASSERT_EQ(memlab_madvise(t, A(0), 512 * PG, 25), -MEMLAB_EAGAIN);
	ASSERT_OK(memlab_translate(t, A(3), &w));
	ASSERT(!w.huge && w.pfn == pfn);
	ASSERT(pfn_to_page(m, pfn)->flags & PG_lru);
	ASSERT_EQ(m->vmstat[THP_COLLAPSE_ALLOC], 0);
	pfn_to_page(m, pfn)->_refcount--;
	ASSERT(violations_are(m, 0, ""));
	ASSERT_OK(memlab_madvise(t, A(0), 512 * PG, 25));
	ASSERT_OK(memlab_translate(t, A(3), &w));
	ASSERT(w.huge);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** khugepaged's list of mms: m:check() finds a registered mm that does not
** name its slot, and a list whose tail is wrong.
*/
TEST(check_catches_khugepaged_list)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct khugepaged_mm_slot *slot, *tail;
	uint64_t out;
	int code;

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, A(0), 512 * PG, RW, FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_madvise(t, A(0), 512 * PG, 14));
	ASSERT(!t->mm->khugepaged_slot);		/* nothing written yet: no anon_vma */
	ASSERT_OK(memlab_touch(t, A(0), 1, 'w', &code));	/* a huge page fault enters it */
	ASSERT((slot = t->mm->khugepaged_slot) != NULL);
	ASSERT(violations_are(m, 0, ""));
	t->mm->khugepaged_slot = NULL;
	ASSERT(violations_are(m, 2, "khugepaged"));
	t->mm->khugepaged_slot = slot;
	tail = m->khugepaged.tail;
	m->khugepaged.tail = NULL;
	ASSERT(violations_are(m, 1, "tail"));
	m->khugepaged.tail = tail;
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

/*
** A frame freed to the buddy lists keeps no page flag (free_pages_prepare's
** PAGE_FLAGS_CHECK_AT_FREE): m:check() finds one left, as an mlocked page
** freed without page_cache_release() left PG_mlocked.
*/
TEST(check_catches_flags_on_free_frames)
{
	memlab_machine *m = x86();
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_walk w;
	uint64_t out;
	int code;

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, A(0), PG, RW, FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_touch(t, A(0), 1, 'w', &code));
	ASSERT_OK(memlab_translate(t, A(0), &w));
	ASSERT_OK(memlab_munmap(t, A(0), PG));
	ASSERT_OK(memlab_lru_add_drain_all(m));
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT(violations_are(m, 0, ""));
	pfn_to_page(m, w.pfn)->flags |= PG_mlocked;
	ASSERT(violations_are(m, 1, "keeps page flags 0x4000"));
	pfn_to_page(m, w.pfn)->flags &= ~PG_mlocked;
	ASSERT(violations_are(m, 0, ""));
	memlab_destroy(m);
}

/* arm64 with an unlimited stack: mmap_is_legacy() -- bottom-up from TASK_SIZE / 4. */
TEST(arm64_unlimited_stack_is_legacy)
{
	struct memlab_config cfg;
	struct memlab_spawn_args a = { 0 };
	struct memlab_mm_info mi;
	memlab_machine *m;
	memlab_task *t;
	uint64_t x, y;

	memlab_config_init(&cfg);
	cfg.arch = MEMLAB_ARCH_ARM64;
	cfg.va_bits = 39;
	ASSERT_OK(memlab_create(&cfg, &m));
	a.stack_rlimit = UINT64_MAX;
	a.no_interp = 1;
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(memlab_mm_info(t, &mi));
	ASSERT_EQ(mi.mmap_base, (1ull << 39) / 4);
	ASSERT_OK(memlab_mmap(t, 0, 4096, MEMLAB_PROT_READ, MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS,
			      NULL, 0, &x));
	ASSERT_OK(memlab_mmap(t, 0, 4096, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &y));
	ASSERT(x >= mi.mmap_base && x < mi.mmap_base + (64ull << 20));
	ASSERT_EQ(y, x + 4096);			/* bottom-up: upwards */
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

/* x86-64 5-level paging: the default layout stays under 47 bits; hints and MAP_FIXED reach 56. */
TEST(x86_la57)
{
	struct memlab_config cfg;
	struct memlab_spawn_args a = { 0 };
	struct memlab_mm_info mi;
	memlab_machine *m;
	memlab_task *t;
	uint64_t x;
	const int anon = MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS;

	memlab_config_init(&cfg);
	cfg.va_bits = 57;
	ASSERT_OK(memlab_create(&cfg, &m));
	ASSERT_OK(memlab_spawn(m, &a, &t));
	ASSERT_OK(memlab_mm_info(t, &mi));
	ASSERT_EQ(mi.task_size, (1ull << 56) - 4096);
	ASSERT(mi.mmap_base < (1ull << 47));
	ASSERT_OK(memlab_mmap(t, 0, 4096, MEMLAB_PROT_READ, anon, NULL, 0, &x));
	ASSERT(x < (1ull << 47));
	ASSERT_OK(memlab_mmap(t, 1ull << 50, 4096, MEMLAB_PROT_READ, anon | MEMLAB_MAP_FIXED, NULL, 0, &x));
	ASSERT_EQ(x, 1ull << 50);
	ASSERT_OK(memlab_mmap(t, 1ull << 52, 4096, MEMLAB_PROT_READ, anon, NULL, 0, &x));
	ASSERT_EQ(x, 1ull << 52);			/* a free hint above 47 bits is used */
	ASSERT_OK(memlab_mmap(t, (1ull << 47) - 4096, 8192, MEMLAB_PROT_READ, anon, NULL, 0, &x));
	ASSERT(x < (1ull << 47) - 4096);		/* straddling the window: the hint is ignored */
	ASSERT_EQ(memlab_mmap(t, 1ull << 56, 4096, MEMLAB_PROT_READ, anon | MEMLAB_MAP_FIXED, NULL, 0, &x),
		  -MEMLAB_ENOMEM);
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

/* ===================== 6. host allocation failures in mremap ===================== */

/*
** A scenario: build the region's VMAs (mmap, writes), then one mremap
** whose moves split VMAs at both ends of the source and the destination
** and copy the VMA -- every step that needs host memory.
*/
struct mremap_case {
	const char *name;
	int (*setup)(memlab_task *t);
	uint64_t old, old_len, new_len, new_addr;
	int flags;
};

/* X: pages [0, 8) rw, written; Y: [16, 30) r--; Z: [32, 34) rw. */
static int setup_xyz(memlab_task *t)
{
	int err = map(t, 0, 8, RW);

	if (!err)
		err = write_page(t, 3);
	if (!err)
		err = map(t, 16, 30, RO);
	if (!err)
		err = map(t, 32, 34, RW);
	return err;
}

/* One 2 MiB MAP_NORESERVE hugetlb VMA at the region's start. */
static int setup_hugetlb(memlab_task *t)
{
	uint64_t out;

	return memlab_mmap(t, REGION, 2 << 20, RW,
			   FIXED | MEMLAB_MAP_HUGETLB | MEMLAB_MAP_NORESERVE, NULL, 0, &out);
}

static const struct mremap_case mremap_cases[] = {
	{ "grow into Y's middle", setup_xyz, A(2), 4 * PG, 6 * PG, A(18),
	  MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED },
	{ "shrink then move", setup_xyz, A(1), 6 * PG, 3 * PG, A(20),
	  MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED },
	{ "grow, moved anywhere", setup_xyz, A(2), 4 * PG, 9 * PG, 0, MEMLAB_MREMAP_MAYMOVE },
	{ "dontunmap a middle part", setup_xyz, A(2), 3 * PG, 3 * PG, A(24),
	  MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED | MEMLAB_MREMAP_DONTUNMAP },
	{ "move three VMAs and their gaps", setup_xyz, A(4), 30 * PG, 30 * PG, A(64),
	  MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED },
	{ "move a hugetlb VMA", setup_hugetlb, REGION, 2 << 20, 2 << 20, REGION + (8 << 20),
	  MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED },
};

/*
** Run one case with the n-th host allocation inside mremap failing.
** Returns mremap's result (1 when no allocation failed); the machine
** must be consistent either way.
*/
static int mremap_with_failure(const struct mremap_case *c, long n, int *failed)
{
	struct counting_alloc ca = { 0, 0, -1, 0 };
	struct memlab_config cfg;
	struct memlab_spawn_args a = { 0 };
	memlab_machine *m = NULL;
	memlab_task *t = NULL;
	uint64_t out;
	int rc;

	memlab_config_init(&cfg);
	cfg.alloc = counting_alloc_fn;
	cfg.alloc_ud = &ca;
	if (memlab_create(&cfg, &m) || memlab_spawn(m, &a, &t) || c->setup(t)) {
		printf("  %s: setup failed\n", c->name);
		memlab_destroy(m);
		return -1000;
	}
	ca.countdown = n;
	rc = memlab_mremap(t, c->old, c->old_len, c->new_len, c->flags, c->new_addr, &out);
	ca.countdown = -1;
	*failed = ca.failed;
	if (memlab_check(m, print_violation, NULL))
		rc = -2000;
	memlab_destroy(m);
	if (ca.live_blocks != 0)
		rc = -3000;	/* leaked host memory */
	return rc;
}

/*
** The n-th host allocation inside mremap fails, for n = 0, 1, ... until
** none does: mremap returns -ENOMEM (or succeeds when Linux would not
** need that allocation), leaks nothing, and Committed_AS, the mm's charge
** and its VM_ACCOUNT VMAs still agree (memlab_check finds nothing).
*/
TEST(mremap_host_oom)
{
	for (size_t i = 0; i < sizeof(mremap_cases) / sizeof(mremap_cases[0]); i++) {
		const struct mremap_case *c = &mremap_cases[i];
		int failed = 1, failures = 0, rc;

		for (long n = 0; failed; n++) {
			rc = mremap_with_failure(c, n, &failed);
			if (rc <= -1000)
				TEST_FAIL("%s, allocation %ld failing: %s", c->name, n,
					  rc == -1000 ? "setup failed" : rc == -2000 ?
					  "memlab_check found violations" : "host memory leaked");
			if (failed && rc != 0 && rc != -MEMLAB_ENOMEM)
				TEST_FAIL("%s, allocation %ld failing: mremap = %d", c->name, n, rc);
			if (!failed && rc != 0)
				TEST_FAIL("%s: mremap = %d without a failure", c->name, rc);
			failures += failed;
		}
		ASSERT(failures > 0);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* keep the lines when a sanitizer ends the run */
	RUN(check_catches_refcounts);
	RUN(check_catches_brk);
	RUN(check_catches_split_special);
	RUN(check_catches_rmap_lists);
	RUN(check_catches_large_folio_counts);
	RUN(collapse_of_a_held_page_is_eagain);
	RUN(check_catches_khugepaged_list);
	RUN(check_catches_flags_on_free_frames);
	RUN(check_catches_kernel_objects);
	RUN(mlock_eperm_and_special);
	RUN(arm64_unlimited_stack_is_legacy);
	RUN(x86_la57);
	RUN(simple_merge);
	RUN(find_vma);
	RUN(simple_modify);
	RUN(simple_expand);
	RUN(simple_shrink);
	RUN(merge_new);
	RUN(merge_new_no_merge);
	RUN(merge_new_separate_anon_vma);
	RUN(vma_merge_special_flags);
	RUN(merge_existing);
	RUN(merge_existing_vm_account);
	RUN(anon_vma_non_mergeable);
	RUN(dup_anon_vma);
	RUN(merge_extend);
	RUN(copy_vma);
	RUN(copy_vma_anon_vma);
	RUN(expand_only_mode);
	RUN(layout_x86_aslr_off);
	RUN(layout_x86_aslr_on);
	RUN(layout_x86_aslr_1);
	RUN(layout_x86_same_seed);
	RUN(layout_arm64);
	RUN(overcommit_heuristic);
	RUN(overcommit_always);
	RUN(overcommit_never);
	RUN(overcommit_exit);
	RUN(max_map_count);
	RUN(rlimit_as);
	RUN(rlimit_data);
	RUN(rlimit_spawn);
	RUN(setrlimit);
	RUN(mremap_host_oom);
	return test_summary();
}
