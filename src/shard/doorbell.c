/* SPDX-License-Identifier: MIT */
/*
 * Doorbells: see doorbell.h (B1-B4). The board is a file, not POSIX shm,
 * so it lives (and is cleaned up) with the cluster's run directory, where
 * the memif sockets are; its first line is a header that says what it is.
 * Nothing here runs per packet except the inline fast path of
 * qr_bell_ring; the slow path is one sendto per sleep of the peer.
 */
#include "shard/doorbell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorate/err.h"
#include "quorate/limits.h"

#define BOARD_MAGIC "QRBELL01"

struct board_header {
	char magic[8];
	uint32_t rows, shards, slot_bytes;
	uint8_t pad[44];
};

struct qr_bell_board {
	void *map;
	size_t len;
	char prefix[QR_BELL_PREFIX_MAX + 1];
};

_Static_assert(sizeof(struct qr_bell_slot) == 64, "one line per flag");
_Static_assert(QR_BELL_SHARDS >= QR_SHARDS_MAX, "a slot per shard");
_Static_assert(sizeof(struct board_header) == 64, "header is one line");

static size_t board_bytes(void)
{
	return sizeof(struct board_header) +
	       (size_t)QR_BELL_ROWS * QR_BELL_SHARDS *
		       sizeof(struct qr_bell_slot);
}

static struct qr_bell_slot *slot_of(struct qr_bell_board *b, unsigned row,
				    unsigned shard)
{
	struct qr_bell_slot *s =
		(struct qr_bell_slot *)((char *)b->map +
					sizeof(struct board_header));
	return &s[(size_t)row * QR_BELL_SHARDS + shard];
}

static int prefix_ok(const char *prefix, char *why, size_t why_len)
{
	if (!prefix || !prefix[0] || strlen(prefix) > QR_BELL_PREFIX_MAX) {
		snprintf(why, why_len,
			 "doorbell prefix empty or over %d bytes (it names "
			 "UNIX sockets)",
			 QR_BELL_PREFIX_MAX);
		return QR_EINVAL;
	}
	return 0;
}

static bool header_blank(const struct board_header *h)
{
	static const struct board_header zero;
	return !memcmp(h, &zero, sizeof(zero));
}

/* Under the flock: a new (empty) file gets its size and header, as does
 * one of the right size whose header was never written (a crash between
 * the two); an existing one must carry ours (B3, B4). It must be a
 * regular file of ours that nobody else may write: whoever can write it
 * can hold flags up (a sendto per burst everywhere) or down (every wake
 * a timeout). */
static int board_init(int fd, const char *path, char *why, size_t why_len)
{
	struct stat st;
	if (fstat(fd, &st)) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return QR_EIO;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, why_len,
			 "%s: not a regular file of this user, writable by "
			 "it alone",
			 path);
		return QR_ECONFIG;
	}
	struct board_header h;
	if ((size_t)st.st_size == board_bytes() &&
	    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    header_blank(&h))
		st.st_size = 0; /* size set, header not yet: write it */
	if (st.st_size == 0) {
		memset(&h, 0, sizeof(h));
		memcpy(h.magic, BOARD_MAGIC, 8);
		h.rows = QR_BELL_ROWS;
		h.shards = QR_BELL_SHARDS;
		h.slot_bytes = sizeof(struct qr_bell_slot);
		if (ftruncate(fd, (off_t)board_bytes()) ||
		    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
			snprintf(why, why_len, "%s: %s", path, strerror(errno));
			return QR_EIO;
		}
		return 0;
	}
	if ((size_t)st.st_size != board_bytes() ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, BOARD_MAGIC, 8) || h.rows != QR_BELL_ROWS ||
	    h.shards != QR_BELL_SHARDS ||
	    h.slot_bytes != sizeof(struct qr_bell_slot)) {
		snprintf(why, why_len,
			 "%s: not a doorbell board of this layout (remove it "
			 "with the cluster stopped)",
			 path);
		return QR_ECONFIG;
	}
	return 0;
}

