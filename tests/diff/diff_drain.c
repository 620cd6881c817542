/*
** diff_drain.c -- which calls drain the CPU's folio batches, on the host
** and in memlab.
**
**   diff_drain [-v]
**
** A page is written (it waits in this CPU's lru_add batch, off the LRU
** lists), then a call is made on another mapping -- untouched unless the
** call's name says so -- and the page is looked at: on an LRU list now
** (the call drained the batch) or not.  The host answers through
** /proc/self/pagemap and /proc/kpageflags (KPF_LRU), pinned to one CPU;
** it runs each call 40 times and takes the majority, since anything else
** on that CPU may fill or drain the same batch.  memlab runs it once.
** Exit 0 when every call agrees, 1 when one differs, 77 when the host
** cannot say (not root: no pfns in pagemap; built with a sanitizer,
** whose own faults share the batch).
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diff_common.h"

#define PAGE		4096
#define K_MADV_DONTNEED	4
#define K_MADV_FREE	8
#define K_MADV_COLD	20
#define K_MADV_POPULATE_READ	22
#define K_MADV_POPULATE_WRITE	23
#define KPF_LRU		5
#define TRIALS		40

enum call {
	C_NONE, C_MUNMAP, C_MUNMAP_TOUCHED, C_DONTNEED, C_DONTNEED_TOUCHED, C_MPROTECT,
	C_FREE, C_COLD, C_POPULATE_READ, C_POPULATE_WRITE, C_MLOCK, C_MAP_POPULATE, C_EXIT,
	NR_CALLS
};

static const char *const names[NR_CALLS] = {
	"nothing", "munmap", "munmap (touched)", "MADV_DONTNEED", "MADV_DONTNEED (touched)",
	"mprotect", "MADV_FREE", "MADV_COLD", "MADV_POPULATE_READ", "MADV_POPULATE_WRITE",
	"mlock + munlock", "mmap(MAP_POPULATE)", "clone + exit of a child"
};

static int touched(enum call c)
{
	return c == C_MUNMAP_TOUCHED || c == C_DONTNEED_TOUCHED;
}

/* ===================== the host ===================== */

static uint64_t host_pfn(const void *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;

	if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)p / PAGE * 8)) != 8)
		e = 0;
	if (fd >= 0)
		close(fd);
	return e & ((1ULL << 55) - 1);
}

static int host_lru(uint64_t pfn)
{
	int fd = open("/proc/kpageflags", O_RDONLY);
	uint64_t f = 0;

	if (fd < 0 || pread(fd, &f, 8, (off_t)(pfn * 8)) != 8)
		f = 0;
	if (fd >= 0)
		close(fd);
	return (int)(f >> KPF_LRU & 1);
}

static void host_call(enum call c, char *b)
{
	pid_t pid;

	switch (c) {
	case C_NONE: break;
	case C_MUNMAP: case C_MUNMAP_TOUCHED: munmap(b, 2 * PAGE); break;
	case C_DONTNEED: case C_DONTNEED_TOUCHED: madvise(b, 2 * PAGE, K_MADV_DONTNEED); break;
	case C_MPROTECT: mprotect(b, 2 * PAGE, PROT_READ); break;
	case C_FREE: madvise(b, 2 * PAGE, K_MADV_FREE); break;
	case C_COLD: madvise(b, 2 * PAGE, K_MADV_COLD); break;
	case C_POPULATE_READ: madvise(b, 2 * PAGE, K_MADV_POPULATE_READ); break;
	case C_POPULATE_WRITE: madvise(b, 2 * PAGE, K_MADV_POPULATE_WRITE); break;
	case C_MLOCK: mlock(b, 2 * PAGE); munlock(b, 2 * PAGE); break;
	case C_MAP_POPULATE:
		munmap(mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0), 2 * PAGE);
		break;
	case C_EXIT:
		/*
		** A raw clone, not glibc's fork(): the stores fork() makes in
		** the child and the parent right after the system call are
		** copy-on-write faults, and wp_can_reuse_anon_folio() drains
		** the CPU's batches when their page is on no LRU list yet --
		** which would answer for the fault, not for exit_mmap().
		*/
		pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (pid == 0)
			syscall(SYS_exit_group, 0);
		waitpid(pid, NULL, 0);
		break;
	case NR_CALLS: break;
	}
}

