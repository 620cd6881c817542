/*
** test_mmap_types.c -- the mappings that are neither plain anonymous nor
** plain file mappings: MAP_DROPPABLE (Linux 6.11+) and anonymous
** MAP_HUGETLB on a machine with no huge pages reserved (vm.nr_hugepages
** 0, Linux's default).
**
** The expected values were recorded on the reference host (Linux 6.18
** x86-64, nr_hugepages 0).  host_* tests make the same calls on the host
** this test runs on and compare what both return and what smaps shows;
** they print "skip" where the host cannot be compared (another
** architecture, huge pages reserved, a kernel without MAP_DROPPABLE).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "memlab/memlab.h"
#include "mm.h"		/* VM_* */
#include "testlib.h"

#define PG 4096ull
#define HPAGE (2ull << 20)
#define GPAGE (1ull << 30)
#define REGION 0x7e0000000000ull	/* free in every x86-64 layout */

#define RW (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE)
#define ANON (MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS)
#define DROP (MEMLAB_MAP_DROPPABLE | MEMLAB_MAP_ANONYMOUS)
#define HUGE (ANON | MEMLAB_MAP_HUGETLB)
#define HUGE_NR (HUGE | MEMLAB_MAP_NORESERVE)

/* ===================== helpers ===================== */

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)

/* A machine (x86-64 unless arm64 with page_size) and a task, ASLR off. */
static memlab_machine *mk(int arch, uint32_t page_size, memlab_task **t)
{
	struct memlab_config cfg;
	struct memlab_spawn_args a = { 0 };
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	cfg.arch = arch;
	if (page_size)
		cfg.page_size = page_size;
	cfg.ram = 1ull << 30;
	if (memlab_create(&cfg, &m))
		return NULL;
	if (memlab_spawn(m, &a, t)) {
		memlab_destroy(m);
		return NULL;
	}
	return m;
}

static memlab_machine *x86(memlab_task **t)
{
	return mk(MEMLAB_ARCH_X86_64, 0, t);
}

/* What smaps shows for one VMA, without the addresses and the inode. */
struct smap {
	char perms[5];
	unsigned long long size, offset, kernel_page_kb;
	unsigned maj, min;
	char name[64];
	char vmflags[128];	/* after "VmFlags: " */
};

/* The smaps block of the VMA starting at addr in text; 0 if none. */
static int smap_of(const char *text, uint64_t addr, struct smap *s)
{
	char head[32];
	const char *p;

	memset(s, 0, sizeof(*s));
	snprintf(head, sizeof(head), "%llx-", (unsigned long long)addr);
	for (p = text; p && strncmp(p, head, strlen(head)) != 0; p = strchr(p, '\n'), p = p ? p + 1 : p)
		;
	if (!p)
		return 0;
	unsigned long long start, end, ino;
	int n = 0;

	if (sscanf(p, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, s->perms, &s->offset,
		   &s->maj, &s->min, &ino, &n) < 7)
		return 0;
	s->size = end - start;
	sscanf(p + n, "%63[^\n]", s->name);
	p = strstr(p, "KernelPageSize:");
	if (!p || sscanf(p, "KernelPageSize: %llu", &s->kernel_page_kb) != 1)
		return 0;
	p = strstr(p, "VmFlags: ");
	if (!p)
		return 0;
	sscanf(p + 9, "%127[^\n]", s->vmflags);
	return 1;
}

/* memlab's smaps entry for the VMA at addr; 0 if none. */
static int sim_smap(memlab_machine *m, memlab_task *t, uint64_t addr, struct smap *s)
{
	char path[32], *text = NULL;
	int found;

	snprintf(path, sizeof(path), "%d/smaps", memlab_task_pid(t));
	if (memlab_proc(m, path, &text, NULL))
		return 0;
	found = smap_of(text, addr, s);
	memlab_free_text(m, text);
	return found;
}

