// SPDX-License-Identifier: MIT
#include "control/ctl.h"

#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
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

static int ctl_parse_match(const char *text, struct ctl_match *m, struct error *err)
{
	const char *eq = strchr(text, '=');
	size_t len;

	if (!eq || eq == text)
		return error_usage(err, -EINVAL, "--match %s: want PATH=VALUE or PATH!=VALUE",
				   text);
	m->differ = eq[-1] == '!';
	len = (size_t)(eq - text) - m->differ;
	if (len && len < sizeof(m->path)) {
		memcpy(m->path, text, len);
		m->path[len] = '\0';
	}
	if (!len || len >= sizeof(m->path) || m->path[0] == '.' || m->path[len - 1] == '.' ||
	    strstr(m->path, ".."))
		return error_usage(err, -EINVAL, "--match %s: PATH is NAME[.NAME...]", text);
	if (ctl_value(eq + 1, &m->value) < 0)
		return error_usage(err, -EINVAL, "--match %s: VALUE is a JSON scalar", text);
	return 0;
}

static int ctl_parse_timeout(const char *text, int *ms, struct error *err)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(text, &end);
	if (end == text || *end || errno || !(s > 0) || s > 86400)
		return error_usage(err, -EINVAL,
				   "--timeout %s: want seconds, more than 0 and at most 86400",
				   text);
	*ms = (int)ceil(s * 1000);
	return 0;
}

int ctl_parse_options(int argc, char **argv, struct ctl_options *o, struct error *err)
{
	bool timeout = false;
	int i, ret = 0;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = CTL_TIMEOUT_MS;
	for (i = 0; i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]; i++) {
		const char *opt = argv[i];

		if (strcmp(opt, "--wait") && strcmp(opt, "--match") && strcmp(opt, "--timeout")) {
			ret = error_usage(err, -EINVAL, "%s: unknown option", opt);
			goto fail;
		}
		if (i + 1 >= argc) {
			ret = error_usage(err, -EINVAL, "%s needs a value", opt);
			goto fail;
		}
		const char *val = argv[++i];

		if (!strcmp(opt, "--wait")) {
			if (o->wait) {
				ret = error_usage(err, -EINVAL, "--wait %s: one event only", val);
				goto fail;
			}
			if (!val[0]) {
				ret = error_usage(err, -EINVAL, "--wait needs an event name");
				goto fail;
			}
			o->wait = val;
		} else if (!strcmp(opt, "--match")) {
			if (o->nmatch == CTL_MAX_MATCHES) {
				ret = error_usage(err, -EINVAL, "--match %s: at most %d", val,
						  CTL_MAX_MATCHES);
				goto fail;
			}
			ret = ctl_parse_match(val, &o->match[o->nmatch], err);
			if (ret)
				goto fail;
			o->nmatch++;
		} else {
			ret = ctl_parse_timeout(val, &o->timeout_ms, err);
			if (ret)
				goto fail;
			timeout = true;
		}
	}
	if (!o->wait && (o->nmatch || timeout)) {
		ret = error_usage(err, -EINVAL, "%s without --wait EVENT",
				  o->nmatch ? "--match" : "--timeout");
		goto fail;
	}
	return i;
fail:
	ctl_options_release(o);
	return ret;
}

void ctl_options_release(struct ctl_options *o)
{
	unsigned int i;

	for (i = 0; i < o->nmatch; i++)
		json_object_put(o->match[i].value);
	o->nmatch = 0;
}

/* Whether data has the member path names (*out: it; a JSON null member is found). */
static bool ctl_member(struct json_object *data, const char *path, struct json_object **out)
{
	char name[sizeof(((struct ctl_match *)0)->path)];
	const char *p = path;

	for (;;) {
		size_t len = strcspn(p, ".");

		memcpy(name, p, len);
		name[len] = '\0';
		if (!json_object_is_type(data, json_type_object) ||
		    !json_object_object_get_ex(data, name, &data))
			return false;
		if (!p[len]) {
			*out = data;
			return true;
		}
		p += len + 1;
	}
}

