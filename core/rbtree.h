/*
** rbtree.h -- an intrusive red-black tree with an optional augmented value,
** internal to the core.  It held the VMAs (Linux 4.x mm->mm_rb, augmented
** with rb_subtree_gap) until they moved to a B-tree (vma_tree.c) for faster
** lookups; it stays, with its tests, for the trees Linux still augments
** this way (vmalloc's free areas by subtree_max_size).
**
** Written from the textbook algorithm (CLRS, 3rd ed., ch. 13) with the
** interface shape of Linux's include/linux/rbtree.h and rbtree_augmented.h.
** No code comes from Linux's lib/rbtree.c.
**
** Use
** ---
** Embed a struct rb_node in your object; rb_entry() gets the object back.
** The library knows only the shape of the tree; the order is the caller's.
** To insert, walk down from root->node comparing keys to the NULL link
** where the node belongs, then
**	rb_link_node(node, parent, link);	(node becomes a red leaf)
**	rb_insert_augmented(node, root, aug);	(recolour and rotate)
** and to remove, rb_erase_augmented(node, root, aug).  aug may be NULL for
** a plain tree.  Colour lives in bit 0 of parent_color (1 = black), so a
** struct rb_node must be at least 2-byte aligned (it always is).
**
** The augmentation contract
** -------------------------
** An augmented value is a per-node value that is a function of the node's
** own fields and of its children's augmented values only (a "subtree
** value": the largest gap in the subtree, the subtree's size, ...).  The
** caller stores it and supplies three callbacks:
**
**   propagate(n, stop)	recompute n's value, then its parent's, and so on
**			up to but not including stop (stop NULL: through the
**			root).  It may stop early at the first node whose
**			recomputed value equals the stored one, as Linux's
**			RB_DECLARE_CALLBACKS does; the library allows that.
**   copy(old, new)	new's value = old's value.
**   rotate(old, new)	new's value = old's value, then old recomputes its
**			own.  Called after a rotation, when new has taken
**			old's place and old is one of new's children.
**
** Insert.  Before rb_insert_augmented(), every node's value must be right
** for the tree with the new node linked as a leaf.  So after rb_link_node()
** the caller sets the new node's value to what its parent already assumes
** for an empty link (the identity: 0 for a max of gaps; or any value the
** computation can never return) and calls propagate(node, NULL).  This is
** Linux's vma_link(): rb_link_node, vma_gap_update, rb_insert_augmented.
** The library then calls only rotate(), once per rotation (at most two).
**
** Erase.  Before rb_erase_augmented(), every node's value must be right for
** the tree as it stands.  The library first unlinks the node:
**   - node has at most one child: the child takes node's place, then
**     propagate(node's parent, NULL) (if node had a parent);
**   - node has two children: its successor s (leftmost of node->right)
**     takes node's place and colour, and copy(node, s) is called.  If s was
**     node->right, then propagate(s, NULL).  If s was deeper, s's right
**     child took s's old place under p, s's old parent; then
**     propagate(p, s) and propagate(s, NULL).
** It then rebalances, calling rotate() on every rotation (at most three).
** On return every node's value is right for the tree without node.
**
** Values that are not subtree values.  If a node's own contribution
** depends on something outside its subtree (a VMA's gap depends on its
** predecessor's vm_end), the library cannot see it change: whenever the
** caller changes a node's own contribution it calls propagate(n, NULL)
** itself.  For the VMA tree: on insert, the successor's gap shrinks, so
** propagate it before inserting; on erase, the successor's gap grows, so
** after rb_erase_augmented() update it and propagate it.
**
** rb_replace_node() calls no callback: the caller gives the new node its
** value (copy from the victim, or set it and propagate(new, NULL)).
*/
#ifndef MEMLAB_RBTREE_H
#define MEMLAB_RBTREE_H

#include <stddef.h>
#include <stdint.h>

struct rb_node {
	uintptr_t parent_color;	/* parent pointer | colour in bit 0 (1 = black) */
	struct rb_node *left, *right;
};

struct rb_root {
	struct rb_node *node;	/* NULL when the tree is empty */
};

struct rb_augment_callbacks {
	void (*propagate)(struct rb_node *node, struct rb_node *stop);
	void (*copy)(struct rb_node *old, struct rb_node *new);
	void (*rotate)(struct rb_node *old, struct rb_node *new);
};

#define RB_ROOT		((struct rb_root){ NULL })
#define RB_EMPTY_ROOT(root)	((root)->node == NULL)

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif
#define rb_entry(ptr, type, member)	container_of(ptr, type, member)

/* Make node a red leaf under parent (NULL for the root) at *link, which is
** &parent->left, &parent->right or &root->node.  No rebalancing: follow
** with rb_insert_augmented(). */
void rb_link_node(struct rb_node *node, struct rb_node *parent, struct rb_node **link);

/* Rebalance after rb_link_node(node, ...).  aug may be NULL; otherwise
** every value must already be right (see the contract above), and only
** aug->rotate is called. */
void rb_insert_augmented(struct rb_node *node, struct rb_root *root,
			 const struct rb_augment_callbacks *aug);

/* Remove node, which must be in the tree, and rebalance.  aug may be NULL;
** otherwise it calls copy, propagate and rotate as the contract above
** says.  node's own fields are left stale. */
void rb_erase_augmented(struct rb_node *node, struct rb_root *root,
			const struct rb_augment_callbacks *aug);

/* The first (leftmost) and last (rightmost) node; NULL if the tree is empty. */
struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);

/* The in-order neighbours of node; NULL past either end. O(log n) worst case,
** O(1) amortised over a full traversal. */
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

/* node's parent, NULL for the root. */
static inline struct rb_node *rb_parent(const struct rb_node *node)
{
	return (struct rb_node *)(node->parent_color & ~(uintptr_t)1);
}

/* Put new in victim's place (parent, children, colour) with no rebalancing
** and no callbacks.  new must sort where victim does; victim is left
** stale. */
void rb_replace_node(struct rb_node *victim, struct rb_node *new, struct rb_root *root);

/* Check the red-black rules: 0 if the tree is valid, else minus the number
** of problems found (red root, red node with a red child, a node whose two
** subtrees differ in black height, a child whose parent link is wrong).  A
** subtree under a wrong parent link is not entered, so a corrupt tree
** cannot loop.  The BST order is the caller's to check. */
int rb_validate(const struct rb_root *root);

#endif
