#!/bin/sh
# tests/faults.sh - the promises that hold under faults: a full /dev/shm, a
# writer killed half way, another user, a reader killed by SIGPIPE, many
# cycles, and readers racing.  Part of make check; same output as run.sh.
# Run from the top of the repository after building.

. tests/lib.sh
. tests/lib_faults.sh

# --- /dev/shm full -----------------------------------------------------------

larger_than_shm() {
	printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/expected"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086 # RUN is a command line
		$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 8M 2>"$work/err" &&
			$RUN $READER_EMU "$READER" -n "$seg" >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 0 && printed "$work/expected" && nothing_left
}
check "an 8M segment on a 1 MiB /dev/shm works: only what the message uses is reserved" larger_than_shm

full_shm_payload() {
	head -c 2097152 /dev/urandom >"$work/payload"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086
		$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 8M - <"$work/payload" >"$work/out" 2>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 1 && said "posix_fallocate $seg: No space left on device" && documented NAME && nothing_left
}
check "writing 2 MiB into an 8M segment on a 1 MiB /dev/shm is an error, not a bus error" full_shm_payload

full_shm_words() {
	# 12 words of 100000 bytes: copied in with memcpy, where a missing page
	# would be a SIGBUS (read() into the mapping would fail with EFAULT instead).
	long_word=$(bytes 100000)
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "$long_word"; done >"$work/words"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2046 # the words are split on purpose
		$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 2M $(cat "$work/words") >"$work/out" 2>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 1 && said "posix_fallocate $seg: No space left on device" && nothing_left
}
check "a 1.2 MB message of words for a 1 MiB /dev/shm is an error, not a bus error" full_shm_words

# refused_reservation ERROR ARGS...: run the writer with every
# posix_fallocate made to fail with ERROR (strace injects it into the
# fallocate system call).
# shellcheck disable=SC2086 # RUN is a command line
refused_reservation() {
	error=$1
	shift
	traced -f -o /dev/null -e trace=fallocate -e inject=fallocate:error="$error" $RUN $WRITER_EMU "$WRITER" "$@"
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
		$RUN $WRITER_EMU "$WRITER" -n "$seg" -s 512K - <"$work/payload" 2>"$work/err" &&
			$RUN $READER_EMU "$READER" -n "$seg" >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 0 && printed "$work/payload" && nothing_left
}
check "a payload that fits still round-trips on a 1 MiB /dev/shm" fits_in_small_shm

# --- The defaults, where they cannot touch the user's own /shm_demo --------

default_name() {
	native "make run builds for this machine, not for the build under test" || return
	[ -f Makefile ] || { skip "no Makefile in $PWD"; return; }
	printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/expected"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086 # RUN is a command line
		$RUN $WRITER_EMU "$WRITER" 2>"$work/err" && [ -f /dev/shm/shm_demo ] &&
			$RUN $READER_EMU "$READER" >"$work/out" 2>>"$work/err" && cmp "$work/expected" "$work/out" &&
			make -s run >"$work/out" 2>>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 0 && printed "$work/expected" && nothing_left
}
check "without -n both programs use /shm_demo, and make run prints the default message" default_name

# README.md's make basic and make live, which use the lessons' own names
# (/shm_lesson_one, /shm_live), run as it says: lesson one's message, then
# lesson two's three lines, in a private /dev/shm.
make_lessons() {
	native "make builds the lessons for this machine, not for the build under test" || return
	[ -f Makefile ] || { skip "no Makefile in $PWD"; return; }
	need make || return
	cat >"$work/script" <<-'EOF'
		make -s basic >"$work/out" 2>"$work/err" && make -s live >>"$work/out" 2>>"$work/err"
	EOF
	in_small_shm size=4M || return
	printf 'Hello from lesson one!\n' >"$work/expected"
	exited 0 && head -n 1 "$work/out" | cmp "$work/expected" - &&
		[ "$(grep -c '^line [123], written at ' "$work/out")" -eq 3 ] && nothing_left
}
check "README.md's make basic and make live run: lesson one's message, then lesson two's three lines" make_lessons

# --- Several programs at once -----------------------------------------------

slow_reader() {
	payload_segment && start_slow_reader || return 1
	expect 1 reader -n "$seg" && said "busy: a writer is still filling it, or a reader" &&
		documented NAME && silent && expect 1 writer -n "$seg" second && said "File exists" &&
		finish_slow_reader && absent &&
		expect 0 writer -n "$seg" second && expect 0 reader -n "$seg" &&
		printf 'second\n' >"$work/expected" && printed "$work/expected" && absent
}
check "while one reader prints a message (holding the lock), a second is told busy and a writer File exists" slow_reader

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

