// SPDX-License-Identifier: MIT
#include "control/ctl.h"

#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_TIMEOUT_MS 30000
#define CTL_MAX_REPLY (1 << 20)

/*
 * A value: the JSON scalar the whole text is (null included), else the text as a string:
 * `1 2` or `true story` are strings, not 1 and true with the rest dropped, and so are NaN
 * and Infinity, which json-c reads but JSON has not. -1 for an object or an array.
 */
static int ctl_value(const char *text, struct json_object **out)
{
	struct json_tokener *tok = json_tokener_new();
	size_t len = strlen(text), end;
	struct json_object *v;
	bool whole;

	if (!tok)
		return -1;
	v = json_tokener_parse_ex(tok, text, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	whole = json_tokener_get_error(tok) == json_tokener_success &&
		(end >= len || text[end + strspn(text + end, " \t\n")] == '\0');
	json_tokener_free(tok);
	if (whole && v && json_object_is_type(v, json_type_double) &&
	    !isfinite(json_object_get_double(v)))
		whole = false;
	if (!whole) {
		json_object_put(v);
		*out = json_object_new_string(text);
		return 0;
	}
	if (v && (json_object_is_type(v, json_type_object) ||
		  json_object_is_type(v, json_type_array))) {
		json_object_put(v);
		return -1;
	}
	*out = v; /* NULL: JSON null */
	return 0;
}

int ctl_build_request(int argc, char **argv, struct json_object **req, struct error *err)
{
	struct json_object *args, *r;
	int i;

	if (argc < 1 || !argv[0][0])
		return error_set(err, -EINVAL, "missing COMMAND");
	args = json_object_new_object();
	for (i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		struct json_object *v;
		char name[128];

		if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(name)) {
			json_object_put(args);
			return error_set(err, -EINVAL, "%s: arguments are NAME=VALUE", argv[i]);
		}
		memcpy(name, argv[i], (size_t)(eq - argv[i]));
		name[eq - argv[i]] = '\0';
		if (ctl_value(eq + 1, &v) < 0) {
			json_object_put(args);
			return error_set(err, -EINVAL, "%s: values are JSON scalars", argv[i]);
		}
		json_object_object_add(args, name, v);
	}
	r = json_object_new_object();
	json_object_object_add(r, "execute", json_object_new_string(argv[0]));
	json_object_object_add(r, "arguments", args);
	*req = r;
	return 0;
}

/* Reads JSON objects from fd until one has "return" or "error" (events are skipped),
 * or the greeting when want_greeting. */
static struct json_object *ctl_read(int fd, struct json_tokener *tok, bool want_greeting)
{
	static char buf[4096];
	static size_t have, off;
	size_t total = 0;

	for (;;) {
		while (off < have) {
			struct json_object *o =
				json_tokener_parse_ex(tok, buf + off, (int)(have - off));
			enum json_tokener_error e = json_tokener_get_error(tok);

			if (e == json_tokener_continue) {
				off = have;
				break;
			}
			off += (size_t)json_tokener_get_parse_end(tok);
			json_tokener_reset(tok);
			if (e != json_tokener_success || !o)
				return NULL;
			if (want_greeting ? json_object_object_get_ex(o, "QMP", NULL)
					  : (json_object_object_get_ex(o, "return", NULL) ||
					     json_object_object_get_ex(o, "error", NULL)))
				return o;
			json_object_put(o); /* an event */
			while (off < have && (buf[off] == '\r' || buf[off] == '\n' ||
					      buf[off] == ' ' || buf[off] == '\t'))
				off++;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, CTL_TIMEOUT_MS) <= 0)
			return NULL;
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			return NULL;
		have = (size_t)n;
		off = 0;
		total += have;
		if (total > CTL_MAX_REPLY)
			return NULL;
	}
}

static int ctl_send(int fd, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len,
				 MSG_NOSIGNAL); /* a closed socket is an error, not a signal */

		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return send(fd, "\n", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "slabvm ctl: %s: socket path too long\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "slabvm ctl: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int ctl_main(int argc, char **argv)
{
	struct json_object *req, *caps, *reply;
	struct json_tokener *tok;
	struct error err = {0};
	int fd, status;

	if (argc < 2 || !strcmp(argv[0], "--help")) {
		fprintf(stderr, "usage: slabvm ctl SOCKET COMMAND [NAME=VALUE ...]\n");
		return argc < 2 ? CTL_STATUS_USAGE : CTL_STATUS_OK;
	}
	if (ctl_build_request(argc - 1, argv + 1, &req, &err)) {
		fprintf(stderr, "slabvm ctl: %s\n", err.msg);
		return CTL_STATUS_USAGE;
	}
	fd = ctl_connect(argv[0]);
	if (fd < 0) {
		json_object_put(req);
		return CTL_STATUS_SOCKET;
	}
	tok = json_tokener_new();
	caps = json_object_new_object();
	json_object_object_add(caps, "execute", json_object_new_string("qmp_capabilities"));
	status = CTL_STATUS_SOCKET;
	reply = ctl_read(fd, tok, true);
	if (!reply)
		goto out;
	json_object_put(reply);
	if (ctl_send(fd, caps) || !(reply = ctl_read(fd, tok, false)))
		goto out;
	json_object_put(reply);
	if (ctl_send(fd, req) || !(reply = ctl_read(fd, tok, false)))
		goto out;
	printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	status = json_object_object_get_ex(reply, "error", NULL) ? CTL_STATUS_ERROR_REPLY
								 : CTL_STATUS_OK;
	json_object_put(reply);
out:
	if (status == CTL_STATUS_SOCKET)
		fprintf(stderr, "slabvm ctl: %s: no QMP reply\n", argv[0]);
	json_tokener_free(tok);
	json_object_put(caps);
	json_object_put(req);
	close(fd);
	return status;
}
