/* SPDX-License-Identifier: MIT */
/*
 * quorate-gw's event loop: one thread owns one libmicrohttpd daemon (in
 * "external epoll" mode: no MHD thread) and one asynchronous client
 * handle, and sleeps in one epoll_wait over MHD's epoll fd, the client's
 * socket and a stop eventfd. Requests suspend their connection while the
 * cluster works; completions resume them (http.c). Several loops share
 * the port through SO_REUSEPORT, one client handle each.
 *
 * Invariants: G1..G3 (gw.h). L1: the sleep is bounded by both MHD's and
 * the client's next timeout, so connection timeouts, resends and
 * deadlines fire on time with no timer thread. L2: at stop, no
 * connection is left suspended (MHD forbids stopping with one): waiting
 * requests get QR_EUNAVAILABLE (503) if the cluster has not answered
 * within the drain bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "gw/gw.h"
#include "gw/http.h"

#define COMPLETIONS_BURST 64
#define STOP_DRAIN_MS	  2000

/* ---- the libquorate backend ----------------------------------------- */

static int cl_submit(void *h, const struct qr_request *rq)
{
	return qr_client_submit(h, rq);
}
static int cl_flush(void *h)
{
	return qr_client_flush(h);
}
static int cl_poll(void *h, struct qr_completion *out, unsigned max, int t)
{
	int n = qr_client_poll(h, out, max, t);
	/* A reply from a newer topology epoch: refresh the placement while
	 * the handle is idle (one round trip, at most once a second). */
	if (n >= 0)
		(void)qr_client_refresh_if_stale(h);
	return n;
}
static int cl_fd(const void *h)
{
	return qr_client_fd(h);
}
static int cl_timeout(const void *h)
{
	return qr_client_timeout_ms(h);
}
static unsigned cl_inflight(const void *h)
{
	return qr_client_inflight(h);
}
static int cl_replicas(const void *h, const void *key, size_t n)
{
	uint32_t part;
	uint16_t nodes[8];
	return qr_client_replicas(h, key, n, &part, nodes);
}
static void cl_close(void *h)
{
	qr_client_close(h);
}

const struct gw_backend_ops gw_client_ops = {
	.submit = cl_submit,
	.flush = cl_flush,
	.poll = cl_poll,
	.fd = cl_fd,
	.timeout_ms = cl_timeout,
	.inflight = cl_inflight,
	.replicas = cl_replicas,
	.close = cl_close,
};

/* ---- setup ------------------------------------------------------------ */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct gw_loop *l = cls;
	if (l->opt->quiet)
		return;
	fprintf(stderr, "quorate-gw: loop %u: ", l->id);
	vfprintf(stderr, fmt, ap);
}

static struct MHD_Daemon *start_daemon(struct gw_loop *l,
				       const struct sockaddr_in *sa)
{
	const struct gw_options *o = l->opt;
	/* Several loops share the port (SO_REUSEPORT); one keeps MHD's
	 * default (SO_REUSEADDR only: a second gateway on the port fails,
	 * while sockets in TIME_WAIT do not block a restart). Passing the
	 * option as 0 would turn SO_REUSEADDR off, hence the array. */
	struct MHD_OptionItem reuse[] = {
		{l->nloops > 1 ? MHD_OPTION_LISTENING_ADDRESS_REUSE
			       : MHD_OPTION_END,
		 1, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	return MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, gw_http_access, l, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, l, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
		MHD_OPTION_ARRAY, reuse, MHD_OPTION_CONNECTION_LIMIT,
		o->connections, MHD_OPTION_CONNECTION_TIMEOUT,
		o->conn_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)o->conn_memory, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_NOTIFY_COMPLETED, gw_http_request_done, l,
		MHD_OPTION_UNESCAPE_CALLBACK, gw_http_unescape, l,
		MHD_OPTION_END);
}

