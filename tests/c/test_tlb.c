/*
** test_tlb.c -- the TLBs (core/tlb.c): set indexing and the replacement
** policies against sequences computed by hand, x86 ASIDs across context
** switches, the flushes of munmap, mprotect, mremap, COW, fork and exit,
** shootdowns between two CPUs, compulsory and capacity misses, huge-page
** entries, arm64 ASID rollover, and memlab_check() catching a stale
** entry (and the stale read itself) after a PTE changes behind the
** TLB's back.
**
** Pages are named by letters: page k of the test region is REGION + k
** pages.  "m" is a miss, "h" a hit of level 1.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"		/* the TLB arrays are inspected directly */
#include "testlib.h"

#define PG 4096ull
#define REGION 0x7e0000000000ull		/* PMD- and PUD-aligned, free */
#define P(n) (REGION + (uint64_t)(n) * PG)
#define RW (MEMLAB_PROT_READ | MEMLAB_PROT_WRITE)
#define ANON_FIXED (MEMLAB_MAP_PRIVATE | MEMLAB_MAP_ANONYMOUS | MEMLAB_MAP_FIXED)

/* ===================== helpers ===================== */

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

/* Collect violations into a buffer the test inspects. */
static char violations[8192];

static void keep_violation(void *ud, const char *msg)
{
	(void)ud;
	strncat(violations, msg, sizeof(violations) - strlen(violations) - 2);
	strcat(violations, "\n");
}

#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)

static memlab_machine *machine_with(struct memlab_config *cfg)
{
	memlab_machine *m = NULL;

	return memlab_create(cfg, &m) ? NULL : m;
}

static memlab_machine *machine(int cpus)
{
	struct memlab_config cfg;

	memlab_config_init(&cfg);
	cfg.cpus = cpus;
	return machine_with(&cfg);
}

/* A machine whose CPUs have one level-1 data TLB and nothing else. */
static memlab_machine *machine_one_tlb(uint32_t entries, uint32_t ways, int policy,
				       uint64_t seed)
{
	struct memlab_config cfg;

	memlab_config_init(&cfg);
	cfg.seed = seed;
	cfg.tlb.nr = 1;
	cfg.tlb.tlb[0] = (struct memlab_tlb_desc){ "T", 1, MEMLAB_TLB_DATA, entries, ways,
						   policy, MEMLAB_TLB_SIZE(12) };
	cfg.tlb.pwc_set = 1;	/* and no page-walk caches */
	return machine_with(&cfg);
}

static memlab_task *spawn(memlab_machine *m)
{
	struct memlab_spawn_args a = { 0 };
	memlab_task *t = NULL;

	a.aslr = 0;
	return memlab_spawn(m, &a, &t) ? NULL : t;
}

/* n pages of anonymous rw memory at REGION, each written once (faulted in). */
static int map_region(memlab_task *t, unsigned n)
{
	uint64_t a;
	int si;

	if (memlab_mmap(t, REGION, n * PG, RW, ANON_FIXED, NULL, 0, &a) || a != REGION)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char c = (char)('a' + i % 26);

		if (memlab_access(t, P(i), 1, 'w', &c, &si))
			return -1;
	}
	return 0;
}

static struct tlb_cpu *cpu_of(memlab_machine *m, int cpu)
{
	return &m->tlb->cpu[cpu];
}

/* The slot of structure tl holding va's 4K page (any ASID), or -1. */
static int64_t slot_of(const struct tlb *tl, uint64_t va)
{
	for (uint64_t i = 0; i < (uint64_t)tl->sets * tl->ways; i++)
		if (tl->key[i] && tl->key[i] >> TLB_KEY_VPN_SHIFT == va >> 12 &&
		    ((tl->key[i] >> 1) & 3) == 0)
			return (int64_t)i;
	return -1;
}

static bool resident(memlab_machine *m, int t, uint64_t va)
{
	return slot_of(&cpu_of(m, 0)->tlb[t], va) >= 0;
}

static uint64_t l1_hits(memlab_machine *m, int cpu)
{
	return cpu_of(m, cpu)->st.level_hits[1];
}

/* Read one byte of page k: 'h' when level 1 hit, 'm' otherwise. */
static char touch(memlab_machine *m, memlab_task *t, unsigned k)
{
	uint64_t before = l1_hits(m, t->cpu);
	char c;
	int si;

	if (memlab_access(t, P(k), 1, 'r', &c, &si))
		return '!';
	return l1_hits(m, t->cpu) > before ? 'h' : 'm';
}

/* Touch the pages of seq ("ABCA": pages 0, 1, 2, 0) and spell the outcome. */
static void run_seq(memlab_machine *m, memlab_task *t, const char *seq, char *out)
{
	size_t i;

	for (i = 0; seq[i]; i++)
		out[i] = touch(m, t, (unsigned)(seq[i] - 'A'));
	out[i] = '\0';
}

/* A machine with one structure, a task with 26 pages, the TLBs empty. */
static memlab_task *policy_setup(memlab_machine **mp, uint32_t entries, uint32_t ways,
				 int policy)
{
	memlab_task *t;

	*mp = machine_one_tlb(entries, ways, policy, 1);
	if (!*mp || !(t = spawn(*mp)) || map_region(t, 26))
		return NULL;
	memlab_tlb_flush_all(*mp);
	return t;
}

static uint64_t cpu_stat_flush_one(memlab_machine *m, int cpu)
{
	return cpu_of(m, cpu)->st.nr_tlb_local_flush_one;
}

static uint64_t cpu_stat_flush_all(memlab_machine *m, int cpu)
{
	return cpu_of(m, cpu)->st.nr_tlb_local_flush_all;
}

/* ===================== sets and replacement ===================== */

