/*
** machine.c -- creating and destroying a simulated machine: configuration,
** the host's allocator and report hooks, errno names, the seeded random
** generator and physical memory (frame descriptors and frame contents).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "tlb.h"
#include "vmalloc.h"
#include "memcontrol.h"
#include "slab.h"

const char *memlab_version(void)
{
	return MEMLAB_VERSION_STRING;
}

/* ===================== errno names ===================== */

const char *memlab_err_name(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
#define ERRNO_NAME(name, num, text) case num: return #name;
	MEMLAB_ERRNO_MAP(ERRNO_NAME)
#undef ERRNO_NAME
	}
	return NULL;
}

const char *memlab_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
#define ERRNO_TEXT(name, num, text) case num: return text;
	MEMLAB_ERRNO_MAP(ERRNO_TEXT)
#undef ERRNO_TEXT
	}
	return "Unknown error";
}

/* ===================== host memory and reports ===================== */

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, nsize);
}

/* Zeroed host memory for metadata, through the host's allocator. */
void *ml_alloc(memlab_machine *m, size_t size)
{
	void *p = m->alloc(m->alloc_ud, NULL, 0, size ? size : 1);

	if (p)
		memset(p, 0, size);
	return p;
}

void ml_free(memlab_machine *m, void *p, size_t size)
{
	if (p)
		m->alloc(m->alloc_ud, p, size ? size : 1, 0);
}

int ml_compare_ptrs(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/*
** A table grown: a new one of cap elements (zeroed), old's n copied into
** it and old freed.  NULL, with old left as it was, when the host has no
** memory.
*/
void *ml_grow(memlab_machine *m, void *old, size_t n, size_t cap, size_t elem)
{
	void *p = ml_alloc(m, cap * elem);

	if (!p)
		return NULL;
	if (n)
		memcpy(p, old, n * elem);
	ml_free(m, old, n * elem);
	return p;
}

void memlab_free_text(memlab_machine *m, char *text)
{
	if (text)
		ml_free(m, text, strlen(text) + 1);
}

/* Pass a report of corrupted simulated state to the host (or stderr). */
static void ml_vreport(memlab_machine *m, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m->report)
		m->report(m->report_ud, msg);
	else
		fprintf(stderr, "memlab: %s\n", msg);
}

void ml_report(memlab_machine *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ml_vreport(m, fmt, ap);
	va_end(ap);
}

/*
** BUG(): what the reference host does when it finds its data corrupted
** (CONFIG_DEBUG_LIST with CONFIG_BUG_ON_DATA_CORRUPTION): the report, and
** the machine stops.  Its state stays as the BUG found it, for
** memlab_check and the /proc files to read: lists no longer change,
** allocations fail, frees leak, and every call that would change its
** memory returns -MEMLAB_EIO.  The host process goes on.
*/
void ml_bug(memlab_machine *m, const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ml_vreport(m, fmt, ap);
	va_end(ap);
	ml_report(m, "kernel BUG at %s!\nOops: invalid opcode: 0000 [#1] SMP NOPTI", where);
	m->dead = true;
}

/* ===================== the seeded generator ===================== */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: every source of randomness in a machine draws from here. */
uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* ===================== configuration ===================== */

/*
** CONFIG_DEBUG_VM: a build with MEMLAB_DEBUG_VM defined (the sanitizer and
** fuzzing builds) checks on every machine; MEMLAB_DEBUG_VM=1 in the
** environment does it for one run (ctest sets it for the tests).
*/
#ifdef MEMLAB_DEBUG_VM
#define DEBUG_VM_ALWAYS 1
#else
#define DEBUG_VM_ALWAYS 0
#endif

static bool env_debug_vm(void)
{
	const char *v = getenv("MEMLAB_DEBUG_VM");

	return v && *v && strcmp(v, "0") != 0;
}

void memlab_config_init(struct memlab_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->arch = MEMLAB_ARCH_X86_64;
	cfg->ram = 256ull << 20;
	cfg->page_size = 4096;
	cfg->seed = 1;
	cfg->zones = MEMLAB_ZONES_ARCH;
	cfg->min_free_kbytes = -1;
}

static int ilog2_u64(uint64_t x)
{
	return 63 - __builtin_clzll(x);
}

