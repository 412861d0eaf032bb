# shellcheck shell=sh disable=SC2154,SC2034 # work and seg come from lib.sh; the LABEL_job variables
# are read through eval
# tests/live.sh - lesson two's live pair, taken from README.md: its cases,
# sourced by tests/run.sh after tests/lib.sh.  Each case builds the pair on a
# name of its own.  Every run of it is limited to LIVE_LIMIT seconds (default
# 20): a broken hand-over makes both programs wait for ever, and the case
# then fails instead of hanging.  Every case's function starts with live_, so
# that ONLY='live_*' runs lesson two alone.  With LIVE_OTHER set to a compiler
# and its flags ("gcc -m32", "musl-gcc -static"), one more case meets that
# build of the pair with this one (make check's matrix and musl parts).

# build_live [DIR [CC FLAGS...]]: README.md's third, fourth and fifth C
# blocks, live_writer.c, live_reader.c and live.h, on the case's own name
# $seg, built warning-free into DIR (default $work) as live_writer.out and
# live_reader.out, by CC (default $CC, or cc, with LESSON_CFLAGS: make check's
# sanitizer builds).
# shellcheck disable=SC2086 # the flags are words; RT_LIB and THREAD_LIB are empty or one word
build_live() {
	dir=${1:-$work}
	[ "$#" -gt 0 ] && shift
	[ "$#" -gt 0 ] || set -- "${CC:-cc}" ${LESSON_CFLAGS:-}
	need "$1" || return
	mkdir -p "$dir" || return 1
	rm -f "$work"/*_in "$work"/*_out "$work"/*_err
	sh tests/readme_code.sh 3 >"$dir/live_writer.c" && sh tests/readme_code.sh 4 >"$dir/live_reader.c" &&
		sh tests/readme_code.sh 5 >"$dir/live.h.block" || return 1
	block=$(wc -l <"$dir/live.h.block") writer=$(wc -l <"$dir/live_writer.c")
	reader=$(wc -l <"$dir/live_reader.c")
	if ! { grep -q '"/shm_live"' "$dir/live.h.block" && grep -q '#include "live.h"' "$dir/live_writer.c" &&
		grep -q '#include "live.h"' "$dir/live_reader.c" && [ "$writer" -le 100 ] && [ "$reader" -le 100 ] &&
		[ $((block + writer + reader)) -le 250 ]; }; then
		echo "README.md's C blocks 3 to 5 are not live_writer.c ($writer lines) and"
		echo "live_reader.c ($reader), which include live.h on /shm_live ($block), in 100 lines"
		echo "each and 250 in all"
		return 1
	fi
	sed "s|\"/shm_live\"|\"$seg\"|" "$dir/live.h.block" >"$dir/live.h" || return 1
	for role in writer reader; do
		"$@" -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror \
			-o "$dir/live_$role.out" "$dir/live_$role.c" ${RT_LIB:-} ${THREAD_LIB:-} || return 1
	done
}

# start_live ROLE [LABEL [DIR]]: run live_ROLE (writer or reader) from DIR
# (default $work) in the background, limited to LIVE_LIMIT seconds, its
# standard error in $work/LABEL_err (LABEL: ROLE unless given);
# $work/LABEL_in is its standard input if there is one (else /dev/null), and
# a reader's standard output is $work/LABEL_out.  The timeout's process id
# goes to $LABEL_job (live_pid LABEL gives the program's).  $live_wrap, if
# set, is a command put before the program (strace).
# shellcheck disable=SC2086,SC2046 # RUN, live_wrap and the emulator are command lines
start_live() {
	label=${2:-$1}
	in=/dev/null
	out=/dev/null
	[ -e "$work/${label}_in" ] && in=$work/${label}_in
	[ "$1" = reader ] && out=$work/${label}_out
	(exec timeout "${LIVE_LIMIT:-20}" ${live_wrap:-} $RUN $(live_emu "${3:-$work}") "${3:-$work}/live_$1.out" <"$in" >"$out" \
		2>"$work/${label}_err") &
	eval "${label}_job=\$!"
}

# live_emu DIR: the emulator of the pair built into DIR: $LIVE_OTHER_EMU for
# $work/other (LIVE_OTHER's build), $LIVE_PEER_EMU for $work/peer
# (LIVE_PEER's), $EMU for this build.
live_emu() {
	case $1 in
	"$work/other") echo "${LIVE_OTHER_EMU:-}" ;;
	"$work/peer") echo "${LIVE_PEER_EMU:-}" ;;
	*) echo "$EMU" ;;
	esac
}

# pid_of LABEL: the process id of the program started as LABEL, if it runs
# now: below its timeout, and below env and strace when wrapped.  live_pid
# LABEL: the same, once it runs.
pid_of() {
	eval "pid=\$$1_job"
	for _ in 1 2 3 4; do
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		timeout | env) pid=$(child_of "$pid") || return 1 ;;
		strace) pid=$(traced_child "$pid") || return 1 ;;
		# The job's subshell, not yet turned into timeout: a kill now would
		# reach timeout, and leave the program running.
		sh | dash | bash) return 1 ;;
		*) break ;;
		esac
	done
	[ -e "/proc/$pid" ] && echo "$pid"
}
live_pid() {
	wait_for pid_of "$1"
}

# ended LABEL: true once the program started as LABEL has ended.
ended() {
	eval "pid=\$$1_job"
	! running "$pid"
}

# partner_of ROLE: the other role of the pair (reader for writer, and back).
partner_of() {
	if [ "$1" = writer ]; then echo reader; else echo writer; fi
}

# finished LABEL STATUS: wait for the program started as LABEL and fail
# unless it exited with STATUS (124: the time limit ended it).
finished() {
	eval "wait \"\$$1_job\""
	got=$?
	[ "$got" -eq "$2" ] && return 0
	echo "$1 exited with $got, not $2 (124: still running after ${LIVE_LIMIT:-20} s):"
	cat "$work/$1_err"
	return 1
}

# waiting LABEL: true once the program started as LABEL has its object at
# the name, and sleeps in it.
waiting() {
	pid=$(live_pid "$1") && wait_for [ -e "$(seg_file)" ] && wait_for sleeping "$pid"
}

# complained LABEL TEXT: fail unless the program started as LABEL said TEXT.
complained() {
	grep -q -F -e "$2" "$work/$1_err" && return 0
	echo "$1 did not say \"$2\", but: $(cat "$work/$1_err")"
	return 1
}

# start_pair_on_fifos: start both, live_writer reading the FIFO
# $work/writer_in (made here; its writing end becomes descriptor 3), and
# live_reader writing into $work/reader_out, a FIFO too if the case made one
# (its reading end becomes descriptor 4).  Their process ids go to
# $writer_pid and $reader_pid.
start_pair_on_fifos() {
	mkfifo "$work/writer_in" && start_live writer && start_live reader &&
		exec 3>"$work/writer_in" && { [ ! -p "$work/reader_out" ] || exec 4<"$work/reader_out"; } &&
		writer_pid=$(live_pid writer) && reader_pid=$(live_pid reader)
}

# printed_bytes N [LABEL]: true once the reader started as LABEL (default
# reader) has printed N bytes.
printed_bytes() {
	[ "$(wc -c <"$work/${2:-reader}_out")" -eq "$1" ]
}

# ring_mapping PID: the size in bytes of process PID's mapping of segment
# $seg (its name may be gone, "(deleted)"); fails if it has none.
ring_mapping() {
	range=$(grep -F " $(seg_file)" "/proc/$1/maps" 2>/dev/null | head -n 1 | cut -d ' ' -f 1)
	[ -n "$range" ] && echo $((0x${range#*-} - 0x${range%-*}))
}

# held_after_open LABEL ROLE: start live_ROLE as LABEL, held for 2 seconds
# by strace right after its open of the name has returned: it has the
# object open, and has taken no lock yet.
held_after_open() {
	live_wrap="env $no_leaks strace -qq -o /dev/null -P $(seg_file) -e trace=open,openat"
	live_wrap="$live_wrap -e inject=open,openat:delay_exit=2000000:when=1"
	start_live "$2" "$1"
	live_wrap=
}

# straced: skip the case unless strace can steer the programs themselves.
straced() {
	need strace || return
	[ -z "$RUN" ] && return 0
	skip "strace must act on the program itself, not on $RUN"
}

# numbered: straced, and skip the case under an emulator too: it steers a
# call by its number (strace's when=N), and an emulator makes its calls in its
# own way.  Those that hold a call by its name run under one.
numbered() {
	straced || return
	native "strace's when=N would count the emulator's calls, not the program's"
}

live_builds() {
	build_live
}
check "lesson two in README.md: live.h, live_writer and live_reader, at most 100 lines each and 250 in all, build warning-free" live_builds

# through FIRST SECOND: 64 MiB of random bytes through the pair, FIRST started
# first and SECOND only once FIRST waits in its object, whose mapping stays
# the ring's size (1 MiB of slots and a header), far below 64 MiB.
through() {
	build_live || return
	head -c 67108864 /dev/urandom >"$work/writer_in"
	if ! { start_live "$1" && waiting "$1"; }; then
		echo "live_$1 never came to wait" && return 1
	fi
	size=$(ring_mapping "$(live_pid "$1")") || { echo "live_$1 maps nothing of $seg" && return 1; }
	[ "$size" -le 2097152 ] || { echo "live_$1 maps $size bytes of $seg" && return 1; }
	start_live "$2" && finished "$2" 0 && finished "$1" 0 &&
		cmp "$work/writer_in" "$work/reader_out" && absent
}
live_writer_first() { through writer reader; }
check "64 MiB go through whole, the writer started first; the mapping stays the ring's size" live_writer_first
live_reader_first() { through reader writer; }
check "64 MiB go through whole, the reader started first; the mapping stays the ring's size" live_reader_first

# 100 short runs, of 0 to 6 bytes: a reader that is done and gone is no
# dead reader, however soon it goes; each pair exits 0, its bytes whole.
live_short_runs() {
	build_live || return
	run=0
	while [ "$run" -lt "$(rounds 100)" ]; do
		bytes $((run % 7)) >"$work/writer_in"
		if ! { start_live writer && start_live reader && finished reader 0 && finished writer 0 &&
			cmp "$work/writer_in" "$work/reader_out" && absent; }; then
			echo "run $run" && return 1
		fi
		run=$((run + 1))
	done
}
check "100 short runs in a row (rounds), of 0 to 6 bytes: both exit 0 each time, and the bytes arrive" live_short_runs

# A writer whose input pauses longer than any time-out of the pair (the
# reader's 10 seconds): it is waited for, and everything arrives.
live_slow_writer() {
	build_live || return
	start_pair_on_fifos && printf 'first\n' >&3 && sleep 11 && printf 'second\n' >&3 || return 1
	exec 3>&-
	printf 'first\nsecond\n' >"$work/expected"
	finished reader 0 && finished writer 0 && cmp "$work/expected" "$work/reader_out" && absent
}
check "a writer whose input pauses 11 s is waited for, and all its input arrives" live_slow_writer

# The writer killed by SIGKILL in mid-transfer, its input a FIFO that stays
# open: the reader, waiting for more, says so within 10 s, exits 1, and
# nothing is left.
live_writer_killed() {
	build_live || return
	start_pair_on_fifos || return 1
	head -c 524288 /dev/urandom >"$work/part" && cat "$work/part" >&3 || return 1
	wait_for printed_bytes 524288 || { echo "the first 512 KiB never came out" && return 1; }
	kill -s KILL "$writer_pid"
	gone_within 10 "$reader_pid" && finished reader 1 && complained reader "the writer has died" &&
		cmp "$work/part" "$work/reader_out" && absent
}
check "the writer killed in mid-transfer: the reader says so within 10 s, exit 1, nothing left" live_writer_killed

# The reader killed by SIGKILL in mid-transfer, while its output is full and
# the writer waits for a free slot: the writer says so within 10 s, exit 1.
live_reader_killed() {
	build_live || return
	mkfifo "$work/reader_out" && start_pair_on_fifos || return 1
	head -c 4194304 /dev/urandom >&3 &
	if ! { wait_for sleeping "$writer_pid" && wait_for sleeping "$reader_pid" && sleep 1; }; then
		echo "the pair never came to wait" && return 1
	fi
	kill -s KILL "$reader_pid"
	gone_within 10 "$writer_pid" && finished writer 1 && complained writer "the reader has died" &&
		absent
}
check "the reader killed in mid-transfer: the writer says so within 10 s, exit 1, nothing left" live_reader_killed

# The reader killed while the writer waits for its input: at its next slot
# the writer says so (as a pipe's writer learns at its next write), exit 1.
live_reader_killed_between_slots() {
	build_live || return
	start_pair_on_fifos || return 1
	if ! { printf 'first\n' >&3 && wait_for printed_bytes 6 && wait_for sleeping "$writer_pid"; }; then
		echo "the first line never came out" && return 1
	fi
	kill -s KILL "$reader_pid"
	sleep 1
	printf 'second\n' >&3
	gone_within 10 "$writer_pid" && finished writer 1 && complained writer "the reader has died" &&
		absent
}
check "the reader killed while the writer waits for input: the writer says so at its next slot, exit 1" live_reader_killed_between_slots

# A reader that starts while the writer sets up (held 1.5 s by strace on
# entering its ftruncate, SETUP taken) waits for SETUP, comes second and
# meets it: the writer killed afterwards is then noticed as dead.
live_met_during_setup() {
	straced || return
	build_live && mkfifo "$work/writer_in" || return 1
	live_wrap="env $no_leaks strace -qq -o /dev/null -e inject=ftruncate:delay_enter=1500000"
	start_live writer
	live_wrap=
	exec 3>"$work/writer_in"
	wait_for [ -e "$(seg_file)" ] && start_live reader && reader_pid=$(live_pid reader) &&
		writer_pid=$(live_pid writer) || return 1
	if ! { printf 'hello\n' >&3 && wait_for printed_bytes 6; }; then
		echo "nothing came through" && return 1
	fi
	kill -s KILL "$writer_pid"
	gone_within 10 "$reader_pid" && finished reader 1 && complained reader "the writer has died"
}
check "a reader that starts while the writer sets up waits for it, meets it, and then notices its death" live_met_during_setup

# A writer killed before any reader came leaves its object; the next pair
# takes it over, and prints nothing of the old one's.
live_killed_before_meeting() {
	build_live || return
	printf 'old\n' >"$work/writer_in"
	if ! { start_live writer && waiting writer; }; then
		echo "the first writer never came to wait" && return 1
	fi
	kill -s KILL "$(live_pid writer)"
	finished writer 137 && present || return 1
	printf 'new\n' >"$work/writer_in"
	start_live writer && start_live reader && finished reader 0 && finished writer 0 &&
		cmp "$work/writer_in" "$work/reader_out" && absent
}
check "a writer killed before any reader came: the next pair works, and prints nothing old" live_killed_before_meeting

# A second writer while one waits for its reader, or a second reader while
# one waits for its writer, is refused; the first one's data arrive whole.
# shellcheck disable=SC2086 # RUN is a command line
live_seconds_refused() {
	build_live || return
	head -c 300000 /dev/urandom >"$work/writer_in"
	start_live writer && waiting writer || return 1
	expect 1 timeout "${LIVE_LIMIT:-20}" $RUN $EMU "$work/live_writer.out" </dev/null &&
		documented /shm_live && start_live reader && finished reader 0 &&
		finished writer 0 && cmp "$work/writer_in" "$work/reader_out" && absent || return 1
	start_live reader && waiting reader || return 1
	expect 1 timeout "${LIVE_LIMIT:-20}" $RUN $EMU "$work/live_reader.out" && silent &&
		said "another live_reader waits there for its partner" && start_live writer &&
		finished writer 0 && finished reader 0 && cmp "$work/writer_in" "$work/reader_out" && absent
}
check "a second writer or a second reader while one waits at the name is refused; the first pair's data arrive whole" live_seconds_refused

# A reader waits for a writer up to 10 seconds, then says so, exit 1.
live_no_writer() {
	build_live || return
	start=$(date +%s)
	start_live reader && finished reader 1 && complained reader "no live_writer came within 10 seconds" &&
		[ ! -s "$work/reader_out" ] || return 1
	waited=$(($(date +%s) - start))
	[ "$waited" -ge 9 ] && [ "$waited" -le 15 ] && return 0
	echo "the reader gave up after $waited s, not 10"
	return 1
}
check "a reader with no writer waits for one about 10 s, then says so and exits 1" live_no_writer

# A writer that comes just as a reader gives up (held 3 s by strace on
# entering its exit, its message said): the reader gave up holding SETUP, so
# the writer finds it gone, waits as the first of a new pair, and passes all
# its input to the next reader.  It waits out the 10 s: with ONCE=yes only
# (make test), not again for each build of make check.
live_gave_up_as_writer_came() {
	straced || return
	build_live || return
	live_wrap="env $no_leaks strace -qq -f -o /dev/null -e trace=exit_group"
	live_wrap="$live_wrap -e inject=exit_group:delay_enter=3000000"
	start_live reader late
	live_wrap=
	sleep 9
	wait_for grep -q "no live_writer came within 10 seconds" "$work/late_err" || {
		echo "the reader never gave up: $(cat "$work/late_err")" && return 1
	}
	head -c 300000 /dev/urandom >"$work/writer_in" && start_live writer && finished late 1 &&
		start_live reader && finished writer 0 && finished reader 0 &&
		cmp "$work/writer_in" "$work/reader_out" && absent
}
if [ "${ONCE:-}" = yes ]; then
	check "a writer that comes as a reader gives up finds it gone, and waits for the next reader" \
		live_gave_up_as_writer_came
fi

# --- Late arrivals, and a partner killed in its set-up ------------------------

# A program held between its open of the name and its first lock, while a
# pair meets on that object and ends: it finds the name gone, opens it again,
# and meets a new partner there.  Both roles.
live_late_arrival() {
	straced || return
	build_live || return
	printf 'late\n' >"$work/late_in"
	printf 'early\n' >"$work/early_writer_in"
	for role in writer reader; do
		partner=$(partner_of "$role")
		rm -f "$work/late_out" "$work/early_reader_out" "$work/new_out"
		held_after_open late "$role"
		wait_for [ -e "$(seg_file)" ] || { echo "the late $role never opened the name" && return 1; }
		start_live writer early_writer && start_live reader early_reader && finished early_reader 0 &&
			finished early_writer 0 && cmp "$work/early_writer_in" "$work/early_reader_out" || return 1
		[ "$role" = reader ] && cp "$work/late_in" "$work/new_in"
		start_live "$partner" new && finished new 0 && finished late 0 || return 1
		cat "$work/late_out" "$work/new_out" 2>/dev/null | cmp "$work/late_in" - && absent || return 1
		rm -f "$work/new_in"
	done
}
check "a program held between its open and its first lock while a pair meets and ends opens the name again and meets a new partner" live_late_arrival

# A late writer and a late reader, held so, while a pair meets on their old
# object and ends, and a new writer waits at the name: neither joins the
# other on the old object.  The late reader gets the new writer's data; the
# late writer is refused, or, if the reader came first, waits at the name
# for a reader of its own, which then gets its data.
live_late_pair() {
	straced || return
	build_live || return
	printf 'early\n' >"$work/early_writer_in"
	printf 'new\n' >"$work/new_in"
	printf 'late\n' >"$work/late_writer_in"
	held_after_open late_writer writer && held_after_open late_reader reader &&
		wait_for [ -e "$(seg_file)" ] || return 1
	start_live writer early_writer && start_live reader early_reader && finished early_reader 0 &&
		finished early_writer 0 && cmp "$work/early_writer_in" "$work/early_reader_out" || return 1
	start_live writer new && waiting new && finished late_reader 0 &&
		cmp "$work/new_in" "$work/late_reader_out" && finished new 0 || return 1
	wait_for late_writer_settled || { echo "the late writer neither ended nor waited" && return 1; }
	if ended late_writer; then
		finished late_writer 1 && complained late_writer "another live_writer waits there" && absent
	else
		start_live reader extra && finished extra 0 && finished late_writer 0 &&
			cmp "$work/late_writer_in" "$work/extra_out" && absent
	fi
}
# late_writer_settled: the late writer has ended, or waits at the name.
late_writer_settled() {
	ended late_writer || { [ -e "$(seg_file)" ] && late=$(pid_of late_writer) && sleeping "$late"; }
}
check "a late writer and a late reader do not meet on their old object while a new writer waits at the name" live_late_pair

# setup_calls ROLE: run live_ROLE under strace as the second of a pair, and
# list its system calls on the object (strace -P: a sanitizer's runtime makes
# calls of its own, whose number may change from run to run) from its open of
# the name to its letting SETUP go: "NAME N" for each, the Nth such call of
# that name, as strace -P's when=N counts.
setup_calls() {
	partner=$(partner_of "$1")
	printf 'data\n' >"$work/first_in" && start_live "$partner" first && waiting first || return 1
	env "$no_leaks" strace -qq -o "$work/trace" -P "$(seg_file)" "$work/live_$1.out" <"$work/first_in" \
		>"$work/second_out" 2>"$work/second_err" && finished first 0 || return 1
	awk -v path="\"$(seg_file)\"" '
		/^(---|\+\+\+)/ { next }
		{ name = $0; sub(/\(.*/, "", name); count[name]++ }
		!started && index($0, path) { started = 1 }
		started { print name, count[name] }
		started && /F_SETLK, \{l_type=F_UNLCK/ { exit }' "$work/trace"
}

