/*
** fork.c -- fork(2) and clone(2) of a task, as kernel/fork.c does them.
** With CLONE_VM the child shares the parent's mm (a thread); else it
** gets a copy as dup_mm() and dup_mmap() make it: every VMA copied
** (VM_DONTCOPY ones left out, VM_WIPEONFORK ones empty), mlock not
** inherited, private writable pages shared copy-on-write (memory.c
** copy_page_range), shared mappings shared.
*/
#include <string.h>

#include "mm.h"
#include "vmalloc.h"

/* ===================== the kernel stack (CONFIG_VMAP_STACK) ===================== */

/*
** Each task has a kernel stack of THREAD_SIZE: 16 KiB on x86-64 and on
** arm64 with 4K or 16K pages, a page with 64K pages; vmalloc'd with a
** guard page after it, at THREAD_ALIGN (x86-64: THREAD_SIZE; arm64, for
** its overflow check: twice that).  A freed stack goes to its CPU's
** cache of NR_CACHED_STACKS, for the next fork there, else back to vmalloc.
** The memory cgroup is charged by hand for its pages (the cached ones are
** charged to no one), and they count as KernelStack.
*/
#define NR_CACHED_STACKS	2
/* what %pS prints for the stack area's caller on the reference host's 6.18 build */
#define STACK_CALLER		"kernel_clone+0x94/0x3e0"

static uint64_t thread_size(const memlab_machine *m)
{
	return m->page_size > 16384 ? m->page_size : 16384;
}

static uint64_t thread_align(const memlab_machine *m)
{
	return m->arch == MEMLAB_ARCH_ARM64 ? 2 * thread_size(m) : thread_size(m);
}

uint64_t cached_stack_pages(memlab_machine *m)
{
	uint64_t n = 0;

	for (int cpu = 0; cpu < MEMLAB_MAX_CPUS; cpu++)
		for (int i = 0; i < NR_CACHED_STACKS; i++)
			n += m->cached_stacks[cpu][i] ? thread_size(m) >> m->page_shift : 0;
	return n;
}

/* memcg_charge_kernel_stack(): each page, for the current task's memcg. */
static int memcg_charge_kernel_stack(memlab_machine *m, uint64_t stack)
{
	const uint64_t *pfns;
	unsigned n = vmalloc_area_pages(m, stack, &pfns), i;
	int err = 0;

	for (i = 0; i < n && !err; i++)
		err = memcg_kmem_charge_page(m, pfns[i], 0, MEMLAB_GFP_KERNEL);
	if (err)
		while (--i > 0)
			memcg_kmem_uncharge_page(m, pfns[i - 1]);
	return err;
}

/* account_kernel_stack(): NR_KERNEL_STACK_KB of each page's node and memcg. */
static void account_kernel_stack(memlab_machine *m, uint64_t stack, int account)
{
	const uint64_t *pfns;
	unsigned n = vmalloc_area_pages(m, stack, &pfns);

	for (unsigned i = 0; i < n; i++)
		mod_lruvec_page_state(m, pfn_to_page(m, pfns[i]), NR_KERNEL_STACK,
				      account * (int64_t)(m->page_size / 1024));
}

/* A stack of this CPU's cache, taken out of it; 0 if it has none. */
static uint64_t take_cached_stack(memlab_machine *m)
{
	uint64_t *cache = m->cached_stacks[smp_processor_id(m)], stack;

	for (int i = 0; i < NR_CACHED_STACKS; i++)
		if ((stack = cache[i])) {
			cache[i] = 0;
			return stack;
		}
	return 0;
}

/* memset(stack, 0, THREAD_SIZE) of a reused stack: its stale words go. */
static void clear_thread_stack(memlab_machine *m, uint64_t stack)
{
	const uint64_t *pfns;
	unsigned n = vmalloc_area_pages(m, stack, &pfns);

	for (unsigned i = 0; i < n; i++)
		ml_zero_frames(m, pfns[i], 1);
}