/*
** The orders of the architecture's page allocator: MAX_PAGE_ORDER
** (arch/arm64/Kconfig ARCH_FORCE_MAX_ORDER: 13 for 64K pages, 11 for 16K,
** else 10) and pageblock_order = min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER)
** with HUGETLB_PAGE_ORDER = PMD_SHIFT - PAGE_SHIFT (include/linux/
** pageblock-flags.h): 9, 11 and 13 for 4K, 16K and 64K pages.
*/
static int set_orders(memlab_machine *m)
{
	switch (m->page_size) {
	case 4096:
		m->max_order = 10;
		m->pageblock_order = 9;
		return 0;
	case 16384:
		m->max_order = 11;
		m->pageblock_order = 11;
		break;
	case 65536:
		m->max_order = 13;
		m->pageblock_order = 13;
		break;
	default:
		return -MEMLAB_EINVAL;
	}
	return m->arch == MEMLAB_ARCH_ARM64 ? 0 : -MEMLAB_EINVAL;
}

/*
** The user address space: x86-64 4-level (48) or 5-level (57) paging;
** arm64's VA_BITS choices per granule (arch/arm64/Kconfig).
*/
static int set_va_bits(memlab_machine *m, unsigned va_bits)
{
	m->va_bits = va_bits ? va_bits : 48;
	if (m->arch == MEMLAB_ARCH_X86_64)
		return m->va_bits == 48 || m->va_bits == 57 ? 0 : -MEMLAB_EINVAL;
	switch (m->page_size) {
	case 4096:
		return m->va_bits == 39 || m->va_bits == 48 ? 0 : -MEMLAB_EINVAL;
	case 16384:
		return m->va_bits == 36 || m->va_bits == 47 || m->va_bits == 48 ? 0 : -MEMLAB_EINVAL;
	default:
		return m->va_bits == 42 || m->va_bits == 48 ? 0 : -MEMLAB_EINVAL;
	}
}

/* A configuration Linux could not boot: say why, through the report hook. */
int ml_bad_config(memlab_machine *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ml_vreport(m, fmt, ap);
	va_end(ap);
	return -MEMLAB_EINVAL;
}

/*
** The FPU state every task_struct holds after its fixed part (x86's
** arch_task_struct_size): what the CPU's XSAVE features need, so the
** object's size, and with it the task_struct cache's layout, depends on
** the CPU.  The default is that of the host memlab's numbers came from
** (AVX-512 and PKRU, compacted); one without AVX-512 needs 832 or so.
*/
static int set_xstate_size(memlab_machine *m, uint32_t size)
{
	if (size && m->arch != MEMLAB_ARCH_X86_64)
		return ml_bad_config(m, "xstate_size is x86_64's (arm64's task_struct has no XSAVE area)");
	if (size && (size < XSTATE_MIN || size > XSTATE_MAX))
		return ml_bad_config(m, "xstate_size (%u) must be %u..%u bytes", size, XSTATE_MIN,
				     XSTATE_MAX);
	if (!size && m->arch == MEMLAB_ARCH_X86_64)
		size = XSTATE_DEFAULT;
	m->xstate_size = size;		/* arm64: 0 */
	return 0;
}

