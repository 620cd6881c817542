/*
** test_memcg_peak.c -- memory.peak per open file (core/memcontrol.c
** peak_show, peak_write; Linux 6.12+) against a model of Linux's rule.
** Random steps open, write (also with nothing, and as echo does), read
** and close memory.peak of a cgroup whose task maps and unmaps memory,
** and of one that is removed and made again under its open files; after
** every step each open fd reads what the model says, cat reads the
** global peak and memlab_check() finds nothing.
*/
#include <stdio.h>
#include <string.h>

#include "memlab/memlab.h"
#include "testlib.h"

#define NR_FDS		8
#define NR_MAPS		8
#define NR_STEPS	3000
#define UNSET		UINT64_MAX	/* OFP_PEAK_UNSET: an fd never written */
#define PAGE		4096u

/* The model: the global and local peak of /box, in bytes, and each fd. */
struct model {
	memlab_machine *m;
	memlab_task *t;
	uint64_t global, local;
	struct mfd {
		int fd;		/* -1: the slot is free */
		int box;	/* 1: /box/memory.peak, 0: /gone/memory.peak */
		int dead;	/* /gone was removed under it */
		uint64_t value;	/* cgroup_of_peak.value, in bytes */
	} fds[NR_FDS];
	uint64_t maps[NR_MAPS], lens[NR_MAPS];
	int gone_exists;
	uint32_t rng;
};

static uint32_t next(struct model *s)
{
	s->rng = s->rng * 1103515245u + 12345u;
	return s->rng >> 16;
}

/* A cgroup file's number ("123\n"); UINT64_MAX when it cannot be read. */
static uint64_t read_num(memlab_machine *m, const char *path)
{
	char *text;
	size_t len;
	uint64_t v = UINT64_MAX;

	if (memlab_cgroup_read(m, path, &text, &len) == 0) {
		v = strtoull(text, NULL, 10);
		memlab_free_text(m, text);
	}
	return v;
}

/* After a step that moved /box's usage (only up, or only down): the peaks follow. */
static void charged(struct model *s)
{
	uint64_t usage = read_num(s->m, "/box/memory.current");

	if (usage > s->local)
		s->local = usage;
	if (usage > s->global)
		s->global = usage;
}

/* peak_write() in the model: through the fd in slot i, or an echo (i -1). */
static void model_write(struct model *s, int i)
{
	uint64_t usage = i >= 0 && !s->fds[i].box ? 0 : read_num(s->m, "/box/memory.current");

	if (i < 0 || s->fds[i].box)
		s->local = usage;
	for (int j = 0; j < NR_FDS; j++) {
		struct mfd *p = &s->fds[j];

		if (p->fd >= 0 && !p->dead && p->value != UNSET && p->box == (i < 0 || s->fds[i].box) &&
		    usage > p->value)
			p->value = usage;
	}
	if (i >= 0)
		s->fds[i].value = usage;
}

/* A random open slot, or -1. */
static int pick_fd(struct model *s)
{
	int i = (int)(next(s) % NR_FDS);

	return s->fds[i].fd >= 0 ? i : -1;
}

static int step_open(struct model *s)
{
	int i = (int)(next(s) % NR_FDS), box = next(s) & 1;
	struct mfd *p = &s->fds[i];

	if (p->fd >= 0 || (!box && !s->gone_exists))
		return 0;
	if (memlab_cgroup_open(s->m, box ? "/box/memory.peak" : "/gone/memory.peak", &p->fd))
		return -1;
	p->box = box;
	p->dead = 0;
	p->value = UNSET;
	return 0;
}

static int step_write(struct model *s, const char *text)
{
	int i = pick_fd(s), rc;

	if (i < 0)
		return 0;
	rc = memlab_cgroup_fd_write(s->m, s->fds[i].fd, text);
	if (s->fds[i].dead)
		return rc == -MEMLAB_ENODEV ? 0 : -1;
	if (*text)
		model_write(s, i);
	return rc;
}

static int step_close(struct model *s)
{
	int i = pick_fd(s);

	if (i < 0)
		return 0;
	if (memlab_cgroup_close(s->m, s->fds[i].fd))
		return -1;
	s->fds[i].fd = -1;
	return 0;
}

