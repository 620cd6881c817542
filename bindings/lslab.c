/*
** lslab.c -- the slab allocator from Lua: caches (memlab.kmem_cache) and
** kmalloc.  Addresses are kernel virtual addresses in the direct map.
**
**   local c = m:kmem_cache_create("foo", 200, { flags = "SLAB_HWCACHE_ALIGN" })
**   local a = c:alloc()            -- or c:alloc("GFP_KERNEL|__GFP_ZERO", p)
**   c:free(a);  c:shrink();  c:info().objs_per_slab;  c:destroy()
**   local k = m:kmalloc(100);  m:ksize(k);  m:kfree(k)
**   m:slabinfo(), m:slab_cache("kmalloc-128"), m:proc("slabinfo")
**
** A task as the last argument runs the call as that task (its CPU, its
** cgroup); without one the call runs as a kernel thread on CPU 0.
*/
#include <string.h>

#include "lmemlab.h"

#define LMEMLAB_KMEM_CACHE "memlab.kmem_cache"

typedef struct lcache {
	lmachine *lm;			/* user value 1: the machine */
	memlab_kmem_cache *s;		/* NULL once destroyed through this handle */
	uint64_t id;			/* s's id: a later cache at the same address is not s */
} lcache;

struct flag_name {
	const char *name;
	uint32_t value;
};

static const struct flag_name slab_flags[] = {
	{ "CONSISTENCY_CHECKS", MEMLAB_SLAB_CONSISTENCY_CHECKS },
	{ "RED_ZONE", MEMLAB_SLAB_RED_ZONE },
	{ "POISON", MEMLAB_SLAB_POISON },
	{ "HWCACHE_ALIGN", MEMLAB_SLAB_HWCACHE_ALIGN },
	{ "CACHE_DMA", MEMLAB_SLAB_CACHE_DMA },
	{ "CACHE_DMA32", MEMLAB_SLAB_CACHE_DMA32 },
	{ "STORE_USER", MEMLAB_SLAB_STORE_USER },
	{ "PANIC", MEMLAB_SLAB_PANIC },
	{ "TYPESAFE_BY_RCU", MEMLAB_SLAB_TYPESAFE_BY_RCU },
	{ "TRACE", MEMLAB_SLAB_TRACE },
	{ "NOLEAKTRACE", MEMLAB_SLAB_NOLEAKTRACE },
	{ "NO_MERGE", MEMLAB_SLAB_NO_MERGE },
	{ "FAILSLAB", MEMLAB_SLAB_FAILSLAB },
	{ "ACCOUNT", MEMLAB_SLAB_ACCOUNT },
	{ "RECLAIM_ACCOUNT", MEMLAB_SLAB_RECLAIM_ACCOUNT },
	{ "KMALLOC", MEMLAB_SLAB_KMALLOC },
	{ NULL, 0 }
};

static int64_t slab_flag_lookup(const char *tok, const void *ud)
{
	(void)ud;
	if (!strncmp(tok, "SLAB_", 5))
		tok += 5;
	for (const struct flag_name *f = slab_flags; f->name; f++)
		if (!strcmp(tok, f->name))
			return f->value;
	return -1;
}

/* Is s still a cache of m?  (A handle from m:slab_cache holds no reference.) */
static int find_cache(void *ud, memlab_kmem_cache *s)
{
	return s == ud;
}

/* The live cache at argument 1, or raise naming fname; *mp its machine. */
static memlab_kmem_cache *check_cache(lua_State *L, const char *fname, memlab_machine **mp,
				      lmachine **lmp)
{
	lcache *lc = luaL_testudata(L, 1, LMEMLAB_KMEM_CACHE);
	memlab_machine *m;

	if (!lc)
		lmemlab_typeerror(L, 1, fname, LMEMLAB_KMEM_CACHE);
	if (!(m = lmemlab_machine_core(lc->lm)))
		luaL_error(L, "%s: attempt to use a cache of a closed machine", fname);
	if (!lc->s || !memlab_kmem_cache_each(m, find_cache, lc->s) ||
	    memlab_kmem_cache_id(lc->s) != lc->id)
		luaL_error(L, "%s: attempt to use a destroyed cache", fname);
	*mp = m;
	if (lmp)
		*lmp = lc->lm;
	return lc->s;
}

/* The string at arg, or raise naming fname. */
static const char *check_string(lua_State *L, int arg, const char *fname, const char *what)
{
	const char *str = lua_type(L, arg) == LUA_TSTRING ? lua_tostring(L, arg) : NULL;

	if (!str)
		lmemlab_typeerror(L, arg, fname, what);
	return str;
}

