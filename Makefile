# Build, run and test the shared-memory pair.
#   make        build writer.out and reader.out
#   make basic  build lesson one from README.md, then run its writer and reader
#   make live   build the live pair from README.md, then run both at once
#   make run    build, then run the writer and the reader (NAME=/x: on /x)
#   make test   build, then run the test suite (tests/run.sh, tests/try.sh)
#   make try    build, then show each row of lesson three's table (tests/try.sh)
#   make check  make test, then every deeper check (tests/check.sh); one of
#               them alone: make check-faults, check-asan, check-valgrind,
#               check-static, check-matrix, check-arm64, check-musl, check-macos,
#               check-user, check-clone, check-bench
#   make bench  build, then measure the pair against standard tools (tests/bench.sh)
#   make clean  remove what the build made
# CC, CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS may be set on the command line or
# in the environment, as usual.

CFLAGS ?= -std=c11 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion
NAME = /shm_demo

# glibc before 2.34 keeps shm_open in librt.  Link it only if a program that
# calls shm_open does not link without it.
RT_LIB := $(shell printf '\043include <sys/mman.h>\nint main(void) { return shm_open("/x", 0, 0); }\n' \
	| $(CC) -x c -o rt-check.tmp - >/dev/null 2>&1 || echo -lrt; rm -f rt-check.tmp)

# Likewise the semaphores of the live pair were in libpthread: -pthread only
# if a program that calls sem_timedwait does not link without it.
THREAD_LIB := $(shell printf '\043include <semaphore.h>\nint main(void) { return sem_timedwait(0, 0); }\n' \
	| $(CC) -x c -o thread-check.tmp - >/dev/null 2>&1 || echo -pthread; rm -f thread-check.tmp)

all: writer.out reader.out

writer.out: shared_mem_writer.c common.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ shared_mem_writer.c $(LDLIBS) $(RT_LIB)

reader.out: shared_mem_reader.c common.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ shared_mem_reader.c $(LDLIBS) $(RT_LIB)

run: all
	./writer.out -n $(NAME)
	./reader.out -n $(NAME)

# Lesson one lives in README.md only: its two C blocks.
basic_writer.c: README.md tests/readme_code.sh
	sh tests/readme_code.sh 1 >$@
basic_reader.c: README.md tests/readme_code.sh
	sh tests/readme_code.sh 2 >$@

basic_writer.out: basic_writer.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ basic_writer.c $(LDLIBS) $(RT_LIB)

basic_reader.out: basic_reader.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ basic_reader.c $(LDLIBS) $(RT_LIB)

basic: basic_writer.out basic_reader.out
	./basic_writer.out
	./basic_reader.out

# The live pair lives in README.md only too: its third and fourth C blocks are
# the programs, the fifth live.h, which both include.
live.h: README.md tests/readme_code.sh
	sh tests/readme_code.sh 5 >$@
live_writer.c: README.md tests/readme_code.sh
	sh tests/readme_code.sh 3 >$@
live_reader.c: README.md tests/readme_code.sh
	sh tests/readme_code.sh 4 >$@

live_writer.out: live_writer.c live.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ live_writer.c $(LDLIBS) $(RT_LIB) $(THREAD_LIB)

live_reader.out: live_reader.c live.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ live_reader.c $(LDLIBS) $(RT_LIB) $(THREAD_LIB)

# Three lines, a second apart, go through while both run: the reader prints
# each one as it comes.
live: live_writer.out live_reader.out
	for i in 1 2 3; do echo "line $$i, written at $$(date +%T)"; sleep 1; done | ./live_writer.out & \
		./live_reader.out && wait $$!

test: all
	RT_LIB="$(RT_LIB)" THREAD_LIB="$(THREAD_LIB)" sh tests/check.sh test

# Lesson three's table, row by row: lesson one failing, lesson three holding
# (ROW=name: that row alone).
try: all
	RT_LIB="$(RT_LIB)" ROW="$(ROW)" sh tests/try.sh

CHECKS = check-faults check-asan check-valgrind check-static check-matrix check-arm64 check-musl \
	check-macos check-user check-clone check-bench

check: test
	RT_LIB="$(RT_LIB)" THREAD_LIB="$(THREAD_LIB)" sh tests/check.sh all

$(CHECKS): all
	RT_LIB="$(RT_LIB)" THREAD_LIB="$(THREAD_LIB)" sh tests/check.sh $(@:check-%=%)

bench: all
	RT_LIB="$(RT_LIB)" THREAD_LIB="$(THREAD_LIB)" sh tests/bench.sh

clean:
	rm -f writer.out reader.out basic_writer.c basic_reader.c basic_writer.out basic_reader.out
	rm -f live.h live_writer.c live_reader.c live_writer.out live_reader.out
	rm -rf build

.PHONY: all basic live run test try check $(CHECKS) bench clean
