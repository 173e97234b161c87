// Tiny C shims for the Linux calls Swift cannot make directly: variadic functions
// (syscall, prctl), declarations hidden without _GNU_SOURCE, and function-like macros.
//
// One convention: a function that can fail returns a non-negative result, or -errno. Swift
// calls them through `SystemCall.shim`, which retries -EINTR and throws the `Errno`.
#ifndef CSYSTEM_H
#define CSYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// Sleeps while `*address == expected` (process-shared futex). `timeout_ns < 0` waits forever.
/// Returns 0 when woken, or -errno: -EAGAIN (value differed), -ETIMEDOUT, -EINTR.
int cs_futex_wait(uint32_t *address, uint32_t expected, int64_t timeout_ns);
/// Wakes up to `count` waiters on `address`; returns how many were woken, or -errno.
int cs_futex_wake(uint32_t *address, int count);
/// Whether a thread blocked in system call `number` with these first arguments (as
/// `/proc/PID/syscall` shows them) waits, with no timeout, on a futex private to its process:
/// `FUTEX_WAIT`, `FUTEX_WAIT_BITSET` or `FUTEX_LOCK_PI` with `FUTEX_PRIVATE_FLAG`, as a
/// `pthread_mutex` or the Swift runtime's locks wait.
int cs_is_untimed_private_futex_wait(long number, long operation, long timeout);
/// How many bytes wait to be read on `fd` (`FIONREAD`), or -errno.
int cs_unread_bytes(int fd);
/// Sets the capacity of the pipe `fd` is an end of (`F_SETPIPE_SZ`): the size it got, or -errno.
int cs_set_pipe_capacity(int fd, int bytes);
/// The capacity of the pipe `fd` is an end of (`F_GETPIPE_SZ`), or -errno.
int cs_pipe_capacity(int fd);
/// Opens `/proc/PID/fd/FD`, descriptor `fd` of process `pid`, with `flags` and `O_CLOEXEC`:
/// a new open file description of the same file. The descriptor, or -errno (-ENOENT for a
/// negative `fd` or a `pid` under 1). In C, the path written on the stack: a forked pool worker
/// opens its channels so first thing, and in Swift the path's formatting built generic types
/// (a fork child must not, see `Process`) or ran string interpolation (page faults).
int cs_open_descriptor_of_process(pid_t pid, int fd, int flags);

/// `prctl(PR_SET_PDEATHSIG, signal)`: the kernel sends `signal` to this process when the
/// thread that forked it exits. Returns 0 or -errno.
int cs_set_parent_death_signal(int signal);
/// Ends the process at once with `code`, as `_exit` does, but through syscall(2): a forked
/// child is often the first caller of `_exit` in its process, and binding it lazily there
/// costs some twenty page faults.
__attribute__((noreturn)) void cs_exit_now(int code);
/// `prctl(PR_SET_NAME)` for the calling thread (15 bytes shown). Returns 0 or -errno.
int cs_set_thread_name(const char *name);

/// `memfd_create(name, flags)`; returns a descriptor or -errno.
int cs_memfd_create(const char *name, unsigned int flags);
/// The flag values for cs_memfd_create.
extern const unsigned int cs_MFD_CLOEXEC;

/// `sched_getcpu()`: the CPU the calling thread runs on, or -errno.
int cs_sched_getcpu(void);
/// Writes the OS indices of the CPUs `pid` (0: the calling thread) may run on into `cpus`
/// (at most `capacity`) and returns how many there are, or -errno.
int cs_sched_getaffinity(pid_t pid, int *cpus, int capacity);
/// Restricts `pid` (0: the calling thread) to the `count` CPUs in `cpus`. Returns 0 or -errno.
int cs_sched_setaffinity(pid_t pid, const int *cpus, int count);

/// `gettid()`: the kernel thread id of the calling thread.
pid_t cs_gettid(void);
/// The calling thread's id, cached for ``cs_current_tid`` (0 until its first call in a
/// thread, and again in a forked child).
extern __thread pid_t cs_cached_tid;
/// ``cs_current_tid``'s first call in a thread: asks the kernel and fills the cache.
pid_t cs_current_tid_uncached(void);
/// The calling thread's kernel id, cached per thread (reset in a forked child): no system
/// call after the first. Inline, for the locks' fast paths (a call cost an uncontended
/// recursive lock a tenth of its time).
static inline pid_t cs_current_tid(void) {
  pid_t tid = cs_cached_tid;
  return tid != 0 ? tid : cs_current_tid_uncached();
}
// How many forks (through fork(3)) led to this process since the first call: a value that
// changes in a forked child, for objects that must reset what the fork copied.
unsigned long cs_fork_generation(void);

