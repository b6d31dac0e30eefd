/* SPDX-License-Identifier: MIT */
/*
 * Blocking idle wait: see idle_wait.h (I1-I4). Per queue, the kind of
 * event is chosen at open: an ethdev rx interrupt where the PMD has the
 * ops (checked by enabling it once), else the af_packet socket, else the
 * open fails and says why. DPDK 22.11 (Debian 12): net_af_packet and
 * net_memif have no rx_queue_intr_enable (checked in its source, and
 * rte_eth_dev_rx_intr_enable answers -ENOTSUP); af_packet has its socket,
 * memif has nothing this module can reach (its eventfd and ring flags
 * are PMD-private), so a memif queue is waited on through the shard's
 * doorbell (doorbell.h), or not at all (the shard keeps the back-off).
 */
#include "shard/idle_wait.h"

#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "quorate/err.h"
#include "shard/doorbell.h"

#define WAL_TAG	   0xffffffffu
#define BELL_TAG   0xfffffffeu
#define MAX_EVENTS 8

struct iw_queue {
	uint16_t port, queue;
	int fd;		/* in the epoll set */
	bool ethdev;	/* an rx interrupt: enable/disable, read fd */
	bool countable; /* rte_eth_rx_queue_count works (I1) */
	bool belled;	/* memif: the doorbell wakes for it (I3) */
};

struct qr_idle_wait {
	int epfd;
	int wal_fd;
	struct qr_bell *bell; /* NULL: none */
	unsigned n;
	bool pwait2; /* epoll_pwait2 (us resolution) works */
	struct iw_queue q[QR_IDLE_WAIT_QUEUES_MAX];
	struct qr_idle_wait_stats st;
};

/* The one PACKET socket bound to ifindex (the PMD's, qpairs=1). */
static int af_packet_fd(int ifindex, char *why, size_t why_len)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		snprintf(why, why_len, "/proc/self/fd: %s", strerror(errno));
		return QR_EIO;
	}
	int found = -1, count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end || fd == dirfd(d))
			continue;
		int dom = 0;
		socklen_t dl = sizeof(dom);
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) ||
		    dom != AF_PACKET ||
		    getsockname((int)fd, (struct sockaddr *)&sll, &sl) ||
		    sll.sll_ifindex != ifindex)
			continue;
		found = (int)fd;
		count++;
	}
	closedir(d);
	if (count != 1) {
		snprintf(why, why_len,
			 "%d AF_PACKET sockets on ifindex %d, expected the "
			 "PMD's one",
			 count, ifindex);
		return QR_EPRECONDITION;
	}
	return found;
}

/* An ethdev rx interrupt: the PMD must enable it and give its fd. */
static int ethdev_fd(struct iw_queue *q, const char *driver, char *why,
		     size_t why_len)
{
	int rc = rte_eth_dev_rx_intr_enable(q->port, q->queue);
	if (rc) {
		snprintf(why, why_len,
			 "%s: no rx interrupt on port %u queue %u "
			 "(rte_eth_dev_rx_intr_enable: %s)",
			 driver, q->port, q->queue, rte_strerror(-rc));
		return QR_EPRECONDITION;
	}
	(void)rte_eth_dev_rx_intr_disable(q->port, q->queue);
	int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(q->port, q->queue);
	if (fd < 0) {
		snprintf(why, why_len,
			 "%s: port %u queue %u has no interrupt fd "
			 "([port] needs intr_conf.rxq: idle = interrupt "
			 "at configure)",
			 driver, q->port, q->queue);
		return QR_EPRECONDITION;
	}
	q->ethdev = true;
	q->countable = rte_eth_rx_queue_count(q->port, q->queue) >= 0;
	return fd;
}

static int add_fd(struct qr_idle_wait *w, int fd, uint32_t tag, char *why,
		  size_t why_len)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	snprintf(why, why_len, "epoll_ctl add fd %d: %s", fd, strerror(errno));
	return QR_EIO;
}

static int add_queue(struct qr_idle_wait *w, unsigned i, char *why,
		     size_t why_len)
{
	struct iw_queue *q = &w->q[i];
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(q->port, &info) != 0) {
		snprintf(why, why_len, "port %u: no device info", q->port);
		return QR_EINVAL;
	}
	int fd;
	if (!strcmp(info.driver_name, "net_memif") && w->bell) {
		q->belled = true; /* its ringers are the memif's other end */
		q->fd = -1;
		return 0;
	}
	if (!strcmp(info.driver_name, "net_af_packet")) {
		if (info.nb_rx_queues != 1) {
			snprintf(why, why_len,
				 "net_af_packet with %u rx queues: which "
				 "socket is queue %u is not known",
				 info.nb_rx_queues, q->queue);
			return QR_EPRECONDITION;
		}
		fd = af_packet_fd((int)info.if_index, why, why_len);
	} else {
		fd = ethdev_fd(q, info.driver_name, why, why_len);
	}
	if (fd < 0)
		return fd;
	q->fd = fd;
	return add_fd(w, fd, i, why, why_len);
}

