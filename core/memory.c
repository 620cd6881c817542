/*
** memory.c -- page faults and the frames behind user mappings, as Linux's
** mm/memory.c handles them: the shared zero page, do_anonymous_page, the
** file faults (do_read_fault, do_cow_fault, do_shared_fault), do_wp_page
** (reuse or copy), zap_pte_range, change_pte_range and move_ptes, and
** the MMU's side of an access (arch/x86/mm/fault.c do_user_addr_fault).
**
** A mapped frame's struct page says what it is: page->mapping is the
** file (page cache, filemap.c) or the anon_vma | PAGE_MAPPING_ANON,
** page->index its offset in pages (linear_page_index()), mapcount the
** page-table entries that map it and _refcount those plus the page
** cache's own reference.  Zero-page entries are pte_special and hold no
** reference, as vm_normal_page() ignores them.
**
** An access goes through the TLBs of the task's CPU first (tlb.c); a
** change to present entries is flushed as Linux flushes it: COW's
** wp_page_copy flush_tlb_page, zap and change_pte_range through an
** mmu_gather, move_ptes flush_tlb_range per PMD extent.
**
** Simplified: no locks; no THP, no swap, no NUMA hinting; the LRU lists
** are counters (classic LRU: new pages start inactive).
*/
#include <string.h>

#include "mm.h"

/* vm_fault_t bits (include/linux/mm_types.h) */
#define VM_FAULT_OOM		0x000001
#define VM_FAULT_SIGBUS		0x000002
#define VM_FAULT_MAJOR		0x000004
#define VM_FAULT_SIGSEGV	0x000040
#define VM_FAULT_RETRY		0x000400	/* memlab: retried under the mmap_lock, still held */
#define VM_FAULT_FALLBACK	0x000800
#define VM_FAULT_COMPLETED	0x004000	/* done, and the mmap_lock was released */
#define VM_FAULT_RELOCKED	0x100000	/* memlab: the mmap_lock was dropped and taken again */
#define VM_FAULT_ERROR		(VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

/* enum fault_flag */
#define FAULT_FLAG_WRITE	0x01
#define FAULT_FLAG_ALLOW_RETRY	0x04	/* the mmap_lock is held and may be dropped for I/O */
#define FAULT_FLAG_TRIED	0x20	/* the second try, after the lock was dropped */
#define FAULT_FLAG_USER		0x40
#define FAULT_FLAG_INSTRUCTION	0x100
#define FAULT_FLAG_VMA_LOCK	0x1000	/* under the per-VMA lock, not the mmap_lock */

struct vm_fault {
	memlab_task *t;
	struct vm_area_struct *vma;
	uint64_t address;		/* page-aligned */
	unsigned flags;			/* FAULT_FLAG_* */
	uint64_t pgoff;			/* linear_page_index(vma, address) */
	uint64_t orig_pte;		/* the entry found, 0 for pte_none */
	uint64_t pte_table;		/* the PTE table holding address's entry (vmf->pmd), or PFN_NONE */
	bool pte_prealloc;		/* do_fault() made pte_table: the PMD was none (prealloc_pte) */
};

/* ===================== struct page ===================== */

uint64_t linear_page_index(const struct vm_area_struct *vma, uint64_t addr)
{
	return vma->vm_pgoff + ((addr - vma->vm_start) >> vma->vm_mm->machine->page_shift);
}

bool page_anon(const struct page *page)
{
	return page->mapping & PAGE_MAPPING_ANON;
}

/* mm_counter(): which RSS counter a mapped page is in. */
int mm_counter(const struct page *page)
{
	if (page_anon(page))
		return MM_ANONPAGES;
	return page->flags & PG_swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
}

uint64_t get_mm_rss(const struct mm_struct *mm)
{
	return mm->rss_stat[MM_FILEPAGES] + mm->rss_stat[MM_ANONPAGES] +
	       mm->rss_stat[MM_SHMEMPAGES];
}

/*
** add_mm_counter(): an RSS counter moves; the rss_stat tracepoint sees
** the new size in bytes (curr: the mm is the running task's).
*/
void add_mm_counter(struct mm_struct *mm, int member, int64_t value)
{
	memlab_machine *m = mm->machine;

	mm->rss_stat[member] += (uint64_t)value;
	trace(m, TP_RSS_STAT, (uint64_t)member, mm->rss_stat[member] << m->page_shift,
	      m->current && m->current->mm == mm, 0);
}

/* update_hiwater_rss(): before RSS drops (unmap, exit). */
void update_hiwater_rss(struct mm_struct *mm)
{
	uint64_t rss = get_mm_rss(mm);

	if (mm->hiwater_rss < rss)
		mm->hiwater_rss = rss;
}

/*
** A user page from the buddy allocator (vma_alloc_folio, GFP_HIGHUSER_MOVABLE):
** every folio allocation adds __GFP_COMP, order 0 too (folio_alloc_mpol),
** which the OOM report's gfp_mask and mm_page_alloc show.  Then it is
** charged to memcg (NULL: the current task's cgroup) with GFP_KERNEL, as
** mem_cgroup_charge() after the allocation; a failed charge frees it.
*/
int alloc_user_page(memlab_machine *m, struct mem_cgroup *memcg, bool zero, uint64_t *pfn)
{
	uint32_t gfp = MEMLAB_GFP_HIGHUSER_MOVABLE | MEMLAB___GFP_COMP |
		       (zero ? MEMLAB___GFP_ZERO : 0);
	int err = alloc_pages(m, 0, gfp, pfn);

	if (err)
		return err;
	if (!memcg)
		memcg = get_mem_cgroup_from_mm(m, NULL);
	if ((err = charge_memcg(m, *pfn, memcg, MEMLAB_GFP_KERNEL)))
		memlab_free_pages(m, *pfn, 0);
	return err;
}

/*
** put_page() / folio_put(): drop a reference to the folio pfn is a page
** of; the last one frees it, each of its pages' own flags cleared.
*/
static void __folio_put(memlab_machine *m, struct page *page)
{
	if (page->flags & PG_deferred_split)
		folio_unqueue_deferred_split(m, page);
	page_cache_release(m, page);
	mem_cgroup_uncharge(m, page);
	if (page_anon(page) && folio_nr_pages(page) > 1)	/* free_pages_prepare() */
		mod_mthp_stat(m, page->private, MTHP_STAT_NR_ANON, -1);
	page->mapping = 0;
	page->index = 0;
	page->flags &= ~(PG_dirty | PG_swapbacked | PG_anon_exclusive | PG_active |
			 PG_referenced | PG_reclaim | PG_workingset);
	for (uint64_t i = 0; i < folio_nr_pages(page); i++)
		page[i].flags &= ~(PG_anon_exclusive | PG_dirty_block);
	page->_refcount = 1;	/* memlab_free_pages checks and drops the last one */
	memlab_free_pages(m, page_to_pfn(m, page), page->private);	/* a huge page's order */
}

static inline void folio_put(memlab_machine *m, struct page *folio)
{
	if (--folio->_refcount == 0)
		__folio_put(m, folio);
}

void put_page(memlab_machine *m, uint64_t pfn)
{
	folio_put(m, pfn_folio(m, pfn));
}

/*
** __folio_add_rmap() at the PTE level: the page is mapped once more; the
** folio's first mapping of it counts in NR_ANON_PAGES or NR_MAPPED (a
** large folio's page a PMD maps is counted already).
*/
static void page_add_rmap_pte(memlab_machine *m, struct page *folio, struct page *page)
{
	if (page->mapcount++ == 0 && (folio_nr_pages(folio) == 1 || thp_page_mapped(folio)))
		mod_lruvec_page_state(m, folio, page_anon(folio) ? NR_ANON_PAGES : NR_MAPPED, 1);
}

/*
** folio_add_new_anon_rmap(): a new private folio of vma at addr, each of
** its pages mapped by one PTE and exclusive; a large one holds a
** reference per page and counts in its size's nr_anon.
*/
static void page_add_new_anon_rmap(memlab_machine *m, struct page *page,
				   struct vm_area_struct *vma, uint64_t addr)
{
	uint64_t nr = folio_nr_pages(page);

	page->mapping = (uintptr_t)vma->anon_vma | PAGE_MAPPING_ANON;
	page->index = linear_page_index(vma, addr);
	for (uint64_t i = 0; i < nr; i++) {
		page[i].mapcount = 1;
		page[i].flags |= PG_anon_exclusive;
	}
	if (nr > 1) {
		*folio_entire_mapcount_ptr(page) = 0;
		*folio_nr_pages_mapped_ptr(page) = (int32_t)nr;
		page->_refcount += (int32_t)nr - 1;
		mod_mthp_stat(m, page->private, MTHP_STAT_NR_ANON, 1);
	}
	/* MAP_DROPPABLE pages are never swap-backed: reclaim drops them (file LRU) */
	page->flags |= vma->vm_flags & VM_DROPPABLE ? 0 : PG_swapbacked;
	mod_lruvec_page_state(m, page, NR_ANON_PAGES, (int64_t)nr);
	folio_add_lru_vma(m, page, vma);
}

/*
** folio_add_file_rmap_ptes() of nr pages of one folio from pfn on, mapped
** in t's mm by vma: the mappings' references and the RSS; a small folio
** in a locked VMA is mlocked (set_pte_range's), a large one only by
** mlock's walk, when its PTEs map all of it.
*/
void folio_add_file_rmap_ptes(memlab_task *t, uint64_t pfn, unsigned nr,
			      const struct vm_area_struct *vma)
{
	memlab_machine *m = t->m;
	struct page *folio = pfn_folio(m, pfn);

	for (unsigned i = 0; i < nr; i++)
		page_add_rmap_pte(m, folio, pfn_to_page(m, pfn + i));
	folio->_refcount += (int32_t)nr;
	add_mm_counter(t->mm, mm_counter(folio), nr);
	if (folio_nr_pages(folio) == 1)
		mlock_vma_folio(m, folio, vma);
}

/*
** munlock_vma_folio() after vma's mapping of the page (a PTE or a huge
** PMD) went: a locked mapping queues a munlock (munlock_folio), which
** counts one off the page's mlock_count when the mlock batch drains, and
** the page goes back to evictable with its last -- a fork child's copy of
** a locked mapping is not locked, so the parent's going munlocks the page
** the child still maps.  Another mapping's going changes nothing, though
** it was the last: a page still mlocked then stays so until it is freed
** (unevictable_pgs_cleared) or munlocked.
*/
void munlock_vma_folio(memlab_machine *m, uint64_t pfn, const struct vm_area_struct *vma)
{
	if (vma->vm_flags & VM_LOCKED)
		munlock_folio(m, pfn_folio(m, pfn));
}

/*
** mlock_vma_folio(): a mapping of the page in a locked VMA mlocks it
** (mlock_folio).  VM_SPECIAL with VM_LOCKED is the mark Linux's
** mlock_vma_pages_range() sets while it counts the mappings itself.
*/
void mlock_vma_folio(memlab_machine *m, struct page *page, const struct vm_area_struct *vma)
{
	if ((vma->vm_flags & (VM_LOCKED | VM_SPECIAL)) == VM_LOCKED)
		mlock_folio(m, page);
}

/*
** folio_remove_rmap_ptes() (mm/rmap.c) and the references the entries held, vma's
** entries for the nr pages from pfn on (of one folio) gone already: the
** folio's last mapping of a page uncounts it; a large folio left with
** some pages mapped and some not by the batch is partially mapped; one
** munlock for the batch.
*/
static inline void folio_remove_rmap_ptes(memlab_machine *m, struct page *folio, uint64_t pfn,
					  uint64_t nr, const struct vm_area_struct *vma)
{
	int64_t unmapped = 0;

	for (uint64_t i = 0; i < nr; i++)
		unmapped += --pfn_to_page(m, pfn + i)->mapcount == 0;
	if (folio_nr_pages(folio) > 1)
		unmapped = thp_pages_unmapped(m, folio, (int)unmapped);
	if (unmapped)
		mod_lruvec_page_state(m, folio, page_anon(folio) ? NR_ANON_PAGES : NR_MAPPED,
				      -unmapped);
	if (vma->vm_flags & VM_LOCKED)	/* munlock_vma_folio() */
		munlock_folio(m, folio);
	folio->_refcount -= (int32_t)nr;
	if (!folio->_refcount)
		__folio_put(m, folio);
}

/* folio_remove_rmap_ptes() of nr pages of one folio from pfn on. */
void page_remove_rmap(memlab_machine *m, uint64_t pfn, uint64_t nr, const struct vm_area_struct *vma)
{
	folio_remove_rmap_ptes(m, pfn_folio(m, pfn), pfn, nr, vma);
}

/* ===================== entries for a VMA ===================== */

/*
** vma_wants_writenotify(): a shared writable mapping of a file whose
** filesystem tracks dirtying (ext4's page_mkwrite) maps pages read-only
** until the first write; shmem does not.
*/
static bool vma_wants_writenotify(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & (VM_WRITE | VM_SHARED)) == (VM_WRITE | VM_SHARED) &&
	       vma->vm_file && !vma->vm_file->shmem;
}

