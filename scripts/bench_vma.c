/*
** bench_vma.c -- how fast memlab's address-space layer is, next to the
** kernel this program runs on doing the same work.
**
**   bench_vma [--json] [--time SECONDS] [--vmas N]
**
** The same workload code runs on two address spaces: a memlab task
** (through the public C API) and this very process (real mmap, munmap,
** mprotect, mincore and madvise system calls).  Each first gets a region
** of --vmas (default 10000) one-page anonymous private VMAs that cannot
** merge, because their protections alternate r-- and rw-:
**
**   guard | r-- | rw- | r-- | ... | rw- x3 (BIG) | ... | hole | ... | guard
**
** The guards are PROT_NONE pages left over from the reservation; the hole
** is one free page between two r-- VMAs; BIG is a three-page rw- VMA.
** Then, each timed for about --time seconds (default 0.5) after a warm-up:
**
**   mmap_slot    mmap(hint = the hole, 1 page, rw-) + munmap: the hint is
**                free, the new VMA merges with neither neighbour
**   mmap_any     mmap(hint 0, 1 page, rw-) + munmap: get_unmapped_area's
**                top-down gap search
**   find_vma     lookups of random pages of the region (a fixed-seed
**                table) with memlab_find_vma(t, addr, &info): the task's
**                vmacache (which misses: 10,000 random pages), the VMA
**                tree, and the VMA copied out as a memlab_vma_info.  The
**                host has no bare lookup; two calls that make the kernel
**                look the VMA up without faulting the page in stand for it:
**                  mincore(addr, 1 page): mmap read lock, vma_lookup,
**                    a page-table walk that finds nothing, plus a
**                    temporary page and a one-byte copy_to_user;
**                  madvise(addr, 1 page, MADV_NORMAL): mmap write lock,
**                    find_vma_prev, and the flags are unchanged so the
**                    VMA is left as it is.
**                Both add a system call's entry and exit to the lookup;
**                the goal is checked against the faster of the two.
**                (Before memlab_find_vma existed this row timed
**                memlab_touch, which since the MMU is a TLB miss and a
**                page walk more than a lookup: 133 ns.)
**   mprotect     mprotect(middle page of BIG, r--) then back to rw-: a
**                split into three VMAs and a merge back into one
**
** It prints operations per second for each side and the ratio
** memlab/host (pairs for mmap+munmap and mprotect), memlab's vmacache hit
** rate during the lookups, the host's bare system call cost next to what
** the goal asks of memlab in ns, and whether the project's goal is met:
** memlab at least 20x the host's rate for mmap+munmap and for find_vma.
** --json prints one JSON object instead.  Progress goes to stderr.  Numbers
** depend on the host (its CPU, its kernel's mitigations): this is a
** measurement, never a test.
**
** The table also gives the host's floor: a system call that does nothing
** (getppid), which every host number contains once per call.
**
** Results on the reference host (Linux 6.18, x86-64 guest under KVM, 2
** cores, Release build, 3 runs of --time 1), in ns per operation (per
** pair for mmap+munmap and mprotect), with the MMU (page tables, TLBs) and
** the mmap_lock in the path:
**
**                              memlab  host  memlab/host
**   mmap+munmap, free slot        190   727     3.8x
**   mmap+munmap, hint 0           211  1354     6.4x
**   find_vma vs madvise            58   209     3.6x
**   find_vma vs mincore            58   436     7.5x
**   mprotect split+merge          178  2483    14x
**   host: getppid()                      79
**
** (Since VMAs are objects of the vm_area_struct slab cache, as in Linux,
** each mmap+munmap pair also allocates and frees one: about 20 ns of the
** 190; it was 167 ns and 4.3x before.)
**
** mprotect also rewrites page-table entries and flushes the TLBs.  The
** analysis below is of the lookups and the tree.
**
** Where memlab's time goes (a separate perf run, its ns a few off the
** table's; Release build, 10,000 VMAs; the VMAs
** are in a B-tree of 16-slot nodes keyed by vm_end, core/vma_tree.c):
**   - find_vma (53 ns): the vmacache (4 entries) misses for random
**     addresses; the tree's descent is 4 levels, each a load of 16 keys
**     and 16 compares before the next node's address is known (about
**     15 cycles) -- 70% of the time; the first read of the VMA it found
**     (copied out), an L2 miss, is most of the rest.  (Copying the name
**     with snprintf cost another 35 ns, until vma_name learned to copy
**     fixed names with memcpy.)
**   - mmap+munmap into the free slot (162 ns): three lookups of the same
**     address (get_unmapped_area's hint check, mmap_region, munmap), 20
**     ns each, 39%; the gap updates, 22%: filling the only free gap of
**     its subtree changes the largest gap of every node up to the root
**     (each rescans its 16 gaps), and munmap reopens it; inserting and
**     erasing the leaf slot 12%; do_mmap's checks and the accounting the
**     rest.
**   - hint 0 (186 ns): the same, plus the top-down gap search
**     (vma_tree_gap_rev) for a third.
**   - mprotect split+merge (121 ns): two splits and a three-way merge:
**     key and gap updates 21%, the lookup 20%, leaf inserts and erases
**     25%, mprotect's checks and accounting the rest.
**
** Why 20x is out of reach for mmap+munmap and find_vma: the goal asks
** memlab for 197 / 20 = 10 ns per lookup and 720 / 20 = 36 ns per
** mmap+munmap pair.
**   - A lookup among 10,000 VMAs is a chain of dependent memory reads:
**     4 levels of B-tree (Linux's maple tree has 16-slot nodes too), then
**     the VMA.  Their latency alone is about 35 ns on this CPU (measured
**     on the same tree shape outside memlab).  The host's 197 ns hold,
**     besides its lookup and the mmap lock, 78 ns of system call entry
**     and exit (retpolines and RSB filling under KVM) that memlab, a
**     function call away, never pays; without them the host works 119
**     ns a lookup, 2.2x memlab's 53.
**   - An mmap+munmap pair looks the address up three times, inserts and
**     erases a leaf slot and walks the gaps up the tree both ways: 162
**     ns.  The host spends about 156 ns (twice getppid's 78) of its 720
**     in its two system calls' entries and exits alone, nearly memlab's
**     whole pair; its other 564 ns are 3.5x memlab's.
** Handing the VMA that get_unmapped_area's hint check found on to
** mmap_region would save one of the lookups (13 ns, measured); no design
** that keeps Linux's gap tree and a real lookup per call gets to 10 and
** 36 ns.
*/
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "memlab/memlab.h"

