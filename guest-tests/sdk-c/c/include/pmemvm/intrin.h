/* pmemvm/intrin.h: forced into every file (-include pmemvm/intrin.h), it
 * makes the x86 persistence intrinsics of unmodified code go through the
 * recorded API. <immintrin.h> is included first, so that its include guard
 * makes the code's own includes of it no-ops; then the names are redefined.
 * Inline assembly cannot be redirected: `pmemvm lint` points at it. */
#ifndef PMEMVM_INTRIN_H
#define PMEMVM_INTRIN_H

#include <immintrin.h>
#include <pmemvm.h>

static inline void pmemvm_stream_si128_(__m128i *p, __m128i v) {
    union { __m128i v; uint64_t q[2]; } u;
    u.v = v;
    pmemvm_stream64((uint64_t *)p, u.q[0]);
    pmemvm_stream64((uint64_t *)p + 1, u.q[1]);
}

#define _mm_clwb(p) pmemvm_clwb((const void *)(p))
#define _mm_clflushopt(p) pmemvm_clflushopt((const void *)(p))
#define _mm_clflush(p) pmemvm_clflush((const void *)(p))
#define _mm_sfence() pmemvm_sfence()
#define _mm_mfence() pmemvm_mfence()
#define _mm_stream_si32(p, v) pmemvm_stream32((uint32_t *)(p), (uint32_t)(v))
#define _mm_stream_si64(p, v) pmemvm_stream64((uint64_t *)(p), (uint64_t)(v))
#define _mm_stream_si128(p, v) pmemvm_stream_si128_((__m128i *)(p), (v))

#endif
