/* {name}: a persistent append-only log in C, crash-tested by pmemvm.
 *
 * Layout of the NVDIMM (device offsets): the tail (the number of committed
 * records) at TAIL; record i at RECORDS + i * RECORD: 32 words, its
 * sequence number, 30 payload words and a checksum of the 31 words before.
 *
 * An append writes its record and commits it by storing the tail. The
 * variants differ in how they order the two:
 *   correct:      record written and flushed, fence, then the tail stored,
 *                 flushed and fenced;
 *   no-fence:     no fence between the record's flushes and the tail store
 *                 (the commonest persistent-memory bug: the tail may reach
 *                 the media before the record);
 *   commit-first: the tail persisted before the record is written.
 *
 * After each append the guest promises its record durable. After a crash,
 * recover checks that every record below the tail is intact and that the
 * tail covers every promised append. */
#include <libpmem.h>
#include <pmemvm.h>
#include <stdint.h>
#include <string.h>

#define TAIL 0
#define RECORDS 4096
#define RECORD 256
#define WORDS (RECORD / 8)
#define APPENDS 8

/* A 64-bit mixing function (SplitMix64's finaliser). */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The words append i writes under seed. */
static void record(uint64_t seed, uint64_t i, uint64_t w[WORDS]) {
    w[0] = i;
    for (int j = 1; j < WORDS - 1; j++)
        w[j] = mix(seed ^ (i << 32) ^ (uint64_t)(j - 1));
    uint64_t h = i;
    for (int j = 0; j < WORDS - 1; j++)
        h = mix(h ^ w[j]);
    w[WORDS - 1] = h;
}

static uint64_t *tail(const struct pmemvm_ctx *ctx) {
    return (uint64_t *)(ctx->base + TAIL);
}

/* Stores a record's words and flushes its lines (no fence). */
static void write_record(uint64_t *at, const uint64_t w[WORDS]) {
    for (int j = 0; j < WORDS; j++)
        at[j] = w[j];
    pmem_flush(at, RECORD);
}

/* Stores the tail and persists it (flush, fence). */
static void commit(const struct pmemvm_ctx *ctx, uint64_t n) {
    *tail(ctx) = n;
    pmem_persist(tail(ctx), 8);
}

/* Append i (operation i + 1) in the order the variant chooses, then its
 * promise. */
static void append(const struct pmemvm_ctx *ctx, uint64_t i) {
    uint64_t *at = (uint64_t *)(ctx->base + RECORDS + i * RECORD);
    uint64_t op = i + 1, w[WORDS];
    /* Names the operation in reports and `pmemvm trace` output. */
    pmemvm_mark("append", op, at, RECORD);
    record(ctx->seed, i, w);
    if (strcmp(ctx->variant, "no-fence") == 0) {
        write_record(at, w);
        commit(ctx, op);
    } else if (strcmp(ctx->variant, "commit-first") == 0) {
        commit(ctx, op);
        write_record(at, w);
        pmem_drain();
    } else {
        write_record(at, w);
        pmem_drain();
        commit(ctx, op);
    }
    pmemvm_promise(at, RECORD, op);
}

/* Untraced: an empty log. */
static void setup(const struct pmemvm_ctx *ctx) { *tail(ctx) = 0; }

/* Recorded: the appends. */
static void run(const struct pmemvm_ctx *ctx) {
    for (uint64_t i = 0; i < APPENDS; i++)
        append(ctx, i);
}

/* Verify mode, on a crash image: the log's invariants. */
static int recover(const struct pmemvm_ctx *ctx) {
    uint64_t n = *tail(ctx);
    if (n > APPENDS)
        return pmemvm_fail("log-tail", "tail %llu, but the run makes %d appends",
                           (unsigned long long)n, APPENDS);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t want[WORDS];
        record(ctx->seed, i, want);
        if (memcmp(ctx->base + RECORDS + i * RECORD, want, RECORD) != 0)
            return pmemvm_fail("log-record-intact",
                               "record %llu below tail %llu is not what append %llu wrote",
                               (unsigned long long)i, (unsigned long long)n,
                               (unsigned long long)i);
    }
    uint64_t promised = 0;
    for (uint64_t k = 0; k < ctx->promise_count; k++)
        if (ctx->promises[k].op > promised)
            promised = ctx->promises[k].op;
    if (n < promised)
        return pmemvm_fail("log-promise", "tail %llu, but appends 1 to %llu were promised durable",
                           (unsigned long long)n, (unsigned long long)promised);
    return pmemvm_pass("tail %llu, every record below it intact", (unsigned long long)n);
}

static const struct pmemvm_variant variants[] = {
    {"correct", "record persisted (flush, fence) before the tail"},
    {"no-fence", "no fence between the record's flushes and the tail store"},
    {"commit-first", "tail persisted before the record"},
    {NULL, NULL},
};

static const struct pmemvm_scenario log_scenario = {
    .name = "log",
    .description = "8 appends of a 256-byte record and its commit (the tail)",
    .variants = variants,
    .setup = setup,
    .run = run,
    .recover = recover,
};

PMEMVM_SCENARIOS(&log_scenario);
