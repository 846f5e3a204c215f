/*
 * fuzz_port_state_doc.c - libFuzzer target for the reader of the port state
 * document (host_state.ports, src/store/store_json.c), which the job
 * writer reads back from the database for every scanned host.  Checks its
 * promises: any input is read whole or refused with SDB_EDB; what it reads,
 * written again and read again, is the same document.
 * See fuzz/README.md for how to build and run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "history/events.h"
#include "store/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_host h, again;
	struct buf b, b2;
	int r;

	ev_host_init(&h);
	r = store__port_state_read((const char *)data, size, &h);
	if (r != 0 && r != SDB_EDB && r != SDB_ENOMEM)
		abort();
	if (r == 0) {
		buf_init(&b, (size_t)1 << 26);
		buf_init(&b2, (size_t)1 << 26);
		ev_host_init(&again);
		if (store__port_state_doc(&h, &b) != 0 ||
		    store__port_state_read(b.data, b.len, &again) != 0 ||
		    store__port_state_doc(&again, &b2) != 0 || b.len != b2.len ||
		    memcmp(b.data, b2.data, b.len) != 0)
			abort();
		ev_host_free(&again);
		buf_free(&b);
		buf_free(&b2);
	}
	ev_host_free(&h);
	return 0;
}
