/*
** test_memcg_check.c -- memlab_check() knows the memory controller's
** invariants (core/memcontrol.c memcg_check, swap.c lru_check): each
** case builds a cgroup with charged pages, breaks one rule by hand and
** expects the violation that names it; a clean machine has none.
*/
#include <stdio.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"
#include "testlib.h"

/* A machine with a task in /box that wrote 64 pages of anonymous memory. */
static memlab_machine *setup(memlab_task **out, struct mem_cgroup **memcg)
{
	struct memlab_spawn_args args = { 0 };
	memlab_machine *m = NULL;
	uint64_t addr;
	int si_code;

	check_reports[0] = '\0';
	if (memlab_create(NULL, &m))
		return NULL;
	args.name = "p";
	args.cgroup = "/box";
	if (memlab_spawn(m, &args, out) ||
	    memlab_mmap(*out, 0, 64 * 4096, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &addr) ||
	    memlab_touch(*out, addr, 64 * 4096, 'w', &si_code) ||
	    memlab_lru_add_drain_all(m))	/* every page on its list */
		return NULL;
	*memcg = (*out)->memcg;
	return m;
}

TEST(clean)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);

	ASSERT(m);
	ASSERT_EQ(check_count(m), 0);
	ASSERT_STREQ(check_reports, "");
	memlab_destroy(m);
}

/* A usage the charged pages, tables and stocks do not add up to. */
TEST(usage)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);

	ASSERT(m);
	memcg->memory.usage++;
	ASSERT(check_finds(m, "memcg /box: usage"));
	memcg->memory.usage--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* A statistic that is not its own count plus its children's. */
TEST(hierarchical_stat)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);

	ASSERT(m);
	memcg->parent->stat[NR_ANON_PAGES]++;
	ASSERT(check_finds(m, "memcg /: stat"));
	memcg->parent->stat[NR_ANON_PAGES]--;
	memcg->stat_local[NR_INACTIVE_ANON]++;	/* the lruvec's own count disagrees too */
	ASSERT(check_finds(m, "memcg /box: lru 0 holds 64 pages, its counter says 65"));
	memcg->stat_local[NR_INACTIVE_ANON]--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* A page charged to an id no memcg has, and one on another memcg's lists. */
TEST(page_owner)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);
	struct page *page;
	uint32_t id;

	ASSERT(m);	/* before the setup's memcg is read */
	page = pfn_to_page(m, memcg->lruvec.lists[LRU_INACTIVE_ANON].head);
	id = page->memcg_id;
	page->memcg_id = 999;
	ASSERT(check_finds(m, "which does not exist"));
	page->memcg_id = m->root_mem_cgroup->id;
	ASSERT(check_finds(m, "on id"));		/* lru_check: on /box's lists */
	page->memcg_id = id;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* A task count that does not match the tasks in the cgroup. */
TEST(tasks)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);

	ASSERT(m);
	memcg->nr_tasks++;
	ASSERT(check_finds(m, "memcg /box: 2 tasks counted, 1 in it"));
	memcg->nr_tasks--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* A task marked for the OOM reserves but never killed (oom_kill.c oom_check). */
TEST(oom_marked)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);

	ASSERT(m);
	t->oom_marked = true;
	ASSERT(check_finds(m, "marked an OOM victim, never killed"));
	t->oom_marked = false;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* Whether the cgroup at path exists (its memory.max can be read). */
static int exists(memlab_machine *m, const char *path)
{
	char file[512], *text;
	size_t len;

	snprintf(file, sizeof(file), "%s/memory.max", path);
	if (memlab_cgroup_read(m, file, &text, &len))
		return 0;
	memlab_free_text(m, text);
	return 1;
}

