/*
** test_procfs.c -- the statistics (vmstat.c) and the procfs renderers
** (procfs.c): the fragmentation indices against hand-computed values, the
** rendered files against the numbers of memlab_zone_info()/memlab_vmstat(),
** and the line structure of every file against the host's own /proc file
** when the host lets us read it (otherwise the comparison prints "skip").
*/
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "internal.h"
#include "memlab/memlab.h"
#include "testlib.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)

/* Run a helper that may fail the test, and stop the test if it did. */
#define CALL(expr)                                                      \
	do {                                                            \
		expr;                                                   \
		if (test_current_failed)                                \
			return;                                         \
	} while (0)

/* ===================== helpers: machines and text ===================== */

static memlab_machine *new_machine_ex(int arch, uint64_t ram, uint32_t page_size,
				      int zones, struct counting_alloc *ca)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	cfg.arch = arch;
	cfg.ram = ram;
	cfg.page_size = page_size;
	cfg.zones = zones;
	if (ca) {
		cfg.alloc = counting_alloc_fn;
		cfg.alloc_ud = ca;
	}
	if (memlab_create(&cfg, &m) != 0)
		return NULL;
	return m;
}

static memlab_machine *new_machine(int arch, uint64_t ram, uint32_t page_size,
				   int zones)
{
	return new_machine_ex(arch, ram, page_size, zones, NULL);
}

/* The rendered file, in malloc'ed memory (NULL when rendering failed). */
/* memlab_proc(), or memlab_show_mem() for the path "show_mem". */
static int proc_text(memlab_machine *m, const char *path, char **text, size_t *len)
{
	if (path && strcmp(path, "show_mem") == 0)
		return memlab_show_mem(m, text, len);
	return memlab_proc(m, path, text, len);
}

static char *render(memlab_machine *m, const char *path)
{
	char *text = NULL, *copy;
	size_t len = 0;

	if (proc_text(m, path, &text, &len) != 0 || !text || strlen(text) != len)
		return NULL;
	copy = strdup(text);
	memlab_free_text(m, text);
	return copy;
}

/* The whole of a host file, or NULL when it cannot be read. */
static char *read_host(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, len = 0, n;
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	if (buf && len == 0) {	/* unreadable in practice (e.g. no permission for content) */
		free(buf);
		return NULL;
	}
	return buf;
}

struct lines {
	char *buf;
	char **v;
	int n;
};

/* Split text at '\n' (the piece after the final newline is dropped). */
static void split_lines(const char *text, struct lines *l)
{
	size_t len = strlen(text);
	int cap = 16;

	l->buf = strdup(text);
	l->v = malloc(sizeof(char *) * (size_t)cap);
	l->n = 0;
	for (char *p = l->buf; p < l->buf + len;) {
		char *nl = strchr(p, '\n');

		if (l->n == cap)
			l->v = realloc(l->v, sizeof(char *) * (size_t)(cap *= 2));
		l->v[l->n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
}

static void free_lines(struct lines *l)
{
	free(l->buf);
	free(l->v);
}

static int find_line(const struct lines *l, int from, const char *prefix)
{
	for (int i = from; i < l->n; i++)
		if (strncmp(l->v[i], prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

/*
** The shape of a line of right-aligned numbers: every digit becomes a
** space except the last of each run, which becomes '#'.  Two lines with
** the same labels and the same column widths have the same shape.
*/
static void shape(const char *line, char *out, size_t size)
{
	size_t i;

	for (i = 0; line[i] && i + 1 < size; i++) {
		bool digit = line[i] >= '0' && line[i] <= '9';
		bool next_digit = line[i + 1] >= '0' && line[i + 1] <= '9';

		out[i] = digit ? (next_digit ? ' ' : '#') : line[i];
	}
	out[i] = '\0';
}

/* The label of a "label value" line: everything before the last number. */
static void label_of(const char *line, char *out, size_t size)
{
	size_t n = strlen(line);
	const char *paren = strchr(line, '(');

	if (paren && strstr(line, "protection:"))
		n = (size_t)(paren - line);
	else
		while (n > 0 && ((line[n - 1] >= '0' && line[n - 1] <= '9') || line[n - 1] == '-'))
			n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}

static const char *zone_name_of(const char *line, char *out, size_t size)
{
	const char *p = strstr(line, "zone ");

	out[0] = '\0';
	if (!p)
		return out;
	p += 5;
	while (*p == ' ')
		p++;
	snprintf(out, size, "%.*s", (int)strcspn(p, " ,"), p);
	return out;
}

/* Parse count numbers separated by spaces; each must be followed by ' '. */
static void parse_row(const char *p, uint64_t *vals, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		char *end;

		while (*p == ' ')
			p++;
		vals[i] = strtoull(p, &end, 10);
		if (end == p)
			TEST_FAIL("no number %u in \"%s\"", i, p);
		if (*end != ' ')
			TEST_FAIL("number %u not followed by a space in \"%s\"", i, p);
		p = end;
	}
	if (strcmp(p, " ") != 0)
		TEST_FAIL("row does not end with exactly one space: \"%s\"", p);
}

static struct memlab_machine_info machine_info(const memlab_machine *m)
{
	struct memlab_machine_info mi;

	memlab_machine_info(m, &mi);
	return mi;
}

/* ===================== the indices by hand ===================== */

static void set_free(struct zone *z, const uint64_t *nr_free, unsigned n)
{
	memset(z, 0, sizeof(*z));
	for (unsigned o = 0; o < n; o++)
		z->free_area[o].nr_free = nr_free[o];
}

TEST(fragmentation_index_by_hand)
{
	struct zone z;
	const uint64_t empty[1] = { 0 };
	const uint64_t one_order3[4] = { 0, 0, 0, 1 };
	const uint64_t singles[1] = { 2000 };
	const uint64_t mixed[3] = { 10, 5, 1 };

	/* No free memory: 0 (lack of memory) and all of it unusable. */
	set_free(&z, empty, 1);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 0), 0);
	ASSERT_EQ(vmstat_unusable_index(&z, 0), 1000);

	/* One order-3 block: orders 0..3 succeed. */
	set_free(&z, one_order3, 4);
	for (unsigned o = 0; o <= 3; o++) {
		ASSERT_EQ(vmstat_fragmentation_index(&z, o), -1000);
		ASSERT_EQ(vmstat_unusable_index(&z, o), 0);
	}
	/* order 4: 1000 - (1000 + 8*1000/16)/1 wraps below 0, as in Linux */
	ASSERT_EQ(vmstat_fragmentation_index(&z, 4), -500);
	ASSERT_EQ(vmstat_unusable_index(&z, 4), 1000);

	/* 2000 single pages: 1000 - (1000 + 2000*1000/2^j)/2000 */
	set_free(&z, singles, 1);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 0), -1000);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 1), 500);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 2), 750);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 3), 875);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 10), 999);
	ASSERT_EQ(vmstat_unusable_index(&z, 0), 0);
	ASSERT_EQ(vmstat_unusable_index(&z, 1), 1000);

	/* 10 x order 0, 5 x order 1, 1 x order 2: 24 pages in 16 blocks */
	set_free(&z, mixed, 3);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 2), -1000);
	ASSERT_EQ(vmstat_fragmentation_index(&z, 3), 750);	/* 1000 - 4000/16 */
	ASSERT_EQ(vmstat_unusable_index(&z, 0), 0);
	ASSERT_EQ(vmstat_unusable_index(&z, 1), 416);		/* (24 - 7*2)*1000/24 */
	ASSERT_EQ(vmstat_unusable_index(&z, 2), 833);		/* (24 - 1*4)*1000/24 */
	ASSERT_EQ(vmstat_unusable_index(&z, 3), 1000);
}

