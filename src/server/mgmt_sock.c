/* SPDX-License-Identifier: MIT */
/*
 * The management socket's transport: see mgmt_sock.h for M1-M4.
 *
 * One thread, one poll() over the listening socket and every open
 * connection, all non-blocking. A connection is a small state machine:
 *
 *   READ --line or full buffer--> WRITE --all sent--> closed
 *     \______________ deadline (client_ms_max) ________/--> closed, counted
 *
 * The answer is computed once the line is in (handler, in this thread) and
 * sent as the socket takes it, so a client that does not read stalls only
 * itself. Memory: clients_max connection slots with their buffers, at open.
 */
#include "server/mgmt_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "quorate/err.h"

struct conn {
	int fd;		      /* -1: free slot */
	bool writing;	      /* the answer is out[0..out_len) */
	uint64_t deadline_ms; /* monotonic */
	size_t got, out_len, sent;
	char cmd[QR_MGMT_CMD_BYTES];
	char *out; /* QR_MGMT_OUT_BYTES */
};

struct qr_mgmt_sock {
	struct qr_mgmt_sock_config cfg;
	int fd;
	dev_t dev;
	ino_t ino; /* the socket file we bound (close unlinks only it) */
	struct qr_mgmt_sock_stats stats;
	struct conn *conns; /* [clients_max] */
	struct pollfd *pfd; /* [clients_max + 1] */
};

int qr_mgmt_sock_check_path(const char *path, char *err, size_t n)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, n, "mgmt socket %s: lstat: %s", path,
			 strerror(errno));
		return QR_ECONFIG;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, n,
			 "mgmt socket %s: exists and is not a socket (%s): "
			 "refusing to remove it; move it away or change "
			 "`mgmt` in the cluster file",
			 path,
			 S_ISLNK(st.st_mode)   ? "a symlink"
			 : S_ISDIR(st.st_mode) ? "a directory"
			 : S_ISREG(st.st_mode) ? "a regular file"
					       : "another kind of file");
		return QR_ECONFIG;
	}
	return 0;
}

/* M2: nothing at path, or a socket (a stale one: removed). 0 or -1. */
static int clear_path(const char *path, char *err, size_t n)
{
	if (qr_mgmt_sock_check_path(path, err, n))
		return -1;
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, n, "mgmt socket %s: unlink: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* Socket, bind, mode (M1), listen. 0 or -1 with err set. */
static int bind_path(struct qr_mgmt_sock *s, char *err, size_t n)
{
	const struct qr_mgmt_sock_config *cfg = &s->cfg;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, cfg->path); /* length checked by the caller */
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	const char *what = "socket";
	struct stat st;
	/* Linux creates the file with the descriptor's mode & ~umask: set
	 * it first so the file is never wider than cfg->mode (M1). */
	if (s->fd < 0 || fchmod(s->fd, cfg->mode) != 0)
		goto fail;
	what = "bind";
	if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto fail;
	s->ino = 1; /* bound: a failure below removes the file */
	what = "chown";
	if (cfg->gid != (gid_t)-1 && chown(cfg->path, (uid_t)-1, cfg->gid))
		goto fail;
	what = "chmod";
	if (chmod(cfg->path, cfg->mode) != 0)
		goto fail;
	what = "lstat";
	if (lstat(cfg->path, &st) != 0)
		goto fail;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	what = "listen";
	if (listen(s->fd, 64) == 0)
		return 0;
fail:
	snprintf(err, n, "mgmt socket %s: %s: %s", cfg->path, what,
		 strerror(errno));
	if (s->ino)
		unlink(cfg->path);
	return -1;
}

int qr_mgmt_sock_open(const struct qr_mgmt_sock_config *cfg,
		      struct qr_mgmt_sock **out, char *err, size_t n)
{
	struct sockaddr_un a;
	if (!cfg->path || strlen(cfg->path) >= sizeof(a.sun_path)) {
		snprintf(err, n, "mgmt socket path empty or too long: %s",
			 cfg->path ? cfg->path : "");
		return QR_ECONFIG;
	}
	if ((cfg->mode != 0600 && cfg->mode != 0660) ||
	    (cfg->mode == 0660) != (cfg->gid != (gid_t)-1) || !cfg->handler) {
		snprintf(err, n,
			 "mgmt socket %s: mode %04o: 0600, or 0660 "
			 "with a group",
			 cfg->path, cfg->mode);
		return QR_ECONFIG;
	}
	struct qr_mgmt_sock *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, n, "mgmt socket: out of memory");
		return QR_ENOMEM;
	}
	s->cfg = *cfg;
	if (!s->cfg.clients_max)
		s->cfg.clients_max = QR_MGMT_CLIENTS_MAX;
	if (!s->cfg.client_ms_max)
		s->cfg.client_ms_max = QR_MGMT_CLIENT_MS_MAX;
	s->fd = -1;
	uint32_t cm = s->cfg.clients_max;
	s->conns = calloc(cm, sizeof(*s->conns));
	s->pfd = calloc(cm + 1, sizeof(*s->pfd));
	for (uint32_t i = 0; s->conns && i < cm; i++) {
		s->conns[i].fd = -1;
		if (!(s->conns[i].out = malloc(QR_MGMT_OUT_BYTES)))
			break;
	}
	if (!s->conns || !s->pfd || !s->conns[cm - 1].out) {
		snprintf(err, n, "mgmt socket: out of memory");
		qr_mgmt_sock_close(s);
		return QR_ENOMEM;
	}
	if (clear_path(cfg->path, err, n) || bind_path(s, err, n)) {
		s->ino = 0; /* not ours: close must not unlink it */
		qr_mgmt_sock_close(s);
		return QR_ECONFIG;
	}
	*out = s;
	return 0;
}

