// SPDX-License-Identifier: MIT
#include "host/caps.h"

#include <cap-ng.h>
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * A static glibc still looks users up through nsswitch.conf, and loading a module other
 * than "files" (systemd's, here) crashes a static process: a -Dstatic=true build reads
 * /etc/passwd and /etc/group itself, and sees only the users and groups listed there.
 */
#ifdef SLABVM_STATIC
static struct passwd *caps_pw_find(const char *name, uid_t uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw = NULL;

	if (!f)
		return NULL;
	while ((pw = fgetpwent(f)))
		if (name ? !strcmp(pw->pw_name, name) : pw->pw_uid == uid)
			break;
	fclose(f);
	return pw;
}

static struct passwd *caps_getpwnam(const char *name)
{
	return caps_pw_find(name, 0);
}

static struct passwd *caps_getpwuid(uid_t uid)
{
	return caps_pw_find(NULL, uid);
}

static struct group *caps_getgrnam(const char *name)
{
	FILE *f = fopen("/etc/group", "re");
	struct group *gr = NULL;

	if (!f)
		return NULL;
	while ((gr = fgetgrent(f)))
		if (!strcmp(gr->gr_name, name))
			break;
	fclose(f);
	return gr;
}
#else
#define caps_getpwnam getpwnam
#define caps_getpwuid getpwuid
#define caps_getgrnam getgrnam
#endif

/* A decimal id: digits only, and not -1 (which set*id calls read as "unchanged"). */
static bool caps_parse_id(const char *s, size_t len, uint32_t *out)
{
	unsigned long long v = 0;
	size_t i;

	if (!len || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int caps_user_part(const char *spec, size_t len, struct caps_user *out, bool *has_gid,
			  struct error *err)
{
	char name[256];
	struct passwd *pw;
	uint32_t id;

	if (caps_parse_id(spec, len, &id)) {
		out->uid = id;
		pw = caps_getpwuid(id);
	} else {
		if (!len || len >= sizeof(name))
			return error_usage(err, -EINVAL, "--user %s: no such user", spec);
		memcpy(name, spec, len);
		name[len] = 0;
		pw = caps_getpwnam(name);
		if (!pw)
			return error_usage(err, -EINVAL, "--user %s: no such user", spec);
		out->uid = pw->pw_uid;
	}
	*has_gid = pw != NULL;
	if (pw)
		out->gid = pw->pw_gid;
	return 0;
}

static int caps_group_part(const char *spec, const char *group, struct caps_user *out,
			   struct error *err)
{
	struct group *gr;
	uint32_t id;

	if (caps_parse_id(group, strlen(group), &id)) {
		out->gid = id;
		return 0;
	}
	gr = *group ? caps_getgrnam(group) : NULL;
	if (!gr)
		return error_usage(err, -EINVAL, "--user %s: no such group", spec);
	out->gid = gr->gr_gid;
	return 0;
}

int caps_user_resolve(const char *spec, struct caps_user *out, struct error *err)
{
	const char *colon;
	bool has_gid;
	int ret;

	*out = (struct caps_user){.change = true};
	if (!spec) {
		struct passwd *pw;

		if (geteuid() != 0) {
			out->change = false;
			return 0;
		}
		/* A system without a user database (a minimal initramfs, the testbed) still
		 * gets an unprivileged user: the kernel's own overflow id. */
		pw = caps_getpwnam(CAPS_DEFAULT_USER);
		out->uid = pw ? pw->pw_uid : CAPS_FALLBACK_ID;
		out->gid = pw ? pw->pw_gid : CAPS_FALLBACK_ID;
		spec = CAPS_DEFAULT_USER;
	} else {
		colon = strchr(spec, ':');
		ret = caps_user_part(spec, colon ? (size_t)(colon - spec) : strlen(spec), out,
				     &has_gid, err);
		if (!ret && colon)
			ret = caps_group_part(spec, colon + 1, out, err);
		else if (!ret && !has_gid)
			return error_usage(err, -EINVAL,
					   "--user %s: not in the user database, so it has no "
					   "group: give USER:GROUP",
					   spec);
		if (ret)
			return ret;
	}
	if (out->uid == 0 || out->gid == 0)
		return error_usage(err, -EINVAL, "--user %s: uid and gid must not be 0 (root)",
				   spec);
	return 0;
}

int caps_raise_memlock(uint64_t bytes, bool required, struct error *err)
{
	struct rlimit rl;
	rlim_t want = bytes + CAPS_MEMLOCK_SLACK;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return error_set(err, -errno, "getrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		struct rlimit nrl = {want, rl.rlim_max};

		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
			nrl.rlim_max = want; /* needs CAP_SYS_RESOURCE, which we still hold */
		if (setrlimit(RLIMIT_MEMLOCK, &nrl) < 0) {
			if (required)
				return error_set(
					err, -errno,
					"cannot raise RLIMIT_MEMLOCK to %llu MiB for vfio: %s",
					(unsigned long long)(want >> 20), strerror(errno));
			/* Without a pinning listener nothing is ever locked: carry on. */
		}
	}
	return 0;
}

/* setgroups, setresgid, setresuid: the C library applies each to every thread, and there is
 * only this one yet. */
static int caps_become(const struct caps_user *u, struct error *err)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (setgroups(0, NULL) < 0)
		return error_set(err, -errno, "setgroups: %s", strerror(errno));
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return error_set(err, -errno, "cannot become gid %u: %s", (unsigned int)u->gid,
				 strerror(errno));
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return error_set(err, -errno, "cannot become uid %u: %s", (unsigned int)u->uid,
				 strerror(errno));
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != u->uid ||
	    e != u->uid || s != u->uid || rg != u->gid || eg != u->gid || sg != u->gid ||
	    getgroups(0, NULL) != 0)
		return error_set(err, -EPERM, "the user change to %u:%u did not take",
				 (unsigned int)u->uid, (unsigned int)u->gid);
	return 0;
}

int caps_drop_all(const struct caps_user *user, struct error *err)
{
	const capng_select_t what = CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT;
	int ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	capng_get_caps_process();
	/* Emptying the bounding set needs CAP_SETPCAP, which the user change takes away, so it
	 * goes first; without it (not root) the bounding set is harmless anyway, since
	 * no_new_privs forbids gaining anything from it. */
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP)) {
		capng_clear(CAPNG_SELECT_BOUNDS);
		if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
			return error_set(err, -EPERM,
					 "emptying the capability bounding set failed");
	}
	if (user->change) {
		ret = caps_become(user, err);
		if (ret)
			return ret;
	}
	capng_get_caps_process();
	capng_clear(what);
	if (capng_apply(what) < 0)
		return error_set(err, -EPERM, "dropping capabilities failed");
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		return error_set(err, -EPERM, "capabilities remain after dropping them");
	return 0;
}
