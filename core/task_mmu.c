/*
** task_mmu.c -- a task's /proc files: maps, smaps, smaps_rollup
** (fs/proc/task_mmu.c), status and statm (fs/proc/array.c), byte for byte
** in the format of Linux 6.18 on x86-64.
**
** Each renderer is one Linux function, printing into a strbuf what Linux
** prints into a seq_file.  The address-space numbers (VMAs, total_vm,
** data_vm, the rss counters, pgtables_bytes...) come from the mm; the
** lines of status that describe things memlab does not model (signals,
** credentials, capabilities, scheduling) print fixed text, the values a
** plain process started from a shell shows (see task_state() and
** task_sig() and the functions after them).
**
** Resident-page numbers (smaps' Rss, Pss, ...) come from one function,
** smap_gather_stats(), which walks the VMA's page tables and adds up each
** mapped page with Linux's smaps_account().
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mm.h"

/*
** show_vma_header_prefix() calls seq_setwidth(m, 25 + sizeof(void *) * 6
** - 1): a name is padded to start after column 72 (0-based 73).
*/
#define MAPS_NAME_WIDTH		(25 + 8 * 6 - 1)
#define PSS_SHIFT		12	/* fixed-point Pss (fs/proc/task_mmu.c) */

/* x86-64's gate VMA (arch/x86/entry/vsyscall: vsyscall=xonly, 6.x default) */
#define VSYSCALL_ADDR		0xffffffffff600000ull

/* ===================== names ===================== */

/*
** get_vma_name(), 6.18's order: a file's path, then vm_ops->name()
** (special_name: "[vdso]", "[vvar]"...), "[vdso]" for a VMA without an mm
** (the gate VMA), then "[heap]" (vma_is_initial_heap), then "[stack]"
** (vma_is_initial_stack); anonymous VMAs have no name (memlab has no
** CONFIG_ANON_VMA_NAME, like the host).  Returns the name and leaves
** *file NULL, or returns NULL with *file set (the caller prints the
** path), or NULL with *file NULL for no name.
*/
static const char *get_vma_name(const struct vm_area_struct *vma,
				const struct memlab_file **file)
{
	const struct mm_struct *mm = vma->vm_mm;

	*file = vma->vm_file;
	if (vma->vm_file)
		return NULL;
	if (vma->special_name)
		return vma->special_name;
	if (!mm)
		return "[vdso]";
	if (vma->vm_start < mm->brk && vma->vm_end > mm->start_brk)
		return "[heap]";
	if (vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack)
		return "[stack]";
	return NULL;
}

/*
** The name /proc/PID/maps shows for vma, NUL-terminated in buf (truncated
** to size - 1 bytes): a file's path with " (deleted)" for a deleted file
** (the shmem object of MAP_SHARED|MAP_ANONYMOUS shows "/dev/zero
** (deleted)"), "[vdso]", "[heap]", "[stack]"..., or "" for an anonymous
** VMA.  Unlike maps, the path is not escaped.
*/
void vma_name(const struct vm_area_struct *vma, char *buf, size_t size)
{
	const struct memlab_file *file;
	const char *name;

	if (!buf || size == 0)
		return;
	name = get_vma_name(vma, &file);
	if (file) {
		snprintf(buf, size, "%s%s", file->path, file->deleted ? " (deleted)" : "");
	} else {
		size_t n = name ? strnlen(name, size - 1) : 0;	/* no printf: find_vma's hot path */

		memcpy(buf, name ? name : "", n);
		buf[n] = '\0';
	}
}

/* ===================== maps ===================== */

/*
** show_vma_header_prefix(): "start-end perms offset major:minor inode "
** with seq_put_hex_ll's minimum widths (8, 8, 8, 2, 2).  Returns the
** offset in sb where the line began, for seq_pad().
*/
static size_t show_vma_header_prefix(struct strbuf *sb, uint64_t start, uint64_t end,
				     uint64_t flags, uint64_t pgoff, unsigned major,
				     unsigned minor, uint64_t ino)
{
	size_t line = sb->len;

	sb_printf(sb, "%08" PRIx64 "-%08" PRIx64 " %c%c%c%c %08" PRIx64 " %02x:%02x %" PRIu64 " ",
		  start, end,
		  flags & VM_READ ? 'r' : '-',
		  flags & VM_WRITE ? 'w' : '-',
		  flags & VM_EXEC ? 'x' : '-',
		  flags & VM_MAYSHARE ? 's' : 'p',
		  pgoff, major, minor, ino);
	return line;
}

/*
** seq_pad(m, ' '): spaces until the line is MAPS_NAME_WIDTH characters
** long (none when it is longer already), then one more space.
*/
static void seq_pad(struct strbuf *sb, size_t line)
{
	size_t used = sb->len - line;

	if (!sb->err && used < MAPS_NAME_WIDTH)
		sb_printf(sb, "%*s", (int)(MAPS_NAME_WIDTH - used), "");
	sb_printf(sb, " ");
}

