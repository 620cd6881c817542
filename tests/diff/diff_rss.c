/*
** diff_rss.c -- differential test of memlab's resident memory (the MMU
** layer: faults, the zero page, copy on write, fork, shmem, mprotect /
** munmap / mremap / madvise on present entries, MAP_POPULATE) against the
** kernel this program runs on.
**
** For each seed a random sequence of mmap (anonymous, private or shared,
** with or without MAP_POPULATE), reads and writes of random bytes, mprotect
** (PROT_NONE included), munmap, mremap, madvise (DONTNEED and the fork
** advice), fork and exit is run twice: on this very process and the
** processes it forks (real system calls and real loads and stores through
** pointers, confined to a window of WIN_PAGES pages at a fixed address
** verified free at start; a SIGSEGV or SIGBUS is caught with sigsetjmp)
** and on memlab tasks at the same numeric addresses.  After every step it
** compares
**   - the result (address, 0 or -errno; for an access: ok, SEGV_MAPERR,
**     SEGV_ACCERR or SIGBUS) and the bytes a read returned;
**   - the minor and major fault counts of the process that ran the step
**     (the host's from getrusage(RUSAGE_THREAD) around the access or
**     system call alone: nothing else runs between the two calls);
**   - for every VMA of the window in every process, the smaps fields
**     listed in FIELDS (/proc/PID/smaps on the host, memlab's PID/smaps);
**   - which pages of the window share a frame, in and across the
**     processes, their pagemap flags, and over an access which pages kept
**     their frame (the host's /proc/PID/pagemap, memlab_pagemap());
**   - each mapped page's /proc/kpageflags (the bits diff_common.h
**     compares) and /proc/kpagecount (memlab_kpageflags(),
**     memlab_kpagecount()).
** At the end memlab_check() must find nothing.  See tests/diff/README.md.
**
**   diff_rss [--first N] [--count N]   run seeds N .. N+count-1
**   diff_rss --seed N                  replay one seed, every step printed
**   options: --no-shrink, --max-fail N, --trace (smaps and frames after
**            each step), --timeout S (per seed, default 20), --max-ops N
**            (10..200, default 40: the seed draws 10..N steps), -q
**
** Exit status 0 when every seed passed, 1 otherwise, 2 when the harness
** cannot run exactly here (see the warm-up check in host_warm_up()).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memlab/memlab.h>

#include "diff_common.h"

/* ===================== constants ===================== */

#define PAGE		((uint64_t)4096)
#define WIN_PAGES	64
#define WIN_LEN		((uint64_t)WIN_PAGES * PAGE)
#define GUARD		(16 * PAGE)		/* kept free on each side of the window */
#define MAX_OPS		200
#define MAX_ACCESS	(3 * PAGE)		/* bytes of one read or write */
#define MAX_VMAS	64
#define RUSAGE_THREAD_	1			/* RUSAGE_THREAD: this thread's faults only */
#define NPROC		4			/* processes of a sequence: this one and 3 forked */

#define K_MAP_SHARED		0x01
#define K_MAP_PRIVATE		0x02
#define K_MAP_FIXED		0x10
#define K_MAP_ANONYMOUS		0x20
#define K_MAP_LOCKED		0x2000
#define K_MAP_NORESERVE		0x4000
#define K_MAP_POPULATE		0x8000
#define K_MAP_FIXED_NOREPLACE	0x100000
#define K_MREMAP_MAYMOVE	1
#define K_MREMAP_FIXED		2
#define K_MREMAP_DONTUNMAP	4
#define K_MADV_DONTNEED		4
#define K_MADV_FREE		8
#define K_MADV_DONTFORK		10
#define K_MADV_DOFORK		11
#define K_MADV_WIPEONFORK	18
#define K_MADV_KEEPONFORK	19
#define K_MADV_COLD		20
#define K_MADV_POPULATE_READ	22
#define K_MADV_POPULATE_WRITE	23

_Static_assert(MEMLAB_MAP_POPULATE == K_MAP_POPULATE, "MAP values");
_Static_assert(MEMLAB_MAP_LOCKED == K_MAP_LOCKED, "MAP values");
_Static_assert(MEMLAB_MAP_FIXED_NOREPLACE == K_MAP_FIXED_NOREPLACE, "MAP values");
_Static_assert(MEMLAB_MREMAP_DONTUNMAP == K_MREMAP_DONTUNMAP, "MREMAP values");

/*
** The smaps fields compared, per VMA of the window.  Left out (see
** README): Size, KernelPageSize, MMUPageSize (the VMA's, diff_vma's
** business), THPeligible and VmFlags (flags, not residency) and the
** fields that are always 0 here on both sides for lack of THP, hugetlb,
** KSM and swap.
*/
static const char *const FIELDS[] = {
	"Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean",
	"Private_Dirty", "Referenced", "Anonymous", "LazyFree", "AnonHugePages", "Swap",
	"Locked",
};
#define NF ((int)(sizeof(FIELDS) / sizeof(FIELDS[0])))

/* The window: the same numbers on the host and in memlab. */
static uint64_t W;
static const uint64_t window_candidates[] = {
	0x7e0000000000ULL, 0x7d0000000000ULL, 0x6e0000000000ULL, 0x3e0000000000ULL,
};

static int in_window(uint64_t a) { return a >= W && a < W + WIN_LEN; }
static int meets_window(uint64_t a, uint64_t len)
{
	uint64_t end = a + len;

	if (end < a)
		end = UINT64_MAX;
	return a < W + WIN_LEN && end > W;
}
static int is_err(int64_t v) { return v < 0 && v >= -4095; }

/* ===================== operations ===================== */

enum {
	OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_READ, OP_WRITE, OP_MADVISE,
	OP_FORK, OP_EXIT,
};

/*
** A step, run by one of the sequence's processes: proc 0 is the one that
** runs memlab and the sequence, procs 1..NPROC-1 are processes forked
** during it (each a memlab task too).
*/
struct op {
	int kind;
	int proc;		/* the process that runs it */
	uint64_t addr, len;	/* mremap: old_address, old_size */
	uint64_t len2, addr2;	/* mremap: new_size, new_address */
	int prot, flags;
	int advice;		/* madvise */
	int child;		/* fork: the new process, or -1: it exits at once */
	uint32_t salt;		/* a write's bytes */
};

/* An access's outcome (its "result"). */
enum { ACC_OK = 0, ACC_MAPERR = 1, ACC_ACCERR = 2, ACC_SIGBUS = 3 };
#define BAD_RC ((int64_t)1 << 62)	/* memlab returned something else: BAD_RC + rc */
#define SKIPPED ((int64_t)1 << 61)	/* a replayed step whose process is not there */

static const char *op_name(int kind)
{
	static const char *const n[] = { "mmap", "munmap", "mprotect", "mremap", "read", "write",
					 "madvise", "fork", "exit" };

	return n[kind];
}

static const char *madv_name(int advice)
{
	switch (advice) {
	case K_MADV_DONTNEED: return "dontneed";
	case K_MADV_FREE: return "free";
	case K_MADV_DONTFORK: return "dontfork";
	case K_MADV_DOFORK: return "dofork";
	case K_MADV_WIPEONFORK: return "wipeonfork";
	case K_MADV_KEEPONFORK: return "keeponfork";
	case K_MADV_COLD: return "cold";
	case K_MADV_POPULATE_READ: return "populate_read";
	case K_MADV_POPULATE_WRITE: return "populate_write";
	default: return "?";
	}
}

static void fmt_prot(char *buf, size_t n, int prot)
{
	snprintf(buf, n, "%c%c%c", prot & PROT_READ ? 'r' : '-', prot & PROT_WRITE ? 'w' : '-',
		 prot & PROT_EXEC ? 'x' : '-');
}

static void fmt_op(char *buf, size_t n, const struct op *o)
{
	char p[8];
	int l = o->proc ? snprintf(buf, n, "p%d ", o->proc) : 0;

	buf += l;
	n -= (size_t)l;
	switch (o->kind) {
	case OP_MMAP:
		fmt_prot(p, sizeof p, o->prot);
		snprintf(buf, n, "mmap(0x%" PRIx64 ", 0x%" PRIx64 ", %s, %s|anonymous|%s%s%s%s)", o->addr,
			 o->len, p, o->flags & K_MAP_SHARED ? "shared" : "private",
			 o->flags & K_MAP_FIXED_NOREPLACE ? "fixed_noreplace" : "fixed",
			 o->flags & K_MAP_POPULATE ? "|populate" : "",
			 o->flags & K_MAP_NORESERVE ? "|noreserve" : "",
			 o->flags & K_MAP_LOCKED ? "|locked" : "");
		break;
	case OP_MUNMAP:
		snprintf(buf, n, "munmap(0x%" PRIx64 ", 0x%" PRIx64 ")", o->addr, o->len);
		break;
	case OP_MPROTECT:
		fmt_prot(p, sizeof p, o->prot);
		snprintf(buf, n, "mprotect(0x%" PRIx64 ", 0x%" PRIx64 ", %s)", o->addr, o->len, p);
		break;
	case OP_MREMAP:
		snprintf(buf, n, "mremap(0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", %s%s%s%s, 0x%" PRIx64 ")",
			 o->addr, o->len, o->len2, o->flags ? "" : "0",
			 o->flags & K_MREMAP_MAYMOVE ? "maymove" : "",
			 o->flags & K_MREMAP_FIXED ? "|fixed" : "",
			 o->flags & K_MREMAP_DONTUNMAP ? "|dontunmap" : "", o->addr2);
		break;
	case OP_READ:
		snprintf(buf, n, "read(0x%" PRIx64 ", %" PRIu64 ")", o->addr, o->len);
		break;
	case OP_MADVISE:
		snprintf(buf, n, "madvise(0x%" PRIx64 ", 0x%" PRIx64 ", %s)", o->addr, o->len,
			 madv_name(o->advice));
		break;
	case OP_FORK:
		if (o->child < 0)
			snprintf(buf, n, "fork(), the child exits at once");
		else
			snprintf(buf, n, "fork() -> p%d", o->child);
		break;
	case OP_EXIT:
		snprintf(buf, n, "exit()");
		break;
	default:
		snprintf(buf, n, "write(0x%" PRIx64 ", %" PRIu64 ")", o->addr, o->len);
		break;
	}
}

