/*
** oom_kill.c -- the OOM killer, as mm/oom_kill.c (Linux 6.18) chooses,
** kills and reports, and /proc/PID/oom_score{,_adj} (fs/proc/base.c).
**
** Where it runs: where Linux calls out_of_memory() -- in the page
** allocator's slow path once reclaim and compaction gave up
** (__alloc_pages_may_oom, page_alloc.c), for a task's allocation, and the
** allocation is retried.  Then:
**   - a victim that shares nothing with the allocating task exits at once
**     (memlab_task_exit), as if the retry had waited for it: nothing the
**     allocating call holds is the victim's;
**   - a victim that is the allocating task, or shares its mm (its
**     threads, CLONE_VM processes), is sent SIGKILL and exits when the
**     outermost core call returns (task_leave()); a fault ends as SIGKILL
**     (MEMLAB_SIGKILL).  The victim's thread group is marked
**     (tsk_is_oom_victim) and allocates from the reserves (ALLOC_OOM); a
**     process only sharing its mm is marked when its own allocation runs
**     the OOM killer again (task_will_free_mem).  The oom_reaper has
**     nothing to win here: nothing else runs before the exit frees the
**     whole mm, so it is not modelled (nor its 2 s delay).
** A charge over a cgroup's memory.max that reclaim could not make room
** for runs the cgroup's OOM killer inside the charge, as 6.18's
** try_charge_memcg (CONSTRAINT_MEMCG: only its tasks, badness scaled by
** its limit, memory.oom.group honoured) -- a fault's, a read/write's,
** fork's page tables, a write to memory.max alike: the victims that do
** not share the charging task's mm exit at once and the charge is
** retried; a charging task that is a victim fails its charges (after
** reclaim's retries once more) and exits when the outermost call returns
** (mem_cgroup_out_of_memory).
** Not modelled: cpusets and mempolicies (CONSTRAINT_NONE), vfork, the OOM
** notifiers, the report's rate limit (every OOM is reported); the host's
** own allocations (no task) and !__GFP_FS ones fail instead.
*/
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "mm.h"
#include "slab.h"

#define OOM_SCORE_ADJ_MIN	(-1000)
#define OOM_SCORE_ADJ_MAX	1000

struct oom_control {
	memlab_machine *m;
	memlab_task *current;		/* the task allocating or charging (NULL: a host write) */
	struct mem_cgroup *memcg;	/* a cgroup's OOM (CONSTRAINT_MEMCG), NULL: the node's */
	uint32_t gfp_mask;
	int order;
	uint64_t totalpages;		/* RAM + swap pages: the scale of badness */
	memlab_task *chosen;		/* the victim so far */
	long chosen_points;
	bool aborted;			/* a victim is still exiting: wait for it */
	const char *message;		/* the kill's ("Out of memory", ...), for its group */
};

/*
** totalram_pages() + total_swap_pages: the zones' managed pages and the
** swap slots; a cgroup's OOM: its limit (mem_cgroup_get_max), at least 1.
*/
static uint64_t oom_totalpages(const memlab_machine *m, const struct mem_cgroup *memcg)
{
	uint64_t pages = m->swap ? m->swap->pages : 0;

	if (memcg) {
		pages = mem_cgroup_get_max(m, memcg);
		return pages ? pages : 1;
	}
	for (int i = 0; i < m->nr_zones; i++)
		pages += m->zones[i].managed_pages;
	return pages;
}

/*
** for_each_process(): Linux's task list holds one entry per thread
** group, in creation order (copy_process adds at the tail), which is
** ascending tgid here.  Each group stands as its oldest live task
** (find_lock_task_mm: one with an mm -- every memlab task has one).
*/
static memlab_task *next_process(memlab_machine *m, int after_tgid)
{
	memlab_task *p = NULL;

	for (memlab_task *t = m->tasks; t; t = t->next)
		if (t->tgid > after_tgid &&
		    (!p || t->tgid < p->tgid || (t->tgid == p->tgid && t->pid < p->pid)))
			p = t;
	return p;
}

