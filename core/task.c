/*
** task.c -- tasks and their address spaces as execve() of a PIE leaves
** them (fs/binfmt_elf.c load_elf_binary, fs/exec.c setup_arg_pages,
** arch/x86/mm/mmap.c, mm/util.c), simulated files, the vm sysctls, the
** VMA side of a user fault (stack expansion, access_error, anon_vma) and
** the inspection calls of the public API.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"

#define SIZE_128M		(128ull << 20)
#define STACK_EXPAND		(128ull << 10)	/* fs/exec.c setup_arg_pages */

/* ===================== sysctls and accounting ===================== */

uint64_t mmap_min_addr(const memlab_machine *m)
{
	return m->mmap_min_addr;
}

int sysctl_max_map_count(const memlab_machine *m)
{
	return (int)m->max_map_count;
}

int sysctl_overcommit_memory(const memlab_machine *m)
{
	return m->overcommit_memory;
}

int sysctl_overcommit_ratio(const memlab_machine *m)
{
	return m->overcommit_ratio;
}

uint64_t vm_committed_as(const memlab_machine *m)
{
	return m->vm_committed_as > 0 ? (uint64_t)m->vm_committed_as : 0;
}

void vm_acct_memory(memlab_machine *m, int64_t pages)
{
	m->vm_committed_as += pages;
}

/*
** Boot-time values of the vm layer: max_map_count 65530, heuristic
** overcommit with ratio 50, mmap_min_addr 4096 with Debian's LSM floor of
** 65536 for hints, and the admin/user reserves of mm/util.c
** (init_admin_reserve, init_user_reserve: 1/32 of free memory, at most
** 8 MiB and 128 MiB).
*/
void mm_sysctl_init(memlab_machine *m)
{
	uint64_t free_kb = m->vmstat[NR_FREE_PAGES] << (m->page_shift - 10);

	m->max_map_count = DEFAULT_MAX_MAP_COUNT;
	m->overcommit_memory = 0;
	m->overcommit_ratio = 50;
	m->swappiness = 60;
	m->page_cluster = 3;
	m->dac_mmap_min_addr = 4096;
	m->mmap_min_addr = 65536;
	m->admin_reserve_kbytes = free_kb / 32 < 8192 ? free_kb / 32 : 8192;
	m->user_reserve_kbytes = free_kb / 32 < 131072 ? free_kb / 32 : 131072;
	m->next_pid = 1;
	m->next_ino = 1048577;
	bdi_init(m);
}

int memlab_vm_sysctl(memlab_machine *m, const struct memlab_vm_sysctl *set,
		     struct memlab_vm_sysctl *get)
{
	if (set) {
		if ((set->max_map_count != -1 && (set->max_map_count < 0 || set->max_map_count > INT32_MAX)) ||
		    (set->overcommit_memory != -1 && (set->overcommit_memory < 0 || set->overcommit_memory > 2)) ||
		    (set->overcommit_ratio != -1 && (set->overcommit_ratio < 0 || set->overcommit_ratio > INT32_MAX)) ||
		    set->mmap_min_addr < -1 ||
		    (set->panic_on_oom != -1 && (set->panic_on_oom < 0 || set->panic_on_oom > 2)) ||
		    set->oom_kill_allocating_task < -1 || set->oom_kill_allocating_task > INT32_MAX ||
		    set->swappiness < -1 || set->swappiness > 200 ||
		    set->watermark_boost_factor < -1 || set->watermark_boost_factor > INT32_MAX ||
		    set->page_cluster < -1 || set->page_cluster > 31)	/* page_cluster_max */
			return -MEMLAB_EINVAL;
		if (set->max_map_count != -1)
			m->max_map_count = set->max_map_count;
		if (set->overcommit_memory != -1)
			m->overcommit_memory = (int)set->overcommit_memory;
		if (set->overcommit_ratio != -1)
			m->overcommit_ratio = (int)set->overcommit_ratio;
		if (set->mmap_min_addr != -1) {	/* security/min_addr.c update_mmap_min_addr() */
			m->dac_mmap_min_addr = (uint64_t)set->mmap_min_addr;
			m->mmap_min_addr = m->dac_mmap_min_addr > 65536 ? m->dac_mmap_min_addr : 65536;
		}
		if (set->panic_on_oom != -1)
			m->panic_on_oom = (int)set->panic_on_oom;
		if (set->oom_kill_allocating_task != -1)
			m->oom_kill_allocating_task = (int)set->oom_kill_allocating_task;
		if (set->swappiness != -1)
			m->swappiness = (int)set->swappiness;
		/* a boost already made stays until kswapd reclaims it, as in Linux */
		if (set->watermark_boost_factor != -1)
			m->watermark_boost_factor = (int)set->watermark_boost_factor;
		if (set->page_cluster != -1)
			m->page_cluster = (int)set->page_cluster;
	}
	if (get) {
		get->max_map_count = m->max_map_count;
		get->overcommit_memory = m->overcommit_memory;
		get->overcommit_ratio = m->overcommit_ratio;
		get->mmap_min_addr = (int64_t)m->dac_mmap_min_addr;
		get->panic_on_oom = m->panic_on_oom;
		get->oom_kill_allocating_task = m->oom_kill_allocating_task;
		get->swappiness = m->swappiness;
		get->watermark_boost_factor = m->watermark_boost_factor;
		get->page_cluster = m->page_cluster;
	}
	return 0;
}

/* ===================== files ===================== */

void file_get(struct memlab_file *f)
{
	f->refcount++;
}

/* Drop a reference; the last one frees the file (it is off the machine's list by then). */
void file_put(struct memlab_file *f)
{
	if (--f->refcount == 0) {
		vm_acct_memory(f->m, -(int64_t)f->charged);
		filemap_release(f);
		ml_free(f->m, f, sizeof(*f));
	}
}

/* A file with one reference (the caller's), on no list; NULL without host memory. */
struct memlab_file *file_alloc(memlab_machine *m, const char *path, uint64_t size)
{
	struct memlab_file *f = ml_alloc(m, sizeof(*f));

	if (!f)
		return NULL;
	f->m = m;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->size = size;
	f->ino = m->next_ino++;
	f->refcount = 1;
	INIT_LIST_HEAD(&f->i_mmap);
	file_ra_state_init(f);
	return f;
}