# A writer that a terminal's signal or kill stops while it waits for its
# input (its segment locked, marked, half filled) dies at once: it catches
# nothing.  What it leaves is at the name, and the next writer removes it and
# publishes, with no -f and no reader first.  (No core file for SIGQUIT.)
writer_stopped_by_signals() {
	# shellcheck disable=SC3045 # not in POSIX, but in dash, bash and busybox sh
	ulimit -c 0
	for signal in INT QUIT TERM HUP; do
		start_writer default - || return 1
		printf 'part of a message' >&3
		if ! { wait_for grep -q 'part of a message' "$(seg_file)" && wait_for sleeping "$pid"; }; then
			echo "the writer never took its input in" && return 1
		fi
		kill -s "$signal" "$pid"
		wait "$pid"
		status=$?
		exec 3>&-
		# (qemu says itself that a signal ended its program: that line is not the writer's.)
		if ! { killed_by "$signal" "$status" && present &&
			! grep -v '^qemu: uncaught target signal' "$work/writer_err" &&
			expect 0 writer -n "$seg" next && expect 0 reader -n "$seg" &&
			printf 'next\n' >"$work/expected" && printed "$work/expected" && absent; }; then
			echo "for SIG$signal" && return 1
		fi
	done
}
check "a writer stopped by SIGINT, SIGQUIT, SIGTERM or SIGHUP dies at once; the next writer publishes, no -f" writer_stopped_by_signals

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
check "a reader stopped by SIGINT or SIGTERM while printing leaves the message ready for the next, whole" reader_interrupted

reader_killed() {
	payload_segment && start_slow_reader || return 1
	kill -s KILL "$slow"
	wait "$slow"
	exec 4<&-
	expect 0 reader -n "$seg" && printed "$work/payload" && absent
}
check "a reader killed (SIGKILL) while printing: the kernel drops its lock, and the next reader prints it whole" reader_killed

# Crash-only: neither program installs a signal handler, nor ignores a
# signal; every death is cleaned up by the next program.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
catches_nothing() {
	need strace || return
	[ -z "$RUN" ] || { skip "strace must see the programs themselves, not $RUN"; return; }
	native "qemu sets a handler of its own for every signal" || return
	printf 'hello\n' >"$work/expected"
	expect 0 traced -f -o "$work/writer_trace" -e trace=rt_sigaction,sigaction,signal $WRITER_EMU "$WRITER" -n "$seg" hello &&
		expect 0 traced -f -o "$work/reader_trace" -e trace=rt_sigaction,sigaction,signal $READER_EMU "$READER" -n "$seg" &&
		printed "$work/expected" || return 1
	if grep -E 'SIG(INT|QUIT|TERM|HUP|PIPE|XFSZ)' "$work/writer_trace" "$work/reader_trace"; then
		echo "a program sets the disposition of a signal above" && return 1
	fi
	absent
}
check "neither program installs a handler for, or ignores, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE or SIGXFSZ" catches_nothing

# --- The writer killed half way ----------------------------------------------

killed_writer() {
	start_writer default - || return 1 # it now sits in step 7, reading
	printf 'half of a message' >&3
	wait_for grep -q 'half of a message' "$(seg_file)" ||
		{ echo "the writer never copied its input in" && return 1; }
	kill -KILL "$pid"
	wait "$pid"
	exec 3>&-
	expect 1 reader -n "$seg" && said "abandoned by its writer, which died before" && documented NAME &&
		said "; removed it" && silent && absent &&
		expect 0 writer -n "$seg" new message && expect 0 reader -n "$seg" &&
		printf 'new message\n' >"$work/expected" && printed "$work/expected" && absent
}
check "a writer killed (SIGKILL) mid-write: the next reader calls it abandoned and removes it; no -f needed" killed_writer

# reference_trace ARGS...: trace the writer with ARGS on $seg into
# $work/trace, then let a reader consume what it wrote.  Only its calls on
# the segment (strace -P): a sanitizer's runtime makes calls of its own, as
# many as the size of the environment asks, so that the numbers of all calls
# need not be the same from one run to the next; those on the segment are.
# A case that injects at one of them uses -P too.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
reference_trace() {
	traced -o "$work/trace" -P "$(seg_file)" $WRITER_EMU "$WRITER" -n "$seg" "$@" >/dev/null &&
		reader -n "$seg" >/dev/null && [ -s "$work/trace" ]
}

# killed_at NAME N: run the writer (message "hi") under umask 0777, killed
# by SIGKILL on entering its Nth system call NAME; fail unless it was, and
# unless what it left has mode 0600: the umask must not leave its owner a
# segment it cannot open.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
killed_at() {
	(umask 0777 && traced -o /dev/null -P "$(seg_file)" -e inject="$1:signal=SIGKILL:when=$2" \
		$WRITER_EMU "$WRITER" -n "$seg" hi) 2>/dev/null
	status=$?
	mode=$(stat -c %a "$(seg_file)" 2>/dev/null) || mode=600 # none left: fine
	killed_by KILL "$status" && [ "$mode" = 600 ] && return 0
	echo "mode $mode"
	return 1
}

