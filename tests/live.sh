# shellcheck shell=sh disable=SC2154 # work and seg come from lib.sh, the pids from start_live
# tests/live.sh - lesson two's live pair, taken from README.md: its cases,
# sourced by tests/run.sh after tests/lib.sh.  Each case builds the pair on a
# name of its own.  Every run of it is limited to LIVE_LIMIT seconds (default
# 20): a broken hand-over makes both programs wait for ever, and the case
# then fails instead of hanging.

# build_live: README.md's third and fourth C blocks, live_writer and
# live_reader, on the case's own name $seg, built warning-free into
# $work/live_writer.out and $work/live_reader.out.  LESSON_CFLAGS adds flags
# (make check's sanitizer builds).
# shellcheck disable=SC2086 # LESSON_CFLAGS is a list; RT_LIB and THREAD_LIB are empty or one word
build_live() {
	need "${CC:-cc}" || return
	rm -f "$work/writer_in" "$work/reader_out" "$work/writer_err" "$work/reader_err"
	for role in writer:3 reader:4; do
		program=$work/live_${role%:*}.out
		sh tests/readme_code.sh "${role#*:}" >"$program.block" || return 1
		if ! { [ "$(wc -l <"$program.block")" -le 100 ] &&
			grep -q "live_${role%:*}" "$program.block" && grep -q '"/shm_live"' "$program.block"; }; then
			echo "README.md's C block ${role#*:} is not live_${role%:*}, on /shm_live, in 100 lines"
			return 1
		fi
		sed "s|\"/shm_live\"|\"$seg\"|" "$program.block" >"$program.c" &&
			"${CC:-cc}" -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror \
				${LESSON_CFLAGS:-} -o "$program" "$program.c" ${RT_LIB:-} ${THREAD_LIB:-} || return 1
	done
}

# start_live ROLE [REDIRECTIONS...]: run live_ROLE (writer or reader) in the
# background, limited to LIVE_LIMIT seconds, its standard error in
# $work/ROLE_err; $work/ROLE_in and $work/ROLE_out are its standard input
# and output, unless they are missing.  The timeout's process id goes to
# $ROLE_job (live_pid ROLE gives the program's).
# shellcheck disable=SC2086 # RUN is a command line
start_live() {
	in=/dev/null
	out=/dev/null
	[ -e "$work/$1_in" ] && in=$work/$1_in
	[ "$1" = reader ] && out=$work/reader_out
	(exec timeout "${LIVE_LIMIT:-20}" $RUN "$work/live_$1.out" <"$in" >"$out" 2>"$work/$1_err") &
	eval "$1_job=\$!"
}

# live_pid ROLE: the process id of live_ROLE, once it runs.
live_pid() {
	eval "job=\$$1_job"
	wait_for child_of "$job" >/dev/null && child_of "$job"
}

# finished ROLE STATUS: wait for live_ROLE and fail unless it exited with
# STATUS (124: the time limit ended it).
finished() {
	eval "wait \"\$$1_job\""
	got=$?
	[ "$got" -eq "$2" ] && return 0
	echo "live_$1 exited with $got, not $2 (124: still running after ${LIVE_LIMIT:-20} s):"
	cat "$work/$1_err"
	return 1
}

