/*
** test_pgtable.c -- page tables in simulated frames (core/pgtable.c):
** the formats Linux derives, bit-exact encodings, random mappings on every
** supported (arch, granule, va_bits) checked against an independent
** reference walker, freeing, the checker, ENOMEM without leaks, the dump.
*/
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"
#include "pgtable.h"
#include "testlib.h"

#define X86 MEMLAB_ARCH_X86_64
#define ARM MEMLAB_ARCH_ARM64
#define GiB (1ull << 30)

struct pt_case {
	int arch;
	uint32_t page_size;
	unsigned va_bits;
	unsigned levels;		/* CONFIG_PGTABLE_LEVELS */
	uint64_t ptrs_per_pgd;		/* PTRS_PER_PGD */
};

/* Every supported format with the values of arch/arm64/Kconfig and pgtable-hwdef.h. */
static const struct pt_case cases[] = {
	{ X86, 4096, 48, 4, 512 },	{ X86, 4096, 57, 5, 512 },
	{ ARM, 4096, 39, 3, 512 },	{ ARM, 4096, 48, 4, 512 },
	{ ARM, 16384, 36, 2, 2048 },	{ ARM, 16384, 47, 3, 2048 },
	{ ARM, 16384, 48, 4, 2 },	{ ARM, 65536, 42, 2, 8192 },
	{ ARM, 65536, 48, 3, 64 },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static int nr_violations;
static char last_violation[512];

static void count_violation(void *ud, const char *msg)
{
	nr_violations++;
	snprintf(last_violation, sizeof(last_violation), "%s", msg);
}

static void quiet_report(void *ud, const char *msg)
{
}

static memlab_machine *make(int arch, uint32_t page_size, unsigned va_bits, uint64_t ram,
			    int pcp_disabled)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	cfg.arch = arch;
	cfg.page_size = page_size;
	cfg.va_bits = va_bits;
	cfg.ram = ram;
	cfg.pcp_disabled = pcp_disabled;
	cfg.report = quiet_report;
	if (memlab_create(&cfg, &m) != 0)
		return NULL;
	return m;
}

/* Free frames: the buddy lists plus the per-CPU lists, over every zone. */
static uint64_t free_frames(memlab_machine *m)
{
	uint64_t n = 0;

	for (int z = 0; z < memlab_nr_zones(m); z++) {
		struct memlab_zone_info zi;

		memlab_zone_info(m, z, &zi);
		n += zi.nr_free + (uint64_t)zi.pcp_count;
	}
	return n;
}