static void fmt_result(char *buf, size_t n, int kind, int64_t v)
{
	if (v == SKIPPED) {
		snprintf(buf, n, "skipped (no such process)");
	} else if (v >= BAD_RC - (1LL << 33) && v <= BAD_RC + (1LL << 33)) {
		snprintf(buf, n, "return code %" PRId64 " (not 0 or -errno)", v - BAD_RC);
	} else if (kind == OP_READ || kind == OP_WRITE) {
		static const char *const t[] = { "ok", "SIGSEGV/SEGV_MAPERR", "SIGSEGV/SEGV_ACCERR",
						 "SIGBUS" };
		snprintf(buf, n, "%s", v >= 0 && v <= ACC_SIGBUS ? t[v] : "?");
	} else if (is_err(v)) {
		const char *e = memlab_err_name((int)-v);

		snprintf(buf, n, "-%s", e ? e : "E?");
	} else if (kind == OP_MMAP || kind == OP_MREMAP) {
		snprintf(buf, n, "0x%" PRIx64, (uint64_t)v);
	} else {
		snprintf(buf, n, "%" PRId64, v);
	}
}

/* The bytes of a write: a function of the salt and the address. */
static uint8_t wbyte(uint32_t salt, uint64_t a)
{
	uint64_t x = (a ^ ((uint64_t)salt << 32)) * 0x9e3779b97f4a7c15ULL;

	return (uint8_t)(x >> 56) | 1;
}

/* ===================== smaps ===================== */

struct smap {
	uint64_t start, end;
	char perms[5];
	int64_t f[NF];
};

struct smaps {
	int n;
	struct smap v[MAX_VMAS];
};

/* The window's VMAs of an smaps text. */
static void parse_smaps(const char *text, struct smaps *s)
{
	const char *p = text;
	struct smap *cur = NULL;

	s->n = 0;
	while (p && *p) {
		unsigned long long st, en;
		char perms[8];
		const char *nl = strchr(p, '\n');

		/* a VMA's line starts with a hex digit, a field's with a capital */
		if (((p[0] >= '0' && p[0] <= '9') || (p[0] >= 'a' && p[0] <= 'f')) &&
		    sscanf(p, "%llx-%llx %4s ", &st, &en, perms) == 3) {
			cur = NULL;
			if (st < W + WIN_LEN && en > W && s->n < MAX_VMAS) {
				cur = &s->v[s->n++];
				memset(cur, 0, sizeof *cur);
				cur->start = st;
				cur->end = en;
				memcpy(cur->perms, perms, 4);
				for (int i = 0; i < NF; i++)
					cur->f[i] = -1;
			}
		} else if (cur) {
			for (int i = 0; i < NF; i++) {
				size_t l = strlen(FIELDS[i]);

				if (!strncmp(p, FIELDS[i], l) && p[l] == ':')
					cur->f[i] = strtoll(p + l + 1, NULL, 10);
			}
		}
		p = nl ? nl + 1 : NULL;
	}
}

static char smaps_buf[8 << 20];

/* The window's smaps of a process of the sequence (pid 0: this one). */
static void host_smaps(pid_t pid, struct smaps *s)
{
	char path[40];
	int fd;
	size_t len = 0;

	if (pid)
		snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/self/smaps");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	for (;;) {
		ssize_t r = read(fd, smaps_buf + len, sizeof smaps_buf - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("read smaps");
			exit(2);
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len >= sizeof smaps_buf - 1) {
			fprintf(stderr, "diff_rss: %s is larger than %zu bytes\n", path,
				sizeof smaps_buf);
			exit(2);
		}
	}
	close(fd);
	smaps_buf[len] = 0;
	parse_smaps(smaps_buf, s);
}

static void print_smaps(const char *who, const struct smaps *s)
{
	printf("  %s smaps of the window:%s\n", who, s->n ? "" : " (no VMA)");
	for (int i = 0; i < s->n; i++) {
		const struct smap *v = &s->v[i];

		printf("    %" PRIx64 "-%" PRIx64 " %s", v->start, v->end, v->perms);
		for (int j = 0; j < NF; j++)
			if (v->f[j])
				printf(" %s %" PRId64, FIELDS[j], v->f[j]);
		printf("\n");
	}
}

/*
** 0 when equal, else a description; *field the first field that differs
** (-1: the VMAs), kb[0] and kb[1] its values on the host and in memlab.
*/
static int smaps_compare(const struct smaps *h, const struct smaps *m, char *why, size_t n,
			 int *field, int64_t kb[2])
{
	*field = -1;
	if (h->n != m->n) {
		snprintf(why, n, "%d VMA(s) in the window on the host, %d in memlab", h->n, m->n);
		return 1;
	}
	for (int i = 0; i < h->n; i++) {
		const struct smap *a = &h->v[i], *b = &m->v[i];

		if (a->start != b->start || a->end != b->end || strcmp(a->perms, b->perms)) {
			snprintf(why, n, "VMA %d: %" PRIx64 "-%" PRIx64 " %s on the host, %" PRIx64
				 "-%" PRIx64 " %s in memlab", i + 1, a->start, a->end, a->perms,
				 b->start, b->end, b->perms);
			return 1;
		}
		for (int j = 0; j < NF; j++) {
			if (a->f[j] != b->f[j]) {
				*field = j;
				kb[0] = a->f[j];
				kb[1] = b->f[j];
				snprintf(why, n, "VMA %" PRIx64 "-%" PRIx64 " %s: %s %" PRId64
					 " kB on the host, %" PRId64 " kB in memlab", a->start, a->end,
					 a->perms, FIELDS[j], a->f[j], b->f[j]);
				return 1;
			}
		}
	}
	return 0;
}

/* ===================== frames ===================== */

/*
** The frame each page of the window maps in each proc: slot k = p *
** WIN_PAGES + i is proc p's page W + i * PAGE, NO_FRAME where nothing is
** mapped.  Each side's PFNs are its own; what both must agree on is the
** pattern -- share[k], the first slot that maps the same frame (k itself
** for a frame no earlier slot maps, -1 for none): a fork child sharing its
** parent's pages, a write that copied, the zero page, shared memory,
** mremap's second mapping -- and, over an access, whether each page kept
** its frame (a write that reused it) or got another (one that copied).
** smaps cannot tell the last two apart.
*/
#define NO_FRAME UINT64_MAX
#define NSLOT (NPROC * WIN_PAGES)

struct frames {
	uint64_t pfn[NSLOT];
	uint64_t flags[NSLOT];	/* the entry's PM_FLAGS below */
	uint64_t kpf[NSLOT];	/* the frame's kpageflags as compared (diff_kpf_masked) */
	uint64_t kcount[NSLOT];	/* and its kpagecount */
	int share[NSLOT];
};

static int frames_known = 1;	/* the host's pagemap shows PFNs (CAP_SYS_ADMIN) */

/*
** The pagemap bits compared besides the frame (both sides give Linux's
** format, memlab through memlab_pagemap()): present, swapped, a page-cache
** or shmem page (FILE), mapped by one page table (MMAP_EXCLUSIVE; the zero
** page never is).  Soft-dirty is left out: memlab does not track it.
*/
#define PM_PFRAME	((1ULL << 55) - 1)
#define PM_FLAGS	((1ULL << 56) | (1ULL << 61) | (1ULL << 62) | (1ULL << 63))
_Static_assert(MEMLAB_PM_MMAP_EXCLUSIVE == 1ULL << 56 && MEMLAB_PM_FILE == 1ULL << 61 &&
	       MEMLAB_PM_SWAP == 1ULL << 62 && MEMLAB_PM_PRESENT == 1ULL << 63, "PM values");

/* Proc p's slots from its pagemap entries of the window (e[i]: page W + i * PAGE). */
static void frames_from_pagemap(struct frames *fr, int p, const uint64_t *e)
{
	for (int i = 0; i < WIN_PAGES; i++) {
		int k = p * WIN_PAGES + i;

		fr->flags[k] = e ? e[i] & PM_FLAGS : 0;
		fr->pfn[k] = e && (e[i] >> 63) ? e[i] & PM_PFRAME : NO_FRAME;
		fr->kpf[k] = fr->kcount[k] = 0;
	}
}

static void frames_pattern(struct frames *fr)
{
	for (int k = 0; k < NSLOT; k++) {
		fr->share[k] = -1;
		for (int j = 0; j <= k && fr->pfn[k] != NO_FRAME && fr->share[k] < 0; j++)
			if (fr->pfn[j] == fr->pfn[k])
				fr->share[k] = j;
	}
}

static void fmt_slot(char *buf, size_t n, int k)
{
	snprintf(buf, n, "p%d 0x%" PRIx64, k / WIN_PAGES, W + PAGE * (uint64_t)(k % WIN_PAGES));
}

static void fmt_share(char *buf, size_t n, const struct frames *fr, int k)
{
	char o[40];

	if (fr->share[k] < 0) {
		snprintf(buf, n, "no frame");
	} else if (fr->share[k] == k) {
		snprintf(buf, n, "a frame no page before it maps");
	} else {
		fmt_slot(o, sizeof o, fr->share[k]);
		snprintf(buf, n, "the frame of %s", o);
	}
}

/*
** 0 when host h and memlab s show the same pattern and, when access,
** each page mapped before (h0, s0) and after kept or changed its frame
** alike on both sides; else a description.  (Over an access no frame is
** freed and taken again for the same page: a copy is allocated while the
** page it copies is still held.)
*/
static int frames_compare(const struct frames *h0, const struct frames *s0, const struct frames *h,
			  const struct frames *s, int access, char *why, size_t n)
{
	char slot[40], a[200], b[200];

	for (int k = 0; k < NSLOT; k++) {
		if (h->share[k] == s->share[k])
			continue;
		fmt_slot(slot, sizeof slot, k);
		fmt_share(a, sizeof a, h, k);
		fmt_share(b, sizeof b, s, k);
		snprintf(why, n, "%s maps %s on the host, %s in memlab", slot, a, b);
		return 1;
	}
	for (int k = 0; k < NSLOT; k++) {
		if (h->flags[k] == s->flags[k])
			continue;
		fmt_slot(slot, sizeof slot, k);
		snprintf(why, n, "%s: pagemap flags %#" PRIx64 " on the host, %#" PRIx64
			 " in memlab (63 present, 62 swap, 61 file, 56 exclusive)", slot,
			 h->flags[k] >> 56 << 56, s->flags[k] >> 56 << 56);
		return 1;
	}
	for (int k = 0; k < NSLOT; k++) {
		if (h->kpf[k] == s->kpf[k] && h->kcount[k] == s->kcount[k])
			continue;
		fmt_slot(slot, sizeof slot, k);
		diff_fmt_kpf(a, sizeof a, h->kpf[k]);
		diff_fmt_kpf(b, sizeof b, s->kpf[k]);
		snprintf(why, n, "%s: kpageflags %s, kpagecount %" PRIu64 " on the host; %s, %"
			 PRIu64 " in memlab", slot, a, h->kcount[k], b, s->kcount[k]);
		return 1;
	}
	for (int k = 0; k < NSLOT && access; k++) {
		int hk = h0->pfn[k] == h->pfn[k], sk = s0->pfn[k] == s->pfn[k];

		if (h0->pfn[k] == NO_FRAME || h->pfn[k] == NO_FRAME || hk == sk)
			continue;
		fmt_slot(slot, sizeof slot, k);
		snprintf(why, n, "%s %s its frame on the host, %s in memlab", slot,
			 hk ? "kept" : "changed", sk ? "kept it" : "changed it");
		return 1;
	}
	return 0;
}

