/*
** diff_ra.c -- differential test of memlab's readahead (mm/readahead.c:
** read(2)'s windows, mmap faults' read-around, the PG_readahead marks,
** fault-around skipping marked pages, fadvise and MADV_WILLNEED) against
** the kernel this program runs on.
**
** The host's side runs on a file of an ext4 filesystem mounted with
** data=journal: such a file has no large folios, as memlab's page cache
** has none (ext4 otherwise reads ahead in folios of rising order).  The
** filesystem lives on a zram device made for the test: zram reads
** synchronously, so a page read ahead is up to date when the read returns,
** as memlab's are -- on a device with reads in flight, the fault-around of
** a retried fault maps only the pages already read.  Without zram it uses
** a loop device and does not compare what the mapping maps.  For each seed a fresh file of random size, whose pages are
** all out of the page cache, a read_ahead_kb for the loop device, and a
** mapping of the whole file (read-only shared; with MADV_RANDOM,
** MADV_SEQUENTIAL, MADV_HUGEPAGE or PROT_EXEC sometimes), then a random
** sequence of pread(2)s (often each where the last ended), first touches
** of the mapping (often page after page), posix_fadvise(2) and
** MADV_WILLNEED -- done on the host, and on a memlab machine with the same
** disk queue and a file of the same size.  Then it compares, page by page,
**   - which pages are in the page cache (mincore(2) over the mapping),
**   - which of those carry PG_readahead (/proc/kpageflags' reclaim bit, read
**     through a second, MADV_RANDOM mapping that faults in only cached
**     pages, so that no fault reads ahead),
**   - which pages the mapping maps (pagemap's present bit: fault-around
**     maps the cached pages around a fault, but not a marked one),
** and the major faults counted (getrusage).  memlab_check() must pass.
**
**   diff_ra [--first N] [--count N] [-q]   run seeds N .. N+count-1
**   diff_ra --seed N [-v]                  one seed, its steps printed
**   diff_ra --seed N --steps               and the page cache after each
**
**   diff_ra --large ...   ext4 mounted data=ordered on the host, whose
**                         regular files have large folios, against a
**                         memlab file with large folios: the folios'
**                         heads and tails (kpageflags) are compared too,
**                         and the mapping's FilePmdMapped (smaps)
**   diff_ra --huge ...    --large with files of 2 MiB to 4.7 MiB, half
**                         of them mapped MADV_HUGEPAGE: 2 MiB folios,
**                         mapped by PMDs
**
** Exit status 0 when every seed passed, 1 when one differed, 77 when it
** cannot run here (not root, no mkfs.ext4, no loop mount), 2 when the
** host's file uses large folios after all (without --large).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diff_common.h"

#define PG		4096ull
#define MAX_PAGES	1200	/* --huge's; 400 otherwise */
#define MAX_OPS		14
#define IMG_BYTES	(96ull << 20)
#define MADV_WILLNEED_	3
#define MADV_RANDOM_	1

extern char **environ;

enum op_kind { OP_READ, OP_TOUCH, OP_FADVISE, OP_WILLNEED, OP_WRITE, OP_TRUNCATE };
enum map_kind { MAP_NORMAL_, MAP_RANDOM_, MAP_SEQ_, MAP_HUGE_, MAP_EXEC_, MAP_PRIVATE_RW_,
		NR_MAP_KINDS };
static const char *const map_names[] = { "normal", "MADV_RANDOM", "MADV_SEQUENTIAL",
					  "MADV_HUGEPAGE", "PROT_EXEC", "MAP_PRIVATE rw-" };
static const char *const fadv_names[] = { "NORMAL", "RANDOM", "SEQUENTIAL", "WILLNEED",
					  "DONTNEED", "NOREUSE" };

struct op {
	int kind;
	uint64_t off, len;	/* bytes (READ, WRITE, FADVISE; TRUNCATE: off), pages (TOUCH: off; WILLNEED: both) */
	int advice;		/* FADVISE's; TOUCH: 1 a write */
};

struct seq {
	uint64_t seed, size, pages;
	uint64_t end_pages;	/* the file's pages after the sequence (--truncate) */
	int64_t ra_kb;
	int map;
	int nops;
	struct op ops[MAX_OPS];
};

