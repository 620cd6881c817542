/*
** sys.c -- getrlimit(2), setrlimit(2) and prlimit(2) of a task on itself,
** as Linux 6.18's kernel/sys.c do_prlimit does them, for the limits
** memlab reads: RLIMIT_STACK (stack growth, and the mmap layout picked at
** spawn), RLIMIT_DATA and RLIMIT_AS (mmap, brk), RLIMIT_MEMLOCK (mlock,
** MAP_LOCKED, mremap).  The limits belong to the thread group (Linux's
** signal->rlim): a new one goes to each of its tasks.  The checks read
** the soft limit (t->rlim, Linux's rlimit()); the hard limit only bounds
** the soft one and, without CAP_SYS_RESOURCE (root stands for it, as in
** oom_kill.c), can only come down.
**
** Where memlab differs: Linux's other resources (RLIMIT_NOFILE, ...) are
** EINVAL here, as one past RLIM_NLIMITS is on Linux; no LSM has a say.
*/
#include "mm.h"

/* do_prlimit() with a new limit: the checks in Linux's order, then the group's copies. */
static int do_setrlimit(memlab_task *t, int resource, uint64_t cur, uint64_t max)
{
	uint64_t *old_max = rlimit_field(&t->rlim_max, resource);

	if (!old_max || cur > max)
		return -MEMLAB_EINVAL;
	if (max > *old_max && !task_is_root(t))
		return -MEMLAB_EPERM;
	for (memlab_task *p = t->m->tasks; p; p = p->next) {
		if (p->tgid != t->tgid)
			continue;
		*rlimit_field(&p->rlim, resource) = cur;
		*rlimit_field(&p->rlim_max, resource) = max;
	}
	return 0;
}

int memlab_getrlimit(memlab_task *t, int resource, uint64_t *cur, uint64_t *max)
{
	uint64_t *c = rlimit_field(&t->rlim, resource);

	if (!c)
		return -MEMLAB_EINVAL;
	if (cur)
		*cur = *c;
	if (max)
		*max = *rlimit_field(&t->rlim_max, resource);
	return 0;
}

int memlab_setrlimit(memlab_task *t, int resource, uint64_t cur, uint64_t max)
{
	if (t->m->dead)
		return -MEMLAB_EIO;
	return do_setrlimit(t, resource, cur, max);
}
