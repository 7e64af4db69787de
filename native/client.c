// layerlab-client: the fast path of the `layerlab` command. It hands the command to the resident
// engine process of its state root (`<root>/engine.sock`, see engine/daemon/) and relays the
// streams: argv, the environment, the cwd and the terminal facts go over in a hello frame; stdout
// and stderr come back as frames; stdin is sent only once the engine asks for it (a command that
// never reads stdin must not consume the caller's); SIGINT and SIGTERM are forwarded; the exit
// status comes back last. A Node process per command cannot start in the ~50 ms Docker's client
// takes with its daemon; this binary starts in about a millisecond.
//
// Whenever the engine cannot serve the command (no engine, a socket that is not the caller's, the
// engine says "run it yourself" for a terminal command, a stale engine), it execs the in-process
// path, `node server/bin.js` with the same arguments, so nothing depends on the resident process.
// With no engine answering it also starts one for the root, detached, for the next command.
//
// Frames (both ways): 1 type byte, 4-byte big-endian length, payload. See engine/daemon/protocol.ts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_ROOT "/var/lib/layerlab"
#define SOCKET_NAME "/engine.sock"
#define MAX_FRAME (1u << 20)

static char repo[PATH_MAX];
static int sigpipe_fds[2] = {-1, -1};

// The in-process path: `node <repo>/server/bin.js ARGS...`, as the launcher runs it without us.
static void exec_node(int argc, char **argv) {
  char bin[PATH_MAX + 32];
  snprintf(bin, sizeof bin, "%s/server/bin.js", repo);
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) _exit(1);
  args[0] = "node";
  args[1] = bin;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execvp("node", args);
  fprintf(stderr, "layerlab: cannot run node: %s\n", strerror(errno));
  _exit(127);
}

// Whether an engine may start: not when server/bin.js left `<root>/engine.sock.off` (it found no
// fresh bundle to run) after setup last wrote dist/cli/manifest.json, so a checkout whose bundle is
// stale does not pay for a Node start that gives up at once on every command.
static int engine_may_start(const char *root) {
  char off[PATH_MAX + 32], manifest[PATH_MAX + 32];
  struct stat o, m;
  snprintf(off, sizeof off, "%s/engine.sock.off", root);
  if (stat(off, &o) < 0) return 1;
  snprintf(manifest, sizeof manifest, "%s/dist/cli/manifest.json", repo);
  if (stat(manifest, &m) < 0) return 0;
  return m.st_mtim.tv_sec > o.st_mtim.tv_sec ||
         (m.st_mtim.tv_sec == o.st_mtim.tv_sec && m.st_mtim.tv_nsec > o.st_mtim.tv_nsec);
}

// Starts `node server/bin.js --engine-daemon ROOT` in a session of its own (double fork, so no
// zombie is left to whatever this process becomes), with /dev/null for its stdio.
static void start_daemon(const char *root) {
  if (!engine_may_start(root)) return;
  pid_t child = fork();
  if (child < 0) return;
  if (child == 0) {
    if (fork() != 0) _exit(0);
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    char bin[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/server/bin.js", repo);
    char *args[] = {"node", bin, "--engine-daemon", (char *)root, NULL};
    execvp("node", args);
    _exit(127);
  }
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
  }
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_frame(int sock, char type, const void *payload, uint32_t len) {
  unsigned char head[5] = {(unsigned char)type, len >> 24, len >> 16, len >> 8, len};
  if (write_all(sock, head, 5) < 0) return -1;
  return len ? write_all(sock, payload, len) : 0;
}

// A growable buffer for the hello frame.
struct buf {
  char *data;
  size_t len, cap;
};

static void put(struct buf *b, const char *s) {
  size_t n = strlen(s) + 1;  // with its NUL: fields are NUL-terminated
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->data = realloc(b->data, b->cap);
    if (!b->data) _exit(1);
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void on_signal(int sig) {
  unsigned char s = (unsigned char)sig;
  int saved = errno;
  if (write(sigpipe_fds[1], &s, 1) < 0) {
  }
  errno = saved;
}

// The state root the command names: `--root DIR`/`--root=DIR` among the global flags (before the
// command word, as main.ts parses them), else LAYERLAB_ROOT, else the default.
static const char *root_of(int argc, char **argv) {
  const char *root = getenv("LAYERLAB_ROOT");
  if (!root || !*root) root = DEFAULT_ROOT;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    if (w[0] != '-' || strcmp(w, "-") == 0) break;
    if (strcmp(w, "--root") == 0) {
      if (i + 1 < argc) root = argv[++i];
    } else if (strncmp(w, "--root=", 7) == 0) {
      root = w + 7;
    }
  }
  return root;
}

// The first word after the global flags: the command.
static const char *command_of(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    if (strcmp(w, "--root") == 0) {
      i++;
      continue;
    }
    if (w[0] != '-' || strcmp(w, "-") == 0) return w;
  }
  return "";
}

