/*
 * layerlab-init: the tiny init `docker run --init` runs as the container's PID 1, mounted read-only
 * at /sbin/docker-init as Docker mounts tini there. Usage, as Docker calls it:
 *
 *     /sbin/docker-init -- COMMAND [ARG...]
 *
 * Why it exists: the kernel gives a PID 1 no default signal actions, so a `sleep` that is PID 1
 * ignores `docker stop`'s SIGTERM and is killed 10 s later; and orphans are re-parented to PID 1,
 * which must reap them or they stay zombies. This init does what tini does by default:
 *
 *  - It blocks every asynchronous signal and waits for them with sigtimedwait(), so none is lost
 *    and none is ignored: blocked signals are queued even for a PID 1 (kernel `sig_ignored`).
 *  - It forks the command into a process group of its own, which becomes the terminal's foreground
 *    group when stdin is a terminal (Ctrl-C reaches the command through the line discipline), and
 *    restores the signal mask and dispositions the command expects before exec.
 *  - Every signal it receives but SIGCHLD is forwarded to the command (not its group, as tini without
 *    -g), and every child that exits is reaped, the command's orphans included.
 *  - When the command exits, it exits with the command's status, or 128 + the signal that killed it
 *    (`docker stop` of `sleep` under --init: 143). If the command cannot be executed it exits with
 *    127 (not found) or 126 (not executable), printing tini's line on stderr.
 *
 * Built static (see the Makefile) so it runs in any image, `scratch` ones included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* tini's prefix, so an image's docs about "[FATAL tini (7)]" lines read the same. */
static void fatal(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "[FATAL tini (%d)] ", (int)getpid());
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

/* Signals the kernel raises at a faulting thread: they stay unblocked, as in tini. */
static const int synchronous_signals[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS};

struct saved_signals {
    sigset_t mask;
    struct sigaction ttin;
    struct sigaction ttou;
};

/*
 * Blocks everything but the synchronous signals (saving the old mask for the command), and ignores
 * SIGTTIN/SIGTTOU, so that handing the terminal to the command's group does not stop this process.
 */
static int configure_signals(sigset_t *waited, struct saved_signals *saved) {
    sigfillset(waited);
    for (size_t i = 0; i < sizeof synchronous_signals / sizeof synchronous_signals[0]; i++)
        sigdelset(waited, synchronous_signals[i]);
    if (sigprocmask(SIG_SETMASK, waited, &saved->mask) != 0) {
        fatal("sigprocmask failed: %s", strerror(errno));
        return -1;
    }
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    if (sigaction(SIGTTIN, &ignore, &saved->ttin) != 0 || sigaction(SIGTTOU, &ignore, &saved->ttou) != 0) {
        fatal("sigaction failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* In the child: its own process group, the terminal's foreground (when there is one), then exec. */
static int exec_command(char *const argv[], const struct saved_signals *saved) {
    if (setpgid(0, 0) != 0) {
        fatal("setpgid failed: %s", strerror(errno));
        return 1;
    }
    /* Done in the child (SIGTTOU still ignored), as tini does: no race with the parent. */
    if (tcsetpgrp(STDIN_FILENO, getpgrp()) != 0 && errno != ENOTTY && errno != ENXIO && errno != EBADF) {
        fatal("tcsetpgrp failed: %s", strerror(errno));
        return 1;
    }
    if (sigprocmask(SIG_SETMASK, &saved->mask, NULL) != 0 || sigaction(SIGTTIN, &saved->ttin, NULL) != 0 ||
        sigaction(SIGTTOU, &saved->ttou, NULL) != 0) {
        fatal("restoring signals failed: %s", strerror(errno));
        return 1;
    }
    execvp(argv[0], argv);
    int status = errno == ENOENT ? 127 : errno == EACCES ? 126 : 1;
    fatal("exec %s failed: %s", argv[0], strerror(errno));
    return status;
}

/* The exit status a shell would report for a wait status. */
static int exit_status_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

/*
 * Reaps every child that has exited. Returns the command's exit status once it is among them, else
 * -1. Orphans re-parented here are reaped and forgotten.
 */
static int reap(pid_t command) {
    int result = -1;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) break;
        if (pid < 0) {
            if (errno == EINTR) continue;
            if (errno != ECHILD) fatal("waitpid failed: %s", strerror(errno));
            break;
        }
        if (pid == command) result = exit_status_of(status);
    }
    return result;
}

int main(int argc, char *argv[]) {
    int first = 1;
    if (first < argc && strcmp(argv[first], "--") == 0) first++;
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--] COMMAND [ARG...]\n", argv[0]);
        return 1;
    }
    /* Not PID 1 (a container sharing another's PID namespace): become the orphans' reaper anyway. */
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        fatal("PR_SET_CHILD_SUBREAPER failed: %s", strerror(errno));
        return 1;
    }
    sigset_t waited;
    struct saved_signals saved;
    if (configure_signals(&waited, &saved) != 0) return 1;

    pid_t command = fork();
    if (command < 0) {
        fatal("fork failed: %s", strerror(errno));
        return 1;
    }
    if (command == 0) _exit(exec_command(&argv[first], &saved));

    for (;;) {
        /* A timeout, so a SIGCHLD coalesced with an earlier one still gets its zombie reaped. */
        struct timespec timeout = {.tv_sec = 1, .tv_nsec = 0};
        siginfo_t info;
        int sig = sigtimedwait(&waited, &info, &timeout);
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            fatal("sigtimedwait failed: %s", strerror(errno));
            return 1;
        }
        if (sig > 0 && sig != SIGCHLD) {
            /* The command may have exited already (ESRCH): its status is collected below. */
            if (kill(command, sig) != 0 && errno != ESRCH) fatal("kill(%d, %d) failed: %s", (int)command, sig, strerror(errno));
        }
        int status = reap(command);
        if (status >= 0) return status;
    }
}
