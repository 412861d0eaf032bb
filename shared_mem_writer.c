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
 * Exit status: 0 published at its name, 1 failed (what it made removed,
 * or, before its lock, left to the next program; or published, its name not
 * checked: it says so), 2 bad usage.  It catches no signal: killed before it
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
static bool parse_size(const char *text, size_t *size);
static bool removed_if_dead(const char *name);
static bool write_header(int fd);
static size_t join_words(char *dest, int count, char *words[]);
static bool reserve(int fd, size_t offset, size_t len);
static bool read_input(int fd, const char *name, char *message, size_t room, size_t *len);
static _Noreturn void clear_and_die(const char *name, int fd, const char *step, const char *hint);

int main(int argc, char *argv[])
{
	struct options options;
	struct segment *segment;
	int fd, error, attempt;

	parse_options(argc, argv, &options); /* words that cannot fit end it here */
	const char *name = options.name;

	/* 1. Create the segment: O_EXCL fails if the name is taken, so we never
	 *    reuse what someone else made.  Mode 0600 keeps it ours alone, and our
	 *    umask takes nothing from it.  -f first removes whatever has the name. */
	if (options.replace && shm_unlink(name) == -1 && errno != ENOENT)
		die("shm_unlink", name, errno, hint(REMOVE, errno));
	(void)umask(S_IRWXG | S_IRWXO); /* cannot fail; 0377 would leave the owner 0400 */
	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
		error = errno;
		/* 2. Taken?  If by a segment that a program died in, remove it
		 *    (removed_if_dead), and start again; if by one gone already, too. */
		if (fd == -1 && error == EEXIST && removed_if_dead(name))
			continue;
		if (fd == -1)
			die("shm_open", name, error, hint(CREATE, error));
		if (!above_standard_streams(&fd))
			die("fcntl", name, errno, NULL);

		/* 3. Lock it until it is published; the kernel drops the lock when we end.
		 *    Until then a failure removes nothing (another writer may have cleared
		 *    the empty segment, and made its own).  A reader that came first took
		 *    it for a dead writer's, and removed it: start again. */
		if (flock(fd, LOCK_EX) == -1 && !cannot_lock(errno))
			die("flock", name, errno, NULL);
		if (name_leads(name, fd) != ELSEWHERE) /* if it cannot tell, step 10 asks again */
			break;
		(void)close(fd); /* nameless now: it goes with its descriptor */
	}
	if (attempt > ATTEMPTS)
		errx(1,
		     "create %s: other programs took or removed the name %d times; "
		     "gave up (try again)",
		     shown(name), ATTEMPTS);

	/* 4. Mark it: its first 16 bytes say "filling" and "writer.out's" (write_header). */
	if (!write_header(fd))
		clear_and_die(name, fd, "pwrite", hint(RESERVE, errno));

	/* 5. Reserve memory for the header and words: a full /dev/shm fails here, not by SIGBUS. */
	if (!reserve(fd, 0, SHM_HEADER_SIZE + options.message_len))
		clear_and_die(name, fd, "posix_fallocate", hint(RESERVE, errno));

	/* 6. Give it its full size: the rest takes no memory until it is used. */
	if (ftruncate(fd, (off_t)options.size) == -1)
		clear_and_die(name, fd, "ftruncate", NULL);

	/* 7. Map it; MAP_SHARED makes our stores reach every process that maps it. */
	segment = mmap(NULL, options.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED)
		clear_and_die(name, fd, "mmap", NULL);
	segment->mark = SHM_MARK; /* already there on Linux (step 4); macOS marks it only now */

	/* 8. Copy the message in (standard input reserved as it comes), and its length. */
	if (!options.from_stdin)
		join_words(segment->message, options.word_count, options.words);
	else if (!read_input(fd, name, segment->message, options.size - SHM_HEADER_SIZE,
	                     &options.message_len))
		clear_and_die(name, fd, NULL, NULL); /* read_input said why */
	segment->message_len = options.message_len;

	/* 9. Publish: the release store makes every write above seen before SHM_READY. */
	atomic_store_explicit(&segment->state, SHM_READY, memory_order_release);

	/* 10. Does the name still lead to it (writer.out -f, since step 3)?  Asked
	 *     after publishing: exit 0 means it was at its name when published. */
	enum where leads = name_leads(name, fd);
	if (leads == ELSEWHERE)
		errx(1, "check %s: its name leads elsewhere now; this message is lost",
		     shown(name));
	if (leads == UNKNOWN)
		die("check", name, errno,
		    "it was published, but whether it is still at its name is unknown: "
		    "run reader.out to see");

	/* 11. Unmap and close, which releases the lock; the message stays. */
	if (munmap(segment, options.size) == -1 || close(fd) == -1)
		report("munmap or close", name, errno, NULL);
	return 0;
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
			if (!parse_size(optarg, &options->size))
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