#define for_each_process(m, p) \
	for ((p) = next_process((m), 0); (p); (p) = next_process((m), (p)->tgid))

/* oom_unkillable_task(): the global init; memlab has no kernel threads. */
static bool oom_unkillable_task(const memlab_task *p)
{
	return p->tgid == 1;
}

/*
** oom_badness(): LONG_MIN for a task never to kill (init, oom_score_adj
** -1000, an mm the reaper is done with); else its RSS, swap entries and
** page-table pages, plus oom_score_adj thousandths of totalpages (the
** division first, as Linux does it).
*/
static long oom_badness(const memlab_task *p, uint64_t totalpages)
{
	const struct mm_struct *mm = p->mm;
	long points, adj = p->oom_score_adj;

	if (oom_unkillable_task(p))
		return LONG_MIN;
	if (adj == OOM_SCORE_ADJ_MIN || mm->oom_skip)
		return LONG_MIN;
	points = (long)(get_mm_rss(mm) + mm->rss_stat[MM_SWAPENTS] +
			mm->pgtables_bytes / p->m->page_size);
	adj *= (long)(totalpages / 1000);
	return points + adj;
}

/*
** oom_evaluate_task(): a candidate replaces the chosen one when its
** points are not lower -- of equal ones, the last in the list wins.  A
** victim still alive stops the scan (Linux waits for it to exit); a
** process that was only SIGKILLed for sharing a victim's mm is a
** candidate like any other.
*/
static bool oom_evaluate_task(memlab_task *task, struct oom_control *oc)
{
	long points;

	if (oom_unkillable_task(task))
		return false;
	if (task->oom_marked) {		/* tsk_is_oom_victim() */
		if (task->mm->oom_skip)
			return false;
		oc->chosen = NULL;
		oc->aborted = true;
		return true;
	}
	points = oom_badness(task, oc->totalpages);
	if (points == LONG_MIN || points < oc->chosen_points)
		return false;
	oc->chosen = task;
	oc->chosen_points = points;
	return false;
}

/*
** mem_cgroup_scan_tasks() (mm/memcontrol.c): fn for the processes of
** each cgroup of memcg's subtree in turn, until fn returns true.
*/
static void mem_cgroup_scan_tasks(struct oom_control *oc, struct mem_cgroup *memcg,
				  bool (*fn)(memlab_task *, struct oom_control *))
{
	memlab_task *p;

	for (struct mem_cgroup *it = mem_cgroup_iter(oc->m, memcg, NULL); it;
	     it = mem_cgroup_iter(oc->m, memcg, it))
		for_each_process(oc->m, p)
			if (p->memcg == it && fn(p, oc))
				return;
}

/*
** select_bad_process(): every process (for_each_process), or for a
** cgroup's OOM the processes of its subtree (mem_cgroup_scan_tasks); a
** victim still alive aborts the choice.
*/
static void select_bad_process(struct oom_control *oc)
{
	memlab_task *p;

	oc->chosen_points = LONG_MIN;
	if (oc->memcg) {
		mem_cgroup_scan_tasks(oc, oc->memcg, oom_evaluate_task);
		return;
	}
	for_each_process(oc->m, p)
		if (oom_evaluate_task(p, oc))
			return;
}

/* ===================== the report ===================== */

/* dump_task(): one row per process, in pages (init is left out). */
static void dump_task(const memlab_task *p)
{
	const struct mm_struct *mm = p->mm;

	if (oom_unkillable_task(p))
		return;
	ml_report(p->m, "[%7d] %5u %5d %8lu %8lu %8lu %8lu %9lu %8ld %8lu         %5hd %s",
		  p->pid, task_uid(p), p->tgid, (unsigned long)mm->total_vm,
		  (unsigned long)get_mm_rss(mm), (unsigned long)mm->rss_stat[MM_ANONPAGES],
		  (unsigned long)mm->rss_stat[MM_FILEPAGES],
		  (unsigned long)mm->rss_stat[MM_SHMEMPAGES], (long)mm->pgtables_bytes,
		  (unsigned long)mm->rss_stat[MM_SWAPENTS], p->oom_score_adj, p->comm);
}

