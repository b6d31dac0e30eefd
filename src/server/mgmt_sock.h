/* SPDX-License-Identifier: MIT */
/*
 * The management socket's transport (mgmt.c answers the commands): a unix
 * stream socket that only the daemon's user (or root, or a configured
 * group) may use, serving several clients at once from one thread.
 *
 * Invariants (docs/operations.md, "Threat model"):
 *  M1. The socket file's mode is exactly cfg->mode (0600, or 0660 with a
 *      group), whatever the umask: set on the descriptor before bind() (so
 *      no window with a wider mode) and again on the path after it.
 *  M2. Only a socket is ever unlinked at the path: anything else there (a
 *      regular file, a symlink, a directory) makes open fail, untouched.
 *  M3. A peer whose SO_PEERCRED uid is neither root nor ours (nor, with a
 *      group, whose gid is that group) is closed before it is read.
 *  M4. At most clients_max connections are served at once; each has
 *      client_ms_max in all to send its line and take its answer, then it
 *      is closed: an idle or slow client delays no other. Refusals and
 *      time-outs are counted.
 */
#ifndef QR_SERVER_MGMT_SOCK_H
#define QR_SERVER_MGMT_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define QR_MGMT_CLIENTS_MAX   16	  /* connections served at once */
#define QR_MGMT_CLIENT_MS_MAX 1000	  /* per connection, line and answer */
#define QR_MGMT_CMD_BYTES     128	  /* one command line */
#define QR_MGMT_OUT_BYTES     (64 * 1024) /* one answer */

/* Answer one command line (no newline) into out: its length (0: none). */
typedef size_t (*qr_mgmt_handler)(void *arg, const char *cmd, char *out,
				  size_t cap);

struct qr_mgmt_sock_config {
	const char *path;
	unsigned mode;		/* 0600, or 0660 with gid */
	gid_t gid;		/* (gid_t)-1: none (mode must be 0600) */
	uint32_t clients_max;	/* 0 -> QR_MGMT_CLIENTS_MAX */
	uint32_t client_ms_max; /* 0 -> QR_MGMT_CLIENT_MS_MAX */
	qr_mgmt_handler handler;
	void *arg;
};

struct qr_mgmt_sock_stats {
	uint64_t accepted;     /* connections served (peer allowed) */
	uint64_t answered;     /* commands answered in full */
	uint64_t refused_busy; /* closed at once: clients_max were open */
	uint64_t refused_peer; /* closed at once: SO_PEERCRED not allowed */
	uint64_t timed_out;    /* closed at client_ms_max, unanswered */
};

struct qr_mgmt_sock;

/* Create, bind and listen (M1, M2). 0, or QR_ECONFIG / QR_ENOMEM with a
 * message naming the path and the problem in err. */
int qr_mgmt_sock_open(const struct qr_mgmt_sock_config *cfg,
		      struct qr_mgmt_sock **out, char *err, size_t err_len);
/* M2 alone, for start-up checks: 0 if nothing is at path or a socket is;
 * else QR_ECONFIG with a message naming what is there. Changes nothing. */
int qr_mgmt_sock_check_path(const char *path, char *err, size_t err_len);
/* One round: wait up to wait_ms for events, accept, read, answer, expire.
 * Call in a loop from one thread. */
void qr_mgmt_sock_poll(struct qr_mgmt_sock *s, int wait_ms);
/* Counters; read from any thread (64-bit words, at worst a round old). */
const struct qr_mgmt_sock_stats *
qr_mgmt_sock_stats(const struct qr_mgmt_sock *s);
/* Close every connection and the socket; unlink the path if it is still
 * the socket we bound (same inode). */
void qr_mgmt_sock_close(struct qr_mgmt_sock *s);

#endif
