/*
** ltlb.c -- the CPUs and TLBs from Lua: memlab.new{}'s tlb table, the
** machine methods tlb_stats, tlb_report and tlb_flush_all, and the task
** method run_on.
**
**   memlab.new{ cpus = 2, tlb = {
**     { name = "L1d", level = 1, kind = "d", entries = 64, ways = 4,
**       policy = "lru", sizes = { "4K" } },
**     ...,
**     pwc = { pmd = 32, pud = 4, pgd = 2 },   -- page-walk cache entries
**     pcid = true,                             -- x86_64
**     asid_bits = 16,                          -- arm64
**   } }
**
** An array part replaces the default structures; the named fields alone
** adjust the defaults; tlb = false gives CPUs without TLBs.  Every bad
** value raises "memlab.new: bad option 'tlb[2].ways' (...)", naming the
** field; what depends on the machine (the page sizes of its format) is
** checked by the core, whose message names the structure too.
*/
#include <stdio.h>
#include <string.h>

#include "lmemlab.h"

#define TLB_MAX_ENTRIES	(1 << 20)
#define PWC_MAX		4096

static const char *const kind_names[] = { "i", "d", "unified", NULL };
static const char *const kind_long[] = { "insn", "data", "unified", NULL };
static const char *const policy_names[] = { "lru", "fifo", "random", "plru", "lfu", NULL };
static const char *const pwc_names[] = { "pmd", "pud", "p4d", "pgd", NULL };

/* {===================== errors ===================== */

/* Raise "memlab.new: bad option 'PATH' (msg)" for the field at path. */
static int tlb_error(lua_State *L, const char *path, const char *msg)
{
	return luaL_error(L, "memlab.new: bad option '%s' (%s)", path, msg);
}

/* An integer field value (at the top) in lo..hi. */
static lua_Integer tlb_integer(lua_State *L, const char *path, lua_Integer lo, lua_Integer hi)
{
	lua_Integer v = 0;
	int isnum = 0;

	if (lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tointegerx(L, -1, &isnum);
	if (!isnum)
		return tlb_error(L, path, lua_pushfstring(L, "integer expected, got %s",
			lua_type(L, -1) == LUA_TNUMBER ? "a number with no integer value" :
			luaL_typename(L, -1)));
	if (v < lo || v > hi)
		return tlb_error(L, path, lua_pushfstring(L, "must be %I..%I, got %I",
			(LUAI_UACINT)lo, (LUAI_UACINT)hi, (LUAI_UACINT)v));
	return v;
}

/* A string value (at the top) that is one of names (case-insensitive); its index. */
static int tlb_choice(lua_State *L, const char *path, const char *const names[],
		      const char *const alt[], const char *expected)
{
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;

	for (int i = 0; s && names[i]; i++)
		if (!strcmp(s, names[i]) || (alt && alt[i] && !strcmp(s, alt[i])))
			return i;
	return tlb_error(L, path, expected);
}

/* }===================== */

/* {===================== one structure ===================== */

/* One page size (at the top): a power of two from 1K. */
static uint64_t tlb_size_bit(lua_State *L, const char *path)
{
	uint64_t v = 0;
	const char *err = lmemlab_tosize(L, -1, &v);

	if (!err && (v < 1024 || (v & (v - 1))))
		err = "a page size is a power of two of at least 1K";
	if (err)
		tlb_error(L, path, err);
	return 1ull << __builtin_ctzll(v);
}

/* sizes = "4K" or { "4K", "2M" } (at the top) as page_sizes bits. */
static uint64_t tlb_sizes(lua_State *L, const char *path)
{
	uint64_t bits = 0;
	lua_Integer n;

	if (!lua_istable(L, -1))
		return tlb_size_bit(L, path);
	n = (lua_Integer)lua_rawlen(L, -1);
	if (n == 0)
		tlb_error(L, path, "at least one page size");
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		bits |= tlb_size_bit(L, path);
		lua_pop(L, 1);
	}
	return bits;
}

