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
 * while it is still ours.  main() is the lesson; the helpers after it handle
 * the command line and the loops.
 */
#define _POSIX_C_SOURCE 200809L

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

/* What the command line asks for. */
struct options {
	const char *name; /* the segment's name */
	int keep;         /* -k: only look; change and remove nothing */
};

static void parse_options(int argc, char *argv[], struct options *options);
static int trusted(const char *name, const struct stat *info);
static void refuse(const char *name, unsigned state, int locked, int keep, int named);
static int write_all(const char *data, size_t len);
static _Noreturn void usage(FILE *out, int status);

int main(int argc, char *argv[])
{
	struct options options;
	struct segment *segment;
	struct stat info;
	size_t size;
	uint64_t message_len;
	unsigned state;
	int fd, locked, named;

	parse_options(argc, argv, &options);
	const char *name = options.name;
	int keep = options.keep;

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

	/* 2. Lock it, without waiting.  A writer holds the lock until it has
	 *    published, a consuming reader until it has printed and removed the
	 *    message, and the kernel drops it when they end, however they end.
	 *    -k shares it with other -k readers: it keeps the others out. */
	locked = lock_segment(fd, (keep ? LOCK_SH : LOCK_EX) | LOCK_NB);
	if (locked == -1) {
		report("flock", name, errno);
		return 1;
	}

	/* 3. Only now, holding the lock, ask the object how large it is (before,
	 *    it could be a writer's half-made one), whose it is and what it is. */
	if (fstat(fd, &info) == -1) {
		report("fstat", name, errno);
		return 1;
	}
	if (!trusted(name, &info))
		return 1;
	size = (size_t)info.st_size;

	/* 4. Map the whole object, for writing too unless -k.  Pages the message
	 *    does not use are never touched, so a large segment costs nothing. */
	segment = mmap(NULL, size, keep ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno);
		return 1;
	}

	/* 5. Is there a message?  The acquire pairs with the writer's release:
	 *    once we see SHM_READY, the length and the message are complete.  If
	 *    not, and we hold the lock, its writer or reader has ended: remove it. */
	state = atomic_load_explicit(&segment->state, memory_order_acquire);
	message_len = segment->message_len;
	if (state != SHM_READY) {
		named = locked && still_named(fd) == 1;
		if (named && !keep && (state == SHM_FILLING || state == SHM_DELIVERED) &&
		    shm_unlink(name) == -1 && errno != ENOENT) {
			report("shm_unlink", name, errno);
			return 1;
		}
		refuse(name, state, locked, keep, named);
		return 1;
	}
	if (message_len > size - SHM_HEADER_SIZE) {
		warnx("check %s: says its message is %" PRIu64 " bytes, more than its %zu bytes "
		      "of room (damaged; replace it with writer.out -f)",
		      name, message_len, size - SHM_HEADER_SIZE);
		return 1;
	}

	/* 6. Print every byte and make sure it got out (a full disk, a closed
	 *    output); if not, or if we are stopped before step 7, it stays ready. */
	if (write_all(segment->message, (size_t)message_len) == -1 || close(STDOUT_FILENO) == -1) {
		warnx("write standard output for %s: %s (the message is kept; run reader.out "
		      "again)",
		      name, strerror(errno));
		return 1;
	}

	/* 7. Delivered: say so, then remove the name if it is still ours.  From
	 *    here on the message is out, whatever fails (a reader after us
	 *    removes a delivered segment that we could not). */
	if (!keep) {
		atomic_store_explicit(&segment->state, SHM_DELIVERED, memory_order_relaxed);
		if (still_named(fd) == 1 && shm_unlink(name) == -1 && errno != ENOENT)
			report("shm_unlink", name, errno);
	}

	/* 8. Unmap and close, which releases the lock. */
	if (munmap(segment, size) == -1 || close(fd) == -1)
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
		      argv[optind]);
		usage(stderr, 2);
	}
	if ((problem = segment_name_problem(options->name)) != NULL) {
		warnx("%s", problem);
		usage(stderr, 2);
	}
}

/* What to do about a failed call of the reader (see report in common.h). */
static const char *advice(int error)
{
	switch (error) {
	case ENOENT:
		return "run writer.out first";
	case EACCES: /* the name exists, and its mode does not let us in */
	case EPERM:
		return "it may belong to another user; try another -n NAME";
	case EWOULDBLOCK: /* from flock: somebody holds the lock */
		return "busy: a writer is still filling it, or a reader is printing it; wait and "
		       "run reader.out again";
	case ENOMEM:
		return "not enough address space to map the whole segment: raise ulimit -v";
	case EROFS: /* from shm_open with O_RDWR */
		return "/dev/shm is mounted read-only; reader.out -k prints the message without "
		       "removing it";
	default:
		return shared_advice(error);
	}
}

/* Step 3: trust only a segment that we own (anyone may create a name
 * first), that is a segment, and that can hold a header.  Says why not. */
static int trusted(const char *name, const struct stat *info)
{
	if (info->st_uid != geteuid()) {
		warnx("check %s: owned by user %ld, not by you (refusing what someone else "
		      "may have planted; remove it, or use another -n NAME)",
		      name, (long)info->st_uid);
		return 0;
	}
#ifdef __linux__
	/* On Linux a segment is a regular file in /dev/shm; a FIFO or a
	 * directory planted there is not one. */
	if (!S_ISREG(info->st_mode)) {
		warnx("check %s: not a shared-memory segment but a directory, FIFO or "
		      "other special file (remove it, or use another -n NAME)",
		      name);
		return 0;
	}
#endif
	if (info->st_size < (off_t)SHM_HEADER_SIZE) {
		warnx("check %s: %lld bytes is smaller than the %zu-byte header (a writer may "
		      "still be setting it up: wait and run reader.out again; if no writer is "
		      "running, writer.out -f replaces it)",
		      name, (long long)info->st_size, SHM_HEADER_SIZE);
		return 0;
	}
	return 1;
}

/* Step 5: say why a segment holds no message to print, and what became of
 * it.  With the lock, a segment still being filled or already delivered has
 * nobody at work on it any more: its writer or reader stopped.  Without the
 * lock (where shared memory cannot be locked) nobody can tell, and nothing
 * is removed. */
static void refuse(const char *name, unsigned state, int locked, int keep, int named)
{
	const char *what, *outcome = "";

	if (state != SHM_FILLING && state != SHM_DELIVERED) {
		warnx("check %s: damaged: its state word holds no state a writer or reader stores "
		      "(replace it with writer.out -f)",
		      name);
		return;
	}
	if (!locked) {
		warnx("check %s: not ready (a writer may still be filling it: wait and run "
		      "reader.out again; if no writer is running, writer.out -f replaces it)",
		      name);
		return;
	}
	if (state == SHM_FILLING)
		what = named ? "abandoned by its writer, which stopped before the message was "
		               "complete (killed, or crashed)"
		             : "abandoned by its writer, and already removed";
	else
		what = named ? "already delivered by a reader that stopped before removing it"
		             : "already delivered by another reader";
	if (named)
		outcome = keep ? "; reader.out without -k removes it" : "; removed it";
	warnx("check %s: %s%s", name, what, outcome);
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
