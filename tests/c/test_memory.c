/*
** test_memory.c -- the MMU layer (core/memory.c, filemap.c, rmap.c): page
** faults, the frames behind user mappings and what every counter says
** about them, through the public API (memlab.h) only.
**
**  1. Anonymous faults: the shared zero page, COW from it, a first write,
**     bytes across page boundaries.
**  2. Access errors: SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR, and that a
**     failed access counts no fault.
**  3. mprotect on present entries: PROT_NONE keeps the frames, rw makes an
**     exclusive anon page writable at once, r makes entries read-only.
**  4. munmap and exit give back every frame and page table; hiwater_rss.
**  5. mremap moves the entries (MAYMOVE, FIXED, DONTUNMAP).
**  6. MAP_POPULATE.
**  7. File mappings: major faults and read-around, fault-around, COW of a
**     private file page, shared writes, shmem.
**  8. smaps and status follow the page tables.
**  9. The reverse map and memlab_check() catching corrupt entries.
** 10. arm64 (4K, 16K, 64K granules; 39 and 48-bit VAs) and x86-64 LA57.
** 11. Differences from Linux 6.18 these tests found (fault-around's window
**     at a VMA's start, the fault-around of a major fault's retry, old
**     prefaulted entries on arm64), fixed in f36d65d and d0dac1f: kept
**     as regression tests, each with the host check behind it.
** 12. Lazy zeroing: bytes written by each writer of frame contents at a
**     page's start, middle and end are gone when the frame comes back
**     zeroed, and are in every copy of the page.
**
** Every number is exact: a change in the core's behaviour must show here.
** Each test gets its machines from machine(), which registers them; main()
** destroys them after each test, so a failed assertion leaks nothing.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "testlib.h"

#define PG ((uint64_t)4096)
#define REGION ((uint64_t)0x7e0000000000)	/* 1 GiB aligned, far from every VMA of a spawned task */
#define A(n) (REGION + (uint64_t)(n) * PG)

#define RW (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE)
#define RO MEMLAB_PROT_READ
#define RWX (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE | MEMLAB_PROT_EXEC)
#define NONE MEMLAB_PROT_NONE
#define ANON (MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS)
#define SHANON (MEMLAB_MAP_SHARED | MEMLAB_MAP_ANONYMOUS)
#define FIXED MEMLAB_MAP_FIXED
#define POPULATE MEMLAB_MAP_POPULATE

/* ===================== machines, tasks, reports ===================== */

#define MAX_LIVE 8
static memlab_machine *live[MAX_LIVE];
static int nlive;
static char reports[2048];	/* what the machines reported (BUG: ...) */

static void collect_report(void *ud, const char *msg)
{
	size_t l = strlen(reports);

	(void)ud;
	if (l + 3 < sizeof(reports))
		snprintf(reports + l, sizeof(reports) - l, "%s%s", l ? " | " : "", msg);
}

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)
#define ASSERT_NO_REPORTS()                                                     \
	do {                                                                    \
		if (reports[0])                                                 \
			TEST_FAIL("the machine reported: %s", reports);         \
	} while (0)

static memlab_machine *machine_cfg(int arch, uint32_t page_size, uint32_t va_bits,
				   uint64_t ram, int pcp_disabled)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	test_config(&cfg, arch, page_size, va_bits, ram);
	cfg.pcp_disabled = pcp_disabled;
	cfg.report = collect_report;
	if (nlive >= MAX_LIVE || memlab_create(&cfg, &m))
		return NULL;
	live[nlive++] = m;
	return m;
}

/* x86-64, 256 MiB, 4 KiB pages, per-CPU lists on. */
static memlab_machine *x86(void)
{
	return machine_cfg(MEMLAB_ARCH_X86_64, 0, 0, 0, 0);
}

/* The same with pcp off: every free goes straight back to the buddy lists. */
static memlab_machine *x86_nopcp(void)
{
	return machine_cfg(MEMLAB_ARCH_X86_64, 0, 0, 0, 1);
}

static void release_all(void)
{
	for (int i = 0; i < nlive; i++)
		memlab_destroy(live[i]);
	nlive = 0;
	reports[0] = 0;
}

static memlab_task *spawn(memlab_machine *m)
{
	struct memlab_spawn_args a;
	memlab_task *t = NULL;

	memset(&a, 0, sizeof(a));
	return m && !memlab_spawn(m, &a, &t) ? t : NULL;
}

/* mmap(MAP_FIXED) of pages [s, s + n) of the region. */
static int map(memlab_task *t, unsigned s, unsigned n, int prot, int flags)
{
	uint64_t out = 0;
	int err = memlab_mmap(t, A(s), (uint64_t)n * PG, prot, flags | FIXED, NULL, 0, &out);

	return err ? err : (out == A(s) ? 0 : -1);
}

static int map_file(memlab_task *t, unsigned s, unsigned n, int prot, int flags,
		    memlab_file *f, unsigned pgoff)
{
	uint64_t out = 0;
	int err = memlab_mmap(t, A(s), (uint64_t)n * PG, prot, flags | FIXED, f,
			      (uint64_t)pgoff * PG, &out);

	return err ? err : (out == A(s) ? 0 : -1);
}

static int touch(memlab_task *t, uint64_t addr, int access)
{
	int code = -1;
	int err = memlab_touch(t, addr, 1, access, &code);

	return err ? err : code;	/* 0 on success: code is 0 then */
}

/* The signal code of a failed access (0 when it succeeded). */
static int sig(memlab_task *t, uint64_t addr, uint64_t len, int access)
{
	int code = -1;
	int err = memlab_touch(t, addr, len, access, &code);

	if (err == 0)
		return code == 0 ? 0 : -1000;
	return err == -MEMLAB_EFAULT ? code : -2000 + err;
}

static struct memlab_mm_info mm_of(memlab_task *t)
{
	struct memlab_mm_info mi;

	memset(&mi, 0, sizeof(mi));
	memlab_mm_info(t, &mi);
	return mi;
}

static uint64_t vmstat(memlab_machine *m, const char *name)
{
	uint64_t v = UINT64_MAX;

	memlab_vmstat_get(m, name, &v);
	return v;
}

static uint64_t rss(memlab_task *t)
{
	struct memlab_mm_info mi = mm_of(t);

	return mi.rss_anon + mi.rss_file + mi.rss_shmem;
}

/* NR_FREE_PAGES summed over the zones. */
static uint64_t free_pages(memlab_machine *m)
{
	uint64_t n = 0;

	for (int z = 0; z < memlab_nr_zones(m); z++) {
		struct memlab_zone_info zi;

		if (memlab_zone_info(m, z, &zi) == 0)
			n += zi.nr_free;
	}
	return n;
}

/*
** Frames the kernel keeps once the tasks that made them are gone: each
** CPU's cache of kernel stacks and the vmalloc range's page tables, PGD
** included.
*/
static uint64_t kernel_kept(memlab_machine *m)
{
	struct memlab_vmalloc_info vi;

	memlab_vmalloc_info(m, &vi);
	return vi.nr_cached_stack_pages + vi.nr_kernel_pgtables + (vi.kernel_pgd != UINT64_MAX);
}

static struct memlab_machine_info minfo(memlab_machine *m)
{
	struct memlab_machine_info mi;

	memlab_machine_info(m, &mi);
	return mi;
}

static uint64_t zero_pfn(memlab_machine *m)
{
	return minfo(m).nr_frames - 1;
}

static struct memlab_walk walk(memlab_task *t, uint64_t va)
{
	struct memlab_walk w;

	memset(&w, 0, sizeof(w));
	memlab_translate(t, va, &w);
	return w;
}

static uint64_t pfn_of(memlab_task *t, uint64_t va)
{
	return walk(t, va).pfn;
}

/* The physical address of the leaf entry mapping va (PTE level). */
static uint64_t pte_paddr(memlab_task *t, uint64_t va)
{
	memlab_machine *m = memlab_task_machine(t);
	struct memlab_machine_info mi = minfo(m);
	struct memlab_walk w = walk(t, va);
	uint64_t ptrs = mi.page_size / 8;

	if (!w.levels)
		return 0;
	return w.table_pfn[w.levels - 1] * mi.page_size +
	       ((va >> mi.page_shift) & (ptrs - 1)) * 8;
}

static uint64_t read_u64_phys(memlab_machine *m, uint64_t paddr)
{
	uint8_t b[8];
	uint64_t v = 0;

	memlab_read_phys(m, paddr, b, 8);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void write_u64_phys(memlab_machine *m, uint64_t paddr, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (uint8_t)v;
	memlab_write_phys(m, paddr, b, 8);
}

/* Is the frame all zeroes? */
static int frame_is_zero(memlab_machine *m, uint64_t pfn)
{
	static uint8_t buf[65536];
	uint32_t ps = minfo(m).page_size;

	if (memlab_read_phys(m, pfn * ps, buf, ps))
		return 0;
	for (uint32_t i = 0; i < ps; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* A per-task /proc file's text (free with memlab_free_text), or NULL. */
static char *proc_text(memlab_machine *m, memlab_task *t, const char *file)
{
	char path[48], *text = NULL;

	if (t)
		snprintf(path, sizeof(path), "%d/%s", memlab_task_pid(t), file);
	else
		snprintf(path, sizeof(path), "%s", file);
	return memlab_proc(m, path, &text, NULL) ? NULL : text;
}

/* The kB of "Label:" in text after from (or -1). */
static int64_t field_kb(const char *from, const char *label)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\n%s:", label);
	p = strstr(from, want);
	return p ? strtoll(p + strlen(want), NULL, 10) : -1;
}

/* A field of the smaps block of the VMA starting at start, in kB (-1: none). */
static int64_t smaps_kb(memlab_task *t, uint64_t start, const char *label)
{
	memlab_machine *m = memlab_task_machine(t);
	char *text = proc_text(m, t, "smaps"), head[32];
	const char *p, *next;
	int64_t kb = -1;

	if (!text)
		return -1;
	snprintf(head, sizeof(head), "%08" PRIx64 "-", start);
	p = strstr(text, head);
	if (p && (p == text || p[-1] == '\n')) {
		char *end;

		next = strstr(p, "VmFlags:");
		kb = field_kb(p, label);
		end = strstr(p, label);
		if (next && end && end > next)
			kb = -1;	/* the field is not in this block */
	}
	memlab_free_text(m, text);
	return kb;
}

/* A "Label:" of /proc/PID/status or /proc/meminfo (t NULL), in kB. */
static int64_t proc_kb(memlab_machine *m, memlab_task *t, const char *label)
{
	char *text = proc_text(m, t, t ? "status" : "meminfo"), want[64];
	int64_t kb = -1;
	const char *p;

	if (!text)
		return -1;
	snprintf(want, sizeof(want), "%s:", label);
	p = strncmp(text, want, strlen(want)) == 0 ? text - 1 : NULL;
	kb = p ? strtoll(text + strlen(want), NULL, 10) : field_kb(text, label);
	memlab_free_text(m, text);
	return kb;
}

/* The pattern byte of address a: what the tests write and expect back. */
static uint8_t pat(uint64_t a, unsigned salt)
{
	uint64_t x = (a + salt) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56) | 1;	/* never 0: a zero page cannot fake it */
}

static void fill(uint8_t *buf, uint64_t a, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pat(a + i, salt);
}

static int check_pattern(const uint8_t *buf, uint64_t a, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != pat(a + i, salt))
			return 0;
	return 1;
}

/* Write the pattern over [a, a + n), 0 or the signal code. */
static int write_pattern(memlab_task *t, uint64_t a, size_t n, unsigned salt)
{
	static uint8_t buf[4 << 20];
	int code = 0, err;

	if (n > sizeof(buf))
		return -1;
	fill(buf, a, n, salt);
	err = memlab_access(t, a, n, 'w', buf, &code);
	return err ? (err == -MEMLAB_EFAULT ? code : err) : 0;
}

/*
** Read [a, a + n) and compare it with the pattern written at [base, base + n):
** 1 equal, 0 differs, <0 error.
*/
static int read_matches(memlab_task *t, uint64_t a, size_t n, uint64_t base, unsigned salt)
{
	static uint8_t buf[4 << 20];
	int code = 0, err;

	if (n > sizeof(buf))
		return -1;
	err = memlab_access(t, a, n, 'r', buf, &code);
	if (err)
		return err;
	return check_pattern(buf, base, n, salt);
}

static int read_is_pattern(memlab_task *t, uint64_t a, size_t n, unsigned salt)
{
	return read_matches(t, a, n, a, salt);
}