/* The pattern as a line per proc: '.' no frame, a letter per distinct frame. */
static void print_frames(const char *who, const int *live, const struct frames *fr)
{
	static const char sym[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	int label[NSLOT], next = 0;

	for (int k = 0; k < NSLOT; k++)
		label[k] = fr->share[k] < 0 ? -1 : fr->share[k] == k ? next++ : label[fr->share[k]];
	printf("  %s frames (a letter per frame, from 0x%" PRIx64 "):\n", who, W);
	for (int p = 0; p < NPROC; p++) {
		if (!live[p])
			continue;
		printf("    p%d ", p);
		for (int i = 0; i < WIN_PAGES; i++) {
			int l = label[p * WIN_PAGES + i];

			putchar(l < 0 ? '.' : l < (int)sizeof sym - 1 ? sym[l] : '#');
		}
		printf("\n");
	}
}

/* ===================== the host side ===================== */

static sigjmp_buf acc_jb;
static volatile sig_atomic_t acc_sig, acc_code;
static volatile uintptr_t acc_addr;
static struct rusage ru0, ru1;
static uint8_t host_buf[MAX_ACCESS], sim_buf[MAX_ACCESS], src_buf[MAX_ACCESS];

static void acc_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	acc_sig = sig;
	acc_code = si->si_code;
	acc_addr = (uintptr_t)si->si_addr;
	siglongjmp(acc_jb, 1);
}

static void install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = acc_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
** The loads and stores themselves, one byte at a time, without the
** sanitizers' instrumentation (whose shadow memory would fault too).
*/
__attribute__((noinline, no_sanitize("address", "undefined")))
static void host_load(uint64_t a, uint8_t *buf, size_t n)
{
	volatile const uint8_t *p = (volatile const uint8_t *)(uintptr_t)a;

	for (size_t i = 0; i < n; i++)
		buf[i] = p[i];
}

__attribute__((noinline, no_sanitize("address", "undefined")))
static void host_store(uint64_t a, const uint8_t *buf, size_t n)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)a;

	for (size_t i = 0; i < n; i++)
		p[i] = buf[i];
}

/* Faults of this thread: raw system calls, no interceptor in between. */
#define RUSAGE(r) syscall(SYS_getrusage, RUSAGE_THREAD_, (r))

struct flt { int64_t min, maj; };

static struct flt flt_delta(void)
{
	struct flt d = { ru1.ru_minflt - ru0.ru_minflt, ru1.ru_majflt - ru0.ru_majflt };

	return d;
}

/* An access of n bytes at a: the outcome, and the faults it took in *f. */
static int64_t host_access(int write, uint64_t a, size_t n, uint8_t *buf, struct flt *f)
{
	int64_t res;

	acc_sig = 0;
	if (sigsetjmp(acc_jb, 1) == 0) {
		RUSAGE(&ru0);
		if (write)
			host_store(a, buf, n);
		else
			host_load(a, buf, n);
		RUSAGE(&ru1);
		res = ACC_OK;
	} else {
		RUSAGE(&ru1);
		if (acc_sig == SIGBUS)
			res = ACC_SIGBUS;
		else
			res = acc_code == SEGV_ACCERR ? ACC_ACCERR : ACC_MAPERR;
	}
	*f = flt_delta();
	return res;
}

static int64_t host_ret(long r)
{
	return r == -1 ? -(int64_t)errno : (int64_t)r;
}

static int64_t host_do(const struct op *o, struct flt *f)
{
	long r;

	switch (o->kind) {
	case OP_READ:
		memset(host_buf, 0xa5, sizeof host_buf);
		return host_access(0, o->addr, o->len, host_buf, f);
	case OP_WRITE:
		for (uint64_t i = 0; i < o->len; i++)
			src_buf[i] = wbyte(o->salt, o->addr + i);
		return host_access(1, o->addr, o->len, src_buf, f);
	default:
		break;
	}
	RUSAGE(&ru0);
	switch (o->kind) {
	case OP_MMAP:
		r = syscall(SYS_mmap, o->addr, o->len, o->prot, o->flags, -1, 0);
		break;
	case OP_MUNMAP:
		r = syscall(SYS_munmap, o->addr, o->len);
		break;
	case OP_MPROTECT:
		r = syscall(SYS_mprotect, o->addr, o->len, o->prot);
		break;
	case OP_MADVISE:
		r = syscall(SYS_madvise, o->addr, o->len, o->advice);
		break;
	default:
		r = syscall(SYS_mremap, o->addr, o->len, o->len2, o->flags, o->addr2);
		break;
	}
	RUSAGE(&ru1);
	*f = flt_delta();
	return host_ret(r);
}

/*
** Touch (write) every page of the stack this harness may use below the
** current frame, so that no stack page faults inside a measurement (after
** fork every page is copy-on-write: the first store faults).
*/
__attribute__((noinline)) static void pretouch_stack(void)
{
	volatile uint8_t area[96 * 1024];

	for (size_t i = 0; i < sizeof area; i += 512)
		area[i] = (uint8_t)i;
}

