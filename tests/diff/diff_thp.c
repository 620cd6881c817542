/*
** diff_thp.c -- transparent huge pages of private anonymous memory, on the
** host and in memlab: copy on write after fork, exit, partial munmap and
** mprotect of PMD-mapped huge pages, madvise on them (DONTNEED,
** NOHUGEPAGE, HUGEPAGE, COLD, FREE, PAGEOUT, COLLAPSE), and writes to
** /proc/PID/clear_refs.
**
**   diff_thp [-v] [--scenario NAME]
**
** Each scenario starts afresh on both sides: on the host a process forked
** for it (the "parent", which may fork the "child"), driven step by step
** by this one through pipes; in memlab a new machine and a task spawned
** with aslr off.  Both map the same 8 MiB region (2 MiB-aligned, at a
** fixed address found free at start), MADV_HUGEPAGE it and write a byte in
** every 4 KiB page, which makes it four huge pages; then the scenario's
** steps.  After every step it compares, for the parent and the child while
** they live, the smaps fields of the region's VMAs (summed over them) and
** their number, and the rise since the scenario's start of the global THP
** and LRU event counters of /proc/vmstat; as root, how many of the
** region's pages there are of each kind -- their /proc/kpageflags bits
** (KPF_COMPARED) and /proc/kpagecount (memlab_kpageflags(),
** memlab_kpagecount()); after a write, whether the page written kept its
** frame (/proc/PID/pagemap's PFN, as root; memlab_pagemap()).
** memlab runs its side first, whole: its host memory is the test's own,
** and none of it may fault between the host's readings.
**
** The host's counters are the whole machine's: a count larger on the host
** may be another process's, so such a scenario is run once more on the
** host before its differences are reported.
**
** Exit 0 when every scenario agrees, 1 when one differs (each difference
** printed: scenario, step, process, field, the host's value, memlab's),
** 77 when the host cannot give huge pages (transparent_hugepage "never",
** no THP, a huge page size other than 2 MiB, a fault that fell back to
** small pages; after differences were found, 1), 2 when the harness
** cannot run here.  The MADV_PAGEOUT scenarios are skipped on a host with
** swap: memlab's machine has none, and there the host would swap out.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memlab/memlab.h>

#include "diff_common.h"

/* ===================== constants ===================== */

#define PAGE		((uint64_t)4096)
#define HPAGE		((uint64_t)2 << 20)	/* HPAGE_PMD_SIZE on x86-64 */
#define MiB		((uint64_t)1 << 20)
#define REGION_LEN	(4 * HPAGE)
#define GUARD		HPAGE		/* kept free on each side: no neighbour merges in */
#define NPROC		2		/* the parent and its child */
#define MAX_STEPS	8
#define SKIP_CODE	77		/* SKIP_RETURN_CODE in CMakeLists.txt */
/*
** Linux's advice values (include/uapi/asm-generic/mman-common.h), which
** memlab_madvise() takes too; an older C library lacks the newer names.
*/
#define K_MADV_DONTNEED		4
#define K_MADV_FREE		8
#define K_MADV_HUGEPAGE		14
#define K_MADV_NOHUGEPAGE	15
#define K_MADV_COLD		20
#define K_MADV_PAGEOUT		21
#define K_MADV_COLLAPSE		25

_Static_assert(MEMLAB_MAP_PRIVATE == MAP_PRIVATE && MEMLAB_MAP_ANONYMOUS == MAP_ANONYMOUS &&
	       MEMLAB_MAP_FIXED_NOREPLACE == MAP_FIXED_NOREPLACE, "MAP values");
_Static_assert(MEMLAB_PROT_READ == PROT_READ && MEMLAB_PROT_WRITE == PROT_WRITE, "PROT values");
_Static_assert(MEMLAB_PM_PRESENT == 1ULL << 63 && MEMLAB_PM_PFRAME_MASK == (1ULL << 55) - 1,
	       "pagemap values");

/* The region: the same numbers on the host and in memlab. */
static uint64_t R;
static const uint64_t region_candidates[] = {
	0x7e0000000000ULL, 0x7d0000000000ULL, 0x6e0000000000ULL, 0x3e0000000000ULL,
};

/* The smaps fields compared, each summed over the region's VMAs (kB). */
static const char *const FIELDS[] = {
	"Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
	"Referenced", "Anonymous", "LazyFree", "AnonHugePages",
};
#define NF ((int)(sizeof(FIELDS) / sizeof(FIELDS[0])))
#define F_ANON_HUGE (NF - 1)	/* AnonHugePages */

/*
** The /proc/vmstat events compared, as their rise since the scenario's
** start.  thp_fault_fallback says the host could not give a huge page
** (the scenario is not the one meant); thp_collapse_alloc is khugepaged's,
** which memlab lacks: on the host it could collapse the parent's split
** huge page again once no child shares it, between two steps.
** thp_swpout_fallback is reclaim splitting a huge page it found no swap
** for (MADV_PAGEOUT); pglazyfree and pgdeactivate count the pages
** MADV_FREE and MADV_COLD move on the LRU lists -- and any other
** process's, e.g. kswapd's deactivations, hence the host's second run.
*/
static const char *const EVENTS[] = {
	"thp_fault_alloc", "thp_fault_fallback", "thp_split_pmd", "thp_split_page",
	"thp_deferred_split_page", "thp_collapse_alloc", "thp_swpout_fallback",
	"pglazyfree", "pgdeactivate",
};
#define NE ((int)(sizeof(EVENTS) / sizeof(EVENTS[0])))
#define EV_FAULT_FALLBACK 1

/* ===================== scenarios ===================== */

enum step_kind { S_SETUP, S_FORK, S_WRITE, S_EXIT, S_MUNMAP, S_MPROTECT, S_DROP_SLAB,
		 S_MADVISE, S_READ, S_CLEAR_REFS };

/* A step of a scenario, run by proc 0 (the parent) or 1 (the child). */
struct step {
	int kind;
	int proc;
	uint64_t off, len;	/* into the region */
	int prot;		/* S_MPROTECT; S_SETUP: 1 to write one byte per huge page;
				   S_CLEAR_REFS: the value written */
	int advice;		/* S_MADVISE: K_MADV_* */
};

struct scenario {
	const char *name;
	int nsteps;
	struct step s[MAX_STEPS];
};