/*
** The debugfs files print the indices as Linux does ("%2d.%03d " and
** "%d.%03d "): -1000 as "-1.000", 500 as " 0.500".  The zone's free
** counts are replaced for the rendering and put back afterwards.
*/
TEST(extfrag_printed_forms)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 256 * MiB, 4096, MEMLAB_ZONES_ARCH);
	struct free_area saved[NR_ORDERS_MAX];
	struct zone *z;
	char *frag, *unusable;

	ASSERT(m);
	z = &m->zones[ZONE_DMA32];
	ASSERT(populated_zone(z));
	memcpy(saved, z->free_area, sizeof(saved));
	for (unsigned o = 0; o < NR_ORDERS_MAX; o++)
		z->free_area[o].nr_free = o == 0 ? 2000 : 0;
	ASSERT_EQ(memlab_fragmentation_index(m, ZONE_DMA32, 1), 500);
	ASSERT_EQ(memlab_unusable_index(m, ZONE_DMA32, 1), 1000);
	frag = render(m, "extfrag/extfrag_index");
	unusable = render(m, "extfrag/unusable_index");
	z->free_area[3].nr_free = 1;	/* order 4 of a lone order-3 block: -500 */
	z->free_area[0].nr_free = 0;
	ASSERT_EQ(memlab_fragmentation_index(m, ZONE_DMA32, 4), -500);
	memcpy(z->free_area, saved, sizeof(saved));
	ASSERT(frag && unusable);
	ASSERT(strstr(frag, "Node 0, zone    DMA32 -1.000  0.500  0.750  0.875  0.937"
			    "  0.969  0.984  0.992  0.996  0.998  0.999 \n"));
	ASSERT(strstr(unusable, "Node 0, zone    DMA32 0.000 1.000 1.000 1.000 1.000"
				" 1.000 1.000 1.000 1.000 1.000 1.000 \n"));
	/* A fresh DMA zone is all max-order blocks: everything succeeds. */
	ASSERT(strstr(frag, "Node 0, zone      DMA -1.000 -1.000"));
	ASSERT(strncmp(unusable, "Node 0, zone      DMA 0.000 0.000 0.000", 39) == 0);
	free(frag);
	free(unusable);
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

/* pagetypeinfo caps a list's count at 100000 and marks it ">", as Linux. */
TEST(pagetypeinfo_count_cap)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 256 * MiB, 4096, MEMLAB_ZONES_ARCH);
	struct zone *z;
	uint64_t saved;
	char *text;

	ASSERT(m);
	z = &m->zones[ZONE_DMA32];
	saved = z->free_area[0].nr_free_mt[MIGRATE_MOVABLE];
	z->free_area[0].nr_free_mt[MIGRATE_MOVABLE] = 150000;
	text = render(m, "pagetypeinfo");
	z->free_area[0].nr_free_mt[MIGRATE_MOVABLE] = 99999;
	ASSERT(text);
	ASSERT(strstr(text, "\nNode    0, zone    DMA32, type      Movable >100000      0 "));
	free(text);
	text = render(m, "pagetypeinfo");
	z->free_area[0].nr_free_mt[MIGRATE_MOVABLE] = saved;
	ASSERT(text);
	ASSERT(strstr(text, "\nNode    0, zone    DMA32, type      Movable  99999      0 "));
	free(text);
	memlab_destroy(m);
}

TEST(indices_follow_the_free_lists)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 64 * MiB, 4096, MEMLAB_ZONES_SINGLE);
	struct memlab_zone_info zi;
	uint64_t pfn[512];
	int n = 0, fresh_unusable;

	ASSERT(m);
	ASSERT_EQ(memlab_nr_zones(m), 1);
	/* A fresh zone has max-order blocks: every order would succeed. */
	for (unsigned o = 0; o <= 10; o++)
		ASSERT_EQ(memlab_fragmentation_index(m, 0, o), -1000);
	fresh_unusable = memlab_unusable_index(m, 0, 10);
	ASSERT(fresh_unusable >= 0 && fresh_unusable < 1000);
	/* Fragment it: take order-0 pages, free every other one. */
	while (n < 512 && memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn[n]) == 0)
		n++;
	ASSERT_EQ(n, 512);
	for (int i = 0; i < n; i += 2)
		ASSERT_OK(memlab_free_pages(m, pfn[i], 0));
	ASSERT_OK(memlab_drain_pages(m));	/* the freed pages into the buddy lists */
	ASSERT_OK(memlab_zone_info(m, 0, &zi));
	for (unsigned o = 0; o <= 10; o++) {
		uint64_t pages = 0, blocks = 0, suitable = 0;
		int frag, unusable;

		for (unsigned k = 0; k <= 10; k++) {
			blocks += zi.nr_free_blocks[k];
			pages += zi.nr_free_blocks[k] << k;
			if (k >= o)
				suitable += zi.nr_free_blocks[k] << (k - o);
		}
		frag = suitable ? -1000 : (int)(1000 - (1000 + pages * 1000 / (1ull << o)) / blocks);
		unusable = (int)((pages - (suitable << o)) * 1000 / pages);
		ASSERT_EQ(memlab_fragmentation_index(m, 0, o), frag);
		ASSERT_EQ(memlab_unusable_index(m, 0, o), unusable);
	}
	for (int i = 1; i < n; i += 2)
		ASSERT_OK(memlab_free_pages(m, pfn[i], 0));
	ASSERT_OK(memlab_drain_pages(m));	/* the per-CPU lists back to the buddy */
	ASSERT_EQ(memlab_unusable_index(m, 0, 10), fresh_unusable);
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
	memlab_destroy(m);
}

/* ===================== the files against the numbers ===================== */