#define GOAL_RATIO	20.0
#define NR_LOOKUPS	(1u << 16)	/* size of the random address table */
#define BIG_PAGES	3

struct result {
	const char *name;	/* key in the JSON output */
	const char *what;	/* row label in the table */
	uint64_t ops;
	double seconds;
};

/*
** One address space with the region in it.  The operations take memlab's
** PROT_* values (the kernel's on x86-64 and arm64) and return 0 or a
** negative errno, whichever side runs them.
*/
struct space {
	const char *name;
	int (*map)(struct space *s, uint64_t hint, uint64_t len, int prot,
		   int fixed, uint64_t *out);
	int (*unmap)(struct space *s, uint64_t addr, uint64_t len);
	int (*protect)(struct space *s, uint64_t addr, uint64_t len, int prot);
	int (*lookup)(struct space *s, uint64_t addr);
	memlab_task *task;	/* memlab's side only */
	uint64_t page;		/* page size */
	uint64_t base;		/* the region's first page (a guard) */
	uint64_t len;		/* the region's length, guards included */
};

/* The layout, shared by both sides (set in main from --vmas). */
static unsigned nr_vmas;	/* VMAs in the region, guards excluded */
static unsigned big_slot;	/* odd: rw- between two r-- */
static unsigned hole_slot;	/* odd: free between two r-- */
static uint32_t lookup_page[NR_LOOKUPS];	/* page index in the region */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const struct space *s, const char *what, int rc)
{
	fprintf(stderr, "bench_vma: %s: %s: %s\n", s ? s->name : "setup",
		what, memlab_strerror(rc));
	exit(1);
}