static bool dump_task_scan(memlab_task *p, struct oom_control *oc)
{
	(void)oc;
	dump_task(p);
	return false;
}

static void dump_tasks(struct oom_control *oc)
{
	memlab_machine *m = oc->m;
	memlab_task *p;

	ml_report(m, "Tasks state (memory values in pages):");
	ml_report(m, "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem "
		  "pgtables_bytes swapents oom_score_adj name");
	if (oc->memcg) {
		mem_cgroup_scan_tasks(oc, oc->memcg, dump_task_scan);
		return;
	}
	for_each_process(m, p)
		dump_task(p);
}

/*
** mem_cgroup_print_oom_meminfo(): the cgroup's usage and limit (failcnt:
** its memory.events max count in v2), its swap's, its memory.stat.
*/
static void print_oom_meminfo(struct oom_control *oc)
{
	memlab_machine *m = oc->m;
	char path[256], *text = NULL, *line, *next;
	struct strbuf sb;

	ml_report(m, "memory: usage %llukB, limit %llukB, failcnt %llu",
		  (unsigned long long)K(m, oc->memcg->memory.usage),
		  (unsigned long long)K(m, oc->memcg->memory.max),
		  (unsigned long long)oc->memcg->events[MEMCG_MAX]);
	ml_report(m, "swap: usage %llukB, limit %llukB, failcnt %llu",
		  (unsigned long long)K(m, oc->memcg->swap.usage),
		  (unsigned long long)K(m, oc->memcg->swap.max),
		  (unsigned long long)oc->memcg->events[MEMCG_SWAP_MAX]);
	memcg_path_buf(oc->memcg, m, path, sizeof(path));
	ml_report(m, "Memory cgroup stats for %s:", path);
	sb_init(&sb, m);
	memcg_stat_format(m, oc->memcg, &sb);
	if (sb_finish(&sb, &text, NULL))
		return;
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		*next++ = 0;
		ml_report(m, "%s", line);
	}
	memlab_free_text(m, text);
}

/* should_dump_unreclaim_slab(): more unreclaimable slab than pages on the LRU lists. */
static bool should_dump_unreclaim_slab(const memlab_machine *m)
{
	uint64_t nr_lru = m->vmstat[NR_ACTIVE_ANON] + m->vmstat[NR_INACTIVE_ANON] +
			  m->vmstat[NR_ACTIVE_FILE] + m->vmstat[NR_INACTIVE_FILE] +
			  m->vmstat[NR_ISOLATED_ANON] + m->vmstat[NR_ISOLATED_FILE] +
			  m->vmstat[NR_UNEVICTABLE];

	return m->vmstat[NR_SLAB_UNRECLAIMABLE] > nr_lru;
}

/*
** dump_header().  Linux prints a stack trace after the first line: memlab
** has no kernel stack to show.
*/
static void dump_header(struct oom_control *oc)
{
	memlab_task *cur = oc->current;
	char gfp[256];

	memlab_gfp_format(oc->gfp_mask, gfp, sizeof(gfp));
	ml_report(oc->m, "%s invoked oom-killer: gfp_mask=%#x(%s), order=%d, oom_score_adj=%d",
		  cur ? cur->comm : "memlab", oc->gfp_mask, gfp, oc->order,
		  cur ? cur->oom_score_adj : 0);
	if (oc->memcg) {
		print_oom_meminfo(oc);
	} else {
		show_mem_report(oc->m, oc->gfp_mask);
		if (should_dump_unreclaim_slab(oc->m))
			dump_unreclaimable_slab(oc->m);
	}
	dump_tasks(oc);
}

