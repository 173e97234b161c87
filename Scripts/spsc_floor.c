// The C floor for `mpbench rings`' batched SPSC figure: the same job in a small C program —
// a ring of 4,096 8-byte slots in shared memory between two processes, its two positions on
// cache lines of their own, each side caching the other's position, batches of 64 copied in
// with memcpy and popped (up to 64 at a time) with memcpy, the two ends bound to two CPUs
// and the clock started once the producer is bound — so that SlotRing is compared with what
// this machine's cores can move between them, in the same run.
//
// build: cc -O2 -o spsc_floor Scripts/spsc_floor.c
// usage: spsc_floor ITEMS REPETITIONS
// prints one line per repetition: millions of items per second.
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CAPACITY = 4096, BATCH = 64 };

// The C library's memcpy, as SlotRing's copies are: a compiler inlines a copy into this
// buffer as `rep movsq`, which read 0.6 times as fast here.
static void *(*volatile copy)(void *, const void *, size_t) = memcpy;

struct ring {
  _Alignas(64) uint64_t ready;  // set by the producer once bound to its CPU
  _Alignas(64) uint64_t go;     // set when the clock starts: the producer waits for it
  _Alignas(64) uint64_t head;   // the producer's position
  _Alignas(64) uint64_t tail;   // the consumer's position
  _Alignas(64) uint64_t slots[CAPACITY];
};

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void pause_briefly(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void produce(struct ring *ring, uint64_t items) {
  uint64_t values[BATCH];
  for (int i = 0; i < BATCH; i++) values[i] = 1;
  uint64_t written = 0, seen_tail = 0;
  while (written < items) {
    uint64_t count = items - written < BATCH ? items - written : BATCH;
    if (written + count - seen_tail > CAPACITY) {
      seen_tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
      if (written + count - seen_tail > CAPACITY) {
        pause_briefly();
        continue;
      }
    }
    uint64_t start = written % CAPACITY, first = count < CAPACITY - start ? count : CAPACITY - start;
    copy(ring->slots + start, values, first * 8);
    if (first < count) copy(ring->slots, values + first, (count - first) * 8);
    written += count;
    __atomic_store_n(&ring->head, written, __ATOMIC_RELEASE);
  }
}

static uint64_t consume(struct ring *ring, uint64_t items) {
  uint64_t buffer[BATCH], read = 0, seen_head = 0, sum = 0;
  while (read < items) {
    if (seen_head - read < BATCH) {
      seen_head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
      if (seen_head == read) {
        pause_briefly();
        continue;
      }
    }
    uint64_t count = seen_head - read < BATCH ? seen_head - read : BATCH;
    uint64_t start = read % CAPACITY, first = count < CAPACITY - start ? count : CAPACITY - start;
    copy(buffer, ring->slots + start, first * 8);
    if (first < count) copy(buffer + first, ring->slots, (count - first) * 8);
    read += count;
    __atomic_store_n(&ring->tail, read, __ATOMIC_RELEASE);
    for (uint64_t i = 0; i < count; i++) sum += buffer[i];
  }
  return sum;
}

// The first two CPUs this process may use, or -1 where there are fewer: the consumer binds
// itself to the first, the producer to the second, so that the two never share a CPU
// (mpbench binds its two ends the same way).
static void two_allowed_cpus(int cpus[2]) {
  cpu_set_t allowed;
  cpus[0] = cpus[1] = -1;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return;
  for (int cpu = 0, found = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
    if (CPU_ISSET(cpu, &allowed)) cpus[found++] = cpu;
  }
}

static void bind_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  sched_setaffinity(0, sizeof one, &one);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: spsc_floor ITEMS REPETITIONS\n");
    return 64;
  }
  uint64_t items = strtoull(argv[1], NULL, 10);
  long repetitions = strtol(argv[2], NULL, 10);
  if (items == 0 || repetitions < 1) {
    fprintf(stderr, "spsc_floor: ITEMS and REPETITIONS must be at least 1\n");
    return 64;
  }
  int cpus[2];
  two_allowed_cpus(cpus);
  bind_to(cpus[0]);
  for (long repetition = 0; repetition < repetitions; repetition++) {
    struct ring *ring = mmap(NULL, sizeof *ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED) {
      perror("mmap");
      return 71;
    }
    pid_t producer = fork();
    if (producer < 0) {
      perror("fork");
      return 71;
    }
    if (producer == 0) {
      bind_to(cpus[1]);
      __atomic_store_n(&ring->ready, 1, __ATOMIC_RELEASE);
      while (!__atomic_load_n(&ring->go, __ATOMIC_ACQUIRE)) pause_briefly();
      produce(ring, items);
      _exit(0);
    }
    // The clock starts when the producer, forked and bound already, is let go, as mpbench's
    // does.
    while (!__atomic_load_n(&ring->ready, __ATOMIC_ACQUIRE)) pause_briefly();
    double started = now_seconds();
    __atomic_store_n(&ring->go, 1, __ATOMIC_RELEASE);
    uint64_t sum = consume(ring, items);
    double elapsed = now_seconds() - started;
    int status;
    while (waitpid(producer, &status, 0) < 0) {
    }
    if (sum != items || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "spsc_floor: lost items (%llu of %llu)\n", (unsigned long long)sum, (unsigned long long)items);
      return 70;
    }
    printf("%.3f\n", items / elapsed / 1e6);
    munmap(ring, sizeof *ring);
  }
  return 0;
}