static int epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int gw_loop_init(struct gw_loop *l, unsigned id, const struct gw_options *o,
		 const struct gw_backend_ops *be, void *bh, char *err,
		 size_t err_len)
{
	l->id = id;
	l->opt = o;
	l->be = be;
	l->bh = bh;
	l->ep = l->stop_fd = -1;
	if (gw_metrics_init(&l->m)) {
		snprintf(err, err_len, "out of memory");
		return QR_ENOMEM;
	}
	l->pool = calloc(o->connections, sizeof(*l->pool));
	if (!l->pool) {
		snprintf(err, err_len, "out of memory (%u contexts)",
			 o->connections);
		return QR_ENOMEM;
	}
	for (unsigned i = 0; i < o->connections; i++)
		gw_req_put(l, &l->pool[i]);
	/* Large values' buffers: malloc'd (pages touched only when used).
	 * main sets the limit (the cluster file's when not given). */
	if (o->value_bytes_max <= QR_VALUE_INLINE_MAX) {
		snprintf(err, err_len, "value_bytes_max %u: not over %u",
			 o->value_bytes_max, QR_VALUE_INLINE_MAX);
		return QR_EINVAL;
	}
	l->large_mem = malloc((size_t)o->large_bodies * o->value_bytes_max);
	l->large_free = calloc(o->large_bodies, sizeof(*l->large_free));
	if (!l->large_mem || !l->large_free) {
		snprintf(err, err_len, "out of memory (%u large bodies)",
			 o->large_bodies);
		return QR_ENOMEM;
	}
	for (unsigned i = 0; i < o->large_bodies; i++)
		l->large_free[l->large_top++] =
			l->large_mem + (size_t)i * o->value_bytes_max;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(o->port)};
	if (inet_pton(AF_INET, o->listen_addr, &sa.sin_addr) != 1) {
		snprintf(err, err_len, "--listen %s: not an IPv4 address",
			 o->listen_addr);
		return QR_EINVAL;
	}
	l->d = start_daemon(l, &sa);
	if (!l->d) {
		snprintf(err, err_len, "cannot listen on %s:%u (in use?)",
			 o->listen_addr, o->port);
		return QR_EIO;
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!di || l->ep < 0 || l->stop_fd < 0 ||
	    epoll_add(l->ep, di->epoll_fd, 0) ||
	    epoll_add(l->ep, be->fd(bh), 1) ||
	    epoll_add(l->ep, l->stop_fd, 2)) {
		snprintf(err, err_len, "epoll: %s", strerror(errno));
		return QR_EIO;
	}
	return 0;
}

uint16_t gw_loop_port(const struct gw_loop *l)
{
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
	return di ? di->port : 0;
}

int gw_loop_submit(struct gw_loop *l, struct gw_req *rq,
		   const struct qr_request *q)
{
	(void)rq;
	int rc = l->be->submit(l->bh, q);
	if (rc == 0)
		__atomic_add_fetch(&l->waiting, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&l->m.mu);
	l->m.backend_requests += rc == 0;
	l->m.backend_busy += rc == QR_EBUSY;
	pthread_mutex_unlock(&l->m.mu);
	return rc;
}

/* ---- the loop --------------------------------------------------------- */

/* Sleep bound (L1): the earlier of MHD's and the client's timeouts. */
static int next_timeout(struct gw_loop *l)
{
	MHD_UNSIGNED_LONG_LONG mt;
	int t = -1;
	if (MHD_get_timeout(l->d, &mt) == MHD_YES)
		t = mt > 1000 ? 1000 : (int)mt;
	int ct = l->be->timeout_ms(l->bh);
	if (ct >= 0 && (t < 0 || ct < t))
		t = ct;
	return t;
}

/* Hand every completion back to its request; how many. */
static unsigned drain_completions(struct gw_loop *l)
{
	struct qr_completion c[COMPLETIONS_BURST];
	unsigned total = 0;
	for (;;) {
		int n = l->be->poll(l->bh, c, COMPLETIONS_BURST, 0);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			gw_http_completed(c[i].user, &c[i]);
		total += (unsigned)n;
		if (n < COMPLETIONS_BURST)
			break;
	}
	return total;
}

static void turn(struct gw_loop *l, int timeout_ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(l->ep, ev, 8, timeout_ms);
	if (n < 0 && errno != EINTR)
		fprintf(stderr, "quorate-gw: epoll_wait: %s\n",
			strerror(errno));
	MHD_run(l->d);
	if (drain_completions(l))
		MHD_run(l->d); /* answer the resumed connections now */
	l->be->flush(l->bh);
}

/* L2: answer what still waits, then nothing is suspended. */
static void drain_at_stop(struct gw_loop *l)
{
	uint64_t end = qr_clock_mono_ms() + STOP_DRAIN_MS;
	while (l->waiting && qr_clock_mono_ms() < end)
		turn(l, 10);
	for (unsigned i = 0; i < l->opt->connections && l->waiting; i++) {
		struct gw_req *rq = &l->pool[i];
		if (rq->state != GW_RQ_WAIT)
			continue;
		struct qr_completion c = {.user = rq};
		c.result.status = QR_EUNAVAILABLE;
		c.result.coordinator = 0xffff;
		gw_http_completed(rq, &c);
	}
	for (int k = 0; k < 10; k++)
		turn(l, 10);
}

static void *loop_main(void *arg)
{
	struct gw_loop *l = arg;
	while (!__atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE))
		turn(l, next_timeout(l));
	MHD_socket s = MHD_quiesce_daemon(l->d);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	drain_at_stop(l);
	return NULL;
}

int gw_loop_start(struct gw_loop *l)
{
	return pthread_create(&l->thread, NULL, loop_main, l) ? QR_ENOMEM : 0;
}

void gw_loop_stop(struct gw_loop *l)
{
	uint64_t one = 1;
	__atomic_store_n(&l->stopping, 1, __ATOMIC_RELEASE);
	if (write(l->stop_fd, &one, sizeof(one)) < 0)
		perror("quorate-gw: stop");
	pthread_join(l->thread, NULL);
	MHD_stop_daemon(l->d);
	l->be->close(l->bh);
	close(l->ep);
	close(l->stop_fd);
	free(l->pool);
	free(l->large_mem);
	free(l->large_free);
	gw_metrics_destroy(&l->m);
}
