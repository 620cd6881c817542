/*
** diff_slab.c -- memlab's slab cache layouts against the host kernel's.
**
**   diff_slab [-v]
**
** For every cache of /sys/kernel/slab that is no alias (a directory, not
** a link), the inputs Linux had -- object_size, the final alignment, the
** flags that matter (reclaim_account, cache_dma, destroy_by_rcu, a
** constructor) -- go to memlab_kmem_cache_create on a machine with as many
** CPUs as the host has present, and what SLUB computed from them must be
** what memlab computes: slab_size, order, objs_per_slab, min_partial,
** cpu_partial.  The kmalloc caches are compared by name: each one the
** host has, memlab has, and the other way round.
**
** Two inputs are not in sysfs.  Whether a TYPESAFE_BY_RCU cache named a
** place for its free pointer (kmem_cache_args.freeptr_offset, 6.12+) is
** read off the host's slab_size: no word added for the pointer means the
** creator named one.  The alignment asked for: a cache with hwcache_align
** is first made with SLAB_HWCACHE_ALIGN alone, and the count of those
** whose alignment calculate_alignment() found so is printed; then every
** cache is made with the host's final alignment as its own.  A cache
** the host lists under create_unique_id()'s name was mergeable: memlab
** must find it mergeable too, and give it the same name.  Caches with
** slub_debug flags are skipped (memlab does not model them), and counted.
** A task_struct holds the CPU's FPU state, whose size comes with the CPU:
** the machine is given the host's (memlab_config.xstate_size: the host's
** object_size less the part memlab's default machine has besides its
** default FPU state), so that the layout SLUB made of it is compared.
** Exit 0 when all agree, 1 on a difference, 77 without /sys/kernel/slab.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diff_common.h"

static int verbose;

/* The attribute's first number (-1: unreadable). */
static long attr_long(const char *cache, const char *attr)
{
	char path[512], buf[256];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/* Does the attribute hold text (ctor: the constructor's symbol)? */
static int attr_nonempty(const char *cache, const char *attr)
{
	char path[512], buf[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] && buf[0] != '\n';
}

/*
** The host's FPU state size, as task_struct's object_size shows it: what
** a default machine's task_struct has beyond its xstate_size is the
** kernel's own part.  0 (the default) when the host's cannot be read.
*/
static uint32_t host_xstate_size(void)
{
	struct memlab_config cfg;
	struct memlab_machine_info mi;
	struct memlab_kmem_cache_info info;
	memlab_machine *m;
	long host = attr_long("task_struct", "object_size"), own;
	uint32_t size = 0;

	memlab_config_init(&cfg);
	cfg.ram = 16ull << 20;
	if (host <= 0 || memlab_create(&cfg, &m))
		return 0;
	memlab_machine_info(m, &mi);
	memlab_kmem_cache_info(m, memlab_kmem_cache_find(m, "task_struct"), &info);
	own = (long)info.object_size - (long)mi.xstate_size;
	if (host > own)
		size = (uint32_t)(host - own);
	else
		printf("task_struct: the host's %ld bytes leave no FPU state beside memlab's "
		       "%ld of its own: the default xstate_size\n", host, own);
	memlab_destroy(m);
	return size;
}

static int present_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/present", "r");
	int lo = 0, hi = 0, n;

	if (!f)
		return 1;
	n = fscanf(f, "%d-%d", &lo, &hi);
	fclose(f);
	return n == 2 ? hi - lo + 1 : 1;
}

/* The caches memlab makes at boot for the kernel objects it keeps (core/slab.c). */
static const char *const kernel_caches[] = {
	"anon_vma", "anon_vma_chain", "task_struct", "mm_struct", "vm_area_struct",
};

static int is_kmalloc_name(const char *name)
{
	return !strncmp(name, "kmalloc-", 8) || !strncmp(name, "dma-kmalloc-", 12);
}

struct counts {
	memlab_machine *m;
	int compared, differ, skipped_debug, inferred_freeptr, kmalloc;
	int hwcache, hwcache_alone, cpus, unique, kernel;
};