#define SETUP			{ S_SETUP, 0, 0, REGION_LEN, 0, 0 }
#define SETUP_SPARSE		{ S_SETUP, 0, 0, REGION_LEN, 1, 0 }	/* a byte per huge page */
#define FORK			{ S_FORK, 0, 0, 0, 0, 0 }
#define WRITE(p, o)		{ S_WRITE, (p), (o), 1, 0, 0 }
#define READ(p, o)		{ S_READ, (p), (o), 1, 0, 0 }
#define EXIT(p)			{ S_EXIT, (p), 0, 0, 0, 0 }
#define MUNMAP(p, o, l)		{ S_MUNMAP, (p), (o), (l), 0, 0 }
#define MPROTECT(p, o, l, pr)	{ S_MPROTECT, (p), (o), (l), (pr), 0 }
#define DROP_SLAB		{ S_DROP_SLAB, 0, 0, 0, 0, 0 }
#define MADVISE(p, o, l, a)	{ S_MADVISE, (p), (o), (l), 0, (a) }
#define CLEAR_REFS(p, v)	{ S_CLEAR_REFS, (p), 0, 0, (v), 0 }

/*
** The last huge page is [6 MiB, 8 MiB) of the region, the first [0, 2
** MiB): the writes after fork go to pages of one huge page that both
** processes map.
*/
static const struct scenario scenarios[] = {
	{ "cow_parent", 3, { SETUP, FORK, WRITE(0, 7 * MiB) } },
	{ "cow_both", 6, { SETUP, FORK, WRITE(0, 7 * MiB), WRITE(1, 7 * MiB + 16 * PAGE), EXIT(1),
			   WRITE(0, 7 * MiB + 32 * PAGE) } },
	{ "child_writes_parent_exits", 5, { SETUP, FORK, WRITE(1, 1 * MiB), EXIT(0),
					    WRITE(1, 1 * MiB + 16 * PAGE) } },
	{ "partial_munmap", 2, { SETUP, MUNMAP(0, 3 * MiB, PAGE) } },
	{ "partial_mprotect", 2, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ) } },
	{ "fork_then_partial_munmap_in_child", 3, { SETUP, FORK, MUNMAP(1, 1 * MiB, PAGE) } },
	/* root only: drop_caches 2 runs the thp-deferred_split shrinker at priority 0 */
	{ "partial_munmap_then_drop_slab", 4, { SETUP, MUNMAP(0, 3 * MiB, PAGE),
						MUNMAP(0, 5 * MiB, 2 * PAGE), DROP_SLAB } },
	/*
	 * madvise inside a huge page: DONTNEED zaps part of its PMD (split
	 * first); a flag advice that changes the flags splits the VMA, and
	 * with it the PMD across the new boundary, one that changes nothing
	 * (VM_HUGEPAGE again, the same protection) leaves both alone.
	 */
	{ "dontneed_partial", 2, { SETUP, MADVISE(0, 3 * MiB, PAGE, K_MADV_DONTNEED) } },
	{ "nohugepage_partial", 2, { SETUP, MADVISE(0, 4 * MiB, 1 * MiB, K_MADV_NOHUGEPAGE) } },
	{ "hugepage_again_partial", 2, { SETUP, MADVISE(0, 4 * MiB, 1 * MiB, K_MADV_HUGEPAGE) } },
	{ "mprotect_same_partial", 2, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB,
							PROT_READ | PROT_WRITE) } },
	/*
	 * COLD, FREE and PAGEOUT of the second huge page, [2 MiB, 4 MiB):
	 * whole, half (the range does not cover the PMD), and shared with a
	 * child (only pages this mm alone maps are advised).
	 */
	{ "cold_whole", 2, { SETUP, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_COLD) } },
	{ "cold_partial", 2, { SETUP, MADVISE(0, 2 * MiB, 1 * MiB, K_MADV_COLD) } },
	{ "cold_shared", 3, { SETUP, FORK, MADVISE(0, 2 * MiB, 1 * MiB, K_MADV_COLD) } },
	/* the write makes the lazily freed huge page dirty again: not freeable */
	{ "free_whole", 3, { SETUP, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_FREE),
			     WRITE(0, 2 * MiB + PAGE) } },
	{ "free_partial", 2, { SETUP, MADVISE(0, 2 * MiB, 1 * MiB, K_MADV_FREE) } },
	{ "free_shared", 3, { SETUP, FORK, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_FREE) } },
	/* no swap on either side: reclaim finds no slot for the anonymous pages */
	{ "pageout_whole", 2, { SETUP, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_PAGEOUT) } },
	{ "pageout_partial", 2, { SETUP, MADVISE(0, 2 * MiB, 1 * MiB, K_MADV_PAGEOUT) } },
	/*
	 * A huge page PTE-mapped whole in one VMA: mprotect of half of the
	 * third splits its PMD, mprotect back merges the VMAs again; then
	 * the advice over all of it handles the folio whole (its PTEs in one
	 * batch: madvise_folio_pte_batch), over part of it splits it, and
	 * leaves it when a child maps it too.
	 */
	{ "pte_mapped_cold_whole", 4, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
					MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
					MADVISE(0, 4 * MiB, 2 * MiB, K_MADV_COLD) } },
	{ "pte_mapped_cold_partial", 4, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
					  MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
					  MADVISE(0, 4 * MiB, 1 * MiB, K_MADV_COLD) } },
	{ "pte_mapped_free_whole", 5, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
					MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
					MADVISE(0, 4 * MiB, 2 * MiB, K_MADV_FREE),
					WRITE(0, 5 * MiB) } },
	{ "pte_mapped_pageout_whole", 4, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
					   MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
					   MADVISE(0, 4 * MiB, 2 * MiB, K_MADV_PAGEOUT) } },
	{ "pte_mapped_shared_cold", 5, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
					 MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
					 FORK, MADVISE(1, 4 * MiB, 1 * MiB, K_MADV_COLD) } },
	/*
	 * MADV_COLLAPSE: a PTE-mapped huge page is copied into a new one; a
	 * PMD-mapped one is left as it is; a range that holds no whole
	 * aligned 2 MiB collapses nothing.  [2 MiB, 4 MiB) made small pages
	 * again (NOHUGEPAGE, DONTNEED, a page read or written), which a
	 * VM_NOHUGEPAGE VMA refuses to collapse, and then does: over none
	 * and zero-page entries, if one entry is writable.
	 */
	/*
	 * A huge page of one written byte and 511 zero-filled pages, split
	 * (a page unmapped, then drop_caches 2): the zero-filled pages that
	 * are still mapped become the shared zero page's mappings
	 * (try_to_map_unused_to_zeropage), and are freed.
	 */
	{ "sparse_split", 3, { SETUP_SPARSE, MUNMAP(0, 3 * MiB, PAGE), DROP_SLAB } },
	{ "collapse_pte_mapped", 4, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
				      MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
				      MADVISE(0, 4 * MiB, 2 * MiB, K_MADV_COLLAPSE) } },
	{ "collapse_pmd_mapped", 3, { SETUP, MADVISE(0, 0, REGION_LEN, K_MADV_COLLAPSE),
				      MADVISE(0, 1 * MiB, 2 * MiB, K_MADV_COLLAPSE) } },
	{ "collapse_none_then_small", 8, { SETUP, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_NOHUGEPAGE),
					   MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_DONTNEED),
					   MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_COLLAPSE),
					   WRITE(0, 3 * MiB),
					   MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_COLLAPSE),
					   MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_HUGEPAGE),
					   MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_COLLAPSE) } },
	{ "collapse_zero_pages", 8, { SETUP, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_NOHUGEPAGE),
				      MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_DONTNEED),
				      READ(0, 2 * MiB + PAGE), READ(0, 3 * MiB),
				      MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_HUGEPAGE),
				      MADVISE(0, 0, 4 * MiB, K_MADV_COLLAPSE),
				      WRITE(0, 3 * MiB + PAGE) } },
	/*
	 * An empty PMD stops MADV_COLLAPSE (EINVAL); a range with no whole
	 * aligned huge page in it is EINVAL too; a hole is ENOMEM at the end.
	 */
	{ "collapse_empty_pmd", 4, { SETUP, MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_DONTNEED),
				     MADVISE(0, 0, REGION_LEN, K_MADV_COLLAPSE),
				     MADVISE(0, 4 * MiB, 4 * MiB, K_MADV_COLLAPSE) } },
	{ "collapse_unaligned_and_holes", 5, { SETUP,
					       MADVISE(0, 1 * MiB, PAGE, K_MADV_COLLAPSE),
					       MUNMAP(0, 3 * MiB, PAGE),
					       MADVISE(0, 0, REGION_LEN, K_MADV_COLLAPSE),
					       MADVISE(0, 2 * MiB, 2 * MiB, K_MADV_COLLAPSE) } },
	{ "collapse_after_fork", 7, { SETUP, MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ),
				      MPROTECT(0, 4 * MiB, 1 * MiB, PROT_READ | PROT_WRITE),
				      FORK, MADVISE(1, 4 * MiB, 2 * MiB, K_MADV_COLLAPSE),
				      WRITE(1, 5 * MiB),
				      MADVISE(1, 4 * MiB, 2 * MiB, K_MADV_COLLAPSE) } },
	/*
	 * /proc/PID/clear_refs: the PMDs made old and the folios' PG_referenced
	 * cleared.  A write after it goes to a page just unmapped (a new fault,
	 * a young entry): one through a translation the host's TLB may still
	 * hold would set no accessed bit there, and memlab cannot know.
	 */
	{ "clear_refs_all", 4, { SETUP, CLEAR_REFS(0, 1), MADVISE(0, 0, PAGE, K_MADV_DONTNEED),
				 WRITE(0, 0) } },
	{ "clear_refs_by_type", 6, { SETUP, CLEAR_REFS(0, 3), CLEAR_REFS(0, 2), CLEAR_REFS(0, 0),
				     CLEAR_REFS(0, 6), CLEAR_REFS(0, 4) } },
	{ "clear_refs_in_child", 5, { SETUP, FORK, CLEAR_REFS(1, 1),
				      MADVISE(1, 7 * MiB, 4 * PAGE, K_MADV_DONTNEED),
				      WRITE(1, 7 * MiB + PAGE) } },
};
#define NSCEN ((int)(sizeof(scenarios) / sizeof(scenarios[0])))

