// The C floor for `mpbench process-start`: what starting and joining a process costs a small C
// program, with nothing but the three calls: fork(), _exit(0) in the child, waitpid in the
// parent. `mpbench process-start` builds it (cc -O2) and runs it beside the library's start
// methods, in the same run, so that the library's fork is compared with the machine's floor.
//
// build: cc -O2 -o fork_floor Scripts/fork_floor.c
// usage: fork_floor REPETITIONS
// prints one line per repetition: its wall time in microseconds.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fork_floor REPETITIONS\n");
    return 64;
  }
  long repetitions = strtol(argv[1], NULL, 10);
  double *samples = malloc(sizeof(double) * (repetitions > 0 ? repetitions : 1));
  if (samples == NULL) return 71;
  // One untimed round first, as mpbench takes one untimed start per method.
  for (long i = -1; i < repetitions; i++) {
    double started = now_us();
    pid_t child = fork();
    if (child == 0) _exit(0);
    if (child < 0) {
      perror("fork");
      return 71;
    }
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 70;
    if (i >= 0) samples[i] = now_us() - started;
  }
  for (long i = 0; i < repetitions; i++) printf("%.3f\n", samples[i]);
  return 0;
}
