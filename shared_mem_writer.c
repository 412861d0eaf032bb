/*
 * shared_mem_writer.c - create a named POSIX shared-memory segment and leave
 * a message in it for shared_mem_reader.c (reader.out) to pick up.
 *
 * usage: writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE... | -]
 *   MESSAGE...  words joined by single spaces and ended with a newline, as
 *               echo does; none: a default message; a single "-": standard
 *               input, byte for byte
 *   -f          remove whatever has that name first (its message is lost),
 *               then create a new segment
 *   -n NAME     segment name, "/" and a name (default /shm_demo)
 *   -s SIZE     segment size in bytes, K, M or G allowed (default 4096)
 *   -h          print this help
 * Exit status: 0 written, 1 failed (and what it created removed), 2 bad usage.
 * Interrupted by SIGINT, SIGTERM or SIGHUP before the message is published,
 * it removes its segment and ends by that signal.
 *
 * It teaches: shm_open, ftruncate, posix_fallocate, mmap, munmap, how to
 * publish data so that another process never sees it half written, and how
 * to leave nothing behind when interrupted.  main() is the lesson; the
 * helpers after it handle the command line and the loops.
 */
#define _POSIX_C_SOURCE 200809L

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

/* What the command line asks for. */
struct options {
	const char *name; /* the segment's name */
	size_t size;      /* the segment's size in bytes */
	int replace;      /* -f: remove whatever has the name first */
	int from_stdin;   /* "-": the message is standard input */
	int word_count;   /* otherwise the message is these words */
	char **words;
};

static void parse_options(int argc, char *argv[], struct options *options);
static int parse_size(const char *text, size_t *size);
static size_t join_words(char *dest, int count, char *words[]);
static int reserve(int fd, off_t offset, off_t len);
static int read_input(int fd, const char *name, char *message, size_t room, size_t *len);
static size_t next_piece(size_t reserved, size_t room);
static _Noreturn void usage(FILE *out, int status);

int main(int argc, char *argv[])
{
	static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
	struct options options;
	struct segment *segment;
	struct stat created;
	size_t room, message_len = 0;
	int fd, error;

	parse_options(argc, argv, &options);
	const char *name = options.name;
	size_t size = options.size;

	/* Refuse a message of words that cannot fit, before creating anything. */
	room = size - SHM_HEADER_SIZE;
	if (!options.from_stdin &&
	    (message_len = join_words(NULL, options.word_count, options.words)) > room) {
		warnx("check %s: a message of %zu bytes does not fit in a %zu-byte segment, "
		      "which holds %zu (use -s to make the segment larger)",
		      name, message_len, size, room);
		return 1;
	}

	/* 1. From here on we create something that outlives us: Ctrl-C (SIGINT),
	 *    SIGTERM and SIGHUP only set 'interrupted', so that we can remove
	 *    what we made before we end.  Every exit from here goes through
	 *    finish(), which ends by that signal instead, if one came. */
	if (catch_signals(stop_signals, sizeof stop_signals / sizeof stop_signals[0]) == -1) {
		report("sigaction for", name, errno, "try again");
		return 1;
	}

	/* 2. Create the segment: O_EXCL fails if the name is taken, so we never
	 *    reuse a segment someone else made; mode 0600 keeps it ours alone.
	 *    -f removes whatever has the name first, even a message being read. */
	if (options.replace && shm_unlink(name) == -1 && errno != ENOENT) {
		report("shm_unlink", name, errno,
		       "it may belong to another user, or not be a segment; try another -n NAME");
		return finish(1);
	}
	fd = open_segment(name, O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
	if (fd == -1) {
		report("shm_open", name, errno,
		       errno == EEXIST ? "run reader.out to consume it; writer.out -f replaces it, "
		                         "and what it holds is lost"
		                       : "check that /dev/shm is mounted and writable");
		return finish(1);
	}
	/* Remember which object we made: the undo removes that one and no other. */
	if (fstat(fd, &created) == -1) {
		report("fstat", name, errno, "it is left behind; remove it by hand");
		return finish(1);
	}

	/* 3. A new segment is empty: give it its size. */
	if (ftruncate(fd, (off_t)size) == -1) {
		report("ftruncate", name, errno, "try a smaller -s SIZE");
		goto undo;
	}

	/* 4. ftruncate gave the segment a length, not memory: a page comes when
	 *    it is first touched, and if /dev/shm is full then, the store that
	 *    touches it is killed with SIGBUS (bus error).  Reserve the pages we
	 *    will write now, so that a full /dev/shm is an error here instead:
	 *    the header and the words, and no more, so that a large -s costs
	 *    nothing until it is used.  Standard input is reserved in step 6,
	 *    piece by piece as it comes. */
	error = reserve(fd, 0, (off_t)(SHM_HEADER_SIZE + message_len));
	if (error != 0) {
		if (!interrupted)
			report("posix_fallocate", name, error,
			       "free space in /dev/shm, or send a shorter message");
		goto undo;
	}

	/* 5. Map the segment into our memory; MAP_SHARED makes our stores
	 *    visible to every other process that maps it. */
	segment = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno, "try a smaller -s SIZE");
		goto undo;
	}

	/* 6. Copy the message and its length in. */
	if (options.from_stdin) {
		if (read_input(fd, name, segment->message, room, &message_len) == -1)
			goto undo;
		if (message_len > room) {
			warnx("read standard input for %s: longer than the %zu bytes a %zu-byte "
			      "segment holds (use -s to make the segment larger)",
			      name, room, size);
			goto undo;
		}
	} else {
		join_words(segment->message, options.word_count, options.words);
	}
	segment->message_len = message_len;

	/* 7. Everything is reserved: the mapping stays valid without the descriptor. */
	if (close(fd) == -1) {
		report("close", name, errno, "try again");
		goto undo;
	}

	/* 8. Publish: the release store makes every write above visible to a
	 *    reader before it can see SHM_READY.  Stored last, so a reader that
	 *    comes early, or after we died half way, finds "not ready".  A signal
	 *    that came before this point undoes everything; once published, a
	 *    signal no longer does (a failure still does, below). */
	if (interrupted)
		goto undo;
	atomic_store_explicit(&segment->ready, SHM_READY, memory_order_release);

	/* 9. Unmap.  The segment and its message stay until it is unlinked. */
	if (munmap(segment, size) == -1) {
		report("munmap", name, errno, "try again");
		goto undo;
	}
	return finish(0);

