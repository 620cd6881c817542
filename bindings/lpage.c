/*
** lpage.c -- the frames as Linux shows them to root: m:kpageflags (the
** words of /proc/kpageflags and /proc/kpagecount, fs/proc/page.c) and
** m:page_types (what tools/mm/page-types prints over them: a summary of
** the flag combinations, and lists of pages, for the whole machine or for
** one process's address space through its pagemap).
*/
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmemlab.h"

#define LPAGE_MAX	(1u << 20)	/* m:kpageflags's most frames in one call */
#define HASH_SIZE	(1u << 13)	/* page-types' summary table, and its hash */
#define BATCH		1024u
#define MAX_FILTERS	64	/* page-types' MAX_BIT_FILTERS */
#define MAX_RANGES	1024	/* and MAX_ADDR_RANGES */
#define ALL_BITS	(~0ull)

/*
** page-types' names (tools/mm/page-types.c page_flag_names): a letter for
** the symbolic form, the long name after the colon.  Bits 47 and up are
** its own, for overloaded flags and pagemap's bits in raw mode.
*/
#define KPF_ANON_EXCLUSIVE	47
#define KPF_READAHEAD		48
#define KPF_SLUB_FROZEN		50
#define KPF_SLUB_DEBUG		51
#define KPF_FILE		61
#define KPF_SWAP		62
#define KPF_MMAP_EXCLUSIVE	63
#define BIT(n)			(1ull << MEMLAB_KPF_##n)
#define XBIT(n)			(1ull << KPF_##n)
#define HACKERS_BITS		(0xffffull << 32)

static const char *const flag_names[64] = {
	[MEMLAB_KPF_LOCKED] = "L:locked", [MEMLAB_KPF_ERROR] = "E:error",
	[MEMLAB_KPF_REFERENCED] = "R:referenced", [MEMLAB_KPF_UPTODATE] = "U:uptodate",
	[MEMLAB_KPF_DIRTY] = "D:dirty", [MEMLAB_KPF_LRU] = "l:lru",
	[MEMLAB_KPF_ACTIVE] = "A:active", [MEMLAB_KPF_SLAB] = "S:slab",
	[MEMLAB_KPF_WRITEBACK] = "W:writeback", [MEMLAB_KPF_RECLAIM] = "I:reclaim",
	[MEMLAB_KPF_BUDDY] = "B:buddy", [MEMLAB_KPF_MMAP] = "M:mmap",
	[MEMLAB_KPF_ANON] = "a:anonymous", [MEMLAB_KPF_SWAPCACHE] = "s:swapcache",
	[MEMLAB_KPF_SWAPBACKED] = "b:swapbacked", [MEMLAB_KPF_COMPOUND_HEAD] = "H:compound_head",
	[MEMLAB_KPF_COMPOUND_TAIL] = "T:compound_tail", [MEMLAB_KPF_HUGE] = "G:huge",
	[MEMLAB_KPF_UNEVICTABLE] = "u:unevictable", [MEMLAB_KPF_HWPOISON] = "X:hwpoison",
	[MEMLAB_KPF_NOPAGE] = "n:nopage", [MEMLAB_KPF_KSM] = "x:ksm",
	[MEMLAB_KPF_THP] = "t:thp", [MEMLAB_KPF_OFFLINE] = "o:offline",
	[MEMLAB_KPF_PGTABLE] = "g:pgtable", [MEMLAB_KPF_ZERO_PAGE] = "z:zero_page",
	[MEMLAB_KPF_IDLE] = "i:idle_page",
	[MEMLAB_KPF_RESERVED] = "r:reserved", [MEMLAB_KPF_MLOCKED] = "m:mlocked",
	[MEMLAB_KPF_OWNER_2] = "d:owner_2", [MEMLAB_KPF_PRIVATE] = "P:private",
	[MEMLAB_KPF_PRIVATE_2] = "p:private_2", [MEMLAB_KPF_OWNER_PRIVATE] = "O:owner_private",
	[MEMLAB_KPF_ARCH] = "h:arch", [39] = "c:uncached", [40] = "f:softdirty",
	[41] = "H:arch_2",
	[KPF_ANON_EXCLUSIVE] = "d:anon_exclusive", [KPF_READAHEAD] = "I:readahead",
	[KPF_SLUB_FROZEN] = "A:slub_frozen", [KPF_SLUB_DEBUG] = "E:slub_debug",
	[KPF_FILE] = "F:file", [KPF_SWAP] = "w:swap", [KPF_MMAP_EXCLUSIVE] = "1:mmap_exclusive",
};

