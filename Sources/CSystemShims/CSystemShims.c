#define _GNU_SOURCE
#include "CSystemShims.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
  return r == 0 ? 0 : errno;
}

int cs_futex_wake(uint32_t *address, int count) {
  long r = syscall(SYS_futex, address, FUTEX_WAKE, count, NULL, NULL, 0);
  return r < 0 ? -errno : (int)r;
}

int cs_set_parent_death_signal(int signal) {
  return prctl(PR_SET_PDEATHSIG, (unsigned long)signal) == 0 ? 0 : -errno;
}

int cs_set_thread_name(const char *name) {
  return prctl(PR_SET_NAME, (unsigned long)name) == 0 ? 0 : -errno;
}

const unsigned int cs_MFD_CLOEXEC = MFD_CLOEXEC;

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
  return sched_setaffinity(pid, sizeof(set), &set) == 0 ? 0 : -errno;
}

pid_t cs_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int cs_pidfd_open(pid_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? (int)fd : -errno;
}

int cs_pidfd_send_signal(int pidfd, int signal) {
  return syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) == 0 ? 0 : -errno;
}

int cs_wifexited(int status) { return WIFEXITED(status); }
int cs_wexitstatus(int status) { return WEXITSTATUS(status); }
int cs_wifsignaled(int status) { return WIFSIGNALED(status); }
int cs_wtermsig(int status) { return WTERMSIG(status); }