/* Skylake's STLB: 1536 entries, 12 ways, 128 sets; a page's set is vpn mod 128. */
TEST(set_index_power_of_two)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	const struct tlb *stlb;

	ASSERT(t);
	ASSERT_OK(map_region(t, 40));
	stlb = &cpu_of(m, 0)->tlb[5];
	ASSERT_STREQ(stlb->desc.name, "STLB");
	ASSERT_EQ(stlb->sets, 128);
	for (unsigned k = 0; k < 40; k++) {
		int64_t i = slot_of(stlb, P(k));

		ASSERT(i >= 0);
		ASSERT_EQ((uint64_t)i / 12, (P(k) >> 12) % 128);
	}
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* 15 entries, 5 ways: 3 sets, vpn mod 3; a sixth page of one set evicts. */
TEST(set_index_three_sets)
{
	memlab_machine *m;
	memlab_task *t = policy_setup(&m, 15, 5, MEMLAB_TLB_LRU);
	const struct tlb *tl;
	uint64_t evictions;
	char out[32];

	ASSERT(t);
	tl = &cpu_of(m, 0)->tlb[0];
	ASSERT_EQ(tl->sets, 3);
	ASSERT(!tl->sets_pow2);
	evictions = tl->st.evictions;
	run_seq(m, t, "ADGJM", out);		/* pages 0, 3, 6, 9, 12: one set */
	ASSERT_STREQ(out, "mmmmm");
	for (unsigned k = 0; k <= 12; k += 3)
		ASSERT_EQ((uint64_t)slot_of(tl, P(k)) / 5, ((P(0) >> 12) + k) % 3);
	run_seq(m, t, "BCEF", out);		/* other sets: no eviction */
	ASSERT_STREQ(out, "mmmm");
	run_seq(m, t, "ADGJM", out);
	ASSERT_STREQ(out, "hhhhh");
	run_seq(m, t, "PD", out);		/* page 15, a sixth of that set, evicts A (LRU) */
	ASSERT_STREQ(out, "mh");
	ASSERT(!resident(m, 0, P(0)));
	ASSERT_EQ(tl->st.evictions, evictions + 1);
	memlab_destroy(m);
}

