/* testutil.c - helpers shared by the unit tests (see testutil.h). */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tu_skip(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stdout, "SKIPPED: %s (%s:%d)\n", msg, file, line);
	fprintf(stderr, "SKIPPED: %s (%s:%d)\n", msg, file, line);
	fflush(NULL);
	exit(77);
}

const char *tu_nmap_data_dir(void)
{
	const char *d = getenv("SHARED_NMAP_DATA");
	struct stat st;

	if (!d || !*d)
		TU_SKIP("SHARED_NMAP_DATA is not set (run through ctest)");
	if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
		TU_SKIP("SHARED_NMAP_DATA=%s is not a directory", d);
	return d;
}

char *tu_path(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);

	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, file);
	return p;
}

int tu_read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, got;
	int saved;

	*data = NULL;
	*len = 0;
	if (!f)
		return -1;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536 + 1;
			if (!(nb = realloc(buf, cap)))
				goto fail;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
fail:
	saved = errno ? errno : EIO;
	free(buf);
	fclose(f);
	errno = saved;
	return -1;
}

char *tu_read_nmap_sample(const char *name, size_t *len)
{
	char *path = tu_path(tu_nmap_data_dir(), name);
	char *data;

	if (tu_read_file(path, &data, len) != 0)
		TU_SKIP("cannot read sample %s: %s", path, strerror(errno));
	free(path);
	return data;
}

char *tu_mkdtemp(const char *prefix)
{
	const char *base = getenv("TEST_TMPDIR");
	size_t n;
	char *p;

	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return NULL;
	n = strlen(base) + strlen(prefix) + 9;
	if (!(p = malloc(n)))
		abort();
	snprintf(p, n, "%s/%s.XXXXXX", base, prefix);
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
