/* SPDX-License-Identifier: MIT */
/*
 * `slabvm ctl SOCKET COMMAND [NAME=VALUE ...]`: a one-shot QMP client for people who have
 * none. It negotiates capabilities, sends one command whose arguments are JSON scalars
 * (NAME=268435456, NAME=true, NAME="text" or bare text), prints the reply's JSON and
 * exits 0 for a return, 1 for an error reply, 2 for bad usage, 3 when the socket fails.
 */
#ifndef SLABVM_CTL_H
#define SLABVM_CTL_H

#include <json-c/json.h>

#include "base/error.h"

#define CTL_STATUS_OK 0
#define CTL_STATUS_ERROR_REPLY 1
#define CTL_STATUS_USAGE 2
#define CTL_STATUS_SOCKET 3

/* Builds {"execute": COMMAND, "arguments": {...}} from argv (COMMAND NAME=VALUE ...). */
int ctl_build_request(int argc, char **argv, struct json_object **req, struct error *err);
int ctl_main(int argc, char **argv);

#endif