# A writer killed by SIGKILL at each of its system calls on the segment in
# turn, from the shm_open to the close (the list comes from an strace of the
# writer itself; its munmap, which names no segment, leaves what a kill at
# the close after it leaves: a published message, locked by a dying
# process).  Then the next writer publishes with no -f and no reader first:
# it removes what the dead one left, unless that one had published its
# message, which stays (File exists) for a reader.  Killed again at the same
# call, the next reader prints that message, or removes what is left.
killed_at_every_call() {
	need strace || return
	counted || return
	reference_trace hi && calls_from_open "$work/trace" >"$work/calls" || return 1
	[ "$(wc -l <"$work/calls")" -ge 8 ] || { echo "too few calls:" && cat "$work/trace" && return 1; }
	printf 'again\n' >"$work/expected"
	printf 'hi\n' >"$work/hi"
	while read -r call n; do
		echo "killed on entering $call, its call number $n:"
		killed_at "$call" "$n" || return 1
		if ! writer -n "$seg" again 2>"$work/err"; then # only a published message stays
			if ! { grep -q "File exists" "$work/err" && expect 0 reader -n "$seg" &&
				printed "$work/hi" && expect 0 writer -n "$seg" again; }; then
				echo "the next writer failed" && return 1
			fi
		fi
		expect 0 reader -n "$seg" && printed "$work/expected" && absent && killed_at "$call" "$n" ||
			return 1
		reader -n "$seg" >"$work/out" 2>"$work/err"
		if ! { absent && { cmp -s "$work/hi" "$work/out" || grep -q -e "No such file or directory" \
			-e "empty and unlocked" -e "abandoned by its writer" "$work/err"; }; }; then
			echo "the next reader said: $(cat "$work/err")" && return 1
		fi
	done <"$work/calls"
}
check "a writer killed (SIGKILL) at any of its calls on the segment: the next writer publishes, no -f, no reader first" killed_at_every_call

# A writer held just before its flock: a reader then finds an empty segment
# with its lock free and removes it; the writer, once it has its lock, sees
# that the name no longer leads to its segment, starts again and publishes.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
held_before_lock() {
	need strace || return
	held_at_flock 1500000 $WRITER_EMU "$WRITER" -n "$seg" hello 2>"$work/writer_err"
	pid=$held
	wait_for [ -e "$(seg_file)" ] || { echo "the writer made no segment" && return 1; }
	expect 1 reader -n "$seg" && said "empty and unlocked" && said "; removed it" && silent ||
		return 1
	wait "$pid" || { echo "the writer failed: $(cat "$work/writer_err")" && return 1; }
	expect 0 reader -n "$seg" && printf 'hello\n' >"$work/expected" &&
		printed "$work/expected" && absent
}
check "a writer held before its lock while a reader removes its empty segment starts again and publishes" held_before_lock

# A writer that finds a dead writer's segment at its name, held before it
# takes that segment's lock, while the segment is moved away (mv) and a new
# message published at the name: it must not remove the new one.  It looks
# at the name again (the same inode) before it removes anything.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
held_before_takeover() {
	need strace || return
	expect 0 writer -n "$seg" -s 64 half && poke 0 '\000\000\000\000' || return 1 # a dead writer's
	held_at_flock 1500000 $WRITER_EMU "$WRITER" -n "$seg" first 2>"$work/writer_err"
	if ! wait_for held_open; then
		echo "the held writer never opened the dead segment" && return 1
	fi
	mv "$(seg_file)" "$(seg_file)_moved" && expect 0 writer -n "$seg" second || return 1
	wait "$held"
	status_is 1 $? "the held writer" && grep -q "shm_open $seg: File exists" "$work/writer_err" &&
		expect 0 reader -n "$seg" && printf 'second\n' >"$work/expected" &&
		printed "$work/expected"
}
check "a writer held before it takes over a dead segment that is then moved leaves the new message at the name" held_before_takeover

# A reader that comes while the writer sets its segment up is told busy and
# touches no page: the writer is held for 2 s on entering each of its calls
# between the lock and the mapping (from an strace of the writer).  Until the
# segment has its full size, every byte within that size is already backed
# by memory: there is no page that a reader's touch would bring in.
# shellcheck disable=SC2086 # RUN is a command line
reader_during_setup() {
	need strace || return
	counted || return
	reference_trace -s 1M hello && calls_from_open "$work/trace" |
		sed -n '/^flock /,/^mmap /p' | grep -E '^(pwrite64|pwrite|fallocate|ftruncate|mmap) ' \
		>"$work/calls" || return 1
	[ "$(wc -l <"$work/calls")" -eq 4 ] || { echo "not 4 calls:" && cat "$work/calls" && return 1; }
	printf 'hello\n' >"$work/expected"
	while read -r call n; do
		(exec env "$no_leaks" strace -qq -o /dev/null -P "$(seg_file)" \
			-e inject="$call:delay_enter=2000000:when=$n" \
			$WRITER_EMU "$WRITER" -n "$seg" -s 1M hello 2>"$work/writer_err") &
		pid=$!
		if ! { wait_for locked_by_someone && sleep 0.5; }; then
			echo "the writer never locked its segment before $call" && return 1
		fi
		size=$(stat -c %s "$(seg_file)") && blocks=$(stat -c %b "$(seg_file)") || return 1
		held=$((blocks * $(stat -c %B "$(seg_file)")))
		if ! { expect 1 reader -n "$seg" && said "busy: a writer is still filling it" &&
			silent && expect 1 reader -k -n "$seg" && said "busy" && silent &&
			[ "$(stat -c %b "$(seg_file)")" -eq "$blocks" ] &&
			{ [ "$call" = mmap ] || [ "$size" -le "$held" ]; }; }; then
			echo "with the writer held on entering $call: $size bytes long, $held held"
			return 1
		fi
		wait "$pid" || { echo "the writer failed: $(cat "$work/writer_err")" && return 1; }
		expect 0 reader -n "$seg" && printed "$work/expected" || return 1
	done <"$work/calls"
}
check "a reader that comes while the writer sets up is told busy, and no page it could touch is unbacked" reader_during_setup

