// SPDX-License-Identifier: MIT
#include "base/stop.h"

#include <stdio.h>
#include <string.h>

int stop_status(const struct stop *s)
{
	switch (s->reason) {
	case STOP_GUEST_POWEROFF:
	case STOP_QMP_QUIT:
	case STOP_CONSOLE_QUIT:
		return STOP_STATUS_POWEROFF;
	case STOP_GUEST_RESET:
		return STOP_STATUS_RESET;
	case STOP_DEBUG_EXIT:
		return s->value & 0xff;
	case STOP_VCPU_ERROR:
		return STOP_STATUS_VCPU_ERROR;
	case STOP_SIGNAL:
		return STOP_STATUS_SIGNAL_BASE + s->value;
	case STOP_MONITOR_ERROR:
	case STOP_NR:
		break;
	}
	return STOP_STATUS_ERROR;
}

size_t stop_message(const struct stop *s, char *buf, size_t size)
{
	const char *sep = s->detail[0] ? ": " : "";
	int n;

	switch (s->reason) {
	case STOP_GUEST_POWEROFF:
		n = 0;
		break;
	case STOP_DEBUG_EXIT:
		n = s->value ? snprintf(buf, size, "the guest wrote %d to the debug-exit port",
					s->value)
			     : 0;
		break;
	case STOP_GUEST_RESET:
		n = snprintf(buf, size, "the guest reset the machine%s%s", sep, s->detail);
		break;
	case STOP_VCPU_ERROR:
		n = snprintf(buf, size, "stopped on a vCPU error%s%s", sep, s->detail);
		break;
	case STOP_SIGNAL:
		n = snprintf(buf, size, "stopped by %s (signal %d%s%s)", strsignal(s->value),
			     s->value, s->detail[0] ? ", " : "", s->detail);
		break;
	case STOP_QMP_QUIT:
		n = snprintf(buf, size, "quit from the control socket");
		break;
	case STOP_CONSOLE_QUIT:
		n = snprintf(buf, size, "quit from the console (Ctrl-A x)");
		break;
	default:
		n = snprintf(buf, size, "stopped on a monitor error%s%s", sep, s->detail);
		break;
	}
	if (!n && size)
		buf[0] = '\0';
	return n < 0 ? 0 : (size_t)n;
}
