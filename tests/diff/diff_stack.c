/*
** diff_stack.c -- every task's kernel stack, on the host and in memlab:
** what 64 forked children add to KernelStack, and the /proc/vmallocinfo
** line of a stack; and each one's PGD, in PageTables beyond its VmPTE.
**
**   diff_stack [-v]
**
** The host, pinned to one CPU, forks 64 children that wait, reads
** /proc/meminfo's KernelStack and /proc/vmallocinfo, kills them, reads
** again; five rounds, the medians taken (other processes start and end
** threads meanwhile).  memlab's process forks 64 children the same way.
** Compared:
**   - KernelStack per child: the host's rise over 64 and memlab's (16 kB
**     on x86-64: THREAD_SIZE), within 1 kB (the host's other tasks);
**   - a stack's vmallocinfo line without its address: the size with the
**     guard page, the caller's function, "pages=4 vmalloc" and its pages
**     over the nodes (N0=4; the caller's offsets depend on the kernel's
**     build: the host's text is printed, memlab's is the reference
**     host's, kernel_clone+0x94/0x3e0);
**   - the stacks' lines appear one per child on each side, but for those
**     the forking CPU had cached (two: memlab's process first forks two
**     children that exit, as the host's CPUs have seen many): memlab's
**     exactly, the host's within 6 (the rest of the host makes and ends
**     threads meanwhile: 62 in every round on a quiet host, up to 5 more
**     with two shells forking without end beside it);
**   - what the children add to PageTables beyond the sum of their VmPTE:
**     their PGDs, 4 kB each on x86-64 (6.14+ counts a PGD in
**     NR_PAGETABLE, never in pgtables_bytes), the host's within 1 kB a
**     child.  The host's counters are folded first (vm.stat_refresh, as
**     root; the per-CPU deltas would otherwise blur them by up to a
**     threshold of pages).
** Exit 0 when all agree, 1 when one differs, 77 when the host cannot say
** (no /proc/vmallocinfo, or no stack line in it: not CONFIG_VMAP_STACK).
*/
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diff_common.h"

#define CHILDREN	64
#define ROUNDS		5

static int verbose;

/* ===================== the host ===================== */