static const char *proc_name(int p)
{
	return p ? "child" : "parent";
}

/* Linux's name of an advice (memlab lists them), "MADV_?" for another. */
static const char *madv_name(int advice)
{
	for (const struct memlab_flag_name *f = memlab_madv_names(); f->name; f++)
		if ((int)f->value == advice)
			return f->name;
	return "MADV_?";
}

static void fmt_step(char *buf, size_t n, const struct step *st)
{
	const char *who = proc_name(st->proc);

	switch (st->kind) {
	case S_SETUP:
		snprintf(buf, n, "%s maps 8 MiB at 0x%" PRIx64 ", MADV_HUGEPAGE, writes every page",
			 who, R);
		break;
	case S_FORK:
		snprintf(buf, n, "%s forks the child", who);
		break;
	case S_WRITE:
		snprintf(buf, n, "%s writes a byte at 0x%" PRIx64, who, R + st->off);
		break;
	case S_READ:
		snprintf(buf, n, "%s reads a byte at 0x%" PRIx64, who, R + st->off);
		break;
	case S_CLEAR_REFS:
		snprintf(buf, n, "%s writes %d to /proc/self/clear_refs", who, st->prot);
		break;
	case S_EXIT:
		snprintf(buf, n, "%s exits", who);
		break;
	case S_MUNMAP:
		snprintf(buf, n, "%s munmaps [0x%" PRIx64 ", +%" PRIu64 " kB)", who, R + st->off,
			 st->len >> 10);
		break;
	case S_DROP_SLAB:
		snprintf(buf, n, "%s writes 2 to /proc/sys/vm/drop_caches", who);
		break;
	case S_MADVISE:
		snprintf(buf, n, "%s %s [0x%" PRIx64 ", +%" PRIu64 " kB)", who,
			 madv_name(st->advice), R + st->off, st->len >> 10);
		break;
	default:
		snprintf(buf, n, "%s mprotects [0x%" PRIx64 ", +%" PRIu64 " kB) to %c%c-", who,
			 R + st->off, st->len >> 10, st->prot & PROT_READ ? 'r' : '-',
			 st->prot & PROT_WRITE ? 'w' : '-');
		break;
	}
}

/* ===================== what is observed ===================== */

/*
** The region's present pages by kind: their /proc/kpageflags word, of the
** bits diff_common.h compares, and their /proc/kpagecount -- how many
** pages of each kind (PFNs differ; the kinds and their numbers must not).
*/
#define MAX_KINDS	24

struct page_kind {
	uint64_t flags, count;
	int pages;
};

struct proc_obs {
	int live;
	int vmas;		/* VMAs meeting the region */
	int64_t kb[NF];
	int nkinds;		/* -1: not observed (not root) */
	struct page_kind kinds[MAX_KINDS];	/* by flags, then count */
};

/* Everything compared after a step. */
struct obs {
	int64_t rc;		/* the step's result: 0 or -errno */
	struct proc_obs p[NPROC];
	int64_t ev[NE];		/* the rise since the scenario's start */
	int kept;		/* a write: the page kept its frame (1) or not (0); -1 unknown */
};

/* One side's run of a scenario. */
struct side {
	int n;			/* steps run */
	struct obs o[MAX_STEPS];
	char err[1024];		/* memlab's reports, or why the host could not */
};

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);

/* One more page of a kind (flags as compared), the kinds kept in order. */
static void add_kind(struct proc_obs *po, uint64_t flags, uint64_t count)
{
	int i = 0;

	flags = diff_kpf_masked(flags);
	while (i < po->nkinds && (po->kinds[i].flags < flags ||
				  (po->kinds[i].flags == flags && po->kinds[i].count < count)))
		i++;
	if (i < po->nkinds && po->kinds[i].flags == flags && po->kinds[i].count == count) {
		po->kinds[i].pages++;
		return;
	}
	if (po->nkinds == MAX_KINDS)
		die("more than %d kinds of page in the region", MAX_KINDS);
	memmove(&po->kinds[i + 1], &po->kinds[i], (size_t)(po->nkinds - i) * sizeof po->kinds[0]);
	po->kinds[i] = (struct page_kind){ flags, count, 1 };
	po->nkinds++;
}