/* The optional task at arg, which must be of machine lm: NULL for none. */
static memlab_task *opt_task(lua_State *L, int arg, lmachine *lm, const char *fname)
{
	lmachine *tlm;
	memlab_task *t;

	if (lua_isnoneornil(L, arg))
		return NULL;
	t = lmemlab_checktaskat(L, arg, fname, &tlm);
	if (tlm != lm)
		lmemlab_argerror(L, arg, fname, "a task of this machine expected");
	return t;
}

static void push_cache(lua_State *L, int machine, lmachine *lm, memlab_kmem_cache *s)
{
	lcache *lc = lua_newuserdatauv(L, sizeof(*lc), 1);

	lc->lm = lm;
	lc->s = s;
	lc->id = memlab_kmem_cache_id(s);
	lua_pushvalue(L, machine);
	lua_setiuservalue(L, -2, 1);
	luaL_setmetatable(L, LMEMLAB_KMEM_CACHE);
}

/* A number field of the options table at idx, def when absent. */
static unsigned opt_uint(lua_State *L, int idx, const char *key, const char *fname, unsigned def)
{
	lua_Integer v = 0;

	if (lua_getfield(L, idx, key) == LUA_TNIL) {
		lua_pop(L, 1);
		return def;
	}
	if (!lua_isinteger(L, -1) || (v = lua_tointeger(L, -1)) < 0 || v > 0x7fffffff)
		luaL_error(L, "%s: option '%s' must be an integer in 0..2^31-1", fname, key);
	lua_pop(L, 1);
	return (unsigned)v;
}

static uint32_t opt_flags(lua_State *L, int idx, const char *fname)
{
	uint32_t flags = 0;
	char msg[160];
	const char *err;
	size_t len;
	const char *s;

	switch (lua_getfield(L, idx, "flags")) {
	case LUA_TNIL:
		break;
	case LUA_TNUMBER:
		lua_pop(L, 1);
		return opt_uint(L, idx, "flags", fname, 0);
	case LUA_TSTRING:
		s = lua_tolstring(L, -1, &len);
		err = lmemlab_parse_names(s, len, slab_flag_lookup, NULL, "slab flag", &flags,
					  msg, sizeof(msg));
		if (err)
			luaL_error(L, "%s: option 'flags': %s", fname, err);
		break;
	default:
		luaL_error(L, "%s: option 'flags' must be names such as \"SLAB_HWCACHE_ALIGN\" or an integer",
			   fname);
	}
	lua_pop(L, 1);
	return flags;
}

/* m:kmem_cache_create(name, size [, { align =, flags =, ctor =, useroffset =, usersize =, freeptr_offset = }]) */
static int m_kmem_cache_create(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "kmem_cache_create");
	memlab_machine *m = lmemlab_machine_core(lm);
	struct memlab_kmem_cache_args args = { 0 };
	const char *name = check_string(L, 2, "kmem_cache_create", "name (a string)");
	lua_Integer size = lmemlab_checkrange(L, 3, "kmem_cache_create", "size", 1, 0x7fffffff);
	memlab_kmem_cache *s;
	uint32_t flags = 0;
	int rc;

	if (!lua_isnoneornil(L, 4)) {
		if (!lua_istable(L, 4))
			return lmemlab_typeerror(L, 4, "kmem_cache_create", "options (a table)");
		args.align = opt_uint(L, 4, "align", "kmem_cache_create", 0);
		args.useroffset = opt_uint(L, 4, "useroffset", "kmem_cache_create", 0);
		args.usersize = opt_uint(L, 4, "usersize", "kmem_cache_create", 0);
		if (lua_getfield(L, 4, "freeptr_offset") != LUA_TNIL) {
			args.use_freeptr_offset = 1;
			args.freeptr_offset = opt_uint(L, 4, "freeptr_offset", "kmem_cache_create", 0);
		}
		lua_pop(L, 1);
		lua_getfield(L, 4, "ctor");
		args.ctor = lua_toboolean(L, -1);
		lua_pop(L, 1);
		flags = opt_flags(L, 4, "kmem_cache_create");
	}
	if (!*name)
		return lmemlab_argerror(L, 2, "kmem_cache_create", "a name expected");
	if (args.align & (args.align - 1))
		return luaL_error(L, "kmem_cache_create: option 'align' must be a power of two");
	if (flags & MEMLAB_SLAB_KMALLOC)
		return luaL_error(L, "kmem_cache_create: SLAB_KMALLOC is for the kmalloc caches");
	rc = memlab_kmem_cache_create(m, name, (unsigned)size, &args, flags, &s);
	if (rc == -MEMLAB_EOPNOTSUPP)
		return luaL_error(L, "kmem_cache_create: the slub_debug flags (RED_ZONE, POISON, "
				  "STORE_USER, CONSISTENCY_CHECKS, TRACE) are not modelled");
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	push_cache(L, 1, lm, s);
	return 1;
}