int main(int argc, char **argv) {
  // <repo>/native/build/layerlab-client → <repo>
  ssize_t n = readlink("/proc/self/exe", repo, sizeof repo - 1);
  if (n <= 0) {
    fprintf(stderr, "layerlab: cannot find the client's own path\n");
    return 1;
  }
  repo[n] = '\0';
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(repo, '/');
    if (slash) *slash = '\0';
  }

  const char *off = getenv("LAYERLAB_NO_DAEMON");
  // `serve` runs its own engine in-process, for many sessions: never through the resident one.
  if ((off && *off) || strcmp(command_of(argc, argv), "serve") == 0) exec_node(argc, argv);

  const char *root = root_of(argc, argv);
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  if (strlen(root) + strlen(SOCKET_NAME) >= sizeof path) exec_node(argc, argv);  // too long for a socket
  snprintf(path, sizeof path, "%s%s", root, SOCKET_NAME);

  struct stat st;
  if (lstat(path, &st) < 0) {
    if (errno == ENOENT) start_daemon(root);
    exec_node(argc, argv);
  }
  // Only a socket of the caller's own uid (the engine's owner) is trusted with the command.
  if (!S_ISSOCK(st.st_mode) || st.st_uid != getuid()) exec_node(argc, argv);

  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) exec_node(argc, argv);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, strlen(path) + 1);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (errno == ECONNREFUSED) start_daemon(root);  // a socket left by an engine that died
    close(sock);
    exec_node(argc, argv);
  }

  // Hello: protocol, cwd, umask, which of fds 0-2 are terminals, rows, cols, argc, argv, then env.
  struct buf hello = {0};
  char cwd[PATH_MAX], num[32];
  if (!getcwd(cwd, sizeof cwd)) exec_node(argc, argv);
  put(&hello, "layerlab-1");
  put(&hello, cwd);
  mode_t mask = umask(0);
  umask(mask);
  snprintf(num, sizeof num, "%o", (unsigned)mask);
  put(&hello, num);
  char ttys[4] = {isatty(0) ? '1' : '0', isatty(1) ? '1' : '0', isatty(2) ? '1' : '0', '\0'};
  put(&hello, ttys);
  struct winsize ws = {0};
  int tty_out = isatty(1) ? 1 : isatty(2) ? 2 : -1;
  if (tty_out >= 0) ioctl(tty_out, TIOCGWINSZ, &ws);
  snprintf(num, sizeof num, "%u", ws.ws_row);
  put(&hello, num);
  snprintf(num, sizeof num, "%u", ws.ws_col);
  put(&hello, num);
  snprintf(num, sizeof num, "%d", argc - 1);
  put(&hello, num);
  for (int i = 1; i < argc; i++) put(&hello, argv[i]);
  for (char **e = environ; *e; e++) put(&hello, *e);
  if (hello.len > MAX_FRAME || send_frame(sock, 'H', hello.data, (uint32_t)hello.len) < 0) {
    close(sock);
    exec_node(argc, argv);
  }
  free(hello.data);

  if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) exec_node(argc, argv);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  static unsigned char in[1 << 16];
  unsigned char *frame = malloc(MAX_FRAME + 5);
  if (!frame) return 1;
  size_t have = 0;
  int reading_stdin = 0, stdin_done = 0, interrupts = 0, replied = 0;
  for (;;) {
    struct pollfd fds[3] = {
        {.fd = sock, .events = POLLIN},
        {.fd = sigpipe_fds[0], .events = POLLIN},
        {.fd = reading_stdin && !stdin_done ? 0 : -1, .events = POLLIN},
    };
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      unsigned char sig;
      while (read(sigpipe_fds[0], &sig, 1) == 1) {
        // As the in-process CLI: the first Ctrl-C cancels the command, the second leaves at once.
        if (sig == SIGINT && ++interrupts > 1) _exit(130);
        send_frame(sock, 'S', &sig, 1);
        if (sig == SIGTERM) {
          signal(SIGTERM, SIG_DFL);
          raise(SIGTERM);
        }
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      ssize_t got = read(0, in, sizeof in);
      if (got > 0) {
        send_frame(sock, 'I', in, (uint32_t)got);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_done = 1;
        send_frame(sock, 'E', NULL, 0);
      }
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t got = read(sock, frame + have, MAX_FRAME + 5 - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (!replied) {  // the engine went away before answering: run it here
        close(sock);
        exec_node(argc, argv);
      }
      fprintf(stderr, "layerlab: the engine process went away\n");
      return 1;
    }
    have += (size_t)got;
    size_t at = 0;
    while (have - at >= 5) {
      unsigned char *f = frame + at;
      uint32_t len = (uint32_t)f[1] << 24 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 8 | f[4];
      if (len > MAX_FRAME) {
        fprintf(stderr, "layerlab: bad frame from the engine process\n");
        return 1;
      }
      if (have - at < 5 + (size_t)len) break;
      unsigned char *payload = f + 5;
      at += 5 + (size_t)len;
      replied = 1;
      switch (f[0]) {
        case 'O':
        case 'R':
          // A reader that went away (`layerlab images | head -1`) ends us quietly, as bin.js does.
          if (write_all(f[0] == 'O' ? 1 : 2, payload, len) < 0 && errno == EPIPE) return 0;
          break;
        case 'W':
          reading_stdin = 1;
          break;
        case 'X':
          return len >= 4 ? (int)((uint32_t)payload[0] << 24 | (uint32_t)payload[1] << 16 |
                                  (uint32_t)payload[2] << 8 | payload[3])
                          : 1;
        case 'F':  // "run it yourself": a terminal command, or an engine whose code is stale
          close(sock);
          exec_node(argc, argv);
          break;
        default:
          break;
      }
    }
    memmove(frame, frame + at, have - at);
    have -= at;
  }
}