int memlab_file_create(memlab_machine *m, const char *path, uint64_t size, int writable,
		       memlab_file **out)
{
	struct memlab_file *f;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(f->path))
		return -MEMLAB_EINVAL;
	if (size > EXT4_MAXBYTES)
		return -MEMLAB_EFBIG;
	f = file_alloc(m, path, size);
	if (!f)
		return -MEMLAB_ENOMEM;
	f->dev_major = 0xfe;	/* the root filesystem's block device, as on a VM */
	f->dev_minor = 0x01;
	f->writable = writable;
	f->next = m->files;
	m->files = f;
	*out = f;
	return 0;
}

/*
** shmem_zero_setup(): the object behind MAP_SHARED|MAP_ANONYMOUS, an
** unlinked shmem file named /dev/zero on device 00:01.  The caller holds
** the only reference.
*/
struct memlab_file *shmem_zero_file(memlab_machine *m, uint64_t size)
{
	struct memlab_file *f = file_alloc(m, "/dev/zero", size);

	if (f) {
		f->dev_major = 0;
		f->dev_minor = 1;
		f->shmem = f->deleted = f->writable = true;
	}
	return f;
}

/*
** The charges of the shmem objects still mapped.  They are not on the
** machine's file list, so walk the VMAs (counting each object once).
*/
static bool shmem_seen_before(memlab_machine *m, memlab_task *upto, struct vm_area_struct *v);

static int64_t shmem_charged_pages(memlab_machine *m)
{
	memlab_task *t;
	int64_t n = 0;

	for_each_mm_task(m, t)
		for (struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next)
			if (v->vm_file && v->vm_file->shmem && !shmem_seen_before(m, t, v))
				n += (int64_t)v->vm_file->charged;
	return n;
}

/* Whether an earlier VMA (in task order) maps v's shmem object. */
static bool shmem_seen_before(memlab_machine *m, memlab_task *upto, struct vm_area_struct *v)
{
	memlab_task *t;

	for_each_mm_task(m, t)
		for (struct vm_area_struct *w = t->mm->mmap; w; w = w->vm_next) {
			if (w == v)
				return false;
			if (w->vm_file == v->vm_file)
				return true;
		}
	return false;
}

/* Drop the machine's references to its files (memlab_destroy). */
static void files_release(memlab_machine *m)
{
	while (m->files) {
		struct memlab_file *f = m->files;

		m->files = f->next;
		file_put(f);
	}
}

/* ===================== layout ===================== */

static uint64_t rnd_bits(memlab_machine *m, unsigned bits)
{
	return rng_next(&m->rng) & ((1ull << bits) - 1);
}

/* TASK_SIZE: x86-64's 47-bit user space less its last page; arm64's 1 << VA_BITS. */
static uint64_t task_size(const memlab_machine *m)
{
	if (m->arch == MEMLAB_ARCH_X86_64)	/* TASK_SIZE_MAX: 4- or 5-level paging */
		return (1ull << (m->va_bits == 57 ? 56 : 47)) - 4096;
	return 1ull << m->va_bits;
}

/* DEFAULT_MAP_WINDOW: x86-64 keeps the default layout below 47 bits even with LA57. */
static uint64_t map_window(const memlab_machine *m)
{
	return m->arch == MEMLAB_ARCH_X86_64 ? (1ull << 47) - 4096 : task_size(m);
}

/*
** arch_mmap_rnd(): mmap_rnd_bits random pages -- 28 on x86-64; arm64's
** CONFIG_ARCH_MMAP_RND_BITS defaults (18, 16, 14 for 4K, 16K, 64K pages).
*/
static uint64_t mmap_rnd(memlab_task *t)
{
	memlab_machine *m = t->m;
	unsigned bits = m->arch == MEMLAB_ARCH_X86_64 ? 28
			: m->page_shift == 12 ? 18 : m->page_shift == 14 ? 16 : 14;

	return t->randomize ? rnd_bits(m, bits) << m->page_shift : 0;
}

/* STACK_RND_MASK's bits: 22 on x86-64, 18 - (PAGE_SHIFT - 12) on arm64. */
static unsigned stack_rnd_bits(const memlab_machine *m)
{
	return m->arch == MEMLAB_ARCH_X86_64 ? 22 : 18 - (m->page_shift - 12);
}

/* stack_maxrandom_size(): the stack top's random range. */
static uint64_t stack_maxrandom_size(const memlab_task *t)
{
	return t->randomize ? ((1ull << stack_rnd_bits(t->m)) - 1) << t->m->page_shift : 0;
}

/*
** mmap_base(): below the stack's rlimit, the guard gap and the stack's
** random range, at least 128 MiB and at most 5/6 of the address space,
** then lowered by the mmap randomisation.
*/
static uint64_t mmap_base(memlab_task *t, uint64_t rnd)
{
	uint64_t size = t->mm->map_window, gap = t->rlim.stack;
	uint64_t pad = stack_guard_gap(t->m) + stack_maxrandom_size(t);
	uint64_t gap_max = size / 6 * 5;

	if (gap == RLIM_INFINITY || gap + pad < gap)
		gap = gap_max;
	else
		gap += pad;
	if (gap < SIZE_128M)
		gap = SIZE_128M;
	if (gap > gap_max)
		gap = gap_max;
	return PAGE_ALIGN_M(t->m, size - gap - rnd);
}

/*
** arch_pick_mmap_layout(): top-down under mmap_base, except arm64 with an
** unlimited stack, which mm/util.c's mmap_is_legacy() sends bottom-up from
** TASK_UNMAPPED_BASE (x86-64 has its own mmap_is_legacy(), which looks
** only at the personality and vm.legacy_va_layout, both 0 here).
** TASK_UNMAPPED_BASE: a third of the space on x86-64, a quarter on arm64.
*/
static void arch_pick_mmap_layout(memlab_task *t)
{
	struct mm_struct *mm = t->mm;
	uint64_t rnd = mmap_rnd(t);
	unsigned div = t->m->arch == MEMLAB_ARCH_X86_64 ? 3 : 4;

	mm->mmap_legacy_base = PAGE_ALIGN_M(t->m, mm->map_window / div) + rnd;
	mm->legacy_layout = t->m->arch == MEMLAB_ARCH_ARM64 && t->rlim.stack == RLIM_INFINITY;
	mm->mmap_base = mm->legacy_layout ? mm->mmap_legacy_base : mmap_base(t, rnd);
}

