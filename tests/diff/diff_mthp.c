/*
** diff_mthp.c -- multi-size THP for anonymous memory, on the host and in
** memlab: which folio size each write fault takes, and what munmap,
** mprotect, mlock, munlock, fork, MADV_DONTNEED, MADV_COLD, MADV_FREE,
** MADV_PAGEOUT and MADV_COLLAPSE make of the folios.
**
**   diff_mthp [--first N] [--count N] [--seed N] [-v]
**
** Each seed draws the hugepages-<size>kB/enabled of every size below the
** PMD's ("madvise", "inherit" or "never": never "always", which would
** give every other process on the host large folios too) and of the PMD
** size ("inherit" or "never"), whether the 4 MiB region (2 MiB-aligned,
** at the same address on both sides) gets MADV_HUGEPAGE, and 1-12 steps:
** writes (one page, or a run of them), reads, munmap, mprotect (read-only
** and back), mremap (a move within the region), mlock, munlock, madvise,
** and a fork whose child writes some
** pages, has its region compared, and exits.  The host runs them in this process, the
** settings written to its sysfs for the seed (and put back at exit);
** memlab in a fresh machine whose transparent_hugepage/enabled is the
** host's, first and whole, so that its own memory faults nowhere near
** the host's counters.
**
** A MADV_FREE leaves up to 30 pages waiting in the CPU's lazyfree batch
** (a folio batch of 31), which Linux moves -- clearing their swapbacked
** bit -- whenever something on that CPU drains its batches, and not all
** of that memlab knows (a fork child's copy-on-write of certain pages
** drains them on the host): each MADV_FREE step is followed, on both
** sides, by a MADV_COLD of a page outside the region (madvise_cold
** drains the CPU's batches first), and the test keeps to one CPU.
**
** Compared after the steps, page by page of the region (of the child's
** before it exits): what maps it -- nothing, the zero page, a small page,
** the head of a large folio, a tail following the page before it in
** frames, another tail (pagemap PFNs and /proc/kpageflags) -- and its
** swapbacked, owner_2 (PG_anon_exclusive), mlocked and pagemap's
** exclusive bits;
** then the rise of each size's stats/ counters over the seed.  Those are
** the host's, any process's: a seed that differs is run again on the host
** up to three times before it is reported.
**
** Exit 0 when every seed agrees, 1 when one differs (each difference
** printed with its seed, which --seed N -v replays step by step), 77 when
** the host cannot run it (not root, no mTHP sizes, PMD size not 2 MiB,
** transparent_hugepage "never", a swap device: memlab's machine has none),
** 2 when the harness fails.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memlab/memlab.h>

#include "diff_common.h"

#define PAGE		4096ull
#define NPAGES		1024u		/* the region: 4 MiB */
#define REGION_LEN	(NPAGES * PAGE)
#define MAX_STEPS	12
#define MAX_CHILD_W	8
#define NSIZES		8		/* 16kB .. 2048kB */
#define SKIP_CODE	77
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"

#define K_MADV_DONTNEED	4
#define K_MADV_FREE	8
#define K_MADV_HUGEPAGE	14
#define K_MADV_COLD	20
#define K_MADV_PAGEOUT	21
#define K_MADV_COLLAPSE	25

/* The stats/ files compared, as their rise over a seed. */
static const char *const STATS[] = {
	"anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge", "swpout_fallback",
	"split", "split_failed", "split_deferred", "nr_anon", "nr_anon_partially_mapped",
};
#define NSTATS ((int)(sizeof(STATS) / sizeof(STATS[0])))

static const uint64_t region_candidates[] = {
	0x7e0000000000ULL, 0x7d0000000000ULL, 0x6e0000000000ULL,
};
static uint64_t R;
#define DRAIN_PAGE	(R - (2ull << 20))	/* MADV_COLD here drains the batches */

enum op { OP_WRITE, OP_WRITE_RUN, OP_READ, OP_MUNMAP, OP_MPROTECT, OP_FORK, OP_DONTNEED,
	  OP_COLD, OP_FREE, OP_PAGEOUT, OP_MLOCK, OP_MUNLOCK, OP_COLLAPSE, OP_MREMAP, NR_OPS };