/* page_flag_name(): a letter or '_' for each named bit. */
static void flag_symbols(uint64_t flags, char buf[65])
{
	size_t j = 0;

	for (unsigned i = 0; i < 64; i++)
		if (flag_names[i])
			buf[j++] = flags >> i & 1 ? flag_names[i][0] : '_';
	buf[j] = '\0';
}

/* page_flag_longname(): the long names of the bits set, comma-separated. */
static void push_longnames(lua_State *L, uint64_t flags)
{
	luaL_Buffer b;
	bool first = true;

	luaL_buffinit(L, &b);
	for (unsigned i = 0; i < 64; i++) {
		if (!flag_names[i] || !(flags >> i & 1))
			continue;
		if (!first)
			luaL_addchar(&b, ',');
		luaL_addstring(&b, flag_names[i] + 2);
		first = false;
	}
	luaL_pushresult(&b);
}

/*
** m:kpageflags(pfn [, n]) --> { {pfn=, raw=, count=, flags=, <name>=true, ...}, ... }:
** the frames' /proc/kpageflags words (raw) and /proc/kpagecount words
** (count), their flags by page-types' long names; fewer past the end
** of the last memory section, none from there.
*/
static int m_kpageflags(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "kpageflags");
	memlab_machine *m = lmemlab_machine_core(lm);
	lua_Integer pfn = lmemlab_checkinteger(L, 2, "kpageflags", "pfn");
	lua_Integer n = lua_isnoneornil(L, 3) ? 1 :
		lmemlab_checkrange(L, 3, "kpageflags", "n", 1, LPAGE_MAX);
	int64_t got;
	uint64_t *w;

	if (pfn < 0)
		return lmemlab_argerror(L, 2, "kpageflags", "pfn must not be negative");
	got = memlab_kpageflags(m, (uint64_t)pfn, NULL, (size_t)n);
	w = lua_newuserdatauv(L, got ? 2 * (size_t)got * sizeof(*w) : 1, 0);
	memlab_kpageflags(m, (uint64_t)pfn, w, (size_t)got);
	memlab_kpagecount(m, (uint64_t)pfn, w + got, (size_t)got);
	lua_createtable(L, (int)got, 0);
	for (int64_t i = 0; i < got; i++) {
		lua_createtable(L, 0, 8);
		lmemlab_setint(L, "pfn", (uint64_t)pfn + (uint64_t)i);
		lmemlab_setint(L, "raw", w[i]);
		lmemlab_setint(L, "count", w[got + i]);
		push_longnames(L, w[i]);
		lua_setfield(L, -2, "flags");
		for (unsigned b = 0; b < 64; b++)
			if (flag_names[b] && (w[i] >> b & 1))
				lmemlab_setbool(L, flag_names[b] + 2, 1);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* ===================== page-types ===================== */

struct page_types {
	luaL_Buffer *b;
	memlab_machine *m;
	unsigned shift;			/* the page size's */
	bool raw, task, mapcnt;
	int list;			/* 0, 1 (-l: ranges) or 2 (-L: each page) */
	int nr_filters, nr_ranges;	/* -b and -a */
	uint64_t mask[MAX_FILTERS], bits[MAX_FILTERS];
	uint64_t offset[MAX_RANGES], size[MAX_RANGES];
	uint64_t total, nr_pages[HASH_SIZE], page_flags[HASH_SIZE];
	struct {			/* show_page_range()'s pending range */
		uint64_t flags, mapcnt, voff, index, count;
	} r;
};

static void add_fmt(struct page_types *pt, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	luaL_addstring(pt->b, line);
}

/* expand_overloaded_flags(): raw mode's reading of the overloaded bits and of pagemap's. */
static uint64_t expand_overloaded_flags(uint64_t flags, uint64_t pme)
{
	if ((flags & BIT(ANON)) && (flags & BIT(OWNER_2)))
		flags ^= BIT(OWNER_2) | XBIT(ANON_EXCLUSIVE);
	if (flags & BIT(SLAB)) {
		if (flags & BIT(ACTIVE))
			flags ^= BIT(ACTIVE) | XBIT(SLUB_FROZEN);
		if (flags & BIT(ERROR))
			flags ^= BIT(ERROR) | XBIT(SLUB_DEBUG);
	}
	if ((flags & (BIT(RECLAIM) | BIT(WRITEBACK))) == BIT(RECLAIM))
		flags ^= BIT(RECLAIM) | XBIT(READAHEAD);
	if (pme & MEMLAB_PM_SOFT_DIRTY)
		flags |= 1ull << 40;
	if (pme & MEMLAB_PM_FILE)
		flags |= XBIT(FILE);
	if (pme & MEMLAB_PM_SWAP)
		flags |= XBIT(SWAP);
	if (pme & MEMLAB_PM_MMAP_EXCLUSIVE)
		flags |= XBIT(MMAP_EXCLUSIVE);
	return flags;
}

/* kpageflags_flags(): raw, or well_known_flags() (no hacker bits, compound only for hugetlb). */
static uint64_t kpageflags_flags(const struct page_types *pt, uint64_t flags, uint64_t pme)
{
	if (pt->raw)
		return expand_overloaded_flags(flags, pme);
	flags &= ~HACKERS_BITS;
	if ((flags & (BIT(COMPOUND_HEAD) | BIT(COMPOUND_TAIL))) && !(flags & BIT(HUGE)))
		flags &= ~(BIT(COMPOUND_HEAD) | BIT(COMPOUND_TAIL));
	return flags;
}

/* hash_slot(): page-types' open addressing, so that the summary's order is its. */
static size_t hash_slot(struct page_types *pt, uint64_t flags)
{
	size_t k = flags & (HASH_SIZE - 1);

	if (flags == 0)
		return 0;
	for (size_t i = 1; i < HASH_SIZE; i++, k++) {
		if (!k || k >= HASH_SIZE)
			k = 1;
		if (pt->page_flags[k] == 0)
			pt->page_flags[k] = flags;
		if (pt->page_flags[k] == flags)
			return k;
	}
	return 0;	/* 8191 combinations of 44 named bits: never */
}

/* show_page_range(): extend the pending range, or print it and start another. */
static void show_page_range(struct page_types *pt, uint64_t voffset, uint64_t offset,
			    uint64_t size, uint64_t flags, uint64_t mapcnt)
{
	char sym[65];

	if (flags == pt->r.flags && mapcnt == pt->r.mapcnt && offset == pt->r.index + pt->r.count &&
	    size && voffset == pt->r.voff + pt->r.count) {
		pt->r.count += size;
		return;
	}
	if (pt->r.count) {
		if (pt->task)
			add_fmt(pt, "%llx\t", (unsigned long long)pt->r.voff);
		if (pt->mapcnt)
			add_fmt(pt, "%llu\t", (unsigned long long)pt->r.mapcnt);
		flag_symbols(pt->r.flags, sym);
		add_fmt(pt, "%llx\t%llx\t%s\n", (unsigned long long)pt->r.index,
			(unsigned long long)pt->r.count, sym);
	}
	pt->r.flags = flags;
	pt->r.mapcnt = mapcnt;
	pt->r.index = offset;
	pt->r.voff = voffset;
	pt->r.count = size;
}

/* bit_mask_ok(): the page passes every -b filter. */
static bool bit_mask_ok(const struct page_types *pt, uint64_t flags)
{
	for (int i = 0; i < pt->nr_filters; i++) {
		if (pt->bits[i] == ALL_BITS ? !(flags & pt->mask[i])
					    : (flags & pt->mask[i]) != pt->bits[i])
			return false;
	}
	return true;
}

/* add_page(): one page into the lists and the summary. */
static void add_page(struct page_types *pt, uint64_t voffset, uint64_t offset, uint64_t flags,
		     uint64_t mapcnt, uint64_t pme)
{
	char sym[65];

	flags = kpageflags_flags(pt, flags, pme);
	if (!bit_mask_ok(pt, flags))
		return;
	if (!pt->mapcnt)
		mapcnt = 0;
	if (pt->list == 1) {
		show_page_range(pt, voffset, offset, 1, flags, mapcnt);
	} else if (pt->list == 2) {
		if (pt->task)
			add_fmt(pt, "%llx\t", (unsigned long long)voffset);
		if (pt->mapcnt)
			add_fmt(pt, "%llu\t", (unsigned long long)mapcnt);
		flag_symbols(flags, sym);
		add_fmt(pt, "%llx\t%s\n", (unsigned long long)offset, sym);
	}
	pt->nr_pages[hash_slot(pt, flags)]++;
	pt->total++;
}

/* walk_pfn(): count frames from index, their kpageflags and kpagecount read in batches. */
static void walk_pfn(struct page_types *pt, uint64_t voffset, uint64_t index, uint64_t count,
		     uint64_t pme)
{
	uint64_t flags[BATCH], cnt[BATCH];

	while (count) {
		int64_t got = memlab_kpageflags(pt->m, index, flags, count < BATCH ? count : BATCH);

		if (got <= 0)
			break;
		memlab_kpagecount(pt->m, index, cnt, (size_t)got);
		for (int64_t i = 0; i < got; i++)
			add_page(pt, voffset + (uint64_t)i, index + (uint64_t)i, flags[i], cnt[i], pme);
		index += (uint64_t)got;
		voffset += (uint64_t)got;
		count -= (uint64_t)got;
	}
}

/*
** walk_task(): the pages [index, index + count) of each of the task's nvmas
** VMAs (vmas, as its maps lists them: no lookup that its vmacache would
** count), through pagemap, as page-types -p does.
*/
static void walk_task(struct page_types *pt, memlab_task *t, const struct memlab_vma_info *vmas,
		      size_t nvmas, uint64_t index, uint64_t count)
{
	uint64_t addr, end, pme[BATCH];
	unsigned shift = pt->shift;

	if (index > (UINT64_MAX >> shift))
		return;
	addr = index << shift;
	end = count > (UINT64_MAX >> shift) - index ? UINT64_MAX : (index + count) << shift;
	for (size_t v = 0; v < nvmas && vmas[v].start < end; v++) {
		uint64_t stop = vmas[v].end < end ? vmas[v].end : end;

		for (addr = vmas[v].start > addr ? vmas[v].start : addr; addr < stop;) {
			uint64_t n = (stop - addr) >> shift;
			int64_t got = memlab_pagemap(t, addr, pme, n < BATCH ? n : BATCH);

			if (got <= 0)
				return;
			for (int64_t i = 0; i < got; i++) {
				uint64_t e = pme[i], vpage = (addr >> shift) + (uint64_t)i;
				uint64_t pfn = e & MEMLAB_PM_PRESENT ? e & MEMLAB_PM_PFRAME_MASK : 0;

				if (pfn)
					walk_pfn(pt, vpage, pfn, 1, e);
				if (e & MEMLAB_PM_SWAP)	/* walk_swap() */
					add_page(pt, vpage, (e & MEMLAB_PM_PFRAME_MASK) >> 5, 0, 0, e);
			}
			addr += (uint64_t)got << shift;
		}
	}
}

/* ---- page-types' -b and -a specifications ---- */

/* parse_number(): strtoull with base 0, the whole token; else raise. */
static uint64_t parse_number(lua_State *L, const char *str, size_t len, const char *what)
{
	char buf[64], *end;
	uint64_t n;

	if (!len || len >= sizeof buf)	/* (lua_pushfstring has no %.*s) */
		luaL_error(L, "page_types: invalid name or number in '%s'", what);
	memcpy(buf, str, len);
	buf[len] = '\0';
	n = strtoull(buf, &end, 0);
	if (*end || buf[0] == '-')
		luaL_error(L, "page_types: invalid name or number '%s' in '%s'", buf, what);
	return n;
}

/* parse_flag_name(): a long name or its prefix ("compound": both), else a number. */
static uint64_t parse_flag_name(lua_State *L, const char *str, size_t len, const char *spec)
{
	if (!len)
		return 0;
	if (len <= 8 && !strncmp(str, "compound", len))
		return BIT(COMPOUND_HEAD) | BIT(COMPOUND_TAIL);
	for (unsigned i = 0; i < 64; i++)
		if (flag_names[i] && !strncmp(str, flag_names[i] + 2, len))
			return 1ull << i;
	return parse_number(L, str, len, spec);
}

/* parse_flag_names(): the names of a comma list, those under ~ too when all. */
static uint64_t parse_flag_names(lua_State *L, const char *str, bool all, const char *spec)
{
	uint64_t flags = 0;

	for (const char *p = str;; p++) {
		if (*p != ',' && *p != '=' && *p)
			continue;
		if (*str != '~')
			flags |= parse_flag_name(L, str, (size_t)(p - str), spec);
		else if (all)
			flags |= parse_flag_name(L, str + 1, (size_t)(p - str - 1), spec);
		if (*p != ',')
			return flags;
		str = p + 1;
	}
}

/* parse_bits_mask(): one -b filter. */
static void parse_bits_mask(lua_State *L, struct page_types *pt, const char *spec)
{
	const char *eq = strchr(spec, '=');
	uint64_t mask, bits;

	if (pt->nr_filters == MAX_FILTERS)
		luaL_error(L, "page_types: more than %d bits filters", MAX_FILTERS);
	if (eq == spec) {
		mask = ALL_BITS;
		bits = parse_flag_names(L, eq + 1, false, spec);
	} else if (eq) {
		mask = parse_flag_names(L, spec, false, spec);
		bits = parse_flag_names(L, eq + 1, false, spec);
	} else if (strchr(spec, '~')) {
		mask = parse_flag_names(L, spec, true, spec);
		bits = parse_flag_names(L, spec, false, spec);
	} else {
		mask = parse_flag_names(L, spec, false, spec);
		bits = ALL_BITS;
	}
	pt->mask[pt->nr_filters] = mask;
	pt->bits[pt->nr_filters++] = bits;
}

/* parse_addr_range(): one -a range: N, N+M, N,M, N, or ,M (pages). */
static void parse_addr_range(lua_State *L, struct page_types *pt, const char *spec)
{
	const char *p = strchr(spec, ',');
	uint64_t offset, size;

	if (pt->nr_ranges == MAX_RANGES)
		luaL_error(L, "page_types: more than %d addr ranges", MAX_RANGES);
	if (!p)
		p = strchr(spec, '+');
	if (p == spec) {
		offset = 0;
		size = parse_number(L, p + 1, strlen(p + 1), spec);
	} else if (p) {
		offset = parse_number(L, spec, (size_t)(p - spec), spec);
		if (!p[1]) {
			size = UINT64_MAX;
		} else {
			size = parse_number(L, p + 1, strlen(p + 1), spec);
			if (*p == ',') {
				if (size < offset)
					luaL_error(L, "page_types: invalid range '%s'", spec);
				size -= offset;
			}
		}
	} else {
		offset = parse_number(L, spec, strlen(spec), spec);
		size = 1;
	}
	pt->offset[pt->nr_ranges] = offset;
	pt->size[pt->nr_ranges++] = size < UINT64_MAX - offset ? size : UINT64_MAX - offset;
}

/* A bits or addr option: one specification, or a list of them (several -b / -a). */
static void each_spec(lua_State *L, struct page_types *pt, const char *key,
		      void (*parse)(lua_State *, struct page_types *, const char *))
{
	if (lua_type(L, -1) == LUA_TSTRING) {
		parse(L, pt, lua_tostring(L, -1));
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "page_types: option '%s' must be a string or a list of strings", key);
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "page_types: option '%s' must be a string or a list of strings",
				   key);
		parse(L, pt, lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* The options of m:page_types (at 2), checked; the task (or nil) into index 3. */
static void page_types_options(lua_State *L, struct page_types *pt, bool *summary)
{
	static const char *const keys[] = { "raw", "task", "list", "mapcnt", "summary", "bits",
					    "addr", NULL };

	if (lua_isnil(L, 2))
		return;
	if (!lua_istable(L, 2))
		lmemlab_typeerror(L, 2, "page_types", "table of options");
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		int k = 0;

		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "page_types: option names must be strings");
		while (keys[k] && strcmp(keys[k], lua_tostring(L, -2)))
			k++;
		if (k != 1 && k != 2 && k < 5 && !lua_isboolean(L, -1))
			luaL_error(L, "page_types: option '%s' must be a boolean", keys[k]);
		switch (k) {
		case 0: pt->raw = lua_toboolean(L, -1); break;
		case 1: lua_pushvalue(L, -1); lua_replace(L, 3); break;
		case 2:
			if (lua_isboolean(L, -1))
				pt->list = lua_toboolean(L, -1);
			else if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "each"))
				pt->list = 2;
			else
				luaL_error(L, "page_types: option 'list' must be a boolean or \"each\"");
			break;
		case 3: pt->mapcnt = lua_toboolean(L, -1); break;
		case 4: *summary = lua_toboolean(L, -1); break;
		case 5: each_spec(L, pt, "bits", parse_bits_mask); break;
		case 6: each_spec(L, pt, "addr", parse_addr_range); break;
		default: luaL_error(L, "page_types: unknown option '%s'", lua_tostring(L, -2));
		}
		lua_pop(L, 1);
	}
}

