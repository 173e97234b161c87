#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include "CSystemShims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sched.h>
#include <spawn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>

// The C library's `sigaction`, called through a pointer the dynamic loader fills when the
// program loads (a function whose address is taken is bound at once), not through its lazily
// bound entry: every pool worker installs its signal actions first thing, and the first call
// of a lazily bound function in a forked child walks every loaded library's symbol table
// (some five page faults). (sigaction(2) cannot go through syscall(2): the C library adds
// the return trampoline a handler needs.)
static int (*volatile bound_sigaction)(int, const struct sigaction *, struct sigaction *) = sigaction;
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/un.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int cs_futex_wait(uint32_t *address, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts;
  struct timespec *tsp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    tsp = &ts;
  }
  long r = syscall(SYS_futex, address, FUTEX_WAIT, expected, tsp, NULL, 0);
  return r == 0 ? 0 : -errno;
}

int cs_futex_wake(uint32_t *address, int count) {
  long r = syscall(SYS_futex, address, FUTEX_WAKE, count, NULL, NULL, 0);
  return r < 0 ? -errno : (int)r;
}

int cs_is_untimed_private_futex_wait(long number, long operation, long timeout) {
  if (number != SYS_futex || !(operation & FUTEX_PRIVATE_FLAG) || timeout != 0) return 0;
  switch (operation & FUTEX_CMD_MASK) {
  case FUTEX_WAIT:
  case FUTEX_WAIT_BITSET:
  case FUTEX_LOCK_PI:
#ifdef FUTEX_LOCK_PI2
  case FUTEX_LOCK_PI2:
#endif
    return 1;
  default:
    return 0;
  }
}

int cs_unread_bytes(int fd) {
  int count = 0;
  return ioctl(fd, FIONREAD, &count) == 0 ? count : -errno;
}

int cs_set_pipe_capacity(int fd, int bytes) {
  int size = fcntl(fd, F_SETPIPE_SZ, bytes);
  return size >= 0 ? size : -errno;
}

int cs_pipe_capacity(int fd) {
  int size = fcntl(fd, F_GETPIPE_SZ);
  return size >= 0 ? size : -errno;
}

int cs_set_parent_death_signal(int signal) {
  // Through syscall(2), which every process of the library has called before it forks: a
  // forked child is the first caller of `prctl` in its process, and binding that symbol
  // lazily there walked every loaded library's symbol table (some twenty page faults, a
  // tenth of a child's start).
  return syscall(SYS_prctl, PR_SET_PDEATHSIG, (unsigned long)signal) == 0 ? 0 : -errno;
}

void cs_exit_now(int code) {
  for (;;) syscall(SYS_exit_group, code);
}

int cs_set_thread_name(const char *name) {
  // Through syscall(2), as the death signal above: every forked child names itself.
  return syscall(SYS_prctl, PR_SET_NAME, (unsigned long)name) == 0 ? 0 : -errno;
}

const unsigned int cs_MFD_CLOEXEC = MFD_CLOEXEC;

/// Writes `number` (not negative) in decimal at `end`; returns the end of what it wrote.
static char *write_decimal(char *end, long number) {
  char digits[20];
  int count = 0;
  do {
    digits[count++] = (char)('0' + number % 10);
    number /= 10;
  } while (number > 0);
  while (count > 0) *end++ = digits[--count];
  return end;
}

/// Copies `text` without its terminating zero to `end`; returns the end of what it wrote (no
/// `stpcpy`: a C library function a forked child calls first is bound there, lazily).
static char *write_text(char *end, const char *text) {
  while (*text) *end++ = *text++;
  return end;
}

int cs_open_descriptor_of_process(pid_t pid, int fd, int flags) {
  if (pid < 1 || fd < 0) return -ENOENT;
  // "/proc/", "/fd/", two numbers of at most 10 digits and the terminating zero.
  char path[32];
  char *end = write_text(path, "/proc/");
  end = write_decimal(end, pid);
  end = write_text(end, "/fd/");
  end = write_decimal(end, fd);
  *end = 0;
  // Through syscall(2), as the calls above that forked children make.
  long opened = syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC);
  return opened >= 0 ? (int)opened : -errno;
}

int cs_memfd_create(const char *name, unsigned int flags) {
  int fd = memfd_create(name, flags);
  return fd >= 0 ? fd : -errno;
}

int cs_sched_getcpu(void) {
  int cpu = sched_getcpu();
  return cpu >= 0 ? cpu : -errno;
}

int cs_sched_getaffinity(pid_t pid, int *cpus, int capacity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(pid, sizeof(set), &set) != 0) return -errno;
  int n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &set)) {
      if (n < capacity) cpus[n] = cpu;
      n++;
    }
  }
  return n;
}