/* seq_path(m, path, "\n"): the path with '\n' escaped as mangle_path does, "\012". */
static void seq_path(struct strbuf *sb, const struct memlab_file *file)
{
	for (const char *p = file->path; *p; p++) {
		if (*p == '\n')
			sb_printf(sb, "\\012");
		else
			sb_printf(sb, "%c", *p);
	}
	if (file->deleted)
		sb_printf(sb, " (deleted)");
}

/*
** show_map_vma(): one line of maps.  Offset, device and inode are the
** file's; an anonymous VMA shows 00000000 00:00 0 whatever its vm_pgoff.
*/
static void show_map_vma(memlab_machine *m, struct strbuf *sb,
			 const struct vm_area_struct *vma)
{
	const struct memlab_file *file = vma->vm_file;
	const char *name;
	uint64_t pgoff = 0, ino = 0;
	unsigned major = 0, minor = 0;
	size_t line;

	if (file) {
		major = file->dev_major;
		minor = file->dev_minor;
		ino = file->ino;
		pgoff = vma->vm_pgoff << m->page_shift;
	}
	line = show_vma_header_prefix(sb, vma->vm_start, vma->vm_end, vma->vm_flags,
				      pgoff, major, minor, ino);
	name = get_vma_name(vma, &file);
	if (file) {
		seq_pad(sb, line);
		seq_path(sb, file);
	} else if (name) {
		seq_pad(sb, line);
		sb_printf(sb, "%s", name);
	}
	sb_printf(sb, "\n");
}

/*
** get_gate_vma(): x86-64 appends the vsyscall page to maps and smaps (not
** to smaps_rollup); it belongs to no mm.  arm64 has none.
*/
static const struct vm_area_struct *get_gate_vma(memlab_machine *m,
						 struct vm_area_struct *gate)
{
	if (m->arch != MEMLAB_ARCH_X86_64)
		return NULL;
	memset(gate, 0, sizeof(*gate));
	gate->vm_start = VSYSCALL_ADDR;
	gate->vm_end = VSYSCALL_ADDR + 4096;
	gate->vm_flags = VM_EXEC;		/* vsyscall=xonly */
	gate->special_name = "[vsyscall]";	/* gate_vma_name() */
	return gate;
}

static void show_maps(memlab_task *t, struct strbuf *sb)
{
	struct vm_area_struct gate;
	const struct vm_area_struct *g;

	for (const struct vm_area_struct *vma = t->mm->mmap; vma; vma = vma->vm_next)
		show_map_vma(t->m, sb, vma);
	if ((g = get_gate_vma(t->m, &gate)))
		show_map_vma(t->m, sb, g);
}

/* ===================== smaps ===================== */

/* What smaps counts for a VMA or, summed, for smaps_rollup (bytes; pss << PSS_SHIFT). */
struct mem_size_stats {
	uint64_t resident;
	uint64_t shared_clean, shared_dirty;
	uint64_t private_clean, private_dirty;
	uint64_t referenced;
	uint64_t anonymous;
	uint64_t lazyfree;
	uint64_t anonymous_thp, shmem_thp, file_thp;
	uint64_t swap;
	uint64_t shared_hugetlb, private_hugetlb;
	uint64_t ksm;
	uint64_t pss, pss_anon, pss_file, pss_shmem, pss_dirty, pss_locked;
	uint64_t swap_pss;
};

/* One present page of a VMA, as a page-table walk finds it. */
struct smaps_page {
	uint64_t size;		/* bytes: a page, or a PMD for a huge page */
	int mapcount;		/* page tables mapping it (page_mapcount) */
	bool anon;		/* folio_test_anon */
	bool swapbacked;	/* shmem, or anon not MADV_FREEd */
	bool young, dirty;	/* PTE accessed and dirty bits, or the folio's flags */
};

/*
** smaps_account() for one present page (6.18, the per-page path): anon /
** swapbacked (shmem) / file decides which Pss_* it adds to; a page mapped
** by mapcount >= 2 page tables is shared and adds size / mapcount to Pss;
** a page of a VM_LOCKED VMA adds its Pss to Locked.
*/
static void smaps_account(struct mem_size_stats *mss, const struct smaps_page *pg,
			  bool locked)
{
	bool private = pg->mapcount < 2;
	uint64_t size = pg->size, pss = size << PSS_SHIFT;

	if (pg->anon) {
		mss->anonymous += size;
		if (!pg->swapbacked && !pg->dirty)
			mss->lazyfree += size;
	}
	mss->resident += size;
	if (pg->young)
		mss->referenced += size;
	if (!private)
		pss /= (uint64_t)pg->mapcount;
	mss->pss += pss;
	if (pg->anon)
		mss->pss_anon += pss;
	else if (pg->swapbacked)
		mss->pss_shmem += pss;
	else
		mss->pss_file += pss;
	if (locked)
		mss->pss_locked += pss;
	if (pg->dirty) {
		mss->pss_dirty += pss;
		*(private ? &mss->private_dirty : &mss->shared_dirty) += size;
	} else {
		*(private ? &mss->private_clean : &mss->shared_clean) += size;
	}
}

