#!/bin/sh
# tests/readme_code.sh N [LANGUAGE FILE]: print the Nth C block (```c) of
# README.md, or the Nth block of LANGUAGE (```python) in FILE.  In README.md, 1 is
# lesson one's writer, 2 its reader; 3 and 4 are lesson two's writer and
# reader, 5 the live.h they include.  make basic, make live, tests/run.sh,
# the bench and make check's macos part take them out.
awk -v n="$1" -v language="${2:-c}" '
	/^```/ { if (inside) exit; if ($0 == "```" language && ++seen == n) inside = 1; next }
	inside' "${3:-README.md}"
