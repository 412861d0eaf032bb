/*
 * common.h - what shared_mem_writer.c and shared_mem_reader.c agree on:
 * the segment's default name and size, the default message, and the layout
 * of the bytes inside the segment.  Both programs include this file, so they
 * cannot disagree about any of it.
 */
#ifndef SHM_DEMO_COMMON_H
#define SHM_DEMO_COMMON_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define SHM_NAME            "/shm_demo" /* default segment name (-n changes it) */
#define SHM_SIZE            4096        /* default segment size in bytes (-s changes it) */
#define SHM_DEFAULT_MESSAGE "Hello from the writer, through POSIX shared memory!"

/* The writer stores this in 'ready' when, and only when, the message is complete. */
#define SHM_READY 0x52454459u /* "REDY" in ASCII: unlikely to be there by chance */

/*
 * The layout of a segment: a small header, then the message bytes, which run
 * to the end of the segment.  'ready' is an atomic so that the writer can
 * publish the message with one store the reader is guaranteed to see only
 * after everything written before it (see step 7 of the writer).
 */
struct segment {
	atomic_uint ready;  /* SHM_READY once message_len and message are final */
	size_t message_len; /* how many bytes of message[] are in use */
	char message[];     /* the message itself; not a C string, may hold NULs */
};

/* Bytes before the message: the smallest segment that can hold anything. */
#define SHM_HEADER_SIZE offsetof(struct segment, message)

/*
 * Two processes share 'ready' only if the atomic is lock-free: a lock would
 * live inside one process, where the other cannot see it.
 */
#if ATOMIC_INT_LOCK_FREE != 2
#error "atomic_uint is not lock-free here, so it cannot be shared between processes"
#endif

/*
 * A portable segment name is "/" followed by at least one character and no
 * further "/".  On Linux it becomes a file in /dev/shm, so it is also bound
 * by NAME_MAX.  Returns NULL when the name is good, or the reason it is not.
 */
static inline const char *segment_name_problem(const char *name)
{
	if (name[0] != '/' || name[1] == '\0')
		return "NAME must be \"/\" followed by at least one character";
	if (strchr(name + 1, '/') != NULL)
		return "NAME must not contain a \"/\" after the first one";
	if (strlen(name + 1) > NAME_MAX)
		return "NAME is longer than the system allows (NAME_MAX)";
	return NULL;
}

#endif
