/*
** trace.c -- tracepoints with Linux's names and fields (include/trace/
** events/kmem.h, mmap_lock.h, oom.h, tlb.h, arch/x86/include/asm/trace/
** exceptions.h): a disabled event
** costs one test of a bit; an enabled one goes to the host's hook (the
** bindings' m:on) and/or into a ring buffer of fixed size kept in C.
** Events carry the machine's event clock (one tick per event: the
** simulation has no time of its own) and the pid the core runs for.
** The ring dumps as text in ftrace's format, as JSON Lines, or as Chrome
** trace-event JSON (Perfetto opens it; one track per process).
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mm.h"

/* Each event's name, system and fields (the order of ev->arg[]). */
static const struct tracepoint_desc {
	const char *name, *system;
	const char *fields[MEMLAB_TRACE_ARGS];
} tracepoints[NR_TRACEPOINTS] = {
	[TP_MM_PAGE_ALLOC] = { "mm_page_alloc", "kmem",
			       { "pfn", "order", "gfp_flags", "migratetype" } },
	[TP_MM_PAGE_FREE] = { "mm_page_free", "kmem", { "pfn", "order" } },
	[TP_MM_PAGE_ALLOC_ZONE_LOCKED] = { "mm_page_alloc_zone_locked", "kmem",
					   { "pfn", "order", "migratetype", "percpu_refill" } },
	[TP_MM_PAGE_PCPU_DRAIN] = { "mm_page_pcpu_drain", "kmem",
				    { "pfn", "order", "migratetype" } },
	[TP_PAGE_FAULT_USER] = { "page_fault_user", "exceptions",
				 { "address", "error_code" } },
	[TP_PAGE_FAULT_KERNEL] = { "page_fault_kernel", "exceptions",
				   { "address", "error_code" } },
	[TP_RSS_STAT] = { "rss_stat", "kmem", { "member", "size", "curr" } },
	[TP_TLB_FLUSH] = { "tlb_flush", "tlb", { "reason", "pages" } },
	[TP_MMAP_LOCK_START_LOCKING] = { "mmap_lock_start_locking", "mmap_lock",
					 { "mm", "memcg_id", "write" } },
	[TP_MMAP_LOCK_ACQUIRE_RETURNED] = { "mmap_lock_acquire_returned", "mmap_lock",
					    { "mm", "memcg_id", "write", "success" } },
	[TP_MMAP_LOCK_RELEASED] = { "mmap_lock_released", "mmap_lock",
				    { "mm", "memcg_id", "write" } },
	[TP_MARK_VICTIM] = { "mark_victim", "oom",
			     { "pid", "total_vm", "anon_rss", "file_rss", "shmem_rss", "uid",
			       "pgtables", "oom_score_adj" } },
	[TP_OOM_SCORE_ADJ_UPDATE] = { "oom_score_adj_update", "oom", { "pid", "oom_score_adj" } },
	[TP_MM_VMSCAN_KSWAPD_SLEEP] = { "mm_vmscan_kswapd_sleep", "vmscan", { "nid" } },
	[TP_MM_VMSCAN_KSWAPD_WAKE] = { "mm_vmscan_kswapd_wake", "vmscan", { "nid", "zid", "order" } },
	[TP_MM_VMSCAN_WAKEUP_KSWAPD] = { "mm_vmscan_wakeup_kswapd", "vmscan",
					 { "nid", "zid", "order", "gfp_flags" } },
	[TP_MM_VMSCAN_DIRECT_RECLAIM_BEGIN] = { "mm_vmscan_direct_reclaim_begin", "vmscan",
						{ "order", "gfp_flags" } },
	[TP_MM_VMSCAN_DIRECT_RECLAIM_END] = { "mm_vmscan_direct_reclaim_end", "vmscan",
					      { "nr_reclaimed" } },
	[TP_MM_VMSCAN_MEMCG_RECLAIM_BEGIN] = { "mm_vmscan_memcg_reclaim_begin", "vmscan",
					       { "order", "gfp_flags" } },
	[TP_MM_VMSCAN_MEMCG_RECLAIM_END] = { "mm_vmscan_memcg_reclaim_end", "vmscan",
					     { "nr_reclaimed" } },
	[TP_MM_VMSCAN_LRU_ISOLATE] = { "mm_vmscan_lru_isolate", "vmscan",
				       { "highest_zoneidx", "order", "nr_requested", "nr_scanned",
					 "nr_skipped", "nr_taken", "lru" } },
	[TP_MM_VMSCAN_LRU_SHRINK_INACTIVE] = { "mm_vmscan_lru_shrink_inactive", "vmscan",
					       { "nid", "nr_scanned", "nr_reclaimed", "nr_dirty",
						 "nr_writeback", "nr_congested", "nr_immediate",
						 "nr_activate0", "nr_activate1", "nr_ref_keep",
						 "nr_unmap_fail", "priority", "reclaim_flags" } },
	[TP_MM_VMSCAN_LRU_SHRINK_ACTIVE] = { "mm_vmscan_lru_shrink_active", "vmscan",
					     { "nid", "nr_taken", "nr_active", "nr_deactivated",
					       "nr_referenced", "priority", "reclaim_flags" } },
	[TP_RECLAIM_RETRY_ZONE] = { "reclaim_retry_zone", "oom",
				    { "node", "zone_idx", "order", "reclaimable", "available",
				      "min_wmark", "no_progress_loops", "wmark_check" } },
	[TP_MM_COMPACTION_WAKEUP_KCOMPACTD] = { "mm_compaction_wakeup_kcompactd", "compaction",
						{ "nid", "order", "highest_zoneidx" } },
	[TP_MM_COMPACTION_KCOMPACTD_WAKE] = { "mm_compaction_kcompactd_wake", "compaction",
					      { "nid", "order", "highest_zoneidx" } },
	[TP_MM_COMPACTION_KCOMPACTD_SLEEP] = { "mm_compaction_kcompactd_sleep", "compaction",
					       { "nid" } },
	[TP_COMPACT_RETRY] = { "compact_retry", "oom",
			       { "order", "priority", "result", "retries", "max_retries", "ret" } },
	[TP_MM_VMSCAN_RECLAIM_PAGES] = { "mm_vmscan_reclaim_pages", "vmscan",
					 { "nid", "nr_scanned", "nr_reclaimed", "nr_dirty",
					   "nr_writeback", "nr_congested", "nr_immediate",
					   "nr_activate0", "nr_activate1", "nr_ref_keep",
					   "nr_unmap_fail" } },
	[TP_MM_MIGRATE_PAGES] = { "mm_migrate_pages", "migrate",
				  { "succeeded", "failed", "thp_succeeded", "thp_failed",
				    "thp_split", "large_folio_split", "mode", "reason" } },
	[TP_MM_MIGRATE_PAGES_START] = { "mm_migrate_pages_start", "migrate", { "mode", "reason" } },
	[TP_MM_COMPACTION_ISOLATE_MIGRATEPAGES] = { "mm_compaction_isolate_migratepages",
						    "compaction",
						    { "start_pfn", "end_pfn", "nr_scanned", "nr_taken" } },
	[TP_MM_COMPACTION_ISOLATE_FREEPAGES] = { "mm_compaction_isolate_freepages", "compaction",
						 { "start_pfn", "end_pfn", "nr_scanned", "nr_taken" } },
	[TP_MM_COMPACTION_MIGRATEPAGES] = { "mm_compaction_migratepages", "compaction",
					    { "nr_migrated", "nr_failed" } },
	[TP_MM_COMPACTION_BEGIN] = { "mm_compaction_begin", "compaction",
				     { "zone_start", "migrate_pfn", "free_pfn", "zone_end", "sync" } },
	[TP_MM_COMPACTION_END] = { "mm_compaction_end", "compaction",
				   { "zone_start", "migrate_pfn", "free_pfn", "zone_end", "sync",
				     "status" } },
	[TP_MM_COMPACTION_TRY_TO_COMPACT_PAGES] = { "mm_compaction_try_to_compact_pages",
						    "compaction", { "order", "gfp_mask", "prio" } },
	[TP_MM_COMPACTION_FINISHED] = { "mm_compaction_finished", "compaction",
					{ "nid", "idx", "order", "ret" } },
	[TP_MM_COMPACTION_SUITABLE] = { "mm_compaction_suitable", "compaction",
					{ "nid", "idx", "order", "ret" } },
	[TP_MM_COMPACTION_DEFERRED] = { "mm_compaction_deferred", "compaction",
					{ "nid", "idx", "order", "considered", "defer_shift",
					  "order_failed" } },
	[TP_MM_COMPACTION_DEFER_COMPACTION] = { "mm_compaction_defer_compaction", "compaction",
						{ "nid", "idx", "order", "considered",
						  "defer_shift", "order_failed" } },
	[TP_MM_COMPACTION_DEFER_RESET] = { "mm_compaction_defer_reset", "compaction",
					   { "nid", "idx", "order", "considered", "defer_shift",
					     "order_failed" } },
	/* include/trace/events/kmem.h (6.1+); call_site is 0: memlab has no kernel text */
	[TP_KMALLOC] = { "kmalloc", "kmem", { "call_site", "ptr", "bytes_req", "bytes_alloc",
					      "gfp_flags", "node", "accounted" } },
	[TP_KFREE] = { "kfree", "kmem", { "call_site", "ptr" } },
	[TP_KMEM_CACHE_ALLOC] = { "kmem_cache_alloc", "kmem",
				  { "call_site", "ptr", "bytes_req", "bytes_alloc", "gfp_flags",
				    "node", "accounted" } },
	[TP_KMEM_CACHE_FREE] = { "kmem_cache_free", "kmem", { "call_site", "ptr" } },
	/* include/trace/events/vmalloc.h */
	[TP_ALLOC_VMAP_AREA] = { "alloc_vmap_area", "vmalloc",
				 { "va_start", "size", "align", "vstart", "vend", "failed" } },
	[TP_PURGE_VMAP_AREA_LAZY] = { "purge_vmap_area_lazy", "vmalloc",
				      { "start", "end", "num_purged" } },
	[TP_FREE_VMAP_AREA_NOFLUSH] = { "free_vmap_area_noflush", "vmalloc",
					{ "va_start", "nr_lazy", "nr_lazy_max" } },
};

