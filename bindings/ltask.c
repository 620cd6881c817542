/*
** ltask.c -- processes: the memlab.task object (sbrk, brk, mmap, munmap,
** mprotect, mremap, madvise, mlock, munlock, mlockall, munlockall, getrlimit,
** setrlimit, touch, vmas, maps, mm, exit), the memlab.file object,
** the machine methods spawn, task, file and sysctl, and the PROT_*,
** MAP_*, MREMAP_*, MLOCK_* and MCL_* constants of the module.
**
** Lifetime: the machine owns its tasks and files.  A handle holds a
** pointer to the machine's userdata and keeps it alive through its user
** value 1, so the pointer stays valid; the core objects die with
** memlab_destroy (m:close() or the machine's __gc), after which every
** handle of that machine raises "attempt to use a task of a closed
** machine".  A task handle has no __gc: collecting it never exits the
** task.  p:exit() frees the core task; the handle is dead after it.
** Every use looks the pid up again (memlab_find_task), so a handle never
** follows a pointer to a task that is gone.
**
** The machine keeps one handle per live pid (registry[&HANDLES], an
** ephemeron table: machine userdata -> { [pid] = task handle }), so
** m:task(pid) returns the very object m:spawn returned.
**
** Argument forms (DESIGN.md, docs/lua-api.md): addresses and lengths are
** integers, a negative one standing for its two's complement as the
** unsigned long Linux takes (-4096 is 0xfffffffffffff000); lengths and
** offsets also take size strings ("64K"); protections are integers or
** letters ("rw-") or names ("PROT_READ|PROT_WRITE"); mmap and mremap
** flags are integers or names joined by '|' or ',', with or without the
** MAP_ / MREMAP_ prefix, case-insensitive.
*/
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "lmemlab.h"

#define COMM_LEN	16	/* TASK_COMM_LEN: 15 bytes of name and a NUL */

typedef struct ltask {
	lmachine *lm;		/* its machine, alive through user value 1 */
	memlab_task *t;		/* NULL before spawn succeeded and after exit */
	int pid;
	char name[COMM_LEN];	/* comm, as Linux truncates it; "" if unknown */
} ltask;

static const char HANDLES = 'h';	/* registry key of the handle cache */

/* {===================== names of flags ===================== */

static const struct memlab_flag_name prot_names[] = {
	{ "PROT_NONE", MEMLAB_PROT_NONE },
	{ "PROT_READ", MEMLAB_PROT_READ },
	{ "PROT_WRITE", MEMLAB_PROT_WRITE },
	{ "PROT_EXEC", MEMLAB_PROT_EXEC },
	{ "PROT_GROWSDOWN", MEMLAB_PROT_GROWSDOWN },
	{ "PROT_GROWSUP", MEMLAB_PROT_GROWSUP },
	{ NULL, 0 }
};

/* Linux's aliases, accepted in strings but not exported as constants. */
static const struct memlab_flag_name map_aliases[] = {
	{ "MAP_ANON", MEMLAB_MAP_ANONYMOUS },
	{ "MAP_FILE", 0 },
	{ NULL, 0 }
};

static const struct memlab_flag_name mremap_names[] = {
	{ "MREMAP_MAYMOVE", MEMLAB_MREMAP_MAYMOVE },
	{ "MREMAP_FIXED", MEMLAB_MREMAP_FIXED },
	{ "MREMAP_DONTUNMAP", MEMLAB_MREMAP_DONTUNMAP },
	{ NULL, 0 }
};

static const struct memlab_flag_name mlock_names[] = {
	{ "MLOCK_ONFAULT", MEMLAB_MLOCK_ONFAULT },
	{ NULL, 0 }
};

static const struct memlab_flag_name mcl_names[] = {
	{ "MCL_CURRENT", MEMLAB_MCL_CURRENT },
	{ "MCL_FUTURE", MEMLAB_MCL_FUTURE },
	{ "MCL_ONFAULT", MEMLAB_MCL_ONFAULT },
	{ NULL, 0 }
};

/* The value of the upper-case token tok in tables; -1 if none has it. */
static int64_t flag_lookup(const char *tok, const char *prefix,
			   const struct memlab_flag_name *const tables[])
{
	const struct memlab_flag_name *n;
	size_t plen = strlen(prefix);
	char full[80];

	if (strncmp(tok, prefix, plen) == 0)
		snprintf(full, sizeof(full), "%s", tok);
	else
		snprintf(full, sizeof(full), "%s%s", prefix, tok);
	for (int i = 0; tables[i]; i++)
		for (n = tables[i]; n->name; n++)
			if (strcmp(n->name, full) == 0)
				return n->value;
	return -1;
}

struct flag_tables {
	const char *prefix;
	const struct memlab_flag_name *const *tables;
};

static int64_t tables_lookup(const char *tok, const void *ud)
{
	const struct flag_tables *ft = ud;

	return flag_lookup(tok, ft->prefix, ft->tables);
}

/* Names joined by '|' or ',' from tables, with or without prefix. */
static const char *parse_names(const char *s, size_t len, const char *prefix,
			       const struct memlab_flag_name *const tables[],
			       const char *kind, uint32_t *out, char *msg,
			       size_t msgsize)
{
	struct flag_tables ft = { prefix, tables };

	return lmemlab_parse_names(s, len, tables_lookup, &ft, kind, out, msg, msgsize);
}

/* An integer flag mask in 0..0xffffffff at arg, or raise. */
static uint32_t check_mask(lua_State *L, int arg, const char *fname,
			   const char *what)
{
	return (uint32_t)lmemlab_checkrange(L, arg, fname, what, 0,
					    (lua_Integer)UINT32_MAX);
}

/*
** Flags at arg: an integer or names.  tables are searched with prefix;
** example is shown when the type is wrong.
*/
static uint32_t check_flags(lua_State *L, int arg, const char *fname,
			    const char *prefix,
			    const struct memlab_flag_name *const tables[],
			    const char *kind, const char *example)
{
	char msg[160];
	const char *err, *s;
	uint32_t v = 0;
	size_t len;

	if (lua_type(L, arg) == LUA_TNUMBER)
		return check_mask(L, arg, fname, "flags");
	if (lua_type(L, arg) != LUA_TSTRING) {
		lua_pushfstring(L, "flags (an integer or names such as \"%s\")",
				example);
		return (uint32_t)lmemlab_typeerror(L, arg, fname,
						   lua_tostring(L, -1));
	}
	s = lua_tolstring(L, arg, &len);
	err = parse_names(s, len, prefix, tables, kind, &v, msg, sizeof(msg));
	if (err)
		return (uint32_t)lmemlab_argerror(L, arg, fname, err);
	return v;
}

static uint32_t check_map_flags(lua_State *L, int arg, const char *fname)
{
	const struct memlab_flag_name *const tables[] = {
		memlab_map_names(), map_aliases, NULL
	};

	return check_flags(L, arg, fname, "MAP_", tables, "mmap flag",
			   "private|anonymous");
}

static uint32_t check_mremap_flags(lua_State *L, int arg, const char *fname)
{
	const struct memlab_flag_name *const tables[] = { mremap_names, NULL };

	return check_flags(L, arg, fname, "MREMAP_", tables, "mremap flag",
			   "maymove|fixed");
}