/* Map one segment of the executable at addr, MAP_FIXED and private. */
static int map_segment(memlab_task *t, struct memlab_file *exe, uint64_t addr, uint64_t len,
		       int prot, uint64_t offset)
{
	int64_t ret;

	if (!len)
		return 0;
	ret = do_mmap(t, exe, addr, len, prot, MEMLAB_MAP_PRIVATE | MEMLAB_MAP_FIXED, 0,
		      offset >> t->m->page_shift);
	return ret < 0 ? (int)ret : 0;
}

/* ELF_ET_DYN_BASE: 2/3 of the address space (0x555555554aaa on x86-64). */
static uint64_t elf_et_dyn_base(const struct mm_struct *mm)
{
	return mm->map_window / 3 * 2;
}

/*
** Where the image goes: a PIE with an interpreter at ELF_ET_DYN_BASE plus
** the mmap randomisation; a static PIE (no PT_INTERP) with load_bias 0,
** that is wherever mmap puts it, top-down under mmap_base.  0 if no room.
*/
static uint64_t image_base(memlab_task *t, bool static_pie, uint64_t size)
{
	int64_t base;

	if (!static_pie)
		return (elf_et_dyn_base(t->mm) & ~((uint64_t)t->m->page_size - 1)) + mmap_rnd(t);
	base = get_unmapped_area(t, NULL, 0, size, 0, MEMLAB_MAP_PRIVATE, 0);
	return base < 0 ? 0 : (uint64_t)base;
}

/*
** load_elf_binary() for memlab's PIE: one r--p page of headers, then text
** (r-xp), rodata (r--p) and data (rw-p), each page-aligned in memory and
** in the file, at ELF_ET_DYN_BASE (2/3 of the address space, plus the
** mmap randomisation with ASLR).  bss beyond the last data page is an
** anonymous VMA (vm_brk_flags); the break starts after it.
*/
static int load_image(memlab_task *t, struct memlab_file *exe, const struct memlab_exe *x,
		      bool static_pie)
{
	memlab_machine *m = t->m;
	struct mm_struct *mm = t->mm;
	uint64_t hdr = m->page_size, text = PAGE_ALIGN_M(m, x->text);
	uint64_t rodata = PAGE_ALIGN_M(m, x->rodata), data = PAGE_ALIGN_M(m, x->data);
	uint64_t base = image_base(t, static_pie, hdr + text + rodata + PAGE_ALIGN_M(m, x->data + x->bss));
	uint64_t text_at = base + hdr, rodata_at = text_at + text, data_at = rodata_at + rodata;
	uint64_t bss_start = data_at + x->data, bss_end = bss_start + x->bss;
	int err;

	if (!base)
		return -MEMLAB_ENOMEM;

	if ((err = map_segment(t, exe, base, hdr, MEMLAB_PROT_READ, 0)) ||
	    (err = map_segment(t, exe, text_at, text, MEMLAB_PROT_READ | MEMLAB_PROT_EXEC, hdr)) ||
	    (err = map_segment(t, exe, rodata_at, rodata, MEMLAB_PROT_READ, hdr + text)) ||
	    (err = map_segment(t, exe, data_at, data, MEMLAB_PROT_READ | MEMLAB_PROT_WRITE,
			       hdr + text + rodata)))
		return err;
	if (PAGE_ALIGN_M(m, bss_end) > PAGE_ALIGN_M(m, bss_start)) {
		uint64_t start = PAGE_ALIGN_M(m, bss_start);
		struct vm_area_struct *prev = find_vma(t, start - 1);

		err = do_brk_flags(t, prev, start, PAGE_ALIGN_M(m, bss_end) - start, 0);
		if (err)
			return err;
	}
	mm->start_code = text_at;
	mm->end_code = text_at + x->text;
	mm->start_data = data_at;
	mm->end_data = data_at + x->data;
	mm->start_brk = mm->brk = PAGE_ALIGN_M(m, bss_end);
	if (static_pie)		/* the brk moves to ELF_ET_DYN_BASE (brk_moved) */
		mm->start_brk = mm->brk = PAGE_ALIGN_M(m, elf_et_dyn_base(mm));
	return 0;
}

/* _install_special_mapping(): [vvar], [vdso] ... -- VM_SPECIAL, never merged. */
static int install_special_mapping(memlab_task *t, uint64_t addr, uint64_t len,
				   uint64_t flags, const char *name)
{
	struct vm_area_struct *vma = vm_area_alloc(t->mm);

	if (!vma)
		return -MEMLAB_ENOMEM;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = flags | VM_DONTEXPAND | VM_SOFTDIRTY;
	vma->vm_pgoff = 0;
	vma->special_name = name;
	vma->special_pages = len >> t->m->page_shift;	/* never split nor resized: mm_validate */
	vma_link(t->mm, vma);
	vm_stat_account(t->mm, vma->vm_flags, (int64_t)(len >> t->m->page_shift));
	return 0;
}

/*
** map_vdso() (Linux 6.9+ on x86-64: placed by get_unmapped_area, so just
** below ld.so): [vvar] 4 pages, [vvar_vclock] 2 (6.13+), [vdso] 2.  arm64
** has [vvar] and [vdso].
*/
static int map_vdso(memlab_task *t)
{
	memlab_machine *m = t->m;
	bool x86 = m->arch == MEMLAB_ARCH_X86_64;
	uint64_t p = m->page_size, vvar = 4 * p, vclock = x86 ? 2 * p : 0, vdso = 2 * p;
	uint64_t vvar_flags = VM_READ | VM_MAYREAD | VM_IO | VM_DONTDUMP | VM_PFNMAP;
	int64_t base = get_unmapped_area(t, NULL, 0, vvar + vclock + vdso, 0, 0, 0);
	int err;

	if (base < 0)
		return (int)base;
	if ((err = install_special_mapping(t, (uint64_t)base, vvar, vvar_flags, "[vvar]")))
		return err;
	if (vclock && (err = install_special_mapping(t, (uint64_t)base + vvar, vclock, vvar_flags,
						     "[vvar_vclock]")))
		return err;
	return install_special_mapping(t, (uint64_t)base + vvar + vclock, vdso,
				       VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC,
				       "[vdso]");
}

