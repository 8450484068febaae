/* errno.h of pmemvm's freestanding libc (one vCPU: a plain int). */
#ifndef PMEMVM_ERRNO_H
#define PMEMVM_ERRNO_H
extern int errno;
#define ENOENT 2
#define EIO 5
#define ENOMEM 12
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#endif
