// The project's C/OpenMP reference for `mpbench scaling --compare-openmp`.
//
// Runs the reference Monte Carlo kernel or the imbalanced kernel (Sources/Kernels, KERNEL.md)
// over UNITS units, serially and as an OpenMP `parallel for schedule(dynamic,1)` loop on
// THREADS threads, REPETITIONS times after WARMUPS untimed rounds (each round a serial run,
// then a parallel one), and prints one JSON object: the checksum and the wall seconds of each
// timed run. The team of threads lives across the runs, as a pool's workers do; pin it with
// OMP_PROC_BIND/OMP_PLACES (mpbench does). The checksum equals the Swift kernel's; a parallel
// run that gets another one exits with status 2.
//
// build: cc -O2 -fopenmp -o openmp_reference Scripts/openmp_reference.c
// usage: openmp_reference monte-carlo|imbalanced UNITS PARAMETER THREADS REPETITIONS WARMUPS
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static uint64_t monte_carlo_unit(uint64_t k, uint64_t samples) {
  uint64_t s = splitmix64(k), hits = 0;
  for (uint64_t i = 0; i < samples; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = s >> 33;
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t y = s >> 33;
    hits += ((x * x + y * y) >> 62) ^ 1;
  }
  return hits;
}

// Imbalanced.weight: 1, 2, 4, ... 32 times the base samples, from the unit's seed.
static uint64_t imbalanced_unit(uint64_t k, uint64_t base) {
  uint64_t weight = 1ULL << (splitmix64(k + 0x10000ULL) % 6);
  return monte_carlo_unit(k, weight * base);
}

static int imbalanced;
static uint64_t parameter;

static uint64_t unit(long k) {
  return imbalanced ? imbalanced_unit((uint64_t)k, parameter) : monte_carlo_unit((uint64_t)k, parameter);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void print_walls(const char *name, const double *walls, int count) {
  printf("\"%s\": [", name);
  for (int i = 0; i < count; i++) printf(i ? ", %.9f" : "%.9f", walls[i]);
  printf("]");
}

int main(int argc, char **argv) {
  if (argc != 7 || (strcmp(argv[1], "monte-carlo") != 0 && strcmp(argv[1], "imbalanced") != 0)) {
    fprintf(stderr, "usage: %s monte-carlo|imbalanced UNITS PARAMETER THREADS REPETITIONS WARMUPS\n", argv[0]);
    return 64;
  }
  imbalanced = strcmp(argv[1], "imbalanced") == 0;
  long units = atol(argv[2]);
  parameter = strtoull(argv[3], NULL, 10);
  int threads = atoi(argv[4]), repetitions = atoi(argv[5]), warmups = atoi(argv[6]);
  if (units < 1 || parameter < 1 || threads < 1 || repetitions < 1 || warmups < 0) {
    fprintf(stderr, "%s: every count must be positive (warmups may be 0)\n", argv[0]);
    return 64;
  }
  double *serial = calloc((size_t)repetitions, sizeof(double));
  double *parallel = calloc((size_t)repetitions, sizeof(double));
  uint64_t checksum = 0;
  for (int round = 0; round < warmups + repetitions; round++) {
    double start = now();
    uint64_t sum = 0;
    for (long k = 0; k < units; k++) sum += unit(k);
    double middle = now();
    uint64_t parallel_sum = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : parallel_sum) num_threads(threads)
    for (long k = 0; k < units; k++) parallel_sum += unit(k);
    double end = now();
    if (parallel_sum != sum) {
      fprintf(stderr, "%s: the parallel checksum %llu differs from the serial %llu\n", argv[0],
              (unsigned long long)parallel_sum, (unsigned long long)sum);
      return 2;
    }
    checksum = sum;
    if (round >= warmups) {
      serial[round - warmups] = middle - start;
      parallel[round - warmups] = end - middle;
    }
  }
  printf("{\"checksum\": %llu, \"threads\": %d, ", (unsigned long long)checksum, threads);
  print_walls("serial", serial, repetitions);
  printf(", ");
  print_walls("parallel", parallel, repetitions);
  printf("}\n");
  free(serial);
  free(parallel);
  return 0;
}
