/*
** main.c -- the memlab command: a Lua 5.4 host with the memlab module
** linked in.
**
**   memlab run FILE.lua [ARGS...]   run a script ('-' reads stdin)
**   memlab lab NAME [ARGS...]       run labs/NAME.lua
**   memlab labs                     list the labs and what each shows
**   memlab --help | --version
**
** require("memlab") finds the linked-in module through package.preload;
** require("memlab.NAME") finds scripts/memlab/NAME.lua under the memlab
** home: $MEMLAB_HOME, else the source tree of this build, else the
** installed data directory.  As in lua.c, everything that can raise runs
** inside one protected call, and an error prints its message with a
** traceback and exits 1.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lmemlab.h"

#define PROGNAME	"memlab"
#define EXIT_USAGE	2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROGNAME " COMMAND [ARGS...]\n"
		"\n"
		"commands:\n"
		"  run FILE.lua [ARGS...]  run a Lua script that can require(\"memlab\")\n"
		"                          ('-' reads the script from stdin)\n"
		"  lab NAME [ARGS...]      run the lab NAME (labs/NAME.lua)\n"
		"  labs                    list the labs with what each one shows\n"
		"  --help                  show this help\n"
		"  --version               print the version\n"
		"\n"
		"A script sees its arguments in the global 'arg' (arg[0] is the\n"
		"script, as in lua5.4).  Labs and the modules memlab.NAME are looked\n"
		"up in $MEMLAB_HOME, else the source tree of this build, else the\n"
		"installed data directory.\n");
}

/* {===================== the memlab home ===================== */

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Where labs/ and the shipped Lua modules live. */
static const char *memlab_home(void)
{
	const char *env = getenv("MEMLAB_HOME");

	if (env && *env)
		return env;
#ifdef MEMLAB_SOURCE_DIR
	if (is_dir(MEMLAB_SOURCE_DIR))
		return MEMLAB_SOURCE_DIR;
#endif
#ifdef MEMLAB_DATA_DIR
	return MEMLAB_DATA_DIR;
#else
	return ".";
#endif
}

/* }===================== */

/* {===================== listing labs ===================== */

struct lab {
	char name[256];
	char desc[256];
};

static int lab_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lab *)a)->name, ((const struct lab *)b)->name);
}

/* The lab's description: its first line, "-- <description>". */
static void read_description(const char *path, char *desc, size_t size)
{
	char line[512];
	char *p;
	size_t n;
	FILE *f = fopen(path, "r");

	desc[0] = '\0';
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		p = line;
		if (strncmp(p, "--", 2) == 0) {
			p += 2;
			while (*p == ' ' || *p == '\t')
				p++;
			n = strlen(p);
			snprintf(desc, size, "%.*s", (int)n, p);
		}
	}
	fclose(f);
}

/* Collect every labs/NAME.lua; returns the count, -1 when dir is missing. */
static int collect_labs(const char *dir, struct lab **out)
{
	struct lab *labs = NULL, *grown;
	size_t nr = 0, cap = 0, len;
	struct dirent *de;
	char path[4096 + 512];
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 4 || len - 4 >= sizeof(labs->name) || de->d_name[0] == '.' ||
		    strcmp(de->d_name + len - 4, ".lua") != 0)
			continue;
		if (nr == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(labs, cap * sizeof(*labs));
			if (!grown)
				break;
			labs = grown;
		}
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		memcpy(labs[nr].name, de->d_name, len - 4);
		labs[nr].name[len - 4] = '\0';
		read_description(path, labs[nr].desc, sizeof(labs[nr].desc));
		nr++;
	}
	closedir(d);
	if (nr > 0)
		qsort(labs, nr, sizeof(*labs), lab_cmp);
	*out = labs;
	return (int)nr;
}

/* memlab labs: one line per lab, "NAME  description", sorted by name. */
static int list_labs(void)
{
	char dir[4096];
	struct lab *labs = NULL;
	int nr, width = 0;

	snprintf(dir, sizeof(dir), "%s/labs", memlab_home());
	nr = collect_labs(dir, &labs);
	if (nr < 0) {
		fprintf(stderr, PROGNAME ": no labs directory at %s\n", dir);
		return EXIT_FAILURE;
	}
	for (int i = 0; i < nr; i++)
		if ((int)strlen(labs[i].name) > width)
			width = (int)strlen(labs[i].name);
	for (int i = 0; i < nr; i++)
		if (labs[i].desc[0])
			printf("%-*s  %s\n", width, labs[i].name, labs[i].desc);
		else
			printf("%s\n", labs[i].name);
	free(labs);
	return EXIT_SUCCESS;
}

/* }===================== */

/* {===================== running Lua ===================== */

