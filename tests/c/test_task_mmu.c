/*
** test_task_mmu.c -- /proc/PID/{maps,smaps,smaps_rollup,status,statm}
** against Linux 6.18's formats.
**
** The expected labels and lines below were recorded from the /proc/self files of
** a Linux 6.18 x86-64 host (THP "madvise", no protection keys).  When the
** tests run on a 6.18 host they also compare the label sequences with the
** live /proc/self files; on another kernel they use the recorded ones only.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "memlab/memlab.h"
#include "mm.h"
#include "testlib.h"

#define NAME_COL 73	/* 0-based column of a maps name on 64-bit */

/* ---- recorded from Linux 6.18 ---- */

static const char *const smaps_labels_618[] = {
	"Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty",
	"Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
	"Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
	"ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
	"Swap", "SwapPss", "Locked", "THPeligible", "VmFlags", NULL
};

static const char *const rollup_labels_618[] = {
	"Rss", "Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem",
	"Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
	"Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
	"ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
	"Swap", "SwapPss", "Locked", NULL
};

static const char *const status_labels_618[] = {
	"Name", "Umask", "State", "Tgid", "Ngid", "Pid", "PPid", "TracerPid",
	"Uid", "Gid", "FDSize", "Groups", "NStgid", "NSpid", "NSpgid", "NSsid",
	"Kthread", "VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM", "VmRSS",
	"RssAnon", "RssFile", "RssShmem", "VmData", "VmStk", "VmExe", "VmLib",
	"VmPTE", "VmSwap", "HugetlbPages", "CoreDumping", "THP_enabled",
	"untag_mask", "Threads", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn",
	"SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
	"Seccomp", "Seccomp_filters", "Speculation_Store_Bypass",
	"SpeculationIndirectBranch", "Cpus_allowed", "Cpus_allowed_list",
	"Mems_allowed", "Mems_allowed_list", "voluntary_ctxt_switches",
	"nonvoluntary_ctxt_switches", NULL
};

/* ---- helpers ---- */

/* A task on a fresh machine, ASLR off. */
static memlab_machine *mk(memlab_task **t, int root)
{
	struct memlab_config cfg;
	struct memlab_spawn_args a;
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	if (memlab_create(&cfg, &m))
		return NULL;
	memset(&a, 0, sizeof(a));
	a.name = "demo";
	a.aslr = 0;
	a.root = root;
	if (memlab_spawn(m, &a, t)) {
		memlab_destroy(m);
		return NULL;
	}
	return m;
}

/* The task's file as text (free with memlab_free_text), NULL on error. */
static char *proc_text(memlab_machine *m, memlab_task *t, const char *file)
{
	char path[64], *text = NULL;

	snprintf(path, sizeof(path), "%d/%s", memlab_task_pid(t), file);
	if (memlab_proc(m, path, &text, NULL))
		return NULL;
	return text;
}

/* Copy line n (0-based) of text into buf; 0 when there is no such line. */
static int nth_line(const char *text, int n, char *buf, size_t size)
{
	const char *p = text, *e;

	for (; n > 0 && p; n--) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return 0;
	e = strchr(p, '\n');
	if (!e)
		e = p + strlen(p);
	snprintf(buf, size, "%.*s", (int)(e - p), p);
	return 1;
}

/* The line of text that starts with prefix, copied into buf; 0 if none. */
static int line_starting(const char *text, const char *prefix, char *buf, size_t size)
{
	char line[512];

	for (int i = 0; nth_line(text, i, line, sizeof(line)); i++) {
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			snprintf(buf, size, "%s", line);
			return 1;
		}
	}
	return 0;
}

static int count_lines_with(const char *text, const char *needle)
{
	char line[512];
	int n = 0;

	for (int i = 0; nth_line(text, i, line, sizeof(line)); i++)
		n += strstr(line, needle) != NULL;
	return n;
}

/* "start-end " of a VMA, as maps begins its line. */
static void range_prefix(char *buf, size_t size, uint64_t start, uint64_t end)
{
	snprintf(buf, size, "%08llx-%08llx ", (unsigned long long)start, (unsigned long long)end);
}

