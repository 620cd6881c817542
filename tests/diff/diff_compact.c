/*
** diff_compact.c -- compaction of 64K folios, on the host and in memlab:
** the rules by which /proc/sys/vm/compact_memory moves large folios.
**
**   diff_compact [-v]
**
** Where compaction moves a page depends on where every other page of the
** machine lies, so no two runs -- nor the host and memlab -- move the
** same pages.  What compares is the rules: the same scenario runs on both
** sides, and each side's outcome, folio by folio, is judged by the same
** questions.
**
** The scenario: three regions of anonymous 64K folios (hugepages-64kB
** "always", hugepages-2048kB "never" meanwhile: MADV_HUGEPAGE would have
** each fault compact directly) and a file D written 64K at a time (a 64K
** folio each, ext4 on the host), filled in turn -- a folio of A, one of
** B, one of C, every eighth time one of D -- so that all lie alike across
** physical memory, each page holding its number.  D is mapped and written
** back (map_file says why).  Every other folio of A and C is dropped
** (MADV_DONTNEED: 64K holes; munmap would need a VMA each, past
** vm.max_map_count), and of C's other folios the last page (partly
** mapped: on the deferred split queue); B is mlocked, and every other
** folio of it unmapped.  Then compact_memory.  (Once before the faults,
** too: what else the machine holds moves up, out of the regions' way, and
** they take the free memory gathered low, where the migrate scanner
** starts.)  A, B and C take 60% of the memory available, the host's or
** memlab's 1 GiB machine's; D an eighth of a region.
**
** Each folio kept is then one of: stayed (its frames), moved whole (a 64K
** folio elsewhere: aligned, contiguous, a compound head), split (small
** pages now), or other.  The questions, each answered by both sides:
**   - did some of A's folios move whole?        (6.10+: large folios migrate)
**   - were some of A's split?                   (no target of their order left)
**   - did none of C's move whole?               (split before migration)
**   - were some of C's split?
**   - are B's folios moved whole not mlocked, not unevictable?
**                                               (6.18 remaps a large folio unlocked)
**   - are B's split folios' pages mlocked?      (a small page is mlocked again)
**   - does every page read back its number?
**   - did split_deferred rise by at least 2 for each folio moved whole?
**                                               (unmapped PTE by PTE, the folio is
**                                                partially mapped on the way; 6.18.y
**                                                queues the new folio so again)
**   - did some of D's page-cache folios move whole?
** A question one side cannot answer (no folio of the kind) is not
** compared.
**
** Exit 0 when both sides answer alike, 1 when they differ, 77 when the
** host cannot run it (not root, a sanitizer, no hugepages-64kB, less than
** 2 GiB available, no O_TMPFILE in /tmp), 2 when the harness fails.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memlab/memlab.h>

#include "diff_common.h"

#define PAGE		4096ull
#define FOLIO		16u		/* pages of a 64K folio */
#define NREGIONS	4
#define NANON		3		/* A, B and C take 60% of the memory between them */
#define D_SHARE		8		/* D has an eighth of a region's folios */
#define SKIP_CODE	77
#define SIM_BASE	0x7e0000000000ull
#define K_MADV_DONTNEED	4
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"
#define SIZE_64K	THP_DIR "/hugepages-64kB/enabled"
#define SIZE_2M		THP_DIR "/hugepages-2048kB/enabled"

enum { A, B, C, D };
enum verdict { STAYED, WHOLE, SPLIT, OTHER, NR_VERDICTS };

static const char *const verdict_name[NR_VERDICTS] = { "stayed", "whole", "split", "other" };

/* One side's operations on its address space. */
struct side_ops {
	const char *name;
	uint64_t (*map)(void *ud, int region, uint64_t len);	/* 0: failed */
	int (*write)(void *ud, uint64_t va, uint64_t val);
	int (*read)(void *ud, uint64_t va, uint64_t *val);
	int (*unmap)(void *ud, uint64_t va, uint64_t len);
	int (*dontneed)(void *ud, uint64_t va, uint64_t len);
	int (*mlock)(void *ud, uint64_t va, uint64_t len);
	int (*compact)(void *ud);
	int (*pagemap)(void *ud, uint64_t va, uint64_t *pm, size_t n);
	int (*kpageflags)(void *ud, uint64_t pfn, uint64_t *kpf);
	int (*split_deferred)(void *ud, uint64_t *value);	/* hugepages-64kB/stats/ */
	int (*file_write)(void *ud, uint64_t off, const void *buf, uint64_t len);	/* D's */
	int (*msync)(void *ud, uint64_t va, uint64_t len);	/* MS_SYNC */
};

