/*
 * layerlab-shim — the container monitor. One shim owns one container process (or one exec'd
 * process) for its whole life, in the spirit of podman's conmon. It exists because:
 *
 *   - a detached container must outlive the CLI that started it, and someone must wait(2) for the
 *     container's init to learn its exit status: the shim detaches (its own session, see detach()) and
 *     makes itself a child subreaper, so the container (whose parent, the runtime, exits right away) is
 *     re-parented to the shim;
 *   - with a terminal, the OCI runtime hands the PTY master over a unix socket with SCM_RIGHTS
 *     (--console-socket), which Node cannot receive; the shim keeps the master and serves it;
 *   - several clients can attach and detach while the container runs, so the container's stdio
 *     must belong to a process that stays.
 *
 * Usage (everything after `--` is the runtime command with its global options):
 *
 *   layerlab-shim -i ID -r RUNDIR -s STATUSFD (-b BUNDLE | -e PROCESS_JSON)
 *                 [-l LOG [-L MAXBYTES]] [-t [-R ROWS -C COLS]] [-I] [-w] -- RUNTIME [ARGS...]
 *
 *   -b BUNDLE   container mode: `RUNTIME run --detach --bundle BUNDLE --pid-file ... ID` (one exec);
 *               when the container exits, after the exit file: `RUNTIME delete --force ID`.
 *   -e FILE     exec mode: `RUNTIME exec --detach --process FILE --pid-file ... ID`.
 *   -t          the process has a terminal (process.terminal must be true in its config).
 *   -I          keep stdin open (docker -i); without it the process reads /dev/null (no TTY) .
 *   -w          wait for the first attach client before starting, so it misses no output.
 *   -l LOG      append output records to LOG; when it passes MAXBYTES it is renamed LOG.1.
 *
 * Files in RUNDIR: attach.sock (clients), console.sock (transient), container.pid, shim.pid,
 * shim.log (the shim's own diagnostics), exit (JSON, written atomically once the process is gone
 * and its output drained). shim.pid is removed last, after the runtime has deleted the container:
 * a run dir with `exit` and no live shim.pid is one the engine may tear down.
 *
 * Status pipe (STATUSFD, inherited from the starter), text lines:
 *   "P <shim pid>\n"      the shim is detached and running
 *   "L\n"                 attach.sock is listening (only with -w; the shim now waits for a client)
 *   "R <pid>\n"           the process runs (host pid); the pipe is then closed
 *   "E <message...>"      starting failed; the rest of the stream, to EOF, is the runtime's message
 *
 * Attach protocol (attach.sock, SOCK_STREAM): frames of 1 type byte + 4-byte big-endian length +
 * payload. Client to shim: 0x01 stdin data, 0x02 resize (u16 rows, u16 cols, big-endian),
 * 0x03 close stdin. Shim to client: 0x11 stdout, 0x12 stderr, 0x13 exit (i32 status, big-endian:
 * the exit code, or 128+signal). With a terminal, all output is stdout.
 *
 * Log records: 1 byte stream (1 stdout, 2 stderr) + 8-byte big-endian nanoseconds since the epoch
 * + 4-byte big-endian length + bytes.
 *
 * Back-pressure: each client has an output queue of at most CLIENT_HIGH bytes. While any client's
 * queue is full the shim stops reading the container's output, so the container blocks on write as
 * it would on a slow terminal (Docker's attach behaves the same way); the log never falls behind what
 * clients saw. A client whose queue stays full for CLIENT_STALL_MS is disconnected, so a stuck
 * client cannot freeze the container for ever. Nothing is buffered without bound.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 32
#define CLIENT_HIGH (1024 * 1024)  /* per-client queued output that pauses the container's output */
#define CLIENT_STALL_MS 30000      /* a client full for this long is dropped */
#define MAX_FRAME (64 * 1024)      /* largest frame a client may send */
#define STDIN_MAX (256 * 1024)     /* queued stdin before clients are no longer read */
#define DRAIN_IDLE_MS 200          /* after exit: stop reading output after this long without data */
#define DRAIN_MAX_MS 5000          /* ... or after this long in total */

enum { F_STDIN = 0x01, F_RESIZE = 0x02, F_CLOSE_STDIN = 0x03, F_STDOUT = 0x11, F_STDERR = 0x12, F_EXIT = 0x13 };