# A reader held just before its flock, with the segment open, while another
# prints the message and removes it: it must print nothing.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
held_reader_finds_delivered() {
	need strace || return
	payload_segment || return 1
	held_at_flock 2000000 $READER_EMU "$READER" -n "$seg" >"$work/held_out" 2>"$work/held_err"
	if ! wait_for held_open; then
		echo "the held reader never opened the segment" && return 1
	fi
	expect 0 reader -n "$seg" && printed "$work/payload" && absent || return 1
	wait "$held"
	status_is 1 $? "the held reader" || return 1
	cp "$work/held_err" "$work/err" && cp "$work/held_out" "$work/out" &&
		said "already delivered, or removed, by another program" && silent
}
check "a reader held before its lock while another prints and removes the message prints nothing" held_reader_finds_delivered

# While one -k reader prints into a pipe that nobody drains (holding a
# shared lock), a second -k reader prints the whole message too.
two_keep_readers() {
	payload_segment && start_slow_reader -k || return 1
	expect 0 reader -k -n "$seg" && printed "$work/payload" && finish_slow_reader && present &&
		expect 0 reader -n "$seg" && printed "$work/payload" && absent
}
check "while one reader -k prints, a second reader -k prints the whole message too" two_keep_readers

# A writer killed just before the publishing store (SIGTERM on entering its
# mmap of the segment, the last call before it; -P counts only the calls on
# the segment, not those of a sanitizer's runtime) publishes nothing: the
# next reader finds its segment abandoned, prints nothing, and removes it.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
stopped_before_publishing() {
	need strace || return
	counted || return
	traced -o /dev/null -P "$(seg_file)" -e trace=mmap,mmap2 -e inject=mmap,mmap2:signal=SIGTERM:when=1 \
		$WRITER_EMU "$WRITER" -n "$seg" hello 2>"$work/err"
	status=$?
	killed_by TERM "$status" && expect 1 reader -n "$seg" && said "abandoned by its writer" &&
		silent && absent
}
check "a writer killed just before the publishing store publishes nothing: the next reader removes it, prints nothing" stopped_before_publishing

# writer.out -f landing before the writer has its lock: that writer starts
# again, finds the name taken, and says File exists (exit 1).
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
replaced_before_lock() {
	need strace || return
	held_at_flock 1500000 $WRITER_EMU "$WRITER" -n "$seg" first 2>"$work/writer_err"
	pid=$held
	wait_for [ -e "$(seg_file)" ] && expect 0 writer -f -n "$seg" second || return 1
	wait "$pid"
	status_is 1 $? "the first writer" && grep -q "shm_open $seg: File exists" "$work/writer_err" &&
		expect 0 reader -n "$seg" && printf 'second\n' >"$work/expected" && printed "$work/expected"
}
check "writer -f before the first writer has its lock: that one says File exists (exit 1); the new one is read" replaced_before_lock

# writer.out -f landing between the publishing store and the writer's look
# at its name (held there for 1.5 s): that writer says its message is lost.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
replaced_after_store() {
	need strace || return
	counted || return
	reference_trace first && look=$(last_call_naming_segment "$work/trace") || return 1
	(exec env "$no_leaks" strace -qq -o /dev/null -P "$(seg_file)" \
		-e inject="${look% *}:delay_enter=1500000:when=${look#* }" \
		$WRITER_EMU "$WRITER" -n "$seg" first 2>"$work/writer_err") &
	pid=$!
	wait_for published && expect 0 writer -f -n "$seg" second || return 1
	wait "$pid"
	status_is 1 $? "the first writer" && grep -q "check $seg: .*this message is lost" "$work/writer_err" &&
		expect 0 reader -n "$seg" && printf 'second\n' >"$work/expected" && printed "$work/expected"
}
check "writer -f after the first writer published, before it looked at its name: that one says lost (exit 1)" replaced_after_store

# take_name WAY: take segment $seg's name from its segment, as its owner may:
# mv (the file moves to $seg_moved), ln then rm, or rm.
take_name() {
	rm -f "$(seg_file)_moved"
	case $1 in
	mv) mv "$(seg_file)" "$(seg_file)_moved" ;;
	ln) ln "$(seg_file)" "$(seg_file)_moved" && rm "$(seg_file)" ;;
	rm) rm "$(seg_file)" ;;
	esac
}