/* The field key (at -2 of a traversal) of structure idx, value at the top. */
static void tlb_desc_field(lua_State *L, int idx, const char *key, struct memlab_tlb_desc *d)
{
	char path[64];
	size_t len;

	snprintf(path, sizeof(path), "tlb[%d].%.20s", idx, key);
	if (!strcmp(key, "name")) {
		if (lua_type(L, -1) != LUA_TSTRING || (lua_tolstring(L, -1, &len), len) >= sizeof(d->name))
			tlb_error(L, path, "a string of at most 15 bytes");
		snprintf(d->name, sizeof(d->name), "%s", lua_tostring(L, -1));
	} else if (!strcmp(key, "level")) {
		d->level = (int)tlb_integer(L, path, 1, 2);
	} else if (!strcmp(key, "kind")) {
		d->kind = 1 + tlb_choice(L, path, kind_names, kind_long,
					 "must be \"i\", \"d\" or \"unified\"");
	} else if (!strcmp(key, "entries")) {
		d->entries = (uint32_t)tlb_integer(L, path, 1, TLB_MAX_ENTRIES);
	} else if (!strcmp(key, "ways")) {
		d->ways = (uint32_t)tlb_integer(L, path, 1, TLB_MAX_ENTRIES);
	} else if (!strcmp(key, "policy")) {
		d->policy = tlb_choice(L, path, policy_names, NULL,
				       "must be \"lru\", \"fifo\", \"random\", \"plru\" or \"lfu\"");
	} else if (!strcmp(key, "sizes")) {
		d->page_sizes = tlb_sizes(L, path);
	} else {
		luaL_error(L, "memlab.new: unknown option '%s'", path);
	}
}

/*
** Structure idx from the table at the top: defaults level 1, data,
** fully associative, LRU, the machine's page size (set by resolve, when
** sizes is absent); entries required.
*/
static void tlb_desc(lua_State *L, int idx, struct memlab_tlb_desc *d)
{
	char path[32];

	snprintf(path, sizeof(path), "tlb[%d]", idx);
	if (!lua_istable(L, -1))
		tlb_error(L, path, lua_pushfstring(L, "table expected, got %s", luaL_typename(L, -1)));
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "tlb%d", idx);
	d->level = 1;
	d->kind = MEMLAB_TLB_DATA;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			tlb_error(L, path, "field names must be strings");
		tlb_desc_field(L, idx, lua_tostring(L, -2), d);
		lua_pop(L, 1);
	}
	if (!d->entries)
		tlb_error(L, path, "entries is required");
	if (!d->ways)
		d->ways = d->entries;
	snprintf(path, sizeof(path), "tlb[%d].ways", idx);
	if (d->ways > d->entries || d->entries % d->ways)
		tlb_error(L, path, lua_pushfstring(L, "%d does not divide entries (%d)",
						   (int)d->ways, (int)d->entries));
}

/* }===================== */

/* {===================== the tlb table ===================== */

/* pwc = { pmd = 32, ... } or false (at the top): counts by name into p. */
static void tlb_pwc(lua_State *L, struct lmemlab_tlb_pending *p)
{
	char path[48];

	p->pwc_given = 1;
	if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
		return;
	if (!lua_istable(L, -1))
		tlb_error(L, "tlb.pwc", "a table of entry counts by level or false");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		int i;

		for (i = 0; pwc_names[i] && strcmp(key, pwc_names[i]); i++)
			;
		snprintf(path, sizeof(path), "tlb.pwc.%.20s", key);
		if (!pwc_names[i])
			tlb_error(L, path, "the levels are pmd, pud, p4d and pgd");
		p->pwc[i] = (uint32_t)tlb_integer(L, path, 0, PWC_MAX);
		p->pwc_named |= 1u << i;
		lua_pop(L, 1);
	}
}

/* A named field of the tlb table (key at -2, value at the top). */
static void tlb_named(lua_State *L, const char *key, struct memlab_config *cfg,
		      struct lmemlab_tlb_pending *p)
{
	char path[48];

	snprintf(path, sizeof(path), "tlb.%.30s", key);
	if (!strcmp(key, "pwc")) {
		tlb_pwc(L, p);
	} else if (!strcmp(key, "pcid")) {
		if (lua_type(L, -1) != LUA_TBOOLEAN)
			tlb_error(L, path, "boolean expected");
		cfg->tlb.nopcid = !lua_toboolean(L, -1);
		p->pcid_given = 1;
	} else if (!strcmp(key, "asid_bits")) {
		cfg->tlb.asid_bits = (unsigned)tlb_integer(L, path, 8, 16);
		if (cfg->tlb.asid_bits != 8 && cfg->tlb.asid_bits != 16)
			tlb_error(L, path, "must be 8 or 16");
	} else {
		luaL_error(L, "memlab.new: unknown option '%s'", path);
	}
}

