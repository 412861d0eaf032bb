/*
 * tests/lock_holder.c NAME - for tests/faults.sh: check the two facts the
 * programs' lock rests on.  Create segment NAME, lock it with flock, give it
 * the size of a header, map it, mark it as writer.out's (its state 0: being
 * filled), close the descriptor, say "closed" and wait to be killed.  While it waits, a reader
 * must find the segment busy: the mapping keeps the open file, and with it
 * the lock.  Once it is killed, the kernel must have dropped the lock.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define MARK 0x44454D4Fu /* common.h's SHM_MARK: the 4 bytes after the state word */

int main(int argc, char *argv[])
{
	uint32_t *mapped;
	int fd;

	if (argc != 2)
		errx(2, "usage: lock_holder NAME");
	fd = shm_open(argv[1], O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
	if (fd == -1)
		err(1, "shm_open %s", argv[1]);
	if (flock(fd, LOCK_EX) == -1)
		err(1, "flock %s", argv[1]);
	if (ftruncate(fd, 16) == -1)
		err(1, "ftruncate %s", argv[1]);
	mapped = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mapped == MAP_FAILED)
		err(1, "mmap %s", argv[1]);
	mapped[1] = MARK;
	if (close(fd) == -1)
		err(1, "close %s", argv[1]);
	if (printf("closed\n") < 0 || fflush(stdout) == EOF)
		err(1, "write standard output");
	for (;;)
		pause();
}
