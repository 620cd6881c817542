/*
** testlib.h -- a tiny test harness for the C tests of the core.
**
** Each test program defines TEST(name) functions and lists them in main()
** with RUN(name).  ASSERT_* report file:line and the values, mark the test
** failed and return from it.  main() returns test_summary().
*/
#ifndef MEMLAB_TESTLIB_H
#define MEMLAB_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_count, test_passed_count, test_current_failed;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                       \
	do {                                                            \
		test_current_failed = 0;                                \
		test_##name();                                          \
		if (test_current_failed) {                              \
			test_failed_count++;                            \
			printf("FAIL %s\n", #name);                     \
		} else {                                                \
			test_passed_count++;                            \
			printf("ok   %s\n", #name);                     \
		}                                                       \
	} while (0)

#define TEST_FAIL(...)                                                  \
	do {                                                            \
		printf("  %s:%d: ", __FILE__, __LINE__);                \
		printf(__VA_ARGS__);                                    \
		printf("\n");                                           \
		test_current_failed = 1;                                \
		return;                                                 \
	} while (0)

#define ASSERT(cond)                                                    \
	do {                                                            \
		if (!(cond))                                            \
			TEST_FAIL("assertion failed: %s", #cond);       \
	} while (0)

#define ASSERT_EQ(a, b)                                                 \
	do {                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);     \
		if (a_ != b_)                                           \
			TEST_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_); \
	} while (0)

#define ASSERT_STREQ(a, b)                                              \
	do {                                                            \
		const char *a_ = (a), *b_ = (b);                        \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                  \
			TEST_FAIL("%s == %s:\n---\n%s\n---\n%s\n---", #a, #b, \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)

#define ASSERT_OK(expr) ASSERT_EQ((expr), 0)

/*
** A host allocator hook (struct memlab_config's alloc) with a leak count
** and an armed failure: countdown allocations succeed, the next fails
** (failed is set), and so do all after it until countdown is set again.
*/
struct counting_alloc {
	long live_blocks;
	long long live_bytes;
	long countdown;		/* < 0: never fail; 0: fail the next allocation */
	int failed;
};

static inline void *counting_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct counting_alloc *c = ud;

	if (nsize == 0) {
		if (ptr) {
			c->live_blocks--;
			c->live_bytes -= (long long)osize;
		}
		free(ptr);
		return NULL;
	}
	if (c->countdown == 0) {
		c->failed = 1;
		return NULL;
	}
	if (c->countdown > 0)
		c->countdown--;
	ptr = realloc(ptr, nsize);
	if (ptr) {
		c->live_blocks += osize ? 0 : 1;
		c->live_bytes += (long long)nsize - (long long)osize;
	}
	return ptr;
}

#ifdef MEMLAB_H
/*
** A configuration for arch with the defaults but for what is given
** (page_size and ram 0: the defaults; va_bits 0: the arch's default).
*/
static inline void test_config(struct memlab_config *cfg, int arch, uint32_t page_size,
			       uint32_t va_bits, uint64_t ram)
{
	memlab_config_init(cfg);
	cfg->arch = arch;
	if (page_size)
		cfg->page_size = page_size;
	cfg->va_bits = va_bits;
	if (ram)
		cfg->ram = ram;
}

/* memlab_create() of cfg: the machine, or NULL. */
static inline memlab_machine *test_create(const struct memlab_config *cfg)
{
	memlab_machine *m = NULL;

	return memlab_create(cfg, &m) ? NULL : m;
}

/*
** memlab_check()'s violations, one line each in check_reports:
** check_count(m) runs the check and returns how many it found,
** check_finds(m, text) whether one of them contains text.
*/
static char check_reports[8192];

static inline void check_collect(void *ud, const char *msg)
{
	size_t len = strlen(check_reports);

	(void)ud;
	snprintf(check_reports + len, sizeof(check_reports) - len, "%s\n", msg);
}

static inline int check_count(memlab_machine *m)
{
	check_reports[0] = '\0';
	return memlab_check(m, check_collect, NULL);
}

static inline int check_finds(memlab_machine *m, const char *text)
{
	return check_count(m) > 0 && strstr(check_reports, text) != NULL;
}
#endif

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count ? 1 : 0;
}

#endif
