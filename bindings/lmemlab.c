/*
** lmemlab.c -- the memlab Lua module: luaopen_memlab, the module table
** (version, json, GFP and mmap constants, strerror, errname, parse_size,
** new) and the argument helpers every binding file shares (lmemlab.h).
**
** Misuse of the API raises "bad argument #N to 'fname' (...)"; outcomes
** Linux reports with an errno return `nil, "ENOMEM", 12` (DESIGN.md).
*/
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lmemlab.h"

/* {===================== errors ===================== */

int lmemlab_pushfail(lua_State *L, int err)
{
	const char *name = memlab_err_name(err);

	luaL_pushfail(L);
	lua_pushstring(L, name ? name : "EUNKNOWN");
	lua_pushinteger(L, err < 0 ? -(lua_Integer)err : err);
	return 3;
}

int lmemlab_pushok(lua_State *L, int rc)
{
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushboolean(L, 1);
	return 1;
}

/* Is the running C function called as obj:method(...)? */
static int called_as_method(lua_State *L)
{
	lua_Debug ar;

	if (!lua_getstack(L, 0, &ar))
		return 0;
	lua_getinfo(L, "n", &ar);
	return ar.namewhat != NULL && strcmp(ar.namewhat, "method") == 0;
}

int lmemlab_argerror(lua_State *L, int arg, const char *fname,
		     const char *msg)
{
	if (called_as_method(L)) {
		arg--;
		if (arg == 0)
			return luaL_error(L, "calling '%s' on bad self (%s)",
					  fname, msg);
	}
	return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, fname, msg);
}

int lmemlab_typeerror(lua_State *L, int arg, const char *fname,
		      const char *tname)
{
	const char *got;

	if (lua_type(L, arg) == LUA_TUSERDATA &&
	    luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
		got = lua_tostring(L, -1);
	else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
		got = "light userdata";
	else
		got = luaL_typename(L, arg);
	got = lua_pushfstring(L, "%s expected, got %s", tname, got);
	return lmemlab_argerror(L, arg, fname, got);
}

/* }===================== */

/* {===================== integers ===================== */

/*
** Convert the number at idx to an exact integer.  Returns NULL and *out,
** or what is wrong with it.  Strings are not numbers here: an API that
** takes an order or a pfn wants a number, not "3".
*/
static const char *tointeger(lua_State *L, int idx, lua_Integer *out)
{
	lua_Number f;
	int isnum;

	if (lua_type(L, idx) != LUA_TNUMBER)
		return "integer expected";
	if (lua_isinteger(L, idx)) {
		*out = lua_tointeger(L, idx);
		return NULL;
	}
	f = lua_tonumber(L, idx);
	if (isnan(f))
		return "got NaN";
	if (isinf(f))
		return f > 0 ? "got inf" : "got -inf";
	if (f != floor(f))
		return "number has no integer representation";
	*out = lua_tointegerx(L, idx, &isnum);
	if (!isnum)
		return "number out of the integer range";
	return NULL;
}

lua_Integer lmemlab_checkinteger(lua_State *L, int arg, const char *fname,
				 const char *what)
{
	lua_Integer v = 0;
	const char *err;

	if (lua_type(L, arg) != LUA_TNUMBER) {
		lua_pushfstring(L, "%s: integer", what);
		return lmemlab_typeerror(L, arg, fname, lua_tostring(L, -1));
	}
	err = tointeger(L, arg, &v);
	if (err) {
		lua_pushfstring(L, "%s must be an integer, %s", what, err);
		return lmemlab_argerror(L, arg, fname, lua_tostring(L, -1));
	}
	return v;
}

lua_Integer lmemlab_checkrange(lua_State *L, int arg, const char *fname,
			       const char *what, lua_Integer lo,
			       lua_Integer hi)
{
	lua_Integer v = lmemlab_checkinteger(L, arg, fname, what);

	if (v < lo || v > hi) {
		if (hi == LUA_MAXINTEGER && lo == 0)
			lua_pushfstring(L, "%s must be non-negative", what);
		else if (hi == LUA_MAXINTEGER)
			lua_pushfstring(L, "%s must be >= %I", what, (LUAI_UACINT)lo);
		else
			lua_pushfstring(L, "%s must be %I..%I", what,
					(LUAI_UACINT)lo, (LUAI_UACINT)hi);
		return lmemlab_argerror(L, arg, fname, lua_tostring(L, -1));
	}
	return v;
}

/* }===================== */

/* {===================== sizes ===================== */

/*
** "512", "64K", "64KB", "64KiB", "2m", "1GiB": decimal digits, an optional
** binary multiplier K M G T P and an optional "B" ("iB" after a
** multiplier), all case-insensitive.  The result must be below 2^63.
*/
static const char *parse_size_string(const char *s, size_t len,
				     uint64_t *out)
{
	static const char units[] = "KMGTP";
	uint64_t v = 0;
	unsigned shift = 0;
	size_t i = 0;
	const char *u;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return "size too large (must be below 2^63)";
		v = v * 10 + d;
	}
	if (i == 0)
		return "invalid size string";
	if (i < len && s[i] != '\0' &&
	    (u = strchr(units, toupper((unsigned char)s[i]))) != NULL) {
		shift = 10 * (unsigned)(u - units + 1);
		i++;
		if (i < len && (s[i] == 'i' || s[i] == 'I')) {
			i++;
			if (i == len || toupper((unsigned char)s[i]) != 'B')
				return "invalid size string";
		}
	}
	if (i < len && toupper((unsigned char)s[i]) == 'B')
		i++;
	if (i != len)
		return "invalid size string";
	if (v > ((uint64_t)INT64_MAX >> shift))
		return "size too large (must be below 2^63)";
	v <<= shift;
	if (v == 0)
		return "size must be > 0";
	*out = v;
	return NULL;
}

