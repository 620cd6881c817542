/*
** rbtree.c -- an intrusive red-black tree with an augmented value.
**
** The algorithm is CLRS's (3rd ed., ch. 13): insert fix-up by recolouring
** and at most two rotations, delete by splicing out the node or its
** successor, then the four-case fix-up with at most three rotations.  Each
** left/right pair of cases is written once, with dir (0 = left, 1 = right)
** naming the side, so that !dir names the other side.
**
** The rules kept (rb_validate checks them):
**   1. every node is red or black; NULL links count as black;
**   2. the root is black;
**   3. a red node has no red child;
**   4. every path from a node down to a NULL link crosses the same number
**      of black nodes (its black height).
** So the height is at most 2 log2(n + 1).
**
** The augmentation contract is in rbtree.h.
*/
#include "rbtree.h"

#define RB_RED		0
#define RB_BLACK	1
#define RB_HEIGHT_MAX	128	/* 2 log2(n + 1) for any n a pointer can count */

/* ---- node primitives ---- */


/* The colour of n; NULL links are black. */
static int rb_color(const struct rb_node *n)
{
	return n ? (int)(n->parent_color & 1) : RB_BLACK;
}

static int rb_is_red(const struct rb_node *n)
{
	return rb_color(n) == RB_RED;
}

static void rb_set_parent_color(struct rb_node *n, struct rb_node *parent, int color)
{
	n->parent_color = (uintptr_t)parent | (uintptr_t)color;
}

static void rb_set_parent(struct rb_node *n, struct rb_node *parent)
{
	rb_set_parent_color(n, parent, rb_color(n));
}

static void rb_set_color(struct rb_node *n, int color)
{
	rb_set_parent_color(n, rb_parent(n), color);
}

/* n's child on side dir (0 = left, 1 = right). */
static struct rb_node *rb_kid(const struct rb_node *n, int dir)
{
	return dir ? n->right : n->left;
}

/* The link to n's child on side dir, for writing. */
static struct rb_node **rb_link(struct rb_node *n, int dir)
{
	return dir ? &n->right : &n->left;
}

/* Make the link that pointed at old (in parent, or the root) point at new. */
static void rb_change_child(struct rb_node *old, struct rb_node *new,
			    struct rb_node *parent, struct rb_root *root)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/*
** Rotate at x: x moves down to side dir and its child y on the other side
** takes its place.  For dir = 0 (a left rotation):
**
**	    x                 y
**	   / \               / \
**	  a   y     ->      x   c
**	     / \           / \
**	    b   c         a   b
**
** Colours are the caller's.  Then aug->rotate(x, y): y takes x's value
** (same subtree) and x recomputes its own.
*/
static void rb_rotate(struct rb_node *x, int dir, struct rb_root *root,
		      const struct rb_augment_callbacks *aug)
{
	struct rb_node *y = rb_kid(x, !dir);
	struct rb_node *b = rb_kid(y, dir);
	struct rb_node *parent = rb_parent(x);

	*rb_link(x, !dir) = b;
	if (b)
		rb_set_parent(b, x);
	*rb_link(y, dir) = x;
	rb_set_parent(y, parent);
	rb_change_child(x, y, parent, root);
	rb_set_parent(x, y);
	if (aug)
		aug->rotate(x, y);
}

/* ---- insert ---- */

/* Make node a red leaf under parent at *link; see rbtree.h. */
void rb_link_node(struct rb_node *node, struct rb_node *parent, struct rb_node **link)
{
	rb_set_parent_color(node, parent, RB_RED);
	node->left = node->right = NULL;
	*link = node;
}