static void check_buddyinfo(memlab_machine *m)
{
	struct memlab_machine_info mi = machine_info(m);
	char *text = render(m, "buddyinfo");
	struct lines l;
	int row = 0;

	ASSERT(text);
	split_lines(text, &l);
	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;
		uint64_t vals[NR_ORDERS_MAX];
		char prefix[64];

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		if (!zi.populated)
			continue;
		ASSERT(row < l.n);
		snprintf(prefix, sizeof(prefix), "Node 0, zone %8s", zi.name);
		ASSERT(strncmp(l.v[row], prefix, strlen(prefix)) == 0);
		CALL(parse_row(l.v[row] + strlen(prefix), vals, mi.max_order + 1));
		for (unsigned o = 0; o <= mi.max_order; o++)
			ASSERT_EQ(vals[o], zi.nr_free_blocks[o]);
		row++;
	}
	ASSERT_EQ(row, l.n);
	free_lines(&l);
	free(text);
}

static void check_pagetypeinfo_zone(const struct lines *l, int *row,
				    const struct memlab_zone_info *zi, unsigned max_order)
{
	uint64_t vals[NR_ORDERS_MAX];
	char prefix[96];

	for (int mt = 0; mt < MEMLAB_MIGRATE_TYPES; mt++, (*row)++) {
		snprintf(prefix, sizeof(prefix), "Node    0, zone %8s, type %12s",
			 zi->name, memlab_migratetype_name(mt));
		ASSERT(*row < l->n);
		if (strncmp(l->v[*row], prefix, strlen(prefix)) != 0)
			TEST_FAIL("\"%s\" does not start with \"%s\"", l->v[*row], prefix);
		CALL(parse_row(l->v[*row] + strlen(prefix), vals, max_order + 1));
		for (unsigned o = 0; o <= max_order; o++)
			ASSERT_EQ(vals[o], zi->nr_free_mt[o][mt]);
	}
}

static void check_pagetypeinfo(memlab_machine *m)
{
	struct memlab_machine_info mi = machine_info(m);
	char *text = render(m, "pagetypeinfo");
	char expect[128];
	struct lines l;
	int row = 3, nr_populated = 0;

	ASSERT(text);
	split_lines(text, &l);
	snprintf(expect, sizeof(expect), "Page block order: %u", mi.pageblock_order);
	ASSERT_STREQ(l.v[0], expect);
	snprintf(expect, sizeof(expect), "Pages per block:  %u", 1u << mi.pageblock_order);
	ASSERT_STREQ(l.v[1], expect);
	ASSERT_STREQ(l.v[2], "");
	ASSERT(strncmp(l.v[row++], "Free pages count per migrate type at order       0      1 ", 58) == 0);
	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		if (zi.populated) {
			CALL(check_pagetypeinfo_zone(&l, &row, &zi, mi.max_order));
			nr_populated++;
		}
	}
	ASSERT_STREQ(l.v[row++], "");
	ASSERT_STREQ(l.v[row++], "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate ");
	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;
		uint64_t vals[MEMLAB_MIGRATE_TYPES], blocks = 0, pb = 1ull << mi.pageblock_order;
		char prefix[64];

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		if (!zi.populated)
			continue;
		snprintf(prefix, sizeof(prefix), "Node 0, zone %8s", zi.name);
		ASSERT(row < l.n && strncmp(l.v[row], prefix, strlen(prefix)) == 0);
		CALL(parse_row(l.v[row++] + strlen(prefix), vals, MEMLAB_MIGRATE_TYPES));
		for (int mt = 0; mt < MEMLAB_MIGRATE_TYPES; mt++) {
			ASSERT_EQ(vals[mt], zi.nr_pageblocks[mt]);
			blocks += vals[mt];
		}
		/* one count per pageblock_nr_pages step from start_pfn */
		ASSERT_EQ(blocks, (zi.spanned + pb - 1) / pb);
	}
	ASSERT_EQ(row, l.n);
	ASSERT_EQ(l.n, 4 + MEMLAB_MIGRATE_TYPES * nr_populated + 2 + nr_populated);
	free_lines(&l);
	free(text);
}

/* The value of the line of zone zone's block that starts with label. */
static void zone_value(const struct lines *l, const char *zone, const char *label,
		       uint64_t *value)
{
	char head[64];
	int start, end, at;

	snprintf(head, sizeof(head), "Node 0, zone %8s", zone);
	start = find_line(l, 0, head);
	if (start < 0)
		TEST_FAIL("no zone %s", zone);
	end = find_line(l, start + 1, "Node ");
	at = find_line(l, start + 1, label);
	if (at < 0 || (end >= 0 && at > end))
		TEST_FAIL("zone %s has no \"%s\"", zone, label);
	if (sscanf(l->v[at] + strlen(label), "%" SCNu64, value) != 1)
		TEST_FAIL("no number in \"%s\"", l->v[at]);
}

static void check_zoneinfo_zone(memlab_machine *m, const struct lines *l,
				const struct memlab_zone_info *zi)
{
	static const struct { const char *label; size_t off; } fields[] = {
		{ "  pages free     ", offsetof(struct memlab_zone_info, nr_free) },
		{ "        boost    ", offsetof(struct memlab_zone_info, watermark_boost) },
		{ "        min      ", offsetof(struct memlab_zone_info, wmark_min) },
		{ "        low      ", offsetof(struct memlab_zone_info, wmark_low) },
		{ "        high     ", offsetof(struct memlab_zone_info, wmark_high) },
		{ "        promo    ", offsetof(struct memlab_zone_info, wmark_promo) },
		{ "        spanned  ", offsetof(struct memlab_zone_info, spanned) },
		{ "        present  ", offsetof(struct memlab_zone_info, present) },
		{ "        managed  ", offsetof(struct memlab_zone_info, managed) },
	};
	char head[64], prot[256];
	uint64_t v;
	int at;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		CALL(zone_value(l, zi->name, fields[i].label, &v));
		ASSERT_EQ(v, *(const uint64_t *)((const char *)zi + fields[i].off));
	}
	snprintf(head, sizeof(head), "Node 0, zone %8s", zi->name);
	at = find_line(l, find_line(l, 0, head), "        protection: (");
	ASSERT(at >= 0);
	snprintf(prot, sizeof(prot), "        protection: (%" PRIu64, zi->lowmem_reserve[0]);
	for (int j = 1; j < memlab_nr_zones(m); j++)
		snprintf(prot + strlen(prot), sizeof(prot) - strlen(prot), ", %" PRIu64,
			 zi->lowmem_reserve[j]);
	strcat(prot, ")");
	ASSERT_STREQ(l->v[at], prot);
	if (!zi->populated) {
		/* the short form: protection is the zone's last line */
		ASSERT(at + 1 == l->n || strncmp(l->v[at + 1], "Node ", 5) == 0);
		return;
	}
	CALL(zone_value(l, zi->name, "      nr_free_pages ", &v));
	ASSERT_EQ(v, zi->nr_free);
	CALL(zone_value(l, zi->name, "  start_pfn:           ", &v));
	ASSERT_EQ(v, zi->start_pfn);
}

