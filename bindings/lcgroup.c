/*
** lcgroup.c -- memory cgroups from Lua: m:cgroup(path) returns a
** memlab.cgroup for a directory of /sys/fs/cgroup (made if missing), whose
** methods read and write its files and move tasks into it; p:cgroup()
** names the task's.  Errno outcomes return nil, "EBUSY", 16 and the like.
**
**   local cg = m:cgroup("/box")
**   cg:write("memory.max", "64M");  cg:attach(p)
**   cg:current(), cg:stat().anon, cg:events().oom_kill, cg:read("memory.stat")
**   local f <close> = cg:open("memory.peak");  f:write("reset");  f:read()
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmemlab.h"

#define LMEMLAB_CGROUP "memlab.cgroup"
#define LMEMLAB_CGROUP_FILE "memlab.cgroup_file"
#define CG_PATH_MAX 4096

typedef struct lcgroup {
	lmachine *lm;		/* user value 1: the machine; 2: the path */
} lcgroup;

/* The cgroup at argument 1 of an open machine: its machine, and its path (*path). */
static memlab_machine *check_cgroup(lua_State *L, const char *fname, lmachine **lmp,
				    const char **path)
{
	lcgroup *cg = luaL_testudata(L, 1, LMEMLAB_CGROUP);
	memlab_machine *m;

	if (!cg)
		lmemlab_typeerror(L, 1, fname, LMEMLAB_CGROUP);
	if (!(m = lmemlab_machine_core(cg->lm)))
		luaL_error(L, "%s: attempt to use a cgroup of a closed machine", fname);
	lua_getiuservalue(L, 1, 2);
	*path = lua_tostring(L, -1);
	lua_pop(L, 1);		/* the userdata keeps it */
	*lmp = cg->lm;
	return m;
}

/* "dir/file" pushed: one '/' between them, the root's too. */
static const char *join_path(lua_State *L, const char *dir, const char *file)
{
	return lua_pushfstring(L, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file);
}

/* "path/file", checked: a file name without '/'. */
static const char *file_path(lua_State *L, int arg, const char *fname, const char *dir)
{
	size_t len = 0;
	const char *file = lua_type(L, arg) == LUA_TSTRING ? lua_tolstring(L, arg, &len) : NULL;

	if (!file)
		lmemlab_typeerror(L, arg, fname, "file name (a string)");
	if (!*file || strchr(file, '/') || strlen(file) != len)
		lmemlab_argerror(L, arg, fname, "a file name such as \"memory.max\" expected");
	return join_path(L, dir, file);
}

/* The cgroup at argument 1 and its file named at argument 2: *path is "dir/file". */
static memlab_machine *check_cgroup_file(lua_State *L, const char *fname, lmachine **lmp,
					 const char **path)
{
	const char *dir;
	memlab_machine *m = check_cgroup(L, fname, lmp, &dir);

	*path = file_path(L, 2, fname, dir);
	return m;
}

/* cg:read(file) --> text | nil, err, errno */
static int cg_read(lua_State *L)
{
	lmachine *lm;
	const char *path;
	memlab_machine *m = check_cgroup_file(L, "read", &lm, &path);
	char *text;
	size_t len;
	int rc = memlab_cgroup_read(m, path, &text, &len);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	return lmemlab_pushtext(L, lm, text, len);
}

/* The value to write at arg: a string (without a NUL byte) as is, an integer in decimal. */
static const char *value_arg(lua_State *L, int arg, const char *fname)
{
	size_t len;
	const char *s;

	if (lua_type(L, arg) == LUA_TSTRING) {
		s = lua_tolstring(L, arg, &len);
		if (strlen(s) != len)
			lmemlab_argerror(L, arg, fname, "value has a NUL byte");
		return s;
	}
	if (lua_type(L, arg) != LUA_TNUMBER)
		lmemlab_typeerror(L, arg, fname, "string or integer");
	return lua_pushfstring(L, "%I", lmemlab_checkinteger(L, arg, fname, "value"));
}

/* cg:write(file, value) --> true | nil, err, errno (value: "64M", "max", an integer) */
static int cg_write(lua_State *L)
{
	lmachine *lm;
	const char *value, *path;
	memlab_machine *m;
	int rc;

	lua_settop(L, 3);	/* the value is argument 3 even when missing */
	m = check_cgroup_file(L, "write", &lm, &path);
	value = value_arg(L, 3, "write");

	lmemlab_begin_call(lm);
	rc = memlab_cgroup_write(m, path, value);
	lmemlab_end_call(L, lm, "write", rc);
	return lmemlab_pushok(L, rc);
}

/* {===================== open files ===================== */

