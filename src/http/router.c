/*
 * router.c - the routes of `scandb serve` (http_int.h): each path pattern
 * with its method, its metrics label, whether it needs the database, the
 * scope it needs, and its handler.  A pattern's "{}" matches one path
 * segment (an id, an address), handed to the handler as rq->arg.
 */
#include "http/http_int.h"

#include <string.h>

/* auth: 0 none, else enum token_scope + 1 */
#define READ  (TOKEN_READ + 1)
#define WRITE (TOKEN_WRITE + 1)
#define ADMIN (TOKEN_ADMIN + 1)

const struct http_route http_routes[] = {
    {"GET", "/healthz", "/healthz", 0, 0, http_api_healthz, 0},
    {"GET", "/readyz", "/readyz", 1, 0, http_api_readyz, 0},
    {"GET", "/api/v1/openapi.json", "/api/v1/openapi.json", 0, 0, http_api_openapi, 0},
    {"GET", "/metrics", "/metrics", 1, READ, http_api_metrics, 0},
    {"GET", "/api/v1/database/health", "/api/v1/database/health", 1, READ, http_api_db_health, 0},
    {"GET", "/api/v1/database/migrations", "/api/v1/database/migrations", 1, READ,
     http_api_db_migrations, 0},
    {"GET", "/api/v1/database/stats", "/api/v1/database/stats", 1, READ, http_api_db_stats, 0},
    {"GET", "/api/v1/hosts", "/api/v1/hosts", 1, READ, http_api_hosts, 0},
    {"GET", "/api/v1/hosts/{}", "/api/v1/hosts/{addr}", 1, READ, http_api_host, 0},
    {"GET", "/api/v1/jobs", "/api/v1/jobs", 1, READ, http_api_jobs, 0},
    {"GET", "/api/v1/jobs/{}", "/api/v1/jobs/{id}", 1, READ, http_api_job, 0},
    {"GET", "/api/v1/changes", "/api/v1/changes", 1, READ, http_api_changes, 0},
    {"GET", "/api/v1/findings", "/api/v1/findings", 1, READ, http_api_findings, 0},
    {"GET", "/api/v1/findings/{}", "/api/v1/findings/{id}", 1, READ, http_api_finding, 0},
    {"GET", "/api/v1/diff", "/api/v1/diff", 1, READ, http_api_diff, 0},
    {"GET", "/api/v1/tokens", "/api/v1/tokens", 1, ADMIN, http_api_tokens, 0},
    {"PATCH", "/api/v1/findings/{}", "/api/v1/findings/{id}", 1, WRITE, http_api_finding_patch,
     HTTP_BODY_KEEP},
    {"GET", "/api/v1/hosts/{}/history", "/api/v1/hosts/{addr}/history", 1, READ,
     http_api_host_history, 0},
    {"POST", "/api/v1/imports", "/api/v1/imports", 1, WRITE, http_api_imports, HTTP_BODY_SPOOL},
};
const size_t http_nroutes = sizeof(http_routes) / sizeof(http_routes[0]);

/* Does path match pattern?  The "{}" segment is copied to arg. */
static int match(const char *pattern, const char *path, char *arg, size_t arglen)
{
	const char *brace = strstr(pattern, "{}");
	size_t pre, seg;

	if (!brace)
		return strcmp(pattern, path) == 0;
	pre = (size_t)(brace - pattern);
	if (strncmp(pattern, path, pre) != 0)
		return 0;
	path += pre;
	seg = strcspn(path, "/");
	if (seg == 0 || seg >= arglen || strcmp(brace + 2, path + seg) != 0)
		return 0;
	memcpy(arg, path, seg);
	arg[seg] = '\0';
	return 1;
}

int http_route_find(const char *method, const char *path, char *arg, size_t arglen, int *allowed)
{
	*allowed = 0;
	for (size_t i = 0; i < http_nroutes; i++) {
		if (!match(http_routes[i].pattern, path, arg, arglen))
			continue;
		if (strcmp(http_routes[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(http_routes[i].method, "GET") == 0)) {
			*allowed = 0;
			return (int)i;
		}
		*allowed = 1;
	}
	return -1;
}
