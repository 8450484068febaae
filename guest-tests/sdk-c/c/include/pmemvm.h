/* pmemvm.h: the C interface of the pmemvm SDK (a C guest's scenarios, the
 * recorded persistent-memory instructions, marks, promises, tasks, random
 * numbers, console). The guide's C chapter (guest-tests/sdk/GUIDE.md in the
 * pmemvm checkout) explains each part. */
#ifndef PMEMVM_H
#define PMEMVM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#error "pmemvm: C++ guests are not supported yet"
#endif

/* "No value" for a mark's operation. */
#define PMEMVM_NONE UINT64_MAX

/* A variant of a scenario; a list of them ends with {NULL, NULL}. */
struct pmemvm_variant {
    const char *name;        /* --variant */
    const char *description; /* one line */
};

/* A promise made before the crash point (verify mode). */
struct pmemvm_promise {
    uint64_t file, offset, len, op, range_offset, range_len;
};

/* What a scenario's callbacks are given. */
struct pmemvm_ctx {
    char *base;        /* the NVDIMM, mapped */
    uint64_t size;     /* its size in bytes */
    const char *variant; /* the variant's name */
    uint64_t seed;     /* --seed: derive every random choice from it */
    uint64_t last_op;  /* verify mode: the last operation (mark op) started
                          before the crash point; 0: none */
    const struct pmemvm_promise *promises; /* verify mode: the promises */
    uint64_t promise_count;                /* made before the crash point */
};

/* A scenario: its names and its three phases (any may be NULL). */
struct pmemvm_scenario {
    const char *name;        /* --scenario */
    const char *description; /* one line */
    const struct pmemvm_variant *variants; /* the first is `correct` by convention */
    void (*setup)(const struct pmemvm_ctx *ctx); /* run mode, untraced */
    void (*run)(const struct pmemvm_ctx *ctx);   /* run mode, recorded */
    /* Verify mode, on a crash image: return pmemvm_pass(...) or
     * pmemvm_fail("check-name", ...). */
    int (*recover)(const struct pmemvm_ctx *ctx);
};

/* Registers the guest's scenarios, once: PMEMVM_SCENARIOS(&log, &other); */
#define PMEMVM_SCENARIOS(...)                                                  \
    const struct pmemvm_scenario *const pmemvm_scenario_table[] = {__VA_ARGS__, \
                                                                   NULL}

/* recover's verdicts, printf-style messages: every check passed (returns
 * 0), or the check `check` (a stable name, by which pmemvm groups
 * failures; at most 128 bytes) failed (returns 1). */
int pmemvm_pass(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int pmemvm_fail(const char *check, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A check the guest failed in run mode. */
void pmemvm_finding(const char *check, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The recorded instructions (the model sees these and nothing else). */
void pmemvm_clwb(const void *p);
void pmemvm_clflushopt(const void *p);
void pmemvm_clflush(const void *p);
void pmemvm_sfence(void);
void pmemvm_mfence(void);
void pmemvm_stream32(uint32_t *p, uint32_t v); /* movnti, aligned */
void pmemvm_stream64(uint64_t *p, uint64_t v); /* movnti, aligned */
uint64_t pmemvm_xchg64(uint64_t *p, uint64_t v); /* locked: a full fence */

/* A mark in the trace: `label`, operation `op` (PMEMVM_NONE: none), the
 * NVDIMM range [addr, addr + len) it concerns (addr NULL: none). */
void pmemvm_mark(const char *label, uint64_t op, const void *addr, uint64_t len);
/* Promises [addr, addr + len) of the NVDIMM durable from now on, as
 * operation `op`: pmemvm checks it on every later crash image. Promise a
 * range once its stores are flushed and fenced (pmem_persist). */
void pmemvm_promise(const void *addr, uint64_t len, uint64_t op);

/* Cooperative tasks, each with its own stack. */
struct pmemvm_task;
struct pmemvm_task *pmemvm_task_new(void (*fn)(void *arg), void *arg);
/* Runs the task until it yields (returns 1, its tag in *tag) or finishes
 * (returns 0). From the main flow only. */
int pmemvm_task_resume(struct pmemvm_task *t, uint64_t *tag);
void pmemvm_task_free(struct pmemvm_task *t);
/* In a task: stop here with `tag`; from the main flow: nothing. */
void pmemvm_yield(uint64_t tag);

/* A 64-bit number of the sequence --seed (or srand) determines. */
uint64_t pmemvm_random(void);
/* Console output (printf writes through it). */
void pmemvm_write(const char *buf, size_t len);

#endif
