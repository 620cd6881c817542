/*
** fuzz_page_alloc.c -- a libFuzzer target for the buddy allocator.
**
** The input is a program for one small machine.  Byte 0 chooses the
** machine (zone layout, architecture and page size, RAM, per-CPU page
** lists on or off, watermarks); every
** following operation is one opcode byte and its argument bytes (an input
** that runs out reads zeroes):
**
**   alloc      order, gfp index          one block, checked and recorded
**   burst      count, order, gfp index   up to 64 blocks of one order
**   free       index                     the index-th live block
**   free_many  seed                      about half of the live blocks
**   bad_free   kind, arg                 a free Linux would call a bad page:
**                                        -MEMLAB_EINVAL, a report, no change
**   phys       index, offset, len, seed  write_phys/read_phys round trip
**   fault      kind                      a physical access outside RAM: -EFAULT
**   inspect    path index, order         procfs text and the indices
**
** After every operation memlab_check() must find nothing, NR_FREE_PAGES
** plus the pages on per-CPU lists must equal the boot value less the live
** blocks, and a report (the kernel's "BUG: Bad page state") is allowed
** only inside bad_free.  At the end every live block is freed, the per-CPU
** lists are drained and NR_FREE_PAGES must be back at its boot value.  Any surprise prints what happened and calls abort(), which is
** what libFuzzer (and the replay driver) catch.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LIVE	1024
#define MAX_FREED	16	/* recently freed blocks, for double frees */

struct block {
	uint64_t pfn;
	unsigned order;
};

struct fuzz {
	memlab_machine *m;
	struct memlab_machine_info info;
	const uint8_t *p, *end;		/* the unread input */
	uint8_t *owned;			/* per frame: 1 while in a live block */
	struct block live[MAX_LIVE];
	size_t nlive;
	struct block freed[MAX_FREED];	/* ring of blocks freed lately */
	unsigned nfreed;
	uint64_t boot_free;		/* nr_free_pages after boot */
	uint64_t live_pages;		/* pages in live blocks */
	unsigned reports;		/* report callback calls */
	int expect_report;		/* reports are allowed (bad_free) */
	const char *op;			/* the operation running, for messages */
};

/* ---- small helpers ---- */

static uint8_t next_byte(struct fuzz *f)
{
	return f->p < f->end ? *f->p++ : 0;
}

static unsigned next_u16(struct fuzz *f)
{
	unsigned lo = next_byte(f);

	return lo | (unsigned)next_byte(f) << 8;
}

