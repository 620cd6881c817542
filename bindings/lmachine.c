/*
** lmachine.c -- the memlab.machine object: memlab.new{...} and the
** methods of a machine (info, alloc_pages, free_pages, read_phys,
** write_phys, proc, vmstat, zones, fragmentation_index, unusable_index,
** page, check, close; ltask.c adds spawn, task, file and sysctl).
**
** Lifetime follows liolib.c: the userdata is created closed (m == NULL)
** before the core machine exists, so a Lua error at any point leaks
** nothing; __gc and __close are close(), which is idempotent.
**
** Reports of corrupted simulated state ("BUG: Bad page state ...") come
** through the core's report callback.  While a method runs a core call
** they are collected into a buffer owned by the userdata; when the call
** fails with -EINVAL the method raises them ("free_pages: BUG: ...").
** Reports at any other time go to stderr.  The callback never calls Lua:
** it runs inside the core, where a longjmp would leave the machine
** half-changed.
*/
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lmemlab.h"

#define REPORTS_MAX	(1u << 20)	/* collected report text is cut here */

/* Text collected from the core's callbacks, in host-allocator memory. */
struct textbuf {
	char *buf;
	size_t len, cap;
	int truncated;		/* some text was dropped (limit or no memory) */
};

typedef struct lmachine {
	memlab_machine *m;		/* NULL while closed */
	struct memlab_machine_info info;	/* fixed at creation */
	lua_Alloc allocf;		/* the Lua state's allocator, also the core's */
	void *allocud;
	int in_call;			/* a core call is running: collect reports */
	struct textbuf reports;
	struct textbuf kmsg;		/* every report, for m:dmesg() */
	char *pending_text;		/* memlab_proc text not yet freed */
	struct ltrace *trace;		/* m:on's queue (ltrace.c), NULL until used */
	int debug_vm;			/* memlab.new{ debug_vm = true }: check after every call */
} lmachine;

/* {===================== report text ===================== */

static void tb_append(lmachine *lm, struct textbuf *tb, const char *s,
		      size_t n)
{
	size_t need, cap;
	char *p;

	if (tb->len + n + 1 > REPORTS_MAX) {
		tb->truncated = 1;
		return;
	}
	need = tb->len + n + 1;
	if (need > tb->cap) {
		cap = tb->cap ? tb->cap : 256;
		while (cap < need)
			cap *= 2;
		p = lm->allocf(lm->allocud, tb->buf, tb->cap, cap);
		if (!p) {
			tb->truncated = 1;
			return;
		}
		tb->buf = p;
		tb->cap = cap;
	}
	memcpy(tb->buf + tb->len, s, n);
	tb->len += n;
	tb->buf[tb->len] = '\0';
}

static void tb_free(lmachine *lm, struct textbuf *tb)
{
	if (tb->buf)
		lm->allocf(lm->allocud, tb->buf, tb->cap, 0);
	memset(tb, 0, sizeof(*tb));
}

/* One line of collected text: msg and a newline between entries. */
static void tb_addline(lmachine *lm, struct textbuf *tb, const char *msg)
{
	if (tb->len > 0)
		tb_append(lm, tb, "\n", 1);
	tb_append(lm, tb, msg, strlen(msg));
}

/*
** One line of the kernel log, msg and its newline together; when the log
** is full the oldest lines go (Linux's printk ring keeps the newest).
*/
static void kmsg_add(lmachine *lm, const char *msg)
{
	struct textbuf *tb = &lm->kmsg;
	size_t n = strlen(msg) + 1, drop = 0;
	char *nl;

	if (n + 1 > REPORTS_MAX)
		n = REPORTS_MAX - 1;		/* one line longer than the log: its start */
	while (tb->len - drop + n + 1 > REPORTS_MAX &&
	       (nl = memchr(tb->buf + drop, '\n', tb->len - drop)) != NULL)
		drop = (size_t)(nl - tb->buf) + 1;
	if (tb->len + n + 1 > REPORTS_MAX && drop == 0)
		drop = tb->len;
	if (drop) {
		memmove(tb->buf, tb->buf + drop, tb->len - drop);
		tb->len -= drop;
		tb->truncated = 1;
	}
	tb_append(lm, tb, msg, n - 1);
	tb_append(lm, tb, "\n", 1);
}

/* The core's report callback (memlab_config.report). */
static void on_report(void *ud, const char *msg)
{
	lmachine *lm = ud;

	kmsg_add(lm, msg);
	if (lm->in_call)
		tb_addline(lm, &lm->reports, msg);
	else
		fprintf(stderr, "memlab: %s\n", msg);
}

/* memlab_check's violation callback: one line per violation. */
static void on_violation(void *ud, const char *msg)
{
	lmachine *lm = ud;

	tb_addline(lm, &lm->reports, msg);
}

/* Start collecting reports for one core call. */
static void begin_call(lmachine *lm)
{
	lm->reports.len = 0;
	lm->reports.truncated = 0;
	lm->in_call = 1;
}

/* Push the collected text, with a mark if some was lost. */
static void push_reports(lua_State *L, lmachine *lm)
{
	lua_pushlstring(L, lm->reports.buf ? lm->reports.buf : "",
			lm->reports.len);
	if (lm->reports.truncated) {
		lua_pushliteral(L, "\n(further reports lost)");
		lua_concat(L, 2);
	}
}

/*
** CONFIG_DEBUG_VM: after the call, every invariant; a violation raises
** "fname: debug_vm: N violation(s):" with the list (the reports the call
** itself made come first).
*/
static void debug_vm_check(lua_State *L, lmachine *lm, const char *fname)
{
	size_t before = lm->reports.len;
	int n;

	lm->in_call = 1;
	n = memlab_check(lm->m, on_violation, lm);
	lm->in_call = 0;
	if (n <= 0)
		return;
	luaL_where(L, 1);
	lua_pushfstring(L, "%s: debug_vm: %d violation(s) after the call:\n", fname, n);
	lua_pushlstring(L, lm->reports.buf + before, lm->reports.len - before);
	lm->reports.len = 0;
	lua_concat(L, 3);
	lua_error(L);
}