# While a writer fills its segment, its name is taken from it and a second
# writer publishes at the name: the first, stopped, must not remove that.
renamed_while_filled() {
	printf 'second\n' >"$work/expected"
	for way in mv ln rm; do
		start_writer default - && take_name "$way" && expect 0 writer -n "$seg" second || return 1
		kill -s TERM "$pid"
		wait "$pid"
		status=$?
		exec 3>&-
		if ! { killed_by TERM "$status" && expect 0 reader -n "$seg" && printed "$work/expected"; }; then
			echo "after $way" && return 1
		fi
	done
}
check "a writer stopped after its name was moved (mv, ln and rm, rm) leaves the new message at the name" renamed_while_filled

# The same while a reader prints: done, it must not remove the new message.
renamed_while_printed() {
	printf 'second\n' >"$work/expected"
	for way in mv ln rm; do
		if ! { payload_segment && start_slow_reader && take_name "$way" &&
			expect 0 writer -n "$seg" second && finish_slow_reader &&
			expect 0 reader -n "$seg" && printed "$work/expected" && absent; }; then
			echo "after $way" && return 1
		fi
	done
}
check "a reader whose segment's name was moved while it printed leaves the new message at the name" renamed_while_printed

replaced_while_filled() {
	start_writer default - || return 1
	printf 'the first message' >&3
	expect 0 writer -f -n "$seg" the second message || return 1
	exec 3>&-
	wait "$pid" && { echo "the first writer should have failed" && return 1; }
	cp "$work/writer_err" "$work/err" && documented NAME || return 1
	expect 0 reader -n "$seg" && printf 'the second message\n' >"$work/expected" &&
		printed "$work/expected" && absent
}
check "writer -f while a writer fills: that writer says its message is lost (exit 1); the new one is read" replaced_while_filled

# --- Windows: a program held, or failing, just where one would open ----------

# A writer whose flock fails has no lock: it says so, and removes nothing,
# since another writer may have cleared its empty, unlocked segment and
# published at the name meanwhile.  Held 2 s at any unlink of the segment it
# makes (-P: not valgrind's of its own files), while a second writer does
# that: the second's message stays at the name.
# shellcheck disable=SC2086 # RUN and the emulator are command lines
failed_before_lock() {
	need strace || return
	(exec env "$no_leaks" strace -qq -f -o /dev/null -P "$(seg_file)" -e trace=flock,unlink,unlinkat \
		-e inject=flock:error=ENOLCK -e inject=unlink,unlinkat:delay_enter="$(held_for 2000000)" \
		$RUN $WRITER_EMU "$WRITER" -n "$seg" first 2>"$work/writer_err") &
	pid=$!
	if ! wait_for grep -q "flock $seg: No locks available" "$work/writer_err" 2>/dev/null; then
		echo "the writer never said that its flock failed" && return 1
	fi
	expect 0 writer -n "$seg" second || return 1
	wait "$pid"
	status_is 1 $? "the writer whose flock failed" && expect 0 reader -n "$seg" &&
		printf 'second\n' >"$work/expected" && printed "$work/expected" && absent
}
check "a writer whose flock fails removes nothing: a second writer that cleared its empty segment keeps its message" failed_before_lock

# A writer whose look at its name after publishing fails (made to fail with
# EACCES) says that it published and could not check the name, not that its
# message is lost; exit 1.  The next reader prints the message.
unchecked_after_publishing() {
	need strace || return
	counted || return
	reference_trace first && look=$(last_call_naming_segment "$work/trace") || return 1
	expect 1 traced -o /dev/null -P "$(seg_file)" -e inject="${look% *}:error=EACCES:when=${look#* }" \
		"$WRITER" -n "$seg" first &&
		said "check $seg: Permission denied (it was published, but whether it is still at its name" &&
		documented NAME && expect 0 reader -n "$seg" && printf 'first\n' >"$work/expected" &&
		printed "$work/expected"
}
check "a writer that cannot look at its name after publishing says it published (exit 1); the message is read" unchecked_after_publishing

# A writer that finds a dead writer's segment at its name, held 1.5 s before
# it opens what it found (its second open of the segment), while a reader
# removes that: it starts again, and publishes; it does not say File exists.
# shellcheck disable=SC2086 # RUN and the emulator are command lines
found_then_gone() {
	need strace || return
	expect 0 writer -n "$seg" -s 64 half && poke 0 '\000\000\000\000' || return 1 # a dead writer's
	(exec env "$no_leaks" strace -qq -o "$work/opens" -P "$(seg_file)" -e trace=open,openat \
		-e inject=open,openat:delay_enter="$(held_for 1500000)":when=2 \
		$RUN $WRITER_EMU "$WRITER" -n "$seg" first 2>"$work/writer_err") &
	pid=$!
	wait_for grep -q EEXIST "$work/opens" 2>/dev/null && expect 1 reader -n "$seg" && said "abandoned by its writer" &&
		said "; removed it" || return 1
	wait "$pid" || { echo "the writer failed: $(cat "$work/writer_err")" && return 1; }
	expect 0 reader -n "$seg" && printf 'first\n' >"$work/expected" && printed "$work/expected"
}
check "a writer whose found segment is removed before it opens it starts again and publishes" found_then_gone

