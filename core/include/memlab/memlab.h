/*
** memlab.h -- the public C API of memlab, a simulated Linux machine.
**
** This is the only header an embedding host needs.  All state lives in a
** memlab_machine: two machines in one process are independent.  Functions
** that model a system call or a kernel entry point return 0 (or a
** non-negative result) on success and a negative Linux errno
** (-MEMLAB_ENOMEM) on failure; results come back through out-parameters.
** The core never aborts the host: a corrupted simulated state is reported
** through the machine's report callback and memlab_check().
*/
#ifndef MEMLAB_H
#define MEMLAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MEMLAB_BUILDING) && defined(__GNUC__)
#define MEMLAB_API __attribute__((visibility("default")))
#else
#define MEMLAB_API
#endif

#define MEMLAB_VERSION_MAJOR 0
#define MEMLAB_VERSION_MINOR 1
#define MEMLAB_VERSION_PATCH 0
#define MEMLAB_VERSION_STRING "0.1.0"

MEMLAB_API const char *(memlab_version) (void);

/* ===================== errors ===================== */

/*
** Linux's errno numbers (asm-generic/errno-base.h, errno.h), fixed here so
** that the simulation reports the same numbers whatever the host is.
*/
#define MEMLAB_ERRNO_MAP(XX)                                \
	XX(EPERM, 1, "Operation not permitted")             \
	XX(ENOENT, 2, "No such file or directory")          \
	XX(ESRCH, 3, "No such process")                     \
	XX(EINTR, 4, "Interrupted system call")             \
	XX(EIO, 5, "Input/output error")                    \
	XX(E2BIG, 7, "Argument list too long")              \
	XX(EBADF, 9, "Bad file descriptor")                 \
	XX(EAGAIN, 11, "Resource temporarily unavailable")  \
	XX(ENOMEM, 12, "Cannot allocate memory")            \
	XX(EACCES, 13, "Permission denied")                 \
	XX(EFAULT, 14, "Bad address")                       \
	XX(EBUSY, 16, "Device or resource busy")            \
	XX(EEXIST, 17, "File exists")                       \
	XX(ENODEV, 19, "No such device")                    \
	XX(EINVAL, 22, "Invalid argument")                  \
	XX(EMFILE, 24, "Too many open files")               \
	XX(ETXTBSY, 26, "Text file busy")                   \
	XX(EFBIG, 27, "File too large")                     \
	XX(ENOSPC, 28, "No space left on device")           \
	XX(ERANGE, 34, "Numerical result out of range")     \
	XX(ENAMETOOLONG, 36, "File name too long")          \
	XX(ENOSYS, 38, "Function not implemented")          \
	XX(EOVERFLOW, 75, "Value too large for defined data type") \
	XX(EOPNOTSUPP, 95, "Operation not supported")

enum {
#define MEMLAB_ERRNO_ENUM(name, num, text) MEMLAB_##name = num,
	MEMLAB_ERRNO_MAP(MEMLAB_ERRNO_ENUM)
#undef MEMLAB_ERRNO_ENUM
};

/* "ENOMEM" for -12 or 12; NULL for an unknown number. */
MEMLAB_API const char *(memlab_err_name) (int err);
/* "Cannot allocate memory" for -12 or 12; "Unknown error" otherwise. */
MEMLAB_API const char *(memlab_strerror) (int err);

/* ===================== the machine ===================== */

typedef struct memlab_machine memlab_machine;

/*
** The host's allocator for memlab's own metadata, shaped like lua_Alloc:
** nsize == 0 frees ptr, otherwise it (re)allocates; osize is the old size
** (0 for a new block).  Returning NULL for nsize > 0 is an allocation
** failure that memlab reports as -MEMLAB_ENOMEM.
*/
typedef void *(*memlab_alloc_fn)(void *ud, void *ptr, size_t osize,
				 size_t nsize);

/* Reports of corrupted simulated state ("BUG: Bad page state ..."). */
typedef void (*memlab_report_fn)(void *ud, const char *msg);

enum memlab_arch { MEMLAB_ARCH_X86_64 = 0, MEMLAB_ARCH_ARM64 = 1 };

enum memlab_zone_layout {
	MEMLAB_ZONES_ARCH = 0,	/* the architecture's layout (x86-64: DMA, DMA32, Normal) */
	MEMLAB_ZONES_SINGLE = 1	/* one Normal zone over all of RAM */
};

/* ===================== TLBs (see core/tlb.c for the model) ===================== */

#define MEMLAB_TLB_MAX		16	/* TLB structures per CPU */
#define MEMLAB_MAX_CPUS		64	/* a cpumask is one 64-bit word */

/* Which accesses a TLB structure serves. */
enum memlab_tlb_kind {
	MEMLAB_TLB_INSN = 1,		/* instruction fetches ('x'): an iTLB */
	MEMLAB_TLB_DATA = 2,		/* loads and stores ('r', 'w'): a dTLB */
	MEMLAB_TLB_UNIFIED = 3		/* both: an STLB */
};

/* Which way of a full set a fill replaces (invalid ways are always used first). */
enum memlab_tlb_policy {
	MEMLAB_TLB_LRU = 0,		/* least recently used */
	MEMLAB_TLB_FIFO = 1,		/* oldest fill */
	MEMLAB_TLB_RANDOM = 2,		/* from the machine's seeded generator */
	MEMLAB_TLB_PLRU = 3,		/* tree pseudo-LRU */
	MEMLAB_TLB_LFU = 4		/* fewest hits since the fill (ties: lowest way) */
};

/* A page size in memlab_tlb_desc.page_sizes: bit n stands for 2^n bytes. */
#define MEMLAB_TLB_SIZE(shift)	(1ull << (shift))

/*
** One TLB structure of each CPU: entries / ways sets, set = vpn mod sets
** (any number of ways; ways == entries is fully associative).  Level 1
** structures are probed first, then level 2.  page_sizes: the leaf sizes
** it holds (4K, 2M, 1G on x86-64; arm64 the page and block sizes of the
** granule), each a bit MEMLAB_TLB_SIZE(shift).
*/
struct memlab_tlb_desc {
	char name[16];			/* "L1d", "STLB", ... */
	int level;			/* 1 or 2 */
	int kind;			/* enum memlab_tlb_kind */
	uint32_t entries, ways;
	int policy;			/* enum memlab_tlb_policy */
	uint64_t page_sizes;
};

/*
** The TLB hierarchy of every CPU.  nr == 0 and !disabled: the defaults of
** the architecture (memlab_tlb_default_config).  pwc[l]: entries of the
** page-walk cache for level-l table entries (l = 1: PMD entries, Intel's
** PDE cache; 2: PUD, the PDPTE cache; 3 and 4 above), fully associative,
** LRU; pwc_set == 0 takes the defaults for pwc too.
*/
struct memlab_tlb_config {
	int disabled;			/* no TLB and no page-walk cache: every access walks */
	int nr;
	struct memlab_tlb_desc tlb[MEMLAB_TLB_MAX];
	int pwc_set;
	uint32_t pwc[5];
	int nopcid;			/* x86-64: no PCID, every switch_mm flushes */
	unsigned asid_bits;		/* arm64: 8 or 16 (0: 16) */
};

/*
** The default TLBs of the architecture (a Skylake core on x86-64, a
** Cortex-A76 / Neoverse N1 on arm64; core/tlb.c says where the numbers
** come from) for a page size and va_bits (0: 48), with pwc_set and the
** page-walk caches of every upper level of that format.  -MEMLAB_EINVAL
** for a combination memlab_create() would refuse.
*/
MEMLAB_API int (memlab_tlb_default_config) (int arch, uint32_t page_size, unsigned va_bits,
					    struct memlab_tlb_config *cfg);

struct memlab_config {
	int arch;			/* enum memlab_arch */
	uint64_t ram;			/* bytes of simulated RAM */
	uint32_t page_size;		/* 4096; arm64 also 16384 and 65536 */
	uint32_t va_bits;		/* 0: 48; x86-64 48 or 57; arm64 39 or 48 (4K), 36, 47 or 48 (16K), 42 or 48 (64K) */
	uint64_t seed;			/* the machine's random generator */
	int zones;			/* enum memlab_zone_layout */
	int64_t min_free_kbytes;	/* < 0: computed as Linux does */
	int watermark_scale_factor;	/* 0: Linux's default, 10 */
	int pcp_disabled;		/* 0: per-CPU page lists, as Linux; 1: pure buddy */
	memlab_alloc_fn alloc;		/* NULL: malloc/realloc/free */
	void *alloc_ud;
	memlab_report_fn report;	/* NULL: reports go to stderr */
	void *report_ud;
	int cpus;			/* 0: 1; at most MEMLAB_MAX_CPUS */
	struct memlab_tlb_config tlb;	/* all 0: the architecture's defaults */
	int debug_vm;			/* 1: CONFIG_DEBUG_VM's checks as the core runs (slower) */
	uint64_t swap;			/* bytes of the swap file (0: no swap), a whole number of pages */
	int memory_recursiveprot;	/* 1: cgroup2 mounted with memory_recursiveprot (as systemd does) */
	uint32_t xstate_size;		/* x86-64: the CPU's FPU state in bytes (dmesg "x86/fpu: ... context
					   size is N bytes"), part of every task_struct; 0: 2496 */
	int swap_ssd;			/* 1: the swap file is on an SSD (VMA-based swap readahead);
					   0: on a rotating disk, as the reference host's (cluster-based) */
};

/* Fill cfg with the defaults: x86-64, 256 MiB, 4 KiB pages, seed 1. */
MEMLAB_API void (memlab_config_init) (struct memlab_config *cfg);

/*
** Create a machine: its zones, the per-frame descriptors and the buddy
** free lists holding every managed frame.  Returns 0 and *out, or
** -MEMLAB_EINVAL for a configuration Linux could not run with (RAM not a
** whole number of pages, a page size the architecture lacks, RAM too
** small) and -MEMLAB_ENOMEM when the host cannot hold the machine.
*/
MEMLAB_API int (memlab_create) (const struct memlab_config *cfg,
				memlab_machine **out);
MEMLAB_API void (memlab_destroy) (memlab_machine *m);

/* Free text returned by memlab_proc() and friends. */
MEMLAB_API void (memlab_free_text) (memlab_machine *m, char *text);

struct memlab_machine_info {
	int arch;
	uint32_t page_size;
	unsigned page_shift;
	unsigned va_bits;
	uint64_t ram;			/* bytes */
	uint64_t nr_frames;		/* page frames of RAM, pfn 0 .. nr_frames-1 */
	uint64_t nr_reserved;		/* frames never given to the buddy allocator */
	unsigned max_order;		/* MAX_PAGE_ORDER, inclusive (10 on x86-64) */
	unsigned pageblock_order;	/* 9 on x86-64 with 4 KiB pages */
	int nr_zones;			/* every zone, populated or not */
	int mobility_grouping;		/* 0 when page_group_by_mobility_disabled */
	int64_t min_free_kbytes;
	int watermark_scale_factor;
	uint64_t seed;
	int nr_cpus;
	int dead;	/* a kernel BUG (a corrupted list found) stopped it: changes fail with EIO */
	int memory_recursiveprot;	/* cgroup2's mount option (memlab_config) */
	uint32_t xstate_size;		/* the FPU state a task_struct holds (memlab_config); arm64: 0 */
};
MEMLAB_API void (memlab_machine_info) (const memlab_machine *m,
				       struct memlab_machine_info *info);

/* ===================== GFP flags (include/linux/gfp_types.h) ===================== */

#define MEMLAB___GFP_DMA		0x01u
#define MEMLAB___GFP_HIGHMEM		0x02u
#define MEMLAB___GFP_DMA32		0x04u
#define MEMLAB___GFP_MOVABLE		0x08u
#define MEMLAB___GFP_RECLAIMABLE	0x10u
#define MEMLAB___GFP_HIGH		0x20u
#define MEMLAB___GFP_IO			0x40u
#define MEMLAB___GFP_FS			0x80u
#define MEMLAB___GFP_ZERO		0x100u
#define MEMLAB___GFP_DIRECT_RECLAIM	0x400u
#define MEMLAB___GFP_KSWAPD_RECLAIM	0x800u
#define MEMLAB___GFP_WRITE		0x1000u
#define MEMLAB___GFP_NOWARN		0x2000u
#define MEMLAB___GFP_RETRY_MAYFAIL	0x4000u
#define MEMLAB___GFP_NOFAIL		0x8000u
#define MEMLAB___GFP_NORETRY		0x10000u
#define MEMLAB___GFP_MEMALLOC		0x20000u
#define MEMLAB___GFP_COMP		0x40000u
#define MEMLAB___GFP_NOMEMALLOC		0x80000u
#define MEMLAB___GFP_HARDWALL		0x100000u
#define MEMLAB___GFP_THISNODE		0x200000u
#define MEMLAB___GFP_ACCOUNT		0x400000u