static void check_zoneinfo(memlab_machine *m)
{
	char *text = render(m, "zoneinfo");
	struct lines l;
	int first_populated = -1, zones = 0;

	ASSERT(text);
	split_lines(text, &l);
	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		if (zi.populated && first_populated < 0)
			first_populated = zid;
		CALL(check_zoneinfo_zone(m, &l, &zi));
	}
	for (int i = 0; i < l.n; i++)
		zones += strncmp(l.v[i], "Node 0, zone ", 13) == 0;
	ASSERT_EQ(zones, memlab_nr_zones(m));
	/* per-node stats follow the first populated zone's header, once */
	ASSERT(first_populated >= 0);
	{
		struct memlab_zone_info zi;
		char head[64];
		int at = find_line(&l, 0, "  per-node stats");

		memlab_zone_info(m, first_populated, &zi);
		snprintf(head, sizeof(head), "Node 0, zone %8s", zi.name);
		ASSERT(at > 0);
		ASSERT_STREQ(l.v[at - 1], head);
		ASSERT_EQ(find_line(&l, at + 1, "  per-node stats"), -1);
	}
	free_lines(&l);
	free(text);
}

static void check_vmstat(memlab_machine *m)
{
	size_t n = memlab_vmstat(m, NULL, 0);
	struct memlab_stat *st = calloc(n, sizeof(*st));
	char *text = render(m, "vmstat");
	uint64_t free_pages = 0, v;
	struct lines l;

	ASSERT(text && st);
	ASSERT_EQ(memlab_vmstat(m, st, n), n);
	split_lines(text, &l);
	ASSERT_EQ(l.n, (long long)n);
	for (size_t i = 0; i < n; i++) {
		char expect[128];

		snprintf(expect, sizeof(expect), "%s %" PRIu64, st[i].name, st[i].value);
		ASSERT_STREQ(l.v[i], expect);
		ASSERT_OK(memlab_vmstat_get(m, st[i].name, &v));
		ASSERT_EQ(v, st[i].value);
	}
	ASSERT_STREQ(l.v[n - 1], "nr_unstable 0");
	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;
		char name[32];

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		free_pages += zi.nr_free;
		snprintf(name, sizeof(name), "pgalloc_%s", zi.name);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		ASSERT_OK(memlab_vmstat_get(m, name, &v));
		ASSERT_EQ(v, zi.pgalloc);
	}
	ASSERT_OK(memlab_vmstat_get(m, "nr_free_pages", &v));
	ASSERT_EQ(v, free_pages);
	free_lines(&l);
	free(text);
	free(st);
}

/* Σ over zones of min(managed, max lowmem_reserve + high watermark). */
static uint64_t totalreserve(memlab_machine *m)
{
	uint64_t sum = 0;

	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;
		uint64_t max = 0;

		memlab_zone_info(m, zid, &zi);
		for (int j = zid; j < memlab_nr_zones(m); j++)
			if (zi.lowmem_reserve[j] > max)
				max = zi.lowmem_reserve[j];
		max += zi.wmark_high - zi.watermark_boost;
		sum += max < zi.managed ? max : zi.managed;
	}
	return sum;
}

static void meminfo_value(const struct lines *l, const char *label, uint64_t *kb)
{
	int at = find_line(l, 0, label);

	if (at < 0)
		TEST_FAIL("no %s", label);
	if (sscanf(l->v[at] + strlen(label), "%" SCNu64, kb) != 1)
		TEST_FAIL("no number in \"%s\"", l->v[at]);
}

static void check_meminfo(memlab_machine *m)
{
	struct memlab_machine_info mi = machine_info(m);
	char *text = render(m, "meminfo");
	uint64_t managed = 0, free_pages = 0, kb, reserve = totalreserve(m);
	uint64_t k = mi.page_size / 1024;
	struct lines l;

	ASSERT(text);
	split_lines(text, &l);
	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		managed += zi.managed;
		free_pages += zi.nr_free;
	}
	CALL(meminfo_value(&l, "MemTotal:", &kb));
	ASSERT_EQ(kb, managed * k);
	CALL(meminfo_value(&l, "MemFree:", &kb));
	ASSERT_EQ(kb, free_pages * k);
	/* no page cache and no slab yet: free pages above the reserves */
	CALL(meminfo_value(&l, "MemAvailable:", &kb));
	ASSERT_EQ(kb, (free_pages > reserve ? free_pages - reserve : 0) * k);
	CALL(meminfo_value(&l, "CommitLimit:", &kb));
	ASSERT_EQ(kb, managed * 50 / 100 * k);
	CALL(meminfo_value(&l, "Hugepagesize:", &kb));
	ASSERT_EQ(kb, (uint64_t)mi.page_size / 8 * k);
	if (mi.arch == MEMLAB_ARCH_X86_64) {
		uint64_t k4, m2, g1;

		CALL(meminfo_value(&l, "DirectMap4k:", &k4));
		CALL(meminfo_value(&l, "DirectMap2M:", &m2));
		CALL(meminfo_value(&l, "DirectMap1G:", &g1));
		ASSERT_EQ(k4 + m2 + g1, mi.ram >> 10);	/* the direct map covers RAM */
		ASSERT_EQ(m2 % 2048, 0);
		ASSERT_EQ(g1 % (1024 * 1024), 0);
	}
	for (int i = 0; i < l.n; i++) {
		size_t colon = strcspn(l.v[i], ":");

		ASSERT(l.v[i][colon] == ':');
		/* HugePages_* have no unit; every other value ends in " kB" */
		if (strncmp(l.v[i], "HugePages_", 10) != 0)
			ASSERT(strlen(l.v[i]) >= 3 && strcmp(l.v[i] + strlen(l.v[i]) - 3, " kB") == 0);
	}
	free_lines(&l);
	free(text);
}

static void check_all(memlab_machine *m)
{
	CALL(check_buddyinfo(m));
	CALL(check_pagetypeinfo(m));
	CALL(check_zoneinfo(m));
	CALL(check_vmstat(m));
	CALL(check_meminfo(m));
	ASSERT_EQ(memlab_check(m, NULL, NULL), 0);
}

