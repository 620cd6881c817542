/*
** diff_swapra.c -- swap readahead, on the host and in memlab: which pages
** a swap-in fault reads around the one it needs, and the counters.
**
**   diff_swapra [-v]
**
** The host gets a swap file of its own (64 MiB in /tmp, the test's only
** swap): a fault on a swapped-out anonymous page reads, besides it, the
** pages swapin_readahead() chooses (mm/swap_state.c):
**   - on a rotating disk (SWP_SOLIDSTATE unset), swap_cluster_readahead():
**     the aligned block of swapin_nr_pages() slots around its slot, a
**     window that grows with the readahead pages used (swap_ra_hit) and
**     shrinks by halves without them, at most 2^vm.page-cluster (8);
**   - on an SSD, swap_vma_readahead(): the swap entries of the PTEs around
**     the fault address, in the VMA and its PMD, a per-VMA window.
** The rotating case runs on the host's own disk; the SSD case when the
** disk's queue/rotational can be set to 0 for the swapon (it is put back
** at once: the swap device keeps what it saw -- and set to 0 again for the
** swapoff, see swap_off), memlab's with swap_ssd.
**
** Each case: two anonymous regions W and B of 64 pages each, every page
** written, swapped out (MADV_PAGEOUT: slots 1..64 and 65..128, checked in
** /proc/self/pagemap); the host's pages, still in the swap cache after
** their asynchronous write, are read back once and paged out again,
** clean, to leave the cache (memlab's write is synchronous: they are
** gone already; the host's CPUs' folio batches are drained first, see
** drain_all_cpus).  Four faults in W, far apart, bring the device's global
** readahead state (swapin_readahead_hits and the last window, which any
** swap-in since boot leaves behind) to the same point on both sides; then
** a sequence of reads in B, forwards, backwards and jumping, and a
** madvise(MADV_WILLNEED) of part of it.  After each step both sides answer: was it a major fault, how many pages were read
** (pswpin), read ahead (swap_ra), found read ahead (swap_ra_hit), and
** which of B's pages are resident (mincore: mapped or in the swap cache).
**
** Exit 0 when every answer agrees, 1 when one differs, 77 when the host
** cannot run it (not root, a swap device already on, no swap file
** possible in /tmp, a sanitizer), 2 when the harness fails.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <memlab/memlab.h>

#include "diff_common.h"

#define PAGE		4096ull
#define NPAGES		64u		/* pages of W, and of B */
#define SWAP_PAGES	16384u		/* the swap file: 64 MiB */
#define SKIP_CODE	77
#define K_MADV_PAGEOUT	21
#define SWAP_PATH	"/tmp/diff_swapra.swap"

/* What one read of B showed. */
struct answer {
	int major;
	int64_t pswpin, swap_ra, swap_ra_hit;
	uint64_t resident;		/* bit i: B's page i */
};

/*
** The reads of B, after the warm-up in W; WILLNEED: madvise(MADV_WILLNEED)
** of B's pages 20..37 instead (swapin_walk_pmd_entry: each swapped-out
** page read into the swap cache, none marked read ahead), then reads of
** them (minor, no hit).
*/
#define WILLNEED	100u
static const unsigned sequence[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,	/* forwards */
	47, 46, 45, 44, 43, 42, 41, 40, 39, 38,					/* backwards */
	30, 58, 24, 63, 50, 51, 52, 53, 54, 55,					/* jumps, then on */
	WILLNEED, 21, 22, 36,
};
#define NSEQ	(sizeof(sequence) / sizeof(sequence[0]))
static const unsigned warmup[] = { 8, 24, 40, 56 };	/* W's: clusters apart */

static int verbose;

/* One side: the two regions and the operations the scenario needs. */
struct side {
	const char *name;
	uint64_t w, b;				/* the regions' addresses */
	int (*read)(struct side *s, uint64_t va);
	int (*counters)(struct side *s, int64_t c[4]);	/* majflt, pswpin, swap_ra, swap_ra_hit */
	int (*resident)(struct side *s, uint64_t *bits);
	int (*willneed)(struct side *s, uint64_t va, uint64_t len);
	memlab_machine *m;
	memlab_task *t;
};

