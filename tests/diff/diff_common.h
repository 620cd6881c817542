/*
** diff_common.h -- what the differential tests share: the random
** generator (splitmix64: a seed draws the same steps on every run), the
** collecting of what memlab reports, and reading and writing the host's
** sysfs settings.
*/
#ifndef DIFF_COMMON_H
#define DIFF_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <memlab/memlab.h>

/* Built with a sanitizer: its runtime maps and touches memory of its own. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED	0
#endif

/*
** The /proc/kpageflags bits the tests compare with the host (fs/proc/page.c;
** memlab_kpageflags()).  Not compared: lru (a page waits in a CPU's folio
** batch, and the host's tasks move between CPUs; its MADV_PAGEOUT without
** swap leaves 16 of 512 pages off the LRU lists), referenced on the zero
** page (diff_kpf_masked: a GUP of it, FOLL_TOUCH, long ago on the host),
** idle (no page idle tracking in memlab), locked and writeback (transient).
*/
#define KPF_BIT(n)	(1ull << MEMLAB_KPF_##n)
#define KPF_COMPARED	(KPF_BIT(UPTODATE) | KPF_BIT(DIRTY) | KPF_BIT(SLAB) | KPF_BIT(BUDDY) | \
			 KPF_BIT(MMAP) | KPF_BIT(ANON) | KPF_BIT(SWAPCACHE) | KPF_BIT(SWAPBACKED) | \
			 KPF_BIT(COMPOUND_HEAD) | KPF_BIT(COMPOUND_TAIL) | KPF_BIT(HUGE) | \
			 KPF_BIT(UNEVICTABLE) | KPF_BIT(THP) | KPF_BIT(ZERO_PAGE) | \
			 KPF_BIT(PGTABLE) | KPF_BIT(RESERVED) | KPF_BIT(MLOCKED) | KPF_BIT(OWNER_2) | \
			 KPF_BIT(ACTIVE) | KPF_BIT(REFERENCED))

/* A kpageflags word as compared. */
static inline uint64_t diff_kpf_masked(uint64_t flags)
{
	flags &= KPF_COMPARED;
	if (flags & KPF_BIT(ZERO_PAGE))
		flags &= ~KPF_BIT(REFERENCED);
	return flags;
}

/* The names of a compared word's bits (include/uapi/linux/kernel-page-flags.h). */
static inline void diff_fmt_kpf(char *buf, size_t n, uint64_t flags)
{
	static const char *const names[64] = {
		[MEMLAB_KPF_UPTODATE] = "uptodate", [MEMLAB_KPF_DIRTY] = "dirty",
		[MEMLAB_KPF_SLAB] = "slab", [MEMLAB_KPF_BUDDY] = "buddy",
		[MEMLAB_KPF_MMAP] = "mmap", [MEMLAB_KPF_ANON] = "anon",
		[MEMLAB_KPF_SWAPCACHE] = "swapcache", [MEMLAB_KPF_SWAPBACKED] = "swapbacked",
		[MEMLAB_KPF_COMPOUND_HEAD] = "compound_head",
		[MEMLAB_KPF_COMPOUND_TAIL] = "compound_tail", [MEMLAB_KPF_HUGE] = "huge",
		[MEMLAB_KPF_UNEVICTABLE] = "unevictable", [MEMLAB_KPF_THP] = "thp",
		[MEMLAB_KPF_ZERO_PAGE] = "zero_page", [MEMLAB_KPF_PGTABLE] = "pgtable",
		[MEMLAB_KPF_RESERVED] = "reserved", [MEMLAB_KPF_MLOCKED] = "mlocked",
		[MEMLAB_KPF_OWNER_2] = "owner_2", [MEMLAB_KPF_ACTIVE] = "active",
		[MEMLAB_KPF_REFERENCED] = "referenced",
	};
	size_t len = 0;

	buf[0] = '\0';
	for (int b = 0; b < 64 && len < n; b++)
		if (flags >> b & 1)
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "",
						names[b] ? names[b] : "?");
	if (!len)
		snprintf(buf, n, "none");
}

struct rng { uint64_t s; };

static inline uint64_t rnext(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0 .. n-1 (0 for n = 0) */
static inline uint64_t rnd(struct rng *r, uint64_t n) { return n ? rnext(r) % n : 0; }

/* A message of memlab's report callback, appended to buf ("; " between). */
static inline void diff_append_report(char *buf, size_t size, const char *msg)
{
	size_t l = strlen(buf);

	if (l + 2 < size)
		snprintf(buf + l, size - l, "%s%s", l ? "; " : "", msg);
}

/* The text of a (sysfs or procfs) file, NUL-terminated in buf: 0, or -1. */
static inline int diff_read_text(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

/* The bracketed word of a sysfs choice ("always [madvise] never") in out: 0, or -1. */
static inline int diff_read_choice(const char *path, char *out, size_t n)
{
	char buf[128], *l, *r;

	if (diff_read_text(path, buf, sizeof buf) || !(l = strchr(buf, '[')) ||
	    !(r = strchr(l, ']')))
		return -1;
	snprintf(out, n, "%.*s", (int)(r - l - 1), l + 1);
	return 0;
}

/* s written to path: 0, or -1.  Async-signal-safe: handlers put settings back with it. */
static inline int diff_write_text(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, s, strlen(s));
	close(fd);
	return w == (ssize_t)strlen(s) ? 0 : -1;
}

/*
** The command line of a test whose only option is -v: *verbose set, 0;
** anything else is a usage error (printed, -1: the caller exits 2).
*/
static inline int diff_verbose_option(int argc, char **argv, const char *prog, int *verbose)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v")) {
			fprintf(stderr, "usage: %s [-v]\n", prog);
			return -1;
		}
		*verbose = 1;
	}
	return 0;
}

/* A fresh 1 GiB x86-64 machine (seed 1) reporting to report(ud, ...). */
static inline int diff_machine(memlab_machine **m, memlab_report_fn report, void *ud)
{
	struct memlab_config cfg;

	memlab_config_init(&cfg);
	cfg.ram = 1ULL << 30;
	cfg.seed = 1;
	cfg.report = report;
	cfg.report_ud = ud;
	return memlab_create(&cfg, m);
}

/*
** The tests that read or write the host's transparent_hugepage settings
** (diff_thp, diff_mthp) take this lock for their whole run, so that two
** of them -- two builds' test runs at once -- never see each other's
** settings, nor save them as the host's own.  Held until exit.
*/
static inline void diff_thp_settings_lock(void)
{
	int fd = open("/tmp/memlab-diff-thp-settings.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0)
		while (flock(fd, LOCK_EX) && errno == EINTR)
			;
}

/*
** The host's hugepages-<size>kB/enabled given to machine m, size by size
** (the sizes both have); 0, or -1 when the host has none of them.
*/
static inline int diff_host_thp_sizes(memlab_machine *m)
{
	struct memlab_thp_size sz[16];
	size_t n = memlab_thp_sizes(m, sz, 16);
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		char path[128], mode[32];

		snprintf(path, sizeof path, "/sys/kernel/mm/transparent_hugepage/hugepages-%llukB/enabled",
			 (unsigned long long)(sz[i].size >> 10));
		if (!diff_read_choice(path, mode, sizeof mode) &&
		    memlab_thp_size_set(m, sz[i].size, mode) == 0)
			found = 1;
	}
	return found ? 0 : -1;
}

#endif