static struct memlab_vma_info vma_at(memlab_task *t, uint64_t addr)
{
	struct memlab_vma_info v[64], none;
	size_t n = memlab_vmas(t, v, 64);

	memset(&none, 0, sizeof(none));
	for (size_t i = 0; i < n && i < 64; i++)
		if (v[i].start <= addr && addr < v[i].end)
			return v[i];
	return none;
}

static uint64_t committed(memlab_task *t)
{
	struct memlab_mm_info mi;

	memlab_mm_info(t, &mi);
	return mi.committed_pages;
}

/* ===================== MAP_DROPPABLE ===================== */

/*
** A droppable mapping is private anonymous memory with VM_DROPPABLE,
** VM_NORESERVE, VM_WIPEONFORK and VM_DONTDUMP: never charged to
** Committed_AS, even with vm.overcommit_memory 2.
*/
TEST(droppable_flags)
{
	memlab_task *t;
	memlab_machine *m = x86(&t);
	struct memlab_vm_sysctl never = { -1, 2, -1, -1, -1, -1, -1, -1, -1 };
	uint64_t out, before;
	struct memlab_vma_info v;
	struct smap s;

	ASSERT(m);
	before = committed(t);
	ASSERT_OK(memlab_mmap(t, 0, 2 * PG, RW, DROP, NULL, 0, &out));
	v = vma_at(t, out);
	ASSERT_EQ(v.vm_flags & (VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP | VM_ACCOUNT),
		  VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP);
	ASSERT_STREQ(v.perms, "rw-p");
	ASSERT_EQ(committed(t), before);
	ASSERT(sim_smap(m, t, out, &s));
	ASSERT_STREQ(s.vmflags, "rd wr mr mw me nr wf dd dp ");	/* the host's line */
	ASSERT_OK(memlab_vm_sysctl(m, &never, NULL));
	ASSERT_OK(memlab_mmap(t, 0, 64 * PG, RW, DROP, NULL, 0, &out));
	ASSERT_EQ(committed(t), before);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* do_mmap()'s MAP_DROPPABLE case: anonymous only, never locked, stack or hugetlb. */
TEST(droppable_errors)
{
	memlab_task *t;
	memlab_machine *m = x86(&t);
	memlab_file *f;
	uint64_t out;

	ASSERT(m);
	ASSERT_OK(memlab_file_create(m, "/tmp/f", 4 * PG, 1, &f));
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, DROP | MEMLAB_MAP_LOCKED, NULL, 0, &out), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, DROP | MEMLAB_MAP_HUGETLB, NULL, 0, &out), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, DROP | MEMLAB_MAP_GROWSDOWN, NULL, 0, &out), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, MEMLAB_MAP_DROPPABLE, f, 0, &out), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, MEMLAB_MAP_DROPPABLE, NULL, 0, &out), -MEMLAB_EBADF);
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, DROP | 1, NULL, 0, &out), -MEMLAB_EINVAL);	/* type 9 */
	ASSERT_EQ(memlab_mmap(t, 0, 0, RW, DROP, NULL, 0, &out), -MEMLAB_EINVAL);
	/* like MAP_PRIVATE: the offset of anonymous memory is ignored, MAP_STACK is VM_NOHUGEPAGE */
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, DROP | MEMLAB_MAP_STACK, NULL, PG, &out));
	ASSERT(vma_at(t, out).vm_flags & VM_NOHUGEPAGE);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* Droppable neighbours merge with each other, not with private memory. */