/*
** load_elf_interp(): the dynamic loader, as Debian 12's glibc 2.36 lays
** out ld-linux-x86-64.so.2: one r--p page, 0x26 pages of text, 0xa of
** rodata, then 4 pages of data whose first two become r--p after
** relocation (RELRO, an mprotect that keeps them apart from the rodata).
** The whole image is mapped first, top-down under mmap_base, then each
** segment in place.
*/
static int load_interp(memlab_task *t)
{
	memlab_machine *m = t->m;
	bool x86 = m->arch == MEMLAB_ARCH_X86_64;
	uint64_t p = 4096, text = 0x26 * p, rodata = 0xa * p, data = 4 * p;
	uint64_t size = PAGE_ALIGN_M(m, p + text + rodata + data);
	struct memlab_file *ld;
	int64_t base;
	int err;

	err = memlab_file_create(m, x86 ? "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
				     : "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
				 size, 0, &ld);
	if (err)
		return err;
	base = do_mmap(t, ld, 0, size, MEMLAB_PROT_READ, MEMLAB_MAP_PRIVATE, 0, 0);
	if (base < 0)
		return (int)base;
	if (m->page_size != 4096)	/* large pages: one segment of each kind is enough */
		return map_segment(t, ld, (uint64_t)base, size, MEMLAB_PROT_READ | MEMLAB_PROT_EXEC, 0);
	if ((err = map_segment(t, ld, (uint64_t)base + p, text,
			       MEMLAB_PROT_READ | MEMLAB_PROT_EXEC, p)) ||
	    (err = map_segment(t, ld, (uint64_t)base + p + text + rodata, data,
			       MEMLAB_PROT_READ | MEMLAB_PROT_WRITE, p + text + rodata)))
		return err;
	return do_mprotect_pkey(t, (uint64_t)base + p + text + rodata, 2 * p, MEMLAB_PROT_READ);
}

/* arch_randomize_brk(): one page of gap, then up to 1 GiB (Linux 6.9+) above. */
static void randomize_brk(memlab_task *t, int aslr, bool static_pie)
{
	struct mm_struct *mm = t->mm;
	uint64_t range = (1ull << 30) >> t->m->page_shift;

	if (!t->randomize || aslr < 2)
		return;
	if (!static_pie)	/* a gap page after the bss, unless the brk moved */
		mm->start_brk += t->m->page_size;
	mm->start_brk += (rng_next(&t->m->rng) % range) << t->m->page_shift;
	mm->brk = mm->start_brk;
}

/*
** setup_arg_pages(): the stack VMA at the (randomised) stack top, one page
** of arguments plus 128 KiB, growing down; start_stack inside its top page.
*/
static int setup_stack(memlab_task *t)
{
	memlab_machine *m = t->m;
	struct mm_struct *mm = t->mm;
	uint64_t top = mm->map_window, len = m->page_size + STACK_EXPAND, npages;
	uint64_t rlim = t->rlim.stack & ~((uint64_t)m->page_size - 1);

	if (rlim < len)		/* setup_arg_pages(): min(rlimit, args + 128 KiB) */
		len = rlim > m->page_size ? rlim : m->page_size;
	struct vm_area_struct *vma;

	if (t->randomize)
		top -= rnd_bits(m, stack_rnd_bits(m)) << m->page_shift;
	npages = len >> m->page_shift;
	if (vm_enough_memory(t, (int64_t)npages))
		return -MEMLAB_ENOMEM;
	vma = vm_area_alloc(mm);
	if (!vma) {
		vm_unacct_memory(t, (int64_t)npages);
		return -MEMLAB_ENOMEM;
	}
	vma->vm_start = top - len;
	vma->vm_end = top;
	vma->vm_flags = VM_STACK_FLAGS | VM_SOFTDIRTY;
	vma->vm_pgoff = vma->vm_start >> m->page_shift;
	vma_link(mm, vma);
	vm_stat_account(mm, vma->vm_flags, (int64_t)npages);
	if (anon_vma_prepare(vma))	/* the kernel wrote argv and envp there */
		return -MEMLAB_ENOMEM;	/* the caller tears the mm down, the VMA with it */
	mm->start_stack = top - m->page_size + 0x400 -
			  (t->randomize ? (rng_next(&m->rng) % 1024) & ~0xfull : 0);
	mm->arg_start = mm->start_stack + 8;
	mm->arg_end = mm->env_start = mm->arg_start + 0x100;
	mm->env_end = top - 0x20;
	return 0;
}

/* ===================== tasks ===================== */

/* The executable's file: args->path, or /usr/local/bin/<name>. */
static int exe_file(memlab_machine *m, const struct memlab_spawn_args *a, uint64_t size,
		    struct memlab_file **out)
{
	char path[160];

	if (a->path)
		return memlab_file_create(m, a->path, size, 0, out);
	snprintf(path, sizeof(path), "/usr/local/bin/%s", a->name ? a->name : "a.out");
	return memlab_file_create(m, path, size, 0, out);
}

/*
** mm_update_next_owner(): the owner leaves an mm other tasks still use;
** one of them stands for it from now on.
*/
static void mm_update_next_owner(memlab_task *t)
{
	for (memlab_task *c = t->m->tasks; c; c = c->next)
		if (c != t && c->mm == t->mm) {
			t->mm->owner = c;
			return;
		}
}

/*
** A kernel object memlab keeps: its object in cache kc, taken in the
** current task's context (its CPU's slab, its memory cgroup charged), and
** the zeroed host struct of size bytes that describes it; the object's
** address in *obj.  NULL on failure (failslab, no memory, the cgroup's
** limit), with nothing taken.
*/
void *kernel_obj_new(memlab_machine *m, enum kernel_cache kc, size_t size, uint64_t *obj)
{
	return kernel_obj_new_gfp(m, kc, size, MEMLAB_GFP_KERNEL, obj);
}