/* The region's VMAs of an smaps text: their number, their fields summed. */
static void parse_smaps(const char *text, struct proc_obs *po)
{
	int in = 0;

	po->vmas = 0;
	memset(po->kb, 0, sizeof po->kb);
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		unsigned long long st, en;
		char perms[8];

		/* a VMA's line starts with a hex digit, a field's with a capital */
		if (((p[0] >= '0' && p[0] <= '9') || (p[0] >= 'a' && p[0] <= 'f')) &&
		    sscanf(p, "%llx-%llx %7s ", &st, &en, perms) == 3) {
			in = st < R + REGION_LEN && en > R;
			po->vmas += in;
		} else if (in) {
			for (int i = 0; i < NF; i++) {
				size_t l = strlen(FIELDS[i]);

				if (!strncmp(p, FIELDS[i], l) && p[l] == ':')
					po->kb[i] += strtoll(p + l + 1, NULL, 10);
			}
		}
		p = nl ? nl + 1 : NULL;
	}
}

/* ===================== the host ===================== */

/* The harness cannot go on here (exit status 2). */
static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "diff_thp: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* A whole file, NUL-terminated (malloc'd), or NULL. */
static char *read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 16, len = 0;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t r;

		if (!buf || len + 1 >= cap) {
			char *more = realloc(buf, buf ? cap *= 2 : cap);

			if (!more)
				break;
			buf = more;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (buf)
		buf[len] = 0;
	return buf;
}

/* The first line of a sysfs file, without its newline ("" when unreadable). */
static void read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f && !fgets(buf, (int)n, f))
		buf[0] = 0;
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* The EVENTS of the host's /proc/vmstat. */
static void host_events(int64_t *ev)
{
	char *text = read_file("/proc/vmstat");

	if (!text)
		die("/proc/vmstat: %s", strerror(errno));
	for (int i = 0; i < NE; i++) {
		const char *at = text;
		size_t l = strlen(EVENTS[i]);

		ev[i] = -1;
		for (; at; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
			if (!strncmp(at, EVENTS[i], l) && at[l] == ' ') {
				ev[i] = strtoll(at + l + 1, NULL, 10);
				break;
			}
		if (ev[i] < 0)
			die("/proc/vmstat has no %s", EVENTS[i]);
	}
	free(text);
}

/*
** The sequence's processes on the host: proc 0 forked by this one, proc
** 1 by proc 0.  Each runs the commands sent to it -- a byte on its command
** pipe, the step in its MAP_SHARED mailbox -- and answers with a byte;
** an exit is answered by its pidfd turning readable (after exit_mm: its
** mm is gone then).  This process is the subreaper of the child when the
** parent exits first.
*/
struct mailbox {
	struct step st;
	int64_t rc;
	pid_t pid;		/* S_FORK: the child's */
};

static struct mailbox *mbox;	/* [NPROC], MAP_SHARED */
static int cmd_fd[NPROC][2], rsp_fd[NPROC][2];
static pid_t proc_pid[NPROC];
static int proc_pidfd[NPROC] = { -1, -1 };
static int proc_live[NPROC];
static int frames_known = 1;	/* the host's pagemap shows PFNs (CAP_SYS_ADMIN) */

/* A store through a pointer, without a sanitizer's instrumentation. */
__attribute__((noinline, no_sanitize("address", "undefined")))
static void host_store(uint64_t a)
{
	*(volatile uint8_t *)(uintptr_t)a = 0xc3;
}

static void host_load(uint64_t a)
{
	(void)*(volatile uint8_t *)(uintptr_t)a;
}

/* The region mapped, advised and written page by page (sparse: huge page by huge page): 0 or -errno. */
static int64_t host_setup(int sparse)
{
	long r = syscall(SYS_mmap, R, REGION_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (r == -1)
		return -errno;
	if ((uint64_t)r != R) {		/* a kernel without MAP_FIXED_NOREPLACE */
		syscall(SYS_munmap, r, REGION_LEN);
		return -EEXIST;
	}
	if (syscall(SYS_madvise, R, REGION_LEN, K_MADV_HUGEPAGE))
		return -errno;
	for (uint64_t a = R; a < R + REGION_LEN; a += sparse ? HPAGE : PAGE)
		host_store(a);
	return 0;
}

static __attribute__((noreturn)) void proc_main(int me);

/* echo 2 > /proc/sys/vm/drop_caches: 0 or -errno. */
static int64_t host_drop_slab(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int64_t rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "2", 1) != 1)
		rc = -errno;
	close(fd);
	return rc;
}

/* A step in this process: 0 or -errno. */
/* A write of v to /proc/self/clear_refs: 0 or -errno. */
static int64_t host_clear_refs(int v)
{
	char buf[16];
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC), n, rc = 0;

	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof buf, "%d", v);
	if (write(fd, buf, (size_t)n) != n)
		rc = -errno;
	close(fd);
	return rc;
}

static int64_t host_do(struct mailbox *mb)
{
	const struct step *st = &mb->st;
	pid_t pid;

	switch (st->kind) {
	case S_SETUP:
		return host_setup(st->prot);
	case S_FORK:
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			proc_main(1);
		mb->pid = pid;
		return pid < 0 ? -errno : 0;
	case S_WRITE:
		host_store(R + st->off);
		return 0;
	case S_READ:
		host_load(R + st->off);
		return 0;
	case S_CLEAR_REFS:
		return host_clear_refs(st->prot);
	case S_EXIT:
		_exit(0);
	case S_MUNMAP:
		return syscall(SYS_munmap, R + st->off, st->len) ? -errno : 0;
	case S_DROP_SLAB:
		return host_drop_slab();
	case S_MADVISE:
		return syscall(SYS_madvise, R + st->off, st->len, st->advice) ? -errno : 0;
	default:
		return syscall(SYS_mprotect, R + st->off, st->len, st->prot) ? -errno : 0;
	}
}

/*
** A process of the sequence: the pipes it does not read from closed (an
** orphan of a dead harness reads EOF and goes), SIGCHLD ignored (its
** exited child is reaped at once), then each command in turn.
*/
static __attribute__((noreturn)) void proc_main(int me)
{
	char c = 0;

	for (int i = 0; i < NPROC; i++) {
		if (cmd_fd[i][1] >= 0)
			close(cmd_fd[i][1]);
		if (rsp_fd[i][0] >= 0)
			close(rsp_fd[i][0]);
		cmd_fd[i][1] = rsp_fd[i][0] = -1;
	}
	signal(SIGCHLD, SIG_IGN);
	while (read(cmd_fd[me][0], &c, 1) == 1) {
		mbox[me].rc = host_do(&mbox[me]);
		if (write(rsp_fd[me][1], &c, 1) != 1)
			_exit(3);
	}
	_exit(0);
}

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