/*
** One set of 4 ways; A B C D fill it, then A A B hit, then E and F miss.
**   LRU:  E evicts C, F evicts D        -> D misses, E hits
**   FIFO: E evicts A, F evicts B        -> D hits, E hits
**   LFU:  hits A=2 B=1 C=0 D=0: E evicts C (lowest way of the least used),
**         F evicts E (0 hits, way 2)    -> D hits, E misses
*/
TEST(policy_lru_fifo_lfu)
{
	static const struct { int policy; const char *want; } cases[] = {
		{ MEMLAB_TLB_LRU, "mmmmhhhmmmh" },
		{ MEMLAB_TLB_FIFO, "mmmmhhhmmhh" },
		{ MEMLAB_TLB_LFU, "mmmmhhhmmhm" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memlab_machine *m;
		memlab_task *t = policy_setup(&m, 4, 4, cases[i].policy);
		char out[32];

		ASSERT(t);
		run_seq(m, t, "ABCDAABEFDE", out);
		if (strcmp(out, cases[i].want))
			TEST_FAIL("policy %d: %s, want %s", cases[i].policy, out, cases[i].want);
		memlab_destroy(m);
	}
}

/*
** Tree-PLRU over 4 ways (nodes 1, 2, 3; a bit points to the half to
** replace).  A B C D fill ways 0..3 and leave every bit 0; the hit on A
** sets b2 = b1 = 1; E: b1 -> node 3, b3 = 0 -> way 2 (C); F: b1 = 0 ->
** node 2, b2 = 1 -> way 1 (B); C: b1 = 1, b3 = 1 -> way 3 (D); B: b1 = 0,
** b2 = 0 -> way 0 (A).  Left: B F E C.
*/
TEST(policy_plru_4way)
{
	memlab_machine *m;
	memlab_task *t = policy_setup(&m, 4, 4, MEMLAB_TLB_PLRU);
	const struct tlb *tl;
	char out[32];

	ASSERT(t);
	tl = &cpu_of(m, 0)->tlb[0];
	run_seq(m, t, "ABCDAEFCB", out);
	ASSERT_STREQ(out, "mmmmhmmmm");
	ASSERT_EQ(slot_of(tl, P(1)), 0);	/* B */
	ASSERT_EQ(slot_of(tl, P(5)), 1);	/* F */
	ASSERT_EQ(slot_of(tl, P(4)), 2);	/* E */
	ASSERT_EQ(slot_of(tl, P(2)), 3);	/* C */
	memlab_destroy(m);
}

/*
** Tree-PLRU over 12 ways: a 16-leaf tree (nodes 1..15, leaves 16..31 =
** ways 0..15) whose ways 12..15 do not exist.  Filling ways 0..11 in
** order leaves b1 = 0 (the last fill, way 11, was on the right), b2 = 0,
** b3 = 1 (pointing at node 7, ways 12..15: missing), every other bit 0.
**   - the first victim: 1 -> 2 -> 4 -> 8 -> way 0, as LRU;
**   - a hit on way 0 sets b8, b4, b2, b1 = 1;
**   - X: b1 = 1 -> node 3; b3 = 1 -> node 7 has no way: node 6; b6 = 0
**     -> 12; b12 = 0 -> way 8.  LRU would have taken way 1.  X's fill
**     sets b12 = b6 = b3 = 1, b1 = 0;
**   - Y: b1 = 0 -> 2; b2 = 1 -> 5; b5 = 0 -> 10; b10 = 0 -> way 4.  Its
**     fill sets b10 = b5 = 1, b2 = 0, b1 = 1;
**   - Z: b1 = 1 -> 3; b3 = 1 -> 7 missing: 6; b6 = 1 -> 13; b13 = 0 ->
**     way 10.
*/
TEST(policy_plru_12way)
{
	memlab_machine *m;
	memlab_task *t = policy_setup(&m, 12, 12, MEMLAB_TLB_PLRU);
	const struct tlb *tl;
	char out[32];

	ASSERT(t);
	tl = &cpu_of(m, 0)->tlb[0];
	ASSERT_EQ(tl->plru_leaves, 16);
	run_seq(m, t, "ABCDEFGHIJKL", out);
	ASSERT_STREQ(out, "mmmmmmmmmmmm");
	run_seq(m, t, "AXYZ", out);
	ASSERT_STREQ(out, "hmmm");
	ASSERT_EQ(slot_of(tl, P('X' - 'A')), 8);	/* where I was */
	ASSERT_EQ(slot_of(tl, P('Y' - 'A')), 4);	/* where E was */
	ASSERT_EQ(slot_of(tl, P('Z' - 'A')), 10);	/* where K was */
	ASSERT(!resident(m, 0, P('I' - 'A')) && !resident(m, 0, P('E' - 'A')) &&
	       !resident(m, 0, P('K' - 'A')));
	ASSERT(resident(m, 0, P(1)));		/* B: LRU's victim, still there */
	memlab_destroy(m);
}

/* Random: each victim is the machine's next number modulo the ways. */
TEST(policy_random)
{
	memlab_machine *m;
	memlab_task *t = policy_setup(&m, 4, 4, MEMLAB_TLB_RANDOM);
	struct rng copy;
	const struct tlb *tl;
	uint64_t key_before[4];
	char out[32];

	ASSERT(t);
	tl = &cpu_of(m, 0)->tlb[0];
	run_seq(m, t, "ABCD", out);		/* invalid ways first: no draw */
	ASSERT_STREQ(out, "mmmm");
	copy = m->rng;
	for (unsigned k = 4; k < 20; k++) {
		uint32_t victim = (uint32_t)(rng_next(&copy) % 4);

		memcpy(key_before, tl->key, sizeof(key_before));
		ASSERT_EQ(touch(m, t, k), 'm');
		ASSERT_EQ(slot_of(tl, P(k)), victim);
		for (uint32_t w = 0; w < 4; w++)
			if (w != victim)
				ASSERT_EQ(tl->key[w], key_before[w]);
	}
	memlab_destroy(m);
}

/* The same seed, the same victims: two machines side by side agree. */
TEST(policy_random_deterministic)
{
	memlab_machine *a, *b;
	memlab_task *ta = policy_setup(&a, 8, 4, MEMLAB_TLB_RANDOM);
	memlab_task *tb = policy_setup(&b, 8, 4, MEMLAB_TLB_RANDOM);
	char oa[64], ob[64];

	ASSERT(ta && tb);
	run_seq(a, ta, "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP", oa);
	run_seq(b, tb, "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP", ob);
	ASSERT_STREQ(oa, ob);
	memlab_destroy(a);
	memlab_destroy(b);
}

/* ===================== misses ===================== */

/* 4 entries, 8 pages twice: 8 compulsory misses, then 8 capacity misses. */
TEST(compulsory_vs_capacity)
{
	memlab_machine *m = machine_one_tlb(4, 4, MEMLAB_TLB_LRU, 1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_tlb_stats st;
	char out[32];

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, REGION, 8 * PG, RW, ANON_FIXED, NULL, 0, &(uint64_t){ 0 }));
	run_seq(m, t, "ABCDEFGH", out);	/* each faults: the walk fails, then succeeds */
	run_seq(m, t, "ABCDEFGH", out);
	ASSERT_STREQ(out, "mmmmmmmm");
	ASSERT_EQ(memlab_tlb_stats(m, &st, 1), 1);
	ASSERT_EQ(st.misses, 16);
	ASSERT_EQ(st.compulsory_misses, 8);
	ASSERT_EQ(st.hits, 0);
	ASSERT(st.compulsory_exact);
	memlab_destroy(m);
}

/* A level-2 hit refills level 1; the walk is skipped. */
TEST(stlb_hit_refills_l1)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct tlb_cpu *c;
	uint64_t walks, l2_hits;

	ASSERT(t);
	ASSERT_OK(map_region(t, 80));
	c = cpu_of(m, 0);
	memlab_tlb_flush_all(m);
	/* L1d: 64 entries, 4 ways, 16 sets: pages 0, 16, 32, 48, 64 share a set */
	for (unsigned k = 0; k <= 64; k += 16)
		ASSERT_EQ(touch(m, t, k), 'm');
	ASSERT(!resident(m, 2, P(0)) && resident(m, 5, P(0)));
	walks = c->st.walks;
	l2_hits = c->st.level_hits[2];
	ASSERT_EQ(touch(m, t, 0), 'm');		/* an STLB hit: no walk */
	ASSERT_EQ(c->st.walks, walks);
	ASSERT_EQ(c->st.level_hits[2], l2_hits + 1);
	ASSERT(resident(m, 2, P(0)));
	ASSERT_EQ(touch(m, t, 0), 'h');
	memlab_destroy(m);
}

/* ===================== ASIDs ===================== */