/* The same with the allocation's gfp (anon_vma_clone() tries GFP_NOWAIT first). */
void *kernel_obj_new_gfp(memlab_machine *m, enum kernel_cache kc, size_t size, uint32_t gfp,
			 uint64_t *obj)
{
	void *p;

	if (kernel_obj_alloc_gfp(m, kc, gfp, obj))
		return NULL;
	p = ml_alloc(m, size);
	if (!p)
		kernel_obj_free(m, kc, *obj);
	return p;
}

void kernel_obj_delete(memlab_machine *m, enum kernel_cache kc, void *p, size_t size,
		       uint64_t obj)
{
	kernel_obj_free(m, kc, obj);
	ml_free(m, p, size);
}

/* alloc_task_struct_node(), as dup_task_struct() takes it: zeroed; NULL on failure. */
memlab_task *alloc_task_struct(memlab_machine *m)
{
	uint64_t obj;
	memlab_task *t = kernel_obj_new(m, KC_TASK_STRUCT, sizeof(*t), &obj);

	if (t)
		t->slab_obj = obj;
	return t;
}

/* free_task(): the task_struct object and the host struct. */
void free_task(memlab_task *t)
{
	kernel_obj_delete(t->m, KC_TASK_STRUCT, t, sizeof(*t), t->slab_obj);
}

/* allocate_mm(), as mm_alloc() and dup_mm() take it: zeroed; NULL on failure. */
struct mm_struct *allocate_mm(memlab_machine *m)
{
	uint64_t obj;
	struct mm_struct *mm = kernel_obj_new(m, KC_MM_STRUCT, sizeof(*mm), &obj);

	if (mm)
		mm->slab_obj = obj;
	return mm;
}

/* free_mm(): what __mmdrop() ends with. */
void free_mm(memlab_machine *m, struct mm_struct *mm)
{
	kernel_obj_delete(m, KC_MM_STRUCT, mm, sizeof(*mm), mm->slab_obj);
}

/* mmput(): t lets go of its mm; the last user tears it down. */
static void mmput(memlab_task *t)
{
	struct mm_struct *mm = t->mm;

	if (--mm->mm_users > 0) {
		if (mm->owner == t)
			mm_update_next_owner(t);
		return;
	}
	khugepaged_exit(t->m, mm);	/* __mmput(): before exit_mmap */
	exit_mmap(t);
	free_mm(t->m, mm);		/* mmdrop(): memlab has no lazy-TLB references */
}

void task_free(memlab_task *t)
{
	if (t->mm)
		mmput(t);
	mem_cgroup_exit(t);
	free_thread_stack(t);
	free_task(t);
}

/*
** One limit at spawn: the given soft limit, or Linux's default cur when
** it is 0 and not in rlimit_set; the hard limit is the default max, or
** the soft limit where that is higher.
*/
static void set_rlimit(memlab_task *t, const struct memlab_spawn_args *a, int resource,
		       uint64_t given, uint64_t cur, uint64_t max)
{
	if (given || (a->rlimit_set & MEMLAB_RLIMIT_BIT(resource)))
		cur = given;
	*rlimit_field(&t->rlim, resource) = cur;
	*rlimit_field(&t->rlim_max, resource) = cur > max ? cur : max;
}

/* INIT_RLIMITS (include/asm-generic/resource.h) where spawn gives none. */
static void set_rlimits(memlab_task *t, const struct memlab_spawn_args *a)
{
	set_rlimit(t, a, MEMLAB_RLIMIT_STACK, a->stack_rlimit, 8ull << 20, RLIM_INFINITY);
	set_rlimit(t, a, MEMLAB_RLIMIT_DATA, a->data_rlimit, RLIM_INFINITY, RLIM_INFINITY);
	set_rlimit(t, a, MEMLAB_RLIMIT_AS, a->as_rlimit, RLIM_INFINITY, RLIM_INFINITY);
	set_rlimit(t, a, MEMLAB_RLIMIT_MEMLOCK, a->memlock_rlimit, 8ull << 20, 8ull << 20);
}

/*
** The task, as the fork before the exec makes it: its task_struct and
** kernel stack, in the root cgroup.
*/
static memlab_task *task_alloc(memlab_machine *m, const struct memlab_spawn_args *a)
{
	memlab_task *t = alloc_task_struct(m);

	if (!t)
		return NULL;
	t->m = m;
	if (alloc_thread_stack(t)) {	/* dup_task_struct() */
		free_task(t);
		return NULL;
	}
	mem_cgroup_fork(t, NULL);	/* spawned in the root cgroup */
	snprintf(t->comm, sizeof(t->comm), "%s", a->name ? a->name : "a.out");
	set_rlimits(t, a);
	t->randomize = a->aslr > 0;
	t->cap_sys_rawio = t->cap_ipc_lock = t->cap_sys_admin = a->root != 0;
	return t;
}

/*
** bprm_mm_init() (fs/exec.c): the exec's new, empty mm, allocated by the task itself
** (the caller has entered it), so that its cgroup is charged.
*/
static int bprm_mm_init(memlab_task *t)
{
	memlab_machine *m = t->m;
	struct mm_struct *mm = allocate_mm(m);

	if (!mm)
		return -MEMLAB_ENOMEM;
	mm->machine = m;
	mm->mm_users = 1;
	mm->owner = t;
	if (pgd_alloc(m, mm)) {
		free_mm(m, mm);
		return -MEMLAB_ENOMEM;
	}
	t->mm = mm;
	init_new_context(m, mm);
	mm->task_size = task_size(m);
	mm->map_window = map_window(m);
	return 0;
}

/* The exec into t's new mm (t entered): the executable, the stack, the interpreter, the vDSO. */
static int exec_image(memlab_task *t, const struct memlab_spawn_args *a, const struct memlab_exe *x)
{
	memlab_machine *m = t->m;
	struct memlab_file *exe;
	int err;

	err = exe_file(m, a, m->page_size + PAGE_ALIGN_M(m, x->text) +
		       PAGE_ALIGN_M(m, x->rodata) + x->data, &exe);
	if (err || (err = bprm_mm_init(t)))
		return err;
	arch_pick_mmap_layout(t);
	if ((err = setup_stack(t)) || (err = load_image(t, exe, x, a->no_interp)) ||
	    (!a->no_interp && (err = load_interp(t))) || (err = map_vdso(t)))
		return err;
	randomize_brk(t, a->aslr, a->no_interp);
	return 0;
}

