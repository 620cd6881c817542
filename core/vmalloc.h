/*
** vmalloc.h -- the kernel's virtually contiguous allocations (mm/vmalloc.c):
** the vmalloc range of each arch, the vmap areas that place them, and the
** init_mm page table that maps them.  Internal to core/.
*/
#ifndef MEMLAB_VMALLOC_H
#define MEMLAB_VMALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

struct strbuf;

/* vm_struct->flags (include/linux/vmalloc.h); the public MEMLAB_VM_* are the same bits */
#define VM_IOREMAP		0x00000001u
#define VM_ALLOC		0x00000002u
#define VM_MAP			0x00000004u
#define VM_USERMAP		0x00000008u
#define VM_DMA_COHERENT		0x00000010u
#define VM_UNINITIALIZED	0x00000020u
#define VM_NO_GUARD		0x00000040u
#define VM_MAP_PUT_PAGES	0x00000200u
#define VM_ALLOW_HUGE_VMAP	0x00000400u
#define VM_SPARSE		0x00001000u

/* The range [VMALLOC_START, VMALLOC_END) of the machine's arch and paging mode. */
uint64_t vmalloc_start(const memlab_machine *m);
uint64_t vmalloc_end(const memlab_machine *m);
/* is_vmalloc_addr() */
bool is_vmalloc_addr(const memlab_machine *m, uint64_t addr);
/* VmallocTotal and VmallocUsed of /proc/meminfo, in pages or kB as named. */
uint64_t vmalloc_total_kb(const memlab_machine *m);
uint64_t vmalloc_nr_pages(const memlab_machine *m);

/* The vmalloc state goes with the machine (memlab_destroy). */
void vmalloc_destroy(memlab_machine *m);
/*
** For the kernel's own users (kernel/fork.c's stacks): __vmalloc_node()
** of a kernel stack for the current task with a caller text (marked: the
** API's vfree refuses it), the number of such areas, the frames of the
** area at addr (their count; 0 if no vmalloc area starts there), vfree().
*/
int vmalloc_thread_stack(memlab_machine *m, uint64_t size, uint64_t align, uint32_t gfp,
			 const char *caller, uint64_t *addr);
unsigned vmalloc_nr_thread_stacks(memlab_machine *m);
unsigned vmalloc_area_pages(memlab_machine *m, uint64_t addr, const uint64_t **pfns);
void vfree_kernel(memlab_machine *m, uint64_t addr);
/* /proc/vmallocinfo */
void vmallocinfo_show(memlab_machine *m, struct strbuf *sb);
/* memlab_check's part: areas, trees, the kernel page table, the counters. */
int vmalloc_check(memlab_machine *m, memlab_violation_fn fn, void *ud);

#endif
