/*
 * process.c - this process's identity (app/process.h): its host name and
 * its worker id "HOSTNAME:PID", each read once.
 */
#include "app/process.h"

#include <stdio.h>
#include <unistd.h>

const char *app_process_hostname(void)
{
	static char name[256];

	if (!name[0] && gethostname(name, sizeof(name) - 1) != 0)
		snprintf(name, sizeof(name), "localhost");
	return name;
}

const char *app_process_worker_id(void)
{
	static char id[300];

	if (!id[0])
		snprintf(id, sizeof(id), "%s:%ld", app_process_hostname(), (long)getpid());
	return id;
}