struct client {
    int fd;
    unsigned char *out; /* queued frames */
    size_t out_len;
    int64_t full_since; /* ms when the queue became full, 0 if not full */
    unsigned char in[5 + MAX_FRAME];
    size_t in_len;
};

static struct {
    const char *id, *run_dir, *bundle, *process_json, *log_path;
    long log_max;
    bool tty, keep_stdin, wait_attach;
    unsigned short rows, cols;
    char **runtime; /* argv of the runtime with its global options */
    int runtime_argc;
} opt = { .log_max = 4 * 1024 * 1024 };

static int status_fd = -1;
static int log_fd = -1;
static long log_size;
static struct client clients[MAX_CLIENTS];
static int nclients;
static unsigned char *stdin_buf; /* queued stdin for the container */
static size_t stdin_len;
static bool stdin_close_pending; /* close once the queued stdin is written */

static char path_sock[PATH_MAX], path_console[PATH_MAX], path_pid[PATH_MAX], path_exit[PATH_MAX];

/* ---------- small helpers ---------- */

static void logmsg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "layerlab-shim[%d]: ", getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

/* Reports to the starter; once it has what it waited for the pipe is closed. */
static void status(const char *fmt, ...) {
    if (status_fd < 0) return;
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) write_all(status_fd, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

static void status_close(void) {
    if (status_fd >= 0) close(status_fd);
    status_fd = -1;
}

/* Fails the start: the message goes to the starter, and the shim exits. */
static void fail(const char *fmt, ...) {
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    logmsg("%s", buf);
    status("E %s", buf);
    status_close();
    unlink(path_sock);
    unlink(path_console);
    _exit(1);
}

static void set_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads whatever a (non-blocking) fd holds right now, up to cap-1 bytes, NUL-terminated. */
static size_t read_available(int fd, char *buf, size_t cap) {
    size_t len = 0;
    set_nonblock(fd);
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) buf[--len] = 0;
    return len;
}

static int listen_unix(const char *path) {
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) fail("socket path too long (%zu bytes): %s", strlen(path), path);
    strcpy(addr.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("bind %s: %s", path, strerror(errno));
    chmod(path, 0600);
    if (listen(fd, 16) < 0) fail("listen %s: %s", path, strerror(errno));
    return fd;
}

/* ---------- running the runtime ---------- */

/* The seals runc and crun look for on /proc/self/exe before they copy themselves (see below). */
#define SEALED (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/*
 * A sealed in-memory copy of the runtime binary (an absolute path), or -1. runc and crun guard
 * against CVE-2019-5736 (a container overwriting the host's runtime binary through
 * /proc/self/exe) by running from such a copy: unless they already run from a sealed memfd, each
 * start makes one and re-executes itself, which for crun means a read-only bind mount and a second
 * exec and dynamic link (~1.5 ms, twice per container: `run` and `delete`). Executing them from the
 * sealed copy ourselves keeps the same protection and saves that. The copy (~0.5 MB for crun) lives
 * only while the runtime command runs.
 */