/* xorshift64*: the lookups are the same sequence on every run. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* ---- the two sides ---- */

static int ml_map(struct space *s, uint64_t hint, uint64_t len, int prot,
		  int fixed, uint64_t *out)
{
	int flags = MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS;

	return memlab_mmap(s->task, hint, len, prot,
			   fixed ? flags | MEMLAB_MAP_FIXED : flags, NULL, 0, out);
}

static int ml_unmap(struct space *s, uint64_t addr, uint64_t len)
{
	return memlab_munmap(s->task, addr, len);
}

static int ml_protect(struct space *s, uint64_t addr, uint64_t len, int prot)
{
	return memlab_mprotect(s->task, addr, len, prot);
}

static int ml_lookup(struct space *s, uint64_t addr)
{
	struct memlab_vma_info vi;

	return memlab_find_vma(s->task, addr, &vi);
}

static int host_prot(int prot)
{
	return (prot & MEMLAB_PROT_READ ? PROT_READ : 0) |
	       (prot & MEMLAB_PROT_WRITE ? PROT_WRITE : 0) |
	       (prot & MEMLAB_PROT_EXEC ? PROT_EXEC : 0);
}

static int host_map(struct space *s, uint64_t hint, uint64_t len, int prot,
		    int fixed, uint64_t *out)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0);
	void *p = mmap((void *)(uintptr_t)hint, len, host_prot(prot), flags, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*out = (uint64_t)(uintptr_t)p;
	return 0;
}

static int host_unmap(struct space *s, uint64_t addr, uint64_t len)
{
	return munmap((void *)(uintptr_t)addr, len) ? -errno : 0;
}

static int host_protect(struct space *s, uint64_t addr, uint64_t len, int prot)
{
	return mprotect((void *)(uintptr_t)addr, len, host_prot(prot)) ? -errno : 0;
}

static int host_mincore(struct space *s, uint64_t addr)
{
	unsigned char vec;

	return mincore((void *)(uintptr_t)addr, s->page, &vec) ? -errno : 0;
}

static int host_madvise(struct space *s, uint64_t addr)
{
	return madvise((void *)(uintptr_t)addr, s->page, MADV_NORMAL) ? -errno : 0;
}

/* The floor under every host number: a system call that does nothing. */
static int host_null(struct space *s, uint64_t addr)
{
	return syscall(SYS_getppid) > 0 ? 0 : -EINVAL;
}

/* ---- the region ---- */

/* Slot j's first page, counted from the region's base (page 0 is a guard). */
static uint64_t slot_page(unsigned j)
{
	return 1 + (uint64_t)j + (j > big_slot ? BIG_PAGES - 1 : 0);
}

static uint64_t slot_addr(const struct space *s, unsigned j)
{
	return s->base + slot_page(j) * s->page;
}

static int slot_prot(unsigned j)
{
	return j & 1 ? MEMLAB_PROT_READ | MEMLAB_PROT_WRITE : MEMLAB_PROT_READ;
}

/*
** Reserve the region PROT_NONE where the side's mmap puts it, then map
** every slot but the hole over it with MAP_FIXED, and free the hole.
*/
static void region_build(struct space *s)
{
	uint64_t pages = slot_page(nr_vmas) + 1 + 1, out;
	int rc;

	s->len = pages * s->page;
	if ((rc = s->map(s, 0, s->len, MEMLAB_PROT_NONE, 0, &s->base)) != 0)
		fail(s, "reserve the region", rc);
	for (unsigned j = 0; j <= nr_vmas; j++) {
		uint64_t len = (j == big_slot ? BIG_PAGES : 1) * s->page;

		if (j == hole_slot)
			rc = s->unmap(s, slot_addr(s, j), len);
		else
			rc = s->map(s, slot_addr(s, j), len, slot_prot(j), 1, &out);
		if (rc != 0)
			fail(s, "map a slot", rc);
	}
}

