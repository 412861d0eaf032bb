/*
 * common.h - what shared_mem_writer.c and shared_mem_reader.c agree on:
 * the segment's default name and size, the layout of the bytes inside it,
 * and the few small helpers both programs need in the same form.  Both
 * programs include this file, so they cannot disagree about any of it.
 */
#ifndef SHM_DEMO_COMMON_H
#define SHM_DEMO_COMMON_H

#include <sys/file.h>
#include <sys/stat.h>

#include <poll.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define SHM_NAME            "/shm_demo" /* default segment name (-n changes it) */
#define SHM_SIZE            4096        /* default segment size in bytes (-s changes it) */
#define SHM_DEFAULT_MESSAGE "Hello from the writer, through POSIX shared memory!"

/*
 * The three states of a segment, in its 'state' word.  A new segment is all
 * zero bytes, so it starts as SHM_FILLING.  The writer stores SHM_READY when,
 * and only when, the message is complete; the reader that printed it stores
 * SHM_DELIVERED.  Each is changed only by the holder of the segment's lock.
 */
#define SHM_FILLING   0u          /* a writer is at work on it, or died at work */
#define SHM_READY     0x52454459u /* "REDY" in ASCII: unlikely to be there by chance */
#define SHM_DELIVERED 0x444F4E45u /* "DONE": printed; the name is about to go */

/*
 * The layout of a segment: a 16-byte header, then the message bytes, which
 * run to the end of the segment.  Every field has a fixed width, so that a
 * 32-bit and a 64-bit build agree on where each one is.  'state' is an atomic
 * so that the writer can publish the message with one store that a reader
 * sees only after everything written before it.
 */
struct segment {
	atomic_uint state;    /* SHM_FILLING, SHM_READY or SHM_DELIVERED (32 bits) */
	uint32_t unused;      /* padding made visible: message_len starts at byte 8 */
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
 * On Linux a segment's name is a file in /dev/shm, where anyone may plant a
 * FIFO, whose open would wait forever for a second party.  With O_NONBLOCK
 * that open returns at once; for a real segment it changes nothing.  POSIX
 * does not list the flag for shm_open, so only Linux gets it.
 */
#ifdef __linux__
#define NEVER_WAIT O_NONBLOCK
#else
#define NEVER_WAIT 0
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

/* Say what getopt found wrong, in our words rather than its own (the option
 * string starts with ':' and opterr is 0): ':' for an option that lacks its
 * argument, '?' for one that does not exist; optopt names the option. */
static inline void bad_option(int opt)
{
	if (opt == ':')
		warnx("option -%c needs an argument", optopt);
	else
		warnx("unknown option -%c", optopt);
}

/*
 * What to do about a failed call, decided by the error alone, so that each
 * hint appears only where the error means it.  advice() is each program's
 * own: it knows what an error means there.  The hints every program shares
 * are here.  NULL: the system's reason says it all.
 */
static const char *advice(int error);

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

/* Say which step failed on which segment, the system's reason, and what to
 * do.  EINTR says nothing: a signal asked the program to stop, and it ends by
 * that signal, which says it all. */
static inline void report(const char *step, const char *name, int error)
{
	const char *hint = advice(error);

	if (error == EINTR)
		return;
	if (hint == NULL)
		warnx("%s %s: %s", step, name, strerror(error));
	else
		warnx("%s %s: %s (%s)", step, name, strerror(error), hint);
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
 * Whether our segment, open on fd, still has its name.  shm_unlink acts on
 * a name, and writer.out -f may have removed ours and given the name to a new
 * segment, whose message must survive us.  On Linux a segment is a file whose
 * link count fstat reports, and it drops to 0 when the name is removed; so we
 * can ask without opening the name again (which could fail for want of a
 * descriptor).  Elsewhere fstat may leave st_nlink out (macOS fills only the
 * size, mode and owner), so the check is empty there.  Returns 1 or 0, or -1
 * with errno set if fstat failed.
 */
static inline int still_named(int fd)
{
#ifdef __linux__
	struct stat now;

	if (fstat(fd, &now) == -1)
		return -1;
	return now.st_nlink > 0;
#else
	(void)fd;
	return 1;
#endif
}

#endif