/*
** vm_get_page_prot(vma->vm_flags) as an entry's meaning: private pages
** are never writable by the protection alone (copy on write); PROT_NONE
** is a protnone entry; every user page is accessed when installed
** (PAGE_* include _PAGE_ACCESSED / PTE_AF).
*/
struct pt_prot vma_page_prot(const struct vm_area_struct *vma)
{
	struct pt_prot p = { 0 };

	p.user = true;
	p.accessed = true;
	p.exec = vma->vm_flags & VM_EXEC;
	if (!(vma->vm_flags & VM_ACCESS_FLAGS)) {
		p.protnone = true;
		return p;
	}
	p.present = true;
	p.write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == (VM_WRITE | VM_SHARED) &&
		  !vma_wants_writenotify(vma);
	return p;
}

/* maybe_mkwrite(pte_mkdirty(entry)) for a write fault. */
static struct pt_prot mkwrite_dirty(const struct vm_area_struct *vma, struct pt_prot p)
{
	p.dirty = true;
	if (vma->vm_flags & VM_WRITE)
		p.write = true;
	return p;
}

/*
** set_pte_at() on a none slot, allocating the tables (pte_alloc).  The
** walk that found the PTE table is not repeated: a fault changes no table
** before it installs its entry.
*/
static int install_pte(struct vm_fault *vmf, uint64_t pfn, struct pt_prot prot)
{
	memlab_machine *m = vmf->t->m;
	const struct pt_format *f = &vmf->t->mm->pt;
	uint64_t idx = pt_index(f, 0, vmf->address);

	if (vmf->pte_table == PFN_NONE)
		return pt_map(m, vmf->t->mm, vmf->address, 0, pfn, prot);
	if (pt_read(m, vmf->pte_table, idx))
		return -MEMLAB_EEXIST;
	set_ptes(vmf->t, vmf->address, vmf->pte_table, idx, pfn, prot, 1);
	return 0;
}

/* ===================== anonymous faults ===================== */

/* pte_range_none(): no entry in the 2^order PTEs of vmf's table from addr's. */
static bool pte_range_none(struct vm_fault *vmf, uint64_t addr, int order)
{
	memlab_machine *m = vmf->t->m;
	uint64_t idx = pt_index(&vmf->t->mm->pt, 0, addr);

	for (uint64_t i = 0; i < (1ull << order); i++)
		if (pt_read(m, vmf->pte_table, idx + i))
			return false;
	return true;
}

/*
** alloc_anon_folio(): the largest multi-size THP order below the PMD's
** that transparent_hugepage enables for the VMA, whose aligned range
** around the fault lies inside it with no entry yet, and that can be
** allocated and charged -- each order that cannot is counted
** (anon_fault_fallback, and _charge when the memcg refused it) and the
** next one tried -- else a small page.  Zeroed; the folio at *pfn, its
** order returned, or -ENOMEM.
*/
static int alloc_anon_folio(struct vm_fault *vmf, uint64_t *pfn)
{
	memlab_machine *m = vmf->t->m;
	struct vm_area_struct *vma = vmf->vma;
	uint64_t orders = thp_vma_allowable_orders(m, vma, vma->vm_flags, TVA_PAGEFAULT,
						   (1ull << hpage_pmd_order(m)) - 1);
	uint32_t gfp = vma_thp_gfp_mask(vma) | MEMLAB___GFP_ZERO;
	int order;

	orders = thp_vma_suitable_orders(m, vma, vmf->address, orders);
	for (order = highest_order(orders); orders; order = next_order(&orders, order))
		if (pte_range_none(vmf, vmf->address & ~(((uint64_t)m->page_size << order) - 1),
				   order))
			break;
	for (; orders; order = next_order(&orders, order)) {
		if (!alloc_pages(m, (unsigned)order, gfp, pfn)) {
			if (!mem_cgroup_charge(m, *pfn, vmf->t->mm, gfp))
				return order;
			count_mthp_stat(m, (unsigned)order, MTHP_STAT_ANON_FAULT_FALLBACK_CHARGE);
			memlab_free_pages(m, *pfn, (unsigned)order);
		}
		count_mthp_stat(m, (unsigned)order, MTHP_STAT_ANON_FAULT_FALLBACK);
	}
	return alloc_user_page(m, NULL, true, pfn) ? -MEMLAB_ENOMEM : 0;
}

/*
** do_anonymous_page(): a read maps the zero page (special, read-only, no
** reference); a write takes a zeroed folio (alloc_anon_folio), mapped
** writable and dirty by a PTE per page.
*/
static unsigned do_anonymous_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	memlab_machine *m = vmf->t->m;
	const struct pt_format *f = &vmf->t->mm->pt;
	struct pt_prot prot = vma_page_prot(vma);
	uint64_t pfn, addr, idx;
	int order;

	if (vmf->pte_table == PFN_NONE &&	/* pte_alloc() before the page */
	    pt_alloc_path(m, vmf->t->mm, vmf->address, 0, &vmf->pte_table))
		return VM_FAULT_OOM;
	if (!(vmf->flags & FAULT_FLAG_WRITE)) {
		prot.special = true;
		prot.write = false;
		return install_pte(vmf, m->zero_pfn, prot) ? VM_FAULT_OOM : 0;
	}
	if (vmf_anon_prepare(vmf->t, vma, vmf->flags & FAULT_FLAG_VMA_LOCK) ||
	    (order = alloc_anon_folio(vmf, &pfn)) < 0)
		return VM_FAULT_OOM;
	prot = mkwrite_dirty(vma, prot);
	addr = vmf->address & ~(((uint64_t)m->page_size << order) - 1);
	idx = pt_index(f, 0, addr);
	set_ptes(vmf->t, addr, vmf->pte_table, idx, pfn, prot, 1u << order);
	page_add_new_anon_rmap(m, pfn_to_page(m, pfn), vma, addr);
	add_mm_counter(vmf->t->mm, MM_ANONPAGES, 1ll << order);
	count_mthp_stat(m, (unsigned)order, MTHP_STAT_ANON_FAULT_ALLOC);
	return 0;
}

/*
** __vmf_anon_prepare(): the first anonymous page of a VMA needs its
** anon_vma, which a fault under the per-VMA lock prepares under the
** mmap_lock (mmap_read_trylock: the same events) taken for that alone.
*/
int vmf_anon_prepare(memlab_task *t, struct vm_area_struct *vma, bool vma_locked)
{
	int err;

	if (vma->anon_vma)
		return 0;
	if (vma_locked)
		mmap_read_lock(t->mm);
	err = anon_vma_prepare(vma);
	if (vma_locked)
		mmap_read_unlock(t->mm);
	return err;
}

/* ===================== file faults ===================== */

/* A new anonymous copy of src for vma (wp_page_copy, do_cow_fault). */
static int cow_page(struct vm_fault *vmf, uint64_t src, bool src_zero, uint64_t *pfn)
{
	memlab_machine *m = vmf->t->m;
	int err;

	if (vmf_anon_prepare(vmf->t, vmf->vma, vmf->flags & FAULT_FLAG_VMA_LOCK))
		return -MEMLAB_ENOMEM;
	err = alloc_user_page(m, NULL, src_zero, pfn);
	if (err)
		return err;
	if (!src_zero)
		ml_copy_frame(m, *pfn, src);
	return 0;
}

/*
** do_cow_fault(): a write to a private file mapping copies the cached
** page into pfn, the copy do_fault() allocated (and charged) before it
** read the page (folio_prealloc).
*/
static unsigned do_cow_fault(struct vm_fault *vmf, uint64_t cache_pfn, uint64_t pfn)
{
	struct vm_area_struct *vma = vmf->vma;
	memlab_machine *m = vmf->t->m;

	ml_copy_frame(m, pfn, cache_pfn);
	if (install_pte(vmf, pfn, mkwrite_dirty(vma, vma_page_prot(vma)))) {
		put_page(m, pfn);
		return VM_FAULT_OOM;
	}
	page_add_new_anon_rmap(m, pfn_to_page(m, pfn), vma, vmf->address);
	add_mm_counter(vmf->t->mm, MM_ANONPAGES, 1);
	return 0;
}

/*
** fault_dirty_shared_page(): a write dirtied a page of a shared mapping.
** To throttle dirtying to write-back speed, the first try of a fault that
** holds the mmap_lock and may drop it drops it before
** balance_dirty_pages_ratelimited() -- when the page was newly dirtied,
** or the file has ->page_mkwrite (memlab's regular files, as ext4's) --
** and the fault is done with the lock released (VM_FAULT_COMPLETED).
** Under the per-VMA lock what goes is that lock: no mmap_lock event.
*/
static unsigned fault_dirty_shared_page(struct vm_fault *vmf, bool dirtied)
{
	const struct memlab_file *f = vmf->vma->vm_file;
	bool page_mkwrite = f && !f->shmem;

	if (!(dirtied || page_mkwrite) || !(vmf->flags & FAULT_FLAG_ALLOW_RETRY) ||
	    (vmf->flags & FAULT_FLAG_TRIED))
		return 0;
	mmap_read_unlock(vmf->t->mm);
	return VM_FAULT_COMPLETED;
}

/* After a file page is mapped: a write to a shared mapping dirties it (fault_dirty_shared_page). */
static unsigned file_map_dirtied(struct vm_fault *vmf, struct page *page)
{
	memlab_machine *m = vmf->t->m;

	if ((vmf->flags & FAULT_FLAG_WRITE) && (vmf->vma->vm_flags & VM_SHARED))
		return fault_dirty_shared_page(vmf, folio_mark_dirty(m, page));
	if (vmf->flags & FAULT_FLAG_WRITE)
		folio_mark_dirty(m, page);
	return 0;
}

/*
** finish_fault()'s range (Linux 6.18): a large folio of a regular file
** maps whole when it lies within the file (needs_fallback otherwise), the
** VMA and the fault's page table, and no entry of its range is set; else
** the page alone.  The number of pages; *pfn and *addr the first's.
*/
static unsigned finish_fault_range(struct vm_fault *vmf, uint64_t *pfn, uint64_t *addr)
{
	memlab_machine *m = vmf->t->m;
	const struct vm_area_struct *vma = vmf->vma;
	uint64_t head = folio_pfn(m, *pfn), idx = *pfn - head;
	const struct page *folio = pfn_to_page(m, head);
	uint64_t nr = folio_nr_pages(folio), vma_off = vmf->pgoff - vma->vm_pgoff;
	uint64_t pte_off = pt_index(&vmf->t->mm->pt, 0, vmf->address);
	uint64_t ptrs = pt_level_size(&vmf->t->mm->pt, 1) >> m->page_shift;
	uint64_t start = vmf->address - (idx << m->page_shift);

	if (nr == 1 || vmf->pte_table == PFN_NONE ||
	    (!vma->vm_file->shmem &&
	     PAGE_ALIGN_M(m, vma->vm_file->size) >> m->page_shift < folio->index + nr) ||
	    vma_off < idx || vma_off + (nr - idx) > vma_pages(vma) ||
	    pte_off < idx || pte_off + (nr - idx) > ptrs ||
	    !pte_range_none(vmf, start, __builtin_ctzll(nr)))
		return 1;
	*pfn = head;
	*addr = start;
	return (unsigned)nr;
}

/*
** do_read_fault() / do_shared_fault(): map the page cache's page -- its
** whole large folio where finish_fault() may -- as set_pte_range() does:
** a write makes the entries dirty and writable, a dirty folio's writable
** entry is dirty; a write to a shared mapping dirties the folio
** (fault_dirty_shared_page).
*/
static unsigned do_file_map(struct vm_fault *vmf, uint64_t cache_pfn)
{
	struct vm_area_struct *vma = vmf->vma;
	memlab_machine *m = vmf->t->m;
	struct page *page = pfn_to_page(m, cache_pfn);
	struct pt_prot prot = vma_page_prot(vma);
	uint64_t pfn = cache_pfn, addr = vmf->address;
	unsigned nr;
	int r;

	if (vmf->pte_prealloc && vmf->pte_table != PFN_NONE &&
	    file_pmd_mappable(m, vma, vmf->address, folio_pfn(m, cache_pfn)) &&
	    PAGE_ALIGN_M(m, vma->vm_file->size) >> m->page_shift >=
	    pfn_folio(m, cache_pfn)->index + folio_nr_pages(pfn_folio(m, cache_pfn))) {
		/* finish_fault(): the PMD is none (the table unused) -- do_set_pmd() */
		pte_free_unused(m, vmf->t->mm, vmf->address, vmf->pte_table);
		if (pmd_none_at(vmf->t, vmf->address)) {
			vmf->pte_table = PFN_NONE;
			vmf->pte_prealloc = false;
			if ((r = do_set_pmd(vmf->t, vma, vmf->address, cache_pfn,
					    vmf->flags & FAULT_FLAG_WRITE)) < 0)
				return VM_FAULT_OOM;
			if (r == 0)
				return file_map_dirtied(vmf, page);
		}
	}
	nr = finish_fault_range(vmf, &pfn, &addr);
	if (vmf->flags & FAULT_FLAG_WRITE)
		prot = mkwrite_dirty(vma, prot);
	else if (prot.write && (pfn_folio(m, cache_pfn)->flags & PG_dirty))
		prot.dirty = true;
	if (nr > 1)
		set_ptes(vmf->t, addr, vmf->pte_table, pt_index(&vmf->t->mm->pt, 0, addr), pfn,
			 prot, nr);
	else if (install_pte(vmf, cache_pfn, prot))
		return VM_FAULT_OOM;
	folio_add_file_rmap_ptes(vmf->t, pfn, nr, vma);
	return file_map_dirtied(vmf, page);
}

