/*
 * shared_mem_reader.c - open the named POSIX shared-memory segment that
 * shared_mem_writer.c (writer.out) filled, print its message, remove it.
 *
 * usage: reader.out [-k] [-n NAME]
 *   -k        keep: print the message, change nothing and remove nothing
 *   -n NAME   segment name, "/" and a name (default /shm_demo)
 *   -h        print this help
 * Exit status: 0 printed, 1 failed (a ready message is kept for the next
 * reader), 2 bad usage.  It catches no signal: stopped at any point, it
 * leaves the message ready for the next reader, which prints it whole.
 *
 * It teaches: shm_open of an existing object, flock, fstat, mmap, checking
 * what another process left before trusting it, and shm_unlink of a name only
 * while it still leads to our object.  main() is the lesson; the helpers
 * after it handle the command line and the loops.
 */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64 /* a 64-bit off_t on 32-bit builds too: segments over 2 GiB */

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/*
 * On Linux a segment's name is a file in /dev/shm, where anyone may plant a
 * FIFO, whose open would wait forever for a second party.  With O_NONBLOCK
 * that open returns at once; for a real segment it changes nothing.  POSIX
 * does not list the flag for shm_open, so only Linux gets it.  (The writer
 * needs none: O_CREAT | O_EXCL never opens what is already there.)
 */
#ifdef __linux__
#define NEVER_WAIT O_NONBLOCK
#else
#define NEVER_WAIT 0
#endif

/* What the command line asks for. */
struct options {
	const char *name; /* the segment's name */
	int keep;         /* -k: only look; change and remove nothing */
};

/* What a segment holds (step 5).  The first three hold no message, and
 * nobody is at work on them once we hold the lock: a reader removes them. */
enum found {
	EMPTY,     /* 0 bytes and owner-only: a writer died before its header */
	ABANDONED, /* marked, still "filling": its writer died at work */
	DELIVERED, /* marked, "delivered": its reader died before removing it */
	MESSAGE,   /* marked, "ready", and the length fits: print it */
	KEPT,      /* not writer.out's, damaged, or too large to map here */
};

static void parse_options(int argc, char *argv[], struct options *options);
static int trusted(const char *name, const struct stat *info);
static enum found inspect(const char *name, const struct stat *info, const struct segment *header,
                          unsigned state, uint64_t message_len);
static void refuse(const char *name, enum found found, int locked, int keep, int named);
static int write_all(const char *data, size_t len);
static _Noreturn void usage(FILE *out, int status);