/*
** The labels ("Rss" of "Rss:   ...") of the lines first..first+n-1 of
** text, or up to the end with n < 0, joined by ','.
*/
static void labels_of(const char *text, int first, int n, char *out, size_t size)
{
	char line[512];

	out[0] = '\0';
	for (int i = first; (n < 0 || i < first + n) && nth_line(text, i, line, sizeof(line)); i++) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		if (strlen(out) + strlen(line) + 2 < size) {
			strcat(out, line);
			strcat(out, ",");
		}
	}
}

static void join(const char *const *labels, char *out, size_t size)
{
	out[0] = '\0';
	for (; *labels; labels++) {
		if (strlen(out) + strlen(*labels) + 2 < size) {
			strcat(out, *labels);
			strcat(out, ",");
		}
	}
}

/* The host's file, when the host runs Linux 6.18 (else NULL). */
static char *host_file_618(const char *path)
{
	struct utsname u;
	static char buf[65536];
	FILE *f;
	size_t n;

	if (uname(&u) || strncmp(u.release, "6.18", 4) != 0 ||
	    (u.release[4] != '.' && u.release[4] != '-'))
		return NULL;
	if (!(f = fopen(path, "r")))
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* ---- maps ---- */

/*
** An unnamed anonymous mapping: "... 00:00 0 " with the trailing space
** and nothing after; a named line has its name at column 73, after
** spaces, with the character before the padding being the inode's space.
*/
TEST(maps_columns)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	uint64_t a;
	char pre[64], line[512], *text;
	int named = 0, nlines;

	ASSERT(m);
	ASSERT_OK(memlab_mmap(t, 0, 8192, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &a));
	text = proc_text(m, t, "maps");
	ASSERT(text);
	range_prefix(pre, sizeof(pre), a, a + 8192);
	ASSERT(line_starting(text, pre, line, sizeof(line)));
	ASSERT_STREQ(line + strlen(pre), "rw-p 00000000 00:00 0 ");
	for (nlines = 0; nth_line(text, nlines, line, sizeof(line)); nlines++) {
		size_t len = strlen(line);

		ASSERT(len >= 38);
		if (len > NAME_COL) {
			named++;
			ASSERT(line[NAME_COL - 1] == ' ');
			ASSERT(line[NAME_COL] != ' ');
		} else {
			ASSERT(line[len - 1] == ' ');
			ASSERT(line[len - 2] != ' ');
		}
	}
	ASSERT(named >= 3);		/* the image, [heap] or [stack], ... */
	ASSERT(text[strlen(text) - 1] == '\n');
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* A private file mapping at an offset: offset, device and inode of the file. */
TEST(maps_file_mapping)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	memlab_file *f;
	struct memlab_vma_info vi[256];
	size_t n;
	uint64_t a;
	char pre[64], want[512], line[512], *text;
	int found = 0;

	ASSERT(m);
	ASSERT_OK(memlab_file_create(m, "/srv/data.bin", 65536, 0, &f));
	ASSERT_OK(memlab_mmap(t, 0, 8192, MEMLAB_PROT_READ, MEMLAB_MAP_PRIVATE, f, 0x3000, &a));
	n = memlab_vmas(t, vi, 256);
	for (size_t i = 0; i < n && i < 256; i++) {
		if (vi[i].start != a)
			continue;
		found = 1;
		ASSERT(vi[i].inode != 0);
		snprintf(want, sizeof(want), "%012llx-%012llx r--p 00003000 %02x:%02x %llu",
			 (unsigned long long)a, (unsigned long long)a + 8192,
			 vi[i].dev_major, vi[i].dev_minor, (unsigned long long)vi[i].inode);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%*s/srv/data.bin",
			 (int)(NAME_COL - strlen(want)), "");
	}
	ASSERT(found);
	text = proc_text(m, t, "maps");
	ASSERT(text);
	range_prefix(pre, sizeof(pre), a, a + 8192);
	ASSERT(line_starting(text, pre, line, sizeof(line)));
	ASSERT_STREQ(line, want);
	ASSERT(strncmp(line + NAME_COL, "/srv/data.bin", 13) == 0);
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* MAP_SHARED|MAP_ANONYMOUS: the shmem object, "/dev/zero (deleted)" on 00:01. */
TEST(maps_shared_anonymous)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	uint64_t a;
	char pre[64], line[512], *text;

	ASSERT(m);
	ASSERT_OK(memlab_mmap(t, 0, 4096, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_SHARED | MEMLAB_MAP_ANONYMOUS, NULL, 0, &a));
	text = proc_text(m, t, "maps");
	ASSERT(text);
	range_prefix(pre, sizeof(pre), a, a + 4096);
	ASSERT(line_starting(text, pre, line, sizeof(line)));
	ASSERT(strncmp(line + strlen(pre), "rw-s 00000000 00:01 ", 20) == 0);
	ASSERT(strlen(line) > NAME_COL);
	ASSERT_STREQ(line + NAME_COL, "/dev/zero (deleted)");
	ASSERT(line[NAME_COL - 1] == ' ');
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* [heap] once the break moved, on the VMA around it; [stack] around start_stack. */
TEST(maps_heap_and_stack)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	struct memlab_mm_info mi;
	struct memlab_vma_info vi[256];
	uint64_t old;
	size_t n;
	char pre[64], line[512], *text;
	int heap = 0, stack = 0;

	ASSERT(m);
	text = proc_text(m, t, "maps");
	ASSERT(text);
	ASSERT_EQ(count_lines_with(text, "[heap]"), 0);	/* brk == start_brk */
	ASSERT_EQ(count_lines_with(text, "[stack]"), 1);
	memlab_free_text(m, text);

	ASSERT_OK(memlab_sbrk(t, 5 * 4096, &old));
	ASSERT_OK(memlab_mm_info(t, &mi));
	text = proc_text(m, t, "maps");
	ASSERT(text);
	ASSERT_EQ(count_lines_with(text, "[heap]"), 1);
	ASSERT_EQ(count_lines_with(text, "[stack]"), 1);
	n = memlab_vmas(t, vi, 256);
	for (size_t i = 0; i < n && i < 256; i++) {
		range_prefix(pre, sizeof(pre), vi[i].start, vi[i].end);
		ASSERT(line_starting(text, pre, line, sizeof(line)));
		if (vi[i].start < mi.brk && vi[i].end > mi.start_brk) {
			heap = 1;
			ASSERT(strlen(line) > NAME_COL);
			ASSERT_STREQ(line + NAME_COL, "[heap]");
			ASSERT(strncmp(line + strlen(pre), "rw-p 00000000 00:00 0 ", 22) == 0);
		}
		if (vi[i].start <= mi.start_stack && vi[i].end >= mi.start_stack) {
			stack = 1;
			ASSERT(strlen(line) > NAME_COL);
			ASSERT_STREQ(line + NAME_COL, "[stack]");
		}
	}
	ASSERT(heap && stack);
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* x86-64's vsyscall page closes maps, as in Linux (the host's line). */
TEST(maps_gate_vma)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	char *text;
	const char *last;
	const char *want = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0"
			   "                  [vsyscall]\n";

	ASSERT(m);
	text = proc_text(m, t, "maps");
	ASSERT(text);
	ASSERT(strlen(text) > strlen(want));
	last = text + strlen(text) - strlen(want);
	ASSERT(last[-1] == '\n');
	ASSERT_STREQ(last, want);
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* ---- smaps ---- */

