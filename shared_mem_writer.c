/*
 * shared_mem_writer.c - create a named POSIX shared-memory segment and leave
 * a message in it for shared_mem_reader.c (reader.out) to pick up.
 *
 * usage: writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE... | -]
 *   MESSAGE...  words joined by single spaces and ended with a newline, as
 *               echo does; none: a default message.  A lone "-", even after
 *               "--", always means standard input, byte for byte (to send
 *               the message "-": printf -- '-\n' | writer.out -)
 *   -f          remove whatever has that name first (its message is lost),
 *               then create a new segment
 *   -n NAME     segment name, "/" and a name (default /shm_demo)
 *   -s SIZE     segment size in bytes, K, M or G allowed (default 4096)
 *   -h          print this help
 * Exit status: 0 published at its name, 1 failed (and what it created
 * removed), 2 bad usage.  Stopped by SIGINT (Ctrl-C), SIGQUIT (Ctrl-\),
 * SIGHUP or SIGTERM before the message is published, it removes its segment
 * and ends by that signal.
 *
 * It teaches: shm_open, ftruncate, posix_fallocate, mmap, munmap, how to
 * publish data so that another process never sees it half written, a lock
 * that the kernel keeps for us, and how to leave nothing behind when stopped.
 * main() is the lesson; the helpers after it handle the command line, the
 * signals and the loops.
 */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64 /* a 64-bit off_t on 32-bit builds too */

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* How many times the writer creates its segment again when a reader took the
 * empty one for a dead writer's and removed it (step 3). */
#define ATTEMPTS 3

/* What the command line asks for. */
struct options {
	const char *name; /* the segment's name */
	size_t size;      /* the segment's size in bytes */
	int replace;      /* -f: remove whatever has the name first */
	int from_stdin;   /* "-": the message is standard input */
	int word_count;   /* otherwise the message is these words, */
	char **words;
	size_t message_len; /* which take this many bytes */
};

/* The signal that asked us to stop, or 0 (see catch_signals). */
static volatile sig_atomic_t interrupted;

static void parse_options(int argc, char *argv[], struct options *options);
static int parse_size(const char *text, size_t *size);
static int catch_signals(void);
static int finish(int status);
static int wait_for_lock(int fd);
static int write_header(int fd);
static size_t join_words(char *dest, int count, char *words[]);
static int reserve(int fd, size_t offset, size_t len);
static int read_input(int fd, const char *name, char *message, size_t size, size_t *len);
static int reserve_piece(int fd, size_t reserved, size_t room, size_t *piece);
static _Noreturn void usage(FILE *out, int status);

