#!/bin/sh
# tests/run.sh - the promises of writer.out and reader.out, one case each.
# Run from the top of the repository after building: make test.
# Prints "ok N - ...", "not ok N - ..." or "skip N - ..." for each case and
# "P passed, F failed" (", S skipped") last; exits 1 if any case failed.
# Linux only: the cases look at the segments' files in /dev/shm.

. tests/lib.sh

# What the cases compare against, written out here, not taken from a run.
printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/default"
printf 'one two  three\n' >"$work/words"
printf 'first line\nsecond line, no newline at the end' >"$work/text"
printf '\000\001\002\377\000binary\000\n\000' >"$work/binary"
: >"$work/empty"


# A good segment with a short message, for the cases that damage one.
make_good() { expect 0 writer -n "$seg" -s 64 some message; }

# refused TEXT: fail unless the reader refuses segment $seg with TEXT in its
# error, exit 1, nothing printed, and the segment kept.
refused() { expect 1 reader -n "$seg" && said "$1" && silent && present; }

# --- Lesson one --------------------------------------------------------------

# README.md's lesson one, its only copy: both C blocks build without a
# warning and pass a message, on a name of this case's own.
# shellcheck disable=SC2086 # RUN, EMU and LESSON_CFLAGS are lists; RT_LIB is empty or one word
lesson_one() {
	need "${CC:-cc}" || return
	first=$(awk '/^```c$/ { print NR; exit }' README.md)
	[ "${first:-999}" -le 60 ] || { echo "lesson one's writer starts at line $first" && return 1; }
	for n in 1 2; do
		if ! { sh tests/readme_code.sh "$n" >"$work/block$n.c" &&
			[ "$(wc -l <"$work/block$n.c")" -le 40 ] &&
			grep -q '"/shm_lesson_one"' "$work/block$n.c" &&
			sed "s|\"/shm_lesson_one\"|\"$seg\"|" "$work/block$n.c" >"$work/basic$n.c" &&
			"${CC:-cc}" -std=c11 -Wall -Wextra -Wpedantic -Werror ${LESSON_CFLAGS:-} \
				-o "$work/basic$n" "$work/basic$n.c" ${RT_LIB:-}; }; then
			echo "README.md's C block $n: missing, over 40 lines, or it does not build" && return 1
		fi
	done
	printf 'Hello from lesson one!\n' >"$work/expected"
	expect 0 $RUN $EMU "$work/basic1" && present && [ "$(stat -c %a "$(seg_file)")" = 600 ] &&
		expect 0 $RUN $EMU "$work/basic2" && printed "$work/expected" && absent
}
check "lesson one in README.md builds warning-free and passes its message from writer to reader" lesson_one

# Each row of lesson three's table in README.md names the test case that
# shows it, a case that exists in one of the test scripts, and has a "try
# it" of make try for that row, which tests/try.sh runs.
table_cases() {
	table_rows >"$work/rows"
	[ -s "$work/rows" ] || { echo "lesson three's table names no case" && return 1; }
	while read -r make try row name; do
		grep -q "^check \".*\" $name\$" tests/run.sh tests/faults.sh tests/hostile.sh || {
			echo "lesson three's table names $name, which no test script checks" && return 1
		}
		if ! { [ "$make $try $row" = "make try ROW=$name" ] && grep -q "^try_$name() {" tests/try.sh; }; then
			echo "the row of $name has no make try ROW=$name that tests/try.sh runs" && return 1
		fi
	done <"$work/rows"
	echo "$(wc -l <"$work/rows") rows"
}
check "each row of lesson three's table in README.md names a test case that exists, and its make try" table_cases

make_run_name() {
	native "make builds for this machine, not for the build under test" || return
	[ -f Makefile ] || { skip "no Makefile in $PWD"; return; }
	need make || return
	printf 'Hello from the writer, through POSIX shared memory!\n' >"$work/expected"
	expect 0 make -s run NAME="$seg" && printed "$work/expected" && absent
}
check "make run NAME=/x runs the demo on that name" make_run_name