static uint64_t nr_page_table_pages(memlab_machine *m)
{
	uint64_t v = 0;

	memlab_vmstat_get(m, "nr_page_table_pages", &v);
	return v;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static struct pt_prot prot_of(bool present, bool write, bool user, bool exec, bool accessed,
			      bool dirty)
{
	struct pt_prot p;

	memset(&p, 0, sizeof(p));
	p.present = present;
	p.write = write;
	p.user = user;
	p.exec = exec;
	p.accessed = accessed;
	p.dirty = dirty;
	return p;
}

static bool prot_eq(struct pt_prot a, struct pt_prot b)
{
	return a.present == b.present && a.write == b.write && a.user == b.user &&
	       a.exec == b.exec && a.accessed == b.accessed && a.dirty == b.dirty &&
	       a.global == b.global && a.huge == b.huge && a.special == b.special &&
	       a.protnone == b.protnone;
}

/* ===================== the reference walker ===================== */

/*
** Written from the architecture manuals, sharing nothing with pgtable.c:
** Intel SDM vol. 3A 4.5 (4-level and 5-level paging: PML5/PML4/PDPT/PD/PT
** indices of 9 bits from bit 12 up, P bit 0, R/W bit 1, U/S bit 2, A bit 5,
** D bit 6, PS bit 7 in a PDPTE (1 GiB) or PDE (2 MiB), address bits 51:12,
** XD bit 63; user access and writes need U/S and R/W at every level, XD at
** any level forbids fetches) and the Arm ARM D8 (VMSAv8-64 stage 1: a walk
** starts at level 4 - ceil((va_bits - g) / (g - 3)) with the leftover
** index bits there; descriptor bit 0 valid, bit 1 table (levels 0-2) or
** page (level 3; 0 there is reserved), block otherwise, where allowed:
** 4K levels 1-2, 16K and 64K level 2; output address bits 47:g; AP[1] bit 6
** EL0 access, AP[2] bit 7 read-only, AF bit 10, DBM bit 51 (writable under
** hardware dirty management: "dirty" is DBM with AP[2] clear), PXN bit 53,
** UXN bit 54, PXNTable bit 59 of a table descriptor (no EL1 execution
** below it)).
** level is reported Linux's way, 0 for the last level.
*/
struct ref_walk {
	bool present;
	int level;
	int nrefs;
	uint64_t pa;
	bool user, write, exec, accessed, dirty;
	bool pexec;			/* arm64: EL1 may execute (PXN and PXNTable clear) */
};

static uint64_t ref_read(memlab_machine *m, uint64_t paddr)
{
	uint8_t b[8];
	uint64_t v = 0;

	memlab_read_phys(m, paddr, b, 8);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void ref_walk_x86(memlab_machine *m, uint64_t cr3, int nlevels, uint64_t va,
			 struct ref_walk *r)
{
	uint64_t table = cr3, addr_mask = 0x000ffffffffff000ull;
	bool user = true, write = true, xd = false;

	memset(r, 0, sizeof(*r));
	for (int lvl = nlevels; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint64_t e = ref_read(m, table + ((va >> shift) & 0x1ff) * 8);
		bool leaf = lvl == 1 || ((lvl == 2 || lvl == 3) && (e & 0x80));

		r->nrefs++;
		r->level = lvl - 1;
		if (!(e & 1))
			return;
		user = user && (e & 4);
		write = write && (e & 2);
		xd = xd || (e >> 63);
		if (!leaf) {
			table = e & addr_mask;
			continue;
		}
		r->present = true;
		r->pa = (e & addr_mask & ~((1ull << shift) - 1)) | (va & ((1ull << shift) - 1));
		r->user = user;
		r->write = write;
		r->exec = !xd;
		r->accessed = e & 0x20;
		r->dirty = e & 0x40;
		return;
	}
}

static bool ref_block_allowed(unsigned g, int lvl)
{
	return g == 12 ? (lvl == 1 || lvl == 2) : lvl == 2;
}

static void ref_walk_arm64(memlab_machine *m, uint64_t ttbr, unsigned g, unsigned va_bits,
			   uint64_t va, struct ref_walk *r)
{
	unsigned stride = g - 3;
	int nlevels = (int)((va_bits - g + stride - 1) / stride);
	int start = 4 - nlevels;
	uint64_t table = ttbr, oa_mask = 0x0000ffffffffffffull & ~((1ull << g) - 1);
	bool pxntable = false;

	memset(r, 0, sizeof(*r));
	for (int lvl = start; lvl <= 3; lvl++) {
		unsigned shift = g + stride * (unsigned)(3 - lvl);
		unsigned bits = lvl == start ? va_bits - shift : stride;
		uint64_t d = ref_read(m, table + ((va >> shift) & ((1ull << bits) - 1)) * 8);

		r->nrefs++;
		r->level = 3 - lvl;
		if (!(d & 1))
			return;
		if (lvl < 3 && (d & 2)) {
			table = d & oa_mask;
			pxntable = pxntable || (d & (1ull << 59));
			continue;
		}
		if ((lvl == 3 && !(d & 2)) || (lvl < 3 && !ref_block_allowed(g, lvl)))
			return;		/* reserved encoding: a translation fault */
		r->present = true;
		r->pa = (d & oa_mask & ~((1ull << shift) - 1)) | (va & ((1ull << shift) - 1));
		r->user = d & (1ull << 6);
		r->write = !(d & (1ull << 7)) || (d & (1ull << 51));
		r->dirty = !(d & (1ull << 7)) && (d & (1ull << 51));
		r->exec = !(d & (1ull << 54));
		r->pexec = !(d & (1ull << 53)) && !pxntable;
		r->accessed = d & (1ull << 10);
		return;
	}
}

static void ref_walk(memlab_machine *m, const struct mm_struct *mm, uint64_t va,
		     struct ref_walk *r)
{
	struct memlab_machine_info mi;
	uint64_t root;

	memlab_machine_info(m, &mi);
	root = mm->pgd << mi.page_shift;
	if (mi.arch == X86)
		ref_walk_x86(m, root, mi.va_bits == 57 ? 5 : 4, va, r);
	else
		ref_walk_arm64(m, root, mi.page_shift, mi.va_bits, va, r);
}

/* ===================== the formats and the encodings ===================== */

TEST(formats)
{
	struct pt_format f;

	for (size_t i = 0; i < NR_CASES; i++) {
		const struct pt_case *c = &cases[i];
		unsigned shift = (unsigned)__builtin_ctz(c->page_size);

		ASSERT_OK(pt_format_init(&f, c->arch, shift, c->va_bits));
		ASSERT_EQ(f.levels, c->levels);
		ASSERT_EQ(f.ptrs_per_pgd, c->ptrs_per_pgd);
		ASSERT_EQ(f.ptrs_per_table, c->page_size / 8);
		ASSERT_EQ(pt_level_shift(&f, f.levels - 1) + __builtin_ctzll(f.ptrs_per_pgd),
			  c->va_bits);
		ASSERT_STREQ(pt_level_name(&f, f.levels - 1), "PGD");
		ASSERT_STREQ(pt_level_name(&f, 0), "PTE");
	}
	ASSERT_OK(pt_format_init(&f, X86, 12, 48));
	ASSERT_EQ(pt_level_shift(&f, 1), 21);	/* PMD_SHIFT */
	ASSERT_EQ(pt_level_shift(&f, 2), 30);	/* PUD_SHIFT */
	ASSERT_EQ(pt_level_shift(&f, 3), 39);	/* PGDIR_SHIFT */
	ASSERT_EQ(pt_index(&f, 3, 0x7ffffffff000ull), 255);
	ASSERT_STREQ(pt_level_name(&f, 2), "PUD");
	ASSERT_OK(pt_format_init(&f, X86, 12, 57));
	ASSERT_STREQ(pt_level_name(&f, 3), "P4D");
	ASSERT_EQ(pt_level_shift(&f, 4), 48);
	ASSERT_OK(pt_format_init(&f, ARM, 16, 42));
	ASSERT_EQ(pt_level_shift(&f, 1), 29);	/* 512M blocks with 64K pages */
	ASSERT_EQ(pt_format_init(&f, X86, 12, 39), -MEMLAB_EINVAL);
	ASSERT_EQ(pt_format_init(&f, ARM, 14, 39), -MEMLAB_EINVAL);
	ASSERT_EQ(pt_format_init(&f, ARM, 13, 48), -MEMLAB_EINVAL);
}

/*
** x86-64 (arch/x86/include/asm/pgtable_types.h): a user RW NX accessed
** dirty PTE for pfn 0x1234 is _PAGE_PRESENT 0x1 | _PAGE_RW 0x2 |
** _PAGE_USER 0x4 | _PAGE_ACCESSED 0x20 | _PAGE_DIRTY 0x40 = 0x67, the pfn
** at bit 12 (0x1234000) and _PAGE_NX 1 << 63: 0x8000000001234067.  A 2M
** PMD adds _PAGE_PSE 0x80; a table entry is _PAGE_TABLE = 0x67 (no NX).
*/
TEST(encodings_x86)
{
	struct pt_format f;
	struct pt_prot p = prot_of(true, true, true, false, true, true), q;
	uint64_t pfn;

	ASSERT_OK(pt_format_init(&f, X86, 12, 48));
	ASSERT_EQ(pt_mkentry(&f, 0, 0x1234, p), 0x8000000001234067ull);
	ASSERT_EQ(pt_mkentry(&f, 1, 0x200, p), 0x80000000002000e7ull);
	ASSERT_EQ(pt_mkentry(&f, 2, 0x40000, p), 0x80000000400000e7ull);	/* 1G at 1G */
	ASSERT_EQ(pt_mktable(&f, 0x1234), 0x1234067ull);
	/* read-only executable, clean, young: P | US | A */
	ASSERT_EQ(pt_mkentry(&f, 0, 0x1234, prot_of(true, false, true, true, true, false)),
		  0x1234025ull);
	/* the highest pfn the 52-bit field holds */
	ASSERT_EQ(pt_mkentry(&f, 0, 0xffffffffffull, prot_of(true, true, true, true, false,
							      false)),
		  0x000ffffffffff007ull);
	pt_decode(&f, 0, 0x8000000001234067ull, &pfn, &q);
	ASSERT_EQ(pfn, 0x1234);
	ASSERT(prot_eq(p, q));
	pt_decode(&f, 1, 0x80000000002010e7ull, &pfn, &q);	/* PAT bit 12 set */
	ASSERT_EQ(pfn, 0x200);
	ASSERT(q.huge);
	ASSERT(pt_entry_is_table(&f, 1, 0x1234067ull));
	ASSERT(!pt_entry_is_table(&f, 1, 0x12340e7ull));
	ASSERT(!pt_entry_is_table(&f, 0, 0x1234067ull));
}

/*
** arm64 (arch/arm64/include/asm/pgtable-prot.h, 6.x):
**   _PAGE_DEFAULT = PTE_TYPE_PAGE 0x3 | PTE_AF 0x400 | PTE_SHARED 0x300
**                   | PTE_ATTRINDX(MT_NORMAL = 0) 0          = 0x703
**   _PAGE_SHARED  = _PAGE_DEFAULT | PTE_USER 0x40 | PTE_RDONLY 0x80
**                   | PTE_NG 0x800 | PTE_PXN 1<<53 | PTE_UXN 1<<54
**                   | PTE_WRITE (DBM) 1<<51               = 0x0068000000000fc3
** so PAGE_SHARED for pfn 0x1234 with 4K pages is 0x0068000001234fc3: a
** clean writable page.  pte_mkdirty() sets PTE_DIRTY 1<<55 and clears
** PTE_RDONLY: 0x00e8000001234f43.  _PAGE_READONLY_EXEC drops UXN and
** WRITE: 0x0020000001234fc3.  With 64K pages the address is pfn << 16.
** A block (pmd_mkhuge) clears bit 1: PAGE_SHARED at 2M is
** 0x0068000000200fc1.  pmd_populate() writes PMD_TYPE_TABLE 0x3 |
** PMD_TABLE_PXN 1<<59 for a user mm: 0x0800000001234003.
*/
TEST(encodings_arm64)
{
	struct pt_format f, f64;
	struct pt_prot shared = prot_of(true, true, true, false, true, false), q;
	uint64_t pfn;

	ASSERT_OK(pt_format_init(&f, ARM, 12, 48));
	ASSERT_OK(pt_format_init(&f64, ARM, 16, 42));
	ASSERT_EQ(pt_mkentry(&f, 0, 0x1234, shared), 0x0068000001234fc3ull);
	shared.dirty = true;
	ASSERT_EQ(pt_mkentry(&f, 0, 0x1234, shared), 0x00e8000001234f43ull);
	ASSERT_EQ(pt_mkentry(&f, 0, 0x1234, prot_of(true, false, true, true, true, false)),
		  0x0020000001234fc3ull);
	shared.dirty = false;
	ASSERT_EQ(pt_mkentry(&f64, 0, 0x1234, shared), 0x0068000012340fc3ull);
	ASSERT_EQ(pt_mkentry(&f, 1, 0x200, shared), 0x0068000000200fc1ull);
	ASSERT_EQ(pt_mktable(&f, 0x1234), 0x0800000001234003ull);
	pt_decode(&f, 0, 0x00e8000001234f43ull, &pfn, &q);
	ASSERT_EQ(pfn, 0x1234);
	ASSERT(q.present && q.write && q.dirty && q.user && !q.exec && q.accessed && !q.global);
	/* hardware dirty (DBM with RDONLY cleared by the CPU), no software DIRTY */
	pt_decode(&f, 0, 0x0068000001234f43ull, &pfn, &q);
	ASSERT(q.dirty && q.write);
	pt_decode(&f, 1, 0x0068000000200fc1ull, &pfn, &q);
	ASSERT(q.present && q.huge);
	ASSERT_EQ(pfn, 0x200);
	ASSERT(pt_entry_is_table(&f, 1, 0x0800000001234003ull));
	ASSERT(!pt_entry_is_table(&f, 1, 0x0068000000200fc1ull));
}

/*
** mkentry and decode are inverse for every protection, level and format
** (global and protnone mean something only for a valid and an invalid
** entry respectively, exec nothing for protnone: the other combinations
** are left out).
*/
TEST(encode_decode_roundtrip)
{
	for (size_t i = 0; i < NR_CASES; i++) {
		struct pt_format f;

		ASSERT_OK(pt_format_init(&f, cases[i].arch, (unsigned)__builtin_ctz(cases[i].page_size),
					 cases[i].va_bits));
		for (unsigned bits = 0; bits < 512; bits++) {
			if ((bits & 1) ? (bits & 256) != 0 : (bits & 64) != 0)
				continue;
			if ((bits & 256) && (bits & 8))	/* PAGE_NONE: exec means nothing */
				continue;
			for (unsigned level = 0; level < 2; level++) {
				struct pt_prot p, q;
				uint64_t pfn = (0x12345ull << (level * f.bits_per_level)), got;

				memset(&p, 0, sizeof(p));
				p.present = bits & 1, p.write = bits & 2, p.user = bits & 4;
				p.exec = bits & 8, p.accessed = bits & 16, p.dirty = bits & 32;
				p.global = bits & 64, p.special = bits & 128, p.huge = level > 0;
				p.protnone = bits & 256;
				pt_decode(&f, (int)level, pt_mkentry(&f, (int)level, pfn, p), &got, &q);
				if (!prot_eq(p, q) || got != pfn)
					TEST_FAIL("case %zu bits %#x level %u: pfn %#llx", i, bits,
						  level, (unsigned long long)got);
			}
		}
	}
}

/* ===================== random mappings on every format ===================== */

struct mapping {
	uint64_t va;
	unsigned level;
	uint64_t pfn;
	struct pt_prot prot;
};

struct rand_ctx {
	memlab_machine *m;
	struct mm_struct mm;
	struct pt_format f;
	uint64_t user_top;
	struct mapping *maps;
	size_t nr;
	size_t nr_huge, nr_holes_below_top;	/* what the run exercised */
};

static uint64_t level_size(const struct rand_ctx *c, unsigned level)
{
	return 1ull << pt_level_shift(&c->f, level);
}

/* The recorded mapping covering va, or NULL. */
static const struct mapping *covering(const struct rand_ctx *c, uint64_t va)
{
	for (size_t i = 0; i < c->nr; i++) {
		const struct mapping *mp = &c->maps[i];

		if (va >= mp->va && va - mp->va < level_size(c, mp->level))
			return mp;
	}
	return NULL;
}

/* Some recorded mapping overlaps [va, va + size). */
static bool overlaps(const struct rand_ctx *c, uint64_t va, uint64_t size)
{
	for (size_t i = 0; i < c->nr; i++) {
		const struct mapping *mp = &c->maps[i];

		if (mp->va < va + size && va < mp->va + level_size(c, mp->level))
			return true;
	}
	return false;
}

static struct pt_prot random_prot(unsigned level)
{
	uint64_t r = rnd();
	struct pt_prot p = prot_of((r & 15) != 0, r & 16, (r & 96) != 0, r & 128, r & 256,
				   r & 512);

	p.special = (r & 0x1c00) == 0;
	p.huge = level > 0;
	return p;
}

/* Map about n random leaves in clusters (so tables are shared), some huge. */
static int map_random(struct rand_ctx *c, size_t n)
{
	uint64_t region[16], region_span = level_size(c, 1) * 64;
	unsigned pfn_bits = (c->f.arch == X86 ? 52 : 48) - c->f.page_shift;

	if (region_span > c->user_top / 16)
		region_span = c->user_top / 16;
	for (int i = 0; i < 16; i++)
		region[i] = (rnd() % (c->user_top - region_span)) & ~(level_size(c, 1) - 1);
	for (size_t k = 0; k < n; k++) {
		uint64_t r = rnd() % 100;
		unsigned level = r < 90 ? 0 : r < 98 || !(c->f.leaf_levels & 4) ? 1 : 2;
		uint64_t size = level_size(c, level);
		uint64_t va = level == 2 ? (rnd() % c->user_top) & ~(size - 1)
					 : (region[rnd() % 16] + rnd() % region_span) & ~(size - 1);
		struct mapping mp = { va, level, 0, random_prot(level) };
		int err;

		mp.pfn = (rnd() & ((1ull << pfn_bits) - 1)) & ~((size >> c->f.page_shift) - 1);
		err = pt_map(c->m, &c->mm, va, level, mp.pfn, mp.prot);
		if (err == -MEMLAB_EEXIST && overlaps(c, va, size))
			continue;
		if (err)
			return err;
		c->maps[c->nr++] = mp;
		c->nr_huge += level > 0;
	}
	return 0;
}

/* pt_walk and the reference walker agree with each other and with what was mapped. */
static int check_mapping(struct rand_ctx *c, const struct mapping *mp, char *why, size_t wn)
{
	uint64_t size = level_size(c, mp->level), va = mp->va + rnd() % size;
	struct pt_walk w;
	struct ref_walk r;
	int err = pt_walk(c->m, &c->mm, va, &w);

	ref_walk(c->m, &c->mm, va, &r);
	if (err != (mp->prot.present ? 0 : -MEMLAB_EFAULT) || w.present != mp->prot.present ||
	    r.present != mp->prot.present)
		return snprintf(why, wn, "va %#llx: present %d/%d/%d err %d", (unsigned long long)va,
				mp->prot.present, w.present, r.present, err);
	if (w.level != mp->level || r.level != (int)mp->level || w.nr_levels != (unsigned)r.nrefs ||
	    w.mem_refs != (unsigned)r.nrefs || w.nr_levels != c->f.levels - mp->level)
		return snprintf(why, wn, "va %#llx: level %u/%u/%d refs %u/%d", (unsigned long long)va,
				mp->level, w.level, r.level, w.mem_refs, r.nrefs);
	if (!prot_eq(w.prot, mp->prot) || w.pfn != mp->pfn)
		return snprintf(why, wn, "va %#llx: decoded prot or pfn differ", (unsigned long long)va);
	if (w.entry[w.nr_levels - 1] != pt_mkentry(&c->f, (int)mp->level, mp->pfn, mp->prot))
		return snprintf(why, wn, "va %#llx: the leaf entry differs", (unsigned long long)va);
	if (!mp->prot.present)
		return 0;
	if (w.phys != r.pa || w.phys != ((mp->pfn << c->f.page_shift) | (va & (size - 1))))
		return snprintf(why, wn, "va %#llx: phys %#llx, reference %#llx", (unsigned long long)va,
				(unsigned long long)w.phys, (unsigned long long)r.pa);
	if (r.user != mp->prot.user || r.write != mp->prot.write || r.accessed != mp->prot.accessed ||
	    (c->f.arch == X86 && r.exec != mp->prot.exec) ||
	    /* arm64: EL0 executes user pages without UXN; Linux's user tables
	     * carry PXNTable, so EL1 executes nothing under them (only a block
	     * in the PGD itself, with no table above, can be kernel-executable) */
	    (c->f.arch == ARM && (mp->prot.user ? r.exec != mp->prot.exec || r.pexec
			: r.pexec != (mp->prot.exec && mp->level == c->f.levels - 1))) ||
	    r.dirty != (c->f.arch == X86 ? mp->prot.dirty : mp->prot.dirty && mp->prot.write))
		return snprintf(why, wn, "va %#llx level %u: the reference sees other permissions "
				"(u%d w%d x%d a%d d%d px%d, mapped u%d w%d x%d a%d d%d)",
				(unsigned long long)va, mp->level, r.user, r.write, r.exec, r.accessed,
				r.dirty, r.pexec, mp->prot.user, mp->prot.write, mp->prot.exec,
				mp->prot.accessed, mp->prot.dirty);
	return 0;
}

/* An unmapped va: both walkers stop on a none entry at the same level. */
static int check_unmapped(struct rand_ctx *c, uint64_t va, char *why, size_t wn)
{
	struct pt_walk w;
	struct ref_walk r;
	int err = pt_walk(c->m, &c->mm, va, &w);

	ref_walk(c->m, &c->mm, va, &r);
	if (err != -MEMLAB_EFAULT || w.present || r.present || w.level != (unsigned)r.level ||
	    w.nr_levels != (unsigned)r.nrefs || w.entry[w.nr_levels - 1] != 0 ||
	    w.nr_levels != c->f.levels - w.level)
		return snprintf(why, wn, "unmapped va %#llx: err %d level %u/%d refs %u/%d",
				(unsigned long long)va, err, w.level, r.level, w.nr_levels, r.nrefs);
	return 0;
}

static int check_all(struct rand_ctx *c, char *why, size_t wn)
{
	struct pt_walk w;

	for (size_t i = 0; i < c->nr; i++)
		if (check_mapping(c, &c->maps[i], why, wn))
			return 1;
	for (int k = 0; k < 3000; k++) {
		/* far away, or near a mapping (the same tables) */
		uint64_t va = k % 3 == 0 ? rnd() % c->user_top : 0;

		if (k % 3) {
			const struct mapping *mp = &c->maps[rnd() % c->nr];
			uint64_t step = level_size(c, (unsigned)(rnd() % c->f.levels));

			va = mp->va + (rnd() % 16) * step;
			if (va >= c->user_top)
				continue;
		}
		if (covering(c, va))
			continue;
		if (check_unmapped(c, va, why, wn))
			return 1;
		c->nr_holes_below_top += pt_walk(c->m, &c->mm, va, &w) && w.level < c->f.levels - 1;
	}
	return 0;
}

/* pt_set changes a leaf in place; the walk and the reference see it. */
static int change_some(struct rand_ctx *c, char *why, size_t wn)
{
	for (size_t i = 0; i < c->nr; i += 7) {
		struct mapping *mp = &c->maps[i];
		uint64_t old = 0, was = pt_mkentry(&c->f, (int)mp->level, mp->pfn, mp->prot);

		mp->prot = random_prot(mp->level);
		mp->pfn ^= (rnd() & 0xff) << (mp->level * c->f.bits_per_level);
		if (pt_set(c->m, &c->mm, mp->va, mp->pfn, mp->prot, &old) || old != was)
			return snprintf(why, wn, "pt_set at %#llx", (unsigned long long)mp->va);
		if (check_mapping(c, mp, why, wn))
			return 1;
	}
	return 0;
}

static int clear_all(struct rand_ctx *c, char *why, size_t wn)
{
	for (size_t i = 0; i < c->nr; i++) {
		const struct mapping *mp = &c->maps[i];
		uint64_t old = 0;

		if (pt_clear(c->m, &c->mm, mp->va, &old) ||
		    old != pt_mkentry(&c->f, (int)mp->level, mp->pfn, mp->prot))
			return snprintf(why, wn, "pt_clear at %#llx", (unsigned long long)mp->va);
		if (pt_clear(c->m, &c->mm, mp->va, &old) != -MEMLAB_ENOENT)
			return snprintf(why, wn, "second pt_clear at %#llx", (unsigned long long)mp->va);
	}
	return 0;
}

static void print_violation(void *ud, const char *msg)
{
	printf("  violation: %s\n", msg);
}

/*
** Lazy zeroing (internal.h struct frame_extent): every allocated frame --
** here the tables -- is zero outside its extent, or __GFP_ZERO would leave
** stale entries in the next table it becomes.
*/
static int extents_cover_tables(memlab_machine *m, char *why, size_t wn)
{
	for (uint64_t pfn = 0; pfn < m->nr_frames; pfn++) {
		const struct frame_extent *e = &m->frame_dirty[pfn];
		const uint8_t *p = frame_ptr(m, pfn);

		if (!(pfn_to_page(m, pfn)->flags & PG_head_alloc))
			continue;
		for (size_t b = 0; b < m->page_size; b++)
			if (p[b] && ((b >> FRAME_LINE_SHIFT) < e->lo || (b >> FRAME_LINE_SHIFT) >= e->hi))
				return snprintf(why, wn, "pfn %#llx byte %#zx: outside its extent",
						(unsigned long long)pfn, b);
	}
	return 0;
}

/* One format: map, compare both walkers, change, clear, free, count frames. */
static int random_case(const struct pt_case *pc, size_t n, char *why, size_t wn)
{
	struct rand_ctx c;
	uint64_t before, tables_before;
	int ret = 1;

	memset(&c, 0, sizeof(c));
	c.m = make(pc->arch, pc->page_size, pc->va_bits, GiB, 0);
	c.maps = calloc(n, sizeof(*c.maps));
	if (!c.m || !c.maps) {
		snprintf(why, wn, "no machine");
		goto out;
	}
	c.mm.machine = c.m;
	before = free_frames(c.m);
	tables_before = nr_page_table_pages(c.m);
	if (pgd_alloc(c.m, &c.mm) || free_frames(c.m) != before - 1) {
		snprintf(why, wn, "pgd_alloc");
		goto out;
	}
	c.f = c.mm.pt;
	/* a PGD of a whole page is a page table (NR_PAGETABLE), a partial one is not */
	if (nr_page_table_pages(c.m) - tables_before != (c.f.ptrs_per_pgd * 8 == pc->page_size)) {
		snprintf(why, wn, "pgd_alloc: NR_PAGETABLE %llu -> %llu",
			 (unsigned long long)tables_before,
			 (unsigned long long)nr_page_table_pages(c.m));
		goto out;
	}
	tables_before = nr_page_table_pages(c.m);
	c.user_top = pc->arch == X86 ? 1ull << (pc->va_bits - 1) : 1ull << pc->va_bits;
	if (map_random(&c, n)) {
		snprintf(why, wn, "map_random");
		goto out;
	}
	if (c.nr < n / 2 || c.mm.pgtables_bytes == 0 ||
	    nr_page_table_pages(c.m) - tables_before != c.mm.pgtables_bytes / pc->page_size ||
	    free_frames(c.m) != before - 1 - c.mm.pgtables_bytes / pc->page_size) {
		snprintf(why, wn, "%zu mapped, accounting off", c.nr);
		goto out;
	}
	if (pt_check(c.m, &c.mm, print_violation, NULL, "random") != 0) {
		snprintf(why, wn, "pt_check after mapping");
		goto out;
	}
	if (check_all(&c, why, wn) || change_some(&c, why, wn) ||
	    extents_cover_tables(c.m, why, wn))
		goto out;
	if (c.nr_huge < 10 || c.nr_holes_below_top < 100) {
		snprintf(why, wn, "%zu huge leaves, %zu holes below the top: too few", c.nr_huge,
			 c.nr_holes_below_top);
		goto out;
	}
	if (clear_all(&c, why, wn))
		goto out;
	free_pgtables(c.m, &c.mm, 0, 0, NULL);
	if (c.mm.pgtables_bytes != 0 || free_frames(c.m) != before - 1 ||
	    nr_page_table_pages(c.m) != tables_before ||
	    pt_check(c.m, &c.mm, print_violation, NULL, "freed") != 0) {
		snprintf(why, wn, "after free_pgtables: %llu bytes, %llu frames short",
			 (unsigned long long)c.mm.pgtables_bytes,
			 (unsigned long long)(before - free_frames(c.m)));
		goto out;
	}
	c.nr = 0;
	if (check_unmapped(&c, c.maps[0].va, why, wn))
		goto out;
	pgd_free(c.m, &c.mm);
	if (free_frames(c.m) != before || nr_page_table_pages(c.m) != tables_before -
	    (c.f.ptrs_per_pgd * 8 == pc->page_size) || memlab_check(c.m, print_violation, NULL) != 0) {
		snprintf(why, wn, "after pgd_free");
		goto out;
	}
	ret = 0;
out:
	free(c.maps);
	if (c.m)
		memlab_destroy(c.m);
	return ret;
}

TEST(random_mappings_every_format)
{
	char why[256];

	for (size_t i = 0; i < NR_CASES; i++) {
		why[0] = '\0';
		if (random_case(&cases[i], 3000, why, sizeof(why)))
			TEST_FAIL("%s %u/%u: %s", cases[i].arch == X86 ? "x86_64" : "arm64",
				  cases[i].page_size, cases[i].va_bits, why);
	}
}

/* ===================== walks, errors, freeing on x86-64 ===================== */

static memlab_machine *make_mm(struct mm_struct *mm, int arch, uint32_t ps, unsigned va_bits,
			       uint64_t ram, int pcp_disabled)
{
	memlab_machine *m = make(arch, ps, va_bits, ram, pcp_disabled);

	memset(mm, 0, sizeof(*mm));
	if (!m)
		return NULL;
	mm->machine = m;
	if (pgd_alloc(m, mm)) {
		memlab_destroy(m);
		return NULL;
	}
	return m;
}

TEST(walk_levels_x86)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, X86, 4096, 48, 256ull << 20, 0);
	struct pt_prot rw = prot_of(true, true, true, false, true, true);
	struct pt_walk w;

	ASSERT(m);
	ASSERT_EQ(pgd_alloc(m, &mm), -MEMLAB_EEXIST);
	ASSERT_EQ(pt_walk(m, &mm, 0x400000, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.level, 3);
	ASSERT_EQ(w.nr_levels, 1);
	ASSERT_EQ(w.mem_refs, 1);
	ASSERT_EQ(w.entry[0], 0);
	ASSERT_EQ(w.table[0], mm.pgd);
	ASSERT_OK(pt_map(m, &mm, 0x400000, 0, 0x1234, rw));
	ASSERT_EQ(mm.pgtables_bytes, 3 * 4096);
	ASSERT_OK(pt_walk(m, &mm, 0x400123, &w));
	ASSERT_EQ(w.phys, 0x1234123);
	ASSERT_EQ(w.nr_levels, 4);
	ASSERT_EQ(w.mem_refs, 4);
	ASSERT_EQ(w.entry[3], 0x8000000001234067ull);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(w.entry[i], pt_mktable(&mm.pt, w.table[i + 1]));
	/* holes at each level */
	ASSERT_EQ(pt_walk(m, &mm, 0x401000, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.level, 0);
	ASSERT_EQ(w.nr_levels, 4);
	ASSERT_EQ(pt_walk(m, &mm, 0x800000, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.level, 1);
	ASSERT_EQ(w.nr_levels, 3);
	ASSERT_EQ(pt_walk(m, &mm, 0x40000000, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.level, 2);
	ASSERT_EQ(pt_walk(m, &mm, 1ull << 39, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.level, 3);
	ASSERT_EQ(pt_walk(m, &mm, 1ull << 48, &w), -MEMLAB_EINVAL);
	/* a 2M page in the same PMD table */
	ASSERT_OK(pt_map(m, &mm, 0x600000, 1, 0x200, rw));
	ASSERT_EQ(mm.pgtables_bytes, 3 * 4096);
	ASSERT_OK(pt_walk(m, &mm, 0x7abcde, &w));
	ASSERT_EQ(w.level, 1);
	ASSERT_EQ(w.nr_levels, 3);
	ASSERT(w.prot.huge);
	ASSERT_EQ(w.phys, 0x200000 + 0x1abcde);
	/* errors */
	ASSERT_EQ(pt_map(m, &mm, 0x601000, 0, 1, rw), -MEMLAB_EEXIST);	/* under the 2M page */
	ASSERT_EQ(pt_map(m, &mm, 0x400000, 1, 0x200, rw), -MEMLAB_EEXIST);	/* over a table */
	ASSERT_EQ(pt_map(m, &mm, 0x400000, 0, 7, rw), -MEMLAB_EEXIST);
	ASSERT_EQ(pt_map(m, &mm, 0xa00000, 1, 0x201, rw), -MEMLAB_EINVAL);	/* unaligned pfn */
	ASSERT_EQ(pt_map(m, &mm, 0x8000000000ull, 3, 0, rw), -MEMLAB_EINVAL);	/* no leaf at the PGD */
	ASSERT_EQ(pt_map(m, &mm, 1ull << 48, 0, 1, rw), -MEMLAB_EINVAL);
	ASSERT_EQ(pt_set(m, &mm, 0x401000, 1, rw, NULL), -MEMLAB_ENOENT);
	ASSERT_EQ(pt_clear(m, &mm, 0x40000000, NULL), -MEMLAB_ENOENT);
	ASSERT_EQ(pt_check(m, &mm, print_violation, NULL, "walk"), 0);
	/* pt_set: make the PTE read-only, clean (mprotect, then a COW source) */
	{
		uint64_t old = 0;

		ASSERT_OK(pt_set(m, &mm, 0x400000, 0x1234, prot_of(true, false, true, false, true,
								      false), &old));
		ASSERT_EQ(old, 0x8000000001234067ull);
		ASSERT_OK(pt_walk(m, &mm, 0x400000, &w));
		ASSERT_EQ(w.entry[3], 0x8000000001234025ull);
	}
	pt_free_all(m, &mm, NULL);
	ASSERT_EQ(mm.pgtables_bytes, 0);
	ASSERT_EQ(mm.pt.levels, 0);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/* free_pgtables frees only empty tables inside [floor, ceiling). */
TEST(free_pgtables_range)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, X86, 4096, 48, 256ull << 20, 0);
	struct pt_prot rw = prot_of(true, true, true, false, true, true);
	uint64_t a = 0x40000000, b = a + 2 * (2ull << 20), before;
	struct pt_walk w;

	ASSERT(m);
	before = free_frames(m);
	ASSERT_OK(pt_map(m, &mm, a, 0, 0x100, rw));
	ASSERT_OK(pt_map(m, &mm, b, 0, 0x101, rw));
	ASSERT_EQ(mm.pgtables_bytes, 4 * 4096);	/* PUD, PMD, two PTE tables */
	ASSERT_OK(pt_clear(m, &mm, a, NULL));
	/* a range that does not cover a's whole PTE table frees nothing */
	free_pgtables(m, &mm, a, a + (1ull << 20), NULL);
	ASSERT_EQ(mm.pgtables_bytes, 4 * 4096);
	/* a's PTE table only */
	free_pgtables(m, &mm, a, a + (2ull << 20), NULL);
	ASSERT_EQ(mm.pgtables_bytes, 3 * 4096);
	ASSERT_EQ(free_frames(m), before - 3);
	ASSERT_EQ(pt_walk(m, &mm, a, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(w.level, 1);
	ASSERT_OK(pt_walk(m, &mm, b, &w));
	/* b's tables still hold b: nothing goes */
	free_pgtables(m, &mm, 0, 0, NULL);
	ASSERT_EQ(mm.pgtables_bytes, 3 * 4096);
	ASSERT_OK(pt_walk(m, &mm, b, &w));
	ASSERT_OK(pt_clear(m, &mm, b, NULL));
	free_pgtables(m, &mm, 0, 0, NULL);
	ASSERT_EQ(mm.pgtables_bytes, 0);
	ASSERT_EQ(free_frames(m), before);
	ASSERT_EQ(pt_check(m, &mm, print_violation, NULL, "free"), 0);
	pgd_free(m, &mm);
	memlab_destroy(m);
}

/* pt_check passes, then catches entries corrupted through memlab_write_phys. */
TEST(check_catches_corruption)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, X86, 4096, 48, 256ull << 20, 0);
	struct pt_prot rw = prot_of(true, true, true, false, true, true);
	uint64_t pmd_slot, good, bad, free_pfn, far;
	struct pt_walk w;

	ASSERT(m);
	ASSERT_OK(pt_map(m, &mm, 0x400000, 0, 0x1234, rw));
	ASSERT_OK(pt_walk(m, &mm, 0x400000, &w));
	nr_violations = 0;
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "pt"), 0);
	/* the PMD entry for 0x400000 lives in table w.table[2], index 2 */
	pmd_slot = (w.table[2] << 12) + 2 * 8;
	ASSERT_OK(memlab_read_phys(m, pmd_slot, &good, 8));
	/* 1: point it to a free frame */
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &free_pfn));
	ASSERT_OK(memlab_free_pages(m, free_pfn, 0));
	bad = pt_mktable(&mm.pt, free_pfn);
	ASSERT_OK(memlab_write_phys(m, pmd_slot, &bad, 8));
	ASSERT(pt_check(m, &mm, count_violation, NULL, "pt") >= 1);
	ASSERT(strstr(last_violation, "not an allocated order-0 frame"));
	/* 2: a bit flip sends it outside RAM */
	bad = good ^ (1ull << 40);
	ASSERT_OK(memlab_write_phys(m, pmd_slot, &bad, 8));
	ASSERT(pt_check(m, &mm, count_violation, NULL, "pt") >= 1);
	ASSERT(strstr(last_violation, "outside RAM") || strstr(last_violation, "pgtables_bytes"));
	ASSERT_EQ(pt_walk(m, &mm, 0x400000, &w), -MEMLAB_EFAULT);
	ASSERT_EQ(pt_map(m, &mm, 0x401000, 0, 5, rw), -MEMLAB_EFAULT);
	ASSERT_EQ(pt_clear(m, &mm, 0x400000, NULL), -MEMLAB_EFAULT);
	free_pgtables(m, &mm, 0, 0, NULL);		/* must not follow it */
	ASSERT_OK(memlab_read_phys(m, pmd_slot, &far, 8));
	ASSERT_EQ(far, bad);
	ASSERT_OK(memlab_write_phys(m, pmd_slot, &good, 8));
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "pt"), 0);
	/* 3: the same PTE table twice */
	ASSERT_OK(memlab_write_phys(m, pmd_slot + 8, &good, 8));
	nr_violations = 0;
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "pt"), 1);
	ASSERT(strstr(last_violation, "appears twice"));
	far = 0;
	ASSERT_OK(memlab_write_phys(m, pmd_slot + 8, &far, 8));
	/* 4: the counter */
	mm.pgtables_bytes += 4096;
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "pt"), 1);
	ASSERT(strstr(last_violation, "pgtables_bytes"));
	mm.pgtables_bytes -= 4096;
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "pt"), 0);
	pt_free_all(m, &mm, NULL);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/* arm64: a block where the granule has none, and a partial PGD's tail. */
