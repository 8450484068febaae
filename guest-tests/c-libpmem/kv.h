/* A tiny persistent key-value log written against PMDK's libpmem only
 * (pmem_map_file, pmem_flush + pmem_drain, pmem_memcpy_persist): it builds
 * unchanged against PMDK's libpmem.h and against pmemvm's. */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>

#define KV_MAX 16

/* One entry: a key, a value of 6 words and a checksum of the 7 before. */
struct kv_entry {
    uint64_t key;
    uint64_t value[6];
    uint64_t sum;
};

struct kv {
    uint64_t *count;          /* committed entries */
    struct kv_entry *entries; /* KV_MAX of them */
};

/* Set by the test: leave out the drain between an entry and its commit. */
extern int kv_skip_drain;

/* Maps the store (path as for pmem_map_file); 0, or -1 with errno set. */
int kv_open(struct kv *kv, const char *path);
/* An empty store. */
void kv_format(struct kv *kv);
/* Appends an entry and commits it. */
void kv_put(struct kv *kv, uint64_t key, const uint64_t value[6]);
/* The checksum an entry must hold. */
uint64_t kv_sum(const struct kv_entry *e);

#endif
