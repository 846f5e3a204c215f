/*
 * server.c - `scandb serve`'s daemon (http.h): libmicrohttpd with a thread
 * per connection, its limits (connections, memory per connection, an idle
 * timeout), a watchdog that cuts a client whose request headers are not in
 * within the connection timeout (a slow client sending a byte at a time is
 * never idle, so MHD's own timeout alone would keep it), and the stop on
 * SIGTERM or SIGINT: stop accepting, let the requests in flight finish (up
 * to 10 s), close.
 */
#include "http/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/timeutil.h"

#define DRAIN_SECONDS 10

void http_config_default(struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
	cfg->port = 8080;
	cfg->pool_max = 10;
	cfg->acquire_timeout = 5.0;
	cfg->max_connections = 256;
	cfg->conn_timeout = 10;
	cfg->max_header = 8 * 1024;
	cfg->max_body = 1024 * 1024;
	cfg->max_upload = (size_t)1 << 30;
	cfg->access_log = 1;
	cfg->slow_ms = 500;
}

int http_parse_listen(const char *s, struct http_config *cfg)
{
	const char *colon = strrchr(s, ':'), *host = s, *port = s;
	size_t hl = 0;
	unsigned char buf[16];
	char *end;
	long p;

	if (colon) {
		port = colon + 1;
		hl = (size_t)(colon - s);
		if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
			host++;
			hl -= 2;
		}
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || end == port || *end || p < 0 || p > 65535 || hl >= sizeof(cfg->host))
		return -1;
	if (hl > 0) {
		memcpy(cfg->host, host, hl);
		cfg->host[hl] = '\0';
		if (inet_pton(AF_INET, cfg->host, buf) != 1 &&
		    inet_pton(AF_INET6, cfg->host, buf) != 1)
			return -1;
	}
	cfg->port = (int)p;
	return 0;
}

int http_host_is_loopback(const char *host)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return 0;
}

/* ---- the watchdog of slow clients ------------------------------------------ */

/* One client connection (MHD's socket context). */
struct watch {
	struct watch *next;
	int fd;
	double since;  /* waiting for a request's headers since */
	int receiving; /* 1: its headers are not all in yet */
	int cut;       /* shut down by the watchdog */
};

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watches;

static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct watch *w = *ctx, **pp;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci || !(w = calloc(1, sizeof(*w))))
			return;
		w->fd = ci->connect_fd;
		w->since = time_mono();
		w->receiving = 1;
		pthread_mutex_lock(&watch_mu);
		w->next = watches;
		watches = w;
		pthread_mutex_unlock(&watch_mu);
		*ctx = w;
		return;
	}
	if (!w)
		return;
	pthread_mutex_lock(&watch_mu);
	for (pp = &watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&watch_mu);
	free(w);
	*ctx = NULL;
}

static void set_receiving(struct MHD_Connection *conn, int receiving)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct watch *w = ci ? ci->socket_context : NULL;

	if (!w)
		return;
	pthread_mutex_lock(&watch_mu);
	w->receiving = receiving;
	w->since = time_mono();
	pthread_mutex_unlock(&watch_mu);
}

void http__conn_headers_done(struct MHD_Connection *conn)
{
	set_receiving(conn, 0);
}

void http__conn_request_done(struct MHD_Connection *conn)
{
	set_receiving(conn, 1);
}

/* Shut down every connection whose request headers took longer than
 * `limit` seconds (its thread then sees the socket closed and ends). */
static void watchdog(double limit)
{
	double now = time_mono();

	pthread_mutex_lock(&watch_mu);
	for (struct watch *w = watches; w; w = w->next) {
		if (w->receiving && !w->cut && now - w->since > limit) {
			shutdown(w->fd, SHUT_RDWR);
			w->cut = 1;
		}
	}
	pthread_mutex_unlock(&watch_mu);
}

const char *http_health_word(struct http_server *srv)
{
	struct http_pool_stats ps;
	double now = time_mono();

	http_pool_stats(&srv->pool, &ps);
	if (now - atomic_load(&srv->slow_at) < 60.0 || now - ps.busy_at < 60.0)
		return "degraded";
	return "healthy";
}

