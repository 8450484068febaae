/* stdio.h of pmemvm's freestanding libc: formatted output to the guest
 * console. Conversions: %d %i %u %x %X %o %c %s %p %%, with the flags
 * - 0 + space, a width and a precision (numbers or *), and the length
 * modifiers hh h l ll z t j. No floating point, no input, no files. */
#ifndef PMEMVM_STDIO_H
#define PMEMVM_STDIO_H
#include <stdarg.h>
#include <stddef.h>
#define EOF (-1)
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int puts(const char *s);
int putchar(int c);
#endif