/* dump_oom_victim(): the one-line summary; one node, the root cpuset. */
static void dump_oom_victim(struct oom_control *oc, const memlab_task *victim)
{
	char oom_memcg[256] = "", task_memcg[256];

	if (oc->memcg)
		memcg_path_buf(oc->memcg, oc->m, oom_memcg, sizeof(oom_memcg));
	memcg_path_buf(victim->memcg, oc->m, task_memcg, sizeof(task_memcg));
	ml_report(victim->m, "oom-kill:constraint=CONSTRAINT_%s,nodemask=(null),cpuset=/,"
		  "mems_allowed=0,%s%s,task_memcg=%s,task=%s,pid=%d,uid=%u",
		  oc->memcg ? "MEMCG" : "NONE", oc->memcg ? "oom_memcg=" : "global_oom",
		  oom_memcg, task_memcg, victim->comm, victim->pid, task_uid(victim));
}

/* ===================== killing ===================== */

/* SIGKILL to a thread group (PIDTYPE_TGID): every task of it is marked to exit. */
static void kill_thread_group(memlab_machine *m, int tgid)
{
	for (memlab_task *t = m->tasks; t; t = t->next) {
		if (t->tgid != tgid || t->oom_victim)
			continue;
		t->oom_victim = true;
		m->oom_victims++;
	}
}

/*
** mark_oom_victim(): the task's thread group becomes an OOM victim
** (signal->oom_mm: tsk_is_oom_victim, the right to the reserves), the
** task itself TIF_MEMDIE, once, with the tracepoint: Linux 6.8+'s fields
** (sizes in kB) but comm, a string memlab's events cannot carry.
*/
static void mark_oom_victim(memlab_task *victim)
{
	memlab_machine *m = victim->m;
	const struct mm_struct *mm = victim->mm;

	if (victim->oom_memdie)
		return;
	victim->oom_memdie = true;
	for (memlab_task *t = m->tasks; t; t = t->next)
		if (t->tgid == victim->tgid)
			t->oom_marked = true;
	tracev(m, TP_MARK_VICTIM, (uint64_t)victim->pid, K(m, mm->total_vm),
	       K(m, mm->rss_stat[MM_ANONPAGES]), K(m, mm->rss_stat[MM_FILEPAGES]),
	       K(m, mm->rss_stat[MM_SHMEMPAGES]), (uint64_t)task_uid(victim),
	       mm->pgtables_bytes >> 10, (uint64_t)(int64_t)victim->oom_score_adj);
}

/*
** __oom_kill_process(): count it, SIGKILL the victim's thread group,
** report, then SIGKILL every other process using the same mm but init,
** which pins it (the mm is then left alone: MMF_OOM_SKIP).
*/
static void __oom_kill_process(memlab_task *victim, const char *message)
{
	memlab_machine *m = victim->m;
	struct mm_struct *mm = victim->mm;
	memlab_task *p;

	m->vmstat[OOM_KILL]++;
	memcg_memory_event(get_mem_cgroup_from_mm(m, mm), MEMCG_OOM_KILL);	/* memcg_memory_event_mm() */
	kill_thread_group(m, victim->tgid);
	mark_oom_victim(victim);
	ml_report(m, "%s: Killed process %d (%s) total-vm:%" PRIu64 "kB, anon-rss:%" PRIu64 "kB, "
		  "file-rss:%" PRIu64 "kB, shmem-rss:%" PRIu64 "kB, UID:%u pgtables:%lukB "
		  "oom_score_adj:%hd", message, victim->pid,
		  victim->comm, K(m, mm->total_vm), K(m, mm->rss_stat[MM_ANONPAGES]),
		  K(m, mm->rss_stat[MM_FILEPAGES]), K(m, mm->rss_stat[MM_SHMEMPAGES]),
		  task_uid(victim), (unsigned long)(mm->pgtables_bytes >> 10),
		  victim->oom_score_adj);
	for_each_process(m, p) {
		if (p->mm != mm || p->tgid == victim->tgid)
			continue;
		if (oom_unkillable_task(p)) {
			mm->oom_skip = true;
			ml_report(m, "oom killer %d (%s) has mm pinned by %d (%s)", victim->pid,
				  victim->comm, p->pid, p->comm);
			continue;
		}
		kill_thread_group(m, p->tgid);
	}
}

