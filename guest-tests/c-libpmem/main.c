/* A C test guest of pmemvm (vmm/tests/new_c_cli.rs builds it in a project
 * `pmemvm new --lang c` made): its scenarios.
 *   kv:     kv.c, written against PMDK's libpmem; `no-drain` leaves out
 *           the pmem_drain between an entry's pmem_flush and its commit;
 *   intrin: intrin.c, flushes and fences as x86 intrinsics;
 *   libc:   libc.c, the libc and the runtime checked inside the guest. */
#include <pmemvm.h>
#include <stdint.h>
#include <string.h>

#include "kv.h"

extern const struct pmemvm_scenario intrin_scenario, libc_scenario;

/* The store's path: from device offset 1 MiB of the NVDIMM. */
#define KV_PATH "/mnt/pmem/kv@0x100000"
#define PUTS 6

static struct kv open_kv(void) {
    struct kv kv;
    if (kv_open(&kv, KV_PATH) != 0) {
        pmemvm_finding("kv-open", "kv_open(%s) failed", KV_PATH);
        __builtin_trap();
    }
    return kv;
}

static void value(uint64_t seed, uint64_t key, uint64_t v[6]) {
    for (int i = 0; i < 6; i++)
        v[i] = (seed + 1) * 0x100000001b3ULL ^ (key << 8) ^ (uint64_t)i;
}

static void kv_setup(const struct pmemvm_ctx *ctx) {
    (void)ctx;
    struct kv kv = open_kv();
    kv_format(&kv);
}

static void kv_run(const struct pmemvm_ctx *ctx) {
    struct kv kv = open_kv();
    kv_skip_drain = strcmp(ctx->variant, "no-drain") == 0;
    for (uint64_t k = 0; k < PUTS; k++) {
        uint64_t v[6];
        value(ctx->seed, k, v);
        pmemvm_mark("put", k + 1, kv.entries + k, sizeof *kv.entries);
        kv_put(&kv, k, v);
        pmemvm_promise(kv.count, sizeof *kv.count, k + 1);
    }
}

static int kv_recover(const struct pmemvm_ctx *ctx) {
    struct kv kv = open_kv();
    uint64_t n = *kv.count;
    if (n > PUTS)
        return pmemvm_fail("kv-count", "count %llu, but the run makes %d puts",
                           (unsigned long long)n, PUTS);
    for (uint64_t k = 0; k < n; k++) {
        const struct kv_entry *e = &kv.entries[k];
        uint64_t v[6];
        value(ctx->seed, k, v);
        if (e->key != k || memcmp(e->value, v, sizeof v) != 0 || e->sum != kv_sum(e))
            return pmemvm_fail("kv-entry-intact", "entry %llu below count %llu is not what put %llu wrote",
                               (unsigned long long)k, (unsigned long long)n,
                               (unsigned long long)k);
    }
    return pmemvm_pass("count %llu, every entry below it intact", (unsigned long long)n);
}

static const struct pmemvm_variant kv_variants[] = {
    {"correct", "pmem_flush, pmem_drain, then the commit (pmem_memcpy_persist)"},
    {"no-drain", "no pmem_drain between an entry's pmem_flush and its commit"},
    {NULL, NULL},
};

static const struct pmemvm_scenario kv_scenario = {
    .name = "kv",
    .description = "6 puts to a key-value log written against PMDK's libpmem",
    .variants = kv_variants,
    .setup = kv_setup,
    .run = kv_run,
    .recover = kv_recover,
};

PMEMVM_SCENARIOS(&kv_scenario, &intrin_scenario, &libc_scenario);