static int read_is_zero(memlab_task *t, uint64_t a, size_t n)
{
	static uint8_t buf[4 << 20];
	int code = 0, err;

	if (n > sizeof(buf))
		return -1;
	memset(buf, 0xee, n);
	err = memlab_access(t, a, n, 'r', buf, &code);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* How many (pid, addr) pairs map pfn; the first in *first. */
static size_t rmap(memlab_machine *m, uint64_t pfn, struct memlab_rmap_entry *out, size_t n)
{
	return memlab_rmap(m, pfn, out, n);
}

/* ===================== 1. anonymous faults ===================== */

/*
** A read of a never-touched private anonymous page maps the shared zero
** page (do_anonymous_page without FAULT_FLAG_WRITE): a special, read-only
** entry for the last reserved frame; no RSS, one minor fault, pgfault +1.
*/
TEST(zero_page_read_fault)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before, after;
	struct memlab_walk w;
	struct memlab_page_info pi;
	uint64_t pgfault, anon_pages;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 16, RW, ANON));
	w = walk(t, A(3));
	ASSERT_EQ(w.present, 0);
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");
	anon_pages = vmstat(m, "nr_anon_pages");
	ASSERT_EQ(read_is_zero(t, A(3) + 100, 200), 1);
	after = mm_of(t);
	ASSERT_EQ(after.min_flt, before.min_flt + 1);
	ASSERT_EQ(after.maj_flt, before.maj_flt);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 1);
	ASSERT_EQ(vmstat(m, "pgmajfault"), 0);
	ASSERT_EQ(after.rss_anon, before.rss_anon);
	ASSERT_EQ(rss(t), 0);
	ASSERT_EQ(vmstat(m, "nr_anon_pages"), anon_pages);

	ASSERT_EQ(memlab_translate(t, A(3) + 5, &w), 0);
	ASSERT_EQ(w.present, 1);
	ASSERT_EQ(w.special, 1);
	ASSERT_EQ(w.write, 0);
	ASSERT_EQ(w.dirty, 0);
	ASSERT_EQ(w.user, 1);
	ASSERT_EQ(w.accessed, 1);
	ASSERT_EQ(w.exec, 0);
	ASSERT_EQ(w.protnone, 0);
	ASSERT_EQ(w.huge, 0);
	ASSERT_EQ(w.pfn, zero_pfn(m));
	ASSERT_EQ(w.phys, zero_pfn(m) * PG + 5);
	ASSERT_EQ(w.leaf_size, PG);
	ASSERT_EQ(w.levels, 4);
	ASSERT_STREQ(w.level_name[0], "PGD");
	ASSERT_STREQ(w.level_name[1], "PUD");
	ASSERT_STREQ(w.level_name[2], "PMD");
	ASSERT_STREQ(w.level_name[3], "PTE");
	ASSERT_STREQ(w.flags, "P US A SPECIAL NX");
	/* the raw entry: pfn, P, US, A, SPECIAL (bit 9), NX */
	ASSERT_EQ(w.entry[3], (zero_pfn(m) << 12) | 0x1 | 0x4 | 0x20 | 0x200 | (1ull << 63));
	/* the zero page is reserved memory, never the buddy allocator's */
	ASSERT_OK(memlab_page_info(m, zero_pfn(m), &pi));
	ASSERT_EQ(pi.reserved, 1);
	ASSERT_EQ(pi.free, 0);
	ASSERT_EQ(frame_is_zero(m, zero_pfn(m)), 1);

	/* a second read, another page of the same VMA too: only the new page faults */
	ASSERT_EQ(read_is_zero(t, A(3), PG), 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 1);
	ASSERT_EQ(read_is_zero(t, A(4), 1), 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 2);
	ASSERT_EQ(pfn_of(t, A(4)), zero_pfn(m));
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 2);
	/* the zero page is in nobody's reverse map, and in no Rss */
	ASSERT_EQ(rmap(m, zero_pfn(m), NULL, 0), 0);
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 0);
	ASSERT_EQ(smaps_kb(t, A(0), "Anonymous"), 0);
	ASSERT_EQ(proc_kb(m, t, "VmRSS"), 0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** A write to a zero-page entry copies (do_wp_page -> wp_page_copy of the
** zero page): a new zeroed frame, writable and dirty, rss_anon + 1, one
** more minor fault; the zero page stays zero.
*/
TEST(cow_from_zero_page)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before, after;
	struct memlab_walk w;
	struct memlab_page_info pi;
	struct memlab_rmap_entry e[4];
	uint64_t pgfault, anon_pages, pfn;
	uint8_t byte = 0x5a, buf[PG];

	ASSERT(t);
	ASSERT_OK(map(t, 0, 4, RW, ANON));
	ASSERT_EQ(touch(t, A(1), 'r'), 0);
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");
	anon_pages = vmstat(m, "nr_anon_pages");
	ASSERT_EQ(pfn_of(t, A(1)), zero_pfn(m));

	{
		int code = 0;

		ASSERT_OK(memlab_access(t, A(1) + 7, 1, 'w', &byte, &code));
		ASSERT_EQ(code, 0);
	}
	after = mm_of(t);
	ASSERT_EQ(after.min_flt, before.min_flt + 1);
	ASSERT_EQ(after.maj_flt, 0);
	ASSERT_EQ(after.rss_anon, before.rss_anon + 1);
	ASSERT_EQ(after.rss_file, 0);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 1);
	ASSERT_EQ(vmstat(m, "nr_anon_pages"), anon_pages + 1);
	ASSERT_OK(memlab_translate(t, A(1), &w));
	pfn = w.pfn;
	ASSERT(pfn != zero_pfn(m));
	ASSERT_EQ(w.special, 0);
	ASSERT_EQ(w.write, 1);
	ASSERT_EQ(w.dirty, 1);
	ASSERT_EQ(w.accessed, 1);
	ASSERT_STREQ(w.flags, "P RW US A D NX");
	/* the new frame: zero but the byte written */
	ASSERT_OK(memlab_read_phys(m, pfn * PG, buf, PG));
	for (size_t i = 0; i < PG; i++)
		ASSERT_EQ(buf[i], i == 7 ? 0x5a : 0);
	ASSERT_EQ(frame_is_zero(m, zero_pfn(m)), 1);
	ASSERT_OK(memlab_page_info(m, pfn, &pi));
	ASSERT_EQ(pi.refcount, 2);	/* the mapping's and the lru_add batch's (kpagecount 2) */
	ASSERT_OK(memlab_lru_add_drain_all(m));
	ASSERT_OK(memlab_page_info(m, pfn, &pi));
	ASSERT_EQ(pi.refcount, 1);
	ASSERT_EQ(pi.free, 0);
	ASSERT_EQ(pi.reserved, 0);
	ASSERT_EQ(rmap(m, pfn, e, 4), 1);
	ASSERT_EQ(e[0].pid, memlab_task_pid(t));
	ASSERT_EQ(e[0].addr, A(1));
	/* a second write to the page: no fault */
	ASSERT_EQ(write_pattern(t, A(1), PG, 1), 0);
	ASSERT_EQ(mm_of(t).min_flt, after.min_flt);
	ASSERT_EQ(read_is_pattern(t, A(1), PG, 1), 1);
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 4);
	ASSERT_EQ(smaps_kb(t, A(0), "Anonymous"), 4);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Dirty"), 4);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* A first write takes one fault and a zeroed page directly (no zero page first). */
TEST(first_write_allocates_once)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before;
	uint64_t pgfault, free0;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 8, RW, ANON));
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");
	free0 = vmstat(m, "nr_anon_pages");
	for (unsigned i = 0; i < 8; i++)
		ASSERT_EQ(touch(t, A(i) + 4095, 'w'), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 8);
	ASSERT_EQ(mm_of(t).rss_anon, 8);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 8);
	ASSERT_EQ(vmstat(m, "nr_anon_pages"), free0 + 8);
	for (unsigned i = 0; i < 8; i++) {
		struct memlab_walk w = walk(t, A(i));

		ASSERT_EQ(w.present, 1);
		ASSERT_EQ(w.write, 1);
		ASSERT_EQ(w.dirty, 1);
		ASSERT_EQ(w.special, 0);
		ASSERT_EQ(frame_is_zero(m, w.pfn), 1);	/* a touch writes no byte */
		for (unsigned j = 0; j < i; j++)
			ASSERT(pfn_of(t, A(j)) != w.pfn);
	}
	/* reads and writes after: no fault */
	ASSERT_EQ(read_is_zero(t, A(0), 8 * PG), 1);
	ASSERT_EQ(write_pattern(t, A(0), 8 * PG, 2), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 8);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 8);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* Bytes written across page boundaries land in the right frames and read back. */
TEST(bytes_cross_page_boundaries)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t start = A(0) + PG - 100, len = 3 * PG + 200;	/* pages 0..4 */
	uint8_t buf[PG];
	struct memlab_mm_info before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 6, RW, ANON));
	before = mm_of(t);
	ASSERT_EQ(write_pattern(t, start, len, 3), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 5);
	ASSERT_EQ(mm_of(t).rss_anon, 5);
	ASSERT_EQ(read_is_pattern(t, start, len, 3), 1);
	/* every byte in its frame, through the physical addresses */
	for (unsigned p = 0; p < 5; p++) {
		uint64_t pfn = pfn_of(t, A(p));

		ASSERT_OK(memlab_read_phys(m, pfn * PG, buf, PG));
		for (unsigned i = 0; i < PG; i++) {
			uint64_t va = A(p) + i;

			if (va >= start && va < start + len)
				ASSERT_EQ(buf[i], pat(va, 3));
			else
				ASSERT_EQ(buf[i], 0);
		}
	}
	/* unaligned reads inside and across */
	ASSERT_EQ(read_is_pattern(t, start + 4000, 300, 3), 1);
	ASSERT_EQ(read_is_zero(t, A(0), PG - 100), 1);
	ASSERT_EQ(read_is_zero(t, start + len, A(5) - (start + len)), 1);
	/* page 5 was never touched: the read above mapped the zero page */
	ASSERT_EQ(pfn_of(t, A(4) + PG - 1), pfn_of(t, A(4)));
	ASSERT_EQ(read_is_zero(t, A(5), PG), 1);
	ASSERT_EQ(pfn_of(t, A(5)), zero_pfn(m));
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 6);
	ASSERT_EQ(mm_of(t).rss_anon, 5);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 2. access errors ===================== */