# --- Round trips -------------------------------------------------------------

default_message() {
	expect 0 writer -n "$seg" && expect 0 reader -n "$seg" &&
		printed "$work/default" && absent
}
check "the default message goes from writer to reader, and the reader removes the segment" default_message

words_message() {
	expect 0 writer -n "$seg" one two "" three && expect 0 reader -n "$seg" &&
		printed "$work/words"
}
check "message words are joined by single spaces and end with a newline, as echo does" words_message

dash_word() {
	expect 0 writer -n "$seg" -- -x - && expect 0 reader -n "$seg" &&
		printf -- '-x -\n' >"$work/expected" && printed "$work/expected"
}
check "words after -- may start with a dash, and - among other words is a word" dash_word

lone_dash() {
	printf 'from standard input' | expect 0 writer -n "$seg" -- - && expect 0 reader -n "$seg" &&
		printf 'from standard input' >"$work/expected" && printed "$work/expected" &&
		printf -- '-\n' | expect 0 writer -n "$seg" - && expect 0 reader -n "$seg" &&
		printf -- '-\n' >"$work/expected" && printed "$work/expected"
}
check "a lone - is standard input even after --; the message - itself goes in through printf" lone_dash

stdin_message() {
	expect 0 writer -n "$seg" - <"$work/text" && expect 0 reader -n "$seg" &&
		printed "$work/text"
}
check "a single - copies standard input byte for byte, without adding a newline" stdin_message

binary_message() {
	expect 0 writer -n "$seg" - <"$work/binary" && expect 0 reader -n "$seg" &&
		printed "$work/binary"
}
check "binary data with NUL bytes comes out byte for byte" binary_message

empty_message() {
	expect 0 writer -n "$seg" - <"$work/empty" && expect 0 reader -n "$seg" &&
		silent && absent
}
check "empty standard input makes an empty message that reads back as nothing" empty_message

large_message() {
	head -c 1048576 /dev/urandom >"$work/large" &&
		expect 0 writer -n "$seg" -s 2M - <"$work/large" &&
		[ "$(stat -c %s "$(seg_file)")" -eq 2097152 ] &&
		expect 0 reader -n "$seg" && printed "$work/large"
}
check "a 1 MiB payload round-trips through a 2M segment of exactly 2097152 bytes" large_message

# --- Sizes -------------------------------------------------------------------

# used: the bytes of memory segment $seg holds (its blocks), not its length.
used() { echo $(($(stat -c '%b * %B' "$(seg_file)"))); }
page=$(getconf PAGESIZE)

sparse_words() {
	expect 0 writer -n "$seg" -s 1G hello && [ "$(stat -c %s "$(seg_file)")" -eq 1073741824 ] &&
		echo "a 1 GiB segment holding hello uses $(used) bytes" &&
		[ "$(used)" -le $((4 * page)) ] &&
		expect 0 reader -n "$seg" && printf 'hello\n' >"$work/expected" && printed "$work/expected"
}
check "a -s 1G segment holding a short message uses a few pages of /dev/shm, not 1 GiB" sparse_words

sparse_input() {
	head -c 1048576 /dev/urandom >"$work/large" &&
		expect 0 writer -n "$seg" -s 1G - <"$work/large" &&
		echo "a 1 GiB segment holding 1 MiB of input uses $(used) bytes" &&
		[ "$(used)" -ge 1048576 ] && [ "$(used)" -le $((2 * 1048576 + page)) ] &&
		expect 0 reader -n "$seg" && printed "$work/large"
}
check "1 MiB of standard input in a -s 1G segment uses about 1 MiB of /dev/shm (at most twice)" sparse_input

too_long_words() {
	expect 1 writer -n "$seg" -s 64 "$(bytes 100)" &&
		said "check $seg: a message of 101 bytes does not fit in a 64-byte segment, which holds $((64 - header)) (use -s" &&
		documented NAME && absent
}
check "a message longer than the segment fails with both sizes and a hint of -s, leaving nothing" too_long_words

