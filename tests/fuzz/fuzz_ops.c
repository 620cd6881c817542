/*
** fuzz_ops.c -- a libFuzzer target over the whole public API.
**
** The input is a program in a compact operation language for one small
** machine.  Bytes 0-2 choose the machine (architecture, page size and
** va_bits, RAM, zone layout, per-CPU lists), its vm sysctls (overcommit
** mode and ratio, a small vm.max_map_count, mmap_min_addr) and its CPUs,
** TLBs and THP mode (setup() has the bits); one task is spawned, then
** every following operation is one opcode byte and its argument bytes (an
** input that runs out reads zeroes, which pick the common case):
**
**   spawn      a task: ASLR, exe sizes, rlimits, root, static PIE
**   fork       a task's child          exit     a task
**   clone      a thread, a process sharing the mm, or flags clone refuses
**   mmap       anon/shared/file/droppable/hugetlb, every MAP_ flag, at or
**              near existing VMAs (memlab_vmas), lengths 0/1/pages/huge
**   munmap, mprotect (PROT_NONE, GROWSDOWN, junk bits), mremap (MAYMOVE,
**   FIXED, DONTUNMAP), madvise (every advice, invalid ones too), msync,
**   mlock, mlock2, munlock, mlockall, munlockall,
**   brk, sbrk                          each checked against the VMAs after
**   access     r/w/x (or a bad letter) with or without data, across page
**              boundaries, anywhere; a write is read back and compared (a
**              MAP_DROPPABLE page reclaim dropped may read 0)
**   pattern    memlab_access_pattern of every kind, bad parameters too
**   pread, pwrite (a task's memory), file_pread, file_pwrite (host),
**   file_create (large folios or not), file_load, sync
**   reclaim    drop_caches (every mode), the LRU lists against the pages
**   cow        write, fork, the child reads and writes, the parent reads:
**              copy on write (and MAP_SHARED) seen from both sides
**   coherent   a file mapping against read(2), write(2) and the disk
**   alloc, free, bad_free   memlab_alloc_pages / memlab_free_pages
**   vmalloc    vmalloc (one byte to 600 pages, huge, guardless, aligned,
**              GFP_KERNEL_ACCOUNT for a task), vmap and vm_map_ram of the
**              target's blocks, and their frees (vfree of any page of an
**              area); a vmalloc'ed area is written and read back
**   inject     fail_page_alloc, failslab or a swap I/O error with random attributes
**              (min_order 0, the ignore flags off) or off; fail_nth,
**              make_it_fail
**   inspect    translate (checked against rmap), pagetable_dump, rmap,
**              every procfs file (machine and PID), mm_info, vmstat
**   trace      start / stop / dump (text, jsonl, chrome) / events
**   sysctl, thp   the vm sysctls and THP settings again, mid-run; a pass
**              of khugepaged with its limits changed (thp's "same" mode)
**   cpu, tlb   memlab_task_run_on; TLB statistics, report, flush
**   cgroup     memory cgroups ("/a", "/a/b", "/c", "/d/e", "/"): mkdir,
**              rmdir, move a task (or no such pid), spawn into one,
**              memory.max, .high, .low, .min, .swap.max, .swap.high (a
**              few pages to 16 MiB, or "max"; each read back),
**              memory.oom.group, memory.reclaim (with a swappiness),
**              every file read, junk writes, and
**              "limit": mkdir, move a task in, set memory.max
**
** After every operation memlab_check() must find nothing, every call must
** have returned 0 or a valid negative errno, the page books must balance
**
**   nr_free_pages + pcp + the target's blocks + nr_file_pages
**     + nr_anon_pages + nr_page_table_pages + one PGD per mm
**     + VmallocUsed + the kernel's PGD once vmalloc made it
**     (+ the huge zero page while it is mapped) = boot free
**
** and the report callback may have seen only fault-injection notices,
** the OOM killer's report (a memory cgroup's too, with its usage and
** memory.stat) (and, inside bad_free, the bad-page report that free asked
** for).  An access may end in the OOM killer, the node's or a memory
** cgroup's (and so may a write of memory.max): the tasks it killed are
** gone when the call returns, and the target forgets them (reap_killed)
** before it uses a task pointer again.  At
** the end injection goes off, every task exits, every block is freed, the
** per-CPU lists are drained, and nr_free_pages + nr_file_pages (the page
** cache keeps the files' pages: files live as long as the machine) must
** equal the boot value.  Any surprise prints what happened and calls
** abort().
**
** Reading a finding: FUZZ_OPS_VERBOSE=1 in the environment prints every
** operation with its arguments and result, FUZZ_OPS_VERBOSE=2 also every
** task's maps after it.  tests/fuzz/corpus_ops/ holds the seeds (and
** the first findings, regress-*), tests/fuzz/crashes_ops/ the findings'
** reproducers; ctest replays both (fuzz.replay_ops).
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TASKS	20	/* more than 16 mappings of one page: rmap walks see them all */
#define MAX_FILES	8
#define MAX_LIVE	256
#define MAX_CACHES	8
#define MAX_OBJS	512
#define MAX_VM		16	/* vmalloc, vmap and vm_map_ram areas held */
#define MAX_VMAS	256
#define MAX_BUF		(4u << 16)	/* host buffers: 4 pages of 64 KiB */
#define BIG_LEN		(64ull << 20)	/* populating more than this is too slow */

struct block {
	uint64_t pfn;
	unsigned order;
};

struct fuzz {
	memlab_machine *m;
	struct memlab_machine_info info;
	const uint8_t *p, *end;		/* the unread input */
	memlab_task *tasks[MAX_TASKS];
	int pids[MAX_TASKS];		/* tasks[i]'s pid: is it still alive? (the OOM killer) */
	int mm_id[MAX_TASKS];		/* tasks with the same id share an mm (CLONE_VM) */
	int ntasks, max_tasks, next_mm_id;
	memlab_file *files[MAX_FILES];
	int nfiles;
	struct block live[MAX_LIVE];	/* memlab_alloc_pages blocks */
	int nlive;
	struct vm_held {		/* kernel mappings held: vmalloc, vmap, vm_map_ram */
		uint64_t addr, count;
		int kind;
	} vm[MAX_VM];
	int nvm;
	uint64_t live_pages;
	uint64_t boot_free;
	uint64_t pmd_size;		/* the default huge page size */
	uint64_t last_addr;		/* the last address a call returned */
	struct memlab_vma_info vmas[MAX_VMAS];
	unsigned reports;
	int expect_bad_page;		/* inside bad_free */
	int in_memcg_stat;		/* inside a memcg OOM report's memory.stat lines */
	int verbose;
	const char *op;
	unsigned step;
	/* the host's allocator: fails on purpose while an operation runs */
	int host_armed;			/* inside an operation (never in memlab_check) */
	unsigned host_fail_nth;		/* the nth allocation from now fails (0: none) */
	unsigned host_fail_every;	/* every nth allocation fails (0: none) */
	uint64_t host_allocs;
	uint64_t host_fails, host_fails0;	/* failures made, and at the operation's start */
	uint64_t trace_ts;		/* the last event the trace hook saw */
	/* the slab allocator: caches made (NULL once destroyed), objects live */
	memlab_kmem_cache *caches[MAX_CACHES];
	int ncaches;
	memlab_kmem_cache *leaked[MAX_CACHES];	/* destroyed with objects left */
	int nleaked;
	struct { uint64_t addr; memlab_kmem_cache *s; } objs[MAX_OBJS];	/* s NULL: kmalloc */
	int nobjs;
	int in_slab;			/* inside op_slab: SLUB's reports are expected */
	int in_slab_info;		/* inside the OOM report's unreclaimable slab table */
	int in_mem_info;		/* inside a global OOM's Mem-Info block (show_mem) */
};

static uint8_t buf_in[MAX_BUF], buf_out[MAX_BUF];

/* ===================== small helpers ===================== */

static uint8_t next_byte(struct fuzz *f)
{
	return f->p < f->end ? *f->p++ : 0;
}

static unsigned next_u16(struct fuzz *f)
{
	unsigned lo = next_byte(f);

	return lo | (unsigned)next_byte(f) << 8;
}

static uint32_t next_u32(struct fuzz *f)
{
	uint32_t lo = next_u16(f);

	return lo | (uint32_t)next_u16(f) << 16;
}

static uint64_t next_u64(struct fuzz *f)
{
	uint64_t lo = next_u32(f);

	return lo | (uint64_t)next_u32(f) << 32;
}