/* do_fault(): the page from the page cache (filemap_fault), then by kind. */
/*
** filemap_fault() dropped its lock for the read I/O (maybe_unlock_mmap_for_io)
** and the fault is retried: under the mmap_lock taken anew (lock_mmap in
** do_user_addr_fault after a per-VMA-locked try, which must release it:
** VM_FAULT_RETRY), or the same lock retaken (GUP and mmap-locked faults).
** The retry is FAULT_FLAG_TRIED, but after a per-VMA-locked try only if
** that was a major fault (do_user_addr_fault).
*/
static unsigned fault_retry_lock(struct vm_fault *vmf, bool major)
{
	struct mm_struct *mm = vmf->t->mm;

	if (vmf->flags & FAULT_FLAG_VMA_LOCK) {
		if (major)
			vmf->flags |= FAULT_FLAG_TRIED;
		mmap_read_lock(mm);
		return VM_FAULT_RETRY;
	}
	if (vmf->flags & FAULT_FLAG_ALLOW_RETRY) {
		vmf->flags |= FAULT_FLAG_TRIED;
		mmap_read_unlock(mm);
		mmap_read_lock(mm);
		return VM_FAULT_RELOCKED;
	}
	return 0;
}


static unsigned do_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	memlab_machine *m = vmf->t->m;
	bool cow = (vmf->flags & FAULT_FLAG_WRITE) && !(vma->vm_flags & VM_SHARED);
	bool prealloc = false;
	uint64_t cache_pfn, copy = 0;
	unsigned ret = 0;
	int err;

	if (vma->special_name)	/* special_mapping_fault(): the zero page stands in */
		return do_anonymous_page(vmf);
	if (!(vmf->flags & FAULT_FLAG_WRITE) && do_fault_around(vmf->t, vma, vmf->address, NULL))
		return 0;	/* do_read_fault(): the page was cached */
	/*
	 * do_cow_fault() prepares the anon_vma and allocates and charges the
	 * copy (folio_prealloc) before it reads the page; a read that had to
	 * wait drops the copy, and the retry allocates it again.
	 */
	if (cow && (vmf_anon_prepare(vmf->t, vma, vmf->flags & FAULT_FLAG_VMA_LOCK) ||
		    alloc_user_page(m, NULL, false, &copy)))
		return VM_FAULT_OOM;
	if (vmf->pte_table == PFN_NONE) {	/* __do_fault()'s prealloc_pte */
		prealloc = true;
		vmf->pte_prealloc = pmd_none_at(vmf->t, vmf->address);	/* not fault-around's */
		if (pt_alloc_path(m, vmf->t->mm, vmf->address, 0, &vmf->pte_table)) {
			if (cow)
				put_page(m, copy);
			return VM_FAULT_OOM;
		}
	}
	err = filemap_fault(vma, vmf->pgoff, vmf->flags & FAULT_FLAG_TRIED, &cache_pfn);
	if (err < 0 && cow)
		put_page(m, copy);
	/* do_fault(): an unused prealloc_pte is freed */
	if (err < 0 && prealloc && vmf->pte_table != PFN_NONE)
		pte_free_unused(m, vmf->t->mm, vmf->address, vmf->pte_table);
	if (err == -MEMLAB_EFAULT)
		return VM_FAULT_SIGBUS;
	if (err < 0)
		return VM_FAULT_OOM;
	if (err & FILEMAP_MAJOR)
		ret = VM_FAULT_MAJOR;
	if (err & FILEMAP_UNLOCKED)
		ret |= fault_retry_lock(vmf, err & FILEMAP_MAJOR);
	if (err > 0 && cow) {
		put_page(m, copy);
		if (alloc_user_page(m, NULL, false, &copy)) {
			put_page(m, cache_pfn);
			return ret | VM_FAULT_OOM;
		}
	}
	/*
	 * A page that had to be read, or a hit that read the next window
	 * ahead: Linux dropped the lock for the I/O and the fault is retried,
	 * counted once -- as major if it read the page, or if the retry is
	 * FAULT_FLAG_TRIED (handle_mm_fault); a read retry maps the fresh
	 * pages of the window by fault-around.
	 */
	if (ret && !(vmf->flags & FAULT_FLAG_WRITE) &&
	    do_fault_around(vmf->t, vma, vmf->address, vmf->pte_prealloc ? &vmf->pte_table : NULL)) {
		put_page(m, cache_pfn);
		return ret;
	}
	/* an untried retry goes to filemap_fault() again: a hit, once more */
	if ((ret & VM_FAULT_RETRY) && !(vmf->flags & FAULT_FLAG_TRIED))
		do_async_mmap_readahead(vma, cache_pfn);
	if (cow)
		ret |= do_cow_fault(vmf, cache_pfn, copy);
	else
		ret |= do_file_map(vmf, cache_pfn);
	put_page(vmf->t->m, cache_pfn);		/* filemap_fault's reference */
	return ret;
}

/* ===================== swap faults ===================== */

static unsigned do_wp_page(struct vm_fault *vmf);

/*
** should_try_to_free_swap(): after a swap-in, the swap-cache copy goes
** when swap is half full, the memory is locked, or a write fault is the
** page's only user (the cache's reference and the fault's, before the
** page is mapped: a write fault, whose flag is cleared only after).
*/
static bool should_try_to_free_swap(memlab_machine *m, const struct page *page,
				    const struct vm_area_struct *vma, unsigned flags)
{
	if (!(page->flags & PG_swapcache))
		return false;
	if (mem_cgroup_swap_full(m, page) || (vma->vm_flags & VM_LOCKED) ||
	    (page->flags & PG_mlocked))
		return true;
	return (flags & FAULT_FLAG_WRITE) && page->_refcount == 2;
}

/*
** do_swap_page(): the page of the swap entry, from the swap cache or read
** (major: pgmajfault), mapped again -- writable at once when the entry
** says it was exclusive, so a write needs no copy; the entry's slot loses
** a reference and the swap-cache copy may go (should_try_to_free_swap).
** A write to a page still shared goes on to do_wp_page.  The entry may
** have changed while the page was read (reclaim runs in allocations):
** then the access retries.
*/
static unsigned do_swap_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vmf->t->mm;
	memlab_machine *m = vmf->t->m;
	struct pt_prot prot = vma_page_prot(vma);
	uint64_t slot, pfn;
	bool exclusive, major;
	struct page *page;
	struct pt_walk w;
	unsigned ret = 0;
	int err;

	if (!m->swap || !vma->anon_vma || !pt_swap_entry(&mm->pt, vmf->orig_pte, &slot, &exclusive) ||
	    !slot || slot > m->swap->pages)
		return VM_FAULT_SIGBUS;		/* not an entry of our swap device */
	if (!(m->swap->swap_map[slot] & ~SWAP_HAS_CACHE)) {
		/* swapcache_prepare() fails: Linux's fault returns VM_FAULT_OOM and retries forever */
		ml_report(m, "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF "
			  "(memlab: pid %d, swap entry %#llx names unused slot %llu: SIGBUS)",
			  vmf->t->pid, (unsigned long long)vmf->orig_pte, (unsigned long long)slot);
		return VM_FAULT_SIGBUS;
	}
	err = swapin_readahead(vmf->t, vma, vmf->address, slot, &pfn, &major);
	if (err)
		return err == -MEMLAB_ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	if (major) {	/* the read was I/O: the lock is dropped and the fault retried, as for a file */
		ret = VM_FAULT_MAJOR | fault_retry_lock(vmf, true);
		count_vm_events_mm(m, mm, PGMAJFAULT, 1);
	}
	pt_walk(m, mm, vmf->address, &w);
	if (!w.nr_levels || w.entry[w.nr_levels - 1] != vmf->orig_pte) {
		put_page(m, pfn);	/* !pte_same() */
		return ret;
	}
	page = pfn_to_page(m, pfn);
	/* a write must tell by the refcount whether it owns the page: the
	 * local LRU caches' reference goes first */
	if ((vmf->flags & FAULT_FLAG_WRITE) && (page->flags & PG_swapcache) &&
	    !(page->flags & PG_lru))
		lru_add_drain(m);
	/* swap_free_nr(), then the swap-cache copy may go, and its reference */
	swap_free(m, slot);
	if (should_try_to_free_swap(m, page, vma, vmf->flags))
		folio_free_swap(m, pfn);
	exclusive |= page->_refcount == 1;	/* the fault's reference alone */
	prot.accessed = true;
	if (exclusive && (vma->vm_flags & VM_WRITE)) {
		prot.write = true;
		if (vmf->flags & FAULT_FLAG_WRITE) {
			prot.dirty = true;
			vmf->flags &= ~FAULT_FLAG_WRITE;
		}
	}
	if (!page->mapping) {	/* folio_add_new_anon_rmap(): the root when maybe shared */
		page->mapping = (uintptr_t)(exclusive ? vma->anon_vma
						    : vma->anon_vma->root) | PAGE_MAPPING_ANON;
		page->index = linear_page_index(vma, vmf->address);
	}
	if (exclusive)
		page->flags |= PG_anon_exclusive;
	if (page->mapcount++ == 0)
		mod_lruvec_page_state(m, page, NR_ANON_PAGES, 1);
	add_mm_counter(mm, MM_ANONPAGES, 1);
	add_mm_counter(mm, MM_SWAPENTS, -1);
	set_pte_at(vmf->t, vmf->address, pfn, prot);	/* the fault's reference is the mapping's */
	vmf->orig_pte = pt_mkentry(&mm->pt, 0, pfn, prot);
	if (vmf->flags & FAULT_FLAG_WRITE)
		ret |= do_wp_page(vmf);
	return ret;
}

/*
** __collapse_huge_page_swapin()'s do_swap_page() (FAULT_FLAG_ALLOW_RETRY)
** of the swap entry at addr: 0 when its page, found in the swap cache, is
** mapped again; -MEMLAB_EAGAIN when it had to be read (pgmajfault): the
** page waits in the swap cache, the entry stays, and the mmap_lock was
** dropped for the I/O -- folio_lock_or_retry()'s VM_FAULT_RETRY on a swap
** device that reads asynchronously; -MEMLAB_EFAULT when the fault failed.
*/
int swapin_for_collapse(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			uint64_t entry)
{
	struct vm_fault vmf = { t, vma, addr, FAULT_FLAG_ALLOW_RETRY, 0, entry, PFN_NONE, false };
	memlab_machine *m = t->m;
	uint64_t slot, pfn;
	bool exclusive, major;

	vmf.pgoff = linear_page_index(vma, addr);
	if (m->swap && pt_swap_entry(&t->mm->pt, entry, &slot, &exclusive) && slot &&
	    slot <= m->swap->pages && m->swap->cache[slot] == PFN_NONE &&
	    (m->swap->swap_map[slot] & ~SWAP_HAS_CACHE)) {
		int err = swapin_readahead(t, vma, addr, slot, &pfn, &major);

		if (err == -MEMLAB_ENOMEM)
			return -MEMLAB_EFAULT;	/* VM_FAULT_OOM */
		if (err) {		/* a read error: the collapse waited for the I/O in vain */
			mmap_read_unlock(t->mm);
			return -MEMLAB_EAGAIN;
		}
		count_vm_events_mm(m, t->mm, PGMAJFAULT, 1);
		put_page(m, pfn);
		mmap_read_unlock(t->mm);
		return -MEMLAB_EAGAIN;
	}
	return do_swap_page(&vmf) & VM_FAULT_ERROR ? -MEMLAB_EFAULT : 0;
}

/* ===================== write-protect faults ===================== */

/*
** ptep_set_access_flags(): the entry gains A (and D, W for a write).
** x86 leaves a TLB entry without them for the next access to walk past
** (a spurious fault); arm64 invalidates it when making it writable.
*/
static void ptep_set_access_flags(struct vm_fault *vmf, uint64_t pfn, struct pt_prot prot)
{
	memlab_task *t = vmf->t;
	uint64_t old = 0, table;
	unsigned level;

	if (pt_leaf_slot(t->m, t->mm, vmf->address, &table, &level))
		return;
	if (!level && contpte_set_access_flags(t, vmf->address, table,
					       pt_index(&t->mm->pt, 0, vmf->address), pfn, prot,
					       vmf->flags & FAULT_FLAG_WRITE))
		return;
	pt_set(t->m, t->mm, vmf->address, pfn, prot, &old);
	if (t->m->arch == MEMLAB_ARCH_ARM64 && (vmf->flags & FAULT_FLAG_WRITE) &&
	    old != pt_mkentry(&t->mm->pt, 0, pfn, prot))
		flush_tlb_page(t, vmf->address);
}

/* wp_page_reuse(): the page stays; the entry becomes young, dirty, writable. */
static unsigned wp_page_reuse(struct vm_fault *vmf, uint64_t pfn, struct pt_prot prot)
{
	prot.accessed = true;
	ptep_set_access_flags(vmf, pfn, mkwrite_dirty(vmf->vma, prot));
	vmf->t->m->vmstat[PGREUSE]++;
	return 0;
}