/* oom_kill_memcg_member(): a killable process of the OOM group. */
static bool oom_kill_memcg_member(memlab_task *p, struct oom_control *oc)
{
	if (!oom_unkillable_task(p) && p->oom_score_adj != OOM_SCORE_ADJ_MIN)
		__oom_kill_process(p, oc->message);
	return false;
}

/*
** oom_kill_process(): the report, the victim, and with memory.oom.group
** every other killable process of that cgroup too.
*/
static void oom_kill_process(struct oom_control *oc, const char *message)
{
	memlab_task *victim = oc->chosen;
	struct mem_cgroup *oom_group;
	char path[256];

	dump_header(oc);
	dump_oom_victim(oc, victim);
	oom_group = mem_cgroup_get_oom_group(victim, oc->memcg);
	__oom_kill_process(victim, message);
	if (!oom_group)
		return;
	memcg_memory_event(oom_group, MEMCG_OOM_GROUP_KILL);
	memcg_path_buf(oom_group, oc->m, path, sizeof(path));
	ml_report(oc->m, "Tasks in %s are going to be killed due to memory.oom.group set", path);
	oc->message = message;
	mem_cgroup_scan_tasks(oc, oom_group, oom_kill_memcg_member);	/* the victim again too */
}

/*
** check_panic_on_oom().  Linux panics; memlab reports what Linux would
** print and fails the access with ENOMEM, killing nothing.  A cgroup's
** OOM panics only with panic_on_oom=2.
*/
static bool check_panic_on_oom(struct oom_control *oc)
{
	memlab_machine *m = oc->m;

	if (!m->panic_on_oom || (oc->memcg && m->panic_on_oom != 2))
		return false;
	dump_header(oc);
	ml_report(m, "Kernel panic - not syncing: Out of memory: %s panic_on_oom is enabled",
		  m->panic_on_oom == 2 ? "compulsory" : "system-wide");
	return true;
}

/*
** out_of_memory(): choose a victim and kill it.  0 when one was killed,
** -MEMLAB_ENOMEM when Linux would panic (panic_on_oom, nothing
** killable) or wait for an earlier victim.
*/
static int out_of_memory(struct oom_control *oc)
{
	memlab_task *cur = oc->current;
	memlab_machine *m = oc->m;

	oc->totalpages = oom_totalpages(m, oc->memcg);
	if (check_panic_on_oom(oc))
		return -MEMLAB_ENOMEM;
	/* a spawn's exec has no mm to kill it for (Linux's has its parent's copy) */
	if (!oc->memcg && cur && !cur->in_exec && m->oom_kill_allocating_task &&
	    !oom_unkillable_task(cur) && cur->oom_score_adj != OOM_SCORE_ADJ_MIN) {
		oc->chosen = cur;
		oom_kill_process(oc, "Out of memory (oom_kill_allocating_task)");
		return 0;
	}
	select_bad_process(oc);
	if (oc->aborted)
		return -MEMLAB_ENOMEM;
	if (!oc->chosen) {
		dump_header(oc);
		ml_report(m, "Out of memory and no killable processes...");
		if (!oc->memcg)
			ml_report(m, "Kernel panic - not syncing: System is deadlocked on memory");
		return -MEMLAB_ENOMEM;
	}
	oom_kill_process(oc, oc->memcg ? "Memory cgroup out of memory" : "Out of memory");
	return 0;
}