/* Dirty limits of an idle machine: 20% and 10% of free pages above reserves. */
static void check_dirty_limits(memlab_machine *m)
{
	struct memlab_machine_info mi = machine_info(m);
	uint64_t free_pages = 0, reserve = totalreserve(m), avail, v;

	for (int zid = 0; zid < memlab_nr_zones(m); zid++) {
		struct memlab_zone_info zi;

		memlab_zone_info(m, zid, &zi);
		free_pages += zi.nr_free;
	}
	avail = free_pages - (reserve < free_pages ? reserve : free_pages) + 1;
	ASSERT_OK(memlab_vmstat_get(m, "nr_dirty_threshold", &v));
	ASSERT_EQ(v, (20ull * mi.page_size / 100) * avail / mi.page_size);
	ASSERT_OK(memlab_vmstat_get(m, "nr_dirty_background_threshold", &v));
	ASSERT_EQ(v, (10ull * mi.page_size / 100) * avail / mi.page_size);
}

TEST(files_agree_with_zone_info_x86)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 6 * GiB, 4096, MEMLAB_ZONES_ARCH);
	char *buddy_before, *buddy_after;
	uint64_t pfn[64], dma32[8], before, after;
	struct memlab_zone_info zi;

	ASSERT(m);
	ASSERT_EQ(memlab_nr_zones(m), 5);
	CALL(check_all(m));
	CALL(check_dirty_limits(m));
	buddy_before = render(m, "buddyinfo");
	ASSERT_OK(memlab_vmstat_get(m, "pgalloc_normal", &before));
	for (int i = 0; i < 64; i++)
		ASSERT_OK(memlab_alloc_pages(m, (unsigned)(i % 4), MEMLAB_GFP_KERNEL, &pfn[i]));
	for (int i = 0; i < 8; i++)
		ASSERT_OK(memlab_alloc_pages(m, 3, MEMLAB_GFP_DMA32, &dma32[i]));
	ASSERT_OK(memlab_vmstat_get(m, "pgalloc_normal", &after));
	ASSERT_EQ(after - before, 16 * (1 + 2 + 4 + 8));
	ASSERT_OK(memlab_zone_info(m, ZONE_DMA32, &zi));
	ASSERT_EQ(zi.pgalloc, 8 * 8);
	CALL(check_all(m));
	CALL(check_dirty_limits(m));
	for (int i = 0; i < 64; i++)
		ASSERT_OK(memlab_free_pages(m, pfn[i], (unsigned)(i % 4)));
	for (int i = 0; i < 8; i++)
		ASSERT_OK(memlab_free_pages(m, dma32[i], 3));
	CALL(check_all(m));
	ASSERT_OK(memlab_drain_pages(m));	/* the per-CPU lists back to the buddy */
	CALL(check_all(m));
	buddy_after = render(m, "buddyinfo");
	ASSERT(buddy_before && buddy_after);
	ASSERT_STREQ(buddy_after, buddy_before);	/* everything merged back */
	{
		char *mem = render(m, "meminfo");

		/* 4k: ISA range and up to 2 MiB; 2M: up to 1 GiB; 1G: the rest */
		ASSERT(mem && strstr(mem, "DirectMap4k:        2048 kB\n"
				     "DirectMap2M:     1046528 kB\n"
				     "DirectMap1G:     5242880 kB\n"));
		free(mem);
	}
	free(buddy_before);
	free(buddy_after);
	memlab_destroy(m);
}

TEST(files_agree_with_zone_info_arm64_64k)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_ARM64, 2 * GiB, 65536, MEMLAB_ZONES_ARCH);
	char *pti, *mem, *buddy;
	uint64_t pfn[16];

	ASSERT(m);
	ASSERT_EQ(machine_info(m).max_order, 13);
	CALL(check_all(m));
	for (int i = 0; i < 16; i++)
		ASSERT_OK(memlab_alloc_pages(m, (unsigned)(i % 3), MEMLAB_GFP_KERNEL, &pfn[i]));
	CALL(check_all(m));
	pti = render(m, "pagetypeinfo");
	mem = render(m, "meminfo");
	buddy = render(m, "buddyinfo");
	ASSERT(pti && mem && buddy);
	ASSERT(strncmp(pti, "Page block order: 13\nPages per block:  8192\n\n", 44) == 0);
	ASSERT(strstr(mem, "\nHugepagesize:     524288 kB\n"));	/* PMD_SIZE: 512 MiB */
	ASSERT(!strstr(mem, "DirectMap"));
	/* 14 orders: "Node 0, zone %8s " + 14 x "%6lu " */
	ASSERT_EQ(strcspn(buddy, "\n"), 22 + 14 * 7);
	for (int i = 0; i < 16; i++)
		ASSERT_OK(memlab_free_pages(m, pfn[i], (unsigned)(i % 3)));
	free(pti);
	free(mem);
	free(buddy);
	memlab_destroy(m);
}

TEST(single_zone_machine)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 128 * MiB, 4096, MEMLAB_ZONES_SINGLE);
	char *zi, *buddy;

	ASSERT(m);
	CALL(check_all(m));
	zi = render(m, "zoneinfo");
	buddy = render(m, "buddyinfo");
	ASSERT(zi && buddy);
	ASSERT(strncmp(zi, "Node 0, zone   Normal\n  per-node stats\n", 39) == 0);
	ASSERT(strstr(zi, "\n        protection: (0)\n"));
	ASSERT(strstr(zi, "\n  pagesets\n    cpu: 0\n              count:    0\n"));
	ASSERT(strncmp(buddy, "Node 0, zone   Normal ", 22) == 0);
	ASSERT_EQ(strchr(buddy, '\n')[1], '\0');
	free(zi);
	free(buddy);
	memlab_destroy(m);
}

/*
** The pageset printed for the one CPU: batch from zone_batchsize(),
** high_min the low watermark (one CPU shares nothing), high_max an eighth
** of the zone, at least 4 batches.
*/
TEST(zoneinfo_pagesets)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 6 * GiB, 4096, MEMLAB_ZONES_ARCH);
	char *text = m ? render(m, "zoneinfo") : NULL;
	struct lines l;

	ASSERT(m && text);
	split_lines(text, &l);
	for (int zid = ZONE_DMA; zid <= ZONE_NORMAL; zid++) {
		struct memlab_zone_info zi;
		uint64_t batch, high_min, high_max, count, high, expect_batch;

		ASSERT_OK(memlab_zone_info(m, zid, &zi));
		/* DMA: managed >> 10 is 3, so 1 after the clamp; big zones: 1 MiB / 4 */
		if (zid == ZONE_DMA)
			ASSERT(zi.managed < 4096);
		else
			ASSERT(zi.managed >= (256u << 10));
		expect_batch = zid == ZONE_DMA ? 1 : 63;
		CALL(zone_value(&l, zi.name, "              count:    ", &count));
		CALL(zone_value(&l, zi.name, "              high:     ", &high));
		CALL(zone_value(&l, zi.name, "              batch:    ", &batch));
		CALL(zone_value(&l, zi.name, "              high_min: ", &high_min));
		CALL(zone_value(&l, zi.name, "              high_max: ", &high_max));
		ASSERT_EQ(count, 0);
		ASSERT_EQ(high, 0);
		ASSERT_EQ(batch, expect_batch);
		ASSERT_EQ(high_min, zi.wmark_low > 4 * batch ? zi.wmark_low : 4 * batch);
		ASSERT_EQ(high_max, zi.managed / 8 > 4 * batch ? zi.managed / 8 : 4 * batch);
	}
	free_lines(&l);
	free(text);
	memlab_destroy(m);
}

