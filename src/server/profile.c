/* SPDX-License-Identifier: MIT */
/*
 * Driver profile loader: rte_cfgfile parse, strict keys (a typo is an
 * error, not a silent default), placeholder expansion.
 */
#include "server/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>

#include "quorate/err.h"

static const char *const known[][8] = {
	{"profile", "name", "description", NULL},
	{"eal", "args", "vdev", NULL},
	{"port", "rx_desc", "tx_desc", "mbufs", "mbuf_cache", "steering",
	 "tx_checksum_offload", NULL},
	{"loop", "idle", "doorbell", "spin_us", NULL},
	{"mesh", "vdev", NULL},
};

/* [loop] doorbell names one board for the whole local cluster: a
 * placeholder other than {run} would give each node its own. */
static bool doorbell_vars_bad(const char *v)
{
	for (const char *b = strchr(v, '{'); b; b = strchr(b + 1, '{'))
		if (strncmp(b, "{run}", 5))
			return true;
	return false;
}

static int fail(char *err, size_t n, const char *path, const char *sec,
		const char *key, const char *what)
{
	if (sec)
		snprintf(err, n, "%s: [%s] %s: %s", path, sec, key, what);
	else
		snprintf(err, n, "%s: %s", path, what);
	return QR_ECONFIG;
}

static int get_uint(struct rte_cfgfile *cf, const char *path, const char *sec,
		    const char *key, uint32_t lo, uint32_t hi, uint32_t def,
		    uint32_t *out, char *err, size_t n)
{
	const char *v = rte_cfgfile_get_entry(cf, sec, key);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi) {
		char what[96];
		snprintf(what, sizeof(what), "'%s' is not an integer in %u..%u",
			 v, lo, hi);
		return fail(err, n, path, sec, key, what);
	}
	*out = (uint32_t)x;
	return 0;
}

static int get_bool(struct rte_cfgfile *cf, const char *path, const char *sec,
		    const char *key, bool def, bool *out, char *err, size_t n)
{
	const char *v = rte_cfgfile_get_entry(cf, sec, key);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return fail(err, n, path, sec, key, "expected yes or no");
	return 0;
}

static int copy_str(struct rte_cfgfile *cf, const char *path, const char *sec,
		    const char *key, char *dst, size_t dst_len, char *err,
		    size_t n)
{
	const char *v = rte_cfgfile_get_entry(cf, sec, key);
	if (!v) {
		dst[0] = 0;
		return 0;
	}
	if (strlen(v) >= dst_len)
		return fail(err, n, path, sec, key, "too long");
	strcpy(dst, v);
	return 0;
}

static int check_keys(struct rte_cfgfile *cf, const char *path, char *err,
		      size_t n)
{
	int nsec = rte_cfgfile_num_sections(cf, NULL, 0);
	for (int s = 0; s < nsec; s++) {
		char sec[CFG_NAME_LEN];
		struct rte_cfgfile_entry e[32];
		int ne = rte_cfgfile_section_num_entries_by_index(cf, sec, s);
		if (ne < 0)
			return fail(err, n, path, NULL, NULL, "unreadable");
		int k = -1;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(known[i][0], sec))
				k = (int)i;
		if (k < 0) {
			char what[96];
			snprintf(what, sizeof(what), "unknown section [%s]",
				 sec);
			return fail(err, n, path, NULL, NULL, what);
		}
		if (ne > 32 || rte_cfgfile_section_entries_by_index(
				       cf, s, sec, e, 32) != ne)
			return fail(err, n, path, sec, "*", "too many keys");
		for (int j = 0; j < ne; j++) {
			bool ok = false;
			for (int i = 1; known[k][i]; i++)
				ok |= !strcmp(known[k][i], e[j].name);
			if (!ok)
				return fail(err, n, path, sec, e[j].name,
					    "unknown key");
		}
	}
	return 0;
}