static int compare(const char *name, const struct memlab_kmem_cache_info *i, struct counts *c)
{
	static const char *const attrs[] = {
		"slab_size", "order", "objs_per_slab", "min_partial", "cpu_partial", "align",
	};
	long mine[] = { i->slab_size, i->order, i->objs_per_slab, i->min_partial, i->cpu_partial,
			i->align };
	int bad = 0;

	for (size_t k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++) {
		long host = attr_long(name, attrs[k]);

		if (host != mine[k]) {
			printf("%s: %s: host %ld, memlab %ld\n", name, attrs[k], host, mine[k]);
			bad = 1;
		}
	}
	c->compared++;
	c->differ += bad;
	if (verbose && !bad)
		printf("%s: same (size %u, order %u, %u per slab)\n", name, i->slab_size, i->order,
		       i->objs_per_slab);
	return bad;
}

/*
** A cache the host lists under create_unique_id()'s name (":A-0000192")
** was mergeable: made alone on a fresh machine, without SLAB_NO_MERGE and
** with the flags its name spells, memlab must give it the same name.
*/
static void check_unique_id(struct counts *c, const char *name, unsigned size,
			    const struct memlab_kmem_cache_args *args, uint32_t flags)
{
	struct memlab_kmem_cache_info info;
	struct memlab_config pc;
	memlab_kmem_cache *s;
	memlab_machine *probe;
	const char *p;

	flags &= ~MEMLAB_SLAB_NO_MERGE;
	for (p = name + 1; *p && *p != '-' && (*p < '0' || *p > '9'); p++)
		flags |= *p == 'A' ? MEMLAB_SLAB_ACCOUNT : *p == 'a' ? MEMLAB_SLAB_RECLAIM_ACCOUNT :
			 *p == 'd' ? MEMLAB_SLAB_CACHE_DMA : *p == 'D' ? MEMLAB_SLAB_CACHE_DMA32 : 0;
	memlab_config_init(&pc);
	pc.ram = 16ull << 20;
	pc.cpus = c->cpus;
	if (memlab_create(&pc, &probe))
		return;
	if (memlab_kmem_cache_create(probe, name, size, args, flags, &s) == 0) {
		memlab_kmem_cache_info(probe, s, &info);
		c->unique++;
		if (strcmp(info.sysfs_name, name)) {
			printf("%s: memlab names it %s\n", name, info.sysfs_name);
			c->differ++;
		}
	}
	memlab_destroy(probe);
}

/* A host cache that is no kmalloc cache: made again in memlab from its inputs. */
static void compare_created(memlab_machine *m, const char *name, struct counts *c)
{
	struct memlab_kmem_cache_args args = { 0 };
	struct memlab_kmem_cache_info info;
	memlab_kmem_cache *s;
	uint32_t flags = MEMLAB_SLAB_NO_MERGE;
	long size = attr_long(name, "object_size"), align = attr_long(name, "align");
	long slab_size = attr_long(name, "slab_size");
	int rc;

	if (attr_long(name, "poison") > 0 || attr_long(name, "red_zone") > 0 ||
	    attr_long(name, "store_user") > 0 || attr_long(name, "sanity_checks") > 0 ||
	    attr_long(name, "trace") > 0) {
		c->skipped_debug++;
		return;
	}
	if (attr_long(name, "reclaim_account") > 0)
		flags |= MEMLAB_SLAB_RECLAIM_ACCOUNT;
	if (attr_long(name, "cache_dma") > 0)
		flags |= MEMLAB_SLAB_CACHE_DMA;
	if (attr_long(name, "destroy_by_rcu") > 0)
		flags |= MEMLAB_SLAB_TYPESAFE_BY_RCU;
	args.ctor = attr_nonempty(name, "ctor");
	if ((flags & MEMLAB_SLAB_TYPESAFE_BY_RCU) && !args.ctor &&
	    slab_size == (((size + 7) / 8 * 8 + align - 1) / align * align)) {
		args.use_freeptr_offset = 1;	/* no word was added: the creator named a place */
		args.freeptr_offset = 0;
		c->inferred_freeptr++;
	}
	/*
	** The alignment asked for is not in sysfs, only the result.  A cache
	** with hwcache_align is made with SLAB_HWCACHE_ALIGN and no alignment
	** of its own first (calculate_alignment() must find the host's);
	** only when that differs was an alignment asked for, which is then
	** given.
	*/
	if (attr_long(name, "hwcache_align") > 0) {
		memlab_machine *probe;
		struct memlab_config pc;

		c->hwcache++;
		memlab_config_init(&pc);
		pc.ram = 16ull << 20;
		pc.cpus = c->cpus;
		if (memlab_create(&pc, &probe) == 0) {
			if (memlab_kmem_cache_create(probe, name, (unsigned)size, &args,
						     flags | MEMLAB_SLAB_HWCACHE_ALIGN, &s) == 0) {
				memlab_kmem_cache_info(probe, s, &info);
				if (info.align == (unsigned)align)
					c->hwcache_alone++;
			}
			memlab_destroy(probe);
		}
		flags |= MEMLAB_SLAB_HWCACHE_ALIGN;
	}
	args.align = (unsigned)align;
	if (name[0] == ':')
		check_unique_id(c, name, (unsigned)size, &args, flags);
	rc = memlab_kmem_cache_create(m, name, (unsigned)size, &args, flags, &s);
	if (rc) {
		printf("%s: memlab_kmem_cache_create(%ld, align %ld): %s\n", name, size, align,
		       memlab_strerror(rc));
		c->differ++;
		return;
	}
	memlab_kmem_cache_info(m, s, &info);
	compare(name, &info, c);
}