/*
** Seven mms on one CPU, each reading its page in turn: slots 1..5, then
** the round robin wraps to slot 0 (init_mm's) and the seventh takes slot
** 1 from the first, the least recently used.  An mm that kept its slot
** comes back without a flush and finds its entries (no walk).
*/
TEST(asid_seven_mms)
{
	static const int want_asid[7] = { 1, 2, 3, 4, 5, 0, 1 };
	memlab_machine *m = machine(1);
	memlab_task *t[7];
	struct memlab_tlb_cpu_stats st;
	struct tlb_cpu *c;
	uint64_t flushes, walks;
	int si;

	ASSERT(m);
	c = cpu_of(m, 0);
	for (int i = 0; i < 7; i++)
		ASSERT((t[i] = spawn(m)));
	for (int i = 0; i < 7; i++) {
		ASSERT_OK(memlab_touch(t[i], 0x555555554000ull, 1, 'r', &si));
		ASSERT_EQ(c->loaded_mm_asid, want_asid[i]);
		ASSERT_EQ(c->st.switch_flushes, (uint64_t)i + 1);
		ASSERT_OK(memlab_tlb_cpu_stats(m, 0, &st));
		ASSERT_EQ(st.loaded_pid, memlab_task_pid(t[i]));
	}
	ASSERT(c->ctxs[1].ctx_id == t[6]->mm->context.ctx_id);	/* the first lost its slot */
	/* the fourth still has slot 4: back without a flush, its entry still cached */
	flushes = c->st.switch_flushes;
	walks = c->st.walks;
	ASSERT_OK(memlab_touch(t[3], 0x555555554000ull, 1, 'r', &si));
	ASSERT_EQ(c->loaded_mm_asid, 4);
	ASSERT_EQ(c->st.switch_flushes, flushes);
	ASSERT_EQ(c->st.walks, walks);
	/* the first comes back: the next slot round robin (2), flushed */
	ASSERT_OK(memlab_touch(t[0], 0x555555554000ull, 1, 'r', &si));
	ASSERT_EQ(c->loaded_mm_asid, 2);
	ASSERT_EQ(c->st.switch_flushes, flushes + 1);
	ASSERT_EQ(c->st.walks, walks + 1);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* Without PCID every switch to another mm flushes. */
TEST(asid_nopcid)
{
	struct memlab_config cfg;
	memlab_machine *m;
	memlab_task *a, *b;
	int si;

	memlab_config_init(&cfg);
	cfg.tlb.nopcid = 1;
	ASSERT((m = machine_with(&cfg)) && (a = spawn(m)) && (b = spawn(m)));
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(memlab_touch(a, 0x555555554000ull, 1, 'r', &si));
		ASSERT_OK(memlab_touch(b, 0x555555554000ull, 1, 'r', &si));
	}
	ASSERT_EQ(cpu_of(m, 0)->st.switch_flushes, 6);
	ASSERT_EQ(cpu_of(m, 0)->loaded_mm_asid, 0);
	memlab_destroy(m);
}

/* ===================== flushes ===================== */

/* munmap: one page is an INVLPG; 40 pages (over 33) flush the whole ASID. */
TEST(flush_munmap)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	uint64_t one, all;
	int si;

	ASSERT(t);
	ASSERT_OK(map_region(t, 64));
	one = cpu_stat_flush_one(m, 0);
	all = cpu_stat_flush_all(m, 0);
	ASSERT_OK(memlab_munmap(t, P(10), PG));
	ASSERT_EQ(cpu_stat_flush_one(m, 0), one + 1);
	ASSERT(!resident(m, 2, P(10)) && !resident(m, 5, P(10)));
	ASSERT(resident(m, 5, P(11)));
	ASSERT_EQ(memlab_touch(t, P(10), 1, 'r', &si), -MEMLAB_EFAULT);
	ASSERT_EQ(si, MEMLAB_SEGV_MAPERR);
	ASSERT_OK(memlab_munmap(t, P(20), 40 * PG));
	ASSERT_EQ(cpu_stat_flush_all(m, 0), all + 1);
	ASSERT(!resident(m, 5, P(11)));	/* the whole ASID went */
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* mprotect read-only: the cached writable entry goes; the write faults. */
TEST(flush_mprotect)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	uint64_t one;
	int si;

	ASSERT(t);
	ASSERT_OK(map_region(t, 4));
	one = cpu_stat_flush_one(m, 0);
	ASSERT_OK(memlab_mprotect(t, P(1), 2 * PG, MEMLAB_PROT_READ));
	ASSERT_EQ(cpu_stat_flush_one(m, 0), one + 2);
	ASSERT_EQ(memlab_access(t, P(1), 1, 'w', "z", &si), -MEMLAB_EFAULT);
	ASSERT_EQ(si, MEMLAB_SEGV_ACCERR);
	ASSERT_OK(memlab_access(t, P(0), 1, 'w', "z", &si));	/* outside: untouched */
	ASSERT_CHECK(m);
	/* the same protection again changes nothing and flushes nothing */
	one = cpu_stat_flush_one(m, 0);
	ASSERT_OK(memlab_mprotect(t, P(1), 2 * PG, MEMLAB_PROT_READ));
	ASSERT_EQ(cpu_stat_flush_one(m, 0), one);
	memlab_destroy(m);
}

/* mremap moves the entries: the old address is flushed and unmapped. */
TEST(flush_mremap)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	uint64_t to = REGION + (64ull << 20), got, one;
	char b[4];
	int si;

	ASSERT(t);
	ASSERT_OK(map_region(t, 4));
	one = cpu_stat_flush_one(m, 0);
	ASSERT_OK(memlab_mremap(t, REGION, 4 * PG, 4 * PG,
				MEMLAB_MREMAP_MAYMOVE | MEMLAB_MREMAP_FIXED, to, &got));
	ASSERT_EQ(got, to);
	ASSERT_EQ(cpu_stat_flush_one(m, 0), one + 4);	/* one PMD extent of 4 pages */
	ASSERT(!resident(m, 2, P(0)) && !resident(m, 5, P(0)));
	ASSERT_EQ(memlab_touch(t, P(0), 1, 'r', &si), -MEMLAB_EFAULT);
	ASSERT_OK(memlab_access(t, to + 2 * PG, 1, 'r', b, &si));
	ASSERT_EQ(b[0], 'c');
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** fork write-protects the parent (flush_tlb_mm); the parent's write
** then copies the page (wp_page_copy, flush_tlb_page): the child keeps
** the old bytes.  Without the flushes the write would go through the
** cached writable entry into the shared frame.
*/
TEST(flush_fork_and_cow)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL, *child;
	uint64_t all, one;
	char b;
	int si;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	all = cpu_stat_flush_all(m, 0);
	ASSERT_OK(memlab_fork(t, &child));
	ASSERT_EQ(cpu_stat_flush_all(m, 0), all + 1);	/* flush_tlb_mm(oldmm) */
	one = cpu_stat_flush_one(m, 0);
	ASSERT_OK(memlab_access(t, P(0), 1, 'w', "Z", &si));
	ASSERT_EQ(cpu_stat_flush_one(m, 0), one + 1);	/* COW: flush_tlb_page */
	ASSERT_OK(memlab_access(child, P(0), 1, 'r', &b, &si));
	ASSERT_EQ(b, 'a');
	ASSERT_OK(memlab_access(t, P(0), 1, 'r', &b, &si));
	ASSERT_EQ(b, 'Z');
	ASSERT_CHECK(m);
	memlab_task_exit(child);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* exit: the mm is flushed and no CPU keeps it loaded. */