int qr_profile_load(const char *path, struct qr_profile *out, char *err,
		    size_t n)
{
	struct qr_profile p;
	memset(&p, 0, sizeof(p));
	struct rte_cfgfile *cf = rte_cfgfile_load(path, 0);
	if (!cf) {
		char what[128];
		snprintf(what, sizeof(what), "cannot read: %s",
			 errno ? strerror(errno) : "not an INI file");
		return fail(err, n, path, NULL, NULL, what);
	}
	int rc = check_keys(cf, path, err, n);
	uint32_t v;
	if (!rc &&
	    snprintf(p.path, sizeof(p.path), "%s", path) >= (int)sizeof(p.path))
		rc = fail(err, n, path, NULL, NULL, "path too long");
	if (!rc)
		rc = copy_str(cf, path, "profile", "name", p.name,
			      sizeof(p.name), err, n);
	if (!rc)
		rc = copy_str(cf, path, "eal", "args", p.eal_args,
			      sizeof(p.eal_args), err, n);
	if (!rc)
		rc = copy_str(cf, path, "eal", "vdev", p.vdev, sizeof(p.vdev),
			      err, n);
	if (!rc)
		rc = copy_str(cf, path, "mesh", "vdev", p.mesh_vdev,
			      sizeof(p.mesh_vdev), err, n);
	if (!rc)
		rc = copy_str(cf, path, "loop", "doorbell", p.doorbell,
			      sizeof(p.doorbell), err, n);
	if (!rc && doorbell_vars_bad(p.doorbell))
		rc = fail(err, n, path, "loop", "doorbell",
			  "only {run} may be used: every process of the "
			  "cluster (qr-vswitch too) must name the same board");
	if (!rc && !(rc = get_uint(cf, path, "port", "rx_desc", 64, 16384, 1024,
				   &v, err, n)))
		p.rx_desc = (uint16_t)v;
	if (!rc && !(rc = get_uint(cf, path, "port", "tx_desc", 64, 16384, 1024,
				   &v, err, n)))
		p.tx_desc = (uint16_t)v;
	if (!rc)
		rc = get_uint(cf, path, "port", "mbufs", 1023, 1u << 24, 8191,
			      &p.mbufs, err, n);
	if (!rc)
		rc = get_uint(cf, path, "port", "mbuf_cache", 0, 512, 256,
			      &p.mbuf_cache, err, n);
	if (!rc)
		rc = get_bool(cf, path, "port", "tx_checksum_offload", false,
			      &p.tx_checksum_offload, err, n);
	if (!rc) {
		const char *s = rte_cfgfile_get_entry(cf, "port", "steering");
		if (!s || !strcmp(s, "software"))
			p.steering = QR_STEER_SOFTWARE;
		else if (!strcmp(s, "rte_flow"))
			p.steering = QR_STEER_RTE_FLOW;
		else
			rc = fail(err, n, path, "port", "steering",
				  "expected software or rte_flow");
	}
	if (!rc) {
		const char *s = rte_cfgfile_get_entry(cf, "loop", "idle");
		p.idle_poll = s && !strcmp(s, "poll");
		p.idle_interrupt = s && !strcmp(s, "interrupt");
		if (s && !p.idle_poll && !p.idle_interrupt &&
		    strcmp(s, "backoff"))
			rc = fail(err, n, path, "loop", "idle",
				  "expected backoff, interrupt or poll");
	}
	if (!rc)
		rc = get_uint(cf, path, "loop", "spin_us", 0, 10000, 50,
			      &p.spin_us, err, n);
	if (!rc && !p.name[0])
		rc = fail(err, n, path, "profile", "name", "missing");
	rte_cfgfile_close(cf);
	if (!rc)
		*out = p;
	return rc;
}

unsigned qr_profile_framesz(unsigned peer_frame)
{
	return (peer_frame + 42u + 128u + 2047u) / 2048u * 2048u;
}

int qr_profile_vdev_fits(const char *vdev, unsigned peer_frame, char *err,
			 size_t err_len)
{
	bool afp = !strncmp(vdev, "net_af_packet", 13);
	const char *key = afp ? ",framesz=" : ",bsize=";
	if (!afp && strncmp(vdev, "net_memif", 9))
		return 0;
	unsigned need = peer_frame + 42u + (afp ? 128u : 0u);
	const char *p = strstr(vdev, key);
	unsigned long have = p ? strtoul(p + strlen(key), NULL, 10) : 2048;
	if (have >= need)
		return 0;
	snprintf(err, err_len,
		 "peer_frame_bytes %u needs %s%u or more in the profile's vdev "
		 "(it has %lu; the shipped profiles use {framesz})",
		 peer_frame, key + 1, need, have);
	return QR_ECONFIG;
}

