/* SPDX-License-Identifier: MIT */
/* libmicrohttpd: one epoll thread, every request answered 200 "hello"
 * after a suspend/resume round (what quorate-gw does per request). */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static enum MHD_Result ah(void *cls, struct MHD_Connection *c, const char *url,
			  const char *m, const char *v, const char *d,
			  size_t *n, void **ctx)
{
	(void)cls, (void)url, (void)m, (void)v, (void)d;
	if (*n) {
		*n = 0;
		return MHD_YES;
	}
	if (*ctx == NULL) { /* first call: headers only */
		*ctx = (void *)1;
		return MHD_YES;
	}
	if (*ctx == (void *)1) { /* suspend, resume at once: async reply */
		*ctx = (void *)2;
		MHD_suspend_connection(c);
		MHD_resume_connection(c);
		return MHD_YES;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(
		5, (void *)"hello", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result q = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return q;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 18601;
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNALLY | MHD_ALLOW_SUSPEND_RESUME,
		(uint16_t)port, NULL, NULL, ah, NULL,
		MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
	if (!d)
		return 1;
	pause();
	return 0;
}
