/*
** lmemlab.h -- helpers shared by the Lua bindings of memlab (bindings/l*.c).
**
** Argument checking that names the function in every message, the size
** and GFP parsers, and the one helper that turns a negative errno into the
** `nil, "ENOMEM", 12` triple.  Only luaopen_memlab is exported; everything
** here is internal to the module.
*/
#ifndef LMEMLAB_H
#define LMEMLAB_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

#include "memlab/memlab.h"

#if defined(__GNUC__)
#define LMEMLAB_EXPORT __attribute__((visibility("default")))
#else
#define LMEMLAB_EXPORT
#endif

#define LMEMLAB_MACHINE "memlab.machine"	/* metatable name, also __name */
#define LMEMLAB_TASK "memlab.task"
#define LMEMLAB_FILE "memlab.file"

/* The module opener: the table `require("memlab")` returns. */
LMEMLAB_EXPORT int (luaopen_memlab) (lua_State *L);

/* ===================== lmemlab.c: errors and arguments ===================== */

/*
** Push `nil, "ENOMEM", 12` for err = -12 (any negative errno) and return 3,
** the number of results.  For an errno memlab has no name for the name
** is "EUNKNOWN".
*/
int (lmemlab_pushfail) (lua_State *L, int err);

/* A call's result: true for rc >= 0, else as lmemlab_pushfail(rc).  Returns the results pushed. */
int (lmemlab_pushok) (lua_State *L, int rc);

/*
** Raise "bad argument #arg to 'fname' (msg)", numbering as luaL_argerror
** does (one less when called as a method, "calling 'fname' on bad self"
** for self), but always with fname, even when the debug information
** has no name for the function (pcall(m.alloc_pages, ...)).
*/
int (lmemlab_argerror) (lua_State *L, int arg, const char *fname,
			const char *msg);
/* The same for a type mismatch: "<tname> expected, got <type>". */
int (lmemlab_typeerror) (lua_State *L, int arg, const char *fname,
			 const char *tname);

/*
** The integer at arg: a number (not a string) with an exact integer
** value.  Raises for any other type, a fraction, NaN, +-inf or a value
** outside lua_Integer, naming fname and what.
*/
lua_Integer (lmemlab_checkinteger) (lua_State *L, int arg, const char *fname,
				    const char *what);
/* The same, and the value must be in lo..hi. */
lua_Integer (lmemlab_checkrange) (lua_State *L, int arg, const char *fname,
				  const char *what, lua_Integer lo,
				  lua_Integer hi);

/*
** Convert the value at idx into a size: a positive integer (a float with
** an integral value is accepted) or a string such as "64K", "2M", "1GiB",
** "512".  Returns NULL and *out on success, else a message saying what is
** wrong ("size must be > 0").  Never raises.
*/
const char *(lmemlab_tosize) (lua_State *L, int idx, uint64_t *out);
/* The size at arg, raising "bad argument #arg to 'fname' (...)". */
uint64_t (lmemlab_checksize) (lua_State *L, int arg, const char *fname);

/*
** Convert the value at idx into a GFP mask: an integer in 0..2^32-1 or
** names joined by '|' or ',' ("GFP_KERNEL|__GFP_ZERO", "kernel,zero").
** Returns NULL and *out on success, else the message (which may be built
** in msg, of size msgsize).  Never raises.
*/
const char *(lmemlab_togfp) (lua_State *L, int idx, uint32_t *out, char *msg,
			     size_t msgsize);
/* The GFP mask at arg, def when it is none or nil; raises on a bad mask. */
uint32_t (lmemlab_optgfp) (lua_State *L, int arg, const char *fname,
			   uint32_t def);

/* ===================== lmachine.c: the machine object ===================== */

/* Create the metatable of memlab.machine (luaL_newmetatable) and pop it. */
void (lmemlab_open_machine) (lua_State *L);
/* memlab.new{...}: push a new machine. */
int (lmemlab_new) (lua_State *L);

/* The machine's userdata, for the other object files (ltask.c). */
typedef struct lmachine lmachine;

/* The open machine at argument 1 (self), or raise naming fname. */
lmachine *(lmemlab_checkmachine) (lua_State *L, const char *fname);
/* The core machine, NULL once closed. */
memlab_machine *(lmemlab_machine_core) (const lmachine *lm);
/*
** Around one core call: collect the core's reports; after the call raise
** them as "fname: <reports>" if it failed with -EINVAL, else print them.
*/
void (lmemlab_begin_call) (lmachine *lm);
void (lmemlab_end_call) (lua_State *L, lmachine *lm, const char *fname,
			 int rc);
/* Push core text (memlab_free_text'd even when the push raises). */
int (lmemlab_pushtext) (lua_State *L, lmachine *lm, char *text, size_t len);
/* m:proc(path)'s work for an open machine: push text | nil, "ENOENT", 2. */
int (lmemlab_pushproc) (lua_State *L, lmachine *lm, const char *path,
			size_t plen, const char *fname);

/* ===================== ltask.c: tasks and files ===================== */

/*
** The metatables of memlab.task and memlab.file, the machine methods
** spawn, task, file and sysctl, and the PROT_*, MAP_* and MREMAP_*
** constants set in the module table at the top of the stack.  Call after
** lmemlab_open_machine.
*/
void (lmemlab_open_task) (lua_State *L);
/*
** Push the handle of the live task t of the machine whose userdata is at
** index machine: the one handle the machine keeps for that pid, created
** (with name, which may be NULL) when there is none yet.
*/
void (lmemlab_pushtask) (lua_State *L, int machine, memlab_task *t,
			 const char *name);