#define MEMLAB___GFP_RECLAIM	(MEMLAB___GFP_DIRECT_RECLAIM | MEMLAB___GFP_KSWAPD_RECLAIM)
#define MEMLAB_GFP_ATOMIC	(MEMLAB___GFP_HIGH | MEMLAB___GFP_KSWAPD_RECLAIM)
#define MEMLAB_GFP_KERNEL	(MEMLAB___GFP_RECLAIM | MEMLAB___GFP_IO | MEMLAB___GFP_FS)
#define MEMLAB_GFP_KERNEL_ACCOUNT (MEMLAB_GFP_KERNEL | MEMLAB___GFP_ACCOUNT)
#define MEMLAB_GFP_NOWAIT	(MEMLAB___GFP_KSWAPD_RECLAIM | MEMLAB___GFP_NOWARN)
#define MEMLAB_GFP_NOIO		(MEMLAB___GFP_RECLAIM)
#define MEMLAB_GFP_NOFS		(MEMLAB___GFP_RECLAIM | MEMLAB___GFP_IO)
#define MEMLAB_GFP_USER		(MEMLAB___GFP_RECLAIM | MEMLAB___GFP_IO | MEMLAB___GFP_FS | MEMLAB___GFP_HARDWALL)
#define MEMLAB_GFP_DMA		(MEMLAB___GFP_DMA)
#define MEMLAB_GFP_DMA32	(MEMLAB___GFP_DMA32)
#define MEMLAB_GFP_HIGHUSER	(MEMLAB_GFP_USER | MEMLAB___GFP_HIGHMEM)
#define MEMLAB_GFP_HIGHUSER_MOVABLE (MEMLAB_GFP_HIGHUSER | MEMLAB___GFP_MOVABLE)
#define MEMLAB_GFP_TRANSHUGE_LIGHT ((MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_COMP | \
	MEMLAB___GFP_NOMEMALLOC | MEMLAB___GFP_NOWARN) & ~MEMLAB___GFP_RECLAIM)
#define MEMLAB_GFP_TRANSHUGE	(MEMLAB_GFP_TRANSHUGE_LIGHT | MEMLAB___GFP_DIRECT_RECLAIM)

struct memlab_flag_name {
	const char *name;
	uint32_t value;
};

/*
** Linux's GFP names, composite masks first ("GFP_KERNEL", ...) then the
** single bits ("__GFP_ZERO", ...), ending with { NULL, 0 }.  The order is
** the one Linux's show_gfp_flags() uses to print a mask.
*/
MEMLAB_API const struct memlab_flag_name *(memlab_gfp_names) (void);

/* Print gfp as Linux's tracepoints do ("GFP_KERNEL|__GFP_ZERO"); returns
** the length it needed (like snprintf). */
MEMLAB_API int (memlab_gfp_format) (uint32_t gfp, char *buf, size_t size);

/* ===================== the page allocator ===================== */

enum memlab_migratetype {
	MEMLAB_MIGRATE_UNMOVABLE,
	MEMLAB_MIGRATE_MOVABLE,
	MEMLAB_MIGRATE_RECLAIMABLE,
	MEMLAB_MIGRATE_HIGHATOMIC,
	MEMLAB_MIGRATE_ISOLATE,
	MEMLAB_MIGRATE_TYPES
};
/* "Unmovable", "Movable", ... as /proc/pagetypeinfo prints them. */
MEMLAB_API const char *(memlab_migratetype_name) (int mt);

#define MEMLAB_NR_ORDERS_MAX	14	/* room for arm64 64K pages (MAX_PAGE_ORDER 13) */
#define MEMLAB_MAX_NR_ZONES	5	/* DMA, DMA32, Normal, Movable, Device */

/*
** Allocate 2^order contiguous frames as alloc_pages(gfp, order) does:
** zonelist from gfp_zone(gfp) down, watermark checks with lowmem_reserve,
** free lists of gfp's migrate type with Linux's fallbacks.  Returns 0 and
** the first frame in *pfn, -MEMLAB_ENOMEM when Linux would fail (after
** direct reclaim, for a gfp that allows it; no compaction yet),
** -MEMLAB_EINVAL for order > max_order or an impossible gfp.  A kswapd
** the allocation woke runs before the call returns.
*/
MEMLAB_API int (memlab_alloc_pages) (memlab_machine *m, unsigned order,
				     uint32_t gfp, uint64_t *pfn);

/*
** Free 2^order frames at pfn as __free_pages() does, merging buddies.
** A pfn out of range, a frame that is free already, a reserved frame, a
** pfn not aligned to order or an order that differs from the allocation
** is reported as Linux reports a bad page and returns -MEMLAB_EINVAL
** with nothing changed.
*/
MEMLAB_API int (memlab_free_pages) (memlab_machine *m, uint64_t pfn,
				    unsigned order);

/*
** Frame contents, by physical address: n bytes at paddr, within RAM.
** Only frames that were written cost the host memory; the rest read as
** zeroes.  -MEMLAB_EFAULT when the range leaves RAM.
*/
MEMLAB_API int (memlab_read_phys) (memlab_machine *m, uint64_t paddr,
				   void *buf, size_t n);
MEMLAB_API int (memlab_write_phys) (memlab_machine *m, uint64_t paddr,
				    const void *buf, size_t n);

/* What a frame's descriptor (struct page) holds, for inspection. */
struct memlab_page_info {
	uint64_t pfn;
	int zone;		/* zone index, -1 for a hole or a reserved frame outside zones */
	int buddy;		/* head of a free block (PageBuddy) */
	int free;		/* inside a free block of the buddy lists */
	unsigned order;		/* of the free block, or of the allocation at its head */
	int reserved;		/* PageReserved */
	int refcount;		/* page_ref_count() */
	int pageblock_migratetype;
	int pcp;		/* on a per-CPU page list (then neither free nor allocated) */
	int pcp_cpu;		/* the CPU whose page list holds it, -1 when not pcp */
	int mapcount;		/* page-table entries mapping it, its folio's PMDs included
				   (folio_precise_page_mapcount, as /proc/kpagecount) */
	uint64_t folio;		/* the head of its folio: itself unless in a huge page */
	int entire_mapcount;	/* PMDs mapping its huge page (folio_entire_mapcount) */
	int anon;		/* an anonymous page (PageAnon) */
	int file;		/* a page of a file's page cache (shmem included) */
	int dirty, swapbacked, lru, anon_exclusive;	/* PG_dirty, ..., PageAnonExclusive */
	uint64_t index;		/* page->index: its offset in the file, or linear_page_index */
	int active, referenced, reclaim, workingset, unevictable, mlocked;	/* PG_active, ... */
	int swapcache;		/* in the swap cache (PG_swapcache) */
	const char *lru_list;	/* the LRU list it is on ("inactive_file", ...), or NULL */
	int slab;		/* the head of a slab (page type slab, KPF_SLAB) */
	int large_kmalloc;	/* the head of a kmalloc too big for the kmalloc caches */
	/* A page of a huge page: refcount, anon ... mlocked and index are its folio's
	   (index: the page's own), anon_exclusive the page's own. */
};
MEMLAB_API int (memlab_page_info) (const memlab_machine *m, uint64_t pfn,
				   struct memlab_page_info *info);

/*
** /proc/kpageflags and /proc/kpagecount (fs/proc/page.c, described in
** Documentation/admin-guide/mm/pagemap.rst): one 64-bit word per frame,
** from frame pfn, into out -- at most n; returns how many (out NULL: only
** how many there would be).  As in Linux the files run to the end of the
** last memory section (128 MiB; 512 MiB on arm64 with 64K pages), past
** RAM's end, and those frames are reserved pages; at or past that end
** nothing is read (0).  kpageflags: the KPF_ bits below (bits 0-26 are
** the kernel ABI, 32 and up kernel-internal); kpagecount:
** folio_precise_page_mapcount().
*/
#define MEMLAB_KPF_LOCKED		0
#define MEMLAB_KPF_ERROR		1
#define MEMLAB_KPF_REFERENCED		2
#define MEMLAB_KPF_UPTODATE		3
#define MEMLAB_KPF_DIRTY		4
#define MEMLAB_KPF_LRU			5
#define MEMLAB_KPF_ACTIVE		6
#define MEMLAB_KPF_SLAB			7
#define MEMLAB_KPF_WRITEBACK		8
#define MEMLAB_KPF_RECLAIM		9
#define MEMLAB_KPF_BUDDY		10
#define MEMLAB_KPF_MMAP			11
#define MEMLAB_KPF_ANON			12
#define MEMLAB_KPF_SWAPCACHE		13
#define MEMLAB_KPF_SWAPBACKED		14
#define MEMLAB_KPF_COMPOUND_HEAD	15
#define MEMLAB_KPF_COMPOUND_TAIL	16
#define MEMLAB_KPF_HUGE			17
#define MEMLAB_KPF_UNEVICTABLE		18
#define MEMLAB_KPF_HWPOISON		19
#define MEMLAB_KPF_NOPAGE		20
#define MEMLAB_KPF_KSM			21
#define MEMLAB_KPF_THP			22
#define MEMLAB_KPF_OFFLINE		23
#define MEMLAB_KPF_ZERO_PAGE		24
#define MEMLAB_KPF_IDLE			25
#define MEMLAB_KPF_PGTABLE		26
#define MEMLAB_KPF_RESERVED		32
#define MEMLAB_KPF_MLOCKED		33
#define MEMLAB_KPF_OWNER_2		34	/* PG_anon_exclusive (anon), PG_mappedtodisk */
#define MEMLAB_KPF_PRIVATE		35
#define MEMLAB_KPF_PRIVATE_2		36
#define MEMLAB_KPF_OWNER_PRIVATE	37	/* PG_swapcache (swap-backed), PG_checked */
#define MEMLAB_KPF_ARCH			38
MEMLAB_API int64_t (memlab_kpageflags) (memlab_machine *m, uint64_t pfn, uint64_t *out,
					size_t n);
MEMLAB_API int64_t (memlab_kpagecount) (memlab_machine *m, uint64_t pfn, uint64_t *out,
					size_t n);

/* ===================== zones and statistics ===================== */

struct memlab_zone_info {
	const char *name;		/* "DMA", "DMA32", "Normal", "Movable", "Device" */
	int populated;
	uint64_t start_pfn, spanned, present, managed;
	uint64_t nr_free;		/* NR_FREE_PAGES */
	uint64_t wmark_min, wmark_low, wmark_high, wmark_promo, watermark_boost;
	uint64_t lowmem_reserve[MEMLAB_MAX_NR_ZONES];
	uint64_t nr_reserved_highatomic;
	uint64_t nr_free_highatomic;
	uint64_t nr_free_blocks[MEMLAB_NR_ORDERS_MAX];	/* free_area[o].nr_free */
	uint64_t nr_free_mt[MEMLAB_NR_ORDERS_MAX][MEMLAB_MIGRATE_TYPES];
	uint64_t nr_pageblocks[MEMLAB_MIGRATE_TYPES];
	uint64_t pgalloc;		/* pgalloc_<zone> */
	int pcp_count, pcp_high, pcp_batch;	/* cpu 0's pageset, as zoneinfo shows it */
	int pcp_high_min, pcp_high_max;
	int nr_cpus;				/* the pagesets below: one per CPU */
	struct memlab_pageset {			/* as zoneinfo's "cpu: N" block shows it */
		int count, high, batch, high_min, high_max;
	} pagesets[MEMLAB_MAX_CPUS];
	uint64_t pcp_total;			/* pages on every CPU's lists */
};

MEMLAB_API int (memlab_nr_zones) (const memlab_machine *m);
/* -MEMLAB_EINVAL for a zone index out of range. */
MEMLAB_API int (memlab_zone_info) (const memlab_machine *m, int zid,
				   struct memlab_zone_info *info);