int memlab_spawn(memlab_machine *m, const struct memlab_spawn_args *a, memlab_task **out)
{
	static const struct memlab_exe default_exe = { 0x1000, 0x1000, 0x2000, 0 };
	struct memlab_spawn_args none = { 0 };
	const struct memlab_exe *x;
	memlab_task *t, *prev;
	int err;

	if (!a)
		a = &none;
	x = (a->exe.text | a->exe.rodata | a->exe.data | a->exe.bss) ? &a->exe : &default_exe;
	if (a->aslr < 0 || a->aslr > 2 || x->text > (1ull << 40) || x->rodata > (1ull << 40) ||
	    x->data > (1ull << 40) || x->bss > (1ull << 40))
		return -MEMLAB_EINVAL;
	if (m->dead)
		return -MEMLAB_EIO;
	t = task_alloc(m, a);
	if (!t)
		return -MEMLAB_ENOMEM;
	if (a->cgroup && (err = mem_cgroup_spawn(t, a->cgroup))) {
		task_free(t);
		return err;
	}
	t->cpu = tlb_pick_cpu(m);	/* not yet running: its first access loads its mm */
	t->pid = t->tgid = m->next_pid++;	/* the fork's: a failed exec uses one up */
	t->in_exec = true;
	prev = task_enter(t);
	err = exec_image(t, a, x);
	t->in_exec = false;
	if (!err) {
		t->next = m->tasks;
		m->tasks = t;
	}
	task_leave(t, prev);
	if (err) {
		task_free(t);
		return err;
	}
	*out = t;
	return 0;
}

/*
** do_exit()'s use of the mmap_lock before mmput(): acct_collect() reads
** the VM size when the thread group dies (BSD process accounting, which
** Debian's kernels have), exit_mm() takes it to leave the mm.
*/
static void exit_mm(memlab_task *t)
{
	bool group_dead = true;

	for (memlab_task *u = t->m->tasks; u; u = u->next)
		if (u != t && u->tgid == t->tgid)
			group_dead = false;
	if (group_dead) {
		mmap_read_lock(t->mm);
		mmap_read_unlock(t->mm);
	}
	mmap_read_lock(t->mm);
	mmap_read_unlock(t->mm);
}