struct outcome {
	uint64_t count[NREGIONS][NR_VERDICTS];
	uint64_t whole_locked;		/* B's folios moved whole still mlocked or unevictable */
	uint64_t split_unlocked;	/* B's split folios whose first page is not mlocked */
	uint64_t bad_data;
	uint64_t split_deferred;	/* its rise over compact_memory */
};

static int verbose;

/* ===================== the scenario, on either side ===================== */

static uint64_t folio_va(const uint64_t *base, int r, uint64_t k, unsigned j)
{
	return base[r] + (k * FOLIO + j) * PAGE;
}

/* The folios of region r: D, a file, has fewer. */
static uint64_t region_folios(int r, uint64_t nf)
{
	return r == D ? nf / D_SHARE : nf;
}

/* Folio k of region r is kept: every other one, D's all. */
static int kept(int r, uint64_t k, uint64_t nf)
{
	return k < region_folios(r, nf) && (r == D || (k & 1));
}

/* A, B and C faulted in, and D written (write(2): a 64K folio each), in turn. */
static int fault_in(const struct side_ops *o, void *ud, const uint64_t *base, uint64_t nf)
{
	uint64_t buf[FOLIO * PAGE / 8];

	for (uint64_t k = 0; k < nf; k++) {
		for (int r = 0; r < D; r++)
			for (unsigned j = 0; j < FOLIO; j++)
				if (o->write(ud, folio_va(base, r, k, j), k * FOLIO + j + 1))
					return -1;
		if (k % D_SHARE || k / D_SHARE >= region_folios(D, nf))
			continue;	/* D's folios spread as thinly as the others */
		memset(buf, 0, sizeof buf);
		for (unsigned j = 0; j < FOLIO; j++)
			buf[j * PAGE / 8] = k / D_SHARE * FOLIO + j + 1;
		if (o->file_write(ud, k / D_SHARE * FOLIO * PAGE, buf, sizeof buf))
			return -1;
	}
	return 0;
}

/*
** D mapped (shared, read-only) and every page touched, so that pagemap
** shows it; and written back: a dirty folio does not split (its ext4
** buffers stay), and one that finds no target then ends the zone's
** compaction (-ENOMEM: COMPACT_CONTENDED) -- on the host at once.
*/
static int map_file(const struct side_ops *o, void *ud, uint64_t *base, uint64_t nf)
{
	uint64_t v;

	if (!(base[D] = o->map(ud, D, region_folios(D, nf) * FOLIO * PAGE)) ||
	    o->msync(ud, base[D], region_folios(D, nf) * FOLIO * PAGE))
		return -1;
	for (uint64_t k = 0; k < region_folios(D, nf); k++)
		for (unsigned j = 0; j < FOLIO; j++)
			if (o->read(ud, folio_va(base, D, k, j), &v))
				return -1;
	return 0;
}

/* Every other folio dropped (B's unmapped: mlocked); of C's others, the last page. */
static int punch(const struct side_ops *o, void *ud, const uint64_t *base, uint64_t nf)
{
	for (uint64_t k = 0; k < nf; k++)
		for (int r = 0; r < D; r++) {
			uint64_t va = folio_va(base, r, k, 0);

			if (!(k & 1) && (r == B ? o->unmap : o->dontneed)(ud, va, FOLIO * PAGE))
				return -1;
			if ((k & 1) && r == C && o->dontneed(ud, va + (FOLIO - 1) * PAGE, PAGE))
				return -1;
		}
	return 0;
}

/* The first frame of each kept folio, 0 where it is not a 64K folio's head. */
static int heads(const struct side_ops *o, void *ud, const uint64_t *base, uint64_t nf,
		 uint64_t *out)
{
	for (int r = 0; r < NREGIONS; r++)
		for (uint64_t k = 0; k < nf; k++) {
			if (!kept(r, k, nf))
				continue;
			uint64_t pm, kpf = 0, pfn;

			if (o->pagemap(ud, folio_va(base, r, k, 0), &pm, 1))
				return -1;
			pfn = pm & MEMLAB_PM_PFRAME_MASK;
			if (!(pm & MEMLAB_PM_PRESENT) || o->kpageflags(ud, pfn, &kpf))
				return -1;
			out[r * nf + k] = (kpf & KPF_BIT(COMPOUND_HEAD)) && !(pfn % FOLIO) ? pfn : 0;
		}
	return 0;
}

