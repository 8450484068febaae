/* Flushes, fences and non-temporal stores written as x86 intrinsics, as
 * research code does: compiled with the forced include (pmemvm/intrin.h)
 * they are recorded; without it, `pmemvm lint` lists them. */
#include <immintrin.h>
#include <pmemvm.h>
#include <stdint.h>

#define RECORDS 4
#define WORDS 16 /* two lines a record */

/* A record's words; the last one commits it. */
static uint64_t word(uint64_t seed, int r, int w) { return (seed << 16) ^ (uint64_t)(r * 64 + w + 1); }

__attribute__((target("clwb"))) static void write_records(const struct pmemvm_ctx *ctx) {
    uint64_t *log = (uint64_t *)ctx->base;
    uint64_t *tail = log + 1024;
    for (int r = 0; r < RECORDS; r++) {
        uint64_t *rec = log + r * WORDS;
        for (int w = 0; w < WORDS; w++)
            rec[w] = word(ctx->seed, r, w);
        for (int w = 0; w < WORDS; w += 8)
            _mm_clwb(rec + w);
        _mm_sfence();
        _mm_stream_si64((long long *)tail, r + 1);
        _mm_sfence();
        pmemvm_promise(rec, WORDS * 8, (uint64_t)r + 1);
    }
}

static void run(const struct pmemvm_ctx *ctx) { write_records(ctx); }

static int recover(const struct pmemvm_ctx *ctx) {
    const uint64_t *log = (const uint64_t *)ctx->base;
    uint64_t tail = log[1024];
    if (tail > RECORDS)
        return pmemvm_fail("intrin-tail", "tail %llu of %d records", (unsigned long long)tail, RECORDS);
    for (uint64_t r = 0; r < tail; r++)
        for (int w = 0; w < WORDS; w++)
            if (log[r * WORDS + w] != word(ctx->seed, (int)r, w))
                return pmemvm_fail("intrin-record-intact", "record %llu word %d below tail %llu",
                                   (unsigned long long)r, w, (unsigned long long)tail);
    return pmemvm_pass("tail %llu", (unsigned long long)tail);
}

static const struct pmemvm_variant variants[] = {
    {"correct", "records flushed with _mm_clwb and fenced with _mm_sfence before the tail"},
    {NULL, NULL},
};

const struct pmemvm_scenario intrin_scenario = {
    .name = "intrin",
    .description = "4 records committed with _mm_clwb, _mm_sfence and _mm_stream_si64",
    .variants = variants,
    .run = run,
    .recover = recover,
};