/*
** Restore rule 3 above the red leaf node (CLRS RB-INSERT-FIXUP).  While
** node's parent is red: a red uncle means recolour and move up two levels;
** a black uncle means at most two rotations, and then we are done.
*/
void rb_insert_augmented(struct rb_node *node, struct rb_root *root,
			 const struct rb_augment_callbacks *aug)
{
	struct rb_node *parent, *gparent, *uncle;
	int dir;

	while ((parent = rb_parent(node)) && rb_is_red(parent)) {
		gparent = rb_parent(parent);	/* exists: the root is black */
		dir = parent == gparent->right;
		uncle = rb_kid(gparent, !dir);
		if (rb_is_red(uncle)) {
			rb_set_color(parent, RB_BLACK);
			rb_set_color(uncle, RB_BLACK);
			rb_set_color(gparent, RB_RED);
			node = gparent;
			continue;
		}
		if (node == rb_kid(parent, !dir)) {	/* zig-zag: make it zig-zig */
			rb_rotate(parent, dir, root, aug);
			node = parent;
			parent = rb_parent(node);
		}
		rb_set_color(parent, RB_BLACK);
		rb_set_color(gparent, RB_RED);
		rb_rotate(gparent, !dir, root, aug);
		break;
	}
	rb_set_color(root->node, RB_BLACK);
}

/* ---- erase ---- */

/*
** Unlink node, which has at most one child: the child takes its place.
** Sets *x to the child and *xparent to its new parent; returns 1 if a black
** node left the tree (so the paths through *x are one black short).
*/
static int rb_erase_simple(struct rb_node *node, struct rb_root *root,
			   const struct rb_augment_callbacks *aug,
			   struct rb_node **x, struct rb_node **xparent)
{
	struct rb_node *child = node->left ? node->left : node->right;
	struct rb_node *parent = rb_parent(node);

	rb_change_child(node, child, parent, root);
	if (child)
		rb_set_parent(child, parent);
	if (aug && parent)
		aug->propagate(parent, NULL);
	*x = child;
	*xparent = parent;
	return rb_color(node) == RB_BLACK;
}

/*
** Unlink node, which has two children: its successor s (leftmost of
** node->right, so s has no left child) takes node's place and colour, and
** s's right child takes s's old place.  Sets *x to that child and *xparent
** to its new parent; returns 1 if s was black.
*/
static int rb_erase_successor(struct rb_node *node, struct rb_root *root,
			      const struct rb_augment_callbacks *aug,
			      struct rb_node **x, struct rb_node **xparent)
{
	struct rb_node *s = node->right, *p;
	int black;

	while (s->left)
		s = s->left;
	black = rb_color(s) == RB_BLACK;
	*x = s->right;
	if (s == node->right) {
		p = s;
	} else {
		p = rb_parent(s);
		p->left = s->right;
		if (s->right)
			rb_set_parent(s->right, p);
		s->right = node->right;
		rb_set_parent(s->right, s);
	}
	s->left = node->left;
	rb_set_parent(s->left, s);
	rb_change_child(node, s, rb_parent(node), root);
	s->parent_color = node->parent_color;
	if (aug) {
		aug->copy(node, s);
		if (p != s)
			aug->propagate(p, s);
		aug->propagate(s, NULL);
	}
	*xparent = p;
	return black;
}

/*
** The paths through x (possibly NULL, child of parent) are one black
** short: restore rule 4 (CLRS RB-DELETE-FIXUP).  The sibling is never NULL,
** since its side has a black height of at least one.  Cases, for x on side
** dir: red sibling (rotate to make it black); black sibling with black
** children (recolour, move up); black sibling with a red far child
** (after rotating a red near child there), which ends it.
*/
static void rb_erase_fixup(struct rb_node *x, struct rb_node *parent, struct rb_root *root,
			   const struct rb_augment_callbacks *aug)
{
	struct rb_node *sib;
	int dir;

	while (x != root->node && !rb_is_red(x)) {
		dir = parent->left != x;
		sib = rb_kid(parent, !dir);
		if (rb_is_red(sib)) {
			rb_set_color(sib, RB_BLACK);
			rb_set_color(parent, RB_RED);
			rb_rotate(parent, dir, root, aug);
			sib = rb_kid(parent, !dir);
		}
		if (!rb_is_red(sib->left) && !rb_is_red(sib->right)) {
			rb_set_color(sib, RB_RED);
			x = parent;
			parent = rb_parent(x);
			continue;
		}
		if (!rb_is_red(rb_kid(sib, !dir))) {
			rb_set_color(rb_kid(sib, dir), RB_BLACK);
			rb_set_color(sib, RB_RED);
			rb_rotate(sib, !dir, root, aug);
			sib = rb_kid(parent, !dir);
		}
		rb_set_color(sib, rb_color(parent));
		rb_set_color(parent, RB_BLACK);
		rb_set_color(rb_kid(sib, !dir), RB_BLACK);
		rb_rotate(parent, dir, root, aug);
		break;
	}
	if (x)
		rb_set_color(x, RB_BLACK);
}

