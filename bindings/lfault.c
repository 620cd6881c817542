/*
** lfault.c -- fault injection from Lua: m:inject(point, attrs | false),
** m:injected([point]), and the per-task p:fail_nth([n]) and
** p:make_it_fail(on), as Linux's debugfs and /proc/PID files offer them.
*/
#include <string.h>

#include "lmemlab.h"

static const char *const attr_keys[] = {
	"probability", "interval", "times", "space", "verbose", "task_filter",
	"min_order", "ignore_gfp_highmem", "ignore_gfp_wait", "pid", "run", NULL
};

/* An integer attribute in [lo, hi], or raise naming it. */
static int64_t attr_integer(lua_State *L, const char *key, int64_t lo, int64_t hi)
{
	lua_Integer v;

	if (lua_type(L, -1) == LUA_TBOOLEAN)
		return lua_toboolean(L, -1);
	if (!lua_isinteger(L, -1))
		return luaL_error(L, "inject: attribute '%s' must be an integer", key);
	v = lua_tointeger(L, -1);
	if (v < lo || v > hi)
		return luaL_error(L, "inject: attribute '%s' must be between %I and %I", key,
				  (LUAI_UACINT)lo, (LUAI_UACINT)hi);
	return v;
}

/* One attribute (the value at the top, its name below it) into a. */
static void set_attr(lua_State *L, struct memlab_fault_attr *a)
{
	const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
	int k;

	for (k = 0; attr_keys[k] && strcmp(attr_keys[k], key); k++)
		;
	switch (k) {
	case 0: a->probability = (uint64_t)attr_integer(L, key, 0, 100); break;
	case 1: a->interval = (uint64_t)attr_integer(L, key, 0, INT64_MAX); break;
	case 2: a->times = attr_integer(L, key, -1, INT64_MAX); break;
	case 3: a->space = attr_integer(L, key, 0, INT64_MAX); break;
	case 4: a->verbose = (int)attr_integer(L, key, 0, 2); break;
	case 5: a->task_filter = (int)attr_integer(L, key, 0, 1); break;
	case 6: a->min_order = (unsigned)attr_integer(L, key, 0, 63); break;
	case 7: a->ignore_gfp_highmem = (int)attr_integer(L, key, 0, 1); break;
	case 8: a->ignore_gfp_reclaim = (int)attr_integer(L, key, 0, 1); break;
	case 9: a->pid = (int)attr_integer(L, key, 0, INT32_MAX); break;
	case 10: a->run = (uint64_t)attr_integer(L, key, 1, INT64_MAX); break;
	default: luaL_error(L, "inject: unknown attribute '%s'", key);
	}
}

/*
** m:inject(point, { probability =, interval =, times =, space =, verbose =,
** task_filter =, min_order =, ignore_gfp_highmem =, ignore_gfp_wait =,
** pid =, run = }) --> true; m:inject(point, false) turns it off.  Attributes
** left out keep Linux's defaults for the point.
*/
static int m_inject(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "inject");
	const char *point = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
	struct memlab_fault_attr a;
	int rc;

	if (!point)
		return lmemlab_typeerror(L, 2, "inject", "point name (a string)");
	memlab_fault_attr_init(&a, point);
	if (lua_isboolean(L, 3) && !lua_toboolean(L, 3)) {
		rc = memlab_inject(lmemlab_machine_core(lm), point, NULL);
	} else {
		if (!lua_istable(L, 3))
			return lmemlab_typeerror(L, 3, "inject", "table of attributes, or false");
		lua_pushnil(L);
		while (lua_next(L, 3)) {
			set_attr(L, &a);
			lua_pop(L, 1);
		}
		rc = memlab_inject(lmemlab_machine_core(lm), point, &a);
	}
	if (rc == -MEMLAB_ENOENT)
		return luaL_error(L, "inject: unknown fault point '%s'", point);
	return lmemlab_pushok(L, rc);
}

/* One point's statistics and attributes, as a table. */
static void push_stats(lua_State *L, const struct memlab_fault_stats *st)
{
	lua_createtable(L, 0, 13);
	lmemlab_setint(L, "calls", st->calls);
	lmemlab_setint(L, "fired", st->fired);
	lmemlab_setint(L, "probability", st->attr.probability);
	lmemlab_setint(L, "interval", st->attr.interval);
	lmemlab_setint(L, "times", (uint64_t)st->attr.times);
	lmemlab_setint(L, "space", (uint64_t)st->attr.space);
	lmemlab_setint(L, "verbose", (uint64_t)st->attr.verbose);
	lmemlab_setbool(L, "task_filter", st->attr.task_filter);
	lmemlab_setint(L, "min_order", st->attr.min_order);
	lmemlab_setbool(L, "ignore_gfp_highmem", st->attr.ignore_gfp_highmem);
	lmemlab_setbool(L, "ignore_gfp_wait", st->attr.ignore_gfp_reclaim);
	lmemlab_setint(L, "pid", (uint64_t)st->attr.pid);
	lmemlab_setint(L, "run", st->attr.run);
}