exactly_full() {
	room=$((64 - header))
	bytes "$room" >"$work/full" &&
		expect 0 writer -n "$seg" -s 64 - <"$work/full" &&
		expect 0 reader -n "$seg" && printed "$work/full"
}
check "standard input that fills the segment's room exactly fits" exactly_full

exactly_full_words() {
	expect 0 writer -n "$seg" -s $((header + 4)) abc && expect 0 reader -n "$seg" &&
		printf 'abc\n' >"$work/expected" && printed "$work/expected" &&
		expect 1 writer -n "$seg" -s $((header + 4)) abcd &&
		said "a message of 5 bytes does not fit in a $((header + 4))-byte segment, which holds 4" &&
		absent
}
check "words that fill the room exactly fit (abc and its newline in 4 bytes); one byte more does not" exactly_full_words

too_long_stdin() {
	bytes $((64 - header + 1)) >"$work/over" &&
		expect 1 writer -n "$seg" -s 64 - <"$work/over" &&
		said "read standard input for $seg: longer than the $((64 - header)) bytes a 64-byte segment holds (use -s" &&
		absent
}
check "standard input one byte longer than the room fails and leaves nothing" too_long_stdin

endless_stdin() {
	expect 1 writer -n "$seg" -s 64 - </dev/zero && said "longer than" && absent
}
check "endless standard input (/dev/zero) fails at once instead of reading forever" endless_stdin

size_suffixes() {
	expect 0 writer -n "$seg" -s 1K && [ "$(stat -c %s "$(seg_file)")" -eq 1024 ] &&
		expect 0 writer -f -n "$seg" -s 3m && [ "$(stat -c %s "$(seg_file)")" -eq 3145728 ] &&
		expect 0 writer -f -n "$seg" -s "$header" - <"$work/empty" &&
		expect 0 reader -n "$seg" && silent
}
check "SIZE takes K and M suffixes, and the header's size itself is allowed" size_suffixes

bad_sizes() {
	for size in 0 -1 +5 " 5" "" 12x 1T 1KB K abc $((header - 1)) \
		99999999999999999999999 9999999999999G 8589934592G; do
		if ! { expect 2 writer -n "$seg" -s "$size" && said "SIZE" && said "usage:" && absent; }; then
			echo "for -s '$size'" && return 1
		fi
	done
}
check "bad sizes (not a number, negative, too small, overflowing) are usage errors, exit 2" bad_sizes

# --- Names -------------------------------------------------------------------

bad_names() {
	long=/$(bytes 256)
	for name in "" / noslash "/a/b" "/a/" /. /.. "$long"; do
		if ! { expect 2 writer -n "$name" && said "NAME" && said "usage:" &&
			expect 2 reader -n "$name" && said "NAME" && said "usage:"; }; then
			echo "for -n '$name'" && return 1
		fi
	done
	[ ! -e "/dev/shm/$(bytes 256)" ]
}
check "bad names (empty, no leading /, a second /, /., /.., too long) are usage errors, exit 2" bad_names

longest_name() {
	seg="$seg$(bytes $((255 - ${#seg} + 1)))"
	expect 0 writer -n "$seg" hi && expect 0 reader -n "$seg" &&
		printf 'hi\n' >"$work/expected" && printed "$work/expected"
}
check "a name of NAME_MAX (255) characters after the / is accepted" longest_name

# A segment larger than a 32-bit address space: the reader maps only the
# header and the message, so a 32-bit build prints them too (make check's
# matrix runs this with a 32-bit reader).  A 32-bit writer cannot make such a
# segment (-s is a size_t), so its suite skips this.
beyond_32_bits() {
	if ! writer -n "$seg" -s 8G hello 2>"$work/err"; then
		grep -q "SIZE must be at least .* and at most" "$work/err" || { cat "$work/err" && return 1; }
		skip "this writer cannot make an 8 GiB segment (a 32-bit build)"
		return
	fi
	printf 'hello\n' >"$work/expected"
	expect 0 reader -n "$seg" && printed "$work/expected" && absent &&
		head -c 5000 /dev/urandom >"$work/payload" &&
		expect 0 writer -n "$seg" -s 4294967304 - <"$work/payload" &&
		expect 0 reader -n "$seg" && printed "$work/payload" && absent
}
check "a message in a segment of 8 GiB, or of 4 GiB and 8 bytes, is printed whole, also by a 32-bit reader" beyond_32_bits