static void die(struct fuzz *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_page_alloc: during %s: ", f->op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void on_report(void *ud, const char *msg)
{
	struct fuzz *f = ud;

	f->reports++;
	if (!f->expect_report)
		die(f, "unexpected report: %s", msg);
}

static void on_violation(void *ud, const char *msg)
{
	fprintf(stderr, "fuzz_page_alloc: violation: %s\n", msg);
	(void)ud;
}

static uint64_t nr_free_pages(struct fuzz *f)
{
	uint64_t v = 0;

	if (memlab_vmstat_get(f->m, "nr_free_pages", &v) != 0)
		die(f, "no nr_free_pages counter");
	return v;
}

/* GFP masks an allocation may use; the zone modifiers DMA and DMA32 may
** find their zone empty, which is -ENOMEM and not a bug. */
static const uint32_t gfp_table[] = {
	MEMLAB_GFP_KERNEL,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_ZERO,
	MEMLAB_GFP_HIGHUSER_MOVABLE,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_RECLAIMABLE,
	MEMLAB_GFP_ATOMIC,
	MEMLAB_GFP_NOWAIT,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_DMA32,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_DMA,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_NORETRY,
	MEMLAB_GFP_TRANSHUGE_LIGHT,
	MEMLAB_GFP_USER | MEMLAB___GFP_ZERO,
	MEMLAB_GFP_ATOMIC | MEMLAB___GFP_RECLAIMABLE,
};
#define NR_GFP (sizeof(gfp_table) / sizeof(gfp_table[0]))

/* ---- the machine's state as the harness sees it ---- */

struct snapshot {
	uint64_t nr_free_pages, pgfree;
	uint64_t zone_free[MEMLAB_MAX_NR_ZONES];
	int pcp_count[MEMLAB_MAX_NR_ZONES];
	uint64_t blocks[MEMLAB_MAX_NR_ZONES][MEMLAB_NR_ORDERS_MAX];
};

static void take_snapshot(struct fuzz *f, struct snapshot *s)
{
	struct memlab_zone_info zi;
	int z, nz = memlab_nr_zones(f->m);

	memset(s, 0, sizeof(*s));
	s->nr_free_pages = nr_free_pages(f);
	memlab_vmstat_get(f->m, "pgfree", &s->pgfree);
	for (z = 0; z < nz && z < MEMLAB_MAX_NR_ZONES; z++) {
		if (memlab_zone_info(f->m, z, &zi) != 0)
			die(f, "memlab_zone_info(%d) failed", z);
		s->zone_free[z] = zi.nr_free;
		s->pcp_count[z] = (int)zi.pcp_total;	/* every CPU's lists */
		memcpy(s->blocks[z], zi.nr_free_blocks, sizeof(s->blocks[z]));
	}
}

/* After every operation: the core's own checker, then the harness's books. */
static void check_machine(struct fuzz *f)
{
	struct memlab_zone_info zi;
	uint64_t sum = 0, pcp = 0, free_now;
	int z, nz = memlab_nr_zones(f->m);
	unsigned o;

	if (memlab_check(f->m, on_violation, NULL) != 0)
		die(f, "memlab_check found violations");
	for (z = 0; z < nz; z++) {
		uint64_t pages = 0;

		if (memlab_zone_info(f->m, z, &zi) != 0)
			die(f, "memlab_zone_info(%d) failed", z);
		for (o = 0; o <= f->info.max_order; o++)
			pages += zi.nr_free_blocks[o] << o;
		if (pages != zi.nr_free)
			die(f, "zone %s: free blocks hold %" PRIu64
			    " pages, nr_free says %" PRIu64, zi.name, pages,
			    zi.nr_free);
		sum += zi.nr_free;
		if (zi.pcp_count < 0)
			die(f, "zone %s: pcp count %d", zi.name, zi.pcp_count);
		pcp += zi.pcp_total;
	}
	free_now = nr_free_pages(f);
	if (free_now != sum)
		die(f, "nr_free_pages %" PRIu64 " != sum over zones %" PRIu64,
		    free_now, sum);
	if (free_now + pcp + f->live_pages != f->boot_free)
		die(f, "nr_free_pages %" PRIu64 " + pcp %" PRIu64 " + live %" PRIu64
		    " != boot %" PRIu64, free_now, pcp, f->live_pages, f->boot_free);
}

/* ---- operations ---- */

static void check_zeroed(struct fuzz *f, const struct block *b)
{
	uint64_t i, n = (uint64_t)1 << b->order, ps = f->info.page_size;
	uint8_t buf[16], zero[16] = { 0 };

	for (i = 0; i < n; i++) {
		uint64_t base = (b->pfn + i) * ps;

		if (memlab_read_phys(f->m, base, buf, sizeof(buf)) != 0 ||
		    memcmp(buf, zero, sizeof(buf)) != 0 ||
		    memlab_read_phys(f->m, base + ps - sizeof(buf), buf,
				     sizeof(buf)) != 0 ||
		    memcmp(buf, zero, sizeof(buf)) != 0)
			die(f, "__GFP_ZERO block pfn %" PRIu64 " order %u: "
			    "frame %" PRIu64 " is not zero", b->pfn, b->order,
			    b->pfn + i);
	}
}

/* Allocate one block; returns 1 when it was allocated. */
static int do_alloc(struct fuzz *f, unsigned order, uint32_t gfp)
{
	struct memlab_page_info pi;
	struct block b;
	uint64_t pfn = UINT64_MAX, i, n;
	int rc;

	if (f->nlive == MAX_LIVE)
		return 0;
	rc = memlab_alloc_pages(f->m, order, gfp, &pfn);
	if (order > f->info.max_order) {
		if (rc != -MEMLAB_EINVAL)
			die(f, "order %u > max_order: rc %d", order, rc);
		return 0;
	}
	if (rc == -MEMLAB_ENOMEM)
		return 0;
	if (rc != 0)
		die(f, "alloc order %u gfp %#x: rc %d", order, gfp, rc);
	n = (uint64_t)1 << order;
	if (pfn & (n - 1) || pfn + n > f->info.nr_frames)
		die(f, "alloc order %u gave pfn %" PRIu64, order, pfn);
	for (i = 0; i < n; i++) {
		if (f->owned[pfn + i])
			die(f, "alloc order %u gave pfn %" PRIu64
			    ", frame %" PRIu64 " is already allocated",
			    order, pfn, pfn + i);
		f->owned[pfn + i] = 1;
	}
	if (memlab_page_info(f->m, pfn, &pi) != 0 || pi.free || pi.buddy || pi.pcp ||
	    pi.reserved || pi.order != order)
		die(f, "allocated pfn %" PRIu64 " order %u: page_info says "
		    "free %d buddy %d reserved %d order %u", pfn, order,
		    pi.free, pi.buddy, pi.reserved, pi.order);
	b.pfn = pfn;
	b.order = order;
	if (gfp & MEMLAB___GFP_ZERO)
		check_zeroed(f, &b);
	f->live[f->nlive++] = b;
	f->live_pages += n;
	return 1;
}

static void op_alloc(struct fuzz *f)
{
	unsigned order = next_byte(f) % (f->info.max_order + 2);

	do_alloc(f, order, gfp_table[next_byte(f) % NR_GFP]);
}

static void op_burst(struct fuzz *f)
{
	unsigned count = next_byte(f) % 64 + 1;
	unsigned order = next_byte(f) % 4;
	uint32_t gfp = gfp_table[next_byte(f) % NR_GFP];

	while (count-- && do_alloc(f, order, gfp))
		;
}

static void free_live(struct fuzz *f, size_t i)
{
	struct block b = f->live[i];
	uint64_t j, n = (uint64_t)1 << b.order;
	int rc = memlab_free_pages(f->m, b.pfn, b.order);

	if (rc != 0)
		die(f, "free pfn %" PRIu64 " order %u: rc %d", b.pfn, b.order,
		    rc);
	for (j = 0; j < n; j++)
		f->owned[b.pfn + j] = 0;
	f->live[i] = f->live[--f->nlive];
	f->live_pages -= n;
	f->freed[f->nfreed++ % MAX_FREED] = b;
}

static void op_free(struct fuzz *f)
{
	unsigned i = next_u16(f);

	if (f->nlive)
		free_live(f, i % f->nlive);
}

static void op_free_many(struct fuzz *f)
{
	uint32_t x = next_byte(f) * 2654435761u + 1;
	size_t i = 0;

	while (i < f->nlive) {
		x = x * 1103515245u + 12345u;
		if (x >> 31)
			free_live(f, i);	/* moves the last block to i */
		else
			i++;
	}
}

/*
** Free a block the way a buggy kernel would.  Linux reports a bad page;
** memlab must report it, return -MEMLAB_EINVAL, and change nothing.
*/
static void bad_free(struct fuzz *f, uint64_t pfn, unsigned order)
{
	struct snapshot before, after;
	unsigned reports = f->reports;
	int rc;

	take_snapshot(f, &before);
	f->expect_report = 1;
	rc = memlab_free_pages(f->m, pfn, order);
	f->expect_report = 0;
	if (rc != -MEMLAB_EINVAL)
		die(f, "bad free pfn %" PRIu64 " order %u: rc %d, want %d",
		    pfn, order, rc, -MEMLAB_EINVAL);
	if (f->reports == reports)
		die(f, "bad free pfn %" PRIu64 " order %u was not reported",
		    pfn, order);
	take_snapshot(f, &after);
	if (memcmp(&before, &after, sizeof(before)) != 0)
		die(f, "bad free pfn %" PRIu64 " order %u changed the free "
		    "lists or counters", pfn, order);
}

/* A block freed lately whose head frame is free (or on a pcp list) now, or NULL. */
static const struct block *freed_block(struct fuzz *f, unsigned pick)
{
	unsigned i, n = f->nfreed < MAX_FREED ? f->nfreed : MAX_FREED;
	struct memlab_page_info pi;

	for (i = 0; i < n; i++) {
		const struct block *b = &f->freed[(pick + i) % n];

		if (memlab_page_info(f->m, b->pfn, &pi) == 0 && (pi.free || pi.pcp))
			return b;
	}
	return NULL;
}

static void op_bad_free(struct fuzz *f)
{
	unsigned kind = next_byte(f) % 6, arg = next_byte(f);
	unsigned max = f->info.max_order;
	const struct block *b = f->nlive ? &f->live[arg % f->nlive] : NULL;
	struct memlab_page_info pi;

	switch (kind) {
	case 0:	/* a live block with another order (possibly > max_order) */
		if (b)
			bad_free(f, b->pfn, (b->order + 1 + arg % (max + 1)) %
				 (max + 2));
		break;
	case 1:	/* a double free */
		if ((b = freed_block(f, arg)) != NULL)
			bad_free(f, b->pfn, b->order);
		break;
	case 2:	/* beyond RAM */
		bad_free(f, f->info.nr_frames + arg, 0);
		break;
	case 3:	/* not aligned to the order */
		if (b && b->order > 0)
			bad_free(f, b->pfn + 1, b->order);
		break;
	case 4:	/* a tail frame of a live block */
		if (b && b->order > 0)
			bad_free(f, b->pfn + ((uint64_t)1 << b->order) - 1, 0);
		break;
	case 5:	/* a reserved frame (pfn 0 is reserved at boot) */
		if (memlab_page_info(f->m, 0, &pi) == 0 && pi.reserved)
			bad_free(f, 0, 0);
		break;
	}
}

/* write_phys then read_phys of up to 256 bytes inside a live block. */
static void op_phys(struct fuzz *f)
{
	uint8_t in[256], out[256];
	unsigned idx = next_byte(f), off = next_u16(f) << 4;
	unsigned len = next_byte(f) + 1, seed = next_byte(f), i;
	const struct block *b;
	uint64_t bytes, paddr;

	if (!f->nlive)
		return;
	b = &f->live[idx % f->nlive];
	bytes = ((uint64_t)f->info.page_size) << b->order;
	if (len > bytes)
		len = (unsigned)bytes;
	paddr = b->pfn * f->info.page_size + off % (bytes - len + 1);
	for (i = 0; i < len; i++)
		in[i] = (uint8_t)(seed + i * 7);
	if (memlab_write_phys(f->m, paddr, in, len) != 0 ||
	    memlab_read_phys(f->m, paddr, out, len) != 0)
		die(f, "phys access at %#" PRIx64 " len %u failed", paddr, len);
	if (memcmp(in, out, len) != 0)
		die(f, "read_phys at %#" PRIx64 " len %u differs from what "
		    "was written", paddr, len);
}

/* Accesses that leave RAM fail with -EFAULT and touch nothing. */
static void op_fault(struct fuzz *f)
{
	uint8_t buf[64] = { 0 };
	unsigned kind = next_byte(f) % 3;
	uint64_t ram = f->info.nr_frames * f->info.page_size;
	uint64_t paddr = kind == 0 ? ram - 8 : kind == 1 ? ram : UINT64_MAX - 7;
	int w = memlab_write_phys(f->m, paddr, buf, sizeof(buf));
	int r = memlab_read_phys(f->m, paddr, buf, sizeof(buf));

	if (w != -MEMLAB_EFAULT || r != -MEMLAB_EFAULT)
		die(f, "64 bytes at %#" PRIx64 " (RAM ends at %#" PRIx64
		    "): write %d read %d, want %d", paddr, ram, w, r,
		    -MEMLAB_EFAULT);
}

static void op_inspect(struct fuzz *f)
{
	static const char *const paths[] = {
		"buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo", "vmstat",
		"extfrag/extfrag_index", "extfrag/unusable_index",
	};
	const char *path = paths[next_byte(f) % 7];
	unsigned order = next_byte(f) % (f->info.max_order + 1);
	int z, nz = memlab_nr_zones(f->m), fi, ui;
	char *text = NULL;
	size_t len = 0;
	int rc = memlab_proc(f->m, path, &text, &len);

	if (rc != 0 || !text || strlen(text) != len)
		die(f, "memlab_proc(%s): rc %d", path, rc);
	memlab_free_text(f->m, text);
	for (z = 0; z < nz; z++) {
		fi = memlab_fragmentation_index(f->m, z, order);
		ui = memlab_unusable_index(f->m, z, order);
		if (fi < -1000 || fi > 1000 || ui < 0 || ui > 1000)
			die(f, "zone %d order %u: fragmentation index %d, "
			    "unusable index %d", z, order, fi, ui);
	}
}

/* ---- the machine and the program ---- */

static int setup(struct fuzz *f, uint8_t conf)
{
	struct memlab_config cfg;
	static const int64_t min_free[] = { -1, 128, 1024, -1 };

	memlab_config_init(&cfg);
	cfg.zones = conf & 1 ? MEMLAB_ZONES_SINGLE : MEMLAB_ZONES_ARCH;
	switch (conf >> 1 & 3) {
	case 1:
		cfg.arch = MEMLAB_ARCH_ARM64;
		break;
	case 2:	/* needs 64 MiB: two max-order blocks of 32 MiB */
		cfg.arch = MEMLAB_ARCH_ARM64;
		cfg.page_size = 16384;
		conf |= 8;
		break;
	default:
		cfg.arch = MEMLAB_ARCH_X86_64;
		break;
	}
	cfg.ram = (uint64_t)(conf & 8 ? 64 : 32) << 20;
	cfg.seed = conf;
	cfg.min_free_kbytes = min_free[conf >> 5 & 3];
	cfg.watermark_scale_factor = conf & 0x80 ? 1000 : 0;
	cfg.pcp_disabled = (conf & 0x10) != 0;
	cfg.debug_vm = 1;	/* a write lazy zeroing missed aborts */
	cfg.report = on_report;
	cfg.report_ud = f;
	if (memlab_create(&cfg, &f->m) != 0)
		return -1;	/* a configuration memlab refuses is no bug */
	memlab_machine_info(f->m, &f->info);
	f->owned = calloc(f->info.nr_frames, 1);
	if (!f->owned) {
		memlab_destroy(f->m);
		return -1;
	}
	f->boot_free = nr_free_pages(f);
	return 0;
}

static void teardown(struct fuzz *f)
{
	f->op = "teardown";
	while (f->nlive)
		free_live(f, f->nlive - 1);
	check_machine(f);
	if (memlab_drain_pages(f->m) != 0)
		die(f, "memlab_drain_pages failed");
	check_machine(f);
	if (nr_free_pages(f) != f->boot_free)
		die(f, "nr_free_pages %" PRIu64 " after freeing everything, "
		    "%" PRIu64 " at boot", nr_free_pages(f), f->boot_free);
	memlab_destroy(f->m);
	free(f->owned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *name;
		void (*fn)(struct fuzz *f);
	} ops[] = {
		{ "alloc", op_alloc },	   { "alloc", op_alloc },
		{ "burst", op_burst },	   { "free", op_free },
		{ "free", op_free },	   { "free_many", op_free_many },
		{ "bad_free", op_bad_free }, { "phys", op_phys },
		{ "fault", op_fault },	   { "inspect", op_inspect },
	};
	struct fuzz *f;

	if (size == 0)
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return 0;
	f->p = data + 1;
	f->end = data + size;
	f->op = "setup";
	if (setup(f, data[0]) != 0) {
		free(f);
		return 0;
	}
	check_machine(f);
	while (f->p < f->end) {
		unsigned op = next_byte(f) % (sizeof(ops) / sizeof(ops[0]));

		f->op = ops[op].name;
		ops[op].fn(f);
		check_machine(f);
	}
	teardown(f);
	free(f);
	return 0;
}
