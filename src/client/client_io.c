/* SPDX-License-Identifier: MIT */
/*
 * libquorate's datagrams: the frames a turn fills, one per (node, shard),
 * several requests each (the wire codec packs them), signed with the
 * client key when there is one and sent in bursts; the receive loop; and
 * the kernel UDP transport (one non-blocking socket, sendmmsg/recvmmsg of
 * up to QR_CLIENT_BURST datagrams per syscall).
 *
 * Invariants: a frame always keeps QR_AUTH_TRAILER_BYTES free for its
 * signature; a message is never split and a maximal request fits an empty
 * frame; a datagram the transport would not take is counted
 * (stats.send_failed) and left to the request's resends and deadline.
 */
#include "client/client_pvt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "core/auth.h"

void qr_cl_flush(struct qr_client *c)
{
	if (!c->nframes)
		return;
	const struct qr_cluster *cl = &c->cluster;
	for (unsigned i = 0; i < c->nframes; i++) {
		c->pkt[i] = (struct qr_client_pkt){
			.ip = cl->node[c->fnode[i]].ip,
			.port = (uint16_t)(cl->base_port + c->fshard[i]),
			.len = (uint16_t)qr_wire_frame_end(&c->fw[i]),
			.data = c->frame[i],
		};
		if (c->auth) /* room kept by qr_cl_enqueue: never 0 */
			c->pkt[i].len = (uint16_t)qr_auth_client_seal(
				c->auth, c->frame[i], c->pkt[i].len,
				sizeof(c->frame[i]));
	}
	unsigned sent = c->tp->tx_burst(c->ep, c->pkt, c->nframes);
	c->stats.datagrams += sent;
	c->stats.send_failed += c->nframes - sent;
	c->nframes = 0;
}

void qr_cl_enqueue(struct qr_client *c, uint16_t node, uint16_t shard,
		   const struct qr_msg *m)
{
	for (unsigned i = 0; i < c->nframes; i++)
		if (c->fnode[i] == node && c->fshard[i] == shard &&
		    qr_wire_put(&c->fw[i], m) == 0)
			return;
	if (c->nframes == QR_CLIENT_BURST)
		qr_cl_flush(c);
	unsigned i = c->nframes++;
	struct qr_frame_hdr h = {
		.cluster_id = c->cluster.id,
		.src_node = QR_NODE_CLIENT,
		.dst_node = node,
		.shard = shard,
	};
	qr_wire_frame_begin(&c->fw[i], c->frame[i],
			    sizeof(c->frame[i]) - QR_AUTH_TRAILER_BYTES, &h);
	c->fnode[i] = node;
	c->fshard[i] = shard;
	int rc = qr_wire_put(&c->fw[i], m);
	QR_ASSERT(rc == 0); /* fields checked at submit; one msg fits */
}

int qr_cl_receive(struct qr_client *c)
{
	struct qr_client_pkt rx[QR_CLIENT_BURST];
	c->rx_now_ns = qr_clock_mono_us() * 1000; /* one read per turn */
	for (;;) {
		int n = c->tp->rx_burst(c->ep, rx, QR_CLIENT_BURST);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			qr_cl_on_datagram(c, &rx[i]);
		if (n < QR_CLIENT_BURST)
			return 0;
	}
}

/* ---- kernel UDP -------------------------------------------------------- */

struct udp_ep {
	int fd;
	struct mmsghdr rx_msg[QR_CLIENT_BURST];
	struct iovec rx_iov[QR_CLIENT_BURST];
	struct sockaddr_in rx_from[QR_CLIENT_BURST];
	/* +1: an oversized datagram shows as len > QR_FRAME_BYTES_MAX */
	uint8_t rx_buf[QR_CLIENT_BURST][QR_FRAME_BYTES_MAX + 1];
};