/*
** __print_symbolic() of the migrate, compaction and oom events' enums
** (include/trace/events/migrate.h, compaction.h, oom.h).
*/
static bool symbolic_text(int id, const char *f, uint64_t v, char *buf, size_t size)
{
	static const char *const modes[] = { "MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC" };
	static const char *const reasons[] = {
		"compaction", "memory_failure", "memory_hotplug", "syscall_or_cpuset",
		"mempolicy_mbind", "numa_misplaced", "contig_range", "longterm_pin", "demotion",
		"damon",
	};
	static const char *const zones[] = { "DMA", "DMA32", "Normal", "Movable" };
	static const char *const prios[] = { "COMPACT_PRIO_SYNC_FULL", "COMPACT_PRIO_SYNC_LIGHT",
					     "COMPACT_PRIO_ASYNC" };
	bool migrate = id == TP_MM_MIGRATE_PAGES || id == TP_MM_MIGRATE_PAGES_START;
	bool compaction = id >= TP_MM_COMPACTION_ISOLATE_MIGRATEPAGES &&
			  id <= TP_MM_COMPACTION_DEFER_RESET;
	const char *name = NULL;

	if (migrate && !strcmp(f, "mode") && v < 3)
		name = modes[v];
	else if (migrate && !strcmp(f, "reason") && v < 10)
		name = reasons[v];
	else if (compaction && (!strcmp(f, "ret") || !strcmp(f, "status")))
		name = compact_result_name((int)v);
	else if (compaction && !strcmp(f, "idx") && v < 4)
		name = zones[v];
	else if (compaction && !strcmp(f, "sync"))
		name = v ? "sync" : "async";
	else if (id == TP_COMPACT_RETRY && !strcmp(f, "priority") && v < 3)
		name = prios[v];
	else if (id == TP_COMPACT_RETRY && !strcmp(f, "result"))
		name = compact_result_name((int)v);
	else if (id == TP_RECLAIM_RETRY_ZONE && !strcmp(f, "zone_idx") && v < 4)
		name = zones[v];
	if (!name)
		return false;
	snprintf(buf, size, "%s", name);
	return true;
}

