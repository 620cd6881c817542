/*
** test_readahead.c -- the C API of readahead (core/readahead.c):
** memlab_disk_queue, memlab_file_ra, memlab_fadvise and memlab_mincore,
** bad arguments included, and what memlab_check() says of a page cache or
** a readahead state that went wrong.  The windows themselves are pinned
** by tests/lua/test_readahead.lua and compared with the host by
** tests/diff/diff_ra.c.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlab/memlab.h"
#include "mm.h"		/* the page cache is corrupted directly */
#include "testlib.h"

#define PG	4096ull

static char violations[8192];

static void keep_violation(void *ud, const char *msg)
{
	(void)ud;
	strncat(violations, msg, sizeof(violations) - strlen(violations) - 2);
	strcat(violations, "\n");
}

static void print_violation(void *ud, const char *msg)
{
	(void)ud;
	printf("  violation: %s\n", msg);
}

#define ASSERT_CHECK(m) ASSERT_EQ(memlab_check((m), print_violation, NULL), 0)

static uint64_t vmstat_of(memlab_machine *m, const char *name)
{
	uint64_t v = 0;

	memlab_vmstat_get(m, name, &v);
	return v;
}

static memlab_machine *machine(void)
{
	struct memlab_config cfg;
	memlab_machine *m = NULL;

	memlab_config_init(&cfg);
	cfg.ram = 128ull << 20;
	return memlab_create(&cfg, &m) ? NULL : m;
}

/* A file of n pages on the disk, nothing cached. */
static memlab_file *disk_file(memlab_machine *m, const char *path, unsigned n)
{
	static uint8_t buf[64 * 4096];
	memlab_file *f = NULL;

	memset(buf, 'x', sizeof(buf));
	if (memlab_file_create(m, path, 0, 1, &f))
		return NULL;
	for (unsigned i = 0; i < n; i += 64)
		if (memlab_file_load(f, i * PG, buf, (n - i < 64 ? n - i : 64) * PG))
			return NULL;
	return f;
}

TEST(disk_queue)
{
	memlab_machine *m = machine();
	struct memlab_disk_queue set = { -1, -1 }, get;
	memlab_file *f;

	ASSERT(m);
	ASSERT_OK(memlab_disk_queue(m, NULL, &get));
	ASSERT_EQ(get.read_ahead_kb, 128);
	ASSERT_EQ(get.max_sectors_kb, 1280);
	/* blk_validate_limits(): below 4 KiB refused, above the disk's clamped, 0 the default */
	set.max_sectors_kb = 3;
	set.read_ahead_kb = 512;
	ASSERT_EQ(memlab_disk_queue(m, &set, NULL), -MEMLAB_EINVAL);
	set.max_sectors_kb = -1;
	set.read_ahead_kb = -2;
	ASSERT_EQ(memlab_disk_queue(m, &set, NULL), -MEMLAB_EINVAL);
	set.read_ahead_kb = (int64_t)UINT32_MAX + 1;
	ASSERT_EQ(memlab_disk_queue(m, &set, NULL), -MEMLAB_EINVAL);
	ASSERT_OK(memlab_disk_queue(m, NULL, &get));
	ASSERT_EQ(get.read_ahead_kb, 128);	/* nothing changed */
	ASSERT_EQ(get.max_sectors_kb, 1280);
	set.read_ahead_kb = -1;
	set.max_sectors_kb = 40000;
	ASSERT_OK(memlab_disk_queue(m, &set, &get));
	ASSERT_EQ(get.max_sectors_kb, 32767);
	set.max_sectors_kb = 0;
	ASSERT_OK(memlab_disk_queue(m, &set, &get));
	ASSERT_EQ(get.max_sectors_kb, 1280);
	set.read_ahead_kb = 66;			/* whole pages: 64 KiB */
	set.max_sectors_kb = 4;
	ASSERT_OK(memlab_disk_queue(m, &set, &get));
	ASSERT_EQ(get.read_ahead_kb, 64);
	ASSERT_EQ(get.max_sectors_kb, 4);
	f = disk_file(m, "/data/a", 8);
	ASSERT(f);
	{
		struct memlab_file_ra ra;

		ASSERT_OK(memlab_file_ra(f, &ra));
		ASSERT_EQ(ra.ra_pages, 16);
		ASSERT_EQ(ra.prev_pos, -1);
		ASSERT_EQ(ra.size, 0);
	}
	memlab_destroy(m);
}