undo: /* Something failed, or a signal came, after step 2: remove what we
       * created, unless writer.out -f has replaced it meanwhile. */
	if (remove_if_ours(name, &created) == -1)
		report("shm_unlink", name, errno, "remove it by hand");
	return finish(1);
}

/* Read the command line into 'options'.  A usage error ends the program.
 * getopt's own messages are turned off (opterr) so that ours all start with
 * the program's name alone. */
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
	options->from_stdin = options->word_count == 1 && strcmp(options->words[0], "-") == 0;
	if (options->word_count == 0) {
		options->word_count = 1;
		options->words = default_words;
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
static int reserve(int fd, off_t offset, off_t len)
{
	int error = 0;

#if defined(_POSIX_ADVISORY_INFO) && _POSIX_ADVISORY_INFO > 0
	do
		error = posix_fallocate(fd, offset, len);
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

/* Read standard input to its end straight into the segment's message,
 * reserving each piece before read() writes into it (a page that cannot be
 * had would make read fail with EFAULT).  When the reserved part is full,
 * one byte is read aside first: more is reserved only if more comes.  One
 * byte past 'room' ends the reading, so *len > room means the input does
 * not fit.  Reports a failure and returns -1; after a signal it returns -1
 * without a report. */
static int read_input(int fd, const char *name, char *message, size_t room, size_t *len)
{
	size_t reserved = 0, piece; /* bytes of message[] reserved so far */
	char next;                  /* the first byte past the reserved part */
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
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			report("read standard input for", name, errno, "check the input");
			return -1;
		}
		if (*len < reserved) {
			*len += (size_t)n;
			continue;
		}
		if (reserved == room) {
			*len = room + 1; /* a byte more than fits */
			return 0;
		}
		piece = next_piece(reserved, room);
		error = reserve(fd, (off_t)(SHM_HEADER_SIZE + reserved), (off_t)piece);
		if (error != 0) {
			if (!interrupted)
				report("posix_fallocate", name, error,
				       "free space in /dev/shm, or send less");
			return -1;
		}
		reserved += piece;
		message[(*len)++] = next;
	}
}

/* Standard input's length is not known in advance, so its part of the
 * segment is reserved in pieces as it comes: each piece as large as what is
 * reserved already, so that few are needed, but from 64 KiB to 8 MiB, so
 * that little more than the input is ever held; never past 'room'. */
static size_t next_piece(size_t reserved, size_t room)
{
	size_t piece = reserved;

	if (piece < (size_t)64 << 10)
		piece = (size_t)64 << 10;
	if (piece > (size_t)8 << 20)
		piece = (size_t)8 << 20;
	return piece < room - reserved ? piece : room - reserved;
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
