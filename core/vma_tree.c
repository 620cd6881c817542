/*
** vma_tree.c -- the VMAs of an address space by address: a B-tree keyed
** by vm_end, in the place Linux 6.1+ gives the maple tree (mm->mm_mt).
**
** Why not the red-black tree of Linux 4.x: finding one of 10,000 VMAs
** there chases 14 pointers through vm_area_structs spread over the heap,
** each a likely cache miss and a 50/50 branch (about 130 ns on the
** reference host); here it reads 4 nodes of 16 sorted keys with no
** data-dependent branch (about 20 ns).  Linux moved to a B-tree for the
** same reason.  This one is simpler than the maple tree: no RCU, and it
** holds only the VMAs, not the gaps between them as ranges of their own.
**
** Layout.  A node has up to VMA_TREE_SLOTS slots in address order; slot i
** holds
**	pivot[i]  the largest vm_end under it (in a leaf: its VMA's vm_end),
**	slot[i]   a VMA in a leaf, a child node above,
**	gap[i]    the largest free gap under it (in a leaf: its VMA's own
**		  gap, vma_compute_gap(), the space below the VMA down to the
**		  VMA before it -- Linux 4.x's rb_subtree_gap, per slot).
** Unused slots have pivot UINT64_MAX, slot NULL, gap 0, so a search needs
** no slot count.  Every leaf is at depth height - 1; a node other than the
** root holds at least VMA_TREE_MIN slots; an internal root at least two.
** A VMA knows its leaf (vm_leaf) and a node its parent, so an update starts
** at the VMA and walks up, stopping where nothing changes.
**
** Memory.  An insert may split a node at every level and add a root:
** height + 1 new nodes.  vma_tree_reserve() sets them aside beforehand,
** and vm_area_alloc() calls it, so that linking a new VMA never fails (the
** maple tree preallocates for the same reason).  Erasing never allocates.
** Free nodes wait on the machine's list (m->vma_node_free) like free VMAs.
*/
#include <stdio.h>
#include <string.h>

#include "mm.h"

#define VMA_TREE_MIN	(VMA_TREE_SLOTS / 4)
#define VMA_TREE_SPLIT_MAX	(VMA_TREE_SLOTS - VMA_TREE_MIN - 1)
#define VMA_TREE_HEIGHT_MAX	32	/* far above what 2^32 VMAs need: for checking */

/* ===================== nodes ===================== */

/* Reset n slots of node from slot i on to the unused state. */
static void node_clear(struct vma_node *node, unsigned i, unsigned n)
{
	for (; n--; i++) {
		node->pivot[i] = UINT64_MAX;
		node->slot[i] = NULL;
		node->gap[i] = 0;
	}
}

static void node_free(memlab_machine *m, struct vma_node *node)
{
	node->parent = m->vma_node_free;
	m->vma_node_free = node;
	m->nr_vma_node_free++;
	ml_poison_but_link(node, node->parent);
}

/* An empty node from the reserve (vma_tree_reserve() filled it). */
static struct vma_node *node_alloc(memlab_machine *m, bool leaf)
{
	struct vma_node *node = m->vma_node_free;

	ml_unpoison(node, sizeof(*node));
	m->vma_node_free = node->parent;
	m->nr_vma_node_free--;
	node->parent = NULL;
	node->offset = 0;
	node->nr = 0;
	node->leaf = leaf;
	node_clear(node, 0, VMA_TREE_SLOTS);
	return node;
}

/*
** vma_tree_reserve(): set aside the nodes one insert into mm's tree may
** need (height + 1).  0, or -ENOMEM when the host has no memory left.
*/
int vma_tree_reserve(struct mm_struct *mm)
{
	memlab_machine *m = mm->machine;

	while (m->nr_vma_node_free < mm->mm_mt.height + 1) {
		struct vma_node *node = ml_alloc(m, sizeof(*node));

		if (!node)
			return -MEMLAB_ENOMEM;
		node_free(m, node);
	}
	return 0;
}

/* Give the free nodes back to the host (memlab_destroy, after every task). */
void vma_node_cache_destroy(memlab_machine *m)
{
	while (m->vma_node_free) {
		struct vma_node *node = m->vma_node_free;

		ml_unpoison(node, sizeof(*node));
		m->vma_node_free = node->parent;
		ml_free(m, node, sizeof(*node));
	}
	m->nr_vma_node_free = 0;
}

