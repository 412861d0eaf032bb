#!/bin/sh
# tests/try.sh [ROW] - each row of lesson three's table in README.md, shown:
# the row's scenario run against lesson one's pair (built from README.md on a
# name of this run's own), and against writer.out and reader.out.
#   make try       one line a row: what lesson one did, what lesson three did
#                  (ROW, a shell pattern: only the rows it matches); exit 1 if
#                  lesson three did not hold somewhere
#   make test      (TRY=test) each row is a case: lesson one must fail as its
#                  row says, and lesson three must hold
# A scenario that needs what this machine lacks (strace, a private mount
# namespace, root and a second user, /dev/full) says "cannot show here" and
# why; under CI=true a missing tool fails instead.  Never touches /shm_demo or
# /shm_lesson_one, and removes all it made.

. tests/lib.sh
. tests/lib_faults.sh

# Lesson one, with a name of this run's own; $one_file is its file.  The
# full_output row's variant is lesson one's reader without one check, made
# from the block at build time.
one=/${prefix}_one
one_file=/dev/shm/${one#/}
unchecked='if (printf("%.*s", SIZE, memory) < 0 || fflush(stdout) == EOF) {'

# shellcheck disable=SC2086 # RT_LIB is empty or one word
build_lesson_one() {
	need "${CC:-cc}" || return
	for n in 1 2; do
		sh tests/readme_code.sh "$n" | sed "s|\"/shm_lesson_one\"|\"$one\"|" >"$work/one_$n.c" &&
			"${CC:-cc}" -std=c11 -o "$work/one_$n" "$work/one_$n.c" ${RT_LIB:-} || return 1
	done
	mv "$work/one_1" "$work/one_writer" && mv "$work/one_2" "$work/one_reader" || return 1
	grep -q -F "$unchecked" "$work/one_2.c" || { echo "lesson one's reader no longer has: $unchecked" && return 1; }
	sed "s/ || fflush(stdout) == EOF) {/) {/" "$work/one_2.c" >"$work/one_unchecked.c" &&
		"${CC:-cc}" -std=c11 -o "$work/one_reader_unchecked" "$work/one_unchecked.c" ${RT_LIB:-}
}

# one TEXT, three TEXT: what lesson one, and lesson three, did, in a few
# words.  verdict: 0 if lesson one failed as its row says (one_failed=yes)
# and lesson three held (three_held=yes); 1 if lesson three did not hold, 2
# if lesson one did not fail so.
one() { printf '%s\n' "$*" >"$work/one"; }
three() { printf '%s\n' "$*" >"$work/three"; }
verdict() {
	[ "${three_held:-}" = yes ] || { echo "lesson three did not hold: $(cat "$work/three")" && return 1; }
	[ "${one_failed:-}" = yes ] || { echo "lesson one did not fail as its row says: $(cat "$work/one")" && return 2; }
}

# ended_by STATUS: "exit N", or the signal that ended a process (SIGBUS).
ended_by() {
	if [ "$1" -gt 128 ]; then echo "SIG$(kill -l "$1")"; else echo "exit $1"; fi
}

# one_run ARGS...: run a lesson-one program ($work/one_writer, ...) with a
# time limit, its output in $work/out and error in $work/err; its status in
# $status.
one_run() {
	timeout 10 "$@" >"$work/out" 2>"$work/err"
	status=$?
}

# printing_held CALL enter|exit MICROSECONDS PROGRAM ARGS...: held_at, with
# a time limit, its output in $work/held_out (emptied first: it is looked at
# to know when this one printed) and its error in $work/held_err.
printing_held() {
	at=$1 on=$2 for=$3
	shift 3
	rm -f "$work/held_out"
	held_at "$at" "$on" "$for" timeout 20 "$@" >"$work/held_out" 2>"$work/held_err"
}

# --- The rows, in the table's order ---------------------------------------------

# A full /dev/shm (a private one of 4 KiB, filled): lesson one's writer
# touches a page that cannot be had.
try_full_shm_words() {
	mount_namespace || return
	export one one_file
	cat >"$work/script" <<-'EOF'
		head -c 4096 /dev/zero >/dev/shm/full 2>/dev/null
		"$work/one_writer" 2>/dev/null
		echo $? >"$work/one_status"
		[ -e "$one_file" ] && echo left >"$work/one_left"
		rm -f "$one_file"
		"$WRITER" -n "$seg" hello 2>"$work/err"
		echo $? >"$work/three_status"
		ls /dev/shm | grep -v -x full >"$work/three_left"
	EOF
	rm -f "$work/one_left"
	in_small_shm size=4k || return
	s=$(cat "$work/one_status") t=$(cat "$work/three_status")
	left=$([ -f "$work/one_left" ] && echo ", segment left" || echo ", nothing left")
	one "$(ended_by "$s")$left"
	[ "$s" -eq 135 ] && [ -f "$work/one_left" ] && one_failed=yes
	if [ "$t" -eq 1 ] && grep -q "No space left on device" "$work/err" && [ ! -s "$work/three_left" ]; then
		three "No space left on device, exit 1, nothing left" && three_held=yes
	else
		three "$(ended_by "$t"): $(cat "$work/err"); left: $(cat "$work/three_left")"
	fi
	verdict
}

# A reader that comes while the writer sets up: each writer held 2 s after
# its ftruncate.
try_reader_during_setup() {
	need strace || return
	rm -f "$one_file"
	printing_held ftruncate exit 2000000 "$work/one_writer"
	wait_for [ -s "$one_file" ] && one_run "$work/one_reader"
	wait "$held"
	if [ "$status" -eq 0 ] && [ ! -s "$work/out" ] && [ ! -e "$one_file" ]; then
		one "printed nothing, removed it: message lost" && one_failed=yes
	else
		one "the reader: $(ended_by "$status"), printed $(wc -c <"$work/out") bytes"
	fi
	printing_held ftruncate exit 2000000 "$WRITER" -n "$seg" hello
	wait_for [ -s "$(seg_file)" ] && expect 1 reader -n "$seg" && said "busy" && silent &&
		wait "$held" && expect 0 reader -n "$seg" && printf 'hello\n' >"$work/expected" &&
		printed "$work/expected" && three "busy, exit 1; once published, printed whole" && three_held=yes
	[ -n "${three_held:-}" ] || three "the reader during set-up: $(cat "$work/err")"
	verdict
}

# Two readers at once: the first held 2 s on entering its unlink, after it
# printed, while the second runs.
try_racing_readers() {
	need strace || return
	rm -f "$one_file"
	one_run "$work/one_writer" && printing_held unlink,unlinkat enter 2000000 "$work/one_reader"
	wait_for [ -s "$work/held_out" ] && one_run "$work/one_reader"
	wait "$held"
	if [ -s "$work/held_out" ] && cmp -s "$work/held_out" "$work/out"; then
		one "both readers printed it" && one_failed=yes
	else
		one "the second reader: $(ended_by "$status"), printed $(wc -c <"$work/out") bytes"
	fi
	expect 0 writer -n "$seg" hello && printing_held unlink,unlinkat enter 2000000 "$READER" -n "$seg"
	wait_for [ -s "$work/held_out" ] && expect 1 reader -n "$seg" && said "busy" && silent &&
		wait "$held" && three "one printed it, the other: busy" && three_held=yes
	[ -n "${three_held:-}" ] || three "the second reader: $(cat "$work/err")"
	verdict
}

# A writer killed half way: a file-size limit (ulimit -f 1) kills it at its
# ftruncate; then the next writer.
try_killed_at_every_call() {
	rm -f "$one_file"
	# shellcheck disable=SC3045 # not in POSIX, but in dash, bash and busybox sh
	(ulimit -c 0 && ulimit -f 1 && exec "$work/one_writer") 2>/dev/null
	s=$?
	one_run "$work/one_writer"
	if [ "$s" -eq 153 ] && [ "$status" -eq 1 ] && grep -q "File exists" "$work/err"; then
		one "killed; the next writer: File exists" && one_failed=yes
	else
		one "$(ended_by "$s"); the next writer: $(ended_by "$status")"
	fi
	# shellcheck disable=SC3045
	(ulimit -c 0 && ulimit -f 1 && exec "$WRITER" -n "$seg" hello) 2>/dev/null
	s=$?
	expect 0 writer -n "$seg" next && expect 0 reader -n "$seg" && printf 'next\n' >"$work/expected" &&
		printed "$work/expected" && [ "$s" -eq 153 ] &&
		three "killed; the next writer cleared it, published" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(ended_by "$s"); the next writer: $(cat "$work/err")"
	verdict
}

# Another user's file at the name, mode 0644 (root runs the readers).
try_planted_as_nobody() {
	other_user_setup || return
	rm -f "$one_file"
	# shellcheck disable=SC2016 # $1 is the inner shell's
	as_nobody sh -c 'umask 022 && echo "planted by another user" >"$1"' sh "$one_file" &&
		one_run "$work/one_reader"
	if grep -q "planted by another user" "$work/out" && [ ! -e "$one_file" ]; then
		one "printed another user's data, deleted it" && one_failed=yes
	else
		one "$(ended_by "$status"): $(cat "$work/err")"
	fi
	# shellcheck disable=SC2016
	as_nobody sh -c 'umask 022 && echo "planted by another user" >"$1"' sh "$(seg_file)" &&
		expect 1 reader -n "$seg" && said "not by you" && silent && present &&
		three "refused (another user's), kept" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(cat "$work/err")"
	verdict
}

# The name moved (mv) while a reader prints, and a new message written at it:
# each reader held 2 s after it wrote the message out.
try_renamed_while_printed() {
	need strace || return
	rm -f "$one_file" "${one_file}_moved"
	one_run "$work/one_writer" && printing_held write exit 2000000 "$work/one_reader"
	wait_for [ -s "$work/held_out" ] && mv "$one_file" "${one_file}_moved" && one_run "$work/one_writer"
	wait "$held"
	rm -f "${one_file}_moved"
	if [ ! -e "$one_file" ]; then
		one "deleted the new message, unread" && one_failed=yes
	else
		one "the new message stayed"
	fi
	expect 0 writer -n "$seg" first && printing_held write exit 2000000 "$READER" -n "$seg"
	wait_for [ -s "$work/held_out" ] && mv "$(seg_file)" "$(seg_file)_moved" &&
		expect 0 writer -n "$seg" second && wait "$held" && expect 0 reader -n "$seg" &&
		printf 'second\n' >"$work/expected" && printed "$work/expected" &&
		three "left the new message at the name" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(cat "$work/err")"
	verdict
}

# A message with a zero byte, abc\0def, and a segment of 0 bytes.
try_binary_message() {
	printf 'abc\000def' >"$work/binary"
	rm -f "$one_file"
	(umask 077 && cp "$work/binary" "$one_file") && one_run "$work/one_reader" && cut=$(cat "$work/out")
	(umask 077 && : >"$one_file") && one_run "$work/one_reader"
	rm -f "$one_file"
	if [ "${cut:-}" = abc ] && [ "$status" -eq 135 ]; then
		one "abc\\0def printed as abc; empty: SIGBUS" && one_failed=yes
	else
		one "printed '${cut:-}'; an empty one: $(ended_by "$status")"
	fi
	expect 0 writer -n "$seg" - <"$work/binary" && expect 0 reader -n "$seg" && printed "$work/binary" &&
		(umask 077 && : >"$(seg_file)") && expect 1 reader -n "$seg" && said "empty" && silent &&
		three "all 7 bytes printed; empty: refused" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(cat "$work/err")"
	verdict
}

# Output that cannot be written (> /dev/full): lesson one's reader without
# the check of its fflush (its variant).
try_full_output() {
	[ -w /dev/full ] || { skip "no /dev/full"; return; }
	rm -f "$one_file"
	one_run "$work/one_writer" && timeout 10 "$work/one_reader_unchecked" >/dev/full 2>"$work/err"
	status=$?
	if [ "$status" -eq 0 ] && [ ! -e "$one_file" ]; then
		one "exit 0, deleted: message lost" && one_failed=yes
	else
		one "$(ended_by "$status"): $(cat "$work/err")"
	fi
	expect 0 writer -n "$seg" hello && { reader -n "$seg" >/dev/full 2>"$work/err"; [ $? -eq 1 ]; } &&
		said "No space left on device" && present && expect 0 reader -n "$seg" &&
		printf 'hello\n' >"$work/expected" && printed "$work/expected" &&
		three "No space left on device, exit 1; kept" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(cat "$work/err")"
	verdict
}

# A restrictive umask (0477), as an ordinary user (root ignores modes: as
# root, the user nobody runs the programs, from copies it can reach).
# shellcheck disable=SC2086 # $as is a command line, or nothing
try_restrictive_umask() {
	if [ "$(id -u)" -eq 0 ]; then
		other_user_setup || return
		cp "$work/one_writer" "$work/one_reader" "$other/" && chmod 755 "$other/one_writer" "$other/one_reader" ||
			return 1
		as="setpriv --reuid=$(id -u nobody) --regid=$(id -g nobody) --clear-groups" dir=$other
	else
		as='' dir=$work
		cp "$WRITER" "$READER" "$work/" || return 1
	fi
	rm -f "$one_file"
	# shellcheck disable=SC2016 # $0 and $1 are the inner shell's
	$as sh -c 'umask 0477 && exec "$0"' "$dir/one_writer" 2>/dev/null
	mode=$(stat -c %a "$one_file" 2>/dev/null)
	one_run $as "$dir/one_reader"
	rm -f "$one_file"
	if [ "$mode" = 200 ] && [ "$status" -eq 1 ] && grep -q "Permission denied" "$work/err"; then
		one "mode 0200: Permission denied, left" && one_failed=yes
	else
		one "mode 0${mode:-}; the reader: $(ended_by "$status")"
	fi
	# shellcheck disable=SC2016
	$as sh -c 'umask 0477 && exec "$0" -n "$1" hello' "$dir/writer.out" "$seg" 2>"$work/err"
	mode=$(stat -c %a "$(seg_file)" 2>/dev/null)
	expect 0 $as "$dir/reader.out" -n "$seg" && printf 'hello\n' >"$work/expected" &&
		printed "$work/expected" && [ "$mode" = 600 ] && three "mode 0600, printed" && three_held=yes
	[ -n "${three_held:-}" ] || three "mode 0${mode:-}: $(cat "$work/err")"
	verdict
}

# A writer started with standard error closed, whose ftruncate fails (a
# file-size limit, SIGXFSZ ignored): where does its error go?
try_closed_error() {
	rm -f "$one_file"
	# shellcheck disable=SC3045
	(trap '' XFSZ && ulimit -f 1 && exec "$work/one_writer" 2>&-)
	one_run "$work/one_reader"
	if grep -q "File too large" "$work/out"; then
		one "its error became the message" && one_failed=yes
	else
		one "the reader: $(ended_by "$status"), printed: $(cat "$work/out")"
	fi
	# shellcheck disable=SC3045
	(trap '' XFSZ && ulimit -f 1 && exec "$WRITER" -n "$seg" hello 2>&-)
	s=$?
	[ "$s" -eq 1 ] && absent && three "its error went nowhere; nothing left" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(ended_by "$s"); left: $(ls "$(seg_file)" 2>/dev/null)"
	verdict
}

# A FIFO at the name.
try_planted() {
	rm -f "$one_file"
	mkfifo "$one_file" && one_run "$work/one_reader"
	rm -f "$one_file"
	if [ "$status" -eq 124 ]; then
		one "waited until killed" && one_failed=yes
	else
		one "$(ended_by "$status")"
	fi
	mkfifo "$(seg_file)" && expect 1 timeout 10 "$READER" -n "$seg" && said "FIFO" && silent &&
		three "refused at once, exit 1; left" && three_held=yes
	[ -n "${three_held:-}" ] || three "$(cat "$work/err")"
	verdict
}

# The rows, as the table has them (run.sh's table_cases checks that each has
# its try_ function here).
ROWS=$(table_rows | while read -r _ _ _ name; do echo "$name"; done)

if [ "${TRY:-show}" = test ]; then
	check "lesson one builds from README.md, on a name of this run's own, and its variant too" build_lesson_one
	for row in $ROWS; do
		# shellcheck disable=SC2254 # ROW is a pattern
		case $row in ${ROW:-*}) ;; *) continue ;; esac
		check "$row: lesson one fails as its row says, and lesson three holds" "try_$row"
	done
	summary
	exit