void memlab_task_exit(memlab_task *t)
{
	memlab_machine *m = t->m;
	memlab_task **pp, *prev = task_enter(t);

	exit_mm(t);
	if (t->oom_victim)
		m->oom_victims--;
	for (pp = &m->tasks; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	tlb_exit_mm(t);
	task_free(t);
	m->current = prev == t ? NULL : prev;	/* t is gone */
	if (!m->current && m->memcg_reap_pending)
		memcg_reap(m);
}

int memlab_task_pid(const memlab_task *t)
{
	return t->pid;
}

int memlab_task_tgid(const memlab_task *t)
{
	return t->tgid;
}

memlab_machine *memlab_task_machine(const memlab_task *t)
{
	return t->m;
}

size_t memlab_tasks(memlab_machine *m, memlab_task **out, size_t n)
{
	size_t i = 0;

	for (memlab_task *t = m->tasks; t; t = t->next, i++)
		if (out && i < n)
			out[i] = t;
	return i;
}

memlab_task *memlab_find_task(memlab_machine *m, int pid)
{
	for (memlab_task *t = m->tasks; t; t = t->next)
		if (t->pid == pid)
			return t;
	return NULL;
}

/* Every task and file of a machine that is going away. */
void mm_release_all(memlab_machine *m)
{
	while (m->tasks) {
		memlab_task *t = m->tasks;

		m->tasks = t->next;
		task_free(t);
	}
	files_release(m);
}

/* The VMAs' references to files, into ptrs[] if given; their count. */
static size_t collect_file_refs(memlab_machine *m, const void **ptrs)
{
	memlab_task *t;
	size_t n = 0;

	for_each_mm_task(m, t)
		for (struct vm_area_struct *v = t->mm->mmap; v; v = v->vm_next) {
			if (!v->vm_file)
				continue;
			if (ptrs)
				ptrs[n] = v->vm_file;
			n++;
		}
	return n;
}

static size_t i_mmap_len(const struct memlab_file *f)
{
	size_t n = 0;

	for (const struct list_head *l = f->i_mmap.next; l != &f->i_mmap; l = l->next)
		n++;
	return n;
}

/* One violation about file f: "file PATH " and the message. */
static int file_violation(memlab_violation_fn fn, void *ud, const struct memlab_file *f,
			  const char *fmt, long long a, long long b)
{
	char msg[256];
	int k = snprintf(msg, sizeof(msg), "file %s ", f->path);

	snprintf(msg + k, sizeof(msg) - (size_t)k, fmt, a, b);
	if (fn)
		fn(ud, msg);
	return 1;
}

static bool on_file_list(memlab_machine *m, const struct memlab_file *f)
{
	for (const struct memlab_file *g = m->files; g; g = g->next)
		if (g == f)
			return true;
	return false;
}

/*
** A file's reference count is the number of VMAs mapping it, plus one
** while it is on the machine's list.  Violations found.
*/
static int check_file_refcounts(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	size_t n = collect_file_refs(m, NULL), i, j;
	const void **ptrs = ml_alloc(m, (n ? n : 1) * sizeof(*ptrs));
	int bad = 0;

	if (!ptrs)
		return 0;	/* no host memory: nothing to say */
	collect_file_refs(m, ptrs);
	qsort(ptrs, n, sizeof(*ptrs), ml_compare_ptrs);
	for (i = 0; i < n; i = j) {
		const struct memlab_file *f = ptrs[i];
		int64_t want;

		for (j = i; j < n && ptrs[j] == ptrs[i]; j++)
			;
		want = (int64_t)(j - i) + on_file_list(m, f);
		if (f->refcount != want)
			bad += file_violation(fn, ud, f, "has refcount %lld, %lld references",
					      (long long)f->refcount, (long long)want);
		if (i_mmap_len(f) != j - i)	/* each VMA on it: mm_validate() */
			bad += file_violation(fn, ud, f, "has %lld VMAs on its i_mmap, %lld map it",
					      (long long)i_mmap_len(f), (long long)(j - i));
	}
	for (const struct memlab_file *f = m->files; f; f = f->next)
		if (!list_empty(&f->i_mmap) && !bsearch(&f, ptrs, n, sizeof(*ptrs), ml_compare_ptrs))
			bad += file_violation(fn, ud, f, "is mapped by no VMA but has an i_mmap", 0ll, 0ll);
	ml_free(m, ptrs, (n ? n : 1) * sizeof(*ptrs));
	return bad;
}

/*
** The kernel objects' owners of cache kc, into addrs[] if given: every
** task, every mm, every VMA, every anon_vma; their count.
*/
static size_t kernel_obj_owners(memlab_machine *m, enum kernel_cache kc, uint64_t *addrs)
{
	memlab_task *t;
	size_t n = 0;

	if (kc == KC_ANON_VMA || kc == KC_ANON_VMA_CHAIN)
		return anon_vma_objects(m, kc, addrs);
	for (t = m->tasks; t && kc == KC_TASK_STRUCT; t = t->next, n++)
		if (addrs)
			addrs[n] = t->slab_obj;
	for_each_mm_task(m, t) {
		if (kc == KC_MM_STRUCT && addrs)
			addrs[n] = t->mm->slab_obj;
		n += kc == KC_MM_STRUCT;
		for (struct vm_area_struct *v = t->mm->mmap; v && kc == KC_VM_AREA_STRUCT; v = v->vm_next, n++)
			if (addrs)
				addrs[n] = v->slab_obj;
	}
	return n;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void kobj_violation(memlab_violation_fn fn, void *ud, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void kobj_violation(memlab_violation_fn fn, void *ud, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(ud, msg);
}

/* One cache: its owners' objects live in it, distinct, as many as it has in use. */
static int check_kernel_cache(memlab_machine *m, enum kernel_cache kc, const char *name,
			      memlab_violation_fn fn, void *ud)
{
	size_t n = kernel_obj_owners(m, kc, NULL);
	uint64_t *addrs = ml_alloc(m, (n ? n : 1) * sizeof(*addrs)), in_use;
	int bad = 0;

	if (!addrs)
		return 0;	/* no host memory: nothing to say */
	kernel_obj_owners(m, kc, addrs);
	qsort(addrs, n, sizeof(*addrs), compare_u64);
	for (size_t i = 0; i < n; i++) {
		if (!kernel_obj_live(m, kc, addrs[i])) {
			kobj_violation(fn, ud, "a %s's object 0x%llx is no live object of its cache",
				       name, (unsigned long long)addrs[i]);
			bad++;
		} else if (i && addrs[i] == addrs[i - 1]) {
			kobj_violation(fn, ud, "two %ss own the object 0x%llx", name,
				       (unsigned long long)addrs[i]);
			bad++;
		}
	}
	in_use = kernel_objs_in_use(m, kc);
	if (in_use != n) {
		kobj_violation(fn, ud, "the %s cache has %llu objects in use, memlab has %zu %ss",
			       name, (unsigned long long)in_use, n, name);
		bad++;
	}
	ml_free(m, addrs, (n ? n : 1) * sizeof(*addrs));
	return bad;
}

/*
** The kernel objects memlab keeps: each task, mm, VMA, anon_vma and
** anon_vma_chain owns one live object of its cache (slab.c), no two the
** same, and every object of those caches in use is owned -- none leaked,
** none freed under its owner.  Violations found.
*/
static int check_kernel_objects(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	static const struct { enum kernel_cache kc; const char *name; } caches[] = {
		{ KC_TASK_STRUCT, "task_struct" }, { KC_MM_STRUCT, "mm_struct" },
		{ KC_VM_AREA_STRUCT, "vm_area_struct" }, { KC_ANON_VMA, "anon_vma" },
		{ KC_ANON_VMA_CHAIN, "anon_vma_chain" },
	};
	int bad = 0;

	if (!m->slab)
		return 0;
	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++)
		bad += check_kernel_cache(m, caches[i].kc, caches[i].name, fn, ud);
	return bad;
}

/* Each mm's mm_users counts the tasks using it, and its owner is one of them. */
static int check_mm_users(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	int bad = 0;

	for (memlab_task *t = m->tasks; t; t = t->next) {
		int users = 0;

		for (memlab_task *u = m->tasks; u; u = u->next)
			users += u->mm == t->mm;
		if (users == t->mm->mm_users && t->mm->owner && t->mm->owner->mm == t->mm)
			continue;
		if (fn) {
			char msg[128];

			snprintf(msg, sizeof(msg), "pid %d: its mm has mm_users %d, %d tasks use it%s",
				 t->pid, t->mm->mm_users, users,
				 t->mm->owner && t->mm->owner->mm == t->mm ? "" : ", and its owner is not one");
			fn(ud, msg);
		}
		bad++;
	}
	return bad;
}

/*
** Every mm's mm_validate(), and Committed_AS: the sum of what the mms
** and the live shmem objects charged.  Returns the violations found.
*/
int mm_check_all(memlab_machine *m, memlab_violation_fn fn, void *ud)
{
	int64_t committed = 0;
	memlab_task *t;
	char who[48];
	int n = 0;

	for_each_mm_task(m, t) {
		snprintf(who, sizeof(who), "pid %d (%s)", t->pid, t->comm);
		n += mm_validate(t->mm, fn, ud, who);
		committed += (int64_t)t->mm->committed;
		if (t->mm->mmap_lock) {		/* every call releases what it took */
			char msg[96];

			snprintf(msg, sizeof(msg), "%s: mmap_lock still held (%d) between calls", who,
				 t->mm->mmap_lock);
			if (fn)
				fn(ud, msg);
			n++;
		}
	}
	n += check_mm_users(m, fn, ud);
	n += check_kernel_objects(m, fn, ud);
	committed += shmem_charged_pages(m) + m->vm_committed_leaked;
	n += check_file_refcounts(m, fn, ud) + anon_vma_check(m, fn, ud);
	if (committed != m->vm_committed_as) {
		char msg[128];

		snprintf(msg, sizeof(msg), "Committed_AS is %lld pages, the mms and shmem hold %lld",
			 (long long)m->vm_committed_as, (long long)committed);
		if (fn)
			fn(ud, msg);
		n++;
	}
	return n;
}

/* ===================== the VMA side of a fault ===================== */

/*
** expand_downwards(): grow a stack VMA down to addr (page-aligned): above
** mmap_min_addr, a guard gap above the previous VMA, within RLIMIT_STACK
** and RLIMIT_AS (acct_stack_growth), with the overcommit charge.
*/
int expand_stack_locked(memlab_task *t, struct vm_area_struct *vma, uint64_t addr)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *prev = vma->vm_prev;
	uint64_t grow, size;

	addr &= ~((uint64_t)t->m->page_size - 1);
	if (addr < mmap_min_addr(t->m))		/* the LSM floor, whoever asks */
		return -MEMLAB_EPERM;
	if (prev && !(prev->vm_flags & VM_GROWSDOWN) && (prev->vm_flags & VM_ACCESS_FLAGS) &&
	    addr - prev->vm_end < stack_guard_gap(t->m))
		return -MEMLAB_ENOMEM;
	if (prev && addr < prev->vm_end)
		return -MEMLAB_ENOMEM;
	if (anon_vma_prepare(vma))
		return -MEMLAB_ENOMEM;
	grow = (vma->vm_start - addr) >> t->m->page_shift;
	size = vma->vm_end - addr;
	if (!may_expand_vm(t, vma->vm_flags, grow) || size > t->rlim.stack)
		return -MEMLAB_ENOMEM;	/* acct_stack_growth() */
	if (!mlock_future_ok(t, vma->vm_flags, grow << t->m->page_shift))
		return -MEMLAB_ENOMEM;
	if (vm_enough_memory(t, (int64_t)grow))
		return -MEMLAB_ENOMEM;
	if (!(vma->vm_flags & VM_ACCOUNT)) {
		/* Linux charges the growth of any stack, but only a VM_ACCOUNT VMA gives
		 * it back at munmap: host-checked, the rest stays in Committed_AS */
		t->mm->committed -= grow;
		t->m->vm_committed_leaked += (int64_t)grow;
	}
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm += grow;
	vm_stat_account(mm, vma->vm_flags, (int64_t)grow);
	vma_set_range(mm, vma, addr, vma->vm_end, vma->vm_pgoff - grow);
	return 0;
}

/* ===================== inspection ===================== */

static void vma_info(const struct vm_area_struct *vma, struct memlab_vma_info *vi)
{
	unsigned shift = vma->vm_mm->machine->page_shift;

	memset(vi, 0, sizeof(*vi));
	vi->start = vma->vm_start;
	vi->end = vma->vm_end;
	vi->perms[0] = vma->vm_flags & VM_READ ? 'r' : '-';
	vi->perms[1] = vma->vm_flags & VM_WRITE ? 'w' : '-';
	vi->perms[2] = vma->vm_flags & VM_EXEC ? 'x' : '-';
	vi->perms[3] = vma->vm_flags & VM_MAYSHARE ? 's' : 'p';
	if (vma->vm_file) {
		vi->offset = vma->vm_pgoff << shift;
		vi->dev_major = vma->vm_file->dev_major;
		vi->dev_minor = vma->vm_file->dev_minor;
		vi->inode = vma->vm_file->ino;
	}
	vma_name(vma, vi->name, sizeof(vi->name));
	vi->vm_flags = vma->vm_flags;
	vi->anon_vma = vma->anon_vma != NULL;
	vi->anon_vma_id = vma->anon_vma ? vma->anon_vma->id : 0;
	for (const struct list_head *l = vma->anon_vma_chain.next; l != &vma->anon_vma_chain;
	     l = l->next)
		vi->anon_vma_chain++;
}

size_t memlab_vmas(memlab_task *t, struct memlab_vma_info *out, size_t n)
{
	size_t i = 0;

	for (struct vm_area_struct *vma = t->mm->mmap; vma; vma = vma->vm_next, i++)
		if (out && i < n)
			vma_info(vma, &out[i]);
	return i;
}

int memlab_find_vma(memlab_task *t, uint64_t addr, struct memlab_vma_info *out)
{
	struct vm_area_struct *vma = find_vma(t, addr);

	if (!vma)
		return -MEMLAB_ENOENT;
	if (out)
		vma_info(vma, out);
	return 0;
}

int memlab_mm_info(memlab_task *t, struct memlab_mm_info *info)
{
	struct mm_struct *mm = t->mm;

	memset(info, 0, sizeof(*info));
	info->total_vm = mm->total_vm;
	info->locked_vm = mm->locked_vm;
	info->pinned_vm = mm->pinned_vm;
	info->data_vm = mm->data_vm;
	info->exec_vm = mm->exec_vm;
	info->stack_vm = mm->stack_vm;
	info->hiwater_vm = mm->hiwater_vm > mm->total_vm ? mm->hiwater_vm : mm->total_vm;
	info->rss_anon = mm->rss_stat[MM_ANONPAGES];
	info->rss_file = mm->rss_stat[MM_FILEPAGES];
	info->rss_shmem = mm->rss_stat[MM_SHMEMPAGES];
	info->hiwater_rss = mm->hiwater_rss;
	info->pgtables_bytes = mm->pgtables_bytes;
	info->map_count = mm->map_count;
	info->start_code = mm->start_code;
	info->end_code = mm->end_code;
	info->start_data = mm->start_data;
	info->end_data = mm->end_data;
	info->start_brk = mm->start_brk;
	info->brk = mm->brk;
	info->start_stack = mm->start_stack;
	info->mmap_base = mm->mmap_base;
	info->task_size = mm->task_size;
	info->highest_vm_end = mm->highest_vm_end;
	info->vmacache_hits = mm->vmacache_hits;
	info->vmacache_misses = mm->vmacache_misses;
	info->committed_pages = mm->committed;
	info->owner_pid = mm->owner ? mm->owner->pid : 0;
	info->min_flt = t->min_flt;
	info->maj_flt = t->maj_flt;
	return 0;
}