static enum verdict judge(const uint64_t *pm, unsigned n, uint64_t head_before, uint64_t kpf0,
			  uint64_t kpf1)
{
	uint64_t p0 = pm[0] & MEMLAB_PM_PFRAME_MASK;
	int contiguous = 1;

	for (unsigned j = 1; j < n; j++)
		contiguous &= (pm[j] & MEMLAB_PM_PFRAME_MASK) == p0 + j;
	if (!(kpf0 & (KPF_BIT(COMPOUND_HEAD) | KPF_BIT(COMPOUND_TAIL))))
		return SPLIT;
	if (!contiguous || !(kpf0 & KPF_BIT(COMPOUND_HEAD)) || !(kpf1 & KPF_BIT(COMPOUND_TAIL)))
		return OTHER;
	return p0 == head_before ? STAYED : p0 % FOLIO ? OTHER : WHOLE;
}

/* Judge each kept folio that was a 64K folio before, and read every page back. */
static int judge_all(const struct side_ops *o, void *ud, const uint64_t *base, uint64_t nf,
		     const uint64_t *before, struct outcome *out)
{
	memset(out, 0, sizeof *out);
	for (int r = 0; r < NREGIONS; r++)
		for (uint64_t k = 0; k < nf; k++) {
			unsigned n = r == C ? FOLIO - 1 : FOLIO;
			uint64_t pm[FOLIO], kpf0 = 0, kpf1 = 0, v;
			enum verdict vd;

			if (!kept(r, k, nf))
				continue;

			for (unsigned j = 0; j < n; j++)
				if (o->read(ud, folio_va(base, r, k, j), &v) || v != k * FOLIO + j + 1)
					out->bad_data++;
			if (!before[r * nf + k])
				continue;
			if (o->pagemap(ud, folio_va(base, r, k, 0), pm, n) ||
			    o->kpageflags(ud, pm[0] & MEMLAB_PM_PFRAME_MASK, &kpf0) ||
			    o->kpageflags(ud, (pm[1] & MEMLAB_PM_PFRAME_MASK), &kpf1))
				return -1;
			vd = judge(pm, n, before[r * nf + k], kpf0, kpf1);
			out->count[r][vd]++;
			if (r == B && vd == WHOLE &&
			    (kpf0 & (KPF_BIT(MLOCKED) | KPF_BIT(UNEVICTABLE))))
				out->whole_locked++;
			if (r == B && vd == SPLIT && !(kpf0 & KPF_BIT(MLOCKED)))
				out->split_unlocked++;
		}
	return 0;
}

static int run_side(const struct side_ops *o, void *ud, uint64_t nf, struct outcome *out)
{
	uint64_t base[NREGIONS], *before = calloc(NREGIONS * nf, sizeof *before), sd;
	int rc = -1;

	if (!before)
		return -1;
	for (int r = 0; r < D; r++)
		if (!(base[r] = o->map(ud, r, nf * FOLIO * PAGE)))
			goto out;
	/* first compacted: what else the machine holds goes up, so that the
	 * regions' folios take the free memory gathered low in each zone */
	if (o->compact(ud) || fault_in(o, ud, base, nf) || map_file(o, ud, base, nf) ||
	    o->mlock(ud, base[B], nf * FOLIO * PAGE) ||
	    punch(o, ud, base, nf) || heads(o, ud, base, nf, before) ||
	    o->split_deferred(ud, &sd) || o->compact(ud) ||
	    judge_all(o, ud, base, nf, before, out) || o->split_deferred(ud, &out->split_deferred))
		goto out;
	out->split_deferred -= sd;
	rc = 0;
out:
	free(before);
	return rc;
}

/* ===================== memlab ===================== */

struct sim {
	memlab_machine *m;
	memlab_task *t;
	memlab_file *f;		/* D's */
};