/* Is s made only of the letters r, w, x and '-' (any case)? */
static int is_letters(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr("rwxRWX-", s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

/*
** A protection at arg: an integer (memlab.PROT_READ | memlab.PROT_WRITE),
** letters ("rw-", "rw", "r-x", "---", "") or names ("PROT_READ|PROT_WRITE",
** "read,write", "none").
*/
static int check_prot(lua_State *L, int arg, const char *fname)
{
	const struct memlab_flag_name *const tables[] = { prot_names, NULL };
	char msg[160];
	const char *err, *s;
	uint32_t v = 0, bit;
	size_t len;

	if (lua_type(L, arg) == LUA_TNUMBER)
		return (int)check_mask(L, arg, fname, "prot");
	if (lua_type(L, arg) != LUA_TSTRING)
		return lmemlab_typeerror(L, arg, fname, "prot (an integer, "
					 "letters such as \"rw-\" or names)");
	s = lua_tolstring(L, arg, &len);
	if (!is_letters(s, len)) {
		err = parse_names(s, len, "PROT_", tables, "protection", &v,
				  msg, sizeof(msg));
		if (err)
			return lmemlab_argerror(L, arg, fname, err);
		return (int)v;
	}
	for (size_t i = 0; i < len; i++) {
		switch (tolower((unsigned char)s[i])) {
		case 'r': bit = MEMLAB_PROT_READ; break;
		case 'w': bit = MEMLAB_PROT_WRITE; break;
		case 'x': bit = MEMLAB_PROT_EXEC; break;
		default: continue;	/* '-' */
		}
		if (v & bit) {
			snprintf(msg, sizeof(msg), "letter '%c' twice in "
				 "protection \"%.8s%s\"", s[i], s,
				 len > 8 ? "..." : "");
			return lmemlab_argerror(L, arg, fname, msg);
		}
		v |= bit;
	}
	return (int)v;
}

/* }===================== */

/* {===================== addresses, lengths, increments ===================== */

/*
** An address (or any unsigned long) at arg: an integer; a negative one
** stands for its two's complement (-4096 = 0xfffffffffffff000).
*/
uint64_t lmemlab_checkaddr(lua_State *L, int arg, const char *fname, const char *what)
{
	return (uint64_t)lmemlab_checkinteger(L, arg, fname, what);
}

/* An optional address: nil or none is 0 (no hint). */
static uint64_t opt_addr(lua_State *L, int arg, const char *fname,
			 const char *what)
{
	if (lua_isnoneornil(L, arg))
		return 0;
	return lmemlab_checkaddr(L, arg, fname, what);
}

/*
** A length (or a file offset) at arg: an integer as check_addr takes it,
** or a size string ("64K"; "0" is 0).
*/
uint64_t lmemlab_checklength(lua_State *L, int arg, const char *fname, const char *what)
{
	size_t len;
	const char *s;

	switch (lua_type(L, arg)) {
	case LUA_TNUMBER:
		return (uint64_t)lmemlab_checkinteger(L, arg, fname, what);
	case LUA_TSTRING:
		s = lua_tolstring(L, arg, &len);
		if (len == 1 && s[0] == '0')
			return 0;
		return lmemlab_checksize(L, arg, fname);
	default:
		lua_pushfstring(L, "%s (an integer or a size such as \"64K\")",
				what);
		return (uint64_t)lmemlab_typeerror(L, arg, fname,
						   lua_tostring(L, -1));
	}
}

/* sbrk's increment: an integer, or a size string with an optional '-'. */
static int64_t check_increment(lua_State *L, int arg, const char *fname)
{
	const char *s, *err;
	uint64_t v = 0;
	char msg[160];
	size_t len;

	switch (lua_type(L, arg)) {
	case LUA_TNUMBER:
		return (int64_t)lmemlab_checkinteger(L, arg, fname, "increment");
	case LUA_TSTRING:
		s = lua_tolstring(L, arg, &len);
		if (len == 1 && s[0] == '0')
			return 0;
		if (len == 0 || s[0] != '-')
			return (int64_t)lmemlab_checksize(L, arg, fname);
		lua_pushlstring(L, s + 1, len - 1);
		err = lmemlab_tosize(L, -1, &v);
		lua_pop(L, 1);
		if (err) {
			snprintf(msg, sizeof(msg), "%s: \"%.*s%s\"", err,
				 (int)(len > 40 ? 40 : len), s,
				 len > 40 ? "..." : "");
			return lmemlab_argerror(L, arg, fname, msg);
		}
		return -(int64_t)v;	/* v < 2^63 */
	default:
		return lmemlab_typeerror(L, arg, fname, "increment (an integer "
					 "or a size such as \"64K\" or \"-64K\")");
	}
}

/* }===================== */

/* {===================== task handles ===================== */

static ltask *to_task_at(lua_State *L, int arg, const char *fname)
{
	ltask *lt = luaL_testudata(L, arg, LMEMLAB_TASK);

	if (!lt)
		lmemlab_typeerror(L, arg, fname, LMEMLAB_TASK);
	return lt;
}

static ltask *to_task(lua_State *L, const char *fname)
{
	return to_task_at(L, 1, fname);
}

/* The live task at argument 1, or raise; *lmp is its machine. */
memlab_task *lmemlab_checktask(lua_State *L, const char *fname, lmachine **lmp)
{
	return lmemlab_checktaskat(L, 1, fname, lmp);
}

/* The live task at argument arg, or raise; *lmp is its machine. */
memlab_task *lmemlab_checktaskat(lua_State *L, int arg, const char *fname, lmachine **lmp)
{
	ltask *lt = to_task_at(L, arg, fname);
	memlab_machine *m = lmemlab_machine_core(lt->lm);

	if (!m)
		luaL_error(L, "%s: attempt to use a task of a closed machine",
			   fname);
	if (!lt->t || memlab_find_task(m, lt->pid) != lt->t) {
		lt->t = NULL;
		luaL_error(L, "%s: attempt to use an exited task", fname);
	}
	*lmp = lt->lm;
	return lt->t;
}

/* Push the machine's table pid -> handle (the machine at index machine). */
static void push_handles(lua_State *L, int machine)
{
	machine = lua_absindex(L, machine);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &HANDLES);
	lua_pushvalue(L, machine);
	if (lua_rawget(L, -2) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, machine);
		lua_pushvalue(L, -2);
		lua_rawset(L, -4);
	}
	lua_remove(L, -2);
}

/* Push a new, dead handle of the machine at index machine. */
static ltask *new_task(lua_State *L, int machine, const char *name)
{
	lmachine *lm = lua_touserdata(L, machine);
	ltask *lt;

	machine = lua_absindex(L, machine);
	lt = lua_newuserdatauv(L, sizeof(*lt), 1);
	memset(lt, 0, sizeof(*lt));
	lt->lm = lm;
	if (name)	/* comm: Linux keeps 15 bytes */
		snprintf(lt->name, sizeof(lt->name), "%s", name);
	lua_pushvalue(L, machine);
	lua_setiuservalue(L, -2, 1);
	luaL_setmetatable(L, LMEMLAB_TASK);
	return lt;
}

/* Remember the handle at the top as the one of its pid. */
static void cache_task(lua_State *L, int machine, ltask *lt)
{
	machine = lua_absindex(L, machine);
	push_handles(L, machine);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, lt->pid);
	lua_pop(L, 1);
}

void lmemlab_pushtask(lua_State *L, int machine, memlab_task *t,
		      const char *name)
{
	ltask *lt;

	machine = lua_absindex(L, machine);
	push_handles(L, machine);
	if (lua_rawgeti(L, -1, memlab_task_pid(t)) == LUA_TUSERDATA) {
		lt = lua_touserdata(L, -1);
		if (lt->t == t) {
			lua_remove(L, -2);
			return;
		}
	}
	lua_pop(L, 2);
	lt = new_task(L, machine, name);
	lt->t = t;
	lt->pid = memlab_task_pid(t);
	cache_task(L, machine, lt);
}

/* __index: the fields pid, tgid, name, machine, cpu, then the methods (upvalue 1). */
static int t_index(lua_State *L)
{
	ltask *lt = to_task(L, "__index");
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";

	if (strcmp(key, "pid") == 0) {
		if (lt->pid > 0)
			lua_pushinteger(L, lt->pid);
		else
			lua_pushnil(L);
	} else if (strcmp(key, "name") == 0) {
		if (lt->name[0])
			lua_pushstring(L, lt->name);
		else
			lua_pushnil(L);
	} else if (strcmp(key, "machine") == 0) {
		lua_getiuservalue(L, 1, 1);
	} else if (strcmp(key, "cpu") == 0 || strcmp(key, "tgid") == 0) {
		memlab_machine *m = lmemlab_machine_core(lt->lm);

		if (m && lt->t && memlab_find_task(m, lt->pid) == lt->t)
			lua_pushinteger(L, key[0] == 'c' ? memlab_task_cpu(lt->t)
							  : memlab_task_tgid(lt->t));
		else
			lua_pushnil(L);
	} else {
		lua_pushvalue(L, 2);
		lua_rawget(L, lua_upvalueindex(1));
	}
	return 1;
}