/* "4096", "64K", "2M" or "1G" to bytes; false, said why, if it is not a size we
 * can use.  It goes to ftruncate (off_t) and mmap (size_t): it fits both. */
static bool parse_size(const char *text, size_t *size)
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
		return false;
	}
	if (errno == ERANGE || value > (uintmax_t)PTRDIFF_MAX / unit ||
	    value * unit < SHM_HEADER_SIZE) {
		warnx("SIZE must be at least %zu bytes (the header) and at most %td",
		      SHM_HEADER_SIZE, PTRDIFF_MAX);
		return false;
	}
	*size = (size_t)(value * unit);
	return true;
}

/* Step 2: the name was taken.  Lock what it leads to, and remove it if a
 * program died in it (clear_dead_segment).  True if the name is free now:
 * removed, or gone already.  Where shared memory cannot be locked (macOS),
 * false: "File exists". */
static bool removed_if_dead(const char *name)
{
	int old = shm_open(name, O_RDWR, 0);
	bool freed;

	if (old == -1)
		return errno == ENOENT;
	freed = flock(old, LOCK_EX | LOCK_NB) == 0 && clear_dead_segment(name, old);
	(void)close(old); /* and with it the lock */
	return freed;
}

/* Step 4: the header, "filling" and marked, in one pwrite.  Linux allows write on shared memory;
 * macOS does not (ESPIPE): there the mark comes at step 7, and a death before needs -f. */
static bool write_header(int fd)
{
#ifdef __linux__
	const struct header header = {.state = SHM_FILLING, .mark = SHM_MARK};

	return pwrite(fd, &header, sizeof header, 0) == (ssize_t)sizeof header;
#else
	(void)fd;
	return true;
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

/* Reserve bytes [offset, offset + len) now, so that touching them cannot fail (false if not).
 * Where that cannot be done (macOS), go on: a full /dev/shm can then end us with SIGBUS. */
static bool reserve(int fd, size_t offset, size_t len)
{
#if defined(_POSIX_ADVISORY_INFO) && _POSIX_ADVISORY_INFO > 0
	int error = posix_fallocate(fd, (off_t)offset, (off_t)len); /* returns, not sets, errno */

	if (error == 0 || error == EINVAL || error == ENODEV || error == EOPNOTSUPP)
		return true;
	errno = error;
	return false;
#else
	(void)fd, (void)offset, (void)len;
	return true;
#endif
}

/* Step 8 with "-": read standard input to its end, a buffer at a time; reserve what came
 * (a full /dev/shm is then an error, not SIGBUS), and copy it in: only what came takes memory.
 * False, said why, if it fails, or is longer than 'room'. */
static bool read_input(int fd, const char *name, char *message, size_t room, size_t *len)
{
	static char buffer[64 * 1024];
	ssize_t n;

	for (*len = 0; (n = read(STDIN_FILENO, buffer, sizeof buffer)) > 0; *len += (size_t)n) {
		if ((size_t)n > room - *len) {
			warnx("read standard input for %s: longer than the %zu bytes a %zu-byte "
			      "segment holds (use -s to make the segment larger)",
			      shown(name), room, room + SHM_HEADER_SIZE);
			return false;
		}
		if (!reserve(fd, SHM_HEADER_SIZE + *len, (size_t)n)) {
			report("posix_fallocate", name, errno, hint(RESERVE, errno));
			return false;
		}
		memcpy(message + *len, buffer, (size_t)n);
	}
	if (n == 0)
		return true; /* the end of the input */
	warnx("read standard input for %s: %s", shown(name), strerror(errno));
	return false;
}

/* A failure after step 3: say why (step NULL: already said), clear our
 * segment as the next writer or reader would after a death, holding its lock
 * (clear_dead_segment): only if the name still leads to it; exit 1. */
static _Noreturn void clear_and_die(const char *name, int fd, const char *step, const char *hint)
{
	if (step != NULL)
		report(step, name, errno, hint);
	(void)clear_dead_segment(name, fd);
	exit(1);
}