/*
** mm/vmstat.c's indices for zone zid and an order: the fragmentation index
** (-1000 when an allocation of that order would succeed, else 0..1000, 0
** meaning failure for lack of memory and 1000 failure from fragmentation)
** and the unusable free space index (0..1000).  Both in thousandths.
*/
MEMLAB_API int (memlab_fragmentation_index) (const memlab_machine *m,
					     int zid, unsigned order);
MEMLAB_API int (memlab_unusable_index) (const memlab_machine *m, int zid,
					unsigned order);

struct memlab_stat {
	const char *name;
	uint64_t value;
};

/*
** Every /proc/vmstat counter in Linux's order.  Fills at most n items of
** out (out may be NULL) and returns the total number of counters.
*/
MEMLAB_API size_t (memlab_vmstat) (const memlab_machine *m,
				   struct memlab_stat *out, size_t n);
/* One counter by name; -MEMLAB_ENOENT when Linux has no such counter. */
MEMLAB_API int (memlab_vmstat_get) (const memlab_machine *m,
				    const char *name, uint64_t *value);

/*
** Render a simulated procfs file in Linux's exact format: "meminfo",
** "buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat",
** "extfrag/extfrag_index", "extfrag/unusable_index" (the last two are
** debugfs files in Linux), and per task "PID/maps", "PID/smaps",
** "PID/smaps_rollup", "PID/status", "PID/statm", "PID/cgroup".  *text is NUL-terminated and freed with
** memlab_free_text().  -MEMLAB_ENOENT for a path memlab does not model.
*/
MEMLAB_API int (memlab_proc) (memlab_machine *m, const char *path,
			      char **text, size_t *len);

/*
** show_mem() as sysrq-m prints it (the Mem-Info block of a global OOM
** report, for every zone): *text (and *len, if len is not NULL) as
** memlab_proc() gives them, or -MEMLAB_EINVAL for a NULL m or text,
** -MEMLAB_ENOMEM.
*/
MEMLAB_API int (memlab_show_mem) (memlab_machine *m, char **text, size_t *len);

/*
** Memory cgroups: cgroup v2's memory controller, as /sys/fs/cgroup shows
** it.  Paths are absolute from the cgroup root ("/", "/a/b"); the
** controller is on in every cgroup.  Every task starts in its parent's
** cgroup (a spawned one in "/" unless memlab_spawn_args.cgroup says).
**   mkdir: make path and any missing parent (mkdir -p); 0 if it exists.
**     -MEMLAB_ENOENT (not absolute), -MEMLAB_EINVAL (".." or a newline),
**     -MEMLAB_ENAMETOOLONG (a name over 255 bytes), -MEMLAB_ENOSPC (65535
**     cgroups were made).
**   rmdir: -MEMLAB_EBUSY for the root or a cgroup with tasks or children.
**     Pages still charged to it stay (a dying cgroup, reclaimed as any).
**   attach: echo pid > path/cgroup.procs -- the whole thread group moves;
**     its charges stay where they are.  -MEMLAB_ESRCH for no such pid.
**   read: "path/file": cgroup.procs, memory.current, memory.min,
**     memory.low, memory.high, memory.max, memory.peak, memory.events,
**     memory.events.local, memory.stat, memory.oom.group (the root has
**     only cgroup.procs and memory.stat).  Text as memlab_proc().
**   write: "path/file" as echo would: memory.max, memory.high,
**     memory.min, memory.low ("max" or bytes with K/M/G/T suffixes,
**     rounded down to pages), memory.oom.group (0/1), memory.reclaim
**     ("SIZE [swappiness=N]": -MEMLAB_EAGAIN when it fell short),
**     cgroup.procs (a pid), memory.peak and memory.swap.peak (any text).
**     Lowering memory.max below the usage reclaims and then OOM-kills in
**     the cgroup, as Linux does.
**   open, fd_read, fd_write, close: a file held open, as open(2), read(2),
**     write(2) (value's bytes, no newline: "" writes nothing) and
**     close(2).  Only memory.peak and memory.swap.peak keep state per fd
**     (6.12+): an fd never written reads the global peak; a write through
**     it resets the cgroup's local peak to the usage and raises every
**     other written fd's peak to the usage; from then on it reads its own
**     peak, the highest usage since.  After rmdir the fd reads and writes
**     -MEMLAB_ENODEV; a bad fd is -MEMLAB_EBADF; a write over a page is
**     -MEMLAB_E2BIG.  Open files are the machine's, freed with it.
*/
MEMLAB_API int (memlab_cgroup_mkdir) (memlab_machine *m, const char *path);
MEMLAB_API int (memlab_cgroup_rmdir) (memlab_machine *m, const char *path);
MEMLAB_API int (memlab_cgroup_attach) (memlab_machine *m, const char *path, int pid);
MEMLAB_API int (memlab_cgroup_read) (memlab_machine *m, const char *path, char **text,
				     size_t *len);
MEMLAB_API int (memlab_cgroup_write) (memlab_machine *m, const char *path, const char *value);
MEMLAB_API int (memlab_cgroup_open) (memlab_machine *m, const char *path, int *fd);
MEMLAB_API int (memlab_cgroup_fd_read) (memlab_machine *m, int fd, char **text, size_t *len);
MEMLAB_API int (memlab_cgroup_fd_write) (memlab_machine *m, int fd, const char *value);
MEMLAB_API int (memlab_cgroup_close) (memlab_machine *m, int fd);

/*
** Linux's drain_all_pages(): give every page on the per-CPU page lists of
** every CPU and zone back to the buddy allocator (where it merges with
** its free buddies).  Linux calls it when an allocation fails after
** direct reclaim (__alloc_pages_direct_reclaim), and for memory
** offlining, isolation and kcompactd; memlab's slow path and kcompactd do
** too.  Returns 0.
*/
MEMLAB_API int (memlab_drain_pages) (memlab_machine *m);

/*
** Linux's lru_add_drain_all(): every CPU's folio batches drain -- the new
** pages waiting to join an LRU list join it, the queued moves between
** lists (activation, deactivation, MADV_FREE's, the rotation of a page
** written back) happen, and the batches' page references go (a page no
** one else holds is freed, onto the per-CPU lists of the CPU whose batch
** held it: Linux drains each CPU's batches on that CPU).  Linux calls it for drop_caches, compaction
** of every node and memory.reclaim's last try; a host calls it to see
** the lists as they will be.  Returns 0.
*/
MEMLAB_API int (memlab_lru_add_drain_all) (memlab_machine *m);

/*
** /proc/sys/vm/drop_caches: mode 1 drops the clean page cache no one maps
** (invalidate_mapping_pages; pages it cannot drop are deactivated), 2
** the reclaimable slab objects (memlab has none: counted only), 3 both;
** vmstat drop_pagecache / drop_slab count the calls.  Returns the pages
** dropped, or -MEMLAB_EINVAL for another mode.
*/
MEMLAB_API int64_t (memlab_drop_caches) (memlab_machine *m, int mode);

/*
** The node's LRU list named lru ("inactive_anon", "active_anon",
** "inactive_file", "active_file", "unevictable"): its pages' pfns from
** the tail (the oldest, which reclaim takes first) into out, at most n.
** Returns how many the list holds, or -MEMLAB_EINVAL for an unknown name.
*/
MEMLAB_API int64_t (memlab_lru) (memlab_machine *m, const char *lru, uint64_t *out, size_t n);

/*
** Compact every populated zone, as writing 1 to /proc/sys/vm/compact_memory
** does (mm/compaction.c compact_node: whole zones, MIGRATE_SYNC): movable
** pages (those on the LRU lists: process memory, the page cache) move to
** free frames high in each zone, their page-table entries follow, and free
** memory gathers in high-order blocks low in the zone.  Counts
** compact_migrate_scanned, compact_free_scanned, compact_isolated,
** pgmigrate_success and pgmigrate_fail.  Returns 0.
*/
MEMLAB_API int (memlab_compact_memory) (memlab_machine *m);

/* ===================== processes and address spaces ===================== */

/*
** A task's lifetime.  Any call for a task that may allocate memory for it
** (an access, mmap with MAP_POPULATE, mprotect of a locked mapping, brk,
** mremap, madvise, mlock, fork, pread/pwrite; and memlab_cgroup_write of
** memory.max) may run the OOM killer inside that allocation, as Linux
** does: the victims other than the caller (and those sharing its mm) have
** exited when it returns to the retried allocation, the caller chosen has
** exited when the call returns.  Their memlab_task pointers dangle then:
** a host that keeps tasks across calls looks them up again by pid
** (memlab_find_task).
*/
typedef struct memlab_task memlab_task;
typedef struct memlab_file memlab_file;

/* mmap(2) protections and flags, with x86-64's (and arm64's) values. */
#define MEMLAB_PROT_NONE	0x0
#define MEMLAB_PROT_READ	0x1
#define MEMLAB_PROT_WRITE	0x2
#define MEMLAB_PROT_EXEC	0x4
#define MEMLAB_PROT_GROWSDOWN	0x01000000
#define MEMLAB_PROT_GROWSUP	0x02000000

#define MEMLAB_MAP_SHARED		0x01
#define MEMLAB_MAP_PRIVATE		0x02
#define MEMLAB_MAP_SHARED_VALIDATE	0x03
#define MEMLAB_MAP_DROPPABLE		0x08	/* a map type (Linux 6.11+): anonymous, private, droppable */
#define MEMLAB_MAP_TYPE			0x0f
#define MEMLAB_MAP_FIXED		0x10
#define MEMLAB_MAP_ANONYMOUS		0x20
#define MEMLAB_MAP_GROWSDOWN		0x0100
#define MEMLAB_MAP_DENYWRITE		0x0800
#define MEMLAB_MAP_EXECUTABLE		0x1000
#define MEMLAB_MAP_LOCKED		0x2000
#define MEMLAB_MAP_NORESERVE		0x4000
#define MEMLAB_MAP_POPULATE		0x8000
#define MEMLAB_MAP_NONBLOCK		0x10000
#define MEMLAB_MAP_STACK		0x20000
#define MEMLAB_MAP_HUGETLB		0x40000
#define MEMLAB_MAP_SYNC			0x80000
#define MEMLAB_MAP_FIXED_NOREPLACE	0x100000

/*
** With MAP_HUGETLB, bits 26..31 of the flags choose the huge page size by
** its log2 (0: the default, the PMD size); include/uapi/linux/mman.h.
*/
#define MEMLAB_MAP_HUGE_SHIFT		26
#define MEMLAB_MAP_HUGE_MASK		0x3f
#define MEMLAB_MAP_HUGE_16KB		(14u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_64KB		(16u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_512KB		(19u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_1MB		(20u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_2MB		(21u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_8MB		(23u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_16MB		(24u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_32MB		(25u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_256MB		(28u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_512MB		(29u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_1GB		(30u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_2GB		(31u << MEMLAB_MAP_HUGE_SHIFT)
#define MEMLAB_MAP_HUGE_16GB		(34u << MEMLAB_MAP_HUGE_SHIFT)

#define MEMLAB_MREMAP_MAYMOVE		1
#define MEMLAB_MREMAP_FIXED		2
#define MEMLAB_MREMAP_DONTUNMAP		4

/*
** Linux's names of the MAP_* flags ("MAP_SHARED", ...), the map types
** (MAP_DROPPABLE) and the MAP_HUGE_* sizes, ending { NULL, 0 }.
*/
MEMLAB_API const struct memlab_flag_name *(memlab_map_names) (void);

/* The program image of a spawned task: segment sizes in bytes. */
struct memlab_exe {
	uint64_t text;			/* r-xp, after one r--p page of ELF headers */
	uint64_t rodata;		/* r--p */
	uint64_t data;			/* rw-p, file-backed */
	uint64_t bss;			/* rw-p, zero-filled; beyond the last data page anonymous */
};

