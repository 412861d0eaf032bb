/*
 * shared_mem_reader.c - open the named POSIX shared-memory segment that
 * shared_mem_writer.c (writer.out) filled, print its message, remove it.
 *
 * usage: reader.out [-k] [-n NAME]
 *   -k        keep: print the message without claiming or removing it
 *   -n NAME   segment name, "/" and a name (default /shm_demo)
 *   -h        print this help
 * Exit status: 0 printed, 1 failed (and the message kept for the next
 * reader), 2 bad usage.  Interrupted by SIGINT, SIGTERM, SIGHUP or SIGPIPE
 * while printing, it hands the message back and ends by that signal.
 *
 * It teaches: shm_open of an existing object, fstat, mmap, checking what
 * another process left before trusting it, claiming a message with an atomic
 * compare-and-exchange so that exactly one reader prints it, and shm_unlink
 * of a name only while it is still ours.  main() is the lesson; the helpers
 * after it handle the command line and the loops.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* What the command line asks for. */
struct options {
	const char *name; /* the segment's name */
	int keep;         /* -k: only look; neither claim nor remove */
};

static void parse_options(int argc, char *argv[], struct options *options);
static int write_all(const char *data, size_t len);
static void give_back(struct segment *segment);
static _Noreturn void usage(FILE *out, int status);