int main(int argc, char *argv[])
{
	struct options options;
	struct segment *segment;
	int fd, error, ours;

	/* The options; a message of words that cannot fit is refused here. */
	parse_options(argc, argv, &options);
	const char *name = options.name;
	size_t size = options.size, message_len = options.message_len;

	/* 1. We are about to make something that outlives us: a signal that asks us
	 *    to stop now only sets 'interrupted', so that we can remove it first. */
	if (catch_signals() == -1) {
		report("sigaction for", name, errno);
		return 1;
	}

	/* 2. Create the segment: O_EXCL fails if the name is taken, so we never
	 *    reuse what someone else made.  Mode 0600 keeps it ours alone, and our
	 *    umask takes nothing from it.  -f first removes whatever has the name. */
	if (options.replace && shm_unlink(name) == -1 && errno != ENOENT) {
		report("shm_unlink", name, errno);
		return finish(1);
	}
	(void)umask(S_IRWXG | S_IRWXO); /* cannot fail; 0377 would leave the owner 0400 */
	for (int attempt = 1;; attempt++) {
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
		if (fd == -1) {
			report("shm_open", name, errno);
			return finish(1);
		}
		if (keep_off_standard_streams(&fd) == -1) {
			report("fcntl", name, errno);
			goto undo;
		}

		/* 3. Lock it while it is empty, until the message is published: the
		 *    kernel drops the lock when we end, however we end.  A reader that
		 *    got it first took the empty segment for a dead writer's and
		 *    removed it: then we start again, a few times (wait_for_lock). */
		if (wait_for_lock(fd) == -1) {
			report("flock", name, errno);
			goto undo;
		}
		if (same_object(name, fd) != 0) /* -1, cannot tell: step 10 asks again */
			break;
		(void)close(fd); /* nameless now: it goes with its descriptor */
		if (attempt == ATTEMPTS) {
			warnx("check %s: readers removed it %d times before it was locked",
			      shown(name), ATTEMPTS);
			return finish(1);
		}
	}

	/* 4. Mark it as writer.out's: one pwrite gives it its first 16 bytes, a
	 *    header that says "filling" and carries the mark (write_header). */
	if (write_header(fd) == -1) {
		report("pwrite", name, errno);
		goto undo;
	}

	/* 5. Reserve memory for the header and the words: a full /dev/shm is then
	 *    an error here, not a SIGBUS later.  A large -s costs nothing unused. */
	error = reserve(fd, 0, SHM_HEADER_SIZE + message_len);
	if (error != 0) {
		report("posix_fallocate", name, error);
		goto undo;
	}

	/* 6. Give it its full size: the rest takes no memory until it is used. */
	if (ftruncate(fd, (off_t)size) == -1) {
		report("ftruncate", name, errno);
		goto undo;
	}

	/* 7. Map it; MAP_SHARED makes our stores reach every process that maps it. */
	segment = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno);
		goto undo;
	}

	/* 8. Copy the message in (standard input piece by piece, each reserved as
	 *    it comes), then its length, and the mark (on Linux, step 4 did). */
	if (!options.from_stdin)
		join_words(segment->message, options.word_count, options.words);
	else if (read_input(fd, name, segment->message, size, &message_len) == -1)
		goto undo;
	segment->message_len = message_len;
	segment->mark = SHM_MARK;

	/* 9. Publish, unless a signal asked us to stop: the release store makes
	 *    every write above visible to a reader before it can see SHM_READY. */
	if (interrupted)
		goto undo;
	atomic_store_explicit(&segment->state, SHM_READY, memory_order_release);

	/* 10. Does the name still lead to it?  writer.out -f may have put a new
	 *     segment there since step 3.  Asked after publishing, so that exit 0
	 *     means the message was at its name when it was published. */
	if ((ours = same_object(name, fd)) != 1) {
		warnx("check %s: %s; this message is lost", shown(name),
		      ours == 0 ? "the name leads to another segment or none now"
		                : strerror(errno));
		return finish(1);
	}

	/* 11. Unmap and close, which releases the lock; the message stays. */
	if (munmap(segment, size) == -1 || close(fd) == -1)
		report("munmap or close", name, errno);
	return finish(0);

undo: /* After step 2: remove what we made, if the name still leads to it. */
	if (same_object(name, fd) == 1 && shm_unlink(name) == -1 && errno != ENOENT)
		report("shm_unlink", name, errno);
	return finish(1);
}

/* Read the command line into 'options'.  A usage error ends the program
 * (exit 2); so does a message of words that cannot fit (exit 1), before
 * anything is created.  getopt's own messages are turned off (opterr) so
 * that ours all start with the program's name alone. */
static void parse_options(int argc, char *argv[], struct options *options)
{
	static char *default_words[] = {SHM_DEFAULT_MESSAGE};
	const char *problem;
	int opt;

	options->name = SHM_NAME;
	options->size = SHM_SIZE;
	options->replace = 0;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":fhn:s:")) != -1) {
		switch (opt) {
		case 'f':
			options->replace = 1;
			break;
		case 'h':
			usage(stdout, 0);
		case 'n':
			options->name = optarg;
			break;
		case 's':
			if (parse_size(optarg, &options->size) == -1)
				usage(stderr, 2);
			break;
		default: /* ':' or '?' */
			bad_option(opt);
			usage(stderr, 2);
		}
	}
	if ((problem = segment_name_problem(options->name)) != NULL) {
		warnx("%s", problem);
		usage(stderr, 2);
	}
	options->word_count = argc - optind;
	options->words = argv + optind;
	/* A lone "-" is standard input, even after "--": it is never a message. */
	options->from_stdin = options->word_count == 1 && strcmp(options->words[0], "-") == 0;
	if (options->word_count == 0) {
		options->word_count = 1;
		options->words = default_words;
	}
	options->message_len = 0;
	if (options->from_stdin)
		return;
	options->message_len = join_words(NULL, options->word_count, options->words);
	if (options->message_len > options->size - SHM_HEADER_SIZE) {
		warnx("check %s: a message of %zu bytes does not fit in a %zu-byte segment, "
		      "which holds %zu (use -s to make the segment larger)",
		      shown(options->name), options->message_len, options->size,
		      options->size - SHM_HEADER_SIZE);
		exit(1);
	}
}

