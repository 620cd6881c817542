/*
** test_rbtree.c -- the red-black tree (core/rbtree.c) against a sorted
** array, augmented the way the VMA tree will be (Linux 4.x mm/mmap.c):
** nodes are address ranges keyed by start, each with its gap below
** (start - predecessor's end) and the largest gap in its subtree.  One
** mode also keeps the subtree size, so that a value that changes on every
** path is checked as well as one that lets propagate stop early.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rbtree.h"
#include "testlib.h"

#define NSLOTS		1024	/* keys 0..NSLOTS-1: range [16k + lo, 16k + lo + len) */
#define SLOT_BYTES	16

struct tvma {
	uint64_t start, end;	/* end exclusive, inside the slot */
	uint64_t gap;		/* start - predecessor's end (0 for none) */
	uint64_t subtree_gap;	/* augmented: largest gap in the subtree */
	uint32_t subtree_size;	/* augmented when with_size, else 0 */
	int slot;
	struct rb_node rb;
};

struct ttree {
	struct rb_root root;
	const struct rb_augment_callbacks *aug;
	struct tvma pool[NSLOTS];	/* the node of key k is pool[k] */
	int ref[NSLOTS];		/* the reference: present keys, sorted */
	int n;
};

static int with_size;			/* the tree keeps subtree_size too */
static long nr_rotate, nr_copy, nr_propagate;

/* ---- the augmented callbacks, shaped like Linux's RB_DECLARE_CALLBACKS ---- */

static struct tvma *tv(const struct rb_node *rb)
{
	return rb ? rb_entry(rb, struct tvma, rb) : NULL;
}

/* v's augmented values from its own gap and its children's stored values. */
static void tv_compute(const struct tvma *v, uint64_t *gap, uint32_t *size)
{
	const struct tvma *kid[2] = { tv(v->rb.left), tv(v->rb.right) };
	uint64_t g = v->gap;
	uint32_t s = 1;

	for (int i = 0; i < 2; i++) {
		if (!kid[i])
			continue;
		if (kid[i]->subtree_gap > g)
			g = kid[i]->subtree_gap;
		s += kid[i]->subtree_size;
	}
	*gap = g;
	*size = with_size ? s : 0;
}

/* Recompute from rb up to stop, stopping early at an unchanged node. */
static void tv_propagate(struct rb_node *rb, struct rb_node *stop)
{
	nr_propagate++;
	while (rb != stop) {
		struct tvma *v = tv(rb);
		uint64_t g;
		uint32_t s;

		tv_compute(v, &g, &s);
		if (g == v->subtree_gap && s == v->subtree_size)
			break;
		v->subtree_gap = g;
		v->subtree_size = s;
		rb = rb_parent(rb);
	}
}

static void tv_copy(struct rb_node *old, struct rb_node *new)
{
	nr_copy++;
	tv(new)->subtree_gap = tv(old)->subtree_gap;
	tv(new)->subtree_size = tv(old)->subtree_size;
}

static void tv_rotate(struct rb_node *old, struct rb_node *new)
{
	struct tvma *o = tv(old);

	nr_rotate++;
	tv_copy(old, new);
	nr_copy--;
	tv_compute(o, &o->subtree_gap, &o->subtree_size);
}

static const struct rb_augment_callbacks tv_callbacks = { tv_propagate, tv_copy, tv_rotate };

/* ---- the tree under test, used as the VMA tree will be ---- */

/* An empty tree; size: keep subtree_size too. */
static void t_init(struct ttree *t, const struct rb_augment_callbacks *aug, int size)
{
	memset(t, 0, sizeof(*t));
	with_size = size;
	t->root = RB_ROOT;
	t->aug = aug;
}

/* Set v's gap from its predecessor (NULL: none) and propagate it. */
static void t_set_gap(struct ttree *t, struct tvma *v, const struct tvma *prev)
{
	v->gap = v->start - (prev ? prev->end : 0);
	if (t->aug)
		t->aug->propagate(&v->rb, NULL);
}