const char *lmemlab_tosize(lua_State *L, int idx, uint64_t *out)
{
	lua_Integer v = 0;
	lua_Number f;
	int isnum;
	size_t len;
	const char *s;

	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			v = lua_tointeger(L, idx);
		} else {
			f = lua_tonumber(L, idx);
			if (isnan(f))
				return "size must be a number, got NaN";
			if (f <= 0)
				return "size must be > 0";
			if (isinf(f))
				return "size too large (must be below 2^63)";
			if (f != floor(f))
				return "size must be an integer";
			v = lua_tointegerx(L, idx, &isnum);
			if (!isnum)
				return "size too large (must be below 2^63)";
		}
		if (v <= 0)
			return "size must be > 0";
		*out = (uint64_t)v;
		return NULL;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		return parse_size_string(s, len, out);
	default:
		return "size expected (an integer or a string such as \"64K\")";
	}
}

uint64_t lmemlab_checksize(lua_State *L, int arg, const char *fname)
{
	uint64_t v = 0;
	const char *err = lmemlab_tosize(L, arg, &v);
	char msg[160];
	size_t len;
	const char *s;

	if (!err)
		return v;
	if (lua_type(L, arg) == LUA_TSTRING) {
		s = lua_tolstring(L, arg, &len);
		snprintf(msg, sizeof(msg), "%s: \"%.*s%s\"", err,
			 (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "");
	} else if (lua_type(L, arg) != LUA_TNUMBER) {
		snprintf(msg, sizeof(msg), "%s, got %s", err,
			 luaL_typename(L, arg));
	} else {
		snprintf(msg, sizeof(msg), "%s", err);
	}
	return (uint64_t)lmemlab_argerror(L, arg, fname, msg);
}

/* }===================== */

/* {===================== GFP masks ===================== */

/* The value of one GFP name, with or without "GFP_"/"__GFP_"; -1 if none. */
static int64_t gfp_lookup(const char *tok)
{
	static const char *const prefixes[] = { "", "GFP_", "__GFP_" };
	const struct memlab_flag_name *n;
	char full[64];

	for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		snprintf(full, sizeof(full), "%s%s", prefixes[p], tok);
		for (n = memlab_gfp_names(); n->name; n++)
			if (strcmp(n->name, full) == 0)
				return n->value;
	}
	return -1;
}

/*
** Parse names joined by '|' or ',' ("private | anonymous", "MAP_SHARED"),
** case-insensitive, with or without prefix; "" is 0.  Returns NULL and
** *out, or the message (built in msg).
*/
const char *lmemlab_parse_names(const char *s, size_t len,
				int64_t (*lookup)(const char *tok, const void *ud),
				const void *ud, const char *kind, uint32_t *out,
				char *msg, size_t msgsize)
{
	uint32_t mask = 0;
	size_t i = 0, start, end, j;
	char tok[48];
	int64_t v;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	if (i == len) {
		*out = 0;
		return NULL;
	}
	for (;;) {
		start = i;
		while (i < len && s[i] != '|' && s[i] != ',')
			i++;
		end = i;
		while (start < end && isspace((unsigned char)s[start]))
			start++;
		while (end > start && isspace((unsigned char)s[end - 1]))
			end--;
		if (start == end) {
			snprintf(msg, msgsize, "empty name in %s", kind);
			return msg;
		}
		v = -1;
		if (end - start < sizeof(tok) &&
		    memchr(s + start, '\0', end - start) == NULL) {
			for (j = start; j < end; j++)
				tok[j - start] = (char)toupper((unsigned char)s[j]);
			tok[end - start] = '\0';
			v = lookup(tok, ud);
		}
		if (v < 0) {
			snprintf(msg, msgsize, "unknown %s '%.*s%s'", kind,
				 (int)(end - start > 40 ? 40 : end - start),
				 s + start, end - start > 40 ? "..." : "");
			return msg;
		}
		mask |= (uint32_t)v;
		if (i == len)
			break;
		i++;	/* the separator */
	}
	*out = mask;
	return NULL;
}

static int64_t gfp_lookup_ud(const char *tok, const void *ud)
{
	return gfp_lookup(tok);
}