TEST(check_arm64_bad_entries)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, ARM, 16384, 48, GiB, 0);
	struct pt_prot rw = prot_of(true, true, true, false, true, true);
	uint64_t bad, zero = 0;

	ASSERT(m);
	ASSERT_EQ(mm.pt.ptrs_per_pgd, 2);
	ASSERT_OK(pt_map(m, &mm, 0x400000, 0, 0x1234, rw));
	ASSERT_EQ(pt_map(m, &mm, 0, 2, 0, rw), -MEMLAB_EINVAL);	/* no 64G blocks */
	ASSERT_EQ(pt_check(m, &mm, print_violation, NULL, "arm64"), 0);
	/* a block descriptor at the PUD level (Arm level 1, no blocks with 16K) */
	bad = pt_mkentry(&mm.pt, 1, 0, rw);
	ASSERT_OK(memlab_write_phys(m, (mm.pgd << 14) + 1 * 8, &bad, 8));
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "arm64"), 1);
	ASSERT(strstr(last_violation, "bad PGD entry"));
	ASSERT_OK(memlab_write_phys(m, (mm.pgd << 14) + 1 * 8, &zero, 8));
	/* an entry beyond PTRS_PER_PGD = 2 */
	bad = pt_mktable(&mm.pt, mm.pgd);
	ASSERT_OK(memlab_write_phys(m, (mm.pgd << 14) + 5 * 8, &bad, 8));
	ASSERT_EQ(pt_check(m, &mm, count_violation, NULL, "arm64"), 1);
	ASSERT(strstr(last_violation, "beyond PTRS_PER_PGD"));
	ASSERT_OK(memlab_write_phys(m, (mm.pgd << 14) + 5 * 8, &zero, 8));
	ASSERT_OK(pt_clear(m, &mm, 0x400000, NULL));
	free_pgtables(m, &mm, 0, 0, NULL);
	ASSERT_EQ(mm.pgtables_bytes, 0);
	pgd_free(m, &mm);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/*
** Out of frames: every frame GFP_KERNEL can get is taken, then given back
** one at a time; each failed pt_map (it needs three tables) must leave
** the frames, the counters and the tables exactly as they were.
*/
TEST(enomem_leaves_nothing)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, X86, 4096, 48, 64ull << 20, 1);
	struct pt_prot rw = prot_of(true, true, true, false, true, true);
	uint64_t *held, nheld = 0, start_free, va = 0x7f0000000000ull;
	int fails = 0, err;
	struct pt_walk w;

	ASSERT(m);
	start_free = free_frames(m);
	held = calloc(start_free, sizeof(*held));
	ASSERT(held);
	while (nheld < start_free && memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &held[nheld]) == 0)
		nheld++;
	for (;;) {
		uint64_t f0 = free_frames(m), pt0 = nr_page_table_pages(m);

		err = pt_map(m, &mm, va, 0, 0x1234, rw);
		if (err != -MEMLAB_ENOMEM)
			break;
		fails++;
		ASSERT_EQ(free_frames(m), f0);
		ASSERT_EQ(nr_page_table_pages(m), pt0);
		ASSERT_EQ(mm.pgtables_bytes, 0);
		ASSERT_EQ(pt_walk(m, &mm, va, &w), -MEMLAB_EFAULT);
		ASSERT_EQ(w.level, 3);
		ASSERT_EQ(pt_check(m, &mm, print_violation, NULL, "enomem"), 0);
		ASSERT(nheld > 0);
		ASSERT_OK(memlab_free_pages(m, held[--nheld], 0));
	}
	ASSERT_OK(err);
	ASSERT(fails >= 3);
	ASSERT_EQ(mm.pgtables_bytes, 3 * 4096);
	ASSERT_OK(pt_walk(m, &mm, va, &w));
	ASSERT_OK(pt_clear(m, &mm, va, NULL));
	free_pgtables(m, &mm, 0, 0, NULL);
	pgd_free(m, &mm);
	while (nheld)
		ASSERT_OK(memlab_free_pages(m, held[--nheld], 0));
	free(held);
	ASSERT_EQ(free_frames(m), start_free + 1);	/* the PGD was taken before start_free */
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

