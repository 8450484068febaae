/* The key-value log of kv.h: libpmem's calls only. */
#include "kv.h"

#include <errno.h>
#include <libpmem.h>
#include <string.h>

int kv_skip_drain;

#define KV_SIZE (4096 + KV_MAX * sizeof(struct kv_entry))

int kv_open(struct kv *kv, const char *path) {
    size_t mapped;
    int is_pmem;
    char *base = pmem_map_file(path, KV_SIZE, PMEM_FILE_CREATE, 0666, &mapped, &is_pmem);
    if (base == NULL)
        return -1;
    if (mapped < KV_SIZE || !is_pmem) {
        errno = EINVAL;
        return -1;
    }
    kv->count = (uint64_t *)base;
    kv->entries = (struct kv_entry *)(base + 4096);
    return 0;
}

void kv_format(struct kv *kv) {
    uint64_t zero = 0;
    pmem_memcpy_persist(kv->count, &zero, sizeof zero);
}

uint64_t kv_sum(const struct kv_entry *e) {
    uint64_t h = e->key * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 6; i++)
        h = (h ^ e->value[i]) * 0xbf58476d1ce4e5b9ULL;
    return h;
}

void kv_put(struct kv *kv, uint64_t key, const uint64_t value[6]) {
    uint64_t n = *kv->count;
    struct kv_entry *e = &kv->entries[n];
    e->key = key;
    memcpy(e->value, value, sizeof e->value);
    e->sum = kv_sum(e);
    /* The entry is durable before the count that commits it. */
    pmem_flush(e, sizeof *e);
    if (!kv_skip_drain)
        pmem_drain();
    n++;
    pmem_memcpy_persist(kv->count, &n, sizeof n);
}