int qr_idle_wait_open(const struct qr_idle_queue *q, unsigned n, int wal_fd,
		      struct qr_bell *bell, bool ring_fed,
		      struct qr_idle_wait **out, char *why, size_t why_len)
{
	*out = NULL;
	if (ring_fed && !bell) {
		snprintf(why, why_len, "frames reach it over rte_rings "
			 "(software steering between shards) and there is "
			 "no doorbell");
		return QR_EPRECONDITION;
	}
	if ((n == 0 && !bell) || n > QR_IDLE_WAIT_QUEUES_MAX) {
		snprintf(why, why_len, "%u queues (1 to %u can be waited on)",
			 n, QR_IDLE_WAIT_QUEUES_MAX);
		return QR_EINVAL;
	}
	struct qr_idle_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(why, why_len, "out of memory");
		return QR_ENOMEM;
	}
	w->wal_fd = wal_fd;
	w->bell = bell;
	w->pwait2 = true;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	int rc = 0;
	if (w->epfd < 0) {
		snprintf(why, why_len, "epoll_create1: %s", strerror(errno));
		rc = QR_EIO;
	}
	for (unsigned i = 0; !rc && i < n; i++) {
		w->q[i] = (struct iw_queue){ .port = q[i].port,
					     .queue = q[i].queue };
		w->n = i + 1;
		rc = add_queue(w, i, why, why_len);
	}
	if (!rc && wal_fd >= 0)
		rc = add_fd(w, wal_fd, WAL_TAG, why, why_len);
	if (!rc && bell)
		rc = add_fd(w, bell->fd, BELL_TAG, why, why_len);
	if (rc) {
		qr_idle_wait_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

void qr_idle_wait_close(struct qr_idle_wait *w)
{
	if (!w)
		return;
	if (w->epfd >= 0)
		close(w->epfd); /* the fds in it belong to others */
	free(w);
}

/* Enable the ethdev queues' interrupts, then look again (I1). Returns
 * false if one has frames (all disabled again); *cap_us: the longest
 * sleep a queue that cannot be counted allows. */
static bool arm_ethdev(struct qr_idle_wait *w, uint64_t *cap_us)
{
	for (unsigned i = 0; i < w->n; i++) {
		struct iw_queue *q = &w->q[i];
		if (!q->ethdev)
			continue;
		(void)rte_eth_dev_rx_intr_enable(q->port, q->queue);
		if (!q->countable) {
			if (*cap_us > IDLE_WAIT_ETHDEV_CAP_US)
				*cap_us = IDLE_WAIT_ETHDEV_CAP_US;
		} else if (rte_eth_rx_queue_count(q->port, q->queue) > 0) {
			for (unsigned k = 0; k <= i; k++)
				if (w->q[k].ethdev)
					(void)rte_eth_dev_rx_intr_disable(
						w->q[k].port, w->q[k].queue);
			return false;
		}
	}
	return true;
}

static int epoll_for(struct qr_idle_wait *w, struct epoll_event *ev,
		     uint64_t us)
{
	if (w->pwait2) {
		struct timespec ts = { .tv_sec = (time_t)(us / 1000000),
				       .tv_nsec = (long)(us % 1000000) * 1000 };
		int n = epoll_pwait2(w->epfd, ev, MAX_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		w->pwait2 = false; /* kernel before 5.11: ms resolution */
	}
	return epoll_wait(w->epfd, ev, MAX_EVENTS, (int)((us + 999) / 1000));
}

int qr_idle_wait(struct qr_idle_wait *w, uint64_t timeout_us)
{
	if (w->bell && !w->bell->armed) { /* I5: asleep, then one more poll */
		qr_bell_arm(w->bell);
		w->st.armed++;
		return 0;
	}
	uint64_t cap = timeout_us;
	if (!arm_ethdev(w, &cap)) {
		w->st.raced++;
		return 0;
	}
	struct epoll_event ev[MAX_EVENTS];
	w->st.waits++;
	int n = epoll_for(w, ev, cap);
	if (n > 0)
		w->st.woken++;
	for (int i = 0; i < n; i++) {
		uint32_t tag = ev[i].data.u32;
		uint64_t v;
		if (tag == WAL_TAG) {
			w->st.wal_wakes++;
			(void)!read(w->wal_fd, &v, sizeof(v)); /* reset */
		} else if (tag == BELL_TAG) {
			w->st.bell_wakes++;
			(void)qr_bell_drain(w->bell);
		} else if (tag < w->n && w->q[tag].ethdev) {
			(void)!read(w->q[tag].fd, &v, sizeof(v));
		} else if (tag < w->n && (ev[i].events & EPOLLERR)) {
			/* an af_packet socket's error (its interface went
			 * down or away) stays readable until taken: take it,
			 * or every wait returns at once (a spinning loop) */
			int e = 0;
			socklen_t l = sizeof(e);
			(void)getsockopt(w->q[tag].fd, SOL_SOCKET, SO_ERROR,
					 &e, &l);
			w->st.socket_errors++;
		}
	}
	if (w->bell)
		qr_bell_disarm(w->bell); /* awake: ringers need not ring */
	for (unsigned i = 0; i < w->n; i++)
		if (w->q[i].ethdev)
			(void)rte_eth_dev_rx_intr_disable(w->q[i].port,
							  w->q[i].queue);
	return 1;
}

void qr_idle_wait_busy(struct qr_idle_wait *w)
{
	if (w->bell)
		qr_bell_disarm(w->bell);
}

const struct qr_idle_wait_stats *qr_idle_wait_stats(const struct qr_idle_wait *w)
{
	return &w->st;
}
