/* SPDX-License-Identifier: MIT */
/*
 * Loading the cluster secret (secret.h has the format). The file is opened
 * without following a symlink, checked with fstat on the opened descriptor
 * (no race between the check and the read), and refused if anyone but its
 * owner may read or write it: the secret is what makes a frame from a peer
 * believable (docs/operations.md, "Threat model").
 */
#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorate/err.h"

#define SECRET_FILE_BYTES_MAX 4096

__attribute__((format(printf, 4, 5))) static int
fail(const char *path, char *err, size_t err_len, const char *fmt, ...)
{
	if (err && err_len) {
		int n = snprintf(err, err_len, "%s: ", path);
		va_list ap;
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < err_len)
			vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return QR_ECONFIG;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* One "id hex" line into s (the next key). 0, or -1 with why set. */
static int parse_line(char *line, struct qr_secret *s, const char **why)
{
	char *p = line;
	unsigned long id = 0;
	int digits = 0;
	while (*p >= '0' && *p <= '9' && digits < 6) {
		id = id * 10 + (unsigned long)(*p++ - '0');
		digits++;
	}
	if (!digits || id == 0 || id > 65535 || (*p != ' ' && *p != '\t')) {
		*why = "key id must be 1..65535, then a space";
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	uint8_t key[QR_SECRET_KEY_BYTES];
	for (int i = 0; i < QR_SECRET_KEY_BYTES; i++) {
		int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
		if (hi < 0 || lo < 0) {
			*why = "key must be 64 hex digits (32 bytes)";
			return -1;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p) {
		*why = "key must be 64 hex digits (32 bytes)";
		return -1;
	}
	for (int k = 0; k < s->count; k++)
		if (s->id[k] == id) {
			*why = "key id listed twice";
			return -1;
		}
	if (s->count == QR_SECRET_KEYS_MAX) {
		*why = "more than 2 keys (a roll needs the old and the new)";
		return -1;
	}
	s->id[s->count] = (uint16_t)id;
	memcpy(s->key[s->count], key, sizeof(key));
	s->count++;
	memset(key, 0, sizeof(key));
	return 0;
}

static int parse(const char *path, char *buf, struct qr_secret *s, char *err,
		 size_t err_len)
{
	int lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#' || *line == ';' || *line == '\r')
			continue;
		const char *why = NULL;
		if (parse_line(line, s, &why))
			return fail(path, err, err_len, "line %d: %s", lineno,
				    why);
	}
	if (!s->count)
		return fail(path, err, err_len, "no key");
	return 0;
}

int qr_secret_load(const char *path, struct qr_secret *out, char *err,
		   size_t err_len)
{
	if (err && err_len)
		err[0] = '\0';
	if (!path || !*path)
		return fail("(secret_file)", err, err_len,
			    "not set (auth = mac needs it)");
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(path, err, err_len, "cannot open: %s",
			    strerror(errno));
	struct stat st;
	char buf[SECRET_FILE_BYTES_MAX + 1];
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = fail(path, err, err_len, "fstat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = fail(path, err, err_len, "not a regular file");
	else if (st.st_mode & 077)
		rc = fail(path, err, err_len,
			  "mode %04o: group or others may access it "
			  "(chmod 600 %s)",
			  (unsigned)(st.st_mode & 07777), path);
	else if (st.st_uid != geteuid() && st.st_uid != 0)
		rc = fail(path, err, err_len,
			  "owned by uid %u, neither us nor root",
			  (unsigned)st.st_uid);
	ssize_t n = 0;
	if (!rc) {
		n = read(fd, buf, SECRET_FILE_BYTES_MAX + 1);
		if (n < 0)
			rc = fail(path, err, err_len, "read: %s",
				  strerror(errno));
		else if (n > SECRET_FILE_BYTES_MAX)
			rc = fail(path, err, err_len, "larger than %d bytes",
				  SECRET_FILE_BYTES_MAX);
	}
	close(fd);
	if (!rc) {
		struct qr_secret s = {0};
		buf[n] = '\0';
		rc = parse(path, buf, &s, err, err_len);
		if (!rc)
			*out = s;
		qr_secret_wipe(&s);
	}
	memset(buf, 0, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
	return rc;
}

void qr_secret_for_tests(struct qr_secret *out)
{
	memset(out, 0, sizeof(*out));
	out->count = 1;
	out->id[0] = 1;
	for (int i = 0; i < QR_SECRET_KEY_BYTES; i++)
		out->key[0][i] = (uint8_t)(0xa5 ^ (i * 7));
}

void qr_secret_wipe(struct qr_secret *s)
{
	memset(s, 0, sizeof(*s));
	__asm__ volatile("" : : "r"(s) : "memory");
}