static const char *const op_name[NR_OPS] = {
	"write", "write-run", "read", "munmap", "mprotect", "fork", "dontneed", "cold", "free",
	"pageout", "mlock", "munlock", "collapse", "mremap",
};

struct step {
	enum op op;
	uint32_t page, n;			/* the range, in pages of the region */
	uint32_t dst;				/* OP_MREMAP: where it moves to */
	uint32_t child_w[MAX_CHILD_W], nchild;	/* OP_FORK: the child's writes */
};

struct scenario {
	const char *mode[NSIZES];
	int hugepage;
	int nsteps;
	struct step s[MAX_STEPS];
};

/* What a side ends with. */
struct side {
	char map[NPAGES + 1], bits[NPAGES + 1];		/* the parent's region */
	char cmap[MAX_STEPS][NPAGES + 1], cbits[MAX_STEPS][NPAGES + 1];	/* each child's */
	int64_t stats[NSIZES][NSTATS];
	char err[256];
};

static int verbose;
static char host_enabled[16];
static char saved[NSIZES][16];		/* the host's settings, put back at exit */
static int saved_ok;

/* ===================== the host's sysfs ===================== */

static unsigned size_kb(int i)
{
	return 16u << i;
}

static void size_path(char *buf, size_t n, int i, const char *file)
{
	snprintf(buf, n, THP_DIR "/hugepages-%ukB/%s", size_kb(i), file);
}

static void restore_settings(void)
{
	char path[128];

	if (!saved_ok)
		return;
	for (int i = 0; i < NSIZES; i++) {
		size_path(path, sizeof path, i, "enabled");
		diff_write_text(path, saved[i]);
	}
}