TEST(droppable_merge)
{
	memlab_task *t;
	memlab_machine *m = x86(&t);
	uint64_t out;

	ASSERT(m);
	ASSERT_OK(memlab_mmap(t, REGION, PG, RW, DROP | MEMLAB_MAP_FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_mmap(t, REGION + PG, PG, RW, DROP | MEMLAB_MAP_FIXED, NULL, 0, &out));
	ASSERT_OK(memlab_mmap(t, REGION + 2 * PG, PG, RW, ANON | MEMLAB_MAP_FIXED, NULL, 0, &out));
	ASSERT_EQ(vma_at(t, REGION).end, REGION + 2 * PG);
	ASSERT_EQ(vma_at(t, REGION + 2 * PG).start, REGION + 2 * PG);
	ASSERT_OK(memlab_mprotect(t, REGION, PG, MEMLAB_PROT_READ));
	ASSERT_OK(memlab_mprotect(t, REGION, PG, RW));	/* no charge: VM_NORESERVE */
	ASSERT_EQ(vma_at(t, REGION).end, REGION + 2 * PG);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* ===================== anonymous MAP_HUGETLB ===================== */

/*
** With no huge page reserved, a mapping that would reserve fails with
** ENOMEM; MAP_NORESERVE maps an "/anon_hugepage (deleted)" hugetlbfs file,
** its length rounded up to the huge page, at an aligned address, without
** a Committed_AS charge, and any access to it is SIGBUS.
*/
TEST(hugetlb_noreserve)
{
	memlab_task *t;
	memlab_machine *m = x86(&t);
	uint64_t out, before;
	struct memlab_vma_info v;
	struct smap s;
	int code;

	ASSERT(m);
	before = committed(t);
	ASSERT_EQ(memlab_mmap(t, 0, HPAGE, RW, HUGE, NULL, 0, &out), -MEMLAB_ENOMEM);
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, HUGE_NR, NULL, 0, &out));
	ASSERT_EQ(out & (HPAGE - 1), 0);
	v = vma_at(t, out);
	ASSERT_EQ(v.end - v.start, HPAGE);
	ASSERT_STREQ(v.name, "/anon_hugepage (deleted)");
	ASSERT_EQ(v.dev_major, 0);
	ASSERT_EQ(v.dev_minor, 0x11);
	ASSERT_EQ(v.vm_flags & (VM_HUGETLB | VM_DONTEXPAND | VM_NORESERVE | VM_ACCOUNT),
		  VM_HUGETLB | VM_DONTEXPAND | VM_NORESERVE);
	ASSERT_EQ(committed(t), before);
	ASSERT(sim_smap(m, t, out, &s));
	ASSERT_EQ(s.kernel_page_kb, 2048);
	ASSERT_STREQ(s.vmflags, "rd wr mr mw me de nr ht ");
	ASSERT_EQ(memlab_touch(t, out, 1, 'r', &code), -MEMLAB_EFAULT);
	ASSERT_EQ(code, MEMLAB_BUS_ADRERR);
	ASSERT_EQ(memlab_touch(t, out + HPAGE - 1, 1, 'w', &code), -MEMLAB_EFAULT);
	ASSERT_EQ(code, MEMLAB_BUS_ADRERR);
	/* shared: the same file type, VM_SHARED; 1 GiB pages on their own mount */
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, HUGE_NR ^ MEMLAB_MAP_PRIVATE ^ MEMLAB_MAP_SHARED,
			      NULL, 0, &out));
	ASSERT_STREQ(vma_at(t, out).perms, "rw-s");
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, HUGE_NR | MEMLAB_MAP_HUGE_1GB, NULL, 0, &out));
	v = vma_at(t, out);
	ASSERT_EQ(v.end - v.start, GPAGE);
	ASSERT_EQ(out & (GPAGE - 1), 0);
	ASSERT_EQ(v.dev_minor, 0x12);
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, HUGE | MEMLAB_MAP_HUGE_1GB, NULL, 0, &out),
		  -MEMLAB_ENOMEM);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* The errno of every argument ksys_mmap_pgoff, do_mmap and hugetlbfs check (host-checked). */