static int runtime_clone(const char *path) {
    if (path[0] != '/') return -1;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    struct stat st;
    int fd = fstat(in, &st) == 0 ? memfd_create("runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING) : -1;
    off_t off = 0;
    while (fd >= 0 && off < st.st_size) {
        ssize_t n = sendfile(fd, in, &off, (size_t)(st.st_size - off));
        if (n <= 0) {
            close(fd);
            fd = -1;
        }
    }
    close(in);
    if (fd >= 0 && fcntl(fd, F_ADD_SEALS, SEALED) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/*
 * Runs `RUNTIME <global options> <args...>` with the given stdio and waits for it. SIGCHLD is
 * blocked in the shim (it is read through a signalfd), so the child gets a clean mask back.
 */
static int run_runtime(const char *const *args, int in, int out, int err) {
    char *argv[64];
    int argc = 0;
    for (int i = 0; i < opt.runtime_argc && argc < 48; i++) argv[argc++] = opt.runtime[i];
    for (int i = 0; args[i] && argc < 63; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;

    int exe = runtime_clone(argv[0]);
    pid_t pid = fork();
    if (pid < 0) fail("fork: %s", strerror(errno));
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        /* The runtime must not inherit our sockets or pipes; the copy closes itself on exec. */
        if (exe > 3) syscall(SYS_close_range, 3, exe - 1, 0);
        syscall(SYS_close_range, exe >= 3 ? exe + 1 : 3, ~0U, 0);
        if (exe >= 0) execveat(exe, "", argv, environ, AT_EMPTY_PATH);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (exe >= 0) close(exe);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

/* Receives the PTY master the runtime sent over the console socket (SCM_RIGHTS). */
static int receive_pty(int listen_fd) {
    struct pollfd p = { .fd = listen_fd, .events = POLLIN };
    if (poll(&p, 1, 5000) <= 0) fail("the runtime did not send a terminal on the console socket");
    int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) fail("accept console socket: %s", strerror(errno));

    char name[256];
    struct iovec iov = { .iov_base = name, .iov_len = sizeof name };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    close(conn);
    struct cmsghdr *c = n < 0 ? NULL : CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        fail("the runtime sent no file descriptor on the console socket");
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

static pid_t read_pid_file(const char *path) {
    char buf[32] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? (pid_t)atoi(buf) : -1;
}

/* ---------- log and clients ---------- */

static void open_log(void) {
    if (!opt.log_path) return;
    log_fd = open(opt.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) fail("open log %s: %s", opt.log_path, strerror(errno));
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* Appends one record; keeps the newest data by renaming a full log to LOG.1 (dropping the old .1). */
static void log_record(int stream, const unsigned char *data, size_t len) {
    if (log_fd < 0) return;
    if (log_size + (long)len + 13 > opt.log_max && log_size > 0) {
        char old[PATH_MAX];
        snprintf(old, sizeof old, "%s.1", opt.log_path);
        close(log_fd);
        rename(opt.log_path, old);
        log_fd = -1;
        open_log();
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    unsigned char hdr[13];
    hdr[0] = (unsigned char)stream;
    for (int i = 0; i < 8; i++) hdr[1 + i] = (unsigned char)(ns >> (56 - 8 * i));
    put_be32(hdr + 9, (uint32_t)len);
    struct iovec iov[2] = { { hdr, sizeof hdr }, { (void *)data, len } };
    ssize_t n = writev(log_fd, iov, 2);
    if (n > 0) log_size += n;
}

static void client_drop(int i) {
    close(clients[i].fd);
    free(clients[i].out);
    clients[i] = clients[--nclients];
}

/* Queues one frame for a client; the queue never grows past CLIENT_HIGH plus one frame. */
static void client_queue(struct client *c, int type, const unsigned char *data, size_t len) {
    unsigned char *grown = realloc(c->out, c->out_len + 5 + len);
    if (!grown) return;
    c->out = grown;
    c->out[c->out_len] = (unsigned char)type;
    put_be32(c->out + c->out_len + 1, (uint32_t)len);
    if (len) memcpy(c->out + c->out_len + 5, data, len);
    c->out_len += 5 + len;
    if (c->out_len >= CLIENT_HIGH && !c->full_since) c->full_since = now_ms();
}

static void broadcast(int type, const unsigned char *data, size_t len) {
    for (int i = 0; i < nclients; i++) client_queue(&clients[i], type, data, len);
}

/* Writes what a client can take now; returns false when the client is gone. */
static bool client_flush(struct client *c) {
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) return false;
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    if (c->out_len < CLIENT_HIGH) c->full_since = 0;
    return true;
}

/*
 * The end of every client's connection, once its last frames are queued: flush them, then shut our
 * side for writing and read (and discard) until the client closes its side. Closing outright while
 * the client still writes (a resize, the end of its stdin) would make its write fail with EPIPE, and
 * a client that fails a write may drop what it had not read yet: the container's last output.
 */
static void hang_up_clients(int64_t deadline) {
    bool shut[MAX_CLIENTS] = { false };
    while (nclients > 0 && now_ms() < deadline) {
        struct pollfd pfd[MAX_CLIENTS];
        for (int i = nclients - 1; i >= 0; i--) {
            if (!client_flush(&clients[i])) {
                shut[i] = shut[nclients - 1];
                client_drop(i);
                continue;
            }
            if (clients[i].out_len == 0 && !shut[i]) {
                shutdown(clients[i].fd, SHUT_WR);
                shut[i] = true;
            }
        }
        for (int i = 0; i < nclients; i++)
            pfd[i] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN | (clients[i].out_len ? POLLOUT : 0) };
        if (nclients == 0 || poll(pfd, (nfds_t)nclients, 20) < 0) continue;
        for (int i = nclients - 1; i >= 0; i--) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            unsigned char scratch[4096];
            ssize_t r = recv(clients[i].fd, scratch, sizeof scratch, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                shut[i] = shut[nclients - 1];
                client_drop(i);
            }
        }
    }
    while (nclients > 0) client_drop(nclients - 1);
}

static bool any_client_full(void) {
    for (int i = 0; i < nclients; i++)
        if (clients[i].out_len >= CLIENT_HIGH) return true;
    return false;
}

static int accept_client(int listen_fd) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return -1;
    if (nclients == MAX_CLIENTS) {
        close(fd);
        return -1;
    }
    clients[nclients] = (struct client){ .fd = fd };
    nclients++;
    return fd;
}

/* ---------- the container's stdio ---------- */

static int out_fd = -1, err_fd = -1; /* container output: PTY master, or the read ends of pipes */
static int in_fd = -1;                /* container input: PTY master, or the write end of a pipe */

static void set_winsize(unsigned short rows, unsigned short cols) {
    if (!opt.tty || out_fd < 0 || rows == 0 || cols == 0) return;
    struct winsize ws = { .ws_row = rows, .ws_col = cols };
    ioctl(out_fd, TIOCSWINSZ, &ws);
}

static void close_stdin(void) {
    if (in_fd < 0) return;
    if (opt.tty) {
        /* A terminal has no half-close: send the EOF character, as a user pressing Ctrl-D. */
        struct termios t;
        unsigned char eof = tcgetattr(in_fd, &t) == 0 ? t.c_cc[VEOF] : 4;
        write_all(in_fd, &eof, 1);
        return;
    }
    close(in_fd);
    in_fd = -1;
    stdin_len = 0;
}

/* Handles the complete frames a client sent; returns false on a protocol error. */
static bool client_frames(struct client *c) {
    size_t off = 0;
    while (c->in_len - off >= 5) {
        unsigned char type = c->in[off];
        uint32_t len = get_be32(c->in + off + 1);
        if (len > MAX_FRAME) return false;
        if (c->in_len - off < 5 + len) break;
        const unsigned char *p = c->in + off + 5;
        if (type == F_STDIN && in_fd >= 0 && len > 0) {
            unsigned char *grown = realloc(stdin_buf, stdin_len + len);
            if (grown) {
                stdin_buf = grown;
                memcpy(stdin_buf + stdin_len, p, len);
                stdin_len += len;
            }
        } else if (type == F_RESIZE && len == 4) {
            set_winsize((unsigned short)(p[0] << 8 | p[1]), (unsigned short)(p[2] << 8 | p[3]));
        } else if (type == F_CLOSE_STDIN) {
            stdin_close_pending = true; /* after what is queued before it */
        }
        off += 5 + len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return true;
}

/* Reads container output from fd; returns bytes read, 0 at EOF (or EIO: the PTY's last slave closed). */
static ssize_t pump_output(int fd, int stream) {
    unsigned char buf[32768];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -1;
    if (n <= 0) return 0;
    log_record(stream, buf, (size_t)n);
    broadcast(stream == 2 ? F_STDERR : F_STDOUT, buf, (size_t)n);
    return n;
}

/* ---------- the end ---------- */

static void write_exit_file(int code) {
    char tmp[PATH_MAX + 8], buf[256];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(buf, sizeof buf, "{\"exitCode\":%d,\"finishedAt\":\"%s.%09ldZ\"}\n", code, when, ts.tv_nsec);
    snprintf(tmp, sizeof tmp, "%s.tmp", path_exit);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    write_all(fd, buf, (size_t)n);
    close(fd); /* not fsynced: runtime state, not content (a crash loses the shim too; see reconcile) */
    rename(tmp, path_exit);
}

/* ---------- main ---------- */

static void usage(void) {
    fprintf(stderr, "usage: layerlab-shim -i ID -r RUNDIR -s FD (-b BUNDLE | -e PROCESS_JSON) [-l LOG [-L MAX]] "
                    "[-t [-R ROWS -C COLS]] [-I] [-w] -- RUNTIME [ARGS...]\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    int c;
    while ((c = getopt(argc, argv, "i:r:s:b:e:l:L:tR:C:Iw")) != -1) {
        switch (c) {
        case 'i': opt.id = optarg; break;
        case 'r': opt.run_dir = optarg; break;
        case 's': status_fd = atoi(optarg); break;
        case 'b': opt.bundle = optarg; break;
        case 'e': opt.process_json = optarg; break;
        case 'l': opt.log_path = optarg; break;
        case 'L': opt.log_max = atol(optarg); break;
        case 't': opt.tty = true; break;
        case 'R': opt.rows = (unsigned short)atoi(optarg); break;
        case 'C': opt.cols = (unsigned short)atoi(optarg); break;
        case 'I': opt.keep_stdin = true; break;
        case 'w': opt.wait_attach = true; break;
        default: usage();
        }
    }
    if (!opt.id || !opt.run_dir || status_fd < 0 || !opt.bundle == !opt.process_json || optind >= argc) usage();
    opt.runtime = argv + optind;
    opt.runtime_argc = argc - optind;
    if (opt.log_max < 4096) opt.log_max = 4096;
}

/* Leaves the starter's session so its signals and its exit do not touch us. A starter that already
 * made us a session leader (Node's `spawn({ detached: true })` does) gets no fork at all: it reaps us
 * when we exit, or init (or the nearest subreaper) does once it is gone. Otherwise fork once; the
 * starter reaps the parent at once and the child, re-parented, carries on. A forkless start saves a
 * fork and a scheduling round trip per container. No tty is ever opened by path here, so a session
 * leader cannot acquire a controlling terminal and the classic second fork is not needed. */
static void detach(void) {
    if (getsid(0) == getpid()) return;
    pid_t pid = fork();
    if (pid < 0) fail("fork: %s", strerror(errno));
    if (pid > 0) _exit(0);
    setsid();
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    snprintf(path_sock, sizeof path_sock, "%s/attach.sock", opt.run_dir);
    snprintf(path_console, sizeof path_console, "%s/console.sock", opt.run_dir);
    snprintf(path_pid, sizeof path_pid, "%s/%s.pid", opt.run_dir, opt.bundle ? "container" : "process");
    snprintf(path_exit, sizeof path_exit, "%s/exit", opt.run_dir);
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);

    detach();
    if (chdir("/") < 0) fail("chdir /: %s", strerror(errno));

    /* Our own stdio: nothing in, diagnostics to RUNDIR/shim.log. */
    char path_diag[PATH_MAX];
    snprintf(path_diag, sizeof path_diag, "%s/shim.log", opt.run_dir);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int diag = open(path_diag, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    dup2(devnull, 0);
    dup2(devnull, 1);
    if (diag >= 0) dup2(diag, 2);
    setvbuf(stderr, NULL, _IOLBF, 0);

    /* Orphans of the container (its init, once the runtime exits) become our children. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) fail("signalfd: %s", strerror(errno));

    char path_shim_pid[PATH_MAX];
    snprintf(path_shim_pid, sizeof path_shim_pid, "%s/shim.pid", opt.run_dir);
    FILE *f = fopen(path_shim_pid, "w");
    if (f) {
        fprintf(f, "%d\n", getpid());
        fclose(f);
    }
    unlink(path_exit);
    unlink(path_pid);
    status("P %d\n", getpid());
    open_log();

    int listen_fd = listen_unix(path_sock);
    if (opt.wait_attach) {
        status("L\n");
        struct pollfd p = { .fd = listen_fd, .events = POLLIN };
        if (poll(&p, 1, 10000) <= 0 || accept_client(listen_fd) < 0) fail("no client attached within 10s");
    }

    /* The process's stdio: a PTY the runtime creates, or pipes we create. The runtime passes its own
     * stdio to the process it starts, so pipes are given to the runtime command itself. */
    int rt_in = devnull, rt_out = devnull, rt_err;
    int errpipe[2], outpipe[2] = { -1, -1 }, errout[2] = { -1, -1 }, inpipe[2] = { -1, -1 };
    if (pipe2(errpipe, O_CLOEXEC) < 0) fail("pipe: %s", strerror(errno));
    rt_err = errpipe[1];
    int console_fd = -1;
    if (opt.tty) {
        console_fd = listen_unix(path_console);
    } else {
        if (pipe2(outpipe, O_CLOEXEC) < 0 || pipe2(errout, O_CLOEXEC) < 0) fail("pipe: %s", strerror(errno));
        if (opt.keep_stdin && pipe2(inpipe, O_CLOEXEC) < 0) fail("pipe: %s", strerror(errno));
        rt_out = outpipe[1];
        rt_err = errout[1];
        if (opt.keep_stdin) rt_in = inpipe[0];
    }

    char errbuf[8192];
    /* `run --detach` (container: create and start in one runtime exec, which saves a whole runtime
     * start-up per container) or `exec --detach` (exec); with a terminal, the console socket. */
    const char *args[16];
    int na = 0;
    if (opt.bundle) {
        args[na++] = "run";
        args[na++] = "--detach";
        args[na++] = "--bundle";
        args[na++] = opt.bundle;
    } else {
        args[na++] = "exec";
        args[na++] = "--detach";
        args[na++] = "--process";
        args[na++] = opt.process_json;
    }
    args[na++] = "--pid-file";
    args[na++] = path_pid;
    if (opt.tty) {
        args[na++] = "--console-socket";
        args[na++] = path_console;
    }
    args[na++] = opt.id;
    args[na] = NULL;
    int rc = run_runtime(args, rt_in, rt_out, rt_err);
    /* Only the process holds the write ends now; our copies would keep EOF from ever coming. */
    close(errpipe[1]);
    if (!opt.tty) {
        close(outpipe[1]);
        close(errout[1]);
        if (inpipe[0] >= 0) close(inpipe[0]);
    }
    if (rc != 0) {
        /* Without a terminal the runtime's stderr is the process's stderr pipe: before the process
         * ever ran, what is there is the runtime's complaint. */
        size_t n = read_available(opt.tty ? errpipe[0] : errout[0], errbuf, sizeof errbuf);
        if (n == 0) read_available(errpipe[0], errbuf, sizeof errbuf);
        if (opt.bundle) {
            const char *del[] = { "delete", "--force", opt.id, NULL };
            run_runtime(del, devnull, devnull, devnull);
        }
        fail("%s", errbuf[0] ? errbuf : "the runtime failed without a message");
    }
    if (opt.tty) {
        out_fd = in_fd = receive_pty(console_fd);
        close(console_fd);
        unlink(path_console);
        set_winsize(opt.rows, opt.cols);
    } else {
        out_fd = outpipe[0];
        err_fd = errout[0];
        in_fd = inpipe[1];
    }

    pid_t child = read_pid_file(path_pid);
    if (child <= 0) {
        if (opt.bundle) {
            const char *del[] = { "delete", "--force", opt.id, NULL };
            run_runtime(del, devnull, devnull, devnull);
        }
        fail("the runtime wrote no pid file");
    }

    close(errpipe[0]);
    status("R %d\n", child);
    status_close();

    if (out_fd >= 0) set_nonblock(out_fd);
    if (err_fd >= 0) set_nonblock(err_fd);
    if (in_fd >= 0 && !opt.tty) set_nonblock(in_fd);
    set_nonblock(listen_fd);

    /* The loop: container output to log and clients, client input to the container, until the
     * process exits and its output is drained. */
    bool exited = false;
    int exit_code = 0;
    int64_t exited_at = 0, last_output = 0;
    for (;;) {
        if (stdin_close_pending && stdin_len == 0) {
            stdin_close_pending = false;
            close_stdin();
        }
        struct pollfd pfd[4 + 2 * MAX_CLIENTS];
        int n = 0, i_sig = -1, i_listen = -1, i_out = -1, i_err = -1, i_in = -1, i_client = 0;
        pfd[i_sig = n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
        pfd[i_listen = n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
        bool paused = any_client_full();
        if (out_fd >= 0 && !paused) pfd[i_out = n++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
        if (err_fd >= 0 && !paused) pfd[i_err = n++] = (struct pollfd){ .fd = err_fd, .events = POLLIN };
        if (in_fd >= 0 && stdin_len > 0) pfd[i_in = n++] = (struct pollfd){ .fd = in_fd, .events = POLLOUT };
        i_client = n;
        for (int i = 0; i < nclients; i++) {
            short ev = (stdin_len < STDIN_MAX ? POLLIN : 0) | (clients[i].out_len ? POLLOUT : 0);
            pfd[n++] = (struct pollfd){ .fd = clients[i].fd, .events = ev };
        }
        int timeout = exited ? 50 : (paused ? 1000 : -1);
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) break;

        if (pfd[i_sig].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof si) > 0) {
            }
            int st;
            pid_t p;
            while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                if (p != child) continue; /* another orphan: reaped, nothing more */
                exited = true;
                exited_at = last_output = now_ms();
                exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
        }
        if (pfd[i_listen].revents & POLLIN) accept_client(listen_fd);
        if (i_out >= 0 && pfd[i_out].revents) {
            ssize_t r = pump_output(out_fd, 1);
            if (r == 0) {
                if (out_fd == in_fd) in_fd = -1;
                close(out_fd);
                out_fd = -1;
            } else if (r > 0) last_output = now_ms();
        }
        if (i_err >= 0 && pfd[i_err].revents) {
            ssize_t r = pump_output(err_fd, 2);
            if (r == 0) {
                close(err_fd);
                err_fd = -1;
            } else if (r > 0) last_output = now_ms();
        }
        if (i_in >= 0 && pfd[i_in].revents) {
            ssize_t w = write(in_fd, stdin_buf, stdin_len);
            if (w > 0) {
                memmove(stdin_buf, stdin_buf + w, stdin_len - (size_t)w);
                stdin_len -= (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                stdin_len = 0; /* the process closed its stdin: drop what it will never read */
                if (!opt.tty) {
                    close(in_fd);
                    in_fd = -1;
                }
            }
        }
        /* Clients, back to front so dropping one does not skip another. */
        for (int i = nclients - 1; i >= 0; i--) {
            struct pollfd *p = &pfd[i_client + i];
            struct client *c = &clients[i];
            if (i_client + i >= n || p->fd != c->fd) continue; /* accepted during this round */
            bool ok = true;
            if (p->revents & POLLIN) {
                ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) ok = false;
                else if (r > 0) {
                    c->in_len += (size_t)r;
                    ok = client_frames(c);
                }
            } else if (p->revents & (POLLHUP | POLLERR)) {
                ok = false;
            }
            if (ok) ok = client_flush(c);
            if (ok && c->full_since && now_ms() - c->full_since > CLIENT_STALL_MS) {
                logmsg("dropping a client that read nothing for %d ms", CLIENT_STALL_MS);
                ok = false;
            }
            if (!ok) client_drop(i);
        }

        if (exited) {
            int64_t t = now_ms();
            /* Idle only counts while we are reading: a full client holds output back, not gone. */
            bool idle = !any_client_full() && t - last_output > DRAIN_IDLE_MS;
            /* A PTY hands what the container wrote to the master through a kernel work queue, which a
             * loaded machine can hold back for longer than the idle time: poll stays quiet although the
             * output is on its way. A read of the master once its last slave is closed waits for that
             * work, then returns the data or EIO; so before calling a terminal idle, read it. */
            if (idle && opt.tty && out_fd >= 0) {
                ssize_t r;
                while ((r = pump_output(out_fd, 1)) > 0) last_output = now_ms();
                if (r == 0) {
                    if (out_fd == in_fd) in_fd = -1;
                    close(out_fd);
                    out_fd = -1;
                }
                if (last_output > t - DRAIN_IDLE_MS) idle = false;
            }
            bool drained = (out_fd < 0 && err_fd < 0) || idle || t - exited_at > DRAIN_MAX_MS;
            if (drained) break;
        }
    }

    /* The process is gone. Record the status and tell the clients first, so whoever waits learns the
     * exit at once and can take the filesystem down while the runtime deletes the container; stop
     * taking clients; then have the runtime delete it. shim.pid goes last: a run dir whose shim.pid
     * is gone (or names a dead process) is free, and the runtime no longer knows the container (what
     * `waitShimGone` in engine/runtime/shim.ts waits for). Neither the exit file nor the log is
     * fsynced: runtime state and output, not content (Docker's json-file logs are not either). */
    write_exit_file(exit_code);
    unsigned char code[4];
    put_be32(code, (uint32_t)exit_code);
    broadcast(F_EXIT, code, sizeof code);
    for (int i = nclients - 1; i >= 0; i--)
        if (!client_flush(&clients[i])) client_drop(i);
    close(listen_fd);
    unlink(path_sock);
    if (opt.bundle) {
        const char *del[] = { "delete", "--force", opt.id, NULL };
        run_runtime(del, devnull, devnull, 2);
    }
    hang_up_clients(now_ms() + 2000);
    logmsg("process %d exited with %d", child, exit_code);
    unlink(path_shim_pid);
    return 0;
}