# --- Existing segments -------------------------------------------------------

already_there() {
	expect 0 writer -n "$seg" first && expect 1 writer -n "$seg" second &&
		said "shm_open $seg: File exists" && said "writer.out -f" &&
		said "if it is not yours, use another -n NAME" && documented NAME &&
		expect 0 reader -n "$seg" && printf 'first\n' >"$work/expected" &&
		printed "$work/expected"
}
check "a segment already there is neither reused nor changed: exit 1, File exists" already_there

replace() {
	expect 0 writer -n "$seg" -s 1M first && expect 0 writer -f -n "$seg" second &&
		[ "$(stat -c %s "$(seg_file)")" -eq 4096 ] &&
		expect 0 reader -n "$seg" && printf 'second\n' >"$work/expected" &&
		printed "$work/expected"
}
check "-f replaces a segment already there with a new one" replace

private_mode() {
	(umask 000 && expect 0 writer -n "$seg") &&
		[ "$(stat -c %a "$(seg_file)")" = 600 ] &&
		(umask 000 && expect 0 writer -f -n "$seg") &&
		[ "$(stat -c %a "$(seg_file)")" = 600 ]
}
check "the segment is created with mode 0600 even under umask 000, also with -f" private_mode

# --- The reader --------------------------------------------------------------

no_segment() {
	expect 1 reader -n "$seg" &&
		said "shm_open $seg: No such file or directory (run writer.out first)" && silent &&
		documented NAME
}
check "the reader without a segment says to run writer.out first, exit 1" no_segment

keep() {
	expect 0 writer -n "$seg" && expect 0 reader -k -n "$seg" && printed "$work/default" &&
		present && expect 0 reader -n "$seg" && printed "$work/default" && absent
}
check "reader -k prints the message and keeps the segment for the next reader" keep

full_output() {
	[ -w /dev/full ] || { skip "no /dev/full"; return; }
	expect 0 writer -n "$seg" &&
		{ reader -n "$seg" >/dev/full 2>"$work/err"; [ $? -eq 1 ]; } &&
		said "write standard output for $seg: No space left on device" && documented NAME &&
		present && expect 0 reader -n "$seg" && printed "$work/default"
}
check "when the message cannot be written out (> /dev/full) the segment is kept, exit 1" full_output

# These two run the reader without $RUN (bare_reader): a wrapper such as
# valgrind would open its own files on the free descriptor 1, so it would not
# stay closed.  An emulator's own descriptors are above 2: it runs them.
closed_output() {
	expect 0 writer -n "$seg" && { bare_reader -n "$seg" >&- 2>"$work/err"; [ $? -eq 1 ]; } &&
		said "write standard output for $seg" && present
}
check "a closed standard output is an error, and the segment is kept" closed_output

closed_output_empty() {
	expect 0 writer -n "$seg" - <"$work/empty" &&
		{ bare_reader -n "$seg" >&- 2>"$work/err"; [ $? -eq 1 ]; } &&
		said "write standard output for $seg" && present
}
check "even an empty message is not delivered to a closed standard output: exit 1, kept" closed_output_empty

removed_meanwhile() {
	# The reader blocks on a full pipe after opening the segment; remove the
	# segment then, as a second reader would, and let the first one finish.
	head -c 1048576 /dev/urandom >"$work/large" && mkfifo "$work/pipe" &&
		expect 0 writer -n "$seg" -s 2M - <"$work/large" || return 1
	reader -n "$seg" >"$work/pipe" 2>"$work/err" &
	{ dd bs=1 count=1 2>/dev/null && rm "$(seg_file)" && cat; } <"$work/pipe" >"$work/out"
	wait $! || { echo "reader failed: $(cat "$work/err")" && return 1; }
	printed "$work/large"
}
check "a reader whose segment another reader removed meanwhile still delivers, exit 0" removed_meanwhile