static void proc_adopt(int p, pid_t pid)
{
	proc_pid[p] = pid;
	proc_pidfd[p] = pidfd_of(pid);
	if (proc_pidfd[p] < 0)
		die("pidfd_open: %s", strerror(errno));
	proc_live[p] = 1;
}

/* Proc p runs st; its result (an exit: once it is gone). */
static int64_t proc_call(int p, const struct step *st)
{
	struct pollfd pf[2] = { { .fd = rsp_fd[p][0], .events = POLLIN },
				{ .fd = proc_pidfd[p], .events = POLLIN } };
	char c = 0;

	mbox[p].st = *st;
	if (write(cmd_fd[p][1], &c, 1) != 1)
		die("%s: %s", proc_name(p), strerror(errno));
	if (st->kind == S_EXIT) {
		wait_gone(proc_pidfd[p]);
		close(proc_pidfd[p]);
		proc_pidfd[p] = -1;
		proc_live[p] = 0;
		return 0;
	}
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pf[0].revents & POLLIN) {
			if (read(rsp_fd[p][0], &c, 1) != 1)
				die("%s: no answer", proc_name(p));
			return mbox[p].rc;
		}
		if (pf[1].revents)
			die("the %s died", proc_name(p));
	}
}

/* The parent's process, fresh: pipes, the mailboxes, the fork. */
static void procs_start(void)
{
	pid_t pid;

	memset(mbox, 0, sizeof *mbox * NPROC);
	for (int i = 0; i < NPROC; i++) {
		if (pipe2(cmd_fd[i], O_CLOEXEC) || pipe2(rsp_fd[i], O_CLOEXEC))
			die("pipe: %s", strerror(errno));
		proc_live[i] = 0;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		proc_main(0);
	proc_adopt(0, pid);
}

/* The scenario's end: the live processes exit (the child first), all reaped. */
static void procs_stop(void)
{
	for (int p = NPROC - 1; p >= 0; p--)
		if (proc_live[p])
			proc_call(p, &(struct step){ .kind = S_EXIT, .proc = p });
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	for (int i = 0; i < NPROC; i++) {
		close(cmd_fd[i][0]);
		close(cmd_fd[i][1]);
		close(rsp_fd[i][0]);
		close(rsp_fd[i][1]);
	}
}

/* The PFN mapping va in proc p, or 0 (not present, or not shown: not root). */
static uint64_t host_pfn(int p, uint64_t va)
{
	char path[40];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)proc_pid[p]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, &e, sizeof e, (off_t)(va / PAGE * 8)) != (ssize_t)sizeof e)
		die("%s: %s", path, strerror(errno));
	close(fd);
	return e >> 63 ? e & MEMLAB_PM_PFRAME_MASK : 0;
}

/*
** This CPU's LRU batches emptied (all the processes run on it).  A
** scenario's MADV_FREE or MADV_COLD of a split huge page leaves up to 31
** small pages in the CPU's lru_lazyfree or lru_deactivate batch, counted
** (pglazyfree, pgdeactivate) only when an lru_add_drain() on this CPU
** drains it -- on 6.18 neither exit nor munmap did (8 of free_partial's
** 256 pages): the next scenario's MADV_FREE counted them as its own.  madvise_free_single_vma()
** drains first (lru_add_drain()), and of a page never touched frees none.
*/
static void host_lru_drain(void)
{
	long a = syscall(SYS_mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	if (a == -1)
		die("mmap: %s", strerror(errno));
	if (syscall(SYS_madvise, a, PAGE, K_MADV_FREE))
		die("madvise(MADV_FREE): %s", strerror(errno));
	syscall(SYS_munmap, a, PAGE);
}

/* The kinds of the region's present pages in proc p (root only). */
static void host_kinds(int p, struct proc_obs *po)
{
	static uint64_t pm[REGION_LEN / PAGE];
	char path[40];
	int fd, kf, kc;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)proc_pid[p]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	kc = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || kf < 0 || kc < 0 ||
	    pread(fd, pm, sizeof pm, (off_t)(R / PAGE * 8)) != (ssize_t)sizeof pm)
		die("%s, /proc/kpageflags, /proc/kpagecount: %s", path, strerror(errno));
	for (size_t i = 0; i < REGION_LEN / PAGE; i++) {
		uint64_t pfn = pm[i] & MEMLAB_PM_PFRAME_MASK, f, c;

		if (!(pm[i] >> 63))
			continue;
		if (pread(kf, &f, 8, (off_t)(pfn * 8)) != 8 || pread(kc, &c, 8, (off_t)(pfn * 8)) != 8)
			die("/proc/kpageflags: %s", strerror(errno));
		add_kind(po, f, c);
	}
	close(fd);
	close(kf);
	close(kc);
}

/* What is compared after a step, on the host. */
static void host_observe(struct obs *o, const int64_t *ev0)
{
	for (int p = 0; p < NPROC; p++) {
		char path[40], *text;

		memset(&o->p[p], 0, sizeof o->p[p]);
		if (!proc_live[p])
			continue;
		snprintf(path, sizeof path, "/proc/%d/smaps", (int)proc_pid[p]);
		if (!(text = read_file(path)))
			die("%s: %s", path, strerror(errno));
		o->p[p].live = 1;
		parse_smaps(text, &o->p[p]);
		free(text);
		o->p[p].nkinds = frames_known ? 0 : -1;
		if (frames_known)
			host_kinds(p, &o->p[p]);
	}
	host_events(o->ev);
	for (int i = 0; i < NE; i++)
		o->ev[i] -= ev0[i];
}