TEST(errors)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 64 * MiB, 4096, MEMLAB_ZONES_ARCH);
	struct memlab_zone_info zi;
	char *text = (char *)1;
	size_t len = 7;
	uint64_t v = 42;

	ASSERT(m);
	ASSERT_EQ(memlab_proc(m, "slabinfo2", &text, &len), -MEMLAB_ENOENT);
	ASSERT(text == NULL);
	ASSERT_EQ(len, 0);
	ASSERT_EQ(memlab_proc(m, "extfrag", &text, &len), -MEMLAB_ENOENT);
	ASSERT_EQ(memlab_proc(m, NULL, &text, &len), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_proc(m, "meminfo", NULL, &len), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_proc(m, "meminfo", &text, NULL));
	memlab_free_text(m, text);
	ASSERT_EQ(memlab_show_mem(NULL, &text, &len), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_show_mem(m, NULL, &len), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_show_mem(m, &text, NULL));
	ASSERT(strncmp(text, "Mem-Info:\n", 10) == 0);
	memlab_free_text(m, text);
	ASSERT_EQ(memlab_vmstat_get(m, "no_such_counter", &v), -MEMLAB_ENOENT);
	ASSERT_EQ(v, 42);
	ASSERT_EQ(memlab_zone_info(m, -1, &zi), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_zone_info(m, memlab_nr_zones(m), &zi), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_fragmentation_index(m, 0, 11), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_unusable_index(m, 9, 0), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_zone_info(m, ZONE_MOVABLE, &zi));
	ASSERT_EQ(zi.populated, 0);
	ASSERT_STREQ(zi.name, "Movable");
	memlab_destroy(m);
}

/*
** Every renderer under a failing host allocator: the n-th allocation
** fails for n = 0, 1, 2, ... until rendering succeeds; each failure is
** -MEMLAB_ENOMEM with nothing leaked, and the success gives the same text.
*/
TEST(render_oom_loop)
{
	static const char *const paths[] = {
		"meminfo", "buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat",
		"extfrag/extfrag_index", "extfrag/unusable_index", "show_mem",
	};
	struct counting_alloc ca = { 0, 0, -1, 0 };
	memlab_machine *m = new_machine_ex(MEMLAB_ARCH_X86_64, 6 * GiB, 4096,
					   MEMLAB_ZONES_ARCH, &ca);

	ASSERT(m);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *want = render(m, paths[i]);
		long long bytes = ca.live_bytes;
		long blocks = ca.live_blocks;
		int failures = 0;

		ASSERT(want);
		for (long n = 0;; n++) {
			char *text = NULL;
			size_t len;
			int rc;

			ca.countdown = n;
			ca.failed = 0;
			rc = proc_text(m, paths[i], &text, &len);
			ca.countdown = -1;
			if (rc == 0) {
				ASSERT_STREQ(text, want);
				ASSERT_EQ(ca.live_bytes, bytes + (long long)len + 1);
				memlab_free_text(m, text);
				break;
			}
			ASSERT_EQ(rc, -MEMLAB_ENOMEM);
			ASSERT(ca.failed);
			ASSERT(text == NULL);
			failures++;
		}
		ASSERT(failures > 0);
		ASSERT_EQ(ca.live_bytes, bytes);
		ASSERT_EQ(ca.live_blocks, blocks);
		free(want);
	}
	memlab_destroy(m);
	ASSERT_EQ(ca.live_blocks, 0);
	ASSERT_EQ(ca.live_bytes, 0);
}

/* ===================== the host's files ===================== */

/*
** A machine laid out like the host: same architecture and page size, and
** 6 GiB so that x86-64's three zones are populated as on a typical host.
** NULL (and "skip" printed) for an architecture memlab does not simulate,
** (memlab_machine *)-1 when such a machine cannot be created.
*/
static memlab_machine *host_like_machine(const char *what)
{
	struct utsname u;
	long page_size = sysconf(_SC_PAGESIZE);
	memlab_machine *m;
	int arch;

	if (uname(&u) != 0)
		return NULL;
	if (strcmp(u.machine, "x86_64") == 0)
		arch = MEMLAB_ARCH_X86_64;
	else if (strcmp(u.machine, "aarch64") == 0)
		arch = MEMLAB_ARCH_ARM64;
	else {
		printf("  skip %s: host architecture %s is not simulated\n", what, u.machine);
		return NULL;
	}
	m = new_machine(arch, 6 * GiB, (uint32_t)page_size, MEMLAB_ZONES_ARCH);
	return m ? m : (memlab_machine *)-1;
}

/* Load the host file and ours; 0 when the host file is unreadable. */
static int host_and_ours(const char *host_path, const char *path, memlab_machine **m,
			 struct lines *host, struct lines *ours)
{
	char *h = read_host(host_path), *o;

	if (!h) {
		printf("  skip %s: host file unreadable\n", host_path);
		return 0;
	}
	*m = host_like_machine(host_path);
	if (!*m) {
		free(h);
		return 0;
	}
	if (*m == (memlab_machine *)-1) {
		free(h);
		printf("  %s: cannot create a machine like the host\n", host_path);
		test_current_failed = 1;
		return 0;
	}
	o = render(*m, path);
	split_lines(h, host);
	split_lines(o ? o : "", ours);
	free(h);
	free(o);
	return 1;
}

static void done_host(memlab_machine *m, struct lines *host, struct lines *ours)
{
	free_lines(host);
	free_lines(ours);
	memlab_destroy(m);
}

/* Our line for the host line's zone (and type), or -1. */
static int same_zone_line(const struct lines *ours, const char *host_line, size_t key_len)
{
	for (int i = 0; i < ours->n; i++)
		if (strncmp(ours->v[i], host_line, key_len) == 0)
			return i;
	return -1;
}