TEST(access_errors)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before;
	uint64_t pgfault;
	uint8_t buf[3 * PG];
	int code;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 2, RW, ANON));
	ASSERT_OK(map(t, 2, 1, RO, ANON));
	ASSERT_OK(map(t, 3, 1, NONE, ANON));
	ASSERT_OK(map(t, 4, 1, RWX, ANON));
	/* page 5 unmapped */
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");

	ASSERT_EQ(sig(t, A(5), 1, 'r'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, A(5), 1, 'w'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, A(5), 1, 'x'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, A(-1), 1, 'r'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, 0, 1, 'r'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, 1ull << 47, 1, 'r'), MEMLAB_SEGV_KERNEL);	/* not canonical: a #GP */
	ASSERT_EQ(sig(t, (1ull << 47) - 4096, 1, 'r'), MEMLAB_SEGV_MAPERR);	/* TASK_SIZE_MAX: kernel space */
	ASSERT_EQ(sig(t, UINT64_MAX - 10, 1, 'r'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, A(2), 1, 'w'), MEMLAB_SEGV_ACCERR);		/* read-only VMA */
	ASSERT_EQ(sig(t, A(3), 1, 'r'), MEMLAB_SEGV_ACCERR);		/* PROT_NONE */
	ASSERT_EQ(sig(t, A(3), 1, 'w'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(sig(t, A(3), 1, 'x'), MEMLAB_SEGV_ACCERR);
	/* none of these reached handle_mm_fault */
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);
	ASSERT_EQ(mm_of(t).maj_flt, before.maj_flt);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault);
	ASSERT_EQ(rss(t), 0);
	/*
	 * A fetch from a missing page of a non-executable VMA: x86 faults the
	 * page in as a read (minor fault), then faults again on the NX entry
	 * with SEGV_ACCERR (the host does the same).
	 */
	ASSERT_EQ(sig(t, A(0), 1, 'x'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 1);
	ASSERT_EQ(sig(t, A(0), 1, 'x'), MEMLAB_SEGV_ACCERR);	/* present now: no fault */
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 1);
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");

	/* allowed accesses */
	ASSERT_EQ(sig(t, A(2), 1, 'r'), 0);		/* the zero page */
	ASSERT_EQ(sig(t, A(4), 1, 'x'), 0);
	ASSERT_EQ(sig(t, A(4), 1, 'w'), 0);
	/* r and x read-faulted the zero page, w copied */
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 3);
	ASSERT_EQ(walk(t, A(4)).exec, 1);
	ASSERT_EQ(walk(t, A(2)).exec, 0);
	/* the write to the zero page of the read-only VMA still fails, without a fault */
	ASSERT_EQ(sig(t, A(2), 1, 'w'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 3);

	/* an access that runs into a bad page copies the bytes before it */
	memset(buf, 0x77, sizeof(buf));
	ASSERT_EQ(write_pattern(t, A(0), 2 * PG, 9), 0);
	code = 0;
	ASSERT_EQ(memlab_access(t, A(1) + 10, 2 * PG, 'r', buf, &code), -MEMLAB_EFAULT);
	ASSERT(check_pattern(buf, A(1) + 10, PG - 10, 9));
	/* page 2 (read-only) was readable: its zero page bytes were copied too */
	for (unsigned i = PG - 10; i < 2 * PG - 10; i++)
		ASSERT_EQ(buf[i], 0);
	/* the failing page: PROT_NONE, SEGV_ACCERR, nothing copied from it */
	ASSERT_EQ(code, MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(buf[2 * PG - 10], 0x77);
	/* a write running from rw into r-- writes the first page and stops */
	code = 0;
	fill(buf, A(1) + PG - 4, 8, 10);
	ASSERT_EQ(memlab_access(t, A(1) + PG - 4, 8, 'w', buf, &code), -MEMLAB_EFAULT);
	ASSERT_EQ(code, MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(read_is_pattern(t, A(1) + PG - 4, 4, 10), 1);
	ASSERT_EQ(read_is_zero(t, A(2), 4), 1);
	/* an unknown access letter */
	code = 5;
	ASSERT_EQ(memlab_access(t, A(0), 1, 'q', buf, &code), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_touch(t, A(0), 1, 0, &code), -MEMLAB_EINVAL);
	/* a zero-length access touches nothing */
	ASSERT_EQ(memlab_touch(t, A(5), 0, 'r', &code), 0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** A file page at or past the end of the file: SIGBUS (BUS_ADRERR).  The
** fault reached the VMA's handler, so pgfault counts it; min_flt does not.
*/
TEST(sigbus_past_eof)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;
	struct memlab_mm_info before;
	uint64_t pgfault;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/data/short", PG + 100, 1, &f));
	ASSERT_OK(map_file(t, 0, 4, RW, MEMLAB_MAP_PRIVATE, f, 0));
	ASSERT_OK(map_file(t, 8, 4, RW, MEMLAB_MAP_SHARED, f, 0));
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");
	ASSERT_EQ(sig(t, A(2), 1, 'r'), MEMLAB_BUS_ADRERR);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);
	ASSERT_EQ(mm_of(t).maj_flt, before.maj_flt);
	ASSERT_EQ(sig(t, A(3) + 7, 1, 'w'), MEMLAB_BUS_ADRERR);
	ASSERT_EQ(sig(t, A(10), 1, 'w'), MEMLAB_BUS_ADRERR);
	ASSERT_EQ(sig(t, A(11), 1, 'r'), MEMLAB_BUS_ADRERR);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 4);
	ASSERT_EQ(mm_of(t).min_flt + mm_of(t).maj_flt, before.min_flt + before.maj_flt);
	ASSERT_EQ(rss(t), 0);
	/* the last partial page is fine, and reads zeroes past the end */
	ASSERT_EQ(read_is_zero(t, A(1), PG), 1);
	ASSERT_EQ(read_is_zero(t, A(9) + 100, PG - 100), 1);
	ASSERT_EQ(sig(t, A(1), PG, 'w'), 0);
	ASSERT_EQ(sig(t, A(9), PG, 'w'), 0);
	/* an access running from page 1 into page 2 stops with SIGBUS */
	ASSERT_EQ(sig(t, A(1) + PG - 1, 2, 'r'), MEMLAB_BUS_ADRERR);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 3. mprotect ===================== */

/*
** mprotect(PROT_NONE) keeps every frame: RSS is unchanged and the entries
** become protnone (not present for the MMU, present for the kernel);
** accesses fault with SEGV_ACCERR and count nothing.  Back to rw, the data
** is intact and an exclusive anonymous page is writable at once
** (MM_CP_TRY_CHANGE_WRITABLE): a write takes no fault.
*/
TEST(mprotect_none_keeps_pages)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before;
	struct memlab_walk w;
	uint64_t pfns[4], pgfault;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 5, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 4 * PG, 4), 0);
	ASSERT_EQ(touch(t, A(4), 'r'), 0);		/* page 4: the zero page */
	for (unsigned i = 0; i < 4; i++)
		pfns[i] = pfn_of(t, A(i));
	ASSERT_EQ(rss(t), 4);
	ASSERT_OK(memlab_mprotect(t, A(0), 5 * PG, NONE));
	ASSERT_EQ(rss(t), 4);
	ASSERT_EQ(mm_of(t).rss_anon, 4);
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 16);
	ASSERT_EQ(smaps_kb(t, A(0), "Anonymous"), 16);
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_EQ(memlab_translate(t, A(i), &w), -MEMLAB_EFAULT);
		ASSERT_EQ(w.present, 0);
		ASSERT_EQ(w.protnone, 1);
		ASSERT_EQ(w.pfn, pfns[i]);
		ASSERT_EQ(w.dirty, 1);
		ASSERT_EQ(w.accessed, 1);
		ASSERT_EQ(w.write, 0);
		ASSERT_EQ(w.special, 0);
		ASSERT_EQ(rmap(m, pfns[i], NULL, 0), 1);
	}
	ASSERT_EQ(memlab_translate(t, A(4), &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.protnone, 1);
	ASSERT_EQ(w.special, 1);
	ASSERT_EQ(w.pfn, zero_pfn(m));
	ASSERT_CHECK(m);

	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");
	ASSERT_EQ(sig(t, A(0), 1, 'r'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(sig(t, A(1), 1, 'w'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(sig(t, A(4), 1, 'r'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault);

	ASSERT_OK(memlab_mprotect(t, A(0), 5 * PG, RW));
	for (unsigned i = 0; i < 4; i++) {
		ASSERT_EQ(memlab_translate(t, A(i), &w), 0);
		ASSERT_EQ(w.pfn, pfns[i]);
		ASSERT_EQ(w.write, 1);		/* exclusive anon: writable at once */
		ASSERT_EQ(w.dirty, 1);
		ASSERT_EQ(w.protnone, 0);
	}
	ASSERT_EQ(memlab_translate(t, A(4), &w), 0);
	ASSERT_EQ(w.write, 0);			/* the zero page never is */
	ASSERT_EQ(w.special, 1);
	ASSERT_EQ(read_is_pattern(t, A(0), 4 * PG, 4), 1);
	ASSERT_EQ(write_pattern(t, A(0), 4 * PG, 5), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);	/* no fault at all */
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault);
	ASSERT_EQ(touch(t, A(4), 'w'), 0);		/* COW of the zero page */
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 1);
	ASSERT_EQ(rss(t), 5);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* mprotect(PROT_READ) makes entries read-only; rw again makes them writable without a fault. */
TEST(mprotect_read_only_entries)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before;
	struct memlab_walk w;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 3, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 3 * PG, 6), 0);
	ASSERT_OK(memlab_mprotect(t, A(1), PG, RO));
	ASSERT_EQ(memlab_translate(t, A(1), &w), 0);
	ASSERT_EQ(w.write, 0);
	ASSERT_EQ(w.dirty, 1);
	ASSERT_EQ(w.present, 1);
	ASSERT_STREQ(w.flags, "P US A D NX");
	ASSERT_EQ(walk(t, A(0)).write, 1);
	ASSERT_EQ(walk(t, A(2)).write, 1);
	before = mm_of(t);
	ASSERT_EQ(sig(t, A(1), 1, 'w'), MEMLAB_SEGV_ACCERR);
	ASSERT_EQ(read_is_pattern(t, A(1), PG, 6), 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);
	ASSERT_OK(memlab_mprotect(t, A(1), PG, RWX));
	ASSERT_EQ(walk(t, A(1)).write, 1);
	ASSERT_EQ(walk(t, A(1)).exec, 1);
	ASSERT_EQ(sig(t, A(1), PG, 'w'), 0);
	ASSERT_EQ(sig(t, A(1), 1, 'x'), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);
	ASSERT_EQ(rss(t), 3);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 4. munmap, exit ===================== */

/*
** munmap of everything touched gives back every frame and every page
** table the mapping needed: with pcp off the free count is exact at once.
*/
TEST(munmap_frees_frames_and_tables)
{
	memlab_machine *m = x86_nopcp();
	memlab_task *t = spawn(m);
	struct memlab_mm_info mi;
	uint64_t free0, tables0, anon0;
	int64_t memfree0;

	ASSERT(t);
	free0 = free_pages(m);
	memfree0 = proc_kb(m, NULL, "MemFree");
	ASSERT_EQ(memfree0, (int64_t)free0 * 4);
	ASSERT_EQ(vmstat(m, "nr_free_pages"), free0);
	tables0 = mm_of(t).pgtables_bytes;
	anon0 = vmstat(m, "nr_anon_pages");
	ASSERT_OK(map(t, 0, 64, RW, ANON));
	ASSERT_EQ(free_pages(m), free0);	/* mmap allocates nothing */
	ASSERT_EQ(write_pattern(t, A(0), 40 * PG, 7), 0);
	ASSERT_EQ(read_is_zero(t, A(40), 24 * PG), 1);	/* 24 zero-page entries */
	mi = mm_of(t);
	ASSERT_EQ(mi.rss_anon, 40);
	/* a PUD, a PMD and a PTE table for the region */
	ASSERT_EQ(mi.pgtables_bytes, tables0 + 3 * PG);
	ASSERT_EQ(free_pages(m), free0 - 40 - 3);
	ASSERT_EQ(proc_kb(m, NULL, "MemFree"), memfree0 - 43 * 4);
	ASSERT_EQ(vmstat(m, "nr_anon_pages"), anon0 + 40);
	ASSERT_EQ(proc_kb(m, t, "VmPTE"), (int64_t)(mi.pgtables_bytes >> 10));
	ASSERT_CHECK(m);

	/* half of it: the table stays; pages waiting in the CPU's lru_add
	 * batch are freed when it drains (the 6.18 host's munmap does not) */
	ASSERT_OK(memlab_munmap(t, A(0), 20 * PG));
	ASSERT_OK(memlab_lru_add_drain_all(m));
	ASSERT_EQ(mm_of(t).rss_anon, 20);
	ASSERT_EQ(free_pages(m), free0 - 20 - 3);
	ASSERT_EQ(mm_of(t).pgtables_bytes, tables0 + 3 * PG);
	/* the rest: the tables go too */
	ASSERT_OK(memlab_munmap(t, A(20), 44 * PG));
	ASSERT_OK(memlab_lru_add_drain_all(m));
	mi = mm_of(t);
	ASSERT_EQ(mi.rss_anon, 0);
	ASSERT_EQ(mi.pgtables_bytes, tables0);
	ASSERT_EQ(free_pages(m), free0);
	ASSERT_EQ(proc_kb(m, NULL, "MemFree"), memfree0);
	ASSERT_EQ(vmstat(m, "nr_anon_pages"), anon0);
	ASSERT_EQ(mi.hiwater_rss, 40);		/* the peak stays */
	ASSERT_EQ(proc_kb(m, t, "VmHWM"), 160);
	ASSERT_EQ(proc_kb(m, t, "VmRSS"), 0);
	ASSERT_EQ(memlab_translate(t, A(5), &(struct memlab_walk){ 0 }), -MEMLAB_EFAULT);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* The same with the per-CPU lists on: exact after drain_all_pages(). */
TEST(munmap_frees_with_pcp)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t free0, tables0;

	ASSERT(t);
	ASSERT_OK(memlab_drain_pages(m));
	free0 = free_pages(m);
	tables0 = mm_of(t).pgtables_bytes;
	ASSERT_OK(map(t, 100, 300, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(100), 300 * PG, 8), 0);
	ASSERT_EQ(mm_of(t).rss_anon, 300);
	ASSERT_EQ(mm_of(t).pgtables_bytes, tables0 + 3 * PG);
	ASSERT_OK(memlab_mmap(t, A(500), 24 * PG, RW, ANON | FIXED, NULL, 0, &(uint64_t){ 0 }));
	ASSERT_EQ(write_pattern(t, A(500), 24 * PG, 9), 0);	/* pages 512.. need a second PTE table */
	ASSERT_EQ(mm_of(t).pgtables_bytes, tables0 + 4 * PG);
	ASSERT_OK(memlab_munmap(t, A(100), 424 * PG));
	ASSERT_OK(memlab_lru_add_drain_all(m));		/* the batch's pages go too */
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT_EQ(free_pages(m), free0);
	ASSERT_EQ(mm_of(t).pgtables_bytes, tables0);
	ASSERT_EQ(mm_of(t).hiwater_rss, 324);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** exit() gives back everything the task held: anonymous pages (heap,
** stack, mmap), shmem, page tables, the PGD, its kernel objects.  Page
** cache pages of regular files stay cached, as in Linux, and so do the
** slabs its task_struct, mm_struct, VMAs and anon_vmas came from: SLUB
** keeps a CPU's slab when its objects are freed.
*/
TEST(exit_frees_everything)
{
	memlab_machine *m = x86();
	struct memlab_spawn_args a;
	memlab_task *t = NULL;
	memlab_file *f = NULL;
	uint64_t free0, cache0, shmem0, brk0, out, slab0;
	struct memlab_mm_info mi;

	ASSERT(m);
	ASSERT_OK(memlab_file_create(m, "/data/exit", 24 * PG, 1, &f));
	ASSERT_OK(memlab_drain_pages(m));
	free0 = free_pages(m);
	slab0 = vmstat(m, "nr_slab_unreclaimable");
	cache0 = vmstat(m, "nr_file_pages");
	shmem0 = vmstat(m, "nr_shmem");
	memset(&a, 0, sizeof(a));
	ASSERT_OK(memlab_spawn(m, &a, &t));
	mi = mm_of(t);
	ASSERT_EQ(rss(t), 0);
	/* heap */
	brk0 = memlab_brk(t, 0);
	ASSERT_EQ(memlab_brk(t, brk0 + 16 * PG), brk0 + 16 * PG);
	ASSERT_EQ(write_pattern(t, brk0, 16 * PG, 10), 0);
	/* stack, just below its top */
	ASSERT_EQ(write_pattern(t, mi.start_stack - 3 * PG, 3 * PG, 11), 0);
	/* anonymous private and shared */
	ASSERT_OK(map(t, 0, 32, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 32 * PG, 12), 0);
	ASSERT_OK(map(t, 40, 8, RW, SHANON));
	ASSERT_EQ(write_pattern(t, A(40), 8 * PG, 13), 0);
	ASSERT_EQ(vmstat(m, "nr_shmem"), shmem0 + 8);
	/* a file: a private copy, a shared dirty page, read pages */
	ASSERT_OK(memlab_mmap(t, A(64), 24 * PG, RW, MEMLAB_MAP_PRIVATE | FIXED, f, 0, &out));
	ASSERT_EQ(write_pattern(t, A(64), PG, 14), 0);
	ASSERT_EQ(read_is_zero(t, A(70), PG), 1);
	ASSERT_OK(memlab_mmap(t, A(128), 24 * PG, RW, MEMLAB_MAP_SHARED | FIXED, f, 0, &out));
	ASSERT_EQ(write_pattern(t, A(130), PG, 15), 0);
	mi = mm_of(t);
	ASSERT_EQ(mi.rss_shmem, 8);
	ASSERT(mi.rss_anon >= 16 + 3 + 32 + 1);
	ASSERT(mi.rss_file >= 2);
	ASSERT(mi.pgtables_bytes > 0);
	ASSERT_CHECK(m);

	memlab_task_exit(t);
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT_EQ(vmstat(m, "nr_shmem"), shmem0);		/* the shmem object is gone */
	ASSERT_EQ(vmstat(m, "nr_anon_pages"), 0);
	ASSERT_EQ(vmstat(m, "nr_mapped"), 0);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0 + 24);	/* the file is cached whole */
	ASSERT_EQ(vmstat(m, "nr_dirty"), 1);			/* not written back */
	/*
	 * the CPU slabs kept: task_struct 8 pages, mm_struct 4, vm_area_struct
	 * 1, anon_vma 1, anon_vma_chain 1
	 */
	ASSERT_EQ(vmstat(m, "nr_slab_unreclaimable"), slab0 + 15);
	ASSERT_EQ(kernel_kept(m), 4 + 4);	/* its stack, cached; PGD, PUD, PMD, PTE of vmalloc */
	ASSERT_EQ(free_pages(m) + 24 + 15 + kernel_kept(m), free0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** exit of a task that only read: no frame, only tables; nothing leaks, and
** spawn itself allocates nothing that stays but the slabs of its kernel
** objects, which SLUB keeps as CPU slabs once they are empty, and its
** kernel stack, which the CPU keeps cached with the vmalloc range's page
** tables: the first spawn takes them (15 + 8 pages), the next ones reuse them.
*/
/* memlab_anon_vma(): the anon_vma a written VMA names; bad arguments refused. */
TEST(anon_vma_info)
{
	memlab_machine *m = x86_nopcp();
	struct memlab_anon_vma_info ai;
	struct memlab_vma_info vi;
	memlab_task *t;

	ASSERT(m);
	t = spawn(m);
	ASSERT(t);
	ASSERT_OK(map(t, 0, 4, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), PG, 3), 0);
	ASSERT_OK(memlab_find_vma(t, A(0), &vi));
	ASSERT(vi.anon_vma && vi.anon_vma_id);
	ASSERT_EQ(vi.anon_vma_chain, 1);
	ASSERT_OK(memlab_anon_vma(m, vi.anon_vma_id, &ai));
	ASSERT_EQ(ai.id, vi.anon_vma_id);
	ASSERT_EQ(ai.root, ai.id);
	ASSERT_EQ(ai.num_children, 1);
	ASSERT_EQ(ai.num_active_vmas, 1);
	ASSERT_EQ(ai.chains, 1);
	ASSERT_EQ(memlab_anon_vma(m, vi.anon_vma_id + 1000, &ai), -MEMLAB_ENOENT);
	ASSERT_EQ(memlab_anon_vma(m, vi.anon_vma_id, NULL), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_anon_vma(NULL, vi.anon_vma_id, &ai), -MEMLAB_EINVAL);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

TEST(spawn_exit_leaves_free_count)
{
	memlab_machine *m = x86_nopcp();
	memlab_task *t;
	uint64_t free0;

	ASSERT(m);
	free0 = free_pages(m) - 15 - 8;
	for (int i = 0; i < 3; i++) {
		t = spawn(m);
		ASSERT(t);
		ASSERT_OK(map(t, 0, 600, RW, ANON));
		ASSERT_EQ(read_is_zero(t, A(0), 600 * PG), 1);
		ASSERT_EQ(rss(t), 0);
		ASSERT_EQ(mm_of(t).pgtables_bytes, 4 * PG);	/* PUD, PMD, 2 PTE tables */
		ASSERT(free_pages(m) < free0);
		memlab_task_exit(t);
		ASSERT_EQ(free_pages(m), free0);
	}
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* hiwater_rss: the peak, kept through munmap; VmHWM shows max(peak, now). */
TEST(hiwater_rss_keeps_peak)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);

	ASSERT(t);
	ASSERT_OK(map(t, 0, 10, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 10 * PG, 1), 0);
	ASSERT_EQ(proc_kb(m, t, "VmHWM"), 40);
	ASSERT_OK(memlab_munmap(t, A(0), 6 * PG));
	ASSERT_EQ(mm_of(t).hiwater_rss, 10);
	ASSERT_EQ(proc_kb(m, t, "VmHWM"), 40);
	ASSERT_EQ(proc_kb(m, t, "VmRSS"), 16);
	ASSERT_OK(map(t, 20, 3, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(20), 3 * PG, 1), 0);
	ASSERT_EQ(mm_of(t).hiwater_rss, 10);
	ASSERT_EQ(proc_kb(m, t, "VmHWM"), 40);
	ASSERT_OK(map(t, 30, 10, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(30), 10 * PG, 1), 0);
	ASSERT_EQ(proc_kb(m, t, "VmHWM"), 17 * 4);	/* 4 + 3 + 10 now */
	ASSERT_OK(memlab_munmap(t, A(30), 10 * PG));
	ASSERT_EQ(mm_of(t).hiwater_rss, 17);
	ASSERT_EQ(proc_kb(m, t, "VmHWM"), 17 * 4);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 5. mremap ===================== */

/*
** mremap(MAYMOVE) growing a mapping that cannot grow in place moves its
** entries: the same frames at the new address, the old range unmapped.
*/
TEST(mremap_maymove_carries_data)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t pfns[4], out = 0, rss0;
	struct memlab_rmap_entry e[2];
	struct memlab_mm_info before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 4, RW, ANON));
	ASSERT_OK(map(t, 4, 1, RO, ANON));		/* in the way */
	ASSERT_EQ(write_pattern(t, A(0), 3 * PG, 20), 0);
	ASSERT_EQ(touch(t, A(3), 'r'), 0);		/* a zero-page entry moves too */
	for (unsigned i = 0; i < 4; i++)
		pfns[i] = pfn_of(t, A(i));
	rss0 = rss(t);
	ASSERT_OK(memlab_mremap(t, A(0), 4 * PG, 8 * PG, MEMLAB_MREMAP_MAYMOVE, 0, &out));
	ASSERT(out != A(0));
	before = mm_of(t);
	ASSERT_EQ(rss(t), rss0);
	for (unsigned i = 0; i < 4; i++)
		ASSERT_EQ(pfn_of(t, out + i * PG), pfns[i]);
	ASSERT_EQ(read_matches(t, out, 3 * PG, A(0), 20), 1);	/* the old address's bytes */
	ASSERT_EQ(read_is_zero(t, out + 3 * PG, 5 * PG), 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 4);	/* only the 4 new pages faulted */
	ASSERT_EQ(sig(t, A(0), 1, 'r'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(sig(t, A(3), 1, 'r'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(rmap(m, pfns[1], e, 2), 1);
	ASSERT_EQ(e[0].addr, out + PG);
	ASSERT_EQ(e[0].pid, memlab_task_pid(t));
	/* the moved page is still exclusive: written in place */
	ASSERT_EQ(write_pattern(t, out, PG, 21), 0);
	ASSERT_EQ(pfn_of(t, out), pfns[0]);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 4);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

TEST(mremap_fixed_carries_data)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t pfn, out = 0;
	struct memlab_rmap_entry e[2];

	ASSERT(t);
	ASSERT_OK(map(t, 0, 3, RW, ANON));
	ASSERT_OK(map(t, 600, 2, RW, ANON));		/* replaced by the move */
	ASSERT_EQ(write_pattern(t, A(600), 2 * PG, 22), 0);
	ASSERT_EQ(write_pattern(t, A(0), 3 * PG, 23), 0);
	pfn = pfn_of(t, A(2));
	ASSERT_OK(memlab_mremap(t, A(0), 3 * PG, 3 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(600), &out));
	ASSERT_EQ(out, A(600));
	ASSERT_EQ(rss(t), 3);				/* the two replaced pages are gone */
	ASSERT_EQ(read_matches(t, A(600), 3 * PG, A(0), 23), 1);
	ASSERT_EQ(pfn_of(t, A(602)), pfn);
	ASSERT_EQ(sig(t, A(1), 1, 'w'), MEMLAB_SEGV_MAPERR);
	ASSERT_EQ(rmap(m, pfn, e, 2), 1);
	ASSERT_EQ(e[0].addr, A(602));
	/* and shrinking while moving */
	ASSERT_OK(memlab_mremap(t, A(600), 3 * PG, PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, A(1000), &out));
	ASSERT_EQ(out, A(1000));
	ASSERT_EQ(rss(t), 1);
	ASSERT_EQ(read_matches(t, A(1000), PG, A(0), 23), 1);
	ASSERT_EQ(rmap(m, pfn, NULL, 0), 0);		/* freed with the tail */
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** MREMAP_DONTUNMAP: the entries move, the old VMA stays empty: a read there
** maps a fresh zero page, a write a new zeroed page.
*/
TEST(mremap_dontunmap)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t pfn, out = 0;
	struct memlab_rmap_entry e[2];
	struct memlab_mm_info before;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 2, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 2 * PG, 24), 0);
	pfn = pfn_of(t, A(1));
	ASSERT_OK(memlab_mremap(t, A(0), 2 * PG, 2 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_DONTUNMAP, 0, &out));
	ASSERT(out != A(0));
	ASSERT_EQ(rss(t), 2);
	ASSERT_EQ(walk(t, A(0)).present, 0);
	ASSERT_EQ(walk(t, A(1)).present, 0);
	before = mm_of(t);
	ASSERT_EQ(read_matches(t, out, 2 * PG, A(0), 24), 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt);
	ASSERT_EQ(read_is_zero(t, A(0), 2 * PG), 1);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 2);
	ASSERT_EQ(pfn_of(t, A(1)), zero_pfn(m));
	ASSERT_EQ(rss(t), 2);
	ASSERT_EQ(rmap(m, pfn, e, 2), 1);
	ASSERT_EQ(e[0].addr, out + PG);
	ASSERT_EQ(write_pattern(t, A(1), PG, 25), 0);
	ASSERT_EQ(rss(t), 3);
	ASSERT_EQ(read_matches(t, out + PG, PG, A(1), 24), 1);	/* untouched by the write */
	ASSERT_CHECK(m);
	/* both unmapped: everything goes */
	ASSERT_OK(memlab_munmap(t, A(0), 2 * PG));
	ASSERT_OK(memlab_munmap(t, out, 2 * PG));
	ASSERT_EQ(rss(t), 0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 6. MAP_POPULATE ===================== */

TEST(populate_private_writable)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before;
	uint64_t pgfault;

	ASSERT(t);
	before = mm_of(t);
	pgfault = vmstat(m, "pgfault");
	ASSERT_OK(map(t, 0, 100, RW, ANON | POPULATE));
	ASSERT_EQ(mm_of(t).rss_anon, 100);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 100);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 100);
	for (unsigned i = 0; i < 100; i++) {
		struct memlab_walk w = walk(t, A(i));

		ASSERT_EQ(w.write, 1);
		ASSERT_EQ(w.dirty, 1);
		ASSERT_EQ(w.special, 0);
	}
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 400);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Dirty"), 400);
	/* no fault to use it */
	ASSERT_EQ(write_pattern(t, A(0), 100 * PG, 30), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 100);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