/* 0 (vars built without it): the default frame's. */
static unsigned framesz_of(const struct qr_profile_vars *v)
{
	return v->framesz ? v->framesz : qr_profile_framesz(1472);
}

/* The pair placeholders of [mesh] vdev: true (val set) if name is one. */
static bool mesh_var(const char *name, size_t len,
		     const struct qr_profile_vars *v, char *tmp, size_t tmp_len,
		     const char **val)
{
	unsigned x;
	if (len == 4 && !strncmp(name, "role", 4)) {
		*val = v->role;
		return true;
	}
	if (len == 4 && !strncmp(name, "peer", 4))
		x = v->peer;
	else if (len == 2 && !strncmp(name, "lo", 2))
		x = v->lo;
	else if (len == 2 && !strncmp(name, "hi", 2))
		x = v->hi;
	else
		return false;
	snprintf(tmp, tmp_len, "%u", x);
	*val = tmp;
	return true;
}

int qr_profile_expand(const char *in, const struct qr_profile_vars *v,
		      char *out, size_t out_len, char *err, size_t n)
{
	size_t o = 0;
	for (const char *p = in; *p;) {
		char tmp[32];
		const char *val = NULL;
		if (*p != '{') {
			if (o + 1 >= out_len)
				goto too_long;
			out[o++] = *p++;
			continue;
		}
		const char *close = strchr(p, '}');
		if (!close) {
			snprintf(err, n, "profile: unterminated '{' in '%s'",
				 in);
			return QR_ECONFIG;
		}
		size_t len = (size_t)(close - p - 1);
		if (len == 5 && !strncmp(p + 1, "iface", 5))
			val = v->iface;
		else if (len == 3 && !strncmp(p + 1, "run", 3))
			val = v->run;
		else if (len == 3 && !strncmp(p + 1, "pci", 3))
			val = v->pci;
		else if (len == 4 && !strncmp(p + 1, "node", 4)) {
			snprintf(tmp, sizeof(tmp), "%u", v->node);
			val = tmp;
		} else if (len == 7 && !strncmp(p + 1, "cluster", 7)) {
			snprintf(tmp, sizeof(tmp), "%u", v->cluster);
			val = tmp;
		} else if (len == 7 && !strncmp(p + 1, "framesz", 7)) {
			snprintf(tmp, sizeof(tmp), "%u", framesz_of(v));
			val = tmp;
		} else if (v->mesh && mesh_var(p + 1, len, v, tmp, sizeof(tmp),
					       &val)) {
			/* {peer} {lo} {hi} {role}: only in [mesh] vdev */
		} else if (len == 7 && !strncmp(p + 1, "blocksz", 7)) {
			unsigned f = framesz_of(v);
			snprintf(tmp, sizeof(tmp), "%u", f % 4096 ? 2 * f : f);
			val = tmp;
		} else {
			snprintf(err, n, "profile: unknown placeholder '%.*s'",
				 (int)len + 2, p);
			return QR_ECONFIG;
		}
		if (!val || !val[0]) {
			snprintf(err, n,
				 "profile: '%.*s' is used but has no value "
				 "(set it in the cluster file or on the "
				 "command line)",
				 (int)len + 2, p);
			return QR_ECONFIG;
		}
		size_t vl = strlen(val);
		if (o + vl >= out_len)
			goto too_long;
		memcpy(out + o, val, vl);
		o += vl;
		p = close + 1;
	}
	out[o] = 0;
	return 0;
too_long:
	snprintf(err, n, "profile: '%s' too long once expanded", in);
	return QR_ECONFIG;
}

bool qr_profile_memif_client(const struct qr_profile *p)
{
	return !strncmp(p->vdev, "net_memif", 9) &&
	       strstr(p->vdev, "role=client") != NULL;
}
