/*
 * shared_mem_writer.c - create a named POSIX shared-memory segment and leave
 * a message in it for shared_mem_reader.c (reader.out) to pick up.
 *
 * usage: writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE... | -]
 *   MESSAGE...  words, joined by spaces and ended with a newline as echo does
 *               (none: a default message); a lone "-", even after "--", is
 *               standard input, byte for byte
 *   -f          remove whatever has the name first (its message is lost)
 *   -n NAME     segment name, "/" and a name (default /shm_demo)
 *   -s SIZE     segment size in bytes, K, M or G allowed (default 4096)
 *   -h          print this help
 * Exit status: 0 published at its name, 1 failed (what it made removed; if
 * it failed before its lock, its empty segment is left to the next writer or
 * reader; if it could not check its name after publishing, it says so, and
 * the message stays), 2 bad usage.  It catches no signal: killed before it
 * publishes, it leaves a segment that says so, which the next writer or
 * reader removes.
 *
 * It teaches: shm_open, ftruncate, posix_fallocate, mmap, munmap, publishing
 * so that no process sees a message half written, and a lock the kernel keeps,
 * so that whoever comes next cleans up after any death.  main() is the
 * lesson; the helpers after it do the command line and the loops.
 */
#define _POSIX_C_SOURCE   200809L
#define _DARWIN_C_SOURCE     /* macOS declares flock and LOCK_* only with it */
#define _FILE_OFFSET_BITS 64 /* a 64-bit off_t on 32-bit builds too */

#include <inttypes.h>

#include "common.h"

#define USAGE    "writer.out [-f] [-n NAME] [-s SIZE] [MESSAGE... | -]"
#define ATTEMPTS 3 /* tries to make and lock the segment: see steps 2 and 3 */

struct options {
	const char *name; /* the segment's name */
	size_t size;      /* the segment's size in bytes */
	int replace;      /* -f: remove whatever has the name first */
	int from_stdin;   /* "-": the message is standard input */
	int word_count;   /* otherwise the message is these words, */
	char **words;
	size_t message_len; /* which take this many bytes */
};

static void parse_options(int argc, char *argv[], struct options *options);
static int parse_size(const char *text, size_t *size);
static int nobody_needs(const char *name, int fd);
static int write_header(int fd);
static size_t join_words(char *dest, int count, char *words[]);
static int reserve(int fd, size_t offset, size_t len);
static int read_input(int fd, const char *name, char *message, size_t size, size_t *len);