/*
** Stop collecting.  If the call failed with -EINVAL and the core reported
** something, raise "fname: <reports>"; other reports go to stderr.
*/
static void end_call(lua_State *L, lmachine *lm, const char *fname, int rc)
{
	lm->in_call = 0;
	if (lm->debug_vm && lm->m)
		debug_vm_check(L, lm, fname);
	lmemlab_trace_dispatch(L, lm, lm->trace);
	if (lm->reports.len == 0)
		return;
	if (rc == -MEMLAB_EINVAL) {
		luaL_where(L, 1);
		lua_pushfstring(L, "%s: ", fname);
		push_reports(L, lm);
		lm->reports.len = 0;
		lua_concat(L, 3);
		lua_error(L);
	}
	fprintf(stderr, "memlab: %s: %.*s\n", fname, (int)lm->reports.len,
		lm->reports.buf);
	lm->reports.len = 0;
}

/* }===================== */

/* {===================== the object ===================== */

static lmachine *to_machine(lua_State *L, const char *fname)
{
	lmachine *lm = luaL_testudata(L, 1, LMEMLAB_MACHINE);

	if (!lm)
		lmemlab_typeerror(L, 1, fname, LMEMLAB_MACHINE);
	return lm;
}

/* Free text a failed push left behind (see m_proc). */
static void free_pending(lmachine *lm)
{
	if (lm->pending_text) {
		memlab_free_text(lm->m, lm->pending_text);
		lm->pending_text = NULL;
	}
}

/* The open machine at argument 1, or raise. */
static lmachine *check_machine(lua_State *L, const char *fname)
{
	lmachine *lm = to_machine(L, fname);

	if (!lm->m)
		luaL_error(L, "%s: attempt to use a closed machine", fname);
	free_pending(lm);
	return lm;
}

static const char *arch_name(int arch)
{
	switch (arch) {
	case MEMLAB_ARCH_X86_64: return "x86_64";
	case MEMLAB_ARCH_ARM64: return "arm64";
	default: return "unknown";
	}
}

/* "256M", "1G", "1536K", "12345": the largest binary unit dividing n. */
static void format_size(char *buf, size_t size, uint64_t n)
{
	static const char units[] = "KMGTP";
	int u = -1;

	while (u < 4 && n != 0 && (n & 1023) == 0) {
		n >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%llu", (unsigned long long)n);
	else
		snprintf(buf, size, "%llu%c", (unsigned long long)n, units[u]);
}

/* m:close(): free the machine; idempotent.  Also __gc and __close. */
/*
** m:dmesg([clear]) --> the kernel log: every report of the machine (the
** OOM killer's, "BUG: ..."), a line each; clear = true empties it after
** reading, as dmesg -c does.  The log keeps its last REPORTS_MAX bytes,
** the oldest lines dropped first.
*/
static int m_dmesg(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "dmesg");
	int clear = 0;

	if (!lua_isnoneornil(L, 2)) {
		if (!lua_isboolean(L, 2))
			return lmemlab_typeerror(L, 2, "dmesg", "boolean");
		clear = lua_toboolean(L, 2);
	}

	lua_pushlstring(L, lm->kmsg.buf ? lm->kmsg.buf : "", lm->kmsg.len);
	if (clear) {
		lm->kmsg.len = 0;
		lm->kmsg.truncated = 0;
	}
	return 1;
}

static int m_close(lua_State *L)
{
	lmachine *lm = to_machine(L, "close");

	if (lm->m) {
		free_pending(lm);
		lm->in_call = 0;
		memlab_destroy(lm->m);
		lm->m = NULL;
	}
	tb_free(lm, &lm->reports);
	tb_free(lm, &lm->kmsg);
	lmemlab_trace_free(lm->trace);
	lm->trace = NULL;
	lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, lm);	/* m:on's handlers */
	return 0;
}

/* __tostring: "memlab.machine (x86_64, 256M)" or "memlab.machine (closed)" */
static int m_tostring(lua_State *L)
{
	lmachine *lm = to_machine(L, "__tostring");
	char ram[32];

	if (!lm->m) {
		lua_pushliteral(L, LMEMLAB_MACHINE " (closed)");
		return 1;
	}
	format_size(ram, sizeof(ram), lm->info.ram);
	lua_pushfstring(L, LMEMLAB_MACHINE " (%s, %s)", arch_name(lm->info.arch),
			ram);
	return 1;
}

/* }===================== */

/* {===================== memlab.new ===================== */

static const char *const option_names[] = {
	"arch", "ram", "page_size", "seed", "zones", "min_free_kbytes",
	"watermark_scale_factor", "pcp", "va_bits", "debug_vm", "cpus", "tlb", "swap",
	"cgroup", "xstate_size", "swap_ssd", NULL
};

/* Raise "memlab.new: bad option 'key' (msg)". */
static int option_error(lua_State *L, const char *key, const char *msg)
{
	return luaL_error(L, "memlab.new: bad option '%s' (%s)", key, msg);
}

/* An integer option in lo..hi (value at the top of the stack). */
static lua_Integer option_integer(lua_State *L, const char *key,
				  lua_Integer lo, lua_Integer hi)
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
		option_error(L, key, lua_tostring(L, -1));
	}
	if (v < lo || v > hi) {
		lua_pushfstring(L, "must be %I..%I", (LUAI_UACINT)lo,
				(LUAI_UACINT)hi);
		option_error(L, key, lua_tostring(L, -1));
	}
	return v;
}

/* A string option that must be one of names[] (value at the top). */
static int option_choice(lua_State *L, const char *key,
			 const char *const names[], const char *expected)
{
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;

	for (int i = 0; s && names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return option_error(L, key, expected);
}

/* A boolean option (value at the top): true or false, nothing else. */
static int option_boolean(lua_State *L, const char *key)
{
	if (lua_type(L, -1) != LUA_TBOOLEAN) {
		lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, -1));
		option_error(L, key, lua_tostring(L, -1));
	}
	return lua_toboolean(L, -1);
}