/*
** wp_page_copy(): a private copy replaces the entry (of the zero page: a
** zeroed page), and the TLBs forget the old one (ptep_clear_flush); the
** old page loses this mapping.
*/
static unsigned wp_page_copy(struct vm_fault *vmf, uint64_t old, bool old_zero)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vmf->t->mm;
	memlab_machine *m = vmf->t->m;
	struct pt_prot prot = vma_page_prot(vma);
	struct pt_walk w;
	uint64_t pfn;

	if (!old_zero)		/* folio_get(old_folio): reclaim may run in the allocation */
		pfn_folio(m, old)->_refcount++;
	if (cow_page(vmf, old, old_zero, &pfn)) {
		if (!old_zero)
			put_page(m, old);
		return VM_FAULT_OOM;
	}
	pt_walk(m, mm, vmf->address, &w);
	if (!w.nr_levels || w.entry[w.nr_levels - 1] != vmf->orig_pte) {
		put_page(m, pfn);	/* !pte_same(): reclaim took the entry; the access retries */
		if (!old_zero)
			put_page(m, old);
		return 0;
	}
	set_pte_at(vmf->t, vmf->address, pfn, mkwrite_dirty(vma, prot));
	flush_tlb_page(vmf->t, vmf->address);
	page_add_new_anon_rmap(m, pfn_to_page(m, pfn), vma, vmf->address);
	add_mm_counter(mm, MM_ANONPAGES, 1);
	if (!old_zero) {
		add_mm_counter(mm, mm_counter(pfn_folio(m, old)), -1);
		page_remove_rmap(m, old, 1, vma);
		put_page(m, old);
	}
	return 0;
}

/*
** __wp_can_reuse_large_anon_folio(): a page of a large folio is reused
** when every reference to the folio is a mapping and all of them are this
** mm's; a folio of which this entry maps the last page is copied from
** instead, to free it.  (Linux tracks two mms per folio and may call one
** shared that three mms mapped in turn; memlab looks at the mappings.)
*/
static bool wp_can_reuse_large_anon_folio(memlab_machine *m, uint64_t head,
					  const struct vm_area_struct *vma)
{
	const struct page *folio = pfn_to_page(m, head);
	int mapcount = folio_mapcount(folio);

	return mapcount > 1 && folio->_refcount == mapcount &&
	       !folio_mapped_elsewhere(m, head, vma->vm_mm);
}

/*
** wp_can_reuse_anon_folio(): the page's only reference is this mapping's
** (a swap-cache copy no swap entry needs is dropped first): it moves to
** the VMA's own anon_vma (folio_move_anon_rmap) and is written in place.
** A page on no LRU list may wait in a folio batch, whose reference would
** force a copy: this CPU's batches drain first -- another CPU's cannot,
** and its page is copied.
*/
static bool wp_can_reuse_anon_folio(memlab_machine *m, uint64_t pfn,
				    const struct vm_area_struct *vma)
{
	uint64_t head = folio_pfn(m, pfn);
	struct page *page = pfn_to_page(m, head);

	if (folio_nr_pages(page) > 1)	/* it stays with its anon_vma */
		return wp_can_reuse_large_anon_folio(m, head, vma);
	if (page->_refcount > 3)
		return false;
	if (!(page->flags & PG_lru))
		lru_add_drain(m);
	if (page->_refcount > 1 + !!(page->flags & PG_swapcache))
		return false;
	if (page->flags & PG_swapcache)
		folio_free_swap(m, pfn);
	if (page->_refcount != 1)
		return false;
	page->mapping = (uintptr_t)vma->anon_vma | PAGE_MAPPING_ANON;
	return true;
}

/*
** do_wp_page(): a write to a present read-only entry.  Shared mappings
** dirty the page in place (wp_page_shared); an anonymous page is reused
** when this mm alone holds it (PageAnonExclusive, or a reference count of
** one: wp_can_reuse_anon_folio), else copied; zero and file pages are
** copied.  A large folio's page has its own PageAnonExclusive.
*/
static unsigned do_wp_page(struct vm_fault *vmf)
{
	memlab_machine *m = vmf->t->m;
	struct pt_prot prot;
	struct page *page, *folio;
	uint64_t pfn;

	pt_decode(&vmf->t->mm->pt, 0, vmf->orig_pte, &pfn, &prot);
	if (prot.special)
		return wp_page_copy(vmf, pfn, true);
	page = pfn_to_page(m, pfn);
	folio = pfn_folio(m, pfn);
	if (vmf->vma->vm_flags & VM_SHARED) {	/* wp_page_shared() */
		bool dirtied = folio_mark_dirty(m, folio);
		unsigned ret = wp_page_reuse(vmf, pfn, prot);

		return ret ? ret : fault_dirty_shared_page(vmf, dirtied);
	}
	if (page_anon(folio) && !(page->flags & PG_anon_exclusive) &&
	    wp_can_reuse_anon_folio(m, pfn, vmf->vma))
		page->flags |= PG_anon_exclusive;
	if (page_anon(folio) && (page->flags & PG_anon_exclusive))
		return wp_page_reuse(vmf, pfn, prot);
	return wp_page_copy(vmf, pfn, false);
}

/* ===================== the fault ===================== */

/* handle_pte_fault(): what the entry at the address says happens next. */
static unsigned handle_pte_fault(struct vm_fault *vmf)
{
	struct mm_struct *mm = vmf->t->mm;
	memlab_machine *m = vmf->t->m;
	uint64_t table, pfn;
	unsigned level;
	struct pt_prot prot;

	vmf->orig_pte = 0;
	if (vmf->pte_table == PFN_NONE && !pt_leaf_slot(m, mm, vmf->address, &table, &level) &&
	    level == 0)
		vmf->pte_table = table;
	if (vmf->pte_table != PFN_NONE)
		vmf->orig_pte = pt_read(m, vmf->pte_table, pt_index(&mm->pt, 0, vmf->address));
	/*
	 * No entry: the tables come before the page -- here those above the
	 * PTE table (__handle_mm_fault's pud_alloc, pmd_alloc), the PTE table
	 * in do_anonymous_page (pte_alloc) and do_fault (prealloc_pte, after
	 * the copy) -- so a cgroup at its limit fails, and reports, the
	 * page's charge where Linux does.
	 */
	if (!vmf->orig_pte && vmf->pte_table == PFN_NONE &&
	    pt_alloc_path(m, mm, vmf->address, 1, &table))
		return VM_FAULT_OOM;
	if (!vmf->orig_pte)
		return vmf->vma->vm_file || vmf->vma->special_name ? do_fault(vmf)
								   : do_anonymous_page(vmf);
	pt_decode(&mm->pt, 0, vmf->orig_pte, &pfn, &prot);
	if (!pt_prot_maps(&prot))
		return do_swap_page(vmf);
	if (prot.protnone)
		return VM_FAULT_SIGSEGV;	/* NUMA hinting: never, access_error came first */
	if ((vmf->flags & FAULT_FLAG_WRITE) && !prot.write)
		return do_wp_page(vmf);
	/* spurious: the entry allows it; make it young (and dirty) as the MMU would */
	prot.accessed = true;
	if (vmf->flags & FAULT_FLAG_WRITE)
		prot.dirty = true;
	ptep_set_access_flags(vmf, pfn, prot);
	return 0;
}

/*
** __handle_mm_fault()'s PMD level: an anonymous VMA that may have huge
** pages gets one where the PMD is empty; a present huge leaf is handled
** whole.  VM_FAULT_FALLBACK: go on with small pages (a PTE table is
** there, no huge page could be had, or the huge leaf was split).
*/
static unsigned create_huge_pmd(struct vm_fault *vmf)
{
	memlab_task *t = vmf->t;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	uint64_t table;
	unsigned level;
	int r;

	if (pt_leaf_slot(t->m, t->mm, vmf->address, &table, &level))
		return VM_FAULT_FALLBACK;
	if (level == 0) {	/* handle_pte_fault goes on from this walk */
		vmf->pte_table = table;
		return VM_FAULT_FALLBACK;
	}
	if (vmf->vma->vm_file) {	/* no huge_fault: a file folio's PMD only as it is */
		if (level > 1 || !pt_read(t->m, table, pt_index(&t->mm->pt, 1, vmf->address)))
			return VM_FAULT_FALLBACK;
		return do_huge_pmd_fault(t, vmf->vma, vmf->address, write) ? VM_FAULT_FALLBACK : 0;
	}
	if (level > 1 || !pt_read(t->m, table, pt_index(&t->mm->pt, 1, vmf->address)))
		r = do_huge_pmd_anonymous_page(t, vmf->vma, vmf->address, write,
					       vmf->flags & FAULT_FLAG_VMA_LOCK);
	else
		r = do_huge_pmd_fault(t, vmf->vma, vmf->address, write);
	return r < 0 ? VM_FAULT_OOM : r > 0 ? VM_FAULT_FALLBACK : 0;
}

/*
** handle_mm_fault() with mm_account_fault(): every fault that reaches
** the VMA's handler counts in pgfault; one that did not fail counts in
** the task's maj_flt -- when major, or retried (FAULT_FLAG_TRIED: "we
** couldn't handle it immediately") -- or min_flt (pgmajfault is filemap's).
*/
unsigned handle_mm_fault(memlab_task *t, struct vm_area_struct *vma, uint64_t addr,
			 unsigned flags)
{
	struct vm_fault vmf = { t, vma, addr & ~((uint64_t)t->m->page_size - 1), flags, 0, 0,
				PFN_NONE, false };
	unsigned ret;

	vmf.pgoff = linear_page_index(vma, vmf.address);
	ret = create_huge_pmd(&vmf);
	if (ret == VM_FAULT_FALLBACK)
		ret = handle_pte_fault(&vmf);
	count_vm_events_mm(t->m, t->mm, PGFAULT, 1);
	if (ret & VM_FAULT_ERROR)
		return ret;
	if ((ret & VM_FAULT_MAJOR) || (vmf.flags & FAULT_FLAG_TRIED))
		t->maj_flt++;
	else
		t->min_flt++;
	return ret;
}

/* ===================== the MMU's side of an access ===================== */

/* x86's page-fault error code bits (arch/x86/include/asm/trap_pf.h) */
#define X86_PF_PROT	0x01	/* the entry was present: a protection fault */
#define X86_PF_WRITE	0x02
#define X86_PF_USER	0x04
#define X86_PF_INSTR	0x10

/*
** access_error(): the access the VMA does not allow.  x86 decides by the
** error code: a write needs VM_WRITE; a fault on a present entry that is
** not a write (an instruction fetch from an NX page) is an error; a read
** or fetch of a missing page needs only an accessible VMA -- the page is
** faulted in, and a fetch faults again on the NX entry.  arm64 checks the
** VMA's flags for the access's kind.
*/
static bool access_error(const memlab_machine *m, const struct vm_area_struct *vma,
			 unsigned flags, unsigned error_code)
{
	if (flags & FAULT_FLAG_WRITE)
		return !(vma->vm_flags & VM_WRITE);
	if (m->arch == MEMLAB_ARCH_X86_64) {
		if (error_code & X86_PF_PROT)
			return true;
		return !(vma->vm_flags & VM_ACCESS_FLAGS);
	}
	if (flags & FAULT_FLAG_INSTRUCTION)
		return !(vma->vm_flags & VM_EXEC);
	return !(vma->vm_flags & VM_ACCESS_FLAGS);
}

/* The error code the MMU reports for this access, whose walk found the page present or not. */
static unsigned fault_error_code(bool present, int access, bool user)
{
	return (present ? X86_PF_PROT : 0) | (user ? X86_PF_USER : 0) |
	       (access == 'w' ? X86_PF_WRITE : 0) | (access == 'x' ? X86_PF_INSTR : 0);
}

static unsigned access_flags(int access, bool user)
{
	return (user ? FAULT_FLAG_USER : 0) | (access == 'w' ? FAULT_FLAG_WRITE : 0) |
	       (access == 'x' ? FAULT_FLAG_INSTRUCTION : 0);
}

/* lock_vma_under_rcu(): the VMA that contains addr, if any (no stack growth here). */
static struct vm_area_struct *lock_vma_under_rcu(memlab_task *t, uint64_t addr)
{
	struct vm_area_struct *vma = addr < t->mm->task_size ? find_vma(t, addr) : NULL;

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/*
** lock_mm_and_find_vma() (mm/memory.c): the VMA for addr under the mmap_lock (read),
** growing a stack down to it under the lock upgraded to write and then
** downgraded.  NULL, with the lock released, when there is none.
*/
static struct vm_area_struct *lock_mm_and_find_vma(memlab_task *t, uint64_t addr)
{
	struct mm_struct *mm = t->mm;
	struct vm_area_struct *vma;

