/*
 * http.h - `scandb serve`, the HTTP API (docs/API.md): what the CLI's
 * cmd_serve.c sets and calls.  The server (server.c) answers on one
 * address until SIGTERM or SIGINT; every endpoint calls app/ use cases and
 * the store's read API, never SQL.
 */
#ifndef SDB_HTTP_HTTP_H
#define SDB_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct http_config {
	char host[64]; /* a numeric IPv4 or IPv6 address */
	int port;
	int no_auth;            /* every request allowed (loopback only) */
	int pool_max;           /* database connections, at most */
	double acquire_timeout; /* seconds a request waits for one: then 503 */
	int max_connections;    /* open client connections, at most */
	int conn_timeout;       /* seconds a connection may stay silent */
	size_t max_header;      /* bytes of request line and headers: 413 beyond */
	size_t max_body;        /* bytes of a request body: 413 beyond */
	size_t max_upload;      /* bytes of an uploaded scan (POST imports) */
	int access_log;         /* one line per request on stderr */
	int slow_ms;            /* a request slower is logged (route, time) */
};
/* The defaults: 127.0.0.1:8080, pool 10, 5 s acquire timeout, 256
 * connections, 10 s, 8 KiB of headers, 1 MiB of body, 1 GiB of upload,
 * access log on, slow requests from 500 ms. */
void http_config_default(struct http_config *cfg);

/* Parse "ADDR:PORT", "[V6]:PORT", ":PORT" or "PORT" into cfg; 0 or -1. */
int http_parse_listen(const char *s, struct http_config *cfg);
/* 1 if cfg->host is a loopback address (127.0.0.0/8, ::1). */
int http_host_is_loopback(const char *host);

/*
 * Serve the database `target` (its schema checked current by the caller)
 * until SIGTERM or SIGINT: then stop accepting, let requests in flight
 * finish (up to 10 s), close.  Prints "scandb serve: listening on
 * http://ADDR:PORT/" on stderr once listening (with the actual port when
 * cfg->port is 0).  Returns 0 after a clean stop (SIGTERM and SIGINT then
 * stay blocked in this thread: the caller exits), or -1 (errmsg[len] says
 * why: the address is in use, ...).
 */
int http_serve(const struct http_config *cfg, const char *target, char *errmsg, size_t len);

#endif