/* A size option (value at the top); page_size must fit in 32 bits. */
static uint64_t option_size(lua_State *L, const char *key, uint64_t max)
{
	uint64_t v = 0;
	const char *err = lmemlab_tosize(L, -1, &v);

	if (!err && v > max)
		err = "size too large";
	if (err)
		option_error(L, key, err);
	return v;
}

/*
** cgroup = { memory_recursiveprot = true }: the options cgroup2 is mounted
** with (the table at the top of the stack).  A key that is not one of
** them raises "bad option 'cgroup.KEY'".
*/
static void cgroup_option(lua_State *L, struct memlab_config *cfg)
{
	const char *key;
	char name[64];
	size_t len;

	if (!lua_istable(L, -1)) {
		lua_pushfstring(L, "table expected, got %s", luaL_typename(L, -1));
		option_error(L, "cgroup", lua_tostring(L, -1));
	}
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {		/* ..., key, value */
		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pushfstring(L, "mount option names are strings, got a %s key",
					luaL_typename(L, -2));
			option_error(L, "cgroup", lua_tostring(L, -1));
		}
		key = lua_tolstring(L, -2, &len);
		snprintf(name, sizeof(name), "cgroup.%.40s%s", key, len > 40 ? "..." : "");
		if (len != strlen(key) || strcmp(key, "memory_recursiveprot") != 0)
			option_error(L, name, "not a cgroup2 mount option memlab has; "
				     "it has memory_recursiveprot");
		cfg->memory_recursiveprot = option_boolean(L, name);
		lua_pop(L, 1);			/* leave the key for lua_next */
	}
}

/* Apply the option key = value (the value is at the top of the stack). */
static void apply_option(lua_State *L, const char *key,
			 struct memlab_config *cfg, struct lmemlab_tlb_pending *tlb)
{
	static const char *const arches[] = { "x86_64", "arm64", NULL };
	static const char *const layouts[] = { "arch", "single", NULL };

	if (strcmp(key, "arch") == 0)
		cfg->arch = option_choice(L, key, arches,
					  "must be \"x86_64\" or \"arm64\"") == 0 ?
			MEMLAB_ARCH_X86_64 : MEMLAB_ARCH_ARM64;
	else if (strcmp(key, "ram") == 0)
		cfg->ram = option_size(L, key, (uint64_t)INT64_MAX);
	else if (strcmp(key, "page_size") == 0)
		cfg->page_size = (uint32_t)option_size(L, key, UINT32_MAX);
	else if (strcmp(key, "seed") == 0)
		cfg->seed = (uint64_t)option_integer(L, key, 0, LUA_MAXINTEGER);
	else if (strcmp(key, "zones") == 0)
		cfg->zones = option_choice(L, key, layouts,
					   "must be \"arch\" or \"single\"") == 0 ?
			MEMLAB_ZONES_ARCH : MEMLAB_ZONES_SINGLE;
	else if (strcmp(key, "min_free_kbytes") == 0)
		cfg->min_free_kbytes = option_integer(L, key, 0, LUA_MAXINTEGER);
	else if (strcmp(key, "watermark_scale_factor") == 0)
		cfg->watermark_scale_factor = (int)option_integer(L, key, 1, 3000);
	else if (strcmp(key, "pcp") == 0)
		cfg->pcp_disabled = !option_boolean(L, key);
	else if (strcmp(key, "va_bits") == 0)
		cfg->va_bits = (uint32_t)option_integer(L, key, 1, 64);
	else if (strcmp(key, "debug_vm") == 0)
		cfg->debug_vm = option_boolean(L, key);	/* the core's checks; m:check() too */
	else if (strcmp(key, "cpus") == 0)
		cfg->cpus = (int)option_integer(L, key, 1, MEMLAB_MAX_CPUS);
	else if (strcmp(key, "tlb") == 0)
		lmemlab_tlb_option(L, cfg, tlb);
	else if (strcmp(key, "swap") == 0)
		cfg->swap = option_size(L, key, (uint64_t)INT64_MAX);
	else if (strcmp(key, "cgroup") == 0)
		cgroup_option(L, cfg);
	else if (strcmp(key, "xstate_size") == 0)
		cfg->xstate_size = (uint32_t)option_size(L, key, UINT32_MAX);
	else if (strcmp(key, "swap_ssd") == 0)
		cfg->swap_ssd = option_boolean(L, key);
}

/* Read the options table at idx into cfg; unknown keys raise. */
static void read_options(lua_State *L, int idx, struct memlab_config *cfg)
{
	struct lmemlab_tlb_pending tlb;
	const char *key;
	char shown[64];
	size_t len;
	int i;

	memset(&tlb, 0, sizeof(tlb));
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "memlab.new: option names must be strings, "
				   "got a %s key", luaL_typename(L, -2));
		key = lua_tolstring(L, -2, &len);
		for (i = 0; option_names[i]; i++)
			if (strcmp(key, option_names[i]) == 0)
				break;
		if (!option_names[i] || strlen(key) != len) {
			snprintf(shown, sizeof(shown), "%.40s%s", key,
				 len > 40 ? "..." : "");
			luaL_error(L, "memlab.new: unknown option '%s'", shown);
		}
		apply_option(L, key, cfg, &tlb);
		lua_pop(L, 1);
	}
	lmemlab_tlb_resolve(L, cfg, &tlb);
}

