/*
 * addr.h - IP addresses, CIDR blocks and port lists, as users and nmap
 * write them.  Pure functions, no I/O.
 *
 * An address key is 16 bytes: the IPv6 address, or ::ffff:a.b.c.d for IPv4,
 * so that memcmp() order is numeric order and a CIDR block is one
 * inclusive [lo, hi] key range.
 */
#ifndef SDB_CORE_ADDR_H
#define SDB_CORE_ADDR_H

#include <stddef.h>

#include "core/record.h"

#define ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Parse an IPv4 or IPv6 address; write its canonical text (inet_ntop form)
 * to out[ADDR_TEXT_MAX], its family (4/6) and key.  Any out may be NULL.
 * Returns 0 or SDB_EPARSE. */
int addr_parse(const char *s, char *out, int *family, unsigned char key[16]);

/* Parse "a.b.c.d/n", "v6/n" or a bare address (= /32, /128) into an
 * inclusive key range.  Returns 0 or SDB_EPARSE. */
int addr_cidr_parse(const char *s, unsigned char lo[16], unsigned char hi[16]);

/* Parse and canonicalise a MAC address to upper-case "AA:BB:CC:DD:EE:FF"
 * into out[18].  Returns 0 or SDB_EPARSE. */
int addr_mac_parse(const char *s, char out[18]);

/* A port list such as nmap's scaninfo services "1-1000,1025,T:80,U:53":
 * sorted, merged inclusive ranges. */
struct portlist {
	struct portrange {
		int lo, hi;
	} * r;
	size_t n;
};

/* Parse "1-1000,1025,2000-" style lists (nmap syntax, without protocol
 * prefixes).  Each port must be 0-65535.  Result is sorted and merged.
 * Free with portlist_free().  Returns 0, SDB_EPARSE or SDB_ENOMEM. */
int portlist_parse(const char *s, struct portlist *out);
int portlist_contains(const struct portlist *pl, int port);
/* Merge `add` into `pl`. */
int portlist_merge(struct portlist *pl, const struct portlist *add);
/* Canonical text "1-1000,1025" (malloc'ed; free()).  NULL on ENOMEM. */
char *portlist_format(const struct portlist *pl);
size_t portlist_count(const struct portlist *pl);
void portlist_free(struct portlist *pl);

/* Parse a user's port selector "443", "443/tcp", "53/udp".  Protocol
 * defaults to -1 (any).  Returns 0 or SDB_EPARSE. */
int addr_port_spec_parse(const char *s, int *port, int *proto);

#endif