/* The message handler: the error message with a traceback (lua.c). */
static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") &&
		    lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)",
				      luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Call the function below narg arguments with the message handler. */
static int docall(lua_State *L, int narg)
{
	int base = lua_gettop(L) - narg;
	int status;

	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	status = lua_pcall(L, narg, 0, base);
	lua_remove(L, base);
	return status;
}

/* Prepend the memlab home's module directories to package.path. */
static void set_path(lua_State *L, const char *home)
{
	char scripts[4096];

	snprintf(scripts, sizeof(scripts), "%s/scripts", home);
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	if (is_dir(scripts))	/* a source tree: scripts/memlab/NAME.lua */
		lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", scripts,
				scripts, lua_tostring(L, -1));
	else			/* installed: <datadir>/memlab/memlab/NAME.lua */
		lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", home, home,
				lua_tostring(L, -1));
	lua_setfield(L, -3, "path");
	lua_pop(L, 2);
}

/* The global arg: arg[0] = script, arg[1..] = its arguments (lua.c). */
static void create_arg(lua_State *L, char **argv, int argc, int script,
		       const char *script_path)
{
	lua_createtable(L, argc - script - 1, script + 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, i == script ? script_path : argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
}

/* Load and run path (NULL: stdin) with argv[script + 1..] as its '...'. */
static int run_script(lua_State *L, const char *path, char **argv, int argc,
		      int script)
{
	int status, narg = argc - script - 1;

	create_arg(L, argv, argc, script, path ? path : "-");
	status = luaL_loadfile(L, path);
	if (status != LUA_OK)
		return status;
	luaL_checkstack(L, narg + 3, "too many arguments to script");
	for (int i = script + 1; i < argc; i++)
		lua_pushstring(L, argv[i]);
	return docall(L, narg);
}

/* Is name a plain lab name (no path separators or dots)? */
static int valid_lab_name(const char *name)
{
	if (!*name)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

struct job {
	int argc;
	char **argv;
	int ok;		/* set by pmain */
};

/* Everything that can raise: open libraries, preload memlab, run. */
static int pmain(lua_State *L)
{
	struct job *job = lua_touserdata(L, 1);
	const char *home = memlab_home();
	const char *cmd = job->argv[1];
	const char *path;
	int status;

	luaL_checkversion(L);
	luaL_openlibs(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_memlab);
	lua_setfield(L, -2, "memlab");
	lua_pop(L, 1);
	set_path(L, home);
	if (strcmp(cmd, "run") == 0) {
		path = strcmp(job->argv[2], "-") == 0 ? NULL : job->argv[2];
	} else {
		if (!valid_lab_name(job->argv[2]))
			return luaL_error(L, "invalid lab name '%s'", job->argv[2]);
		path = lua_pushfstring(L, "%s/labs/%s.lua", home, job->argv[2]);
		if (!is_file(path))
			return luaL_error(L, "no lab named '%s' in %s/labs "
					  "(see '" PROGNAME " labs')",
					  job->argv[2], home);
	}
	status = run_script(L, path, job->argv, job->argc, 2);
	if (status != LUA_OK)
		return lua_error(L);
	job->ok = 1;
	return 0;
}

/* }===================== */

int main(int argc, char **argv)
{
	struct job job = { argc, argv, 0 };
	const char *cmd = argc > 1 ? argv[1] : NULL;
	lua_State *L;
	int status;

	if (cmd && (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
		    strcmp(cmd, "help") == 0)) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (cmd && (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-v") == 0 ||
		    strcmp(cmd, "version") == 0)) {
		printf(PROGNAME " %s\n", MEMLAB_VERSION_STRING);
		return EXIT_SUCCESS;
	}
	if (cmd && strcmp(cmd, "labs") == 0 && argc == 2)
		return list_labs();
	if (!cmd || (strcmp(cmd, "run") != 0 && strcmp(cmd, "lab") != 0) ||
	    argc < 3) {
		if (cmd && strcmp(cmd, "run") != 0 && strcmp(cmd, "lab") != 0 &&
		    strcmp(cmd, "labs") != 0)
			fprintf(stderr, PROGNAME ": unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	L = luaL_newstate();
	if (!L) {
		fprintf(stderr, PROGNAME ": cannot create the Lua state: not enough memory\n");
		return EXIT_FAILURE;
	}
	lua_pushcfunction(L, pmain);
	lua_pushlightuserdata(L, &job);
	status = lua_pcall(L, 1, 0, 0);
	if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);

		fprintf(stderr, PROGNAME ": %s\n", msg ? msg : "(error object is not a string)");
		fflush(stderr);
	}
	lua_close(L);
	return status == LUA_OK && job.ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