/*
** memlab.new's tlb option (the value at the top): false, true, or the
** table; what depends on other options waits in p for resolve.
*/
void lmemlab_tlb_option(lua_State *L, struct memlab_config *cfg, struct lmemlab_tlb_pending *p)
{
	lua_Integer n;

	if (lua_type(L, -1) == LUA_TBOOLEAN) {
		cfg->tlb.disabled = !lua_toboolean(L, -1);
		return;
	}
	if (!lua_istable(L, -1))
		tlb_error(L, "tlb", lua_pushfstring(L, "table or boolean expected, got %s",
						   luaL_typename(L, -1)));
	n = (lua_Integer)lua_rawlen(L, -1);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING)
			tlb_named(L, lua_tostring(L, -2), cfg, p);
		else if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 ||
			 lua_tointeger(L, -2) > n)
			tlb_error(L, "tlb", "the structures must be an array tlb[1..n]");
		lua_pop(L, 1);
	}
	if (n > MEMLAB_TLB_MAX)
		tlb_error(L, "tlb", lua_pushfstring(L, "at most %d structures, got %I",
						   MEMLAB_TLB_MAX, (LUAI_UACINT)n));
	for (int i = 1; i <= (int)n; i++) {
		lua_rawgeti(L, -1, i);
		tlb_desc(L, i, &cfg->tlb.tlb[i - 1]);
		if (!cfg->tlb.tlb[i - 1].page_sizes)
			p->default_sizes |= 1u << (i - 1);
		lua_pop(L, 1);
	}
	cfg->tlb.nr = (int)n;
}

/* CONFIG_PGTABLE_LEVELS of a configuration (0 if it is not one). */
static unsigned config_levels(const struct memlab_config *cfg)
{
	unsigned va_bits = cfg->va_bits ? cfg->va_bits : 48;
	unsigned shift = cfg->page_size ? (unsigned)__builtin_ctz(cfg->page_size) : 0;

	if (shift < 12 || va_bits < 8)
		return 0;
	return (va_bits - 4) / (shift - 3);
}

/* The level of the tables a pwc name stands for, or -1 when the format has none. */
static int pwc_level(int name, unsigned levels)
{
	if (name == 3)			/* pgd: always the top */
		return (int)levels - 1;
	return name + 1 < (int)levels - 1 ? name + 1 : -1;	/* pmd 1, pud 2, p4d 3 */
}

/* The page-walk caches by name, placed at their levels. */
static void resolve_pwc(lua_State *L, struct memlab_config *cfg,
			const struct lmemlab_tlb_pending *p)
{
	unsigned levels = config_levels(cfg);
	char path[32], msg[96];

	if (!p->pwc_given || levels < 2)	/* a format the core refuses anyway */
		return;
	cfg->tlb.pwc_set = 1;
	for (int i = 0; i < 4; i++) {
		int l;

		if (!(p->pwc_named & (1u << i)))
			continue;
		l = pwc_level(i, levels);
		snprintf(path, sizeof(path), "tlb.pwc.%s", pwc_names[i]);
		snprintf(msg, sizeof(msg), "the %u-level page tables have no %s level", levels,
			 pwc_names[i]);
		if (l < 1)
			tlb_error(L, path, msg);
		cfg->tlb.pwc[l] = p->pwc[i];
	}
}

/*
** After every option is read: the structures without sizes hold the
** machine's page size; the page-walk caches go to the levels their names
** have in this format.  Unnamed pwc levels are 0 once pwc is given.
*/
void lmemlab_tlb_resolve(lua_State *L, struct memlab_config *cfg,
			 const struct lmemlab_tlb_pending *p)
{
	for (int i = 0; i < cfg->tlb.nr; i++)
		if (p->default_sizes & (1u << i))
			cfg->tlb.tlb[i].page_sizes = cfg->page_size;
	if (p->pcid_given && cfg->arch != MEMLAB_ARCH_X86_64)
		tlb_error(L, "tlb.pcid", "x86_64 only: arm64 tags entries with ASIDs");
	resolve_pwc(L, cfg, p);
}