TEST(populate_read_only_maps_zero_pages)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info before;

	ASSERT(t);
	before = mm_of(t);
	ASSERT_OK(map(t, 0, 50, RO, ANON | POPULATE));
	ASSERT_EQ(rss(t), 0);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 50);
	for (unsigned i = 0; i < 50; i++)
		ASSERT_EQ(pfn_of(t, A(i)), zero_pfn(m));
	/* PROT_NONE populates nothing */
	ASSERT_OK(map(t, 60, 10, NONE, ANON | POPULATE));
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 50);
	ASSERT_EQ(walk(t, A(60)).protnone, 0);
	ASSERT_EQ(walk(t, A(60)).levels, 4);
	/* rw shared: read faults, shmem pages */
	ASSERT_OK(map(t, 80, 10, RW, SHANON | POPULATE));
	ASSERT_EQ(mm_of(t).rss_shmem, 10);
	ASSERT_EQ(mm_of(t).min_flt, before.min_flt + 60);
	ASSERT_EQ(walk(t, A(80)).write, 1);
	ASSERT_EQ(walk(t, A(80)).dirty, 0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 7. file mappings ===================== */

/*
** Cache the first pages of f, as another process reading the file would:
** a helper task maps it with MAP_POPULATE and exits.  Returns 0.
*/
static int precache(memlab_machine *m, memlab_file *f, unsigned pages)
{
	memlab_task *u = spawn(m);
	uint64_t out;
	int err;

	if (!u)
		return -1;
	err = memlab_mmap(u, A(0), (uint64_t)pages * PG, RO,
			  MEMLAB_MAP_PRIVATE | FIXED | POPULATE, f, 0, &out);
	memlab_task_exit(u);
	return err;
}

/*
** A read fault on a page that is not cached is major: filemap_fault reads
** it and reads around it, 32 pages (read_ahead_kb 128) centred on it,
** clipped to the file.  A read of a cached neighbour is minor and maps the
** cached pages of its 16-page window (fault_around_bytes 64K).
*/
TEST(file_read_fault_major_read_around)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;
	uint64_t cache0, pgmaj, pgfault, pgpgin, rss0;
	struct memlab_mm_info mi;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/data/big", 100 * PG, 0, &f));
	/* the VMA at page 0 of the region: addresses and file pages agree modulo 16 */
	ASSERT_OK(map_file(t, 0, 100, RO, MEMLAB_MAP_PRIVATE, f, 0));
	cache0 = vmstat(m, "nr_file_pages");
	pgmaj = vmstat(m, "pgmajfault");
	pgfault = vmstat(m, "pgfault");
	pgpgin = vmstat(m, "pgpgin");
	ASSERT_EQ(read_is_zero(t, A(40), PG), 1);
	mi = mm_of(t);
	ASSERT_EQ(mi.maj_flt, 1);
	ASSERT_EQ(mi.min_flt, 0);
	ASSERT_EQ(vmstat(m, "pgmajfault"), pgmaj + 1);
	ASSERT_EQ(vmstat(m, "pgfault"), pgfault + 1);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0 + 32);	/* pages 24..55 */
	ASSERT_EQ(vmstat(m, "pgpgin"), pgpgin);	/* a sparse file: its holes are zeroed, not read */
	ASSERT_EQ(mi.rss_file, 16);		/* the retry's fault-around: 32..47 */
	ASSERT_EQ(mi.rss_anon, 0);
	ASSERT_EQ(walk(t, A(40)).present, 1);
	ASSERT_EQ(walk(t, A(40)).write, 0);
	ASSERT_EQ(walk(t, A(40)).special, 0);
	ASSERT_EQ(walk(t, A(40)).dirty, 0);

	/*
	 * A cached neighbour in another window: minor; window 16..31, of
	 * which 24..31 are cached.  (Not the window 48..63: the read-around
	 * marked page 48, the first of its 8-page async tail, PG_readahead,
	 * and fault-around leaves it to a fault of its own, which reads the
	 * next window: tests/lua/test_readahead.lua.)
	 */
	rss0 = mi.rss_file;
	ASSERT_EQ(read_is_zero(t, A(30), 1), 1);
	mi = mm_of(t);
	ASSERT_EQ(mi.maj_flt, 1);
	ASSERT_EQ(mi.min_flt, 1);
	ASSERT_EQ(mi.rss_file, rss0 + 8);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0 + 32);
	ASSERT_EQ(vmstat(m, "pgmajfault"), pgmaj + 1);
	for (unsigned i = 24; i < 32; i++)
		ASSERT_EQ(walk(t, A(i)).present, 1);
	for (unsigned i = 16; i < 24; i++)
		ASSERT_EQ(walk(t, A(i)).present, 0);
	/* no fault for those */
	ASSERT_EQ(read_is_zero(t, A(24), 8 * PG), 1);
	ASSERT_EQ(mm_of(t).min_flt, 1);
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), (int64_t)mi.rss_file * 4);
	ASSERT_EQ(smaps_kb(t, A(0), "Anonymous"), 0);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Clean"), (int64_t)mi.rss_file * 4);
	ASSERT_EQ(proc_kb(m, t, "RssFile"), (int64_t)mi.rss_file * 4);
	ASSERT_EQ(vmstat(m, "nr_mapped"), mi.rss_file);

	/* near the end of the file: read-around clipped at EOF (83..99) */
	ASSERT_EQ(read_is_zero(t, A(99), PG), 1);
	ASSERT_EQ(mm_of(t).maj_flt, 2);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0 + 32 + 17);
	/* at the start: 0..31, of which 0..23 are new */
	ASSERT_EQ(read_is_zero(t, A(0), PG), 1);
	ASSERT_EQ(mm_of(t).maj_flt, 3);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0 + 32 + 17 + 24);
	ASSERT_EQ(vmstat(m, "pgmajfault"), pgmaj + 3);
	ASSERT_EQ(vmstat(m, "pgpgin"), pgpgin);
	/* the file's bytes: a file never written reads as zeroes */
	ASSERT_EQ(read_is_zero(t, A(0), 100 * PG), 1);
	ASSERT_EQ(mm_of(t).rss_file, 100);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* Fault-around stays inside the VMA and the file. */