/* M3: root, our uid, or the configured group. */
static bool peer_allowed(const struct qr_mgmt_sock *s, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
		return false;
	return uc.uid == 0 || uc.uid == geteuid() ||
	       (s->cfg.gid != (gid_t)-1 && uc.gid == s->cfg.gid);
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Take every pending connection: a free slot each, or refused (M4). */
static void accept_all(struct qr_mgmt_sock *s, uint64_t now_ms)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = NULL;
		for (uint32_t i = 0; i < s->cfg.clients_max && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		if (!peer_allowed(s, fd)) {
			s->stats.refused_peer++;
			close(fd);
		} else if (!c) {
			s->stats.refused_busy++;
			close(fd);
		} else {
			s->stats.accepted++;
			c->fd = fd;
			c->writing = false;
			c->got = c->out_len = c->sent = 0;
			c->deadline_ms = now_ms + s->cfg.client_ms_max;
		}
	}
}

/* READ: take what is there; once the line is in, compute the answer. */
static void conn_read(struct qr_mgmt_sock *s, struct conn *c)
{
	ssize_t r = read(c->fd, c->cmd + c->got, sizeof(c->cmd) - 1 - c->got);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0)
		c->got += (size_t)r;
	c->cmd[c->got] = 0;
	char *nl = memchr(c->cmd, '\n', c->got);
	if (!nl && r > 0 && c->got < sizeof(c->cmd) - 1)
		return; /* more to come */
	if (nl)
		*nl = 0;
	/* A line, end of input, or a full buffer: answer what came. */
	c->out_len =
		s->cfg.handler(s->cfg.arg, c->cmd, c->out, QR_MGMT_OUT_BYTES);
	c->writing = true;
}

/* WRITE: send what the socket takes; close when all is out. */
static void conn_write(struct qr_mgmt_sock *s, struct conn *c)
{
	while (c->sent < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->sent, c->out_len - c->sent,
				 MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			conn_close(c);
			return;
		}
		c->sent += (size_t)w;
	}
	s->stats.answered++;
	conn_close(c);
}

void qr_mgmt_sock_poll(struct qr_mgmt_sock *s, int wait_ms)
{
	uint32_t cm = s->cfg.clients_max;
	s->pfd[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
	uint64_t now_ms = qr_clock_mono_ms();
	for (uint32_t i = 0; i < cm; i++) {
		struct conn *c = &s->conns[i];
		s->pfd[i + 1] = (struct pollfd){
			.fd = c->fd,
			.events = (short)(c->writing ? POLLOUT : POLLIN)};
		if (c->fd >= 0 && c->deadline_ms > now_ms &&
		    (int)(c->deadline_ms - now_ms) < wait_ms)
			wait_ms = (int)(c->deadline_ms - now_ms);
	}
	if (poll(s->pfd, cm + 1, wait_ms) < 0)
		return;
	now_ms = qr_clock_mono_ms();
	for (uint32_t i = 0; i < cm; i++) {
		struct conn *c = &s->conns[i];
		short re = s->pfd[i + 1].revents;
		if (c->fd >= 0 && !c->writing && re)
			conn_read(s, c);
		if (c->fd >= 0 && c->writing)
			conn_write(s, c);
		if (c->fd >= 0 && now_ms >= c->deadline_ms) {
			s->stats.timed_out++; /* M4 */
			conn_close(c);
		}
	}
	if (s->pfd[0].revents & POLLIN)
		accept_all(s, now_ms);
}

const struct qr_mgmt_sock_stats *
qr_mgmt_sock_stats(const struct qr_mgmt_sock *s)
{
	return &s->stats;
}

void qr_mgmt_sock_close(struct qr_mgmt_sock *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; s->conns && i < s->cfg.clients_max; i++) {
		if (s->conns[i].fd >= 0)
			conn_close(&s->conns[i]);
		free(s->conns[i].out);
	}
	if (s->fd >= 0) {
		close(s->fd);
		struct stat st;
		if (s->ino && lstat(s->cfg.path, &st) == 0 &&
		    S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
		    st.st_ino == s->ino)
			unlink(s->cfg.path);
	}
	free(s->conns);
	free(s->pfd);
	free(s);
}