int main(int argc, char *argv[])
{
	struct options options;
	struct segment *header = NULL, *segment;
	struct stat info;
	size_t mapped;
	uint64_t message_len = 0;
	unsigned state = SHM_FILLING;
	enum found found;
	int fd, locked, named;

	parse_options(argc, argv, &options);
	const char *name = options.name;
	int keep = options.keep, prot = keep ? PROT_READ : PROT_READ | PROT_WRITE;

	/* 1. Open the existing segment.  Marking the message delivered writes to
	 *    it, so a consuming reader opens it for reading and writing; -k only
	 *    reads.  NEVER_WAIT: a FIFO planted at the name must not hang us. */
	fd = shm_open(name, (keep ? O_RDONLY : O_RDWR) | NEVER_WAIT, 0);
	if (fd == -1) {
		report("shm_open", name, errno);
		return 1;
	}
	if (keep_off_standard_streams(&fd) == -1) {
		report("fcntl", name, errno);
		return 1;
	}

	/* 2. Whose is it, and what is it?  Anyone may create a name first.  Asked
	 *    before the lock, so that another user's segment is called that even
	 *    while someone holds it. */
	if (fstat(fd, &info) == -1) {
		report("fstat", name, errno);
		return 1;
	}
	if (!trusted(name, &info))
		return 1;

	/* 3. Lock it, without waiting.  A writer holds the lock until it has
	 *    published, a consuming reader until it has printed and removed the
	 *    message, and the kernel drops it when they end, however they end.
	 *    -k shares it with other -k readers: it keeps the others out. */
	locked = lock_segment(fd, (keep ? LOCK_SH : LOCK_EX) | LOCK_NB);
	if (locked == -1) {
		report("flock", name, errno);
		return 1;
	}

	/* 4. Only now, holding the lock, ask how large it is (before, it could be
	 *    a writer's half-made one), and map its header if it has one. */
	if (fstat(fd, &info) == -1) {
		report("fstat", name, errno);
		return 1;
	}
	if (info.st_size >= (off_t)SHM_HEADER_SIZE) {
		header = mmap(NULL, SHM_HEADER_SIZE, prot, MAP_SHARED, fd, 0);
		if (header == MAP_FAILED) {
			report("mmap", name, errno);
			return 1;
		}
		/* The acquire pairs with the writer's release: once we see
		 * SHM_READY, the length and the message are complete.  The
		 * length is read once: what is checked is what is used. */
		state = atomic_load_explicit(&header->state, memory_order_acquire);
		message_len = header->message_len;
	}

	/* 5. Is there a message?  If not, and we hold the lock, nobody is at work
	 *    on it: remove it, if it is writer.out's and the name still leads
	 *    to it (inspect and refuse say what was found). */
	found = inspect(name, &info, header, state, message_len);
	if (found != MESSAGE) {
		named = locked && same_object(name, fd) == 1;
		if (named && !keep && found != KEPT && shm_unlink(name) == -1 && errno != ENOENT) {
			report("shm_unlink", name, errno);
			return 1;
		}
		refuse(name, found, locked, keep, named);
		return 1;
	}

	/* 6. Map the header and the message, and not a byte more: a large segment
	 *    costs nothing, and a 32-bit build reads a message from a segment
	 *    larger than its address space.  (inspect checked that this fits.) */
	mapped = SHM_HEADER_SIZE + (size_t)message_len;
	segment = mmap(NULL, mapped, PROT_READ, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno);
		return 1;
	}

	/* 7. Print every byte and make sure it got out (a full disk, a closed
	 *    output); if not, or if we are stopped before step 8, it stays ready.
	 *    A pipe that took the bytes has them: that is delivery. */
	if (write_all(segment->message, mapped - SHM_HEADER_SIZE) == -1 ||
	    close(STDOUT_FILENO) == -1) {
		warnx("write standard output for %s: %s (the message is kept; run reader.out "
		      "again)",
		      shown(name), strerror(errno));
		return 1;
	}

	/* 8. Delivered: say so, then remove the name if it still leads to our
	 *    segment.  From here on the message is out, whatever fails (a reader
	 *    after us removes a delivered segment that we could not). */
	if (!keep) {
		atomic_store_explicit(&header->state, SHM_DELIVERED, memory_order_relaxed);
		if (same_object(name, fd) == 1 && shm_unlink(name) == -1 && errno != ENOENT)
			report("shm_unlink", name, errno);
	}

	/* 9. Unmap and close, which releases the lock. */
	if (munmap(segment, mapped) == -1 || munmap(header, SHM_HEADER_SIZE) == -1 ||
	    close(fd) == -1)
		report("munmap or close", name, errno);
	return 0;
}

/* Read the command line into 'options'.  A usage error ends the program.
 * getopt's own messages are turned off (opterr) so that ours all start with
 * the program's name alone. */
static void parse_options(int argc, char *argv[], struct options *options)
{
	const char *problem;
	int opt;

	options->name = SHM_NAME;
	options->keep = 0;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":hkn:")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout, 0);
		case 'k':
			options->keep = 1;
			break;
		case 'n':
			options->name = optarg;
			break;
		default: /* ':' or '?' */
			bad_option(opt);
			usage(stderr, 2);
		}
	}
	if (optind != argc) {
		warnx("unexpected argument \"%s\": the message is given to writer.out",
		      shown(argv[optind]));
		usage(stderr, 2);
	}
	if ((problem = segment_name_problem(options->name)) != NULL) {
		warnx("%s", problem);
		usage(stderr, 2);
	}
}

/* What to do about a failed call of the reader at 'step' (see report in
 * common.h). */
static const char *advice(const char *step, int error)
{
	/* Mapping the message (step 6) fails when this build's address space
	 * cannot hold it: a 32-bit one says EOVERFLOW, EINVAL or ENOMEM. */
	if (strcmp(step, "mmap") == 0 && (error == EOVERFLOW || error == EINVAL || error == ENOMEM))
		return address_space_limited() && error == ENOMEM
		           ? "not enough address space to map the message: raise ulimit -v"
		           : "the message is too large for this build to map; it is kept";
	switch (error) {
	case ENOENT:
		return "run writer.out first";
	case EACCES: /* the name exists, and its mode does not let us in */
	case EPERM:
		return "it may belong to another user; try another -n NAME";
	case EWOULDBLOCK: /* from flock: somebody holds the lock */
		return "busy: a writer is still filling it, or a reader is printing it; wait and "
		       "run reader.out again";
	case EROFS: /* from shm_open with O_RDWR */
		return "/dev/shm is mounted read-only; reader.out -k prints the message without "
		       "removing it";
	default:
		return shared_advice(error);
	}
}