TEST(host_buddyinfo)
{
	struct lines host, ours;
	memlab_machine *m;
	int common = 0;

	if (!host_and_ours("/proc/buddyinfo", "buddyinfo", &m, &host, &ours))
		return;
	/* zone names are right-aligned in 8 columns: "Node 0, zone %8s" is the key */
	for (int i = 0; i < host.n; i++) {
		int j = same_zone_line(&ours, host.v[i], 21);
		char hs[1024], os[1024];

		if (j < 0)
			continue;
		shape(host.v[i], hs, sizeof(hs));
		shape(ours.v[j], os, sizeof(os));
		ASSERT_STREQ(os, hs);
		common++;
	}
	ASSERT(common > 0);
	done_host(m, &host, &ours);
}

TEST(host_pagetypeinfo)
{
	struct lines host, ours;
	memlab_machine *m;
	int host_blocks, our_blocks, common = 0;

	if (!host_and_ours("/proc/pagetypeinfo", "pagetypeinfo", &m, &host, &ours))
		return;
	ASSERT(host.n > 4 && ours.n > 4);
	for (int i = 0; i < 4; i++)
		ASSERT_STREQ(ours.v[i], host.v[i]);	/* order, per block, blank, header */
	/* free counts: rows keyed by "zone %8s, type %12s" */
	for (int i = 4; i < host.n && host.v[i][0]; i++) {
		int j = same_zone_line(&ours, host.v[i], 43);
		char hs[1024], os[1024];

		if (j < 0)
			continue;
		shape(host.v[i], hs, sizeof(hs));
		shape(ours.v[j], os, sizeof(os));
		ASSERT_STREQ(os, hs);
		common++;
	}
	ASSERT(common >= MEMLAB_MIGRATE_TYPES);
	host_blocks = find_line(&host, 0, "Number of blocks type");
	our_blocks = find_line(&ours, 0, "Number of blocks type");
	ASSERT(host_blocks > 0 && our_blocks > 0);
	ASSERT_STREQ(ours.v[our_blocks - 1], "");
	ASSERT_STREQ(host.v[host_blocks - 1], "");
	ASSERT_STREQ(ours.v[our_blocks], host.v[host_blocks]);
	common = 0;
	for (int i = host_blocks + 1; i < host.n && host.v[i][0]; i++) {
		int j = same_zone_line(&ours, host.v[i], 21);
		char hs[1024], os[1024];

		if (j <= our_blocks)
			continue;
		shape(host.v[i], hs, sizeof(hs));
		shape(ours.v[j], os, sizeof(os));
		ASSERT_STREQ(os, hs);
		common++;
	}
	ASSERT(common > 0);
	/* 4 header lines, 5 rows per zone, a blank line, then one row per zone */
	ASSERT_EQ(our_blocks + 1 + (our_blocks - 5) / MEMLAB_MIGRATE_TYPES, ours.n);
	done_host(m, &host, &ours);
}

/*
** The labels of one zone's block of zoneinfo, from its "Node" line to the
** next: every line with its value cut off, padding kept.  Pagesets after
** the first CPU's are dropped (memlab has one CPU).
*/
static int zoneinfo_labels(const struct lines *l, const char *zone, char labels[][64], int max,
			   int *populated)
{
	char head[64];
	int start, n = 0, cpus = 0;
	bool extra_cpu = false;

	snprintf(head, sizeof(head), "Node 0, zone %8s", zone);
	start = find_line(l, 0, head);
	*populated = 0;
	if (start < 0)
		return -1;
	for (int i = start; i < l->n && n < max; i++) {
		if (i > start && strncmp(l->v[i], "Node ", 5) == 0)
			break;
		if (strncmp(l->v[i], "    cpu: ", 9) == 0)
			extra_cpu = cpus++ > 0;
		if (strncmp(l->v[i], "  node_unreclaimable:", 21) == 0)
			extra_cpu = false;
		if (extra_cpu)
			continue;
		*populated |= strcmp(l->v[i], "  pagesets") == 0;
		label_of(l->v[i], labels[n++], 64);
	}
	return n;
}

TEST(host_zoneinfo)
{
	static char hl[256][64], ol[256][64];
	struct lines host, ours;
	memlab_machine *m;
	int compared = 0;

	if (!host_and_ours("/proc/zoneinfo", "zoneinfo", &m, &host, &ours))
		return;
	for (int i = 0; i < host.n; i++) {
		char name[16];
		int hn, on, hp, op;

		if (strncmp(host.v[i], "Node ", 5) != 0)
			continue;
		zone_name_of(host.v[i], name, sizeof(name));
		hn = zoneinfo_labels(&host, name, hl, 256, &hp);
		on = zoneinfo_labels(&ours, name, ol, 256, &op);
		if (on < 0 || hp != op)
			continue;	/* a zone the two machines populate differently */
		if ((strstr(hl[1], "per-node") != NULL) != (strstr(ol[1], "per-node") != NULL))
			continue;	/* the per-node block sits in another zone */
		ASSERT_EQ(on, hn);
		for (int k = 0; k < hn; k++)
			ASSERT_STREQ(ol[k], hl[k]);
		compared++;
	}
	ASSERT(compared > 0);
	done_host(m, &host, &ours);
}

TEST(host_vmstat)
{
	struct lines host, ours;
	memlab_machine *m;

	if (!host_and_ours("/proc/vmstat", "vmstat", &m, &host, &ours))
		return;
	ASSERT_EQ(ours.n, host.n);
	for (int i = 0; i < host.n; i++) {
		char hn[128], on[128];

		snprintf(hn, sizeof(hn), "%.*s", (int)strcspn(host.v[i], " "), host.v[i]);
		snprintf(on, sizeof(on), "%.*s", (int)strcspn(ours.v[i], " "), ours.v[i]);
		ASSERT_STREQ(on, hn);
	}
	done_host(m, &host, &ours);
}

TEST(host_meminfo)
{
	struct lines host, ours;
	memlab_machine *m;

	if (!host_and_ours("/proc/meminfo", "meminfo", &m, &host, &ours))
		return;
	ASSERT_EQ(ours.n, host.n);
	for (int i = 0; i < host.n; i++) {
		char hs[256], os[256];

		shape(host.v[i], hs, sizeof(hs));
		shape(ours.v[i], os, sizeof(os));
		ASSERT_STREQ(os, hs);
	}
	done_host(m, &host, &ours);
}

/* debugfs: every value is "%2d.%03d " or "%d.%03d ", so the dots line up. */
static void compare_extfrag(const char *host_path, const char *path)
{
	struct lines host, ours;
	memlab_machine *m;
	int common = 0;

	if (!host_and_ours(host_path, path, &m, &host, &ours))
		return;
	for (int i = 0; i < host.n; i++) {
		int j = same_zone_line(&ours, host.v[i], 21);

		if (j < 0)
			continue;
		ASSERT_EQ(strlen(ours.v[j]), strlen(host.v[i]));
		for (size_t k = 0; k < strlen(host.v[i]); k++)
			ASSERT_EQ(ours.v[j][k] == '.', host.v[i][k] == '.');
		common++;
	}
	ASSERT(common > 0);
	done_host(m, &host, &ours);
}