/* Every kmalloc cache of memlab must be on the host too. */
static int kmalloc_in_host(void *ud, memlab_kmem_cache *s)
{
	struct memlab_kmem_cache_info info;
	struct counts *c = ud;
	char path[512];
	struct stat st;

	memlab_kmem_cache_info(c->m, s, &info);
	if (!(info.flags & MEMLAB_SLAB_KMALLOC))
		return 0;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s", info.name);
	if (lstat(path, &st)) {
		printf("%s: memlab has it, the host does not\n", info.name);
		c->differ++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct memlab_config cfg;
	struct counts c = { 0 };
	memlab_machine *m;
	struct dirent *d;
	DIR *dir;

	verbose = argc > 1 && !strcmp(argv[1], "-v");
	dir = opendir("/sys/kernel/slab");
	if (!dir) {
		printf("diff_slab: no /sys/kernel/slab: skipped\n");
		return 77;
	}
	memlab_config_init(&cfg);
	cfg.ram = 256ull << 20;
	cfg.cpus = present_cpus();
	cfg.xstate_size = host_xstate_size();
	if (memlab_create(&cfg, &m)) {
		printf("diff_slab: no machine with xstate_size %u (the host's task_struct)\n",
		       cfg.xstate_size);
		return 1;
	}
	c.m = m;
	c.cpus = cfg.cpus;
	/* memlab's own caches of the kernel objects it keeps, as the host has them */
	for (size_t k = 0; k < sizeof(kernel_caches) / sizeof(kernel_caches[0]); k++) {
		memlab_kmem_cache *s = memlab_kmem_cache_find(m, kernel_caches[k]);
		struct memlab_kmem_cache_info info;

		if (!s) {
			printf("%s: memlab has no such cache\n", kernel_caches[k]);
			c.differ++;
			continue;
		}
		memlab_kmem_cache_info(m, s, &info);
		compare(kernel_caches[k], &info, &c);
		c.kernel++;
	}
	while ((d = readdir(dir))) {
		char path[512];
		struct stat st;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s", d->d_name);
		if (lstat(path, &st) || !S_ISDIR(st.st_mode))
			continue;		/* an alias */
		if (is_kmalloc_name(d->d_name)) {
			memlab_kmem_cache *s = memlab_kmem_cache_find(m, d->d_name);
			struct memlab_kmem_cache_info info;

			if (!s) {
				printf("%s: the host has it, memlab does not\n", d->d_name);
				c.differ++;
				continue;
			}
			memlab_kmem_cache_info(m, s, &info);
			compare(d->d_name, &info, &c);
			c.kmalloc++;
		} else {
			compare_created(m, d->d_name, &c);
		}
	}
	closedir(dir);
	memlab_kmem_cache_each(m, kmalloc_in_host, &c);
	printf("diff_slab: %d caches compared (%d kmalloc, %d of memlab's kernel objects), %d differ; %d with slub_debug skipped, "
	       "%d RCU free pointer places read off slab_size; %d of %d SLAB_HWCACHE_ALIGN alignments "
	       "found without the host's; %d merged caches named as the host names them; %d CPUs, "
	       "xstate_size %u\n",
	       c.compared, c.kmalloc, c.kernel, c.differ, c.skipped_debug, c.inferred_freeptr, c.hwcache_alone,
	       c.hwcache, c.unique, cfg.cpus, cfg.xstate_size);
	if (memlab_check(m, NULL, NULL))
		c.differ++;
	memlab_destroy(m);
	return c.differ ? 1 : 0;
}
