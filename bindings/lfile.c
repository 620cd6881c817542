/*
** lfile.c -- file I/O from Lua: f:read, f:write and f:ondisk on a
** memlab.file (read(2)/write(2) through the page cache, and what the disk
** holds), the task's pread/pwrite into and out of its memory and msync,
** and m:sync().  Errno outcomes return nil, "EFAULT", 14 and the like.
*/
#include <string.h>

#include "lmemlab.h"

#define LFILE_MAX_READ	(1u << 30)	/* the largest n of a read: a host string */

/* The live file at argument 1, or raise naming fname. */
static memlab_file *check_live_file(lua_State *L, const char *fname)
{
	lfile *lf = luaL_testudata(L, 1, LMEMLAB_FILE);

	if (!lf)
		lmemlab_typeerror(L, 1, fname, LMEMLAB_FILE);
	if (!lf->f || !lmemlab_machine_core(lf->lm))
		luaL_error(L, "%s: attempt to use a file of a closed machine", fname);
	return lf->f;
}

/* A byte count at arg, at most 1 GiB (it becomes a host string). */
static uint64_t check_count(lua_State *L, int arg, const char *fname)
{
	uint64_t n = lmemlab_checklength(L, arg, fname, "count");

	if (n > LFILE_MAX_READ)
		return (uint64_t)lmemlab_argerror(L, arg, fname, "count is larger than 1 GiB");
	return n;
}

static int push_count(lua_State *L, int rc, uint64_t done)
{
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)done);
	return 1;
}

/* f:read(offset, count) --> string (shorter at the end of the file) | nil, err, errno */
static int f_read(lua_State *L)
{
	memlab_file *f = check_live_file(L, "read");
	uint64_t off = lmemlab_checklength(L, 2, "read", "offset");
	uint64_t n = check_count(L, 3, "read"), done = 0;
	luaL_Buffer b;
	char *buf = luaL_buffinitsize(L, &b, (size_t)n);
	int rc = memlab_file_pread(f, off, buf, n, &done);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	luaL_pushresultsize(&b, (size_t)done);
	return 1;
}

/* f:write(offset, s) --> bytes written | nil, err, errno */
static int f_write(lua_State *L)
{
	memlab_file *f = check_live_file(L, "write");
	uint64_t off = lmemlab_checklength(L, 2, "write", "offset"), done = 0;
	size_t len;
	const char *s = lua_type(L, 3) == LUA_TSTRING ? lua_tolstring(L, 3, &len) : NULL;

	if (!s)
		return lmemlab_typeerror(L, 3, "write", "data (a string)");
	return push_count(L, memlab_file_pwrite(f, off, s, len, &done), done);
}