int lmemlab_pushkilled(lua_State *L, lmachine *lm, const memlab_task *t, int pid)
{
	if (memlab_find_task(lmemlab_machine_core(lm), pid) == t)
		return 0;
	luaL_pushfail(L);
	lua_pushliteral(L, "SIGKILL");
	lua_pushinteger(L, 9);
	return 3;
}

/* __tostring: "memlab.task 1 (a.out)", "memlab.task (exited)" or "(closed)" */
static int t_tostring(lua_State *L)
{
	ltask *lt = to_task(L, "__tostring");
	memlab_machine *m = lmemlab_machine_core(lt->lm);

	if (!m)
		lua_pushliteral(L, LMEMLAB_TASK " (closed)");
	else if (!lt->t || memlab_find_task(m, lt->pid) != lt->t)
		lua_pushliteral(L, LMEMLAB_TASK " (exited)");
	else if (lt->name[0])
		lua_pushfstring(L, LMEMLAB_TASK " %d (%s)", lt->pid, lt->name);
	else
		lua_pushfstring(L, LMEMLAB_TASK " %d", lt->pid);
	return 1;
}

/* }===================== */

/* {===================== task methods ===================== */

/* An errno result, or the address in *out as an integer. */
static int push_addr_result(lua_State *L, int rc, uint64_t addr)
{
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/* p:sbrk(incr) --> the old break | nil, "ENOMEM", 12 */
static int t_sbrk(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "sbrk", &lm);
	int64_t incr = check_increment(L, 2, "sbrk");
	uint64_t old = 0;
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_sbrk(t, incr, &old);
	lmemlab_end_call(L, lm, "sbrk", rc);
	if (lmemlab_pushkilled(L, lm, t, pid))	/* populating under mlockall */
		return 3;
	return push_addr_result(L, rc, old);
}

/* p:brk(addr) --> the break (the new one, or the old one on failure) */
static int t_brk(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "brk", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "brk", "addr");
	uint64_t brk;
	int pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	brk = memlab_brk(t, addr);
	lmemlab_end_call(L, lm, "brk", 0);
	if (lmemlab_pushkilled(L, lm, t, pid))	/* populating under mlockall */
		return 3;
	lua_pushinteger(L, (lua_Integer)brk);
	return 1;
}

/* The file at arg for mmap: nil (none) or a file of the task's machine. */
static memlab_file *opt_file(lua_State *L, int arg, lmachine *lm,
			     const char *fname)
{
	if (lua_isnoneornil(L, arg))
		return NULL;
	return lmemlab_checkfile(L, arg, lm, fname);
}

memlab_file *lmemlab_checkfile(lua_State *L, int arg, lmachine *lm, const char *fname)
{
	lfile *lf = luaL_testudata(L, arg, LMEMLAB_FILE);

	if (!lf)
		return (memlab_file *)(intptr_t)lmemlab_typeerror(L, arg, fname,
								  LMEMLAB_FILE);
	if (lf->lm != lm || !lf->f)
		return (memlab_file *)(intptr_t)lmemlab_argerror(L, arg, fname,
						"file of another machine");
	return lf->f;
}

/* p:mmap(addr, len, prot, flags [, file, offset]) --> addr | nil, err, errno */
static int t_mmap(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mmap", &lm);
	uint64_t addr = opt_addr(L, 2, "mmap", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "mmap", "len");
	int prot = check_prot(L, 4, "mmap");
	int flags = (int)check_map_flags(L, 5, "mmap");
	memlab_file *file = opt_file(L, 6, lm, "mmap");
	uint64_t offset = lua_isnoneornil(L, 7) ? 0 :
		lmemlab_checklength(L, 7, "mmap", "offset");
	uint64_t out = 0;
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_mmap(t, addr, len, prot, flags, file, offset, &out);
	lmemlab_end_call(L, lm, "mmap", rc);
	if (lmemlab_pushkilled(L, lm, t, pid))
		return 3;
	return push_addr_result(L, rc, out);
}

/* A system call on a range, p:NAME(addr, len) --> true | nil, err, errno */
static int range_call(lua_State *L, const char *fname,
		      int (*call)(memlab_task *, uint64_t, uint64_t))
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, fname, &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, fname, "addr");
	uint64_t len = lmemlab_checklength(L, 3, fname, "len");
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = call(t, addr, len);
	lmemlab_end_call(L, lm, fname, rc);
	if (lmemlab_pushkilled(L, lm, t, pid))	/* a split's VMA charge OOM-killed the caller */
		return 3;
	return lmemlab_pushok(L, rc);
}

/* p:munmap(addr, len) */
static int t_munmap(lua_State *L)
{
	return range_call(L, "munmap", memlab_munmap);
}

/* p:mprotect(addr, len, prot) --> true | nil, err, errno */
static int t_mprotect(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mprotect", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "mprotect", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "mprotect", "len");
	int prot = check_prot(L, 4, "mprotect");
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_mprotect(t, addr, len, prot);
	lmemlab_end_call(L, lm, "mprotect", rc);
	if (lmemlab_pushkilled(L, lm, t, pid))	/* populating a locked mapping */
		return 3;
	return lmemlab_pushok(L, rc);
}

/* p:mlock(addr, len [, flags]) --> true | nil, err, errno  (flags: "onfault", mlock2) */
static int t_mlock(lua_State *L)
{
	const struct memlab_flag_name *const tables[] = { mlock_names, NULL };
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mlock", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "mlock", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "mlock", "len");
	int flags = lua_isnoneornil(L, 4) ? 0 :
		(int)check_flags(L, 4, "mlock", "MLOCK_", tables, "mlock flag", "onfault");
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_mlock(t, addr, len, flags);
	lmemlab_end_call(L, lm, "mlock", rc);
	if (lmemlab_pushkilled(L, lm, t, pid))
		return 3;
	return lmemlab_pushok(L, rc);
}

/* p:munlock(addr, len) */
static int t_munlock(lua_State *L)
{
	return range_call(L, "munlock", memlab_munlock);
}

/* p:mlockall(flags) --> true | nil, err, errno  (flags: "current|future|onfault") */
static int t_mlockall(lua_State *L)
{
	const struct memlab_flag_name *const tables[] = { mcl_names, NULL };
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mlockall", &lm);
	int flags = (int)check_flags(L, 2, "mlockall", "MCL_", tables, "mlockall flag",
				     "current|future");
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_mlockall(t, flags);
	lmemlab_end_call(L, lm, "mlockall", rc);
	if (lmemlab_pushkilled(L, lm, t, pid))
		return 3;
	return lmemlab_pushok(L, rc);
}

/* p:munlockall() --> true | nil, err, errno */
static int t_munlockall(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "munlockall", &lm);
	int rc;

	lmemlab_begin_call(lm);
	rc = memlab_munlockall(t);
	lmemlab_end_call(L, lm, "munlockall", rc);
	return lmemlab_pushok(L, rc);
}

/*
** The name at arg, a string, looked up in n (Linux's names, each with
** prefix): with or without the prefix, case-insensitive.  Raises "unknown
** what" naming fname for another.
*/
static uint32_t check_name(lua_State *L, int arg, const char *fname, const char *prefix,
			   const struct memlab_flag_name *n, const char *what)
{
	size_t len, i, plen = strlen(prefix);
	const char *s = lua_tolstring(L, arg, &len);
	char name[40];

	if (len >= plen && strncasecmp(s, prefix, plen) == 0)
		s += plen, len -= plen;
	for (i = 0; i < len && plen + i + 1 < sizeof(name); i++)
		name[plen + i] = (char)toupper((unsigned char)s[i]);
	memcpy(name, prefix, plen);
	name[plen + i] = '\0';
	for (; n->name; n++)
		if (i == len && strlen(name) == plen + len && strcmp(n->name, name) == 0)
			return n->value;
	lua_pushfstring(L, "unknown %s", what);
	return (uint32_t)lmemlab_argerror(L, arg, fname, lua_tostring(L, -1));
}