static int run(struct side *s, struct answer *out)
{
	int64_t c0[4], c1[4];

	for (size_t i = 0; i < sizeof(warmup) / sizeof(warmup[0]); i++)
		if (s->read(s, s->w + warmup[i] * PAGE))
			return -1;
	for (size_t i = 0; i < NSEQ; i++) {
		if (s->counters(s, c0) ||
		    (sequence[i] == WILLNEED ? s->willneed(s, s->b + 20 * PAGE, 18 * PAGE) :
					       s->read(s, s->b + sequence[i] * PAGE)) ||
		    s->counters(s, c1) || s->resident(s, &out[i].resident))
			return -1;
		out[i].major = (int)(c1[0] - c0[0]);
		out[i].pswpin = c1[1] - c0[1];
		out[i].swap_ra = c1[2] - c0[2];
		out[i].swap_ra_hit = c1[3] - c0[3];
	}
	return 0;
}

/* ---- memlab ---- */

static void sim_report(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "diff_swapra: memlab: %s\n", msg);
}

static int sim_read(struct side *s, uint64_t va)
{
	int si;

	return memlab_touch(s->t, va, 1, 'r', &si);
}

static int sim_counters(struct side *s, int64_t c[4])
{
	static const char *const names[] = { "pswpin", "swap_ra", "swap_ra_hit" };
	struct memlab_mm_info mi;
	uint64_t v;

	if (memlab_mm_info(s->t, &mi))
		return -1;
	c[0] = (int64_t)mi.maj_flt;
	for (int i = 0; i < 3; i++) {
		if (memlab_vmstat_get(s->m, names[i], &v))
			return -1;
		c[i + 1] = (int64_t)v;
	}
	return 0;
}

static int sim_willneed(struct side *s, uint64_t va, uint64_t len)
{
	return memlab_madvise(s->t, va, len, 3 /* MADV_WILLNEED */);
}

static int sim_resident(struct side *s, uint64_t *bits)
{
	unsigned char vec[NPAGES];

	if (memlab_mincore(s->t, s->b, NPAGES * PAGE, vec))
		return -1;
	*bits = 0;
	for (unsigned i = 0; i < NPAGES; i++)
		*bits |= (uint64_t)(vec[i] & 1) << i;
	return 0;
}

/* The scenario in memlab at the host's addresses; 0, or -1. */
static int sim_run(int ssd, uint64_t w, uint64_t b, struct answer *out)
{
	struct memlab_config cfg;
	struct memlab_spawn_args sa = { .aslr = 0 };
	struct side s = { "memlab", w, b, sim_read, sim_counters, sim_resident, sim_willneed, NULL,
			  NULL };
	uint64_t a, len = NPAGES * PAGE;
	int rc, si;

	memlab_config_init(&cfg);
	cfg.ram = 1ull << 30;
	cfg.swap = (uint64_t)SWAP_PAGES * PAGE;
	cfg.swap_ssd = ssd;
	cfg.report = sim_report;
	if (memlab_create(&cfg, &s.m))
		return -1;
	rc = memlab_spawn(s.m, &sa, &s.t);
	for (int r = 0; r < 2 && !rc; r++) {
		uint64_t at = r ? b : w;

		rc = memlab_mmap(s.t, at, len, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
				 MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED, NULL,
				 0, &a);
		for (unsigned i = 0; !rc && i < NPAGES; i++)
			rc = memlab_touch(s.t, at + i * PAGE, 1, 'w', &si);
	}
	rc = rc ? rc : memlab_madvise(s.t, w, len, K_MADV_PAGEOUT);
	rc = rc ? rc : memlab_madvise(s.t, b, len, K_MADV_PAGEOUT);
	if (!rc)
		rc = run(&s, out) ? -MEMLAB_EINVAL : 0;
	if (!rc && memlab_check(s.m, NULL, NULL))
		rc = -MEMLAB_EINVAL;
	memlab_destroy(s.m);
	if (rc)
		fprintf(stderr, "diff_swapra: memlab: %s\n", memlab_strerror(rc));
	return rc ? -1 : 0;
}