/* }===================== */

/* {===================== statistics ===================== */

/* "4K", "2M": a page size as memlab.parse_size reads it. */
static void push_size_name(lua_State *L, unsigned shift)
{
	static const char units[] = "KMGT";

	lua_pushfstring(L, "%d%c", 1 << (shift % 10), units[shift / 10 - 1]);
}

/* One structure's table. */
static void push_tlb(lua_State *L, const struct memlab_tlb_stats *s)
{
	int n = 0;

	lua_createtable(L, 0, 20);
	lua_pushstring(L, s->name);
	lua_setfield(L, -2, "name");
	lmemlab_setint(L, "level", (uint64_t)s->level);
	lua_pushstring(L, kind_long[s->kind - 1]);
	lua_setfield(L, -2, "kind");
	lua_pushstring(L, policy_names[s->policy]);
	lua_setfield(L, -2, "policy");
	lmemlab_setint(L, "entries", s->entries);
	lmemlab_setint(L, "ways", s->ways);
	lmemlab_setint(L, "sets", s->sets);
	lua_newtable(L);
	for (unsigned b = 10; b < 50; b++) {
		if (!(s->page_sizes & (1ull << b)))
			continue;
		push_size_name(L, b);
		lua_rawseti(L, -2, ++n);
	}
	lua_setfield(L, -2, "sizes");
	lua_createtable(L, 0, (int)s->nr_held);
	for (unsigned i = 0; i < s->nr_held && i < 4; i++) {
		push_size_name(L, s->held[i].shift);
		lua_pushinteger(L, (lua_Integer)s->held[i].valid);
		lua_rawset(L, -3);
	}
	lua_setfield(L, -2, "held");
	lmemlab_setint(L, "reach", s->reach);
	lmemlab_setint(L, "lookups", s->lookups);
	lmemlab_setint(L, "hits", s->hits);
	lmemlab_setint(L, "misses", s->misses);
	lmemlab_setint(L, "compulsory_misses", s->compulsory_misses);
	lmemlab_setint(L, "perm_misses", s->perm_misses);
	lmemlab_setint(L, "fills", s->fills);
	lmemlab_setint(L, "evictions", s->evictions);
	lmemlab_setint(L, "flush_events", s->flush_events);
	lmemlab_setint(L, "flushed_entries", s->flushed_entries);
	lmemlab_setbool(L, "compulsory_exact", s->compulsory_exact);
}

/* levels = { L1i = {lookups=, hits=, misses=}, L1d = ..., L2 = ... } */
static void push_levels(lua_State *L, const struct memlab_tlb_cpu_stats *c)
{
	static const char *const names[] = { "L1i", "L1d", "L2" };

	lua_createtable(L, 0, 3);
	for (int i = 0; i < 3; i++) {
		lua_createtable(L, 0, 3);
		lmemlab_setint(L, "lookups", c->level_lookups[i]);
		lmemlab_setint(L, "hits", c->level_hits[i]);
		lmemlab_setint(L, "misses", c->level_lookups[i] - c->level_hits[i]);
		lua_setfield(L, -2, names[i]);
	}
	lua_setfield(L, -2, "levels");
}

/* pwc = { pmd = {lookups=, hits=}, ... } for the upper levels the format has. */
static void push_pwc(lua_State *L, const struct memlab_tlb_cpu_stats *c, unsigned levels)
{
	lua_newtable(L);
	for (int name = 0; name < 4; name++) {
		int l = pwc_level(name, levels);

		if (l < 1)
			continue;
		lua_createtable(L, 0, 2);
		lmemlab_setint(L, "lookups", c->pwc_lookups[l]);
		lmemlab_setint(L, "hits", c->pwc_hits[l]);
		lua_setfield(L, -2, pwc_names[name]);
	}
	lua_setfield(L, -2, "pwc");
}

