/*
** bench_page_alloc.c -- how fast the simulated page allocator is.
**
**   bench_page_alloc [--json] [--time SECONDS] [--ram SIZE_MB]
**
** Three workloads through the public C API, each timed for about --time
** seconds (default 0.5) of wall clock after a warm-up:
**
**   order0        alloc_pages(GFP_KERNEL, 0) then free it at once
**   order0_batch  allocate 1000 order-0 pages, then free the 1000
**   mixed         a pool of 2048 live blocks of orders 0..3 (weighted
**                 toward 0) and mixed migrate types; each step frees a
**                 random live block and allocates a new one
**
** For each it prints alloc+free pairs per second and nanoseconds per pair;
** --json prints one JSON object instead (read by bench_page_alloc.lua).
** The target is an order-0 pair under 50 ns.  Progress goes to stderr.
** Numbers depend on the host: this is a measurement, never a test.
*/
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memlab/memlab.h"

#define TARGET_NS	50.0
#define BATCH		1000
#define POOL		2048

struct result {
	const char *name;	/* key in the JSON output */
	const char *what;	/* row label in the table */
	uint64_t pairs;
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "bench_page_alloc: %s: %s\n", what,
		memlab_strerror(rc));
	exit(1);
}

/* xorshift64*: the mixed workload is the same sequence on every run. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* ---- the workloads: each runs `rounds` rounds, returns pairs done ---- */

static uint64_t run_order0(memlab_machine *m, uint64_t rounds)
{
	uint64_t i, pfn;
	int rc;

	for (i = 0; i < rounds; i++) {
		if ((rc = memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL, &pfn)) != 0)
			fail("order-0 alloc", rc);
		memlab_free_pages(m, pfn, 0);
	}
	return rounds;
}

static uint64_t run_batch(memlab_machine *m, uint64_t rounds)
{
	static uint64_t pfns[BATCH];
	uint64_t r;
	int i, rc;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < BATCH; i++)
			if ((rc = memlab_alloc_pages(m, 0, MEMLAB_GFP_KERNEL,
						     &pfns[i])) != 0)
				fail("batch alloc", rc);
		for (i = 0; i < BATCH; i++)
			memlab_free_pages(m, pfns[i], 0);
	}
	return rounds * BATCH;
}

struct pool {
	uint64_t pfn[POOL];
	unsigned order[POOL];
	unsigned n;
	uint64_t rng;
};

static const uint32_t mixed_gfp[] = {
	MEMLAB_GFP_KERNEL,
	MEMLAB_GFP_HIGHUSER_MOVABLE,
	MEMLAB_GFP_KERNEL | MEMLAB___GFP_RECLAIMABLE,
};

/* Orders 0..3 with weights 8:4:2:1 (about 53 % order 0). */
static unsigned mixed_order(uint64_t r)
{
	unsigned x = (unsigned)(r % 15);

	return x < 8 ? 0 : x < 12 ? 1 : x < 14 ? 2 : 3;
}

static void pool_alloc(memlab_machine *m, struct pool *p, unsigned slot)
{
	uint64_t r = next_random(&p->rng);
	unsigned order = mixed_order(r);
	int rc = memlab_alloc_pages(m, order, mixed_gfp[(r >> 8) % 3],
				    &p->pfn[slot]);

	if (rc != 0)
		fail("mixed alloc", rc);
	p->order[slot] = order;
}

static struct pool the_pool;

static void pool_fill(memlab_machine *m)
{
	the_pool.rng = 0x5eed;
	for (the_pool.n = 0; the_pool.n < POOL; the_pool.n++)
		pool_alloc(m, &the_pool, the_pool.n);
}

static void pool_drain(memlab_machine *m)
{
	while (the_pool.n) {
		the_pool.n--;
		memlab_free_pages(m, the_pool.pfn[the_pool.n],
				  the_pool.order[the_pool.n]);
	}
}

