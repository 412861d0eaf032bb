/*
 * tests/nonblock.c PROGRAM ARGS... - for tests/faults.sh: make standard
 * input and output non-blocking, as a careless parent may leave them, then
 * run PROGRAM.  A reader or writer must still move every byte.
 */
#define _POSIX_C_SOURCE 200809L

#include <err.h>
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	if (argc < 2)
		errx(2, "usage: nonblock PROGRAM ARGS...");
	for (int fd = STDIN_FILENO; fd <= STDOUT_FILENO; fd++) {
		int flags = fcntl(fd, F_GETFL);
		if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
			err(1, "make descriptor %d non-blocking", fd);
	}
	execvp(argv[1], argv + 1);
	err(1, "run %s", argv[1]);
}
