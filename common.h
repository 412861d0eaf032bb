/*
 * common.h - what shared_mem_writer.c and shared_mem_reader.c agree on:
 * the segment's default name and size, the default message, the layout of
 * the bytes inside the segment, and the few helpers both programs need in
 * the same form.  Both programs include this file, so they cannot disagree
 * about any of it.
 */
#ifndef SHM_DEMO_COMMON_H
#define SHM_DEMO_COMMON_H

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define SHM_NAME            "/shm_demo" /* default segment name (-n changes it) */
#define SHM_SIZE            4096        /* default segment size in bytes (-s changes it) */
#define SHM_DEFAULT_MESSAGE "Hello from the writer, through POSIX shared memory!"

/*
 * The values of 'ready'.  A new segment is all zero bytes, so 0 means the
 * writer is still filling it in.  The writer stores SHM_READY when, and only
 * when, the message is complete; the one reader that turns SHM_READY into
 * SHM_TAKEN owns the message from then on (see the claim in the reader).
 */
#define SHM_READY 0x52454459u /* "REDY" in ASCII: unlikely to be there by chance */
#define SHM_TAKEN 0x54414B4Eu /* "TAKN": a reader has claimed it and is printing it */

/*
 * The layout of a segment: a small header, then the message bytes, which run
 * to the end of the segment.  'ready' is an atomic so that the writer can
 * publish the message with one store the reader is guaranteed to see only
 * after everything written before it, and so that two readers cannot both
 * claim it.
 */
struct segment {
	atomic_uint ready;  /* 0, SHM_READY or SHM_TAKEN */
	size_t message_len; /* how many bytes of message[] are in use */
	char message[];     /* the message itself; not a C string, may hold NULs */
};

/* Bytes before the message: the smallest segment that can hold anything. */
#define SHM_HEADER_SIZE offsetof(struct segment, message)

/*
 * Two processes share 'ready' only if the atomic is lock-free: a lock would
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

/* Say which step failed on which segment, the system's reason, and what to do. */
static inline void report(const char *step, const char *name, int error, const char *advice)
{
	warnx("%s %s: %s (%s)", step, name, strerror(error), advice);
}

/*
 * shm_open, made safe for names that anyone can take and for descriptors
 * that a careless parent left closed.  Writer step 2, reader steps 2 and 9.
 */
static inline int open_segment(const char *name, int oflag, mode_t mode)
{
	int fd, high;

#ifdef __linux__
	/* On Linux a name is a file in /dev/shm, where anyone may plant a FIFO
	 * whose open would wait forever for a second party.  O_NONBLOCK makes
	 * that open return at once, and changes nothing for a real segment. */
	oflag |= O_NONBLOCK;
#endif
	fd = shm_open(name, oflag, mode);
	if (fd == -1 || fd > STDERR_FILENO || (oflag & O_ACCMODE) != O_RDWR)
		return fd;
	/* Standard input, output or error was closed when we started, and the
	 * segment got its number: our own input, output and error messages
	 * would go through a descriptor that can change the segment.  Move it
	 * above them; the low number stays closed, so using it fails (EBADF)
	 * as it would have without us.  (A read-only descriptor cannot change
	 * the segment, and ours are closed before anything reads them.) */
	high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (high == -1) {
		int error = errno;
		(void)close(fd);
		errno = error;
		return -1;
	}
	(void)close(fd); /* a second descriptor for it is open: this cannot fail */
	return high;
}

/*
 * Reader step 9, and the writer's clean-up: remove the name, but only if it
 * still refers to 'ours', the object we created or claimed (as fstat
 * described it).  shm_unlink acts on a name,
 * and meanwhile writer.out -f may have given that name to a new segment,
 * whose message must survive us.  Returns 0 when the name is gone or left to
 * its new owner, -1 with errno set when it could not be checked or removed.
 */
static inline int remove_if_ours(const char *name, const struct stat *ours)
{
	struct stat now;
	int fd = open_segment(name, O_RDONLY, 0), error;

	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	error = fstat(fd, &now) == -1 ? errno : 0;
	if (close(fd) == -1 && error == 0)
		error = errno;
	if (error != 0) {
		errno = error;
		return -1;
	}
	if (now.st_dev != ours->st_dev || now.st_ino != ours->st_ino)
		return 0; /* another segment has the name now: not ours to remove */
	/* POSIX has no "remove this name only if it is this object", so a
	 * writer.out -f that replaces it between the check and here loses its
	 * new segment.  The window is a few system calls long. */
	if (shm_unlink(name) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/*
 * Signals.  SIGINT (Ctrl-C), SIGTERM and SIGHUP ask a program to stop, and
 * SIGPIPE says its output is gone; by default they end it on the spot, and a
 * segment it was filling or holding would be left behind.  The handler only records which signal came: it may
 * run between any two instructions of the program, so it must not touch the
 * segment or call anything that is not async-signal-safe.  The program looks
 * at 'interrupted' where it waits, and before each step that cannot be undone,
 * cleans up, and then ends by the same signal (finish).
 */
static volatile sig_atomic_t interrupted; /* the signal that came, or 0 */

static void on_signal(int signal_number)
{
	interrupted = signal_number;
}

/*
 * Step 1 of both programs: catch each of 'signals' with on_signal.  No SA_RESTART: a read or write
 * that is waiting when a signal comes must return (with EINTR) so that the
 * program sees the signal now, not when the input or the pipe moves again.
 * A signal that was ignored when we started stays ignored: a shell starts a
 * script's background jobs with SIGINT ignored, and nohup ignores SIGHUP.
 */
static inline int catch_signals(const int *signals, size_t count)
{
	struct sigaction action, before;

	memset(&action, 0, sizeof action);
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	for (size_t i = 0; i < count; i++) {
		if (sigaction(signals[i], &action, &before) == -1)
			return -1;
		if (before.sa_handler != SIG_IGN)
			continue;
		if (sigaction(signals[i], &before, NULL) == -1)
			return -1;
		if (interrupted == signals[i]) /* it came in between: it was meant to be ignored */
			interrupted = 0;
	}
	return 0;
}

/*
 * Every exit after catch_signals goes through here.  With no signal caught,
 * it returns 'status' for main to return.  After a signal, the clean-up is
 * done: end by that signal, with its default action, so that the parent (a
 * shell, a script) sees "killed by SIGINT" and stops too, as it would have
 * without our handler.
 */
static inline int finish(int status)
{
	int signal_number = interrupted; /* read once: another signal may still come */
	struct sigaction action;

	if (signal_number == 0)
		return status;
	memset(&action, 0, sizeof action);
	action.sa_handler = SIG_DFL;
	sigemptyset(&action.sa_mask);
	if (sigaction(signal_number, &action, NULL) == 0)
		(void)raise(signal_number);
	return status; /* not reached: the default action of these signals ends the process */
}

#endif