TEST(flush_exit)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL, *u;
	struct memlab_tlb_cpu_stats st;

	ASSERT(t && (u = spawn(m)));
	ASSERT_OK(map_region(t, 8));
	memlab_task_exit(t);
	ASSERT_OK(memlab_tlb_cpu_stats(m, 0, &st));
	ASSERT_EQ(st.loaded_pid, 0);	/* init_mm */
	ASSERT_EQ(st.lazy, 0);
	ASSERT_CHECK(m);
	ASSERT_OK(map_region(u, 8));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* ===================== two CPUs ===================== */

/*
** A task runs on CPU 0, moves to CPU 1 (CPU 0 goes lazy, still in the
** mm's cpumask).  munmap of one page of two keeps the page table: the
** shootdown is counted but a lazy CPU gets no IPI; its slot is behind
** and is flushed when the task comes back.  munmap of the last page
** frees the tables: now the IPI reaches CPU 0, which leaves the mm.
*/
TEST(shootdown_migrated_task)
{
	memlab_machine *m = machine(2);
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_tlb_cpu_stats s0, s1;
	int si;

	ASSERT(t);
	ASSERT_EQ(memlab_task_cpu(t), 0);
	ASSERT_OK(map_region(t, 2));
	ASSERT_OK(memlab_task_run_on(t, 1));
	ASSERT_EQ(memlab_task_run_on(t, 2), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_touch(t, P(0), PG * 2, 'r', &si));
	ASSERT_EQ(t->mm->context.cpumask, 3);
	ASSERT_OK(memlab_tlb_cpu_stats(m, 0, &s0));
	ASSERT(s0.lazy);
	ASSERT(resident(m, 2, P(1)));		/* CPU 0 still caches the page */

	ASSERT_OK(memlab_munmap(t, P(1), PG));
	ASSERT_OK(memlab_tlb_cpu_stats(m, 0, &s0));
	ASSERT_OK(memlab_tlb_cpu_stats(m, 1, &s1));
	ASSERT_EQ(s1.nr_tlb_remote_flush, 1);
	ASSERT_EQ(s0.nr_tlb_remote_flush_received, 0);	/* lazy: no IPI */
	ASSERT_EQ(s1.nr_tlb_local_flush_one, 1);
	ASSERT(resident(m, 2, P(1)));		/* stale, but its slot is behind */
	ASSERT_CHECK(m);

	ASSERT_OK(memlab_task_run_on(t, 0));	/* back: flushed at the switch */
	ASSERT_EQ(memlab_touch(t, P(1), 1, 'r', &si), -MEMLAB_EFAULT);
	ASSERT(!resident(m, 2, P(1)));
	ASSERT_OK(memlab_task_run_on(t, 1));
	ASSERT_OK(memlab_touch(t, P(0), 1, 'r', &si));

	ASSERT_OK(memlab_munmap(t, P(0), PG));	/* the tables go: IPI to every CPU of the mask */
	ASSERT_OK(memlab_tlb_cpu_stats(m, 0, &s0));
	ASSERT_OK(memlab_tlb_cpu_stats(m, 1, &s1));
	ASSERT_EQ(s1.nr_tlb_remote_flush, 2);
	ASSERT_EQ(s0.nr_tlb_remote_flush_received, 1);
	ASSERT_EQ(s0.loaded_pid, 0);		/* the lazy CPU switched to init_mm */
	ASSERT_EQ(t->mm->context.cpumask & 3, 3);	/* it stays in the mask until... */
	ASSERT_OK(memlab_fork(t, &(memlab_task *){ NULL }));	/* ...an IPI finds it elsewhere */
	ASSERT_EQ(t->mm->context.cpumask, 2);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* Tasks are given CPUs round robin. */
TEST(cpus_round_robin)
{
	memlab_machine *m = machine(3);
	memlab_task *t[4], *child;

	ASSERT(m);
	for (int i = 0; i < 4; i++) {
		ASSERT((t[i] = spawn(m)));
		ASSERT_EQ(memlab_task_cpu(t[i]), i % 3);
	}
	ASSERT_OK(memlab_fork(t[0], &child));
	ASSERT_EQ(memlab_task_cpu(child), 1);
	memlab_destroy(m);
}

/* ===================== huge pages ===================== */

/*
** No THP yet: a 2M leaf is installed by hand (pt_map at the PMD level).
** The first access fills "L1d 2M" and the STLB (shared 4K/2M); a second
** address in the same 2M page hits level 1.
*/
TEST(huge_page_entries)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct pt_prot prot = { .present = true, .write = true, .user = true, .accessed = true,
				.dirty = true, .huge = true };
	uint64_t pfn, a;
	char b;
	int si;

	ASSERT(t);
	ASSERT_OK(memlab_mmap(t, REGION, 4ull << 20, RW, ANON_FIXED, NULL, 0, &a));
	ASSERT_OK(memlab_alloc_pages(m, 9, MEMLAB_GFP_KERNEL, &pfn));
	ASSERT_OK(pt_map(m, t->mm, REGION, 1, pfn, prot));
	ASSERT_OK(memlab_access(t, REGION + 12345, 1, 'r', &b, &si));
	ASSERT_STREQ(cpu_of(m, 0)->tlb[3].desc.name, "L1d 2M");
	ASSERT_EQ(cpu_of(m, 0)->tlb[3].st.fills, 1);
	ASSERT_EQ(cpu_of(m, 0)->tlb[5].st.fills, 1);
	ASSERT_EQ(touch(m, t, 300), 'h');		/* 1.2M further, the same 2M page */
	ASSERT_EQ(tlb_check(m, print_violation, NULL), 0);
	/* change the leaf behind the TLB's back: the 2M entry is stale */
	ASSERT_OK(pt_set(m, t->mm, REGION, pfn + 512, prot, NULL));
	ASSERT(tlb_check(m, NULL, NULL) > 0);
	ASSERT_OK(pt_clear(m, t->mm, REGION, NULL));
	memlab_tlb_flush_all(m);
	ASSERT_EQ(tlb_check(m, print_violation, NULL), 0);
	ASSERT_OK(memlab_free_pages(m, pfn, 9));
	memlab_destroy(m);
}