struct memlab_spawn_args {
	const char *name;		/* comm (at most 15 bytes shown); default "a.out" */
	const char *path;		/* the executable's path in maps; default /usr/local/bin/<name> */
	struct memlab_exe exe;		/* all 0: a small default image */
	/*
	** The soft limits (rlim_cur).  0 stands for Linux's default unless
	** the resource's MEMLAB_RLIMIT_BIT is in rlimit_set: then 0 is a
	** limit of 0.  The hard limit (rlim_max) is Linux's default
	** (unlimited; 8 MiB for RLIMIT_MEMLOCK), or the soft limit if higher.
	*/
	uint64_t stack_rlimit;		/* RLIMIT_STACK; 0: 8 MiB; UINT64_MAX: unlimited (all rlimits) */
	uint64_t data_rlimit;		/* RLIMIT_DATA; 0: unlimited */
	uint64_t as_rlimit;		/* RLIMIT_AS; 0: unlimited */
	uint64_t memlock_rlimit;	/* RLIMIT_MEMLOCK; 0: Linux's default 8 MiB */
	unsigned rlimit_set;		/* MEMLAB_RLIMIT_BIT(r): that field is the limit, 0 included */
	int aslr;			/* randomize_va_space: 0 off, 1, 2 (Linux's default) */
	int root;			/* CAP_SYS_RAWIO, CAP_IPC_LOCK: may map below mmap_min_addr */
	int no_interp;			/* no ld.so: a static PIE, loaded under mmap_base, brk at ELF_ET_DYN_BASE */
	const char *cgroup;		/* the memory cgroup it execs in (made if missing), charged for the exec; NULL: "/" */
};

/*
** The resource limits memlab reads, with Linux's numbers (x86-64 and
** arm64), and RLIM_INFINITY.  MEMLAB_RLIMIT_BIT(r) is r's bit in
** memlab_spawn_args.rlimit_set.
*/
#define MEMLAB_RLIMIT_DATA	2
#define MEMLAB_RLIMIT_STACK	3
#define MEMLAB_RLIMIT_MEMLOCK	8
#define MEMLAB_RLIMIT_AS	9
#define MEMLAB_RLIM_INFINITY	(~(uint64_t)0)
#define MEMLAB_RLIMIT_BIT(r)	(1u << (r))

/*
** Create a task with an mm as execve() of a PIE would leave it: the image
** at ELF_ET_DYN_BASE (+ random with ASLR), bss, the break, the stack VMA
** at the top of the user address space and mmap_base below it.  Returns
** 0 and *out, -MEMLAB_EINVAL for impossible arguments, -MEMLAB_ENOMEM.
*/
MEMLAB_API int (memlab_spawn) (memlab_machine *m, const struct memlab_spawn_args *args,
			       memlab_task **out);
/*
** fork(2): a child with a copy of t's address space -- private pages
** shared copy-on-write, shared mappings shared, VM_DONTCOPY VMAs left
** out, VM_WIPEONFORK ones empty, mlock not inherited.  0 and the child
** in *out, or -MEMLAB_ENOMEM (overcommit refused a VM_ACCOUNT copy, or
** no frame for a page table and the OOM killer could not help) with
** nothing of the child left.  A page table that finds no free frame, or
** no room under t's cgroup's memory.max, runs the OOM killer: another
** task killed, the fork goes on; t killed, the fork fails (-MEMLAB_ENOMEM,
** or -MEMLAB_EINTR: dup_mmap copies no more VMAs for a dying parent) and
** t has exited when the call returns.
*/
MEMLAB_API int (memlab_fork) (memlab_task *t, memlab_task **out);

/*
** clone(2)'s flags that memlab knows, with Linux's values.  CLONE_VM
** shares the mm; CLONE_SIGHAND needs CLONE_VM and CLONE_THREAD needs
** CLONE_SIGHAND (else EINVAL, as copy_process checks).  CLONE_FS,
** CLONE_FILES and CLONE_SYSVSEM are accepted and change nothing memlab
** models; any other flag is EINVAL.
*/
#define MEMLAB_CLONE_VM		0x00000100u
#define MEMLAB_CLONE_FS		0x00000200u
#define MEMLAB_CLONE_FILES	0x00000400u
#define MEMLAB_CLONE_SIGHAND	0x00000800u
#define MEMLAB_CLONE_THREAD	0x00010000u
#define MEMLAB_CLONE_SYSVSEM	0x00040000u
#define MEMLAB_CLONE_SUPPORTED	(MEMLAB_CLONE_VM | MEMLAB_CLONE_FS | MEMLAB_CLONE_FILES | \
				 MEMLAB_CLONE_SIGHAND | MEMLAB_CLONE_THREAD | MEMLAB_CLONE_SYSVSEM)
/* What pthread_create() passes (glibc's create_thread, less the TLS and tid flags). */
#define MEMLAB_CLONE_PTHREAD	(MEMLAB_CLONE_VM | MEMLAB_CLONE_FS | MEMLAB_CLONE_FILES | \
				 MEMLAB_CLONE_SIGHAND | MEMLAB_CLONE_THREAD | MEMLAB_CLONE_SYSVSEM)

/*
** clone(2): fork when clone_flags is 0; with MEMLAB_CLONE_VM the child
** shares t's mm (mm_users counts the tasks using it) and runs on the next
** CPU in turn, so that one address space can be live on several CPUs;
** with MEMLAB_CLONE_THREAD it joins t's thread group (its tgid).  0 and
** the child in *out, -MEMLAB_EINVAL for bad flags, -MEMLAB_ENOMEM.
*/
MEMLAB_API int (memlab_clone) (memlab_task *t, uint64_t clone_flags, memlab_task **out);

/*
** exit(2) of one task: it lets go of its mm, and the last task using an
** mm unmaps everything.  The handle is dead after.
*/
MEMLAB_API void (memlab_task_exit) (memlab_task *t);
MEMLAB_API int (memlab_task_pid) (const memlab_task *t);
/* Its thread group's id: its own pid unless it was cloned with MEMLAB_CLONE_THREAD. */
MEMLAB_API int (memlab_task_tgid) (const memlab_task *t);

/*
** getrlimit(2) and setrlimit(2) (prlimit(2) of t itself, Linux's
** do_prlimit) of one of the MEMLAB_RLIMIT_* resources; the limits belong
** to t's thread group, and fork children inherit them.  The soft limit
** cur is the one the checks read.  memlab_getrlimit: 0 (cur or max may
** be NULL).  memlab_setrlimit: 0, -MEMLAB_EINVAL for another resource
** (memlab knows no others) or cur > max, -MEMLAB_EPERM raising max
** above the old one without root (CAP_SYS_RESOURCE), -MEMLAB_EIO on a
** dead machine.  A new
** RLIMIT_STACK does not move the mmap layout set at spawn, as Linux
** sets it at execve.
*/
MEMLAB_API int (memlab_getrlimit) (memlab_task *t, int resource, uint64_t *cur, uint64_t *max);
MEMLAB_API int (memlab_setrlimit) (memlab_task *t, int resource, uint64_t cur, uint64_t max);
MEMLAB_API memlab_machine *(memlab_task_machine) (const memlab_task *t);
/* The live tasks, newest first: at most n into out; returns how many there are. */
MEMLAB_API size_t (memlab_tasks) (memlab_machine *m, memlab_task **out, size_t n);
/* The live task with that pid, or NULL. */
MEMLAB_API memlab_task *(memlab_find_task) (memlab_machine *m, int pid);

/*
** A simulated regular file for file-backed mappings, shown in maps with
** its path, device and inode.  size in bytes; writable: opened O_RDWR
** (else O_RDONLY: MAP_SHARED|PROT_WRITE fails with EACCES, as in Linux).
** -MEMLAB_EINVAL for a relative path or one of 128 bytes or more,
** -MEMLAB_EFBIG for a size past ext4's largest file (16 TiB less 4 KiB).
*/
MEMLAB_API int (memlab_file_create) (memlab_machine *m, const char *path, uint64_t size,
				     int writable, memlab_file **out);

/*
** read(2) and write(2) of a file through the page cache, from a host
** buffer (done: the bytes moved; a read stops at the end of the file, a
** write extends it).  -MEMLAB_EBADF writing a file not opened writable,
** -MEMLAB_EFBIG past ext4's largest file, -MEMLAB_ENOMEM with no frame
** for the cache.  memlab_file_size is the file's i_size.
*/
MEMLAB_API int (memlab_file_pread) (memlab_file *f, uint64_t off, void *buf, uint64_t n,
				    uint64_t *done);
MEMLAB_API int (memlab_file_pwrite) (memlab_file *f, uint64_t off, const void *buf,
				     uint64_t n, uint64_t *done);
MEMLAB_API uint64_t (memlab_file_size) (const memlab_file *f);

/*
** ftruncate(2) of the file to length bytes, as ext4 (4K blocks) does it
** on Linux 6.18: the mappings of its pages past the new end are zapped --
** a private mapping's copies of them too -- and those pages leave the
** page cache, dirty or not; the page holding the end keeps its part
** before it, the rest zeroed, and is found or made (a new one not up to
** date: mincore does not count it) and, under data=ordered (large
** folios), dirtied; a large folio across the end is split there
** (folio_split), or, dirty, stays whole and unmapped.  A fault at or past
** the end is SIGBUS.  Growing leaves a hole.  -MEMLAB_EINVAL for a
** negative length or a file not opened writable (shmem and hugetlbfs
** objects too: no file descriptor opens them), -MEMLAB_EFBIG past ext4's
** largest file (16 TiB less 4 KiB).  With no frame for the page at the
** end, that page is left as it was, as Linux 6.18 does.
*/
MEMLAB_API int (memlab_file_truncate) (memlab_file *f, int64_t length);

/*
** What the file's disk holds (not the page cache): n bytes at off, zeroes
** past the end of what was ever written back.  For experiments on
** write-back.  -MEMLAB_EINVAL for a range past the file's end.
*/
MEMLAB_API int (memlab_file_ondisk) (memlab_file *f, uint64_t off, void *buf, uint64_t n);
/*
** Put contents on the file's disk directly, as if the file had been
** written before the machine booted (the file grows to cover them).
** -MEMLAB_EBUSY when a page of the range is in the page cache already.
*/
MEMLAB_API int (memlab_file_load) (memlab_file *f, uint64_t off, const void *buf, uint64_t n);

/* sync(2): every file's dirty pages are written back to its disk. */
MEMLAB_API int (memlab_sync) (memlab_machine *m);

/*
** posix_fadvise(2) of a file, Linux's values: NORMAL, RANDOM and
** SEQUENTIAL set its readahead (SEQUENTIAL doubles the window, RANDOM
** reads only what is asked), WILLNEED reads [off, off + len) into the page
** cache now (at most max(read_ahead_kb, max_sectors_kb) of it), DONTNEED
** writes the range's dirty pages back and drops its whole pages that
** nothing maps or holds (a page it wrote back stays: under writeback while
** the drop ran, as on ext4 data=journal) and the range's workingset
** shadows; NOREUSE is accepted.  len 0: to the end of the
** file.  -MEMLAB_EINVAL for a negative len or an unknown advice.
*/
#define MEMLAB_POSIX_FADV_NORMAL	0
#define MEMLAB_POSIX_FADV_RANDOM	1
#define MEMLAB_POSIX_FADV_SEQUENTIAL	2
#define MEMLAB_POSIX_FADV_WILLNEED	3
#define MEMLAB_POSIX_FADV_DONTNEED	4
#define MEMLAB_POSIX_FADV_NOREUSE	5
MEMLAB_API int (memlab_fadvise) (memlab_file *f, int64_t off, int64_t len, int advice);

/*
** A file's readahead state (struct file_ra_state): the last window read
** ahead, [start, start + size) pages, whose last async_size pages were read
** before anyone asked (the first of them marked PG_readahead, kpageflags'
** "reclaim"); ra_pages, the window's limit; mmap_miss, the mmap faults
** that missed the cache less those that hit (past 100, faults read around
** no more); prev_pos, the byte after the last read(2) (-1: none); random,
** after POSIX_FADV_RANDOM.  A file is open once: read(2) and its mappings
** share this state.
*/
struct memlab_file_ra {
	uint64_t start, size, async_size, ra_pages;
	unsigned mmap_miss;
	int64_t prev_pos;
	int random;
	unsigned order;		/* ra->order: the folio order the next window asks for */
};
MEMLAB_API int (memlab_file_ra) (const memlab_file *f, struct memlab_file_ra *out);