/*
** Make the measurements exact in this (forked) process: every page of
** code, data and stack they use is faulted in by a dry run of each kind of
** step on a scratch mapping, twice; the second round must count exactly
** the faults of its own accesses (a first read of a page 1, a first write
** after it 1, every repeat, every failed access and every system call 0;
** a failing one writes errno).  Every process of a sequence runs it after
** each fork, which made its private pages copy-on-write.  Returns 0, or
** -1 with a message when the host does not allow exact counts.
*/
#define NWARM 10
static int host_warm_up(char *why, size_t n)
{
	static const int want[2][NWARM] = {
		{ -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 },	/* round 1: anything */
		{ 1, 1, 0, 0, 0, 0, 0, 0, 0, 0 },
	};
	struct flt f;
	int64_t got[NWARM];
	uint8_t b[16];

	install_handlers();
	memset(host_buf, 0, sizeof host_buf);
	memset(sim_buf, 0, sizeof sim_buf);
	memset(src_buf, 0, sizeof src_buf);
	memset(&ru0, 0, sizeof ru0);
	memset(&ru1, 0, sizeof ru1);
	memset(&acc_jb, 0, sizeof acc_jb);
	for (int round = 0; round < 2; round++) {
		long base = syscall(SYS_mmap, 0, 8 * PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long sh = syscall(SYS_mmap, 0, PAGE, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		long sh2;
		int64_t r[NWARM];

		pretouch_stack();
		if (base == -1 || sh == -1) {
			snprintf(why, n, "mmap: %s", strerror(errno));
			return -1;
		}
		syscall(SYS_mprotect, base + 2 * PAGE, PAGE, PROT_NONE);
		syscall(SYS_mprotect, base + 3 * PAGE, PAGE, PROT_READ);
		syscall(SYS_munmap, base + 4 * PAGE, PAGE);
		sh2 = syscall(SYS_mremap, sh, PAGE, 2 * PAGE, K_MREMAP_MAYMOVE, 0);
		if (sh2 == -1) {
			snprintf(why, n, "mremap: %s", strerror(errno));
			return -1;
		}
		r[0] = host_access(0, (uint64_t)base, 8, b, &f);		/* zero page: 1 */
		got[0] = f.min;
		r[1] = host_access(1, (uint64_t)base, 8, b, &f);		/* COW: 1 */
		got[1] = f.min;
		r[2] = host_access(0, (uint64_t)base, 8, b, &f);
		got[2] = f.min;
		r[3] = host_access(1, (uint64_t)base + 8, 8, b, &f);
		got[3] = f.min;
		r[4] = host_access(0, (uint64_t)base + 2 * PAGE, 1, b, &f);	/* ACCERR */
		got[4] = f.min;
		r[5] = host_access(1, (uint64_t)base + 3 * PAGE, 1, b, &f);	/* ACCERR (r--) */
		got[5] = f.min;
		r[6] = host_access(0, (uint64_t)base + 4 * PAGE, 1, b, &f);	/* MAPERR */
		got[6] = f.min;
		r[7] = host_access(1, (uint64_t)sh2 + PAGE, 1, b, &f);		/* SIGBUS */
		got[7] = f.min;
		r[8] = host_do(&(struct op){ .kind = OP_MPROTECT, .addr = (uint64_t)base + 5 * PAGE,
					     .len = PAGE, .prot = PROT_READ }, &f);
		got[8] = f.min;
		r[9] = host_do(&(struct op){ .kind = OP_MADVISE, .addr = (uint64_t)base + 1,
					     .len = PAGE, .advice = K_MADV_DONTNEED }, &f);
		got[9] = f.min;						/* EINVAL: errno */
		syscall(SYS_munmap, base, 8 * PAGE);
		syscall(SYS_munmap, sh2, 2 * PAGE);
		if (r[0] != ACC_OK || r[1] != ACC_OK || r[4] != ACC_ACCERR || r[5] != ACC_ACCERR ||
		    r[6] != ACC_MAPERR || r[7] != ACC_SIGBUS || r[8] != 0 || r[9] != -EINVAL) {
			snprintf(why, n, "the scratch accesses gave %" PRId64 " %" PRId64 " %" PRId64
				 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, r[0], r[1],
				 r[4], r[5], r[6], r[7], r[8], r[9]);
			return -1;
		}
		for (int i = 0; i < NWARM; i++) {
			if (want[round][i] >= 0 && got[i] != want[round][i]) {
				snprintf(why, n, "scratch step %d of the second round took %" PRId64
					 " minor faults, not %d: something else faults between the "
					 "getrusage() calls", i, got[i], want[round][i]);
				return -1;
			}
		}
	}
	return 0;
}

static void host_clean(void)
{
	if (syscall(SYS_munmap, W, WIN_LEN) != 0) {
		perror("munmap(window)");
		exit(2);
	}
}

/* ===================== the sequence's processes ===================== */

/*
** A fork step makes one of the sequence's processes fork: proc 0 (this
** one) or, on request, a process forked before.  The child either exits at
** once or serves the steps sent to it as a new proc until it is told to
** exit.  Every process of a sequence
**   - runs on one CPU, the one the sequence started on (procs_start());
**   - ignores SIGCHLD, so that its children are reaped when they exit;
**     proc 0 is the subreaper of those whose parent exited first;
**   - runs host_warm_up() after each fork it takes part in: the fork made
**     its private memory copy-on-write, and the first store to a page of
**     the harness would fault inside a measurement.
** They talk through a pipe each way per proc (one byte per command and
** per answer), all made at the sequence's start, and a MAP_SHARED mailbox
** per proc.  proc 0 holds a pidfd of each other proc: it polls readable
** once the process has exited, its mm torn down (exit_mm comes before
** exit_notify), which is when an exit step is over.
*/
enum { CMD_OP, CMD_FORK, CMD_EXIT };

struct mailbox {
	int cmd;
	struct op op;
	int64_t result;
	struct flt f;
	pid_t pid;			/* CMD_FORK: the child's */
	char bad[256];			/* why the process cannot count exactly */
	uint8_t buf[MAX_ACCESS];	/* a read's bytes */
};

static struct mailbox *mbox;		/* [NPROC], MAP_SHARED */
static int cmd_fd[NPROC][2], rsp_fd[NPROC][2];
static pid_t proc_pid[NPROC];		/* host pids; proc 0's is 0 ("self") */
static int proc_pidfd[NPROC];
static int proc_live[NPROC];
static unsigned seed_timeout = 20;

/*
** A page of scratch memory whose MADV_COLD drains this CPU's LRU and mlock
** batches (madvise_cold() begins with lru_add_drain()), where all the
** processes of the sequence run.  A page in such a batch holds a
** reference, which makes do_wp_page copy a page it would reuse when the
** page is already on the LRU (wp_can_reuse_anon_folio drains only for a
** page that is not: munlock_folio's batch keeps it there); MADV_FREE's
** pages count as LazyFree only once their batch is drained; and when a
** batch drains depends on all that runs on the CPU.  So both sides drain
** after every step (unless --batched, below): the host with host_drain(),
** memlab with memlab_lru_add_drain_all() (memlab has the LRU batches, not
** the mlock one).
*/
static uint64_t drain_page;

static void host_drain(void)
{
	syscall(SYS_madvise, drain_page, PAGE, K_MADV_COLD);
}

/*
** --batched: neither side drains after a step, except a fork or an exit.
** Around those the harness's own processes copy-on-write their pages
** (glibc's fork, host_warm_up(), the exiting child), and
** wp_can_reuse_anon_folio() drains the CPU's batches whenever such a page
** is on no LRU list yet: when depends on the harness's pages, not on the
** sequence.  So both sides drain after a fork or an exit step.  What
** still differs is the mlock batch, which memlab lacks: a munlocked page
** (munmap of a VM_LOCKED range) keeps the batch's reference on the host
** until a drain, so a copy-on-write fault in another process copies it
** where memlab reuses it (seed 488 of 1..1000).
*/
static int batched;

/*
** GUP's write fault that reuses a page makes its entry writable without a
** TLB flush (wp_page_reuse), and a TLB entry still read-only from an
** earlier read makes the next write fault once more, spuriously -- or not,
** if anything evicted that entry meanwhile, which on the host depends on
** all that ran on this CPU in between (memlab's own work included).  So
** after each MADV_POPULATE_WRITE both sides flush this mm's TLB: the host
** by unmapping TLB_FLUSH_PAGES populated pages, more than x86's
** tlb_single_page_flush_ceiling (33), which flushes the whole mm; memlab
** with memlab_tlb_flush_all().
*/
#define TLB_FLUSH_PAGES 64
static void host_flush_tlb(void)
{
	long a = syscall(SYS_mmap, 0, TLB_FLUSH_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (a != -1)
		syscall(SYS_munmap, a, TLB_FLUSH_PAGES * PAGE);
}

/*
** An operation of the sequence in this process; an mremap result that
** left the window (the kernel chose where) is unmapped at once.
*/
static int64_t host_run(const struct op *o, struct flt *f)
{
	int64_t r = host_do(o, f);

	if (o->kind == OP_MREMAP && !is_err(r) && !meets_window((uint64_t)r, o->len2))
		syscall(SYS_munmap, (uint64_t)r, o->len2);
	if (o->kind == OP_MADVISE && o->advice == K_MADV_POPULATE_WRITE)
		host_flush_tlb();
	return r;
}

/* The harness cannot go on (exit status 2, as for an inexact host). */
static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "diff_rss: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* Wait until the process behind pidfd has exited. */
static void wait_gone(int pidfd)
{
	struct pollfd pf = { .fd = pidfd, .events = POLLIN };

	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static __attribute__((noreturn)) void proc_main(int me);

/*
** fork() in this process: the child becomes proc `child`, or exits at
** once (child < 0: then this waits until it is gone).  Either way this
** process warms up again.  The child's pid, or -1 with why.
*/
static pid_t host_fork(int child, char *why, size_t n)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, n, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (child < 0)
			_exit(0);
		proc_main(child);
	}
	if (child < 0) {
		int fd = pidfd_of(pid);

		if (fd >= 0) {		/* else it is gone and reaped already */
			wait_gone(fd);
			close(fd);
		}
	}
	return host_warm_up(why, n) ? -1 : pid;
}

/*
** A forked proc: warm up, say so, then run each command sent to it.  Its
** own faults are measured as proc 0's are, around the operation alone.
*/
static __attribute__((noreturn)) void proc_main(int me)
{
	struct mailbox *mb = &mbox[me];
	char c = 0;

	alarm(seed_timeout);		/* alarms are not inherited */
	for (int i = 0; i < NPROC; i++) {	/* proc 0's alone: an orphan reads EOF */
		close(cmd_fd[i][1]);
		cmd_fd[i][1] = -1;
	}
	host_warm_up(mb->bad, sizeof mb->bad);
	if (write(rsp_fd[me][1], &c, 1) != 1)
		_exit(3);
	while (read(cmd_fd[me][0], &c, 1) == 1) {
		switch (mb->cmd) {
		case CMD_OP:
			mb->result = host_run(&mb->op, &mb->f);
			if (mb->op.kind == OP_READ)
				memcpy(mb->buf, host_buf, sizeof mb->buf);
			break;
		case CMD_FORK:
			mb->pid = host_fork(mb->op.child, mb->bad, sizeof mb->bad);
			break;
		default:
			_exit(0);	/* no exit handlers: they belong to proc 0 */
		}
		if (write(rsp_fd[me][1], &c, 1) != 1)
			_exit(3);
	}
	_exit(0);
}

/* proc p's answer: a byte on its pipe (else it died: the harness stops). */
static void proc_wait(int p)
{
	struct pollfd pf[2] = { { .fd = rsp_fd[p][0], .events = POLLIN },
				{ .fd = proc_pidfd[p], .events = POLLIN } };
	char c;

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll (p%d): %s", p, strerror(errno));
		}
		if (pf[0].revents & POLLIN) {
			if (read(rsp_fd[p][0], &c, 1) != 1)
				die("p%d: no answer", p);
			if (mbox[p].bad[0])
				die("cannot measure faults exactly in p%d: %s", p, mbox[p].bad);
			return;
		}
		if (pf[1].revents)
			die("p%d died", p);
	}
}

static void proc_call(int p, int cmd, const struct op *o)
{
	char c = 0;

	mbox[p].cmd = cmd;
	mbox[p].op = *o;
	if (write(cmd_fd[p][1], &c, 1) != 1)
		die("p%d: %s", p, strerror(errno));
	if (cmd == CMD_EXIT) {
		wait_gone(proc_pidfd[p]);
		return;
	}
	proc_wait(p);
}

/*
** The sequence's start, in its (forked) process: the pipes, one CPU (so
** that every page waiting in a per-CPU batch waits in this CPU's, which
** host_drain() and wp_can_reuse_anon_folio's lru_add_drain() empty: a
** page faulted on another CPU would stay in that CPU's batch, and
** do_wp_page would copy it where memlab reuses it), SIGCHLD ignored, this
** process the subreaper of the others, and the page host_drain() uses.
*/
static void procs_start(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	for (int i = 0; i < NPROC; i++) {
		if (pipe(cmd_fd[i]) || pipe(rsp_fd[i])) {
			perror("pipe");
			exit(2);
		}
		proc_pid[i] = 0;
		proc_pidfd[i] = -1;
		proc_live[i] = i == 0;
	}
	memset(mbox, 0, sizeof *mbox * NPROC);
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	signal(SIGCHLD, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	drain_page = (uint64_t)syscall(SYS_mmap, 0, PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (is_err((int64_t)drain_page)) {
		perror("mmap");
		exit(2);
	}
}

/* A fork step on the host: 0, or the harness stops. */
static int64_t host_fork_step(const struct op *o)
{
	struct mailbox *mb = &mbox[o->proc];
	pid_t pid;

	if (o->child >= 0)
		memset(&mbox[o->child], 0, sizeof mbox[o->child]);
	if (o->proc == 0) {
		pid = host_fork(o->child, mb->bad, sizeof mb->bad);
	} else {
		proc_call(o->proc, CMD_FORK, o);
		pid = mb->pid;
	}
	if (pid < 0)
		die("cannot measure faults exactly in p%d after fork: %s", o->proc, mb->bad);
	if (o->child >= 0) {
		proc_pid[o->child] = pid;
		proc_pidfd[o->child] = pidfd_of(pid);
		if (proc_pidfd[o->child] < 0)
			die("pidfd_open (p%d): %s", o->child, strerror(errno));
		proc_live[o->child] = 1;
		proc_wait(o->child);
	}
	return 0;
}

static int64_t host_exit_step(const struct op *o)
{
	proc_call(o->proc, CMD_EXIT, o);
	close(proc_pidfd[o->proc]);
	proc_live[o->proc] = 0;
	proc_pid[o->proc] = 0;
	proc_pidfd[o->proc] = -1;
	return 0;
}

/* An operation of the sequence in its process. */
static int64_t host_step(const struct op *o, struct flt *f)
{
	int64_t r;

	if (o->proc == 0)
		return host_run(o, f);
	proc_call(o->proc, CMD_OP, o);
	r = mbox[o->proc].result;
	*f = mbox[o->proc].f;
	if (o->kind == OP_READ)
		memcpy(host_buf, mbox[o->proc].buf, sizeof host_buf);
	return r;
}

/* The sequence's end: the other processes exit, the pipes close. */
static void procs_stop(void)
{
	for (int p = 1; p < NPROC; p++)
		if (proc_live[p])
			host_exit_step(&(struct op){ .kind = OP_EXIT, .proc = p });
	for (int i = 0; i < NPROC; i++) {
		close(cmd_fd[i][0]);
		close(cmd_fd[i][1]);
		close(rsp_fd[i][0]);
		close(rsp_fd[i][1]);
	}
}

/* The kpageflags and kpagecount of proc p's frames (root: the files are 0400). */
static void host_kpageflags(struct frames *fr, int p)
{
	static int kf = -1, kc = -1;

	if (kf < 0 && ((kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)) < 0 ||
		       (kc = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC)) < 0)) {
		perror("/proc/kpageflags, /proc/kpagecount");
		exit(2);
	}
	for (int k = p * WIN_PAGES; k < (p + 1) * WIN_PAGES; k++) {
		uint64_t f;

		if (fr->pfn[k] == NO_FRAME)
			continue;
		if (pread(kf, &f, 8, (off_t)(fr->pfn[k] * 8)) != 8 ||
		    pread(kc, &fr->kcount[k], 8, (off_t)(fr->pfn[k] * 8)) != 8) {
			perror("/proc/kpageflags");
			exit(2);
		}
		fr->kpf[k] = diff_kpf_masked(f);
	}
}