/*
** After a call for t, whose pid was pid: when the OOM killer chose t,
** Linux's task died in the system call and never saw its result, and
** memlab's has exited.  Then push nil, "SIGKILL", 9 and return 3; else
** push nothing and return 0.
*/
int (lmemlab_pushkilled) (lua_State *L, lmachine *lm, const memlab_task *t, int pid);

/* t[key] = v for the table at the top. */
static inline void lmemlab_setint(lua_State *L, const char *key, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, key);
}

static inline void lmemlab_setbool(lua_State *L, const char *key, int v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, key);
}

/* The live task at argument 1, or raise naming fname; *lmp its machine. */
memlab_task *(lmemlab_checktask) (lua_State *L, const char *fname, lmachine **lmp);
memlab_task *(lmemlab_checktaskat) (lua_State *L, int arg, const char *fname, lmachine **lmp);
/* An address at arg: an integer (a negative one is its two's complement). */
uint64_t (lmemlab_checkaddr) (lua_State *L, int arg, const char *fname, const char *what);
/* A length at arg: an integer or a size string ("64K"). */
uint64_t (lmemlab_checklength) (lua_State *L, int arg, const char *fname, const char *what);

/* A memlab.file userdata. */
typedef struct lfile {
	lmachine *lm;		/* user value 1: the machine; 2: the path */
	memlab_file *f;		/* NULL until created */
	uint64_t size;		/* as created (the file's own once it exists) */
	int writable;
} lfile;

/* The file at arg, which must belong to machine lm, or raise naming fname. */
memlab_file *(lmemlab_checkfile) (lua_State *L, int arg, lmachine *lm, const char *fname);

/* ===================== lcgroup.c: memory cgroups ===================== */

/* The memlab.cgroup metatable, m:cgroup and p:cgroup.  Call after lmemlab_open_task. */
void (lmemlab_open_cgroup) (lua_State *L);

/* ===================== lslab.c: the slab allocator ===================== */

/* The memlab.kmem_cache metatable and m:kmem_cache_create, kmalloc, ...  Call after lmemlab_open_machine. */
void (lmemlab_open_slab) (lua_State *L);

/* ===================== lfile.c: file I/O ===================== */

/* Add read, write, ondisk to the file methods table at the top. */
void (lmemlab_file_methods) (lua_State *L);
/* Add pread, pwrite, msync to the task methods table at the top. */
void (lmemlab_file_task_methods) (lua_State *L);
/* Add sync to the machine methods table at the top. */
void (lmemlab_file_machine_methods) (lua_State *L);

/* ===================== lfault.c: fault injection ===================== */

void (lmemlab_fault_machine_methods) (lua_State *L);	/* inject, injected */
void (lmemlab_fault_task_methods) (lua_State *L);	/* fail_nth, make_it_fail */

/* ===================== ltrace.c: tracing ===================== */

struct ltrace;
struct ltrace *(lmemlab_trace_new) (lua_Alloc allocf, void *allocud);
void (lmemlab_trace_free) (struct ltrace *lt);
/* After a core call: the queued events to m:on's handlers (may raise). */
void (lmemlab_trace_dispatch) (lua_State *L, lmachine *lm, struct ltrace *lt);
/* The machine's queue, created on first use (raises without memory). */
struct ltrace *(lmemlab_machine_trace) (lua_State *L, lmachine *lm);
void (lmemlab_trace_machine_methods) (lua_State *L);	/* on, trace, trace_events, trace_dump */

/* ===================== lmmu.c: access through the MMU ===================== */

/* Add read, write, touch, translate, pte, pagetable to the task methods at the top. */
void (lmemlab_mmu_methods) (lua_State *L);
/* Add rmap to the machine methods table at the top. */
void (lmemlab_mmu_machine_methods) (lua_State *L);

/*
** Names joined by '|' or ',' (spaces allowed, case-insensitive) looked up
** with lookup (the upper-cased token, ud) into a mask; "" is 0.  NULL and
** *out, or an error message built in msg.
*/
const char *lmemlab_parse_names(const char *s, size_t len,
				int64_t (*lookup)(const char *tok, const void *ud),
				const void *ud, const char *kind, uint32_t *out,
				char *msg, size_t msgsize);

/* ===================== ltlb.c: CPUs and TLBs ===================== */

/* What memlab.new's tlb option leaves for after the other options. */
struct lmemlab_tlb_pending {
	unsigned default_sizes;		/* bit i: tlb[i + 1] takes the machine's page size */
	int pwc_given, pcid_given;
	unsigned pwc_named;		/* bit i: pwc_names[i] (pmd, pud, p4d, pgd) given */
	uint32_t pwc[4];
};
/* memlab.new's tlb = false | true | {...} (the value at the top). */
void (lmemlab_tlb_option) (lua_State *L, struct memlab_config *cfg,
			   struct lmemlab_tlb_pending *p);
/* Once every option is read: page sizes and page-walk cache levels. */
void (lmemlab_tlb_resolve) (lua_State *L, struct memlab_config *cfg,
			    const struct lmemlab_tlb_pending *p);
/* Add tlb_stats, tlb_report, tlb_flush_all to the machine methods at the top. */
void (lmemlab_tlb_machine_methods) (lua_State *L);
/* Add run_on to the task methods at the top. */
void (lmemlab_tlb_task_methods) (lua_State *L);

/* ===================== lvmalloc.c: kernel memory ===================== */

/*
** Add vmalloc, vfree, vmap, vunmap, vmallocinfo, vmalloc_stats,
** vmalloc_to_pfn, kread, kwrite, page_address, virt_to_pfn to the machine
** methods table at the top.
*/
void (lmemlab_vmalloc_machine_methods) (lua_State *L);
void (lmemlab_page_machine_methods) (lua_State *L);	/* kpageflags, page_types (lpage.c) */

/* ljson.c */
int lmemlab_json_encode(lua_State *L);

#endif