/*
** Large folios in the file's page cache (mapping_set_large_folios), as
** ext4 gives a regular file since Linux 6.16 unless it is mounted
** data=journal (memlab's default: a page per folio): readahead reads in
** folios of rising order, write(2) makes folios as large as its length,
** fault-around maps a large folio whole where it fits.  The largest is
** ext4's: 2^min(11, PMD order, 11 + 12 - PAGE_SHIFT) pages (2 MiB with
** 4K pages); a PMD-sized one maps by a PMD where the VMA holds it at an
** offset of its size.
** -MEMLAB_EBUSY while the file has pages cached, -MEMLAB_EINVAL for shmem.
*/
MEMLAB_API int (memlab_file_large_folios) (memlab_file *f, int enable);

/* A folio of a file's page cache (memlab_file_folios). */
struct memlab_cache_folio {
	uint64_t index;		/* its first page's, in pages */
	uint64_t pfn;		/* its head's frame */
	unsigned order;
	unsigned readahead : 1, dirty : 1, active : 1, referenced : 1, workingset : 1,
		 mapped : 1, uptodate : 1;
};
/*
** The folios of the file's page cache in index order: at most n into out;
** returns how many there are (-MEMLAB_ENOMEM without host memory).
*/
MEMLAB_API int64_t (memlab_file_folios) (const memlab_file *f, struct memlab_cache_folio *out,
					 size_t n);

/*
** The disk's request queue, /sys/block/<disk>/queue (-1 leaves a value):
** read_ahead_kb (128), the readahead window's limit, kept in whole pages
** as Linux keeps it; and max_sectors_kb (1280), the largest request, which
** a read larger than the window may use: 0 sets the default, a value
** above the disk's 32767 is clamped to it, and setting it raises
** read_ahead_kb to 128 at least (blk_apply_bdi_limits; given both, it is
** written first).  A file takes read_ahead_kb
** when it is created, as an open file does at open(2): a change applies
** to files created after it.  -MEMLAB_EINVAL for a value below -1 or above
** UINT_MAX, or a max_sectors_kb from 1 to 3 (below 4 KiB); nothing changes.
*/
struct memlab_disk_queue {
	int64_t read_ahead_kb;
	int64_t max_sectors_kb;
};
MEMLAB_API int (memlab_disk_queue) (memlab_machine *m, const struct memlab_disk_queue *set,
				    struct memlab_disk_queue *get);

/*
** The system calls, with Linux 6.x semantics down to the errno.  Each
** returns 0 or a negative errno; results through out-parameters.
** memlab_brk() is brk(2): it always returns the break (the new one on
** success, the old one on failure).  memlab_sbrk() is glibc's sbrk():
** 0 and the OLD break in *old, or -MEMLAB_ENOMEM.  memlab_mmap() with
** MAP_ANONYMOUS|MAP_HUGETLB behaves as Linux with no huge pages reserved:
** -MEMLAB_ENOMEM unless MAP_NORESERVE (see README.md).
*/
MEMLAB_API int (memlab_mmap) (memlab_task *t, uint64_t addr, uint64_t len, int prot,
			      int flags, memlab_file *file, uint64_t offset, uint64_t *out);
MEMLAB_API int (memlab_munmap) (memlab_task *t, uint64_t addr, uint64_t len);
MEMLAB_API int (memlab_mprotect) (memlab_task *t, uint64_t addr, uint64_t len, int prot);
MEMLAB_API int (memlab_mremap) (memlab_task *t, uint64_t old_addr, uint64_t old_len,
				uint64_t new_len, int flags, uint64_t new_addr, uint64_t *out);
MEMLAB_API uint64_t (memlab_brk) (memlab_task *t, uint64_t addr);
/*
** madvise(2) with Linux's advice values (MADV_DONTNEED 4, MADV_FREE 8,
** MADV_HUGEPAGE 14, ...; memlab_madv_names() lists them): flag advice
** splits and merges VMAs like mprotect (EAGAIN past vm.max_map_count),
** DONTNEED drops pages, FREE makes anonymous ones lazily freeable,
** WILLNEED reads file pages ahead, POPULATE_READ/WRITE fault them in.
** COLD deactivates and PAGEOUT reclaims the pages only this mm maps;
** REMOVE, COLLAPSE and the guard, hwpoison and soft-offline advice are
** EINVAL.
*/
MEMLAB_API int (memlab_madvise) (memlab_task *t, uint64_t addr, uint64_t len, int advice);
MEMLAB_API const struct memlab_flag_name *(memlab_madv_names) (void);

/*
** mlock(2) / mlock2(2) (flags 0 or MEMLAB_MLOCK_ONFAULT: lock pages as they
** fault in, populate nothing), munlock(2), mlockall(2) (MCL_CURRENT locks
** every VMA now, MCL_FUTURE the later ones, MCL_ONFAULT with either) and
** munlockall(2), Linux's values.  ENOMEM for a hole (the VMAs before it
** changed) or past RLIMIT_MEMLOCK without root (CAP_IPC_LOCK), EPERM with
** a limit of 0; VMAs split and merge as with mprotect.
*/
#define MEMLAB_MLOCK_ONFAULT	0x01
#define MEMLAB_MCL_CURRENT	1
#define MEMLAB_MCL_FUTURE	2
#define MEMLAB_MCL_ONFAULT	4
MEMLAB_API int (memlab_mlock) (memlab_task *t, uint64_t addr, uint64_t len, int flags);
MEMLAB_API int (memlab_munlock) (memlab_task *t, uint64_t addr, uint64_t len);
MEMLAB_API int (memlab_mlockall) (memlab_task *t, int flags);
MEMLAB_API int (memlab_munlockall) (memlab_task *t);

/* msync(2): MS_ASYNC 1, MS_INVALIDATE 2, MS_SYNC 4 (x86-64 and arm64). */
#define MEMLAB_MS_ASYNC		1
#define MEMLAB_MS_INVALIDATE	2
#define MEMLAB_MS_SYNC		4
MEMLAB_API int (memlab_msync) (memlab_task *t, uint64_t addr, uint64_t len, int flags);
/*
** pread64(2) and pwrite64(2) by task t of file f (standing for its file
** descriptor) into or out of its memory at addr: the kernel's copies
** fault like the task's accesses; a bad buffer is -MEMLAB_EFAULT when no
** byte moved, else the bytes before it count (done).
*/
MEMLAB_API int (memlab_pread) (memlab_task *t, memlab_file *f, uint64_t addr,
			       uint64_t count, uint64_t off, uint64_t *done);
MEMLAB_API int (memlab_pwrite) (memlab_task *t, memlab_file *f, uint64_t addr,
				uint64_t count, uint64_t off, uint64_t *done);
MEMLAB_API int (memlab_sbrk) (memlab_task *t, int64_t increment, uint64_t *old);
/*
** mincore(2) into the host's vec, one byte a page of [addr, addr + len)
** (len rounded up to pages): 1 when the page is resident -- mapped, in
** the swap cache, or, for a file mapping, in the page cache -- else 0.
** -MEMLAB_EINVAL for an unaligned addr, -MEMLAB_ENOMEM for a range past
** TASK_SIZE or with a hole (the bytes before it are written).
*/
MEMLAB_API int (memlab_mincore) (memlab_task *t, uint64_t addr, uint64_t len,
				 unsigned char *vec);

/*
** A user access of len bytes at addr, through the MMU of the task's CPU
** (a context switch first if that CPU runs another mm): for each page the
** TLBs, else a page walk (A and D set as the hardware sets them, the TLBs
** filled) and, where the entry does not allow the access, Linux's fault
** handling (find_vma, stack
** growth, access_error, the zero page, demand allocation, the page
** cache, copy on write), then the bytes.  access: 'r' copies into buf,
** 'w' copies from buf, 'x' fetches (into buf); buf may be NULL to touch
** without data.  Returns 0; -MEMLAB_EFAULT with *si_code = SEGV_MAPERR,
** SEGV_ACCERR, SEGV_KERNEL (x86: a non-canonical address, a general
** protection fault) or BUS_ADRERR (a file page past its end) when Linux would
** send a signal, after the bytes before the faulting page were copied;
** when a fault finds no free frame the OOM killer runs inside its
** allocation (oom_kill.c): when it kills other processes the allocation
** is retried; when it kills the task
** itself (or a process sharing its mm) the access returns -MEMLAB_EFAULT
** with *si_code = MEMLAB_SIGKILL, and the task (its thread group, the
** processes sharing its mm) exits as the outermost call returns: the
** task pointer is dangling then (memlab_find_task(m, pid) no longer
** finds it).  -MEMLAB_ENOMEM when no frame was found and the OOM killer
** could not help (vm.panic_on_oom, nothing killable, an injected
** failure, the host's memory); -MEMLAB_EINVAL for another access letter.  memlab_touch is
** memlab_access without data.
*/
#define MEMLAB_SEGV_MAPERR	1
#define MEMLAB_SEGV_ACCERR	2
#define MEMLAB_BUS_ADRERR	0x702	/* SIGBUS (7) BUS_ADRERR (2): beyond the end of a file */
#define MEMLAB_SIGKILL		0x980	/* SIGKILL (9) SI_KERNEL (0x80): the OOM killer's choice */
#define MEMLAB_SEGV_KERNEL	0x80	/* SIGSEGV SI_KERNEL: x86's #GP, a non-canonical address */
MEMLAB_API int (memlab_access) (memlab_task *t, uint64_t addr, uint64_t len, int access,
				void *buf, int *si_code);
MEMLAB_API int (memlab_touch) (memlab_task *t, uint64_t addr, uint64_t len, int access,
			       int *si_code);

/*
** A stream of accesses run in C, each through memlab_access: count
** accesses of size bytes (a divisor of the page size, at most a page) at
** offsets in [base, base + len) --
**   SEQ     0, size, 2 * size, ... wrapping at len;
**   STRIDE  0, stride, 2 * stride, ... modulo len (aligned down to size);
**   RANDOM  uniform over the size-aligned places;
**   ZIPF    a page drawn with weight 1 / rank^zipf_s (rank 1 the region's
**           first page), a uniform place inside it;
** each a write with probability write_ratio, from a generator seeded with
** seed.  No data moves: a write faults and dirties as a store would but
** leaves the bytes as they were.  Stops at the first access that faults
** with a signal or finds no memory (that error, si_code and fault_addr).
** -MEMLAB_EINVAL for bad parameters (ZIPF: at most 2^24 pages).
*/
enum memlab_pattern_kind {
	MEMLAB_PATTERN_SEQ, MEMLAB_PATTERN_STRIDE, MEMLAB_PATTERN_RANDOM, MEMLAB_PATTERN_ZIPF
};
struct memlab_pattern {
	int kind;			/* enum memlab_pattern_kind */
	uint64_t base, len, stride, count, seed;
	unsigned size;			/* bytes per access, e.g. 8 */
	double write_ratio;		/* 0..1 */
	double zipf_s;			/* ZIPF's exponent, e.g. 1.0 */
};
struct memlab_pattern_result {
	uint64_t accesses, reads, writes;	/* completed */
	uint64_t min_flt, maj_flt;		/* the task's faults during the stream */
	int si_code;				/* of the access that stopped it */
	uint64_t fault_addr;
};
MEMLAB_API int (memlab_access_pattern) (memlab_task *t, const struct memlab_pattern *pat,
					struct memlab_pattern_result *res);

/*
** What the MMU's page walk finds for va, without side effects: the entry
** read at each level from the top table down (level names "PGD", "P4D",
** "PUD", "PMD", "PTE"), then the leaf's meaning.  Returns 0 when va maps
** (phys set), -MEMLAB_EFAULT when the walk ended on an empty or invalid
** entry (levels says where), -MEMLAB_EINVAL for a va outside the tables.
*/
struct memlab_walk {
	unsigned levels;			/* entries read */
	uint64_t entry[5], table_pfn[5];	/* top first */
	const char *level_name[5];
	int present;				/* the last entry is a valid leaf */
	uint64_t pfn, phys, leaf_size;
	int write, user, exec, accessed, dirty, global, huge, special, protnone;
	char flags[160];			/* the leaf's set bits by name ("P RW US A D NX") */
	int swap, swap_exclusive;		/* the leaf is a swap entry: its slot, exclusive bit */
	uint64_t swap_offset;
	int cont;				/* arm64 PTE_CONT: one of a block of contiguous PTEs */
};
MEMLAB_API int (memlab_translate) (memlab_task *t, uint64_t va, struct memlab_walk *w);