static void region_free(struct space *s)
{
	int rc = s->unmap(s, s->base, s->len);

	if (rc != 0)
		fail(s, "unmap the region", rc);
}

/* Random pages of the region's VMAs (never a guard nor the hole). */
static void lookups_fill(void)
{
	uint64_t rng = 0x5eed;

	for (unsigned i = 0; i < NR_LOOKUPS; i++) {
		uint64_t r = next_random(&rng);
		unsigned j = (unsigned)(r % (nr_vmas + 1));

		if (j == hole_slot)
			j--;
		lookup_page[i] = (uint32_t)(slot_page(j) +
			(j == big_slot ? (r >> 32) % BIG_PAGES : 0));
	}
}

/* ---- the workloads: each runs `rounds` rounds, returns operations done ---- */

static uint64_t run_mmap_slot(struct space *s, uint64_t rounds)
{
	uint64_t hole = slot_addr(s, hole_slot), addr;
	int rc;

	for (uint64_t i = 0; i < rounds; i++) {
		rc = s->map(s, hole, s->page, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE, 0, &addr);
		if (rc != 0 || addr != hole)
			fail(s, "mmap at the hole", rc ? rc : -MEMLAB_EFAULT);
		if ((rc = s->unmap(s, addr, s->page)) != 0)
			fail(s, "munmap", rc);
	}
	return rounds;
}

static uint64_t run_mmap_any(struct space *s, uint64_t rounds)
{
	uint64_t addr;
	int rc;

	for (uint64_t i = 0; i < rounds; i++) {
		rc = s->map(s, 0, s->page, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE, 0, &addr);
		if (rc != 0)
			fail(s, "mmap(NULL)", rc);
		if ((rc = s->unmap(s, addr, s->page)) != 0)
			fail(s, "munmap", rc);
	}
	return rounds;
}

static uint64_t run_lookup(struct space *s, uint64_t rounds)
{
	uint64_t i;
	int rc;

	for (i = 0; i < rounds; i++) {
		uint64_t addr = s->base + lookup_page[i & (NR_LOOKUPS - 1)] * s->page;

		if ((rc = s->lookup(s, addr)) != 0)
			fail(s, "lookup", rc);
	}
	return rounds;
}

static uint64_t run_mprotect(struct space *s, uint64_t rounds)
{
	uint64_t mid = slot_addr(s, big_slot) + s->page;
	int rc;

	for (uint64_t i = 0; i < rounds; i++) {
		if ((rc = s->protect(s, mid, s->page, MEMLAB_PROT_READ)) != 0)
			fail(s, "mprotect r--", rc);
		rc = s->protect(s, mid, s->page, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE);
		if (rc != 0)
			fail(s, "mprotect rw-", rc);
	}
	return rounds;
}

/*
** Time fn: double the rounds until one run takes a tenth of the budget
** (the warm-up), then run chunks of that size until the budget is spent.
*/
static void measure(struct space *s, uint64_t (*fn)(struct space *, uint64_t),
		    double budget, struct result *res)
{
	uint64_t rounds = 1;
	double t0;

	fprintf(stderr, "bench_vma: %s: %s ...\n", s->name, res->what);
	for (;;) {
		t0 = now();
		fn(s, rounds);
		if (now() - t0 >= budget / 10 || rounds >= (1ull << 40))
			break;
		rounds *= 2;
	}
	res->ops = 0;
	res->seconds = 0;
	while (res->seconds < budget) {
		t0 = now();
		res->ops += fn(s, rounds);
		res->seconds += now() - t0;
	}
}

static double rate(const struct result *r)
{
	return (double)r->ops / r->seconds;
}

/* ---- sanity: the layout is what the numbers claim ---- */