/* The first marked task other than those using mm (NULL: any marked one). */
static memlab_task *find_victim(memlab_machine *m, const struct mm_struct *mm)
{
	for (memlab_task *t = m->tasks; t; t = t->next)
		if (t->oom_victim && (!mm || t->mm != mm))
			return t;
	return NULL;
}

/*
** The victims the running call does not use exit now: tasks with
** another mm than the allocating task's.  Their exit may load their mm
** on a CPU; the allocating task's own is loaded again.
*/
static void exit_other_victims(memlab_task *cur)
{
	memlab_task *v;

	while ((v = find_victim(cur->m, cur->mm)))
		memlab_task_exit(v);
	switch_to_task(cur);
}

void exit_oom_victims(memlab_machine *m)
{
	memlab_task *v;

	while ((v = find_victim(m, NULL)))
		memlab_task_exit(v);
}

/*
** out_of_memory() where Linux calls it, inside an allocation or a charge:
** true when a victim was killed and the victims but those sharing the
** running task's mm have exited (with no task: all of them), as if the
** retry had waited for them.  Exiting there is as safe as reclaim there:
** what the running call holds is its own task's.
*/
static bool oom_kill_and_retry(struct oom_control *oc)
{
	memlab_machine *m = oc->m;

	if (out_of_memory(oc))
		return false;
	if (m->current)
		exit_other_victims(m->current);
	else
		exit_oom_victims(m);
	return true;
}

/*
** task_will_free_mem(): t is dying, and so is every process sharing its
** mm, which no unkillable process pins (MMF_OOM_SKIP) -- the OOM killer
** only marks it, for the reserves.
*/
static bool task_will_free_mem(const memlab_task *t)
{
	if (!t->mm || !t->oom_victim || t->mm->oom_skip)
		return false;
	for (const memlab_task *p = t->m->tasks; p; p = p->next)
		if (p->mm == t->mm && !p->oom_victim)
			return false;
	return true;
}

/*
** The node's OOM killer, for the page allocator (__alloc_pages_may_oom):
** true when the allocation may be retried.  A dying allocating task is
** marked (and so gets the reserves) instead of a kill.  !__GFP_FS: Linux
** kills nothing and waits for others to free memory; nothing else runs
** here, so the allocation fails.
*/
bool out_of_memory_node(memlab_machine *m, uint32_t gfp, int order)
{
	struct oom_control oc = { m, m->current, NULL, gfp, order, 0, NULL, LONG_MIN, false, NULL };

	if (m->current && task_will_free_mem(m->current)) {
		mark_oom_victim(m->current);
		return true;
	}
	if (!(gfp & MEMLAB___GFP_FS))
		return false;
	return oom_kill_and_retry(&oc);
}

/* tsk_is_oom_victim(current): the reserves are the allocating task's (ALLOC_OOM). */
bool current_is_oom_victim(const memlab_machine *m)
{
	return m->current && m->current->oom_marked;
}

/*
** mem_cgroup_out_of_memory(): memcg's OOM killer, for a charge at its
** limit (try_charge_memcg) or a write to its memory.max: true at once
** when there is room now (a concurrent uncharge).
*/
bool mem_cgroup_out_of_memory(memlab_machine *m, struct mem_cgroup *memcg, uint32_t gfp,
			      int order)
{
	struct oom_control oc = { m, m->current, memcg, gfp, order, 0, NULL, LONG_MIN, false, NULL };

	if (memcg->memory.usage + (1ull << order) <= memcg->memory.max)
		return true;
	if (task_is_dying(m))	/* memcg's: no mark, the charge fails for it */
		return true;
	return oom_kill_and_retry(&oc);
}

/*
** The fault of t failed for want of memory (VM_FAULT_OOM): the OOM killer
** ran inside the allocation or the charge already.  t chosen:
** -MEMLAB_EFAULT with MEMLAB_SIGKILL; else -MEMLAB_ENOMEM, where Linux
** would retry the fault for ever (nothing killable, an injected failure).
*/
int pagefault_out_of_memory(memlab_task *t, int *si_code)
{
	if (t->oom_victim) {	/* fatal_signal_pending(current) */
		*si_code = MEMLAB_SIGKILL;
		return -MEMLAB_EFAULT;
	}
	return -MEMLAB_ENOMEM;
}

