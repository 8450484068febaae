/* The C part of pmemvm's freestanding libc (the rest is in libpmemvm.a:
 * memcpy, memmove, memset, memcmp, malloc and friends, rand, exit, abort):
 * strings, formatted output, qsort and bsearch, assert, errno, and the
 * formatting verdicts of pmemvm.h. Compiled with the guest by its Makefile
 * (variadic functions must be C). */
#include <assert.h>
#include <errno.h>
#include <pmemvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int errno;

/* ---- Strings. ---- */

void *memchr(const void *s, int c, size_t n) {
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++)
        if (p[i] == (unsigned char)c)
            return (void *)(p + i);
    return NULL;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b) {
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
    for (; n > 0; n--, a++, b++)
        if (*a != *b || !*a)
            return (unsigned char)*a - (unsigned char)*b;
    return 0;
}

char *strcpy(char *dst, const char *src) {
    char *d = dst;
    while ((*d++ = *src++))
        ;
    return dst;
}

char *strncpy(char *dst, const char *src, size_t n) {
    size_t i = 0;
    for (; i < n && src[i]; i++)
        dst[i] = src[i];
    for (; i < n; i++)
        dst[i] = 0;
    return dst;
}

char *strchr(const char *s, int c) {
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

char *strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    else
        errno = ENOMEM;
    return d;
}

/* ---- Formatted output. ---- */

/* Where formatted characters go: a buffer (snprintf) or the console. */
struct sink {
    char *buf;     /* NULL: the console, through `chunk` */
    size_t size;   /* buffer size */
    size_t len;    /* characters produced (all of them, as C counts) */
    char chunk[128];
    size_t used;
};

static void sink_flush(struct sink *s) {
    pmemvm_write(s->chunk, s->used);
    s->used = 0;
}

static void put(struct sink *s, char c) {
    if (s->buf) {
        if (s->len + 1 < s->size)
            s->buf[s->len] = c;
    } else {
        if (s->used == sizeof s->chunk)
            sink_flush(s);
        s->chunk[s->used++] = c;
    }
    s->len++;
}

static void pad(struct sink *s, char c, int n) {
    while (n-- > 0)
        put(s, c);
}

/* One integer conversion: `digits` of the magnitude, a sign or prefix,
 * padded to `width` as the flags say. */
static void put_number(struct sink *s, uintmax_t v, int negative, unsigned base,
                       int upper, int width, int precision, int left, int zero,
                       char sign, const char *prefix) {
    char digits[32];
    int n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    while (v) {
        digits[n++] = set[v % base];
        v /= base;
    }
    if (precision < 0 && n == 0)
        digits[n++] = '0';
    int zeros = precision > n ? precision - n : 0;
    char lead = negative ? '-' : sign;
    int plen = (lead ? 1 : 0) + (int)strlen(prefix);
    int fill = width - plen - zeros - n;
    if (zero && !left && precision < 0) {
        zeros += fill > 0 ? fill : 0;
        fill = 0;
    }
    if (!left)
        pad(s, ' ', fill);
    if (lead)
        put(s, lead);
    for (; *prefix; prefix++)
        put(s, *prefix);
    pad(s, '0', zeros);
    while (n > 0)
        put(s, digits[--n]);
    if (left)
        pad(s, ' ', fill);
}