/*
** The reverse map: the (pid, address) pairs whose page tables map the
** frame (the zero page excluded).  Fills at most n; returns how many.
*/
struct memlab_rmap_entry {
	int pid;
	uint64_t addr;
};
MEMLAB_API size_t (memlab_rmap) (memlab_machine *m, uint64_t pfn,
				 struct memlab_rmap_entry *out, size_t n);

/*
** An anon_vma (mm/rmap.c), by the id memlab_vma_info gives: the one it was
** forked from (parent, itself for a root), the root of its hierarchy, the
** anon_vmas forked from it (a root counts itself), the VMAs whose own it
** is, the VMAs linked to it (anon_vma_chains), its reference count.
** 0, -MEMLAB_ENOENT when no VMA is linked to an anon_vma of that id, or
** -MEMLAB_EINVAL for a NULL machine or out.
*/
struct memlab_anon_vma_info {
	uint64_t id, parent, root;
	unsigned num_children, num_active_vmas, chains;
	int refcount;
};
MEMLAB_API int (memlab_anon_vma) (memlab_machine *m, uint64_t id,
				  struct memlab_anon_vma_info *out);

/*
** The page tables' leaves meeting [start, end) as text, one line each
** (see pt_dump in core/pgtable.c); end 0: the top.  Free with
** memlab_free_text.
*/
MEMLAB_API int (memlab_pagetable_dump) (memlab_task *t, uint64_t start, uint64_t end,
					char **text, size_t *len);

/* One VMA, as /proc/PID/maps shows it and a little more. */
struct memlab_vma_info {
	uint64_t start, end;		/* end exclusive */
	char perms[5];			/* "rw-p" */
	uint64_t offset;		/* file offset in bytes (0 for anonymous) */
	unsigned dev_major, dev_minor;
	uint64_t inode;
	char name[128];			/* path, "[heap]", "[stack]", "" ... */
	uint64_t vm_flags;		/* VM_* bits */
	int anon_vma;			/* has an anon_vma (was written to) */
	uint64_t anon_vma_id;		/* that anon_vma (memlab_anon_vma), 0 if none */
	unsigned anon_vma_chain;	/* the anon_vmas it is linked to: its own, its ancestors' */
};

/* Fill at most n VMAs in address order; returns how many the task has. */
MEMLAB_API size_t (memlab_vmas) (memlab_task *t, struct memlab_vma_info *out, size_t n);

/*
** find_vma(): the first VMA that ends above addr -- the one holding addr,
** or the next one up -- through the task's vmacache and the VMA tree, as
** every system call and fault does (memlab_mm_info's vmacache_hits and
** vmacache_misses count it).  Fills out if not NULL.  Returns 0, or
** -MEMLAB_ENOENT when no VMA ends above addr.
*/
MEMLAB_API int (memlab_find_vma) (memlab_task *t, uint64_t addr, struct memlab_vma_info *out);

/*
** /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst): one
** 64-bit entry per page, from the page holding va, into out -- at most n,
** and none at or above TASK_SIZE; returns how many (out NULL: only how
** many there would be).  Read as root (frame
** numbers shown).  Present: the frame, PRESENT, FILE for a page-cache or
** shmem page (and the huge zero page), MMAP_EXCLUSIVE when one page table
** maps the page (the zero page is neither).  Swapped: SWAP, frame bits
** type | offset << 5.  A page with neither, or outside every VMA: 0.
*/
#define MEMLAB_PM_PFRAME_MASK		((1ull << 55) - 1)
#define MEMLAB_PM_SOFT_DIRTY		(1ull << 55)
#define MEMLAB_PM_MMAP_EXCLUSIVE	(1ull << 56)
#define MEMLAB_PM_UFFD_WP		(1ull << 57)
#define MEMLAB_PM_GUARD_REGION		(1ull << 58)
#define MEMLAB_PM_FILE			(1ull << 61)
#define MEMLAB_PM_SWAP			(1ull << 62)
#define MEMLAB_PM_PRESENT		(1ull << 63)
MEMLAB_API int64_t (memlab_pagemap) (memlab_task *t, uint64_t va, uint64_t *out, size_t n);

/*
** A write of type to /proc/PID/clear_refs (fs/proc/task_mmu.c): 1 makes
** every PTE mapping a normal page (not the zero page) and every huge PMD
** old and clears the page's PG_referenced (smaps' Referenced counts what
** is used after), 2 only
** anonymous VMAs', 3 only file-backed ones'; no TLB flush, so a CPU that
** caches a translation does not mark its page accessed again.  4
** clears soft-dirty bits (none here, no CONFIG_MEM_SOFT_DIRTY; it
** flushes the TLBs), 5 resets VmHWM to VmRSS.  0, or -MEMLAB_EINVAL for
** another type.
*/
MEMLAB_API int (memlab_clear_refs) (memlab_task *t, int type);

/* The mm_struct's counters (pages unless named _bytes). */
struct memlab_mm_info {
	uint64_t total_vm, locked_vm, pinned_vm, data_vm, exec_vm, stack_vm;
	uint64_t hiwater_vm, hiwater_rss, rss_anon, rss_file, rss_shmem;
	uint64_t pgtables_bytes;
	int map_count;
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack, mmap_base, task_size, highest_vm_end;
	uint64_t vmacache_hits, vmacache_misses;	/* find_vma lookups */
	uint64_t committed_pages;			/* this mm's VM_ACCOUNT charge */
	int owner_pid;					/* the task standing for the mm (memlab_rmap's pid) */
	uint64_t min_flt, maj_flt;			/* the task's faults */
};
MEMLAB_API int (memlab_mm_info) (memlab_task *t, struct memlab_mm_info *info);

/*
** sysctls of the vm layer (-1 leaves a value unchanged); see Linux's docs.
** Fields may be added at the end: start from every field -1
** (memset(&s, 0xff, sizeof(s))) and set the ones to change, rather than
** listing them positionally.
*/
struct memlab_vm_sysctl {
	int64_t max_map_count;		/* 65530 */
	int64_t overcommit_memory;	/* 0 heuristic, 1 always, 2 never */
	int64_t overcommit_ratio;	/* 50 */
	int64_t mmap_min_addr;		/* vm.mmap_min_addr, 4096 (hints are still raised to Debian's LSM floor, 65536) */
	int64_t panic_on_oom;		/* 0; 1, 2: an OOM "panics": reported, the access fails ENOMEM */
	int64_t oom_kill_allocating_task;	/* 0; else the faulting task is the victim */
	int64_t swappiness;		/* 60; 0..200: reclaim's pressure on anon against file pages */
	int64_t watermark_boost_factor;	/* 15000: a fallback boosts the marks up to 150% of high; 0: never */
	int64_t page_cluster;		/* vm.page-cluster, 3: swap readahead of up to 2^3 pages; 0..31 */
};
MEMLAB_API int (memlab_vm_sysctl) (memlab_machine *m, const struct memlab_vm_sysctl *set,
				   struct memlab_vm_sysctl *get);

/* ===================== transparent huge pages ===================== */

/*
** /sys/kernel/mm/transparent_hugepage/{enabled,use_zero_page}: enabled
** "always", "madvise" (the default, Debian's) or "never", NULL to leave
** it; use_zero_page 0 or 1, -1 to leave it.  get (may be NULL) receives
** the settings and the huge page's size.  -MEMLAB_EINVAL for another mode.
*/
struct memlab_thp_settings {
	const char *enabled;
	int use_zero_page;
	uint64_t hpage_pmd_size;
};
MEMLAB_API int (memlab_thp) (memlab_machine *m, const char *enabled, int use_zero_page,
			     struct memlab_thp_settings *get);

/*
** Multi-size THP for anonymous memory: the directories
** /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/, one per size
** from 4 pages up to the PMD's (THP_ORDERS_ALL_ANON; 16kB..2048kB with
** 4 KiB pages).  Each size's enabled is "always", "inherit" (follow
** transparent_hugepage/enabled: the PMD size's default), "madvise" (only
** with MADV_HUGEPAGE) or "never" (the default of every other size).
** memlab_thp_sizes() fills at most n of out (out may be NULL), smallest
** first, and returns how many sizes there are; stats[] are the files of
** stats/ in Linux's order (enum mthp_stat_item), each named.
** memlab_thp_size_set() sets one size's enabled: -MEMLAB_EINVAL for a
** size without a directory or another mode, nothing changed.
*/
#define MEMLAB_NR_MTHP_STATS	17
struct memlab_thp_size {
	uint64_t size;			/* bytes */
	const char *enabled;
	struct memlab_stat stats[MEMLAB_NR_MTHP_STATS];
};
MEMLAB_API size_t (memlab_thp_sizes) (const memlab_machine *m, struct memlab_thp_size *out,
				      size_t n);
MEMLAB_API int (memlab_thp_size_set) (memlab_machine *m, uint64_t size, const char *enabled);

/*
** /sys/kernel/mm/transparent_hugepage/khugepaged/: set (may be NULL)
** changes each field that is not -1 -- pages_to_scan 1..UINT_MAX,
** max_ptes_none, max_ptes_swap and max_ptes_shared 0..HPAGE_PMD_NR - 1,
** the two sleeps 0..UINT_MAX ms, defrag 0 or 1 -- or nothing when one is
** out of range (-MEMLAB_EINVAL); get (may be NULL) receives them and the
** counters pages_collapsed and full_scans (set ignores those).
*/
struct memlab_khugepaged_settings {
	int64_t pages_to_scan, max_ptes_none, max_ptes_swap, max_ptes_shared;
	int64_t scan_sleep_millisecs, alloc_sleep_millisecs, defrag;
	uint64_t pages_collapsed, full_scans;
};
MEMLAB_API int (memlab_khugepaged_sysfs) (memlab_machine *m,
					  const struct memlab_khugepaged_settings *set,
					  struct memlab_khugepaged_settings *get);

/*
** One pass of khugepaged (khugepaged_do_scan): pages_to_scan of progress
** over the mms that had a VMA it may collapse in, from where the last
** pass stopped, collapsing what its rules allow.  Linux runs a pass every
** scan_sleep_millisecs; memlab, which has no clock, when this is called.
** *collapsed (may be NULL): the huge pages this pass made.
*/
MEMLAB_API int (memlab_khugepaged) (memlab_machine *m, uint64_t *collapsed);

/* ===================== fault injection ===================== */

/*
** A fault-injection point's attributes, Linux's (Documentation/
** fault-injection/fault-injection.rst): probability in percent, interval
** (only every interval-th call may fail), times (failures left; -1: no
** limit), space (bytes or pages that must pass first), verbose (0: quiet,
** 1 or 2: a report per failure through the report hook), task_filter
** (only tasks marked with memlab_task_make_it_fail); fail_page_alloc's
** min_order, ignore_gfp_highmem, ignore_gfp_reclaim (ignore-gfp-wait, also
** failslab's);
** memlab's pid (0: any task; else only that task's calls) and run (each
** failure is followed by run - 1 more).
*/
struct memlab_fault_attr {
	uint64_t probability, interval;
	int64_t times, space;
	int verbose, task_filter;
	unsigned min_order;
	int ignore_gfp_highmem, ignore_gfp_reclaim;
	int pid;
	uint64_t run;
};
/* Linux's defaults for the point (FAULT_ATTR_INITIALIZER and the point's own). */
MEMLAB_API void (memlab_fault_attr_init) (struct memlab_fault_attr *attr, const char *point);
/*
** Set a point's attributes ("fail_page_alloc", "failslab",
** "tlb_lost_shootdown", "tlb_stale_entry"); attr NULL turns it off
** (back to the defaults, probability 0).  -MEMLAB_ENOENT for an unknown
** point, -MEMLAB_EINVAL for a probability above 100, times below -1, a
** negative verbose or a run of 0.
*/
MEMLAB_API int (memlab_inject) (memlab_machine *m, const char *point,
				const struct memlab_fault_attr *attr);
struct memlab_fault_stats {
	uint64_t calls;			/* should_fail() decisions at the point */
	uint64_t fired;			/* failures injected */
	struct memlab_fault_attr attr;	/* as they are now (times counts down) */
};
MEMLAB_API int (memlab_injected) (memlab_machine *m, const char *point,
				  struct memlab_fault_stats *st);
