/* common.h - what shared_mem_writer.c and shared_mem_reader.c agree on: the defaults, a segment's
 * layout and how to tell what one holds; then what both do, so they cannot differ; last, the
 * command line's helpers. */
#ifndef SHM_DEMO_COMMON_H
#define SHM_DEMO_COMMON_H

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHM_NAME            "/shm_demo" /* default segment name (-n changes it) */
#define SHM_SIZE            4096        /* default segment size in bytes (-s changes it) */
#define SHM_DEFAULT_MESSAGE "Hello from the writer, through POSIX shared memory!"

/* States, set only under the lock: filling, ready once complete, delivered once printed. */
#define SHM_FILLING   0u          /* a writer is at work on it, or died at work */
#define SHM_READY     0x52454459u /* "REDY" in ASCII: unlikely to be there by chance */
#define SHM_DELIVERED 0x444F4E45u /* "DONE": printed; the name is about to go */
#define SHM_MARK      0x44454D4Fu /* "DEMO": made by writer.out, from its first bytes on */

/* The layout: a 16-byte header, then the message, to the segment's end.  Fixed
 * widths: 32-bit and 64-bit builds agree on every offset.  'state' is atomic:
 * one store publishes, seen only after everything written before it. */
struct segment {
	atomic_uint state;    /* SHM_FILLING, SHM_READY or SHM_DELIVERED (32 bits) */
	uint32_t mark;        /* SHM_MARK */
	uint64_t message_len; /* how many bytes of message[] are in use */
	char message[];       /* the message itself; not a C string, may hold NULs */
};

struct header { /* the header as a program reads it once: it uses what it checks */
	unsigned state;
	uint32_t mark;
	uint64_t message_len;
};

#define SHM_HEADER_SIZE offsetof(struct segment, message)
_Static_assert(sizeof(atomic_uint) == 4 && SHM_HEADER_SIZE == 16 && sizeof(struct header) == 16,
               "the header must be 16 bytes, as every other build sees it");
#if ATOMIC_INT_LOCK_FREE != 2 /* a lock would live inside one process, unseen by the other */
#error "atomic_uint is not lock-free here, so it cannot be shared between processes"
#endif

/* What a program holding a segment's lock finds, from fstat and the header (NULL if none).  The
 * first three need nobody: whoever comes next removes them, the one clean-up after a death. */
enum found {
	EMPTY,     /* 0 bytes and owner-only: its writer died before its header */
	ABANDONED, /* marked, still filling: its writer died at work */
	DELIVERED, /* marked, delivered: its reader died before removing it */
	MESSAGE,   /* marked, ready, and the length fits: a message for a reader */
	FOREIGN,   /* not writer.out's: left alone */
	DAMAGED,   /* marked, but a state no program stores, or a length past the end */
	TOO_LARGE, /* a message too large for this build to map */
};

