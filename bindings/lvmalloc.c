/*
** lvmalloc.c -- the machine's kernel-memory methods: vmalloc, vfree, vmap,
** vunmap, vm_map_ram, vm_unmap_ram, vmallocinfo, vmalloc_stats, vmalloc_to_pfn, and the kernel's
** own view of memory (kread, kwrite, page_address, virt_to_pfn).
**
** Kernel addresses are above 2^63: as Lua integers they are negative
** (two's complement), and hexadecimal literals such as 0xffffc90000000000
** wrap to the same values, so they compare and print ("%x") as expected.
*/
#include <stdbool.h>
#include <string.h>

#include "lmemlab.h"

#define LVMALLOC_MAX_READ	(1ull << 30)

/* A size that may be 0 (vmalloc(0) fails as Linux's does, it does not raise). */
static uint64_t check_vsize(lua_State *L, int arg, const char *fname)
{
	if (lua_type(L, arg) == LUA_TNUMBER &&
	    lmemlab_checkinteger(L, arg, fname, "size") < 0)
		lmemlab_argerror(L, arg, fname, "size must not be negative");
	return lmemlab_checklength(L, arg, fname, "size");
}

/* A caller option: a string without spaces, shorter than MEMLAB_CALLER_MAX. */
static const char *check_caller(lua_State *L, int idx, const char *fname)
{
	const char *s;
	size_t len;
	bool ok = true;

	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_error(L, "%s: option 'caller' must be a string", fname);
	s = lua_tolstring(L, idx, &len);
	for (size_t i = 0; i < len && ok; i++)	/* printable ASCII, as the core takes it */
		ok = s[i] > ' ' && s[i] <= '~';
	if (!ok || len >= MEMLAB_CALLER_MAX)
		luaL_error(L, "%s: option 'caller' must be a symbol such as \"func+0x1a/0x40\""
			   " (printable ASCII, no spaces, under %d bytes)", fname, MEMLAB_CALLER_MAX);
	return s;
}

static const char *const vmalloc_keys[] = { "caller", "gfp", "align", "no_guard", "task", "huge",
					     NULL };

/* A boolean option (the value at the top) setting or clearing flag. */
static void flag_option(lua_State *L, const char *key, uint32_t flag, uint32_t *flags)
{
	if (!lua_isboolean(L, -1))
		luaL_error(L, "vmalloc: option '%s' must be a boolean", key);
	*flags = lua_toboolean(L, -1) ? *flags | flag : *flags & ~flag;
}

/* One option of m:vmalloc (the value at the top, the key below it). */
static void vmalloc_option(lua_State *L, lmachine *lm, struct memlab_vmalloc_opts *o)
{
	lmachine *tlm;
	int k;

	if (lua_type(L, -2) != LUA_TSTRING)
		luaL_error(L, "vmalloc: option names must be strings");
	for (k = 0; vmalloc_keys[k] && strcmp(vmalloc_keys[k], lua_tostring(L, -2)); k++)
		;
	switch (k) {
	case 0: o->caller = check_caller(L, -1, "vmalloc"); break;
	case 1: o->gfp = lmemlab_optgfp(L, lua_gettop(L), "vmalloc", MEMLAB_GFP_KERNEL); break;
	case 2:
		o->align = lmemlab_checklength(L, lua_gettop(L), "vmalloc", "align");
		if (o->align & (o->align - 1))
			luaL_error(L, "vmalloc: option 'align' must be a power of two");
		break;
	case 3: flag_option(L, "no_guard", MEMLAB_VM_NO_GUARD, &o->vm_flags); break;
	case 4:
		o->task = lmemlab_checktaskat(L, lua_gettop(L), "vmalloc", &tlm);
		if (tlm != lm)
			luaL_error(L, "vmalloc: option 'task' is a task of another machine");
		break;
	case 5: flag_option(L, "huge", MEMLAB_VM_ALLOW_HUGE_VMAP, &o->vm_flags); break;
	default: luaL_error(L, "vmalloc: unknown option '%s'", lua_tostring(L, -2));
	}
}

