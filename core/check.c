/*
** check.c -- memlab_check(): every subsystem's invariants in one pass, as
** CONFIG_DEBUG_VM's validators would check them.  Each subsystem owns its
** checker (page_alloc_check, ...); this file gathers them.
*/
#include "mm.h"
#include "slab.h"
#include "vmalloc.h"

int memlab_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	int n = 0;

	n += page_alloc_check(m, fn, ud);
	n += mm_check_all(m, fn, ud);
	n += rmap_check(m, fn, ud);
	n += filemap_check(m, fn, ud);
	n += lru_check(m, fn, ud);
	n += memcg_check(m, fn, ud);
	n += tlb_check(m, fn, ud);
	n += oom_check(m, fn, ud);
	n += compaction_check(m, fn, ud);
	n += khugepaged_check(m, fn, ud);
	n += slab_check(m, fn, ud);
	n += vmalloc_check(m, fn, ud);
	n += thread_stack_check(m, fn, ud);
	return n;
}