int cs_sched_setaffinity(pid_t pid, const int *cpus, int count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < count; i++) {
    if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return -EINVAL;
    CPU_SET(cpus[i], &set);
  }
  // Through syscall(2): a pool worker binds itself first thing (see cs_set_parent_death_signal).
  return syscall(SYS_sched_setaffinity, pid, sizeof(set), &set) == 0 ? 0 : -errno;
}

pid_t cs_gettid(void) { return (pid_t)syscall(SYS_gettid); }

__thread pid_t cs_cached_tid = 0;
static pthread_once_t tid_reset_installed = PTHREAD_ONCE_INIT;

static void reset_cached_tid(void) { cs_cached_tid = 0; }
static void install_tid_reset(void) { pthread_atfork(NULL, NULL, reset_cached_tid); }

pid_t cs_current_tid_uncached(void) {
  pthread_once(&tid_reset_installed, install_tid_reset);
  cs_cached_tid = cs_gettid();
  return cs_cached_tid;
}

static unsigned long fork_generation = 0;
static pthread_once_t fork_generation_installed = PTHREAD_ONCE_INIT;

static void bump_fork_generation(void) { __atomic_add_fetch(&fork_generation, 1, __ATOMIC_RELAXED); }
static void install_fork_generation(void) { pthread_atfork(NULL, NULL, bump_fork_generation); }

unsigned long cs_fork_generation(void) {
  pthread_once(&fork_generation_installed, install_fork_generation);
  return __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
}

int cs_pidfd_open(pid_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? (int)fd : -errno;
}

int cs_pidfd_send_signal(int pidfd, int signal) {
  return syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) == 0 ? 0 : -errno;
}

// posix_spawn with an empty signal mask and, for each descriptor given (>= 0), `out_fd` as
// 1, `err_fd` as 2 and `pass_fd` as 3, every descriptor above the last of them closed; with
// `default_signals`, every signal's action the default too.
static int spawn_with(const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd, int pass_fd,
                      int default_signals, pid_t *pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc != 0) return -rc;
  rc = posix_spawnattr_init(&attributes);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return -rc;
  }
  sigset_t empty, defaults;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attributes, &empty);
  short flags = POSIX_SPAWN_SETSIGMASK;
  if (default_signals) {
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    flags |= POSIX_SPAWN_SETSIGDEF;
  }
  posix_spawnattr_setflags(&attributes, flags);
  if (out_fd >= 0) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (rc == 0 && err_fd >= 0) rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  if (rc == 0 && pass_fd >= 0) rc = posix_spawn_file_actions_adddup2(&actions, pass_fd, 3);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, pass_fd >= 0 ? 4 : 3);
  if (rc == 0) rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  return -rc;
}

int cs_spawn(const char *path, char *const argv[], char *const envp[], int pass_fd, pid_t *pid) {
  return spawn_with(path, argv, envp, -1, -1, pass_fd, 0, pid);
}

int cs_spawn_with_output(const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd,
                         pid_t *pid) {
  return spawn_with(path, argv, envp, out_fd, err_fd, -1, 1, pid);
}

void cs_close_descriptors_from(int first, int keep) {
  if (keep < first) {
    syscall(SYS_close_range, (unsigned)first, ~0U, 0);
    return;
  }
  if (keep > first) syscall(SYS_close_range, (unsigned)first, (unsigned)(keep - 1), 0);
  syscall(SYS_close_range, (unsigned)(keep + 1), ~0U, 0);
}

int cs_sigchld_signalfd(void) {
  // Through syscall(2) with a kernel mask: every fork template runs this first (see
  // cs_unblock_all_signals).
  uint64_t child = 1ULL << (SIGCHLD - 1);
  if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &child, NULL, sizeof child) != 0) return -errno;
  long fd = syscall(SYS_signalfd4, -1, &child, sizeof child, SFD_CLOEXEC | SFD_NONBLOCK);
  return fd >= 0 ? (int)fd : -errno;
}

// The Swift runtime's hooks called on every `throw` (weak: absent from a runtime without them).
// Swift Testing installs one that takes locks; a child forked while another thread of the
// parent held such a lock would block forever on its first `throw`.
extern void *_swift_willThrow __attribute__((weak));
extern void *_swift_willThrowTypedImpl __attribute__((weak));

void cs_clear_throw_hooks(void) {
  if (&_swift_willThrow != NULL) __atomic_store_n(&_swift_willThrow, NULL, __ATOMIC_RELAXED);
  if (&_swift_willThrowTypedImpl != NULL) __atomic_store_n(&_swift_willThrowTypedImpl, NULL, __ATOMIC_RELAXED);
}

int cs_throw_hooks_installed(void) {
  return (&_swift_willThrow != NULL && __atomic_load_n(&_swift_willThrow, __ATOMIC_RELAXED) != NULL) ||
         (&_swift_willThrowTypedImpl != NULL && __atomic_load_n(&_swift_willThrowTypedImpl, __ATOMIC_RELAXED) != NULL);
}