/* What a side shows after the sequence. */
struct view {
	char cache[MAX_PAGES + 1];	/* '.' not cached, 'c' cached, 'R' cached with PG_readahead */
	char folio[MAX_PAGES + 1];	/* --large: '.', 'c' a small folio, 'H' a large one's head, 't' its tail */
	char mapped[MAX_PAGES + 1];	/* '.' or 'm' */
	long pmd_kb;			/* --large: the mapping's FilePmdMapped (smaps) */
	long majflt;
};

static char dir[64], img[96], mnt[96], path[128];
static char ra_knob[128];
static int zram_id = -1;	/* the zram device made for the test, or -1: a loop device */
static int64_t max_sectors_kb = 1280;
static int verbose, quiet, steps;
static int large;	/* --large: ext4 with large folios (not data=journal) on both sides */
static int truncating;	/* --truncate: ftruncate(2)s among the operations */
static int huge;	/* --huge: --large with files of 2 MiB and more, MADV_HUGEPAGE often */
static int kpf_fd = -1, pm_fd = -1;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("diff_ra: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- the host's filesystem ---- */

static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int write_file(const char *file, const char *val)
{
	int fd = open(file, O_WRONLY);
	ssize_t n = fd < 0 ? -1 : write(fd, val, strlen(val));

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static void cleanup(void)
{
	char knob[64], id[16];

	if (mnt[0]) {
		umount2(mnt, 0);
		rmdir(mnt);
	}
	if (zram_id >= 0) {
		snprintf(knob, sizeof(knob), "/sys/block/zram%d/reset", zram_id);
		write_file(knob, "1");
		snprintf(id, sizeof(id), "%d", zram_id);
		write_file("/sys/class/zram-control/hot_remove", id);
	}
	if (img[0])
		unlink(img);
	if (dir[0])
		rmdir(dir);
}

static int skip(const char *why)
{
	fprintf(stderr, "diff_ra: SKIP: %s\n", why);
	return 77;
}

/* A new zram device of IMG_BYTES with ext4 on it; its /dev path in dev, or -1. */
static int zram_setup(char *dev, size_t n)
{
	char knob[64], id[16] = "";
	int fd = open("/sys/class/zram-control/hot_add", O_RDONLY);
	ssize_t len = fd < 0 ? -1 : read(fd, id, sizeof(id) - 1);

	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return -1;
	zram_id = atoi(id);
	snprintf(knob, sizeof(knob), "/sys/block/zram%d/disksize", zram_id);
	snprintf(id, sizeof(id), "%llu", IMG_BYTES);
	snprintf(dev, n, "/dev/zram%d", zram_id);
	if (write_file(knob, id) != 0 || run((char *[]){ "mkfs.ext4", "-q", "-F", dev, NULL }) != 0)
		return -1;
	return 0;
}

/*
** A 96 MiB ext4 filesystem mounted data=journal, on a zram device or else
** from an image on a loop device; 77 when it cannot be.
*/
static int host_fs_setup(void)
{
	struct stat st;
	char val[128], dev[32];
	int fd;

	if (geteuid() != 0)
		return skip("not root (mount, /proc/kpageflags)");
	strcpy(dir, "/tmp/memlab-diff-ra.XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	if (mkdir(mnt, 0700) != 0)
		die("%s: %s", mnt, strerror(errno));
	if (zram_setup(dev, sizeof(dev)) == 0 &&
	    run((char *[]){ "mount", "-o", large ? "data=ordered" : "data=journal", dev, mnt,
			     NULL }) == 0)
		goto mounted;
	fprintf(stderr, "diff_ra: no zram device: a loop device, what the mapping maps not compared\n");
	cleanup();
	zram_id = -1;
	if (mkdir(dir, 0700) != 0 || mkdir(mnt, 0700) != 0)
		die("%s: %s", mnt, strerror(errno));
	snprintf(img, sizeof(img), "%s/img", dir);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)IMG_BYTES) != 0)
		die("%s: %s", img, strerror(errno));
	close(fd);
	if (run((char *[]){ "mkfs.ext4", "-q", "-F", img, NULL }) != 0)
		return skip("mkfs.ext4 failed (e2fsprogs not installed?)");
	if (run((char *[]){ "mount", "-o", large ? "loop,data=ordered" : "loop,data=journal", img,
			     mnt, NULL }) != 0) {
		rmdir(mnt);
		mnt[0] = '\0';
		return skip("cannot mount a loop device");
	}
mounted:
	if (stat(mnt, &st) != 0)
		die("%s: %s", mnt, strerror(errno));
	snprintf(ra_knob, sizeof(ra_knob), "/sys/dev/block/%u:%u/queue/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	snprintf(val, sizeof(val), "/sys/dev/block/%u:%u/queue/max_sectors_kb",
		 major(st.st_dev), minor(st.st_dev));
	fd = open(val, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, val, sizeof(val) - 1);

		if (n > 0) {
			val[n] = '\0';
			max_sectors_kb = strtoll(val, NULL, 10);
		}
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/file", mnt);
	kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (kpf_fd < 0 || pm_fd < 0)
		return skip("no /proc/kpageflags or pagemap");
	return 0;
}