static void die(struct fuzz *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_ops: step %u, during %s: ", f->step, f->op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void note(struct fuzz *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->verbose)
		return;
	fprintf(stderr, "[%u] %s: ", f->step, f->op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int reap_killed(struct fuzz *f, memlab_task *t, int pid);

/* "key value": a line of memory.stat. */
static int stat_line(const char *msg)
{
	size_t k = strspn(msg, "abcdefghijklmnopqrstuvwxyz_"), v;

	if (!k || msg[k] != ' ')
		return 0;
	v = strspn(msg + k + 1, "0123456789");
	return v && !msg[k + 1 + v];
}

/*
** A line of the OOM killer's report (core/oom_kill.c); a global OOM
** adds show_mem()'s Mem-Info (from "Mem-Info:" to "N pages reserved"),
** a memory cgroup's OOM its usage and limit, its memory.stat (between "Memory cgroup
** stats for" and the task table) and, with memory.oom.group, its notice.
*/
static int oom_report(struct fuzz *f, const char *msg)
{
	static const char *const prefix[] = {
		"Tasks state (memory values in pages):", "[", "oom-kill:constraint=",
		"Out of memory", "Kernel panic - not syncing: ", "oom killer ",
		"memory: usage ", "swap: usage ", "Memory cgroup stats for ",
		"Memory cgroup out of memory: Killed process ", NULL
	};

	if (strcmp(msg, "Mem-Info:") == 0)
		return f->in_mem_info = 1;
	if (f->in_mem_info) {
		size_t n = strlen(msg);

		if (n > 15 && strcmp(msg + n - 15, " pages reserved") == 0)
			f->in_mem_info = 0;
		return 1;
	}
	if (strncmp(msg, "Memory cgroup stats for ", 24) == 0)
		f->in_memcg_stat = 1;
	else if (strcmp(msg, "Unreclaimable slab info:") == 0)
		return f->in_slab_info = 1;
	else if (strncmp(msg, "Tasks state", 11) == 0)
		f->in_memcg_stat = f->in_slab_info = 0;
	else if (f->in_memcg_stat)
		return stat_line(msg);
	else if (f->in_slab_info)	/* "Name  Used  Total", then a cache's "name  nKB  nKB" */
		return strncmp(msg, "Name ", 5) == 0 || (strlen(msg) > 2 &&
		       strcmp(msg + strlen(msg) - 2, "KB") == 0);
	if (strstr(msg, " invoked oom-killer: gfp_mask="))
		return 1;
	if (strncmp(msg, "Tasks in ", 9) == 0 &&
	    strstr(msg, " are going to be killed due to memory.oom.group set"))
		return 1;
	for (int i = 0; prefix[i]; i++)
		if (strncmp(msg, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	return 0;
}

/*
** slab_out_of_memory()'s three lines: a VMA, anon_vma, task or mm that
** could not get a slab page (fail_page_alloc, no memory left, a dying
** task) is an allocation failure Linux warns about, as it does here.
*/
static int slab_oom_report(const char *msg)
{
	return strncmp(msg, "SLUB: Unable to allocate memory on CPU ", 39) == 0 ||
	       strncmp(msg, "  cache: ", 9) == 0 || strncmp(msg, "  node 0: slabs: ", 17) == 0;
}

/* The report hook: fault-injection notices, the OOM killer's report and
 * SLUB's allocation failures are fine, a bad page only in bad_free. */
static void on_report(void *ud, const char *msg)
{
	struct fuzz *f = ud;

	f->reports++;
	if (strncmp(msg, "FAULT_INJECTION:", 16) == 0 || oom_report(f, msg) || slab_oom_report(msg) ||
	    strncmp(msg, "Write-error on swap-device", 26) == 0 ||
	    strncmp(msg, "Read-error on swap-device", 25) == 0)
		return;
	if (f->expect_bad_page && strncmp(msg, "BUG: Bad page state", 19) == 0)
		return;
	if (f->in_slab && !strstr(msg, "kernel BUG") && !strstr(msg, "double free"))
		return;
	if (strstr(msg, ": vmalloc error: size ") || strncmp(msg, "vmalloc_node_range for size", 27) == 0)
		return;	/* warn_alloc of a failed vmalloc */
	die(f, "unexpected report: %s", msg);
}

static void on_violation(void *ud, const char *msg)
{
	fprintf(stderr, "fuzz_ops: violation: %s\n", msg);
	(void)ud;
}

/*
** memlab_config.alloc: the host's allocator for memlab's metadata, which
** fails where host_fail_nth / host_fail_every say while an operation runs
** (op_hostfail); memlab must answer -ENOMEM and stay consistent.
*/
static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct fuzz *f = ud;

	(void)osize;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	if (f->host_armed) {
		f->host_allocs++;
		if ((f->host_fail_nth && --f->host_fail_nth == 0) ||
		    (f->host_fail_every && f->host_allocs % f->host_fail_every == 0)) {
			f->host_fails++;
			return NULL;
		}
	}
	return realloc(ptr, nsize);
}

/* A system call's result: 0 or a negative errno that Linux has. */
static void check_rc(struct fuzz *f, int rc, const char *call)
{
	if (rc == 0 || (rc < 0 && memlab_err_name(rc) != NULL &&
			strcmp(memlab_strerror(rc), "Unknown error") != 0))
		return;
	die(f, "%s returned %d, neither 0 nor a negative errno", call, rc);
}

static uint64_t vmstat(struct fuzz *f, const char *name)
{
	uint64_t v = 0;

	if (memlab_vmstat_get(f->m, name, &v) != 0)
		die(f, "no vmstat counter %s", name);
	return v;
}

static uint64_t page_align(struct fuzz *f, uint64_t x)
{
	uint64_t ps = f->info.page_size;

	return (x + ps - 1) & ~(ps - 1);
}

/* ===================== picking arguments ===================== */

static memlab_task *pick_task(struct fuzz *f)
{
	uint8_t b = next_byte(f);

	return f->ntasks ? f->tasks[b % f->ntasks] : NULL;
}

static memlab_file *pick_file(struct fuzz *f)
{
	uint8_t b = next_byte(f);

	return f->nfiles ? f->files[b % f->nfiles] : NULL;
}

static size_t get_vmas(struct fuzz *f, memlab_task *t)
{
	size_t n = memlab_vmas(t, f->vmas, MAX_VMAS);

	return n < MAX_VMAS ? n : MAX_VMAS;
}

/* A VMA of t (its bounds), or 0 when it has none. */
static int pick_vma(struct fuzz *f, memlab_task *t, uint64_t *start, uint64_t *end)
{
	uint8_t b = next_byte(f);
	size_t n = get_vmas(f, t);

	if (!n)
		return 0;
	*start = f->vmas[b % n].start;
	*end = f->vmas[b % n].end;
	return 1;
}

/* An address for t: near its VMAs, its layout, or anywhere. */
static uint64_t pick_addr(struct fuzz *f, memlab_task *t)
{
	uint64_t ps = f->info.page_size, start = 0, end = 0, k;
	unsigned kind = next_byte(f) & 15;
	struct memlab_mm_info mi;
	int have;

	memlab_mm_info(t, &mi);
	have = pick_vma(f, t, &start, &end);
	k = next_byte(f);
	if (!have && kind >= 1 && kind <= 7)
		kind = 10;
	switch (kind) {
	case 0:
		return 0;
	case 1:
		return start;
	case 2:
		return start + k * ps;
	case 3:
		return end;
	case 4:
		return end - (k + 1) * ps > end ? 0 : end - (k + 1) * ps;
	case 5:		/* just below a VMA, in its gap */
		return start - (k % 4 + 1) * ps;
	case 6:		/* unaligned, inside */
		return start + k * 17 + 1;
	case 7:		/* a few bytes before a VMA's end: accesses cross it */
		return end - (k % 32 + 1);
	case 8:
		switch (k & 7) {
		case 0: return mi.brk;
		case 1: return mi.start_brk;
		case 2: return mi.mmap_base - (k >> 3) * ps;
		case 3: return mi.start_stack;
		case 4: return mi.task_size - (k >> 3) * ps;
		case 5: return mi.start_code;
		case 6: return mi.end_data;
		default: return mi.highest_vm_end + (k >> 3) * ps;
		}
	case 9:		/* low addresses, around mmap_min_addr */
		return k * ps / 4;
	case 10:
		return next_u64(f);
	case 11:
		return f->last_addr + (k & 1 ? (k >> 1) * ps : 0);
	case 12:	/* huge-page aligned near a VMA */
		return ((start + f->pmd_size - 1) & ~(f->pmd_size - 1)) + (k & 3) * f->pmd_size;
	case 13:	/* the 47-bit window's edge, and beyond (LA57) */
		return (1ull << 47) - 4096 - (k & 0x7f) * ps + (k & 0x80 ? 2 * (1ull << 47) : 0);
	case 14:
		return (uint64_t)-4096 - k;
	default:
		return (k + 1) * (1ull << 30);
	}
}

/* A length, for ranges at addr. */
static uint64_t pick_len(struct fuzz *f, memlab_task *t, uint64_t addr)
{
	uint64_t ps = f->info.page_size, start, end, k;
	unsigned kind = next_byte(f) & 15;

	k = next_byte(f);
	switch (kind) {
	case 0:
	case 3:
	case 4:
		return (k % 64 + 1) * ps;
	case 1:
		return 1 + k;
	case 2:
		return ps;
	case 5:
		return (k % 16 + 1) * ps + k;
	case 6:
		return f->pmd_size * (k % 3 + 1);
	case 7:
		return f->pmd_size + ps;
	case 8:
		if (t && pick_vma(f, t, &start, &end))
			return end - start;
		return 2 * ps;
	case 9:		/* to the end of the VMA holding addr (or the next one) */
		if (t && get_vmas(f, t)) {
			size_t n = get_vmas(f, t);

			for (size_t i = 0; i < n; i++)
				if (f->vmas[i].end > addr)
					return f->vmas[i].end - addr + (k & 1) * ps;
		}
		return ps;
	case 10:
		return k & 1 ? UINT64_MAX - (k >> 1) : (uint64_t)0 - ps;
	case 11:
		return 1ull << (30 + k % 18);	/* 1 GiB .. 128 TiB */
	case 12:
		return (uint64_t)next_u32(f);
	case 13:
		return 64 << 10;
	case 14:
		return (k % 8 + 2) * ps - 1;
	default:
		return k & 1 ? 0 : 2 * ps;
	}
}

static int pick_prot(struct fuzz *f)
{
	uint8_t b = next_byte(f);
	int prot = (b & 7) ^ (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE);	/* 0: rw- */

	if (b & 0x08)
		prot |= 0x8;			/* PROT_SEM */
	if ((b & 0x30) == 0x10)
		prot |= MEMLAB_PROT_GROWSDOWN;
	if ((b & 0x30) == 0x20)
		prot |= MEMLAB_PROT_GROWSUP;
	if ((b & 0xc0) == 0xc0)
		prot |= 0x10 << (b & 7);	/* an unknown bit */
	return prot;
}

/* A file offset: 0, pages, unaligned, huge-page aligned, past the end, huge. */
static uint64_t pick_off(struct fuzz *f)
{
	uint64_t ps = f->info.page_size;
	uint8_t b = next_byte(f), k = next_byte(f);

	switch (b & 7) {
	case 0:
	case 1:
		return 0;
	case 2:
		return (k % 16) * ps;
	case 3:
		return k + 1;
	case 4:
		return (k % 4) * f->pmd_size;
	case 5:
		return (uint64_t)k << 40;
	case 6:
		return UINT64_MAX - ps * (k % 4);
	default:
		return (k % 128) * ps;
	}
}

static const int huge_logs[] = { 0, 21, 30, 16, 25, 29, 34, 14, 12, 63 };

static int pick_map_flags(struct fuzz *f, int *anon)
{
	static const int types[] = {
		MEMLAB_MAP_PRIVATE, MEMLAB_MAP_PRIVATE, MEMLAB_MAP_PRIVATE, MEMLAB_MAP_SHARED,
		MEMLAB_MAP_SHARED, MEMLAB_MAP_SHARED_VALIDATE, MEMLAB_MAP_DROPPABLE, 0, 0x4, 0xf,
	};
	static const int bits[] = {
		MEMLAB_MAP_FIXED, MEMLAB_MAP_FIXED_NOREPLACE, MEMLAB_MAP_POPULATE,
		MEMLAB_MAP_LOCKED, MEMLAB_MAP_GROWSDOWN, MEMLAB_MAP_NORESERVE,
		MEMLAB_MAP_HUGETLB, MEMLAB_MAP_STACK, MEMLAB_MAP_NONBLOCK, MEMLAB_MAP_SYNC,
		MEMLAB_MAP_DENYWRITE | MEMLAB_MAP_EXECUTABLE, 0x40 /* MAP_32BIT */,
		MEMLAB_MAP_FIXED, MEMLAB_MAP_POPULATE, 0x200000 /* MAP_UNINITIALIZED... */,
		MEMLAB_MAP_NORESERVE,
	};
	uint8_t tb = next_byte(f);
	unsigned sel = next_u16(f), gate = next_byte(f);
	int flags = types[(tb & 0x7f) % (sizeof(types) / sizeof(types[0]))];

	*anon = !(tb & 0x80);
	if (*anon)
		flags |= MEMLAB_MAP_ANONYMOUS;
	/* the rarer bits only when the gate byte agrees, so plain maps stay common */
	for (unsigned i = 0; i < 16; i++)
		if ((sel >> i & 1) && (i < 4 || (gate >> (i & 7) & 1)))
			flags |= bits[i];
	if (flags & MEMLAB_MAP_HUGETLB) {
		unsigned log = (unsigned)huge_logs[gate % (sizeof(huge_logs) / sizeof(huge_logs[0]))];

		flags |= (int)((log & MEMLAB_MAP_HUGE_MASK) << MEMLAB_MAP_HUGE_SHIFT);
	}
	return flags;
}

/* ===================== invariants ===================== */

static int nr_live_tasks(struct fuzz *f)
{
	return (int)memlab_tasks(f->m, NULL, 0);
}

/*
** The PGDs of the live tasks' mms that are no page table: a PGD is one
** when its index bits are a whole level's (x86-64 always; arm64 16K/48
** and 64K/48 have partial ones, 2 and 64 entries), and then
** nr_page_table_pages has it already.
*/
static int nr_partial_pgds(const struct fuzz *f)
{
	unsigned shift = f->info.page_shift;
	int n = 0;

	if ((f->info.va_bits - shift) % (shift - 3) == 0)
		return 0;

	for (int i = 0; i < f->ntasks; i++) {
		int j = 0;

		while (j < i && f->mm_id[j] != f->mm_id[i])
			j++;
		n += j == i;
	}
	return n;
}

/* The rmap names one task per mm, its owner: pid's entry stands for t's when it owns t's mm. */
static int same_mm(struct fuzz *f, int pid, memlab_task *t)
{
	struct memlab_mm_info mi;

	(void)f;
	return memlab_mm_info(t, &mi) == 0 && mi.owner_pid == pid;
}

/*
** What the counters miss in the page books: the pages of the swap cache
** a process maps, which nr_file_pages and nr_anon_pages both count
** (negative), and the pages of huge pages nothing maps, which a
** partially mapped folio holds until the deferred split frees them and
** no counter counts.
*/
/* Whether a large folio of any size was ever left partially mapped (split_deferred). */
static int any_split_deferred(struct fuzz *f)
{
	struct memlab_thp_size sz[16];
	size_t n = memlab_thp_sizes(f->m, sz, 16);

	for (size_t i = 0; i < n && i < 16; i++)
		for (int s = 0; s < MEMLAB_NR_MTHP_STATS; s++)
			if (!strcmp(sz[i].stats[s].name, "split_deferred") && sz[i].stats[s].value)
				return 1;
	return 0;
}

static int64_t books_correction(struct fuzz *f)
{
	int swapcache = vmstat(f, "nr_swapcached") > 0, thp = any_split_deferred(f);
	struct memlab_page_info pi;
	int64_t n = 0;

	for (uint64_t pfn = 0; (swapcache || thp) && pfn < f->info.nr_frames; pfn++) {
		if (memlab_page_info(f->m, pfn, &pi) != 0 || !pi.anon)
			continue;
		if (pi.swapcache && pi.mapcount)
			n--;
		else if (pi.order > 0 && !pi.mapcount && pi.refcount)
			n++;
	}
	return n;
}

/* VmallocUsed and the kernel's PGD (swapper_pg_dir), in pages. */
static uint64_t vmalloc_pages(struct fuzz *f)
{
	struct memlab_vmalloc_info vi;

	if (memlab_vmalloc_info(f->m, &vi) != 0)
		die(f, "memlab_vmalloc_info failed");
	return vi.nr_vmalloc_pages + (vi.kernel_pgd != UINT64_MAX);
}

/*
** The page books -- every frame the buddy allocator gave out is on a pcp
** list, a block of this target's, in the page cache, an anonymous page
** (mapped, or of a partially mapped huge page), a page table or a task's
** PGD -- as a sum to compare with boot free.
*/
static uint64_t page_books(struct fuzz *f, uint64_t *pcp_out)
{
	struct memlab_zone_info zi;
	uint64_t pcp = 0, sum;
	int z, nz = memlab_nr_zones(f->m);

	for (z = 0; z < nz; z++) {
		if (memlab_zone_info(f->m, z, &zi) != 0)
			die(f, "memlab_zone_info(%d) failed", z);
		for (int cpu = 0; cpu < zi.nr_cpus; cpu++)	/* every CPU's lists */
			if (zi.pagesets[cpu].count < 0)
				die(f, "zone %s: cpu %d pcp count %d", zi.name, cpu,
				    zi.pagesets[cpu].count);
		pcp += zi.pcp_total;
	}
	*pcp_out = pcp;
	sum = vmstat(f, "nr_free_pages") + pcp + f->live_pages + vmstat(f, "nr_file_pages") +
	      vmstat(f, "nr_anon_pages") + vmstat(f, "nr_page_table_pages") + (uint64_t)nr_partial_pgds(f) +
	      vmstat(f, "nr_slab_reclaimable") + vmstat(f, "nr_slab_unreclaimable") + vmalloc_pages(f);
	sum += (uint64_t)books_correction(f);
	/* the huge zero page, while a PMD maps it (no counter says so) */
	if (sum + (1ull << (f->info.page_shift - 3)) == f->boot_free &&
	    vmstat(f, "thp_zero_page_alloc") > 0)
		sum += 1ull << (f->info.page_shift - 3);
	return sum;
}

/*
** After every operation: the core's checker, the task list, and the page
** books.  A page unmapped while it waits in a CPU's folio batch is in
** none of them until the batch drains (as in Linux, whose counters do
** not see it either): when the books do not balance, every batch
** drains and they must balance then.
*/
static void check_machine(struct fuzz *f)
{
	uint64_t pcp, sum;
	int n;

	n = memlab_check(f->m, on_violation, NULL);
	if (n != 0)
		die(f, "memlab_check found %d violation(s)", n);
	reap_killed(f, NULL, 0);
	if (nr_live_tasks(f) != f->ntasks)
		die(f, "memlab_tasks says %d tasks, the target has %d", nr_live_tasks(f),
		    f->ntasks);
	sum = page_books(f, &pcp);
	if (sum != f->boot_free) {
		if (memlab_lru_add_drain_all(f->m) != 0)
			die(f, "memlab_lru_add_drain_all failed");
		sum = page_books(f, &pcp);
	}
	if (sum != f->boot_free)
		die(f, "page books: free %" PRIu64 " + pcp %" PRIu64 " + blocks %" PRIu64
		    " + file %" PRIu64 " + anon %" PRIu64 " + page tables %" PRIu64
		    " + partial PGDs %d + vmalloc %" PRIu64 " (+ slab) = %" PRIu64 ", boot free %" PRIu64
		    " (%+" PRId64 ")",
		    vmstat(f, "nr_free_pages"), pcp, f->live_pages, vmstat(f, "nr_file_pages"),
		    vmstat(f, "nr_anon_pages"), vmstat(f, "nr_page_table_pages"), nr_partial_pgds(f),
		    vmalloc_pages(f), sum, f->boot_free, (int64_t)(sum - f->boot_free));
}

/* [start, end) is covered by t's VMAs without a hole. */
static int covered(struct fuzz *f, memlab_task *t, uint64_t start, uint64_t end)
{
	size_t n = get_vmas(f, t);
	uint64_t at = start;

	for (size_t i = 0; i < n && at < end; i++) {
		if (f->vmas[i].end <= at)
			continue;
		if (f->vmas[i].start > at)
			return 0;
		at = f->vmas[i].end;
	}
	return at >= end;
}

/* No VMA of t meets [start, end). */
static int unmapped(struct fuzz *f, memlab_task *t, uint64_t start, uint64_t end)
{
	size_t n = get_vmas(f, t);

	for (size_t i = 0; i < n; i++)
		if (f->vmas[i].start < end && f->vmas[i].end > start)
			return 0;
	return 1;
}

/* ===================== tasks ===================== */

/* A new task; mm_id is the id of the task whose mm it shares, or -1 for its own. */
static void add_task(struct fuzz *f, memlab_task *t, int mm_id)
{
	if (f->ntasks < f->max_tasks) {
		f->mm_id[f->ntasks] = mm_id >= 0 ? mm_id : f->next_mm_id++;
		f->pids[f->ntasks] = memlab_task_pid(t);
		f->tasks[f->ntasks++] = t;
		return;
	}
	memlab_task_exit(t);	/* no room: it exits at once */
}

static void do_spawn(struct fuzz *f, uint8_t a, uint8_t b, uint8_t c, const char *cgroup)
{
	static const uint64_t stack_lim[] = { 0, 0, 64 << 10, 136 << 10, 1 << 20, UINT64_MAX,
					      4096, 256ull << 20 };
	static const uint64_t data_lim[] = { 0, 1 << 20, 64 << 10, 4096 };
	static const uint64_t as_lim[] = { 0, 0, 64ull << 20, 1ull << 30, 16ull << 20,
					   1ull << 40 };
	static const uint64_t lock_lim[] = { 0, 0, 4096, 1 << 20, UINT64_MAX };
	struct memlab_spawn_args sa;
	uint64_t ps = f->info.page_size;
	memlab_task *t;
	int rc;

	if (f->ntasks >= f->max_tasks)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.name = a & 0x80 ? "fuzz" : NULL;
	sa.path = a & 0x40 ? "/usr/bin/fuzzee" : NULL;
	sa.aslr = a & 3;		/* 3 is EINVAL */
	sa.root = (a >> 2) & 1;
	sa.no_interp = (a >> 3) & 1;
	if (a & 0x30) {
		sa.exe.text = (uint64_t)(b & 7) * ps + (b & 8 ? 100 : 0);
		sa.exe.rodata = (uint64_t)(b >> 4 & 3) * ps;
		sa.exe.data = (uint64_t)(b >> 6) * ps + (a & 0x10 ? 7 : 0);
		sa.exe.bss = (uint64_t)(c & 7) * ps + (a & 0x20 ? 5 : 0);
	}
	sa.stack_rlimit = stack_lim[c >> 3 & 7];
	sa.data_rlimit = data_lim[c >> 6];
	sa.as_rlimit = as_lim[(b ^ c) % 6];
	sa.memlock_rlimit = lock_lim[(a ^ b) % 5];
	sa.cgroup = cgroup;
	rc = memlab_spawn(f->m, &sa, &t);
	check_rc(f, rc, "memlab_spawn");
	note(f, "cgroup %s aslr %d root %d static %d exe %#" PRIx64 "/%#" PRIx64 "/%#" PRIx64 "/%#" PRIx64
	     " rlim %#" PRIx64 "/%#" PRIx64 "/%#" PRIx64 "/%#" PRIx64 " -> %d pid %d",
	     cgroup ? cgroup : "-", sa.aslr, sa.root, sa.no_interp, sa.exe.text, sa.exe.rodata, sa.exe.data,
	     sa.exe.bss, sa.stack_rlimit, sa.data_rlimit, sa.as_rlimit, sa.memlock_rlimit,
	     rc, rc ? 0 : memlab_task_pid(t));
	if (rc == 0)
		add_task(f, t, -1);
	else if (sa.aslr == 3 && rc != -MEMLAB_EINVAL)
		die(f, "spawn with aslr 3: %d, want EINVAL", rc);
}

static void op_spawn(struct fuzz *f)
{
	uint8_t a = next_byte(f), b = next_byte(f), c = next_byte(f);

	do_spawn(f, a, b, c, NULL);
}

static int oom_killed(struct fuzz *f, memlab_task *t);

static void op_fork(struct fuzz *f)
{
	memlab_task *t = pick_task(f), *child = NULL;
	int rc;

	if (!t || f->ntasks >= f->max_tasks)
		return;
	rc = memlab_fork(t, &child);
	if (oom_killed(f, t))	/* a cgroup's OOM killer chose the parent: no child */
		return;
	check_rc(f, rc, "memlab_fork");
	note(f, "pid %d -> %d child %d", memlab_task_pid(t), rc, rc ? 0 : memlab_task_pid(child));
	if (rc == 0)
		add_task(f, child, -1);
}

/*
** clone with a flag set the argument byte picks: pthread's, CLONE_VM
** alone or with SIGHAND (a process sharing the mm), and combinations
** copy_process refuses (THREAD without SIGHAND, SIGHAND without VM, a
** flag memlab does not know), which must be EINVAL and change nothing.
*/
static void op_clone(struct fuzz *f)
{
	static const uint64_t choice[] = {
		MEMLAB_CLONE_PTHREAD, MEMLAB_CLONE_PTHREAD, MEMLAB_CLONE_VM,
		MEMLAB_CLONE_VM | MEMLAB_CLONE_SIGHAND, 0,
		MEMLAB_CLONE_VM | MEMLAB_CLONE_THREAD, MEMLAB_CLONE_SIGHAND,
		MEMLAB_CLONE_PTHREAD | 0x00100000u /* CLONE_SETTLS */,
	};
	uint8_t b = next_byte(f);
	uint64_t flags = choice[b % 8];
	int bad = (b % 8) >= 5, i = b / 8 % (f->ntasks ? f->ntasks : 1);
	memlab_task *t = f->ntasks ? f->tasks[i] : NULL, *child = NULL;
	int rc;

	if (!t || f->ntasks >= f->max_tasks)
		return;
	rc = memlab_clone(t, flags, &child);
	if (oom_killed(f, t))
		return;
	check_rc(f, rc, "memlab_clone");
	note(f, "pid %d flags %#" PRIx64 " -> %d child %d", memlab_task_pid(t), flags, rc,
	     rc ? 0 : memlab_task_pid(child));
	if (bad != (rc == -MEMLAB_EINVAL))
		die(f, "memlab_clone(%#" PRIx64 ") returned %d", flags, rc);
	if (rc)
		return;
	if (memlab_task_tgid(child) != ((flags & MEMLAB_CLONE_THREAD) ? memlab_task_tgid(t)
									: memlab_task_pid(child)))
		die(f, "clone(%#" PRIx64 "): child %d has tgid %d", flags, memlab_task_pid(child),
		    memlab_task_tgid(child));
	add_task(f, child, (flags & MEMLAB_CLONE_VM) ? f->mm_id[i] : -1);
}

static void forget_task(struct fuzz *f, int i)
{
	f->tasks[i] = f->tasks[--f->ntasks];
	f->pids[i] = f->pids[f->ntasks];
	f->mm_id[i] = f->mm_id[f->ntasks];
}

/*
** After any access the OOM killer may have killed tasks (the accessing
** one too): forget those memlab no longer lists.  Returns whether the
** task pid is still alive as t.
*/
static int reap_killed(struct fuzz *f, memlab_task *t, int pid)
{
	for (int i = f->ntasks - 1; i >= 0; i--)
		if (memlab_find_task(f->m, f->pids[i]) != f->tasks[i])
			forget_task(f, i);
	return memlab_find_task(f->m, pid) == t;
}

/* GUP's faults (populate, mlock) may OOM-kill during any call: the task too. */
static int oom_killed(struct fuzz *f, memlab_task *t)
{
	int pid = -1;

	for (int i = 0; i < f->ntasks; i++)
		if (f->tasks[i] == t)
			pid = f->pids[i];
	if (reap_killed(f, t, pid))
		return 0;
	note(f, "pid %d: killed by the OOM killer", pid);
	return 1;
}

static void exit_task(struct fuzz *f, int i)
{
	memlab_task *t = f->tasks[i];

	note(f, "pid %d", memlab_task_pid(t));
	forget_task(f, i);
	memlab_task_exit(t);
}

static void op_exit(struct fuzz *f)
{
	uint8_t b = next_byte(f);

	if (f->ntasks)
		exit_task(f, b % f->ntasks);
}

/* ===================== files ===================== */

static void op_file_create(struct fuzz *f)
{
	uint64_t ps = f->info.page_size;
	uint8_t a = next_byte(f), b = next_byte(f);
	char path[64];
	uint64_t size;
	memlab_file *file;
	int rc;

	if (f->nfiles >= MAX_FILES)
		return;
	switch (a & 3) {
	case 0: size = 0; break;
	case 1: size = (uint64_t)(b % 32 + 1) * ps; break;
	case 2: size = (uint64_t)(b % 8) * ps + b + 1; break;
	default: size = f->pmd_size * (b % 2 + 1) + (b & 4 ? 3 : 0); break;
	}
	if ((a >> 2 & 7) == 7)
		snprintf(path, sizeof(path), "relative/f%d", f->nfiles);	/* EINVAL */
	else
		snprintf(path, sizeof(path), "/srv/data/f%d", f->nfiles);
	rc = memlab_file_create(f->m, path, size, (a >> 5) & 1, &file);
	check_rc(f, rc, "memlab_file_create");
	note(f, "%s size %#" PRIx64 " writable %d -> %d", path, size, (a >> 5) & 1, rc);
	if (rc)
		return;
	f->files[f->nfiles++] = file;
	if (a & 0x80)	/* ext4 without data=journal: large folios in its cache */
		check_rc(f, memlab_file_large_folios(file, 1), "memlab_file_large_folios");
	if (a & 0x40) {	/* some contents on its disk before anything is cached */
		uint64_t n = size < MAX_BUF ? size : MAX_BUF;

		for (uint64_t i = 0; i < n; i++)
			buf_in[i] = (uint8_t)(i * 31 + b);
		check_rc(f, memlab_file_load(file, 0, buf_in, n), "memlab_file_load");
	}
}

static void op_file_load(struct fuzz *f)
{
	memlab_file *file = pick_file(f);
	uint64_t off = pick_off(f), n = next_u16(f) % MAX_BUF;
	int rc;

	if (!file)
		return;
	if (off > (1ull << 45))
		off = (1ull << 44) - (off & 0xfff);	/* EFBIG's edge, not a huge disk */
	memset(buf_in, next_byte(f), n);
	rc = memlab_file_load(file, off, buf_in, n);
	check_rc(f, rc, "memlab_file_load");
	note(f, "off %#" PRIx64 " n %#" PRIx64 " -> %d", off, n, rc);
}

/*
** posix_fadvise of the file (advice 6 and 7 refused), or a change of the
** disk's queue (a bad max_sectors_kb refused): the file's readahead state
** must stay one Linux could have.
*/
static void file_fadvise(struct fuzz *f, memlab_file *file, uint8_t kind, uint64_t off)
{
	struct memlab_disk_queue q = { next_byte(f), kind & 8 ? (int64_t)(next_u16(f) % 40000) : -1 };
	int64_t len = (int64_t)next_u64(f) >> (next_byte(f) % 64);
	struct memlab_file_ra ra;
	int rc;

	if ((kind & 0xf0) == 0xe0) {
		rc = memlab_disk_queue(f->m, &q, NULL);
		if (rc != 0 && rc != -MEMLAB_EINVAL)
			die(f, "memlab_disk_queue(%" PRId64 ", %" PRId64 ") -> %d", q.read_ahead_kb,
			    q.max_sectors_kb, rc);
		note(f, "disk read_ahead_kb %" PRId64 " max_sectors_kb %" PRId64 " -> %d",
		     q.read_ahead_kb, q.max_sectors_kb, rc);
		return;
	}
	rc = memlab_fadvise(file, (int64_t)off, len, kind & 7);
	check_rc(f, rc, "memlab_fadvise");
	if (rc != -MEMLAB_EIO && rc != ((kind & 7) <= 5 && len >= 0 ? 0 : -MEMLAB_EINVAL))
		die(f, "memlab_fadvise(%d, len %" PRId64 ") -> %d", kind & 7, len, rc);
	memlab_file_ra(file, &ra);
	if (ra.async_size > ra.size || ra.prev_pos < -1)
		die(f, "readahead state %" PRIu64 "+%" PRIu64 " async %" PRIu64, ra.start, ra.size,
		    ra.async_size);
	note(f, "fadvise off %#" PRIx64 " len %#" PRIx64 " advice %d -> %d", off, (uint64_t)len,
	     kind & 7, rc);
}

/*
** ftruncate of the file to off (or, kind & 8, inside the page before
** off; kind & 12, ext4's largest file, a byte past it, or a negative
** length): its size must be the length after success, unchanged after
** EINVAL (a read-only file too) and EFBIG; m:check() sees to the rest.
*/
static void file_truncate(struct fuzz *f, memlab_file *file, uint8_t kind, uint64_t off)
{
	static const int64_t edges[] = { 0xffffffffll << 12, (0xffffffffll << 12) + 1, -1 };
	uint64_t before = memlab_file_size(file);
	int64_t len = kind & 8 ? (kind & 4 ? edges[kind % 3] : (int64_t)(off ? off - 4096 + 1 : 0))
		: (int64_t)off;
	int rc = memlab_file_truncate(file, len);

	check_rc(f, rc, "memlab_file_truncate");
	note(f, "truncate %" PRId64 " (size %#" PRIx64 ") -> %d", len, before, rc);
	if (rc == 0 && memlab_file_size(file) != (uint64_t)len)
		die(f, "truncate to %" PRId64 " left the size %#" PRIx64, len,
		    memlab_file_size(file));
	if ((rc == -MEMLAB_EINVAL || rc == -MEMLAB_EFBIG) && memlab_file_size(file) != before)
		die(f, "a refused truncate to %" PRId64 " changed the size", len);
}

static void op_file_rw(struct fuzz *f)
{
	memlab_file *file = pick_file(f);
	uint8_t kind = next_byte(f);
	uint64_t off = pick_off(f), n = next_u16(f) % MAX_BUF, done = 0;
	int rc;

	if (!file)
		return;
	if (kind >= 0xe0) {
		file_fadvise(f, file, kind, off);
		return;
	}
	if (kind >= 0xd0) {	/* 0xd0..0xdf: one in 16 */
		file_truncate(f, file, kind, off);
		return;
	}
	if (kind & 1) {
		memset(buf_in, kind, n);
		rc = memlab_file_pwrite(file, off, buf_in, n, &done);
		check_rc(f, rc, "memlab_file_pwrite");
	} else {
		rc = memlab_file_pread(file, off, buf_out, n, &done);
		check_rc(f, rc, "memlab_file_pread");
	}
	note(f, "%s off %#" PRIx64 " n %#" PRIx64 " -> %d done %#" PRIx64,
	     kind & 1 ? "write" : "read", off, n, rc, done);
	if (rc == 0 && done > n)
		die(f, "file %s of %#" PRIx64 " bytes did %#" PRIx64, kind & 1 ? "write" : "read",
		    n, done);
	if (rc == 0 && (kind & 1) && done == n && n && (kind & 2)) {
		uint64_t again = 0;

		rc = memlab_file_pread(file, off, buf_out, n, &again);
		check_rc(f, rc, "memlab_file_pread");
		if (rc == 0 && again == n && memcmp(buf_in, buf_out, n) != 0)
			die(f, "file read at %#" PRIx64 " differs from what was written", off);
	}
}

static void op_sync(struct fuzz *f)
{
	int rc = memlab_sync(f->m);

	check_rc(f, rc, "memlab_sync");
	note(f, "-> %d", rc);
}

/*
** reclaim: drop_caches in every mode (bad ones too), or a look at an LRU
** list (a bad name too): every page on it must say it is on that list.
*/
static void op_reclaim(struct fuzz *f)
{
	static const char *const lists[] = { "inactive_anon", "active_anon", "inactive_file",
					     "active_file", "unevictable", "active" };
	uint8_t a = next_byte(f);
	const char *name = lists[(a >> 1) % 6];
	uint64_t pfns[64];
	int64_t n;

	if (a & 1) {
		int mode = (a >> 1) % 5;

		n = memlab_drop_caches(f->m, mode);
		note(f, "drop_caches %d -> %" PRId64, mode, n);
		if ((mode >= 1 && mode <= 3) ? n < 0 : n != -MEMLAB_EINVAL)
			die(f, "drop_caches %d: %" PRId64, mode, n);
		return;
	}
	n = memlab_lru(f->m, name, pfns, 64);
	note(f, "lru %s -> %" PRId64, name, n);
	if ((strcmp(name, "active") == 0) != (n == -MEMLAB_EINVAL))
		die(f, "lru %s: %" PRId64, name, n);
	for (int64_t i = 0; i < n && i < 64; i++) {
		struct memlab_page_info pi;

		if (memlab_page_info(f->m, pfns[i], &pi) || !pi.lru || !pi.lru_list ||
		    strcmp(pi.lru_list, name))
			die(f, "lru %s: pfn %#" PRIx64 " is not on it", name, pfns[i]);
	}
}

/* ===================== address-space calls ===================== */

static void op_mmap(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint64_t addr, len, off, out = 0, mapped;
	memlab_file *file;
	int prot, flags, anon, rc;

	if (!t)
		return;
	addr = pick_addr(f, t);
	len = pick_len(f, t, addr);
	prot = pick_prot(f);
	flags = pick_map_flags(f, &anon);
	file = anon ? NULL : pick_file(f);
	off = anon ? (next_byte(f) & 1 ? pick_off(f) : 0) : pick_off(f);
	if ((flags & (MEMLAB_MAP_POPULATE | MEMLAB_MAP_LOCKED)) && len > BIG_LEN)
		len = BIG_LEN;	/* populating terabytes is no test, only slow */
	rc = memlab_mmap(t, addr, len, prot, flags, file, off, &out);
	if (oom_killed(f, t))
		return;
	/*
	 * MAP_FIXED at an address in [-4095, -1] comes back as that "error"
	 * (__get_unmapped_area's IS_ERR_VALUE): Linux's mmap returns it too,
	 * so any value of that range is a valid result.
	 */
	if (!((flags & MEMLAB_MAP_FIXED_NOREPLACE) || (flags & MEMLAB_MAP_FIXED)) ||
	    rc != (int)(int64_t)addr)
		check_rc(f, rc, "memlab_mmap");
	note(f, "pid %d addr %#" PRIx64 " len %#" PRIx64 " prot %#x flags %#x file %p off %#"
	     PRIx64 " -> %d %#" PRIx64, memlab_task_pid(t), addr, len, prot, flags,
	     (void *)file, off, rc, out);
	if (rc)
		return;
	mapped = page_align(f, len);
	if (out & (f->info.page_size - 1))
		die(f, "mmap returned %#" PRIx64 ", not page-aligned", out);
	if ((flags & (MEMLAB_MAP_FIXED | MEMLAB_MAP_FIXED_NOREPLACE)) && out != addr)
		die(f, "MAP_FIXED at %#" PRIx64 " returned %#" PRIx64, addr, out);
	if (!covered(f, t, out, out + mapped))
		die(f, "mmap returned [%#" PRIx64 ", %#" PRIx64 ") but VMAs do not cover it",
		    out, out + mapped);
	f->last_addr = out;
}

static void op_munmap(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint64_t addr, len;
	int rc;

	if (!t)
		return;
	addr = pick_addr(f, t);
	len = pick_len(f, t, addr);
	rc = memlab_munmap(t, addr, len);
	check_rc(f, rc, "memlab_munmap");
	note(f, "pid %d addr %#" PRIx64 " len %#" PRIx64 " -> %d", memlab_task_pid(t), addr,
	     len, rc);
	if (rc == 0 && addr + page_align(f, len) > addr &&
	    !unmapped(f, t, addr, addr + page_align(f, len)))
		die(f, "munmap [%#" PRIx64 ", +%#" PRIx64 ") succeeded, a VMA is still there",
		    addr, len);
}

static void op_mprotect(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint64_t addr, len, end;
	int prot, rc;

	if (!t)
		return;
	addr = pick_addr(f, t);
	len = pick_len(f, t, addr);
	prot = pick_prot(f);
	rc = memlab_mprotect(t, addr, len, prot);
	if (oom_killed(f, t))
		return;
	check_rc(f, rc, "memlab_mprotect");
	note(f, "pid %d addr %#" PRIx64 " len %#" PRIx64 " prot %#x -> %d", memlab_task_pid(t),
	     addr, len, prot, rc);
	end = addr + page_align(f, len);
	if (rc == 0 && len && !(prot & (MEMLAB_PROT_GROWSDOWN | MEMLAB_PROT_GROWSUP))) {
		size_t n = get_vmas(f, t);

		if (!covered(f, t, addr, end))
			die(f, "mprotect [%#" PRIx64 ", %#" PRIx64 ") succeeded over a hole",
			    addr, end);
		for (size_t i = 0; i < n; i++) {
			const struct memlab_vma_info *v = &f->vmas[i];

			if (v->start >= end || v->end <= addr)
				continue;
			if ((v->perms[0] == 'r') != !!(prot & MEMLAB_PROT_READ) ||
			    (v->perms[1] == 'w') != !!(prot & MEMLAB_PROT_WRITE) ||
			    (v->perms[2] == 'x') != !!(prot & MEMLAB_PROT_EXEC))
				die(f, "mprotect(%#x) succeeded, VMA %#" PRIx64 " is %s", prot,
				    v->start, v->perms);
		}
	}
}

static int memcg_limited_read(struct fuzz *f, memlab_task *t)
{
	char path[4096 + 32], *text = NULL, *slash;
	size_t len;
	int limited = 0;

	snprintf(path, sizeof(path), "%d/cgroup", memlab_task_pid(t));
	if (memlab_proc(f->m, path, &text, &len) != 0)
		return 1;
	if (strncmp(text, "0::/", 4) != 0 || len < 5 || text[len - 1] != '\n' ||
	    len - 4 > sizeof(path) - 16)
		die(f, "/proc/%d/cgroup reads \"%s\"", memlab_task_pid(t), text);
	memcpy(path, text + 3, len - 4);	/* "/a/b" */
	path[len - 4] = 0;
	memlab_free_text(f->m, text);
	while ((slash = strrchr(path, '/')) && slash[1]) {	/* up to the root, which has no limit */
		char file[4096 + 48];

		snprintf(file, sizeof(file), "%s/memory.max", path);
		text = NULL;
		if (memlab_cgroup_read(f->m, file, &text, &len) != 0 || strcmp(text, "max\n") != 0)
			limited = 1;
		memlab_free_text(f->m, text);
		*slash = 0;
	}
	return limited;
}

/*
** t's memory cgroup or one above it has a memory.max: its charges may
** fail (and its faults OOM-kill in it) with memory to spare.  Also true
** when the files cannot be read (no host memory).  Its reads are the
** target's, not the operation's: they leave the host allocator's count
** (op_hostfail) alone, so that a saved input fails where it did.
*/
static int memcg_limited(struct fuzz *f, memlab_task *t)
{
	int armed = f->host_armed, limited;

	f->host_armed = 0;
	limited = memcg_limited_read(f, t);
	f->host_armed = armed;
	return limited;
}

/*
** No failure on purpose: fail_page_alloc and failslab off, no fail-nth counting,
** no host allocation failed in this operation or is due to.
*/
static int injection_off(struct fuzz *f)
{
	struct memlab_fault_stats st;

	if (f->host_fail_nth || f->host_fail_every || f->host_fails != f->host_fails0)
		return 0;

	if (memlab_injected(f->m, "fail_page_alloc", &st) != 0 || st.attr.probability ||
	    memlab_injected(f->m, "failslab", &st) != 0 || st.attr.probability)
		return 0;
	for (int i = 0; i < f->ntasks; i++)
		if (memlab_task_get_fail_nth(f->tasks[i]))
			return 0;
	return 1;
}

/*
** mremap grew a VM_LOCKED mapping by [start, end): Linux populates the
** growth (do_mremap: mm_populate(new_addr + old_len, delta) when
** vrm_stat_account() saw VM_LOCKED).  For private writable anonymous
** memory, with no fault injection and memory to spare, every page of it
** must be present afterwards.
*/
static void check_locked_growth(struct fuzz *f, memlab_task *t, uint64_t start, uint64_t end)
{
	size_t n = get_vmas(f, t);
	struct memlab_walk w;

	if (vmstat(f, "nr_free_pages") < 1024 || !injection_off(f) || memcg_limited(f, t))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct memlab_vma_info *v = &f->vmas[i];

		if (v->start > start || v->end < end)
			continue;
		if (!(v->vm_flags & 0x2000 /* VM_LOCKED */) || strcmp(v->perms, "rw-p") || v->name[0])
			return;
		if (v->vm_flags & 0x80000 /* VM_LOCKONFAULT */)
			return;		/* populate_vma_page_range() leaves it to faults */
		for (uint64_t a = start; a < end; a += f->info.page_size)
			if (memlab_translate(t, a, &w) != 0 || !w.present)
				die(f, "mremap grew locked %#" PRIx64 "-%#" PRIx64 " by [%#" PRIx64
				    ", %#" PRIx64 "): %#" PRIx64 " is not populated", v->start, v->end,
				    start, end, a);
		return;
	}
}

static void op_mremap(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint64_t old_addr, old_len, new_len, new_addr, out = 0;
	uint8_t fl;
	int flags, rc, move_only;

	if (!t)
		return;
	old_addr = pick_addr(f, t);
	old_len = pick_len(f, t, old_addr);
	new_len = pick_len(f, t, old_addr);
	fl = next_byte(f);
	flags = fl & 7;
	if ((fl & 0x38) == 0x38)
		flags |= 8 << (fl >> 6);	/* an unknown flag */
	new_addr = flags & (MEMLAB_MREMAP_FIXED | MEMLAB_MREMAP_DONTUNMAP) ? pick_addr(f, t)
									      : next_u64(f);
	rc = memlab_mremap(t, old_addr, old_len, new_len, flags, new_addr, &out);
	if (oom_killed(f, t))
		return;
	check_rc(f, rc, "memlab_mremap");
	note(f, "pid %d old %#" PRIx64 " +%#" PRIx64 " new_len %#" PRIx64 " flags %#x new %#"
	     PRIx64 " -> %d %#" PRIx64, memlab_task_pid(t), old_addr, old_len, new_len, flags,
	     new_addr, rc, out);
	if (rc)
		return;
	if (out & (f->info.page_size - 1))
		die(f, "mremap returned %#" PRIx64 ", not page-aligned", out);
	if ((flags & MEMLAB_MREMAP_FIXED) && out != new_addr)
		die(f, "MREMAP_FIXED to %#" PRIx64 " returned %#" PRIx64, new_addr, out);
	/*
	 * A grown or moved mapping covers new_len; a shrink in place only
	 * unmaps the tail, whatever was mapped below it (Linux checks nothing
	 * there), and a move-only MREMAP_FIXED keeps the source's holes.
	 */
	move_only = (flags & MEMLAB_MREMAP_FIXED) && page_align(f, old_len) == page_align(f, new_len);
	if ((page_align(f, new_len) > page_align(f, old_len) ||
	     ((flags & (MEMLAB_MREMAP_FIXED | MEMLAB_MREMAP_DONTUNMAP)) && !move_only)) &&
	    !covered(f, t, out, out + page_align(f, new_len)))
		die(f, "mremap returned [%#" PRIx64 ", +%#" PRIx64 ") but VMAs do not cover it",
		    out, new_len);
	f->last_addr = out;
	if (page_align(f, new_len) > page_align(f, old_len))
		check_locked_growth(f, t, out + page_align(f, old_len), out + page_align(f, new_len));
}

/*
** mincore of at most MAX_BUF pages: every byte 0 or 1, and 1 for a page
** pagemap shows present.
*/
static void task_mincore(struct fuzz *f, memlab_task *t, uint64_t addr, uint64_t len)
{
	uint64_t ps = f->info.page_size, pages, e;
	int rc;

	if (len > (uint64_t)MAX_BUF * ps)
		len = (uint64_t)MAX_BUF * ps;
	pages = len / ps + (len % ps != 0);
	memset(buf_out, 0xa5, pages);
	rc = memlab_mincore(t, addr, len, buf_out);
	if (rc != 0 && rc != -MEMLAB_EINVAL && rc != -MEMLAB_ENOMEM && rc != -MEMLAB_EIO)
		die(f, "memlab_mincore(%#" PRIx64 ", %#" PRIx64 ") -> %d", addr, len, rc);
	for (uint64_t i = 0; rc == 0 && i < pages; i++) {
		if (buf_out[i] > 1)
			die(f, "mincore byte %" PRIu64 " is %u", i, buf_out[i]);
		if (!buf_out[i] && memlab_pagemap(t, addr + i * ps, &e, 1) == 1 &&
		    (e & MEMLAB_PM_PRESENT))
			die(f, "mincore says %#" PRIx64 " is not resident; pagemap maps it",
			    addr + i * ps);
	}
	note(f, "pid %d mincore %#" PRIx64 " len %#" PRIx64 " -> %d", memlab_task_pid(t), addr,
	     len, rc);
}

static void op_madvise(struct fuzz *f)
{
	static const int odd[] = { -1, 5, 6, 7, 9, 25, 26, 100, 25, 25, 103, 0x7fffffff };
	memlab_task *t = pick_task(f);
	uint64_t addr, len;
	uint8_t b;
	int advice, rc;

	if (!t)
		return;
	addr = pick_addr(f, t);
	len = pick_len(f, t, addr);
	b = next_byte(f);
	if (b >= 0xe0 && b < 0xe8) {	/* mincore instead */
		task_mincore(f, t, addr, len);
		return;
	}
	if (b >= 0xe8 && b < 0xf0) {	/* /proc/PID/clear_refs instead: 0..7, 0, 6 and 7 refused */
		rc = memlab_clear_refs(t, b & 7);
		check_rc(f, rc, "memlab_clear_refs");
		if (rc != -MEMLAB_EIO && rc != ((b & 7) >= 1 && (b & 7) <= 5 ? 0 : -MEMLAB_EINVAL))
			die(f, "memlab_clear_refs(%d) -> %d", b & 7, rc);
		note(f, "pid %d clear_refs %d -> %d", memlab_task_pid(t), b & 7, rc);
		return;
	}
	advice = b < 0xf0 ? b % 25 : odd[b % (sizeof(odd) / sizeof(odd[0]))];
	if ((advice == 22 || advice == 23) && len > BIG_LEN)	/* MADV_POPULATE_* */
		len = BIG_LEN;
	rc = memlab_madvise(t, addr, len, advice);
	if (oom_killed(f, t))
		return;
	check_rc(f, rc, "memlab_madvise");
	note(f, "pid %d addr %#" PRIx64 " len %#" PRIx64 " advice %d -> %d", memlab_task_pid(t),
	     addr, len, advice, rc);
}

/*
** mlock, mlock2 (ONFAULT, junk flags), munlock, mlockall (every flag set,
** invalid ones too; MCL_FUTURE only with MCL_ONFAULT, so that later huge
** mappings are not populated) and munlockall.  A successful mlock or
** munlock leaves every VMA of the range locked or unlocked but those
** mlock_fixup() passes by (VM_SPECIAL, hugetlb, droppable).
*/
static void op_mlock(struct fuzz *f)
{
	static const int mcl[] = { 0, 1, 4, 5, 6, 7, 8, 0x7fffffff };
	memlab_task *t = pick_task(f);
	/* what mlock_fixup() passes by: VM_SPECIAL, VM_HUGETLB, VM_DROPPABLE */
	const uint64_t pass = 0x10044400ull | 0x400000ull | (1ull << 40);
	uint64_t addr, len, start, end;
	uint8_t b;
	int rc, flags = 0, kind;

	if (!t)
		return;
	addr = pick_addr(f, t);
	len = pick_len(f, t, addr);
	b = next_byte(f);
	kind = b % 8;
	if (kind <= 2) {		/* mlock, mlock2 */
		flags = b & 0x10 ? MEMLAB_MLOCK_ONFAULT : b & 0x20 ? 0x2 + (b >> 6) : 0;
		if (!(flags & MEMLAB_MLOCK_ONFAULT) && len > BIG_LEN)
			len = BIG_LEN;	/* populating terabytes is no test, only slow */
		rc = memlab_mlock(t, addr, len, flags);
	} else if (kind <= 4) {
		rc = memlab_munlock(t, addr, len);
	} else if (kind <= 6) {
		flags = mcl[(b >> 3) % (sizeof(mcl) / sizeof(mcl[0]))];
		rc = memlab_mlockall(t, flags);
	} else {
		rc = memlab_munlockall(t);
	}
	if (oom_killed(f, t))
		return;
	check_rc(f, rc, "memlab_mlock");
	note(f, "pid %d kind %d addr %#" PRIx64 " len %#" PRIx64 " flags %#x -> %d",
	     memlab_task_pid(t), kind, addr, len, flags, rc);
	start = addr & ~(uint64_t)(f->info.page_size - 1);
	end = start + page_align(f, len + (addr & (f->info.page_size - 1)));
	if (rc == 0 && kind <= 4 && end > start) {
		size_t n = get_vmas(f, t);

		for (size_t i = 0; i < n; i++) {
			const struct memlab_vma_info *v = &f->vmas[i];

			if (v->start >= end || v->end <= start || (v->vm_flags & pass))
				continue;
			if (!(v->vm_flags & 0x2000 /* VM_LOCKED */) != (kind > 2))
				die(f, "%s [%#" PRIx64 ", %#" PRIx64 ") succeeded, VMA %#" PRIx64
				    " has vm_flags %#" PRIx64, kind > 2 ? "munlock" : "mlock", start,
				    end, v->start, v->vm_flags);
		}
	}
}

static void op_msync(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint64_t addr, len;
	int flags, rc;

	if (!t)
		return;
	addr = pick_addr(f, t);
	len = pick_len(f, t, addr);
	flags = next_byte(f) % 10;
	rc = memlab_msync(t, addr, len, flags);
	check_rc(f, rc, "memlab_msync");
	note(f, "pid %d addr %#" PRIx64 " len %#" PRIx64 " flags %#x -> %d", memlab_task_pid(t),
	     addr, len, flags, rc);
}

static void op_brk(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	struct memlab_mm_info mi;
	uint64_t ps, want, got, old;
	uint8_t a, b;
	int rc;

	if (!t)
		return;
	ps = f->info.page_size;
	a = next_byte(f);
	b = next_byte(f);
	memlab_mm_info(t, &mi);
	if (a & 0x80) {		/* glibc's sbrk */
		int64_t inc = (a & 0x40 ? -1 : 1) * (int64_t)((a & 0x3f) * (b & 1 ? ps : 1)) *
			      (b & 2 ? 1 : (b >> 2) + 1);

		if ((b & 0xf0) == 0xf0)
			inc = b & 8 ? INT64_MIN : INT64_MAX;
		old = 0;
		rc = memlab_sbrk(t, inc, &old);
		if (oom_killed(f, t))
			return;
		check_rc(f, rc, "memlab_sbrk");
		note(f, "pid %d inc %" PRId64 " -> %d old %#" PRIx64, memlab_task_pid(t), inc, rc,
		     old);
		return;
	}
	switch (a & 7) {
	case 0: want = 0; break;
	case 1: want = mi.start_brk - 1; break;
	case 2: want = mi.brk + (uint64_t)b * ps; break;
	case 3: want = mi.brk - (uint64_t)b * 16; break;
	case 4: want = mi.start_brk + (uint64_t)b * ps + (a >> 3); break;
	case 5: want = mi.brk + ((uint64_t)b << 24); break;
	case 6: want = next_u64(f); break;
	default: want = mi.brk + b; break;
	}
	got = memlab_brk(t, want);
	if (oom_killed(f, t))
		return;
	memlab_mm_info(t, &mi);
	note(f, "pid %d want %#" PRIx64 " -> %#" PRIx64, memlab_task_pid(t), want, got);
	if (got != mi.brk)
		die(f, "brk returned %#" PRIx64 ", mm->brk is %#" PRIx64, got, mi.brk);
}

/* ===================== accesses ===================== */

#define VM_SHARED_FLAG		0x00000008ull	/* include/linux/mm.h VM_SHARED */
#define VM_WIPEONFORK_FLAG	0x02000000ull
#define VM_DONTCOPY_FLAG	0x00020000ull
#define VM_DROPPABLE_FLAG	(1ull << 40)	/* reclaim may drop its pages: they read 0 */

/*
** What a read gives back after a write of the same bytes: the bytes, but
** a MAP_DROPPABLE page reclaim dropped meanwhile (the read's own faults
** may reclaim) reads 0.  0 or the first offset that differs otherwise.
*/
static uint64_t readback_differs(struct fuzz *f, memlab_task *t, uint64_t addr, uint64_t len)
{
	size_t n = get_vmas(f, t), v = 0;

	for (uint64_t i = 0; i < len; i++) {
		if (buf_in[i] == buf_out[i])
			continue;
		while (v < n && f->vmas[v].end <= addr + i)
			v++;
		if (buf_out[i] || v == n || f->vmas[v].start > addr + i ||
		    !(f->vmas[v].vm_flags & VM_DROPPABLE_FLAG))
			return i + 1;
	}
	return 0;
}

static void op_access(struct fuzz *f)
{
	static const int letters[] = { 'r', 'w', 'x', 'w', 'r', 'q' };
	memlab_task *t = pick_task(f);
	uint64_t ps = f->info.page_size, addr, len;
	uint8_t a, b;
	int access, si = -1, rc, with_data, pid;

	if (!t)
		return;
	addr = pick_addr(f, t);
	a = next_byte(f);
	b = next_byte(f);
	access = letters[a % 6];
	with_data = !(a & 0x80);
	switch (a >> 3 & 7) {
	case 0: len = 1; break;
	case 1: len = 8; break;
	case 2: len = ps; break;
	case 3: len = ps + 1 + b; break;
	case 4: len = 2 * ps + b; break;
	case 5: len = b + 1; break;
	case 6: len = 0; break;
	default: len = (uint64_t)b * 64 + 1; break;
	}
	if (len > MAX_BUF)
		len = MAX_BUF;
	for (uint64_t i = 0; i < len; i++)
		buf_in[i] = (uint8_t)(b + i * 13);
	pid = memlab_task_pid(t);
	rc = memlab_access(t, addr, len, access, with_data ? buf_in : NULL, &si);
	check_rc(f, rc, "memlab_access");
	note(f, "pid %d %c addr %#" PRIx64 " len %#" PRIx64 " data %d -> %d si_code %#x",
	     pid, access, addr, len, with_data, rc, si);
	if (!reap_killed(f, t, pid)) {
		if (rc != -MEMLAB_EFAULT || si != MEMLAB_SIGKILL)
			die(f, "pid %d is gone after an access that returned %d si_code %#x", pid,
			    rc, si);
		return;
	}
	if (access == 'q' && rc != -MEMLAB_EINVAL)
		die(f, "access '%c': %d, want EINVAL", access, rc);
	if (rc == -MEMLAB_EFAULT && si != MEMLAB_SEGV_MAPERR && si != MEMLAB_SEGV_ACCERR &&
	    si != MEMLAB_SEGV_KERNEL &&
	    si != MEMLAB_BUS_ADRERR && si != MEMLAB_SIGKILL)
		die(f, "EFAULT with si_code %#x", si);
	if (rc == 0 && access == 'w' && with_data && len) {
		uint64_t at;
		int si2 = 0;

		memset(buf_out, 0xa5, len);
		rc = memlab_access(t, addr, len, 'r', buf_out, &si2);
		check_rc(f, rc, "memlab_access");
		if (!reap_killed(f, t, pid))
			return;
		if (rc == 0 && memcmp(buf_in, buf_out, len) != 0 &&
		    (at = readback_differs(f, t, addr, len)) != 0)
			die(f, "reading back %#" PRIx64 " bytes at %#" PRIx64 " differs from what "
			    "was written at %#" PRIx64, len, addr, addr + at - 1);
	}
}

static void op_pattern(struct fuzz *f)
{
	static const unsigned sizes[] = { 1, 8, 64, 4096, 3, 0, 16384, 65536 };
	memlab_task *t = pick_task(f);
	struct memlab_pattern pat;
	struct memlab_pattern_result res;
	uint8_t a, b, c;
	int rc, pid;

	if (!t)
		return;
	memset(&pat, 0, sizeof(pat));
	pat.base = pick_addr(f, t);
	a = next_byte(f);
	b = next_byte(f);
	c = next_byte(f);
	pat.kind = a % 5;	/* 4 is EINVAL */
	pat.size = sizes[a >> 3 & 7];
	pat.len = (a & 0x80) ? (uint64_t)b * 8 : (uint64_t)(b % 64 + 1) * f->info.page_size;
	if ((c & 0xe0) == 0xe0)
		pat.len = (1ull << 24) * f->info.page_size + f->info.page_size;	/* zipf: too big */
	pat.stride = (uint64_t)(c & 0x1f) * 24;
	pat.count = (uint64_t)(c % 16 + 1) * 16 + (b & 3) * 8;
	pat.seed = a ^ (unsigned)b << 8;
	pat.write_ratio = (b >> 6) == 3 ? 1.5 : (b >> 6) / 2.0;
	pat.zipf_s = (c >> 5) == 6 ? 0 : 0.5 + (c >> 5) * 0.25;
	pid = memlab_task_pid(t);
	rc = memlab_access_pattern(t, &pat, &res);
	check_rc(f, rc, "memlab_access_pattern");
	reap_killed(f, t, pid);
	note(f, "pid %d kind %d base %#" PRIx64 " len %#" PRIx64 " size %u count %" PRIu64
	     " -> %d accesses %" PRIu64, pid, pat.kind, pat.base, pat.len,
	     pat.size, pat.count, rc, res.accesses);
	if (res.accesses > pat.count || res.reads + res.writes != res.accesses)
		die(f, "pattern result: %" PRIu64 " accesses (%" PRIu64 " reads, %" PRIu64
		    " writes) of %" PRIu64, res.accesses, res.reads, res.writes, pat.count);
}

static void op_user_rw(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	memlab_file *file = pick_file(f);
	uint64_t addr, count, off, done = 0;
	uint8_t a;
	int rc, pid;

	if (!t || !file)
		return;
	addr = pick_addr(f, t);
	a = next_byte(f);
	count = a & 0x80 ? (uint64_t)(a & 0x7f) * 97 : (uint64_t)(a & 0x3f) * f->info.page_size / 8;
	if ((a & 0xc0) == 0xc0)
		count = UINT64_MAX - a;
	off = pick_off(f);
	pid = memlab_task_pid(t);
	if (a & 1) {
		rc = memlab_pwrite(t, file, addr, count, off, &done);
		check_rc(f, rc, "memlab_pwrite");
	} else {
		rc = memlab_pread(t, file, addr, count, off, &done);
		check_rc(f, rc, "memlab_pread");
	}
	reap_killed(f, t, pid);
	note(f, "pid %d %s addr %#" PRIx64 " count %#" PRIx64 " off %#" PRIx64 " -> %d done %#"
	     PRIx64, pid, a & 1 ? "pwrite" : "pread", addr, count, off, rc, done);
	if (rc == 0 && done > count)
		die(f, "%s of %#" PRIx64 " bytes did %#" PRIx64, a & 1 ? "pwrite" : "pread", count,
		    done);
}

/* ===================== memory contents ===================== */


/* A page-aligned place in one of t's VMAs (8 bytes at an 8-aligned offset). */
static const struct memlab_vma_info *pick_place(struct fuzz *f, memlab_task *t, uint64_t *addr)
{
	uint8_t a = next_byte(f), b = next_byte(f);
	size_t n = get_vmas(f, t);
	const struct memlab_vma_info *v;

	if (!n)
		return NULL;
	v = &f->vmas[a % n];
	*addr = v->start + ((uint64_t)b * 8 * 61) % (v->end - v->start);
	return v;
}

/*
** fork's copy on write, end to end: the parent writes X, forks, the child
** reads X (nothing for VM_WIPEONFORK), writes Y; the parent must read X
** back from a private mapping, Y from a shared one.  A MAP_DROPPABLE page
** may also read 0: reclaim, in the fork's or the write's allocations, may
** have dropped it.
*/
static void op_cow(struct fuzz *f)
{
	memlab_task *t = pick_task(f), *child = NULL;
	const struct memlab_vma_info *v;
	uint64_t addr = 0, x, y, got, flags;
	int rc, si, shared, pid, cpid;

	if (!t || f->ntasks >= f->max_tasks || !(v = pick_place(f, t, &addr)))
		return;
	flags = v->vm_flags;
	shared = v->perms[3] == 's';
	x = 0x1111111111111111ull * (next_byte(f) | 1);
	y = ~x;
	pid = memlab_task_pid(t);
	rc = memlab_access(t, addr, 8, 'w', &x, &si);
	note(f, "pid %d addr %#" PRIx64 " (%s %s) write -> %d", pid, addr, v->perms,
	     v->name, rc);
	if (!reap_killed(f, t, pid) || rc)
		return;
	rc = memlab_fork(t, &child);
	if (oom_killed(f, t))
		return;
	check_rc(f, rc, "memlab_fork");
	if (rc)
		return;
	add_task(f, child, -1);
	if (flags & VM_DONTCOPY_FLAG)
		return;
	got = 0;
	cpid = memlab_task_pid(child);
	rc = memlab_access(child, addr, 8, 'r', &got, &si);
	note(f, "child %d reads -> %d %#" PRIx64, cpid, rc, got);
	if (!reap_killed(f, child, cpid) || !reap_killed(f, t, pid))
		return;
	if (rc == 0 && got != ((flags & VM_WIPEONFORK_FLAG) && !shared ? 0 : x) &&
	    !(got == 0 && (flags & VM_DROPPABLE_FLAG)))
		die(f, "child %d reads %#" PRIx64 " at %#" PRIx64 " (%s %s), the parent wrote %#"
		    PRIx64, cpid, got, addr, v->perms, v->name, x);
	rc = memlab_access(child, addr, 8, 'w', &y, &si);
	if (!reap_killed(f, child, cpid) || !reap_killed(f, t, pid) || rc != 0)
		return;
	got = 0;
	rc = memlab_access(t, addr, 8, 'r', &got, &si);
	note(f, "child wrote, parent reads -> %d %#" PRIx64, rc, got);
	if (!reap_killed(f, t, pid))
		return;
	if (rc == 0 && got != (shared ? y : x) && !(got == 0 && (flags & VM_DROPPABLE_FLAG)))
		die(f, "parent %d reads %#" PRIx64 " at %#" PRIx64 " (%s %s) after the child wrote %#"
		    PRIx64 " over its %#" PRIx64, pid, got, addr, v->perms, v->name,
		    y, x);
}

/* The target's file a VMA maps ("/srv/data/fN"), or NULL. */
static memlab_file *vma_file(struct fuzz *f, const struct memlab_vma_info *v)
{
	int i;
	char tail;

	if (sscanf(v->name, "/srv/data/f%d%c", &i, &tail) != 1 || i < 0 || i >= f->nfiles)
		return NULL;
	return f->files[i];
}

/*
** A file mapping and the page cache agree: a store through a shared
** mapping is what read(2) returns (and, after msync(MS_SYNC), what the
** disk holds); a store through a private one leaves the file alone; a
** write(2) shows through a shared mapping.
*/
static void op_coherent(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	const struct memlab_vma_info *v;
	memlab_file *file;
	uint64_t addr = 0, off, x, y, got, before = 0, done = 0, ps = f->info.page_size;
	uint8_t a;
	int rc, si, shared, pid;

	if (!t || !(v = pick_place(f, t, &addr)) || !(file = vma_file(f, v)))
		return;
	a = next_byte(f);
	off = v->offset + (addr - v->start);
	if (off + 8 > memlab_file_size(file))
		return;
	shared = v->perms[3] == 's';
	x = 0x0101010101010101ull * (a | 1);
	y = ~x;
	if (memlab_file_pread(file, off, &before, 8, &done) != 0 || done != 8)
		return;
	pid = memlab_task_pid(t);
	rc = memlab_access(t, addr, 8, 'w', &x, &si);
	note(f, "pid %d addr %#" PRIx64 " file %s off %#" PRIx64 " (%s) store -> %d",
	     pid, addr, v->name, off, v->perms, rc);
	if (!reap_killed(f, t, pid))
		return;
	if (rc == 0) {
		got = 0;
		rc = memlab_file_pread(file, off, &got, 8, &done);
		check_rc(f, rc, "memlab_file_pread");
		if (rc == 0 && done == 8 && got != (shared ? x : before))
			die(f, "read(2) of %s at %#" PRIx64 " gives %#" PRIx64 " after a store of %#"
			    PRIx64 " through a %s mapping (it held %#" PRIx64 ")", v->name, off, got,
			    x, v->perms, before);
		if (shared && (a & 2) &&
		    memlab_msync(t, addr & ~(ps - 1), ps, MEMLAB_MS_SYNC) == 0 &&
		    memlab_file_ondisk(file, off, &got, 8) == 0 && got != x)
			die(f, "msync(MS_SYNC) of %s at %#" PRIx64 ": the disk holds %#" PRIx64
			    ", the store was %#" PRIx64, v->name, off, got, x);
	}
	if (!(a & 4) || memlab_file_pwrite(file, off, &y, 8, &done) != 0 || done != 8)
		return;
	got = 0;
	rc = memlab_access(t, addr, 8, 'r', &got, &si);
	note(f, "write(2) %#" PRIx64 ", load -> %d %#" PRIx64, y, rc, got);
	if (!reap_killed(f, t, pid))
		return;
	if (rc == 0 && shared && got != y)
		die(f, "a load through a shared mapping of %s at %#" PRIx64 " gives %#" PRIx64
		    " after write(2) of %#" PRIx64, v->name, off, got, y);
}

/* ===================== the page allocator ===================== */

static const uint32_t gfp_table[] = {
	MEMLAB_GFP_KERNEL, MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO, MEMLAB_GFP_HIGHUSER_MOVABLE,
	MEMLAB_GFP_ATOMIC, MEMLAB_GFP_NOWAIT, MEMLAB_GFP_KERNEL | MEMLAB___GFP_DMA32,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_DMA, MEMLAB_GFP_TRANSHUGE_LIGHT,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_NOFAIL, MEMLAB_GFP_KERNEL | MEMLAB___GFP_RECLAIMABLE,
};

static void op_alloc(struct fuzz *f)
{
	uint8_t a = next_byte(f), b = next_byte(f);
	unsigned order = a % (f->info.max_order + 2), count = b >> 4, i;
	uint32_t gfp = gfp_table[b % (sizeof(gfp_table) / sizeof(gfp_table[0]))];

	if (order > 3 && count > 1)
		count = 1;
	for (i = 0; i <= count && f->nlive < MAX_LIVE; i++) {
		uint64_t pfn = UINT64_MAX;
		int rc = memlab_alloc_pages(f->m, order, gfp, &pfn);

		check_rc(f, rc, "memlab_alloc_pages");
		note(f, "order %u gfp %#x -> %d pfn %#" PRIx64, order, gfp, rc, pfn);
		if (order > f->info.max_order && rc != -MEMLAB_EINVAL)
			die(f, "order %u > max_order: %d", order, rc);
		if (rc)
			return;
		if (pfn & ((1ull << order) - 1) || pfn + (1ull << order) > f->info.nr_frames)
			die(f, "order %u block at pfn %#" PRIx64, order, pfn);
		f->live[f->nlive].pfn = pfn;
		f->live[f->nlive++].order = order;
		f->live_pages += 1ull << order;
	}
}

static void free_live(struct fuzz *f, int i)
{
	struct block b = f->live[i];
	int rc = memlab_free_pages(f->m, b.pfn, b.order);

	note(f, "pfn %#" PRIx64 " order %u -> %d", b.pfn, b.order, rc);
	if (rc != 0)
		die(f, "free pfn %#" PRIx64 " order %u: %d", b.pfn, b.order, rc);
	f->live[i] = f->live[--f->nlive];
	f->live_pages -= 1ull << b.order;
}

static void op_free(struct fuzz *f)
{
	uint8_t a = next_byte(f);

	if (f->nlive)
		free_live(f, a % f->nlive);
}

/* Give back held kernel mapping i: vfree (of any of its pages), vunmap or vm_unmap_ram. */
static void vm_release(struct fuzz *f, int i, uint8_t page)
{
	struct vm_held v = f->vm[i];
	int rc;

	if (v.kind == 0)
		rc = memlab_vfree(f->m, v.addr + (page % v.count) * f->info.page_size);
	else if (v.kind == 1)
		rc = memlab_vunmap(f->m, v.addr);
	else
		rc = memlab_vm_unmap_ram(f->m, v.addr, v.count);
	note(f, "release %d of %#" PRIx64 " (%" PRIu64 " pages) -> %d", v.kind, v.addr, v.count, rc);
	if (rc)
		die(f, "freeing kernel mapping %#" PRIx64 ": %d", v.addr, rc);
	f->vm[i] = f->vm[--f->nvm];
}

/* vmap (kind 1) or vm_map_ram (2) of count frames of the target's blocks. */
static int vm_map_blocks(struct fuzz *f, int kind, uint64_t count, uint8_t first, uint64_t *addr)
{
	uint64_t pfns[80];

	for (uint64_t i = 0; i < count; i++)
		pfns[i] = f->live[(first + i) % (uint64_t)f->nlive].pfn;
	if (kind == 1)
		return memlab_vmap(f->m, pfns, count, NULL, addr);
	return memlab_vm_map_ram(f->m, pfns, count, addr);
}

/* A vmalloc of pages pages (less one byte for odd a), its flags from a. */
static int vm_alloc(struct fuzz *f, uint8_t a, uint64_t pages, uint64_t *addr)
{
	struct memlab_vmalloc_opts o = { 0 };
	uint64_t size = pages * f->info.page_size - (a & 1);
	char w[8] = "vmalloc", r[8];
	int rc;

	o.vm_flags = (a & 0x10 ? MEMLAB_VM_NO_GUARD : 0) | (a & 0x20 ? MEMLAB_VM_ALLOW_HUGE_VMAP : 0);
	o.align = a & 0x40 ? 16 * f->info.page_size : 0;
	if (a & 0x80) {
		o.gfp = MEMLAB_GFP_KERNEL_ACCOUNT;
		o.task = pick_task(f);
	}
	rc = memlab_vmalloc(f->m, size, &o, addr);
	reap_killed(f, NULL, 0);
	if (rc)
		return rc;
	if (memlab_kwrite(f->m, *addr + size - 1, w, 1) || memlab_kread(f->m, *addr + size - 1, r, 1) ||
	    r[0] != w[0])
		die(f, "vmalloc area %#" PRIx64 ": its last byte does not read back", *addr);
	return 0;
}

static void op_vmalloc(struct fuzz *f)
{
	static const uint64_t pages[] = { 1, 2, 3, 16, 64, 255, 512, 600 };
	uint8_t a = next_byte(f), b = next_byte(f);
	int kind = (a >> 2 & 3) == 3 && f->nlive ? 1 + (b & 1) : 0, rc;
	uint64_t count = kind ? 1 + (uint64_t)(b >> 1) % (kind == 1 ? 8 : 72) : pages[b & 7];
	uint64_t addr = 0;

	if (f->nvm && ((a & 3) == 0 || f->nvm == MAX_VM)) {
		vm_release(f, b % f->nvm, next_byte(f));
		return;
	}
	rc = kind ? vm_map_blocks(f, kind, count, a, &addr) : vm_alloc(f, a, count, &addr);
	check_rc(f, rc, "vmalloc");
	note(f, "kind %d, %" PRIu64 " pages, a %#x -> %d %#" PRIx64, kind, count, a, rc, addr);
	if (rc && rc != -MEMLAB_ENOMEM && rc != -MEMLAB_EOPNOTSUPP)
		die(f, "kernel mapping of %" PRIu64 " pages: %d", count, rc);
	if (rc)
		return;
	f->vm[f->nvm].addr = addr;
	f->vm[f->nvm].count = count;
	f->vm[f->nvm++].kind = kind;
}

/* A free Linux calls a bad page: reported, -EINVAL, nothing changed. */
static void bad_free(struct fuzz *f, uint64_t pfn, unsigned order)
{
	unsigned reports = f->reports;
	uint64_t free0 = vmstat(f, "nr_free_pages");
	int rc;

	f->expect_bad_page = 1;
	rc = memlab_free_pages(f->m, pfn, order);
	f->expect_bad_page = 0;
	note(f, "pfn %#" PRIx64 " order %u -> %d", pfn, order, rc);
	if (rc != -MEMLAB_EINVAL)
		die(f, "bad free of pfn %#" PRIx64 " order %u: %d, want EINVAL", pfn, order, rc);
	if (f->reports == reports)
		die(f, "bad free of pfn %#" PRIx64 " order %u was not reported", pfn, order);
	if (vmstat(f, "nr_free_pages") != free0)
		die(f, "bad free of pfn %#" PRIx64 " changed nr_free_pages", pfn);
}

static void op_bad_free(struct fuzz *f)
{
	uint8_t a = next_byte(f), b = next_byte(f);
	struct memlab_page_info pi;
	const struct block *blk = f->nlive ? &f->live[b % f->nlive] : NULL;
	uint64_t pfn;

	switch (a % 5) {
	case 0:		/* beyond RAM */
		bad_free(f, f->info.nr_frames + b, 0);
		break;
	case 1:		/* a live block with another order */
		if (blk)
			bad_free(f, blk->pfn, (blk->order + 1 + b % 3) % (f->info.max_order + 2));
		break;
	case 2:		/* a tail frame of a live block */
		if (blk && blk->order)
			bad_free(f, blk->pfn + 1, 0);
		break;
	case 3:		/* a reserved frame (the memmap at the top of RAM) */
		bad_free(f, f->info.nr_frames - 1, 0);
		break;
	default:	/* a frame that is free right now */
		pfn = ((uint64_t)b << 8 | a) % f->info.nr_frames;
		if (memlab_page_info(f->m, pfn, &pi) == 0 && (pi.free || pi.pcp))
			bad_free(f, pfn, 0);
		break;
	}
}

/* ===================== the slab allocator ===================== */

static const uint32_t slab_flag_table[] = {
	0, MEMLAB_SLAB_HWCACHE_ALIGN, MEMLAB_SLAB_RECLAIM_ACCOUNT, MEMLAB_SLAB_ACCOUNT,
	MEMLAB_SLAB_TYPESAFE_BY_RCU, MEMLAB_SLAB_NO_MERGE, MEMLAB_SLAB_CACHE_DMA,
	MEMLAB_SLAB_CACHE_DMA32, MEMLAB_SLAB_POISON,
};

static void slab_obj_add(struct fuzz *f, uint64_t addr, memlab_kmem_cache *s)
{
	f->objs[f->nobjs].addr = addr;
	f->objs[f->nobjs++].s = s;
}

static void slab_obj_free(struct fuzz *f, int i, int via_cache)
{
	memlab_kmem_cache *s = f->objs[i].s;
	uint64_t addr = f->objs[i].addr;
	int rc = via_cache && s ? memlab_kmem_cache_free(f->m, s, addr, NULL) :
		 memlab_kfree(f->m, addr, NULL);

	note(f, "free %#" PRIx64 " -> %d", addr, rc);
	if (rc)
		die(f, "free of live object %#" PRIx64 ": %d", addr, rc);
	f->objs[i] = f->objs[--f->nobjs];
}

/* A free that is no object's: -EINVAL and the slab counters unchanged. */
static void slab_bad_free(struct fuzz *f, uint64_t addr)
{
	uint64_t before = vmstat(f, "nr_slab_unreclaimable") + vmstat(f, "nr_slab_reclaimable");
	int rc = memlab_kfree(f->m, addr, NULL);

	note(f, "bad kfree %#" PRIx64 " -> %d", addr, rc);
	if (rc != -MEMLAB_EINVAL)
		die(f, "kfree of %#" PRIx64 ", no object: %d, want EINVAL", addr, rc);
	if (vmstat(f, "nr_slab_unreclaimable") + vmstat(f, "nr_slab_reclaimable") != before)
		die(f, "a bad kfree changed the slab counters");
}

static int slab_cache_of(struct fuzz *f, uint8_t b)
{
	for (int k = 0; k < MAX_CACHES; k++) {
		int i = (b + k) % MAX_CACHES;

		if (i < f->ncaches && f->caches[i])
			return i;
	}
	return -1;
}

static void op_slab(struct fuzz *f)
{
	uint8_t a = next_byte(f), b = next_byte(f), c = next_byte(f);
	uint32_t gfp = gfp_table[c % (sizeof(gfp_table) / sizeof(gfp_table[0]))];
	memlab_task *t = (a & 0x80) ? pick_task(f) : NULL;
	int i = slab_cache_of(f, b), rc;
	uint64_t addr = 0;

	f->in_slab = 1;
	switch (a % 8) {
	case 0:			/* kmem_cache_create */
		if (f->ncaches < MAX_CACHES) {
			struct memlab_kmem_cache_args args = { .ctor = c & 1 };
			uint32_t flags = slab_flag_table[b % 9] | slab_flag_table[c % 9];
			unsigned size = (unsigned)next_u16(f) * (c & 0x40 ? 17 : 1) % 70000;

			if (flags & MEMLAB_SLAB_TYPESAFE_BY_RCU && c & 2) {
				args.use_freeptr_offset = 1;
				args.freeptr_offset = size / 2 & ~7u;
			}
			rc = memlab_kmem_cache_create(f->m, "fuzz", size, &args, flags,
						      &f->caches[f->ncaches]);
			check_rc(f, rc, "memlab_kmem_cache_create");
			note(f, "create size %u flags %#x -> %d", size, flags, rc);
			if ((flags & MEMLAB_SLAB_POISON) && size && rc != -MEMLAB_EOPNOTSUPP)
				die(f, "a slub_debug flag was not refused as not modelled: %d", rc);
			if (!rc)
				f->ncaches++;
		}
		break;
	case 1:			/* kmem_cache_alloc */
	case 2:
		if (i >= 0 && f->nobjs < MAX_OBJS) {
			rc = memlab_kmem_cache_alloc(f->m, f->caches[i], gfp, t, &addr);
			check_rc(f, rc, "memlab_kmem_cache_alloc");
			note(f, "alloc cache %d gfp %#x -> %d %#" PRIx64, i, gfp, rc, addr);
			if (!rc)
				slab_obj_add(f, addr, f->caches[i]);
		}
		break;
	case 3:			/* kmalloc */
		if (f->nobjs < MAX_OBJS) {
			uint64_t size = (uint64_t)next_u16(f) * (b & 1 ? 1 : 3) >> (b & 6);

			rc = memlab_kmalloc(f->m, size, gfp, t, &addr);
			check_rc(f, rc, "memlab_kmalloc");
			note(f, "kmalloc %" PRIu64 " gfp %#x -> %d %#" PRIx64, size, gfp, rc, addr);
			if (!rc && addr > MEMLAB_ZERO_SIZE_PTR)
				slab_obj_add(f, addr, NULL);
		}
		break;
	case 4:			/* free */
		if (f->nobjs)
			slab_obj_free(f, b % f->nobjs, c & 1);
		break;
	case 5:			/* bad frees: inside an object, outside any */
		if (f->nobjs && (c & 1)) {
			uint64_t size = 0;

			addr = f->objs[b % f->nobjs].addr;
			if (memlab_ksize(f->m, addr, &size) == 0 && size > 8 && size < f->info.page_size)
				slab_bad_free(f, addr + 8);
		} else {
			slab_bad_free(f, 0xffff888000000000ull + ((uint64_t)b << 12) + c);
		}
		break;
	case 6:			/* shrink */
		if (i >= 0)
			check_rc(f, memlab_kmem_cache_shrink(f->m, f->caches[i]), "memlab_kmem_cache_shrink");
		break;
	default:		/* destroy: EBUSY while objects remain */
		if (i >= 0) {
			int held = 0, refs = 0;

			for (int k = 0; k < f->nobjs; k++)
				held += f->objs[k].s == f->caches[i];
			for (int k = 0; k < f->ncaches; k++)	/* aliases: other handles of it */
				refs += k != i && f->caches[k] == f->caches[i];
			if (refs)
				held = 0;	/* only a reference goes */
			rc = memlab_kmem_cache_destroy(f->m, f->caches[i]);
			note(f, "destroy cache %d (%d objects, %d aliases) -> %d", i, held, refs, rc);
			if (!rc && held)
				die(f, "kmem_cache_destroy with %d objects left succeeded", held);
			if (rc == -MEMLAB_EBUSY && !held)
				die(f, "kmem_cache_destroy of an empty cache: EBUSY");
			if (rc == -MEMLAB_EBUSY)	/* leaked, as Linux: its objects stay freeable */
				f->leaked[f->nleaked++] = f->caches[i];
			if (!rc || rc == -MEMLAB_EBUSY)
				f->caches[i] = NULL;	/* its reference given back */
			else
				die(f, "kmem_cache_destroy: %d", rc);
		}
		break;
	}
	f->in_slab = 0;
}

static int shrink_one(void *ud, memlab_kmem_cache *s)
{
	struct fuzz *f = ud;

	return memlab_kmem_cache_shrink(f->m, s);
}

/* Teardown: every object freed, every cache emptied -- their pages are free again. */
static void slab_teardown(struct fuzz *f)
{
	f->in_slab = 1;
	while (f->nobjs)
		slab_obj_free(f, f->nobjs - 1, 0);
	if (memlab_kmem_cache_each(f->m, shrink_one, f))
		die(f, "memlab_kmem_cache_shrink failed");
	for (int i = 0; i < f->nleaked; i++)
		if (memlab_kmem_cache_shrink(f->m, f->leaked[i]))
			die(f, "memlab_kmem_cache_shrink of a leaked cache failed");
	f->in_slab = 0;
	if (vmstat(f, "nr_slab_unreclaimable") || vmstat(f, "nr_slab_reclaimable"))
		die(f, "slab pages left after every object was freed and every cache shrunk");
}

/* ===================== fault injection ===================== */

static void op_inject(struct fuzz *f)
{
	struct memlab_fault_attr attr;
	uint8_t a = next_byte(f), b = next_byte(f), c = next_byte(f);
	const char *point;
	memlab_task *t;
	int rc;

	switch (a & 3) {
	case 0:		/* off */
		rc = memlab_inject(f->m, "fail_page_alloc", NULL);
		check_rc(f, rc, "memlab_inject");
		rc = memlab_inject(f->m, "failslab", NULL);
		check_rc(f, rc, "memlab_inject");
		rc = memlab_inject(f->m, "swap_write_error", NULL);
		check_rc(f, rc, "memlab_inject");
		rc = memlab_inject(f->m, "swap_read_error", NULL);
		check_rc(f, rc, "memlab_inject");
		note(f, "off -> %d", rc);
		return;
	case 1:		/* fail-nth */
		if ((t = pick_task(f)) != NULL) {
			memlab_task_fail_nth(t, b % 40);
			note(f, "pid %d fail-nth %u", memlab_task_pid(t), b % 40);
		}
		return;
	case 2:
		if ((t = pick_task(f)) != NULL) {
			memlab_task_make_it_fail(t, b & 1);
			note(f, "pid %d make-it-fail %d", memlab_task_pid(t), b & 1);
		}
		return;
	}
	{
		static const char *const points[] = { "fail_page_alloc", "failslab",
						      "swap_write_error", "swap_read_error" };

		point = points[(b >> 7) | (c & 0x80 ? 2 : 0)];
	}
	memlab_fault_attr_init(&attr, point);
	attr.probability = b % 128 > 100 ? 100 + (b & 1) * 5 : b % 128;	/* 105: EINVAL */
	attr.interval = c & 7;
	attr.times = (int64_t)(c >> 3 & 7) - 1;
	attr.space = a & 0x80 ? (int64_t)(a >> 2 & 0xf) * 4 : 0;
	attr.verbose = a >> 6 & 1 ? 0 : (a >> 2 & 1) + 1;
	attr.task_filter = (a >> 3) & (a >> 4) & 1;
	attr.min_order = 0;
	attr.ignore_gfp_highmem = 0;
	attr.ignore_gfp_reclaim = 0;
	attr.pid = (a & 0x20) && f->ntasks ? memlab_task_pid(f->tasks[c % f->ntasks]) : 0;
	attr.run = (c >> 6) + 1;
	rc = memlab_inject(f->m, point, &attr);
	check_rc(f, rc, "memlab_inject");
	note(f, "%s probability %" PRIu64 " interval %" PRIu64 " times %" PRId64 " space %" PRId64
	     " filter %d pid %d run %" PRIu64 " -> %d", point, attr.probability, attr.interval,
	     attr.times, attr.space, attr.task_filter, attr.pid, attr.run, rc);
	if (attr.probability > 100 && rc != -MEMLAB_EINVAL)
		die(f, "probability %" PRIu64 ": %d, want EINVAL", attr.probability, rc);
}

/* ===================== inspection ===================== */

static void check_text(struct fuzz *f, int rc, char *text, size_t len, const char *what)
{
	check_rc(f, rc, what);
	if (rc == 0 && (!text || strlen(text) != len))
		die(f, "%s: text of %zu bytes, strlen %zu", what, len, text ? strlen(text) : 0);
	if (rc != 0 && text)
		die(f, "%s failed (%d) with text", what, rc);
	memlab_free_text(f->m, text);
}

/* The kB of the line after *pos that starts with label (advancing *pos past it), or -1. */
static int64_t field_kb(const char **pos, const char *label)
{
	size_t n = strlen(label);

	for (const char *p = *pos; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, label, n) == 0) {
			*pos = p + n;
			return strtoll(p + n, NULL, 10);
		}
	}
	return -1;
}