/* RECLAIM_WB_* (include/trace/events/vmscan.h) by name, as __print_flags shows them. */
static void reclaim_flags_text(uint64_t v, char *buf, size_t size)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ 0x1, "RECLAIM_WB_ANON" }, { 0x2, "RECLAIM_WB_FILE" }, { 0x10, "RECLAIM_WB_MIXED" },
		{ 0x4, "RECLAIM_WB_SYNC" }, { 0x8, "RECLAIM_WB_ASYNC" },
	};
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v & names[i].bit) && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "|" : "",
						names[i].name);
	if (!v)
		snprintf(buf, size, "RECLAIM_WB_NONE");
}

int trace_event_id(const char *name)
{
	for (int i = 0; name && i < NR_TRACEPOINTS; i++)
		if (tracepoints[i].name && strcmp(tracepoints[i].name, name) == 0)
			return i;
	return -1;
}

const char *memlab_trace_event_name(int id)
{
	return id >= 0 && id < NR_TRACEPOINTS ? tracepoints[id].name : NULL;
}

const char *memlab_trace_field_name(int id, int i)
{
	if (id < 0 || id >= NR_TRACEPOINTS || i < 0 || i >= MEMLAB_TRACE_ARGS)
		return NULL;
	return tracepoints[id].fields[i];
}