# These two also run without $RUN: valgrind would take the closed numbers.
closed_input() {
	{ bare_writer -n "$seg" - <&- 2>"$work/err"; [ $? -eq 1 ]; } &&
		said "read standard input for $seg: Bad file descriptor" && absent
}
check "with standard input closed, writer.out - fails and leaves nothing (it never reads its segment)" closed_input

closed_error() {
	(umask 077 && head -c 4 /dev/zero >"$(seg_file)") && cp "$(seg_file)" "$work/before" &&
		{ bare_reader -n "$seg" 2>&-; [ $? -eq 1 ]; } && cmp "$work/before" "$(seg_file)"
}
check "with standard error closed, the reader's error does not land in the segment it opened" closed_error

# With standard input and standard error both closed, the segment comes as
# descriptor 0: moved to 2, not above it, the refusal of a damaged segment
# would go into the segment.
closed_input_and_error() {
	make_good && poke 0 'XXXX' && cp "$(seg_file)" "$work/before" &&
		{ bare_reader -n "$seg" <&- 2>&-; [ $? -eq 1 ]; } && cmp "$work/before" "$(seg_file)"
}
check "with standard input and error closed, the reader's refusal lands neither in the segment nor on 2" closed_input_and_error

# shellcheck disable=SC2086 # RUN and READER_EMU are command lines
planted() {
	ln -s "${prefix}_target" "$work/link" && expect 0 writer -n "/${prefix}_target" &&
		for kind in fifo directory link; do
			case $kind in
			fifo) mkfifo "$(seg_file)" ;;
			directory) mkdir "$(seg_file)" ;;
			link) cp -P "$work/link" "$(seg_file)" ;;
			esac
			for option in -n -kn; do
				if ! { expect 1 timeout 10 $RUN $READER_EMU "$READER" $option "$seg" && silent &&
					{ [ "$kind" != fifo ] || said "not a shared-memory segment"; } &&
					{ [ -e "$(seg_file)" ] || [ -L "$(seg_file)" ]; }; }; then
					echo "for a $kind and reader $option" && return 1
				fi
			done
			expect 1 writer -n "$seg" && said "File exists" && rm -r "$(seg_file)" || return 1
		done
	[ -e "/dev/shm/${prefix}_target" ] && rm "/dev/shm/${prefix}_target"
}
check "a FIFO, directory or symbolic link at the name is refused at once, never waited on, and left there" planted

# docs/python.md's reader, another language keeping the header's contract:
# it prints writer.out's message byte for byte and removes it (reader.out
# then finds nothing); it refuses a segment that a writer died in, changes
# nothing, and leaves it for writer.out or reader.out.
python_reader() {
	need python3 || return
	sh tests/readme_code.sh 1 python docs/python.md >"$work/shm_read.py" && [ -s "$work/shm_read.py" ] &&
		expect 0 writer -n "$seg" - <"$work/binary" && expect 0 python3 "$work/shm_read.py" "$seg" &&
		printed "$work/binary" && expect 1 reader -n "$seg" && said "No such file" || return 1
	make_good && poke 0 '\000\000\000\000' && cp "$(seg_file)" "$work/before" &&
		expect 1 python3 "$work/shm_read.py" "$seg" && silent && said "left alone" &&
		cmp "$work/before" "$(seg_file)"
}
check "docs/python.md's reader prints writer.out's message byte for byte and removes it; a dead writer's it leaves" python_reader

# --- What the lock tells a reader -------------------------------------------

# In these cases the reader gets the segment's lock: nobody is at work on it.