TEST(hugetlb_errors)
{
	static const struct { uint64_t len, off; int flags, prot, err; } cases[] = {
		{ 0, 0, HUGE_NR, RW, MEMLAB_EINVAL },			/* do_mmap: len 0 */
		{ 0, 0, HUGE, RW, MEMLAB_EINVAL },
		{ UINT64_MAX, 0, HUGE_NR, RW, MEMLAB_EINVAL },		/* ALIGN wraps to 0 */
		{ (uint64_t)0 - HPAGE + 1, 0, HUGE_NR, RW, MEMLAB_EINVAL },
		{ 1ull << 47, 0, HUGE_NR, RW, MEMLAB_ENOMEM },		/* > TASK_SIZE */
		{ PG, 0, HUGE_NR | MEMLAB_MAP_HUGE_64KB, RW, MEMLAB_EINVAL },	/* no such hstate */
		{ PG, 0, HUGE_NR | (12 << MEMLAB_MAP_HUGE_SHIFT), RW, MEMLAB_EINVAL },
		{ PG, 0, HUGE_NR | (int)(63u << MEMLAB_MAP_HUGE_SHIFT), RW, MEMLAB_EINVAL },
		{ PG, 0, HUGE_NR | (1 << MEMLAB_MAP_HUGE_SHIFT), RW, MEMLAB_EINVAL },
		{ PG, PG, HUGE_NR, RW, MEMLAB_EINVAL },			/* offset not huge-aligned */
		{ PG, 1, HUGE_NR, RW, MEMLAB_EINVAL },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_GROWSDOWN, RW, MEMLAB_EINVAL },
		{ PG, 0, (HUGE_NR & ~MEMLAB_MAP_PRIVATE), RW, MEMLAB_EINVAL },	/* no type */
		{ PG, 0, HUGE_NR ^ MEMLAB_MAP_PRIVATE ^ MEMLAB_MAP_DROPPABLE, RW, MEMLAB_EINVAL },
		{ PG, 0, (HUGE_NR | MEMLAB_MAP_SHARED_VALIDATE | MEMLAB_MAP_SYNC), RW, MEMLAB_EOPNOTSUPP },
		{ HPAGE, 0, HUGE ^ MEMLAB_MAP_PRIVATE ^ MEMLAB_MAP_SHARED, RW, MEMLAB_ENOMEM },
	};
	memlab_task *t;
	memlab_machine *m = x86(&t);
	memlab_file *f;
	uint64_t out;

	ASSERT(m);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = memlab_mmap(t, 0, cases[i].len, cases[i].prot, cases[i].flags, NULL,
				     cases[i].off, &out);

		if (rc != -cases[i].err)
			TEST_FAIL("case %zu: %s, want %s", i, rc ? memlab_err_name(rc) : "success",
				  memlab_err_name(cases[i].err));
	}
	/* a regular file is not on hugetlbfs */
	ASSERT_OK(memlab_file_create(m, "/tmp/f", HPAGE, 1, &f));
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, MEMLAB_MAP_PRIVATE | MEMLAB_MAP_HUGETLB, f, 0, &out),
		  -MEMLAB_EINVAL);
	/* LEGACY_MAP_MASK holds MAP_HUGE_2MB | MAP_HUGE_1GB: sizes below 2^32 pass validation */
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, MEMLAB_MAP_SHARED_VALIDATE | (int)MEMLAB_MAP_HUGE_2GB,
			      f, 0, &out));
	ASSERT_EQ(memlab_mmap(t, 0, PG, RW, MEMLAB_MAP_SHARED_VALIDATE | (int)MEMLAB_MAP_HUGE_16GB,
			      f, 0, &out), -MEMLAB_EOPNOTSUPP);
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, (HUGE_NR ^ MEMLAB_MAP_PRIVATE) | MEMLAB_MAP_SHARED_VALIDATE |
			      (int)MEMLAB_MAP_HUGE_1GB, NULL, 0, &out));
	/* accepted: a huge-aligned offset (shown in maps), MAP_LOCKED (not mlocked), MAP_SYNC */
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, HUGE_NR, NULL, HPAGE, &out));
	ASSERT_EQ(vma_at(t, out).offset, HPAGE);
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, HUGE_NR | MEMLAB_MAP_LOCKED, NULL, 0, &out));
	ASSERT_EQ(vma_at(t, out).vm_flags & VM_LOCKED, 0);
	ASSERT_OK(memlab_mmap(t, 0, PG, RW, HUGE_NR | MEMLAB_MAP_SYNC, NULL, 0, &out));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** Placement and what may change a hugetlb VMA: MAP_FIXED and hints are