fi

# make try: one line a row, each row in a subshell of its own, as check()
# runs a case, and cleaned up after it.
build_lesson_one >"$work/log" 2>&1 || { cat "$work/log" && exit 1; }
held_not=0
for row in $ROWS; do
	# shellcheck disable=SC2254 # ROW is a pattern
	case $row in ${ROW:-*}) ;; *) continue ;; esac
	number=$((number + 1))
	seg="/${prefix}_$number"
	rm -f "$work/one" "$work/three" "$work/skip"
	(SHM_DEMO_CASE=$prefix.$number && export SHM_DEMO_CASE && "try_$row") >"$work/log" 2>&1
	status=$?
	stop_case "$prefix.$number"
	rm -rf "$(seg_file)" "$(seg_file)"_* "$one_file" "${one_file}_moved"
	if [ "$status" -eq 77 ]; then
		printf '%-22s cannot show here: %s\n' "$row" "$(cat "$work/skip")"
		continue
	fi
	printf '%-22s lesson one: %-42s lesson three: %s\n' "$row" "$(cat "$work/one" 2>/dev/null)" \
		"$(cat "$work/three" 2>/dev/null)"
	[ "$status" -eq 1 ] || continue
	held_not=$((held_not + 1))
	sed 's/^/    /' "$work/log"
done
[ "$held_not" -eq 0 ] || { echo "lesson three did not hold in $held_not rows" && exit 1; }