/*
** The slot of leaf that holds vma, found by vm_start: the slot before ends
** at or below it, vma's own key is above it even while stale (an end that
** moved and is being brought into the key).
*/
static unsigned leaf_slot_of(const struct vma_node *leaf, const struct vm_area_struct *vma)
{
	return vma_node_index(leaf, vma->vm_start);
}

static uint64_t node_max_gap(const struct vma_node *node)
{
	uint64_t max = 0;

	for (unsigned i = 0; i < VMA_TREE_SLOTS; i++)
		max = node->gap[i] > max ? node->gap[i] : max;
	return max;
}

/* Tell the item in slot i of node (a VMA or a child node) where it lives now. */
static void node_adopt(struct vma_node *node, unsigned i)
{
	struct vma_node *child = node->slot[i];

	if (node->leaf) {
		((struct vm_area_struct *)node->slot[i])->vm_leaf = node;
	} else {
		child->parent = node;
		child->offset = i;
	}
}

static void node_set(struct vma_node *node, unsigned i, uint64_t pivot, void *item,
		     uint64_t gap)
{
	node->pivot[i] = pivot;
	node->slot[i] = item;
	node->gap[i] = gap;
	node_adopt(node, i);
}

/* Copy n slots of src from slot from on to dst at slot to (another node). */
static void node_copy(struct vma_node *dst, unsigned to, const struct vma_node *src,
		      unsigned from, unsigned n)
{
	memcpy(&dst->pivot[to], &src->pivot[from], n * sizeof(dst->pivot[0]));
	memcpy(&dst->slot[to], &src->slot[from], n * sizeof(dst->slot[0]));
	memcpy(&dst->gap[to], &src->gap[from], n * sizeof(dst->gap[0]));
	for (unsigned i = to; i < to + n; i++)
		node_adopt(dst, i);
}

static inline void node_move(struct vma_node *node, unsigned to, unsigned from)
{
	node->pivot[to] = node->pivot[from];
	node->slot[to] = node->slot[from];
	node->gap[to] = node->gap[from];
}

/*
** Move node's slots from slot i on by delta: delta > 0 opens the slots
** from i on, delta < 0 closes the -delta slots below i.  Moved children
** learn their new offset.
*/
static void node_shift(struct vma_node *node, unsigned i, int delta)
{
	unsigned to = i + delta;

	if (delta > 0) {	/* a short loop, cheaper than three memmove() calls */
		for (unsigned k = node->nr; k-- > i;)
			node_move(node, k + delta, k);
	} else {
		for (unsigned k = i; k < node->nr; k++)
			node_move(node, k + delta, k);
	}
	node->nr += delta;
	if (delta < 0)
		node_clear(node, node->nr, -delta);
	if (!node->leaf)
		for (unsigned k = to; k < node->nr; k++)
			node_adopt(node, k);
}

/*
** node's slots changed: refresh its copy in the parent (the last pivot,
** the largest gap), and so on up while a copy changes.  node->nr > 0.
*/
static void node_update_parent(struct vma_node *node)
{
	struct vma_node *parent;

	while ((parent = node->parent)) {
		unsigned i = node->offset;
		uint64_t pivot = node->pivot[node->nr - 1], gap = node_max_gap(node);

		if (parent->pivot[i] == pivot && parent->gap[i] == gap)
			return;
		parent->pivot[i] = pivot;
		parent->gap[i] = gap;
		node = parent;
	}
}

/*
** One slot of node changed its gap from old to gap (a removed slot: to 0,
** a new one: from 0), and maybe node's last pivot: refresh node's copy in
** the parent, and so on up while a copy changes.  The copy of node's
** largest gap is the maximum before the change, so only a shrinking
** maximum makes it look at all of node's gaps.
*/
static void node_propagate(struct vma_node *node, uint64_t old, uint64_t gap)
{
	struct vma_node *parent;

	while ((parent = node->parent)) {
		unsigned at = node->offset;
		uint64_t max = parent->gap[at], pivot = node->pivot[node->nr - 1];

		if (gap >= max)
			max = gap;
		else if (old == max)
			max = node_max_gap(node);
		if (parent->pivot[at] == pivot && parent->gap[at] == max)
			return;
		old = parent->gap[at];
		gap = max;
		parent->pivot[at] = pivot;
		parent->gap[at] = max;
		node = parent;
	}
}

/* ===================== insert ===================== */

static void node_insert(struct mm_struct *mm, struct vma_node *node, unsigned i,
			uint64_t pivot, void *item, uint64_t gap);