/*
** smaps walks the page tables, status reads the mm's counters: the VMA
** sizes (the gate VMA aside) add up to VmSize, the Rss of the VMAs to
** VmRSS and to smaps_rollup's Rss.
*/
static void check_smaps(struct fuzz *f, memlab_task *t)
{
	struct memlab_mm_info mi;
	char path[32], *smaps = NULL, *rollup = NULL;
	const char *line, *p;
	int64_t size = 0, rss = 0, v, rollup_rss;
	uint64_t kb = f->info.page_size >> 10, rss_pages;
	size_t len;

	snprintf(path, sizeof(path), "%d/smaps", memlab_task_pid(t));
	if (memlab_proc(f->m, path, &smaps, &len) != 0)
		return;		/* no host memory */
	snprintf(path, sizeof(path), "%d/smaps_rollup", memlab_task_pid(t));
	if (memlab_proc(f->m, path, &rollup, &len) != 0) {
		memlab_free_text(f->m, smaps);
		return;
	}
	/* each VMA: its header line ("start-end perms ... name"), then its fields */
	for (line = smaps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *eol = strchr(line, '\n'), *gate = strstr(line, "[vsyscall]");

		if (!strchr("0123456789abcdef", *line))
			continue;
		p = line;
		if ((v = field_kb(&p, "Size:")) >= 0 && !(gate && (!eol || gate < eol)))
			size += v;
		if ((v = field_kb(&p, "Rss:")) >= 0)
			rss += v;
	}
	p = rollup;
	rollup_rss = field_kb(&p, "Rss:");
	memlab_mm_info(t, &mi);
	rss_pages = mi.rss_anon + mi.rss_file + mi.rss_shmem;
	if ((uint64_t)size != mi.total_vm * kb || (uint64_t)rss != rss_pages * kb ||
	    rollup_rss != rss)
		die(f, "pid %d: smaps Size %" PRId64 " kB, Rss %" PRId64 " kB, rollup Rss %" PRId64
		    " kB; the mm has total_vm %" PRIu64 " kB, rss %" PRIu64 " kB",
		    memlab_task_pid(t), size, rss, rollup_rss, mi.total_vm * kb, rss_pages * kb);
	memlab_free_text(f->m, smaps);
	memlab_free_text(f->m, rollup);
}

