/*
 * fuzz_http_params.c - libFuzzer target for what `scandb serve` parses from
 * a request before any handler runs: a host filter's value
 * (host_filter_set, src/app/host_filter.c, the parser of the query
 * parameters port, service, status, net, job, changed_since, new_since), a
 * path's route (http_route_find, src/http/router.c) and a --listen value
 * (http_parse_listen).  The first byte picks which; the rest is the text.
 * Checks their promises: a filter value is taken (port 0-65535, a job id
 * of 1 or more, a CIDR range low <= high) or refused with SDB_EUSAGE and a
 * message; a route is an index of the table or -1, its {} part a
 * NUL-terminated segment without '/'; a listen value parses to a port
 * 0-65535 or is refused.  See fuzz/README.md for how to build and run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/host_filter.h"
#include "core/error.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void filter(int key, const char *v)
{
	struct store_host_filter f = STORE_HOST_FILTER_ANY;
	char msg[256] = "";
	int r = host_filter_set(&f, (enum host_filter_key)key, v, 1700000000, msg, sizeof(msg));

	if (r != 0) {
		if (r != SDB_EUSAGE || !msg[0])
			abort();
		return;
	}
	if (key == HOST_FILTER_PORT && (f.port < 0 || f.port > 65535))
		abort();
	if (key == HOST_FILTER_JOB && f.job_id < 1)
		abort();
	if (key == HOST_FILTER_NET && (!f.has_net || memcmp(f.net_lo, f.net_hi, 16) > 0))
		abort();
}

static void route(const char *path)
{
	static const char *const methods[] = {"GET", "POST", "PATCH", "HEAD", "DELETE"};
	char arg[256];

	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		int allowed = 0, i;

		memset(arg, 'x', sizeof(arg));
		arg[sizeof(arg) - 1] = '\0';
		i = http_route_find(methods[m], path, arg, sizeof(arg), &allowed);
		if (i < -1 || i >= (int)http_nroutes || (i >= 0 && allowed))
			abort();
		if (i >= 0 && strstr(http_routes[i].pattern, "{}") && strchr(arg, '/'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_config cfg;
	char *text;

	if (size < 1)
		return 0;
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 9) {
	case 7:
		route(text);
		break;
	case 8:
		http_config_default(&cfg);
		if (http_parse_listen(text, &cfg) == 0 && (cfg.port < 0 || cfg.port > 65535))
			abort();
		break;
	default:
		filter(data[0] % 9, text);
		break;
	}
	free(text);
	return 0;
}
