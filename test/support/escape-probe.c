/*
 * escape-probe: what a hostile program inside a container would try, one probe per argument, each
 * printing `<probe> <result>` where result is `ok` or the errno's number. Built static by
 * test/integration/hardening-escape.test.ts and copied into a busybox image (also as a setuid-root
 * copy). Every call passes arguments that would do nothing harmful even if the sandbox let it
 * through: a probe that succeeds is a hole to report, not damage done.
 *
 *   escape-probe syscalls        each denied syscall, with bogus arguments
 *   escape-probe ptrace <pid>    PTRACE_ATTACH to pid
 *   escape-probe rawsock         an AF_PACKET raw socket
 *   escape-probe abstract <name> connect to the abstract unix socket @name
 *   escape-probe ids             real/effective uid and gid, then setuid(0)
 *   escape-probe hold            print ids, then sleep until killed
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void report(const char *probe, long rc) {
  if (rc < 0)
    printf("%s %d\n", probe, errno);
  else
    printf("%s ok\n", probe);
  fflush(stdout);
}

/* Each with arguments that are invalid or inert: an allowed call fails with EINVAL/EFAULT/ENOENT. */
static void syscalls(void) {
  report("mount", syscall(SYS_mount, "none", "/nonexistent-probe", "tmpfs", 0, NULL));
  report("umount2", syscall(SYS_umount2, "/nonexistent-probe", 0));
  report("pivot_root", syscall(SYS_pivot_root, "/nonexistent-probe", "/nonexistent-probe"));
  report("init_module", syscall(SYS_init_module, NULL, 0, ""));
  report("finit_module", syscall(SYS_finit_module, -1, "", 0));
  report("delete_module", syscall(SYS_delete_module, "layerlab_no_such_module", 04000 /* O_NONBLOCK */));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL));
  report("bpf", syscall(SYS_bpf, -1, NULL, 0));
  report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  report("keyctl", syscall(SYS_keyctl, -1, 0, 0, 0, 0));
  report("add_key", syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
  report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL));
  report("process_vm_readv", syscall(SYS_process_vm_readv, 1, NULL, 0, NULL, 0, 0));
  report("swapon", syscall(SYS_swapon, "/nonexistent-probe", 0));
  report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
  report("settimeofday", syscall(SYS_settimeofday, NULL, NULL));
  report("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
  report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
  report("name_to_handle_at", syscall(SYS_name_to_handle_at, -1, NULL, NULL, NULL, 0));
  report("syslog", syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0));
  report("setns", syscall(SYS_setns, -1, 0));
  report("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
  report("userfaultfd", syscall(SYS_userfaultfd, -1));
  report("acct", syscall(SYS_acct, "/nonexistent-probe"));
#ifdef SYS_iopl
  report("iopl", syscall(SYS_iopl, 0));
#endif
}

static void ids(void) {
  printf("uid %d euid %d gid %d egid %d\n", getuid(), geteuid(), getgid(), getegid());
  report("setuid0", setuid(0));
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: escape-probe syscalls|ptrace PID|rawsock|abstract NAME|ids|hold\n");
    return 2;
  }
  const char *what = argv[1];
  if (strcmp(what, "syscalls") == 0) {
    syscalls();
  } else if (strcmp(what, "ptrace") == 0 && argc > 2) {
    report("ptrace_attach", ptrace(PTRACE_ATTACH, atoi(argv[2]), NULL, NULL));
  } else if (strcmp(what, "rawsock") == 0) {
    report("af_packet", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
  } else if (strcmp(what, "abstract") == 0 && argc > 2) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(argv[2]);
    if (len > sizeof addr.sun_path - 2) len = sizeof addr.sun_path - 2;
    memcpy(addr.sun_path + 1, argv[2], len); /* sun_path[0] = 0: the abstract namespace */
    report("abstract_connect",
           connect(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)));
  } else if (strcmp(what, "ids") == 0) {
    ids();
  } else if (strcmp(what, "hold") == 0) {
    ids();
    for (;;) pause();
  } else {
    fprintf(stderr, "escape-probe: unknown probe %s\n", what);
    return 2;
  }
  return 0;
}
