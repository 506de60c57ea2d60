// SPDX-License-Identifier: MIT
#include "host/caps.h"

#include <cap-ng.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

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

int caps_drop_all(struct error *err)
{
	capng_select_t what = CAPNG_SELECT_BOTH;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	capng_get_caps_process();
	/* Emptying the bounding set needs CAP_SETPCAP; without it (not root) the bounding set
	 * is harmless anyway, since no_new_privs forbids gaining anything from it. */
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP))
		what = CAPNG_SELECT_ALL;
	capng_clear(what);
	if (capng_apply(what) < 0)
		return error_set(err, -EPERM, "dropping capabilities failed");
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		return error_set(err, -EPERM, "capabilities remain after dropping them");
	return 0;
}