# A writer whose new, empty segment a reader removes before the writer can
# lock it (held 1 s at each flock), three times: it gives up in words, exit
# 1, before it reads any input (a FIFO that nobody writes to), and leaves
# nothing.
# shellcheck disable=SC2086 # RUN and the emulator are command lines
gave_up_after_attempts() {
	need strace || return
	rm -f "$work/input" && mkfifo "$work/input" || return 1
	(exec timeout 60 env "$no_leaks" strace -qq -f -o /dev/null -e trace=flock \
		-e inject=flock:delay_enter="$(held_for 1000000)" $RUN $WRITER_EMU "$WRITER" -n "$seg" - \
		<"$work/input" 2>"$work/writer_err") &
	pid=$!
	exec 3>"$work/input"
	for attempt in 1 2 3; do
		if ! { wait_for [ -e "$(seg_file)" ] && expect 1 reader -n "$seg" && said "empty and unlocked"; }; then
			echo "at attempt $attempt" && return 1
		fi
	done
	wait "$pid"
	status=$?
	exec 3>&-
	cp "$work/writer_err" "$work/err" && status_is 1 "$status" "the writer" &&
		said "create $seg: other programs took or removed the name 3 times; gave up (try again)" &&
		documented NAME && absent
}
check "a writer whose empty segment is removed before each lock gives up after 3 attempts, before its input" gave_up_after_attempts

# A reader that took the size of a writer's new, still empty segment, held
# before its lock while that writer publishes: holding the lock, it asks the
# size again, and prints the message.  (With the size it took first, it
# would call the published segment empty, and remove it.)
# shellcheck disable=SC2086 # the emulators are command lines
reader_held_while_published() {
	need strace || return
	held_at_flock 1500000 $WRITER_EMU "$WRITER" -n "$seg" hello 2>"$work/writer_err"
	writer_pid=$held
	wait_for [ -e "$(seg_file)" ] || { echo "the writer made no segment" && return 1; }
	held_at_flock 3000000 $READER_EMU "$READER" -n "$seg" >"$work/out" 2>"$work/err"
	wait_for held_open || { echo "the held reader never opened the segment" && return 1; }
	wait "$writer_pid" || { echo "the writer failed: $(cat "$work/writer_err")" && return 1; }
	wait "$held"
	status_is 0 $? "the held reader" && printf 'hello\n' >"$work/expected" && printed "$work/expected" &&
		absent
}
check "a reader held before its lock while the writer of the empty segment it saw publishes prints the message" reader_held_while_published

# The same for a writer that found another's new, empty segment: held
# before it locks it to take it over, while that writer publishes, it asks
# the size again, and leaves the message (File exists).
# shellcheck disable=SC2086 # the emulator is a command line
takeover_held_while_published() {
	need strace || return
	held_at_flock 1500000 $WRITER_EMU "$WRITER" -n "$seg" first 2>"$work/writer_err"
	first_pid=$held
	wait_for [ -e "$(seg_file)" ] || { echo "the first writer made no segment" && return 1; }
	held_at_flock 3000000 $WRITER_EMU "$WRITER" -n "$seg" second 2>"$work/err"
	wait_for held_open || { echo "the second writer never opened the first's segment" && return 1; }
	wait "$first_pid" || { echo "the first writer failed: $(cat "$work/writer_err")" && return 1; }
	wait "$held"
	status_is 1 $? "the second writer" && said "shm_open $seg: File exists" &&
		expect 0 reader -n "$seg" && printf 'first\n' >"$work/expected" && printed "$work/expected"
}
check "a writer held before it takes over a new, empty segment that its writer then publishes leaves it: File exists" takeover_held_while_published

# without_lock PROGRAM ARGS...: run a program under test with every flock
# made to fail with EOPNOTSUPP, as on a system that cannot lock shared memory.
# shellcheck disable=SC2086 # RUN is a command line
without_lock() {
	program=$1
	shift
	traced -f -o /dev/null -e trace=flock -e inject=flock:error=EOPNOTSUPP $RUN "$program" "$@"
}

# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
no_lock_support() {
	need strace || return
	head -c 3000 /dev/urandom >"$work/payload"
	expect 0 without_lock $WRITER_EMU "$WRITER" -n "$seg" - <"$work/payload" &&
		expect 0 without_lock $READER_EMU "$READER" -k -n "$seg" && printed "$work/payload" &&
		expect 0 without_lock $READER_EMU "$READER" -n "$seg" && printed "$work/payload" && absent &&
		expect 0 writer -n "$seg" -s 64 some message && poke 0 '\000\000\000\000' &&
		expect 1 without_lock $READER_EMU "$READER" -n "$seg" && said "not ready (a writer may still be" &&
		documented NAME && silent && present || return 1
	# Nor does a writer take it over: its writer may still be at work.
	cp "$(seg_file)" "$work/before" && expect 1 without_lock $WRITER_EMU "$WRITER" -n "$seg" mine &&
		said "File exists" && cmp "$work/before" "$(seg_file)" &&
		rm "$(seg_file)" && (umask 077 && : >"$(seg_file)") &&
		expect 1 without_lock $READER_EMU "$READER" -n "$seg" && said "not ready (a writer may still be" &&
		silent && present && expect 1 without_lock $WRITER_EMU "$WRITER" -n "$seg" mine &&
		said "File exists" && present && [ ! -s "$(seg_file)" ]
}
check "where flock fails (EOPNOTSUPP) the pair still works; no reader or writer removes a not-ready or empty segment" no_lock_support

# The two facts the lock rests on, on this system: a lock taken with flock
# lasts while the segment is mapped, even after its descriptor is closed, and
# the kernel drops it when its holder is killed.  tests/lock_holder.c locks,
# sizes and maps a segment, closes the descriptor and waits.
lock_facts() {
	need "${CC:-cc}" || return
	# shellcheck disable=SC2086 # RT_LIB is empty or one word
	"${CC:-cc}" -o "$work/lock_holder" tests/lock_holder.c ${RT_LIB:-} || return 1
	"$work/lock_holder" "$seg" >"$work/holder_out" &
	holder=$!
	wait_for grep -q closed "$work/holder_out" || { echo "lock_holder never got ready" && return 1; }
	expect 1 reader -n "$seg" && said "busy" && present || return 1
	kill -KILL "$holder"
	wait "$holder"
	expect 1 reader -n "$seg" && said "abandoned by its writer" && said "; removed it" && absent
}
check "a flock lasts while the segment is mapped after close(fd), and SIGKILL releases it" lock_facts

# --- Another user ------------------------------------------------------------

# shellcheck disable=SC2086 # RUN is a command line
read_as_nobody() {
	other_user_setup || return
	printf 'mine\n' >"$work/expected"
	expect 0 writer -n "$seg" mine &&
		expect 1 as_nobody $RUN $READER_EMU "$other/reader.out" -n "$seg" && said "Permission denied" &&
		silent && present &&
		expect 1 as_nobody $RUN $READER_EMU "$other/reader.out" -k -n "$seg" && said "Permission denied" &&
		silent && present &&
		expect 1 as_nobody $RUN $WRITER_EMU "$other/writer.out" -f -n "$seg" theirs &&
		said "shm_unlink $seg: " && said "(it may belong to another user" &&
		present &&
		expect 0 reader -n "$seg" && printed "$work/expected"
}
check "another user can neither read, look at (-k) nor replace (-f) a 0600 segment (run as nobody)" read_as_nobody

# shellcheck disable=SC2086 # RUN is a command line
planted_as_nobody() {
	other_user_setup || return
	expect 0 as_nobody $RUN $WRITER_EMU "$other/writer.out" -n "$seg" planted &&
		[ "$(stat -c %U "$(seg_file)")" = nobody ] && cp "$(seg_file)" "$work/before" &&
		expect 1 reader -n "$seg" && said "not by you" && silent &&
		expect 1 writer -n "$seg" mine && said "File exists" &&
		cmp "$work/before" "$(seg_file)" && [ "$(stat -c %U "$(seg_file)")" = nobody ]
}
check "a segment planted by another user is refused by the reader and not reused by the writer" planted_as_nobody

# Another user's segment that looks abandoned (marked, still filling) and
# that anyone may write (mode 0666): the next writer, root here, does not
# take it over, nor remove it.  It is not ours to judge.
# shellcheck disable=SC2086 # the emulators (WRITER_EMU, READER_EMU) are words
abandoned_as_nobody() {
	other_user_setup || return
	# shellcheck disable=SC2016 # $1 is the inner shell's
	expect 0 as_nobody $WRITER_EMU "$other/writer.out" -n "$seg" -s 64 theirs &&
		as_nobody sh -c 'printf "\000\000\000\000" | dd of="$1" conv=notrunc 2>/dev/null &&
			chmod 666 "$1"' sh "$(seg_file)" && cp "$(seg_file)" "$work/before" &&
		expect 1 writer -n "$seg" mine && said "File exists" &&
		cmp "$work/before" "$(seg_file)" && [ "$(stat -c %U "$(seg_file)")" = nobody ]
}
check "another user's abandoned-looking segment, mode 0666, is not taken over by the next writer (run as nobody)" abandoned_as_nobody

# Another user's segment is called that even while someone holds its lock:
# nobody's writer waits for its input, holding the lock.
locked_as_nobody() {
	other_user_setup || return
	rm -f "$work/input" && mkfifo "$work/input" || return 1
	# shellcheck disable=SC2086 # RUN is a command line
	(exec setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
		$RUN $WRITER_EMU "$other/writer.out" -n "$seg" - <"$work/input" 2>"$work/writer_err") &
	pid=$!
	exec 3>"$work/input"
	wait_for locked_by_someone || { echo "nobody's writer never locked its segment" && return 1; }
	expect 1 reader -n "$seg" && said "owned by user $(id -u nobody), not by you" && silent &&
		present || return 1
	exec 3>&-
	wait "$pid"
}
check "another user's segment, locked by its writer, is called that, not busy (run as nobody)" locked_as_nobody