/*
** The advice at arg: an integer, or a name with or without "MADV_",
** case-insensitive ("dontneed", "MADV_HUGEPAGE").
*/
static int check_advice(lua_State *L, int arg)
{
	if (lua_type(L, arg) == LUA_TNUMBER)
		return (int)lmemlab_checkinteger(L, arg, "madvise", "advice");
	if (lua_type(L, arg) != LUA_TSTRING)
		return lmemlab_typeerror(L, arg, "madvise", "advice (an integer or a name)");
	return (int)check_name(L, arg, "madvise", "MADV_", memlab_madv_names(), "advice");
}

/* p:madvise(addr, len, advice) --> true | nil, err, errno */
static int t_madvise(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "madvise", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "madvise", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "madvise", "len");
	int advice = check_advice(L, 4), rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_madvise(t, addr, len, advice);
	/* MADV_COLLAPSE's EINVAL may follow a failure inside the kernel (an
	 * injected one): its reports are the kernel's log, not about the arguments */
	lmemlab_end_call(L, lm, "madvise", advice == 25 && rc == -MEMLAB_EINVAL ? 0 : rc);
	if (lmemlab_pushkilled(L, lm, t, pid))
		return 3;
	return lmemlab_pushok(L, rc);
}

/*
** p:mincore(addr, len) --> a string of one character a page, "1" resident
** (mapped, in the swap cache, or a file page in the page cache), "0" not
** | nil, err, errno (EINVAL unaligned, ENOMEM a hole or past TASK_SIZE)
*/
static int t_mincore(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mincore", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "mincore", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "mincore", "len");
	struct memlab_machine_info mi;
	uint64_t pages, done = 0;
	luaL_Buffer b;
	int rc = 0;

	memlab_machine_info(memlab_task_machine(t), &mi);
	pages = len / mi.page_size + (len % mi.page_size != 0);
	if (pages > (1u << 30))
		return lmemlab_argerror(L, 3, "mincore", "len covers more than 2^30 pages");
	luaL_buffinit(L, &b);
	/*
	 * In chunks, so that a hole ends it before a buffer the size of the
	 * whole range is made; a call for each (the buffer may raise between
	 * them), and one for len 0, whose errors are the call's
	 */
	do {
		uint64_t n = pages - done < 65536 ? pages - done : 65536;
		unsigned char *vec = (unsigned char *)luaL_prepbuffsize(&b, (size_t)n);
		uint64_t at = addr + done * mi.page_size;

		lmemlab_begin_call(lm);
		rc = memlab_mincore(t, at, done + n < pages ? n * mi.page_size
							    : len - done * mi.page_size, vec);
		lmemlab_end_call(L, lm, "mincore", rc);
		for (uint64_t i = 0; rc == 0 && i < n; i++)
			vec[i] = vec[i] & 1 ? '1' : '0';
		luaL_addsize(&b, (size_t)n);
		done += n;
	} while (rc == 0 && done < pages);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	luaL_pushresult(&b);
	return 1;
}

/* Is the value at idx 0 or "0"? */
static int is_zero(lua_State *L, int idx)
{
	return (lua_type(L, idx) == LUA_TNUMBER && lua_tonumber(L, idx) == 0) ||
	       (lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), "0") == 0);
}

/*
** A resource limit at idx: a size, "unlimited" or math.huge
** (RLIM_INFINITY), or 0 or "0" if zero_ok.  NULL and *out, or what is
** wrong.  Never raises.
*/
static const char *to_rlimit(lua_State *L, int idx, int zero_ok, uint64_t *out)
{
	const char *err;

	if ((lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), "unlimited") == 0) ||
	    (lua_type(L, idx) == LUA_TNUMBER && lua_tonumber(L, idx) == HUGE_VAL)) {
		*out = UINT64_MAX;
		return NULL;
	}
	if (zero_ok && is_zero(L, idx)) {
		*out = 0;
		return NULL;
	}
	err = lmemlab_tosize(L, idx, out);
	return err && zero_ok && strcmp(err, "size must be > 0") == 0 ? "size must be >= 0" : err;
}

/* Push a limit: an integer, math.huge for RLIM_INFINITY. */
static void push_rlimit(lua_State *L, uint64_t v)
{
	if (v == UINT64_MAX)
		lua_pushnumber(L, HUGE_VAL);
	else if (v > (uint64_t)LUA_MAXINTEGER)
		lua_pushnumber(L, (lua_Number)v);
	else
		lua_pushinteger(L, (lua_Integer)v);
}

static const struct memlab_flag_name rlimit_names[] = {
	{ "RLIMIT_STACK", MEMLAB_RLIMIT_STACK }, { "RLIMIT_DATA", MEMLAB_RLIMIT_DATA },
	{ "RLIMIT_AS", MEMLAB_RLIMIT_AS }, { "RLIMIT_MEMLOCK", MEMLAB_RLIMIT_MEMLOCK },
	{ NULL, 0 }
};

/* The resource at arg: "stack", "data", "as" or "memlock", with or without "RLIMIT_". */
static int check_resource(lua_State *L, int arg, const char *fname)
{
	if (lua_type(L, arg) != LUA_TSTRING)
		return lmemlab_typeerror(L, arg, fname, "resource (\"stack\", \"data\", \"as\" or \"memlock\")");
	return (int)check_name(L, arg, fname, "RLIMIT_", rlimit_names, "resource");
}

/* The limit at arg, raising naming fname and what. */
static uint64_t check_rlimit(lua_State *L, int arg, const char *fname, const char *what)
{
	uint64_t v = 0;
	const char *err = to_rlimit(L, arg, 1, &v);

	if (err) {
		lua_pushfstring(L, "%s: %s", what, err);
		lmemlab_argerror(L, arg, fname, lua_tostring(L, -1));
	}
	return v;
}

/* p:getrlimit(resource) --> cur, max  (bytes; math.huge: unlimited) */
static int t_getrlimit(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "getrlimit", &lm);
	uint64_t cur = 0, max = 0;

	memlab_getrlimit(t, check_resource(L, 2, "getrlimit"), &cur, &max);
	push_rlimit(L, cur);
	push_rlimit(L, max);
	return 2;
}

/*
** p:setrlimit(resource, cur [, max]) --> true | nil, err, errno.  Without
** max the hard limit stays as it is.
*/
static int t_setrlimit(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "setrlimit", &lm);
	int resource = check_resource(L, 2, "setrlimit"), rc;
	uint64_t cur = check_rlimit(L, 3, "setrlimit", "cur"), max = 0;

	if (lua_isnoneornil(L, 4))
		memlab_getrlimit(t, resource, NULL, &max);
	else
		max = check_rlimit(L, 4, "setrlimit", "max");
	lmemlab_begin_call(lm);
	rc = memlab_setrlimit(t, resource, cur, max);
	lmemlab_end_call(L, lm, "setrlimit", rc);
	return lmemlab_pushok(L, rc);
}

/* p:mremap(old, oldlen, newlen, flags [, newaddr]) --> addr | nil, err, errno */
static int t_mremap(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mremap", &lm);
	uint64_t old = lmemlab_checkaddr(L, 2, "mremap", "old_address");
	uint64_t oldlen = lmemlab_checklength(L, 3, "mremap", "old_size");
	uint64_t newlen = lmemlab_checklength(L, 4, "mremap", "new_size");
	int flags = (int)check_mremap_flags(L, 5, "mremap");
	uint64_t newaddr = opt_addr(L, 6, "mremap", "new_address");
	uint64_t out = 0;
	int rc, pid = memlab_task_pid(t);

	lmemlab_begin_call(lm);
	rc = memlab_mremap(t, old, oldlen, newlen, flags, newaddr, &out);
	lmemlab_end_call(L, lm, "mremap", rc);
	if (lmemlab_pushkilled(L, lm, t, pid))
		return 3;
	return push_addr_result(L, rc, out);
}