/* ===================== the dump ===================== */

static char *dump(memlab_machine *m, struct mm_struct *mm, uint64_t start, uint64_t end)
{
	struct strbuf sb;
	char *text = NULL;
	size_t len;

	sb_init(&sb, m);
	if (pt_dump(m, mm, start, end, &sb) != 0 || sb_finish(&sb, &text, &len) != 0)
		return NULL;
	return text;
}

TEST(dump_x86)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, X86, 4096, 48, 256ull << 20, 0);
	struct pt_walk w;
	char expect[512], *text;

	ASSERT(m);
	ASSERT_OK(pt_map(m, &mm, 0x400000, 0, 0x1234, prot_of(true, true, true, false, true, true)));
	ASSERT_OK(pt_map(m, &mm, 0x600000, 1, 0x200, prot_of(true, false, true, true, true, false)));
	ASSERT_OK(pt_map(m, &mm, 0x402000, 0, 0x99, prot_of(false, true, true, false, false, false)));
	ASSERT_OK(pt_walk(m, &mm, 0x400000, &w));
	snprintf(expect, sizeof(expect),
		 "0000000000400000-0000000000401000 PTE pa 0x1234000 flags P RW US A D NX tables "
		 "PGD:%#llx PUD:%#llx PMD:%#llx PTE:%#llx\n"
		 "0000000000600000-0000000000800000 PMD pa 0x200000 flags P US A PS tables "
		 "PGD:%#llx PUD:%#llx PMD:%#llx\n",
		 (unsigned long long)w.table[0], (unsigned long long)w.table[1],
		 (unsigned long long)w.table[2], (unsigned long long)w.table[3],
		 (unsigned long long)w.table[0], (unsigned long long)w.table[1],
		 (unsigned long long)w.table[2]);
	text = dump(m, &mm, 0, 0);
	ASSERT_STREQ(text, expect);
	memlab_free_text(m, text);
	text = dump(m, &mm, 0x500000, 0x600001);	/* the 2M page only */
	ASSERT(text && strncmp(text, "0000000000600000-", 17) == 0 && !strchr(text, '\n')[1]);
	memlab_free_text(m, text);
	pt_free_all(m, &mm, NULL);
	memlab_destroy(m);
}

