/*
** test_vmalloc.c -- vmalloc (core/vmalloc.c): the range of every paging
** mode, lowest-first placement with guard pages, alignment, lazy freeing
** and the purge threshold, the pools of several vmap nodes, failures that
** leave nothing allocated, vmap, init_mm's page tables, kernel reads and
** writes, /proc/vmallocinfo, and the checker.
*/
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "testlib.h"

#define X86 MEMLAB_ARCH_X86_64
#define ARM MEMLAB_ARCH_ARM64
#define START_L4 0xffffc90000000000ull
#define PAGE 4096ull

static char reports[8192];

static void collect_report(void *ud, const char *msg)
{
	size_t len = strlen(reports);

	(void)ud;
	snprintf(reports + len, sizeof(reports) - len, "%s\n", msg);
}

static memlab_machine *make_machine(int arch, uint32_t page_size, unsigned va_bits, uint64_t ram,
				    int cpus)
{
	struct memlab_config cfg;

	test_config(&cfg, arch, page_size, va_bits, ram);
	cfg.cpus = cpus;
	cfg.pcp_disabled = 1;	/* MemFree counts every page, none held per CPU */
	cfg.report = collect_report;
	reports[0] = '\0';
	return test_create(&cfg);
}

static memlab_machine *make_x86(uint64_t ram)
{
	return make_machine(X86, 0, 0, ram, 1);
}

static uint64_t vmalloc_ok(memlab_machine *m, uint64_t size)
{
	uint64_t addr = 0;

	if (memlab_vmalloc(m, size, NULL, &addr))
		return 0;
	return addr;
}

/* The value of a /proc/meminfo line, in kB. */
static long long meminfo(memlab_machine *m, const char *key)
{
	char *text, *p;
	long long v = -1;

	if (memlab_proc(m, "meminfo", &text, NULL))
		return -1;
	p = strstr(text, key);
	if (p)
		v = atoll(p + strlen(key) + 1);
	memlab_free_text(m, text);
	return v;
}

static char *vmallocinfo(memlab_machine *m)
{
	static char buf[16384];
	char *text;

	buf[0] = '\0';
	if (memlab_proc(m, "vmallocinfo", &text, NULL) == 0) {
		snprintf(buf, sizeof(buf), "%s", text);
		memlab_free_text(m, text);
	}
	return buf;
}

static struct memlab_vmalloc_info vinfo(memlab_machine *m)
{
	struct memlab_vmalloc_info info;

	memlab_vmalloc_info(m, &info);
	return info;
}

/* ---- the range ---- */

struct range_case {
	int arch;
	uint32_t page_size;
	unsigned va_bits;
	uint64_t start, end, page_offset;
};

/*
** x86-64: pgtable_64_types.h (END inclusive, as Linux writes it); arm64:
** _PAGE_END(VA_BITS) + 2G up to VMEMMAP_START - 8M.
*/
static const struct range_case ranges[] = {
	{ X86, 4096, 48, 0xffffc90000000000ull, 0xffffe8ffffffffffull, 0xffff888000000000ull },
	{ X86, 4096, 57, 0xffa0000000000000ull, 0xffd1ffffffffffffull, 0xff11000000000000ull },
	{ ARM, 4096, 48, 0xffff800080000000ull, 0xfffffdffbf800000ull, 0xffff000000000000ull },
	{ ARM, 4096, 39, 0xffffffc080000000ull, 0xfffffffebf800000ull, 0xffffff8000000000ull },
	{ ARM, 16384, 47, 0xffffc00080000000ull, 0xffffffbfbf800000ull, 0xffff800000000000ull },
	{ ARM, 65536, 42, 0xfffffe0080000000ull, 0xffffffff3f800000ull, 0xfffffc0000000000ull },
};

TEST(range_per_paging_mode)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		const struct range_case *c = &ranges[i];
		memlab_machine *m = make_machine(c->arch, c->page_size, c->va_bits,
						 c->page_size == 65536 ? 1ull << 30 : 64 << 20, 1);
		struct memlab_vmalloc_info info;
		uint64_t a, pfn;
		char buf[8] = "", w[8] = "vmalloc";

		ASSERT(m);
		info = vinfo(m);
		ASSERT_EQ(info.vmalloc_start, c->start);
		ASSERT_EQ(info.vmalloc_end, c->end);
		ASSERT_EQ(info.page_offset, c->page_offset);
		ASSERT_EQ(meminfo(m, "VmallocTotal:"), (long long)((c->end - c->start) >> 10));
		a = vmalloc_ok(m, 3 * c->page_size);
		ASSERT_EQ(a, c->start);
		ASSERT_OK(memlab_kwrite(m, a + c->page_size + 5, w, 8));
		ASSERT_OK(memlab_vmalloc_to_pfn(m, a + c->page_size, &pfn));
		ASSERT_OK(memlab_page_address(m, pfn, &a));
		ASSERT_EQ(a, c->page_offset + pfn * c->page_size);
		ASSERT_OK(memlab_kread(m, a + 5, buf, 8));	/* through the direct map */
		ASSERT_STREQ(buf, "vmalloc");
		ASSERT_EQ(check_count(m), 0);
		memlab_destroy(m);
	}
}

