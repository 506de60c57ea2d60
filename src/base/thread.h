/* SPDX-License-Identifier: MIT */
/*
 * Starting slabvm's threads (vCPUs, the console reader, watchdogs) with a stack that
 * transparent huge pages cannot back.
 *
 * glibc gives a thread a stack of RLIMIT_STACK (8 MiB) as one anonymous mapping. Where the
 * host's transparent_hugepage/enabled is `always` (Debian 12's default), the first touch of
 * its top makes it a 2 MiB huge page: in the testbed's level 1 one of slabvm's thread stacks
 * held 2 MiB resident for the few KiB it used (docs/bench.md, "Start-up"). A mapping smaller
 * than 2 MiB holds no aligned 2 MiB range, so it is only ever backed by 4 KiB pages.
 */
#ifndef SLABVM_THREAD_H
#define SLABVM_THREAD_H

#include <pthread.h>

/* 1 MiB: under 2 MiB, and far above what any of slabvm's threads uses (sanitizers included). */
#define THREAD_STACK_SIZE (1u << 20)

/* pthread_create with a THREAD_STACK_SIZE stack; 0 or a positive errno, as pthread_create. */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
