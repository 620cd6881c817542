/*
** diff_stack.c -- every task's kernel stack, on the host and in memlab:
** what 64 forked children add to KernelStack, and the /proc/vmallocinfo
** line of a stack.
**
**   diff_stack [-v]
**
** The host forks 64 children that wait, reads /proc/meminfo's KernelStack
** and /proc/vmallocinfo, kills them, reads again; three rounds, the median
** taken (other processes start and end threads meanwhile).  memlab's
** process forks 64 children the same way.  Compared:
**   - KernelStack per child: the host's rise over 64, rounded to kB, and
**     memlab's (16 kB on x86-64: THREAD_SIZE);
**   - a stack's vmallocinfo line without its address: the size with the
**     guard page, the caller's function, "pages=4 vmalloc N0=4" (the
**     caller's offsets depend on the kernel's build: the host's text is
**     printed, memlab's is the reference host's, kernel_clone+0x94/0x3e0);
**   - the stacks' lines appear one per child on each side, but for those
**     the forking CPU had cached (two: memlab's process first forks two
**     children that exit, as the host's CPUs have seen many).
** Exit 0 when all agree, 1 when one differs, 77 when the host cannot say
** (no /proc/vmallocinfo, or no stack line in it: not CONFIG_VMAP_STACK).
*/
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diff_common.h"

#define CHILDREN	64
#define ROUNDS		3

static int verbose;

/* ===================== the host ===================== */

static long meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
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

/*
** The vmallocinfo lines whose caller is func ("kernel_clone+"): their
** count, and the first one's text after the address into rest.
*/
static int stack_lines(const char *text, const char *func, char *rest, size_t size)
{
	int n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *sp = strchr(l, ' '), *end = strchr(l, '\n');
		const char *hit = strstr(l, func);

		if (!hit || (end && hit > end) || !sp)
			continue;
		if (!n++ && rest) {
			while (*sp == ' ')
				sp++;
			snprintf(rest, size, "%.*s", (int)(end ? end - sp : (long)strlen(sp)), sp);
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

/* The stack's caller on this kernel: the most frequent caller of "pages=4 vmalloc" lines. */
static int host_caller(const char *text, char *func, size_t size)
{
	char best[128] = "";
	int best_n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char caller[128], name[128];
		int n;

		if (sscanf(l, "%*s %*d %127s pages=4 vmalloc", caller) != 1 ||
		    !strstr(l, "pages=4 vmalloc"))
			continue;
		snprintf(name, sizeof(name), "%.*s+", (int)strcspn(caller, "+"), caller);
		n = stack_lines(text, name, NULL, 0);
		if (n > best_n) {
			best_n = n;
			snprintf(best, sizeof(best), "%s", name);
		}
	}
	snprintf(func, size, "%s", best);
	return best_n;
}

struct host_round {
	long stack_kb;		/* KernelStack with the children, less without */
	int lines;		/* stack lines with the children, less without */
};

static int host_round(const char *func, struct host_round *r, char *line, size_t size)
{
	pid_t kids[CHILDREN];
	long before = meminfo_kb("KernelStack"), with;
	char *info0 = read_all("/proc/vmallocinfo"), *info1;
	int n0 = stack_lines(info0, func, NULL, 0), n1;

	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
		if (kids[i] < 0)
			return -1;
	}
	usleep(50000);
	with = meminfo_kb("KernelStack");
	info1 = read_all("/proc/vmallocinfo");
	n1 = stack_lines(info1, func, line, size);
	for (int i = 0; i < CHILDREN; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < CHILDREN; i++)
		waitpid(kids[i], NULL, 0);
	usleep(200000);		/* their stacks are freed after an RCU grace period */
	r->stack_kb = with - before;
	r->lines = n1 - n0;
	free(info0);
	free(info1);
	return 0;
}

/* ===================== memlab ===================== */

