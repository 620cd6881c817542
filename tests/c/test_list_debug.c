/*
** test_list_debug.c -- the pfn-linked lists (free, pcp, LRU) check their
** neighbours as Linux's CONFIG_DEBUG_LIST does (lib/list_debug.c
** __list_add_valid_or_report, __list_del_entry_valid_or_report), and a
** corrupted list is a kernel BUG that stops the machine, as on a kernel
** with CONFIG_BUG_ON_DATA_CORRUPTION.  The lists here are private to the
** test, made of frames it allocated; each case stops its own machine.
*/
#include <stdio.h>
#include <string.h>

#include "memlab/memlab.h"
#include "internal.h"
#include "testlib.h"

static char reports[4096];

static void collect(void *ud, const char *msg)
{
	size_t len = strlen(reports);

	(void)ud;
	snprintf(reports + len, sizeof(reports) - len, "%s\n", msg);
}

/* A machine and three frames of it, off every list; the private list empty. */
static memlab_machine *setup(uint64_t pfn[3], struct free_list *l)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	reports[0] = '\0';
	memlab_config_init(&cfg);
	cfg.ram = 64ull << 20;
	cfg.report = collect;
	if (memlab_create(&cfg, &m))
		return NULL;
	for (int i = 0; i < 3; i++)
		if (memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn[i]))
			return NULL;
	l->head = l->tail = PFN_NONE;
	return m;
}

static int dead(memlab_machine *m)
{
	struct memlab_machine_info info;

	memlab_machine_info(m, &info);
	return info.dead;
}

/* Good adds and deletes: no report, the order kept, deleted links poisoned. */
TEST(clean_operations)
{
	struct free_list l;
	uint64_t p[3];
	memlab_machine *m = setup(p, &l);

	ASSERT(m);
	pfn_list_add(m, &l, p[0], false);
	pfn_list_add(m, &l, p[1], false);
	pfn_list_add(m, &l, p[2], true);	/* p1 p0 p2 */
	ASSERT_EQ(l.head, p[1]);
	ASSERT_EQ(l.tail, p[2]);
	pfn_list_del(m, &l, p[0]);
	ASSERT_EQ(pfn_to_page(m, p[1])->lru_next, p[2]);
	ASSERT_EQ(pfn_to_page(m, p[2])->lru_prev, p[1]);
	ASSERT_EQ(pfn_to_page(m, p[0])->lru_next, PFN_POISON1);
	ASSERT_EQ(pfn_to_page(m, p[0])->lru_prev, PFN_POISON2);
	pfn_list_del(m, &l, p[1]);
	pfn_list_del(m, &l, p[2]);
	ASSERT_EQ(l.head, PFN_NONE);
	ASSERT_EQ(l.tail, PFN_NONE);
	ASSERT_STREQ(reports, "");
	ASSERT(!dead(m));
	memlab_destroy(m);
}

/* A second add of the head: list_add double add, and the machine stops. */
TEST(double_add)
{
	struct free_list l;
	uint64_t p[3];
	memlab_machine *m = setup(p, &l);
	uint64_t pfn;

	ASSERT(m);
	pfn_list_add(m, &l, p[0], false);
	pfn_list_add(m, &l, p[0], false);
	ASSERT(strstr(reports, "list_add double add: new=pfn:"));
	ASSERT(strstr(reports, "kernel BUG at lib/list_debug.c:35!"));
	ASSERT(dead(m));
	ASSERT_EQ(l.head, p[0]);			/* the bad add changed nothing */
	ASSERT_EQ(pfn_to_page(m, p[0])->lru_next, PFN_NONE);
	ASSERT_EQ(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn), -MEMLAB_EIO);
	ASSERT_EQ(memlab_free_pages(m, p[1], 0), -MEMLAB_EIO);
	memlab_destroy(m);
}

/* A deleted entry deleted again meets its poison. */
TEST(double_del)
{
	struct free_list l;
	uint64_t p[3];
	memlab_machine *m = setup(p, &l);

	ASSERT(m);
	pfn_list_add(m, &l, p[0], false);
	pfn_list_add(m, &l, p[1], false);
	pfn_list_del(m, &l, p[0]);
	pfn_list_del(m, &l, p[0]);
	ASSERT(strstr(reports, "list_del corruption, pfn:"));
	ASSERT(strstr(reports, "->next is LIST_POISON1"));
	ASSERT(strstr(reports, "kernel BUG at lib/list_debug.c:56!"));
	ASSERT(dead(m));
	ASSERT_EQ(l.head, p[1]);
	memlab_destroy(m);
}

/* A neighbour that does not point back: list_del and list_add both refuse. */
TEST(bad_neighbour)
{
	struct free_list l;
	uint64_t p[3];
	memlab_machine *m = setup(p, &l);

	ASSERT(m);
	pfn_list_add(m, &l, p[0], true);
	pfn_list_add(m, &l, p[1], true);	/* p0 p1 */
	pfn_to_page(m, p[0])->lru_next = (uint32_t)p[2];	/* p0's next flipped */
	pfn_list_del(m, &l, p[1]);
	ASSERT(strstr(reports, "list_del corruption. prev->next should be pfn:"));
	ASSERT(strstr(reports, "kernel BUG at lib/list_debug.c:62!"));
	ASSERT_EQ(l.tail, p[1]);			/* refused: nothing moved */
	memlab_destroy(m);

	m = setup(p, &l);
	ASSERT(m);
	pfn_list_add(m, &l, p[0], false);
	pfn_to_page(m, p[0])->lru_prev = (uint32_t)p[2];	/* the head's prev flipped */
	pfn_list_add(m, &l, p[1], false);
	ASSERT(strstr(reports, "list_add corruption. next->prev should be prev (the list head)"));
	ASSERT(strstr(reports, "kernel BUG at lib/list_debug.c:29!"));
	ASSERT_EQ(l.head, p[0]);
	memlab_destroy(m);
}

int main(void)
{
	RUN(clean_operations);
	RUN(double_add);
	RUN(double_del);
	RUN(bad_neighbour);
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count != 0;
}