/* Insert key k as [16k + lo, 16k + lo + len), as vma_link() does. */
static void t_insert(struct ttree *t, int k, int lo, int len)
{
	struct tvma *v = &t->pool[k], *prev = NULL, *next = NULL, *cur;
	struct rb_node **link = &t->root.node, *parent = NULL;
	int i;

	v->start = (uint64_t)k * SLOT_BYTES + (uint64_t)lo;
	v->end = v->start + (uint64_t)len;
	v->slot = k;
	while (*link) {
		parent = *link;
		cur = tv(parent);
		if (v->start < cur->start) {
			next = cur;
			link = &parent->left;
		} else {
			prev = cur;
			link = &parent->right;
		}
	}
	if (next)
		t_set_gap(t, next, v);		/* its gap shrinks first */
	rb_link_node(&v->rb, parent, link);
	v->subtree_gap = 0;			/* the identity of max */
	v->subtree_size = 0;
	t_set_gap(t, v, prev);			/* then propagate(v, NULL) */
	rb_insert_augmented(&v->rb, &t->root, t->aug);
	for (i = t->n; i > 0 && t->ref[i - 1] > k; i--)
		t->ref[i] = t->ref[i - 1];
	t->ref[i] = k;
	t->n++;
}

/* Erase v, then update its successor's gap, as Linux does after erasing. */
static void t_erase(struct ttree *t, struct tvma *v)
{
	struct tvma *prev = tv(rb_prev(&v->rb)), *next = tv(rb_next(&v->rb));
	int i;

	rb_erase_augmented(&v->rb, &t->root, t->aug);
	if (next)
		t_set_gap(t, next, prev);
	for (i = 0; t->ref[i] != v->slot; i++)
		;
	memmove(&t->ref[i], &t->ref[i + 1], (size_t)(t->n - i - 1) * sizeof(int));
	t->n--;
	v->end = 0;				/* marks the key absent */
}

/* Recompute the subtree at rb from scratch; report a stored value that differs. */
static int t_check_aug(const struct rb_node *rb, uint64_t *gap, uint32_t *size)
{
	const struct tvma *v = tv(rb);
	uint64_t g[2] = { 0, 0 };
	uint32_t s[2] = { 0, 0 };

	*gap = 0;
	*size = 0;
	if (!rb)
		return 0;
	if (t_check_aug(rb->left, &g[0], &s[0]) || t_check_aug(rb->right, &g[1], &s[1]))
		return -1;
	*gap = v->gap > g[0] ? v->gap : g[0];
	*gap = *gap > g[1] ? *gap : g[1];
	*size = with_size ? 1 + s[0] + s[1] : 0;
	if (v->subtree_gap != *gap || v->subtree_size != *size) {
		printf("  key %d: stored gap %llu size %u, recomputed %llu %u\n", v->slot,
		       (unsigned long long)v->subtree_gap, v->subtree_size,
		       (unsigned long long)*gap, *size);
		return -1;
	}
	return 0;
}

/* Walk the tree in direction dir (1: rb_first/rb_next, 0: rb_last/rb_prev)
** and compare with the reference, gaps included. */
static int t_check_walk(const struct ttree *t, int dir)
{
	const struct rb_node *rb = dir ? rb_first(&t->root) : rb_last(&t->root);
	int i = dir ? 0 : t->n - 1;

	for (; rb; rb = dir ? rb_next(rb) : rb_prev(rb), i += dir ? 1 : -1) {
		const struct tvma *v = tv(rb), *prev = tv(rb_prev(rb));

		if (i < 0 || i >= t->n || v->slot != t->ref[i]) {
			printf("  walk %s: position %d has key %d\n", dir ? "next" : "prev", i, v->slot);
			return -1;
		}
		if (v->gap != v->start - (prev ? prev->end : 0)) {
			printf("  key %d: gap %llu is stale\n", v->slot, (unsigned long long)v->gap);
			return -1;
		}
	}
	if (i != (dir ? t->n : -1)) {
		printf("  walk %s: stopped at %d of %d\n", dir ? "next" : "prev", i, t->n);
		return -1;
	}
	return 0;
}

/* Everything: red-black rules, both walks, the augmented values. */
static int t_check(const struct ttree *t)
{
	uint64_t gap;
	uint32_t size;
	int rc = rb_validate(&t->root);

	if (rc) {
		printf("  rb_validate: %d\n", rc);
		return -1;
	}
	if (t_check_walk(t, 1) || t_check_walk(t, 0))
		return -1;
	return t->aug ? t_check_aug(t->root.node, &gap, &size) : 0;
}

/* ---- a fixed-seed generator (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void t_insert_random(struct ttree *t)
{
	int k = (int)(rng() % NSLOTS);

	while (t->pool[k].end)				/* present: probe on */
		k = (k + 1) % NSLOTS;
	t_insert(t, k, (int)(rng() % 8), 1 + (int)(rng() % 8));
}