	mmap_read_lock(mm);		/* mmap_read_trylock(): the same events */
	vma = addr < mm->task_size ? find_vma(t, addr) : NULL;
	if (vma && vma->vm_start <= addr)
		return vma;
	mmap_read_unlock(mm);
	if (!vma || !(vma->vm_flags & VM_GROWSDOWN))
		return NULL;
	mmap_write_lock(mm);		/* upgrade_mmap_lock_carefully() */
	if (expand_stack_locked(t, vma, addr)) {
		mmap_write_unlock(mm);
		return NULL;
	}
	mmap_write_downgrade(mm);
	return vma;
}

/*
** The VMA a fault is handled in, and how it is locked (flags gains
** FAULT_FLAG_VMA_LOCK or FAULT_FLAG_ALLOW_RETRY): a user fault tries the
** per-VMA lock first; a kernel fault (copy_to_user), or a user one the
** VMA lock cannot serve, takes the mmap_lock; GUP (populate) holds it
** already.
*/
static struct vm_area_struct *fault_find_vma(memlab_task *t, uint64_t addr, unsigned *flags)
{
	struct vm_area_struct *vma;

	if (t->mm->mmap_lock) {
		*flags |= FAULT_FLAG_ALLOW_RETRY;
		vma = lock_vma_under_rcu(t, addr);
		return vma;
	}
	if ((*flags & FAULT_FLAG_USER) && (vma = lock_vma_under_rcu(t, addr))) {
		*flags |= FAULT_FLAG_VMA_LOCK;
		return vma;
	}
	*flags |= FAULT_FLAG_ALLOW_RETRY;
	return lock_mm_and_find_vma(t, addr);
}

/*
** The fault is done: a lock fault_find_vma() (or a retry) took goes,
** unless the fault released it already (VM_FAULT_COMPLETED).
*/
static void fault_unlock(memlab_task *t, unsigned flags, unsigned ret, bool gup)
{
	if (gup || (ret & VM_FAULT_COMPLETED))
		return;
	if (!(flags & FAULT_FLAG_VMA_LOCK) || (ret & VM_FAULT_RETRY))
		mmap_read_unlock(t->mm);
}

/*
** __do_user_addr_fault(): find the VMA (growing a stack down to the
** address), check the access, handle the fault -- a fault of the task, or
** of the kernel copying to or from its memory (t->uaccess).  Returns 0,
** or -MEMLAB_EFAULT with the signal's code (SEGV_MAPERR, SEGV_ACCERR,
** BUS_ADRERR), or -MEMLAB_ENOMEM when the fault ran out of memory.
*/
static int __do_user_addr_fault(memlab_task *t, uint64_t addr, int access, bool present,
				int *si_code)
{
	bool user = !t->uaccess, gup = t->mm->mmap_lock != 0;
	unsigned error_code = fault_error_code(present, access, user);
	unsigned flags = access_flags(access, user), ret;
	struct vm_area_struct *vma;

	trace(t->m, user ? TP_PAGE_FAULT_USER : TP_PAGE_FAULT_KERNEL, addr, error_code, 0, 0);
	if (addr >= t->mm->task_size) {	/* fault_in_kernel_space(): do_kern_addr_fault */
		*si_code = MEMLAB_SEGV_MAPERR;
		return -MEMLAB_EFAULT;
	}
	vma = fault_find_vma(t, addr, &flags);
	if (!vma) {
		*si_code = MEMLAB_SEGV_MAPERR;
		return -MEMLAB_EFAULT;
	}
	if (access_error(t->m, vma, flags, error_code)) {
		fault_unlock(t, flags, 0, gup);
		*si_code = MEMLAB_SEGV_ACCERR;
		return -MEMLAB_EFAULT;
	}
	ret = handle_mm_fault(t, vma, addr, flags);
	fault_unlock(t, flags, ret, gup);
	if (ret & VM_FAULT_OOM)
		return -MEMLAB_ENOMEM;
	if (ret & VM_FAULT_SIGBUS) {
		*si_code = MEMLAB_BUS_ADRERR;
		return -MEMLAB_EFAULT;
	}
	if (ret & VM_FAULT_SIGSEGV) {
		*si_code = MEMLAB_SEGV_ACCERR;
		return -MEMLAB_EFAULT;
	}
	return 0;
}

/*
** x86-64: the bits above the virtual address width copy its top bit; any
** other address raises #GP, not #PF (arch/x86/kernel/traps.c
** exc_general_protection: SIGSEGV with SI_KERNEL).
*/
static bool addr_canonical(const memlab_machine *m, uint64_t addr)
{
	unsigned shift = 64 - (m->va_bits == 57 ? 57 : 48);

	if (m->arch != MEMLAB_ARCH_X86_64)
		return true;
	return (uint64_t)((int64_t)(addr << shift) >> shift) == addr;
}

/*
** do_user_addr_fault(): the fault.  The OOM killer ran inside its
** allocations or charges when they found no memory; a task it chose dies
** on its way back to user space -- the access ends as SIGKILL, however
** the fault ended (VM_FAULT_OOM, the reserves let it complete, or a
** SIGBUS or SIGSEGV the fatal signal overrides).
*/
int do_user_addr_fault(memlab_task *t, uint64_t addr, int access, bool present, int *si_code)
{
	int err;

	if (!addr_canonical(t->m, addr)) {	/* x86: a #GP, no page fault at all */
		*si_code = MEMLAB_SEGV_KERNEL;
		return -MEMLAB_EFAULT;
	}
	err = __do_user_addr_fault(t, addr, access, present, si_code);
	if (err == -MEMLAB_ENOMEM || t->oom_victim)
		return pagefault_out_of_memory(t, si_code);
	return err;
}

/* What the MMU allows with this leaf: present, user, writable, executable. */
static bool mmu_allows(const struct pt_prot *p, int access)
{
	if (!p->present || !p->user)
		return false;
	if (access == 'w')
		return p->write;
	if (access == 'x')
		return p->exec;
	return true;
}

/*
** The hardware's side of a permitted access: set the accessed bit, and
** the dirty bit on a write, when the entry lacks them (x86 A/D, arm64
** AF/DBM with FEAT_HAFDBS).
*/
static void mmu_mark(memlab_machine *m, const struct mm_struct *mm, uint64_t va,
		     struct pt_walk *w, int access)
{
	struct pt_prot *p = &w->prot;

	if (p->accessed && (access != 'w' || p->dirty))
		return;
	p->accessed = true;
	p->dirty |= access == 'w';
	pt_write(m, w->table[w->nr_levels - 1], pt_index(&mm->pt, w->level, va),
		 pt_mkentry(&mm->pt, (int)w->level, w->pfn, *p));
}

/*
** The MMU after a TLB miss: a walk that allows the access (A and D set,
** the TLBs filled).  0 and *phys, or -1 and in *present what the walk
** found -- the page fault's error code tells the handler (X86_PF_PROT).
*/
static int mmu_walk(memlab_task *t, uint64_t addr, int access, uint64_t *phys, bool *present)
{
	struct pt_walk w;
	int err = tlb_walk(t, addr, &w);

	*present = w.present;
	if (err || !mmu_allows(&w.prot, access))
		return -1;
	mmu_mark(t->m, t->mm, addr, &w, access);
	tlb_fill(t, addr, access, &w);
	*phys = w.phys;
	return 0;
}

/* memmove, without a library call for the word-sized copies most accesses are. */
static inline __attribute__((always_inline)) void copy_bytes(uint8_t *dst, const uint8_t *src,
							     size_t n)
{
	if (n == 8) {
		uint64_t v;

		memcpy(&v, src, 8);
		memcpy(dst, &v, 8);
	} else if (n < 8) {
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i];
	} else {
		memmove(dst, src, n);	/* a pread into a mapping of the same page overlaps */
	}
}

/*
** The slow part of one page's access: walk; fault and translate again
** when the MMU refuses (at once, without a walk, when a TLB entry refused
** it: see tlb_use).  A fault may end without mapping the page when
** reclaim, running in one of its allocations, changed the entry meanwhile
** (made it old, or swapped the page out: !pte_same), and the access tries
** again, as a CPU re-executes the instruction.  Linux's task may retry
** without end when reclaim takes its page every time (memory so short that
** one page cycles between the fault and swap); memlab, which has no time
** for other work to free memory meanwhile, gives up with ENOMEM after
** MAX_ACCESS_RETRIES.  A page present that the MMU still refuses is a
** simulator bug, reported.  0 and *phys, or the fault's error.
*/
#define MAX_ACCESS_RETRIES	64
static __attribute__((noinline)) int access_page_slow(memlab_task *t, uint64_t addr, int access,
						      uint64_t *phys, int *si_code)
{
	struct tlb_cpu *c = &t->m->tlb->cpu[t->cpu];
	bool tlb_refused = c->lk_fault;	/* the lookup's entry refused it: no walk */
	bool present = true;		/* a TLB entry is of a present page: X86_PF_PROT */
	int err;

	for (int tries = 0;; tries++) {
		if (tries)	/* the retried access: its TLB lookup misses */
			tlb_lookup_retry(c, access);
		if (!(tries == 0 && tlb_refused) && !mmu_walk(t, addr, access, phys, &present))
			return 0;
		if (tries == MAX_ACCESS_RETRIES) {
			struct pt_walk w;

			if (pt_walk(t->m, t->mm, addr, &w) || !w.present)
				return -MEMLAB_ENOMEM;	/* reclaim took it every time */
			ml_report(t->m, "BUG: fault at %#llx handled but the MMU still refuses it",
				  (unsigned long long)addr);
			*si_code = MEMLAB_SEGV_ACCERR;
			return -MEMLAB_EFAULT;
		}
		if ((err = do_user_addr_fault(t, addr, access, present, si_code)))
			return err;
	}
}

/*
** One page's part of an access: the TLBs, else the slow path; then the
** bytes.
*/
static inline int access_page(memlab_task *t, struct tlb_cpu *c, uint64_t addr, size_t n,
			      int access, uint8_t *buf, int *si_code)
{
	uint64_t phys;
	int err;

	if (!tlb_lookup(c, addr, access, &phys) &&
	    (err = access_page_slow(t, addr, access, &phys, si_code)))
		return err;
	if (!buf)
		return 0;
	if (access == 'w')
		copy_bytes(frame_wptr(t->m, phys >> t->m->page_shift,
				      (size_t)(phys & (t->m->page_size - 1)), n), buf, n);
	else
		copy_bytes(buf, phys_ptr(t->m, phys), n);
	return 0;
}

static int access_user(memlab_task *t, uint64_t addr, uint64_t len, int access, void *buf,
		       int *si_code)
{
	uint64_t psize = t->m->page_size;
	struct tlb_cpu *c;
	uint8_t *p = buf;
	int err;

	*si_code = 0;
	if (access != 'r' && access != 'w' && access != 'x')
		return -MEMLAB_EINVAL;
	c = switch_to_task(t);
	while (len) {
		uint64_t n = psize - (addr & (psize - 1));

		if (n > len)
			n = len;
		err = access_page(t, c, addr, (size_t)n, access, p, si_code);
		if (err) {
			t->last_signal_code = *si_code;
			t->last_signal_addr = addr;
			return err;
		}
		if (addr + n < addr)	/* the last page of the address space */
			break;
		addr += n;
		len -= n;
		p = p ? p + n : NULL;
	}
	return 0;
}

/*
** The common case done first: an access of up to 8 bytes within a page
** whose translation the CPU's last level-1 hit there still holds, by a
** task already running (no switch_mm), outside any other call, with
** nothing left for the end of a call to do (task_leave).  Nothing but the
** TLB's counters and the bytes change, as the full path would leave them.
** false, with nothing changed, when it does not apply.
*/
static inline bool access_hit(memlab_task *t, uint64_t addr, uint64_t len, int access,
			      void *buf, int *si_code)
{
	memlab_machine *m = t->m;
	struct tlb_cpu *c = &m->tlb->cpu[t->cpu];
	uint64_t phys;

	if (len - 1 >= 8 || ((addr & (m->page_size - 1)) + len > m->page_size) || !buf ||
	    m->current || m->dead || c->loaded_mm != t->mm || c->is_lazy ||
	    (access != 'r' && access != 'w') || leave_has_work(m, t) ||
	    !tlb_lookup_hint(c, addr, access, &phys))
		return false;
	*si_code = 0;
	if (access == 'w')
		copy_bytes(frame_wptr(m, phys >> m->page_shift, (size_t)(phys & (m->page_size - 1)),
				      (size_t)len), buf, (size_t)len);
	else
		copy_bytes(buf, phys_ptr(m, phys), (size_t)len);
	return true;
}

/* The whole call: the TLBs, walks and faults, page by page (out of line: the hit stays small). */
static __attribute__((noinline)) int access_call(memlab_task *t, uint64_t addr, uint64_t len,
						 int access, void *buf, int *si_code)
{
	memlab_task *prev;
	int err;

	if (t->m->dead)
		return -MEMLAB_EIO;
	prev = task_enter(t);
	err = access_user(t, addr, len, access, buf, si_code);

	task_leave(t, prev);
	return err;
}

int memlab_access(memlab_task *t, uint64_t addr, uint64_t len, int access, void *buf,
		  int *si_code)
{
	if (access_hit(t, addr, len, access, buf, si_code))
		return 0;
	return access_call(t, addr, len, access, buf, si_code);
}

int memlab_touch(memlab_task *t, uint64_t addr, uint64_t len, int access, int *si_code)
{
	return memlab_access(t, addr, len, access, NULL, si_code);
}

/* ===================== unmapping ===================== */

