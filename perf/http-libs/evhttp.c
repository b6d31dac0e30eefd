/* SPDX-License-Identifier: MIT */
/* libevent's evhttp: one event_base, every request answered 200 "hello"
 * from a zero-delay timer (an asynchronous reply, as a gateway makes). */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>

static struct event_base *base;

static void later(evutil_socket_t fd, short w, void *arg)
{
	struct evhttp_request *req = arg;
	(void)fd, (void)w;
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, "hello", 5);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	event_base_once(base, -1, EV_TIMEOUT, later, req, NULL);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 18602;
	base = event_base_new();
	struct evhttp *h = evhttp_new(base);
	evhttp_set_gencb(h, cb, NULL);
	if (evhttp_bind_socket(h, "127.0.0.1", (ev_uint16_t)port))
		return 1;
	event_base_dispatch(base);
	return 0;
}