static void set_read_ahead_kb(int64_t kb)
{
	char val[32];

	snprintf(val, sizeof(val), "%" PRId64, kb);
	if (write_file(ra_knob, val) != 0)
		die("%s: %s", ra_knob, strerror(errno));
}

/* The kB of field in the smaps block of the VMA that starts at start; -1: none. */
static long smaps_kb(const char *text, uint64_t start, const char *field)
{
	char head[32];
	const char *p, *next;

	snprintf(head, sizeof(head), "%" PRIx64 "-", start);
	for (p = text; p && strncmp(p, head, strlen(head)); p = strchr(p, '\n'), p = p ? p + 1 : p)
		;
	if (!p)
		return -1;
	next = strchr(p, '\n');
	while (next && (p = strstr(next, field)) && !(p[-1] == '\n'))
		next = p + 1;
	return p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
}

static char smaps_text[1 << 20];

static long host_pmd_kb(uint64_t start)
{
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		die("/proc/self/smaps: %s", strerror(errno));
	while ((n = read(fd, smaps_text + len, sizeof(smaps_text) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	smaps_text[len] = '\0';
	return smaps_kb(smaps_text, start, "FilePmdMapped:");
}

/* A page's place in its folio, from its kpageflags: small, a large one's head or tail. */
static char folio_char(uint64_t flags)
{
	if (flags & KPF_BIT(COMPOUND_HEAD))
		return 'H';
	return flags & KPF_BIT(COMPOUND_TAIL) ? 't' : 'c';
}

/* ---- the sequence ---- */

/*
** --truncate: an operation becomes an ftruncate(2) now and then -- mostly
** shrinking, to a page boundary or inside a page, sometimes to the same
** size or back up to at most the first size (the views cover that) --
** drawn from a second generator, so that the other operations are those
** of the seed without it; a touch or write past the file's end then is
** moved inside it (a touch there is SIGBUS), or becomes a read when the
** file is empty.  size: the file's size as the sequence goes.
*/
static void truncate_op(const struct seq *s, struct op *o, struct rng *t, uint64_t *size,
			int *truncated)
{
	uint64_t pages = (*size + PG - 1) / PG;

	/* as after a write: the page at the end is journaled, or dirty */
	if (*truncated && o->kind == OP_FADVISE && o->advice == POSIX_FADV_DONTNEED)
		o->advice = POSIX_FADV_NORMAL;
	if (rnd(t, 5) == 0) {
		uint64_t k = rnd(t, 8);

		o->kind = OP_TRUNCATE;
		o->off = k < 5 ? rnd(t, *size + 1) : k == 5 ? *size : rnd(t, s->size + 1);
		if (k < 3)
			o->off &= ~(PG - 1);
		*size = o->off;
		*truncated = 1;
		return;
	}
	if ((o->kind == OP_TOUCH || o->kind == OP_WRITE) && !*size) {
		o->kind = OP_READ;
		o->len = PG;
	} else if (o->kind == OP_TOUCH && o->off >= pages) {
		o->off = rnd(t, pages);
	} else if (o->kind == OP_WRITE && o->off + o->len > *size) {
		o->off = rnd(t, *size);
		o->len = 1 + rnd(t, *size - o->off);
	}
}

static void gen(struct seq *s, uint64_t seed)
{
	static const int64_t ra_kbs[] = { 128, 128, 128, 512, 2560, 16, 0 };
	struct rng r = { seed }, t = { seed ^ 0x7472756e63617465ull };
	uint64_t size;
	int truncated = 0;
	uint64_t next_byte = 0, next_page = 0;
	int written = 0;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->ra_kb = ra_kbs[rnd(&r, 7)];
	s->size = (huge ? 512 + rnd(&r, MAX_PAGES - 512) : 8 + rnd(&r, 400 - 9)) * PG +
		  (rnd(&r, 3) ? 0 : 1 + rnd(&r, PG - 1));
	s->pages = (s->size + PG - 1) / PG;
	size = s->size;
	s->map = rnd(&r, 3) ? MAP_NORMAL_ : (int)rnd(&r, NR_MAP_KINDS);
	if (huge && rnd(&r, 2))
		s->map = MAP_HUGE_;	/* 2 MiB folios, mapped by PMDs */
	s->nops = 1 + (int)rnd(&r, MAX_OPS);
	for (int i = 0; i < s->nops; i++) {
		struct op *o = &s->ops[i];
		uint64_t k = rnd(&r, 20);

		if (k < 9) {
			static const uint64_t lens[] = { 1, PG, 2 * PG, 3 * PG, 16 * PG };

			o->kind = OP_READ;
			o->off = rnd(&r, 2) ? next_byte
					    : rnd(&r, s->pages + 2) * PG + (rnd(&r, 4) ? 0 : rnd(&r, PG));
			o->len = rnd(&r, 3) ? lens[rnd(&r, 5)] : 1 + rnd(&r, 400 * PG);
			next_byte = o->off + o->len;
		} else if (k < 15) {
			o->kind = OP_TOUCH;
			o->off = rnd(&r, 3) ? next_page : rnd(&r, s->pages);
			if (o->off >= s->pages)
				o->off = rnd(&r, s->pages);
			o->advice = s->map == MAP_PRIVATE_RW_ && rnd(&r, 2);
			next_page = o->off + 1;
		} else if (k < 16) {
			/* within the file: its size stays; the pages it makes are not read ahead */
			o->kind = OP_WRITE;
			o->off = rnd(&r, s->size);
			o->len = 1 + rnd(&r, s->size - o->off < 16 * PG ? s->size - o->off : 16 * PG);
			written = 1;
		} else if (k < 19) {
			o->kind = OP_FADVISE;
			o->advice = (int)rnd(&r, 6);
			/*
			 * Not DONTNEED after a write: the host's ext4 data=journal
			 * holds a written page under writeback until its journal
			 * commits, seconds later (memlab's next DONTNEED drops it)
			 */
			if (written && o->advice == POSIX_FADV_DONTNEED)
				o->advice = POSIX_FADV_NORMAL;
			o->off = rnd(&r, s->pages + 1) * PG + (rnd(&r, 4) ? 0 : rnd(&r, PG));
			o->len = rnd(&r, 4) ? rnd(&r, s->pages + 1) * PG + (rnd(&r, 3) ? 0 : rnd(&r, PG)) : 0;
		} else {
			o->kind = OP_WILLNEED;
			o->off = rnd(&r, s->pages);
			o->len = 1 + rnd(&r, s->pages - o->off);
		}
		if (truncating)
			truncate_op(s, o, &t, &size, &truncated);
	}
	s->end_pages = (size + PG - 1) / PG;
}

static void fmt_op(char *buf, size_t n, const struct op *o)
{
	switch (o->kind) {
	case OP_READ:
		snprintf(buf, n, "pread(off %" PRIu64 " = page %" PRIu64 "+%" PRIu64 ", len %" PRIu64 ")",
			 o->off, o->off / (uint64_t)PG, o->off % (uint64_t)PG, o->len);
		break;
	case OP_TOUCH:
		snprintf(buf, n, "%s page %" PRIu64, o->advice ? "write to" : "touch", o->off);
		break;
	case OP_WRITE:
		snprintf(buf, n, "pwrite(off %" PRIu64 " = page %" PRIu64 "+%" PRIu64 ", len %" PRIu64 ")",
			 o->off, o->off / (uint64_t)PG, o->off % (uint64_t)PG, o->len);
		break;
	case OP_FADVISE:
		snprintf(buf, n, "fadvise(off %" PRIu64 ", len %" PRIu64 ", %s)", o->off, o->len,
			 fadv_names[o->advice]);
		break;
	case OP_TRUNCATE:
		snprintf(buf, n, "ftruncate(%" PRIu64 " = page %" PRIu64 "+%" PRIu64 ")", o->off,
			 o->off / (uint64_t)PG, o->off % (uint64_t)PG);
		break;
	default:
		snprintf(buf, n, "madvise(pages %" PRIu64 "..%" PRIu64 ", WILLNEED)", o->off,
			 o->off + o->len - 1);
	}
}

static int map_prot(const struct seq *s)
{
	return PROT_READ | (s->map == MAP_EXEC_ ? PROT_EXEC : 0) |
	       (s->map == MAP_PRIVATE_RW_ ? PROT_WRITE : 0);
}

static int map_flags(const struct seq *s)
{
	return s->map == MAP_PRIVATE_RW_ ? MAP_PRIVATE : MAP_SHARED;
}

static int map_advice(const struct seq *s)
{
	return s->map == MAP_RANDOM_ ? MADV_RANDOM : s->map == MAP_SEQ_ ? MADV_SEQUENTIAL
		: s->map == MAP_HUGE_ ? MADV_HUGEPAGE : -1;
}

/* ---- the host ---- */

static uint8_t buf[MAX_PAGES * PG + PG];
static uint64_t map_at;		/* both sides map the file here: fault-around aligns in addresses */

/*
** A 2 MiB aligned address with room for the mapping, reserved (PROT_NONE)
** in this process until host_run() maps the file over it.
*/
static uint64_t reserve_area(uint64_t len)
{
	char *p = mmap(NULL, len + (2 << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t a;

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	a = ((uint64_t)(uintptr_t)p + (2 << 20) - 1) & ~((2ull << 20) - 1);
	munmap(p, a - (uint64_t)(uintptr_t)p);
	munmap((void *)(uintptr_t)(a + len), (uint64_t)(uintptr_t)p + len + (2 << 20) - a - len);
	return a;
}

/* The same area reserved again, for a rerun. */
static void rereserve_area(uint64_t a, uint64_t len)
{
	void *p = mmap((void *)(uintptr_t)a, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != (void *)(uintptr_t)a)
		die("cannot map at %#" PRIx64 " again: %s", a, strerror(errno));
}

/* The file, its pages written and then dropped from the page cache. */
static int host_file(const struct seq *s)
{
	unsigned char vec[MAX_PAGES];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	void *p;

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	memset(buf, 0x5a, s->size);
	if (write(fd, buf, s->size) != (ssize_t)s->size || fsync(fd) != 0)
		die("write %s: %s", path, strerror(errno));
	for (int tries = 0; tries < 50; tries++) {
		int cached = 0;

		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		p = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || mincore(p, s->size, vec) != 0)
			die("mincore: %s", strerror(errno));
		munmap(p, s->size);
		for (uint64_t i = 0; i < s->pages; i++)
			cached += vec[i] & 1;
		if (!cached) {
			close(fd);
			return 0;
		}
		sync();
		usleep(10000);
	}
	die("the host keeps pages of a fresh file cached after fsync and POSIX_FADV_DONTNEED");
	return -1;
}

static uint64_t host_pfn(const void *a)
{
	uint64_t e = 0;

	if (pread(pm_fd, &e, 8, (off_t)((uintptr_t)a / PG * 8)) != 8)
		die("pagemap: %s", strerror(errno));
	return e;
}

static void host_run(const struct seq *s, struct view *v)
{
	unsigned char vec[MAX_PAGES];
	struct rusage r0, r1;
	volatile uint8_t *map, *obs;
	int fd;

	host_file(s);
	set_read_ahead_kb(s->ra_kb);	/* before open(): file_ra_state_init */
	fd = open(path, O_RDWR);
	map = mmap((void *)(uintptr_t)map_at, s->pages * PG, map_prot(s), map_flags(s) | MAP_FIXED,
		   fd, 0);
	if (fd < 0 || map == MAP_FAILED)
		die("open/mmap %s: %s", path, strerror(errno));
	if (map_advice(s) >= 0 && madvise((void *)map, s->pages * PG, map_advice(s)) != 0)
		die("madvise: %s", strerror(errno));
	getrusage(RUSAGE_SELF, &r0);
	for (int i = 0; i < s->nops; i++) {
		const struct op *o = &s->ops[i];

		switch (o->kind) {
		case OP_READ:
			if (pread(fd, buf, o->len, (off_t)o->off) < 0)
				die("pread: %s", strerror(errno));
			break;
		case OP_TOUCH:
			if (o->advice)
				map[o->off * PG] = 1;
			else
				(void)map[o->off * PG];
			break;
		case OP_WRITE:
			if (pwrite(fd, buf, o->len, (off_t)o->off) != (ssize_t)o->len)
				die("pwrite: %s", strerror(errno));
			break;
		case OP_FADVISE:
			posix_fadvise(fd, (off_t)o->off, (off_t)o->len, o->advice);
			break;
		case OP_TRUNCATE:
			if (ftruncate(fd, (off_t)o->off) != 0)
				die("ftruncate: %s", strerror(errno));
			break;
		default:
			madvise((void *)(map + o->off * PG), o->len * PG, MADV_WILLNEED);
		}
		if (steps) {
			usleep(20000);
			mincore((void *)map, s->pages * PG, vec);
			printf("  host   after %2d: ", i + 1);
			for (uint64_t j = 0; j < s->pages; j++)
				putchar(vec[j] & 1 ? 'c' : '.');
			putchar('\n');
		}
	}
	getrusage(RUSAGE_SELF, &r1);
	v->majflt = r1.ru_majflt - r0.ru_majflt;
	usleep(20000);		/* mincore() counts a page once its read completed */
	for (uint64_t i = 0; i < s->pages; i++) {
		uint64_t e = host_pfn((const void *)(map + i * PG));

		v->mapped[i] = e >> 63 ? 'm' : '.';
	}
	v->pmd_kb = large ? host_pmd_kb((uint64_t)(uintptr_t)map) : 0;
	if (mincore((void *)map, s->pages * PG, vec) != 0)
		die("mincore: %s", strerror(errno));
	obs = mmap(NULL, s->pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (obs == MAP_FAILED || madvise((void *)obs, s->pages * PG, MADV_RANDOM) != 0)
		die("mmap: %s", strerror(errno));
	for (uint64_t i = 0; i < s->pages; i++) {
		uint64_t e, flags = 0;

		v->cache[i] = v->folio[i] = '.';
		if (!(vec[i] & 1))
			continue;
		if (i >= s->end_pages) {	/* cached past the end: a fault there is SIGBUS */
			v->cache[i] = 'c';
			v->folio[i] = 'x';
			continue;
		}
		(void)obs[i * PG];
		e = host_pfn((const void *)(obs + i * PG));
		if (pread(kpf_fd, &flags, 8, (off_t)((e & MEMLAB_PM_PFRAME_MASK) * 8)) != 8)
			die("kpageflags: %s", strerror(errno));
		if (!large && (flags & (KPF_BIT(COMPOUND_HEAD) | KPF_BIT(COMPOUND_TAIL)))) {
			fprintf(stderr, "diff_ra: the host's file has large folios here\n");
			exit(2);
		}
		v->cache[i] = flags & KPF_BIT(RECLAIM) ? 'R' : 'c';
		v->folio[i] = folio_char(flags);
	}
	v->cache[s->pages] = v->mapped[s->pages] = v->folio[s->pages] = '\0';
	munmap((void *)obs, s->pages * PG);
	munmap((void *)map, s->pages * PG);
	close(fd);
	unlink(path);
}

/* ---- memlab ---- */

static char reports[4096];

static void on_report(void *ud, const char *msg)
{
	(void)ud;
	diff_append_report(reports, sizeof(reports), msg);
}

static void on_violation(void *ud, const char *msg)
{
	(void)ud;
	diff_append_report(reports, sizeof(reports), msg);
}

static void sim_run(const struct seq *s, struct view *v)
{
	struct memlab_disk_queue q = { s->ra_kb, max_sectors_kb };
	struct memlab_spawn_args args;
	struct memlab_mm_info mi;
	memlab_machine *m;
	memlab_task *t;
	memlab_file *f;
	uint64_t map, obs, done, e[MAX_PAGES];
	unsigned char vec[MAX_PAGES];
	int si;

	reports[0] = '\0';
	memset(&args, 0, sizeof(args));
	args.name = "diff_ra";
	if (diff_machine(&m, on_report, NULL) || memlab_disk_queue(m, &q, NULL) ||
	    memlab_file_create(m, "/mnt/file", 0, 1, &f) ||
	    (large && memlab_file_large_folios(f, 1)) || memlab_spawn(m, &args, &t))
		die("memlab: cannot set up the machine");
	memset(buf, 0x5a, s->size);
	if (memlab_file_load(f, 0, buf, s->size) ||
	    memlab_mmap(t, map_at, s->pages * PG, map_prot(s),	/* PROT_* as Linux's */
			(s->map == MAP_PRIVATE_RW_ ? MEMLAB_MAP_PRIVATE : MEMLAB_MAP_SHARED) |
			MEMLAB_MAP_FIXED, f, 0, &map))
		die("memlab: cannot map the file");
	if (map_advice(s) >= 0 && memlab_madvise(t, map, s->pages * PG, map_advice(s)))
		die("memlab: madvise %d", map_advice(s));
	for (int i = 0; i < s->nops; i++) {
		const struct op *o = &s->ops[i];

		switch (o->kind) {
		case OP_READ:
			memlab_file_pread(f, o->off, buf, o->len, &done);
			break;
		case OP_TOUCH:
			memlab_access(t, map + o->off * PG, 1, o->advice ? 'w' : 'r', buf, &si);
			break;
		case OP_WRITE:
			memlab_file_pwrite(f, o->off, buf, o->len, &done);
			break;
		case OP_FADVISE:
			memlab_fadvise(f, (int64_t)o->off, (int64_t)o->len, o->advice);
			break;
		case OP_TRUNCATE:
			if (memlab_file_truncate(f, (int64_t)o->off))
				die("memlab: ftruncate %" PRIu64, o->off);
			break;
		default:
			memlab_madvise(t, map + o->off * PG, o->len * PG, MADV_WILLNEED_);
		}
		if (steps) {
			memlab_mincore(t, map, s->pages * PG, vec);
			printf("  memlab after %2d: ", i + 1);
			for (uint64_t j = 0; j < s->pages; j++)
				putchar(vec[j] & 1 ? 'c' : '.');
			putchar('\n');
		}
	}
	memlab_mm_info(t, &mi);
	v->majflt = (long)mi.maj_flt;
	memlab_pagemap(t, map, e, s->pages);
	for (uint64_t i = 0; i < s->pages; i++)
		v->mapped[i] = e[i] & MEMLAB_PM_PRESENT ? 'm' : '.';
	v->pmd_kb = 0;
	if (large) {
		char spath[32], *text = NULL;
		size_t len;

		snprintf(spath, sizeof(spath), "%d/smaps", memlab_task_pid(t));
		if (memlab_proc(m, spath, &text, &len))
			die("memlab: no smaps");
		v->pmd_kb = smaps_kb(text, map, "FilePmdMapped:");
		memlab_free_text(m, text);
	}
	if (memlab_mincore(t, map, s->pages * PG, vec) ||
	    memlab_mmap(t, 0, s->pages * PG, MEMLAB_PROT_READ, MEMLAB_MAP_SHARED, f, 0, &obs) ||
	    memlab_madvise(t, obs, s->pages * PG, MADV_RANDOM_))
		die("memlab: cannot look at the cache");
	for (uint64_t i = 0; i < s->pages; i++) {
		uint64_t flags = 0;

		v->cache[i] = v->folio[i] = '.';
		if (!vec[i])
			continue;
		if (i >= s->end_pages) {
			v->cache[i] = 'c';
			v->folio[i] = 'x';
			continue;
		}
		memlab_access(t, obs + i * PG, 1, 'r', buf, &si);
		memlab_pagemap(t, obs + i * PG, e, 1);
		memlab_kpageflags(m, e[0] & MEMLAB_PM_PFRAME_MASK, &flags, 1);
		v->cache[i] = flags & KPF_BIT(RECLAIM) ? 'R' : 'c';
		v->folio[i] = folio_char(flags);
	}
	v->cache[s->pages] = v->mapped[s->pages] = v->folio[s->pages] = '\0';
	memlab_check(m, on_violation, NULL);
	memlab_destroy(m);
}

/* ---- running ---- */

static void print_seq(const struct seq *s)
{
	char line[160];

	printf("seed %" PRIu64 ": read_ahead_kb %" PRId64 ", a file of %" PRIu64 " bytes (%" PRIu64
	       " pages), mapped %s\n", s->seed, s->ra_kb, s->size, s->pages, map_names[s->map]);
	for (int i = 0; i < s->nops; i++) {
		fmt_op(line, sizeof(line), &s->ops[i]);
		printf("  %2d %s\n", i + 1, line);
	}
}

static void print_view(const char *who, const struct view *v)
{
	printf("  %-6s cache  %s\n", who, v->cache);
	if (large)
		printf("  %-6s folios %s\n", who, v->folio);
	printf("  %-6s mapped %s\n  %-6s majflt %ld\n", who, v->mapped, who, v->majflt);
	if (large)
		printf("  %-6s FilePmdMapped %ld kB\n", who, v->pmd_kb);
}

static int views_differ(const struct view *h, const struct view *m)
{
	return strcmp(h->cache, m->cache) || (zram_id >= 0 && strcmp(h->mapped, m->mapped)) ||
	       h->majflt != m->majflt || (large && strcmp(h->folio, m->folio)) ||
	       h->pmd_kb != m->pmd_kb;
}

/*
** A sequence that differs runs up to three more times on the host: about
** one seed in 700 finds one page of a window not up to date on the host
** (a readahead request the device may fail, REQ_RAHEAD), which a rerun
** does not; memlab's side is deterministic, so its own differences fail
** every run.
*/
static int run_seed(uint64_t seed)
{
	struct seq s;
	struct view h, m;
	int bad, tries = 0;

	gen(&s, seed);
	map_at = reserve_area(s.pages * PG);
	sim_run(&s, &m);
	for (;;) {
		host_run(&s, &h);	/* unmaps the area */
		if (!views_differ(&h, &m) || ++tries == 4)
			break;
		rereserve_area(map_at, s.pages * PG);
	}
	bad = views_differ(&h, &m) || reports[0];
	if (tries && !bad && !quiet)
		printf("seed %" PRIu64 ": the same on the host's run %d\n", seed, tries + 1);
	if (bad || verbose) {
		print_seq(&s);
		print_view("host", &h);
		print_view("memlab", &m);
		if (reports[0])
			printf("  memlab reported: %s\n", reports);
		printf("  %s\n", bad ? "DIFFERS" : "same");
	}
	return bad;
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = 200;
	int failed = 0, rc, one = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--first") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0), count = 1, one = 1;
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!strcmp(argv[i], "--steps"))
			verbose = steps = 1;
		else if (!strcmp(argv[i], "-q"))
			quiet = 1;
		else if (!strcmp(argv[i], "--large"))
			large = 1;
		else if (!strcmp(argv[i], "--huge"))
			large = huge = 1;
		else if (!strcmp(argv[i], "--truncate"))
			truncating = 1;
		else
			die("usage: diff_ra [--large | --huge] [--truncate] [--first N] [--count N] "
			    "[--seed N] [-v] [-q]");
	}
	if ((rc = host_fs_setup()) != 0)
		return rc;
	for (uint64_t seed = first; seed < first + count; seed++)
		failed += run_seed(seed);
	if (!quiet || failed)
		printf("diff_ra: %" PRIu64 " seed%s, %d differ%s%s\n", count, count == 1 ? "" : "s",
		       failed, failed == 1 ? "s" : "", one ? "" : " (--seed N replays one)");
	return failed ? 1 : 0;
}