/* ---- placement ---- */

TEST(lowest_first_with_guard_pages)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t a, b, c, n;

	ASSERT(m);
	a = vmalloc_ok(m, 1);			/* one page + guard */
	b = vmalloc_ok(m, 2 * PAGE);
	c = vmalloc_ok(m, PAGE + 1);		/* rounded to two pages */
	ASSERT_EQ(a, START_L4);
	ASSERT_EQ(b, START_L4 + 2 * PAGE);
	ASSERT_EQ(c, START_L4 + 5 * PAGE);
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 5 * 4);
	n = memlab_vmap_areas(m, NULL, 0);
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(vmallocinfo(m),
		     "0xffffc90000000000-0xffffc90000002000    8192 memlab_vmalloc+0x0/0x0 pages=1 vmalloc N0=1\n"
		     "0xffffc90000002000-0xffffc90000005000   12288 memlab_vmalloc+0x0/0x0 pages=2 vmalloc N0=2\n"
		     "0xffffc90000005000-0xffffc90000008000   12288 memlab_vmalloc+0x0/0x0 pages=2 vmalloc N0=2\n");
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(alignment_and_holes)
{
	memlab_machine *m = make_x86(64 << 20);
	struct memlab_vmalloc_opts o = { 0 };
	uint64_t a, b, c;

	ASSERT(m);
	ASSERT_EQ(vmalloc_ok(m, PAGE), START_L4);
	o.align = 64 << 10;
	o.caller = "alloc_large_system_hash+0x1a5/0x2e0";
	ASSERT_OK(memlab_vmalloc(m, PAGE, &o, &a));
	ASSERT_EQ(a, START_L4 + (64 << 10));
	b = vmalloc_ok(m, PAGE);		/* the hole below the aligned area */
	ASSERT_EQ(b, START_L4 + 2 * PAGE);
	o.align = 3 * PAGE;			/* not a power of two */
	ASSERT_EQ(memlab_vmalloc(m, PAGE, &o, &c), -MEMLAB_EINVAL);
	o.align = 0;
	o.caller = "has space";
	ASSERT_EQ(memlab_vmalloc(m, PAGE, &o, &c), -MEMLAB_EINVAL);
	ASSERT(strstr(vmallocinfo(m), "alloc_large_system_hash+0x1a5/0x2e0 pages=1 vmalloc N0=1\n"));
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(no_guard)
{
	memlab_machine *m = make_x86(64 << 20);
	struct memlab_vmalloc_opts o = { 0 };
	uint64_t a;
	char c;

	ASSERT(m);
	o.vm_flags = MEMLAB_VM_NO_GUARD;
	ASSERT_OK(memlab_vmalloc(m, PAGE, &o, &a));
	ASSERT_EQ(vmalloc_ok(m, PAGE), START_L4 + PAGE);
	ASSERT_OK(memlab_kread(m, START_L4 + PAGE - 1, &c, 1));
	ASSERT_EQ(memlab_kread(m, START_L4 + 2 * PAGE, &c, 1), -MEMLAB_EFAULT);	/* a guard */
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(bad_sizes)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t a;

	ASSERT(m);
	ASSERT_EQ(memlab_vmalloc(m, 0, NULL, &a), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_vmalloc(m, 65ull << 20, NULL, &a), -MEMLAB_ENOMEM);
	ASSERT(strstr(reports, "memlab: vmalloc error: size 68157440, exceeds total pages, "
			       "mode:0xcc0(GFP_KERNEL), nodemask=(null)"));
	ASSERT_EQ(memlab_vmap_areas(m, NULL, 0), 0);
	memlab_destroy(m);
}

/* ---- freeing ---- */

TEST(vfree_is_lazy_and_frees_the_pages)
{
	memlab_machine *m = make_x86(64 << 20);
	long long free0, tables;
	uint64_t a, b;
	char c;

	ASSERT(m);
	vmalloc_ok(m, PAGE);			/* the kernel page table exists from here */
	free0 = meminfo(m, "MemFree:");
	tables = meminfo(m, "PageTables:");
	a = vmalloc_ok(m, 4 * PAGE);
	ASSERT_EQ(meminfo(m, "MemFree:"), free0 - 16);
	ASSERT_OK(memlab_vfree(m, a + PAGE));	/* any page of the area frees it */
	ASSERT_EQ(meminfo(m, "MemFree:"), free0);
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 4);
	ASSERT_EQ(meminfo(m, "PageTables:"), tables);	/* kernel tables stay */
	ASSERT_EQ(memlab_kread(m, a, &c, 1), -MEMLAB_EFAULT);
	ASSERT_EQ(vinfo(m).vmap_lazy_nr, 5);
	ASSERT(strstr(vmallocinfo(m), "0xffffc90000002000-0xffffc90000007000   20480 unpurged vm_area\n"));
	b = vmalloc_ok(m, PAGE);		/* the lazy area stays reserved */
	ASSERT_EQ(b, START_L4 + 7 * PAGE);
	ASSERT_OK(memlab_vfree(m, 0));
	ASSERT_EQ(memlab_vfree(m, a), -MEMLAB_EINVAL);
	ASSERT(strstr(reports, "Trying to vfree() nonexistent vm area (ffffc90000002000)"));
	ASSERT_EQ(memlab_vfree(m, b + 1), -MEMLAB_EINVAL);
	ASSERT(strstr(reports, "Trying to vfree() bad address (ffffc90000007001)"));
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/*
** lazy_max_pages() is fls(CPUs) * 32 MiB of pages; the vfree that takes
** the lazy pages past it purges them all with a full TLB flush, and their
** space is used again, lowest first.
*/
TEST(lazy_purge_threshold)
{
	memlab_machine *m = make_x86(64 << 20);
	struct memlab_vmalloc_info info;
	uint64_t lazy = 0, a, tables;
	int frees = 0;

	ASSERT(m);
	ASSERT_EQ(vinfo(m).lazy_max_pages, 8192);
	for (;;) {
		a = vmalloc_ok(m, 1 << 20);	/* 256 pages, array in kmalloc */
		ASSERT(a);
		tables = vinfo(m).nr_kernel_pgtables;
		ASSERT_OK(memlab_vfree(m, a));
		frees++;
		info = vinfo(m);
		if (info.nr_purges)
			break;
		lazy += 257;
		ASSERT_EQ(info.vmap_lazy_nr, lazy);
		ASSERT(lazy <= 8192);
	}
	ASSERT_EQ(lazy + 257, 8224);		/* the first total above 8192 */
	ASSERT_EQ(frees, 32);
	ASSERT_EQ(info.vmap_lazy_nr, 0);
	ASSERT_EQ(info.nr_kernel_tlb_flush_all, 1);
	ASSERT_EQ(info.nr_kernel_pgtables, tables);
	ASSERT_EQ(memlab_vmap_areas(m, NULL, 0), 0);
	ASSERT_EQ(vmalloc_ok(m, PAGE), START_L4);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* Above a page of pfns the array is vmalloc'ed too ("vpages"), after its area. */
TEST(page_array_in_vmalloc)
{
	memlab_machine *m = make_x86(64 << 20);
	struct memlab_vmap_area v[2];
	uint64_t a;

	ASSERT(m);
	a = vmalloc_ok(m, 4 << 20);
	ASSERT_EQ(a, START_L4);
	ASSERT_EQ(memlab_vmap_areas(m, v, 2), 2);
	ASSERT_EQ(v[0].nr_pages, 1024);
	ASSERT(v[0].vpages);
	ASSERT_EQ(v[1].addr, START_L4 + (4 << 20) + PAGE);
	ASSERT_EQ(v[1].nr_pages, 2);		/* 8 KiB of pointers */
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 1026 * 4);
	ASSERT(strstr(vmallocinfo(m), " pages=1024 vmalloc vpages N0=1024\n"));
	ASSERT_OK(memlab_vfree(m, a));
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 0);
	ASSERT_EQ(vinfo(m).vmap_lazy_nr, 1025 + 3);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* ---- failures ---- */

/* Fail the nth call at the point once, whatever the GFP flags; no dump. */
static void fail_nth(memlab_machine *m, const char *point, uint64_t nth)
{
	struct memlab_fault_attr a;

	memlab_fault_attr_init(&a, point);
	a.probability = 100;
	a.interval = nth;
	a.times = 1;
	a.min_order = 0;
	a.ignore_gfp_reclaim = 0;
	a.ignore_gfp_highmem = 0;	/* vmalloc's pages are __GFP_HIGHMEM */
	a.verbose = 0;
	memlab_inject(m, point, &a);
}

TEST(failed_page_allocation_leaves_nothing)
{
	memlab_machine *m = make_x86(64 << 20);
	long long free0, tables;
	uint64_t a;

	ASSERT(m);
	ASSERT_OK(memlab_vfree(m, vmalloc_ok(m, PAGE)));
	free0 = meminfo(m, "MemFree:");
	tables = meminfo(m, "PageTables:");
	fail_nth(m, "fail_page_alloc", 3);
	reports[0] = '\0';
	ASSERT_EQ(memlab_vmalloc(m, 5 * PAGE, NULL, &a), -MEMLAB_ENOMEM);
	ASSERT(strstr(reports, "memlab: vmalloc error: size 8192, failed to allocate pages, "
			       "mode:0xcc2(GFP_KERNEL|__GFP_HIGHMEM), nodemask=(null)"));
	ASSERT_EQ(meminfo(m, "MemFree:"), free0);
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 0);
	ASSERT_EQ(meminfo(m, "PageTables:"), tables);
	/* as Linux's cleanup vfree()s it: the address space waits, lazily freed */
	ASSERT(strstr(vmallocinfo(m), "0xffffc90000002000-0xffffc90000008000   24576 unpurged vm_area\n"));
	ASSERT_EQ(check_count(m), 0);
	memlab_inject(m, "fail_page_alloc", NULL);
	ASSERT(vmalloc_ok(m, 5 * PAGE));
	memlab_destroy(m);
}