TEST(file_fault_around_within_vma)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/data/fa", 60 * PG, 0, &f));
	ASSERT_OK(precache(m, f, 60));
	/* file pages 16..35 at region pages 16..35, split in three by mprotect */
	ASSERT_OK(map_file(t, 16, 20, RO, MEMLAB_MAP_PRIVATE, f, 16));
	ASSERT_OK(memlab_mprotect(t, A(20), 4 * PG, RWX));	/* [20, 24) */
	ASSERT_EQ(read_is_zero(t, A(21), 1), 1);		/* window 16..31: 20..23 */
	ASSERT_EQ(mm_of(t).maj_flt, 0);
	ASSERT_EQ(mm_of(t).min_flt, 1);
	ASSERT_EQ(mm_of(t).rss_file, 4);
	ASSERT_EQ(smaps_kb(t, A(20), "Rss"), 16);
	ASSERT_EQ(smaps_kb(t, A(16), "Rss"), 0);
	ASSERT_EQ(smaps_kb(t, A(24), "Rss"), 0);
	ASSERT_EQ(walk(t, A(20)).exec, 1);
	ASSERT_EQ(read_is_zero(t, A(17), 1), 1);		/* 16..19 */
	ASSERT_EQ(mm_of(t).rss_file, 8);
	ASSERT_EQ(smaps_kb(t, A(16), "Rss"), 16);
	ASSERT_EQ(walk(t, A(16)).exec, 0);
	ASSERT_EQ(read_is_zero(t, A(33), 1), 1);		/* window 32..47: 32..35 */
	ASSERT_EQ(mm_of(t).rss_file, 12);
	ASSERT_EQ(read_is_zero(t, A(25), 1), 1);		/* 24..31 */
	ASSERT_EQ(mm_of(t).rss_file, 20);
	ASSERT_EQ(smaps_kb(t, A(24), "Rss"), 48);
	ASSERT_EQ(mm_of(t).min_flt, 4);
	/* the end of the file: file pages 40..59 at region pages 40..79 */
	ASSERT_OK(map_file(t, 40, 40, RO, MEMLAB_MAP_PRIVATE, f, 40));
	ASSERT_EQ(read_is_zero(t, A(58), 1), 1);		/* window 48..63: 48..59 */
	ASSERT_EQ(smaps_kb(t, A(40), "Rss"), 12 * 4);
	ASSERT_EQ(sig(t, A(60), 1, 'r'), MEMLAB_BUS_ADRERR);
	ASSERT_EQ(mm_of(t).rss_file, 32);
	ASSERT_EQ(mm_of(t).maj_flt, 0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** A write to a MAP_PRIVATE file mapping copies the page into an anonymous
** page (do_cow_fault, or wp_page_copy of a mapped file page); the page
** cache's page keeps the file's bytes.
*/
TEST(file_private_write_copies)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;
	uint64_t cache_pfn, anon_pfn, dirty0;
	struct memlab_mm_info mi;
	uint8_t b = 0x42;
	int code;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/data/priv", 16 * PG, 1, &f));
	ASSERT_OK(map_file(t, 0, 16, RW, MEMLAB_MAP_SHARED, f, 0));
	ASSERT_EQ(write_pattern(t, A(0), 16 * PG, 40), 0);	/* the file's contents */
	ASSERT_OK(map_file(t, 32, 16, RW, MEMLAB_MAP_PRIVATE, f, 0));
	dirty0 = vmstat(m, "nr_dirty");
	mi = mm_of(t);
	/* a first write to a private page: do_cow_fault, minor (cached) */
	code = 0;
	ASSERT_OK(memlab_access(t, A(33) + 5, 1, 'w', &b, &code));
	ASSERT_EQ(mm_of(t).rss_anon, mi.rss_anon + 1);
	ASSERT_EQ(mm_of(t).rss_file, mi.rss_file);
	ASSERT_EQ(mm_of(t).min_flt, mi.min_flt + 1);
	ASSERT_EQ(vmstat(m, "nr_dirty"), dirty0);
	anon_pfn = pfn_of(t, A(33));
	cache_pfn = pfn_of(t, A(1));
	ASSERT(anon_pfn != cache_pfn);
	ASSERT_EQ(walk(t, A(33)).write, 1);
	ASSERT_EQ(walk(t, A(33)).dirty, 1);
	/* the copy has the file's bytes and the new one */
	{
		uint8_t buf[PG];

		ASSERT_OK(memlab_read_phys(m, anon_pfn * PG, buf, PG));
		for (unsigned i = 0; i < PG; i++)
			ASSERT_EQ(buf[i], i == 5 ? 0x42 : pat(A(1) + i, 40));
	}
	ASSERT_EQ(read_is_pattern(t, A(1), PG, 40), 1);		/* the cache page is unchanged */
	/* a read first maps the cache page; the write then copies it */
	ASSERT_EQ(read_matches(t, A(40), PG, A(8), 40), 1);
	ASSERT_EQ(walk(t, A(40)).pfn, pfn_of(t, A(8)));
	mi = mm_of(t);
	ASSERT_EQ(sig(t, A(40), 1, 'w'), 0);
	ASSERT_EQ(mm_of(t).rss_anon, mi.rss_anon + 1);
	ASSERT_EQ(mm_of(t).rss_file, mi.rss_file - 1);
	ASSERT_EQ(mm_of(t).min_flt, mi.min_flt + 1);
	ASSERT(pfn_of(t, A(40)) != pfn_of(t, A(8)));
	ASSERT_EQ(rmap(m, pfn_of(t, A(8)), NULL, 0), 1);	/* only the shared mapping now */
	ASSERT_EQ(smaps_kb(t, A(32), "Anonymous"), 8);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** A write to a MAP_SHARED mapping of a writable file dirties the page
** cache page (nr_dirty + 1) and every other mapping of the file sees it.
*/
TEST(file_shared_write_dirties_and_is_seen)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m), *u = spawn(m);
	memlab_file *f = NULL;
	uint64_t dirty0, dirtied0, out;
	struct memlab_walk w;
	struct memlab_rmap_entry e[4];
	size_t n;

	ASSERT(t && u);
	ASSERT_OK(memlab_file_create(m, "/data/shared", 8 * PG, 1, &f));
	ASSERT_OK(map_file(t, 0, 8, RW, MEMLAB_MAP_SHARED, f, 0));
	ASSERT_OK(memlab_mmap(u, A(100), 8 * PG, RO, MEMLAB_MAP_SHARED | FIXED | POPULATE, f, 0, &out));
	ASSERT_EQ(mm_of(u).rss_file, 8);
	dirty0 = vmstat(m, "nr_dirty");
	dirtied0 = vmstat(m, "nr_dirtied");
	/* a read maps the page read-only and clean: ext4 wants write notification */
	ASSERT_EQ(read_is_zero(t, A(2), 1), 1);
	ASSERT_OK(memlab_translate(t, A(2), &w));
	ASSERT_EQ(w.write, 0);
	ASSERT_EQ(w.dirty, 0);
	ASSERT_EQ(vmstat(m, "nr_dirty"), dirty0);
	ASSERT_EQ(write_pattern(t, A(2) + 100, 50, 50), 0);
	ASSERT_OK(memlab_translate(t, A(2), &w));
	ASSERT_EQ(w.write, 1);
	ASSERT_EQ(w.dirty, 1);
	ASSERT_EQ(vmstat(m, "nr_dirty"), dirty0 + 1);
	ASSERT_EQ(vmstat(m, "nr_dirtied"), dirtied0 + 1);
	ASSERT_EQ(mm_of(t).rss_anon, 0);
	/*
	 * The read's fault-around mapped the cached file but page 0: u's
	 * first fault read the 8 pages with a read-around window of 32 whose
	 * async tail (8 pages) starts at page 0 -- clipped to the file, the
	 * window leaves page 0 PG_readahead, and fault-around leaves a marked
	 * page to its own fault.
	 */
	ASSERT_EQ(mm_of(t).rss_file, 7);
	/* the other task sees the bytes */
	ASSERT_EQ(read_matches(u, A(102) + 100, 50, A(2) + 100, 50), 1);
	ASSERT_EQ(pfn_of(u, A(102)), w.pfn);
	n = rmap(m, w.pfn, e, 4);
	ASSERT_EQ(n, 2);
	ASSERT((e[0].pid == memlab_task_pid(t) && e[0].addr == A(2) && e[1].pid == memlab_task_pid(u) &&
		e[1].addr == A(102)) ||
	       (e[1].pid == memlab_task_pid(t) && e[1].addr == A(2) && e[0].pid == memlab_task_pid(u) &&
		e[0].addr == A(102)));
	/* a first write to a page not yet mapped dirties it at once (do_shared_fault) */
	ASSERT_OK(memlab_munmap(t, A(0), 8 * PG));
	ASSERT_OK(map_file(t, 0, 8, RW, MEMLAB_MAP_SHARED, f, 0));
	ASSERT_EQ(write_pattern(t, A(5), 10, 51), 0);
	ASSERT_EQ(vmstat(m, "nr_dirty"), dirty0 + 2);
	ASSERT_EQ(read_matches(u, A(105), 10, A(5), 51), 1);
	/* munmap keeps the bytes in the cache: a new mapping sees them */
	ASSERT_OK(memlab_munmap(t, A(0), 8 * PG));
	ASSERT_OK(map_file(t, 200, 8, RO, MEMLAB_MAP_PRIVATE, f, 0));
	ASSERT_EQ(read_matches(t, A(205), 10, A(5), 51), 1);
	ASSERT_EQ(read_matches(t, A(202) + 100, 50, A(2) + 100, 50), 1);
	ASSERT_EQ(smaps_kb(u, A(100), "Shared_Dirty") + smaps_kb(u, A(100), "Private_Dirty"), 8);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* MAP_SHARED|MAP_ANONYMOUS is shmem: RssShmem, nr_shmem, Shmem in meminfo. */
TEST(shmem_anonymous_shared)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t shmem0, cache0, out;
	struct memlab_mm_info mi;
	int64_t meminfo_shmem0;

	ASSERT(t);
	shmem0 = vmstat(m, "nr_shmem");
	cache0 = vmstat(m, "nr_file_pages");
	meminfo_shmem0 = proc_kb(m, NULL, "Shmem");
	ASSERT_OK(map(t, 0, 8, RW, SHANON));
	ASSERT_EQ(write_pattern(t, A(0), 3 * PG, 60), 0);
	ASSERT_EQ(read_is_zero(t, A(5), PG), 1);	/* a read allocates too: no zero page for shmem */
	mi = mm_of(t);
	ASSERT_EQ(mi.rss_shmem, 4);
	ASSERT_EQ(mi.rss_anon, 0);
	ASSERT_EQ(mi.rss_file, 0);
	ASSERT_EQ(mi.min_flt, 4);
	ASSERT_EQ(mi.maj_flt, 0);
	ASSERT(pfn_of(t, A(5)) != zero_pfn(m));
	ASSERT_EQ(walk(t, A(5)).write, 1);	/* shmem needs no write notification */
	ASSERT_EQ(walk(t, A(5)).dirty, 0);
	ASSERT_EQ(vmstat(m, "nr_shmem"), shmem0 + 4);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0 + 4);
	ASSERT_EQ(proc_kb(m, NULL, "Shmem"), meminfo_shmem0 + 16);
	ASSERT_EQ(proc_kb(m, t, "RssShmem"), 16);
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 16);
	ASSERT_EQ(smaps_kb(t, A(0), "Anonymous"), 0);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Dirty"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Clean"), 4);
	ASSERT_EQ(vmstat(m, "nr_dirty"), 0);		/* shmem dirtiness is not accounted */
	/* a write through the read-faulted entry: no fault (writable already) */
	ASSERT_EQ(write_pattern(t, A(5), PG, 61), 0);
	ASSERT_EQ(mm_of(t).min_flt, 4);
	/* mremap keeps the object: the data follows */
	ASSERT_OK(memlab_mremap(t, A(0), 8 * PG, 8 * PG, MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED,
				A(50), &out));
	ASSERT_EQ(read_matches(t, A(50), 3 * PG, A(0), 60), 1);
	ASSERT_EQ(read_matches(t, A(55), PG, A(5), 61), 1);
	ASSERT_EQ(mm_of(t).rss_shmem, 4);
	/* past the object's end after growing in place: SIGBUS */
	ASSERT_OK(memlab_mremap(t, A(50), 8 * PG, 10 * PG, 0, 0, &out));
	ASSERT_EQ(sig(t, A(58), 1, 'r'), MEMLAB_BUS_ADRERR);
	ASSERT_OK(memlab_munmap(t, A(50), 10 * PG));
	ASSERT_EQ(vmstat(m, "nr_shmem"), shmem0);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), cache0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 8. smaps and status ===================== */

