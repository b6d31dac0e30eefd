/* SPDX-License-Identifier: MIT */
#include "common/eal_local.h"

#include <stdio.h>

#include <rte_eal.h>

#include "quorate/err.h"

int qr_eal_init_local(const char *prog, unsigned mem_mb)
{
	static int done;
	if (done)
		return 0;
	char mem[16];
	snprintf(mem, sizeof(mem), "%u", mem_mb ? mem_mb : 256);
	char *argv[] = {
		(char *)prog,
		"--no-huge",
		"--no-shconf",
		"-m",
		mem,
		"--no-pci",
		"--no-telemetry",
		"--log-level=*:error",
		NULL,
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0)
		return QR_EIO;
	done = 1;
	return 0;
}
