/*
 * targets.h - the address ranges an nmap command line covers: its target
 * specifications read as inclusive addr_key ranges (core/addr.h), for the
 * history's "gone" rule (a scan covers the addresses it was told to scan).
 * Pure: no I/O.
 *
 * Read: IPv4 and IPv6 addresses, CIDR blocks (10.0.0.0/24, 2001:db8::/64),
 * IPv4 octet ranges (10.0.0.1-20, 10.0.1-3.*, 10.0.0,2.1, 10.0.0.-9),
 * minus the --exclude list.  Not read (no coverage from them): host names,
 * -iL (targets from a file), -iR (random targets), any other form; and
 * with --excludefile nothing at all (what it leaves out is unknown).  The
 * values of the options that take one ("-p 22", "-S 10.0.0.9", "-e eth0",
 * "--script-args ...") are not targets.
 */
#ifndef SDB_CORE_TARGETS_H
#define SDB_CORE_TARGETS_H

#include <stddef.h>

/* An inclusive range of address keys. */
struct addr_range {
	unsigned char lo[16], hi[16];
};

struct targets {
	struct addr_range *v; /* sorted, merged */
	size_t n, cap;
};

/* The ranges covered by nmap arguments argv[0..argc) (options and targets,
 * without the program name), into t (zeroed first; free with
 * targets_free).  0 or SDB_ENOMEM. */
int targets_from_argv(char *const *argv, size_t argc, struct targets *t);
/* The same for a command line as nmap writes it in its XML (<nmaprun
 * args>: the program, then its arguments, separated by spaces). */
int targets_from_cmdline(const char *cmdline, struct targets *t);
/* 1 if key is in one of t's ranges. */
int targets_cover(const struct targets *t, const unsigned char key[16]);
void targets_free(struct targets *t);
/* Narrow *rg to what is left after address `last` (canonical text, inside
 * *rg), to read a range a page at a time: 1, or 0 when nothing is left. */
int addr_range_after(struct addr_range *rg, const char *last);

#endif