/* Parse "kernel | zero", "GFP_KERNEL,__GFP_ZERO"; "" is the empty mask. */
static const char *parse_gfp_string(const char *s, size_t len, uint32_t *out,
				    char *msg, size_t msgsize)
{
	return lmemlab_parse_names(s, len, gfp_lookup_ud, NULL, "gfp mask", out, msg, msgsize);
}

const char *lmemlab_togfp(lua_State *L, int idx, uint32_t *out, char *msg,
			  size_t msgsize)
{
	lua_Integer v = 0;
	const char *s;
	size_t len;

	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
		if (tointeger(L, idx, &v) || v < 0 || v > (lua_Integer)UINT32_MAX)
			return "gfp mask must be an integer in 0..0xffffffff";
		*out = (uint32_t)v;
		return NULL;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		return parse_gfp_string(s, len, out, msg, msgsize);
	default:
		snprintf(msg, msgsize, "gfp mask expected (an integer or names "
			 "such as \"GFP_KERNEL|__GFP_ZERO\"), got %s",
			 luaL_typename(L, idx));
		return msg;
	}
}

uint32_t lmemlab_optgfp(lua_State *L, int arg, const char *fname,
			uint32_t def)
{
	uint32_t gfp = 0;
	char msg[160];
	const char *err;

	if (lua_isnoneornil(L, arg))
		return def;
	err = lmemlab_togfp(L, arg, &gfp, msg, sizeof(msg));
	if (err)
		return (uint32_t)lmemlab_argerror(L, arg, fname, err);
	return gfp;
}

/* }===================== */

/* {===================== module functions ===================== */

/* The errno at arg as an int; out-of-range values become 0 (unknown). */
static int check_errno(lua_State *L, const char *fname)
{
	lua_Integer v = lmemlab_checkinteger(L, 1, fname, "errno");

	return (v > INT_MAX || v < -INT_MAX) ? 0 : (int)v;
}

/* memlab.strerror(errno) --> "Cannot allocate memory" (12 or -12) */
static int l_strerror(lua_State *L)
{
	lua_pushstring(L, memlab_strerror(check_errno(L, "strerror")));
	return 1;
}

/* memlab.errname(errno) --> "ENOMEM" | nil for a number Linux has no name for */
static int l_errname(lua_State *L)
{
	const char *name = memlab_err_name(check_errno(L, "errname"));

	if (name)
		lua_pushstring(L, name);
	else
		luaL_pushfail(L);
	return 1;
}

/* memlab.parse_size("64K") --> 65536 */
static int l_parse_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lmemlab_checksize(L, 1, "parse_size"));
	return 1;
}

/*
** memlab.json: encode is memlab's (ljson.c: exact 64-bit integers, sorted
** keys), decode and null are lua-cjson's; memlab.json.cjson is the module
** itself.  Raises when lua-cjson is missing.
*/
static void load_json(lua_State *L)
{
	if (lua_getglobal(L, "require") != LUA_TFUNCTION)
		luaL_error(L, "memlab: cannot load lua-cjson: 'require' is "
			   "not available (open the package library)");
	lua_pushliteral(L, "cjson");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK)
		luaL_error(L, "memlab: the lua-cjson module is required "
			   "(require(\"cjson\") failed: %s)",
			   lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) :
			   "(no message)");
	lua_createtable(L, 0, 4);
	lua_getfield(L, -2, "decode");
	lua_setfield(L, -2, "decode");
	lua_getfield(L, -2, "null");
	lua_setfield(L, -2, "null");
	lua_pushcfunction(L, lmemlab_json_encode);
	lua_setfield(L, -2, "encode");
	lua_insert(L, -2);
	lua_setfield(L, -2, "cjson");
	lua_setfield(L, -2, "json");
}

static const luaL_Reg memlab_funcs[] = {
	{ "new", lmemlab_new },
	{ "strerror", l_strerror },
	{ "errname", l_errname },
	{ "parse_size", l_parse_size },
	{ NULL, NULL }
};

/*
** require("memlab"): the module table with the functions above, version,
** every GFP name of memlab_gfp_names() as an integer, the PROT_*, MAP_*
** and MREMAP_* constants (ltask.c) and json (lua-cjson).
*/
int luaopen_memlab(lua_State *L)
{
	const struct memlab_flag_name *n;

	luaL_checkversion(L);
	lmemlab_open_machine(L);
	luaL_newlib(L, memlab_funcs);
	lua_pushliteral(L, MEMLAB_VERSION_STRING);
	lua_setfield(L, -2, "version");
	for (n = memlab_gfp_names(); n->name; n++) {
		lua_pushinteger(L, (lua_Integer)n->value);
		lua_setfield(L, -2, n->name);
	}
	lmemlab_open_task(L);	/* tasks, files; PROT_*, MAP_*, MREMAP_* */
	lmemlab_open_cgroup(L);
	lmemlab_open_slab(L);
	load_json(L);
	return 1;
}

/* }===================== */