/* "a.b.c.d" or "a.b.c.d:port". */
static int parse_bind(const char *s, struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	if (n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -1;
	if (colon) {
		char *end;
		errno = 0;
		unsigned long port = strtoul(colon + 1, &end, 10);
		if (errno || *end || !colon[1] || port > 65535)
			return -1;
		sa->sin_port = htons((uint16_t)port);
	}
	return 0;
}

static void udp_close(void *p)
{
	struct udp_ep *ep = p;
	if (!ep)
		return;
	close(ep->fd);
	free(ep);
}

void *qr_cl_udp_open(const char *bind_addr, int buf_bytes, char *err,
		     size_t err_len)
{
	char scratch[8];
	if (!err || !err_len) /* callers may pass no buffer */
		err = scratch, err_len = sizeof(scratch);
	struct udp_ep *ep = calloc(1, sizeof(*ep));
	if (!ep) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ep->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (ep->fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
	} else if (bind_addr && parse_bind(bind_addr, &sa)) {
		snprintf(err, err_len, "bind address '%s': not IPv4[:port]",
			 bind_addr);
	} else if (bind(ep->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, err_len, "bind: %s", strerror(errno));
	} else {
		/* Room for many requests in flight; FORCE passes
		 * net.core.[rw]mem_max when we may, else the cap holds. */
		int sz = buf_bytes;
		if (setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
			       sizeof(sz)))
			setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUF, &sz,
				   sizeof(sz));
		if (setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz,
			       sizeof(sz)))
			setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUF, &sz,
				   sizeof(sz));
		for (unsigned i = 0; i < QR_CLIENT_BURST; i++) {
			ep->rx_iov[i] = (struct iovec){ep->rx_buf[i],
						       sizeof(ep->rx_buf[i])};
			ep->rx_msg[i].msg_hdr.msg_iov = &ep->rx_iov[i];
			ep->rx_msg[i].msg_hdr.msg_iovlen = 1;
		}
		return ep;
	}
	udp_close(ep);
	return NULL;
}

static unsigned udp_tx_burst(void *p, const struct qr_client_pkt *pkts,
			     unsigned n)
{
	struct udp_ep *ep = p;
	struct mmsghdr msg[QR_CLIENT_BURST];
	struct iovec iov[QR_CLIENT_BURST];
	struct sockaddr_in to[QR_CLIENT_BURST];
	QR_ASSERT(n <= QR_CLIENT_BURST);
	for (unsigned i = 0; i < n; i++) {
		to[i] = (struct sockaddr_in){
			.sin_family = AF_INET,
			.sin_port = htons(pkts[i].port),
			.sin_addr.s_addr = pkts[i].ip,
		};
		iov[i] = (struct iovec){pkts[i].data, pkts[i].len};
		msg[i].msg_hdr = (struct msghdr){
			.msg_name = &to[i],
			.msg_namelen = sizeof(to[i]),
			.msg_iov = &iov[i],
			.msg_iovlen = 1,
		};
	}
	unsigned done = 0;
	while (done < n) {
		int rc = sendmmsg(ep->fd, msg + done, n - done, 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc > 0) {
			done += (unsigned)rc;
			continue;
		}
		/* A full buffer or an unreachable route loses this one
		 * datagram: skip it, the others may go. */
		if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    done + 1 < n) {
			memmove(msg + done, msg + done + 1,
				(n - done - 1) * sizeof(msg[0]));
			n--;
			continue;
		}
		break;
	}
	return done;
}

static int udp_rx_burst(void *p, struct qr_client_pkt *pkts, unsigned n)
{
	struct udp_ep *ep = p;
	QR_ASSERT(n <= QR_CLIENT_BURST);
	for (unsigned i = 0; i < n; i++) {
		ep->rx_msg[i].msg_hdr.msg_name = &ep->rx_from[i];
		ep->rx_msg[i].msg_hdr.msg_namelen = sizeof(ep->rx_from[i]);
	}
	int rc;
	do
		rc = recvmmsg(ep->fd, ep->rx_msg, n, MSG_DONTWAIT, NULL);
	while (rc < 0 && (errno == EINTR || errno == ECONNREFUSED));
	if (rc < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : QR_EIO;
	for (int i = 0; i < rc; i++) {
		const struct sockaddr_in *from = &ep->rx_from[i];
		bool v4 = ep->rx_msg[i].msg_hdr.msg_namelen == sizeof(*from) &&
			  from->sin_family == AF_INET;
		pkts[i] = (struct qr_client_pkt){
			.ip = v4 ? from->sin_addr.s_addr : 0,
			.port = v4 ? ntohs(from->sin_port) : 0,
			.len = (uint16_t)ep->rx_msg[i].msg_len,
			.data = ep->rx_buf[i],
		};
	}
	return rc;
}

static void udp_wait(void *p, uint64_t timeout_ns)
{
	struct udp_ep *ep = p;
	struct pollfd pfd = {.fd = ep->fd, .events = POLLIN};
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000u),
		.tv_nsec = (long)(timeout_ns % 1000000000u),
	};
	(void)ppoll(&pfd, 1, &ts, NULL);
}

static int udp_fd(void *p)
{
	return ((struct udp_ep *)p)->fd;
}

const struct qr_client_transport qr_cl_udp = {
	.tx_burst = udp_tx_burst,
	.rx_burst = udp_rx_burst,
	.wait = udp_wait,
	.fd = udp_fd,
	.close = udp_close,
};