/* ===================== stale entries ===================== */

/* The PTE of va (its table frame and index) from the walk. */
static uint64_t pte_paddr(memlab_task *t, uint64_t va, uint64_t *entry)
{
	struct memlab_walk w;

	if (memlab_translate(t, va, &w))
		return 0;
	*entry = w.entry[w.levels - 1];
	return (w.table_pfn[w.levels - 1] << 12) + ((va >> 12) & 511) * 8;
}

/* A PTE rewritten without a flush: memlab_check names the stale entry. */
TEST(check_catches_stale_entry)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	uint64_t pa, e, e0, other;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	ASSERT((pa = pte_paddr(t, P(0), &e0)) != 0);
	ASSERT(pte_paddr(t, P(1), &other) != 0);
	e = (e0 & ~X86_PTE_PFN_MASK) | (other & X86_PTE_PFN_MASK);
	ASSERT_OK(memlab_write_phys(m, pa, &e, 8));
	violations[0] = '\0';
	ASSERT(memlab_check(m, keep_violation, NULL) > 0);
	if (!strstr(violations, "tlb: cpu 0 L1d: stale entry for va 0x7e0000000000"))
		TEST_FAIL("no stale L1d entry reported:\n%s", violations);
	ASSERT_OK(memlab_write_phys(m, pa, &e0, 8));	/* put it back */
	ASSERT_CHECK(m);
	/* a PTE made read-only without a flush: the cached writable entry is more permissive */
	e = e0 & ~_PAGE_RW;
	ASSERT_OK(memlab_write_phys(m, pa, &e, 8));
	violations[0] = '\0';
	ASSERT(memlab_check(m, keep_violation, NULL) > 0);
	if (!strstr(violations, "more permissive than its PTE (write cached"))
		TEST_FAIL("no permission violation reported:\n%s", violations);
	ASSERT_OK(memlab_write_phys(m, pa, &e0, 8));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* A batched flush (TTU_BATCH_FLUSH) still owed between calls is reported. */
