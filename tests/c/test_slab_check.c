/*
** test_slab_check.c -- memlab_check() knows the slab allocator's books
** (core/slab.c slab_check): a machine with objects on CPU slabs, CPU
** partial lists and the node's partial list is clean; a slab's inuse, the
** node's partial count, a slab's frozen bit or the slab page counter
** broken by hand is the violation that says so.
*/
#include <stdio.h>
#include <string.h>

#include "memlab/memlab.h"
#include "slab.h"
#include "vmstat.h"
#include "testlib.h"

#define NOBJ	200

static uint64_t objs[NOBJ];

/* A cache of 512-byte objects: NOBJ allocated, every 8th freed (partial slabs everywhere). */
static memlab_machine *setup(memlab_kmem_cache **sp)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;
	memlab_kmem_cache *s;

	memlab_config_init(&cfg);
	cfg.ram = 64ull << 20;
	if (memlab_create(&cfg, &m) ||
	    memlab_kmem_cache_create(m, "t", 512, NULL, MEMLAB_SLAB_NO_MERGE, &s))
		return NULL;
	for (int i = 0; i < NOBJ; i++)
		if (memlab_kmem_cache_alloc(m, s, MEMLAB_GFP_KERNEL, NULL, &objs[i]))
			return NULL;
	for (int i = 0; i < NOBJ; i += 8)
		if (memlab_kmem_cache_free(m, s, objs[i], NULL))
			return NULL;
	*sp = s;
	return m;
}

TEST(clean)
{
	memlab_kmem_cache *s;
	memlab_machine *m = setup(&s);
	struct memlab_kmem_cache_info info;

	ASSERT(m);
	memlab_kmem_cache_info(m, s, &info);
	ASSERT(info.partial > 0);		/* some reached the node's list */
	ASSERT(info.cpu_slabs > 1);		/* and some the CPU's */
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(slab_inuse)
{
	memlab_kmem_cache *s;
	memlab_machine *m = setup(&s);

	ASSERT(m);
	s->node.partial->inuse++;
	ASSERT(check_finds(m, "on its freelist"));
	s->node.partial->inuse--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(nr_partial)
{
	memlab_kmem_cache *s;
	memlab_machine *m = setup(&s);

	ASSERT(m);
	s->node.nr_partial++;
	ASSERT(check_finds(m, "slab t: nr_partial"));
	s->node.nr_partial--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(frozen_partial)
{
	memlab_kmem_cache *s;
	memlab_machine *m = setup(&s);

	ASSERT(m);
	s->cpu_slab[0].partial->frozen = true;
	ASSERT(check_finds(m, "partial list is frozen"));
	s->cpu_slab[0].partial->frozen = false;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

TEST(slab_pages_counter)
{
	memlab_kmem_cache *s;
	memlab_machine *m = setup(&s);

	ASSERT(m);
	m->vmstat[NR_SLAB_UNRECLAIMABLE]++;
	ASSERT(check_finds(m, "nr_slab_unreclaimable"));
	m->vmstat[NR_SLAB_UNRECLAIMABLE]--;
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

/* Every object freed and the cache shrunk and destroyed: the pages are back. */
TEST(all_back)
{
	memlab_kmem_cache *s;
	memlab_machine *m = setup(&s);
	uint64_t v = 1;

	ASSERT(m);
	for (int i = 0; i < NOBJ; i++)
		if (i % 8)
			ASSERT_EQ(memlab_kmem_cache_free(m, s, objs[i], NULL), 0);
	ASSERT_EQ(memlab_kmem_cache_destroy(m, s), 0);
	ASSERT_EQ(memlab_vmstat_get(m, "nr_slab_unreclaimable", &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(check_count(m), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(clean);
	RUN(slab_inuse);
	RUN(nr_partial);
	RUN(frozen_partial);
	RUN(slab_pages_counter);
	RUN(all_back);
	return test_summary();
}