/* "4096", "64K", "2M" or "1G" to bytes.  Says what is wrong and returns -1
 * if it is not a size we can use. */
static int parse_size(const char *text, size_t *size)
{
	uintmax_t value, unit = 1;
	char *end;

	if (text[0] < '0' || text[0] > '9') /* strtoumax would take " -1" */
		goto not_a_size;
	errno = 0;
	value = strtoumax(text, &end, 10);
	if (*end == 'K' || *end == 'k')
		unit = (uintmax_t)1 << 10;
	else if (*end == 'M' || *end == 'm')
		unit = (uintmax_t)1 << 20;
	else if (*end == 'G' || *end == 'g')
		unit = (uintmax_t)1 << 30;
	if (unit != 1)
		end++;
	if (*end != '\0')
		goto not_a_size;
	/* The size goes to ftruncate (off_t) and mmap (size_t): keep it in both. */
	if (errno == ERANGE || value > (uintmax_t)PTRDIFF_MAX / unit) {
		warnx("SIZE is too large");
		return -1;
	}
	if (value * unit < SHM_HEADER_SIZE) {
		warnx("SIZE must be at least %zu bytes, the size of the segment's header",
		      SHM_HEADER_SIZE);
		return -1;
	}
	*size = (size_t)(value * unit);
	return 0;

not_a_size:
	warnx("SIZE must be a whole number of bytes, optionally with K, M or G");
	return -1;
}

/* What to do about a failed call of the writer at 'step' (see report in
 * common.h). */
static const char *advice(const char *step, int error)
{
	/* Mapping -s SIZE fails when the address space cannot hold it: ENOMEM,
	 * or EINVAL and EOVERFLOW for a length beyond what mmap takes at all. */
	if (strcmp(step, "mmap") == 0 && (error == ENOMEM || error == EINVAL || error == EOVERFLOW))
		return address_space_limited()
		           ? "not enough address space for -s SIZE: raise ulimit -v, or use a "
		             "smaller -s SIZE"
		           : "-s SIZE is more than this system can map: use a smaller -s SIZE";
	switch (error) {
	case EEXIST:
		return "run reader.out to consume it; writer.out -f replaces it, and what it "
		       "holds is lost; if it is not yours, use another -n NAME";
	case ENOENT: /* from shm_open with O_CREAT: the directory is missing */
		return "check that /dev/shm is mounted";
	case EACCES: /* no segment of ours has the name: perhaps none has */
	case EPERM:
		return "this name is not yours to create or remove; try another -n NAME";
	case ENOSPC: /* from shm_open, /dev/shm has no inode left: no file at all */
		if (strcmp(step, "shm_open") == 0)
			return "/dev/shm can hold no more files: remove some";
		return "free space in /dev/shm, or send a shorter message";
	case EFBIG: /* SIGXFSZ is ignored (catch_signals) */
		return "the file-size limit is too low: raise it with ulimit -f";
	default:
		return shared_advice(error);
	}
}