static int map_count(struct space *s)
{
	struct memlab_mm_info info;
	char line[512];
	FILE *f;
	int n = 0;

	if (s->task) {
		memlab_mm_info(s->task, &info);
		return info.map_count;
	}
	if (!(f = fopen("/proc/self/maps", "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '\n') != NULL;
	fclose(f);
	return n;
}

/* One split+merge must change the VMA count by +2 then back. */
static void check_layout(struct space *s)
{
	uint64_t mid = slot_addr(s, big_slot) + s->page;
	int before = map_count(s), split, after;

	if (before < (int)nr_vmas + 2) {
		fprintf(stderr, "bench_vma: %s: %d VMAs, expected at least %u\n",
			s->name, before, nr_vmas + 2);
		exit(1);
	}
	s->protect(s, mid, s->page, MEMLAB_PROT_READ);
	split = map_count(s);
	s->protect(s, mid, s->page, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE);
	after = map_count(s);
	if (split != before + 2 || after != before) {
		fprintf(stderr, "bench_vma: %s: mprotect gave %d then %d VMAs from %d\n",
			s->name, split, after, before);
		exit(1);
	}
}

/* ---- the report ---- */

enum { MMAP_SLOT, MMAP_ANY, LOOKUP, MPROTECT, NR_WORK };

struct report {
	struct result ml[NR_WORK];
	struct result host[NR_WORK];	/* host[LOOKUP] is mincore */
	struct result host_madvise;
	struct result host_syscall;	/* getppid(): a system call's entry and exit */
	uint64_t vmacache_hits, vmacache_misses;
	char kernel[256];
};

static const struct result *host_lookup(const struct report *r)
{
	return rate(&r->host_madvise) > rate(&r->host[LOOKUP]) ?
	       &r->host_madvise : &r->host[LOOKUP];
}

static double ratio(const struct result *ml, const struct result *host)
{
	return rate(ml) / rate(host);
}

static double hit_rate(const struct report *r)
{
	uint64_t all = r->vmacache_hits + r->vmacache_misses;

	return all ? 100.0 * (double)r->vmacache_hits / (double)all : 0;
}

static void print_row(const char *what, const struct result *ml,
		      const struct result *host)
{
	printf("%-44s %14.0f %14.0f %10.1fx\n", what, rate(ml), rate(host),
	       ratio(ml, host));
}

static double ns(const struct result *r)
{
	return 1e9 / rate(r);
}

/* What 20x the host asks of memlab, next to the host's system call floor. */
static void print_floor(const struct report *r)
{
	const struct result *lookup = host_lookup(r);

	printf("host: one system call's entry and exit (getppid) takes %.0f ns\n",
	       ns(&r->host_syscall));
	printf("  mmap+munmap: host %.0f ns a pair (%.0f of them in its two system calls), "
	       "memlab %.0f ns; %.0fx needs %.1f ns\n", ns(&r->host[MMAP_SLOT]),
	       2 * ns(&r->host_syscall), ns(&r->ml[MMAP_SLOT]), GOAL_RATIO,
	       ns(&r->host[MMAP_SLOT]) / GOAL_RATIO);
	printf("  find_vma: host %.0f ns a lookup (%.0f of it the system call), "
	       "memlab %.0f ns; %.0fx needs %.1f ns\n", ns(lookup), ns(&r->host_syscall),
	       ns(&r->ml[LOOKUP]), GOAL_RATIO, ns(lookup) / GOAL_RATIO);
}

static void print_table(const struct report *r)
{
	double mm = ratio(&r->ml[MMAP_SLOT], &r->host[MMAP_SLOT]);
	double fv = ratio(&r->ml[LOOKUP], host_lookup(r));

	printf("memlab address space vs the host kernel (%s), %u VMAs, 4 KiB pages\n",
	       r->kernel, nr_vmas);
	printf("%-44s %14s %14s %11s\n", "workload (ops/s; pairs for mmap, mprotect)",
	       "memlab", "host", "memlab/host");
	print_row("mmap+munmap, hint = a free slot", &r->ml[MMAP_SLOT], &r->host[MMAP_SLOT]);
	print_row("mmap+munmap, hint 0", &r->ml[MMAP_ANY], &r->host[MMAP_ANY]);
	print_row("find_vma: memlab_find_vma vs mincore", &r->ml[LOOKUP], &r->host[LOOKUP]);
	print_row("find_vma: memlab_find_vma vs madvise(NORMAL)", &r->ml[LOOKUP],
		  &r->host_madvise);
	print_row("mprotect split+merge", &r->ml[MPROTECT], &r->host[MPROTECT]);
	printf("memlab vmacache during the lookups: %.2f %% hits (%" PRIu64
	       " hits, %" PRIu64 " misses)\n", hit_rate(r), r->vmacache_hits,
	       r->vmacache_misses);
	print_floor(r);
	printf("goal: memlab >= %.0fx the host for mmap+munmap (free slot): %s (%.1fx)\n",
	       GOAL_RATIO, mm >= GOAL_RATIO ? "met" : "NOT met", mm);
	printf("goal: memlab >= %.0fx the host for find_vma (vs the faster of "
	       "mincore, madvise): %s (%.1fx)\n", GOAL_RATIO,
	       fv >= GOAL_RATIO ? "met" : "NOT met", fv);
}

static void print_json_result(const char *key, const struct result *res)
{
	printf("\"%s\":{\"ops\":%" PRIu64 ",\"seconds\":%.6f,\"ops_per_s\":%.1f}",
	       key, res->ops, res->seconds, rate(res));
}

static void print_json(const struct report *r)
{
	printf("{\"vmas\":%u,\"memlab\":{", nr_vmas);
	for (int i = 0; i < NR_WORK; i++) {
		printf(i ? "," : "");
		print_json_result(r->ml[i].name, &r->ml[i]);
	}
	printf("},\"host\":{");
	for (int i = 0; i < NR_WORK; i++) {
		printf(i ? "," : "");
		print_json_result(r->host[i].name, &r->host[i]);
	}
	printf(",");
	print_json_result(r->host_madvise.name, &r->host_madvise);
	printf(",");
	print_json_result(r->host_syscall.name, &r->host_syscall);
	printf("},\"ratio\":{\"mmap_slot\":%.3f,\"mmap_any\":%.3f,"
	       "\"find_vma\":%.3f,\"mprotect\":%.3f}",
	       ratio(&r->ml[MMAP_SLOT], &r->host[MMAP_SLOT]),
	       ratio(&r->ml[MMAP_ANY], &r->host[MMAP_ANY]),
	       ratio(&r->ml[LOOKUP], host_lookup(r)),
	       ratio(&r->ml[MPROTECT], &r->host[MPROTECT]));
	printf(",\"vmacache_hits\":%" PRIu64 ",\"vmacache_misses\":%" PRIu64,
	       r->vmacache_hits, r->vmacache_misses);
	printf(",\"goal_ratio\":%.1f,\"host_kernel\":\"%s\"}\n", GOAL_RATIO, r->kernel);
}

/* ---- the run ---- */

static void run_all(struct space *s, struct result *res, double budget)
{
	uint64_t (*const fn[NR_WORK])(struct space *, uint64_t) = {
		run_mmap_slot, run_mmap_any, run_lookup, run_mprotect,
	};

	for (int i = 0; i < NR_WORK; i++)
		measure(s, fn[i], budget, &res[i]);
}

static void run_memlab(struct report *r, double budget)
{
	struct memlab_config cfg;
	struct memlab_spawn_args args;
	struct memlab_mm_info before, after;
	struct space s = { "memlab", ml_map, ml_unmap, ml_protect, ml_lookup,
			   NULL, 0, 0, 0 };
	memlab_machine *m;
	int rc;

	memlab_config_init(&cfg);
	if ((rc = memlab_create(&cfg, &m)) != 0)
		fail(&s, "memlab_create", rc);
	memset(&args, 0, sizeof(args));
	args.name = "bench_vma";
	if ((rc = memlab_spawn(m, &args, &s.task)) != 0)
		fail(&s, "memlab_spawn", rc);
	s.page = cfg.page_size;
	fprintf(stderr, "bench_vma: memlab: building %u VMAs ...\n", nr_vmas);
	region_build(&s);
	check_layout(&s);
	measure(&s, run_mmap_slot, budget, &r->ml[MMAP_SLOT]);
	measure(&s, run_mmap_any, budget, &r->ml[MMAP_ANY]);
	memlab_mm_info(s.task, &before);
	measure(&s, run_lookup, budget, &r->ml[LOOKUP]);
	memlab_mm_info(s.task, &after);
	r->vmacache_hits = after.vmacache_hits - before.vmacache_hits;
	r->vmacache_misses = after.vmacache_misses - before.vmacache_misses;
	measure(&s, run_mprotect, budget, &r->ml[MPROTECT]);
	region_free(&s);
	memlab_task_exit(s.task);
	if (memlab_check(m, NULL, NULL) != 0) {
		fprintf(stderr, "bench_vma: memlab_check failed\n");
		exit(1);
	}
	memlab_destroy(m);
}

static void run_host(struct report *r, double budget)
{
	struct space s = { "host", host_map, host_unmap, host_protect,
			   host_mincore, NULL, 0, 0, 0 };
	struct utsname u;

	s.page = (uint64_t)sysconf(_SC_PAGESIZE);
	if (s.page != 4096) {
		fprintf(stderr, "bench_vma: the host's pages are not 4 KiB\n");
		exit(1);
	}
	if (uname(&u) == 0)
		snprintf(r->kernel, sizeof(r->kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	fprintf(stderr, "bench_vma: host: building %u VMAs ...\n", nr_vmas);
	region_build(&s);
	check_layout(&s);
	run_all(&s, r->host, budget);
	s.lookup = host_madvise;
	measure(&s, run_lookup, budget, &r->host_madvise);
	s.lookup = host_null;
	measure(&s, run_lookup, budget, &r->host_syscall);
	region_free(&s);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_vma [--json] [--time SECONDS] [--vmas N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct report r = {
		.ml = {
			{ "mmap_slot", "mmap+munmap, hint = a free slot", 0, 0 },
			{ "mmap_any", "mmap+munmap, hint 0", 0, 0 },
			{ "find_vma", "find_vma (memlab_find_vma)", 0, 0 },
			{ "mprotect", "mprotect split+merge", 0, 0 },
		},
		.host = {
			{ "mmap_slot", "mmap+munmap, hint = a free slot", 0, 0 },
			{ "mmap_any", "mmap+munmap, hint 0", 0, 0 },
			{ "find_vma_mincore", "find_vma (mincore)", 0, 0 },
			{ "mprotect", "mprotect split+merge", 0, 0 },
		},
		.host_madvise = { "find_vma_madvise", "find_vma (madvise MADV_NORMAL)", 0, 0 },
		.host_syscall = { "null_syscall", "a system call that does nothing (getppid)", 0, 0 },
		.kernel = "unknown kernel",
	};
	double budget = 0.5;
	long vmas = 10000;
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc)
			budget = atof(argv[++i]);
		else if (strcmp(argv[i], "--vmas") == 0 && i + 1 < argc)
			vmas = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	/* max_map_count is 65530 on both sides; leave room for the rest */
	if (budget <= 0 || vmas < 16 || vmas > 60000)
		usage();
	nr_vmas = (unsigned)vmas & ~1u;		/* even: slot nr_vmas is r-- */
	big_slot = (nr_vmas / 4) | 1;
	hole_slot = (nr_vmas / 2) | 1;
	lookups_fill();

	run_memlab(&r, budget);
	run_host(&r, budget);
	if (json)
		print_json(&r);
	else
		print_table(&r);
	return 0;
}
