#!/bin/sh
# tests/faults.sh - the promises that hold under faults: a full /dev/shm, a
# writer killed half way, another user, a reader killed by SIGPIPE, many
# cycles, and readers racing.  Part of make check; same output as run.sh.
# Run from the top of the repository after building.

. tests/lib.sh

# The programs by absolute path: some cases run them from another directory,
# in another mount namespace or as another user.
case $WRITER in /*) ;; *) WRITER=$PWD/$WRITER ;; esac
case $READER in /*) ;; *) READER=$PWD/$READER ;; esac

# random_below N: a random whole number from 0 to N - 1.
random_below() {
	echo $(($(od -An -N4 -tu4 /dev/urandom) % $1))
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
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1)" = S ]
}

# killed_by SIGNAL STATUS: fail unless STATUS is that of a process ended by
# SIGNAL (INT, TERM, ...), as a shell reports it: 128 + the signal's number.
killed_by() {
	[ "$2" -gt 128 ] && [ "$(kill -l "$2")" = "$1" ] && return 0
	echo "exit status $2, not that of a process killed by SIG$1"
	return 1
}

# payload_segment: segment $seg holding $work/payload, 1 MiB of random
# bytes: more than a pipe holds, so a reader printing it into a pipe that
# nobody drains stops half way, holding its claim.
payload_segment() {
	head -c 1048576 /dev/urandom >"$work/payload" &&
		expect 0 writer -n "$seg" -s 2M - <"$work/payload"
}

# start_slow_reader: start a consuming reader of $seg in the background,
# printing into the FIFO $work/pipe, and return once its first byte came
# out: it has claimed the message and waits for the pipe to drain.  Its
# process id is in $slow; the FIFO's reading end is descriptor 4.
# shellcheck disable=SC2086 # RUN is a command line
start_slow_reader() {
	rm -f "$work/pipe" && mkfifo "$work/pipe" || return 1
	(exec env --default-signal=INT $RUN "$READER" -n "$seg" >"$work/pipe" 2>"$work/slow_err") &
	slow=$!
	background "$slow"
	exec 4<"$work/pipe"
	dd bs=1 count=1 <&4 >"$work/slow_out" 2>/dev/null && wait_for sleeping "$slow"
}

# finish_slow_reader: drain the slow reader's pipe; fail unless it printed
# the whole payload and exited 0.
finish_slow_reader() {
	cat <&4 >>"$work/slow_out"
	exec 4<&-
	wait "$slow" || { echo "the slow reader failed: $(cat "$work/slow_err")" && return 1; }
	cmp "$work/payload" "$work/slow_out"
}

# start_writer SIGINT ARGS...: start the writer on $seg in the background
# with ARGS, its standard input the FIFO $work/input (descriptor 3 is the
# other end), its standard error in $work/writer_err, and SIGINT "default",
# or "ignored" as a script's background job gets it.  Return once it has
# created the segment and waits for input; its process id is in $pid.
# shellcheck disable=SC2086 # RUN is a command line
start_writer() {
	sigint=$1
	shift
	rm -f "$work/input" && mkfifo "$work/input" || return 1
	if [ "$sigint" = default ]; then
		(exec env --default-signal=INT $RUN "$WRITER" -n "$seg" "$@" \
			<"$work/input" 2>"$work/writer_err") &
	else
		(exec $RUN "$WRITER" -n "$seg" "$@" <"$work/input" 2>"$work/writer_err") &
	fi
	pid=$!
	background "$pid"
	exec 3>"$work/input"
	wait_for [ -e "$(seg_file)" ] && wait_for sleeping "$pid"
}

# in_small_shm: run $work/script in a private mount namespace whose /dev/shm
# is a fresh 1 MiB tmpfs, the real /dev/shm never touched.  Its exit status
# goes to $work/status, and what it left in that /dev/shm to $work/left.
in_small_shm() {
	if [ "$(id -u)" -eq 0 ]; then
		set -- unshare -m
	else
		set -- unshare -r -m
	fi
	need unshare || return
	if ! "$@" true 2>/dev/null; then
		[ "${CI:-}" = true ] && { echo "CI must be able to run: $*"; return 1; }
		skip "cannot make a private mount namespace here ($*)"
		return
	fi
	export WRITER READER RUN seg work
	# shellcheck disable=SC2016 # expanded by the inner shell
	"$@" sh -c '
		mount -t tmpfs -o size=1M tmpfs /dev/shm || exit 3
		. "$work/script"
		echo $? >"$work/status"
		ls -A /dev/shm >"$work/left"'
}

# --- /dev/shm full -----------------------------------------------------------

# exited N: fail unless the script in the namespace recorded exit status N.
exited() {
	got=$(cat "$work/status")
	[ "$got" -eq "$1" ] && return 0
	echo "exit status $got, not $1 (above 128: killed by a signal)"
	cat "$work/err"
	return 1
}

# nothing_left: fail unless the private /dev/shm was empty at the end.
nothing_left() {
	[ ! -s "$work/left" ] && return 0
	echo "left in /dev/shm: $(cat "$work/left")"
	return 1
}

larger_than_shm() {
	printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/expected"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086 # RUN is a command line
		$RUN "$WRITER" -n "$seg" -s 8M 2>"$work/err" &&
			$RUN "$READER" -n "$seg" >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm || return
	exited 0 && printed "$work/expected" && nothing_left
}
check "an 8M segment on a 1 MiB /dev/shm works: only what the message uses is reserved" larger_than_shm

full_shm_payload() {
	head -c 2097152 /dev/urandom >"$work/payload"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086
		$RUN "$WRITER" -n "$seg" -s 8M - <"$work/payload" >"$work/out" 2>"$work/err"
	EOF
	in_small_shm || return
	exited 1 && said "posix_fallocate $seg: No space left on device" && nothing_left
}
check "writing 2 MiB into an 8M segment on a 1 MiB /dev/shm is an error, not a bus error" full_shm_payload

full_shm_words() {
	# 12 words of 100000 bytes: copied in with memcpy, where a missing page
	# would be a SIGBUS (read() into the mapping would fail with EFAULT instead).
	long_word=$(bytes 100000)
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "$long_word"; done >"$work/words"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2046 # the words are split on purpose
		$RUN "$WRITER" -n "$seg" -s 2M $(cat "$work/words") >"$work/out" 2>"$work/err"
	EOF
	in_small_shm || return
	exited 1 && said "posix_fallocate $seg: No space left on device" && nothing_left
}
check "a 1.2 MB message of words for a 1 MiB /dev/shm is an error, not a bus error" full_shm_words

# refused_reservation ERROR ARGS...: run the writer with every
# posix_fallocate made to fail with ERROR (strace injects it into the
# fallocate system call).  LeakSanitizer cannot work under strace: an ASan
# build checks for leaks in the other cases.
# shellcheck disable=SC2086 # RUN is a command line
refused_reservation() {
	error=$1
	shift
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -o /dev/null -e trace=fallocate -e inject=fallocate:error="$error" \
		$RUN "$WRITER" "$@"
}

cannot_reserve() {
	need strace || return
	head -c 300000 /dev/urandom >"$work/payload"
	for error in ENODEV EINVAL EOPNOTSUPP; do
		if ! { expect 0 refused_reservation "$error" -n "$seg" -s 1M - <"$work/payload" &&
			expect 0 reader -n "$seg" && printed "$work/payload" &&
			expect 0 refused_reservation "$error" -n "$seg" some words &&
			expect 0 reader -n "$seg" && printf 'some words\n' >"$work/expected" &&
			printed "$work/expected"; }; then
			echo "when posix_fallocate fails with $error" && return 1
		fi
	done
	expect 1 refused_reservation ENOSPC -n "$seg" - <"$work/payload" &&
		said "posix_fallocate $seg: No space left on device" && absent &&
		expect 1 refused_reservation ENOSPC -n "$seg" some words &&
		said "posix_fallocate $seg: No space left on device" && absent
}
check "where posix_fallocate cannot reserve (ENODEV, EINVAL, EOPNOTSUPP) the writer goes on; ENOSPC fails" cannot_reserve

fits_in_small_shm() {
	head -c 500000 /dev/urandom >"$work/payload"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086
		$RUN "$WRITER" -n "$seg" -s 512K - <"$work/payload" 2>"$work/err" &&
			$RUN "$READER" -n "$seg" >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm || return
	exited 0 && printed "$work/payload" && nothing_left
}
check "a payload that fits still round-trips on a 1 MiB /dev/shm" fits_in_small_shm

# --- The defaults, where they cannot touch the user's own /shm_demo --------

default_name() {
	[ -f Makefile ] || { skip "no Makefile in $PWD"; return; }
	printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/expected"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086 # RUN is a command line
		$RUN "$WRITER" 2>"$work/err" && [ -f /dev/shm/shm_demo ] &&
			$RUN "$READER" >"$work/out" 2>>"$work/err" && cmp "$work/expected" "$work/out" &&
			make -s run >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm || return
	exited 0 && printed "$work/expected" && nothing_left
}
check "without -n both programs use /shm_demo, and make run prints the default message" default_name

# --- Several programs at once -----------------------------------------------

slow_reader() {
	payload_segment && start_slow_reader || return 1
	expect 1 reader -n "$seg" && said "taken by another reader" && silent &&
		expect 1 writer -n "$seg" second && said "File exists" &&
		finish_slow_reader && absent &&
		expect 0 writer -n "$seg" second && expect 0 reader -n "$seg" &&
		printf 'second\n' >"$work/expected" && printed "$work/expected" && absent
}
check "while one reader prints a message, a second is refused as taken and a writer gets File exists" slow_reader

replaced_while_read() {
	payload_segment && start_slow_reader || return 1
	expect 0 writer -f -n "$seg" new message && finish_slow_reader && present &&
		expect 0 reader -n "$seg" && printf 'new message\n' >"$work/expected" &&
		printed "$work/expected" && absent
}
check "writer -f while a reader prints the old message: the old reader leaves the new message alone" replaced_while_read

failing_writer_replaced() {
	start_writer default -s 64 - && expect 0 writer -f -n "$seg" from the second writer ||
		return 1
	bytes 100 >&3 # too long for the first writer's 64-byte segment
	exec 3>&-
	wait "$pid" && { echo "the first writer should have failed" && return 1; }
	grep -q "longer than" "$work/writer_err" && present && expect 0 reader -n "$seg" &&
		printf 'from the second writer\n' >"$work/expected" && printed "$work/expected"
}
check "a writer that fails after writer -f replaced its segment leaves the new segment alone" failing_writer_replaced

writer_interrupted() {
	for signal in INT TERM HUP; do
		start_writer default - || return 1
		printf 'part of a message' >&3
		if ! { wait_for grep -q 'part of a message' "$(seg_file)" && wait_for sleeping "$pid"; }; then
			echo "the writer never took its input in" && return 1
		fi
		kill -s "$signal" "$pid"
		wait "$pid"
		status=$?
		exec 3>&-
		if ! { killed_by "$signal" "$status" && absent && [ ! -s "$work/writer_err" ]; }; then
			echo "for SIG$signal" && cat "$work/writer_err" && return 1
		fi
	done
}
check "a writer interrupted by SIGINT, SIGTERM or SIGHUP removes its segment and ends by that signal" writer_interrupted

ignored_stays_ignored() {
	start_writer ignored - || return 1
	kill -s INT "$pid"
	sleep 1
	if ! { sleeping "$pid" && present; }; then
		echo "an ignored SIGINT stopped the writer" && return 1
	fi
	kill -s TERM "$pid"
	wait "$pid"
	status=$?
	exec 3>&-
	killed_by TERM "$status" && absent
}
check "a SIGINT ignored when the writer started stays ignored (a script's background job)" ignored_stays_ignored

reader_interrupted() {
	for signal in INT TERM; do
		payload_segment && start_slow_reader || return 1
		kill -s "$signal" "$slow"
		wait "$slow"
		status=$?
		exec 4<&-
		if ! { killed_by "$signal" "$status" && present && expect 0 reader -n "$seg" &&
			printed "$work/payload" && absent; }; then
			echo "for SIG$signal" && return 1
		fi
	done
}
check "a reader interrupted by SIGINT or SIGTERM while printing hands the message back whole" reader_interrupted

reader_killed() {
	payload_segment && start_slow_reader || return 1
	kill -s KILL "$slow"
	wait "$slow"
	exec 4<&-
	expect 1 reader -n "$seg" && said "taken by another reader" && silent &&
		expect 0 reader -k -n "$seg" && printed "$work/payload" && present &&
		expect 0 writer -f -n "$seg" replacement && expect 0 reader -n "$seg" &&
		printf 'replacement\n' >"$work/expected" && printed "$work/expected" && absent
}
check "a reader killed (SIGKILL) while printing leaves it taken; -k prints it whole, -f replaces it" reader_killed

# --- The writer killed half way ----------------------------------------------

killed_writer() {
	start_writer default - || return 1 # it now sits in step 6, reading
	printf 'half of a message' >&3
	wait_for grep -q 'half of a message' "$(seg_file)" ||
		{ echo "the writer never copied its input in" && return 1; }
	kill -KILL "$pid"
	wait "$pid"
	exec 3>&-
	expect 1 reader -n "$seg" && said "not ready" && silent && present &&
		expect 0 writer -f -n "$seg" new message && expect 0 reader -n "$seg" &&
		printf 'new message\n' >"$work/expected" && printed "$work/expected" && absent
}
check "a writer killed mid-write leaves a segment the reader calls not ready; -f replaces it" killed_writer

# --- Another user ------------------------------------------------------------

# as_nobody COMMAND...: run COMMAND as the user nobody (needs root).
as_nobody() {
	setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups "$@"
}

# The cases run as another user get copies of the programs in $other, a
# directory of their own under /tmp, where nobody can run them wherever the
# checkout and $TMPDIR are (a home directory of mode 0700, say).  The
# reports of a checker in $RUN go where check.sh put them, under /tmp too.
if [ "$(id -u)" -eq 0 ] && other=$(mktemp -d /tmp/shm_demo_other.XXXXXX); then
	chmod 755 "$other" && cp "$WRITER" "$other/writer.out" && cp "$READER" "$other/reader.out" &&
		chmod 755 "$other/writer.out" "$other/reader.out"
fi

# other_user_setup: skip unless root, and unless nobody can run the copies.
other_user_setup() {
	[ "$(id -u)" -eq 0 ] || { skip "needs root to act as another user"; return; }
	need setpriv || return
	[ -n "$other" ] && as_nobody "$other/writer.out" -h >/dev/null 2>&1 && return 0
	if [ "${CI:-}" = true ]; then
		echo "nobody cannot run the programs copied to ${other:-/tmp}, and CI must run this case"
		return 1
	fi
	skip "the user nobody cannot run the programs copied to ${other:-/tmp}"
}

# shellcheck disable=SC2086 # RUN is a command line
read_as_nobody() {
	other_user_setup || return
	expect 0 writer -n "$seg" &&
		expect 1 as_nobody $RUN "$other/reader.out" -n "$seg" && said "Permission denied" &&
		silent && present && expect 0 reader -n "$seg"
}
check "another user cannot open a 0600 segment (run as nobody)" read_as_nobody

# shellcheck disable=SC2086 # RUN is a command line
planted_as_nobody() {
	other_user_setup || return
	expect 0 as_nobody $RUN "$other/writer.out" -n "$seg" planted &&
		[ "$(stat -c %U "$(seg_file)")" = nobody ] && cp "$(seg_file)" "$work/before" &&
		expect 1 reader -n "$seg" && said "not by you" && silent &&
		expect 1 writer -n "$seg" mine && said "File exists" &&
		cmp "$work/before" "$(seg_file)" && [ "$(stat -c %U "$(seg_file)")" = nobody ]
}
check "a segment planted by another user is refused by the reader and not reused by the writer" planted_as_nobody

# --- The reader killed by SIGPIPE --------------------------------------------

# shellcheck disable=SC2086 # RUN is a command line
sigpipe() {
	payload_segment || return 1
	{
		env --default-signal=PIPE $RUN "$READER" -n "$seg" 2>"$work/err"
		echo $? >"$work/status"
	} | head -c 1 >/dev/null
	killed_by PIPE "$(cat "$work/status")" && present && expect 0 reader -n "$seg" &&
		printed "$work/payload" && absent
}
check "a reader whose pipe closes (| head -c 1) ends by SIGPIPE and hands the message back whole" sigpipe

# --- Stress ------------------------------------------------------------------

stress() {
	room=$((4096 - header)) # the default size less the header
	cycle=0
	while [ "$cycle" -lt 200 ]; do
		cycle=$((cycle + 1))
		size=$(random_below $((room + 1)))
		head -c "$size" /dev/urandom >"$work/payload"
		{ expect 0 writer -n "$seg" - <"$work/payload" && expect 0 reader -n "$seg" &&
			printed "$work/payload" && absent; } ||
			{ echo "cycle $cycle, $size bytes" && return 1; }
	done
	for left in /dev/shm/"$prefix"_*; do
		[ ! -e "$left" ] || { echo "left behind: $left" && return 1; }
	done
}
check "200 write/read cycles of random sizes from 0 to the room come back byte for byte" stress

# --- Readers racing ----------------------------------------------------------

# Without the claim, two readers printed one message about once in twenty
# tries: race eight readers ten times.
racing_readers() {
	round=0
	while [ "$round" -lt 10 ]; do
		round=$((round + 1))
		payload_segment || return 1
		for i in 1 2 3 4 5 6 7 8; do
			{ reader -n "$seg" >"$work/out$i" 2>"$work/err$i"; echo $? >"$work/status$i"; } &
		done
		wait
		whole=0
		for i in 1 2 3 4 5 6 7 8; do
			status=$(cat "$work/status$i")
			if [ "$status" -eq 0 ] && cmp -s "$work/payload" "$work/out$i"; then
				whole=$((whole + 1))
			elif [ "$status" -eq 1 ] && [ ! -s "$work/out$i" ] &&
				grep -q -e "taken by another reader" -e "No such file or directory" "$work/err$i"; then
				: # it lost the race: the message was claimed, or already removed
			else
				echo "round $round, reader $i: status $status, $(wc -c <"$work/out$i") bytes out"
				cat "$work/err$i"
				return 1
			fi
		done
		if ! { [ "$whole" -eq 1 ] && absent; }; then
			echo "round $round: $whole of 8 readers printed the message" && return 1
		fi
	done
}
check "8 readers at once, 10 times: exactly one prints the message, whole; the others print nothing" racing_readers

# Writers and readers looping on one name at once, each writer's messages
# numbered: afterwards every message a writer reported as written (exit 0)
# was printed exactly once, whole, and no message was printed that was not.
together() {
	filler=$(bytes 3000)
	end=$(($(date +%s) + ${STRESS_SECONDS:-4}))
	for w in 1 2 3; do
		(
			i=0
			while [ "$(date +%s)" -lt "$end" ]; do
				i=$((i + 1))
				writer -n "$seg" "w$w-$i" "$filler" 2>/dev/null
				echo "$? w$w-$i" >>"$work/written$w"
			done
		) &
		(
			while [ "$(date +%s)" -lt "$end" ]; do
				reader -n "$seg" >>"$work/read$w" 2>/dev/null
				echo "$?" >>"$work/status$w"
			done
		) &
	done
	wait
	reader -n "$seg" >>"$work/read0" 2>/dev/null # what is left, if anything
	cat "$work"/read[0-3] >"$work/printed"
	cut -d ' ' -f 1 "$work"/written[1-3] | cat - "$work"/status[1-3] | sort | uniq -c
	if cut -d ' ' -f 1 "$work"/written[1-3] | cat - "$work"/status[1-3] | grep -v -x '[01]'; then
		echo "an exit status other than 0 and 1" && return 1
	fi
	if grep -v -x "w[1-3]-[0-9]* $filler" "$work/printed" >"$work/bad"; then
		echo "a message was printed in part, or mixed with another:"
		cut -c 1-80 "$work/bad"
		return 1
	fi
	sed -n 's/^0 //p' "$work"/written[1-3] | sort >"$work/expected"
	cut -d ' ' -f 1 "$work/printed" | sort >"$work/got"
	echo "$(wc -l <"$work/expected") messages written, $(wc -l <"$work/got") printed"
	cmp -s "$work/expected" "$work/got" && absent && return 0
	echo "written but not printed: $(comm -23 "$work/expected" "$work/got" | wc -l)"
	echo "printed more than once: $(uniq -d "$work/got" | wc -l)"
	return 1
}
check "3 writers and 3 readers on one name for a few seconds: each message written is printed once" together

summary