/* Every allocation of a vmalloc failing in turn: each failure frees all it took. */
TEST(failure_at_every_step)
{
	for (uint64_t nth = 1; nth < 12; nth++) {
		memlab_machine *m = make_x86(64 << 20);
		long long free0;
		uint64_t a;
		int rc;

		ASSERT(m);
		free0 = meminfo(m, "MemFree:");
		fail_nth(m, "fail_page_alloc", nth);	/* the PGD and tables count too */
		rc = memlab_vmalloc(m, 6 * PAGE, NULL, &a);
		if (rc == 0) {
			ASSERT_OK(memlab_vfree(m, a));
		} else {
			ASSERT_EQ(rc, -MEMLAB_ENOMEM);
			/* what may stay: the PGD and the kernel tables, as in Linux */
			ASSERT_EQ(free0 - meminfo(m, "MemFree:"),
				  4 * (long long)(vinfo(m).nr_kernel_pgtables +
						  (vinfo(m).kernel_pgd != UINT64_MAX)));
			ASSERT_EQ(meminfo(m, "VmallocUsed:"), 0);
		}
		ASSERT_EQ(check_count(m), 0);
		memlab_destroy(m);
	}
}

TEST(failslab_on_the_vm_struct)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t addr;

	ASSERT(m);
	fail_nth(m, "failslab", 1);
	ASSERT_EQ(memlab_vmalloc(m, PAGE, NULL, &addr), -MEMLAB_ENOMEM);
	ASSERT(strstr(reports, "vmalloc error: size 4096, vm_struct allocation failed"));
	ASSERT_EQ(memlab_vmap_areas(m, NULL, 0), 0);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* ---- vmap ---- */

