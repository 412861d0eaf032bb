# shellcheck shell=sh
# tests/lib.sh - what every test script shares: how a case is run and
# counted, the programs under test, and the clean-up.  Sourced, not run.
#
# Environment:
#   WRITER, READER  the programs under test (default ./writer.out, ./reader.out)
#   RUN             a checker put before every run of them: a valgrind command line
#   EMU             the emulator of the build under test, before every program
#                   it made (the lessons built with CC too): "qemu-aarch64 -L
#                   /usr/aarch64-linux-gnu" for an arm64 build; empty: native
#   WRITER_EMU, READER_EMU  each program's own, where a pair is mixed (a 32-bit
#                   writer with a 64-bit reader); default EMU
#   CI              when "true", a case skipped for a missing tool fails instead
#   ONLY            a shell pattern: run only the cases whose function name
#                   matches it (e.g. '*_as_nobody'); the others are not counted
#   LIMIT           how many seconds a case may run (default 120): one that
#                   runs longer is stopped, with all it started, and fails
#   SKIPPED         a file: the function name of every case that skips is
#                   added to it (make check holds the emulated parts to a list)

WRITER=${WRITER:-./writer.out}
READER=${READER:-./reader.out}
RUN=${RUN:-}
EMU=${EMU:-}
WRITER_EMU=${WRITER_EMU-$EMU}
READER_EMU=${READER_EMU-$EMU}

passed=0
failed=0
skipped=0
number=0

# Every segment this run creates is named "/$prefix"_N, and the clean-up
# removes only these.  The process id keeps two runs apart; the work
# directory's random letters keep a run apart from one killed long ago with
# the same id, which may have left a segment behind (ids come round again).
work=$(mktemp -d "${TMPDIR:-/tmp}/shm_demo_test.XXXXXX") || exit 1
prefix="shm_demo_test_$$_${work##*.}"
other= # a directory for the runs as another user (faults.sh makes it, as root)