/*
** Why the core refused cfg with -EINVAL.  The core returns only the code,
** so this restates its rules (core/machine.c apply_config); the last
** line is the fallback when none of them explains it.
*/
/*
** memlab.new{ arch=, ram=, page_size=, seed=, zones=, min_free_kbytes=,
** watermark_scale_factor=, pcp=, va_bits=, cpus=, tlb=, swap=, cgroup= }
** --> machine.  Every option is optional (tlb: ltlb.c).
*/
int lmemlab_new(lua_State *L)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;
	lmachine *lm;
	int rc;

	memlab_config_init(&cfg);
	if (!lua_isnoneornil(L, 1)) {
		if (!lua_istable(L, 1))
			lmemlab_typeerror(L, 1, "new", "table of options");
		read_options(L, 1, &cfg);
	}
	lua_settop(L, 1);
	/* the handle first, closed: an error from here on leaks nothing */
	lm = lua_newuserdatauv(L, sizeof(*lm), 0);
	memset(lm, 0, sizeof(*lm));
	luaL_setmetatable(L, LMEMLAB_MACHINE);
	lm->allocf = lua_getallocf(L, &lm->allocud);
	cfg.alloc = lm->allocf;
	cfg.alloc_ud = lm->allocud;
	cfg.report = on_report;
	cfg.report_ud = lm;
	begin_call(lm);
	rc = memlab_create(&cfg, &m);
	lm->in_call = 0;
	if (rc == -MEMLAB_EINVAL) {	/* the core said why */
		lua_pushliteral(L, "memlab.new: ");
		push_reports(L, lm);
		lua_concat(L, 2);
		lm->reports.len = 0;
		return lua_error(L);
	}
	if (rc < 0)
		return luaL_error(L, "memlab.new: cannot create the machine: %s",
				  memlab_strerror(rc));
	lm->m = m;
	memlab_machine_info(m, &lm->info);
	if (lua_istable(L, 1) && lua_getfield(L, 1, "debug_vm") == LUA_TBOOLEAN)
		lm->debug_vm = lua_toboolean(L, -1);
	lua_settop(L, 2);
	if (lm->reports.len > 0)
		end_call(L, lm, "new", 0);	/* to stderr */
	return 1;
}

/* }===================== */

/* {===================== arguments of methods ===================== */

static unsigned check_order(lua_State *L, int arg, lmachine *lm,
			    const char *fname)
{
	return (unsigned)lmemlab_checkrange(L, arg, fname, "order", 0,
					    (lua_Integer)lm->info.max_order);
}

static uint64_t check_pfn(lua_State *L, int arg, const char *fname)
{
	return (uint64_t)lmemlab_checkrange(L, arg, fname, "pfn", 0,
					    LUA_MAXINTEGER);
}

