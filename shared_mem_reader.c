/*
 * shared_mem_reader.c - open the named POSIX shared-memory segment that
 * shared_mem_writer.c (writer.out) filled, print its message, remove it.
 *
 * usage: reader.out [-k] [-n NAME]
 *   -k        keep the segment instead of removing it after printing
 *   -n NAME   segment name, "/" and a name (default /shm_demo)
 *   -h        print this help
 * Exit status: 0 printed, 1 failed (and the segment kept), 2 bad usage.
 *
 * It teaches: shm_open for reading, fstat, mmap of an existing object,
 * checking what another process left before trusting it, and shm_unlink.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static void usage(FILE *out, int status)
{
	if (fputs("usage: reader.out [-k] [-n NAME]\n", out) == EOF || fflush(out) == EOF)
		err(1, "write the usage");
	exit(status);
}

/* Say which step failed on which segment, the system's reason, and what to do. */
static void report(const char *step, const char *name, int error, const char *advice)
{
	warnx("%s %s: %s (%s)", step, name, strerror(error), advice);
}

/* write() may take fewer bytes than asked, or be interrupted by a signal:
 * go on until every byte is out. */
static int write_all(const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	const char *name = SHM_NAME, *problem;
	const struct segment *segment;
	struct stat info;
	size_t size, message_len;
	int keep = 0, opt, fd;

	while ((opt = getopt(argc, argv, "hkn:")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'k':
			keep = 1;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		problem = "reader.out takes no MESSAGE; the writer gives it";
	else
		problem = segment_name_problem(name);
	if (problem != NULL) {
		warnx("%s", problem);
		usage(stderr, 2);
	}

	/* 1. Open the existing segment, for reading only. */
	fd = shm_open(name, O_RDONLY, 0);
	if (fd == -1) {
		report("shm_open", name, errno,
		       errno == ENOENT ? "run writer.out first"
		                       : "it may belong to another user; try another -n NAME");
		return 1;
	}

	/* 2. Ask the object, not a constant, how large it is and whose it is. */
	if (fstat(fd, &info) == -1) {
		report("fstat", name, errno, "try again");
		return 1;
	}

	/* 3. Trust only a segment we own: anyone may create a name first. */
	if (info.st_uid != geteuid()) {
		warnx("check %s: owned by user %ld, not by you (refusing what someone else may "
		      "have planted; remove it, or use another -n NAME)",
		      name, (long)info.st_uid);
		return 1;
	}
	if (info.st_size < (off_t)SHM_HEADER_SIZE) {
		warnx("check %s: %lld bytes is smaller than the %zu-byte header (not made by "
		      "writer.out; replace it with writer.out -f)",
		      name, (long long)info.st_size, SHM_HEADER_SIZE);
		return 1;
	}
	size = (size_t)info.st_size;

	/* 4. Map the whole object.  PROT_READ: we only look.  Pages the message
	 *    does not use are never touched, so a large segment costs nothing. */
	segment = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (segment == MAP_FAILED) {
		report("mmap", name, errno, "try again");
		return 1;
	}

	/* 5. The mapping stays valid without the descriptor. */
	if (close(fd) == -1) {
		report("close", name, errno, "try again");
		return 1;
	}

	/* 6. The acquire load pairs with the writer's release store: once we see
	 *    SHM_READY, the length and the message are complete. */
	if (atomic_load_explicit(&segment->ready, memory_order_acquire) != SHM_READY) {
		warnx("check %s: not ready (the writer is still writing, or died before it "
		      "finished, or this is not its segment; run writer.out -f)",
		      name);
		return 1;
	}
	/* Take the length once: what we check must be what we use. */
	message_len = segment->message_len;
	if (message_len > size - SHM_HEADER_SIZE) {
		warnx("check %s: says its message is %zu bytes, more than its %zu bytes of room "
		      "(damaged; replace it with writer.out -f)",
		      name, message_len, size - SHM_HEADER_SIZE);
		return 1;
	}

	/* 7. Print the message, every byte of it, and make sure it got out:
	 *    a full disk or a closed pipe must not go unnoticed. */
	if (write_all(segment->message, message_len) == -1 || close(STDOUT_FILENO) == -1) {
		report("write standard output for", name, errno,
		       "the segment is kept; run reader.out again");
		return 1;
	}

	/* 8. Unmap: we are done with the pages. */
	if (munmap((void *)segment, size) == -1) {
		report("munmap", name, errno, "try again");
		return 1;
	}

	/* 9. Only now that the message was delivered, remove the name.  The
	 *    memory is freed once no process has it mapped.  Another reader may
	 *    have removed it first: that is not an error. */
	if (!keep && shm_unlink(name) == -1 && errno != ENOENT) {
		report("shm_unlink", name, errno, "remove it by hand");
		return 1;
	}
	return 0;
}