/*
** A scenario on the host: 0, or 1 when the host gave no huge page at the
** setup (why in out->err).
*/
static int host_scenario(const struct scenario *sc, struct side *out)
{
	int64_t ev0[NE];
	int no_thp = 0;

	memset(out, 0, sizeof *out);
	procs_start();
	host_lru_drain();	/* memlab's machine starts with none batched either */
	host_events(ev0);
	for (int i = 0; i < sc->nsteps; i++) {
		const struct step *st = &sc->s[i];
		struct obs *o = &out->o[i];
		uint64_t before = 0;

		if (!proc_live[st->proc]) {	/* its fork failed: compared as a result */
			snprintf(out->err, sizeof out->err, "no %s", proc_name(st->proc));
			break;
		}
		if (st->kind == S_WRITE && frames_known)
			before = host_pfn(st->proc, R + st->off);
		o->rc = proc_call(st->proc, st);
		if (st->kind == S_FORK && o->rc == 0)
			proc_adopt(1, mbox[0].pid);
		host_observe(o, ev0);
		o->kept = -1;
		if (st->kind == S_WRITE && frames_known && before)
			o->kept = host_pfn(st->proc, R + st->off) == before;
		out->n = i + 1;
		if (st->kind == S_SETUP &&
		    (o->rc || o->p[0].kb[F_ANON_HUGE] != (int64_t)(REGION_LEN >> 10) ||
		     o->ev[EV_FAULT_FALLBACK])) {
			snprintf(out->err, sizeof out->err, "the setup gave %s, AnonHugePages %" PRId64
				 " kB of %" PRIu64 ", thp_fault_fallback +%" PRId64,
				 o->rc ? strerror((int)-o->rc) : "0", o->p[0].kb[F_ANON_HUGE],
				 REGION_LEN >> 10, o->ev[EV_FAULT_FALLBACK]);
			no_thp = 1;
			break;
		}
	}
	procs_stop();
	return no_thp;
}

/* ===================== memlab ===================== */

struct sim {
	memlab_machine *m;
	memlab_task *t[NPROC];
	struct side *out;
};

static void sim_report(void *ud, const char *msg)
{
	struct sim *s = ud;

	diff_append_report(s->out->err, sizeof s->out->err, msg);
}

/* host_store()'s byte, written through the MMU: the contents matter (a split maps zero pages). */
static int sim_store(memlab_task *t, uint64_t a)
{
	uint8_t b = 0xc3;
	int code;

	return memlab_access(t, a, 1, 'w', &b, &code);
}

static int64_t sim_setup(memlab_task *t, int sparse)
{
	uint64_t got;
	int rc;

	rc = memlab_mmap(t, R, REGION_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, NULL, 0, &got);
	if (!rc)
		rc = memlab_madvise(t, R, REGION_LEN, K_MADV_HUGEPAGE);
	for (uint64_t a = R; a < R + REGION_LEN && !rc; a += sparse ? HPAGE : PAGE)
		rc = sim_store(t, a);
	return rc;
}

static int64_t sim_do(struct sim *s, const struct step *st)
{
	memlab_task *t = s->t[st->proc];
	int code;

	switch (st->kind) {
	case S_SETUP:
		return sim_setup(t, st->prot);
	case S_FORK:
		return memlab_fork(t, &s->t[1]);
	case S_WRITE:
		return sim_store(t, R + st->off);
	case S_READ:
		return memlab_touch(t, R + st->off, 1, 'r', &code);
	case S_CLEAR_REFS:
		return memlab_clear_refs(t, st->prot);
	case S_EXIT:
		memlab_task_exit(t);
		s->t[st->proc] = NULL;
		return 0;
	case S_MUNMAP:
		return memlab_munmap(t, R + st->off, st->len);
	case S_DROP_SLAB:
		return memlab_drop_caches(s->m, 2) < 0 ? -1 : 0;
	case S_MADVISE:
		return memlab_madvise(t, R + st->off, st->len, st->advice);
	default:
		return memlab_mprotect(t, R + st->off, st->len, st->prot);
	}
}

static uint64_t sim_pfn(memlab_task *t, uint64_t va)
{
	uint64_t e = 0;

	if (memlab_pagemap(t, va, &e, 1) != 1)
		return 0;
	return e >> 63 ? e & MEMLAB_PM_PFRAME_MASK : 0;
}

static void sim_events(struct sim *s, int64_t *ev)
{
	for (int i = 0; i < NE; i++) {
		uint64_t v = 0;

		if (memlab_vmstat_get(s->m, EVENTS[i], &v))
			sim_report(s, "memlab_vmstat_get failed");
		ev[i] = (int64_t)v;
	}
}

/* The kinds of the region's present pages in t. */
static void sim_kinds(struct sim *s, memlab_task *t, struct proc_obs *po)
{
	static uint64_t pm[REGION_LEN / PAGE];

	if (memlab_pagemap(t, R, pm, REGION_LEN / PAGE) != (int64_t)(REGION_LEN / PAGE)) {
		sim_report(s, "memlab_pagemap failed");
		return;
	}
	for (size_t i = 0; i < REGION_LEN / PAGE; i++) {
		uint64_t pfn = pm[i] & MEMLAB_PM_PFRAME_MASK, f = 0, c = 0;

		if (!(pm[i] >> 63))
			continue;
		if (memlab_kpageflags(s->m, pfn, &f, 1) != 1 || memlab_kpagecount(s->m, pfn, &c, 1) != 1)
			sim_report(s, "memlab_kpageflags failed");
		add_kind(po, f, c);
	}
}

static void sim_observe(struct sim *s, struct obs *o, const int64_t *ev0)
{
	for (int p = 0; p < NPROC; p++) {
		char path[32], *text = NULL;
		size_t len;

		memset(&o->p[p], 0, sizeof o->p[p]);
		if (!s->t[p])
			continue;
		snprintf(path, sizeof path, "%d/smaps", memlab_task_pid(s->t[p]));
		if (memlab_proc(s->m, path, &text, &len)) {
			sim_report(s, "memlab_proc(PID/smaps) failed");
			continue;
		}
		o->p[p].live = 1;
		parse_smaps(text, &o->p[p]);
		memlab_free_text(s->m, text);
		o->p[p].nkinds = frames_known ? 0 : -1;
		if (frames_known)
			sim_kinds(s, s->t[p], &o->p[p]);
	}
	sim_events(s, o->ev);
	for (int i = 0; i < NE; i++)
		o->ev[i] -= ev0[i];
}

/*
** A scenario in memlab: a fresh machine (256 MiB, CONFIG_DEBUG_VM's
** checks on) with the host's THP mode, a task spawned with aslr off, the
** steps; at the end memlab_check().  What it reports lands in out->err.
*/
static void sim_scenario(const struct scenario *sc, const char *thp_mode, struct side *out)
{
	struct memlab_config cfg;
	struct memlab_spawn_args args;
	struct sim s = { .out = out };
	int64_t ev0[NE];
	int rc;

	memset(out, 0, sizeof *out);
	memlab_config_init(&cfg);
	cfg.ram = 256 * MiB;
	cfg.seed = 1;
	cfg.debug_vm = 1;
	cfg.swap = 0;		/* as the host (needs_no_swap): MADV_PAGEOUT finds no slot */
	cfg.report = sim_report;
	cfg.report_ud = &s;
	if ((rc = memlab_create(&cfg, &s.m))) {
		snprintf(out->err, sizeof out->err, "memlab_create: %s", memlab_strerror(rc));
		return;
	}
	memset(&args, 0, sizeof args);
	args.root = 1;
	args.aslr = 0;
	diff_host_thp_sizes(s.m);	/* the host's mTHP sizes, whatever they are */
	if ((rc = memlab_thp(s.m, thp_mode, -1, NULL)) || (rc = memlab_spawn(s.m, &args, &s.t[0]))) {
		snprintf(out->err, sizeof out->err, "memlab_thp or memlab_spawn: %s",
			 memlab_strerror(rc));
		memlab_destroy(s.m);
		return;
	}
	sim_events(&s, ev0);
	for (int i = 0; i < sc->nsteps; i++) {
		const struct step *st = &sc->s[i];
		struct obs *o = &out->o[i];
		uint64_t before;

		if (!s.t[st->proc]) {	/* its fork failed: compared as a result */
			sim_report(&s, "no such task");
			break;
		}
		before = st->kind == S_WRITE ? sim_pfn(s.t[st->proc], R + st->off) : 0;
		o->rc = sim_do(&s, st);
		sim_observe(&s, o, ev0);
		o->kept = -1;
		if (before)
			o->kept = sim_pfn(s.t[st->proc], R + st->off) == before;
		out->n = i + 1;
	}
	memlab_check(s.m, sim_report, &s);
	for (int p = NPROC - 1; p >= 0; p--)
		if (s.t[p])
			memlab_task_exit(s.t[p]);
	memlab_check(s.m, sim_report, &s);
	memlab_destroy(s.m);
}