struct smaps_walk {
	const struct vm_area_struct *vma;
	struct mem_size_stats *mss;
};

/* A swap entry: Swap, and SwapPss shared among the entries naming the slot. */
static void smaps_swap_entry(struct smaps_walk *w, uint64_t e)
{
	memlab_machine *m = w->vma->vm_mm->machine;
	uint64_t slot, count;
	bool exclusive;

	if (!m->swap || !pt_swap_entry(&w->vma->vm_mm->pt, e, &slot, &exclusive) ||
	    slot > m->swap->pages)
		return;
	count = m->swap->swap_map[slot] & ~SWAP_HAS_CACHE;
	w->mss->swap += m->page_size;
	w->mss->swap_pss += ((uint64_t)m->page_size << PSS_SHIFT) / (count ? count : 1);
}

/*
** smaps_pte_entry(): a present (or PROT_NONE) entry of a normal page is
** accounted -- vm_normal_page() leaves the zero page out -- with the
** entry's young and dirty bits or the folio's own referenced and dirty
** flags (smaps_account: an old entry of a page marked accessed, as GUP
** marks the pages it populates, is Referenced all the same).  Each page
** is shared by its precise mapcount (folio_precise_page_mapcount: its
** PTEs and its folio's PMDs), so a huge PMD counts page by page.
*/
static int smaps_pte_entry(void *ud, uint64_t va, unsigned level, uint64_t table,
			   uint64_t idx, uint64_t e)
{
	struct smaps_walk *w = ud;
	memlab_machine *m = w->vma->vm_mm->machine;
	struct smaps_page pg;
	const struct page *page;
	struct pt_prot p;
	uint64_t pfn;

	(void)va;
	pt_decode(&w->vma->vm_mm->pt, (int)level, e, &pfn, &p);
	if (level == 0 && !pt_prot_maps(&p)) {
		smaps_swap_entry(w, e);
		return 0;
	}
	if (level == 0 && p.cont)	/* ptep_get(): an arm64 block's young and dirty bits */
		pt_decode(&w->vma->vm_mm->pt, 0, ptep_get(m, &w->vma->vm_mm->pt, table, idx), &pfn, &p);
	if (!pt_prot_maps(&p) || p.special || pfn >= m->nr_frames)
		return 0;
	page = pfn_folio(m, pfn);
	pg.size = m->page_size;
	pg.anon = page_anon(page);
	pg.swapbacked = page->flags & PG_swapbacked;
	pg.young = p.accessed || (page->flags & PG_referenced);
	pg.dirty = p.dirty || (page->flags & PG_dirty);
	for (uint64_t i = 0; i < pt_level_size(&w->vma->vm_mm->pt, level) >> m->page_shift; i++) {
		pg.mapcount = page_mapcount(m, pfn + i);
		smaps_account(w->mss, &pg, (w->vma->vm_flags & VM_LOCKED) != 0);
	}
	if (level && pg.anon)		/* smaps_pmd_entry() */
		w->mss->anonymous_thp += pt_level_size(&w->vma->vm_mm->pt, level);
	else if (level && pg.swapbacked)
		w->mss->shmem_thp += pt_level_size(&w->vma->vm_mm->pt, level);
	else if (level)
		w->mss->file_thp += pt_level_size(&w->vma->vm_mm->pt, level);
	return 0;
}

/* smap_gather_stats(): add the pages vma's page tables map to mss. */
static void smap_gather_stats(const struct vm_area_struct *vma, struct mem_size_stats *mss)
{
	struct smaps_walk w = { vma, mss };

	if (!vma->vm_mm)	/* the gate VMA: no page tables of its own */
		return;
	pt_walk_range(vma->vm_mm->machine, vma->vm_mm, vma->vm_start, vma->vm_end,
		      smaps_pte_entry, &w);
}

/* SEQ_PUT_DEC of __show_smap: label, then bytes >> 10 right-aligned in 8. */
static void smap_dec(struct strbuf *sb, const char *label, uint64_t bytes)
{
	sb_printf(sb, "%s%8" PRIu64 " kB\n", label, bytes >> 10);
}