static int memlab_side(long *stack_kb, int *lines, char *line, size_t size)
{
	memlab_machine *m;
	memlab_task *p, *kids[CHILDREN];
	char *text = NULL;
	size_t len;
	long before;
	int n0, err;

	if ((err = diff_machine(&m, NULL, NULL)))
		return err;
	if ((err = memlab_spawn(m, NULL, &p)))
		return err;
	for (int i = 0; i < 2; i++) {	/* the CPU's cache of two stacks, full */
		if ((err = memlab_fork(p, &kids[i])))
			return err;
	}
	memlab_task_exit(kids[0]);
	memlab_task_exit(kids[1]);
	memlab_proc(m, "meminfo", &text, &len);
	before = atol(strstr(text, "KernelStack:") + 12);
	memlab_free_text(m, text);
	memlab_proc(m, "vmallocinfo", &text, &len);
	n0 = stack_lines(text, "kernel_clone+", NULL, 0);
	memlab_free_text(m, text);
	for (int i = 0; i < CHILDREN; i++)
		if ((err = memlab_fork(p, &kids[i])))
			return err;
	memlab_proc(m, "meminfo", &text, &len);
	*stack_kb = atol(strstr(text, "KernelStack:") + 12) - before;
	memlab_free_text(m, text);
	memlab_proc(m, "vmallocinfo", &text, &len);
	*lines = stack_lines(text, "kernel_clone+", line, size) - n0;
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

/* The line's text after its size's first field and caller: "20480", "pages=4 vmalloc N0=4". */
static void split_line(const char *line, char *size_field, char *tail, char *caller)
{
	size_field[0] = tail[0] = caller[0] = 0;
	sscanf(line, "%63s %127s", size_field, caller);
	const char *t = strstr(line, "pages=");

	snprintf(tail, 64, "%s", t ? t : "");
}

int main(int argc, char **argv)
{
	struct host_round r[ROUNDS];
	long kb[ROUNDS], ml_kb;
	char func[128], hline[256] = "", mline[256] = "";
	char hsize[64], htail[64], hcaller[128], msize[64], mtail[64], mcaller[128];
	int lines[ROUNDS], ml_lines, bad = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	verbose = argc > 1 && !strcmp(argv[1], "-v");
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
	}
	qsort(kb, ROUNDS, sizeof(*kb), compare_longs);
	if (memlab_side(&ml_kb, &ml_lines, mline, sizeof(mline))) {
		printf("FAIL: memlab's side failed\n");
		return 1;
	}
	split_line(hline, hsize, htail, hcaller);
	split_line(mline, msize, mtail, mcaller);
	if (verbose)
		printf("host:   %s\nmemlab: %s\n", hline, mline);
	printf("KernelStack per child: host %ld kB (%ld kB for %d), memlab %ld kB\n",
	       (kb[ROUNDS / 2] + CHILDREN / 2) / CHILDREN, kb[ROUNDS / 2], CHILDREN,
	       ml_kb / CHILDREN);
	if ((kb[ROUNDS / 2] + CHILDREN / 2) / CHILDREN != ml_kb / CHILDREN || ml_kb % CHILDREN)
		bad = 1;
	printf("a stack's line: host \"%s %s %s\", memlab \"%s %s %s\"\n", hsize, hcaller, htail,
	       msize, mcaller, mtail);
	if (strcmp(hsize, msize) || strcmp(htail, mtail) ||
	    strncmp(hcaller, mcaller, strcspn(mcaller, "+") + 1))
		bad = 1;
	for (int i = 0; i < ROUNDS; i++)
		if (lines[i] < CHILDREN - 2 * cpus || lines[i] > CHILDREN) {
			printf("round %d: the host shows %d stack lines more, not %d (less what %ld CPUs"
			       " cached)\n", i, lines[i], CHILDREN, cpus);
			bad = 1;
		}
	printf("stack lines: host +%d +%d +%d, memlab +%d\n", lines[0], lines[1], lines[2],
	       ml_lines);
	if (ml_lines != CHILDREN - 2)
		bad = 1;
	printf("%s\n", bad ? "FAIL" : "ok");
	return bad;
}