/*
** The frames of the window in every live proc, from /proc/PID/pagemap
** (bits 0-54 the PFN, which reads as 0 without CAP_SYS_ADMIN: then
** frames_known is cleared and frames go uncompared).
*/
static void host_frames(struct frames *fr)
{
	uint64_t e[WIN_PAGES];

	for (int p = 0; p < NPROC; p++) {
		char path[40];
		int fd;

		frames_from_pagemap(fr, p, NULL);
		if (!proc_live[p])
			continue;
		if (proc_pid[p])
			snprintf(path, sizeof path, "/proc/%d/pagemap", (int)proc_pid[p]);
		else
			snprintf(path, sizeof path, "/proc/self/pagemap");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || pread(fd, e, sizeof e, (off_t)(W / PAGE * 8)) != (ssize_t)sizeof e) {
			perror(path);
			exit(2);
		}
		close(fd);
		frames_from_pagemap(fr, p, e);
		for (int i = 0; i < WIN_PAGES; i++)
			if ((e[i] >> 63) && !(e[i] & PM_PFRAME))
				frames_known = 0;
		if (frames_known)
			host_kpageflags(fr, p);
	}
	frames_pattern(fr);
}

/* ===================== the memlab side ===================== */

struct sim {
	memlab_machine *m;
	memlab_task *t[NPROC];	/* the task of each proc */
	char reports[1024];
};

static void sim_report(void *ud, const char *msg)
{
	struct sim *s = ud;

	diff_append_report(s->reports, sizeof s->reports, msg);
}

static int sim_start(struct sim *s)
{
	struct memlab_spawn_args args;
	int rc;

	memset(s, 0, sizeof *s);
	if ((rc = diff_machine(&s->m, sim_report, s)) < 0) {
		fprintf(stderr, "memlab_create: %s\n", memlab_strerror(rc));
		return rc;
	}
	memset(&args, 0, sizeof args);
	args.root = 1;
	args.aslr = 0;
	if ((rc = memlab_spawn(s->m, &args, &s->t[0])) < 0) {
		fprintf(stderr, "memlab_spawn: %s\n", memlab_strerror(rc));
		memlab_destroy(s->m);
		return rc;
	}
	return 0;
}

static void sim_stop(struct sim *s)
{
	for (int p = 0; p < NPROC; p++)
		if (s->t[p])
			memlab_task_exit(s->t[p]);
	if (s->m)
		memlab_destroy(s->m);
	memset(s->t, 0, sizeof s->t);
	s->m = NULL;
}

static void sim_smaps(struct sim *s, int p, struct smaps *out)
{
	char path[32], *text = NULL;
	size_t len;

	out->n = 0;
	if (!s->t[p])
		return;
	snprintf(path, sizeof path, "%d/smaps", memlab_task_pid(s->t[p]));
	if (memlab_proc(s->m, path, &text, &len) != 0) {
		sim_report(s, "memlab_proc(PID/smaps) failed");
		return;
	}
	parse_smaps(text, out);
	memlab_free_text(s->m, text);
}

static struct flt sim_faults(memlab_task *t)
{
	struct memlab_mm_info mi;
	struct flt f;

	memlab_mm_info(t, &mi);
	f.min = (int64_t)mi.min_flt;
	f.maj = (int64_t)mi.maj_flt;
	return f;
}

static int64_t sim_do(struct sim *s, const struct op *o, struct flt *f)
{
	memlab_task *t = s->t[o->proc];
	struct flt before = sim_faults(t), after;
	uint64_t out = 0;
	int rc, code = 0;
	int64_t res;

	switch (o->kind) {
	case OP_MMAP:
		rc = memlab_mmap(t, o->addr, o->len, o->prot, o->flags, NULL, 0, &out);
		break;
	case OP_MUNMAP:
		rc = memlab_munmap(t, o->addr, o->len);
		break;
	case OP_MPROTECT:
		rc = memlab_mprotect(t, o->addr, o->len, o->prot);
		break;
	case OP_MREMAP:
		rc = memlab_mremap(t, o->addr, o->len, o->len2, o->flags, o->addr2, &out);
		break;
	case OP_MADVISE:
		rc = memlab_madvise(t, o->addr, o->len, o->advice);
		break;
	default:
		if (o->kind == OP_READ)
			memset(sim_buf, 0xa5, sizeof sim_buf);
		else
			for (uint64_t i = 0; i < o->len; i++)
				sim_buf[i] = wbyte(o->salt, o->addr + i);
		rc = memlab_access(t, o->addr, o->len, o->kind == OP_READ ? 'r' : 'w', sim_buf,
				   &code);
		break;
	}
	after = sim_faults(t);
	f->min = after.min - before.min;
	f->maj = after.maj - before.maj;
	if (o->kind == OP_READ || o->kind == OP_WRITE) {
		if (rc == 0)
			return ACC_OK;
		if (rc == -MEMLAB_EFAULT && code == MEMLAB_BUS_ADRERR)
			return ACC_SIGBUS;
		if (rc == -MEMLAB_EFAULT)
			return code == MEMLAB_SEGV_ACCERR ? ACC_ACCERR : ACC_MAPERR;
		return BAD_RC + rc;
	}
	if (rc > 0 || rc < -4095)
		return BAD_RC + rc;
	res = rc < 0 ? rc : (o->kind == OP_MMAP || o->kind == OP_MREMAP) ? (int64_t)out : 0;
	return res;
}

/* sim_do(), and an mremap result that left the window unmapped, as host_run(). */
static int64_t sim_run(struct sim *s, const struct op *o, struct flt *f)
{
	int64_t r = sim_do(s, o, f);

	if (o->kind == OP_MREMAP && !is_err(r) && r < BAD_RC - (1LL << 33) &&
	    !meets_window((uint64_t)r, o->len2))
		memlab_munmap(s->t[o->proc], (uint64_t)r, o->len2);
	if (o->kind == OP_MADVISE && o->advice == K_MADV_POPULATE_WRITE)
		memlab_tlb_flush_all(s->m);	/* as host_flush_tlb() */
	return r;
}

/* The frames of the window in every task, from memlab's pagemap. */
static void sim_frames(struct sim *s, struct frames *fr)
{
	uint64_t e[WIN_PAGES];

	for (int p = 0; p < NPROC; p++) {
		if (s->t[p] && memlab_pagemap(s->t[p], W, e, WIN_PAGES) == WIN_PAGES) {
			frames_from_pagemap(fr, p, e);
			for (int k = p * WIN_PAGES; k < (p + 1) * WIN_PAGES; k++) {
				uint64_t f = 0;

				if (fr->pfn[k] == NO_FRAME)
					continue;
				memlab_kpageflags(s->m, fr->pfn[k], &f, 1);
				memlab_kpagecount(s->m, fr->pfn[k], &fr->kcount[k], 1);
				fr->kpf[k] = diff_kpf_masked(f);
			}
		} else {
			frames_from_pagemap(fr, p, NULL);
			if (s->t[p])
				sim_report(s, "memlab_pagemap failed");
		}
	}
	frames_pattern(fr);
}

/* memlab_fork() of the proc's task: its child is proc o->child, or exits at once. */
static int64_t sim_fork(struct sim *s, const struct op *o)
{
	memlab_task *child;
	int rc = memlab_fork(s->t[o->proc], &child);

	if (rc)
		return rc < 0 && rc >= -4095 ? rc : BAD_RC + rc;
	if (o->child < 0)
		memlab_task_exit(child);
	else
		s->t[o->child] = child;
	return 0;
}

static int64_t sim_exit(struct sim *s, const struct op *o)
{
	memlab_task_exit(s->t[o->proc]);
	s->t[o->proc] = NULL;
	return 0;
}

/* ===================== generating operations ===================== */

static const int prot_set[] = {
	PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
	PROT_READ | PROT_WRITE | PROT_EXEC, PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE,
	PROT_WRITE, PROT_EXEC,	/* x86: both readable */
};

static int pick_prot(struct rng *r)
{
	return prot_set[rnd(r, sizeof prot_set / sizeof prot_set[0])];
}

enum { PICK_WRITABLE = 1, PICK_RESIDENT = 2 };

/*
** A page of a VMA of the window (mostly) -- a writable one, one with
** resident pages (which a fork may have shared), as asked -- or any page
** of the window.
*/
static uint64_t pick_page(struct rng *r, const struct smaps *h, int want)
{
	const struct smap *c[MAX_VMAS];
	int nc = 0;

	for (int i = 0; i < h->n; i++)
		if ((!(want & PICK_WRITABLE) || h->v[i].perms[1] == 'w') &&
		    (!(want & PICK_RESIDENT) || h->v[i].f[0] > 0))	/* Rss */
			c[nc++] = &h->v[i];
	if (nc && rnd(r, 100) < 85) {
		const struct smap *v = c[rnd(r, (uint64_t)nc)];
		uint64_t s = v->start < W ? W : v->start, e = v->end > W + WIN_LEN ? W + WIN_LEN : v->end;

		return s + PAGE * rnd(r, (e - s) / PAGE);
	}
	return W + PAGE * rnd(r, WIN_PAGES);
}