/* __show_smap(): the fields smaps and smaps_rollup share. */
static void __show_smap(struct strbuf *sb, const struct mem_size_stats *mss, bool rollup_mode)
{
	smap_dec(sb, "Rss:            ", mss->resident);
	smap_dec(sb, "Pss:            ", mss->pss >> PSS_SHIFT);
	smap_dec(sb, "Pss_Dirty:      ", mss->pss_dirty >> PSS_SHIFT);
	if (rollup_mode) {
		smap_dec(sb, "Pss_Anon:       ", mss->pss_anon >> PSS_SHIFT);
		smap_dec(sb, "Pss_File:       ", mss->pss_file >> PSS_SHIFT);
		smap_dec(sb, "Pss_Shmem:      ", mss->pss_shmem >> PSS_SHIFT);
	}
	smap_dec(sb, "Shared_Clean:   ", mss->shared_clean);
	smap_dec(sb, "Shared_Dirty:   ", mss->shared_dirty);
	smap_dec(sb, "Private_Clean:  ", mss->private_clean);
	smap_dec(sb, "Private_Dirty:  ", mss->private_dirty);
	smap_dec(sb, "Referenced:     ", mss->referenced);
	smap_dec(sb, "Anonymous:      ", mss->anonymous);
	smap_dec(sb, "KSM:            ", mss->ksm);
	smap_dec(sb, "LazyFree:       ", mss->lazyfree);
	smap_dec(sb, "AnonHugePages:  ", mss->anonymous_thp);
	smap_dec(sb, "ShmemPmdMapped: ", mss->shmem_thp);
	smap_dec(sb, "FilePmdMapped:  ", mss->file_thp);
	smap_dec(sb, "Shared_Hugetlb: ", mss->shared_hugetlb);
	sb_printf(sb, "Private_Hugetlb: %7" PRIu64 " kB\n", mss->private_hugetlb >> 10);
	smap_dec(sb, "Swap:           ", mss->swap);
	smap_dec(sb, "SwapPss:        ", mss->swap_pss >> PSS_SHIFT);
	smap_dec(sb, "Locked:         ", mss->pss_locked >> PSS_SHIFT);
}

/*
** THPeligible: thp_vma_allowable_orders(vma, TVA_SMAPS|TVA_ENFORCE_SYSFS)
** != 0, with the machine's transparent_hugepage settings (m:thp()) and
** the reference host's kernel: shmem_enabled = never, no MMF_DISABLE_THP,
** no DAX, and no CONFIG_READ_ONLY_THP_FOR_FS (so no file THP: a regular
** file's VMA is 0, as the host's smaps shows for an 8 MiB file mapped
** 2 MiB-aligned with MADV_HUGEPAGE).  That leaves:
**   - no mm (the gate VMA), VM_NOHUGEPAGE, hugetlb: 0;
**   - a file, the shmem object of MAP_SHARED|MAP_ANONYMOUS included: 0;
**   - a special mapping ([vdso], ...): 0 (vm_ops without huge_fault);
**   - anonymous: 1 when a size enabled for the VMA (hugepages-<size>kB,
**     PMD size included) fits inside it, aligned (smaps says 1 even
**     before the VMA has an anon_vma).
*/
static unsigned thp_eligible(memlab_machine *m, const struct vm_area_struct *vma)
{
	uint64_t flags = vma->vm_flags;

	if (!vma->vm_mm || (flags & (VM_NOHUGEPAGE | VM_HUGETLB)) || vma->vm_file)
		return 0;
	return thp_vma_allowable_orders(m, vma, flags, TVA_SMAPS, thp_orders_all_anon(m)) != 0;
}

/*
** show_smap_vma_flags(): the two-letter mnemonic of every set bit, each
** followed by a space, in bit order.  x86-64's table: VM_ARCH_1 is VM_PAT
** ("ar"); "sd" needs CONFIG_MEM_SOFT_DIRTY (memlab leaves VM_SOFTDIRTY
** clear, as the host shows no "sd"); of the high bits memlab sets only
** VM_DROPPABLE ("dp", bit 40); bits without a name print "??".
*/
static void show_smap_vma_flags(struct strbuf *sb, const struct vm_area_struct *vma)
{
	static const char mnemonics[32][3] = {
		"rd", "wr", "ex", "sh", "mr", "mw", "me", "ms",		/* 0-7 */
		"gd", "um", "pf", "??", "uw", "lo", "io", "sr",		/* 8-15 */
		"rr", "dc", "de", "lf", "ac", "nr", "ht", "sf",		/* 16-23 */
		"ar", "wf", "dd", "sd", "mm", "hg", "nh", "mg",		/* 24-31 */
	};

	sb_printf(sb, "VmFlags: ");
	for (unsigned i = 0; i < 64; i++) {
		if (!(vma->vm_flags & (1ull << i)))
			continue;
		sb_printf(sb, "%s ", i < 32 ? mnemonics[i] : (1ull << i) == VM_DROPPABLE ? "dp" : "??");
	}
	sb_printf(sb, "\n");
}

/* show_smap(): the maps line, Size and the page sizes, the counts, THPeligible, VmFlags. */
static void show_smap(memlab_machine *m, struct strbuf *sb, const struct vm_area_struct *vma)
{
	struct mem_size_stats mss = { 0 };

	smap_gather_stats(vma, &mss);
	show_map_vma(m, sb, vma);
	smap_dec(sb, "Size:           ", vma->vm_end - vma->vm_start);
	smap_dec(sb, "KernelPageSize: ", vma_kernel_pagesize(m, vma));	/* a hugetlb VMA's huge page */
	smap_dec(sb, "MMUPageSize:    ", vma_kernel_pagesize(m, vma));
	__show_smap(sb, &mss, false);
	sb_printf(sb, "THPeligible:    %8u\n", thp_eligible(m, vma));
	/* no "ProtectionKey:" line: the host has no protection keys */
	show_smap_vma_flags(sb, vma);
}