/* A non-negative integer field of the table at arg; def when absent. */
static uint64_t addr_field(lua_State *L, int arg, const char *fname,
			   const char *key, int required)
{
	lua_Integer v = 0;
	int isnum = 0;

	lua_getfield(L, arg, key);
	if (lua_isnil(L, -1) && !required) {
		lua_pop(L, 1);
		return 0;
	}
	if (lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tointegerx(L, -1, &isnum);
	if (!isnum || v < 0) {
		lua_pushfstring(L, "field '%s' must be a non-negative integer", key);
		lmemlab_argerror(L, arg, fname, lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	return (uint64_t)v;
}

/* Only pfn and offset may appear in an address table. */
static void check_addr_keys(lua_State *L, int arg, const char *fname)
{
	const char *key;

	lua_pushnil(L);
	while (lua_next(L, arg) != 0) {
		key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		if (!key || (strcmp(key, "pfn") != 0 && strcmp(key, "offset") != 0))
			lmemlab_argerror(L, arg, fname, "address table takes "
					 "only the fields 'pfn' and 'offset'");
		lua_pop(L, 1);
	}
}

/* A physical address: an integer, or { pfn = N [, offset = k] }. */
static uint64_t check_paddr(lua_State *L, int arg, lmachine *lm,
			    const char *fname)
{
	uint64_t pfn, offset, paddr;

	if (lua_type(L, arg) == LUA_TNUMBER)
		return (uint64_t)lmemlab_checkrange(L, arg, fname, "address", 0,
						    LUA_MAXINTEGER);
	if (!lua_istable(L, arg))
		return (uint64_t)lmemlab_typeerror(L, arg, fname,
				"address (an integer or {pfn=, offset=})");
	check_addr_keys(L, arg, fname);
	pfn = addr_field(L, arg, fname, "pfn", 1);
	offset = addr_field(L, arg, fname, "offset", 0);
	if (pfn > (UINT64_MAX >> lm->info.page_shift))
		return (uint64_t)lmemlab_argerror(L, arg, fname, "pfn out of range");
	paddr = pfn << lm->info.page_shift;
	if (offset > (uint64_t)INT64_MAX - paddr)
		return (uint64_t)lmemlab_argerror(L, arg, fname,
						  "offset out of range");
	return paddr + offset;
}

/* Raise unless [paddr, paddr + n) lies within RAM. */
static void check_in_ram(lua_State *L, lmachine *lm, const char *fname,
			 uint64_t paddr, uint64_t n)
{
	char msg[160], ram[32];

	if (paddr <= lm->info.ram && n <= lm->info.ram - paddr)
		return;
	format_size(ram, sizeof(ram), lm->info.ram);
	snprintf(msg, sizeof(msg), "%s: %llu bytes at physical address 0x%llx "
		 "leave RAM (%s)", fname, (unsigned long long)n,
		 (unsigned long long)paddr, ram);
	luaL_error(L, "%s", msg);
}

/* A zone: its 0-based index or its name, case-insensitive ("normal"). */
static int check_zone(lua_State *L, int arg, lmachine *lm, const char *fname)
{
	struct memlab_zone_info zi;
	const char *s;
	char msg[80];
	int nr = memlab_nr_zones(lm->m);

	if (lua_type(L, arg) == LUA_TSTRING) {
		s = lua_tostring(L, arg);
		for (int zid = 0; zid < nr; zid++)
			if (memlab_zone_info(lm->m, zid, &zi) == 0 && zi.name &&
			    strcasecmp(s, zi.name) == 0)
				return zid;
		snprintf(msg, sizeof(msg), "no zone named '%.40s%s'", s,
			 strlen(s) > 40 ? "..." : "");
		return lmemlab_argerror(L, arg, fname, msg);
	}
	if (lua_type(L, arg) != LUA_TNUMBER)
		return lmemlab_typeerror(L, arg, fname,
					 "zone (a name or a 0-based index)");
	return (int)lmemlab_checkrange(L, arg, fname, "zone index", 0, nr - 1);
}

/* }===================== */

/* {===================== methods ===================== */

/* m:info() --> { arch=, page_size=, ..., seed= } */
static int m_info(lua_State *L)
{
	lmachine *lm = check_machine(L, "info");
	struct memlab_machine_info *in = &lm->info;

	memlab_machine_info(lm->m, in);
	lua_createtable(L, 0, 18);
	lua_pushstring(L, arch_name(in->arch));
	lua_setfield(L, -2, "arch");
	lmemlab_setint(L, "page_size", in->page_size);
	lmemlab_setint(L, "page_shift", in->page_shift);
	lmemlab_setint(L, "ram", in->ram);
	lmemlab_setint(L, "nr_frames", in->nr_frames);
	lmemlab_setint(L, "nr_reserved", in->nr_reserved);
	lmemlab_setint(L, "max_order", in->max_order);
	lmemlab_setint(L, "pageblock_order", in->pageblock_order);
	lmemlab_setint(L, "nr_zones", (uint64_t)in->nr_zones);
	lmemlab_setbool(L, "mobility_grouping", in->mobility_grouping);
	lmemlab_setint(L, "min_free_kbytes", (uint64_t)in->min_free_kbytes);
	lmemlab_setint(L, "watermark_scale_factor", (uint64_t)in->watermark_scale_factor);
	lmemlab_setint(L, "seed", in->seed);
	lmemlab_setint(L, "va_bits", in->va_bits);
	lmemlab_setint(L, "cpus", (uint64_t)in->nr_cpus);
	if (in->arch == MEMLAB_ARCH_X86_64)
		lmemlab_setint(L, "xstate_size", in->xstate_size);
	lmemlab_setbool(L, "dead", in->dead);
	lua_createtable(L, 0, 1);		/* as memlab.new{ cgroup = } took it */
	lmemlab_setbool(L, "memory_recursiveprot", in->memory_recursiveprot);
	lua_setfield(L, -2, "cgroup");
	return 1;
}

/* m:alloc_pages(order [, gfp]) --> pfn | nil, "ENOMEM", 12 */
static int m_alloc_pages(lua_State *L)
{
	lmachine *lm = check_machine(L, "alloc_pages");
	unsigned order = check_order(L, 2, lm, "alloc_pages");
	uint32_t gfp = lmemlab_optgfp(L, 3, "alloc_pages", MEMLAB_GFP_KERNEL);
	uint64_t pfn = 0;
	char flags[256], msg[320];
	int rc;

	begin_call(lm);
	rc = memlab_alloc_pages(lm->m, order, gfp, &pfn);
	end_call(L, lm, "alloc_pages", rc);
	if (rc == -MEMLAB_EINVAL) {
		memlab_gfp_format(gfp, flags, sizeof(flags));
		snprintf(msg, sizeof(msg), "impossible gfp mask 0x%x (%s)",
			 (unsigned)gfp, flags);
		return lmemlab_argerror(L, 3, "alloc_pages", msg);
	}
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)pfn);
	return 1;
}

/* m:free_pages(pfn, order) --> true; a bad page raises the core's report */
static int m_free_pages(lua_State *L)
{
	lmachine *lm = check_machine(L, "free_pages");
	uint64_t pfn = check_pfn(L, 2, "free_pages");
	unsigned order = check_order(L, 3, lm, "free_pages");
	int rc;

	begin_call(lm);
	rc = memlab_free_pages(lm->m, pfn, order);
	end_call(L, lm, "free_pages", rc);
	if (rc == -MEMLAB_EINVAL)
		return luaL_error(L, "free_pages: cannot free pfn %I order %d: %s",
				  (LUAI_UACINT)pfn, (int)order,
				  memlab_strerror(rc));
	return lmemlab_pushok(L, rc);
}

/* m:read_phys(addr, n) --> string of n bytes */
static int m_read_phys(lua_State *L)
{
	lmachine *lm = check_machine(L, "read_phys");
	uint64_t paddr = check_paddr(L, 2, lm, "read_phys");
	uint64_t n = (uint64_t)lmemlab_checkrange(L, 3, "read_phys", "n", 0,
						  LUA_MAXINTEGER);
	luaL_Buffer b;
	char *p;
	int rc;

	check_in_ram(L, lm, "read_phys", paddr, n);
	if (n > (uint64_t)(SIZE_MAX / 2))
		return lmemlab_argerror(L, 3, "read_phys", "n too large");
	p = luaL_buffinitsize(L, &b, (size_t)n);
	rc = memlab_read_phys(lm->m, paddr, p, (size_t)n);
	if (rc < 0)
		return luaL_error(L, "read_phys: %s", memlab_strerror(rc));
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/* m:write_phys(addr, s) --> true */
static int m_write_phys(lua_State *L)
{
	lmachine *lm = check_machine(L, "write_phys");
	uint64_t paddr = check_paddr(L, 2, lm, "write_phys");
	size_t len;
	const char *s;
	int rc;

	if (lua_type(L, 3) != LUA_TSTRING)
		return lmemlab_typeerror(L, 3, "write_phys", "string");
	s = lua_tolstring(L, 3, &len);
	check_in_ram(L, lm, "write_phys", paddr, len);
	rc = len ? memlab_write_phys(lm->m, paddr, s, len) : 0;
	if (rc < 0)
		return luaL_error(L, "write_phys: %s", memlab_strerror(rc));
	lua_pushboolean(L, 1);
	return 1;
}

/* m:proc's work, shared with p:maps() (lmemlab.h) */
int lmemlab_pushproc(lua_State *L, lmachine *lm, const char *path,
		     size_t plen, const char *fname)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	free_pending(lm);
	if (strlen(path) != plen)
		return lmemlab_pushfail(L, -MEMLAB_ENOENT);
	begin_call(lm);
	rc = memlab_proc(lm->m, path, &text, &len);
	end_call(L, lm, fname, rc);
	if (rc == -MEMLAB_ENOMEM)	/* the host's memory, not the simulated one */
		return luaL_error(L, "%s: not enough memory", fname);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	return lmemlab_pushtext(L, lm, text, len);
}

int lmemlab_pushtext(lua_State *L, lmachine *lm, char *text, size_t len)
{
	/* if the push raises a memory error, the next call frees the text */
	free_pending(lm);
	lm->pending_text = text;
	lua_pushlstring(L, text, len);
	free_pending(lm);
	return 1;
}

/* m:proc(path) --> text | nil, "ENOENT", 2 */
static int m_proc(lua_State *L)
{
	lmachine *lm = check_machine(L, "proc");
	size_t plen;
	const char *path;

	if (lua_type(L, 2) != LUA_TSTRING)
		return lmemlab_typeerror(L, 2, "proc", "string");
	path = lua_tolstring(L, 2, &plen);
	return lmemlab_pushproc(L, lm, path, plen, "proc");
}

/* m:show_mem() --> text: sysrq-m's Mem-Info */
static int m_show_mem(lua_State *L)
{
	lmachine *lm = check_machine(L, "show_mem");
	char *text = NULL;
	size_t len = 0;
	int rc;

	free_pending(lm);
	rc = memlab_show_mem(lm->m, &text, &len);
	if (rc < 0)		/* only the host's memory can fail it */
		return luaL_error(L, "show_mem: not enough memory");
	return lmemlab_pushtext(L, lm, text, len);
}

/* m:vmstat() --> { nr_free_pages = n, ... } every /proc/vmstat counter */
static int m_vmstat(lua_State *L)
{
	lmachine *lm = check_machine(L, "vmstat");
	size_t n = memlab_vmstat(lm->m, NULL, 0);
	struct memlab_stat *st;

	st = lua_newuserdatauv(L, n ? n * sizeof(*st) : 1, 0);
	n = memlab_vmstat(lm->m, st, n);
	lua_createtable(L, 0, (int)n);
	for (size_t i = 0; i < n; i++)
		lmemlab_setint(L, st[i].name, st[i].value);
	return 1;
}

/* t[i] = v[i - 1] for i = 1..n: a per-order array */
static void push_orders(lua_State *L, const uint64_t *v, size_t stride,
			unsigned nr_orders)
{
	lua_createtable(L, (int)nr_orders, 0);
	for (unsigned o = 0; o < nr_orders; o++) {
		lua_pushinteger(L, (lua_Integer)v[o * stride]);
		lua_rawseti(L, -2, (lua_Integer)o + 1);
	}
}

/* The free_by_type and pageblocks subtables of a zone. */
static void push_migratetypes(lua_State *L, const struct memlab_zone_info *zi,
			      unsigned nr_orders)
{
	const char *name;

	lua_createtable(L, 0, MEMLAB_MIGRATE_TYPES);
	for (int mt = 0; mt < MEMLAB_MIGRATE_TYPES; mt++) {
		push_orders(L, &zi->nr_free_mt[0][mt], MEMLAB_MIGRATE_TYPES,
			    nr_orders);
		lua_setfield(L, -2, memlab_migratetype_name(mt));
	}
	lua_setfield(L, -2, "free_by_type");
	lua_createtable(L, 0, MEMLAB_MIGRATE_TYPES);
	for (int mt = 0; mt < MEMLAB_MIGRATE_TYPES; mt++) {
		name = memlab_migratetype_name(mt);
		lmemlab_setint(L, name, zi->nr_pageblocks[mt]);
	}
	lua_setfield(L, -2, "pageblocks");
}

/* The fragmentation_index and unusable_index arrays, in thousandths. */
static void push_indices(lua_State *L, lmachine *lm, int zid,
			 unsigned nr_orders)
{
	lua_createtable(L, (int)nr_orders, 0);
	for (unsigned o = 0; o < nr_orders; o++) {
		lua_pushinteger(L, memlab_fragmentation_index(lm->m, zid, o));
		lua_rawseti(L, -2, (lua_Integer)o + 1);
	}
	lua_setfield(L, -2, "fragmentation_index");
	lua_createtable(L, (int)nr_orders, 0);
	for (unsigned o = 0; o < nr_orders; o++) {
		lua_pushinteger(L, memlab_unusable_index(lm->m, zid, o));
		lua_rawseti(L, -2, (lua_Integer)o + 1);
	}
	lua_setfield(L, -2, "unusable_index");
}

/* A CPU's pageset, as zoneinfo shows it: { count=, high=, batch=, high_min=, high_max= } */
static void push_pageset(lua_State *L, const struct memlab_pageset *ps)
{
	lua_createtable(L, 0, 6);
	lmemlab_setint(L, "count", (uint64_t)ps->count);
	lmemlab_setint(L, "high", (uint64_t)ps->high);
	lmemlab_setint(L, "batch", (uint64_t)ps->batch);
	lmemlab_setint(L, "high_min", (uint64_t)ps->high_min);
	lmemlab_setint(L, "high_max", (uint64_t)ps->high_max);
}

/* Every CPU's pageset, [cpu + 1], each with its cpu= */
static void push_pagesets(lua_State *L, const struct memlab_zone_info *zi)
{
	lua_createtable(L, zi->nr_cpus, 0);
	for (int cpu = 0; cpu < zi->nr_cpus; cpu++) {
		push_pageset(L, &zi->pagesets[cpu]);
		lmemlab_setint(L, "cpu", (uint64_t)cpu);
		lua_rawseti(L, -2, (lua_Integer)cpu + 1);
	}
}

/* One zone's table, pushed. */
static void push_zone(lua_State *L, lmachine *lm, int zid,
		      const struct memlab_zone_info *zi)
{
	unsigned nr_orders = lm->info.max_order + 1;

	if (nr_orders > MEMLAB_NR_ORDERS_MAX)
		nr_orders = MEMLAB_NR_ORDERS_MAX;
	lua_createtable(L, 0, 24);
	lua_pushstring(L, zi->name ? zi->name : "?");
	lua_setfield(L, -2, "name");
	lmemlab_setint(L, "index", (uint64_t)zid);
	lmemlab_setbool(L, "populated", zi->populated);
	lmemlab_setint(L, "start_pfn", zi->start_pfn);
	lmemlab_setint(L, "spanned", zi->spanned);
	lmemlab_setint(L, "present", zi->present);
	lmemlab_setint(L, "managed", zi->managed);
	lmemlab_setint(L, "free", zi->nr_free);
	lmemlab_setint(L, "min", zi->wmark_min);
	lmemlab_setint(L, "low", zi->wmark_low);
	lmemlab_setint(L, "high", zi->wmark_high);
	lmemlab_setint(L, "promo", zi->wmark_promo);
	lmemlab_setint(L, "boost", zi->watermark_boost);
	push_orders(L, zi->lowmem_reserve, 1, MEMLAB_MAX_NR_ZONES);
	lua_setfield(L, -2, "protection");
	lmemlab_setint(L, "reserved_highatomic", zi->nr_reserved_highatomic);
	lmemlab_setint(L, "free_highatomic", zi->nr_free_highatomic);
	push_orders(L, zi->nr_free_blocks, 1, nr_orders);
	lua_setfield(L, -2, "nr_free");
	push_migratetypes(L, zi, nr_orders);
	lmemlab_setint(L, "pgalloc", zi->pgalloc);
	push_pageset(L, &zi->pagesets[0]);
	lua_setfield(L, -2, "pcp");
	push_pagesets(L, zi);
	lua_setfield(L, -2, "pagesets");
	lmemlab_setint(L, "pcp_total", zi->pcp_total);
	push_indices(L, lm, zid, nr_orders);
}

/* m:zones() --> { {name="DMA", index=0, ...}, ... } in zone index order */
static int m_zones(lua_State *L)
{
	lmachine *lm = check_machine(L, "zones");
	int nr = memlab_nr_zones(lm->m);
	struct memlab_zone_info zi;

	lua_createtable(L, nr > 0 ? nr : 0, 0);
	for (int zid = 0; zid < nr; zid++) {
		memset(&zi, 0, sizeof(zi));
		if (memlab_zone_info(lm->m, zid, &zi) < 0)
			continue;
		push_zone(L, lm, zid, &zi);
		lua_rawseti(L, -2, (lua_Integer)zid + 1);
	}
	return 1;
}

/* m:fragmentation_index(zone, order) --> -1.0 or 0.0 .. 1.0 */
static int m_fragmentation_index(lua_State *L)
{
	lmachine *lm = check_machine(L, "fragmentation_index");
	int zid = check_zone(L, 2, lm, "fragmentation_index");
	unsigned order = check_order(L, 3, lm, "fragmentation_index");

	lua_pushnumber(L, memlab_fragmentation_index(lm->m, zid, order) / 1000.0);
	return 1;
}

/* m:unusable_index(zone, order) --> 0.0 .. 1.0 */
static int m_unusable_index(lua_State *L)
{
	lmachine *lm = check_machine(L, "unusable_index");
	int zid = check_zone(L, 2, lm, "unusable_index");
	unsigned order = check_order(L, 3, lm, "unusable_index");

	lua_pushnumber(L, memlab_unusable_index(lm->m, zid, order) / 1000.0);
	return 1;
}

/*
** m:page(pfn) --> { pfn=, zone=, buddy=, free=, pcp=, pcp_cpu=, order=, reserved=, refcount=,
** mapcount=, folio=, entire_mapcount=, anon=, file=, dirty=, swapbacked=, lru=, anon_exclusive=, active=, referenced=,
** reclaim=, workingset=, unevictable=, mlocked=, lru_list=, index=, migratetype= }
*/
static int m_page(lua_State *L)
{
	lmachine *lm = check_machine(L, "page");
	uint64_t pfn = check_pfn(L, 2, "page");
	struct memlab_page_info pi;
	struct memlab_zone_info zi;
	const char *mt;

	memset(&pi, 0, sizeof(pi));
	if (memlab_page_info(lm->m, pfn, &pi) < 0) {
		lua_pushfstring(L, "pfn must be 0..%I",
				(LUAI_UACINT)lm->info.nr_frames - 1);
		return lmemlab_argerror(L, 2, "page", lua_tostring(L, -1));
	}
	lua_createtable(L, 0, 9);
	lmemlab_setint(L, "pfn", pi.pfn);
	if (pi.zone >= 0 && memlab_zone_info(lm->m, pi.zone, &zi) == 0 && zi.name) {
		lua_pushstring(L, zi.name);
		lua_setfield(L, -2, "zone");
	}
	lmemlab_setbool(L, "buddy", pi.buddy);
	lmemlab_setbool(L, "free", pi.free);
	lmemlab_setbool(L, "pcp", pi.pcp);
	if (pi.pcp_cpu >= 0) {
		lua_pushinteger(L, pi.pcp_cpu);
		lua_setfield(L, -2, "pcp_cpu");
	}
	lmemlab_setint(L, "order", pi.order);
	lmemlab_setbool(L, "reserved", pi.reserved);
	lua_pushinteger(L, pi.refcount);
	lua_setfield(L, -2, "refcount");
	lua_pushinteger(L, pi.mapcount);
	lua_setfield(L, -2, "mapcount");
	lmemlab_setint(L, "folio", pi.folio);
	lua_pushinteger(L, pi.entire_mapcount);
	lua_setfield(L, -2, "entire_mapcount");
	lmemlab_setbool(L, "anon", pi.anon);
	lmemlab_setbool(L, "file", pi.file);
	lmemlab_setbool(L, "dirty", pi.dirty);
	lmemlab_setbool(L, "swapbacked", pi.swapbacked);
	lmemlab_setbool(L, "lru", pi.lru);
	lmemlab_setbool(L, "anon_exclusive", pi.anon_exclusive);
	lmemlab_setbool(L, "active", pi.active);
	lmemlab_setbool(L, "referenced", pi.referenced);
	lmemlab_setbool(L, "reclaim", pi.reclaim);
	lmemlab_setbool(L, "workingset", pi.workingset);
	lmemlab_setbool(L, "unevictable", pi.unevictable);
	lmemlab_setbool(L, "mlocked", pi.mlocked);
	lmemlab_setbool(L, "swapcache", pi.swapcache);
	lmemlab_setbool(L, "slab", pi.slab);
	lmemlab_setbool(L, "large_kmalloc", pi.large_kmalloc);
	if (pi.lru_list) {
		lua_pushstring(L, pi.lru_list);
		lua_setfield(L, -2, "lru_list");
	}
	if (pi.anon || pi.file)
		lmemlab_setint(L, "index", pi.index);
	mt = memlab_migratetype_name(pi.pageblock_migratetype);
	if (mt) {
		lua_pushstring(L, mt);
		lua_setfield(L, -2, "migratetype");
	}
	return 1;
}

/* m:drain_pages() --> true: every per-CPU page list back to the buddy (drain_all_pages) */
static int m_drain_pages(lua_State *L)
{
	lmachine *lm = check_machine(L, "drain_pages");

	memlab_drain_pages(lm->m);
	lua_pushboolean(L, 1);
	return 1;
}

/*
** m:lru_add_drain_all() --> true: every CPU's folio batches drain (pages
** waiting join their lists, queued moves happen, pages no one else holds
** are freed)
*/
static int m_lru_add_drain_all(lua_State *L)
{
	lmachine *lm = check_machine(L, "lru_add_drain_all");

	begin_call(lm);
	end_call(L, lm, "lru_add_drain_all", memlab_lru_add_drain_all(lm->m));
	lua_pushboolean(L, 1);
	return 1;
}

/* m:drop_caches(mode) --> pages dropped: /proc/sys/vm/drop_caches (1, 2 or 3) */
static int m_drop_caches(lua_State *L)
{
	lmachine *lm = check_machine(L, "drop_caches");
	int mode = (int)lmemlab_checkrange(L, 2, "drop_caches", "mode", 1, 3);
	int64_t n;

	begin_call(lm);
	n = memlab_drop_caches(lm->m, mode);
	end_call(L, lm, "drop_caches", n < 0 ? (int)n : 0);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

/* m:lru(name) --> { pfn, ... } from the list's tail (the oldest) to its head */
static int m_lru(lua_State *L)
{
	lmachine *lm = check_machine(L, "lru");
	const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
	int64_t n = memlab_lru(lm->m, name, NULL, 0);
	uint64_t *pfns;

	if (!name)
		return lmemlab_typeerror(L, 2, "lru", "list name");
	if (n < 0)
		return lmemlab_argerror(L, 2, "lru", "list must be inactive_anon, active_anon, "
					"inactive_file, active_file or unevictable");

	lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
	pfns = lua_newuserdatauv(L, (size_t)n * sizeof(uint64_t) + 1, 0);
	memlab_lru(lm->m, name, pfns, (size_t)n);
	for (int64_t j = 0; j < n; j++) {
		lua_pushinteger(L, (lua_Integer)pfns[j]);
		lua_rawseti(L, -3, j + 1);
	}
	lua_pop(L, 1);
	return 1;
}

/*
** m:compact() --> true: compact every zone, as writing 1 to
** /proc/sys/vm/compact_memory does (memlab_compact_memory).
*/
static int m_compact(lua_State *L)
{
	lmachine *lm = check_machine(L, "compact");

	memlab_compact_memory(lm->m);
	lua_pushboolean(L, 1);
	return 1;
}

/* m:check() --> true, or raises "check: N violation(s):\n..." */
static int m_check(lua_State *L)
{
	lmachine *lm = check_machine(L, "check");
	int n;

	begin_call(lm);
	n = memlab_check(lm->m, on_violation, lm);
	lm->in_call = 0;
	if (n <= 0) {
		lm->reports.len = 0;
		lua_pushboolean(L, 1);
		return 1;
	}
	luaL_where(L, 1);
	lua_pushfstring(L, "check: %d violation(s):\n", n);
	if (lm->reports.len == 0 && !lm->reports.truncated)
		lua_pushliteral(L, "(no details)");
	else
		push_reports(L, lm);
	lm->reports.len = 0;
	lua_concat(L, 3);
	return lua_error(L);
}

/* {===================== for the other object files (lmemlab.h) ===================== */

lmachine *lmemlab_checkmachine(lua_State *L, const char *fname)
{
	return check_machine(L, fname);
}

memlab_machine *lmemlab_machine_core(const lmachine *lm)
{
	return lm->m;
}

void lmemlab_begin_call(lmachine *lm)
{
	begin_call(lm);
}

struct ltrace *lmemlab_machine_trace(lua_State *L, lmachine *lm)
{
	if (!lm->trace && !(lm->trace = lmemlab_trace_new(lm->allocf, lm->allocud)))
		luaL_error(L, "on: not enough memory");
	return lm->trace;
}

void lmemlab_end_call(lua_State *L, lmachine *lm, const char *fname, int rc)
{
	end_call(L, lm, fname, rc);
}

/* }===================== */

/* spawn, task, file and sysctl are added to this table by ltask.c */
static const luaL_Reg machine_methods[] = {
	{ "info", m_info },
	{ "alloc_pages", m_alloc_pages },
	{ "free_pages", m_free_pages },
	{ "read_phys", m_read_phys },
	{ "write_phys", m_write_phys },
	{ "proc", m_proc },
	{ "show_mem", m_show_mem },
	{ "vmstat", m_vmstat },
	{ "zones", m_zones },
	{ "fragmentation_index", m_fragmentation_index },
	{ "unusable_index", m_unusable_index },
	{ "page", m_page },
	{ "drain_pages", m_drain_pages },
	{ "lru_add_drain_all", m_lru_add_drain_all },
	{ "drop_caches", m_drop_caches },
	{ "lru", m_lru },
	{ "compact", m_compact },
	{ "check", m_check },
	{ "dmesg", m_dmesg },
	{ "close", m_close },
	{ NULL, NULL }
};

static const luaL_Reg machine_metamethods[] = {
	{ "__index", NULL },	/* the methods table, set below */
	{ "__gc", m_close },
	{ "__close", m_close },
	{ "__tostring", m_tostring },
	{ NULL, NULL }
};

void lmemlab_open_machine(lua_State *L)
{
	if (luaL_newmetatable(L, LMEMLAB_MACHINE)) {
		luaL_setfuncs(L, machine_metamethods, 0);
		luaL_newlib(L, machine_methods);
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
}

/* }===================== */