TEST(vmap_maps_given_frames)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t pfns[3], a, pfn;
	char buf[4] = "";

	ASSERT(m);
	for (int i = 0; i < 3; i++)
		ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfns[i]));
	ASSERT_OK(memlab_write_phys(m, pfns[2] * PAGE + 7, "abc", 4));
	ASSERT_OK(memlab_vmap(m, pfns, 3, "vmap_test+0x10/0x40", &a));
	ASSERT_EQ(a, START_L4);
	ASSERT_OK(memlab_kread(m, a + 2 * PAGE + 7, buf, 4));
	ASSERT_STREQ(buf, "abc");
	ASSERT_OK(memlab_vmalloc_to_pfn(m, a + PAGE, &pfn));
	ASSERT_EQ(pfn, pfns[1]);
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 0);
	ASSERT_STREQ(vmallocinfo(m),
		     "0xffffc90000000000-0xffffc90000004000   16384 vmap_test+0x10/0x40 vmap\n");
	ASSERT_EQ(check_count(m), 0);
	ASSERT_OK(memlab_vunmap(m, a));
	ASSERT_OK(memlab_free_pages(m, pfns[0], 0));	/* vunmap left them allocated */
	ASSERT_EQ(memlab_vmap(m, pfns, 0, NULL, &a), -MEMLAB_EINVAL);
	pfns[1] = UINT64_MAX / 8;
	ASSERT_EQ(memlab_vmap(m, pfns, 2, NULL, &a), -MEMLAB_EINVAL);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* ---- vm_map_ram ---- */

