/*
** diff_tlbbatch.c -- the TLB shootdowns of reclaim, on the host and in
** memlab: MADV_PAGEOUT of mapped file pages while another thread of the
** process runs on the other CPU.
**
**   diff_tlbbatch [-v]
**
** Reclaim unmaps a page with TTU_BATCH_FLUSH (mm/rmap.c): when the mm may
** be live on another CPU, the flush is left to try_to_unmap_flush(), which
** shrink_folio_list() calls before freeing each batch of 31 folios
** (free_folios) and at its end; MADV_PAGEOUT gives it one PMD's pages at
** a time (madvise_cold_or_pageout_pte_range -> reclaim_pages).  So N
** clean pages within one PMD cost ceil(N / 31) IPIs to the other CPU, not
** N; dirty file pages, unmapped but left to the flusher, one per PMD; and
** a CPU that went idle (lazy) none.  The mm keeps count of the deferred
** flushes, and the next walk that locks one of its PTE tables -- the
** next PMD's MADV_PAGEOUT, a munmap -- flushes it whole first
** (flush_tlb_batched_pending).
**
** Each case maps a file of N 4 KiB pages (its page cache written 4 KiB at
** a time: order-0 folios on ext4), at an address a given number of pages
** below a PMD boundary, reads (or writes) every page, and has a second
** thread run on CPU 1 -- spinning on a page of its own on the host --
** while the first, on CPU 0, calls madvise(MADV_PAGEOUT), or munmap (of
** the pages, or of what MADV_PAGEOUT left of them).  The host's count is
** CPU 1's "TLB" line of /proc/interrupts (irq_tlb_count: the flush IPIs
** it took) across the call; memlab's, CPU 1's
** nr_tlb_remote_flush_received, the same event (flush_tlb_func on a
** CPU that did not initiate the flush).  Some other work on the host can
** add an IPI, or take the spinner off its CPU for a moment (a
** hypervisor's preemption turns an IPI into a deferred flush: KVM's
** PV TLB flush): a case passes when one of up to five tries on the host
** gives memlab's number.
**
** Exit 0 when every case agrees, 1 when one differs, 77 when the host
** cannot run it (fewer than 2 CPUs usable, no TLB line in
** /proc/interrupts, a sanitizer: its allocator's own munmaps and madvises
** shoot down CPU 1 too), 2 when the harness fails.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memlab/memlab.h>

#include "diff_common.h"

#define PAGE		4096ull
#define PMD_SIZE	(2ull << 20)
#define SKIP_CODE	77
#define TRIES		5
#define K_MADV_PAGEOUT	21

/* What a case counts the IPIs of: MADV_PAGEOUT, or munmap (after a MADV_PAGEOUT). */
enum { PAGEOUT, MUNMAP, MUNMAP_AFTER_PAGEOUT };

struct tcase {
	const char *name;
	unsigned pages;
	unsigned below;		/* pages of the mapping below the PMD boundary (0: it starts there) */
	int dirty;		/* written through a shared writable mapping */
	int lazy;		/* the other thread exited before: its CPU is idle */
	int measured;		/* PAGEOUT, MUNMAP, MUNMAP_AFTER_PAGEOUT */
};

static const struct tcase cases[] = {
	{ "31 clean pages", 31, 0, 0, 0, PAGEOUT },
	{ "32 clean pages", 32, 0, 0, 0, PAGEOUT },
	{ "100 clean pages", 100, 0, 0, 0, PAGEOUT },
	{ "62 clean pages, 10 of them below a PMD boundary", 62, 10, 0, 0, PAGEOUT },
	{ "200 clean pages, 37 below a PMD boundary", 200, 37, 0, 0, PAGEOUT },
	{ "100 dirty pages", 100, 0, 1, 0, PAGEOUT },
	{ "100 dirty pages, 50 below a PMD boundary", 100, 50, 1, 0, PAGEOUT },
	{ "100 clean pages, the other CPU idle", 100, 0, 0, 1, PAGEOUT },
	{ "munmap of 100 mapped pages", 100, 0, 0, 0, MUNMAP },
	{ "munmap of 100 pages after their MADV_PAGEOUT", 100, 0, 0, 0, MUNMAP_AFTER_PAGEOUT },
};
#define NR_CASES	(sizeof(cases) / sizeof(cases[0]))

