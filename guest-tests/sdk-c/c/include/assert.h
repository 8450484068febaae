/* assert.h of pmemvm's freestanding libc: a failed assertion prints the
 * expression, file, line and function, and ends the run (status 134). */
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
__attribute__((noreturn)) void __pmemvm_assert_fail(const char *expr,
                                                     const char *file, int line,
                                                     const char *func);
#define assert(e) ((e) ? (void)0 : __pmemvm_assert_fail(#e, __FILE__, __LINE__, __func__))
#endif
