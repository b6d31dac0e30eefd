/* SPDX-License-Identifier: MIT */
/*
 * Minimal DPDK EAL start for processes that use DPDK memory and libraries
 * (rte_malloc, rte_ring) but no ports: the simulator, unit tests, benchmarks
 * and tools. No hugepages, no shared config (so many can run at once), no
 * PCI scan, no telemetry socket, quiet logs.
 */
#ifndef QR_COMMON_EAL_LOCAL_H
#define QR_COMMON_EAL_LOCAL_H

/* 0 or QR_EIO. Idempotent within a process. */
int qr_eal_init_local(const char *prog, unsigned mem_mb);

#endif