static uint64_t run_mixed(memlab_machine *m, uint64_t rounds)
{
	struct pool *p = &the_pool;
	uint64_t i;
	unsigned slot;

	for (i = 0; i < rounds; i++) {
		slot = (unsigned)(next_random(&p->rng) % POOL);
		memlab_free_pages(m, p->pfn[slot], p->order[slot]);
		pool_alloc(m, p, slot);
	}
	return rounds;
}

/*
** Time fn: double the rounds until one run takes a tenth of the budget
** (the warm-up), then run chunks of that size until the budget is spent.
*/
static void measure(memlab_machine *m, uint64_t (*fn)(memlab_machine *, uint64_t),
		    double budget, struct result *res)
{
	uint64_t rounds = 1;
	double t0, t;

	fprintf(stderr, "bench_page_alloc: %s ...\n", res->what);
	for (;;) {
		t0 = now();
		fn(m, rounds);
		if (now() - t0 >= budget / 10 || rounds >= (1ull << 40))
			break;
		rounds *= 2;
	}
	res->pairs = 0;
	res->seconds = 0;
	while (res->seconds < budget) {
		t0 = now();
		res->pairs += fn(m, rounds);
		t = now() - t0;
		res->seconds += t;
	}
}

static double ns_per_pair(const struct result *r)
{
	return r->seconds * 1e9 / (double)r->pairs;
}

static void print_table(const struct result *res, int n, const char *ram)
{
	int i;

	printf("memlab page allocator, C core (x86_64, %s RAM, 4 KiB pages)\n", ram);
	printf("%-36s %14s %10s\n", "workload", "pairs/s", "ns/pair");
	for (i = 0; i < n; i++)
		printf("%-36s %14.0f %10.1f\n", res[i].what,
		       (double)res[i].pairs / res[i].seconds,
		       ns_per_pair(&res[i]));
	printf("target: an order-0 alloc+free pair under %.0f ns: %s (%.1f ns)\n",
	       TARGET_NS, ns_per_pair(&res[0]) < TARGET_NS ? "met" : "NOT met",
	       ns_per_pair(&res[0]));
}

static void print_json(const struct result *res, int n)
{
	int i;

	printf("{");
	for (i = 0; i < n; i++)
		printf("%s\"%s\":{\"pairs\":%" PRIu64 ",\"seconds\":%.6f,"
		       "\"ns_per_pair\":%.3f}", i ? "," : "", res[i].name,
		       res[i].pairs, res[i].seconds, ns_per_pair(&res[i]));
	printf(",\"target_ns\":%.1f}\n", TARGET_NS);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_page_alloc [--json] [--time SECONDS] "
		"[--ram MEGABYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct result res[] = {
		{ "order0", "order-0 alloc+free", 0, 0 },
		{ "order0_batch", "order-0, 1000 allocs then 1000 frees", 0, 0 },
		{ "mixed", "mixed orders 0-3, pool of 2048", 0, 0 },
	};
	struct memlab_config cfg;
	memlab_machine *m;
	double budget = 0.5;
	unsigned long ram_mb = 256;
	char ram[32];
	int json = 0, i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc)
			budget = atof(argv[++i]);
		else if (strcmp(argv[i], "--ram") == 0 && i + 1 < argc)
			ram_mb = strtoul(argv[++i], NULL, 10);
		else
			usage();
	}
	if (budget <= 0 || ram_mb < 64)
		usage();
	memlab_config_init(&cfg);
	cfg.ram = (uint64_t)ram_mb << 20;
	if ((rc = memlab_create(&cfg, &m)) != 0)
		fail("memlab_create", rc);

	measure(m, run_order0, budget, &res[0]);
	measure(m, run_batch, budget, &res[1]);
	pool_fill(m);
	measure(m, run_mixed, budget, &res[2]);
	pool_drain(m);
	if (memlab_check(m, NULL, NULL) != 0) {
		fprintf(stderr, "bench_page_alloc: memlab_check failed\n");
		return 1;
	}
	memlab_destroy(m);

	snprintf(ram, sizeof(ram), "%luM", ram_mb);
	if (json)
		print_json(res, 3);
	else
		print_table(res, 3, ram);
	return 0;
}