static uint64_t sim_map(void *ud, int region, uint64_t len)
{
	struct sim *s = ud;
	uint64_t va = SIM_BASE + (uint64_t)region * (64ull << 30), addr;
	int rc = region == D ?
		memlab_mmap(s->t, va, len, MEMLAB_PROT_READ, MEMLAB_MAP_SHARED | MEMLAB_MAP_FIXED,
			    s->f, 0, &addr) :
		memlab_mmap(s->t, va, len, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			    MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED, NULL, 0,
			    &addr);

	return rc ? 0 : va;
}

static int sim_write(void *ud, uint64_t va, uint64_t val)
{
	int code;

	return memlab_access(((struct sim *)ud)->t, va, sizeof val, 'w', &val, &code);
}

static int sim_read(void *ud, uint64_t va, uint64_t *val)
{
	int code;

	return memlab_access(((struct sim *)ud)->t, va, sizeof *val, 'r', val, &code);
}

static int sim_unmap(void *ud, uint64_t va, uint64_t len)
{
	return memlab_munmap(((struct sim *)ud)->t, va, len);
}

static int sim_dontneed(void *ud, uint64_t va, uint64_t len)
{
	return memlab_madvise(((struct sim *)ud)->t, va, len, K_MADV_DONTNEED);
}

static int sim_mlock(void *ud, uint64_t va, uint64_t len)
{
	return memlab_mlock(((struct sim *)ud)->t, va, len, 0);
}

static int sim_compact(void *ud)
{
	return memlab_compact_memory(((struct sim *)ud)->m);
}

static int sim_pagemap(void *ud, uint64_t va, uint64_t *pm, size_t n)
{
	return memlab_pagemap(((struct sim *)ud)->t, va, pm, n) == (int64_t)n ? 0 : -1;
}

static int sim_kpageflags(void *ud, uint64_t pfn, uint64_t *kpf)
{
	return memlab_kpageflags(((struct sim *)ud)->m, pfn, kpf, 1) == 1 ? 0 : -1;
}

static int sim_split_deferred(void *ud, uint64_t *value)
{
	struct memlab_thp_size sz[16];
	size_t n = memlab_thp_sizes(((struct sim *)ud)->m, sz, 16);

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; sz[i].size == 64 << 10 && k < MEMLAB_NR_MTHP_STATS; k++)
			if (!strcmp(sz[i].stats[k].name, "split_deferred")) {
				*value = sz[i].stats[k].value;
				return 0;
			}
	return -1;
}

static int sim_file_write(void *ud, uint64_t off, const void *buf, uint64_t len)
{
	uint64_t done;

	return memlab_file_pwrite(((struct sim *)ud)->f, off, buf, len, &done) || done != len;
}

static int sim_msync(void *ud, uint64_t va, uint64_t len)
{
	return memlab_msync(((struct sim *)ud)->t, va, len, MEMLAB_MS_SYNC);
}

static const struct side_ops sim_ops = {
	"memlab", sim_map, sim_write, sim_read, sim_unmap, sim_dontneed, sim_mlock, sim_compact,
	sim_pagemap, sim_kpageflags, sim_split_deferred, sim_file_write, sim_msync,
};

static void sim_report(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "diff_compact: memlab reports: %s\n", msg);
}

static int sim_run(struct outcome *out)
{
	struct memlab_spawn_args args = { 0 };
	struct sim s = { NULL, NULL, NULL };
	uint64_t free_pages;
	int rc;

	args.name = "compact";
	args.root = 1;		/* CAP_IPC_LOCK: mlock beyond RLIMIT_MEMLOCK */
	if (diff_machine(&s.m, sim_report, NULL) || memlab_thp(s.m, "madvise", 1, NULL) ||
	    memlab_thp_size_set(s.m, 64 << 10, "always") ||
	    memlab_thp_size_set(s.m, 2 << 20, "never") || memlab_spawn(s.m, &args, &s.t) ||
	    memlab_file_create(s.m, "/tmp/d", 0, 1, &s.f) || memlab_file_large_folios(s.f, 1) ||
	    memlab_vmstat_get(s.m, "nr_free_pages", &free_pages))
		return -1;
	rc = run_side(&sim_ops, &s, free_pages / 10 * 6 / NANON / FOLIO, out);
	if (!rc && memlab_check(s.m, NULL, NULL))
		rc = -1;
	memlab_destroy(s.m);
	return rc;
}

/* ===================== the host ===================== */

static int pm_fd, kpf_fd, file_fd;
static char saved_64k[16], saved_2m[16];
static int saved_ok;