/*
** ops random inserts and erases; the insert share cycles through 75%,
** 50%, 25%, 50% every 5000 ops, so the tree fills up and drains to empty.
** Checks everything after every check_every ops, and the callback counts
** after every op.  Returns 0, or the failing op's number + 1.
*/
static int t_random_run(struct ttree *t, uint64_t seed, int ops, int check_every)
{
	static const int insert_pct[4] = { 75, 50, 25, 50 };

	rng_state = seed;
	for (int i = 0; i < ops; i++) {
		int ins = (int)(rng() % 100) < insert_pct[(i / 5000) % 4];
		long rot0 = nr_rotate, copy0 = nr_copy;
		int two_kids = 0;

		if (t->n == 0 || (ins && t->n < NSLOTS)) {
			t_insert_random(t);
			if (nr_rotate - rot0 > 2 || nr_copy != copy0)
				return i + 1;
		} else {
			struct tvma *v = &t->pool[t->ref[rng() % (uint64_t)t->n]];

			two_kids = v->rb.left && v->rb.right;
			t_erase(t, v);
			if (nr_rotate - rot0 > 3 || nr_copy - copy0 != (t->aug && two_kids))
				return i + 1;
		}
		if ((i % check_every == 0 || i == ops - 1) && t_check(t))
			return i + 1;
	}
	return 0;
}

/* ---- tests ---- */

static struct ttree tree;	/* 70 KB: not on the stack */

TEST(empty)
{
	t_init(&tree, &tv_callbacks, 0);
	ASSERT(RB_EMPTY_ROOT(&tree.root));
	ASSERT(rb_first(&tree.root) == NULL);
	ASSERT(rb_last(&tree.root) == NULL);
	ASSERT_EQ(rb_validate(&tree.root), 0);
	ASSERT_OK(t_check(&tree));
}

TEST(single_node)
{
	struct tvma *v = &tree.pool[5];

	t_init(&tree, &tv_callbacks, 0);
	t_insert(&tree, 5, 3, 4);
	ASSERT(rb_first(&tree.root) == &v->rb);
	ASSERT(rb_last(&tree.root) == &v->rb);
	ASSERT(rb_next(&v->rb) == NULL && rb_prev(&v->rb) == NULL);
	ASSERT(rb_parent(&v->rb) == NULL);
	ASSERT_EQ(v->rb.parent_color & 1, 1);		/* the root is black */
	ASSERT_EQ(v->gap, 5 * SLOT_BYTES + 3);
	ASSERT_EQ(v->subtree_gap, v->gap);
	ASSERT_OK(t_check(&tree));
	t_erase(&tree, v);
	ASSERT(RB_EMPTY_ROOT(&tree.root));
	ASSERT_OK(t_check(&tree));
}

/* Keys 0..n-1 inserted in order: the worst case for an unbalanced tree. */
static void t_fill(struct ttree *t, int n)
{
	for (int k = 0; k < n; k++)
		t_insert(t, k, k % 5, 1 + k % 7);
}

TEST(ascending_is_balanced)
{
	int height = 0;

	t_init(&tree, &tv_callbacks, 1);
	t_fill(&tree, NSLOTS);
	ASSERT_OK(t_check(&tree));
	for (int k = 0; k < NSLOTS; k++) {
		int depth = 0;

		for (struct rb_node *rb = &tree.pool[k].rb; rb; rb = rb_parent(rb))
			depth++;
		height = depth > height ? depth : height;
	}
	ASSERT(height <= 2 * 10);			/* 2 log2(1025) */
	ASSERT_EQ(tv(tree.root.node)->subtree_size, NSLOTS);
}

TEST(erase_root)
{
	t_init(&tree, &tv_callbacks, 0);
	t_fill(&tree, 40);
	while (tree.root.node) {
		t_erase(&tree, tv(tree.root.node));
		ASSERT_OK(t_check(&tree));
	}
	ASSERT_EQ(tree.n, 0);
}

/* A node with two children whose successor is its right child (deep 0)
** or lies deeper, at the left end of the right subtree (deep 1). */
static struct tvma *t_find_two_kids(struct ttree *t, int deep)
{
	for (struct rb_node *rb = rb_first(&t->root); rb; rb = rb_next(rb))
		if (rb->left && rb->right && (rb->right->left != NULL) == deep)
			return tv(rb);
	return NULL;
}