abandoned() {
	make_good && poke 0 '\000\000\000\000' && cp "$(seg_file)" "$work/before" &&
		expect 1 reader -k -n "$seg" && said "abandoned by its writer" && silent &&
		said "; reader.out without -k removes it" &&
		cmp "$work/before" "$(seg_file)" &&
		expect 1 reader -n "$seg" && said "abandoned by its writer" && said "; removed it" &&
		silent && documented NAME && absent &&
		expect 0 writer -n "$seg" new && expect 0 reader -n "$seg" &&
		printf 'new\n' >"$work/expected" && printed "$work/expected"
}
check "a segment left half filled (state 0, lock free) is called abandoned and removed; -k only says so" abandoned

delivered() {
	make_good && put_marker DONE && cp "$(seg_file)" "$work/before" &&
		expect 1 reader -k -n "$seg" && said "already delivered by a reader that died" &&
		silent && cmp "$work/before" "$(seg_file)" &&
		expect 1 reader -n "$seg" && said "already delivered by a reader that died" &&
		said "; removed it" && silent && documented NAME && absent
}
check "a message delivered but not removed is not printed again, and is removed (not by -k)" delivered

# A writer killed after shm_open, before it wrote its header, leaves a
# segment of 0 bytes that only its owner may open: with the lock free, nobody
# is at work on it.
empty_owner_only() {
	(umask 077 && : >"$(seg_file)") && expect 1 reader -k -n "$seg" &&
		said "empty and unlocked" && said "; reader.out without -k removes it" && present &&
		expect 1 reader -n "$seg" && said "empty and unlocked" && said "; removed it" &&
		silent && documented NAME && absent &&
		expect 0 writer -n "$seg" new && expect 0 reader -n "$seg" &&
		printf 'new\n' >"$work/expected" && printed "$work/expected"
}
check "an empty, owner-only segment with its lock free (a writer died before its header) is removed" empty_owner_only

# --- After a death: the next writer ------------------------------------------

# A segment that a program died in needs nobody: the next writer removes it
# and publishes, with no -f and no reader first.  Each is made as the dead
# program left it: empty and owner-only (a writer killed before its header),
# marked but still filling (a writer killed at work), delivered but still
# named (a reader killed before removing it).
next_writer_clears() {
	for left in empty filling delivered; do
		case $left in
		empty) (umask 077 && : >"$(seg_file)") ;;
		filling) make_good && poke 0 '\000\000\000\000' ;;
		delivered) make_good && put_marker DONE ;;
		esac || return 1
		if ! { expect 0 writer -n "$seg" new && silent && expect 0 reader -n "$seg" &&
			printf 'new\n' >"$work/expected" && printed "$work/expected" && absent; }; then
			echo "after a segment left $left" && return 1
		fi
	done
}
check "a segment a program died in (empty, half filled or delivered) is removed by the next writer, which publishes" next_writer_clears

# What someone may still need stays: a published message, a damaged segment,
# and anything writer.out did not make (here an empty file others may open,
# and 64 zero bytes); the next writer says File exists and changes nothing.
# (Another user's, and a locked one: faults.sh.)
next_writer_keeps() {
	for kept in ready damaged open zeros; do
		case $kept in
		ready) make_good ;;
		damaged) make_good && poke 0 'XXXX' ;;
		open) (umask 022 && : >"$(seg_file)") ;;
		zeros) (umask 077 && head -c 64 /dev/zero >"$(seg_file)") ;;
		esac || return 1
		cp "$(seg_file)" "$work/before" || return 1
		if ! { expect 1 writer -n "$seg" new && said "shm_open $seg: File exists" && documented NAME &&
			cmp "$work/before" "$(seg_file)"; }; then
			echo "with a segment at the name: $kept" && return 1
		fi
		rm "$(seg_file)" || return 1
	done
}
check "the next writer takes over no published, damaged or foreign segment: File exists, and it is unchanged" next_writer_keeps

# --- Damaged or foreign segments: clear error, exit 1, nothing printed, kept --

