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

full_shm() {
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086 # RUN is a command line
		$RUN "$WRITER" -n "$seg" -s 8M >"$work/out" 2>"$work/err"
	EOF
	in_small_shm || return
	exited 1 && said "posix_fallocate $seg: No space left on device" && nothing_left
}
check "a segment larger than a full /dev/shm fails with No space left on device, exit 1, nothing left" full_shm

full_shm_payload() {
	head -c 2097152 /dev/urandom >"$work/payload"
	cat >"$work/script" <<-'EOF'
		# shellcheck disable=SC2086
		$RUN "$WRITER" -n "$seg" -s 8M - <"$work/payload" >"$work/out" 2>"$work/err"
	EOF
	in_small_shm || return
	exited 1 && said "No space left on device" && nothing_left
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
	exited 1 && said "No space left on device" && nothing_left
}
check "a 1.2 MB message of words for a 1 MiB /dev/shm is an error, not a bus error" full_shm_words

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

# --- The writer killed half way ----------------------------------------------

killed_writer() {
	mkfifo "$work/slow" || return 1
	# shellcheck disable=SC2086 # RUN is a command line
	(exec $RUN "$WRITER" -n "$seg" - <"$work/slow" 2>/dev/null) &
	writer_pid=$!
	exec 3>"$work/slow" # the writer now sits in step 6, reading
	printf 'half of a message' >&3
	wait_for grep -q 'half of a message' "$(seg_file)" ||
		{ echo "the writer never copied its input in" && return 1; }
	kill -KILL "$writer_pid"
	wait "$writer_pid"
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

# other_user_setup: skip unless root; copy the programs where nobody can run them.
other_user_setup() {
	[ "$(id -u)" -eq 0 ] || { skip "needs root to act as another user"; return; }
	need setpriv || return
	cp "$WRITER" "$work/writer.out" && cp "$READER" "$work/reader.out" &&
		chmod 755 "$work/writer.out" "$work/reader.out"
}

# shellcheck disable=SC2086 # RUN is a command line
nobody_cannot_read() {
	other_user_setup || return
	expect 0 writer -n "$seg" &&
		expect 1 as_nobody $RUN "$work/reader.out" -n "$seg" && said "Permission denied" &&
		silent && present && expect 0 reader -n "$seg"
}
check "another user cannot open a 0600 segment (run as nobody)" nobody_cannot_read

# shellcheck disable=SC2086 # RUN is a command line
planted_by_nobody() {
	other_user_setup || return
	expect 0 as_nobody $RUN "$work/writer.out" -n "$seg" planted &&
		[ "$(stat -c %U "$(seg_file)")" = nobody ] && cp "$(seg_file)" "$work/before" &&
		expect 1 reader -n "$seg" && said "not by you" && silent &&
		expect 1 writer -n "$seg" mine && said "File exists" &&
		cmp "$work/before" "$(seg_file)" && [ "$(stat -c %U "$(seg_file)")" = nobody ]
}
check "a segment planted by another user is refused by the reader and not reused by the writer" planted_by_nobody

# --- The reader killed by SIGPIPE --------------------------------------------

sigpipe() {
	head -c 1048576 /dev/urandom >"$work/payload" &&
		expect 0 writer -n "$seg" -s 2M - <"$work/payload" || return 1
	{ reader -n "$seg" 2>"$work/err"; echo $? >"$work/status"; } | head -c 1 >/dev/null
	[ "$(cat "$work/status")" -ne 0 ] ||
		{ echo "the reader should have failed, its output was cut short" && return 1; }
	present && expect 0 reader -n "$seg" && printed "$work/payload" && absent
}
check "a reader killed by SIGPIPE (| head -c 1) keeps the segment whole for the next reader" sigpipe

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

racing_readers() {
	head -c 1048576 /dev/urandom >"$work/payload" &&
		expect 0 writer -n "$seg" -s 2M - <"$work/payload" || return 1
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
			grep -q "No such file or directory" "$work/err$i"; then
			: # came after the segment was removed: a clean miss
		else
			echo "reader $i: status $status, $(wc -c <"$work/out$i") bytes out"
			cat "$work/err$i"
			return 1
		fi
	done
	echo "$whole of 8 readers printed the whole message"
	[ "$whole" -ge 1 ] && absent
}
check "8 readers at once: none crashes or prints part, at least one prints it all, then it is gone" racing_readers

summary