static void op_proc(struct fuzz *f)
{
	static const char *const files[] = {
		"meminfo", "vmstat", "buddyinfo", "pagetypeinfo", "zoneinfo",
		"extfrag/extfrag_index", "extfrag/unusable_index", "slabinfo", "",
	};
	static const char *const pid_files[] = {
		"maps", "smaps", "smaps_rollup", "status", "statm", "fail-nth", "",
	};
	uint8_t a = next_byte(f), b = next_byte(f);
	char path[64];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (a & 1) {
		snprintf(path, sizeof(path), "%s", files[b % 9]);
	} else {
		int pid = f->ntasks && !(a & 2) ? memlab_task_pid(f->tasks[b % f->ntasks])
						: (a & 4 ? 0 : 9999);

		snprintf(path, sizeof(path), a & 8 ? "%d/%s/" : "%d/%s", pid,
			 pid_files[(a >> 4) % 7]);
	}
	rc = memlab_proc(f->m, path, &text, &len);
	note(f, "%s -> %d, %zu bytes", path, rc, len);
	check_text(f, rc, text, len, "memlab_proc");
	if (!(a & 1) && f->ntasks && (a >> 4) % 7 <= 2)	/* smaps, smaps_rollup, maps */
		check_smaps(f, f->tasks[b % f->ntasks]);
}