static void on_signal(int sig)
{
	restore_settings();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int64_t read_stat(int i, const char *name)
{
	char path[160], buf[32];

	snprintf(path, sizeof path, THP_DIR "/hugepages-%ukB/stats/%s", size_kb(i), name);
	return diff_read_text(path, buf, sizeof buf) ? -1 : strtoll(buf, NULL, 10);
}

/* ===================== drawing a scenario ===================== */

static void draw(uint64_t seed, struct scenario *sc)
{
	static const char *const small[] = { "madvise", "inherit", "never", "never" };
	struct rng r = { seed };

	r.s = rnext(&r);	/* seeds one apart would share all but a step */
	memset(sc, 0, sizeof *sc);
	for (int i = 0; i < NSIZES - 1; i++)
		sc->mode[i] = small[rnd(&r, 4)];
	sc->mode[NSIZES - 1] = rnd(&r, 3) ? "never" : "inherit";
	sc->hugepage = rnd(&r, 5) != 0;
	sc->nsteps = 1 + (int)rnd(&r, MAX_STEPS);
	for (int k = 0; k < sc->nsteps; k++) {
		struct step *st = &sc->s[k];
		uint32_t len = rnd(&r, 3) ? 1 + (uint32_t)rnd(&r, 40) : 1 + (uint32_t)rnd(&r, 600);

		st->op = k < 2 && rnd(&r, 2) ? OP_WRITE_RUN : (enum op)rnd(&r, NR_OPS);
		st->page = (uint32_t)rnd(&r, NPAGES);
		if (rnd(&r, 2))		/* often at a boundary of some size */
			st->page &= ~((1u << rnd(&r, 10)) - 1);
		st->n = st->page + len > NPAGES ? NPAGES - st->page : len;
		if (st->op == OP_WRITE || st->op == OP_READ)
			st->n = 1;
		st->dst = (uint32_t)rnd(&r, NPAGES - st->n + 1);
		if (rnd(&r, 2))
			st->dst &= ~((1u << rnd(&r, 10)) - 1);
		st->nchild = (uint32_t)rnd(&r, MAX_CHILD_W + 1);
		for (uint32_t j = 0; j < st->nchild; j++)
			st->child_w[j] = (uint32_t)rnd(&r, NPAGES);
	}
}

static void print_scenario(uint64_t seed, const struct scenario *sc)
{
	printf("seed %" PRIu64 ": hugepage %d, sizes", seed, sc->hugepage);
	for (int i = 0; i < NSIZES; i++)
		printf(" %ukB=%s", size_kb(i), sc->mode[i]);
	printf("\n");
	for (int k = 0; k < sc->nsteps; k++) {
		const struct step *st = &sc->s[k];

		printf("  %d: %s page %u n %u", k, op_name[st->op], st->page, st->n);
		if (st->op == OP_MREMAP)
			printf(" to page %u", st->dst);
		for (uint32_t j = 0; st->op == OP_FORK && j < st->nchild; j++)
			printf(" %u", st->child_w[j]);
		printf("\n");
	}
}

/*
** Which pages a step may write: those mapped read-write.  Each side keeps
** its own book -- an mremap moves the pages' entries only where it
** succeeded there (the source must be one VMA) -- so that neither writes
** a page it would fault on; where the sides disagree, so do their maps.
*/
static void track(const struct step *st, char *prot, int moved)
{
	char c = st->op == OP_MUNMAP ? '-' : st->op == OP_MPROTECT ? 0 : 'w';

	if (st->op == OP_MREMAP && moved) {
		char tmp[NPAGES];

		memcpy(tmp, prot + st->page, st->n);
		memset(prot + st->page, '-', st->n);
		memcpy(prot + st->dst, tmp, st->n);
		return;
	}
	if (st->op != OP_MUNMAP && st->op != OP_MPROTECT)
		return;
	for (uint32_t i = st->page; i < st->page + st->n; i++) {
		if (st->op == OP_MPROTECT)	/* read-only, or back to read-write */
			c = prot[i] == 'w' ? 'r' : prot[i] == 'r' ? 'w' : '-';
		prot[i] = c;
	}
}

/* ===================== a page's class ===================== */

/*
** One page: map is '.' (nothing), 'z' (the zero page), 's' (a small
** page), 'H' (a large folio's head), 't' (a tail whose frame follows the
** page before it), 'T' (another tail); bits a hex digit: swapbacked 1,
** owner_2 2, pagemap's exclusive 4, mlocked 8.
*/
static void classify(uint64_t pm, uint64_t prev_pm, uint64_t kpf, char *map, char *bits)
{
	uint64_t pfn = pm & MEMLAB_PM_PFRAME_MASK, prev = prev_pm & MEMLAB_PM_PFRAME_MASK;

	if (!(pm & MEMLAB_PM_PRESENT)) {
		*map = '.';
		*bits = '-';
		return;
	}
	if (kpf & KPF_BIT(ZERO_PAGE))
		*map = 'z';
	else if (kpf & KPF_BIT(COMPOUND_HEAD))
		*map = 'H';
	else if (kpf & KPF_BIT(COMPOUND_TAIL))
		*map = (prev_pm & MEMLAB_PM_PRESENT) && pfn == prev + 1 ? 't' : 'T';
	else
		*map = 's';
	*bits = "0123456789abcdef"[!!(kpf & KPF_BIT(SWAPBACKED)) + 2 * !!(kpf & KPF_BIT(OWNER_2)) +
				   4 * !!(pm & MEMLAB_PM_MMAP_EXCLUSIVE) +
				   8 * !!(kpf & KPF_BIT(MLOCKED))];
	if (*map == 'z')
		*bits = 'z';
}

/* ===================== memlab's side ===================== */

struct sim {
	memlab_machine *m;
	struct side *out;
};

static void sim_report(void *ud, const char *msg)
{
	struct sim *s = ud;

	diff_append_report(s->out->err, sizeof s->out->err, msg);
}

static void sim_region(struct sim *s, memlab_task *t, char *map, char *bits)
{
	static uint64_t pm[NPAGES];

	if (memlab_pagemap(t, R, pm, NPAGES) != NPAGES) {
		sim_report(s, "memlab_pagemap failed");
		return;
	}
	for (uint32_t i = 0; i < NPAGES; i++) {
		uint64_t kpf = 0;

		if ((pm[i] & MEMLAB_PM_PRESENT) &&
		    memlab_kpageflags(s->m, pm[i] & MEMLAB_PM_PFRAME_MASK, &kpf, 1) != 1)
			sim_report(s, "memlab_kpageflags failed");
		classify(pm[i], i ? pm[i - 1] : 0, kpf, map + i, bits + i);
	}
	map[NPAGES] = bits[NPAGES] = '\0';
}

static void sim_stats(memlab_machine *m, int64_t st[NSIZES][NSTATS], int sign)
{
	struct memlab_thp_size sz[16];
	size_t n = memlab_thp_sizes(m, sz, 16);

	for (int i = 0; i < NSIZES && (size_t)i < n; i++)
		for (int k = 0; k < NSTATS; k++)
			for (int j = 0; j < MEMLAB_NR_MTHP_STATS; j++)
				if (!strcmp(sz[i].stats[j].name, STATS[k]))
					st[i][k] += sign * (int64_t)sz[i].stats[j].value;
}

static int sim_advice(enum op op)
{
	return op == OP_DONTNEED ? K_MADV_DONTNEED : op == OP_COLD ? K_MADV_COLD :
	       op == OP_FREE ? K_MADV_FREE : op == OP_COLLAPSE ? K_MADV_COLLAPSE : K_MADV_PAGEOUT;
}

static void sim_write(struct sim *s, memlab_task *t, uint32_t page)
{
	int code;

	if (memlab_access(t, R + page * PAGE, 1, 'w', "x", &code))
		sim_report(s, "a write failed");
}

/* One step; whether it moved pages (an mremap that succeeded). */
static int sim_step(struct sim *s, memlab_task *t, const struct step *st, char *prot, int k)
{
	uint64_t a = R + st->page * PAGE, len = st->n * PAGE, got;
	memlab_task *c;
	char byte;
	int code;

	switch (st->op) {
	case OP_MREMAP:
		return memlab_mremap(t, a, len, len, MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED,
				     R + st->dst * PAGE, &got) == 0;
	case OP_WRITE:
	case OP_WRITE_RUN:
		for (uint32_t i = st->page; i < st->page + st->n; i++)
			if (prot[i] == 'w')
				sim_write(s, t, i);
		break;
	case OP_READ:
		if (prot[st->page] != '-' && memlab_access(t, a, 1, 'r', &byte, &code))
			sim_report(s, "a read failed");
		break;
	case OP_MUNMAP:
		memlab_munmap(t, a, len);
		break;
	case OP_MPROTECT:
		for (uint32_t i = st->page; i < st->page + st->n; i++)
			if (prot[i] != '-')
				memlab_mprotect(t, R + i * PAGE, PAGE, prot[i] == 'w' ?
						MEMLAB_PROT_READ : MEMLAB_PROT_READ | MEMLAB_PROT_WRITE);
		break;
	case OP_MLOCK:
		memlab_mlock(t, a, len, 0);
		break;
	case OP_MUNLOCK:
		memlab_munlock(t, a, len);
		break;
	case OP_FORK:
		if (memlab_fork(t, &c)) {
			sim_report(s, "memlab_fork failed");
			break;
		}
		for (uint32_t j = 0; j < st->nchild; j++)
			if (prot[st->child_w[j]] == 'w')
				sim_write(s, c, st->child_w[j]);
		sim_region(s, c, s->out->cmap[k], s->out->cbits[k]);
		memlab_task_exit(c);
		break;
	default:
		memlab_madvise(t, a, len, sim_advice(st->op));
		if (st->op == OP_FREE)
			memlab_madvise(t, DRAIN_PAGE, PAGE, K_MADV_COLD);
		break;
	}
	return 0;
}

static void sim_run(const struct scenario *sc, struct side *out)
{
	struct memlab_config cfg;
	struct memlab_spawn_args args;
	struct sim s = { NULL, out };
	char prot[NPAGES];
	memlab_task *t;
	uint64_t got;
	int rc = 0, code;

	memset(out, 0, sizeof *out);
	memset(prot, 'w', sizeof prot);
	memlab_config_init(&cfg);
	cfg.ram = 256ull << 20;
	cfg.seed = 1;
	cfg.debug_vm = 1;
	cfg.report = sim_report;
	cfg.report_ud = &s;
	if (memlab_create(&cfg, &s.m)) {
		snprintf(out->err, sizeof out->err, "memlab_create failed");
		return;
	}
	memset(&args, 0, sizeof args);
	args.root = 1;
	rc = memlab_thp(s.m, host_enabled, -1, NULL);
	for (int i = 0; i < NSIZES && !rc; i++)
		rc = memlab_thp_size_set(s.m, (uint64_t)size_kb(i) << 10, sc->mode[i]);
	if (rc || (rc = memlab_spawn(s.m, &args, &t)) ||
	    (rc = memlab_mmap(t, R, REGION_LEN, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED_NOREPLACE,
			      NULL, 0, &got)) ||
	    (rc = memlab_mmap(t, DRAIN_PAGE, PAGE, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED_NOREPLACE,
			      NULL, 0, &got)) ||
	    (rc = memlab_access(t, DRAIN_PAGE, 1, 'w', "d", &code)) ||
	    (sc->hugepage && (rc = memlab_madvise(t, R, REGION_LEN, K_MADV_HUGEPAGE)))) {
		snprintf(out->err, sizeof out->err, "setup: %s", memlab_strerror(rc));
		memlab_destroy(s.m);
		return;
	}
	sim_stats(s.m, out->stats, -1);
	for (int k = 0; k < sc->nsteps; k++)
		track(&sc->s[k], prot, sim_step(&s, t, &sc->s[k], prot, k));
	sim_region(&s, t, out->map, out->bits);
	sim_stats(s.m, out->stats, 1);
	memlab_destroy(s.m);
}

/* ===================== the host's side ===================== */

static int pm_fd, kpf_fd;

static void host_region(pid_t pid, char *map, char *bits)
{
	static uint64_t pm[NPAGES];
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	fd = pid ? open(path, O_RDONLY | O_CLOEXEC) : pm_fd;
	if (fd < 0 || pread(fd, pm, sizeof pm, (off_t)(R / PAGE * 8)) != (ssize_t)sizeof pm) {
		fprintf(stderr, "diff_mthp: pagemap: %s\n", strerror(errno));
		exit(2);
	}
	if (pid)
		close(fd);
	for (uint32_t i = 0; i < NPAGES; i++) {
		uint64_t kpf = 0, pfn = pm[i] & MEMLAB_PM_PFRAME_MASK;

		if ((pm[i] & MEMLAB_PM_PRESENT) &&
		    pread(kpf_fd, &kpf, 8, (off_t)(pfn * 8)) != 8) {
			fprintf(stderr, "diff_mthp: kpageflags: %s\n", strerror(errno));
			exit(2);
		}
		classify(pm[i], i ? pm[i - 1] : 0, kpf, map + i, bits + i);
	}
	map[NPAGES] = bits[NPAGES] = '\0';
}

static void host_stats(int64_t st[NSIZES][NSTATS], int sign)
{
	for (int i = 0; i < NSIZES; i++)
		for (int k = 0; k < NSTATS; k++)
			st[i][k] += sign * read_stat(i, STATS[k]);
}

/* The child of OP_FORK: its writes, then its region into the pipe. */
static void host_child(const struct step *st, const char *prot, int fd)
{
	char both[2 * NPAGES + 2];

	for (uint32_t j = 0; j < st->nchild; j++)
		if (prot[st->child_w[j]] == 'w')
			*(volatile char *)(uintptr_t)(R + st->child_w[j] * PAGE) = 'x';
	host_region(getpid(), both, both + NPAGES + 1);
	_exit(write(fd, both, sizeof both) == (ssize_t)sizeof both ? 0 : 1);
}

static void host_fork(const struct step *st, const char *prot, struct side *out, int k)
{
	char both[2 * NPAGES + 2];
	int p[2], status;
	pid_t pid;

	if (pipe(p) || (pid = fork()) < 0) {
		fprintf(stderr, "diff_mthp: fork: %s\n", strerror(errno));
		exit(2);
	}
	if (!pid) {
		close(p[0]);
		host_child(st, prot, p[1]);
	}
	close(p[1]);
	if (read(p[0], both, sizeof both) != (ssize_t)sizeof both ||
	    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "diff_mthp: the child failed\n");
		exit(2);
	}
	close(p[0]);
	memcpy(out->cmap[k], both, NPAGES + 1);
	memcpy(out->cbits[k], both + NPAGES + 1, NPAGES + 1);
}

