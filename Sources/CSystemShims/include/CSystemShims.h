// Tiny C shims for the Linux calls Swift cannot make directly: variadic functions
// (syscall, prctl), declarations hidden without _GNU_SOURCE, and function-like macros.
#ifndef CSYSTEM_H
#define CSYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// Sleeps while `*address == expected` (process-shared futex). `timeout_ns < 0` waits forever.
/// Returns 0 when woken, or a positive errno: EAGAIN (value differed), ETIMEDOUT, EINTR.
int cs_futex_wait(uint32_t *address, uint32_t expected, int64_t timeout_ns);
/// Wakes up to `count` waiters on `address`; returns how many were woken, or -errno.
int cs_futex_wake(uint32_t *address, int count);

/// `prctl(PR_SET_PDEATHSIG, signal)`: the kernel sends `signal` to this process when the
/// thread that forked it exits. Returns 0 or -errno.
int cs_set_parent_death_signal(int signal);
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

/// `pidfd_open(pid, 0)`: a descriptor that becomes readable when `pid` exits, or -errno.
int cs_pidfd_open(pid_t pid);
/// `pidfd_send_signal(pidfd, signal, NULL, 0)`. Returns 0 or -errno.
int cs_pidfd_send_signal(int pidfd, int signal);

/// The `wait` status macros.
int cs_wifexited(int status);
int cs_wexitstatus(int status);
int cs_wifsignaled(int status);
int cs_wtermsig(int status);

#endif