static int verbose;

/* ---- memlab ---- */

static void sim_report(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "diff_tlbbatch: memlab: %s\n", msg);
}

static uint64_t sim_received(memlab_machine *m)
{
	struct memlab_tlb_cpu_stats st;

	return memlab_tlb_cpu_stats(m, 1, &st) ? UINT64_MAX : st.nr_tlb_remote_flush_received;
}

/* The case on a fresh 2-CPU machine at addr: CPU 1's shootdowns, or -1. */
static int64_t sim_case(const struct tcase *c, uint64_t addr)
{
	struct memlab_config cfg;
	struct memlab_spawn_args sa = { .aslr = 0 };
	memlab_machine *m;
	memlab_task *p, *t;
	memlab_file *f;
	uint64_t len = c->pages * PAGE, a, own, before, after;
	int prot = MEMLAB_PROT_READ | (c->dirty ? MEMLAB_PROT_WRITE : 0), si, rc;

	memlab_config_init(&cfg);
	cfg.ram = 1ull << 30;
	cfg.seed = 1;
	cfg.cpus = 2;
	cfg.report = sim_report;
	if (memlab_create(&cfg, &m))
		return -1;
	rc = memlab_spawn(m, &sa, &p);
	rc = rc ? rc : memlab_clone(p, MEMLAB_CLONE_PTHREAD, &t);
	rc = rc ? rc : memlab_file_create(m, "/tmp/data", len, 1, &f);
	rc = rc ? rc : memlab_mmap(p, addr, len, prot, MEMLAB_MAP_SHARED | MEMLAB_MAP_FIXED, f, 0, &a);
	for (uint64_t i = 0; !rc && i < c->pages; i++)
		rc = memlab_touch(p, addr + i * PAGE, 1, c->dirty ? 'w' : 'r', &si);
	/* the thread runs on CPU 1, using memory of its own */
	rc = rc ? rc : memlab_mmap(t, 0, PAGE, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
				   MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &own);
	rc = rc ? rc : memlab_touch(t, own, 1, 'w', &si);
	if (!rc && (memlab_task_cpu(p) != 0 || memlab_task_cpu(t) != 1))
		rc = -MEMLAB_EINVAL;
	if (!rc && c->lazy)
		memlab_task_exit(t);
	if (!rc && c->measured == MUNMAP_AFTER_PAGEOUT)
		rc = memlab_madvise(p, addr, len, K_MADV_PAGEOUT);
	before = sim_received(m);
	if (!rc)
		rc = c->measured == PAGEOUT ? memlab_madvise(p, addr, len, K_MADV_PAGEOUT) :
					      memlab_munmap(p, addr, len);
	after = sim_received(m);
	if (!rc && memlab_check(m, NULL, NULL))
		rc = -MEMLAB_EINVAL;
	memlab_destroy(m);
	if (rc) {
		fprintf(stderr, "diff_tlbbatch: memlab: %s: %s\n", c->name, memlab_strerror(rc));
		return -1;
	}
	return (int64_t)(after - before);
}

/* ---- the host ---- */

static atomic_int spin_stop, spin_ready;
static volatile char spin_page[PAGE] __attribute__((aligned(PAGE)));

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* CPU cpu's count on the "TLB:" line of /proc/interrupts, or -1. */
static long tlb_irqs(int cpu)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[8192];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " ");

		if (strncmp(s, "TLB:", 4))
			continue;
		s += 4;
		for (int i = 0; i <= cpu; i++)
			v = strtol(s, &s, 10);
	}
	fclose(f);
	return v;
}

static void *spinner(void *arg)
{
	long sink = 0;

	(void)arg;
	if (pin(1))
		return NULL;
	atomic_store(&spin_ready, 1);
	while (!atomic_load(&spin_stop))
		sink += spin_page[0];
	return (void *)sink;
}

/* A file of n pages written 4 KiB at a time, clean; its fd, or -1. */
static int host_file(unsigned n)
{
	static char page[PAGE];
	char path[] = "/tmp/diff_tlbbatch.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	memset(page, 0x5a, sizeof(page));
	for (unsigned i = 0; i < n; i++)
		if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page)) {
			close(fd);
			return -1;
		}
	fsync(fd);
	return fd;
}