/// A hint to the CPU that the caller is spinning (x86 `pause`, ARM `yield`).
static inline void cs_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/// `pidfd_open(pid, 0)`: a descriptor that becomes readable when `pid` exits, or -errno.
int cs_pidfd_open(pid_t pid);
/// `pidfd_send_signal(pidfd, signal, NULL, 0)`. Returns 0 or -errno.
int cs_pidfd_send_signal(int pidfd, int signal);

/// Starts `path` with `argv` and `envp` (NULL-terminated) through posix_spawn. The child gets
/// stdin/stdout/stderr, `pass_fd` as descriptor 3 (when >= 0) and no other descriptor, and an
/// empty signal mask. Stores the pid in `*pid`; returns 0 or -errno.
int cs_spawn(const char *path, char *const argv[], char *const envp[], int pass_fd, pid_t *pid);

/// posix_spawn of `path` with its standard output and error on `out_fd` and `err_fd`, every
/// descriptor above them closed, an empty signal mask and every signal's default action: a
/// program a benchmark runs beside itself, without the threads Foundation.Process starts.
/// 0, or -errno (the exec's failure included) with nothing started.
int cs_spawn_with_output(const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd,
                         pid_t *pid);

/// Writes up to `count` bytes to `fd` without SIGPIPE: a write to a pipe whose readers are all
/// gone fails with -EPIPE instead of killing the process (the signal is blocked in the calling
/// thread for the call and, if raised, taken back). Returns the count written or -errno.
ssize_t cs_write_nosigpipe(int fd, const void *buffer, size_t count);

/// Closes every descriptor from `first` upwards except `keep` (-1: none).
void cs_close_descriptors_from(int first, int keep);

/// Blocks SIGCHLD in the calling thread and returns a signalfd that reads it, or -errno.
int cs_sigchld_signalfd(void);
/// Unblocks every signal in the calling thread (for a child of a process that blocked some).
void cs_unblock_all_signals(void);
/// Removes the Swift runtime's hooks on `throw` (for a freshly forked child), and says
/// whether any is installed.
void cs_clear_throw_hooks(void);
int cs_throw_hooks_installed(void);

/// Sends `length` bytes and up to 4 descriptors over a Unix socket. Returns 0 or -errno.
int cs_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int fd_count);
/// Receives one message of at most `capacity` bytes and up to `max_fds` descriptors.
/// Returns the byte count (0 at end of stream) or -errno (-EMSGSIZE for a longer message, whose
/// descriptors are closed); `*fd_count` gets the descriptors received.
long cs_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int max_fds, int *fd_count);

/// Replaces the handlers of the crash signals (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE,
/// SIGABRT), the Swift runtime's backtracer among them, with one that writes a single line,
/// `<label> (pid <pid>) crashed: signal <n>`, to standard error and dies of the same signal.
/// `label` is copied (at most 63 bytes). Returns 0 or -errno.
int cs_install_one_line_crash_report(const char *label);

/// Sets `signal_number`'s action to ignore it; 0 or -errno.
int cs_ignore_signal(int signal_number);

// A listening stream socket (close-on-exec): on the Unix-domain `path` when `host` is NULL
// (with `abstract`, a name in Linux's abstract namespace: no file), else on TCP `host`:`port` (a name or an address; port 0 picks a free one, written to
// `bound_port`). Returns the descriptor, or -errno (-EAI_* codes are returned as -EADDRNOTAVAIL).
int cs_listen_stream(const char *host, int port, const char *path, int abstract, int backlog, int *bound_port);
// A stream socket connected to the Unix-domain `path` (host NULL; abstract as above) or to TCP `host`:`port`,
// close-on-exec; the descriptor, or -errno.
int cs_connect_stream(const char *host, int port, const char *path, int abstract);
// The next connection on a listening socket, close-on-exec; the descriptor, or -errno.
int cs_accept_stream(int listener);


/// The `wait` status macros.
int cs_wifexited(int status);
int cs_wexitstatus(int status);
int cs_wifsignaled(int status);
int cs_wtermsig(int status);

#endif
