/*
** ltrace.c -- tracing from Lua: m:on(event, fn) calls fn with each event,
** m:trace{...} records events into the core's ring buffer without calling
** Lua, m:trace_events() and m:trace_dump(format) read it back.
**
** The core never calls Lua: the hook only queues events in C, and the
** queue is handed to the Lua handlers when the core call that produced
** them has returned (lmemlab_end_call), so a handler sees a consistent
** machine, may use it, and may raise.
*/
#include <string.h>

#include "lmemlab.h"

struct ltrace {
	lua_Alloc allocf;
	void *allocud;
	struct memlab_trace_event *pending;
	size_t n, cap;
	int overflow;			/* the host could not queue an event */
};

/* The hook: queue the event (the core call is still running). */
static void queue_event(void *ud, const struct memlab_trace_event *ev)
{
	struct ltrace *lt = ud;

	if (lt->n == lt->cap) {
		size_t cap = lt->cap ? lt->cap * 2 : 64;
		void *p = lt->allocf(lt->allocud, lt->pending, lt->cap * sizeof(*ev),
				     cap * sizeof(*ev));

		if (!p) {
			lt->overflow = 1;
			return;
		}
		lt->pending = p;
		lt->cap = cap;
	}
	lt->pending[lt->n++] = *ev;
}

void lmemlab_trace_free(struct ltrace *lt)
{
	if (!lt)
		return;
	lt->allocf(lt->allocud, lt->pending, lt->cap * sizeof(*lt->pending), 0);
	lt->allocf(lt->allocud, lt, sizeof(*lt), 0);
}

/* An event as a table: ts, event, pid, cpu and its fields by name. */
static void push_event(lua_State *L, const struct memlab_trace_event *ev)
{
	lua_createtable(L, 0, 4 + MEMLAB_TRACE_ARGS);
	lmemlab_setint(L, "ts", ev->ts);
	lua_pushstring(L, memlab_trace_event_name(ev->event));
	lua_setfield(L, -2, "event");
	lua_pushinteger(L, ev->pid);
	lua_setfield(L, -2, "pid");
	lua_pushinteger(L, ev->cpu);
	lua_setfield(L, -2, "cpu");
	for (int i = 0; i < MEMLAB_TRACE_ARGS; i++) {
		const char *f = memlab_trace_field_name(ev->event, i);

		if (f) {
			lua_pushinteger(L, (lua_Integer)ev->arg[i]);
			lua_setfield(L, -2, f);
		}
	}
}

/*
** After a core call: hand the queued events to their handlers, in order.
** The queue is emptied first (into a userdata the collector frees), so a
** handler may call the machine again, and may raise.
*/
void lmemlab_trace_dispatch(lua_State *L, lmachine *lm, struct ltrace *lt)
{
	struct memlab_trace_event *evs;
	size_t n;

	if (!lt || !lt->n)
		return;
	n = lt->n;
	evs = lua_newuserdatauv(L, n * sizeof(*evs), 0);
	memcpy(evs, lt->pending, n * sizeof(*evs));
	lt->n = 0;
	lua_rawgetp(L, LUA_REGISTRYINDEX, lm);	/* { [event] = fn }, set by m:on */
	for (size_t i = 0; i < n && lua_istable(L, -1); i++) {
		if (lua_rawgeti(L, -1, evs[i].event) == LUA_TFUNCTION) {
			push_event(L, &evs[i]);
			lua_call(L, 1, 0);
		} else {
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 2);
}

/* The event id for the name at arg, or raise naming fname. */
static int check_event(lua_State *L, int arg, const char *fname)
{
	const char *name = lua_type(L, arg) == LUA_TSTRING ? lua_tostring(L, arg) : NULL;

	for (int i = 0; name && memlab_trace_event_name(i); i++)
		if (strcmp(memlab_trace_event_name(i), name) == 0)
			return i;
	if (!name)
		return lmemlab_typeerror(L, arg, fname, "event name (a string)");
	return luaL_error(L, "%s: unknown event '%s'", fname, name);
}

/* The hook mask: the events with a handler in the table at the top. */
static uint64_t handler_mask(lua_State *L)
{
	uint64_t mask = 0;

	for (int i = 0; memlab_trace_event_name(i); i++) {
		if (lua_rawgeti(L, -1, i) == LUA_TFUNCTION)
			mask |= 1ull << i;
		lua_pop(L, 1);
	}
	return mask;
}

/* m:on(event, fn | nil) --> true: fn(ev) after each call that produced the event */
static int m_on(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "on");
	int id = check_event(L, 2, "on");
	struct ltrace *lt = lmemlab_machine_trace(L, lm);
	uint64_t mask;

	if (!lua_isnil(L, 3) && !lua_isfunction(L, 3))
		return lmemlab_typeerror(L, 3, "on", "function or nil");
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, lm) != LUA_TTABLE) {	/* freed at close */
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, lm);
	}
	lua_pushvalue(L, 3);
	lua_rawseti(L, -2, id);
	mask = handler_mask(L);
	memlab_trace_hook(lmemlab_machine_core(lm), mask, mask ? queue_event : NULL, lt);
	lua_pushboolean(L, 1);
	return 1;
}