/*
** m:page_types{ raw =, task =, list = true | "each", mapcnt =, summary = true,
** bits =, addr = } --> text: tools/mm/page-types's output for the machine's
** frames, or with task for that process's pages (-p): -r, -l / -L, -M, -N,
** and -b and -a (a specification each, or a list of them).
*/
static int m_page_types(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "page_types"), *tlm;
	struct page_types *pt;
	struct memlab_machine_info mi;
	struct memlab_vma_info *vmas = NULL;
	size_t nvmas = 0;
	memlab_task *t = NULL;
	bool summary = true;
	luaL_Buffer b;
	char sym[65];

	lua_settop(L, 2);
	lua_pushnil(L);		/* 3: the task */
	pt = lua_newuserdatauv(L, sizeof(*pt), 0);	/* 4 */
	memset(pt, 0, sizeof(*pt));
	page_types_options(L, pt, &summary);
	if (!lua_isnil(L, 3) && ((t = lmemlab_checktaskat(L, 3, "page_types", &tlm)), tlm != lm))
		return luaL_error(L, "page_types: option 'task' is a task of another machine");
	pt->m = lmemlab_machine_core(lm);
	memlab_machine_info(pt->m, &mi);
	pt->shift = (unsigned)__builtin_ctz(mi.page_size);
	pt->task = t != NULL;
	pt->mapcnt = pt->mapcnt && pt->list;
	if (t) {		/* parse_pid(): the VMAs from its maps (5), before the buffer */
		nvmas = memlab_vmas(t, NULL, 0);
		vmas = lua_newuserdatauv(L, nvmas ? nvmas * sizeof(*vmas) : 1, 0);
		nvmas = memlab_vmas(t, vmas, nvmas);
	}
	luaL_buffinit(L, &b);
	pt->b = &b;
	if (pt->list && pt->task)
		luaL_addstring(&b, "voffset\t");
	if (pt->mapcnt)
		luaL_addstring(&b, "map-cnt\t");
	if (pt->list)
		luaL_addstring(&b, pt->list == 1 ? "offset\tlen\tflags\n" : "offset\tflags\n");
	if (!pt->nr_ranges) {		/* add_addr_range(0, ULONG_MAX) */
		pt->offset[0] = 0;
		pt->size[pt->nr_ranges++] = UINT64_MAX;
	}
	for (int i = 0; i < pt->nr_ranges; i++) {	/* walk_addr_ranges() */
		if (t)
			walk_task(pt, t, vmas, nvmas, pt->offset[i], pt->size[i]);
		else
			walk_pfn(pt, pt->offset[i], pt->offset[i], pt->size[i], 0);
	}
	if (pt->list == 1)
		show_page_range(pt, 0, 0, 0, 0, 0);	/* flush_page_range() */
	if (summary) {
		unsigned shift = pt->shift;

		if (pt->list)
			luaL_addstring(&b, "\n\n");
		luaL_addstring(&b, "             flags\tpage-count       MB  symbolic-flags"
				   "\t\t\tlong-symbolic-flags\n");
		for (size_t i = 0; i < HASH_SIZE; i++) {
			if (!pt->nr_pages[i])
				continue;
			flag_symbols(pt->page_flags[i], sym);
			add_fmt(pt, "0x%016llx\t%10llu %8llu  %s\t", (unsigned long long)pt->page_flags[i],
				(unsigned long long)pt->nr_pages[i],
				(unsigned long long)((pt->nr_pages[i] << shift) >> 20), sym);
			push_longnames(L, pt->page_flags[i]);
			luaL_addvalue(&b);
			luaL_addchar(&b, '\n');
		}
		add_fmt(pt, "             total\t%10llu %8llu\n", (unsigned long long)pt->total,
			(unsigned long long)((pt->total << shift) >> 20));
	}
	luaL_pushresult(&b);
	return 1;
}

static const luaL_Reg page_machine_methods[] = {
	{ "kpageflags", m_kpageflags },
	{ "page_types", m_page_types },
	{ NULL, NULL }
};

void lmemlab_page_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, page_machine_methods, 0);
}