/*
** The block of an anonymous VMA: the labels of Linux 6.18 in order, each
** value line exactly 27 characters ("Label:" padded to 16, 8 digits,
** " kB"; Private_Hugetlb 17 + 7), THPeligible 24, VmFlags ending in a
** space; and every block header equals the maps line.
*/
TEST(smaps_fields)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	uint64_t a;
	char pre[64], line[512], want[1024], got[1024], *smaps, *maps, *host;
	int first = -1, nmaps = 0, nblocks = 0;

	ASSERT(m);
	ASSERT_OK(memlab_mmap(t, 0, 3 * 4096, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &a));
	smaps = proc_text(m, t, "smaps");
	maps = proc_text(m, t, "maps");
	ASSERT(smaps && maps);
	range_prefix(pre, sizeof(pre), a, a + 3 * 4096);
	for (int i = 0; nth_line(smaps, i, line, sizeof(line)); i++) {
		if (strncmp(line, pre, strlen(pre)) == 0)
			first = i + 1;
	}
	ASSERT(first > 0);
	labels_of(smaps, first, 24, got, sizeof(got));
	join(smaps_labels_618, want, sizeof(want));
	ASSERT_STREQ(got, want);
	for (int i = first; i < first + 24; i++) {
		ASSERT(nth_line(smaps, i, line, sizeof(line)));
		if (strncmp(line, "THPeligible:", 12) == 0)
			ASSERT_STREQ(line, "THPeligible:           0");
		else if (strncmp(line, "VmFlags:", 8) == 0)
			ASSERT(strncmp(line, "VmFlags: rd wr ", 15) == 0 && line[strlen(line) - 1] == ' ');
		else
			ASSERT_EQ(strlen(line), 27);
	}
	ASSERT(nth_line(smaps, first, line, sizeof(line)));
	ASSERT_STREQ(line, "Size:                 12 kB");
	ASSERT(nth_line(smaps, first + 18, line, sizeof(line)));
	ASSERT_STREQ(line, "Private_Hugetlb:       0 kB");

	/* every maps line heads a block of 24 field lines */
	for (int i = 0; nth_line(maps, i, line, sizeof(line)); i++) {
		char hdr[512];

		nmaps++;
		ASSERT(nth_line(smaps, i * 25, hdr, sizeof(hdr)));
		ASSERT_STREQ(hdr, line);
	}
	while (nth_line(smaps, nblocks * 25, line, sizeof(line)))
		nblocks++;
	ASSERT_EQ(nblocks, nmaps);

	/* the live host's labels for its first VMA, on 6.18 */
	if ((host = host_file_618("/proc/self/smaps"))) {
		labels_of(host, 1, 24, got, sizeof(got));
		ASSERT_STREQ(got, want);
	}
	memlab_free_text(m, smaps);
	memlab_free_text(m, maps);
	memlab_destroy(m);
}