/* The event, stamped, to the hook and the ring (the caller saw its bit set). */
static void trace_record(memlab_machine *m, struct memlab_trace_event *ev)
{
	struct trace_ring *r = &m->trace_ring;

	ev->ts = ++m->trace_clock;
	ev->pid = m->current ? m->current->pid : 0;
	ev->cpu = smp_processor_id(m);
	if ((m->trace_hook_mask >> ev->event) & 1)
		m->trace_hook(m->trace_hook_ud, ev);
	if (!((r->mask >> ev->event) & 1) || !r->size)
		return;
	r->ev[r->head % r->size] = *ev;
	r->head++;
	if (r->head - r->tail > r->size) {
		r->tail = r->head - r->size;
		r->lost++;
	}
}

void trace_emit(memlab_machine *m, int id, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct memlab_trace_event ev = { .event = id, .arg = { a0, a1, a2, a3 } };

	trace_record(m, &ev);
}

void trace_emitv(memlab_machine *m, int id, const uint64_t *args, int n)
{
	struct memlab_trace_event ev = { .event = id };

	for (int i = 0; i < n && i < MEMLAB_TRACE_ARGS; i++)
		ev.arg[i] = args[i];
	trace_record(m, &ev);
}

static void trace_update_mask(memlab_machine *m)
{
	m->trace_mask = m->trace_hook_mask | m->trace_ring.mask;
}

void memlab_trace_hook(memlab_machine *m, uint64_t mask, memlab_trace_fn fn, void *ud)
{
	m->trace_hook = fn;
	m->trace_hook_ud = ud;
	m->trace_hook_mask = fn ? mask : 0;
	trace_update_mask(m);
}

int memlab_trace_start(memlab_machine *m, uint64_t mask, size_t size)
{
	struct trace_ring *r = &m->trace_ring;
	struct memlab_trace_event *ev;

	if (!size || size > (1u << 26))
		return -MEMLAB_EINVAL;
	ev = ml_alloc(m, size * sizeof(*ev));
	if (!ev)
		return -MEMLAB_ENOMEM;
	memlab_trace_stop(m);
	r->ev = ev;
	r->size = size;
	r->mask = mask;
	trace_update_mask(m);
	return 0;
}

void memlab_trace_stop(memlab_machine *m)
{
	struct trace_ring *r = &m->trace_ring;

	ml_free(m, r->ev, r->size * sizeof(*r->ev));
	memset(r, 0, sizeof(*r));
	trace_update_mask(m);
}

size_t memlab_trace_events(memlab_machine *m, struct memlab_trace_event *out, size_t n,
			   uint64_t *lost)
{
	const struct trace_ring *r = &m->trace_ring;
	size_t have = (size_t)(r->head - r->tail);

	if (lost)
		*lost = r->lost;
	for (size_t i = 0; out && i < have && i < n; i++)
		out[i] = r->ev[(r->tail + i) % r->size];
	return have;
}

/* ===================== dumping ===================== */

/*
** The vmalloc events' fields as their TP_printk shows them: addresses in
** hex but alloc_vmap_area's va_start, which is %lu like its other
** unsigned longs (a failure's -errno shows as a huge number).
*/
static bool vmalloc_field_text(int id, const char *f, uint64_t v, char *buf, size_t size)
{
	bool hex = (id == TP_ALLOC_VMAP_AREA && (!strcmp(f, "vstart") || !strcmp(f, "vend"))) ||
		   (id == TP_PURGE_VMAP_AREA_LAZY && (!strcmp(f, "start") || !strcmp(f, "end"))) ||
		   (id == TP_FREE_VMAP_AREA_NOFLUSH && !strcmp(f, "va_start"));

	if (id < TP_ALLOC_VMAP_AREA || id > TP_FREE_VMAP_AREA_NOFLUSH || !strcmp(f, "failed"))
		return false;
	snprintf(buf, size, hex ? "0x%" PRIx64 : "%" PRIu64, v);
	return true;
}