/* ---- the daemon ---------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "scandb serve: %s\n", msg);
}

static struct MHD_Daemon *start(struct http_server *srv, const struct sockaddr *sa, int v6)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
	const struct http_config *c = &srv->cfg;
	size_t mem = c->max_header * 4 < 32768 ? 32768 : c->max_header * 4;

	if (v6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(
	    flags, (uint16_t)c->port, NULL, NULL, http__access, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->conn_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_NOTIFY_COMPLETED, http__completed,
	    srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
}

/* Wait for SIGTERM or SIGINT (blocked in every thread), running the
 * watchdog once a second. */
static void wait_for_stop(struct http_server *srv, const sigset_t *set)
{
	struct timespec tick = {1, 0};
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			fprintf(stderr, "scandb serve: %s: stopping (requests in flight finish)\n",
			        sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		watchdog((double)srv->cfg.conn_timeout);
	}
}

/* Stop accepting, give the requests in flight up to DRAIN_SECONDS (a second
 * SIGTERM or SIGINT: no longer), stop.  Signals that came meanwhile are
 * taken, so that none is left pending to kill the process when the mask is
 * restored. */
static void stop(struct http_server *srv, struct MHD_Daemon *d, const sigset_t *set)
{
	double until = time_mono() + DRAIN_SECONDS;
	MHD_socket fd = MHD_quiesce_daemon(d);
	struct timespec ms = {0, 20 * 1000 * 1000}, zero = {0, 0};

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&srv->active) > 0 && time_mono() < until) {
		int sig = sigtimedwait(set, NULL, &ms);

		if (sig == SIGTERM || sig == SIGINT) {
			fprintf(stderr, "scandb serve: stopping now\n");
			break;
		}
	}
	MHD_stop_daemon(d);
	while (sigtimedwait(set, NULL, &zero) > 0)
		;
}

/* The listening address of cfg into *ss (port cfg->port). */
static int listen_addr(const struct http_config *cfg, struct sockaddr_storage *ss, int *v6)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	*v6 = 0;
	if (inet_pton(AF_INET, cfg->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)cfg->port);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)cfg->port);
		*v6 = 1;
		return 0;
	}
	return -1;
}

static int server_init(struct http_server *srv, const struct http_config *cfg, const char *target,
                       char *errmsg, size_t len)
{
	struct store *st = NULL;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = *cfg;
	srv->target = target;
	atomic_init(&srv->active, 0);
	atomic_init(&srv->slow_at, -1e9);
	atomic_init(&srv->slow_total, 0);
	if (store_open_mode(target, 0, &st, errmsg, len) != 0)
		return -1;
	snprintf(srv->backend, sizeof(srv->backend), "%s", store_backend_name(st));
	if (!(srv->metrics = http_metrics_new()) ||
	    http_pool_init(&srv->pool, target, cfg->pool_max, cfg->acquire_timeout) != 0) {
		store_close(st);
		snprintf(errmsg, len, "out of memory");
		return -1;
	}
	/* the connection that checked the database is the pool's first */
	srv->pool.idle[srv->pool.nidle++] = st;
	srv->pool.open = 1;
	return 0;
}

int http_serve(const struct http_config *cfg, const char *target, char *errmsg, size_t len)
{
	struct http_server srv;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *di;
	sigset_t set, old;
	int v6;

	if (listen_addr(cfg, &ss, &v6) != 0) {
		snprintf(errmsg, len, "'%s' is not a numeric IPv4 or IPv6 address", cfg->host);
		return -1;
	}
	if (server_init(&srv, cfg, target, errmsg, len) != 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	if (!(d = start(&srv, (const struct sockaddr *)&ss, v6))) {
		snprintf(errmsg, len,
		         "cannot listen on %s port %d (in use, or not an address of "
		         "this machine?)",
		         cfg->host, cfg->port);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		http_pool_free(&srv.pool);
		http_metrics_free(srv.metrics);
		return -1;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr,
	        "scandb serve: listening on http://%s%s%s:%u/ (%s, pool of %d connections)\n",
	        v6 ? "[" : "", cfg->host, v6 ? "]" : "", di ? di->port : (unsigned)cfg->port,
	        srv.backend, cfg->pool_max);
	wait_for_stop(&srv, &set);
	stop(&srv, d, &set);
	/* SIGTERM and SIGINT stay blocked: one more while the process exits
	 * (a supervisor sending it twice) must not kill it with status 143 */
	http_pool_free(&srv.pool);
	http_metrics_free(srv.metrics);
	fprintf(stderr, "scandb serve: stopped\n");
	return 0;
}