int main(int argc, char *argv[])
{
	/* SIGPIPE too: a reader whose output pipe closes must hand the message back. */
	static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	struct options options;
	struct segment *segment;
	struct stat info;
	size_t size, message_len;
	unsigned found;
	int claimed = 0, fd;

	parse_options(argc, argv, &options);
	const char *name = options.name;
	int keep = options.keep;

	/* 1. A consuming reader will hold the message while it prints it: from
	 *    here on, Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGPIPE only set
	 *    'interrupted', so that it can hand the message back before it ends.
	 *    Every exit from here goes through finish(), which ends by that
	 *    signal instead, if one came.  With -k nothing is held, and the
	 *    signals keep their default. */
	if (!keep &&
	    catch_signals(stop_signals, sizeof stop_signals / sizeof stop_signals[0]) == -1) {
		report("sigaction for", name, errno, "try again");
		return 1;
	}

	/* 2. Open the existing segment.  Claiming the message means writing to
	 *    the segment, so a consuming reader opens it for reading and writing;
	 *    with -k it only looks, and opens it for reading only. */
	fd = open_segment(name, keep ? O_RDONLY : O_RDWR, 0);
	if (fd == -1) {
		report("shm_open", name, errno,
		       errno == ENOENT   ? "run writer.out first"
		       : errno == EACCES ? "it may belong to another user; try another -n NAME"
		                         : "something other than a segment has this name; "
		                           "remove it, or use another -n NAME");
		return finish(1);
	}

	/* 3. Ask the object, not a constant, how large it is, whose it is and
	 *    which object it is (st_dev and st_ino, for step 9). */
	if (fstat(fd, &info) == -1) {
		report("fstat", name, errno, "try again");
		return finish(1);
	}

	/* 4. Trust only a segment we own: anyone may create a name first. */
	if (info.st_uid != geteuid()) {
		warnx("check %s: owned by user %ld, not by you (refusing what someone else "
		      "may have planted; remove it, or use another -n NAME)",
		      name, (long)info.st_uid);
		return finish(1);
	}
#ifdef __linux__
	/* On Linux a segment is a regular file in /dev/shm; a FIFO or a
	 * directory planted there is not one. */
	if (!S_ISREG(info.st_mode)) {
		warnx("check %s: not a shared-memory segment but a directory, FIFO or "
		      "other special file (remove it, or use another -n NAME)",
		      name);
		return finish(1);
	}
#endif
	if (info.st_size < (off_t)SHM_HEADER_SIZE) {
		warnx("check %s: %lld bytes is smaller than the %zu-byte header (a writer may "
		      "still be setting it up: wait and run reader.out again; if no writer is "
		      "running, writer.out -f replaces it)",
		      name, (long long)info.st_size, SHM_HEADER_SIZE);
		return finish(1);
	}
	size = (size_t)info.st_size;

	/* 5. Map the whole object, for writing too unless -k.  Pages the message
	 *    does not use are never touched, so a large segment costs nothing. */
	segment = mmap(NULL, size, keep ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno, "try again");
		return finish(1);
	}

	/* 6. The mapping stays valid without the descriptor. */
	if (close(fd) == -1) {
		report("close", name, errno, "try again");
		return finish(1);
	}

	/* 7. Claim the message: turn SHM_READY into SHM_TAKEN with one atomic
	 *    compare-and-exchange.  Of all the readers that try at once, exactly
	 *    one succeeds; the others find SHM_TAKEN in 'found'.  The acquire
	 *    pairs with the writer's release store: once we see SHM_READY, the
	 *    length and the message are complete.  With -k we only look. */
	found = SHM_READY;
	if (keep)
		found = atomic_load_explicit(&segment->ready, memory_order_acquire);
	else
		claimed = atomic_compare_exchange_strong_explicit(
		    &segment->ready, &found, SHM_TAKEN, memory_order_acquire, memory_order_acquire);
	if (!keep && !claimed && found == SHM_TAKEN) {
		warnx("check %s: taken by another reader, which is printing it now (if that "
		      "reader died, reader.out -k still prints the message, and writer.out -f "
		      "replaces it)",
		      name);
		return finish(1);
	}
	if (found != SHM_READY && found != SHM_TAKEN) {
		warnx("check %s: not ready (a writer may still be filling it: wait and run "
		      "reader.out again; if no writer is running, writer.out -f replaces it)",
		      name);
		return finish(1);
	}
	/* Take the length once: what we check must be what we use. */
	message_len = segment->message_len;
	if (message_len > size - SHM_HEADER_SIZE) {
		if (claimed)
			give_back(segment);
		warnx("check %s: says its message is %zu bytes, more than its %zu bytes of room "
		      "(damaged; replace it with writer.out -f)",
		      name, message_len, size - SHM_HEADER_SIZE);
		return finish(1);
	}

	/* 8. Print the message, every byte of it, and make sure it got out:
	 *    a full disk or a closed pipe must not go unnoticed.  If it did not
	 *    get out, or a signal asks us to stop first, hand the message back. */
	if (write_all(segment->message, message_len) == -1 || close(STDOUT_FILENO) == -1) {
		int error = errno;
		if (claimed)
			give_back(segment);
		if (!interrupted)
			report("write standard output for", name, error,
			       "the message is kept; run reader.out again");
		return finish(1);
	}

	/* 9. Only now that the message was delivered, remove the name, if it
	 *    is still ours: writer.out -f may have put a new segment there.  We
	 *    do not munmap: the mapping ends with the process, a moment later,
	 *    and the memory is freed once no process has it mapped. */
	if (!keep && remove_if_ours(name, &info) == -1) {
		report("shm_unlink", name, errno, "the message was printed; remove it by hand");
		return finish(1);
	}
	return finish(0);
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

/* write() may take fewer bytes than asked, or be interrupted by a signal:
 * go on until every byte is out, unless a signal asks us to stop (checked
 * first even for an empty message, which is then not delivered either). */
static int write_all(const char *data, size_t len)
{
	for (;;) {
		if (interrupted) {
			errno = EINTR;
			return -1;
		}
		if (len == 0)
			return 0;
		ssize_t n = write(STDOUT_FILENO, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		data += n;
		len -= (size_t)n;
	}
}

/* Hand a claimed message back: the next reader finds it ready again. */
static void give_back(struct segment *segment)
{
	atomic_store_explicit(&segment->ready, SHM_READY, memory_order_release);
}

/* Print the usage line and end with 'status'; a failure to print it is an
 * error of its own (exit 1). */
static _Noreturn void usage(FILE *out, int status)
{
	if (fputs("usage: reader.out [-k] [-n NAME]\n", out) == EOF || fflush(out) == EOF)
		err(1, "write the usage");
	exit(status);
}
