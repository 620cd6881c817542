/*
** lmmu.c -- access through the MMU from Lua: the task methods read,
** write, touch, translate, pte, pagetable and pagemap, and the machine method
** rmap.  An access Linux answers with a signal returns
** nil, "SIGSEGV", "SEGV_MAPERR" | "SEGV_ACCERR" | "SI_KERNEL" or nil, "SIGBUS",
** "BUS_ADRERR"; an access whose task the OOM killer chose nil, "SIGKILL",
** 9 (the task has exited when it returns); a fault that found no memory
** and the OOM killer could not help nil, "ENOMEM", 12.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lmemlab.h"

#define LMMU_MAX_READ	(1u << 30)	/* p:read's largest n: a host string */

/* {===================== results ===================== */

/* The result of an access: ok pushes nothing and returns 0. */
static int push_access_result(lua_State *L, int rc, int si_code)
{
	if (rc != -MEMLAB_EFAULT || !si_code)
		return rc < 0 ? lmemlab_pushfail(L, rc) : 0;
	luaL_pushfail(L);
	if (si_code == MEMLAB_BUS_ADRERR) {
		lua_pushliteral(L, "SIGBUS");
		lua_pushliteral(L, "BUS_ADRERR");
	} else if (si_code == MEMLAB_SIGKILL) {
		lua_pushliteral(L, "SIGKILL");
		lua_pushinteger(L, 9);
	} else {
		lua_pushliteral(L, "SIGSEGV");
		if (si_code == MEMLAB_SEGV_MAPERR)
			lua_pushliteral(L, "SEGV_MAPERR");
		else if (si_code == MEMLAB_SEGV_KERNEL)
			lua_pushliteral(L, "SI_KERNEL");
		else
			lua_pushliteral(L, "SEGV_ACCERR");
	}
	return 3;
}

/* }===================== */

/* {===================== access ===================== */

/* The access letter at arg: "r", "w" or "x". */
static int check_access(lua_State *L, int arg, const char *fname)
{
	const char *s;
	size_t len;

	if (lua_type(L, arg) != LUA_TSTRING)
		return lmemlab_typeerror(L, arg, fname, "access (\"r\", \"w\" or \"x\")");
	s = lua_tolstring(L, arg, &len);
	if (len != 1 || !strchr("rwx", s[0]) || s[0] == '\0')
		return lmemlab_argerror(L, arg, fname, "access must be \"r\", \"w\" or \"x\"");
	return s[0];
}

/* p:read(addr, n) --> string | nil, "SIGSEGV", code */
static int t_read(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "read", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "read", "addr");
	uint64_t n = lmemlab_checklength(L, 3, "read", "n");
	int si_code = 0, rc, nres;
	luaL_Buffer b;
	char *buf;

	if (n > LMMU_MAX_READ)
		return lmemlab_argerror(L, 3, "read", "n is larger than 1 GiB");
	buf = luaL_buffinitsize(L, &b, (size_t)n);
	lmemlab_begin_call(lm);
	rc = memlab_access(t, addr, n, 'r', buf, &si_code);
	lmemlab_end_call(L, lm, "read", rc);
	if ((nres = push_access_result(L, rc, si_code)))
		return nres;
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/* p:write(addr, s) --> true | nil, "SIGSEGV", code */
static int t_write(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "write", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "write", "addr");
	int si_code = 0, rc, nres;
	const char *s;
	size_t len;

	if (lua_type(L, 3) != LUA_TSTRING)
		return lmemlab_typeerror(L, 3, "write", "data (a string)");
	s = lua_tolstring(L, 3, &len);
	lmemlab_begin_call(lm);
	rc = memlab_access(t, addr, len, 'w', (void *)s, &si_code);
	lmemlab_end_call(L, lm, "write", rc);
	if ((nres = push_access_result(L, rc, si_code)))
		return nres;
	lua_pushboolean(L, 1);
	return 1;
}