static int host_step(const struct step *st, const char *prot, struct side *out, int k)
{
	char *a = (char *)(uintptr_t)(R + st->page * PAGE);
	size_t len = st->n * PAGE;

	switch (st->op) {
	case OP_MREMAP:
		return mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			      (void *)(uintptr_t)(R + st->dst * PAGE)) != MAP_FAILED;
	case OP_WRITE:
	case OP_WRITE_RUN:
		for (uint32_t i = st->page; i < st->page + st->n; i++)
			if (prot[i] == 'w')
				*(volatile char *)(uintptr_t)(R + i * PAGE) = 'x';
		break;
	case OP_READ:
		if (prot[st->page] != '-')
			(void)*(volatile char *)a;
		break;
	case OP_MUNMAP:
		munmap(a, len);
		break;
	case OP_MPROTECT:
		for (uint32_t i = st->page; i < st->page + st->n; i++)
			if (prot[i] != '-')
				mprotect((char *)(uintptr_t)(R + i * PAGE), PAGE,
					 prot[i] == 'w' ? PROT_READ : PROT_READ | PROT_WRITE);
		break;
	case OP_MLOCK:
		mlock(a, len);
		break;
	case OP_MUNLOCK:
		munlock(a, len);
		break;
	case OP_FORK:
		host_fork(st, prot, out, k);
		break;
	default:
		madvise(a, len, sim_advice(st->op));
		if (st->op == OP_FREE)
			madvise((void *)(uintptr_t)DRAIN_PAGE, PAGE, K_MADV_COLD);
		break;
	}
	return 0;
}

