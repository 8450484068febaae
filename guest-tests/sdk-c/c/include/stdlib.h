/* stdlib.h of pmemvm's freestanding libc. */
#ifndef PMEMVM_STDLIB_H
#define PMEMVM_STDLIB_H
#include <stddef.h>
#define RAND_MAX 2147483647
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);
/* The same sequence for the same --seed (srand restarts it). */
int rand(void);
void srand(unsigned seed);
void qsort(void *base, size_t n, size_t size,
           int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t n, size_t size,
              int (*cmp)(const void *, const void *));
int abs(int x);
long labs(long x);
/* End the run with `status` (abort: 134). */
__attribute__((noreturn)) void exit(int status);
__attribute__((noreturn)) void abort(void);
#endif