/*
** /proc/kpageflags and kpagecount of 8 frames from pfn: only known bits;
** a mapped page is mmap, and a free one neither mapped nor anything else.
*/
static void check_kpageflags(struct fuzz *f, uint64_t pfn)
{
	const uint64_t known = ((1ull << 27) - 1 - (1ull << MEMLAB_KPF_ERROR)) |
			       0x7full << MEMLAB_KPF_RESERVED;
	uint64_t fl[8], cnt[8];
	int64_t n = memlab_kpageflags(f->m, pfn, fl, 8);

	if (n < 0 || n > 8 || memlab_kpagecount(f->m, pfn, cnt, 8) != n)
		die(f, "memlab_kpageflags/kpagecount at pfn %#" PRIx64 ": %" PRId64, pfn, n);
	for (int64_t i = 0; i < n; i++) {
		uint64_t bad = fl[i] & ~known;

		if (bad || (cnt[i] && !(fl[i] & 1ull << MEMLAB_KPF_MMAP)) ||
		    ((fl[i] & 1ull << MEMLAB_KPF_BUDDY) && fl[i] != 1ull << MEMLAB_KPF_BUDDY))
			die(f, "pfn %#" PRIx64 ": kpageflags %#" PRIx64 ", kpagecount %" PRIu64,
			    pfn + (uint64_t)i, fl[i], cnt[i]);
	}
}

