/* SPDX-License-Identifier: MIT */
/*
 * Privileges: slabvm needs root, or capabilities, only while it sets up (/dev/kvm and vfio
 * files, the memlock limit). After that it runs as an unprivileged user with no
 * supplementary groups, holds no capability and has no_new_privs set. vfio pins memory
 * again on every deflate and plug, which counts against RLIMIT_MEMLOCK, so the limit is
 * raised to cover all pluggable RAM first.
 *
 * The user: --user USER[:GROUP] (names or numbers). Without it, a process started as root
 * becomes CAPS_DEFAULT_USER with its primary group (nogroup on Debian), or, on a system
 * whose user database has no such user, uid and gid CAPS_FALLBACK_ID; a process started as
 * another user stays that user. uid 0 and gid 0 are refused: the point is to leave root.
 */
#ifndef SLABVM_CAPS_H
#define SLABVM_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* Extra lockable memory beyond guest RAM (vfio maps BARs and the kernel pins rings). */
#define CAPS_MEMLOCK_SLACK (64ULL << 20)

#define CAPS_DEFAULT_USER "nobody"
#define CAPS_FALLBACK_ID 65534 /* the kernel's overflowuid and overflowgid: nobody's */

/* Whom the process becomes: change false keeps the current ids. */
struct caps_user {
	bool change;
	uid_t uid;
	gid_t gid;
};

/* Resolves spec (--user's USER[:GROUP], or NULL for the default) against the user and
 * group databases; a bad or unknown name is a usage error. Done before any file a lookup
 * may need (NSS modules, /etc/passwd) is out of reach. */
int caps_user_resolve(const char *spec, struct caps_user *out, struct error *err);
/* Raises RLIMIT_MEMLOCK to cover bytes + slack. Fails only when required and impossible. */
int caps_raise_memlock(uint64_t bytes, bool required, struct error *err);
/* Sets no_new_privs, empties the bounding set (when allowed), becomes user (no
 * supplementary groups, then the gid, then the uid: each change needs the privilege the
 * next one drops), then drops every remaining capability. Verifies the result. */
int caps_drop_all(const struct caps_user *user, struct error *err);

#endif