/*
** alloc_thread_stack_node() and dup_task_struct()'s accounting: a stack
** of this CPU's cache (charged, then cleared), else a new one (GFP_KERNEL
** | __GFP_ZERO, not accounted: charged by hand).  0 or -ENOMEM, with
** nothing taken.
*/
int alloc_thread_stack(memlab_task *t)
{
	memlab_machine *m = t->m;
	uint64_t stack = take_cached_stack(m);
	bool cached = stack != 0;

	if (!cached && vmalloc_thread_stack(m, thread_size(m), thread_align(m),
					    MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO, STACK_CALLER,
					    &stack))
		return -MEMLAB_ENOMEM;
	if (memcg_charge_kernel_stack(m, stack)) {
		vfree_kernel(m, stack);
		return -MEMLAB_ENOMEM;
	}
	if (cached)
		clear_thread_stack(m, stack);
	t->stack = stack;
	account_kernel_stack(m, stack, 1);
	return 0;
}

/* exit_task_stack_account(): at do_exit, the stack no longer counts nor is charged. */
static void exit_task_stack_account(memlab_task *t)
{
	const uint64_t *pfns;
	unsigned n = vmalloc_area_pages(t->m, t->stack, &pfns);

	account_kernel_stack(t->m, t->stack, -1);
	for (unsigned i = 0; i < n; i++)
		memcg_kmem_uncharge_page(t->m, pfns[i]);
}

/*
** The stack goes with its task: accounted off, then kept in the cache of
** the CPU the task last ran on (finish_task_switch's put_task_stack) if
** it has room, else vfree()d (Linux: after an RCU grace period).
*/
void free_thread_stack(memlab_task *t)
{
	uint64_t *cache;

	if (!t->stack)
		return;
	exit_task_stack_account(t);
	cache = t->m->cached_stacks[t->cpu];
	for (int i = 0; i < NR_CACHED_STACKS; i++)
		if (!cache[i]) {
			cache[i] = t->stack;
			t->stack = 0;
			return;
		}
	vfree_kernel(t->m, t->stack);
	t->stack = 0;
}

/*
** The stacks: each task's and each cached one is a vmalloc area of
** THREAD_SIZE, none twice, and no other area is one; KernelStack counts
** the tasks' (in kB).  Violations found.
*/
int thread_stack_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };
	uint64_t want = thread_size(m) >> m->page_shift, kb = 0;
	unsigned owned = 0, areas = vmalloc_nr_thread_stacks(m);
	const uint64_t *pfns;

	for (memlab_task *t = m->tasks; t; t = t->next) {
		if (vmalloc_area_pages(m, t->stack, &pfns) != want)
			ml_violation(&c, "pid %d: its kernel stack 0x%llx is no vmalloc area of %llu pages",
				     t->pid, (unsigned long long)t->stack, (unsigned long long)want);
		kb += thread_size(m) / 1024;
		owned++;
		for (memlab_task *u = t->next; u; u = u->next)
			if (u->stack == t->stack)
				ml_violation(&c, "pids %d and %d share a kernel stack", t->pid, u->pid);
		for (int cpu = 0; cpu < MEMLAB_MAX_CPUS; cpu++)
			for (int i = 0; i < NR_CACHED_STACKS; i++)
				if (m->cached_stacks[cpu][i] == t->stack)
					ml_violation(&c, "pid %d's kernel stack is cached on CPU %d",
						     t->pid, cpu);
	}
	for (int cpu = 0; cpu < MEMLAB_MAX_CPUS; cpu++)
		for (int i = 0; i < NR_CACHED_STACKS; i++) {
			uint64_t s = m->cached_stacks[cpu][i];

			owned += s != 0;
			if (s && vmalloc_area_pages(m, s, &pfns) != want)
				ml_violation(&c, "CPU %d's cached kernel stack 0x%llx is no vmalloc area"
					     " of %llu pages", cpu, (unsigned long long)s,
					     (unsigned long long)want);
			for (int j = i + 1; s && j < NR_CACHED_STACKS; j++)
				if (m->cached_stacks[cpu][j] == s)
					ml_violation(&c, "CPU %d caches the kernel stack 0x%llx twice", cpu,
						     (unsigned long long)s);
		}
	if (areas != owned)
		ml_violation(&c, "%u vmalloc areas are kernel stacks, the tasks and the CPUs' caches"
			     " hold %u", areas, owned);
	if (m->vmstat[NR_KERNEL_STACK] != kb)
		ml_violation(&c, "KernelStack is %llu kB, the tasks' stacks %llu kB",
			     (unsigned long long)m->vmstat[NR_KERNEL_STACK], (unsigned long long)kb);
	return c.count;
}