static void op_inspect(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint8_t a = next_byte(f);
	struct memlab_rmap_entry rm[16];
	struct memlab_walk w;
	struct memlab_mm_info mi;
	struct memlab_stat st[8];
	uint64_t va, pfn, ps = f->info.page_size;
	char *text = NULL;
	size_t len = 0, n;
	int rc;

	switch (a & 3) {
	case 0:		/* translate, and the reverse map must agree */
		if (!t)
			return;
		va = pick_addr(f, t);
		rc = memlab_translate(t, va, &w);
		check_rc(f, rc, "memlab_translate");
		note(f, "pid %d va %#" PRIx64 " -> %d pfn %#" PRIx64 " %s", memlab_task_pid(t), va,
		     rc, w.pfn, w.flags);
		if (rc != 0)
			return;
		if (w.pfn >= f->info.nr_frames || w.phys >= f->info.ram)
			die(f, "va %#" PRIx64 " translates to pfn %#" PRIx64 ", outside RAM", va,
			    w.pfn);
		if (w.special)
			return;
		n = memlab_rmap(f->m, w.pfn, rm, 16);
		for (size_t i = 0; i < n && i < 16; i++)	/* a huge leaf: its start, its head */
			if (rm[i].addr == (va & ~((w.huge ? w.leaf_size : ps) - 1)) &&
			    same_mm(f, rm[i].pid, t))
				return;
		if (n <= 16)
			die(f, "va %#" PRIx64 " of pid %d maps pfn %#" PRIx64 ", whose rmap (%zu "
			    "entries) does not list it", va, memlab_task_pid(t), w.pfn, n);
		return;
	case 1:
		if (!t)
			return;
		va = pick_addr(f, t);
		rc = memlab_pagetable_dump(t, va, a & 4 ? 0 : va + pick_len(f, t, va), &text,
					   &len);
		note(f, "pid %d from %#" PRIx64 " -> %d, %zu bytes", memlab_task_pid(t), va, rc,
		     len);
		check_text(f, rc, text, len, "memlab_pagetable_dump");
		return;
	case 2:
		pfn = a & 4 && f->nlive ? f->live[next_byte(f) % f->nlive].pfn
					: next_u32(f) % (f->info.nr_frames + 2);
		n = memlab_rmap(f->m, pfn, rm, a & 8 ? 0 : 16);
		note(f, "rmap pfn %#" PRIx64 " -> %zu", pfn, n);
		check_kpageflags(f, pfn);
		return;
	default:
		if (t) {
			memlab_mm_info(t, &mi);
			if (memlab_find_task(f->m, memlab_task_pid(t)) != t)
				die(f, "memlab_find_task(%d) lost the task", memlab_task_pid(t));
		}
		n = memlab_vmstat(f->m, st, 8);
		if (n < 8)
			die(f, "memlab_vmstat: %zu counters", n);
		for (int z = 0; z < memlab_nr_zones(f->m); z++) {
			int fi = memlab_fragmentation_index(f->m, z, a >> 4 & 7);
			int ui = memlab_unusable_index(f->m, z, a >> 4 & 7);

			if (fi < -1000 || fi > 1000 || ui < 0 || ui > 1000)
				die(f, "zone %d: fragmentation index %d, unusable %d", z, fi, ui);
		}
		return;
	}
}

/* memlab_trace_hook: events come in clock order, of known events and fields. */
static void trace_hook(void *ud, const struct memlab_trace_event *ev)
{
	struct fuzz *f = ud;

	if (ev->ts <= f->trace_ts && f->trace_ts)
		die(f, "trace event at %" PRIu64 " after one at %" PRIu64, ev->ts, f->trace_ts);
	f->trace_ts = ev->ts;
	if (!memlab_trace_event_name(ev->event) || !memlab_trace_field_name(ev->event, 0))
		die(f, "trace event %d has no name or no first field", ev->event);
	if (ev->pid < 0)
		die(f, "trace event %s for pid %d", memlab_trace_event_name(ev->event), ev->pid);
}