/* print_bad_pte(): an entry whose frame cannot be what it maps. */
static bool print_bad_pte(memlab_task *t, uint64_t va, uint64_t e, uint64_t pfn)
{
	ml_report(t->m, "BUG: Bad page map in process %s  pte:%016llx addr:%016llx pfn:%llx",
		  t->comm, (unsigned long long)e, (unsigned long long)va,
		  (unsigned long long)pfn);
	return true;
}

static inline bool bad_pte(memlab_task *t, uint64_t va, uint64_t e, uint64_t pfn)
{
	if (pfn < t->m->nr_frames && page_mapcount(t->m, pfn) > 0)
		return false;
	return print_bad_pte(t, va, e, pfn);
}

/*
** A PTE table a walk enters whose context starts with its mmu_gather
** (zap, mprotect, MADV_FREE, MADV_COLD/PAGEOUT): with its lock taken,
** the flushes that reclaim, migration or a split deferred for the mm are
** made sure of first (flush_tlb_batched_pending).
*/
static void gather_pte_table(void *ud, uint64_t va, uint64_t table)
{
	struct mmu_gather *tlb = *(struct mmu_gather **)ud;

	(void)va, (void)table;
	flush_tlb_batched_pending(tlb->t);
}

struct zap_ctx {	/* the gather first: gather_pte_table() */
	struct mmu_gather *tlb;
	const struct vm_area_struct *vma;
	bool recency;			/* vma_has_recency() */
	uint64_t end;			/* of the range */
};

/*
** The mapping goes; a page of the swap cache no one maps any more leaves
** it, unless a swap entry still names its slot (free_pages_and_swap_cache).
*/
static inline void __zap_remove_rmap(memlab_machine *m, struct page *folio, uint64_t pfn,
				     uint64_t nr, const struct vm_area_struct *vma)
{
	bool swapcache = folio->flags & PG_swapcache;

	folio_remove_rmap_ptes(m, folio, pfn, nr, vma);
	if (swapcache && !folio->mapcount)
		folio_free_swap(m, pfn);
}

void zap_remove_rmap(memlab_machine *m, uint64_t pfn, uint64_t nr,
		     const struct vm_area_struct *vma)
{
	__zap_remove_rmap(m, pfn_folio(m, pfn), pfn, nr, vma);
}

/* A swap entry goes with its slot reference (free_swap_and_cache); true if e was one. */
static bool zap_swap_entry(memlab_task *t, uint64_t e)
{
	uint64_t slot;
	bool exclusive;

	if (!t->m->swap || !pt_swap_entry(&t->mm->pt, e, &slot, &exclusive))
		return false;
	add_mm_counter(t->mm, MM_SWAPENTS, -1);
	if (!slot || slot > t->m->swap->pages || !(t->m->swap->swap_map[slot] & ~SWAP_HAS_CACHE)) {
		ml_report(t->m, "_swap_info_get: Unused swap offset entry %08llx",
			  (unsigned long long)slot);
		return true;
	}
	free_swap_and_cache(t->m, slot);
	return true;
}

/*
** zap_present_ptes() for one entry -- with the entries after it that map
** the rest of its large folio in order, in one batch (folio_pte_batch):
** the frames lose the mappings (the gather remembers the range to
** flush); a dirty entry of a file page dirties the page (the write
** reaches the file at writeback, not at munmap), and a young one marks it
** accessed, so that reclaim still sees the use a gone mapping made.
*/
static int zap_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		   uint64_t e)
{
	struct zap_ctx *z = ud;
	struct mmu_gather *tlb = z->tlb;
	memlab_task *t = tlb->t;
	memlab_machine *m = t->m;
	struct page *folio;
	struct pt_prot p;
	uint64_t pfn, nr = 1;

	pt_decode(&t->mm->pt, (int)level, e, &pfn, &p);
	folio = level == 0 && pt_prot_maps(&p) && !p.special && pfn < m->nr_frames
		? pfn_folio(m, pfn) : NULL;
	if (folio && folio_nr_pages(folio) > 1 && page_mapcount(m, pfn) > 0)
		nr = folio_pte_batch(t, table, idx, va, z->end, pfn, 0);
	if (level == 0 && (nr > 1 || p.cont)) {	/* get_and_clear_full_ptes(): the batch's bits */
		struct pt_prot g = get_and_clear_ptes(t, va, table, idx, (unsigned)nr);

		p.dirty |= g.dirty;
		p.accessed |= g.accessed;
	} else
		pt_write(m, table, idx, 0);
	if (level == 0 && zap_swap_entry(t, e))
		return 0;
	tlb_flush_pte_range(tlb, va, pt_level_size(&t->mm->pt, level) * nr, level);
	if (level > 0 && pt_prot_maps(&p)) {	/* zap_huge_pmd(): a whole huge page */
		if (p.special || !bad_pte(t, va, e, pfn))
			zap_huge_pmd(t, z->vma, pfn, &p);
		return 0;
	}
	if (!pt_prot_maps(&p) || p.special || bad_pte(t, va, e, pfn))
		return 0;
	if (p.dirty && !page_anon(folio))
		folio_mark_dirty(m, folio);
	if (p.accessed && z->recency && !page_anon(folio))
		folio_mark_accessed(m, folio);
	add_mm_counter(t->mm, mm_counter(folio), -(int64_t)nr);
	__zap_remove_rmap(m, folio, pfn, nr, z->vma);
	return 0;
}

/*
** unmap_page_range(): every entry of [start, end) goes, the tables stay;
** tlb (the caller's tlb_gather_mmu) collects what to flush.
*/
void zap_page_range(struct mmu_gather *tlb, const struct vm_area_struct *vma, uint64_t start,
		    uint64_t end)
{
	struct zap_ctx z = { tlb, vma, vma_has_recency(vma), end };

	update_hiwater_rss(tlb->mm);
	if (start != vma->vm_start || end != vma->vm_end)	/* zap_pmd_range(): a PMD */
		split_huge_pmd_range(tlb->t, start, end);	/* it covers in part */
	pt_walk_range_ptl(tlb->t->m, tlb->mm, start, end, zap_pte, gather_pte_table, &z);
}

/* ===================== mprotect ===================== */

struct change_prot_ctx {	/* the gather first: gather_pte_table() */
	struct mmu_gather *tlb;
	memlab_task *t;
	struct vm_area_struct *vma;
	struct pt_prot base;		/* vm_page_prot of the new flags */
	bool try_writable;		/* MM_CP_TRY_CHANGE_WRITABLE */
	uint64_t end;			/* of the range */
	uint64_t next;			/* the entries below went with a batch */
};

/*
** can_change_pte_writable(): a private entry may become writable at once
** when its page is exclusively this mm's anon page; a shared one when it
** is dirty already (no write notification is lost).
*/
static bool can_change_pte_writable(struct change_prot_ctx *c, uint64_t pfn,
				    const struct pt_prot *old)
{
	const struct page *page;

	if (!(c->vma->vm_flags & VM_WRITE))
		return false;
	if (c->vma->vm_flags & VM_SHARED)
		return old->dirty;
	if (old->special)
		return false;
	page = pfn_to_page(c->t->m, pfn);
	return page_anon(pfn_folio(c->t->m, pfn)) && (page->flags & PG_anon_exclusive);
}

/*
** How many entries of a batch from pfn's on, at most nr, take the same
** write decision as pfn's (commit_anon_folio_batch: PageAnonExclusive is
** per page), and that decision in *write.
*/
static uint64_t writable_run(struct change_prot_ctx *c, uint64_t pfn, uint64_t nr,
			     const struct pt_prot *old, bool *write)
{
	uint64_t run = 1;

	*write = can_change_pte_writable(c, pfn, old);
	if (c->vma->vm_flags & VM_SHARED)
		return nr;
	while (run < nr && can_change_pte_writable(c, pfn + run, old) == *write)
		run++;
	return run;
}

/*
** change_pte_range() from one entry: pte_modify() keeps frame, A, D,
** special; the range is flushed if a TLB may hold the old entry
** (pte_needs_flush).  A large folio's PTEs with the same write bit go
** as a batch (mm/mprotect.c mprotect_folio_pte_batch, 6.17+): cleared, their dirty
** and young bits gathered (modify_prot_start_ptes), written again as
** set_ptes() does (modify_prot_commit_ptes), in runs of pages with the
** same write upgrade.
*/
static int change_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		      uint64_t e)
{
	struct change_prot_ctx *c = ud;
	memlab_task *t = c->t;
	const struct pt_format *f = &t->mm->pt;
	struct pt_prot old, p = c->base;
	uint64_t pfn, ne, nr = 1;

	pt_decode(f, (int)level, e, &pfn, &old);
	if (!pt_prot_maps(&old) || va < c->next)
		return 0;
	if (level == 0 && !old.special && pfn < t->m->nr_frames &&
	    folio_nr_pages(pfn_folio(t->m, pfn)) > 1)
		nr = folio_pte_batch(t, table, idx, va, c->end, pfn, FPB_RESPECT_WRITE);
	if (level == 0)
		old = get_and_clear_ptes(t, va, table, idx, (unsigned)nr);
	c->next = va + (nr << t->m->page_shift);
	p.accessed = old.accessed;
	p.dirty = old.dirty;
	p.special = old.special;
	p.huge = old.huge;
	for (uint64_t i = 0, run; i < nr; i += run) {
		struct pt_prot q = p;
		bool write = false;

		run = nr - i;
		if (c->try_writable && p.present && !p.write) {
			run = writable_run(c, pfn + i, nr - i, &old, &write);
			q.write = write;
		}
		ne = pt_mkentry(f, (int)level, pfn + i, q);
		if (level == 0)
			set_ptes(t, va + (i << t->m->page_shift), table, idx + i, pfn + i, q,
				 (unsigned)run);
		else
			pt_write(t->m, table, idx, ne);
		if (pte_needs_flush(f, i ? pt_mkentry(f, 0, pfn + i, old) : e, ne))
			tlb_flush_pte_range(c->tlb, va + (i << t->m->page_shift),
					    pt_level_size(f, level) * run, level);
	}
	return 0;
}

/*
** change_protection(): the entries of [start, end) in vma follow its new
** flags; tlb (mprotect's gather) collects what to flush.
*/
void change_protection(struct mmu_gather *tlb, struct vm_area_struct *vma, uint64_t start,
		       uint64_t end)
{
	memlab_task *t = tlb->t;
	struct change_prot_ctx c = { tlb, t, vma, vma_page_prot(vma), false, end, 0 };

	/* vma_wants_manual_pte_write_upgrade() */
	c.try_writable = vma->vm_flags & VM_SHARED ? vma_wants_writenotify(vma)
						    : !!(vma->vm_flags & VM_WRITE);
	pt_walk_range_ptl(t->m, t->mm, start, end, change_pte, gather_pte_table, &c);
}

/* ===================== mremap ===================== */

struct move_ctx {
	memlab_task *t;
	uint64_t old_addr, new_addr;
	bool prepare;			/* the first pass: only allocate the tables */
	bool present;			/* a present entry moved: flush (move_ptes' force_flush) */
	uint64_t end;			/* of the extent walked */
	uint64_t next;			/* the entries below went with a batch */
};

/*
** move_ptes() from one entry: the same frame and bits at the new address.
** An arm64 block's PTEs move as a batch with the folio's next ones of the
** same write bit (mm/mremap.c mremap_folio_pte_batch, 6.17+, which pte_batch_hint()
** keeps to blocks: 1 on x86-64, and for any other PTE): cleared with their
** dirty and young bits gathered (get_and_clear_ptes), then set_ptes() at
** the new address.
*/
static int move_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		    uint64_t e)
{
	struct move_ctx *c = ud;
	memlab_task *t = c->t;
	const struct pt_format *f = &t->mm->pt;
	uint64_t to = va - c->old_addr + c->new_addr, dst, pfn, nr = 1;
	int err = pt_alloc_path(t->m, t->mm, to, level, &dst);
	struct pt_prot p;

	if (err || c->prepare || va < c->next)
		return err;
	pt_decode(f, (int)level, e, &pfn, &p);
	c->present |= pt_prot_maps(&p);	/* pte_present() */
	if (level || !pt_prot_maps(&p)) {
		pt_write(t->m, dst, pt_index(f, level, to), e);
		pt_write(t->m, table, idx, 0);
		return 0;
	}
	if (p.cont && p.present && !p.special && pfn < t->m->nr_frames)
		nr = folio_pte_batch(t, table, idx, va, c->end, pfn, FPB_RESPECT_WRITE);
	c->next = va + (nr << t->m->page_shift);
	p = get_and_clear_ptes(t, va, table, idx, (unsigned)nr);
	set_ptes(t, to, dst, pt_index(f, 0, to), pfn, p, (unsigned)nr);
	return 0;
}

/*
** get_extent(NORMAL_PMD): the part of the move from old to old_end that
** crosses no PMD boundary on either side.
*/
static uint64_t move_extent(const struct pt_format *f, uint64_t old, uint64_t old_end,
			    uint64_t new_addr)
{
	uint64_t pmd = pt_level_size(f, 1);
	uint64_t extent = ((old + pmd) & ~(pmd - 1)) - old;

	if (extent > old_end - old)
		extent = old_end - old;
	if (extent > ((new_addr + pmd) & ~(pmd - 1)) - new_addr)
		extent = ((new_addr + pmd) & ~(pmd - 1)) - new_addr;
	return extent;
}

