/*
** gfp.c -- GFP flag names as Linux prints them (include/trace/events/
** mmflags.h __def_gfpflag_names) and migrate type names (mm/vmstat.c
** migratetype_names).
*/
#include <stdio.h>

#include "internal.h"

#define GFP_NAME(x) { #x, MEMLAB_##x }

/* Composite masks first, then single bits: the order show_gfp_flags() uses. */
static const struct memlab_flag_name gfp_names[] = {
	GFP_NAME(GFP_TRANSHUGE),
	GFP_NAME(GFP_TRANSHUGE_LIGHT),
	GFP_NAME(GFP_HIGHUSER_MOVABLE),
	GFP_NAME(GFP_HIGHUSER),
	GFP_NAME(GFP_USER),
	GFP_NAME(GFP_KERNEL_ACCOUNT),
	GFP_NAME(GFP_KERNEL),
	GFP_NAME(GFP_NOFS),
	GFP_NAME(GFP_ATOMIC),
	GFP_NAME(GFP_NOIO),
	GFP_NAME(GFP_NOWAIT),
	GFP_NAME(GFP_DMA),
	GFP_NAME(__GFP_HIGHMEM),
	GFP_NAME(GFP_DMA32),
	GFP_NAME(__GFP_HIGH),
	GFP_NAME(__GFP_IO),
	GFP_NAME(__GFP_FS),
	GFP_NAME(__GFP_NOWARN),
	GFP_NAME(__GFP_RETRY_MAYFAIL),
	GFP_NAME(__GFP_NOFAIL),
	GFP_NAME(__GFP_NORETRY),
	GFP_NAME(__GFP_COMP),
	GFP_NAME(__GFP_ZERO),
	GFP_NAME(__GFP_NOMEMALLOC),
	GFP_NAME(__GFP_MEMALLOC),
	GFP_NAME(__GFP_HARDWALL),
	GFP_NAME(__GFP_THISNODE),
	GFP_NAME(__GFP_RECLAIMABLE),
	GFP_NAME(__GFP_MOVABLE),
	GFP_NAME(__GFP_ACCOUNT),
	GFP_NAME(__GFP_WRITE),
	GFP_NAME(__GFP_RECLAIM),
	GFP_NAME(__GFP_DIRECT_RECLAIM),
	GFP_NAME(__GFP_KSWAPD_RECLAIM),
	/* names for parsing only: covered above when printing */
	GFP_NAME(__GFP_DMA),
	GFP_NAME(__GFP_DMA32),
	{ NULL, 0 }
};

#define GFP_PRINTED 34	/* entries of gfp_names[] that show_gfp_flags() prints */

const struct memlab_flag_name *memlab_gfp_names(void)
{
	return gfp_names;
}

/*
** __print_flags(): each mask whose bits are all set is printed and its bits
** cleared, in table order; bits left over print as hex; no bits is "none".
*/
int memlab_gfp_format(uint32_t gfp, char *buf, size_t size)
{
	size_t len = 0;
	int n;

	if (!gfp)
		return snprintf(buf, size, "none");
	if (size)
		buf[0] = '\0';
	for (int i = 0; i < GFP_PRINTED && gfp; i++) {
		uint32_t mask = gfp_names[i].value;

		if ((gfp & mask) != mask)
			continue;
		gfp &= ~mask;
		n = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
			     "%s%s", len ? "|" : "", gfp_names[i].name);
		len += (size_t)n;
	}
	if (gfp) {
		n = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
			     "%s0x%x", len ? "|" : "", gfp);
		len += (size_t)n;
	}
	return (int)len;
}

const char *memlab_migratetype_name(int mt)
{
	static const char *const names[MIGRATE_TYPES] = {
		"Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"
	};

	return mt >= 0 && mt < MIGRATE_TYPES ? names[mt] : NULL;
}