TEST(erase_two_children)
{
	for (int deep = 0; deep < 2; deep++) {
		struct tvma *v, *succ;
		long copy0 = nr_copy;

		t_init(&tree, &tv_callbacks, 0);
		t_fill(&tree, 64);
		v = t_find_two_kids(&tree, deep);
		ASSERT(v != NULL);
		succ = tv(rb_next(&v->rb));
		ASSERT(deep ? rb_parent(&succ->rb) != &v->rb : rb_parent(&succ->rb) == &v->rb);
		t_erase(&tree, v);
		ASSERT_EQ(nr_copy - copy0, 1);		/* copy(v, succ), once */
		ASSERT_OK(t_check(&tree));
	}
}

TEST(replace_node)
{
	int keys[3] = { -1, 0, 7 };		/* the root, a leaf, a middle node */

	for (int i = 0; i < 3; i++) {
		struct tvma repl, *victim;
		struct rb_node *left, *right, *parent;

		t_init(&tree, &tv_callbacks, 0);
		t_fill(&tree, 16);
		victim = keys[i] < 0 ? tv(tree.root.node) : &tree.pool[keys[i]];
		left = victim->rb.left, right = victim->rb.right, parent = rb_parent(&victim->rb);
		repl = *victim;				/* same key, gap and values */
		memset(&repl.rb, 0xa5, sizeof(repl.rb));
		rb_replace_node(&victim->rb, &repl.rb, &tree.root);
		memset(&victim->rb, 0, sizeof(victim->rb));
		ASSERT(rb_parent(&repl.rb) == parent);
		ASSERT(repl.rb.left == left && repl.rb.right == right);
		ASSERT(!left || rb_parent(left) == &repl.rb);
		ASSERT(!right || rb_parent(right) == &repl.rb);
		ASSERT(parent ? (parent->left == &repl.rb || parent->right == &repl.rb)
			      : tree.root.node == &repl.rb);
		ASSERT_OK(t_check(&tree));
		while (tree.root.node) {		/* the new node erases cleanly */
			t_erase(&tree, tv(rb_first(&tree.root)));
			ASSERT_OK(t_check(&tree));
		}
	}
}

TEST(validate_finds_problems)
{
	struct rb_node *root, *leaf, saved;
	int red_found = 0;

	t_init(&tree, NULL, 0);
	t_fill(&tree, 100);
	root = tree.root.node;
	leaf = rb_first(&tree.root);
	ASSERT_EQ(rb_validate(&tree.root), 0);

	root->parent_color &= ~(uintptr_t)1;		/* red root */
	ASSERT(rb_validate(&tree.root) < 0);
	root->parent_color |= 1;

	for (struct rb_node *rb = leaf; rb && !red_found; rb = rb_next(rb)) {
		struct rb_node *kid = rb->left ? rb->left : rb->right;

		if (!(rb->parent_color & 1) && kid) {	/* red parent of a black kid */
			kid->parent_color &= ~(uintptr_t)1;
			ASSERT(rb_validate(&tree.root) < 0);
			kid->parent_color |= 1;
			red_found = 1;
		}
	}
	ASSERT(red_found);

	saved = *leaf;
	leaf->parent_color = (uintptr_t)root | (leaf->parent_color & 1);	/* bad parent */
	ASSERT(rb_validate(&tree.root) < 0);
	*leaf = saved;
	leaf->left = root;					/* a cycle: must not hang */
	ASSERT(rb_validate(&tree.root) < 0);
	*leaf = saved;
	ASSERT_EQ(rb_validate(&tree.root), 0);
}

TEST(random_gap)
{
	int rc;

	t_init(&tree, &tv_callbacks, 0);
	rc = t_random_run(&tree, 0x5eed0001, 200000, 1);
	if (rc)
		TEST_FAIL("op %d of 200000 failed", rc - 1);
	printf("  %ld rotations, %ld copies, %ld propagates\n", nr_rotate, nr_copy, nr_propagate);
}

TEST(random_gap_and_size)
{
	int rc;

	t_init(&tree, &tv_callbacks, 1);
	rc = t_random_run(&tree, 0x5eed0002, 200000, 1);
	if (rc)
		TEST_FAIL("op %d of 200000 failed", rc - 1);
}

TEST(random_plain)
{
	int rc;

	t_init(&tree, NULL, 0);
	rc = t_random_run(&tree, 0x5eed0003, 50000, 1);
	if (rc)
		TEST_FAIL("op %d of 50000 failed", rc - 1);
}

int main(void)
{
	RUN(empty);
	RUN(single_node);
	RUN(ascending_is_balanced);
	RUN(erase_root);
	RUN(erase_two_children);
	RUN(replace_node);
	RUN(validate_finds_problems);
	RUN(random_gap);
	RUN(random_gap_and_size);
	RUN(random_plain);
	return test_summary();
}