/* ===================== comparing ===================== */

static int verbose;

static void fmt_rc(char *buf, size_t n, int64_t rc)
{
	const char *e = rc < 0 ? memlab_err_name((int)-rc) : NULL;

	if (rc < 0)
		snprintf(buf, n, "-%s", e ? e : "E?");
	else
		snprintf(buf, n, "%" PRId64, rc);
}

/* One difference, printed; *count counts it. */
static __attribute__((format(printf, 4, 5))) void differ(int *count, int print, int step,
							  const char *fmt, ...)
{
	va_list ap;

	++*count;
	if (!print)
		return;
	printf("  DIFF step %d: ", step + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* The pages of a kind in po: 0 when it has none of them. */
static int kind_pages(const struct proc_obs *po, const struct page_kind *k)
{
	for (int i = 0; i < po->nkinds; i++)
		if (po->kinds[i].flags == k->flags && po->kinds[i].count == k->count)
			return po->kinds[i].pages;
	return 0;
}

/* Each kind of page either side has: the same number of pages on both. */
static void compare_kinds(int *count, int print, int step, int p, const struct proc_obs *x,
			  const struct proc_obs *y)
{
	const struct proc_obs *side[2] = { x, y };
	char name[256];

	if (x->nkinds < 0 || y->nkinds < 0)
		return;
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < side[w]->nkinds; i++) {
			const struct page_kind *k = &side[w]->kinds[i];
			int a = kind_pages(x, k), b = kind_pages(y, k);

			if (a == b || (w == 1 && a))	/* each difference once */
				continue;
			diff_fmt_kpf(name, sizeof name, k->flags);
			differ(count, print, step, "%s: pages of kpageflags %s, kpagecount %" PRIu64
			       ": host %d, memlab %d", proc_name(p), name, k->count, a, b);
		}
	}
}

/*
** The differences of host h and memlab s, printed (when print) with their
** step, process and field; how many.  *noise: one of them is a global
** event the host counted more of, which another process may have caused.
*/
static int compare(const struct scenario *sc, const struct side *h, const struct side *s,
		   int print, int *noise)
{
	int count = 0;

	*noise = 0;
	if (s->err[0]) {
		count++;
		if (print)
			printf("  DIFF memlab reported: %s\n", s->err);
	}
	if (h->err[0]) {
		count++;
		if (print)
			printf("  DIFF the host stopped: %s\n", h->err);
	}
	if (h->n != s->n)
		differ(&count, print, h->n < s->n ? h->n : s->n, "%d step(s) ran on the host, %d in "
		       "memlab", h->n, s->n);
	for (int i = 0; i < h->n && i < s->n; i++) {
		const struct obs *a = &h->o[i], *b = &s->o[i];
		char ra[32], rb[32];

		if (a->rc != b->rc) {
			fmt_rc(ra, sizeof ra, a->rc);
			fmt_rc(rb, sizeof rb, b->rc);
			differ(&count, print, i, "%s: result: host %s, memlab %s",
			       proc_name(sc->s[i].proc), ra, rb);
		}
		for (int p = 0; p < NPROC; p++) {
			const struct proc_obs *x = &a->p[p], *y = &b->p[p];

			if (x->live != y->live) {
				differ(&count, print, i, "%s: %s on the host, %s in memlab",
				       proc_name(p), x->live ? "alive" : "gone",
				       y->live ? "alive" : "gone");
				continue;
			}
			if (!x->live)
				continue;
			if (x->vmas != y->vmas)
				differ(&count, print, i, "%s: VMAs in the region: host %d, memlab %d",
				       proc_name(p), x->vmas, y->vmas);
			for (int f = 0; f < NF; f++)
				if (x->kb[f] != y->kb[f])
					differ(&count, print, i, "%s: %s: host %" PRId64 " kB, memlab %"
					       PRId64 " kB", proc_name(p), FIELDS[f], x->kb[f],
					       y->kb[f]);
			compare_kinds(&count, print, i, p, x, y);
		}
		for (int e = 0; e < NE; e++) {
			if (a->ev[e] == b->ev[e])
				continue;
			*noise |= a->ev[e] > b->ev[e];
			differ(&count, print, i, "vmstat %s: host +%" PRId64 ", memlab +%" PRId64,
			       EVENTS[e], a->ev[e], b->ev[e]);
		}
		if (a->kept >= 0 && b->kept >= 0 && a->kept != b->kept)
			differ(&count, print, i, "%s: the page written %s its frame on the host, %s "
			       "in memlab", proc_name(sc->s[i].proc), a->kept ? "kept" : "changed",
			       b->kept ? "kept it" : "changed it");
	}
	return count;
}

static void print_obs(const char *who, const struct obs *o)
{
	char rc[32];

	fmt_rc(rc, sizeof rc, o->rc);
	printf("    %-6s result %s\n", who, rc);
	for (int p = 0; p < NPROC; p++) {
		if (!o->p[p].live)
			continue;
		printf("    %-6s %-6s VMAs %d", who, proc_name(p), o->p[p].vmas);
		for (int f = 0; f < NF; f++)
			printf(" %s %" PRId64, FIELDS[f], o->p[p].kb[f]);
		printf("\n");
		for (int k = 0; k < o->p[p].nkinds; k++) {
			char name[256];

			diff_fmt_kpf(name, sizeof name, o->p[p].kinds[k].flags);
			printf("    %-6s %-6s %4d pages: %s, kpagecount %" PRIu64 "\n", who,
			       proc_name(p), o->p[p].kinds[k].pages, name, o->p[p].kinds[k].count);
		}
	}
	printf("    %-6s events", who);
	for (int e = 0; e < NE; e++)
		printf(" %s +%" PRId64, EVENTS[e], o->ev[e]);
	if (o->kept >= 0)
		printf("; the page written %s its frame", o->kept ? "kept" : "changed");
	printf("\n");
}