/* Pages from a to the window's end. */
static uint64_t room(uint64_t a) { return (W + WIN_LEN - a) / PAGE; }

static uint64_t pick_len(struct rng *r, uint64_t a)
{
	uint64_t max = room(a), few = max < 4 ? max : 4;

	if (rnd(r, 100) < 60)
		return PAGE * (1 + rnd(r, few));
	return PAGE * (1 + rnd(r, max < 16 ? max : 16));
}

/* A VMA from one of its pages to its end (or less), or any range (mprotect, madvise). */
static void pick_range(struct rng *r, const struct smaps *h, struct op *o)
{
	if (h->n && rnd(r, 100) < 60) {
		const struct smap *v = &h->v[rnd(r, (uint64_t)h->n)];
		uint64_t e = v->end > W + WIN_LEN ? W + WIN_LEN : v->end;

		o->addr = v->start + PAGE * rnd(r, (e - v->start) / PAGE);
		o->len = e - o->addr;
		if (rnd(r, 3) == 0 && o->len > PAGE)
			o->len -= PAGE * (1 + rnd(r, o->len / PAGE - 1));
	} else {
		o->addr = pick_page(r, h, 0);
		o->len = pick_len(r, o->addr);
	}
}

static void gen_op(struct rng *r, const struct smaps *h, struct op *o)
{
	unsigned x = (unsigned)rnd(r, 100);

	memset(o, 0, sizeof *o);
	if (x < 20 || h->n == 0) {
		unsigned y = (unsigned)rnd(r, 100);

		o->kind = OP_MMAP;
		o->addr = pick_page(r, h, 0);
		if (rnd(r, 100) < 40)
			o->addr = W + PAGE * rnd(r, WIN_PAGES);
		o->len = pick_len(r, o->addr);
		o->prot = pick_prot(r);
		o->flags = K_MAP_ANONYMOUS | (y < 68 ? K_MAP_PRIVATE : K_MAP_SHARED);
		o->flags |= rnd(r, 100) < 10 ? K_MAP_FIXED_NOREPLACE : K_MAP_FIXED;
		if (rnd(r, 100) < 25)
			o->flags |= K_MAP_POPULATE;
		if (rnd(r, 100) < 10)
			o->flags |= K_MAP_NORESERVE;
		if (rnd(r, 100) < 6)
			o->flags |= K_MAP_LOCKED;
	} else if (x < 28) {
		o->kind = OP_MUNMAP;
		o->addr = pick_page(r, h, 0);
		o->len = pick_len(r, o->addr);
	} else if (x < 40) {
		o->kind = OP_MPROTECT;
		pick_range(r, h, o);
		o->prot = pick_prot(r);
	} else if (x < 50) {
		const struct smap *v = &h->v[rnd(r, (uint64_t)h->n)];
		uint64_t e = v->end > W + WIN_LEN ? W + WIN_LEN : v->end;
		unsigned y = (unsigned)rnd(r, 100);

		o->kind = OP_MREMAP;
		o->addr = v->start;
		if (rnd(r, 4) == 0 && e - v->start > PAGE)
			o->addr += PAGE * (1 + rnd(r, (e - v->start) / PAGE - 1));
		o->len = e - o->addr;
		if (rnd(r, 4) == 0 && o->len > PAGE)
			o->len -= PAGE * (1 + rnd(r, o->len / PAGE - 1));
		if (v->perms[3] == 's' && rnd(r, 100) < 25) {
			/* old_size 0: a second mapping of the same shmem pages */
			o->len2 = o->len;
			o->len = 0;
			o->flags = K_MREMAP_MAYMOVE | K_MREMAP_FIXED;
			o->addr2 = W + PAGE * rnd(r, WIN_PAGES);
			if (o->addr2 + o->len2 > W + WIN_LEN)
				o->addr2 = W + WIN_LEN - o->len2;
			return;
		}
		if (y < 25)
			o->flags = 0;
		else if (y < 45)
			o->flags = K_MREMAP_MAYMOVE;
		else if (y < 80)
			o->flags = K_MREMAP_MAYMOVE | K_MREMAP_FIXED;
		else if (y < 95)
			o->flags = K_MREMAP_MAYMOVE | K_MREMAP_FIXED | K_MREMAP_DONTUNMAP;
		else
			o->flags = K_MREMAP_MAYMOVE | K_MREMAP_DONTUNMAP;
		y = (unsigned)rnd(r, 100);
		if ((o->flags & K_MREMAP_DONTUNMAP) || y < 20)
			o->len2 = o->len;
		else if (y < 55)
			o->len2 = o->len + PAGE * (1 + rnd(r, 4));
		else
			o->len2 = o->len > PAGE ? o->len - PAGE * (1 + rnd(r, o->len / PAGE - 1)) : PAGE;
		if (o->addr + o->len2 > W + WIN_LEN)
			o->len2 = W + WIN_LEN - o->addr;
		if (o->flags & K_MREMAP_FIXED) {
			o->addr2 = W + PAGE * rnd(r, WIN_PAGES);
			if (o->addr2 + o->len2 > W + WIN_LEN)
				o->addr2 = W + WIN_LEN - o->len2;
		}
	} else {
		int want = rnd(r, 100) < 50 ? PICK_RESIDENT : 0;

		o->kind = x < 72 ? OP_READ : OP_WRITE;
		if (o->kind == OP_WRITE && rnd(r, 100) < 80)
			want |= PICK_WRITABLE;
		o->addr = pick_page(r, h, want);
		if (rnd(r, 100) < 50) {
			o->addr += rnd(r, PAGE);
			o->len = 1;
		} else {
			o->addr += rnd(r, PAGE);
			o->len = 1 + rnd(r, MAX_ACCESS);
		}
		if (o->addr + o->len > W + WIN_LEN)
			o->len = W + WIN_LEN - o->addr;
		o->salt = (uint32_t)rnext(r);
	}
}

/* The window's resident kB (Rss) in smaps h. */
static int64_t resident(const struct smaps *h)
{
	int64_t kb = 0;

	for (int i = 0; i < h->n; i++)
		kb += h->v[i].f[0];
	return kb;
}

/* A live proc (other than 0 with not0), or -1. */
static int pick_proc(struct rng *r, const int *live, int not0)
{
	int c[NPROC], n = 0;

	for (int p = not0; p < NPROC; p++)
		if (live[p])
			c[n++] = p;
	return n ? c[rnd(r, (uint64_t)n)] : -1;
}

/*
** A step of the sequence: mostly gen_op()'s in one of the live procs,
** else a fork (its child a new proc, or exiting at once), the exit of a
** forked proc, or an madvise that fork or copy on write cares about.
*/
static void gen_step(struct rng *r, const struct smaps *hs, const int *live, struct op *o)
{
	unsigned x = (unsigned)rnd(r, 100);
	int p = pick_proc(r, live, 0), q = pick_proc(r, live, 1), free_slot = -1;
	static const int advice[] = { K_MADV_DONTNEED, K_MADV_DONTNEED, K_MADV_DONTNEED,
				      K_MADV_DONTFORK, K_MADV_DOFORK, K_MADV_WIPEONFORK,
				      K_MADV_WIPEONFORK, K_MADV_KEEPONFORK, K_MADV_COLD,
				      K_MADV_POPULATE_READ, K_MADV_POPULATE_WRITE,
				      K_MADV_POPULATE_WRITE, K_MADV_FREE, K_MADV_FREE };

	for (int i = NPROC - 1; i > 0; i--)
		if (!live[i])
			free_slot = i;
	if (x < 10 && resident(&hs[p])) {
		memset(o, 0, sizeof *o);
		o->kind = OP_FORK;
		o->child = x < 6 ? free_slot : -1;	/* none free: it exits at once */
	} else if (x < 12 && q > 0) {
		memset(o, 0, sizeof *o);
		o->kind = OP_EXIT;
		p = q;
	} else if (x < 17 && hs[p].n) {
		memset(o, 0, sizeof *o);
		o->kind = OP_MADVISE;
		pick_range(r, &hs[p], o);
		o->advice = advice[rnd(r, sizeof advice / sizeof advice[0])];
	} else {
		gen_op(r, &hs[p], o);
	}
	o->proc = p;
}

/*
** Every range an operation modifies or touches lies in the window: the
** harness never changes the rest of its own process.  (An mremap with
** MAYMOVE and without FIXED may move the range out of the window, to a
** place the kernel picks among free addresses: the result is then
** unmapped at once, on each side.)
*/
static int op_is_safe(const struct op *o)
{
	if (o->proc < 0 || o->proc >= NPROC || o->child >= NPROC)
		return 0;
	if (o->kind == OP_FORK || o->kind == OP_EXIT)
		return o->kind == OP_FORK || o->proc > 0;
	if (!in_window(o->addr) || o->addr + o->len > W + WIN_LEN)
		return 0;
	if (o->len == 0 && (o->kind != OP_MREMAP || !(o->flags & K_MREMAP_FIXED)))
		return 0;	/* mremap(old_size 0) makes a second mapping: only at a fixed place */
	if (o->kind == OP_MMAP && !(o->flags & (K_MAP_FIXED | K_MAP_FIXED_NOREPLACE)))
		return 0;
	if (o->kind == OP_MREMAP) {
		if (o->len2 == 0 || o->addr + o->len2 > W + WIN_LEN)
			return 0;
		if ((o->flags & K_MREMAP_FIXED) &&
		    (!in_window(o->addr2) || o->addr2 + o->len2 > W + WIN_LEN))
			return 0;
	}
	return 1;
}

/* ===================== running a sequence ===================== */

enum { F_NONE, F_RESULT, F_FAULTS, F_DATA, F_SMAPS, F_FRAMES, F_MEMLAB, F_SETUP, F_CRASH };

static const char *const fail_names[] = {
	"", "results differ", "fault counts differ", "read bytes differ", "smaps differ",
	"frames differ", "memlab reported a problem", "setup", "crash or hang",
};

struct step {
	struct op op;
	int64_t host, sim;
	struct flt hf, sf;
	int outside;		/* an mremap moved it out of the window on both sides */
	int data_at;		/* first differing byte of a read, or -1 */
};

struct run {
	uint64_t seed;
	int n;
	struct step s[MAX_OPS];
	int fail, fail_at, fail_detail;
	int64_t fail_kb[2];			/* F_SMAPS: the field's values, host and memlab */
	char why[768];
	int live[NPROC];			/* the procs at the failure */
	struct smaps hs[NPROC], ss[NPROC];	/* and their smaps, both sides */
	struct frames hf, sf;			/* and their frames */
};

