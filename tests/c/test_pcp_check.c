/*
** test_pcp_check.c -- memlab_check() walks the pageset of every CPU
** (core/page_alloc.c check_zone_pcp): a machine with pages on CPU 1's
** lists is clean, and a count or a list of CPU 1's broken by hand is the
** violation that names that CPU.
*/
#include <stdio.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"
#include "testlib.h"

#define PG	4096ull
#define NPAGES	31	/* fills and empties the lru_add batch: munmap frees them at once */

/* Two CPUs; a task on CPU 1 wrote NPAGES pages and unmapped them: CPU 1's pcp holds them. */
static memlab_machine *setup(void)
{
	struct memlab_config cfg;
	struct memlab_spawn_args args = { 0 };
	memlab_machine *m = NULL;
	memlab_task *t;
	uint64_t addr;
	int si_code;

	memlab_config_init(&cfg);
	cfg.ram = 64ull << 20;
	cfg.cpus = 2;
	if (memlab_create(&cfg, &m))
		return NULL;
	args.name = "p";
	if (memlab_spawn(m, &args, &t) || memlab_task_run_on(t, 1) ||
	    memlab_mmap(t, 0, NPAGES * PG, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &addr) ||
	    memlab_touch(t, addr, NPAGES * PG, 'w', &si_code) ||
	    memlab_munmap(t, addr, NPAGES * PG)) {
		memlab_destroy(m);
		return NULL;
	}
	return m;
}

static struct per_cpu_pages *cpu1(memlab_machine *m)
{
	return per_cpu_pageset(&m->zones[ZONE_DMA32], 1);
}

/* Pages on CPU 1's lists, none on CPU 0's from the frees: every CPU's lists are walked. */
TEST(clean)
{
	memlab_machine *m = setup();

	ASSERT(m);
	ASSERT(cpu1(m)->count >= NPAGES);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* CPU 1's count against its lists. */
TEST(cpu1_count)
{
	memlab_machine *m = setup();

	ASSERT(m);
	cpu1(m)->count++;
	ASSERT(check_finds(m, "DMA32: cpu 1 pcp count is"));
	cpu1(m)->count--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* A block unlinked from CPU 1's list behind its count: PG_pcp on no list, and the count. */
TEST(cpu1_lost_block)
{
	memlab_machine *m = setup();
	struct free_list *list = NULL;
	uint64_t pfn;

	ASSERT(m);
	for (int i = 0; i < NR_PCP_LISTS && !list; i++)
		if (cpu1(m)->lists[i].head != PFN_NONE)
			list = &cpu1(m)->lists[i];
	ASSERT(list);
	pfn = list->head;
	pfn_list_del(m, list, pfn);
	ASSERT(check_finds(m, "is PG_pcp but on no pcp list"));
	ASSERT(strstr(check_reports, "DMA32: cpu 1 pcp count is") != NULL);
	pfn_list_add(m, list, pfn, false);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(clean);
	RUN(cpu1_count);
	RUN(cpu1_lost_block);
	return test_summary();
}