/*
** Split the full node before slot at: the slots from there on move to a
** new node right after it in the parent, or under a new root with it.
** Returns the new node.
*/
static struct vma_node *node_split(struct mm_struct *mm, struct vma_node *node, unsigned at)
{
	struct vma_node *right = node_alloc(mm->machine, node->leaf), *parent = node->parent;
	unsigned i;

	node_copy(right, 0, node, at, VMA_TREE_SLOTS - at);
	right->nr = VMA_TREE_SLOTS - at;
	node_clear(node, at, VMA_TREE_SLOTS - at);
	node->nr = at;
	if (!parent) {
		parent = node_alloc(mm->machine, false);
		node_set(parent, 0, node->pivot[at - 1], node, node_max_gap(node));
		node_set(parent, 1, right->pivot[right->nr - 1], right, node_max_gap(right));
		parent->nr = 2;
		mm->mm_mt.root = parent;
		mm->mm_mt.height++;
		return right;
	}
	i = node->offset;
	parent->pivot[i] = node->pivot[at - 1];
	parent->gap[i] = node_max_gap(node);
	node_insert(mm, parent, i + 1, right->pivot[right->nr - 1], right, node_max_gap(right));
	return right;
}

/* Put (pivot, item, gap) in slot i of node, splitting node when full. */
static void node_insert(struct mm_struct *mm, struct vma_node *node, unsigned i,
			uint64_t pivot, void *item, uint64_t gap)
{
	if (node->nr == VMA_TREE_SLOTS) {
		/*
		 * Split where the new slot goes, within [SLOTS / 2, SLOTS -
		 * MIN - 1]: VMAs added in address order then leave nodes
		 * two thirds full, not half (a B-tree's usual append split),
		 * and one removal cannot merge the new node back at once.
		 */
		unsigned at = i < VMA_TREE_SLOTS / 2 ? VMA_TREE_SLOTS / 2 :
			      i > VMA_TREE_SPLIT_MAX ? VMA_TREE_SPLIT_MAX : i;
		struct vma_node *right = node_split(mm, node, at);

		if (i > node->nr) {
			i -= node->nr;
			node = right;
		}
	}
	node_shift(node, i, 1);
	node_set(node, i, pivot, item, gap);
	node_propagate(node, 0, gap);
}