/* The header spans the first to the last VMA (not the gate VMA); the labels are 6.18's. */
TEST(smaps_rollup)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	struct memlab_vma_info vi[256];
	size_t n;
	char want[256], got[1024], line[512], *text, *host;

	ASSERT(m);
	n = memlab_vmas(t, vi, 256);
	ASSERT(n >= 2 && n <= 256);
	text = proc_text(m, t, "smaps_rollup");
	ASSERT(text);
	snprintf(want, sizeof(want), "%08llx-%08llx ---p 00000000 00:00 0",
		 (unsigned long long)vi[0].start, (unsigned long long)vi[n - 1].end);
	snprintf(want + strlen(want), sizeof(want) - strlen(want), "%*s[rollup]",
		 (int)(NAME_COL - strlen(want)), "");
	ASSERT(nth_line(text, 0, line, sizeof(line)));
	ASSERT_STREQ(line, want);
	labels_of(text, 1, -1, got, sizeof(got));
	{
		char w[1024];

		join(rollup_labels_618, w, sizeof(w));
		ASSERT_STREQ(got, w);
		if ((host = host_file_618("/proc/self/smaps_rollup"))) {
			labels_of(host, 1, -1, got, sizeof(got));
			ASSERT_STREQ(got, w);
		}
	}
	for (int i = 1; nth_line(text, i, line, sizeof(line)); i++)
		ASSERT_EQ(strlen(line), 27);
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* ---- status and statm ---- */