TEST(smaps_follow_page_tables)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_mm_info mi;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 10, RW, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 3 * PG, 70), 0);	/* 3 anon pages */
	ASSERT_EQ(read_is_zero(t, A(5), 2 * PG), 1);		/* 2 zero pages */
	ASSERT_EQ(smaps_kb(t, A(0), "Size"), 40);
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "Pss"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "Pss_Dirty"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "Anonymous"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Dirty"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Clean"), 0);
	ASSERT_EQ(smaps_kb(t, A(0), "Shared_Dirty"), 0);
	ASSERT_EQ(smaps_kb(t, A(0), "Referenced"), 12);
	ASSERT_EQ(smaps_kb(t, A(0), "LazyFree"), 0);
	/* PROT_NONE entries still count */
	ASSERT_OK(memlab_mprotect(t, A(0), 2 * PG, NONE));
	ASSERT_EQ(smaps_kb(t, A(0), "Rss"), 8);
	ASSERT_EQ(smaps_kb(t, A(2), "Rss"), 4);
	ASSERT_EQ(smaps_kb(t, A(0), "Private_Dirty"), 8);
	/* rollup and status agree with the counters */
	mi = mm_of(t);
	ASSERT_EQ(proc_kb(m, t, "VmRSS"), (int64_t)(mi.rss_anon + mi.rss_file + mi.rss_shmem) * 4);
	ASSERT_EQ(proc_kb(m, t, "RssAnon"), (int64_t)mi.rss_anon * 4);
	ASSERT_EQ(proc_kb(m, t, "RssFile"), (int64_t)mi.rss_file * 4);
	ASSERT_EQ(proc_kb(m, t, "RssShmem"), (int64_t)mi.rss_shmem * 4);
	ASSERT_EQ(proc_kb(m, t, "VmPTE"), (int64_t)(mi.pgtables_bytes >> 10));
	ASSERT_EQ(mi.rss_anon, 3);
	{
		char *text = proc_text(m, t, "smaps_rollup");

		ASSERT(text);
		ASSERT_EQ(field_kb(text, "Rss"), 12);
		ASSERT_EQ(field_kb(text, "Anonymous"), 12);
		ASSERT_EQ(field_kb(text, "Pss_Anon"), 12);
		memlab_free_text(m, text);
	}
	{
		char *text = proc_text(m, t, "statm");
		unsigned long long size, res, shared;

		ASSERT(text);
		ASSERT_EQ(sscanf(text, "%llu %llu %llu", &size, &res, &shared), 3);
		memlab_free_text(m, text);
		ASSERT_EQ(res, 3);
		ASSERT_EQ(shared, 0);
	}
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* ===================== 9. rmap and memlab_check ===================== */

TEST(rmap_lists_every_mapping)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m), *u = spawn(m);
	memlab_file *f = NULL;
	struct memlab_rmap_entry e[8];
	uint64_t pfn, out;
	size_t n;
	int seen_t0 = 0, seen_t1 = 0, seen_u = 0;

	ASSERT(t && u);
	ASSERT_OK(memlab_file_create(m, "/data/rmap", 4 * PG, 0, &f));
	ASSERT_OK(map_file(t, 0, 4, RO, MEMLAB_MAP_SHARED, f, 0));
	ASSERT_OK(map_file(t, 10, 2, RO, MEMLAB_MAP_PRIVATE, f, 2));	/* file page 3 at A(11) */
	ASSERT_OK(memlab_mmap(u, A(20), 4 * PG, RO, MEMLAB_MAP_SHARED | FIXED, f, 0, &out));
	ASSERT_EQ(read_is_zero(t, A(0), 4 * PG), 1);
	ASSERT_EQ(read_is_zero(t, A(11), 1), 1);
	ASSERT_EQ(read_is_zero(u, A(23), 1), 1);
	pfn = pfn_of(t, A(3));
	ASSERT_EQ(pfn_of(t, A(11)), pfn);
	ASSERT_EQ(pfn_of(u, A(23)), pfn);
	n = rmap(m, pfn, e, 8);
	ASSERT_EQ(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (e[i].pid == memlab_task_pid(t) && e[i].addr == A(3))
			seen_t0++;
		else if (e[i].pid == memlab_task_pid(t) && e[i].addr == A(11))
			seen_t1++;
		else if (e[i].pid == memlab_task_pid(u) && e[i].addr == A(23))
			seen_u++;
	}
	ASSERT(seen_t0 == 1 && seen_t1 == 1 && seen_u == 1);
	ASSERT_EQ(rmap(m, pfn, e, 1), 3);	/* the count, whatever fits */
	ASSERT_EQ(smaps_kb(t, A(0), "Shared_Clean"), 16);	/* mapcount 3 for page 3; 2 for the others */
	/* out of range and free frames map nothing */
	ASSERT_EQ(rmap(m, minfo(m).nr_frames, e, 8), 0);
	ASSERT_EQ(rmap(m, UINT64_MAX, e, 8), 0);
	ASSERT_EQ(rmap(m, 0, e, 8), 0);
	/* after munmap of one mapping: two left */
	ASSERT_OK(memlab_munmap(t, A(10), 2 * PG));
	ASSERT_EQ(rmap(m, pfn, e, 8), 2);
	memlab_task_exit(u);
	ASSERT_EQ(rmap(m, pfn, e, 8), 1);
	ASSERT_EQ(e[0].addr, A(3));
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/*
** memlab_check() catches a corrupt entry: a bit flipped in a PTE (found
** through translate: the last table's frame, the index of va) is a
** violation; restored, the machine is consistent again.
*/
static int flip_is_caught(memlab_machine *m, memlab_task *t, uint64_t va, uint64_t bit)
{
	uint64_t pa = pte_paddr(t, va), e = read_u64_phys(m, pa);
	int n;

	write_u64_phys(m, pa, e ^ bit);
	n = memlab_check(m, NULL, NULL);
	write_u64_phys(m, pa, e);
	return n > 0 && memlab_check(m, NULL, NULL) == 0;
}

TEST(check_catches_pte_corruption)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t pa, e;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 4, RW, ANON));
	ASSERT_OK(map(t, 4, 1, RO, ANON));
	ASSERT_EQ(write_pattern(t, A(0), 2 * PG, 80), 0);
	ASSERT_EQ(touch(t, A(2), 'r'), 0);
	ASSERT_EQ(touch(t, A(4), 'r'), 0);
	ASSERT_CHECK(m);
	pa = pte_paddr(t, A(1));
	e = read_u64_phys(m, pa);
	ASSERT_EQ(e, walk(t, A(1)).entry[3]);
	ASSERT_EQ(pa % 8, 0);
	ASSERT_EQ((pa >> 12), walk(t, A(1)).table_pfn[3]);
	ASSERT(flip_is_caught(m, t, A(1), 1ull << 12));	/* another frame */
	ASSERT(flip_is_caught(m, t, A(1), 1ull << 20));
	ASSERT(flip_is_caught(m, t, A(1), 1ull << 0));	/* present: none, not protnone */
	ASSERT(flip_is_caught(m, t, A(1), 1ull << 9));	/* special */
	ASSERT(flip_is_caught(m, t, A(2), 1ull << 1));	/* the zero page writable */
	ASSERT(flip_is_caught(m, t, A(2), 1ull << 13));	/* a zero-page entry for another frame */
	ASSERT(flip_is_caught(m, t, A(4), 1ull << 1));	/* writable in a read-only VMA */
	ASSERT(flip_is_caught(m, t, A(3), 1ull << 0 | 1ull << 12));	/* an entry where none was */
	ASSERT(flip_is_caught(m, t, A(1), 1ull << 8 | 1ull << 0));	/* protnone in a rw VMA */
	/* a table entry pointing outside RAM */
	{
		struct memlab_walk w = walk(t, A(1));
		uint64_t pmd_pa = w.table_pfn[2] * PG + ((A(1) >> 21) & 511) * 8;
		uint64_t pmd = read_u64_phys(m, pmd_pa);

		ASSERT_EQ(pmd, w.entry[2]);
		write_u64_phys(m, pmd_pa, pmd | (1ull << 40));
		ASSERT(memlab_check(m, NULL, NULL) > 0);
		write_u64_phys(m, pmd_pa, pmd);
	}
	ASSERT_CHECK(m);
	ASSERT_EQ(read_is_pattern(t, A(0), 2 * PG, 80), 1);
	ASSERT_NO_REPORTS();
}

/* The page-table dump: one line per leaf, in Linux's terms. */
TEST(pagetable_dump)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	struct memlab_walk w;
	char *text = NULL, want[256];
	size_t len = 0;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 4, RW, ANON));
	ASSERT_EQ(touch(t, A(1), 'w'), 0);
	ASSERT_EQ(touch(t, A(2), 'r'), 0);
	ASSERT_OK(memlab_pagetable_dump(t, A(0), A(4), &text, &len));
	ASSERT(text);
	ASSERT_EQ(strlen(text), len);
	w = walk(t, A(1));
	snprintf(want, sizeof(want),
		 "%016" PRIx64 "-%016" PRIx64 " PTE pa %#" PRIx64 " flags P RW US A D NX tables "
		 "PGD:%#" PRIx64 " PUD:%#" PRIx64 " PMD:%#" PRIx64 " PTE:%#" PRIx64 "\n",
		 A(1), A(2), w.pfn * PG, w.table_pfn[0], w.table_pfn[1], w.table_pfn[2],
		 w.table_pfn[3]);
	ASSERT(strncmp(text, want, strlen(want)) == 0);
	snprintf(want, sizeof(want),
		 "%016" PRIx64 "-%016" PRIx64 " PTE pa %#" PRIx64 " flags P US A SPECIAL NX tables ",
		 A(2), A(3), zero_pfn(m) * PG);
	ASSERT(strstr(text, want) != NULL);
	/* two lines, nothing else */
	{
		int lines = 0;

		for (const char *p = text; *p; p++)
			lines += *p == '\n';
		ASSERT_EQ(lines, 2);
	}
	memlab_free_text(m, text);
	ASSERT_OK(memlab_pagetable_dump(t, A(2), A(3), &text, &len));
	ASSERT(strstr(text, "SPECIAL") && !strstr(text, " RW "));
	memlab_free_text(m, text);
	/* a va outside the tables: EINVAL */
	ASSERT_EQ(memlab_translate(t, 1ull << 48, &w), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_translate(t, UINT64_MAX, &w), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_translate(t, (1ull << 48) - 1, &w), -MEMLAB_EFAULT);
	ASSERT_NO_REPORTS();
}

/* ===================== 10. arm64 and LA57 ===================== */

struct arm_case {
	uint32_t page_size, va_bits;
	unsigned levels;
};

static const struct arm_case arm_cases[] = {
	{ 4096, 39, 3 }, { 4096, 48, 4 }, { 16384, 36, 2 }, { 16384, 47, 3 }, { 16384, 48, 4 },
	{ 65536, 42, 2 }, { 65536, 48, 3 },
};

/* One arm64 configuration: zero page, COW, exec, PROT_NONE, munmap and exit give all back. */
static void arm64_case(const struct arm_case *c)
{
	/* 64K pages: MAX_PAGE_ORDER 13, two 512 MiB blocks at least */
	uint64_t ram = c->page_size == 65536 ? 1ull << 30 : 256ull << 20;
	memlab_machine *m = machine_cfg(MEMLAB_ARCH_ARM64, c->page_size, c->va_bits, ram, 1);
	uint64_t ps = c->page_size, base, out = 0, free0, pfn, tables0, slab;
	struct memlab_walk w;
	memlab_task *t;
	char label[64];

	snprintf(label, sizeof(label), "arm64 %uK/%u", c->page_size / 1024, c->va_bits);
	if (!m)
		TEST_FAIL("%s: no machine", label);
	free0 = free_pages(m);
	slab = vmstat(m, "nr_slab_unreclaimable");
	t = spawn(m);
	if (!t)
		TEST_FAIL("%s: no task", label);
	tables0 = mm_of(t).pgtables_bytes;
	/* a quarter of the address space: far from every VMA, aligned to every table's span */
	base = 1ull << (c->va_bits - 2);
	if (memlab_mmap(t, base, 8 * ps, RW, ANON | FIXED, NULL, 0, &out) || out != base)
		TEST_FAIL("%s: mmap", label);
	if (read_is_zero(t, base + ps, 2 * ps) != 1 || mm_of(t).min_flt != 2 || rss(t) != 0)
		TEST_FAIL("%s: the zero page read", label);
	memlab_translate(t, base + ps + 3, &w);
	if (w.levels != c->levels || !w.present || !w.special || w.write || w.pfn != zero_pfn(m) ||
	    w.phys != zero_pfn(m) * ps + 3 || w.leaf_size != ps || !w.user)
		TEST_FAIL("%s: zero-page entry levels %u present %d special %d write %d pfn %" PRIu64,
			  label, w.levels, w.present, w.special, w.write, w.pfn);
	if (strcmp(w.level_name[0], "PGD") || strcmp(w.level_name[w.levels - 1], "PTE"))
		TEST_FAIL("%s: level names %s..%s", label, w.level_name[0], w.level_name[w.levels - 1]);
	if (write_pattern(t, base + ps + 10, ps, 90) != 0 || mm_of(t).min_flt != 4 ||
	    mm_of(t).rss_anon != 2)
		TEST_FAIL("%s: COW (min_flt %" PRIu64 ", rss_anon %" PRIu64 ")", label,
			  mm_of(t).min_flt, mm_of(t).rss_anon);
	memlab_translate(t, base + ps, &w);
	pfn = w.pfn;
	if (!w.write || !w.dirty || w.special || pfn == zero_pfn(m) ||
	    read_is_pattern(t, base + ps + 10, ps, 90) != 1)
		TEST_FAIL("%s: after COW", label);
	if (rmap(m, pfn, NULL, 0) != 1 || memlab_check(m, print_violation, NULL))
		TEST_FAIL("%s: rmap or check", label);
	/* a flipped PTE bit is caught (the output address) */
	if (!flip_is_caught(m, t, base + ps, ps))
		TEST_FAIL("%s: check missed a corrupt PTE", label);
	/* PROT_NONE and back */
	if (memlab_mprotect(t, base, 8 * ps, NONE) ||
	    memlab_translate(t, base + ps, &w) != -MEMLAB_EFAULT ||
	    !w.protnone || w.pfn != pfn || sig(t, base + ps, 1, 'r') != MEMLAB_SEGV_ACCERR)
		TEST_FAIL("%s: PROT_NONE", label);
	if (memlab_mprotect(t, base, 8 * ps, RW) || !walk(t, base + ps).write ||
	    write_pattern(t, base + ps, 8, 91) || mm_of(t).min_flt != 4)
		TEST_FAIL("%s: PROT_NONE -> rw", label);
	/* exec: not executable, then executable */
	if (sig(t, base + ps, 1, 'x') != MEMLAB_SEGV_ACCERR)
		TEST_FAIL("%s: exec of rw-", label);
	if (memlab_mprotect(t, base, 8 * ps, RWX) || sig(t, base + ps, 1, 'x') != 0 ||
	    !walk(t, base + ps).exec)
		TEST_FAIL("%s: exec of rwx", label);
	if (memlab_munmap(t, base, 8 * ps) || rss(t) != 0 || mm_of(t).pgtables_bytes != tables0)
		TEST_FAIL("%s: munmap (pgtables %" PRIu64 " vs %" PRIu64 ")", label,
			  mm_of(t).pgtables_bytes, tables0);
	if (memlab_mmap(t, 0, 64 * ps, RW, ANON | POPULATE, NULL, 0, &out) || mm_of(t).rss_anon != 64)
		TEST_FAIL("%s: populate", label);
	if (memlab_check(m, print_violation, NULL))
		TEST_FAIL("%s: check", label);
	memlab_task_exit(t);
	/*
	 * SLUB keeps the slabs the task's kernel objects came from, the CPU its
	 * kernel stack: the pages they hold stay
	 */
	slab = vmstat(m, "nr_slab_unreclaimable") - slab;
	if (!slab || free_pages(m) + slab + kernel_kept(m) != free0)
		TEST_FAIL("%s: exit leaves %" PRIu64 " free and %" PRIu64 " in slabs, not %" PRIu64,
			  label, free_pages(m), slab, free0);
	if (reports[0])
		TEST_FAIL("%s: reports: %s", label, reports);
}