/*
** The child (kernel/fork.c dup_task_struct): the parent's identity and
** limits, and no mm yet (copy_mm gives it one).
*/
static memlab_task *task_dup(memlab_task *parent)
{
	memlab_task *t = alloc_task_struct(parent->m);
	uint64_t obj;

	if (!t)
		return NULL;
	obj = t->slab_obj;
	*t = *parent;
	t->slab_obj = obj;
	t->stack = 0;
	if (alloc_thread_stack(t)) {
		free_task(t);
		return NULL;
	}
	memset(t->vmacache, 0, sizeof(t->vmacache));
	t->vmacache_seqnum = 0;
	t->min_flt = t->maj_flt = 0;
	t->last_signal_code = 0;
	t->last_signal_addr = 0;
	t->fail_nth = 0;		/* dup_task_struct(); make-it-fail is inherited */
	t->uaccess = false;
	t->oom_victim = t->oom_marked = t->oom_memdie = false;
	t->next = NULL;
	t->mm = NULL;
	t->memcg = NULL;
	t->memcg_nr_pages_over_high = 0;
	mem_cgroup_fork(t, parent);	/* cgroup_fork(): the parent's cgroup */
	return t;
}

/*
** dup_mm()'s copy of the mm_struct and mm_init(): the layout and the VM
** counters come along (dup_mmap corrects them for what it leaves out);
** the VMAs, the RSS and lock counters, the charges start empty.
*/
static void mm_dup_fields(memlab_machine *m, struct mm_struct *mm, const struct mm_struct *oldmm)
{
	uint64_t pgd = mm->pgd, obj = mm->slab_obj;
	struct pt_format pt = mm->pt;

	*mm = *oldmm;
	mm->slab_obj = obj;
	mm->pgd = pgd;
	mm->pt = pt;
	mm->deposit = NULL;
	mm->nr_deposit = mm->cap_deposit = 0;
	mm->khugepaged_slot = NULL;	/* khugepaged_fork() enters it */
	init_new_context(m, mm);
	mm->mmap = NULL;
	mm->highest_vm_end = 0;		/* vma_link() sets it from the last VMA */
	mm->mm_mt = (struct vma_tree){ NULL, 0 };
	mm->vmacache_seqnum = 0;
	mm->map_count = 0;
	mm->locked_vm = mm->pinned_vm = mm->locked_vm_leaked = 0;
	mm->pgtables_bytes = 0;
	memset(mm->rss_stat, 0, sizeof(mm->rss_stat));
	mm->committed = 0;
	mm->vmacache_hits = mm->vmacache_misses = 0;
	mm->def_flags = 0;
	mm->mm_users = 1;
	mm->mmap_lock = 0;
}

/* One VMA of the parent, copied into the child (and its entries, as needed). */
static int dup_vma(memlab_task *child, memlab_task *parent, struct vm_area_struct *mpnt)
{
	struct mm_struct *mm = child->mm;
	struct vm_area_struct *tmp;
	int err = 0;

	if (mpnt->vm_flags & VM_DONTCOPY) {
		vm_stat_account(mm, mpnt->vm_flags, -(int64_t)vma_pages(mpnt));
		return 0;
	}
	if ((mpnt->vm_flags & VM_ACCOUNT) && vm_enough_memory(child, (int64_t)vma_pages(mpnt)))
		return -MEMLAB_ENOMEM;
	tmp = vm_area_alloc(mm);
	if (!tmp) {
		if (mpnt->vm_flags & VM_ACCOUNT)
			vm_unacct_memory(child, (int64_t)vma_pages(mpnt));
		return -MEMLAB_ENOMEM;
	}
	vm_area_init_from(mpnt, tmp);	/* vm_area_dup() */
	tmp->vm_mm = mm;
	tmp->vm_leaf = NULL;		/* linked into the child's tree below */
	tmp->vm_file = NULL;
	vma_set_file(tmp, mpnt->vm_file);
	tmp->vm_flags &= ~(VM_LOCKED | VM_LOCKONFAULT);
	if (tmp->vm_flags & VM_WIPEONFORK)
		tmp->anon_vma = NULL;	/* the child starts empty, without one */
	else
		err = anon_vma_fork(tmp, mpnt);
	vma_link_file_after(tmp, mpnt);	/* dup_mmap's vma_interval_tree_insert_after() */
	vma_link(mm, tmp);	/* linked first: a failure below is undone by exit_mmap */
	if (err)
		return err;
	if (!(tmp->vm_flags & VM_WIPEONFORK))
		return copy_page_range(child, parent, mpnt);
	return 0;
}