# waiting ROLE: true once live_ROLE has made its object and sleeps in it.
waiting() {
	pid=$(live_pid "$1") && wait_for [ -e "$(seg_file)" ] && wait_for sleeping "$pid"
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

# printed_bytes N: true once live_reader has printed N bytes.
printed_bytes() {
	[ "$(wc -c <"$work/reader_out")" -eq "$1" ]
}

# ring_mapping PID: the size in bytes of process PID's mapping of segment
# $seg (its name may be gone, "(deleted)"); fails if it has none.
ring_mapping() {
	range=$(grep -F " $(seg_file)" "/proc/$1/maps" 2>/dev/null | head -n 1 | cut -d ' ' -f 1)
	[ -n "$range" ] && echo $((0x${range#*-} - 0x${range%-*}))
}

live_builds() {
	build_live
}
check "lesson two in README.md: live_writer and live_reader, at most 100 lines each, build warning-free" live_builds

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
writer_first() { through writer reader; }
check "64 MiB go through whole, the writer started first; the mapping stays the ring's size" writer_first
reader_first() { through reader writer; }
check "64 MiB go through whole, the reader started first; the mapping stays the ring's size" reader_first

# 100 short runs, of 0 to 6 bytes: a reader that is done and gone is no
# dead reader, however soon it goes; each pair exits 0, its bytes whole.
short_runs() {
	build_live || return
	run=0
	while [ "$run" -lt 100 ]; do
		bytes $((run % 7)) >"$work/writer_in"
		if ! { start_live writer && start_live reader && finished reader 0 && finished writer 0 &&
			cmp "$work/writer_in" "$work/reader_out" && absent; }; then
			echo "run $run" && return 1
		fi
		run=$((run + 1))
	done
}
check "100 short runs in a row, of 0 to 6 bytes: both exit 0 each time, and the bytes arrive" short_runs

# A writer whose input pauses longer than any time-out of the pair (the
# reader's 10 seconds): it is waited for, and everything arrives.
slow_writer() {
	build_live || return
	start_pair_on_fifos && printf 'first\n' >&3 && sleep 11 && printf 'second\n' >&3 || return 1
	exec 3>&-
	printf 'first\nsecond\n' >"$work/expected"
	finished reader 0 && finished writer 0 && cmp "$work/expected" "$work/reader_out" && absent
}
check "a writer whose input pauses 11 s is waited for, and all its input arrives" slow_writer

# The writer killed by SIGKILL in mid-transfer, its input a FIFO that stays
# open: the reader, waiting for more, says so within 10 s, exits 1, and
# nothing is left.
writer_killed() {
	build_live || return
	start_pair_on_fifos || return 1
	head -c 524288 /dev/urandom >"$work/part" && cat "$work/part" >&3 || return 1
	wait_for printed_bytes 524288 || { echo "the first 512 KiB never came out" && return 1; }
	kill -s KILL "$writer_pid"
	gone_within 10 "$reader_pid" && finished reader 1 && grep -q "the writer has died" "$work/reader_err" &&
		cmp "$work/part" "$work/reader_out" && absent
}
check "the writer killed in mid-transfer: the reader says so within 10 s, exit 1, nothing left" writer_killed

# The reader killed by SIGKILL in mid-transfer, while its output is full and
# the writer waits for a free slot: the writer says so within 10 s, exit 1.
reader_killed() {
	build_live || return
	mkfifo "$work/reader_out" && start_pair_on_fifos || return 1
	head -c 4194304 /dev/urandom >&3 &
	if ! { wait_for sleeping "$writer_pid" && wait_for sleeping "$reader_pid" && sleep 1; }; then
		echo "the pair never came to wait" && return 1
	fi
	kill -s KILL "$reader_pid"
	gone_within 10 "$writer_pid" && finished writer 1 && grep -q "the reader has died" "$work/writer_err" &&
		absent
}
check "the reader killed in mid-transfer: the writer says so within 10 s, exit 1, nothing left" reader_killed

# The reader killed while the writer waits for its input: at its next slot
# the writer says so (as a pipe's writer learns at its next write), exit 1.
reader_killed_between_slots() {
	build_live || return
	start_pair_on_fifos || return 1
	if ! { printf 'first\n' >&3 && wait_for printed_bytes 6 && wait_for sleeping "$writer_pid"; }; then
		echo "the first line never came out" && return 1
	fi
	kill -s KILL "$reader_pid"
	sleep 1
	printf 'second\n' >&3
	gone_within 10 "$writer_pid" && finished writer 1 && grep -q "the reader has died" "$work/writer_err" &&
		absent
}
check "the reader killed while the writer waits for input: the writer says so at its next slot, exit 1" reader_killed_between_slots

# A reader that starts while the writer sets up (held 1.5 s by strace on
# entering its ftruncate, SETUP taken) waits for SETUP, comes second and
# meets it: the writer killed afterwards is then noticed as dead.
met_during_setup() {
	need strace || return
	[ -z "$RUN" ] || { skip "strace must hold the writer itself, not $RUN"; return; }
	build_live && mkfifo "$work/writer_in" || return 1
	(exec timeout "${LIVE_LIMIT:-20}" env "$no_leaks" strace -qq -o /dev/null \
		-e inject=ftruncate:delay_enter=1500000 "$work/live_writer.out" <"$work/writer_in" 2>"$work/writer_err") &
	tracer=$!
	exec 3>"$work/writer_in"
	wait_for [ -e "$(seg_file)" ] && start_live reader && reader_pid=$(live_pid reader) &&
		writer_pid=$(child_of "$(child_of "$tracer")") || return 1
	if ! { printf 'hello\n' >&3 && wait_for printed_bytes 6; }; then
		echo "nothing came through" && return 1
	fi
	kill -s KILL "$writer_pid"
	gone_within 10 "$reader_pid" && finished reader 1 && grep -q "the writer has died" "$work/reader_err" &&
		return 0
	echo "the reader did not say that the writer has died, but: $(cat "$work/reader_err")"
	return 1
}
check "a reader that starts while the writer sets up waits for it, meets it, and then notices its death" met_during_setup

# A writer killed before any reader came leaves its object; the next pair
# takes it over, and prints nothing of the old one's.
killed_before_meeting() {
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
check "a writer killed before any reader came: the next pair works, and prints nothing old" killed_before_meeting

# A second writer while one waits for its reader, or a second reader while
# one waits for its writer, is refused; the first one's data arrive whole.
# shellcheck disable=SC2086 # RUN is a command line
seconds_refused() {
	build_live || return
	head -c 300000 /dev/urandom >"$work/writer_in"
	start_live writer && waiting writer || return 1
	expect 1 timeout "${LIVE_LIMIT:-20}" $RUN "$work/live_writer.out" </dev/null &&
		documented /shm_live && start_live reader && finished reader 0 &&
		finished writer 0 && cmp "$work/writer_in" "$work/reader_out" && absent || return 1
	start_live reader && waiting reader || return 1
	expect 1 timeout "${LIVE_LIMIT:-20}" $RUN "$work/live_reader.out" && silent &&
		said "another live_reader is running" && start_live writer && finished writer 0 &&
		finished reader 0 && cmp "$work/writer_in" "$work/reader_out" && absent
}
check "a second writer or a second reader while one is live is refused; the first pair's data arrive whole" seconds_refused

# A reader waits for a writer up to 10 seconds, then says so, exit 1.
no_writer() {
	build_live || return
	start=$(date +%s)
	start_live reader && finished reader 1 && grep -q "no live_writer came within 10 seconds" \
		"$work/reader_err" && [ ! -s "$work/reader_out" ] || return 1
	waited=$(($(date +%s) - start))
	[ "$waited" -ge 9 ] && [ "$waited" -le 15 ] && return 0
	echo "the reader gave up after $waited s, not 10"
	return 1
}
check "a reader with no writer waits for one about 10 s, then says so and exits 1" no_writer