TEST(arm64_granules)
{
	for (size_t i = 0; i < sizeof(arm_cases) / sizeof(arm_cases[0]); i++) {
		arm64_case(&arm_cases[i]);
		if (test_current_failed)
			return;
		release_all();
	}
}

/* arm64 entries: AF, DBM/RDONLY, the software dirty and special bits. */
TEST(arm64_entry_bits)
{
	memlab_machine *m = machine_cfg(MEMLAB_ARCH_ARM64, 4096, 48, 0, 0);
	memlab_task *t = spawn(m);
	struct memlab_walk w;
	uint64_t zero_e, rw_e;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 3, RW, ANON));
	ASSERT_EQ(touch(t, A(0), 'r'), 0);
	ASSERT_EQ(touch(t, A(1), 'w'), 0);
	ASSERT_OK(memlab_translate(t, A(0), &w));
	zero_e = w.entry[3];
	ASSERT_EQ(zero_e & 3, 3);			/* a page descriptor */
	ASSERT(zero_e & (1ull << 10));			/* AF */
	ASSERT(zero_e & (1ull << 7));			/* AP[2]: read-only */
	ASSERT(zero_e & (1ull << 6));			/* AP[1]: user */
	ASSERT(zero_e & (1ull << 56));			/* software special */
	ASSERT(!(zero_e & (1ull << 51)));		/* no DBM: not writable */
	ASSERT(zero_e & (1ull << 54));			/* UXN */
	ASSERT_EQ((zero_e & 0x0000fffffffff000ull) >> 12, zero_pfn(m));
	ASSERT_OK(memlab_translate(t, A(1), &w));
	rw_e = w.entry[3];
	ASSERT(rw_e & (1ull << 51));			/* DBM: writable */
	ASSERT(!(rw_e & (1ull << 7)));			/* hardware-dirty: not read-only */
	ASSERT(rw_e & (1ull << 55));			/* software dirty */
	ASSERT(!(rw_e & (1ull << 56)));
	ASSERT_EQ(w.write, 1);
	ASSERT_EQ(w.dirty, 1);
	/* PROT_NONE: invalid, with PTE_PRESENT_INVALID (nG) */
	ASSERT_OK(memlab_mprotect(t, A(1), PG, NONE));
	ASSERT_EQ(memlab_translate(t, A(1), &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.entry[3] & 1, 0);
	ASSERT(w.entry[3] & (1ull << 11));
	ASSERT_EQ(w.protnone, 1);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

TEST(x86_la57_five_levels)
{
	memlab_machine *m = machine_cfg(MEMLAB_ARCH_X86_64, 0, 57, 0, 1);
	memlab_task *t;
	struct memlab_walk w;
	uint64_t free0, out;

	ASSERT(m);
	/* the slabs of its kernel objects stay, and its stack cached (exit_frees_everything) */
	free0 = free_pages(m) - 15;
	t = spawn(m);
	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, 1ull << 52, 4 * PG, RW, ANON | FIXED, NULL, 0, &out));
	ASSERT_EQ(out, 1ull << 52);
	ASSERT_EQ(write_pattern(t, out + 100, 2 * PG, 92), 0);
	ASSERT_OK(memlab_translate(t, out, &w));
	ASSERT_EQ(w.levels, 5);
	ASSERT_STREQ(w.level_name[0], "PGD");
	ASSERT_STREQ(w.level_name[1], "P4D");
	ASSERT_STREQ(w.level_name[4], "PTE");
	ASSERT_EQ(mm_of(t).pgtables_bytes, 4 * PG);	/* P4D, PUD, PMD, PTE */
	ASSERT_EQ(read_is_pattern(t, out + 100, 2 * PG, 92), 1);
	ASSERT_EQ(memlab_translate(t, 1ull << 57, &w), -MEMLAB_EINVAL);
	ASSERT_CHECK(m);
	memlab_task_exit(t);
	memlab_lru_add_drain_all(m);	/* exit drains no folio batch */
	ASSERT_EQ(free_pages(m) + kernel_kept(m), free0);
	ASSERT_NO_REPORTS();
}

/* ===================== 11. differences from Linux 6.18 (fixed) ===================== */

/*
** Was a bug (core/filemap.c, do_fault_around; fixed in f36d65d): Linux
** 6.18's do_fault_around() maps fault_around_pages (16) entries starting at
** from_pte = max(ALIGN_DOWN(pte_off, 16), the VMA's first pte) and ending
** at min(from_pte + 16, PTRS_PER_PTE, the VMA's end): when the VMA starts
** inside an aligned 16-page window, the window is shifted, not clipped.
** memlab clips the aligned window to the VMA instead.  Host check (this
** machine, Linux 6.18, ext4): a file mapped at a virtual page 5 pages into
** a 64 KiB-aligned block, all pages cached, a read of its third page leaves
** Rss 64 kB (16 pages); memlab mapped 11.
*/
TEST(fault_around_window_at_unaligned_vma_start)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;
	uint64_t rss_file;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/data/fa2", 64 * PG, 0, &f));
	ASSERT_OK(precache(m, f, 64));
	/* the VMA starts at region page 5 (pte 5 of an aligned 16-page window) */
	ASSERT_OK(map_file(t, 5, 40, RO, MEMLAB_MAP_PRIVATE, f, 5));
	ASSERT_EQ(read_is_zero(t, A(7), 1), 1);		/* cached: minor */
	ASSERT_EQ(mm_of(t).maj_flt, 0);
	ASSERT_EQ(mm_of(t).min_flt, 1);
	rss_file = mm_of(t).rss_file;
	ASSERT_CHECK(m);
	/* Linux maps ptes 5..20 (memlab used to map 5..15) */
	ASSERT_EQ(rss_file, 16);
}

/*
** Was a bug (core/memory.c do_fault / core/filemap.c filemap_fault; fixed
** in f36d65d): on Linux a
** user read fault that has to read the page drops the mmap lock for the
** I/O (maybe_unlock_mmap_for_io) and returns VM_FAULT_RETRY; the retried
** fault (FAULT_FLAG_TRIED, counted as the one major fault) goes through
** do_fault_around() first and maps the freshly read pages of the 16-page
** window.  So after the first, major, fault the window is mapped (RssFile
** 16 here), not just the faulting page.  Host check (Linux 6.18, ext4):
** after posix_fadvise(DONTNEED), a read of page 100 of a 256-page mapping:
** ru_majflt + 1, ru_minflt + 0, Rss 64 kB.  memlab mapped 1 page.  (The
** fault here is at page 104 so that the page read-around marks
** PG_readahead, 104 - 16 + 24 = 112, lies outside the window 96..111:
** fault-around skips such a page.)
*/
TEST(major_fault_maps_fault_around_window)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;
	struct memlab_mm_info mi;

	ASSERT(t);
	ASSERT_OK(memlab_file_create(m, "/data/cold", 256 * PG, 0, &f));
	ASSERT_OK(map_file(t, 0, 256, RO, MEMLAB_MAP_PRIVATE, f, 0));
	ASSERT_EQ(read_is_zero(t, A(104), 1), 1);
	mi = mm_of(t);
	ASSERT_EQ(mi.maj_flt, 1);
	ASSERT_EQ(mi.min_flt, 0);
	ASSERT_EQ(vmstat(m, "pgfault"), 1);
	ASSERT_EQ(vmstat(m, "nr_file_pages"), 32);	/* 88..119 */
	ASSERT_CHECK(m);
	ASSERT_EQ(mi.rss_file, 16);	/* pages 96..111 */
}

/*
** Was a bug (core/filemap.c, do_fault_around; fixed in d0dac1f): Linux's
** set_pte_range() installs
** the entries that fault-around maps besides the faulting address old
** (pte_mkold) when arch_wants_old_prefaulted_pte(), which arm64 says for
** a CPU with hardware access-flag management (cpu_has_hw_af(), the
** FEAT_HAFDBS memlab models: mmu_mark sets AF in hardware).  On arm64 the
** prefaulted entries must lack PTE_AF (smaps: not Referenced) while the
** faulting page's entry has it.  memlab installed all of them young.  (On
** x86-64 they are young: the architecture does not want old prefaults.)
*/
TEST(arm64_fault_around_maps_old_ptes)
{
	memlab_machine *m = machine_cfg(MEMLAB_ARCH_ARM64, 4096, 48, 0, 0);
	memlab_task *t = spawn(m);
	memlab_file *f = NULL;
	int young_prefaulted = 0;

	ASSERT(t);
	static uint8_t buf[16 * 4096];
	uint64_t done;

	ASSERT_OK(memlab_file_create(m, "/data/arm", 16 * PG, 0, &f));
	/* read(2) caches the file: a 32-page window from page 0, no mark within it */
	ASSERT_OK(memlab_file_pread(f, 0, buf, 16 * PG, &done));
	ASSERT_OK(map_file(t, 0, 16, RO, MEMLAB_MAP_PRIVATE, f, 0));
	ASSERT_EQ(read_is_zero(t, A(3), 1), 1);
	ASSERT_EQ(mm_of(t).rss_file, 16);
	ASSERT_EQ(walk(t, A(3)).accessed, 1);
	for (unsigned i = 0; i < 16; i++)
		young_prefaulted += i != 3 && walk(t, A(i)).accessed;
	ASSERT_CHECK(m);
	ASSERT_EQ(young_prefaulted, 0);
	/*
	 * smaps counts a page Referenced when its entry is young or the page
	 * is marked referenced (smaps_account): the read marked every page it
	 * copied, so all 16 count, page 3 also for its young entry.
	 */
	ASSERT_EQ(smaps_kb(t, A(0), "Referenced"), 16 * 4);
}

/* ===================== 12. lazy zeroing ===================== */

/*
** __GFP_ZERO zeroes only what a frame's writers said they wrote (core/
** machine.c ml_zero_frames).  Each test below writes a few bytes into a
** frame by one writer -- at the page's start, across two 64-byte lines in
** its middle, at its end -- then frees the frame and gets it back as a
** fresh page, which must read zero; or copies the page, and the copy must
** carry the bytes.  A writer that forgot to say so fails here.
*/
#define NR_SPOTS 3
#define SPOT_LEN 6

static const uint8_t spot_bytes[SPOT_LEN] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };

/* Spot i of a page of ps bytes: its start, its middle, its end. */
static uint64_t spot(uint32_t ps, int i)
{
	return i == 0 ? 0 : i == 1 ? ps / 2 - 3 : ps - SPOT_LEN;
}

/* The byte a page with the spots of mask (bit i: spot i) written holds at offset b. */
static uint8_t spot_byte(uint32_t ps, uint64_t b, unsigned mask)
{
	for (int i = 0; i < NR_SPOTS; i++)
		if ((mask >> i & 1) && b >= spot(ps, i) && b < spot(ps, i) + SPOT_LEN)
			return spot_bytes[b - spot(ps, i)];
	return 0;
}

/* Does the task's page at va (ps bytes) hold the spots of mask and zero elsewhere? */
static int page_has(memlab_task *t, uint64_t va, uint32_t ps, unsigned mask)
{
	static uint8_t buf[65536];
	int code = 0;

	if (memlab_access(t, va, ps, 'r', buf, &code))
		return 0;
	for (uint64_t b = 0; b < ps; b++)
		if (buf[b] != spot_byte(ps, b, mask))
			return 0;
	return 1;
}

static int page_has_spots(memlab_task *t, uint64_t va, uint32_t ps)
{
	return page_has(t, va, ps, (1u << NR_SPOTS) - 1);
}

/* The spots written at va through the task's own stores; 0 or an error. */
static int write_spots(memlab_task *t, uint64_t va, uint32_t ps)
{
	int code = 0, err = 0;

	/* the middle first: then the start widens the extent down, the end up */
	for (int i = 1; i <= NR_SPOTS && !err; i++)
		err = memlab_access(t, va + spot(ps, i % NR_SPOTS), SPOT_LEN, 'w', (void *)spot_bytes,
				    &code);
	return err;
}

/*
** Unmap the page at va, whose frame was pfn, and write-fault a fresh
** anonymous page there: the per-CPU list hands the same frame back, and it
** must read zero.  1 it does, 0 it does not, -1 another frame came (the
** test would prove nothing), < -1 an error.
*/
static int refault_reads_zero(memlab_task *t, uint64_t va, uint32_t ps, uint64_t pfn)
{
	memlab_machine *m = memlab_task_machine(t);
	uint64_t out;

	if (memlab_munmap(t, va, ps) || memlab_lru_add_drain_all(m) ||	/* a batch held it */
	    memlab_mmap(t, va, ps, RW, ANON | FIXED, NULL, 0, &out) || touch(t, va, 'w'))
		return -2;
	if (pfn_of(t, va) != pfn)
		return -1;
	return read_is_zero(t, va, ps) == 1 && frame_is_zero(m, pfn);
}

/*
** x86-64 with 4K pages, then arm64 with 64K pages (1024 lines a frame;
** 4 GiB so that pages are grouped by mobility: page tables and user
** pages keep to their own per-CPU lists).
*/
static memlab_machine *lazy_machine(int i, uint32_t *ps)
{
	*ps = i ? 65536 : 4096;
	return i ? machine_cfg(MEMLAB_ARCH_ARM64, 65536, 0, 4ull << 30, 0) : x86();
}

/* A file of four pages; its disk holds the spots in page 0 (read into the cache on use). */
static memlab_file *spot_file(memlab_machine *m, uint32_t ps)
{
	memlab_file *f = NULL;

	if (memlab_file_create(m, "/data/spots", 4ull * ps, 1, &f))
		return NULL;
	for (int i = 1; i <= NR_SPOTS; i++)
		if (memlab_file_load(f, spot(ps, i % NR_SPOTS), spot_bytes, SPOT_LEN))
			return NULL;
	return f;
}

