/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the management socket's transport (src/server/mgmt_sock.c,
 * M1-M4 in mgmt_sock.h), against a real unix socket served by a thread:
 *  - the socket file is 0600 under umask 000 (the umask does not widen it);
 *  - 3 idle connections do not delay a `stat` from a 4th client: it is
 *    answered well within the 1 s per-client limit, and the idle ones are
 *    closed and counted at that limit;
 *  - connections past clients_max are closed at once and counted;
 *  - a regular file, a symlink or a directory at the path is refused with
 *    a message naming it, and left as it was; a stale socket is replaced;
 *  - close unlinks the socket, but not a file someone put in its place.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "server/mgmt_sock.h"
#include "unit.h"

static char dir[64];
static char path[128];
static volatile int stop;

static size_t answer(void *arg, const char *cmd, char *out, size_t cap)
{
	(void)arg;
	return (size_t)snprintf(out, cap, "{\"cmd\":\"%s\"}\n", cmd);
}

static void *serve(void *arg)
{
	struct qr_mgmt_sock *s = arg;
	while (!stop)
		qr_mgmt_sock_poll(s, 20);
	return NULL;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/qr-test-mgmt.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/n0.sock", dir);
}

static struct qr_mgmt_sock *open_sock(uint32_t clients_max, char *err, size_t n)
{
	struct qr_mgmt_sock_config cfg = {
		.path = path,
		.mode = 0600,
		.gid = (gid_t)-1,
		.clients_max = clients_max,
		.handler = answer,
	};
	struct qr_mgmt_sock *s = NULL;
	int rc = qr_mgmt_sock_open(&cfg, &s, err, n);
	return rc ? NULL : s;
}

static int connect_to(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send cmd, read the answer to EOF: its length (0: closed unanswered). */
static size_t ask(const char *cmd, char *out, size_t cap)
{
	int fd = connect_to();
	if (fd < 0)
		return 0;
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		close(fd);
		return 0;
	}
	size_t got = 0;
	ssize_t r;
	while (got < cap - 1 && (r = read(fd, out + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = 0;
	close(fd);
	return got;
}

static void test_mode_0600_under_umask_000(void)
{
	setup();
	mode_t old = umask(0);
	char err[256] = "";
	struct qr_mgmt_sock *s = open_sock(0, err, sizeof(err));
	umask(old);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	struct stat st;
	CU_ASSERT_FATAL(lstat(path, &st) == 0);
	CU_ASSERT(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	qr_mgmt_sock_close(s);
	CU_ASSERT(lstat(path, &st) != 0 && errno == ENOENT); /* unlinked */
	rmdir(dir);
}

static void test_idle_clients_do_not_delay_stat(void)
{
	setup();
	char err[256] = "", out[256];
	struct qr_mgmt_sock *s = open_sock(4, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	stop = 0;
	pthread_t th;
	pthread_create(&th, NULL, serve, s);
	int idle[3];
	for (int i = 0; i < 3; i++)
		idle[i] = connect_to(); /* connected, say nothing */
	usleep(50 * 1000);		/* all three accepted and waiting */
	uint64_t t0 = qr_clock_mono_ms();
	size_t n = ask("stat\n", out, sizeof(out));
	uint64_t took_ms = qr_clock_mono_ms() - t0;
	CU_ASSERT(n > 0 && strstr(out, "\"cmd\":\"stat\""));
	CU_ASSERT(took_ms < 250); /* was 3 s: one client at a time */
	/* A 5th and 6th while 4 slots are taken (3 idle + none): the 4th
	 * slot is free again, so one more idle fills it, then refusals. */
	int extra = connect_to();
	usleep(50 * 1000);
	int refused = connect_to();
	usleep(50 * 1000);
	char b;
	CU_ASSERT(read(refused, &b, 1) == 0); /* closed at once */
	CU_ASSERT(qr_mgmt_sock_stats(s)->refused_busy == 1);
	CU_ASSERT(qr_mgmt_sock_stats(s)->answered == 1);
	/* The idle ones are closed at the 1 s limit, and counted. */
	usleep(1200 * 1000);
	CU_ASSERT(read(idle[0], &b, 1) == 0);
	CU_ASSERT(qr_mgmt_sock_stats(s)->timed_out == 4);
	CU_ASSERT(ask("stat\n", out, sizeof(out)) > 0); /* serving still */
	for (int i = 0; i < 3; i++)
		close(idle[i]);
	close(extra);
	close(refused);
	stop = 1;
	pthread_join(th, NULL);
	qr_mgmt_sock_close(s);
	rmdir(dir);
}

static void test_regular_file_at_path_refused_and_kept(void)
{
	setup();
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, "precious", 8) == 8);
	close(fd);
	char err[256] = "";
	CU_ASSERT_PTR_NULL(open_sock(0, err, sizeof(err)));
	CU_ASSERT(strstr(err, "not a socket (a regular file)") != NULL);
	CU_ASSERT(strstr(err, path) != NULL);
	struct stat st;
	CU_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		  st.st_size == 8);
	unlink(path);
	/* A symlink (to the file the attacker wants removed) and a
	 * directory: refused too, the link left as it was. */
	CU_ASSERT(symlink("/etc/passwd", path) == 0);
	CU_ASSERT_PTR_NULL(open_sock(0, err, sizeof(err)));
	CU_ASSERT(strstr(err, "a symlink") != NULL);
	CU_ASSERT(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	unlink(path);
	CU_ASSERT(mkdir(path, 0700) == 0);
	CU_ASSERT_PTR_NULL(open_sock(0, err, sizeof(err)));
	CU_ASSERT(strstr(err, "a directory") != NULL);
	rmdir(path);
	rmdir(dir);
}

static void test_stale_socket_replaced_and_impostor_kept(void)
{
	setup();
	char err[256] = "";
	/* A socket left by a crashed daemon is replaced. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, path);
	CU_ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	close(fd);
	struct qr_mgmt_sock *s = open_sock(0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Someone replaces our socket with a file: close leaves it. */
	unlink(path);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	qr_mgmt_sock_close(s);
	struct stat st;
	CU_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);
	rmdir(dir);
}

static void test_bad_mode_refused(void)
{
	setup();
	char err[256] = "";
	struct qr_mgmt_sock_config cfg = {.path = path,
					  .mode = 0666,
					  .gid = (gid_t)-1,
					  .handler = answer};
	struct qr_mgmt_sock *s = NULL;
	CU_ASSERT(qr_mgmt_sock_open(&cfg, &s, err, sizeof(err)) == QR_ECONFIG);
	cfg.mode = 0660; /* 0660 needs a group */
	CU_ASSERT(qr_mgmt_sock_open(&cfg, &s, err, sizeof(err)) == QR_ECONFIG);
	CU_ASSERT_PTR_NULL(s);
	rmdir(dir);
}

int main(void)
{
	static const struct qr_unit_case cases[] = {
		{"mode_0600_under_umask_000", test_mode_0600_under_umask_000},
		{"idle_clients_do_not_delay_stat",
		 test_idle_clients_do_not_delay_stat},
		{"regular_file_at_path_refused_and_kept",
		 test_regular_file_at_path_refused_and_kept},
		{"stale_socket_replaced_and_impostor_kept",
		 test_stale_socket_replaced_and_impostor_kept},
		{"bad_mode_refused", test_bad_mode_refused},
		{NULL, NULL},
	};
	return qr_unit_main("mgmt", cases);
}
