/* SPDX-License-Identifier: MIT */
/*
 * A snapshot source over the per-shard store (core/store.h): each entry
 * becomes a PUT or TOMBSTONE record carrying the entry's lsn. Kept apart
 * so programs that snapshot something else do not link the store.
 */
#include "core/store.h"
#include "wal/wal.h"

struct store_adapter {
	int (*fn)(void *arg, const struct qr_wal_record *rec);
	void *arg;
};

static int view_to_record(void *arg, const struct qr_store_view *v)
{
	struct store_adapter *a = arg;
	struct qr_wal_record rec = {
		.lsn = v->lsn,
		.type = v->tombstone ? QR_WAL_TOMBSTONE : QR_WAL_PUT,
		.partition = v->partition,
		.version = v->version,
		.key = v->key,
		.key_len = v->key_len,
		.value = v->value,
		.value_len = v->tombstone ? 0 : v->value_len,
	};
	return a->fn(a->arg, &rec);
}

static int store_for_each(void *ctx, uint32_t partition,
			  int (*fn)(void *arg, const struct qr_wal_record *rec),
			  void *arg)
{
	struct store_adapter a = { fn, arg };
	return qr_store_for_each_in_partition(ctx, partition, view_to_record,
					      &a);
}

void qr_wal_snapshot_source_store(struct qr_wal_snapshot_source *src,
				  const struct qr_store *store,
				  uint32_t partitions)
{
	src->ctx = (void *)(uintptr_t)store;
	src->partitions = partitions;
	src->for_each_in_partition = store_for_each;
}