/*
** m:vmalloc(size [, { caller =, gfp =, align =, no_guard =, task =, huge = }]) -->
** addr | nil, "ENOMEM", 12 (nil, "EINVAL", 22 for size 0; nil,
** "SIGKILL", 9 when it failed and the OOM killer took the task).  The caller (what
** vmallocinfo prints) defaults to "memlab_vmalloc+0x0/0x0".
*/
static int m_vmalloc(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vmalloc");
	uint64_t size = check_vsize(L, 2, "vmalloc"), addr = 0;
	struct memlab_vmalloc_opts o = { 0 };
	int rc, pid, nres;

	if (!lua_isnoneornil(L, 3)) {
		if (!lua_istable(L, 3))
			return lmemlab_typeerror(L, 3, "vmalloc", "table of options");
		lua_pushnil(L);
		while (lua_next(L, 3)) {
			vmalloc_option(L, lm, &o);
			lua_pop(L, 1);
		}
	}
	pid = o.task ? memlab_task_pid(o.task) : 0;
	lmemlab_begin_call(lm);
	rc = memlab_vmalloc(lmemlab_machine_core(lm), size, &o, &addr);
	lmemlab_end_call(L, lm, "vmalloc", rc);
	/* an area allocated stays the script's to free, even for a task killed meanwhile */
	if (rc < 0 && o.task && (nres = lmemlab_pushkilled(L, lm, o.task, pid)))
		return nres;
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/*
** m:vfree(addr) and m:vunmap(addr) --> true.  An address no area holds
** raises "vfree: Trying to vfree() nonexistent vm area (...)", the
** warning Linux prints; nothing changes.  0 is a no-op.
*/
static int free_common(lua_State *L, const char *fname, int (*fn)(memlab_machine *, uint64_t))
{
	lmachine *lm = lmemlab_checkmachine(L, fname);
	uint64_t addr = lmemlab_checkaddr(L, 2, fname, "addr");
	int rc;

	lmemlab_begin_call(lm);
	rc = fn(lmemlab_machine_core(lm), addr);
	lmemlab_end_call(L, lm, fname, rc);
	return lmemlab_pushok(L, rc);
}

static int m_vfree(lua_State *L)
{
	return free_common(L, "vfree", memlab_vfree);
}

static int m_vunmap(lua_State *L)
{
	return free_common(L, "vunmap", memlab_vunmap);
}

/* The array of pfns at arg 2 (in a userdata left on the stack) and its length. */
static uint64_t *check_pfns(lua_State *L, const char *fname, uint64_t *count)
{
	uint64_t *pfns;
	lua_Integer n;

	if (!lua_istable(L, 2))
		lmemlab_typeerror(L, 2, fname, "table of pfns");
	n = (lua_Integer)lua_rawlen(L, 2);	/* no __len: the count sizes a buffer */
	if (n < 1)
		lmemlab_argerror(L, 2, fname, "no pfns");
	if ((uint64_t)n > (1ull << 30))
		lmemlab_argerror(L, 2, fname, "more than 2^30 pfns");
	pfns = lua_newuserdatauv(L, (size_t)n * sizeof(*pfns), 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
			lmemlab_argerror(L, 2, fname, "pfns must be non-negative integers");
		pfns[i - 1] = (uint64_t)lua_tointeger(L, -1);
		lua_pop(L, 1);
	}
	*count = (uint64_t)n;
	return pfns;
}

/* Push the address a mapping call returned, or its failure. */
static int push_mapped(lua_State *L, lmachine *lm, const char *fname, int rc, uint64_t addr)
{
	lmemlab_end_call(L, lm, fname, rc);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/*
** m:vmap({ pfn, ... } [, caller]) --> addr | nil, err, errno: the frames
** mapped at consecutive kernel addresses (vmallocinfo: "vmap").
*/
static int m_vmap(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vmap");
	const char *caller = lua_isnoneornil(L, 3) ? NULL : check_caller(L, 3, "vmap");
	uint64_t n, *pfns = check_pfns(L, "vmap", &n), addr = 0;
	int rc;

	lmemlab_begin_call(lm);
	rc = memlab_vmap(lmemlab_machine_core(lm), pfns, n, caller, &addr);
	return push_mapped(L, lm, "vmap", rc, addr);
}

/* m:vm_map_ram({ pfn, ... }) --> addr | nil, err, errno (vmallocinfo: "vm_map_ram") */
static int m_vm_map_ram(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vm_map_ram");
	uint64_t n, *pfns = check_pfns(L, "vm_map_ram", &n), addr = 0;
	int rc;

	lmemlab_begin_call(lm);
	rc = memlab_vm_map_ram(lmemlab_machine_core(lm), pfns, n, &addr);
	return push_mapped(L, lm, "vm_map_ram", rc, addr);
}

/* m:vm_unmap_ram(addr, count) --> true; an address vm_map_ram did not return raises. */
static int m_vm_unmap_ram(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vm_unmap_ram");
	uint64_t addr = lmemlab_checkaddr(L, 2, "vm_unmap_ram", "addr");
	lua_Integer count = lmemlab_checkinteger(L, 3, "vm_unmap_ram", "count");
	int rc;

	if (count < 1)
		return lmemlab_argerror(L, 3, "vm_unmap_ram", "count must be > 0");
	lmemlab_begin_call(lm);
	rc = memlab_vm_unmap_ram(lmemlab_machine_core(lm), addr, (uint64_t)count);
	lmemlab_end_call(L, lm, "vm_unmap_ram", rc);
	return lmemlab_pushok(L, rc);
}

static const char *area_kind(int kind)
{
	switch (kind) {
	case MEMLAB_VMAP_LAZY: return "unpurged";
	case MEMLAB_VMAP_RAM: return "vm_map_ram";
	default: return "busy";
	}
}

/* The flag words of a busy area, as vmallocinfo prints them. */
static void push_area_flags(lua_State *L, const struct memlab_vmap_area *a)
{
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	if (a->flags & MEMLAB_VM_IOREMAP)
		luaL_addstring(&b, " ioremap");
	if (a->flags & MEMLAB_VM_ALLOC)
		luaL_addstring(&b, " vmalloc");
	if (a->flags & MEMLAB_VM_MAP)
		luaL_addstring(&b, " vmap");
	if (a->flags & MEMLAB_VM_USERMAP)
		luaL_addstring(&b, " user");
	if (a->vpages)
		luaL_addstring(&b, " vpages");
	luaL_pushresult(&b);
	if (lua_rawlen(L, -1)) {	/* drop the leading space */
		lua_pushstring(L, lua_tostring(L, -1) + 1);
		lua_remove(L, -2);
	}
}

static void push_area(lua_State *L, const struct memlab_vmap_area *a)
{
	lua_createtable(L, 0, 9);
	lmemlab_setint(L, "addr", a->addr);
	lmemlab_setint(L, "end", a->end);
	lmemlab_setint(L, "size", a->size);
	lua_pushstring(L, area_kind(a->kind));
	lua_setfield(L, -2, "kind");
	lmemlab_setint(L, "node", a->node);
	if (a->kind != MEMLAB_VMAP_BUSY)
		return;
	lmemlab_setint(L, "pages", a->nr_pages);
	push_area_flags(L, a);
	lua_setfield(L, -2, "flags");
	if (a->caller[0]) {
		lua_pushstring(L, a->caller);
		lua_setfield(L, -2, "caller");
	}
}

/*
** m:vmallocinfo() --> { { addr=, ["end"]=, size=, kind="busy"|"unpurged",
** node=, pages=, flags="vmalloc", caller= }, ... } in /proc/vmallocinfo's
** order (end and size include the guard page).
*/
static int m_vmallocinfo(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vmallocinfo");
	memlab_machine *m = lmemlab_machine_core(lm);
	size_t n = memlab_vmap_areas(m, NULL, 0);
	struct memlab_vmap_area *a = lua_newuserdatauv(L, (n ? n : 1) * sizeof(*a), 0);

	n = memlab_vmap_areas(m, a, n);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push_area(L, &a[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/*
** m:vmalloc_stats() --> { vmalloc_start=, vmalloc_end=, page_offset=,
** used_pages=, lazy_pages=, lazy_max_pages=, purges=, tlb_flush_all=,
** kernel_pgtables=, kernel_pgd= (nil before the first), cached_stack_pages=, vmap_nodes= }
*/
static int m_vmalloc_stats(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vmalloc_stats");
	struct memlab_vmalloc_info i;

	memlab_vmalloc_info(lmemlab_machine_core(lm), &i);
	lua_createtable(L, 0, 12);
	lmemlab_setint(L, "vmalloc_start", i.vmalloc_start);
	lmemlab_setint(L, "vmalloc_end", i.vmalloc_end);
	lmemlab_setint(L, "page_offset", i.page_offset);
	lmemlab_setint(L, "used_pages", i.nr_vmalloc_pages);
	lmemlab_setint(L, "lazy_pages", i.vmap_lazy_nr);
	lmemlab_setint(L, "lazy_max_pages", i.lazy_max_pages);
	lmemlab_setint(L, "purges", i.nr_purges);
	lmemlab_setint(L, "tlb_flush_all", i.nr_kernel_tlb_flush_all);
	lmemlab_setint(L, "kernel_pgtables", i.nr_kernel_pgtables);
	if (i.kernel_pgd != UINT64_MAX)
		lmemlab_setint(L, "kernel_pgd", i.kernel_pgd);
	lmemlab_setint(L, "cached_stack_pages", i.nr_cached_stack_pages);
	lmemlab_setint(L, "vmap_nodes", i.nr_vmap_nodes);
	return 1;
}

/* m:kread(addr, n) --> string | nil, "EFAULT", 14 */
static int m_kread(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "kread");
	uint64_t addr = lmemlab_checkaddr(L, 2, "kread", "addr");
	uint64_t n;
	luaL_Buffer b;
	char *buf;
	int rc;

	if (lua_isinteger(L, 3) && lua_tointeger(L, 3) < 0)
		return lmemlab_argerror(L, 3, "kread", "n must not be negative");
	n = lmemlab_checklength(L, 3, "kread", "n");
	if (n > LVMALLOC_MAX_READ)
		return lmemlab_argerror(L, 3, "kread", "n is larger than 1 GiB");
	buf = luaL_buffinitsize(L, &b, (size_t)n);
	rc = memlab_kread(lmemlab_machine_core(lm), addr, buf, (size_t)n);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

/* m:kwrite(addr, s) --> true | nil, "EFAULT", 14 (then nothing is written) */
static int m_kwrite(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "kwrite");
	uint64_t addr = lmemlab_checkaddr(L, 2, "kwrite", "addr");
	const char *s;
	size_t len;

	if (lua_type(L, 3) != LUA_TSTRING)
		return lmemlab_typeerror(L, 3, "kwrite", "data (a string)");
	s = lua_tolstring(L, 3, &len);
	return lmemlab_pushok(L, memlab_kwrite(lmemlab_machine_core(lm), addr, s, len));
}

/* m:page_address(pfn) --> the frame's direct-map address */
static int m_page_address(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "page_address");
	lua_Integer pfn = lmemlab_checkinteger(L, 2, "page_address", "pfn");
	uint64_t addr;

	if (pfn < 0 || memlab_page_address(lmemlab_machine_core(lm), (uint64_t)pfn, &addr))
		return lmemlab_argerror(L, 2, "page_address", "pfn outside RAM");
	lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/* Push the pfn or nil, "EFAULT", 14. */
static int push_pfn(lua_State *L, int rc, uint64_t pfn)
{
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushinteger(L, (lua_Integer)pfn);
	return 1;
}

/* m:virt_to_pfn(addr) --> pfn of a direct-map or vmalloc address | nil, "EFAULT", 14 */
static int m_virt_to_pfn(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "virt_to_pfn");
	uint64_t addr = lmemlab_checkaddr(L, 2, "virt_to_pfn", "addr"), pfn = 0;
	int rc = memlab_kaddr_to_pfn(lmemlab_machine_core(lm), addr, &pfn);

	return push_pfn(L, rc, pfn);
}

/* m:vmalloc_to_pfn(addr) --> pfn | nil, "EFAULT", 14 */
static int m_vmalloc_to_pfn(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "vmalloc_to_pfn");
	uint64_t addr = lmemlab_checkaddr(L, 2, "vmalloc_to_pfn", "addr"), pfn = 0;
	int rc = memlab_vmalloc_to_pfn(lmemlab_machine_core(lm), addr, &pfn);

	return push_pfn(L, rc, pfn);
}

static const luaL_Reg vmalloc_machine_methods[] = {
	{ "vmalloc", m_vmalloc },
	{ "vfree", m_vfree },
	{ "vmap", m_vmap },
	{ "vunmap", m_vunmap },
	{ "vm_map_ram", m_vm_map_ram },
	{ "vm_unmap_ram", m_vm_unmap_ram },
	{ "vmallocinfo", m_vmallocinfo },
	{ "vmalloc_stats", m_vmalloc_stats },
	{ "vmalloc_to_pfn", m_vmalloc_to_pfn },
	{ "kread", m_kread },
	{ "kwrite", m_kwrite },
	{ "page_address", m_page_address },
	{ "virt_to_pfn", m_virt_to_pfn },
	{ NULL, NULL }
};

void lmemlab_vmalloc_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, vmalloc_machine_methods, 0);
}