/* move_ptes() with the old PTE table locked: deferred flushes made sure of (gather_pte_table). */
static void move_pte_table(void *ud, uint64_t va, uint64_t table)
{
	(void)va, (void)table;
	flush_tlb_batched_pending(((struct move_ctx *)ud)->t);
}

/* The move itself, extent by extent, each flushed if it moved a present entry. */
static int move_extents(struct move_ctx *c, uint64_t len)
{
	const struct pt_format *f = &c->t->mm->pt;
	uint64_t old_end = c->old_addr + len;
	int err;

	for (uint64_t old = c->old_addr; old < old_end;) {
		uint64_t extent = move_extent(f, old, old_end, old - c->old_addr + c->new_addr);

		c->present = false;
		c->end = old + extent;
		if ((err = pt_walk_range_ptl(c->t->m, c->t->mm, old, old + extent, move_pte,
					     move_pte_table, c)))
			return err;
		if (c->present)
			flush_tlb_range(c->t, old, old + extent);
		old += extent;
	}
	return 0;
}

/*
** The tables Linux's walks allocate for the copy of [src, src + len) at
** dst, entries to copy or not, extent by extent (no PMD boundary crossed
** on either side): as_level(L) is the level of the table dst gets where
** src's deepest table there is at level L (-1: none).  A PMD given an
** empty PTE table this way can no longer be a huge page's, which shows in
** later faults.  A hole above the PMD level is passed in one step (fork
** of a sparse terabyte walks its tables, not its PMDs).
*/
static int alloc_like_tables(memlab_task *t, struct mm_struct *dst_mm, uint64_t src,
			     uint64_t dst, uint64_t len,
			     int (*as_level)(const struct pt_format *, unsigned))
{
	const struct pt_format *f = &t->mm->pt;
	uint64_t table, out;
	unsigned level;
	int err, to;

	for (uint64_t a = src, next; a < src + len; a = next) {
		next = a + move_extent(f, a, src + len, a - src + dst);
		if (pt_leaf_slot(t->m, t->mm, a, &table, &level))
			continue;
		if (level >= 2) {	/* nothing below this entry: on to the next one */
			uint64_t size = pt_level_size(f, level), end = (a & ~(size - 1)) + size;

			if (end > next)
				next = end < a || end > src + len ? src + len : end;
		}
		if ((to = as_level(f, level)) >= 0 &&
		    (err = pt_alloc_path(t->m, dst_mm, a - src + dst, (unsigned)to, &out)))
			return err;
	}
	return 0;
}

/*
** move_page_tables(): a PTE table at the old PMD gives the new one a PTE
** table (alloc_new_pmd, pte_alloc); a PMD table whose entry is none, only
** a PUD table (alloc_new_pud) -- a 6.18 host's mremap out of a PTE-mapped
** PMD kept a later fault at the destination small.
*/
static int move_table_level(const struct pt_format *f, unsigned level)
{
	return level == 0 ? 0 : level == 1 && f->levels > 3 ? 2 : -1;
}

/*
** move_page_tables(): the entries of [old_addr, old_addr + len) move to
** the empty range at new_addr.  The tables they need there are allocated
** first (alloc_like_tables: every one whose old PMD has a table), so that
** the move itself cannot fail: -MEMLAB_ENOMEM leaves the entries where
** they were (and no new table behind).
*/
int move_page_tables(memlab_task *t, uint64_t old_addr, uint64_t new_addr, uint64_t len)
{
	struct move_ctx c = { t, old_addr, new_addr, true, false, 0, 0 };
	uint64_t hmask = pt_level_size(&t->mm->pt, 1) - 1;
	int err;

	/* a huge leaf moves whole only to a place of the same alignment (move_huge_pmd) */
	if ((old_addr ^ new_addr) & hmask)
		split_huge_pmd_all(t, old_addr, old_addr + len);
	else
		split_huge_pmd_range(t, old_addr, old_addr + len);
	err = alloc_like_tables(t, t->mm, old_addr, new_addr, len, move_table_level);
	if (!err)
		err = pt_walk_range(t->m, t->mm, old_addr, old_addr + len, move_pte, &c);
	if (err) {	/* the new tables were never walked: no TLB knows them */
		free_pgtables(t->m, t->mm, new_addr, new_addr + len, NULL);
		return err;
	}
	c.prepare = false;
	return move_extents(&c, len);
}

/* ===================== populating ===================== */

/*
** follow_page_pte() with FOLL_TOUCH: the page at a, present with the
** access, is marked accessed (folio_mark_accessed -- so that a populated
** page counts as Referenced in smaps even where its entry is old, as in
** a fork child's copy), and dirty if a write finds its entry clean.  A
** huge entry is made young (and dirty) itself (touch_pmd).  Whether the
** page was there.
*/
static bool gup_follow(memlab_task *t, uint64_t a, bool write)
{
	memlab_machine *m = t->m;
	struct page *page;
	struct pt_walk w;

	if (pt_walk(m, t->mm, a, &w) || (write && !w.prot.write))
		return false;
	if (w.level > 0) {	/* touch_pmd(): the huge entry itself, no folio_mark_accessed */
		const struct pt_format *f = &t->mm->pt;

		w.prot.accessed = true;
		w.prot.dirty |= write;
		pt_write(m, w.table[w.nr_levels - 1], pt_index(f, w.level, a),
			 pt_mkentry(f, (int)w.level, w.pfn, w.prot));
		return true;
	}
	if (w.prot.special || w.pfn >= m->nr_frames)
		return true;	/* the zero page: its flags show nowhere */
	page = pfn_folio(m, w.pfn);
	if (w.prot.cont)	/* mm/gup.c follow_page_pte's ptep_get(): the block's dirty bit */
		pt_decode(&t->mm->pt, 0, ptep_get(m, &t->mm->pt, w.table[w.nr_levels - 1],
						  pt_index(&t->mm->pt, 0, a)), &w.pfn, &w.prot);
	if (write && !w.prot.dirty && !(page->flags & PG_dirty)) {
		if (page_anon(page))
			page->flags |= PG_dirty;	/* no mapping to tell: the flag alone */
		else
			folio_mark_dirty(m, page);
	}
	folio_mark_accessed(m, page);
	return true;
}

/*
** GUP's faults of [start, end) of vma (faultin_page): each page not
** present with the access is faulted in -- a write when write -- as a
** fault without FAULT_FLAG_USER: no exception tracepoint, no TLB, the
** task's min_flt/maj_flt and pgfault counted.  The caller holds the
** mmap_lock; unlockable (&locked): a fault may drop it (for I/O, to
** balance dirty pages), and it is taken again for the next page (*dropped
** set).  0, -MEMLAB_ENOMEM, or -MEMLAB_EFAULT for a SIGBUS (past a file's
** end).  Every page found present, before or after its fault, is
** touched as follow_page_mask() touches it (FOLL_TOUCH): see gup_follow().
** Then this CPU's folio batches drain: on the 6.18 host, MAP_POPULATE and
** MADV_POPULATE_{READ,WRITE} leave the pages they faulted, and every page
** waiting before, on the LRU lists, even when nothing was faulted
** (/proc/kpageflags), where a write through /proc/PID/mem leaves them
** waiting.
*/
static int gup_fault_pages(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
			   uint64_t end, bool write, bool unlockable, bool *dropped)
{
	unsigned flags = (write ? FAULT_FLAG_WRITE : 0) | (unlockable ? FAULT_FLAG_ALLOW_RETRY : 0);

	for (uint64_t a = start; a < end; a += t->m->page_size) {
		unsigned ret;

		if (t->oom_victim)	/* fatal_signal_pending(): allocate no more */
			return -MEMLAB_EINTR;
		if (gup_follow(t, a, write))
			continue;
		ret = handle_mm_fault(t, vma, a, flags);
		if (ret & VM_FAULT_COMPLETED)
			mmap_read_lock(t->mm);	/* the retry, which finds the page mapped */
		if (ret & (VM_FAULT_COMPLETED | VM_FAULT_RELOCKED))
			*dropped = true;
		if (ret & VM_FAULT_OOM)
			return -MEMLAB_ENOMEM;
		if (ret & VM_FAULT_ERROR)
			return -MEMLAB_EFAULT;
		gup_follow(t, a, write);	/* __get_user_pages' retry finds the page now */
	}
	return 0;
}

static int gup_fault_range(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
			   uint64_t end, bool write, bool unlockable, bool *dropped)
{
	int err = gup_fault_pages(t, vma, start, end, write, unlockable, dropped);

	lru_add_drain(t->m);
	return err;
}

/*
** populate_vma_page_range(): mm_populate's GUP over [start, end) of vma
** (a write fault for a private writable mapping, so COW happens now),
** skipping PROT_NONE and VM_IO/VM_PFNMAP VMAs, and VM_LOCKONFAULT ones,
** whose pages are locked as they fault in.  0 or GUP's error.
*/
int populate_vma_page_range(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
			    uint64_t end, bool unlockable)
{
	bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE, dropped = false;

	if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_LOCKONFAULT) ||
	    !(vma->vm_flags & VM_ACCESS_FLAGS))
		return 0;
	return gup_fault_range(t, vma, start, end, write, unlockable, &dropped);
}

/*
** faultin_page_range()'s part in vma (MADV_POPULATE_*): the caller
** checked the VMA.  *dropped: a fault dropped the mmap_lock, which
** __get_user_pages_locked() then releases when it returns.
*/
int faultin_vma_range(memlab_task *t, struct vm_area_struct *vma, uint64_t start,
		      uint64_t end, bool write, bool *dropped)
{
	return gup_fault_range(t, vma, start, end, write, true, dropped);
}

/* ===================== inspection ===================== */

int memlab_translate(memlab_task *t, uint64_t va, struct memlab_walk *out)
{
	const struct pt_format *f = &t->mm->pt;
	struct pt_walk w;
	int err = pt_walk(t->m, t->mm, va, &w);

	memset(out, 0, sizeof(*out));
	if (err == -MEMLAB_EINVAL)
		return err;
	out->levels = w.nr_levels;
	for (unsigned i = 0; i < w.nr_levels; i++) {
		out->entry[i] = w.entry[i];
		out->table_pfn[i] = w.table[i];
		out->level_name[i] = pt_level_name(f, f->levels - 1 - i);
	}
	out->present = w.present;
	out->pfn = w.pfn;
	out->phys = w.phys;
	out->leaf_size = pt_level_size(f, w.level);
	out->write = w.prot.write;
	out->user = w.prot.user;
	out->exec = w.prot.exec;
	out->accessed = w.prot.accessed;
	out->dirty = w.prot.dirty;
	out->global = w.prot.global;
	out->huge = w.prot.huge;
	out->special = w.prot.special;
	out->protnone = w.prot.protnone;
	out->cont = w.prot.cont;
	if (w.nr_levels)
		pt_flag_names(f, w.level, w.entry[w.nr_levels - 1], out->flags, sizeof(out->flags));
	if (w.nr_levels && w.level == 0 && t->m->swap) {
		bool exclusive;

		out->swap = pt_swap_entry(f, w.entry[w.nr_levels - 1], &out->swap_offset, &exclusive);
		out->swap_exclusive = out->swap && exclusive;
		if (out->swap) {		/* a swap entry's bits are not protections */
			out->write = out->user = out->exec = out->accessed = out->dirty = 0;
			out->flags[0] = 0;
		}
	}
	return err;
}

int memlab_pagetable_dump(memlab_task *t, uint64_t start, uint64_t end, char **text,
			  size_t *len)
{
	struct strbuf sb;

	sb_init(&sb, t->m);
	pt_dump(t->m, t->mm, start, end, &sb);
	return sb_finish(&sb, text, len);
}

/* ===================== fork ===================== */

struct copy_ctx {
	memlab_task *dst, *src;
	const struct vm_area_struct *src_vma;
	uint64_t next;			/* the entries below went with a batch */
};

/* is_cow_mapping(): private and maybe writable. */
static bool is_cow_mapping(uint64_t flags)
{
	return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}

/*
** copy_nonpresent_pte() for a swap entry: the child gets the same entry,
** the slot one more reference, and neither is exclusive any more.
*/
static int copy_swap_pte(struct copy_ctx *c, uint64_t va, uint64_t table, uint64_t idx,
			 uint64_t e)
{
	memlab_machine *m = c->dst->m;
	const struct pt_format *f = &c->dst->mm->pt;
	uint64_t slot, dst;
	bool exclusive;
	int err;

	if (!m->swap || !pt_swap_entry(f, e, &slot, &exclusive))
		return 0;
	if ((err = pt_alloc_path(m, c->dst->mm, va, 0, &dst)))
		return err;
	if (exclusive)
		pt_write(m, table, idx, pt_mkswap(f, slot, false));
	pt_write(m, dst, pt_index(f, 0, va), pt_mkswap(f, slot, false));
	swap_duplicate(m, slot);
	add_mm_counter(c->dst->mm, MM_SWAPENTS, 1);
	return 0;
}