TEST(status_lines)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	struct memlab_mm_info mi;
	char want[2048], got[2048], line[512], expect[128], *text, *host;

	ASSERT(m);
	ASSERT_OK(memlab_mm_info(t, &mi));
	text = proc_text(m, t, "status");
	ASSERT(text);
	labels_of(text, 0, -1, got, sizeof(got));
	join(status_labels_618, want, sizeof(want));
	ASSERT_STREQ(got, want);
	if ((host = host_file_618("/proc/self/status"))) {
		labels_of(host, 0, -1, got, sizeof(got));
		ASSERT_STREQ(got, want);
	}
	ASSERT(line_starting(text, "Name:", line, sizeof(line)));
	ASSERT_STREQ(line, "Name:\tdemo");
	ASSERT(line_starting(text, "Uid:", line, sizeof(line)));
	ASSERT_STREQ(line, "Uid:\t1000\t1000\t1000\t1000");
	snprintf(expect, sizeof(expect), "Pid:\t%d", memlab_task_pid(t));
	ASSERT(line_starting(text, "Pid:", line, sizeof(line)));
	ASSERT_STREQ(line, expect);
	snprintf(expect, sizeof(expect), "VmSize:\t%8llu kB", (unsigned long long)mi.total_vm * 4);
	ASSERT(line_starting(text, "VmSize:", line, sizeof(line)));
	ASSERT_STREQ(line, expect);
	snprintf(expect, sizeof(expect), "VmData:\t%8llu kB", (unsigned long long)mi.data_vm * 4);
	ASSERT(line_starting(text, "VmData:", line, sizeof(line)));
	ASSERT_STREQ(line, expect);
	snprintf(expect, sizeof(expect), "VmStk:\t%8llu kB", (unsigned long long)mi.stack_vm * 4);
	ASSERT(line_starting(text, "VmStk:", line, sizeof(line)));
	ASSERT_STREQ(line, expect);
	ASSERT(line_starting(text, "Groups:", line, sizeof(line)));
	ASSERT_STREQ(line, "Groups:\t ");
	ASSERT(line_starting(text, "untag_mask:", line, sizeof(line)));
	ASSERT_STREQ(line, "untag_mask:\t0xffffffffffffffff");
	memlab_free_text(m, text);
	memlab_destroy(m);

	/* a root task: uid 0 and every capability */
	m = mk(&t, 1);
	ASSERT(m);
	text = proc_text(m, t, "status");
	ASSERT(text);
	ASSERT(line_starting(text, "Uid:", line, sizeof(line)));
	ASSERT_STREQ(line, "Uid:\t0\t0\t0\t0");
	ASSERT(line_starting(text, "CapEff:", line, sizeof(line)));
	ASSERT_STREQ(line, "CapEff:\t000001ffffffffff");
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* VmPeak stays at the high-water mark after munmap; VmSize goes down. */
TEST(status_peak)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	struct memlab_mm_info before, after;
	uint64_t a;
	char expect[128], line[512], *text;

	ASSERT(m);
	ASSERT_OK(memlab_mmap(t, 0, 1 << 20, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &a));
	ASSERT_OK(memlab_mm_info(t, &before));
	ASSERT_OK(memlab_munmap(t, a, 1 << 20));
	ASSERT_OK(memlab_mm_info(t, &after));
	text = proc_text(m, t, "status");
	ASSERT(text);
	snprintf(expect, sizeof(expect), "VmPeak:\t%8llu kB", (unsigned long long)before.total_vm * 4);
	ASSERT(line_starting(text, "VmPeak:", line, sizeof(line)));
	ASSERT_STREQ(line, expect);
	snprintf(expect, sizeof(expect), "VmSize:\t%8llu kB", (unsigned long long)after.total_vm * 4);
	ASSERT(line_starting(text, "VmSize:", line, sizeof(line)));
	ASSERT_STREQ(line, expect);
	memlab_free_text(m, text);
	memlab_destroy(m);
}

TEST(statm_fields)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	struct memlab_mm_info mi;
	unsigned long long f[8];
	char *text;

	ASSERT(m);
	ASSERT_OK(memlab_mm_info(t, &mi));
	text = proc_text(m, t, "statm");
	ASSERT(text);
	ASSERT_EQ(sscanf(text, "%llu %llu %llu %llu %llu %llu %llu %llu",
			 &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]), 7);
	ASSERT_EQ(count_lines_with(text, " "), 1);
	ASSERT(text[strlen(text) - 1] == '\n');
	ASSERT_EQ(f[0], mi.total_vm);
	ASSERT_EQ(f[1], mi.rss_anon + mi.rss_file + mi.rss_shmem);
	ASSERT_EQ(f[2], mi.rss_file + mi.rss_shmem);
	ASSERT_EQ(f[3], ((mi.end_code + 4095) & ~4095ull) / 4096 - mi.start_code / 4096);
	ASSERT_EQ(f[4], 0);
	ASSERT_EQ(f[5], mi.data_vm + mi.stack_vm);
	ASSERT_EQ(f[6], 0);
	memlab_free_text(m, text);
	memlab_destroy(m);
}

