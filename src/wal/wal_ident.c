/* SPDX-License-Identifier: MIT */
/*
 * The data directory's identity: which cluster and node it belongs to.
 *
 * A node started on another cluster's (or another node's) directory used
 * to serve that data, and anti-entropy would spread it (issue 13, item 6:
 * a key written in cluster 5799 was read at ALL from cluster 18686 started
 * on the same run directory). The first start writes IDENTITY, two text
 * lines, durably; every later start compares and refuses a mismatch.
 *
 *   quorate-data-dir 1
 *   cluster 5799 node 2
 *
 * Invariants:
 *  I1. IDENTITY appears whole or not at all: written to a temporary file,
 *      fsynced, renamed, then the directory fsynced.
 *  I2. A directory whose IDENTITY names another (cluster, node) is never
 *      used: QR_EDATADIR before any WAL file is opened.
 *  I3. An empty directory (no IDENTITY, no file but lost+found) is bound
 *      only when the caller says the node is new (init: quorated --init,
 *      which tools/cluster gives when it creates the directory). A node
 *      restarted on an empty or replaced disk would otherwise rejoin as a
 *      full replica at once, and a QUORUM read over it and a node that
 *      missed a write would answer NOT_FOUND for an acknowledged QUORUM
 *      write (issue 13 bug 6); nothing in the directory tells a new node
 *      from one that lost its data, so the operator must.
 * A directory with WAL files but no IDENTITY (written by a build from
 * before this file) is adopted: bound to the node that starts on it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quorate/err.h"
#include "wal/wal.h"
#include "wal/wal_pvt.h"

#define IDENT_MAGIC "quorate-data-dir 1"

static int sync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return QR_EIO;
	int rc = fsync(fd);
	close(fd);
	return rc ? QR_EIO : 0;
}

/* I1: tmp, fsync, rename, dir fsync. */
static int ident_write(const char *dir, const char *path, uint32_t cluster_id,
		       uint16_t node_id, char *msg, size_t msg_len)
{
	char tmp[QR_PATH_BYTES_MAX], text[96];
	QR_WAL_PATH(tmp, "%s/%s.tmp", dir, QR_WAL_IDENT_FILE);
	int len = snprintf(text, sizeof(text),
			   IDENT_MAGIC "\ncluster %" PRIu32 " node %u\n",
			   cluster_id, node_id);
	int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)len) != len || fsync(fd)) {
		snprintf(msg, msg_len, "%s: cannot write: %s", tmp,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return QR_EIO;
	}
	close(fd);
	if (rename(tmp, path) || sync_path(dir, O_RDONLY | O_DIRECTORY)) {
		snprintf(msg, msg_len, "%s: cannot install: %s", path,
			 strerror(errno));
		return QR_EIO;
	}
	return 0;
}

/* I3: does dir hold anything a node wrote (any entry but ., .., the
 * identity's temporary file, quorated's write probe and a file system's
 * lost+found)? */
static bool dir_has_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	struct dirent *e;
	bool any = false;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		      strcmp(e->d_name, "lost+found") &&
		      strncmp(e->d_name, ".quorated-", 10) && /* a probe */
		      strcmp(e->d_name, QR_WAL_IDENT_FILE ".tmp");
	closedir(d);
	return any;
}

int qr_wal_dir_bind(const char *dir, uint32_t cluster_id, uint16_t node_id,
		    bool init, char *msg, size_t msg_len)
{
	char path[QR_PATH_BYTES_MAX], text[128] = {0};
	if (!dir || !qw_dir_fits(dir))
		return QR_EINVAL;
	QR_WAL_PATH(path, "%s/%s", dir, QR_WAL_IDENT_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !init && !dir_has_files(dir)) {
		snprintf(msg, msg_len,
			 "data directory %s is empty: a new node is started "
			 "once with --init; a node that lost its data must "
			 "not rejoin as if it held it (docs/operations.md, "
			 "\"A node that lost its data directory\")",
			 dir);
		return QR_EDATADIR; /* I3 */
	}
	if (fd < 0 && errno == ENOENT)
		return ident_write(dir, path, cluster_id, node_id, msg,
				   msg_len);
	if (fd < 0) {
		snprintf(msg, msg_len, "%s: cannot read: %s", path,
			 strerror(errno));
		return QR_EIO;
	}
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	uint32_t c;
	unsigned nd;
	if (n <= 0 || strncmp(text, IDENT_MAGIC "\n", sizeof(IDENT_MAGIC)) ||
	    sscanf(text + sizeof(IDENT_MAGIC), "cluster %" SCNu32 " node %u",
		   &c, &nd) != 2 ||
	    nd > UINT16_MAX) {
		snprintf(msg, msg_len,
			 "%s: not a quorate identity file (expected \"%s\", "
			 "then \"cluster C node N\")",
			 path, IDENT_MAGIC);
		return QR_ECORRUPT;
	}
	if (c != cluster_id || nd != node_id) { /* I2 */
		snprintf(msg, msg_len,
			 "data directory %s belongs to cluster %" PRIu32
			 " node %u, not to cluster %" PRIu32 " node %u "
			 "(%s): give this node its own directory",
			 dir, c, nd, cluster_id, node_id, path);
		return QR_EDATADIR;
	}
	return 0;
}