/*
** Up to 64 pages come from a 256-page vmap block (1 MiB, block-aligned,
** no guard), power-of-two pieces from its front; more get an area of
** their own.  The block goes (lazily) once every page was given back.
*/
TEST(vm_map_ram_blocks)
{
	static const uint64_t counts[] = { 1, 3, 64, 64, 64, 32, 16, 8, 2, 1 };
	memlab_machine *m = make_x86(64 << 20);
	uint64_t pfns[65], a[10], big;
	char c = 0;

	ASSERT(m);
	for (int i = 0; i < 65; i++)
		ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfns[i]));
	ASSERT_OK(memlab_write_phys(m, pfns[0] * PAGE, "r", 1));
	for (int i = 0; i < 10; i++)
		ASSERT_OK(memlab_vm_map_ram(m, pfns, counts[i], &a[i]));
	ASSERT_EQ(a[0], START_L4);
	ASSERT_EQ(a[1], START_L4 + PAGE);		/* order 2: 4 pages from page 1 */
	ASSERT_EQ(a[2], START_L4 + 5 * PAGE);
	ASSERT_EQ(a[9], START_L4 + 255 * PAGE);	/* the block is full */
	ASSERT_OK(memlab_kread(m, a[1], &c, 1));
	ASSERT_EQ(c, 'r');
	ASSERT_OK(memlab_vm_map_ram(m, pfns, 65, &big));
	ASSERT_EQ(big, START_L4 + (1 << 20));
	ASSERT_STREQ(vmallocinfo(m),
		     "0xffffc90000000000-0xffffc90000100000 1048576 vm_map_ram\n"
		     "0xffffc90000100000-0xffffc90000141000  266240 vm_map_ram\n");
	ASSERT_EQ(check_count(m), 0);
	for (int i = 0; i < 9; i++)
		ASSERT_OK(memlab_vm_unmap_ram(m, a[i], counts[i]));
	ASSERT_EQ(memlab_kread(m, a[1], &c, 1), -MEMLAB_EFAULT);
	ASSERT_EQ(memlab_vmap_areas(m, NULL, 0), 2);	/* 255 of 256 given back */
	ASSERT_OK(memlab_vm_unmap_ram(m, a[9], counts[9]));
	ASSERT_OK(memlab_vm_unmap_ram(m, big, 65));
	ASSERT_STREQ(vmallocinfo(m),
		     "0xffffc90000000000-0xffffc90000100000 1048576 unpurged vm_area\n"
		     "0xffffc90000100000-0xffffc90000141000  266240 unpurged vm_area\n");
	ASSERT_EQ(memlab_vm_unmap_ram(m, big, 65), -MEMLAB_EINVAL);
	ASSERT(strstr(reports, "vm_unmap_ram: no vm_map_ram area at 0xffffc90000100000"));
	ASSERT_EQ(memlab_vm_unmap_ram(m, START_L4 + 8 * PAGE, 1), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_vm_unmap_ram(m, 0x1000, 1), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_vm_map_ram(m, pfns, 0, &big), -MEMLAB_EINVAL);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* ---- nodes and pools ---- */

