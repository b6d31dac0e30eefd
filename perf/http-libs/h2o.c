/* SPDX-License-Identifier: MIT */
/* h2o (libh2o-evloop): one evloop, every request answered 200 "hello"
 * from a zero-delay timeout entry (an asynchronous reply). */
#include <h2o.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

static h2o_timeout_t zero;

struct later {
	h2o_timeout_entry_t te;
	h2o_req_t *req;
};

static void reply(h2o_timeout_entry_t *e)
{
	static h2o_generator_t gen = {NULL, NULL};
	h2o_req_t *req = H2O_STRUCT_FROM_MEMBER(struct later, te, e)->req;
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_start_response(req, &gen);
	h2o_iovec_t body = h2o_iovec_init(H2O_STRLIT("hello"));
	h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	(void)self;
	struct later *l = h2o_mem_alloc_pool(&req->pool, sizeof(*l));
	*l = (struct later){.te = {.cb = reply}, .req = req};
	h2o_timeout_link(ctx.loop, &zero, &l->te);
	return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	h2o_socket_t *sock;
	if (err || !(sock = h2o_evloop_socket_accept(listener)))
		return;
	h2o_accept(&accept_ctx, sock);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 18603, one = 1;
	h2o_config_init(&config);
	h2o_hostconf_t *host = h2o_config_register_host(
		&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *h = h2o_create_handler(path, sizeof(*h));
	h->on_req = on_req;
	h2o_context_init(&ctx, h2o_evloop_create(), &config);
	h2o_timeout_init(ctx.loop, &zero, 0);
	accept_ctx.ctx = &ctx;
	accept_ctx.hosts = config.hosts;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024))
		return 1;
	h2o_socket_t *ls = h2o_evloop_socket_create(ctx.loop, fd,
						    H2O_SOCKET_FLAG_DONT_READ);
	h2o_socket_read_start(ls, on_accept);
	while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0)
		;
	return 0;
}