/* One VMA's table, pushed. */
static void push_vma(lua_State *L, const struct memlab_vma_info *v)
{
	char dev[32];

	lua_createtable(L, 0, 11);
	lmemlab_setint(L, "start", v->start);
	lmemlab_setint(L, "end", v->end);
	lua_pushlstring(L, v->perms, strnlen(v->perms, sizeof(v->perms)));
	lua_setfield(L, -2, "perms");
	lmemlab_setint(L, "offset", v->offset);
	snprintf(dev, sizeof(dev), "%02x:%02x", v->dev_major, v->dev_minor);
	lua_pushstring(L, dev);
	lua_setfield(L, -2, "dev");
	lmemlab_setint(L, "inode", v->inode);
	lua_pushlstring(L, v->name, strnlen(v->name, sizeof(v->name)));
	lua_setfield(L, -2, "name");
	lua_pushboolean(L, v->anon_vma);
	lua_setfield(L, -2, "anon_vma");
	lmemlab_setint(L, "anon_vma_id", v->anon_vma_id);
	lmemlab_setint(L, "anon_vma_chain", v->anon_vma_chain);
	lmemlab_setint(L, "vm_flags", v->vm_flags);
}

/* p:find_vma(addr) --> the VMA holding addr or the next one up (as p:vmas() shows it) | nil */
static int t_find_vma(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "find_vma", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "find_vma", "addr");
	struct memlab_vma_info v;

	if (memlab_find_vma(t, addr, &v)) {
		lua_pushnil(L);
		return 1;
	}
	push_vma(L, &v);
	return 1;
}

/*
** p:vmas() --> { {start=, ["end"]=, perms=, offset=, dev=, inode=, name=, anon_vma=,
** anon_vma_id=, anon_vma_chain=, vm_flags=}, ... }
*/
static int t_vmas(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "vmas", &lm);
	struct memlab_vma_info *v;
	size_t n = memlab_vmas(t, NULL, 0), got;

	if (n > (SIZE_MAX / 2) / sizeof(*v))
		return luaL_error(L, "vmas: too many VMAs");
	v = lua_newuserdatauv(L, n ? n * sizeof(*v) : 1, 0);
	got = memlab_vmas(t, v, n);
	if (got < n)
		n = got;
	lua_createtable(L, (int)(n > INT_MAX ? INT_MAX : n), 0);
	for (size_t i = 0; i < n; i++) {
		push_vma(L, &v[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* p:maps() --> the text of /proc/PID/maps */
static int t_maps(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "maps", &lm);
	char path[32];

	snprintf(path, sizeof(path), "%d/maps", memlab_task_pid(t));
	return lmemlab_pushproc(L, lm, path, strlen(path), "maps");
}

/* p:mm() --> { total_vm=, ..., committed_pages= } every memlab_mm_info field */
static int t_mm(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "mm", &lm);
	struct memlab_mm_info mi;
	int rc;

	memset(&mi, 0, sizeof(mi));
	rc = memlab_mm_info(t, &mi);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_createtable(L, 0, 26);
	lmemlab_setint(L, "total_vm", mi.total_vm);
	lmemlab_setint(L, "locked_vm", mi.locked_vm);
	lmemlab_setint(L, "pinned_vm", mi.pinned_vm);
	lmemlab_setint(L, "data_vm", mi.data_vm);
	lmemlab_setint(L, "exec_vm", mi.exec_vm);
	lmemlab_setint(L, "stack_vm", mi.stack_vm);
	lmemlab_setint(L, "hiwater_vm", mi.hiwater_vm);
	lmemlab_setint(L, "hiwater_rss", mi.hiwater_rss);
	lmemlab_setint(L, "rss_anon", mi.rss_anon);
	lmemlab_setint(L, "rss_file", mi.rss_file);
	lmemlab_setint(L, "rss_shmem", mi.rss_shmem);
	lmemlab_setint(L, "pgtables_bytes", mi.pgtables_bytes);
	lua_pushinteger(L, mi.map_count);
	lua_setfield(L, -2, "map_count");
	lmemlab_setint(L, "start_code", mi.start_code);
	lmemlab_setint(L, "end_code", mi.end_code);
	lmemlab_setint(L, "start_data", mi.start_data);
	lmemlab_setint(L, "end_data", mi.end_data);
	lmemlab_setint(L, "start_brk", mi.start_brk);
	lmemlab_setint(L, "brk", mi.brk);
	lmemlab_setint(L, "start_stack", mi.start_stack);
	lmemlab_setint(L, "mmap_base", mi.mmap_base);
	lmemlab_setint(L, "task_size", mi.task_size);
	lmemlab_setint(L, "highest_vm_end", mi.highest_vm_end);
	lmemlab_setint(L, "vmacache_hits", mi.vmacache_hits);
	lmemlab_setint(L, "vmacache_misses", mi.vmacache_misses);
	lmemlab_setint(L, "committed_pages", mi.committed_pages);
	lmemlab_setint(L, "min_flt", mi.min_flt);
	lmemlab_setint(L, "maj_flt", mi.maj_flt);
	return 1;
}

static int push_clone(lua_State *L, const char *fname, memlab_task *t, lmachine *lm,
		      uint64_t flags);

/*
** p:fork() --> the child's handle | nil, "ENOMEM", 12 | nil, "SIGKILL", 9
** when the cgroup's OOM killer, run for the child's page tables, chose p
*/
static int t_fork(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "fork", &lm);

	lua_settop(L, 1);
	return push_clone(L, "fork", t, lm, 0);
}

static int option_key(lua_State *L, const char *fname, const char *prefix,
		      const char *const names[]);
static int option_boolean(lua_State *L, const char *fname, const char *key);

static const char *const clone_options[] = {
	"vm", "fs", "files", "sighand", "thread", "sysvsem", NULL
};
static const uint32_t clone_flag[] = {
	MEMLAB_CLONE_VM, MEMLAB_CLONE_FS, MEMLAB_CLONE_FILES,
	MEMLAB_CLONE_SIGHAND, MEMLAB_CLONE_THREAD, MEMLAB_CLONE_SYSVSEM
};

/* The clone flags of an options table at idx (CLONE_VM for vm = true, ...). */
static uint64_t read_clone_options(lua_State *L, int idx)
{
	uint64_t flags = 0;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		int i = option_key(L, "clone", "", clone_options);

		if (option_boolean(L, "clone", clone_options[i]))
			flags |= clone_flag[i];
		lua_pop(L, 1);
	}
	return flags;
}

/* The child of memlab_clone(t, flags) as a new handle, or nil, err, errno. */
static int push_clone(lua_State *L, const char *fname, memlab_task *t, lmachine *lm,
		      uint64_t flags)
{
	memlab_task *child;
	int pid = memlab_task_pid(t), rc;

	lmemlab_begin_call(lm);
	rc = memlab_clone(t, flags, &child);
	lmemlab_end_call(L, lm, fname, rc);
	if (rc < 0)
		return lmemlab_pushkilled(L, lm, t, pid) ? 3 : lmemlab_pushfail(L, rc);
	lua_getiuservalue(L, 1, 1);	/* the machine */
	lmemlab_pushtask(L, -1, child, NULL);
	return 1;
}

/*
** p:clone{ vm =, fs =, files =, sighand =, thread =, sysvsem = } -->
** the child's handle | nil, "EINVAL", 22.  Every flag defaults to false
** (p:clone{} is p:fork()).
*/
static int t_clone(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "clone", &lm);
	uint64_t flags = 0;

	if (!lua_isnoneornil(L, 2)) {
		if (!lua_istable(L, 2))
			return lmemlab_typeerror(L, 2, "clone", "table of flags");
		flags = read_clone_options(L, 2);
	}
	lua_settop(L, 1);
	return push_clone(L, "clone", t, lm, flags);
}

/* p:thread() --> a new thread of p's process (pthread_create's clone flags) */
static int t_thread(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "thread", &lm);

	lua_settop(L, 1);
	return push_clone(L, "thread", t, lm, MEMLAB_CLONE_PTHREAD);
}