# killed_in_setup ROLE: the second of a pair, live_ROLE, killed by SIGKILL on
# entering each of its set-up calls on the object in turn (a call that names
# none, geteuid, leaves what a kill at the lock after it leaves): the first
# either goes on waiting at the name (the second died before it removed the
# name) and then meets a new partner, or (after) says within 3 s that its
# partner died, exit 1.  Never does it wait on a nameless object.
killed_in_setup() {
	partner=$(partner_of "$1")
	setup_calls "$1" >"$work/calls" || return 1
	[ "$(wc -l <"$work/calls")" -ge 10 ] || { echo "too few calls:" && cat "$work/trace" && return 1; }
	while read -r call n; do
		rm -f "$work/first_out" "$work/new_out"
		start_live "$partner" first && waiting first && first_pid=$(live_pid first) || return 1
		env "$no_leaks" strace -qq -o /dev/null -P "$(seg_file)" \
			-e inject="$call:signal=SIGKILL:when=$n" "$work/live_$1.out" <"$work/first_in" >/dev/null 2>&1
		status=$?
		killed_by KILL "$status" || { echo "live_$1 was not killed on entering $call ($n)" && return 1; }
		if [ -e "$(seg_file)" ]; then
			[ "$1" = writer ] && cp "$work/first_in" "$work/new_in"
			if ! { start_live "$1" new && finished new 0 && finished first 0 &&
				cat "$work/first_out" "$work/new_out" 2>/dev/null | cmp "$work/first_in" -; }; then
				echo "after live_$1 was killed on entering $call ($n), before removing the name"
				return 1
			fi
			rm -f "$work/new_in"
		elif ! { gone_within 3 "$first_pid" && finished first 1 &&
			complained first "has died before the end of"; }; then
			echo "after live_$1 was killed on entering $call ($n), having removed the name"
			return 1
		fi
	done <"$work/calls"
}
live_reader_killed_in_setup() {
	numbered || return
	build_live && killed_in_setup reader
}
check "a second reader killed at each of its set-up calls: the writer meets a new one, or says within 3 s that it died" live_reader_killed_in_setup
live_writer_killed_in_setup() {
	numbered || return
	build_live && killed_in_setup writer
}
check "a second writer killed at each of its set-up calls: the reader meets a new one, or says within 3 s that it died" live_writer_killed_in_setup

