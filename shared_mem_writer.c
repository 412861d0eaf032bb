/*
 * shared_mem_writer.c - create a named POSIX shared-memory segment and leave
 * a message in it for shared_mem_reader.c (reader.out) to pick up.
 *
 * usage: writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE...]
 *   MESSAGE...  words joined by single spaces and ended with a newline, as
 *               echo does; none: a default message; a single "-": standard
 *               input, byte for byte
 *   -f          remove a segment of that name first, then create a new one
 *   -n NAME     segment name, "/" and a name (default /shm_demo)
 *   -s SIZE     segment size in bytes, K, M or G allowed (default 4096)
 *   -h          print this help
 * Exit status: 0 written, 1 failed (and nothing left behind), 2 bad usage.
 *
 * It teaches: shm_open, ftruncate, posix_fallocate, mmap, munmap, and how to
 * publish data so that another process never sees it half written.
 */
#define _POSIX_C_SOURCE 200809L

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

static void usage(FILE *out, int status)
{
	if (fputs("usage: writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE... | -]\n", out) == EOF ||
	    fflush(out) == EOF)
		err(1, "write the usage");
	exit(status);
}

static void usage_error(const char *reason)
{
	warnx("%s", reason);
	usage(stderr, 2);
}

/* Say which step failed on which segment, the system's reason, and what to do. */
static void report(const char *step, const char *name, int error, const char *advice)
{
	warnx("%s %s: %s (%s)", step, name, strerror(error), advice);
}

/* "4096", "64K", "2M" or "1G" to bytes; NULL when good, else the reason. */
static const char *parse_size(const char *text, size_t *size)
{
	uintmax_t value, unit = 1;
	char *end;

	if (text[0] < '0' || text[0] > '9') /* strtoumax would take " -1" */
		return "SIZE must be a whole number of bytes, optionally with K, M or G";
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
		return "SIZE must be a whole number of bytes, optionally with K, M or G";
	/* The size goes to ftruncate (off_t) and mmap (size_t): keep it in both. */
	if (errno == ERANGE || value > (uintmax_t)PTRDIFF_MAX / unit)
		return "SIZE is too large";
	if (value * unit < SHM_HEADER_SIZE)
		return "SIZE must be at least the size of the segment's header";
	*size = (size_t)(value * unit);
	return NULL;
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

/* Read standard input to its end straight into the segment.  Stops after one
 * byte past 'room', so *len > room means the input does not fit. */
static int read_input(char *dest, size_t room, size_t *len)
{
	char extra; /* takes the byte that shows there is more than 'room' */
	ssize_t n;

	*len = 0;
	do {
		if (*len < room)
			n = read(STDIN_FILENO, dest + *len, room - *len);
		else
			n = read(STDIN_FILENO, &extra, 1);
		if (n > 0)
			*len += (size_t)n;
	} while (*len <= room && (n > 0 || (n == -1 && errno == EINTR)));
	return n == -1 ? -1 : 0;
}

int main(int argc, char *argv[])
{
	static char *default_words[] = {SHM_DEFAULT_MESSAGE};
	const char *name = SHM_NAME, *problem;
	size_t size = SHM_SIZE, room, message_len = 0;
	struct segment *segment;
	int replace = 0, from_stdin, opt, fd;

	while ((opt = getopt(argc, argv, "fhn:s:")) != -1) {
		switch (opt) {
		case 'f':
			replace = 1;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case 'n':
			name = optarg;
			break;
		case 's':
			if ((problem = parse_size(optarg, &size)) != NULL)
				usage_error(problem);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if ((problem = segment_name_problem(name)) != NULL)
		usage_error(problem);
	argc -= optind;
	argv += optind;
	from_stdin = argc == 1 && strcmp(argv[0], "-") == 0;
	if (argc == 0) {
		argc = 1;
		argv = default_words;
	}

	/* Refuse a message that cannot fit before creating anything. */
	room = size - SHM_HEADER_SIZE;
	if (!from_stdin && (message_len = join_words(NULL, argc, argv)) > room) {
		warnx("check %s: a message of %zu bytes does not fit in a %zu-byte segment, "
		      "which holds %zu (use -s to make the segment larger)",
		      name, message_len, size, room);
		return 1;
	}

	/* 1. Create the segment: O_EXCL fails if the name is taken, so we never
	 *    reuse a segment someone else made; mode 0600 keeps it ours alone. */
	if (replace && shm_unlink(name) == -1 && errno != ENOENT) {
		report("shm_unlink", name, errno,
		       "it may belong to another user; try another -n NAME");
		return 1;
	}
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
	if (fd == -1) {
		report("shm_open", name, errno,
		       errno == EEXIST
		           ? "run reader.out to consume it, or writer.out -f to replace it"
		           : "check that /dev/shm is mounted and writable");
		return 1;
	}

	/* 2. A new segment is empty: give it its size. */
	if (ftruncate(fd, (off_t)size) == -1) {
		report("ftruncate", name, errno, "try a smaller -s SIZE");
		goto undo;
	}

	/* 3. ftruncate only promises the pages.  Take them now, so that a full
	 *    /dev/shm is an error here and not a SIGBUS (bus error) at step 6.
	 *    Systems without posix_fallocate (macOS) skip this step. */
#if defined(_POSIX_ADVISORY_INFO) && _POSIX_ADVISORY_INFO > 0
	int error;
	do
		error = posix_fallocate(fd, 0, (off_t)size); /* returns the error, not errno */
	while (error == EINTR);
	if (error != 0) {
		report("posix_fallocate", name, error,
		       "free space in /dev/shm, or use a smaller -s SIZE");
		goto undo;
	}
#endif

	/* 4. Map the segment into our memory; MAP_SHARED makes our stores
	 *    visible to every other process that maps it. */
	segment = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno, "try a smaller -s SIZE");
		goto undo;
	}

	/* 5. The mapping stays valid without the descriptor. */
	if (close(fd) == -1) {
		report("close", name, errno, "try again");
		goto undo;
	}

	/* 6. Copy the message and its length in. */
	if (from_stdin) {
		if (read_input(segment->message, room, &message_len) == -1) {
			report("read standard input for", name, errno, "check the input");
			goto undo;
		}
		if (message_len > room) {
			warnx("read standard input for %s: longer than the %zu bytes a %zu-byte "
			      "segment holds (use -s to make the segment larger)",
			      name, room, size);
			goto undo;
		}
	} else {
		join_words(segment->message, argc, argv);
	}
	segment->message_len = message_len;

	/* 7. Publish: the release store makes every write above visible to a
	 *    reader before it can see SHM_READY.  Stored last, so a reader that
	 *    comes early, or after we died half way, finds "not ready". */
	atomic_store_explicit(&segment->ready, SHM_READY, memory_order_release);

	/* 8. Unmap.  The segment and its message stay until it is unlinked. */
	if (munmap(segment, size) == -1) {
		report("munmap", name, errno, "try again");
		goto undo;
	}
	return 0;

undo: /* Something failed after step 1: remove what we created. */
	if (shm_unlink(name) == -1)
		report("shm_unlink", name, errno, "remove it by hand");
	return 1;
}