static void show_smaps(memlab_task *t, struct strbuf *sb)
{
	struct vm_area_struct gate;
	const struct vm_area_struct *g;

	for (const struct vm_area_struct *vma = t->mm->mmap; vma; vma = vma->vm_next)
		show_smap(t->m, sb, vma);
	if ((g = get_gate_vma(t->m, &gate)))
		show_smap(t->m, sb, g);
}

/*
** show_smaps_rollup(): "first start-last end ---p 00000000 00:00 0" padded,
** "[rollup]", then the sums with Pss_Anon/File/Shmem.  The gate VMA is
** not part of the mm and is not counted; an mm without VMAs shows
** 00000000-00000000.
*/
static void show_smaps_rollup(memlab_task *t, struct strbuf *sb)
{
	struct mem_size_stats mss = { 0 };
	uint64_t vma_start = 0, last_vma_end = 0;
	size_t line;

	for (const struct vm_area_struct *vma = t->mm->mmap; vma; vma = vma->vm_next) {
		if (vma == t->mm->mmap)
			vma_start = vma->vm_start;
		smap_gather_stats(vma, &mss);
		last_vma_end = vma->vm_end;
	}
	line = show_vma_header_prefix(sb, vma_start, last_vma_end, 0, 0, 0, 0, 0);
	seq_pad(sb, line);
	sb_printf(sb, "[rollup]\n");
	__show_smap(sb, &mss, true);
}

/* ===================== status ===================== */

static uint64_t pages_kb(const memlab_machine *m, uint64_t pages)
{
	return pages << (m->page_shift - 10);
}

/* PAGE_ALIGN(end_code) - (start_code & PAGE_MASK), in bytes: the text of the image. */
static uint64_t task_text_bytes(const memlab_machine *m, const struct mm_struct *mm)
{
	uint64_t start = mm->start_code & ~((uint64_t)m->page_size - 1);
	uint64_t end = PAGE_ALIGN_M(m, mm->end_code);

	return end > start ? end - start : 0;
}

/*
** proc_task_name(m, task, true): comm with '\n' and '\\' escaped
** (seq_escape_str(..., ESCAPE_SPACE | ESCAPE_SPECIAL, "\n\\")).
*/
static void proc_task_name(struct strbuf *sb, const memlab_task *t)
{
	for (size_t i = 0; i < sizeof(t->comm) && t->comm[i]; i++) {
		if (t->comm[i] == '\n')
			sb_printf(sb, "\\n");
		else if (t->comm[i] == '\\')
			sb_printf(sb, "\\\\");
		else
			sb_printf(sb, "%c", t->comm[i]);
	}
}

/* get_nr_threads(): the tasks of t's thread group. */
static int thread_group_size(const memlab_task *t)
{
	int n = 0;

	for (const memlab_task *u = t->m->tasks; u; u = u->next)
		n += u->tgid == t->tgid;
	return n;
}

/*
** task_state().  Fixed text: umask 0022, state "S (sleeping)" (a memlab
** task runs only inside a call, never while its status is read), no NUMA
** group, parent pid 1 (memlab keeps no parent; pid 1 shows 0, as init
** does), not traced, 64 file descriptors (NR_OPEN_DEFAULT), no
** supplementary groups, one pid namespace, and the thread group leads
** its own process group and session.
** uid and gid are 0 for a root task, 1000 otherwise.
*/
static void task_state(memlab_task *t, struct strbuf *sb)
{
	unsigned id = task_uid(t);

	sb_printf(sb, "Umask:\t0022\n");
	sb_printf(sb, "State:\tS (sleeping)\n");
	sb_printf(sb, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n",
		  t->tgid, t->pid, t->pid == 1 ? 0 : 1);
	sb_printf(sb, "Uid:\t%u\t%u\t%u\t%u\n", id, id, id, id);
	sb_printf(sb, "Gid:\t%u\t%u\t%u\t%u\n", id, id, id, id);
	sb_printf(sb, "FDSize:\t64\n");
	sb_printf(sb, "Groups:\t \n");		/* Linux's trailing space */
	sb_printf(sb, "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n",
		  t->tgid, t->pid, t->tgid, t->tgid);
	sb_printf(sb, "Kthread:\t0\n");
}

/* SEQ_PUT_DEC of task_mem(): label, kB right-aligned in 8. */
static void status_kb(struct strbuf *sb, const char *label, uint64_t kb)
{
	sb_printf(sb, "%s:\t%8" PRIu64 " kB\n", label, kb);
}