/* ---- the host ---- */

static char rot_path[128], rot_saved[8];
static int swap_on_ssd;		/* the swap file on was swapped on as on an SSD */

static void restore_rotational(void)
{
	if (rot_saved[0]) {
		diff_write_text(rot_path, rot_saved);
		rot_saved[0] = 0;
	}
}

static int set_nonrotational(void);

/*
** swapoff of the test's swap file.  The host's swapoff decides whether to
** count the device off nr_rotate_swap by the disk's queue/rotational now,
** not by what swapon saw: a file swapped on as on an SSD is swapped off
** with the disk set non-rotational again, or the count would go below
** zero, and VMA-based readahead off for good (until a reboot).
*/
static void swap_off(void)
{
	if (swap_on_ssd)
		set_nonrotational();
	swapoff(SWAP_PATH);
	restore_rotational();
	swap_on_ssd = 0;
}

static void cleanup(void)
{
	swap_off();
	unlink(SWAP_PATH);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static long vmstat_value(const char *key)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char name[128];
	long v, r = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			r = v;
	fclose(f);
	return r;
}

static int host_read(struct side *s, uint64_t va)
{
	(void)s;
	return *(volatile const char *)va == 0;	/* every page holds 1..128 */
}

static int host_counters(struct side *s, int64_t c[4])
{
	struct rusage ru;

	(void)s;
	getrusage(RUSAGE_SELF, &ru);
	c[0] = ru.ru_majflt;
	c[1] = vmstat_value("pswpin");
	c[2] = vmstat_value("swap_ra");
	c[3] = vmstat_value("swap_ra_hit");
	return c[1] < 0 || c[2] < 0 || c[3] < 0 ? -1 : 0;
}

static int host_willneed(struct side *s, uint64_t va, uint64_t len)
{
	(void)s;
	return madvise((void *)va, len, MADV_WILLNEED);
}

static int host_resident(struct side *s, uint64_t *bits)
{
	unsigned char vec[NPAGES];

	if (mincore((void *)s->b, NPAGES * PAGE, vec))
		return -1;
	*bits = 0;
	for (unsigned i = 0; i < NPAGES; i++)
		*bits |= (uint64_t)(vec[i] & 1) << i;
	return 0;
}

/* The swap slot of each page of [va, va + n pages), or 0 for one not swapped. */
static int host_slots(uint64_t va, unsigned n, uint64_t *slot)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e[NPAGES];

	if (fd < 0 || pread(fd, e, n * 8, (off_t)(va / PAGE * 8)) != (ssize_t)(n * 8)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	for (unsigned i = 0; i < n; i++)	/* bit 62: swapped; bits 5-54 its offset */
		slot[i] = (e[i] >> 62 & 1) ? e[i] >> 5 & ((1ull << 50) - 1) : 0;
	return 0;
}

/*
** lru_add_drain_all(), for the folio batches of every CPU: a write's end
** on another CPU left each page in that CPU's lru_move_tail batch (PG_reclaim:
** folio_rotate_reclaimable), with a reference that would keep the page in
** the swap cache.  mbind(MPOL_MF_MOVE) drains them all (lru_cache_disable)
** and, on a page never touched, moves nothing.
*/
static void drain_all_cpus(void)
{
	void *d = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (d == MAP_FAILED)
		return;
	syscall(SYS_mbind, d, PAGE, 0 /* MPOL_DEFAULT */, NULL, 0, 2 /* MPOL_MF_MOVE */);
	munmap(d, PAGE);
}