/*
** With two CPUs, two vmap nodes each own alternate 64K stretches;
** vmallocinfo lists node 0's areas, then node 1's.
*/
TEST(vmallocinfo_by_node)
{
	memlab_machine *m = make_machine(X86, 0, 0, 64 << 20, 2);
	struct memlab_vmap_area v[4];

	ASSERT(m);
	ASSERT_EQ(vinfo(m).nr_vmap_nodes, 0);	/* nothing yet */
	ASSERT(vmalloc_ok(m, 64 << 10));	/* [0, 68K): node 0 */
	ASSERT(vmalloc_ok(m, PAGE));		/* 68K: node 1 */
	ASSERT(vmalloc_ok(m, 56 << 10));	/* 76K..136K: node 1 */
	ASSERT(vmalloc_ok(m, PAGE));		/* 136K: node 0 */
	ASSERT_EQ(vinfo(m).nr_vmap_nodes, 2);
	ASSERT_EQ(memlab_vmap_areas(m, v, 4), 4);
	ASSERT_EQ(v[0].addr, START_L4);
	ASSERT_EQ(v[1].addr, START_L4 + (136 << 10));
	ASSERT_EQ(v[2].addr, START_L4 + (68 << 10));
	ASSERT_EQ(v[3].addr, START_L4 + (76 << 10));
	ASSERT_EQ(v[3].node, 1);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/*
** A purged area of up to 256 pages goes to its node's pool and the next
** request of exactly its size takes it back, even above a free hole that
** lowest-first would choose (one CPU: no pools, the hole is chosen).
*/
TEST(purged_areas_pooled_per_node)
{
	for (int cpus = 1; cpus <= 2; cpus++) {
		memlab_machine *m = make_machine(X86, 0, 0, 256 << 20, cpus);
		uint64_t big, small, again;

		ASSERT(m);
		ASSERT(vmalloc_ok(m, PAGE));
		big = vmalloc_ok(m, 64 << 20);
		small = vmalloc_ok(m, 2 * PAGE);
		ASSERT(big && small > big);
		ASSERT_OK(memlab_vfree(m, small));
		ASSERT_OK(memlab_vfree(m, big));	/* past lazy_max_pages: purged */
		ASSERT_EQ(vinfo(m).nr_purges, 1);
		again = vmalloc_ok(m, 2 * PAGE);
		ASSERT_EQ(again, cpus == 1 ? big : small);
		ASSERT_EQ(check_count(m), 0);
		memlab_destroy(m);
	}
}

/* ---- huge mappings (vmalloc_huge) ---- */

static uint64_t vmalloc_huge(memlab_machine *m, uint64_t size)
{
	struct memlab_vmalloc_opts o = { 0 };
	uint64_t addr = 0;

	o.vm_flags = MEMLAB_VM_ALLOW_HUGE_VMAP;
	return memlab_vmalloc(m, size, &o, &addr) ? 0 : addr;
}

/* From PMD_SIZE x86-64 maps order-9 blocks with PMD leaves, 2M-aligned. */
TEST(huge_pmd_mappings)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t a, b, p0, p5;

	ASSERT(m);
	ASSERT(vmalloc_ok(m, PAGE));
	a = vmalloc_huge(m, 2 << 20);
	ASSERT_EQ(a, START_L4 + (2 << 20));		/* aligned to PMD_SIZE */
	ASSERT_EQ(vinfo(m).nr_kernel_pgtables, 3);	/* no PTE table for it */
	ASSERT_OK(memlab_vmalloc_to_pfn(m, a, &p0));
	ASSERT_OK(memlab_vmalloc_to_pfn(m, a + 5 * PAGE, &p5));
	ASSERT_EQ(p5, p0 + 5);
	ASSERT_EQ(p0 % 512, 0);
	ASSERT(strstr(vmallocinfo(m), "0xffffc90000200000-0xffffc90000401000 2101248 "
				      "memlab_vmalloc+0x0/0x0 pages=512 vmalloc N0=512\n"));
	b = vmalloc_huge(m, PAGE);			/* below PMD_SIZE: small pages */
	ASSERT_EQ(b, START_L4 + 2 * PAGE);
	ASSERT_EQ(check_count(m), 0);
	ASSERT_OK(memlab_vfree(m, a));
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 4 * 2);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* No order-9 block: the huge area is given up (lazily) and order 0 used, silently. */
TEST(huge_falls_back_to_small_pages)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t a;

	ASSERT(m);
	fail_nth(m, "fail_page_alloc", 1);
	a = vmalloc_huge(m, 2 << 20);
	ASSERT_EQ(a, START_L4 + (2 << 20) + PAGE);
	ASSERT(!strstr(reports, "vmalloc error"));
	ASSERT(strstr(vmallocinfo(m), "0xffffc90000000000-0xffffc90000201000 2101248 unpurged vm_area\n"));
	ASSERT_EQ(vinfo(m).nr_kernel_pgtables, 4);	/* PTE tables of two PMDs */
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/*
** A PMD leaf where an earlier small mapping left a PTE table frees that
** table (pmd_free_pte_page): the one kernel table Linux frees.
*/
TEST(huge_frees_a_stale_pte_table)
{
	memlab_machine *m = make_x86(64 << 20);
	long long tables;
	uint64_t a;

	ASSERT(m);
	a = vmalloc_ok(m, (2 << 20) + PAGE);		/* PTE tables of two PMDs */
	ASSERT_OK(memlab_vfree(m, a));
	while (!vinfo(m).nr_purges)
		ASSERT_OK(memlab_vfree(m, vmalloc_ok(m, 4 << 20)));
	tables = meminfo(m, "PageTables:");
	ASSERT_EQ(vmalloc_huge(m, 2 << 20), START_L4);
	ASSERT_EQ(meminfo(m, "PageTables:"), tables - 4);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(huge_on_arm64_maps_pages)
{
	memlab_machine *m = make_machine(ARM, 4096, 48, 64 << 20, 1);
	struct memlab_vmalloc_opts o = { 0 };
	uint64_t a;

	ASSERT(m);
	o.vm_flags = MEMLAB_VM_ALLOW_HUGE_VMAP;
	ASSERT_EQ(memlab_vmalloc(m, 2 << 20, &o, &a), 0);	/* arm64: mapped with pages */
	memlab_destroy(m);
}

/* ---- kernel page tables and kernel addresses ---- */

TEST(kernel_page_tables_accounted_and_kept)
{
	memlab_machine *m = make_x86(64 << 20);
	long long tables0;
	uint64_t a;

	ASSERT(m);
	tables0 = meminfo(m, "PageTables:");
	a = vmalloc_ok(m, PAGE);
	/* PUD, PMD and PTE tables (the P4D is folded); the PGD is the image's */
	ASSERT_EQ(vinfo(m).nr_kernel_pgtables, 3);
	ASSERT_EQ(meminfo(m, "PageTables:"), tables0 + 12);
	ASSERT_OK(memlab_vfree(m, a));
	ASSERT_EQ(vinfo(m).nr_kernel_pgtables, 3);
	ASSERT(vmalloc_ok(m, 2 << 20));	/* crosses into a second PTE table */
	ASSERT_EQ(vinfo(m).nr_kernel_pgtables, 4);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(kread_kwrite)
{
	memlab_machine *m = make_x86(64 << 20);
	char buf[16] = "";
	uint64_t a, pfn, k;

	ASSERT(m);
	a = vmalloc_ok(m, 2 * PAGE);
	ASSERT_OK(memlab_kwrite(m, a + PAGE - 3, "across", 7));	/* two frames */
	ASSERT_OK(memlab_kread(m, a + PAGE - 3, buf, 7));
	ASSERT_STREQ(buf, "across");
	ASSERT_EQ(memlab_kwrite(m, a + 2 * PAGE - 3, "guard!", 7), -MEMLAB_EFAULT);
	ASSERT_OK(memlab_kread(m, a + 2 * PAGE - 3, buf, 3));	/* nothing written */
	ASSERT(buf[0] == 0 || memcmp(buf, "gua", 3) != 0);
	ASSERT_EQ(memlab_kread(m, 0x400000, buf, 1), -MEMLAB_EFAULT);	/* user address */
	ASSERT_EQ(memlab_kread(m, 0xffff888000000000ull + (64 << 20), buf, 1), -MEMLAB_EFAULT);
	ASSERT_OK(memlab_kaddr_to_pfn(m, a + PAGE, &pfn));
	ASSERT_OK(memlab_page_address(m, pfn, &k));
	ASSERT_OK(memlab_kaddr_to_pfn(m, k + 5, &a));
	ASSERT_EQ(a, pfn);
	ASSERT_EQ(memlab_page_address(m, 1ull << 40, &k), -MEMLAB_EINVAL);
	memlab_destroy(m);
}

/* ---- the checker ---- */

TEST(check_sees_a_freed_frame_still_mapped)
{
	memlab_machine *m = make_x86(64 << 20);
	uint64_t a, pfn;

	ASSERT(m);
	a = vmalloc_ok(m, 2 * PAGE);
	ASSERT_EQ(check_count(m), 0);
	ASSERT_OK(memlab_vmalloc_to_pfn(m, a + PAGE, &pfn));
	ASSERT_OK(memlab_free_pages(m, pfn, 0));	/* behind vmalloc's back */
	ASSERT(check_finds(m, "(free)"));
	memlab_destroy(m);
}

/* ---- random operations ---- */

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state % n;
}

/*
** vmalloc (small, large, huge, aligned, guardless), vmap, vm_map_ram and frees in a
** random order on two CPUs' worth of vmap nodes, with page allocations
** failing now and then: after every step the checker finds nothing, and
** at the end every frame vmalloc took is back.
*/
TEST(random_operations_keep_the_invariants)
{
	static const uint64_t sizes[] = { 1, 4096, 8192, 12288, 65536, 1 << 20, 2 << 20, 3 << 20 };
	memlab_machine *m = make_machine(X86, 0, 0, 128 << 20, 2);
	struct memlab_fault_attr fa;
	uint64_t live[64] = { 0 }, big[64] = { 0 }, vmapped[64] = { 0 }, pfns[80];
	uint64_t ram[64] = { 0 }, ram_count[64] = { 0 };
	long long free0;

	ASSERT(m);
	for (int k = 0; k < 80; k++)
		ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfns[k]));
	free0 = meminfo(m, "MemFree:");
	memlab_fault_attr_init(&fa, "fail_page_alloc");
	fa.probability = 2;
	fa.times = -1;
	fa.min_order = 0;
	fa.ignore_gfp_reclaim = 0;
	fa.ignore_gfp_highmem = 0;
	fa.verbose = 0;
	memlab_inject(m, "fail_page_alloc", &fa);
	for (int step = 0; step < 3000; step++) {
		unsigned i = (unsigned)rnd(64);
		struct memlab_vmalloc_opts o = { 0 };

		if (live[i]) {
			/* any page of an area frees it */
			ASSERT_OK(memlab_vfree(m, live[i] + (big[i] ? rnd(2) * PAGE : 0)));
			live[i] = 0;
		} else if (vmapped[i]) {
			ASSERT_OK(memlab_vunmap(m, vmapped[i]));
			vmapped[i] = 0;
		} else if (ram[i]) {
			ASSERT_OK(memlab_vm_unmap_ram(m, ram[i], ram_count[i]));
			ram[i] = 0;
		} else if (rnd(4) == 0) {	/* frames mapped twice are fine */
			memlab_inject(m, "fail_page_alloc", NULL);
			if (rnd(2)) {
				ASSERT_OK(memlab_vmap(m, pfns + rnd(8), 1 + rnd(4), NULL, &vmapped[i]));
			} else {
				ram_count[i] = 1 + (rnd(3) ? rnd(8) : rnd(72));
				ASSERT_OK(memlab_vm_map_ram(m, pfns, ram_count[i], &ram[i]));
			}
			memlab_inject(m, "fail_page_alloc", &fa);
		} else {
			o.align = rnd(3) ? 0 : 1ull << (12 + rnd(6));
			o.vm_flags = (rnd(5) ? 0 : MEMLAB_VM_NO_GUARD) |
				     (rnd(3) ? 0 : MEMLAB_VM_ALLOW_HUGE_VMAP);
			big[i] = rnd(8);
			if (memlab_vmalloc(m, sizes[big[i]], &o, &live[i]))
				live[i] = 0;
			big[i] = sizes[big[i]] > PAGE;
		}
		if (check_count(m)) {
			printf("  step %d:\n%s", step, check_reports);
			ASSERT(0);
		}
	}
	memlab_inject(m, "fail_page_alloc", NULL);
	ASSERT(vinfo(m).nr_purges > 0);
	for (unsigned i = 0; i < 64; i++) {
		if (live[i])
			ASSERT_OK(memlab_vfree(m, live[i]));
		if (vmapped[i])
			ASSERT_OK(memlab_vunmap(m, vmapped[i]));
		if (ram[i])
			ASSERT_OK(memlab_vm_unmap_ram(m, ram[i], ram_count[i]));
	}
	ASSERT_EQ(meminfo(m, "VmallocUsed:"), 0);
	ASSERT_EQ(free0 - meminfo(m, "MemFree:"),
		  4 * (long long)(vinfo(m).nr_kernel_pgtables + 1));	/* the tables and PGD stay */
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(range_per_paging_mode);
	RUN(lowest_first_with_guard_pages);
	RUN(alignment_and_holes);
	RUN(no_guard);
	RUN(bad_sizes);
	RUN(vfree_is_lazy_and_frees_the_pages);
	RUN(lazy_purge_threshold);
	RUN(page_array_in_vmalloc);
	RUN(failed_page_allocation_leaves_nothing);
	RUN(failure_at_every_step);
	RUN(failslab_on_the_vm_struct);
	RUN(vmap_maps_given_frames);
	RUN(vm_map_ram_blocks);
	RUN(vmallocinfo_by_node);
	RUN(purged_areas_pooled_per_node);
	RUN(huge_pmd_mappings);
	RUN(huge_falls_back_to_small_pages);
	RUN(huge_frees_a_stale_pte_table);
	RUN(huge_on_arm64_maps_pages);
	RUN(kernel_page_tables_accounted_and_kept);
	RUN(kread_kwrite);
	RUN(check_sees_a_freed_frame_still_mapped);
	RUN(random_operations_keep_the_invariants);
	return test_summary();
}