wrong_marker() {
	make_good && poke 0 'XXXX' && refused "damaged: no state or length" && documented NAME
}
check "a segment whose state word holds no known state is refused as damaged, and kept" wrong_marker

# Only writer.out's segments carry its mark; anything else a reader keeps.
not_made_by_writer() {
	unmarked="not made by writer.out (no mark; kept"
	(umask 022 && : >"$(seg_file)") && refused "$unmarked" && documented NAME &&
		expect 1 reader -k -n "$seg" && said "$unmarked" && present || return 1
	for size in 1 $((header - 1)) "$header" 4096; do
		if ! { head -c "$size" /dev/zero >"$(seg_file)" && refused "$unmarked"; }; then
			echo "for $size zero bytes" && return 1
		fi
	done
	rm "$(seg_file)" && make_good && poke 4 'XXXX' && refused "$unmarked"
}
check "an empty file others may open, a short one, zero bytes, a wrong mark: not writer.out's, kept" not_made_by_writer

huge_length() {
	make_good && poke 8 '\377\377\377\377\377\377\377\377' && refused "damaged"
}
check "a segment claiming an enormous message length is refused" huge_length

length_one_over() {
	room=$((64 - header))
	make_good && put_length $((room + 1)) && refused "damaged" &&
		put_length "$room" && expect 0 reader -n "$seg" && [ "$(wc -c <"$work/out")" -eq "$room" ]
}
check "a length one byte beyond the room is refused, the room exactly is read" length_one_over

# A message that this build's address space cannot hold is refused in words
# and kept for a reader that can map it: 2^62 bytes, in a segment of nearly
# 2^63, for any build; for a 32-bit one (make check's matrix runs one), also
# nearly 4 GiB and 5 GiB.  (A few bytes written, then the segment and its
# length made larger: sparse, it takes no memory.)
too_large_to_map() {
	too_large="its message is too large for this build to map; it is kept"
	expect 0 writer -n "$seg" -s 64 hello && truncate -s 9223372035781033984 "$(seg_file)" &&
		put_length 4611686018427387904 || return 1
	if [ "$(od -An -j 4 -N 1 -tu1 "$READER" | tr -d ' ')" = 1 ]; then # ELF class 1: 32 bits
		expect 1 reader -n "$seg" && silent && present && said "$too_large" && documented NAME &&
			put_length 4026531840 && expect 1 reader -n "$seg" && silent && present &&
			said "mmap $seg: " || return 1
	else
		expect 1 reader -n "$seg" && said "mmap $seg: " && silent && present || return 1
	fi
	put_length 6 && expect 0 reader -n "$seg" && printf 'hello\n' >"$work/expected" &&
		printed "$work/expected"
}
check "a message too large for this build to map (2^62 bytes; 4 GiB for 32 bits) is refused, and kept" too_large_to_map

foreign_owner() {
	[ "$(id -u)" -eq 0 ] || { skip "needs root to give a segment to another user"; return; }
	make_good && chown nobody "$(seg_file)" && refused "not by you" && documented NAME
}
check "a segment owned by another user is refused, even by root" foreign_owner

# --- Names from the user, shown safely ----------------------------------------

# said_only LINE: fail unless the last expect's standard error is LINE alone.
said_only() {
	printf '%s\n' "$1" >"$work/expected_err"
	cmp -s "$work/expected_err" "$work/err" && return 0
	printf 'standard error should be only: %s\n' "$1"
	echo "but it was:"
	od -c "$work/err" | head -n 10
	return 1
}