/* p:touch(addr, len, "r"|"w"|"x") --> true | nil, "SIGSEGV", code */
static int t_touch(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "touch", &lm);
	uint64_t addr = lmemlab_checkaddr(L, 2, "touch", "addr");
	uint64_t len = lmemlab_checklength(L, 3, "touch", "len");
	int access = check_access(L, 4, "touch"), si_code = 0, rc, nres;

	lmemlab_begin_call(lm);
	rc = memlab_touch(t, addr, len, access, &si_code);
	lmemlab_end_call(L, lm, "touch", rc);
	if ((nres = push_access_result(L, rc, si_code)))
		return nres;
	lua_pushboolean(L, 1);
	return 1;
}

/* }===================== */

/* {===================== access patterns ===================== */

static const char *const pattern_keys[] = { "pattern", "base", "len", "stride", "count",
					    "write_ratio", "seed", "size", "s", NULL };
static const char *const pattern_names[] = { "seq", "stride", "random", "zipf", NULL };

/* A number option of p:access in [lo, hi], or raise naming it. */
static double pattern_number(lua_State *L, const char *key, double lo, double hi)
{
	double v;

	if (lua_type(L, -1) != LUA_TNUMBER)
		return luaL_error(L, "access: option '%s' must be a number", key);
	v = lua_tonumber(L, -1);
	if (!(v >= lo && v <= hi))
		return luaL_error(L, "access: option '%s' must be between %g and %g", key, lo, hi);
	return v;
}

/* The pattern option's name as an enum memlab_pattern_kind, or raise. */
static int pattern_kind(lua_State *L)
{
	const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";

	for (int i = 0; pattern_names[i]; i++)
		if (strcmp(name, pattern_names[i]) == 0)
			return i;
	return luaL_error(L, "access: option 'pattern' must be \"seq\", \"stride\", "
			  "\"random\" or \"zipf\"");
}

/* One option of p:access (the value at the top, the key below it). */
static void pattern_option(lua_State *L, struct memlab_pattern *p)
{
	int k;

	if (lua_type(L, -2) != LUA_TSTRING)
		luaL_error(L, "access: option names must be strings");
	for (k = 0; pattern_keys[k] && strcmp(pattern_keys[k], lua_tostring(L, -2)); k++)
		;
	switch (k) {
	case 0: p->kind = pattern_kind(L); break;
	case 1: p->base = lmemlab_checkaddr(L, -1, "access", "base"); break;
	case 2: p->len = lmemlab_checklength(L, -1, "access", "len"); break;
	case 3: p->stride = lmemlab_checklength(L, -1, "access", "stride"); break;
	case 4: p->count = (uint64_t)pattern_number(L, "count", 0, 0x1p53); break;
	case 5: p->write_ratio = pattern_number(L, "write_ratio", 0, 1); break;
	case 6: p->seed = (uint64_t)lmemlab_checkinteger(L, -1, "access", "seed"); break;
	case 7: p->size = (unsigned)pattern_number(L, "size", 1, 1 << 16); break;
	case 8: p->zipf_s = pattern_number(L, "s", 0.01, 99); break;
	default: luaL_error(L, "access: unknown option '%s'", lua_tostring(L, -2));
	}
}

/*
** p:access{ pattern = "seq"|"stride"|"random"|"zipf", base =, len =, stride =,
** count =, write_ratio =, seed =, size = 8, s = 1.0 } --> { accesses=, reads=,
** writes=, min_flt=, maj_flt= } [, "SIGSEGV", code, addr when one faulted]
*/
static int t_access(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "access", &lm);
	struct memlab_pattern p = { MEMLAB_PATTERN_SEQ, 0, 0, 0, 0, 0, 8, 0, 1.0 };
	struct memlab_pattern_result r;
	int rc;

	if (!lua_istable(L, 2))
		return lmemlab_typeerror(L, 2, "access", "table of options");
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		pattern_option(L, &p);
		lua_pop(L, 1);
	}
	lmemlab_begin_call(lm);
	rc = memlab_access_pattern(t, &p, &r);
	lmemlab_end_call(L, lm, "access", rc);
	if (rc == -MEMLAB_EINVAL)
		return luaL_error(L, "access: bad pattern (len, size, stride, count, s)");
	lua_createtable(L, 0, 5);
	lmemlab_setint(L, "accesses", r.accesses);
	lmemlab_setint(L, "reads", r.reads);
	lmemlab_setint(L, "writes", r.writes);
	lmemlab_setint(L, "min_flt", r.min_flt);
	lmemlab_setint(L, "maj_flt", r.maj_flt);
	if (rc == 0)
		return 1;
	if (rc == -MEMLAB_EFAULT && r.si_code == MEMLAB_SIGKILL) {
		lua_pushliteral(L, "SIGKILL");
		lua_pushinteger(L, 9);
	} else if (rc == -MEMLAB_EFAULT) {
		lua_pushstring(L, r.si_code == MEMLAB_BUS_ADRERR ? "SIGBUS" : "SIGSEGV");
		lua_pushstring(L, r.si_code == MEMLAB_SEGV_MAPERR ? "SEGV_MAPERR" :
				  r.si_code == MEMLAB_SEGV_ACCERR ? "SEGV_ACCERR" : "BUS_ADRERR");
	} else {
		lua_pushstring(L, memlab_err_name(-rc));
		lua_pushinteger(L, -rc);
	}
	lua_pushinteger(L, (lua_Integer)r.fault_addr);
	return 4;
}