/* p:exit(): unmap everything and free the task; the handle is dead after */
static int t_exit(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "exit", &lm);
	ltask *lt = lua_touserdata(L, 1);

	lt->t = NULL;
	lmemlab_begin_call(lm);
	memlab_task_exit(t);
	lmemlab_end_call(L, lm, "exit", 0);
	/* forget the handle (it stays usable as a dead one) */
	lua_getiuservalue(L, 1, 1);
	push_handles(L, -1);
	if (lua_rawgeti(L, -1, lt->pid) == LUA_TUSERDATA &&
	    lua_touserdata(L, -1) == lt) {
		lua_pushnil(L);
		lua_rawseti(L, -3, lt->pid);
	}
	return 0;
}

/*
** p:oom_score_adj() --> the value; p:oom_score_adj(v) --> v | nil,
** "EINVAL", 22 (outside -1000..1000) | nil, "EACCES", 13 (below the
** floor without root).  Written as the task itself, for its thread group.
*/
static int t_oom_score_adj(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "oom_score_adj", &lm);
	lua_Integer v;
	int isnum, rc;

	if (lua_isnoneornil(L, 2)) {
		lua_pushinteger(L, memlab_task_get_oom_score_adj(t));
		return 1;
	}
	v = lua_tointegerx(L, 2, &isnum);	/* 100.0 is 100, as elsewhere */
	if (!isnum)
		return lmemlab_typeerror(L, 2, "oom_score_adj", "integer");
	if (v < -1000 || v > 1000)
		return lmemlab_pushfail(L, -MEMLAB_EINVAL);
	lmemlab_begin_call(lm);
	rc = memlab_task_oom_score_adj(t, (int)v);
	lmemlab_end_call(L, lm, "oom_score_adj", rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, v);
	return 1;
}

static const luaL_Reg task_methods[] = {
	{ "sbrk", t_sbrk },
	{ "brk", t_brk },
	{ "mmap", t_mmap },
	{ "munmap", t_munmap },
	{ "mprotect", t_mprotect },
	{ "mremap", t_mremap },
	{ "madvise", t_madvise },
	{ "mincore", t_mincore },
	{ "mlock", t_mlock },
	{ "munlock", t_munlock },
	{ "mlockall", t_mlockall },
	{ "munlockall", t_munlockall },
	{ "getrlimit", t_getrlimit },
	{ "setrlimit", t_setrlimit },
	{ "vmas", t_vmas },
	{ "find_vma", t_find_vma },
	{ "maps", t_maps },
	{ "mm", t_mm },
	{ "fork", t_fork },
	{ "clone", t_clone },
	{ "thread", t_thread },
	{ "exit", t_exit },
	{ "oom_score_adj", t_oom_score_adj },
	{ NULL, NULL }
};

/* }===================== */

/* {===================== options tables ===================== */

/* Raise "fname: bad option 'key' (msg)". */
static int option_error(lua_State *L, const char *fname, const char *key,
			const char *msg)
{
	return luaL_error(L, "%s: bad option '%s' (%s)", fname, key, msg);
}

/*
** The key at -2 of a lua_next traversal, which must be one of names[]:
** returns its index, or raises "fname: unknown option 'prefix.key'".
*/
static int option_key(lua_State *L, const char *fname, const char *prefix,
		      const char *const names[])
{
	const char *key;
	char shown[64];
	size_t len;
	int i;

	if (lua_type(L, -2) != LUA_TSTRING)
		return luaL_error(L, "%s: option names must be strings, got a "
				  "%s key", fname, luaL_typename(L, -2));
	key = lua_tolstring(L, -2, &len);
	for (i = 0; names[i]; i++)
		if (strcmp(key, names[i]) == 0 && strlen(key) == len)
			return i;
	snprintf(shown, sizeof(shown), "%s%.40s%s", prefix, key,
		 len > 40 ? "..." : "");
	return luaL_error(L, "%s: unknown option '%s'", fname, shown);
}

/* A size option (value at the top); zero_ok: 0 and "0" mean 0. */
static uint64_t option_size(lua_State *L, const char *fname, const char *key,
			    int zero_ok)
{
	uint64_t v = 0;
	const char *err;

	if (zero_ok && is_zero(L, -1))
		return 0;
	err = lmemlab_tosize(L, -1, &v);
	if (err)
		option_error(L, fname, key, err);
	return v;
}

/*
** An rlimit option of spawn for resource (value at the top): a size,
** "unlimited" or math.huge, 0 but for the stack.  The resource's bit in
** rlimit_set says it was given, 0 included.
*/
static uint64_t option_rlimit(lua_State *L, struct memlab_spawn_args *a, int resource,
			      const char *key)
{
	uint64_t v = 0;
	const char *err = to_rlimit(L, -1, resource != MEMLAB_RLIMIT_STACK, &v);

	if (err)
		option_error(L, "spawn", key, err);
	a->rlimit_set |= MEMLAB_RLIMIT_BIT(resource);
	return v;
}

/* A boolean option (value at the top). */
static int option_boolean(lua_State *L, const char *fname, const char *key)
{
	if (lua_type(L, -1) != LUA_TBOOLEAN) {
		lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, -1));
		option_error(L, fname, key, lua_tostring(L, -1));
	}
	return lua_toboolean(L, -1);
}

/* A string option without NUL bytes (value at the top); may be empty if empty_ok. */
static const char *option_string(lua_State *L, const char *fname,
				 const char *key, int empty_ok)
{
	const char *s;
	size_t len;

	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pushfstring(L, "string expected, got %s", luaL_typename(L, -1));
		option_error(L, fname, key, lua_tostring(L, -1));
	}
	s = lua_tolstring(L, -1, &len);
	if (strlen(s) != len)
		option_error(L, fname, key, "string contains a NUL byte");
	if (len == 0 && !empty_ok)
		option_error(L, fname, key, "must not be empty");
	return s;
}

/* An integer option (value at the top), any value of lua_Integer. */
static lua_Integer option_integer(lua_State *L, const char *fname,
				  const char *key)
{
	lua_Integer v = 0;
	int isnum = 0;

	if (lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tointegerx(L, -1, &isnum);
	if (!isnum) {
		lua_pushfstring(L, "integer expected, got %s",
				lua_type(L, -1) == LUA_TNUMBER ?
				"a number with no integer value" :
				luaL_typename(L, -1));
		option_error(L, fname, key, lua_tostring(L, -1));
	}
	return v;
}

/* }===================== */

/* {===================== m:spawn ===================== */

static const char *const spawn_options[] = {
	"name", "path", "exe", "stack", "rlimit_data", "rlimit_as",
	"rlimit_memlock", "aslr", "root", "interp", "cgroup", NULL
};
static const char *const exe_options[] = {
	"text", "rodata", "data", "bss", NULL
};

/* exe = { text =, rodata =, data =, bss = } (the value at the top). */
static void read_exe(lua_State *L, struct memlab_exe *exe)
{
	int idx = lua_gettop(L);
	char key[16];

	if (!lua_istable(L, idx)) {
		lua_pushfstring(L, "table expected, got %s", luaL_typename(L, idx));
		option_error(L, "spawn", "exe", lua_tostring(L, -1));
	}
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		int i = option_key(L, "spawn", "exe.", exe_options);
		uint64_t *field[] = { &exe->text, &exe->rodata, &exe->data,
				      &exe->bss };

		snprintf(key, sizeof(key), "exe.%s", exe_options[i]);
		*field[i] = option_size(L, "spawn", key, 1);
		lua_pop(L, 1);
	}
}

/* aslr = false | true | 0 | 1 | 2 (value at the top) */
static int option_aslr(lua_State *L)
{
	lua_Integer v = -1;
	int isnum = 0;

	if (lua_type(L, -1) == LUA_TBOOLEAN)
		return lua_toboolean(L, -1) ? 2 : 0;
	if (lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tointegerx(L, -1, &isnum);
	if (!isnum || v < 0 || v > 2)
		option_error(L, "spawn", "aslr", "must be false, true, 0, 1 or 2");
	return (int)v;
}

/* Read m:spawn's options table at idx into a. */
static void read_spawn_options(lua_State *L, int idx,
			       struct memlab_spawn_args *a)
{
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		int i = option_key(L, "spawn", "", spawn_options);
		const char *key = spawn_options[i];

		switch (i) {
		case 0: a->name = option_string(L, "spawn", key, 0); break;
		case 1: a->path = option_string(L, "spawn", key, 0); break;
		case 2: read_exe(L, &a->exe); break;
		case 3: a->stack_rlimit = option_rlimit(L, a, MEMLAB_RLIMIT_STACK, key); break;
		case 4: a->data_rlimit = option_rlimit(L, a, MEMLAB_RLIMIT_DATA, key); break;
		case 5: a->as_rlimit = option_rlimit(L, a, MEMLAB_RLIMIT_AS, key); break;
		case 6: a->memlock_rlimit = option_rlimit(L, a, MEMLAB_RLIMIT_MEMLOCK, key); break;
		case 7: a->aslr = option_aslr(L); break;
		case 8: a->root = option_boolean(L, "spawn", key); break;
		case 9: a->no_interp = !option_boolean(L, "spawn", key); break;
		case 10: a->cgroup = option_string(L, "spawn", key, 0); break;
		}
		lua_pop(L, 1);
	}
}