TEST(host_extfrag)
{
	CALL(compare_extfrag("/sys/kernel/debug/extfrag/extfrag_index", "extfrag/extfrag_index"));
	CALL(compare_extfrag("/sys/kernel/debug/extfrag/unusable_index", "extfrag/unusable_index"));
}

/* ===================== kpageflags, kpagecount ===================== */

#define KPF(n)	(1ull << MEMLAB_KPF_##n)

static uint64_t kpf(memlab_machine *m, uint64_t pfn)
{
	uint64_t w = 0;

	return memlab_kpageflags(m, pfn, &w, 1) == 1 ? w : ~0ull;
}

static uint64_t kcount(memlab_machine *m, uint64_t pfn)
{
	uint64_t w = 0;

	return memlab_kpagecount(m, pfn, &w, 1) == 1 ? w : ~0ull;
}

static void keep_first(void *ud, const char *msg)
{
	char *buf = ud;

	if (!buf[0])
		snprintf(buf, 256, "%s", msg);
}

/*
** The files run to the end of RAM's last memory section, its tail
** reserved; a written anonymous page, the zero page, the page tables, a
** free frame and a slab have Linux's flags; a stray PG_head is caught.
*/
TEST(kpageflags_frames)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_X86_64, 200 * MiB, 4096, MEMLAB_ZONES_ARCH);
	struct memlab_spawn_args args;
	struct memlab_walk w;
	memlab_task *t;
	uint64_t a, pfn, free_pfn;
	char byte = 'x', msg[256] = "";
	int si;

	ASSERT(m != NULL);
	ASSERT_EQ(memlab_kpageflags(m, 0, NULL, SIZE_MAX), 65536);	/* 256 MiB: two sections */
	ASSERT_EQ(memlab_kpagecount(m, 51200, NULL, SIZE_MAX), 65536 - 51200);
	ASSERT_EQ(kpf(m, 51200), KPF(RESERVED));
	ASSERT_EQ(kcount(m, 65535), 0);
	ASSERT_EQ(memlab_kpageflags(m, 65536, NULL, 8), 0);
	memset(&args, 0, sizeof args);
	ASSERT_OK(memlab_spawn(m, &args, &t));
	ASSERT_OK(memlab_mmap(t, 0, 1 << 20, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			      MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS, NULL, 0, &a));
	ASSERT_OK(memlab_access(t, a, 1, 'w', &byte, &si));
	ASSERT_OK(memlab_access(t, a + 4096, 1, 'r', &byte, &si));
	ASSERT_OK(memlab_translate(t, a, &w));
	pfn = w.pfn;
	ASSERT_EQ(kpf(m, pfn), KPF(UPTODATE) | KPF(MMAP) | KPF(ANON) | KPF(SWAPBACKED) |
		  KPF(OWNER_2));	/* not yet lru: it waits in the CPU's folio batch */
	ASSERT_EQ(kcount(m, pfn), 1);
	for (unsigned l = 0; l < w.levels; l++)
		ASSERT_EQ(kpf(m, w.table_pfn[l]), KPF(PGTABLE));
	ASSERT_OK(memlab_translate(t, a + 4096, &w));
	ASSERT_EQ(kpf(m, w.pfn), KPF(ZERO_PAGE) | KPF(RESERVED));
	ASSERT_EQ(kcount(m, w.pfn), 0);
	ASSERT_OK(memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &free_pfn));
	ASSERT_OK(memlab_free_pages(m, free_pfn, 0));
	ASSERT_OK(memlab_drain_pages(m));
	ASSERT_EQ(kpf(m, free_pfn), KPF(BUDDY));
	/* an order-2 compound allocation: head and tails */
	ASSERT_OK(memlab_alloc_pages(m, 2, MEMLAB_GFP_KERNEL | MEMLAB___GFP_COMP, &free_pfn));
	ASSERT_EQ(kpf(m, free_pfn), KPF(COMPOUND_HEAD));
	ASSERT_EQ(kpf(m, free_pfn + 3), KPF(COMPOUND_TAIL));
	ASSERT_OK(memlab_free_pages(m, free_pfn, 2));
	ASSERT_OK(memlab_check(m, keep_first, msg));
	pfn_to_page(m, pfn)->flags |= PG_head;
	ASSERT_EQ(memlab_check(m, keep_first, msg), 1);
	ASSERT(strstr(msg, "is a compound head (PG_head)") != NULL);
	pfn_to_page(m, pfn)->flags &= ~PG_head;
	pfn_to_page(m, pfn)->flags |= PG_table;		/* a mapped page is no page table */
	msg[0] = '\0';
	ASSERT_EQ(memlab_check(m, keep_first, msg), 1);
	ASSERT(strstr(msg, "is not an unmapped order-0 page (order 0, mapcount 1, a mapping)") != NULL);
	pfn_to_page(m, pfn)->flags &= ~PG_table;
	msg[0] = '\0';
	ASSERT_OK(memlab_check(m, keep_first, msg));
	memlab_destroy(m);
}

/* arm64 with 64K pages: 512 MiB sections. */
TEST(kpageflags_arm64_sections)
{
	memlab_machine *m = new_machine(MEMLAB_ARCH_ARM64, 1200 * MiB, 65536, MEMLAB_ZONES_ARCH);

	ASSERT(m != NULL);
	ASSERT_EQ(memlab_kpageflags(m, 0, NULL, SIZE_MAX), 24576);	/* 1536 MiB: three */
	ASSERT_EQ(kpf(m, 24575), KPF(RESERVED));
	memlab_destroy(m);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);	/* lines reach ctest even if a sanitizer exits */
	RUN(fragmentation_index_by_hand);
	RUN(extfrag_printed_forms);
	RUN(pagetypeinfo_count_cap);
	RUN(indices_follow_the_free_lists);
	RUN(files_agree_with_zone_info_x86);
	RUN(files_agree_with_zone_info_arm64_64k);
	RUN(single_zone_machine);
	RUN(zoneinfo_pagesets);
	RUN(errors);
	RUN(render_oom_loop);
	RUN(host_buddyinfo);
	RUN(host_pagetypeinfo);
	RUN(host_zoneinfo);
	RUN(host_vmstat);
	RUN(host_meminfo);
	RUN(host_extfrag);
	RUN(kpageflags_frames);
	RUN(kpageflags_arm64_sections);
	return test_summary();
}