/* Remove node and rebalance; see rbtree.h for the callbacks it makes. */
void rb_erase_augmented(struct rb_node *node, struct rb_root *root,
			const struct rb_augment_callbacks *aug)
{
	struct rb_node *x, *xparent;
	int black;

	if (node->left && node->right)
		black = rb_erase_successor(node, root, aug, &x, &xparent);
	else
		black = rb_erase_simple(node, root, aug, &x, &xparent);
	if (black)
		rb_erase_fixup(x, xparent, root, aug);
}

/* ---- replace, traversal ---- */

/* Put new in victim's place; no rebalancing, no callbacks. */
void rb_replace_node(struct rb_node *victim, struct rb_node *new, struct rb_root *root)
{
	*new = *victim;
	if (new->left)
		rb_set_parent(new->left, new);
	if (new->right)
		rb_set_parent(new->right, new);
	rb_change_child(victim, new, rb_parent(victim), root);
}

/* The last node on side dir of the subtree at n (NULL if n is NULL). */
static struct rb_node *rb_extreme(struct rb_node *n, int dir)
{
	if (n)
		while (rb_kid(n, dir))
			n = rb_kid(n, dir);
	return n;
}

/* The in-order neighbour of n on side dir: 1 = next, 0 = previous. */
static struct rb_node *rb_step(const struct rb_node *n, int dir)
{
	struct rb_node *parent;

	if (rb_kid(n, dir))
		return rb_extreme(rb_kid(n, dir), !dir);
	while ((parent = rb_parent(n)) && n == rb_kid(parent, dir))
		n = parent;
	return parent;
}

/* The leftmost node, NULL if empty. */
struct rb_node *rb_first(const struct rb_root *root)
{
	return rb_extreme(root->node, 0);
}

/* The rightmost node, NULL if empty. */
struct rb_node *rb_last(const struct rb_root *root)
{
	return rb_extreme(root->node, 1);
}

/* The in-order successor, NULL after the last. */
struct rb_node *rb_next(const struct rb_node *node)
{
	return rb_step(node, 1);
}

/* The in-order predecessor, NULL before the first. */
struct rb_node *rb_prev(const struct rb_node *node)
{
	return rb_step(node, 0);
}

/* ---- checking ---- */

/*
** Check the subtree at n (whose parent link was checked by the caller),
** adding problems to *bad.  Returns its black height counting the NULL
** links, or -1 if unknown (a bad link below, or too deep to be valid).
*/
static int rb_check_subtree(const struct rb_node *n, int depth, int *bad)
{
	const struct rb_node *c;
	int h[2], dir;

	if (!n)
		return 1;
	if (depth > RB_HEIGHT_MAX) {
		(*bad)++;
		return -1;
	}
	for (dir = 0; dir < 2; dir++) {
		c = rb_kid(n, dir);
		if (c && rb_parent(c) != n) {
			(*bad)++;	/* do not enter: it may loop */
			h[dir] = -1;
			continue;
		}
		if (rb_is_red(n) && rb_is_red(c))
			(*bad)++;
		h[dir] = rb_check_subtree(c, depth + 1, bad);
	}
	if (h[0] < 0 || h[1] < 0)
		return -1;
	if (h[0] != h[1])
		(*bad)++;
	return (h[0] > h[1] ? h[0] : h[1]) + !rb_is_red(n);
}

/* 0 if the tree keeps the red-black rules, else minus the problem count. */
int rb_validate(const struct rb_root *root)
{
	int bad = 0;

	if (!root->node)
		return 0;
	if (rb_parent(root->node)) {
		bad++;			/* do not enter: it may loop */
	} else {
		if (rb_is_red(root->node))
			bad++;
		rb_check_subtree(root->node, 0, &bad);
	}
	return -bad;
}