static int apply_config(memlab_machine *m, const struct memlab_config *cfg)
{
	if (cfg->arch != MEMLAB_ARCH_X86_64 && cfg->arch != MEMLAB_ARCH_ARM64)
		return ml_bad_config(m, "unknown arch %d", cfg->arch);
	if (cfg->zones != MEMLAB_ZONES_ARCH && cfg->zones != MEMLAB_ZONES_SINGLE)
		return ml_bad_config(m, "unknown zone layout %d", cfg->zones);
	m->arch = cfg->arch;
	m->page_size = cfg->page_size;
	if (m->page_size == 0 || (m->page_size & (m->page_size - 1)) || set_orders(m))
		return ml_bad_config(m, m->arch == MEMLAB_ARCH_X86_64
				  ? "x86_64 has 4K pages only (page_size = %u)"
				  : "arm64 pages are 4K, 16K or 64K (page_size = %u)",
				  (unsigned)cfg->page_size);
	m->page_shift = (unsigned)ilog2_u64(m->page_size);
	if (set_va_bits(m, cfg->va_bits))
		return ml_bad_config(m, "va_bits %u is not a VA size of %s with %uK pages",
				  cfg->va_bits, m->arch == MEMLAB_ARCH_X86_64 ? "x86_64" : "arm64",
				  m->page_size >> 10);
	if (cfg->ram % m->page_size)
		return ml_bad_config(m, "ram (%llu bytes) is not a whole number of %uK pages",
				  (unsigned long long)cfg->ram, m->page_size >> 10);
	m->ram = cfg->ram;
	m->nr_frames = cfg->ram >> m->page_shift;
	if (m->nr_frames < (2ull << m->max_order))
		return ml_bad_config(m, "ram (%llu bytes) is too small: at least two order-%u blocks (%lluK) are needed",
				  (unsigned long long)cfg->ram, m->max_order,
				  (unsigned long long)(((2ull << m->max_order) * m->page_size) >> 10));
	if (m->nr_frames >= PFN_NONE)
		return ml_bad_config(m, "ram (%llu bytes) is too large: page frame numbers must fit in 32 bits",
				  (unsigned long long)cfg->ram);
	if (cfg->min_free_kbytes > 262144 * 16)
		return ml_bad_config(m, "min_free_kbytes (%lld) is too large (at most %d)",
				  (long long)cfg->min_free_kbytes, 262144 * 16);
	m->min_free_kbytes = cfg->min_free_kbytes;
	m->watermark_scale_factor = cfg->watermark_scale_factor ? cfg->watermark_scale_factor : 10;
	if (m->watermark_scale_factor < 1 || m->watermark_scale_factor > 3000)
		return ml_bad_config(m, "watermark_scale_factor (%d) must be 1..3000",
				  cfg->watermark_scale_factor);
	m->watermark_boost_factor = 15000;	/* vm.watermark_boost_factor's default */
	m->seed = cfg->seed;
	rng_seed(&m->rng, cfg->seed);
	fault_inject_init(m);
	m->zone_layout = cfg->zones;
	m->pcp_disabled = cfg->pcp_disabled != 0;
	m->nr_cpus = cfg->cpus ? cfg->cpus : 1;
	if (m->nr_cpus < 1 || m->nr_cpus > MEMLAB_MAX_CPUS)
		return ml_bad_config(m, "cpus (%d) must be 1..%d", cfg->cpus, MEMLAB_MAX_CPUS);
	m->debug_vm = cfg->debug_vm || DEBUG_VM_ALWAYS || env_debug_vm();
	m->memory_recursiveprot = cfg->memory_recursiveprot != 0;
	return set_xstate_size(m, cfg->xstate_size);
}

/* ===================== physical memory ===================== */