bool ctl_event_matches(const struct ctl_options *o, struct json_object *event)
{
	struct json_object *name, *data = NULL;
	unsigned int i;

	if (!o->wait || !json_object_object_get_ex(event, "event", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    strcmp(json_object_get_string(name), o->wait))
		return false;
	json_object_object_get_ex(event, "data", &data);
	for (i = 0; i < o->nmatch; i++) {
		struct json_object *v;

		if (!ctl_member(data, o->match[i].path, &v))
			return false;
		if (json_object_equal(v, o->match[i].value) == o->match[i].differ)
			return false;
	}
	return true;
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

/* The socket's text, read as a sequence of JSON objects. */
struct ctl_reader {
	int fd;
	struct json_tokener *tok;
	char buf[4096];
	size_t have, off;
	size_t total; /* bytes read for the object being parsed */
	bool within;  /* the tokener holds part of an object */
};

static int64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The next object, or NULL when the socket fails or closes, the text is not JSON, one
 * object is longer than CTL_MAX_REPLY, or deadline (ctl_now_ms) passes; *timed_out says
 * whether it was the deadline.
 */
static struct json_object *ctl_next(struct ctl_reader *r, int64_t deadline, bool *timed_out)
{
	*timed_out = false;
	for (;;) {
		while (!r->within && r->off < r->have && strchr(" \t\r\n", r->buf[r->off]))
			r->off++;
		if (r->off < r->have) {
			struct json_object *o = json_tokener_parse_ex(r->tok, r->buf + r->off,
								      (int)(r->have - r->off));
			enum json_tokener_error e = json_tokener_get_error(r->tok);

			r->within = e == json_tokener_continue;
			if (r->within) {
				r->off = r->have;
			} else {
				r->off += (size_t)json_tokener_get_parse_end(r->tok);
				json_tokener_reset(r->tok);
				r->total = 0;
				if (e != json_tokener_success || !o ||
				    !json_object_is_type(o, json_type_object)) {
					json_object_put(o);
					return NULL;
				}
				return o;
			}
		}

		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		int64_t left = deadline - ctl_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			*timed_out = true;
			return NULL;
		}
		n = read(r->fd, r->buf, sizeof(r->buf));
		if (n <= 0)
			return NULL;
		r->have = (size_t)n;
		r->off = 0;
		r->total += r->have;
		if (r->total > CTL_MAX_REPLY)
			return NULL;
	}
}

static bool ctl_is_reply(struct json_object *o)
{
	return json_object_object_get_ex(o, "return", NULL) ||
	       json_object_object_get_ex(o, "error", NULL);
}

/*
 * Reads up to the command's reply (or, when greeting, the server's greeting), within
 * CTL_TIMEOUT_MS. Events on the way are dropped, except that with o waiting the first
 * matching one goes to *event.
 */
static struct json_object *ctl_reply(struct ctl_reader *r, bool greeting,
				     const struct ctl_options *o, struct json_object **event)
{
	int64_t deadline = ctl_now_ms() + CTL_TIMEOUT_MS;
	struct json_object *obj;
	bool timed_out;

	while ((obj = ctl_next(r, deadline, &timed_out))) {
		if (greeting ? json_object_object_get_ex(obj, "QMP", NULL) : ctl_is_reply(obj))
			return obj;
		if (o && event && !*event && ctl_event_matches(o, obj))
			*event = obj;
		else
			json_object_put(obj);
	}
	return NULL;
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

static const char ctl_usage[] =
	"usage: slabvm ctl [--wait EVENT [--match PATH=VALUE]... [--timeout SECONDS]] SOCKET\n"
	"                  COMMAND [NAME=VALUE ...]\n"
	"  --wait EVENT        after the reply, wait for EVENT and print it (exit 4 if none)\n"
	"  --match PATH=VALUE  only an EVENT whose data has PATH (a.b) equal to VALUE;\n"
	"                      PATH!=VALUE: present and different\n"
	"  --timeout SECONDS   how long to wait for EVENT (default 30)\n";

/* After the reply: the first matching event (perhaps read with the reply already). */
static int ctl_wait(struct ctl_reader *r, const struct ctl_options *o, struct json_object *event,
		    const char *socket_path)
{
	int64_t deadline = ctl_now_ms() + o->timeout_ms;
	bool timed_out = false;

	fflush(stdout);
	while (!event) {
		struct json_object *obj = ctl_next(r, deadline, &timed_out);

		if (!obj)
			break;
		if (ctl_event_matches(o, obj))
			event = obj;
		else
			json_object_put(obj);
	}
	if (event) {
		printf("%s\n", json_object_to_json_string_ext(event, JSON_C_TO_STRING_PLAIN));
		json_object_put(event);
		return CTL_STATUS_OK;
	}
	if (timed_out) {
		fprintf(stderr, "slabvm ctl: %s: no %s%s within %g s\n", socket_path, o->wait,
			o->nmatch ? " that matches" : "", o->timeout_ms / 1000.0);
		return CTL_STATUS_TIMEOUT;
	}
	fprintf(stderr, "slabvm ctl: %s: the socket failed or closed before %s came\n", socket_path,
		o->wait);
	return CTL_STATUS_SOCKET;
}

int ctl_main(int argc, char **argv)
{
	struct json_object *req, *caps, *reply, *event = NULL;
	struct ctl_reader r = {0};
	struct ctl_options o;
	struct error err = {0};
	int status, n;

	if (argc >= 1 && !strcmp(argv[0], "--help")) {
		fputs(ctl_usage, stdout);
		return CTL_STATUS_OK;
	}
	n = ctl_parse_options(argc, argv, &o, &err);
	if (n < 0) {
		fprintf(stderr, "slabvm ctl: %s\n%s", err.msg, ctl_usage);
		return CTL_STATUS_USAGE;
	}
	if (argc - n < 2 || ctl_build_request(argc - n - 1, argv + n + 1, &req, &err)) {
		if (argc - n < 2)
			fputs(ctl_usage, stderr);
		else
			fprintf(stderr, "slabvm ctl: %s\n", err.msg);
		ctl_options_release(&o);
		return CTL_STATUS_USAGE;
	}
	argv += n;
	r.fd = ctl_connect(argv[0]);
	if (r.fd < 0) {
		json_object_put(req);
		ctl_options_release(&o);
		return CTL_STATUS_SOCKET;
	}
	r.tok = json_tokener_new();
	caps = json_object_new_object();
	json_object_object_add(caps, "execute", json_object_new_string("qmp_capabilities"));
	status = CTL_STATUS_SOCKET;
	if (!r.tok || !(reply = ctl_reply(&r, true, NULL, NULL)))
		goto out;
	json_object_put(reply);
	if (ctl_send(r.fd, caps) || !(reply = ctl_reply(&r, false, NULL, NULL)))
		goto out;
	json_object_put(reply);
	if (ctl_send(r.fd, req) || !(reply = ctl_reply(&r, false, &o, &event)))
		goto out;
	printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	status = json_object_object_get_ex(reply, "error", NULL) ? CTL_STATUS_ERROR_REPLY
								 : CTL_STATUS_OK;
	json_object_put(reply);
	if (status == CTL_STATUS_OK && o.wait) {
		status = ctl_wait(&r, &o, event, argv[0]);
		event = NULL;
	}
	goto done;
out:
	fprintf(stderr, "slabvm ctl: %s: no QMP reply\n", argv[0]);
done:
	json_object_put(event);
	if (r.tok)
		json_tokener_free(r.tok);
	json_object_put(caps);
	json_object_put(req);
	ctl_options_release(&o);
	close(r.fd);
	return status;
}