/*
** A memlab.cgroup_file: one file held open (an fd of the machine's), so
** that memory.peak and memory.swap.peak keep a peak per fd.  Created
** closed (fd -1) and then opened, so that a failed open leaves nothing.
*/
typedef struct lcgfile {
	lmachine *lm;		/* user value 1: the machine; 2: the path */
	int fd;			/* -1 once closed */
} lcgfile;

/* The open cgroup file at argument 1 and its machine, or raise naming fname. */
static memlab_machine *check_cgfile(lua_State *L, const char *fname, lcgfile **out)
{
	lcgfile *f = luaL_testudata(L, 1, LMEMLAB_CGROUP_FILE);
	memlab_machine *m;

	if (!f)
		lmemlab_typeerror(L, 1, fname, LMEMLAB_CGROUP_FILE);
	if (f->fd < 0)
		luaL_error(L, "%s: attempt to use a closed cgroup file", fname);
	if (!(m = lmemlab_machine_core(f->lm)))
		luaL_error(L, "%s: attempt to use a cgroup file of a closed machine", fname);
	*out = f;
	return m;
}

/* cg:open(file) --> cgroup file | nil, err, errno: file held open, as open(2) */
static int cg_open(lua_State *L)
{
	lmachine *lm;
	const char *path;
	memlab_machine *m = check_cgroup_file(L, "open", &lm, &path);
	lcgfile *f = lua_newuserdatauv(L, sizeof(*f), 2);
	int rc;

	f->lm = lm;
	f->fd = -1;
	luaL_setmetatable(L, LMEMLAB_CGROUP_FILE);
	lua_getiuservalue(L, 1, 1);
	lua_setiuservalue(L, -2, 1);
	lua_pushstring(L, path);
	lua_setiuservalue(L, -2, 2);
	if ((rc = memlab_cgroup_open(m, path, &f->fd)) < 0)
		return lmemlab_pushfail(L, rc);
	return 1;
}

/* f:read() --> text | nil, err, errno ("ENODEV" once the cgroup is removed) */
static int cgf_read(lua_State *L)
{
	lcgfile *f;
	memlab_machine *m = check_cgfile(L, "read", &f);
	char *text;
	size_t len;
	int rc = memlab_cgroup_fd_read(m, f->fd, &text, &len);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	return lmemlab_pushtext(L, f->lm, text, len);
}

/* f:write(value) --> true | nil, err, errno: write(2) of the bytes, no newline added */
static int cgf_write(lua_State *L)
{
	lcgfile *f;
	memlab_machine *m = check_cgfile(L, "write", &f);
	const char *value;
	int rc;

	lua_settop(L, 2);	/* the value is argument 2 even when missing */
	value = value_arg(L, 2, "write");
	lmemlab_begin_call(f->lm);
	rc = memlab_cgroup_fd_write(m, f->fd, value);
	lmemlab_end_call(L, f->lm, "write", rc);
	return lmemlab_pushok(L, rc);
}

/* Close f's fd unless it is closed, or the machine (which closed it). */
static void cgf_release(lcgfile *f)
{
	memlab_machine *m = lmemlab_machine_core(f->lm);

	if (f->fd >= 0 && m)
		memlab_cgroup_close(m, f->fd);
	f->fd = -1;
}

/* f:close() --> true; closing a closed file raises, as any use of it */
static int cgf_close(lua_State *L)
{
	lcgfile *f = luaL_testudata(L, 1, LMEMLAB_CGROUP_FILE);

	if (!f)
		return lmemlab_typeerror(L, 1, "close", LMEMLAB_CGROUP_FILE);
	if (f->fd < 0)
		return luaL_error(L, "close: attempt to use a closed cgroup file");
	cgf_release(f);
	lua_pushboolean(L, 1);
	return 1;
}

/* __gc and __close: close what is still open; a closed file is left alone. */
static int cgf_gc(lua_State *L)
{
	cgf_release(luaL_checkudata(L, 1, LMEMLAB_CGROUP_FILE));
	return 0;
}

static int cgf_tostring(lua_State *L)
{
	lcgfile *f = luaL_checkudata(L, 1, LMEMLAB_CGROUP_FILE);

	lua_getiuservalue(L, 1, 2);
	if (f->fd < 0 || !lmemlab_machine_core(f->lm))	/* the machine closes its files */
		lua_pushfstring(L, LMEMLAB_CGROUP_FILE " %s (closed)", lua_tostring(L, -1));
	else
		lua_pushfstring(L, LMEMLAB_CGROUP_FILE " %s (fd %d)", lua_tostring(L, -1), f->fd);
	return 1;
}

static const luaL_Reg cgfile_methods[] = {
	{ "read", cgf_read },
	{ "write", cgf_write },
	{ "close", cgf_close },
	{ NULL, NULL }
};