static void host_run(const struct scenario *sc, struct side *out)
{
	char path[128], prot[NPAGES];

	memset(out, 0, sizeof *out);
	memset(prot, 'w', sizeof prot);
	for (int i = 0; i < NSIZES; i++) {
		size_path(path, sizeof path, i, "enabled");
		if (diff_write_text(path, sc->mode[i])) {
			fprintf(stderr, "diff_mthp: %s: %s\n", path, strerror(errno));
			exit(2);
		}
	}
	if (mmap((void *)(uintptr_t)R, REGION_LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)(uintptr_t)R ||
	    (sc->hugepage && madvise((void *)(uintptr_t)R, REGION_LEN, K_MADV_HUGEPAGE))) {
		fprintf(stderr, "diff_mthp: the region: %s\n", strerror(errno));
		exit(2);
	}
	host_stats(out->stats, -1);
	for (int k = 0; k < sc->nsteps; k++)
		track(&sc->s[k], prot, host_step(&sc->s[k], prot, out, k));
	host_region(0, out->map, out->bits);
	host_stats(out->stats, 1);
	munmap((void *)(uintptr_t)R, REGION_LEN);
}

/* ===================== comparing ===================== */

/* The first page where two region strings differ, with some context, or 0. */
static int differ_str(uint64_t seed, const char *what, const char *h, const char *s, int print)
{
	uint32_t i = 0;

	while (i < NPAGES && h[i] == s[i])
		i++;
	if (i == NPAGES)
		return 0;
	if (print) {
		uint32_t from = i > 16 ? i - 16 : 0;

		printf("seed %" PRIu64 ": %s differ at page %u (from page %u):\n  host   %.64s\n"
		       "  memlab %.64s\n", seed, what, i, from, h + from, s + from);
	}
	return 1;
}