/*
** mmap and touch 1..128 pages of /box's task, or unmap a mapping.  The
** unmapped pages the CPU's folio batches still hold are freed at once:
** else a later touch, filling the batch, would free (uncharge) them in
** its midst, and the peak of its step would fall between two reads.
*/
static int step_memory(struct model *s)
{
	int i = (int)(next(s) % NR_MAPS), si_code;

	if (s->lens[i]) {
		if (memlab_munmap(s->t, s->maps[i], s->lens[i]) || memlab_lru_add_drain_all(s->m))
			return -1;
		s->lens[i] = 0;
	} else {
		s->lens[i] = (1 + next(s) % 128) * PAGE;
		if (memlab_mmap(s->t, 0, s->lens[i], MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
				MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &s->maps[i]) ||
		    memlab_touch(s->t, s->maps[i], s->lens[i], 'w', &si_code))
			return -1;
	}
	charged(s);
	return 0;
}

/* rmdir /gone (its fds die) or make it again. */
static int step_gone(struct model *s)
{
	if (!s->gone_exists) {
		s->gone_exists = 1;
		return memlab_cgroup_mkdir(s->m, "/gone");
	}
	for (int i = 0; i < NR_FDS; i++)
		if (s->fds[i].fd >= 0 && !s->fds[i].box)
			s->fds[i].dead = 1;
	s->gone_exists = 0;
	return memlab_cgroup_rmdir(s->m, "/gone");
}

static int step(struct model *s)
{
	switch (next(s) % 10) {
	case 0: case 1: return step_open(s);
	case 2: case 3: return step_write(s, "x");
	case 4: return step_write(s, "");
	case 5: return step_close(s);
	case 6:
		model_write(s, -1);	/* before: the echo's write reads the usage too */
		return memlab_cgroup_write(s->m, "/box/memory.peak", "reset");
	case 7: case 8: return step_memory(s);
	default: return step_gone(s);
	}
}

/* Every open fd reads the model's value; -1 (and a message) when one does not. */
static int verify(struct model *s, int n)
{
	for (int i = 0; i < NR_FDS; i++) {
		struct mfd *p = &s->fds[i];
		uint64_t want = p->value == UNSET ? (p->box ? s->global : 0) :
				p->value > s->local || !p->box ? p->value : s->local;
		char *text;
		size_t len;
		int rc;

		if (p->fd < 0)
			continue;
		rc = memlab_cgroup_fd_read(s->m, p->fd, &text, &len);
		if (p->dead ? rc != -MEMLAB_ENODEV : rc || strtoull(text, NULL, 10) != want) {
			printf("  step %d: fd %d (%s%s) reads %d \"%s\", want %" PRIu64 "\n", n,
			       p->fd, p->box ? "/box" : "/gone", p->dead ? ", removed" : "", rc,
			       rc ? "" : text, want);
			if (!rc)
				memlab_free_text(s->m, text);
			return -1;
		}
		if (!rc)
			memlab_free_text(s->m, text);
	}
	return 0;
}

TEST(model)
{
	struct memlab_spawn_args args = { 0 };
	struct model s = { .rng = 1 };
	int n;

	for (int i = 0; i < NR_FDS; i++)
		s.fds[i].fd = -1;
	ASSERT_OK(memlab_create(NULL, &s.m));
	args.name = "p";
	args.cgroup = "/box";
	ASSERT_OK(memlab_spawn(s.m, &args, &s.t));
	s.global = s.local = read_num(s.m, "/box/memory.peak");
	for (n = 0; n < NR_STEPS; n++) {
		int rc = step(&s);

		ASSERT_EQ(rc, 0);
		ASSERT_EQ(verify(&s, n), 0);
		ASSERT_EQ(read_num(s.m, "/box/memory.peak"), s.global);
		ASSERT_EQ(memlab_check(s.m, NULL, NULL), 0);
	}
	memlab_destroy(s.m);	/* with the fds still open */
}

int main(void)
{
	RUN(model);
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count != 0;
}