/* Both sides' values after every step. */
static void print_values(const struct scenario *sc, const struct side *h, const struct side *s)
{
	char what[160];

	for (int i = 0; i < sc->nsteps && (i < h->n || i < s->n); i++) {
		fmt_step(what, sizeof what, &sc->s[i]);
		printf("  step %d: %s\n", i + 1, what);
		if (i < h->n)
			print_obs("host", &h->o[i]);
		if (i < s->n)
			print_obs("memlab", &s->o[i]);
	}
}

/* ===================== main ===================== */

/* The region and a guard on each side free here (the processes are forks of this one). */
static void pick_region(void)
{
	for (size_t i = 0; i < sizeof region_candidates / sizeof region_candidates[0]; i++) {
		uint64_t a = region_candidates[i] - GUARD;
		long p = syscall(SYS_mmap, a, REGION_LEN + 2 * GUARD, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);

		if (p == -1)
			continue;
		syscall(SYS_munmap, (uint64_t)p, REGION_LEN + 2 * GUARD);
		if ((uint64_t)p != a)
			continue;	/* a kernel without MAP_FIXED_NOREPLACE */
		R = region_candidates[i];
		return;
	}
	die("no free region found");
}

/*
** Whether /proc/self/pagemap shows PFNs here (0 without CAP_SYS_ADMIN):
** probed on a page of this stack, which is present.
*/
static void probe_frames(void)
{
	volatile uint64_t here = 1;
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, &e, sizeof e, (off_t)((uintptr_t)&here / PAGE * 8)) != sizeof e ||
	    !(e >> 63) || !(e & MEMLAB_PM_PFRAME_MASK))
		frames_known = 0;
	if (fd >= 0)
		close(fd);
}

/*
** The host's THP mode ("always" or "madvise") in mode, or a reason in why
** and -1: "never", no THP in the kernel, or a huge page of another size.
*/
static int host_thp_mode(char *mode, size_t n, char *why, size_t wn)
{
	char line[128], size[32];
	const char *l, *r;

	read_line("/sys/kernel/mm/transparent_hugepage/enabled", line, sizeof line);
	read_line("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", size, sizeof size);
	l = strchr(line, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r) {
		snprintf(why, wn, "no /sys/kernel/mm/transparent_hugepage/enabled (no THP)");
		return -1;
	}
	snprintf(mode, n, "%.*s", (int)(r - l - 1), l + 1);
	if (strcmp(mode, "always") && strcmp(mode, "madvise")) {
		snprintf(why, wn, "transparent_hugepage/enabled is \"%s\"", mode);
		return -1;
	}
	if (strtoull(size, NULL, 10) != HPAGE) {
		snprintf(why, wn, "hpage_pmd_size is %s, not %" PRIu64, size, HPAGE);
		return -1;
	}
	return 0;
}

static int needs_root(const struct scenario *sc)
{
	for (int i = 0; i < sc->nsteps; i++)
		if (sc->s[i].kind == S_DROP_SLAB)
			return 1;
	return 0;
}

/* MADV_PAGEOUT: the host would swap out what memlab, with no swap, keeps. */
static int needs_no_swap(const struct scenario *sc)
{
	for (int i = 0; i < sc->nsteps; i++)
		if (sc->s[i].kind == S_MADVISE && sc->s[i].advice == K_MADV_PAGEOUT)
			return 1;
	return 0;
}

/* Whether /proc/swaps lists a swap area (a line after its heading). */
static int host_has_swap(void)
{
	char *text = read_file("/proc/swaps");
	const char *nl = text ? strchr(text, '\n') : NULL;
	int any = nl && nl[1];

	free(text);
	return any;
}

static void usage(void)
{
	fprintf(stderr, "usage: diff_thp [-v] [--scenario NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct side h, s;
	const char *only = NULL;
	char mode[32], why[256];
	struct utsname u;
	int passed = 0, failed = 0, skipped = 0, noise;
	cpu_set_t one;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else if (!strcmp(argv[i], "--scenario") && i + 1 < argc)
			only = argv[++i];
		else
			usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	diff_thp_settings_lock();	/* diff_mthp changes the sizes' settings */
	if (host_thp_mode(mode, sizeof mode, why, sizeof why)) {
		printf("SKIP: %s\n", why);
		return SKIP_CODE;
	}
	/* one CPU for all: the copies' pages wait in one CPU's LRU batch */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	sched_setaffinity(0, sizeof one, &one);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	mbox = mmap(NULL, sizeof *mbox * NPROC, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	if (mbox == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	pick_region();
	probe_frames();
	uname(&u);
	printf("diff_thp: Linux %s, THP \"%s\", region [0x%" PRIx64 ", 0x%" PRIx64 "), %s\n",
	       u.release, mode, R, R + REGION_LEN,
	       frames_known ? "frames compared" : "frames not compared (not root: no PFNs)");
	for (int k = 0; k < NSCEN; k++) {
		const struct scenario *sc = &scenarios[k];
		int n;

		if (only && strcmp(only, sc->name))
			continue;
		if (needs_root(sc) && geteuid() != 0) {
			printf("%s: SKIP: drop_caches needs root\n", sc->name);
			skipped++;
			continue;
		}
		if (needs_no_swap(sc) && host_has_swap()) {
			printf("%s: SKIP: the host has swap (memlab's machine has none)\n",
			       sc->name);
			skipped++;
			continue;
		}
		sim_scenario(sc, mode, &s);
		if (host_scenario(sc, &h) && host_scenario(sc, &h)) {
			printf("%s: SKIP: the host gave no huge pages: %s\n", sc->name, h.err);
			skipped++;
			continue;
		}
		n = compare(sc, &h, &s, 0, &noise);
		if (n) {	/* host noise (its counts are the whole host's) differs from run to run */
			printf("%s: %s: run again\n", sc->name, noise ?
			       "the host counted more events than memlab" : "a difference");
			if (host_scenario(sc, &h)) {
				printf("%s: SKIP: the host gave no huge pages: %s\n", sc->name, h.err);
				skipped++;
				continue;
			}
			n = compare(sc, &h, &s, 0, &noise);
		}
		printf("%s: %s\n", sc->name, n ? "DIFFERS" : "ok");
		if (n) {
			printf("  %d difference(s):\n", n);
			compare(sc, &h, &s, 1, &noise);
		}
		if (n || verbose)
			print_values(sc, &h, &s);
		if (n)
			failed++;
		else
			passed++;
	}
	printf("%d agree, %d differ, %d skipped\n", passed, failed, skipped);
	if (failed)
		return 1;
	return skipped ? SKIP_CODE : 0;
}