static int compare(uint64_t seed, const struct scenario *sc, const struct side *h,
		   const struct side *s, int print)
{
	int n = 0;
	char what[64];

	n += differ_str(seed, "maps", h->map, s->map, print);
	n += differ_str(seed, "bits", h->bits, s->bits, print);
	for (int k = 0; k < sc->nsteps; k++) {
		if (sc->s[k].op != OP_FORK)
			continue;
		snprintf(what, sizeof what, "the child's maps (step %d)", k);
		n += differ_str(seed, what, h->cmap[k], s->cmap[k], print);
		snprintf(what, sizeof what, "the child's bits (step %d)", k);
		n += differ_str(seed, what, h->cbits[k], s->cbits[k], print);
	}
	for (int i = 0; i < NSIZES; i++)
		for (int k = 0; k < NSTATS; k++) {
			if (h->stats[i][k] == s->stats[i][k])
				continue;
			n++;
			if (print)
				printf("seed %" PRIu64 ": hugepages-%ukB/stats/%s rose by %" PRId64
				       " on the host, %" PRId64 " in memlab\n", seed, size_kb(i),
				       STATS[k], h->stats[i][k], s->stats[i][k]);
		}
	return n;
}

/* A region string as runs: "H1 t15 .48 ...". */
static void print_runs(const char *what, const char *str)
{
	printf("  %s:", what);
	for (uint32_t i = 0, j; i < NPAGES; i = j) {
		for (j = i; j < NPAGES && str[j] == str[i]; j++)
			;
		printf(" %c%u", str[i], j - i);
	}
	printf("\n");
}

