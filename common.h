/*
 * common.h - what shared_mem_writer.c and shared_mem_reader.c agree on:
 * the segment's default name and size, the layout of the bytes inside it,
 * and the few small helpers both programs need in the same form.  Both
 * programs include this file, so they cannot disagree about any of it.
 */
#ifndef SHM_DEMO_COMMON_H
#define SHM_DEMO_COMMON_H

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <poll.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SHM_NAME            "/shm_demo" /* default segment name (-n changes it) */
#define SHM_SIZE            4096        /* default segment size in bytes (-s changes it) */
#define SHM_DEFAULT_MESSAGE "Hello from the writer, through POSIX shared memory!"

/*
 * The three states of a segment, in its 'state' word.  The writer's first
 * header says SHM_FILLING; it stores SHM_READY when, and only when, the
 * message is complete; the reader that printed it stores SHM_DELIVERED.
 * Each is changed only by the holder of the segment's lock.
 */
#define SHM_FILLING   0u          /* a writer is at work on it, or died at work */
#define SHM_READY     0x52454459u /* "REDY" in ASCII: unlikely to be there by chance */
#define SHM_DELIVERED 0x444F4E45u /* "DONE": printed; the name is about to go */

/* The mark that writer.out puts in every segment it makes, from the moment
 * the segment has a size: a reader removes nothing without it. */
#define SHM_MARK 0x44454D4Fu /* "DEMO" */

/*
 * The layout of a segment: a 16-byte header, then the message bytes, which
 * run to the end of the segment.  Every field has a fixed width, so that a
 * 32-bit and a 64-bit build agree on where each one is.  'state' is an atomic
 * so that the writer can publish the message with one store that a reader
 * sees only after everything written before it.
 */
struct segment {
	atomic_uint state;    /* SHM_FILLING, SHM_READY or SHM_DELIVERED (32 bits) */
	uint32_t mark;        /* SHM_MARK: made by writer.out; message_len starts at byte 8 */
	uint64_t message_len; /* how many bytes of message[] are in use */
	char message[];       /* the message itself; not a C string, may hold NULs */
};

/* Bytes before the message: the smallest segment that can hold anything. */
#define SHM_HEADER_SIZE offsetof(struct segment, message)

_Static_assert(sizeof(atomic_uint) == 4 && SHM_HEADER_SIZE == 16,
               "the header must be 16 bytes, as every other build sees it");

/*
 * Two processes share 'state' only if the atomic is lock-free: a lock would
 * live inside one process, where the other cannot see it.
 */
#if ATOMIC_INT_LOCK_FREE != 2
#error "atomic_uint is not lock-free here, so it cannot be shared between processes"
#endif

/*
 * A portable segment name is "/" followed by at least one character and no
 * further "/".  On Linux it becomes a file in /dev/shm, so it is also bound
 * by NAME_MAX, and "/." and "/.." would name /dev/shm itself and /dev.
 * Returns NULL when the name is good, or the reason it is not.
 */