/*
** copy_present_ptes() of a batch: the child maps nr pages of a folio from
** pfn on, as the parent does from idx of its table -- old (and clean in a
** shared mapping); a writable private batch is write-protected in both
** (wrprotect_ptes), and anon pages stop being exclusive
** (folio_try_dup_anon_rmap_ptes), so the first write on either side
** copies or reuses.  The parent's entry p has the batch's dirty bit.
*/
static int copy_present_ptes(struct copy_ctx *c, uint64_t va, uint64_t table, uint64_t idx,
			     uint64_t pfn, struct pt_prot p, uint64_t nr)
{
	memlab_machine *m = c->dst->m;
	const struct pt_format *f = &c->dst->mm->pt;
	struct page *folio = pfn_folio(m, pfn);
	uint64_t dst;
	int err;

	if (is_cow_mapping(c->src_vma->vm_flags) && p.write) {
		wrprotect_ptes(c->src, va, table, idx, (unsigned)nr);
		p.write = false;
	}
	p.accessed = false;
	if (c->src_vma->vm_flags & VM_SHARED)
		p.dirty = false;
	folio->_refcount += (int32_t)nr;	/* the child's, before a table allocation may reclaim */
	for (uint64_t i = 0; i < nr && page_anon(folio); i++)	/* and reclaim must leave */
		pfn_to_page(m, pfn + i)->flags &= ~PG_anon_exclusive;	/* a shared swap entry */
	if ((err = pt_alloc_path(m, c->dst->mm, va, 0, &dst))) {
		folio->_refcount -= (int32_t)nr - 1;
		put_page(m, pfn);
		return err;
	}
	set_ptes(c->dst, va, dst, pt_index(f, 0, va), pfn, p, (unsigned)nr);
	for (uint64_t i = 0; i < nr; i++)	/* counted anew if reclaim unmapped it meanwhile */
		page_add_rmap_pte(m, folio, pfn_to_page(m, pfn + i));
	add_mm_counter(c->dst->mm, mm_counter(folio), (int64_t)nr);
	return 0;
}

/*
** copy_present_pte() and copy_present_ptes(): the child maps what the
** parent does (see above); a large folio's PTEs go as a batch
** (folio_pte_batch: of one dirty bit in a private mapping, the write bits
** merged), the special zero page as it is.  A huge PMD is
** copy_huge_pmd()'s.
*/
static int copy_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		    uint64_t e)
{
	struct copy_ctx *c = ud;
	memlab_machine *m = c->dst->m;
	const struct pt_format *f = &c->dst->mm->pt;
	struct pt_prot p, child;
	uint64_t pfn, nr = 1;
	int err;

	if (va < c->next)
		return 0;
	pt_decode(f, (int)level, e, &pfn, &p);
	if (level == 0 && !pt_prot_maps(&p))
		return copy_swap_pte(c, va, table, idx, e);
	if (!pt_prot_maps(&p) || (!p.special && pfn >= m->nr_frames))
		return 0;
	if (level > 0 && !p.special && !page_anon(pfn_to_page(m, pfn)))
		return 0;	/* copy_huge_pmd(): a file folio's PMD faults in again in the child */
	if (level == 0 && !p.special) {
		pt_decode(f, 0, ptep_get(m, f, table, idx), &pfn, &p);
		if (folio_nr_pages(pfn_folio(m, pfn)) > 1)	/* a private batch keeps to one dirty bit */
			nr = folio_pte_batch(c->src, table, idx, va, c->src_vma->vm_end, pfn,
					     c->src_vma->vm_flags & VM_SHARED ? 0 : FPB_RESPECT_DIRTY);
		c->next = va + (nr << m->page_shift);
		for (uint64_t i = 1; i < nr && !p.write; i++) {		/* FPB_MERGE_WRITE */
			struct pt_prot q;
			uint64_t qpfn;

			pt_decode(f, 0, pt_read(m, table, idx + i), &qpfn, &q);
			p.write |= q.write;
		}
		return copy_present_ptes(c, va, table, idx, pfn, p, nr);
	}
	if (is_cow_mapping(c->src_vma->vm_flags) && p.write) {
		p.write = false;
		pt_write(m, table, idx, pt_mkentry(f, (int)level, pfn, p));
	}
	child = p;
	child.accessed = false;
	if (c->src_vma->vm_flags & VM_SHARED)
		child.dirty = false;
	if (level > 0) {
		err = copy_huge_pmd(c->dst, va, pfn, child, table, idx, pt_read(m, table, idx));
		if (err != 1)
			return err;
		/* reclaim split the huge page while the child's tables were allocated */
		return pt_walk_range(m, c->src_vma->vm_mm, va, va + pt_level_size(f, level),
				     copy_pte, c);
	}
	return pt_map(m, c->dst->mm, va, level, pfn, child);	/* the zero page */
}

/*
** copy_page_range(): the child's copy of src_vma gets its entries --
** only when a fault could not fill them in again (vma_needs_copy: the
** VMA has anonymous pages); shared and never-written mappings fault in
** afresh in the child.  0 or -MEMLAB_ENOMEM (the child is torn down).
*/
/*
** copy_p4d_range() ... copy_pte_range(): the child gets a table wherever
** the parent has one below an entry that is not none -- a PTE table for a
** PMD with one, empty or not (pte_alloc_map_lock before the copy).
*/
static int fork_table_level(const struct pt_format *f, unsigned level)
{
	return level + 1 < f->levels ? (int)level : -1;
}

int copy_page_range(memlab_task *dst, memlab_task *src, const struct vm_area_struct *src_vma)
{
	struct copy_ctx c = { dst, src, src_vma, 0 };
	int err;

	if (!src_vma->anon_vma && !(src_vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP)))
		return 0;
	err = alloc_like_tables(src, dst->mm, src_vma->vm_start, src_vma->vm_start,
				src_vma->vm_end - src_vma->vm_start, fork_table_level);
	if (err)
		return err;
	return pt_walk_range(src->m, src->mm, src_vma->vm_start, src_vma->vm_end, copy_pte, &c);
}

/* ===================== MADV_FREE ===================== */

/*
** madvise_free_pte_range() for one entry: an anonymous page becomes
** lazily freeable (folio_mark_lazyfree: off the swap-backed anon LRU onto the
** inactive file LRU, pglazyfree), so that reclaim may drop it instead of
** swapping it unless it is written again, and this entry clean and old.
** Only a page whose own flags keep it (swap cache, PG_dirty) must be
** mapped by this mm alone: that state is cleared for all.  A page shared
** after a fork is otherwise made lazily free all the same -- the other
** mappings' dirty entries keep reclaim from dropping it (try_to_unmap
** finds them dirty).  The zero page is left alone; a PROT_NONE entry is
** present to Linux and is not.
*/
struct free_ctx {	/* the gather first: gather_pte_table() */
	struct mmu_gather *tlb;
	uint64_t start, end;		/* the range advised */
	uint64_t next;			/* the PTEs below, of a large folio, are done */
};

static int free_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		    uint64_t e)
{
	struct free_ctx *c = ud;
	struct mmu_gather *tlb = c->tlb;
	memlab_task *t = tlb->t;
	memlab_machine *m = t->m;
	const struct pt_format *f = &t->mm->pt;
	struct page *page;
	struct pt_prot p;
	uint64_t pfn, nr;

	pt_decode(f, (int)level, e, &pfn, &p);
	if (level == 0 && !pt_prot_maps(&p) && zap_swap_entry(t, e)) {
		pt_write(m, table, idx, 0);	/* a swapped-out page is simply dropped */
		return 0;
	}
	if (level > 0 && pt_prot_maps(&p)) {
		if (madvise_free_huge_pmd(tlb, va, table, idx, c->start, c->end))
			pt_walk_range_ptl(m, t->mm, va < c->start ? c->start : va,
					  va + pt_level_size(f, 1) > c->end ? c->end :
					  va + pt_level_size(f, 1),
					  free_pte, gather_pte_table, c);	/* split: its pages */
		return 0;
	}
	if (!pt_prot_maps(&p) || p.special || pfn >= m->nr_frames || va < c->next)
		return 0;
	if (madvise_large_pte(t, table, idx, va, c->end, pfn, &nr) == LP_SKIP) {
		c->next = va + (nr << m->page_shift);
		return 0;
	}
	c->next = va + (nr << m->page_shift);
	page = pfn_folio(m, pfn);
	if (!page_anon(page))
		return 0;
	if (page->flags & (PG_swapcache | PG_dirty)) {	/* a large one: mapped whole here */
		if (folio_mapcount(page) != (int)folio_nr_pages(page))
			return 0;
		if ((page->flags & PG_swapcache) && !folio_free_swap(m, pfn))
			return 0;	/* a swap entry elsewhere still needs the slot */
		page->flags &= ~PG_dirty;
	}
	clear_young_dirty_ptes(tlb, table, idx, va, nr, true);
	folio_mark_lazyfree(m, page);
	return 0;
}

void madvise_free_range(struct mmu_gather *tlb, uint64_t start, uint64_t end)
{
	struct free_ctx c = { tlb, start, end, 0 };

	pt_walk_range_ptl(tlb->t->m, tlb->t->mm, start, end, free_pte, gather_pte_table, &c);
}

/* ===================== MADV_COLD, MADV_PAGEOUT ===================== */

struct cold_ctx {	/* the gather first: gather_pte_table() */
	struct mmu_gather *tlb;
	struct folio_list *pageout;	/* MADV_PAGEOUT's isolated folios; NULL: MADV_COLD */
	bool anon_only;
	uint64_t start, end;		/* the range advised */
	uint64_t next;			/* the PTEs below, of a large folio, are done */
};

/*
** madvise_cold_or_pageout_pte_range() for one entry: a page this mm alone
** maps, on an LRU list, loses its referenced bit; MADV_COLD makes the
** entry old and the page inactive, MADV_PAGEOUT isolates it for
** reclaim_pages() at the end of the PMD's range (a file page is unmapped
** and freed, or left to the flusher when dirty; an anonymous one, without
** swap, is activated).
*/
static int cold_pte(void *ud, uint64_t va, unsigned level, uint64_t table, uint64_t idx,
		    uint64_t e)
{
	struct cold_ctx *c = ud;
	memlab_task *t = c->tlb->t;
	memlab_machine *m = t->m;
	const struct pt_format *f = &t->mm->pt;
	struct page *page;
	struct pt_prot p;
	uint64_t pfn, nr;

	pt_decode(f, (int)level, e, &pfn, &p);
	if (level > 0 && pt_prot_maps(&p)) {
		if (madvise_cold_huge_pmd(c->tlb, va, table, idx, c->start, c->end, c->pageout))
			pt_walk_range_ptl(m, t->mm, va < c->start ? c->start : va,
					  va + pt_level_size(f, 1) > c->end ? c->end :
					  va + pt_level_size(f, 1),
					  cold_pte, gather_pte_table, c);	/* split: its pages */
		return 0;
	}
	if (!pt_prot_maps(&p) || p.special || pfn >= m->nr_frames || va < c->next)
		return 0;	/* PROT_NONE entries are present to Linux, and go cold too */
	if (madvise_large_pte(t, table, idx, va, c->end, pfn, &nr) == LP_SKIP) {
		c->next = va + (nr << m->page_shift);
		return 0;
	}
	c->next = va + (nr << m->page_shift);
	page = pfn_folio(m, pfn);	/* a large one: mapped whole here, once if exclusive */
	if (!(page->flags & PG_lru) || folio_mapcount(page) != (int)folio_nr_pages(page) ||
	    (c->anon_only && !page_anon(page)))
		return 0;
	if (!c->pageout)
		clear_young_dirty_ptes(c->tlb, table, idx, va, nr, false);
	page->flags &= ~PG_referenced;
	if (page->flags & PG_active)
		page->flags |= PG_workingset;
	if (c->pageout)
		folio_isolate_for_pageout(m, c->pageout, page_to_pfn(m, page));
	else
		folio_deactivate(m, page);
	return 0;
}

/*
** MADV_COLD / MADV_PAGEOUT over [start, end) of vma, a PMD's range at a
** time (walk_page_range -> madvise_cold_or_pageout_pte_range), each
** range's pages paged out together (reclaim_pages); a file mapping's
** pages are paged out only if the task could open the file for writing
** (can_do_file_pageout), else only its anonymous (COW) pages.
*/
void madvise_cold_range(struct mmu_gather *tlb, struct vm_area_struct *vma, uint64_t start,
			uint64_t end, bool pageout)
{
	memlab_machine *m = tlb->t->m;
	uint64_t pmd_size = pt_level_size(&tlb->t->mm->pt, 1), next;
	struct folio_list list = { NULL, 0, 0 };
	struct cold_ctx c = { tlb, pageout ? &list : NULL,
			      pageout && vma->vm_file && !vma->vm_file->writable, start, end, 0 };

	for (uint64_t a = start; a < end; a = next) {
		next = (a | (pmd_size - 1)) + 1;
		if (next > end || next < a)
			next = end;
		pt_walk_range_ptl(m, tlb->t->mm, a, next, cold_pte, gather_pte_table, &c);
		if (pageout)
			reclaim_pages(m, &list);
	}
	ml_free(m, list.pfn, list.cap * sizeof(*list.pfn));
}