/*
** task_mem(): the Vm and Rss lines.  Peaks are max(hiwater, current) as
** Linux reads them; text is the image's code range capped at exec_vm,
** and the rest of exec_vm is VmLib.  HugetlbPages is 0: memlab has no
** hugetlb pages.
*/
static void task_mem(memlab_task *t, struct strbuf *sb)
{
	memlab_machine *m = t->m;
	const struct mm_struct *mm = t->mm;
	uint64_t anon = mm->rss_stat[MM_ANONPAGES];
	uint64_t file = mm->rss_stat[MM_FILEPAGES];
	uint64_t shmem = mm->rss_stat[MM_SHMEMPAGES];
	uint64_t total_rss = anon + file + shmem;
	uint64_t hiwater_vm = mm->hiwater_vm > mm->total_vm ? mm->hiwater_vm : mm->total_vm;
	uint64_t hiwater_rss = mm->hiwater_rss > total_rss ? mm->hiwater_rss : total_rss;
	uint64_t exec_bytes = mm->exec_vm << m->page_shift;
	uint64_t text = task_text_bytes(m, mm);
	uint64_t lib;

	if (text > exec_bytes)
		text = exec_bytes;
	lib = exec_bytes - text;
	status_kb(sb, "VmPeak", pages_kb(m, hiwater_vm));
	status_kb(sb, "VmSize", pages_kb(m, mm->total_vm));
	status_kb(sb, "VmLck", pages_kb(m, mm->locked_vm));
	status_kb(sb, "VmPin", pages_kb(m, mm->pinned_vm));
	status_kb(sb, "VmHWM", pages_kb(m, hiwater_rss));
	status_kb(sb, "VmRSS", pages_kb(m, total_rss));
	status_kb(sb, "RssAnon", pages_kb(m, anon));
	status_kb(sb, "RssFile", pages_kb(m, file));
	status_kb(sb, "RssShmem", pages_kb(m, shmem));
	status_kb(sb, "VmData", pages_kb(m, mm->data_vm));
	status_kb(sb, "VmStk", pages_kb(m, mm->stack_vm));
	status_kb(sb, "VmExe", text >> 10);
	status_kb(sb, "VmLib", lib >> 10);
	status_kb(sb, "VmPTE", mm->pgtables_bytes >> 10);
	status_kb(sb, "VmSwap", pages_kb(m, mm->rss_stat[MM_SWAPENTS]));
	status_kb(sb, "HugetlbPages", 0);	/* hugetlb_report_usage() */
}

/*
** RLIMIT_SIGPENDING as Linux sets it at boot: max_threads / 2, where
** set_max_threads() allows the threads whose stacks (THREAD_SIZE: 16 KiB
** on x86-64, max(16 KiB, page) on arm64) fill an eighth of RAM
** (totalram_pages: the zones' managed pages), at least 20.
*/
static uint64_t sigpending_rlimit(const memlab_machine *m)
{
	uint64_t totalram = 0, thread_size = 16384, threads;

	for (int i = 0; i < m->nr_zones; i++)
		totalram += m->zones[i].managed_pages;
	if (m->arch == MEMLAB_ARCH_ARM64 && m->page_size > thread_size)
		thread_size = m->page_size;
	threads = totalram * m->page_size / (thread_size * 8);
	if (threads < 20)
		threads = 20;
	if (threads > 0x3fffffff)	/* FUTEX_TID_MASK */
		threads = 0x3fffffff;
	return threads / 2;
}

