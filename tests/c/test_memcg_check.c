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

static char reports[8192];

static void collect(void *ud, const char *msg)
{
	size_t len = strlen(reports);

	(void)ud;
	snprintf(reports + len, sizeof(reports) - len, "%s\n", msg);
}

/* A machine with a task in /box that wrote 64 pages of anonymous memory. */
static memlab_machine *setup(memlab_task **out, struct mem_cgroup **memcg)
{
	struct memlab_spawn_args args = { 0 };
	memlab_machine *m = NULL;
	uint64_t addr;
	int si_code;

	reports[0] = '\0';
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

static int check(memlab_machine *m)
{
	reports[0] = '\0';
	return memlab_check(m, collect, NULL);
}

/* m:check() finds a violation and reports text among them. */
static int violation(memlab_machine *m, const char *text)
{
	return check(m) > 0 && strstr(reports, text) != NULL;
}

TEST(clean)
{
	memlab_task *t;
	struct mem_cgroup *memcg;
	memlab_machine *m = setup(&t, &memcg);

	ASSERT(m);
	ASSERT_EQ(check(m), 0);
	ASSERT_STREQ(reports, "");
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
	ASSERT(violation(m, "memcg /box: usage"));
	memcg->memory.usage--;
	ASSERT_EQ(check(m), 0);
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
	ASSERT(violation(m, "memcg /: stat"));
	memcg->parent->stat[NR_ANON_PAGES]--;
	memcg->stat_local[NR_INACTIVE_ANON]++;	/* the lruvec's own count disagrees too */
	ASSERT(violation(m, "memcg /box: lru 0 holds 64 pages, its counter says 65"));
	memcg->stat_local[NR_INACTIVE_ANON]--;
	ASSERT_EQ(check(m), 0);
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
	ASSERT(violation(m, "which does not exist"));
	page->memcg_id = m->root_mem_cgroup->id;
	ASSERT(violation(m, "on id"));		/* lru_check: on /box's lists */
	page->memcg_id = id;
	ASSERT_EQ(check(m), 0);
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
	ASSERT(violation(m, "memcg /box: 2 tasks counted, 1 in it"));
	memcg->nr_tasks--;
	ASSERT_EQ(check(m), 0);
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
	ASSERT_EQ(check(m), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(clean);
	RUN(usage);
	RUN(hierarchical_stat);
	RUN(page_owner);
	RUN(tasks);
	RUN(mkdir_p_all_or_nothing);
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count != 0;
}