/* m:injected([point]) --> { calls=, fired=, <attributes> } or { [point] = {...}, ... } */
static int m_injected(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "injected");
	memlab_machine *m = lmemlab_machine_core(lm);
	struct memlab_fault_stats st;
	const char *name;

	if (!lua_isnoneornil(L, 2)) {
		if (lua_type(L, 2) != LUA_TSTRING)
			return lmemlab_typeerror(L, 2, "injected", "point name (a string)");
		name = lua_tostring(L, 2);
		if (memlab_injected(m, name, &st) < 0)
			return luaL_error(L, "injected: unknown fault point '%s'", name);
		push_stats(L, &st);
		return 1;
	}
	lua_newtable(L);
	for (int i = 0; (name = memlab_fault_point_name(i)); i++) {
		memlab_injected(m, name, &st);
		push_stats(L, &st);
		lua_setfield(L, -2, name);
	}
	return 1;
}

/* p:fail_nth([n]) --> what was left of the count; with n, the nth call from now fails */
static int t_fail_nth(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "fail_nth", &lm);
	unsigned old = memlab_task_get_fail_nth(t);

	if (!lua_isnoneornil(L, 2))
		memlab_task_fail_nth(t, (unsigned)lmemlab_checkrange(L, 2, "fail_nth", "n", 0,
								      UINT32_MAX));
	lua_pushinteger(L, old);
	return 1;
}

/* p:make_it_fail(on) --> true: the task passes the points' task filter */
static int t_make_it_fail(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "make_it_fail", &lm);

	if (!lua_isboolean(L, 2))
		return lmemlab_typeerror(L, 2, "make_it_fail", "boolean");
	memlab_task_make_it_fail(t, lua_toboolean(L, 2));
	lua_pushboolean(L, 1);
	return 1;
}

/*
** m:corrupt{ what = "pte", task = p, addr =, bit = }, { what = "freelist",
** order = } or { what = "lru", list = } --> { addr =, bit =, before =,
** after = } | nil, err, errno:
** a bit flipped on purpose (addr 0 / bit -1 or left out: chosen at random).
*/
static int m_corrupt(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "corrupt");
	struct memlab_corruption c;
	const char *what;
	int rc;

	if (!lua_istable(L, 2))
		return lmemlab_typeerror(L, 2, "corrupt", "table of options");
	lua_getfield(L, 2, "what");
	what = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
	if (strcmp(what, "pte") == 0) {
		lmachine *tlm;
		memlab_task *t;
		uint64_t addr;
		lua_Integer bit;

		lua_getfield(L, 2, "task");
		lua_replace(L, 1);	/* the task where lmemlab_checktask looks */
		t = lmemlab_checktask(L, "corrupt", &tlm);
		if (tlm != lm)
			return luaL_error(L, "corrupt: the task belongs to another machine");
		lua_getfield(L, 2, "addr");
		addr = lua_isnil(L, -1) ? 0 : lmemlab_checkaddr(L, lua_gettop(L), "corrupt", "addr");
		lua_getfield(L, 2, "bit");
		bit = lua_isnil(L, -1) ? -1 : lmemlab_checkrange(L, lua_gettop(L), "corrupt", "bit", -1, 63);
		rc = memlab_corrupt_pte(t, addr, (int)bit, &c);
	} else if (strcmp(what, "freelist") == 0) {
		lua_getfield(L, 2, "order");
		rc = memlab_corrupt_freelist(lmemlab_machine_core(lm), lua_isnil(L, -1) ? 0 :
			(unsigned)lmemlab_checkrange(L, lua_gettop(L), "corrupt", "order", 0, 63), &c);
	} else if (strcmp(what, "lru") == 0) {
		const char *list;

		lua_getfield(L, 2, "list");
		list = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		rc = memlab_corrupt_lru(lmemlab_machine_core(lm), list, &c);
		if (rc == -MEMLAB_EINVAL)
			return luaL_error(L, "corrupt: 'list' must be inactive_anon, active_anon, "
					  "inactive_file, active_file or unevictable");
	} else {
		return luaL_error(L, "corrupt: 'what' must be \"pte\", \"freelist\" or \"lru\"");
	}
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_createtable(L, 0, 4);
	lmemlab_setint(L, "addr", c.addr);
	lua_pushinteger(L, c.bit);
	lua_setfield(L, -2, "bit");
	lmemlab_setint(L, "before", c.before);
	lmemlab_setint(L, "after", c.after);
	return 1;
}

static const luaL_Reg fault_machine_methods[] = {
	{ "inject", m_inject },
	{ "corrupt", m_corrupt },
	{ "injected", m_injected },
	{ NULL, NULL }
};

static const luaL_Reg fault_task_methods[] = {
	{ "fail_nth", t_fail_nth },
	{ "make_it_fail", t_make_it_fail },
	{ NULL, NULL }
};

void lmemlab_fault_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, fault_machine_methods, 0);
}

void lmemlab_fault_task_methods(lua_State *L)
{
	luaL_setfuncs(L, fault_task_methods, 0);
}