# --- Closed standard streams --------------------------------------------------

# These start the programs without $RUN: a checker such as valgrind opens
# files of its own, which would take the closed numbers.

# A writer whose standard input is closed, after the reader came: its read
# fails, exit 1, and the reader says it died; not a byte of the object is
# read as input and printed.
live_closed_input() {
	build_live && start_live reader && waiting reader || return 1
	(exec timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_writer.out" <&- 2>"$work/writer_err") &
	writer_job=$!
	finished writer 1 && complained writer "read standard input: Bad file descriptor" &&
		finished reader 1 && complained reader "the writer has died" && [ ! -s "$work/reader_out" ] &&
		absent
}
check "live_writer with standard input closed fails to read (exit 1), the reader says it died, nothing is printed" live_closed_input

# A writer with standard input and standard error both closed gets its
# object as descriptor 0: moved to 2, not above it, its error for the read
# would go into the object, which, the first of a pair, it leaves at the
# name.
live_closed_input_and_error() {
	build_live || return
	(exec timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_writer.out" <&- 2>&-) &
	writer_job=$!
	finished writer 1 && present || return 1
	! grep -a -q live_writer "$(seg_file)" || { echo "the writer's error went into its object" && return 1; }
}
check "live_writer with standard input and error closed: its error for the read does not land in its object" live_closed_input_and_error

# A second writer and a second reader refused with standard error closed,
# and the streams each program does not use closed: no message lands in the
# waiting program's ring, and the pair's data arrive whole.
live_closed_error() {
	build_live || return
	head -c 300000 /dev/urandom >"$work/writer_in"
	(exec timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_writer.out" <"$work/writer_in" >&- 2>"$work/writer_err") &
	writer_job=$!
	waiting writer || return 1
	timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_writer.out" </dev/null 2>&-
	status_is 1 $? "a second live_writer with standard error closed" || return 1
	(exec timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_reader.out" <&- >"$work/reader_out" 2>"$work/reader_err") &
	reader_job=$!
	finished reader 0 && finished writer 0 && cmp "$work/writer_in" "$work/reader_out" || return 1
	: >"$work/writer_in"
	(exec timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_reader.out" <&- >"$work/reader_out" 2>"$work/reader_err") &
	reader_job=$!
	waiting reader || return 1
	timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_reader.out" >/dev/null 2>&-
	status_is 1 $? "a second live_reader with standard error closed" || return 1
	start_live writer && finished writer 0 && finished reader 0 && [ ! -s "$work/reader_out" ] &&
		absent
}
check "a refused second writer or reader with standard error closed leaves the waiting pair's ring alone" live_closed_error

# --- What is not ours ---------------------------------------------------------

# A FIFO or a directory at the name: both programs refuse it at once, exit
# 1, and leave it there.  A FIFO is called not ours; shm_open itself refuses
# a directory (Is a directory; glibc says Invalid argument).
# shellcheck disable=SC2086 # RUN is a command line
live_not_an_object() {
	build_live || return
	for kind in fifo directory; do
		if [ "$kind" = fifo ]; then
			mkfifo "$(seg_file)" && what="$seg: not a shared-memory object of yours"
		else
			mkdir "$(seg_file)" && what="shm_open $seg: "
		fi || return 1
		for role in writer reader; do
			if ! { expect 1 timeout 10 $RUN $EMU "$work/live_$role.out" </dev/null && silent &&
				said "$what" && [ -e "$(seg_file)" ]; }; then
				echo "live_$role with a $kind at the name" && return 1
			fi
		done
		rm -r "$(seg_file)" || return 1
	done
}
check "a FIFO or a directory at the name is refused by both programs at once, and left there" live_not_an_object

# Another user's object at the name, mode 0666: both refuse it, exit 1, and
# nothing goes into it.  With fs.protected_regular set, the kernel itself
# refuses to open it (Permission denied).
# shellcheck disable=SC2086 # RUN is a command line
live_foreign_object_as_nobody() {
	[ "$(id -u)" -eq 0 ] || { skip "needs root to make an object as another user"; return; }
	need setpriv || return
	build_live || return
	# shellcheck disable=SC2016 # $1 is the inner shell's
	setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
		sh -c 'umask 0 && : >"$1"' sh "$(seg_file)" || return 1
	printf 'secret\n' >"$work/writer_in"
	for role in writer reader; do
		if ! { expect 1 timeout 10 $RUN $EMU "$work/live_$role.out" <"$work/writer_in" &&
			{ said "not a shared-memory object of yours" || said "Permission denied"; } &&
			[ "$(stat -c %s:%U "$(seg_file)")" = 0:nobody ]; }; then
			echo "live_$role and nobody's object" && return 1
		fi
	done
}
check "another user's object at the name (mode 0666) is refused by both programs, and nothing goes into it" live_foreign_object_as_nobody

# --- Signals and errors --------------------------------------------------------

# A signal that interrupts a timed wait (EINTR, injected by strace into the
# first futex call, the first program's first wait) ends neither program.
live_interrupted_wait() {
	straced || return
	build_live || return
	head -c 2000000 /dev/urandom >"$work/writer_in"
	for first in writer reader; do
		second=$(partner_of "$first")
		live_wrap="env $no_leaks strace -qq -o /dev/null -e trace=futex,?futex_time64"
		live_wrap="$live_wrap -e inject=futex,?futex_time64:error=EINTR:when=1..2"
		start_live "$first"
		live_wrap=
		if ! { waiting "$first" && sleep 1.5 && start_live "$second" && finished "$second" 0 &&
			finished "$first" 0 && cmp "$work/writer_in" "$work/reader_out" && absent; }; then
			echo "with live_$first first and interrupted" && return 1
		fi
	done
}
check "a timed wait interrupted by a signal (EINTR) ends neither program, and all the data arrive" live_interrupted_wait

# A reader whose output fails, closed or full (> /dev/full): its write
# fails, exit 1, and the writer says it died.  Closed, nothing is written
# into the object through it.  (A closed one runs without $RUN, whose
# checker would take the number.)
# shellcheck disable=SC2086 # RUN is a command line
live_output_fails() {
	[ -w /dev/full ] || { skip "no /dev/full"; return; }
	build_live || return
	for output in closed full; do
		printf 'data\n' >"$work/writer_in" && start_live writer && waiting writer || return 1
		if [ "$output" = closed ]; then
			(exec timeout "${LIVE_LIMIT:-20}" $EMU "$work/live_reader.out" >&- 2>"$work/reader_err") &
			reason="Bad file descriptor"
		else
			(exec timeout "${LIVE_LIMIT:-20}" $RUN $EMU "$work/live_reader.out" >/dev/full 2>"$work/reader_err") &
			reason="No space left on device"
		fi
		reader_job=$!
		if ! { finished reader 1 && complained reader "write standard output: $reason" &&
			finished writer 1 && complained writer "the reader has died" && absent; }; then
			echo "with the reader's output $output" && return 1
		fi
	done
}
check "a reader whose output is closed or full (> /dev/full) exits 1, and the writer says it died" live_output_fails

# The reader ends just as the writer, at its end, looks at it after a
# second without a free slot: the writer takes the slots the reader freed
# before it went, and exits 0.  The reader waits on a FIFO that nobody
# drains; the writer is held 3 s by strace on entering its first look after
# its input ended (its number from an strace of the writer), and the FIFO is
# drained meanwhile.
live_reader_ends_as_writer_looks() {
	numbered || return
	build_live || return
	head -c 300000 /dev/urandom >"$work/writer_in"
	start_live reader && waiting reader &&
		env "$no_leaks" strace -qq -o "$work/trace" "$work/live_writer.out" <"$work/writer_in" &&
		finished reader 0 || return 1
	look=$(awk '/^(---|\+\+\+)/ { next }
		{ name = $0; sub(/\(.*/, "", name); count[name]++ }
		name ~ /^fcntl/ { last = name }
		/^read\(0, "", / { print last, count[last] + 1; exit }' "$work/trace")
	rm -f "$work/reader_out" && mkfifo "$work/reader_out" && start_live reader &&
		exec 4<"$work/reader_out" && waiting reader || return 1
	live_wrap="env $no_leaks strace -qq -o /dev/null -e trace=${look% *}"
	live_wrap="$live_wrap -e inject=${look% *}:delay_enter=3000000:when=${look#* }"
	start_live writer
	live_wrap=
	sleep 1.5
	cat <&4 >"$work/out"
	exec 4<&-
	finished reader 0 && finished writer 0 && cmp "$work/writer_in" "$work/out" && absent
}
check "a reader that ends just as the writer looks at it, at the end: the writer takes what it freed, exit 0" live_reader_ends_as_writer_looks

# looks_traced: a writer whose input is $work/writer_in, met by a reader,
# traced by $trace: its looks at the name of segment $seg and its fstat
# calls, which some C libraries make with the same system call, into
# $work/trace.  nth_look N: "NAME COUNT" for the Nth call there that names
# the segment's file: which call it is, and its number among those of its
# name, as strace's when=N counts them; if there is none, the trace is shown.
looks_traced() {
	trace="env $no_leaks strace -qq -P $(seg_file) -e trace=stat,stat64,newfstatat,statx,fstat,fstat64"
	$trace -o "$work/trace" "$work/live_writer.out" <"$work/writer_in" 2>"$work/writer_err" &
	traced=$!
	wait_for [ -e "$(seg_file)" ] && start_live reader && finished reader 0 && wait "$traced"
}
nth_look() {
	awk -v path="\"$(seg_file)\"" -v n="$1" '/^(---|\+\+\+)/ { next }
		{ name = $0; sub(/\(.*/, "", name); count[name]++ }
		index($0, path) && ++named == n { print name, count[name]; found = 1; exit }
		END { exit !found }' "$work/trace" && return 0
	echo "no look number $1 at the name in:" >&2
	cat "$work/trace" >&2
	return 1
}

# A reader that meets the writer while the writer, first, looks at it (held
# 2 s by strace on entering its first look at the name, after its set-up):
# it finds the name gone, and then the reader's byte held, so it takes no
# live reader for dead.  (Looked at the other way round, the byte free, then
# the name gone, a reader that came in between looks dead.)  The look's
# number comes from an strace of the writer.
live_met_while_looking() {
	numbered || return
	build_live && printf 'data\n' >"$work/writer_in" && looks_traced || return 1
	look=$(nth_look 2) || return 1
	live_wrap="$trace -o /dev/null -e inject=${look% *}:delay_enter=2000000:when=${look#* }"
	start_live writer
	live_wrap=
	wait_for [ -e "$(seg_file)" ] && sleep 0.5 && start_live reader && finished reader 0 &&
		finished writer 0 && cmp "$work/writer_in" "$work/reader_out" && absent
}
check "a first writer that looks at the name just as a reader meets it does not take that reader for dead" live_met_while_looking

# A writer whose look at the name fails (stat, made to fail with EACCES every
# time) says why and exits 1: it does not take the error for "gone", open the
# name again, and look again, for ever.  Each round of its meeting makes the
# same calls on the object, so the failing one is every Nth of its name.
live_stat_fails() {
	numbered || return
	build_live && printf 'data\n' >"$work/writer_in" && looks_traced || return 1
	look=$(nth_look 1) || return 1
	live_wrap="$trace -o /dev/null -e inject=${look% *}:error=EACCES:when=${look#* }+${look#* }"
	start_live writer
	live_wrap=
	finished writer 1 && complained writer "stat /dev/shm$seg: Permission denied"
}
check "a writer whose look at the name fails says why, exit 1, and does not open and look again for ever" live_stat_fails

# A slot whose length is past the ring, or past its slot by one byte (a
# program that posts one, built on live.h): the reader refuses it, exit 1,
# and prints nothing of the memory beyond.
live_damaged_slot() {
	build_live || return
	cat >"$work/damage.c" <<-'EOF'
		#include "live.h"
		#include <stdlib.h>
		int main(void)
		{
			int fd, first;
			struct ring *ring = meet(WRITER, &fd, &first);
			ring->len[0] = (size_t)atol(getenv("LENGTH"));
			if (sem_post(&ring->full) == -1)
				err(1, "sem_post");
			sleep(5);
			return 0;
		}
	EOF
	# shellcheck disable=SC2086 # RT_LIB and THREAD_LIB are empty or one word
	"${CC:-cc}" ${LESSON_CFLAGS:-} -o "$work/damage" "$work/damage.c" ${RT_LIB:-} ${THREAD_LIB:-} ||
		return 1
	for length in $((8 * 262144)) $((262144 + 1)); do
		if ! { start_live reader && waiting reader && { LENGTH=$length $EMU "$work/damage" & } &&
			finished reader 1 && complained reader "damaged: a slot of $length bytes" &&
			[ ! -s "$work/reader_out" ]; }; then
			echo "for a slot of $length bytes" && return 1
		fi
	done
}
check "a slot whose length runs past the ring, or past its slot by a byte, is refused; nothing is printed" live_damaged_slot

# --- Many at once -------------------------------------------------------------

# at_name PID: true if process PID maps segment $seg while the name still
# leads to it (its mapping is not "(deleted)"), and sleeps: it waits there.
at_name() {
	grep -F " $(seg_file)" "/proc/$1/maps" 2>/dev/null | grep -q -v '(deleted)' && sleeping "$1"
}

# settled: each of the four has ended or waits at the name, and not a writer
# and a reader both (they would meet).
settled() {
	waiters=
	for label in w1 w2 r1 r2; do
		ended "$label" && continue
		pid=$(pid_of "$label") && at_name "$pid" || return 1
		waiters="$waiters ${label%[12]}"
	done
	case $waiters in *w*r* | *r*w*) return 1 ;; esac
}

# Two writers and two readers started at once, 50 times: each writer's data
# reach exactly one reader, whole, or that writer is refused.  Whatever still
# runs when all has settled waits at the name: a writer meets a reader of its
# own; a reader, which has printed nothing, is stopped.
live_two_and_two() {
	build_live || return
	head -c 700000 /dev/urandom >"$work/w1_in" && head -c 700000 /dev/urandom >"$work/w2_in" || return 1
	run=1
	while [ "$run" -le "$(rounds 50)" ]; do
		rm -f "$work"/r[123]_out "$work"/*_err "$(seg_file)"
		if ! { start_live writer w1 && start_live writer w2 && start_live reader r1 &&
			start_live reader r2 && wait_for settled; }; then
			echo "run $run never settled" && return 1
		fi
		for label in w1 w2; do
			ended "$label" && continue
			start_live reader r3 && finished r3 0 || return 1
		done
		for label in r1 r2; do
			ended "$label" || { [ ! -s "$work/${label}_out" ] && kill -s KILL "$(live_pid "$label")"; }
		done
		for label in w1 w2; do
			eval "wait \$${label}_job"
			status=$?
			copies=0
			for out in "$work"/r[123]_out; do
				! cmp -s "$work/${label}_in" "$out" || copies=$((copies + 1))
			done
			if [ "$status" -eq 0 ] && [ "$copies" -eq 1 ]; then
				continue
			elif [ "$status" -eq 1 ] && [ "$copies" -eq 0 ] &&
				grep -q "another live_writer waits there" "$work/${label}_err"; then
				continue
			fi
			echo "run $run: $label exited with $status, its data printed $copies times:"
			cat "$work/${label}_err"
			return 1
		done
		for label in r1 r2; do
			eval "wait \$${label}_job"
			status=$?
			[ "$status" -eq 0 ] && { cmp -s "$work/w1_in" "$work/${label}_out" ||
				cmp -s "$work/w2_in" "$work/${label}_out"; } && continue
			[ "$status" -ne 0 ] && [ ! -s "$work/${label}_out" ] &&
				{ [ "$status" -eq 137 ] || grep -q "another live_reader waits there" "$work/${label}_err"; } &&
				continue
			echo "run $run: $label exited with $status, $(wc -c <"$work/${label}_out") bytes printed:"
			cat "$work/${label}_err"
			return 1
		done
		run=$((run + 1))
	done
}
check "two writers and two readers at once, 50 times (rounds): each writer's data reach one reader whole, or it is refused" live_two_and_two

# --- Built differently ----------------------------------------------------------

# With LIVE_OTHER, a compiler and its flags: the pair built so moves data
# by itself, and each second of a pair whose first is of the other build
# refuses it, built differently, exit 1, having printed nothing; the first
# then meets a partner of its own build.
# shellcheck disable=SC2086,SC2046 # LIVE_OTHER and the emulator are command lines
live_built_differently() {
	build_live && build_live "$work/other" $LIVE_OTHER || return
	head -c 600000 /dev/urandom >"$work/writer_in"
	start_live writer writer "$work/other" && start_live reader reader "$work/other" &&
		finished reader 0 && finished writer 0 && cmp "$work/writer_in" "$work/reader_out" || return 1
	for first in "$work" "$work/other"; do
		second=$work/other
		[ "$first" = "$work/other" ] && second=$work
		for role in writer reader; do
			partner=$(partner_of "$role")
			rm -f "$work/reader_out"
			start_live "$role" "$role" "$first" && waiting "$role" || return 1
			if ! { expect 1 timeout "${LIVE_LIMIT:-20}" $(live_emu "$second") "$second/live_$partner.out" <"$work/writer_in" &&
				said "built differently" && silent &&
				{ ! grep -q "live_reader.out: .*another ring size" "$work/err" || documented /shm_live; }; }; then
				echo "$second's $partner after $first's $role" && return 1
			fi
			start_live "$partner" "$partner" "$first" && finished reader 0 && finished writer 0 &&
				cmp "$work/writer_in" "$work/reader_out" && absent || return 1
		done
	done
}
if [ -n "${LIVE_OTHER:-}" ]; then
	check "lesson two built with $LIVE_OTHER works, and refuses to pair with this build: built differently" \
		live_built_differently
fi

# --- Built alike, for another machine -------------------------------------------

# With LIVE_PEER, a compiler and its flags for a build whose ring is laid out
# as this one's (x86-64 and arm64 with glibc: make check's arm64 part), and
# LIVE_PEER_EMU its emulator if any: a writer of each build meets a reader of
# the other, either started first, and the bytes arrive whole, both ways.
# shellcheck disable=SC2086 # LIVE_PEER is a command line
live_met_across_builds() {
	build_live && build_live "$work/peer" $LIVE_PEER || return
	head -c 3000000 /dev/urandom >"$work/writer_in"
	for writer_from in "$work" "$work/peer"; do
		reader_from=$work/peer
		[ "$writer_from" = "$work" ] || reader_from=$work
		for first in writer reader; do
			rm -f "$work/reader_out"
			if [ "$first" = writer ]; then
				start_live writer writer "$writer_from" && waiting writer &&
					start_live reader reader "$reader_from"
			else
				start_live reader reader "$reader_from" && waiting reader &&
					start_live writer writer "$writer_from"
			fi || return 1
			if ! { finished reader 0 && finished writer 0 && cmp "$work/writer_in" "$work/reader_out" &&
				absent; }; then
				echo "live_writer from $writer_from, live_reader from $reader_from, the $first first"
				return 1
			fi
		done
	done
}
if [ -n "${LIVE_PEER:-}" ]; then
	check "lesson two built with $LIVE_PEER meets this build, either started first: the bytes pass whole both ways" \
		live_met_across_builds
fi
