/* SPDX-License-Identifier: MIT */
/*
 * A client program as a user writes one: only <quorate/client.h>, built
 * with `pkg-config --cflags --libs libquorate` (tests/install). Prints
 * where each key goes (partition and replica node ids) by the cluster
 * file's placement; needs no running cluster.
 *   replicas CLUSTER.ini KEY...
 */
#include <stdio.h>
#include <string.h>

#include <quorate/client.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: replicas CLUSTER.ini KEY...\n");
		return 1;
	}
	struct qr_client_options o;
	qr_client_options_default(&o);
	char err[256];
	struct qr_client *c = qr_client_open(argv[1], &o, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "replicas: %s\n", err);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		uint32_t part;
		uint16_t nodes[8];
		int n = qr_client_replicas(c, argv[i], strlen(argv[i]), &part,
					   nodes);
		if (n < 0) {
			fprintf(stderr, "replicas: %s: %s\n", argv[i],
				qr_strerror(n));
			qr_client_close(c);
			return 3;
		}
		printf("%s partition=%u replicas=", argv[i], part);
		for (int k = 0; k < n; k++)
			printf("%s%u", k ? "," : "", nodes[k]);
		printf("\n");
	}
	qr_client_close(c);
	return 0;
}