/* m:slab_cache(name) --> the cache (by its name, an alias's, or its sysfs name) | nil */
static int m_slab_cache(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "slab_cache");
	memlab_kmem_cache *s = memlab_kmem_cache_find(lmemlab_machine_core(lm),
						       check_string(L, 2, "slab_cache", "name (a string)"));

	if (!s)
		return 0;
	push_cache(L, 1, lm, s);
	return 1;
}

static void push_info(lua_State *L, memlab_machine *m, memlab_kmem_cache *s)
{
	struct memlab_kmem_cache_info i;

	memlab_kmem_cache_info(m, s, &i);
	lua_createtable(L, 0, 24);
	lua_pushstring(L, i.name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, i.sysfs_name);
	lua_setfield(L, -2, "sysfs_name");
	lmemlab_setint(L, "object_size", i.object_size);
	lmemlab_setint(L, "slab_size", i.slab_size);
	lmemlab_setint(L, "align", i.align);
	lmemlab_setint(L, "inuse", i.inuse);
	lmemlab_setint(L, "offset", i.offset);
	lmemlab_setint(L, "order", i.order);
	lmemlab_setint(L, "objs_per_slab", i.objs_per_slab);
	lmemlab_setint(L, "min_order", i.min_order);
	lmemlab_setint(L, "min_objects", i.min_objects);
	lmemlab_setint(L, "min_partial", i.min_partial);
	lmemlab_setint(L, "cpu_partial", i.cpu_partial);
	lmemlab_setint(L, "cpu_partial_slabs", i.cpu_partial_slabs);
	lmemlab_setint(L, "aliases", i.aliases);
	lmemlab_setint(L, "flags", i.flags);
	lmemlab_setint(L, "slabs", i.slabs);
	lmemlab_setint(L, "partial", i.partial);
	lmemlab_setint(L, "cpu_slabs", i.cpu_slabs);
	lmemlab_setint(L, "objects", i.objects);
	lmemlab_setint(L, "total_objects", i.total_objects);
	lmemlab_setint(L, "active_objs", i.active_objs);
	lmemlab_setint(L, "pagesperslab", 1ull << i.order);
}

static int push_each_info(void *ud, memlab_kmem_cache *s)
{
	lua_State *L = ud;
	memlab_machine *m = lua_touserdata(L, -2);

	push_info(L, m, s);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	return 0;
}

/* m:slabinfo() --> every cache's info, in /proc/slabinfo's order */
static int m_slabinfo(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "slabinfo");

	lua_pushlightuserdata(L, lmemlab_machine_core(lm));
	lua_newtable(L);
	memlab_kmem_cache_each(lmemlab_machine_core(lm), push_each_info, L);
	return 1;
}

/* After a call that may report: raise its reports on -EINVAL, else push the outcome. */
static int finish(lua_State *L, lmachine *lm, const char *fname, int rc)
{
	lmemlab_end_call(L, lm, fname, rc);
	return rc;
}