static void op_trace(struct fuzz *f)
{
	static const char *const formats[] = { "text", "jsonl", "chrome", "perfetto" };
	struct memlab_trace_event ev[32];
	uint8_t a = next_byte(f), b = next_byte(f);
	char *text = NULL;
	size_t len = 0, n;
	uint64_t lost = 0;
	int rc;

	switch (a & 3) {
	case 0:
		rc = memlab_trace_start(f->m, (uint64_t)b | (uint64_t)(a >> 7) << 40,
					(size_t)(a >> 2 & 0x1f) * 8);
		check_rc(f, rc, "memlab_trace_start");
		note(f, "mask %#x size %u -> %d", b, (a >> 2 & 0x1f) * 8, rc);
		return;
	case 1:
		if (a & 4) {	/* the hook, on or off */
			memlab_trace_hook(f->m, a & 8 ? (uint64_t)b << (a >> 5) : 0,
					  a & 8 ? trace_hook : NULL, f);
			note(f, "hook mask %#x", a & 8 ? b << (a >> 5) : 0);
			return;
		}
		memlab_trace_stop(f->m);
		note(f, "stop");
		return;
	case 2:
		rc = memlab_trace_dump(f->m, formats[b & 3], &text, &len);
		note(f, "dump %s -> %d, %zu bytes", formats[b & 3], rc, len);
		check_text(f, rc, text, len, "memlab_trace_dump");
		return;
	default:
		n = memlab_trace_events(f->m, ev, b % 33, &lost);
		note(f, "events -> %zu, %" PRIu64 " lost", n, lost);
		return;
	}
}

static void op_sysctl(struct fuzz *f)
{
	struct memlab_vm_sysctl set = { -1, -1, -1, -1, -1, -1, -1, -1, -1 }, get;
	uint8_t a = next_byte(f), b = next_byte(f);
	int rc;

	switch (a & 3) {
	case 0: set.overcommit_memory = b % 4; break;		/* 3: EINVAL */
	case 1: set.max_map_count = b & 0x80 ? 65530 : b; break;
	case 2: set.overcommit_ratio = b; break;
	default: set.mmap_min_addr = (int64_t)b * 4096 - (a & 4 ? 4096 * 300 : 0); break;
	}
	if (a & 8)
		set.page_cluster = b % 33;	/* 32: EINVAL */
	rc = memlab_vm_sysctl(f->m, &set, &get);
	check_rc(f, rc, "memlab_vm_sysctl");
	note(f, "%d/%d -> %d", a & 3, b, rc);
}

/* ===================== host memory and physical memory ===================== */

static void op_hostfail(struct fuzz *f)
{
	uint8_t a = next_byte(f), b = next_byte(f);

	switch (a % 3) {
	case 0:
		f->host_fail_nth = f->host_fail_every = 0;
		break;
	case 1:
		f->host_fail_nth = b % 64 + 1;
		break;
	default:
		f->host_fail_every = b % 16 + 2;
		break;
	}
	note(f, "fail host allocation nth %u every %u", f->host_fail_nth, f->host_fail_every);
}

/* write_phys then read_phys inside one of the target's blocks; outside RAM: EFAULT. */
static void op_phys(struct fuzz *f)
{
	uint8_t a = next_byte(f), b = next_byte(f);
	uint64_t ram = f->info.nr_frames * f->info.page_size, paddr, bytes;
	size_t len = (size_t)b * 16 + 1;
	const struct block *blk;
	int w, r;

	if (a & 1 || !f->nlive) {	/* around the end of RAM and beyond */
		paddr = a & 2 ? ram - (a >> 2) : UINT64_MAX - (a >> 2);
		w = memlab_write_phys(f->m, paddr, buf_in, 0);
		r = memlab_read_phys(f->m, paddr, buf_out, len);
		note(f, "paddr %#" PRIx64 " len %zu -> %d %d", paddr, len, w, r);
		if ((paddr + len <= ram && paddr + len > paddr) != (r == 0) || w != (paddr <= ram ? 0 : -MEMLAB_EFAULT))
			die(f, "phys access at %#" PRIx64 " len %zu (RAM %#" PRIx64 "): write %d read %d",
			    paddr, len, ram, w, r);
		return;
	}
	blk = &f->live[a % f->nlive];
	bytes = f->info.page_size << blk->order;
	if (len > bytes)
		len = (size_t)bytes;
	paddr = blk->pfn * f->info.page_size + ((uint64_t)a * 97) % (bytes - len + 1);
	for (size_t i = 0; i < len; i++)
		buf_in[i] = (uint8_t)(a + i * 7);
	w = memlab_write_phys(f->m, paddr, buf_in, len);
	r = memlab_read_phys(f->m, paddr, buf_out, len);
	note(f, "block pfn %#" PRIx64 " paddr %#" PRIx64 " len %zu -> %d %d", blk->pfn, paddr, len,
	     w, r);
	if (w || r || memcmp(buf_in, buf_out, len))
		die(f, "phys round trip at %#" PRIx64 " len %zu: write %d read %d", paddr, len, w, r);
}

/*
** Compaction: compact_memory, or a high-order GFP_KERNEL allocation that
** may compact directly (freed again at once).  Pages move; the checks
** after every operation (memlab_check, op_coherent's patterns) must still
** hold, and nothing may stay isolated.
*/
static void op_compact(struct fuzz *f)
{
	uint8_t a = next_byte(f);
	unsigned order = 1 + (a >> 1) % f->info.max_order;
	uint64_t pfn, before = vmstat(f, "compact_stall");
	int rc;

	if (a & 1) {
		rc = memlab_compact_memory(f->m);
		note(f, "compact_memory -> %d", rc);
		if (rc != 0 || vmstat(f, "compact_stall") != before)
			die(f, "compact_memory: %d, compact_stall moved", rc);
	} else {
		rc = memlab_alloc_pages(f->m, order, MEMLAB_GFP_KERNEL | MEMLAB___GFP_NORETRY |
					MEMLAB___GFP_NOWARN, &pfn);
		note(f, "order %u -> %d", order, rc);
		check_rc(f, rc, "memlab_alloc_pages");
		if (rc == 0 && memlab_free_pages(f->m, pfn, order) != 0)
			die(f, "freeing order %u at %#" PRIx64 " failed", order, pfn);
		if (rc && rc != -MEMLAB_ENOMEM)
			die(f, "order %u GFP_KERNEL: %d", order, rc);
	}
	if (vmstat(f, "nr_isolated_anon") || vmstat(f, "nr_isolated_file"))
		die(f, "pages left isolated after compaction");
}

/* ===================== memory cgroups ===================== */

/* A few cgroups, nested and not; the root takes only cgroup.procs (and rmdir: EBUSY). */
static const char *const cg_paths[8] = { "/a", "/a/b", "/c", "/a", "/a/b", "/c", "/", "/d/e" };

static const char *const cg_files[] = {
	"cgroup.procs", "memory.current", "memory.min", "memory.low", "memory.high",
	"memory.max", "memory.peak", "memory.events", "memory.events.local", "memory.stat",
	"memory.oom.group", "memory.reclaim", "memory.swap.max", "memory.swap.high",
	"memory.swap.current", "memory.swap.peak", "memory.swap.events", "memory.numa_stat",
	"memory.none",
};
#define NR_CG_FILES (sizeof(cg_files) / sizeof(cg_files[0]))

static const char *pick_cgroup(struct fuzz *f)
{
	return cg_paths[next_byte(f) & 7];
}

/*
** A size for memory.max and the like into buf: "max" (*pages UINT64_MAX),
** 0, a few pages or 16 KiB .. 16 MiB, as bytes, with a K or M suffix, or
** unaligned (rounded down to pages); *pages the page count it stands for.
*/
static void pick_size(struct fuzz *f, char *buf, size_t n, uint64_t *pages)
{
	static const uint64_t kib[] = { 0, 16, 64, 256, 512, 1024, 2048, 3072, 4096, 8192,
					16384, 128 };
	uint8_t a = next_byte(f), b = next_byte(f);
	uint64_t bytes;
	unsigned k = a & 15;

	if (k < 2) {
		snprintf(buf, n, "%s", a & 0x10 ? "max\n" : "max");
		*pages = UINT64_MAX;
		return;
	}
	bytes = k < 4 ? (uint64_t)(b % 64 + 1) * f->info.page_size : kib[k - 4] << 10;
	switch (a >> 4 & 3) {
	case 0:
		snprintf(buf, n, "%" PRIu64, bytes);
		break;
	case 1:
		snprintf(buf, n, bytes % 1024 ? "%" PRIu64 : "%" PRIu64 "K",
			 bytes % 1024 ? bytes : bytes >> 10);
		break;
	case 2:
		snprintf(buf, n, bytes % (1 << 20) ? "%" PRIu64 "k" : "%" PRIu64 "M",
			 bytes % (1 << 20) ? bytes >> 10 : bytes >> 20);
		if (bytes % 1024)
			snprintf(buf, n, "%" PRIu64, bytes);
		break;
	default:
		bytes += b;
		snprintf(buf, n, "%" PRIu64 "%s", bytes, a & 0x40 ? "\n" : "");
		break;
	}
	*pages = bytes >> f->info.page_shift;
}

/* Write value to path/file; a limit written (pages not NULL) must read back as *pages. */
static int cg_write(struct fuzz *f, const char *path, const char *file, const char *value,
		    const uint64_t *pages)
{
	char name[64], want[32], *text = NULL;
	size_t len = 0;
	int rc;

	snprintf(name, sizeof(name), "%s/%s", strcmp(path, "/") ? path : "", file);
	rc = memlab_cgroup_write(f->m, name, value);
	check_rc(f, rc, "memlab_cgroup_write");
	note(f, "%s <- \"%s\" -> %d", name, value, rc);
	if (rc || !pages)
		return rc;
	if (*pages == UINT64_MAX)
		snprintf(want, sizeof(want), "max\n");
	else
		snprintf(want, sizeof(want), "%" PRIu64 "\n", *pages << f->info.page_shift);
	if (memlab_cgroup_read(f->m, name, &text, &len) == 0 && strcmp(text, want) != 0)
		die(f, "%s <- \"%s\" reads back \"%s\", want \"%s\"", name, value, text, want);
	memlab_free_text(f->m, text);
	return rc;
}

/* memory.max, .high, .low or .min of path: pick_size's value. */
static void cg_limit(struct fuzz *f, const char *path, const char *file)
{
	char value[48];
	uint64_t pages;

	pick_size(f, value, sizeof(value), &pages);
	cg_write(f, path, file, value, &pages);
}

/* t's /proc/PID/cgroup names path. */
static void check_in_cgroup(struct fuzz *f, memlab_task *t, const char *path)
{
	char name[32], want[64], *text = NULL;
	size_t len;

	snprintf(name, sizeof(name), "%d/cgroup", memlab_task_pid(t));
	snprintf(want, sizeof(want), "0::%s\n", path);
	if (memlab_proc(f->m, name, &text, &len) == 0 && strcmp(text, want) != 0)
		die(f, "pid %d was moved to %s, /proc/%s reads \"%s\"", memlab_task_pid(t), path,
		    name, text);
	memlab_free_text(f->m, text);
}

/* echo pid > path/cgroup.procs, or memlab_cgroup_attach; a bad pid: ESRCH. */
static int cg_attach(struct fuzz *f, memlab_task *t, const char *path, uint8_t how)
{
	char pid[16];
	int rc;

	snprintf(pid, sizeof(pid), "%d", how & 0x20 ? 99999 : memlab_task_pid(t));
	if (how & 0x10) {
		rc = cg_write(f, path, "cgroup.procs", pid, NULL);
	} else {
		rc = memlab_cgroup_attach(f->m, path, atoi(pid));
		check_rc(f, rc, "memlab_cgroup_attach");
		note(f, "pid %s to %s -> %d", pid, path, rc);
	}
	if ((how & 0x20) && rc != -MEMLAB_ESRCH && rc != -MEMLAB_ENOENT)
		die(f, "moving pid 99999 to %s: %d, want ESRCH or ENOENT", path, rc);
	if (rc == 0)
		check_in_cgroup(f, t, path);
	return rc;
}

/* Read every file of path (and one it does not have): text or an errno, nothing else. */
static void cg_read_all(struct fuzz *f, const char *path)
{
	for (size_t i = 0; i < NR_CG_FILES; i++) {
		char name[64], *text = NULL;
		size_t len = 0;
		int rc;

		snprintf(name, sizeof(name), "%s/%s", strcmp(path, "/") ? path : "", cg_files[i]);
		rc = memlab_cgroup_read(f->m, name, &text, &len);
		note(f, "read %s -> %d, %zu bytes", name, rc, len);
		check_text(f, rc, text, len, "memlab_cgroup_read");
	}
}

/*
** The memory controller: mkdir (-p), rmdir, moving a task (or a pid that
** does not exist), a task spawned into a cgroup, memory.max, .high, .low,
** .min, .swap.max, .swap.high (sizes from a few pages to a few MiB, or
** "max"), memory.oom.group,
** memory.reclaim (with a swappiness), reading every file, junk writes,
** and "limit" (mkdir, move a task in, set memory.max) to reach the
** cgroup's reclaim and OOM killer in one operation.  A memory.max below
** the usage reclaims and then OOM-kills in the cgroup: check_machine()
** forgets the victims.
*/
static void op_cgroup(struct fuzz *f)
{
	static const char *const junk[] = { "", "abc", "-1", "1Q", "max max", "0x10",
					     "18446744073709551616", " 2 ", "1E", "\n" };
	uint8_t a = next_byte(f);
	const char *path = pick_cgroup(f);
	char value[64];
	uint64_t pages;
	memlab_task *t;
	int rc;

	switch (a & 15) {
	case 0:
		rc = memlab_cgroup_mkdir(f->m, path);
		check_rc(f, rc, "memlab_cgroup_mkdir");
		note(f, "mkdir %s -> %d", path, rc);
		return;
	case 1:
		if ((t = pick_task(f)) != NULL)
			cg_attach(f, t, path, a);
		return;
	case 2:
	case 12:
		cg_limit(f, path, "memory.max");
		return;
	case 3:
		cg_limit(f, path, "memory.high");
		return;
	case 4:
		if (a & 0x20)
			cg_limit(f, path, a & 0x10 ? "memory.swap.max" : "memory.swap.high");
		else
			cg_limit(f, path, a & 0x10 ? "memory.min" : "memory.low");
		return;
	case 5:
		cg_write(f, path, "memory.oom.group",
			 (const char *[]){ "0", "1", "1\n", "2" }[a >> 4 & 3], NULL);
		return;
	case 6:
	case 13:
		pick_size(f, value, 48, &pages);
		if ((a & 0x10) && strchr(value, '\n'))
			*strchr(value, '\n') = 0;	/* "SIZE\n swappiness=N" is EINVAL */
		if (a & 0x10)
			snprintf(value + strlen(value), sizeof(value) - strlen(value),
				 " swappiness=%s", a & 0x20 ? "max" : (const char *[]){ "0", "60",
				 "200", "201" }[a >> 6]);
		rc = cg_write(f, path, "memory.reclaim", value, NULL);
		if (rc == -MEMLAB_EINVAL && pages != UINT64_MAX && !((a & 0x30) == 0x10 && a >> 6 == 3))
			die(f, "memory.reclaim <- \"%s\": EINVAL", value);
		return;
	case 7:
		rc = memlab_cgroup_rmdir(f->m, path);
		check_rc(f, rc, "memlab_cgroup_rmdir");
		note(f, "rmdir %s -> %d", path, rc);
		if (!strcmp(path, "/") && rc != -MEMLAB_EBUSY)
			die(f, "rmdir of the root: %d, want EBUSY", rc);
		return;
	case 8:
	case 14:
		cg_read_all(f, path);
		return;
	case 9:
	case 15:	/* limit */
		t = pick_task(f);
		rc = memlab_cgroup_mkdir(f->m, path);
		check_rc(f, rc, "memlab_cgroup_mkdir");
		note(f, "mkdir %s -> %d", path, rc);
		if (rc || !t || cg_attach(f, t, path, a & 0x10))
			return;
		cg_limit(f, path, "memory.max");
		return;
	case 10: {
		uint8_t b = next_byte(f), c = next_byte(f), d = next_byte(f);

		do_spawn(f, b, c, d, path);
		return;
	}
	default:
		snprintf(value, sizeof(value), "%s/%s", strcmp(path, "/") ? path : "",
			 cg_files[(a >> 4) % NR_CG_FILES]);
		rc = memlab_cgroup_write(f->m, value, junk[next_byte(f) % 10]);
		check_rc(f, rc, "memlab_cgroup_write");
		note(f, "%s <- junk -> %d", value, rc);
		return;
	}
}

/* ===================== THP, CPUs and TLBs ===================== */

/*
** khugepaged's limits from a (max_ptes_none 0, 1, 256 or 511, the others
** at their extremes by its bits), a small or large pages_to_scan, then a
** pass: what it collapsed must show in pages_collapsed and
** thp_collapse_alloc.
*/
static void khugepaged_pass(struct fuzz *f, uint8_t a)
{
	static const int64_t none[] = { 0, 1, 256, 511 };
	uint64_t nr = f->pmd_size / f->info.page_size, collapsed = 0, allocs;
	struct memlab_khugepaged_settings set = { -1, -1, -1, -1, -1, -1, -1, 0, 0 }, get;
	int rc;

	set.max_ptes_none = none[a >> 5 & 3] * (int64_t)nr / 512;
	set.max_ptes_swap = a & 0x80 ? 0 : (int64_t)nr - 1;
	set.max_ptes_shared = a & 0x40 ? 0 : (int64_t)nr - 1;
	set.pages_to_scan = a & 0x20 ? 1 : 8 * (int64_t)nr;
	set.defrag = a >> 4 & 1;
	if (memlab_khugepaged_sysfs(f->m, &set, &get) != 0 || get.max_ptes_none != set.max_ptes_none)
		die(f, "khugepaged settings refused");
	allocs = vmstat(f, "thp_collapse_alloc");
	rc = memlab_khugepaged(f->m, &collapsed);
	note(f, "khugepaged none %" PRId64 " pages %" PRId64 " -> %d, %" PRIu64 " collapsed",
	     set.max_ptes_none, set.pages_to_scan, rc, collapsed);
	check_rc(f, rc, "memlab_khugepaged");
	memlab_khugepaged_sysfs(f->m, NULL, &get);
	if (vmstat(f, "thp_collapse_alloc") - allocs < collapsed)
		die(f, "khugepaged collapsed %" PRIu64 " with fewer allocations", collapsed);
}

