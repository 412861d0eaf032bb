# Build, run and test the shared-memory pair.
#   make        build writer.out and reader.out
#   make basic  build lesson one from README.md, then run its writer and reader
#   make run    build, then run the writer and the reader (NAME=/x: on /x)
#   make test   build, then run the test suite (tests/run.sh)
#   make check  make test, then every deeper check (tests/check.sh); one of
#               them alone: make check-faults, check-asan, check-valgrind,
#               check-static, check-matrix, check-musl, check-user, check-clone,
#               check-bench
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

test: all
	RT_LIB="$(RT_LIB)" sh tests/run.sh

CHECKS = check-faults check-asan check-valgrind check-static check-matrix check-musl check-user \
	check-clone check-bench

check: test
	RT_LIB="$(RT_LIB)" sh tests/check.sh all

$(CHECKS): all
	RT_LIB="$(RT_LIB)" sh tests/check.sh $(@:check-%=%)

bench: all
	sh tests/bench.sh

clean:
	rm -f writer.out reader.out basic_writer.c basic_reader.c basic_writer.out basic_reader.out
	rm -rf build

.PHONY: all basic run test check $(CHECKS) bench clean