/*
** m:spawn{ name=, path=, exe={text=, rodata=, data=, bss=}, stack=,
** rlimit_data=, rlimit_as=, rlimit_memlock=, aslr=, root=, cgroup= }
** --> task | nil, err, errno.  The strings stay in the options table,
** which stays on the stack during the call.
*/
static int m_spawn(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "spawn");
	struct memlab_spawn_args a;
	memlab_task *t = NULL;
	ltask *lt;
	int rc;

	memset(&a, 0, sizeof(a));
	a.aslr = 2;	/* randomize_va_space's default */
	if (!lua_isnoneornil(L, 2)) {
		if (!lua_istable(L, 2))
			return lmemlab_typeerror(L, 2, "spawn", "table of options");
		read_spawn_options(L, 2, &a);
	}
	lua_settop(L, 2);
	/* the handle first, dead: an error from here on leaks nothing */
	lt = new_task(L, 1, a.name ? a.name : "a.out");
	lmemlab_begin_call(lm);
	rc = memlab_spawn(lmemlab_machine_core(lm), &a, &t);
	lmemlab_end_call(L, lm, "spawn", rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lt->t = t;
	lt->pid = memlab_task_pid(t);
	cache_task(L, 1, lt);
	return 1;
}

/* m:tasks() --> the handles of the live tasks, by pid */
static int m_tasks(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "tasks");
	memlab_machine *m = lmemlab_machine_core(lm);
	size_t n = memlab_tasks(m, NULL, 0), got;
	memlab_task **v = lua_newuserdatauv(L, (n ? n : 1) * sizeof(*v), 0);

	got = memlab_tasks(m, v, n);
	n = got < n ? got : n;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {	/* newest first: number them oldest first */
		lmemlab_pushtask(L, 1, v[n - 1 - i], NULL);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* t[key] = obj:method() for the table at the top and the object at index obj. */
static void set_call(lua_State *L, int obj, const char *method, const char *key)
{
	lua_getfield(L, obj, method);
	lua_pushvalue(L, obj);
	lua_call(L, 1, 1);
	lua_setfield(L, -2, key);
}

/*
** m:snapshot() --> { info =, zones =, vmstat =, injected =, tasks = { { pid =,
** tgid =, comm =, mm =, vmas = }, ... } }: the visible state as a plain table,
** for memlab.json.encode.
*/
static int m_snapshot(lua_State *L)
{
	lmemlab_checkmachine(L, "snapshot");
	lua_settop(L, 1);
	lua_createtable(L, 0, 5);
	set_call(L, 1, "info", "info");
	set_call(L, 1, "zones", "zones");
	set_call(L, 1, "vmstat", "vmstat");
	set_call(L, 1, "injected", "injected");
	m_tasks(L);			/* pushes a scratch userdata, then the list */
	lua_replace(L, 3);
	lua_settop(L, 3);
	lua_createtable(L, (int)lua_rawlen(L, 3), 0);
	for (lua_Integer i = 1; lua_rawgeti(L, 3, i) == LUA_TUSERDATA; i++) {
		int task = lua_gettop(L);

		lua_createtable(L, 0, 4);
		lua_getfield(L, task, "pid");
		lua_setfield(L, -2, "pid");
		lua_getfield(L, task, "tgid");
		lua_setfield(L, -2, "tgid");
		lua_getfield(L, task, "name");
		lua_setfield(L, -2, "comm");
		set_call(L, task, "mm", "mm");
		set_call(L, task, "vmas", "vmas");
		lua_rawseti(L, -3, i);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_setfield(L, 2, "tasks");
	lua_settop(L, 2);
	return 1;
}

/* m:task(pid) --> the task's handle | nil when no live task has that pid */
static int m_task(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "task");
	lua_Integer pid = lmemlab_checkinteger(L, 2, "task", "pid");
	memlab_task *t;

	if (pid <= 0 || pid > INT_MAX ||
	    !(t = memlab_find_task(lmemlab_machine_core(lm), (int)pid))) {
		lua_pushnil(L);
		return 1;
	}
	lmemlab_pushtask(L, 1, t, NULL);
	return 1;
}

/* }===================== */

/* {===================== files ===================== */

static lfile *to_file(lua_State *L, const char *fname)
{
	lfile *lf = luaL_testudata(L, 1, LMEMLAB_FILE);

	if (!lf)
		lmemlab_typeerror(L, 1, fname, LMEMLAB_FILE);
	return lf;
}

/* __index: the methods (upvalue 1), the fields path, size, writable, machine */
static int f_index(lua_State *L)
{
	lfile *lf = to_file(L, "__index");
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";

	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (strcmp(key, "path") == 0)
		lua_getiuservalue(L, 1, 2);
	else if (strcmp(key, "size") == 0)
		lua_pushinteger(L, (lua_Integer)(lf->f && lmemlab_machine_core(lf->lm)
						  ? memlab_file_size(lf->f) : lf->size));
	else if (strcmp(key, "writable") == 0)
		lua_pushboolean(L, lf->writable);
	else if (strcmp(key, "machine") == 0)
		lua_getiuservalue(L, 1, 1);
	else
		lua_pushnil(L);
	return 1;
}

/* __tostring: "memlab.file /data/f", "memlab.file /data/f (closed)" */
static int f_tostring(lua_State *L)
{
	lfile *lf = to_file(L, "__tostring");

	lua_getiuservalue(L, 1, 2);
	if (!lf->f || !lmemlab_machine_core(lf->lm))
		lua_pushfstring(L, LMEMLAB_FILE " %s (closed)", lua_tostring(L, -1));
	else
		lua_pushfstring(L, LMEMLAB_FILE " %s", lua_tostring(L, -1));
	return 1;
}

static const char *const file_options[] = { "path", "size", "writable", "name", "contents",
					    "large_folios", NULL };

/*
** m:file{ path =, size =, writable =, contents =, large_folios = } -->
** file | nil, err, errno.  name = "f" instead of path places the file at
** /tmp/f; contents (a string) is on its disk from the start, and the size
** covers it; large_folios: its page cache holds large folios (ext4 not
** mounted data=journal).
*/
static int m_file(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "file");
	const char *path = NULL, *name = NULL, *contents = NULL;
	size_t clen = 0;
	uint64_t size = 0;
	int writable = 0, large = 0, rc;
	memlab_file *f = NULL;
	lfile *lf;

	if (!lua_istable(L, 2))
		return lmemlab_typeerror(L, 2, "file", "table of options");
	lua_settop(L, 2);
	lua_pushnil(L);
	while (lua_next(L, 2) != 0) {
		switch (option_key(L, "file", "", file_options)) {
		case 0: path = option_string(L, "file", "path", 0); break;
		case 1: size = option_size(L, "file", "size", 1); break;
		case 2: writable = option_boolean(L, "file", "writable"); break;
		case 3: name = option_string(L, "file", "name", 0); break;
		case 4:
			if (lua_type(L, -1) != LUA_TSTRING)
				return option_error(L, "file", "contents", "string expected");
			contents = lua_tolstring(L, -1, &clen);
			break;
		case 5: large = option_boolean(L, "file", "large_folios"); break;
		}
		lua_pop(L, 1);
	}
	if (!path && name)	/* the table keeps name alive; the new string stays at index 3 */
		path = lua_pushfstring(L, "/tmp/%s", name);
	if (!path)
		return luaL_error(L, "file: option 'path' (or 'name') is required");
	lf = lua_newuserdatauv(L, sizeof(*lf), 2);
	memset(lf, 0, sizeof(*lf));
	lf->lm = lm;
	lf->size = size;
	lf->writable = writable;
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	lua_pushstring(L, path);
	lua_setiuservalue(L, -2, 2);
	luaL_setmetatable(L, LMEMLAB_FILE);
	lmemlab_begin_call(lm);
	rc = memlab_file_create(lmemlab_machine_core(lm), path, size, writable, &f);
	if (rc == 0 && large)
		rc = memlab_file_large_folios(f, 1);	/* a new file: nothing cached */
	if (rc == 0 && contents)
		rc = memlab_file_load(f, 0, contents, clen);	/* a new file: nothing cached */
	lmemlab_end_call(L, lm, "file", rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lf->f = f;
	return 1;
}

/* }===================== */

/* {===================== m:sysctl ===================== */

static const char *const sysctl_names[] = {
	"max_map_count", "overcommit_memory", "overcommit_ratio",
	"mmap_min_addr", "panic_on_oom", "oom_kill_allocating_task", "swappiness",
	"watermark_boost_factor", "page_cluster", NULL
};

/*
** The named integer settings of the table at argument 2 (none when nil)
** into the int64_t members of set at offsets field[i] (names[i]), the
** others left as they are; an unknown name or a value that is not an
** integer raises (what: the table, for the message).  Whether one was
** negative: the caller's EINVAL, as a write of one to sysfs or
** /proc/sys is.
*/
static int read_int_settings(lua_State *L, const char *fname, const char *what,
			      const char *const names[], const size_t field[], void *set)
{
	int negative = 0;

	if (lua_isnoneornil(L, 2))
		return 0;
	if (!lua_istable(L, 2))
		lmemlab_typeerror(L, 2, fname, what);
	lua_settop(L, 2);
	lua_pushnil(L);
	while (lua_next(L, 2) != 0) {
		int i = option_key(L, fname, "", names);
		lua_Integer v = option_integer(L, fname, names[i]);

		negative |= v < 0;
		*(int64_t *)((char *)set + field[i]) = v;
		lua_pop(L, 1);
	}
	return negative;
}

/* The n int64_t members of get at offsets field[], as a table by names[]. */
static void push_int_settings(lua_State *L, const char *const names[], const size_t field[],
			      size_t n, const void *get)
{
	lua_createtable(L, 0, (int)n);
	for (size_t i = 0; i < n; i++) {
		lua_pushinteger(L, *(const int64_t *)((const char *)get + field[i]));
		lua_setfield(L, -2, names[i]);
	}
}

/*
** m:sysctl{ max_map_count =, overcommit_memory =, overcommit_ratio =,
** mmap_min_addr =, panic_on_oom =, oom_kill_allocating_task =, swappiness =,
** watermark_boost_factor =, page_cluster = }
** --> { the current values } | nil, "EINVAL", 22.
** m:sysctl() reads them.  A negative value is EINVAL, as a write of one
** to /proc/sys/vm is; nothing is changed then.
*/
static int m_sysctl(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "sysctl");
	struct memlab_vm_sysctl set, get;
	/* the members in sysctl_names' order, for set and for get */
	static const size_t field[] = {
		offsetof(struct memlab_vm_sysctl, max_map_count),
		offsetof(struct memlab_vm_sysctl, overcommit_memory),
		offsetof(struct memlab_vm_sysctl, overcommit_ratio),
		offsetof(struct memlab_vm_sysctl, mmap_min_addr),
		offsetof(struct memlab_vm_sysctl, panic_on_oom),
		offsetof(struct memlab_vm_sysctl, oom_kill_allocating_task),
		offsetof(struct memlab_vm_sysctl, swappiness),
		offsetof(struct memlab_vm_sysctl, watermark_boost_factor),
		offsetof(struct memlab_vm_sysctl, page_cluster),
	};
	int rc;

	memset(&set, 0xff, sizeof(set));	/* every member -1: left unchanged */
	if (read_int_settings(L, "sysctl", "table of sysctls", sysctl_names, field, &set))
		return lmemlab_pushfail(L, -MEMLAB_EINVAL);
	memset(&get, 0, sizeof(get));
	lmemlab_begin_call(lm);
	rc = memlab_vm_sysctl(lmemlab_machine_core(lm), &set, &get);
	lmemlab_end_call(L, lm, "sysctl", rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	push_int_settings(L, sysctl_names, field, sizeof(field) / sizeof(field[0]), &get);
	return 1;
}

static const char *const disk_names[] = { "read_ahead_kb", "max_sectors_kb", NULL };

/*
** m:disk{ read_ahead_kb =, max_sectors_kb = } --> { the current values } |
** nil, "EINVAL", 22: the disk's request queue (/sys/block/<disk>/queue).
** m:disk() reads it.  A file takes read_ahead_kb when it is created.
*/
static int m_disk(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "disk");
	struct memlab_disk_queue set = { -1, -1 }, get;
	static const size_t field[] = {
		offsetof(struct memlab_disk_queue, read_ahead_kb),
		offsetof(struct memlab_disk_queue, max_sectors_kb),
	};
	int rc;

	if (read_int_settings(L, "disk", "table of queue settings", disk_names, field, &set))
		return lmemlab_pushfail(L, -MEMLAB_EINVAL);
	lmemlab_begin_call(lm);
	rc = memlab_disk_queue(lmemlab_machine_core(lm), &set, &get);
	lmemlab_end_call(L, lm, "disk", rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	push_int_settings(L, disk_names, field, 2, &get);
	return 1;
}

/* }===================== */

/* {===================== opening ===================== */

static const luaL_Reg machine_task_methods[] = {
	{ "spawn", m_spawn },
	{ "task", m_task },
	{ "tasks", m_tasks },
	{ "snapshot", m_snapshot },
	{ "file", m_file },
	{ "sysctl", m_sysctl },
	{ "disk", m_disk },
	{ NULL, NULL }
};

/* Set every name of names as an integer in the table at the top. */
static void set_constants(lua_State *L, const struct memlab_flag_name *n)
{
	for (; n->name; n++) {
		lua_pushinteger(L, (lua_Integer)n->value);
		lua_setfield(L, -2, n->name);
	}
}

void lmemlab_open_task(lua_State *L)
{
	/* the handle cache: machine userdata -> { [pid] = handle } */
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &HANDLES) != LUA_TTABLE) {
		lua_newtable(L);
		lua_createtable(L, 0, 1);
		lua_pushliteral(L, "k");
		lua_setfield(L, -2, "__mode");
		lua_setmetatable(L, -2);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &HANDLES);
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, LMEMLAB_TASK)) {
		luaL_newlib(L, task_methods);
		lmemlab_mmu_methods(L);
		lmemlab_file_task_methods(L);
		lmemlab_fault_task_methods(L);
		lmemlab_tlb_task_methods(L);
		lua_pushcclosure(L, t_index, 1);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, t_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, LMEMLAB_FILE)) {
		lua_newtable(L);
		lmemlab_file_methods(L);
		lua_pushcclosure(L, f_index, 1);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, f_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	/* the machine methods */
	luaL_getmetatable(L, LMEMLAB_MACHINE);
	if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
		luaL_setfuncs(L, machine_task_methods, 0);
		lmemlab_mmu_machine_methods(L);
		lmemlab_file_machine_methods(L);
		lmemlab_fault_machine_methods(L);
		lmemlab_trace_machine_methods(L);
		lmemlab_tlb_machine_methods(L);
		lmemlab_vmalloc_machine_methods(L);
		lmemlab_page_machine_methods(L);
	}
	lua_pop(L, 2);
	/* the constants, in the module table at the top */
	set_constants(L, prot_names);
	set_constants(L, memlab_map_names());
	set_constants(L, memlab_madv_names());
	set_constants(L, mremap_names);
	set_constants(L, mlock_names);
	set_constants(L, mcl_names);
}

/* }===================== */
