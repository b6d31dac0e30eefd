/* SPDX-License-Identifier: MIT */
/* A node's installed topology on disk: see topo_file.h (F1-F3). */
#include "common/topo_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/crc32c.h"
#include "quorate/err.h"
#include "quorate/limits.h"

#define BODY_BYTES_MAX 256 /* the canonical text is under 160 bytes */
#define FILE_BYTES_MAX 512 /* more than that is not ours */
#define HEADER "# quorate topology: written by quorated (docs/topology.md)\n"

/* The canonical text before the crc32c line (F1): its length. */
static int body(const struct qr_topo_state *t, char *buf, size_t cap)
{
	return snprintf(buf, cap,
			HEADER "epoch = %" PRIu64 "\nowners = 0x%" PRIx64
			       "\npending = 0x%" PRIx64 "\nstreaming = %d\n",
			t->epoch, t->owners, t->pending, t->streaming ? 1 : 0);
}

static int path_of(const char *dir, const char *name, char *out,
		   char *err, size_t err_len)
{
	if ((size_t)snprintf(out, QR_PATH_BYTES_MAX, "%s/%s", dir, name) >=
	    QR_PATH_BYTES_MAX) {
		snprintf(err, err_len, "%s: path too long for its files", dir);
		return QR_ECONFIG;
	}
	return 0;
}

/* The values of body (n bytes), if it is exactly their canonical form. */
static bool parse(const char *text, size_t n, struct qr_topo_state *t)
{
	struct qr_topo_state v = {0};
	int streaming = -1, used = 0;
	if (sscanf(text,
		   HEADER "epoch = %" SCNu64 "\nowners = 0x%" SCNx64
			  "\npending = 0x%" SCNx64 "\nstreaming = %d\n%n",
		   &v.epoch, &v.owners, &v.pending, &streaming, &used) != 4 ||
	    used <= 0 || (streaming != 0 && streaming != 1))
		return false;
	v.streaming = streaming == 1;
	char canon[BODY_BYTES_MAX];
	int len = body(&v, canon, sizeof(canon));
	if (len != used || (size_t)len != n || memcmp(canon, text, n))
		return false;
	*t = v;
	return true;
}

/* The body of text (n bytes, NUL-free) if its last line is the CRC
 * line of all that precedes it (F1): the body's length, or -1. */
static int strip_crc(const char *text, size_t n)
{
	if (n < 2 || text[n - 1] != '\n')
		return -1;
	size_t len = n - 1;
	while (len && text[len - 1] != '\n')
		len--;
	char line[32];
	int cl = snprintf(line, sizeof(line), "crc32c = 0x%08x\n",
			  qr_crc32c(0, text, len));
	if (len + (size_t)cl != n || memcmp(text + len, line, (size_t)cl))
		return -1;
	return (int)len;
}

int qr_small_file_load(const char *dir, const char *name, char *body_out,
		       size_t cap, size_t *len, char *err, size_t err_len)
{
	char path[QR_PATH_BYTES_MAX], text[FILE_BYTES_MAX + 1];
	if (err_len)
		err[0] = '\0';
	int rc = path_of(dir, name, path, err, err_len);
	if (rc)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return QR_ENOTFOUND;
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return QR_EIO;
	}
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(text) - 1 &&
	       (r = read(fd, text + n, sizeof(text) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			close(fd);
			return QR_EIO;
		}
		n += (size_t)r;
	}
	close(fd);
	text[n] = '\0';
	int b = n < FILE_BYTES_MAX && strlen(text) == n ? strip_crc(text, n)
							: -1;
	if (b < 0 || (size_t)b >= cap) {
		snprintf(err, err_len, "%s: corrupt (not the file quorated "
			 "wrote, or a bad crc32c)", path);
		return QR_ECORRUPT;
	}
	memcpy(body_out, text, (size_t)b);
	body_out[b] = '\0';
	*len = (size_t)b;
	return 0;
}

int qr_topo_file_load(const char *dir, struct qr_topo_state *t, char *err,
		      size_t err_len)
{
	char text[BODY_BYTES_MAX];
	size_t n = 0;
	int rc = qr_small_file_load(dir, QR_TOPO_FILE_NAME, text, sizeof(text),
				    &n, err, err_len);
	if (rc == QR_ECORRUPT || (!rc && !parse(text, n, t))) {
		char path[QR_PATH_BYTES_MAX];
		path_of(dir, QR_TOPO_FILE_NAME, path, err, err_len);
		snprintf(err, err_len,
			 "%s: corrupt (not the topology quorated wrote, or a "
			 "bad crc32c): move it away to start from the cluster "
			 "file's members, knowing that this node then forgets "
			 "the membership changes it took part in",
			 path);
		return QR_ECORRUPT;
	}
	return rc;
}

/* fsync the directory so the rename is durable (F2). */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int qr_small_file_save(const char *dir, const char *name, const char *body_text,
		       size_t len, char *err, size_t err_len)
{
	char path[QR_PATH_BYTES_MAX], tmp[QR_PATH_BYTES_MAX];
	char text[FILE_BYTES_MAX];
	char tname[64];
	snprintf(tname, sizeof(tname), "%s.tmp", name);
	int rc = path_of(dir, name, path, err, err_len);
	if (!rc)
		rc = path_of(dir, tname, tmp, err, err_len);
	if (rc)
		return rc;
	QR_ASSERT(len + 32 < sizeof(text));
	memcpy(text, body_text, len);
	int n = (int)len + snprintf(text + len, sizeof(text) - len,
				    "crc32c = 0x%08x\n",
				    qr_crc32c(0, body_text, len));
	int fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, (size_t)n) == n &&
		  fsync(fd) == 0;
	int saved = errno;
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		saved = errno;
	}
	if (ok && sync_dir(dir) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		snprintf(err, err_len, "%s: cannot save: %s", path,
			 strerror(saved));
		return QR_EIO;
	}
	return 0;
}

int qr_topo_file_save(const char *dir, const struct qr_topo_state *t,
		      char *err, size_t err_len)
{
	char text[BODY_BYTES_MAX];
	int len = body(t, text, sizeof(text));
	QR_ASSERT(len > 0 && len < BODY_BYTES_MAX);
	return qr_small_file_save(dir, QR_TOPO_FILE_NAME, text, (size_t)len,
				  err, err_len);
}

int qr_topo_state_check(const struct qr_topo_state *t, uint16_t slots,
			uint16_t rf, char *err, size_t err_len)
{
	uint64_t all = slots >= 64 ? ~0ull : (1ull << slots) - 1;
	const char *why = NULL;
	if (t->epoch < 1)
		why = "epoch 0 (epochs start at 1)";
	else if (t->epoch > QR_TOPO_EPOCH_MAX)
		why = "epoch above 2^48 (no cluster takes that many steps; "
		      "the next one must still fit)";
	else if ((t->owners | t->pending) & ~all)
		why = "a member beyond the cluster file's node slots";
	else if (__builtin_popcountll(t->owners) < rf)
		why = "fewer owners than the replication factor";
	else if (t->pending && __builtin_popcountll(t->pending) < rf)
		why = "fewer pending members than the replication factor";
	else if (t->pending == t->owners)
		why = "pending equals owners (no change)";
	else if (t->streaming && !t->pending)
		why = "streaming without a pending change";
	if (why) {
		snprintf(err, err_len, "%s", why);
		return QR_EINVAL;
	}
	return 0;
}