TEST(dump_arm64)
{
	struct mm_struct mm;
	memlab_machine *m = make_mm(&mm, ARM, 4096, 39, 256ull << 20, 0);
	struct pt_walk w;
	char expect[512], *text;

	ASSERT(m);
	ASSERT_OK(pt_map(m, &mm, 0x400000, 0, 0x1234, prot_of(true, true, true, false, true, true)));
	ASSERT_OK(pt_walk(m, &mm, 0x400000, &w));
	ASSERT_EQ(w.entry[2], 0x00e8000001234f43ull);
	snprintf(expect, sizeof(expect),
		 "0000000000400000-0000000000401000 PTE pa 0x1234000 flags V PAGE ATTR0 ISH "
		 "USER AF nG DBM PXN UXN DIRTY tables PGD:%#llx PMD:%#llx PTE:%#llx\n",
		 (unsigned long long)w.table[0], (unsigned long long)w.table[1],
		 (unsigned long long)w.table[2]);
	text = dump(m, &mm, 0, 0);
	ASSERT_STREQ(text, expect);
	memlab_free_text(m, text);
	pt_free_all(m, &mm, NULL);
	ASSERT_EQ(memlab_check(m, print_violation, NULL), 0);
	memlab_destroy(m);
}

int main(void)
{
	RUN(formats);
	RUN(encodings_x86);
	RUN(encodings_arm64);
	RUN(encode_decode_roundtrip);
	RUN(random_mappings_every_format);
	RUN(walk_levels_x86);
	RUN(free_pgtables_range);
	RUN(check_catches_corruption);
	RUN(check_arm64_bad_entries);
	RUN(enomem_leaves_nothing);
	RUN(dump_x86);
	RUN(dump_arm64);
	return test_summary();
}