static const luaL_Reg cgfile_metamethods[] = {
	{ "__gc", cgf_gc },
	{ "__close", cgf_gc },
	{ "__tostring", cgf_tostring },
	{ NULL, NULL }
};

/* }===================== */

/* cg:attach(task | pid) --> true | nil, err, errno: its thread group moves in */
static int cg_attach(lua_State *L)
{
	lmachine *lm, *tlm;
	const char *dir;
	memlab_machine *m = check_cgroup(L, "attach", &lm, &dir);
	int pid;

	if (lua_type(L, 2) == LUA_TNUMBER) {
		pid = (int)lmemlab_checkrange(L, 2, "attach", "pid", 1, INT32_MAX);
	} else {
		memlab_task *t = lmemlab_checktaskat(L, 2, "attach", &tlm);

		if (tlm != lm)
			return lmemlab_argerror(L, 2, "attach", "task of another machine");
		pid = memlab_task_pid(t);
	}
	return lmemlab_pushok(L, memlab_cgroup_attach(m, dir, pid));
}

/* cg:rmdir() --> true | nil, "EBUSY", 16 */
static int cg_rmdir(lua_State *L)
{
	lmachine *lm;
	const char *dir;
	memlab_machine *m = check_cgroup(L, "rmdir", &lm, &dir);

	return lmemlab_pushok(L, memlab_cgroup_rmdir(m, dir));
}

/* Read file into a table of "key value" lines (flat keyed files); nil, err on failure. */
static int push_keyed(lua_State *L, const char *fname, const char *file)
{
	lmachine *lm;
	const char *dir;
	memlab_machine *m = check_cgroup(L, fname, &lm, &dir);
	const char *path = join_path(L, dir, file);
	char *text, *line, *sp, *nl;
	int rc = memlab_cgroup_read(m, path, &text, NULL);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_newtable(L);
	for (line = text; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		if (!(sp = strchr(line, ' ')))
			continue;
		*sp = 0;
		lua_pushinteger(L, (lua_Integer)strtoull(sp + 1, NULL, 10));
		lua_setfield(L, -2, line);
	}
	memlab_free_text(m, text);
	return 1;
}

/* cg:stat() --> { anon =, file =, ..., pgfault = } from memory.stat */
static int cg_stat(lua_State *L)
{
	return push_keyed(L, "stat", "memory.stat");
}

/* cg:events([local]) --> { low =, high =, max =, oom =, oom_kill =, oom_group_kill = } */
static int cg_events(lua_State *L)
{
	return push_keyed(L, "events", lua_toboolean(L, 2) ? "memory.events.local"
							  : "memory.events");
}

/* A one-number file: memory.current, memory.peak; "max" is math.huge. */
static int push_number(lua_State *L, const char *fname, const char *file)
{
	lmachine *lm;
	const char *dir;
	memlab_machine *m = check_cgroup(L, fname, &lm, &dir);
	const char *path = join_path(L, dir, file);
	char *text;
	int rc = memlab_cgroup_read(m, path, &text, NULL);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	if (!strncmp(text, "max", 3))
		lua_pushnumber(L, HUGE_VAL);
	else
		lua_pushinteger(L, (lua_Integer)strtoull(text, NULL, 10));
	memlab_free_text(m, text);
	return 1;
}

/* cg:current() --> bytes (memory.current, with what the CPUs' stocks hold) */
static int cg_current(lua_State *L)
{
	return push_number(L, "current", "memory.current");
}

/* cg:peak() --> bytes (memory.peak) */
static int cg_peak(lua_State *L)
{
	return push_number(L, "peak", "memory.peak");
}

/* cg:procs() --> { pid, ... } (cgroup.procs, ascending) */
static int cg_procs(lua_State *L)
{
	lmachine *lm;
	const char *dir;
	memlab_machine *m = check_cgroup(L, "procs", &lm, &dir);
	const char *path = join_path(L, dir, "cgroup.procs");
	char *text, *p;
	int rc = memlab_cgroup_read(m, path, &text, NULL), n = 0;

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_newtable(L);
	for (p = text; *p; p = strchr(p, '\n') + 1) {
		lua_pushinteger(L, (lua_Integer)strtol(p, NULL, 10));
		lua_rawseti(L, -2, ++n);
	}
	memlab_free_text(m, text);
	return 1;
}

static int cg_index(lua_State *L)
{
	luaL_checkudata(L, 1, LMEMLAB_CGROUP);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (lua_type(L, 2) == LUA_TSTRING && !strcmp(lua_tostring(L, 2), "path"))
		lua_getiuservalue(L, 1, 2);
	else if (lua_type(L, 2) == LUA_TSTRING && !strcmp(lua_tostring(L, 2), "machine"))
		lua_getiuservalue(L, 1, 1);
	else
		lua_pushnil(L);
	return 1;
}

