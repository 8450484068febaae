/* string.h of pmemvm's freestanding libc. memcpy, memmove and memset store
 * aligned 8-byte words (one recorded store per word on the NVDIMM). */
#ifndef PMEMVM_STRING_H
#define PMEMVM_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, size_t n);
char *strchr(const char *s, int c);
char *strdup(const char *s);
#endif