/* The swap file, made as mkswap makes it (version 1, no bad pages): 0, or -1. */
static int make_swapfile(void)
{
	static char page[PAGE];
	int fd = open(SWAP_PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint32_t *hdr = (uint32_t *)(page + 1024);

	if (fd < 0)
		return -1;
	memset(page, 0, sizeof(page));
	for (unsigned i = 0; i < SWAP_PAGES; i++)
		if (write(fd, page, PAGE) != (ssize_t)PAGE) {
			close(fd);
			return -1;
		}
	hdr[0] = 1;			/* version */
	hdr[1] = SWAP_PAGES - 1;	/* last_page */
	memcpy(page + PAGE - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, page, PAGE, 0) != (ssize_t)PAGE || fsync(fd)) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* queue/rotational of the disk under /tmp, set to 0 (saved) for the swapon; 0, or -1. */
static int set_nonrotational(void)
{
	struct stat st;
	char buf[8];

	if (rot_saved[0])
		return diff_write_text(rot_path, "0");
	if (stat("/tmp", &st))
		return -1;
	snprintf(rot_path, sizeof(rot_path), "/sys/dev/block/%u:%u/queue/rotational",
		 major(st.st_dev), minor(st.st_dev));
	if (access(rot_path, W_OK))
		snprintf(rot_path, sizeof(rot_path), "/sys/dev/block/%u:%u/../queue/rotational",
			 major(st.st_dev), minor(st.st_dev));
	if (diff_read_text(rot_path, buf, sizeof(buf)) || diff_write_text(rot_path, "0"))
		return -1;
	snprintf(rot_saved, sizeof(rot_saved), "%c", buf[0]);
	return 0;
}

/* Swap on, both regions written and swapped out, out of the swap cache too. */
static int host_setup(int ssd, struct side *s)
{
	uint64_t len = NPAGES * PAGE, slots[NPAGES];
	char *r;

	if (make_swapfile())
		return -1;
	if (ssd && set_nonrotational()) {
		unlink(SWAP_PATH);
		return 1;	/* the SSD case cannot run here */
	}
	if (swapon(SWAP_PATH, 0)) {
		restore_rotational();
		unlink(SWAP_PATH);
		return -1;
	}
	swap_on_ssd = ssd;
	restore_rotational();
	/* W and B apart, in one PMD, at addresses memlab can take too */
	r = mmap(NULL, 4ull << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return -1;
	s->w = ((uint64_t)r + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	s->b = s->w + (1ull << 20);
	munmap(r, 4ull << 20);
	for (int k = 0; k < 2; k++) {
		uint64_t at = k ? s->b : s->w;

		if (mmap((void *)at, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)at)
			return -1;
		for (unsigned i = 0; i < NPAGES; i++)
			memset((char *)at + i * PAGE, 1 + k * NPAGES + i, PAGE);
	}
	for (int pass = 0; pass < 2; pass++) {
		if (madvise((void *)s->w, len, K_MADV_PAGEOUT) ||
		    madvise((void *)s->b, len, K_MADV_PAGEOUT))
			return -1;
		if (pass)
			break;
		for (int tries = 0; vmstat_value("nr_writeback") > 0 && tries < 200; tries++)
			usleep(10000);
		drain_all_cpus();
		for (unsigned i = 0; i < NPAGES; i++)	/* minor: still in the swap cache */
			if (host_read(s, s->w + i * PAGE) || host_read(s, s->b + i * PAGE))
				return -1;
	}
	for (int k = 0; k < 2; k++) {
		uint64_t resident;
		unsigned char vec[NPAGES];

		if (host_slots(k ? s->b : s->w, NPAGES, slots) ||
		    mincore((void *)(k ? s->b : s->w), len, vec))
			return -1;
		resident = 0;
		for (unsigned i = 0; i < NPAGES; i++) {
			resident |= vec[i] & 1;
			if (slots[i] != 1 + k * NPAGES + i) {
				fprintf(stderr, "diff_swapra: host: page %u of %s is in slot %" PRIu64
					", not %u\n", i, k ? "B" : "W", slots[i], 1 + k * NPAGES + i);
				return -1;
			}
		}
		if (resident) {
			fprintf(stderr, "diff_swapra: host: pages of %s stayed in memory\n",
				k ? "B" : "W");
			return -1;
		}
	}
	return 0;
}

static void host_teardown(struct side *s)
{
	munmap((void *)s->w, NPAGES * PAGE);
	munmap((void *)s->b, NPAGES * PAGE);
	swap_off();
	unlink(SWAP_PATH);
}

/* 0 run, 1 the case cannot run here, -1 failed. */
static int host_run(int ssd, struct side *s, struct answer *out)
{
	int rc = host_setup(ssd, s);

	if (rc == 0)
		rc = run(s, out);
	if (rc <= 0)
		host_teardown(s);
	return rc;
}

static int host_usable(void)
{
	char swaps[256];

	if (SANITIZED || geteuid()) {
		fprintf(stderr, "diff_swapra: skipped: %s\n",
			SANITIZED ? "under a sanitizer" : "swapon needs root");
		return 0;
	}
	if (diff_read_text("/proc/swaps", swaps, sizeof(swaps)) || strchr(swaps, '\n') !=
	    strrchr(swaps, '\n')) {
		fprintf(stderr, "diff_swapra: skipped: a swap device is on already\n");
		return 0;
	}
	return 1;
}

static void print_answer(const char *side, unsigned page, const struct answer *a)
{
	if (page == WILLNEED)
		printf("  %-6s WILLNEED B[20..37]: pswpin %" PRId64 " swap_ra %" PRId64
		       " swap_ra_hit %" PRId64 " resident %016" PRIx64 "\n", side, a->pswpin,
		       a->swap_ra, a->swap_ra_hit, a->resident);
	else
		printf("  %-6s B[%2u]: %s pswpin %" PRId64 " swap_ra %" PRId64 " swap_ra_hit %"
		       PRId64 " resident %016" PRIx64 "\n", side, page, a->major ? "major" : "minor",
		       a->pswpin, a->swap_ra, a->swap_ra_hit, a->resident);
}

/* One case; 0 agree, 1 differ, 77 cannot run, 2 harness failure. */
static int run_case(int ssd)
{
	struct side host = { "host", 0, 0, host_read, host_counters, host_resident, host_willneed,
			     NULL, NULL };
	struct answer h[NSEQ], sim[NSEQ];
	const char *name = ssd ? "VMA-based (SSD)" : "cluster-based (rotating disk)";
	int rc = host_run(ssd, &host, h), bad = 0;

	if (rc > 0) {
		printf("diff_swapra: %s: skipped (the disk's queue/rotational cannot be set)\n", name);
		return SKIP_CODE;
	}
	if (rc < 0 || sim_run(ssd, host.w, host.b, sim))
		return 2;
	for (size_t i = 0; i < NSEQ; i++) {
		int same = h[i].major == sim[i].major && h[i].pswpin == sim[i].pswpin &&
			   h[i].swap_ra == sim[i].swap_ra && h[i].swap_ra_hit == sim[i].swap_ra_hit &&
			   h[i].resident == sim[i].resident;

		if (!same || verbose) {
			print_answer("host", sequence[i], &h[i]);
			print_answer("memlab", sequence[i], &sim[i]);
		}
		bad |= !same;
	}
	printf("diff_swapra: %s: %zu steps, %s\n", name, NSEQ, bad ? "DIFFER" : "agree");
	return bad;
}

int main(int argc, char **argv)
{
	int rc, rc_ssd;

	if (diff_verbose_option(argc, argv, "diff_swapra", &verbose))
		return 2;
	if (!host_usable())
		return SKIP_CODE;
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	{
		cpu_set_t set;	/* one CPU: its swap cluster takes the slots in order */

		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	rc = run_case(0);
	if (rc == 2 || rc == SKIP_CODE)
		return rc;
	rc_ssd = run_case(1);
	if (rc_ssd == 2)
		return 2;
	return rc || rc_ssd == 1;
}