/* ===================== oom_score_adj and procfs ===================== */

/* /proc/PID/oom_score (5.9+): badness scaled to 0..2000, 0 for the unkillable. */
void proc_oom_score(memlab_task *t, struct strbuf *sb)
{
	uint64_t totalpages = oom_totalpages(t->m, NULL);
	long badness = oom_badness(t, totalpages), points = 0;

	if (badness != LONG_MIN)
		points = (1000 + badness * 1000 / (long)totalpages) * 2 / 3;
	sb_printf(sb, "%lu\n", (unsigned long)points);
}

void proc_oom_score_adj(memlab_task *t, struct strbuf *sb)
{
	sb_printf(sb, "%hd\n", t->oom_score_adj);
}

/*
** __set_oom_adj(): the value goes to the thread group and to every
** other process sharing its mm (MMF_MULTIPROCESS), init excepted; a
** writer with CAP_SYS_RESOURCE also sets the floor.
*/
static int set_oom_adj(memlab_task *t, int adj)
{
	memlab_machine *m = t->m;
	bool capable = task_is_root(t);

	if (adj < OOM_SCORE_ADJ_MIN || adj > OOM_SCORE_ADJ_MAX)
		return -MEMLAB_EINVAL;
	if (adj < t->oom_score_adj_min && !capable)
		return -MEMLAB_EACCES;
	for (memlab_task *p = m->tasks; p; p = p->next) {
		if (p->tgid != t->tgid && (p->mm != t->mm || oom_unkillable_task(p)))
			continue;
		p->oom_score_adj = (short)adj;
		if (capable)
			p->oom_score_adj_min = (short)adj;
	}
	trace(m, TP_OOM_SCORE_ADJ_UPDATE, (uint64_t)t->pid, (uint64_t)(int64_t)adj, 0, 0);
	return 0;
}

int memlab_task_oom_score_adj(memlab_task *t, int adj)
{
	memlab_task *prev = task_enter(t);
	int err = set_oom_adj(t, adj);

	task_leave(t, prev);
	return err;
}

int memlab_task_get_oom_score_adj(const memlab_task *t)
{
	return t->oom_score_adj;
}

/*
** memlab_check()'s part: between calls no victim is alive (nor a task
** marked for the reserves without being one), the count of pending
** victims is zero, and a thread group agrees on its oom_score_adj.
*/
int oom_check(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	struct ml_check c = { fn, ud, 0 };

	if (m->oom_victims)
		ml_violation(&c, "oom: %d victims pending between calls", m->oom_victims);
	for (memlab_task *t = m->tasks; t; t = t->next) {
		memlab_task *p = next_process(m, t->tgid - 1);

		if (t->oom_victim)
			ml_violation(&c, "pid %d (%s): an OOM victim still alive", t->pid, t->comm);
		else if (t->oom_marked || t->oom_memdie)
			ml_violation(&c, "pid %d (%s): marked an OOM victim, never killed", t->pid,
				     t->comm);
		if (t->oom_score_adj != p->oom_score_adj || t->oom_score_adj_min != p->oom_score_adj_min)
			ml_violation(&c, "pid %d: oom_score_adj %hd, its thread group's %hd", t->pid,
				     t->oom_score_adj, p->oom_score_adj);
		/* __set_oom_adj() writes every process sharing the mm but init */
		p = t->mm->owner;
		if (!oom_unkillable_task(t) && !oom_unkillable_task(p) &&
		    t->oom_score_adj != p->oom_score_adj)
			ml_violation(&c, "pid %d: oom_score_adj %hd, pid %d sharing its mm %hd",
				     t->pid, t->oom_score_adj, p->pid, p->oom_score_adj);
	}
	return c.count;
}