cleanup() {
	stop_case "$prefix.$number"
	rm -rf /dev/shm/"$prefix"_*
	rm -rf "$work" ${other:+"$other"}
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The segment's header: a 32-bit state word, writer.out's 32-bit mark and a
# 64-bit length, 16 bytes on every build (common.h).
# shellcheck disable=SC2034 # used by the scripts that source this file
header=16

# bytes N: N bytes of "x" on standard output.
bytes() { head -c "$1" /dev/zero | tr '\0' x; }

# poke OFFSET TEXT: overwrite bytes of segment $seg in place with printf TEXT.
poke() {
	# shellcheck disable=SC2059 # TEXT is a printf format on purpose
	printf "$2" | dd of="$(seg_file)" bs=1 seek="$1" conv=notrunc 2>/dev/null
}

# The programs store numbers in this machine's byte order.
if [ "$(printf '\001\000' | od -An -tu2 | tr -d ' ')" = 1 ]; then
	low_first=true
else
	low_first=false
fi

# put_length N: store N as the message length in segment $seg, the 8 bytes
# from byte 8, in the machine's byte order.
put_length() {
	bytes=
	for shift in 0 8 16 24 32 40 48 56; do
		byte="\\$(printf %o $((($1 >> shift) & 255)))"
		if $low_first; then bytes="$bytes$byte"; else bytes="$byte$bytes"; fi
	done
	poke 8 "$bytes"
}

# put_marker ABCD: store a state of common.h ("REDY", "DONE") in the 'state'
# word of segment $seg; its letters are the value's bytes from the most
# significant one down.
put_marker() {
	if $low_first; then
		poke 0 "$(echo "$1" | sed 's/\(.\)\(.\)\(.\)\(.\)/\4\3\2\1/')"
	else
		poke 0 "$1"
	fi
}

# LeakSanitizer cannot work under strace: an ASan build run under it goes
# without (env "$no_leaks" ...); the other cases check for leaks.
# shellcheck disable=SC2034 # used by the scripts that source this file
no_leaks="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# writer ARGS... / reader ARGS...: run a program under test, under its
# emulator if any, and the checker if any.  bare_writer / bare_reader: under
# its emulator alone, for the cases a checker would change (it opens files of
# its own, on the numbers a case leaves closed, and needs more descriptors
# and address space than a limit leaves).
# shellcheck disable=SC2086 # RUN and the emulators are command lines: split them into words
writer() { $RUN $WRITER_EMU "$WRITER" "$@"; }
# shellcheck disable=SC2086
reader() { $RUN $READER_EMU "$READER" "$@"; }
# shellcheck disable=SC2086
bare_writer() { $WRITER_EMU "$WRITER" "$@"; }
# shellcheck disable=SC2086
bare_reader() { $READER_EMU "$READER" "$@"; }

# native REASON: skip the case, visibly, when a program runs under an
# emulator, where it cannot mean the same (strace would act on the emulator,
# a limit would bind the emulator too); the native builds run it.
native() {
	[ -z "$EMU$WRITER_EMU$READER_EMU" ] && return 0
	skip "not under an emulator: $1"
}

# rounds N: how many times a case repeats its runs: N, or a tenth of N (3 at
# least) when $RUN puts a checker such as valgrind in front of every run,
# which makes each some twenty times slower, and looks for memory errors,
# not for rare interleavings.
rounds() {
	if [ -z "$RUN" ]; then
		echo "$1"
	else
		echo $(($1 / 10 > 3 ? $1 / 10 : 3))
	fi
}

# The file behind segment $seg; Linux keeps POSIX shared memory in /dev/shm.
seg_file() { echo "/dev/shm/${seg#/}"; }

# check DESCRIPTION FUNCTION: run one case in a subshell with a segment name
# of its own in $seg (and, if it needs more, names that add "_" and a word to
# it); the function's status decides: 0 passed, 77 skipped (the reason in
# $work/skip), anything else failed (its output shown).  A watchdog stops the
# case if it runs longer than LIMIT seconds.
check() {
	# shellcheck disable=SC2254 # ONLY is a pattern on purpose
	case $2 in ${ONLY:-*}) ;; *) return 0 ;; esac
	number=$((number + 1))
	seg="/${prefix}_$number"
	rm -f "$work/skip" "$work/timed_out"
	watchdog "$prefix.$number" </dev/null >/dev/null 2>&1 &
	dog=$!
	(SHM_DEMO_CASE=$prefix.$number && export SHM_DEMO_CASE && set -u && "$2") >"$work/log" 2>&1
	status=$?
	# SIGKILL, not SIGTERM: a watchdog that has not yet run (a loaded machine)
	# still has dash's handler for our TERM trap, which takes the signal and
	# then forgets it with the trap, and the watchdog would run on to LIMIT.
	{ kill -KILL "$dog" && wait "$dog"; } 2>/dev/null # dash says "Killed" otherwise
	stop_case "$prefix.$number" # what it left running, if it failed half way
	if [ -f "$work/timed_out" ]; then
		failed=$((failed + 1))
		echo "not ok $number - $1"
		echo "#   timed out: still running after ${LIMIT:-120} seconds, so stopped"
		sed 's/^/#   /' "$work/log"
	elif [ "$status" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok $number - $1"
	elif [ "$status" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "skip $number - $1: $(cat "$work/skip")"
		[ -z "${SKIPPED:-}" ] || echo "$2" >>"$SKIPPED"
	else
		failed=$((failed + 1))
		echo "not ok $number - $1"
		sed 's/^/#   /' "$work/log"
	fi
	rm -rf "$(seg_file)" "$(seg_file)"_*
}

# watchdog TAG: after LIMIT seconds, unless check() has stopped us first,
# note the time-out and stop the case.
watchdog() {
	waited=0
	while [ "$waited" -lt "${LIMIT:-120}" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	: >"$work/timed_out"
	stop_case "$1"
}

# stop_case TAG: kill every process of a case: those whose environment holds
# SHM_DEMO_CASE=TAG, which whatever the case starts inherits, even a process
# whose parent has gone, and no process of anyone else (not even one that
# was given a freed process id).  Again while any is left, since a dying
# shell may start one more; at most 50 times.
stop_case() {
	round=0
	while [ "$round" -lt 50 ]; do
		# Not grep's status: it says 2 when a process ended while it read.
		pids=$(grep -l -z -x -F "SHM_DEMO_CASE=$1" /proc/[0-9]*/environ 2>/dev/null)
		[ -n "$pids" ] || return 0
		for environ in $pids; do
			# Check again just before the kill: the process may have ended
			# since, and its number gone to a process of someone else.
			grep -q -z -x -F "SHM_DEMO_CASE=$1" "$environ" 2>/dev/null || continue
			pid=${environ#/proc/}
			kill -KILL "${pid%/environ}" 2>/dev/null
		done
		round=$((round + 1))
	done
}

# wait_for TEST...: wait up to 10 seconds for the test command to succeed.
wait_for() {
	tries=0
	until "$@"; do
		tries=$((tries + 1))
		[ "$tries" -lt 100 ] || return 1
		sleep 0.1
	done
}

# sleeping PID: true once process PID waits in the kernel (state S), as a
# program blocked on a pipe does.
sleeping() {
	[ "$(state "$1")" = S ]
}

# state PID: the state letter of process PID (R, S, Z...), or nothing if
# there is no such process.  running PID: true while it exists and is no
# zombie.
state() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c 1
}
running() {
	letter=$(state "$1") && [ -n "$letter" ] && [ "$letter" != Z ]
}

# killed_by SIGNAL STATUS: fail unless STATUS is that of a process ended by
# SIGNAL (INT, TERM, ...), as a shell reports it: 128 + the signal's number.
killed_by() {
	[ "$2" -gt 128 ] && [ "$(kill -l "$2")" = "$1" ] && return 0
	echo "exit status $2, not that of a process killed by SIG$1"
	return 1
}

# child_of PID: the process id of PID's first child.
child_of() {
	children=$(cat "/proc/$1/task/$1/children" 2>/dev/null) && [ -n "$children" ] &&
		echo "${children%% *}"
}

# traced_child PID: the process that strace PID traces, once it runs: the
# child of strace that is not strace (it forks a helper for a moment too).
traced_child() {
	# shellcheck disable=SC2013 # the file is one line of process ids
	for child in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		[ "$(cat "/proc/$child/comm" 2>/dev/null)" != strace ] && echo "$child" && return 0
	done
	return 1
}

# gone_within SECONDS PID: fail unless process PID has ended (and been
# waited for) within SECONDS.
gone_within() {
	tries=0
	while running "$2"; do
		tries=$((tries + 1))
		[ "$tries" -le $(($1 * 10)) ] || { echo "process $2 still runs after $1 s" && return 1; }
		sleep 0.1
	done
}

# skip REASON: end the case as skipped (use as: skip "why"; return).
skip() {
	echo "$1" >"$work/skip"
	return 77
}

# need COMMAND: skip the case if COMMAND is missing, but fail it under CI,
# which installs every tool the tests use.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "${CI:-}" = true ]; then
		echo "$1 is missing, and CI must run this case"
		return 1
	fi
	skip "$1 is not installed"
}

# expect STATUS COMMAND...: run COMMAND, keep its output in $work/out and
# $work/err, and fail unless it exits with STATUS.
expect() {
	want=$1
	shift
	"$@" >"$work/out" 2>"$work/err"
	status_is "$want" $? "$*"
}

# status_is WANT GOT WHAT: fail unless GOT, the exit status of WHAT, is WANT;
# say so, with its standard error (in $work/err).
status_is() {
	[ "$2" -eq "$1" ] && return 0
	echo "expected exit status $1, got $2 from: $3"
	sed 's/^/stderr: /' "$work/err"
	return 1
}

# said TEXT: fail unless the last expect's standard error contains TEXT.
said() {
	grep -F -q -e "$1" "$work/err" && return 0
	echo "standard error lacks \"$1\"; it was:"
	cat "$work/err"
	return 1
}

# printed FILE: fail unless the last expect's standard output equals FILE.
printed() {
	cmp "$1" "$work/out" && return 0
	echo "standard output differs from $1"
	return 1
}

# silent: fail unless the last expect printed nothing on standard output.
silent() {
	[ ! -s "$work/out" ] && return 0
	echo "standard output should be empty, but holds:"
	od -c "$work/out" | head -n 5
	return 1
}

# messages: the messages of docs/troubleshooting.md's table, one a line (a
# row "| `MESSAGE` | what it means |").
# shellcheck disable=SC2016 # the backquotes are the table's, not the shell's
messages() {
	sed -n 's/^| `\([^`]*\)` | .*/\1/p' docs/troubleshooting.md
}

# documented NAME: fail unless a whole line of the last expect's standard
# error, with the segment's name written as NAME (as the table writes it:
# NAME, or /shm_live for lesson two) and the numbers as the table writes
# them, is a message of docs/troubleshooting.md's table, word for word.  With
# DOCUMENTED set to a file, that message goes there too: make check counts
# the table's messages that no run has shown.
documented() {
	sed -e "s|$seg|$1|g" -e 's/owned by user [0-9]*,/owned by user U,/' \
		-e 's/a message of [0-9]* bytes does not fit in a [0-9]*-byte segment, which holds [0-9]*/a message of N bytes does not fit in a S-byte segment, which holds R/' \
		"$work/err" >"$work/documented"
	messages >"$work/messages"
	while IFS= read -r line; do
		grep -F -x -q -e "$line" "$work/messages" || continue
		[ -z "${DOCUMENTED:-}" ] || echo "$line" >>"$DOCUMENTED"
		return 0
	done <"$work/documented"
	echo "docs/troubleshooting.md's table lacks, as a whole line: $(cat "$work/documented")"
	return 1
}

# table_rows: for each row of lesson three's table in README.md, its last two
# columns, "try it" and "test", without their backquotes: "make try ROW=x x".
table_rows() {
	awk '/^## Lesson three/ { on = 1; next } /^## / { on = 0 }
		on && /^\| / && !/^\| (---|what goes wrong)/ { print $(NF - 2), $(NF - 1) }' FS='|' README.md |
		tr -d '`'
}

# present / absent: fail unless segment $seg exists / does not exist.
present() {
	[ -e "$(seg_file)" ] && return 0
	echo "segment $seg should exist, but does not"
	return 1
}
absent() {
	[ ! -e "$(seg_file)" ] && return 0
	echo "segment $seg should be gone, but is there"
	return 1
}

# summary: the last line, and the exit status.
summary() {
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ]
}