/* ===================== setup ===================== */

static int host_usable(void)
{
	char path[128], buf[64];

	if (geteuid() != 0 || SANITIZED) {
		printf("diff_mthp: skipped: %s\n", SANITIZED ? "under a sanitizer" : "not root");
		return 0;
	}
	if (diff_read_choice(THP_DIR "/enabled", host_enabled, sizeof host_enabled) ||
	    !strcmp(host_enabled, "never") ||
	    diff_read_text(THP_DIR "/hpage_pmd_size", buf, sizeof buf) || strtoull(buf, NULL, 10) != 2ull << 20 ||
	    diff_read_text("/proc/swaps", buf, sizeof buf) || strchr(buf, '\n') != strrchr(buf, '\n')) {
		printf("diff_mthp: skipped: THP never, a PMD size other than 2 MiB, or swap on\n");
		return 0;
	}
	diff_thp_settings_lock();	/* saved[] must be the host's, not another run's */
	for (int i = 0; i < NSIZES; i++) {
		size_path(path, sizeof path, i, "enabled");
		if (diff_read_choice(path, saved[i], sizeof saved[i])) {
			printf("diff_mthp: skipped: no %s\n", path);
			return 0;
		}
	}
	pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0 || kpf_fd < 0) {
		printf("diff_mthp: skipped: no pagemap or kpageflags\n");
		return 0;
	}
	saved_ok = 1;
	atexit(restore_settings);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGABRT, on_signal);
	return 1;
}

/* The region, free, and the drain page below it, mapped and written. */
static void find_region(void)
{
	for (size_t i = 0; i < sizeof region_candidates / sizeof region_candidates[0]; i++) {
		uint64_t a = region_candidates[i] - (2ull << 20);
		char *p = mmap((void *)(uintptr_t)a, REGION_LEN + (2ull << 20), PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p == MAP_FAILED)
			continue;
		munmap(p, REGION_LEN + (2ull << 20));
		if ((uint64_t)(uintptr_t)p != a)
			continue;
		R = region_candidates[i];
		p = mmap((void *)(uintptr_t)DRAIN_PAGE, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED)
			break;
		*p = 'd';
		return;
	}
	fprintf(stderr, "diff_mthp: no free region\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = 200;
	static struct side host, sim;
	struct scenario sc;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--first") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0), count = 1;
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else {
			fprintf(stderr, "usage: diff_mthp [--first N] [--count N] [--seed N] [-v]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!host_usable())
		return SKIP_CODE;
	find_region();
	{
		cpu_set_t one;		/* one CPU: the batches a drain reaches are this one's */

		CPU_ZERO(&one);
		CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
		sched_setaffinity(0, sizeof one, &one);
	}
	for (uint64_t seed = first; seed < first + count; seed++) {
		int tries = 0;

		draw(seed, &sc);
		if (verbose)
			print_scenario(seed, &sc);
		sim_run(&sc, &sim);
		if (sim.err[0]) {
			printf("seed %" PRIu64 ": memlab reported: %s\n", seed, sim.err);
			failed++;
			continue;
		}
		do
			host_run(&sc, &host);
		while (compare(seed, &sc, &host, &sim, 0) && ++tries < 3);
		for (int k = 0; verbose && k < sc.nsteps; k++)
			if (sc.s[k].op == OP_FORK)
				print_runs("host child map", host.cmap[k]), print_runs("memlab child map", sim.cmap[k]);
		if (verbose)
			print_runs("host map", host.map);
		if (compare(seed, &sc, &host, &sim, 1)) {
			failed++;
			if (!verbose)
				print_scenario(seed, &sc);
		}
	}
	printf("diff_mthp: %" PRIu64 " seeds, %d differ\n", count, failed);
	return failed ? 1 : 0;
}
