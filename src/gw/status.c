/* SPDX-License-Identifier: MIT */
/*
 * The replication-view poller (status.h: S1..S3). One thread, one short
 * unix-socket exchange per node per interval: connect, "stat
 * replication\n", read to EOF within STATUS_DEADLINE_MS, parse with
 * jansson. The cache is one json_t replaced whole under the mutex.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cluster.h"
#include "gw/status.h"

#define STATUS_DEADLINE_MS 300
#define STATUS_BYTES_MAX   (256 * 1024)

struct gw_status {
	struct qr_cluster c;
	unsigned interval_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;	    /* under mu */
	json_t *cache;	    /* under mu: {"nodes":[...]} */
	uint64_t polled_ms; /* under mu: mono time of the last poll */
};

/* Read to EOF within the deadline into a malloc'd NUL-terminated text. */
static char *read_all(int fd, uint64_t end_ms, const char **why)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		uint64_t now = qr_clock_mono_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (now >= end_ms || poll(&p, 1, (int)(end_ms - now)) == 0) {
			*why = "no complete answer within 300 ms";
			break;
		}
		if (n + 1 == cap) {
			char *nb = cap < STATUS_BYTES_MAX
					   ? realloc(buf, cap * 2)
					   : NULL;
			if (!nb) {
				*why = "answer too large";
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - 1 - n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			*why = strerror(errno);
			break;
		}
		if (got == 0) {
			buf[n] = '\0';
			return buf;
		}
		n += (size_t)got;
	}
	free(buf);
	return NULL;
}

/* One node's answer, or NULL with *why. */
static json_t *ask(const char *path, const char **why)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		*why = "no usable mgmt path in the cluster file";
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	static const char req[] = "stat replication\n";
	char *text = NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		*why = strerror(errno);
	else if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
		 (ssize_t)sizeof(req) - 1)
		*why = strerror(errno);
	else {
		shutdown(fd, SHUT_WR);
		text = read_all(fd, qr_clock_mono_ms() + STATUS_DEADLINE_MS,
				why);
	}
	close(fd);
	if (!text)
		return NULL;
	json_t *j = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "the answer is not one JSON object";
		return NULL;
	}
	return j;
}

static json_t *poll_all(const struct gw_status *s)
{
	json_t *nodes = json_array();
	for (uint16_t i = 0; i < s->c.nodes; i++) {
		const char *why = NULL;
		json_t *j = ask(s->c.node[i].mgmt, &why);
		if (!j) {
			j = json_pack("{s:i,s:b,s:s}", "node", (int)i,
				      "reachable", 0, "error",
				      why ? why : "unknown");
		} else {
			json_object_set_new(j, "reachable", json_true());
		}
		json_object_set_new(j, "mgmt", json_string(s->c.node[i].mgmt));
		json_array_append_new(nodes, j);
	}
	return json_pack("{s:o,s:i}", "nodes", nodes, "rf", (int)s->c.rf);
}

static void *poller(void *arg)
{
	struct gw_status *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		json_t *j = poll_all(s);
		pthread_mutex_lock(&s->mu);
		json_decref(s->cache);
		s->cache = j;
		s->polled_ms = qr_clock_mono_ms();
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec +
			      (uint64_t)s->interval_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		if (!s->stop)
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct gw_status *gw_status_start(const struct qr_cluster *c,
				  unsigned interval_ms)
{
	struct gw_status *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->c = *c;
	s->interval_ms = interval_ms ? interval_ms : 1000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->cache = poll_all(s);
	s->polled_ms = qr_clock_mono_ms();
	if (pthread_create(&s->thread, NULL, poller, s)) {
		json_decref(s->cache);
		free(s);
		return NULL;
	}
	return s;
}

void gw_status_stop(struct gw_status *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	json_decref(s->cache);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

/* A copy of the cache with its age, for rendering outside the mutex. */
static json_t *snapshot(struct gw_status *s)
{
	pthread_mutex_lock(&s->mu);
	json_t *j = json_deep_copy(s->cache);
	uint64_t age = qr_clock_mono_ms() - s->polled_ms;
	pthread_mutex_unlock(&s->mu);
	if (j) {
		json_object_set_new(j, "age_ms", json_integer((json_int_t)age));
		json_object_set_new(j, "interval_ms",
				    json_integer(s->interval_ms));
		json_object_set_new(j, "source",
				    json_string("management sockets on the "
						"gateway's host"));
	}
	return j;
}

char *gw_status_json(struct gw_status *s, size_t *len)
{
	json_t *j = snapshot(s);
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (t) {
		/* room for the newline: json_dumps gives strlen + 1 bytes */
		size_t n = strlen(t);
		char *nt = realloc(t, n + 2);
		if (!nt) {
			free(t);
			return NULL;
		}
		nt[n] = '\n';
		nt[n + 1] = '\0';
		*len = n + 1;
		return nt;
	}
	return NULL;
}

char *gw_status_page(struct gw_status *s, size_t *len)
{
	json_t *j = snapshot(s);
	char *t = j ? gw_page_render(j, len) : NULL;
	json_decref(j);
	return t;
}