** huge page aligned; munmap, mprotect and mremap only in whole huge
** pages; mremap never grows it; a reservation that fails after MAP_FIXED
** unmapped the range leaves it unmapped (all host-checked).
*/
TEST(hugetlb_vma_ops)
{
	memlab_task *t;
	memlab_machine *m = x86(&t);
	uint64_t out, w = REGION;

	ASSERT(m);
	ASSERT_EQ(memlab_mmap(t, w + PG, PG, RW, HUGE_NR | MEMLAB_MAP_FIXED, NULL, 0, &out),
		  -MEMLAB_EINVAL);
	ASSERT_OK(memlab_mmap(t, w, 2 * HPAGE, RW, HUGE_NR | MEMLAB_MAP_FIXED, NULL, 0, &out));
	ASSERT_EQ(memlab_mmap(t, w, PG, RW, HUGE_NR | MEMLAB_MAP_FIXED_NOREPLACE, NULL, 0, &out),
		  -MEMLAB_EEXIST);
	ASSERT_OK(memlab_mmap(t, w + 8 * HPAGE + PG, PG, RW, HUGE_NR, NULL, 0, &out));
	ASSERT_EQ(out, w + 9 * HPAGE);		/* the hint, rounded up */
	ASSERT_EQ(memlab_munmap(t, w, PG), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_munmap(t, w + PG, PG), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mprotect(t, w, PG, MEMLAB_PROT_READ), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_mprotect(t, w, HPAGE, MEMLAB_PROT_READ));	/* splits at a huge page */
	ASSERT_STREQ(vma_at(t, w).perms, "r--p");
	ASSERT_EQ(vma_at(t, w).end, w + HPAGE);
	ASSERT_EQ(memlab_mremap(t, w, HPAGE, 2 * HPAGE, MEMLAB_MREMAP_MAYMOVE, 0, &out),
		  -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mremap(t, w, HPAGE, HPAGE, 0, 1, &out), -MEMLAB_EINVAL);	/* junk new_addr */
	ASSERT_OK(memlab_mremap(t, w + HPAGE, 2 * HPAGE, PG, 0, 0, &out));	/* no change */
	ASSERT_EQ(vma_at(t, w + HPAGE).end, w + 2 * HPAGE);
	ASSERT_OK(memlab_mremap(t, w, PG, PG, MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED,
				w + 16 * HPAGE, &out));	/* moves the whole huge page */
	ASSERT_EQ(vma_at(t, w + 16 * HPAGE).end, w + 17 * HPAGE);
	ASSERT_EQ(memlab_mremap(t, w + HPAGE, HPAGE, HPAGE, MEMLAB_MREMAP_MAYMOVE |
				MEMLAB_MREMAP_DONTUNMAP, 0, &out), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_munmap(t, w + HPAGE, HPAGE));
	/* ENOMEM after the old mapping went */
	ASSERT_OK(memlab_mmap(t, w, 4 * PG, RW, ANON | MEMLAB_MAP_FIXED, NULL, 0, &out));
	ASSERT_EQ(memlab_mmap(t, w, HPAGE, RW, HUGE | MEMLAB_MAP_FIXED, NULL, 0, &out),
		  -MEMLAB_ENOMEM);
	ASSERT_EQ(vma_at(t, w).end, 0);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* arm64's hstates: PMD (default), PUD with 4K pages, CONT_PMD and CONT_PTE. */
TEST(hugetlb_arm64_sizes)
{
	static const struct { uint32_t page; unsigned ok[4], bad; } cases[] = {
		{ 4096, { 21, 30, 25, 16 }, 29 },
		{ 16384, { 25, 30, 21, 0 }, 16 },
		{ 65536, { 29, 34, 21, 0 }, 30 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memlab_task *t;
		memlab_machine *m = mk(MEMLAB_ARCH_ARM64, cases[i].page, &t);
		uint64_t out;

		ASSERT(m);
		ASSERT_OK(memlab_mmap(t, 0, 1, RW, HUGE_NR, NULL, 0, &out));
		ASSERT_EQ(vma_at(t, out).end - out, 1ull << cases[i].ok[0]);
		for (int k = 0; k < 4 && cases[i].ok[k]; k++) {
			if (cases[i].ok[k] > 30)
				continue;	/* 16 GiB: more than the address space left */
			ASSERT_OK(memlab_mmap(t, 0, 1, RW, HUGE_NR | (int)(cases[i].ok[k] << MEMLAB_MAP_HUGE_SHIFT),
					      NULL, 0, &out));
			ASSERT_EQ(vma_at(t, out).end - out, 1ull << cases[i].ok[k]);
			ASSERT_EQ(vma_at(t, out).dev_minor, 0x11u + (unsigned)k);
		}
		ASSERT_EQ(memlab_mmap(t, 0, 1, RW, HUGE_NR | (int)(cases[i].bad << MEMLAB_MAP_HUGE_SHIFT),
				      NULL, 0, &out), -MEMLAB_EINVAL);
		ASSERT_CHECK(m);
		memlab_destroy(m);
	}
}

/* ===================== against the host ===================== */

static int host_is_comparable(const char *what)
{
	struct utsname u;
	char buf[32];
	FILE *f;
	long v = -1;

	if (uname(&u) || strcmp(u.machine, "x86_64") != 0 || sysconf(_SC_PAGESIZE) != 4096) {
		printf("  skip %s: not an x86-64 host with 4 KiB pages\n", what);
		return 0;
	}
	f = fopen("/proc/sys/vm/nr_hugepages", "r");
	if (f && fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	if (f)
		fclose(f);
	if (v != 0) {
		printf("  skip %s: the host has huge pages reserved (or no hugetlb)\n", what);
		return 0;
	}
	return 1;
}

/* The host's smaps entry of the VMA at addr; 0 if none. */
static int host_smap(uint64_t addr, struct smap *s)
{
	static char text[1 << 20];
	FILE *f = fopen("/proc/self/smaps", "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	return smap_of(text, addr, s);
}

/*
** The same mmap() calls on the host and in memlab, the address left to
** each kernel: the same errno, or the same smaps entry (perms, size,
** offset, device, name, KernelPageSize, VmFlags) -- inodes and addresses
** aside.
*/
TEST(host_droppable_hugetlb)
{
	static const struct { uint64_t len, off; unsigned flags; int prot; } cases[] = {
		{ 2 * PG, 0, DROP, RW }, { PG, 0, DROP | MEMLAB_MAP_STACK, RW },
		{ PG, 0, DROP | MEMLAB_MAP_SYNC, RW }, { PG, 0, DROP, MEMLAB_PROT_NONE },
		{ PG, 0, DROP | MEMLAB_MAP_LOCKED, RW }, { PG, 0, DROP | MEMLAB_MAP_GROWSDOWN, RW },
		{ PG, 0, DROP | MEMLAB_MAP_HUGETLB, RW }, { PG, 0, DROP | 1, RW },
		{ HPAGE, 0, HUGE, RW }, { PG, 0, HUGE_NR, RW }, { 3 * HPAGE - 1, 0, HUGE_NR, RW },
		{ PG, 0, HUGE_NR, MEMLAB_PROT_READ | MEMLAB_PROT_EXEC }, { PG, 0, HUGE_NR, 0 },
		{ PG, HPAGE, HUGE_NR, RW }, { PG, PG, HUGE_NR, RW }, { 0, 0, HUGE_NR, RW },
		{ UINT64_MAX, 0, HUGE_NR, RW }, { PG, 0, HUGE_NR | MEMLAB_MAP_HUGE_1GB, RW },
		{ PG, 0, HUGE | MEMLAB_MAP_HUGE_1GB, RW }, { PG, 0, HUGE_NR | MEMLAB_MAP_HUGE_2MB, RW },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_HUGE_64KB, RW }, { PG, 0, HUGE_NR | MEMLAB_MAP_LOCKED, RW },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_SYNC, RW }, { PG, 0, HUGE_NR | MEMLAB_MAP_STACK, RW },
		{ PG, 0, HUGE_NR ^ MEMLAB_MAP_PRIVATE ^ MEMLAB_MAP_SHARED, RW },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_SHARED_VALIDATE, RW },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_SHARED_VALIDATE | MEMLAB_MAP_SYNC, RW },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_SHARED_VALIDATE | MEMLAB_MAP_HUGE_1GB, RW },
		{ PG, 0, HUGE_NR | MEMLAB_MAP_SHARED_VALIDATE | MEMLAB_MAP_HUGE_16GB, RW },
		{ PG, 0, HUGE_NR & ~MEMLAB_MAP_PRIVATE, RW }, { PG, 0, HUGE_NR | MEMLAB_MAP_GROWSDOWN, RW },
	};
	memlab_task *t;
	memlab_machine *m;
	long probe;

	if (!host_is_comparable("host_droppable_hugetlb"))
		return;
	probe = syscall(SYS_mmap, 0, PG, RW, DROP, -1, 0);
	if (probe == -1) {
		printf("  skip host_droppable_hugetlb: the host kernel has no MAP_DROPPABLE\n");
		return;
	}
	munmap((void *)probe, PG);
	m = x86(&t);
	ASSERT(m);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long h = syscall(SYS_mmap, 0, cases[i].len, cases[i].prot, cases[i].flags, -1,
				 cases[i].off);
		int herr = h == -1 ? errno : 0, rc;
		uint64_t out = 0;
		struct smap hs, ms;

		rc = memlab_mmap(t, 0, cases[i].len, cases[i].prot, (int)cases[i].flags, NULL,
				 cases[i].off, &out);
		if (rc != -herr)
			TEST_FAIL("case %zu: host %s, memlab %s", i, herr ? memlab_err_name(herr) : "ok",
				  rc ? memlab_err_name(rc) : "ok");
		if (herr)
			continue;
		if (!host_smap((uint64_t)h, &hs) || !sim_smap(m, t, out, &ms))
			TEST_FAIL("case %zu: no smaps entry", i);
		munmap((void *)h, hs.size);
		if (strcmp(hs.perms, ms.perms) || hs.size != ms.size || hs.offset != ms.offset ||
		    hs.maj != ms.maj || hs.min != ms.min || strcmp(hs.name, ms.name) ||
		    hs.kernel_page_kb != ms.kernel_page_kb || strcmp(hs.vmflags, ms.vmflags))
			TEST_FAIL("case %zu:\n    host   %s %#llx off %#llx %02x:%02x %s %llu kB [%s]\n"
				  "    memlab %s %#llx off %#llx %02x:%02x %s %llu kB [%s]", i,
				  hs.perms, hs.size, hs.offset, hs.maj, hs.min, hs.name, hs.kernel_page_kb,
				  hs.vmflags, ms.perms, ms.size, ms.offset, ms.maj, ms.min, ms.name,
				  ms.kernel_page_kb, ms.vmflags);
	}
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(droppable_flags);
	RUN(droppable_errors);
	RUN(droppable_merge);
	RUN(hugetlb_noreserve);
	RUN(hugetlb_errors);
	RUN(hugetlb_vma_ops);
	RUN(hugetlb_arm64_sizes);
	RUN(host_droppable_hugetlb);
	return test_summary();
}