/*
** vma_tree_insert(): add vma, already in the list (so its vm_prev and
** vm_next are its neighbours), to the tree with its current gap.  The
** reserve must hold height + 1 nodes (vm_area_alloc() saw to it).
*/
void vma_tree_insert(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vma_tree *mt = &mm->mm_mt;
	struct vma_node *leaf;
	unsigned i = 0;

	if (vma_tree_reserve(mm)) {
		ml_report(mm->machine, "BUG: vma_tree_insert: no nodes reserved for %#llx-%#llx",
			  (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end);
		return;
	}
	if (vma->vm_prev) {
		leaf = vma->vm_prev->vm_leaf;
		i = leaf_slot_of(leaf, vma->vm_prev) + 1;
	} else if (vma->vm_next) {	/* the first VMA's leaf is the leftmost */
		leaf = vma->vm_next->vm_leaf;
	} else {
		leaf = mt->root = node_alloc(mm->machine, true);
		mt->height = 1;
	}
	node_insert(mm, leaf, i, vma->vm_end, vma, vma_compute_gap(vma));
}

/* ===================== erase ===================== */

static void node_shrunk(struct mm_struct *mm, struct vma_node *node);

/* Even out left and right, neighbours under one parent, moving slots across. */
static void node_share(struct vma_node *left, struct vma_node *right)
{
	unsigned want = (left->nr + right->nr) / 2, n;

	if (left->nr > want) {
		n = left->nr - want;
		node_shift(right, 0, (int)n);
		node_copy(right, 0, left, want, n);
		node_clear(left, want, n);
		left->nr = want;
	} else {
		n = want - left->nr;
		node_copy(left, left->nr, right, 0, n);
		left->nr += n;
		node_shift(right, n, -(int)n);
	}
}

/*
** node, not the root, has fewer than VMA_TREE_MIN slots: merge it with a
** neighbour when both fit in one node, else take slots from that neighbour.
*/
static void node_rebalance(struct mm_struct *mm, struct vma_node *node)
{
	struct vma_node *parent = node->parent, *left, *right;
	unsigned i = node->offset;

	if (i > 0)
		i--;
	left = parent->slot[i];
	right = parent->slot[i + 1];
	if (left->nr + right->nr <= VMA_TREE_SLOTS) {
		node_copy(left, left->nr, right, 0, right->nr);
		left->nr += right->nr;
		parent->pivot[i] = left->pivot[left->nr - 1];
		parent->gap[i] = node_max_gap(left);
		node_shift(parent, i + 2, -1);
		node_free(mm->machine, right);
		node_shrunk(mm, parent);
		return;
	}
	node_share(left, right);
	parent->pivot[i] = left->pivot[left->nr - 1];
	parent->gap[i] = node_max_gap(left);
	parent->pivot[i + 1] = right->pivot[right->nr - 1];
	parent->gap[i + 1] = node_max_gap(right);
	node_update_parent(parent);
}

/*
** node lost a slot: an empty root goes, an internal root with one child
** hands over to it, an under-full node is rebalanced, and otherwise the
** copies above are refreshed.
*/
static void node_shrunk(struct mm_struct *mm, struct vma_node *node)
{
	struct vma_tree *mt = &mm->mm_mt;

	if (node->parent) {
		if (node->nr < VMA_TREE_MIN)
			node_rebalance(mm, node);
		else
			node_update_parent(node);
		return;
	}
	if (node->nr == 0) {
		mt->root = NULL;
		mt->height = 0;
		node_free(mm->machine, node);
	} else if (!node->leaf && node->nr == 1) {
		mt->root = node->slot[0];
		mt->root->parent = NULL;
		mt->root->offset = 0;
		mt->height--;
		node_free(mm->machine, node);
	}
}

/* vma_tree_erase(): take vma out of the tree. */
void vma_tree_erase(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vma_node *leaf = vma->vm_leaf;
	unsigned i = leaf_slot_of(leaf, vma);
	uint64_t old = leaf->gap[i];

	node_shift(leaf, i + 1, -1);
	vma->vm_leaf = NULL;
	if (leaf->parent && leaf->nr >= VMA_TREE_MIN)
		node_propagate(leaf, old, 0);
	else
		node_shrunk(mm, leaf);
}

/* ===================== update, last, gap search ===================== */

/* vma_tree_update(): vma's vm_end or its gap changed; refresh its slot and above. */
void vma_tree_update(struct vm_area_struct *vma)
{
	struct vma_node *leaf = vma->vm_leaf;
	unsigned i = leaf_slot_of(leaf, vma);
	uint64_t old = leaf->gap[i];

	leaf->pivot[i] = vma->vm_end;
	leaf->gap[i] = vma_compute_gap(vma);
	node_propagate(leaf, old, leaf->gap[i]);
}

/* vma_tree_last(): the VMA that ends highest, NULL if there is none. */
struct vm_area_struct *vma_tree_last(const struct vma_tree *mt)
{
	const struct vma_node *node = mt->root;

	if (!node)
		return NULL;
	for (unsigned level = mt->height; --level;)
		node = node->slot[node->nr - 1];
	return node->slot[node->nr - 1];
}

/* Does the gap below vma fit q (the conditions of vma_tree_gap_rev())? */
static bool vma_gap_fits(const struct vm_area_struct *vma, const struct vma_gap_query *q)
{
	uint64_t gap_start = vma->vm_prev ? vm_end_gap(vma->vm_prev) : 0;
	uint64_t gap_end = vm_start_gap(vma);

	return gap_start <= q->high_limit && gap_end >= q->low_limit && gap_end > gap_start &&
	       gap_end - gap_start >= q->length;
}

/*
** The highest VMA of the subtree at node whose gap fits q, or NULL.  A
** slot is skipped when its largest gap is too small, or when the VMA
** before it already ends above high_limit (every gap in it starts there or
** higher); the search stops at a slot that ends below low_limit (every gap
** in it and before it ends lower).
*/
static struct vm_area_struct *node_gap_rev(const struct vma_node *node,
					   const struct vma_gap_query *q)
{
	for (unsigned i = node->nr; i-- > 0;) {
		struct vm_area_struct *vma;

		if (node->pivot[i] < q->low_limit)
			return NULL;
		if (node->gap[i] < q->length || (i > 0 && node->pivot[i - 1] > q->high_limit))
			continue;
		if (node->leaf)
			vma = vma_gap_fits(node->slot[i], q) ? node->slot[i] : NULL;
		else
			vma = node_gap_rev(node->slot[i], q);
		if (vma)
			return vma;
	}
	return NULL;
}

/*
** vma_tree_gap_rev() (the maple tree's mas_empty_area_rev() for the VMA
** tree): the highest VMA whose free gap below it, from vm_end_gap() of the
** VMA before it (or 0) to its vm_start_gap(), is at least q->length long,
** starts at or below q->high_limit and ends at or above q->low_limit.
** NULL if there is none.
*/
struct vm_area_struct *vma_tree_gap_rev(const struct vma_tree *mt, const struct vma_gap_query *q)
{
	return mt->root ? node_gap_rev(mt->root, q) : NULL;
}

/* ===================== checking ===================== */

struct tree_check {
	const struct vm_area_struct *next;	/* the list's VMA the walk expects next */
	char *why;
	size_t len;
};

static int tree_bad(struct tree_check *c, const char *fmt, unsigned long long x)
	__attribute__((format(printf, 2, 0)));

static int tree_bad(struct tree_check *c, const char *fmt, unsigned long long x)
{
	snprintf(c->why, c->len, fmt, x);
	return -1;
}

/* The unused slots are clear and the used ones in order. */
static int check_slots(struct tree_check *c, const struct vma_node *node)
{
	for (unsigned i = 0; i < VMA_TREE_SLOTS; i++) {
		if (i >= node->nr && (node->pivot[i] != UINT64_MAX || node->slot[i] || node->gap[i]))
			return tree_bad(c, "a node ending at %#llx has an unused slot in use",
					(unsigned long long)node->pivot[node->nr - 1]);
		if (i < node->nr && (!node->slot[i] || (i && node->pivot[i] <= node->pivot[i - 1])))
			return tree_bad(c, "a node has an empty or out-of-order slot at %#llx",
					(unsigned long long)node->pivot[i]);
	}
	return 0;
}

/* One leaf slot: the VMA the list has next, pointing back, with its key and gap. */
static int check_leaf_slot(struct tree_check *c, const struct vma_node *leaf, unsigned i)
{
	const struct vm_area_struct *vma = leaf->slot[i];

	if (vma != c->next)
		return tree_bad(c, "the tree and the list disagree at %#llx",
				(unsigned long long)vma->vm_start);
	if (vma->vm_leaf != leaf || leaf->pivot[i] != vma->vm_end)
		return tree_bad(c, "VMA %#llx: its leaf link or its key is wrong",
				(unsigned long long)vma->vm_start);
	if (leaf->gap[i] != vma_compute_gap(vma))
		return tree_bad(c, "VMA %#llx: its gap in the tree is stale",
				(unsigned long long)vma->vm_start);
	c->next = vma->vm_next;
	return 0;
}

/* The subtree at node, leaves at level 1: structure, keys, gaps, back links, list order. */
static int check_node(struct tree_check *c, const struct vma_node *node,
		      const struct vma_node *parent, unsigned level)
{
	unsigned min = parent ? VMA_TREE_MIN : node->leaf ? 1 : 2;

	if (node->parent != parent || node->leaf != (level == 1) || level > VMA_TREE_HEIGHT_MAX)
		return tree_bad(c, "a node at level %llu has a wrong parent or depth", level);
	if (node->nr < min || node->nr > VMA_TREE_SLOTS)
		return tree_bad(c, "a node holds %llu slots", node->nr);
	if (check_slots(c, node))
		return -1;
	for (unsigned i = 0; i < node->nr; i++) {
		const struct vma_node *child = node->slot[i];

		if (node->leaf) {
			if (check_leaf_slot(c, node, i))
				return -1;
			continue;
		}
		if (child->offset != i)
			return tree_bad(c, "a node has a child with a wrong offset at %#llx",
					(unsigned long long)node->pivot[i]);
		if (check_node(c, child, node, level - 1))
			return -1;
		if (node->pivot[i] != child->pivot[child->nr - 1] ||
		    node->gap[i] != node_max_gap(child))
			return tree_bad(c, "the copy of a child ending at %#llx is stale",
					(unsigned long long)child->pivot[child->nr - 1]);
	}
	return 0;
}

/*
** vma_tree_validate(): the tree's rules (see the top of this file), and
** that it holds the list's VMAs in the list's order.  0, or -1 with a
** description in why.
*/
int vma_tree_validate(const struct mm_struct *mm, char *why, size_t len)
{
	struct tree_check c = { mm->mmap, why, len };
	const struct vma_tree *mt = &mm->mm_mt;

	if (!mt->root)
		return mm->mmap ? tree_bad(&c, "the tree is empty, the list is not (%#llx)",
					   (unsigned long long)mm->mmap->vm_start) : 0;
	if (check_node(&c, mt->root, NULL, mt->height))
		return -1;
	if (c.next)
		return tree_bad(&c, "the list has VMAs the tree lacks, from %#llx",
				(unsigned long long)c.next->vm_start);
	return 0;
}