static inline const char *segment_name_problem(const char *name)
{
	if (name[0] != '/' || name[1] == '\0')
		return "NAME must be \"/\" followed by at least one character";
	if (strchr(name + 1, '/') != NULL)
		return "NAME must not contain a \"/\" after the first one";
	if (strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
		return "NAME must not be \"/.\" or \"/..\"";
	if (strlen(name + 1) > NAME_MAX)
		return "NAME is longer than the system allows (NAME_MAX)";
	return NULL;
}

/* How many bytes the UTF-8 character at 'in' takes: 2 to 4 for a lead byte
 * followed by all its continuation bytes (10xxxxxx), 1 for anything else. */
static inline size_t utf8_length(const unsigned char *in)
{
	size_t len = *in > 0xf4 ? 1 : *in >= 0xf0 ? 4 : *in >= 0xe0 ? 3 : *in >= 0xc2 ? 2 : 1;

	for (size_t i = 1; i < len; i++)
		if ((in[i] & 0xc0) != 0x80)
			return 1;
	return len;
}

/*
 * Text that came from the user (a name, an argument), made safe to show in
 * a message.  A terminal takes control characters as commands: an escape
 * sequence can recolour it, a newline can forge a second message.  So each
 * is shown as a backslash and three octal digits (ESC as \033, a newline as
 * \012), and a backslash itself as \\, so that the form is unambiguous.
 * They are C0 (below 0x20), DEL (0x7f) and C1: 0x80 to 0x9f as single bytes,
 * or as UTF-8 (0xc2 0x80 to 0xc2 0x9f).  Every other byte is shown as it is,
 * so UTF-8 names read normally.  The result lives in a static buffer until
 * the next call; what does not fit (only an argument can be that long: a
 * name is at most NAME_MAX bytes) is cut and ends in "...".
 */
static inline const char *shown(const char *text)
{
	static char safe[(NAME_MAX + 1) * (sizeof "\\000" - 1) + sizeof "..."]; /* 4 per byte */
	const unsigned char *in = (const unsigned char *)text;
	size_t out = 0, len;

	for (; *in != '\0'; in += len) {
		len = utf8_length(in);
		if (out + 4 * len > sizeof safe - sizeof "...") {
			memcpy(safe + out, "...", sizeof "...");
			return safe;
		}
		int control = len == 1 ? *in < 0x20 || *in == 0x7f || (*in >= 0x80 && *in <= 0x9f)
		                       : len == 2 && *in == 0xc2 && in[1] <= 0x9f;
		for (size_t i = 0; i < len; i++) {
			if (control)
				out += (size_t)snprintf(safe + out, 5, "\\%03o", in[i]);
			else if (in[i] == '\\')
				out += (size_t)snprintf(safe + out, 3, "\\\\");
			else
				safe[out++] = (char)in[i];
		}
	}
	safe[out] = '\0';
	return safe;
}

/* Say what getopt found wrong, in our words rather than its own (the option
 * string starts with ':' and opterr is 0): ':' for an option that lacks its
 * argument, '?' for one that does not exist; optopt names the option, and may
 * be any byte the user typed. */
static inline void bad_option(int opt)
{
	const char option[] = {(char)optopt, '\0'};

	if (opt == ':')
		warnx("option -%s needs an argument", shown(option));
	else
		warnx("unknown option -%s", shown(option));
}

/*
 * What to do about a failed call: a hint that appears only where the error
 * means it.  advice() is each program's own: it knows what an error means
 * at each step there, and may look at a limit too.  The hints every program
 * shares are here.  NULL: the system's reason says it all.
 */
static const char *advice(const char *step, int error);

static inline const char *shared_advice(int error)
{
	switch (error) {
	case ELOOP:  /* a symbolic link */
	case EISDIR: /* a directory, on musl */
	case EINVAL: /* a directory, on glibc */
	case ENXIO:  /* a socket */
		return "something other than a segment has this name; remove it, or use another "
		       "-n NAME";
	case EROFS:
		return "/dev/shm is mounted read-only";
	case EMFILE:
	case ENFILE:
		return "raise the limit with ulimit -n, or close some files";
	default:
		return NULL;
	}
}

/* Whether ulimit -v limits our address space: only then is raising it a
 * remedy for ENOMEM from mmap. */
static inline int address_space_limited(void)
{
	struct rlimit limit;

	return getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
}

/* Say which step failed on which segment, the system's reason, and what to
 * do.  EINTR says nothing: a signal asked the program to stop, and it ends by
 * that signal, which says it all. */
static inline void report(const char *step, const char *name, int error)
{
	const char *hint = advice(step, error);

	if (error == EINTR)
		return;
	if (hint == NULL)
		warnx("%s %s: %s", step, shown(name), strerror(error));
	else
		warnx("%s %s: %s (%s)", step, shown(name), strerror(error), hint);
}

/*
 * A program started with standard input, output or error closed gets the
 * segment under that number: its own reads, output and error messages would
 * then reach the segment.  Move the segment above them; the low number stays
 * closed, so using it fails (EBADF) as it would have without us.  On failure
 * *fd is left as it was, still open.
 */
static inline int keep_off_standard_streams(int *fd)
{
	int high;

	if (*fd > STDERR_FILENO)
		return 0;
	high = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (high == -1) {
		/* EINVAL: the descriptor limit allows no number above 2. */
		if (errno == EINVAL)
			errno = EMFILE;
		return -1;
	}
	(void)close(*fd); /* 'high' is open on the same segment: this cannot fail */
	*fd = high;
	return 0;
}

/*
 * Standard input or output may come to us non-blocking (O_NONBLOCK belongs
 * to the open file, which we share with whoever passed it on): read and write
 * then fail with EAGAIN instead of waiting, and a message would be cut short.
 * Wait for the stream ourselves.  Returns 0 when it is worth trying again,
 * -1 with errno set (EINTR: a signal came).
 */
static inline int wait_for_stream(int fd, short events)
{
	struct pollfd stream = {.fd = fd, .events = events, .revents = 0};

	return poll(&stream, 1, -1) == -1 ? -1 : 0;
}

/*
 * flock(2), not in POSIX but in Linux and the BSDs: returns 1 when the lock
 * is ours, -1 with errno set when it is not (EWOULDBLOCK: someone else holds
 * it; EINTR: a signal came while we waited), and 0 where shared memory cannot
 * be locked at all (macOS and QNX say ENOTSUP, EOPNOTSUPP or EINVAL): the
 * programs then go on without the lock, and without what it tells them.
 */
static inline int lock_segment(int fd, int operation)
{
	if (flock(fd, operation) == 0)
		return 1;
	if (errno == ENOTSUP || errno == EOPNOTSUPP || errno == EINVAL)
		return 0;
	return -1;
}

/*
 * Whether the name still refers to our segment, open on fd: the same device
 * and inode.  Names are shared: the owner may have removed ours or moved the
 * file in /dev/shm (mv, or ln and rm), or writer.out -f may have put a new
 * segment there, whose message must survive us.  On Linux the segment is the
 * file /dev/shm/NAME (glibc and musl keep it there), and lstat asks without a
 * descriptor, so the answer comes even when we have none left.  Elsewhere we
 * open the name again (macOS fills in no inode, and the check is empty).
 * POSIX has no "remove this name only if it is this object", so a window
 * stays between this check and the shm_unlink that follows it.  Returns 1 or
 * 0, or -1 with errno set.
 */
static inline int same_object(const char *name, int fd)
{
	struct stat ours, named;

	if (fstat(fd, &ours) == -1)
		return -1;
#ifdef __linux__
	char path[sizeof "/dev/shm" + NAME_MAX + 1];

	(void)snprintf(path, sizeof path, "/dev/shm%s", name);
	if (lstat(path, &named) == -1)
		return errno == ENOENT ? 0 : -1;
#else
	int other = shm_open(name, O_RDONLY, 0), error = 0;

	if (other == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(other, &named) == -1)
		error = errno;
	(void)close(other);
	if (error != 0) {
		errno = error;
		return -1;
	}
#endif
	return ours.st_dev == named.st_dev && ours.st_ino == named.st_ino;
}

#endif