static int push_addr(lua_State *L, int rc, uint64_t addr)
{
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/* c:alloc([gfp [, task]]) --> addr | nil, err, errno */
static int c_alloc(lua_State *L)
{
	memlab_machine *m;
	lmachine *lm;
	memlab_kmem_cache *s = check_cache(L, "alloc", &m, &lm);
	uint32_t gfp = lmemlab_optgfp(L, 2, "alloc", MEMLAB_GFP_KERNEL);
	memlab_task *t = opt_task(L, 3, lm, "alloc");
	uint64_t addr;
	int rc;

	lmemlab_begin_call(lm);
	rc = finish(L, lm, "alloc", memlab_kmem_cache_alloc(m, s, gfp, t, &addr));
	return push_addr(L, rc, addr);
}

/* c:free(addr [, task]) --> true (a bad address raises) */
static int c_free(lua_State *L)
{
	memlab_machine *m;
	lmachine *lm;
	memlab_kmem_cache *s = check_cache(L, "free", &m, &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "free", "addr");
	memlab_task *t = opt_task(L, 3, lm, "free");

	lmemlab_begin_call(lm);
	return lmemlab_pushok(L, finish(L, lm, "free", memlab_kmem_cache_free(m, s, addr, t)));
}

static int c_shrink(lua_State *L)
{
	memlab_machine *m;
	memlab_kmem_cache *s = check_cache(L, "shrink", &m, NULL);

	return lmemlab_pushok(L, memlab_kmem_cache_shrink(m, s));
}

/* c:destroy() --> true | nil, "EBUSY", 16 (objects remain: the cache is leaked, as Linux does) */
static int c_destroy(lua_State *L)
{
	memlab_machine *m;
	lmachine *lm;
	memlab_kmem_cache *s = check_cache(L, "destroy", &m, &lm);
	lcache *lc = lua_touserdata(L, 1);
	struct memlab_kmem_cache_info info;
	int rc;

	memlab_kmem_cache_info(m, s, &info);
	if (info.flags & MEMLAB_SLAB_KMALLOC)
		return luaL_error(L, "destroy: %s is a kmalloc cache", info.name);
	lmemlab_begin_call(lm);
	rc = finish(L, lm, "destroy", memlab_kmem_cache_destroy(m, s));
	if (rc == 0 || rc == -MEMLAB_EBUSY)
		lc->s = NULL;	/* this handle's reference is given back (leaked: gone too) */
	return lmemlab_pushok(L, rc);
}

static int c_info(lua_State *L)
{
	memlab_machine *m;
	memlab_kmem_cache *s = check_cache(L, "info", &m, NULL);

	push_info(L, m, s);
	return 1;
}

static int c_tostring(lua_State *L)
{
	lcache *lc = luaL_checkudata(L, 1, LMEMLAB_KMEM_CACHE);
	memlab_machine *m = lmemlab_machine_core(lc->lm);
	struct memlab_kmem_cache_info info;

	if (!m || !lc->s || !memlab_kmem_cache_each(m, find_cache, lc->s) ||
	    memlab_kmem_cache_id(lc->s) != lc->id) {
		lua_pushliteral(L, "memlab.kmem_cache (gone)");
		return 1;
	}
	memlab_kmem_cache_info(m, lc->s, &info);
	lua_pushfstring(L, "memlab.kmem_cache %s (%d-byte objects)", info.name, (int)info.object_size);
	return 1;
}

/* m:kmalloc(size [, gfp [, task]]) --> addr (16 for size 0: ZERO_SIZE_PTR) | nil, err, errno */
static int m_kmalloc(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "kmalloc");
	uint64_t size = lua_isinteger(L, 2) && lua_tointeger(L, 2) == 0 ? 0 :
			lmemlab_checksize(L, 2, "kmalloc");
	uint32_t gfp = lmemlab_optgfp(L, 3, "kmalloc", MEMLAB_GFP_KERNEL);
	memlab_task *t = opt_task(L, 4, lm, "kmalloc");
	uint64_t addr;
	int rc;

	lmemlab_begin_call(lm);
	rc = finish(L, lm, "kmalloc", memlab_kmalloc(lmemlab_machine_core(lm), size, gfp, t, &addr));
	return push_addr(L, rc, addr);
}

/* m:kfree(addr [, task]) --> true (a bad address raises) */
static int m_kfree(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "kfree");
	uint64_t addr = lmemlab_checkaddr(L, 2, "kfree", "addr");
	memlab_task *t = opt_task(L, 3, lm, "kfree");

	lmemlab_begin_call(lm);
	return lmemlab_pushok(L, finish(L, lm, "kfree", memlab_kfree(lmemlab_machine_core(lm), addr, t)));
}

/* m:ksize(addr) --> bytes usable | nil, "EINVAL", 22 */
static int m_ksize(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "ksize");
	uint64_t size;
	int rc = memlab_ksize(lmemlab_machine_core(lm), lmemlab_checkaddr(L, 2, "ksize", "addr"), &size);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)size);
	return 1;
}

static const luaL_Reg cache_methods[] = {
	{ "alloc", c_alloc },
	{ "free", c_free },
	{ "shrink", c_shrink },
	{ "destroy", c_destroy },
	{ "info", c_info },
	{ NULL, NULL }
};

static const luaL_Reg machine_slab_methods[] = {
	{ "kmem_cache_create", m_kmem_cache_create },
	{ "slab_cache", m_slab_cache },
	{ "slabinfo", m_slabinfo },
	{ "kmalloc", m_kmalloc },
	{ "kfree", m_kfree },
	{ "ksize", m_ksize },
	{ NULL, NULL }
};

/* The memlab.kmem_cache metatable and the machine's slab methods.  Call after lmemlab_open_machine. */
void lmemlab_open_slab(lua_State *L)
{
	if (luaL_newmetatable(L, LMEMLAB_KMEM_CACHE)) {
		luaL_newlib(L, cache_methods);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, c_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	luaL_getmetatable(L, LMEMLAB_MACHINE);
	if (lua_getfield(L, -1, "__index") == LUA_TTABLE)
		luaL_setfuncs(L, machine_slab_methods, 0);
	lua_pop(L, 2);
}