/* An address `below` pages under a PMD boundary with room for len after: reserved, then given up. */
static uint64_t host_addr(uint64_t len, unsigned below)
{
	uint64_t span = len + 2 * PMD_SIZE + below * PAGE, a, at;
	void *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (r == MAP_FAILED)
		return 0;
	a = (uint64_t)r;
	at = ((a + below * PAGE + PMD_SIZE - 1) & ~(PMD_SIZE - 1)) - below * PAGE;
	munmap(r, span);
	return at;
}

/* One try of the case on the host at addr: CPU 1's TLB IPIs across the madvise, or -1. */
static long host_try(const struct tcase *c, uint64_t addr)
{
	uint64_t len = c->pages * PAGE;
	int fd = host_file(c->pages), prot = PROT_READ | (c->dirty ? PROT_WRITE : 0);
	volatile char *p;
	pthread_t th;
	long before, after, sum = 0;
	void *ret;

	if (fd < 0)
		return -1;
	p = mmap((void *)addr, len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	for (uint64_t i = 0; i < c->pages; i++) {
		if (c->dirty)
			p[i * PAGE] = 1;
		else
			sum += p[i * PAGE];
	}
	atomic_store(&spin_stop, 0);
	atomic_store(&spin_ready, 0);
	if (pthread_create(&th, NULL, spinner, NULL)) {
		munmap((void *)p, len);
		return -1;
	}
	while (!atomic_load(&spin_ready))
		sched_yield();
	if (c->lazy) {
		atomic_store(&spin_stop, 1);
		pthread_join(th, &ret);
	}
	if (c->measured == MUNMAP_AFTER_PAGEOUT && madvise((void *)p, len, K_MADV_PAGEOUT))
		return -1;
	usleep(10000);
	before = tlb_irqs(1);
	if (c->measured == PAGEOUT ? madvise((void *)p, len, K_MADV_PAGEOUT) :
				     munmap((void *)p, len))
		before = -1;
	after = tlb_irqs(1);
	if (!c->lazy) {
		atomic_store(&spin_stop, 1);
		pthread_join(th, &ret);
	}
	if (c->measured == PAGEOUT)
		munmap((void *)p, len);
	(void)sum;
	return before < 0 || after < 0 ? -1 : after - before;
}

static int host_usable(void)
{
	if (SANITIZED) {	/* its allocator unmaps memory of the mm: IPIs of its own */
		fprintf(stderr, "diff_tlbbatch: skipped: under a sanitizer\n");
		return 0;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || pin(1) || pin(0)) {
		fprintf(stderr, "diff_tlbbatch: skipped: CPUs 0 and 1 are not both usable\n");
		return 0;
	}
	if (tlb_irqs(1) < 0) {
		fprintf(stderr, "diff_tlbbatch: skipped: no TLB line in /proc/interrupts\n");
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int failed = 0;

	if (diff_verbose_option(argc, argv, "diff_tlbbatch", &verbose))
		return 2;
	if (!host_usable())
		return SKIP_CODE;
	for (size_t k = 0; k < NR_CASES; k++) {
		const struct tcase *c = &cases[k];
		uint64_t addr = host_addr(c->pages * PAGE, c->below);
		long host[TRIES];
		int64_t sim;
		int n = 0, agree = 0;

		if (!addr)
			return 2;
		sim = sim_case(c, addr);
		if (sim < 0)
			return 2;
		while (n < TRIES && !agree) {
			host[n] = host_try(c, addr);
			if (host[n] < 0) {
				fprintf(stderr, "diff_tlbbatch: host: %s: the scenario failed\n", c->name);
				return 2;
			}
			agree = host[n++] == sim;
		}
		if (!agree || verbose) {
			printf("%-50s memlab %" PRId64 ", host", c->name, sim);
			for (int i = 0; i < n; i++)
				printf(" %ld", host[i]);
			printf(": %s\n", agree ? "agree" : "DIFFER");
		}
		failed |= !agree;
	}
	if (!failed)
		printf("diff_tlbbatch: %zu cases, memlab's shootdowns are the host's\n", NR_CASES);
	return failed;
}