/*
** A field's value as text, as the event's TP_printk shows it: GFP flags
** by name, booleans as true/false, an mm as a pointer (memlab's is the
** mm's context id), the rest in hex or decimal.
*/
static void field_text(int id, int i, uint64_t v, char *buf, size_t size)
{
	const char *f = tracepoints[id].fields[i];

	if (symbolic_text(id, f, v, buf, size))
		return;
	if (strcmp(f, "gfp_flags") == 0 || strcmp(f, "gfp_mask") == 0)
		memlab_gfp_format((uint32_t)v, buf, size);
	else if (strcmp(f, "write") == 0 || strcmp(f, "success") == 0 || strcmp(f, "accounted") == 0)
		snprintf(buf, size, "%s", v ? "true" : "false");
	else if (strcmp(f, "reclaim_flags") == 0)
		reclaim_flags_text(v, buf, size);
	else if (strcmp(f, "lru") == 0 && v < NR_LRU_LISTS)
		snprintf(buf, size, "%s", lru_list_name((enum lru_list)v));
	else if (strcmp(f, "mm") == 0)
		snprintf(buf, size, "%016" PRIx64, v);
	else if (strcmp(f, "ptr") == 0 || strcmp(f, "call_site") == 0)	/* %p, %pS */
		snprintf(buf, size, "%016" PRIx64, v);
	else if (vmalloc_field_text(id, f, v, buf, size))
		return;
	else if (strcmp(f, "pfn") == 0 || strcmp(f, "address") == 0 ||
		 strcmp(f, "error_code") == 0 || strstr(f, "_pfn") || strcmp(f, "zone_start") == 0 ||
		 strcmp(f, "zone_end") == 0)
		snprintf(buf, size, "0x%" PRIx64, v);
	else
		snprintf(buf, size, "%" PRId64, (int64_t)v);
}

/* The ftrace line: "<pid> [cpu] ts: name: field=value ...". */
static void dump_text(struct strbuf *sb, const struct memlab_trace_event *ev)
{
	char v[256];

	sb_printf(sb, "%16s-%-7d [%03d] %10" PRIu64 ": %s:", "memlab", ev->pid, ev->cpu, ev->ts,
		  tracepoints[ev->event].name);
	for (int i = 0; i < MEMLAB_TRACE_ARGS && tracepoints[ev->event].fields[i]; i++) {
		field_text(ev->event, i, ev->arg[i], v, sizeof(v));
		sb_printf(sb, " %s=%s", tracepoints[ev->event].fields[i], v);
	}
	sb_printf(sb, "\n");
}

/* The fields as JSON members (numbers; gfp_flags also as "gfp_flags_names"). */
static void json_args(struct strbuf *sb, const struct memlab_trace_event *ev)
{
	char v[256];

	for (int i = 0; i < MEMLAB_TRACE_ARGS && tracepoints[ev->event].fields[i]; i++) {
		const char *f = tracepoints[ev->event].fields[i];

		sb_printf(sb, "%s\"%s\":%" PRIu64, i ? "," : "", f, ev->arg[i]);
		if (strcmp(f, "gfp_flags") == 0) {
			memlab_gfp_format((uint32_t)ev->arg[i], v, sizeof(v));
			sb_printf(sb, ",\"gfp_flags_names\":\"%s\"", v);
		}
	}
}

static void dump_jsonl(struct strbuf *sb, const struct memlab_trace_event *ev)
{
	sb_printf(sb, "{\"ts\":%" PRIu64 ",\"event\":\"%s\",\"pid\":%d,\"cpu\":%d,", ev->ts,
		  tracepoints[ev->event].name, ev->pid, ev->cpu);
	json_args(sb, ev);
	sb_printf(sb, "}\n");
}

/* One Chrome trace-event: an instant event on the process's track. */
static void dump_chrome(struct strbuf *sb, const struct memlab_trace_event *ev, bool first)
{
	sb_printf(sb, "%s{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%" PRIu64
		  ",\"pid\":%d,\"tid\":%d,\"args\":{", first ? "" : ",\n",
		  tracepoints[ev->event].name, tracepoints[ev->event].system, ev->ts, ev->pid,
		  ev->pid);
	json_args(sb, ev);
	sb_printf(sb, "}}");
}

int memlab_trace_dump(memlab_machine *m, const char *format, char **text, size_t *len)
{
	const struct trace_ring *r = &m->trace_ring;
	struct strbuf sb;
	int kind = !strcmp(format, "text") ? 0 : !strcmp(format, "jsonl") ? 1
		   : !strcmp(format, "chrome") ? 2 : -1;

	if (kind < 0)
		return -MEMLAB_EINVAL;
	sb_init(&sb, m);
	if (kind == 2)
		sb_printf(&sb, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
	for (uint64_t i = r->tail; i < r->head; i++) {
		const struct memlab_trace_event *ev = &r->ev[i % r->size];

		if (kind == 0)
			dump_text(&sb, ev);
		else if (kind == 1)
			dump_jsonl(&sb, ev);
		else
			dump_chrome(&sb, ev, i == r->tail);
	}
	if (kind == 2)
		sb_printf(&sb, "\n]}\n");
	return sb_finish(&sb, text, len);
}