int main(int argc, char *argv[])
{
	struct options options;
	struct segment *segment;
	const char *step;
	int fd, old, error, cleared, ours;

	parse_options(argc, argv, &options); /* words that cannot fit end it here */
	const char *name = options.name;

	/* 1. Create the segment: O_EXCL fails if the name is taken, so we never
	 *    reuse what someone else made.  Mode 0600 keeps it ours alone, and our
	 *    umask takes nothing from it.  -f first removes whatever has the name. */
	if (options.replace && shm_unlink(name) == -1 && errno != ENOENT) {
		report("shm_unlink", name, errno, hint("shm_unlink", errno));
		return 1;
	}
	(void)umask(S_IRWXG | S_IRWXO); /* cannot fail; 0377 would leave the owner 0400 */
	for (int attempt = 1;; attempt++) {
		if (attempt > ATTEMPTS) {
			warnx("create %s: other programs took or removed the name %d times; gave "
			      "up (try again)",
			      shown(name), ATTEMPTS);
			return 1;
		}
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
		error = errno;
		/* 2. Taken by a segment that a writer or reader died in?  It needs
		 *    nobody: remove it while we hold its lock, and start again.  Gone
		 *    already (a reader removed it)?  Start again too. */
		if (fd == -1 && error == EEXIST) {
			if ((old = shm_open(name, O_RDWR, 0)) == -1 && errno == ENOENT)
				continue;
			cleared = old != -1 && nobody_needs(name, old) && shm_unlink(name) == 0;
			if (old != -1)
				(void)close(old);
			if (cleared)
				continue;
		}
		if (fd == -1) {
			report("shm_open", name, error, hint("create", error));
			return 1;
		}
		/* Failing here, before its lock, it leaves its empty segment: another
		 * program may have cleared it and made its own under the name since. */
		if (above_standard_streams(&fd) == -1) {
			report("fcntl", name, errno, NULL);
			return 1;
		}

		/* 3. Lock it until it is published; the kernel drops it when we end.  A
		 *    reader that got it first took it for a dead writer's: start again. */
		if (lock_segment(fd, LOCK_EX) == -1) {
			report("flock", name, errno, NULL);
			return 1;
		}
		if (same_object(name, fd) != 0)
			break;
		(void)close(fd); /* nameless now: it goes with its descriptor */
	}

	/* 4. Mark it: its first 16 bytes say "filling" and "writer.out's" (write_header). */
	step = "pwrite";
	if (write_header(fd) == -1)
		goto fail;

	/* 5. Reserve memory for the header and words: a full /dev/shm fails here, not by SIGBUS. */
	step = "posix_fallocate";
	if (reserve(fd, 0, SHM_HEADER_SIZE + options.message_len) == -1)
		goto fail;

	/* 6. Give it its full size: the rest takes no memory until it is used. */
	step = "ftruncate";
	if (ftruncate(fd, (off_t)options.size) == -1)
		goto fail;

	/* 7. Map it; MAP_SHARED makes our stores reach every process that maps it. */
	step = "mmap";
	segment = mmap(NULL, options.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED)
		goto fail;
	segment->mark = SHM_MARK; /* already there on Linux (step 4); macOS marks it only now */

	/* 8. Copy the message in (standard input reserved as it comes), and its length. */
	if (!options.from_stdin)
		join_words(segment->message, options.word_count, options.words);
	else if (read_input(fd, name, segment->message, options.size, &options.message_len) == -1)
		goto undo; /* read_input said why */
	segment->message_len = options.message_len;

	/* 9. Publish: the release store makes every write above seen before SHM_READY. */
	atomic_store_explicit(&segment->state, SHM_READY, memory_order_release);

	/* 10. Does the name still lead to it (writer.out -f, since step 3)?  Asked
	 *     after publishing: exit 0 means it was at its name when published. */
	if ((ours = same_object(name, fd)) == 0) {
		warnx("check %s: its name leads elsewhere now; this message is lost", shown(name));
		return 1;
	}
	if (ours == -1) {
		report("check", name, errno,
		       "it was published, but whether it is still at its name is unknown: run "
		       "reader.out to see");
		return 1;
	}

	/* 11. Unmap and close, which releases the lock; the message stays. */
	if (munmap(segment, options.size) == -1 || close(fd) == -1)
		report("munmap or close", name, errno, NULL);
	return 0;

fail: /* Alive after step 3: remove what we made, locked; a death leaves it to the next. */
	report(step, name, errno, hint(step, errno));
undo:
	if (same_object(name, fd) == 1 && shm_unlink(name) == -1 && errno != ENOENT)
		report("shm_unlink", name, errno, NULL);
	return 1;
}

/* Read the command line into 'options'; a usage error exits 2, words that
 * cannot fit exit 1.  getopt(3)'s messages are off (opterr): ours are used. */