static void restore_settings(void)
{
	if (!saved_ok)
		return;
	diff_write_text(SIZE_64K, saved_64k);
	diff_write_text(SIZE_2M, saved_2m);
}

static void on_signal(int sig)
{
	restore_settings();
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t host_map(void *ud, int region, uint64_t len)
{
	char *p = region == D ?
		mmap(NULL, len, PROT_READ, MAP_SHARED, file_fd, 0) :
		mmap(NULL, len + FOLIO * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)ud;
	if (p == MAP_FAILED)
		return 0;
	if (region == D)
		return (uint64_t)(uintptr_t)p;
	return ((uint64_t)(uintptr_t)p + FOLIO * PAGE - 1) & ~(FOLIO * PAGE - 1);
}

static int host_write(void *ud, uint64_t va, uint64_t val)
{
	(void)ud;
	*(volatile uint64_t *)(uintptr_t)va = val;
	return 0;
}

static int host_read(void *ud, uint64_t va, uint64_t *val)
{
	(void)ud;
	*val = *(volatile uint64_t *)(uintptr_t)va;
	return 0;
}

static int host_unmap(void *ud, uint64_t va, uint64_t len)
{
	(void)ud;
	return munmap((void *)(uintptr_t)va, len);
}

static int host_dontneed(void *ud, uint64_t va, uint64_t len)
{
	(void)ud;
	return madvise((void *)(uintptr_t)va, len, MADV_DONTNEED);
}

static int host_mlock(void *ud, uint64_t va, uint64_t len)
{
	(void)ud;
	return mlock((void *)(uintptr_t)va, len);
}

static int host_compact(void *ud)
{
	(void)ud;
	return diff_write_text("/proc/sys/vm/compact_memory", "1");
}

static int host_pagemap(void *ud, uint64_t va, uint64_t *pm, size_t n)
{
	(void)ud;
	return pread(pm_fd, pm, n * 8, (off_t)(va / PAGE * 8)) == (ssize_t)(n * 8) ? 0 : -1;
}

static int host_kpageflags(void *ud, uint64_t pfn, uint64_t *kpf)
{
	(void)ud;
	return pread(kpf_fd, kpf, 8, (off_t)(pfn * 8)) == 8 ? 0 : -1;
}

static int host_split_deferred(void *ud, uint64_t *value)
{
	char buf[32];

	(void)ud;
	if (diff_read_text(THP_DIR "/hugepages-64kB/stats/split_deferred", buf, sizeof buf))
		return -1;
	*value = strtoull(buf, NULL, 10);
	return 0;
}

static int host_file_write(void *ud, uint64_t off, const void *buf, uint64_t len)
{
	(void)ud;
	return pwrite(file_fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

static int host_msync(void *ud, uint64_t va, uint64_t len)
{
	(void)ud;
	return msync((void *)(uintptr_t)va, len, MS_SYNC);
}

static const struct side_ops host_ops = {
	"host", host_map, host_write, host_read, host_unmap, host_dontneed, host_mlock, host_compact,
	host_pagemap, host_kpageflags, host_split_deferred, host_file_write, host_msync,
};

/* MemAvailable in kB, 0 if unknown. */
static uint64_t mem_available_kb(void)
{
	char line[128];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %" SCNu64, &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int host_usable(void)
{
	if (geteuid() != 0 || SANITIZED) {
		printf("diff_compact: skipped: %s\n", SANITIZED ? "under a sanitizer" : "not root");
		return 0;
	}
	if (mem_available_kb() < 2u << 20) {
		printf("diff_compact: skipped: less than 2 GiB available\n");
		return 0;
	}
	diff_thp_settings_lock();
	if (diff_read_choice(SIZE_64K, saved_64k, sizeof saved_64k) ||
	    diff_read_choice(SIZE_2M, saved_2m, sizeof saved_2m)) {
		printf("diff_compact: skipped: no hugepages-64kB or hugepages-2048kB\n");
		return 0;
	}
	pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0 || kpf_fd < 0) {
		printf("diff_compact: skipped: no pagemap or kpageflags\n");
		return 0;
	}
	/* D: a file of /tmp's filesystem (ext4 with large folios, on a test host) */
	file_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (file_fd < 0) {
		printf("diff_compact: skipped: no O_TMPFILE in /tmp\n");
		return 0;
	}
	saved_ok = 1;
	atexit(restore_settings);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGABRT, on_signal);
	return diff_write_text(SIZE_64K, "always") == 0 && diff_write_text(SIZE_2M, "never") == 0;
}

static int host_run(struct outcome *out)
{
	uint64_t nf = mem_available_kb() * 1024 / 10 * 6 / NANON / (FOLIO * PAGE);
	int rc;

	rc = run_side(&host_ops, NULL, nf, out);
	close(file_fd);
	return rc;
}

/* ===================== the comparison ===================== */

static void print_outcome(const char *side, const struct outcome *o)
{
	printf("%s:", side);
	for (int r = 0; r < NREGIONS; r++) {
		printf(" %c", "ABCD"[r]);
		for (int v = 0; v < NR_VERDICTS; v++)
			printf(" %s %" PRIu64, verdict_name[v], o->count[r][v]);
		printf(r < NREGIONS - 1 ? ";" : "");
	}
	printf("; B whole locked %" PRIu64 ", B split unlocked %" PRIu64 ", bad pages %" PRIu64
	       ", split_deferred +%" PRIu64 "\n",
	       o->whole_locked, o->split_unlocked, o->bad_data, o->split_deferred);
}

/* One question: its answer on each side, -1 where a side cannot answer. */
static int ask(const char *q, int host, int sim)
{
	const char *a[] = { "n/a", "no", "yes" };
	int differ = host >= 0 && sim >= 0 && host != sim;

	if (differ || verbose)
		printf("%s %-58s host %-3s memlab %s\n", differ ? "DIFFER" : "agree ", q, a[host + 1],
		       a[sim + 1]);
	return differ;
}

static int compare(const struct outcome *h, const struct outcome *s)
{
	const struct outcome *o[2] = { h, s };
	int ans[9][2];

	for (int i = 0; i < 2; i++) {
		uint64_t bw = o[i]->count[B][WHOLE], bs = o[i]->count[B][SPLIT];

		ans[0][i] = o[i]->count[A][WHOLE] > 0;
		ans[1][i] = o[i]->count[A][SPLIT] > 0;
		ans[2][i] = o[i]->count[C][WHOLE] == 0;
		ans[3][i] = o[i]->count[C][SPLIT] > 0;
		ans[4][i] = bw ? o[i]->whole_locked == 0 : -1;
		ans[5][i] = bs ? o[i]->split_unlocked == 0 : -1;
		ans[6][i] = o[i]->bad_data == 0;
		ans[7][i] = o[i]->split_deferred >= 2 * (o[i]->count[A][WHOLE] + bw);
		ans[8][i] = o[i]->count[D][WHOLE] > 0;
	}
	return ask("some of A's folios moved whole", ans[0][0], ans[0][1]) +
	       ask("some of A's folios were split", ans[1][0], ans[1][1]) +
	       ask("none of C's (partly mapped) moved whole", ans[2][0], ans[2][1]) +
	       ask("some of C's folios were split", ans[3][0], ans[3][1]) +
	       ask("B's folios moved whole are neither mlocked nor unevictable", ans[4][0], ans[4][1]) +
	       ask("B's split folios' pages are mlocked", ans[5][0], ans[5][1]) +
	       ask("every page reads back its number", ans[6][0], ans[6][1]) +
	       ask("split_deferred rose by 2 a folio moved whole, or more", ans[7][0], ans[7][1]) +
	       ask("some of D's (page cache) folios moved whole", ans[8][0], ans[8][1]);
}

int main(int argc, char **argv)
{
	static struct outcome host, sim;
	int differ;

	if (diff_verbose_option(argc, argv, "diff_compact", &verbose))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!host_usable())
		return SKIP_CODE;
	fprintf(stderr, "diff_compact: the host...\n");
	if (host_run(&host)) {
		fprintf(stderr, "diff_compact: the host's side failed: %s\n", strerror(errno));
		return 2;
	}
	restore_settings();
	fprintf(stderr, "diff_compact: memlab...\n");
	if (sim_run(&sim)) {
		fprintf(stderr, "diff_compact: memlab's side failed\n");
		return 2;
	}
	print_outcome("host", &host);
	print_outcome("memlab", &sim);
	differ = compare(&host, &sim);
	printf("diff_compact: %s\n", differ ? "the rules differ" : "the rules agree");
	return differ ? 1 : 0;
}