/*
** vm.stat_refresh: every CPU's vmstat deltas folded in.  0, or -1 when it
** cannot be written (not root): then the counters lag by up to a
** threshold of pages per CPU, too much for the PGD comparison.
*/
static int stat_refresh(void)
{
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");
	int ok;

	if (!f)
		return -1;
	ok = fputs("1\n", f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/*
** Page-table isolation (Meltdown's mitigation) makes x86's PGD two pages,
** the kernel's and the user's (pgd_allocation_order() 1); memlab models a
** CPU without it.
*/
static int host_has_pti(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/vulnerabilities/meltdown", "r");
	char line[128] = "";

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	return strstr(line, "PTI") != NULL;
}

/* A "Key:   N kB" line's N from a /proc file (-1: none). */
static long proc_kb(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

static long meminfo_kb(const char *key)
{
	return proc_kb("/proc/meminfo", key);
}

/* Each line of text in turn, copied into line (NUL-terminated); NULL after the last. */
static const char *next_line(const char *text, char *line, size_t size)
{
	size_t n;

	if (!text || !*text)
		return NULL;
	n = strcspn(text, "\n");
	snprintf(line, size, "%.*s", (int)(n < size ? n : size - 1), text);
	return text + n + (text[n] == '\n');
}

/* The caller field of a vmallocinfo line of a busy area ("func+0x1/0x2"), or "" */
static void line_caller(const char *line, char *caller, size_t size)
{
	char word[128] = "";

	caller[0] = 0;
	if (sscanf(line, "%*s %*d %127s", word) == 1 && strchr(word, '+'))
		snprintf(caller, size, "%s", word);
}

/*
** The vmallocinfo lines whose caller's function is func: their count, and
** the first one's text after the address into rest.
*/
static int stack_lines(const char *text, const char *func, char *rest, size_t size)
{
	char line[512], caller[128];
	size_t flen = strlen(func);
	int n = 0;

	for (const char *t = text; (t = next_line(t, line, sizeof(line)));) {
		line_caller(line, caller, sizeof(caller));
		if (strncmp(caller, func, flen) || caller[flen] != '+')
			continue;
		if (!n++ && rest) {
			const char *sp = strchr(line, ' ');

			while (sp && *sp == ' ')
				sp++;
			snprintf(rest, size, "%s", sp ? sp : "");
		}
	}
	return n;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, len = 0, got;
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap + 1);
	while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			char *more = realloc(buf, 2 * cap + 1);

			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = 0;
	return buf;
}

/*
** The stack's caller's function on this kernel: the most frequent caller
** of "pages=4 vmalloc" lines, counted in one pass; its count.
*/
#define MAX_CALLERS	64
static int host_caller(const char *text, char *func, size_t size)
{
	char names[MAX_CALLERS][128], line[512], caller[128];
	int counts[MAX_CALLERS] = { 0 }, nr = 0, best = -1;

	for (const char *t = text; (t = next_line(t, line, sizeof(line)));) {
		int i;

		line_caller(line, caller, sizeof(caller));
		if (!caller[0] || !strstr(line, " pages=4 vmalloc"))
			continue;
		caller[strcspn(caller, "+")] = 0;
		for (i = 0; i < nr && strcmp(names[i], caller); i++)
			;
		if (i == nr && nr < MAX_CALLERS)
			snprintf(names[nr++], sizeof(names[0]), "%s", caller);
		if (i < nr)
			counts[i]++;
	}
	for (int i = 0; i < nr; i++)
		if (best < 0 || counts[i] > counts[best])
			best = i;
	snprintf(func, size, "%s", best < 0 ? "" : names[best]);
	return best < 0 ? 0 : counts[best];
}

struct host_round {
	long stack_kb;		/* KernelStack with the children, less without */
	int lines;		/* stack lines with the children, less without */
	long pgd_kb;		/* PageTables with the children, less without, less their VmPTE */
	int refreshed;		/* vm.stat_refresh worked both times */
};

static int host_round(const char *func, struct host_round *r, char *line, size_t size)
{
	pid_t kids[CHILDREN];
	long before, with, pt_before, pt_with, vmpte = 0;
	char *info0 = read_all("/proc/vmallocinfo"), *info1;
	int n0 = stack_lines(info0, func, NULL, 0), n1;

	r->refreshed = stat_refresh() == 0;
	before = meminfo_kb("KernelStack");
	pt_before = meminfo_kb("PageTables");
	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
		if (kids[i] < 0) {	/* the ones made go, and nothing is left behind */
			for (int j = 0; j < i; j++)
				kill(kids[j], SIGKILL);
			for (int j = 0; j < i; j++)
				waitpid(kids[j], NULL, 0);
			free(info0);
			return -1;
		}
	}
	usleep(50000);
	r->refreshed &= stat_refresh() == 0;
	with = meminfo_kb("KernelStack");
	pt_with = meminfo_kb("PageTables");
	for (int i = 0; i < CHILDREN; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/status", (int)kids[i]);
		vmpte += proc_kb(path, "VmPTE");
	}
	info1 = read_all("/proc/vmallocinfo");
	n1 = stack_lines(info1, func, line, size);
	for (int i = 0; i < CHILDREN; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < CHILDREN; i++)
		waitpid(kids[i], NULL, 0);
	usleep(200000);		/* their stacks are freed after an RCU grace period */
	r->stack_kb = with - before;
	r->lines = n1 - n0;
	r->pgd_kb = pt_with - pt_before - vmpte;
	free(info0);
	free(info1);
	return 0;
}

/* ===================== memlab ===================== */

/* meminfo's field, in kB. */
static long memlab_meminfo_kb(memlab_machine *m, const char *key)
{
	char *text = NULL, *at;
	size_t len;
	long v = -1;

	if (memlab_proc(m, "meminfo", &text, &len) == 0 && (at = strstr(text, key)))
		v = atol(at + strlen(key) + 1);
	memlab_free_text(m, text);
	return v;
}

/*
** PageTables less init_mm's tables, in kB: the stacks' vmalloc space may
** take a new kernel table, which the host's, long mapped, rarely does.
*/
static long memlab_user_pagetables_kb(memlab_machine *m)
{
	struct memlab_vmalloc_info vi;
	struct memlab_machine_info mi;

	memlab_machine_info(m, &mi);
	if (memlab_vmalloc_info(m, &vi))
		return -1;
	return memlab_meminfo_kb(m, "PageTables") - (long)((vi.nr_kernel_pgtables * mi.page_size) >> 10);
}

static int memlab_side(long *stack_kb, int *lines, long *pgd_kb, char *line, size_t size)
{
	memlab_machine *m;
	memlab_task *p, *kids[CHILDREN];
	char *text = NULL;
	size_t len;
	long before, pt_before;
	int n0, err;

	if ((err = diff_machine(&m, NULL, NULL)))
		return err;
	if ((err = memlab_spawn(m, NULL, &p))) {
		memlab_destroy(m);
		return err;
	}
	for (int i = 0; i < 2; i++) {	/* the CPU's cache of two stacks, full */
		if ((err = memlab_fork(p, &kids[i]))) {
			memlab_destroy(m);
			return err;
		}
	}
	memlab_task_exit(kids[0]);
	memlab_task_exit(kids[1]);
	before = memlab_meminfo_kb(m, "KernelStack");
	pt_before = memlab_user_pagetables_kb(m);
	memlab_proc(m, "vmallocinfo", &text, &len);
	n0 = stack_lines(text, "kernel_clone", NULL, 0);
	memlab_free_text(m, text);
	for (int i = 0; i < CHILDREN; i++)
		if ((err = memlab_fork(p, &kids[i]))) {
			memlab_destroy(m);
			return err;
		}
	*stack_kb = memlab_meminfo_kb(m, "KernelStack") - before;
	*pgd_kb = memlab_user_pagetables_kb(m) - pt_before;
	for (int i = 0; i < CHILDREN; i++) {
		struct memlab_mm_info mi;

		if ((err = memlab_mm_info(kids[i], &mi))) {
			memlab_destroy(m);
			return err;
		}
		*pgd_kb -= (long)(mi.pgtables_bytes >> 10);
	}
	memlab_proc(m, "vmallocinfo", &text, &len);
	*lines = stack_lines(text, "kernel_clone", line, size) - n0;
	memlab_free_text(m, text);
	err = memlab_check(m, NULL, NULL) ? -1 : 0;
	memlab_destroy(m);
	return err;
}

/* ===================== comparing ===================== */

static int compare_longs(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/*
** A line's size ("20480"), caller, and tail without the node counts
** ("pages=4 vmalloc"); whether the node counts add up to the pages.
*/
static int split_line(const char *line, char *size_field, char *tail, char *caller)
{
	const char *t = strstr(line, "pages=");
	unsigned pages = 0, nodes = 0, n;
	size_t len;

	size_field[0] = tail[0] = caller[0] = 0;
	sscanf(line, "%63s %127s", size_field, caller);
	if (!t)
		return 0;
	sscanf(t, "pages=%u", &pages);
	len = strcspn(t, "N");	/* up to the first " N<node>=<pages>" */
	while (len && t[len - 1] == ' ')
		len--;
	snprintf(tail, 64, "%.*s", (int)len, t);
	for (const char *p = strstr(t, " N"); p; p = strstr(p + 1, " N"))
		if (sscanf(p, " N%*u=%u", &n) == 1)
			nodes += n;
	return nodes == pages;
}

int main(int argc, char **argv)
{
	struct host_round r[ROUNDS];
	long kb[ROUNDS], lines[ROUNDS], pgd[ROUNDS], ml_kb, ml_pgd;
	char func[128], hline[512] = "", mline[512] = "";
	char hsize[64], htail[64], hcaller[128], msize[64], mtail[64], mcaller[128];
	int ml_lines, bad = 0, hnodes, mnodes;
	cpu_set_t one;

	verbose = argc > 1 && !strcmp(argv[1], "-v");
	CPU_ZERO(&one);		/* every fork on one CPU: one cache of two stacks */
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	if (access("/proc/vmallocinfo", R_OK)) {
		printf("SKIP: no /proc/vmallocinfo\n");
		return 77;
	}
	{
		char *info = read_all("/proc/vmallocinfo");
		int n = host_caller(info, func, sizeof(func));

		free(info);
		if (n == 0) {
			printf("SKIP: no kernel stack in /proc/vmallocinfo (no CONFIG_VMAP_STACK?)\n");
			return 77;
		}
	}
	for (int i = 0; i < ROUNDS; i++) {
		if (host_round(func, &r[i], hline, sizeof(hline))) {
			printf("SKIP: fork failed on the host\n");
			return 77;
		}
		kb[i] = r[i].stack_kb;
		lines[i] = r[i].lines;
		pgd[i] = r[i].pgd_kb;
	}
	qsort(kb, ROUNDS, sizeof(*kb), compare_longs);
	qsort(lines, ROUNDS, sizeof(*lines), compare_longs);
	qsort(pgd, ROUNDS, sizeof(*pgd), compare_longs);
	if (memlab_side(&ml_kb, &ml_lines, &ml_pgd, mline, sizeof(mline))) {
		printf("FAIL: memlab's side failed\n");
		return 1;
	}
	hnodes = split_line(hline, hsize, htail, hcaller);
	mnodes = split_line(mline, msize, mtail, mcaller);
	if (verbose)
		printf("host:   %s\nmemlab: %s\n", hline, mline);
	printf("KernelStack per child: host %.1f kB (%ld kB for %d), memlab %ld kB\n",
	       (double)kb[ROUNDS / 2] / CHILDREN, kb[ROUNDS / 2], CHILDREN, ml_kb / CHILDREN);
	if (labs(kb[ROUNDS / 2] - ml_kb) > CHILDREN || ml_kb % CHILDREN)
		bad = 1;
	printf("a stack's line: host \"%s %s %s\", memlab \"%s %s %s\"\n", hsize, hcaller, htail,
	       msize, mcaller, mtail);
	if (strcmp(hsize, msize) || strcmp(htail, mtail) || !hnodes || !mnodes ||
	    strncmp(hcaller, mcaller, strcspn(mcaller, "+") + 1))
		bad = 1;
	printf("stack lines: host (sorted) +%ld +%ld +%ld +%ld +%ld, median +%ld; memlab +%d\n",
	       lines[0], lines[1], lines[2], lines[3], lines[4], lines[ROUNDS / 2], ml_lines);
	if (ml_lines != CHILDREN - 2 || labs(lines[ROUNDS / 2] - ml_lines) > 6)
		bad = 1;
	printf("PageTables beyond VmPTE per child (the PGD): host %.1f kB (%ld kB for %d), "
	       "memlab %.1f kB%s\n", (double)pgd[ROUNDS / 2] / CHILDREN, pgd[ROUNDS / 2], CHILDREN,
	       (double)ml_pgd / CHILDREN, host_has_pti() ? ", twice that with the host's PTI" : "");
	if (!r[0].refreshed)
		printf("  not compared: vm.stat_refresh cannot be written (not root)\n");
	else if (labs(pgd[ROUNDS / 2] - ml_pgd * (host_has_pti() ? 2 : 1)) > CHILDREN)
		bad = 1;
	printf("%s\n", bad ? "FAIL" : "ok");
	return bad;
}