/*
** Frame descriptors and frame contents are anonymous host mappings, not
** host-allocator blocks: both are zero until written, so a 64 GiB machine
** costs the host only the descriptors and frames it ever touched.
*/
static void *map_lazy(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int physmem_init(memlab_machine *m)
{
	size_t nr_blocks = (size_t)((m->nr_frames >> m->pageblock_order) + 1);

	m->mem_map = map_lazy(m->nr_frames * sizeof(struct page));
	m->backing = map_lazy(m->ram);
	m->frame_dirty = map_lazy(m->nr_frames * sizeof(struct frame_extent));
	m->pageblock_mt = ml_alloc(m, nr_blocks);
	if (!m->mem_map || !m->backing || !m->frame_dirty || !m->pageblock_mt)
		return -MEMLAB_ENOMEM;
	return 0;
}

static void physmem_free(memlab_machine *m)
{
	if (m->mem_map)
		munmap(m->mem_map, m->nr_frames * sizeof(struct page));
	if (m->backing)
		munmap(m->backing, m->ram);
	if (m->frame_dirty)
		munmap(m->frame_dirty, m->nr_frames * sizeof(struct frame_extent));
	ml_free(m, m->pageblock_mt, (size_t)((m->nr_frames >> m->pageblock_order) + 1));
}

static int check_phys_range(const memlab_machine *m, uint64_t paddr, size_t n)
{
	if (paddr > m->ram || n > m->ram - paddr)
		return -MEMLAB_EFAULT;
	return 0;
}

int memlab_read_phys(memlab_machine *m, uint64_t paddr, void *buf, size_t n)
{
	int err = check_phys_range(m, paddr, n);

	if (err)
		return err;
	memcpy(buf, phys_ptr(m, paddr), n);
	return 0;
}

int memlab_write_phys(memlab_machine *m, uint64_t paddr, const void *buf,
		      size_t n)
{
	const uint8_t *src = buf;
	int err = m->dead ? -MEMLAB_EIO : check_phys_range(m, paddr, n);

	if (err)
		return err;
	while (n) {	/* frame by frame: each one's extent grows */
		size_t off = (size_t)(paddr & (m->page_size - 1));
		size_t len = m->page_size - off < n ? m->page_size - off : n;

		memcpy(frame_wptr(m, paddr >> m->page_shift, off, len), src, len);
		paddr += len;
		src += len;
		n -= len;
	}
	return 0;
}

/* ---- lazy zeroing (internal.h struct frame_extent) ---- */

/* Zero lines lo..hi-1 of frame pfn (nothing when lo >= hi). */
static void zero_lines(memlab_machine *m, uint64_t pfn, unsigned lo, unsigned hi)
{
	if (lo < hi)
		memset(m->backing + (pfn << m->page_shift) + ((size_t)lo << FRAME_LINE_SHIFT), 0,
		       (size_t)(hi - lo) << FRAME_LINE_SHIFT);
}

static size_t extent_bytes(const struct frame_extent *e)
{
	return e->lo < e->hi ? (size_t)(e->hi - e->lo) << FRAME_LINE_SHIFT : 0;
}

/*
** CONFIG_DEBUG_VM's side of lazy zeroing: frames just zeroed (or copied)
** must read as they should; a byte that does not was written by someone
** who bypassed frame_wptr(), and every zeroing after it may leak data.
** Loud: reported and the process aborts.
*/
static void check_frames(memlab_machine *m, uint64_t pfn, uint64_t nr, const uint8_t *want,
			 const char *what)
{
	const uint8_t *p = frame_ptr(m, pfn);
	size_t len = (size_t)(nr << m->page_shift), i;
	char msg[256];

	/* all zero: the first byte is, and each byte equals the next */
	if (want ? !memcmp(p, want, len) : !p[0] && !memcmp(p, p + 1, len - 1))
		return;
	for (i = 0; p[i] == (want ? want[i] : 0); i++)
		;
	snprintf(msg, sizeof(msg), "BUG: lazy zeroing: pfn %#llx byte %#zx is %#x after %s: "
		 "frame contents written outside what frame_wptr() was told",
		 (unsigned long long)(pfn + (i >> m->page_shift)), i & (m->page_size - 1), p[i],
		 what);
	ml_report(m, "%s", msg);
	fprintf(stderr, "memlab: %s\n", msg);	/* the host's hook may keep it quiet */
	abort();
}

/*
** Zero frame contents (__GFP_ZERO): only the lines each frame's extent
** names.  When that is 64 KiB or more, the whole host pages are given back
** instead of written (and read zero; madvise(MADV_DONTNEED) of private
** anonymous memory).
*/
void ml_zero_frames(memlab_machine *m, uint64_t pfn, uint64_t nr)
{
	struct frame_extent *e = &m->frame_dirty[pfn];
	size_t dirty = 0;

	for (uint64_t i = 0; i < nr; i++)
		dirty += extent_bytes(&e[i]);
	if (dirty >= (64u << 10) &&
	    madvise(m->backing + (pfn << m->page_shift), (size_t)(nr << m->page_shift),
		    MADV_DONTNEED) == 0) {
		memset(e, 0, (size_t)nr * sizeof(*e));
		return;
	}
	for (uint64_t i = 0; dirty && i < nr; i++) {
		zero_lines(m, pfn + i, e[i].lo, e[i].hi);
		e[i].lo = e[i].hi = 0;
	}
	if (m->debug_vm)
		check_frames(m, pfn, nr, NULL, "__GFP_ZERO");
}

/* pages_identical(page, ZERO_PAGE(0)): the frame holds only zero bytes. */
bool ml_frame_is_zero(const memlab_machine *m, uint64_t pfn)
{
	struct frame_extent e = m->frame_dirty[pfn];
	const uint8_t *p = frame_ptr(m, pfn);

	for (size_t i = (size_t)e.lo << FRAME_LINE_SHIFT; i < (size_t)e.hi << FRAME_LINE_SHIFT; i++)
		if (p[i])
			return false;
	return true;
}

/*
** copy_user_highpage(): frame src's contents into frame dst.  Only src's
** extent is copied; what dst had outside it is zeroed, and dst takes
** src's extent.
*/
void ml_copy_frame(memlab_machine *m, uint64_t dst, uint64_t src)
{
	struct frame_extent d = m->frame_dirty[dst], s = m->frame_dirty[src];

	if (s.lo >= s.hi) {
		zero_lines(m, dst, d.lo, d.hi);
	} else {
		zero_lines(m, dst, d.lo, d.hi < s.lo ? d.hi : s.lo);
		zero_lines(m, dst, d.lo > s.hi ? d.lo : s.hi, d.hi);
		memcpy(m->backing + (dst << m->page_shift) + ((size_t)s.lo << FRAME_LINE_SHIFT),
		       frame_ptr(m, src) + ((size_t)s.lo << FRAME_LINE_SHIFT), extent_bytes(&s));
	}
	m->frame_dirty[dst] = s;
	if (m->debug_vm)
		check_frames(m, dst, 1, frame_ptr(m, src), "a page copy");
}

/* ===================== create / destroy ===================== */

int memlab_create(const struct memlab_config *cfg, memlab_machine **out)
{
	struct memlab_config defaults;
	memlab_alloc_fn alloc;
	memlab_machine *m;
	int err;

	*out = NULL;
	if (!cfg) {
		memlab_config_init(&defaults);
		cfg = &defaults;
	}
	alloc = cfg->alloc ? cfg->alloc : default_alloc;
	m = alloc(cfg->alloc_ud, NULL, 0, sizeof(*m));
	if (!m)
		return -MEMLAB_ENOMEM;
	memset(m, 0, sizeof(*m));
	m->alloc = alloc;
	m->alloc_ud = cfg->alloc_ud;
	m->report = cfg->report;
	m->report_ud = cfg->report_ud;
	m->work_cpu = -1;
	kswapd_init(m);
	err = memcg_init(m);
	if (!err)
		err = lru_cache_init(m);
	if (!err)
		err = apply_config(m, cfg);
	if (!err)
		err = physmem_init(m);
	if (!err)
		err = page_alloc_init(m);
	if (!err) {
		compaction_init(m);
		khugepaged_init(m);
	}
	if (!err)
		err = swap_init(m, cfg->swap, cfg->swap_ssd);
	if (!err)
		err = tlb_init(m, cfg);
	if (!err)
		err = slab_init(m);
	if (!err)
		mm_sysctl_init(m);
	if (err) {
		memlab_destroy(m);
		return err;
	}
	*out = m;
	return 0;
}

void memlab_destroy(memlab_machine *m)
{
	if (!m)
		return;
	if (m->tlb)
		m->tlb->dying = true;	/* no flushing while everything goes */
	mm_release_all(m);
	khugepaged_release(m);
	memlab_trace_stop(m);
	tlb_free(m);
	vmalloc_destroy(m);
	vm_area_cache_destroy(m);
	slab_exit(m);
	swap_free_all(m);
	lru_cache_destroy(m);
	memcg_destroy(m);
	page_alloc_free(m);
	physmem_free(m);
	m->alloc(m->alloc_ud, m, sizeof(*m), 0);
}

void memlab_machine_info(const memlab_machine *m,
			 struct memlab_machine_info *info)
{
	memset(info, 0, sizeof(*info));
	info->arch = m->arch;
	info->page_size = m->page_size;
	info->page_shift = m->page_shift;
	info->va_bits = m->va_bits;
	info->ram = m->ram;
	info->nr_frames = m->nr_frames;
	info->nr_reserved = m->nr_reserved;
	info->max_order = m->max_order;
	info->pageblock_order = m->pageblock_order;
	info->nr_zones = m->nr_zones;
	info->mobility_grouping = !m->mobility_disabled;
	info->min_free_kbytes = m->min_free_kbytes;
	info->watermark_scale_factor = m->watermark_scale_factor;
	info->seed = m->seed;
	info->nr_cpus = m->tlb->nr_cpus;
	info->dead = m->dead;
	info->memory_recursiveprot = m->memory_recursiveprot;
	info->xstate_size = m->xstate_size;
}

void ml_violation(struct ml_check *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	c->count++;
	if (!c->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->fn(c->ud, msg);
}
