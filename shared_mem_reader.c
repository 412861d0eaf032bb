/*
 * shared_mem_reader.c - open the named POSIX shared-memory segment that
 * shared_mem_writer.c (writer.out) filled, print its message, remove it.
 *
 * usage: reader.out [-k] [-n NAME]
 *   -k        keep: print the message, change nothing and remove nothing
 *   -n NAME   segment name, "/" and a name (default /shm_demo)
 *   -h        print this help
 * Exit status: 0 printed, 1 failed (a ready message is kept), 2 bad usage.
 * It catches no signal: killed before it marks the message delivered, it
 * leaves it ready for the next reader, which prints it whole; killed after,
 * the next reader removes it.
 *
 * It teaches: shm_open of an existing object, flock, fstat, mmap, checking
 * what another process left before trusting it, and shm_unlink of a name
 * only while it leads to our object.  main() is the lesson; the helpers
 * after it do the command line.
 */
#define _POSIX_C_SOURCE   200809L
#define _DARWIN_C_SOURCE     /* macOS declares flock and LOCK_* only with it */
#define _FILE_OFFSET_BITS 64 /* a 64-bit off_t on 32-bit builds too: segments over 2 GiB */

#include "common.h"

#define USAGE "reader.out [-k] [-n NAME]"

/* On Linux anyone may plant a FIFO in /dev/shm, whose open would wait for ever; O_NONBLOCK
 * returns at once, and changes nothing for a segment.  POSIX does not list it for shm_open. */
#ifdef __linux__
#define NEVER_WAIT O_NONBLOCK
#else
#define NEVER_WAIT 0
#endif

static void parse_options(int argc, char *argv[], const char **name, bool *keep);
static bool trusted(const char *name, const struct stat *info);
static void refuse(const char *name, enum found found, bool locked, bool keep, bool removed);

int main(int argc, char *argv[])
{
	const char *name;
	struct segment *mapped_header = NULL, *segment;
	struct header header = {0};
	struct stat info;
	enum found found;
	bool keep, locked;
	int fd;

	parse_options(argc, argv, &name, &keep);

	/* 1. Open the segment, to read and to mark the message delivered (-k only reads). */
	fd = shm_open(name, (keep ? O_RDONLY : O_RDWR) | NEVER_WAIT, 0);
	if (fd == -1)
		die("shm_open", name, errno, hint(OPEN, errno));
	if (!above_standard_streams(&fd))
		die("fcntl", name, errno, NULL);

	/* 2. Whose, and what, is it?  Asked before the lock: another user's is
	 *    called that even while someone holds it. */
	if (fstat(fd, &info) == -1)
		die("fstat", name, errno, NULL);
	if (!trusted(name, &info))
		return 1;

	/* 3. Lock it, without waiting.  A writer holds the lock until it has
	 *    published, a consuming reader until it has removed the message, and
	 *    the kernel drops it when they end.  -k shares it with other -k readers.
	 *    (Only where shared memory cannot be locked, macOS, is 'locked' false.) */
	locked = flock(fd, (keep ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0;
	if (!locked && !cannot_lock(errno))
		die("flock", name, errno, hint(LOCK, errno));

	/* 4. Holding the lock, ask its size again (a writer may have published
	 *    since step 2), and map its header, if any: the acquire load pairs
	 *    with the writer's release store (step 9). */
	if (fstat(fd, &info) == -1)
		die("fstat", name, errno, NULL);
	if (info.st_size >= (off_t)SHM_HEADER_SIZE) {
		mapped_header = mmap(NULL, SHM_HEADER_SIZE,
		                     keep ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mapped_header == MAP_FAILED)
			die("mmap", name, errno, NULL);
		header.state = atomic_load_explicit(&mapped_header->state, memory_order_acquire);
		header.mark = mapped_header->mark;
		header.message_len = mapped_header->message_len;
	}

	/* 5. Is there a message (classify)?  If not, and we hold the lock alone,
	 *    nobody is at work: remove what a program died in (clear_dead_segment). */
	found = classify(&info, mapped_header == NULL ? NULL : &header);
	if (found != MESSAGE) {
		bool removed = locked && !keep && abandoned(found) && clear_dead_segment(name, fd);
		refuse(name, found, locked, keep, removed);
		return 1;
	}

	/* 6. Map the header and the message, not a byte more: a large segment costs
	 *    nothing, and a 32-bit build reads one larger than its address space. */
	size_t len = (size_t)header.message_len;
	segment = mmap(NULL, SHM_HEADER_SIZE + len, PROT_READ, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED)
		die("mmap", name, errno, NULL);

	/* 7. Print every byte, and make sure it got out (a full disk, a closed
	 *    output: it stays ready).  A pipe that took the bytes has them. */
	(void)setvbuf(stdout, NULL, _IONBF, 0); /* straight from the mapping, no copy */
	if (fwrite(segment->message, 1, len, stdout) != len || fclose(stdout) == EOF)
		die("write standard output for", name, errno,
		    "the message is kept; run reader.out again");

	/* 8. Delivered: say so, then remove the name if it still leads to it.  If
	 *    we stop before, the next reader removes it, and prints nothing. */
	if (!keep) {
		/* relaxed: whoever looks next takes the lock first, which orders it */
		atomic_store_explicit(&mapped_header->state, SHM_DELIVERED, memory_order_relaxed);
		if (name_leads(name, fd) == HERE && shm_unlink(name) == -1 && errno != ENOENT)
			report("shm_unlink", name, errno, NULL);
	}

	/* 9. Unmap and close, which releases the lock. */
	if (munmap(segment, SHM_HEADER_SIZE + len) == -1 ||
	    munmap(mapped_header, SHM_HEADER_SIZE) == -1 || close(fd) == -1)
		report("munmap or close", name, errno, NULL);
	return 0;
}

/* Read the command line; a usage error exits 2.  getopt(3)'s messages are off: ours are used. */
static void parse_options(int argc, char *argv[], const char **name, bool *keep)
{
	const char *problem;
	int opt;

	*name = SHM_NAME;
	*keep = false;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":hkn:")) != -1) {
		switch (opt) {
		case 'h':
			usage(USAGE, stdout, 0);
		case 'k':
			*keep = true;
			break;
		case 'n':
			*name = optarg;
			break;
		default: /* ':' or '?' */
			bad_option(opt);
			usage(USAGE, stderr, 2);
		}
	}
	if (optind != argc) {
		warnx("unexpected argument \"%s\": the message is given to writer.out",
		      shown(argv[optind]));
		usage(USAGE, stderr, 2);
	}
	if ((problem = segment_name_problem(*name)) != NULL) {
		warnx("%s", problem);
		usage(USAGE, stderr, 2);
	}
}