void cs_unblock_all_signals(void) {
  // Through syscall(2) with an empty kernel mask, not sigemptyset and pthread_sigmask: a
  // forked child is their first caller in its process, and binding each lazily there walked
  // every loaded library's symbol table (with prctl, some twenty page faults a child). An
  // empty mask needs none of pthread_sigmask's care for the C library's own signals.
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
}

int cs_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int fd_count) {
  if (fd_count < 0 || fd_count > 4) return -EINVAL;
  struct iovec io = {.iov_base = (void *)bytes, .iov_len = length};
  union {
    char buffer[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1};
  if (fd_count > 0) {
    message.msg_control = control.buffer;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
    memcpy(CMSG_DATA(header), fds, sizeof(int) * fd_count);
  }
  ssize_t sent;
  do {
    sent = sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent < 0 ? -errno : 0;
}

// The control message after `header` in `message`, or NULL: CMSG_NXTHDR's walk, without its
// call into the C library.
static struct cmsghdr *next_control_header(struct msghdr *message, struct cmsghdr *header) {
  if (header->cmsg_len < sizeof(struct cmsghdr)) return NULL;
  unsigned char *end = (unsigned char *)message->msg_control + message->msg_controllen;
  struct cmsghdr *next = (struct cmsghdr *)((unsigned char *)header + CMSG_ALIGN(header->cmsg_len));
  if ((unsigned char *)(next + 1) > end || (unsigned char *)next + CMSG_ALIGN(next->cmsg_len) > end) return NULL;
  return next;
}

long cs_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int max_fds, int *fd_count) {
  struct iovec io = {.iov_base = bytes, .iov_len = capacity};
  union {
    char buffer[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } control;
  struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control.buffer,
                           .msg_controllen = sizeof(control.buffer)};
  *fd_count = 0;
  ssize_t received;
  // Through syscall(2), and the headers walked here rather than by CMSG_NXTHDR (a function
  // of the C library): a fork template's first request comes this way.
  do {
    received = syscall(SYS_recvmsg, socket, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return -errno;
  // A message longer than `capacity` lost its tail: refused whole, its descriptors closed.
  int truncated = (message.msg_flags & MSG_TRUNC) != 0;
  for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = next_control_header(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int *received_fds = (int *)CMSG_DATA(header);
    for (int i = 0; i < count; i++) {
      if (!truncated && *fd_count < max_fds) {
        fds[(*fd_count)++] = received_fds[i];
      } else {
        close(received_fds[i]);
      }
    }
  }
  return truncated ? -EMSGSIZE : (long)received;
}

int cs_wifexited(int status) { return WIFEXITED(status); }
int cs_wexitstatus(int status) { return WEXITSTATUS(status); }
int cs_wifsignaled(int status) { return WIFSIGNALED(status); }
int cs_wtermsig(int status) { return WTERMSIG(status); }


ssize_t cs_write_nosigpipe(int fd, const void *buffer, size_t count) {
  sigset_t pipe_only, previous, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigpending(&pending);
  int was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  ssize_t written = write(fd, buffer, count);
  int error = errno;
  if (written < 0 && error == EPIPE && !was_pending) {
    // The SIGPIPE this write raised is pending for this thread: take it back.
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  return written < 0 ? -error : written;
}

static char crash_label[64];

/// Appends the decimal digits of `value` to `buffer` at `*at` (async-signal-safe).
static void append_number(char *buffer, size_t *at, size_t capacity, long value) {
  char digits[24];
  int count = 0;
  unsigned long rest = value < 0 ? (unsigned long)(-value) : (unsigned long)value;
  do {
    digits[count++] = (char)('0' + rest % 10);
    rest /= 10;
  } while (rest > 0 && count < 24);
  if (value < 0 && *at < capacity) buffer[(*at)++] = '-';
  while (count > 0 && *at < capacity) buffer[(*at)++] = digits[--count];
}

static void append_text(char *buffer, size_t *at, size_t capacity, const char *text) {
  while (*text && *at < capacity) buffer[(*at)++] = *text++;
}

static void one_line_crash_handler(int signal_number) {
  char line[160];
  size_t at = 0;
  append_text(line, &at, sizeof line - 1, crash_label);
  append_text(line, &at, sizeof line - 1, " (pid ");
  append_number(line, &at, sizeof line - 1, (long)getpid());
  append_text(line, &at, sizeof line - 1, ") crashed: signal ");
  append_number(line, &at, sizeof line - 1, (long)signal_number);
  line[at++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, at);
  (void)ignored;
  // SA_RESETHAND restored the default action: the process now dies of this signal.
  raise(signal_number);
}

int cs_install_one_line_crash_report(const char *label) {
  size_t at = 0;
  for (; label[at] && at < sizeof crash_label - 1; at++) crash_label[at] = label[at];
  crash_label[at] = 0;
  struct sigaction action = {0};  // an empty sa_mask
  action.sa_handler = one_line_crash_handler;
  action.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
  const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (bound_sigaction(signals[i], &action, NULL) != 0) return -errno;
  }
  return 0;
}

int cs_ignore_signal(int signal_number) {
  struct sigaction action = {0};
  action.sa_handler = SIG_IGN;
  return bound_sigaction(signal_number, &action, NULL) == 0 ? 0 : -errno;
}

// MARK: Stream sockets (Listener and Client)

// A Unix-domain address: a path in the file system, or (abstract) a name in Linux's abstract
// namespace, which has no file and is gone when its last socket closes.
static int cs_unix_address(const char *path, int abstract, struct sockaddr_un *address, socklen_t *length) {
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  size_t bytes = strlen(path);
  if (bytes + (abstract ? 1 : 0) >= sizeof address->sun_path) return -ENAMETOOLONG;
  if (abstract) {
    memcpy(address->sun_path + 1, path, bytes);
    *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + bytes);
  } else {
    strcpy(address->sun_path, path);
    *length = sizeof *address;
  }
  return 0;
}

static int cs_tcp_addresses(const char *host, int port, int passive, struct addrinfo **found) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  return getaddrinfo(host, service, &hints, found) == 0 ? 0 : -EADDRNOTAVAIL;
}

static int cs_connect_retrying(int fd, const struct sockaddr *address, socklen_t length) {
  if (connect(fd, address, length) == 0) return 0;
  if (errno != EINTR) return -errno;
  // Interrupted, the connection goes on being made: wait for it to be writable.
  struct pollfd waiting = {fd, POLLOUT, 0};
  while (poll(&waiting, 1, -1) < 0 && errno == EINTR) {}
  int status = 0;
  socklen_t size = sizeof status;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &status, &size);
  return -status;
}

