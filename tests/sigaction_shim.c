/*
 * tests/sigaction_shim.c - for tests/faults.sh: a shared library that
 * LD_PRELOAD puts before the C library, to send a signal at the very call
 * where a careless catch_signals() would lose it.  Right after the program
 * installs a handler for SIGINT, SIGINT comes; right after its first
 * sigaction that names SIGHUP (ignored, as under nohup), SIGHUP comes.  A
 * writer that installs its handler for SIGHUP before it asks whether SIGHUP
 * was ignored lets that SIGHUP overwrite the SIGINT, and forgets it.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>

int sigaction(int signal_number, const struct sigaction *action, struct sigaction *old)
{
	static int (*real)(int, const struct sigaction *, struct sigaction *);
	static int hangup_sent;
	int result;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "sigaction");
	result = real(signal_number, action, old);
	if (result == 0 && signal_number == SIGINT && action != NULL &&
	    action->sa_handler != SIG_IGN && action->sa_handler != SIG_DFL)
		(void)raise(SIGINT);
	if (result == 0 && signal_number == SIGHUP && !hangup_sent) {
		hangup_sent = 1;
		(void)raise(SIGHUP);
	}
	return result;
}