/* Step 1.  The signals that ask a program to stop: Ctrl-C (SIGINT), Ctrl-\
 * (SIGQUIT), a closed terminal (SIGHUP) and kill (SIGTERM).  By default each
 * ends us on the spot, and the segment would stay, blocking the next writer.
 * The handler only records which one came: it may run between any two
 * instructions, so it must not touch the segment or call anything that is
 * not async-signal-safe.  No SA_RESTART: a wait that a signal interrupts
 * returns EINTR, so that we see the signal now.  A signal that was ignored
 * when we started stays ignored (a script's background jobs ignore SIGINT,
 * nohup SIGHUP).  A file-size limit would end us with SIGXFSZ: ignored, it
 * makes ftruncate and posix_fallocate fail with EFBIG instead.  SIGPIPE is
 * ignored too: an error message to a closed pipe must not end us before we
 * have removed the segment.  Any other death (SIGKILL, a crash) leaves a
 * segment that the next reader removes. */
static void on_signal(int signal_number)
{
	interrupted = signal_number;
}

static int catch_signals(void)
{
	static const int stop_signals[] = {SIGINT, SIGQUIT, SIGHUP, SIGTERM};
	struct sigaction action, before;

	memset(&action, 0, sizeof action);
	sigemptyset(&action.sa_mask);
	action.sa_handler = SIG_IGN;
	if (sigaction(SIGXFSZ, &action, NULL) == -1 || sigaction(SIGPIPE, &action, NULL) == -1)
		return -1;
	action.sa_handler = on_signal;
	for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
		/* Ask first: a handler installed only to be taken back would let an
		 * ignored signal that came in between overwrite one that was not. */
		if (sigaction(stop_signals[i], NULL, &before) == -1)
			return -1;
		if (before.sa_handler != SIG_IGN && sigaction(stop_signals[i], &action, NULL) == -1)
			return -1;
	}
	return 0;
}

/* Every exit after catch_signals goes through here.  With no signal caught,
 * it returns 'status' for main to return.  After a signal, the clean-up is
 * done: end by that signal, with its default action, so that the parent (a
 * shell, a script) sees "killed by SIGINT" and stops too, as it would have
 * without our handler. */
static int finish(int status)
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

/* Step 3: wait for the lock.  We wait only while another program holds it:
 * a reader that came too early, which looks and goes.  A signal that asks us
 * to stop interrupts the wait (EINTR): give up then.  One that comes just
 * before the wait begins is seen only when the wait ends, or at the next
 * signal: a second Ctrl-C always ends it.  Where shared memory cannot be
 * locked, go on without. */
static int wait_for_lock(int fd)
{
	int locked;

	do
		locked = lock_segment(fd, LOCK_EX);
	while (locked == -1 && errno == EINTR && !interrupted);
	return locked == -1 ? -1 : 0;
}

/* Step 4: the header of a segment being filled, with the mark, in one
 * pwrite: from the instant the segment has a size, it says whose it is.
 * POSIX does not promise that write works on shared memory; on Linux a
 * segment is a tmpfs file, where it does.  Elsewhere the mark comes with the
 * message (step 8), and a writer killed before that leaves an unmarked
 * segment, which a reader keeps: that one takes writer.out -f. */
static int write_header(int fd)
{
#ifdef __linux__
	const struct segment header = {.state = SHM_FILLING, .mark = SHM_MARK, .message_len = 0};
	ssize_t written = pwrite(fd, &header, SHM_HEADER_SIZE, 0);

	if (written == (ssize_t)SHM_HEADER_SIZE)
		return 0;
	if (written >= 0)
		errno = EIO; /* a part of it only: not seen on a tmpfs, but not ours to hide */
	return -1;
#else
	(void)fd;
	return 0;
#endif
}

/* Join the words with single spaces and a final newline, as echo does.
 * With dest NULL, only count the bytes that would be written. */
static size_t join_words(char *dest, int count, char *words[])
{
	size_t len = 0;

	for (int i = 0; i < count; i++) {
		size_t word_len = strlen(words[i]);
		if (dest != NULL) {
			memcpy(dest + len, words[i], word_len);
			dest[len + word_len] = i + 1 < count ? ' ' : '\n';
		}
		len += word_len + 1;
	}
	return len;
}