/* The spots written at va by read(2) from f into the task's memory (copy_to_user). */
static int pread_spots(memlab_task *t, memlab_file *f, uint64_t va, uint32_t ps)
{
	uint64_t done = 0;
	int err = 0;

	for (int i = 1; i <= NR_SPOTS && !err; i++) {
		uint64_t off = spot(ps, i % NR_SPOTS);

		err = memlab_pread(t, f, va + off, SPOT_LEN, off, &done);
		if (!err && done != SPOT_LEN)
			err = -1;
	}
	return err;
}

/*
** The task's own stores (memlab_access 'w'), then read(2) into its memory:
** the frame freed and reused reads zero.
*/
TEST(lazy_zero_user_writes_and_pread)
{
	for (int i = 0; i < 4; i++) {
		uint32_t ps;
		memlab_machine *m = lazy_machine(i / 2, &ps);
		memlab_task *t = spawn(m);
		memlab_file *f = t ? spot_file(m, ps) : NULL;
		uint64_t out;

		ASSERT(t && f);
		ASSERT_OK(memlab_mmap(t, REGION, ps, RW, ANON | FIXED, NULL, 0, &out));
		ASSERT_OK(i % 2 ? pread_spots(t, f, REGION, ps) : write_spots(t, REGION, ps));
		ASSERT_EQ(page_has_spots(t, REGION, ps), 1);
		ASSERT_EQ(refault_reads_zero(t, REGION, ps, pfn_of(t, REGION)), 1);
		ASSERT_CHECK(m);
		ASSERT_NO_REPORTS();
	}
}

/*
** The page cache's writers -- the read from the disk, write(2) from a host
** buffer and from the task's memory, a store through a shared mapping --
** must each say what they wrote: a private COW copy of the page copies
** only that.  The copy then goes back and its frame must read zero.
*/
TEST(lazy_zero_page_cache_writers_and_cow_copies)
{
	for (int i = 0; i < 2; i++) {
		uint32_t ps;
		memlab_machine *m = lazy_machine(i, &ps);
		memlab_task *t = spawn(m);
		memlab_file *f = t ? spot_file(m, ps) : NULL;	/* page 0: from the disk */
		uint64_t out, done, shared = REGION + 16ull * ps, priv = REGION + 32ull * ps;

		ASSERT(t && f);
		/* page 1: write(2) from a host buffer; 2: from the task's memory; 3: stores */
		ASSERT_OK(memlab_mmap(t, REGION, ps, RW, ANON | FIXED, NULL, 0, &out));
		ASSERT_OK(write_spots(t, REGION, ps));
		for (int s = 1; s <= NR_SPOTS; s++) {
			uint64_t off = spot(ps, s % NR_SPOTS);

			ASSERT_OK(memlab_file_pwrite(f, ps + off, spot_bytes, SPOT_LEN, &done));
			ASSERT_OK(memlab_pwrite(t, f, REGION + off, SPOT_LEN, 2ull * ps + off, &done));
		}
		ASSERT_OK(memlab_mmap(t, shared, 4ull * ps, RW, MEMLAB_MAP_SHARED | FIXED, f, 0, &out));
		ASSERT_OK(write_spots(t, shared + 3ull * ps, ps));
		ASSERT_OK(memlab_mmap(t, priv, 4ull * ps, RW, MEMLAB_MAP_PRIVATE | FIXED, f, 0, &out));
		for (unsigned p = 0; p < 4; p++) {
			uint64_t va = priv + (uint64_t)p * ps, cache = pfn_of(t, shared + (uint64_t)p * ps);
			int code = 0;

			ASSERT_EQ(page_has_spots(t, shared + (uint64_t)p * ps, ps), 1);
			/* a store of the bytes already there: do_cow_fault copies the page */
			ASSERT_OK(memlab_access(t, va, 1, 'w', (void *)spot_bytes, &code));
			ASSERT(pfn_of(t, va) != cache);
			ASSERT_EQ(page_has_spots(t, va, ps), 1);
		}
		ASSERT_EQ(refault_reads_zero(t, priv, ps, pfn_of(t, priv)), 1);
		ASSERT_CHECK(m);
		ASSERT_NO_REPORTS();
	}
}

/*
** A COW copy into a frame that held other bytes (the per-CPU list hands
** back the page just unmapped): the copy is the source, byte for byte --
** a page with the three spots, a hole of the file (all zero), a page with
** only the middle spot (the frame's old bytes on both sides of it go).
*/
TEST(lazy_zero_cow_into_used_frame)
{
	static const unsigned mask[3] = { 7, 0, 2 };

	for (int i = 0; i < 2; i++) {
		uint32_t ps;
		memlab_machine *m = lazy_machine(i, &ps);
		memlab_task *t = spawn(m);
		memlab_file *f = t ? spot_file(m, ps) : NULL;
		uint64_t out, priv = REGION + 32ull * ps;

		ASSERT(t && f);
		/* a hole written in its middle only: the cache page's extent is that */
		ASSERT_OK(memlab_file_pwrite(f, 2ull * ps + spot(ps, 1), spot_bytes, SPOT_LEN, &out));
		ASSERT_OK(memlab_mmap(t, priv, 3ull * ps, RW, MEMLAB_MAP_PRIVATE | FIXED, f, 0, &out));
		for (unsigned p = 0; p < 3; p++)	/* cached first: the copy is the one allocation */
			ASSERT_EQ(touch(t, priv + (uint64_t)p * ps, 'r'), 0);
		for (unsigned p = 0; p < 3; p++) {
			uint64_t va = priv + (uint64_t)p * ps, at = p == 2 ? spot(ps, 1) : 0, used;
			uint8_t b = p == 1 ? 0 : spot_bytes[0];
			int code = 0;

			ASSERT_OK(memlab_mmap(t, REGION, ps, RW, ANON | FIXED, NULL, 0, &out));
			ASSERT_EQ(write_pattern(t, REGION, ps, 9), 0);
			used = pfn_of(t, REGION);
			ASSERT_OK(memlab_munmap(t, REGION, ps));
			ASSERT_OK(memlab_lru_add_drain_all(m));	/* the batch lets it go */
			ASSERT_OK(memlab_access(t, va + at, 1, 'w', &b, &code));
			ASSERT_EQ(pfn_of(t, va), used);
			ASSERT_EQ(page_has(t, va, ps, mask[p]), 1);
		}
		ASSERT_CHECK(m);
		ASSERT_NO_REPORTS();
	}
}

/* An anonymous page copied for a child after fork (wp_page_copy), then reused. */
TEST(lazy_zero_fork_cow_copy)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m), *child = NULL;
	uint64_t out;
	int code = 0;

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, REGION, PG, RW, ANON | FIXED, NULL, 0, &out));
	ASSERT_OK(write_spots(t, REGION, PG));
	ASSERT_OK(memlab_fork(t, &child));
	ASSERT_OK(memlab_access(child, REGION, 1, 'w', (void *)spot_bytes, &code));
	ASSERT(pfn_of(child, REGION) != pfn_of(t, REGION));
	ASSERT_EQ(page_has_spots(child, REGION, PG), 1);
	ASSERT_EQ(refault_reads_zero(child, REGION, PG, pfn_of(child, REGION)), 1);
	ASSERT_EQ(page_has_spots(t, REGION, PG), 1);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* How many 8-byte entries of the table at pfn are not zero. */
static unsigned table_entries(memlab_machine *m, uint64_t pfn)
{
	unsigned n = 0;

	for (uint64_t i = 0; i < PG / 8; i++)
		n += read_u64_phys(m, pfn * PG + i * 8) != 0;
	return n;
}

/*
** Page tables are frames written entry by entry: a PTE table with entries
** at its start, middle and end is freed by munmap, and the tables of the
** next mapping, which reuse its frame, hold their one entry each.
*/
TEST(lazy_zero_page_tables)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t old[5], pte;
	struct memlab_walk w;
	unsigned levels;
	int reused = 0;

	ASSERT(t);
	ASSERT_OK(map(t, 0, 512, RW, ANON));
	ASSERT_EQ(touch(t, A(255), 'w') | touch(t, A(0), 'w') | touch(t, A(511), 'w'), 0);
	w = walk(t, A(0));
	levels = w.levels;
	memcpy(old, w.table_pfn, sizeof(old));
	ASSERT_EQ(table_entries(m, old[levels - 1]), 3);
	ASSERT_OK(memlab_munmap(t, A(0), 512 * PG));
	ASSERT_OK(map(t, 512 * 7 + 9, 1, RW, ANON));
	ASSERT_EQ(touch(t, A(512 * 7 + 9), 'w'), 0);
	w = walk(t, A(512 * 7 + 9));
	ASSERT_EQ(w.levels, levels);
	pte = w.table_pfn[levels - 1];
	for (unsigned l = 1; l < levels; l++) {
		for (unsigned k = 1; k < levels; k++)
			reused += w.table_pfn[l] == old[k];
		ASSERT_EQ(table_entries(m, w.table_pfn[l]), 1);
	}
	ASSERT(reused > 0);
	ASSERT(pte != 0);
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

/* memlab_write_phys into a block of 1 and of 4 frames, freed, then __GFP_ZERO. */
TEST(lazy_zero_write_phys_blocks)
{
	memlab_machine *m = x86();
	uint64_t pfn, again;

	ASSERT(m);
	for (unsigned order = 0; order <= 2; order += 2) {
		uint64_t n = 1ull << order;

		ASSERT_OK(memlab_alloc_pages(m, order, MEMLAB_GFP_KERNEL, &pfn));
		for (uint64_t f = 0; f < n; f += n > 1 ? n - 1 : 1)
			for (int i = 1; i <= NR_SPOTS; i++)	/* as write_spots() */
				ASSERT_OK(memlab_write_phys(m, (pfn + f) * PG + spot(PG, i % NR_SPOTS),
							    spot_bytes, SPOT_LEN));
		/* across the boundary between two frames */
		if (n > 1)
			ASSERT_OK(memlab_write_phys(m, (pfn + 2) * PG - 3, spot_bytes, SPOT_LEN));
		ASSERT_OK(memlab_free_pages(m, pfn, order));
		ASSERT_OK(memlab_alloc_pages(m, order, MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO, &again));
		ASSERT_EQ(again, pfn);
		for (uint64_t f = 0; f < n; f++)
			ASSERT_EQ(frame_is_zero(m, pfn + f), 1);
		ASSERT_OK(memlab_free_pages(m, pfn, order));
	}
	ASSERT_NO_REPORTS();
}

/*
** A transparent huge page written in three of its 512 pages, freed,
** faulted again; then written over 32 pages, freed, faulted again.
*/
TEST(lazy_zero_huge_page)
{
	memlab_machine *m = x86();
	memlab_task *t = spawn(m);
	uint64_t huge = 512 * PG, pfn, out;

	ASSERT(t);
	ASSERT_OK(memlab_thp(m, "always", 1, NULL));
	ASSERT_OK(memlab_mmap(t, REGION, huge, RW, ANON | FIXED, NULL, 0, &out));
	ASSERT_OK(write_spots(t, A(0), PG));
	ASSERT_OK(write_spots(t, A(255), PG));
	ASSERT_OK(write_spots(t, A(511), PG));
	ASSERT_EQ(walk(t, A(0)).huge, 1);
	pfn = pfn_of(t, A(0));
	ASSERT_EQ(page_has_spots(t, A(255), PG), 1);
	for (int round = 0; round < 2; round++) {
		ASSERT_OK(memlab_munmap(t, REGION, huge));
		ASSERT_OK(memlab_mmap(t, REGION, huge, RW, ANON | FIXED, NULL, 0, &out));
		ASSERT_EQ(touch(t, A(3), 'w'), 0);
		ASSERT_EQ(walk(t, A(0)).huge, 1);
		ASSERT_EQ(pfn_of(t, A(0)), pfn);
		ASSERT_EQ(read_is_zero(t, REGION, huge), 1);
		/* 128 KiB written: the next zeroing gives the host pages back instead */
		ASSERT_EQ(write_pattern(t, A(100), 32 * PG, 5), 0);
	}
	ASSERT_CHECK(m);
	ASSERT_NO_REPORTS();
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* keep the lines when a sanitizer ends the run */
#define RUN_T(name)                  \
	do {                         \
		RUN(name);           \
		release_all();       \
	} while (0)
	RUN_T(zero_page_read_fault);
	RUN_T(cow_from_zero_page);
	RUN_T(first_write_allocates_once);
	RUN_T(bytes_cross_page_boundaries);
	RUN_T(access_errors);
	RUN_T(sigbus_past_eof);
	RUN_T(mprotect_none_keeps_pages);
	RUN_T(mprotect_read_only_entries);
	RUN_T(munmap_frees_frames_and_tables);
	RUN_T(munmap_frees_with_pcp);
	RUN_T(exit_frees_everything);
	RUN_T(anon_vma_info);
	RUN_T(spawn_exit_leaves_free_count);
	RUN_T(hiwater_rss_keeps_peak);
	RUN_T(mremap_maymove_carries_data);
	RUN_T(mremap_fixed_carries_data);
	RUN_T(mremap_dontunmap);
	RUN_T(populate_private_writable);
	RUN_T(populate_read_only_maps_zero_pages);
	RUN_T(file_read_fault_major_read_around);
	RUN_T(file_fault_around_within_vma);
	RUN_T(file_private_write_copies);
	RUN_T(file_shared_write_dirties_and_is_seen);
	RUN_T(shmem_anonymous_shared);
	RUN_T(smaps_follow_page_tables);
	RUN_T(rmap_lists_every_mapping);
	RUN_T(check_catches_pte_corruption);
	RUN_T(pagetable_dump);
	RUN_T(arm64_granules);
	RUN_T(arm64_entry_bits);
	RUN_T(x86_la57_five_levels);
	RUN_T(fault_around_window_at_unaligned_vma_start);
	RUN_T(major_fault_maps_fault_around_window);
	RUN_T(arm64_fault_around_maps_old_ptes);
	RUN_T(lazy_zero_user_writes_and_pread);
	RUN_T(lazy_zero_page_cache_writers_and_cow_copies);
	RUN_T(lazy_zero_cow_into_used_frame);
	RUN_T(lazy_zero_fork_cow_copy);
	RUN_T(lazy_zero_page_tables);
	RUN_T(lazy_zero_write_phys_blocks);
	RUN_T(lazy_zero_huge_page);
	return test_summary();
}
