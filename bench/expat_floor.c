/*
 * expat_floor.c - the parsing floor for bench/import.sh: a bare expat pass
 * over a file that only counts <port> elements.  scandb's import (parse,
 * validate, store) is measured against this.
 */
#include <expat.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	if (strcmp(name, "port") == 0)
		++*(unsigned long *)ud;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	unsigned long ports = 0;
	XML_Parser p;
	ssize_t n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE.xml\n", argv[0]);
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY)) < 0) {
		perror(argv[1]);
		return 1;
	}
	p = XML_ParserCreate(NULL);
	XML_SetUserData(p, &ports);
	XML_SetStartElementHandler(p, on_start);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (XML_Parse(p, buf, (int)n, 0) == XML_STATUS_ERROR)
			goto bad;
	}
	if (n < 0 || XML_Parse(p, buf, 0, 1) == XML_STATUS_ERROR)
		goto bad;
	printf("%lu\n", ports);
	XML_ParserFree(p);
	close(fd);
	return 0;
bad:
	fprintf(stderr, "%s:%lu: %s\n", argv[1], (unsigned long)XML_GetCurrentLineNumber(p),
	        XML_ErrorString(XML_GetErrorCode(p)));
	XML_ParserFree(p);
	return 1;
}
