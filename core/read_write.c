/*
** read_write.c -- read(2) and write(2) of simulated files (fs/read_write.c
** over mm/filemap.c): from a host buffer, for an embedding host or a
** script, and into or out of a task's memory, where the kernel's copy to
** or from user space takes page faults of its own (and EFAULT instead of
** a signal).  Also what the file's disk holds, for experiments on
** write-back.
*/
#include <string.h>

#include "mm.h"

/* ---- host buffers ---- */

static int copy_out_host(void *ud, uint64_t done, uint8_t *bytes, uint64_t len)
{
	memcpy((uint8_t *)ud + done, bytes, len);
	return 0;
}

static int copy_in_host(void *ud, uint64_t done, uint8_t *bytes, uint64_t len)
{
	memcpy(bytes, (const uint8_t *)ud + done, len);
	return 0;
}

int memlab_file_pread(memlab_file *f, uint64_t off, void *buf, uint64_t n, uint64_t *done)
{
	int64_t r;

	if (f->m->dead)
		return -MEMLAB_EIO;
	r = filemap_read(f, off, n, copy_out_host, buf);

	background_run(f->m);
	if (r < 0)
		return (int)r;
	*done = (uint64_t)r;
	return 0;
}

int memlab_file_pwrite(memlab_file *f, uint64_t off, const void *buf, uint64_t n,
		       uint64_t *done)
{
	int64_t r;

	if (f->m->dead)
		return -MEMLAB_EIO;
	if (!f->writable)
		return -MEMLAB_EBADF;
	r = filemap_write(f, off, n, copy_in_host, (void *)buf);
	background_run(f->m);
	if (r < 0)
		return (int)r;
	*done = (uint64_t)r;
	return 0;
}

uint64_t memlab_file_size(const memlab_file *f)
{
	return f->size;
}

/* ---- a task's memory: copy_to_user / copy_from_user ---- */

struct user_copy {
	memlab_task *t;
	uint64_t addr;
};

/*
** access_ok(): the range lies in user space, or the copy fails before it
** starts.  x86-64 (6.x) only checks that the end is below 2^63 and does
** not wrap -- the addresses above TASK_SIZE_MAX fault (or trap, when not
** canonical) and the copy's fixup makes that EFAULT; arm64 checks the
** range against TASK_SIZE_MAX.
*/
static bool access_ok(const memlab_task *t, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (end < addr)
		return false;
	if (t->m->arch == MEMLAB_ARCH_X86_64)
		return (int64_t)end >= 0;
	return end <= t->mm->task_size;
}

/*
** The kernel's access to user memory faults like the task's own (the
** counts are the task's) but answers a bad address with EFAULT, not a
** signal: the task's last signal is left as it was.
*/
static int user_access(struct user_copy *c, uint64_t done, uint8_t *bytes, uint64_t len,
		       int access)
{
	int code = c->t->last_signal_code, si_code;
	uint64_t addr = c->t->last_signal_addr;
	int err;

	if (!access_ok(c->t, c->addr + done, len))
		return -MEMLAB_EFAULT;
	c->t->uaccess = true;
	err = memlab_access(c->t, c->addr + done, len, access, bytes, &si_code);
	c->t->uaccess = false;
	c->t->last_signal_code = code;
	c->t->last_signal_addr = addr;
	return err;
}

static int copy_to_user(void *ud, uint64_t done, uint8_t *bytes, uint64_t len)
{
	return user_access(ud, done, bytes, len, 'w');
}

static int copy_from_user(void *ud, uint64_t done, uint8_t *bytes, uint64_t len)
{
	return user_access(ud, done, bytes, len, 'r');
}

/*
** read(2) or write(2) through the page cache for t: the bytes copied, or
** the error when none were.  Its page allocations and charges may
** OOM-kill (inside them, as Linux); the task itself chosen ends the call
** (its caller finds it gone).
*/
static int64_t rw_pagecache(memlab_task *t, memlab_file *f, uint64_t addr, uint64_t count,
			    uint64_t off, bool write)
{
	struct user_copy c = { t, addr };

	return write ? filemap_write(f, off, count, copy_from_user, &c)
		     : filemap_read(f, off, count, copy_to_user, &c);
}

static int ksys_pread64(memlab_task *t, memlab_file *f, uint64_t addr, uint64_t count,
			uint64_t off, uint64_t *done)
{
	int64_t r = rw_pagecache(t, f, addr, count, off, false);

	if (r < 0)
		return r == -MEMLAB_ENOMEM ? -MEMLAB_ENOMEM : -MEMLAB_EFAULT;
	*done = (uint64_t)r;
	return 0;
}

int memlab_pread(memlab_task *t, memlab_file *f, uint64_t addr, uint64_t count,
		 uint64_t off, uint64_t *done)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = ksys_pread64(t, f, addr, count, off, done);

	task_leave(t, prev);
	return ret;
}

static int ksys_pwrite64(memlab_task *t, memlab_file *f, uint64_t addr, uint64_t count,
			 uint64_t off, uint64_t *done)
{
	int64_t r;

	if (!f->writable)
		return -MEMLAB_EBADF;
	r = rw_pagecache(t, f, addr, count, off, true);
	if (r < 0)
		return r == -MEMLAB_ENOMEM || r == -MEMLAB_EFBIG ? (int)r : -MEMLAB_EFAULT;
	*done = (uint64_t)r;
	return 0;
}

int memlab_pwrite(memlab_task *t, memlab_file *f, uint64_t addr, uint64_t count,
		  uint64_t off, uint64_t *done)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = ksys_pwrite64(t, f, addr, count, off, done);

	task_leave(t, prev);
	return ret;
}

int memlab_file_ondisk(memlab_file *f, uint64_t off, void *buf, uint64_t n)
{
	memlab_machine *m = f->m;
	uint8_t *page, *out = buf;
	uint64_t done = 0;

	if (off > f->size || n > f->size - off)
		return -MEMLAB_EINVAL;
	page = ml_alloc(m, m->page_size);
	if (!page)
		return -MEMLAB_ENOMEM;
	while (done < n) {
		uint64_t pos = off + done, in = pos & (m->page_size - 1);
		uint64_t len = m->page_size - in < n - done ? m->page_size - in : n - done;

		disk_read_page(f, pos >> m->page_shift, page);
		memcpy(out + done, page + in, len);
		done += len;
	}
	ml_free(m, page, m->page_size);
	return 0;
}

int memlab_file_load(memlab_file *f, uint64_t off, const void *buf, uint64_t n)
{
	memlab_machine *m = f->m;
	const uint8_t *in = buf;
	uint64_t first = off >> m->page_shift, done = 0;
	uint8_t *page;
	int err = 0;

	if (off >= EXT4_MAXBYTES || n > EXT4_MAXBYTES - off)
		return -MEMLAB_EFBIG;
	for (uint64_t i = first; n && i <= (off + n - 1) >> m->page_shift; i++)
		if (filemap_lookup(f, i) != PFN_NONE)
			return -MEMLAB_EBUSY;
	page = ml_alloc(m, m->page_size);
	if (!page)
		return -MEMLAB_ENOMEM;
	if (off + n > f->size)
		f->size = off + n;
	while (done < n && !err) {
		uint64_t pos = off + done, in_page = pos & (m->page_size - 1);
		uint64_t len = m->page_size - in_page < n - done ? m->page_size - in_page : n - done;

		disk_read_page(f, pos >> m->page_shift, page);
		memcpy(page + in_page, in + done, len);
		err = disk_write_page(f, pos >> m->page_shift, page);
		done += len;
	}
	ml_free(m, page, m->page_size);
	return err;
}