/* The mask of the events option at the top: "all" or an array of names. */
static uint64_t events_mask(lua_State *L)
{
	uint64_t mask = 0;

	if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "all") == 0)
		return ~0ull;
	if (!lua_istable(L, -1))
		return (uint64_t)luaL_error(L, "trace: option 'events' must be \"all\" or a list of names");
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
		mask |= 1ull << check_event(L, lua_gettop(L), "trace");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return mask;
}

/* m:trace{ events = "all" | { names }, size = N } --> true; m:trace(false) stops */
static int m_trace(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "trace");
	memlab_machine *m = lmemlab_machine_core(lm);
	uint64_t mask = ~0ull;
	lua_Integer size = 65536;
	int rc;

	if (lua_isboolean(L, 2) && !lua_toboolean(L, 2)) {
		memlab_trace_stop(m);
		lua_pushboolean(L, 1);
		return 1;
	}
	if (!lua_istable(L, 2))
		return lmemlab_typeerror(L, 2, "trace", "table of options, or false");
	if (lua_getfield(L, 2, "events") != LUA_TNIL)
		mask = events_mask(L);
	else
		lua_pop(L, 1);
	if (lua_getfield(L, 2, "size") != LUA_TNIL)
		size = lmemlab_checkrange(L, lua_gettop(L), "trace", "size", 1, 1 << 26);
	lua_pop(L, 1);
	rc = memlab_trace_start(m, mask, (size_t)size);
	return lmemlab_pushok(L, rc);
}

/* m:trace_events() --> { ev, ... }, lost: the recorded events, oldest first */
static int m_trace_events(lua_State *L)
{
	lmachine *lm = lmemlab_checkmachine(L, "trace_events");
	memlab_machine *m = lmemlab_machine_core(lm);
	uint64_t lost = 0;
	size_t n = memlab_trace_events(m, NULL, 0, &lost), got;
	struct memlab_trace_event *evs = lua_newuserdatauv(L, (n ? n : 1) * sizeof(*evs), 0);

	got = memlab_trace_events(m, evs, n, &lost);
	n = got < n ? got : n;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push_event(L, &evs[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_pushinteger(L, (lua_Integer)lost);
	return 2;
}

/* m:trace_dump([format]) --> text: "text" (default), "jsonl" or "chrome" */
static int m_trace_dump(lua_State *L)
{
	static const char *const formats[] = { "text", "jsonl", "chrome", NULL };
	lmachine *lm = lmemlab_checkmachine(L, "trace_dump");
	const char *format = lua_isnoneornil(L, 2) ? "text" : lua_tostring(L, 2);
	char *text;
	size_t len;
	int i, rc;

	for (i = 0; formats[i] && (!format || strcmp(formats[i], format)); i++)
		;
	if (!formats[i])
		return lmemlab_argerror(L, 2, "trace_dump", "format must be \"text\", \"jsonl\" or \"chrome\"");
	rc = memlab_trace_dump(lmemlab_machine_core(lm), format, &text, &len);
	if (rc < 0)
		return lmemlab_pushfail(L, rc);
	lua_pushlstring(L, text, len);
	memlab_free_text(lmemlab_machine_core(lm), text);
	return 1;
}

static const luaL_Reg trace_machine_methods[] = {
	{ "on", m_on },
	{ "trace", m_trace },
	{ "trace_events", m_trace_events },
	{ "trace_dump", m_trace_dump },
	{ NULL, NULL }
};

struct ltrace *lmemlab_trace_new(lua_Alloc allocf, void *allocud)
{
	struct ltrace *lt = allocf(allocud, NULL, 0, sizeof(*lt));

	if (lt) {
		memset(lt, 0, sizeof(*lt));
		lt->allocf = allocf;
		lt->allocud = allocud;
	}
	return lt;
}

void lmemlab_trace_machine_methods(lua_State *L)
{
	luaL_setfuncs(L, trace_machine_methods, 0);
}