static int max_ops = 40;
static int trace;

static void print_step(const struct step *st, int i)
{
	char op[200], a[96], b[96];
	int kind = st->op.kind;

	fmt_op(op, sizeof op, &st->op);
	fmt_result(a, sizeof a, kind, st->host);
	fmt_result(b, sizeof b, kind, st->sim);
	if (st->outside)
		printf("  %2d %s = %s (host) / %s (memlab): moved out of the window, unmapped", i + 1,
		       op, a, b);
	else if (st->host == st->sim)
		printf("  %2d %s = %s", i + 1, op, a);
	else
		printf("  %2d %s = %s (host) vs %s (memlab)", i + 1, op, a, b);
	if (kind == OP_FORK || kind == OP_EXIT || st->host == SKIPPED)
		;	/* not measured */
	else if (st->hf.min == st->sf.min && st->hf.maj == st->sf.maj)
		printf(", faults %" PRId64 "%s", st->hf.min, st->hf.maj ? "+major" : "");
	else
		printf(", faults %" PRId64 " minor %" PRId64 " major (host) vs %" PRId64 " minor %" PRId64
		       " major (memlab)", st->hf.min, st->hf.maj, st->sf.min, st->sf.maj);
	if (st->data_at >= 0)
		printf(", bytes differ from offset %d", st->data_at);
	printf("\n");
}

static void print_procs(const int *live, const struct smaps *hs, const struct smaps *ss,
			const struct frames *hf, const struct frames *sf)
{
	for (int p = 0; p < NPROC; p++) {
		char h[16] = "host", m[16] = "memlab";

		if (!live[p])
			continue;
		if (p) {
			snprintf(h, sizeof h, "host p%d", p);
			snprintf(m, sizeof m, "memlab p%d", p);
		}
		print_smaps(h, &hs[p]);
		print_smaps(m, &ss[p]);
	}
	if (frames_known && hf && sf) {
		print_frames("host", live, hf);
		print_frames("memlab", live, sf);
	}
}

static void fail_run(struct run *r, int kind, int at, int detail, const char *why)
{
	r->fail = kind;
	r->fail_at = at;
	r->fail_detail = detail;
	snprintf(r->why, sizeof r->why, "%s", why);
}

/* The frames now, both sides (prev: before the step). */
static struct frames hfr, sfr, hfr_prev, sfr_prev;

/* The procs, their smaps and frames as they were at the failure, for the printout. */
static void keep_failure_state(struct run *r, const struct smaps *hs, const struct smaps *ss)
{
	memcpy(r->live, proc_live, sizeof r->live);
	memcpy(r->hs, hs, sizeof r->hs);
	memcpy(r->ss, ss, sizeof r->ss);
	r->hf = hfr;
	r->sf = sfr;
}

/* Both sides' frames; their pattern, and over an access what each page kept, compared. */
static void compare_frames(struct run *r, struct sim *sim, int at, int access)
{
	char why[700];

	if (!frames_known)
		return;
	hfr_prev = hfr;
	sfr_prev = sfr;
	host_frames(&hfr);
	sim_frames(sim, &sfr);
	if (frames_known && !r->fail &&
	    frames_compare(&hfr_prev, &sfr_prev, &hfr, &sfr, access, why, sizeof why))
		fail_run(r, F_FRAMES, at, 0, why);
}

/* Both sides' smaps of every live proc; the first difference fails the run. */
static void compare_smaps(struct run *r, struct sim *sim, struct smaps *hs, struct smaps *ss,
			  int at)
{
	char why[700], pwhy[720];
	int field;

	for (int p = 0; p < NPROC; p++) {
		hs[p].n = ss[p].n = 0;
		if (!proc_live[p])
			continue;
		host_smaps(proc_pid[p], &hs[p]);
		sim_smaps(sim, p, &ss[p]);
		if (!r->fail && smaps_compare(&hs[p], &ss[p], why, sizeof why, &field, r->fail_kb)) {
			if (p)
				snprintf(pwhy, sizeof pwhy, "p%d: %s", p, why);
			else
				snprintf(pwhy, sizeof pwhy, "%s", why);
			fail_run(r, F_SMAPS, at, field, pwhy);
		}
	}
}

/* A replayed step whose proc is gone (or whose child's place is taken) is skipped. */
static int step_runs(const struct op *o)
{
	if (!proc_live[o->proc])
		return 0;
	return o->kind != OP_FORK || o->child < 0 || !proc_live[o->child];
}

static int moved_out(int64_t v, const struct op *o)
{
	return !is_err(v) && v < BAD_RC - (1LL << 33) && !meets_window((uint64_t)v, o->len2);
}

/* One step on both sides: results, faults, a read's bytes in host_buf / sim_buf. */
static void run_step(struct sim *sim, struct step *st)
{
	const struct op *o = &st->op;

	st->data_at = -1;
	if (!step_runs(o)) {
		st->host = st->sim = SKIPPED;
		return;
	}
	int drain = !batched || o->kind == OP_FORK || o->kind == OP_EXIT;

	switch (o->kind) {
	case OP_FORK:
		st->host = host_fork_step(o);
		host_drain();
		st->sim = sim_fork(sim, o);
		break;
	case OP_EXIT:
		st->host = host_exit_step(o);
		host_drain();
		st->sim = sim_exit(sim, o);
		break;
	default:
		st->host = host_step(o, &st->hf);
		if (drain)
			host_drain();
		fflush(stdout);
		st->sim = sim_run(sim, o, &st->sf);
		st->outside = o->kind == OP_MREMAP && moved_out(st->host, o) && moved_out(st->sim, o);
		break;
	}
	if (drain)
		memlab_lru_add_drain_all(sim->m);
}

/* A step's result, faults and read bytes compared. */
static void check_step(struct run *r, struct step *st, int i)
{
	char why[700];

	if (!st->outside && st->host != st->sim) {
		snprintf(why, sizeof why, "%s: results differ", op_name(st->op.kind));
		fail_run(r, F_RESULT, i, 0, why);
	} else if (st->hf.min != st->sf.min || st->hf.maj != st->sf.maj) {
		snprintf(why, sizeof why, "%s: %" PRId64 " minor / %" PRId64 " major faults on the "
			 "host, %" PRId64 " / %" PRId64 " in memlab", op_name(st->op.kind),
			 st->hf.min, st->hf.maj, st->sf.min, st->sf.maj);
		fail_run(r, F_FAULTS, i, 0, why);
	} else if (st->op.kind == OP_READ && st->host != SKIPPED &&
		   memcmp(host_buf, sim_buf, sizeof host_buf)) {
		for (st->data_at = 0; host_buf[st->data_at] == sim_buf[st->data_at]; st->data_at++)
			;
		snprintf(why, sizeof why, "read: byte %d is %#x on the host, %#x in memlab",
			 st->data_at, host_buf[st->data_at], sim_buf[st->data_at]);
		fail_run(r, F_DATA, i, 0, why);
	}
}

/*
** The final sweep: every page of the window read in every proc on both
** sides (the same outcome, faults and bytes), then every proc's smaps.
*/
static void final_sweep(struct run *r, struct sim *sim, struct smaps *hs, struct smaps *ss)
{
	char why[700];

	for (int p = 0; p < NPROC && !r->fail; p++) {
		for (uint64_t a = W; a < W + WIN_LEN && proc_live[p] && !r->fail; a += PAGE) {
			struct op o = { .kind = OP_READ, .proc = p, .addr = a, .len = PAGE };
			struct flt hf, sf;
			int64_t h = host_step(&o, &hf), sv = sim_run(sim, &o, &sf);
			int bytes = memcmp(host_buf, sim_buf, PAGE) != 0;
			char hr[96], sr[96];

			if (h == sv && hf.min == sf.min && hf.maj == sf.maj && !bytes)
				continue;
			fmt_result(hr, sizeof hr, OP_READ, h);
			fmt_result(sr, sizeof sr, OP_READ, sv);
			snprintf(why, sizeof why, "final sweep, p%d page 0x%" PRIx64 ": %s, %" PRId64
				 " minor fault(s) on the host; %s, %" PRId64 " in memlab%s", p, a, hr,
				 hf.min, sr, sf.min, bytes ? "; bytes differ" : "");
			fail_run(r, h != sv ? F_RESULT : bytes ? F_DATA : F_FAULTS, r->n, 0, why);
		}
	}
	if (!r->fail)
		compare_smaps(r, sim, hs, ss, r->n);
	compare_frames(r, sim, r->n, 1);
}

/* memlab_check() finds nothing, and nothing was reported. */
static void check_memlab(struct run *r, struct sim *sim, const char *when)
{
	char why[700];

	if (r->fail)
		return;
	memlab_check(sim->m, sim_report, sim);
	if (sim->reports[0]) {
		snprintf(why, sizeof why, "memlab_check%s: %.300s", when, sim->reports);
		fail_run(r, F_MEMLAB, r->n, 0, why);
	}
}