/* Step 2: trust only a segment that we own (anyone may create a name
 * first) and that is a segment.  Says why not. */
static int trusted(const char *name, const struct stat *info)
{
	if (info->st_uid != geteuid()) {
		warnx("check %s: owned by user %ld, not by you (refusing what someone else "
		      "may have planted; remove it, or use another -n NAME)",
		      shown(name), (long)info->st_uid);
		return 0;
	}
#ifdef __linux__
	/* On Linux a segment is a regular file in /dev/shm; a FIFO or a
	 * directory planted there is not one. */
	if (!S_ISREG(info->st_mode)) {
		warnx("check %s: not a shared-memory segment but a directory, FIFO or "
		      "other special file (remove it, or use another -n NAME)",
		      shown(name));
		return 0;
	}
#endif
	return 1;
}

/* Step 5: what the segment holds, from its size (read under the lock), its
 * header (NULL if it has none), and the state and length read from it once.
 * A reader removes only what writer.out made: a segment with its mark, or
 * one as writer.out creates it before it writes the header, empty and
 * owner-only whatever the umask.  For a KEPT one, it says why. */
static enum found inspect(const char *name, const struct stat *info, const struct segment *header,
                          unsigned state, uint64_t message_len)
{
	if (header == NULL && info->st_size == 0 && (info->st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return EMPTY;
	if (header == NULL || header->mark != SHM_MARK) {
		warnx(
		    "check %s: not a segment made by writer.out (it lacks writer.out's mark; kept: "
		    "remove it, or use another -n NAME)",
		    shown(name));
		return KEPT;
	}
	if (state == SHM_FILLING)
		return ABANDONED;
	if (state == SHM_DELIVERED)
		return DELIVERED;
	if (state != SHM_READY) {
		warnx("check %s: damaged: its state word holds no state a writer or reader stores "
		      "(replace it with writer.out -f)",
		      shown(name));
		return KEPT;
	}
	if (message_len > (uint64_t)info->st_size - SHM_HEADER_SIZE) {
		warnx("check %s: says its message is %" PRIu64 " bytes, more than its %" PRIu64
		      " bytes of room (damaged; replace it with writer.out -f)",
		      shown(name), message_len, (uint64_t)info->st_size - SHM_HEADER_SIZE);
		return KEPT;
	}
	if (message_len > SIZE_MAX - SHM_HEADER_SIZE) {
		warnx("check %s: its message of %" PRIu64 " bytes is too large for this build to "
		      "map; it is kept",
		      shown(name), message_len);
		return KEPT;
	}
	return MESSAGE;
}

/* Step 5: say why a segment of writer.out's holds no message to print, and
 * what became of it.  With the lock, nobody is at work on it any more: its
 * writer or reader stopped.  Without the lock (where shared memory cannot be
 * locked) nobody can tell, and nothing is removed. */
static void refuse(const char *name, enum found found, int locked, int keep, int named)
{
	const char *what, *outcome = "";

	if (found == KEPT)
		return; /* inspect said why */
	if (!locked) {
		warnx("check %s: not ready (a writer may still be filling it: wait and run "
		      "reader.out again; if no writer is running, writer.out -f replaces it)",
		      shown(name));
		return;
	}
	if (found == EMPTY)
		what = named ? "empty and unlocked: its writer stopped before writing anything "
		               "(killed, or crashed), or will make it again"
		             : "empty, and already removed";
	else if (found == ABANDONED)
		what = named ? "abandoned by its writer, which stopped before the message was "
		               "complete (killed, or crashed)"
		             : "abandoned by its writer, and already removed";
	else
		what = named ? "already delivered by a reader that stopped before removing it"
		             : "already delivered by another reader";
	if (named)
		outcome = keep ? "; reader.out without -k removes it" : "; removed it";
	warnx("check %s: %s%s", shown(name), what, outcome);
}

/* write() may take fewer bytes than asked: go on until every byte is out.
 * A non-blocking output that is full is waited for, not given up on. */
static int write_all(const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, data, len);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_for_stream(STDOUT_FILENO, POLLOUT) == 0)
			continue;
		if (n == -1)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Print the usage line and end with 'status'; a failure to print it is an
 * error of its own (exit 1). */
static _Noreturn void usage(FILE *out, int status)
{
	if (fputs("usage: reader.out [-k] [-n NAME]\n", out) == EOF || fflush(out) == EOF)
		err(1, "write the usage");
	exit(status);
}
