/* outfile.c - a file published by rename when complete (see outfile.h). */
#include "core/outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void outfile_clear(struct outfile *o)
{
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
}

int outfile_open(struct outfile *o, const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	mode_t um;
	int fd;

	memset(o, 0, sizeof(*o));
	if (n == 0) {
		snprintf(err, errlen, "cannot write '': no file name");
		return -1;
	}
	if (!(o->path = strdup(path)) || !(o->tmp = malloc(n + 12))) {
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		outfile_clear(o);
		return -1;
	}
	snprintf(o->tmp, n + 12, "%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(o->tmp)) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		outfile_clear(o);
		return -1;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) != 0 || !(o->f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(o->tmp);
		outfile_clear(o);
		return -1;
	}
	return 0;
}

int outfile_commit(struct outfile *o, char *err, size_t errlen)
{
	int bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
	int e = errno;

	if (fclose(o->f) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	o->f = NULL;
	if (!bad && rename(o->tmp, o->path) != 0) {
		bad = 1;
		e = errno;
	}
	if (bad) {
		snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(e ? e : EIO));
		unlink(o->tmp);
	}
	outfile_clear(o);
	return bad ? -1 : 0;
}

void outfile_abort(struct outfile *o)
{
	if (o->f)
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	outfile_clear(o);
}