/* Unknown pids and files, malformed pids, an exited task: ENOENT. */
TEST(enoent)
{
	memlab_task *t;
	memlab_machine *m = mk(&t, 0);
	char path[64], *text = (char *)1;
	int pid;

	ASSERT(m);
	pid = memlab_task_pid(t);
	snprintf(path, sizeof(path), "%d/pagemap", pid);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	ASSERT(text == NULL);
	snprintf(path, sizeof(path), "%d/", pid);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	snprintf(path, sizeof(path), "%d", pid);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	snprintf(path, sizeof(path), "%d-maps", pid);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	snprintf(path, sizeof(path), "0%d/maps", pid);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	snprintf(path, sizeof(path), "%d/maps", pid + 1000);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	ASSERT_EQ(memlab_proc(m, "99999999999/maps", &text, NULL), -MEMLAB_ENOENT);
	snprintf(path, sizeof(path), "%d/maps", pid);
	ASSERT_OK(memlab_proc(m, path, &text, NULL));
	memlab_free_text(m, text);
	memlab_task_exit(t);
	ASSERT_EQ(memlab_proc(m, path, &text, NULL), -MEMLAB_ENOENT);
	memlab_destroy(m);
}

/* ---- the renderer on hand-built VMAs (the host's own lines) ---- */

