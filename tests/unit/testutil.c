/* testutil.c - helpers shared by the unit tests (see testutil.h). */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include "core/buf.h"
#include "core/record.h"

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
	const char *d = getenv("SCANDB_TEST_DATA");
	struct stat st;

	if (!d || !*d)
		TU_SKIP("SCANDB_TEST_DATA is not set (run through ctest)");
	if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
		TU_SKIP("SCANDB_TEST_DATA=%s is not a directory", d);
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

/* ---- records as text, to compare what two code paths delivered --------- */

void tu_dump_str(struct buf *b, const char *k, const char *v)
{
	if ((v ? buf_printf(b, " %s=[%s]", k, v) : buf_printf(b, " %s=NULL", k)) != 0) {
		fprintf(stderr, "tu_dump_str: dump buffer full or out of memory\n");
		abort();
	}
}

void tu_dump_scripts(struct buf *b, const struct rec_script *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_append_str(b, "\n    script");
		tu_dump_str(b, "id", s[i].id);
		tu_dump_str(b, "output", s[i].output);
	}
}

void tu_dump_host(struct buf *b, const struct rec_host *h)
{
	buf_printf(b, "host status=%d ttl=%d start=%lld end=%lld fam=%d up=%lld dist=%d os=%d",
	           (int)h->status, h->reason_ttl, (long long)h->starttime, (long long)h->endtime,
	           h->family, (long long)h->uptime_seconds, h->distance, h->has_os);
	tu_dump_str(b, "reason", h->reason);
	tu_dump_str(b, "addr", h->addr);
	tu_dump_str(b, "mac", h->mac);
	tu_dump_str(b, "vendor", h->mac_vendor);
	tu_dump_str(b, "lastboot", h->lastboot);
	for (size_t i = 0; i < h->nhostnames; i++) {
		buf_append_str(b, "\n  hostname");
		tu_dump_str(b, "name", h->hostnames[i].name);
		tu_dump_str(b, "type", h->hostnames[i].type);
	}
	buf_printf(b, "\n  os acc=%d", h->os.accuracy);
	tu_dump_str(b, "name", h->os.name);
	tu_dump_str(b, "vendor", h->os.vendor);
	tu_dump_str(b, "family", h->os.family);
	tu_dump_str(b, "gen", h->os.gen);
	tu_dump_str(b, "type", h->os.type);
	tu_dump_str(b, "cpe", h->os.cpe);
	for (size_t i = 0; i < h->nosmatches; i++)
		tu_dump_str(b, "osmatch", h->osmatches[i]);
	for (size_t i = 0; i < h->nextraports; i++) {
		buf_printf(b, "\n  extraports state=%d count=%ld", (int)h->extraports[i].state,
		           h->extraports[i].count);
		tu_dump_str(b, "reasons", h->extraports[i].reasons);
	}
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *p = &h->ports[i];

		buf_printf(b, "\n  port %d/%d state=%d ttl=%d svc=%d conf=%d", p->port,
		           (int)p->proto, (int)p->state, p->reason_ttl, p->has_service,
		           p->service.conf);
		tu_dump_str(b, "reason", p->reason);
		tu_dump_str(b, "name", p->service.name);
		tu_dump_str(b, "product", p->service.product);
		tu_dump_str(b, "version", p->service.version);
		tu_dump_str(b, "extrainfo", p->service.extrainfo);
		tu_dump_str(b, "ostype", p->service.ostype);
		tu_dump_str(b, "method", p->service.method);
		tu_dump_str(b, "tunnel", p->service.tunnel);
		for (size_t k = 0; k < p->service.ncpes; k++)
			tu_dump_str(b, "cpe", p->service.cpes[k]);
		tu_dump_scripts(b, p->scripts, p->nscripts);
	}
	buf_append_str(b, "\n  hostscripts");
	tu_dump_scripts(b, h->scripts, h->nscripts);
	buf_append_char(b, '\n');
}