static void run_seq(struct run *r, uint64_t seed, int gen, const struct op *ops, int nops,
		    int verbose)
{
	struct rng g = { seed * 0x2545f4914f6cdd1dULL + 7 };
	static struct smaps hs[NPROC], ss[NPROC];
	struct sim sim;
	char why[700];
	int count;

	memset(r, 0, sizeof *r);
	r->seed = seed;
	count = gen ? (int)(10 + rnd(&g, (uint64_t)max_ops - 9)) : nops;
	procs_start();
	if (host_warm_up(why, sizeof why)) {
		fprintf(stderr, "diff_rss: cannot measure faults exactly here: %s\n", why);
		exit(2);
	}
	if (sim_start(&sim) < 0) {
		fail_run(r, F_SETUP, 0, 0, "could not start the memlab machine");
		return;
	}
	memset(hs, 0, sizeof hs);
	memset(ss, 0, sizeof ss);
	host_smaps(0, &hs[0]);
	if (hs[0].n) {
		fprintf(stderr, "diff_rss: the host window is not empty at start\n");
		exit(2);
	}
	if (frames_known) {
		host_frames(&hfr);
		sim_frames(&sim, &sfr);
	}
	for (int i = 0; i < count && !r->fail; i++) {
		struct step *st = &r->s[i];

		if (gen)
			gen_step(&g, hs, proc_live, &st->op);
		else
			st->op = ops[i];
		r->n = i + 1;
		if (!op_is_safe(&st->op)) {
			char op[200];

			fmt_op(op, sizeof op, &st->op);
			fprintf(stderr, "diff_rss: refusing an unsafe operation %s\n", op);
			exit(2);
		}
		run_step(&sim, st);
		check_step(r, st, i);
		compare_smaps(r, &sim, hs, ss, i);
		compare_frames(r, &sim, i, st->op.kind == OP_READ || st->op.kind == OP_WRITE);
		if (!r->fail && sim.reports[0]) {
			snprintf(why, sizeof why, "memlab reported: %.300s", sim.reports);
			fail_run(r, F_MEMLAB, i, 0, why);
		}
		if (r->fail)
			keep_failure_state(r, hs, ss);
		if (trace && verbose) {
			print_step(st, i);
			print_procs(proc_live, hs, ss, &hfr, &sfr);
		}
	}
	if (!r->fail) {
		final_sweep(r, &sim, hs, ss);
		check_memlab(r, &sim, "");
		if (r->fail)
			keep_failure_state(r, hs, ss);
	}
	if (verbose) {
		printf("seed %" PRIu64 ": %d steps\n", seed, r->n);
		for (int i = 0; i < r->n; i++)
			print_step(&r->s[i], i);
		print_procs(proc_live, hs, ss, &hfr, &sfr);
	}
	procs_stop();
	for (int p = 1; p < NPROC; p++)
		if (sim.t[p])
			sim_exit(&sim, &(struct op){ .kind = OP_EXIT, .proc = p });
	if (!r->fail) {
		check_memlab(r, &sim, " after the forked tasks exited");
		if (r->fail)
			keep_failure_state(r, hs, ss);
	}
	host_clean();
	host_smaps(0, &hs[0]);
	if (hs[0].n) {
		fprintf(stderr, "diff_rss: the host window is not empty after munmap\n");
		exit(2);
	}
	if (memlab_munmap(sim.t[0], W, WIN_LEN) != 0 && !r->fail)
		fail_run(r, F_RESULT, r->n, 0, "memlab_munmap(window) failed");
	sim_stop(&sim);
}

/*
** Each sequence runs in a child process: a hang or a crash inside memlab
** is that seed's failure, and the child's window dies with it.
*/
static struct run *shared_run;

static void run_guarded(struct run *r, uint64_t seed, int gen, const struct op *ops, int nops,
			int verbose)
{
	pid_t pid;
	int status;

	if (!shared_run) {
		void *p = mmap(NULL, sizeof *shared_run, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		void *q = mmap(NULL, sizeof *mbox * NPROC, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || q == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		shared_run = p;
		mbox = q;
	}
	memset(shared_run, 0, sizeof *shared_run);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		alarm(seed_timeout);
		run_seq(shared_run, seed, gen, ops, nops, verbose);
		fflush(stdout);
		exit(0);	/* exit(), not _exit(): LeakSanitizer checks memlab */
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			exit(2);
		}
	}
	*r = *shared_run;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		exit(2);	/* the harness refused to go on: its message is printed */
	r->fail = F_CRASH;
	r->fail_at = r->n ? r->n - 1 : 0;
	snprintf(r->why, sizeof r->why, "%s during %s",
		 WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "no answer within the timeout"
		 : WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "a non-zero exit (a sanitizer?)",
		 r->n ? op_name(r->s[r->fail_at].op.kind) : "setup");
	memset(r->live, 0, sizeof r->live);
}

static void print_failure(const struct run *r, const char *title)
{
	printf("FAIL seed %" PRIu64 "%s: %s: %s\n", r->seed, title, fail_names[r->fail], r->why);
	for (int i = 0; i < r->n; i++)
		print_step(&r->s[i], i);
	print_procs(r->live, r->hs, r->ss, r->fail == F_CRASH ? NULL : &r->hf,
		    r->fail == F_CRASH ? NULL : &r->sf);
}

/* The same failure: kind, detail (the smaps field) and the failing step's kind. */
static int same_failure(const struct run *a, const struct run *b)
{
	if (!a->fail || a->fail != b->fail || a->fail_detail != b->fail_detail)
		return 0;
	if (a->fail_at >= a->n || b->fail_at >= b->n)
		return a->fail_at >= a->n && b->fail_at >= b->n;
	return a->s[a->fail_at].op.kind == b->s[b->fail_at].op.kind;
}

/* Drop steps while the same failure remains (chunks, then one by one). */
static void shrink(const struct run *orig)
{
	static struct run try_run, best;
	static struct op ops[MAX_OPS], cand[MAX_OPS];
	int n = orig->fail_at < orig->n ? orig->fail_at + 1 : orig->n;
	unsigned saved = seed_timeout;

	for (int i = 0; i < n; i++)
		ops[i] = orig->s[i].op;
	seed_timeout = 5;
	best = *orig;
	for (int chunk = n / 2; chunk >= 1; chunk = chunk > 1 ? chunk / 2 : 0) {
		int progress = 1;

		while (progress) {
			progress = 0;
			for (int start = 0; start + chunk <= n;) {
				int m = 0;

				for (int i = 0; i < n; i++)
					if (i < start || i >= start + chunk)
						cand[m++] = ops[i];
				if (m == 0) {
					start += chunk;
					continue;
				}
				run_guarded(&try_run, orig->seed, 0, cand, m, 0);
				if (same_failure(orig, &try_run)) {
					int k = try_run.fail_at < try_run.n ? try_run.fail_at + 1 : m;

					memcpy(ops, cand, sizeof(struct op) * (size_t)k);
					n = k;
					best = try_run;
					progress = 1;
				} else {
					start += chunk;
				}
			}
		}
	}
	seed_timeout = saved;
	print_failure(&best, " (shrunk)");
}

/* ===================== main ===================== */

static void pick_window(void)
{
	for (size_t i = 0; i < sizeof window_candidates / sizeof window_candidates[0]; i++) {
		uint64_t a = window_candidates[i] - GUARD;
		long p = syscall(SYS_mmap, a, WIN_LEN + 2 * GUARD, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);

		if (p == -1)
			continue;
		syscall(SYS_munmap, (uint64_t)p, WIN_LEN + 2 * GUARD);
		if ((uint64_t)p != a)
			continue;	/* a kernel without MAP_FIXED_NOREPLACE */
		W = window_candidates[i];
		return;
	}
	fprintf(stderr, "diff_rss: no free window found\n");
	exit(2);
}

/*
** Whether /proc/self/pagemap shows PFNs here (it shows 0 without
** CAP_SYS_ADMIN): probed on a page of this stack, which is present.
*/
static void probe_frames(void)
{
	volatile uint64_t here = 1;
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, &e, sizeof e, (off_t)((uintptr_t)&here / PAGE * 8)) != sizeof e ||
	    !(e >> 63) || !(e & ((1ULL << 55) - 1)))
		frames_known = 0;
	if (fd >= 0)
		close(fd);
}

/*
** Whether a DAMON monitor runs on this host (a kdamond "on"): with the
** physical address space as its target (paddr) it samples pages at
** random, and for each it clears the young bit of every entry mapping it
** and sets the page's PG_young (damon_ptep_mkold), which smaps counts as
** Referenced in every mapping -- also in a fork child's whose entry was
** old, which then shows more Referenced than memlab.
*/
static int damon_running(void)
{
	char path[96], state[8] = "";

	for (int i = 0; i < 8; i++) {
		FILE *f;

		snprintf(path, sizeof path, "/sys/kernel/mm/damon/admin/kdamonds/%d/state", i);
		if (!(f = fopen(path, "r")))
			break;
		if (!fgets(state, sizeof state, f))
			state[0] = 0;
		fclose(f);
		if (!strncmp(state, "on", 2))
			return 1;
	}
	return 0;
}

/*
** A failure DAMON can cause: more Referenced on the host than in memlab,
** with a kdamond running.  Such a seed is run once more; when the
** difference does not come back it was DAMON's sample, not memlab's.
*/
static int damon_may_explain(const struct run *r)
{
	static int damon = -1;

	if (r->fail != F_SMAPS || r->fail_detail < 0 ||
	    strcmp(FIELDS[r->fail_detail], "Referenced") || r->fail_kb[0] <= r->fail_kb[1])
		return 0;
	if (damon < 0)
		damon = damon_running();
	return damon;
}

static void usage(void)
{
	fprintf(stderr, "usage: diff_rss [--first N] [--count N] [--seed N] [--no-shrink]\n"
			"                [--max-fail N] [--trace] [--timeout S] [--max-ops N] [--batched] [-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = 200;
	int one = 0, do_shrink = 1, quiet = 0, max_fail = 5, passed = 0, failed = 0;
	static struct run r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--first") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			first = strtoull(argv[++i], NULL, 0);
			count = 1;
			one = 1;
		} else if (!strcmp(argv[i], "--no-shrink"))
			do_shrink = 0;
		else if (!strcmp(argv[i], "--max-fail") && i + 1 < argc)
			max_fail = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			seed_timeout = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-ops") && i + 1 < argc) {
			max_ops = atoi(argv[++i]);
			if (max_ops < 10 || max_ops > MAX_OPS)
				usage();
		} else if (!strcmp(argv[i], "--trace"))
			trace = 1;
		else if (!strcmp(argv[i], "--batched"))
			batched = 1;
		else if (!strcmp(argv[i], "-q"))
			quiet = 1;
		else
			usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pick_window();
	probe_frames();
	if (!frames_known)
		printf("diff_rss: /proc/self/pagemap shows no PFNs here (not root): frames not "
		       "compared\n");
	if (!quiet)
		printf("diff_rss: window [0x%" PRIx64 ", 0x%" PRIx64 "), seeds %" PRIu64 "..%" PRIu64 "\n",
		       W, W + WIN_LEN, first, first + count - 1);
	for (uint64_t seed = first; seed < first + count; seed++) {
		run_guarded(&r, seed, 1, NULL, 0, one);
		if (r.fail && damon_may_explain(&r)) {
			printf("seed %" PRIu64 ": %s; run again (DAMON runs here)\n", seed, r.why);
			run_guarded(&r, seed, 1, NULL, 0, one);
		}
		if (!r.fail) {
			passed++;
			continue;
		}
		failed++;
		if (failed <= max_fail) {
			print_failure(&r, "");
			if (do_shrink && r.fail != F_SETUP)
				shrink(&r);
			printf("  replay: diff_rss --seed %" PRIu64 "\n", seed);
		} else {
			printf("FAIL seed %" PRIu64 ": %s: %s\n", seed, fail_names[r.fail], r.why);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