/* The i-th point's name, NULL past the last. */
MEMLAB_API const char *(memlab_fault_point_name) (int i);
/*
** /proc/PID/fail-nth: the task's nth call to any point's should_fail()
** from now on fails, whatever the point's attributes (0: off); reading
** it back gives what is left of the count.  /proc/PID/make-it-fail for
** the task filter.
*/
MEMLAB_API void (memlab_task_fail_nth) (memlab_task *t, unsigned nth);
MEMLAB_API unsigned (memlab_task_get_fail_nth) (const memlab_task *t);

/*
** /proc/PID/oom_score_adj (fs/proc/base.c __set_oom_adj), shared by the
** thread group and by the processes sharing its mm: -1000 (never
** killed, OOM_SCORE_ADJ_MIN) .. 1000.  Writing is done as the task
** itself: a value below its oom_score_adj_min needs CAP_SYS_RESOURCE
** (spawn's root), else -MEMLAB_EACCES; a root write also sets the
** minimum.  -MEMLAB_EINVAL outside the range.  Children inherit both.
*/
MEMLAB_API int (memlab_task_oom_score_adj) (memlab_task *t, int adj);
MEMLAB_API int (memlab_task_get_oom_score_adj) (const memlab_task *t);
MEMLAB_API void (memlab_task_make_it_fail) (memlab_task *t, int on);

/* ===================== tracing ===================== */

/*
** Tracepoints with Linux's names and fields: "mm_page_alloc" (pfn, order,
** gfp_flags, migratetype; pfn -1 for a failed allocation),
** "mm_page_free" (pfn, order), "mm_page_alloc_zone_locked" (pfn, order,
** migratetype, percpu_refill), "mm_page_pcpu_drain" (pfn, order,
** migratetype), "page_fault_user" and "page_fault_kernel" (address,
** error_code: x86's P W U I bits; kernel: a fault of copy_to_user or
** copy_from_user), "rss_stat" (member, size in bytes, curr), "tlb_flush"
** (reason, pages), "mmap_lock_start_locking", "mmap_lock_released" (mm,
** memcg_id, write) and "mmap_lock_acquire_returned" (mm, memcg_id, write,
** success) -- mm is the mm's context id, memcg_id 0 (no memory cgroups),
** write and success 0 or 1; the oom, vmscan and compaction events with
** the fields of their formats in tracefs.  memlab_trace_event_name(i) lists
** them (NULL past the last); an event's fields are
** memlab_trace_field_name(event, 0..MEMLAB_TRACE_ARGS-1), NULL after its
** last.  ts is the
** machine's event clock (one tick per event); pid the task the core ran
** for (0: none).
*/
#define MEMLAB_TRACE_ARGS	16	/* the widest event's fields */
struct memlab_trace_event {
	uint64_t ts;
	int event;
	int pid;
	int cpu;		/* the CPU it happened on (smp_processor_id) */
	uint64_t arg[MEMLAB_TRACE_ARGS];
};
typedef void (*memlab_trace_fn)(void *ud, const struct memlab_trace_event *ev);
MEMLAB_API const char *(memlab_trace_event_name) (int event);
MEMLAB_API const char *(memlab_trace_field_name) (int event, int i);
/* The events of mask (bit i: event i) go to fn as they happen; fn NULL: none. */
MEMLAB_API void (memlab_trace_hook) (memlab_machine *m, uint64_t mask, memlab_trace_fn fn,
				     void *ud);
/*
** Record the events of mask into a ring of size events kept in C
** (the oldest are overwritten, and counted as lost).  Starting again
** drops what was recorded.  -MEMLAB_EINVAL for size 0 or above 2^26.
*/
MEMLAB_API int (memlab_trace_start) (memlab_machine *m, uint64_t mask, size_t size);
MEMLAB_API void (memlab_trace_stop) (memlab_machine *m);
/* The recorded events, oldest first: at most n into out; returns how many there are. */
MEMLAB_API size_t (memlab_trace_events) (memlab_machine *m, struct memlab_trace_event *out,
					 size_t n, uint64_t *lost);
/*
** The recorded events as text: format "text" (ftrace's lines), "jsonl"
** (one JSON object per line) or "chrome" (trace-event JSON for Perfetto
** or chrome://tracing, a track per pid).  Free with memlab_free_text.
*/
MEMLAB_API int (memlab_trace_dump) (memlab_machine *m, const char *format, char **text,
				    size_t *len);

/* ===================== CPUs and TLBs ===================== */

/*
** The CPU a task runs on (0 .. nr_cpus-1): given round robin at spawn and
** fork; memlab_task_run_on() moves it (the CPU it leaves goes idle with
** the mm still loaded, as Linux's lazy TLB mode).  -MEMLAB_EINVAL for a
** CPU the machine lacks.
*/
MEMLAB_API int (memlab_task_cpu) (const memlab_task *t);
MEMLAB_API int (memlab_task_run_on) (memlab_task *t, int cpu);

/* The counters of one TLB structure of one CPU. */
struct memlab_tlb_stats {
	int cpu;
	char name[16];
	int level, kind, policy;
	uint32_t entries, ways, sets;
	uint64_t page_sizes;
	uint64_t lookups;		/* hits + misses */
	uint64_t hits;
	uint64_t misses;		/* of translations of a size it holds */
	uint64_t compulsory_misses;	/* first lookup of that (mm, page) here */
	uint64_t perm_misses;		/* of misses: an entry matched but did not allow it */
	uint64_t fills, evictions;	/* evictions: fills that replaced a valid entry */
	uint64_t flush_events, flushed_entries;
	int compulsory_exact;		/* 0: the set of pages seen filled up (see tlb.c) */
	unsigned nr_held;		/* the sizes it holds, smallest first: */
	struct { unsigned shift; uint32_t valid; } held[4];	/* its valid entries of each */
	uint64_t reach;			/* bytes its valid entries map */
};

/* The counters of one CPU: its levels, page walks, flushes, switch_mm. */
struct memlab_tlb_cpu_stats {
	int cpu;
	uint64_t level_lookups[3], level_hits[3];	/* [0] L1i, [1] L1d, [2] L2 */
	uint64_t walks, walk_mem_refs;		/* memory references, PWC hits excluded */
	uint64_t pwc_lookups[5], pwc_hits[5];	/* by level, as memlab_tlb_config.pwc */
	uint64_t context_switches;		/* switch_mm to another mm */
	uint64_t switch_flushes;		/* of which flushed the ASID (or all) */
	uint64_t asid_rollovers;		/* arm64: generation bumps made here */
	/* Linux's vmstat names (x86 CONFIG_DEBUG_TLBFLUSH); arm64 broadcasts instead */
	uint64_t nr_tlb_remote_flush, nr_tlb_remote_flush_received;
	uint64_t nr_tlb_local_flush_all, nr_tlb_local_flush_one;
	uint64_t tlbi_broadcast;		/* arm64: TLBI ...IS issued here */
	int loaded_pid;				/* the task whose mm is loaded, 0 for none (init_mm) */
	int loaded_asid;			/* x86: the ASID slot (PCID - 1); arm64: the ASID */
	int lazy;				/* idle with the mm still loaded */
};

/*
** Every TLB structure of every CPU, CPU by CPU, in configuration order:
** fills at most n of out (out may be NULL) and returns how many exist.
*/
MEMLAB_API size_t (memlab_tlb_stats) (const memlab_machine *m, struct memlab_tlb_stats *out,
				      size_t n);
/* One CPU's counters; -MEMLAB_EINVAL for a CPU the machine lacks. */
MEMLAB_API int (memlab_tlb_cpu_stats) (const memlab_machine *m, int cpu,
				       struct memlab_tlb_cpu_stats *out);
/*
** A table of every CPU's TLBs as TLB simulators print them (lookups,
** hits, misses, miss rate per structure and level), then the walks.
** Free the text with memlab_free_text.
*/
MEMLAB_API int (memlab_tlb_report) (memlab_machine *m, char **text, size_t *len);
/* Invalidate every entry of every TLB and page-walk cache of every CPU. */
MEMLAB_API void (memlab_tlb_flush_all) (memlab_machine *m);

/*
** Corruption on purpose, to see what it does and whether memlab_check
** finds it.  memlab_corrupt_pte flips bit `bit` (-1: a random bit of the
** frame number) of the leaf entry mapping va in t's page tables (va 0: a
** random present leaf); memlab_corrupt_freelist flips a bit of a free
** block's forward link (the first block of an order's free list with a
** successor), keeping it inside RAM; memlab_corrupt_lru the same on the
** LRU list named lru (as memlab_lru names them).  The list operation that
** meets a corrupted link reports it ("list_del corruption",
** CONFIG_DEBUG_LIST) and stops the machine with a kernel BUG, as the
** reference host does (CONFIG_BUG_ON_DATA_CORRUPTION): memlab_machine_info's
** dead is set, and calls that would change memory return -MEMLAB_EIO.  out: where (addr: the virtual
** address, or the block's pfn), the bit, the value before and after.
** -MEMLAB_ENOENT when there is nothing to corrupt, -MEMLAB_EINVAL for bad
** arguments.
*/
struct memlab_corruption {
	uint64_t addr;
	int bit;
	uint64_t before, after;		/* the entry or link */
};
MEMLAB_API int (memlab_corrupt_pte) (memlab_task *t, uint64_t va, int bit,
				     struct memlab_corruption *out);
MEMLAB_API int (memlab_corrupt_freelist) (memlab_machine *m, unsigned order,
					  struct memlab_corruption *out);
MEMLAB_API int (memlab_corrupt_lru) (memlab_machine *m, const char *lru,
				     struct memlab_corruption *out);

/* ===================== the slab allocator ===================== */

/*
** SLUB as Linux 6.18 has it for caches without sheaves: kmem_cache_create()
** with its layout rules (calculate_sizes, calculate_order) and its merging
** of compatible caches into one, the kmalloc caches (kmalloc-8 ..
** kmalloc-8k and their -rcl-, -cg- and dma- twins; larger requests go to
** the page allocator), a slab per CPU with its lockless freelist, the
** per-CPU and per-node partial lists, /proc/slabinfo.  Objects are
** addressed as the kernel addresses them, through the direct map.
**
** The task argument is the context the call runs in: its CPU (whose
** c->slab serves it) and its memory cgroup; NULL is a kernel thread on
** CPU 0.  Allocation failures return -MEMLAB_ENOMEM; a free of something
** that is no allocated object returns -MEMLAB_EINVAL and changes nothing
** (Linux would corrupt memory or BUG; what it would print goes to the
** report sink); an object of another cache is freed into its own, with
** Linux's warning.  A cache pointer is valid until the destroy that frees
** it (a destroy with objects left leaks the cache, as Linux does: its
** objects can still be freed, nothing else is allowed).
*/
typedef struct kmem_cache memlab_kmem_cache;

/* slab_flags_t: the flags kmem_cache_create() takes. */
#define MEMLAB_SLAB_CONSISTENCY_CHECKS	0x00000001u
#define MEMLAB_SLAB_RED_ZONE		0x00000002u
#define MEMLAB_SLAB_POISON		0x00000004u
#define MEMLAB_SLAB_KMALLOC		0x00000008u	/* the kmalloc caches' own */
#define MEMLAB_SLAB_HWCACHE_ALIGN	0x00000010u
#define MEMLAB_SLAB_CACHE_DMA		0x00000020u
#define MEMLAB_SLAB_CACHE_DMA32		0x00000040u
#define MEMLAB_SLAB_STORE_USER		0x00000080u
#define MEMLAB_SLAB_PANIC		0x00000100u
#define MEMLAB_SLAB_TYPESAFE_BY_RCU	0x00000200u
#define MEMLAB_SLAB_TRACE		0x00000400u
#define MEMLAB_SLAB_NOLEAKTRACE		0x00000800u
#define MEMLAB_SLAB_NO_MERGE		0x00001000u
#define MEMLAB_SLAB_FAILSLAB		0x00002000u
#define MEMLAB_SLAB_ACCOUNT		0x00004000u
#define MEMLAB_SLAB_RECLAIM_ACCOUNT	0x00008000u

/*
** kmem_cache_create(name, size, &args, flags): args may be NULL (align 0,
** no constructor, no usercopy region).  ctor marks a cache whose objects
** have a constructor (memlab runs none; the layout and merging follow).
** The slub_debug flags (RED_ZONE, POISON, STORE_USER,
** CONSISTENCY_CHECKS, TRACE) return -MEMLAB_EOPNOTSUPP: not modelled.
** *out may be an existing cache the new one was merged into (an alias).
*/
struct memlab_kmem_cache_args {
	unsigned align;
	int ctor;
	unsigned useroffset, usersize;
	int use_freeptr_offset;		/* with TYPESAFE_BY_RCU or ctor: where the free pointer goes */
	unsigned freeptr_offset;
};
MEMLAB_API int (memlab_kmem_cache_create) (memlab_machine *m, const char *name,
					   unsigned size, const struct memlab_kmem_cache_args *args,
					   uint32_t flags, memlab_kmem_cache **out);