/*
** vma_name()'s order and the host's lines for the same VMAs, byte for
** byte: the maps of cat(1) on the Linux 6.18 host.
*/
TEST(golden_lines)
{
	struct memlab_config cfg;
	memlab_machine *m;
	struct mm_struct mm;
	struct memlab_task t;
	struct memlab_file exe, zero;
	struct vm_area_struct v[7];
	struct strbuf sb;
	char name[32], *text;
	const char *want =
		"55686fe6b000-55686fe70000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
		"55686fe75000-55686fe77000 rw-p 00000000 00:00 0 \n"
		"556898e6c000-556898e8d000 rw-p 00000000 00:00 0                          [heap]\n"
		"7f303ca22000-7f303ca44000 rw-p 00000000 00:00 0 \n"
		"7f303ca44000-7f303ca45000 rw-s 00000000 00:01 1042                       /dev/zero (deleted)\n"
		"7f303cc9a000-7f303cc9c000 r-xp 00000000 00:00 0                          [vdso]\n"
		"7ffc5509b000-7ffc550bc000 rw-p 00000000 00:00 0                          [stack]\n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

	memlab_config_init(&cfg);
	ASSERT_OK(memlab_create(&cfg, &m));
	memset(&mm, 0, sizeof(mm));
	memset(&t, 0, sizeof(t));
	memset(&exe, 0, sizeof(exe));
	memset(&zero, 0, sizeof(zero));
	memset(v, 0, sizeof(v));
	t.m = m;
	t.pid = 7;
	t.mm = &mm;
	snprintf(exe.path, sizeof(exe.path), "/usr/bin/cat");
	exe.dev_major = 0xfe;
	exe.ino = 247134;
	snprintf(zero.path, sizeof(zero.path), "/dev/zero");
	zero.dev_minor = 1;
	zero.ino = 1042;
	zero.shmem = zero.deleted = true;
	v[0] = (struct vm_area_struct){ .vm_start = 0x55686fe6b000, .vm_end = 0x55686fe70000,
		.vm_flags = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC,
		.vm_pgoff = 2, .vm_file = &exe };
	/* bss: ends where the break starts, so it is not the heap */
	v[1] = (struct vm_area_struct){ .vm_start = 0x55686fe75000, .vm_end = 0x55686fe77000,
		.vm_flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT, .vm_pgoff = 0x55686fe75 };
	v[2] = (struct vm_area_struct){ .vm_start = 0x556898e6c000, .vm_end = 0x556898e8d000,
		.vm_flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT, .vm_pgoff = 0x556898e6c };
	v[3] = (struct vm_area_struct){ .vm_start = 0x7f303ca22000, .vm_end = 0x7f303ca44000,
		.vm_flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT, .vm_pgoff = 0x7f303ca22 };
	v[4] = (struct vm_area_struct){ .vm_start = 0x7f303ca44000, .vm_end = 0x7f303ca45000,
		.vm_flags = VM_DATA_DEFAULT_FLAGS | VM_SHARED | VM_MAYSHARE, .vm_file = &zero };
	v[5] = (struct vm_area_struct){ .vm_start = 0x7f303cc9a000, .vm_end = 0x7f303cc9c000,
		.vm_flags = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_DONTEXPAND,
		.special_name = "[vdso]" };
	v[6] = (struct vm_area_struct){ .vm_start = 0x7ffc5509b000, .vm_end = 0x7ffc550bc000,
		.vm_flags = VM_STACK_FLAGS };
	for (int i = 0; i < 7; i++) {
		v[i].vm_mm = &mm;
		v[i].vm_next = i < 6 ? &v[i + 1] : NULL;
		v[i].vm_prev = i ? &v[i - 1] : NULL;
	}
	mm.mmap = &v[0];
	mm.map_count = 7;
	mm.start_brk = 0x55686fe77000;	/* a randomized break: start_brk below the heap VMA */
	mm.brk = 0x556898e8d000;
	mm.start_stack = 0x7ffc550bb2a0;

	sb_init(&sb, m);
	ASSERT_OK(task_mmu_show(&t, "maps", &sb));
	ASSERT_OK(sb_finish(&sb, &text, NULL));
	ASSERT_STREQ(text, want);
	memlab_free_text(m, text);

	/* the VmFlags of the host's heap, stack and vdso; THPeligible of MADV_HUGEPAGE */
	v[3].vm_start = 0x7f3000000000;		/* 0x7f3000000000-0x7f303ca44000 holds huge pages */
	sb_init(&sb, m);
	ASSERT_OK(task_mmu_show(&t, "smaps", &sb));
	ASSERT_OK(sb_finish(&sb, &text, NULL));
	ASSERT(!strstr(text, "THPeligible:           1"));	/* THP "madvise": no VM_HUGEPAGE, no THP */
	memlab_free_text(m, text);
	v[3].vm_flags |= VM_HUGEPAGE;
	sb_init(&sb, m);
	ASSERT_OK(task_mmu_show(&t, "smaps", &sb));
	ASSERT_OK(sb_finish(&sb, &text, NULL));
	ASSERT(strstr(text, "[heap]\nSize:                132 kB\n"));
	ASSERT(strstr(text, "THPeligible:           0\nVmFlags: rd wr mr mw me ac \n7f3000000000"));
	ASSERT(strstr(text, "THPeligible:           1\nVmFlags: rd wr mr mw me ac hg \n"));
	ASSERT(strstr(text, "VmFlags: rd wr sh mr mw me ms \n"));
	ASSERT(strstr(text, "VmFlags: rd ex mr mw me de \n"));
	ASSERT(strstr(text, "VmFlags: rd wr mr mw me gd ac \n"));
	ASSERT(strstr(text, "[vsyscall]\nSize:                  4 kB\n"));
	ASSERT(strstr(text, "VmFlags: ex \n"));
	memlab_free_text(m, text);

	/* a 1 MiB MADV_HUGEPAGE VMA cannot hold a 2 MiB page */
	v[3].vm_start = 0x7f303c944000;
	sb_init(&sb, m);
	ASSERT_OK(task_mmu_show(&t, "smaps", &sb));
	ASSERT_OK(sb_finish(&sb, &text, NULL));
	ASSERT(!strstr(text, "THPeligible:           1"));
	memlab_free_text(m, text);

	/* vma_name: file first, then special, heap, stack; truncation */
	vma_name(&v[4], name, sizeof(name));
	ASSERT_STREQ(name, "/dev/zero (deleted)");
	vma_name(&v[4], name, 8);
	ASSERT_STREQ(name, "/dev/ze");
	vma_name(&v[2], name, sizeof(name));
	ASSERT_STREQ(name, "[heap]");
	v[2].special_name = "[vvar]";
	vma_name(&v[2], name, sizeof(name));
	ASSERT_STREQ(name, "[vvar]");
	vma_name(&v[6], name, sizeof(name));
	ASSERT_STREQ(name, "[stack]");
	vma_name(&v[3], name, sizeof(name));
	ASSERT_STREQ(name, "");
	vma_name(&v[1], name, sizeof(name));
	ASSERT_STREQ(name, "");		/* ends at start_brk: not the heap (6.x is exclusive) */
	sb_init(&sb, m);
	ASSERT_EQ(task_mmu_show(&t, "mapz", &sb), -MEMLAB_ENOENT);
	ASSERT_EQ(sb.len, 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(golden_lines);
	RUN(maps_columns);
	RUN(maps_file_mapping);
	RUN(maps_shared_anonymous);
	RUN(maps_heap_and_stack);
	RUN(maps_gate_vma);
	RUN(smaps_fields);
	RUN(smaps_rollup);
	RUN(status_lines);
	RUN(status_peak);
	RUN(statm_fields);
	RUN(enoent);
	return test_summary();
}