/*
** dup_mmap(): every VMA in address order, then flush_tlb_mm(oldmm): the
** parent's private entries became read-only.  A parent the OOM killer
** chose meanwhile copies no more VMAs (-EINTR: "don't duplicate many vmas
** if we've been oom-killed").  On failure the child is torn down (and the
** parent flushed all the same, as Linux does).
*/
static int dup_mmap(memlab_task *child, memlab_task *parent)
{
	int err = 0;

	mmap_write_lock(parent->mm);
	mm_dup_fields(parent->m, child->mm, parent->mm);
	child->mm->owner = child;
	khugepaged_fork(parent->m, child->mm, parent->mm);
	mmap_write_lock(child->mm);	/* mmap_write_lock_nested() */
	for (struct vm_area_struct *v = parent->mm->mmap; v && !err; v = v->vm_next)
		err = parent->oom_victim ? -MEMLAB_EINTR : dup_vma(child, parent, v);
	child->mm->hiwater_rss = get_mm_rss(child->mm);
	child->mm->hiwater_vm = child->mm->total_vm;
	mmap_write_unlock(child->mm);
	flush_tlb_mm(parent);
	mmap_write_unlock(parent->mm);
	return err;
}

/*
** copy_mm(): with CLONE_VM the child uses the parent's mm (mmget), else
** a copy of it (dup_mm).  A failed copy is the child's to tear down.
*/
static int copy_mm(uint64_t clone_flags, memlab_task *child, memlab_task *parent)
{
	memlab_machine *m = parent->m;
	struct mm_struct *mm;

	if (clone_flags & MEMLAB_CLONE_VM) {
		child->mm = parent->mm;
		child->mm->mm_users++;
		return 0;
	}
	mm = allocate_mm(m);
	if (!mm)
		return -MEMLAB_ENOMEM;
	if (pgd_alloc(m, mm)) {
		free_mm(m, mm);
		return -MEMLAB_ENOMEM;
	}
	child->mm = mm;
	return dup_mmap(child, parent);
}

/* copy_process()'s checks of the flags memlab knows; any other is EINVAL. */
static int clone_flags_valid(uint64_t clone_flags)
{
	if (clone_flags & ~(uint64_t)MEMLAB_CLONE_SUPPORTED)
		return -MEMLAB_EINVAL;
	/* thread groups share signals, which need a shared VM */
	if ((clone_flags & MEMLAB_CLONE_THREAD) && !(clone_flags & MEMLAB_CLONE_SIGHAND))
		return -MEMLAB_EINVAL;
	if ((clone_flags & MEMLAB_CLONE_SIGHAND) && !(clone_flags & MEMLAB_CLONE_VM))
		return -MEMLAB_EINVAL;
	return 0;
}

/*
** kernel_clone(): the child, on the machine's list.  A cgroup's OOM
** killer may run while the child's page tables are charged: a parent it
** chose fails the fork, also when that charge went through
** (copy_process: "Let kill terminate clone/fork in the middle", -EINTR),
** and has exited when the call returns.
*/
static int kernel_clone(memlab_task *parent, uint64_t clone_flags, memlab_task **out)
{
	memlab_machine *m = parent->m;
	memlab_task *child;
	int err;

	switch_to_task(parent);
	if (!(child = task_dup(parent)))
		return -MEMLAB_ENOMEM;
	err = copy_mm(clone_flags, child, parent);
	if (!err && parent->oom_victim)	/* fatal_signal_pending(current) */
		err = -MEMLAB_EINTR;
	if (err) {
		task_free(child);
		return err;
	}
	child->cpu = tlb_pick_cpu(m);	/* round robin, as at spawn */
	child->pid = m->next_pid++;
	if (!(clone_flags & MEMLAB_CLONE_THREAD))
		child->tgid = child->pid;
	child->next = m->tasks;
	m->tasks = child;
	*out = child;
	return 0;
}

int memlab_clone(memlab_task *parent, uint64_t clone_flags, memlab_task **out)
{
	memlab_task *prev;
	int err = clone_flags_valid(clone_flags);

	if (err)
		return err;
	if (parent->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(parent);
	err = kernel_clone(parent, clone_flags, out);
	task_leave(parent, prev);
	return err;
}

int memlab_fork(memlab_task *parent, memlab_task **out)
{
	return memlab_clone(parent, 0, out);
}