/* }===================== */

/* {===================== page tables ===================== */

/* The leaf's meaning as fields of the table at the top. */
static void set_leaf(lua_State *L, const struct memlab_walk *w)
{
	lmemlab_setbool(L, "present", w->present);
	lmemlab_setbool(L, "write", w->write);
	lmemlab_setbool(L, "user", w->user);
	lmemlab_setbool(L, "exec", w->exec);
	lmemlab_setbool(L, "accessed", w->accessed);
	lmemlab_setbool(L, "dirty", w->dirty);
	lmemlab_setbool(L, "global", w->global);
	lmemlab_setbool(L, "huge", w->huge);
	lmemlab_setbool(L, "special", w->special);
	lmemlab_setbool(L, "protnone", w->protnone);
	lmemlab_setbool(L, "cont", w->cont);
	lua_pushstring(L, w->flags);
	lua_setfield(L, -2, "flags");
	if (w->swap) {		/* a swap entry: where the page went */
		lua_createtable(L, 0, 2);
		lmemlab_setint(L, "offset", w->swap_offset);
		lmemlab_setbool(L, "exclusive", w->swap_exclusive);
		lua_setfield(L, -2, "swap");
	}
}

/* The walk for the task and vaddr arguments; non-zero for a va outside the tables. */
static int walk_arg(lua_State *L, const char *fname, struct memlab_walk *w)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, fname, &lm);
	uint64_t va = lmemlab_checkaddr(L, 2, fname, "vaddr");

	return memlab_translate(t, va, w) == -MEMLAB_EINVAL;
}

/*
** p:translate(va) --> { present=, phys=, pfn=, size=, flags=, write=, ...,
** levels = { {level="PGD", table=pfn, entry=e}, ... } } | nil, "EINVAL", 22
*/
static int t_translate(lua_State *L)
{
	struct memlab_walk w;

	if (walk_arg(L, "translate", &w))
		return lmemlab_pushfail(L, -MEMLAB_EINVAL);
	lua_createtable(L, 0, 16);
	set_leaf(L, &w);
	if (w.present) {
		lmemlab_setint(L, "phys", w.phys);
		lmemlab_setint(L, "pfn", w.pfn);
		lmemlab_setint(L, "size", w.leaf_size);
	}
	lua_createtable(L, (int)w.levels, 0);
	for (unsigned i = 0; i < w.levels; i++) {
		lua_createtable(L, 0, 3);
		lua_pushstring(L, w.level_name[i]);
		lua_setfield(L, -2, "level");
		lmemlab_setint(L, "table", w.table_pfn[i]);
		lmemlab_setint(L, "entry", w.entry[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "levels");
	return 1;
}

/*
** p:pte(va) --> { raw=, pfn=, level=, present=, write=, ..., flags= } for the
** leaf entry mapping va (present or PROT_NONE), or nil when there is none
*/
static int t_pte(lua_State *L)
{
	struct memlab_walk w;

	if (walk_arg(L, "pte", &w))
		return lmemlab_pushfail(L, -MEMLAB_EINVAL);
	if (!w.levels || !w.entry[w.levels - 1]) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 14);
	set_leaf(L, &w);
	lmemlab_setint(L, "raw", w.entry[w.levels - 1]);
	lmemlab_setint(L, "pfn", w.pfn);
	lua_pushstring(L, w.level_name[w.levels - 1]);
	lua_setfield(L, -2, "level");
	return 1;
}

/* p:pagetable([start [, end]]) --> the text of the tables' leaves in [start, end) */
static int t_pagetable(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "pagetable", &lm);
	uint64_t start = lua_isnoneornil(L, 2) ? 0 : lmemlab_checkaddr(L, 2, "pagetable", "start");
	uint64_t end = lua_isnoneornil(L, 3) ? 0 : lmemlab_checkaddr(L, 3, "pagetable", "end");
	char *text;
	size_t len;
	int rc = memlab_pagetable_dump(t, start, end, &text, &len);

	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushlstring(L, text, len);
	memlab_free_text(memlab_task_machine(t), text);
	return 1;
}