# Control characters in a name or an argument reach the terminal escaped, so
# each message stays one line and none of it acts as a command; a backslash
# is doubled; UTF-8 letters are shown as they are.
names_shown_safely() {
	enoent=": No such file or directory (run writer.out first)"
	expect 1 reader -n "$seg$(printf '\033[31m\nreader.out: forged')" &&
		said_only "reader.out: shm_open $seg\\033[31m\\012reader.out: forged$enoent" &&
		expect 1 reader -n "$seg$(printf '\t\037\177\237\302\237')" &&
		said_only "reader.out: shm_open $seg\\011\\037\\177$(printf '\237\302\237')$enoent" &&
		expect 1 reader -n "$seg$(printf '\\x\303\251\304\201')" &&
		said_only "reader.out: shm_open $seg\\\\x$(printf '\303\251\304\201')$enoent" &&
		expect 2 reader -n "$seg" "$(printf 'a\033b')" &&
		said 'reader.out: unexpected argument "a\033b": the message' &&
		expect 2 reader "-$(printf '\033')" && said 'reader.out: unknown option -\033' &&
		expect 0 writer -n "$seg$(printf '\033')" hi && expect 1 writer -n "$seg$(printf '\033')" hi &&
		said "writer.out: shm_open $seg\\033: File exists (" &&
		expect 0 reader -n "$seg$(printf '\033')" && printf 'hi\n' >"$work/expected" &&
		printed "$work/expected" && bytes 100 >"$work/long" &&
		expect 1 writer -n "$seg$(printf '\033')" -s 64 - <"$work/long" &&
		said "read standard input for $seg\\033: longer than"
}
check "control characters (C0, DEL) in names and arguments are shown escaped, in octal, so a message is one line" names_shown_safely

# --- Lesson two: the live pair ------------------------------------------------

# LESSON_TWO=no leaves them out: make check runs them once per build of
# lesson two, not again with every build of lesson three.
[ "${LESSON_TWO:-yes}" = no ] || . tests/live.sh

# --- Usage -------------------------------------------------------------------

help() {
	expect 0 writer -h && grep -q '^usage: writer.out' "$work/out" && [ ! -s "$work/err" ] &&
		expect 0 reader -h && grep -q '^usage: reader.out' "$work/out" && [ ! -s "$work/err" ]
}
check "-h prints the usage on standard output and exits 0" help

help_full() {
	[ -w /dev/full ] || { skip "no /dev/full"; return; }
	{ writer -h >/dev/full 2>"$work/err"; [ $? -eq 1 ]; } && said "write the usage" &&
		{ reader -h >/dev/full 2>"$work/err"; [ $? -eq 1 ]; } && said "write the usage"
}
check "-h into a full output (> /dev/full) is an error, exit 1" help_full

bad_usage() {
	expect 2 writer -x && said "usage: writer.out" &&
		expect 2 reader -x && said "usage: reader.out" &&
		expect 2 reader -n "$seg" extra && said "usage: reader.out" &&
		expect 2 writer -n && said "usage: writer.out" && absent
}
check "an unknown option, a missing argument or a reader argument is a usage error, exit 2" bad_usage

# The usage errors in the programs' own words, each line starting with the
# program's plain name or "usage:", whatever path ran it (not ./writer.out).
usage_words() {
	expect 2 writer -x && said "writer.out: unknown option -x" &&
		expect 2 writer -s && said "writer.out: option -s needs an argument" &&
		expect 2 writer -s 1 && said "writer.out: SIZE must be at least $header bytes (the header) and at most " &&
		expect 2 reader -n "$seg" extra &&
		said 'reader.out: unexpected argument "extra": the message is given to writer.out' || return 1
	for command in "writer -x" "writer -n" "writer -s 0" "writer -s 1T" "writer -n bad" \
		"reader -q" "reader -n" "reader -n /a/b" "reader extra"; do
		# shellcheck disable=SC2086 # the command is words
		expect 2 $command || return 1
		if grep -v -e '^writer\.out: ' -e '^reader\.out: ' -e '^usage: ' "$work/err"; then
			echo "a line above, from $command, starts with neither the program's name nor usage:"
			return 1
		fi
		program=${command%% *}.out
		if ! { grep -q "^$program: " "$work/err" && grep -q "^usage: $program " "$work/err"; }; then
			echo "$command did not say $program: and usage:" && return 1
		fi
	done
	absent
}
check "usage errors are in the programs' words: each line starts with writer.out:, reader.out: or usage:" usage_words

summary