/* 1 if most trials found the page on the LRU after the call, 0 if not, -1: no pfns. */
static int host_drains(enum call c)
{
	int on = 0;

	for (int i = 0; i < TRIALS; i++) {
		char *a = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *b = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		uint64_t pfn;

		/*
		** This CPU's batches empty first: the pages the last trial
		** left there (the stack page its clone made this process
		** copy) would make the next copy-on-write fault drain them.
		*/
		madvise(b, 2 * PAGE, K_MADV_COLD);
		a[0] = 1;
		if (touched(c))
			b[0] = 1;
		pfn = host_pfn(a);
		if (!pfn)
			return -1;
		host_call(c, b);
		on += host_lru(pfn);
		munmap(a, PAGE);
		munmap(b, 2 * PAGE);
	}
	return on * 2 > TRIALS;
}

/* ===================== memlab ===================== */

static int sim_call(memlab_task *t, enum call c, uint64_t b)
{
	memlab_task *child = NULL;
	uint64_t out;

	switch (c) {
	case C_NONE: return 0;
	case C_MUNMAP: case C_MUNMAP_TOUCHED: return memlab_munmap(t, b, 2 * PAGE);
	case C_DONTNEED: case C_DONTNEED_TOUCHED: return memlab_madvise(t, b, 2 * PAGE, K_MADV_DONTNEED);
	case C_MPROTECT: return memlab_mprotect(t, b, 2 * PAGE, MEMLAB_PROT_READ);
	case C_FREE: return memlab_madvise(t, b, 2 * PAGE, K_MADV_FREE);
	case C_COLD: return memlab_madvise(t, b, 2 * PAGE, K_MADV_COLD);
	case C_POPULATE_READ: return memlab_madvise(t, b, 2 * PAGE, K_MADV_POPULATE_READ);
	case C_POPULATE_WRITE: return memlab_madvise(t, b, 2 * PAGE, K_MADV_POPULATE_WRITE);
	case C_MLOCK:
		return memlab_mlock(t, b, 2 * PAGE, 0) || memlab_munlock(t, b, 2 * PAGE);
	case C_MAP_POPULATE:
		return memlab_mmap(t, 0, 2 * PAGE, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
				   MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_POPULATE,
				   NULL, 0, &out) || memlab_munmap(t, out, 2 * PAGE);
	case C_EXIT:
		if (memlab_fork(t, &child))
			return -1;
		memlab_task_exit(child);
		return 0;
	case NR_CALLS: break;
	}
	return -1;
}

/* The same in a fresh memlab machine: 1 drained, 0 not, -1 a call failed. */
static int sim_drains(enum call c)
{
	struct memlab_spawn_args args = { .name = "drain", .root = 1 };
	struct memlab_page_info pi;
	struct memlab_walk w;
	memlab_machine *m;
	memlab_task *t;
	uint64_t a, b;
	uint8_t byte = 1;
	int code, ret = -1;

	if (diff_machine(&m, NULL, NULL) < 0)
		return -1;
	if (memlab_spawn(m, &args, &t) ||
	    memlab_mmap(t, 0, PAGE, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &a) ||
	    memlab_mmap(t, 0, 2 * PAGE, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &b) ||
	    memlab_access(t, a, 1, 'w', &byte, &code) ||
	    (touched(c) && memlab_access(t, b, 1, 'w', &byte, &code)))
		goto out;
	if (memlab_translate(t, a, &w) || sim_call(t, c, b) ||
	    memlab_page_info(m, w.pfn, &pi) || memlab_check(m, NULL, NULL))
		goto out;
	ret = pi.lru != 0;
out:
	memlab_destroy(m);
	return ret;
}

int main(int argc, char **argv)
{
	int verbose = argc > 1 && !strcmp(argv[1], "-v"), bad = 0;
	cpu_set_t set;

	if (SANITIZED) {
		printf("diff_drain: skipped (a sanitizer's own faults share the batch)\n");
		return 77;
	}
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	sched_setaffinity(0, sizeof(set), &set);	/* one CPU: one set of batches */
	for (int c = 0; c < NR_CALLS; c++) {
		int host = host_drains(c), sim = sim_drains(c);

		if (host < 0) {
			printf("diff_drain: skipped (no pfns in /proc/self/pagemap: not root)\n");
			return 77;
		}
		if (host != sim)
			bad++;
		if (verbose || host != sim)
			printf("%-26s host %s, memlab %s%s\n", names[c],
			       host ? "drains" : "does not drain",
			       sim < 0 ? "failed" : sim ? "drains" : "does not drain",
			       host != sim ? "  <-- differs" : "");
	}
	printf("diff_drain: %d of %d calls agree\n", NR_CALLS - bad, NR_CALLS);
	return bad ? 1 : 0;
}