#define LMMU_MAX_PAGEMAP	(1u << 20)	/* p:pagemap's most pages: 4 GiB of 4K, ~300 MiB of tables */

/* One pagemap entry, decoded, at the top. */
static void push_pagemap_entry(lua_State *L, uint64_t e)
{
	lua_createtable(L, 0, 7);
	lmemlab_setbool(L, "present", (e & MEMLAB_PM_PRESENT) != 0);
	lmemlab_setbool(L, "swap", (e & MEMLAB_PM_SWAP) != 0);
	lmemlab_setbool(L, "file", (e & MEMLAB_PM_FILE) != 0);
	lmemlab_setbool(L, "exclusive", (e & MEMLAB_PM_MMAP_EXCLUSIVE) != 0);
	if (e & MEMLAB_PM_PRESENT)
		lmemlab_setint(L, "pfn", e & MEMLAB_PM_PFRAME_MASK);
	if (e & MEMLAB_PM_SWAP) {
		lmemlab_setint(L, "swap_type", e & 31);
		lmemlab_setint(L, "swap_offset", (e & MEMLAB_PM_PFRAME_MASK) >> 5);
	}
	lmemlab_setint(L, "raw", e);
}

/*
** p:pagemap(vaddr [, pages]) --> { {present=, swap=, file=, exclusive=,
** pfn=, swap_type=, swap_offset=, raw=}, ... }: /proc/PID/pagemap's
** entries from vaddr's page (fewer at the top of the address space)
*/
static int t_pagemap(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "pagemap", &lm);
	uint64_t va = lmemlab_checkaddr(L, 2, "pagemap", "vaddr");
	lua_Integer n = lua_isnoneornil(L, 3) ? 1 :
		lmemlab_checkrange(L, 3, "pagemap", "pages", 1, LMMU_MAX_PAGEMAP);
	int64_t got = memlab_pagemap(t, va, NULL, (size_t)n);	/* TASK_SIZE may cut it */
	uint64_t *e = lua_newuserdatauv(L, got ? (size_t)got * sizeof(*e) : 1, 0);

	got = memlab_pagemap(t, va, e, (size_t)got);

	lua_createtable(L, (int)got, 0);
	for (int64_t i = 0; i < got; i++) {
		push_pagemap_entry(L, e[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/*
** p:clear_refs(type) --> true | nil, "EINVAL", 22: a write to
** /proc/PID/clear_refs (1 all, 2 anonymous, 3 file-backed: the accessed
** bits and PG_referenced cleared; 4 soft-dirty; 5 VmHWM reset)
*/
static int t_clear_refs(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "clear_refs", &lm);
	lua_Integer type = lmemlab_checkinteger(L, 2, "clear_refs", "type");
	int rc;

	lmemlab_begin_call(lm);
	rc = memlab_clear_refs(t, type < INT_MIN || type > INT_MAX ? 0 : (int)type);
	lmemlab_end_call(L, lm, "clear_refs", rc);
	return lmemlab_pushok(L, rc);
}

/* }===================== */

/* m:rmap(pfn) --> { {pid=, addr=}, ... } the mappings of the frame */
static int m_rmap(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "rmap");
	memlab_machine *m = lmemlab_machine_core(lm);
	lua_Integer pfn = lmemlab_checkinteger(L, 2, "rmap", "pfn");
	struct memlab_rmap_entry *e;
	size_t n, got;

	if (pfn < 0)
		return lmemlab_argerror(L, 2, "rmap", "pfn must not be negative");
	n = memlab_rmap(m, (uint64_t)pfn, NULL, 0);
	e = lua_newuserdatauv(L, n ? n * sizeof(*e) : 1, 0);
	got = memlab_rmap(m, (uint64_t)pfn, e, n);
	n = got < n ? got : n;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_createtable(L, 0, 2);
		lua_pushinteger(L, e[i].pid);
		lua_setfield(L, -2, "pid");
		lmemlab_setint(L, "addr", e[i].addr);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/*
** m:anon_vma(id) --> { id=, parent=, root=, num_children=, num_active_vmas=,
** chains=, refcount= } | nil: the anon_vma of that id (p:vmas()'s anon_vma_id)
*/
static int m_anon_vma(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "anon_vma");
	lua_Integer id = lmemlab_checkinteger(L, 2, "anon_vma", "id");
	struct memlab_anon_vma_info a;

	if (id <= 0)
		return lmemlab_argerror(L, 2, "anon_vma", "id must be positive");
	if (memlab_anon_vma(lmemlab_machine_core(lm), (uint64_t)id, &a)) {
		lua_pushnil(L);
		return 1;
	}
	lua_createtable(L, 0, 7);
	lmemlab_setint(L, "id", a.id);
	lmemlab_setint(L, "parent", a.parent);
	lmemlab_setint(L, "root", a.root);
	lmemlab_setint(L, "num_children", a.num_children);
	lmemlab_setint(L, "num_active_vmas", a.num_active_vmas);
	lmemlab_setint(L, "chains", a.chains);
	lua_pushinteger(L, a.refcount);
	lua_setfield(L, -2, "refcount");
	return 1;
}

static const luaL_Reg mmu_task_methods[] = {
	{ "read", t_read },
	{ "write", t_write },
	{ "touch", t_touch },
	{ "access", t_access },
	{ "translate", t_translate },
	{ "pte", t_pte },
	{ "pagetable", t_pagetable },
	{ "pagemap", t_pagemap },
	{ "clear_refs", t_clear_refs },
	{ NULL, NULL }
};

/* transparent_hugepage/khugepaged/'s files, in struct memlab_khugepaged_settings' order */
static const char *const khugepaged_names[] = {
	"pages_to_scan", "max_ptes_none", "max_ptes_swap", "max_ptes_shared",
	"scan_sleep_millisecs", "alloc_sleep_millisecs", "defrag",
};
#define NR_KHUGEPAGED_KNOBS 7

static int64_t *khugepaged_field(struct memlab_khugepaged_settings *k, int i)
{
	int64_t *f[NR_KHUGEPAGED_KNOBS] = {
		&k->pages_to_scan, &k->max_ptes_none, &k->max_ptes_swap, &k->max_ptes_shared,
		&k->scan_sleep_millisecs, &k->alloc_sleep_millisecs, &k->defrag,
	};

	return f[i];
}

/*
** The khugepaged settings of the table at the top of the stack into
** set: known names only, integers (defrag a boolean); raises naming the
** first wrong one.
*/
static void check_khugepaged(lua_State *L, struct memlab_khugepaged_settings *set)
{
	int t = lua_gettop(L);

	for (int i = 0; i < NR_KHUGEPAGED_KNOBS; i++)
		*khugepaged_field(set, i) = -1;
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int i = 0;
		lua_Integer v = 0;

		while (i < NR_KHUGEPAGED_KNOBS && (!key || strcmp(key, khugepaged_names[i])))
			i++;
		if (i == NR_KHUGEPAGED_KNOBS)
			luaL_error(L, "thp: khugepaged has no setting '%s'", key ? key : "?");
		if (i == NR_KHUGEPAGED_KNOBS - 1) {
			if (!lua_isboolean(L, -1))
				luaL_error(L, "thp: khugepaged.defrag must be a boolean");
			v = lua_toboolean(L, -1);
		} else if (!lua_isinteger(L, -1) || (v = lua_tointeger(L, -1)) < 0) {
			luaL_error(L, "thp: khugepaged.%s must be an integer >= 0", key);
		}
		*khugepaged_field(set, i) = v;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static void push_khugepaged(lua_State *L, struct memlab_khugepaged_settings *k)
{
	lua_createtable(L, 0, NR_KHUGEPAGED_KNOBS + 2);
	for (int i = 0; i < NR_KHUGEPAGED_KNOBS - 1; i++)
		lmemlab_setint(L, khugepaged_names[i], (uint64_t)*khugepaged_field(k, i));
	lmemlab_setbool(L, "defrag", (int)k->defrag);
	lmemlab_setint(L, "pages_collapsed", k->pages_collapsed);
	lmemlab_setint(L, "full_scans", k->full_scans);
	lua_setfield(L, -2, "khugepaged");
}

#define MAX_THP_SIZES	16

struct thp_size_set {
	uint64_t size;
	const char *enabled;
};

/*
** The table hugepages = { ["64kB"] = "always" | { enabled = "always" }, ... }
** at the top of the stack, checked against the machine's sizes into set[].
*/
static int check_thp_sizes(lua_State *L, memlab_machine *m, struct thp_size_set *set)
{
	struct memlab_thp_size have[MAX_THP_SIZES];
	size_t nr_have = memlab_thp_sizes(m, have, MAX_THP_SIZES);
	int n = 0;

	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		char name[32];
		size_t i = 0;

		/* only the sysfs spelling, "<n>kB": each size one key, at most nr_have */
		for (; key && i < nr_have; i++) {
			snprintf(name, sizeof name, "%llukB", (unsigned long long)(have[i].size >> 10));
			if (!strcmp(key, name))
				break;
		}
		if (!key || i == nr_have)
			return luaL_error(L, "thp: hugepages has no size %s (sizes are \"%IkB\" up "
					  "to \"%IkB\")", key ? key : "that is not a string",
					  (lua_Integer)(have[0].size >> 10),
					  (lua_Integer)(have[nr_have - 1].size >> 10));
		if (lua_istable(L, -1))
			lua_getfield(L, -1, "enabled");
		else
			lua_pushvalue(L, -1);
		set[n].size = have[i].size;
		set[n].enabled = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (strcmp(set[n].enabled, "always") && strcmp(set[n].enabled, "inherit") &&
		    strcmp(set[n].enabled, "madvise") && strcmp(set[n].enabled, "never"))
			return luaL_error(L, "thp: hugepages[\"%s\"] must be \"always\", \"inherit\", "
					  "\"madvise\" or \"never\"", key);
		n++;
		lua_pop(L, 2);	/* the mode; the value stays anchored in the table */
	}
	return n;
}

/* hugepages = { ["16kB"] = { enabled =, stats = { anon_fault_alloc =, ... } }, ... } */
static void push_thp_sizes(lua_State *L, const memlab_machine *m)
{
	struct memlab_thp_size sz[MAX_THP_SIZES];
	size_t n = memlab_thp_sizes(m, sz, MAX_THP_SIZES);

	lua_createtable(L, 0, (int)n);
	for (size_t i = 0; i < n; i++) {
		lua_pushfstring(L, "%IkB", (lua_Integer)(sz[i].size >> 10));
		lua_createtable(L, 0, 2);
		lua_pushstring(L, sz[i].enabled);
		lua_setfield(L, -2, "enabled");
		lua_createtable(L, 0, MEMLAB_NR_MTHP_STATS);
		for (int s = 0; s < MEMLAB_NR_MTHP_STATS; s++)
			lmemlab_setint(L, sz[i].stats[s].name, sz[i].stats[s].value);
		lua_setfield(L, -2, "stats");
		lua_settable(L, -3);
	}
	lua_setfield(L, -2, "hugepages");
}

/*
** m:thp([{ enabled = "always"|"madvise"|"never", use_zero_page = bool,
** khugepaged = { max_ptes_none = n, ... }, hugepages = { ["64kB"] =
** "always"|"inherit"|"madvise"|"never", ... } }]) --> { enabled =,
** use_zero_page =, hpage_pmd_size =, khugepaged = {...}, hugepages =
** { ["16kB"] = { enabled =, stats = {...} }, ... } }:
** /sys/kernel/mm/transparent_hugepage, its khugepaged directory and its
** hugepages-<size>kB directories; nothing changes when a setting is bad
*/
static int m_thp(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "thp");
	const char *enabled = NULL;
	int zero = -1;
	struct memlab_thp_settings st;
	struct memlab_khugepaged_settings kset, kget;
	struct thp_size_set sizes[MAX_THP_SIZES];
	int have_k = 0, nr_sizes = 0;

	if (!lua_isnoneornil(L, 2)) {
		if (!lua_istable(L, 2))
			return lmemlab_typeerror(L, 2, "thp", "table of settings");
		if (lua_getfield(L, 2, "enabled") != LUA_TNIL) {
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "thp: 'enabled' must be \"always\", \"madvise\" or \"never\"");
			enabled = lua_tostring(L, -1);
		}
		if (lua_getfield(L, 2, "use_zero_page") != LUA_TNIL) {
			if (!lua_isboolean(L, -1))
				return luaL_error(L, "thp: 'use_zero_page' must be a boolean");
			zero = lua_toboolean(L, -1);
		}
		if (lua_getfield(L, 2, "khugepaged") != LUA_TNIL) {
			if (!lua_istable(L, -1))
				return luaL_error(L, "thp: 'khugepaged' must be a table of settings");
			check_khugepaged(L, &kset);
			have_k = 1;
		}
		if (lua_getfield(L, 2, "hugepages") != LUA_TNIL) {
			if (!lua_istable(L, -1))
				return luaL_error(L, "thp: 'hugepages' must be a table of sizes");
			nr_sizes = check_thp_sizes(L, lmemlab_machine_core(lm), sizes);
		}
	}
	if (enabled && strcmp(enabled, "always") && strcmp(enabled, "madvise") &&
	    strcmp(enabled, "never"))
		return luaL_error(L, "thp: 'enabled' must be \"always\", \"madvise\" or \"never\"");
	if (memlab_khugepaged_sysfs(lmemlab_machine_core(lm), have_k ? &kset : NULL, &kget) < 0)
		return luaL_error(L, "thp: a khugepaged setting is out of range (pages_to_scan "
				  "1..2^32-1, max_ptes_* 0..HPAGE_PMD_NR-1, *_sleep_millisecs "
				  "0..2^32-1)");
	memlab_thp(lmemlab_machine_core(lm), enabled, zero, &st);
	for (int i = 0; i < nr_sizes; i++)
		memlab_thp_size_set(lmemlab_machine_core(lm), sizes[i].size, sizes[i].enabled);
	lua_createtable(L, 0, 5);
	lua_pushstring(L, st.enabled);
	lua_setfield(L, -2, "enabled");
	lmemlab_setbool(L, "use_zero_page", st.use_zero_page);
	lmemlab_setint(L, "hpage_pmd_size", st.hpage_pmd_size);
	push_khugepaged(L, &kget);
	push_thp_sizes(L, lmemlab_machine_core(lm));
	return 1;
}

/*
** m:khugepaged() --> n: one pass of khugepaged over the mms it scans
** (pages_to_scan of progress), the huge pages it collapsed.
*/
static int m_khugepaged(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "khugepaged");
	uint64_t n = 0;
	int rc;

	lmemlab_begin_call(lm);
	rc = memlab_khugepaged(lmemlab_machine_core(lm), &n);
	lmemlab_end_call(L, lm, "khugepaged", rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static const luaL_Reg mmu_machine_methods[] = {
	{ "rmap", m_rmap },
	{ "anon_vma", m_anon_vma },
	{ "thp", m_thp },
	{ "khugepaged", m_khugepaged },
	{ NULL, NULL }
};

void lmemlab_mmu_methods(lua_State *L)
{
	luaL_setfuncs(L, mmu_task_methods, 0);
}

void lmemlab_mmu_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, mmu_machine_methods, 0);
}