# --- The reader killed by SIGPIPE --------------------------------------------

# shellcheck disable=SC2086 # RUN is a command line
sigpipe() {
	payload_segment || return 1
	{
		env --default-signal=PIPE $RUN $READER_EMU "$READER" -n "$seg" 2>"$work/err"
		echo $? >"$work/status"
	} | head -c 1 >/dev/null
	killed_by PIPE "$(cat "$work/status")" && present && expect 0 reader -n "$seg" &&
		printed "$work/payload" && absent
}
check "a reader whose pipe closes (| head -c 1) ends by SIGPIPE and leaves the message for the next, whole" sigpipe

# A pipe that takes the bytes is delivery, whether or not anyone reads them
# from it later: the reader exits 0 and removes the message.
delivered_into_pipe() {
	expect 0 writer -n "$seg" hello || return 1
	rm -f "$work/status"
	{
		reader -n "$seg" 2>"$work/err"
		echo $? >"$work/status"
	} | {
		wait_for [ -s "$work/status" ] # once the reader has ended, not before
		exit 0
	}
	status_is 0 "$(cat "$work/status")" "reader -n $seg | { wait for it; exit 0; }" && absent
}
check "a reader into a pipe that took the bytes but was never read from has delivered: exit 0, removed" delivered_into_pipe

# NEVER_WAIT (O_NONBLOCK) only where it acts: a reader's open of an existing
# name, where a FIFO could wait; never the writer's O_CREAT | O_EXCL.  Seen
# with glibc, which adds no flag of its own.
# shellcheck disable=SC2086 # RUN is a command line
never_wait_where_it_acts() {
	need strace || return
	if ! grep -q -a GLIBC_ "$WRITER"; then
		skip "not a glibc build: musl's shm_open adds O_NONBLOCK to every open itself"
		return
	fi
	expect 0 traced -f -o "$work/trace" -e trace=open,openat $RUN $WRITER_EMU "$WRITER" -n "$seg" hi &&
		grep -F "\"$(seg_file)\"" "$work/trace" >"$work/opens" || return 1
	if grep O_NONBLOCK "$work/opens"; then
		echo "the writer opens its new segment with O_NONBLOCK, which does nothing there"
		return 1
	fi
	expect 0 traced -f -o "$work/trace" -e trace=open,openat $RUN $READER_EMU "$READER" -n "$seg" &&
		grep -F "\"$(seg_file)\"" "$work/trace" | grep -q O_NONBLOCK
}
check "only the reader's open of an existing name has O_NONBLOCK (strace)" never_wait_where_it_acts

# The commands README.md gives for building and running the pair with
# nothing but gcc, word for word, work: in a private /dev/shm, since they
# use the default name.
seed_commands() {
	native "the plain gcc commands build for this machine" || return
	need gcc || return
	[ -z "${RT_LIB:-}" ] || { skip "this C library needs $RT_LIB, which README.md says"; return; }
	for command in "gcc shared_mem_writer.c -o writer.out" ./writer.out \
		"gcc shared_mem_reader.c -o reader.out" ./reader.out; do
		grep -q -x -F -e "$command" README.md || { echo "README.md lacks: $command" && return 1; }
	done
	mkdir "$work/seed" && cp shared_mem_writer.c shared_mem_reader.c common.h "$work/seed" || return 1
	printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/expected"
	cat >"$work/script" <<-'EOF'
		cd "$work/seed" && gcc shared_mem_writer.c -o writer.out && ./writer.out &&
			gcc shared_mem_reader.c -o reader.out && ./reader.out >"$work/out" 2>"$work/err"
	EOF
	in_small_shm size=1M || return
	exited 0 && printed "$work/expected" && nothing_left
}
check "README.md's plain gcc commands build the pair, which runs on the default name" seed_commands

# --- Stress ------------------------------------------------------------------

stress() {
	room=$((4096 - header)) # the default size less the header
	cycle=0
	while [ "$cycle" -lt "$(rounds 200)" ]; do
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
check "200 write/read cycles (rounds) of random sizes from 0 to the room come back byte for byte" stress

# --- Readers racing ----------------------------------------------------------

# Without the claim, two readers printed one message about once in twenty
# tries: race eight readers ten times.
racing_readers() {
	round=0
	while [ "$round" -lt "$(rounds 10)" ]; do
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
				grep -q -e "busy: a writer is still filling it" -e "No such file or directory" \
					-e "already delivered, or removed, by another program" "$work/err$i"; then
				: # it lost the race: the winner held the lock, or had delivered and removed it
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
check "8 readers at once, 10 times (rounds): exactly one prints the message, whole; the others print nothing" racing_readers

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