/*
** One hugepages-<size>kB/enabled from a byte: a size of the machine's, or
** one it lacks (8 kB: order 1, no anonymous THP; twice the PMD's), and a
** mode, or one Linux refuses: -EINVAL and nothing changed.
*/
static void thp_size(struct fuzz *f)
{
	static const char *const modes[] = { "always", "inherit", "madvise", "never", "sometimes" };
	struct memlab_thp_size before[16], after[16];
	size_t n = memlab_thp_sizes(f->m, before, 16);
	uint8_t b = next_byte(f);
	unsigned i = b % (unsigned)(n + 2);
	uint64_t size = i < n ? before[i].size : i == n ? 2ull << f->info.page_shift : f->pmd_size * 2;
	const char *mode = modes[(b >> 4) % 5];
	int rc = memlab_thp_size_set(f->m, size, mode);

	check_rc(f, rc, "memlab_thp_size_set");
	note(f, "hugepages-%" PRIu64 "kB %s -> %d", size >> 10, mode, rc);
	if ((i >= n || (b >> 4) % 5 == 4) != (rc == -MEMLAB_EINVAL))
		die(f, "memlab_thp_size_set(%" PRIu64 ", %s): %d", size, mode, rc);
	if (memlab_thp_sizes(f->m, after, 16) != n || n < 2 || before[n - 1].size != f->pmd_size)
		die(f, "memlab_thp_sizes: %zu sizes, the last %" PRIu64, n, before[n - 1].size);
	for (size_t k = 0; k < n; k++)
		if (strcmp(after[k].enabled, k == i && rc == 0 ? mode : before[k].enabled))
			die(f, "hugepages-%" PRIu64 "kB is %s", after[k].size >> 10, after[k].enabled);
}

static void op_thp(struct fuzz *f)
{
	static const char *const modes[] = { "always", "madvise", "never", NULL, "sometimes" };
	struct memlab_thp_settings get;
	uint8_t a = next_byte(f);
	const char *mode = modes[a % 5];
	int zero = (int)(a >> 3 & 3) - 1;	/* -1, 0, 1, 2 (EINVAL) */
	int rc = memlab_thp(f->m, mode, zero, &get);

	check_rc(f, rc, "memlab_thp");
	note(f, "%s zero %d -> %d", mode ? mode : "(same)", zero, rc);
	if ((a % 5 == 4 || zero == 2) != (rc == -MEMLAB_EINVAL))
		die(f, "memlab_thp(%s, %d): %d", mode ? mode : "NULL", zero, rc);
	if (rc == 0 && get.hpage_pmd_size != f->pmd_size)
		die(f, "THP size %#" PRIx64 ", PMD size %#" PRIx64, get.hpage_pmd_size, f->pmd_size);
	if (a % 5 == 3)
		khugepaged_pass(f, a);
	thp_size(f);
}

static void op_cpu(struct fuzz *f)
{
	memlab_task *t = pick_task(f);
	uint8_t a = next_byte(f);
	int cpu = a & 0x80 ? (int)(a & 0x7f) - 2 : a % f->info.nr_cpus, rc;

	if (!t)
		return;
	rc = memlab_task_run_on(t, cpu);
	check_rc(f, rc, "memlab_task_run_on");
	note(f, "pid %d to cpu %d -> %d", memlab_task_pid(t), cpu, rc);
	if ((cpu >= 0 && cpu < f->info.nr_cpus) != (rc == 0))
		die(f, "run_on(%d) of %d CPUs: %d", cpu, f->info.nr_cpus, rc);
	if (memlab_task_cpu(t) < 0 || memlab_task_cpu(t) >= f->info.nr_cpus ||
	    (rc == 0 && memlab_task_cpu(t) != cpu))
		die(f, "task on cpu %d after run_on(%d) -> %d", memlab_task_cpu(t), cpu, rc);
}

static void op_tlb(struct fuzz *f)
{
	struct memlab_tlb_stats st[8];
	struct memlab_tlb_cpu_stats cs;
	uint8_t a = next_byte(f);
	char *text = NULL;
	size_t len = 0, n;
	int rc, cpu;

	switch (a & 3) {
	case 0:
		memlab_tlb_flush_all(f->m);
		note(f, "flush all");
		return;
	case 1:
		n = memlab_tlb_stats(f->m, st, a >> 2 & 7);
		note(f, "stats -> %zu", n);
		for (size_t i = 0; i < n && i < (a >> 2 & 7u); i++)
			if (st[i].hits + st[i].misses != st[i].lookups)
				die(f, "TLB %s of cpu %d: %" PRIu64 " hits + %" PRIu64 " misses != %"
				    PRIu64 " lookups", st[i].name, st[i].cpu, st[i].hits, st[i].misses,
				    st[i].lookups);
		return;
	case 2:
		cpu = (int)(a >> 2) - 2;
		rc = memlab_tlb_cpu_stats(f->m, cpu, &cs);
		check_rc(f, rc, "memlab_tlb_cpu_stats");
		note(f, "cpu %d -> %d", cpu, rc);
		if ((cpu >= 0 && cpu < f->info.nr_cpus) != (rc == 0))
			die(f, "tlb_cpu_stats(%d) of %d CPUs: %d", cpu, f->info.nr_cpus, rc);
		return;
	default:
		rc = memlab_tlb_report(f->m, &text, &len);
		note(f, "report -> %d, %zu bytes", rc, len);
		check_text(f, rc, text, len, "memlab_tlb_report");
		return;
	}
}

/* ===================== the machine and the program ===================== */

struct machine_kind {
	int arch;
	uint32_t page_size;
	uint32_t va_bits;
	uint64_t min_ram;	/* two max-order blocks */
};

static const struct machine_kind kinds[] = {
	{ MEMLAB_ARCH_X86_64, 4096, 48, 16ull << 20 },
	{ MEMLAB_ARCH_X86_64, 4096, 57, 16ull << 20 },
	{ MEMLAB_ARCH_ARM64, 4096, 39, 16ull << 20 },
	{ MEMLAB_ARCH_ARM64, 4096, 48, 16ull << 20 },
	{ MEMLAB_ARCH_X86_64, 4096, 48, 16ull << 20 },
	{ MEMLAB_ARCH_ARM64, 16384, 47, 64ull << 20 },
	{ MEMLAB_ARCH_ARM64, 16384, 48, 64ull << 20 },
	{ MEMLAB_ARCH_ARM64, 16384, 36, 64ull << 20 },
	{ MEMLAB_ARCH_ARM64, 65536, 48, 1ull << 30 },
	{ MEMLAB_ARCH_ARM64, 65536, 42, 1ull << 30 },
};
#define NR_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/*
** The TLBs: the architecture's (most often), none, no PCID (x86-64) or
** 8-bit ASIDs (arm64), or tiny ones of every replacement policy, so that
** evictions and flushes happen all the time.
*/
static void setup_tlb(struct memlab_config *cfg, unsigned mode)
{
	struct memlab_tlb_config *tc = &cfg->tlb;

	switch (mode) {
	case 0:
		break;
	case 1:
		tc->disabled = 1;
		break;
	case 2:
		if (cfg->arch == MEMLAB_ARCH_X86_64)
			tc->nopcid = 1;
		else
			tc->asid_bits = 8;
		break;
	default:
		if (memlab_tlb_default_config(cfg->arch, cfg->page_size, cfg->va_bits, tc) != 0)
			break;
		for (int i = 0; i < tc->nr; i++) {
			tc->tlb[i].ways = 1u << ((unsigned)i % 3 + 1);	/* 2, 4, 8: victims to choose */
			tc->tlb[i].entries = tc->tlb[i].ways * (1u + (unsigned)i % 2);
			tc->tlb[i].policy = i % 5;
		}
		for (int l = 1; l < 5; l++)
			if (tc->pwc[l])
				tc->pwc[l] = 1;
		break;
	}
}

/*
** The machine from the input's first three bytes:
**   conf  bits 0-3 the kind (arch, page size, va_bits), 4-5 RAM (16, 16, 32,
**         64 MiB, at least two max-order blocks), 6 one zone, 7 no pcp lists
**   sys   bits 0-1 vm.overcommit_memory (3: 0), 2-3 overcommit_ratio (50,
**         0, 100, 150), 4-5 == 3: a small vm.max_map_count (8 + 8 * bits
**         6-7), == 2: vm.mmap_min_addr 0; 6-7 the first task's ASLR
**   cpu   bits 0-1 CPUs (1..4), 2-3 TLBs (setup_tlb), 4-5 THP (madvise,
**         always, never, always without the huge zero page), 6 the first
**         task is root, 7 it is a static PIE
**   and cgroup2 is mounted with memory_recursiveprot when the three have
**   odd parity, and the swap file is on an SSD (VMA-based readahead) when
**   conf and cpu have (every bit is taken; the parity leaves each one's
**   meaning)
*/
static void setup(struct fuzz *f, uint8_t conf, uint8_t sys, uint8_t cpu)
{
	static const uint64_t rams[] = { 16ull << 20, 16ull << 20, 32ull << 20, 64ull << 20 };
	static const int64_t ratios[] = { -1, 0, 100, 150 };
	static const char *const thp[] = { "madvise", "always", "never", "always" };
	const struct machine_kind *k = &kinds[(conf & 15) % NR_KINDS];
	struct memlab_config cfg;
	struct memlab_vm_sysctl set = { -1, -1, -1, -1, -1, -1, -1, -1, -1 };

	memlab_config_init(&cfg);
	cfg.arch = k->arch;
	cfg.page_size = k->page_size;
	cfg.va_bits = k->va_bits;
	cfg.ram = rams[conf >> 4 & 3];
	if (cfg.ram < k->min_ram)
		cfg.ram = k->min_ram;
	cfg.zones = conf & 0x40 ? MEMLAB_ZONES_SINGLE : MEMLAB_ZONES_ARCH;
	cfg.pcp_disabled = (conf & 0x80) != 0;
	cfg.seed = (uint64_t)conf << 16 | (uint64_t)sys << 8 | cpu;
	cfg.cpus = 1 + (cpu & 3);
	setup_tlb(&cfg, cpu >> 2 & 3);
	cfg.debug_vm = 1;	/* a write lazy zeroing missed aborts */
	cfg.swap = (uint64_t[]){ 0, 0, 4ull << 20, 64ull << 20 }[sys >> 6 & 3];
	cfg.memory_recursiveprot = __builtin_parity((unsigned)(conf ^ sys ^ cpu));
	cfg.swap_ssd = __builtin_parity((unsigned)(conf ^ cpu));
	cfg.report = on_report;
	cfg.report_ud = f;
	cfg.alloc = host_alloc;
	cfg.alloc_ud = f;
	if (memlab_create(&cfg, &f->m) != 0)
		die(f, "memlab_create refused machine kind %u", (conf & 15) % (unsigned)NR_KINDS);
	memlab_machine_info(f->m, &f->info);
	f->pmd_size = 1ull << (2 * f->info.page_shift - 3);
	set.overcommit_memory = (sys & 3) % 3;
	set.overcommit_ratio = ratios[sys >> 2 & 3];
	if ((sys >> 4 & 3) == 3)
		set.max_map_count = 8 + (sys >> 6) * 8;	/* small: splits fail */
	if ((sys >> 4 & 3) == 2)
		set.mmap_min_addr = 0;
	if (memlab_vm_sysctl(f->m, &set, NULL) != 0)
		die(f, "memlab_vm_sysctl refused the setup");
	if (memlab_thp(f->m, thp[cpu >> 4 & 3], (cpu >> 4 & 3) != 3, NULL) != 0)
		die(f, "memlab_thp refused the setup");
	f->boot_free = vmstat(f, "nr_free_pages");
}

static void teardown(struct fuzz *f)
{
	uint64_t free_now, file, kernel;

	f->op = "teardown";
	if (memlab_inject(f->m, "fail_page_alloc", NULL) != 0 ||
	    memlab_inject(f->m, "failslab", NULL) != 0 ||
	    memlab_inject(f->m, "swap_write_error", NULL) != 0 ||
	    memlab_inject(f->m, "swap_read_error", NULL) != 0)
		die(f, "memlab_inject(NULL) failed");
	for (int i = 0; i < f->ntasks; i++)
		memlab_task_fail_nth(f->tasks[i], 0);
	while (f->ntasks)
		exit_task(f, f->ntasks - 1);
	check_machine(f);
	while (f->nvm)
		vm_release(f, f->nvm - 1, 0);
	while (f->nlive)
		free_live(f, f->nlive - 1);
	slab_teardown(f);
	if (memlab_drain_pages(f->m) != 0)
		die(f, "memlab_drain_pages failed");
	check_machine(f);
	free_now = vmstat(f, "nr_free_pages");
	file = vmstat(f, "nr_file_pages");
	kernel = vmstat(f, "nr_page_table_pages") + vmalloc_pages(f);	/* init_mm's tables stay */
	if (free_now + file + kernel != f->boot_free)
		die(f, "at the end nr_free_pages %" PRIu64 " + nr_file_pages %" PRIu64 " + kernel"
		    " page tables %" PRIu64 " = %" PRIu64 ", boot free %" PRIu64, free_now, file,
		    kernel, free_now + file + kernel, f->boot_free);
	memlab_trace_stop(f->m);
	memlab_destroy(f->m);
}

/* FUZZ_OPS_VERBOSE=2: every task's maps after every operation. */
static void dump_maps(struct fuzz *f)
{
	for (int i = 0; i < f->ntasks; i++) {
		char path[32], *text = NULL;
		size_t len;

		snprintf(path, sizeof(path), "%d/maps", memlab_task_pid(f->tasks[i]));
		if (memlab_proc(f->m, path, &text, &len) == 0)
			fprintf(stderr, "--- %s\n%s", path, text);
		memlab_free_text(f->m, text);
	}
}

/*
** The opcodes: the low 6 bits of an operation's first byte index these 64
** slots.  The slots stay where they are, so that a saved input (the seeds,
** the reproducers) keeps its meaning; a new operation takes the slot of a
** duplicate (the duplicates weigh the common operations): cgroup took
** slot 20, a second free (61 is free still), which 32 of the 2572 seeds
** and no reproducer used; vmalloc took slot 30, a fifth mmap, which 78
** of the 2581 seeds and no reproducer used; slab took slot 49, the fourth
** access.
*/
static const struct {
	const char *name;
	void (*fn)(struct fuzz *f);
} ops[64] = {
	{ "mmap", op_mmap },		{ "mmap", op_mmap },		{ "munmap", op_munmap },
	{ "mprotect", op_mprotect },	{ "mremap", op_mremap },	{ "madvise", op_madvise },
	{ "access", op_access },	{ "access", op_access },	{ "fork", op_fork },
	{ "exit", op_exit },		{ "spawn", op_spawn },		{ "brk", op_brk },
	{ "msync", op_msync },		{ "pattern", op_pattern },	{ "user_rw", op_user_rw },
	{ "file_rw", op_file_rw },	{ "file_create", op_file_create },
	{ "file_load", op_file_load },	{ "sync", op_sync },		{ "alloc", op_alloc },
	{ "cgroup", op_cgroup },	{ "bad_free", op_bad_free },	{ "inject", op_inject },
	{ "proc", op_proc },		{ "inspect", op_inspect },	{ "trace", op_trace },
	{ "sysctl", op_sysctl },	{ "thp", op_thp },		{ "cpu", op_cpu },
	{ "tlb", op_tlb },		{ "vmalloc", op_vmalloc },	{ "madvise", op_madvise },
	{ "fork", op_fork },		{ "cow", op_cow },		{ "coherent", op_coherent },
	{ "coherent", op_coherent },	{ "hostfail", op_hostfail },	{ "phys", op_phys },
	/* 38..63: more of the common ones */
	{ "mmap", op_mmap },		{ "access", op_access },	{ "mprotect", op_mprotect },
	{ "munmap", op_munmap },	{ "mremap", op_mremap },	{ "cow", op_cow },
	{ "coherent", op_coherent },	{ "file_create", op_file_create },
	{ "user_rw", op_user_rw },	{ "file_rw", op_file_rw },	{ "madvise", op_madvise },
	{ "slab", op_slab },		{ "mmap", op_mmap },		{ "brk", op_brk },
	{ "inject", op_inject },	{ "pattern", op_pattern },	{ "proc", op_proc },
	{ "inspect", op_inspect },	{ "mremap", op_mremap },	{ "mlock", op_mlock },
	{ "clone", op_clone },		{ "exit", op_exit },		{ "alloc", op_alloc },
	{ "free", op_free },		{ "reclaim", op_reclaim },	{ "compact", op_compact },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int verbose = -1;
	struct fuzz *f;

	if (size < 3)
		return 0;
	if (verbose < 0)
		verbose = getenv("FUZZ_OPS_VERBOSE") ? atoi(getenv("FUZZ_OPS_VERBOSE")) : 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return 0;
	f->verbose = verbose;
	f->max_tasks = MAX_TASKS;
	f->p = data + 3;
	f->end = data + size;
	f->op = "setup";
	setup(f, data[0], data[1], data[2]);
	check_machine(f);
	f->op = "spawn";
	/* the first task: ASLR 0..2, root, static PIE, default image and limits */
	do_spawn(f, (uint8_t)((data[1] >> 6) % 3 | (data[2] >> 4 & 0x0c)), 0, 0, NULL);
	check_machine(f);
	while (f->p < f->end) {
		unsigned op = next_byte(f) & 63;

		f->step++;
		f->op = ops[op].name;
		f->host_armed = 1;
		f->host_fails0 = f->host_fails;
		f->in_memcg_stat = 0;
		ops[op].fn(f);
		f->host_armed = 0;
		if (f->verbose > 1)
			dump_maps(f);
		check_machine(f);
	}
	teardown(f);
	free(f);
	return 0;
}