static void format(struct sink *s, const char *fmt, va_list ap) {
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(s, *fmt);
            continue;
        }
        int left = 0, zero = 0, alt = 0, width = 0, precision = -1;
        char sign = 0;
        for (;; fmt++) {
            char f = fmt[1];
            if (f == '-')
                left = 1;
            else if (f == '0')
                zero = 1;
            else if (f == '+')
                sign = '+';
            else if (f == ' ')
                sign = sign ? sign : ' ';
            else if (f == '#')
                alt = 1;
            else
                break;
        }
        fmt++;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0)
                left = 1, width = -width;
            fmt++;
        } else
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            if (*fmt == '*') {
                precision = va_arg(ap, int);
                fmt++;
            } else
                while (*fmt >= '0' && *fmt <= '9')
                    precision = precision * 10 + (*fmt++ - '0');
        }
        int size = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long / intmax / size */
        for (;; fmt++) {
            if (*fmt == 'h')
                size--;
            else if (*fmt == 'l')
                size++;
            else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j')
                size = 2;
            else
                break;
        }
        char c = *fmt;
        if (!c)
            break;
        switch (c) {
        case 'd':
        case 'i': {
            intmax_t v = size >= 2 ? va_arg(ap, long long)
                         : size == 1 ? va_arg(ap, long)
                                     : va_arg(ap, int);
            if (size == -1)
                v = (short)v;
            else if (size <= -2)
                v = (signed char)v;
            uintmax_t mag = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
            put_number(s, mag, v < 0, 10, 0, width, precision, left, zero, sign, "");
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uintmax_t v = size >= 2 ? va_arg(ap, unsigned long long)
                          : size == 1 ? va_arg(ap, unsigned long)
                                      : va_arg(ap, unsigned);
            if (size == -1)
                v = (unsigned short)v;
            else if (size <= -2)
                v = (unsigned char)v;
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            const char *prefix = alt && v ? (c == 'x' ? "0x" : c == 'X' ? "0X" : c == 'o' ? "0" : "") : "";
            put_number(s, v, 0, base, c == 'X', width, precision, left, zero, 0, prefix);
            break;
        }
        case 'p':
            put_number(s, (uintptr_t)va_arg(ap, void *), 0, 16, 0, width, -1, left, 0, 0, "0x");
            break;
        case 'c': {
            pad(s, ' ', left ? 0 : width - 1);
            put(s, (char)va_arg(ap, int));
            pad(s, ' ', left ? width - 1 : 0);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int n = 0;
            while (str[n] && (precision < 0 || n < precision))
                n++;
            pad(s, ' ', left ? 0 : width - n);
            for (int i = 0; i < n; i++)
                put(s, str[i]);
            pad(s, ' ', left ? width - n : 0);
            break;
        }
        case '%':
            put(s, '%');
            break;
        default: /* unknown: printed as written */
            put(s, '%');
            put(s, c);
        }
    }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
    char none;
    struct sink s = {.buf = size ? buf : &none, .size = size};
    format(&s, fmt, ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = 0;
    return (int)s.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *fmt, va_list ap) {
    struct sink s = {0};
    format(&s, fmt, ap);
    sink_flush(&s);
    return (int)s.len;
}

int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *str) {
    pmemvm_write(str, strlen(str));
    pmemvm_write("\n", 1);
    return 0;
}

int putchar(int c) {
    char ch = (char)c;
    pmemvm_write(&ch, 1);
    return (unsigned char)c;
}

/* ---- stdlib. ---- */

static void swap(char *a, char *b, size_t size) {
    for (size_t i = 0; i < size; i++) {
        char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

/* Heapsort: O(n log n), no recursion, no allocation (not stable, as C
 * allows). */
static void sift(char *base, size_t root, size_t n, size_t size,
                 int (*cmp)(const void *, const void *)) {
    for (;;) {
        size_t child = 2 * root + 1, top = root;
        if (child < n && cmp(base + child * size, base + top * size) > 0)
            top = child;
        if (child + 1 < n && cmp(base + (child + 1) * size, base + top * size) > 0)
            top = child + 1;
        if (top == root)
            return;
        swap(base + root * size, base + top * size, size);
        root = top;
    }
}

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    char *b = base;
    for (size_t i = n / 2; i-- > 0;)
        sift(b, i, n, size, cmp);
    for (size_t end = n; end-- > 1;) {
        swap(b, b + end * size, size);
        sift(b, 0, end, size, cmp);
    }
}

void *bsearch(const void *key, const void *base, size_t n, size_t size,
              int (*cmp)(const void *, const void *)) {
    const char *b = base;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = cmp(key, b + mid * size);
        if (r == 0)
            return (void *)(b + mid * size);
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int abs(int x) { return x < 0 ? -x : x; }
long labs(long x) { return x < 0 ? -x : x; }

void __pmemvm_assert_fail(const char *expr, const char *file, int line, const char *func) {
    printf("assertion failed: %s (%s:%d, in %s)\n", expr, file, line, func);
    abort();
}

/* ---- pmemvm.h's formatting verdicts. ---- */

void pmemvm_set_verdict(int passed, const char *check, const char *message);
void pmemvm_report_finding(const char *check, const char *message);

/* Messages longer than this are cut (the VMM's limit is larger). */
#define MESSAGE 1024

int pmemvm_pass(const char *fmt, ...) {
    char msg[MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pmemvm_set_verdict(1, NULL, msg);
    return 0;
}

int pmemvm_fail(const char *check, const char *fmt, ...) {
    char msg[MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pmemvm_set_verdict(0, check, msg);
    return 1;
}

void pmemvm_finding(const char *check, const char *fmt, ...) {
    char msg[MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pmemvm_report_finding(check, msg);
}