/* Reserve bytes [offset, offset + len) of the segment: take their pages
 * now, so that touching them later cannot fail.  posix_fallocate returns
 * the error number instead of setting errno.  A signal interrupts a long
 * reservation (EINTR): try again, unless it asks us to stop. */
static int reserve(int fd, size_t offset, size_t len)
{
	int error = 0;

#if defined(_POSIX_ADVISORY_INFO) && _POSIX_ADVISORY_INFO > 0
	do
		error = posix_fallocate(fd, (off_t)offset, (off_t)len);
	while (error == EINTR && !interrupted);
	/* Where the file system cannot reserve for shared memory (POSIX allows
	 * EINVAL and ENODEV for that; some systems say EOPNOTSUPP), go on
	 * without: the pages then come when first touched, and a full /dev/shm
	 * can again end the writer with SIGBUS. */
	if (error == EINVAL || error == ENODEV || error == EOPNOTSUPP)
		error = 0;
#else
	/* No posix_fallocate (macOS): the same as a file system without it. */
	(void)fd, (void)offset, (void)len;
#endif
	return error;
}

/* Step 8 with "-": read standard input to its end straight into the
 * segment's message, reserving each piece before read() writes into it (a
 * page that cannot be had would make read fail with EFAULT).  When the
 * reserved part is full, one byte is read aside first: more is reserved
 * only if more comes.  Says what failed and returns -1, silently after a
 * signal. */
static int read_input(int fd, const char *name, char *message, size_t size, size_t *len)
{
	size_t room = size - SHM_HEADER_SIZE; /* what message[] can hold */
	size_t reserved = 0, piece;           /* bytes of message[] reserved so far */
	char next;                            /* the first byte past the reserved part */
	ssize_t n;
	int error;

	*len = 0;
	for (;;) {
		if (interrupted)
			return -1;
		if (*len < reserved)
			n = read(STDIN_FILENO, message + *len, reserved - *len);
		else
			n = read(STDIN_FILENO, &next, 1);
		if (n == 0)
			return 0; /* the end of the input */
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_for_stream(STDIN_FILENO, POLLIN) == 0)
			continue; /* non-blocking input, and more has come */
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			warnx("read standard input for %s: %s (check the input)", name,
			      strerror(errno));
			return -1;
		}
		if (*len < reserved) {
			*len += (size_t)n;
			continue;
		}
		if (reserved == room) {
			warnx("read standard input for %s: longer than the %zu bytes a %zu-byte "
			      "segment holds (use -s to make the segment larger)",
			      name, room, size);
			return -1;
		}
		error = reserve_piece(fd, reserved, room, &piece);
		if (error != 0) {
			report("posix_fallocate", name, error);
			return -1;
		}
		reserved += piece;
		message[(*len)++] = next;
	}
}

/* Reserve the next piece of standard input's part of the segment, which
 * starts 'reserved' bytes into message[]; its size goes to *piece.  Returns
 * 0, or the error.  The input's length is not known in advance, so each piece is as
 * large as all before it, so that few are needed, but from 64 KiB to 8 MiB,
 * so that little more than the input is ever held; never past 'room'.  On a
 * nearly full /dev/shm a piece may not fit where the input still would:
 * then try half as much, down to one page. */
static int reserve_piece(int fd, size_t reserved, size_t room, size_t *piece)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int error;

	*piece = reserved;
	if (*piece < (size_t)64 << 10)
		*piece = (size_t)64 << 10;
	if (*piece > (size_t)8 << 20)
		*piece = (size_t)8 << 20;
	if (*piece > room - reserved)
		*piece = room - reserved;
	while ((error = reserve(fd, SHM_HEADER_SIZE + reserved, *piece)) == ENOSPC && *piece > page)
		*piece = *piece / 2 > page ? *piece / 2 : page;
	return error;
}

/* Print the usage line and end with 'status'; a failure to print it is an
 * error of its own (exit 1). */
static _Noreturn void usage(FILE *out, int status)
{
	if (fputs("usage: writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE... | -]\n", out) == EOF ||
	    fflush(out) == EOF)
		err(1, "write the usage");
	exit(status);
}