/*
** mkdir -p checks every missing component before it makes one: a bad
** one leaves nothing half-made.  A cgroup cannot take a file's name.
*/
TEST(mkdir_p_all_or_nothing)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);
	char path[400];

	ASSERT(m);
	snprintf(path, sizeof(path), "/q/r/%0300d", 0);
	ASSERT_EQ(memlab_cgroup_mkdir(m, path), -MEMLAB_ENAMETOOLONG);
	ASSERT_EQ(memlab_cgroup_mkdir(m, "/s/memory.max"), -MEMLAB_EEXIST);
	ASSERT_EQ(memlab_cgroup_mkdir(m, "/u/v/.."), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_cgroup_mkdir(m, "/box/w"), -MEMLAB_EBUSY);	/* box has a task */
	ASSERT(!exists(m, "/q") && !exists(m, "/s") && !exists(m, "/u"));
	ASSERT_EQ(memlab_cgroup_mkdir(m, "/cgroup.procs"), -MEMLAB_EEXIST);
	ASSERT_EQ(memlab_cgroup_mkdir(m, "/memory.max"), 0);	/* the root has none */
	ASSERT_EQ(memlab_cgroup_mkdir(m, "//x/./y/"), 0);
	ASSERT(exists(m, "/x/y"));
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/*
** memory.peak's counters out of order, and an open fd's peak that is
** above the global one or left off its cgroup's list.
*/
TEST(peaks)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);
	uint64_t local;
	struct cgroup_of *of;
	int fd;

	ASSERT(m);
	local = memcg->memory.local_watermark;
	memcg->memory.local_watermark = memcg->memory.usage - 1;
	ASSERT(check_finds(m, "memcg /box: usage above memory.peak's local peak"));
	memcg->memory.local_watermark = memcg->memory.watermark + 1;
	ASSERT(check_finds(m, "memcg /box: memory.peak's local peak above the global one"));
	memcg->memory.local_watermark = local;
	ASSERT_OK(memlab_cgroup_open(m, "/box/memory.peak", &fd));
	ASSERT_OK(memlab_cgroup_fd_write(m, fd, "1"));
	of = m->cgroup_ofs[fd];
	ASSERT(memcg->memory_peaks == of);
	of->value = memcg->memory.watermark + 1;
	ASSERT(check_finds(m, "memcg /box: an open memory.peak above the global peak"));
	of->value = memcg->memory.usage;
	memcg->memory_peaks = NULL;
	ASSERT(check_finds(m, "written, but not on its cgroup's list of peaks"));
	memcg->memory_peaks = of;
	ASSERT_EQ(check_count(m), 0);
	ASSERT_OK(memlab_cgroup_close(m, fd));
	ASSERT(!memcg->memory_peaks);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/*
** The fd API: open's errors, the lowest free fd, EBADF, an empty write,
** ENODEV after rmdir, and open files left for memlab_destroy to free.
*/
TEST(cgroup_fds)
{
	memlab_machine *m = NULL;
	int fd, fd2, fd3;
	char *text;
	size_t len;

	ASSERT_OK(memlab_create(NULL, &m));
	ASSERT_OK(memlab_cgroup_mkdir(m, "/c"));
	ASSERT_EQ(memlab_cgroup_open(m, "/c/memory.none", &fd), -MEMLAB_ENOENT);
	ASSERT_EQ(fd, -1);
	ASSERT_EQ(memlab_cgroup_open(m, "/memory.peak", &fd), -MEMLAB_ENOENT);
	ASSERT_OK(memlab_cgroup_open(m, "/c/memory.peak", &fd));
	ASSERT_OK(memlab_cgroup_open(m, "/c/memory.swap.peak", &fd2));
	ASSERT_EQ(fd, 0);
	ASSERT_EQ(fd2, 1);
	ASSERT_OK(memlab_cgroup_fd_read(m, fd, &text, &len));
	ASSERT_STREQ(text, "0\n");
	ASSERT_EQ(len, 2);
	memlab_free_text(m, text);
	ASSERT_OK(memlab_cgroup_fd_write(m, fd, ""));
	ASSERT(!m->root_mem_cgroup->children->memory_peaks);	/* nothing written */
	ASSERT_OK(memlab_cgroup_fd_write(m, fd, "x"));
	ASSERT(m->root_mem_cgroup->children->memory_peaks);
	ASSERT_EQ(memlab_cgroup_fd_read(m, 7, &text, &len), -MEMLAB_EBADF);
	ASSERT(!text);
	ASSERT_EQ(memlab_cgroup_fd_write(m, -1, "x"), -MEMLAB_EBADF);
	ASSERT_EQ(memlab_cgroup_close(m, 7), -MEMLAB_EBADF);
	ASSERT_OK(memlab_cgroup_rmdir(m, "/c"));
	ASSERT_EQ(memlab_cgroup_fd_read(m, fd, &text, &len), -MEMLAB_ENODEV);
	ASSERT_EQ(memlab_cgroup_fd_write(m, fd, "x"), -MEMLAB_ENODEV);
	ASSERT_OK(memlab_cgroup_close(m, fd));
	ASSERT_EQ(memlab_cgroup_close(m, fd), -MEMLAB_EBADF);
	ASSERT_OK(memlab_cgroup_mkdir(m, "/c"));
	ASSERT_OK(memlab_cgroup_open(m, "/c/memory.current", &fd3));
	ASSERT_EQ(fd3, 0);			/* the lowest free fd */
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);			/* fd2 and fd3 still open */
}

int main(void)
{
	RUN(clean);
	RUN(usage);
	RUN(hierarchical_stat);
	RUN(page_owner);
	RUN(tasks);
	RUN(oom_marked);
	RUN(mkdir_p_all_or_nothing);
	RUN(peaks);
	RUN(cgroup_fds);
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count != 0;
}
