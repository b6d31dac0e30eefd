/* SPDX-License-Identifier: MIT */
/*
 * Kernel UDP transport of quorate-bench: one non-blocking socket per
 * thread bound to an ephemeral port (nodes deduplicate writes by client
 * address and request id, so each thread is its own client), 4 MiB socket
 * buffers, sendmmsg/recvmmsg of up to BENCH_BURST datagrams per syscall.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/wire.h"
#include "transport.h"

#define SOCK_BUF_BYTES (4 << 20)

struct udp_ep {
	int fd;
	struct mmsghdr rx_msg[BENCH_BURST];
	struct iovec rx_iov[BENCH_BURST];
	struct sockaddr_in rx_from[BENCH_BURST];
	uint8_t rx_buf[BENCH_BURST][QR_FRAME_BYTES_MAX + 64];
};

static void *udp_open(unsigned thread, char *err, size_t err_len)
{
	(void)thread;
	struct udp_ep *ep = calloc(1, sizeof(*ep));
	if (!ep) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ep->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = {.sin_family = AF_INET};
	if (ep->fd < 0 || bind(ep->fd, (struct sockaddr *)&any, sizeof(any))) {
		snprintf(err, err_len, "udp socket: %s", strerror(errno));
		if (ep->fd >= 0)
			close(ep->fd);
		free(ep);
		return NULL;
	}
	int sz = SOCK_BUF_BYTES;
	/* FORCE passes net.core.[rw]mem_max when we may; else the capped
	 * size is what we get. */
	if (setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (unsigned i = 0; i < BENCH_BURST; i++) {
		ep->rx_iov[i].iov_base = ep->rx_buf[i];
		ep->rx_iov[i].iov_len = sizeof(ep->rx_buf[i]);
		ep->rx_msg[i].msg_hdr.msg_iov = &ep->rx_iov[i];
		ep->rx_msg[i].msg_hdr.msg_iovlen = 1;
	}
	return ep;
}

static unsigned udp_tx_burst(void *p, const struct bench_pkt *pkts, unsigned n)
{
	struct udp_ep *ep = p;
	struct mmsghdr msg[BENCH_BURST];
	struct iovec iov[BENCH_BURST];
	struct sockaddr_in to[BENCH_BURST];
	unsigned done = 0;
	while (done < n) {
		unsigned k = n - done < BENCH_BURST ? n - done : BENCH_BURST;
		for (unsigned i = 0; i < k; i++) {
			const struct bench_pkt *pk = &pkts[done + i];
			to[i] = (struct sockaddr_in){
				.sin_family = AF_INET,
				.sin_port = htons(pk->port),
				.sin_addr.s_addr = pk->ip,
			};
			iov[i] = (struct iovec){pk->data, pk->len};
			msg[i].msg_hdr = (struct msghdr){
				.msg_name = &to[i],
				.msg_namelen = sizeof(to[i]),
				.msg_iov = &iov[i],
				.msg_iovlen = 1,
			};
		}
		int rc = sendmmsg(ep->fd, msg, k, 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break; /* EAGAIN (buffer full) or an error: stop */
		done += (unsigned)rc;
		if ((unsigned)rc < k)
			break;
	}
	return done;
}

static unsigned udp_rx_burst(void *p, struct bench_pkt *pkts, unsigned n)
{
	struct udp_ep *ep = p;
	if (n > BENCH_BURST)
		n = BENCH_BURST;
	for (unsigned i = 0; i < n; i++) {
		ep->rx_msg[i].msg_hdr.msg_name = &ep->rx_from[i];
		ep->rx_msg[i].msg_hdr.msg_namelen = sizeof(ep->rx_from[i]);
	}
	int rc;
	do
		rc = recvmmsg(ep->fd, ep->rx_msg, n, MSG_DONTWAIT, NULL);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return 0;
	for (int i = 0; i < rc; i++) {
		pkts[i].ip = ep->rx_from[i].sin_addr.s_addr;
		pkts[i].port = ntohs(ep->rx_from[i].sin_port);
		pkts[i].len = (uint16_t)ep->rx_msg[i].msg_len;
		pkts[i].data = ep->rx_buf[i];
	}
	return (unsigned)rc;
}

static void udp_wait(void *p, uint64_t timeout_ns)
{
	struct udp_ep *ep = p;
	struct pollfd pfd = {.fd = ep->fd, .events = POLLIN};
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000u),
		.tv_nsec = (long)(timeout_ns % 1000000000u),
	};
	ppoll(&pfd, 1, &ts, NULL);
}

static void udp_close(void *p)
{
	struct udp_ep *ep = p;
	if (!ep)
		return;
	close(ep->fd);
	free(ep);
}

const struct bench_transport_ops bench_transport_udp = {
	.name = "udp",
	.open = udp_open,
	.tx_burst = udp_tx_burst,
	.rx_burst = udp_rx_burst,
	.wait = udp_wait,
	.close = udp_close,
};
