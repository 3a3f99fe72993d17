/* STREAM-style triad a[i] = b[i] + s * c[i] on doubles, OpenMP, best of N.
   Counts 3 x 8 bytes per element (no write-allocate), as STREAM does.
   Usage: triad N_ELEMENTS REPS; prints triad_GBps=... */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 64L * 1024 * 1024;
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 1; }
#pragma omp parallel for
    for (long i = 0; i < n; i++) { a[i] = 1.0; b[i] = 2.0; c[i] = 0.5; }
    double best = 1e30, s = 3.0;
    for (int r = 0; r < reps; r++) {
        double t = omp_get_wtime();
#pragma omp parallel for
        for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        t = omp_get_wtime() - t;
        if (r > 0 && t < best) best = t;  /* the first pass is a warm-up */
    }
    printf("triad_GBps=%.3f check=%.1f\n", 3.0 * 8.0 * n / best / 1e9, a[n / 2]);
    return 0;
}
