/*
** replay.c -- run the fuzz target without libFuzzer.
**
**   fuzz_replay FILE|DIR...   feed each file (each file of each directory)
**                             to LLVMFuzzerTestOneInput: replays a crash or
**                             a corpus with any compiler
**   fuzz_replay               feed a fixed set of pseudo-random inputs: the
**                             ctest test that keeps the target exercised in
**                             gcc and sanitizer builds
**   fuzz_replay --generate N LEN [FILE|DIR...]
**                             N such inputs of at most LEN bytes (LEN <= 2048),
**                             then the files: one target's ctest test runs its
**                             seed corpus too
**
** Each target links its own copy (fuzz_replay: fuzz_page_alloc.c,
** fuzz_replay_ops: fuzz_ops.c).
**
** The target abort()s on any finding, so exit status 0 means every input
** passed.
*/
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NR_GENERATED	256
#define MAX_GENERATED	2048

static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp) {
		perror(path);
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? 2 * cap : 4096);

			if (!nb) {
				free(buf);
				fclose(fp);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* A file, or every regular file in a directory (not recursive). */
static int replay_path(const char *path, unsigned *count)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[4096];
	int rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if (!(d = opendir(path))) {
		perror(path);
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
			(*count)++;
			rc = replay_file(sub);
		}
	}
	closedir(d);
	return rc;
}

/* xorshift64*: the fixed inputs are the same on every run and host. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void replay_generated(unsigned *count, unsigned nr, size_t max_len)
{
	static uint8_t buf[MAX_GENERATED];
	uint64_t s = 0x6d656d6c6162ull;	/* "memlab" */
	unsigned i;
	size_t j, len;

	for (i = 0; i < nr; i++) {
		len = 1 + next_random(&s) % max_len;
		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)(next_random(&s) >> 56);
		buf[0] = (uint8_t)i;	/* every machine configuration */
		LLVMFuzzerTestOneInput(buf, len);
		(*count)++;
	}
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int i = 1;

	if (argc < 2)
		replay_generated(&count, NR_GENERATED, MAX_GENERATED);
	if (argc >= 4 && strcmp(argv[1], "--generate") == 0) {
		unsigned long nr = strtoul(argv[2], NULL, 0), len = strtoul(argv[3], NULL, 0);

		if (len < 1 || len > MAX_GENERATED) {
			fprintf(stderr, "fuzz_replay: LEN must be 1..%d\n", MAX_GENERATED);
			return 2;
		}
		replay_generated(&count, (unsigned)nr, len);
		i = 4;
	}
	for (; i < argc; i++)
		if (replay_path(argv[i], &count) != 0)
			return 1;
	printf("fuzz_replay: %u inputs, no finding\n", count);
	return 0;
}