// What a new socket does with an address: bind and listen, or connect; 0 or -errno.
typedef int (*cs_stream_use)(int fd, const struct sockaddr *address, socklen_t length, int backlog);

static int cs_bind_and_listen(int fd, const struct sockaddr *address, socklen_t length, int backlog) {
  int yes = 1;
  if (address->sa_family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  return bind(fd, address, length) == 0 && listen(fd, backlog) == 0 ? 0 : -errno;
}

static int cs_connect_to(int fd, const struct sockaddr *address, socklen_t length, int backlog) {
  (void)backlog;
  int error = cs_connect_retrying(fd, address, length);
  int yes = 1;
  if (error == 0 && address->sa_family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  return error;
}

// A stream socket of `family` put to `use` on `address`: its descriptor, or -errno.
static int cs_stream_on(int family, int protocol, const struct sockaddr *address, socklen_t length,
                        cs_stream_use use, int backlog) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, protocol);
  if (fd < 0) return -errno;
  int error = use(fd, address, length, backlog);
  if (error < 0) {
    close(fd);
    return error;
  }
  return fd;
}

// A stream socket put to `use` on the Unix-domain `path` (host NULL; a name in the abstract
// namespace when `abstract`), or on the first address of TCP `host`:`port` where it works.
static int cs_stream(const char *host, int port, const char *path, int abstract, cs_stream_use use, int backlog) {
  if (host == NULL) {
    struct sockaddr_un address;
    socklen_t length;
    int error = cs_unix_address(path, abstract, &address, &length);
    if (error < 0) return error;
    return cs_stream_on(AF_UNIX, 0, (struct sockaddr *)&address, length, use, backlog);
  }
  struct addrinfo *found;
  int result = cs_tcp_addresses(host, port, use == cs_bind_and_listen, &found);
  if (result < 0) return result;
  result = -EADDRNOTAVAIL;
  for (struct addrinfo *candidate = found; candidate != NULL; candidate = candidate->ai_next) {
    result = cs_stream_on(candidate->ai_family, candidate->ai_protocol, candidate->ai_addr, candidate->ai_addrlen,
                          use, backlog);
    if (result >= 0) break;
  }
  freeaddrinfo(found);
  return result;
}

int cs_listen_stream(const char *host, int port, const char *path, int abstract, int backlog, int *bound_port) {
  int fd = cs_stream(host, port, path, abstract, cs_bind_and_listen, backlog);
  if (fd >= 0 && host != NULL) {
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &length);
    *bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
  }
  return fd;
}

int cs_connect_stream(const char *host, int port, const char *path, int abstract) {
  return cs_stream(host, port, path, abstract, cs_connect_to, 0);
}

int cs_accept_stream(int listener) {
  int fd;
  do {
    fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return -errno;
  int yes = 1;
  // Refused by Unix-domain sockets, which do not need it.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  return fd;
}
