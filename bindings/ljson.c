/*
** ljson.c -- memlab.json.encode: JSON for memlab's tables, exact for
** 64-bit integers and deterministic.
**
** Debian's lua-cjson (2.1.0) prints every number with "%.14g", so an
** address such as 0x7ffff7fff000 (15 digits) comes out as
** 1.4073735412531e+14; and it emits object keys in table order, which
** changes from run to run.  A memory lab's JSON must carry addresses
** exactly and print the same bytes for the same seed, so encoding is done
** here: integers in full, floats in the shortest form that reads back
** equal, object keys sorted.  Decoding stays lua-cjson's.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmemlab.h"

#define JSON_MAX_DEPTH	128

/*
** The output, in a userdata whose __gc frees it: the encoder pushes and
** pops freely (which a luaL_Buffer forbids) and may raise at any point.
*/
struct jbuf {
	char *p;
	size_t len, cap;
};

static int jbuf_gc(lua_State *L)
{
	struct jbuf *b = lua_touserdata(L, 1);

	free(b->p);
	b->p = NULL;
	return 0;
}

static void jbuf_add(lua_State *L, struct jbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len < n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			luaL_error(L, "json.encode: out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

#define jb_addchar(b, c)	do { char c_ = (c); jbuf_add(L, (b), &c_, 1); } while (0)
#define jb_addstring(b, s)	do { const char *s_ = (s); jbuf_add(L, (b), s_, strlen(s_)); } while (0)

static void encode_value(lua_State *L, struct jbuf *b, int idx, int depth);

static void encode_string(lua_State *L, struct jbuf *b, int idx)
{
	size_t len;
	const char *s = lua_tolstring(L, idx, &len);

	jb_addchar(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		switch (c) {
		case '"': jb_addstring(b, "\\\""); break;
		case '\\': jb_addstring(b, "\\\\"); break;
		case '\b': jb_addstring(b, "\\b"); break;
		case '\f': jb_addstring(b, "\\f"); break;
		case '\n': jb_addstring(b, "\\n"); break;
		case '\r': jb_addstring(b, "\\r"); break;
		case '\t': jb_addstring(b, "\\t"); break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				jb_addstring(b, esc);
			} else {
				jb_addchar(b, (char)c);
			}
		}
	}
	jb_addchar(b, '"');
}

/* Integers in full; floats in the shortest "%.Ng" that reads back equal. */
static void encode_number(lua_State *L, struct jbuf *b, int idx)
{
	char num[64];

	if (lua_isinteger(L, idx)) {
		snprintf(num, sizeof(num), "%lld", (long long)lua_tointeger(L, idx));
	} else {
		double x = lua_tonumber(L, idx);

		if (isnan(x) || isinf(x))
			luaL_error(L, "json.encode: cannot encode %s", isnan(x) ? "NaN" : "infinity");
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(num, sizeof(num), "%.*g", prec, x);
			if (strtod(num, NULL) == x)
				break;
		}
	}
	jb_addstring(b, num);
}

/* A table is an array when its keys are exactly 1..n (n > 0). */
static lua_Integer array_length(lua_State *L, int idx)
{
	lua_Integer n = 0, max = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
			lua_pop(L, 1);
			return -1;
		}
		if (lua_tointeger(L, -1) > max)
			max = lua_tointeger(L, -1);
		n++;
	}
	return n > 0 && max == n ? n : -1;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object: keys (strings, or numbers written as strings) in sorted order. */
static void encode_object(lua_State *L, struct jbuf *b, int idx, int depth)
{
	int n = 0, keys;
	const char **names;

	lua_newtable(L);		/* key string -> value, keeps the strings alive */
	keys = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int kt = lua_type(L, -2);

		if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
			luaL_error(L, "json.encode: a table key must be a string or a number, not %s",
				   lua_typename(L, kt));
		lua_pushvalue(L, -2);
		lua_tostring(L, -1);	/* numbers become their decimal form */
		lua_insert(L, -2);
		lua_rawset(L, keys);
		n++;
	}
	names = lua_newuserdatauv(L, sizeof(*names) * (size_t)(n ? n : 1), 0);
	n = 0;
	lua_pushnil(L);
	while (lua_next(L, keys)) {
		lua_pop(L, 1);
		names[n++] = lua_tostring(L, -1);
	}
	qsort(names, (size_t)n, sizeof(*names), compare_keys);
	jb_addchar(b, '{');
	for (int i = 0; i < n; i++) {
		if (i)
			jb_addchar(b, ',');
		lua_pushstring(L, names[i]);
		encode_string(L, b, -1);
		jb_addchar(b, ':');
		lua_rawget(L, keys);
		encode_value(L, b, lua_gettop(L), depth + 1);
		lua_pop(L, 1);
	}
	jb_addchar(b, '}');
	lua_pop(L, 2);
}

static void encode_table(lua_State *L, struct jbuf *b, int idx, int depth)
{
	lua_Integer n;

	if (depth > JSON_MAX_DEPTH)
		luaL_error(L, "json.encode: nested deeper than %d levels (a cycle?)", JSON_MAX_DEPTH);
	luaL_checkstack(L, 8, "json.encode");
	n = array_length(L, idx);
	if (n < 0) {
		encode_object(L, b, idx, depth);
		return;
	}
	jb_addchar(b, '[');
	for (lua_Integer i = 1; i <= n; i++) {
		if (i > 1)
			jb_addchar(b, ',');
		lua_rawgeti(L, idx, i);
		encode_value(L, b, lua_gettop(L), depth + 1);
		lua_pop(L, 1);
	}
	jb_addchar(b, ']');
}

static void encode_value(lua_State *L, struct jbuf *b, int idx, int depth)
{
	switch (lua_type(L, idx)) {
	case LUA_TNIL: jb_addstring(b, "null"); break;
	case LUA_TBOOLEAN: jb_addstring(b, lua_toboolean(L, idx) ? "true" : "false"); break;
	case LUA_TNUMBER: encode_number(L, b, idx); break;
	case LUA_TSTRING: encode_string(L, b, idx); break;
	case LUA_TTABLE: encode_table(L, b, idx, depth); break;
	case LUA_TLIGHTUSERDATA:
		if (!lua_touserdata(L, idx)) {	/* cjson.null */
			jb_addstring(b, "null");
			break;
		}
		/* fallthrough */
	default:
		luaL_error(L, "json.encode: cannot encode a %s", luaL_typename(L, idx));
	}
}

/*
** memlab.json.encode(value) --> string.  Tables with keys 1..n are arrays,
** others objects with sorted keys; an empty table is {} (as lua-cjson).
*/
int lmemlab_json_encode(lua_State *L)
{
	struct jbuf *b;

	luaL_checkany(L, 1);
	lua_settop(L, 1);
	b = lua_newuserdatauv(L, sizeof(*b), 0);
	memset(b, 0, sizeof(*b));
	if (luaL_newmetatable(L, "memlab.jsonbuf")) {
		lua_pushcfunction(L, jbuf_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	encode_value(L, b, 1, 0);
	lua_pushlstring(L, b->p ? b->p : "", b->len);
	return 1;
}