/* One CPU's table, its structures in tlbs. */
static void push_cpu(lua_State *L, const struct memlab_tlb_cpu_stats *c, unsigned levels,
		     const struct memlab_tlb_stats *s, size_t nr)
{
	lua_createtable(L, 0, 20);
	lmemlab_setint(L, "cpu", (uint64_t)c->cpu);
	lmemlab_setint(L, "walks", c->walks);
	lmemlab_setint(L, "walk_mem_refs", c->walk_mem_refs);
	lmemlab_setint(L, "context_switches", c->context_switches);
	lmemlab_setint(L, "switch_flushes", c->switch_flushes);
	lmemlab_setint(L, "asid_rollovers", c->asid_rollovers);
	lmemlab_setint(L, "nr_tlb_remote_flush", c->nr_tlb_remote_flush);
	lmemlab_setint(L, "nr_tlb_remote_flush_received", c->nr_tlb_remote_flush_received);
	lmemlab_setint(L, "nr_tlb_local_flush_all", c->nr_tlb_local_flush_all);
	lmemlab_setint(L, "nr_tlb_local_flush_one", c->nr_tlb_local_flush_one);
	lmemlab_setint(L, "tlbi_broadcast", c->tlbi_broadcast);
	lmemlab_setint(L, "loaded_pid", (uint64_t)c->loaded_pid);
	lmemlab_setint(L, "asid", (uint64_t)c->loaded_asid);
	lmemlab_setbool(L, "lazy", c->lazy);
	push_levels(L, c);
	push_pwc(L, c, levels);
	lua_createtable(L, (int)nr, 0);
	for (size_t i = 0; i < nr; i++) {
		push_tlb(L, &s[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "tlbs");
}

/* m:tlb_stats() --> { [cpu + 1] = { cpu=, walks=, ..., levels=, pwc=, tlbs = {...} } } */
static int m_tlb_stats(lua_State *L)
{
	memlab_machine *m = lmemlab_machine_core(lmemlab_checkmachine(L, "tlb_stats"));
	struct memlab_machine_info info;
	struct memlab_tlb_cpu_stats c;
	struct memlab_tlb_stats *s;
	size_t n = memlab_tlb_stats(m, NULL, 0), per;
	unsigned levels;

	memlab_machine_info(m, &info);
	levels = (info.va_bits - 4) / (info.page_shift - 3);
	per = n / (size_t)info.nr_cpus;
	s = lua_newuserdatauv(L, n ? n * sizeof(*s) : 1, 0);
	memlab_tlb_stats(m, s, n);
	lua_createtable(L, info.nr_cpus, 0);
	for (int cpu = 0; cpu < info.nr_cpus; cpu++) {
		memlab_tlb_cpu_stats(m, cpu, &c);
		push_cpu(L, &c, levels, s + (size_t)cpu * per, per);
		lua_rawseti(L, -2, cpu + 1);
	}
	return 1;
}

/* m:tlb_report() --> text: lookups, hits, misses, miss rate per CPU, structure, level */
static int m_tlb_report(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "tlb_report");
	char *text;
	size_t len;

	if (memlab_tlb_report(lmemlab_machine_core(lm), &text, &len))
		return luaL_error(L, "tlb_report: not enough memory");
	return lmemlab_pushtext(L, lm, text, len);
}

/* m:tlb_flush_all() --> true: every TLB and page-walk cache of every CPU emptied */
static int m_tlb_flush_all(lua_State *L)
{
	memlab_tlb_flush_all(lmemlab_machine_core(lmemlab_checkmachine(L, "tlb_flush_all")));
	lua_pushboolean(L, 1);
	return 1;
}

/* p:run_on(cpu) --> true: the task runs on that CPU from its next access */
static int t_run_on(lua_State *L)
{
	lmachine *lm;
	memlab_task *t = lmemlab_checktask(L, "run_on", &lm);
	struct memlab_machine_info info;
	lua_Integer cpu;

	memlab_machine_info(memlab_task_machine(t), &info);
	cpu = lmemlab_checkrange(L, 2, "run_on", "cpu", 0, info.nr_cpus - 1);
	memlab_task_run_on(t, (int)cpu);
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg tlb_machine_methods[] = {
	{ "tlb_stats", m_tlb_stats },
	{ "tlb_report", m_tlb_report },
	{ "tlb_flush_all", m_tlb_flush_all },
	{ NULL, NULL }
};

void lmemlab_tlb_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, tlb_machine_methods, 0);
}

void lmemlab_tlb_task_methods(lua_State *L)
{
	lua_pushcfunction(L, t_run_on);
	lua_setfield(L, -2, "run_on");
}

/* }===================== */