TEST(fadvise_arguments)
{
	memlab_machine *m = machine();
	memlab_file *f = m ? disk_file(m, "/data/b", 64) : NULL, *f2;
	struct memlab_file_ra ra;

	ASSERT(f);
	ASSERT_EQ(memlab_fadvise(f, 0, -1, MEMLAB_POSIX_FADV_WILLNEED), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_fadvise(f, 0, 0, 6), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_fadvise(f, 0, 0, -1), -MEMLAB_EINVAL);
	/*
	 * A negative offset is taken, as Linux takes it: nothing to read
	 * there, chunk after chunk (the window's limit above a 2 MiB chunk),
	 * and no index past the end that wraps to the start.
	 */
	{
		struct memlab_disk_queue big = { 8192, -1 };
		uint64_t cached = vmstat_of(m, "nr_file_pages");

		ASSERT_OK(memlab_disk_queue(m, &big, NULL));
		f2 = disk_file(m, "/data/b2", 2000);
		ASSERT(f2);
		ASSERT_OK(memlab_fadvise(f2, -(int64_t)PG, 0, MEMLAB_POSIX_FADV_WILLNEED));
		ASSERT_EQ(vmstat_of(m, "nr_file_pages"), cached);
		ASSERT_OK(memlab_fadvise(f2, 0, 0, MEMLAB_POSIX_FADV_WILLNEED));
		ASSERT_EQ(vmstat_of(m, "nr_file_pages"), cached + 2000);
		/* DONTNEED near INT64_MAX: the sum wraps as loff_t's does, nothing goes */
		ASSERT_OK(memlab_fadvise(f2, INT64_MAX, 0, MEMLAB_POSIX_FADV_DONTNEED));
		ASSERT_EQ(vmstat_of(m, "nr_file_pages"), cached + 2000);
		/* at -1: the first whole page is (-1 + 4095) >> 12, page 0: all go */
		ASSERT_OK(memlab_fadvise(f2, -1, 0, MEMLAB_POSIX_FADV_DONTNEED));
		ASSERT_EQ(vmstat_of(m, "nr_file_pages"), cached);
	}
	/* len 0 and a range past the end: to the end of the file */
	ASSERT_OK(memlab_fadvise(f, 60 * PG, 0, MEMLAB_POSIX_FADV_WILLNEED));
	ASSERT_OK(memlab_fadvise(f, 10 * PG, INT64_MAX, MEMLAB_POSIX_FADV_NOREUSE));
	ASSERT_OK(memlab_file_ra(f, &ra));
	ASSERT_EQ(ra.ra_pages, 32);	/* the disk's when it was created */
	ASSERT_OK(memlab_fadvise(f, 0, 0, MEMLAB_POSIX_FADV_SEQUENTIAL));
	ASSERT_OK(memlab_file_ra(f, &ra));
	ASSERT_EQ(ra.ra_pages, 4096);	/* twice the disk's now */
	ASSERT_EQ(ra.random, 0);
	ASSERT_OK(memlab_fadvise(f, 0, 0, MEMLAB_POSIX_FADV_RANDOM));
	ASSERT_OK(memlab_file_ra(f, &ra));
	ASSERT_EQ(ra.random, 1);
	ASSERT_EQ(ra.ra_pages, 4096);
	ASSERT_OK(memlab_fadvise(f, 0, 0, MEMLAB_POSIX_FADV_NORMAL));
	ASSERT_OK(memlab_file_ra(f, &ra));
	ASSERT_EQ(ra.random, 0);
	ASSERT_EQ(ra.ra_pages, 2048);	/* the disk's now */
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

TEST(mincore_of_a_file_mapping)
{
	memlab_machine *m = machine();
	memlab_file *f = m ? disk_file(m, "/data/c", 16) : NULL;
	struct memlab_spawn_args args;
	memlab_task *t = NULL;
	unsigned char vec[16];
	uint64_t a;

	ASSERT(f);
	memset(&args, 0, sizeof(args));
	ASSERT_OK(memlab_spawn(m, &args, &t));
	ASSERT_OK(memlab_mmap(t, 0, 16 * PG, MEMLAB_PROT_READ, MEMLAB_MAP_SHARED, f, 0, &a));
	ASSERT_OK(memlab_mincore(t, a, 16 * PG, vec));
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(vec[i], 0);
	/* WILLNEED caches pages 4..7; nothing maps them */
	ASSERT_OK(memlab_fadvise(f, 4 * PG, 4 * PG, MEMLAB_POSIX_FADV_WILLNEED));
	ASSERT_OK(memlab_mincore(t, a, 16 * PG, vec));
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(vec[i], i >= 4 && i < 8);
	ASSERT_EQ(memlab_mincore(t, a, PG, NULL), -MEMLAB_EFAULT);
	ASSERT_OK(memlab_mincore(t, a, 0, NULL));
	ASSERT_EQ(memlab_mincore(t, a + 1, PG, vec), -MEMLAB_EINVAL);
	ASSERT_EQ(memlab_mincore(t, a, UINT64_MAX - a + 1, vec), -MEMLAB_ENOMEM);
	/* the bytes before a hole are written */
	ASSERT_OK(memlab_munmap(t, a + 12 * PG, 4 * PG));
	memset(vec, 7, sizeof(vec));
	ASSERT_EQ(memlab_mincore(t, a + 4 * PG, 12 * PG, vec), -MEMLAB_ENOMEM);
	ASSERT_EQ(vec[0], 1);
	ASSERT_EQ(vec[7], 0);
	ASSERT_EQ(vec[8], 7);
	memlab_destroy(m);
}

TEST(check_catches_page_cache)
{
	memlab_machine *m = machine();
	memlab_file *f = m ? disk_file(m, "/data/d", 16) : NULL;
	uint8_t buf[16];
	uint64_t done, pfn;
	struct page *page;

	ASSERT(f);
	ASSERT_OK(memlab_file_pread(f, 0, buf, 1, &done));
	ASSERT_CHECK(m);
	pfn = filemap_lookup(f, 2);
	ASSERT(pfn != PFN_NONE);
	page = pfn_to_page(m, pfn);
	page->index = 3;
	f->ra.async_size = f->ra.size + 1;
	violations[0] = '\0';
	/* the page's own check sees it too: "says it is page 0x3" */
	ASSERT_EQ(memlab_check(m, keep_violation, NULL), 3);
	if (!strstr(violations, "page cache: /data/d index 2: pfn") ||
	    !strstr(violations, "is not its page (folio index 3") ||
	    !strstr(violations, "readahead: /data/d: window 0+4, async 5"))
		TEST_FAIL("the page and the state were not both reported:\n%s", violations);
	page->index = 2;
	f->ra.async_size = 3;
	ASSERT_CHECK(m);
	memlab_destroy(m);
}

int main(void)
{
	RUN(disk_queue);
	RUN(fadvise_arguments);
	RUN(mincore_of_a_file_mapping);
	RUN(check_catches_page_cache);
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count ? 1 : 0;
}