/* -MEMLAB_EBUSY (and the cache kept, as Linux leaks it) while objects remain. */
MEMLAB_API int (memlab_kmem_cache_destroy) (memlab_machine *m, memlab_kmem_cache *s);
MEMLAB_API int (memlab_kmem_cache_alloc) (memlab_machine *m, memlab_kmem_cache *s,
					  uint32_t gfp, memlab_task *t, uint64_t *addr);
MEMLAB_API int (memlab_kmem_cache_free) (memlab_machine *m, memlab_kmem_cache *s,
					 uint64_t addr, memlab_task *t);
/* kmem_cache_shrink(): flush every CPU's slabs, free the empty ones. */
MEMLAB_API int (memlab_kmem_cache_shrink) (memlab_machine *m, memlab_kmem_cache *s);
/* The cache's id: no other cache of the machine has had it (a handle's check). */
MEMLAB_API uint64_t (memlab_kmem_cache_id) (const memlab_kmem_cache *s);
/* The live cache named so (the name it was created with, an alias's or its sysfs name), or NULL. */
MEMLAB_API memlab_kmem_cache *(memlab_kmem_cache_find) (memlab_machine *m, const char *name);

/* kmalloc(0) gives ZERO_SIZE_PTR (16); kfree of it or of 0 does nothing. */
#define MEMLAB_ZERO_SIZE_PTR	16u
MEMLAB_API int (memlab_kmalloc) (memlab_machine *m, uint64_t size, uint32_t gfp,
				 memlab_task *t, uint64_t *addr);
MEMLAB_API int (memlab_kfree) (memlab_machine *m, uint64_t addr, memlab_task *t);
/* ksize(): the bytes usable at addr, an object's or a large allocation's. */
MEMLAB_API int (memlab_ksize) (memlab_machine *m, uint64_t addr, uint64_t *size);

/* /sys/kernel/slab/NAME's numbers. */
struct memlab_kmem_cache_info {
	uint64_t id;			/* no other cache of the machine has had it */
	const char *name, *sysfs_name;
	unsigned object_size, slab_size, align, inuse, offset;
	unsigned order, objs_per_slab, min_order, min_objects;
	unsigned min_partial, cpu_partial, cpu_partial_slabs;
	unsigned aliases;		/* refcount - 1 */
	uint32_t flags;
	uint64_t slabs, partial, cpu_slabs;	/* slabs; on the node's partial list; CPU slabs and CPU partial slabs */
	uint64_t objects, total_objects;	/* in use (not free on any list), all */
	uint64_t active_objs;		/* /proc/slabinfo's: free objects of the node's partial slabs excluded */
};
MEMLAB_API int (memlab_kmem_cache_info) (memlab_machine *m, const memlab_kmem_cache *s,
					 struct memlab_kmem_cache_info *info);
/* Every cache in /proc/slabinfo's order: fn returns non-zero to stop. */
MEMLAB_API int (memlab_kmem_cache_each) (memlab_machine *m,
					 int (*fn)(void *ud, memlab_kmem_cache *s), void *ud);
/* ===================== vmalloc and kernel addresses ===================== */

/*
** The kernel's virtually contiguous memory (mm/vmalloc.c) and its own
** view of memory.  Kernel addresses are Linux's, without KASLR: the
** direct map from PAGE_OFFSET (x86-64 0xffff888000000000, 5-level
** 0xff11000000000000; arm64 -(1 << va_bits)) holds all RAM; vmalloc
** areas are in [vmalloc_start, vmalloc_end) (memlab_vmalloc_info).
*/

#define MEMLAB_CALLER_MAX	64	/* a caller text and its NUL */

/* vm_struct flags (include/linux/vmalloc.h), as memlab_vmap_area.flags reports them */
#define MEMLAB_VM_IOREMAP	0x00000001u
#define MEMLAB_VM_ALLOC		0x00000002u
#define MEMLAB_VM_MAP		0x00000004u
#define MEMLAB_VM_USERMAP	0x00000008u
#define MEMLAB_VM_NO_GUARD	0x00000040u
#define MEMLAB_VM_ALLOW_HUGE_VMAP 0x00000400u	/* vmalloc_huge(): PMD mappings from PMD_SIZE */

struct memlab_vmalloc_opts {
	const char *caller;	/* what vmallocinfo prints for the caller (%pS), as
				   "func+0xoff/0xlen"; NULL: "memlab_vmalloc+0x0/0x0";
				   "" : none.  No spaces, < MEMLAB_CALLER_MAX bytes */
	uint32_t gfp;		/* 0: GFP_KERNEL */
	uint32_t vm_flags;	/* MEMLAB_VM_NO_GUARD, MEMLAB_VM_ALLOW_HUGE_VMAP
				   (arm64: mapped with pages, its huge mappings not modelled) */
	uint64_t align;		/* a power of two; 0: 1 (page alignment) */
	memlab_task *task;	/* NULL: none (CPU 0, the root cgroup, no OOM kill);
				   else the call runs for it (current): its CPU's
				   vmap node, its memcg charged with __GFP_ACCOUNT
				   (GFP_KERNEL_ACCOUNT), fail-nth, and the OOM
				   killer may run (and kill it) */
};

/*
** vmalloc(size), or __vmalloc_node_range() with opts: size rounded up to
** pages, the area placed lowest first in the vmalloc range with a guard
** page after it (unless MEMLAB_VM_NO_GUARD), order-0 pages from the
** buddy allocator (reclaim, OOM and fail_page_alloc apply) mapped in the
** kernel page table.  Returns 0 and the address in *addr;
** -MEMLAB_EINVAL for size 0 or bad opts; -MEMLAB_ENOMEM when RAM has
** fewer pages, no address space is left, or a page or table cannot be
** allocated (Linux's warn_alloc line goes to the report callback unless
** __GFP_NOWARN; what was allocated is freed as vfree() frees it).
*/
MEMLAB_API int (memlab_vmalloc) (memlab_machine *m, uint64_t size,
				 const struct memlab_vmalloc_opts *opts,
				 uint64_t *addr);

/*
** vfree(addr): unmap the area holding addr, free its pages, and keep its
** address space reserved ("unpurged vm_area") until the lazily freed
** pages exceed lazy_max_pages(); then every lazy area is purged with a
** kernel TLB flush.  addr 0 is a no-op.  An address no area holds is
** reported ("Trying to vfree() nonexistent vm area") and gives
** -MEMLAB_EINVAL.  memlab_vunmap() is vunmap(): the same, pages kept.
*/
MEMLAB_API int (memlab_vfree) (memlab_machine *m, uint64_t addr);
MEMLAB_API int (memlab_vunmap) (memlab_machine *m, uint64_t addr);

/*
** vmap(): map count frames (pfns) at consecutive kernel addresses.
** caller as in memlab_vmalloc_opts (NULL: "memlab_vmap+0x0/0x0").
** -MEMLAB_EINVAL for count 0, a bad caller or a pfn outside RAM;
** -MEMLAB_ENOMEM for more pages than RAM or no memory for the tables.
*/
MEMLAB_API int (memlab_vmap) (memlab_machine *m, const uint64_t *pfns,
			      uint64_t count, const char *caller,
			      uint64_t *addr);

/*
** vm_map_ram(): count frames mapped at consecutive kernel addresses with
** no guard page -- up to 64 pages (VMAP_MAX_ALLOC) carved from a per-CPU
** vmap block of VMAP_BBMAP_BITS pages (256 with 4K pages), larger in an
** area of their own; vmallocinfo shows either as "vm_map_ram".
** -MEMLAB_EINVAL for count 0 or a pfn outside RAM, -MEMLAB_ENOMEM.
** memlab_vm_unmap_ram() takes the address and the same count; a block
** is freed (lazily) once all its pages were given back.  An address
** vm_map_ram did not return is reported and gives -MEMLAB_EINVAL.
*/
MEMLAB_API int (memlab_vm_map_ram) (memlab_machine *m, const uint64_t *pfns,
				    uint64_t count, uint64_t *addr);
MEMLAB_API int (memlab_vm_unmap_ram) (memlab_machine *m, uint64_t addr,
				      uint64_t count);

/* vmalloc_to_pfn(): the frame mapped at a vmalloc address; -MEMLAB_EFAULT if none. */
MEMLAB_API int (memlab_vmalloc_to_pfn) (memlab_machine *m, uint64_t addr,
					uint64_t *pfn);

/*
** Kernel memory as the kernel sees it: n bytes at a direct-map address
** or in mapped vmalloc pages.  -MEMLAB_EFAULT when any byte is elsewhere
** (a guard page, a freed area, user addresses); memlab_kwrite then
** changes nothing.
*/
MEMLAB_API int (memlab_kread) (memlab_machine *m, uint64_t addr, void *buf,
			       size_t n);
MEMLAB_API int (memlab_kwrite) (memlab_machine *m, uint64_t addr,
				const void *buf, size_t n);

/* page_address(): the direct-map address of frame pfn; -MEMLAB_EINVAL outside RAM. */
MEMLAB_API int (memlab_page_address) (memlab_machine *m, uint64_t pfn,
				      uint64_t *addr);
/* The frame behind a direct-map or vmalloc address; -MEMLAB_EFAULT if none. */
MEMLAB_API int (memlab_kaddr_to_pfn) (memlab_machine *m, uint64_t addr,
				      uint64_t *pfn);

/* What a line of /proc/vmallocinfo shows. */
enum { MEMLAB_VMAP_BUSY, MEMLAB_VMAP_LAZY, MEMLAB_VMAP_RAM };

struct memlab_vmap_area {
	uint64_t addr, end, size;	/* end and size include the guard page */
	int kind;			/* MEMLAB_VMAP_BUSY, _LAZY ("unpurged vm_area"), _RAM */
	unsigned node;			/* the vmap node listing it */
	uint32_t flags;			/* MEMLAB_VM_* of a busy area */
	uint64_t nr_pages;		/* pages vmalloc allocated for it */
	int vpages;			/* its page array is itself vmalloc'ed */
	char caller[MEMLAB_CALLER_MAX];
};

/*
** The areas in /proc/vmallocinfo's order into out (up to cap of them);
** returns how many there are (call with out NULL to count).
*/
MEMLAB_API size_t (memlab_vmap_areas) (memlab_machine *m,
				       struct memlab_vmap_area *out,
				       size_t cap);

struct memlab_vmalloc_info {
	uint64_t vmalloc_start, vmalloc_end;	/* VMALLOC_START, VMALLOC_END */
	uint64_t page_offset;			/* PAGE_OFFSET, the direct map */
	uint64_t nr_vmalloc_pages;		/* VmallocUsed, in pages */
	uint64_t vmap_lazy_nr;			/* pages lazily freed, not yet purged */
	uint64_t lazy_max_pages;		/* the purge threshold */
	uint64_t nr_purges;			/* purges of lazy areas so far */
	uint64_t nr_kernel_tlb_flush_all;	/* of which flushed every TLB */
	uint64_t nr_kernel_pgtables;		/* init_mm's tables below the PGD */
	uint64_t nr_cached_stack_pages;		/* of VmallocUsed: the kernel stacks the CPUs
						   keep for their next forks */
	uint64_t kernel_pgd;			/* its PGD's pfn, UINT64_MAX before any */
	unsigned nr_vmap_nodes;
};
MEMLAB_API int (memlab_vmalloc_info) (memlab_machine *m,
				      struct memlab_vmalloc_info *info);

/* ===================== invariants ===================== */

typedef void (*memlab_violation_fn)(void *ud, const char *msg);

/*
** Check every invariant of the simulated machine (CONFIG_DEBUG_VM style);
** each violation found is passed to fn (which may be NULL).  Returns the
** number of violations, 0 for a consistent machine.
*/
MEMLAB_API int (memlab_check) (memlab_machine *m, memlab_violation_fn fn,
			       void *ud);

#ifdef __cplusplus
}
#endif
#endif
