/*
 * pg_values.c - values to and from PostgreSQL for the whole backend, in
 * text form: statement parameters (store__pg_p_*), result columns
 * (store__pg_i64, _opt, _dup), addresses and addr_keys as text, and the
 * fields of COPY text rows (store__pg_f_*: escaping, \N, times as
 * "YYYY-MM-DD HH:MM:SS+00").  Nothing here talks to the server.
 */
#include "store/pg/pg_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

/* ---- parameters ------------------------------------------------------- */

static void p_set(struct pg_params *p, const char *v)
{
	if (p->n < PG_MAX_PARAMS)
		p->v[p->n] = v;
	p->n++;
}

void store__pg_p_text(struct pg_params *p, const char *v)
{
	p_set(p, v);
}

void store__pg_p_int(struct pg_params *p, int64_t v)
{
	if (p->n < PG_MAX_PARAMS) {
		snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)v);
		p_set(p, p->num[p->n]);
	} else {
		p->n++;
	}
}

void store__pg_p_opt(struct pg_params *p, long v)
{
	if (v < 0)
		p_set(p, NULL);
	else
		store__pg_p_int(p, v);
}

void store__pg_p_time(struct pg_params *p, int64_t t)
{
	if (t == 0)
		p_set(p, NULL);
	else
		store__pg_p_int(p, t);
}

void store__pg_p_double(struct pg_params *p, double v)
{
	if (v < 0 || p->n >= PG_MAX_PARAMS) {
		p_set(p, NULL);
		return;
	}
	snprintf(p->num[p->n], sizeof(p->num[0]), "%.17g", v);
	p_set(p, p->num[p->n]);
}

/* ---- results ------------------------------------------------------------ */

int64_t store__pg_i64(const PGresult *r, int row, int col)
{
	const char *v = store__pg_col(r, row, col);

	return v ? (int64_t)strtoll(v, NULL, 10) : 0;
}

long store__pg_opt(const PGresult *r, int row, int col)
{
	const char *v = store__pg_col(r, row, col);

	return v ? strtol(v, NULL, 10) : -1;
}

char *store__pg_dup(const PGresult *r, int row, int col, int *oom)
{
	const char *v = store__pg_col(r, row, col);
	char *c;

	if (!v)
		return NULL;
	if (!(c = strdup(v)))
		*oom = 1;
	return c;
}

int store__pg_addr_text(const char *hex, int family, char out[64])
{
	unsigned char key[16];

	out[0] = '\0';
	if (!hex || strlen(hex) != 32)
		return SDB_EDB;
	for (int i = 0; i < 16; i++) {
		int hi = store__hexval(hex[2 * i]), lo = store__hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return SDB_EDB;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	if (family == 4 ? !inet_ntop(AF_INET, key + 12, out, 64)
	                : !inet_ntop(AF_INET6, key, out, 64))
		return SDB_EDB;
	return 0;
}

void store__pg_key_hex(const unsigned char key[16], char out[35])
{
	static const char digits[] = "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'x';
	for (int i = 0; i < 16; i++) {
		out[2 + 2 * i] = digits[key[i] >> 4];
		out[3 + 2 * i] = digits[key[i] & 15];
	}
	out[34] = '\0';
}

/* ---- COPY text fields ------------------------------------------------------------ */

static int sep(struct buf *b, int first)
{
	return first ? 0 : buf_append_char(b, '\t');
}

int store__pg_f_text(struct buf *b, int first, const char *v)
{
	int r;

	if ((r = sep(b, first)) != 0)
		return r;
	if (!v)
		return buf_append(b, "\\N", 2);
	for (;;) {
		size_t n = strcspn(v, "\\\t\n\r");
		const char *e = NULL;

		if (n && (r = buf_append(b, v, n)) != 0)
			return r;
		switch (v[n]) {
		case '\0':
			return 0;
		case '\\':
			e = "\\\\";
			break;
		case '\t':
			e = "\\t";
			break;
		case '\n':
			e = "\\n";
			break;
		default:
			e = "\\r";
			break;
		}
		if ((r = buf_append(b, e, 2)) != 0)
			return r;
		v += n + 1;
	}
}

int store__pg_f_int(struct buf *b, int first, int64_t v)
{
	char tmp[24];
	int n, r;

	if ((r = sep(b, first)) != 0)
		return r;
	n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	return buf_append(b, tmp, (size_t)n);
}

int store__pg_f_opt(struct buf *b, int first, long v)
{
	if (v < 0) {
		int r = sep(b, first);
		return r ? r : buf_append(b, "\\N", 2);
	}
	return store__pg_f_int(b, first, v);
}

/* Unix seconds as "YYYY-MM-DD HH:MM:SS+00" (days from civil, H. Hinnant). */
static size_t format_time(int64_t t, char *out)
{
	int64_t days = t / 86400, secs = t % 86400, z, era, y;
	unsigned doe, yoe, doy, mp, d, m;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 1 || y > 9999)
		return (size_t)snprintf(out, 40, "%lld-%02u-%02u %02d:%02d:%02d+00%s",
		                        (long long)(y < 1 ? 1 - y : y), m, d, (int)(secs / 3600),
		                        (int)(secs / 60 % 60), (int)(secs % 60),
		                        y < 1 ? " BC" : "");
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = ' ';
	out[11] = (char)('0' + secs / 36000);
	out[12] = (char)('0' + secs / 3600 % 10);
	out[13] = ':';
	out[14] = (char)('0' + secs / 60 % 60 / 10);
	out[15] = (char)('0' + secs / 60 % 10);
	out[16] = ':';
	out[17] = (char)('0' + secs % 60 / 10);
	out[18] = (char)('0' + secs % 10);
	memcpy(out + 19, "+00", 3);
	return 22;
}

int store__pg_f_time(struct buf *b, int first, int64_t t)
{
	char tmp[48];
	int r;

	if ((r = sep(b, first)) != 0)
		return r;
	if (t == 0)
		return buf_append(b, "\\N", 2);
	return buf_append(b, tmp, format_time(t, tmp));
}

int store__pg_f_ts(struct buf *b, int first, int64_t t)
{
	char tmp[48];
	int r;

	if ((r = sep(b, first)) != 0)
		return r;
	return buf_append(b, tmp, format_time(t, tmp));
}

int store__pg_f_nz(struct buf *b, int first, int64_t v)
{
	if (v == 0) {
		int r = sep(b, first);
		return r ? r : buf_append(b, "\\N", 2);
	}
	return store__pg_f_int(b, first, v);
}