/* f:ondisk(offset, count) --> what the disk holds there | nil, err, errno */
static int f_ondisk(lua_State *L)
{
	memlab_file *f = check_live_file(L, "ondisk");
	uint64_t off = lmemlab_checklength(L, 2, "ondisk", "offset");
	uint64_t n = check_count(L, 3, "ondisk");
	luaL_Buffer b;
	char *buf = luaL_buffinitsize(L, &b, (size_t)n);
	int rc = memlab_file_ondisk(f, off, buf, n);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/*
** f:fadvise(offset, len, advice) --> true | nil, err, errno: posix_fadvise(2);
** advice "normal", "random", "sequential", "willneed", "dontneed",
** "noreuse" or Linux's value; len 0: to the end of the file.
*/
static int f_fadvise(lua_State *L)
{
	static const char *const names[] = { "normal", "random", "sequential", "willneed",
					     "dontneed", "noreuse", NULL };
	memlab_file *f = check_live_file(L, "fadvise");
	int64_t off = lmemlab_checkinteger(L, 2, "fadvise", "offset");
	int64_t len = lmemlab_checkinteger(L, 3, "fadvise", "len");
	int advice;

	if (lua_type(L, 4) == LUA_TNUMBER) {
		advice = (int)lmemlab_checkrange(L, 4, "fadvise", "advice", INT32_MIN, INT32_MAX);
	} else {
		const char *s = lua_type(L, 4) == LUA_TSTRING ? lua_tostring(L, 4) : "";

		for (advice = 0; names[advice] && strcmp(names[advice], s); advice++)
			;
		if (!names[advice])
			return lmemlab_argerror(L, 4, "fadvise", "advice must be \"normal\", "
						"\"random\", \"sequential\", \"willneed\", \"dontneed\", "
						"\"noreuse\" or a POSIX_FADV_* value");
	}
	return lmemlab_pushok(L, memlab_fadvise(f, off, len, advice));
}

/* f:truncate(length) --> true | nil, err, errno: ftruncate(2) */
static int f_truncate(lua_State *L)
{
	memlab_file *f = check_live_file(L, "truncate");
	int64_t length = lmemlab_checkinteger(L, 2, "truncate", "length");

	return lmemlab_pushok(L, memlab_file_truncate(f, length));
}

/*
** f:ra() --> { start, size, async_size, ra_pages, mmap_miss, prev_pos,
** random, order }: the file's readahead state (struct file_ra_state)
*/
static int f_ra(lua_State *L)
{
	memlab_file *f = check_live_file(L, "ra");
	struct memlab_file_ra ra;

	memlab_file_ra(f, &ra);
	const struct { const char *name; lua_Integer v; } field[] = {
		{ "start", (lua_Integer)ra.start }, { "size", (lua_Integer)ra.size },
		{ "async_size", (lua_Integer)ra.async_size }, { "ra_pages", (lua_Integer)ra.ra_pages },
		{ "mmap_miss", (lua_Integer)ra.mmap_miss }, { "prev_pos", (lua_Integer)ra.prev_pos },
		{ "order", (lua_Integer)ra.order },
	};
	lua_createtable(L, 0, 8);
	for (size_t i = 0; i < sizeof(field) / sizeof(field[0]); i++) {
		lua_pushinteger(L, field[i].v);
		lua_setfield(L, -2, field[i].name);
	}
	lua_pushboolean(L, ra.random);
	lua_setfield(L, -2, "random");
	return 1;
}

/*
** f:folios() --> { { index =, pages =, order =, pfn =, readahead =, dirty
** =, active =, referenced =, workingset =, mapped =, uptodate = }, ... }:
** the folios of the file's page cache, in index order.
*/
static int f_folios(lua_State *L)
{
	memlab_file *f = check_live_file(L, "folios");
	int64_t n = memlab_file_folios(f, NULL, 0);
	struct memlab_cache_folio *v;

	if (n < 0)
		return luaL_error(L, "folios: %s", memlab_strerror((int)n));
	v = lua_newuserdatauv(L, (size_t)n * sizeof(*v) + 1, 0);	/* freed by the GC */
	n = memlab_file_folios(f, v, (size_t)n);
	if (n < 0)
		return luaL_error(L, "folios: %s", memlab_strerror((int)n));
	lua_createtable(L, (int)n, 0);
	for (int64_t i = 0; i < n; i++) {
		const struct { const char *name; int on; } flag[] = {
			{ "readahead", v[i].readahead }, { "dirty", v[i].dirty },
			{ "active", v[i].active }, { "referenced", v[i].referenced },
			{ "workingset", v[i].workingset }, { "mapped", v[i].mapped },
			{ "uptodate", v[i].uptodate },
		};

		lua_createtable(L, 0, 11);
		lua_pushinteger(L, (lua_Integer)v[i].index);
		lua_setfield(L, -2, "index");
		lua_pushinteger(L, (lua_Integer)1 << v[i].order);
		lua_setfield(L, -2, "pages");
		lua_pushinteger(L, (lua_Integer)v[i].order);
		lua_setfield(L, -2, "order");
		lua_pushinteger(L, (lua_Integer)v[i].pfn);
		lua_setfield(L, -2, "pfn");
		for (size_t k = 0; k < sizeof(flag) / sizeof(flag[0]); k++) {
			lua_pushboolean(L, flag[k].on);
			lua_setfield(L, -2, flag[k].name);
		}
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/*
** p:pread(file, addr, count, offset) and p:pwrite(...) --> bytes |
** nil, "EFAULT", 14 | nil, "SIGKILL", 9 when a fault of the copy ran the
** OOM killer and it chose this task: Linux's task dies in the system
** call and never sees its result; memlab's has exited when it returns.
*/
static int task_rw(lua_State *L, const char *fname, int write)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, fname, &lm);
	memlab_file *f = lmemlab_checkfile(L, 2, lm, fname);
	uint64_t addr = lmemlab_checkaddr(L, 3, fname, "addr");
	uint64_t count = lmemlab_checklength(L, 4, fname, "count");
	uint64_t off = lmemlab_checklength(L, 5, fname, "offset"), done = 0;
	int pid = memlab_task_pid(t), rc;

	lmemlab_begin_call(lm);
	rc = write ? memlab_pwrite(t, f, addr, count, off, &done)
		   : memlab_pread(t, f, addr, count, off, &done);
	lmemlab_end_call(L, lm, fname, rc);
	if (lmemlab_pushkilled(L, lm, t, pid))
		return 3;
	return push_count(L, rc, done);
}

static int t_pread(lua_State *L)
{
	return task_rw(L, "pread", 0);
}

static int t_pwrite(lua_State *L)
{
	return task_rw(L, "pwrite", 1);
}

/* p:msync(addr, len [, flags]) --> true | nil, err, errno; flags "sync" (default), "async", "invalidate" */
static int t_msync(lua_State *L)
{
	static const char *const names[] = { "sync", "async", "invalidate", "sync|invalidate",
					     "async|invalidate", NULL };
	static const int values[] = { MEMLAB_MS_SYNC, MEMLAB_MS_ASYNC, MEMLAB_MS_INVALIDATE,
				      MEMLAB_MS_SYNC | MEMLAB_MS_INVALIDATE,
				      MEMLAB_MS_ASYNC | MEMLAB_MS_INVALIDATE };
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "msync", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "msync", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "msync", "len");
	int flags = MEMLAB_MS_SYNC, rc;

	if (lua_type(L, 4) == LUA_TNUMBER) {
		flags = (int)lmemlab_checkrange(L, 4, "msync", "flags", INT32_MIN, INT32_MAX);
	} else if (!lua_isnoneornil(L, 4)) {
		const char *s = lua_type(L, 4) == LUA_TSTRING ? lua_tostring(L, 4) : "";
		int i;

		for (i = 0; names[i] && strcmp(names[i], s); i++)
			;
		if (!names[i])
			return lmemlab_argerror(L, 4, "msync", "flags must be \"sync\", \"async\", "
						"\"invalidate\", \"sync|invalidate\", \"async|invalidate\" or MS_* bits");
		flags = values[i];
	}

	lmemlab_begin_call(lm);
	rc = memlab_msync(t, addr, len, flags);
	lmemlab_end_call(L, lm, "msync", rc);
	return lmemlab_pushok(L, rc);
}

/* m:sync() --> true: every file's dirty pages written back */
static int m_sync(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "sync");
	int rc;

	lmemlab_begin_call(lm);
	rc = memlab_sync(lmemlab_machine_core(lm));
	lmemlab_end_call(L, lm, "sync", rc);
	return lmemlab_pushok(L, rc);
}

static const luaL_Reg file_methods[] = {
	{ "read", f_read },
	{ "write", f_write },
	{ "ondisk", f_ondisk },
	{ "fadvise", f_fadvise },
	{ "truncate", f_truncate },
	{ "ra", f_ra },
	{ "folios", f_folios },
	{ NULL, NULL }
};

static const luaL_Reg file_task_methods[] = {
	{ "pread", t_pread },
	{ "pwrite", t_pwrite },
	{ "msync", t_msync },
	{ NULL, NULL }
};

static const luaL_Reg file_machine_methods[] = {
	{ "sync", m_sync },
	{ NULL, NULL }
};

void lmemlab_file_methods(lua_State *L)
{
	luaL_setfuncs(L, file_methods, 0);
}

void lmemlab_file_task_methods(lua_State *L)
{
	luaL_setfuncs(L, file_task_methods, 0);
}

void lmemlab_file_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, file_machine_methods, 0);
}