int qr_bell_board_open(const char *prefix, struct qr_bell_board **out,
		       char *why, size_t why_len)
{
	*out = NULL;
	int rc = prefix_ok(prefix, why, why_len);
	if (rc)
		return rc;
	char path[QR_BELL_PREFIX_MAX + 16];
	snprintf(path, sizeof(path), "%s.board", prefix);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return QR_EIO;
	}
	if (flock(fd, LOCK_EX)) {
		snprintf(why, why_len, "%s: flock: %s", path, strerror(errno));
		close(fd);
		return QR_EIO;
	}
	rc = board_init(fd, path, why, why_len);
	void *map = MAP_FAILED;
	if (!rc) {
		map = mmap(NULL, board_bytes(), PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			snprintf(why, why_len, "%s: mmap: %s", path,
				 strerror(errno));
			rc = QR_EIO;
		}
	}
	/* Unlock by hand: the mapping holds the open file description, and
	 * an flock lasts as long as it does, not as long as fd. */
	(void)flock(fd, LOCK_UN);
	close(fd);
	if (rc)
		return rc;
	struct qr_bell_board *b = calloc(1, sizeof(*b));
	if (!b) {
		munmap(map, board_bytes());
		snprintf(why, why_len, "out of memory");
		return QR_ENOMEM;
	}
	b->map = map;
	b->len = board_bytes();
	snprintf(b->prefix, sizeof(b->prefix), "%s", prefix);
	*out = b;
	return 0;
}

void qr_bell_board_close(struct qr_bell_board *b)
{
	if (!b)
		return;
	munmap(b->map, b->len);
	free(b);
}

static int bell_addr(const char *prefix, unsigned row, unsigned shard,
		     struct sockaddr_un *a, socklen_t *len, char *why,
		     size_t why_len)
{
	int rc = prefix_ok(prefix, why, why_len);
	if (rc)
		return rc;
	if (row >= QR_BELL_ROWS || shard >= QR_BELL_SHARDS) {
		snprintf(why, why_len, "doorbell (%u, %u) is not on the board",
			 row, shard);
		return QR_EINVAL;
	}
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int l = snprintf(a->sun_path, sizeof(a->sun_path), "%s-%u-%u.sock",
			 prefix, row, shard);
	if (l < 0 || (size_t)l >= sizeof(a->sun_path)) {
		snprintf(why, why_len, "doorbell path too long");
		return QR_EINVAL;
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			   (size_t)l + 1);
	return 0;
}

int qr_bell_listen(struct qr_bell_board *b, unsigned row, unsigned shard,
		   struct qr_bell *out, char *why, size_t why_len)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	struct sockaddr_un a;
	socklen_t len;
	int rc = bell_addr(b->prefix, row, shard, &a, &len, why, why_len);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return QR_EIO;
	}
	struct stat st;
	if (lstat(a.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(a.sun_path); /* a crashed run's */
	if (bind(fd, (struct sockaddr *)&a, len)) {
		snprintf(why, why_len, "bind %s: %s", a.sun_path,
			 strerror(errno));
		close(fd);
		return QR_EIO;
	}
	out->slot = slot_of(b, row, shard);
	out->fd = fd;
	memcpy(out->path, a.sun_path, sizeof(out->path));
	out->ino = lstat(a.sun_path, &st) == 0 ? st.st_ino : 0;
	atomic_store_explicit(&out->slot->asleep, 0, memory_order_relaxed);
	return 0;
}

void qr_bell_unlisten(struct qr_bell *bell)
{
	if (bell->fd < 0)
		return;
	qr_bell_disarm(bell);
	close(bell->fd);
	/* Only our own socket file: a restarted process may have bound the
	 * same path since (its bell would go deaf). */
	struct stat st;
	if (lstat(bell->path, &st) == 0 && st.st_ino == bell->ino)
		(void)unlink(bell->path);
	bell->fd = -1;
}

unsigned qr_bell_drain(struct qr_bell *bell)
{
	unsigned n = 0;
	char buf[64];
	while (recv(bell->fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

int qr_bell_ringer_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? QR_EIO : fd;
}

int qr_bell_target_init(struct qr_bell_board *b, unsigned row,
			unsigned shard, int fd, struct qr_bell_target *t,
			char *why, size_t why_len)
{
	memset(t, 0, sizeof(*t));
	int rc = bell_addr(b->prefix, row, shard, &t->addr, &t->addr_len, why,
			   why_len);
	if (rc)
		return rc;
	t->slot = slot_of(b, row, shard);
	t->fd = fd;
	return 0;
}

void qr_bell_ring_slow(struct qr_bell_target *t)
{
	/* B2: only the ringer that swaps 1 -> 0 sends. */
	if (!atomic_exchange_explicit(&t->slot->asleep, 0,
				      memory_order_seq_cst))
		return;
	static const char one = 1;
	if (sendto(t->fd, &one, 1, MSG_DONTWAIT,
		   (const struct sockaddr *)&t->addr, t->addr_len) == 1)
		t->rung++;
	else
		t->failed++; /* nobody bound there (B3), or its queue full */
}