static int cg_tostring(lua_State *L)
{
	luaL_checkudata(L, 1, LMEMLAB_CGROUP);
	lua_getiuservalue(L, 1, 2);
	lua_pushfstring(L, LMEMLAB_CGROUP " %s", lua_tostring(L, -1));
	return 1;
}

static int cg_eq(lua_State *L)
{
	lcgroup *a = luaL_testudata(L, 1, LMEMLAB_CGROUP), *b = luaL_testudata(L, 2, LMEMLAB_CGROUP);

	if (!a || !b || a->lm != b->lm) {
		lua_pushboolean(L, 0);
		return 1;
	}
	lua_getiuservalue(L, 1, 2);
	lua_getiuservalue(L, 2, 2);
	lua_pushboolean(L, lua_rawequal(L, -1, -2));
	return 1;
}

/* m:cgroup(path) --> cgroup | nil, err, errno: the directory, made (mkdir -p) if missing */
/*
** The path as p:cgroup() names it: "/box/" and "//box/./" are "/box"
** (m:cgroup's lookup skipped the empty and "." components, and refused "..").
*/
static void push_canonical(lua_State *L, const char *path)
{
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (const char *p = path; *p;) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (len && !(len == 1 && p[0] == '.')) {
			luaL_addchar(&b, '/');
			luaL_addlstring(&b, p, len);
		}
		p += len;
	}
	if (luaL_bufflen(&b) == 0)
		luaL_addchar(&b, '/');
	luaL_pushresult(&b);
}

static int m_cgroup(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "cgroup");
	size_t len;
	const char *path = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
	lcgroup *cg;
	int rc;

	if (!path)
		return lmemlab_typeerror(L, 2, "cgroup", "path (a string)");

	if (path[0] != '/' || len >= CG_PATH_MAX || strlen(path) != len)
		return lmemlab_argerror(L, 2, "cgroup", "an absolute path such as \"/box\" expected");
	rc = memlab_cgroup_mkdir(lmemlab_machine_core(lm), path);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	push_canonical(L, path);
	cg = lua_newuserdatauv(L, sizeof(*cg), 2);
	cg->lm = lm;
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	lua_rotate(L, -2, 1);		/* the path above the cgroup */
	lua_setiuservalue(L, -2, 2);
	luaL_setmetatable(L, LMEMLAB_CGROUP);
	return 1;
}

/* p:cgroup() --> the path of the task's cgroup ("/" for the root) */
static int t_cgroup(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "cgroup", &lm);
	const char *path = lua_pushfstring(L, "%d/cgroup", memlab_task_pid(t));
	char *text;
	size_t len;
	int rc = memlab_proc(memlab_task_machine(t), path, &text, &len);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushlstring(L, text + 3, len > 4 ? len - 4 : 0);	/* "0::" path "\n" */
	memlab_free_text(memlab_task_machine(t), text);
	return 1;
}

static const luaL_Reg cgroup_methods[] = {
	{ "read", cg_read },
	{ "write", cg_write },
	{ "open", cg_open },
	{ "attach", cg_attach },
	{ "rmdir", cg_rmdir },
	{ "stat", cg_stat },
	{ "events", cg_events },
	{ "current", cg_current },
	{ "peak", cg_peak },
	{ "procs", cg_procs },
	{ NULL, NULL }
};

void lmemlab_open_cgroup(lua_State *L)
{
	if (luaL_newmetatable(L, LMEMLAB_CGROUP)) {
		luaL_newlib(L, cgroup_methods);
		lua_pushcclosure(L, cg_index, 1);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, cg_tostring);
		lua_setfield(L, -2, "__tostring");
		lua_pushcfunction(L, cg_eq);
		lua_setfield(L, -2, "__eq");
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, LMEMLAB_CGROUP_FILE)) {
		luaL_setfuncs(L, cgfile_metamethods, 0);
		luaL_newlib(L, cgfile_methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	luaL_getmetatable(L, LMEMLAB_MACHINE);
	if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
		lua_pushcfunction(L, m_cgroup);
		lua_setfield(L, -2, "cgroup");
	}
	lua_pop(L, 2);
	luaL_getmetatable(L, LMEMLAB_TASK);
	if (lua_getfield(L, -1, "__index") == LUA_TFUNCTION &&
	    lua_getupvalue(L, -1, 1) && lua_istable(L, -1)) {
		lua_pushcfunction(L, t_cgroup);
		lua_setfield(L, -2, "cgroup");
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
}