static void parse_options(int argc, char *argv[], struct options *options)
{
	static char *default_words[] = {SHM_DEFAULT_MESSAGE};
	const char *problem;
	int opt;

	*options = (struct options){.name = SHM_NAME, .size = SHM_SIZE};
	opterr = 0;
	while ((opt = getopt(argc, argv, ":fhn:s:")) != -1) {
		switch (opt) {
		case 'f':
			options->replace = 1;
			break;
		case 'h':
			usage(USAGE, stdout, 0);
		case 'n':
			options->name = optarg;
			break;
		case 's':
			if (parse_size(optarg, &options->size) == -1)
				usage(USAGE, stderr, 2);
			break;
		default: /* ':' or '?' */
			bad_option(opt);
			usage(USAGE, stderr, 2);
		}
	}
	if ((problem = segment_name_problem(options->name)) != NULL) {
		warnx("%s", problem);
		usage(USAGE, stderr, 2);
	}
	options->word_count = argc - optind;
	options->words = argv + optind;
	options->from_stdin = options->word_count == 1 && strcmp(options->words[0], "-") == 0;
	if (options->word_count == 0) {
		options->word_count = 1;
		options->words = default_words;
	}
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

/* "4096", "64K", "2M" or "1G" to bytes; -1, said why, if it is not a size we
 * can use.  It goes to ftruncate (off_t) and mmap (size_t): it fits both. */
static int parse_size(const char *text, size_t *size)
{
	uintmax_t value, unit = 1;
	char *end;

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
	if (text[0] < '0' || text[0] > '9' || *end != '\0') { /* strtoumax would take " -1" */
		warnx("SIZE must be a whole number of bytes, optionally with K, M or G");
		return -1;
	}
	if (errno == ERANGE || value > (uintmax_t)PTRDIFF_MAX / unit ||
	    value * unit < SHM_HEADER_SIZE) {
		warnx("SIZE must be at least %zu bytes (the header) and at most %td",
		      SHM_HEADER_SIZE, PTRDIFF_MAX);
		return -1;
	}
	*size = (size_t)(value * unit);
	return 0;
}

/* Step 2: whether the segment open on fd, at our name, is ours, unlocked and
 * abandoned (classify); then we hold its lock until we close fd.  (Never on
 * macOS, where flock fails on shared memory: the writer says "File exists".) */
static int nobody_needs(const char *name, int fd)
{
	struct stat info;
	struct header header;
	enum found found;

	if (fstat(fd, &info) == -1 || info.st_uid != geteuid() ||
	    lock_segment(fd, LOCK_EX | LOCK_NB) != 1 || fstat(fd, &info) == -1)
		return 0;
	if (info.st_size < (off_t)SHM_HEADER_SIZE)
		found = classify(&info, NULL);
	else if (pread(fd, &header, sizeof header, 0) == (ssize_t)sizeof header)
		found = classify(&info, &header);
	else
		return 0;
	return abandoned(found) && same_object(name, fd) == 1;
}

/* Step 4: the header, "filling" and marked, in one pwrite.  Linux allows write on shared memory;
 * macOS does not (ESPIPE): there the mark comes at step 7, and a death before needs -f. */
static int write_header(int fd)
{
#ifdef __linux__
	const struct header header = {.state = SHM_FILLING, .mark = SHM_MARK};
	ssize_t written = pwrite(fd, &header, sizeof header, 0);

	if (written >= 0 && written < (ssize_t)sizeof header)
		errno = EIO; /* a part only: not seen on a tmpfs, but not ours to hide */
	return written == (ssize_t)sizeof header ? 0 : -1;
#else
	(void)fd;
	return 0;
#endif
}

/* Join the words with spaces and a newline, as echo; dest NULL: only count. */
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

/* Reserve bytes [offset, offset + len) now, so that touching them cannot fail; 0, or -1 and errno.
 * Where that cannot be done (macOS), go on: a full /dev/shm can then end us with SIGBUS. */
static int reserve(int fd, size_t offset, size_t len)
{
#if defined(_POSIX_ADVISORY_INFO) && _POSIX_ADVISORY_INFO > 0
	int error = posix_fallocate(fd, (off_t)offset, (off_t)len); /* returns, not sets, errno */

	if (error == 0 || error == EINVAL || error == ENODEV || error == EOPNOTSUPP)
		return 0;
	errno = error;
	return -1;
#else
	(void)fd, (void)offset, (void)len;
	return 0;
#endif
}

/* Step 8 with "-": read standard input to its end straight into the message, each 64 KiB piece
 * reserved before read() fills it (else EFAULT), and halved, down to a page, to fit a nearly
 * full /dev/shm.  One byte is read aside first: only what came takes memory.  -1, said why. */
static int read_input(int fd, const char *name, char *message, size_t size, size_t *len)
{
	size_t room = size - SHM_HEADER_SIZE, page = (size_t)sysconf(_SC_PAGESIZE);
	size_t reserved = 0, piece; /* bytes of message[] reserved so far */
	char next;                  /* the first byte past the reserved part */
	ssize_t n;
	int failed;

	for (*len = 0;; *len += (size_t)n) {
		if (*len < reserved)
			n = read(STDIN_FILENO, message + *len, reserved - *len);
		else
			n = read(STDIN_FILENO, &next, 1);
		if (n <= 0)
			break;
		if (*len < reserved)
			continue;
		if (reserved == room) {
			warnx("read standard input for %s: longer than the %zu bytes a %zu-byte "
			      "segment holds (use -s to make the segment larger)",
			      shown(name), room, size);
			return -1;
		}
		piece = room - reserved < (size_t)64 << 10 ? room - reserved : (size_t)64 << 10;
		while ((failed = reserve(fd, SHM_HEADER_SIZE + reserved, piece)) == -1 &&
		       errno == ENOSPC && piece > page)
			piece = piece / 2 > page ? piece / 2 : page;
		if (failed) {
			report("posix_fallocate", name, errno, hint("posix_fallocate", errno));
			return -1;
		}
		reserved += piece;
		message[*len] = next;
	}
	if (n == 0)
		return 0; /* the end of the input */
	warnx("read standard input for %s: %s", shown(name), strerror(errno));
	return -1;
}