static inline enum found classify(const struct stat *info, const struct header *header)
{
	if (header == NULL && S_ISREG(info->st_mode) && info->st_size == 0 &&
	    (info->st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return EMPTY;
	if (header == NULL || header->mark != SHM_MARK)
		return FOREIGN;
	if (header->state == SHM_FILLING)
		return ABANDONED;
	if (header->state == SHM_DELIVERED)
		return DELIVERED;
	if (header->state != SHM_READY ||
	    header->message_len > (uint64_t)info->st_size - SHM_HEADER_SIZE)
		return DAMAGED;
	return header->message_len > SIZE_MAX - SHM_HEADER_SIZE ? TOO_LARGE : MESSAGE;
}

static inline bool abandoned(enum found found)
{
	return found == EMPTY || found == ABANDONED || found == DELIVERED;
}

/* --- What both programs do ----------------------------------------------------------------- */

/* A program started with a standard stream closed gets the segment under its
 * number, where its reads, output or messages would land: move it above.
 * False, errno set, if it cannot. */
static inline bool above_standard_streams(int *fd)
{
	if (*fd > STDERR_FILENO)
		return true;
	int high = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (high == -1)
		return false;
	(void)close(*fd); /* 'high' is open on the same segment */
	*fd = high;
	return true;
}

/* Whether a failed flock(2) says that this system cannot lock shared memory at all (macOS):
 * there the programs go on without what the lock tells, and remove nothing as abandoned. */
static inline bool cannot_lock(int error)
{
	return error == ENOTSUP || error == EOPNOTSUPP;
}

/* Where the name leads: to the segment open on fd, elsewhere (or nowhere: -f, a mv), or we
 * could not ask (errno says why).  POSIX has no "remove only if it is this object": a window
 * stays between this and a shm_unlink.  Linux's lstat asks without a descriptor; macOS gives
 * shared memory no inode, so there all we can ask is whether the name exists. */
enum where { HERE, ELSEWHERE, UNKNOWN };

static inline enum where name_leads(const char *name, int fd)
{
#ifdef __linux__
	struct stat ours, named;
	char path[sizeof "/dev/shm" + NAME_MAX + 1];

	(void)snprintf(path, sizeof path, "/dev/shm%s", name);
	if (fstat(fd, &ours) == -1)
		return UNKNOWN;
	if (lstat(path, &named) == -1)
		return errno == ENOENT ? ELSEWHERE : UNKNOWN;
	return ours.st_dev == named.st_dev && ours.st_ino == named.st_ino ? HERE : ELSEWHERE;
#else
	int other = shm_open(name, O_RDONLY, 0);

	(void)fd;
	if (other == -1)
		return errno == ENOENT ? ELSEWHERE : UNKNOWN;
	(void)close(other);
	return HERE;
#endif
}

static inline void report(const char *step, const char *name, int error, const char *hint);

/* The one clean-up after a death, for the next writer and the next reader alike, and for a
 * writer that fails: remove the segment open on fd, whose exclusive lock the caller holds (so
 * nobody is at work on it), if it is ours, a program died in it (classify), and the name still
 * leads to it.  Asked with the lock held: a writer may have published since the caller looked.
 * (pread of shared memory works on Linux; elsewhere nothing is removed.)  True if removed. */
static inline bool clear_dead_segment(const char *name, int fd)
{
	struct stat info;
	struct header header;

	if (fstat(fd, &info) == -1 || info.st_uid != geteuid())
		return false;
	if (info.st_size >= (off_t)SHM_HEADER_SIZE &&
	    pread(fd, &header, sizeof header, 0) != (ssize_t)sizeof header)
		return false;
	if (!abandoned(classify(&info, info.st_size < (off_t)SHM_HEADER_SIZE ? NULL : &header)) ||
	    name_leads(name, fd) != HERE)
		return false;
	if (shm_unlink(name) == -1 && errno != ENOENT) {
		report("shm_unlink", name, errno, NULL);
		return false;
	}
	return true;
}

/* --- A first reading can stop here: the command line, and the words of errors -------------- *
 * (die: report, then exit 1; hint: what to do) */

/* NULL if POSIX allows the name and Linux can make it a file in /dev/shm; else why not. */
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

/* Text from the user, safe to print: a terminal obeys control characters (an
 * escape sequence recolours it, a newline forges a line), so each, and DEL,
 * is shown as \ and three octal digits (ESC: \033), and \ as \\.  In a static
 * buffer until the next call; what does not fit is cut, ending in "...". */
static inline const char *shown(const char *text)
{
	static char safe[4 * (size_t)(NAME_MAX + 1) + sizeof "..."]; /* 4 per byte at most */
	size_t out = 0;

	for (const unsigned char *in = (const unsigned char *)text; *in != '\0'; in++) {
		if (out + 4 > sizeof safe - sizeof "...") {
			memcpy(safe + out, "...", sizeof "...");
			return safe;
		}
		if (*in < 0x20 || *in == 0x7f)
			out += (size_t)snprintf(safe + out, 5, "\\%03o", *in);
		else if (*in == '\\')
			out += (size_t)snprintf(safe + out, 3, "\\\\");
		else
			safe[out++] = (char)*in;
	}
	safe[out] = '\0';
	return safe;
}

/* What getopt(3) found wrong, in our words (opterr 0, ':' first in optstring). */
static inline void bad_option(int opt)
{
	const char option[] = {(char)optopt, '\0'};

	warnx(opt == ':' ? "option -%s needs an argument" : "unknown option -%s", shown(option));
}

/* Print the usage line and exit with 'status' (1 if it cannot be printed). */
static inline _Noreturn void usage(const char *line, FILE *out, int status)
{
	if (fprintf(out, "usage: %s\n", line) < 0 || fflush(out) == EOF)
		err(1, "write the usage");
	exit(status);
}

/* The calls whose failure a learner may meet, and what to do then (hint). */
enum call { CREATE, OPEN, REMOVE, LOCK, RESERVE };

static inline const char *hint(enum call call, int error)
{
	if (error == EACCES || error == EPERM) /* the name exists, and its mode does not let us */
		return "it may belong to another user; try another -n NAME";
	if (call == CREATE && error == EEXIST)
		return "run reader.out to consume it; writer.out -f replaces it, and what it holds "
		       "is lost; if it is not yours, use another -n NAME";
	if (call == CREATE && error == ENOSPC)
		return "/dev/shm can hold no more files: remove some";
	if (call == RESERVE && error == ENOSPC)
		return "free space in /dev/shm, or send a shorter message";
	if (call == OPEN && error == ENOENT)
		return "run writer.out first";
	if (call == LOCK && error == EWOULDBLOCK) /* without waiting: somebody holds it */
		return "busy: a writer is still filling it, or a reader is printing it; wait "
		       "and run reader.out again";
	return NULL; /* the system's reason says it */
}

/* "program: step NAME: the system's reason (what to do)", the last if known. */
static inline void report(const char *step, const char *name, int error, const char *hint)
{
	if (hint == NULL)
		warnx("%s %s: %s", step, shown(name), strerror(error));
	else
		warnx("%s %s: %s (%s)", step, shown(name), strerror(error), hint);
}

/* report, then exit 1. */
static inline _Noreturn void die(const char *step, const char *name, int error, const char *hint)
{
	report(step, name, error, hint);
	exit(1);
}

#endif