TEST(check_catches_owed_batch_flush)
{
	memlab_machine *m = machine(2);

	ASSERT(m);
	ASSERT_CHECK(m);
	m->tlb->ubc.flush_required = true;
	m->tlb->ubc.cpumask = 2;
	violations[0] = '\0';
	ASSERT_EQ(memlab_check(m, keep_violation, NULL), 1);
	if (!strstr(violations, "a batched flush (TTU_BATCH_FLUSH) is still owed"))
		TEST_FAIL("no owed flush reported:\n%s", violations);
	try_to_unmap_flush(m);		/* the flush pays it */
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* A tag or a count that disagrees with the entries is reported, and put back passes. */
TEST(check_catches_tlb_counts)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct tlb *tl;
	uint64_t i = 0;
	uint8_t tag;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	tl = &cpu_of(m, 0)->tlb[2];		/* L1d */
	ASSERT_STREQ(tl->desc.name, "L1d");
	ASSERT_EQ(tl->nr_level[0], 2);
	while (!tl->key[i])
		i++;
	tag = tl->tag[i / tl->ways * tl->tag_stride + i % tl->ways];
	ASSERT(tag & 0x80);
	tl->tag[i / tl->ways * tl->tag_stride + i % tl->ways] = 0;
	tl->nr_level[0]++;
	violations[0] = '\0';
	ASSERT_EQ(memlab_check(m, keep_violation, NULL), 2);
	if (!strstr(violations, "tlb: cpu 0 L1d: counts 3 valid PTE entries, holds 2") ||
	    !strstr(violations, "has tag 0, its key"))
		TEST_FAIL("the corrupt tag and count were not both reported:\n%s", violations);
	tl->tag[i / tl->ways * tl->tag_stride + i % tl->ways] = tag;
	tl->nr_level[0]--;
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** A hint (the copy of a level-1 entry a repeated hit uses) dies with its
** entry: after mprotect's flush of the page the access faults, and a
** hint whose entry changed under it is what memlab_check reports.
*/
TEST(hint_dies_with_its_entry)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct tlb_cpu *c;
	struct tlb_hint *h;
	uint64_t pfn;
	char b;
	int si;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	ASSERT_OK(memlab_access(t, P(0), 1, 'r', &b, &si));	/* a level-1 hit: the hint */
	c = cpu_of(m, 0);
	h = &c->hint[(P(0) >> 12) & (TLB_HINTS - 1)];
	ASSERT_EQ(h->gen, c->hint_gen);
	ASSERT_EQ(h->page, P(0) >> 12);
	ASSERT_OK(memlab_mprotect(t, P(0), PG, MEMLAB_PROT_NONE));
	ASSERT(h->gen != c->hint_gen);
	ASSERT_EQ(memlab_access(t, P(0), 1, 'r', &b, &si), -MEMLAB_EFAULT);
	ASSERT_EQ(si, MEMLAB_SEGV_ACCERR);
	ASSERT_OK(memlab_access(t, P(1), 1, 'r', &b, &si));
	ASSERT_OK(memlab_access(t, P(1), 1, 'r', &b, &si));
	h = &c->hint[(P(1) >> 12) & (TLB_HINTS - 1)];
	ASSERT_EQ(h->gen, c->hint_gen);
	pfn = h->pfn;
	h->pfn = pfn + 1;				/* as if the entry had changed */
	violations[0] = '\0';
	ASSERT(memlab_check(m, keep_violation, NULL) > 0);
	if (!strstr(violations, "outlived its L1d entry"))
		TEST_FAIL("no stale hint reported:\n%s", violations);
	h->pfn = pfn;
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/*
** The stale read itself: page 0's PTE now points at page 1's frame, but
** the TLB still holds the old translation, so the read returns page 0's
** old bytes until the TLB is flushed.
*/
TEST(stale_read_through_tlb)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	uint64_t pa, e, e0, other;
	char b;
	int si;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	ASSERT_OK(memlab_access(t, P(0), 1, 'r', &b, &si));
	ASSERT_EQ(b, 'a');
	ASSERT((pa = pte_paddr(t, P(0), &e0)) && pte_paddr(t, P(1), &other));
	e = (e0 & ~X86_PTE_PFN_MASK) | (other & X86_PTE_PFN_MASK);
	ASSERT_OK(memlab_write_phys(m, pa, &e, 8));
	ASSERT_OK(memlab_access(t, P(0), 1, 'r', &b, &si));
	ASSERT_EQ(b, 'a');			/* the stale translation */
	memlab_tlb_flush_all(m);
	ASSERT_OK(memlab_access(t, P(0), 1, 'r', &b, &si));
	ASSERT_EQ(b, 'b');			/* the page tables' */
	ASSERT_OK(memlab_write_phys(m, pa, &e0, 8));
	memlab_tlb_flush_all(m);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* A page-walk cache entry whose table was replaced behind its back. */
TEST(check_catches_stale_pwc)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct memlab_walk w;
	uint64_t pde_pa, pde, bad;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	ASSERT_OK(memlab_translate(t, P(0), &w));
	/* the PMD entry: read from the PMD table (levels: PGD, PUD, PMD, PTE) */
	pde = w.entry[2];
	pde_pa = (w.table_pfn[2] << 12) + ((P(0) >> 21) & 511) * 8;
	bad = (pde & ~X86_PTE_PFN_MASK) | ((w.table_pfn[3] + 1) << 12);
	ASSERT_OK(memlab_write_phys(m, pde_pa, &bad, 8));
	violations[0] = '\0';
	ASSERT(memlab_check(m, keep_violation, NULL) > 0);
	if (!strstr(violations, "stale page-walk cache entry for the PMD entry"))
		TEST_FAIL("no stale PWC entry reported:\n%s", violations);
	ASSERT_OK(memlab_write_phys(m, pde_pa, &pde, 8));
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* ===================== page-walk caches ===================== */

/* A second page under the same PMD walks one level: the PDE cache hit. */
TEST(pwc_shortens_walks)
{
	memlab_machine *m = machine(1);
	memlab_task *t = m ? spawn(m) : NULL;
	struct tlb_cpu *c;
	uint64_t walks, refs, pde_hits;

	ASSERT(t);
	ASSERT_OK(map_region(t, 2));
	c = cpu_of(m, 0);
	memlab_tlb_flush_all(m);
	walks = c->st.walks;
	refs = c->st.walk_mem_refs;
	pde_hits = c->st.pwc_hits[1];
	ASSERT_EQ(touch(m, t, 0), 'm');
	ASSERT_EQ(c->st.walk_mem_refs - refs, 4);	/* PGD, PUD, PMD, PTE */
	ASSERT_EQ(touch(m, t, 1), 'm');
	ASSERT_EQ(c->st.walks - walks, 2);
	ASSERT_EQ(c->st.walk_mem_refs - refs, 5);	/* then the PTE only */
	ASSERT_EQ(c->st.pwc_hits[1], pde_hits + 1);
	memlab_destroy(m);
}

/* ===================== arm64 ===================== */

/* 8-bit ASIDs: the 256th mm rolls the generation over; check stays clean. */
TEST(arm64_asid_rollover)
{
	struct memlab_config cfg;
	memlab_machine *m;
	memlab_task *t[300];
	struct tlb_cpu *c;
	int si;

	struct memlab_vma_info v;

	memlab_config_init(&cfg);
	cfg.arch = MEMLAB_ARCH_ARM64;
	cfg.ram = 512ull << 20;
	cfg.tlb.asid_bits = 8;
	ASSERT((m = machine_with(&cfg)));
	c = cpu_of(m, 0);
	for (int i = 0; i < 260; i++) {
		ASSERT((t[i] = spawn(m)));
		memlab_vmas(t[i], &v, 1);	/* the image's first page */
		ASSERT_OK(memlab_touch(t[i], v.start, 1, 'r', &si));
		if (i < 255)
			ASSERT_EQ(c->loaded_mm_asid, i + 1);
	}
	ASSERT_EQ(c->st.asid_rollovers, 1);
	ASSERT_CHECK(m);
	/* the first mm lost its ASID: it gets one of the new generation */
	ASSERT_OK(memlab_touch(t[0], v.start, 1, 'r', &si));
	ASSERT_EQ(t[0]->mm->context.id >> 8, 2);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* arm64 flushes are broadcast: the other CPU's entry goes without an IPI. */
TEST(arm64_broadcast)
{
	struct memlab_config cfg;
	memlab_machine *m;
	memlab_task *t;
	struct memlab_tlb_cpu_stats s0, s1;
	int si;

	memlab_config_init(&cfg);
	cfg.arch = MEMLAB_ARCH_ARM64;
	cfg.cpus = 2;
	ASSERT((m = machine_with(&cfg)) && (t = spawn(m)));
	ASSERT_OK(map_region(t, 2));
	ASSERT(resident(m, 1, P(1)));	/* "L1d" on arm64 is structure 1 */
	ASSERT_OK(memlab_task_run_on(t, 1));
	ASSERT_OK(memlab_munmap(t, P(1), PG));
	ASSERT(!resident(m, 1, P(1)));
	ASSERT_OK(memlab_tlb_cpu_stats(m, 0, &s0));
	ASSERT_OK(memlab_tlb_cpu_stats(m, 1, &s1));
	ASSERT_EQ(s0.nr_tlb_remote_flush_received + s1.nr_tlb_remote_flush, 0);
	ASSERT(s1.tlbi_broadcast > 0);
	ASSERT_EQ(memlab_touch(t, P(1), 1, 'r', &si), -MEMLAB_EFAULT);
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* ===================== configuration ===================== */

TEST(config_refused)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	cfg.report = print_violation;
	cfg.cpus = 65;
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	cfg.cpus = 1;
	cfg.tlb.nr = 1;
	cfg.tlb.tlb[0] = (struct memlab_tlb_desc){ "X", 1, MEMLAB_TLB_DATA, 1536, 7,
						   MEMLAB_TLB_LRU, MEMLAB_TLB_SIZE(12) };
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);	/* 7 does not divide 1536 */
	cfg.tlb.tlb[0].ways = 12;
	cfg.tlb.tlb[0].page_sizes = MEMLAB_TLB_SIZE(14);	/* 16K on x86 */
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	cfg.tlb.tlb[0].page_sizes = MEMLAB_TLB_SIZE(12);
	cfg.tlb.tlb[0].policy = 9;
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	cfg.tlb.tlb[0].policy = MEMLAB_TLB_PLRU;
	cfg.tlb.pwc_set = 1;
	cfg.tlb.pwc[4] = 2;	/* no fifth level with 48-bit VAs */
	ASSERT_EQ(memlab_create(&cfg, &m), -MEMLAB_EINVAL);
	cfg.tlb.pwc[4] = 0;
	ASSERT_OK(memlab_create(&cfg, &m));
	memlab_destroy(m);
	ASSERT_EQ(memlab_tlb_default_config(MEMLAB_ARCH_ARM64, 65536, 42, &cfg.tlb), 0);
	ASSERT_EQ(cfg.tlb.tlb[2].page_sizes,	/* 64K, 2M (32 contiguous PTEs), 512M */
		  MEMLAB_TLB_SIZE(16) | MEMLAB_TLB_SIZE(21) | MEMLAB_TLB_SIZE(29));
	ASSERT_EQ(cfg.tlb.pwc[1], 32);
	ASSERT_EQ(cfg.tlb.pwc[2], 0);	/* 2 levels: only the PMD entries */
}

/* A machine without TLBs walks every time and stays consistent. */
TEST(tlb_disabled)
{
	struct memlab_config cfg;
	memlab_machine *m;
	memlab_task *t;

	memlab_config_init(&cfg);
	cfg.tlb.disabled = 1;
	ASSERT((m = machine_with(&cfg)) && (t = spawn(m)));
	ASSERT_OK(map_region(t, 4));
	ASSERT_EQ(memlab_tlb_stats(m, NULL, 0), 0);
	ASSERT_EQ(touch(m, t, 0), 'm');
	ASSERT_EQ(touch(m, t, 0), 'm');
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

/* The report: a header, a line per structure and level, two per CPU. */
TEST(report_text)
{
	memlab_machine *m = machine(2);
	char *text;
	size_t len;

	ASSERT(m);
	ASSERT_OK(memlab_tlb_report(m, &text, &len));
	ASSERT(strncmp(text, "cpu  tlb", 8) == 0);
	ASSERT(strstr(text, "  1  STLB        2 unified    1536    12   128 lru    4K,2M"));
	ASSERT(strstr(text, "cpu 1: 0 page walks"));
	memlab_free_text(m, text);
	memlab_destroy(m);
}

int main(void)
{
	RUN(set_index_power_of_two);
	RUN(set_index_three_sets);
	RUN(policy_lru_fifo_lfu);
	RUN(policy_plru_4way);
	RUN(policy_plru_12way);
	RUN(policy_random);
	RUN(policy_random_deterministic);
	RUN(compulsory_vs_capacity);
	RUN(stlb_hit_refills_l1);
	RUN(asid_seven_mms);
	RUN(asid_nopcid);
	RUN(flush_munmap);
	RUN(flush_mprotect);
	RUN(flush_mremap);
	RUN(flush_fork_and_cow);
	RUN(flush_exit);
	RUN(shootdown_migrated_task);
	RUN(cpus_round_robin);
	RUN(huge_page_entries);
	RUN(check_catches_stale_entry);
	RUN(check_catches_owed_batch_flush);
	RUN(check_catches_tlb_counts);
	RUN(hint_dies_with_its_entry);
	RUN(stale_read_through_tlb);
	RUN(check_catches_stale_pwc);
	RUN(pwc_shortens_walks);
	RUN(arm64_asid_rollover);
	RUN(arm64_broadcast);
	RUN(config_refused);
	RUN(tlb_disabled);
	RUN(report_text);
	return test_summary();
}