/* Step 2: trust only a segment of our own (anyone may create a name first) and, on Linux, a
 * regular file, not a FIFO or directory planted there (macOS's fstat gives no file type). */
static bool trusted(const char *name, const struct stat *info)
{
	if (info->st_uid != geteuid())
		warnx("check %s: owned by user %ld, not by you (refusing what someone else "
		      "may have planted; remove it, or use another -n NAME)",
		      shown(name), (long)info->st_uid);
#ifdef __linux__
	else if (!S_ISREG(info->st_mode))
		warnx("check %s: not a shared-memory segment but a directory, FIFO or "
		      "other special file (remove it, or use another -n NAME)",
		      shown(name));
#endif
	else
		return true;
	return false;
}

/* Step 5: say what the segment holds instead of a message, and what became of it.  Where shared
 * memory cannot be locked, nobody can tell whether a writer is at work, and nothing was removed. */
static void refuse(const char *name, enum found found, bool locked, bool keep, bool removed)
{
	static const char *const what[] = {
	    [EMPTY] = "empty and unlocked: its writer died before writing, or will start again",
	    [ABANDONED] = "abandoned by its writer, which died before the message was complete",
	    [DELIVERED] = "already delivered by a reader that died before removing it",
	    [FOREIGN] = "not made by writer.out (no mark; kept: remove it, or use another -n NAME)",
	    [DAMAGED] = "damaged: no state or length writer.out stores (kept; -f replaces it)",
	    [TOO_LARGE] = "its message is too large for this build to map; it is kept",
	};

	if (!abandoned(found))
		warnx("check %s: %s", shown(name), what[found]);
	else if (!locked)
		warnx("check %s: not ready (a writer may still be filling it: wait and run "
		      "reader.out again; if no writer is running, writer.out -f replaces it)",
		      shown(name));
	else if (keep)
		warnx("check %s: %s; reader.out without -k removes it", shown(name), what[found]);
	else if (removed)
		warnx("check %s: %s; removed it", shown(name), what[found]);
	else
		warnx("check %s: already delivered, or removed, by another program", shown(name));
}
