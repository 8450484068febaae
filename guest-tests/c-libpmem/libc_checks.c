/* The C SDK's libc and runtime, checked inside a guest (scenario `libc`,
 * run mode): each failed check prints a line `FAILED: ...`; the run ends
 * with `libc: N checks, M failed` and exit status 0 only when none failed
 * (`exit(1)` otherwise); variant `assert` fails an assert.
 * The recorded part copies and fills 256 bytes of the NVDIMM with memcpy
 * and memset (the test counts their stores: 8 bytes wide). */
#include <assert.h>
#include <errno.h>
#include <libpmem.h>
#include <pmemvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failed;

static void check(bool ok, const char *what, int line) {
    checks++;
    if (!ok) {
        failed++;
        printf("FAILED: %s (libc_checks.c:%d)\n", what, line);
    }
}
#define CHECK(e) check((e), #e, __LINE__)

/* snprintf's output for one conversion equals `want`. */
#define FMT(want, ...)                                                       \
    do {                                                                     \
        char buf_[64];                                                       \
        int n_ = snprintf(buf_, sizeof buf_, __VA_ARGS__);                   \
        check(strcmp(buf_, want) == 0 && n_ == (int)strlen(want), "snprintf " \
              #__VA_ARGS__ " == " want, __LINE__);                           \
    } while (0)

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void strings(void) {
    char buf[32];
    CHECK(strlen("") == 0 && strlen("pmem") == 4);
    CHECK(strcmp("abc", "abc") == 0 && strcmp("abc", "abd") < 0 && strcmp("b", "a") > 0);
    CHECK(strncmp("abcx", "abcy", 3) == 0 && strncmp("abcx", "abcy", 4) < 0);
    CHECK(strcmp(strcpy(buf, "copy"), "copy") == 0);
    memset(buf, 'x', sizeof buf);
    strncpy(buf, "ab", 5);
    CHECK(buf[0] == 'a' && buf[1] == 'b' && buf[2] == 0 && buf[4] == 0 && buf[5] == 'x');
    CHECK(strcmp(strchr("hello", 'l'), "llo") == 0);
    CHECK(strchr("hello", 'z') == NULL && *strchr("hello", 0) == 0);
    char *d = strdup("duplicate");
    CHECK(d != NULL && strcmp(d, "duplicate") == 0);
    free(d);
    const char hay[] = "find the needle";
    CHECK(memchr(hay, 'n', sizeof hay) == hay + 2 && memchr(hay, 'z', sizeof hay) == NULL);
    char m[16] = "0123456789";
    memmove(m + 2, m, 8);
    CHECK(memcmp(m, "0101234567", 10) == 0);
    memmove(m, m + 2, 8);
    CHECK(memcmp(m, "0123456767", 10) == 0);
    CHECK(memcmp("abc", "abd", 3) < 0 && memcmp("abc", "abc", 3) == 0);
}

static void formatting(void) {
    FMT("42", "%d", 42);
    FMT("-42", "%i", -42);
    FMT("4294967295", "%u", 4294967295u);
    FMT("ff FF", "%x %X", 255, 255);
    FMT("0x1f", "%#x", 31);
    FMT("   7|7   |007", "%4d|%-4d|%03d", 7, 7, 7);
    FMT("-0007", "%05d", -7);
    FMT("+5", "%+d", 5);
    FMT("-9223372036854775808", "%lld", (long long)INT64_MIN);
    FMT("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
    FMT("123456789012", "%zu", (size_t)123456789012ULL);
    FMT("0x1000", "%p", (void *)0x1000);
    FMT("[  ab][ab  ][abc]", "[%4s][%-4s][%.3s]", "ab", "ab", "abcdef");
    FMT("c=z %", "c=%c %%", 'z');
    FMT("00042", "%.5d", 42);
    char small[4];
    int n = snprintf(small, sizeof small, "%s", "truncated");
    CHECK(n == 9 && strcmp(small, "tru") == 0);
    CHECK(printf("printf %s %d\n", "works", 1) == 15);
    CHECK(putchar('[') == '[');
    CHECK(puts("putchar and puts work]") >= 0);
}

static void heap(void) {
    uint8_t *p = malloc(100);
    CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
    memset(p, 0x5a, 100);
    p = realloc(p, 5000);
    CHECK(p != NULL && p[0] == 0x5a && p[99] == 0x5a);
    free(p);
    uint32_t *z = calloc(1000, sizeof *z);
    bool zero = z != NULL;
    for (int i = 0; zero && i < 1000; i++)
        zero = z[i] == 0;
    CHECK(zero);
    free(z);
    CHECK(calloc(SIZE_MAX, 2) == NULL);
    CHECK(realloc(NULL, 8) != NULL);
    free(NULL);
}

static void sorting(void) {
    int a[50];
    for (int i = 0; i < 50; i++)
        a[i] = (i * 37) % 50;
    qsort(a, 50, sizeof *a, cmp_int);
    bool sorted = true;
    for (int i = 0; i < 50; i++)
        sorted = sorted && a[i] == i;
    CHECK(sorted);
    int key = 17, missing = 99;
    CHECK(bsearch(&key, a, 50, sizeof *a, cmp_int) == &a[17]);
    CHECK(bsearch(&missing, a, 50, sizeof *a, cmp_int) == NULL);
    CHECK(abs(-3) == 3 && labs(-4L) == 4);
}

static void randomness(const struct pmemvm_ctx *ctx) {
    int first = rand();
    printf("rand after --seed %llu: %d\n", (unsigned long long)ctx->seed, first);
    CHECK(first >= 0 && first <= RAND_MAX);
    srand(7);
    int a = rand(), b = rand();
    srand(7);
    CHECK(rand() == a && rand() == b && a != b);
    errno = 0;
    CHECK(pmem_map_file("x@0xffffffffffff", 0, 0, 0, NULL, NULL) == NULL && errno == EINVAL);
    assert(errno == EINVAL);
}

static void yielder(void *arg) {
    int *steps = arg;
    (*steps)++;
    pmemvm_yield(1);
    (*steps)++;
    pmemvm_yield(2);
    (*steps)++;
}

static void tasks(void) {
    int steps = 0;
    uint64_t tag = 0;
    struct pmemvm_task *t = pmemvm_task_new(yielder, &steps);
    CHECK(pmemvm_task_resume(t, &tag) == 1 && tag == 1 && steps == 1);
    CHECK(pmemvm_task_resume(t, &tag) == 1 && tag == 2 && steps == 2);
    CHECK(pmemvm_task_resume(t, &tag) == 0 && steps == 3);
    pmemvm_task_free(t);
}

/* libpmem on the NVDIMM (untraced: the setup phase). */
static void libpmem(const struct pmemvm_ctx *ctx) {
    size_t len = 0;
    int is_pmem = 0;
    char *whole = pmem_map_file("/dev/pmem0", 0, PMEM_FILE_CREATE, 0666, &len, &is_pmem);
    CHECK(whole == ctx->base && len == ctx->size && is_pmem == 1);
    char *part = pmem_map_file("part@0x2000", 4096, 0, 0, &len, NULL);
    CHECK(part == ctx->base + 0x2000 && len == 4096);
    CHECK(pmem_is_pmem(part, 4096) == 1 && pmem_is_pmem(&len, sizeof len) == 0);
    CHECK(pmem_has_hw_drain() == 0);
    pmem_memset_persist(part, 0x11, 100);
    CHECK(part[0] == 0x11 && part[99] == 0x11 && part[100] == 0);
    pmem_memcpy_persist(part + 1, "persistent", 11);
    pmem_memmove_persist(part + 3, part + 1, 11);
    CHECK(memcmp(part + 3, "persistent", 11) == 0);
    pmem_memcpy(part + 200, "flags", 6, PMEM_F_MEM_NONTEMPORAL | PMEM_F_MEM_NODRAIN);
    pmem_memset(part + 300, 0x22, 17, PMEM_F_MEM_WB);
    pmem_drain();
    CHECK(strcmp(part + 200, "flags") == 0 && part[316] == 0x22 && part[317] == 0);
    CHECK(pmem_unmap(part, 4096) == 0);
}

static void setup(const struct pmemvm_ctx *ctx) {
    strings();
    formatting();
    heap();
    sorting();
    randomness(ctx);
    tasks();
    libpmem(ctx);
}

/* Recorded: 256 bytes copied to device offset 0x10000 and filled at
 * 0x20000 (the test counts the stores). Variant `assert`: a failing
 * assert first. */
static void run(const struct pmemvm_ctx *ctx) {
    if (strcmp(ctx->variant, "assert") == 0)
        assert(checks < 0);
    uint64_t src[32];
    for (int i = 0; i < 32; i++)
        src[i] = 0x0101010101010101ULL * (uint64_t)(i + 1);
    memcpy(ctx->base + 0x10000, src, sizeof src);
    memset(ctx->base + 0x20000, 0xab, 256);
    CHECK(memcmp(ctx->base + 0x10000, src, sizeof src) == 0);
    printf("libc: %d checks, %d failed\n", checks, failed);
    if (failed)
        exit(1);
}

static const struct pmemvm_variant variants[] = {
    {"correct", "every check"},
    {"assert", "a failing assert (the run aborts)"},
    {NULL, NULL},
};

const struct pmemvm_scenario libc_scenario = {
    .name = "libc",
    .description = "the C SDK's libc and runtime, checked inside the guest",
    .variants = variants,
    .setup = setup,
    .run = run,
};
