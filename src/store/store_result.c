/*
 * store_result.c - freeing the owned query results of store.h (struct
 * store_host, struct store_job).  Backend-independent: every backend fills
 * these structs with malloc'ed copies that these functions release.
 */
#include "store/store.h"

#include <stdlib.h>

static void scripts_free(struct store_script *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].output);
	}
	free(v);
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void port_free_fields(struct store_port *p)
{
	free(p->protocol);
	free(p->state);
	free(p->reason);
	free(p->service);
	free(p->product);
	free(p->version);
	free(p->extrainfo);
	free(p->ostype);
	free(p->method);
	free(p->tunnel);
	strings_free(p->cpes, p->ncpes);
	scripts_free(p->scripts, p->nscripts);
}

void store_host_free(struct store_host *h)
{
	if (!h)
		return;
	free(h->addr);
	free(h->status);
	free(h->reason);
	strings_free(h->hostnames, h->nhostnames);
	free(h->mac);
	free(h->mac_vendor);
	free(h->os);
	free(h->os_family);
	free(h->os_vendor);
	free(h->os_gen);
	free(h->os_type);
	free(h->os_cpe);
	free(h->lastboot);
	for (size_t i = 0; i < h->nports; i++)
		port_free_fields(&h->ports[i]);
	free(h->ports);
	for (size_t i = 0; i < h->nextraports; i++) {
		free(h->extraports[i].state);
		free(h->extraports[i].reasons);
	}
	free(h->extraports);
	scripts_free(h->scripts, h->nscripts);
	free(h);
}

void store_job_free(struct store_job *j)
{
	if (!j)
		return;
	free(j->kind);
	free(j->source);
	free(j->status);
	free(j->args);
	free(j->scanner);
	free(j->scanner_version);
	free(j->worker_id);
	free(j->error);
	free(j->content_hash);
	free(j->probed_scope);
	free(j);
}

void store_event_free(struct store_event *e)
{
	if (!e)
		return;
	free(e->addr);
	free(e->kind);
	free(e->protocol);
	free(e->detail);
	free(e->old_value);
	free(e->new_value);
	free(e);
}