/*
** The lines after the memory ones, fixed text except SigQ's limit and the
** capabilities: one thread, no signal pending, blocked, ignored or caught;
** a root task has every capability (CAP_LAST_CAP 40), another none; no
** seccomp; the host's speculation-control answers; the machine's one CPU;
** node 0 of a 1024-node nodemask (Debian's NODES_SHIFT 10); no context
** switch.
*/
static void task_rest(memlab_task *t, struct strbuf *sb)
{
	static const char *const sigsets[] = { "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt" };
	uint64_t cap_all = (1ull << 41) - 1;
	uint64_t cap = task_is_root(t) ? cap_all : 0;

	if (t->mm) {
		sb_printf(sb, "CoreDumping:\t0\n");
		sb_printf(sb, "THP_enabled:\t1\n");
		sb_printf(sb, "untag_mask:\t%#" PRIx64 "\n", UINT64_MAX);	/* no LAM / TBI tagging */
	}
	sb_printf(sb, "Threads:\t%d\n", thread_group_size(t));
	sb_printf(sb, "SigQ:\t0/%" PRIu64 "\n", sigpending_rlimit(t->m));
	for (size_t i = 0; i < sizeof(sigsets) / sizeof(sigsets[0]); i++)
		sb_printf(sb, "%s:\t%016" PRIx64 "\n", sigsets[i], (uint64_t)0);
	sb_printf(sb, "CapInh:\t%016" PRIx64 "\n", (uint64_t)0);
	sb_printf(sb, "CapPrm:\t%016" PRIx64 "\n", cap);
	sb_printf(sb, "CapEff:\t%016" PRIx64 "\n", cap);
	sb_printf(sb, "CapBnd:\t%016" PRIx64 "\n", cap_all);
	sb_printf(sb, "CapAmb:\t%016" PRIx64 "\n", (uint64_t)0);
	sb_printf(sb, "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
	sb_printf(sb, "Speculation_Store_Bypass:\tvulnerable\n");
	sb_printf(sb, "SpeculationIndirectBranch:\talways enabled\n");
	sb_printf(sb, "Cpus_allowed:\t1\nCpus_allowed_list:\t0\n");
	sb_printf(sb, "Mems_allowed:\t");
	for (int i = 0; i < 31; i++)
		sb_printf(sb, "00000000,");
	sb_printf(sb, "00000001\nMems_allowed_list:\t0\n");
	sb_printf(sb, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
}

/* proc_pid_status(): Name, task_state, task_mem and the rest. */
static void show_status(memlab_task *t, struct strbuf *sb)
{
	sb_printf(sb, "Name:\t");
	proc_task_name(sb, t);
	sb_printf(sb, "\n");
	task_state(t, sb);
	if (t->mm)
		task_mem(t, sb);
	task_rest(t, sb);
}

/* ===================== statm ===================== */

/* proc_pid_statm() with task_statm(): size resident shared text lib data dt, in pages. */
static void show_statm(memlab_task *t, struct strbuf *sb)
{
	const struct mm_struct *mm = t->mm;
	uint64_t shared, resident, text;

	if (!mm) {
		sb_printf(sb, "0 0 0 0 0 0 0\n");
		return;
	}
	shared = mm->rss_stat[MM_FILEPAGES] + mm->rss_stat[MM_SHMEMPAGES];
	resident = shared + mm->rss_stat[MM_ANONPAGES];
	text = task_text_bytes(t->m, mm) >> t->m->page_shift;
	sb_printf(sb, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " 0 %" PRIu64 " 0\n",
		  mm->total_vm, resident, shared, text, mm->data_vm + mm->stack_vm);
}

/* ===================== clear_refs ===================== */

enum { CLEAR_REFS_ALL = 1, CLEAR_REFS_ANON, CLEAR_REFS_MAPPED, CLEAR_REFS_SOFT_DIRTY,
       CLEAR_REFS_MM_HIWATER_RSS, CLEAR_REFS_LAST };

/*
** clear_refs_pte_range() for one leaf: a PTE mapping a normal page
** (vm_normal_folio: not the zero page) or a present huge PMD (pmd_folio:
** the huge zero page too) is made old, and its folio loses PG_referenced
** -- without a TLB flush: a CPU whose TLB holds the translation sets no
** accessed bit on its next use of it, as on a real CPU.
*/
static int clear_refs_entry(void *ud, uint64_t va, unsigned level, uint64_t table,
			    uint64_t idx, uint64_t e)
{
	memlab_task *t = ud;
	struct pt_prot p;
	uint64_t pfn;

	pt_decode(&t->mm->pt, (int)level, e, &pfn, &p);
	if (!pt_prot_maps(&p) || (p.special && !level) || pfn >= t->m->nr_frames)
		return 0;	/* not present, or no vm_normal_folio() */
	if (!level)		/* an arm64 block's bit goes for all its entries */
		ptep_test_and_clear_young(t, va, table, idx, false);
	else if (p.accessed) {
		p.accessed = false;
		pt_write(t->m, table, idx, pt_mkentry(&t->mm->pt, (int)level, pfn, p));
	}
	pfn_folio(t->m, pfn)->flags &= ~PG_referenced;
	return 0;
}

/* clear_refs_test_walk(): the VMAs the type's walk skips. */
static bool clear_refs_skips(const struct vm_area_struct *vma, int type)
{
	return (vma->vm_flags & VM_PFNMAP) || is_vm_hugetlb_page(vma) ||
	       (type == CLEAR_REFS_ANON && vma->vm_file) ||
	       (type == CLEAR_REFS_MAPPED && !vma->vm_file);
}

/*
** clear_refs_write(), the value already parsed, under the mmap write lock:
** 5 resets the peak RSS (VmHWM) to the RSS; 1..3 walk every (2: only
** anonymous, 3: only file-backed) VMA; 4 clears soft-dirty bits, which
** memlab, like its reference host, does not have (CONFIG_MEM_SOFT_DIRTY
** off): the walk changes nothing, and then the TLBs are flushed.
*/
static int clear_refs(memlab_task *t, int type)
{
	struct mm_struct *mm = t->mm;

	if (type < CLEAR_REFS_ALL || type >= CLEAR_REFS_LAST)
		return -MEMLAB_EINVAL;
	if (!mm)
		return 0;
	mmap_write_lock(mm);
	if (type == CLEAR_REFS_MM_HIWATER_RSS) {
		mm->hiwater_rss = get_mm_rss(mm);	/* reset_mm_hiwater_rss() */
	} else if (type == CLEAR_REFS_SOFT_DIRTY) {
		flush_tlb_mm(t);
	} else {
		for (struct vm_area_struct *vma = mm->mmap; vma; vma = vma->vm_next)
			if (!clear_refs_skips(vma, type))
				pt_walk_range(t->m, mm, vma->vm_start, vma->vm_end, clear_refs_entry, t);
	}
	mmap_write_unlock(mm);
	return 0;
}

int memlab_clear_refs(memlab_task *t, int type)
{
	memlab_task *prev;
	int ret;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	ret = clear_refs(t, type);
	task_leave(t, prev);
	return ret;
}

/* ===================== pagemap ===================== */

#define MAX_SWAPFILES_SHIFT	5	/* a swap entry's frame: type | offset << 5 */

/*
** pte_to_pagemap_entry() for the leaf found at va, and
** pagemap_pmd_range_thp() for a page of a huge leaf, as a reader with
** CAP_SYS_ADMIN sees it (pm->show_pfn).  A present entry gives its frame;
** its folio -- vm_normal_page() for a PTE, so not the zero page; the huge
** page itself for a PMD, the huge zero page included -- then says file or
** anonymous, and a folio that one page table maps is exclusive (a huge
** leaf's mapping counts for each of its pages).  A swap entry gives type
** | offset << MAX_SWAPFILES_SHIFT.  No soft-dirty bit: memlab, like its
** reference host, has no CONFIG_MEM_SOFT_DIRTY; no uffd-wp, no guard
** regions.
*/
static uint64_t pagemap_entry(memlab_task *t, uint64_t va)
{
	memlab_machine *m = t->m;
	const struct pt_format *f = &t->mm->pt;
	uint64_t e, pfn, slot, flags;
	const struct page *folio;
	struct pt_walk w;
	struct pt_prot p;
	bool exclusive;

	if (pt_walk(m, t->mm, va, &w) == -MEMLAB_EINVAL)
		return 0;	/* no tables span va */
	e = w.entry[w.nr_levels - 1];
	pt_decode(f, (int)w.level, e, &pfn, &p);
	if (!pt_prot_maps(&p) || pt_entry_is_table(f, w.level, e)) {
		if (w.level == 0 && pt_swap_entry(f, e, &slot, &exclusive))
			return MEMLAB_PM_SWAP | (slot << MAX_SWAPFILES_SHIFT);
		return 0;
	}
	flags = MEMLAB_PM_PRESENT |
		((pfn + ((va & (pt_level_size(f, w.level) - 1)) >> m->page_shift)) &
		 MEMLAB_PM_PFRAME_MASK);
	if ((p.special && !w.level) || pfn >= m->nr_frames)
		return flags;
	folio = pfn_folio(m, pfn);	/* a huge leaf's entry names its head */
	if (!page_anon(folio))
		flags |= MEMLAB_PM_FILE;
	if (page_mapcount(m, (flags & MEMLAB_PM_PFRAME_MASK)) == 1)
		flags |= MEMLAB_PM_MMAP_EXCLUSIVE;
	return flags;
}

/*
** pagemap_read(): the entries of the n pages from va's page, 0 where no
** VMA is (pagemap_pte_hole); nothing at or above TASK_SIZE.  out NULL:
** only how many there would be.
*/
int64_t memlab_pagemap(memlab_task *t, uint64_t va, uint64_t *out, size_t n)
{
	uint64_t page = t->m->page_size, addr = va & ~(page - 1);
	const struct vm_area_struct *vma = NULL;

	if (!t->mm || addr >= t->mm->task_size)
		return 0;
	if (n > (t->mm->task_size - addr) >> t->m->page_shift)
		n = (t->mm->task_size - addr) >> t->m->page_shift;
	for (size_t i = 0; out && i < n; i++, addr += page) {
		if (!vma || addr >= vma->vm_end)	/* the tree: no vmacache statistics */
			vma = vma_tree_find(&t->mm->mm_mt, addr);
		out[i] = vma && vma->vm_start <= addr ? pagemap_entry(t, addr) : 0;
	}
	return (int64_t)n;
}

/* ===================== the files ===================== */

static const struct {
	const char *name;
	void (*show)(memlab_task *t, struct strbuf *sb);
} task_files[] = {
	{ "maps", show_maps },
	{ "smaps", show_smaps },
	{ "smaps_rollup", show_smaps_rollup },
	{ "status", show_status },
	{ "statm", show_statm },
	{ "oom_score", proc_oom_score },		/* fs/proc/base.c, oom_kill.c */
	{ "oom_score_adj", proc_oom_score_adj },
	{ "cgroup", proc_cgroup_show },			/* kernel/cgroup/cgroup.c proc_cgroup_show */
};

/*
** Render the task's file ("maps", "smaps", "smaps_rollup", "status",
** "statm", "oom_score", "oom_score_adj", "cgroup") into sb.  Returns 0, or -MEMLAB_ENOENT for another name with
** nothing appended.  A task without an mm (memlab has none yet) would be
** a kernel thread: empty maps and smaps, status without the memory
** lines, statm all zeros, as Linux shows them.
*/
int task_mmu_show(memlab_task *t, const char *file, struct strbuf *sb)
{
	if (!t || !file)
		return -MEMLAB_ENOENT;
	for (size_t i = 0; i < sizeof(task_files) / sizeof(task_files[0]); i++) {
		if (strcmp(file, task_files[i].name) != 0)
			continue;
		if (t->mm || task_files[i].show == show_status || task_files[i].show == show_statm)
			task_files[i].show(t, sb);
		return 0;
	}
	return -MEMLAB_ENOENT;
}
